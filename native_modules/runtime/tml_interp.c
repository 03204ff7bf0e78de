// Interpreter of the int8 runtime: model reader, memory planner, invoke loop.
// See tml_interp.h for the API and the arena layout.
//
// The reader follows the .tflite schema (schema version 3). Field numbers
// below are the schema's field order; every access goes through tml_fb.h,
// which checks it against the model size, so a malformed model produces an
// error, never a read outside the model bytes.
#include <stdarg.h>
#include <string.h>

#include "tml_interp.h"
#include "tml_fb.h"

// Code size: helpers that gcc would otherwise inline into several callers
// (or a single large caller, at a cost in spills) stay out of line.
#if defined(__GNUC__)
#define TML_NOINLINE __attribute__((noinline))
#else
#define TML_NOINLINE
#endif

#define TML_SCHEMA_VERSION 3u
#define TML_ALIGN 16u
#define TML_OP_CUSTOM 32

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define TML_LE_HOST 0
#else
#define TML_LE_HOST 1
#endif

// Shape of a scalar (ndim 0): never read by a correct kernel.
static const int32_t tml_scalar_dims[1] = { 1 };

// Schema field numbers.
enum { MODEL_VERSION = 0, MODEL_OPCODES = 1, MODEL_SUBGRAPHS = 2, MODEL_BUFFERS = 4 };
enum { SG_TENSORS = 0, SG_INPUTS = 1, SG_OUTPUTS = 2, SG_OPERATORS = 3 };
enum {
    TENSOR_SHAPE = 0, TENSOR_TYPE = 1, TENSOR_BUFFER = 2, TENSOR_NAME = 3, TENSOR_QUANT = 4,
    TENSOR_IS_VARIABLE = 5, TENSOR_SPARSITY = 6, TENSOR_SHAPE_SIGNATURE = 7, TENSOR_EXTERNAL_BUFFER = 10,
};
enum { BUFFER_DATA = 0, BUFFER_OFFSET = 1 };
enum { QUANT_MIN = 0, QUANT_MAX = 1, QUANT_SCALE = 2, QUANT_ZERO_POINT = 3, QUANT_DETAILS_TYPE = 4, QUANT_DIM = 6 };
enum { OP_OPCODE_INDEX = 0, OP_INPUTS = 1, OP_OUTPUTS = 2, OP_OPTIONS = 4, OP_CUSTOM_OPTIONS = 5 };
enum { OPCODE_DEPRECATED = 0, OPCODE_CUSTOM = 1, OPCODE_VERSION = 2, OPCODE_BUILTIN = 3 };

enum { PHASE_NONE = 0, PHASE_LOAD, PHASE_PREPARE, PHASE_READY };

// An op in the arena holds only what differs between ops. Kernels see it
// through the interpreter's single context (tml_interp_t.ctx), filled in
// before each prepare()/eval() call: the services, the model and the
// interpreter pointer are the same for every op and are not repeated.
typedef struct tml_node {
    tml_tensor_t **io;      // inputs, then outputs
    void *user_data;
    uint32_t options;       // options table in the model, 0 if none
    uint16_t n_inputs;
    uint16_t n_outputs;
    uint16_t reg;           // index in tml_op_registry
    uint8_t version;
} tml_node_t;

// Point the shared kernel context at op i.
static tml_op_ctx_t *tml_bind(tml_interp_t *it, uint32_t i) {
    const tml_node_t *n = &it->nodes[i];
    tml_op_ctx_t *c = &it->ctx;
    c->inputs = n->io;
    c->outputs = n->io + n->n_inputs;
    c->n_inputs = n->n_inputs;
    c->n_outputs = n->n_outputs;
    c->builtin_code = tml_op_registry[n->reg].builtin_code;
    c->version = n->version;
    c->options.table = n->options;
    c->user_data = n->user_data;
    c->error_detail = NULL;
    it->current_op = (int32_t)i;
    return c;
}

typedef struct tml_scratch {
    uint32_t offset;
    int32_t op;
} tml_scratch_t;

// One buffer for the planner: a non-constant tensor or a scratch request.
// One buffer for the planner: a non-constant tensor or a scratch request.
#define TML_NONE 0xffffu
typedef struct tml_plan_rec {
    uint32_t size;
    uint32_t offset;
    uint16_t first;     // first op using it; TML_NONE: used by none
    uint16_t last;
    uint16_t alias;     // record whose memory it shares; TML_NONE: its own
    uint16_t tensor;    // tensor index; TML_NONE for scratch
} tml_plan_rec_t;

// ---------------------------------------------------------------------------
// Error messages: a tiny formatter (%s, %d, %u) so the core needs no libc
// printf, which bare-metal and native-module builds do not have. Builds
// with TML_ERROR_TEXT 0 (tml_op.h) keep only the status texts: there a
// failing check just returns its status, and tml_interp_init writes the
// text once on its way out.

#if TML_ERROR_TEXT
#define TML_FAIL(err, status, ...) tml_fail((err), (status), __VA_ARGS__)
#else
#define TML_FAIL(err, status, ...) ((void)(err), (status))
#endif

TML_NOINLINE static size_t tml_put(char *buf, size_t pos, size_t cap, const char *s) {
    while (*s && pos + 1 < cap) {
        buf[pos++] = *s++;
    }
    return pos;
}

static size_t tml_put_u(char *buf, size_t pos, size_t cap, uint32_t v) {
    char tmp[11];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0 && pos + 1 < cap) {
        buf[pos++] = tmp[--n];
    }
    return pos;
}

static tml_status_t tml_end_msg(tml_error_t *err, size_t pos, tml_status_t status) {
    err->msg[pos] = 0;
    err->status = status;
    return status;
}

#if TML_ERROR_TEXT
static tml_status_t tml_fail(tml_error_t *err, tml_status_t status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t pos = 0, cap = sizeof(err->msg);
    for (const char *f = fmt; *f && pos + 1 < cap; f++) {
        if (*f != '%' || f[1] == 0) {
            err->msg[pos++] = *f;
            continue;
        }
        f++;
        if (*f == 's') {
            const char *s = va_arg(ap, const char *);
            pos = tml_put(err->msg, pos, cap, s ? s : "?");
        } else if (*f == 'u') {
            pos = tml_put_u(err->msg, pos, cap, va_arg(ap, unsigned));
        } else if (*f == 'd') {
            int v = va_arg(ap, int);
            if (v < 0) {
                pos = tml_put(err->msg, pos, cap, "-");
                pos = tml_put_u(err->msg, pos, cap, (uint32_t)(-(int64_t)v));
            } else {
                pos = tml_put_u(err->msg, pos, cap, (uint32_t)v);
            }
        } else {
            err->msg[pos++] = *f;
        }
    }
    va_end(ap);
    return tml_end_msg(err, pos, status);
}
#else
static tml_status_t tml_fail_status(tml_error_t *err, tml_status_t status) {
    return tml_end_msg(err, tml_put(err->msg, 0, sizeof(err->msg), tml_error_str(status)), status);
}
#endif

