"""`mpyml bench`: benchmarks reported as ratios measured side by side.

Other command modules attach their subcommands to ``bench`` (e.g.
``bench.add_command(frontend_cmd)``), so each stage owns its benchmark.
"""

import click


@click.group(invoke_without_command=True)
@click.option("--board", "boards", multiple=True,
              help="qemu-m0, qemu-m3 or qemu-m4: instructions per invoke of the real models on QEMU vs TFLM "
                   "(repeatable); host (the default): the host binding vs tflite-micro.")
@click.option("--model", "models", multiple=True, help="With --board: model name (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def bench(ctx: click.Context, boards: tuple[str, ...], models: tuple[str, ...], as_json: bool) -> None:
    """Benchmarks (ratios measured in one run; instruction counts on QEMU).

    Without a subcommand: `mpyml bench --board qemu-m0` runs the on-target
    benchmark (`bench board`), `mpyml bench` the host one (`bench runtime`)."""
    from ..errors import MpymlError
    from . import bench_board

    if ctx.invoked_subcommand is not None:
        if boards or models or as_json:
            raise MpymlError(f"--board/--model/--json are options of `mpyml bench` without a subcommand; "
                             f"see `mpyml bench {ctx.invoked_subcommand} --help` for its own")
        return
    if not boards or boards == ("host",):
        if models:
            raise MpymlError("--model needs a qemu --board")
        bench_board.run_host_bench(as_json)
    elif "host" in boards:
        raise MpymlError("--board host runs alone")
    else:
        bench_board.run_board_bench(boards, models, 2, None, as_json, per_op=True)


def register(main: click.Group) -> None:
    main.add_command(bench)
