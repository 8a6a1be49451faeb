"""``maskgen augment SRC OUT`` and ``maskgen merge OUT``: thin click commands over
:func:`maskgen.dataset.build.build_dataset` and :func:`maskgen.dataset.shards.merge_shards`.

Data goes to files in OUT; messages (skips, progress, the closing summary) go to stderr.
Exit status: 0 when the run finished (even with skips); 1 when nothing could be processed (or
an unexpected error); 2 for usage errors: bad options, OUT inside SRC, OUT holding a dataset
with other settings, no images in SRC, shards that cannot be merged (missing, unfinished,
duplicated, other settings); 130 when interrupted (rerun the command to resume).
Torch-free, and dask is imported only for ``--engine dask``.
"""
from __future__ import annotations

import sys

import click


def _fraction_list(ctx, param, value):
    if value is None:
        return None
    from maskgen.dataset.build import parse_split

    try:
        return parse_split(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _wear(ctx, param, value):
    from maskgen.mask.options import parse_wear

    try:
        parse_wear(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    return value


def _augment(ctx, param, value):
    from maskgen.dataset.build import resolve_augment

    try:
        return resolve_augment(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _max_pixels(ctx, param, value):
    return None if value == 0 else value


def _shard(ctx, param, value):
    from maskgen.dataset.sources import parse_shard

    try:
        return parse_shard(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@click.command("augment", context_settings={"help_option_names": ["-h", "--help"],
                                            "show_default": True})
@click.argument("src", type=click.Path(exists=True, file_okay=True, dir_okay=True, path_type=str))
@click.argument("out", type=click.Path(file_okay=False, dir_okay=True, path_type=str))
@click.option("--mask-type", default="random", metavar="TYPE[,TYPE...]|random",
              help="Mask type(s) to draw from; see `maskgen masks`.")
@click.option("--color", default=None, metavar="HEX|NAME|random",
              help="Mask colour; default: each type's realistic palette.")
@click.option("--texture", default=None, metavar="NAME|FILE|none|random",
              help="Texture or pattern; default: each type's usual texture.")
@click.option("--texture-strength", type=click.FloatRange(0, 1), default=None,
              help="Texture strength 0..1; default: sampled.")
@click.option("--wear", default="correct", callback=_wear, metavar="STYLE|MIX",
              help="Wear style (correct, nose, chin) or a mix such as correct=0.7,nose=0.2,chin=0.1. "
                   "nose and chin give the incorrect_mask label.")
@click.option("--seed", type=int, default=0, help="Run seed; each image's seed derives from it and its path.")
@click.option("--detector", type=click.Choice(["hog", "cnn", "none"]), default="hog",
              help="Face detector; 'none' when the inputs are already face crops.")
@click.option("--upsample", type=click.IntRange(0, 4), default=1,
              help="Upsample the image this many times before detection (finds smaller faces, slower).")
@click.option("--crop", type=click.Choice(["full", "face"]), default="full",
              help="full: whole images with every face masked (plus COCO files); face: one square crop per face.")
@click.option("--crop-size", type=click.IntRange(16, 4096), default=224, help="Side of face crops in pixels.")
@click.option("--variants", type=click.IntRange(1, 1000), default=1,
              help="Masked variants per image (full) or per face (face).")
@click.option("--negatives", type=click.FloatRange(0, 100), default=1.0, metavar="RATIO",
              help="Unmasked (without_mask) outputs per masked variant; fractions are drawn per image.")
@click.option("--split", "split", default="0.8,0.1,0.1", callback=_fraction_list, metavar="TRAIN,VAL,TEST",
              help="Split fractions, assigned by identity (first-level subfolder of SRC, else the image).")
@click.option("--augment", "augment_spec", default="light", callback=_augment, metavar="none|light|heavy|FILE",
              help="Augmentation preset or a config file (.toml or .json).")
@click.option("--workers", type=click.IntRange(1, 1024), default=None,
              help="Worker processes (with --engine dask and no --scheduler: the local cluster's)  "
                   "[default: all cores]", show_default=False)
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
              help="local: this machine's cores; dask: tasks on a dask.distributed cluster "
                   "(extra maskgen[dask]); both write the same bytes.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="With --engine dask: the scheduler to use (tcp://host:8786)  [default: a local cluster "
                   "of --workers processes]", show_default=False)
@click.option("--shard", default=None, callback=_shard, metavar="I/N",
              help="Process only shard I of N (I from 0; a hash of each image's path), for array jobs; "
                   "join the shards with `maskgen merge OUT`.")
@click.option("--limit", type=click.IntRange(0, None), default=None,
              help="Process at most N new images (a trial run; a later run carries on).")
@click.option("--overwrite", is_flag=True, help="Delete the dataset already in OUT and rebuild it.")
@click.option("--max-pixels", type=click.IntRange(0, None), default=50_000_000, callback=_max_pixels,
              help="Skip images with more pixels than this (checked before decoding; 0: no limit).")
@click.option("--format", "image_format", type=click.Choice(["jpg", "png", "webp"]), default="jpg",
              help="Output image format.")
@click.option("--quality", type=click.IntRange(1, 100), default=95, help="JPEG / WebP quality.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@click.option("-q", "--quiet", is_flag=True, help="No per-file skip messages (they stay in skipped.csv).")
def augment(src, out, mask_type, color, texture, texture_strength, wear, seed, detector, upsample, crop,
            crop_size, variants, negatives, split, augment_spec, workers, engine, scheduler, shard, limit,
            overwrite, max_pixels, image_format, quality, progress, quiet):
    """Mask every face in the photos under SRC and write a labelled dataset to OUT.

    SRC is a folder (walked recursively; .jpg .jpeg .png .webp .bmp .tif .tiff) or one image.
    OUT gets <split>/<label>/<subfolders of SRC>/<file> (a torchvision ImageFolder per split),
    metadata.csv, skipped.csv, settings.json and, in full-image mode, coco_<split>.json.
    Nothing is written inside SRC. Rerunning the same command resumes an interrupted run.
    --engine dask runs on a dask cluster; --shard I/N runs one part of an array job (docs/scale.md).
    """
    from maskgen.dataset.build import DatasetConfig, DatasetError, build_dataset, prestart_workers

    if scheduler is not None and engine != "dask":
        raise click.UsageError("--scheduler is for --engine dask")
    if engine == "local":
        prestart_workers(workers, detector)  # workers load models while the options are checked
    raw = DatasetConfig(
        mask_type=mask_type, color=color, texture=texture, texture_strength=texture_strength, wear=wear,
        seed=seed, detector=detector, upsample=upsample, crop=crop, crop_size=crop_size, variants=variants,
        negatives=negatives, split=split, augment=augment_spec, image_format=image_format, quality=quality,
        max_pixels=max_pixels)
    try:
        config = raw.validated()  # mask type, colour, texture: usage errors before any work
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    try:
        summary = build_dataset(src, out, config, workers=workers, progress=progress, limit=limit,
                                overwrite=overwrite, messages=not quiet, engine=engine, scheduler=scheduler,
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
    from maskgen.dataset.build import DatasetError
    from maskgen.dataset.shards import merge_shards

    try:
        summary = merge_shards(out)
    except DatasetError as e:
        raise click.UsageError(str(e)) from None
    except OSError as e:
        raise click.ClickException(str(e)) from None
    click.echo(summary.format(), err=True)
    if summary.outputs == 0:
        raise click.ClickException(f"the merged dataset holds no image (see {out}/skipped.csv)")