// "unsupported operator NAME (code N)", or "... code N" for a code without a
// known name: in every build, since a firmware built for other models must
// say which operator it lacks.
static tml_status_t tml_fail_unsupported(tml_error_t *err, int32_t code) {
    const size_t cap = sizeof(err->msg);
#if TML_ERROR_TEXT
    const char *name = tml_op_name(code);
#else
    // Without the name table tml_op_name() knows the registered kernels
    // only, and the code has none.
    const char *name = NULL;
#endif
    size_t pos = tml_put(err->msg, 0, cap, "unsupported operator ");
    if (name != NULL) {
        pos = tml_put(err->msg, tml_put(err->msg, pos, cap, name), cap, " (");
    }
    pos = tml_put(err->msg, pos, cap, code < 0 ? "code -" : "code ");
    pos = tml_put_u(err->msg, pos, cap, code < 0 ? (uint32_t)(-(int64_t)code) : (uint32_t)code);
    if (name != NULL) {
        pos = tml_put(err->msg, pos, cap, ")");
    }
    return tml_end_msg(err, pos, TML_ERR_UNSUPPORTED_OP);
}

// ---------------------------------------------------------------------------
// Arena: persistent memory grows up from the head, load-time temporaries
// grow down from the tail.

static uint32_t tml_align_up(uint32_t v, uint32_t a) {
    return (v + a - 1) & ~(a - 1);
}

// Take `bytes` from the head (tail = 0: persistent, aligned to `align`) or
// from the tail (tail = 1: load-time temporaries, 16-byte granules, each
// below the last). On failure the first one records the arena size it would
// have needed.
static void *tml_alloc(tml_interp_t *it, size_t bytes, uint32_t align, int tail) {
    uint32_t head = tml_align_up(it->persistent, tail ? TML_ALIGN : align);
    uint32_t room = it->arena_size - it->temp;     // temp <= arena_size
    if (bytes > TML_MAX_TENSOR_BYTES || head > room
        || (tail ? tml_align_up((uint32_t)bytes, TML_ALIGN) : (uint32_t)bytes) > room - head) {
        if (!it->alloc_failed) {
            it->alloc_failed = 1;
            // head + temp <= arena_size + 15 < 2^31: no overflow before bytes.
            uint32_t need = head + it->temp;
            it->alloc_needed = bytes > 0xFFFFFFF0u - need ? 0xFFFFFFF0u : tml_align_up(need + (uint32_t)bytes, TML_ALIGN);
        }
        return NULL;
    }
    if (tail) {
        it->temp += tml_align_up((uint32_t)bytes, TML_ALIGN);
        if (it->temp > it->temp_peak) {
            it->temp_peak = it->temp;
        }
        return it->arena + it->arena_size - it->temp;
    }
    it->persistent = head + (uint32_t)bytes;
    // Zeroed here once for every user (tensor and op tables, kernel state).
    return memset(it->arena + head, 0, bytes);
}

#define tml_persist_alloc(it, bytes, align) tml_alloc((it), (bytes), (align), 0)
#define tml_temp_alloc(it, bytes) tml_alloc((it), (bytes), TML_ALIGN, 1)

// Kernel services (tml_op_ctx_t function pointers).

static void *tml_svc_alloc_persistent(tml_op_ctx_t *ctx, size_t bytes) {
    tml_interp_t *it = (tml_interp_t *)ctx->interp;
    if (it->phase != PHASE_PREPARE) {
        return NULL;
    }
    return tml_persist_alloc(it, bytes, TML_ALIGN);
}

static int32_t tml_svc_request_scratch(tml_op_ctx_t *ctx, size_t bytes) {
    tml_interp_t *it = (tml_interp_t *)ctx->interp;
    if (it->phase != PHASE_PREPARE || it->n_scratch >= TML_MAX_SCRATCH || bytes > TML_MAX_TENSOR_BYTES) {
        return -1;
    }
    // Scratch records sit at the tail in request order, each below the last.
    tml_plan_rec_t *r = (tml_plan_rec_t *)tml_temp_alloc(it, sizeof(tml_plan_rec_t));
    if (r == NULL) {
        return -1;
    }
    r->size = tml_align_up((uint32_t)bytes, TML_ALIGN);
    r->offset = 0;
    r->first = (uint16_t)it->current_op;
    r->last = (uint16_t)it->current_op;
    r->alias = TML_NONE;
    r->tensor = TML_NONE;
    return (int32_t)it->n_scratch++;
}

static void *tml_svc_get_scratch(tml_op_ctx_t *ctx, int32_t index) {
    tml_interp_t *it = (tml_interp_t *)ctx->interp;
    if (it->phase != PHASE_READY || index < 0 || (uint32_t)index >= it->n_scratch
        || it->scratch[index].op != it->current_op) {
        return NULL;
    }
    return it->arena + it->scratch[index].offset;
}

// ---------------------------------------------------------------------------
// Model reader. Field reads go through the sticky-error reader of tml_fb.h:
// each group of reads is followed by one check of fb->bad, at the place (and
// with the status) where the group's first malformed field is reported.

#define S1(id) TML_FB_SPEC(id, TML_FB_S1)
#define S4(id) TML_FB_SPEC(id, TML_FB_S4)
#define S8(id) TML_FB_SPEC(id, TML_FB_S8)
#define V1(id) TML_FB_SPEC(id, TML_FB_V1)
#define V4(id) TML_FB_SPEC(id, TML_FB_V4)
#define V8(id) TML_FB_SPEC(id, TML_FB_V8)
#define STR(id) TML_FB_SPEC(id, TML_FB_STR)
#define TAB(id) TML_FB_SPEC(id, TML_FB_TAB)

