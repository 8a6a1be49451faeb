"""Printed designs of fashion masks: scattered motifs, repeats, camouflage, printed faces and lettering.

Every print is drawn analytically over the mask's own-frame grids ``X``, ``Y`` (face units), so motifs
keep their size on the face and placed designs (a printed mouth, a logo) sit where they belong on a
correctly worn mask: the mouth at about (0, 1.05). Each function takes ``(X, Y, base, rng, px_per_unit)``
(``base`` the ground colour, linear RGB) and returns linear RGB (H x W x 3). Motif colours are drawn
from :func:`maskgen.mask.colors.fashion_colour`, so prints span the gamut too.
"""
from __future__ import annotations

import cv2
import numpy as np

from maskgen.mask.colors import fashion_colour, hex_to_linear, linear_to_srgb, luminance

CAMO_PALETTES = (
    ("#4b5320", "#6b5a3a", "#2f3324", "#8a8a5c"),  # woodland
    ("#c8b48a", "#a58a5f", "#7a6446", "#e0d2b0"),  # desert
    ("#6d6f72", "#a9abae", "#3b3c3f", "#d5d6d8"),  # urban
    ("#e7a1b8", "#c85a85", "#f5d3de", "#8c3b5c"),  # pink
    ("#33507a", "#5b7fb0", "#1d2d47", "#9fb6d6"),  # navy
)
WORDS = ("LOVE", "STAY SAFE", "HELLO", "NYC", "2020", "SMILE", "HOPE", "TEAM", "BE KIND", "PEACE",
         "CITY", "SPORT", "NO. 7", "HAPPY", "WILD", "GO")
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX,
         cv2.FONT_HERSHEY_SCRIPT_SIMPLEX)


def colour(rng: np.random.Generator) -> np.ndarray:
    """A motif colour from anywhere in the gamut (linear RGB)."""
    return hex_to_linear(fashion_colour(rng)[0])


def contrast(base: np.ndarray) -> np.ndarray:
    """Near black on a light ground, near white on a dark one."""
    return np.full(3, 0.02 if luminance(base) > 0.3 else 0.8, np.float32)


def legible(ink: np.ndarray, base: np.ndarray, least: float = 0.2) -> np.ndarray:
    """``ink``, or the contrasting colour where ``ink`` is too close to the ground to read (no channel
    differs by ``least`` in sRGB, about 50 of 255)."""
    gap = np.abs(linear_to_srgb(ink) - linear_to_srgb(base)).max()
    return ink if gap >= least else contrast(base)


def ground(X, base) -> np.ndarray:
    return np.broadcast_to(base.astype(np.float32), X.shape + (3,)).copy()


def paint(out: np.ndarray, weight: np.ndarray, rgb) -> np.ndarray:
    """``rgb`` (a colour, or an image) over ``out`` by ``weight`` (0..1), in place."""
    w = np.clip(weight, 0, 1)[..., None]
    out *= 1 - w
    out += w * rgb
    return out


def coverage(sdf: np.ndarray, px_per_unit: float) -> np.ndarray:
    """Anti-aliased inside of a signed distance (face units, negative inside)."""
    return np.clip(0.5 - sdf * px_per_unit, 0, 1).astype(np.float32)


def hsv_array(h: np.ndarray, s, v) -> np.ndarray:
    """Hue (0..1 turns), saturation, value arrays to sRGB-encoded 0..1 RGB."""
    h6 = (h % 1.0) * 6
    i = np.floor(h6).astype(int) % 6
    f = h6 - np.floor(h6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    v = np.broadcast_to(v, h.shape)
    p, q, t = (np.broadcast_to(a, h.shape) for a in (p, q, t))
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-1).astype(np.float32)


def cells(X, Y, spacing: float, rng, channels: int = 4, stagger: bool = True):
    """Local coordinates in a grid of cells ``spacing`` across (``-0.5..0.5``) and per-cell random values."""
    gy = Y / spacing
    iy = np.floor(gy)
    gx = X / spacing + (0.5 * (iy % 2) if stagger else 0.0)
    ix = np.floor(gx)
    ix0, iy0 = int(ix.min()), int(iy.min())
    table = rng.random((int(iy.max()) - iy0 + 1, int(ix.max()) - ix0 + 1, channels)).astype(np.float32)
    r = table[(iy - iy0).astype(int), (ix - ix0).astype(int)]
    return gx - ix - 0.5, gy - iy - 0.5, r


