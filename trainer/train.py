"""``maskgen train``: ResNet-50 on a generated dataset, with checkpoints, history and plots.

Read it like torchvision's reference ``train.py``: :func:`train` sets up (:func:`set_up`),
then each epoch is :func:`~maskgen_trainer.loop.train_one_epoch` followed by
:func:`~maskgen_trainer.loop.evaluate` (:func:`run_epoch`), the checkpoint is written and early
stopping consulted; :func:`finish` draws the plots and reports on the best checkpoint.

Library use::

    from maskgen_trainer.config import TrainConfig
    from maskgen_trainer.train import train, resume
    summary = train(TrainConfig(dataset="data/masked", out="runs/r50", epochs=20, image_size=128))
    summary = resume("runs/r50", epochs=30)  # continue the same run for more epochs
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from maskgen.images import read_image

from . import checkpoint as ckpt
from . import distributed as D
from .config import FROZEN_ON_RESUME, TrainConfig
from .data import (Loaders, build_loaders, class_counts, class_weights, cpu_threads, dataset_crop_drop, default_workers,
                   make_loader)
from .ema import WeightAverage
from .errors import TrainerError
from .files import write_csv, write_json
from .loop import Normalizer, autocast_for, evaluate, predict_logits, recalibrate_batchnorm, stderr_log, train_one_epoch
from .metrics import collapse_to_classes, softmax
from .model import IMAGENET_MEAN, IMAGENET_STD, build_model, initial_weights
from .optim import make_optimization
from .stopping import EarlyStopping


def resume_config(out, overrides: dict | None = None) -> TrainConfig:
    """The configuration stored in ``out/last.pt`` with ``overrides`` applied (not the frozen ones)."""
    data = ckpt.load(Path(out) / "last.pt")
    stored = dict(data["config"])
    for key, value in (overrides or {}).items():
        if key in FROZEN_ON_RESUME and value != stored.get(key):
            raise TrainerError(f"--{key.replace('_', '-')} cannot change when resuming "
                               f"(the run used {stored.get(key)!r})")
        stored[key] = value
    stored["out"] = str(out)
    return TrainConfig.from_dict(stored)


def resume(out, log=stderr_log, **overrides) -> dict:
    """Continue the run in ``out`` from its ``last.pt`` (e.g. with more ``epochs``)."""
    return train(resume_config(out, overrides), resume=True, log=log)


def train(config: TrainConfig, resume: bool = False, overwrite: bool = False, log=stderr_log) -> dict:
    """Train (or, with ``resume``, continue) a run; returns a summary dict. Works under torchrun."""
    if config.threads:
        torch.set_num_threads(config.threads)
    if config.crop_drop is None:  # prediction must frame faces as the dataset's crops were framed
        config = replace(config, crop_drop=dataset_crop_drop(config.dataset))
    info, device = D.init(config.device)
    try:
        run = set_up(config, previous_state(Path(config.out), resume, overwrite), info, device,
                     log if info.main else (lambda *_: None))
        started = time.perf_counter()
        epoch = run.start_epoch - 1
        for epoch in range(run.start_epoch, config.epochs + 1):
            run_epoch(run, epoch)
            if run.stopper.should_stop:
                run.log(f"early stopping: {config.metric} has not improved by more than {config.min_delta} for "
                        f"{config.patience} epochs (best {run.stopper.best:.4f} at epoch {run.stopper.best_epoch})")
                break
        return finish(run, epoch, time.perf_counter() - started)
    finally:
        D.cleanup(info)


# ---------------------------------------------------------------- set-up


@dataclass
class Run:
    """Everything one process of a training run holds."""

    config: TrainConfig
    info: D.DistInfo
    device: torch.device
    workers: int
    data: Loaders
    model: nn.Module  # the plain model (checkpoints, batch-norm recalibration)
    net: nn.Module  # what is trained: the model, or DDP around it
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: object
    normalize: Normalizer
    autocast: object
    stopper: EarlyStopping
    start_epoch: int = 1
    history: list[dict] = field(default_factory=list)
    log: object = stderr_log
    ema: WeightAverage | None = None  # --ema: the moving average validated, kept as best.pt, predicted with

    @property
    def judged(self) -> nn.Module:
        """The model validation scores and ``best.pt`` keeps: the weight average, else the trained model."""
        return self.net if self.ema is None else self.ema.module

    @property
    def out(self) -> Path:
        return Path(self.config.out)

    @property
    def classes(self) -> list[str]:
        return self.data.train_set.classes


def previous_state(out: Path, resume: bool, overwrite: bool) -> dict | None:
    """The checkpoint to resume from (``out/last.pt``), or None for a new run (never over an old one
    unless ``overwrite``)."""
    if resume:
        return ckpt.load(out / "last.pt")
    if (out / "last.pt").exists() and not overwrite:
        raise TrainerError(f"{out} already holds a run (last.pt): pass --resume to continue it, "
                           f"--overwrite to start again, or choose another --out")
    return None


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _prepare_model(config: TrainConfig, num_classes: int, state: dict | None, info: D.DistInfo, device,
                   channels_last: bool) -> tuple[nn.Module, nn.Module, str]:
    """The model (fresh, from starting weights, or resumed), on the device; DDP around it under torchrun."""
    _seed_everything(config.seed)
    model = build_model(num_classes, config.dropout)
    if state is None:
        source = initial_weights(model, config.pretrained, config.weights)
    else:
        model.load_state_dict(state.get("trained_model", state["model"]))  # with --ema, "model" is the average
        source = f"resumed from {Path(config.out) / 'last.pt'} (epoch {state['epoch']})"
        _seed_everything(config.seed + int(state["epoch"]) + 1)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.to(device)
    if info.enabled and config.sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    net = model
    if info.enabled:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    return model, net, source


def set_up(config: TrainConfig, state: dict | None, info: D.DistInfo, device, log) -> Run:
    """Data, model, loss, optimizer, schedule and early stopping of a new or resumed run."""
    cuda = device.type == "cuda"
    amp = cuda if config.amp is None else config.amp
    channels_last = True if config.channels_last is None else config.channels_last
    workers = default_workers(device.type) if config.workers is None else config.workers
    if not cuda and not config.threads:
        torch.set_num_threads(cpu_threads(workers))
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    start_epoch = 1 if state is None else int(state["epoch"]) + 1
    data = build_loaders(config, info.rank, info.world_size, workers, pin_memory=cuda, start_epoch=start_epoch)
    classes, outputs = data.train_set.classes, data.train_set.outputs
    if state is not None and list(state["classes"]) != classes:
        raise TrainerError(f"the dataset's classes {classes} differ from the run's {list(state['classes'])}")
    if state is not None and list(ckpt.outputs(state)) != outputs:
        raise TrainerError(f"the dataset's subclasses {outputs} differ from the run's {list(ckpt.outputs(state))}")
    model, net, source = _prepare_model(config, len(outputs), state, info, device, channels_last)
    if info.main:
        Path(config.out).mkdir(parents=True, exist_ok=True)
        write_json(Path(config.out) / "config.json",
                   {**config.to_dict(), "classes": classes, "world_size": info.world_size})
    counts = class_counts(data.train_set.targets, len(classes))
    log(f"{len(data.train_set)} training and {len(data.val_set)} validation images; classes "
        + ", ".join(f"{c} ({n})" for c, n in zip(classes, counts))
        + ("" if data.train_set.class_of is None else "; subclasses " + ", ".join(
            f"{c} ({n})" for c, n in zip(outputs, class_counts(data.train_set.output_targets, len(outputs))))))
    log(f"ResNet-50, {source}; device {device}" + (f" x{info.world_size} processes" if info.enabled else "")
        + f", {'AMP, ' if amp else ''}{'channels-last, ' if channels_last else ''}{workers} loader workers"
        + ("" if cuda else f", {torch.get_num_threads()} compute threads")
        + (f"; validated and kept as a moving average of the weights (decay {config.ema:g})" if config.ema else ""))

    weights = (class_weights(data.train_set.targets, len(classes), data.train_set.class_of).to(device)
               if config.balance == "loss" else None)
    autocast, amp_dtype = autocast_for(device, amp)
    optimizer, scheduler, scaler = make_optimization(model, config, len(data.train), amp_dtype, state)
    stopper = EarlyStopping(config.mode, config.patience, config.min_delta)
    if state is not None:
        stopper = EarlyStopping.resumed(config.mode, config.patience, config.min_delta, state["early_stopping"])
        if start_epoch > config.epochs:
            log(f"the run already has {state['epoch']} epochs; pass a larger --epochs to continue")
    ema = None
    if config.ema:
        ema = WeightAverage(model, config.ema)
        if state is not None:
            ema.restore(state["model"], state["ema"])
    return Run(config, info, device, workers, data, model, net,
               nn.CrossEntropyLoss(weight=weights, label_smoothing=config.label_smoothing), optimizer, scheduler,
               scaler, Normalizer(IMAGENET_MEAN, IMAGENET_STD, device, channels_last), autocast, stopper,
               start_epoch, [] if state is None else [dict(r) for r in state["history"]], log, ema)


# ---------------------------------------------------------------- one epoch


def run_epoch(run: Run, epoch: int) -> dict:
    """Train one epoch, evaluate, record the history row, write the checkpoints; returns the row."""
    config, started = run.config, time.perf_counter()
    run.data.sampler.set_epoch(epoch)
    stats = train_one_epoch(run.net, run.criterion, run.optimizer, run.data.train, run.normalize, run.scheduler,
                            run.scaler, run.autocast, epoch, config.log_every, run.log,
                            None if run.ema is None else (lambda: run.ema.update(run.model)))
    loss_sum, correct, seen, data_wait = D.all_reduce_sum(
        [stats["loss_sum"], stats["correct"], stats["images"], stats["data_wait"]], run.info, run.device)
    if config.bn_recalibrate:
        judged = run.model if run.ema is None else run.ema.module
        recalibrate_batchnorm(judged, run.data.train, run.normalize, config.bn_recalibrate, run.autocast)
        D.average_buffers(judged, run.info)
    m = evaluate(run.judged, run.data.val, run.data.val_indices, run.data.val_set.targets, run.classes,
                 run.normalize, run.autocast, run.info, class_of=run.data.val_set.class_of)
    row = {"epoch": epoch, "lr": float(run.optimizer.param_groups[0]["lr"]),
           "train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1),
           "val_loss": m["loss"], "val_acc": m["accuracy"], "val_balanced_acc": m["balanced_accuracy"],
           "val_auc": m["auc"]}
    for c in run.classes:
        row[f"val_precision_{c}"] = m["per_class"][c]["precision"]
        row[f"val_recall_{c}"] = m["per_class"][c]["recall"]
    row.update({"train_images": int(seen), "train_time_s": stats["time"],
                "images_per_s": seen / stats["time"] if stats["time"] > 0 else float("nan"),
                "data_wait_s": data_wait / run.info.world_size})
    improved = run.stopper.step(row[config.metric], epoch)
    row["epoch_time_s"] = time.perf_counter() - started
    row["best"] = int(improved)
    run.history.append({k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in row.items()})
    if run.info.main:
        save_checkpoints(run, epoch, improved)
    run.log(f"epoch {epoch}/{config.epochs}  lr {row['lr']:.2e}  train loss {row['train_loss']:.4f} "
            f"acc {row['train_acc']:.3f}  val loss {row['val_loss']:.4f} acc {row['val_acc']:.3f} "
            f"auc {row['val_auc']:.3f}  {row['images_per_s']:.1f} images/s "
            f"(data wait {100 * row['data_wait_s'] / max(stats['time'], 1e-9):.0f}%)  "
            f"{row['epoch_time_s']:.0f}s" + ("  * best" if improved else ""))
    return row


def save_checkpoints(run: Run, epoch: int, improved: bool) -> None:
    """``last.pt`` (with the early-stopping decision), ``best.pt`` when ``improved``, ``history.csv``."""
    last = run.out / "last.pt"
    ckpt.save(last, ckpt.assemble(epoch, run.config, run.classes, run.history, run.stopper, run.model,
                                  run.optimizer, run.scheduler, run.scaler, run.ema,
                                  subclasses=run.data.train_set.outputs, class_of=run.data.train_set.class_of))
    if improved:
        ckpt.copy(last, run.out / "best.pt")
    write_csv(run.out / "history.csv", run.history)


# ---------------------------------------------------------------- the end


def finish(run: Run, epoch: int, seconds: float) -> dict:
    """The run's summary; on the main process also the plots and the best checkpoint's report."""
    out, stopper = run.out, run.stopper
    summary = {"out": str(out), "epochs_run": epoch, "stopped_early": stopper.should_stop, "classes": run.classes,
               "best_epoch": stopper.best_epoch, "best_metric": run.config.metric, "best_value": stopper.best,
               "train_seconds": seconds}
    if run.info.main and run.history:
        from .plots import plot_history

        plot_history(out / "history.csv", out / "plots")
        best = out / "best.pt" if (out / "best.pt").exists() else out / "last.pt"
        summary["val"] = final_report(best, run.data.val_set, out / "val", run.normalize, run.autocast, run.device,
                                      run.config.batch_size * 2, run.workers)
        write_json(out / "summary.json", summary)
        v = summary["val"]
        run.log(f"best epoch {stopper.best_epoch} ({run.config.metric} {stopper.best:.4f}); validation accuracy "
                f"{v['accuracy']:.3f}, AUC {v['auc']:.3f}; outputs in {out}")
    D.barrier(run.info)
    return summary


def final_report(path: Path, val_set, out_dir: Path, normalize, autocast, device, batch_size, workers) -> dict:
    """Validation metrics and plots of the checkpoint at ``path`` (best.pt): RUN/val/."""
    data = ckpt.load(path)
    classes = list(data["classes"])
    model = build_model(len(ckpt.outputs(data)), 0.0)
    model.load_state_dict(data["model"])
    if normalize.memory_format == torch.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.to(device)
    loader = make_loader(val_set, batch_size, None, min(workers, 2))
    logits = collapse_to_classes(predict_logits(model, loader, normalize, autocast), ckpt.class_of(data), len(classes))
    probs = softmax(logits)
    targets = np.asarray(val_set.targets)
    preds = probs.argmax(axis=1)
    rows = [{"file": p, "label": classes[t], "pred": classes[preds[i]], "prob": float(probs[i, preds[i]]),
             "correct": int(preds[i] == t), **{f"p_{c}": float(probs[i, j]) for j, c in enumerate(classes)}}
            for i, (p, t) in enumerate(zip((p for p, _ in val_set.samples), targets))]
    columns = ["file", "label", "pred", "prob", "correct", *[f"p_{c}" for c in classes]]
    size = int(data["preprocessing"]["image_size"])

    def load_image(i):
        return np.asarray(Image.fromarray(read_image(val_set.samples[i][0])).resize((size, size), Image.BILINEAR))

    from .report import write_report

    metrics = write_report(out_dir, classes, targets, probs, rows, columns, load_image, logits=logits,
                           extra={"checkpoint": str(path), "epoch": int(data["epoch"])},
                           title=f"validation, epoch {data['epoch']}")
    return {k: metrics[k] for k in ("n", "accuracy", "balanced_accuracy", "auc", "loss", "epoch")}
