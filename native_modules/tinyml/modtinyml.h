// Shared declarations of the _tinyml glue files.
#ifndef MODTINYML_H
#define MODTINYML_H

#include "tml_common.h"

// Dynamic native modules (.mpy) reach MicroPython through a narrower table
// of functions than firmware: no formatted exception messages there, so the
// fixed text is raised instead.
#if MICROPY_ENABLE_DYNRUNTIME
#define TINYML_RAISE_FMT(type, fixed, fmt, ...) mp_raise_msg(type, MP_ERROR_TEXT(fixed))
#else
#define TINYML_RAISE_FMT(type, fixed, fmt, ...) mp_raise_msg_varg(type, MP_ERROR_TEXT(fmt), __VA_ARGS__)
#endif

// Raise ValueError (TypeError for type errors) with the core's message.
NORETURN void tinyml_raise_status(tml_status_t status, const char *context);

// Read-only view of a buffer of 8-bit elements; raises TypeError otherwise.
const int8_t *tinyml_get_int8_buffer(mp_obj_t obj, size_t *len, const char *what);

// An int object for any int64 value the port can represent.
mp_obj_t tinyml_new_int64(int64_t v);

// Types of the glue files, for the module globals table.
extern const mp_obj_type_t tinyml_type_Interpreter;   // mod_interpreter.c
extern const mp_obj_type_t tinyml_type_AudioFrontend; // mod_frontend.c

// Functions of the glue files.
extern const mp_obj_fun_builtin_fixed_t tinyml_scan_s16_obj; // mod_scan.c

#endif
