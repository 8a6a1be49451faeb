"""Colour helpers: hex and names to linear RGB and back, luminance, and whether a photo is grey."""
from __future__ import annotations

import numpy as np

NAMED = {
    "white": "#eeeff0", "black": "#232427", "grey": "#8e9196", "gray": "#8e9196", "lightgrey": "#c2c5c9",
    "darkgrey": "#4a4c50", "lightblue": "#92c3e2", "blue": "#3c64a8", "navy": "#1f2a4d", "teal": "#4fa3a5",
    "mint": "#a8dccb", "green": "#4c7a4a", "olive": "#6b6d3a", "pink": "#e7b4c3", "red": "#b3262d",
    "maroon": "#6b1f2a", "beige": "#d9c7a8", "brown": "#6e4b32", "yellow": "#e3c341", "purple": "#6c4f96",
    "orange": "#d9752e",
}


def parse_colour(text: str) -> tuple[str, str]:
    """A hex string or a colour name to ``('#rrggbb', name)``; ValueError if neither."""
    t = str(text).strip().lower()
    if t in NAMED:
        return NAMED[t], t
    h = t[1:] if t.startswith("#") else t
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    if len(h) == 6 and all(c in "0123456789abcdef" for c in h):
        return "#" + h, "#" + h
    raise ValueError(f"unknown colour {text!r}: use #rrggbb or one of {', '.join(sorted(NAMED))}")


def srgb_to_linear(c):
    c = np.asarray(c, np.float32)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(c):
    c = np.clip(np.asarray(c, np.float32), 0, 1)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055).astype(np.float32)


SRGB8_TO_LINEAR = srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0)


def uint8_to_linear(image: np.ndarray) -> np.ndarray:
    """8-bit sRGB to linear float32 through a lookup table."""
    return SRGB8_TO_LINEAR[image]


def hex_to_linear(h: str) -> np.ndarray:
    h = h.lstrip("#")
    rgb = np.array([int(h[i:i + 2], 16) for i in (0, 2, 4)], np.float32) / 255.0
    return srgb_to_linear(rgb)


def luminance(rgb_linear) -> np.ndarray:
    """Relative luminance (Rec. 709 weights) of linear RGB."""
    rgb = np.asarray(rgb_linear, np.float32)
    return rgb[..., 0] * 0.2126 + rgb[..., 1] * 0.7152 + rgb[..., 2] * 0.0722


def is_grey(image: np.ndarray, tolerance: int = 0) -> bool:
    """True when the three channels of an RGB uint8 image agree within ``tolerance`` everywhere.

    The check runs first on a sample of about 64 x 64 pixels. With ``tolerance`` 0 (exactly grey, as
    a hue change or a colour JPEG would break) every pixel is checked after that; with a tolerance
    (nearly grey, as a lossy-coded black-and-white photo is) the sample decides.
    """
    sub = image[:: max(1, image.shape[0] // 64), :: max(1, image.shape[1] // 64)].astype(np.int16)
    if not (np.abs(sub[..., 0] - sub[..., 1]).max() <= tolerance and
            np.abs(sub[..., 1] - sub[..., 2]).max() <= tolerance):
        return False
    if tolerance > 0:
        return True
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2]))
