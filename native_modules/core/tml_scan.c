// One-pass block statistics for the input gate; see tml_scan.h.
#include "tml_scan.h"

void tml_scan_s16(tml_scan_t *s, const int16_t *x, size_t n, int32_t clip_level) {
    if (n == 0) {
        return;
    }
    int32_t mn = s->min;
    int32_t mx = s->max;
    if (!(s->flags & TML_SCAN_HAVE_RANGE)) {
        mn = mx = x[0];
    }
    int32_t prev = s->prev;
    int32_t run = (s->flags & TML_SCAN_HAVE_PREV) ? s->run : 0;
    int32_t max_run = s->max_run;
    // A run can only continue when there is an earlier sample: start with
    // a value no int16 sample equals.
    if (!(s->flags & TML_SCAN_HAVE_PREV)) {
        prev = INT32_MIN;
    }
    int64_t sum = s->sum_abs;
    int32_t clipped = s->clipped;
    for (size_t i = 0; i < n; i++) {
        int32_t v = x[i];
        if (v == prev) {
            run++;
            if (run > max_run) {
                max_run = run;
            }
        } else {
            run = 1;
            prev = v;
        }
        if (v < mn) {
            mn = v;
        } else if (v > mx) {
            mx = v;
        }
        int32_t a = v < 0 ? -v : v;
        sum += a;
        if (clip_level > 0 && a >= clip_level) {
            clipped++;
        }
    }
    s->min = mn;
    s->max = mx;
    s->sum_abs = sum > INT32_MAX ? INT32_MAX : (int32_t)sum;
    s->clipped = clipped;
    s->prev = prev;
    s->run = run;
    s->max_run = max_run;
    s->flags |= TML_SCAN_HAVE_PREV | TML_SCAN_HAVE_RANGE;
}
