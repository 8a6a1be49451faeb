"""Augmentation of a masked image together with its labels: the only module that imports imgaug.

Parameters are sampled once, from the caller's ``np.random.Generator``, and applied in two
stages: a geometric stage (flip, affine, crop) moves the image, the landmarks, the boxes and
the mask alphas together; a photometric stage (brightness, contrast, hue, saturation, blur,
noise, JPEG) changes the image only. Plain numpy goes in and comes out.

Spec format (a preset name, or a dict as :func:`load_augment_config` returns)::

    {
      "flip": 0.5,              # probability of a horizontal flip (landmark indices swapped)
      "rotate": [-15, 15],      # degrees; a number v means [-v, v]
      "scale": [0.9, 1.1],      # isotropic zoom factor
      "translate": 0.05,        # fraction of width / height, x and y drawn apart; v -> [-v, v]
      "shear": [-5, 5],         # degrees along x; v -> [-v, v]
      "crop": 0.1,              # fraction cut from each side (drawn per side), resized back;
                                # v -> [0, v], at most 0.45
      "brightness": [0.8, 1.2], # multiplier on all channels
      "contrast": [0.8, 1.2],   # linear contrast factor around 128
      "hue": [-10, 10],         # degrees; v -> [-v, v] (skipped for grey images)
      "saturation": [0.8, 1.2], # colourfulness factor, 0 = grey (skipped for grey images)
      "blur": [0, 1.5],         # gaussian sigma in pixels; v -> [0, v]
      "motion_blur": [3, 9],    # motion-blur kernel size in pixels (>= 3); v -> [3, v]
      "noise": [0, 8],          # gaussian noise sigma in 0..255 units; v -> [0, v]
      "jpeg": [40, 95],         # JPEG quality 1..100
      "p": {"rotate": 0.5},     # per-op probability; an op without one runs every time
      "base": "light"           # optional: start from a preset, the keys given override it
    }

Ops left out do not run. The geometric ops rotate, scale, translate and shear form one
affine warp. Coordinates: landmarks are pixel indices (pixel centre at integer x),
boxes are pixel edges (a box covering pixel 0 only is ``(0, 0, 1, 1)``).
"""
from __future__ import annotations

import copy
import json
import math
import numbers
import tomllib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from maskgen.detect.landmarks import flip_landmarks

if not hasattr(np, "sctypes"):  # removed in numpy 2; imgaug 0.4.0 reads it at import
    np.sctypes = {
        "int": [np.int8, np.int16, np.int32, np.int64],
        "uint": [np.uint8, np.uint16, np.uint32, np.uint64],
        "float": [np.float16, np.float32, np.float64, np.longdouble],
        "complex": [np.complex64, np.complex128, np.clongdouble],
        "others": [bool, object, bytes, str, np.void],
    }

import imgaug.augmenters as iaa  # noqa: E402
from imgaug.augmentables.batches import _BatchInAugmentation  # noqa: E402  (no copies)
from imgaug.augmentables.heatmaps import HeatmapsOnImage  # noqa: E402
from imgaug.augmentables.kps import KeypointsOnImage  # noqa: E402

PRESETS = ("none", "light", "heavy")

GEOMETRIC_OPS = ("rotate", "scale", "translate", "shear", "crop")
PHOTOMETRIC_OPS = ("brightness", "contrast", "hue", "saturation", "blur", "motion_blur", "noise", "jpeg")
OPS = GEOMETRIC_OPS + PHOTOMETRIC_OPS

# op -> (kind, lower bound, upper bound); kind: "sym" (v -> [-v, v]), "pos" (v -> [0, v]),
# "range" (a pair only), "int" (pair of ints, v -> [low, v])
_RANGES = {
    "rotate": ("sym", -180.0, 180.0),
    "scale": ("range", 0.05, 10.0),
    "translate": ("sym", -1.0, 1.0),
    "shear": ("sym", -45.0, 45.0),
    "crop": ("pos", 0.0, 0.45),
    "brightness": ("range", 0.0, 10.0),
    "contrast": ("range", 0.0, 10.0),
    "hue": ("sym", -180.0, 180.0),
    "saturation": ("range", 0.0, 10.0),
    "blur": ("pos", 0.0, 50.0),
    "motion_blur": ("int", 3, 101),
    "noise": ("pos", 0.0, 255.0),
    "jpeg": ("int", 1, 100),
}
KEYS = ("flip",) + OPS + ("p", "base")


