# _tinyml user C module: glue files in this folder, portable core beside it.
TINYML_MOD_DIR := $(USERMOD_DIR)
TINYML_NATIVE_DIR := $(TINYML_MOD_DIR)/..

# Glue is scanned for qstrs; the portable core is plain library code.
SRC_USERMOD_C += $(wildcard $(TINYML_MOD_DIR)/*.c)
SRC_USERMOD_LIB_C += $(wildcard $(TINYML_NATIVE_DIR)/core/*.c $(TINYML_NATIVE_DIR)/runtime/*.c $(TINYML_NATIVE_DIR)/runtime/*/*.c $(TINYML_NATIVE_DIR)/frontend/*.c)

CFLAGS_USERMOD += -I$(TINYML_MOD_DIR) -I$(TINYML_NATIVE_DIR)/core -I$(TINYML_NATIVE_DIR)/runtime -I$(TINYML_NATIVE_DIR)/frontend

# Model-aware firmware (mpyml build --model/--ops): a header that selects the
# kernels registered in runtime/kernels/tml_registry.c; size switches of the
# runtime (--int8-only, --short-errors, --portable-kernels) as defines.
ifneq ($(TINYML_OPS_HEADER),)
CFLAGS_USERMOD += -DTML_OPS_HEADER=\"$(TINYML_OPS_HEADER)\"
endif
CFLAGS_USERMOD += $(TINYML_CFLAGS)
