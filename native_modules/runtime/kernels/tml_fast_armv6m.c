// Fast paths of the hot int8 kernels for Cortex-M0/M0+ (ARMv6-M, RP2040); see tml_fast.h.
#include "tml_fast.h"

#if defined(TML_FAST_ARMV6M)

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
