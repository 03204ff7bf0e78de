# mpyml: every target installs what it needs (apt packages, a venv with the
# pinned Python packages, MicroPython sources) before it runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MPYML := $(BIN)/mpyml
PYTEST_ARGS ?=

# Debian packages: C toolchains, MicroPython's build needs, audio tools.
APT_PACKAGES := build-essential git pkg-config libffi-dev xz-utils debian-archive-keyring \
	python3-venv python3-dev espeak-ng sox clang libclang-rt-14-dev gcc-arm-none-eabi libnewlib-arm-none-eabi \
	qemu-system-arm gcc-xtensa-lx106 cmake libstdc++-arm-none-eabi-newlib

NATIVE_SOURCES := $(shell find native_modules -name '*.[ch]' 2>/dev/null)

.PHONY: help deps venv native sdk firmware firmware-qemu firmware-rp2 natmod test test-host test-device demo benchmark-kws benchmark-compress soak clean \
	native-check fuzz fuzz-smoke fuzz-seeds conformance-full bench-qemu icount-baseline

help:
	@echo "make demo   - the main job, end to end"
	@echo "make test   - host and device test suites"
	@echo "make firmware / sdk / venv / deps / clean"
	@echo "make native-check / fuzz-smoke / fuzz FUZZ_SECONDS=3600 - C core checks (runtime)"

deps:
	@host_tools/bootstrap/apt-packages.sh $(APT_PACKAGES)

$(VENV)/.installed: pyproject.toml setup.py
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip setuptools wheel
	$(BIN)/pip install -q --disable-pip-version-check --no-build-isolation -e ".[train,device,dev]"
	@touch $@

# The CPython extension (mpyml._native) over the same C sources as the firmware.
$(VENV)/.native: $(VENV)/.installed $(NATIVE_SOURCES) setup.py
	$(BIN)/python setup.py -q build_ext --inplace --force
	@$(BIN)/python -c "import mpyml._native" && touch $@

venv: deps $(VENV)/.installed
native: venv $(VENV)/.native

sdk: venv
	$(MPYML) sdk fetch

firmware: sdk
	$(MPYML) build --board unix

# Firmware for the emulated Cortex-M boards (QEMU) that the test suite uses.
QEMU_BOARDS := qemu-m0 qemu-m3 qemu-m4
firmware-qemu: sdk
	@for b in $(QEMU_BOARDS); do nice $(MPYML) build --board $$b || exit 1; done

# The RP2040 image is part of the test run (a clean fetch + build adds about 2-4 minutes).
test-host: native firmware firmware-qemu firmware-rp2
	$(BIN)/pytest $(PYTEST_ARGS)

# RP2040 image (.uf2 + .elf): fetches the pico-sdk, tinyusb, mbedtls and picotool sources first.
firmware-rp2: sdk
	$(MPYML) sdk fetch --board RPI_PICO
	nice $(MPYML) build --board RPI_PICO

# _tinyml.mpy for x64/armv6m/armv7m/armv7emsp + mip package in build/natmod/package.
natmod: sdk
	nice $(MPYML) natmod build

test-device: firmware
	$(MPYML) test-device --board unix

# Opt-in: one hour of simulated audio through the device pipeline at full
# speed; the heap must not grow (CI runs the same test for 10 minutes).
soak: firmware
	MPYML_SOAK_SECONDS=3600 nice $(MPYML) test-device --board unix -v -k soak

# One command runs everything: the host suite runs the device suite too.
test: test-host

# Synthesise data, train a DS-CNN, int8 PTQ, evaluate (float / TFLM / mpyml),
# package, and classify the test clips on the Unix firmware.
demo: native firmware
	nice $(MPYML) demo --no-build

# Opt-in large kernel conformance sweep: N random single-op models (default
# 2000), each compared byte for byte with TFLM. SEED picks another sweep.
N ?= 2000
SEED ?= 1
conformance-full: native
	MPYML_CONFORMANCE_N=$(N) MPYML_CONFORMANCE_SEED=$(SEED) nice $(BIN)/pytest -q tests/host/test_kernels_conformance.py

