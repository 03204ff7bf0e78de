// SOFTMAX over the last dimension. int8 input with int8 output (scale 1/256,
// zero point -128) or int16 output (scale 1/65536, zero point -32768), in
// the fixed-point form of the reference: differences to the row maximum are
// rescaled by beta into Q5.26, exponentiated, summed in Q12.19, and scaled
// by the reciprocal of the sum. float32 uses expf.
#include "tml_kernels.h"
#include "tml_quant.h"

#define SOFTMAX_DIFF_INT_BITS 5
#define SOFTMAX_ACC_INT_BITS 12

typedef struct {
    int32_t multiplier;
    int32_t left_shift;
    int32_t diff_min;
    float beta;
} tml_softmax_data_t;

static inline int32_t softmax_f32_bits(float f) {
    int32_t bits;
    memcpy(&bits, &f, 4);
    return bits;
}

tml_status_t tml_softmax_prepare(tml_op_ctx_t *ctx) {
    TML_KCHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1 && ctx->inputs[0], TML_ERR_MODEL,
        "SOFTMAX: expects 1 input and 1 output");
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *out = ctx->outputs[0];
    TML_KCHECK(in->ndim >= 1 && tml_tensor_count(in) == tml_tensor_count(out)
        && in->dims[in->ndim - 1] == out->dims[out->ndim - 1], TML_ERR_SHAPE, "SOFTMAX: input and output shapes differ");
    tml_softmax_data_t *d = tml_kalloc(ctx, sizeof(*d));
    TML_KCHECK(d, TML_ERR_ARENA_SMALL, "SOFTMAX: arena full");
    d->beta = tml_opt_float(&ctx->options, 0, 1.0f);
    ctx->user_data = d;
    if (tml_is_f32(in)) {
        TML_KCHECK(out->type == TML_TYPE_FLOAT32, TML_ERR_UNSUPPORTED_TYPE, "SOFTMAX: float input needs a float output");
        return TML_OK;
    }
    TML_KCHECK(in->type == TML_TYPE_INT8, TML_ERR_UNSUPPORTED_TYPE, "SOFTMAX: only int8 and float32 inputs are supported");
    TML_KCHECK(tml_q8_ok(in) && out->n_quant >= 1 && tml_scale_ok(d->beta), TML_ERR_QUANT, "SOFTMAX: missing or invalid quantization");
    if (out->type == TML_TYPE_INT8) {
        TML_KCHECK(out->zero_point == -128 && tml_f32_eq(out->scale, 1.0f / 256.0f), TML_ERR_QUANT,
            "SOFTMAX: int8 output needs scale 1/256 and zero point -128");
    } else if (out->type == TML_TYPE_INT16) {
        // Within 0.1% of 1/65536, compared on the bit patterns: positive
        // floats order like them as int32, and negative scales and NaN fall
        // outside the (positive) bounds, as in the float comparison.
        const float s = 1.0f / 65536.0f;
        const int32_t v = softmax_f32_bits(out->scale);
        TML_KCHECK(out->zero_point == -32768 && softmax_f32_bits(s - 0.001f * s) < v
            && v < softmax_f32_bits(s + 0.001f * s), TML_ERR_QUANT,
            "SOFTMAX: int16 output needs scale 1/65536 and zero point -32768");
    } else {
        return tml_kfail(ctx, TML_ERR_UNSUPPORTED_TYPE, "SOFTMAX: int8 input needs an int8 or int16 output");
    }
    int shift;
    TML_KCHECK(tml_softmax_input_multiplier(d->beta, in->scale, SOFTMAX_DIFF_INT_BITS, &d->multiplier, &shift),
        TML_ERR_QUANT, "SOFTMAX: input scale times beta is too small");
    TML_KCHECK(shift >= 0 && shift <= 31, TML_ERR_QUANT, "SOFTMAX: input scale out of range");
    d->left_shift = shift;
    // tml_input_radius(SOFTMAX_DIFF_INT_BITS, shift, 31), which for these
    // shifts is the plain shift of (2^5 - 1) * 2^26 (below 2^31).
    d->diff_min = -(int32_t)((((uint32_t)1 << SOFTMAX_DIFF_INT_BITS) - 1u) << (31 - SOFTMAX_DIFF_INT_BITS) >> shift);
    return TML_OK;
}

