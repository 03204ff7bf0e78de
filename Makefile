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
	python3-venv python3-dev

NATIVE_SOURCES := $(shell find native_modules -name '*.[ch]' 2>/dev/null)

.PHONY: help deps venv native sdk firmware test test-host test-device demo clean

help:
	@echo "make demo   - the main job, end to end"
	@echo "make test   - host and device test suites"
	@echo "make firmware / sdk / venv / deps / clean"

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

test-host: native firmware
	$(BIN)/pytest $(PYTEST_ARGS)

test-device: firmware
	$(MPYML) test-device --board unix

# One command runs everything: the host suite runs the device suite too.
test: test-host

demo: native firmware
	$(MPYML) run --board unix examples/hello_native.py

clean:
	rm -rf build host_tools/mpyml/*.so
