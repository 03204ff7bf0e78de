// Element-wise activations: RELU, RELU6, LOGISTIC, TANH on int8 and float32.
// int8 RELU requantizes to the output scale; int8 RELU6 clamps raw values to
// the input's quantized 0 and 6; int8 LOGISTIC and TANH evaluate the
// function in fixed point on a Q4.27 rescaling of the input.
#include "tml_kernels.h"
#include "tml_quant.h"

typedef struct {
    int32_t mult;
    int32_t shift;
    int32_t in_zp, out_zp;
    int32_t act_min, act_max;   // RELU bounds, or RELU6's quantized 0 and 6
    int32_t radius;             // LOGISTIC/TANH: saturation radius
} tml_act_data_t;

static tml_status_t act_common(tml_op_ctx_t *ctx, const char *bad_io, const char *bad_type, tml_act_data_t **out_d) {
    TML_KCHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1 && ctx->inputs[0], TML_ERR_MODEL, bad_io);
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *out = ctx->outputs[0];
    TML_KCHECK(in->type == out->type && (in->type == TML_TYPE_INT8 || in->type == TML_TYPE_FLOAT32),
        TML_ERR_UNSUPPORTED_TYPE, bad_type);
    TML_KCHECK(tml_tensor_count(in) == tml_tensor_count(out), TML_ERR_SHAPE, "activation: input and output sizes differ");
    TML_KCHECK(in->type == TML_TYPE_FLOAT32 || (tml_q8_ok(in) && tml_q8_ok(out)), TML_ERR_QUANT,
        "activation: missing or invalid quantization");
    tml_act_data_t *d = tml_kalloc(ctx, sizeof(*d));
    TML_KCHECK(d, TML_ERR_ARENA_SMALL, "activation: arena full");
    d->in_zp = in->zero_point;
    d->out_zp = out->zero_point;
    ctx->user_data = d;
    *out_d = d;
    return TML_OK;
}

tml_status_t tml_relu_prepare(tml_op_ctx_t *ctx) {
    tml_act_data_t *d;
    tml_status_t st = act_common(ctx, "RELU: expects 1 input and 1 output", "RELU: only int8 and float32 are supported", &d);
    if (st != TML_OK || ctx->inputs[0]->type == TML_TYPE_FLOAT32) {
        return st;
    }
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *out = ctx->outputs[0];
    int sh;
    tml_quantize_multiplier((double)in->scale / (double)out->scale, &d->mult, &sh);
    d->shift = sh;
    d->act_min = tml_max_i32(-128, out->zero_point + tml_f2i_sat(roundf(0.0f / out->scale)));
    d->act_max = 127;
    return TML_OK;
}

tml_status_t tml_relu6_prepare(tml_op_ctx_t *ctx) {
    tml_act_data_t *d;
    tml_status_t st = act_common(ctx, "RELU6: expects 1 input and 1 output", "RELU6: only int8 and float32 are supported", &d);
    if (st != TML_OK || ctx->inputs[0]->type == TML_TYPE_FLOAT32) {
        return st;
    }
    const tml_tensor_t *in = ctx->inputs[0];
    d->act_min = in->zero_point;
    d->act_max = tml_clamp_i32(tml_wrap_add(tml_f2i_sat(roundf(6.0f / in->scale)), in->zero_point), -128, 127);
    return TML_OK;
}

// Q4.27 input rescaling shared by LOGISTIC and TANH.
static int sigmoid_like_prepare(tml_act_data_t *d, const tml_tensor_t *in) {
    const int int_bits = 4;
    double real = (double)in->scale * (double)(1 << (31 - int_bits));
    int e = 0;
    double q = frexp(real, &e);
    d->mult = (int32_t)round(q * (double)((int64_t)1 << 31));
    d->shift = e;
    if (e < 0 || e > 30) {
        return 0;
    }
    d->radius = tml_input_radius(int_bits, e, 31);
    return 1;
}

tml_status_t tml_logistic_prepare(tml_op_ctx_t *ctx) {
    tml_act_data_t *d;
    tml_status_t st = act_common(ctx, "LOGISTIC: expects 1 input and 1 output",
        "LOGISTIC: only int8 and float32 are supported", &d);
    if (st != TML_OK || ctx->inputs[0]->type == TML_TYPE_FLOAT32) {
        return st;
    }
    TML_KCHECK(ctx->outputs[0]->zero_point == -128, TML_ERR_QUANT, "LOGISTIC: int8 output zero point must be -128");
    TML_KCHECK(sigmoid_like_prepare(d, ctx->inputs[0]), TML_ERR_QUANT, "LOGISTIC: input scale out of range");
    return TML_OK;
}

