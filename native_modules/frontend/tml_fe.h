// Fixed-point audio frontend: int16 audio in, one uint16 feature vector per
// hop out. The arithmetic reproduces TensorFlow Lite Micro's microfrontend
// (the `audio_microfrontend` op) exactly: Hann window, 16-bit fixed-point
// real FFT, power spectrum, mel filterbank, noise reduction, optional PCAN
// gain control and a fixed-point log.
//
// Portable C99, integer-only. Tables (window, twiddles, filterbank weights,
// PCAN gain curve, log correction) are built at init with integer arithmetic
// that emulates the IEEE single/double precision steps the reference performs,
// so they come out identical on every target, with or without an FPU.
//
// Memory: the caller owns one state buffer (8-byte aligned) whose size
// tml_fe_state_size() reports for a configuration; nothing is allocated.
#ifndef TML_FE_H
#define TML_FE_H

#include <stddef.h>
#include <stdint.h>

#include "tml_common.h"

// Largest FFT the frontend supports (the FFT size is the window length in
// samples rounded up to a power of two).
#define TML_FE_MAX_FFT_SIZE 4096
#define TML_FE_MAX_CHANNELS 256
#define TML_FE_MAX_SAMPLE_RATE 192000

// Parameters of the op. Float parameters are passed as the bit pattern of an
// IEEE-754 single (what the op receives); see tml_fe_f32_bits_* in the host
// and device bindings.
typedef struct {
    int32_t sample_rate;          // Hz
    int32_t window_size_ms;
    int32_t window_step_ms;
    int32_t num_channels;
    uint32_t upper_band_limit;    // float bits, Hz
    uint32_t lower_band_limit;    // float bits, Hz
    int32_t smoothing_bits;
    uint32_t even_smoothing;      // float bits, in [0, 1]
    uint32_t odd_smoothing;       // float bits, in [0, 1]
    uint32_t min_signal_remaining; // float bits, in [0, 1]
    int32_t enable_pcan;
    uint32_t pcan_strength;       // float bits
    uint32_t pcan_offset;         // float bits
    int32_t gain_bits;
    int32_t enable_log;
    int32_t scale_shift;
} tml_fe_config_t;

// The op's defaults (window 25 ms / step 10 ms / 32 channels, PCAN on).
void tml_fe_config_default(tml_fe_config_t *config);

// Check a configuration. On failure returns TML_ERR_CONFIG (or TML_ERR_LIMIT)
// and, when msg is not NULL, points *msg at a static sentence naming the
// problem.
tml_status_t tml_fe_check(const tml_fe_config_t *config, const char **msg);

// Bytes of state needed for a configuration (0 when a basic check fails;
// band limits are validated by tml_fe_check and tml_fe_init).
size_t tml_fe_state_size(const tml_fe_config_t *config);

// Build the state in mem (at least tml_fe_state_size bytes, 8-byte aligned).
tml_status_t tml_fe_init(void *mem, size_t mem_size, const tml_fe_config_t *config, const char **msg);

// Forget all audio seen so far (window history, noise estimates).
void tml_fe_reset(void *state);

// Consume up to n samples, stopping at the first completed frame. Returns 1
// and writes num_channels values to out when a frame completed, else 0.
// *consumed receives the number of samples taken from `samples`.
int tml_fe_process(void *state, const int16_t *samples, size_t n, size_t *consumed, uint16_t *out);

// Facts about an initialised state.
typedef struct {
    int32_t window_samples;
    int32_t step_samples;
    int32_t fft_size;
    int32_t num_channels;
    int32_t start_index;   // first FFT bin used by the filterbank
    int32_t end_index;     // one past the last bin used
    size_t state_size;
} tml_fe_info_t;

void tml_fe_get_info(const void *state, tml_fe_info_t *info);

// Copies of internal tables, for tests: window coefficients (window_samples
// values) and filterbank weights/unweights per FFT bin (fft_size/2+1 values).
// Each returns the number of values written (at most cap).
size_t tml_fe_window_table(const void *state, int16_t *out, size_t cap);
size_t tml_fe_weight_table(const void *state, int16_t *weights, int16_t *unweights, size_t cap);

// Mapping of frontend output to a model's int8 input tensor:
//   q = clamp(round(feature * float_scale / input_scale) + zero_point, -128, 127)
// float_scale is the training convention (micro_speech trains on
// uint16_feature * 10 / 256), input_scale/zero_point come from the model.
// The ratio float_scale / input_scale is held as a 32-bit fixed-point
// multiplier and shift derived from the float bit patterns by integer math.
// q = ((feature * multiplier + 2^(shift-1)) >> shift) + zero_point: feature *
// multiplier * 2^-shift approximates feature * float_scale / input_scale with
// a 31-bit multiplier, exact for every uint16 feature in practice (tested
// against exact rational rounding over all 65536 values).
typedef struct {
    int32_t multiplier;  // in [2^30, 2^31)
    int32_t shift;       // total right shift, in [1, 62]
    int32_t zero_point;
} tml_fe_int8_map_t;

tml_status_t tml_fe_int8_map_init(tml_fe_int8_map_t *map, uint32_t float_scale_bits, uint32_t input_scale_bits,
    int32_t zero_point, const char **msg);
int8_t tml_fe_int8_map_apply(const tml_fe_int8_map_t *map, uint16_t feature);

// Exposed for tests of the integer float emulation used at init.
uint32_t tml_fe_test_mel_bits(uint32_t freq_bits);
int16_t tml_fe_test_pcan_gain(uint32_t strength_bits, uint32_t offset_bits, int32_t gain_bits, int32_t input_bits,
    uint32_t x);

#endif // TML_FE_H
