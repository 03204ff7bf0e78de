// Fast paths of the hot int8 kernels for Cortex-M4/M7 (ARMv7E-M with the DSP
// extension); see tml_fast.h.
//
// The input zero point is folded into the activations as they are widened
// to int16 (SXTAB16 adds it to two lanes in one instruction), so padded taps
// are plain zeros and no per-channel weight sums are needed: the sums are the
// same integers the reference forms, hence byte-identical results. The dual
// 16-bit multiply-accumulate SMLAD then does two MACs per instruction.
//
// Lane order: SXTB16 of a word holding int8 k0..k3 gives the int16 pair
// (k0, k2), SXTB16 of the word rotated by 8 gives (k1, k3). Activations are
// stored widened in that same order, so weights need no repacking.
#include "tml_fast.h"

#if defined(TML_FAST_ARMV7EM)

#include <string.h>
#include <arm_acle.h>

#include "tml_kernels.h"
#include "tml_quant.h"
#include "tml_window.h"

// The inline-assembly loops need up to 14 registers, which unoptimized
// builds (frame pointer, no inlining) cannot provide; those builds use the
// C versions of the same loops. (Decided before the pragma below, which
// defines __OPTIMIZE__.)
#if defined(__OPTIMIZE__)
#define M4_ASM 1
#else
#define M4_ASM 0
#endif

// The kernels are small; -O2 instead of the port's -Os keeps the inner loops
// in registers and unrolled.
#pragma GCC optimize("O2", "omit-frame-pointer")

// ---------------------------------------------------------------------------
// DSP primitives.

