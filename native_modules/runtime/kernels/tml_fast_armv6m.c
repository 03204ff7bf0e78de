// Fast paths of the hot int8 kernels for Cortex-M0/M0+ (ARMv6-M, RP2040); see tml_fast.h.
//
// ARMv6-M has no DSP or SIMD instructions: every product is a MULS
// (32x32->32, destroying one operand) plus an ADD, and LDRSB only takes a
// register offset. The inner loops are therefore hand-written Thumb-1:
// four accumulators live in the high registers r8-r11 (ADD accepts them),
// which leaves the eight low registers for pointers, offsets and operands.
// Each loaded activation feeds four output channels, so a multiply-
// accumulate costs about 3.5 instructions instead of 5-6 for compiled C.
//
// The paths take every int8 shape (TML_FAST_COMPLETE: the portable int8
// loops are not linked on this core). CONV_2D (1x1 over all channels reads
// the input in place, other windows and groups a per-pixel patch) and
// FULLY_CONNECTED share the four-channel dot-product kernel.
// DEPTHWISE_CONV_2D has one kernel for depth multiplier 1 with three-wide
// kernel rows read in place, one for a one-channel input with a depth
// multiplier, and a general one over a per-pixel patch of the window (any
// kernel, dilation or depth multiplier; border pixels of the first path).
// Output channels go in chunks whose accumulators and requantization
// constants sit in 16-byte records, requantized by one assembly loop.
//
// Requantization uses tml_m0_requant() (four 16x16 products, no 64-bit
// multiply call), checked against tml_mul_by_quantized_mult() by the host
// tests; channels with multipliers outside its exact range use the portable
// kernels' tml_window_store().
//
// The input offset is folded into a per-channel bias (bias + input_offset *
// sum of the channel's weights); padded taps read the input zero point from a
// small patch buffer, so they add exactly nothing, as in the reference.
// The folded bias lives in the portable kernel's own scratch (d->scratch),
// which both CONV_2D and DEPTHWISE_CONV_2D size to at least
// TML_KSCRATCH_CHANNEL_BYTES (an int32, checked in tml_kparams.h) per output
// channel for the same purpose; the portable loop does not run when the
// fast path has, so the two never share it at the same time.
#include "tml_fast.h"

#if defined(TML_FAST_ARMV6M)

#include <string.h>

#include "tml_kernels.h"
#include "tml_quant.h"
#include "tml_window.h"
#include "tml_fast_armv6m_requant.h"

// Output channels handled per chunk: bounds the scratch (16 B per channel
// plus a patch) while keeping the per-call overhead small.
#define M0_CHUNK 32
// Depthwise: the output records of a chunk live on the stack (512 B), only
// the window patch takes arena scratch (it adds to the largest live
// activations of the models). Chunks of 32 rather than 16 channels take
// 9% off the depthwise layers of kws_ref_model.
#define M0_DW_CHUNK 32

// One output channel of a pixel on its way out: the accumulator written by
// the assembly kernels, and the requantization constants of its channel
// next to it, so that the requantization loop fetches all with two LDMs.
typedef struct {
    int32_t acc;
    int32_t mult;
    uint32_t round;         // 2^14 + 2^(14+e) for a right shift by e
    int32_t sh;             // e - 1
} m0_out_t;

// A 32-bit word that may alias int8 data (patch copies).
typedef uint32_t m0_word_t __attribute__((may_alias));

// Arguments of the assembly kernels (the offsets are used by the assembly).
// They advance x/w/bias/out as they go: callers fill a fresh copy per call.
typedef struct {
    const int8_t *x;        // 0
    const int8_t *w;        // 4
    const int32_t *bias;    // 8
    m0_out_t *out;          // 12: output records, 16 B apart
    int32_t n;              // 16: products per output (depth) or kernel rows
    int32_t nblk;           // 20: blocks of four output channels (>= 1)
    int32_t wstep;          // 24: weight step between taps
    int32_t xrow;           // 28: x step from one kernel row to the next
    int32_t xstep;          // 32: x step between taps of a row, or taps per row
    int32_t wrow;           // 36: weight step from one kernel row to the next
} m0_args_t;

// Saves r4-r11, keeps the argument pointer at [sp]. GCC hands inline
// assembly to the assembler in divided syntax on Thumb-1: switch to unified
// syntax for the kernel and back at its end.
#define M0_PROLOGUE \
    ".syntax unified\n" \
    "push {r4, r5, r6, r7, lr}\n" \
    "mov r4, r8\n" \
    "mov r5, r9\n" \
    "mov r6, r10\n" \
    "mov r7, r11\n" \
    "push {r4, r5, r6, r7}\n" \
    "sub sp, #16\n" \
    "str r0, [sp, #0]\n"

#define M0_EPILOGUE \
    "add sp, #16\n" \
    "pop {r4, r5, r6, r7}\n" \
    "mov r8, r4\n" \
    "mov r9, r5\n" \
    "mov r10, r6\n" \
    "mov r11, r7\n" \
    "pop {r4, r5, r6, r7, pc}\n" \
    ".syntax divided\n"

// r8-r11 = bias[0..3]; bias += 4. Uses r0, r1, r6, r7.
#define M0_LOAD_BIAS \
    "ldr r7, [sp, #0]\n" \
    "ldr r6, [r7, #8]\n" \
    "ldm r6!, {r0, r1}\n" \
    "mov r8, r0\n" \
    "mov r9, r1\n" \
    "ldm r6!, {r0, r1}\n" \
    "mov r10, r0\n" \
    "mov r11, r1\n" \
    "str r6, [r7, #8]\n"

