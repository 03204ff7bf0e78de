// The time module of the mpyml qemu boards (qemu-m0, qemu-m3, qemu-m4):
// MicroPython's extmod/modtime.c over a free-running board timer.
//
// QEMU runs these boards with -icount shift=0: virtual time advances 1 ns
// per executed instruction and the timers are clocked from it, so ticks_*
// measure virtual time and sleeps spin until the timer has moved on by the
// requested amount (they cost the same number of instructions every run).
//
// The qemu port's mpconfigport.h turns the time module off with a plain
// #define, which a -D flag cannot override; this unit turns it back on and
// compiles extmod's module here (the build's own extmod/modtime.o stays
// empty). The qstr and module-registration scans preprocess this file with
// the same settings, so `time` is registered like any built-in module.
//
// Which timer: TIMER0 (nRF51) and CMSDK timer 0 (mps2) count instructions
// for mp_hal_ticks_cpu() and `mpyml bench --board`, which restarts them
// around each measurement. The clock here runs on TIMER1 / CMSDK timer 1,
// which nothing else touches, so the two never disturb each other.

// No real-time clock: the wall clock starts at the epoch (2000-01-01) at
// reset and then follows the timer.
#define MICROPY_PY_TIME_GMTIME_LOCALTIME_MKTIME (1)
#define MICROPY_PY_TIME_TIME_TIME_NS (1)
// sleep(seconds) with microsecond resolution and a check of its argument.
#define MICROPY_PY_TIME_CUSTOM_SLEEP (1)

#include "py/mpconfig.h"
#undef MICROPY_PY_TIME
#define MICROPY_PY_TIME (1)

#include <stdbool.h>
#include <stdint.h>

#include "py/mphal.h"
#include "py/runtime.h"
#include "shared/timeutils/timeutils.h"

#if defined(QEMU_SOC_NRF51)

// nRF51 TIMER1 in 32-bit timer mode, prescaler 2^4: 1 MHz.
#define QEMU_CLOCK_BASE (0x40009000u)
#define QEMU_CLOCK_HZ (1000000u)
#define QEMU_CLOCK_REG(off) (*(volatile uint32_t *)(QEMU_CLOCK_BASE + (off)))

static uint32_t qemu_clock_raw(void) {
    static bool started;
    if (!started) {
        QEMU_CLOCK_REG(0x504) = 0;  // MODE: timer
        QEMU_CLOCK_REG(0x508) = 3;  // BITMODE: 32 bit
        QEMU_CLOCK_REG(0x510) = 4;  // PRESCALER: 16 MHz / 16
        QEMU_CLOCK_REG(0x00c) = 1;  // TASKS_CLEAR
        QEMU_CLOCK_REG(0x000) = 1;  // TASKS_START
        started = true;
    }
    QEMU_CLOCK_REG(0x040) = 1;      // TASKS_CAPTURE[0]
    return QEMU_CLOCK_REG(0x540);   // CC[0]
}

#elif defined(QEMU_SOC_MPS2)

// CMSDK APB timer 1, counting down from 0xffffffff at the 25 MHz APB clock.
#define QEMU_CLOCK_BASE (0x40001000u)
#define QEMU_CLOCK_HZ (25000000u)
#define QEMU_CLOCK_REG(off) (*(volatile uint32_t *)(QEMU_CLOCK_BASE + (off)))

static uint32_t qemu_clock_raw(void) {
    if (!(QEMU_CLOCK_REG(0x0) & 1)) {
        QEMU_CLOCK_REG(0x8) = 0xffffffffu;  // RELOAD
        QEMU_CLOCK_REG(0x4) = 0xffffffffu;  // VALUE
        QEMU_CLOCK_REG(0x0) = 1;            // CTRL: enable, no interrupt
    }
    // The complement of a down-counter that reloads at 0xffffffff counts
    // up from 0 and wraps modulo 2^32.
    return ~QEMU_CLOCK_REG(0x4);
}

