"""Clothing up to the jaw: a turtleneck, a scarf or an open collar around the neck, behind any mask.

Real photos of faces, masked or not, show fabric under the chin: roll necks, scarves, hoods, shirt and
coat collars. A classifier that only ever saw fabric at the neck on masks pulled down to the chin calls
such unmasked faces "incorrectly worn", so the ``collar`` op draws it on masked and unmasked outputs alike.
Plain numpy and OpenCV, in the face frame of :mod:`maskgen.augment.occluders` (eye centres one unit apart,
y down; the chin at about 1.8).
"""
from __future__ import annotations

import cv2
import numpy as np

from maskgen.augment.occluders import LUMA, FaceFrame, _polygon_mask, _region, skin_colour

COLLAR_STYLES = ("turtleneck", "scarf", "open collar")


def clothing_colour(rng: np.random.Generator) -> np.ndarray:
    """An RGB colour of clothes: mostly dark and neutral (black, navy, grey, white, beige), a third of
    them any hue."""
    if rng.random() < 0.65:
        value = rng.choice([rng.uniform(0.06, 0.3), rng.uniform(0.3, 0.7), rng.uniform(0.7, 0.95)], p=[0.5, 0.3, 0.2])
        hsv = np.array([rng.uniform(0, 180), rng.uniform(0.0, 0.3) * 255, value * 255])
    else:
        hsv = np.array([rng.uniform(0, 180), rng.uniform(0.3, 0.9) * 255, rng.uniform(0.25, 0.9) * 255])
    rgb = cv2.cvtColor(np.uint8([[np.clip(np.round(hsv), 0, 255)]]), cv2.COLOR_HSV2RGB)[0, 0]
    return rgb.astype(np.float32)


def _top_edge(lm: np.ndarray, frame: FaceFrame, rng: np.random.Generator, style: str, height: float) -> np.ndarray:
    """Image points of the fabric's upper edge, across the neck under the jaw from one side to the other.

    The jaw line (landmarks 4-12) moved down: ``height`` 1 brings it up to the jaw under the chin, 0 leaves
    it about 0.7 face units lower; an open collar dips in a V at the front, its flaps up at the sides."""
    unit, down = frame.scale, frame.down
    gap = ((1.0 - height) * 0.7 + rng.uniform(0.0, 0.08)) * unit
    jaw = lm[4:13].copy()
    t = np.linspace(-1, 1, len(jaw))[:, None]
    if style == "open collar":
        drop = rng.uniform(0.5, 1.1) * unit * (1 - np.abs(t)) ** 1.5  # the V of the opening
    elif style == "scarf":
        drop = rng.uniform(-0.05, 0.12) * unit * np.cos(t * np.pi / 2)  # bunched up, rounder
    else:
        drop = 0.06 * unit * np.cos(t * np.pi / 2)  # a roll neck hugs the neck
    return jaw + down * (gap + drop)


def _outline(top: np.ndarray, frame: FaceFrame, flare: float) -> np.ndarray:
    """The fabric's polygon: the upper edge, out over the shoulders (``flare`` face units each side) and
    down past the bottom of any photo."""
    across, down, unit = frame.u / frame.scale, frame.down, frame.scale
    right = top[-1] + across * flare * unit + down * 0.5 * unit
    left = top[0] - across * flare * unit + down * 0.5 * unit
    far = 40 * unit
    return np.vstack([top, [right, right + down * far, left + down * far, left]])


def _weave(box, frame: FaceFrame, rng: np.random.Generator, style: str) -> np.ndarray:
    """Relief shading (about 1, float32) of the fabric over the pixels of ``box``: knit ribs down a roll
    neck, broad folds across a scarf or a collar; a fine grain on all of them."""
    fx, fy = frame.grid(box)
    shape = fx.shape
    shade = np.ones(shape, np.float32)
    if style == "turtleneck":
        period = rng.uniform(0.05, 0.1)
        shade += rng.uniform(0.06, 0.14) * np.sin(2 * np.pi * fx / period)
    else:
        for _ in range(3):
            angle, period = rng.uniform(-0.6, 0.6), rng.uniform(0.25, 0.6)
            phase = (fx * np.sin(angle) + fy * np.cos(angle)) / period
            shade += rng.uniform(0.05, 0.14) * np.sin(2 * np.pi * phase + rng.uniform(0, 2 * np.pi))
    grain = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), max(0.5, 0.01 * frame.scale))
    return (shade + 0.04 * grain / max(float(grain.std()), 1e-6)).astype(np.float32)


def draw_collar(image: np.ndarray, landmarks, frame: FaceFrame, rng: np.random.Generator, height: float,
                under: np.ndarray | None = None) -> np.ndarray:
    """Clothing around the neck reaching up toward the jaw: a turtleneck, a scarf or an open collar.

    ``height`` 0..1 is how close its upper edge comes to the jaw (1: up against it under the chin). It is
    drawn behind any mask: ``under`` (the masks' alphas, summed) keeps it off what they cover, so a mask
    pulled down to the chin lies over it and the alphas stay as they are. Lit like the face (the skin's
    brightness), darkened in the chin's shadow along its upper edge. Needs 68 landmarks; without them
    the image comes back unchanged.
    """
    if landmarks is None:
        return image
    lm = np.asarray(landmarks, np.float64)
    h, w = image.shape[:2]
    style = COLLAR_STYLES[int(rng.integers(len(COLLAR_STYLES)))]
    top = _top_edge(lm, frame, rng, style, height)
    outline = _outline(top, frame, rng.uniform(0.6, 1.6))
    x0, y0, x1, y1 = _region(outline, 2, w, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return image
    origin = np.array([x0, y0], np.float64)
    cover = _polygon_mask((y1 - y0, x1 - x0), outline, origin)
    cover = cv2.GaussianBlur(cover, (0, 0), max(0.5, 0.015 * frame.scale))
    if under is not None:
        cover *= 1 - np.clip(under[y0:y1, x0:x1], 0, 1)
    # the chin's shadow: darkest just under the upper edge, fading within a third of a face unit
    edge = _polygon_mask((y1 - y0, x1 - x0), np.vstack([top, top[::-1] + frame.down * 0.35 * frame.scale]), origin)
    shadow = 1 - rng.uniform(0.15, 0.45) * cv2.GaussianBlur(edge, (0, 0), max(1.0, 0.08 * frame.scale))
    skin = skin_colour(image, frame)
    light = 1.0 if skin is None else float(np.clip(float(skin @ LUMA) / 165.0, 0.45, 1.25))
    colour = clothing_colour(rng) * light
    fabric = colour[None, None, :] * (_weave((x0, y0, x1, y1), frame, rng, style) * shadow)[..., None]
    roi = image[y0:y1, x0:x1].astype(np.float32)
    out = image.copy()
    out[y0:y1, x0:x1] = np.clip(np.round(roi * (1 - cover[..., None]) + fabric * cover[..., None]), 0, 255)
    return out
