// Fixed-point audio frontend (see tml_fe.h).
//
// Stages per hop, all in integers:
//   window   Hann coefficients in Q12, then the frame is scaled up so that its
//            largest magnitude has bit 14 set (more FFT resolution);
//   FFT      16-bit fixed-point real FFT: a half-size complex FFT of radix-4
//            stages (and one radix-2 stage when needed) that divides by the
//            radix at every stage, followed by the real-signal split;
//   energy   re^2 + im^2 per bin;
//   filterbank  triangular mel channels; each bin adds weight*energy to its
//            own channel and (4096-weight)*energy to the next one, in 64 bits,
//            then a rounded integer square root undoes the frame scaling;
//   noise reduction, PCAN gain control and the log follow the reference's
//            Q14 / Q12 / Q16 arithmetic.
#include <string.h>

#include "tml_fe.h"
#include "tml_fe_math.h"

#define TML_FE_WINDOW_BITS 12
#define TML_FE_FILTERBANK_BITS 12
#define TML_FE_NR_BITS 14
#define TML_FE_SNR_BITS 12
#define TML_FE_PCAN_OUT_BITS 6
#define TML_FE_WDF_BITS 32
#define TML_FE_GAIN_LUT_SIZE (4 * TML_FE_WDF_BITS - 3)
#define TML_FE_LOG_BITS 16
#define TML_FE_LOG_SEG_BITS 7
#define TML_FE_LOG_LUT_SIZE ((1 << TML_FE_LOG_SEG_BITS) + 2)
// ln(2) in Q16, the reference's constant for turning log2 into ln.
#define TML_FE_LN2_Q16 45426
#define TML_FE_MAX_FACTORS 16

// The double nearest to 2*pi is this integer times 2^-47.
#define TML_FE_TWO_PI_DOUBLE_MANT UINT64_C(884279719003555)
// 2^66 / (2*pi), rounded.
#define TML_FE_INV_TWO_PI_Q66 UINT64_C(11743562013128004906)
// 1127 * ln(2) in Q52 (the mel scale is 1127 * ln(1 + f / 700)).
#define TML_FE_MEL_COEFF_Q52 UINT64_C(3518107871861179914)

typedef struct {
    int16_t r;
    int16_t i;
} tml_fe_cpx_t;

typedef struct {
    tml_fe_config_t cfg;
    uint32_t magic;
    int32_t window_samples;
    int32_t step_samples;
    int32_t fft_size;
    int32_t ncfft;          // size of the complex FFT (fft_size / 2)
    int32_t spectrum_size;  // fft_size / 2 + 1
    int32_t num_channels;
    int32_t start_index;
    int32_t end_index;
    int32_t input_used;
    uint32_t even_smoothing; // Q14
    uint32_t odd_smoothing;
    uint32_t min_signal_remaining;
    int32_t snr_shift;
    int32_t correction_bits;
    int32_t nfactors;
    int32_t factors[2 * TML_FE_MAX_FACTORS];
    uint32_t total_size;
    // Byte offsets of the arrays that follow the header.
    uint32_t off_window;    // int16[window_samples]
    uint32_t off_input;     // int16[window_samples]
    uint32_t off_frame;     // int16[fft_size], FFT input
    uint32_t off_tmp;       // cpx[ncfft], complex FFT output
    uint32_t off_spec;      // cpx[ncfft + 1], real FFT output
    uint32_t off_tw;        // cpx[ncfft]
    uint32_t off_stw;       // cpx[ncfft / 2]
    uint32_t off_chan;      // int16[num_channels + 2], first bin of each channel, then end
    uint32_t off_weights;   // int16[spectrum_size]
    uint32_t off_unweights; // int16[spectrum_size]
    uint32_t off_estimate;  // uint32[num_channels]
    uint32_t off_signal;    // uint32[num_channels]
    uint32_t off_gain_lut;  // int16[TML_FE_GAIN_LUT_SIZE]
    uint32_t off_log_lut;   // uint16[TML_FE_LOG_LUT_SIZE]
} tml_fe_state_t;

#define TML_FE_MAGIC 0x7466654Du
#define TML_FE_AT(st, off, type) ((type *)((uint8_t *)(st) + (st)->off))

// Bits of a float given as a decimal fraction num / den (used for defaults
// only; all values here are exact enough to round correctly).
static uint32_t tml_fe_bits_of(uint64_t num, uint64_t den) {
    int32_t e = 0;
    while (num < (den << 40)) {
        num <<= 1;
        e--;
    }
    tml_sf_t v = tml_sf_make(0, num / den, e, num % den != 0);
    return tml_sf_to_bits(v);
}

void tml_fe_config_default(tml_fe_config_t *c) {
    memset(c, 0, sizeof(*c));
    c->sample_rate = 16000;
    c->window_size_ms = 25;
    c->window_step_ms = 10;
    c->num_channels = 32;
    c->upper_band_limit = tml_fe_bits_of(7500, 1);
    c->lower_band_limit = tml_fe_bits_of(125, 1);
    c->smoothing_bits = 10;
    c->even_smoothing = tml_fe_bits_of(25, 1000);
    c->odd_smoothing = tml_fe_bits_of(6, 100);
    c->min_signal_remaining = tml_fe_bits_of(5, 100);
    c->enable_pcan = 1;
    c->pcan_strength = tml_fe_bits_of(95, 100);
    c->pcan_offset = tml_fe_bits_of(80, 1);
    c->gain_bits = 21;
    c->enable_log = 1;
    c->scale_shift = 6;
}

// ---------------------------------------------------------------------------
// Init-time arithmetic that mirrors the reference's float steps.

static int tml_fe_bitlen(uint64_t v) {
    int n = 0;
    while (v) {
        v >>= 1;
        n++;
    }
    return n;
}

// floor(x / 2^n) for signed x.
static int64_t tml_fe_floor_shift(int64_t x, int n) {
    if (x >= 0) {
        return x >> n;
    }
    return -(int64_t)((((uint64_t)-x) + ((UINT64_C(1) << n) - 1)) >> n);
}

// n / d (both below 2^61) to 63 significant bits: returns q with
// 2^62 <= q < 2^63 and sets value = q * 2^*e, *sticky when inexact.
static uint64_t tml_fe_div_exact(uint64_t n, uint64_t d, int32_t *e, int *sticky) {
    int32_t s = 0;
    while (n < d) {
        n <<= 1;
        s--;
    }
    while (n >= 2 * d) {
        d <<= 1;
        s++;
    }
    uint64_t q = 0;
    for (int i = 0; i < 63; i++) {
        q <<= 1;
        if (n >= d) {
            n -= d;
            q |= 1;
        }
        n <<= 1;
    }
    *e = s - 62;
    *sticky = n != 0;
    return q;
}

