"""`mpyml bench runtime`: the int8 runtime against TFLM, side by side."""

from __future__ import annotations

import click

from .bench import bench


@click.command("runtime")
@click.option("--repeats", default=5, show_default=True, help="Timing runs per model; the fastest counts.")
@click.option("--no-size", is_flag=True, help="Skip the ARM code-size builds.")
@click.option("--qemu", is_flag=True, help="Also count instructions per invoke on QEMU Cortex-M0 and M4F "
              "(needs `mpyml build --board qemu-m0/qemu-m4`).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def runtime_cmd(repeats: int, no_size: bool, qemu: bool, as_json: bool) -> None:
    """Per real model: invoke time of the host binding vs tflite-micro (ratio),
    arena vs TFLM's, and code size for armv6m/armv7em (-Os, KWS op set);
    with --qemu, instructions per invoke vs TFLM's reference kernels."""
    import json
    import os
    from pathlib import Path

    from ..bench_runtime import KWS_OPS, run_bench
    from ..errors import MpymlError
    from ..paths import project_root

    if repeats < 1:
        raise MpymlError("--repeats must be at least 1")
    testdata = Path(os.environ.get("MPYML_TESTDATA", project_root().parent / "shared" / "testdata"))
    r = run_bench(testdata, repeats=repeats, sizes=not no_size, qemu=qemu, log=lambda m: click.echo(m, err=True))
    if as_json:
        click.echo(json.dumps(r.as_dict(), indent=2))
        return
    click.echo(f"{'model':<24s} {'ours ms':>9s} {'TFLM ms':>9s} {'ratio':>6s}  {'arena':>8s} {'TFLM arena':>10s}  identical")
    for m in r.models:
        click.echo(f"{m.name:<24s} {m.ours_ms:9.3f} {m.tflm_ms:9.3f} {m.ratio:6.2f}  {m.arena_ours:8d} {m.arena_tflm:10d}"
                   f"  {'yes' if m.identical else 'NO'}")
    click.echo("per op type (ours; microseconds per invoke, fastest of several profiled runs):")
    for m in r.models:
        total = sum(m.per_op_us.values()) or 1.0
        parts = sorted(m.per_op_us.items(), key=lambda kv: -kv[1])
        click.echo(f"  {m.name:<24s} " + ", ".join(f"{op} {us:.1f} ({100 * us / total:.0f}%)" for op, us in parts))
    if r.code_size:
        click.echo(f"code size (arm-none-eabi-gcc -Os, --gc-sections; ops: {', '.join(KWS_OPS)}); runtime = text+rodata "
                   "of the runtime's own objects (linker map, without libgcc/libc):")
        for label, s in r.code_size.items():
            what = "interpreter only" if label.endswith("-core") else "interpreter + KWS kernels"
            variant = {"-int8": ", int8 only", "-int8-short": ", int8 only, short errors",
                       "-min": ", int8 only, short errors, portable kernels"}.get(label[len(label.split("-")[0]):], "")
            soft = f"  soft-float: {len(s['soft_float'])} routines" if s["soft_float"] else ""
            click.echo(f"  {label:<18s} text {s['text']:6d}  runtime {s['runtime_text']:6d}  data {s['data']:4d}  "
                       f"bss {s['bss']:4d}  ({what}{variant}){soft}")
    for board, models in r.qemu.items():
        click.echo(f"{board} (QEMU -icount, instructions per invoke; TFLM reference kernels on the same machine):")
        for name, q in models.items():
            ref = q["tflm_ref_instructions"]
            ratio = f"{q['instructions'] / ref:5.2f}x" if ref else "  n/a"
            click.echo(f"  {name:<24s} {q['instructions']:12,d} vs {ref:12,d}  {ratio}  arena {q['arena_used']} B")


def register(main: click.Group) -> None:
    bench.add_command(runtime_cmd)
