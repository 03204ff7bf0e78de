// Element-wise broadcasting of two operands (numpy rules, up to
// TML_MAX_DIMS dimensions) for the binary arithmetic kernels.
#ifndef TML_BROADCAST_H
#define TML_BROADCAST_H

#include "tml_op.h"

typedef struct {
    int32_t dims[TML_MAX_DIMS];     // output shape, right-aligned
    int32_t stride_a[TML_MAX_DIMS]; // element strides, 0 along broadcast axes
    int32_t stride_b[TML_MAX_DIMS];
} tml_bcast_t;

// Fills bc for a op b -> out; returns 0 when the shapes are incompatible.
static inline int tml_bcast_init(tml_bcast_t *bc, const tml_tensor_t *a, const tml_tensor_t *b, const tml_tensor_t *out) {
    if (out->ndim > TML_MAX_DIMS || a->ndim > out->ndim || b->ndim > out->ndim) {
        return 0;
    }
    int32_t sa = 1, sb = 1;
    for (int i = TML_MAX_DIMS - 1; i >= 0; i--) {
        const int k = i - (TML_MAX_DIMS - out->ndim);
        const int ka = i - (TML_MAX_DIMS - a->ndim);
        const int kb = i - (TML_MAX_DIMS - b->ndim);
        const int32_t od = k >= 0 ? out->dims[k] : 1;
        const int32_t ad = ka >= 0 ? a->dims[ka] : 1;
        const int32_t bd = kb >= 0 ? b->dims[kb] : 1;
        if ((ad != od && ad != 1) || (bd != od && bd != 1)) {
            return 0;
        }
        if (od != (ad > bd ? ad : bd) && od != 0) {
            return 0;
        }
        bc->dims[i] = od;
        bc->stride_a[i] = ad == 1 ? 0 : sa;
        bc->stride_b[i] = bd == 1 ? 0 : sb;
        sa *= ad;
        sb *= bd;
    }
    return 1;
}

// Calls OP(i_out, i_a, i_b) for every output element, in row-major order.
// The innermost dimension runs in a plain loop.
#define TML_BCAST_FOR_EACH(bc, OP) \
    do { \
        const tml_bcast_t *bc_ = (bc); \
        int32_t idx_[TML_MAX_DIMS - 1] = {0}; \
        int32_t o_ = 0, a_ = 0, b_ = 0; \
        const int32_t n_ = bc_->dims[TML_MAX_DIMS - 1]; \
        const int32_t sa_ = bc_->stride_a[TML_MAX_DIMS - 1], sb_ = bc_->stride_b[TML_MAX_DIMS - 1]; \
        int32_t total_ = 1; \
        for (int k_ = 0; k_ < TML_MAX_DIMS - 1; k_++) { \
            total_ *= bc_->dims[k_]; \
        } \
        if (n_ == 0) { \
            total_ = 0; \
        } \
        for (int32_t r_ = 0; r_ < total_; r_++) { \
            a_ = 0; \
            b_ = 0; \
            for (int k_ = 0; k_ < TML_MAX_DIMS - 1; k_++) { \
                a_ += idx_[k_] * bc_->stride_a[k_]; \
                b_ += idx_[k_] * bc_->stride_b[k_]; \
            } \
            for (int32_t j_ = 0; j_ < n_; j_++, o_++) { \
                OP(o_, a_ + j_ * sa_, b_ + j_ * sb_); \
            } \
            for (int k_ = TML_MAX_DIMS - 2; k_ >= 0; k_--) { \
                if (++idx_[k_] < bc_->dims[k_]) { \
                    break; \
                } \
                idx_[k_] = 0; \
            } \
        } \
    } while (0)

#endif // TML_BROADCAST_H
