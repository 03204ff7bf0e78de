// Portable C versions of the multiply-accumulate primitives (tml_mac.h).
// Sums wrap modulo 2^32 (unsigned arithmetic) like the reference's int32
// accumulators do in practice, without undefined overflow. Plain counted
// loops: on hosts with vector units (x86-64, AArch64) the compiler is asked
// to vectorize them; microcontroller builds compile them with -O2.
#include "tml_mac.h"

#include <stddef.h>

#ifndef TML_MAC_CUSTOM

#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__aarch64__))
#define TML_MAC_FN __attribute__((optimize("O3")))
#elif defined(__GNUC__) && !defined(__clang__)
// Microcontroller firmware is built with -Os, which keeps loop bounds on the
// stack and rotates these loops badly; these few functions are worth -O2.
#define TML_MAC_FN __attribute__((optimize("O2")))
#else
#define TML_MAC_FN
#endif

// Cortex-M0/M0+ (ARMv6-M): several products per iteration save loop
// overhead (-9% instructions on the KWS model under QEMU); on ARMv7E-M the
// plain loops measured slightly better.
#if defined(__ARM_ARCH_6M__)
#define TML_MAC_UNROLL 1
#else
#define TML_MAC_UNROLL 0
#endif

static inline void mac_add4(int32_t acc[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3) {
    acc[0] = (int32_t)((uint32_t)acc[0] + a0);
    acc[1] = (int32_t)((uint32_t)acc[1] + a1);
    acc[2] = (int32_t)((uint32_t)acc[2] + a2);
    acc[3] = (int32_t)((uint32_t)acc[3] + a3);
}

TML_MAC_FN int32_t tml_mac_dot(const int8_t *x, const int8_t *w, int32_t n) {
    uint32_t acc = 0;
    int32_t i = 0;
#if TML_MAC_UNROLL
    for (; i + 4 <= n; i += 4) {
        acc += (uint32_t)(x[i] * w[i] + x[i + 1] * w[i + 1] + x[i + 2] * w[i + 2] + x[i + 3] * w[i + 3]);
    }
#endif
    for (; i < n; i++) {
        acc += (uint32_t)((int32_t)x[i] * (int32_t)w[i]);
    }
    return (int32_t)acc;
}

TML_MAC_FN int32_t tml_mac_dot_off(const int8_t *x, const int8_t *w, int32_t n, int32_t x_off) {
    uint32_t acc = 0;
    for (int32_t i = 0; i < n; i++) {
        acc += (uint32_t)((int32_t)x[i] + x_off) * (uint32_t)(int32_t)w[i];
    }
    return (int32_t)acc;
}

TML_MAC_FN int32_t tml_mac_dot_off2(const int8_t *x, const int8_t *w, int32_t n, int32_t x_off, int32_t w_off) {
    uint32_t acc = 0;
    for (int32_t i = 0; i < n; i++) {
        acc += (uint32_t)((int32_t)x[i] + x_off) * (uint32_t)((int32_t)w[i] + w_off);
    }
    return (int32_t)acc;
}

// One block of four outputs.
static inline void mac_dot4_block(int32_t acc[4], const int8_t *x, const int8_t *w, int32_t stride, int32_t n) {
    const int8_t *w0 = w, *w1 = w + stride, *w2 = w + 2 * stride, *w3 = w + 3 * stride;
    uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int32_t i = 0;
#if TML_MAC_UNROLL
    for (; i + 2 <= n; i += 2) {
        const int32_t xa = x[i], xb = x[i + 1];
        a0 += (uint32_t)(xa * w0[i] + xb * w0[i + 1]);
        a1 += (uint32_t)(xa * w1[i] + xb * w1[i + 1]);
        a2 += (uint32_t)(xa * w2[i] + xb * w2[i + 1]);
        a3 += (uint32_t)(xa * w3[i] + xb * w3[i + 1]);
    }
#endif
    for (; i < n; i++) {
        const int32_t xv = x[i];
        a0 += (uint32_t)(xv * w0[i]);
        a1 += (uint32_t)(xv * w1[i]);
        a2 += (uint32_t)(xv * w2[i]);
        a3 += (uint32_t)(xv * w3[i]);
    }
    mac_add4(acc, a0, a1, a2, a3);
}

TML_MAC_FN void tml_mac_dot4(int32_t *acc, const int8_t *x, const int8_t *w, int32_t stride, int32_t n, int32_t blocks) {
    for (int32_t b = 0; b < blocks; b++, acc += 4, w += 4 * (size_t)stride) {
        mac_dot4_block(acc, x, w, stride, n);
    }
}

// (Four channels per call: a loop over blocks inside makes the compiler
// spill the weight stride on Cortex-M3.)
TML_MAC_FN void tml_mac_taps4(int32_t acc[4], const int8_t *const *tp, int32_t c, const int8_t *w, int32_t w_stride,
    int32_t n) {
    uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int32_t t = 0; t < n; t++, w += w_stride) {
        const int8_t *x = tp[t] + c;
        a0 += (uint32_t)(x[0] * w[0]);
        a1 += (uint32_t)(x[1] * w[1]);
        a2 += (uint32_t)(x[2] * w[2]);
        a3 += (uint32_t)(x[3] * w[3]);
    }
    mac_add4(acc, a0, a1, a2, a3);
}

TML_MAC_FN void tml_mac_dot4_cols(int32_t acc[4], const int8_t *x, const int8_t *w, int32_t w_stride, int32_t n) {
    uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int32_t t = 0; t < n; t++, w += w_stride) {
        const int32_t xv = x[t];
        a0 += (uint32_t)(xv * w[0]);
        a1 += (uint32_t)(xv * w[1]);
        a2 += (uint32_t)(xv * w[2]);
        a3 += (uint32_t)(xv * w[3]);
    }
    mac_add4(acc, a0, a1, a2, a3);
}

TML_MAC_FN int32_t tml_mac_dot_cols(const int8_t *x, const int8_t *w, int32_t w_stride, int32_t n) {
    uint32_t acc = 0;
    for (int32_t t = 0; t < n; t++, w += w_stride) {
        acc += (uint32_t)(x[t] * w[0]);
    }
    return (int32_t)acc;
}

TML_MAC_FN int32_t tml_mac_taps(const int8_t *const *tp, int32_t c, const int8_t *w, int32_t w_stride, int32_t n) {
    uint32_t acc = 0;
    for (int32_t t = 0; t < n; t++, w += w_stride) {
        acc += (uint32_t)(tp[t][c] * w[0]);
    }
    return (int32_t)acc;
}

#endif // TML_MAC_CUSTOM
