"""Fabric coverings: sewn cloth, sports, bandana, gaiter, scarf or niqab-style veil, sheer hosiery, the
clear-window mask and the sequinned or metallic fashion mask.

Each function draws one type on a :class:`~maskgen.mask.canvas.Canvas` in its own frame and returns
:class:`~maskgen.mask.canvas.Parts`; seams, hems and drapery are relief (:mod:`maskgen.mask.surface`).
"""
from __future__ import annotations

import numpy as np

from maskgen.mask.canvas import (LOWEST, Canvas, Parts, below_curve, catmull_rom, chin_margins, ear_loops,
                                 hide_far_sides, jaw_body, jaw_offset, smoothstep)
from maskgen.mask.prints import cells
from maskgen.mask.surface import band, face_shape, noise_at, ridge, tension_creases, wrinkles


def _cloth_shape(c: Canvas):
    """The two-panel sewn mask: body, outline, seam position, ear-loop corners."""
    def top_fn(x):
        ax = np.abs(x)
        return c.top + 0.15 * smoothstep(ax / 0.6) + 0.05 * ax ** 2

    body, outline = jaw_body(c, top_fn, 0.04, 0.16)
    seam_x = 0.02 * np.sin(c.Y * 2.0)
    jb = jaw_offset(chin_margins(0.04, 0.16))
    corners_top = [tuple(jb[1] + [0.08, 0.05]), tuple(jb[15] + [-0.08, 0.05])]
    corners_bottom = [tuple(jb[4] + [0.06, -0.03]), tuple(jb[12] + [-0.06, -0.03])]
    return body, outline, seam_x, corners_top, corners_bottom


def _cloth_relief(c: Canvas, body, seam_x, corners, crease: float = 0.02) -> np.ndarray:
    relief = face_shape(c.X, c.Y, c.top, 1.97) + ridge(c.X - seam_x, 0.16, 0.07) + ridge(c.X - seam_x, 0.012, -0.01)
    relief += band(c.edge_distance(body), 0.05, 0.008)  # hem
    relief += wrinkles(c.X, c.Y, c.rng, 0.5, 0.13, float(c.rng.uniform(-0.35, 0.35)), crease * 0.7)
    for corner in corners:
        relief += tension_creases(c.X, c.Y, c.rng, corner, 0.6, 5, crease)
    return relief


def cloth(c: Canvas) -> Parts:
    """Sewn fabric mask: a centre seam over nose and chin, hem, wrinkles pulled from the ear loops."""
    body, outline, seam_x, tops, bottoms = _cloth_shape(c)
    relief = _cloth_relief(c, body, seam_x, tops + bottoms)
    d = c.edge_distance(body)
    stitch = np.exp(-((d - 0.05) / 0.007) ** 2) * (np.sin((c.X + c.Y) * 2 * np.pi / 0.05) > 0)
    occl = 1 - 0.12 * stitch
    loops = ear_loops(c, tops, bottoms, width=0.055)
    return Parts(body, relief, outline, occl.astype(np.float32), 0.03, loops, wrinkles=0.018)


def window(c: Canvas) -> Parts:
    """A cloth mask with a clear plastic window over the mouth (made for lip reading)."""
    body, outline, seam_x, tops, bottoms = _cloth_shape(c)
    wy, rx, ry = float(c.rng.uniform(1.02, 1.12)), float(c.rng.uniform(0.5, 0.58)), float(c.rng.uniform(0.28, 0.34))
    r = np.sqrt((c.X / rx) ** 2 + ((c.Y - wy) / ry) ** 2)
    pane = np.clip((1 - r) * min(rx, ry) * c.raster.scale + 0.5, 0, 1)
    relief = _cloth_relief(c, body, seam_x * 0, tops + bottoms) * (1 - pane) + face_shape(c.X, c.Y) * pane
    rim = np.abs(r - 1) * min(rx, ry)
    relief += band(0.045 - rim, 0.045, 0.012)  # the binding sewn round the pane
    streak = np.exp(-((c.X * 0.7 + (c.Y - wy) * 0.7 + 0.1) / 0.05) ** 2) * pane
    fog = noise_at(c.X / 0.12, c.Y / 0.12, c.rng)  # breath misting the pane in patches
    see_through = 1 - pane * (0.68 - 0.3 * streak - 0.15 * fog)
    extras = [(pane, "#e3ecef")]
    gloss = 0.03 + 0.9 * pane
    loops = ear_loops(c, tops, bottoms, width=0.055)
    return Parts(body, relief, outline, None, gloss, loops, extras, see_through=see_through.astype(np.float32),
                 wrinkles=0.015)


