// _tinyml.Interpreter and _tinyml.Tensor: the int8 runtime (../runtime) for
// MicroPython.
//
//     interp = tinyml.Interpreter(model_bytes)     # model used in place
//     inp = interp.input(0)
//     inp[:] = features                              # one slice assignment
//     interp.invoke()
//     scores = bytes(interp.output(0))
//     ticks = interp.profile()                       # invoke, per-op counter ticks
//
// The model object is referenced, never copied: it may be frozen bytes, a
// ROMFS memoryview or a bytearray (which must then not be resized). The arena
// comes from the GC heap, sized to exactly what the model needs.

#if MICROPY_ENABLE_DYNRUNTIME
#include "py/dynruntime.h"
#else
#include "py/runtime.h"
#include "py/binary.h"
#include "py/mphal.h"
#endif

#include <math.h>
#include <string.h>

#include "modtinyml.h"
#include "tml_interp.h"

typedef struct _tinyml_interp_obj_t {
    mp_obj_base_t base;
    mp_obj_t model;             // keeps the model bytes alive
    uint8_t *arena;             // GC block start (keeps the arena alive)
    size_t arena_bytes;
    tml_interp_t it;
} tinyml_interp_obj_t;

typedef struct _tinyml_tensor_obj_t {
    mp_obj_base_t base;
    tinyml_interp_obj_t *owner;
    tml_tensor_t *t;
} tinyml_tensor_obj_t;

// Buffer-protocol typecode and element size of a tensor type.
static char tinyml_typecode(uint8_t type, size_t *size) {
    switch (type) {
        case TML_TYPE_INT8: *size = 1; return 'b';
        case TML_TYPE_UINT8: *size = 1; return 'B';
        case TML_TYPE_BOOL: *size = 1; return 'B';
        case TML_TYPE_INT16: *size = 2; return 'h';
        case TML_TYPE_INT32: *size = 4; return 'i';
        #if MICROPY_PY_BUILTINS_FLOAT
        case TML_TYPE_FLOAT32: *size = 4; return 'f';
        #endif
        default: *size = 1; return 'B';
    }
}

static qstr tinyml_type_name(uint8_t type) {
    switch (type) {
        case TML_TYPE_FLOAT32: return MP_QSTR_float32;
        case TML_TYPE_FLOAT16: return MP_QSTR_float16;
        case TML_TYPE_INT32: return MP_QSTR_int32;
        case TML_TYPE_UINT8: return MP_QSTR_uint8;
        case TML_TYPE_INT64: return MP_QSTR_int64;
        case TML_TYPE_BOOL: return MP_QSTR_bool;
        case TML_TYPE_INT16: return MP_QSTR_int16;
        case TML_TYPE_INT8: return MP_QSTR_int8;
        default: return MP_QSTR_other;
    }
}

static NORETURN void tinyml_raise_error(const tml_error_t *err) {
    mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%s"), err->msg[0] ? err->msg : tml_error_str(err->status));
}

// ---------------------------------------------------------------------------
// Tensor

#if !MICROPY_ENABLE_DYNRUNTIME
static const mp_obj_type_t tinyml_type_Tensor;
#endif

static mp_obj_t tinyml_tensor_new(tinyml_interp_obj_t *owner, tml_tensor_t *t) {
    tinyml_tensor_obj_t *o = mp_obj_malloc(tinyml_tensor_obj_t, TINYML_TYPE(tinyml_type_Tensor));
    o->owner = owner;
    o->t = t;
    return MP_OBJ_FROM_PTR(o);
}

static mp_int_t tinyml_tensor_get_buffer(mp_obj_t self_in, mp_buffer_info_t *bufinfo, mp_uint_t flags) {
    tinyml_tensor_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->t->data == NULL || ((flags & MP_BUFFER_WRITE) && self->t->is_const)) {
        return 1;
    }
    size_t size;
    bufinfo->typecode = tinyml_typecode(self->t->type, &size);
    bufinfo->buf = self->t->data;
    bufinfo->len = self->t->bytes;
    return 0;
}

static void tinyml_tensor_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    (void)kind;
    tinyml_tensor_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_printf(print, "<Tensor %q (", tinyml_type_name(self->t->type));
    for (int i = 0; i < self->t->ndim; i++) {
        mp_printf(print, i ? ", %d" : "%d", (int)self->t->dims[i]);
    }
    mp_printf(print, self->t->ndim == 1 ? ",)>" : ")>");
}

