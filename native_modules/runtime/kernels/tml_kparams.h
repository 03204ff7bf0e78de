// Per-op data (ctx->user_data) of the hot int8 kernels, shared between the
// portable kernels and the architecture fast paths (tml_fast.h), which read
// the same precomputed offsets, activation range and per-channel
// multipliers. The shifts (int8, one per multiplier) follow mult[].
#ifndef TML_KPARAMS_H
#define TML_KPARAMS_H

#include <stdint.h>

typedef struct {
    int32_t stride_w, stride_h, dil_w, dil_h, pad_w, pad_h;
    int32_t act_min, act_max;
    float fact_min, fact_max;
    int32_t input_offset, output_offset;
    int32_t scratch;        // per output channel: bias + input_offset * sum(filter)
    int32_t fast_scratch;   // scratch of the architecture fast path, -1 if none
    int32_t mult[];         // per output channel, followed by the int8 shifts
} tml_conv_data_t;

typedef struct {
    int32_t stride_w, stride_h, dil_w, dil_h, pad_w, pad_h, depth_mult;
    int32_t act_min, act_max;
    float fact_min, fact_max;
    int32_t input_offset, output_offset;
    int32_t scratch;        // per output channel: int32 accumulator, then bias +
                            // input_offset * sum over the channel's taps
    int32_t fast_scratch;   // scratch of the architecture fast path, -1 if none
    int32_t mult[];         // per output channel, followed by the int8 shifts
} tml_dwconv_data_t;

typedef struct {
    int32_t act_min, act_max;
    float fact_min, fact_max;
    int32_t input_offset, filter_offset, output_offset;
    int32_t per_channel;
    int32_t n_mult;
    int32_t fast_scratch;   // scratch of the architecture fast path, -1 if none
    int32_t mult[];         // one entry, or one per unit; then the int8 shifts
} tml_fc_data_t;

// The int8 shifts stored after n multipliers.
static inline const int8_t *tml_kparams_shifts(const int32_t *mult, int32_t n) {
    return (const int8_t *)(mult + n);
}

#endif // TML_KPARAMS_H