// out[0..3].acc = r8-r11; out += 4; --nblk, flags set on the result. Uses r6, r7.
#define M0_STORE_ACC \
    "ldr r7, [sp, #0]\n" \
    "ldr r6, [r7, #12]\n" \
    "mov r7, r8\n" \
    "str r7, [r6, #0]\n" \
    "mov r7, r9\n" \
    "str r7, [r6, #16]\n" \
    "mov r7, r10\n" \
    "str r7, [r6, #32]\n" \
    "mov r7, r11\n" \
    "str r7, [r6, #48]\n" \
    "adds r6, #64\n" \
    "ldr r7, [sp, #0]\n" \
    "str r6, [r7, #12]\n" \
    "ldr r6, [r7, #20]\n" \
    "subs r6, #1\n" \
    "str r6, [r7, #20]\n"

// One depth step of the convolution kernel: x at r1[r0], the four weight
// rows at r2..r5[r0]; r0 += 1 sets the loop flags.
#define M0_CONV_STEP \
    "ldrsb r6, [r1, r0]\n" \
    "ldrsb r7, [r2, r0]\n" \
    "muls r7, r6, r7\n" \
    "add r8, r7\n" \
    "ldrsb r7, [r3, r0]\n" \
    "muls r7, r6, r7\n" \
    "add r9, r7\n" \
    "ldrsb r7, [r4, r0]\n" \
    "muls r7, r6, r7\n" \
    "add r10, r7\n" \
    "ldrsb r7, [r5, r0]\n" \
    "muls r7, r6, r7\n" \
    "add r11, r7\n" \
    "adds r0, #1\n"

// out[c].acc = bias[c] + sum_k x[k] * w[c * n + k] for 4 * nblk channels
// (weights in rows of n, as CONV_2D's OHWI and FULLY_CONNECTED's).
__attribute__((naked, noinline)) static void m0_conv_blocks(m0_args_t *a) {
    (void)a;
    __asm__ volatile (
        M0_PROLOGUE
        "1:\n"
        M0_LOAD_BIAS
        "ldr r0, [sp, #0]\n"
        "ldr r6, [r0, #16]\n"       // n
        "ldr r1, [r0, #0]\n"
        "adds r1, r1, r6\n"         // end of x
        "ldr r2, [r0, #4]\n"
        "adds r2, r2, r6\n"         // ends of the four weight rows
        "adds r3, r2, r6\n"
        "adds r4, r3, r6\n"
        "adds r5, r4, r6\n"
        "str r5, [r0, #4]\n"        // the next block's first row
        "negs r0, r6\n"             // index runs from -n up to 0
        // Four steps per loop; n % 4 steps first, entering the loop body
        // part way (Z: n % 4 == 0, N: bit 1 of n).
        "lsls r7, r6, #30\n"
        "beq 2f\n"
        "bmi 6f\n"
        "b 5f\n"                    // n % 4 == 1
        "6:\n"
        "lsls r7, r7, #1\n"
        "bmi 3f\n"                  // n % 4 == 3
        "b 4f\n"                    // n % 4 == 2
        "2:\n"
        M0_CONV_STEP
        "3:\n"
        M0_CONV_STEP
        "4:\n"
        M0_CONV_STEP
        "5:\n"
        M0_CONV_STEP
        "bne 2b\n"
        M0_STORE_ACC
        "bne 1b\n"
        M0_EPILOGUE
        );
}

// One tap of the depthwise kernels: weights of four channels at r1[r2..r5]
// (r2..r5 = 0..3) times the activation in r6 (shared) or at r0[r2..r5].
#define M0_MUL4_SHARED \
    "ldrsb r7, [r1, r2]\n" \
    "muls r7, r6, r7\n" \
    "add r8, r7\n" \
    "ldrsb r7, [r1, r3]\n" \
    "muls r7, r6, r7\n" \
    "add r9, r7\n" \
    "ldrsb r7, [r1, r4]\n" \
    "muls r7, r6, r7\n" \
    "add r10, r7\n" \
    "ldrsb r7, [r1, r5]\n" \
    "muls r7, r6, r7\n" \
    "add r11, r7\n"

#define M0_MUL4_OWN \
    "ldrsb r6, [r0, r2]\n" \
    "ldrsb r7, [r1, r2]\n" \
    "muls r7, r6, r7\n" \
    "add r8, r7\n" \
    "ldrsb r6, [r0, r3]\n" \
    "ldrsb r7, [r1, r3]\n" \
    "muls r7, r6, r7\n" \
    "add r9, r7\n" \
    "ldrsb r6, [r0, r4]\n" \
    "ldrsb r7, [r1, r4]\n" \
    "muls r7, r6, r7\n" \
    "add r10, r7\n" \
    "ldrsb r6, [r0, r5]\n" \
    "ldrsb r7, [r1, r5]\n" \
    "muls r7, r6, r7\n" \
    "add r11, r7\n"

#define M0_INDEX_REGS \
    "movs r2, #0\n" \
    "movs r3, #1\n" \
    "movs r4, #2\n" \
    "movs r5, #3\n"

