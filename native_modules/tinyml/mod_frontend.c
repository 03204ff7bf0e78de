// tinyml.AudioFrontend: the fixed-point audio frontend (../frontend) as a
// MicroPython type. All memory (frontend state and one frame of features) is
// allocated with the object; process() allocates nothing.
//
//   fe = tinyml.AudioFrontend(window_size=30, window_step=20, num_channels=40,
//                             input_scale=0.1017, zero_point=-128)
//   window = bytearray(49 * 40)          # rolling int8 feature window
//   n = fe.process(pcm_chunk, window)    # frames appended, oldest dropped

#if MICROPY_ENABLE_DYNRUNTIME
#include "py/dynruntime.h"
#else
#include "py/runtime.h"
#include "py/objarray.h"
#endif

#include <stddef.h>
#include <string.h>

#include "modtinyml.h"
#include "tml_fe.h"

#ifndef BYTEARRAY_TYPECODE
#define BYTEARRAY_TYPECODE 1
#endif

// Default training convention of micro_speech: float input = feature * 10 / 256.
// 0.0390625 as float bits.
#define TINYML_FE_DEFAULT_FLOAT_SCALE_BITS 0x3D200000u

typedef struct _tinyml_fe_obj_t {
    mp_obj_base_t base;
    tml_fe_config_t cfg;
    tml_fe_info_t info;
    tml_fe_int8_map_t map;
    uint32_t float_scale_bits;
    uint32_t input_scale_bits;
    uint16_t has_map;
    uint16_t *frame;     // num_channels values, after the state in mem
    uint64_t mem[];      // 8-byte aligned frontend state, then the frame
} tinyml_fe_obj_t;

#if MICROPY_PY_BUILTINS_FLOAT
static uint32_t tinyml_fe_float_bits(mp_obj_t obj) {
    float f = (float)mp_obj_get_float(obj);
    uint32_t bits;
    memcpy(&bits, &f, sizeof(bits));
    return bits;
}

static mp_obj_t tinyml_fe_bits_obj(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof(f));
    return mp_obj_new_float((mp_float_t)f);
}
#else
// Firmware without floats: float parameters keep their defaults.
static uint32_t tinyml_fe_float_bits(mp_obj_t obj) {
    (void)obj;
    mp_raise_ValueError(MP_ERROR_TEXT("float parameters need a firmware with float support"));
}

static mp_obj_t tinyml_fe_bits_obj(uint32_t bits) {
    return mp_obj_new_int_from_uint(bits);
}
#endif

static void tinyml_fe_set_map(tinyml_fe_obj_t *self, uint32_t input_scale_bits, mp_int_t zero_point,
    uint32_t float_scale_bits) {
    const char *msg = "";
    if (zero_point < -128 || zero_point > 127) {
        mp_raise_ValueError(MP_ERROR_TEXT("int8 mapping: zero_point must be in [-128, 127]"));
    }
    tml_status_t s = tml_fe_int8_map_init(&self->map, float_scale_bits, input_scale_bits, (int32_t)zero_point, &msg);
    if (s != TML_OK) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("int8 mapping: %s"), msg);
    }
    self->float_scale_bits = float_scale_bits;
    self->input_scale_bits = input_scale_bits;
    self->has_map = 1;
}

enum {
    ARG_sample_rate, ARG_window_size, ARG_window_step, ARG_num_channels, ARG_upper_band_limit,
    ARG_lower_band_limit, ARG_smoothing_bits, ARG_even_smoothing, ARG_odd_smoothing, ARG_min_signal_remaining,
    ARG_enable_pcan, ARG_pcan_strength, ARG_pcan_offset, ARG_gain_bits, ARG_enable_log, ARG_scale_shift,
    ARG_input_scale, ARG_zero_point, ARG_float_scale,
};

