// RESHAPE: the output has the input's bytes under another shape. The new
// shape (options or the optional shape tensor) has already been applied to
// the output tensor by the model, so only the sizes need to agree.
#include <string.h>

#include "tml_kernels.h"

tml_status_t tml_reshape_prepare(tml_op_ctx_t *ctx) {
    TML_KCHECK(ctx->n_inputs >= 1 && ctx->n_outputs == 1 && ctx->inputs[0] != NULL, TML_ERR_MODEL,
        "RESHAPE: expects 1 or 2 inputs and 1 output");
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *out = ctx->outputs[0];
    TML_KCHECK(in->type == out->type, TML_ERR_UNSUPPORTED_TYPE, "RESHAPE: input and output types differ");
    TML_KCHECK(tml_tensor_count(in) == tml_tensor_count(out) && in->bytes == out->bytes, TML_ERR_SHAPE,
        "RESHAPE: input and output sizes differ");
    return TML_OK;
}

tml_status_t tml_reshape_eval(tml_op_ctx_t *ctx) {
    const tml_tensor_t *in = ctx->inputs[0];
    tml_tensor_t *out = ctx->outputs[0];
    // The planner either aliases input and output (nothing to move) or gives
    // them separate buffers (tml_op.h), so they never partly overlap.
    if (out->data != in->data) {
        memcpy(out->data, in->data, out->bytes);
    }
    return TML_OK;
}
