"""Build checks of the runtime's C sources: the cross-compile check and the
60-second fuzz run (make native-check / make fuzz-smoke)."""

import re
import subprocess


def test_native_check_passes_for_all_targets(root):
    r = subprocess.run(["make", "--no-print-directory", "native-check"], cwd=root, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    ok = re.findall(r"^native-check: (.+): (\d+) files OK$", r.stdout, re.M)
    assert [cc.split()[0] for cc, _ in ok] == ["gcc", "arm-none-eabi-gcc", "arm-none-eabi-gcc"]
    assert "cortex-m0plus" in ok[1][0] and "cortex-m4" in ok[2][0]
    assert all(int(n) >= 4 for _, n in ok)


def test_fuzz_smoke_has_no_findings(root, testdata):
    r = subprocess.run(["make", "--no-print-directory", "fuzz-smoke", f"MPYML_TESTDATA={testdata}"], cwd=root,
                       capture_output=True, text=True, timeout=900)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-4000:]
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
    assert runs and int(runs.group(1)) > 100, log[-2000:]
    assert "ERROR: AddressSanitizer" not in log and "runtime error" not in log and "deadly signal" not in log


def test_bench_runtime_reports_every_model(root, testdata):
    import json
    import os
    import sys

    env = {**os.environ, "MPYML_TESTDATA": str(testdata)}
    r = subprocess.run([sys.executable, "-m", "mpyml.cli", "bench", "runtime", "--repeats", "1", "--json"], cwd=root,
                       capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads(r.stdout)
    names = [m["name"] for m in data["models"]]
    assert names == ["hello_world_int8", "micro_speech_quantized", "person_detect", "kws_ref_model"]
    for m in data["models"]:
        assert m["identical"] is True
        assert m["ours_ms"] > 0 and m["tflm_ms"] > 0 and m["ratio"] == m["ours_ms"] / m["tflm_ms"]
        assert m["arena_ours"] > 0 and m["arena_tflm"] > 0
        # The per-op profile names the model's operator types.
        assert "FULLY_CONNECTED" in m["per_op_us"] or "CONV_2D" in m["per_op_us"]
        assert all(v >= 0 for v in m["per_op_us"].values()) and sum(m["per_op_us"].values()) > 0
    sizes = data["code_size"]
    assert set(sizes) == {"armv6m", "armv6m-int8", "armv6m-int8-short", "armv6m-min", "armv6m-core",
                          "armv7em", "armv7em-core"}
    for target in ("armv6m", "armv7em"):
        # The kernels add code on top of the interpreter alone.
        assert sizes[target]["text"] > sizes[f"{target}-core"]["text"] > 1000
    # Each size switch makes the Cortex-M0 image smaller; the int8 kernels
    # compute their multipliers without any soft floating point.
    v6 = [sizes[k] for k in ("armv6m", "armv6m-int8", "armv6m-int8-short", "armv6m-min")]
    assert all(a["text"] > b["text"] and a["runtime_text"] > b["runtime_text"] for a, b in zip(v6, v6[1:]))
    assert all(s["runtime_text"] < s["text"] for s in v6)
    assert any(name.startswith("__aeabi_f") for name in sizes["armv6m"]["soft_float"])
    assert sizes["armv6m-int8"]["soft_float"] == [] and sizes["armv6m-min"]["soft_float"] == []
    assert not any(name.startswith("__aeabi_d") for name in sizes["armv6m"]["soft_float"])
    # The flash target: runtime + KWS kernels within 16 KB on armv6m, with
    # the Cortex-M0 fast paths (int8 only, short errors); the portable
    # kernels alone are smaller still.
    assert sizes["armv6m-int8-short"]["runtime_text"] <= 16 * 1024, (
        f"runtime + KWS kernels (int8 only, short errors) take {sizes['armv6m-int8-short']['runtime_text']} B "
        "on armv6m: over the 16 KB flash target")


MATH = {"expf", "exp", "floor", "floorf", "frexp", "frexpf", "round", "roundf", "tanhf", "tanh", "ldexp", "ldexpf",
        "sqrt", "sqrtf", "fabs", "fabsf", "log", "logf", "ceil", "ceilf", "lround", "lroundf", "fmaxf", "fminf"}


def test_runtime_objects_use_no_heap_and_no_mutable_globals(root, tmp_path):
    # Every object of the portable core and the runtime, built for
    # Cortex-M0+: no .data/.bss/common symbols (state lives in the caller's
    # structs and arena), and calls only to itself, mem*, libm and the
    # compiler's support routines: no malloc/free, no stdio.
    native = root / "native_modules"
    sources = sorted((native / "core").glob("*.c")) + sorted((native / "runtime").glob("*.c")) \
        + sorted((native / "runtime" / "kernels").glob("*.c"))
    assert len(sources) >= 6
    objects = []
    for src in sources:
        obj = tmp_path / (src.stem + ".o")
        subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m0plus", "-mthumb", "-Os", "-std=c99",
                        f"-I{native / 'core'}", f"-I{native / 'runtime'}", f"-I{native / 'runtime' / 'kernels'}",
                        "-c", str(src), "-o", str(obj)], check=True)
        objects.append(obj)
    out = subprocess.run(["arm-none-eabi-nm", *map(str, objects)], capture_output=True, text=True, check=True).stdout
    defined, undefined, mutable = set(), set(), []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3:
            kind, name = parts[1], parts[2]
            defined.add(name)
            if kind in "DdBbCcGgSs":
                mutable.append(name)
    assert not mutable, f"mutable global state: {mutable}"
    external = {u for u in undefined - defined
                if not u.startswith(("__aeabi_", "__gnu_")) and u not in MATH}
    assert external <= {"memcpy", "memmove", "memset", "memcmp"}, external
