// Fast paths of the hot int8 kernels for 64-bit hosts (x86-64, AArch64); see tml_fast.h.
//
// On x86-64 CPUs with AVX2 (checked at run time, so the file still builds
// for and runs on any x86-64) the three ops run vectorised:
// - CONV_2D and FULLY_CONNECTED as one blocked matrix product: every output
//   pixel's window becomes a row of int16 values (input zero point where the
//   window leaves the image), the weights of a block of output channels are
//   widened to int16 and interleaved in pairs of taps, and pmaddwd multiplies
//   one broadcast pair of a row by the same pair of 8 output channels; four
//   rows times 16 output channels stay in registers.
// - DEPTHWISE_CONV_2D vectorised over 16 channels, pairs of taps
//   interleaved the same way.
// - Requantization of 8 lanes at once, bit-exact with tml_quant.h.
// The input offset is folded into the bias (sum over the window of
// (x + off) * w == sum(x * w) + off * sum(w)); a padded tap reads the input
// zero point, whose (x + off) is 0, so border pixels need no special case.
// Buffers live on the stack (a few tens of KB, bounded below), not in the
// arena. Other hosts (AArch64, x86-64 without AVX2) and shapes beyond the
// bounds return 0: the portable kernels run.
#include "tml_fast.h"

#if defined(TML_FAST_HOST)

#include <string.h>

#include "tml_kernels.h"
#include "tml_quant.h"
#include "tml_window.h"

size_t tml_fast_conv2d_scratch(const tml_op_ctx_t *ctx, const tml_conv_data_t *d) {
    (void)ctx;
    (void)d;
    return 0;
}

size_t tml_fast_dwconv2d_scratch(const tml_op_ctx_t *ctx, const tml_dwconv_data_t *d) {
    (void)ctx;
    (void)d;
    return 0;
}

size_t tml_fast_fc_scratch(const tml_op_ctx_t *ctx, const tml_fc_data_t *d) {
    (void)ctx;
    (void)d;
    return 0;
}

#if defined(__x86_64__) && defined(__GNUC__)

#include <cpuid.h>
#include <immintrin.h>

#define HOST_AVX2 __attribute__((target("avx2")))
#define HOST_AVX2_INLINE __attribute__((target("avx2"), always_inline)) inline

// Stack budget: widened weights of one output-channel block, and the limits
// that keep the other buffers small.
#define HOST_WBUF_BYTES 16384
#define HOST_KMAX 512           // taps per output (window x input channels)
#define HOST_OB_MAX 256         // output channels per block
#define HOST_DW_CMAX 1024       // depthwise channels
#define HOST_DW_TAPS_MAX 32     // depthwise window size

// Requantization and output range shared by the three ops.
typedef struct {
    int32_t out_off, act_min, act_max;
} host_rq_t;

// AVX2 usable: the CPU has it (CPUID leaf 7 EBX bit 5) and the OS saves the
// YMM registers on context switches (OSXSAVE set, XCR0 bits 1 and 2). Asked
// of the CPU directly rather than through __builtin_cpu_supports: that
// reads libgcc's __cpu_model, which a constructor fills in, and the dynamic
// native module (natmod) runs no constructors.
static int host_avx2_probe(void) {
    unsigned int a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) {
        return 0;
    }
    __cpuid_count(1, 0, a, b, c, d);
    const unsigned int osxsave_avx = bit_OSXSAVE | bit_AVX;
    if ((c & osxsave_avx) != osxsave_avx) {
        return 0;
    }
    unsigned int xcr0_lo, xcr0_hi;
    __asm__ volatile ("xgetbv" : "=a" (xcr0_lo), "=d" (xcr0_hi) : "c" (0));
    (void)xcr0_hi;
    if ((xcr0_lo & 6u) != 6u) {
        return 0;
    }
    __cpuid_count(7, 0, a, b, c, d);
    return (b & bit_AVX2) != 0;
}

// The probe's answer: 0 not asked yet, 1 no AVX2, 2 AVX2. The one mutable
// global of the runtime: CPUID traps to the hypervisor in virtual machines
// (about 10 us each measured, while a kws_ref_model invoke takes about
// 90 us), too slow to repeat at every op. The value never
// changes once set, so concurrent first calls only store it twice; relaxed
// atomics make that well defined. Not static: natmods place only global
// zero-initialised data (BSS), not static.
int tml_fast_host_cpu;

