// Prepare steps shared by the kernels with weights (CONV_2D,
// DEPTHWISE_CONV_2D, FULLY_CONNECTED) and, for the window geometry, the
// pools: the same checks and per-op constants once in flash, each op with
// its own error texts. Only what is the same for every op lives here; the
// scratch requests and the fast paths' setup stay in each op's prepare.
#ifndef TML_KPREP_H
#define TML_KPREP_H

#include <stdint.h>

#include "tml_op.h"
#include "tml_kparams.h"

// The op tml_kprep_weights() prepares (also the row of its error texts).
enum {
    TML_KPREP_CONV2D = 0,
    TML_KPREP_DWCONV2D = 1,
    TML_KPREP_FC = 2,
};

typedef struct {
    const tml_tensor_t *in, *filter, *bias, *out;
    int32_t cout;       // output channels (units of FULLY_CONNECTED)
    void *d;            // tml_conv_data_t, tml_dwconv_data_t or tml_fc_data_t
} tml_kprep_t;

// Checks the tensors and options of op `kind`, allocates its data
// (`bytes` plus the per-channel multipliers and shifts for int8) and fills
// all of it but the scratch indices (and depth_mult), the multipliers
// included; sets ctx->user_data. For float32 ops nothing is left to do.
tml_status_t tml_kprep_weights(tml_op_ctx_t *ctx, int kind, size_t bytes, tml_kprep_t *p);

// Outcomes of tml_kprep_geometry().
enum {
    TML_KPREP_GEO_OK = 0,
    TML_KPREP_GEO_STRIDE,   // a stride or dilation is not positive
    TML_KPREP_GEO_PADDING,  // unknown padding code
    TML_KPREP_GEO_SIZE,     // the output size does not match
};

// Window geometry of CONV_2D, DEPTHWISE_CONV_2D and the pools: with the
// strides and dilations in *w, checks them, the padding code and the output
// size (NHWC input and output) for an fh x fw window, and sets the pads.
int tml_kprep_geometry(tml_kparams_window_t *w, int padding, const tml_tensor_t *in, const tml_tensor_t *out,
    int32_t fh, int32_t fw);

#endif // TML_KPREP_H
