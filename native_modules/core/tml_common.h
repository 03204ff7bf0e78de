// mpyml native core: version, error codes and small helpers shared by every
// component (runtime, frontend). Portable C99, no allocation, no globals
// with mutable state, no dependency on MicroPython or CPython.
#ifndef TML_COMMON_H
#define TML_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define TML_VERSION_MAJOR 0
#define TML_VERSION_MINOR 1
#define TML_VERSION_PATCH 0
#define TML_VERSION_STRING "0.1.0"

// Every fallible function of the native core returns one of these codes.
// Keep the list and tml_error_str() in tml_common.c in the same order: the
// host tests check that every code has its own message.
typedef enum {
    TML_OK = 0,
    TML_ERR_ARG,            // an argument is out of its documented range
    TML_ERR_LENGTH,         // two buffers that must agree in length do not
    TML_ERR_ALIGN,          // a buffer is not aligned as required
    TML_ERR_MODEL,          // the model bytes are malformed
    TML_ERR_MODEL_VERSION,  // a schema or op version that is not supported
    TML_ERR_UNSUPPORTED_OP, // the model uses an operator we do not implement
    TML_ERR_UNSUPPORTED_TYPE, // a tensor type an operator cannot handle
    TML_ERR_SHAPE,          // tensor shapes are inconsistent
    TML_ERR_QUANT,          // missing or invalid quantization parameters
    TML_ERR_ARENA_SMALL,    // the arena cannot hold the memory plan
    TML_ERR_LIMIT,          // a fixed compile-time limit was exceeded
    TML_ERR_STATE,          // a call made in the wrong state (e.g. before init)
    TML_ERR_CONFIG,         // a configuration value cannot be supported
    TML_ERR_COUNT           // number of codes, not an error
} tml_status_t;

// Human-readable text for a status code; never NULL.
const char *tml_error_str(tml_status_t status);

// Version of the native core as "major.minor.patch".
const char *tml_version(void);

// Sum over i of (a[i] + a_offset) * (b[i] + b_offset): the inner product of
// two int8 vectors with their zero points removed through the offsets.
int64_t tml_dot_s8(const int8_t *a, const int8_t *b, size_t n,
    int32_t a_offset, int32_t b_offset);

#endif // TML_COMMON_H
