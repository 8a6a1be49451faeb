"""A trained checkpoint ready for inference (:class:`Classifier`), several classifying as one
(:class:`Ensemble`), and what reports say about them. Crops in, class probabilities out: finding and
cutting faces is :mod:`maskgen_trainer.predict`'s.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import checkpoint as ckpt
from .config import InferenceOptions
from .distributed import choose_device
from .errors import TrainerError
from .loop import Normalizer, autocast_for
from .metrics import collapse_to_classes, softmax
from .model import build_model


class Classifier:
    """A trained checkpoint ready for inference on RGB uint8 crops. With ``mirror`` (and a checkpoint
    trained with random flips), each crop is classified as it is and mirrored, and the logits averaged."""

    def __init__(self, path, device: str = "auto", batch_size: int = 64, mirror: bool = True):
        data = ckpt.load(path)
        self.path = Path(path)
        self.classes: list[str] = list(data["classes"])
        prep = data["preprocessing"]
        self.image_size = int(prep["image_size"])
        self.margin = float(prep["crop_margin"])
        self.drop = float(prep.get("crop_drop", 0.0))  # checkpoints before it centred faces on the box
        self.epoch = int(data["epoch"])
        self.device = choose_device(device)
        self.class_of = ckpt.class_of(data)  # trained on subclasses: their probabilities added up per class
        self.model = build_model(len(ckpt.outputs(data)), dropout=0.0)
        self.model.load_state_dict(data["model"])
        # channels-last: faster on CUDA and on the CPU too (54 against 42 images/s at 112 px on 2 cores)
        self.model = self.model.to(memory_format=torch.channels_last).to(self.device).eval()
        self.normalize = Normalizer(prep["mean"], prep["std"], self.device, channels_last=True)
        self.autocast, _ = autocast_for(self.device, self.device.type == "cuda")
        self.batch_size = batch_size
        self.mirror = bool(mirror) and data.get("config", {}).get("augment", "default") != "none"

    @torch.inference_mode()
    def logits(self, crops: list[np.ndarray]) -> np.ndarray:
        """Logits (N, C) for RGB uint8 crops already of size ``image_size`` (for a model trained on
        subclasses, class log-probabilities: its subclasses' probabilities added up)."""
        out = []
        for start in range(0, len(crops), self.batch_size):
            chunk = np.stack(crops[start:start + self.batch_size])
            x = self.normalize(torch.from_numpy(chunk).permute(0, 3, 1, 2))
            with self.autocast():
                logits = self.model(x).float()
                if self.mirror:
                    logits = (logits + self.model(torch.flip(x, dims=[3])).float()) / 2
            out.append(logits.cpu())
        if not out:
            return np.zeros((0, len(self.classes)))
        return collapse_to_classes(torch.cat(out).double().numpy(), self.class_of, len(self.classes))

    def probs(self, crops: list[np.ndarray]) -> np.ndarray:
        """Class probabilities (N, C) for RGB uint8 crops already of size ``image_size``."""
        return softmax(self.logits(crops))

    def describe(self) -> str:
        return f"{self.path} (epoch {self.epoch})"

    def info(self) -> dict:
        """What a report says about the checkpoint that classified."""
        return {"checkpoint": str(self.path), "epoch": self.epoch}


class Ensemble:
    """Several trained checkpoints classifying as one: each member's class probabilities (its crop
    mirrored too, as :class:`Classifier` does) averaged. Members must share classes, input size and
    crop margin, so that one crop of each face serves them all."""

    def __init__(self, members: list[Classifier]):
        if not members:
            raise TrainerError("an ensemble needs at least one checkpoint")
        first = members[0]
        for other in members[1:]:
            if other.classes != first.classes:
                raise TrainerError(f"{other.path} classifies {', '.join(other.classes)}; "
                                   f"{first.path} classifies {', '.join(first.classes)}")
            if (other.image_size != first.image_size or abs(other.margin - first.margin) > 1e-6
                    or abs(other.drop - first.drop) > 1e-6):
                raise TrainerError(f"{other.path} takes {other.image_size} px faces cut at margin {other.margin:g}, "
                                   f"drop {other.drop:g}; {first.path} takes {first.image_size} px at {first.margin:g}, "
                                   f"drop {first.drop:g}: an ensemble's members must be trained with the same "
                                   "--image-size, --crop-margin and --crop-drop")
        self.members = members
        self.path, self.classes, self.epoch = first.path, first.classes, first.epoch
        self.image_size, self.margin, self.drop = first.image_size, first.margin, first.drop
        self.mirror = all(m.mirror for m in members)

    def probs(self, crops: list[np.ndarray]) -> np.ndarray:
        """The members' class probabilities (N, C), averaged."""
        return np.mean([m.probs(crops) for m in self.members], axis=0)

    def describe(self) -> str:
        return f"an ensemble of {len(self.members)}: " + ", ".join(m.describe() for m in self.members)

    def info(self) -> dict:
        """What a report says about the checkpoints that classified (the first one's as ``checkpoint``)."""
        return {"checkpoint": str(self.path), "ensemble": [str(m.path) for m in self.members],
                "epochs": [m.epoch for m in self.members], "epoch": self.epoch}


def _run_list(run) -> list:
    """``run`` (a run folder or checkpoint) or a list of them, as a list."""
    return [run] if isinstance(run, (str, Path)) else list(run)


def load_classifier(run, opts: InferenceOptions) -> Classifier | Ensemble:
    """The checkpoint ``opts.which`` of ``run`` (a run folder or a .pt file), or with a list of runs
    an :class:`Ensemble` of theirs."""
    members = [Classifier(ckpt.resolve(r, opts.which), device=opts.device, batch_size=opts.batch_size,
                          mirror=opts.mirror) for r in _run_list(run)]
    return members[0] if len(members) == 1 else Ensemble(members)


def run_folder(run) -> Path:
    """Where outputs go by default: the (first) run's folder."""
    first = Path(_run_list(run)[0])
    return first if first.is_dir() else first.parent