// A double-precision quotient n / d converted to single precision, as C
// does for `(float)((double)n / d)`: two successive roundings.
static tml_sf_t tml_fe_double_quotient_to_float(uint64_t n, uint64_t d, int32_t extra_exp) {
    int32_t e;
    int sticky;
    uint64_t q = tml_fe_div_exact(n, d, &e, &sticky);
    tml_sf_round(&q, &e, sticky, 53);
    return tml_sf_make(0, q, e + extra_exp, 0);
}

// Round a 128-bit unsigned value hi:lo * 2^e to a single.
static tml_sf_t tml_fe_sf_from_u128(uint64_t hi, uint64_t lo, int32_t e) {
    if (hi == 0) {
        return tml_sf_make(0, lo, e, 0);
    }
    int p = tml_fe_bitlen(hi);
    uint64_t mant = p == 64 ? hi : (hi << (64 - p)) | (lo >> p);
    uint64_t rest = p == 64 ? lo : lo << (64 - p);
    return tml_sf_make(0, mant, e + p, rest != 0);
}

// log2(700) in Q56 as tml_fe_mel computes it (the base of its difference).
static int64_t tml_fe_mel_base(void) {
    return tml_log2_q56((uint64_t)700 << 40, -40);
}

// The reference's mel scale, float(1127 * log1p(f / 700)), for f >= 0;
// base_log2 is tml_fe_mel_base().
static tml_sf_t tml_fe_mel(tml_sf_t f, int64_t base_log2) {
    uint64_t base = (uint64_t)700 << 40;
    uint64_t fq;
    int32_t s = f.e + 40;
    if (f.m == 0) {
        fq = 0;
    } else if (s >= 0) {
        fq = (uint64_t)f.m << s;
    } else {
        fq = s < -63 ? 0 : (uint64_t)f.m >> -s;
    }
    int64_t d = tml_log2_q56(base + fq, -40) - base_log2;
    if (d <= 0) {
        tml_sf_t z = {0, 0, 0};
        return z;
    }
    uint64_t hi, lo;
    tml_mul_u64((uint64_t)d, TML_FE_MEL_COEFF_Q52, &hi, &lo);
    return tml_fe_sf_from_u128(hi, lo, -108);
}

uint32_t tml_fe_test_mel_bits(uint32_t freq_bits) {
    tml_sf_t f;
    if (!tml_sf_from_bits(freq_bits, &f) || f.neg) {
        return 0;
    }
    return tml_sf_to_bits(tml_fe_mel(f, tml_fe_mel_base()));
}

// round(scale * v) as `floor(0.5 + scale * v)` for v in Q62.
static int16_t tml_fe_round_q62(int64_t v_q62, int32_t scale) {
    int64_t v47 = tml_fe_floor_shift(v_q62, 15) * scale;
    return (int16_t)tml_fe_floor_shift(v47 + ((int64_t)1 << 46), 47);
}

// One entry of the PCAN gain curve:
//   min(32767, (int16)(2^gain_bits * (x / 2^input_bits + offset)^-strength + 0.5))
// with the reference's single-precision roundings.
static int16_t tml_fe_pcan_gain(tml_sf_t strength, tml_sf_t offset, int32_t gain_bits, int32_t input_bits,
    uint32_t x) {
    tml_sf_t xf = tml_sf_make(0, x, 0, 0);
    if (xf.m) {
        xf.e -= input_bits;
    }
    tml_sf_t a = tml_sf_add(xf, offset);
    tml_sf_t limit = tml_sf_from_int(32767);
    tml_sf_t gain;
    if (a.m == 0 || strength.m == 0) {
        if (strength.m == 0) {
            gain = tml_sf_from_int(1);
            gain.e += gain_bits;
        } else if (!strength.neg) {
            return 32767; // 0^-s is +inf
        } else {
            return 0;
        }
    } else {
        int64_t l = tml_log2_q56(a.m, a.e);
        uint64_t mag = (uint64_t)(l < 0 ? -l : l);
        uint64_t hi, lo;
        tml_mul_u64(mag, strength.m, &hi, &lo);
        // y = -strength * log2(a), Q56; |y| is bounded by config checks.
        int32_t sh = -strength.e;
        uint64_t y;
        if (sh <= 0) {
            y = lo << -sh;
        } else if (sh < 64) {
            y = (hi << (64 - sh)) | (lo >> sh);
        } else {
            y = hi >> (sh - 64);
        }
        int neg = (l < 0) ^ strength.neg;
        int64_t ys = neg ? (int64_t)y : -(int64_t)y;
        int32_t e;
        uint64_t p = tml_exp2_q56(ys, &e);
        gain = tml_sf_make(0, p, e + gain_bits, 0);
    }
    if (tml_sf_cmp(gain, limit) > 0) {
        return 32767;
    }
    tml_sf_t half = {0, 0x800000u, -24};
    return (int16_t)tml_sf_trunc_scaled(tml_sf_add(gain, half), 0);
}

int16_t tml_fe_test_pcan_gain(uint32_t strength_bits, uint32_t offset_bits, int32_t gain_bits, int32_t input_bits,
    uint32_t x) {
    tml_sf_t s, o;
    if (!tml_sf_from_bits(strength_bits, &s) || !tml_sf_from_bits(offset_bits, &o)) {
        return 0;
    }
    return tml_fe_pcan_gain(s, o, gain_bits, input_bits, x);
}

// ---------------------------------------------------------------------------
// Configuration checks and memory layout.

typedef struct {
    int32_t window_samples, step_samples, fft_size, num_channels;
    uint32_t off[14];
    uint32_t total;
} tml_fe_layout_t;

static uint32_t tml_fe_align8(uint32_t v) {
    return (v + 7u) & ~7u;
}