// Unaligned 32-bit load (LDR allows unaligned addresses on ARMv7-M).
static inline uint32_t m4_ld32(const void *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint32_t m4_sxtb16(uint32_t x) {
    return (uint32_t)__sxtb16((int8x4_t)x);
}

static inline uint32_t m4_sxtb16_ror8(uint32_t x) {
    uint32_t r;
    __asm__ ("sxtb16 %0, %1, ror #8" : "=r" (r) : "r" (x));
    return r;
}

static inline uint32_t m4_sxtab16(uint32_t acc, uint32_t x) {
    return (uint32_t)__sxtab16((int16x2_t)acc, (int8x4_t)x);
}

static inline uint32_t m4_sxtab16_ror8(uint32_t acc, uint32_t x) {
    uint32_t r;
    __asm__ ("sxtab16 %0, %1, %2, ror #8" : "=r" (r) : "r" (acc), "r" (x));
    return r;
}

static inline int32_t m4_smlad(uint32_t a, uint32_t b, int32_t acc) {
    return __smlad((int16x2_t)a, (int16x2_t)b, acc);
}

static inline int32_t m4_smlabb(uint32_t a, uint32_t b, int32_t acc) {
    return __smlabb((int32_t)a, (int32_t)b, acc);
}

static inline int32_t m4_smlatt(uint32_t a, uint32_t b, int32_t acc) {
    return __smlatt((int32_t)a, (int32_t)b, acc);
}

// (a * b + 2^31) >> 32.
static inline int32_t m4_smmulr(int32_t a, int32_t b) {
    int32_t r;
    __asm__ ("smmulr %0, %1, %2" : "=r" (r) : "r" (a), "r" (b));
    return r;
}

// ---------------------------------------------------------------------------
// Requantization.
//
// The reference computes round_half_away(SRDHM(acc << left, m), right) with
// SRDHM(a, m) = (a * m + nudge) / 2^31 truncated, nudge = +-2^30. For a
// product p both signs reduce to floor((p + 2^30) / 2^31), which is
// SMMULR(2a, m) whenever 2a fits in 32 bits (m never equals INT32_MIN, so the
// saturating case cannot occur). The rounding right shift is
// (v + 2^(right-1) - (v < 0)) >> right. An op takes this path only when a
// bound on its accumulators guarantees |acc << (left + 1)| < 2^31; otherwise
// every output goes through the shared tml_mul_by_quantized_mult.

typedef struct {
    int32_t out_off, act_min, act_max;
    int fast;       // every |acc << (left + 1)| < 2^31: the SMMULR route is exact
    int np;         // fast, and no channel shifts left: the shortest route
    int narrow;     // the activation range is narrower than int8
    int asm4;       // np, not narrow, every right shift >= 1: the assembly route
} m4_rq_t;

// Per-channel constants of the fast path: multiplier, left shift + 1, right
// shift.
typedef struct {
    int32_t m;
    int l1, r;
} m4_chan_t;

static inline m4_chan_t m4_chan(int32_t m, int shift) {
    m4_chan_t c;
    c.m = m;
    c.l1 = (shift > 0 ? shift : 0) + 1;
    c.r = shift > 0 ? 0 : -shift;
    return c;
}

static inline __attribute__((always_inline)) int32_t m4_rq_fast(int32_t acc, m4_chan_t c) {
    int32_t v = m4_smmulr((int32_t)((uint32_t)acc << c.l1), c.m);
    if (c.r > 0) {
        v = (v + (1 << (c.r - 1)) + (v >> 31)) >> c.r;
    }
    return v;
}

static inline int8_t m4_finish(const m4_rq_t *q, int32_t v) {
    v = tml_wrap_add(v, q->out_off);
    v = v < q->act_min ? q->act_min : v;
    v = v > q->act_max ? q->act_max : v;
    return (int8_t)v;
}

// The exact, slower route (kept out of line: rarely taken).
static __attribute__((noinline)) int32_t m4_rq_exact(int32_t acc, int32_t m, int shift) {
    return tml_mul_by_quantized_mult(acc, m, shift);
}

static inline int8_t m4_rq(const m4_rq_t *q, int32_t acc, int32_t m, int shift) {
    int32_t v = q->fast ? m4_rq_fast(acc, m4_chan(m, shift)) : m4_rq_exact(acc, m, shift);
    return m4_finish(q, v);
}

// Sets up the requantization of an op. The fast route needs a bound on its
// accumulators: `taps` products of (x - zero_point) in [-255, 255] and an
// int8 weight, plus the largest bias, shifted left by the largest left shift
// plus one, must stay below 2^31.
static void m4_rq_setup(m4_rq_t *q, int32_t out_off, int32_t act_min, int32_t act_max, const int32_t *bias,
    int32_t n_bias, int32_t taps, const int8_t *shift, int32_t n_shift) {
    q->out_off = out_off;
    q->act_min = act_min;
    q->act_max = act_max;
    q->narrow = act_min > -128 || act_max < 127;
    int64_t bound = (int64_t)taps * 255 * 128;
    int32_t bmax = 0;
    for (int32_t i = 0; bias && i < n_bias; i++) {
        int32_t b = bias[i];
        int32_t a = b < 0 ? (b == INT32_MIN ? INT32_MAX : -b) : b;
        bmax = a > bmax ? a : bmax;
    }
    bound += bmax;
    int lmax = 0;
    for (int32_t i = 0; i < n_shift; i++) {
        lmax = shift[i] > lmax ? shift[i] : lmax;
    }
    int rmin = 31;
    for (int32_t i = 0; i < n_shift; i++) {
        rmin = -shift[i] < rmin ? -shift[i] : rmin;
    }
    q->fast = lmax < 30 && (bound << (lmax + 1)) < ((int64_t)1 << 31);
    q->np = q->fast && lmax == 0;
    q->asm4 = q->np && !q->narrow && rmin >= 1;
}

// The assembly route (q->asm4): SRDHM as SMMULR of the doubled
// accumulator, then the rounding right shift by r >= 1 as
// (v + 2^(r-1) - (v < 0)) >> r, the output offset and int8 saturation.
// RQ_CHAN loads channel I's multiplier into m, r into s and 2^r into t;
// RQ_ACC requantizes accumulator A with them and stores it at [Y, #I].
#define M4_RQ_CHAN(I) \
    "ldr %[m], [%[mp], #(4*" I ")]\n\t" \
    "ldrsb %[s], [%[sp8], #" I "]\n\t" \
    "rsb %[s], %[s], #0\n\t" \
    "mov %[t], #1\n\t" \
    "lsl %[t], %[t], %[s]\n\t"
#define M4_RQ_ACC(A, Y, I) \
    "lsl " A ", " A ", #1\n\t" \
    "smmulr " A ", " A ", %[m]\n\t" \
    "add " A ", " A ", " A ", asr #31\n\t" \
    "add " A ", " A ", %[t], lsr #1\n\t" \
    "asr " A ", " A ", %[s]\n\t" \
    "add " A ", " A ", %[off]\n\t" \
    "ssat " A ", #8, " A "\n\t" \
    "strb " A ", [" Y ", #" I "]\n\t"

// The same route in C (unoptimized builds).
static inline int8_t m4_rq_asm_c(int32_t acc, int32_t m, int32_t sh, int32_t off) {
    const int32_t r = -sh;
    int32_t v = m4_smmulr((int32_t)((uint32_t)acc << 1), m);
    v = (v + (v >> 31) + (int32_t)((1u << r) >> 1)) >> r;
    return (int8_t)__ssat(v + off, 8);
}

// Four adjacent channels of one pixel.
static inline __attribute__((always_inline)) void m4_store4_asm(int8_t *yp, const int32_t *mp, const int8_t *sp8, int32_t off,
    int32_t a0, int32_t a1, int32_t a2, int32_t a3) {
    #if !M4_ASM
    yp[0] = m4_rq_asm_c(a0, mp[0], sp8[0], off);
    yp[1] = m4_rq_asm_c(a1, mp[1], sp8[1], off);
    yp[2] = m4_rq_asm_c(a2, mp[2], sp8[2], off);
    yp[3] = m4_rq_asm_c(a3, mp[3], sp8[3], off);
    #else
    int32_t m, s, t;
    // volatile: the stores are the point, the outputs are scratch.
    __asm__ volatile (
        M4_RQ_CHAN("0") M4_RQ_ACC("%[a0]", "%[yp]", "0")
        M4_RQ_CHAN("1") M4_RQ_ACC("%[a1]", "%[yp]", "1")
        M4_RQ_CHAN("2") M4_RQ_ACC("%[a2]", "%[yp]", "2")
        M4_RQ_CHAN("3") M4_RQ_ACC("%[a3]", "%[yp]", "3")
        : [a0] "+r" (a0), [a1] "+r" (a1), [a2] "+r" (a2), [a3] "+r" (a3), [m] "=&r" (m), [s] "=&r" (s),
          [t] "=&r" (t)
        : [mp] "r" (mp), [sp8] "r" (sp8), [yp] "r" (yp), [off] "r" (off)
        : "memory");
    #endif
}

// Two channels of two pixels (ya, yb; the same pixel twice is fine).
static inline __attribute__((always_inline)) void m4_store_2x2_asm(int8_t *ya, int8_t *yb, const int32_t *mp, const int8_t *sp8, int32_t off,
    int32_t a0, int32_t b0, int32_t a1, int32_t b1) {
    #if !M4_ASM
    ya[0] = m4_rq_asm_c(a0, mp[0], sp8[0], off);
    yb[0] = m4_rq_asm_c(b0, mp[0], sp8[0], off);
    ya[1] = m4_rq_asm_c(a1, mp[1], sp8[1], off);
    yb[1] = m4_rq_asm_c(b1, mp[1], sp8[1], off);
    #else
    int32_t m, s, t;
    // volatile: the stores are the point, the outputs are scratch.
    __asm__ volatile (
        M4_RQ_CHAN("0") M4_RQ_ACC("%[a0]", "%[ya]", "0") M4_RQ_ACC("%[b0]", "%[yb]", "0")
        M4_RQ_CHAN("1") M4_RQ_ACC("%[a1]", "%[ya]", "1") M4_RQ_ACC("%[b1]", "%[yb]", "1")
        : [a0] "+r" (a0), [b0] "+r" (b0), [a1] "+r" (a1), [b1] "+r" (b1), [m] "=&r" (m), [s] "=&r" (s),
          [t] "=&r" (t)
        : [mp] "r" (mp), [sp8] "r" (sp8), [ya] "r" (ya), [yb] "r" (yb), [off] "r" (off)
        : "memory");
    #endif
}

// The shortest route (q->np): shift <= 0, so no left shift; the final clamp
// saturates to int8 first, then applies a narrower activation range.
static inline __attribute__((always_inline)) int8_t m4_out_np(const m4_rq_t *q, int32_t acc, int32_t m, int32_t sh) {
    int32_t v = m4_smmulr((int32_t)((uint32_t)acc << 1), m);
    if (sh < 0) {
        const int32_t r = -sh;
        v = (v + (int32_t)((1u << r) >> 1) + (v >> 31)) >> r;
    }
    v = __ssat(v + q->out_off, 8);
    if (q->narrow) {
        v = v < q->act_min ? q->act_min : v;
        v = v > q->act_max ? q->act_max : v;
    }
    return (int8_t)v;
}

// Any route.
static inline int8_t m4_out(const m4_rq_t *q, int32_t acc, int32_t m, int shift) {
    return q->np ? m4_out_np(q, acc, m, shift) : m4_rq(q, acc, m, shift);
}

// ---------------------------------------------------------------------------
// CONV_2D as a matrix product: every output pixel's patch (fh * fw * cin
// values, input offset added, zeros where the window leaves the input) is
// widened into a small buffer, two pixels at a time, and multiplied by the
// OHWI filter rows (each a contiguous run of K int8 in the same order).
//
// Buffer of two columns A and B: for every group g of four K values, words
// 4g, 4g+1 hold A's (k0, k2), (k1, k3) and words 4g+2, 4g+3 B's; the last
// K % 4 values follow in natural order, A's at halfword 2 * K4, B's 4 later.

// Two widened columns, plus the int8 staging area of a gathered window.
static inline size_t m4_patch_bytes(int32_t k, int is_1x1) {
    const size_t kpad = (size_t)((k + 3) & ~3);
    return 4 * kpad + (is_1x1 ? 0 : kpad);
}

// Patches that are a single input pixel of whole channel groups.
static inline int m4_conv_is_1x1(const tml_tensor_t *filter, const tml_conv_data_t *d) {
    return filter->dims[1] == 1 && filter->dims[2] == 1 && d->pad_h == 0 && d->pad_w == 0 && (filter->dims[3] & 3) == 0;
}

typedef struct {
    tml_window_t g;     // the window's geometry
    const int8_t *x;
    int32_t k, k4;
    uint32_t off2;      // input offset in both int16 lanes
    int32_t in_off;
} m4_patch_t;

static inline void m4_copy8(int8_t *dst, const int8_t *src, int32_t n) {
    for (; n >= 4; n -= 4, dst += 4, src += 4) {
        uint32_t v = m4_ld32(src);
        memcpy(dst, &v, 4);
    }
    for (; n > 0; n--) {
        *dst++ = *src++;
    }
}

static inline void m4_fill8(int8_t *dst, int8_t v, int32_t n) {
    for (; n > 0; n--) {
        *dst++ = v;
    }
}

// Writes the patch of output pixel p (flat over batch, rows, columns): the
// window is first gathered as int8 into `stage` (the input zero point where
// it leaves the input, which the offset then turns into zero), then widened
// four values at a time.
static void m4_patch_fill(const m4_patch_t *P, int16_t *buf, int8_t *stage, int32_t p, int col) {
    const int32_t ox = p % P->g.ow;
    const int32_t t = p / P->g.ow;
    const int32_t oy = t % P->g.oh;
    const int32_t b = t / P->g.oh;
    const int32_t y0 = oy * P->g.stride_h - P->g.pad_h, x0 = ox * P->g.stride_w - P->g.pad_w;
    const int32_t cin = P->g.cin, rowlen = P->g.fw * cin;
    const int8_t zp = (int8_t)(-P->in_off);
    const int whole_rows = P->g.dil_w == 1 && x0 >= 0 && x0 + P->g.fw <= P->g.iw;
    int8_t *s = stage;
    for (int32_t ky = 0; ky < P->g.fh; ky++) {
        const int32_t iy = y0 + ky * P->g.dil_h;
        if (iy < 0 || iy >= P->g.ih) {
            m4_fill8(s, zp, rowlen);
            s += rowlen;
            continue;
        }
        const int8_t *row = P->x + ((size_t)b * P->g.ih + iy) * P->g.iw * cin;
        if (whole_rows) {
            m4_copy8(s, row + x0 * cin, rowlen);
            s += rowlen;
            continue;
        }
        for (int32_t kx = 0; kx < P->g.fw; kx++, s += cin) {
            const int32_t ix = x0 + kx * P->g.dil_w;
            if (ix >= 0 && ix < P->g.iw) {
                m4_copy8(s, row + ix * cin, cin);
            } else {
                m4_fill8(s, zp, cin);
            }
        }
    }
    uint32_t *dst = (uint32_t *)buf + col * 2;
    const uint32_t off2 = P->off2;
    for (int32_t g = 0; g < P->k4; g += 4, dst += 4) {
        uint32_t u = m4_ld32(stage + g);
        dst[0] = m4_sxtab16(off2, u);
        dst[1] = m4_sxtab16_ror8(off2, u);
    }
    int16_t *tail = buf + 2 * P->k4 + col * 4;
    for (int32_t k = P->k4; k < P->k; k++) {
        tail[k - P->k4] = (int16_t)(stage[k] + P->in_off);
    }
}

// The 1x1, stride-agnostic, unpadded case: the patch is one input pixel
// whose channel count is a multiple of four.
static void m4_patch_fill_1x1(const m4_patch_t *P, int16_t *buf, int32_t p, int col) {
    const int32_t ox = p % P->g.ow;
    const int32_t t = p / P->g.ow;
    const int32_t oy = t % P->g.oh;
    const int32_t b = t / P->g.oh;
    const int8_t *src = P->x + (((size_t)b * P->g.ih + oy * P->g.stride_h) * P->g.iw + ox * P->g.stride_w) * P->g.cin;
    uint32_t *dst = (uint32_t *)buf + col * 2;
    const uint32_t off2 = P->off2;
    for (int32_t n = P->g.cin >> 2; n > 0; n--, src += 4, dst += 4) {
        uint32_t u = m4_ld32(src);
        dst[0] = m4_sxtab16(off2, u);
        dst[1] = m4_sxtab16_ror8(off2, u);
    }
}

typedef struct {
    int32_t a0, a1;     // columns A and B
} m4_acc2_t;

// One group of four K values of the 2x2 product (operands named as in
// m4_dot_2x2).
#define M4_MM_GROUP \
    "ldmia %[pp]!, {r2, r3, r4, r5}\n\t" \
    "ldr %[u], [%[w0]], #4\n\t" \
    "sxtb16 %[u1], %[u], ror #8\n\t" \
    "sxtb16 %[u], %[u]\n\t" \
    "smlad %[a0], r2, %[u], %[a0]\n\t" \
    "smlad %[a1], r4, %[u], %[a1]\n\t" \
    "smlad %[a0], r3, %[u1], %[a0]\n\t" \
    "smlad %[a1], r5, %[u1], %[a1]\n\t" \
    "ldr %[u], [%[w1]], #4\n\t" \
    "sxtb16 %[u1], %[u], ror #8\n\t" \
    "sxtb16 %[u], %[u]\n\t" \
    "smlad %[c0], r2, %[u], %[c0]\n\t" \
    "smlad %[c1], r4, %[u], %[c1]\n\t" \
    "smlad %[c0], r3, %[u1], %[c0]\n\t" \
    "smlad %[c1], r5, %[u1], %[c1]\n\t"

// Dot products of two filter rows with both columns, starting from the bias.
static inline __attribute__((always_inline)) void m4_dot_2x2(const uint32_t *pp, const int8_t *w0, const int8_t *w1, int32_t k4, int32_t tail,
    int32_t bias0, int32_t bias1, m4_acc2_t *r0, m4_acc2_t *r1) {
    int32_t a0 = bias0, a1 = bias0, c0 = bias1, c1 = bias1;
    const int16_t *tp = (const int16_t *)(pp + k4);
    int32_t n = k4 >> 2;
    #if !M4_ASM
    for (; n > 0; n--, pp += 4, w0 += 4, w1 += 4) {
        uint32_t u = m4_ld32(w0), v = m4_ld32(w1);
        a0 = m4_smlad(pp[0], m4_sxtb16(u), a0);
        a0 = m4_smlad(pp[1], m4_sxtb16_ror8(u), a0);
        a1 = m4_smlad(pp[2], m4_sxtb16(u), a1);
        a1 = m4_smlad(pp[3], m4_sxtb16_ror8(u), a1);
        c0 = m4_smlad(pp[0], m4_sxtb16(v), c0);
        c0 = m4_smlad(pp[1], m4_sxtb16_ror8(v), c0);
        c1 = m4_smlad(pp[2], m4_sxtb16(v), c1);
        c1 = m4_smlad(pp[3], m4_sxtb16_ror8(v), c1);
    }
    #else
    if (n > 0) {
        // Four patch words (two per column) in one LDM, then each filter
        // row's word widened once and used for both columns. Two groups per
        // loop pass; an odd one first. The body leaves the flags alone.
        uint32_t u, u1;
        __asm__ (
            "lsrs %[n], %[n], #1\n\t"
            "bcc 2f\n\t"
            M4_MM_GROUP
            "2:\n\t"
            "cmp %[n], #0\n\t"
            "beq 3f\n\t"
            "1:\n\t"
            M4_MM_GROUP
            M4_MM_GROUP
            "subs %[n], %[n], #1\n\t"
            "bne 1b\n\t"
            "3:\n\t"
            : [a0] "+r" (a0), [a1] "+r" (a1), [c0] "+r" (c0), [c1] "+r" (c1),
              [pp] "+r" (pp), [w0] "+r" (w0), [w1] "+r" (w1), [n] "+r" (n), [u] "=&r" (u), [u1] "=&r" (u1)
            :
            : "r2", "r3", "r4", "r5", "cc", "memory");
    }
    #endif
    for (int32_t i = 0; i < tail; i++) {
        const int32_t va = tp[i], vb = tp[4 + i];
        a0 = tml_wrap_add(a0, va * w0[i]);
        a1 = tml_wrap_add(a1, vb * w0[i]);
        c0 = tml_wrap_add(c0, va * w1[i]);
        c1 = tml_wrap_add(c1, vb * w1[i]);
    }
    r0->a0 = a0;
    r0->a1 = a1;
    r1->a0 = c0;
    r1->a1 = c1;
}

static inline m4_acc2_t m4_dot_1x2(const uint32_t *pp, const int8_t *w0, int32_t k4, int32_t tail, int32_t bias0) {
    int32_t a0 = bias0, a1 = bias0;
    const int16_t *tp = (const int16_t *)(pp + k4);
    for (int32_t n = k4 >> 2; n > 0; n--) {
        uint32_t u = m4_ld32(w0);
        w0 += 4;
        uint32_t u1 = m4_sxtb16_ror8(u);
        u = m4_sxtb16(u);
        a0 = m4_smlad(pp[0], u, a0);
        a1 = m4_smlad(pp[2], u, a1);
        a0 = m4_smlad(pp[1], u1, a0);
        a1 = m4_smlad(pp[3], u1, a1);
        pp += 4;
    }
    for (int32_t i = 0; i < tail; i++) {
        a0 = tml_wrap_add(a0, tp[i] * w0[i]);
        a1 = tml_wrap_add(a1, tp[4 + i] * w0[i]);
    }
    m4_acc2_t r = { a0, a1 };
    return r;
}

size_t tml_fast_conv2d_scratch(const tml_op_ctx_t *ctx, const tml_conv_data_t *d) {
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    if (filter->dims[3] != in->dims[3]) {
        return 0;   // grouped: portable code
    }
    const int32_t k = filter->dims[1] * filter->dims[2] * filter->dims[3];
    // CONV_2D's prepare requests at least TML_KSCRATCH_CHANNEL_BYTES per
    // output channel of its own scratch (d->scratch, see tml_kparams.h), which
    // the fast path does not otherwise use: the patches go there when they
    // fit, so most convolutions cost no extra arena.
    const size_t need = m4_patch_bytes(k, m4_conv_is_1x1(filter, d));
    return need <= TML_KSCRATCH_CHANNEL_BYTES * (size_t)filter->dims[0] ? 0 : need;
}

// The product of all patches with cout filter rows of K int8 (w), two
// pixels at a time; buf holds the two widened columns and, unless is_1x1,
// the int8 staging area after them.
static void m4_conv_run(const m4_patch_t *P, const int8_t *w, const int32_t *bias, const int32_t *mult,
    const int8_t *shift, const m4_rq_t *q, int8_t *y, int32_t cout, int32_t npix, int16_t *buf, int is_1x1) {
    const int32_t k = P->k, k4 = P->k4, tail = k - k4;
    int8_t *stage = (int8_t *)buf + 4 * (size_t)((k + 3) & ~3);
    const uint32_t *pp = (const uint32_t *)buf;
    for (int32_t p = 0; p < npix; p += 2) {
        const int32_t pb = p + 1 < npix ? p + 1 : p;
        if (is_1x1) {
            m4_patch_fill_1x1(P, buf, p, 0);
            m4_patch_fill_1x1(P, buf, pb, 1);
        } else {
            m4_patch_fill(P, buf, stage, p, 0);
            m4_patch_fill(P, buf, stage, pb, 1);
        }
        int8_t *ya = y + (size_t)p * cout, *yb = y + (size_t)pb * cout;
        int32_t oc = 0;
        for (; oc + 2 <= cout; oc += 2) {
            m4_acc2_t r0, r1;
            const int8_t *w0 = w + (size_t)oc * k;
            m4_dot_2x2(pp, w0, w0 + k, k4, tail, bias ? bias[oc] : 0, bias ? bias[oc + 1] : 0, &r0, &r1);
            if (q->asm4) {
                m4_store_2x2_asm(ya + oc, yb + oc, mult + oc, shift + oc, q->out_off, r0.a0, r0.a1, r1.a0, r1.a1);
            } else if (q->np) {
                const int32_t m0 = mult[oc], m1 = mult[oc + 1];
                const int32_t s0 = shift[oc], s1 = shift[oc + 1];
                ya[oc] = m4_out_np(q, r0.a0, m0, s0);
                ya[oc + 1] = m4_out_np(q, r1.a0, m1, s1);
                yb[oc] = m4_out_np(q, r0.a1, m0, s0);
                yb[oc + 1] = m4_out_np(q, r1.a1, m1, s1);
            } else {
                ya[oc] = m4_out(q, r0.a0, mult[oc], shift[oc]);
                ya[oc + 1] = m4_out(q, r1.a0, mult[oc + 1], shift[oc + 1]);
                yb[oc] = m4_out(q, r0.a1, mult[oc], shift[oc]);
                yb[oc + 1] = m4_out(q, r1.a1, mult[oc + 1], shift[oc + 1]);
            }
        }
        if (oc < cout) {
            m4_acc2_t r0 = m4_dot_1x2(pp, w + (size_t)oc * k, k4, tail, bias ? bias[oc] : 0);
            ya[oc] = m4_out(q, r0.a0, mult[oc], shift[oc]);
            yb[oc] = m4_out(q, r0.a1, mult[oc], shift[oc]);
        }
    }
}

// Patch geometry of a convolution-like op.
static void m4_patch_init(m4_patch_t *P, const tml_tensor_t *in, const tml_tensor_t *out, int32_t fh, int32_t fw,
    int32_t stride_h, int32_t stride_w, int32_t dil_h, int32_t dil_w, int32_t pad_h, int32_t pad_w, int32_t in_off) {
    tml_window_init(&P->g, in, out, fh, fw, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w);
    P->x = (const int8_t *)in->data;
    P->k = fh * fw * P->g.cin;
    P->k4 = P->k & ~3;
    P->in_off = in_off;
    P->off2 = ((uint32_t)in_off & 0xffffu) * 0x10001u;
}

int tml_fast_conv2d(tml_op_ctx_t *ctx, const tml_conv_data_t *d, void *scratch) {
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    const tml_tensor_t *bias_t = tml_kin(ctx, 2);
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t cout = filter->dims[0];
    if (filter->dims[3] != in->dims[3]) {
        return 0;
    }
    m4_patch_t P;
    m4_patch_init(&P, in, out, filter->dims[1], filter->dims[2], d->stride_h, d->stride_w, d->dil_h, d->dil_w,
        d->pad_h, d->pad_w, d->input_offset);
    int16_t *buf = scratch ? (int16_t *)scratch : (int16_t *)ctx->get_scratch(ctx, d->scratch);
    const int32_t *bias = bias_t ? (const int32_t *)bias_t->data : NULL;
    const int8_t *shift = tml_kparams_shifts(d->mult, cout);
    m4_rq_t q;
    m4_rq_setup(&q, d->output_offset, d->act_min, d->act_max, bias, cout, P.k, shift, cout);
    m4_conv_run(&P, (const int8_t *)filter->data, bias, d->mult, shift, &q, (int8_t *)out->data, cout,
        P.g.nb * P.g.oh * P.g.ow, buf, m4_conv_is_1x1(filter, d));
    return 1;
}

// ---------------------------------------------------------------------------
// DEPTHWISE_CONV_2D: four output channels at a time, each tap widening four
// weights (and, for depth multiplier 1, four activations with the offset
// added), one 16x16 multiply-accumulate per channel. Taps outside the input
// are skipped, which is exact because the offset travels with the activation.

// A single-channel input with a depth multiplier is a plain convolution
// with cout filters of fh * fw taps; the filters, stored tap-major, are then
// copied filter-major into the scratch, followed by the patch buffer. Only
// when that stays small (micro_speech's 10x8 x 8 filters would not fit its
// arena budget and keep the per-tap path).
#define M4_DW_AS_CONV_MAX 512

static size_t m4_dw_as_conv_bytes(const tml_op_ctx_t *ctx, const tml_dwconv_data_t *d) {
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    if (in->dims[3] != 1 || d->depth_mult < 2) {
        return 0;
    }
    const int32_t k = filter->dims[1] * filter->dims[2];
    const size_t bytes = (((size_t)k * (size_t)filter->dims[3] + 3) & ~(size_t)3) + m4_patch_bytes(k, 0);
    return bytes <= M4_DW_AS_CONV_MAX ? bytes : 0;
}

size_t tml_fast_dwconv2d_scratch(const tml_op_ctx_t *ctx, const tml_dwconv_data_t *d) {
    return m4_dw_as_conv_bytes(ctx, d);
}

// One tap, four channels, in C (unoptimized builds).
static inline void m4_dw_tap_c(int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3, const int8_t *xp,
    const int8_t *wp, uint32_t off2) {
    uint32_t u = m4_ld32(xp), v = m4_ld32(wp);
    uint32_t xl = m4_sxtab16(off2, u), xh = m4_sxtab16_ror8(off2, u);
    uint32_t wl = m4_sxtb16(v), wh = m4_sxtb16_ror8(v);
    *a0 = m4_smlabb(xl, wl, *a0);
    *a2 = m4_smlatt(xl, wl, *a2);
    *a1 = m4_smlabb(xh, wh, *a1);
    *a3 = m4_smlatt(xh, wh, *a3);
}

// One tap, four channels (operands named as in the functions below).
#define M4_DW_TAP(X, W) \
    "ldr %[u], " X "\n\t" \
    "ldr %[v], " W "\n\t" \
    "sxtab16 %[xh], %[off2], %[u], ror #8\n\t" \
    "sxtab16 %[u], %[off2], %[u]\n\t" \
    "sxtb16 %[wh], %[v], ror #8\n\t" \
    "sxtb16 %[v], %[v]\n\t" \
    "smlabb %[a0], %[u], %[v], %[a0]\n\t" \
    "smlatt %[a2], %[u], %[v], %[a2]\n\t" \
    "smlabb %[a1], %[xh], %[wh], %[a1]\n\t" \
    "smlatt %[a3], %[xh], %[wh], %[a3]\n\t"

// The full 3x3 window (dilation 1, depth multiplier 1) for four channels:
// activations and weights advance by `step` bytes per tap; after a row the
// activation pointer moves on by `xskip` (row stride minus two taps).
static inline __attribute__((always_inline)) void m4_dw_3x3(int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3, const int8_t *xr,
    const int8_t *wr, int32_t step, int32_t xskip, uint32_t off2) {
    #if !M4_ASM
    for (int ky = 0; ky < 3; ky++, xr += xskip + 2 * step, wr += 3 * step) {
        for (int kx = 0; kx < 3; kx++) {
            m4_dw_tap_c(a0, a1, a2, a3, xr + kx * step, wr + kx * step, off2);
        }
    }
    #else
    uint32_t u, v, xh, wh;
    __asm__ (
        M4_DW_TAP("[%[xr]]", "[%[wr]]")
        M4_DW_TAP("[%[xr], %[st]]", "[%[wr], %[st]]")
        "add %[xr], %[xr], %[st], lsl #1\n\t"
        "add %[wr], %[wr], %[st], lsl #1\n\t"
        M4_DW_TAP("[%[xr]]", "[%[wr]]")
        "add %[xr], %[xr], %[xs]\n\t"
        "add %[wr], %[wr], %[st]\n\t"
        M4_DW_TAP("[%[xr]]", "[%[wr]]")
        M4_DW_TAP("[%[xr], %[st]]", "[%[wr], %[st]]")
        "add %[xr], %[xr], %[st], lsl #1\n\t"
        "add %[wr], %[wr], %[st], lsl #1\n\t"
        M4_DW_TAP("[%[xr]]", "[%[wr]]")
        "add %[xr], %[xr], %[xs]\n\t"
        "add %[wr], %[wr], %[st]\n\t"
        M4_DW_TAP("[%[xr]]", "[%[wr]]")
        M4_DW_TAP("[%[xr], %[st]]", "[%[wr], %[st]]")
        "add %[xr], %[xr], %[st], lsl #1\n\t"
        "add %[wr], %[wr], %[st], lsl #1\n\t"
        M4_DW_TAP("[%[xr]]", "[%[wr]]")
        : [a0] "+r" (*a0), [a1] "+r" (*a1), [a2] "+r" (*a2), [a3] "+r" (*a3),
          [u] "=&r" (u), [v] "=&r" (v), [xh] "=&r" (xh), [wh] "=&r" (wh), [xr] "+r" (xr), [wr] "+r" (wr)
        : [st] "r" (step), [xs] "r" (xskip), [off2] "r" (off2)
        : "memory");
    #endif
}

// A window row of n >= 1 taps (dilation 1, depth multiplier 1), four
// channels.
static inline __attribute__((always_inline)) void m4_dw_rown(int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3, const int8_t *xr,
    const int8_t *wr, int32_t step, uint32_t off2, int32_t n) {
    #if !M4_ASM
    for (; n > 0; n--, xr += step, wr += step) {
        m4_dw_tap_c(a0, a1, a2, a3, xr, wr, off2);
    }
    #else
    uint32_t u, v, xh, wh;
    __asm__ (
        "1:\n\t"
        "ldr %[u], [%[xr]]\n\t"
        "ldr %[v], [%[wr]]\n\t"
        "add %[xr], %[xr], %[st]\n\t"
        "add %[wr], %[wr], %[st]\n\t"
        "sxtab16 %[xh], %[off2], %[u], ror #8\n\t"
        "sxtab16 %[u], %[off2], %[u]\n\t"
        "sxtb16 %[wh], %[v], ror #8\n\t"
        "sxtb16 %[v], %[v]\n\t"
        "smlabb %[a0], %[u], %[v], %[a0]\n\t"
        "smlatt %[a2], %[u], %[v], %[a2]\n\t"
        "smlabb %[a1], %[xh], %[wh], %[a1]\n\t"
        "smlatt %[a3], %[xh], %[wh], %[a3]\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b\n\t"
        : [a0] "+r" (*a0), [a1] "+r" (*a1), [a2] "+r" (*a2), [a3] "+r" (*a3),
          [u] "=&r" (u), [v] "=&r" (v), [xh] "=&r" (xh), [wh] "=&r" (wh), [xr] "+r" (xr), [wr] "+r" (wr),
          [n] "+r" (n)
        : [st] "r" (step), [off2] "r" (off2)
        : "cc", "memory");
    #endif
}

// Requantizes and stores four adjacent channels.
static inline __attribute__((always_inline)) void m4_store4(const m4_rq_t *q, int8_t *yp, const int32_t *mult,
    const int8_t *shift, int32_t a0, int32_t a1, int32_t a2, int32_t a3) {
    if (q->asm4) {
        m4_store4_asm(yp, mult, shift, q->out_off, a0, a1, a2, a3);
    } else if (q->np) {
        yp[0] = m4_out_np(q, a0, mult[0], shift[0]);
        yp[1] = m4_out_np(q, a1, mult[1], shift[1]);
        yp[2] = m4_out_np(q, a2, mult[2], shift[2]);
        yp[3] = m4_out_np(q, a3, mult[3], shift[3]);
    } else {
        yp[0] = m4_rq(q, a0, mult[0], shift[0]);
        yp[1] = m4_rq(q, a1, mult[1], shift[1]);
        yp[2] = m4_rq(q, a2, mult[2], shift[2]);
        yp[3] = m4_rq(q, a3, mult[3], shift[3]);
    }
}

// A run of output pixels of one row whose 3x3 windows lie inside the input
// (depth multiplier 1, dilation 1 along the row, channels in fours, the
// assembly requantization route).
typedef struct {
    const int8_t *w;
    const int32_t *bias, *mult;
    const int8_t *shift;
    int32_t ch, xstep, xskip, out_off;
    uint32_t off2;
} m4_dw_run_t;

static __attribute__((noinline)) void m4_dw3x3_run(const m4_dw_run_t *r, const int8_t *x00, int8_t *yp, int32_t n) {
    const int32_t ch = r->ch;
    for (; n > 0; n--, x00 += r->xstep, yp += ch) {
        for (int32_t c = 0; c < ch; c += 4) {
            int32_t a0 = r->bias[c], a1 = r->bias[c + 1], a2 = r->bias[c + 2], a3 = r->bias[c + 3];
            m4_dw_3x3(&a0, &a1, &a2, &a3, x00 + c, r->w + c, ch, r->xskip, r->off2);
            m4_store4_asm(yp + c, r->mult + c, r->shift + c, r->out_off, a0, a1, a2, a3);
        }
    }
}

// What the per-pixel routines of one DEPTHWISE_CONV_2D need.
typedef struct {
    const int32_t *bias, *mult;
    const int8_t *shift;
    m4_rq_t q;
    ptrdiff_t xrow_step, xcol_step, wrow_step;
    int32_t cin, cout, dm, dil_w, in_off;
    uint32_t off2;
} m4_dwk_t;

static inline void m4_dw_bias4(const m4_dwk_t *k, int32_t c, int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3) {
    if (k->bias) {
        *a0 = k->bias[c];
        *a1 = k->bias[c + 1];
        *a2 = k->bias[c + 2];
        *a3 = k->bias[c + 3];
    } else {
        *a0 = *a1 = *a2 = *a3 = 0;
    }
}

// One output channel over the window, in C (channel counts not a multiple of
// four).
static int32_t m4_dw_one(const m4_dwk_t *k, const int8_t *xr, const int8_t *wr, int32_t nky, int32_t nkx, int32_t c) {
    int32_t a = k->bias ? k->bias[c] : 0;
    for (int32_t ky = nky; ky > 0; ky--, xr += k->xrow_step, wr += k->wrow_step) {
        for (int32_t kx = 0; kx < nkx; kx++) {
            a = tml_wrap_add(a, (xr[kx * k->xcol_step] + k->in_off) * wr[kx * k->cout]);
        }
    }
    return a;
}

// One output pixel, depth multiplier 1: x00 and w00 point at the first tap
// inside the input, nky x nkx taps are inside.
static __attribute__((noinline)) void m4_dw_px_dm1(const m4_dwk_t *k, const int8_t *x00, const int8_t *w00, int8_t *yp,
    int32_t nky, int32_t nkx, int full3) {
    const int32_t ch = k->cout, ch4 = ch & ~3;
    const uint32_t off2 = k->off2;
    int32_t c = 0;
    for (; c < ch4; c += 4) {
        int32_t a0, a1, a2, a3;
        m4_dw_bias4(k, c, &a0, &a1, &a2, &a3);
        const int8_t *xr = x00 + c, *wr = w00 + c;
        if (full3) {
            m4_dw_3x3(&a0, &a1, &a2, &a3, xr, wr, ch, (int32_t)(k->xrow_step - 2 * ch), off2);
        } else if (k->dil_w == 1) {
            for (int32_t ky = nky; ky > 0; ky--, xr += k->xrow_step, wr += k->wrow_step) {
                m4_dw_rown(&a0, &a1, &a2, &a3, xr, wr, ch, off2, nkx);
            }
        } else {
            for (int32_t ky = nky; ky > 0; ky--, xr += k->xrow_step, wr += k->wrow_step) {
                const int8_t *xq = xr, *wq = wr;
                for (int32_t kx = nkx; kx > 0; kx--, xq += k->xcol_step, wq += ch) {
                    m4_dw_tap_c(&a0, &a1, &a2, &a3, xq, wq, off2);
                }
            }
        }
        m4_store4(&k->q, yp + c, k->mult + c, k->shift + c, a0, a1, a2, a3);
    }
    for (; c < ch; c++) {
        yp[c] = m4_out(&k->q, m4_dw_one(k, x00 + c, w00 + c, nky, nkx, c), k->mult[c], k->shift[c]);
    }
}

// A window row of n >= 1 taps of a single-channel input (dilation 1) into
// four outputs of the depth multiplier: the activation is a scalar, the
// weights of consecutive taps are `wstep` bytes apart.
static inline __attribute__((always_inline)) void m4_dw_row_x1(int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3,
    const int8_t *xq, const int8_t *wq, int32_t wstep, int32_t in_off, int32_t n) {
    #if !M4_ASM
    for (; n > 0; n--, xq++, wq += wstep) {
        const int32_t xv = *xq + in_off;
        uint32_t v = m4_ld32(wq);
        uint32_t wl = m4_sxtb16(v), wh = m4_sxtb16_ror8(v);
        *a0 = m4_smlabb((uint32_t)xv, wl, *a0);
        *a2 = __smlabt(xv, (int32_t)wl, *a2);
        *a1 = m4_smlabb((uint32_t)xv, wh, *a1);
        *a3 = __smlabt(xv, (int32_t)wh, *a3);
    }
    #else
    int32_t xv;
    uint32_t v, wh;
    __asm__ (
        "1:\n\t"
        "ldrsb %[x], [%[xq]], #1\n\t"
        "ldr %[v], [%[wq]]\n\t"
        "add %[wq], %[wq], %[ws]\n\t"
        "add %[x], %[x], %[off]\n\t"
        "sxtb16 %[wh], %[v], ror #8\n\t"
        "sxtb16 %[v], %[v]\n\t"
        "smlabb %[a0], %[x], %[v], %[a0]\n\t"
        "smlabt %[a2], %[x], %[v], %[a2]\n\t"
        "smlabb %[a1], %[x], %[wh], %[a1]\n\t"
        "smlabt %[a3], %[x], %[wh], %[a3]\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b\n\t"
        : [a0] "+r" (*a0), [a1] "+r" (*a1), [a2] "+r" (*a2), [a3] "+r" (*a3),
          [x] "=&r" (xv), [v] "=&r" (v), [wh] "=&r" (wh), [xq] "+r" (xq), [wq] "+r" (wq), [n] "+r" (n)
        : [ws] "r" (wstep), [off] "r" (in_off)
        : "cc", "memory");
    #endif
}

// One output pixel, depth multiplier > 1 (output channel ic * dm + m reads
// input channel ic).
static __attribute__((noinline)) void m4_dw_px_dmn(const m4_dwk_t *k, const int8_t *x00, const int8_t *w00, int8_t *yp,
    int32_t nky, int32_t nkx) {
    const int32_t dm = k->dm, dm4 = dm & ~3, cout = k->cout;
    const int row_x1 = k->cin == 1 && k->dil_w == 1;
    for (int32_t ic = 0; ic < k->cin; ic++) {
        const int32_t cb = ic * dm;
        int32_t m = 0;
        for (; m < dm4; m += 4) {
            const int32_t c = cb + m;
            int32_t a0, a1, a2, a3;
            m4_dw_bias4(k, c, &a0, &a1, &a2, &a3);
            const int8_t *xr = x00 + ic, *wr = w00 + c;
            for (int32_t ky = nky; ky > 0; ky--, xr += k->xrow_step, wr += k->wrow_step) {
                if (row_x1) {
                    m4_dw_row_x1(&a0, &a1, &a2, &a3, xr, wr, cout, k->in_off, nkx);
                    continue;
                }
                const int8_t *xq = xr, *wq = wr;
                for (int32_t kx = nkx; kx > 0; kx--, xq += k->xcol_step, wq += cout) {
                    const int32_t xv = *xq + k->in_off;
                    uint32_t v = m4_ld32(wq);
                    uint32_t wl = m4_sxtb16(v), wh = m4_sxtb16_ror8(v);
                    a0 = m4_smlabb((uint32_t)xv, wl, a0);
                    a2 = __smlabt(xv, (int32_t)wl, a2);
                    a1 = m4_smlabb((uint32_t)xv, wh, a1);
                    a3 = __smlabt(xv, (int32_t)wh, a3);
                }
            }
            m4_store4(&k->q, yp + c, k->mult + c, k->shift + c, a0, a1, a2, a3);
        }
        for (; m < dm; m++) {
            const int32_t c = cb + m;
            yp[c] = m4_out(&k->q, m4_dw_one(k, x00 + ic, w00 + c, nky, nkx, c), k->mult[c], k->shift[c]);
        }
    }
}

// The single-input-channel case as a convolution (see m4_dw_as_conv_bytes).
static int m4_dw_as_conv(tml_op_ctx_t *ctx, const tml_dwconv_data_t *d, uint8_t *scratch) {
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    const tml_tensor_t *bias_t = tml_kin(ctx, 2);
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t cout = filter->dims[3], k = filter->dims[1] * filter->dims[2];
    const int8_t *w = (const int8_t *)filter->data;
    int8_t *wt = (int8_t *)scratch;
    for (int32_t oc = 0; oc < cout; oc++) {
        for (int32_t t = 0; t < k; t++) {
            wt[(size_t)oc * k + t] = w[(size_t)t * cout + oc];
        }
    }
    m4_patch_t P;
    m4_patch_init(&P, in, out, filter->dims[1], filter->dims[2], d->stride_h, d->stride_w, d->dil_h, d->dil_w,
        d->pad_h, d->pad_w, d->input_offset);
    int16_t *buf = (int16_t *)(void *)(scratch + (((size_t)k * (size_t)cout + 3) & ~(size_t)3));
    const int32_t *bias = bias_t ? (const int32_t *)bias_t->data : NULL;
    const int8_t *shift = tml_kparams_shifts(d->mult, cout);
    m4_rq_t q;
    m4_rq_setup(&q, d->output_offset, d->act_min, d->act_max, bias, cout, k, shift, cout);
    m4_conv_run(&P, wt, bias, d->mult, shift, &q, (int8_t *)out->data, cout, P.g.nb * P.g.oh * P.g.ow, buf, 0);
    return 1;
}

int tml_fast_dwconv2d(tml_op_ctx_t *ctx, const tml_dwconv_data_t *d, void *scratch) {
    if (scratch) {
        return m4_dw_as_conv(ctx, d, (uint8_t *)scratch);
    }
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    const tml_tensor_t *bias_t = tml_kin(ctx, 2);
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t nb = in->dims[0], ih = in->dims[1], iw = in->dims[2], cin = in->dims[3];
    const int32_t fh = filter->dims[1], fw = filter->dims[2], cout = filter->dims[3];
    const int32_t oh = out->dims[1], ow = out->dims[2], dm = d->depth_mult;
    const int8_t *x = (const int8_t *)in->data;
    const int8_t *w = (const int8_t *)filter->data;
    int8_t *y = (int8_t *)out->data;
    m4_dwk_t k;
    k.bias = bias_t ? (const int32_t *)bias_t->data : NULL;
    k.mult = d->mult;
    k.shift = tml_kparams_shifts(d->mult, cout);
    m4_rq_setup(&k.q, d->output_offset, d->act_min, d->act_max, k.bias, cout, fh * fw, k.shift, cout);
    k.xrow_step = (ptrdiff_t)d->dil_h * iw * cin;
    k.xcol_step = (ptrdiff_t)d->dil_w * cin;
    k.wrow_step = (ptrdiff_t)fw * cout;
    k.cin = cin;
    k.cout = cout;
    k.dm = dm;
    k.dil_w = d->dil_w;
    k.in_off = d->input_offset;
    k.off2 = ((uint32_t)d->input_offset & 0xffffu) * 0x10001u;
    // Interior runs of 3x3 windows: columns ox_lo..ox_hi of rows whose
    // window rows are all inside.
    const int run3 = dm == 1 && fh == 3 && fw == 3 && d->dil_w == 1 && (cout & 3) == 0 && k.bias && k.q.asm4;
    const m4_dw_run_t R = {
        w, k.bias, k.mult, k.shift, cout, d->stride_w * cin, (int32_t)(k.xrow_step - 2 * cout), k.q.out_off, k.off2,
    };
    int32_t ox_lo = 0, ox_hi = -1;
    if (run3) {
        ox_lo = (d->pad_w + d->stride_w - 1) / d->stride_w;
        ox_hi = iw >= 3 ? (iw - 3 + d->pad_w) / d->stride_w : -1;
        ox_hi = ox_hi < ow - 1 ? ox_hi : ow - 1;
    }
    for (int32_t b = 0; b < nb; b++) {
        for (int32_t oy = 0; oy < oh; oy++) {
            const int32_t y0 = oy * d->stride_h - d->pad_h;
            // Rows of the window inside the input.
            int32_t ky0 = 0, ky1 = fh;
            while (ky0 < fh && y0 + ky0 * d->dil_h < 0) {
                ky0++;
            }
            while (ky1 > ky0 && y0 + (ky1 - 1) * d->dil_h >= ih) {
                ky1--;
            }
            const int32_t nky = ky1 - ky0;
            for (int32_t ox = 0; ox < ow; ox++) {
                const int32_t x0 = ox * d->stride_w - d->pad_w;
                int8_t *yp = y + (((size_t)b * oh + oy) * ow + ox) * cout;
                if (run3 && nky == 3 && ox >= ox_lo && ox <= ox_hi) {
                    const int32_t n = ox_hi - ox + 1;
                    m4_dw3x3_run(&R, x + (((ptrdiff_t)b * ih + y0) * iw + x0) * cin, yp, n);
                    ox += n - 1;
                    continue;
                }
                int32_t kx0 = 0, kx1 = fw;
                while (kx0 < fw && x0 + kx0 * d->dil_w < 0) {
                    kx0++;
                }
                while (kx1 > kx0 && x0 + (kx1 - 1) * d->dil_w >= iw) {
                    kx1--;
                }
                const int32_t nkx = kx1 - kx0;
                if (nky <= 0 || nkx <= 0) {
                    // The whole window is padding: bias only.
                    for (int32_t c = 0; c < cout; c++) {
                        yp[c] = m4_out(&k.q, k.bias ? k.bias[c] : 0, k.mult[c], k.shift[c]);
                    }
                    continue;
                }
                // First tap inside the input, and its weights.
                const int8_t *x00 = x + (((ptrdiff_t)b * ih + y0 + ky0 * d->dil_h) * iw + x0 + kx0 * d->dil_w) * cin;
                const int8_t *w00 = w + ((ptrdiff_t)ky0 * fw + kx0) * cout;
                if (dm == 1) {
                    m4_dw_px_dm1(&k, x00, w00, yp, nky, nkx, nkx == 3 && nky == 3 && fw == 3 && d->dil_w == 1);
                } else {
                    m4_dw_px_dmn(&k, x00, w00, yp, nky, nkx);
                }
            }
        }
    }
    return 1;
}

// ---------------------------------------------------------------------------
// FULLY_CONNECTED (weights without zero point): two units per pass over the
// input row, which is widened once per four values for both.

size_t tml_fast_fc_scratch(const tml_op_ctx_t *ctx, const tml_fc_data_t *d) {
    (void)ctx;
    (void)d;
    return 0;
}

static inline int32_t m4_fc_tail(const int8_t *x, const int8_t *w, int32_t n, int32_t in_off, int32_t acc) {
    for (int32_t i = 0; i < n; i++) {
        acc = tml_wrap_add(acc, (x[i] + in_off) * w[i]);
    }
    return acc;
}

int tml_fast_fc(tml_op_ctx_t *ctx, const tml_fc_data_t *d, void *scratch) {
    (void)scratch;
    if (d->filter_offset != 0) {
        return 0;
    }
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    const tml_tensor_t *bias_t = tml_kin(ctx, 2);
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t units = filter->dims[0], depth = filter->dims[1];
    const int32_t batches = tml_tensor_count(out) / units;
    const int8_t *x = (const int8_t *)in->data;
    const int8_t *w = (const int8_t *)filter->data;
    int8_t *y = (int8_t *)out->data;
    const int32_t *bias = bias_t ? (const int32_t *)bias_t->data : NULL;
    const int8_t *shift = tml_kparams_shifts(d->mult, d->n_mult);
    const int32_t in_off = d->input_offset;
    const uint32_t off2 = ((uint32_t)in_off & 0xffffu) * 0x10001u;
    m4_rq_t q;
    m4_rq_setup(&q, d->output_offset, d->act_min, d->act_max, bias, units, depth, shift, d->n_mult);
    const int32_t d4 = depth & ~3;
    for (int32_t b = 0; b < batches; b++) {
        const int8_t *xb = x + (size_t)b * depth;
        int8_t *yb = y + (size_t)b * units;
        int32_t u = 0;
        for (; u + 2 <= units; u += 2) {
            const int8_t *w0 = w + (size_t)u * depth, *w1 = w0 + depth;
            int32_t a0 = bias ? bias[u] : 0, a1 = bias ? bias[u + 1] : 0;
            for (int32_t i = 0; i < d4; i += 4) {
                uint32_t xv = m4_ld32(xb + i);
                uint32_t xl = m4_sxtab16(off2, xv), xh = m4_sxtab16_ror8(off2, xv);
                uint32_t v = m4_ld32(w0 + i);
                a0 = m4_smlad(xl, m4_sxtb16(v), a0);
                a0 = m4_smlad(xh, m4_sxtb16_ror8(v), a0);
                v = m4_ld32(w1 + i);
                a1 = m4_smlad(xl, m4_sxtb16(v), a1);
                a1 = m4_smlad(xh, m4_sxtb16_ror8(v), a1);
            }
            a0 = m4_fc_tail(xb + d4, w0 + d4, depth - d4, in_off, a0);
            a1 = m4_fc_tail(xb + d4, w1 + d4, depth - d4, in_off, a1);
            const int32_t q0 = d->per_channel ? u : 0, q1 = d->per_channel ? u + 1 : 0;
            yb[u] = m4_out(&q, a0, d->mult[q0], shift[q0]);
            yb[u + 1] = m4_out(&q, a1, d->mult[q1], shift[q1]);
        }
        if (u < units) {
            const int8_t *w0 = w + (size_t)u * depth;
            int32_t a0 = bias ? bias[u] : 0;
            for (int32_t i = 0; i < d4; i += 4) {
                uint32_t xv = m4_ld32(xb + i);
                uint32_t v = m4_ld32(w0 + i);
                a0 = m4_smlad(m4_sxtab16(off2, xv), m4_sxtb16(v), a0);
                a0 = m4_smlad(m4_sxtab16_ror8(off2, xv), m4_sxtb16_ror8(v), a0);
            }
            a0 = m4_fc_tail(xb + d4, w0 + d4, depth - d4, in_off, a0);
            const int32_t q0 = d->per_channel ? u : 0;
            yb[u] = m4_out(&q, a0, d->mult[q0], shift[q0]);
        }
    }
    return 1;
}

#endif
