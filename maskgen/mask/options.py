"""What the user asks for: :class:`MaskOptions`, the wear styles and their labels.

The attributes of each mask are drawn from the options in :mod:`maskgen.mask.sampling`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from maskgen.mask.catalog import list_mask_types, random_mask_types

WEAR_STYLES = {
    "correct": "covers the nose bridge down to under the chin",
    "nose": "nose exposed, mouth and chin covered",
    "chin": "pulled down: nose and mouth exposed, mask on the chin or hanging under it",
    "ear": "off the face, hanging from one ear by its loops beside the jaw (types without ear loops: chin)",
}
# dataset label for each wear style
WEAR_LABELS = {"correct": "with_mask", "nose": "incorrect_mask", "chin": "incorrect_mask", "ear": "incorrect_mask"}


def parse_wear(text: str) -> dict[str, float]:
    """``'correct'`` or ``'correct=0.7,nose=0.2,chin=0.1'`` to normalised weights."""
    weights: dict[str, float] = {}
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in WEAR_STYLES:
            raise ValueError(f"unknown wear style {name!r}; choose from {', '.join(WEAR_STYLES)}")
        try:
            weights[name] = float(value) if value else 1.0
        except ValueError:
            raise ValueError(f"bad weight {value!r} for wear style {name!r}") from None
        if weights[name] < 0:
            raise ValueError(f"negative weight for wear style {name!r}")
    total = sum(weights.values())
    if not weights or total <= 0:
        raise ValueError(f"no wear style in {text!r}")
    return {k: v / total for k, v in weights.items()}


@dataclass
class MaskOptions:
    """Choices for masking; anything left ``None`` or ``'random'`` is sampled per face.

    mask_type: a type name, a list of names (drawn uniformly), or ``'random'`` (any type, drawn with
        real-world prevalence: surgical and cloth most often, respirators rarely).
    color: ``'#rrggbb'``, a named colour, or ``None``/``'random'`` for the type's realistic palette.
    texture: ``'none'``, a procedural texture name, an image file path, or ``None``/``'random'``.
    texture_strength: 0..1, or ``None`` to sample.
    wear: a style name, a mix such as ``'correct=0.7,nose=0.2,chin=0.1'``, or a dict of weights.
    shape_jitter: scale of the random per-type shape variation (0 gives the catalog shape).
    """

    mask_type: str | Sequence[str] = "random"
    color: str | None = None
    texture: str | None = None
    texture_strength: float | None = None
    wear: str | Mapping[str, float] = "correct"
    shape_jitter: float = 1.0
    extra: dict = field(default_factory=dict)

    def wear_weights(self) -> dict[str, float]:
        """Normalised weight of each wear style asked for."""
        if isinstance(self.wear, Mapping):
            return parse_wear(",".join(f"{k}={v}" for k, v in self.wear.items()))
        return parse_wear(self.wear)

    def is_random_type(self) -> bool:
        """True when the type is 'random': drawn with real-world prevalence weights."""
        return isinstance(self.mask_type, str) and self.mask_type.strip() in ("", "random")

    def mask_types(self) -> list[str]:
        """The type names to draw from; ValueError naming an unknown one."""
        known = list_mask_types()
        if isinstance(self.mask_type, str):
            names = [t.strip() for t in self.mask_type.split(",") if t.strip()]
        else:
            names = list(self.mask_type)
        if not names or names == ["random"]:
            return random_mask_types()
        for name in names:
            if name not in known and not os.path.isdir(name):
                raise ValueError(f"unknown mask type {name!r}; choose from {', '.join(known)} or 'random'")
        return names

