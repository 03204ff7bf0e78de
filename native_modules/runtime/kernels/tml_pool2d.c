// AVERAGE_POOL_2D and MAX_POOL_2D, int8 and float32. Input and output share
// their quantization (the converter guarantees it), so int8 pooling works
// on raw values: the average rounds half away from zero, windows are cut at
// the image border and count only the pixels inside.
#include "tml_kernels.h"
#include "tml_quant.h"
#include "tml_kprep.h"

typedef struct {
    tml_kparams_window_t w;     // dilations 1
    int32_t filter_w, filter_h;
    union {                     // the fused activation's range
        int32_t q[2];           // int8
        float f[2];             // float32
    } act;
} tml_pool_data_t;

static tml_status_t pool_prepare(tml_op_ctx_t *ctx, const char *bad_io, const char *bad_type) {
    TML_KCHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1 && ctx->inputs[0], TML_ERR_MODEL, bad_io);
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *out = ctx->outputs[0];
    TML_KCHECK(in->ndim == 4 && out->ndim == 4 && in->dims[0] == out->dims[0] && in->dims[3] == out->dims[3],
        TML_ERR_SHAPE, "POOL_2D: input and output must be 4-D with equal batch and channels");
    TML_KCHECK(in->type == out->type && (in->type == TML_TYPE_INT8 || tml_is_f32(in)),
        TML_ERR_UNSUPPORTED_TYPE, bad_type);
    tml_pool_data_t *d = tml_kalloc(ctx, sizeof(*d));
    TML_KCHECK(d, TML_ERR_ARENA_SMALL, "POOL_2D: arena full");
    const tml_options_t *o = &ctx->options;
    const int padding = tml_opt_i8(o, 0, TML_PAD_SAME);
    d->w.stride_w = tml_opt_i32(o, 1, 1);
    d->w.stride_h = tml_opt_i32(o, 2, 1);
    d->w.dil_w = 1;
    d->w.dil_h = 1;
    d->filter_w = tml_opt_i32(o, 3, 1);
    d->filter_h = tml_opt_i32(o, 4, 1);
    int act = tml_opt_i8(o, 5, TML_ACT_NONE);
    const int geo = d->filter_w > 0 && d->filter_h > 0
        ? tml_kprep_geometry(&d->w, padding, in, out, d->filter_h, d->filter_w) : TML_KPREP_GEO_STRIDE;
    TML_KCHECK(geo != TML_KPREP_GEO_STRIDE, TML_ERR_MODEL, "POOL_2D: strides and filter size must be positive");
    TML_KCHECK(geo != TML_KPREP_GEO_PADDING, TML_ERR_MODEL, "POOL_2D: unknown padding");
    TML_KCHECK(geo == TML_KPREP_GEO_OK, TML_ERR_SHAPE, "POOL_2D: output size does not match padding and strides");
    if (tml_is_f32(in)) {
        TML_KCHECK(tml_activation_range_f32(act, &d->act.f[0], &d->act.f[1]) == TML_OK, TML_ERR_CONFIG,
            "POOL_2D: unsupported fused activation");
    } else {
        TML_KCHECK(tml_q8_ok(in) && tml_q8_ok(out), TML_ERR_QUANT, "POOL_2D: missing or invalid quantization");
        TML_KCHECK(tml_activation_range_s8(act, out->scale, out->zero_point, &d->act.q[0], &d->act.q[1]) == TML_OK,
            TML_ERR_CONFIG, "POOL_2D: unsupported fused activation");
    }
    ctx->user_data = d;
    return TML_OK;
}

tml_status_t tml_avgpool2d_prepare(tml_op_ctx_t *ctx) {
    return pool_prepare(ctx, "AVERAGE_POOL_2D: expects 1 input and 1 output",
        "AVERAGE_POOL_2D: only int8 and float32 are supported");
}

tml_status_t tml_maxpool2d_prepare(tml_op_ctx_t *ctx) {
    return pool_prepare(ctx, "MAX_POOL_2D: expects 1 input and 1 output",
        "MAX_POOL_2D: only int8 and float32 are supported");
}

// Window [*y_start, *y_end) x [*x_start, *x_end) of one output pixel.
typedef struct {
    int32_t ys, ye, xs, xe, y0, x0;
} pool_window_t;

