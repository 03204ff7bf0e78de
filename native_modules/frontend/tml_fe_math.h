// Integer helpers the frontend uses at init: a small IEEE-754 single
// precision emulation (round-to-nearest-even) and high-precision fixed-point
// cos/log2/exp2. They let the init code follow the reference's float
// arithmetic step by step without an FPU or libm, identically on all targets.
#ifndef TML_FE_MATH_H
#define TML_FE_MATH_H

#include <stdint.h>

// A finite single-precision value: (-1)^neg * m * 2^e with m = 0 or
// 2^23 <= m < 2^24 (subnormal inputs are normalised; results never need
// gradual underflow here).
typedef struct {
    int32_t neg;
    uint32_t m;
    int32_t e;
} tml_sf_t;

// Decode float bits; returns 0 for inf/NaN.
int tml_sf_from_bits(uint32_t bits, tml_sf_t *out);
uint32_t tml_sf_to_bits(tml_sf_t a);
tml_sf_t tml_sf_from_int(int64_t v);
// Round mant * 2^e (+ a nonzero tail below it when sticky) to `bits`
// significant bits, nearest-even; the result keeps `bits` bits of mantissa.
void tml_sf_round(uint64_t *mant, int32_t *e, int sticky, int bits);
// Round an unsigned value mant * 2^e (with sticky tail) to a single.
tml_sf_t tml_sf_make(int neg, uint64_t mant, int32_t e, int sticky);
tml_sf_t tml_sf_add(tml_sf_t a, tml_sf_t b);
tml_sf_t tml_sf_sub(tml_sf_t a, tml_sf_t b);
tml_sf_t tml_sf_mul(tml_sf_t a, tml_sf_t b);
tml_sf_t tml_sf_div(tml_sf_t a, tml_sf_t b);
// -1, 0, 1 as a <, ==, > b.
int tml_sf_cmp(tml_sf_t a, tml_sf_t b);
// floor(a * 2^k + 0.5) computed exactly (as the reference does in double);
// a must be non-negative and the result must fit in 63 bits.
int64_t tml_sf_round_scaled(tml_sf_t a, int k);
// floor(a * 2^k) for a >= 0 (C's float-to-integer truncation of a * 2^k).
int64_t tml_sf_trunc_scaled(tml_sf_t a, int k);

// 64 x 64 -> 128-bit unsigned product.
void tml_mul_u64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo);

// cos and sin of 2*pi*t where t is a fraction of a turn in Q64 (so the
// argument wraps for free); results in Q62 with |error| < 2^-58. sin_q62
// may be NULL when only the cosine is wanted.
void tml_cos_sin_turns(uint64_t t_q64, int64_t *cos_q62, int64_t *sin_q62);

// log2(mant * 2^e) for mant > 0, in Q56.
int64_t tml_log2_q56(uint64_t mant, int32_t e);

// 2^x for x in Q56: returns a mantissa in [2^62, 2^63) and sets *e so that
// the value is mant * 2^e.
uint64_t tml_exp2_q56(int64_t x_q56, int32_t *e);

#endif // TML_FE_MATH_H
