// Per-op data (ctx->user_data) of the hot int8 kernels, shared between the
// portable kernels and the architecture fast paths (tml_fast.h), which read
// the same precomputed offsets, activation range and per-channel
// multipliers. The shifts (int8, one per multiplier) follow mult[].
#ifndef TML_KPARAMS_H
#define TML_KPARAMS_H

#include <stddef.h>
#include <stdint.h>

// The int8 CONV_2D and DEPTHWISE_CONV_2D kernels request at least this many
// bytes of scratch (`scratch` below) per output channel, for their folded
// bias. A guarantee the fast paths build on: when one of them computes the
// op, the portable loop does not run, so it may use that scratch for its own
// per-channel int32 values (the Cortex-M0 folded bias) or any buffer of at
// most this many bytes per output channel (the Cortex-M4 patches).
#define TML_KSCRATCH_CHANNEL_BYTES 4

// Compile-time check: the portable kernels and the Cortex-M0 fast path keep
// an int32 per output channel there.
typedef char tml_kscratch_holds_int32[TML_KSCRATCH_CHANNEL_BYTES >= sizeof(int32_t) ? 1 : -1];

// The leading fields of the three structs below, in this order in each
// (CONV_2D and DEPTHWISE_CONV_2D follow them with the window's), so that one
// prepare step fills them for every op (tml_kprep.c).
#define TML_KPARAMS_HEAD \
    int32_t act_min, act_max; \
    float fact_min, fact_max; \
    int32_t input_offset, output_offset
#define TML_KPARAMS_WINDOW \
    int32_t stride_w, stride_h, dil_w, dil_h, pad_w, pad_h

typedef struct {
    TML_KPARAMS_HEAD;
} tml_kparams_head_t;

typedef struct {
    TML_KPARAMS_WINDOW;
} tml_kparams_window_t;

typedef struct {
    TML_KPARAMS_HEAD;
    TML_KPARAMS_WINDOW;
    int32_t scratch;        // per output channel: bias + input_offset * sum(filter)
                            // (TML_KSCRATCH_CHANNEL_BYTES each); then, unless a 1x1
                            // window is read in place, a row of the input zero
                            // point (cin bytes) and the patch of one window
    int32_t fast_scratch;   // scratch of the architecture fast path, -1 if none
    int32_t mult[];         // per output channel, followed by the int8 shifts
} tml_conv_data_t;

typedef struct {
    TML_KPARAMS_HEAD;
    TML_KPARAMS_WINDOW;
    int32_t depth_mult;
    int32_t scratch;        // the window's tap pointers (input channels > 1), then
                            // per output channel bias + input_offset * sum over its
                            // taps (TML_KSCRATCH_CHANNEL_BYTES each), a row of the
                            // input zero point (cin bytes) and, for one input
                            // channel, the window copied (a byte per tap)
    int32_t fast_scratch;   // scratch of the architecture fast path, -1 if none
    int32_t mult[];         // per output channel, followed by the int8 shifts
} tml_dwconv_data_t;

typedef struct {
    TML_KPARAMS_HEAD;
    int32_t filter_offset;
    int32_t per_channel;
    int32_t n_mult;
    int32_t fast_scratch;   // scratch of the architecture fast path, -1 if none
    int32_t mult[];         // one entry, or one per unit; then the int8 shifts
} tml_fc_data_t;

// Compile-time check: mult[] starts where each struct ends, so the shared
// prepare step finds it from the struct's size.
typedef char tml_kparams_mult_at_end[offsetof(tml_conv_data_t, mult) == sizeof(tml_conv_data_t)
    && offsetof(tml_dwconv_data_t, mult) == sizeof(tml_dwconv_data_t)
    && offsetof(tml_fc_data_t, mult) == sizeof(tml_fc_data_t) ? 1 : -1];

// The int8 shifts stored after n multipliers.
static inline const int8_t *tml_kparams_shifts(const int32_t *mult, int32_t n) {
    return (const int8_t *)(mult + n);
}

#endif // TML_KPARAMS_H