// The channel search and weights of the filterbank. With weights == NULL
// only validates (and reports start/end bins).
static tml_status_t tml_fe_filterbank(const tml_fe_config_t *c, int32_t spectrum_size, int16_t *chan,
    int16_t *weights, int16_t *unweights, int32_t *start_out, int32_t *end_out, const char **msg) {
    tml_sf_t lower, upper;
    tml_sf_from_bits(c->lower_band_limit, &lower);
    tml_sf_from_bits(c->upper_band_limit, &upper);
    const int32_t nch1 = c->num_channels + 1;

    const int64_t base = tml_fe_mel_base();
    tml_sf_t mel_low = tml_fe_mel(lower, base);
    tml_sf_t mel_hi = tml_fe_mel(upper, base);
    tml_sf_t spacing = tml_sf_div(tml_sf_sub(mel_hi, mel_low), tml_sf_from_int(nch1));
    // Hz per FFT bin: (sample_rate / 2) / (spectrum_size - 1), in double,
    // then stored as a float.
    tml_sf_t hz_per_bin = tml_fe_double_quotient_to_float((uint64_t)c->sample_rate,
        2 * (uint64_t)(spectrum_size - 1), 0);
    // First bin: (int)(1.5 + lower / hz_per_bin); DC is always excluded.
    int64_t twice = tml_sf_trunc_scaled(tml_sf_div(lower, hz_per_bin), 1);
    int32_t start = (int32_t)((twice + 3) >> 1);
    if (start >= spectrum_size) {
        *msg = "lower_band_limit is at or above the Nyquist frequency";
        return TML_ERR_CONFIG;
    }

    int32_t freq = start;
    tml_sf_t prev_center = mel_low;
    for (int32_t ch = 0; ch < nch1; ch++) {
        tml_sf_t center = tml_sf_add(mel_low, tml_sf_mul(spacing, tml_sf_from_int(ch + 1)));
        int32_t first = freq;
        tml_sf_t denom = tml_sf_sub(center, prev_center);
        for (;;) {
            if (freq >= spectrum_size) {
                *msg = "upper_band_limit is too close to the Nyquist frequency for this FFT size";
                return TML_ERR_CONFIG;
            }
            tml_sf_t mel = tml_fe_mel(tml_sf_mul(tml_sf_from_int(freq), hz_per_bin), base);
            if (tml_sf_cmp(mel, center) > 0) {
                break;
            }
            if (weights) {
                tml_sf_t w = tml_sf_div(tml_sf_sub(center, mel), denom);
                int64_t wq = tml_sf_round_scaled(w, TML_FE_FILTERBANK_BITS);
                // floor((1 - w) * 4096 + 0.5), exact as the reference computes it in
                // double: with w = m * 2^-k (k >= 24 as w < 1),
                // ((2^k - m) + 2^(k - 13)) / 2^(k - 12).
                int64_t uq = 1 << TML_FE_FILTERBANK_BITS;
                int32_t k = -w.e;
                if (w.m != 0 && k >= 13 && k <= 62) {
                    int64_t num = ((int64_t)1 << k) - (int64_t)w.m + ((int64_t)1 << (k - 13));
                    uq = tml_fe_floor_shift(num, k - 12);
                }
                weights[freq] = (int16_t)wq;
                unweights[freq] = (int16_t)uq;
            }
            freq++;
        }
        if (chan) {
            chan[ch] = (int16_t)first;
        }
        prev_center = center;
    }
    if (chan) {
        chan[nch1] = (int16_t)freq;
    }
    *start_out = start;
    *end_out = freq;
    return TML_OK;
}

// Checks a configuration and computes the state layout. The filterbank scan
// (the costly part of validation) runs only when `full` is set; init runs it
// anyway while it builds the weights.
static tml_status_t tml_fe_layout(const tml_fe_config_t *c, tml_fe_layout_t *lay, const char **msg, int full) {
    const char *dummy;
    if (msg == NULL) {
        msg = &dummy;
    }
    *msg = "";
    if (c->sample_rate < 1000 || c->sample_rate > TML_FE_MAX_SAMPLE_RATE) {
        *msg = "sample_rate must be in [1000, 192000] Hz";
        return TML_ERR_CONFIG;
    }
    if (c->window_size_ms < 1 || c->window_size_ms > 10000 || c->window_step_ms < 1 || c->window_step_ms > 10000) {
        *msg = "window_size and window_step must be positive (ms)";
        return TML_ERR_CONFIG;
    }
    int64_t ws = (int64_t)c->window_size_ms * c->sample_rate / 1000;
    int64_t st = (int64_t)c->window_step_ms * c->sample_rate / 1000;
    if (ws < 4) {
        *msg = "window_size is shorter than 4 samples";
        return TML_ERR_CONFIG;
    }
    if (st < 1 || st > ws) {
        *msg = "window_step must be between one sample and window_size";
        return TML_ERR_CONFIG;
    }
    int64_t fft = 1;
    while (fft < ws) {
        fft <<= 1;
    }
    if (fft > TML_FE_MAX_FFT_SIZE) {
        *msg = "window too long: the FFT size would exceed 4096 (shorten window_size or lower sample_rate)";
        return TML_ERR_LIMIT;
    }
    if (c->num_channels < 1 || c->num_channels > TML_FE_MAX_CHANNELS) {
        *msg = "num_channels must be in [1, 256]";
        return TML_ERR_CONFIG;
    }
    tml_sf_t lower, upper, es, os, msr, ps, po;
    if (!tml_sf_from_bits(c->lower_band_limit, &lower) || !tml_sf_from_bits(c->upper_band_limit, &upper) || lower.neg
        || tml_sf_cmp(lower, upper) >= 0 || tml_sf_cmp(upper, tml_sf_from_int(c->sample_rate)) > 0) {
        *msg = "band limits must satisfy 0 <= lower_band_limit < upper_band_limit < sample_rate / 2";
        return TML_ERR_CONFIG;
    }
    tml_sf_t one = tml_sf_from_int(1);
    if (!tml_sf_from_bits(c->even_smoothing, &es) || !tml_sf_from_bits(c->odd_smoothing, &os)
        || !tml_sf_from_bits(c->min_signal_remaining, &msr) || es.neg || os.neg || msr.neg
        || tml_sf_cmp(es, one) > 0 || tml_sf_cmp(os, one) > 0 || tml_sf_cmp(msr, one) > 0) {
        *msg = "even_smoothing, odd_smoothing and min_signal_remaining must be in [0, 1]";
        return TML_ERR_CONFIG;
    }
    if (c->smoothing_bits < 0 || c->smoothing_bits > 31) {
        *msg = "smoothing_bits must be in [0, 31]";
        return TML_ERR_CONFIG;
    }
    if (c->scale_shift < 0 || c->scale_shift > 31) {
        *msg = "scale_shift must be in [0, 31]";
        return TML_ERR_CONFIG;
    }
    int32_t correction = tml_fe_bitlen((uint64_t)fft) - 1 - TML_FE_FILTERBANK_BITS / 2;
    if (c->enable_pcan) {
        if (!tml_sf_from_bits(c->pcan_strength, &ps) || !tml_sf_from_bits(c->pcan_offset, &po) || po.neg
            || tml_sf_cmp(ps, tml_sf_from_int(16)) > 0 || tml_sf_cmp(ps, tml_sf_from_int(-16)) < 0
            || tml_sf_cmp(po, tml_sf_from_int(1 << 20)) > 0) {
            *msg = "pcan_strength must be in [-16, 16] and pcan_offset in [0, 2^20]";
            return TML_ERR_CONFIG;
        }
        int32_t snr_shift = c->gain_bits - correction - TML_FE_SNR_BITS;
        int32_t input_bits = c->smoothing_bits - correction;
        if (c->gain_bits < 0 || c->gain_bits > 31 || snr_shift < 0 || snr_shift > 63) {
            *msg = "gain_bits out of range for this FFT size (PCAN needs gain_bits <= 31 and gain_bits >= log2(fft_size) + 5)";
            return TML_ERR_CONFIG;
        }
        if (input_bits < 0 || input_bits > 31) {
            *msg = "smoothing_bits out of range for PCAN with this FFT size (needs smoothing_bits >= log2(fft_size) - 7)";
            return TML_ERR_CONFIG;
        }
    }
    if (full) {
        int32_t start, end;
        tml_status_t s = tml_fe_filterbank(c, (int32_t)fft / 2 + 1, NULL, NULL, NULL, &start, &end, msg);
        if (s != TML_OK) {
            return s;
        }
    }

    lay->window_samples = (int32_t)ws;
    lay->step_samples = (int32_t)st;
    lay->fft_size = (int32_t)fft;
    lay->num_channels = c->num_channels;
    uint32_t n = (uint32_t)ws, f = (uint32_t)fft, ncfft = f / 2, spec = f / 2 + 1, ch = (uint32_t)c->num_channels;
    const uint32_t sizes[14] = {
        n * 2, n * 2, f * 2, ncfft * 4, (ncfft + 1) * 4, ncfft * 4, (ncfft / 2) * 4,
        (ch + 2) * 2, spec * 2, spec * 2, ch * 4, ch * 4, TML_FE_GAIN_LUT_SIZE * 2, TML_FE_LOG_LUT_SIZE * 2,
    };
    uint32_t off = tml_fe_align8((uint32_t)sizeof(tml_fe_state_t));
    for (int i = 0; i < 14; i++) {
        lay->off[i] = off;
        off = tml_fe_align8(off + sizes[i]);
    }
    lay->total = off;
    return TML_OK;
}

