// FULLY_CONNECTED: int8 with per-tensor or per-channel weights and int32
// bias, and float32. Weights [units, depth]; every row of the input (the
// product of its leading dimensions, keep_num_dims or not) is one batch.
#include "tml_kernels.h"
#include "tml_mac.h"
#include "tml_quant.h"
#include "tml_fast.h"
#include "tml_window.h"

tml_status_t tml_fully_connected_prepare(tml_op_ctx_t *ctx) {
    TML_KCHECK(ctx->n_inputs >= 2 && ctx->n_outputs == 1, TML_ERR_MODEL, "FULLY_CONNECTED: expects 2 or 3 inputs and 1 output");
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    const tml_tensor_t *bias = tml_kin(ctx, 2);
    const tml_tensor_t *out = ctx->outputs[0];
    TML_KCHECK(in && filter, TML_ERR_MODEL, "FULLY_CONNECTED: missing input or weights");
    TML_KCHECK(filter->ndim == 2 && out->ndim >= 1, TML_ERR_SHAPE, "FULLY_CONNECTED: weights must be 2-D");
    const int32_t units = filter->dims[0], depth = filter->dims[1];
    TML_KCHECK(units > 0 && depth > 0 && out->dims[out->ndim - 1] == units, TML_ERR_SHAPE,
        "FULLY_CONNECTED: output depth differs from weight rows");
    const int32_t batches = tml_tensor_count(out) / units;
    TML_KCHECK((int64_t)batches * depth == tml_tensor_count(in), TML_ERR_SHAPE,
        "FULLY_CONNECTED: input size is not batches x weight columns");
    TML_KCHECK(!bias || tml_tensor_count(bias) == units, TML_ERR_SHAPE, "FULLY_CONNECTED: bias size differs from units");
    TML_KCHECK(tml_opt_u8(&ctx->options, 1, 0) == 0, TML_ERR_CONFIG, "FULLY_CONNECTED: shuffled weights are not supported");

    const int is_float = tml_is_f32(in);
    const int32_t nq = !is_float && filter->n_quant > 1 ? units : 1;
    tml_fc_data_t *d = tml_kalloc_requant(ctx, sizeof(tml_fc_data_t), nq);
    TML_KCHECK(d, TML_ERR_ARENA_SMALL, "FULLY_CONNECTED: arena full");
    d->n_mult = nq;
    int8_t *shift = (int8_t *)(d->mult + nq);
    int act = tml_opt_i8(&ctx->options, 0, TML_ACT_NONE);
    if (tml_is_f32(in)) {
        TML_KCHECK(filter->type == TML_TYPE_FLOAT32 && out->type == TML_TYPE_FLOAT32
            && (!bias || bias->type == TML_TYPE_FLOAT32), TML_ERR_UNSUPPORTED_TYPE,
            "FULLY_CONNECTED: float input needs float weights, bias and output");
        TML_KCHECK(tml_activation_range_f32(act, &d->fact_min, &d->fact_max) == TML_OK, TML_ERR_CONFIG,
            "FULLY_CONNECTED: unsupported fused activation");
        ctx->user_data = d;
        return TML_OK;
    }
    TML_KCHECK(in->type == TML_TYPE_INT8 && filter->type == TML_TYPE_INT8 && out->type == TML_TYPE_INT8,
        TML_ERR_UNSUPPORTED_TYPE, "FULLY_CONNECTED: only int8 and float32 are supported");
    TML_KCHECK(!bias || bias->type == TML_TYPE_INT32, TML_ERR_UNSUPPORTED_TYPE, "FULLY_CONNECTED: int8 needs an int32 bias");
    TML_KCHECK(tml_q8_ok(in) && tml_q8_ok(out) && filter->n_quant >= 1, TML_ERR_QUANT,
        "FULLY_CONNECTED: missing or invalid quantization");
    TML_KCHECK(tml_activation_range_s8(act, out->scale, out->zero_point, &d->act_min, &d->act_max) == TML_OK,
        TML_ERR_CONFIG, "FULLY_CONNECTED: unsupported fused activation");
    d->per_channel = filter->n_quant > 1;
    if (d->per_channel) {
        TML_KCHECK((int32_t)filter->n_quant == units && filter->quant_dim == 0, TML_ERR_QUANT,
            "FULLY_CONNECTED: per-channel quantization must be along the units");
    }
    d->input_offset = -in->zero_point;
    d->filter_offset = -filter->zero_point;
    d->output_offset = out->zero_point;
    tml_channel_multipliers(in, filter, out, nq, d->mult, shift);
    TML_FAST_PREPARE(fc, "FULLY_CONNECTED");
    ctx->user_data = d;
    return TML_OK;
}

tml_status_t tml_fully_connected_eval(tml_op_ctx_t *ctx) {
    const tml_fc_data_t *d = ctx->user_data;
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    const tml_tensor_t *bias = tml_kin(ctx, 2);
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t units = filter->dims[0], depth = filter->dims[1];
    const int32_t batches = tml_tensor_count(out) / units;
    if (tml_is_f32(in)) {
        const float *x = (const float *)in->data;
        const float *w = (const float *)filter->data;
        float *y = (float *)out->data;
        for (int32_t b = 0; b < batches; b++) {
            for (int32_t u = 0; u < units; u++) {
                float total = 0.0f;
                for (int32_t i = 0; i < depth; i++) {
                    total += x[(size_t)b * depth + i] * w[(size_t)u * depth + i];
                }
                const float bv = bias ? tml_load_f32(bias->data, u) : 0.0f;
                y[(size_t)b * units + u] = tml_clamp_f32(total + bv, d->fact_min, d->fact_max);
            }
        }
        return TML_OK;
    }
    TML_FAST_EVAL(fc);
    const int8_t *x = (const int8_t *)in->data;
    const int8_t *w = (const int8_t *)filter->data;
    int8_t *y = (int8_t *)out->data;
    const int32_t *bv = bias ? (const int32_t *)bias->data : NULL;
    const int8_t *shift = (const int8_t *)(d->mult + d->n_mult);
    for (int32_t b = 0; b < batches; b++) {
        const int8_t *xb = x + (size_t)b * depth;
        for (int32_t u = 0; u < units; u++) {
            const int8_t *wu = w + (size_t)u * depth;
            int32_t acc = d->filter_offset == 0 ? tml_mac_dot_off(xb, wu, depth, d->input_offset)
                : tml_mac_dot_off2(xb, wu, depth, d->input_offset, d->filter_offset);
            if (bv) {
                acc = tml_wrap_add(acc, bv[u]);
            }
            const int32_t q = d->per_channel ? u : 0;
            tml_window_store(y + (size_t)b * units + u, &acc, 1, d->mult + q, shift + q, d->output_offset,
                d->act_min, d->act_max);
        }
    }
    return TML_OK;
}