// Element size of a tensor type (schema TensorType), 0 when not supported:
// FLOAT32 INT32 UINT32 = 4, FLOAT16 INT16 UINT16 = 2, UINT8 INT8 BOOL = 1,
// INT64 FLOAT64 UINT64 = 8.
static const uint8_t tml_type_sizes[17] = { 4, 2, 4, 1, 8, 0, 1, 2, 0, 1, 8, 0, 8, 0, 0, 4, 2 };

// A usable scale: a normal, positive, finite float.
static int tml_scale_ok(const uint8_t *p) {
    uint32_t bits = tml_fb_u32(p);
    return bits >= 0x00800000u && bits < 0x7f800000u;
}

static tml_status_t tml_load_quant(tml_interp_t *it, tml_fb_t *fb, uint32_t qt, uint32_t idx,
    tml_tensor_t *t, tml_error_t *err) {
    (void)idx;  // named in the messages only
    static const uint8_t quant_fields[5] = {
        V4(QUANT_MIN), V4(QUANT_MAX), V4(QUANT_SCALE), V8(QUANT_ZERO_POINT), S1(QUANT_DETAILS_TYPE),
    };
    uint32_t v[10];
    tml_fb_gets(fb, qt, quant_fields, 5, v);
    const uint32_t scales = v[4], n_s = v[5], zps = v[6], n_z = v[7];
    if (fb->bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "tensor %u: malformed quantization", idx);
    }
    if (v[8] != 0 && it->model[v[8]] != 0) {
        return TML_FAIL(err, TML_ERR_CONFIG, "tensor %u: custom quantization is not supported", idx);
    }
    int32_t qdim = (int32_t)tml_fb_val(fb, qt, S4(QUANT_DIM), 0);
    if (fb->bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "tensor %u: malformed quantization", idx);
    }
    if (n_s == 0) {
        return TML_OK;
    }
    if (n_s > 0xffffu) {
        return TML_FAIL(err, TML_ERR_LIMIT, "tensor %u: more than 65535 quantization channels", idx);
    }
    if (n_z != n_s) {
        return TML_FAIL(err, TML_ERR_QUANT, "tensor %u: %u scales but %u zero points", idx, n_s, n_z);
    }
    // Zero points must lie in [zlo, zlo + zspan]: z - zlo, modulo 2^64,
    // is at most zspan exactly then.
    int64_t zlo = INT32_MIN;
    uint64_t zspan = UINT32_MAX;
    if (t->type == TML_TYPE_INT8) {
        zlo = -128;
        zspan = 255;
    } else if (t->type == TML_TYPE_UINT8) {
        zlo = 0;
        zspan = 255;
    }
    for (uint32_t i = 0; i < n_s; i++) {
        if (!tml_scale_ok(it->model + scales + 4 * i)) {
            return TML_FAIL(err, TML_ERR_QUANT, "tensor %u: invalid scale", idx);
        }
        if (tml_fb_u64(it->model + zps + 8 * i) - (uint64_t)zlo > zspan) {
            return TML_FAIL(err, TML_ERR_QUANT, "tensor %u: zero point out of range", idx);
        }
    }
    // Some converters write the filter's quantized dimension into the
    // matching 1-D bias too: there the only dimension is meant.
    if (n_s > 1 && t->ndim == 1 && (uint32_t)t->dims[0] == n_s) {
        qdim = 0;
    }
    if (n_s > 1 && (qdim < 0 || qdim >= (int32_t)t->ndim || (uint32_t)t->dims[qdim] != n_s)) {
        return TML_FAIL(err, TML_ERR_QUANT, "tensor %u: %u scales do not match quantized dimension %d",
            idx, n_s, (int)qdim);
    }
    t->n_quant = (uint16_t)n_s;
    t->quant_dim = (unsigned)qdim;
    t->scale = tml_fb_f32(it->model + scales);
    t->zero_point = (int32_t)tml_fb_i64(it->model + zps);
    t->quant = it->model + qt;
    return TML_OK;
}