static mp_obj_t tinyml_fe_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    TINYML_QSTR_TABLE mp_arg_t allowed[] = {
        { MP_QSTR_sample_rate, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 16000} },
        { MP_QSTR_window_size, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 25} },
        { MP_QSTR_window_step, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 10} },
        { MP_QSTR_num_channels, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 32} },
        { MP_QSTR_upper_band_limit, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_lower_band_limit, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_smoothing_bits, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 10} },
        { MP_QSTR_even_smoothing, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_odd_smoothing, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_min_signal_remaining, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_enable_pcan, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_pcan_strength, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_pcan_offset, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_gain_bits, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 21} },
        { MP_QSTR_enable_log, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_scale_shift, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 6} },
        { MP_QSTR_input_scale, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_zero_point, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 0} },
        { MP_QSTR_float_scale, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    if (n_args != 0) {
        mp_raise_TypeError(MP_ERROR_TEXT("AudioFrontend takes keyword arguments only"));
    }
    mp_arg_val_t a[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all_kw_array(n_args, n_kw, args, MP_ARRAY_SIZE(allowed), allowed, a);

    // Start from the op's defaults (float defaults as exact float bits).
    tml_fe_config_t cfg;
    tml_fe_config_default(&cfg);
    cfg.sample_rate = (int32_t)a[ARG_sample_rate].u_int;
    cfg.window_size_ms = (int32_t)a[ARG_window_size].u_int;
    cfg.window_step_ms = (int32_t)a[ARG_window_step].u_int;
    cfg.num_channels = (int32_t)a[ARG_num_channels].u_int;
    cfg.smoothing_bits = (int32_t)a[ARG_smoothing_bits].u_int;
    cfg.enable_pcan = a[ARG_enable_pcan].u_bool;
    cfg.gain_bits = (int32_t)a[ARG_gain_bits].u_int;
    cfg.enable_log = a[ARG_enable_log].u_bool;
    cfg.scale_shift = (int32_t)a[ARG_scale_shift].u_int;
    static const struct {
        uint8_t arg;
        uint8_t offset;
    } floats[] = {
        { ARG_upper_band_limit, offsetof(tml_fe_config_t, upper_band_limit) },
        { ARG_lower_band_limit, offsetof(tml_fe_config_t, lower_band_limit) },
        { ARG_even_smoothing, offsetof(tml_fe_config_t, even_smoothing) },
        { ARG_odd_smoothing, offsetof(tml_fe_config_t, odd_smoothing) },
        { ARG_min_signal_remaining, offsetof(tml_fe_config_t, min_signal_remaining) },
        { ARG_pcan_strength, offsetof(tml_fe_config_t, pcan_strength) },
        { ARG_pcan_offset, offsetof(tml_fe_config_t, pcan_offset) },
    };
    for (size_t i = 0; i < MP_ARRAY_SIZE(floats); i++) {
        mp_obj_t v = a[floats[i].arg].u_obj;
        if (v != MP_OBJ_NULL) {
            uint32_t bits = tinyml_fe_float_bits(v);
            memcpy((uint8_t *)&cfg + floats[i].offset, &bits, sizeof(bits));
        }
    }

    const char *msg = "";
    size_t state_size = tml_fe_state_size(&cfg);
    if (state_size == 0) {
        tml_fe_check(&cfg, &msg);
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("unsupported frontend configuration: %s"), msg);
    }
    size_t words = (state_size + (size_t)cfg.num_channels * sizeof(uint16_t) + 7) / 8;
    tinyml_fe_obj_t *self = mp_obj_malloc_var(tinyml_fe_obj_t, mem, uint64_t, words, type);
    self->cfg = cfg;
    self->has_map = 0;
    self->frame = (uint16_t *)((uint8_t *)self->mem + state_size);
    tml_status_t s = tml_fe_init(self->mem, state_size, &cfg, &msg);
    if (s != TML_OK) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("unsupported frontend configuration: %s"), msg);
    }
    tml_fe_get_info(self->mem, &self->info);
    if (a[ARG_input_scale].u_obj != mp_const_none) {
        mp_obj_t fs = a[ARG_float_scale].u_obj;
        uint32_t fs_bits = fs == mp_const_none ? TINYML_FE_DEFAULT_FLOAT_SCALE_BITS : tinyml_fe_float_bits(fs);
        tinyml_fe_set_map(self, tinyml_fe_float_bits(a[ARG_input_scale].u_obj), a[ARG_zero_point].u_int, fs_bits);
    }
    return MP_OBJ_FROM_PTR(self);
}