static int host_avx2(void) {
    int cpu = __atomic_load_n(&tml_fast_host_cpu, __ATOMIC_RELAXED);
    if (cpu == 0) {
        cpu = host_avx2_probe() ? 2 : 1;
        __atomic_store_n(&tml_fast_host_cpu, cpu, __ATOMIC_RELAXED);
    }
    return cpu == 2;
}

// tml_mul_by_quantized_mult on 8 lanes (multiplier in [0, 2^31), shift in
// [-31, 31]). The doubling high multiply's two rounding cases collapse into
// floor((a * m + 2^30) / 2^31); its low 32 bits come from 64-bit logical
// shifts of the even and odd lanes' products.
HOST_AVX2_INLINE static __m256i host_rq8(__m256i acc, __m256i mult, __m256i shift) {
    const __m256i zero = _mm256_setzero_si256();
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i nudge = _mm256_set1_epi64x((int64_t)1 << 30);
    const __m256i lsh = _mm256_max_epi32(shift, zero);
    const __m256i rsh = _mm256_sub_epi32(lsh, shift);
    const __m256i a = _mm256_sllv_epi32(acc, lsh);
    const __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(a, mult), nudge);
    const __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(mult, 32)), nudge);
    const __m256i h = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
    // Rounding right shift, ties away from zero.
    const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, rsh), one);
    const __m256i rem = _mm256_and_si256(h, mask);
    const __m256i thr = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1), _mm256_srai_epi32(h, 31));
    return _mm256_sub_epi32(_mm256_srav_epi32(h, rsh), _mm256_cmpgt_epi32(rem, thr));
}

// host_rq8 on arrays, for the test driver (tests/host/csrc/requant_check.c).
HOST_AVX2 __attribute__((unused)) static void host_rq8_array(int32_t *out, const int32_t *acc, const int32_t *mult,
    const int8_t *shift) {
    const __m256i s = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)shift));
    _mm256_storeu_si256((__m256i *)out, host_rq8(_mm256_loadu_si256((const __m256i *)acc),
        _mm256_loadu_si256((const __m256i *)mult), s));
}

// Requantizes 16 accumulators (channels in order: a0 then a1) and stores the
// first n (<= 16) as int8.
HOST_AVX2_INLINE static void host_rq_store16(__m256i a0, __m256i a1, const int32_t *mult, const int8_t *shift,
    const host_rq_t *q, int8_t *out, int32_t n) {
    const __m256i off = _mm256_set1_epi32(q->out_off);
    const __m256i lo = _mm256_set1_epi32(q->act_min);
    const __m256i hi = _mm256_set1_epi32(q->act_max);
    const __m256i s0 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)shift));
    const __m256i s1 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(shift + 8)));
    __m256i r0 = host_rq8(a0, _mm256_loadu_si256((const __m256i *)mult), s0);
    __m256i r1 = host_rq8(a1, _mm256_loadu_si256((const __m256i *)(mult + 8)), s1);
    r0 = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(r0, off), lo), hi);
    r1 = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(r1, off), lo), hi);
    // packs works within 128-bit halves: reorder the 64-bit quarters so the
    // 16-bit values come out in channel order.
    const __m256i p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(r0, r1), 0xD8);
    const __m128i p8 = _mm_packs_epi16(_mm256_castsi256_si128(p16), _mm256_extracti128_si256(p16, 1));
    if (n == 16) {
        _mm_storeu_si128((__m128i *)out, p8);
    } else {
        int8_t tmp[16];
        _mm_storeu_si128((__m128i *)tmp, p8);
        memcpy(out, tmp, (size_t)n);
    }
}

// The same for 8 accumulators.
HOST_AVX2_INLINE static void host_rq_store8(__m256i a, const int32_t *mult, const int8_t *shift,
    const host_rq_t *q, int8_t *out) {
    const __m256i s = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)shift));
    __m256i r = host_rq8(a, _mm256_loadu_si256((const __m256i *)mult), s);
    r = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(r, _mm256_set1_epi32(q->out_off)),
        _mm256_set1_epi32(q->act_min)), _mm256_set1_epi32(q->act_max));
    const __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storel_epi64((__m128i *)out, _mm_packs_epi16(p16, p16));
}