// out[c].acc = bias[c] + sum over n rows and xstep columns of
// x[row * xrow + col] * w[row * wrow + col * wstep + c], for 4 * nblk
// channels: a one-channel input (depthwise with a depth multiplier) against
// taps whose channels are contiguous weights.
__attribute__((naked, noinline)) static void m0_shared_x_blocks(m0_args_t *a) {
    (void)a;
    __asm__ volatile (
        M0_PROLOGUE
        M0_INDEX_REGS
        "ldr r6, [r0, #24]\n"
        "mov r12, r6\n"             // weight step
        "ldr r7, [r0, #32]\n"       // taps per row
        "ldr r6, [r0, #28]\n"
        "str r6, [sp, #8]\n"        // x row step
        "subs r6, r6, r7\n"
        "str r6, [sp, #12]\n"       // x row step - taps per row
        "1:\n"
        M0_LOAD_BIAS
        "ldr r7, [sp, #0]\n"
        "ldr r0, [r7, #0]\n"        // x
        "ldr r6, [r7, #32]\n"
        "adds r6, r0, r6\n"
        "mov lr, r6\n"              // end of the first row
        "ldr r1, [r7, #4]\n"        // w of this block
        "adds r6, r1, #4\n"
        "str r6, [r7, #4]\n"
        "ldr r6, [r7, #16]\n"
        "str r6, [sp, #4]\n"        // rows left
        "2:\n"
        "ldrsb r6, [r0, r2]\n"
        M0_MUL4_SHARED
        "adds r0, #1\n"
        "add r1, r12\n"
        "cmp r0, lr\n"
        "bne 2b\n"
        "ldr r6, [sp, #12]\n"
        "add r0, r6\n"
        "ldr r6, [sp, #8]\n"
        "add lr, r6\n"
        "ldr r7, [sp, #0]\n"
        "ldr r6, [r7, #36]\n"       // weight row step, less the taps walked
        "add r1, r6\n"
        "ldr r6, [sp, #4]\n"
        "subs r6, #1\n"
        "str r6, [sp, #4]\n"
        "bne 2b\n"
        M0_STORE_ACC
        "bne 1b\n"
        M0_EPILOGUE
        );
}

// r12 = weight step, lr = x step (from the arguments at r0). Uses r6.
#define M0_STEPS \
    "ldr r6, [r0, #24]\n" \
    "mov r12, r6\n" \
    "ldr r6, [r0, #32]\n" \
    "mov lr, r6\n"

// Start of a block of four channels with their own activations: r0 = x,
// r1 = w of the block (both then advance by 4 in the arguments), [sp, #4]
// = n. Uses r6, r7.
#define M0_NEXT_BLOCK \
    "ldr r7, [sp, #0]\n" \
    "ldr r0, [r7, #0]\n" \
    "adds r6, r0, #4\n" \
    "str r6, [r7, #0]\n" \
    "ldr r1, [r7, #4]\n" \
    "adds r6, r1, #4\n" \
    "str r6, [r7, #4]\n" \
    "ldr r6, [r7, #16]\n" \
    "str r6, [sp, #4]\n"

// Depthwise, depth multiplier 1, three taps per kernel row: out[c].acc =
// bias[c] + sum over n rows and 3 columns of x[row * xrow + col * xstep + c]
// * w[(row * 3 + col) * wstep + c], for 4 * nblk channels.
__attribute__((naked, noinline)) static void m0_dw3_blocks(m0_args_t *a) {
    (void)a;
    __asm__ volatile (
        M0_PROLOGUE
        M0_INDEX_REGS
        M0_STEPS
        "ldr r7, [r0, #28]\n"
        "subs r7, r7, r6\n"
        "subs r7, r7, r6\n"
        "str r7, [sp, #8]\n"        // xrow - 2 xstep
        "1:\n"
        M0_LOAD_BIAS
        M0_NEXT_BLOCK               // rows left
        "2:\n"
        M0_MUL4_OWN
        "add r0, lr\n"
        "add r1, r12\n"
        M0_MUL4_OWN
        "add r0, lr\n"
        "add r1, r12\n"
        M0_MUL4_OWN
        "ldr r6, [sp, #8]\n"
        "add r0, r6\n"
        "add r1, r12\n"
        "ldr r6, [sp, #4]\n"
        "subs r6, #1\n"
        "str r6, [sp, #4]\n"
        "bne 2b\n"
        M0_STORE_ACC
        "bne 1b\n"
        M0_EPILOGUE
        );
}

// Depthwise over a patch: out[c].acc = bias[c] + sum over n taps of
// x[t * xstep + c] * w[t * wstep + c], for 4 * nblk channels.
__attribute__((naked, noinline)) static void m0_taps_blocks(m0_args_t *a) {
    (void)a;
    __asm__ volatile (
        M0_PROLOGUE
        M0_INDEX_REGS
        M0_STEPS
        "1:\n"
        M0_LOAD_BIAS
        M0_NEXT_BLOCK               // taps left
        "2:\n"
        M0_MUL4_OWN
        "add r0, lr\n"
        "add r1, r12\n"
        "ldr r6, [sp, #4]\n"
        "subs r6, #1\n"
        "str r6, [sp, #4]\n"
        "bne 2b\n"
        M0_STORE_ACC
        "bne 1b\n"
        M0_EPILOGUE
        );
}

// Requantizes out[0..n) into y[0..n): out[i].acc times out[i].mult with the
// rounding of tml_m0_requant() (out[i].round = 2^14 + 2^(14+e), out[i].sh =
// e - 1), plus the output offset, clamped to the activation range.
typedef struct {
    m0_out_t *out;          // 0
    int8_t *y;              // 4
    int32_t n;              // 8 (>= 1)
    int32_t off;            // 12
    int32_t lo;             // 16
    int32_t hi;             // 20
} m0_rq_args_t;