@dataclass
class AugmentResult:
    """The augmented image and, per face, its moved labels."""

    image: np.ndarray  # RGB uint8, same size; the input array itself when nothing ran
    landmarks: list[np.ndarray]  # per face (68, 2) float, clipped to the image (None stays None)
    boxes: list[np.ndarray]  # per face (4,) float x0, y0, x1, y1, clipped to the image
    alphas: list[np.ndarray]  # per face HxW float32 0..1, geometry only ([] when alphas=None)
    visible: list[float]  # per face: share of the moved, unclipped box inside the frame
    applied: list[str]  # what ran, with the exact parameters used


# ----------------------------------------------------------------------------- spec

def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _range(op: str, value, source: str) -> list:
    kind, low, high = _RANGES[op]
    where = f"{source}: {op!r}"
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"{where}: expected [low, high], got {value!r}")
        lo, hi = (_number(v, where) for v in value)
    elif kind == "range":
        raise ValueError(f"{where}: expected [low, high], got {value!r}")
    else:
        v = _number(value, where)
        lo, hi = {"sym": (-abs(v), abs(v)), "pos": (0.0, v), "int": (low, v)}[kind]
    if lo > hi:
        raise ValueError(f"{where}: low {lo:g} is above high {hi:g}")
    if lo < low or hi > high:
        raise ValueError(f"{where}: values must lie in [{low:g}, {high:g}], got [{lo:g}, {hi:g}]")
    if kind == "int":
        if lo != int(lo) or hi != int(hi):
            raise ValueError(f"{where}: expected whole numbers, got [{lo:g}, {hi:g}]")
        return [int(lo), int(hi)]
    return [lo, hi]


def _probability(value, where: str) -> float:
    p = _number(value, where)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{where}: a probability must lie in [0, 1], got {p:g}")
    return p


def validate_spec(spec: dict, source: str = "augmentation spec") -> dict:
    """Checked, normalised copy of a spec dict; ValueError naming ``source`` on bad input."""
    if not isinstance(spec, dict):
        raise ValueError(f"{source}: expected a table of settings, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(KEYS))
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {', '.join(map(repr, unknown))}; "
                         f"known keys: {', '.join(KEYS)}")
    out: dict = {"flip": 0.0, "p": {}}
    if "base" in spec:
        base = spec["base"]
        if base not in PRESETS:
            raise ValueError(f"{source}: 'base' must be one of {', '.join(PRESETS)}, got {base!r}")
        out = {k: (dict(v) if k == "p" else v) for k, v in _PRESET_SPECS[base].items()}
    if "flip" in spec:
        out["flip"] = _probability(spec["flip"], f"{source}: 'flip'")
    for op in OPS:
        if op in spec:
            out[op] = _range(op, spec[op], source)
            out["p"].setdefault(op, 1.0)
    probs = spec.get("p", {})
    if not isinstance(probs, dict):
        raise ValueError(f"{source}: 'p' must be a table of op -> probability, got {probs!r}")
    for op, value in probs.items():
        if op not in OPS:
            raise ValueError(f"{source}: unknown op {op!r} in 'p'; known ops: {', '.join(OPS)}")
        if op not in out:
            raise ValueError(f"{source}: 'p' gives a probability for {op!r}, which has no range")
        out["p"][op] = _probability(value, f"{source}: p[{op!r}]")
    return out


