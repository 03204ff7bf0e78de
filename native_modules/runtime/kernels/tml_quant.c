// Prepare-time arithmetic of tml_quant.h, compiled once rather than inlined
// into every kernel: the multipliers the kernels derive from real scales,
// activation ranges and input radii, bit-identical to the reference (which
// computes them in float and double; here mostly in integers, so cores
// without an FPU link no soft-double code for the int8 kernels).
#include <string.h>

#include "tml_quant.h"

// Out of line even where the compiler would inline (prepare-time code, two
// callers): flash matters more than the call.
#if defined(__GNUC__)
#define TML_QUANT_NOINLINE __attribute__((noinline))
#else
#define TML_QUANT_NOINLINE
#endif

// Stores a rounded Q31 significand q_fixed (in (0, 2^31]) and its power of
// two as the reference does: renormalise when the rounding reached 1.0,
// flush tiny values to zero.
static void tml_quant_store(int64_t q_fixed, int exp2, int32_t *multiplier, int *shift) {
    if (q_fixed == ((int64_t)1 << 31)) {
        q_fixed /= 2;
        exp2++;
    }
    if (exp2 < -31) {
        exp2 = 0;
        q_fixed = 0;
    }
    if (exp2 > 31) {
        // Not a meaningful scale; keep the shifts of the kernels defined.
        exp2 = 31;
    }
    *multiplier = (int32_t)q_fixed;
    *shift = exp2;
}

// Splits a positive real multiplier into a Q31 significand and a power of
// two, as TFLM does: frexp, round half away from zero, renormalise when the
// rounding reaches 1.0, flush tiny values to zero.
void tml_quantize_multiplier(double real, int32_t *multiplier, int *shift) {
    // Zero, negative, NaN and infinite scales (only in malformed models,
    // which prepare rejects) give a zero multiplier instead of undefined
    // conversions.
    if (!(real > 0.0) || real > 1e300) {
        *multiplier = 0;
        *shift = 0;
        return;
    }
    int exp2 = 0;
    double q = frexp(real, &exp2);
    int64_t q_fixed = (int64_t)round(q * (double)((int64_t)1 << 31));
    tml_quant_store(q_fixed, exp2, multiplier, shift);
}
// ---------------------------------------------------------------------------
// The same multipliers without floating point: the reference computes
// real = (double)a * (double)b / (double)c and splits it with frexp/round.
// The product of two float significands (24 bits each) is exact in double;
// the quotient is rounded once to 53 bits (to nearest, ties to even) and
// then to the 31-bit multiplier (ties away from zero). Both roundings are
// reproduced here from an exact integer quotient, so the results are
// bit-identical while soft-float cores link no double arithmetic.

// A float as sig * 2^exp with sig in [2^23, 2^24) (subnormals normalised);
// returns 0 for zero, -1 for NaN/infinity, 1 otherwise; the sign in *neg.
static int tml_f32_split(float f, uint32_t *sig, int *exp, int *neg) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    const uint32_t e = (bits >> 23) & 0xffu;
    *neg = (int)(bits >> 31);
    if (e == 0xffu) {
        return -1;
    }
    uint32_t m = e ? (bits & 0x7fffffu) | 0x800000u : bits & 0x7fffffu;
    int x = e ? (int)e - 150 : -149;
    if (m == 0) {
        return 0;
    }
    while (m < 0x800000u) {
        m <<= 1;
        x--;
    }
    *sig = m;
    *exp = x;
    return 1;
}

// Index of the highest set bit of q (> 0).
static int tml_top_bit(uint64_t q) {
    int top = 63;
    while (!(q >> top)) {
        top--;
    }
    return top;
}

// q (> 0) rounded to at most `bits` significant bits, to nearest with ties
// to even (`sticky`: a nonzero remainder below q's last bit); the bits
// dropped are added to *exp. The result may reach 2^bits.
static uint64_t tml_round_bits(uint64_t q, int sticky, int bits, int *exp) {
    const int k = tml_top_bit(q) + 1 - bits;
    if (k <= 0) {
        return q;
    }
    *exp += k;
    // With the sticky bit appended (q < 2^62 leaves room), ties to even at
    // bit k + 1: add just under half, plus the kept part's lowest bit.
    q = (q << 1) | (sticky != 0);
    return (q + ((uint64_t)1 << k) - 1 + ((q >> (k + 1)) & 1u)) >> (k + 1);
}

