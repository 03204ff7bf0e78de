// Command-line driver for the kernels' fixed-point primitives (tml_quant.h),
// used by test_kernel_quant.py to compare them with an independent Python
// model of the same arithmetic. Reads one operation per line from stdin:
//   srdhm A B | rdbpot X E | mbqm X M S | qmul SCALE | exp A BITS
//   logistic A BITS | tanh A BITS | recip X DIGITS | act ACT SCALE ZP
// and prints the result(s) on one line.
#include <stdio.h>
#include <string.h>

#include "tml_quant.h"

int main(void) {
    char op[32];
    while (scanf("%31s", op) == 1) {
        if (strcmp(op, "srdhm") == 0) {
            long a, b;
            if (scanf("%ld %ld", &a, &b) != 2) return 1;
            printf("%ld\n", (long)tml_sat_round_doubling_high_mul((int32_t)a, (int32_t)b));
        } else if (strcmp(op, "rdbpot") == 0) {
            long x;
            int e;
            if (scanf("%ld %d", &x, &e) != 2) return 1;
            printf("%ld\n", (long)tml_rounding_divide_by_pot((int32_t)x, e));
        } else if (strcmp(op, "mbqm") == 0) {
            long x, m;
            int s;
            if (scanf("%ld %ld %d", &x, &m, &s) != 3) return 1;
            printf("%ld\n", (long)tml_mul_by_quantized_mult((int32_t)x, (int32_t)m, s));
        } else if (strcmp(op, "qmul") == 0) {
            double r;
            if (scanf("%lf", &r) != 1) return 1;
            int32_t m;
            int s;
            tml_quantize_multiplier(r, &m, &s);
            printf("%ld %d\n", (long)m, s);
        } else if (strcmp(op, "exp") == 0 || strcmp(op, "logistic") == 0 || strcmp(op, "tanh") == 0) {
            long a;
            int bits;
            if (scanf("%ld %d", &a, &bits) != 2) return 1;
            int32_t r = op[0] == 'e' ? tml_q_exp_on_negative_values((int32_t)a, bits)
                : op[0] == 'l' ? tml_q_logistic((int32_t)a, bits) : tml_q_tanh((int32_t)a, bits);
            printf("%ld\n", (long)r);
        } else if (strcmp(op, "recip") == 0) {
            long x;
            int digits, over;
            if (scanf("%ld %d", &x, &digits) != 2) return 1;
            int32_t r = tml_q_reciprocal((int32_t)x, digits, &over);
            printf("%ld %d\n", (long)r, over);
        } else if (strcmp(op, "act") == 0) {
            int act;
            float scale;
            long zp;
            if (scanf("%d %f %ld", &act, &scale, &zp) != 3) return 1;
            int32_t lo = 0, hi = 0;
            tml_status_t st = tml_activation_range_s8(act, scale, (int32_t)zp, &lo, &hi);
            printf("%d %ld %ld\n", (int)st, (long)lo, (long)hi);
        } else {
            return 2;
        }
    }
    return 0;
}