def rotate(fx, fy, angle):
    c, s = np.cos(angle), np.sin(angle)
    return c * fx + s * fy, -s * fx + c * fy


def petals(fx, fy, radius, count):
    """Signed distance (cell units) to a flower of ``count`` round petals."""
    r = np.hypot(fx, fy)
    th = np.arctan2(fy, fx)
    edge = radius * (0.55 + 0.45 * np.abs(np.cos(0.5 * count * th)))
    return r - edge


def scattered(X, Y, base, rng, px_per_unit, spacing, draw):
    """Motifs ``spacing`` apart, jittered and turned per cell: ``draw(out, lx, ly, r, unit)`` paints one
    (``lx``, ``ly`` in face units around the motif's centre, ``r`` the cell's random values)."""
    out = ground(X, base)
    fx, fy, r = cells(X, Y, spacing, rng, channels=6)
    lx = (fx - 0.28 * (r[..., 0] - 0.5)) * spacing
    ly = (fy - 0.28 * (r[..., 1] - 0.5)) * spacing
    lx, ly = rotate(lx, ly, 2 * np.pi * r[..., 2])
    return draw(out, lx, ly, r, 1.0 / px_per_unit)


def floral(X, Y, base, rng, px_per_unit):
    """Large flowers of two colours with leaves."""
    petal_a, petal_b, heart, leaf = colour(rng), colour(rng), colour(rng), hex_to_linear("#3f7a3a")
    spacing = float(rng.uniform(0.26, 0.5))
    size = spacing * float(rng.uniform(0.3, 0.4))

    def draw(out, lx, ly, r, unit):
        leaf_sdf = np.hypot((lx - 0.9 * size) / 1.0, ly / 0.45) - 0.55 * size
        paint(out, coverage(leaf_sdf, px_per_unit), leaf * (0.8 + 0.4 * r[..., 3:4]))
        pick = (r[..., 4] > 0.5)[..., None]
        paint(out, coverage(petals(lx, ly, size, 5 + (r[..., 5] > 0.6)), px_per_unit),
              np.where(pick, petal_a, petal_b))
        return paint(out, coverage(np.hypot(lx, ly) - 0.22 * size, px_per_unit), heart)

    return scattered(X, Y, base, rng, px_per_unit, spacing, draw)


def ditsy(X, Y, base, rng, px_per_unit):
    """Small dense flowers."""
    a, b = colour(rng), colour(rng)
    spacing = float(rng.uniform(0.09, 0.14))

    def draw(out, lx, ly, r, unit):
        pick = (r[..., 4] > 0.5)[..., None]
        paint(out, coverage(petals(lx, ly, 0.32 * spacing, 5), px_per_unit), np.where(pick, a, b))
        return paint(out, coverage(np.hypot(lx, ly) - 0.07 * spacing, px_per_unit), contrast(a))

    return scattered(X, Y, base, rng, px_per_unit, spacing, draw)


def hearts(X, Y, base, rng, px_per_unit):
    """Scattered hearts or stars."""
    a = colour(rng) if rng.random() < 0.6 else contrast(base)
    spacing = float(rng.uniform(0.16, 0.3))
    star = rng.random() < 0.4

    def draw(out, lx, ly, r, unit):
        s = 0.3 * spacing
        if star:
            th = np.arctan2(ly, lx)
            sdf = np.hypot(lx, ly) - s * (0.55 + 0.45 * np.cos(5 * th) ** 2 * (np.cos(5 * th) > 0))
        else:  # two circles over a rotated square: a heart pointing down
            x, y = np.abs(lx) / s, ly / s
            lobes = np.hypot(x - 0.45, y + 0.3) - 0.5
            point = (0.7 * x + 0.7 * (y + 0.3) - 0.75)
            sdf = np.minimum(lobes, np.maximum(point, -y - 0.3)) * s
        return paint(out, coverage(sdf, px_per_unit), a)

    return scattered(X, Y, base, rng, px_per_unit, spacing, draw)


