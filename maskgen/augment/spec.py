"""What an augmentation does: the spec format, its validation, the presets and user config files.

Spec format (a preset name, or a dict as :func:`load_augment_config` returns)::

    {
      "flip": 0.5,              # probability of a horizontal flip (landmark indices swapped)
      "yaw": [-30, 30],         # degrees the largest face turns left or right in depth: a smooth warp
                                # of the face by a generic head's depth (maskgen.augment.turn);
                                # v -> [-v, v]
      "pitch": [-15, 25],       # degrees the largest face nods, positive looking down (a photo taken
                                # from above), negative looking up; turned and nodded in one warp
      "rotate": [-15, 15],      # degrees; a number v means [-v, v]
      "scale": [0.9, 1.1],      # isotropic zoom factor
      "translate": 0.05,        # fraction of width / height, x and y drawn apart; v -> [-v, v]
      "shear": [-5, 5],         # degrees along x; v -> [-v, v]
      "crop": 0.1,              # fraction cut from each side (drawn per side), resized back;
                                # v -> [0, v], at most 0.45
      "face_crop": [1.0, 1.5],  # zoom onto the largest face: a window this many face-box sides tall,
                                # shifted so the chin or the forehead may be cut, scaled back
      "hand": [0.8, 1.1],       # a hand over the mouth, under the chin or on a cheek; its size
                                # (1 = an adult hand on an adult face)
      "hair": [4, 24],          # strands of hair falling over the cheeks (count); v -> [1, v]
      "beard": [0.3, 1.0],      # facial hair (a full beard, stubble, a goatee or a moustache) drawn
                                # behind any mask; its density 0..1; v -> [0, v]
      "collar": [0.2, 1.0],     # clothing around the neck (a turtleneck, a scarf or an open collar)
                                # drawn behind any mask; how close it comes up to the jaw 0..1; v -> [0, v]
      "beauty": [0.3, 0.9],     # beauty-filter smoothing strength 0..1; v -> [0, v]
      "brightness": [0.8, 1.2], # multiplier on all channels
      "contrast": [0.8, 1.2],   # linear contrast factor around 128
      "hue": [-10, 10],         # degrees; v -> [-v, v] (skipped for grey images)
      "saturation": [0.8, 1.2], # colourfulness factor, 0 = grey (skipped for grey images)
      "blur": [0, 1.5],         # gaussian sigma in pixels; v -> [0, v]
      "motion_blur": [3, 9],    # motion-blur kernel size in pixels (>= 3); v -> [3, v]
      "cast": 0.2,              # colour cast (white balance off, warm/cool/green/magenta); v -> [0, v]
                                # (skipped for grey images)
      "mono": [0, 0.3],         # a black-and-white photo: grey levels, toned warm (sepia) by 0..1;
                                # v -> [0, v]
      "lowres": [20, 60],       # the largest face's width in pixels when seen by a low-resolution
                                # camera: downscaled to it and scaled back up; v -> [4, v]
      "noise": [0, 8],          # gaussian noise sigma in 0..255 units; v -> [0, v]
      "jpeg": [40, 95],         # JPEG quality 1..100
      "p": {"rotate": 0.5},     # per-op probability; an op without one runs every time
      "base": "light"           # optional: start from a preset, the keys given override it
    }

Ops left out do not run. The yaw and pitch turn the largest face first; then the geometric ops rotate, scale,
translate and shear form one affine warp, then crop and face_crop cut; the occlusions (beard, collar, hand, hair) are drawn on the moved face
and taken out of the mask alphas they cover; the photometric ops run in the order listed. Everything
applies to masked and unmasked images alike, so none of it tells the classes apart.
"""
from __future__ import annotations

import copy
import json
import math
import numbers
import tomllib
from pathlib import Path

PRESETS = ("none", "light", "heavy", "realistic")

GEOMETRIC_OPS = ("yaw", "pitch", "rotate", "scale", "translate", "shear", "crop", "face_crop")
OCCLUSION_OPS = ("beard", "collar", "hand", "hair")
PHOTOMETRIC_OPS = ("mono", "beauty", "brightness", "contrast", "hue", "saturation", "blur", "motion_blur", "cast",
                   "lowres", "noise", "jpeg")
OPS = GEOMETRIC_OPS + OCCLUSION_OPS + PHOTOMETRIC_OPS