__attribute__((naked, noinline)) static void m0_requant_run(const m0_rq_args_t *a) {
    (void)a;
    __asm__ volatile (
        ".syntax unified\n"
        "push {r4, r5, r6, r7, lr}\n"
        "mov r4, r8\n"
        "mov r5, r9\n"
        "mov r6, r10\n"
        "mov r7, r11\n"
        "push {r4, r5, r6, r7}\n"
        "ldr r3, [r0, #0]\n"
        "ldr r7, [r0, #4]\n"
        "ldr r1, [r0, #8]\n"
        "adds r1, r7, r1\n"
        "mov r11, r1\n"             // end of y
        "ldr r1, [r0, #12]\n"
        "mov r8, r1\n"
        "ldr r1, [r0, #16]\n"
        "mov r9, r1\n"
        "ldr r1, [r0, #20]\n"
        "mov r10, r1\n"
        "1:\n"
        "ldm r3!, {r0, r1}\n"       // x, m
        "uxth r4, r0\n"             // xl
        "asrs r0, r0, #16\n"        // xh
        "uxth r5, r1\n"             // ml
        "asrs r1, r1, #16\n"        // mh
        "movs r6, r5\n"
        "muls r6, r4, r6\n"         // xl * ml
        "muls r4, r1, r4\n"         // xl * mh
        "lsrs r6, r6, #16\n"
        "adds r4, r4, r6\n"
        "muls r5, r0, r5\n"         // xh * ml
        "muls r1, r0, r1\n"         // xh * mh
        "asrs r0, r0, #31\n"
        "lsls r0, r0, #15\n"        // -2^15 for negative x
        "adds r4, r4, r0\n"
        "uxth r6, r5\n"
        "adds r4, r4, r6\n"
        "asrs r5, r5, #16\n"
        "adds r1, r1, r5\n"
        "ldm r3!, {r5, r6}\n"       // round, e - 1
        "adds r4, r4, r5\n"
        "lsrs r4, r4, #16\n"
        "adds r1, r1, r4\n"
        "asrs r1, r1, r6\n"
        "add r1, r8\n"
        "cmp r1, r9\n"
        "bge 2f\n"
        "mov r1, r9\n"
        "2:\n"
        "cmp r1, r10\n"
        "ble 3f\n"
        "mov r1, r10\n"
        "3:\n"
        "strb r1, [r7]\n"
        "adds r7, #1\n"
        "cmp r7, r11\n"
        "bne 1b\n"
        "pop {r4, r5, r6, r7}\n"
        "mov r8, r4\n"
        "mov r9, r5\n"
        "mov r10, r6\n"
        "mov r11, r7\n"
        "pop {r4, r5, r6, r7, pc}\n"
        ".syntax divided\n"
        );
}

// Requantization of one op: multipliers, shifts and the output range.
typedef struct {
    const int32_t *mult;
    const int8_t *shift;
    int32_t n_mult;
    int32_t out_off, act_min, act_max;
    int exact_fast;         // every multiplier is in tml_m0_requant()'s range
} m0_requant_t;

static void m0_requant_init(m0_requant_t *r, const int32_t *mult, int32_t n_mult, int32_t out_off,
    int32_t act_min, int32_t act_max) {
    r->mult = mult;
    r->shift = tml_kparams_shifts(mult, n_mult);
    r->n_mult = n_mult;
    r->out_off = out_off;
    r->act_min = act_min;
    r->act_max = act_max;
    r->exact_fast = 1;
    for (int32_t i = 0; i < n_mult; i++) {
        if (!tml_m0_requant_ok(mult[i], r->shift[i])) {
            r->exact_fast = 0;
        }
    }
}

// The multiplier fields of out[0..nc) for channels c0.. (per-tensor: all alike).
static void m0_fill_out(const m0_requant_t *r, m0_out_t *out, int32_t c0, int32_t nc) {
    for (int32_t c = 0; c < nc; c++) {
        const int32_t q = r->n_mult > 1 ? c0 + c : 0;
        const int e = -r->shift[q];
        out[c].mult = r->mult[q];
        out[c].round = r->exact_fast ? (1u << 14) + (1u << (14 + e)) : 0;
        out[c].sh = e - 1;
    }
}

static void m0_emit(const m0_requant_t *r, int8_t *y, m0_out_t *out, int32_t c0, int32_t nc) {
    if (r->exact_fast) {
        const m0_rq_args_t a = {out, y, nc, r->out_off, r->act_min, r->act_max};
        m0_requant_run(&a);
        return;
    }
    // Multipliers outside the assembly's exact range: the portable
    // kernels' store (one shared copy, bit-exact with the reference).
    for (int32_t c = 0; c < nc; c++) {
        const int32_t q = r->n_mult > 1 ? c0 + c : 0;
        tml_window_store(y + c, &out[c].acc, 1, r->mult + q, r->shift + q, r->out_off, r->act_min, r->act_max);
    }
}

static int32_t m0_min(int32_t a, int32_t b) {
    return a < b ? a : b;
}


// Sum over `words` (1..128) aligned words of (v ^ 0x80808080) & 0x00ff00ff
// plus (v ^ 0x80808080) >> 8 & 0x00ff00ff: two 16-bit lanes of byte sums.
__attribute__((naked, noinline)) static uint32_t m0_byte_lanes(const int8_t *p, int32_t words) {
    (void)p;
    (void)words;
    __asm__ volatile (
        ".syntax unified\n"
        "push {r4, r5, r6, lr}\n"
        "movs r2, #0x80\n"
        "lsls r3, r2, #8\n"
        "orrs r2, r3\n"
        "lsls r3, r2, #16\n"
        "orrs r2, r3\n"            // 0x80808080
        "movs r3, #0xff\n"
        "lsls r4, r3, #16\n"
        "orrs r3, r4\n"            // 0x00ff00ff
        "movs r4, #0\n"
        "lsls r1, r1, #2\n"
        "adds r1, r0, r1\n"        // end
        "1:\n"
        "ldm r0!, {r5}\n"
        "eors r5, r2\n"
        "lsrs r6, r5, #8\n"
        "ands r5, r3\n"
        "ands r6, r3\n"
        "adds r4, r4, r5\n"
        "adds r4, r4, r6\n"
        "cmp r0, r1\n"
        "bne 1b\n"
        "movs r0, r4\n"
        "pop {r4, r5, r6, pc}\n"
        ".syntax divided\n"
        );
}

