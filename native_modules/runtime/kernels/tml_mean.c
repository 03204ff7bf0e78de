// MEAN over a set of axes (int8 and float32). int8 sums the raw values and
// requantizes the zero-point-corrected sum with one multiplier that also
// divides by the element count, all in integer arithmetic. TFLM takes this
// path for equal input and output quantization too (rounding, not
// truncating, the average).
#include "tml_kernels.h"
#include "tml_quant.h"

typedef struct {
    int32_t reduce[TML_MAX_DIMS];   // 1 for every reduced axis
    int32_t out_stride[TML_MAX_DIMS]; // output element stride of each input axis (0 when reduced)
    int32_t count;                  // elements averaged into each output
    int32_t n_out;
    int32_t mult, shift;
    int32_t in_zp, out_zp;
    int32_t scratch;
} tml_mean_data_t;

tml_status_t tml_mean_prepare(tml_op_ctx_t *ctx) {
    TML_KCHECK(ctx->n_inputs == 2 && ctx->n_outputs == 1 && ctx->inputs[0] && ctx->inputs[1], TML_ERR_MODEL,
        "MEAN: expects 2 inputs and 1 output");
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *axis = ctx->inputs[1];
    const tml_tensor_t *out = ctx->outputs[0];
    TML_KCHECK(axis->type == TML_TYPE_INT32 && axis->is_const, TML_ERR_UNSUPPORTED_TYPE, "MEAN: axis must be a constant int32 tensor");
    TML_KCHECK(in->type == out->type && (in->type == TML_TYPE_INT8 || in->type == TML_TYPE_FLOAT32),
        TML_ERR_UNSUPPORTED_TYPE, "MEAN: only int8 and float32 are supported");
    TML_KCHECK(in->ndim <= TML_MAX_DIMS, TML_ERR_SHAPE, "MEAN: too many dimensions");
    tml_mean_data_t *d = tml_kalloc(ctx, sizeof(*d));
    TML_KCHECK(d, TML_ERR_ARENA_SMALL, "MEAN: arena full");
    const int32_t n_axis = tml_tensor_count(axis);
    for (int32_t i = 0; i < n_axis; i++) {
        int32_t a = tml_load_i32(axis->data, i);
        if (a < 0) {
            a += in->ndim;
        }
        TML_KCHECK(a >= 0 && a < in->ndim, TML_ERR_MODEL, "MEAN: axis out of range");
        d->reduce[a] = 1;
    }
    int32_t stride = 1;
    d->count = 1;
    for (int i = in->ndim - 1; i >= 0; i--) {
        if (d->reduce[i]) {
            d->out_stride[i] = 0;
            d->count *= in->dims[i];
        } else {
            d->out_stride[i] = stride;
            stride *= in->dims[i];
        }
    }
    d->n_out = stride;
    TML_KCHECK(tml_tensor_count(out) == d->n_out, TML_ERR_SHAPE, "MEAN: output size does not match the reduced input");
    d->scratch = ctx->request_scratch(ctx, 4 * (size_t)(d->n_out > 0 ? d->n_out : 1));
    TML_KCHECK(d->scratch >= 0, TML_ERR_ARENA_SMALL, "MEAN: arena full");
    ctx->user_data = d;
    if (in->type == TML_TYPE_FLOAT32) {
        return TML_OK;
    }
    TML_KCHECK(tml_q8_ok(in) && tml_q8_ok(out), TML_ERR_QUANT, "MEAN: missing or invalid quantization");
    d->in_zp = in->zero_point;
    d->out_zp = out->zero_point;
    int sh;
    tml_quantize_multiplier((double)in->scale / (double)out->scale, &d->mult, &sh);
    if (d->count > 0) {
        // Fold 1/count into the multiplier, keeping the shift in range.
        int s;
        uint64_t c = (uint64_t)d->count;
        int msb = 0;
        while (c >>= 1) {
            msb++;
        }
        s = msb;
        if (s > 32) {
            s = 32;
        }
        if (s > 31 + sh) {
            s = 31 + sh;
        }
        d->mult = (int32_t)(((int64_t)d->mult << s) / d->count);
        sh -= s;
    }
    TML_KCHECK(sh >= -31 && sh <= 31, TML_ERR_QUANT, "MEAN: scales out of range");
    d->shift = sh;
    return TML_OK;
}

// Advances the input index idx (last axis fastest) by one element and
// returns the output position o of the new element.
static inline int32_t mean_step(const tml_mean_data_t *d, const tml_tensor_t *in, int32_t *idx, int32_t o) {
    for (int k = in->ndim - 1; k >= 0; k--) {
        o += d->out_stride[k];
        if (++idx[k] < in->dims[k]) {
            break;
        }
        o -= d->out_stride[k] * in->dims[k];
        idx[k] = 0;
    }
    return o;
}

tml_status_t tml_mean_eval(tml_op_ctx_t *ctx) {
    const tml_mean_data_t *d = ctx->user_data;
    const tml_tensor_t *in = ctx->inputs[0];
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t n_in = tml_tensor_count(in);
    int32_t idx[TML_MAX_DIMS] = {0};
    void *sums = ctx->get_scratch(ctx, d->scratch);
    memset(sums, 0, 4 * (size_t)d->n_out);     // 0 and 0.0f alike
    int32_t o = 0;
    if (tml_is_f32(in)) {
        float *sum = sums;
        const float *x = (const float *)in->data;
        for (int32_t i = 0; i < n_in; i++, o = mean_step(d, in, idx, o)) {
            sum[o] += x[i];
        }
        float *y = (float *)out->data;
        for (int32_t j = 0; j < d->n_out; j++) {
            y[j] = d->count > 0 ? sum[j] / (float)d->count : 0.0f;
        }
        return TML_OK;
    }
    int32_t *sum = sums;
    const int8_t *x = (const int8_t *)in->data;
    for (int32_t i = 0; i < n_in; i++, o = mean_step(d, in, idx, o)) {
        sum[o] = tml_wrap_add(sum[o], x[i]);
    }
    int8_t *y = (int8_t *)out->data;
    for (int32_t j = 0; j < d->n_out; j++) {
        // The zero point enters once per averaged element; the multiplier
        // includes the division by the count (prepare).
        const int32_t shifted = (int32_t)((int64_t)sum[j] - (int64_t)d->in_zp * d->count);
        const int32_t v = tml_wrap_add(tml_mul_by_quantized_mult(shifted, d->mult, d->shift), d->out_zp);
        y[j] = d->count > 0 ? (int8_t)tml_clamp_i32(v, -128, 127) : 0;
    }
    return TML_OK;
}
