// RESHAPE: the output has the input's bytes under another shape. The new
// shape (options or the optional shape tensor) has already been applied to
// the output tensor by the model, so only the sizes need to agree.
#include <string.h>

#include "tml_kernels.h"

tml_status_t tml_reshape_prepare(tml_op_ctx_t *ctx) {
    if (ctx->n_inputs < 1 || ctx->n_outputs != 1 || ctx->inputs[0] == NULL) {
        ctx->error_detail = "RESHAPE: expects 1 or 2 inputs and 1 output";
        return TML_ERR_MODEL;
    }
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *out = ctx->outputs[0];
    if (in->type != out->type) {
        ctx->error_detail = "RESHAPE: input and output types differ";
        return TML_ERR_UNSUPPORTED_TYPE;
    }
    if (tml_tensor_count(in) != tml_tensor_count(out) || in->bytes != out->bytes) {
        ctx->error_detail = "RESHAPE: input and output sizes differ";
        return TML_ERR_SHAPE;
    }
    return TML_OK;
}

tml_status_t tml_reshape_eval(tml_op_ctx_t *ctx) {
    const tml_tensor_t *in = ctx->inputs[0];
    tml_tensor_t *out = ctx->outputs[0];
    // The planner may alias input and output; then there is nothing to move.
    if (out->data != in->data) {
        memmove(out->data, in->data, out->bytes);
    }
    return TML_OK;
}
