"""``maskgen train``: ResNet-50 on a generated dataset, with checkpoints, history and plots.

Library use::

    from maskgen_trainer.config import TrainConfig
    from maskgen_trainer.train import train, resume
    summary = train(TrainConfig(dataset="data/masked", out="runs/r50", epochs=20, image_size=128))
    summary = resume("runs/r50", epochs=30)  # continue the same run for more epochs
"""
from __future__ import annotations

import math
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import checkpoint as ckpt_mod
from . import distributed as D
from .common import ARCH, CHECKPOINT_FORMAT, IMAGENET_MEAN, IMAGENET_STD, TrainerError, write_csv, write_json
from .config import FROZEN_ON_RESUME, TrainConfig
from .data import (BalancedSampler, ShuffledShard, build_datasets, class_counts, class_weights, cpu_threads,
                   default_workers, make_loader)
from .engine import Normalizer, autocast_for, predict_logits, recalibrate_batchnorm, stderr_log, train_one_epoch
from .metrics import classification_metrics, softmax
from .model import build_model, initial_weights


class EarlyStopping:
    """Tracks the best value of the monitored metric and the epochs since it improved."""

    def __init__(self, mode: str, patience: int, min_delta: float, best=None, best_epoch: int = 0,
                 bad_epochs: int = 0):
        self.mode, self.patience, self.min_delta = mode, patience, min_delta
        self.best, self.best_epoch, self.bad_epochs = best, best_epoch, bad_epochs

    def improves(self, value: float) -> bool:
        if self.best is None:
            return True
        if value != value:  # NaN never improves
            return False
        if self.best != self.best:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, value: float, epoch: int) -> bool:
        improved = self.improves(value)
        if improved:
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
        else:
            self.bad_epochs += 1
        return improved

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad_epochs >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov) or AdamW; no weight decay on biases and normalisation weights."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": config.resolved_weight_decay()},
              {"params": no_decay, "weight_decay": 0.0}]
    lr = config.resolved_lr()
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=config.momentum, nesterov=config.momentum > 0)
    return torch.optim.AdamW(groups, lr=lr)