tml_status_t tml_tanh_prepare(tml_op_ctx_t *ctx) {
    tml_act_data_t *d;
    tml_status_t st = act_common(ctx, "TANH: expects 1 input and 1 output", "TANH: only int8 and float32 are supported", &d);
    if (st != TML_OK || ctx->inputs[0]->type == TML_TYPE_FLOAT32) {
        return st;
    }
    TML_KCHECK(sigmoid_like_prepare(d, ctx->inputs[0]), TML_ERR_QUANT, "TANH: input scale out of range");
    return TML_OK;
}

// RELU (requantized to the output scale) and RELU6 (raw values clamped to
// the input's quantized 0 and 6); float32 clamps to [0, hi].
static tml_status_t act_clamp_eval(tml_op_ctx_t *ctx, float hi, int requant) {
    const tml_act_data_t *d = ctx->user_data;
    const tml_tensor_t *in = ctx->inputs[0];
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t n = tml_tensor_count(in);
    if (tml_is_f32(in)) {
        const float *x = (const float *)in->data;
        float *y = (float *)out->data;
        for (int32_t i = 0; i < n; i++) {
            y[i] = tml_clamp_f32(x[i], 0.0f, hi);
        }
        return TML_OK;
    }
    const int8_t *x = (const int8_t *)in->data;
    int8_t *y = (int8_t *)out->data;
    if (requant) {
        for (int32_t i = 0; i < n; i++) {
            const int32_t v = d->out_zp + tml_mul_by_quantized_mult((int32_t)x[i] - d->in_zp, d->mult, d->shift);
            y[i] = (int8_t)tml_clamp_i32(v, d->act_min, d->act_max);
        }
    } else {
        for (int32_t i = 0; i < n; i++) {
            y[i] = (int8_t)tml_clamp_i32(x[i], d->act_min, d->act_max);
        }
    }
    return TML_OK;
}

tml_status_t tml_relu_eval(tml_op_ctx_t *ctx) {
    return act_clamp_eval(ctx, INFINITY, 1);
}

tml_status_t tml_relu6_eval(tml_op_ctx_t *ctx) {
    return act_clamp_eval(ctx, 6.0f, 0);
}

// int8 LOGISTIC (is_tanh == 0) or TANH of one raw input value.
static int8_t sigmoid_like_value(const tml_act_data_t *d, int32_t raw, int is_tanh) {
    const int32_t v = raw - d->in_zp;
    if (v <= -d->radius) {
        return -128;
    }
    if (v >= d->radius) {
        return 127;
    }
    const int32_t q4 = tml_mul_by_quantized_mult(v, d->mult, d->shift);
    const int32_t r = is_tanh ? tml_rounding_divide_by_pot(tml_q_tanh(q4, 4), 24)
        : tml_rounding_divide_by_pot(tml_q_logistic(q4, 4), 23) - 128;
    return (int8_t)tml_clamp_i32(r, -128, 127);
}

// A tensor larger than the 256 possible inputs goes through a table built
// on the stack; a smaller one is computed element by element.
static void sigmoid_like_eval(const tml_act_data_t *d, const int8_t *x, int8_t *y, int32_t n, int is_tanh) {
    if (n <= 256) {
        for (int32_t i = 0; i < n; i++) {
            y[i] = sigmoid_like_value(d, x[i], is_tanh);
        }
        return;
    }
    int8_t table[256];
    for (int32_t v = -128; v < 128; v++) {
        table[v + 128] = sigmoid_like_value(d, v, is_tanh);
    }
    for (int32_t i = 0; i < n; i++) {
        y[i] = table[x[i] + 128];
    }
}

tml_status_t tml_logistic_eval(tml_op_ctx_t *ctx) {
    const tml_act_data_t *d = ctx->user_data;
    const tml_tensor_t *in = ctx->inputs[0];
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t n = tml_tensor_count(in);
    if (in->type == TML_TYPE_FLOAT32) {
        const float *x = (const float *)in->data;
        float *y = (float *)out->data;
        for (int32_t i = 0; i < n; i++) {
            const float v = x[i];
            if (v > 16.619047164916992188f) {
                y[i] = 1.0f;
            } else if (v < -9.0f) {
                y[i] = expf(v);
            } else {
                y[i] = 1.0f / (1.0f + expf(-v));
            }
        }
        return TML_OK;
    }
    sigmoid_like_eval(d, (const int8_t *)in->data, (int8_t *)out->data, n, 0);
    return TML_OK;
}

tml_status_t tml_tanh_eval(tml_op_ctx_t *ctx) {
    const tml_act_data_t *d = ctx->user_data;
    const tml_tensor_t *in = ctx->inputs[0];
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t n = tml_tensor_count(in);
    if (in->type == TML_TYPE_FLOAT32) {
        const float *x = (const float *)in->data;
        float *y = (float *)out->data;
        for (int32_t i = 0; i < n; i++) {
            y[i] = tanhf(x[i]);
        }
        return TML_OK;
    }
    sigmoid_like_eval(d, (const int8_t *)in->data, (int8_t *)out->data, n, 1);
    return TML_OK;
}