tml_status_t tml_fe_check(const tml_fe_config_t *config, const char **msg) {
    tml_fe_layout_t lay;
    return tml_fe_layout(config, &lay, msg, 1);
}

size_t tml_fe_state_size(const tml_fe_config_t *config) {
    tml_fe_layout_t lay;
    if (tml_fe_layout(config, &lay, NULL, 0) != TML_OK) {
        return 0;
    }
    return lay.total;
}

// ---------------------------------------------------------------------------
// Init.

static void tml_fe_make_window(tml_fe_state_t *st) {
    int16_t *coef = TML_FE_AT(st, off_window, int16_t);
    const int32_t n = st->window_samples;
    // arg = (float)(2 * pi / n) with pi and the quotient in double.
    tml_sf_t arg = tml_fe_double_quotient_to_float(TML_FE_TWO_PI_DOUBLE_MANT, (uint64_t)n, -47);
    for (int32_t i = 0; i < n; i++) {
        // angle = arg * (i + 0.5), exact in double; as a fraction of a turn
        // in Q64: arg.m * (2i + 1) * 2^(arg.e - 1) / (2 pi).
        uint64_t k = (uint64_t)arg.m * (uint64_t)(2 * i + 1);
        uint64_t hi, lo;
        tml_mul_u64(k, TML_FE_INV_TWO_PI_Q66, &hi, &lo);
        int32_t sh = 3 - arg.e; // 66 - 64 + 1 - arg.e
        uint64_t t = (hi << (64 - sh)) | (lo >> sh);
        int64_t c;
        tml_cos_sin_turns(t, &c, NULL);
        // 0.5 - 0.5 * cos, stored as a float, then rounded to Q12.
        uint64_t w_q63 = (UINT64_C(1) << 62) - (uint64_t)c;
        tml_sf_t w = tml_sf_make(0, w_q63, -63, 0);
        coef[i] = (int16_t)tml_sf_round_scaled(w, TML_FE_WINDOW_BITS);
    }
}

static void tml_fe_make_fft(tml_fe_state_t *st) {
    const int32_t ncfft = st->ncfft;
    const int lg = tml_fe_bitlen((uint64_t)ncfft) - 1;
    tml_fe_cpx_t *tw = TML_FE_AT(st, off_tw, tml_fe_cpx_t);
    tml_fe_cpx_t *stw = TML_FE_AT(st, off_stw, tml_fe_cpx_t);
    int64_t c, s;
    // Twiddles e^(-2 pi i k / ncfft), rounded to Q15 with floor(x + 0.5).
    for (int32_t k = 0; k < ncfft; k++) {
        uint64_t t = (uint64_t)0 - ((uint64_t)k << (64 - lg));
        if (lg == 0) {
            t = 0;
        }
        tml_cos_sin_turns(t, &c, &s);
        tw[k].r = tml_fe_round_q62(c, 32767);
        tw[k].i = tml_fe_round_q62(s, 32767);
    }
    // Split twiddles e^(-i pi ((k + 1) / ncfft + 1/2)).
    for (int32_t k = 0; k < ncfft / 2; k++) {
        uint64_t t = (uint64_t)0 - (((uint64_t)(k + 1) << (63 - lg)) + (UINT64_C(1) << 62));
        tml_cos_sin_turns(t, &c, &s);
        stw[k].r = tml_fe_round_q62(c, 32767);
        stw[k].i = tml_fe_round_q62(s, 32767);
    }
    // Radix plan: fours first, then a two if one is left over.
    int32_t n = ncfft, nf = 0;
    while (n > 1) {
        int32_t p = (n % 4 == 0) ? 4 : 2;
        n /= p;
        st->factors[2 * nf] = p;
        st->factors[2 * nf + 1] = n;
        nf++;
    }
    st->nfactors = nf;
}

