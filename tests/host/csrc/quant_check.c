// Command-line driver for the kernels' fixed-point primitives (tml_quant.h),
// used by test_kernel_quant.py to compare them with an independent Python
// model of the same arithmetic. Reads one operation per line from stdin:
//   srdhm A B | rdbpot X E | mbqm X M S | qmul SCALE | exp A BITS
//   logistic A BITS | tanh A BITS | recip X DIGITS | act ACT SCALE ZP
//   qabc A B C | qexact Q STICKY EXP | rdiv NUM DEN | fcmp A B | smx BETA SCALE BITS
//   radius IB SHIFT
//   (floats in C99 hex)
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
        } else if (strcmp(op, "qabc") == 0) {
            // Integer multiplier of a * b / c next to the double one.
            float a, b, c;
            if (scanf("%a %a %a", &a, &b, &c) != 3) return 1;
            int32_t m1, m2;
            int s1, s2;
            tml_quantize_multiplier_abc(a, b, c, &m1, &s1);
            tml_quantize_multiplier((double)a * (double)b / (double)c, &m2, &s2);
            printf("%ld %d %ld %d\n", (long)m1, s1, (long)m2, s2);
        } else if (strcmp(op, "qexact") == 0) {
            unsigned long long q;
            int sticky, e;
            if (scanf("%llu %d %d", &q, &sticky, &e) != 3) return 1;
            int32_t m;
            int sh;
            tml_quantize_multiplier_exact((uint64_t)q, sticky, e, &m, &sh);
            printf("%ld %d\n", (long)m, sh);
        } else if (strcmp(op, "rdiv") == 0) {
            // Integer round(num / den) next to the float one.
            long num;
            float den;
            if (scanf("%ld %a", &num, &den) != 2) return 1;
            printf("%ld %ld\n", (long)tml_round_div_f32((int32_t)num, den),
                (long)tml_f2i_sat(roundf((float)num / den)));
        } else if (strcmp(op, "fcmp") == 0) {
            float a, b;
            if (scanf("%a %a", &a, &b) != 2) return 1;
            printf("%d %d %d %d\n", tml_f32_lt(a, b), tml_f32_eq(a, b), a < b, a == b);
        } else if (strcmp(op, "smx") == 0) {
            // Softmax input multiplier: integer helper next to the double code.
            float beta, scale;
            int bits;
            if (scanf("%a %a %d", &beta, &scale, &bits) != 3) return 1;
            int32_t m1, m2 = 0;
            int s1, s2 = 0;
            int ok1 = tml_softmax_input_multiplier(beta, scale, bits, &m1, &s1);
            double real = (double)beta * (double)scale * (double)(1 << (31 - bits));
            if (real > (double)(((int64_t)1 << 31) - 1)) {
                real = (double)(((int64_t)1 << 31) - 1);
            }
            int ok2 = real > 1.0;
            if (ok2) {
                tml_quantize_multiplier(real, &m2, &s2);
            }
            printf("%d %ld %d %d %ld %d\n", ok1, (long)m1, s1, ok2, (long)m2, s2);
        } else if (strcmp(op, "radius") == 0) {
            int ib, ls;
            if (scanf("%d %d", &ib, &ls) != 2) return 1;
            double r = 1.0 * (double)((1 << ib) - 1) * (double)((int64_t)1 << (31 - ib)) / (double)((int64_t)1 << ls);
            printf("%ld %ld\n", (long)tml_input_radius(ib, ls, 31), (long)floor(r));
        } else {
            return 2;
        }
    }
    return 0;
}
