// Fast paths of the hot int8 kernels for 64-bit hosts (x86-64, AArch64); see tml_fast.h.
#include "tml_fast.h"

#if defined(TML_FAST_HOST)

size_t tml_fast_conv2d_scratch(const tml_op_ctx_t *ctx, const tml_conv_data_t *d) {
    (void)ctx;
    (void)d;
    return 0;
}

size_t tml_fast_dwconv2d_scratch(const tml_op_ctx_t *ctx, const tml_dwconv_data_t *d) {
    (void)ctx;
    (void)d;
    return 0;
}

size_t tml_fast_fc_scratch(const tml_op_ctx_t *ctx, const tml_fc_data_t *d) {
    (void)ctx;
    (void)d;
    return 0;
}

int tml_fast_conv2d(tml_op_ctx_t *ctx, const tml_conv_data_t *d, void *scratch) {
    (void)ctx;
    (void)d;
    (void)scratch;
    return 0;
}

int tml_fast_dwconv2d(tml_op_ctx_t *ctx, const tml_dwconv_data_t *d, void *scratch) {
    (void)ctx;
    (void)d;
    (void)scratch;
    return 0;
}

int tml_fast_fc(tml_op_ctx_t *ctx, const tml_fc_data_t *d, void *scratch) {
    (void)ctx;
    (void)d;
    (void)scratch;
    return 0;
}

#endif