static tml_status_t tml_load_tensor(tml_interp_t *it, tml_fb_t *fb, uint32_t tt, uint32_t idx,
    uint32_t buffers, uint32_t n_buffers, tml_error_t *err) {
    tml_tensor_t *t = &it->tensors[idx];
    uint32_t shape = tml_fb_get(fb, tt, V4(TENSOR_SHAPE)), ndim = fb->n;
    if (fb->bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "tensor %u: malformed shape", idx);
    }
    if (ndim > TML_MAX_DIMS) {
        return TML_FAIL(err, TML_ERR_LIMIT, "tensor %u has %u dimensions (at most %u)", idx, ndim, TML_MAX_DIMS);
    }
    uint32_t type = tml_fb_val(fb, tt, S1(TENSOR_TYPE), 0);
    if (fb->bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "tensor %u: malformed type", idx);
    }
    uint32_t esize = type < sizeof(tml_type_sizes) ? tml_type_sizes[type] : 0;
    if (esize == 0) {
        return TML_FAIL(err, TML_ERR_UNSUPPORTED_TYPE, "tensor %u has unsupported type %u", idx, type);
    }
    t->type = (uint8_t)type;
    t->ndim = (uint8_t)ndim;
    uint32_t bytes = esize;
    for (uint32_t i = 0; i < ndim; i++) {
        int32_t d = tml_fb_i32(it->model + shape + 4 * i);
        if (d < 1) {
            return TML_FAIL(err, TML_ERR_SHAPE, "tensor %u has dimension %d", idx, (int)d);
        }
        // bytes * d > TML_MAX_TENSOR_BYTES, without overflow.
        if ((uint32_t)d > TML_MAX_TENSOR_BYTES / bytes) {
            return TML_FAIL(err, TML_ERR_LIMIT, "tensor %u is too large", idx);
        }
        bytes *= (uint32_t)d;
    }
    t->bytes = bytes;
    // The shape is used in place like the constant data: only a model at an
    // address that is not 4-byte aligned (or a big-endian core) needs a copy.
    if (ndim == 0) {
        t->dims = tml_scalar_dims;
    } else if (TML_LE_HOST && ((uintptr_t)(it->model + shape) & 3u) == 0) {
        t->dims = (const int32_t *)(const void *)(it->model + shape);
    } else {
        int32_t *dims = (int32_t *)tml_persist_alloc(it, (size_t)ndim * 4, 4);
        if (dims == NULL) {
            return TML_ERR_ARENA_SMALL;
        }
#if TML_LE_HOST
        memcpy(dims, it->model + shape, (size_t)ndim * 4);
#else
        for (uint32_t i = 0; i < ndim; i++) {
            dims[i] = tml_fb_i32(it->model + shape + 4 * i);
        }
#endif
        t->dims = dims;
    }

    // Constant data: the tensor's buffer, used in place.
    uint32_t bidx = tml_fb_val(fb, tt, S4(TENSOR_BUFFER), 0);
    if (fb->bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "tensor %u: malformed buffer index", idx);
    }
    if (bidx >= n_buffers) {
        return TML_FAIL(err, TML_ERR_MODEL, "tensor %u: buffer %u out of range (%u buffers)", idx, bidx, n_buffers);
    }
    uint32_t bt = tml_fb_elem(fb, buffers, bidx);
    uint32_t data = tml_fb_get(fb, bt, V1(BUFFER_DATA)), n_data = fb->n;
    uint32_t pos = tml_fb_get(fb, bt, S8(BUFFER_OFFSET));
    if (fb->bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "tensor %u: malformed buffer %u", idx, bidx);
    }
    if (pos != 0 && tml_fb_u64(it->model + pos) > 1) {
        return TML_FAIL(err, TML_ERR_CONFIG, "tensor %u: buffers outside the flatbuffer are not supported", idx);
    }
    if (n_data != 0) {
        if (n_data != t->bytes) {
            return TML_FAIL(err, TML_ERR_MODEL, "tensor %u: buffer holds %u bytes, shape needs %u",
                idx, n_data, t->bytes);
        }
        t->data = (void *)(uintptr_t)(it->model + data);
        t->is_const = 1;
        // Kernels may read wide constants through typed pointers. The
        // converter aligns buffers inside the file, so they are aligned
        // whenever the model bytes are; a model placed at an odd address
        // (frozen bytes, a ROMFS file) gets copies of just those tensors.
        if (((uintptr_t)t->data & (esize - 1)) != 0) {
            void *copy = tml_persist_alloc(it, t->bytes, TML_ALIGN);
            if (copy == NULL) {
                return TML_ERR_ARENA_SMALL;
            }
            memcpy(copy, t->data, t->bytes);
            t->data = copy;
        }
    }

    // Fields not used, still checked so that no part of the model is trusted blindly.
    tml_fb_get(fb, tt, STR(TENSOR_NAME));
    tml_fb_get(fb, tt, V4(TENSOR_SHAPE_SIGNATURE));
    if (fb->bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "tensor %u: malformed name or shape signature", idx);
    }
    if (tml_fb_get(fb, tt, S4(TENSOR_SPARSITY)) != 0 || fb->bad) {
        return TML_FAIL(err, TML_ERR_CONFIG, "tensor %u: sparse tensors are not supported", idx);
    }
    if (tml_fb_val(fb, tt, S4(TENSOR_EXTERNAL_BUFFER), 0) != 0 || fb->bad) {
        return TML_FAIL(err, TML_ERR_CONFIG, "tensor %u: external buffers are not supported", idx);
    }
    uint32_t is_variable = tml_fb_val(fb, tt, S1(TENSOR_IS_VARIABLE), 0);
    if (fb->bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "tensor %u: malformed flags", idx);
    }
    if (is_variable != 0) {
        // A variable's initial value is copied into the arena at plan time.
        t->is_variable = 1;
        t->is_const = 0;
    }

    uint32_t qt = tml_fb_get(fb, tt, TAB(TENSOR_QUANT));
    if (fb->bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "tensor %u: malformed quantization", idx);
    }
    if (qt != 0) {
        return tml_load_quant(it, fb, qt, idx, t, err);
    }
    return TML_OK;
}

// Copy a subgraph's input or output index list into persistent memory.
static tml_status_t tml_load_io(tml_interp_t *it, tml_fb_t *fb, uint32_t sg, unsigned is_out, tml_error_t *err) {
#if TML_ERROR_TEXT
    const char *what = is_out ? "output" : "input";
#endif
    uint32_t e = tml_fb_get(fb, sg, is_out ? V4(SG_OUTPUTS) : V4(SG_INPUTS)), n = fb->n;
    if (fb->bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "malformed graph %s", what);
    }
    if (n > TML_MAX_OP_IO) {
        return TML_FAIL(err, TML_ERR_LIMIT, "too many graph %ss (%u)", what, n);
    }
    int32_t *list = (int32_t *)tml_persist_alloc(it, (size_t)n * 4, 4);
    if (list == NULL && n > 0) {
        return TML_ERR_ARENA_SMALL;
    }
    for (uint32_t i = 0; i < n; i++) {
        int32_t ti = tml_fb_i32(it->model + e + 4 * i);
        if (ti < 0 || (uint32_t)ti >= it->n_tensors) {
            return TML_FAIL(err, TML_ERR_MODEL, "graph %s %u refers to tensor %d of %u", what, i, (int)ti, it->n_tensors);
        }
        if (it->tensors[ti].is_const) {
            return TML_FAIL(err, TML_ERR_MODEL, "graph %s %u is a constant tensor", what, i);
        }
        list[i] = ti;
    }
    if (is_out) {
        it->outputs = list;
        it->n_outputs = n;
    } else {
        it->inputs = list;
        it->n_inputs = n;
    }
    return TML_OK;
}