# Instructions per invoke on the QEMU boards vs TFLM (docs/benchmark.md); icount-baseline
# refreshes the baseline of tests/host/test_bench_icount.py from the current firmware.
bench-qemu: firmware-qemu
	$(MPYML) bench --board qemu-m0 --board qemu-m3 --board qemu-m4
icount-baseline: firmware-qemu
	$(MPYML) bench board --board qemu-m0 --board qemu-m3 --board qemu-m4 --summary \
		--write-baseline tests/host/data/icount_baseline.json

# Opt-in quality benchmark (long): 12 classes, >= 500 clips per class, held-out voices.
benchmark-kws: native
	nice $(BIN)/python -m mpyml.benchmark_kws --models ds_cnn_s,micro_kws_cnn,tiny_conv,dnn

# Opt-in compression benchmark (long): QAT, low-bit sweep, pruning, structured
# pruning, distillation, verifier and gate on the synthetic KWS benchmark;
# writes build/benchmark-compress/runs/baseline/compression/compression.{md,html}.
benchmark-compress: native
	nice -n 10 $(BIN)/python -m mpyml.compress.benchmark

# The portable C core (runtime, frontend) must build warning-free as C99 for
# the host and both Cortex-M profiles.
NATIVE_CHECK_DIRS := core runtime runtime/kernels frontend
NATIVE_CHECK_SRCS = $(wildcard $(addprefix native_modules/,$(addsuffix /*.c,$(NATIVE_CHECK_DIRS))))
NATIVE_CHECK_INC := $(addprefix -Inative_modules/,$(NATIVE_CHECK_DIRS))
NATIVE_CHECK_FLAGS := -std=c99 -Wall -Wextra -Werror -Os $(NATIVE_CHECK_INC)
NATIVE_CHECK_TARGETS := "gcc" \
	"arm-none-eabi-gcc -mcpu=cortex-m0plus -mthumb" \
	"arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard"

native-check:
	@set -e; for cc in $(NATIVE_CHECK_TARGETS); do \
		for src in $(NATIVE_CHECK_SRCS); do \
			$$cc $(NATIVE_CHECK_FLAGS) -c $$src -o /dev/null; \
		done; \
		echo "native-check: $$cc: $(words $(NATIVE_CHECK_SRCS)) files OK"; \
	done

# libFuzzer + ASan + UBSan over load, plan and invoke of the runtime, seeded
# with the real models. fuzz-smoke (60 s) runs in the test suite; findings
# (crash-*, leak-*, timeout-*) are written to build/fuzz/.
FUZZ_SECONDS ?= 3600
FUZZ_DIR := build/fuzz
MPYML_TESTDATA ?= $(abspath ../shared/testdata)
FUZZ_SRCS = tests/fuzz/fuzz_interp.c $(wildcard native_modules/core/*.c native_modules/runtime/*.c native_modules/runtime/kernels/*.c)
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-Inative_modules/core -Inative_modules/runtime -Inative_modules/runtime/kernels

$(FUZZ_DIR)/fuzz_interp: $(FUZZ_SRCS) $(wildcard native_modules/core/*.h native_modules/runtime/*.h native_modules/runtime/kernels/*.h)
	@mkdir -p $(FUZZ_DIR)
	clang $(FUZZ_FLAGS) $(FUZZ_SRCS) -lm -o $@

fuzz-seeds:
	@mkdir -p $(FUZZ_DIR)/seeds $(FUZZ_DIR)/corpus
	@for f in $(MPYML_TESTDATA)/*/*.tflite; do ln -sf "$$f" $(FUZZ_DIR)/seeds/; done

fuzz-smoke: $(FUZZ_DIR)/fuzz_interp fuzz-seeds
	cd $(FUZZ_DIR) && nice ./fuzz_interp -max_total_time=60 -timeout=20 -rss_limit_mb=2048 \
		-print_final_stats=1 corpus seeds

fuzz: $(FUZZ_DIR)/fuzz_interp fuzz-seeds
	cd $(FUZZ_DIR) && nice ./fuzz_interp -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=2048 \
		-print_final_stats=1 corpus seeds

clean:
	rm -rf build host_tools/mpyml/*.so
