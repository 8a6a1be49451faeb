"""Disposable and medical types: surgical, KN95, KF94, N95 cups and the elastomeric respirator.

Each function draws one type on a :class:`~maskgen.mask.canvas.Canvas` in its own frame and returns
:class:`~maskgen.mask.canvas.Parts`. Folds, pleats, seams and rims are relief (see
:mod:`maskgen.mask.surface`): the renderer turns them into light and shade.
"""
from __future__ import annotations

import numpy as np

from maskgen.mask.canvas import (Canvas, Parts, catmull_rom, chin_margins, ear_loops, jaw_body, jaw_offset,
                                 smoothstep)
from maskgen.mask.surface import (band, face_shape, noise_at, pleat_profile, ridge, tension_creases,
                                  wrinkles)


def _surgical_outline(c: Canvas, top_fn, wx: float) -> np.ndarray:
    """The rectangle of a worn surgical mask: straight across the nose, vertical sides standing off
    the cheeks, a shallow curve under the chin (own frame)."""
    xs = np.linspace(wx, -wx, 25)
    top = np.stack([xs, top_fn(xs)], axis=1)
    bottom_x = np.linspace(-wx, wx, 25)
    bottom = np.stack([bottom_x * (1 - 0.04 * (bottom_x / wx) ** 2),
                       2.0 - 0.5 * np.abs(bottom_x / wx) ** 2.2], axis=1)
    return np.vstack([top, bottom])


def surgical(c: Canvas) -> Parts:
    """Three pleats, open over the chin and gathered into the side bindings; nose wire; ear loops."""
    def top_fn(x):
        ax = np.abs(x)
        return c.top + 0.11 * smoothstep(ax / 0.5) + 0.06 * (ax / 1.1) ** 2

    wx = 1.1  # the side bindings sit on the cheeks' contour, seen from the front
    outline = _surgical_outline(c, top_fn, wx)
    body = c.fill(outline)
    far, _ = jaw_body(c, top_fn, 0.08, 0.2)  # a side turned away hides behind the cheek
    for side, sign in ((0, -1), (1, 1)):
        if not c.sides[side]:
            body = np.where(sign * c.X > 0, np.minimum(body, far), body)
    top = top_fn(c.X)
    y_bot = 2.0 - 0.5 * np.abs(np.clip(c.X / wx, -1, 1)) ** 2.2
    height = np.maximum(y_bot - top, 0.3)
    s = c.Y - top  # face units below the top edge
    side = smoothstep(np.abs(c.X) / wx)
    gather = 1 - 0.4 * side
    spacing = 0.2 * height * gather
    relief = face_shape(c.X, c.Y, c.top, 1.95)
    depth = 0.03 + 0.015 * side  # the pleats open where the chin pushes them
    for k, f in enumerate((0.3, 0.5, 0.7)):
        wobble = 0.012 * (noise_at(c.X / 1.2, np.full_like(c.X, 3.0 * k), c.rng) - 0.5)
        d = s - ((0.5 + (f - 0.5) * gather) * height + wobble)
        relief += pleat_profile(d, [0.0], 0.8 * spacing, depth, 0.022) + ridge(d + 0.012, 0.01, 0.006)
    dx = wx - np.abs(c.X)
    binding = (dx < 0.09).astype(np.float32)
    relief += band(dx, 0.09, 0.012) + ridge(dx - 0.09, 0.01, -0.006)  # side bindings and their seams
    relief += band(s, 0.05, 0.006) * (1 - binding)  # folded top hem with the nose wire inside
    relief += ridge(s - 0.03, 0.02, 0.012) * smoothstep((0.45 - np.abs(c.X)) / 0.1)
    corners_top = [(-wx + 0.04, top_fn(np.array(wx)) + 0.04), (wx - 0.04, top_fn(np.array(wx)) + 0.04)]
    corners_bottom = [(-wx + 0.06, 1.48), (wx - 0.06, 1.48)]
    for corner in corners_top + corners_bottom:
        relief += tension_creases(c.X, c.Y, c.rng, corner, 0.5, 5, 0.01)
    welds = (np.sin(c.Y * 2 * np.pi / 0.04) > 0.2) * binding
    occl = 1 - 0.06 * binding - 0.05 * welds  # the bindings' denser, welded fabric
    loops = ear_loops(c, corners_top, corners_bottom)
    return Parts(body, relief, outline, occl.astype(np.float32), 0.05, loops, wrinkles=0.012)