static mp_obj_t tinyml_tensor_unary_op(mp_unary_op_t op, mp_obj_t self_in) {
    tinyml_tensor_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (op == MP_UNARY_OP_LEN) {
        return MP_OBJ_NEW_SMALL_INT(tml_tensor_count(self->t));
    }
    return MP_OBJ_NULL;
}

#if MICROPY_ENABLE_DYNRUNTIME
// The firmware's slice and index helpers are not in the natmod function
// table: the same semantics, written out.
static bool tinyml_is_slice(mp_obj_t index) {
    return mp_obj_is_obj(index) && mp_obj_get_type(index)->name == MP_QSTR_slice;
}

static mp_int_t tinyml_slice_bound(mp_obj_t v, mp_int_t dflt, mp_int_t len) {
    if (v == mp_const_none) {
        return dflt;
    }
    mp_int_t i = mp_obj_get_int(v);
    if (i < 0) {
        i += len;
    }
    return i < 0 ? 0 : i > len ? len : i;
}

// Bounds of a slice with step 1 (None counts as 1); false for other steps.
static bool tinyml_slice_indexes(size_t len, mp_obj_t index, mp_bound_slice_t *s) {
    mp_obj_slice_t *slice = MP_OBJ_TO_PTR(index);
    if (slice->step != mp_const_none && mp_obj_get_int(slice->step) != 1) {
        return false;
    }
    s->start = tinyml_slice_bound(slice->start, 0, (mp_int_t)len);
    s->stop = tinyml_slice_bound(slice->stop, (mp_int_t)len, (mp_int_t)len);
    if (s->stop < s->start) {
        s->stop = s->start;
    }
    s->step = 1;
    return true;
}

static size_t tinyml_get_index(size_t len, mp_obj_t index) {
    mp_int_t i = mp_obj_get_int(index);
    if (i < 0) {
        i += (mp_int_t)len;
    }
    if (i < 0 || (size_t)i >= len) {
        mp_raise_msg(&mp_type_IndexError, MP_ERROR_TEXT("Tensor index out of range"));
    }
    return (size_t)i;
}
#else
#define tinyml_is_slice(index) mp_obj_is_type(index, &mp_type_slice)
#define tinyml_slice_indexes mp_seq_get_fast_slice_indexes
#define tinyml_get_index(len, index) mp_get_index(&tinyml_type_Tensor, len, index, false)
#endif

// t[i], t[i] = v, t[a:b] (bytes copy), t[a:b] = buffer (element-typed
// slices, step 1): the slice store is how a whole input is filled at once.
static mp_obj_t tinyml_tensor_subscr(mp_obj_t self_in, mp_obj_t index, mp_obj_t value) {
    tinyml_tensor_obj_t *self = MP_OBJ_TO_PTR(self_in);
    tml_tensor_t *t = self->t;
    if (value == MP_OBJ_NULL) {
        return MP_OBJ_NULL;     // no deletion
    }
    size_t esize;
    char tc = tinyml_typecode(t->type, &esize);
    size_t n = t->bytes / esize;
    if (value != MP_OBJ_SENTINEL && t->is_const) {
        mp_raise_TypeError(MP_ERROR_TEXT("constant tensor is read-only"));
    }
    if (tinyml_is_slice(index)) {
        mp_bound_slice_t s;
        if (!tinyml_slice_indexes(n, index, &s)) {
            mp_raise_NotImplementedError(MP_ERROR_TEXT("only slices with step 1"));
        }
        size_t off = s.start * esize, len = (s.stop - s.start) * esize;
        if (value == MP_OBJ_SENTINEL) {
            return mp_obj_new_bytes((const byte *)t->data + off, len);
        }
        mp_buffer_info_t src;
        mp_get_buffer_raise(value, &src, MP_BUFFER_READ);
        if (src.len != len) {
            mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("slice needs %d bytes, got %d"), (int)len, (int)src.len);
        }
        memcpy((byte *)t->data + off, src.buf, len);
        return mp_const_none;
    }
    size_t i = tinyml_get_index(n, index);
    if (value == MP_OBJ_SENTINEL) {
        return mp_binary_get_val_array(tc, t->data, i);
    }
    mp_binary_set_val_array(tc, t->data, i, value);
    return mp_const_none;
}