// Sum of n int8 values. Aligned runs go a word at a time: with each byte
// biased by 128 (XOR 0x80), bytes 0+2 and 1+3 add up in two 16-bit lanes
// that cannot carry into each other within 128 words.
static int32_t m0_sum_s8(const int8_t *w, int32_t n) {
    uint32_t sum = 0;
    int32_t i = 0;
    if (((uintptr_t)w & 3) == 0) {
        while (n - i >= 4) {
            const int32_t words = m0_min((n - i) / 4, 128);
            const uint32_t lanes = m0_byte_lanes(w + i, words);
            sum += (lanes & 0xffffu) + (lanes >> 16) - 512u * (uint32_t)words;
            i += 4 * words;
        }
    }
    for (; i < n; i++) {
        sum += (uint32_t)(int32_t)w[i];
    }
    return (int32_t)sum;
}

// The op's int32 bias, or NULL.
static const int32_t *m0_bias(const tml_op_ctx_t *ctx) {
    const tml_tensor_t *b = tml_kin(ctx, 2);
    return b ? (const int32_t *)b->data : NULL;
}

// bf[c] = bias[c] + in_off * sum of channel c's n weights: rows of n, or
// (strided) n taps cout apart.
static void m0_fold_bias(int32_t *bf, const int32_t *bias, const int8_t *w, int32_t cout, int32_t n,
    int32_t in_off, int strided) {
    for (int32_t c = 0; c < cout; c++) {
        uint32_t sum = 0;
        if (strided) {
            for (int32_t t = 0; t < n; t++) {
                sum += (uint32_t)(int32_t)w[(size_t)t * cout + c];
            }
        } else {
            sum = (uint32_t)m0_sum_s8(w + (size_t)c * n, n);
        }
        bf[c] = tml_wrap_add(bias ? bias[c] : 0, (int32_t)(sum * (uint32_t)in_off));
    }
}


// init + sum over k < n of x[k * xs] * w[k * ws], modulo 2^32: the
// channels the four-channel kernels leave over.
static uint32_t m0_dot_strided(int32_t init, const int8_t *x, int32_t xs, const int8_t *w, int32_t ws, int32_t n) {
    uint32_t s = (uint32_t)init;
    for (int32_t k = 0; k < n; k++) {
        s += (uint32_t)((int32_t)x[k * xs] * (int32_t)w[k * ws]);
    }
    return s;
}

// Output channels of one pixel c0..c0+nc: x[0..n) against weight rows of n.
static void m0_dot_rows(m0_out_t *out, const int8_t *x, const int8_t *w, const int32_t *bf, int32_t n, int32_t nc) {
    const int32_t n4 = nc & ~3;
    if (n4 > 0) {
        m0_args_t a = {x, w, bf, out, n, n4 / 4, 0, 0, 0, 0};
        m0_conv_blocks(&a);
    }
    // The last one to three channels (odd channel counts only).
    for (int32_t c = n4; c < nc; c++) {
        out[c].acc = (int32_t)m0_dot_strided(bf[c], x, 1, w + (size_t)c * n, 1, n);
    }
}

// Word copies and fills where both ends are aligned and the length is a
// multiple of 4 (the depthwise patches of 4k channels), bytes otherwise.
static void m0_copy(int8_t *dst, const int8_t *src, int32_t n) {
    if ((((uintptr_t)dst | (uintptr_t)src | (uint32_t)n) & 3u) == 0) {
        m0_word_t *dw = (m0_word_t *)(void *)dst;
        const m0_word_t *sw = (const m0_word_t *)(const void *)src;
        for (int32_t i = 0; i < n / 4; i++) {
            dw[i] = sw[i];
        }
        return;
    }
    if (n >= 16) {
        memcpy(dst, src, (size_t)n);
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        dst[i] = src[i];
    }
}

static void m0_fill(int8_t *dst, int8_t v, int32_t n) {
    if ((((uintptr_t)dst | (uint32_t)n) & 3u) == 0) {
        m0_word_t *dw = (m0_word_t *)(void *)dst;
        for (int32_t i = 0; i < n / 4; i++) {
            dw[i] = (uint8_t)v * 0x01010101u;
        }
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        dst[i] = v;
    }
}

// A 1x1 filter over all input channels reads each pixel in place (its
// padding is always 0); other windows and groups go through a patch.
static int m0_conv_direct(const tml_tensor_t *in, const tml_tensor_t *filter) {
    return filter->dims[1] == 1 && filter->dims[2] == 1 && filter->dims[3] == in->dims[3];
}

// The taps of one output pixel in OHWI order, cin_g channels each from
// pixels cin apart (xb points at the group's first channel); padded taps
// hold the input zero point, whose offset-corrected value is 0. Rows inside
// the input with adjacent taps of all channels are one copy.
static void m0_conv_patch(int8_t *pp, const int8_t *xb, const tml_conv_data_t *d, int32_t ih, int32_t iw,
    int32_t cin, int32_t cin_g, int32_t fh, int32_t fw, int32_t y0, int32_t x0) {
    const int8_t zp = (int8_t)-d->input_offset;
    const int32_t row = fw * cin_g;
    const int whole_rows = d->dil_w == 1 && cin_g == cin && x0 >= 0 && x0 + fw <= iw;
    for (int32_t ky = 0; ky < fh; ky++, pp += row) {
        const int32_t iy = y0 + ky * d->dil_h;
        if (iy < 0 || iy >= ih) {
            m0_fill(pp, zp, row);
            continue;
        }
        const int8_t *xr = xb + (size_t)iy * iw * cin;
        if (whole_rows) {
            m0_copy(pp, xr + (size_t)x0 * cin, row);
            continue;
        }
        for (int32_t kx = 0; kx < fw; kx++) {
            const int32_t ix = x0 + kx * d->dil_w;
            if (ix < 0 || ix >= iw) {
                m0_fill(pp + kx * cin_g, zp, cin_g);
            } else {
                m0_copy(pp + kx * cin_g, xr + (size_t)ix * cin, cin_g);
            }
        }
    }
}

