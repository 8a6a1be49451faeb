"""``maskgen train``, ``maskgen evaluate`` and ``maskgen predict``.

This module must stay importable without torch: ``maskgen --help`` lists these commands
without paying for torch, and the torch-using modules are imported inside each command.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from click.core import ParameterSource

from .common import TrainerError
from .config import AUGMENT, BALANCE, METRICS, OPTIMIZERS, SCHEDULERS, TrainConfig

DETECTORS = ("hog", "cnn")


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


@click.command("train", context_settings={"show_default": True})
@click.argument("dataset", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: checkpoints, history.csv, plots, validation report.")
@click.option("--epochs", default=30, help="Most epochs (early stopping may end sooner).")
@click.option("--batch-size", default=32, help="Images per batch (per process under torchrun).")
@click.option("--image-size", default=224, help="Side of the square input, in pixels.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="adamw")
@click.option("--lr", type=float, default=None,
              help="Peak learning rate. [default: adamw 1e-3 from scratch, 3e-4 from --pretrained/--weights; "
                   "sgd 0.02 / 0.01, times batch size / 32]")
@click.option("--momentum", default=0.9, help="SGD momentum (Nesterov).")
@click.option("--weight-decay", type=float, default=None, help="[default: sgd 1e-4, adamw 0.05]")
@click.option("--scheduler", type=click.Choice(SCHEDULERS), default="cosine",
              help="Learning-rate schedule after the warm-up, stepped every batch.")
@click.option("--warmup-epochs", default=1.0, help="Linear warm-up length.")
@click.option("--step-size", default=10, help="--scheduler step: epochs between decays.")
@click.option("--gamma", default=0.1, help="--scheduler step: decay factor.")
@click.option("--dropout", default=0.2, help="Dropout before the new classification layer.")
@click.option("--label-smoothing", default=0.0)
@click.option("--pretrained", is_flag=True, help="Start from torchvision's ImageNet weights (downloaded once).")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Start from a local ResNet-50 state dict or maskgen checkpoint.")
@click.option("--metric", type=click.Choice(METRICS), default="val_loss",
              help="Monitored for best.pt and early stopping.")
@click.option("--patience", default=5, help="Epochs without improvement before stopping; 0 = never.")
@click.option("--min-delta", default=0.0, help="Smallest change of --metric that counts as improvement.")
@click.option("--balance", type=click.Choice(BALANCE), default="loss",
              help="Class imbalance: class-weighted loss, balanced sampling, or nothing.")
@click.option("--augment", type=click.Choice(AUGMENT), default="default",
              help="default: crop, flip, colour, greyscale, low resolution; light: crop, flip, colour.")
@click.option("--workers", type=int, default=None, help="DataLoader processes. [default: 1 on CPU, more on CUDA]")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@click.option("--amp/--no-amp", default=None, help="Mixed precision (CUDA only). [default: on with CUDA]")
@click.option("--channels-last/--no-channels-last", default=None, help="[default: on with CUDA]")
@click.option("--sync-bn", is_flag=True, help="Synchronised batch norm across torchrun processes.")
@click.option("--bn-recalibrate", default=0,
              help="Before each validation, re-estimate batch-norm statistics over this many training "
                   "batches (helps small datasets and short runs); 0 = off.")
@click.option("--threads", type=int, default=None,
              help="CPU threads for torch per process. [default on CPU: one per core, less --workers]")
@click.option("--seed", default=0)
@click.option("--log-every", default=50, help="Batches between progress lines; 0 = one line per epoch.")
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
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in options.items()}
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


def _inference_options(fn):
    for decorator in reversed([
        click.option("--checkpoint", "which", default="best",
                     help="best, last, or a file name inside RUN (RUN may also be a .pt file)."),
        click.option("--detector", type=click.Choice(DETECTORS), default="hog",
                     help="maskgen's face detector (cnn: slower, finds more masked faces)."),
        click.option("--upsample", default=1, help="Detector upsampling, for small faces."),
        click.option("--min-score", type=float, default=None,
                     help="Drop detections scoring under this. [default: maskgen's detector default]"),
        click.option("--max-side", default=1600, help="Detect on a copy shrunk to this side (0: never shrink)."),
        click.option("--fallback/--no-fallback", default=True,
                     help="Classify a photo with no face found as a whole, already-cropped face."),
        click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N."),
        click.option("--batch-size", default=64),
        click.option("--workers", type=int, default=None, help="Processes reading photos and finding faces."),
    ]):
        fn = decorator(fn)
    return fn


@click.command("evaluate", context_settings={"show_default": True})
@click.argument("run", type=click.Path(exists=True, path_type=Path))
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--classes", "class_map", default=None, metavar="FOLDER=CLASS,...",
              help="Map DATA's folder names to the model's classes, e.g. "
                   "real_mask=with_mask,no_mask=without_mask; other folders are then ignored.")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder. [default: RUN/eval/<DATA name>]")
@_inference_options
def evaluate(run, data, class_map, out, which, detector, upsample, min_score, max_side, fallback, device, batch_size,
             workers):
    """Evaluate the model in RUN on labelled real photos: DATA/<label>/<photo>.

    Per photo the largest face found is cropped as in training and classified; photos without a
    face are classified whole (unless --no-fallback: then counted as 'no face'). Writes
    metrics.json, predictions.csv, roc.png, confusion.png and examples.png.
    """
    from .common import parse_class_map

    mapping = _run(parse_class_map, class_map)
    from .metrics import format_report
    from .predict import evaluate_photos

    metrics = _run(evaluate_photos, run, data, out, mapping, which, detector, upsample, fallback,
                   max_side or None, device, batch_size, workers, min_score=min_score, log=_err)
    paths = metrics["paths"]
    click.echo(f"{metrics['photos']} photos: {paths['face']} classified by their largest face, "
               f"{paths['whole']} whole (no face found), {paths['no_face']} without a face, not classified"
               + (f", {paths['unreadable']} unreadable" if paths["unreadable"] else ""))
    for kind in ("face", "whole"):
        b = metrics["by_path"][kind]
        if b["n"]:
            click.echo(f"  accuracy via {kind}: {b['accuracy']:.3f} (n={b['n']})")
    if metrics["n"]:
        click.echo(format_report(metrics))
    if not fallback and paths["no_face"]:
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
@_inference_options
def predict(run, images, out, fmt, annotate, which, detector, upsample, min_score, max_side, fallback, device,
            batch_size, workers):
    """Classify every face in IMAGES (files or folders) with the model in RUN.

    For each face: box, label and probability, printed and written to OUT.
    """
    from .predict import predict_images

    result = _run(predict_images, run, list(images), out, which, detector, upsample, fallback, max_side or None,
                  fmt, annotate, device, batch_size, workers, min_score=min_score, log=_err)
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
