// CONV_2D, int8 activations with int8 filters quantized per channel (a
// per-tensor filter scale is applied to every channel) and int32 bias; and
// float32. Layouts: input NHWC, filter OHWI (I may be a group's share of the
// input channels), output NHWC.
#include "tml_kernels.h"
#include "tml_mac.h"
#include "tml_quant.h"
#include "tml_fast.h"

tml_status_t tml_conv2d_prepare(tml_op_ctx_t *ctx) {
    TML_KCHECK(ctx->n_inputs >= 2 && ctx->n_outputs == 1, TML_ERR_MODEL, "CONV_2D: expects 2 or 3 inputs and 1 output");
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    const tml_tensor_t *bias = tml_kin(ctx, 2);
    const tml_tensor_t *out = ctx->outputs[0];
    TML_KCHECK(in && filter, TML_ERR_MODEL, "CONV_2D: missing input or filter");
    TML_KCHECK(in->ndim == 4 && filter->ndim == 4 && out->ndim == 4, TML_ERR_SHAPE, "CONV_2D: tensors must be 4-D");
    const int32_t cin = in->dims[3], cout = filter->dims[0], fh = filter->dims[1], fw = filter->dims[2];
    const int32_t cin_g = filter->dims[3];
    TML_KCHECK(cin_g > 0 && cin % cin_g == 0, TML_ERR_SHAPE, "CONV_2D: input channels are not a multiple of the filter's");
    const int32_t groups = cin / cin_g;
    TML_KCHECK(cout > 0 && cout % groups == 0, TML_ERR_SHAPE, "CONV_2D: output channels are not a multiple of the groups");
    TML_KCHECK(out->dims[0] == in->dims[0] && out->dims[3] == cout, TML_ERR_SHAPE, "CONV_2D: output shape mismatch");
    TML_KCHECK(!bias || tml_tensor_count(bias) == cout, TML_ERR_SHAPE, "CONV_2D: bias size differs from output channels");

    const int is_float = in->type == TML_TYPE_FLOAT32;
    tml_conv_data_t *d = tml_kalloc_requant(ctx, sizeof(tml_conv_data_t), is_float ? 0 : cout);
    TML_KCHECK(d, TML_ERR_ARENA_SMALL, "CONV_2D: arena full");
    int8_t *shift = (int8_t *)(d->mult + cout);
    const tml_options_t *o = &ctx->options;
    int padding = tml_opt_i8(o, 0, TML_PAD_SAME);
    d->stride_w = tml_opt_i32(o, 1, 1);
    d->stride_h = tml_opt_i32(o, 2, 1);
    int act = tml_opt_i8(o, 3, TML_ACT_NONE);
    d->dil_w = tml_opt_i32(o, 4, 1);
    d->dil_h = tml_opt_i32(o, 5, 1);
    TML_KCHECK(d->stride_w > 0 && d->stride_h > 0 && d->dil_w > 0 && d->dil_h > 0, TML_ERR_MODEL,
        "CONV_2D: strides and dilations must be positive");
    TML_KCHECK(padding == TML_PAD_SAME || padding == TML_PAD_VALID, TML_ERR_MODEL, "CONV_2D: unknown padding");
    const int32_t ih = in->dims[1], iw = in->dims[2];
    int32_t oh = tml_conv_out_size(padding, ih, fh, d->stride_h, d->dil_h);
    int32_t ow = tml_conv_out_size(padding, iw, fw, d->stride_w, d->dil_w);
    TML_KCHECK(oh == out->dims[1] && ow == out->dims[2], TML_ERR_SHAPE, "CONV_2D: output size does not match padding and strides");
    d->pad_h = tml_conv_pad(d->stride_h, d->dil_h, ih, fh, oh);
    d->pad_w = tml_conv_pad(d->stride_w, d->dil_w, iw, fw, ow);

    if (in->type == TML_TYPE_FLOAT32) {
        TML_KCHECK(filter->type == TML_TYPE_FLOAT32 && out->type == TML_TYPE_FLOAT32
            && (!bias || bias->type == TML_TYPE_FLOAT32), TML_ERR_UNSUPPORTED_TYPE, "CONV_2D: float input needs float filter, bias and output");
        TML_KCHECK(tml_activation_range_f32(act, &d->fact_min, &d->fact_max) == TML_OK, TML_ERR_CONFIG,
            "CONV_2D: unsupported fused activation");
        ctx->user_data = d;
        return TML_OK;
    }
    TML_KCHECK(in->type == TML_TYPE_INT8 && filter->type == TML_TYPE_INT8 && out->type == TML_TYPE_INT8,
        TML_ERR_UNSUPPORTED_TYPE, "CONV_2D: only int8 and float32 are supported");
    TML_KCHECK(!bias || bias->type == TML_TYPE_INT32, TML_ERR_UNSUPPORTED_TYPE, "CONV_2D: int8 needs an int32 bias");
    TML_KCHECK(tml_q8_ok(in) && tml_q8_ok(out) && filter->n_quant >= 1, TML_ERR_QUANT, "CONV_2D: missing or invalid quantization");
    TML_KCHECK(filter->n_quant == 1 || ((int32_t)filter->n_quant == cout && filter->quant_dim == 0), TML_ERR_QUANT,
        "CONV_2D: per-channel filter quantization must be along the output channels");
    TML_KCHECK(tml_activation_range_s8(act, out->scale, out->zero_point, &d->act_min, &d->act_max) == TML_OK,
        TML_ERR_CONFIG, "CONV_2D: unsupported fused activation");
    d->input_offset = -in->zero_point;
    d->output_offset = out->zero_point;
    d->scratch = ctx->request_scratch(ctx, 4 * (size_t)cout);
    TML_KCHECK(d->scratch >= 0, TML_ERR_ARENA_SMALL, "CONV_2D: arena full");
    tml_channel_multipliers(in, filter, out, cout, d->mult, shift);
    TML_FAST_PREPARE(conv2d, "CONV_2D");
    ctx->user_data = d;
    return TML_OK;
}

