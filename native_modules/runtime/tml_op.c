// Services of tml_op.h that the kernels call: tensor accessors, verified
// access to operator options, and the registry lookup.
#include "tml_op.h"
#include "tml_fb.h"

int32_t tml_tensor_count(const tml_tensor_t *t) {
    // Shapes were checked at load: the product fits in int32.
    int32_t n = 1;
    for (unsigned i = 0; i < t->ndim; i++) {
        n *= t->dims[i];
    }
    return n;
}

// Element c of vector field `field` of the tensor's quantization table. The
// interpreter verified the table, both vectors and their lengths at load,
// so it is read here without checks.
static const uint8_t *tml_quant_elem(const tml_tensor_t *t, unsigned field, uint32_t width, uint32_t c) {
    const uint8_t *table = t->quant;
    const uint8_t *vtable = table - tml_fb_i32(table);
    const uint8_t *ref = table + tml_fb_u16(vtable + 4 + 2 * field);
    return ref + tml_fb_u32(ref) + 4 + width * c;
}

float tml_tensor_scale(const tml_tensor_t *t, uint32_t c) {
    if (t->n_quant > 1 && c < (uint32_t)t->n_quant && t->quant != NULL) {
        return tml_fb_f32(tml_quant_elem(t, 2, 4, c));
    }
    return t->scale;
}

int32_t tml_tensor_zero_point(const tml_tensor_t *t, uint32_t c) {
    if (t->n_quant > 1 && c < (uint32_t)t->n_quant && t->quant != NULL) {
        // Range checked at load time.
        return (int32_t)tml_fb_i64(tml_quant_elem(t, 3, 8, c));
    }
    return t->zero_point;
}

// Position of a scalar option field, 0 when absent or unreadable.
static uint32_t tml_opt_pos(const tml_options_t *o, unsigned field, unsigned kind) {
    if (o == NULL || o->table == 0 || o->model == NULL) {
        return 0;
    }
    tml_fb_t fb = { o->model, o->model_size, 0, 0 };
    return tml_fb_get(&fb, o->table, TML_FB_SPEC(field, kind));
}

int32_t tml_opt_i32(const tml_options_t *o, unsigned field, int32_t dflt) {
    uint32_t pos = tml_opt_pos(o, field, TML_FB_S4);
    return pos ? tml_fb_i32(o->model + pos) : dflt;
}

int32_t tml_opt_i8(const tml_options_t *o, unsigned field, int32_t dflt) {
    uint32_t pos = tml_opt_pos(o, field, TML_FB_S1);
    return pos ? (int32_t)(int8_t)o->model[pos] : dflt;
}

int32_t tml_opt_u8(const tml_options_t *o, unsigned field, int32_t dflt) {
    uint32_t pos = tml_opt_pos(o, field, TML_FB_S1);
    return pos ? (int32_t)o->model[pos] : dflt;
}

float tml_opt_float(const tml_options_t *o, unsigned field, float dflt) {
    uint32_t pos = tml_opt_pos(o, field, TML_FB_S4);
    return pos ? tml_fb_f32(o->model + pos) : dflt;
}

tml_status_t tml_opt_int_vector(const tml_options_t *o, unsigned field, const uint8_t **elems_le, uint32_t *count) {
    *elems_le = NULL;
    *count = 0;
    if (o == NULL || o->table == 0 || o->model == NULL) {
        return TML_OK;
    }
    tml_fb_t fb = { o->model, o->model_size, 0, 0 };
    uint32_t elems = tml_fb_get(&fb, o->table, TML_FB_SPEC(field, TML_FB_V4));
    if (fb.bad) {
        return TML_ERR_MODEL;
    }
    if (elems != 0) {
        *elems_le = o->model + elems;
        *count = fb.n;
    }
    return TML_OK;
}

const tml_op_registration_t *tml_op_find(int32_t builtin_code) {
    for (const tml_op_registration_t *r = tml_op_registry; r->name != NULL; r++) {
        if (r->builtin_code == builtin_code) {
            return r;
        }
    }
    return NULL;
}

