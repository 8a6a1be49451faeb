"""Command line: thin click commands over the library.

Data goes to files, messages to stderr; library errors become ``click.ClickException``.
"""
from __future__ import annotations

import click

from maskgen import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="maskgen")
def main():
    """Realistic masks on face photos, labelled datasets, and a classifier trainer."""


@main.command("masks")
def masks_command():
    """List the mask types and wear styles."""
    from maskgen.mask.catalog import list_mask_types, describe_mask_type
    from maskgen.mask.options import WEAR_STYLES

    click.echo("mask types:")
    for name in list_mask_types():
        click.echo(f"  {name:<12} {describe_mask_type(name)}")
    click.echo("wear styles:")
    for name, text in WEAR_STYLES.items():
        click.echo(f"  {name:<12} {text}")


@main.command("demo")
@click.argument("out", type=click.Path(file_okay=False), default="demo_out")
@click.option("--image", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Photo to use instead of the built-in astronaut.")
@click.option("--seed", type=int, default=0, show_default=True)
def demo_command(out, image, seed):
    """Mask the built-in photo with every type and wear style; write the images and a contact sheet."""
    from maskgen.demo import run_demo

    try:
        summary = run_demo(out, image, seed)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {summary['images']} images of {summary['faces']} face(s) and contact_sheet.jpg to {out}",
               err=True)


COMMAND_GROUP = "maskgen.commands"  # entry-point group through which other packages add commands


def _register_commands() -> None:
    """The dataset commands, and those that installed packages declare in :data:`COMMAND_GROUP`
    (the trainer's ``train``, ``evaluate`` and ``predict``; torch-free at import time)."""
    from importlib.metadata import entry_points

    from maskgen.cli.dataset import augment, merge

    main.add_command(augment)
    main.add_command(merge)
    for point in sorted(entry_points(group=COMMAND_GROUP), key=lambda p: p.name):
        if point.name not in main.commands:
            main.add_command(point.load(), point.name)


_register_commands()