#if MICROPY_PY_BUILTINS_FLOAT
// quantize(x) -> int: round(x / scale) + zero_point, saturated to the type.
static mp_obj_t tinyml_tensor_quantize(mp_obj_t self_in, mp_obj_t x_in) {
    tinyml_tensor_obj_t *self = MP_OBJ_TO_PTR(self_in);
    tml_tensor_t *t = self->t;
    mp_int_t lo, hi;
    if (t->type == TML_TYPE_INT8) {
        lo = -128;
        hi = 127;
    } else if (t->type == TML_TYPE_UINT8) {
        lo = 0;
        hi = 255;
    } else if (t->type == TML_TYPE_INT16) {
        lo = -32768;
        hi = 32767;
    } else {
        mp_raise_ValueError(MP_ERROR_TEXT("tensor is not int8/uint8/int16"));
    }
    if (t->n_quant == 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("tensor is not quantized"));
    }
    mp_float_t v = mp_obj_get_float(x_in) / (mp_float_t)t->scale;
    if (v != v) {
        mp_raise_ValueError(MP_ERROR_TEXT("cannot quantize NaN"));
    }
    // Round half away from zero, as TFLM's quantize does; saturate before
    // converting so that huge values cannot overflow the integer.
    v = v < 0 ? -MICROPY_FLOAT_C_FUN(floor)(-v + (mp_float_t)0.5) : MICROPY_FLOAT_C_FUN(floor)(v + (mp_float_t)0.5);
    v += (mp_float_t)t->zero_point;
    if (v < (mp_float_t)lo) {
        return MP_OBJ_NEW_SMALL_INT(lo);
    }
    if (v > (mp_float_t)hi) {
        return MP_OBJ_NEW_SMALL_INT(hi);
    }
    return MP_OBJ_NEW_SMALL_INT((mp_int_t)v);
}
static MP_DEFINE_CONST_FUN_OBJ_2(tinyml_tensor_quantize_obj, tinyml_tensor_quantize);

// dequantize(q) -> float: scale * (q - zero_point).
static mp_obj_t tinyml_tensor_dequantize(mp_obj_t self_in, mp_obj_t q_in) {
    tinyml_tensor_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->t->n_quant == 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("tensor is not quantized"));
    }
    mp_int_t q = mp_obj_get_int(q_in);
    return mp_obj_new_float((mp_float_t)self->t->scale * (mp_float_t)(q - self->t->zero_point));
}
static MP_DEFINE_CONST_FUN_OBJ_2(tinyml_tensor_dequantize_obj, tinyml_tensor_dequantize);
#endif

static void tinyml_tensor_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    tinyml_tensor_obj_t *self = MP_OBJ_TO_PTR(self_in);
    tml_tensor_t *t = self->t;
    if (dest[0] != MP_OBJ_NULL) {
        return;     // attributes are read-only
    }
    if (attr == MP_QSTR_shape) {
        mp_obj_t items[TML_MAX_DIMS];
        for (int i = 0; i < t->ndim; i++) {
            items[i] = MP_OBJ_NEW_SMALL_INT(t->dims[i]);
        }
        dest[0] = mp_obj_new_tuple(t->ndim, items);
    } else if (attr == MP_QSTR_dtype) {
        dest[0] = MP_OBJ_NEW_QSTR(tinyml_type_name(t->type));
    #if MICROPY_PY_BUILTINS_FLOAT
    } else if (attr == MP_QSTR_scale) {
        dest[0] = mp_obj_new_float(t->n_quant ? (mp_float_t)t->scale : (mp_float_t)0);
    } else if (attr == MP_QSTR_quantize) {
        dest[0] = MP_OBJ_FROM_PTR(&tinyml_tensor_quantize_obj);
        dest[1] = self_in;
    } else if (attr == MP_QSTR_dequantize) {
        dest[0] = MP_OBJ_FROM_PTR(&tinyml_tensor_dequantize_obj);
        dest[1] = self_in;
    #endif
    } else if (attr == MP_QSTR_zero_point) {
        dest[0] = mp_obj_new_int(t->n_quant ? t->zero_point : 0);
    } else if (attr == MP_QSTR_nbytes) {
        dest[0] = mp_obj_new_int_from_uint(t->bytes);
    }
}

