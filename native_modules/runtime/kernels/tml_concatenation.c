// CONCATENATION along one axis (int8 and float32). Inputs and output share
// their quantization, as the converter arranges, so values are copied.
#include "tml_kernels.h"
#include "tml_quant.h"

typedef struct {
    int32_t outer;          // product of the dimensions before the axis
    int32_t inner;          // product of the dimensions after the axis
    size_t esize;
} tml_concat_data_t;

tml_status_t tml_concatenation_prepare(tml_op_ctx_t *ctx) {
    TML_KCHECK(ctx->n_inputs >= 1 && ctx->n_outputs == 1, TML_ERR_MODEL, "CONCATENATION: expects inputs and 1 output");
    const tml_tensor_t *out = ctx->outputs[0];
    TML_KCHECK(out->type == TML_TYPE_INT8 || out->type == TML_TYPE_FLOAT32, TML_ERR_UNSUPPORTED_TYPE,
        "CONCATENATION: only int8 and float32 are supported");
    int32_t axis = tml_opt_i32(&ctx->options, 0, 0);
    int act = tml_opt_i8(&ctx->options, 1, TML_ACT_NONE);
    TML_KCHECK(act == TML_ACT_NONE, TML_ERR_CONFIG, "CONCATENATION: fused activations are not supported");
    if (axis < 0) {
        axis += out->ndim;
    }
    TML_KCHECK(axis >= 0 && axis < out->ndim, TML_ERR_MODEL, "CONCATENATION: axis out of range");
    int32_t total = 0;
    for (int32_t i = 0; i < ctx->n_inputs; i++) {
        const tml_tensor_t *t = ctx->inputs[i];
        TML_KCHECK(t && t->type == out->type && t->ndim == out->ndim, TML_ERR_SHAPE,
            "CONCATENATION: inputs must match the output's type and rank");
        for (int k = 0; k < out->ndim; k++) {
            TML_KCHECK(k == axis || t->dims[k] == out->dims[k], TML_ERR_SHAPE, "CONCATENATION: input shapes differ off the axis");
        }
        total += t->dims[axis];
    }
    TML_KCHECK(total == out->dims[axis], TML_ERR_SHAPE, "CONCATENATION: output size along the axis differs");
    tml_concat_data_t *d = tml_kalloc(ctx, sizeof(*d));
    TML_KCHECK(d, TML_ERR_ARENA_SMALL, "CONCATENATION: arena full");
    d->outer = 1;
    d->inner = 1;
    for (int k = 0; k < axis; k++) {
        d->outer *= out->dims[k];
    }
    for (int k = axis + 1; k < out->ndim; k++) {
        d->inner *= out->dims[k];
    }
    d->esize = out->type == TML_TYPE_INT8 ? 1 : 4;
    ctx->user_data = d;
    return TML_OK;
}

tml_status_t tml_concatenation_eval(tml_op_ctx_t *ctx) {
    const tml_concat_data_t *d = ctx->user_data;
    tml_tensor_t *out = ctx->outputs[0];
    uint8_t *dst = (uint8_t *)out->data;
    for (int32_t o = 0; o < d->outer; o++) {
        for (int32_t i = 0; i < ctx->n_inputs; i++) {
            const tml_tensor_t *t = ctx->inputs[i];
            const int32_t axis_len = tml_tensor_count(t) / (d->outer * d->inner > 0 ? d->outer * d->inner : 1);
            const size_t chunk = (size_t)axis_len * d->inner * d->esize;
            memcpy(dst, (const uint8_t *)t->data + (size_t)o * chunk, chunk);
            dst += chunk;
        }
    }
    return TML_OK;
}
