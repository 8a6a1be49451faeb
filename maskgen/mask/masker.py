"""Library entry points: mask one face or every face of an image.

Per face: sample attributes (:mod:`sampling`), build the control mesh (:mod:`fit`), draw the mask
in the canonical frame (:mod:`drawings` on a :mod:`canvas`, or a user mask from :mod:`user_masks`)
with its fabric (:mod:`textures`), light it like the face (:mod:`render`), warp it onto the face and
blend it in.
"""
from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import astuple, dataclass

import numpy as np

from maskgen.detect.face import Face
from maskgen.mask.catalog import get_mask_type
from maskgen.mask.colors import hex_to_linear
from maskgen.mask.drawings import draw_builtin_mask
from maskgen.mask.fit import FaceMesh, build_mesh, warp_layers
from maskgen.mask.options import MaskOptions
from maskgen.mask.render import Lighting, composite, measure_lighting, shade
from maskgen.mask.results import MaskAttributes, MaskedFace, MaskResult
from maskgen.mask.sampling import sample_attributes
from maskgen.mask.textures import fabric_albedo
from maskgen.mask.user_masks import draw_user_mask

MAX_TEMPLATE_SCALE = 240.0  # canonical raster resolution cap, pixels per face unit
SUPERSAMPLE = 1.0  # canonical raster pixels per image pixel (linear): the face's own resolution
DRAWING_CACHE_BYTES = 48 << 20  # deterministic drawings kept for reuse (a bounded LRU, not per photo)


@dataclass
class FacePrep:
    """The work on one face that no random draw changes: its control mesh and the photo's lighting on it.

    Made once per face of a photo (:func:`prepare_faces`) and reused by every mask drawn on it; passing it
    to :func:`mask_faces` gives the same bytes as letting it measure again.
    """

    mesh: FaceMesh
    lighting: Lighting


def prepare_face(image: np.ndarray, face: Face) -> FacePrep:
    """The mesh of ``face`` and the lighting measured on ``image`` (the unmasked photo) around it."""
    mesh = build_mesh(face.landmarks)
    return FacePrep(mesh, measure_lighting(image, mesh))


def prepare_faces(image: np.ndarray, faces: list[Face]) -> list[FacePrep | None]:
    """:func:`prepare_face` for each face of a photo (None for a rejected face)."""
    image = _check_image(image)
    return [None if face.rejected else prepare_face(image, face) for face in faces]


def _generator(seed, rng) -> np.random.Generator:
    if rng is not None:
        return rng
    return np.random.default_rng(seed)


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    return image


def mask_faces(image: np.ndarray, faces: list[Face] | None = None, options: MaskOptions | None = None, *,
               seed: int | None = None, rng: np.random.Generator | None = None, detector: str = "hog",
               upsample: int | None = None, attributes: list[MaskAttributes] | None = None,
               timings: dict[str, float] | None = None, prepared: list[FacePrep | None] | None = None,
               min_face: int | None = None) -> MaskResult:
    """Mask every face of an RGB uint8 image; each face gets its own sampled variation.

    ``faces`` defaults to :func:`maskgen.find_faces` with ``detector``, ``min_face`` and ``upsample``.
    Randomness comes from ``rng``, or a generator seeded with ``seed``. ``attributes`` forces each
    face's mask. ``prepared``: :func:`prepare_faces` of this image and these faces, to reuse over
    several calls (variants of one photo; the same bytes as without). ``timings``, if given,
    accumulates seconds spent per stage (``fit``, ``render``).
    """
    image = _check_image(image)
    options = options or MaskOptions()
    rng = _generator(seed, rng)
    if faces is None:
        from maskgen.detect.faces import find_faces

        faces = find_faces(image, detector=detector, upsample=upsample, min_face=min_face)
    if prepared is not None and len(prepared) != len(faces):
        raise ValueError(f"prepared holds {len(prepared)} faces, faces {len(faces)}")
    out = image.copy()
    result = MaskResult(out)
    for i, face in enumerate(faces):
        if face.rejected:
            result.skipped.append((face, face.rejected))
            continue
        attrs = attributes[i] if attributes is not None else sample_attributes(options, rng)
        face_rng = np.random.default_rng(int(rng.integers(2 ** 63)))
        prep = prepared[i] if prepared is not None else None
        alpha = render_mask(out, image, face, attrs, face_rng, timings, prep)
        if alpha is None:
            result.skipped.append((face, "mask falls outside the image"))
            continue
        result.faces.append(MaskedFace(face, alpha, attrs))
    return result


def mask_face(image: np.ndarray, face: Face, options: MaskOptions | None = None, *, seed: int | None = None,
              rng: np.random.Generator | None = None, attributes: MaskAttributes | None = None) -> MaskResult:
    """Mask one face of an image."""
    return mask_faces(image, [face], options, seed=seed, rng=rng,
                      attributes=[attributes] if attributes is not None else None)


