// Support code shared by the mpyml qemu boards (qemu-m0, qemu-m3, qemu-m4).

#include <stdbool.h>
#include <stdint.h>

#include "py/mphal.h"

// The time module, mp_hal_ticks_ms/us, mp_hal_delay_ms/us and
// mp_hal_time_ns are in modtime_qemu.c (on another timer).

// The CPU cycle counter, for the runtime's per-operator profile
// (tinyml Interpreter.profile()). QEMU runs these boards with
// -icount shift=0, so virtual time advances 1 ns per executed instruction
// and a timer clocked from it counts instructions: nRF51 TIMER0 at 16 MHz
// (62.5 instructions per tick), the mps2 CMSDK timer 0 at 25 MHz (40). The
// host's benchmark programs the same timers the same way, so both readings
// agree; the timer is started here if nobody has yet.
#if defined(QEMU_SOC_NRF51)

#define BOARD_TIMER0 (0x40008000u)
#define BOARD_REG(off) (*(volatile uint32_t *)(BOARD_TIMER0 + (off)))

mp_uint_t mp_hal_ticks_cpu(void) {
    static bool started;
    if (!started) {
        BOARD_REG(0x504) = 0;   // MODE: timer
        BOARD_REG(0x508) = 3;   // BITMODE: 32 bit
        BOARD_REG(0x510) = 0;   // PRESCALER: 16 MHz
        BOARD_REG(0x000) = 1;   // TASKS_START
        started = true;
    }
    BOARD_REG(0x040) = 1;       // TASKS_CAPTURE[0]
    return BOARD_REG(0x540);    // CC[0]
}

#elif defined(QEMU_SOC_MPS2)

#define BOARD_TIMER0 (0x40000000u)
#define BOARD_REG(off) (*(volatile uint32_t *)(BOARD_TIMER0 + (off)))

mp_uint_t mp_hal_ticks_cpu(void) {
    if (!(BOARD_REG(0x0) & 1)) {
        BOARD_REG(0x8) = 0xffffffffu;   // RELOAD
        BOARD_REG(0x4) = 0xffffffffu;   // VALUE
        BOARD_REG(0x0) = 1;             // CTRL: enable
    }
    // A down-counter that reloads at 0xffffffff: its complement increases
    // and wraps modulo 2^32 like any cycle counter.
    return ~BOARD_REG(0x4);
}

#endif
