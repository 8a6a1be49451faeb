"""Click options built from the library's settings table (:data:`maskgen.dataset.config.OPTIONS`).

Each option's default, range or choices and help come from the table, never from here, so the
command line and :meth:`maskgen.DatasetConfig.validated` cannot disagree. Detector choices are
:data:`maskgen.detect.faces.DETECTORS`, read when first needed (dlib is not imported to start the CLI).
"""
from __future__ import annotations

from typing import Callable

import click

from maskgen.dataset.config import OPTIONS, RUN_OPTION, Option, resolve_augment
from maskgen.dataset.shards import parse_shard
from maskgen.dataset.sources import parse_split
from maskgen.mask.options import parse_wear


class LazyChoice(click.Choice):
    """A :class:`click.Choice` whose choices are asked for when first needed."""

    def __init__(self, choices: Callable[[], tuple], case_sensitive: bool = True):
        self._choices = choices
        self._resolved: tuple | None = None
        self.case_sensitive = case_sensitive

    @property
    def choices(self) -> tuple:
        if self._resolved is None:
            self._resolved = tuple(self._choices())
        return self._resolved


def _checked_by(parse: Callable) -> Callable:
    """A click callback: ``parse(value)`` (None stays None), a bad value a usage error."""

    def callback(ctx, param, value):
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as e:
            raise click.BadParameter(str(e)) from None

    return callback


def _check_wear(value):
    parse_wear(value)
    return value


CALLBACKS = {"wear": _checked_by(_check_wear), "split": _checked_by(parse_split),
             "augment": _checked_by(resolve_augment), "shard": _checked_by(parse_shard)}


def click_type(option: Option):
    """The click type of a setting: its choices, its range, or its kind."""
    if option.choices is not None:
        return LazyChoice(option.allowed) if callable(option.choices) else click.Choice(option.choices)
    if option.kind in (int, float) and (option.low is not None or option.high is not None):
        kind = click.IntRange if option.kind is int else click.FloatRange
        return kind(option.low, option.high)
    return {int: click.INT, float: click.FLOAT}.get(option.kind, click.STRING)


def _cli_default(value):
    if isinstance(value, tuple):  # a split: the text one types
        return ",".join(f"{v:g}" for v in value)
    return value


def option(spec: Option, **overrides) -> Callable:
    """The click option of one setting (its flag, type, default and help from ``spec``)."""
    kwargs = dict(type=click_type(spec), default=_cli_default(spec.default), help=spec.help,
                  metavar=spec.metavar, callback=CALLBACKS.get(spec.name), show_default=spec.show_default)
    flag = spec.cli_flag
    if spec.kind is bool:  # a switch: --name / --no-name
        kwargs.update(type=None, is_flag=True, metavar=None)
        flag = f"{flag}/--no-{flag[2:]}"
    kwargs.update(overrides)
    return click.option(flag, spec.name, **kwargs)


def dataset_options(f: Callable) -> Callable:
    """Every setting of :class:`~maskgen.DatasetConfig` that has a flag, in the table's order."""
    for spec in reversed([o for o in OPTIONS if o.cli_flag is not None]):
        f = option(spec)(f)
    return f


def run_option(name: str, **overrides) -> Callable:
    """The click option of one run setting (:data:`maskgen.dataset.config.RUN_OPTIONS`)."""
    return option(RUN_OPTION[name], **overrides)