def dots(X, Y, base, rng, px_per_unit):
    """Polka dots in one colour."""
    other = contrast(base) if rng.random() < 0.6 else colour(rng)
    sp = float(rng.uniform(0.12, 0.26))
    fx, fy, _ = cells(X, Y, sp, rng, channels=1)
    d = np.hypot(fx, fy) * sp - sp * float(rng.uniform(0.16, 0.3))
    return paint(ground(X, base), coverage(d, px_per_unit), other)


def stripes(X, Y, base, rng, px_per_unit):
    """Even stripes, or bands of several colours, straight or diagonal."""
    angle = float(rng.choice([0.0, np.pi / 4, -np.pi / 4, np.pi / 2, np.pi / 2]))
    period = float(rng.uniform(0.08, 0.3))
    t = (X * np.cos(angle) + Y * np.sin(angle)) / period
    out = ground(X, base)
    colours = [contrast(base) if rng.random() < 0.5 else colour(rng), colour(rng), colour(rng)]
    many = rng.random() < 0.35
    band = np.floor(t).astype(int) % 3
    inside = np.clip((np.abs((t % 1.0) - 0.5) - 0.25) * period * px_per_unit + 0.5, 0, 1)
    for k, c in enumerate(colours if many else colours[:1]):
        paint(out, inside * ((band == k) if many else 1.0), c)
    return out


def plaid(X, Y, base, rng, px_per_unit):
    """Tartan: wide and thin bands of two colours crossing over the ground."""
    a, b = colour(rng), contrast(base) * 0.5 + colour(rng) * 0.5
    period = float(rng.uniform(0.22, 0.45))
    u, v = (X / period) % 1.0, (Y / period) % 1.0
    out = ground(X, base)
    paint(out, 0.5 * (np.abs(u - 0.5) < 0.17) + 0.5 * (np.abs(v - 0.5) < 0.17), a)
    thin = (np.abs(u - 0.12) < 0.03) | (np.abs(v - 0.12) < 0.03)
    paint(out, thin.astype(np.float32), b)
    return cv2.GaussianBlur(out, (0, 0), 0.6)


def gingham(X, Y, base, rng, px_per_unit):
    """Gingham or buffalo check: a colour's bands at half strength, full where they cross."""
    a = colour(rng) if rng.random() < 0.7 else contrast(base)
    period = float(rng.uniform(0.06, 0.2))
    bx = coverage((np.abs((X / period) % 1.0 - 0.5) - 0.25) * period, px_per_unit)
    by = coverage((np.abs((Y / period) % 1.0 - 0.5) - 0.25) * period, px_per_unit)
    return paint(ground(X, base), 0.5 * bx + 0.5 * by, a)


def checker(X, Y, base, rng, px_per_unit):
    """A checkerboard, over the whole mask or as a band across it."""
    other = contrast(base) if rng.random() < 0.6 else colour(rng)
    cell = float(rng.uniform(0.05, 0.12))
    chk = ((np.floor(X / cell) + np.floor(Y / cell)) % 2 == 0).astype(np.float32)
    if rng.random() < 0.5:
        chk *= np.abs(Y - float(rng.uniform(0.9, 1.2))) < cell * 1.5
    return paint(ground(X, base), cv2.GaussianBlur(chk, (0, 0), 0.5), other)


def camo(X, Y, base, rng, px_per_unit):
    """Camouflage blobs in one of a few classic palettes."""
    from maskgen.mask.surface import noise_at

    palette = [hex_to_linear(c) for c in CAMO_PALETTES[int(rng.integers(len(CAMO_PALETTES)))]]
    size = float(rng.uniform(0.18, 0.32))
    out = ground(X, palette[0])
    for c in palette[1:]:
        blob = noise_at(X / size + 0.3 * noise_at(X / 0.1, Y / 0.1, rng), Y / size, rng)
        paint(out, np.clip((blob - 0.55) * 0.04 * px_per_unit, 0, 1), c)
    return out


