"""An exponential moving average of the model's weights (``maskgen train --ema DECAY``).

After every optimizer step each floating-point parameter and buffer of the copy moves a share
``1 - decay`` of the way towards the trained model's (batch-norm running statistics included, so
the copy is a complete model; integer buffers such as ``num_batches_tracked`` are copied). Early
in training the decay is capped at ``(1 + t) / (10 + t)`` after ``t`` updates, so the average
does not remember the random initialisation for long. Validation, ``best.pt`` and prediction use
the average; the trained weights are kept beside it for resuming.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """The moving average of ``model``'s state: ``module`` is a plain model holding it."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = float(decay)
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model`` (the plain model, not a DDP wrapper)."""
        weight = 1.0 - self.current_decay()
        for avg, new in zip(self.module.state_dict().values(), model.state_dict().values()):
            if avg.is_floating_point():
                avg.lerp_(new.detach(), weight)
            else:
                avg.copy_(new)
        self.updates += 1

    def state(self) -> dict:
        return {"decay": self.decay, "updates": self.updates}

    def restore(self, weights: dict, state: dict) -> None:
        """Back to a checkpoint's average (``weights``) and its update count."""
        self.module.load_state_dict(weights)
        self.updates = int(state["updates"])
