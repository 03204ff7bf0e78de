// Checks tml_m0_requant() (the ARMv6-M requantization without 64-bit
// products, kernels/tml_fast_armv6m_requant.h) against the shared
// tml_mul_by_quantized_mult() (tml_quant.h).
//
//   m0_requant_check            reads "x multiplier shift" lines, prints
//                               "ok fast ref" (fast is 0 when not ok)
//   m0_requant_check N SEED     compares N random operands, many of them on
//                               rounding boundaries; prints "mismatches K of N"
#include <stdio.h>
#include <stdlib.h>

#include "tml_quant.h"
#include "tml_fast_armv6m_requant.h"

static uint64_t rng_state;

static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static int32_t operand(int32_t m, int e, long i) {
    static const int32_t edges[] = {0, 1, -1, 2, -2, INT32_MAX, INT32_MIN, INT32_MIN + 1, INT32_MAX - 1,
                                    65535, 65536, -65536, -65537, 32768, -32768, -32769};
    switch (i % 4) {
        case 0:
            return (int32_t)rnd();
        case 1:
            return (int32_t)rnd() >> (rnd() % 31);
        case 2:
            return edges[rnd() % (sizeof(edges) / sizeof(edges[0]))];
        default: {
            // Next to a multiple of half an output step: where rounding decides.
            int64_t target = ((int64_t)(int32_t)rnd() >> (rnd() % 24)) * ((int64_t)1 << (30 + e - 1));
            return (int32_t)(target / m) + (int32_t)(rnd() % 5) - 2;
        }
    }
}

int main(int argc, char **argv) {
    if (argc == 3) {
        long n = atol(argv[1]), bad = 0;
        rng_state = 0x9E3779B97F4A7C15ull ^ (uint64_t)atol(argv[2]);
        for (long i = 0; i < n; i++) {
            int32_t m = (int32_t)((1u << 30) + 1 + rnd() % ((1u << 30) - 1));
            if (i % 7 == 0) {
                m = (int32_t)((1u << 30) + 1 + (rnd() & 3));
            } else if (i % 11 == 0) {
                m = INT32_MAX - (int32_t)(rnd() & 3);
            }
            int e = 1 + (int)(rnd() % 16);
            int32_t x = operand(m, e, i);
            if (tml_m0_requant(x, m, e) != tml_mul_by_quantized_mult(x, m, -e)) {
                bad++;
            }
        }
        printf("mismatches %ld of %ld\n", bad, n);
        return 0;
    }
    long long x, m;
    int shift;
    while (scanf("%lld %lld %d", &x, &m, &shift) == 3) {
        int ok = tml_m0_requant_ok((int32_t)m, shift);
        int32_t fast = ok ? tml_m0_requant((int32_t)x, (int32_t)m, -shift) : 0;
        printf("%d %ld %ld\n", ok, (long)fast, (long)tml_mul_by_quantized_mult((int32_t)x, (int32_t)m, shift));
    }
    return 0;
}
