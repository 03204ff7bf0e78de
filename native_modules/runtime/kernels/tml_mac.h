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

// Four dot products of one x against four weight rows (w + k * stride):
// acc[k] += sum of x[i] * w[k * stride + i]. Loads x once for four outputs.
void tml_mac_dot4(int32_t acc[4], const int8_t *x, const int8_t *w, int32_t stride, int32_t n);

// acc[i] += xv * w[i] (one input value into several outputs).
void tml_mac_scale_add(int32_t *acc, int32_t xv, const int8_t *w, int32_t n);

// acc[i] += x[i] * w[i] (channel-wise, for depthwise convolution).
void tml_mac_channelwise(int32_t *acc, const int8_t *x, const int8_t *w, int32_t n);

// acc[i] += (x[i] + x_off) * w[i].
void tml_mac_channelwise_off(int32_t *acc, const int8_t *x, const int8_t *w, int32_t n, int32_t x_off);

#endif // TML_MAC_H
