// Integer emulation of the few float operations the frontend's init needs.
// See tml_fe_math.h.
#include <stddef.h>

#include "tml_fe_math.h"

// 2*pi in Q61 and log(2) in Q62, rounded to nearest.
#define TML_TWO_PI_Q61 UINT64_C(14488038916154245685)
#define TML_LN2_Q62 UINT64_C(3196577161300663915)

// Number of significant bits of v (0 for 0).
static int tml_bitlen64(uint64_t v) {
    int n = 0;
    while (v) {
        v >>= 1;
        n++;
    }
    return n;
}

void tml_mul_u64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo) {
    uint64_t a0 = a & 0xFFFFFFFFu, a1 = a >> 32;
    uint64_t b0 = b & 0xFFFFFFFFu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xFFFFFFFFu) + (p10 & 0xFFFFFFFFu);
    *lo = (p00 & 0xFFFFFFFFu) | (mid << 32);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

// (a * b) >> 62 for Q62 operands whose product stays below 2^126.
static uint64_t tml_mul_q62(uint64_t a, uint64_t b) {
    uint64_t hi, lo;
    tml_mul_u64(a, b, &hi, &lo);
    return (hi << 2) | (lo >> 62);
}

void tml_sf_round(uint64_t *mant, int32_t *e, int sticky, int bits) {
    uint64_t m = *mant;
    int len = tml_bitlen64(m);
    if (m == 0) {
        return;
    }
    if (len > bits) {
        int d = len - bits;
        uint64_t rem = m & ((UINT64_C(1) << d) - 1);
        uint64_t half = UINT64_C(1) << (d - 1);
        m >>= d;
        *e += d;
        if (rem > half || (rem == half && (sticky || (m & 1)))) {
            m++;
            if (m >> bits) {
                m >>= 1;
                (*e)++;
            }
        }
    } else if (len < bits) {
        // Exact: only reached without a sticky tail.
        m <<= bits - len;
        *e -= bits - len;
    }
    *mant = m;
}

tml_sf_t tml_sf_make(int neg, uint64_t mant, int32_t e, int sticky) {
    tml_sf_t r = {0, 0, 0};
    if (mant == 0) {
        return r;
    }
    tml_sf_round(&mant, &e, sticky, 24);
    r.neg = neg ? 1 : 0;
    r.m = (uint32_t)mant;
    r.e = e;
    return r;
}

int tml_sf_from_bits(uint32_t bits, tml_sf_t *out) {
    uint32_t ex = (bits >> 23) & 0xFF;
    uint32_t frac = bits & 0x7FFFFF;
    int neg = (int)(bits >> 31);
    if (ex == 0xFF) {
        return 0;
    }
    if (ex == 0) {
        *out = tml_sf_make(neg, frac, -149, 0);
        out->neg = frac ? neg : 0;
    } else {
        out->neg = neg;
        out->m = frac | 0x800000u;
        out->e = (int32_t)ex - 150;
    }
    return 1;
}

uint32_t tml_sf_to_bits(tml_sf_t a) {
    if (a.m == 0) {
        return 0;
    }
    return ((uint32_t)a.neg << 31) | ((uint32_t)(a.e + 150) << 23) | (a.m & 0x7FFFFFu);
}

tml_sf_t tml_sf_from_int(int64_t v) {
    return tml_sf_make(v < 0, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, 0, 0);
}

// Compare magnitudes of two normalised values.
static int tml_sf_cmp_abs(tml_sf_t a, tml_sf_t b) {
    if (a.m == 0 || b.m == 0) {
        return (a.m != 0) - (b.m != 0);
    }
    if (a.e != b.e) {
        return a.e > b.e ? 1 : -1;
    }
    return (a.m > b.m) - (a.m < b.m);
}

tml_sf_t tml_sf_add(tml_sf_t a, tml_sf_t b) {
    if (a.m == 0) {
        return b;
    }
    if (b.m == 0) {
        return a;
    }
    // Keep the larger magnitude in a.
    if (tml_sf_cmp_abs(a, b) < 0) {
        tml_sf_t t = a;
        a = b;
        b = t;
    }
    // 32 guard bits below both mantissas, then align b to a.
    uint64_t ma = (uint64_t)a.m << 32, mb = (uint64_t)b.m << 32;
    int32_t d = a.e - b.e;
    int sticky = 0;
    if (d >= 64) {
        sticky = 1;
        mb = 0;
    } else if (d > 0) {
        sticky = (mb & ((UINT64_C(1) << d) - 1)) != 0;
        mb >>= d;
    }
    uint64_t r;
    if (a.neg == b.neg) {
        r = ma + mb;
    } else {
        r = ma - mb;
        if (sticky) {
            // The true b is a little larger than mb: the exact difference
            // lies strictly between r - 1 and r.
            r -= 1;
        }
        if (r == 0 && !sticky) {
            tml_sf_t z = {0, 0, 0};
            return z;
        }
    }
    return tml_sf_make(a.neg, r, a.e - 32, sticky);
}

tml_sf_t tml_sf_sub(tml_sf_t a, tml_sf_t b) {
    b.neg = b.m ? !b.neg : 0;
    return tml_sf_add(a, b);
}