static void tml_fe_make_pcan(tml_fe_state_t *st) {
    const tml_fe_config_t *c = &st->cfg;
    int16_t *lut = TML_FE_AT(st, off_gain_lut, int16_t);
    tml_sf_t strength, offset;
    tml_sf_from_bits(c->pcan_strength, &strength);
    tml_sf_from_bits(c->pcan_offset, &offset);
    const int32_t input_bits = c->smoothing_bits - st->correction_bits;
    memset(lut, 0, TML_FE_GAIN_LUT_SIZE * sizeof(int16_t));
    lut[0] = tml_fe_pcan_gain(strength, offset, c->gain_bits, input_bits, 0);
    lut[1] = tml_fe_pcan_gain(strength, offset, c->gain_bits, input_bits, 1);
    // For each octave [2^(b-1), 2^b) a quadratic through three points: the
    // value at the start and the first and second differences.
    for (int32_t b = 2; b <= TML_FE_WDF_BITS; b++) {
        uint32_t x0 = (uint32_t)1 << (b - 1);
        uint32_t x1 = x0 + (x0 >> 1);
        uint32_t x2 = (b == TML_FE_WDF_BITS) ? x0 + (x0 - 1) : 2 * x0;
        int32_t y0 = tml_fe_pcan_gain(strength, offset, c->gain_bits, input_bits, x0);
        int32_t y1 = tml_fe_pcan_gain(strength, offset, c->gain_bits, input_bits, x1);
        int32_t y2 = tml_fe_pcan_gain(strength, offset, c->gain_bits, input_bits, x2);
        int32_t a1 = 4 * (y1 - y0) - (y2 - y0);
        int32_t a2 = (y2 - y0) - a1;
        int16_t *seg = lut + 4 * b - 6;
        seg[0] = (int16_t)y0;
        seg[1] = (int16_t)a1;
        seg[2] = (int16_t)a2;
    }
}

static void tml_fe_make_log_lut(tml_fe_state_t *st) {
    uint16_t *lut = TML_FE_AT(st, off_log_lut, uint16_t);
    const int32_t segs = 1 << TML_FE_LOG_SEG_BITS;
    // Correction of the linear log2 approximation on [1, 2):
    // round((log2(1 + i / 128) - i / 128) * 2^16).
    for (int32_t i = 0; i <= segs; i++) {
        int64_t l = tml_log2_q56((uint64_t)(segs + i), -TML_FE_LOG_SEG_BITS);
        int64_t d = l - ((int64_t)i << (56 - TML_FE_LOG_SEG_BITS));
        lut[i] = (uint16_t)((d + ((int64_t)1 << 39)) >> 40);
    }
    lut[segs + 1] = 0;
}

tml_status_t tml_fe_init(void *mem, size_t mem_size, const tml_fe_config_t *config, const char **msg) {
    const char *dummy;
    if (msg == NULL) {
        msg = &dummy;
    }
    tml_fe_layout_t lay;
    tml_status_t s = tml_fe_layout(config, &lay, msg, 0);
    if (s != TML_OK) {
        return s;
    }
    if (mem == NULL || ((uintptr_t)mem & 7u) != 0) {
        *msg = "state buffer must be 8-byte aligned";
        return TML_ERR_ALIGN;
    }
    if (mem_size < lay.total) {
        *msg = "state buffer is smaller than tml_fe_state_size()";
        return TML_ERR_LENGTH;
    }
    memset(mem, 0, lay.total);
    tml_fe_state_t *st = (tml_fe_state_t *)mem;
    st->cfg = *config;
    st->window_samples = lay.window_samples;
    st->step_samples = lay.step_samples;
    st->fft_size = lay.fft_size;
    st->ncfft = lay.fft_size / 2;
    st->spectrum_size = lay.fft_size / 2 + 1;
    st->num_channels = lay.num_channels;
    st->total_size = lay.total;
    uint32_t *offs[14] = {
        &st->off_window, &st->off_input, &st->off_frame, &st->off_tmp, &st->off_spec, &st->off_tw, &st->off_stw,
        &st->off_chan, &st->off_weights, &st->off_unweights, &st->off_estimate, &st->off_signal,
        &st->off_gain_lut, &st->off_log_lut,
    };
    for (int i = 0; i < 14; i++) {
        *offs[i] = lay.off[i];
    }
    st->correction_bits = tml_fe_bitlen((uint64_t)st->fft_size) - 1 - TML_FE_FILTERBANK_BITS / 2;
    st->snr_shift = config->gain_bits - st->correction_bits - TML_FE_SNR_BITS;

    tml_fe_make_window(st);
    tml_fe_make_fft(st);
    s = tml_fe_filterbank(config, st->spectrum_size, TML_FE_AT(st, off_chan, int16_t),
        TML_FE_AT(st, off_weights, int16_t), TML_FE_AT(st, off_unweights, int16_t), &st->start_index,
        &st->end_index, msg);
    if (s != TML_OK) {
        return s;
    }
    tml_sf_t v;
    tml_sf_from_bits(config->even_smoothing, &v);
    st->even_smoothing = (uint32_t)tml_sf_trunc_scaled(v, TML_FE_NR_BITS);
    tml_sf_from_bits(config->odd_smoothing, &v);
    st->odd_smoothing = (uint32_t)tml_sf_trunc_scaled(v, TML_FE_NR_BITS);
    tml_sf_from_bits(config->min_signal_remaining, &v);
    st->min_signal_remaining = (uint32_t)tml_sf_trunc_scaled(v, TML_FE_NR_BITS);
    if (config->enable_pcan) {
        tml_fe_make_pcan(st);
    }
    tml_fe_make_log_lut(st);
    st->magic = TML_FE_MAGIC;
    tml_fe_reset(st);
    return TML_OK;
}

void tml_fe_reset(void *state) {
    tml_fe_state_t *st = (tml_fe_state_t *)state;
    memset(TML_FE_AT(st, off_input, int16_t), 0, (size_t)st->window_samples * sizeof(int16_t));
    memset(TML_FE_AT(st, off_estimate, uint32_t), 0, (size_t)st->num_channels * sizeof(uint32_t));
    st->input_used = 0;
}

