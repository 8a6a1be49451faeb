"""What the user asks for (:class:`MaskOptions`) and how a mask's attributes are sampled from it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from maskgen.mask.results import MaskAttributes

WEAR_STYLES = {
    "correct": "covers the nose bridge down to under the chin",
    "nose": "nose exposed, mouth and chin covered",
    "chin": "pulled down: nose and mouth exposed, mask on the chin",
}
# dataset label for each wear style
WEAR_LABELS = {"correct": "with_mask", "nose": "incorrect_mask", "chin": "incorrect_mask"}


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
        if isinstance(self.wear, Mapping):
            return parse_wear(",".join(f"{k}={v}" for k, v in self.wear.items()))
        return parse_wear(self.wear)

    def is_random_type(self) -> bool:
        """True when the type is 'random': drawn with real-world prevalence weights."""
        return isinstance(self.mask_type, str) and self.mask_type.strip() in ("", "random")

    def mask_types(self) -> list[str]:
        import os

        from maskgen.mask.catalog import list_mask_types, random_mask_types

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


def sample_attributes(options: MaskOptions, rng: np.random.Generator) -> MaskAttributes:
    """Draw one mask's attributes from ``options`` with ``rng`` (always the same number of draws)."""
    from maskgen.mask.catalog import get_mask_type, resolve_color, sample_texture

    from maskgen.mask.catalog import mask_type_weights

    types = options.mask_types()
    if options.is_random_type():
        mask_type = types[int(rng.choice(len(types), p=mask_type_weights(types)))]
    else:
        mask_type = types[int(rng.integers(len(types)))]
    weights = options.wear_weights()
    names = list(weights)
    wear = names[int(rng.choice(len(names), p=np.array([weights[n] for n in names])))]
    spec = get_mask_type(mask_type)
    color_hex, color_name = resolve_color(options.color, spec, rng)
    texture, strength = sample_texture(options.texture, options.texture_strength, spec, rng)
    j = float(options.shape_jitter)
    height = 1.0 + j * float(rng.uniform(-0.06, 0.06))
    width = 1.0 + j * float(rng.uniform(-0.05, 0.05))
    top = j * float(rng.uniform(-0.04, 0.05))
    return MaskAttributes(mask_type=mask_type, wear=wear, color=color_hex, color_name=color_name,
                          texture=texture, texture_strength=round(strength, 3),
                          height=round(height, 4), width=round(width, 4), top=round(top, 4))