# op -> (kind, lower bound, upper bound); kind: "sym" (v -> [-v, v]), "pos" (v -> [0, v]),
# "range" (a pair only), "int" (pair of ints, v -> [low, v])
_RANGES = {
    "yaw": ("sym", -45.0, 45.0),
    "pitch": ("sym", -40.0, 40.0),
    "rotate": ("sym", -180.0, 180.0),
    "scale": ("range", 0.05, 10.0),
    "translate": ("sym", -1.0, 1.0),
    "shear": ("sym", -45.0, 45.0),
    "crop": ("pos", 0.0, 0.45),
    "face_crop": ("range", 0.5, 4.0),
    "hand": ("range", 0.3, 3.0),
    "hair": ("int", 1, 200),
    "beard": ("pos", 0.0, 1.0),
    "collar": ("pos", 0.0, 1.0),
    "beauty": ("pos", 0.0, 1.0),
    "cast": ("pos", 0.0, 1.0),
    "mono": ("pos", 0.0, 1.0),
    "lowres": ("int", 4, 1024),
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
        out = {k: (dict(v) if k == "p" else v) for k, v in PRESET_SPECS[base].items()}
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


PRESET_SPECS: dict = {"none": {"flip": 0.0, "p": {}}}
PRESET_SPECS["light"] = validate_spec({
    "flip": 0.5,
    "rotate": 10, "scale": [0.9, 1.1], "translate": 0.05,
    "brightness": [0.85, 1.15], "contrast": [0.85, 1.15], "hue": 5, "saturation": [0.85, 1.15],
    "blur": [0.3, 1.0], "noise": [1, 5], "jpeg": [60, 95],
    "p": {"rotate": 0.5, "scale": 0.5, "translate": 0.3, "brightness": 0.5, "contrast": 0.5,
          "hue": 0.2, "saturation": 0.3, "blur": 0.1, "noise": 0.1, "jpeg": 0.2},
}, "preset 'light'")
PRESET_SPECS["heavy"] = validate_spec({
    "flip": 0.5,
    "rotate": 25, "scale": [0.75, 1.25], "translate": 0.1, "shear": 10, "crop": 0.15,
    "brightness": [0.6, 1.4], "contrast": [0.6, 1.4], "hue": 20, "saturation": [0.5, 1.5],
    "blur": [0.5, 2.5], "motion_blur": [3, 11], "noise": [2, 15], "jpeg": [20, 90],
    "p": {"rotate": 0.7, "scale": 0.7, "translate": 0.5, "shear": 0.4, "crop": 0.4,
          "brightness": 0.7, "contrast": 0.7, "hue": 0.4, "saturation": 0.5,
          "blur": 0.3, "motion_blur": 0.2, "noise": 0.4, "jpeg": 0.5},
}, "preset 'heavy'")


# capture and occlusion realism: what real photos of faces (masked or not) look like
PRESET_SPECS["realistic"] = validate_spec({
    "flip": 0.5, "yaw": 30,
    "rotate": 10, "scale": [0.9, 1.1], "translate": 0.04, "face_crop": [0.95, 1.5],
    "hand": [0.8, 1.15], "hair": [4, 24], "beard": [0.35, 1.0],
    "beauty": [0.3, 0.9], "brightness": [0.7, 1.3], "contrast": [0.75, 1.2], "saturation": [0.6, 1.3],
    "blur": [0.4, 1.6], "cast": 0.25, "lowres": [18, 64], "noise": [1, 8], "jpeg": [25, 90], "mono": 0.3,
    "p": {"yaw": 0.5, "rotate": 0.4, "scale": 0.4, "translate": 0.3, "face_crop": 0.2, "hand": 0.1, "hair": 0.15,
          "beard": 0.15, "beauty": 0.15, "brightness": 0.5, "contrast": 0.4, "saturation": 0.3, "blur": 0.2, "cast": 0.35,
          "lowres": 0.3, "noise": 0.3, "jpeg": 0.5, "mono": 0.06},
}, "preset 'realistic'")


def resolve_spec(preset) -> dict:
    """The checked spec of a preset name (the shared preset dict itself) or of a spec dict."""
    if isinstance(preset, str):
        if preset not in PRESET_SPECS:
            raise ValueError(f"unknown augmentation preset {preset!r}; choose from {', '.join(PRESETS)}")
        return PRESET_SPECS[preset]
    return validate_spec(preset)


def preset_spec(preset) -> dict:
    """The checked spec (a fresh copy) of a preset name or a spec dict."""
    return copy.deepcopy(resolve_spec(preset))
