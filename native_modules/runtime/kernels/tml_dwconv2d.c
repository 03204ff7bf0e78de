// DEPTHWISE_CONV_2D, int8 (per-channel or per-tensor filter, int32 bias) and
// float32. Filter layout [1, H, W, C_in * depth_multiplier]; output channel
// ic * depth_multiplier + m reads input channel ic.
#include "tml_kernels.h"
#include "tml_mac.h"
#include "tml_quant.h"
#include "tml_fast.h"

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

    const int is_float = in->type == TML_TYPE_FLOAT32;
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

    if (in->type == TML_TYPE_FLOAT32) {
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
    d->scratch = ctx->request_scratch(ctx, 8 * (size_t)cout);
    TML_KCHECK(d->scratch >= 0, TML_ERR_ARENA_SMALL, "DEPTHWISE_CONV_2D: arena full");
    tml_channel_multipliers(in, filter, out, cout, d->mult, shift);
    TML_FAST_PREPARE(dwconv2d, "DEPTHWISE_CONV_2D");
    ctx->user_data = d;
    return TML_OK;
}

static void dwconv_eval_f32(const tml_dwconv_data_t *d, const tml_tensor_t *in, const tml_tensor_t *filter,
    const tml_tensor_t *bias, tml_tensor_t *out) {
    const int32_t nb = in->dims[0], ih = in->dims[1], iw = in->dims[2], cin = in->dims[3];
    const int32_t fh = filter->dims[1], fw = filter->dims[2], cout = filter->dims[3];
    const int32_t oh = out->dims[1], ow = out->dims[2], dm = d->depth_mult;
    const float *x = (const float *)in->data;
    const float *w = (const float *)filter->data;
    float *y = (float *)out->data;
    for (int32_t b = 0; b < nb; b++) {
        for (int32_t oy = 0; oy < oh; oy++) {
            for (int32_t ox = 0; ox < ow; ox++) {
                const int32_t y0 = oy * d->stride_h - d->pad_h, x0 = ox * d->stride_w - d->pad_w;
                for (int32_t oc = 0; oc < cout; oc++) {
                    const int32_t ic = oc / dm;
                    float total = 0.0f;
                    for (int32_t ky = 0; ky < fh; ky++) {
                        const int32_t iy = y0 + ky * d->dil_h;
                        for (int32_t kx = 0; kx < fw; kx++) {
                            const int32_t ix = x0 + kx * d->dil_w;
                            if (iy < 0 || iy >= ih || ix < 0 || ix >= iw) {
                                continue;
                            }
                            total += x[(((size_t)b * ih + iy) * iw + ix) * cin + ic] * w[((size_t)ky * fw + kx) * cout + oc];
                        }
                    }
                    const float bv = bias ? tml_load_f32(bias->data, oc) : 0.0f;
                    y[(((size_t)b * oh + oy) * ow + ox) * cout + oc] = tml_clamp_f32(total + bv, d->fact_min, d->fact_max);
                }
            }
        }
    }
}

tml_status_t tml_dwconv2d_eval(tml_op_ctx_t *ctx) {
    const tml_dwconv_data_t *d = ctx->user_data;
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    tml_tensor_t *out = ctx->outputs[0];
    if (in->type == TML_TYPE_FLOAT32) {
        dwconv_eval_f32(d, in, filter, tml_kin(ctx, 2), out);
        return TML_OK;
    }
    TML_FAST_EVAL(dwconv2d);
    const int32_t nb = in->dims[0], ih = in->dims[1], iw = in->dims[2], cin = in->dims[3];
    const int32_t fh = filter->dims[1], fw = filter->dims[2], cout = filter->dims[3];
    const int32_t oh = out->dims[1], ow = out->dims[2], dm = d->depth_mult;
    const int8_t *x = (const int8_t *)in->data;
    const int8_t *w = (const int8_t *)filter->data;
    int8_t *y = (int8_t *)out->data;
    int32_t *acc = ctx->get_scratch(ctx, d->scratch);
    int32_t *bias_full = acc + cout;
    const int32_t in_off = d->input_offset;
    const tml_tensor_t *bias_t = tml_kin(ctx, 2);
    const int32_t *bias = bias_t ? (const int32_t *)bias_t->data : NULL;
    const int8_t *shift = (const int8_t *)(d->mult + cout);
    // Interior pixels fold the input offset into the bias (see CONV_2D).
    for (int32_t c = 0; c < cout; c++) {
        bias_full[c] = 0;
    }
    for (int32_t t = 0; t < fh * fw; t++) {
        for (int32_t c = 0; c < cout; c++) {
            bias_full[c] = tml_wrap_add(bias_full[c], w[(size_t)t * cout + c]);
        }
    }
    for (int32_t c = 0; c < cout; c++) {
        bias_full[c] = tml_wrap_add(bias ? bias[c] : 0, (int32_t)((uint32_t)bias_full[c] * (uint32_t)in_off));
    }
    for (int32_t b = 0; b < nb; b++) {
        for (int32_t oy = 0; oy < oh; oy++) {
            const int32_t y0 = oy * d->stride_h - d->pad_h;
            for (int32_t ox = 0; ox < ow; ox++) {
                const int32_t x0 = ox * d->stride_w - d->pad_w;
                const int interior = y0 >= 0 && y0 + (fh - 1) * d->dil_h < ih && x0 >= 0 && x0 + (fw - 1) * d->dil_w < iw;
                if (interior) {
                    memcpy(acc, bias_full, 4 * (size_t)cout);
                } else if (bias) {
                    memcpy(acc, bias, 4 * (size_t)cout);
                } else {
                    memset(acc, 0, 4 * (size_t)cout);
                }
                for (int32_t ky = 0; ky < fh; ky++) {
                    const int32_t iy = y0 + ky * d->dil_h;
                    if (iy < 0 || iy >= ih) {
                        continue;
                    }
                    for (int32_t kx = 0; kx < fw; kx++) {
                        const int32_t ix = x0 + kx * d->dil_w;
                        if (ix < 0 || ix >= iw) {
                            continue;
                        }
                        const int8_t *xp = x + (((size_t)b * ih + iy) * iw + ix) * cin;
                        const int8_t *wp = w + ((size_t)ky * fw + kx) * cout;
                        if (dm == 1) {
                            if (interior) {
                                tml_mac_channelwise(acc, xp, wp, cout);
                            } else {
                                tml_mac_channelwise_off(acc, xp, wp, cout, in_off);
                            }
                        } else {
                            const int32_t off = interior ? 0 : in_off;
                            for (int32_t ic = 0; ic < cin; ic++) {
                                tml_mac_scale_add(acc + ic * dm, (int32_t)xp[ic] + off, wp + ic * dm, dm);
                            }
                        }
                    }
                }
                int8_t *yp = y + (((size_t)b * oh + oy) * ow + ox) * cout;
                for (int32_t oc = 0; oc < cout; oc++) {
                    int32_t v = tml_wrap_add(tml_mul_by_quantized_mult(acc[oc], d->mult[oc], shift[oc]), d->output_offset);
                    yp[oc] = (int8_t)tml_clamp_i32(v, d->act_min, d->act_max);
                }
            }
        }
    }
    return TML_OK;
}