// Feed samples that may sit at an odd address: copy through a small
// aligned buffer (Cortex-M0 faults on unaligned halfword loads).
static int tinyml_fe_step(tinyml_fe_obj_t *self, const uint8_t *src, size_t n, size_t *used) {
    if (((uintptr_t)src & 1u) == 0) {
        return tml_fe_process(self->mem, (const int16_t *)(const void *)src, n, used, self->frame);
    }
    int16_t tmp[32];
    size_t k = n < MP_ARRAY_SIZE(tmp) ? n : MP_ARRAY_SIZE(tmp);
    memcpy(tmp, src, k * sizeof(int16_t));
    return tml_fe_process(self->mem, tmp, k, used, self->frame);
}

// process(samples, features_out) -> int
// samples: int16 audio (array('h') or bytes-like of even length).
// features_out: rolling window of N frames x num_channels, int8 (bytearray,
// array('b')) or uint16 (array('H')); each completed frame shifts the older
// rows up by one and becomes the last row. Returns frames produced.
static mp_obj_t tinyml_fe_process(mp_obj_t self_in, mp_obj_t samples_in, mp_obj_t out_in) {
    tinyml_fe_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_buffer_info_t in, out;
    mp_get_buffer_raise(samples_in, &in, MP_BUFFER_READ);
    char tc = (char)in.typecode;
    if (tc != 'h' && tc != 'b' && tc != 'B' && tc != BYTEARRAY_TYPECODE) {
        mp_raise_ValueError(MP_ERROR_TEXT("samples must be int16: array('h') or a bytes-like buffer"));
    }
    if (in.len & 1) {
        mp_raise_ValueError(MP_ERROR_TEXT("samples byte buffer has an odd length: it must hold whole int16 samples"));
    }
    mp_get_buffer_raise(out_in, &out, MP_BUFFER_WRITE);
    char oc = (char)out.typecode;
    const size_t nch = (size_t)self->info.num_channels;
    int out_u16 = oc == 'H';
    size_t items = out_u16 ? out.len / 2 : out.len;
    if (!out_u16 && oc != 'b' && oc != 'B' && oc != BYTEARRAY_TYPECODE) {
        mp_raise_ValueError(MP_ERROR_TEXT("features_out must be an int8 buffer (bytearray, array('b')) or array('H')"));
    }
    if (items == 0 || items % nch != 0) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("features_out must hold N frames x num_channels (%d) values, got %d"), (int)nch,
            (int)items);
    }
    if (!out_u16 && !self->has_map) {
        mp_raise_ValueError(MP_ERROR_TEXT("int8 features_out needs the int8 mapping (input_scale= or set_input_quantization)"));
    }
    const size_t frames = items / nch;
    const uint8_t *src = (const uint8_t *)in.buf;
    size_t n = in.len / 2;
    mp_int_t produced = 0;
    while (n > 0) {
        size_t used;
        int got = tinyml_fe_step(self, src, n, &used);
        src += used * 2;
        n -= used;
        if (!got) {
            continue;
        }
        produced++;
        if (out_u16) {
            // array('H') storage is aligned by the allocator.
            uint16_t *o = (uint16_t *)out.buf;
            memmove(o, o + nch, (frames - 1) * nch * sizeof(uint16_t));
            memcpy(o + (frames - 1) * nch, self->frame, nch * sizeof(uint16_t));
        } else {
            int8_t *o = (int8_t *)out.buf;
            memmove(o, o + nch, (frames - 1) * nch);
            for (size_t i = 0; i < nch; i++) {
                o[(frames - 1) * nch + i] = tml_fe_int8_map_apply(&self->map, self->frame[i]);
            }
        }
    }
    return MP_OBJ_NEW_SMALL_INT(produced);
}
static MP_DEFINE_CONST_FUN_OBJ_3(tinyml_fe_process_obj, tinyml_fe_process);

