"""The drawing surface for one mask: grids in the mask's own frame, and the primitives drawn on them.

Every mask is drawn as if worn correctly, in its *own* frame: canonical face units (see
:mod:`maskgen.mask.canonical`) stretched by the sampled width and height. A :class:`Canvas` maps that
frame onto the canonical frame of the chosen wear style (:func:`wear_transform` moves and squashes the
mask's vertical coordinate), so pleats and seams travel with the mask. The result of a drawing is a
:class:`MaskDrawing`: alpha, albedo (linear RGB), a relief height map (face units) from which the
renderer derives shading, fold shadows and crease darkening (built from :mod:`maskgen.mask.surface`),
an occlusion map (stitches, printed seams), gloss and, for metallic fabrics, metalness.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from maskgen.mask.canonical import MEAN_SHAPE, jaw_normals
from maskgen.mask.fit import Raster
from maskgen.mask.results import MaskAttributes
from maskgen.mask.surface import face_shape, soft_bumps

JAW = MEAN_SHAPE[0:17]
JAW_NORMALS = jaw_normals(JAW, MEAN_SHAPE[30])
TOP = 0.20  # canonical y of a correctly worn mask's top edge on the nose bridge
# canonical y of the top edge and vertical squash of the wear styles that move a mask off its own frame
WEAR_TOP = {"nose": 0.815, "chin": 1.37}
WEAR_SQUASH = {"nose": 0.96, "chin": 0.8}
NOSE_WEAR_LIFT = 0.09  # how far the sides rise when the mask sits under the nose
# a mask pulled down sits anywhere from just under the lower lip to hanging under the chin (real photos
# show both about as often): the sampled top shift (attrs.top, -0.04..0.05 at full jitter) moves the
# chin-worn top edge up by CHIN_RISE or down by CHIN_DROP per unit, from WEAR_TOP["chin"] to about 1.80
CHIN_RISE, CHIN_DROP = 1.0, 8.6
# a correctly worn mask sits anywhere from high on the nose bridge to halfway down the nose (real photos
# show both; the nose tip and nostrils stay covered): a positive top shift lowers its top edge by
# CORRECT_DROP per unit, to about 0.15 face units under the type's own top at full jitter
CORRECT_DROP = 3.0
# a mask hanging from one ear by its loops ("ear" wear): its side edge hangs under the ear lobe, the mask
# swung down beside the jaw and neck; where each ear's loops hook on, in the canonical frame
EAR_OVER, EAR_UNDER = (1.3, 0.18), (1.27, 0.6)  # over the ear, behind its lobe (x for the +x ear)
HANG_PIVOT = (1.0, 0.95)  # the point of the mask's attached side (own frame, x for the +x side) that hangs
HANG_ANCHOR_X, HANG_ANCHOR_Y = (1.0, 1.3), (0.95, 1.35)  # where it hangs: under the lobe, over the jaw line
HANG_ANGLE = (60.0, 105.0)  # degrees the mask swings down from worn-flat
HANG_EDGE_ON = (0.45, 1.0)  # how much of its height faces the camera (it hangs turned about its long side)
HANG_CLEAR = (0.66, 1.45)  # the mask stays outside |x| < 0.66 above y 1.45: mouth, nose and lips stay bare
LOWEST = 2.62  # nothing is drawn below this (the mesh ends under the neck)


@dataclass
class MaskDrawing:
    """A mask drawn on a canonical-frame raster, ready to be lit, warped and blended."""

    raster: Raster
    alpha: np.ndarray
    albedo: np.ndarray
    relief: np.ndarray
    occlusion: np.ndarray
    gloss: np.ndarray
    outline: np.ndarray  # canonical polygon bounding the drawing
    metal: np.ndarray | None = None  # 0..1 where glints take the albedo's colour (sequins, lame)


@dataclass
class Parts:
    """What one type's drawing function returns, in the mask's raster.

    ``body``: coverage of the mask itself; ``relief``: its height field (face units, toward the
    camera); ``outline``: own-frame polygon bounding it; ``occlusion``: printed or stitched darkening;
    ``gloss``: glint strength; ``straps``: coverage of ear loops or head straps; ``extras``: regions of
    another colour, ``(coverage, '#rrggbb')``; ``metal``: metalness; ``see_through``: how opaque the
    body is (clear windows, sheer hosiery), 1 where unset; ``wrinkles``: relief amplitude of the soft
    undulation the assembly adds (face units).
    """

    body: np.ndarray
    relief: np.ndarray
    outline: np.ndarray
    occlusion: np.ndarray | None = None
    gloss: float | np.ndarray = 0.05
    straps: np.ndarray | None = None
    extras: list = field(default_factory=list)
    metal: np.ndarray | None = None
    see_through: np.ndarray | None = None
    wrinkles: float = 0.015


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


def catmull_rom(points: np.ndarray, closed: bool = True, samples: int = 12) -> np.ndarray:
    """Catmull-Rom curve through ``points``, ``samples`` points per segment."""
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


def fill_polygon(raster: Raster, polygon: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage of a canonical polygon on the raster (0..1)."""
    canvas = np.zeros((raster.height, raster.width), np.uint8)
    pts = np.round(raster.to_pixels(polygon) * 16).astype(np.int32)
    cv2.fillPoly(canvas, [pts], 255, lineType=cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0


def stroke_polyline(raster: Raster, polyline: np.ndarray, width: float, closed: bool = False) -> np.ndarray:
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


def below_curve(Y, X, top_fn, raster: Raster) -> np.ndarray:
    """Anti-aliased half-plane under a top-edge curve y = top_fn(x)."""
    return np.clip((Y - top_fn(X)) * raster.scale + 0.5, 0, 1).astype(np.float32)


def correct_shift(shift: float) -> float:
    """A correctly worn mask's top-edge shift: up as sampled, down by up to CORRECT_DROP times as far."""
    return shift * CORRECT_DROP if shift > 0 else shift


def wear_transform(wear: str, top: float, bottom: float, shift: float = 0.0) -> tuple[float, float]:
    """Top edge and squash turning a correctly worn mask's y into the ``wear`` style's y (``top``: the mask's
    own top edge, its type's plus the sampled shift; ``shift``: that shift, which moves a chin-worn mask
    between the lower lip and under the chin). A correctly worn mask sits where its own frame says."""
    if wear == "correct":
        return top, 1.0
    target = WEAR_TOP[wear]
    if wear == "chin":
        target += shift * (CHIN_DROP if shift > 0 else CHIN_RISE)
    squash = min(WEAR_SQUASH[wear], (LOWEST - 0.03 - target) / max(bottom - top, 1e-3))
    return target, squash


@dataclass(frozen=True)
class Hang:
    """A mask hanging from one ear: the own frame (scaled by the sampled width and height) turned by
    ``angle`` about ``pivot`` and moved to ``anchor``. ``sign``: the ear, -1 for canonical -x (image left
    on a frontal face), +1 for +x."""

    sign: int
    angle: float  # radians, image orientation (y down)
    pivot: tuple[float, float]
    anchor: tuple[float, float]
    edge_on: float = 1.0  # the mask's height foreshortened: it hangs turned partly edge-on to the camera

    @property
    def rotation(self) -> np.ndarray:
        c, s = np.cos(self.angle), np.sin(self.angle)
        return np.array([[c, -s], [s, c]])

    def forward(self, scaled: np.ndarray) -> np.ndarray:
        """Points of the scaled own frame to the canonical frame."""
        d = (np.asarray(scaled, np.float64) - self.pivot) * [1.0, self.edge_on]
        return d @ self.rotation.T + self.anchor

    def inverse(self, canonical: np.ndarray) -> np.ndarray:
        d = (np.asarray(canonical, np.float64) - self.anchor) @ self.rotation
        return d / [1.0, self.edge_on] + self.pivot


def sample_hang(rng: np.random.Generator, sides: tuple[bool, bool], box: tuple[float, float, float, float],
                tries: int = 24) -> Hang:
    """Which ear (a visible one), how far the mask swings down and where it hangs, drawn until the
    mask's box (scaled own frame: x0, y0, x1, y1) stays clear of the mouth and nose (:data:`HANG_CLEAR`)."""
    visible = [s for s, seen in ((-1, sides[0]), (1, sides[1])) if seen] or [-1, 1]
    x0, y0, x1, y1 = box
    gx, gy = np.meshgrid(np.linspace(x0, x1, 13), np.linspace(y0, y1, 9))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    for _ in range(tries):
        sign = visible[int(rng.integers(len(visible)))]
        swing = np.radians(rng.uniform(*HANG_ANGLE))
        anchor = (sign * rng.uniform(*HANG_ANCHOR_X), rng.uniform(*HANG_ANCHOR_Y))
        hang = Hang(sign, -sign * swing, (sign * HANG_PIVOT[0], HANG_PIVOT[1]), anchor,
                    float(rng.uniform(*HANG_EDGE_ON)))
        pts = hang.forward(grid)
        if not np.any((np.abs(pts[:, 0]) < HANG_CLEAR[0]) & (pts[:, 1] < HANG_CLEAR[1])):
            return hang
    # the last draw moved out until clear (a very wide mask)
    inside = (pts[:, 1] < HANG_CLEAR[1])
    reach = float(np.max(HANG_CLEAR[0] - hang.sign * pts[inside, 0], initial=0.0))
    return Hang(hang.sign, hang.angle, hang.pivot, (hang.anchor[0] + hang.sign * max(reach, 0.0), hang.anchor[1]),
                hang.edge_on)


class Canvas:
    """Grids and helpers for drawing one mask: X and Y are the coordinates of the mask's own
    (correct-wear) frame at each raster pixel, so every drawing can ignore the wear style.

    ``top`` and ``bottom`` are the mask type's edges when worn correctly, ``half_width`` its extent
    to either side; ``sides`` tells which sides of the face are visible (ear loops are drawn there).
    For "ear" wear the own frame is turned and moved rigidly (:class:`Hang`, drawn from ``rng``).
    """

    def __init__(self, attrs: MaskAttributes, rng: np.random.Generator, px_per_unit: float,
                 sides: tuple[bool, bool], top: float, bottom: float, half_width: float):
        self.attrs, self.rng, self.sides = attrs, rng, sides
        # the top-edge variation matters on the nose bridge; elsewhere it must not uncover the lips
        self.top = top + (correct_shift(attrs.top) if attrs.wear == "correct" else 0.3 * attrs.top)
        self.width_scale = attrs.width
        self.height_scale = attrs.height
        self.hang: Hang | None = None
        if attrs.wear == "ear":
            self._hang_raster(rng, bottom, half_width, px_per_unit)
            return
        worn_top, squash = wear_transform(attrs.wear, self.top, bottom, attrs.top)
        self.squash = squash
        self.worn_top = worn_top
        y_lo = min(worn_top, EAR_OVER[1]) - 0.1  # up to the ears, where the loops run
        y_hi = min(worn_top + (bottom + 0.15 - self.top) * squash * self.height_scale, LOWEST)
        hw = half_width * self.width_scale + 0.55
        self.raster = Raster.around((-hw, y_lo, hw, y_hi), px_per_unit)
        Xi, Yi = self.raster.grid()
        self.X = Xi / self.width_scale
        # own-frame y: undo the wear shift/squash, the height variation and the side lift
        self.Y = self.top + (Yi - worn_top + self.lift(Xi)) / (squash * self.height_scale)
        self.below_lowest = (Yi <= LOWEST).astype(np.float32)

    def _hang_raster(self, rng: np.random.Generator, bottom: float, half_width: float, px_per_unit: float):
        """Grids for a mask hanging from one ear: worn-correct shape, turned rigidly beside the face."""
        self.squash, self.worn_top = 1.0, self.top
        hw = half_width * self.width_scale
        y_bottom = self.top + (bottom - self.top) * self.height_scale
        self.hang = hang = sample_hang(rng, self.sides, (-hw, self.top, hw, y_bottom))
        # everything drawn: the mask's box with room for loops, and the ear the loops run to
        box = np.array([[-hw - 0.55, self.top - 0.1], [hw + 0.55, self.top - 0.1], [hw + 0.55, y_bottom + 0.15],
                        [-hw - 0.55, y_bottom + 0.15]])
        corners = np.vstack([hang.forward(box), [[hang.sign * (EAR_OVER[0] + 0.1), EAR_OVER[1] - 0.1]]])
        x0, y0 = corners.min(axis=0)
        x1, y1 = corners.max(axis=0)
        self.raster = Raster.around((x0, y0, x1, min(y1, LOWEST)), px_per_unit)
        Xi, Yi = self.raster.grid()
        own = hang.inverse(np.stack([Xi.ravel(), Yi.ravel()], axis=1))
        self.X = (own[:, 0] / self.width_scale).reshape(Xi.shape).astype(np.float32)
        self.Y = (self.top + (own[:, 1] - self.top) / self.height_scale).reshape(Xi.shape).astype(np.float32)
        self.below_lowest = (Yi <= LOWEST).astype(np.float32)

    def canonical_to_own(self, pts: np.ndarray) -> np.ndarray:
        """Canonical points to the mask's own frame (the inverse of :meth:`own_to_canonical`)."""
        p = np.atleast_2d(np.asarray(pts, np.float64)).copy()
        if self.hang is not None:
            p = self.hang.inverse(p)
            p[:, 1] = self.top + (p[:, 1] - self.top) / self.height_scale
        else:
            p[:, 1] = self.top + (p[:, 1] + self.lift(p[:, 0]) - self.worn_top) / (self.squash * self.height_scale)
        p[:, 0] /= self.width_scale
        return p

    def lift(self, x_canonical) -> np.ndarray:
        """Below the nose the nose wire has nothing to wrap: the top edge straightens, sides rise."""
        if self.attrs.wear != "nose":
            return np.zeros_like(x_canonical)
        return NOSE_WEAR_LIFT * smoothstep(np.abs(x_canonical) / 0.5)

    def own_to_canonical(self, pts: np.ndarray) -> np.ndarray:
        """Points of the mask's own frame to the canonical frame of its wear style."""
        p = np.atleast_2d(np.asarray(pts, np.float64)).copy()
        p[:, 0] *= self.width_scale
        if self.hang is not None:
            p[:, 1] = self.top + (p[:, 1] - self.top) * self.height_scale
            return self.hang.forward(p)
        p[:, 1] = self.worn_top + (p[:, 1] - self.top) * self.squash * self.height_scale - self.lift(p[:, 0])
        return p

    def fill(self, polygon: np.ndarray) -> np.ndarray:
        """Coverage of an own-frame polygon."""
        return fill_polygon(self.raster, self.own_to_canonical(polygon))

    def stroke(self, polyline: np.ndarray, width: float, closed: bool = False) -> np.ndarray:
        """Coverage of a line along an own-frame polyline."""
        return stroke_polyline(self.raster, self.own_to_canonical(polyline), width, closed)

    def edge_distance(self, alpha: np.ndarray) -> np.ndarray:
        """Distance (face units) from each pixel inside ``alpha`` to its outline."""
        return edge_distance(alpha, self.raster)


def face_bulge(X, Y) -> np.ndarray:
    """Relief of fabric stretched over a face (see :func:`maskgen.mask.surface.face_shape`)."""
    return face_shape(X, Y)


def soft_wrinkles(c: Canvas, amplitude: float = 0.02) -> np.ndarray:
    """Low, random undulation of fabric, so no two masks are lit identically."""
    return soft_bumps(c.X, c.Y, c.rng, 0.35, amplitude)


def jaw_body(c: Canvas, top_fn, side_margin: float, chin_margin: float, first: int = 1,
             last: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """Coverage of a jaw-following mask body under ``top_fn`` and its outline (own frame)."""
    jaw = jaw_offset(chin_margins(side_margin, chin_margin))[first:last + 1]
    poly = np.vstack([[jaw[0, 0], c.top - 0.6], jaw, [jaw[-1, 0], c.top - 0.6]])
    body = c.fill(poly) * below_curve(c.Y, c.X, top_fn, c.raster)
    outline = np.vstack([[[x, top_fn(np.array(x))] for x in np.linspace(jaw[-1, 0], jaw[0, 0], 24)], jaw])
    return body, outline


def ear_points(sign: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the loops of the ``sign`` side's ear hook on (canonical): over the ear, behind its lobe."""
    return np.array([sign * EAR_OVER[0], EAR_OVER[1]]), np.array([sign * EAR_UNDER[0], EAR_UNDER[1]])


def ear_loops(c: Canvas, corners_top, corners_bottom, width: float = 0.04) -> np.ndarray:
    """Ear loops from the mask's side corners over each ear and behind its lobe (visible sides only).

    ``width`` in face units (eye distance, about 63 mm): a round elastic cord of a surgical mask is
    about 2.5 mm (0.04), the flat loops of folded respirators and the elastic of sewn masks 4-5 mm."""
    loops = np.zeros_like(c.X)
    for side, sign in ((0, -1), (1, 1)):
        t, b = np.array(corners_top[side]), np.array(corners_bottom[side])
        # the ears stay where they are whatever the wear: a mask pulled down or hanging has its loops
        # stretched from its corners to the ears
        over, under = c.canonical_to_own(np.array(ear_points(sign)))
        if c.hang is not None:
            loops = np.maximum(loops, _hanging_loops(c, sign, t, b, width, (over, under)))
            continue
        if not c.sides[side]:
            continue
        upper = catmull_rom(np.array([t, (t + over) / 2 + [0, -0.03], over]), closed=False, samples=8)
        lower = catmull_rom(np.array([b, (b + under) / 2 + [sign * 0.05, 0.06], under]), closed=False, samples=8)
        loops = np.maximum(loops, c.stroke(upper, width))
        loops = np.maximum(loops, c.stroke(lower, width))
    return loops


def _hanging_loops(c: Canvas, sign: int, t: np.ndarray, b: np.ndarray, width: float, ear) -> np.ndarray:
    """The loops of one side of a mask hanging from an ear: on the ear's side both run up to ``ear`` (its
    two hook points in the own frame: taut, over it and behind its lobe); on the other side they hang
    slack, a loop drooping out."""
    if sign == c.hang.sign:
        out = np.zeros_like(c.X)
        for corner, end in ((t, ear[0]), (b, ear[1])):
            mid = (corner + end) / 2 + [0, 0.02]
            out = np.maximum(out, c.stroke(catmull_rom(np.array([corner, mid, end]), closed=False, samples=8), width))
        return out
    reach = np.array([sign * 0.32, 0.0])
    slack = np.array([t, t + reach + [0, 0.1], (t + b) / 2 + reach * 1.2, b + reach + [0, -0.1], b])
    return c.stroke(catmull_rom(slack, closed=False, samples=8), width)


def hide_far_sides(c: Canvas, body: np.ndarray, limit: float = 1.25) -> np.ndarray:
    """Cut a wide covering at ``limit`` on a side turned away from the camera (it wraps out of view)."""
    if not c.sides[0]:
        body = body * np.clip((c.X + limit) * c.raster.scale, 0, 1)
    if not c.sides[1]:
        body = body * np.clip((limit - c.X) * c.raster.scale, 0, 1)
    return body
