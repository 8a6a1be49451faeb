"""Early stopping: the best value of the monitored metric and the epochs since it improved."""
from __future__ import annotations


class EarlyStopping:
    """Tracks the best value of the monitored metric (``mode`` ``min`` or ``max``) and the epochs
    since it last improved by more than ``min_delta``; ``patience`` 0 never stops."""

    def __init__(self, mode: str, patience: int, min_delta: float, best=None, best_epoch: int = 0,
                 bad_epochs: int = 0):
        self.mode, self.patience, self.min_delta = mode, patience, min_delta
        self.best, self.best_epoch, self.bad_epochs = best, best_epoch, bad_epochs

    @classmethod
    def resumed(cls, mode: str, patience: int, min_delta: float, state: dict) -> "EarlyStopping":
        """From a checkpoint's ``early_stopping``: a run that had stopped early starts counting
        afresh, an interrupted one carries on."""
        bad = 0 if state.get("stopped") else int(state["bad_epochs"])
        return cls(mode, patience, min_delta, state["best"], state["best_epoch"], bad)

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
        """Record ``epoch``'s value; True when it is the new best."""
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
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                "stopped": self.should_stop}
