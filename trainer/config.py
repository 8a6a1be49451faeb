"""Every option of ``maskgen train``, ``evaluate`` and ``predict``, declared once.

Each field of :class:`TrainConfig` and :class:`InferenceOptions` carries its default, its choices
or range and its help text (:func:`option`). ``cli.py`` builds the click options from these
fields, and :meth:`TrainConfig.validate` checks the same ranges for library callers, so a default
or a range is written in exactly one place. No torch here (``maskgen --help`` stays fast).
"""
from __future__ import annotations

from dataclasses import MISSING, Field, asdict, dataclass, field, fields

from maskgen.crops import DEFAULT_MARGIN, MARGIN_RANGE
from maskgen.detect.face import DETECTORS as MASKGEN_DETECTORS

from .errors import TrainerError

OPTIMIZERS = ("sgd", "adamw")
SCHEDULERS = ("cosine", "step", "none")
METRICS = ("val_loss", "val_acc", "val_balanced_acc", "val_auc")
BALANCE = ("loss", "sampler", "none")
AUGMENT = ("default", "light", "none")
DETECTORS = tuple(d for d in MASKGEN_DETECTORS if d != "none")  # real photos are not face crops

# peak learning rates: from scratch / from --pretrained or --weights; SGD's scale with batch size / 32
DEFAULT_LR = {("sgd", False): 0.02, ("sgd", True): 0.01, ("adamw", False): 1e-3, ("adamw", True): 3e-4}
DEFAULT_WEIGHT_DECAY = {"sgd": 1e-4, "adamw": 0.05}

# options that shape the model or its input: fixed for the life of a run
FROZEN_ON_RESUME = ("image_size", "crop_drop", "dropout", "pretrained", "weights", "optimizer", "ema", "subclasses")


def option(default, help: str = "", *, kind=None, choices=None, min=None, max=None, max_open: bool = False,
           flag: bool = False, name: str | None = None):
    """A config field with what its command-line option needs.

    ``kind`` is the value's type (taken from ``default`` unless that is None; ``"file"``: a file
    path); ``min``/``max`` bound numbers (``max_open``: ``max`` itself excluded); ``flag``: a bool
    set by ``--name`` alone (other bools get ``--name/--no-name``); ``name``: the option's name
    when it differs from the field's.
    """
    kind = kind or type(default)
    return field(default=default, metadata={"help": help, "kind": kind, "choices": choices, "min": min,
                                            "max": max, "max_open": max_open, "flag": flag, "name": name})


def option_fields(cls) -> list[Field]:
    """The fields of ``cls`` that are command-line options (those declared with :func:`option`)."""
    return [f for f in fields(cls) if f.default is not MISSING and "kind" in f.metadata]


def range_text(meta) -> str:
    lo, hi = meta["min"], meta["max"]
    if hi is None:
        return f"at least {lo}"
    return f"in [{lo}, {hi})" if meta["max_open"] else f"between {lo} and {hi}"


def check_options(obj) -> None:
    """Raise :class:`TrainerError` for the first option of ``obj`` outside its choices or range."""
    for f in option_fields(type(obj)):
        value, meta = getattr(obj, f.name), f.metadata
        flag = "--" + (meta["name"] or f.name).replace("_", "-")
        if value is None:
            continue
        if meta["choices"] and value not in meta["choices"]:
            raise TrainerError(f"{flag} must be one of {', '.join(meta['choices'])}")
        lo, hi = meta["min"], meta["max"]
        if (lo is not None and value < lo) or (hi is not None and (value >= hi if meta["max_open"] else value > hi)):
            raise TrainerError(f"{flag} must be {range_text(meta)}")


def _lr_help() -> str:
    lr = {k: f"{v:g}" for k, v in DEFAULT_LR.items()}
    return (f"Peak learning rate. [default: adamw {lr['adamw', False]} from scratch, {lr['adamw', True]} from "
            f"--pretrained/--weights; sgd {lr['sgd', False]} / {lr['sgd', True]}, times batch size / 32]")