static void conv_eval_f32(const tml_conv_data_t *d, const tml_tensor_t *in, const tml_tensor_t *filter,
    const tml_tensor_t *bias, tml_tensor_t *out) {
    const int32_t nb = in->dims[0], ih = in->dims[1], iw = in->dims[2], cin = in->dims[3];
    const int32_t cout = filter->dims[0], fh = filter->dims[1], fw = filter->dims[2], cin_g = filter->dims[3];
    const int32_t oh = out->dims[1], ow = out->dims[2];
    const int32_t out_per_group = cout / (cin / cin_g);
    const float *x = (const float *)in->data;
    const float *w = (const float *)filter->data;
    float *y = (float *)out->data;
    for (int32_t b = 0; b < nb; b++) {
        for (int32_t oy = 0; oy < oh; oy++) {
            for (int32_t ox = 0; ox < ow; ox++) {
                const int32_t y0 = oy * d->stride_h - d->pad_h, x0 = ox * d->stride_w - d->pad_w;
                for (int32_t oc = 0; oc < cout; oc++) {
                    const int32_t cbase = (oc / out_per_group) * cin_g;
                    float total = 0.0f;
                    for (int32_t ky = 0; ky < fh; ky++) {
                        const int32_t iy = y0 + ky * d->dil_h;
                        for (int32_t kx = 0; kx < fw; kx++) {
                            const int32_t ix = x0 + kx * d->dil_w;
                            if (iy < 0 || iy >= ih || ix < 0 || ix >= iw) {
                                continue;
                            }
                            const float *xp = x + (((size_t)b * ih + iy) * iw + ix) * cin + cbase;
                            const float *wp = w + (((size_t)oc * fh + ky) * fw + kx) * cin_g;
                            for (int32_t c = 0; c < cin_g; c++) {
                                total += xp[c] * wp[c];
                            }
                        }
                    }
                    const float bv = bias ? tml_load_f32(bias->data, oc) : 0.0f;
                    y[(((size_t)b * oh + oy) * ow + ox) * cout + oc] = tml_clamp_f32(total + bv, d->fact_min, d->fact_max);
                }
            }
        }
    }
}

