"""Checks of where a mask landed, measured on output pixels against the source photo.

:func:`coverage` does not trust the engine's alpha: a pixel counts as covered when the output differs
from the source there. :func:`rim_fraction` looks for a bright halo along the mask's outline.
"""
from __future__ import annotations

import cv2
import numpy as np

from maskgen.detect.landmarks import region_polygons

CHANGED = 4  # smallest per-channel difference (0..255) that counts as changed


def changed_pixels(source: np.ndarray, output: np.ndarray, threshold: int = CHANGED) -> np.ndarray:
    """Boolean map of pixels the masking changed."""
    diff = np.abs(source.astype(np.int16) - output.astype(np.int16)).max(axis=2)
    return diff >= threshold


def polygon_fraction(changed: np.ndarray, polygon: np.ndarray) -> float:
    """Fraction of a polygon's pixels that changed (NaN for a polygon with no pixel in the image)."""
    canvas = np.zeros(changed.shape, np.uint8)
    cv2.fillPoly(canvas, [np.round(np.asarray(polygon) * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    inside = canvas.astype(bool)
    if not inside.any():
        return float("nan")
    return float(changed[inside].mean())


def coverage(source: np.ndarray, output: np.ndarray, landmarks: np.ndarray) -> dict[str, float]:
    """Covered fraction of each face region: nose (nostrils and tip), mouth, chin and both eyes."""
    changed = changed_pixels(source, output)
    polys = region_polygons(landmarks)
    result = {name: polygon_fraction(changed, poly) for name, poly in polys.items()}
    result["eyes"] = float(np.nanmax([result.pop("right_eye"), result.pop("left_eye")]))
    return result


def rim_fraction(output: np.ndarray, alpha: np.ndarray, tolerance: float = 6.0, step: float = 2.0) -> float:
    """Fraction of outline pixels brighter than both the mask just inside and the photo just outside.

    For every outline pixel the comparison points lie ``step`` pixels inward and outward along the
    outline's normal, so a pattern running across the edge is not mistaken for a rim.
    """
    inside = (alpha > 0.5).astype(np.uint8)
    # the mask's body only: thin straps and ear loops are lines, not outlines
    inside = cv2.morphologyEx(inside, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    if inside.sum() < 20:
        return 0.0
    outline = (inside & ~cv2.erode(inside, np.ones((3, 3), np.uint8))).astype(bool)
    smooth = cv2.GaussianBlur(alpha.astype(np.float32), (0, 0), 1.5)
    gy, gx = np.gradient(smooth)
    ys, xs = np.nonzero(outline)
    nx, ny = gx[ys, xs], gy[ys, xs]
    norm = np.hypot(nx, ny)
    ok = norm > 1e-4
    ys, xs, nx, ny = ys[ok], xs[ok], nx[ok] / norm[ok], ny[ok] / norm[ok]
    if len(ys) == 0:
        return 0.0
    # a 3x3 average keeps single noisy pixels from counting: a rim is a line, not grain
    lum = cv2.blur(cv2.cvtColor(output, cv2.COLOR_RGB2GRAY).astype(np.float32), (3, 3))
    h, w = lum.shape

    def sample(x, y):
        xi = np.clip(np.round(x).astype(int), 0, w - 1)
        yi = np.clip(np.round(y).astype(int), 0, h - 1)
        return lum[yi, xi]

    edge = lum[ys, xs]
    inner = sample(xs + step * nx, ys + step * ny)  # the gradient of alpha points inward
    outer = sample(xs - step * nx, ys - step * ny)
    return float((edge > np.maximum(inner, outer) + tolerance).mean())