static inline int8_t host_rq1(int32_t acc, int32_t mult, int shift, const host_rq_t *q) {
    const int32_t v = tml_wrap_add(tml_mul_by_quantized_mult(acc, mult, shift), q->out_off);
    return (int8_t)tml_clamp_i32(v, q->act_min, q->act_max);
}

HOST_AVX2 static void host_widen(int16_t *dst, const int8_t *src, int32_t n) {
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(src + i))));
    }
    if (i + 8 <= n) {
        _mm_storeu_si128((__m128i *)(dst + i), _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(src + i))));
        i += 8;
    }
    for (; i < n; i++) {
        dst[i] = src[i];
    }
}

// ---------------------------------------------------------------------------
// CONV_2D and FULLY_CONNECTED as a matrix product.

typedef struct {
    const int8_t *x;
    tml_window_t win;               // FULLY_CONNECTED: nb images of 1x1 pixel, depth channels
    int32_t k;                      // window taps: fh * fw * cin
    int32_t in_off;
    const int8_t *w;                // weight of (channel o, tap i): w[o * wos + i * wks]
    int32_t wos, wks;
    const int32_t *bias;            // NULL for none
    int32_t cout;
    const int32_t *mult;            // per channel, or one for all
    const int8_t *shift;
    int32_t per_channel;
    host_rq_t q;
    int8_t *y;                      // [nb * oh * ow][cout]
} host_gemm_t;

// The window of output pixel (b, oy, ox) as kp int16 values.
HOST_AVX2 static void host_gemm_row(const host_gemm_t *g, int32_t b, int32_t oy, int32_t ox, int16_t *row, int32_t kp) {
    const int32_t y0 = oy * g->win.stride_h - g->win.pad_h, x0 = ox * g->win.stride_w - g->win.pad_w;
    const int16_t zp = (int16_t)-g->in_off;
    const int32_t cin = g->win.cin;
    int16_t *r = row;
    for (int32_t ky = 0; ky < g->win.fh; ky++) {
        const int32_t iy = y0 + ky * g->win.dil_h;
        const int row_in = iy >= 0 && iy < g->win.ih;
        const int8_t *xrow = g->x + ((size_t)b * g->win.ih + (row_in ? iy : 0)) * g->win.iw * cin;
        if (row_in && g->win.dil_w == 1 && x0 >= 0 && x0 + g->win.fw <= g->win.iw) {
            // The whole filter row lies inside: one contiguous run.
            host_widen(r, xrow + (size_t)x0 * cin, g->win.fw * cin);
            r += g->win.fw * cin;
            continue;
        }
        for (int32_t kx = 0; kx < g->win.fw; kx++, r += cin) {
            const int32_t ix = x0 + kx * g->win.dil_w;
            if (row_in && ix >= 0 && ix < g->win.iw) {
                host_widen(r, xrow + (size_t)ix * cin, cin);
            } else {
                for (int32_t c = 0; c < cin; c++) {
                    r[c] = zp;
                }
            }
        }
    }
    if (g->k < kp) {
        row[g->k] = 0;
    }
}

static inline int32_t host_pair(const int16_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

// Sum of n int8 values (wrapping).
HOST_AVX2 static uint32_t host_sum(const int8_t *p, int32_t n) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc = _mm256_setzero_si256();
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + i))), ones));
    }
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    uint32_t total = (uint32_t)_mm_cvtsi128_si32(s);
    for (; i < n; i++) {
        total += (uint32_t)(int32_t)p[i];
    }
    return total;
}

