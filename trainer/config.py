"""Training configuration: one dataclass of plain values (stored in every checkpoint)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .common import TrainerError

OPTIMIZERS = ("sgd", "adamw")
SCHEDULERS = ("cosine", "step", "none")
METRICS = ("val_loss", "val_acc", "val_balanced_acc", "val_auc")
BALANCE = ("loss", "sampler", "none")
AUGMENT = ("default", "light", "none")

# peak learning rates: from scratch / from --pretrained or --weights; SGD's scale with batch size / 32
DEFAULT_LR = {("sgd", False): 0.02, ("sgd", True): 0.01, ("adamw", False): 1e-3, ("adamw", True): 3e-4}
DEFAULT_WEIGHT_DECAY = {"sgd": 1e-4, "adamw": 0.05}

# options that shape the model or its input: fixed for the life of a run
FROZEN_ON_RESUME = ("image_size", "dropout", "pretrained", "weights", "optimizer")


@dataclass
class TrainConfig:
    """Everything ``maskgen train`` can be told. ``None`` means "choose for me"."""

    dataset: str
    out: str
    epochs: int = 30
    batch_size: int = 32
    image_size: int = 224
    optimizer: str = "adamw"
    lr: float | None = None  # see DEFAULT_LR
    momentum: float = 0.9
    weight_decay: float | None = None  # sgd 1e-4, adamw 0.05
    scheduler: str = "cosine"
    warmup_epochs: float = 1.0
    step_size: int = 10
    gamma: float = 0.1
    dropout: float = 0.2
    label_smoothing: float = 0.0
    pretrained: bool = False
    weights: str | None = None
    metric: str = "val_loss"  # early stopping and best.pt
    patience: int = 5  # epochs without improvement before stopping; 0 = never stop early
    min_delta: float = 0.0
    balance: str = "loss"
    augment: str = "default"
    workers: int | None = None
    device: str = "auto"
    amp: bool | None = None  # default: on for CUDA
    channels_last: bool | None = None  # default: on for CUDA
    sync_bn: bool = False
    bn_recalibrate: int = 0  # batches used to re-estimate batch-norm statistics before each validation
    threads: int | None = None  # torch CPU threads per process (None: on CPU, one per core less the workers)
    seed: int = 0
    log_every: int = 50  # batches between progress lines; 0 = one line per epoch

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        checks = [
            (self.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.scheduler in SCHEDULERS, f"--scheduler must be one of {', '.join(SCHEDULERS)}"),
            (self.metric in METRICS, f"--metric must be one of {', '.join(METRICS)}"),
            (self.balance in BALANCE, f"--balance must be one of {', '.join(BALANCE)}"),
            (self.augment in AUGMENT, f"--augment must be one of {', '.join(AUGMENT)}"),
            (self.epochs >= 1, "--epochs must be at least 1"),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (32 <= self.image_size <= 1024, "--image-size must be between 32 and 1024"),
            (0.0 <= self.dropout < 1.0, "--dropout must be in [0, 1)"),
            (0.0 <= self.label_smoothing < 1.0, "--label-smoothing must be in [0, 1)"),
            (self.patience >= 0, "--patience must be 0 (off) or more"),
            (self.min_delta >= 0, "--min-delta must be 0 or more"),
            (self.workers is None or self.workers >= 0, "--workers must be 0 or more"),
            (self.threads is None or self.threads >= 1, "--threads must be at least 1"),
            (self.bn_recalibrate >= 0, "--bn-recalibrate must be 0 (off) or more"),
            (not (self.pretrained and self.weights), "choose one of --pretrained and --weights"),
        ]
        for ok, message in checks:
            if not ok:
                raise TrainerError(message)

    @property
    def mode(self) -> str:
        """``min`` for the loss, ``max`` for the other metrics."""
        return "min" if self.metric == "val_loss" else "max"

    def resolved_lr(self) -> float:
        if self.lr is not None:
            return self.lr
        lr = DEFAULT_LR[(self.optimizer, bool(self.pretrained or self.weights))]
        return lr * self.batch_size / 32 if self.optimizer == "sgd" else lr

    def resolved_weight_decay(self) -> float:
        return DEFAULT_WEIGHT_DECAY[self.optimizer] if self.weight_decay is None else self.weight_decay

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