def load_augment_config(path) -> dict:
    """Read a user augmentation config (``.toml``, else JSON) into a checked spec dict."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read augmentation config: {exc}") from None
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
        raise ValueError(f"{path}: not valid {kind}: {exc}") from None
    return validate_spec(data, str(path))


_PRESET_SPECS: dict = {"none": {"flip": 0.0, "p": {}}}
_PRESET_SPECS["light"] = validate_spec({
    "flip": 0.5,
    "rotate": 10, "scale": [0.9, 1.1], "translate": 0.05,
    "brightness": [0.85, 1.15], "contrast": [0.85, 1.15], "hue": 5, "saturation": [0.85, 1.15],
    "blur": [0.3, 1.0], "noise": [1, 5], "jpeg": [60, 95],
    "p": {"rotate": 0.5, "scale": 0.5, "translate": 0.3, "brightness": 0.5, "contrast": 0.5,
          "hue": 0.2, "saturation": 0.3, "blur": 0.1, "noise": 0.1, "jpeg": 0.2},
}, "preset 'light'")
_PRESET_SPECS["heavy"] = validate_spec({
    "flip": 0.5,
    "rotate": 25, "scale": [0.75, 1.25], "translate": 0.1, "shear": 10, "crop": 0.15,
    "brightness": [0.6, 1.4], "contrast": [0.6, 1.4], "hue": 20, "saturation": [0.5, 1.5],
    "blur": [0.5, 2.5], "motion_blur": [3, 11], "noise": [2, 15], "jpeg": [20, 90],
    "p": {"rotate": 0.7, "scale": 0.7, "translate": 0.5, "shear": 0.4, "crop": 0.4,
          "brightness": 0.7, "contrast": 0.7, "hue": 0.4, "saturation": 0.5,
          "blur": 0.3, "motion_blur": 0.2, "noise": 0.4, "jpeg": 0.5},
}, "preset 'heavy'")


def _resolve(preset) -> dict:
    if isinstance(preset, str):
        if preset not in _PRESET_SPECS:
            raise ValueError(f"unknown augmentation preset {preset!r}; choose from {', '.join(PRESETS)}")
        return _PRESET_SPECS[preset]
    return validate_spec(preset)


def preset_spec(preset) -> dict:
    """The checked spec (a fresh copy) of a preset name or a spec dict."""
    return copy.deepcopy(_resolve(preset))


# ----------------------------------------------------------------------------- sampling

def _sample(spec: dict, rng: np.random.Generator) -> dict:
    """Which ops run and with what parameters, rounded to what ``applied`` records.

    Every op consumes the same draws whether it runs or not, so one seed gives the same
    geometry whatever the photometric settings are.
    """
    def runs(op):
        return rng.random() < spec["p"].get(op, 0.0) and op in spec

    def uniform(op, digits):
        lo, hi = spec.get(op, (0.0, 0.0))
        return round(float(rng.uniform(lo, hi)), digits)

    s = {"flip": bool(rng.random() < spec["flip"])}
    s["rotate"] = (runs("rotate"), uniform("rotate", 1))
    s["scale"] = (runs("scale"), uniform("scale", 3))
    s["translate"] = (runs("translate"), (uniform("translate", 3), uniform("translate", 3)))
    s["shear"] = (runs("shear"), uniform("shear", 1))
    s["crop"] = (runs("crop"), tuple(uniform("crop", 3) for _ in range(4)))  # t, r, b, l
    s["brightness"] = (runs("brightness"), uniform("brightness", 2))
    s["contrast"] = (runs("contrast"), uniform("contrast", 2))
    s["hue"] = (runs("hue"), round(round(uniform("hue", 2) * 255 / 360) * 360 / 255, 1))
    s["saturation"] = (runs("saturation"), uniform("saturation", 2))
    s["blur"] = (runs("blur"), uniform("blur", 2))
    k_lo, k_hi = spec.get("motion_blur", (3, 3))
    s["motion_blur"] = (runs("motion_blur"), (int(rng.integers(k_lo, k_hi + 1)), int(rng.integers(0, 360))))
    s["noise"] = (runs("noise"), uniform("noise", 1))
    q_lo, q_hi = spec.get("jpeg", (100, 100))
    s["jpeg"] = (runs("jpeg"), int(rng.integers(q_lo, q_hi + 1)))
    s["seed"] = int(rng.integers(2**31 - 1))
    return s


# ----------------------------------------------------------------------------- stages

def _geometric_augmenter(s: dict, seed: int, h: int, w: int, applied: list):
    children, parts = [], []
    rotate, scale, shear = (s[k][1] if s[k][0] else None for k in ("rotate", "scale", "shear"))
    tx, ty = s["translate"][1]
    if rotate is not None:
        parts.append(f"rotate={rotate:g}")
    if scale is not None:
        parts.append(f"scale={scale:g}")
    if s["translate"][0]:
        parts.append(f"tx={tx:g},ty={ty:g}")
    if shear is not None:
        parts.append(f"shear={shear:g}")
    if parts:
        affine = iaa.Affine(
            scale=1.0 if scale is None else scale, rotate=rotate or 0.0, shear=shear or 0.0,
            translate_percent={"x": tx, "y": ty} if s["translate"][0] else None,
            order=1, cval=0, mode="constant", backend="cv2", seed=seed)
        affine._order_heatmaps = 1  # alphas: bilinear like the image (imgaug 0.4.0 default: cubic)
        children.append(affine)
        applied.append(f"affine({','.join(parts)})")
    if s["crop"][0]:
        t, r, b, l = s["crop"][1]
        # crop, then resize back bilinearly (Crop(keep_size=True) would upscale with INTER_AREA)
        children.append(iaa.Crop(percent=(t, r, b, l), keep_size=False, seed=seed + 1))
        children.append(iaa.Resize({"height": h, "width": w}, interpolation="linear", seed=seed + 3))
        applied.append(f"crop(t={t:g},r={r:g},b={b:g},l={l:g})")
    return iaa.Sequential(children, seed=seed + 2) if children else None


def _photometric_augmenter(s: dict, seed: int, grey: bool, applied: list):
    children = []

    def add(op, augmenter, record):
        if s[op][0]:
            children.append(augmenter())
            applied.append(record)

    add("brightness", lambda: iaa.Multiply(s["brightness"][1], seed=seed), f"brightness({s['brightness'][1]:g})")
    add("contrast", lambda: iaa.LinearContrast(s["contrast"][1], seed=seed + 1), f"contrast({s['contrast'][1]:g})")
    if not grey:  # a hue or saturation change would put colour into a grey image
        add("hue", lambda: iaa.AddToHue(int(round(s["hue"][1] * 255 / 360)), seed=seed + 2),
            f"hue({s['hue'][1]:g})")
        add("saturation", lambda: iaa.pillike.EnhanceColor(s["saturation"][1], seed=seed + 3),
            f"saturation({s['saturation'][1]:g})")
    add("blur", lambda: iaa.GaussianBlur(s["blur"][1], seed=seed + 4), f"blur(sigma={s['blur'][1]:g})")
    k, angle = s["motion_blur"][1]
    add("motion_blur", lambda: iaa.MotionBlur(k=k, angle=angle, direction=0.0, seed=seed + 5),
        f"motion_blur(k={k},angle={angle})")
    # noise and JPEG run after imgaug, in _noise and _jpeg: imgaug's AdditiveGaussianNoise is
    # about twice as slow, its JpegCompression goes through deprecated imageio calls
    if s["noise"][0]:
        applied.append(f"noise(sigma={s['noise'][1]:g})")
    if s["jpeg"][0]:
        applied.append(f"jpeg(q={s['jpeg'][1]})")
    return iaa.Sequential(children, seed=seed + 8) if children else None


def _noise(image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Gaussian noise, the same on every channel (grey stays grey), rounded and saturated."""
    noise = np.random.default_rng(seed).standard_normal(image.shape[:2], dtype=np.float32)
    noise *= sigma
    return cv2.add(image, cv2.merge([noise] * image.shape[2]), dtype=cv2.CV_8U)