// Weights of output channels oc0 .. oc0 + obp with contiguous rows
// (wks == 1), widened and interleaved in pairs of taps:
// wb[(j * obp + o) * 2 + e] = w[oc0 + o][2 * j + e], zero past nob channels
// and past k taps. Eight rows of 8 pairs at a time: a transpose of 32-bit
// elements turns rows of pairs into the stored columns.
HOST_AVX2 static void host_gemm_weights(const host_gemm_t *g, int32_t oc0, int32_t nob, int32_t obp, int32_t k2,
    int16_t *wb) {
    for (int32_t o8 = 0; o8 < obp; o8 += 8) {
        for (int32_t j0 = 0; j0 < k2; j0 += 8) {
            const int32_t k0 = 2 * j0;
            __m256i r[8];
            for (int32_t q = 0; q < 8; q++) {
                const int8_t *src = g->w + (size_t)(oc0 + o8 + q) * g->wos + k0;
                int8_t tmp[16] = { 0 };
                if (o8 + q < nob && k0 + 16 <= g->k) {
                    memcpy(tmp, src, 16);
                } else if (o8 + q < nob) {
                    memcpy(tmp, src, (size_t)(g->k - k0));
                }
                r[q] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)tmp));
            }
            const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
            const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
            const __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
            const __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
            const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
            const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
            const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
            const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
            // Column q: pair j0 + q of the eight rows.
            const __m256i col[8] = {
                _mm256_permute2x128_si256(u0, u4, 0x20), _mm256_permute2x128_si256(u1, u5, 0x20),
                _mm256_permute2x128_si256(u2, u6, 0x20), _mm256_permute2x128_si256(u3, u7, 0x20),
                _mm256_permute2x128_si256(u0, u4, 0x31), _mm256_permute2x128_si256(u1, u5, 0x31),
                _mm256_permute2x128_si256(u2, u6, 0x31), _mm256_permute2x128_si256(u3, u7, 0x31),
            };
            for (int32_t q = 0; q < 8 && j0 + q < k2; q++) {
                _mm256_storeu_si256((__m256i *)(wb + ((size_t)(j0 + q) * obp + o8) * 2), col[q]);
            }
        }
    }
}

