// CONV_2D, int8 activations with int8 filters quantized per channel (a
// per-tensor filter scale is applied to every channel) and int32 bias; and
// float32. Layouts: input NHWC, filter OHWI (I may be a group's share of the
// input channels), output NHWC.
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

// A 1x1 filter over all input channels without padding reads each input
// pixel as it is; other windows are copied into a patch first.
static int conv_direct(const tml_conv_data_t *d, int32_t fh, int32_t fw, int32_t cin_g, int32_t cin) {
    return fh == 1 && fw == 1 && cin_g == cin && d->pad_h == 0 && d->pad_w == 0;
}

// Scratch of the int8 loop: the folded bias per output channel, then (patch
// only) a row of the input zero point and the patch.

tml_status_t tml_conv2d_prepare(tml_op_ctx_t *ctx) {
    tml_kprep_t p;
    const tml_status_t st = tml_kprep_weights(ctx, TML_KPREP_CONV2D, sizeof(tml_conv_data_t), &p);
    if (st != TML_OK || tml_is_f32(p.in)) {
        return st;
    }
    tml_conv_data_t *d = p.d;
    const int32_t cin = p.in->dims[3], cout = p.cout, fh = p.filter->dims[1], fw = p.filter->dims[2];
    const int direct = conv_direct(d, fh, fw, p.filter->dims[3], cin);
    // A complete fast path (tml_fast.h) keeps only the folded bias here.
    d->scratch = ctx->request_scratch(ctx, TML_KSCRATCH_CHANNEL_BYTES * (size_t)cout
        + (direct || TML_FAST_COMPLETE ? 0 : (size_t)cin * (1 + (size_t)fh * fw)));
    TML_KCHECK(d->scratch >= 0, TML_ERR_ARENA_SMALL, "CONV_2D: arena full");
    TML_FAST_PREPARE(conv2d, "CONV_2D");
    return TML_OK;
}

tml_status_t tml_conv2d_eval(tml_op_ctx_t *ctx) {
    const tml_conv_data_t *d = ctx->user_data;
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    tml_tensor_t *out = ctx->outputs[0];
    tml_window_t g;
    tml_window_init(&g, in, out, filter->dims[1], filter->dims[2], d->stride_h, d->stride_w, d->dil_h, d->dil_w,
        d->pad_h, d->pad_w);
    if (tml_is_f32(in)) {
        const tml_tensor_t *bias = tml_kin(ctx, 2);
        const int32_t cout = filter->dims[0], cin_g = filter->dims[3];
        tml_window_conv_f32(&g, (const float *)in->data, (const float *)filter->data, bias ? bias->data : NULL,
            (float *)out->data, cout, cout / (in->dims[3] / cin_g), cin_g, g.fh * g.fw * cin_g, cin_g,
            d->fact_min, d->fact_max);
        return TML_OK;
    }
    TML_FAST_EVAL(conv2d);
    const int32_t cin = in->dims[3], cout = filter->dims[0], cin_g = filter->dims[3];
    const int32_t taps = g.fh * g.fw, k_g = taps * cin_g, out_per_group = cout / (cin / cin_g);
    const int8_t *x = (const int8_t *)in->data;
    const int8_t *w = (const int8_t *)filter->data;
    int8_t *y = (int8_t *)out->data;
    const tml_tensor_t *bias = tml_kin(ctx, 2);
    const int8_t *shift = tml_kparams_shifts(d->mult, cout);
    const int direct = conv_direct(d, g.fh, g.fw, cin_g, cin);
    int32_t *bias_full = ctx->get_scratch(ctx, d->scratch);
    int8_t *zrow = (int8_t *)(bias_full + cout);
    int8_t *patch = zrow + cin;
    tml_window_fold_bias(bias_full, bias ? (const int32_t *)bias->data : NULL, w, cout, k_g, 1, k_g, d->input_offset);
    memset(zrow, -d->input_offset, direct ? 0 : (size_t)cin);
    int32_t acc[TML_WINDOW_CHUNK];
    for (int32_t b = 0; b < g.nb; b++) {
        for (int32_t oy = 0; oy < g.oh; oy++) {
            for (int32_t ox = 0; ox < g.ow; ox++) {
                const size_t pix = ((size_t)b * g.oh + oy) * g.ow + ox;
                const int8_t *win = x + (((size_t)b * g.ih + oy * g.stride_h) * g.iw + ox * g.stride_w) * cin;
                if (!direct) {
                    tml_window_patch(&g, x, b, oy, ox, zrow, cin_g, patch);
                    win = patch;
                }
                int8_t *yp = y + pix * cout;
                for (int32_t oc0 = 0; oc0 < cout; oc0 += out_per_group) {
                    const int8_t *xg = win + (oc0 / out_per_group) * k_g;
                    const int32_t end = oc0 + out_per_group;
                    int32_t oc = oc0;
                    // Four output channels per pass over the window, up to
                    // TML_WINDOW_CHUNK per call, then the rest.
                    while (end - oc >= 4) {
                        const int32_t n = tml_min_i32(end - oc, TML_WINDOW_CHUNK) & ~3;
                        memcpy(acc, bias_full + oc, 4 * (size_t)n);
                        tml_mac_dot4(acc, xg, w + (size_t)oc * k_g, k_g, k_g, n / 4);
                        tml_window_store(yp + oc, acc, n, d->mult + oc, shift + oc, d->output_offset, d->act_min, d->act_max);
                        oc += n;
                    }
                    for (; oc < end; oc++) {
                        acc[0] = tml_wrap_add(bias_full[oc], tml_mac_dot(xg, w + (size_t)oc * k_g, k_g));
                        tml_window_store(yp + oc, acc, 1, d->mult + oc, shift + oc, d->output_offset, d->act_min, d->act_max);
                    }
                }
            }
        }
    }
    return TML_OK;
}