def lr_factor(config: TrainConfig, steps_per_epoch: int):
    """Learning-rate multiplier per optimizer step: linear warm-up, then cosine / step / constant."""
    warmup = int(round(config.warmup_epochs * steps_per_epoch))
    total = max(1, config.epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return 0.01 + 0.99 * step / warmup
        if config.scheduler == "cosine":
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return 0.005 + 0.995 * 0.5 * (1 + math.cos(math.pi * progress))
        if config.scheduler == "step":
            return config.gamma ** (step // (max(1, config.step_size) * steps_per_epoch))
        return 1.0

    return factor


def resume_config(out, overrides: dict | None = None) -> TrainConfig:
    """The configuration stored in ``out/last.pt`` with ``overrides`` applied (not the frozen ones)."""
    data = ckpt_mod.load(Path(out) / "last.pt")
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
    info, device = D.init(config.device)
    try:
        return _train(config, resume, overwrite, info, device, log if info.main else (lambda *_: None))
    finally:
        D.cleanup(info)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _train(config: TrainConfig, resume: bool, overwrite: bool, info: D.DistInfo, device, log) -> dict:
    out = Path(config.out)
    last_path, best_path = out / "last.pt", out / "best.pt"
    state = None
    if resume:
        state = ckpt_mod.load(last_path)
    elif last_path.exists() and not overwrite:
        raise TrainerError(f"{out} already holds a run (last.pt): pass --resume to continue it, "
                           f"--overwrite to start again, or choose another --out")
    cuda = device.type == "cuda"
    amp = cuda if config.amp is None else (config.amp and cuda)
    channels_last = cuda if config.channels_last is None else config.channels_last
    workers = default_workers(device.type) if config.workers is None else config.workers
    if not cuda and not config.threads:
        torch.set_num_threads(cpu_threads(workers))

    train_set, val_set = build_datasets(config.dataset, config.image_size, config.augment)
    classes = train_set.classes
    if state is not None and list(state["classes"]) != classes:
        raise TrainerError(f"the dataset's classes {classes} differ from the run's {list(state['classes'])}")
    counts = class_counts(train_set.targets, len(classes))
    if (counts == 0).any():
        raise TrainerError(f"no training images for {', '.join(c for c, n in zip(classes, counts) if n == 0)}")

    start_epoch = 1
    _seed_everything(config.seed)
    model = build_model(len(classes), config.dropout)
    if state is None:
        source = initial_weights(model, config.pretrained, config.weights)
    else:
        model.load_state_dict(state["model"])
        start_epoch = int(state["epoch"]) + 1
        source = f"resumed from {last_path} (epoch {state['epoch']})"
        _seed_everything(config.seed + start_epoch)
    if info.main:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "config.json", {**config.to_dict(), "classes": classes, "world_size": info.world_size})
    log(f"{len(train_set)} training and {len(val_set)} validation images; classes "
        + ", ".join(f"{c} ({n})" for c, n in zip(classes, counts)))
    log(f"ResNet-50, {source}; device {device}" + (f" x{info.world_size} processes" if info.enabled else "")
        + f", {'AMP, ' if amp else ''}{'channels-last, ' if channels_last else ''}{workers} loader workers"
        + ("" if cuda else f", {torch.get_num_threads()} compute threads"))

    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.to(device)
    if info.enabled and config.sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    net = model
    if info.enabled:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if cuda else None)

    weights = class_weights(train_set.targets, len(classes)).to(device) if config.balance == "loss" else None
    criterion = nn.CrossEntropyLoss(weight=weights, label_smoothing=config.label_smoothing)
    if config.balance == "sampler":
        sampler = BalancedSampler(train_set.targets, len(classes), info.rank, info.world_size, config.seed)
    else:
        sampler = ShuffledShard(len(train_set), info.rank, info.world_size, config.seed)
    # a last batch of one would break batch norm in training mode
    drop_last = len(sampler) % config.batch_size == 1 or len(sampler) >= 4 * config.batch_size
    train_loader = make_loader(train_set, config.batch_size, sampler, workers, pin_memory=cuda,
                               drop_last=drop_last, seed=config.seed * 1000 + info.rank + start_epoch)
    val_indices = list(range(info.rank, len(val_set), info.world_size))
    val_loader = make_loader(torch.utils.data.Subset(val_set, val_indices), config.batch_size * 2, None,
                             workers, pin_memory=cuda, seed=config.seed)
    steps_per_epoch = len(train_loader)
    if steps_per_epoch == 0:
        raise TrainerError("the training set is smaller than one batch; lower --batch-size")

    optimizer = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config, steps_per_epoch))
    autocast, amp_dtype = autocast_for(device, amp)
    scaler = torch.amp.GradScaler("cuda") if amp and amp_dtype == torch.float16 else None
    normalize = Normalizer(IMAGENET_MEAN, IMAGENET_STD, device, channels_last)

    history: list[dict] = []
    stopper = EarlyStopping(config.mode, config.patience, config.min_delta)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        history = [dict(r) for r in state["history"]]
        es = state["early_stopping"]
        # a run that had stopped early starts counting afresh; an interrupted one carries on
        bad = 0 if es.get("stopped") else int(es["bad_epochs"])
        stopper = EarlyStopping(config.mode, config.patience, config.min_delta, es["best"], es["best_epoch"], bad)
        if start_epoch > config.epochs:
            log(f"the run already has {state['epoch']} epochs; pass a larger --epochs to continue")

    from maskgen.crops import DEFAULT_MARGIN, MARGIN_RANGE

    preprocessing = {"image_size": config.image_size, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
                     "crop_margin": float(DEFAULT_MARGIN), "margin_range": [float(v) for v in MARGIN_RANGE],
                     "resize": "square crop resized to image_size"}

    def make_checkpoint(epoch: int) -> dict:
        return {"format": CHECKPOINT_FORMAT, "arch": ARCH, "epoch": epoch, "classes": list(classes),
                "preprocessing": preprocessing, "config": config.to_dict(), "history": history,
                "best": {"metric": config.metric, "mode": config.mode, "value": stopper.best,
                         "epoch": stopper.best_epoch},
                "early_stopping": {**stopper.state_dict(), "stopped": stopper.should_stop},
                "model": ckpt_mod.model_state(model), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict() if scaler else {}}

    stopped_early = False
    epoch = start_epoch - 1
    run_start = time.perf_counter()
    for epoch in range(start_epoch, config.epochs + 1):
        epoch_start = time.perf_counter()
        sampler.set_epoch(epoch)
        stats = train_one_epoch(net, criterion, optimizer, train_loader, normalize, scheduler, scaler, autocast,
                                epoch, config.log_every, log)
        loss_sum, correct, seen, data_wait = D.all_reduce_sum(
            [stats["loss_sum"], stats["correct"], stats["images"], stats["data_wait"]], info, device)
        if config.bn_recalibrate:
            recalibrate_batchnorm(model, train_loader, normalize, config.bn_recalibrate, autocast)
            D.average_buffers(model, info)
        logits, targets = _validate(net, val_loader, val_set, val_indices, normalize, autocast, info)
        m = classification_metrics(targets, softmax(logits), classes, logits=logits)
        row = {"epoch": epoch, "lr": float(optimizer.param_groups[0]["lr"]),
               "train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1),
               "val_loss": m["loss"], "val_acc": m["accuracy"], "val_balanced_acc": m["balanced_accuracy"],
               "val_auc": m["auc"]}
        for c in classes:
            row[f"val_precision_{c}"] = m["per_class"][c]["precision"]
            row[f"val_recall_{c}"] = m["per_class"][c]["recall"]
        row.update({"train_images": int(seen), "train_time_s": stats["time"],
                    "images_per_s": seen / stats["time"] if stats["time"] > 0 else float("nan"),
                    "data_wait_s": data_wait / info.world_size})
        improved = stopper.step(row[config.metric], epoch)
        row["epoch_time_s"] = time.perf_counter() - epoch_start
        row["best"] = int(improved)
        history.append({k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in row.items()})
        if info.main:
            checkpoint = make_checkpoint(epoch)
            ckpt_mod.save(last_path, checkpoint)
            if improved:
                shutil.copyfile(last_path, best_path)
            write_csv(out / "history.csv", history)
        log(f"epoch {epoch}/{config.epochs}  lr {row['lr']:.2e}  train loss {row['train_loss']:.4f} "
            f"acc {row['train_acc']:.3f}  val loss {row['val_loss']:.4f} acc {row['val_acc']:.3f} "
            f"auc {row['val_auc']:.3f}  {row['images_per_s']:.1f} images/s "
            f"(data wait {100 * row['data_wait_s'] / max(stats['time'], 1e-9):.0f}%)  "
            f"{row['epoch_time_s']:.0f}s" + ("  * best" if improved else ""))
        if stopper.should_stop:
            stopped_early = True
            log(f"early stopping: {config.metric} has not improved by more than {config.min_delta} for "
                f"{config.patience} epochs (best {stopper.best:.4f} at epoch {stopper.best_epoch})")
            if info.main:  # record the stop in last.pt
                ckpt_mod.save(last_path, make_checkpoint(epoch))
            break
    train_seconds = time.perf_counter() - run_start

    summary = {"out": str(out), "epochs_run": epoch, "stopped_early": stopped_early, "classes": classes,
               "best_epoch": stopper.best_epoch, "best_metric": config.metric, "best_value": stopper.best,
               "train_seconds": train_seconds}
    if info.main and history:
        from .plots import plot_history

        plot_history(out / "history.csv", out / "plots")
        summary["val"] = final_report(best_path if best_path.exists() else last_path, val_set, out / "val",
                                      normalize, autocast, device, config.batch_size * 2, workers)
        write_json(out / "summary.json", summary)
        v = summary["val"]
        log(f"best epoch {stopper.best_epoch} ({config.metric} {stopper.best:.4f}); validation accuracy "
            f"{v['accuracy']:.3f}, AUC {v['auc']:.3f}; outputs in {out}")
    D.barrier(info)
    return summary


