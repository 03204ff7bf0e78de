// _tinyml.scan_s16: the input gate's per-sample loop in C (tml_scan.h).

#if MICROPY_ENABLE_DYNRUNTIME
#include "py/dynruntime.h"
#else
#include "py/runtime.h"
#endif

#include <string.h>

#include "tml_scan.h"
#include "modtinyml.h"

// scan_s16(samples, state, clip_level) -> bool
// Fold int16 samples into state, an array('i') of 8 items laid out as
// tml_scan_t. Returns False, touching nothing, when the samples are not
// int16, so the caller can use its own loop for other types.
static mp_obj_t tinyml_scan_s16(mp_obj_t samples_in, mp_obj_t state_in, mp_obj_t clip_in) {
    mp_buffer_info_t samples;
    mp_get_buffer_raise(samples_in, &samples, MP_BUFFER_READ);
    if (samples.typecode != 'h') {
        return mp_const_false;
    }
    mp_buffer_info_t state;
    mp_get_buffer_raise(state_in, &state, MP_BUFFER_RW);
    if (state.typecode != 'i' || state.len < sizeof(tml_scan_t)) {
        mp_raise_TypeError(MP_ERROR_TEXT("state must be an array('i') of 8 items"));
    }
    mp_int_t clip = mp_obj_get_int(clip_in);
    if (clip < 0 || clip > 65536) {
        mp_raise_ValueError(MP_ERROR_TEXT("clip_level must be within 0..65536"));
    }
    // The array's storage may not be aligned for the struct: copy in and out.
    tml_scan_t s;
    memcpy(&s, state.buf, sizeof(s));
    tml_scan_s16(&s, (const int16_t *)samples.buf, samples.len / sizeof(int16_t), (int32_t)clip);
    memcpy(state.buf, &s, sizeof(s));
    return mp_const_true;
}
MP_DEFINE_CONST_FUN_OBJ_3(tinyml_scan_s16_obj, tinyml_scan_s16);