tml_status_t tml_conv2d_eval(tml_op_ctx_t *ctx) {
    const tml_conv_data_t *d = ctx->user_data;
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    tml_tensor_t *out = ctx->outputs[0];
    if (in->type == TML_TYPE_FLOAT32) {
        conv_eval_f32(d, in, filter, tml_kin(ctx, 2), out);
        return TML_OK;
    }
    TML_FAST_EVAL(conv2d);
    const int32_t nb = in->dims[0], ih = in->dims[1], iw = in->dims[2], cin = in->dims[3];
    const int32_t cout = filter->dims[0], fh = filter->dims[1], fw = filter->dims[2], cin_g = filter->dims[3];
    const int32_t oh = out->dims[1], ow = out->dims[2];
    const int32_t out_per_group = cout / (cin / cin_g);
    const int8_t *x = (const int8_t *)in->data;
    const int8_t *w = (const int8_t *)filter->data;
    int8_t *y = (int8_t *)out->data;
    const int32_t in_off = d->input_offset;
    const int32_t row_taps = fw * cin_g;
    const int32_t per_oc = fh * row_taps;
    // A filter row covers contiguous input when taps are adjacent and the
    // group spans all input channels.
    const int contiguous_rows = d->dil_w == 1 && cin_g == cin;
    const int32_t span_h = (fh - 1) * d->dil_h, span_w = (fw - 1) * d->dil_w;
    const tml_tensor_t *bias_t = tml_kin(ctx, 2);
    const int32_t *bias = bias_t ? (const int32_t *)bias_t->data : NULL;
    const int8_t *shift = (const int8_t *)(d->mult + cout);
    // Interior pixels fold the input offset into the bias: sum over the
    // window of (x + off) * w == sum(x * w) + off * sum(w).
    int32_t *bias_full = ctx->get_scratch(ctx, d->scratch);
    for (int32_t oc = 0; oc < cout; oc++) {
        uint32_t sum = 0;
        const int8_t *wp = w + (size_t)oc * per_oc;
        for (int32_t i = 0; i < per_oc; i++) {
            sum += (uint32_t)(int32_t)wp[i];
        }
        bias_full[oc] = tml_wrap_add(bias ? bias[oc] : 0, (int32_t)(sum * (uint32_t)in_off));
    }
    for (int32_t b = 0; b < nb; b++) {
        for (int32_t oy = 0; oy < oh; oy++) {
            const int32_t y0 = oy * d->stride_h - d->pad_h;
            for (int32_t ox = 0; ox < ow; ox++) {
                const int32_t x0 = ox * d->stride_w - d->pad_w;
                const int interior = y0 >= 0 && y0 + span_h < ih && x0 >= 0 && x0 + span_w < iw;
                const int8_t *xpix = interior ? x + (((size_t)b * ih + y0) * iw + x0) * cin : x;
                int8_t *yp = y + (((size_t)b * oh + oy) * ow + ox) * cout;
                int32_t oc = 0;
                if (interior && contiguous_rows) {
                    // Four output channels per pass over the input window.
                    for (; oc + 4 <= cout; oc += 4) {
                        int32_t acc4[4];
                        for (int k = 0; k < 4; k++) {
                            acc4[k] = bias_full[oc + k];
                        }
                        const int8_t *wp = w + (size_t)oc * per_oc;
                        for (int32_t ky = 0; ky < fh; ky++) {
                            tml_mac_dot4(acc4, xpix + (size_t)ky * d->dil_h * iw * cin, wp + ky * row_taps, per_oc, row_taps);
                        }
                        for (int k = 0; k < 4; k++) {
                            int32_t v = tml_wrap_add(tml_mul_by_quantized_mult(acc4[k], d->mult[oc + k], shift[oc + k]), d->output_offset);
                            yp[oc + k] = (int8_t)tml_clamp_i32(v, d->act_min, d->act_max);
                        }
                    }
                }
                for (; oc < cout; oc++) {
                    const int32_t cbase = (oc / out_per_group) * cin_g;
                    const int8_t *wp = w + (size_t)oc * per_oc;
                    int32_t acc;
                    if (interior) {
                        acc = bias_full[oc];
                        if (contiguous_rows) {
                            for (int32_t ky = 0; ky < fh; ky++) {
                                acc = tml_wrap_add(acc, tml_mac_dot(xpix + (size_t)ky * d->dil_h * iw * cin, wp + ky * row_taps, row_taps));
                            }
                        } else {
                            for (int32_t ky = 0; ky < fh; ky++) {
                                for (int32_t kx = 0; kx < fw; kx++) {
                                    acc = tml_wrap_add(acc, tml_mac_dot(xpix + ((size_t)ky * d->dil_h * iw + (size_t)kx * d->dil_w) * cin + cbase,
                                        wp + ky * row_taps + kx * cin_g, cin_g));
                                }
                            }
                        }
                    } else {
                        acc = bias ? bias[oc] : 0;
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
                                acc = tml_wrap_add(acc, tml_mac_dot_off(x + (((size_t)b * ih + iy) * iw + ix) * cin + cbase,
                                    wp + ky * row_taps + kx * cin_g, cin_g, in_off));
                            }
                        }
                    }
                    acc = tml_wrap_add(tml_mul_by_quantized_mult(acc, d->mult[oc], shift[oc]), d->output_offset);
                    yp[oc] = (int8_t)tml_clamp_i32(acc, d->act_min, d->act_max);
                }
            }
        }
    }
    return TML_OK;
}