void tml_fe_get_info(const void *state, tml_fe_info_t *info) {
    const tml_fe_state_t *st = (const tml_fe_state_t *)state;
    info->window_samples = st->window_samples;
    info->step_samples = st->step_samples;
    info->fft_size = st->fft_size;
    info->num_channels = st->num_channels;
    info->start_index = st->start_index;
    info->end_index = st->end_index;
    info->state_size = st->total_size;
}

size_t tml_fe_window_table(const void *state, int16_t *out, size_t cap) {
    tml_fe_state_t *st = (tml_fe_state_t *)(uintptr_t)state;
    size_t n = (size_t)st->window_samples < cap ? (size_t)st->window_samples : cap;
    memcpy(out, TML_FE_AT(st, off_window, int16_t), n * sizeof(int16_t));
    return n;
}

size_t tml_fe_weight_table(const void *state, int16_t *weights, int16_t *unweights, size_t cap) {
    tml_fe_state_t *st = (tml_fe_state_t *)(uintptr_t)state;
    size_t n = (size_t)st->spectrum_size < cap ? (size_t)st->spectrum_size : cap;
    memcpy(weights, TML_FE_AT(st, off_weights, int16_t), n * sizeof(int16_t));
    memcpy(unweights, TML_FE_AT(st, off_unweights, int16_t), n * sizeof(int16_t));
    return n;
}

// ---------------------------------------------------------------------------
// Run time: integers only.

// Number of significant bits (0 for 0): 32 - count of leading zeros.
static int tml_fe_msb32(uint32_t v) {
    int n = 0;
    if (v >> 16) {
        n += 16;
        v >>= 16;
    }
    if (v >> 8) {
        n += 8;
        v >>= 8;
    }
    if (v >> 4) {
        n += 4;
        v >>= 4;
    }
    static const uint8_t len4[16] = {0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4};
    return n + len4[v];
}

// Q15 rounding shift of a 32-bit product sum, kept as 16 bits.
static inline int16_t tml_fe_q15(int32_t x) {
    return (int16_t)((x + (1 << 14)) >> 15);
}

static inline void tml_fe_cmul(tml_fe_cpx_t *out, tml_fe_cpx_t a, tml_fe_cpx_t b) {
    out->r = tml_fe_q15((int32_t)a.r * b.r - (int32_t)a.i * b.i);
    out->i = tml_fe_q15((int32_t)a.r * b.i + (int32_t)a.i * b.r);
}

// Divide by the radix the way a Q15 multiply by (32767 / radix) does.
static inline void tml_fe_scale(tml_fe_cpx_t *c, int32_t factor) {
    c->r = tml_fe_q15((int32_t)c->r * factor);
    c->i = tml_fe_q15((int32_t)c->i * factor);
}

static void tml_fe_radix2(tml_fe_cpx_t *f, int32_t stride, const tml_fe_cpx_t *tw, int32_t m) {
    for (int32_t u = 0; u < m; u++) {
        tml_fe_cpx_t *a = f + u, *b = f + u + m, t;
        tml_fe_scale(a, 32767 / 2);
        tml_fe_scale(b, 32767 / 2);
        tml_fe_cmul(&t, *b, tw[u * stride]);
        b->r = (int16_t)(a->r - t.r);
        b->i = (int16_t)(a->i - t.i);
        a->r = (int16_t)(a->r + t.r);
        a->i = (int16_t)(a->i + t.i);
    }
}

static void tml_fe_radix4(tml_fe_cpx_t *f, int32_t stride, const tml_fe_cpx_t *tw, int32_t m) {
    for (int32_t u = 0; u < m; u++) {
        tml_fe_cpx_t *x0 = f + u, *x1 = x0 + m, *x2 = x0 + 2 * m, *x3 = x0 + 3 * m;
        tml_fe_cpx_t p1, p2, p3, d02, s13, d13;
        tml_fe_scale(x0, 32767 / 4);
        tml_fe_scale(x1, 32767 / 4);
        tml_fe_scale(x2, 32767 / 4);
        tml_fe_scale(x3, 32767 / 4);
        tml_fe_cmul(&p1, *x1, tw[u * stride]);
        tml_fe_cmul(&p2, *x2, tw[2 * u * stride]);
        tml_fe_cmul(&p3, *x3, tw[3 * u * stride]);
        d02.r = (int16_t)(x0->r - p2.r);
        d02.i = (int16_t)(x0->i - p2.i);
        x0->r = (int16_t)(x0->r + p2.r);
        x0->i = (int16_t)(x0->i + p2.i);
        s13.r = (int16_t)(p1.r + p3.r);
        s13.i = (int16_t)(p1.i + p3.i);
        d13.r = (int16_t)(p1.r - p3.r);
        d13.i = (int16_t)(p1.i - p3.i);
        x2->r = (int16_t)(x0->r - s13.r);
        x2->i = (int16_t)(x0->i - s13.i);
        x0->r = (int16_t)(x0->r + s13.r);
        x0->i = (int16_t)(x0->i + s13.i);
        x1->r = (int16_t)(d02.r + d13.i);
        x1->i = (int16_t)(d02.i - d13.r);
        x3->r = (int16_t)(d02.r - d13.i);
        x3->i = (int16_t)(d02.i + d13.r);
    }
}

// Decimation-in-time recursion: out[0..p*m) from every stride-th input.
static void tml_fe_cfft(const tml_fe_state_t *st, tml_fe_cpx_t *out, const tml_fe_cpx_t *in, int32_t stride,
    int32_t level) {
    const int32_t p = st->factors[2 * level], m = st->factors[2 * level + 1];
    const tml_fe_cpx_t *tw = TML_FE_AT(st, off_tw, const tml_fe_cpx_t);
    if (m == 1) {
        for (int32_t q = 0; q < p; q++) {
            out[q] = in[q * stride];
        }
    } else {
        for (int32_t q = 0; q < p; q++) {
            tml_fe_cfft(st, out + q * m, in + q * stride, stride * p, level + 1);
        }
    }
    if (p == 4) {
        tml_fe_radix4(out, stride, tw, m);
    } else {
        tml_fe_radix2(out, stride, tw, m);
    }
}

