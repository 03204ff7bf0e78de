// Support code shared by the mpyml qemu boards (qemu-m0, qemu-m3, qemu-m4).

#include "py/mphal.h"

// littlefs stamps files with the time; the emulated boards have no
// real-time clock, so files carry the epoch.
uint64_t mp_hal_time_ns(void) {
    return 0;
}