// floor(n * 2^extra / d) for n below 2^n_bits and 0 < d < 2^31, by long
// division, one quotient bit per step (cores without a divide instruction
// would otherwise link 64-bit division); *sticky: a nonzero remainder.
TML_QUANT_NOINLINE static uint64_t tml_long_div(uint64_t n, int n_bits, int extra, uint32_t d, int *sticky) {
    uint64_t q = 0;
    uint32_t r = 0;
    for (int i = n_bits - 1 + extra; i >= 0; i--) {
        r = (r << 1) | (i >= extra ? (uint32_t)(n >> (i - extra)) & 1u : 0u);
        q <<= 1;
        if (r >= d) {
            r -= d;
            q |= 1u;
        }
    }
    *sticky = r != 0;
    return q;
}

// Q31 multiplier and shift of q * 2^exp (q > 0, below 2^62), after rounding
// q to 53 significant bits (ties to even, `sticky` = a nonzero remainder
// below q's last bit): tml_quantize_multiplier() on the double it gives.
void tml_quantize_multiplier_exact(uint64_t q, int sticky, int exp, int32_t *multiplier, int *shift) {
    q = tml_round_bits(q, sticky, 53, &exp);
    const int top = tml_top_bit(q);
    // frexp: q * 2^exp = (q / 2^(top+1)) * 2^(exp + top + 1); the Q31
    // significand is that fraction times 2^31, rounded half away from zero.
    int exp2 = exp + top + 1;
    uint64_t q_fixed = top >= 31 ? (q + ((uint64_t)1 << (top - 31))) >> (top - 30) : q << (30 - top);
    tml_quant_store((int64_t)q_fixed, exp2, multiplier, shift);
}

// tml_quantize_multiplier((double)a * (double)b / (double)c) in integers.
void tml_quantize_multiplier_abc(float a, float b, float c, int32_t *multiplier, int *shift) {
    uint32_t ma = 0, mb = 0, mc = 0;
    int ea = 0, eb = 0, ec = 0, na, nb, nc;
    const int ka = tml_f32_split(a, &ma, &ea, &na), kb = tml_f32_split(b, &mb, &eb, &nb);
    const int kc = tml_f32_split(c, &mc, &ec, &nc);
    *multiplier = 0;
    *shift = 0;
    // Zero, negative, NaN or infinite results give 0 (as the double path).
    if (ka <= 0 || kb <= 0 || kc <= 0 || (na ^ nb ^ nc)) {
        return;
    }
    const uint64_t p = (uint64_t)ma * mb;   // exact, in [2^46, 2^48)
    // p * 2^33 / mc lies in (2^55, 2^58): more bits than the double's 53.
    int sticky;
    const uint64_t q = tml_long_div(p, 48, 33, mc, &sticky);
    tml_quantize_multiplier_exact(q, sticky, ea + eb - ec - 33, multiplier, shift);
}

// The int8 softmax's input multiplier: beta * input_scale * 2^(31 -
// diff_int_bits), capped at 2^31 - 1, split by tml_quantize_multiplier()
// as the reference does in double (where the product is exact). Returns 0
// when that value is not above 1 (or beta or the scale is not a positive,
// finite number).
int tml_softmax_input_multiplier(float beta, float in_scale, int diff_int_bits,
    int32_t *multiplier, int *shift) {
    uint32_t mb = 0, ms = 0;
    int eb = 0, es = 0, nb, ns;
    *multiplier = 0;
    *shift = 0;
    if (tml_f32_split(beta, &mb, &eb, &nb) <= 0 || tml_f32_split(in_scale, &ms, &es, &ns) <= 0 || nb || ns) {
        return 0;
    }
    uint64_t p = (uint64_t)mb * ms;         // in [2^46, 2^48)
    int e = eb + es + 31 - diff_int_bits;
    const int top = p >> 47 ? 47 : 46;
    const uint64_t cap = ((uint64_t)1 << 31) - 1;
    if (top + e >= 31 || (e < 0 && -e <= 32 && p > (cap << -e))) {
        p = cap;
        e = 0;
    } else if (top + e < 0 || (top + e == 0 && p == (uint64_t)1 << top)) {
        return 0;
    }
    tml_quantize_multiplier_exact(p, 0, e, multiplier, shift);
    return 1;
}

// Largest input magnitude (in the rescaled domain) that still maps inside
// the fixed-point range of a function with input_integer_bits integer bits:
// floor((2^iib - 1) * 2^(tsb - iib) / 2^ils), which the reference computes
// in double; every step is exact, so integers give the same value.
int32_t tml_input_radius(int input_integer_bits, int input_left_shift, int total_signed_bits) {
    int64_t v = (((int64_t)1 << input_integer_bits) - 1) << (total_signed_bits - input_integer_bits);
    if (input_left_shift >= 0) {
        v = input_left_shift < 63 ? v >> input_left_shift : 0;
    } else {
        v = -input_left_shift < 32 ? v << -input_left_shift : INT32_MAX;
    }
    return v > INT32_MAX ? INT32_MAX : (int32_t)v;
}
// Output multipliers of a convolution-like op: one per output channel
// (n > 1, per-channel filter) or one for the tensor (n == 1), from
// input_scale * filter_scale[c] / output_scale.
void tml_channel_multipliers(const tml_tensor_t *in, const tml_tensor_t *filter,
    const tml_tensor_t *out, int32_t n, int32_t *mult, int8_t *shift) {
    for (int32_t c = 0; c < n; c++) {
        uint32_t fc = filter->n_quant > 1 ? (uint32_t)c : 0;
        int sh;
        tml_quantize_multiplier_abc(in->scale, tml_tensor_scale(filter, fc), out->scale, &mult[c], &sh);
        shift[c] = (int8_t)sh;
    }
}

