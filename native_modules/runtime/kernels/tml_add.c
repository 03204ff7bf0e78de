// ADD and MUL, int8 and float32, with broadcasting and fused activation.
// int8 ADD rescales both operands to a common scale with 20 bits of
// headroom before summing; int8 MUL multiplies the zero-point-free values
// and requantizes the product once.
#include "tml_broadcast.h"
#include "tml_kernels.h"
#include "tml_quant.h"

typedef struct {
    tml_bcast_t bc;
    int32_t same_shape;
    int32_t act_min, act_max;
    float fact_min, fact_max;
    int32_t in1_offset, in2_offset, out_offset;
    int32_t in1_mult, in2_mult, out_mult;
    int32_t in1_shift, in2_shift, out_shift;
    int32_t left_shift;
} tml_arith_data_t;

static tml_status_t arith_prepare(tml_op_ctx_t *ctx, int is_mul) {
    const char *name_err = is_mul ? "MUL: expects 2 inputs and 1 output" : "ADD: expects 2 inputs and 1 output";
    TML_KCHECK(ctx->n_inputs == 2 && ctx->n_outputs == 1 && ctx->inputs[0] && ctx->inputs[1], TML_ERR_MODEL, name_err);
    const tml_tensor_t *a = ctx->inputs[0];
    const tml_tensor_t *b = ctx->inputs[1];
    const tml_tensor_t *out = ctx->outputs[0];
    tml_arith_data_t *d = tml_kalloc(ctx, sizeof(*d));
    TML_KCHECK(d, TML_ERR_ARENA_SMALL, "ADD/MUL: arena full");
    TML_KCHECK(tml_bcast_init(&d->bc, a, b, out), TML_ERR_SHAPE,
        is_mul ? "MUL: operand shapes do not broadcast to the output" : "ADD: operand shapes do not broadcast to the output");
    d->same_shape = tml_same_shape(a, b) && tml_same_shape(a, out);
    int act = tml_opt_i8(&ctx->options, 0, TML_ACT_NONE);
    TML_KCHECK(a->type == b->type && a->type == out->type && (a->type == TML_TYPE_INT8 || a->type == TML_TYPE_FLOAT32),
        TML_ERR_UNSUPPORTED_TYPE, is_mul ? "MUL: only int8 and float32 are supported" : "ADD: only int8 and float32 are supported");
    ctx->user_data = d;
    if (a->type == TML_TYPE_FLOAT32) {
        TML_KCHECK(tml_activation_range_f32(act, &d->fact_min, &d->fact_max) == TML_OK, TML_ERR_CONFIG,
            "ADD/MUL: unsupported fused activation");
        return TML_OK;
    }
    TML_KCHECK(tml_q8_ok(a) && tml_q8_ok(b) && tml_q8_ok(out), TML_ERR_QUANT, "ADD/MUL: missing or invalid quantization");
    TML_KCHECK(tml_activation_range_s8(act, out->scale, out->zero_point, &d->act_min, &d->act_max) == TML_OK,
        TML_ERR_CONFIG, "ADD/MUL: unsupported fused activation");
    d->in1_offset = -a->zero_point;
    d->in2_offset = -b->zero_point;
    d->out_offset = out->zero_point;
    int sh;
    if (is_mul) {
        double real = (double)a->scale * (double)b->scale / (double)out->scale;
        tml_quantize_multiplier(real, &d->out_mult, &sh);
        d->out_shift = sh;
        return TML_OK;
    }
    d->left_shift = 20;
    const double twice_max = 2.0 * (double)(a->scale > b->scale ? a->scale : b->scale);
    const double r1 = (double)a->scale / twice_max;
    const double r2 = (double)b->scale / twice_max;
    const double ro = twice_max / ((double)(1 << d->left_shift) * (double)out->scale);
    TML_KCHECK(r1 > 0.0 && r1 < 1.0 && r2 > 0.0 && r2 < 1.0 && ro > 0.0 && ro < 1.0, TML_ERR_QUANT,
        "ADD: operand and output scales out of range");
    tml_quantize_multiplier(r1, &d->in1_mult, &sh);
    d->in1_shift = sh;
    tml_quantize_multiplier(r2, &d->in2_mult, &sh);
    d->in2_shift = sh;
    tml_quantize_multiplier(ro, &d->out_mult, &sh);
    d->out_shift = sh;
    TML_KCHECK(d->in1_shift <= 0 && d->in2_shift <= 0 && d->out_shift <= 0, TML_ERR_QUANT, "ADD: scales out of range");
    return TML_OK;
}

