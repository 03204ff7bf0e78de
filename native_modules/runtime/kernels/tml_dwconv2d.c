// DEPTHWISE_CONV_2D, int8 (per-channel or per-tensor filter, int32 bias) and
// float32. Filter layout [1, H, W, C_in * depth_multiplier]; output channel
// ic * depth_multiplier + m reads input channel ic.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__ARM_ARCH_6M__)
// Hot loops: worth -O2 in firmware that is otherwise built with -Os (about
// 5% fewer instructions on Cortex-M3); Cortex-M0 keeps -Os for flash.
#pragma GCC optimize("O2")
#endif
#include "tml_kernels.h"
#include "tml_mac.h"
#include "tml_quant.h"
#include "tml_fast.h"
#include "tml_window.h"
#include "tml_kprep.h"

// Scratch of the int8 loop: the window's tap pointers, the folded bias per
// output channel, a row of the input zero point (tml_window.h). With one
// input channel the window is copied instead (a byte per tap, not a pointer).
static size_t dwconv_tp_bytes(int32_t cin, int32_t taps) {
    return cin == 1 ? 0 : (size_t)taps * sizeof(const int8_t *);
}

tml_status_t tml_dwconv2d_prepare(tml_op_ctx_t *ctx) {
    tml_kprep_t p;
    const tml_status_t st = tml_kprep_weights(ctx, TML_KPREP_DWCONV2D, sizeof(tml_dwconv_data_t), &p);
    if (st != TML_OK) {
        return st;
    }
    tml_dwconv_data_t *d = p.d;
    const int32_t cin = p.in->dims[3], cout = p.cout, fh = p.filter->dims[1], fw = p.filter->dims[2];
    // The multiplier follows from the shapes; the option may be stale.
    d->depth_mult = cout / cin;
    if (tml_is_f32(p.in)) {
        return TML_OK;
    }
    // A complete fast path (tml_fast.h) keeps only the folded bias here.
    d->scratch = ctx->request_scratch(ctx, TML_KSCRATCH_CHANNEL_BYTES * (size_t)cout
        + (TML_FAST_COMPLETE ? 0 : dwconv_tp_bytes(cin, fh * fw) + (size_t)cin + (cin == 1 ? (size_t)fh * fw : 0)));
    TML_KCHECK(d->scratch >= 0, TML_ERR_ARENA_SMALL, "DEPTHWISE_CONV_2D: arena full");
    TML_FAST_PREPARE(dwconv2d, "DEPTHWISE_CONV_2D");
    return TML_OK;
}

tml_status_t tml_dwconv2d_eval(tml_op_ctx_t *ctx) {
    const tml_dwconv_data_t *d = ctx->user_data;
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    tml_tensor_t *out = ctx->outputs[0];
    tml_window_t g;
    tml_window_init(&g, in, out, filter->dims[1], filter->dims[2], d->stride_h, d->stride_w, d->dil_h, d->dil_w,
        d->pad_h, d->pad_w);
    if (tml_is_f32(in)) {
        const tml_tensor_t *bias = tml_kin(ctx, 2);
        const int32_t cout = filter->dims[3];
        tml_window_conv_f32(&g, (const float *)in->data, (const float *)filter->data, bias ? bias->data : NULL,
            (float *)out->data, cout, d->depth_mult, 1, 1, cout, d->fact_min, d->fact_max);
        return TML_OK;
    }
    TML_FAST_EVAL(dwconv2d);
    const int32_t cout = filter->dims[3], taps = g.fh * g.fw, dm = d->depth_mult;
    const int8_t *x = (const int8_t *)in->data;
    const int8_t *w = (const int8_t *)filter->data;
    int8_t *y = (int8_t *)out->data;
    const tml_tensor_t *bias = tml_kin(ctx, 2);
    const int8_t *shift = tml_kparams_shifts(d->mult, cout);
    uint8_t *scratch = ctx->get_scratch(ctx, d->scratch);
    const int8_t **tp = (const int8_t **)(void *)scratch;
    int32_t *bias_full = (int32_t *)(void *)(scratch + dwconv_tp_bytes(g.cin, taps));
    int8_t *zrow = (int8_t *)(bias_full + cout);
    int8_t *patch = zrow + g.cin;
    tml_window_fold_bias(bias_full, bias ? (const int32_t *)bias->data : NULL, w, cout, 1, cout, taps, d->input_offset);
    memset(zrow, -d->input_offset, (size_t)g.cin);
    int32_t acc[4];
    for (int32_t b = 0; b < g.nb; b++) {
        for (int32_t oy = 0; oy < g.oh; oy++) {
            for (int32_t ox = 0; ox < g.ow; ox++) {
                int8_t *yp = y + (((size_t)b * g.oh + oy) * g.ow + ox) * cout;
                int32_t oc = 0;
                if (g.cin == 1) {
                    // Every output channel reads the same window.
                    tml_window_patch(&g, x, b, oy, ox, zrow, 1, patch);
                    for (; oc + 4 <= cout; oc += 4) {
                        memcpy(acc, bias_full + oc, 4 * sizeof(acc[0]));
                        tml_mac_dot4_cols(acc, patch, w + oc, cout, taps);
                        tml_window_store(yp + oc, acc, 4, d->mult + oc, shift + oc, d->output_offset, d->act_min, d->act_max);
                    }
                    for (; oc < cout; oc++) {
                        acc[0] = tml_wrap_add(bias_full[oc], tml_mac_dot_cols(patch, w + oc, cout, taps));
                        tml_window_store(yp + oc, acc, 1, d->mult + oc, shift + oc, d->output_offset, d->act_min, d->act_max);
                    }
                    continue;
                }
                tml_window_taps(&g, x, b, oy, ox, zrow, tp);
                // Four channels at a time when each reads its own input channel.
                for (; dm == 1 && oc + 4 <= cout; oc += 4) {
                    memcpy(acc, bias_full + oc, 4 * sizeof(acc[0]));
                    tml_mac_taps4(acc, tp, oc, w + oc, cout, taps);
                    tml_window_store(yp + oc, acc, 4, d->mult + oc, shift + oc, d->output_offset, d->act_min, d->act_max);
                }
                for (; oc < cout; oc++) {
                    acc[0] = tml_wrap_add(bias_full[oc], tml_mac_taps(tp, oc / dm, w + oc, cout, taps));
                    tml_window_store(yp + oc, acc, 1, d->mult + oc, shift + oc, d->output_offset, d->act_min, d->act_max);
                }
            }
        }
    }
    return TML_OK;
}
