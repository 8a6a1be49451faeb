"""Library entry points: mask one face or every face of an image.

Per face: sample attributes (:mod:`sampling`), build the control mesh (:mod:`fit`), draw the mask
in the canonical frame (:mod:`drawings` on a :mod:`canvas`, or a user mask from :mod:`user_masks`)
with its fabric (:mod:`textures`), light it like the face (:mod:`render`), warp it onto the face and
blend it in.
"""
from __future__ import annotations

import time

import numpy as np

from maskgen.detect.face import Face
from maskgen.mask.catalog import get_mask_type
from maskgen.mask.colors import hex_to_linear
from maskgen.mask.drawings import draw_builtin_mask
from maskgen.mask.fit import build_mesh, warp_layers
from maskgen.mask.options import MaskOptions
from maskgen.mask.render import composite, measure_lighting, shade
from maskgen.mask.results import MaskAttributes, MaskedFace, MaskResult
from maskgen.mask.sampling import sample_attributes
from maskgen.mask.textures import fabric_albedo
from maskgen.mask.user_masks import draw_user_mask

MAX_TEMPLATE_SCALE = 240.0  # canonical raster resolution cap, pixels per face unit


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
               upsample: int = 1, attributes: list[MaskAttributes] | None = None,
               timings: dict[str, float] | None = None) -> MaskResult:
    """Mask every face of an RGB uint8 image; each face gets its own sampled variation.

    ``faces`` defaults to :func:`maskgen.find_faces` with ``detector`` and ``upsample``. Randomness
    comes from ``rng``, or a generator seeded with ``seed``. ``attributes`` forces each face's mask.
    ``timings``, if given, accumulates seconds spent per stage (``fit``, ``render``).
    """
    image = _check_image(image)
    options = options or MaskOptions()
    rng = _generator(seed, rng)
    if faces is None:
        from maskgen.detect.faces import find_faces

        faces = find_faces(image, detector=detector, upsample=upsample)
    out = image.copy()
    result = MaskResult(out)
    for i, face in enumerate(faces):
        if face.rejected:
            result.skipped.append((face, face.rejected))
            continue
        attrs = attributes[i] if attributes is not None else sample_attributes(options, rng)
        face_rng = np.random.default_rng(int(rng.integers(2 ** 63)))
        alpha = render_mask(out, image, face, attrs, face_rng, timings)
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
                rng: np.random.Generator, timings: dict[str, float] | None = None) -> np.ndarray | None:
    """Draw, light, warp and blend one mask into ``target`` (in place); lighting measured on ``source``."""
    clock = _Clock(timings)
    mesh = build_mesh(face.landmarks)
    clock.lap("fit")
    px_per_unit = float(np.clip(mesh.scale * 1.25, 12.0, MAX_TEMPLATE_SCALE))
    sides = (mesh.side_factors[0] > 0.55, mesh.side_factors[1] > 0.55)
    spec = get_mask_type(attrs.mask_type)
    base = hex_to_linear(attrs.color)
    if spec.folder is not None:
        drawing = draw_user_mask(spec, attrs, rng, px_per_unit, sides, base)
    else:
        def fabric(X, Y, ppu):
            return fabric_albedo(attrs.texture, attrs.texture_strength, base, X, Y, ppu, rng)

        drawing = draw_builtin_mask(attrs, rng, px_per_unit, sides, base, fabric)
    lighting = measure_lighting(source, mesh)
    lit = shade(drawing.albedo, drawing.relief, drawing.occlusion, drawing.gloss, px_per_unit, lighting,
                metal=drawing.metal)
    clock.lap("render")
    warped = warp_layers(mesh, drawing.raster, [drawing.alpha, lit], target.shape, region=drawing.outline)
    clock.lap("fit")
    if warped is None:
        return None
    x0, y0, (alpha, lit_img) = warped
    if alpha.max() <= 0.01:
        return None
    alpha = composite(target, x0, y0, alpha, lit_img, lighting, mesh.scale, rng)
    clock.lap("render")
    return alpha


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

