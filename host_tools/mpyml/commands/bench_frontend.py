"""`mpyml bench frontend`: the C audio frontend against TensorFlow's op."""

from __future__ import annotations

import click

from .bench import bench


@click.command("frontend")
@click.option("--clips", default=40, show_default=True, help="One-second clips to process per timing run.")
@click.option("--repeats", default=3, show_default=True, help="Timing runs; the fastest counts.")
@click.option("--no-tf", is_flag=True, help="Skip the TensorFlow op (only our timing and sizes).")
@click.option("--qemu", "qemu_boards", multiple=True, metavar="BOARD",
              help="Also run on a QEMU board's firmware (qemu-m0, qemu-m3, qemu-m4): instructions per hop.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def frontend_cmd(clips: int, repeats: int, no_tf: bool, qemu_boards: tuple[str, ...], as_json: bool) -> None:
    """Time per 20 ms hop (micro_speech: 30 ms window, 40 channels), ours vs
    TensorFlow's audio_microfrontend, state size and ARM code size."""
    import json
    import os
    from pathlib import Path

    from ..bench_frontend import run_bench
    from ..errors import MpymlError
    from ..paths import project_root

    if clips < 1 or repeats < 1:
        raise MpymlError("--clips and --repeats must be at least 1")
    testdata = Path(os.environ.get("MPYML_TESTDATA", project_root().parent / "shared" / "testdata"))
    r = run_bench(clips=clips, repeats=repeats, testdata=testdata if testdata.is_dir() else None,
                  with_tf=not no_tf, qemu_boards=qemu_boards, log=lambda m: click.echo(m, err=True))
    if as_json:
        click.echo(json.dumps(r.as_dict(), indent=2))
        return
    click.echo(f"micro_speech frontend, {r.clips} clips x {r.hops_per_clip} hops (20 ms each)")
    click.echo(f"  ours (C, host binding)   {r.ours_us_per_hop:9.2f} us/hop")
    if r.tf_op_us_per_hop is not None:
        click.echo(f"  TF audio_microfrontend   {r.tf_op_us_per_hop:9.2f} us/hop (one op call per clip)")
        click.echo(f"  speed ratio (TF / ours)  {r.speedup:9.2f}x   outputs identical: {r.identical_to_op}")
    click.echo(f"  state size               {r.state_size:9d} bytes")
    for target, s in r.code_size.items():
        click.echo(f"  code size {target:<8s}       text {s['text']:6d}  data {s['data']:4d}  bss {s['bss']:4d} bytes"
                   " (arm-none-eabi-gcc -Os)")

    for board, q in (r.qemu or {}).items():
        click.echo(f"  {board:<8s} (QEMU)          {q['instructions_per_hop']:9d} instructions/hop, constructor "
                   f"{q['init_instructions']:,} instructions, identical to host: {q['identical_to_host']}")


def register(main: click.Group) -> None:
    bench.add_command(frontend_cmd)
