"""`mpyml bench`: benchmarks reported as ratios measured side by side.

Other command modules attach their subcommands to ``bench`` (e.g.
``bench.add_command(frontend_cmd)``), so each stage owns its benchmark.
"""

import click


@click.group()
def bench() -> None:
    """Benchmarks (ratios measured in one run; instruction counts on QEMU)."""


def register(main: click.Group) -> None:
    main.add_command(bench)
