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

// Scratch of the int8 loop: the window's tap pointers, the folded bias per
// output channel, a row of the input zero point (tml_window.h). With one
// input channel the window is copied instead (a byte per tap, not a pointer).
static size_t dwconv_tp_bytes(int32_t cin, int32_t taps) {
    return cin == 1 ? 0 : (size_t)taps * sizeof(const int8_t *);
}

tml_status_t tml_dwconv2d_prepare(tml_op_ctx_t *ctx) {
    TML_KCHECK(ctx->n_inputs >= 2 && ctx->n_outputs == 1, TML_ERR_MODEL, "DEPTHWISE_CONV_2D: expects 2 or 3 inputs and 1 output");
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    const tml_tensor_t *bias = tml_kin(ctx, 2);
    const tml_tensor_t *out = ctx->outputs[0];
    TML_KCHECK(in && filter, TML_ERR_MODEL, "DEPTHWISE_CONV_2D: missing input or filter");
    TML_KCHECK(in->ndim == 4 && filter->ndim == 4 && out->ndim == 4, TML_ERR_SHAPE, "DEPTHWISE_CONV_2D: tensors must be 4-D");
    const int32_t cin = in->dims[3], fh = filter->dims[1], fw = filter->dims[2], cout = filter->dims[3];
    TML_KCHECK(filter->dims[0] == 1 && cin > 0 && cout % cin == 0 && cout > 0, TML_ERR_SHAPE,
        "DEPTHWISE_CONV_2D: filter channels must be a multiple of input channels");
    TML_KCHECK(out->dims[0] == in->dims[0] && out->dims[3] == cout, TML_ERR_SHAPE, "DEPTHWISE_CONV_2D: output shape mismatch");
    TML_KCHECK(!bias || tml_tensor_count(bias) == cout, TML_ERR_SHAPE, "DEPTHWISE_CONV_2D: bias size differs from output channels");

    const int is_float = tml_is_f32(in);
    tml_dwconv_data_t *d = tml_kalloc_requant(ctx, sizeof(tml_dwconv_data_t), is_float ? 0 : cout);
    TML_KCHECK(d, TML_ERR_ARENA_SMALL, "DEPTHWISE_CONV_2D: arena full");
    int8_t *shift = (int8_t *)(d->mult + cout);
    const tml_options_t *o = &ctx->options;
    int padding = tml_opt_i8(o, 0, TML_PAD_SAME);
    d->stride_w = tml_opt_i32(o, 1, 1);
    d->stride_h = tml_opt_i32(o, 2, 1);
    int act = tml_opt_i8(o, 4, TML_ACT_NONE);
    d->dil_w = tml_opt_i32(o, 5, 1);
    d->dil_h = tml_opt_i32(o, 6, 1);
    // The multiplier follows from the shapes; the option may be stale.
    d->depth_mult = cout / cin;
    TML_KCHECK(d->stride_w > 0 && d->stride_h > 0 && d->dil_w > 0 && d->dil_h > 0, TML_ERR_MODEL,
        "DEPTHWISE_CONV_2D: strides and dilations must be positive");
    TML_KCHECK(padding == TML_PAD_SAME || padding == TML_PAD_VALID, TML_ERR_MODEL, "DEPTHWISE_CONV_2D: unknown padding");
    const int32_t ih = in->dims[1], iw = in->dims[2];
    int32_t oh = tml_conv_out_size(padding, ih, fh, d->stride_h, d->dil_h);
    int32_t ow = tml_conv_out_size(padding, iw, fw, d->stride_w, d->dil_w);
    TML_KCHECK(oh == out->dims[1] && ow == out->dims[2], TML_ERR_SHAPE,
        "DEPTHWISE_CONV_2D: output size does not match padding and strides");
    d->pad_h = tml_conv_pad(d->stride_h, d->dil_h, ih, fh, oh);
    d->pad_w = tml_conv_pad(d->stride_w, d->dil_w, iw, fw, ow);

    if (tml_is_f32(in)) {
        TML_KCHECK(filter->type == TML_TYPE_FLOAT32 && out->type == TML_TYPE_FLOAT32
            && (!bias || bias->type == TML_TYPE_FLOAT32), TML_ERR_UNSUPPORTED_TYPE,
            "DEPTHWISE_CONV_2D: float input needs float filter, bias and output");
        TML_KCHECK(tml_activation_range_f32(act, &d->fact_min, &d->fact_max) == TML_OK, TML_ERR_CONFIG,
            "DEPTHWISE_CONV_2D: unsupported fused activation");
        ctx->user_data = d;
        return TML_OK;
    }
    TML_KCHECK(in->type == TML_TYPE_INT8 && filter->type == TML_TYPE_INT8 && out->type == TML_TYPE_INT8,
        TML_ERR_UNSUPPORTED_TYPE, "DEPTHWISE_CONV_2D: only int8 and float32 are supported");
    TML_KCHECK(!bias || bias->type == TML_TYPE_INT32, TML_ERR_UNSUPPORTED_TYPE, "DEPTHWISE_CONV_2D: int8 needs an int32 bias");
    TML_KCHECK(tml_q8_ok(in) && tml_q8_ok(out) && filter->n_quant >= 1, TML_ERR_QUANT,
        "DEPTHWISE_CONV_2D: missing or invalid quantization");
    TML_KCHECK(filter->n_quant == 1 || ((int32_t)filter->n_quant == cout && filter->quant_dim == 3), TML_ERR_QUANT,
        "DEPTHWISE_CONV_2D: per-channel filter quantization must be along the output channels");
    TML_KCHECK(tml_activation_range_s8(act, out->scale, out->zero_point, &d->act_min, &d->act_max) == TML_OK,
        TML_ERR_CONFIG, "DEPTHWISE_CONV_2D: unsupported fused activation");
    d->input_offset = -in->zero_point;
    d->output_offset = out->zero_point;
    d->scratch = ctx->request_scratch(ctx, dwconv_tp_bytes(cin, fh * fw) + TML_KSCRATCH_CHANNEL_BYTES * (size_t)cout + (size_t)cin
        + (cin == 1 ? (size_t)fh * fw : 0));
    TML_KCHECK(d->scratch >= 0, TML_ERR_ARENA_SMALL, "DEPTHWISE_CONV_2D: arena full");
    tml_channel_multipliers(in, filter, out, cout, d->mult, shift);
    TML_FAST_PREPARE(dwconv2d, "DEPTHWISE_CONV_2D");
    ctx->user_data = d;
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
