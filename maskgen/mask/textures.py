"""Procedural fabric textures and patterns, drawn in canonical face units so they scale with the face.

Each pattern function takes the canonical grids ``X``, ``Y`` (face units), the base colour (linear
RGB), a generator and the raster's pixels per face unit, and returns an RGB albedo in linear light
(float32, H x W x 3). :func:`fabric_albedo` blends a mask's texture over its base colour.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from maskgen.mask.colors import hex_to_linear, luminance, srgb_to_linear

PATTERNS = ("nonwoven", "melange", "weave", "dots", "stripes", "plaid", "checker", "camo", "paisley", "floral")
CAMO_PALETTE = ("#4b5320", "#6b5a3a", "#2f3324", "#8a8a5c")


def smooth_noise(shape: tuple[int, int], cell_px: float, rng: np.random.Generator) -> np.ndarray:
    """Value noise in 0..1 with features about ``cell_px`` pixels across."""
    h, w = shape
    gh, gw = max(2, int(h / max(cell_px, 1)) + 2), max(2, int(w / max(cell_px, 1)) + 2)
    grid = rng.random((gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _contrast_colour(base: np.ndarray) -> np.ndarray:
    """Near black on a light base, near white on a dark one."""
    return np.full(3, 0.02 if luminance(base) > 0.3 else 0.8, np.float32)


def _mix(base, other, weight):
    return base[None, None, :] * (1 - weight[..., None]) + other[None, None, :] * weight[..., None]


def _nonwoven(X, Y, base, rng, px_per_unit):
    """Spun-bond speckle of surgical and respirator masks."""
    n = smooth_noise(X.shape, max(1.5, 0.015 * px_per_unit), rng)
    return base[None, None, :] * (0.96 + 0.08 * n)[..., None]


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


def _dots(X, Y, base, rng, px_per_unit):
    other = _contrast_colour(base)
    sp = float(rng.uniform(0.14, 0.26))
    r = sp * float(rng.uniform(0.18, 0.3))
    gx = (X / sp) % 1.0 - 0.5
    gy = ((Y / sp) + 0.5 * (np.floor(X / sp) % 2)) % 1.0 - 0.5
    d = np.sqrt(gx ** 2 + gy ** 2) * sp
    weight = np.clip((r - d) * px_per_unit + 0.5, 0, 1)
    return _mix(base, other, weight)


def _stripes(X, Y, base, rng, px_per_unit):
    other = _contrast_colour(base) * 0.5 + base * 0.5 if rng.random() < 0.5 else _contrast_colour(base)
    angle = float(rng.choice([0.0, np.pi / 4, -np.pi / 4, np.pi / 2]))
    period = float(rng.uniform(0.12, 0.3))
    t = (X * np.cos(angle) + Y * np.sin(angle)) / period
    weight = np.clip((np.abs((t % 1.0) - 0.5) - 0.25) * period * px_per_unit + 0.5, 0, 1)
    return _mix(base, other, weight)


def _plaid(X, Y, base, rng, px_per_unit):
    other = np.clip(base * np.array([0.4, 0.5, 0.6]) + 0.05, 0, 1).astype(np.float32)
    light = np.clip(base * 1.6 + 0.1, 0, 1).astype(np.float32)
    period = float(rng.uniform(0.25, 0.45))
    bx = (np.abs(((X / period) % 1.0) - 0.5) < 0.15).astype(np.float32)
    by = (np.abs(((Y / period) % 1.0) - 0.5) < 0.15).astype(np.float32)
    thin = ((np.abs(((X / period) % 1.0)) < 0.03) | (np.abs(((Y / period) % 1.0)) < 0.03)).astype(np.float32)
    out = _mix(base, other, 0.5 * bx + 0.5 * by)
    out = out * (1 - thin[..., None]) + light[None, None, :] * thin[..., None]
    return cv2.GaussianBlur(out, (0, 0), 0.6)


def _checker(X, Y, base, rng, px_per_unit):
    """A band of small checks, as on some printed masks."""
    other = _contrast_colour(base)
    cell = float(rng.uniform(0.05, 0.08))
    band = np.abs(Y - float(rng.uniform(0.9, 1.2))) < cell * 1.5
    chk = ((np.floor(X / cell) + np.floor(Y / cell)) % 2 == 0) & band
    return _mix(base, other, cv2.GaussianBlur(chk.astype(np.float32), (0, 0), 0.5))


def _camo(X, Y, base, rng, px_per_unit):
    palette = [hex_to_linear(c) for c in CAMO_PALETTE]
    out = np.empty(X.shape + (3,), np.float32)
    out[:] = palette[0]
    for colour in palette[1:]:
        blob = smooth_noise(X.shape, 0.25 * px_per_unit, rng)
        weight = np.clip((blob - 0.55) * 12, 0, 1)
        out = out * (1 - weight[..., None]) + colour * weight[..., None]
    return out


def _flower(canvas, cx, cy, size):
    for k in range(5):
        a = 2 * np.pi * k / 5
        cv2.circle(canvas, (int(cx + size * np.cos(a)), int(cy + size * np.sin(a))),
                   max(1, int(size * 0.6)), 1.0, -1, cv2.LINE_AA)
    cv2.circle(canvas, (int(cx), int(cy)), max(1, int(size * 0.4)), 0.0, -1, cv2.LINE_AA)


def _paisley_motif(canvas, cx, cy, size, angle):
    cv2.ellipse(canvas, (int(cx), int(cy)), (max(1, int(size)), max(1, int(size * 0.55))), angle,
                0, 360, 1.0, max(1, int(size * 0.12)), cv2.LINE_AA)
    cv2.circle(canvas, (int(cx), int(cy)), max(1, int(size * 0.22)), 1.0, -1, cv2.LINE_AA)


def _scattered_motifs(floral: bool, X, base, rng, px_per_unit):
    """Flowers or paisley outlines scattered at random, one every 0.18 face units or so."""
    other = _contrast_colour(base)
    canvas = np.zeros(X.shape, np.float32)
    h, w = X.shape
    count = int(w * h / (0.18 * px_per_unit) ** 2)
    for _ in range(max(count, 4)):
        cx, cy = float(rng.uniform(0, w)), float(rng.uniform(0, h))
        size = float(rng.uniform(0.04, 0.08)) * px_per_unit
        if floral:
            _flower(canvas, cx, cy, size)
        else:
            _paisley_motif(canvas, cx, cy, size, float(rng.uniform(0, 360)))
    return _mix(base, other, np.clip(canvas, 0, 1))


def _paisley(X, Y, base, rng, px_per_unit):
    return _scattered_motifs(False, X, base, rng, px_per_unit)


def _floral(X, Y, base, rng, px_per_unit):
    return _scattered_motifs(True, X, base, rng, px_per_unit)


def _plain(X, Y, base, rng, px_per_unit):
    return base[None, None, :] * np.ones(X.shape, np.float32)[..., None]


PATTERN_FUNCTIONS = {"nonwoven": _nonwoven, "melange": _melange, "weave": _weave, "dots": _dots,
                     "stripes": _stripes, "plaid": _plaid, "checker": _checker, "camo": _camo,
                     "paisley": _paisley, "floral": _floral, "none": _plain}


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


def fabric_albedo(texture: str, strength: float, base: np.ndarray, X: np.ndarray, Y: np.ndarray,
                  px_per_unit: float, rng: np.random.Generator) -> np.ndarray:
    """A mask's fabric over the grid: its texture (``'none'``, a pattern or an image file) blended
    over the base colour by ``strength`` (linear RGB)."""
    if texture in ("none", ""):
        tex = base[None, None, :] * np.ones(X.shape + (1,), np.float32)
    elif texture in PATTERNS:
        tex = pattern(texture, X, Y, base, rng, px_per_unit)
    else:
        tex = image_texture(texture, X, Y)
    s = float(strength)
    return base[None, None, :] * (1 - s) + tex * s