def _jpeg(image: np.ndarray, quality: int, grey: bool) -> np.ndarray:
    """JPEG round trip at ``quality``; a grey image is coded as one channel so it stays grey."""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    if grey:
        _, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., 0]), params)
        return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE), cv2.COLOR_GRAY2RGB)
    _, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _is_grey(image: np.ndarray) -> bool:
    """True when all three channels are equal (cheap sparse check first)."""
    sub = image[::17, ::17]
    if not (np.array_equal(sub[..., 0], sub[..., 1]) and np.array_equal(sub[..., 0], sub[..., 2])):
        return False
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2]))


def _box_points(box: np.ndarray) -> np.ndarray:
    """Centre and two semi-axis ends of the ellipse inscribed in a box (edge coordinates)."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([[cx, cy], [x1, cy], [cx, y1]], dtype=np.float64)


def _box_from_points(p: np.ndarray) -> np.ndarray:
    """Bounding box of the moved ellipse: tight under rotation, exact under scale and shift."""
    c, u, v = p[0], p[1] - p[0], p[2] - p[0]
    hx, hy = math.hypot(u[0], v[0]), math.hypot(u[1], v[1])
    return np.array([c[0] - hx, c[1] - hy, c[0] + hx, c[1] + hy])


def _check_inputs(image, landmarks, boxes, alphas):
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3):
        raise ValueError(f"augment expects an RGB uint8 (H, W, 3) image, got "
                         f"{getattr(image, 'dtype', type(image))} {getattr(image, 'shape', '')}")
    h, w = image.shape[:2]
    boxes = [np.asarray(b, dtype=np.float64).reshape(4) for b in boxes]
    landmarks = list(landmarks) if landmarks is not None else [None] * len(boxes)
    if len(landmarks) != len(boxes):
        raise ValueError(f"got {len(landmarks)} landmark sets for {len(boxes)} boxes")
    landmarks = [None if lm is None else np.asarray(lm, dtype=np.float64) for lm in landmarks]
    for lm in landmarks:
        if lm is not None and lm.shape != (68, 2):
            raise ValueError(f"landmarks must be (68, 2), got {lm.shape}")
    if alphas is not None:
        alphas = list(alphas)
        if len(alphas) != len(boxes):
            raise ValueError(f"got {len(alphas)} alphas for {len(boxes)} boxes")
        for a in alphas:
            if a is not None and np.shape(a) != (h, w):
                raise ValueError(f"alpha must be image-sized {(h, w)}, got {np.shape(a)}")
    return landmarks, boxes, alphas


def augment(image: np.ndarray, landmarks, boxes, alphas=None, preset="light",
            rng: np.random.Generator | None = None) -> AugmentResult:
    """Augment one image with its faces' landmarks, boxes and mask alphas.

    ``preset`` is one of :data:`PRESETS` or a spec dict (see the module docstring); ``rng``
    drives every random choice and is required unless the preset is ``"none"``. ``landmarks``
    may be None, or hold None for a face without landmarks; ``alphas`` may be None.
    """
    landmarks, boxes, alphas = _check_inputs(image, landmarks, boxes, alphas)
    spec = _resolve(preset)
    h, w = image.shape[:2]
    if spec is _PRESET_SPECS["none"]:
        alphas_out = [] if alphas is None else [None if a is None else np.asarray(a, np.float32) for a in alphas]
        return AugmentResult(image, [None if lm is None else lm.copy() for lm in landmarks],
                             [np.clip(b, 0, [w, h, w, h]) for b in boxes], alphas_out,
                             [_visible(b, w, h) for b in boxes], [])
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"augment needs an np.random.Generator unless preset is 'none', got {type(rng).__name__}")
    s = _sample(spec, rng)
    applied: list[str] = []

    # geometric stage: flip here (landmark indices swap), affine and crop through imgaug
    img = image
    if s["flip"]:
        img = cv2.flip(np.ascontiguousarray(image), 1)
        landmarks = [None if lm is None else flip_landmarks(lm, w) for lm in landmarks]
        boxes = [np.array([w - b[2], b[1], w - b[0], b[3]]) for b in boxes]
        if alphas is not None:
            alphas = [None if a is None else cv2.flip(np.asarray(a, np.float32), 1) for a in alphas]
        applied.append("fliplr")
    # imgaug keypoints use pixel-edge coordinates: landmark index x is the edge x - 0.5
    points = [np.vstack([lm + 0.5, _box_points(b)]) if lm is not None else _box_points(b)
              for lm, b in zip(landmarks, boxes)]
    alpha_idx = [i for i, a in enumerate(alphas or []) if a is not None]
    geometric = _geometric_augmenter(s, s["seed"], h, w, applied)
    if geometric is not None:
        batch = _BatchInAugmentation(images=[img])
        if points:
            batch.keypoints = [KeypointsOnImage.from_xy_array(np.vstack(points), shape=img.shape)]
        if alpha_idx:
            stack = np.stack([alphas[i] for i in alpha_idx], axis=-1).astype(np.float32, copy=False)
            batch.heatmaps = [HeatmapsOnImage(np.clip(stack, 0, 1, out=stack), shape=img.shape)]
        batch = geometric.augment_batch_(batch)
        img = batch.images[0]
        if points:
            moved = batch.keypoints[0].to_xy_array().astype(np.float64)
            sizes = np.cumsum([len(p) for p in points])[:-1]
            points = np.split(moved, sizes)
        if alpha_idx:
            warped = batch.heatmaps[0].get_arr()
            alphas = list(alphas)
            for j, i in enumerate(alpha_idx):
                alphas[i] = warped[..., j]
    out_landmarks, out_boxes, visible = [], [], []
    for lm, p in zip(landmarks, points):
        box = _box_from_points(p[-3:])
        visible.append(_visible(box, w, h))
        out_boxes.append(np.clip(box, 0, [w, h, w, h]))
        if lm is None:
            out_landmarks.append(None)
        else:
            out_landmarks.append(np.clip(p[:68] - 0.5, 0, [w - 1, h - 1]))
    alphas_out = [] if alphas is None else [
        None if a is None else np.ascontiguousarray(a, dtype=np.float32) for a in alphas]

    # photometric stage: the image only
    grey = _is_grey(img)
    photometric = _photometric_augmenter(s, s["seed"] + 16, grey, applied)
    if photometric is not None:
        if np.may_share_memory(img, image):
            img = img.copy()  # imgaug works in place below; never touch the caller's image
        img = photometric.augment_batch_(_BatchInAugmentation(images=[img])).images[0]
    if s["noise"][0]:
        img = _noise(img, s["noise"][1], s["seed"] + 22)
    if s["jpeg"][0]:
        img = _jpeg(img, s["jpeg"][1], grey)
    return AugmentResult(img, out_landmarks, out_boxes, alphas_out, visible, applied)


def _visible(box: np.ndarray, w: int, h: int) -> float:
    area = (box[2] - box[0]) * (box[3] - box[1])
    if area <= 0:
        return 0.0
    iw = max(0.0, min(box[2], w) - max(box[0], 0.0))
    ih = max(0.0, min(box[3], h) - max(box[1], 0.0))
    return float(iw * ih / area)
