"""Checkpoints: plain containers of tensors and primitives, loaded with ``weights_only=True``.

A checkpoint (``last.pt``, ``best.pt``) holds::

    format, arch, epoch, classes,
    preprocessing {image_size, mean, std, crop_margin, dataset_crop_margin, train_zoom, margin_range},
    config (TrainConfig as a dict), history (one dict per epoch), best {metric, mode, value, epoch},
    early_stopping {best, best_epoch, bad_epochs, stopped}, model, optimizer, scheduler, scaler (state dicts)

and, for runs with ``--subclasses``, ``subclasses`` (what the model scores: ``incorrect_mask/chin``...)
and ``class_of`` (the index in ``classes`` of each); for runs with ``--ema``, ``trained_model`` (the weights the optimizer moves; ``model`` is then
their moving average, what validation and prediction use) and ``ema {decay, updates}``,

so resuming and prediction need nothing but the file, and ``torch.load`` can never run code from it.
"""
from __future__ import annotations

from pathlib import Path

import torch

from maskgen.crops import DEFAULT_MARGIN, MARGIN_RANGE
from maskgen.atomic import atomic_open, copy_atomic

from .config import TrainConfig
from .data import train_zoom
from .errors import TrainerError
from .model import IMAGENET_MEAN, IMAGENET_STD
from .stopping import EarlyStopping

CHECKPOINT_FORMAT = "maskgen-trainer/1"
ARCH = "resnet50"


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain model inside DDP / torch.compile wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def model_state(model: torch.nn.Module) -> dict:
    """State dict on the CPU, contiguous (channels-last tensors saved in the standard layout)."""
    return {k: v.detach().cpu().contiguous() for k, v in unwrap(model).state_dict().items()}


def prediction_margin(crop_margin: float, zoom: float) -> float:
    """The margin at which a face, cut and resized, looks as large as training showed it: the
    training crops' mean side, ``1 + 2 * crop_margin`` face sides, times the train-time ``zoom``
    (:func:`~trainer.data.train_zoom`)."""
    return ((1.0 + 2.0 * crop_margin) * zoom - 1.0) / 2.0


def preprocessing(image_size: int, augment: str = "default", crop_margin: float = DEFAULT_MARGIN,
                  crop_drop: float = 0.0) -> dict:
    """What prediction must do to a face before the model sees it: the square around the face at
    ``crop_margin`` (the mean margin of the training crops, maskgen's by default) narrowed by the
    train-time zoom, its centre ``crop_drop`` of the face side below the box's (as the training crops'),
    resized to ``image_size``, normalised."""
    zoom = train_zoom(augment)
    return {"image_size": int(image_size), "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
            "crop_margin": prediction_margin(crop_margin, zoom), "dataset_crop_margin": float(crop_margin),
            "crop_drop": float(crop_drop or 0.0),
            "train_zoom": zoom, "margin_range": [float(v) for v in MARGIN_RANGE],
            "resize": "square crop resized to image_size"}


def assemble(epoch: int, config: TrainConfig, classes: list[str], history: list[dict], stopper: EarlyStopping,
             model, optimizer, scheduler, scaler, ema=None, subclasses: list[str] | None = None,
             class_of: list[int] | None = None) -> dict:
    """The checkpoint of a run after ``epoch``: everything resuming and prediction need."""
    weights = {"model": model_state(model)} if ema is None else {
        "model": model_state(ema.module), "trained_model": model_state(model), "ema": ema.state()}
    parts = {} if class_of is None else {"subclasses": list(subclasses), "class_of": [int(c) for c in class_of]}
    return {"format": CHECKPOINT_FORMAT, "arch": ARCH, "epoch": epoch, "classes": list(classes), **parts,
            "preprocessing": preprocessing(config.image_size, config.augment, config.crop_margin, config.crop_drop),
            "config": config.to_dict(), "history": history,
            "best": {"metric": config.metric, "mode": config.mode, "value": stopper.best,
                     "epoch": stopper.best_epoch},
            "early_stopping": stopper.state_dict(),
            **weights, "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict() if scaler else {}}


def outputs(checkpoint: dict) -> list[str]:
    """What the checkpoint's model scores, one name per output: its subclasses, else its classes."""
    return list(checkpoint.get("subclasses") or checkpoint["classes"])


def class_of(checkpoint: dict) -> list[int] | None:
    """The class index of each subclass output, or None for a model that scores its classes directly."""
    return list(checkpoint["class_of"]) if checkpoint.get("subclasses") else None


def save(path: Path, checkpoint: dict) -> None:
    """Write atomically: a crash never leaves half a checkpoint under the final name."""
    with atomic_open(path, "wb") as fh:
        torch.save(checkpoint, fh)


def copy(source: Path, target: Path) -> None:
    """``source`` copied to ``target`` atomically (``last.pt`` -> ``best.pt``).

    A hard link where the file system allows it: :func:`save` always writes a new file, so the
    next ``last.pt`` never changes ``best.pt``, and a run keeps one checkpoint's worth of disk
    until the next improvement.
    """
    copy_atomic(source, target)


def load(path: Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise TrainerError(f"checkpoint {path} not found")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrainerError(f"cannot load checkpoint {path}: {first}") from exc
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise TrainerError(f"{path} is not a maskgen trainer checkpoint")
    if data.get("arch") != ARCH:
        raise TrainerError(f"{path}: unsupported architecture {data.get('arch')!r}")
    return data


def resolve(run_or_file, which: str = "best") -> Path:
    """A checkpoint file from a run folder (``best.pt``, else ``last.pt``) or a file path.

    ``which`` is ``best``, ``last`` or a file name inside the run folder.
    """
    path = Path(run_or_file)
    if path.is_file():
        return path
    if not path.is_dir():
        raise TrainerError(f"{path}: no such run folder or checkpoint file")
    names = {"best": ["best.pt", "last.pt"], "last": ["last.pt"]}.get(which, [which])
    for name in names:
        if (path / name).is_file():
            return path / name
    raise TrainerError(f"{path} holds no checkpoint ({' or '.join(names)}); train first with `maskgen train`")