static tml_status_t tml_load_op(tml_interp_t *it, tml_fb_t *fb, uint32_t ot, uint32_t i,
    uint32_t opcodes, uint32_t n_opcodes, tml_error_t *err) {
    tml_node_t *node = &it->nodes[i];
    uint32_t oci = tml_fb_val(fb, ot, S4(OP_OPCODE_INDEX), 0);
    if (fb->bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "op %u: malformed", i);
    }
    uint32_t oc = oci < n_opcodes ? tml_fb_elem(fb, opcodes, oci) : 0;
    if (oc == 0) {
        return TML_FAIL(err, TML_ERR_MODEL, "op %u: operator code %u missing or malformed", i, oci);
    }
    // Models written before the code outgrew a byte carry it in the
    // deprecated field only; newer ones in both: the larger one is right.
    int32_t dep = (int8_t)tml_fb_val(fb, oc, S1(OPCODE_DEPRECATED), 0);
    int32_t version = (int32_t)tml_fb_val(fb, oc, S4(OPCODE_VERSION), 1);
    int32_t code = (int32_t)tml_fb_val(fb, oc, S4(OPCODE_BUILTIN), 0);
    if (fb->bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "op %u: malformed operator code", i);
    }
    if (dep > code) {
        code = dep;
    }
    if (code == TML_OP_CUSTOM) {
        uint32_t s = tml_fb_get(fb, oc, STR(OPCODE_CUSTOM));
        if (fb->bad) {
            return TML_FAIL(err, TML_ERR_MODEL, "op %u: malformed custom operator name", i);
        }
#if TML_ERROR_TEXT
        char name[33];
        uint32_t k;
        for (k = 0; k < fb->n && k < sizeof(name) - 1; k++) {
            uint8_t c = it->model[s + k];
            name[k] = (c >= 32 && c < 127) ? (char)c : '?';
        }
        name[k] = 0;
#else
        (void)s;
#endif
        return TML_FAIL(err, TML_ERR_UNSUPPORTED_OP, "unsupported custom operator '%s'", name);
    }
    const tml_op_registration_t *reg = tml_op_find(code);
    if (reg == NULL) {
        return tml_fail_unsupported(err, code);
    }
    if (version < 1 || version > reg->max_version) {
        return TML_FAIL(err, TML_ERR_MODEL_VERSION, "%s version %d not supported", reg->name, (int)version);
    }

    static const uint8_t op_fields[4] = { V4(OP_INPUTS), V4(OP_OUTPUTS), TAB(OP_OPTIONS), V1(OP_CUSTOM_OPTIONS) };
    uint32_t v[8];
    tml_fb_gets(fb, ot, op_fields, 4, v);
    const uint32_t ins = v[0], n_in = v[1], outs = v[2], n_out = v[3], opts = v[4];
    if (fb->bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "op %u (%s): malformed", i, reg->name);
    }
    if (n_in > TML_MAX_OP_IO || n_out > TML_MAX_OP_IO) {
        return TML_FAIL(err, TML_ERR_LIMIT, "op %u (%s): too many inputs or outputs", i, reg->name);
    }
    tml_tensor_t **ptrs = n_in + n_out == 0 ? NULL : (tml_tensor_t **)tml_persist_alloc(it, (size_t)(n_in + n_out) * sizeof(tml_tensor_t *),
        sizeof(void *));
    if (ptrs == NULL && n_in + n_out > 0) {
        return TML_ERR_ARENA_SMALL;
    }
    // Inputs (-1: an omitted optional one), then outputs.
    for (uint32_t k = 0; k < n_in + n_out; k++) {
        const int is_out = k >= n_in;
        const uint32_t kk = is_out ? k - n_in : k;
        int32_t ti = tml_fb_i32(it->model + (is_out ? outs : ins) + 4 * kk);
        if (ti == -1 && !is_out) {
            ptrs[k] = NULL;
            continue;
        }
        if (ti < 0 || (uint32_t)ti >= it->n_tensors) {
            return TML_FAIL(err, TML_ERR_MODEL, "op %u (%s): %s %u refers to tensor %d of %u",
                i, reg->name, is_out ? "output" : "input", kk, (int)ti, it->n_tensors);
        }
        tml_tensor_t *t = &it->tensors[ti];
        if (is_out) {
            if (t->is_const) {
                return TML_FAIL(err, TML_ERR_MODEL, "op %u (%s) writes constant tensor %d", i, reg->name, (int)ti);
            }
            // Kernels assume an output never shares memory with an input or
            // with another output of the same op.
            for (uint32_t j = 0; j < k; j++) {
                if (ptrs[j] == t) {
                    return TML_FAIL(err, TML_ERR_MODEL, "op %u (%s): tensor %d used twice as output", i, reg->name, (int)ti);
                }
            }
        }
        ptrs[k] = t;
    }
    node->io = ptrs;
    node->options = opts;
    node->n_inputs = (uint16_t)n_in;
    node->n_outputs = (uint16_t)n_out;
    node->reg = (uint16_t)(reg - tml_op_registry);
    node->version = (uint8_t)version;
    return TML_OK;
}

TML_NOINLINE static tml_status_t tml_load(tml_interp_t *it, tml_error_t *err) {
    tml_fb_t fb = { it->model, it->model_size, 0, 0 };
    if (tml_fb_u32(it->model + 4) != 0x334c4654u) {     // "TFL3"
        return TML_FAIL(err, TML_ERR_MODEL, "not a TFLite model (no TFL3 identifier)");
    }
    uint32_t root = tml_fb_check(&fb, tml_fb_u32(it->model));
    if (fb.bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "malformed model root table");
    }
    uint32_t version = tml_fb_val(&fb, root, S4(MODEL_VERSION), 0);
    if (fb.bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "malformed model version");
    }
    if (version != TML_SCHEMA_VERSION) {
        return TML_FAIL(err, TML_ERR_MODEL_VERSION, "model schema version %u not supported (expected 3)", version);
    }
    // Operator codes, subgraphs, buffers (position, count) and the description.
    static const uint8_t root_fields[4] = { V4(MODEL_OPCODES), V4(MODEL_SUBGRAPHS), V4(MODEL_BUFFERS), STR(3) };
    uint32_t v[8];
    tml_fb_gets(&fb, root, root_fields, 4, v);
    const uint32_t opcodes = v[0], n_opcodes = v[1], n_subgraphs = v[3], buffers = v[4], n_buffers = v[5];
    if (fb.bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "malformed model tables");
    }
    if (n_subgraphs == 0) {
        return TML_FAIL(err, TML_ERR_MODEL, "model has no subgraph");
    }
    uint32_t sg = tml_fb_elem(&fb, v[2], 0);
    uint32_t tensors = tml_fb_get(&fb, sg, V4(SG_TENSORS)), n_tensors = fb.n;
    uint32_t ops = tml_fb_get(&fb, sg, V4(SG_OPERATORS)), n_ops = fb.n;
    if (fb.bad) {
        return TML_FAIL(err, TML_ERR_MODEL, "malformed subgraph");
    }
    if (n_tensors > TML_MAX_TENSORS || n_ops > TML_MAX_OPS) {
        return TML_FAIL(err, TML_ERR_LIMIT, "too many tensors (%u) or operators (%u)", n_tensors, n_ops);
    }

    it->n_tensors = n_tensors;
    it->tensors = (tml_tensor_t *)tml_persist_alloc(it, (size_t)n_tensors * sizeof(tml_tensor_t), sizeof(void *));
    if (it->tensors == NULL && n_tensors > 0) {
        return TML_ERR_ARENA_SMALL;
    }
    tml_status_t st;
    for (uint32_t i = 0; i < n_tensors; i++) {
        uint32_t tt = tml_fb_elem(&fb, tensors, i);
        if (fb.bad) {
            return TML_FAIL(err, TML_ERR_MODEL, "tensor %u: malformed table", i);
        }
        if ((st = tml_load_tensor(it, &fb, tt, i, buffers, n_buffers, err)) != TML_OK) {
            return st;
        }
    }
    for (unsigned is_out = 0; is_out < 2; is_out++) {
        if ((st = tml_load_io(it, &fb, sg, is_out, err)) != TML_OK) {
            return st;
        }
    }

    it->n_ops = n_ops;
    it->nodes = (tml_node_t *)tml_persist_alloc(it, (size_t)n_ops * sizeof(tml_node_t), sizeof(void *));
    if (it->nodes == NULL && n_ops > 0) {
        return TML_ERR_ARENA_SMALL;
    }
    for (uint32_t i = 0; i < n_ops; i++) {
        uint32_t ot = tml_fb_elem(&fb, ops, i);
        if (fb.bad) {
            return TML_FAIL(err, TML_ERR_MODEL, "op %u: malformed table", i);
        }
        if ((st = tml_load_op(it, &fb, ot, i, opcodes, n_opcodes, err)) != TML_OK) {
            return st;
        }
    }
    return TML_OK;
}