def sequin(c: Canvas) -> Parts:
    """A fashion mask covered in sequins (tilted metal discs) or in smooth lame."""
    body, outline, seam_x, tops, bottoms = _cloth_shape(c)
    relief = face_shape(c.X, c.Y, c.top, 1.97) + ridge(c.X - seam_x, 0.16, 0.06)
    relief += band(c.edge_distance(body), 0.05, 0.008)
    if c.attrs.texture == "lame":
        relief += wrinkles(c.X, c.Y, c.rng, 0.4, 0.16, float(c.rng.uniform(-0.5, 0.5)), 0.03)
        metal = np.full_like(c.X, 0.8)
        gloss = np.full_like(c.X, 0.8)
    else:
        spacing = 0.055
        fx, fy, rnd = cells(c.X, c.Y, spacing, c.rng, channels=3)
        disc = np.clip((0.48 - np.hypot(fx, fy)) * spacing * c.raster.scale + 0.5, 0, 1)
        tilt = 0.45 * (rnd[..., 0] - 0.5) * fx + 0.45 * (rnd[..., 1] - 0.5) * fy
        relief += disc * (0.004 + spacing * tilt)
        metal = 0.95 * disc
        gloss = 0.15 + 0.85 * disc * (0.5 + rnd[..., 2])
    loops = ear_loops(c, tops, bottoms, width=0.05)
    return Parts(body, relief, outline, None, gloss, loops, metal=metal.astype(np.float32), wrinkles=0.01)


def sports(c: Canvas) -> Parts:
    """Jaw-hugging neoprene mask with panel seams and a slight sheen."""
    def top_fn(x):
        ax = np.abs(x)
        return c.top + 0.06 * smoothstep(ax / 0.4) + 0.1 * (ax / 1.2) ** 2

    body, outline = jaw_body(c, top_fn, 0.05, 0.12, first=0, last=16)
    relief = face_shape(c.X, c.Y, c.top, 1.93, lift=1.1)
    for sign in (-1, 1):  # panel seams from the nose down to the jaw
        seam = sign * (0.5 + 0.12 * (c.Y - 0.9) ** 2)
        relief += ridge(c.X - seam, 0.015, -0.008) + ridge(c.X - seam - sign * 0.04, 0.04, 0.006)
    relief += band(c.edge_distance(body), 0.04, 0.008)
    return Parts(body, relief.astype(np.float32), outline, None, 0.22, None, wrinkles=0.008)


def bandana(c: Canvas) -> Parts:
    """A folded triangle tied behind the head: folds fan out from the knots, the point hangs loose."""
    def top_fn(x):
        return c.top + 0.02 + 0.06 * np.abs(x) ** 2 + 0.05 * smoothstep(np.abs(x) / 0.35)

    pts = np.array([[-1.45, c.top - 0.3], [1.45, c.top - 0.3], [1.45, 0.95], [0.8, 1.85], [0.0, 2.5],
                    [-0.8, 1.85], [-1.45, 0.95]])
    outline = catmull_rom(pts)
    outline[:, 1] = np.minimum(outline[:, 1], LOWEST - 0.05)
    body = hide_far_sides(c, c.fill(outline) * below_curve(c.Y, c.X, top_fn, c.raster))
    relief = face_shape(c.X, c.Y, c.top, 2.3, lift=0.9)
    for sign in (-1, 1):
        relief += tension_creases(c.X, c.Y, c.rng, (sign * 1.5, 0.45), 1.9, 7, 0.05)
    hang = smoothstep((c.Y - 1.8) / 0.4)
    relief += wrinkles(c.X, c.Y, c.rng, 0.6, 0.22, np.pi / 2, 0.05) * hang
    relief += band(c.Y - top_fn(c.X), 0.06, 0.012)  # the folded top edge
    outline = np.vstack([outline, [[-1.45, top_fn(np.array(-1.45))], [1.45, top_fn(np.array(1.45))]]])
    return Parts(body, relief.astype(np.float32), outline, None, 0.02, None, wrinkles=0.03)


