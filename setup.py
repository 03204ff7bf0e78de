"""Builds mpyml._native, the CPython extension over the same C sources that
go into the firmware (native_modules/). Metadata lives in pyproject.toml."""

from glob import glob

from setuptools import Extension, setup

NATIVE = "native_modules"
PARTS = ("core", "runtime", "frontend")

sources = []
for part in PARTS:
    sources += sorted(glob(f"{NATIVE}/{part}/*.c") + glob(f"{NATIVE}/{part}/*/*.c"))
sources += sorted(glob(f"{NATIVE}/cpython/*.c"))

setup(
    ext_modules=[
        Extension(
            "mpyml._native",
            sources=sources,
            include_dirs=[f"{NATIVE}/{p}" for p in (*PARTS, "cpython")],
            # Headers define struct layouts: a change must recompile every source.
            depends=sorted(glob(f"{NATIVE}/**/*.h", recursive=True)),
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
