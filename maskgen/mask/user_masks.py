"""User masks: an RGBA image plus named anchor points, bent onto the canonical frame.

The six anchors (see :data:`maskgen.mask.catalog.ANCHOR_NAMES`) have fixed canonical positions; a thin-plate
spline through them maps the canonical frame into the user's image, which is then sampled. From
there on a user mask is treated like a built-in one: the face mesh bends it, the renderer lights it.
"""
from __future__ import annotations

import cv2
import numpy as np

from maskgen.mask.catalog import ANCHOR_NAMES, MaskType
from maskgen.mask.colors import luminance, srgb_to_linear
from maskgen.mask.canvas import Canvas, MaskDrawing, face_bulge

# where each anchor sits on a correctly worn mask, in canonical face units
CANONICAL_ANCHORS = {
    "nose_bridge": (0.0, 0.2),
    "chin": (0.0, 1.95),
    "left_cheek": (-1.12, 0.38),
    "right_cheek": (1.12, 0.38),
    "left_jaw": (-0.95, 1.35),
    "right_jaw": (0.95, 1.35),
}


def _tps_kernel(r2: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        k = r2 * np.log(r2)
    return np.nan_to_num(k)


def thin_plate_spline(src: np.ndarray, dst: np.ndarray):
    """A function mapping points (N, 2) near ``src`` to near ``dst`` smoothly, exact at the anchors."""
    n = len(src)
    k = _tps_kernel(((src[:, None, :] - src[None, :, :]) ** 2).sum(-1))
    p = np.hstack([np.ones((n, 1)), src])
    a = np.zeros((n + 3, n + 3))
    a[:n, :n], a[:n, n:], a[n:, :n] = k, p, p.T
    b = np.zeros((n + 3, 2))
    b[:n] = dst
    coef = np.linalg.solve(a, b)

    def apply(pts: np.ndarray) -> np.ndarray:
        u = _tps_kernel(((pts[:, None, :] - src[None, :, :]) ** 2).sum(-1))
        return u @ coef[:n] + coef[n] + pts @ coef[n + 1:]

    return apply


def draw_user_mask(spec: MaskType, attrs, rng, px_per_unit: float, sides, base_linear) -> MaskDrawing:
    """The user's RGBA mask as a canonical-frame drawing (recoloured to ``base_linear`` when it asks)."""
    rgba = cv2.imread(str(spec.folder / "mask.png"), cv2.IMREAD_UNCHANGED)
    if rgba is None or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"{spec.folder / 'mask.png'}: needs an RGBA PNG")
    rgba = cv2.cvtColor(rgba, cv2.COLOR_BGRA2RGBA).astype(np.float32) / 255.0
    c = Canvas(attrs, rng, px_per_unit, sides, top=0.2, bottom=1.95, half_width=1.3)
    src = np.array([CANONICAL_ANCHORS[k] for k in ANCHOR_NAMES], np.float64)
    dst = np.array([spec.anchors[k] for k in ANCHOR_NAMES], np.float64)
    mapping = thin_plate_spline(src, dst)
    grid = np.stack([c.X.ravel(), c.Y.ravel()], axis=1).astype(np.float64)
    uv = mapping(grid).reshape(c.X.shape + (2,)).astype(np.float32)
    sampled = cv2.remap(rgba, uv[..., 0], uv[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                        borderValue=0)
    alpha = sampled[..., 3]
    albedo = srgb_to_linear(sampled[..., :3])
    if spec.recolor:
        shade = luminance(albedo) / max(float(np.percentile(luminance(albedo)[alpha > 0.5], 90)), 1e-3) \
            if (alpha > 0.5).any() else np.ones_like(alpha)
        albedo = base_linear[None, None, :] * np.clip(shade, 0, 1.2)[..., None]
    alpha = alpha * c.below_lowest
    outline = c.own_to_canonical(np.array([[-1.4, 0.0], [1.4, 0.0], [1.4, 2.2], [-1.4, 2.2]]))
    return MaskDrawing(c.raster, alpha, albedo.astype(np.float32), face_bulge(c.X, c.Y),
                       np.ones_like(alpha), np.full_like(alpha, 0.03), outline)
