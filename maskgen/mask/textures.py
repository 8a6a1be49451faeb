"""A mask's fabric: woven and non-woven textures, the prints of :mod:`prints` and :mod:`decals`, user images.

Each pattern function takes the mask's own-frame grids ``X``, ``Y`` (face units), the base colour
(linear RGB), a generator and the raster's pixels per face unit, and returns an RGB albedo in linear
light (float32, H x W x 3). Fabrics (:data:`FABRICS`) are the cloth's own grain at its real scale
(spun-bond speckle, heathered yarn, weave, knit); prints (:data:`PRINTS`) are designs printed on it.
:func:`fabric_albedo` blends a mask's texture over its base colour.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from maskgen.mask import decals, prints
from maskgen.mask.colors import srgb_to_linear

FABRICS = ("nonwoven", "melange", "weave", "knit")
PRINTS = ("dots", "stripes", "plaid", "gingham", "checker", "camo", "paisley", "floral", "ditsy", "hearts",
          "leopard", "tiedye", "zebra", "abstract", "smile", "animal", "lettering", "stamp")
PATTERNS = FABRICS + PRINTS
SURFACES = ("sequins", "lame")  # metallic surfaces, drawn by the sequin type itself (plain albedo here)


def smooth_noise(shape: tuple[int, int], cell_px: float, rng: np.random.Generator) -> np.ndarray:
    """Value noise in 0..1 with features about ``cell_px`` pixels across."""
    h, w = shape
    gh, gw = max(2, int(h / max(cell_px, 1)) + 2), max(2, int(w / max(cell_px, 1)) + 2)
    grid = rng.random((gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _nonwoven(X, Y, base, rng, px_per_unit):
    """Spun-bond non-woven: fine speckle and the cloudy mottling of uneven fibre density."""
    n = smooth_noise(X.shape, max(1.5, 0.015 * px_per_unit), rng)
    cloud = smooth_noise(X.shape, max(3.0, 0.08 * px_per_unit), rng)
    return base[None, None, :] * (0.93 + 0.06 * n + 0.07 * cloud)[..., None]


def _melange(X, Y, base, rng, px_per_unit):
    """Heathered cotton / jersey."""
    n = smooth_noise(X.shape, max(1.2, 0.01 * px_per_unit), rng)
    n2 = smooth_noise(X.shape, max(2.0, 0.05 * px_per_unit), rng)
    return base[None, None, :] * (0.82 + 0.22 * n + 0.1 * n2)[..., None]


def _weave(X, Y, base, rng, px_per_unit):
    period = max(0.025, 3.0 / px_per_unit)
    w = 0.5 + 0.25 * (np.sin(2 * np.pi * X / period) * np.sign(np.sin(np.pi * Y / period)) +
                      np.sin(2 * np.pi * Y / period) * np.sign(np.sin(np.pi * X / period)))
    return base[None, None, :] * (0.88 + 0.2 * w)[..., None]


def _knit(X, Y, base, rng, px_per_unit):
    """Jersey knit: columns of small V loops, as on gaiters and sports masks."""
    period = max(0.02, 2.5 / px_per_unit)
    col = np.abs(np.sin(np.pi * X / period))
    row = np.abs(np.sin(np.pi * (Y + 0.5 * np.abs(((X / period) % 2) - 1) * period) / (1.4 * period)))
    n = smooth_noise(X.shape, max(2.0, 0.05 * px_per_unit), rng)
    return base[None, None, :] * (0.86 + 0.1 * col * row + 0.08 * n)[..., None]


def _plain(X, Y, base, rng, px_per_unit):
    return base[None, None, :] * np.ones(X.shape, np.float32)[..., None]


PATTERN_FUNCTIONS = {"nonwoven": _nonwoven, "melange": _melange, "weave": _weave, "knit": _knit, "none": _plain,
                     "sequins": _plain, "lame": _plain,
                     **{name: getattr(prints, name) for name in PRINTS if hasattr(prints, name)},
                     **{name: getattr(decals, name) for name in PRINTS if hasattr(decals, name)}}


def pattern(name: str, X: np.ndarray, Y: np.ndarray, base: np.ndarray, rng: np.random.Generator,
            px_per_unit: float) -> np.ndarray:
    """Albedo of the ``name`` pattern (one of :data:`PATTERNS`, or ``'none'``) over the grid (linear RGB)."""
    draw = PATTERN_FUNCTIONS.get(name)
    if draw is None:
        raise ValueError(f"unknown texture {name!r}")
    return draw(X, Y, base, rng, px_per_unit)


def image_texture(path: str | Path, X: np.ndarray, Y: np.ndarray, tile_units: float = 0.8) -> np.ndarray:
    """A user image tiled over the grid, one tile ``tile_units`` face units wide (linear RGB)."""
    from maskgen.images import read_image  # PIL loads only when a mask uses an image texture

    tile = srgb_to_linear(read_image(path).astype(np.float32) / 255.0)
    th, tw = tile.shape[:2]
    u = ((X / tile_units) % 1.0) * tw
    v = ((Y / (tile_units * th / tw)) % 1.0) * th
    return cv2.remap(tile, u.astype(np.float32), v.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_WRAP)


DECAL = "decal:"  # a texture "decal:PATH" prints the image once over the mouth instead of tiling it


def fabric_albedo(texture: str, strength: float, base: np.ndarray, X: np.ndarray, Y: np.ndarray,
                  px_per_unit: float, rng: np.random.Generator) -> np.ndarray:
    """A mask's fabric over the grid: its texture (``'none'``, a pattern or an image file) blended
    over the base colour by ``strength`` (linear RGB)."""
    if texture in ("none", ""):
        tex = base[None, None, :] * np.ones(X.shape + (1,), np.float32)
    elif texture in PATTERNS:
        tex = pattern(texture, X, Y, base, rng, px_per_unit)
    elif str(texture).startswith(DECAL):
        tex = decals.user_decal(str(texture)[len(DECAL):], X, Y, base)
    else:
        tex = image_texture(texture, X, Y)
    s = float(strength)
    return base[None, None, :] * (1 - s) + tex * s