def kn95(c: Canvas) -> Parts:
    """Two panels folded along a vertical crest, heat-sealed rim, nose wire, ear loops."""
    def top_fn(x):
        ax = np.abs(x)
        return c.top + 0.26 * np.minimum(ax, 1.15) / 1.15 + 0.04 * smoothstep(ax / 0.15)

    body, outline = jaw_body(c, top_fn, 0.06, 0.24)
    crest = np.sqrt(c.X ** 2 + 0.03 ** 2)
    relief = face_shape(c.X, c.Y, c.top, 2.05, lift=0.6) + 0.55 * (1 - np.minimum(crest, 1.2) / 1.2)
    relief += ridge(c.X, 0.012, -0.006)  # the weld along the crest
    d = c.edge_distance(body)
    relief += band(d, 0.07, 0.008) + ridge(d - 0.07, 0.008, -0.012)  # sealed rim and its inner weld line
    relief += ridge(c.Y - top_fn(c.X) - 0.04, 0.02, 0.01) * (np.abs(c.X) < 0.5)  # nose wire
    relief += wrinkles(c.X, c.Y, c.rng, 0.35, 0.2, float(c.rng.uniform(-1.2, 1.2)), 0.006)
    dots = (np.sin(c.X * 2 * np.pi / 0.04) * np.sin(c.Y * 2 * np.pi / 0.04) > 0.3).astype(np.float32)
    occl = 1 - 0.05 * dots * ((d > 0.01) & (d < 0.07))
    jb = jaw_offset(chin_margins(0.06, 0.24))
    corners_top = [(-1.1, top_fn(np.array(1.1)) + 0.06), (1.1, top_fn(np.array(1.1)) + 0.06)]
    corners_bottom = [tuple(jb[4] + [0.06, -0.03]), tuple(jb[12] + [-0.06, -0.03])]
    loops = ear_loops(c, corners_top, corners_bottom, width=0.055)
    return Parts(body, relief, outline, occl.astype(np.float32), 0.06, loops, wrinkles=0.008)


def kf94(c: Canvas) -> Parts:
    """Boat-shaped three-panel fold: a horizontal crest across the mouth, sealed rim, ear loops."""
    # the boat's sides tuck in at the cheeks' contour, seen from the front
    pts = np.array([[0, c.top], [0.55, c.top + 0.14], [0.95, c.top + 0.38], [1.1, 0.86], [0.95, 1.38],
                    [0.55, 1.8], [0, 1.97], [-0.55, 1.8], [-0.95, 1.38], [-1.1, 0.86], [-0.95, c.top + 0.38],
                    [-0.55, c.top + 0.14]])
    outline = catmull_rom(pts)
    outline[np.argmin(np.abs(outline[:, 0]) + outline[:, 1])] = [0, c.top]
    body = c.fill(outline)
    seam = c.Y - (0.9 + 0.12 * (np.abs(c.X) / 1.2) ** 2)
    relief = face_shape(c.X, c.Y, c.top, 1.97, lift=0.5) + 0.32 * np.exp(-(seam / 0.45) ** 2)
    relief += 0.12 * (1 - np.abs(c.X) / 1.3) + ridge(seam, 0.012, -0.008)
    relief += ridge(c.X, 0.015, -0.006) * (seam < 0)  # the upper panel's centre fold
    d = c.edge_distance(body)
    relief += band(d, 0.05, 0.006)
    relief += wrinkles(c.X, c.Y, c.rng, 0.35, 0.2, float(c.rng.uniform(-1.2, 1.2)), 0.005)
    loops = ear_loops(c, [(-1.0, 0.62), (1.0, 0.62)], [(-0.97, 1.2), (0.97, 1.2)], width=0.055)
    return Parts(body, relief, outline, None, 0.06, loops, wrinkles=0.008)


