"""The training loop's two halves, in the style of torchvision's reference scripts:
:func:`train_one_epoch` and :func:`evaluate`, with batched inference and the batch-norm
recalibration they use.

Nothing in the inner loop waits for the device: losses and correct counts are summed on it
and read once per epoch (or every ``log_every`` batches).
"""
from __future__ import annotations

import contextlib
import sys
import time

import numpy as np
import torch
from torch import nn

from . import distributed as D
from .metrics import classification_metrics, collapse_to_classes, softmax


class Normalizer:
    """uint8 NCHW batches -> normalised float on the device (channels-last when asked)."""

    def __init__(self, mean, std, device, channels_last: bool = False):
        self.device = device
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1) * 255.0
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1) * 255.0
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.device, non_blocking=True)
        x = x.contiguous(memory_format=self.memory_format).float()
        return (x - self.mean) / self.std


def autocast_for(device: torch.device, enabled: bool):
    """Mixed precision: on CUDA bf16 where supported (no loss scaling needed), else fp16; on a CPU bf16
    (fast where the CPU computes bf16 natively: AMX or AVX512-BF16; emulated, and slow, elsewhere)."""
    if not enabled:
        return contextlib.nullcontext, None
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = torch.bfloat16
    return (lambda: torch.autocast(device.type, dtype=dtype)), dtype


def train_one_epoch(model: nn.Module, criterion, optimizer, loader, normalize: Normalizer, scheduler=None,
                    scaler=None, autocast=contextlib.nullcontext, epoch: int = 1, log_every: int = 0,
                    log=None, after_step=None) -> dict:
    """Train for one pass over ``loader``; returns loss, accuracy, images, seconds, data wait.
    ``after_step`` is called after every optimizer step (the weight average's update)."""
    model.train()
    device = normalize.device
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen = 0
    data_wait = 0.0
    start = time.perf_counter()
    tick = start
    for step, (images, targets) in enumerate(loader, 1):
        data_wait += time.perf_counter() - tick
        x = normalize(images)
        y = targets.to(device, non_blocking=True)
        with autocast():
            logits = model(x)
            loss = criterion(logits, y)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if after_step is not None:
            after_step()
        n = y.shape[0]
        seen += n
        loss_sum += loss.detach().double() * n
        correct += (logits.detach().argmax(1) == y).sum()
        if log is not None and log_every and step % log_every == 0:
            elapsed = time.perf_counter() - start
            log(f"  epoch {epoch} batch {step}/{len(loader)}  loss {loss_sum.item() / seen:.4f}  "
                f"acc {correct.item() / seen:.3f}  {seen / elapsed:.1f} images/s")
        tick = time.perf_counter()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    return {"loss_sum": float(loss_sum.item()), "correct": int(correct.item()), "images": seen,
            "time": elapsed, "data_wait": data_wait}


def evaluate(model: nn.Module, loader, indices: list[int], targets, classes: list[str], normalize: Normalizer,
             autocast=contextlib.nullcontext, info: D.DistInfo | None = None, class_of=None) -> dict:
    """Metrics (loss, accuracy, AUC, per class...) of the whole validation set, the same on every process.

    ``loader`` yields this process's share of the validation images, those at ``indices``;
    ``targets`` are the labels of the whole set. The logits of every process are gathered and put
    back in the set's order, so every process takes the same early-stopping decision. With
    ``class_of`` (a model trained on subclasses) the subclasses are added up into ``classes`` first.
    """
    info = info or D.DistInfo()
    logits = predict_logits(getattr(model, "module", model), loader, normalize, autocast)  # DDP: the model inside
    parts = D.gather_objects((indices, logits), info)
    order = np.concatenate([np.asarray(i, dtype=np.int64) for i, _ in parts])
    width = len(classes) if class_of is None else len(class_of)  # the model's outputs
    stacked = np.concatenate([part.reshape(len(i), width) for i, part in parts])
    logits = np.empty_like(stacked)
    logits[order] = stacked
    logits = collapse_to_classes(logits, class_of, len(classes))
    return classification_metrics(targets, softmax(logits), classes, logits=logits)


@torch.inference_mode()
def predict_logits(model: nn.Module, loader, normalize: Normalizer, autocast=contextlib.nullcontext) -> np.ndarray:
    """Logits (N, C) as float64 numpy for every batch of ``loader`` (images first in each batch)."""
    model.eval()
    out = []
    for batch in loader:
        images = batch[0] if isinstance(batch, (list, tuple)) else batch
        with autocast():
            logits = model(normalize(images))
        out.append(logits.float().cpu())
    if not out:
        return np.zeros((0, 0))
    return torch.cat(out).double().numpy()


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, loader, normalize: Normalizer, batches: int,
                          autocast=contextlib.nullcontext) -> int:
    """Re-estimate batch-norm running statistics with the current weights ("precise BN").

    Running statistics are moving averages over batches seen while the weights changed; early
    in training (or on small datasets) they lag behind, and evaluation-mode outputs go astray.
    A cumulative average over ``batches`` training batches in training mode (no gradients)
    brings them in line. Returns the number of batches used.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or batches <= 0:
        return 0
    saved = [(m.momentum, m.training) for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    used = 0
    for images, _ in loader:
        if used >= batches:
            break
        with autocast():
            model(normalize(images))
        used += 1
    for m, (momentum, _) in zip(norms, saved):
        m.momentum = momentum
    model.train(was_training)
    return used