static void tml_fe_rfft(tml_fe_state_t *st) {
    const int32_t n = st->ncfft;
    const tml_fe_cpx_t *in = TML_FE_AT(st, off_frame, const tml_fe_cpx_t);
    tml_fe_cpx_t *z = TML_FE_AT(st, off_tmp, tml_fe_cpx_t);
    tml_fe_cpx_t *out = TML_FE_AT(st, off_spec, tml_fe_cpx_t);
    const tml_fe_cpx_t *stw = TML_FE_AT(st, off_stw, const tml_fe_cpx_t);
    // Even samples in the real parts, odd ones in the imaginary parts.
    tml_fe_cfft(st, z, in, 1, 0);
    tml_fe_cpx_t dc = z[0];
    tml_fe_scale(&dc, 32767 / 2);
    out[0].r = (int16_t)(dc.r + dc.i);
    out[0].i = 0;
    out[n].r = (int16_t)(dc.r - dc.i);
    out[n].i = 0;
    for (int32_t k = 1; k <= n / 2; k++) {
        tml_fe_cpx_t a = z[k], b, sum, diff, t;
        b.r = z[n - k].r;
        b.i = (int16_t)-z[n - k].i;
        tml_fe_scale(&a, 32767 / 2);
        tml_fe_scale(&b, 32767 / 2);
        sum.r = (int16_t)(a.r + b.r);
        sum.i = (int16_t)(a.i + b.i);
        diff.r = (int16_t)(a.r - b.r);
        diff.i = (int16_t)(a.i - b.i);
        tml_fe_cmul(&t, diff, stw[k - 1]);
        out[k].r = (int16_t)((sum.r + t.r) >> 1);
        out[k].i = (int16_t)((sum.i + t.i) >> 1);
        out[n - k].r = (int16_t)((sum.r - t.r) >> 1);
        out[n - k].i = (int16_t)((t.i - sum.i) >> 1);
    }
}