static tml_status_t tml_prepare(tml_interp_t *it, tml_error_t *err) {
    it->phase = PHASE_PREPARE;
    for (uint32_t i = 0; i < it->n_ops; i++) {
        tml_op_ctx_t *ctx = tml_bind(it, i);
        const tml_op_registration_t *reg = &tml_op_registry[it->nodes[i].reg];
        tml_status_t st = reg->prepare(ctx);
        it->nodes[i].user_data = ctx->user_data;
        if (it->alloc_failed) {
            return TML_ERR_ARENA_SMALL;
        }
        if (st != TML_OK) {
            return TML_FAIL(err, st, "op %u (%s): %s", i, reg->name,
                ctx->error_detail ? ctx->error_detail : tml_error_str(st));
        }
    }
    return TML_OK;
}

// ---------------------------------------------------------------------------
// Memory planner.
//
// Buffers (non-constant tensors and scratch requests) are placed largest
// first; each goes into a gap between buffers already placed whose lifetimes
// overlap its own. Both first-fit and best-fit gap choices are computed and
// the smaller plan is kept.

// Record r of the planner (see tml_plan): records grow down from `top`.
static tml_plan_rec_t *tml_rec(tml_plan_rec_t *top, uint32_t r) {
    return top - r;
}

static uint32_t tml_place(tml_plan_rec_t *recs, const uint16_t *order, uint32_t n, uint16_t *placed, int best_fit) {
    uint32_t n_placed = 0, total = 0;
    for (uint32_t k = 0; k < n; k++) {
        tml_plan_rec_t *r = tml_rec(recs, order[k]);
        uint32_t cur = 0, best = UINT32_MAX, best_gap = UINT32_MAX;
        for (uint32_t j = 0; j < n_placed; j++) {
            const tml_plan_rec_t *p = tml_rec(recs, placed[j]);
            if (p->last < r->first || p->first > r->last) {
                continue;
            }
            if (p->offset >= cur && p->offset - cur >= r->size) {
                uint32_t gap = p->offset - cur;
                if (!best_fit) {
                    best = cur;
                    break;
                }
                if (gap < best_gap) {
                    best_gap = gap;
                    best = cur;
                }
            }
            if (p->offset + p->size > cur) {
                cur = p->offset + p->size;
            }
        }
        r->offset = best != UINT32_MAX ? best : cur;
        if (r->offset + r->size > total) {
            total = r->offset + r->size;
        }
        // Keep `placed` sorted by offset.
        uint32_t j = n_placed++;
        while (j > 0 && tml_rec(recs, placed[j - 1])->offset > r->offset) {
            placed[j] = placed[j - 1];
            j--;
        }
        placed[j] = order[k];
    }
    return total;
}

static int tml_is_graph_io(const int32_t *list, uint32_t n, int32_t t) {
    for (uint32_t i = 0; i < n; i++) {
        if (list[i] == t) {
            return 1;
        }
    }
    return 0;
}

// During planning the data pointer of a planned tensor holds its record
// number + 1 (the pointer is NULL until the plan is done, so it is free).
static tml_plan_rec_t *tml_rec_of(tml_plan_rec_t *recs, const tml_tensor_t *t) {
    if (t == NULL || t->is_const || t->is_variable) {
        return NULL;
    }
    return tml_rec(recs, (uintptr_t)t->data - 1);
}

// A use of tensor t: its lifetime starts at `first` unless it has started
// already, and lasts at least to `last`. The graph inputs are marked first
// (0, 0), then each op's tensors in graph order (i, i), then the graph
// outputs (0, n_ops - 1): so an earlier start is never overwritten, and
// `last` only grows (records start with last = 0).
static void tml_touch(tml_plan_rec_t *recs, const tml_tensor_t *t, uint16_t first, uint16_t last) {
    tml_plan_rec_t *r = tml_rec_of(recs, t);
    if (r != NULL) {
        if (r->first == TML_NONE) {
            r->first = first;
        }
        if (r->last < last) {
            r->last = last;
        }
    }
}

