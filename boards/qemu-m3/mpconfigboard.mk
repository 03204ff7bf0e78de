# mpyml board for MicroPython's qemu port: Cortex-M3 on QEMU's mps2-an385
# machine (4 MB SSRAM for code and data).
#
#   make -C ports/qemu BOARD=qemu-m3 BOARD_DIR=<mpyml>/boards/qemu-m3
QEMU_ARCH = arm
QEMU_MACHINE = mps2-an385

CFLAGS += -mthumb -mcpu=cortex-m3 -mfloat-abi=soft
CFLAGS += -DQEMU_SOC_MPS2
CFLAGS += -DMICROPY_HW_MCU_NAME='"Cortex-M3"'

LDSCRIPT = $(BOARD_DIR)/../qemu-common/ram.ld
SRC_C += $(BOARD_DIR)/../qemu-common/board_hal.c $(BOARD_DIR)/../qemu-common/ramdisk.c
# The time module on a board timer (boards/qemu-common/modtime_qemu.c).
SRC_C += $(BOARD_DIR)/../qemu-common/modtime_qemu.c shared/timeutils/timeutils.c

# os.urandom and os.getenv/putenv/unsetenv for the emulated boards (boards/qemu-common/modos_qemu.c).
CFLAGS += -DMICROPY_PY_OS_URANDOM=1 -DMICROPY_PY_OS_GETENV_PUTENV_UNSETENV=1 -DMICROPY_PY_OS_INCLUDEFILE='"$(abspath $(BOARD_DIR)/../qemu-common/modos_qemu.c)"'

# Double-precision libm (the port links only the single-precision one): the
# runtime computes quantization multipliers in double, as TFLM does.
LIB_SRC_C += $(SRC_LIB_LIBM_DBL_C) $(SRC_LIB_LIBM_DBL_SQRT_SW_C)

SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb2.o

MPY_CROSS_FLAGS += -march=armv7m
