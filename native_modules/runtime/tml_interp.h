// The int8 inference runtime's interpreter: reads a .tflite model in place
// (zero-copy, every offset verified), prepares its operators, plans all
// memory into one caller-provided arena, and runs the graph.
//
//     tml_interp_t it;
//     tml_error_t err;
//     if (tml_interp_init(&it, model, model_size, arena, arena_size, &err) != TML_OK) {
//         // err.msg says why; for TML_ERR_ARENA_SMALL err.needed is the size
//     }
//     memcpy(tml_interp_input(&it, 0)->data, features, n);
//     tml_interp_invoke(&it, &err);
//     const tml_tensor_t *out = tml_interp_output(&it, 0);
//
// Arena layout (offsets from the arena start rounded up to 16 bytes):
//   [persistent: tensor structs, op records, kernel state][planned tensors
//   and scratch buffers, reused across op lifetimes]
// Load-time temporaries (planner records) live at the arena's tail and are
// gone after init. Everything used stays at the head, so an arena may be
// shrunk to arena_used bytes after init (the pointers do not move).
// No allocation, no global state: any number of interpreters may coexist.
#ifndef TML_INTERP_H
#define TML_INTERP_H

#include <stddef.h>
#include <stdint.h>

#include "tml_common.h"
#include "tml_op.h"

// Upper bounds that keep every size computation inside 32 bits.
#define TML_MAX_TENSORS 32767u
#define TML_MAX_OPS 65534u
#define TML_MAX_SCRATCH 32767u
#define TML_MAX_OP_IO 1024u
#define TML_MAX_TENSOR_BYTES 0x40000000u

#define TML_ERROR_MSG_SIZE 112

typedef struct tml_error {
    tml_status_t status;
    // For TML_ERR_ARENA_SMALL: the arena size needed (bytes from a 16-byte
    // aligned start). Exact when needed_exact is 1; otherwise a lower bound
    // (an operator's own memory request failed before planning could finish).
    uint32_t needed;
    uint8_t needed_exact;
    char msg[TML_ERROR_MSG_SIZE];
} tml_error_t;

struct tml_node;

// Optional per-operator profiling hook: invoke calls it right before
// (end = 0) and right after (end = 1) each operator's eval, e.g. to read a
// cycle counter. init leaves it NULL; then each call site costs one test.
typedef void (*tml_profile_fn_t)(void *user, uint32_t op, int end);

typedef struct tml_interp {
    const uint8_t *model;
    uint32_t model_size;
    uint8_t *arena;             // 16-byte aligned
    uint32_t arena_size;        // usable bytes from arena, multiple of 16
    uint32_t persistent;        // bytes taken at the head
    uint32_t temp;              // bytes taken at the tail during init
    uint32_t temp_peak;
    uint32_t plan_size;         // bytes of the planned region
    uint32_t arena_used;        // smallest arena (from an aligned start) that works
    tml_tensor_t *tensors;
    uint32_t n_tensors;
    struct tml_node *nodes;
    uint32_t n_ops;
    const int32_t *inputs;      // subgraph input / output tensor indices
    const int32_t *outputs;
    uint32_t n_inputs;
    uint32_t n_outputs;
    struct tml_scratch *scratch;
    uint32_t n_scratch;
    int32_t current_op;
    uint8_t phase;
    uint8_t alloc_failed;
    uint32_t alloc_needed;
    tml_profile_fn_t profile;   // set after init (NULL: no profiling)
    void *profile_user;
    // The context handed to the kernels, pointed at one op at a time (the
    // ops themselves keep only their own fields in the arena).
    tml_op_ctx_t ctx;
} tml_interp_t;

// Load, verify, prepare and plan. On failure the interpreter is unusable and
// err says why. `arena` may have any alignment (up to 15 bytes are skipped).
tml_status_t tml_interp_init(tml_interp_t *it, const uint8_t *model, size_t model_size,
    void *arena, size_t arena_size, tml_error_t *err);

// Run every operator once. Inputs must have been written first.
tml_status_t tml_interp_invoke(tml_interp_t *it, tml_error_t *err);

uint32_t tml_interp_input_count(const tml_interp_t *it);
uint32_t tml_interp_output_count(const tml_interp_t *it);
// NULL when i is out of range or the interpreter is not ready.
tml_tensor_t *tml_interp_input(const tml_interp_t *it, uint32_t i);
tml_tensor_t *tml_interp_output(const tml_interp_t *it, uint32_t i);
// Tensor by model index (for debugging tools); NULL when out of range.
tml_tensor_t *tml_interp_tensor(const tml_interp_t *it, uint32_t index);

// Bytes of arena the model needs (persistent + planned + alignment), known
// right after init.
uint32_t tml_interp_arena_used(const tml_interp_t *it);

uint32_t tml_interp_op_count(const tml_interp_t *it);
// Name of op i in graph order ("CONV_2D"); NULL when out of range.
const char *tml_interp_op_name(const tml_interp_t *it, uint32_t i);

#endif // TML_INTERP_H
