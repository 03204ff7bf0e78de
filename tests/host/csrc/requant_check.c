// Checks the faster requantization variants of the kernels against the
// shared reference tml_mul_by_quantized_mult (tml_quant.h): the portable
// tml_window_requant (tml_window.h) and, on x86-64 CPUs with AVX2, the
// 8-lane version of the host fast path (tml_fast_host.c, included here).
// Usage: requant_check N SEED. Prints "checked N mismatches M avx2 A".
#include <stdio.h>
#include <stdlib.h>

#include "tml_window.c"
#include "tml_fast_host.c"

// The host fast path's FULLY_CONNECTED calls this runtime function; the
// checks here never reach it.
int32_t tml_tensor_count(const tml_tensor_t *t) {
    (void)t;
    return 0;
}

static uint64_t rng_state;

static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

// Accumulators: edge values, small values (many rounding ties), full range.
static int32_t pick_acc(void) {
    static const int32_t edges[] = { 0, 1, -1, 2, -2, INT32_MAX, INT32_MIN, INT32_MIN + 1, 1 << 30, -(1 << 30) };
    switch (rnd() % 4) {
        case 0:
            return edges[rnd() % (sizeof(edges) / sizeof(edges[0]))];
        case 1:
            return (int32_t)(rnd() % 4097) - 2048;
        case 2:
            return (int32_t)(rnd() % 2000001) - 1000000;
        default:
            return (int32_t)rnd();
    }
}

// Multipliers as tml_quantize_multiplier makes them: 0, or in [2^30, 2^31).
static int32_t pick_mult(void) {
    switch (rnd() % 5) {
        case 0:
            return (int32_t)((rnd() % 2) ? (1u << 30) : 0x7fffffffu);
        case 1:
            return 0;
        default:
            return (int32_t)((1u << 30) | (rnd() & 0x3fffffffu));
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: requant_check N SEED\n");
        return 2;
    }
    const long n = atol(argv[1]);
    rng_state = 0x9e3779b97f4a7c15ull ^ (uint64_t)atoll(argv[2]);
    long mismatches = 0, avx2 = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    const int has_avx2 = host_avx2();
#else
    const int has_avx2 = 0;
#endif
    for (long i = 0; i < n; i += 8) {
        int32_t acc[8], mult[8], want[8];
        int8_t shift[8];
        for (int j = 0; j < 8; j++) {
            acc[j] = pick_acc();
            mult[j] = pick_mult();
            shift[j] = (int8_t)((int32_t)(rnd() % 63) - 31);
            want[j] = tml_mul_by_quantized_mult(acc[j], mult[j], shift[j]);
            if (tml_window_requant(acc[j], mult[j], shift[j]) != want[j]) {
                if (mismatches++ < 5) {
                    printf("portable %ld %ld %d\n", (long)acc[j], (long)mult[j], shift[j]);
                }
            }
        }
#if defined(__x86_64__) && defined(__GNUC__)
        if (has_avx2) {
            int32_t got[8];
            host_rq8_array(got, acc, mult, shift);
            for (int j = 0; j < 8; j++) {
                if (got[j] != want[j] && mismatches++ < 5) {
                    printf("avx2 %ld %ld %d\n", (long)acc[j], (long)mult[j], shift[j]);
                }
            }
            avx2 += 8;
        }
#endif
    }
    printf("checked %ld mismatches %ld avx2 %ld\n", n, mismatches, avx2);
    return 0;
}