#if !MICROPY_ENABLE_DYNRUNTIME
static MP_DEFINE_CONST_OBJ_TYPE(
    tinyml_type_Tensor,
    MP_QSTR_Tensor,
    MP_TYPE_FLAG_NONE,
    print, tinyml_tensor_print,
    unary_op, tinyml_tensor_unary_op,
    subscr, tinyml_tensor_subscr,
    attr, tinyml_tensor_attr,
    buffer, tinyml_tensor_get_buffer
    );
#endif

// ---------------------------------------------------------------------------
// Interpreter

// Initialise into a fresh GC arena of `size` bytes; false when the heap has
// no block that large.
static bool tinyml_interp_try(tinyml_interp_obj_t *self, const mp_buffer_info_t *model, size_t size,
    tml_error_t *err, tml_status_t *st) {
    if (self->arena != NULL) {
        m_del(uint8_t, self->arena, self->arena_bytes);
        self->arena = NULL;
        self->arena_bytes = 0;
    }
    // GC blocks are 16-byte aligned; the runtime copes with less anyway.
    self->arena = m_renew_maybe(uint8_t, NULL, 0, size ? size : 16, false);
    if (self->arena == NULL) {
        return false;
    }
    self->arena_bytes = size ? size : 16;
    *st = tml_interp_init(&self->it, model->buf, model->len, self->arena, size, err);
    return true;
}

static NORETURN void tinyml_raise_no_memory(size_t size) {
    // A model whose plan does not fit into this device's heap: say how much
    // it needs rather than raising a bare MemoryError.
    mp_raise_msg_varg(&mp_type_ValueError,
        MP_ERROR_TEXT("model needs an arena of %u bytes: not enough memory"), (unsigned)size);
}

// Interpreter(model, arena_size=None)
static mp_obj_t tinyml_interp_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args) {
    enum { ARG_model, ARG_arena_size };
    TINYML_QSTR_TABLE mp_arg_t allowed[] = {
        { MP_QSTR_model, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_arena_size, MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, MP_ARRAY_SIZE(allowed), allowed, args);

    mp_buffer_info_t model;
    mp_get_buffer_raise(args[ARG_model].u_obj, &model, MP_BUFFER_READ);

    tinyml_interp_obj_t *self = mp_obj_malloc(tinyml_interp_obj_t, type);
    self->model = args[ARG_model].u_obj;
    self->arena = NULL;
    self->arena_bytes = 0;
    tml_error_t err;
    tml_status_t st = TML_ERR_ARENA_SMALL;
    if (args[ARG_arena_size].u_obj != MP_OBJ_NULL && args[ARG_arena_size].u_obj != mp_const_none) {
        mp_int_t size = mp_obj_get_int(args[ARG_arena_size].u_obj);
        if (size < 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("arena_size must be >= 0"));
        }
        if (!tinyml_interp_try(self, &model, (size_t)size, &err, &st)) {
            tinyml_raise_no_memory((size_t)size);
        }
    } else {
        // Grow until the plan fits. A failure reports the exact size (the plan
        // did not fit) or a lower bound (an op's own memory did not): then
        // guess 50% more, and halve the guess back towards the bound when the
        // heap has no block that large. Finally give back what is unused.
        size_t lo = 0, size = 2048;
        for (int tries = 0; tries < 40 && st == TML_ERR_ARENA_SMALL; tries++) {
            if (!tinyml_interp_try(self, &model, size, &err, &st)) {
                if (size <= lo + 16) {
                    tinyml_raise_no_memory(size);
                }
                size = lo + (size - lo) / 2;
                continue;
            }
            if (st == TML_ERR_ARENA_SMALL && err.needed == 0) {
                break;  // a kernel's own limit, not the arena size
            }
            if (st == TML_ERR_ARENA_SMALL) {
                lo = err.needed > lo ? err.needed : lo;
                size_t next = err.needed_exact ? err.needed : err.needed + err.needed / 2;
                size = next > size ? next : size + size / 2;
            }
        }
        uint32_t used = st == TML_OK ? tml_interp_arena_used(&self->it) : 0;
        if (st == TML_OK && used + 16 <= self->arena_bytes) {
            // Shrink in place: the arena's contents stay where they are.
            uint8_t *p = m_renew_maybe(uint8_t, self->arena, self->arena_bytes, used, false);
            if (p == self->arena) {
                self->arena_bytes = used;
                self->it.arena_size = used;
            }
        }
    }
    if (st != TML_OK) {
        if (self->arena != NULL) {
            m_del(uint8_t, self->arena, self->arena_bytes);
            self->arena = NULL;
        }
        tinyml_raise_error(&err);
    }
    return MP_OBJ_FROM_PTR(self);
}

