"""torchvision's ResNet-50 with a new head, and where its starting weights come from."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import ResNet50_Weights, resnet50

from .errors import TrainerError

IMAGENET_WEIGHTS = ResNet50_Weights.IMAGENET1K_V2
# the normalisation ImageNet-trained ResNets expect (also used from scratch: one preprocessing for all)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_model(num_classes: int, dropout: float = 0.0) -> nn.Module:
    """ResNet-50, randomly initialised, its 1000-way ``fc`` replaced by dropout + a linear layer.

    The head is always ``fc = Sequential(Dropout, Linear)`` so checkpoints have the same keys
    whatever the dropout. Each residual block's last batch norm starts at zero (the block starts
    as the identity), which makes training from scratch start much faster (Goyal et al., 2017);
    loaded weights replace it.
    """
    model = resnet50(weights=None, zero_init_residual=True)
    model.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(model.fc.in_features, num_classes))
    return model


def imagenet_state_dict(progress: bool = False) -> dict:
    """torchvision's ImageNet ResNet-50 weights: from the torch hub cache, else downloaded."""
    url = IMAGENET_WEIGHTS.url
    cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    try:
        return torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=progress,
                                                  check_hash=True, weights_only=True)
    except Exception as exc:  # URLError, HTTPError, OSError, RuntimeError (hash)...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrainerError(
            f"--pretrained: could not get torchvision's ImageNet weights for ResNet-50 from {url} "
            f"({reason}). Without internet, copy that file to {cache} or pass --weights FILE "
            f"(a ResNet-50 state dict), or train from scratch without either option") from exc


def read_weights_file(path) -> dict:
    """A ResNet-50 state dict from a local file: a plain state dict, a ``{'state_dict': ...}``
    wrapper, or a maskgen checkpoint (its ``model``). Loaded with ``weights_only``."""
    path = Path(path)
    if not path.is_file():
        raise TrainerError(f"--weights: {path} is not a file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise TrainerError(f"--weights: cannot load {path} as a PyTorch state dict "
                           f"({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})") from exc
    if isinstance(data, dict):
        for key in ("model", "state_dict", "model_state_dict"):
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    if not isinstance(data, dict) or not data or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise TrainerError(f"--weights: {path} holds no state dict (a mapping of names to tensors)")
    return {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in data.items()}


def load_backbone(model: nn.Module, state: dict, source: str) -> str:
    """Copy every matching tensor of ``state`` into ``model``; the head is kept only if its shape
    fits (same number of classes). Every backbone tensor must be present. Returns a summary."""
    own = model.state_dict()
    backbone = [k for k in own if not k.startswith("fc.")]
    missing = [k for k in backbone if k not in state]
    mismatched = [k for k in backbone if k in state and state[k].shape != own[k].shape]
    if missing or mismatched:
        example = (missing or mismatched)[0]
        raise TrainerError(
            f"{source} does not fit ResNet-50: {len(missing)} tensors missing, {len(mismatched)} of "
            f"another shape (e.g. {example})")
    head = [k for k in own if k.startswith("fc.")]
    head_fits = all(k in state and state[k].shape == own[k].shape for k in head)
    load = {k: state[k] for k in backbone + (head if head_fits else [])}
    model.load_state_dict(load, strict=False)
    return f"weights from {source}" + (" (backbone and head)" if head_fits else " (backbone; new head)")


def initial_weights(model: nn.Module, pretrained: bool, weights: str | None) -> str:
    """Load the starting weights the options ask for; returns what was done, for the log."""
    if pretrained and weights:
        raise TrainerError("choose one of --pretrained and --weights")
    if pretrained:
        return load_backbone(model, imagenet_state_dict(), "torchvision ImageNet (IMAGENET1K_V2)")
    if weights:
        return load_backbone(model, read_weights_file(weights), str(weights))
    return "random initialisation (no --pretrained / --weights)"