size_t tml_fast_conv2d_scratch(const tml_op_ctx_t *ctx, const tml_conv_data_t *d) {
    (void)d;
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    const int32_t cout = filter->dims[0], cin_g = filter->dims[3];
    const int32_t per_group = cout / (in->dims[3] / cin_g);
    size_t bytes = sizeof(m0_out_t) * (size_t)m0_min(per_group, M0_CHUNK);
    if (!m0_conv_direct(in, filter)) {
        bytes += (size_t)filter->dims[1] * filter->dims[2] * cin_g;    // the patch of one pixel
    }
    return bytes;
}

int tml_fast_conv2d(tml_op_ctx_t *ctx, const tml_conv_data_t *d, void *scratch) {
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t nb = in->dims[0], ih = in->dims[1], iw = in->dims[2], cin = in->dims[3];
    const int32_t cout = filter->dims[0], fh = filter->dims[1], fw = filter->dims[2], cin_g = filter->dims[3];
    const int32_t oh = out->dims[1], ow = out->dims[2];
    const int32_t per_group = cout / (cin / cin_g);
    if (scratch == NULL) {
        return 0;
    }
    const int8_t *x = (const int8_t *)in->data;
    const int8_t *w = (const int8_t *)filter->data;
    int8_t *y = (int8_t *)out->data;
    const int32_t n = fh * fw * cin_g;
    int32_t *bf = ctx->get_scratch(ctx, d->scratch);
    m0_fold_bias(bf, m0_bias(ctx), w, cout, n, d->input_offset, 0);
    m0_requant_t rq;
    m0_requant_init(&rq, d->mult, cout, d->output_offset, d->act_min, d->act_max);
    m0_out_t *ob = scratch;
    int8_t *patch = (int8_t *)(ob + m0_min(per_group, M0_CHUNK));
    const int direct = m0_conv_direct(in, filter);
    // Channel chunks (within a group) outermost: the multiplier fields are
    // filled once per chunk.
    for (int32_t g0 = 0, g = 0; g0 < cout; g0 += per_group, g++) {
        for (int32_t c0 = g0; c0 < g0 + per_group; c0 += M0_CHUNK) {
            const int32_t nc = m0_min(g0 + per_group - c0, M0_CHUNK);
            m0_fill_out(&rq, ob, c0, nc);
            for (int32_t b = 0; b < nb; b++) {
                const int8_t *xb = x + (size_t)b * ih * iw * cin;
                for (int32_t oy = 0; oy < oh; oy++) {
                    const int32_t y0 = oy * d->stride_h - d->pad_h;
                    for (int32_t ox = 0; ox < ow; ox++) {
                        const int32_t x0 = ox * d->stride_w - d->pad_w;
                        const int8_t *xp;
                        if (direct) {
                            xp = xb + ((size_t)y0 * iw + x0) * cin;
                        } else {
                            m0_conv_patch(patch, xb + (size_t)g * cin_g, d, ih, iw, cin, cin_g, fh, fw, y0, x0);
                            xp = patch;
                        }
                        m0_dot_rows(ob, xp, w + (size_t)c0 * n, bf + c0, n, nc);
                        m0_emit(&rq, y + (((size_t)b * oh + oy) * ow + ox) * cout + c0, ob, c0, nc);
                    }
                }
            }
        }
    }
    return 1;
}

// DEPTHWISE_CONV_2D: a one-channel input with a depth multiplier (the
// channels of a tap are contiguous weights sharing one activation) read in
// place; depth multiplier 1 with three-wide kernel rows read in place
// inside the input; everything else through a patch.
static int m0_dw_shared_x(const tml_op_ctx_t *ctx, const tml_dwconv_data_t *d) {
    return ctx->inputs[0]->dims[3] == 1 && ctx->inputs[1]->dims[3] >= 4 && d->dil_w == 1 && d->dil_h == 1;
}

static int m0_dw_rows3(const tml_op_ctx_t *ctx, const tml_dwconv_data_t *d) {
    return d->depth_mult == 1 && ctx->inputs[1]->dims[2] == 3 && ctx->inputs[1]->dims[3] % 4 == 0
           && d->dil_w == 1 && d->dil_h == 1;
}

size_t tml_fast_dwconv2d_scratch(const tml_op_ctx_t *ctx, const tml_dwconv_data_t *d) {
    const tml_tensor_t *filter = ctx->inputs[1];
    const int32_t fh = filter->dims[1], fw = filter->dims[2], cout = filter->dims[3];
    if (m0_dw_shared_x(ctx, d)) {
        return (size_t)fh * fw;     // the window of a border pixel
    }
    // The window of one pixel, per chunk.
    return (size_t)fh * fw * (size_t)m0_min(cout, M0_DW_CHUNK);
}

