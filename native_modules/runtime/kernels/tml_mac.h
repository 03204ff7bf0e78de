// The multiply-accumulate layer of the int8 kernels: the innermost loops,
// kept apart so that an architecture can supply its own version (SIMD, DSP
// extensions) without touching the kernels. The portable versions live in
// tml_mac_generic.c; a port defines TML_MAC_CUSTOM and compiles its own file
// with the same functions instead.
#ifndef TML_MAC_H
#define TML_MAC_H

#include <stdint.h>

// Sum of x[i] * w[i].
int32_t tml_mac_dot(const int8_t *x, const int8_t *w, int32_t n);

// Sum of (x[i] + x_off) * w[i].
int32_t tml_mac_dot_off(const int8_t *x, const int8_t *w, int32_t n, int32_t x_off);

// Sum of (x[i] + x_off) * (w[i] + w_off).
int32_t tml_mac_dot_off2(const int8_t *x, const int8_t *w, int32_t n, int32_t x_off, int32_t w_off);

// Dot products of one x against 4 * blocks weight rows (w + k * stride):
// acc[k] += sum of x[i] * w[k * stride + i]. Loads x once for four outputs;
// one call covers all blocks of four.
void tml_mac_dot4(int32_t *acc, const int8_t *x, const int8_t *w, int32_t stride, int32_t n, int32_t blocks);

// Window taps given as pointers tp[t] (input pixel, or a row of the zero
// point outside the image), weights w[t * w_stride + j]:
// acc[j] += sum over t < n of tp[t][c + j] * w[t * w_stride + j], j < 4
// (depthwise: four channels).
void tml_mac_taps4(int32_t acc[4], const int8_t *const *tp, int32_t c, const int8_t *w, int32_t w_stride, int32_t n);

// Four columns of a row-major weight matrix against one vector:
// acc[j] += sum over t < n of x[t] * w[t * w_stride + j].
void tml_mac_dot4_cols(int32_t acc[4], const int8_t *x, const int8_t *w, int32_t w_stride, int32_t n);

// One column: sum over t < n of x[t] * w[t * w_stride].
int32_t tml_mac_dot_cols(const int8_t *x, const int8_t *w, int32_t w_stride, int32_t n);

// One channel: sum over t < n of tp[t][c] * w[t * w_stride].
int32_t tml_mac_taps(const int8_t *const *tp, int32_t c, const int8_t *w, int32_t w_stride, int32_t n);

#endif // TML_MAC_H
