// Architecture fast paths of the hot int8 kernels (CONV_2D,
// DEPTHWISE_CONV_2D, FULLY_CONNECTED). The portable kernel files stay the
// reference: at prepare they ask the fast path how much scratch it needs,
// and at eval they offer it the op first; it returns 1 when it computed the
// output (byte-identical to the portable code), 0 to let the portable loop
// run (unsupported shape, dilation, groups...).
//
// A fast path that takes every int8 shape defines TML_FAST_COMPLETE: the
// kernels then return straight after it, so the portable int8 loops (and
// the helpers only they call) are left out of the link. Cortex-M0 does
// this: its flash is the scarcest.
//
// One implementation is compiled per target, chosen here from the compiler's
// architecture macros; each lives in kernels/tml_fast_<arch>.c and guards its whole body
// with the same condition, so every file builds everywhere. Defining
// TML_FAST_NONE selects the portable code alone (used by the conformance
// tests to compare both on one machine).
#ifndef TML_FAST_H
#define TML_FAST_H

#include <stddef.h>

#include "tml_op.h"
#include "tml_kparams.h"

#if defined(TML_FAST_NONE)
#define TML_FAST_ARCH "generic"
#elif defined(__ARM_ARCH_6M__)
#define TML_FAST_ARMV6M 1
#define TML_FAST_COMPLETE 1
#define TML_FAST_ARCH "armv6m"
#elif defined(__ARM_ARCH_7EM__) && defined(__ARM_FEATURE_DSP)
#define TML_FAST_ARMV7EM 1
#define TML_FAST_ARCH "armv7em"
#elif defined(__x86_64__) || defined(__aarch64__)
#define TML_FAST_HOST 1
#define TML_FAST_ARCH "host"
#else
#define TML_FAST_ARCH "generic"
#endif

#if defined(TML_FAST_ARMV6M) || defined(TML_FAST_ARMV7EM) || defined(TML_FAST_HOST)
#define TML_FAST_ENABLED 1

// Extra scratch bytes the fast path wants during eval (0 for none). Called
// in prepare after the op data is filled in; tensors other than constants
// have no data yet.
size_t tml_fast_conv2d_scratch(const tml_op_ctx_t *ctx, const tml_conv_data_t *d);
size_t tml_fast_dwconv2d_scratch(const tml_op_ctx_t *ctx, const tml_dwconv_data_t *d);
size_t tml_fast_fc_scratch(const tml_op_ctx_t *ctx, const tml_fc_data_t *d);

// int8 eval; scratch is the fast path's buffer (NULL when it asked for 0).
int tml_fast_conv2d(tml_op_ctx_t *ctx, const tml_conv_data_t *d, void *scratch);
int tml_fast_dwconv2d(tml_op_ctx_t *ctx, const tml_dwconv_data_t *d, void *scratch);
int tml_fast_fc(tml_op_ctx_t *ctx, const tml_fc_data_t *d, void *scratch);
#else
#define TML_FAST_ENABLED 0
#endif
#ifndef TML_FAST_COMPLETE
#define TML_FAST_COMPLETE 0
#endif

// Requests the fast path's scratch in prepare: stores the index (or -1) in
// *slot; fails the op when the arena is full.
#define TML_FAST_PREPARE(kind, name) \
    do { \
        d->fast_scratch = -1; \
        if (TML_FAST_ENABLED) { \
            size_t fast_bytes_ = TML_FAST_SCRATCH_CALL(kind); \
            if (fast_bytes_ > 0) { \
                d->fast_scratch = ctx->request_scratch(ctx, fast_bytes_); \
                TML_KCHECK(d->fast_scratch >= 0, TML_ERR_ARENA_SMALL, name ": arena full"); \
            } \
        } \
    } while (0)

#if TML_FAST_COMPLETE
#define TML_FAST_SCRATCH_CALL(kind) tml_fast_##kind##_scratch(ctx, d)
// The portable loop after this is dead code: the compiler drops it. The
// fast path only declines when its scratch is missing, a state error.
#define TML_FAST_EVAL(kind) \
    return tml_fast_##kind(ctx, d, d->fast_scratch >= 0 ? ctx->get_scratch(ctx, d->fast_scratch) : NULL) \
        ? TML_OK : TML_ERR_STATE
#elif TML_FAST_ENABLED
#define TML_FAST_SCRATCH_CALL(kind) tml_fast_##kind##_scratch(ctx, d)
#define TML_FAST_EVAL(kind) \
    do { \
        if (tml_fast_##kind(ctx, d, d->fast_scratch >= 0 ? ctx->get_scratch(ctx, d->fast_scratch) : NULL)) { \
            return TML_OK; \
        } \
    } while (0)
#else
#define TML_FAST_SCRATCH_CALL(kind) ((size_t)0)
#define TML_FAST_EVAL(kind) do { } while (0)
#endif

#endif // TML_FAST_H
