"""Colour helpers: hex and names to linear RGB and back, fashion colours over the whole gamut, luminance,
and whether a photo is grey."""
from __future__ import annotations

import numpy as np

NAMED = {
    "white": "#eeeff0", "black": "#232427", "grey": "#8e9196", "gray": "#8e9196", "lightgrey": "#c2c5c9",
    "darkgrey": "#4a4c50", "lightblue": "#92c3e2", "blue": "#3c64a8", "navy": "#1f2a4d", "teal": "#4fa3a5",
    "mint": "#a8dccb", "green": "#4c7a4a", "olive": "#6b6d3a", "pink": "#e7b4c3", "red": "#b3262d",
    "maroon": "#6b1f2a", "beige": "#d9c7a8", "brown": "#6e4b32", "yellow": "#e3c341", "purple": "#6c4f96",
    "orange": "#d9752e", "teal_surgical": "#6cc2b8", "gold": "#c9a544", "silver": "#c4c7cc",
    "coral": "#e8826e", "lavender": "#b9a7d8", "peach": "#f0c2a0", "nude": "#d8b095", "khaki": "#b7a779",
}

# colour families of fashion masks, beyond a type's usual palette: (name, weight, hue range (degrees),
# saturation range, value range); hue None means any hue
FAMILIES = (
    ("vivid", 0.30, None, (0.55, 0.95), (0.55, 0.95)),
    ("pastel", 0.25, None, (0.12, 0.38), (0.82, 0.97)),
    ("dark", 0.20, None, (0.25, 0.8), (0.14, 0.42)),
    ("muted", 0.13, None, (0.08, 0.3), (0.35, 0.75)),
    ("skin", 0.12, (12.0, 34.0), (0.2, 0.55), (0.35, 0.92)),
)
HUE_NAMES = ((15, "red"), (40, "orange"), (65, "yellow"), (90, "lime"), (150, "green"), (190, "teal"),
             (250, "blue"), (285, "purple"), (345, "pink"), (361, "red"))


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


def hsv_to_hex(hue: float, sat: float, val: float) -> str:
    """Hue in degrees, saturation and value in 0..1 to ``'#rrggbb'``."""
    h6 = (hue % 360.0) / 60.0
    c = val * sat
    x = c * (1 - abs(h6 % 2 - 1))
    r, g, b = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][int(h6) % 6]
    m = val - c
    return "#" + "".join(f"{int(round(255 * (v + m))):02x}" for v in (r, g, b))


def fashion_colour(rng: np.random.Generator) -> tuple[str, str]:
    """``('#rrggbb', name)`` from anywhere in the gamut, by colour family (always four draws)."""
    weights = np.array([f[1] for f in FAMILIES])
    name, _, hues, sats, vals = FAMILIES[int(rng.choice(len(FAMILIES), p=weights / weights.sum()))]
    u_hue, u_sat, u_val = rng.random(3)
    hue = 360.0 * u_hue if hues is None else hues[0] + (hues[1] - hues[0]) * u_hue
    sat = sats[0] + (sats[1] - sats[0]) * u_sat
    val = vals[0] + (vals[1] - vals[0]) * u_val
    hue_name = next(n for limit, n in HUE_NAMES if hue % 360 < limit)
    return hsv_to_hex(hue, sat, val), ("skin tone" if name == "skin" else f"{name} {hue_name}")


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