// Depthwise on a one-channel input (output channel c reads the only input
// channel, a tap's channels are contiguous weights): inside the input the
// window is read in place, row by row; a border pixel's window is copied
// into the patch (fh * fw bytes of scratch) with padded taps holding the
// zero point, and read as one row.
static void m0_dw_one_channel(tml_op_ctx_t *ctx, const tml_dwconv_data_t *d, const m0_requant_t *rq, int8_t *patch) {
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t nb = in->dims[0], ih = in->dims[1], iw = in->dims[2];
    const int32_t fh = filter->dims[1], fw = filter->dims[2], cout = filter->dims[3];
    const int32_t oh = out->dims[1], ow = out->dims[2];
    const int8_t *x = (const int8_t *)in->data;
    const int8_t *w = (const int8_t *)filter->data;
    int8_t *y = (int8_t *)out->data;
    const int8_t zp = (int8_t)-d->input_offset;
    int32_t filled = -1;
    m0_out_t ob[M0_DW_CHUNK];
    int32_t *bf = ctx->get_scratch(ctx, d->scratch);
    m0_fold_bias(bf, m0_bias(ctx), w, cout, fh * fw, d->input_offset, 1);
    for (int32_t b = 0; b < nb; b++) {
        const int8_t *xb = x + (size_t)b * ih * iw;
        for (int32_t oy = 0; oy < oh; oy++) {
            const int32_t y0 = oy * d->stride_h - d->pad_h;
            for (int32_t ox = 0; ox < ow; ox++) {
                const int32_t x0 = ox * d->stride_w - d->pad_w;
                // Rows, taps per row and row step of the window as read.
                const int8_t *xt = patch;
                int32_t rows = 1, cols = fh * fw, xrow = fh * fw;
                if (y0 >= 0 && x0 >= 0 && y0 + fh <= ih && x0 + fw <= iw) {
                    xt = xb + (size_t)y0 * iw + x0;
                    rows = fh;
                    cols = fw;
                    xrow = iw;
                } else {
                    int8_t *pp = patch;
                    for (int32_t ky = y0; ky < y0 + fh; ky++) {
                        for (int32_t kx = x0; kx < x0 + fw; kx++) {
                            *pp++ = ky >= 0 && ky < ih && kx >= 0 && kx < iw ? xb[(size_t)ky * iw + kx] : zp;
                        }
                    }
                }
                int8_t *yp = y + (((size_t)b * oh + oy) * ow + ox) * cout;
                for (int32_t c0 = 0; c0 < cout; c0 += M0_DW_CHUNK) {
                    const int32_t nc = m0_min(cout - c0, M0_DW_CHUNK);
                    const int32_t n4 = nc & ~3;
                    if (c0 != filled) {
                        m0_fill_out(rq, ob, c0, nc);
                        filled = c0;
                    }
                    if (n4 > 0) {
                        m0_args_t a = {xt, w + c0, bf + c0, ob, rows, n4 / 4, cout, xrow, cols, 0};
                        m0_shared_x_blocks(&a);
                    }
                    for (int32_t c = n4; c < nc; c++) {
                        uint32_t s = (uint32_t)bf[c0 + c];
                        for (int32_t r = 0; r < rows; r++) {
                            s = m0_dot_strided((int32_t)s, xt + r * xrow, 1, w + (size_t)r * cols * cout + c0 + c, cout, cols);
                        }
                        ob[c].acc = (int32_t)s;
                    }
                    m0_emit(rq, yp + c0, ob, c0, nc);
                }
            }
        }
    }
}

// Channels c0..c0+nc of every tap of the window at (y0, x0), tap-major
// (nc bytes per tap); output channel c reads input channel c / depth_mult;
// padded taps hold the input zero point.
static void m0_dw_patch(int8_t *pp, const int8_t *xb, const tml_dwconv_data_t *d, int32_t ih, int32_t iw,
    int32_t cin, int32_t fh, int32_t fw, int32_t y0, int32_t x0, int32_t c0, int32_t nc) {
    const int8_t zp = (int8_t)-d->input_offset;
    const int32_t dm = d->depth_mult;
    // Depth multiplier 1 with aligned groups of four channels (the usual
    // layers): a word per four channels.
    const int words = dm == 1 && (((uintptr_t)xb | (uintptr_t)pp | (uint32_t)cin | (uint32_t)c0 | (uint32_t)nc) & 3u) == 0;
    const m0_word_t zp4 = (uint8_t)zp * 0x01010101u;
    for (int32_t ky = 0; ky < fh; ky++) {
        const int32_t iy = y0 + ky * d->dil_h;
        for (int32_t kx = 0; kx < fw; kx++, pp += nc) {
            const int32_t ix = x0 + kx * d->dil_w;
            m0_word_t *pw = (m0_word_t *)(void *)pp;
            if (iy < 0 || iy >= ih || ix < 0 || ix >= iw) {
                if (words) {
                    for (int32_t i = 0; i < nc / 4; i++) {
                        pw[i] = zp4;
                    }
                } else {
                    m0_fill(pp, zp, nc);
                }
                continue;
            }
            const int8_t *src = xb + ((size_t)iy * iw + ix) * cin;
            if (words) {
                const m0_word_t *sw = (const m0_word_t *)(const void *)(src + c0);
                for (int32_t i = 0; i < nc / 4; i++) {
                    pw[i] = sw[i];
                }
            } else if (dm == 1) {
                m0_copy(pp, src + c0, nc);
            } else {
                int32_t ic = c0 / dm, r = c0 - ic * dm;
                for (int32_t c = 0; c < nc; c++) {
                    pp[c] = src[ic];
                    if (++r == dm) {
                        r = 0;
                        ic++;
                    }
                }
            }
        }
    }
}

