// The contract between the interpreter (model reader, planner, invoke loop)
// and the kernels. One kernel file per operator in kernels/; each exports a
// tml_op_registration_t. A kernel sees only tensors, its options and the
// memory the interpreter hands it: no flatbuffer parsing, no allocation.
#ifndef TML_OP_H
#define TML_OP_H

#include <stddef.h>
#include <stdint.h>

#include "tml_common.h"

#define TML_MAX_DIMS 6

// Firmware for small flash may build without the detailed error texts of the
// model reader and the kernels (-DTML_ERROR_TEXT=0): errors then carry the
// status text only ("malformed model"), and operator names only of the
// registered kernels; status codes do not change. Default: full texts.
#ifndef TML_ERROR_TEXT
#define TML_ERROR_TEXT 1
#endif

// Tensor element types use the .tflite schema's TensorType numbers.
enum {
    TML_TYPE_FLOAT32 = 0,
    TML_TYPE_FLOAT16 = 1,
    TML_TYPE_INT32 = 2,
    TML_TYPE_UINT8 = 3,
    TML_TYPE_INT64 = 4,
    TML_TYPE_BOOL = 6,
    TML_TYPE_INT16 = 7,
    TML_TYPE_INT8 = 9,
};

// Builtin operator codes used by the kernels (schema BuiltinOperator).
enum {
    TML_OP_ADD = 0,
    TML_OP_AVERAGE_POOL_2D = 1,
    TML_OP_CONCATENATION = 2,
    TML_OP_CONV_2D = 3,
    TML_OP_DEPTHWISE_CONV_2D = 4,
    TML_OP_DEQUANTIZE = 6,
    TML_OP_FULLY_CONNECTED = 9,
    TML_OP_LOGISTIC = 14,
    TML_OP_MAX_POOL_2D = 17,
    TML_OP_MUL = 18,
    TML_OP_RELU = 19,
    TML_OP_RELU6 = 21,
    TML_OP_RESHAPE = 22,
    TML_OP_SOFTMAX = 25,
    TML_OP_TANH = 28,
    TML_OP_PAD = 34,
    TML_OP_MEAN = 40,
    TML_OP_PADV2 = 60,
    TML_OP_QUANTIZE = 114,
};

typedef struct tml_tensor {
    void *data;                 // in the arena, or in the model bytes (constants)
    // The shape, read in place from the model (int32, aligned; copied into
    // the arena when the model bytes are not 4-byte aligned). Read-only.
    const int32_t *dims;
    // The tensor's quantization table in the model, for per-channel scales
    // and zero points: read them with tml_tensor_scale() /
    // tml_tensor_zero_point(), never through this pointer.
    const uint8_t *quant;
    uint32_t bytes;             // size of data
    // Affine quantization: real = scale * (q - zero_point). n_quant == 0 means
    // not quantized; 1 means per-tensor; > 1 means per-channel along
    // quant_dim. scale/zero_point hold the first (or only) entry.
    float scale;
    int32_t zero_point;
    uint16_t n_quant;
    // Small fields packed into two bytes (28 B per tensor on 32-bit cores):
    // read and assign them like plain integers, but take no address.
    unsigned ndim : 4;          // <= TML_MAX_DIMS
    unsigned quant_dim : 4;     // < ndim
    unsigned type : 6;          // TML_TYPE_* (schema TensorType)
    unsigned is_const : 1;      // data points into the model (read-only)
    unsigned is_variable : 1;
} tml_tensor_t;

// Element count of a tensor (product of dims; 1 for a scalar).
int32_t tml_tensor_count(const tml_tensor_t *t);
// Scale / zero point of channel c (c < n_quant), or of the tensor when n_quant <= 1.
float tml_tensor_scale(const tml_tensor_t *t, uint32_t c);
int32_t tml_tensor_zero_point(const tml_tensor_t *t, uint32_t c);

// Read-only accessors for an operator's builtin options (a flatbuffer table
// the interpreter has already bounds-checked). Field ids follow the schema's
// field order, starting at 0. A missing table or field gives the default.
typedef struct tml_options {
    const uint8_t *model;       // model bytes (for bounds checks)
    uint32_t model_size;
    uint32_t table;             // offset of the options table in model, 0 if none
} tml_options_t;

// Use the accessor of the field's schema width: int (i32), byte enums and
// int8 (i8), ubyte and bool (u8).
int32_t tml_opt_i32(const tml_options_t *o, unsigned field, int32_t dflt);
int32_t tml_opt_i8(const tml_options_t *o, unsigned field, int32_t dflt);
int32_t tml_opt_u8(const tml_options_t *o, unsigned field, int32_t dflt);
float tml_opt_float(const tml_options_t *o, unsigned field, float dflt);
// A vector of int32 (e.g. ReshapeOptions.new_shape): count and element read.
// Returns TML_OK with *count = 0 when absent.
tml_status_t tml_opt_int_vector(const tml_options_t *o, unsigned field, const uint8_t **elems_le, uint32_t *count);

struct tml_op_ctx;