def leopard(X, Y, base, rng, px_per_unit):
    """Rosettes: broken dark rings around a warmer centre."""
    spacing = float(rng.uniform(0.14, 0.22))
    ground_colour = base if rng.random() < 0.4 else hex_to_linear("#c89a5b")
    fx, fy, r = cells(X, Y, spacing, rng, channels=3)
    lx, ly = (fx - 0.3 * (r[..., 0] - 0.5)) * spacing, (fy - 0.3 * (r[..., 1] - 0.5)) * spacing
    th = np.arctan2(ly, lx)
    rad = 0.28 * spacing * (1 + 0.25 * np.sin(3 * th + 6 * r[..., 2]))
    d = np.hypot(lx, ly)
    out = ground(X, ground_colour)
    paint(out, coverage(d - 0.8 * rad, px_per_unit), ground_colour * 0.55)
    ring = np.abs(d - rad) - 0.12 * spacing
    broken = np.sin(4 * th + 9 * r[..., 2]) > -0.4
    return paint(out, coverage(ring, px_per_unit) * broken, hex_to_linear("#2a1d14"))


def tiedye(X, Y, base, rng, px_per_unit):
    """A tie-dye spiral of bright colours."""
    from maskgen.mask.colors import srgb_to_linear
    from maskgen.mask.surface import noise_at

    cx, cy = float(rng.uniform(-0.4, 0.4)), float(rng.uniform(0.8, 1.3))
    r = np.hypot(X - cx, Y - cy)
    th = np.arctan2(Y - cy, X - cx) / (2 * np.pi)
    wobble = 0.15 * noise_at(X / 0.15, Y / 0.15, rng)
    hue = float(rng.random()) + th + 1.2 * r + wobble
    sat = np.float32(rng.uniform(0.45, 0.85))
    return srgb_to_linear(hsv_array(hue.astype(np.float32), sat, np.float32(0.92)))


def paisley(X, Y, base, rng, px_per_unit):
    """Paisley outlines (teardrop rings with a dot), bandana-style."""
    other = contrast(base)
    spacing = float(rng.uniform(0.17, 0.24))

    def draw(out, lx, ly, r, unit):
        s = 0.32 * spacing
        drop = np.hypot(lx / 1.0, (ly - 0.25 * lx * lx / s) / 0.55) - s
        paint(out, coverage(np.abs(drop) - 0.08 * s, px_per_unit), other)
        return paint(out, coverage(np.hypot(lx, ly) - 0.2 * s, px_per_unit), other)

    return scattered(X, Y, base, rng, px_per_unit, spacing, draw)


def zebra(X, Y, base, rng, px_per_unit):
    """Zebra or tiger stripes: wavy bands that fork and taper, dark on the ground."""
    from maskgen.mask.surface import noise_at

    ink = hex_to_linear("#151515") if rng.random() < 0.7 else colour(rng)
    if rng.random() < 0.6:
        base = hex_to_linear("#ecebe6")
    angle = float(rng.uniform(-0.4, 0.4)) + (np.pi / 2 if rng.random() < 0.5 else 0.0)
    period = float(rng.uniform(0.16, 0.28))
    u = X * np.cos(angle) + Y * np.sin(angle)
    warp = 0.6 * noise_at(X / 0.5, Y / 0.5, rng) + 0.15 * noise_at(X / 0.2, Y / 0.2, rng)
    t = (u / period + 2.0 * warp) % 1.0
    width = 0.25 + 0.2 * noise_at(X / 0.25, Y / 0.25, rng)
    return paint(ground(X, base), coverage((np.abs(t - 0.5) - width) * period, px_per_unit), ink)


def abstract(X, Y, base, rng, px_per_unit):
    """A loud multicolour print: overlapping blobs and brush strokes of several colours."""
    from maskgen.mask.surface import noise_at, ridged

    out = ground(X, base)
    size = float(rng.uniform(0.12, 0.3))
    for _ in range(int(rng.integers(3, 6))):
        blob = noise_at(X / size, Y / size, rng)
        paint(out, np.clip((blob - 0.6) * 0.4 * px_per_unit, 0, 1), colour(rng))
    stroke = ridged(noise_at(X / (2 * size), Y / (0.7 * size), rng))
    return paint(out, np.clip((stroke - 0.85) * 0.5 * px_per_unit, 0, 1), contrast(base))
