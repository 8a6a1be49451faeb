"""Height-field building blocks for mask surfaces, in face units (the eye distance is 1).

A mask's relief is a height map (toward the camera) over its own frame; the renderer derives shading,
fold shadows and crease darkening from it (:func:`maskgen.mask.render.shade`), so a fold is drawn as a
fold of the surface and never as a line. Every block works on the canvas grids ``X``, ``Y`` and keeps
its features at a physical size in face units, whatever the raster's resolution; each returns float32.
"""
from __future__ import annotations

import cv2
import numpy as np


def noise_at(u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Smooth value noise in 0..1 sampled at ``(u, v)``, one random value per unit cell.

    Stretching or bending ``u`` and ``v`` stretches or bends the features: wrinkles along a direction,
    creases radiating from a point.
    """
    u = np.asarray(u, np.float32)
    v = np.asarray(v, np.float32)
    u0, v0 = float(np.floor(u.min())) - 1, float(np.floor(v.min())) - 1
    gw = min(int(np.ceil(u.max() - u0)) + 3, 4096)
    gh = min(int(np.ceil(v.max() - v0)) + 3, 4096)
    grid = rng.random((gh, gw)).astype(np.float32)
    out = cv2.remap(grid, u - u0, v - v0, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return np.clip(out, 0, 1)


def ridged(n: np.ndarray) -> np.ndarray:
    """Value noise folded into sharp-crested ridges (1 on the crests, 0 between them)."""
    return (1 - np.abs(2 * n - 1)) ** 2


def wrinkles(X, Y, rng, length: float, spacing: float, angle: float, amplitude: float) -> np.ndarray:
    """Long, narrow undulations ``spacing`` apart and about ``length`` long, running at ``angle`` (rad)."""
    ca, sa = np.cos(angle), np.sin(angle)
    u = (X * ca + Y * sa) / length
    v = (-X * sa + Y * ca) / spacing
    n = noise_at(u, v, rng)
    return (amplitude * (ridged(n) - 0.3)).astype(np.float32)


def tension_creases(X, Y, rng, anchor, reach: float, count: float, amplitude: float) -> np.ndarray:
    """Creases fanning out from ``anchor`` (an ear loop's corner pulls the fabric), fading within ``reach``."""
    dx, dy = X - anchor[0], Y - anchor[1]
    r = np.sqrt(dx * dx + dy * dy)
    phi = np.arctan2(dy, dx)
    n = noise_at(r / (0.6 * reach), phi * count / np.pi, rng)
    fade = np.clip(1 - r / reach, 0, 1) ** 1.5
    return (amplitude * ridged(n) * fade).astype(np.float32)


def soft_bumps(X, Y, rng, size: float, amplitude: float) -> np.ndarray:
    """Random low undulation of features ``size`` across (fabric never lies perfectly smooth)."""
    return (amplitude * 2 * (noise_at(X / size, Y / size, rng) - 0.5)).astype(np.float32)


def pleat_profile(t: np.ndarray, centres, width, depth, drop: float = 0.03) -> np.ndarray:
    """Sawtooth relief of folds whose edges lie at ``centres`` along ``t`` (t grows downward).

    Above each edge the panel rises over ``width`` toward the edge, then drops over ``drop`` into the
    crease under the fold: lit from above the panel is bright and the drop dark, the crease itself
    darkened by the renderer's cavity term.
    """
    out = np.zeros_like(t, dtype=np.float32)
    for c in centres:
        d = t - c
        rise = np.clip((d + width) / width, 0, 1) * (d <= 0)
        fall = np.clip(1 - d / drop, 0, 1) * (d > 0)
        out += depth * (rise ** 1.5 + fall ** 2 * (d > 0))
    return out


def band(distance: np.ndarray, width: float, height: float, soft: float = 0.012) -> np.ndarray:
    """A raised band ``width`` wide along an edge (``distance`` to it): bindings, hems, sealed rims."""
    up = np.clip(distance / soft, 0, 1)
    down = np.clip((width - distance) / soft + 0.5, 0, 1)
    return (height * up * down).astype(np.float32)


def ridge(distance: np.ndarray, width: float, height: float) -> np.ndarray:
    """A rounded ridge (positive ``height``) or crease (negative) along a line, ``distance`` from it."""
    return (height * np.exp(-(np.asarray(distance) / width) ** 2)).astype(np.float32)


def roll_off(distance: np.ndarray, width: float, depth: float) -> np.ndarray:
    """The edge turning away from the camera: ``-depth`` at the edge, 0 from ``width`` inward."""
    t = np.clip(np.asarray(distance) / width, 0, 1)
    return (-depth * (1 - t) ** 2).astype(np.float32)


def face_shape(X, Y, top: float = 0.2, bottom: float = 1.95, lift: float = 1.0) -> np.ndarray:
    """Fabric stretched over the lower face, in face units toward the camera.

    Rounded across like the cheeks and jaw (narrower toward the chin, so the sides turn away steeply),
    tented over the nose, nearly upright over mouth and chin, then turning under the chin toward the
    neck, so the part under the chin faces down and falls into shade as it does in photos. ``lift``
    scales the depth (stiff cups and folded respirators stand off the face differently).
    """
    half = np.interp(Y, [0.2, 1.0, 1.5, 2.0, 2.6], [1.32, 1.25, 1.1, 0.92, 0.9])
    across = np.sqrt(np.clip(1 - (X / half) ** 2, 0.0, 1))
    under = smoothstep_array((Y - min(1.55, bottom - 0.35)) / 0.5)
    depth = 0.9 * across * (1 - 0.75 * under ** 1.5)
    nose = 0.22 * np.exp(-((X / 0.42) ** 2) - ((Y - 0.58) / 0.36) ** 2)
    mouth = 0.05 * np.exp(-((X / 0.45) ** 2) - ((Y - 1.08) / 0.2) ** 2)
    chin = 0.06 * np.exp(-((X / 0.5) ** 2) - ((Y - 1.62) / 0.22) ** 2)
    return (lift * (depth + nose + mouth + chin)).astype(np.float32)


def smoothstep_array(x) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)
