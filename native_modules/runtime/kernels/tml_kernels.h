// Entry points of every kernel in this folder, listed by the registry table
// (tml_registry.c), and small helpers the kernels share for checking their
// tensors. Each kernel file defines tml_<op>_prepare/tml_<op>_eval.
#ifndef TML_KERNELS_H
#define TML_KERNELS_H

#include <string.h>

#include "tml_op.h"

#define TML_DECLARE_KERNEL(name) \
    tml_status_t tml_##name##_prepare(tml_op_ctx_t *ctx); \
    tml_status_t tml_##name##_eval(tml_op_ctx_t *ctx)

TML_DECLARE_KERNEL(reshape);
TML_DECLARE_KERNEL(conv2d);
TML_DECLARE_KERNEL(dwconv2d);
TML_DECLARE_KERNEL(fully_connected);
TML_DECLARE_KERNEL(avgpool2d);
TML_DECLARE_KERNEL(maxpool2d);
TML_DECLARE_KERNEL(softmax);
TML_DECLARE_KERNEL(add);
TML_DECLARE_KERNEL(mul);
TML_DECLARE_KERNEL(mean);
TML_DECLARE_KERNEL(pad);
TML_DECLARE_KERNEL(concatenation);
TML_DECLARE_KERNEL(quantize);
TML_DECLARE_KERNEL(dequantize);
TML_DECLARE_KERNEL(logistic);
TML_DECLARE_KERNEL(tanh);
TML_DECLARE_KERNEL(relu);
TML_DECLARE_KERNEL(relu6);

// Size-constrained firmware may leave the float32 kernels out with
// -DTML_KERNELS_FLOAT32=0 (int8 models only; a float32 model is refused at
// prepare). Kernels test for float input with tml_is_f32() so that the
// float paths compile away there.
#ifndef TML_KERNELS_FLOAT32
#define TML_KERNELS_FLOAT32 1
#endif

static inline int tml_is_f32(const tml_tensor_t *t) {
    return TML_KERNELS_FLOAT32 && t->type == TML_TYPE_FLOAT32;
}

// Sets the error detail and returns the status, for one-line checks.
static inline tml_status_t tml_kfail(tml_op_ctx_t *ctx, tml_status_t st, const char *msg) {
#if TML_ERROR_TEXT
    ctx->error_detail = msg;
#else
    // Status texts only (tml_op.h): error_detail stays NULL, as the
    // interpreter sets it before every call.
    (void)ctx;
    (void)msg;
#endif
    return st;
}

#define TML_KCHECK(cond, st, msg) \
    do { \
        if (!(cond)) { \
            return tml_kfail(ctx, (st), (msg)); \
        } \
    } while (0)

// Input i, or NULL when the model omits it (or has fewer inputs).
static inline const tml_tensor_t *tml_kin(const tml_op_ctx_t *ctx, int32_t i) {
    return i < ctx->n_inputs ? ctx->inputs[i] : NULL;
}

// Reads element i of a little-endian int32 vector stored at any alignment.
static inline int32_t tml_load_i32(const void *p, int32_t i) {
    int32_t v;
    memcpy(&v, (const uint8_t *)p + 4 * (size_t)i, 4);
    return v;
}

static inline int64_t tml_load_i64(const void *p, int32_t i) {
    int64_t v;
    memcpy(&v, (const uint8_t *)p + 8 * (size_t)i, 8);
    return v;
}

static inline float tml_load_f32(const void *p, int32_t i) {
    float v;
    memcpy(&v, (const uint8_t *)p + 4 * (size_t)i, 4);
    return v;
}

// Allocates zeroed persistent memory, or fails the op with a message.
static inline void *tml_kalloc(tml_op_ctx_t *ctx, size_t bytes) {
    void *p = ctx->alloc_persistent(ctx, bytes);
    if (p != NULL) {
        memset(p, 0, bytes);
    }
    return p;
}

// Allocates an op's persistent struct whose last member is a flexible
// array `int32_t mult[]`, with room for n multipliers followed by n int8
// shifts (per-channel requantization): one block, as the arena budget
// allows only about 5 bytes per output channel.
static inline void *tml_kalloc_requant(tml_op_ctx_t *ctx, size_t struct_bytes, int32_t n) {
    return tml_kalloc(ctx, struct_bytes + 5u * (size_t)(n > 0 ? n : 0));
}

// True when both tensors have the same shape.
static inline int tml_same_shape(const tml_tensor_t *a, const tml_tensor_t *b) {
    if (a->ndim != b->ndim) {
        return 0;
    }
    for (int i = 0; i < a->ndim; i++) {
        if (a->dims[i] != b->dims[i]) {
            return 0;
        }
    }
    return 1;
}

// Output size and leading padding of one spatial dimension, as the
// converter's SAME/VALID rules define them.
static inline int32_t tml_conv_out_size(int padding, int32_t in, int32_t filter, int32_t stride, int32_t dilation) {
    int32_t eff = (filter - 1) * dilation + 1;
    if (padding == 0) { // SAME
        return (in + stride - 1) / stride;
    }
    return (in + stride - eff) / stride;
}

static inline int32_t tml_conv_pad(int32_t stride, int32_t dilation, int32_t in, int32_t filter, int32_t out) {
    int32_t eff = (filter - 1) * dilation + 1;
    int32_t pad = ((out - 1) * stride + eff - in) / 2;
    return pad > 0 ? pad : 0;
}

#endif // TML_KERNELS_H
