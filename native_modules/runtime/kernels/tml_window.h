// Sliding-window geometry shared by CONV_2D and DEPTHWISE_CONV_2D: the float
// loop of both, and for int8 the pieces around the multiply-accumulate
// (tml_mac.h): the bias with the input offset folded in, the window of one
// output pixel as tap pointers or as a contiguous patch, and the
// requantizing store.
//
// Padding: a tap outside the image reads the input zero point z. With the
// folded bias (bias + off * sum(w), off = -z) such a tap adds z * w, so the
// total is bias + sum over the taps inside of (x + off) * w, exactly the
// reference's; border pixels need no separate loop.
#ifndef TML_WINDOW_H
#define TML_WINDOW_H

#include <stdint.h>

#include "tml_op.h"
#include "tml_quant.h"
#include "tml_fast.h"

// Output channels accumulated per call of the multiply-accumulate layer
// (an int32 array of this size on the stack).
#define TML_WINDOW_CHUNK 32

typedef struct {
    int32_t nb, ih, iw, cin;        // input
    int32_t oh, ow;                 // output pixels
    int32_t fh, fw;                 // window
    int32_t stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
} tml_window_t;

// Inline: called at every eval of the kernels and their fast paths.
static inline void tml_window_init(tml_window_t *g, const tml_tensor_t *in, const tml_tensor_t *out, int32_t fh, int32_t fw,
    int32_t stride_h, int32_t stride_w, int32_t dil_h, int32_t dil_w, int32_t pad_h, int32_t pad_w) {
    g->nb = in->dims[0];
    g->ih = in->dims[1];
    g->iw = in->dims[2];
    g->cin = in->dims[3];
    g->oh = out->dims[1];
    g->ow = out->dims[2];
    g->fh = fh;
    g->fw = fw;
    g->stride_h = stride_h;
    g->stride_w = stride_w;
    g->dil_h = dil_h;
    g->dil_w = dil_w;
    g->pad_h = pad_h;
    g->pad_w = pad_w;
}

// Float convolution of either kind. Output channel oc reads the n input
// channels from (oc / oc_per_group) * n on, with the weights
// w[oc * w_oc + (ky * fw + kx) * w_tap + c]; bias (may be NULL, any
// alignment) and the clamp to [lo, hi] follow.
void tml_window_conv_f32(const tml_window_t *g, const float *x, const float *w, const void *bias, float *y,
    int32_t cout, int32_t oc_per_group, int32_t n, int32_t w_oc, int32_t w_tap, float lo, float hi);

// dst[oc] = bias[oc] + in_off * sum over i < n of w[oc * w_oc + i * w_tap]
// (wrapping int32 arithmetic; bias may be NULL).
void tml_window_fold_bias(int32_t *dst, const int32_t *bias, const int8_t *w, int32_t cout, int32_t w_oc,
    int32_t w_tap, int32_t n, int32_t in_off);

// The fh * fw taps of output pixel (b, oy, ox): a pointer to the input
// pixel, or to zrow (the input zero point, cin times) outside the image.
void tml_window_taps(const tml_window_t *g, const int8_t *x, int32_t b, int32_t oy, int32_t ox,
    const int8_t *zrow, const int8_t **tp);

// The same window copied into patch, group by group: the cin_g channels of
// group 0 for every tap, then group 1, ... (the filter's [ky][kx][c] order
// per output channel).
void tml_window_patch(const tml_window_t *g, const int8_t *x, int32_t b, int32_t oy, int32_t ox,
    const int8_t *zrow, int32_t cin_g, int8_t *patch);

// tml_mul_by_quantized_mult for the multipliers of tml_quantize_multiplier
// (0 <= multiplier < 2^31, -31 <= shift <= 31), with fewer instructions on
// 32-bit cores: the doubling high multiply cannot saturate there, and its
// two rounding cases are one, floor((a * m + 2^30) / 2^31). Bit-exact with
// the shared version (tests/host/test_kernel_requant.py).
static inline int32_t tml_window_requant(int32_t acc, int32_t multiplier, int shift) {
    const int left = shift > 0 ? shift : 0;
    const int right = left - shift;
    const int64_t prod = (int64_t)tml_wrap_shl(acc, left) * multiplier;
    const int32_t high = (int32_t)((uint64_t)(prod + ((int64_t)1 << 30)) >> 31);
    const int32_t mask = (int32_t)(((uint32_t)1 << right) - 1u);
    const int32_t threshold = (mask >> 1) + (int32_t)((uint32_t)high >> 31);
    return (high >> right) + ((high & mask) > threshold);
}

// Requantizes n accumulators of consecutive channels and stores them as int8.
static inline void tml_window_store_inline(int8_t *y, const int32_t *acc, int32_t n, const int32_t *mult,
    const int8_t *shift, int32_t out_off, int32_t act_min, int32_t act_max) {
    for (int32_t i = 0; i < n; i++) {
        const int32_t v = tml_wrap_add(tml_window_requant(acc[i], mult[i], shift[i]), out_off);
        y[i] = (int8_t)tml_clamp_i32(v, act_min, act_max);
    }
}

#if TML_FAST_ENABLED
// With an architecture fast path the portable int8 loops only run for the
// shapes it leaves to them: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and
// the armv6m path's requantization fallback share one copy of the store
// (tml_window.c) instead of inlining it in each.
void tml_window_store(int8_t *y, const int32_t *acc, int32_t n, const int32_t *mult,
    const int8_t *shift, int32_t out_off, int32_t act_min, int32_t act_max);
#else
#define tml_window_store tml_window_store_inline
#endif

#endif // TML_WINDOW_H
