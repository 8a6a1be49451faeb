"""``maskgen train``, ``maskgen evaluate`` and ``maskgen predict``.

This module must stay importable without torch: ``maskgen --help`` lists these commands
without paying for torch, and the torch-using modules are imported inside each command.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from click.core import ParameterSource

from .config import InferenceOptions, TrainConfig, option_fields
from .errors import TrainerError


def _err(message: str) -> None:
    click.echo(message, err=True)


def _run(fn, *args, **kwargs):
    """Call into the library; user-facing errors become one-line ClickExceptions."""
    try:
        return fn(*args, **kwargs)
    except TrainerError as exc:
        raise click.ClickException(str(exc)) from None
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in ("torch", "torchvision", "sklearn", "matplotlib"):
            raise click.ClickException(
                f"{exc.name} is missing: install the trainer's extra with `pip install 'maskgen[train]'`") from None
        raise


def _click_type(meta):
    """The click type of an option: its choices, its range, a file path, or its plain type."""
    kind, lo, hi = meta["kind"], meta["min"], meta["max"]
    if meta["choices"]:
        return click.Choice(meta["choices"])
    if kind == "file":
        return click.Path(dir_okay=False)
    if kind is int and (lo is not None or hi is not None):
        return click.IntRange(lo, hi)
    if kind is float and (lo is not None or hi is not None):
        return click.FloatRange(lo, hi, max_open=meta["max_open"])
    return kind


def options_of(cls):
    """A decorator adding one click option per field of ``cls`` (see :func:`maskgen_trainer.config.option`):
    default, choices, range and help come from the dataclass, nowhere else."""

    def decorate(fn):
        for f in reversed(option_fields(cls)):
            meta = f.metadata
            flag = "--" + (meta["name"] or f.name).replace("_", "-")
            kwargs = {"default": f.default, "help": meta["help"] or None}
            if meta["kind"] is bool and meta["flag"]:
                fn = click.option(flag, f.name, is_flag=True, **kwargs)(fn)
            elif meta["kind"] is bool:
                fn = click.option(f"{flag}/--no-{flag[2:]}", f.name, **kwargs)(fn)
            else:
                fn = click.option(flag, f.name, type=_click_type(meta), **kwargs)(fn)
        return fn

    return decorate


@click.command("train", context_settings={"show_default": True})
@click.argument("dataset", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: checkpoints, history.csv, plots, validation report.")
@options_of(TrainConfig)
@click.option("--resume", is_flag=True,
              help="Continue the run in --out from last.pt; options given again override the stored ones.")
@click.option("--overwrite", is_flag=True, help="Start afresh even if --out already holds a run.")
@click.pass_context
def train(ctx, dataset, out, resume, overwrite, **options):
    """Train ResNet-50 on DATASET (written by `maskgen augment ... --crop face`).

    Reads DATASET/train/<label>/... and DATASET/val/<label>/...; writes last.pt, best.pt,
    history.csv, plots/ and the validation report val/ into --out. Under
    `torchrun --nproc_per_node=N -m maskgen_trainer train ...` it trains with DDP.
    """
    if resume:
        given = {k: v for k, v in options.items()
                 if ctx.get_parameter_source(k) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)}
        given["dataset"] = str(dataset)
        from .train import resume_config

        config = _run(resume_config, out, given)
    else:
        config = _run(TrainConfig, dataset=str(dataset), out=str(out), **options)
    from .train import train as run_training

    summary = _run(run_training, config, resume=resume, overwrite=overwrite, log=_err)
    if "val" in summary:
        v = summary["val"]
        click.echo(f"{out}: {summary['epochs_run']} epochs{' (stopped early)' if summary['stopped_early'] else ''}, "
                   f"best epoch {summary['best_epoch']}: validation accuracy {v['accuracy']:.3f}, "
                   f"AUC {v['auc']:.3f}")


ensemble_option = click.option(
    "--ensemble", "ensemble", multiple=True, type=click.Path(exists=True, path_type=Path), metavar="RUN",
    help="Another run (or .pt file) classifying with RUN: the class probabilities of all are averaged. "
         "Repeat for more. All must have the same classes, --image-size and --crop-margin.")


def _runs(run: Path, ensemble: tuple[Path, ...]):
    return [run, *ensemble] if ensemble else run


@click.command("evaluate", context_settings={"show_default": True})
@click.argument("run", type=click.Path(exists=True, path_type=Path))
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--classes", "class_map", default=None, metavar="FOLDER=CLASS,...",
              help="Map DATA's folder names to the model's classes, e.g. "
                   "real_mask=with_mask,no_mask=without_mask; other folders are then ignored.")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder. [default: RUN/eval/<DATA name>]")
@ensemble_option
@options_of(InferenceOptions)
def evaluate(run, data, class_map, out, ensemble, **settings):
    """Evaluate the model in RUN on labelled real photos: DATA/<label>/<photo>.

    Per photo the largest face found is cropped as in training and classified; photos without a
    face are classified whole (unless --no-fallback: then counted as 'no face'). Writes
    metrics.json, predictions.csv, roc.png, confusion.png and examples.png.
    """
    from .photos import parse_class_map

    mapping = _run(parse_class_map, class_map)
    from .metrics import format_report
    from .predict import evaluate_photos

    metrics = _run(evaluate_photos, _runs(run, ensemble), data, out, mapping, _run(InferenceOptions, **settings), log=_err)
    paths = metrics["paths"]
    share = paths["face"] / metrics["photos"] if metrics["photos"] else 0.0
    click.echo(f"{metrics['photos']} photos: {paths['face']} classified by their largest face "
               f"({100 * share:.1f}%, found by {metrics['detector']}), "
               f"{paths['whole']} whole (no face found), {paths['no_face']} without a face, not classified"
               + (f", {paths['unreadable']} unreadable" if paths["unreadable"] else ""))
    for kind in ("face", "whole"):
        b = metrics["by_path"][kind]
        if b["n"]:
            click.echo(f"  accuracy via {kind}: {b['accuracy']:.3f} (n={b['n']})")
    if metrics["n"]:
        click.echo(format_report(metrics))
    if not settings["fallback"] and paths["no_face"]:
        click.echo(f"accuracy counting photos without a face as wrong: {metrics['accuracy_all_photos']:.3f}")
    click.echo(f"outputs in {metrics['out']}")


@click.command("predict", context_settings={"show_default": True})
@click.argument("run", type=click.Path(exists=True, path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder. [default: RUN/predict]")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "both"]), default="both",
              help="predictions.csv (one row per face) and/or predictions.json (one entry per image).")
@click.option("--annotate/--no-annotate", default=True, help="Write copies with boxes and labels to OUT/annotated.")
@ensemble_option
@options_of(InferenceOptions)
def predict(run, images, out, fmt, annotate, ensemble, **settings):
    """Classify every face in IMAGES (files or folders) with the model in RUN.

    For each face: box, label and probability, printed and written to OUT.
    """
    from .predict import predict_images

    result = _run(predict_images, _runs(run, ensemble), list(images), out, fmt, annotate, _run(InferenceOptions, **settings), log=_err)
    images_done = result["images"]
    paths = {k: sum(r["path"] == k for r in images_done) for k in ("face", "whole", "no_face", "unreadable")}
    faces = sum(len(r["faces"]) for r in images_done if r["path"] == "face")
    click.echo(f"{len(images_done)} images: {faces} faces found in {paths['face']}; {paths['whole']} classified whole "
               f"(no face found), {paths['no_face']} without a face"
               + (f", {paths['unreadable']} unreadable" if paths["unreadable"] else "")
               + f"; outputs in {result['out']}")


@click.group()
def main():
    """The trainer's commands on their own (e.g. under torchrun: python -m maskgen_trainer train ...)."""


main.add_command(train)
main.add_command(evaluate)
main.add_command(predict)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
