#include "tml_common.h"

static const char *const tml_error_table[TML_ERR_COUNT] = {
    "ok",
    "invalid argument",
    "length mismatch",
    "misaligned buffer",
    "malformed model",
    "unsupported model or operator version",
    "unsupported operator",
    "unsupported tensor type",
    "inconsistent tensor shapes",
    "invalid quantization parameters",
    "arena too small",
    "compile-time limit exceeded",
    "call not valid in this state",
    "unsupported configuration",
};

const char *tml_error_str(tml_status_t status) {
    if ((unsigned)status >= (unsigned)TML_ERR_COUNT) {
        return "unknown error";
    }
    return tml_error_table[status];
}

const char *tml_version(void) {
    return TML_VERSION_STRING;
}

int64_t tml_dot_s8(const int8_t *a, const int8_t *b, size_t n,
    int32_t a_offset, int32_t b_offset) {
    // A 64-bit accumulator: the caller may pass any length and any offsets,
    // so the int32 accumulator of the kernels could overflow here.
    int64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc += (int64_t)((int32_t)a[i] + a_offset) * ((int32_t)b[i] + b_offset);
    }
    return acc;
}
