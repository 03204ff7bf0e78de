// Shared prepare steps of the kernels with weights and of the window ops;
// see tml_kprep.h. Prepare runs once per op at load time, so this file is
// built for size: one copy of each check, the op kind picking the texts.
#include "tml_kprep.h"

#include <string.h>

#include "tml_kernels.h"
#include "tml_quant.h"

// Error texts, a row per op kind (TML_KPREP_*) in each op's own wording;
// the checks an op does not have are left NULL.
enum {
    KP_IO, KP_MISSING, KP_NDIM, KP_CHANNELS, KP_GROUPS, KP_OUT_SHAPE, KP_BIAS_SIZE, KP_SHUFFLED, KP_ARENA,
    KP_STRIDES, KP_PADDING, KP_OUT_SIZE, KP_FLOAT, KP_ACT, KP_TYPES, KP_BIAS_TYPE, KP_QUANT, KP_PER_CHANNEL,
    KP_COUNT,
};

#if TML_ERROR_TEXT
static const char *const kprep_msgs[3][KP_COUNT] = {
    [TML_KPREP_CONV2D] = {
        [KP_IO] = "CONV_2D: expects 2 or 3 inputs and 1 output",
        [KP_MISSING] = "CONV_2D: missing input or filter",
        [KP_NDIM] = "CONV_2D: tensors must be 4-D",
        [KP_CHANNELS] = "CONV_2D: input channels are not a multiple of the filter's",
        [KP_GROUPS] = "CONV_2D: output channels are not a multiple of the groups",
        [KP_OUT_SHAPE] = "CONV_2D: output shape mismatch",
        [KP_BIAS_SIZE] = "CONV_2D: bias size differs from output channels",
        [KP_ARENA] = "CONV_2D: arena full",
        [KP_STRIDES] = "CONV_2D: strides and dilations must be positive",
        [KP_PADDING] = "CONV_2D: unknown padding",
        [KP_OUT_SIZE] = "CONV_2D: output size does not match padding and strides",
        [KP_FLOAT] = "CONV_2D: float input needs float filter, bias and output",
        [KP_ACT] = "CONV_2D: unsupported fused activation",
        [KP_TYPES] = "CONV_2D: only int8 and float32 are supported",
        [KP_BIAS_TYPE] = "CONV_2D: int8 needs an int32 bias",
        [KP_QUANT] = "CONV_2D: missing or invalid quantization",
        [KP_PER_CHANNEL] = "CONV_2D: per-channel filter quantization must be along the output channels",
    },
    [TML_KPREP_DWCONV2D] = {
        [KP_IO] = "DEPTHWISE_CONV_2D: expects 2 or 3 inputs and 1 output",
        [KP_MISSING] = "DEPTHWISE_CONV_2D: missing input or filter",
        [KP_NDIM] = "DEPTHWISE_CONV_2D: tensors must be 4-D",
        [KP_CHANNELS] = "DEPTHWISE_CONV_2D: filter channels must be a multiple of input channels",
        [KP_OUT_SHAPE] = "DEPTHWISE_CONV_2D: output shape mismatch",
        [KP_BIAS_SIZE] = "DEPTHWISE_CONV_2D: bias size differs from output channels",
        [KP_ARENA] = "DEPTHWISE_CONV_2D: arena full",
        [KP_STRIDES] = "DEPTHWISE_CONV_2D: strides and dilations must be positive",
        [KP_PADDING] = "DEPTHWISE_CONV_2D: unknown padding",
        [KP_OUT_SIZE] = "DEPTHWISE_CONV_2D: output size does not match padding and strides",
        [KP_FLOAT] = "DEPTHWISE_CONV_2D: float input needs float filter, bias and output",
        [KP_ACT] = "DEPTHWISE_CONV_2D: unsupported fused activation",
        [KP_TYPES] = "DEPTHWISE_CONV_2D: only int8 and float32 are supported",
        [KP_BIAS_TYPE] = "DEPTHWISE_CONV_2D: int8 needs an int32 bias",
        [KP_QUANT] = "DEPTHWISE_CONV_2D: missing or invalid quantization",
        [KP_PER_CHANNEL] = "DEPTHWISE_CONV_2D: per-channel filter quantization must be along the output channels",
    },
    [TML_KPREP_FC] = {
        [KP_IO] = "FULLY_CONNECTED: expects 2 or 3 inputs and 1 output",
        [KP_MISSING] = "FULLY_CONNECTED: missing input or weights",
        [KP_NDIM] = "FULLY_CONNECTED: weights must be 2-D",
        [KP_CHANNELS] = "FULLY_CONNECTED: output depth differs from weight rows",
        [KP_GROUPS] = "FULLY_CONNECTED: input size is not batches x weight columns",
        [KP_BIAS_SIZE] = "FULLY_CONNECTED: bias size differs from units",
        [KP_SHUFFLED] = "FULLY_CONNECTED: shuffled weights are not supported",
        [KP_ARENA] = "FULLY_CONNECTED: arena full",
        [KP_FLOAT] = "FULLY_CONNECTED: float input needs float weights, bias and output",
        [KP_ACT] = "FULLY_CONNECTED: unsupported fused activation",
        [KP_TYPES] = "FULLY_CONNECTED: only int8 and float32 are supported",
        [KP_BIAS_TYPE] = "FULLY_CONNECTED: int8 needs an int32 bias",
        [KP_QUANT] = "FULLY_CONNECTED: missing or invalid quantization",
        [KP_PER_CHANNEL] = "FULLY_CONNECTED: per-channel quantization must be along the units",
    },
};
#define KP_MSG(m) kprep_msgs[kind][m]
#else
#define KP_MSG(m) NULL
#endif