HOST_AVX2 static void host_gemm(const host_gemm_t *g) {
    const int32_t k2 = (g->k + 1) / 2, kp = 2 * k2;
    const int32_t cout = g->cout;
    int32_t ob = HOST_WBUF_BYTES / (kp * 2) / 16 * 16;
    ob = ob > HOST_OB_MAX ? HOST_OB_MAX : ob;
    ob = ob > (cout + 15) / 16 * 16 ? (cout + 15) / 16 * 16 : ob;
    int16_t wb[HOST_WBUF_BYTES / 2] __attribute__((aligned(32)));
    int16_t rows[4][HOST_KMAX] __attribute__((aligned(32)));
    int32_t bias[HOST_OB_MAX] __attribute__((aligned(32)));
    int32_t mult[HOST_OB_MAX];
    int8_t shift[HOST_OB_MAX];
    const int32_t npix = g->win.nb * g->win.oh * g->win.ow;
    for (int32_t oc0 = 0; oc0 < cout; oc0 += ob) {
        const int32_t nob = cout - oc0 < ob ? cout - oc0 : ob;
        const int32_t obp = (nob + 15) / 16 * 16;
        // Weights of this block as [tap pair][channel][2] int16, the bias
        // with the input offset folded in, and the requantization
        // parameters; channels past cout are zero.
        if (g->wks == 1) {
            host_gemm_weights(g, oc0, nob, obp, k2, wb);
        }
        for (int32_t o = 0; o < obp; o++) {
            uint32_t sum = 0;
            const int8_t *wr = g->w + (size_t)(oc0 + o) * g->wos;
            if (g->wks == 1) {
                sum = o < nob ? host_sum(wr, g->k) : 0;
            }
            for (int32_t j = 0; g->wks != 1 && j < k2; j++) {
                const int16_t a = o < nob ? wr[(size_t)(2 * j) * g->wks] : 0;
                const int16_t b = o < nob && 2 * j + 1 < g->k ? wr[(size_t)(2 * j + 1) * g->wks] : 0;
                wb[((size_t)j * obp + o) * 2] = a;
                wb[((size_t)j * obp + o) * 2 + 1] = b;
                sum += (uint32_t)(int32_t)a + (uint32_t)(int32_t)b;
            }
            const int32_t qi = g->per_channel ? oc0 + o : 0;
            bias[o] = o < nob ? tml_wrap_add(g->bias ? g->bias[oc0 + o] : 0, (int32_t)(sum * (uint32_t)g->in_off)) : 0;
            mult[o] = o < nob ? g->mult[qi] : 0;
            shift[o] = o < nob ? g->shift[qi] : 0;
        }
        int32_t b = 0, oy = 0, ox = 0;
        for (int32_t p0 = 0; p0 < npix; p0 += 4) {
            const int32_t np = npix - p0 < 4 ? npix - p0 : 4;
            const int16_t *rp[4];
            for (int32_t r = 0; r < 4; r++) {
                if (r < np) {
                    host_gemm_row(g, b, oy, ox, rows[r], kp);
                    rp[r] = rows[r];
                    if (++ox == g->win.ow) {
                        ox = 0;
                        if (++oy == g->win.oh) {
                            oy = 0;
                            b++;
                        }
                    }
                } else {
                    rp[r] = rows[0];    // computed, never stored
                }
            }
            for (int32_t o = 0; o < obp; o += 16) {
                __m256i a00 = _mm256_load_si256((const __m256i *)(bias + o));
                __m256i a01 = _mm256_load_si256((const __m256i *)(bias + o + 8));
                __m256i a10 = a00, a11 = a01, a20 = a00, a21 = a01, a30 = a00, a31 = a01;
                const int16_t *wp = wb + (size_t)o * 2;
                for (int32_t j = 0; j < k2; j++, wp += (size_t)obp * 2) {
                    const __m256i w0 = _mm256_load_si256((const __m256i *)wp);
                    const __m256i w1 = _mm256_load_si256((const __m256i *)(wp + 16));
                    __m256i xv = _mm256_set1_epi32(host_pair(rp[0] + 2 * j));
                    a00 = _mm256_add_epi32(a00, _mm256_madd_epi16(xv, w0));
                    a01 = _mm256_add_epi32(a01, _mm256_madd_epi16(xv, w1));
                    xv = _mm256_set1_epi32(host_pair(rp[1] + 2 * j));
                    a10 = _mm256_add_epi32(a10, _mm256_madd_epi16(xv, w0));
                    a11 = _mm256_add_epi32(a11, _mm256_madd_epi16(xv, w1));
                    xv = _mm256_set1_epi32(host_pair(rp[2] + 2 * j));
                    a20 = _mm256_add_epi32(a20, _mm256_madd_epi16(xv, w0));
                    a21 = _mm256_add_epi32(a21, _mm256_madd_epi16(xv, w1));
                    xv = _mm256_set1_epi32(host_pair(rp[3] + 2 * j));
                    a30 = _mm256_add_epi32(a30, _mm256_madd_epi16(xv, w0));
                    a31 = _mm256_add_epi32(a31, _mm256_madd_epi16(xv, w1));
                }
                const int32_t n = nob - o < 16 ? nob - o : 16;
                int8_t *out = g->y + (size_t)p0 * cout + oc0 + o;
                host_rq_store16(a00, a01, mult + o, shift + o, &g->q, out, n);
                if (np > 1) {
                    host_rq_store16(a10, a11, mult + o, shift + o, &g->q, out + cout, n);
                }
                if (np > 2) {
                    host_rq_store16(a20, a21, mult + o, shift + o, &g->q, out + 2 * (size_t)cout, n);
                }
                if (np > 3) {
                    host_rq_store16(a30, a31, mult + o, shift + o, &g->q, out + 3 * (size_t)cout, n);
                }
            }
        }
    }
}

// The op (inputs: data, weights, optional bias) as a matrix product over
// the window win, with k taps per output and the weight of (channel o,
// tap i) at w[o * wos + i * wks]; per-channel multipliers.
static void host_gemm_init(host_gemm_t *g, tml_op_ctx_t *ctx, const tml_window_t *win, int32_t k, int32_t wos,
    int32_t wks, int32_t cout, int32_t in_off, const int32_t *mult, const host_rq_t *q) {
    const tml_tensor_t *bias = tml_kin(ctx, 2);
    g->x = (const int8_t *)ctx->inputs[0]->data;
    g->win = *win;
    g->k = k;
    g->in_off = in_off;
    g->w = (const int8_t *)ctx->inputs[1]->data;
    g->wos = wos;
    g->wks = wks;
    g->bias = bias ? (const int32_t *)bias->data : NULL;
    g->cout = cout;
    g->mult = mult;
    g->shift = tml_kparams_shifts(mult, cout);
    g->per_channel = 1;
    g->q = *q;
    g->y = (int8_t *)ctx->outputs[0]->data;
}

