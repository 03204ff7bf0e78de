// _tinyml: the native half of the `tinyml` device package.
//
// The portable C core lives in ../core, ../runtime and ../frontend and knows
// nothing of MicroPython; this file and its siblings in this folder are the
// thin glue. The same file builds as a user C module (compiled into firmware)
// and as a dynamic native module (.mpy) when MICROPY_ENABLE_DYNRUNTIME is set.

#if MICROPY_ENABLE_DYNRUNTIME
#include "py/dynruntime.h"
#else
#include "py/runtime.h"
#include "py/objarray.h"
#endif

#ifndef BYTEARRAY_TYPECODE
// Typecode bytearray reports through the buffer protocol (py/objarray.h).
#define BYTEARRAY_TYPECODE 1
#endif

#include <stdarg.h>
#include <string.h>

#include "tml_common.h"
#include "modtinyml.h"

#if MICROPY_ENABLE_DYNRUNTIME

// A message being formatted into a fixed buffer (cut short when full).
typedef struct _tinyml_msg_t {
    char *buf;
    size_t len;
    size_t cap;
} tinyml_msg_t;

static void tinyml_msg_strn(void *data, const char *str, size_t len) {
    tinyml_msg_t *m = data;
    size_t room = m->cap - m->len;
    len = len < room ? len : room;
    memcpy(m->buf + m->len, str, len);
    m->len += len;
}

// mp_raise_msg_varg for a dynamic module: the table has no formatted raise,
// but it has the firmware's vprintf, so format with that and raise
// type(message) like the firmware does.
void tinyml_raise_msg_varg(const mp_obj_type_t *type, const char *fmt, ...) {
    char buf[160];
    tinyml_msg_t msg = { buf, 0, sizeof(buf) };
    mp_print_t print = { &msg, tinyml_msg_strn };
    va_list ap;
    va_start(ap, fmt);
    mp_vprintf(&print, fmt, ap);
    va_end(ap);
    nlr_raise(mp_obj_new_exception_arg1(type, mp_obj_new_str(buf, msg.len)));
}

#endif

// Raise the Python exception that matches a core status code, with the
// core's own message and the caller's context.
void tinyml_raise_status(tml_status_t status, const char *context) {
    const mp_obj_type_t *type = status == TML_ERR_UNSUPPORTED_TYPE ? &mp_type_TypeError : &mp_type_ValueError;
    mp_raise_msg_varg(type, MP_ERROR_TEXT("%s: %s"), context, tml_error_str(status));
}

mp_obj_t tinyml_new_int64(int64_t v) {
    #if MICROPY_ENABLE_DYNRUNTIME
    if ((int64_t)(mp_int_t)v == v) {
        return mp_obj_new_int((mp_int_t)v);
    }
    // Wider than mp_int_t (32-bit ports): a natmod has no int-from-int64
    // entry, so join the two 32-bit halves with the firmware's own big-int
    // arithmetic: (hi << 32) + lo.
    mp_obj_t hi = mp_obj_new_int((mp_int_t)(v >> 32));
    mp_obj_t lo = mp_obj_new_int_from_uint((uint32_t)v);
    return mp_binary_op(MP_BINARY_OP_ADD, mp_binary_op(MP_BINARY_OP_LSHIFT, hi, mp_obj_new_int(32)), lo);
    #else
    return mp_obj_new_int_from_ll(v);
    #endif
}

// Get a read-only view of an int8 buffer: bytes, bytearray, memoryview or
// array('b'). Other element types are rejected so that, for example, an
// array('h') is never silently read as pairs of bytes.
const int8_t *tinyml_get_int8_buffer(mp_obj_t obj, size_t *len, const char *what) {
    mp_buffer_info_t bufinfo;
    mp_get_buffer_raise(obj, &bufinfo, MP_BUFFER_READ);
    char tc = (char)bufinfo.typecode;
    if (tc != 'b' && tc != 'B' && tc != BYTEARRAY_TYPECODE) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("%s must hold 8-bit elements"), what);
    }
    *len = bufinfo.len;
    return (const int8_t *)bufinfo.buf;
}

// version() -> str: version of the native core.
static mp_obj_t tinyml_version(void) {
    const char *v = tml_version();
    return mp_obj_new_str(v, strlen(v));
}
static MP_DEFINE_CONST_FUN_OBJ_0(tinyml_version_obj, tinyml_version);

// dot_s8(a, b[, a_offset[, b_offset]]) -> int
// Inner product of two equal-length int8 buffers with offsets added to each
// element first (pass the negated zero points to remove them).
static mp_obj_t tinyml_dot_s8(size_t n_args, const mp_obj_t *args) {
    size_t na, nb;
    const int8_t *a = tinyml_get_int8_buffer(args[0], &na, "a");
    const int8_t *b = tinyml_get_int8_buffer(args[1], &nb, "b");
    if (na != nb) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("length mismatch: %d != %d"), (int)na, (int)nb);
    }
    mp_int_t a_off = n_args > 2 ? mp_obj_get_int(args[2]) : 0;
    mp_int_t b_off = n_args > 3 ? mp_obj_get_int(args[3]) : 0;
    // Offsets are zero points of int8 tensors, negated: anything outside
    // [-255, 255] is a caller error, and the bound keeps the product exact.
    if (a_off < -255 || a_off > 255 || b_off < -255 || b_off > 255) {
        mp_raise_ValueError(MP_ERROR_TEXT("offsets must be in [-255, 255]"));
    }
    return tinyml_new_int64(tml_dot_s8(a, b, na, (int32_t)a_off, (int32_t)b_off));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tinyml_dot_s8_obj, 2, 4, tinyml_dot_s8);

#if MICROPY_ENABLE_DYNRUNTIME

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    mp_store_global(MP_QSTR_version, MP_OBJ_FROM_PTR(&tinyml_version_obj));
    mp_store_global(MP_QSTR_dot_s8, MP_OBJ_FROM_PTR(&tinyml_dot_s8_obj));
    mp_store_global(MP_QSTR_scan_s16, MP_OBJ_FROM_PTR(&tinyml_scan_s16_obj));
    tinyml_interp_natmod_init();
    tinyml_fe_natmod_init();
    MP_DYNRUNTIME_INIT_EXIT
}

#else

static const mp_rom_map_elem_t tinyml_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__tinyml) },
    { MP_ROM_QSTR(MP_QSTR_version), MP_ROM_PTR(&tinyml_version_obj) },
    { MP_ROM_QSTR(MP_QSTR_dot_s8), MP_ROM_PTR(&tinyml_dot_s8_obj) },
    { MP_ROM_QSTR(MP_QSTR_Interpreter), MP_ROM_PTR(&tinyml_type_Interpreter) },
    { MP_ROM_QSTR(MP_QSTR_AudioFrontend), MP_ROM_PTR(&tinyml_type_AudioFrontend) },
    { MP_ROM_QSTR(MP_QSTR_scan_s16), MP_ROM_PTR(&tinyml_scan_s16_obj) },
    // Components add their entries here (one line each), e.g.
    // { MP_ROM_QSTR(MP_QSTR_Interpreter), MP_ROM_PTR(&tinyml_type_Interpreter) },
};
static MP_DEFINE_CONST_DICT(tinyml_module_globals, tinyml_module_globals_table);

const mp_obj_module_t tinyml_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&tinyml_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR__tinyml, tinyml_user_cmodule);

#endif