// tml_f2i_sat(roundf((float)num / den)) for |num| < 2^24 in integers: the
// float quotient (rounded to 24 bits, ties to even) rounded half away from
// zero and saturated, without soft-float division on cores that lack it.
int32_t tml_round_div_f32(int32_t num, float den) {
    uint32_t bits;
    memcpy(&bits, &den, 4);
    const uint32_t mag = bits & 0x7fffffffu;
    const int neg = (num < 0) ^ (int)(bits >> 31);
    if (num == 0 || mag >= 0x7f800000u) {
        return 0;   // 0 / x, x / NaN and x / infinity all end as 0
    }
    if (mag == 0) {
        return neg ? INT32_MIN : INT32_MAX;     // x / 0: infinity, saturated
    }
    uint32_t md = 0, mn = (uint32_t)(num < 0 ? -num : num);
    int ed = 0, en = 0, sign;
    (void)tml_f32_split(den, &md, &ed, &sign);
    while (mn < 0x800000u) {
        mn <<= 1;
        en--;
    }
    // mn / md lies in (1/2, 2): a quotient of 26 or 27 bits, plus sticky.
    int sticky;
    const uint64_t quot = tml_long_div(mn, 24, 26, md, &sticky);
    int e = en - ed - 26;
    // The float quotient: that rounded to 24 significant bits, ties to even.
    const uint32_t q = (uint32_t)tml_round_bits(quot, sticky, 24, &e);
    // roundf (half away from zero), then saturate like tml_f2i_sat.
    int64_t v;
    if (e >= 0) {
        v = e < 31 ? (int64_t)q << e : INT64_MAX;
    } else {
        v = -e < 40 ? (int64_t)(((uint64_t)q + ((uint64_t)1 << (-e - 1))) >> -e) : 0;
    }
    if (neg) {
        return v >= 2147483648LL ? INT32_MIN : (int32_t)-v;
    }
    return v >= 2147483520LL ? INT32_MAX : (int32_t)v;
}

// Quantized [min, max] of a fused activation for an int8 output.
tml_status_t tml_activation_range_s8(int activation, float scale, int32_t zero_point,
    int32_t *act_min, int32_t *act_max) {
    int32_t lo = -128;
    int32_t hi = 127;
    if (activation < TML_ACT_NONE || activation > TML_ACT_RELU6) {
        return TML_ERR_CONFIG;
    }
    // The reference quantizes the bounds in float: zp + round(f / scale).
    // RELU: [0, inf); RELU_N1_TO_1: [-1, 1]; RELU6: [0, 6].
    if (activation != TML_ACT_NONE) {
        lo = tml_max_i32(lo, tml_wrap_add(zero_point,
            tml_round_div_f32(activation == TML_ACT_RELU_N1_TO_1 ? -1 : 0, scale)));
    }
    if (activation >= TML_ACT_RELU_N1_TO_1) {
        hi = tml_min_i32(hi, tml_wrap_add(zero_point,
            tml_round_div_f32(activation == TML_ACT_RELU6 ? 6 : 1, scale)));
    }
    *act_min = lo;
    *act_max = hi;
    return TML_OK;
}

// Float [min, max] of a fused activation.
tml_status_t tml_activation_range_f32(int activation, float *act_min, float *act_max) {
    switch (activation) {
        case TML_ACT_NONE:
            *act_min = -FLT_MAX;
            *act_max = FLT_MAX;
            return TML_OK;
        case TML_ACT_RELU:
            *act_min = 0.0f;
            *act_max = FLT_MAX;
            return TML_OK;
        case TML_ACT_RELU6:
            *act_min = 0.0f;
            *act_max = 6.0f;
            return TML_OK;
        case TML_ACT_RELU_N1_TO_1:
            *act_min = -1.0f;
            *act_max = 1.0f;
            return TML_OK;
        default:
            return TML_ERR_CONFIG;
    }
}

int tml_q8_ok(const tml_tensor_t *t) {
    return t->n_quant >= 1 && tml_scale_ok(t->scale) && t->zero_point >= -128 && t->zero_point <= 127;
}