// exp of a difference to the row maximum (diff_min <= diff <= 0) times
// beta and the input scale, in Q0.31; both passes over a row need it.
static int32_t softmax_exp(const tml_softmax_data_t *d, int32_t diff) {
    const int32_t scaled = tml_mul_by_quantized_mult_gt_one(diff, d->multiplier, d->left_shift);
    return tml_q_exp_on_negative_values(scaled, SOFTMAX_DIFF_INT_BITS);
}

tml_status_t tml_softmax_eval(tml_op_ctx_t *ctx) {
    const tml_softmax_data_t *d = ctx->user_data;
    const tml_tensor_t *in = ctx->inputs[0];
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t depth = in->dims[in->ndim - 1];
    const int32_t rows = depth > 0 ? tml_tensor_count(in) / depth : 0;
    if (tml_is_f32(in)) {
        const float *x = (const float *)in->data;
        float *y = (float *)out->data;
        for (int32_t r = 0; r < rows; r++) {
            const float *xr = x + (size_t)r * depth;
            float *yr = y + (size_t)r * depth;
            float mx = -FLT_MAX;
            for (int32_t c = 0; c < depth; c++) {
                mx = mx < xr[c] ? xr[c] : mx;
            }
            float sum = 0.0f;
            for (int32_t c = 0; c < depth; c++) {
                float e = expf((xr[c] - mx) * d->beta);
                yr[c] = e;
                sum += e;
            }
            for (int32_t c = 0; c < depth; c++) {
                yr[c] = yr[c] / sum;
            }
        }
        return TML_OK;
    }
    const int8_t *x = (const int8_t *)in->data;
    const int out16 = out->type == TML_TYPE_INT16;
    const int32_t out_min = out16 ? -32768 : -128;
    const int32_t out_max = out16 ? 32767 : 127;
    const int out_bits = out16 ? 16 : 8;
    for (int32_t r = 0; r < rows; r++) {
        const int8_t *xr = x + (size_t)r * depth;
        int32_t mx = -128;
        for (int32_t c = 0; c < depth; c++) {
            mx = xr[c] > mx ? xr[c] : mx;
        }
        int32_t sum = 0;
        for (int32_t c = 0; c < depth; c++) {
            const int32_t diff = (int32_t)xr[c] - mx;
            if (diff >= d->diff_min) {
                sum = tml_wrap_add(sum, tml_sat_round_mul_pot(softmax_exp(d, diff), -SOFTMAX_ACC_INT_BITS));
            }
        }
        int bits_over_unit;
        const int32_t recip = tml_q_reciprocal(sum, SOFTMAX_ACC_INT_BITS, &bits_over_unit);
        const int exponent = bits_over_unit + 31 - out_bits;
        if (exponent < 0 || exponent > 31) {
            return tml_kfail(ctx, TML_ERR_ARG, "SOFTMAX: sum of exponentials out of range");
        }
        for (int32_t c = 0; c < depth; c++) {
            const int32_t diff = (int32_t)xr[c] - mx;
            int32_t v = out_min;
            if (diff >= d->diff_min) {
                const int32_t e = softmax_exp(d, diff);
                const int32_t unsat = tml_rounding_divide_by_pot(tml_sat_round_doubling_high_mul(recip, e), exponent);
                v = tml_clamp_i32(unsat + out_min, out_min, out_max);
            }
            if (out16) {
                ((int16_t *)out->data)[(size_t)r * depth + c] = (int16_t)v;
            } else {
                ((int8_t *)out->data)[(size_t)r * depth + c] = (int8_t)v;
            }
        }
    }
    return TML_OK;
}
