"""Placed designs: printed mouths and animal faces, lettering, respirator stamps and user images.

Unlike the repeats of :mod:`maskgen.mask.prints`, these sit at one place of the mask's own frame (face
units; on a correctly worn mask the mouth is at about (0, 1.05), the nose tip at (0, 0.56)). Each
function takes ``(X, Y, base, rng, px_per_unit)`` and returns linear RGB (H x W x 3).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from maskgen.mask.colors import hex_to_linear, srgb_to_linear
from maskgen.mask.prints import FONTS, WORDS, colour, contrast, coverage, ground, legible, paint

STAMPS = ("KN95", "FFP2", "KF94", "N95", "GB2626", "FFP2 NR", "CE 2163")


def decal_weights(X, Y, rgba: np.ndarray, centre, width: float) -> tuple[np.ndarray, np.ndarray]:
    """An sRGB RGBA image (0..1) placed ``width`` face units wide around ``centre``: (linear RGB, alpha)."""
    h, w = rgba.shape[:2]
    s = w / width
    u = ((X - centre[0]) * s + w / 2).astype(np.float32)
    v = ((Y - centre[1]) * s + h / 2).astype(np.float32)
    sampled = cv2.remap(rgba.astype(np.float32), u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                        borderValue=0)
    return srgb_to_linear(sampled[..., :3]), sampled[..., 3]


def text_image(text: str, font: int, thickness: int) -> np.ndarray:
    """White-on-transparent RGBA (0..1) of ``text``, tight around the letters."""
    scale = 2.0
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    img = np.zeros((th + base + 2 * thickness + 4, tw + 2 * thickness + 4), np.uint8)
    cv2.putText(img, text, (thickness + 2, th + thickness + 2), font, scale, 255, thickness, cv2.LINE_AA)
    a = img.astype(np.float32) / 255.0
    return np.dstack([np.ones_like(a), np.ones_like(a), np.ones_like(a), a])


def lettering(X, Y, base, rng, px_per_unit):
    """A word across the mask, or small on one side, in a contrasting or fashion colour."""
    word = WORDS[int(rng.integers(len(WORDS)))]
    img = text_image(word, FONTS[int(rng.integers(len(FONTS)))], int(rng.integers(3, 7)))
    ink = contrast(base) if rng.random() < 0.6 else legible(colour(rng), base)
    side = rng.random() < 0.4
    width = float(rng.uniform(0.35, 0.55)) if side else float(rng.uniform(0.9, 1.5))
    width = min(width, 0.45 * len(word))
    centre = (float(rng.choice([-0.55, 0.55])), float(rng.uniform(1.15, 1.4))) if side else \
        (0.0, float(rng.uniform(0.95, 1.3)))
    _, alpha = decal_weights(X, Y, img, centre, width)
    return paint(ground(X, base), alpha, ink)


def stamp(X, Y, base, rng, px_per_unit):
    """The small grey marking printed on one panel of a respirator (KN95, FFP2...)."""
    text = STAMPS[int(rng.integers(len(STAMPS)))]
    img = text_image(text, cv2.FONT_HERSHEY_SIMPLEX, 4)
    centre = (float(rng.choice([-0.55, 0.55])) * float(rng.uniform(0.9, 1.1)), float(rng.uniform(1.0, 1.3)))
    _, alpha = decal_weights(X, Y, img, centre, 0.11 * len(text))
    ink = base * 0.45 if rng.random() < 0.7 else hex_to_linear("#2b4f8c")
    return paint(ground(X, base), 0.8 * alpha, ink)


def _arc(X, Y, cx, cy, radius, half_angle):
    """Distance to a circular arc around (cx, cy), centred on straight down."""
    dx, dy = X - cx, Y - cy
    th = np.arctan2(dx, dy)  # 0 straight down
    on = np.abs(th) <= half_angle
    ends = [(cx + radius * np.sin(s * half_angle), cy + radius * np.cos(half_angle)) for s in (-1, 1)]
    end = np.minimum(*(np.hypot(X - ex, Y - ey) for ex, ey in ends))
    return np.where(on, np.abs(np.hypot(dx, dy) - radius), end)


def smile(X, Y, base, rng, px_per_unit):
    """A printed mouth: cartoon lips with teeth, or a drawn grin."""
    out = ground(X, base)
    w = float(rng.uniform(0.42, 0.62))
    cy = float(rng.uniform(0.98, 1.12))
    if rng.random() < 0.55:
        lips = hex_to_linear(["#b3262d", "#d6487e", "#8e2a3a", "#e07a8a"][int(rng.integers(4))])
        x = X / w
        upper = cy - 0.09 * w * (1 - x ** 2) - 0.03 * np.cos(np.pi * np.clip(x, -1, 1) * 2) * w
        lower = cy + 0.42 * w * (1 - x ** 2)
        inside_mouth = (np.abs(x) < 1) & (Y > upper) & (Y < lower)
        mouth = coverage(np.where(inside_mouth, -np.minimum(Y - upper, lower - Y), 0.01), px_per_unit)
        paint(out, mouth, lips)
        gap_top, gap_bottom = cy + 0.04 * w * (1 - x ** 2), cy + 0.26 * w * (1 - x ** 2)
        teeth = (np.abs(x) < 0.85) & (Y > gap_top) & (Y < gap_bottom)
        paint(out, teeth.astype(np.float32), hex_to_linear("#f4f1ea"))
        return paint(out, coverage(np.abs(Y - (gap_top + gap_bottom) / 2) - 0.006, px_per_unit) * teeth,
                     hex_to_linear("#b9b2a6"))
    ink = contrast(base)
    d = _arc(X, Y, 0.0, cy - 0.8 * w, 1.1 * w, 0.75)
    return paint(out, coverage(d - float(rng.uniform(0.025, 0.05)), px_per_unit), ink)


def animal(X, Y, base, rng, px_per_unit):
    """A cat's, dog's or bear's nose, mouth and whiskers."""
    out = ground(X, base)
    ink = contrast(base)
    ny = float(rng.uniform(0.68, 0.82))
    nose = np.hypot(X / 0.16, (Y - ny) / 0.09 + 0.25 * (X / 0.16) ** 2) - 1
    paint(out, coverage(nose * 0.09, px_per_unit), hex_to_linear("#e38aa0") if rng.random() < 0.4 else ink)
    line = 0.02
    philtrum = np.where((Y > ny) & (Y < ny + 0.2), np.abs(X), 9)
    paint(out, coverage(philtrum - line / 2, px_per_unit), ink)
    for sign in (-1, 1):
        cheek = _arc(X, Y, sign * 0.13, ny + 0.2 - 0.13, 0.13, 1.4)
        paint(out, coverage(cheek - line / 2, px_per_unit) * (sign * X > 0), ink)
        for k, slope in enumerate((-0.25, 0.0, 0.25)):
            x0 = sign * 0.32
            t = np.clip((X - x0) * sign / 0.55, 0, 1)
            yline = ny + 0.1 + 0.06 * k + slope * 0.55 * t
            d = np.where(t * (1 - t) > 0, np.abs(Y - yline), 9)
            paint(out, coverage(d - 0.007, px_per_unit), ink)
    if rng.random() < 0.35:  # a tongue
        tongue = np.hypot(X / 0.1, (Y - ny - 0.27) / 0.12) - 1
        paint(out, coverage(tongue * 0.1, px_per_unit) * (Y > ny + 0.24), hex_to_linear("#e36d86"))
    return out


def load_decal(path: str | Path) -> np.ndarray:
    """An image file as sRGB RGBA 0..1 (opaque where it has no alpha); ValueError naming the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            rgba = np.asarray(im.convert("RGBA"), np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as exc:
        raise ValueError(f"{path}: cannot read the print image ({exc})") from None
    return rgba


def user_decal(path: str | Path, X, Y, base, width: float = 1.3) -> np.ndarray:
    """A user image printed once over the mouth, ``width`` face units wide, on the ground colour."""
    rgb, alpha = decal_weights(X, Y, load_decal(path), (0.0, 1.1), width)
    return paint(ground(X, base), alpha, rgb)