int tml_fast_conv2d(tml_op_ctx_t *ctx, const tml_conv_data_t *d, void *scratch) {
    (void)scratch;
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    const int32_t cout = filter->dims[0], k = filter->dims[1] * filter->dims[2] * filter->dims[3];
    if (!host_avx2() || filter->dims[3] != in->dims[3] || k > HOST_KMAX) {
        return 0;
    }
    tml_window_t win;
    tml_window_init(&win, in, ctx->outputs[0], filter->dims[1], filter->dims[2], d->stride_h, d->stride_w,
        d->dil_h, d->dil_w, d->pad_h, d->pad_w);
    const host_rq_t q = { d->output_offset, d->act_min, d->act_max };
    host_gemm_t g;
    host_gemm_init(&g, ctx, &win, k, k, 1, cout, d->input_offset, d->mult, &q);
    host_gemm(&g);
    return 1;
}

// Sum of (x[i] + off) * w[i]; x + off fits int16 and so does its product
// with an int8 weight.
HOST_AVX2 static int32_t host_dot_off(const int8_t *x, const int8_t *w, int32_t n, int32_t off) {
    __m256i acc = _mm256_setzero_si256();
    const __m256i offv = _mm256_set1_epi16((int16_t)off);
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i xv = _mm256_add_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x + i))), offv);
        const __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + i)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(xv, wv));
    }
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    uint32_t total = (uint32_t)_mm_cvtsi128_si32(s);
    for (; i < n; i++) {
        total += (uint32_t)(((int32_t)x[i] + off) * (int32_t)w[i]);
    }
    return (int32_t)total;
}

// FULLY_CONNECTED one row at a time (few rows, or rows too long for the
// blocked product).
HOST_AVX2 static void host_fc_rows(const host_gemm_t *g) {
    for (int32_t b = 0; b < g->win.nb; b++) {
        const int8_t *xb = g->x + (size_t)b * g->k;
        for (int32_t u = 0; u < g->cout; u++) {
            int32_t acc = host_dot_off(xb, g->w + (size_t)u * g->k, g->k, g->in_off);
            if (g->bias) {
                acc = tml_wrap_add(acc, g->bias[u]);
            }
            const int32_t qi = g->per_channel ? u : 0;
            g->y[(size_t)b * g->cout + u] = host_rq1(acc, g->mult[qi], g->shift[qi], &g->q);
        }
    }
}

int tml_fast_fc(tml_op_ctx_t *ctx, const tml_fc_data_t *d, void *scratch) {
    (void)scratch;
    const tml_tensor_t *filter = ctx->inputs[1];
    const int32_t units = filter->dims[0], depth = filter->dims[1];
    if (!host_avx2() || d->filter_offset != 0) {
        return 0;
    }
    // Every row of the input is an image of one pixel.
    const tml_window_t win = {
        .nb = tml_tensor_count(ctx->outputs[0]) / units, .ih = 1, .iw = 1, .cin = depth, .oh = 1, .ow = 1,
        .fh = 1, .fw = 1, .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_h = 0, .pad_w = 0,
    };
    const host_rq_t q = { d->output_offset, d->act_min, d->act_max };
    host_gemm_t g;
    host_gemm_init(&g, ctx, &win, depth, depth, 1, units, d->input_offset, d->mult, &q);
    g.shift = tml_kparams_shifts(d->mult, d->n_mult);
    g.per_channel = d->per_channel;
    if (win.nb < 4 || depth > HOST_KMAX) {
        host_fc_rows(&g);
    } else {
        host_gemm(&g);
    }
    return 1;
}

// ---------------------------------------------------------------------------
// DEPTHWISE_CONV_2D (depth multiplier 1), 16 channels per step.