static mp_obj_t tinyml_interp_tensor(mp_obj_t self_in, mp_obj_t index, bool output) {
    tinyml_interp_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_int_t i = mp_obj_get_int(index);
    uint32_t n = output ? tml_interp_output_count(&self->it) : tml_interp_input_count(&self->it);
    if (i < 0 || (mp_uint_t)i >= n) {
        mp_raise_msg_varg(&mp_type_IndexError, MP_ERROR_TEXT("%s index %d out of range (model has %d)"),
            output ? "output" : "input", (int)i, (int)n);
    }
    tml_tensor_t *t = output ? tml_interp_output(&self->it, (uint32_t)i) : tml_interp_input(&self->it, (uint32_t)i);
    return tinyml_tensor_new(self, t);
}

// input(i) -> Tensor
static mp_obj_t tinyml_interp_input(mp_obj_t self_in, mp_obj_t index) {
    return tinyml_interp_tensor(self_in, index, false);
}
static MP_DEFINE_CONST_FUN_OBJ_2(tinyml_interp_input_obj, tinyml_interp_input);

// output(i) -> Tensor
static mp_obj_t tinyml_interp_output(mp_obj_t self_in, mp_obj_t index) {
    return tinyml_interp_tensor(self_in, index, true);
}
static MP_DEFINE_CONST_FUN_OBJ_2(tinyml_interp_output_obj, tinyml_interp_output);

