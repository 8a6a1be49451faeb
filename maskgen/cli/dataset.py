"""``maskgen augment SRC OUT`` and ``maskgen merge OUT``: thin click commands over
:func:`maskgen.dataset.build.build_dataset` and :func:`maskgen.dataset.merge.merge_shards`.

Data goes to files in OUT; messages (skips, progress, the closing summary) go to stderr.
Exit status: 0 when the run finished (even with skips); 1 when nothing could be processed (or
an unexpected error); 2 for usage errors: bad options, OUT inside SRC, OUT holding a dataset
with other settings, no images in SRC, shards that cannot be merged (missing, unfinished,
duplicated, other settings); 130 when interrupted (rerun the command to resume).
Torch-free, and dask is imported only for ``--runner dask``.
"""
from __future__ import annotations

import sys

import click
from click.core import ParameterSource

from maskgen.cli.options import CALLBACKS, dataset_options, run_option
from maskgen.dataset.config import RUNNERS
from maskgen.dataset.layout import DatasetError


def _runner(ctx: click.Context, runner: str, engine: str | None, scheduler) -> str:
    """``--runner``, or the deprecated ``--engine`` it replaces; a usage error when they disagree."""
    if engine is not None:
        click.echo("note: --engine is deprecated, use --runner (the same values)", err=True)
        if ctx.get_parameter_source("runner") is not ParameterSource.DEFAULT and runner != engine:
            raise click.UsageError(f"--runner {runner} and --engine {engine} disagree (--engine is the old name)")
        runner = engine
    if scheduler is not None and runner != "dask":
        raise click.UsageError("--scheduler is for --runner dask (--engine dask in earlier versions)")
    return runner


@click.command("augment", context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.argument("src", type=click.Path(exists=True, file_okay=True, dir_okay=True, path_type=str))
@click.argument("out", type=click.Path(file_okay=False, dir_okay=True, path_type=str))
@dataset_options
@run_option("workers")
@run_option("runner")
@click.option("--engine", type=click.Choice(RUNNERS), default=None, hidden=True,
              help="Deprecated: the old name of --runner.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="With --runner dask: the scheduler to use (tcp://host:8786)  [default: a local cluster "
                   "of --workers processes]", show_default=False)
@click.option("--shard", default=None, callback=CALLBACKS["shard"], metavar="I/N",
              help="Process only shard I of N (I from 0; a hash of each image's path), for array jobs; "
                   "join the shards with `maskgen merge OUT`.")
@run_option("limit")
@click.option("--overwrite", is_flag=True, help="Delete the dataset already in OUT and rebuild it.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@click.option("-q", "--quiet", is_flag=True, help="No per-file skip messages (they stay in skipped.csv).")
@click.pass_context
def augment(ctx, src, out, workers, runner, engine, scheduler, shard, limit, overwrite, progress, quiet, **settings):
    """Mask every face in the photos under SRC and write a labelled dataset to OUT.

    SRC is a folder (walked recursively; .jpg .jpeg .png .webp .bmp .tif .tiff) or one image.
    OUT gets <split>/<label>/<subfolders of SRC>/<file> (a torchvision ImageFolder per split),
    metadata.csv, skipped.csv, settings.json and, in full-image mode, coco_<split>.json.
    Nothing is written inside SRC. Rerunning the same command resumes an interrupted run.
    --runner dask runs on a dask cluster; --shard I/N runs one part of an array job (docs/scale.md).
    """
    from maskgen.dataset.build import DatasetConfig, build_dataset  # cv2, numpy: not to start the CLI
    from maskgen.dataset.local_runner import prestart_workers

    runner = _runner(ctx, runner, engine, scheduler)
    if runner == "local":
        prestart_workers(workers, settings["detector"], settings["augment"])  # models load while options are checked
    try:
        config = DatasetConfig(**settings).validated()  # mask type, colour, texture: usage errors before any work
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    try:
        summary = build_dataset(src, out, config, workers=workers, progress=progress, limit=limit,
                                overwrite=overwrite, messages=not quiet, runner=runner, scheduler=scheduler,
                                shard=shard)
    except DatasetError as e:  # paths, settings that differ from OUT's, no images in SRC
        raise click.UsageError(str(e)) from None
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: finished images are kept in {out}; run the same command again to resume",
                   err=True)
        sys.exit(130)
    except (ValueError, OSError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(summary.format(), err=True)
    if summary.outputs == 0 and shard is None:
        raise click.ClickException("no image could be processed (every source is listed in "
                                   f"{out}/skipped.csv with its reason)")


@click.command("merge", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("out", type=click.Path(exists=True, file_okay=False, dir_okay=True, path_type=str))
def merge(out):
    """Join the shards of an array job (maskgen augment --shard I/N) into OUT's dataset.

    Writes metadata.csv, skipped.csv, each split's metadata.csv and the COCO files: the same bytes
    as one run with the same settings. Refuses (exit status 2, nothing changed) when shards are
    missing, unfinished or still running, made with different settings, or duplicated.
    """
    from maskgen.dataset.merge import merge_shards

    try:
        summary = merge_shards(out)
    except DatasetError as e:
        raise click.UsageError(str(e)) from None
    except OSError as e:
        raise click.ClickException(str(e)) from None
    click.echo(summary.format(), err=True)
    if summary.outputs == 0:
        raise click.ClickException(f"the merged dataset holds no image (see {out}/skipped.csv)")