HOST_AVX2 static void host_dwconv(tml_op_ctx_t *ctx, const tml_dwconv_data_t *d) {
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    const tml_tensor_t *bias_t = tml_kin(ctx, 2);
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t nb = in->dims[0], c = in->dims[3], oh = out->dims[1], ow = out->dims[2];
    const int32_t taps = filter->dims[1] * filter->dims[2], npairs = (taps + 1) / 2, nfull = c / 16, has8 = (c & 8) != 0;
    const int8_t *x = (const int8_t *)in->data;
    const int8_t *w = (const int8_t *)filter->data;
    const int32_t *bias = bias_t ? (const int32_t *)bias_t->data : NULL;
    int8_t *y = (int8_t *)out->data;
    const int8_t *shift = tml_kparams_shifts(d->mult, c);
    const host_rq_t q = { d->output_offset, d->act_min, d->act_max };
    int16_t wb[HOST_WBUF_BYTES / 2] __attribute__((aligned(32)));
    int32_t bias_full[HOST_DW_CMAX];
    int8_t zrow[HOST_DW_CMAX];
    const int8_t *tp[HOST_DW_TAPS_MAX + 1];
    tml_window_fold_bias(bias_full, bias, w, c, 1, c, taps, d->input_offset);
    for (int32_t ch = 0; ch < c; ch++) {
        zrow[ch] = (int8_t)-d->input_offset;
    }
    // Weights of the full 16-channel groups: per group and tap pair, the
    // two taps interleaved as unpacklo/unpackhi arrange the inputs.
    const __m256i zero = _mm256_setzero_si256();
    for (int32_t g = 0; g < nfull; g++) {
        for (int32_t j = 0; j < npairs; j++) {
            const __m256i wa = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + (size_t)(2 * j) * c + g * 16)));
            const __m256i wv = 2 * j + 1 < taps
                ? _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + (size_t)(2 * j + 1) * c + g * 16))) : zero;
            __m256i *dst = (__m256i *)(wb + ((size_t)g * npairs + j) * 32);
            _mm256_store_si256(dst, _mm256_unpacklo_epi16(wa, wv));
            _mm256_store_si256(dst + 1, _mm256_unpackhi_epi16(wa, wv));
        }
    }
    // A last group of 8 channels: the same in 128-bit registers.
    int16_t *wb8 = wb + (size_t)nfull * npairs * 32;
    for (int32_t j = 0; has8 && j < npairs; j++) {
        const __m128i wa = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(w + (size_t)(2 * j) * c + nfull * 16)));
        const __m128i wv = 2 * j + 1 < taps
            ? _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(w + (size_t)(2 * j + 1) * c + nfull * 16)))
            : _mm_setzero_si128();
        _mm_store_si128((__m128i *)(wb8 + j * 16), _mm_unpacklo_epi16(wa, wv));
        _mm_store_si128((__m128i *)(wb8 + j * 16 + 8), _mm_unpackhi_epi16(wa, wv));
    }
    tp[taps] = zrow;    // partner of the last tap when the count is odd
    tml_window_t win;
    tml_window_init(&win, in, out, filter->dims[1], filter->dims[2], d->stride_h, d->stride_w, d->dil_h, d->dil_w,
        d->pad_h, d->pad_w);
    for (int32_t b = 0; b < nb; b++) {
        for (int32_t oy = 0; oy < oh; oy++) {
            for (int32_t ox = 0; ox < ow; ox++) {
                tml_window_taps(&win, x, b, oy, ox, zrow, tp);
                int8_t *yp = y + (((size_t)b * oh + oy) * ow + ox) * c;
                const int16_t *wp = wb;
                for (int32_t g = 0; g < nfull; g++) {
                    __m256i acc0 = zero, acc1 = zero;
                    for (int32_t j = 0; j < npairs; j++, wp += 32) {
                        const __m256i xa = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(tp[2 * j] + g * 16)));
                        const __m256i xb = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(tp[2 * j + 1] + g * 16)));
                        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_unpacklo_epi16(xa, xb),
                            _mm256_load_si256((const __m256i *)wp)));
                        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_unpackhi_epi16(xa, xb),
                            _mm256_load_si256((const __m256i *)(wp + 16))));
                    }
                    // acc0 holds channels 0-3 and 8-11, acc1 4-7 and 12-15.
                    __m256i lo = _mm256_permute2x128_si256(acc0, acc1, 0x20);
                    __m256i hi = _mm256_permute2x128_si256(acc0, acc1, 0x31);
                    lo = _mm256_add_epi32(lo, _mm256_loadu_si256((const __m256i *)(bias_full + g * 16)));
                    hi = _mm256_add_epi32(hi, _mm256_loadu_si256((const __m256i *)(bias_full + g * 16 + 8)));
                    host_rq_store16(lo, hi, d->mult + g * 16, shift + g * 16, &q, yp + g * 16, 16);
                }
                if (has8) {
                    const int32_t c8 = nfull * 16;
                    __m128i acc0 = _mm_setzero_si128(), acc1 = _mm_setzero_si128();
                    for (int32_t j = 0; j < npairs; j++) {
                        const __m128i xa = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(tp[2 * j] + c8)));
                        const __m128i xb = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(tp[2 * j + 1] + c8)));
                        acc0 = _mm_add_epi32(acc0, _mm_madd_epi16(_mm_unpacklo_epi16(xa, xb),
                            _mm_load_si128((const __m128i *)(wb8 + j * 16))));
                        acc1 = _mm_add_epi32(acc1, _mm_madd_epi16(_mm_unpackhi_epi16(xa, xb),
                            _mm_load_si128((const __m128i *)(wb8 + j * 16 + 8))));
                    }
                    const __m256i acc = _mm256_add_epi32(_mm256_set_m128i(acc1, acc0),
                        _mm256_loadu_si256((const __m256i *)(bias_full + c8)));
                    host_rq_store8(acc, d->mult + c8, shift + c8, &q, yp + c8);
                }
                for (int32_t ch = nfull * 16 + has8 * 8; ch < c; ch++) {
                    uint32_t acc = (uint32_t)bias_full[ch];
                    for (int32_t t = 0; t < taps; t++) {
                        acc += (uint32_t)((int32_t)tp[t][ch] * (int32_t)w[(size_t)t * c + ch]);
                    }
                    yp[ch] = host_rq1((int32_t)acc, d->mult[ch], shift[ch], &q);
                }
            }
        }
    }
}

