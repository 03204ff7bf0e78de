// QUANTIZE (float32 -> int8, int8 -> int8 requantization) and DEQUANTIZE
// (int8 -> float32).
#include "tml_kernels.h"
#include "tml_quant.h"

typedef struct {
    int32_t mult, shift;
    int32_t in_zp, out_zp;
    float out_scale;
    double in_scale;
} tml_quantize_data_t;

tml_status_t tml_quantize_prepare(tml_op_ctx_t *ctx) {
    TML_KCHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1 && ctx->inputs[0], TML_ERR_MODEL, "QUANTIZE: expects 1 input and 1 output");
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *out = ctx->outputs[0];
    TML_KCHECK(tml_tensor_count(in) == tml_tensor_count(out), TML_ERR_SHAPE, "QUANTIZE: input and output sizes differ");
    TML_KCHECK(out->type == TML_TYPE_INT8 && (in->type == TML_TYPE_FLOAT32 || in->type == TML_TYPE_INT8),
        TML_ERR_UNSUPPORTED_TYPE, "QUANTIZE: supports float32 or int8 to int8");
    TML_KCHECK(out->n_quant == 1 && tml_q8_ok(out) && (in->type == TML_TYPE_FLOAT32 || (in->n_quant == 1 && tml_q8_ok(in))),
        TML_ERR_QUANT, "QUANTIZE: needs valid per-tensor quantization");
    tml_quantize_data_t *d = tml_kalloc(ctx, sizeof(*d));
    TML_KCHECK(d, TML_ERR_ARENA_SMALL, "QUANTIZE: arena full");
    d->out_zp = out->zero_point;
    d->out_scale = out->scale;
    if (in->type == TML_TYPE_INT8) {
        d->in_zp = in->zero_point;
        int sh;
        tml_quantize_multiplier((double)in->scale / (double)out->scale, &d->mult, &sh);
        d->shift = sh;
    }
    ctx->user_data = d;
    return TML_OK;
}

tml_status_t tml_quantize_eval(tml_op_ctx_t *ctx) {
    const tml_quantize_data_t *d = ctx->user_data;
    const tml_tensor_t *in = ctx->inputs[0];
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t n = tml_tensor_count(in);
    int8_t *y = (int8_t *)out->data;
    if (in->type == TML_TYPE_FLOAT32) {
        const float *x = (const float *)in->data;
        for (int32_t i = 0; i < n; i++) {
            // Float division and round-half-away, like the reference.
            const float q = roundf(x[i] / d->out_scale);
            const int64_t v = (int64_t)tml_f2i_sat(q) + d->out_zp;
            y[i] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
        }
        return TML_OK;
    }
    const int8_t *x = (const int8_t *)in->data;
    for (int32_t i = 0; i < n; i++) {
        const int32_t v = tml_wrap_add(tml_mul_by_quantized_mult((int32_t)x[i] - d->in_zp, d->mult, d->shift), d->out_zp);
        y[i] = (int8_t)tml_clamp_i32(v, -128, 127);
    }
    return TML_OK;
}

tml_status_t tml_dequantize_prepare(tml_op_ctx_t *ctx) {
    TML_KCHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1 && ctx->inputs[0], TML_ERR_MODEL,
        "DEQUANTIZE: expects 1 input and 1 output");
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *out = ctx->outputs[0];
    TML_KCHECK(tml_tensor_count(in) == tml_tensor_count(out), TML_ERR_SHAPE, "DEQUANTIZE: input and output sizes differ");
    TML_KCHECK(in->type == TML_TYPE_INT8 && out->type == TML_TYPE_FLOAT32, TML_ERR_UNSUPPORTED_TYPE,
        "DEQUANTIZE: supports int8 to float32");
    TML_KCHECK(in->n_quant == 1 && in->zero_point >= -128 && in->zero_point <= 127, TML_ERR_QUANT,
        "DEQUANTIZE: needs per-tensor quantization");
    tml_quantize_data_t *d = tml_kalloc(ctx, sizeof(*d));
    TML_KCHECK(d, TML_ERR_ARENA_SMALL, "DEQUANTIZE: arena full");
    d->in_zp = in->zero_point;
    d->in_scale = (double)in->scale;
    ctx->user_data = d;
    return TML_OK;
}

tml_status_t tml_dequantize_eval(tml_op_ctx_t *ctx) {
    const tml_quantize_data_t *d = ctx->user_data;
    const tml_tensor_t *in = ctx->inputs[0];
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t n = tml_tensor_count(in);
    const int8_t *x = (const int8_t *)in->data;
    float *y = (float *)out->data;
    for (int32_t i = 0; i < n; i++) {
        // The reference scales in double and rounds once to float.
        y[i] = (float)(d->in_scale * (double)((int32_t)x[i] - d->in_zp));
    }
    return TML_OK;
}