// reset(): forget all audio seen so far.
static mp_obj_t tinyml_fe_reset(mp_obj_t self_in) {
    tinyml_fe_obj_t *self = MP_OBJ_TO_PTR(self_in);
    tml_fe_reset(self->mem);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(tinyml_fe_reset_obj, tinyml_fe_reset);

// set_input_quantization(scale, zero_point, float_scale=10/256): int8 mapping
// from a model's input tensor quantization and the training convention.
static mp_obj_t tinyml_fe_set_quant(size_t n_args, const mp_obj_t *args) {
    tinyml_fe_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    uint32_t fs = n_args > 3 ? tinyml_fe_float_bits(args[3]) : TINYML_FE_DEFAULT_FLOAT_SCALE_BITS;
    tinyml_fe_set_map(self, tinyml_fe_float_bits(args[1]), mp_obj_get_int(args[2]), fs);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tinyml_fe_set_quant_obj, 3, 4, tinyml_fe_set_quant);

// map_int8(feature) -> int: one uint16 feature through the int8 mapping.
static mp_obj_t tinyml_fe_map_int8(mp_obj_t self_in, mp_obj_t v_in) {
    tinyml_fe_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_int_t v = mp_obj_get_int(v_in);
    if (!self->has_map) {
        mp_raise_ValueError(MP_ERROR_TEXT("no int8 mapping configured"));
    }
    if (v < 0 || v > 65535) {
        mp_raise_ValueError(MP_ERROR_TEXT("feature must be in [0, 65535]"));
    }
    return MP_OBJ_NEW_SMALL_INT(tml_fe_int8_map_apply(&self->map, (uint16_t)v));
}
static MP_DEFINE_CONST_FUN_OBJ_2(tinyml_fe_map_int8_obj, tinyml_fe_map_int8);

// config() -> dict of every frontend parameter.
static mp_obj_t tinyml_fe_config(mp_obj_t self_in) {
    tinyml_fe_obj_t *self = MP_OBJ_TO_PTR(self_in);
    const tml_fe_config_t *c = &self->cfg;
    mp_obj_t d = mp_obj_new_dict(16);
    #define TINYML_FE_PUT(name, value) mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_##name), value)
    TINYML_FE_PUT(sample_rate, MP_OBJ_NEW_SMALL_INT(c->sample_rate));
    TINYML_FE_PUT(window_size, MP_OBJ_NEW_SMALL_INT(c->window_size_ms));
    TINYML_FE_PUT(window_step, MP_OBJ_NEW_SMALL_INT(c->window_step_ms));
    TINYML_FE_PUT(num_channels, MP_OBJ_NEW_SMALL_INT(c->num_channels));
    TINYML_FE_PUT(upper_band_limit, tinyml_fe_bits_obj(c->upper_band_limit));
    TINYML_FE_PUT(lower_band_limit, tinyml_fe_bits_obj(c->lower_band_limit));
    TINYML_FE_PUT(smoothing_bits, MP_OBJ_NEW_SMALL_INT(c->smoothing_bits));
    TINYML_FE_PUT(even_smoothing, tinyml_fe_bits_obj(c->even_smoothing));
    TINYML_FE_PUT(odd_smoothing, tinyml_fe_bits_obj(c->odd_smoothing));
    TINYML_FE_PUT(min_signal_remaining, tinyml_fe_bits_obj(c->min_signal_remaining));
    TINYML_FE_PUT(enable_pcan, mp_obj_new_bool(c->enable_pcan));
    TINYML_FE_PUT(pcan_strength, tinyml_fe_bits_obj(c->pcan_strength));
    TINYML_FE_PUT(pcan_offset, tinyml_fe_bits_obj(c->pcan_offset));
    TINYML_FE_PUT(gain_bits, MP_OBJ_NEW_SMALL_INT(c->gain_bits));
    TINYML_FE_PUT(enable_log, mp_obj_new_bool(c->enable_log));
    TINYML_FE_PUT(scale_shift, MP_OBJ_NEW_SMALL_INT(c->scale_shift));
    #undef TINYML_FE_PUT
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_1(tinyml_fe_config_obj, tinyml_fe_config);

// Read-only attributes: sizes of the configured frontend.
static void tinyml_fe_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    if (dest[0] != MP_OBJ_NULL) {
        return; // no stores or deletes
    }
    tinyml_fe_obj_t *self = MP_OBJ_TO_PTR(self_in);
    // An if-chain, not a switch: a natmod's qstrs are not constants.
    if (attr == MP_QSTR_state_size) {
        dest[0] = mp_obj_new_int_from_uint(self->info.state_size);
    } else if (attr == MP_QSTR_num_channels) {
        dest[0] = MP_OBJ_NEW_SMALL_INT(self->info.num_channels);
    } else if (attr == MP_QSTR_window_samples) {
        dest[0] = MP_OBJ_NEW_SMALL_INT(self->info.window_samples);
    } else if (attr == MP_QSTR_step_samples) {
        dest[0] = MP_OBJ_NEW_SMALL_INT(self->info.step_samples);
    } else if (attr == MP_QSTR_fft_size) {
        dest[0] = MP_OBJ_NEW_SMALL_INT(self->info.fft_size);
    } else if (attr == MP_QSTR_sample_rate) {
        dest[0] = MP_OBJ_NEW_SMALL_INT(self->cfg.sample_rate);
    } else {
        dest[1] = MP_OBJ_SENTINEL; // continue in locals_dict
    }
}

// The methods, once for both tables below: X(qstr, function object). The
// qstrs are spelled out: natmod builds find them in the source text.
#define TINYML_FE_METHODS(X) \
    X(MP_QSTR_process, tinyml_fe_process_obj) \
    X(MP_QSTR_reset, tinyml_fe_reset_obj) \
    X(MP_QSTR_set_input_quantization, tinyml_fe_set_quant_obj) \
    X(MP_QSTR_map_int8, tinyml_fe_map_int8_obj) \
    X(MP_QSTR_config, tinyml_fe_config_obj)

#if MICROPY_ENABLE_DYNRUNTIME

#define TINYML_FE_COUNT(q, obj) + 1
mp_obj_full_type_t tinyml_type_AudioFrontend;
mp_map_elem_t tinyml_fe_locals_table[0 TINYML_FE_METHODS(TINYML_FE_COUNT)];
static MP_DEFINE_CONST_DICT(tinyml_fe_locals, tinyml_fe_locals_table);

void tinyml_fe_natmod_init(void) {
    mp_obj_full_type_t *type = &tinyml_type_AudioFrontend;
    type->base.type = &mp_type_type;
    type->flags = MP_TYPE_FLAG_NONE;
    type->name = MP_QSTR_AudioFrontend;
    MP_OBJ_TYPE_SET_SLOT(type, make_new, tinyml_fe_make_new, 0);
    MP_OBJ_TYPE_SET_SLOT(type, attr, tinyml_fe_attr, 1);
    MP_OBJ_TYPE_SET_SLOT(type, locals_dict, (void *)&tinyml_fe_locals, 2);
    size_t i = 0;
    #define TINYML_FE_SET(q, obj) \
    tinyml_fe_locals_table[i++] = (mp_map_elem_t) { MP_OBJ_NEW_QSTR(q), MP_OBJ_FROM_PTR(&obj) };
    TINYML_FE_METHODS(TINYML_FE_SET)
    #undef TINYML_FE_SET
    mp_store_global(MP_QSTR_AudioFrontend, MP_OBJ_FROM_PTR(type));
}

#else

#define TINYML_FE_ENTRY(q, obj) { MP_ROM_QSTR(q), MP_ROM_PTR(&obj) },
static const mp_rom_map_elem_t tinyml_fe_locals_table[] = {
    TINYML_FE_METHODS(TINYML_FE_ENTRY)
};
static MP_DEFINE_CONST_DICT(tinyml_fe_locals, tinyml_fe_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    tinyml_type_AudioFrontend,
    MP_QSTR_AudioFrontend,
    MP_TYPE_FLAG_NONE,
    make_new, tinyml_fe_make_new,
    attr, tinyml_fe_attr,
    locals_dict, &tinyml_fe_locals
    );

#endif
