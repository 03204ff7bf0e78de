// Fixed-point arithmetic shared by the int8 kernels: requantization
// (gemmlowp-style double rounding, as TensorFlow Lite Micro's reference
// kernels do it), multiplier computation from real scales, activation
// ranges, and the Q-format exp / reciprocal / logistic / tanh primitives.
// Everything here must give results bit-identical to TFLM, so the rounding
// and saturation rules are spelled out rather than left to the compiler.
#ifndef TML_QUANT_H
#define TML_QUANT_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tml_op.h"

// Fused activation codes of the .tflite schema.
enum {
    TML_ACT_NONE = 0,
    TML_ACT_RELU = 1,
    TML_ACT_RELU_N1_TO_1 = 2,
    TML_ACT_RELU6 = 3,
    TML_ACT_TANH = 4,
    TML_ACT_SIGN_BIT = 5,
};

// Padding codes of the .tflite schema.
enum {
    TML_PAD_SAME = 0,
    TML_PAD_VALID = 1,
};

static inline int32_t tml_min_i32(int32_t a, int32_t b) {
    return a < b ? a : b;
}

static inline int32_t tml_max_i32(int32_t a, int32_t b) {
    return a > b ? a : b;
}

static inline int32_t tml_clamp_i32(int32_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

// Two's complement wrap-around add/sub/shift: int32 overflow is undefined in
// C, but the reference arithmetic relies on wrapping in a few corners.
static inline int32_t tml_wrap_add(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t tml_wrap_sub(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

static inline int32_t tml_wrap_shl(int32_t a, int n) {
    return (int32_t)((uint32_t)a << n);
}

// round(a * b / 2^31) with ties away from zero, saturating the single
// overflow case (INT32_MIN * INT32_MIN).
static inline int32_t tml_sat_round_doubling_high_mul(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t prod = (int64_t)a * (int64_t)b;
    int64_t nudge = prod >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    // Division (not a shift) so that the quotient truncates toward zero.
    return (int32_t)((prod + nudge) / ((int64_t)1 << 31));
}

// x / 2^exponent rounded to nearest, ties away from zero (0 <= exponent <= 31).
static inline int32_t tml_rounding_divide_by_pot(int32_t x, int exponent) {
    int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// x * multiplier * 2^shift (multiplier a Q31 value in [0.5, 1)), rounded
// twice like TFLM's default build: first the doubling high multiply, then the
// rounding right shift.
static inline int32_t tml_mul_by_quantized_mult(int32_t x, int32_t multiplier, int shift) {
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    return tml_rounding_divide_by_pot(
        tml_sat_round_doubling_high_mul(tml_wrap_shl(x, left), multiplier), right);
}

// The variant used for multipliers >= 1 (shift >= 0): no right shift.
static inline int32_t tml_mul_by_quantized_mult_gt_one(int32_t x, int32_t multiplier, int left_shift) {
    return tml_sat_round_doubling_high_mul(tml_wrap_shl(x, left_shift), multiplier);
}

// The variant used for multipliers < 1 (shift <= 0).
static inline int32_t tml_mul_by_quantized_mult_lt_one(int32_t x, int32_t multiplier, int shift) {
    return tml_rounding_divide_by_pot(tml_sat_round_doubling_high_mul(x, multiplier), -shift);
}

// Prepare-time computations (tml_quant.c): multipliers from real scales,
// activation ranges and limits, bit-identical to the reference.

// Splits a positive real multiplier into a Q31 significand and a power of
// two, as TFLM does: frexp, round half away from zero, renormalise when the
// rounding reaches 1.0, flush tiny values to zero.
void tml_quantize_multiplier(double real, int32_t *multiplier, int *shift);

// Q31 multiplier and shift of q * 2^exp (q > 0, below 2^62), after rounding
// q to 53 significant bits (ties to even, `sticky` = a nonzero remainder
// below q's last bit): tml_quantize_multiplier() on the double it gives.
void tml_quantize_multiplier_exact(uint64_t q, int sticky, int exp, int32_t *multiplier, int *shift);

// tml_quantize_multiplier((double)a * (double)b / (double)c) in integers.
void tml_quantize_multiplier_abc(float a, float b, float c, int32_t *multiplier, int *shift);

// The int8 softmax's input multiplier: beta * input_scale * 2^(31 -
// diff_int_bits), capped at 2^31 - 1, split by tml_quantize_multiplier()
// as the reference does in double (where the product is exact). Returns 0
// when that value is not above 1 (or beta or the scale is not a positive,
// finite number).
int tml_softmax_input_multiplier(float beta, float in_scale, int diff_int_bits,
    int32_t *multiplier, int *shift);

// Largest input magnitude (in the rescaled domain) that still maps inside
// the fixed-point range of a function with input_integer_bits integer bits:
// floor((2^iib - 1) * 2^(tsb - iib) / 2^ils), which the reference computes
// in double; every step is exact, so integers give the same value.
int32_t tml_input_radius(int input_integer_bits, int input_left_shift, int total_signed_bits);

// Output multipliers of a convolution-like op: one per output channel
// (n > 1, per-channel filter) or one for the tensor (n == 1), from
// input_scale * filter_scale[c] / output_scale.
void tml_channel_multipliers(const tml_tensor_t *in, const tml_tensor_t *filter,
    const tml_tensor_t *out, int32_t n, int32_t *mult, int8_t *shift);

// tml_f2i_sat(roundf((float)num / den)) for |num| < 2^24 in integers: the
// float quotient (rounded to 24 bits, ties to even) rounded half away from
// zero and saturated, without soft-float division on cores that lack it.
int32_t tml_round_div_f32(int32_t num, float den);

// Quantized [min, max] of a fused activation for an int8 output.
tml_status_t tml_activation_range_s8(int activation, float scale, int32_t zero_point,
    int32_t *act_min, int32_t *act_max);

// Float [min, max] of a fused activation.
tml_status_t tml_activation_range_f32(int activation, float *act_min, float *act_max);

// float -> int32 with saturation (NaN -> 0): out-of-range conversions are
// undefined in C, and malformed models can ask for them.
static inline int32_t tml_f2i_sat(float f) {
    if (f != f) {
        return 0;
    }
    if (f >= 2147483520.0f) {
        return INT32_MAX;
    }
    if (f <= -2147483648.0f) {
        return INT32_MIN;
    }
    return (int32_t)f;
}

// A usable quantization scale: positive and at most 3e38. Positive floats
// order like their bit patterns, so no float compare (a library call on
// soft-float cores) is needed.
static inline int tml_scale_ok(float s) {
    int32_t bits;
    memcpy(&bits, &s, 4);
    return bits > 0 && bits <= 0x7f61b1e6;   // 0x7f61b1e6 = 3.0e38f
}

// IEEE float comparisons on the bit patterns (NaN compares false), for
// prepare-time checks without soft-float library calls.
static inline int32_t tml_f32_order(float f, int *nan) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    *nan = (bits & 0x7fffffffu) > 0x7f800000u;
    return bits >> 31 ? -(int32_t)(bits & 0x7fffffffu) : (int32_t)bits;
}

static inline int tml_f32_lt(float a, float b) {
    int na, nb;
    const int32_t ka = tml_f32_order(a, &na), kb = tml_f32_order(b, &nb);
    return !na && !nb && ka < kb;
}

static inline int tml_f32_eq(float a, float b) {
    int na, nb;
    const int32_t ka = tml_f32_order(a, &na), kb = tml_f32_order(b, &nb);
    return !na && !nb && ka == kb;
}

// Per-tensor quantization of an int8 activation tensor as the kernels
// need it: a usable scale and a zero point inside the int8 range. Out of
// line: only prepare calls it, from many kernels (one copy of the code).
int tml_q8_ok(const tml_tensor_t *t);


static inline float tml_clamp_f32(float v, float lo, float hi) {
    // max then min, in the order of the reference (NaN handling included).
    float r = v < lo ? lo : v;
    return r > hi ? hi : r;
}

// ---------------------------------------------------------------------------
// Q-format primitives (raw int32 values with a given number of integer bits).

// Multiply by 2^exponent with saturation (exponent > 0) or rounding
// (exponent < 0).
static inline int32_t tml_sat_round_mul_pot(int32_t x, int exponent) {
    if (exponent > 0) {
        int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
        if (x > threshold) {
            return INT32_MAX;
        }
        if (x < -threshold) {
            return INT32_MIN;
        }
        return tml_wrap_shl(x, exponent);
    }
    if (exponent < 0) {
        return tml_rounding_divide_by_pot(x, -exponent);
    }
    return x;
}

// exp(a) for a in [-1/4, 0), a and result in Q0.31.
static inline int32_t tml_q_exp_on_quarter_interval(int32_t a) {
    const int32_t exp_minus_one_eighth = 1895147668;
    const int32_t one_third = 715827883;
    int32_t x = tml_wrap_add(a, 1 << 28);
    int32_t x2 = tml_sat_round_doubling_high_mul(x, x);
    int32_t x3 = tml_sat_round_doubling_high_mul(x2, x);
    int32_t x4 = tml_sat_round_doubling_high_mul(x2, x2);
    int32_t x4_over_4 = tml_rounding_divide_by_pot(x4, 2);
    int32_t poly = tml_rounding_divide_by_pot(
        tml_wrap_add(tml_sat_round_doubling_high_mul(tml_wrap_add(x4_over_4, x3), one_third), x2), 1);
    return tml_wrap_add(exp_minus_one_eighth,
        tml_sat_round_doubling_high_mul(exp_minus_one_eighth, tml_wrap_add(x, poly)));
}

// exp(a) for a <= 0; a has integer_bits integer bits, the result is Q0.31.
static inline int32_t tml_q_exp_on_negative_values(int32_t a, int integer_bits) {
    static const int32_t multipliers[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242,
    };
    const int frac_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
    int32_t mask = one_quarter - 1;
    int32_t a_mod = tml_wrap_sub(a & mask, one_quarter);
    int32_t result = tml_q_exp_on_quarter_interval(tml_sat_round_mul_pot(a_mod, integer_bits));
    int32_t remainder = tml_wrap_sub(a_mod, a);
    // Barrel shifter over the bits of the integer part: exponents -2..4.
    for (int e = -2; e <= 4; e++) {
        if (integer_bits > e) {
            int shift_amount = frac_bits + e;
            if (remainder & ((int32_t)1 << shift_amount)) {
                result = tml_sat_round_doubling_high_mul(result, multipliers[e + 2]);
            }
        }
    }
    if (integer_bits > 5) {
        int32_t clamp = -((int32_t)1 << (36 - integer_bits));
        if (a < clamp) {
            result = 0;
        }
    }
    if (a == 0) {
        result = INT32_MAX;
    }
    return result;
}

// Newton-Raphson core shared by 1/(1+x) and (1-x)/(1+x), x in [0, 1) in
// Q0.31; returns the approximation of 1/half_denominator in Q2.29.
static inline int32_t tml_q_nr_reciprocal(int32_t a) {
    // Rounding half sum of a and 1.0 (INT32_MAX in Q0.31).
    int64_t sum = (int64_t)a + (int64_t)INT32_MAX;
    int64_t sign = sum >= 0 ? 1 : -1;
    int32_t half_den = (int32_t)((sum + sign) / 2);
    const int32_t c48_17 = 1515870810;
    const int32_t cm32_17 = -1010580540;
    int32_t x = tml_wrap_add(c48_17, tml_sat_round_doubling_high_mul(half_den, cm32_17));
    for (int i = 0; i < 3; i++) {
        int32_t hd_x = tml_sat_round_doubling_high_mul(half_den, x);
        int32_t one_minus = tml_wrap_sub((int32_t)1 << 29, hd_x);
        x = tml_wrap_add(x, tml_sat_round_mul_pot(tml_sat_round_doubling_high_mul(x, one_minus), 2));
    }
    return x;
}

// 1 / (1 + x) for x in [0, 1), Q0.31 in and out.
static inline int32_t tml_q_one_over_one_plus_x(int32_t a) {
    return tml_sat_round_mul_pot(tml_q_nr_reciprocal(a), 1);
}

// (1 - x) / (1 + x) for x in [0, 1), Q0.31 in and out.
static inline int32_t tml_q_one_minus_x_over_one_plus_x(int32_t a) {
    return tml_sat_round_mul_pot(tml_wrap_sub(tml_q_nr_reciprocal(a), (int32_t)1 << 29), 2);
}

// logistic(a), a with integer_bits integer bits, result Q0.31.
static inline int32_t tml_q_logistic(int32_t a, int integer_bits) {
    if (a == 0) {
        return (int32_t)1 << 30;
    }
    int32_t abs_a = a > 0 ? a : tml_wrap_sub(0, a);
    int32_t pos = tml_q_one_over_one_plus_x(tml_q_exp_on_negative_values(tml_wrap_sub(0, abs_a), integer_bits));
    return a > 0 ? pos : tml_wrap_sub(INT32_MAX, pos);
}

// tanh(a), a with integer_bits integer bits, result Q0.31.
static inline int32_t tml_q_tanh(int32_t a, int integer_bits) {
    if (a == 0) {
        return 0;
    }
    int32_t neg = a < 0 ? a : tml_wrap_sub(0, a);
    // exp(2 * neg): the same raw value read with one more integer bit.
    int32_t t = tml_q_one_minus_x_over_one_plus_x(tml_q_exp_on_negative_values(neg, integer_bits + 1));
    return a < 0 ? tml_wrap_sub(0, t) : t;
}

// Number of leading zero bits of a 32-bit value (32 for zero).
static inline int tml_clz32(uint32_t x) {
    if (x == 0) {
        return 32;
    }
    int n = 0;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        n++;
    }
    return n;
}

// Reciprocal of x (x_integer_digits integer bits) as a Q0.31 value scaled
// by 2^-num_bits_over_unit.
static inline int32_t tml_q_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit) {
    int headroom_plus_one = tml_clz32((uint32_t)x);
    *num_bits_over_unit = x_integer_digits - headroom_plus_one;
    int32_t shifted_minus_one = (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
    return tml_q_one_over_one_plus_x(shifted_minus_one);
}

#endif // TML_QUANT_H
