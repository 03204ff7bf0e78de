// Requantization without 64-bit arithmetic, for cores whose only multiply
// is 32x32->32 (ARMv6-M: MULS). Bit-exact with tml_mul_by_quantized_mult()
// (tml_quant.h) for the multipliers real models have: a Q31 significand in
// (2^30, 2^31) and a right shift of 1..16 bits. Portable C, so that the host
// tests can check it against the shared definition.
//
// Derivation. With P = x * m, the doubling high multiply is
// q = floor((P + 2^30) / 2^31) (gemmlowp's nudge and truncating division
// collapse to this one floor), and the rounding shift by e >= 1 is
// floor((q + 2^(e-1) - [q < 0]) / 2^e). Nested floors merge:
//   result = floor((P + 2^30 + 2^(30+e) - [q < 0] * 2^31) / 2^(31+e)),
// and for m > 2^30, q < 0 exactly when x < 0. P is formed from four 16x16
// products; the bits below 2^16 of the rounding constant are zero, so the
// carry from the low product is just its top half.
#ifndef TML_FAST_ARMV6M_REQUANT_H
#define TML_FAST_ARMV6M_REQUANT_H

#include <stdint.h>

// Whether tml_m0_requant() is exact for this multiplier and shift.
static inline int tml_m0_requant_ok(int32_t multiplier, int shift) {
    return multiplier > (int32_t)(1 << 30) && shift <= -1 && shift >= -16;
}

// x * multiplier * 2^shift rounded like TFLM, for multiplier/shift accepted
// by tml_m0_requant_ok(); e = -shift.
static inline int32_t tml_m0_requant(int32_t x, int32_t multiplier, int e) {
    const uint32_t xl = (uint32_t)x & 0xffffu;
    const int32_t xh = x >> 16;
    const uint32_t ml = (uint32_t)multiplier & 0xffffu;
    const int32_t mh = multiplier >> 16;
    const uint32_t lo = xl * ml;
    const uint32_t mid2 = xl * (uint32_t)mh;
    // |xh| <= 2^15 and ml < 2^16: the product fits an int32.
    const int32_t mid1 = xh * (int32_t)ml;
    const int32_t hi = xh * mh;
    // Rounding constant / 2^16, less 2^15 for negative x.
    const uint32_t round = (1u << 14) + (1u << (14 + e)) - ((uint32_t)(xh >> 31) & 0x8000u);
    // Below 2^32: < 2^16 + 2^31 + 2^16 + 2^30 + 2^14.
    const uint32_t low = ((uint32_t)mid1 & 0xffffu) + mid2 + (lo >> 16) + round;
    return (hi + (mid1 >> 16) + (int32_t)(low >> 16)) >> (e - 1);
}

#endif // TML_FAST_ARMV6M_REQUANT_H