TML_NOINLINE static tml_status_t tml_plan(tml_interp_t *it, tml_error_t *err) {
    uint32_t nt = it->n_tensors, ns = it->n_scratch;

    // Persistent: the scratch table and variable tensors.
    if (ns > 0 && (it->scratch = (tml_scratch_t *)tml_persist_alloc(it, (size_t)ns * sizeof(tml_scratch_t), 4)) == NULL) {
        return TML_ERR_ARENA_SMALL;
    }
    uint32_t n_rec = ns;
    for (uint32_t t = 0; t < nt; t++) {
        tml_tensor_t *tp = &it->tensors[t];
        if (tp->is_variable) {
            void *p = tml_persist_alloc(it, tp->bytes, TML_ALIGN);
            if (p == NULL) {
                return TML_ERR_ARENA_SMALL;
            }
            if (tp->data != NULL) {
                memcpy(p, tp->data, tp->bytes);
            }
            tp->data = p;
        } else if (!tp->is_const) {
            n_rec++;
        }
    }

    // Temporaries: one record per scratch request and non-constant tensor,
    // the placement order and the placed list. Record r lives at
    // tml_rec(recs, r), the (r + 1)-th 16-byte granule from the arena's end:
    // the scratch records are already there (request k was pushed k-th),
    // the tensors' records follow them downwards inside the block taken here
    // (which has room for all records, as the plan's arena needs assume).
    tml_plan_rec_t *recs = NULL;
    uint16_t *order = NULL, *placed = NULL;
    if (n_rec > 0) {
        void *block = tml_temp_alloc(it, (size_t)n_rec * sizeof(tml_plan_rec_t));
        order = (uint16_t *)tml_temp_alloc(it, (size_t)n_rec * 2);
        placed = (uint16_t *)tml_temp_alloc(it, (size_t)n_rec * 2);
        if (block == NULL || order == NULL || placed == NULL) {
            return TML_ERR_ARENA_SMALL;
        }
        recs = (tml_plan_rec_t *)(void *)(it->arena + it->arena_size) - 1;
    }
    uint32_t k = ns;
    for (uint32_t t = 0; t < nt; t++) {
        tml_tensor_t *tp = &it->tensors[t];
        if (!tp->is_const && !tp->is_variable) {
            tml_plan_rec_t *r = tml_rec(recs, k);
            r->size = tml_align_up(tp->bytes, TML_ALIGN);
            r->offset = 0;
            r->first = TML_NONE;
            r->last = 0;
            r->alias = TML_NONE;
            r->tensor = (uint16_t)t;
            tp->data = (void *)(uintptr_t)(++k);
        }
    }

    // Lifetimes: graph inputs from the start, outputs to the end.
    uint16_t end = it->n_ops > 0 ? (uint16_t)(it->n_ops - 1) : 0;
    for (uint32_t i = 0; i < it->n_inputs; i++) {
        tml_touch(recs, &it->tensors[it->inputs[i]], 0, 0);
    }
    for (uint32_t i = 0; i < it->n_ops; i++) {
        const tml_node_t *c = &it->nodes[i];
        for (int32_t j = 0; j < c->n_inputs + c->n_outputs; j++) {
            tml_touch(recs, c->io[j], (uint16_t)i, (uint16_t)i);   // outputs follow inputs
        }
    }
    for (uint32_t i = 0; i < it->n_outputs; i++) {
        tml_touch(recs, &it->tensors[it->outputs[i]], 0, end);
    }
    // RESHAPE moves no data: its output can live in its input's memory when
    // the input is not needed after it.
    for (uint32_t i = 0; i < it->n_ops; i++) {
        const tml_node_t *c = &it->nodes[i];
        if (tml_op_registry[c->reg].builtin_code != TML_OP_RESHAPE || c->n_inputs < 1 || c->n_outputs != 1) {
            continue;
        }
        tml_plan_rec_t *rin = tml_rec_of(recs, c->io[0]);
        const tml_tensor_t *out = c->io[c->n_inputs];
        tml_plan_rec_t *rout = tml_rec_of(recs, out);
        if (rin == NULL || rout == NULL) {
            continue;
        }
        uint16_t root_i = rin->alias != TML_NONE ? rin->alias : (uint16_t)(recs - rin);
        tml_plan_rec_t *root = tml_rec(recs, root_i);
        // (Equal bytes give equal record sizes, 16-byte rounded.)
        if (it->tensors[root->tensor].bytes != out->bytes
            || root->last != i || rout->first != i || rout->alias != TML_NONE
            || tml_is_graph_io(it->inputs, it->n_inputs, root->tensor)
            || tml_is_graph_io(it->outputs, it->n_outputs, root->tensor)
            || tml_is_graph_io(it->inputs, it->n_inputs, rout->tensor)) {
            continue;
        }
        rout->alias = root_i;
        root->last = rout->last;
    }

    // Every offset is below the sum of all sizes: keep that inside 31 bits.
    // Placement order: largest first, equal sizes in record order (each
    // record is inserted into the sorted list as it is found: stable).
    uint64_t sum = 0;
    uint32_t n_place = 0;
    for (uint32_t r = 0; r < n_rec; r++) {
        const tml_plan_rec_t *rec = tml_rec(recs, r);
        if (rec->first != TML_NONE && rec->alias == TML_NONE) {
            sum += rec->size;
            uint32_t j = n_place++;
            while (j > 0 && tml_rec(recs, order[j - 1])->size < rec->size) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = (uint16_t)r;
        }
    }
    if (sum > 0x7fffffffu) {
        return TML_FAIL(err, TML_ERR_LIMIT, "tensors need more than 2 GB");
    }
    uint32_t first_fit = tml_place(recs, order, n_place, placed, 0);
    uint32_t best_fit = tml_place(recs, order, n_place, placed, 1);
    it->plan_size = best_fit;
    if (first_fit < best_fit) {
        it->plan_size = tml_place(recs, order, n_place, placed, 0);
    }

    // base and temp_peak are at most arena_size (< 2^31), plan_size < 2^31:
    // the sum fits in 32 bits.
    uint32_t base = tml_align_up(it->persistent, TML_ALIGN);
    uint32_t need = base + (it->plan_size > it->temp_peak ? it->plan_size : it->temp_peak);
    if (need > it->arena_size) {
        err->needed = need;
        err->needed_exact = 1;
        return TML_FAIL(err, TML_ERR_ARENA_SMALL, "arena too small: needs %u bytes (has %u)",
            (unsigned)err->needed, (unsigned)it->arena_size);
    }
    it->arena_used = need;

    // Hand out the memory; the records are read before the planned region
    // (which may overlap them) is cleared.
    for (uint32_t r = 0; r < ns; r++) {
        const tml_plan_rec_t *rec = tml_rec(recs, r);
        it->scratch[r].offset = base + rec->offset;
        it->scratch[r].op = rec->first;
    }
    // An aliased record shares the offset of its root (a record that is
    // used and placed itself); an unused tensor gets no memory.
    for (uint32_t r = ns; r < n_rec; r++) {
        const tml_plan_rec_t *rec = tml_rec(recs, r);
        uint8_t *p = NULL;
        if (rec->first != TML_NONE) {
            p = it->arena + base + tml_rec(recs, rec->alias != TML_NONE ? rec->alias : r)->offset;
        }
        it->tensors[rec->tensor].data = p;
    }
    it->temp = 0;
    memset(it->arena + base, 0, it->plan_size);
    return TML_OK;
}