#else
#error "modtime_qemu.c: define QEMU_SOC_NRF51 or QEMU_SOC_MPS2 for the board's timer"
#endif

// Timer ticks since reset. The hardware count wraps at 2^32 (after 71 min
// of virtual time at 1 MHz, 172 s at 25 MHz); adding the wrapped difference
// of each reading to a 64-bit total keeps the clock monotonic as long as it
// is read at least once per wrap (sleeps read it continuously).
static uint64_t qemu_clock_ticks(void) {
    static uint32_t last;
    static uint64_t total;
    uint32_t now = qemu_clock_raw();
    total += (uint32_t)(now - last);
    last = now;
    return total;
}

static uint64_t qemu_clock_us(void) {
    return qemu_clock_ticks() / (QEMU_CLOCK_HZ / 1000000u);
}

mp_uint_t mp_hal_ticks_ms(void) {
    return (mp_uint_t)(qemu_clock_ticks() / (QEMU_CLOCK_HZ / 1000u));
}

mp_uint_t mp_hal_ticks_us(void) {
    return (mp_uint_t)qemu_clock_us();
}

void mp_hal_delay_us(mp_uint_t us) {
    uint64_t end = qemu_clock_us() + us;
    while (qemu_clock_us() < end) {
    }
}

void mp_hal_delay_ms(mp_uint_t ms) {
    uint64_t end = qemu_clock_us() + (uint64_t)ms * 1000u;
    while (qemu_clock_us() < end) {
        // Lets a pending KeyboardInterrupt or scheduled callback end or
        // interrupt a long sleep, as on the hardware ports.
        mp_handle_pending(true);
    }
}

// time.sleep(seconds): extmod's default truncates to whole milliseconds
// and would turn a negative float into an endless wait.
static void mp_time_sleep(mp_obj_t seconds_in) {
    mp_float_t seconds = mp_obj_get_float(seconds_in);
    if (!(seconds >= 0)) {
        mp_raise_ValueError(MP_ERROR_TEXT("sleep length must be non-negative"));
    }
    // The millisecond count must fit a mp_uint_t (49 days).
    if (seconds > MICROPY_FLOAT_CONST(4e6)) {
        mp_raise_msg(&mp_type_OverflowError, MP_ERROR_TEXT("sleep length too large"));
    }
    uint64_t us = (uint64_t)(seconds * MICROPY_FLOAT_CONST(1e6));
    mp_hal_delay_ms((mp_uint_t)(us / 1000u));
    mp_hal_delay_us((mp_uint_t)(us % 1000u));
}

// Nanoseconds since 1970 (the unit littlefs stamps files with): the port's
// epoch, 2000-01-01, plus the time since reset.
uint64_t mp_hal_time_ns(void) {
    return TIMEUTILS_SECONDS_1970_TO_2000 * 1000000000ull + qemu_clock_us() * 1000u;
}

static mp_obj_t mp_time_time_get(void) {
    return mp_obj_new_int_from_ull(timeutils_seconds_since_epoch_from_nanoseconds_since_1970(mp_hal_time_ns()));
}

static mp_obj_t mp_time_localtime_get(void) {
    timeutils_struct_time_t tm;
    timeutils_seconds_since_epoch_to_struct_time(timeutils_seconds_since_epoch_from_nanoseconds_since_1970(mp_hal_time_ns()), &tm);
    mp_obj_t tuple[8] = {
        mp_obj_new_int(tm.tm_year),
        mp_obj_new_int(tm.tm_mon),
        mp_obj_new_int(tm.tm_mday),
        mp_obj_new_int(tm.tm_hour),
        mp_obj_new_int(tm.tm_min),
        mp_obj_new_int(tm.tm_sec),
        mp_obj_new_int(tm.tm_wday),
        mp_obj_new_int(tm.tm_yday),
    };
    return mp_obj_new_tuple(8, tuple);
}

#include "extmod/modtime.c"
