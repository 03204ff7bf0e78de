// Sliding-window helpers of the convolution kernels; see tml_window.h.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__ARM_ARCH_6M__)
// Hot loops: worth -O2 in firmware that is otherwise built with -Os (about
// 5% fewer instructions on Cortex-M3); Cortex-M0 keeps -Os for flash.
#pragma GCC optimize("O2")
#endif
#include "tml_window.h"

#include <string.h>

#include "tml_kernels.h"

void tml_window_conv_f32(const tml_window_t *g, const float *x, const float *w, const void *bias, float *y,
    int32_t cout, int32_t oc_per_group, int32_t n, int32_t w_oc, int32_t w_tap, float lo, float hi) {
    for (int32_t b = 0; b < g->nb; b++) {
        for (int32_t oy = 0; oy < g->oh; oy++) {
            const int32_t y0 = oy * g->stride_h - g->pad_h;
            for (int32_t ox = 0; ox < g->ow; ox++) {
                const int32_t x0 = ox * g->stride_w - g->pad_w;
                for (int32_t oc = 0; oc < cout; oc++) {
                    const float *xc = x + (oc / oc_per_group) * n;
                    float total = 0.0f;
                    for (int32_t ky = 0; ky < g->fh; ky++) {
                        const int32_t iy = y0 + ky * g->dil_h;
                        for (int32_t kx = 0; kx < g->fw; kx++) {
                            const int32_t ix = x0 + kx * g->dil_w;
                            if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw) {
                                continue;
                            }
                            const float *xp = xc + (((size_t)b * g->ih + iy) * g->iw + ix) * g->cin;
                            const float *wp = w + (size_t)oc * w_oc + (size_t)(ky * g->fw + kx) * w_tap;
                            for (int32_t c = 0; c < n; c++) {
                                total += xp[c] * wp[c];
                            }
                        }
                    }
                    const float bv = bias ? tml_load_f32(bias, oc) : 0.0f;
                    y[(((size_t)b * g->oh + oy) * g->ow + ox) * cout + oc] = tml_clamp_f32(total + bv, lo, hi);
                }
            }
        }
    }
}

void tml_window_fold_bias(int32_t *dst, const int32_t *bias, const int8_t *w, int32_t cout, int32_t w_oc,
    int32_t w_tap, int32_t n, int32_t in_off) {
    for (int32_t oc = 0; oc < cout; oc++) {
        const int8_t *wp = w + (size_t)oc * w_oc;
        uint32_t sum = 0;
        for (int32_t i = 0; i < n; i++) {
            sum += (uint32_t)(int32_t)wp[(size_t)i * w_tap];
        }
        dst[oc] = tml_wrap_add(bias ? bias[oc] : 0, (int32_t)(sum * (uint32_t)in_off));
    }
}

// Input pixel (iy, ix) of image b, or zrow outside the image.
static inline const int8_t *window_tap(const tml_window_t *g, const int8_t *x, int32_t b, int32_t iy, int32_t ix,
    const int8_t *zrow) {
    return iy >= 0 && iy < g->ih && ix >= 0 && ix < g->iw ? x + (((size_t)b * g->ih + iy) * g->iw + ix) * g->cin : zrow;
}

void tml_window_taps(const tml_window_t *g, const int8_t *x, int32_t b, int32_t oy, int32_t ox,
    const int8_t *zrow, const int8_t **tp) {
    const int32_t y0 = oy * g->stride_h - g->pad_h, x0 = ox * g->stride_w - g->pad_w;
    for (int32_t ky = 0; ky < g->fh; ky++) {
        for (int32_t kx = 0; kx < g->fw; kx++) {
            *tp++ = window_tap(g, x, b, y0 + ky * g->dil_h, x0 + kx * g->dil_w, zrow);
        }
    }
}

void tml_window_patch(const tml_window_t *g, const int8_t *x, int32_t b, int32_t oy, int32_t ox,
    const int8_t *zrow, int32_t cin_g, int8_t *patch) {
    const int32_t y0 = oy * g->stride_h - g->pad_h, x0 = ox * g->stride_w - g->pad_w;
    const int32_t run = g->fw * g->cin;
    for (int32_t c0 = 0; c0 < g->cin; c0 += cin_g) {
        for (int32_t ky = 0; ky < g->fh; ky++) {
            const int32_t iy = y0 + ky * g->dil_h;
            if (cin_g == g->cin && g->dil_w == 1 && iy >= 0 && iy < g->ih && x0 >= 0 && x0 + g->fw <= g->iw) {
                // The filter row lies inside the image: one contiguous run.
                memcpy(patch, x + (((size_t)b * g->ih + iy) * g->iw + x0) * g->cin, (size_t)run);
                patch += run;
                continue;
            }
            for (int32_t kx = 0; kx < g->fw; kx++) {
                const int8_t *src = window_tap(g, x, b, iy, x0 + kx * g->dil_w, zrow) + c0;
                for (int32_t c = 0; c < cin_g; c++) {
                    *patch++ = src[c];
                }
            }
        }
    }
}

#if TML_FAST_ENABLED
void tml_window_store(int8_t *y, const int32_t *acc, int32_t n, const int32_t *mult,
    const int8_t *shift, int32_t out_off, int32_t act_min, int32_t act_max) {
    tml_window_store_inline(y, acc, n, mult, shift, out_off, act_min, act_max);
}
#endif