@dataclass
class TrainConfig:
    """Everything ``maskgen train`` can be told. ``None`` means "choose for me"."""

    dataset: str
    out: str
    epochs: int = option(30, "Most epochs (early stopping may end sooner).", min=1)
    batch_size: int = option(32, "Images per batch (per process under torchrun).", min=1)
    image_size: int = option(224, "Side of the square input, in pixels.", min=32, max=1024)
    optimizer: str = option("adamw", choices=OPTIMIZERS)
    lr: float | None = option(None, _lr_help(), kind=float)
    momentum: float = option(0.9, "SGD momentum (Nesterov).", min=0.0)
    weight_decay: float | None = option(None, "[default: " + ", ".join(
        f"{k} {v:g}" for k, v in DEFAULT_WEIGHT_DECAY.items()) + "]", kind=float, min=0.0)
    scheduler: str = option("cosine", "Learning-rate schedule after the warm-up, stepped every batch.",
                            choices=SCHEDULERS)
    warmup_epochs: float = option(1.0, "Linear warm-up length.", min=0.0)
    step_size: int = option(10, "--scheduler step: epochs between decays.", min=1)
    gamma: float = option(0.1, "--scheduler step: decay factor.")
    dropout: float = option(0.2, "Dropout before the new classification layer.", min=0.0, max=1.0, max_open=True)
    label_smoothing: float = option(0.0, min=0.0, max=1.0, max_open=True)
    ema: float = option(0.0, "Validate, pick best.pt and predict with a moving average of the weights, moved this "
                             "decay per batch (e.g. 0.99); 0 = the trained weights themselves.",
                        min=0.0, max=1.0, max_open=True)
    pretrained: bool = option(False, "Start from torchvision's ImageNet weights (downloaded once).", flag=True)
    weights: str | None = option(None, "Start from a local ResNet-50 state dict or maskgen checkpoint.", kind="file")
    metric: str = option("val_loss", "Monitored for best.pt and early stopping.", choices=METRICS)
    patience: int = option(5, "Epochs without improvement before stopping; 0 = never.", min=0)
    min_delta: float = option(0.0, "Smallest change of --metric that counts as improvement.", min=0.0)
    balance: str = option("loss", "Class imbalance: class-weighted loss, balanced sampling, or nothing.",
                          choices=BALANCE)
    augment: str = option("default", "default: crop, flip, colour, greyscale, low resolution; "
                                     "light: crop, flip, colour.", choices=AUGMENT)
    subclasses: str | None = option(None, "Train on finer labels: each class split by this column of the dataset's "
                                          "metadata.csv (wear: incorrect_mask/chin, incorrect_mask/nose, "
                                          "with_mask/correct, without_mask/none); the model scores the parts and "
                                          "validation, evaluation and prediction add them up into the classes.",
                                    kind=str)
    crop_margin: float = option(DEFAULT_MARGIN, "Mean margin of the training crops around the face box, a share of "
                                                "its side on each side (maskgen augment --crop face cuts "
                                                f"{MARGIN_RANGE[0]:g}-{MARGIN_RANGE[1]:g}); prediction cuts faces "
                                                "to show them as large as training did.", min=0.0)
    crop_drop: float | None = option(None, "How far below the face box's centre the training crops were centred, a "
                                           "share of its side (maskgen augment --crop-drop); prediction cuts faces "
                                           "the same way. [default: the dataset's settings.json; 0 without one]",
                                     kind=float, min=-0.5, max=0.5)
    workers: int | None = option(None, "DataLoader processes. [default: 0 on CPU (every core computes), more on CUDA]", kind=int, min=0)
    device: str = option("auto", "auto, cpu, cuda or cuda:N.")
    amp: bool | None = option(None, "Mixed precision: bf16 autocast (fp16 with loss scaling on GPUs "
                                         "without bf16); on a CPU about 1.8x faster where it computes bf16 "
                                         "natively (AMX, AVX512-BF16). [default: on with CUDA, off on CPU]",
                                   kind=bool)
    channels_last: bool | None = option(None, "[default: on]", kind=bool)
    sync_bn: bool = option(False, "Synchronised batch norm across torchrun processes.", flag=True)
    bn_recalibrate: int = option(0, "Before each validation, re-estimate batch-norm statistics over this many "
                                    "training batches (helps small datasets and short runs); 0 = off.", min=0)
    threads: int | None = option(None, "CPU threads for torch per process. "
                                       "[default on CPU: one per core, less --workers]", kind=int, min=1)
    seed: int = option(0)
    log_every: int = option(50, "Batches between progress lines; 0 = one line per epoch.", min=0)

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        check_options(self)
        if self.pretrained and self.weights:
            raise TrainerError("choose one of --pretrained and --weights")

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


@dataclass
class InferenceOptions:
    """How ``maskgen evaluate`` and ``maskgen predict`` find, cut and classify faces."""

    which: str = option("best", "best, last, or a file name inside RUN (RUN may also be a .pt file).",
                        name="checkpoint")
    detector: str | None = option(None, "maskgen's face detector: mtcnn finds masked faces, hog and cnn miss most "
                                        "of them; auto: hog, then mtcnn where hog finds nothing. "
                                        "[default: mtcnn where the mtcnn extra is installed, else hog]",
                                  kind=str, choices=DETECTORS)
    min_face: int = option(40, "Smallest face hog and cnn search for (box side, px): they scan coarse to fine, "
                               "from the coarsest copy of the photo on which such a face is still found.", min=8)
    upsample: int | None = option(None, "Instead of --min-face's search: one hog/cnn scan of the photo upsampled "
                                        "this many times (1 was the default before).", kind=int, min=0, max=4)
    min_score: float | None = option(None, "Drop detections scoring under this. "
                                           "[default: maskgen's detector default]", kind=float)
    max_side: int = option(1600, "Detect on a copy shrunk to this side (0: never shrink).", min=0)
    fallback: bool = option(True, "Classify a photo with no face found as a whole, already-cropped face.")
    mirror: bool = option(True, "Classify each face also mirrored left to right and average the two "
                                "(training flips its crops at random).")
    device: str = option("auto", "auto, cpu, cuda or cuda:N.")
    batch_size: int = option(64, min=1)
    workers: int | None = option(None, "Processes reading photos and finding faces.", kind=int, min=0)

    def __post_init__(self):
        check_options(self)
