"""Command line: the ``maskgen`` group, and the commands it gathers.

Thin click commands over the library: data goes to files, messages to stderr; library errors
become ``click.ClickException``. The core's commands live in :mod:`maskgen.cli.masks` (``masks``,
``demo``), :mod:`maskgen.cli.faces` (``faces``) and :mod:`maskgen.cli.dataset` (``augment``, ``merge``); other installed packages add
theirs through the :data:`COMMAND_GROUP` entry-point group (the trainer's ``train``, ``evaluate``
and ``predict``).
"""
from __future__ import annotations

from importlib.metadata import entry_points

import click

from maskgen import __version__
from maskgen.cli.dataset import augment, merge
from maskgen.cli.faces import faces_command
from maskgen.cli.masks import demo_command, masks_command

COMMAND_GROUP = "maskgen.commands"  # entry-point group through which other packages add commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="maskgen")
def main():
    """Realistic masks on face photos, labelled datasets, and a classifier trainer."""


def _register_commands() -> None:
    """The core's commands, and those that installed packages declare in :data:`COMMAND_GROUP`
    (torch-free at import time)."""
    for command in (masks_command, demo_command, faces_command, augment, merge):
        main.add_command(command)
    for point in sorted(entry_points(group=COMMAND_GROUP), key=lambda p: p.name):
        if point.name not in main.commands:
            main.add_command(point.load(), point.name)


_register_commands()