typedef struct tml_op_ctx {
    tml_tensor_t *const *inputs;    // NULL entry for an omitted optional input (index -1)
    tml_tensor_t *const *outputs;
    int32_t n_inputs;
    int32_t n_outputs;
    int32_t builtin_code;
    int32_t version;
    tml_options_t options;
    // Persistent per-op state (multipliers, shifts, re-laid-out weights):
    // prepare() asks for it with alloc_persistent; eval() finds it here.
    void *user_data;
    // Memory services of the interpreter, valid during prepare() only.
    // alloc_persistent: arena memory that lives as long as the model,
    // 16-byte aligned, counted in arena_used. NULL when the arena is full.
    void *(*alloc_persistent)(struct tml_op_ctx *ctx, size_t bytes);
    // request_scratch: a buffer valid only during this op's eval(); returns
    // an index (>= 0) or -1 when out of memory. The planner overlaps scratch
    // buffers of different ops.
    int32_t (*request_scratch)(struct tml_op_ctx *ctx, size_t bytes);
    // get_scratch: valid during eval() only.
    void *(*get_scratch)(struct tml_op_ctx *ctx, int32_t index);
    void *interp;                   // opaque, for the services above
    // Optional detail for an error status ("CONV_2D: filter must be int8");
    // a static string, set by the kernel before it returns an error.
    const char *error_detail;
} tml_op_ctx_t;

typedef struct tml_op_registration {
    int32_t builtin_code;
    int32_t max_version;        // highest schema op version supported
    const char *name;           // "CONV_2D"
    // Validate types/shapes, compute per-op constants, request memory.
    // Output shapes are taken from the model; prepare checks them.
    tml_status_t (*prepare)(tml_op_ctx_t *ctx);
    tml_status_t (*eval)(tml_op_ctx_t *ctx);
} tml_op_registration_t;

// The table of all registered kernels (kernels/tml_registry.c), ending with
// an entry whose name is NULL. Firmware built for known models may compile
// a smaller table.
extern const tml_op_registration_t tml_op_registry[];

// Registration lookup by builtin code; NULL when not registered.
const tml_op_registration_t *tml_op_find(int32_t builtin_code);

// Schema name of a builtin operator code ("LSTM" for 16), also for operators
// that are not registered; NULL for codes without a known name. (Added by the
// interpreter for its error messages.)
const char *tml_op_name(int32_t builtin_code);

// Interpreter guarantees to kernels (documented here so kernels can rely on
// them):
// - prepare() runs once per op at load time, in graph order. Constant tensors
//   (is_const) have their data during prepare(); every other tensor has
//   data == NULL until planning is finished, so prepare() must not touch it.
// - The tensors' dims, type, bytes and quantization were checked at load:
//   ndim <= TML_MAX_DIMS, every dim >= 1, bytes == count * element size,
//   scales finite and > 0, zero points of int8/uint8 tensors in range,
//   per-channel vectors have n_quant (<= 65535) entries and
//   dims[quant_dim] == n_quant.
//   Shape agreement between an op's tensors is the kernel's to check.
// - Constant data whose element is wider than one byte is aligned to its
//   element size, so kernels may read it through typed pointers (when the
//   model bytes sit at an odd address, such tensors are copied into the
//   arena; is_const stays 1).
// - Arena data (non-constant tensors, scratch, persistent) is 16-byte aligned.
// - Arena budget: arena_used must stay <= TFLM's arena_used_bytes for every
//   real model (tested on the QEMU boards, tests/host/test_runtime_qemu.py,
//   and against the tflite-micro package on the host). What the interpreter
//   itself keeps: per tensor 28 B on 32-bit cores (40 B on 64-bit hosts;
//   shapes and per-channel quantization are read from the model in place),
//   per op 20 B (32 B) plus 4 B (8 B) per input/output; the kernel context
//   is one struct outside the arena. Measured with the kernels of this tree
//   (each alloc_persistent is rounded up to 16 B; of scratch only what
//   overlaps live tensors counts), ours / TFLM's, and what is left:
//     qemu-m0 (armv6m fast paths)  micro_speech   6720 /  6788 ->   68 B
//                                  kws_ref_model 21936 / 22772 ->  836 B
//                                  person_detect 75232 / 82292 -> 7060 B
//     qemu-m4 (armv7em fast paths) micro_speech   6720 /  6788 ->   68 B
//                                  kws_ref_model 21456 / 22772 -> 1316 B
//                                  person_detect 74768 / 82292 -> 7524 B
//     x86-64 host vs the tflite-micro package: micro_speech 6928 / 7584,
//                                  kws_ref_model 22256 / 24272, person_detect 76672 / 85264
//   The interpreter's own share on ARM (tensors, ops, their input/output
//   lists): micro_speech 420 B, kws_ref_model 1,436 B, person_detect
//   3,596 B (TFLM: 12 B per eval tensor plus its own structs). Kernel data is
//   about 5 B per output channel (int32 multiplier + int8 shift) plus a small
//   op struct; micro_speech has room for four more 16-B granules at most,
//   kws_ref_model (576 conv channels) for about 1.4 B more per channel.
// - An input and the output of an op may share memory only for RESHAPE
//   (the planner aliases a RESHAPE output to its input when the input dies
//   there); every other op sees distinct input and output buffers.

#endif // TML_OP_H