int tml_fast_dwconv2d(tml_op_ctx_t *ctx, const tml_dwconv_data_t *d, void *scratch) {
    (void)scratch;
    const tml_tensor_t *filter = ctx->inputs[1];
    const int32_t c = ctx->inputs[0]->dims[3], cout = filter->dims[3], taps = filter->dims[1] * filter->dims[2];
    if (!host_avx2()) {
        return 0;
    }
    if (c == 1 && taps <= HOST_KMAX) {
        // One input channel: a convolution whose output channels are the
        // depth multiplier's, with the filter read transposed.
        tml_window_t win;
        tml_window_init(&win, ctx->inputs[0], ctx->outputs[0], filter->dims[1], filter->dims[2], d->stride_h,
            d->stride_w, d->dil_h, d->dil_w, d->pad_h, d->pad_w);
        const host_rq_t q = { d->output_offset, d->act_min, d->act_max };
        host_gemm_t g;
        host_gemm_init(&g, ctx, &win, taps, 1, cout, cout, d->input_offset, d->mult, &q);
        host_gemm(&g);
        return 1;
    }
    const size_t wbytes = (size_t)(c / 16) * ((taps + 1) / 2) * 64 + ((c & 8) ? (size_t)((taps + 1) / 2) * 32 : 0);
    if (d->depth_mult != 1 || c > HOST_DW_CMAX || taps > HOST_DW_TAPS_MAX || wbytes > HOST_WBUF_BYTES) {
        return 0;
    }
    host_dwconv(ctx, d);
    return 1;
}

#else // other 64-bit hosts: the portable kernels

int tml_fast_conv2d(tml_op_ctx_t *ctx, const tml_conv_data_t *d, void *scratch) {
    (void)ctx;
    (void)d;
    (void)scratch;
    return 0;
}

int tml_fast_dwconv2d(tml_op_ctx_t *ctx, const tml_dwconv_data_t *d, void *scratch) {
    (void)ctx;
    (void)d;
    (void)scratch;
    return 0;
}

int tml_fast_fc(tml_op_ctx_t *ctx, const tml_fc_data_t *d, void *scratch) {
    (void)ctx;
    (void)d;
    (void)scratch;
    return 0;
}

#endif // __x86_64__

#endif // TML_FAST_HOST