tml_sf_t tml_sf_mul(tml_sf_t a, tml_sf_t b) {
    return tml_sf_make(a.neg ^ b.neg, (uint64_t)a.m * b.m, a.e + b.e, 0);
}

tml_sf_t tml_sf_div(tml_sf_t a, tml_sf_t b) {
    if (a.m == 0 || b.m == 0) {
        // Division by zero does not occur with validated configurations.
        tml_sf_t z = {0, 0, 0};
        return z;
    }
    uint64_t num = (uint64_t)a.m << 39;
    uint64_t q = num / b.m, rem = num % b.m;
    return tml_sf_make(a.neg ^ b.neg, q, a.e - 39 - b.e, rem != 0);
}

int tml_sf_cmp(tml_sf_t a, tml_sf_t b) {
    int an = a.m && a.neg, bn = b.m && b.neg;
    if (an != bn) {
        return an ? -1 : 1;
    }
    int c = tml_sf_cmp_abs(a, b);
    return an ? -c : c;
}

int64_t tml_sf_round_scaled(tml_sf_t a, int k) {
    int32_t s = a.e + k;
    if (a.m == 0) {
        return 0;
    }
    if (s >= 0) {
        return (int64_t)((uint64_t)a.m << s);
    }
    if (s < -62) {
        return 0;
    }
    return (int64_t)(((uint64_t)a.m + (UINT64_C(1) << (-s - 1))) >> -s);
}

int64_t tml_sf_trunc_scaled(tml_sf_t a, int k) {
    int32_t s = a.e + k;
    if (a.m == 0) {
        return 0;
    }
    if (s >= 0) {
        return (int64_t)((uint64_t)a.m << s);
    }
    if (s < -63) {
        return 0;
    }
    return (int64_t)((uint64_t)a.m >> -s);
}

void tml_cos_sin_turns(uint64_t t_q64, int64_t *cos_q62, int64_t *sin_q62) {
    unsigned quadrant = (unsigned)(t_q64 >> 62);
    uint64_t r = t_q64 & ((UINT64_C(1) << 62) - 1);
    uint64_t hi, lo;
    // Angle within the quadrant in radians, Q62: r / 2^64 * 2*pi.
    tml_mul_u64(r, TML_TWO_PI_Q61, &hi, &lo);
    uint64_t x = (hi << 1) | (lo >> 63);
    uint64_t x2 = tml_mul_q62(x, x);

    // Taylor series; x < pi/2, so the terms fall below 2^-62 quickly.
    int64_t c = (int64_t)1 << 62, s = (int64_t)x;
    uint64_t term = UINT64_C(1) << 62;
    for (unsigned k = 1; term != 0; k++) {
        term = tml_mul_q62(term, x2) / ((2 * k - 1) * (2 * k));
        c += (k & 1) ? -(int64_t)term : (int64_t)term;
    }
    // The sine series is skipped when neither quadrant needs it.
    int need_sin = sin_q62 != NULL || (quadrant & 1);
    term = need_sin ? x : 0;
    for (unsigned k = 1; term != 0; k++) {
        term = tml_mul_q62(term, x2) / ((2 * k) * (2 * k + 1));
        s += (k & 1) ? -(int64_t)term : (int64_t)term;
    }
    int64_t dummy;
    if (sin_q62 == NULL) {
        sin_q62 = &dummy;
    }
    switch (quadrant) {
        case 0:
            *cos_q62 = c;
            *sin_q62 = s;
            break;
        case 1:
            *cos_q62 = -s;
            *sin_q62 = c;
            break;
        case 2:
            *cos_q62 = -c;
            *sin_q62 = -s;
            break;
        default:
            *cos_q62 = s;
            *sin_q62 = -c;
            break;
    }
}

int64_t tml_log2_q56(uint64_t mant, int32_t e) {
    int p = tml_bitlen64(mant);
    uint64_t y = p <= 63 ? mant << (63 - p) : mant >> 1;
    int64_t result = (int64_t)(e + p - 1) * ((int64_t)1 << 56);
    // Fraction bits by repeated squaring of y in [1, 2) (Q62).
    int64_t frac = 0;
    for (int i = 55; i >= 0; i--) {
        y = tml_mul_q62(y, y);
        if (y >= (UINT64_C(1) << 63)) {
            y >>= 1;
            frac |= (int64_t)1 << i;
        }
    }
    return result + frac;
}

uint64_t tml_exp2_q56(int64_t x_q56, int32_t *e) {
    const int64_t one = (int64_t)1 << 56;
    int64_t ipart = x_q56 >= 0 ? x_q56 / one : -((-x_q56 + one - 1) / one);
    uint64_t f = (uint64_t)(x_q56 - ipart * one);
    uint64_t hi, lo;
    // z = f * ln(2) in Q62, then e^z by its series.
    tml_mul_u64(f, TML_LN2_Q62, &hi, &lo);
    uint64_t z = (hi << 8) | (lo >> 56);
    uint64_t sum = UINT64_C(1) << 62, term = UINT64_C(1) << 62;
    for (unsigned k = 1; term != 0; k++) {
        term = tml_mul_q62(term, z) / k;
        sum += term;
    }
    *e = (int32_t)ipart - 62;
    return sum;
}