static inline pool_window_t pool_window(const tml_pool_data_t *d, int32_t oy, int32_t ox, int32_t ih, int32_t iw) {
    pool_window_t win;
    win.y0 = oy * d->w.stride_h - d->w.pad_h;
    win.x0 = ox * d->w.stride_w - d->w.pad_w;
    win.ys = tml_max_i32(0, -win.y0);
    win.ye = tml_min_i32(d->filter_h, ih - win.y0);
    win.xs = tml_max_i32(0, -win.x0);
    win.xe = tml_min_i32(d->filter_w, iw - win.x0);
    return win;
}

// Sum and maximum over a window of one channel: p is its first element, rows
// are row_step and columns col_step elements apart.
static void pool_f32(const float *p, const pool_window_t *win, int32_t row_step, int32_t col_step,
    float *total, float *mx) {
    float t = 0.0f, m = -FLT_MAX;
    for (int32_t ky = win->ys; ky < win->ye; ky++, p += row_step) {
        for (int32_t kx = 0; kx < win->xe - win->xs; kx++) {
            const float v = p[kx * col_step];
            t += v;
            m = m < v ? v : m;
        }
    }
    *total = t;
    *mx = m;
}

static void pool_s8(const int8_t *p, const pool_window_t *win, int32_t row_step, int32_t col_step,
    int32_t *total, int32_t *mx) {
    int32_t t = 0, m = -128;
    for (int32_t ky = win->ys; ky < win->ye; ky++, p += row_step) {
        for (int32_t kx = 0; kx < win->xe - win->xs; kx++) {
            const int32_t v = p[kx * col_step];
            t += v;
            m = m > v ? m : v;
        }
    }
    *total = t;
    *mx = m;
}

// Average (avg != 0) or maximum of every channel over each output pixel's
// window. Averages round half away from zero; an empty window gives 0.
static tml_status_t pool_eval(tml_op_ctx_t *ctx, int avg) {
    const tml_pool_data_t *d = ctx->user_data;
    const tml_tensor_t *in = ctx->inputs[0];
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t nb = in->dims[0], ih = in->dims[1], iw = in->dims[2], ch = in->dims[3];
    const int32_t oh = out->dims[1], ow = out->dims[2];
    const int is_float = tml_is_f32(in);
    for (int32_t b = 0; b < nb; b++) {
        for (int32_t oy = 0; oy < oh; oy++) {
            for (int32_t ox = 0; ox < ow; ox++) {
                const pool_window_t win = pool_window(d, oy, ox, ih, iw);
                const int32_t count = (win.ye - win.ys) * (win.xe - win.xs);
                const size_t obase = (((size_t)b * oh + oy) * ow + ox) * ch;
                // Element (ky, kx) of channel c is at first[(ky * iw + kx) * ch + c].
                const size_t first = (((size_t)b * ih + win.y0 + win.ys) * iw + win.x0 + win.xs) * ch;
                for (int32_t c = 0; c < ch; c++) {
                    if (is_float) {
                        float total, mx;
                        pool_f32((const float *)in->data + first + c, &win, iw * ch, ch, &total, &mx);
                        const float r = avg ? (count > 0 ? total / (float)count : 0.0f) : mx;
                        ((float *)out->data)[obase + c] = tml_clamp_f32(r, d->act.f[0], d->act.f[1]);
                    } else {
                        int32_t total, mx;
                        pool_s8((const int8_t *)in->data + first + c, &win, iw * ch, ch, &total, &mx);
                        if (avg && count > 0) {
                            total = total > 0 ? (total + count / 2) / count : (total - count / 2) / count;
                        }
                        ((int8_t *)out->data)[obase + c] = (int8_t)tml_clamp_i32(avg ? total : mx, d->act.q[0], d->act.q[1]);
                    }
                }
            }
        }
    }
    return TML_OK;
}

tml_status_t tml_avgpool2d_eval(tml_op_ctx_t *ctx) {
    return pool_eval(ctx, 1);
}

tml_status_t tml_maxpool2d_eval(tml_op_ctx_t *ctx) {
    return pool_eval(ctx, 0);
}
