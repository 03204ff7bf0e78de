// PAD and PADV2 (int8 and float32): constant padding with the output's zero
// point (int8 PAD), 0.0 (float PAD) or the given constant (PADV2).
#include "tml_kernels.h"

typedef struct {
    int32_t before[TML_MAX_DIMS];
    int32_t pad_i8;
    float pad_f32;
} tml_pad_data_t;

tml_status_t tml_pad_prepare(tml_op_ctx_t *ctx) {
    TML_KCHECK((ctx->n_inputs == 2 || ctx->n_inputs == 3) && ctx->n_outputs == 1 && ctx->inputs[0] && ctx->inputs[1],
        TML_ERR_MODEL, "PAD: expects 2 or 3 inputs and 1 output");
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *pads = ctx->inputs[1];
    const tml_tensor_t *cval = tml_kin(ctx, 2);
    const tml_tensor_t *out = ctx->outputs[0];
    TML_KCHECK(in->type == out->type && (in->type == TML_TYPE_INT8 || in->type == TML_TYPE_FLOAT32),
        TML_ERR_UNSUPPORTED_TYPE, "PAD: only int8 and float32 are supported");
    TML_KCHECK(pads->is_const && (pads->type == TML_TYPE_INT32 || pads->type == TML_TYPE_INT64), TML_ERR_UNSUPPORTED_TYPE,
        "PAD: paddings must be a constant int32 or int64 tensor");
    TML_KCHECK(in->ndim == out->ndim && in->ndim <= TML_MAX_DIMS && tml_tensor_count(pads) == 2 * in->ndim, TML_ERR_SHAPE,
        "PAD: paddings must be [rank, 2]");
    tml_pad_data_t *d = tml_kalloc(ctx, sizeof(*d));
    TML_KCHECK(d, TML_ERR_ARENA_SMALL, "PAD: arena full");
    for (int i = 0; i < in->ndim; i++) {
        int64_t lo, hi;
        if (pads->type == TML_TYPE_INT32) {
            lo = tml_load_i32(pads->data, 2 * i);
            hi = tml_load_i32(pads->data, 2 * i + 1);
        } else {
            lo = tml_load_i64(pads->data, 2 * i);
            hi = tml_load_i64(pads->data, 2 * i + 1);
        }
        TML_KCHECK(lo >= 0 && hi >= 0 && (int64_t)in->dims[i] + lo + hi == out->dims[i], TML_ERR_SHAPE,
            "PAD: output shape does not match the paddings");
        d->before[i] = (int32_t)lo;
    }
    if (cval) {
        TML_KCHECK(cval->type == in->type && tml_tensor_count(cval) == 1 && cval->is_const && cval->data,
            TML_ERR_UNSUPPORTED_TYPE, "PADV2: constant value must be a constant scalar of the input type");
        if (in->type == TML_TYPE_INT8) {
            TML_KCHECK(cval->zero_point == out->zero_point && cval->scale == out->scale, TML_ERR_QUANT,
                "PADV2: constant value must share the output's quantization");
            d->pad_i8 = ((const int8_t *)cval->data)[0];
        } else {
            d->pad_f32 = tml_load_f32(cval->data, 0);
        }
    } else if (in->type == TML_TYPE_INT8) {
        TML_KCHECK(out->zero_point >= -128 && out->zero_point <= 127, TML_ERR_QUANT, "PAD: output zero point out of range");
        d->pad_i8 = out->zero_point;
    }
    ctx->user_data = d;
    return TML_OK;
}

tml_status_t tml_pad_eval(tml_op_ctx_t *ctx) {
    const tml_pad_data_t *d = ctx->user_data;
    const tml_tensor_t *in = ctx->inputs[0];
    tml_tensor_t *out = ctx->outputs[0];
    const int nd = in->ndim;
    const size_t esize = in->type == TML_TYPE_INT8 ? 1 : 4;
    const int32_t n_out = tml_tensor_count(out);
    if (esize == 1) {
        memset(out->data, (uint8_t)(int8_t)d->pad_i8, (size_t)n_out);
    } else {
        float *y = (float *)out->data;
        for (int32_t i = 0; i < n_out; i++) {
            y[i] = d->pad_f32;
        }
    }
    if (nd == 0) {
        memcpy(out->data, in->data, esize);
        return TML_OK;
    }
    // Output strides, then copy the input one innermost row at a time.
    int32_t ostride[TML_MAX_DIMS];
    int32_t s = 1;
    for (int k = nd - 1; k >= 0; k--) {
        ostride[k] = s;
        s *= out->dims[k];
    }
    const int32_t row = in->dims[nd - 1];
    const int32_t n_rows = row > 0 ? tml_tensor_count(in) / row : 0;
    int32_t idx[TML_MAX_DIMS] = {0};
    const uint8_t *src = (const uint8_t *)in->data;
    uint8_t *dst = (uint8_t *)out->data;
    for (int32_t r = 0; r < n_rows; r++) {
        int32_t o = d->before[nd - 1];
        for (int k = 0; k < nd - 1; k++) {
            o += (idx[k] + d->before[k]) * ostride[k];
        }
        memcpy(dst + (size_t)o * esize, src + (size_t)r * row * esize, (size_t)row * esize);
        for (int k = nd - 2; k >= 0; k--) {
            if (++idx[k] < in->dims[k]) {
                break;
            }
            idx[k] = 0;
        }
    }
    return TML_OK;
}