// invoke(): run the model once on the current inputs.
static mp_obj_t tinyml_interp_invoke(mp_obj_t self_in) {
    tinyml_interp_obj_t *self = MP_OBJ_TO_PTR(self_in);
    tml_error_t err;
    if (tml_interp_invoke(&self->it, &err) != TML_OK) {
        tinyml_raise_error(&err);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(tinyml_interp_invoke_obj, tinyml_interp_invoke);

#if !MICROPY_ENABLE_DYNRUNTIME
// (Firmware only: the natmod function table has no clock.)
// Counter read around each operator by profile(): the CPU cycle counter
// (on the qemu boards a timer clocked by virtual time, i.e. instructions),
// or microseconds where mp_hal_ticks_cpu is a macro standing in for a
// counter the port does not have (unix).
static mp_uint_t tinyml_profile_now(void) {
    #ifdef mp_hal_ticks_cpu
    return mp_hal_ticks_us();
    #else
    return mp_hal_ticks_cpu();
    #endif
}

typedef struct _tinyml_profile_t {
    mp_uint_t last;
    mp_uint_t *ticks;
} tinyml_profile_t;

// Runtime hook: each op is charged the ticks since the previous op ended
// (since op 0 began for the first), so the per-op figures add up to the
// whole invoke, loop overhead included.
static void tinyml_profile_hook(void *user, uint32_t op, int end) {
    tinyml_profile_t *prof = user;
    if (end) {
        mp_uint_t now = tinyml_profile_now();
        prof->ticks[op] = now - prof->last;
        prof->last = now;
    } else if (op == 0) {
        prof->last = tinyml_profile_now();
    }
}

// profile() -> tuple: run the model once, like invoke(), and return the
// counter ticks each operator took, in graph order (see tinyml_profile_now).
static mp_obj_t tinyml_interp_profile(mp_obj_t self_in) {
    tinyml_interp_obj_t *self = MP_OBJ_TO_PTR(self_in);
    uint32_t n = tml_interp_op_count(&self->it);
    // Allocated up front: nothing allocates between two readings.
    mp_uint_t *ticks = m_new0(mp_uint_t, n ? n : 1);
    tinyml_profile_t prof = { 0, ticks };
    self->it.profile = tinyml_profile_hook;
    self->it.profile_user = &prof;
    tml_error_t err;
    tml_status_t st = tml_interp_invoke(&self->it, &err);
    self->it.profile = NULL;
    self->it.profile_user = NULL;
    if (st != TML_OK) {
        m_del(mp_uint_t, ticks, n ? n : 1);
        tinyml_raise_error(&err);
    }
    mp_obj_tuple_t *result = MP_OBJ_TO_PTR(mp_obj_new_tuple(n, NULL));
    for (uint32_t i = 0; i < n; i++) {
        result->items[i] = mp_obj_new_int_from_uint(ticks[i]);
    }
    m_del(mp_uint_t, ticks, n ? n : 1);
    return MP_OBJ_FROM_PTR(result);
}
static MP_DEFINE_CONST_FUN_OBJ_1(tinyml_interp_profile_obj, tinyml_interp_profile);
#endif

static void tinyml_interp_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    tinyml_interp_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (dest[0] != MP_OBJ_NULL) {
        return;
    }
    if (attr == MP_QSTR_arena_used) {
        dest[0] = mp_obj_new_int_from_uint(tml_interp_arena_used(&self->it));
    } else if (attr == MP_QSTR_arena_size) {
        dest[0] = mp_obj_new_int_from_uint(self->arena_bytes);
    } else if (attr == MP_QSTR_ops) {
        uint32_t n = tml_interp_op_count(&self->it);
        mp_obj_t list = mp_obj_new_list(0, NULL);
        for (uint32_t i = 0; i < n; i++) {
            const char *name = tml_interp_op_name(&self->it, i);
            #if MICROPY_ENABLE_DYNRUNTIME
            mp_obj_list_append(list, mp_obj_new_str(name, strlen(name)));
            #else
            mp_obj_list_append(list, MP_OBJ_NEW_QSTR(qstr_from_str(name)));
            #endif
        }
        dest[0] = list;
    } else if (attr == MP_QSTR_num_inputs) {
        dest[0] = MP_OBJ_NEW_SMALL_INT(tml_interp_input_count(&self->it));
    } else if (attr == MP_QSTR_num_outputs) {
        dest[0] = MP_OBJ_NEW_SMALL_INT(tml_interp_output_count(&self->it));
    } else if (attr == MP_QSTR_model) {
        dest[0] = self->model;
    } else if (attr == MP_QSTR_input) {
        dest[0] = MP_OBJ_FROM_PTR(&tinyml_interp_input_obj);
        dest[1] = self_in;
    } else if (attr == MP_QSTR_output) {
        dest[0] = MP_OBJ_FROM_PTR(&tinyml_interp_output_obj);
        dest[1] = self_in;
    } else if (attr == MP_QSTR_invoke) {
        dest[0] = MP_OBJ_FROM_PTR(&tinyml_interp_invoke_obj);
        dest[1] = self_in;
    #if !MICROPY_ENABLE_DYNRUNTIME
    } else if (attr == MP_QSTR_profile) {
        dest[0] = MP_OBJ_FROM_PTR(&tinyml_interp_profile_obj);
        dest[1] = self_in;
    #endif
    }
}

#if MICROPY_ENABLE_DYNRUNTIME

mp_obj_full_type_t tinyml_type_Tensor;
mp_obj_full_type_t tinyml_type_Interpreter;

void tinyml_interp_natmod_init(void) {
    mp_obj_full_type_t *type = &tinyml_type_Tensor;
    type->base.type = &mp_type_type;
    type->flags = MP_TYPE_FLAG_NONE;
    type->name = MP_QSTR_Tensor;
    MP_OBJ_TYPE_SET_SLOT(type, print, tinyml_tensor_print, 0);
    MP_OBJ_TYPE_SET_SLOT(type, unary_op, tinyml_tensor_unary_op, 1);
    MP_OBJ_TYPE_SET_SLOT(type, subscr, tinyml_tensor_subscr, 2);
    MP_OBJ_TYPE_SET_SLOT(type, attr, tinyml_tensor_attr, 3);
    MP_OBJ_TYPE_SET_SLOT(type, buffer, tinyml_tensor_get_buffer, 4);

    type = &tinyml_type_Interpreter;
    type->base.type = &mp_type_type;
    type->flags = MP_TYPE_FLAG_NONE;
    type->name = MP_QSTR_Interpreter;
    MP_OBJ_TYPE_SET_SLOT(type, make_new, tinyml_interp_make_new, 0);
    MP_OBJ_TYPE_SET_SLOT(type, attr, tinyml_interp_attr, 1);
    mp_store_global(MP_QSTR_Interpreter, MP_OBJ_FROM_PTR(type));
}

#else

MP_DEFINE_CONST_OBJ_TYPE(
    tinyml_type_Interpreter,
    MP_QSTR_Interpreter,
    MP_TYPE_FLAG_NONE,
    make_new, tinyml_interp_make_new,
    attr, tinyml_interp_attr
    );

#endif
