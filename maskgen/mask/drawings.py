"""Procedural drawing of each mask type in the canonical face frame.

A drawing is a :class:`Template`: alpha, albedo (linear RGB), a relief height map (face units) from
which the renderer derives shading, an occlusion map (pleat shadows, seams, stitches) and gloss.
Everything is drawn for a correctly worn mask; other wear styles move and squash the mask's own
vertical coordinate (:func:`wear_transform`), so pleats and seams travel with it.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from maskgen.mask.canonical import MEAN_SHAPE, jaw_normals
from maskgen.mask.colors import hex_to_linear, luminance
from maskgen.mask.fit import Raster
from maskgen.mask.results import MaskAttributes

JAW = MEAN_SHAPE[0:17]
JAW_NORMALS = jaw_normals(JAW, MEAN_SHAPE[30])
TOP = 0.20  # canonical y of a correctly worn mask's top edge on the nose bridge
WEAR_TOP = {"correct": TOP, "nose": 0.815, "chin": 1.37}
WEAR_SQUASH = {"correct": 1.0, "nose": 0.96, "chin": 0.8}
NOSE_WEAR_LIFT = 0.09
LOWEST = 2.62  # nothing is drawn below this (the mesh ends under the neck)


@dataclass
class Template:
    raster: Raster
    alpha: np.ndarray
    albedo: np.ndarray
    relief: np.ndarray
    occlusion: np.ndarray
    gloss: np.ndarray
    outline: np.ndarray  # canonical polygon bounding the drawing


def smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def jaw_offset(margins) -> np.ndarray:
    """Jaw points 0..16 pushed outward by ``margins`` (scalar or 17 values)."""
    return JAW + np.asarray(margins, np.float64).reshape(-1, 1) * JAW_NORMALS


def chin_margins(side: float, chin: float) -> np.ndarray:
    """Margins growing from ``side`` at the jaw's top to ``chin`` under the chin."""
    t = 1 - np.abs(np.arange(17) - 8) / 8
    return side + (chin - side) * smoothstep(t)