def _validate(net, loader, val_set, indices, normalize, autocast, info):
    """Logits and targets of the whole validation set, on every process."""
    logits = predict_logits(net.module if info.enabled else net, loader, normalize, autocast)
    parts = D.gather_objects((indices, logits), info)
    order = np.concatenate([np.asarray(i, dtype=np.int64) for i, _ in parts])
    stacked = np.concatenate([l.reshape(len(i), -1) for i, l in parts])
    logits = np.empty_like(stacked)
    logits[order] = stacked
    return logits, np.asarray(val_set.targets, dtype=np.int64)


def final_report(path: Path, val_set, out_dir: Path, normalize, autocast, device, batch_size, workers) -> dict:
    """Validation metrics and plots of the checkpoint at ``path`` (best.pt): RUN/val/."""
    data = ckpt_mod.load(path)
    classes = list(data["classes"])
    model = build_model(len(classes), 0.0)
    model.load_state_dict(data["model"])
    if normalize.memory_format == torch.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.to(device)
    loader = make_loader(val_set, batch_size, None, min(workers, 2))
    logits = predict_logits(model, loader, normalize, autocast)
    probs = softmax(logits)
    targets = np.asarray(val_set.targets)
    preds = probs.argmax(axis=1)
    rows = [{"file": p, "label": classes[t], "pred": classes[preds[i]], "prob": float(probs[i, preds[i]]),
             "correct": int(preds[i] == t), **{f"p_{c}": float(probs[i, j]) for j, c in enumerate(classes)}}
            for i, (p, t) in enumerate(val_set.samples)]
    columns = ["file", "label", "pred", "prob", "correct", *[f"p_{c}" for c in classes]]
    size = int(data["preprocessing"]["image_size"])

    def load_image(i):
        from PIL import Image

        with Image.open(val_set.samples[i][0]) as im:
            return np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR))

    from .report import write_report

    metrics = write_report(out_dir, classes, targets, probs, rows, columns, load_image, logits=logits,
                           extra={"checkpoint": str(path), "epoch": int(data["epoch"])},
                           title=f"validation, epoch {data['epoch']}")
    return {k: metrics[k] for k in ("n", "accuracy", "balanced_accuracy", "auc", "loss", "epoch")}