def _tube(c: Canvas, margin: float, neck: float, fold: float, flare: float = 0.0):
    """A tube of fabric pulled up from the neck over the nose, wrapping round the head: its sides follow
    the face's outline ``margin`` outside it, then the neck (half-width ``neck``), widening by ``flare``
    toward the bottom (a scarf's drape). Returns body, relief and outline."""
    def top_fn(x):
        return c.top + 0.03 + 0.05 * smoothstep(np.abs(x) / 0.4) + 0.08 * x ** 2

    jaw = jaw_offset(np.full(17, margin))[0:6]  # the right-hand side of the image: mirror below
    neck_pts = np.array([[-neck, 1.75], [-neck - 0.4 * flare, 2.2], [-neck - flare, 2.75]])
    left = np.vstack([[jaw[0, 0], c.top - 0.3], jaw[jaw[:, 1] < 1.45], neck_pts])
    outline = np.vstack([left, left[::-1] * [-1, 1]])
    outline[:, 1] = np.minimum(outline[:, 1], LOWEST - 0.02)
    body = c.fill(outline) * below_curve(c.Y, c.X, top_fn, c.raster)
    relief = face_shape(c.X, c.Y, c.top, 2.2, lift=0.9) + band(c.Y - top_fn(c.X), fold, 0.015)
    x_top = float(jaw[0, 0])
    outline = np.vstack([outline, [[x_top, top_fn(np.array(x_top))], [-x_top, top_fn(np.array(x_top))]]])
    return body, relief, outline


def gaiter(c: Canvas) -> Parts:
    """A neck gaiter pulled up over the nose: folded top edge, bunched rings of fabric below the chin."""
    body, relief, outline = _tube(c, float(c.rng.uniform(0.08, 0.18)), 0.95, float(c.rng.uniform(0.06, 0.14)))
    bunch = 1.0 / max(c.squash, 0.4)
    rings = wrinkles(c.X, c.Y, c.rng, 0.8, 0.13 / bunch, float(c.rng.uniform(-0.12, 0.12)), 0.03 * bunch)
    relief += rings * (0.35 + smoothstep((c.Y - 1.5) / 0.6))
    return Parts(body, relief.astype(np.float32), outline, None, 0.03, None, wrinkles=0.02)


def hosiery(c: Canvas) -> Parts:
    """A sheer stretch-nylon tube over the lower face: the face shows through, with a soft sheen."""
    body, relief, outline = _tube(c, 0.06, 0.88, 0.04)
    relief = 0.3 * relief + wrinkles(c.X, c.Y, c.rng, 0.6, 0.1, float(c.rng.uniform(-0.2, 0.2)), 0.006)
    sheer = float(c.rng.uniform(0.62, 0.85))
    edge = smoothstep(np.abs(c.X) / 1.2)  # seen edge-on at the sides, the nylon looks denser
    see_through = sheer + (1 - sheer) * 0.6 * edge + 0.05 * (noise_at(c.X / 0.3, c.Y / 0.3, c.rng) - 0.5)
    return Parts(body, relief.astype(np.float32), outline, None, 0.3, None,
                 see_through=np.clip(see_through, 0, 1).astype(np.float32), wrinkles=0.004)


def scarf(c: Canvas) -> Parts:
    """A scarf, shemagh or niqab-style veil over the nose, draping below the chin past the face's sides."""
    body, relief, outline = _tube(c, float(c.rng.uniform(0.15, 0.3)), 1.05, float(c.rng.uniform(0.05, 0.1)),
                                  flare=float(c.rng.uniform(0.2, 0.5)))
    drape = smoothstep((c.Y - 1.2) / 0.7)
    relief += wrinkles(c.X, c.Y, c.rng, 0.9, 0.28, np.pi / 2 + float(c.rng.uniform(-0.2, 0.2)), 0.06) * drape
    for sign in (-1, 1):
        relief += tension_creases(c.X, c.Y, c.rng, (sign * 1.4, 0.3), 1.3, 6, 0.035)
    return Parts(body, relief.astype(np.float32), outline, None, 0.02, None, wrinkles=0.03)