def render_mask(target: np.ndarray, source: np.ndarray, face: Face, attrs: MaskAttributes,
                rng: np.random.Generator, timings: dict[str, float] | None = None,
                prep: FacePrep | None = None) -> np.ndarray | None:
    """Draw, light, warp and blend one mask into ``target`` (in place); lighting measured on ``source``
    (or taken from ``prep``, :func:`prepare_face` of ``source`` and ``face``)."""
    clock = _Clock(timings)
    mesh = prep.mesh if prep is not None else build_mesh(face.landmarks)
    clock.lap("fit")
    px_per_unit = float(np.clip(mesh.scale * SUPERSAMPLE, 12.0, MAX_TEMPLATE_SCALE))
    sides = (mesh.side_factors[0] > 0.55, mesh.side_factors[1] > 0.55)
    drawing = _draw(attrs, rng, px_per_unit, sides)
    lighting = prep.lighting if prep is not None else measure_lighting(source, mesh)
    lit = shade(drawing.albedo, drawing.relief, drawing.occlusion, drawing.gloss, px_per_unit, lighting,
                metal=drawing.metal)
    clock.lap("render")
    warped = warp_layers(mesh, drawing.raster, [drawing.alpha, lit], target.shape, region=_drawn_region(drawing))
    clock.lap("fit")
    if warped is None:
        return None
    x0, y0, (alpha, lit_img) = warped
    if alpha.max() <= 0.01:
        return None
    alpha = composite(target, x0, y0, alpha, lit_img, lighting, mesh.scale, rng)
    clock.lap("render")
    return alpha


def _drawn_region(drawing) -> np.ndarray:
    """The canonical rectangle around every drawn pixel: the outline, and the ear loops and straps
    that run outside it to the ears (a region of the outline alone cut them off at its box)."""
    ys, xs = np.nonzero(drawing.alpha > 1e-3)
    if not len(xs):
        return drawing.outline
    r = drawing.raster
    x0, x1 = r.x0 + (xs.min() - 1) / r.scale, r.x0 + (xs.max() + 1) / r.scale
    y0, y1 = r.y0 + (ys.min() - 1) / r.scale, r.y0 + (ys.max() + 1) / r.scale
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def _draw_uncached(attrs: MaskAttributes, rng: np.random.Generator, px_per_unit: float, sides):
    spec = get_mask_type(attrs.mask_type)
    base = hex_to_linear(attrs.color)
    if spec.folder is not None:
        return draw_user_mask(spec, attrs, rng, px_per_unit, sides, base)

    def fabric(X, Y, ppu):
        return fabric_albedo(attrs.texture, attrs.texture_strength, base, X, Y, ppu, rng)

    return draw_builtin_mask(attrs, rng, px_per_unit, sides, base, fabric)


class _DrawingCache:
    """Drawings that took nothing from the random generator, by everything they depend on.

    A drawing is reused only when drawing it left the generator untouched: it is then a function of
    its key alone (type, sampled attributes, resolution, visible sides, and the files it read), so
    reusing it gives the same bytes, and the generator's later draws (texture, grain) are unchanged.
    Types (per wear style: a mask hanging from an ear draws where it hangs) whose drawing draws randomness
    are remembered and never cached. At most ``limit`` bytes.
    """

    def __init__(self, limit: int):
        self.limit, self.size = limit, 0
        self.items: OrderedDict = OrderedDict()
        self.random_types: set[str] = set()
        self.enabled = True

    def draw(self, attrs: MaskAttributes, rng: np.random.Generator, px_per_unit: float, sides):
        if not self.enabled or (attrs.mask_type, attrs.wear) in self.random_types:
            return _draw_uncached(attrs, rng, px_per_unit, sides)
        key = (astuple(attrs), px_per_unit, sides, _files_stamp(attrs))
        hit = self.items.get(key)
        if hit is not None:
            self.items.move_to_end(key)
            return hit
        before = rng.bit_generator.state
        drawing = _draw_uncached(attrs, rng, px_per_unit, sides)
        if rng.bit_generator.state != before:
            self.random_types.add((attrs.mask_type, attrs.wear))
            return drawing
        self._keep(key, drawing)
        return drawing

    def _keep(self, key, drawing) -> None:
        layers = [v for v in vars(drawing).values() if isinstance(v, np.ndarray)]
        size = sum(a.nbytes for a in layers)
        if size > self.limit // 4:
            return
        for a in layers:
            a.setflags(write=False)  # shared by later masks: nothing may draw into it
        self.items[key] = drawing
        self.size += size
        while self.size > self.limit:
            _, old = self.items.popitem(last=False)
            self.size -= sum(v.nbytes for v in vars(old).values() if isinstance(v, np.ndarray))


def _files_stamp(attrs: MaskAttributes) -> tuple:
    """Modification times of the files a drawing reads (a user mask's folder, a texture image)."""
    spec = get_mask_type(attrs.mask_type)
    paths = [spec.folder / "mask.png"] if spec.folder is not None else []
    if os.path.isfile(attrs.texture):
        paths.append(attrs.texture)
    return tuple(os.stat(p).st_mtime_ns if os.path.exists(p) else None for p in paths)


_DRAWINGS = _DrawingCache(DRAWING_CACHE_BYTES)


def _draw(attrs: MaskAttributes, rng: np.random.Generator, px_per_unit: float, sides):
    return _DRAWINGS.draw(attrs, rng, px_per_unit, sides)


class _Clock:
    """Adds the time since the last lap to ``timings[stage]`` (does nothing without a dict)."""

    def __init__(self, timings: dict[str, float] | None):
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        if self.timings is None:
            return
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self.last
        self.last = now

