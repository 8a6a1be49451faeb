"""Command line: thin click commands over the library.

Data goes to files, messages to stderr; library errors become ``click.ClickException``.
"""
from __future__ import annotations

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="maskgen")
def main():
    """Realistic masks on face photos, labelled datasets, and a classifier trainer."""


@main.command("masks")
def masks_command():
    """List the mask types and wear styles."""
    from .catalog import list_mask_types, describe_mask_type
    from .options import WEAR_STYLES

    click.echo("mask types:")
    for name in list_mask_types():
        click.echo(f"  {name:<12} {describe_mask_type(name)}")
    click.echo("wear styles:")
    for name, text in WEAR_STYLES.items():
        click.echo(f"  {name:<12} {text}")


def _register_optional_commands() -> None:
    """Commands living in other modules (torch-free at import time)."""
    try:
        from .dataset_cli import augment
    except ImportError:
        pass
    else:
        main.add_command(augment)
    try:
        from maskgen_trainer.cli import evaluate, predict, train
    except ImportError:
        pass
    else:
        for command in (train, evaluate, predict):
            main.add_command(command)


_register_optional_commands()