tml_status_t tml_kprep_weights(tml_op_ctx_t *ctx, int kind, size_t bytes, tml_kprep_t *p) {
    const int fc = kind == TML_KPREP_FC;
    TML_KCHECK(ctx->n_inputs >= 2 && ctx->n_outputs == 1, TML_ERR_MODEL, KP_MSG(KP_IO));
    const tml_tensor_t *in = p->in = ctx->inputs[0];
    const tml_tensor_t *filter = p->filter = ctx->inputs[1];
    const tml_tensor_t *bias = p->bias = tml_kin(ctx, 2);
    const tml_tensor_t *out = p->out = ctx->outputs[0];
    TML_KCHECK(in && filter, TML_ERR_MODEL, KP_MSG(KP_MISSING));
    int32_t cout;
    if (fc) {
        // Weights [units, depth]; every row of the input is one batch.
        TML_KCHECK(filter->ndim == 2 && out->ndim >= 1, TML_ERR_SHAPE, KP_MSG(KP_NDIM));
        const int32_t depth = filter->dims[1];
        cout = filter->dims[0];
        TML_KCHECK(cout > 0 && depth > 0 && out->dims[out->ndim - 1] == cout, TML_ERR_SHAPE, KP_MSG(KP_CHANNELS));
        // The input holds (output elements / units) rows of depth values.
        const int32_t n_in = tml_tensor_count(in);
        TML_KCHECK(n_in % depth == 0 && n_in / depth == tml_tensor_count(out) / cout, TML_ERR_SHAPE,
            KP_MSG(KP_GROUPS));
    } else {
        TML_KCHECK(in->ndim == 4 && filter->ndim == 4 && out->ndim == 4, TML_ERR_SHAPE, KP_MSG(KP_NDIM));
        const int32_t cin = in->dims[3];
        if (kind == TML_KPREP_CONV2D) {
            // Filter OHWI, I a group's share of the input channels.
            const int32_t cin_g = filter->dims[3];
            cout = filter->dims[0];
            TML_KCHECK(cin_g > 0 && cin % cin_g == 0, TML_ERR_SHAPE, KP_MSG(KP_CHANNELS));
            TML_KCHECK(cout > 0 && cout % (cin / cin_g) == 0, TML_ERR_SHAPE, KP_MSG(KP_GROUPS));
        } else {
            // Filter [1, H, W, C_in * depth_multiplier].
            cout = filter->dims[3];
            TML_KCHECK(filter->dims[0] == 1 && cin > 0 && cout % cin == 0 && cout > 0, TML_ERR_SHAPE,
                KP_MSG(KP_CHANNELS));
        }
        TML_KCHECK(out->dims[0] == in->dims[0] && out->dims[3] == cout, TML_ERR_SHAPE, KP_MSG(KP_OUT_SHAPE));
    }
    p->cout = cout;
    TML_KCHECK(!bias || tml_tensor_count(bias) == cout, TML_ERR_SHAPE, KP_MSG(KP_BIAS_SIZE));
    const tml_options_t *o = &ctx->options;
    TML_KCHECK(!fc || tml_opt_u8(o, 1, 0) == 0, TML_ERR_CONFIG, KP_MSG(KP_SHUFFLED));

    // int8 requantizes per output channel; FULLY_CONNECTED with per-tensor
    // weights (and, as eval never reads it, float32) keeps one multiplier.
    const int is_float = tml_is_f32(in);
    const int32_t nq = fc ? (!is_float && filter->n_quant > 1 ? cout : 1) : (is_float ? 0 : cout);
    void *d = p->d = tml_kalloc_requant(ctx, bytes, nq);
    TML_KCHECK(d, TML_ERR_ARENA_SMALL, KP_MSG(KP_ARENA));
    // The leading fields of the op's data (tml_kparams.h), copied in at the
    // end; the window's only for CONV_2D and DEPTHWISE_CONV_2D.
    struct {
        tml_kparams_head_t h;
        tml_kparams_window_t w;
    } k;
    memset(&k, 0, sizeof(k));
    int act;
    if (fc) {
        act = tml_opt_i8(o, 0, TML_ACT_NONE);
    } else {
        // Conv2DOptions and DepthwiseConv2DOptions differ by the depth
        // multiplier before the fused activation (read from the shapes).
        const unsigned f = kind == TML_KPREP_DWCONV2D ? 4 : 3;
        const int padding = tml_opt_i8(o, 0, TML_PAD_SAME);
        k.w.stride_w = tml_opt_i32(o, 1, 1);
        k.w.stride_h = tml_opt_i32(o, 2, 1);
        act = tml_opt_i8(o, f, TML_ACT_NONE);
        k.w.dil_w = tml_opt_i32(o, f + 1, 1);
        k.w.dil_h = tml_opt_i32(o, f + 2, 1);
        const int geo = tml_kprep_geometry(&k.w, padding, in, out, filter->dims[1], filter->dims[2]);
        if (geo != TML_KPREP_GEO_OK) {
            // The texts of TML_KPREP_GEO_STRIDE, _PADDING and _SIZE in order.
            return tml_kfail(ctx, geo == TML_KPREP_GEO_SIZE ? TML_ERR_SHAPE : TML_ERR_MODEL,
                KP_MSG(KP_STRIDES + geo - TML_KPREP_GEO_STRIDE));
        }
    }
    if (is_float) {
        TML_KCHECK(filter->type == TML_TYPE_FLOAT32 && out->type == TML_TYPE_FLOAT32
            && (!bias || bias->type == TML_TYPE_FLOAT32), TML_ERR_UNSUPPORTED_TYPE, KP_MSG(KP_FLOAT));
        TML_KCHECK(tml_activation_range_f32(act, &k.h.fact_min, &k.h.fact_max) == TML_OK, TML_ERR_CONFIG,
            KP_MSG(KP_ACT));
    } else {
        TML_KCHECK(in->type == TML_TYPE_INT8 && filter->type == TML_TYPE_INT8 && out->type == TML_TYPE_INT8,
            TML_ERR_UNSUPPORTED_TYPE, KP_MSG(KP_TYPES));
        TML_KCHECK(!bias || bias->type == TML_TYPE_INT32, TML_ERR_UNSUPPORTED_TYPE, KP_MSG(KP_BIAS_TYPE));
        TML_KCHECK(tml_q8_ok(in) && tml_q8_ok(out) && filter->n_quant >= 1, TML_ERR_QUANT, KP_MSG(KP_QUANT));
        // Per-channel scales run along the output channels: the filter's
        // last dimension for DEPTHWISE_CONV_2D, the first otherwise.
        TML_KCHECK(filter->n_quant == 1 || ((int32_t)filter->n_quant == cout
            && filter->quant_dim == (kind == TML_KPREP_DWCONV2D ? 3u : 0u)), TML_ERR_QUANT, KP_MSG(KP_PER_CHANNEL));
        TML_KCHECK(tml_activation_range_s8(act, out->scale, out->zero_point, &k.h.act_min, &k.h.act_max) == TML_OK,
            TML_ERR_CONFIG, KP_MSG(KP_ACT));
        k.h.input_offset = -in->zero_point;
        k.h.output_offset = out->zero_point;
    }
    memcpy(d, &k, fc ? sizeof(k.h) : sizeof(k));
    if (fc) {
        tml_fc_data_t *f = d;
        f->n_mult = nq;
        f->per_channel = !is_float && filter->n_quant > 1;
        f->filter_offset = is_float ? 0 : -filter->zero_point;
    }
    if (!is_float) {
        // mult[] ends each op's struct (checked in tml_kparams.h).
        int32_t *mult = (int32_t *)(void *)((uint8_t *)d + bytes);
        tml_channel_multipliers(in, filter, out, nq, mult, (int8_t *)(mult + nq));
    }
    ctx->user_data = d;
    return TML_OK;
}

