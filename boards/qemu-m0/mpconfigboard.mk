# mpyml board for MicroPython's qemu port: Cortex-M0 (the RP2040's
# instruction set) on QEMU's micro:bit machine with 1 MB flash and the
# RP2040's 264 KB of RAM for the firmware (its heap is the size of the
# RPI_PICO firmware's heap); SRAM past that holds the RAM disk of test runs.
#
#   make -C ports/qemu BOARD=qemu-m0 BOARD_DIR=<mpyml>/boards/qemu-m0
QEMU_ARCH = arm
QEMU_MACHINE = microbit
QEMU_ARGS += -global nrf51-soc.flash-size=1048576 -global nrf51-soc.sram-size=532480

CFLAGS += -mthumb -mcpu=cortex-m0 -mfloat-abi=soft
CFLAGS += -DQEMU_SOC_NRF51
CFLAGS += -DMICROPY_HW_MCU_NAME='"Cortex-M0"'
# Like the RP2040 firmware: the Thumb (armv6m) native emitter, which also lets
# the board load armv6m native modules (.mpy with machine code).
CFLAGS += -DMICROPY_EMIT_THUMB=1 -DMICROPY_EMIT_INLINE_THUMB=1 -DMICROPY_EMIT_THUMB_ARMV7M=0

LDSCRIPT = $(BOARD_DIR)/../qemu-common/flash_ram.ld
SRC_C += $(BOARD_DIR)/../qemu-common/board_hal.c $(BOARD_DIR)/../qemu-common/ramdisk.c
# The time module on a board timer (boards/qemu-common/modtime_qemu.c).
SRC_C += $(BOARD_DIR)/../qemu-common/modtime_qemu.c shared/timeutils/timeutils.c

# os.urandom and os.getenv/putenv/unsetenv for the emulated boards (boards/qemu-common/modos_qemu.c).
CFLAGS += -DMICROPY_PY_OS_URANDOM=1 -DMICROPY_PY_OS_GETENV_PUTENV_UNSETENV=1 -DMICROPY_PY_OS_INCLUDEFILE='"$(abspath $(BOARD_DIR)/../qemu-common/modos_qemu.c)"'

# Double-precision libm (the port links only the single-precision one): the
# runtime computes quantization multipliers in double, as TFLM does.
LIB_SRC_C += $(SRC_LIB_LIBM_DBL_C) $(SRC_LIB_LIBM_DBL_SQRT_SW_C)

SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb1.o

MPY_CROSS_FLAGS += -march=armv6m
