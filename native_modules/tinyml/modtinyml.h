// Shared declarations of the _tinyml glue files.
#ifndef MODTINYML_H
#define MODTINYML_H

#include "tml_common.h"

// Dynamic native modules (.mpy) reach MicroPython through a narrower table
// of functions than firmware (py/dynruntime.h). The glue is written against
// the firmware API; the few calls the table lacks are provided here.
#if MICROPY_ENABLE_DYNRUNTIME

// Formatted exception messages: formatted with the firmware's mp_printf
// (through the table) into a buffer on the stack.
NORETURN void tinyml_raise_msg_varg(const mp_obj_type_t *type, const char *fmt, ...);
#define mp_raise_msg_varg tinyml_raise_msg_varg

// Qstrs other than the firmware's static ones are numbered when the module
// is loaded, so tables holding them live on the stack, and types are built
// in RAM by mpy_init (the module's .bss; the linker needs them non-static).
#define TINYML_QSTR_TABLE const
#define TINYML_TYPE(name) ((const mp_obj_type_t *)&name)
extern mp_obj_full_type_t tinyml_type_Interpreter;   // mod_interpreter.c
extern mp_obj_full_type_t tinyml_type_Tensor;        // mod_interpreter.c
extern mp_obj_full_type_t tinyml_type_AudioFrontend; // mod_frontend.c

// Fill in a type and store it in the module's globals (called by mpy_init).
void tinyml_interp_natmod_init(void);
void tinyml_fe_natmod_init(void);

#else

#define TINYML_QSTR_TABLE static const
#define TINYML_TYPE(name) (&name)

#endif

// Raise ValueError (TypeError for type errors) with the core's message.
NORETURN void tinyml_raise_status(tml_status_t status, const char *context);

// Read-only view of a buffer of 8-bit elements; raises TypeError otherwise.
const int8_t *tinyml_get_int8_buffer(mp_obj_t obj, size_t *len, const char *what);

// An int object for any int64 value the port can represent.
mp_obj_t tinyml_new_int64(int64_t v);

#if !MICROPY_ENABLE_DYNRUNTIME
// Types of the glue files, for the module globals table.
extern const mp_obj_type_t tinyml_type_Interpreter;   // mod_interpreter.c
extern const mp_obj_type_t tinyml_type_AudioFrontend; // mod_frontend.c
#endif

// Functions of the glue files.
extern const mp_obj_fun_builtin_fixed_t tinyml_scan_s16_obj; // mod_scan.c

#endif
