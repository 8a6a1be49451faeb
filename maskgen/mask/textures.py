"""Procedural fabric textures and patterns, drawn in canonical face units so they scale with the face.

Each pattern function takes the canonical grids ``X``, ``Y`` (face units), the base colour and a
generator, and returns an RGB albedo in linear light (float32, H x W x 3).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from maskgen.mask.colors import hex_to_linear, luminance

PATTERNS = ("nonwoven", "melange", "weave", "dots", "stripes", "plaid", "checker", "camo", "paisley", "floral")


def _smooth_noise(shape: tuple[int, int], cell_px: float, rng: np.random.Generator) -> np.ndarray:
    """Value noise in 0..1 with features about ``cell_px`` pixels across."""
    h, w = shape
    gh, gw = max(2, int(h / max(cell_px, 1)) + 2), max(2, int(w / max(cell_px, 1)) + 2)
    grid = rng.random((gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _contrast_colour(base: np.ndarray) -> np.ndarray:
    return np.full(3, 0.02 if luminance(base) > 0.3 else 0.8, np.float32)


def _mix(base, other, weight):
    return base[None, None, :] * (1 - weight[..., None]) + other[None, None, :] * weight[..., None]


def pattern(name: str, X: np.ndarray, Y: np.ndarray, base: np.ndarray, rng: np.random.Generator,
            px_per_unit: float) -> np.ndarray:
    """Albedo of ``name`` pattern over the grid (linear RGB)."""
    shape = X.shape
    ones = np.ones(shape, np.float32)
    if name == "nonwoven":  # spun-bond speckle of surgical and respirator masks
        n = _smooth_noise(shape, max(1.5, 0.015 * px_per_unit), rng)
        return base[None, None, :] * (0.96 + 0.08 * n)[..., None]
    if name == "melange":  # heathered cotton / jersey
        n = _smooth_noise(shape, max(1.2, 0.01 * px_per_unit), rng)
        n2 = _smooth_noise(shape, max(2.0, 0.05 * px_per_unit), rng)
        return base[None, None, :] * (0.82 + 0.22 * n + 0.1 * n2)[..., None]
    if name == "weave":
        period = max(0.025, 3.0 / px_per_unit)
        w = 0.5 + 0.25 * (np.sin(2 * np.pi * X / period) * np.sign(np.sin(np.pi * Y / period)) +
                          np.sin(2 * np.pi * Y / period) * np.sign(np.sin(np.pi * X / period)))
        return base[None, None, :] * (0.88 + 0.2 * w)[..., None]
    if name == "dots":
        other = _contrast_colour(base)
        sp = float(rng.uniform(0.14, 0.26))
        r = sp * float(rng.uniform(0.18, 0.3))
        gx = (X / sp) % 1.0 - 0.5
        gy = ((Y / sp) + 0.5 * (np.floor(X / sp) % 2)) % 1.0 - 0.5
        d = np.sqrt(gx ** 2 + gy ** 2) * sp
        weight = np.clip((r - d) * px_per_unit + 0.5, 0, 1)
        return _mix(base, other, weight)
    if name == "stripes":
        other = _contrast_colour(base) * 0.5 + base * 0.5 if rng.random() < 0.5 else _contrast_colour(base)
        angle = float(rng.choice([0.0, np.pi / 4, -np.pi / 4, np.pi / 2]))
        period = float(rng.uniform(0.12, 0.3))
        t = (X * np.cos(angle) + Y * np.sin(angle)) / period
        weight = np.clip((np.abs((t % 1.0) - 0.5) - 0.25) * period * px_per_unit + 0.5, 0, 1)
        return _mix(base, other, weight)
    if name == "plaid":
        other = np.clip(base * np.array([0.4, 0.5, 0.6]) + 0.05, 0, 1).astype(np.float32)
        light = np.clip(base * 1.6 + 0.1, 0, 1).astype(np.float32)
        period = float(rng.uniform(0.25, 0.45))
        bx = (np.abs(((X / period) % 1.0) - 0.5) < 0.15).astype(np.float32)
        by = (np.abs(((Y / period) % 1.0) - 0.5) < 0.15).astype(np.float32)
        thin = ((np.abs(((X / period) % 1.0)) < 0.03) | (np.abs(((Y / period) % 1.0)) < 0.03)).astype(np.float32)
        out = _mix(base, other, 0.5 * bx + 0.5 * by)
        out = out * (1 - thin[..., None]) + light[None, None, :] * thin[..., None]
        return cv2.GaussianBlur(out, (0, 0), 0.6)
    if name == "checker":  # a band of small checks, as on some printed masks
        other = _contrast_colour(base)
        cell = float(rng.uniform(0.05, 0.08))
        band = np.abs(Y - float(rng.uniform(0.9, 1.2))) < cell * 1.5
        chk = ((np.floor(X / cell) + np.floor(Y / cell)) % 2 == 0) & band
        return _mix(base, other, cv2.GaussianBlur(chk.astype(np.float32), (0, 0), 0.5))
    if name == "camo":
        palette = [hex_to_linear(c) for c in ("#4b5320", "#6b5a3a", "#2f3324", "#8a8a5c")]
        out = np.empty(shape + (3,), np.float32)
        out[:] = palette[0]
        for colour in palette[1:]:
            blob = _smooth_noise(shape, 0.25 * px_per_unit, rng)
            weight = np.clip((blob - 0.55) * 12, 0, 1)
            out = out * (1 - weight[..., None]) + colour * weight[..., None]
        return out
    if name in ("paisley", "floral"):
        other = _contrast_colour(base)
        canvas = np.zeros(shape, np.float32)
        h, w = shape
        count = int(w * h / (0.18 * px_per_unit) ** 2)
        for _ in range(max(count, 4)):
            cx, cy = float(rng.uniform(0, w)), float(rng.uniform(0, h))
            size = float(rng.uniform(0.04, 0.08)) * px_per_unit
            if name == "floral":
                for k in range(5):
                    a = 2 * np.pi * k / 5
                    cv2.circle(canvas, (int(cx + size * np.cos(a)), int(cy + size * np.sin(a))),
                               max(1, int(size * 0.6)), 1.0, -1, cv2.LINE_AA)
                cv2.circle(canvas, (int(cx), int(cy)), max(1, int(size * 0.4)), 0.0, -1, cv2.LINE_AA)
            else:
                angle = float(rng.uniform(0, 360))
                cv2.ellipse(canvas, (int(cx), int(cy)), (max(1, int(size)), max(1, int(size * 0.55))), angle,
                            0, 360, 1.0, max(1, int(size * 0.12)), cv2.LINE_AA)
                cv2.circle(canvas, (int(cx), int(cy)), max(1, int(size * 0.22)), 1.0, -1, cv2.LINE_AA)
        return _mix(base, other, np.clip(canvas, 0, 1))
    if name == "none":
        return base[None, None, :] * ones[..., None]
    raise ValueError(f"unknown texture {name!r}")


def image_texture(path: str | Path, X: np.ndarray, Y: np.ndarray, tile_units: float = 0.8) -> np.ndarray:
    """A user image tiled over the grid, one tile ``tile_units`` face units wide (linear RGB)."""
    from maskgen.images import read_image

    from maskgen.mask.colors import srgb_to_linear

    tile = srgb_to_linear(read_image(path).astype(np.float32) / 255.0)
    th, tw = tile.shape[:2]
    u = ((X / tile_units) % 1.0) * tw
    v = ((Y / (tile_units * th / tw)) % 1.0) * th
    return cv2.remap(tile, u.astype(np.float32), v.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_WRAP)