def spline(points: np.ndarray, closed: bool = True, samples: int = 12) -> np.ndarray:
    """Catmull-Rom curve through ``points``."""
    p = np.asarray(points, np.float64)
    n = len(p)
    out = []
    rng = range(n) if closed else range(n - 1)
    for i in rng:
        p0, p1 = p[(i - 1) % n] if closed or i > 0 else p[0], p[i]
        p2 = p[(i + 1) % n]
        p3 = p[(i + 2) % n] if closed or i + 2 < n else p[-1]
        for t in np.linspace(0, 1, samples, endpoint=False):
            t2, t3 = t * t, t * t * t
            out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 +
                              (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    if not closed:
        out.append(p[-1])
    return np.array(out)


def fill(raster: Raster, polygon: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage of a canonical polygon on the raster (0..1)."""
    canvas = np.zeros((raster.height, raster.width), np.uint8)
    pts = np.round(raster.to_pixels(polygon) * 16).astype(np.int32)
    cv2.fillPoly(canvas, [pts], 255, lineType=cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0


def stroke(raster: Raster, polyline: np.ndarray, width: float, closed: bool = False) -> np.ndarray:
    """Anti-aliased line along a canonical polyline, ``width`` in face units."""
    canvas = np.zeros((raster.height, raster.width), np.uint8)
    pts = np.round(raster.to_pixels(polyline) * 16).astype(np.int32)
    thickness = max(1, int(round(width * raster.scale)))
    cv2.polylines(canvas, [pts], closed, 255, thickness, lineType=cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0


def edge_distance(alpha: np.ndarray, raster: Raster) -> np.ndarray:
    """Distance (face units) from each pixel inside the mask to its outline."""
    inside = (alpha > 0.5).astype(np.uint8)
    return cv2.distanceTransform(inside, cv2.DIST_L2, 3) / raster.scale


def below(Y, X, top_fn, raster: Raster) -> np.ndarray:
    """Anti-aliased half-plane under a top-edge curve y = top_fn(x)."""
    return np.clip((Y - top_fn(X)) * raster.scale + 0.5, 0, 1).astype(np.float32)


def wear_transform(wear: str, top: float, bottom: float) -> tuple[float, float]:
    """Shift and squash turning a correctly worn mask's y into the ``wear`` style's y."""
    target = WEAR_TOP[wear]
    squash = WEAR_SQUASH[wear]
    if wear != "correct":
        squash = min(squash, (LOWEST - 0.03 - target) / max(bottom - top, 1e-3))
    return target, squash


class Canvas:
    """Grids and helpers for drawing one mask: X and Y are canonical coordinates of the mask's own
    (correct-wear) frame, so every shape function can ignore the wear style."""

    def __init__(self, attrs: MaskAttributes, rng: np.random.Generator, px_per_unit: float,
                 sides: tuple[bool, bool], top: float, bottom: float, half_width: float):
        self.attrs, self.rng, self.sides = attrs, rng, sides
        # the top-edge variation matters on the nose bridge; elsewhere it must not uncover the lips
        self.top = top + (attrs.top if attrs.wear == "correct" else 0.3 * attrs.top)
        self.w = attrs.width
        self.h = attrs.height
        new_top, squash = wear_transform(attrs.wear, self.top, bottom)
        self.squash = squash
        self.new_top = new_top
        y_lo = new_top - 0.1
        y_hi = min(new_top + (bottom + 0.15 - self.top) * squash * self.h, LOWEST)
        hw = half_width * self.w + 0.55
        self.raster = Raster.around((-hw, y_lo, hw, y_hi), px_per_unit)
        Xi, Yi = self.raster.grid()
        self.X = Xi / self.w
        # own-frame y: undo the wear shift/squash, the height variation and the side lift
        self.Y = self.top + (Yi - new_top + self.lift(Xi)) / (squash * self.h)
        self.below_lowest = (Yi <= LOWEST).astype(np.float32)

    def lift(self, x_canonical) -> np.ndarray:
        """Below the nose the nose wire has nothing to wrap: the top edge straightens, sides rise."""
        if self.attrs.wear != "nose":
            return np.zeros_like(x_canonical)
        return NOSE_WEAR_LIFT * smoothstep(np.abs(x_canonical) / 0.5)

    def own_to_canonical(self, pts: np.ndarray) -> np.ndarray:
        p = np.asarray(pts, np.float64).copy()
        p[:, 0] *= self.w
        p[:, 1] = self.new_top + (p[:, 1] - self.top) * self.squash * self.h - self.lift(p[:, 0])
        return p

    def fill(self, polygon: np.ndarray) -> np.ndarray:
        return fill(self.raster, self.own_to_canonical(polygon))

    def stroke(self, polyline: np.ndarray, width: float, closed: bool = False) -> np.ndarray:
        return stroke(self.raster, self.own_to_canonical(polyline), width, closed)

    def dist(self, alpha: np.ndarray) -> np.ndarray:
        return edge_distance(alpha, self.raster)

    def hull(self, polygon: np.ndarray) -> np.ndarray:
        return self.own_to_canonical(polygon)


def _body(c: Canvas, top_fn, side_margin: float, chin_margin: float, first: int = 1,
          last: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """Alpha of a jaw-following mask body under ``top_fn`` and its outline (own frame)."""
    jaw = jaw_offset(chin_margins(side_margin, chin_margin))[first:last + 1]
    poly = np.vstack([[jaw[0, 0], c.top - 0.6], jaw, [jaw[-1, 0], c.top - 0.6]])
    body = c.fill(poly) * below(c.Y, c.X, top_fn, c.raster)
    outline = np.vstack([[[x, top_fn(np.array(x))] for x in np.linspace(jaw[-1, 0], jaw[0, 0], 24)], jaw])
    return body, outline


def _face_bulge(X, Y) -> np.ndarray:
    """Relief of fabric stretched over a face: rounded across, raised over the nose and chin."""
    across = np.sqrt(np.clip(1 - (X / 1.42) ** 2, 0, 1))
    nose = 0.14 * np.exp(-((X / 0.42) ** 2) - ((Y - 0.65) / 0.5) ** 2)
    chin = 0.08 * np.exp(-((X / 0.6) ** 2) - ((Y - 1.6) / 0.4) ** 2)
    return (0.9 * across + nose + chin).astype(np.float32)


def soft_wrinkles(c: "Canvas", amplitude: float = 0.02) -> np.ndarray:
    """Low, random undulation of fabric, so no two masks are lit identically."""
    from maskgen.mask.textures import _smooth_noise

    n = _smooth_noise(c.X.shape, 0.35 * c.raster.scale, c.rng) - 0.5
    return (amplitude * 2 * n).astype(np.float32)


def _ear_loops(c: Canvas, corners_top, corners_bottom, width=0.028):
    """Ear loops from the mask's side corners toward each ear (visible sides only)."""
    loops = np.zeros_like(c.X)
    for side, sign in ((0, -1), (1, 1)):
        if not c.sides[side]:
            continue
        t, b = np.array(corners_top[side]), np.array(corners_bottom[side])
        ear = np.array([sign * 1.42, 0.42])
        upper = spline(np.array([t, (t + ear) / 2 + [0, -0.04], ear]), closed=False, samples=8)
        lower = spline(np.array([b, (b + ear) / 2 + [sign * 0.06, 0.08], ear]), closed=False, samples=8)
        loops = np.maximum(loops, c.stroke(upper, width))
        loops = np.maximum(loops, c.stroke(lower, width))
    return loops


def surgical(c: Canvas):
    def top_fn(x):
        ax = np.abs(x)
        return c.top + 0.11 * smoothstep(ax / 0.5) + 0.05 * (ax / 1.1) ** 2

    body, outline = _body(c, top_fn, 0.05, 0.15)
    wx = 1.12
    body *= (np.abs(c.X) < wx).astype(np.float32)
    y_bot = np.interp(c.X, jaw_offset(chin_margins(0.05, 0.15))[1:16, 0], jaw_offset(chin_margins(0.05, 0.15))[1:16, 1])
    t = np.clip((c.Y - top_fn(c.X)) / np.maximum(y_bot - top_fn(c.X), 0.2), 0, 1)
    # three pleats, gathered toward the side bindings
    gather = 1 - 0.25 * smoothstep(np.abs(c.X) / wx)
    tt = 0.5 + (t - 0.5) / gather
    relief = _face_bulge(c.X, c.Y)
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
    body, outline = _body(c, top_fn, 0.06, 0.24)
    relief = _face_bulge(c.X, c.Y) * 0.6 + 0.45 * (1 - np.minimum(np.abs(c.X), 1.2) / 1.2)  # two folded planes
    occl = np.ones_like(c.X)
    occl *= 1 - 0.45 * np.exp(-(c.X / 0.012) ** 2)  # centre seam
    d = c.dist(body)
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
    outline = spline(pts)
    outline[np.argmin(np.abs(outline[:, 0]) + outline[:, 1])] = [0, c.top]
    body = c.fill(outline)
    seam_y = 0.9 + 0.12 * (np.abs(c.X) / 1.2) ** 2
    d = c.Y - seam_y
    relief = _face_bulge(c.X, c.Y) * 0.5 + 0.35 * np.exp(-(d / 0.45) ** 2) + 0.15 * (1 - np.abs(c.X) / 1.3)
    occl = 1 - 0.4 * np.exp(-(d / 0.012) ** 2) - 0.2 * np.exp(-(c.X / 0.012) ** 2) * (d < 0)
    dist = c.dist(body)
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
    relief = (0.55 * np.sqrt(np.clip(1 - r2, 0, 1)) + 0.1 * _face_bulge(c.X, c.Y)).astype(np.float32)
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

    body, outline = _body(c, top_fn, 0.04, 0.16)
    seam_x = 0.02 * np.sin(c.Y * 2.0)
    relief = _face_bulge(c.X, c.Y) + 0.12 * np.exp(-((c.X - seam_x) / 0.12) ** 2)
    occl = 1 - 0.4 * np.exp(-((c.X - seam_x) / 0.01) ** 2)
    d = c.dist(body)
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

    body, outline = _body(c, top_fn, 0.05, 0.12, first=0, last=16)
    relief = _face_bulge(c.X, c.Y) * 1.1
    occl = np.ones_like(c.X)
    for sign in (-1, 1):  # panel seams from the nose down to the jaw
        seam = sign * (0.5 + 0.12 * (c.Y - 0.9) ** 2)
        occl *= 1 - 0.3 * np.exp(-((c.X - seam) / 0.012) ** 2)
    d = c.dist(body)
    occl *= 1 - 0.15 * np.exp(-((d - 0.04) / 0.01) ** 2)
    return body, relief.astype(np.float32), occl.astype(np.float32), np.full_like(c.X, 0.22), None, outline


def respirator(c: Canvas):
    pts = np.array([[0, c.top], [0.35, c.top + 0.14], [0.78, 0.62], [0.98, 1.05], [0.88, 1.5],
                    [0.45, 1.86], [0, 1.95], [-0.45, 1.86], [-0.88, 1.5], [-0.98, 1.05], [-0.78, 0.62],
                    [-0.35, c.top + 0.14]])
    outline = spline(pts)
    body = c.fill(outline)
    relief = (_face_bulge(c.X, c.Y) * 0.8).astype(np.float32)
    occl = np.ones_like(c.X)
    d = c.dist(body)
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
    outline = spline(pts)
    outline[:, 1] = np.minimum(outline[:, 1], LOWEST - 0.05)
    body = c.fill(outline) * below(c.Y, c.X, top_fn, c.raster)
    if not c.sides[0]:
        body *= np.clip((c.X + 1.25) * c.raster.scale, 0, 1)
    if not c.sides[1]:
        body *= np.clip((1.25 - c.X) * c.raster.scale, 0, 1)
    relief = _face_bulge(c.X, c.Y) * 0.9
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
    outline = spline(pts)
    outline[:, 1] = np.minimum(outline[:, 1], LOWEST - 0.02)
    body = c.fill(outline) * below(c.Y, c.X, top_fn, c.raster)
    relief = _face_bulge(c.X, c.Y) * 0.9
    phase = c.rng.uniform(0, 2 * np.pi)
    bunch = 1.0 / max(c.squash, 0.4)
    wrinkle = np.sin((c.Y * 9 * bunch + 0.8 * np.sin(c.X * 2.5 + phase)))
    relief += 0.03 * bunch * wrinkle * (0.3 + smoothstep((c.Y - 1.5) / 0.6))
    occl = np.ones_like(c.X)
    outline = np.vstack([outline, [[-1.4, top_fn(np.array(-1.4))], [1.4, top_fn(np.array(1.4))]]])
    return body, relief.astype(np.float32), occl, np.full_like(c.X, 0.03), None, outline


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


def draw(attrs: MaskAttributes, rng: np.random.Generator, px_per_unit: float, sides: tuple[bool, bool],
         base_linear: np.ndarray, texture_albedo) -> Template:
    """Draw a built-in mask type. ``texture_albedo(X, Y, px_per_unit)`` returns the fabric's albedo."""
    fn, top, bottom, half_width = DRAWERS[attrs.mask_type]
    c = Canvas(attrs, rng, px_per_unit, sides, top, bottom, half_width)
    result = fn(c)
    body, relief, occl, gloss, straps, outline = result[:6]
    extras = result[6] if len(result) > 6 else []
    relief = relief + soft_wrinkles(c, WRINKLES.get(attrs.mask_type, 0.0))
    gloss = gloss * np.clip(c.dist(body) / 0.06, 0, 1)  # outlines turn away from the camera: no glints there
    body = body * c.below_lowest
    albedo = texture_albedo(c.X, c.Y, c.raster.scale)
    if attrs.texture not in ("none", "nonwoven"):
        # sewn masks have a hemmed edge: a narrow band of plain fabric where the print is folded under
        hem = np.clip(3.5 - c.dist(body) / 0.02, 0, 1)[..., None]
        albedo = albedo * (1 - hem) + base_linear[None, None, :] * 0.92 * hem
    for region, colour in extras:
        albedo = albedo * (1 - region[..., None]) + hex_to_linear(colour) * region[..., None]
    alpha = body
    if straps is not None:
        strap_colour = _strap_colour(attrs, base_linear)
        s = straps * (1 - body) * c.below_lowest
        albedo = albedo * (1 - s[..., None]) + strap_colour * s[..., None]
        occl = occl * (1 - 0.25 * s)
        alpha = np.maximum(alpha, s)
    return Template(c.raster, alpha.astype(np.float32), albedo.astype(np.float32), relief.astype(np.float32),
                    np.clip(occl, 0, 1).astype(np.float32), gloss.astype(np.float32), c.hull(outline))


def _strap_colour(attrs: MaskAttributes, base: np.ndarray) -> np.ndarray:
    if attrs.mask_type in ("surgical",):
        return hex_to_linear("#f2f2f0") if luminance(base) > 0.05 else base
    if attrs.mask_type in ("n95", "n95_valve"):
        return hex_to_linear("#d9c9a0")  # yellowish elastic
    if attrs.mask_type == "respirator":
        return hex_to_linear("#30343a")
    return base * 0.9