int tml_fast_dwconv2d(tml_op_ctx_t *ctx, const tml_dwconv_data_t *d, void *scratch) {
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t nb = in->dims[0], ih = in->dims[1], iw = in->dims[2], cin = in->dims[3];
    const int32_t fh = filter->dims[1], fw = filter->dims[2], cout = filter->dims[3];
    const int32_t oh = out->dims[1], ow = out->dims[2], taps = fh * fw;
    m0_requant_t rq;
    m0_requant_init(&rq, d->mult, cout, d->output_offset, d->act_min, d->act_max);
    if (scratch == NULL) {
        return 0;
    }
    if (m0_dw_shared_x(ctx, d)) {
        m0_dw_one_channel(ctx, d, &rq, scratch);
        return 1;
    }
    const int8_t *x = (const int8_t *)in->data;
    const int8_t *w = (const int8_t *)filter->data;
    int8_t *y = (int8_t *)out->data;
    int32_t *bf = ctx->get_scratch(ctx, d->scratch);
    m0_fold_bias(bf, m0_bias(ctx), w, cout, taps, d->input_offset, 1);
    m0_out_t ob[M0_DW_CHUNK];
    int8_t *patch = scratch;
    const int rows3 = m0_dw_rows3(ctx, d);
    const size_t row_bytes = (size_t)iw * cin;
    for (int32_t c0 = 0; c0 < cout; c0 += M0_DW_CHUNK) {
        const int32_t nc = m0_min(cout - c0, M0_DW_CHUNK);
        const int32_t n4 = nc & ~3;
        m0_fill_out(&rq, ob, c0, nc);
        for (int32_t b = 0; b < nb; b++) {
            const int8_t *xb = x + (size_t)b * ih * row_bytes;
            for (int32_t oy = 0; oy < oh; oy++) {
                const int32_t y0 = oy * d->stride_h - d->pad_h;
                for (int32_t ox = 0; ox < ow; ox++) {
                    const int32_t x0 = ox * d->stride_w - d->pad_w;
                    m0_args_t a = {patch, w + c0, bf + c0, ob, taps, n4 / 4, cout, 0, nc, 0};
                    if (rows3 && y0 >= 0 && y0 + fh <= ih && x0 >= 0 && x0 + 3 <= iw) {
                        a.x = xb + (size_t)y0 * row_bytes + (size_t)x0 * cin + c0;
                        a.n = fh;
                        a.xstep = cin;
                        a.xrow = (int32_t)row_bytes;
                        m0_dw3_blocks(&a);
                    } else {
                        m0_dw_patch(patch, xb, d, ih, iw, cin, fh, fw, y0, x0, c0, nc);
                        if (rows3) {
                            a.n = fh;
                            a.xrow = 3 * nc;
                            m0_dw3_blocks(&a);
                        } else {
                            if (n4 > 0) {
                                m0_taps_blocks(&a);
                            }
                            // Channels past the last block of four.
                            for (int32_t c = n4; c < nc; c++) {
                                ob[c].acc = (int32_t)m0_dot_strided(bf[c0 + c], patch + c, nc, w + c0 + c, cout, taps);
                            }
                        }
                    }
                    m0_emit(&rq, y + (((size_t)b * oh + oy) * ow + ox) * cout + c0, ob, c0, nc);
                }
            }
        }
    }
    return 1;
}

size_t tml_fast_fc_scratch(const tml_op_ctx_t *ctx, const tml_fc_data_t *d) {
    (void)d;
    const int32_t units = ctx->inputs[1]->dims[0];
    return (sizeof(m0_out_t) + 4) * (size_t)m0_min(units, M0_CHUNK);
}

int tml_fast_fc(tml_op_ctx_t *ctx, const tml_fc_data_t *d, void *scratch) {
    const tml_tensor_t *in = ctx->inputs[0];
    const tml_tensor_t *filter = ctx->inputs[1];
    tml_tensor_t *out = ctx->outputs[0];
    const int32_t units = filter->dims[0], depth = filter->dims[1];
    const int32_t batches = tml_tensor_count(out) / units;
    if (scratch == NULL) {
        return 0;
    }
    const int8_t *x = (const int8_t *)in->data;
    const int8_t *w = (const int8_t *)filter->data;
    int8_t *y = (int8_t *)out->data;
    const int32_t *bias = m0_bias(ctx);
    m0_requant_t rq;
    m0_requant_init(&rq, d->mult, d->n_mult, d->output_offset, d->act_min, d->act_max);
    m0_out_t *ob = scratch;
    int32_t *bf = (int32_t *)(ob + m0_min(units, M0_CHUNK));
    for (int32_t u0 = 0; u0 < units; u0 += M0_CHUNK) {
        const int32_t nu = m0_min(units - u0, M0_CHUNK);
        const int8_t *wu = w + (size_t)u0 * depth;
        m0_fold_bias(bf, bias ? bias + u0 : NULL, wu, nu, depth, d->input_offset, 0);
        m0_fill_out(&rq, ob, u0, nu);
        for (int32_t b = 0; b < batches; b++) {
            const int8_t *xb = x + (size_t)b * depth;
            m0_dot_rows(ob, xb, wu, bf, depth, nu);
            if (d->filter_offset != 0) {
                // Weights with a zero point: sum (x + xo)(w + wo) adds
                // wo * (sum x + depth * xo) to every unit (modulo 2^32,
                // like the reference's int32 sum).
                const uint32_t corr = ((uint32_t)m0_sum_s8(xb, depth) + (uint32_t)depth * (uint32_t)d->input_offset)
                    * (uint32_t)d->filter_offset;
                for (int32_t u = 0; u < nu; u++) {
                    ob[u].acc = (int32_t)((uint32_t)ob[u].acc + corr);
                }
            }
            m0_emit(&rq, y + (size_t)b * units + u0, ob, u0, nu);
        }
    }
    return 1;
}

#endif
