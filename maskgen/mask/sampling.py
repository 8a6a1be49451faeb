"""Sampling: one mask's attributes drawn from what the user asked for (:class:`MaskOptions`).

Every attribute is drawn here, in a fixed order and always with the same number of draws whatever
the options are, so that for one seed a change to one option never shifts the others:
type, wear style, colour, texture and its strength, then the shape variation.
"""
from __future__ import annotations

import os

import numpy as np

from maskgen.mask.catalog import RANDOM_COLOURS, MaskType, get_mask_type
from maskgen.mask.colors import fashion_colour, parse_colour
from maskgen.mask.options import MaskOptions
from maskgen.mask.results import MaskAttributes
from maskgen.mask.textures import DECAL, PATTERNS, SURFACES


def sample_attributes(options: MaskOptions, rng: np.random.Generator) -> MaskAttributes:
    """Draw one mask's attributes from ``options`` with ``rng`` (always the same number of draws)."""
    mask_type = sample_mask_type(options, rng)
    wear = sample_wear(options.wear_weights(), rng)
    spec = get_mask_type(mask_type)
    if wear == "ear" and not spec.ear_loops:
        wear = "chin"  # a mask without ear loops cannot hang from an ear: it is pulled down instead
    color_hex, color_name = sample_color(options.color, spec, rng)
    texture, strength = sample_texture(options.texture, options.texture_strength, spec, rng)
    height, width, top = sample_shape(options.shape_jitter, rng)
    return MaskAttributes(mask_type=mask_type, wear=wear, color=color_hex, color_name=color_name,
                          texture=texture, texture_strength=round(strength, 3),
                          height=round(height, 4), width=round(width, 4), top=round(top, 4))


def mask_type_weights(names: list[str]) -> np.ndarray:
    """Probabilities of ``names`` under 'random': real-world prevalence for built-in types."""
    w = np.array([get_mask_type(n).weight for n in names], np.float64)
    return w / w.sum()


def sample_mask_type(options: MaskOptions, rng: np.random.Generator) -> str:
    """The type: by prevalence for 'random', uniformly among the names given otherwise (one draw)."""
    types = options.mask_types()
    if options.is_random_type():
        return types[int(rng.choice(len(types), p=mask_type_weights(types)))]
    return types[int(rng.integers(len(types)))]


def sample_wear(weights: dict[str, float], rng: np.random.Generator) -> str:
    """A wear style drawn with normalised ``weights`` (one draw)."""
    names = list(weights)
    return names[int(rng.choice(len(names), p=np.array([weights[n] for n in names])))]


def sample_color(color: str | None, spec: MaskType, rng: np.random.Generator) -> tuple[str, str]:
    """``('#rrggbb', name)``: the user's colour, or one drawn from the type's palette or, for the type's
    ``tail`` share, from anywhere in the gamut (always six draws; ``'any'`` draws once more, uniformly
    over the common colours)."""
    palette = spec.palette or RANDOM_COLOURS
    weights = np.array([w for _, _, w in palette], np.float64)
    pick = palette[int(rng.choice(len(palette), p=weights / weights.sum()))]
    in_tail = rng.random() < spec.tail
    fashion = fashion_colour(rng)
    if color is None or color == "random":
        return fashion if in_tail else (pick[0], pick[1])
    if color == "any":
        pool = RANDOM_COLOURS
        return pool[int(rng.integers(len(pool)))][:2]
    return parse_colour(color)


def sample_texture(texture: str | None, strength: float | None, spec: MaskType,
                   rng: np.random.Generator) -> tuple[str, float]:
    """The texture and its strength (always the same number of draws).

    ``None``: drawn from the type's own textures; ``'random'``: any pattern; otherwise ``'none'``, a
    pattern name, an image file (tiled) or ``decal:FILE`` (printed once over the mouth). Plain,
    non-woven and metallic surfaces always get full strength.
    """
    names = [t for t, _ in spec.textures]
    weights = np.array([w for _, w in spec.textures], np.float64)
    pick = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    any_pick = PATTERNS[int(rng.integers(len(PATTERNS)))]
    drawn_strength = float(rng.uniform(0.8, 1.0))
    if texture is None:
        chosen = pick
    elif texture == "random":
        chosen = any_pick
    elif texture in ("none",) + PATTERNS + SURFACES:
        chosen = texture
    elif os.path.isfile(texture) or (texture.startswith(DECAL) and os.path.isfile(texture[len(DECAL):])):
        chosen = str(texture)
    else:
        raise ValueError(f"unknown texture {texture!r}: use none, random, an image file (tiled), "
                         f"decal:FILE (printed once), or one of {', '.join(PATTERNS + SURFACES)}")
    if chosen in ("nonwoven", "none") + SURFACES:
        drawn_strength = 1.0
    return chosen, float(strength) if strength is not None else drawn_strength


def sample_shape(jitter: float, rng: np.random.Generator) -> tuple[float, float, float]:
    """Relative height and width, and the top edge's shift, scaled by ``jitter`` (three draws)."""
    j = float(jitter)
    height = 1.0 + j * float(rng.uniform(-0.06, 0.06))
    width = 1.0 + j * float(rng.uniform(-0.05, 0.05))
    top = j * float(rng.uniform(-0.04, 0.05))
    return height, width, top
