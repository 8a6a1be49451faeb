"""Procedural drawings of the built-in mask types, each in its own frame on a :class:`Canvas`.

Each drawing function takes a canvas and returns ``(body, relief, occlusion, gloss, straps, outline)``,
plus, for types with parts of another colour (valves, cartridges), a list of ``(region, '#rrggbb')``.
:func:`draw_builtin_mask` turns that into a :class:`MaskDrawing`: fabric albedo, hem, straps and
the soft wrinkles every fabric gets.
"""
from __future__ import annotations

import numpy as np

from maskgen.mask.canvas import (LOWEST, TOP, Canvas, MaskDrawing, below_curve, catmull_rom, chin_margins, face_bulge,
                                 jaw_offset, smoothstep, soft_wrinkles)
from maskgen.mask.colors import hex_to_linear, luminance
from maskgen.mask.results import MaskAttributes


def _jaw_body(c: Canvas, top_fn, side_margin: float, chin_margin: float, first: int = 1,
              last: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """Alpha of a jaw-following mask body under ``top_fn`` and its outline (own frame)."""
    jaw = jaw_offset(chin_margins(side_margin, chin_margin))[first:last + 1]
    poly = np.vstack([[jaw[0, 0], c.top - 0.6], jaw, [jaw[-1, 0], c.top - 0.6]])
    body = c.fill(poly) * below_curve(c.Y, c.X, top_fn, c.raster)
    outline = np.vstack([[[x, top_fn(np.array(x))] for x in np.linspace(jaw[-1, 0], jaw[0, 0], 24)], jaw])
    return body, outline


def _ear_loops(c: Canvas, corners_top, corners_bottom, width=0.028):
    """Ear loops from the mask's side corners toward each ear (visible sides only)."""
    loops = np.zeros_like(c.X)
    for side, sign in ((0, -1), (1, 1)):
        if not c.sides[side]:
            continue
        t, b = np.array(corners_top[side]), np.array(corners_bottom[side])
        ear = np.array([sign * 1.42, 0.42])
        upper = catmull_rom(np.array([t, (t + ear) / 2 + [0, -0.04], ear]), closed=False, samples=8)
        lower = catmull_rom(np.array([b, (b + ear) / 2 + [sign * 0.06, 0.08], ear]), closed=False, samples=8)
        loops = np.maximum(loops, c.stroke(upper, width))
        loops = np.maximum(loops, c.stroke(lower, width))
    return loops


def surgical(c: Canvas):
    def top_fn(x):
        ax = np.abs(x)
        return c.top + 0.11 * smoothstep(ax / 0.5) + 0.05 * (ax / 1.1) ** 2

    body, outline = _jaw_body(c, top_fn, 0.05, 0.15)
    wx = 1.12
    body *= (np.abs(c.X) < wx).astype(np.float32)
    y_bot = np.interp(c.X, jaw_offset(chin_margins(0.05, 0.15))[1:16, 0], jaw_offset(chin_margins(0.05, 0.15))[1:16, 1])
    t = np.clip((c.Y - top_fn(c.X)) / np.maximum(y_bot - top_fn(c.X), 0.2), 0, 1)
    # three pleats, gathered toward the side bindings
    gather = 1 - 0.25 * smoothstep(np.abs(c.X) / wx)
    tt = 0.5 + (t - 0.5) / gather
    relief = face_bulge(c.X, c.Y)
    occl = np.ones_like(c.X)
    for k, centre in enumerate((0.3, 0.5, 0.7)):
        d = tt - centre
        relief += 0.06 * np.clip(d / 0.12 + 1, 0, 1) * (d < 0)  # each fold steps out over the one below
        occl *= 1 - 0.35 * np.exp(-((d - 0.004) / 0.018) ** 2) * (d > 0)
    # side bindings and the nose wire
    dx = wx - np.abs(c.X)
    binding = (dx < 0.09).astype(np.float32)
    occl *= 1 - 0.12 * binding - 0.25 * np.exp(-((dx - 0.09) / 0.01) ** 2)
    top_d = c.Y - top_fn(c.X)
    relief += 0.02 * np.exp(-(top_d / 0.03) ** 2) * (np.abs(c.X) < 0.35)
    occl *= 1 - 0.2 * np.exp(-((top_d - 0.07) / 0.012) ** 2) * (np.abs(c.X) < 0.35)
    corners_top = [(-wx + 0.03, top_fn(np.array(wx)) + 0.04), (wx - 0.03, top_fn(np.array(wx)) + 0.04)]
    jb = jaw_offset(chin_margins(0.05, 0.15))
    corners_bottom = [tuple(jb[4] + [0.05, -0.02]), tuple(jb[12] + [-0.05, -0.02])]
    loops = _ear_loops(c, corners_top, corners_bottom)
    return body, relief, occl, np.full_like(c.X, 0.05), loops, outline


def kn95(c: Canvas):
    def top_fn(x):
        ax = np.abs(x)
        return c.top + 0.26 * np.minimum(ax, 1.15) / 1.15 + 0.04 * smoothstep(ax / 0.15)

    margins = chin_margins(0.06, 0.24)
    body, outline = _jaw_body(c, top_fn, 0.06, 0.24)
    relief = face_bulge(c.X, c.Y) * 0.6 + 0.45 * (1 - np.minimum(np.abs(c.X), 1.2) / 1.2)  # two folded planes
    occl = np.ones_like(c.X)
    occl *= 1 - 0.45 * np.exp(-(c.X / 0.012) ** 2)  # centre seam
    d = c.edge_distance(body)
    band = ((d > 0.035) & (d < 0.075)).astype(np.float32)
    dots = (np.sin(c.X * 2 * np.pi / 0.035) * np.sin(c.Y * 2 * np.pi / 0.035) > 0.3).astype(np.float32)
    occl *= 1 - 0.12 * band * dots - 0.15 * np.exp(-((d - 0.075) / 0.01) ** 2)
    jb = jaw_offset(margins)
    corners_top = [(-1.1, top_fn(np.array(1.1)) + 0.06), (1.1, top_fn(np.array(1.1)) + 0.06)]
    corners_bottom = [tuple(jb[4] + [0.06, -0.03]), tuple(jb[12] + [-0.06, -0.03])]
    loops = _ear_loops(c, corners_top, corners_bottom)
    return body, relief, occl, np.full_like(c.X, 0.06), loops, outline


def kf94(c: Canvas):
    pts = np.array([[0, c.top], [0.55, c.top + 0.14], [0.98, c.top + 0.38], [1.2, 0.86], [1.0, 1.38],
                    [0.55, 1.8], [0, 1.97], [-0.55, 1.8], [-1.0, 1.38], [-1.2, 0.86], [-0.98, c.top + 0.38],
                    [-0.55, c.top + 0.14]])
    outline = catmull_rom(pts)
    outline[np.argmin(np.abs(outline[:, 0]) + outline[:, 1])] = [0, c.top]
    body = c.fill(outline)
    seam_y = 0.9 + 0.12 * (np.abs(c.X) / 1.2) ** 2
    d = c.Y - seam_y
    relief = face_bulge(c.X, c.Y) * 0.5 + 0.35 * np.exp(-(d / 0.45) ** 2) + 0.15 * (1 - np.abs(c.X) / 1.3)
    occl = 1 - 0.4 * np.exp(-(d / 0.012) ** 2) - 0.2 * np.exp(-(c.X / 0.012) ** 2) * (d < 0)
    dist = c.edge_distance(body)
    occl *= 1 - 0.15 * np.exp(-((dist - 0.05) / 0.01) ** 2)
    corners_top = [(-1.05, 0.62), (1.05, 0.62)]
    corners_bottom = [(-1.02, 1.2), (1.02, 1.2)]
    loops = _ear_loops(c, corners_top, corners_bottom)
    return body, relief, occl.astype(np.float32), np.full_like(c.X, 0.06), loops, outline


def _cup(c: Canvas, valve: bool):
    cy, ry, rx = 1.07, 0.88, 0.88
    outline = np.stack([rx * np.cos(np.linspace(0, 2 * np.pi, 96)),
                        cy + ry * np.sin(np.linspace(0, 2 * np.pi, 96))], axis=1)
    outline[:, 1] = np.maximum(outline[:, 1], c.top)
    body = c.fill(outline)
    r2 = (c.X / rx) ** 2 + ((c.Y - cy) / ry) ** 2
    relief = (0.55 * np.sqrt(np.clip(1 - r2, 0, 1)) + 0.1 * face_bulge(c.X, c.Y)).astype(np.float32)
    occl = np.ones_like(c.X)
    rim = np.sqrt(r2)
    occl *= 1 - 0.25 * np.exp(-((rim - 0.93) / 0.025) ** 2)
    # moulded seam across the cup and the foam nose strip
    occl *= 1 - 0.15 * np.exp(-((c.Y - (0.62 + 0.18 * (c.X / rx) ** 2)) / 0.015) ** 2)
    gloss = np.full_like(c.X, 0.05)
    extra_albedo = []
    if valve:
        vx, vy, vr = 0.0, 1.22, 0.22
        dv = np.sqrt((c.X - vx) ** 2 + (c.Y - vy) ** 2)
        disk = np.clip((vr - dv) * c.raster.scale + 0.5, 0, 1)
        relief += 0.25 * np.sqrt(np.clip(1 - (dv / vr) ** 2, 0, 1)) * disk
        grille = (np.sin((c.Y - vy) * 2 * np.pi / 0.05) > 0.2) * (dv < vr * 0.7)
        occl *= 1 - 0.35 * grille - 0.3 * np.exp(-((dv - vr) / 0.015) ** 2)
        gloss = gloss + 0.35 * disk
        extra_albedo.append((disk, "#3a3d42" if c.rng.random() < 0.5 else "#e9e9e4"))
    # two head straps running to the back of the head
    straps = np.zeros_like(c.X)
    for side, sign in ((0, -1), (1, 1)):
        if not c.sides[side]:
            continue
        for y0, y1 in ((0.62, 0.4), (1.5, 1.72)):
            x0 = sign * rx * np.sqrt(max(0.0, 1 - ((y0 - cy) / ry) ** 2)) * 0.95
            straps = np.maximum(straps, c.stroke(np.array([[x0, y0], [sign * 1.55, y1]]), 0.045))
    return body, relief, occl.astype(np.float32), gloss, straps, outline, extra_albedo


def n95(c: Canvas):
    body, relief, occl, gloss, straps, outline, _ = _cup(c, valve=False)
    return body, relief, occl, gloss, straps, outline


def n95_valve(c: Canvas):
    return _cup(c, valve=True)


def cloth(c: Canvas):
    def top_fn(x):
        ax = np.abs(x)
        return c.top + 0.15 * smoothstep(ax / 0.6) + 0.05 * ax ** 2

    body, outline = _jaw_body(c, top_fn, 0.04, 0.16)
    seam_x = 0.02 * np.sin(c.Y * 2.0)
    relief = face_bulge(c.X, c.Y) + 0.12 * np.exp(-((c.X - seam_x) / 0.12) ** 2)
    occl = 1 - 0.4 * np.exp(-((c.X - seam_x) / 0.01) ** 2)
    d = c.edge_distance(body)
    stitch = (np.exp(-((d - 0.05) / 0.007) ** 2) * (np.sin((c.X + c.Y) * 2 * np.pi / 0.05) > 0)).astype(np.float32)
    occl = occl * (1 - 0.25 * stitch) * (1 - 0.1 * np.exp(-(d / 0.03) ** 2))
    jb = jaw_offset(chin_margins(0.04, 0.16))
    corners_top = [tuple(jb[1] + [0.08, 0.05]), tuple(jb[15] + [-0.08, 0.05])]
    corners_bottom = [tuple(jb[4] + [0.06, -0.03]), tuple(jb[12] + [-0.06, -0.03])]
    loops = _ear_loops(c, corners_top, corners_bottom, width=0.04)
    return body, relief.astype(np.float32), occl.astype(np.float32), np.full_like(c.X, 0.03), loops, outline


def sports(c: Canvas):
    def top_fn(x):
        ax = np.abs(x)
        return c.top + 0.06 * smoothstep(ax / 0.4) + 0.1 * (ax / 1.2) ** 2

    body, outline = _jaw_body(c, top_fn, 0.05, 0.12, first=0, last=16)
    relief = face_bulge(c.X, c.Y) * 1.1
    occl = np.ones_like(c.X)
    for sign in (-1, 1):  # panel seams from the nose down to the jaw
        seam = sign * (0.5 + 0.12 * (c.Y - 0.9) ** 2)
        occl *= 1 - 0.3 * np.exp(-((c.X - seam) / 0.012) ** 2)
    d = c.edge_distance(body)
    occl *= 1 - 0.15 * np.exp(-((d - 0.04) / 0.01) ** 2)
    return body, relief.astype(np.float32), occl.astype(np.float32), np.full_like(c.X, 0.22), None, outline


def respirator(c: Canvas):
    pts = np.array([[0, c.top], [0.35, c.top + 0.14], [0.78, 0.62], [0.98, 1.05], [0.88, 1.5],
                    [0.45, 1.86], [0, 1.95], [-0.45, 1.86], [-0.88, 1.5], [-0.98, 1.05], [-0.78, 0.62],
                    [-0.35, c.top + 0.14]])
    outline = catmull_rom(pts)
    body = c.fill(outline)
    relief = (face_bulge(c.X, c.Y) * 0.8).astype(np.float32)
    occl = np.ones_like(c.X)
    d = c.edge_distance(body)
    occl *= 1 - 0.3 * np.exp(-((d - 0.06) / 0.015) ** 2)
    gloss = np.full_like(c.X, 0.3)
    cartridge = "#d6487e" if c.rng.random() < 0.5 else ("#2e2f33" if c.rng.random() < 0.5 else "#b9a23a")
    extras = []
    for sign in (-1, 1):
        cx, cy, r = sign * 0.74, 1.28, 0.28
        dv = np.sqrt((c.X - cx) ** 2 + ((c.Y - cy) / 1.1) ** 2)
        disk = np.clip((r - dv) * c.raster.scale + 0.5, 0, 1)
        body = np.maximum(body, disk)
        relief += 0.5 * disk * (0.6 + 0.4 * np.sqrt(np.clip(1 - (dv / r) ** 2, 0, 1))) * smoothstep((r - dv) / 0.06)
        occl *= 1 - 0.35 * np.exp(-((dv - r * 0.8) / 0.012) ** 2) - 0.3 * np.exp(-((dv - r) / 0.02) ** 2)
        gloss += 0.1 * disk
        extras.append((disk, cartridge))
        outline = np.vstack([outline, [[cx - r, cy - r], [cx + r, cy + r], [cx - r, cy + r], [cx + r, cy - r]]])
    dv = np.sqrt(c.X ** 2 + (c.Y - 1.45) ** 2)
    valve = np.clip((0.17 - dv) * c.raster.scale + 0.5, 0, 1)
    relief += 0.2 * valve
    occl *= 1 - 0.3 * np.exp(-((dv - 0.17) / 0.015) ** 2) - 0.2 * valve * (np.sin(c.X * 2 * np.pi / 0.05) > 0)
    straps = np.zeros_like(c.X)
    for side, sign in ((0, -1), (1, 1)):
        if c.sides[side]:
            straps = np.maximum(straps, c.stroke(np.array([[sign * 0.7, 0.6], [sign * 1.5, 0.3]]), 0.06))
            straps = np.maximum(straps, c.stroke(np.array([[sign * 0.8, 1.6], [sign * 1.5, 1.85]]), 0.06))
    return body, relief, occl.astype(np.float32), gloss, straps, outline, extras


def bandana(c: Canvas):
    def top_fn(x):
        return c.top + 0.02 + 0.06 * np.abs(x) ** 2 + 0.05 * smoothstep(np.abs(x) / 0.35)

    pts = np.array([[-1.45, c.top - 0.3], [1.45, c.top - 0.3], [1.45, 0.95], [0.8, 1.85], [0.0, 2.5],
                    [-0.8, 1.85], [-1.45, 0.95]])
    outline = catmull_rom(pts)
    outline[:, 1] = np.minimum(outline[:, 1], LOWEST - 0.05)
    body = c.fill(outline) * below_curve(c.Y, c.X, top_fn, c.raster)
    if not c.sides[0]:
        body *= np.clip((c.X + 1.25) * c.raster.scale, 0, 1)
    if not c.sides[1]:
        body *= np.clip((1.25 - c.X) * c.raster.scale, 0, 1)
    relief = face_bulge(c.X, c.Y) * 0.9
    # folds radiating from the knots behind the ears
    occl = np.ones_like(c.X)
    for sign in (-1, 1):
        ang = np.arctan2(c.Y - 0.5, (c.X - sign * 1.5) * sign)
        relief += 0.04 * np.sin(ang * 9 + 0.7 * sign) * smoothstep(np.abs(c.X) / 1.4) * 0.6
    hang = smoothstep((c.Y - 1.9) / 0.4)
    relief += 0.05 * np.sin(c.X * 14) * hang
    outline = np.vstack([outline, [[-1.45, top_fn(np.array(-1.45))], [1.45, top_fn(np.array(1.45))]]])
    return body, relief.astype(np.float32), occl, np.full_like(c.X, 0.02), None, outline


def gaiter(c: Canvas):
    def top_fn(x):
        return c.top + 0.03 + 0.05 * smoothstep(np.abs(x) / 0.4) + 0.08 * x ** 2

    pts = np.array([[-1.4, c.top - 0.3], [1.4, c.top - 0.3], [1.38, 0.9], [1.25, 1.7], [1.15, 2.6],
                    [-1.15, 2.6], [-1.25, 1.7], [-1.38, 0.9]])
    outline = catmull_rom(pts)
    outline[:, 1] = np.minimum(outline[:, 1], LOWEST - 0.02)
    body = c.fill(outline) * below_curve(c.Y, c.X, top_fn, c.raster)
    relief = face_bulge(c.X, c.Y) * 0.9
    phase = c.rng.uniform(0, 2 * np.pi)
    bunch = 1.0 / max(c.squash, 0.4)
    wrinkle = np.sin((c.Y * 9 * bunch + 0.8 * np.sin(c.X * 2.5 + phase)))
    relief += 0.03 * bunch * wrinkle * (0.3 + smoothstep((c.Y - 1.5) / 0.6))
    occl = np.ones_like(c.X)
    outline = np.vstack([outline, [[-1.4, top_fn(np.array(-1.4))], [1.4, top_fn(np.array(1.4))]]])
    return body, relief.astype(np.float32), occl, np.full_like(c.X, 0.03), None, outline


# relief amplitude of the soft wrinkles per type (face units)
WRINKLES = {"surgical": 0.02, "kn95": 0.012, "kf94": 0.012, "n95": 0.004, "n95_valve": 0.004, "cloth": 0.03,
            "sports": 0.01, "bandana": 0.04, "gaiter": 0.035}

# type name -> (drawing function, top edge, bottom edge (correct wear), half width)
DRAWERS = {
    "surgical": (surgical, TOP, 1.95, 1.2),
    "kn95": (kn95, TOP - 0.02, 2.05, 1.25),
    "kf94": (kf94, TOP - 0.02, 1.97, 1.25),
    "n95": (n95, TOP - 0.01, 1.95, 1.6),
    "n95_valve": (n95_valve, TOP - 0.01, 1.95, 1.6),
    "cloth": (cloth, TOP - 0.03, 1.97, 1.2),
    "sports": (sports, TOP, 1.93, 1.2),
    "respirator": (respirator, TOP - 0.02, 1.95, 1.6),
    "bandana": (bandana, TOP, 2.5, 1.5),
    "gaiter": (gaiter, TOP, 2.6, 1.45),
}


def draw_builtin_mask(attrs: MaskAttributes, rng: np.random.Generator, px_per_unit: float,
                      sides: tuple[bool, bool], base_linear: np.ndarray, fabric_albedo) -> MaskDrawing:
    """Draw a built-in mask type; ``fabric_albedo(X, Y, px_per_unit)`` gives the fabric's albedo over a grid."""
    fn, top, bottom, half_width = DRAWERS[attrs.mask_type]
    c = Canvas(attrs, rng, px_per_unit, sides, top, bottom, half_width)
    result = fn(c)
    body, relief, occl, gloss, straps, outline = result[:6]
    extras = result[6] if len(result) > 6 else []
    relief = relief + soft_wrinkles(c, WRINKLES.get(attrs.mask_type, 0.0))
    gloss = gloss * np.clip(c.edge_distance(body) / 0.06, 0, 1)  # outlines turn away from the camera: no glints
    body = body * c.below_lowest
    albedo = fabric_albedo(c.X, c.Y, c.raster.scale)
    if attrs.texture not in ("none", "nonwoven"):
        # sewn masks have a hemmed edge: a narrow band of plain fabric where the print is folded under
        hem = np.clip(3.5 - c.edge_distance(body) / 0.02, 0, 1)[..., None]
        albedo = albedo * (1 - hem) + base_linear[None, None, :] * 0.92 * hem
    for region, colour in extras:
        albedo = albedo * (1 - region[..., None]) + hex_to_linear(colour) * region[..., None]
    alpha = body
    if straps is not None:
        s = straps * (1 - body) * c.below_lowest
        albedo = albedo * (1 - s[..., None]) + strap_colour(attrs, base_linear) * s[..., None]
        occl = occl * (1 - 0.25 * s)
        alpha = np.maximum(alpha, s)
    return MaskDrawing(c.raster, alpha.astype(np.float32), albedo.astype(np.float32), relief.astype(np.float32),
                       np.clip(occl, 0, 1).astype(np.float32), gloss.astype(np.float32),
                       c.own_to_canonical(outline))


def strap_colour(attrs: MaskAttributes, base: np.ndarray) -> np.ndarray:
    """Linear RGB of a type's ear loops or head straps."""
    if attrs.mask_type in ("surgical",):
        return hex_to_linear("#f2f2f0") if luminance(base) > 0.05 else base
    if attrs.mask_type in ("n95", "n95_valve"):
        return hex_to_linear("#d9c9a0")  # yellowish elastic
    if attrs.mask_type == "respirator":
        return hex_to_linear("#30343a")
    return base * 0.9
