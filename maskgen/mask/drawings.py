"""The built-in mask types: which drawing draws each, and the assembly of a drawing into a MaskDrawing.

The drawings are in :mod:`drawings_medical` (surgical, KN95, KF94, N95 cups, respirator) and
:mod:`drawings_fabric` (cloth, sports, bandana, gaiter, scarf, hosiery, window, sequin); each returns
:class:`~maskgen.mask.canvas.Parts`. :func:`draw_builtin_mask` adds what every mask has (the edge turning
away from the camera, the fabric's soft undulation), lays the fabric's albedo, hem and parts of other
colours, and joins the straps.
"""
from __future__ import annotations

import numpy as np

from maskgen.mask import drawings_fabric as fabric
from maskgen.mask import drawings_medical as medical
from maskgen.mask.canvas import TOP, Canvas, MaskDrawing, Parts, soft_wrinkles
from maskgen.mask.colors import hex_to_linear, luminance
from maskgen.mask.results import MaskAttributes
from maskgen.mask.surface import roll_off

# type name -> (drawing function, top edge, bottom edge (correct wear), half width)
DRAWERS = {
    "surgical": (medical.surgical, TOP, 1.95, 1.2),
    "kn95": (medical.kn95, TOP - 0.02, 2.05, 1.25),
    "kf94": (medical.kf94, TOP - 0.02, 1.97, 1.25),
    "n95": (medical.n95, TOP - 0.01, 1.95, 1.6),
    "n95_valve": (medical.n95_valve, TOP - 0.01, 1.95, 1.6),
    "cloth": (fabric.cloth, TOP - 0.03, 1.97, 1.2),
    "sports": (fabric.sports, TOP, 1.93, 1.2),
    "respirator": (medical.respirator, TOP - 0.02, 1.95, 1.6),
    "bandana": (fabric.bandana, TOP, 2.5, 1.5),
    "gaiter": (fabric.gaiter, TOP, 2.6, 1.45),
    "scarf": (fabric.scarf, TOP, 2.6, 1.65),
    "hosiery": (fabric.hosiery, TOP, 2.6, 1.35),
    "window": (fabric.window, TOP - 0.03, 1.97, 1.2),
    "sequin": (fabric.sequin, TOP - 0.03, 1.97, 1.2),
}
PLAIN = ("none", "nonwoven", "sequins", "lame")  # textures without a hem of plain fabric


def draw_builtin_mask(attrs: MaskAttributes, rng: np.random.Generator, px_per_unit: float,
                      sides: tuple[bool, bool], base_linear: np.ndarray, fabric_albedo) -> MaskDrawing:
    """Draw a built-in mask type; ``fabric_albedo(X, Y, px_per_unit)`` gives the fabric's albedo over a grid."""
    fn, top, bottom, half_width = DRAWERS[attrs.mask_type]
    c = Canvas(attrs, rng, px_per_unit, sides, top, bottom, half_width)
    parts: Parts = fn(c)
    body = parts.body * c.below_lowest
    edge = c.edge_distance(body)
    relief = parts.relief + soft_wrinkles(c, parts.wrinkles) + roll_off(edge, 0.1, 0.04)
    gloss = parts.gloss * np.clip(edge / 0.06, 0, 1)  # outlines turn away from the camera: no glints
    occl = np.ones_like(c.X) if parts.occlusion is None else parts.occlusion
    if attrs.texture in ("sequins", "lame"):
        albedo = base_linear[None, None, :] * (0.85 + 0.3 * rng.random(c.X.shape, np.float32))[..., None]
    else:
        albedo = fabric_albedo(c.X, c.Y, c.raster.scale)
    if attrs.texture not in PLAIN:
        # sewn masks have a hemmed edge: a narrow band of plain fabric where the print is folded under
        hem = np.clip(3.5 - edge / 0.02, 0, 1)[..., None]
        albedo = albedo * (1 - hem) + base_linear[None, None, :] * 0.92 * hem
    for region, colour in parts.extras:
        albedo = albedo * (1 - region[..., None]) + hex_to_linear(colour) * region[..., None]
    alpha = body if parts.see_through is None else body * parts.see_through
    metal = parts.metal
    if parts.straps is not None:
        s = parts.straps * (1 - body) * c.below_lowest
        albedo = albedo * (1 - s[..., None]) + strap_colour(attrs, base_linear) * s[..., None]
        occl = occl * (1 - 0.2 * s)
        relief = relief + 0.006 * s  # a round cord over the skin
        alpha = np.maximum(alpha, s)
        if metal is not None:
            metal = metal * (1 - s)
    return MaskDrawing(c.raster, alpha.astype(np.float32), albedo.astype(np.float32), relief.astype(np.float32),
                       np.clip(occl, 0, 1).astype(np.float32), np.asarray(gloss, np.float32) * np.ones_like(c.X),
                       c.own_to_canonical(parts.outline), None if metal is None else metal.astype(np.float32))


def strap_colour(attrs: MaskAttributes, base: np.ndarray) -> np.ndarray:
    """Linear RGB of a type's ear loops or head straps."""
    if attrs.mask_type in ("surgical", "kn95", "kf94"):
        return hex_to_linear("#f2f2f0") if luminance(base) > 0.05 else base
    if attrs.mask_type in ("n95", "n95_valve"):
        return hex_to_linear("#d9c9a0")  # yellowish elastic
    if attrs.mask_type == "respirator":
        return hex_to_linear("#30343a")
    if attrs.mask_type in ("sequin", "window"):
        return hex_to_linear("#26272b") if luminance(base) < 0.3 else hex_to_linear("#f0f0ee")
    return base * 0.9