// Rounded integer square roots: floor(sqrt(v)), plus one when the remainder
// exceeds the root (capped at the type's maximum), by the digit-by-digit
// method. Values below 2^32 take a 32-bit path (cheaper on Cortex-M0).
static uint32_t tml_fe_sqrt_rounded(uint64_t v) {
    if (v == 0) {
        return 0;
    }
    if ((v >> 32) == 0) {
        uint32_t x = (uint32_t)v, res = 0, bit = 1u << ((tml_fe_msb32(x) - 1) & ~1);
        while (bit) {
            if (x >= res + bit) {
                x -= res + bit;
                res = (res >> 1) + bit;
            } else {
                res >>= 1;
            }
            bit >>= 2;
        }
        // The result of this branch is kept to 16 bits, as the reference.
        return (x > res && res != 0xFFFFu) ? res + 1 : res;
    }
    uint64_t res = 0, bit = UINT64_C(1) << 62;
    while (bit > v) {
        bit >>= 2;
    }
    while (bit) {
        if (v >= res + bit) {
            v -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    return (v > res && res != 0xFFFFFFFFu) ? (uint32_t)res + 1 : (uint32_t)res;
}

static int16_t tml_fe_gain(const int16_t *lut, uint32_t x) {
    if (x <= 2) {
        return lut[x];
    }
    const int32_t b = tml_fe_msb32(x);
    const int16_t *seg = lut + 4 * b - 6;
    int32_t frac = (int32_t)(((b < 11) ? (x << (11 - b)) : (x >> (b - 11))) & 0x3FF);
    int32_t r = ((int32_t)seg[2] * frac) >> 5;
    r += (int32_t)((uint32_t)seg[1] << 5);
    r *= frac;
    r = (r + (1 << 14)) >> 15;
    r += seg[0];
    return (int16_t)r;
}

static uint32_t tml_fe_shrink(uint32_t x) {
    if (x < (2u << TML_FE_SNR_BITS)) {
        return (x * x) >> (2 + 2 * TML_FE_SNR_BITS - TML_FE_PCAN_OUT_BITS);
    }
    return (x >> (TML_FE_SNR_BITS - TML_FE_PCAN_OUT_BITS)) - (1u << TML_FE_PCAN_OUT_BITS);
}

static uint32_t tml_fe_log(const uint16_t *lut, uint32_t x, int32_t scale_shift) {
    const uint32_t ipart = (uint32_t)tml_fe_msb32(x) - 1;
    int32_t frac = (int32_t)(x - (uint32_t)(UINT64_C(1) << ipart));
    if (ipart < TML_FE_LOG_BITS) {
        frac <<= TML_FE_LOG_BITS - ipart;
    } else {
        frac >>= ipart - TML_FE_LOG_BITS;
    }
    const uint32_t seg = (uint32_t)frac >> (TML_FE_LOG_BITS - TML_FE_LOG_SEG_BITS);
    const int32_t c0 = lut[seg], c1 = lut[seg + 1];
    const int32_t seg_base = (int32_t)(seg << (TML_FE_LOG_BITS - TML_FE_LOG_SEG_BITS));
    const int32_t rel = ((c1 - c0) * (frac - seg_base)) >> TML_FE_LOG_BITS;
    const uint32_t log2v = (ipart << TML_FE_LOG_BITS) + (uint32_t)(frac + c0 + rel);
    const uint32_t half = 1u << (TML_FE_LOG_BITS - 1);
    const uint32_t ln = (uint32_t)(((uint64_t)TML_FE_LN2_Q16 * log2v + half) >> TML_FE_LOG_BITS);
    return ((ln << scale_shift) + half) >> TML_FE_LOG_BITS;
}

// Filterbank, noise reduction, PCAN and log of the spectrum in st.
static void tml_fe_features(tml_fe_state_t *st, int input_shift, uint16_t *out) {
    const tml_fe_cpx_t *spec = TML_FE_AT(st, off_spec, const tml_fe_cpx_t);
    const int16_t *chan = TML_FE_AT(st, off_chan, const int16_t);
    const int16_t *w = TML_FE_AT(st, off_weights, const int16_t);
    const int16_t *uw = TML_FE_AT(st, off_unweights, const int16_t);
    uint32_t *sig = TML_FE_AT(st, off_signal, uint32_t);
    uint32_t *est = TML_FE_AT(st, off_estimate, uint32_t);
    const tml_fe_config_t *c = &st->cfg;
    const int32_t nch = st->num_channels;

    uint64_t carry = 0;
    for (int32_t ch = 0; ch <= nch; ch++) {
        uint64_t wsum = 0, usum = 0;
        for (int32_t f = chan[ch]; f < chan[ch + 1]; f++) {
            // |X|^2 in 32 bits; reinterpreted as signed and widened, as the
            // reference does (only matters for the impossible full-scale bin).
            uint32_t mag = (uint32_t)((int32_t)spec[f].r * spec[f].r) + (uint32_t)((int32_t)spec[f].i * spec[f].i);
            uint64_t e = (uint64_t)(int64_t)(int32_t)mag;
            wsum += (uint64_t)(int64_t)w[f] * e;
            usum += (uint64_t)(int64_t)uw[f] * e;
        }
        if (ch > 0) {
            sig[ch - 1] = tml_fe_sqrt_rounded(wsum + carry) >> input_shift;
        }
        carry = usum;
    }

    // Noise reduction: a per-channel running estimate is subtracted, keeping
    // at least a fraction of the signal.
    const int32_t sb = c->smoothing_bits;
    for (int32_t i = 0; i < nch; i++) {
        const uint32_t sm = (i & 1) ? st->odd_smoothing : st->even_smoothing;
        const uint32_t one_minus = (1u << TML_FE_NR_BITS) - sm;
        const uint32_t up = sig[i] << sb;
        uint32_t e = (uint32_t)(((uint64_t)up * sm + (uint64_t)est[i] * one_minus) >> TML_FE_NR_BITS);
        est[i] = e;
        if (e > up) {
            e = up;
        }
        const uint32_t floor_v = (uint32_t)(((uint64_t)sig[i] * st->min_signal_remaining) >> TML_FE_NR_BITS);
        const uint32_t sub = (up - e) >> sb;
        sig[i] = sub > floor_v ? sub : floor_v;
    }

    if (c->enable_pcan) {
        const int16_t *lut = TML_FE_AT(st, off_gain_lut, const int16_t);
        for (int32_t i = 0; i < nch; i++) {
            const uint32_t gain = (uint32_t)(int32_t)tml_fe_gain(lut, est[i]);
            const uint32_t snr = (uint32_t)(((uint64_t)sig[i] * gain) >> st->snr_shift);
            sig[i] = tml_fe_shrink(snr);
        }
    }

    const uint16_t *llut = TML_FE_AT(st, off_log_lut, const uint16_t);
    const int32_t cb = st->correction_bits;
    for (int32_t i = 0; i < nch; i++) {
        uint32_t v = sig[i];
        if (c->enable_log) {
            v = cb < 0 ? v >> -cb : v << cb;
            v = v > 1 ? tml_fe_log(llut, v, c->scale_shift) : 0;
        }
        out[i] = (uint16_t)(v < 0xFFFFu ? v : 0xFFFFu);
    }
}

int tml_fe_process(void *state, const int16_t *samples, size_t n, size_t *consumed, uint16_t *out) {
    tml_fe_state_t *st = (tml_fe_state_t *)state;
    int16_t *input = TML_FE_AT(st, off_input, int16_t);
    const int32_t size = st->window_samples;
    size_t take = (size_t)(size - st->input_used);
    if (take > n) {
        take = n;
    }
    memcpy(input + st->input_used, samples, take * sizeof(int16_t));
    st->input_used += (int32_t)take;
    *consumed = take;
    if (st->input_used < size) {
        return 0;
    }

    // Window, tracking the largest magnitude (a windowed -32768 keeps its
    // 16-bit negation, which is still negative, so it never counts).
    const int16_t *coef = TML_FE_AT(st, off_window, const int16_t);
    int16_t *frame = TML_FE_AT(st, off_frame, int16_t);
    int16_t max_abs = 0;
    for (int32_t i = 0; i < size; i++) {
        int16_t v = (int16_t)(((int32_t)input[i] * coef[i]) >> TML_FE_WINDOW_BITS);
        frame[i] = v;
        int16_t a = v < 0 ? (int16_t)-v : v;
        if (a > max_abs) {
            max_abs = a;
        }
    }
    memmove(input, input + st->step_samples, (size_t)(size - st->step_samples) * sizeof(int16_t));
    st->input_used -= st->step_samples;

    const int shift = 15 - tml_fe_msb32((uint32_t)max_abs);
    for (int32_t i = 0; i < size; i++) {
        frame[i] = (int16_t)(uint16_t)((uint32_t)(uint16_t)frame[i] << shift);
    }
    for (int32_t i = size; i < st->fft_size; i++) {
        frame[i] = 0;
    }
    tml_fe_rfft(st);
    tml_fe_features(st, shift, out);
    return 1;
}

// ---------------------------------------------------------------------------
// int8 mapping.

tml_status_t tml_fe_int8_map_init(tml_fe_int8_map_t *map, uint32_t float_scale_bits, uint32_t input_scale_bits,
    int32_t zero_point, const char **msg) {
    const char *dummy;
    if (msg == NULL) {
        msg = &dummy;
    }
    tml_sf_t fs, is;
    if (!tml_sf_from_bits(float_scale_bits, &fs) || !tml_sf_from_bits(input_scale_bits, &is) || fs.neg || is.neg
        || fs.m == 0 || is.m == 0) {
        *msg = "float_scale and input scale must be positive and finite";
        return TML_ERR_QUANT;
    }
    if (zero_point < -128 || zero_point > 127) {
        *msg = "zero_point must be in [-128, 127]";
        return TML_ERR_QUANT;
    }
    // ratio = fs.m / is.m * 2^(fs.e - is.e); multiplier = ratio * 2^shift.
    int32_t s = fs.m >= is.m ? 30 : 31;
    uint64_t num = (uint64_t)fs.m << s;
    uint64_t mult = (num + is.m / 2) / is.m;
    if (mult >> 31) {
        mult >>= 1;
        s -= 1;
    }
    int32_t shift = s - (fs.e - is.e);
    if (shift < 1 || shift > 62) {
        *msg = "float_scale / input scale is out of range";
        return TML_ERR_QUANT;
    }
    map->multiplier = (int32_t)mult;
    map->shift = shift;
    map->zero_point = zero_point;
    return TML_OK;
}

int8_t tml_fe_int8_map_apply(const tml_fe_int8_map_t *map, uint16_t feature) {
    // Features are non-negative: rounding half up is round-half-away.
    uint64_t p = (uint64_t)feature * (uint64_t)map->multiplier;
    int64_t q;
    if (map->shift >= 48) {
        q = 0;
    } else {
        q = (int64_t)((p + (UINT64_C(1) << (map->shift - 1))) >> map->shift);
    }
    q += map->zero_point;
    if (q > 127) {
        q = 127;
    }
    if (q < -128) {
        q = -128;
    }
    return (int8_t)q;
}