#if TML_ERROR_TEXT
// Names of the schema's builtin operators 0..161, NUL-separated, so that a
// load error can name an operator this firmware does not implement.
static const char tml_op_names[] =
    "ADD\0AVERAGE_POOL_2D\0CONCATENATION\0CONV_2D\0DEPTHWISE_CONV_2D\0DEPTH_TO_SPACE\0DEQUANTIZE\0"
    "EMBEDDING_LOOKUP\0FLOOR\0FULLY_CONNECTED\0HASHTABLE_LOOKUP\0L2_NORMALIZATION\0L2_POOL_2D\0"
    "LOCAL_RESPONSE_NORMALIZATION\0LOGISTIC\0LSH_PROJECTION\0LSTM\0MAX_POOL_2D\0MUL\0RELU\0RELU_N1_TO_1\0"
    "RELU6\0RESHAPE\0RESIZE_BILINEAR\0RNN\0SOFTMAX\0SPACE_TO_DEPTH\0SVDF\0TANH\0CONCAT_EMBEDDINGS\0SKIP_GRAM\0"
    "CALL\0CUSTOM\0EMBEDDING_LOOKUP_SPARSE\0PAD\0UNIDIRECTIONAL_SEQUENCE_RNN\0GATHER\0BATCH_TO_SPACE_ND\0"
    "SPACE_TO_BATCH_ND\0TRANSPOSE\0MEAN\0SUB\0DIV\0SQUEEZE\0UNIDIRECTIONAL_SEQUENCE_LSTM\0STRIDED_SLICE\0"
    "BIDIRECTIONAL_SEQUENCE_RNN\0EXP\0TOPK_V2\0SPLIT\0LOG_SOFTMAX\0DELEGATE\0BIDIRECTIONAL_SEQUENCE_LSTM\0"
    "CAST\0PRELU\0MAXIMUM\0ARG_MAX\0MINIMUM\0LESS\0NEG\0PADV2\0GREATER\0GREATER_EQUAL\0LESS_EQUAL\0SELECT\0"
    "SLICE\0SIN\0TRANSPOSE_CONV\0SPARSE_TO_DENSE\0TILE\0EXPAND_DIMS\0EQUAL\0NOT_EQUAL\0LOG\0SUM\0SQRT\0RSQRT\0"
    "SHAPE\0POW\0ARG_MIN\0FAKE_QUANT\0REDUCE_PROD\0REDUCE_MAX\0PACK\0LOGICAL_OR\0ONE_HOT\0LOGICAL_AND\0"
    "LOGICAL_NOT\0UNPACK\0REDUCE_MIN\0FLOOR_DIV\0REDUCE_ANY\0SQUARE\0ZEROS_LIKE\0FILL\0FLOOR_MOD\0RANGE\0"
    "RESIZE_NEAREST_NEIGHBOR\0LEAKY_RELU\0SQUARED_DIFFERENCE\0MIRROR_PAD\0ABS\0SPLIT_V\0UNIQUE\0CEIL\0"
    "REVERSE_V2\0ADD_N\0GATHER_ND\0COS\0WHERE\0RANK\0ELU\0REVERSE_SEQUENCE\0MATRIX_DIAG\0QUANTIZE\0"
    "MATRIX_SET_DIAG\0ROUND\0HARD_SWISH\0IF\0WHILE\0NON_MAX_SUPPRESSION_V4\0NON_MAX_SUPPRESSION_V5\0"
    "SCATTER_ND\0SELECT_V2\0DENSIFY\0SEGMENT_SUM\0BATCH_MATMUL\0PLACEHOLDER_FOR_GREATER_OP_CODES\0CUMSUM\0"
    "CALL_ONCE\0BROADCAST_TO\0RFFT2D\0CONV_3D\0IMAG\0REAL\0COMPLEX_ABS\0HASHTABLE\0HASHTABLE_FIND\0"
    "HASHTABLE_IMPORT\0HASHTABLE_SIZE\0REDUCE_ALL\0CONV_3D_TRANSPOSE\0VAR_HANDLE\0READ_VARIABLE\0"
    "ASSIGN_VARIABLE\0BROADCAST_ARGS\0RANDOM_STANDARD_NORMAL\0BUCKETIZE\0RANDOM_UNIFORM\0MULTINOMIAL\0GELU\0"
    "DYNAMIC_UPDATE_SLICE\0RELU_0_TO_1\0UNSORTED_SEGMENT_PROD\0UNSORTED_SEGMENT_MAX\0UNSORTED_SEGMENT_SUM\0"
    "ATAN2\0UNSORTED_SEGMENT_MIN\0SIGN\0BITCAST\0BITWISE_XOR\0RIGHT_SHIFT\0"
    ;

#endif

const char *tml_op_name(int32_t builtin_code) {
#if !TML_ERROR_TEXT
    // Without the table: only the registered kernels' names.
    const tml_op_registration_t *reg = tml_op_find(builtin_code);
    return reg != NULL ? reg->name : NULL;
#else
    if (builtin_code < 0) {
        return NULL;
    }
    const char *p = tml_op_names;
    const char *end = tml_op_names + sizeof(tml_op_names) - 1;
    for (int32_t i = 0; p < end; i++) {
        if (i == builtin_code) {
            return p;
        }
        while (*p != 0) {
            p++;
        }
        p++;
    }
    return NULL;
#endif
}
