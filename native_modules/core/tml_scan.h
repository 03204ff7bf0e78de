// mpyml native core: one-pass statistics of int16 sample blocks for the
// device library's input gate (range, runs of equal values, clipping,
// mean level). Portable C99, no allocation, no globals.
#ifndef TML_SCAN_H
#define TML_SCAN_H

#include <stddef.h>
#include <stdint.h>

#define TML_SCAN_HAVE_PREV 1  // prev/run continue from an earlier segment
#define TML_SCAN_HAVE_RANGE 2 // min/max hold values of this block

// Eight int32 fields, so callers can keep the state in any int32 array.
typedef struct {
    int32_t min;      // smallest sample of the block
    int32_t max;      // largest sample of the block
    int32_t sum_abs;  // sum of |sample| over the block (saturates)
    int32_t clipped;  // samples with |sample| >= clip_level
    int32_t prev;     // last sample seen
    int32_t run;      // length of the current run of samples equal to prev
    int32_t max_run;  // longest run that grew inside this block
    int32_t flags;    // TML_SCAN_HAVE_*
} tml_scan_t;

// Fold n samples into the state. A clip_level <= 0 counts no clipping.
// Runs continue across calls while TML_SCAN_HAVE_PREV is set; max_run is
// raised only by runs growing during these samples.
void tml_scan_s16(tml_scan_t *s, const int16_t *x, size_t n, int32_t clip_level);

#endif // TML_SCAN_H
