"""The optimizer and its learning-rate schedule (stepped every batch), and mixed-precision scaling."""
from __future__ import annotations

import math

import torch
from torch import nn

from .config import TrainConfig


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


def make_optimization(model: nn.Module, config: TrainConfig, steps_per_epoch: int, amp_dtype, state: dict | None):
    """Optimizer, per-batch scheduler and (for fp16 autocast) gradient scaler, restored from a
    checkpoint's ``state`` when resuming."""
    optimizer = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config, steps_per_epoch))
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
    return optimizer, scheduler, scaler