tml_status_t tml_add_prepare(tml_op_ctx_t *ctx) {
    return arith_prepare(ctx, 0);
}

tml_status_t tml_mul_prepare(tml_op_ctx_t *ctx) {
    return arith_prepare(ctx, 1);
}

static inline int8_t add_s8(const tml_arith_data_t *d, int8_t x, int8_t y) {
    const int32_t a = ((int32_t)x + d->in1_offset) * (1 << d->left_shift);
    const int32_t b = ((int32_t)y + d->in2_offset) * (1 << d->left_shift);
    const int32_t sa = tml_mul_by_quantized_mult_lt_one(a, d->in1_mult, d->in1_shift);
    const int32_t sb = tml_mul_by_quantized_mult_lt_one(b, d->in2_mult, d->in2_shift);
    const int32_t r = tml_wrap_add(tml_mul_by_quantized_mult_lt_one(tml_wrap_add(sa, sb), d->out_mult, d->out_shift), d->out_offset);
    return (int8_t)tml_clamp_i32(r, d->act_min, d->act_max);
}

static inline int8_t mul_s8(const tml_arith_data_t *d, int8_t x, int8_t y) {
    const int32_t p = ((int32_t)x + d->in1_offset) * ((int32_t)y + d->in2_offset);
    const int32_t r = tml_wrap_add(tml_mul_by_quantized_mult(p, d->out_mult, d->out_shift), d->out_offset);
    return (int8_t)tml_clamp_i32(r, d->act_min, d->act_max);
}

static tml_status_t arith_eval(tml_op_ctx_t *ctx, int is_mul) {
    const tml_arith_data_t *d = ctx->user_data;
    const tml_tensor_t *a = ctx->inputs[0];
    const tml_tensor_t *b = ctx->inputs[1];
    tml_tensor_t *out = ctx->outputs[0];
    if (a->type == TML_TYPE_FLOAT32) {
        const float *x = (const float *)a->data;
        const float *y = (const float *)b->data;
        float *z = (float *)out->data;
        const float lo = d->fact_min, hi = d->fact_max;
        if (is_mul) {
#define TML_OP_(o, i, j) z[o] = tml_clamp_f32(x[i] * y[j], lo, hi)
            TML_BCAST_FOR_EACH(&d->bc, TML_OP_);
#undef TML_OP_
        } else {
#define TML_OP_(o, i, j) z[o] = tml_clamp_f32(x[i] + y[j], lo, hi)
            TML_BCAST_FOR_EACH(&d->bc, TML_OP_);
#undef TML_OP_
        }
        return TML_OK;
    }
    const int8_t *x = (const int8_t *)a->data;
    const int8_t *y = (const int8_t *)b->data;
    int8_t *z = (int8_t *)out->data;
    if (d->same_shape) {
        const int32_t n = tml_tensor_count(out);
        if (is_mul) {
            for (int32_t i = 0; i < n; i++) {
                z[i] = mul_s8(d, x[i], y[i]);
            }
        } else {
            for (int32_t i = 0; i < n; i++) {
                z[i] = add_s8(d, x[i], y[i]);
            }
        }
        return TML_OK;
    }
    if (is_mul) {
#define TML_OP_(o, i, j) z[o] = mul_s8(d, x[i], y[j])
        TML_BCAST_FOR_EACH(&d->bc, TML_OP_);
#undef TML_OP_
    } else {
#define TML_OP_(o, i, j) z[o] = add_s8(d, x[i], y[j])
        TML_BCAST_FOR_EACH(&d->bc, TML_OP_);
#undef TML_OP_
    }
    return TML_OK;
}

tml_status_t tml_add_eval(tml_op_ctx_t *ctx) {
    return arith_eval(ctx, 0);
}

tml_status_t tml_mul_eval(tml_op_ctx_t *ctx) {
    return arith_eval(ctx, 1);
}
