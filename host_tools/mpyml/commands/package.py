"""`mpyml package`: write and verify model packages."""

from __future__ import annotations

import click


class _PackageGroup(click.Group):
    """`mpyml package RUN [OUT]` writes; `mpyml package verify DIR` checks."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


@click.group("package", cls=_PackageGroup)
def package_group() -> None:
    """Model packages: `mpyml package RUN [OUT]`, `mpyml package verify DIR`."""


@package_group.command("create")
@click.argument("run")
@click.argument("out", required=False, type=click.Path(file_okay=False))
@click.option("--name", default=None, help="Package name (default: the run name).")
@click.option("--version", "version", default="1.0.0", show_default=True)
@click.option("--threshold", type=float, default=None, help="Override the evaluated deployment threshold.")
@click.option("--c-header", is_flag=True, help="Also write model.h (C array).")
@click.option("--frozen-module", is_flag=True, help="Also write a .py module with the bytes, to freeze into firmware.")
def create_cmd(run, out, name, version, threshold, c_header, frozen_module) -> None:
    """Package RUN into OUT (default: RUN/artifacts/package)."""
    from pathlib import Path

    from ..package import package_run, verify_package
    from ..runs import open_run

    r = open_run(run)
    w = package_run(r, Path(out) if out else None, name=name, version=version, threshold=threshold,
                    header=c_header, frozen=frozen_module, echo=click.echo)
    verify_package(w.folder)
    for f in w.files:
        click.echo(f"  {f.name:28s} {f.stat().st_size:>9,d} B")


@package_group.command("verify")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--mpyml", "use_mpyml", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True)
def verify_cmd(folder: str, use_mpyml: str) -> None:
    """Check a package: manifest fields, sha256, tensor contracts, ops, golden output."""
    from pathlib import Path

    from ..package import verify_package

    for c in verify_package(Path(folder), use_mpyml=use_mpyml):
        click.echo(f"ok  {c.name:30s} {c.detail}")
    click.echo(f"{folder}: package verified")


def register(main: click.Group) -> None:
    main.add_command(package_group)