def _cup(c: Canvas, valve: bool) -> Parts:
    """A moulded cup: taller than wide, narrowing over the nose, a flange round the rim, a nose clip."""
    cy, ry, rx = 1.08, 0.88, 0.86
    t = np.linspace(0, 2 * np.pi, 96)
    narrow = 1 - 0.18 * np.clip(-np.sin(t), 0, 1) ** 2  # the upper half narrows over the nose
    outline = np.stack([rx * np.cos(t) * narrow, cy + ry * np.sin(t)], axis=1)
    outline[:, 1] = np.maximum(outline[:, 1], c.top)
    body = c.fill(outline)
    width_at = rx * (1 - 0.18 * np.clip((cy - c.Y) / ry, 0, 1) ** 2)
    r2 = (c.X / width_at) ** 2 + ((c.Y - cy) / ry) ** 2
    relief = 0.75 * np.clip(1 - r2, 0, 1) ** 0.7 + 0.1 * face_shape(c.X, c.Y)
    d = c.edge_distance(body)
    relief += band(d, 0.06, 0.01) + ridge(d - 0.06, 0.012, -0.004)  # moulded flange
    relief += ridge(c.Y - (0.62 + 0.18 * (c.X / rx) ** 2), 0.02, 0.008)  # moulded seam across the cup
    clip = ((np.abs(c.X) < 0.26) & (c.Y - c.top > 0.05) & (c.Y - c.top < 0.095)).astype(np.float32)
    relief += 0.006 * clip
    gloss = np.full_like(c.X, 0.05) + 0.4 * clip
    extras = [(0.6 * clip, "#d4d6d8")]  # the aluminium nose clip
    metal = 0.8 * clip
    occl = None
    if valve:
        vx, vy, half = 0.0, 1.3, float(c.rng.uniform(0.22, 0.3))
        box = np.maximum(np.abs(c.X - vx), np.abs(c.Y - vy) * 1.1) - half  # a rounded square boss
        inside = np.clip(-box * c.raster.scale + 0.5, 0, 1)
        relief += 0.12 * smoothstep(-box / 0.05) + ridge(box, 0.012, -0.015)
        slots = (np.sin((c.Y - vy) * 2 * np.pi / 0.055) > 0.4) * (box < -0.05) * (np.abs(c.X - vx) < half * 0.7)
        relief -= 0.01 * slots
        occl = (1 - 0.45 * slots).astype(np.float32)
        gloss = gloss + 0.25 * inside
        colours = ("#f1f1ee", "#d9dadc", "#9fb4c8", "#3a3d42")
        extras.append((inside, colours[int(c.rng.integers(len(colours)))]))
    straps = np.zeros_like(c.X)
    # two head straps running to the back of the head, seen up to the head's outline: the upper one
    # to the root of the ear, the lower one round the neck below it
    for side, sign in ((0, -1), (1, 1)):
        if not c.sides[side]:
            continue
        for y0, (x1, y1) in ((0.62, (1.2, 0.42)), (1.5, (0.97, 1.66))):
            x0 = sign * rx * np.sqrt(max(0.0, 1 - ((y0 - cy) / ry) ** 2)) * 0.9
            straps = np.maximum(straps, c.stroke(np.array([[x0, y0], [sign * x1, y1]]), 0.045))
    return Parts(body, relief.astype(np.float32), outline, occl, gloss, straps, extras, metal, wrinkles=0.003)


def n95(c: Canvas) -> Parts:
    return _cup(c, valve=False)


def n95_valve(c: Canvas) -> Parts:
    return _cup(c, valve=True)


def respirator(c: Canvas) -> Parts:
    """Half-face elastomeric facepiece with two filter cartridges, an exhalation valve and straps."""
    pts = np.array([[0, c.top], [0.35, c.top + 0.14], [0.78, 0.62], [0.98, 1.05], [0.88, 1.5],
                    [0.45, 1.86], [0, 1.95], [-0.45, 1.86], [-0.88, 1.5], [-0.98, 1.05], [-0.78, 0.62],
                    [-0.35, c.top + 0.14]])
    outline = catmull_rom(pts)
    body = c.fill(outline)
    relief = face_shape(c.X, c.Y, c.top, 1.95, lift=0.8)
    d = c.edge_distance(body)
    relief += band(d, 0.06, 0.015)
    gloss = np.full_like(c.X, 0.3)
    cartridge = "#d6487e" if c.rng.random() < 0.5 else ("#2e2f33" if c.rng.random() < 0.5 else "#b9a23a")
    extras = []
    occl = np.ones_like(c.X)
    for sign in (-1, 1):
        cx, cy, r = sign * 0.74, 1.28, 0.28
        dv = np.sqrt((c.X - cx) ** 2 + ((c.Y - cy) / 1.1) ** 2)
        disk = np.clip((r - dv) * c.raster.scale + 0.5, 0, 1)
        body = np.maximum(body, disk)
        relief += 0.5 * disk * (0.6 + 0.4 * np.sqrt(np.clip(1 - (dv / r) ** 2, 0, 1))) * smoothstep((r - dv) / 0.06)
        relief += ridge(dv - r * 0.8, 0.012, -0.01)
        occl *= 1 - 0.25 * np.exp(-((dv - r * 0.8) / 0.012) ** 2)
        gloss += 0.1 * disk
        extras.append((disk, cartridge))
        outline = np.vstack([outline, [[cx - r, cy - r], [cx + r, cy + r], [cx - r, cy + r], [cx + r, cy - r]]])
    dv = np.sqrt(c.X ** 2 + (c.Y - 1.45) ** 2)
    valve = np.clip((0.17 - dv) * c.raster.scale + 0.5, 0, 1)
    relief += 0.2 * valve + ridge(dv - 0.17, 0.015, -0.012)
    occl *= 1 - 0.2 * valve * (np.sin(c.X * 2 * np.pi / 0.05) > 0)
    straps = np.zeros_like(c.X)
    for side, sign in ((0, -1), (1, 1)):
        if c.sides[side]:
            straps = np.maximum(straps, c.stroke(np.array([[sign * 0.7, 0.6], [sign * 1.2, 0.4]]), 0.06))
            straps = np.maximum(straps, c.stroke(np.array([[sign * 0.8, 1.6], [sign * 0.97, 1.7]]), 0.06))
    return Parts(body, relief.astype(np.float32), outline, occl.astype(np.float32), gloss, straps, extras,
                 wrinkles=0.0)