// Output size of one spatial dimension and its leading padding; -1 when
// the output size is not `out`.
static int32_t kprep_pad(int padding, int32_t in, int32_t filter, int32_t stride, int32_t dil, int32_t out) {
    if (tml_conv_out_size(padding, in, filter, stride, dil) != out) {
        return -1;
    }
    return tml_conv_pad(stride, dil, in, filter, out);
}

int tml_kprep_geometry(tml_kparams_window_t *w, int padding, const tml_tensor_t *in, const tml_tensor_t *out,
    int32_t fh, int32_t fw) {
    if (w->stride_w <= 0 || w->stride_h <= 0 || w->dil_w <= 0 || w->dil_h <= 0) {
        return TML_KPREP_GEO_STRIDE;
    }
    if (padding != TML_PAD_SAME && padding != TML_PAD_VALID) {
        return TML_KPREP_GEO_PADDING;
    }
    const int32_t pad_h = kprep_pad(padding, in->dims[1], fh, w->stride_h, w->dil_h, out->dims[1]);
    const int32_t pad_w = kprep_pad(padding, in->dims[2], fw, w->stride_w, w->dil_w, out->dims[2]);
    if (pad_h < 0 || pad_w < 0) {
        return TML_KPREP_GEO_SIZE;
    }
    w->pad_h = pad_h;
    w->pad_w = pad_w;
    return TML_KPREP_GEO_OK;
}
