// FULLY_CONNECTED: int8 with per-tensor or per-channel weights and int32
// bias, and float32. Weights [units, depth]; every row of the input (the
// product of its leading dimensions, keep_num_dims or not) is one batch.
#include "tml_kernels.h"
#include "tml_mac.h"
#include "tml_quant.h"
#include "tml_fast.h"
#include "tml_window.h"
#include "tml_kprep.h"

tml_status_t tml_fully_connected_prepare(tml_op_ctx_t *ctx) {
    tml_kprep_t p;
    const tml_status_t st = tml_kprep_weights(ctx, TML_KPREP_FC, sizeof(tml_fc_data_t), &p);
    if (st != TML_OK || tml_is_f32(p.in)) {
        return st;
    }
    tml_fc_data_t *d = p.d;
    TML_FAST_PREPARE(fc, "FULLY_CONNECTED");
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