// ---------------------------------------------------------------------------
// Public API.

static tml_status_t tml_init(tml_interp_t *it, const uint8_t *model, size_t model_size,
    void *arena, size_t arena_size, tml_error_t *err) {
    if (it == NULL) {
        return TML_FAIL(err, TML_ERR_ARG, "no interpreter");
    }
    memset(it, 0, sizeof(*it));
    if (model == NULL || model_size < 8) {
        return TML_FAIL(err, TML_ERR_MODEL, "model too short (%u bytes)", (unsigned)(model ? model_size : 0));
    }
    if (model_size > 0x7fffffffu) {
        return TML_FAIL(err, TML_ERR_LIMIT, "model larger than 2 GB");
    }
    if (arena == NULL) {
        return TML_FAIL(err, TML_ERR_ARG, "no arena");
    }
    it->model = model;
    it->model_size = (uint32_t)model_size;
    uintptr_t a = (uintptr_t)arena;
    size_t skip = (TML_ALIGN - (a & (TML_ALIGN - 1))) & (TML_ALIGN - 1);
    size_t usable = arena_size > skip ? arena_size - skip : 0;
    if (usable > 0x7ffffff0u) {
        usable = 0x7ffffff0u;
    }
    it->arena = (uint8_t *)arena + skip;
    it->arena_size = (uint32_t)usable & ~(TML_ALIGN - 1);
    it->phase = PHASE_LOAD;
    it->ctx.options.model = model;
    it->ctx.options.model_size = (uint32_t)model_size;
    it->ctx.alloc_persistent = tml_svc_alloc_persistent;
    it->ctx.request_scratch = tml_svc_request_scratch;
    it->ctx.get_scratch = tml_svc_get_scratch;
    it->ctx.interp = it;

    tml_status_t st = tml_load(it, err);
    if (st == TML_OK) {
        st = tml_prepare(it, err);
    }
    if (st == TML_OK) {
        st = tml_plan(it, err);
    }
    it->current_op = -1;
    it->phase = st == TML_OK ? PHASE_READY : PHASE_NONE;
    // An allocation failed before the plan was complete: report the lower
    // bound (the plan's own failure sets the exact size and needed_exact).
    if (st == TML_ERR_ARENA_SMALL && !err->needed_exact && err->msg[0] == 0) {
        err->needed = it->alloc_needed;
        st = TML_FAIL(err, TML_ERR_ARENA_SMALL, "arena too small: needs at least %u bytes (has %u)",
            (unsigned)it->alloc_needed, (unsigned)it->arena_size);
    }
    return st;
}

tml_status_t tml_interp_init(tml_interp_t *it, const uint8_t *model, size_t model_size,
    void *arena, size_t arena_size, tml_error_t *err) {
    tml_error_t local;
    if (err == NULL) {
        err = &local;
    }
    memset(err, 0, sizeof(*err));
    tml_status_t st = tml_init(it, model, model_size, arena, arena_size, err);
#if !TML_ERROR_TEXT
    if (st != TML_OK && err->msg[0] == 0) {
        return tml_fail_status(err, st);
    }
#endif
    err->status = st;
    return st;
}

tml_status_t tml_interp_invoke(tml_interp_t *it, tml_error_t *err) {
    tml_error_t local;
    if (err == NULL) {
        err = &local;
    }
    err->status = TML_OK;
    err->msg[0] = 0;
    if (it == NULL || it->phase != PHASE_READY) {
#if TML_ERROR_TEXT
        return tml_fail(err, TML_ERR_STATE, "interpreter not initialised");
#else
        return tml_fail_status(err, TML_ERR_STATE);
#endif
    }
    for (uint32_t i = 0; i < it->n_ops; i++) {
        if (it->profile != NULL) {
            it->profile(it->profile_user, i, 0);
        }
        tml_op_ctx_t *ctx = tml_bind(it, i);
        const tml_op_registration_t *reg = &tml_op_registry[it->nodes[i].reg];
        tml_status_t st = reg->eval(ctx);
        if (it->profile != NULL) {
            it->profile(it->profile_user, i, 1);
        }
        if (st != TML_OK) {
            it->current_op = -1;
#if TML_ERROR_TEXT
            return tml_fail(err, st, "op %u (%s) failed: %s", i, reg->name,
                ctx->error_detail ? ctx->error_detail : tml_error_str(st));
#else
            return tml_fail_status(err, st);
#endif
        }
    }
    it->current_op = -1;
    return TML_OK;
}

uint32_t tml_interp_input_count(const tml_interp_t *it) {
    return it->phase == PHASE_READY ? it->n_inputs : 0;
}

uint32_t tml_interp_output_count(const tml_interp_t *it) {
    return it->phase == PHASE_READY ? it->n_outputs : 0;
}

// Tensor of entry i of a graph input or output list.
TML_NOINLINE static tml_tensor_t *tml_graph_io(const tml_interp_t *it, const int32_t *list, uint32_t n, uint32_t i) {
    if (it->phase != PHASE_READY || i >= n) {
        return NULL;
    }
    return &it->tensors[list[i]];
}

tml_tensor_t *tml_interp_input(const tml_interp_t *it, uint32_t i) {
    return tml_graph_io(it, it->inputs, it->n_inputs, i);
}

tml_tensor_t *tml_interp_output(const tml_interp_t *it, uint32_t i) {
    return tml_graph_io(it, it->outputs, it->n_outputs, i);
}

tml_tensor_t *tml_interp_tensor(const tml_interp_t *it, uint32_t index) {
    if (it->phase != PHASE_READY || index >= it->n_tensors) {
        return NULL;
    }
    return &it->tensors[index];
}

uint32_t tml_interp_arena_used(const tml_interp_t *it) {
    return it->phase == PHASE_READY ? it->arena_used : 0;
}

uint32_t tml_interp_op_count(const tml_interp_t *it) {
    return it->phase == PHASE_READY ? it->n_ops : 0;
}

const char *tml_interp_op_name(const tml_interp_t *it, uint32_t i) {
    if (it->phase != PHASE_READY || i >= it->n_ops) {
        return NULL;
    }
    return tml_op_registry[it->nodes[i].reg].name;
}
