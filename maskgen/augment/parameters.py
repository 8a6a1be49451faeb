"""One augmentation's parameters: which ops run and with what values, drawn from a checked spec."""
from __future__ import annotations

import numpy as np


def sample_parameters(spec: dict, rng: np.random.Generator) -> dict:
    """Which ops run and with what parameters, rounded to what ``applied`` records.

    Returns op -> ``(runs, value)``, plus ``'flip'`` (bool) and ``'seed'`` (for the augmenters).

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
    # drawn after the seed, so that adding them left the draws of the ops above unchanged
    s["face_crop"] = (runs("face_crop"), (uniform("face_crop", 3), round(float(rng.uniform(-0.12, 0.12)), 3),
                                          round(float(rng.uniform(-0.15, 0.15)), 3)))
    s["hand"] = (runs("hand"), uniform("hand", 2))
    h_lo, h_hi = spec.get("hair", (1, 1))
    s["hair"] = (runs("hair"), int(rng.integers(h_lo, h_hi + 1)))
    s["beauty"] = (runs("beauty"), uniform("beauty", 2))
    s["cast"] = (runs("cast"), (uniform("cast", 2), int(rng.integers(0, 360))))
    r_lo, r_hi = spec.get("lowres", (4, 4))
    s["lowres"] = (runs("lowres"), (int(rng.integers(r_lo, r_hi + 1)), bool(rng.random() < 0.5)))
    # drawn only by specs that have it, so that it left every earlier spec's draws (and the caller's rng) as they were
    s["mono"] = (runs("mono"), uniform("mono", 2)) if "mono" in spec else (False, 0.0)
    s["yaw"] = (runs("yaw"), uniform("yaw", 1)) if "yaw" in spec else (False, 0.0)
    s["pitch"] = (runs("pitch"), uniform("pitch", 1)) if "pitch" in spec else (False, 0.0)
    s["beard"] = (runs("beard"), uniform("beard", 2)) if "beard" in spec else (False, 0.0)
    s["collar"] = (runs("collar"), uniform("collar", 2)) if "collar" in spec else (False, 0.0)
    return s
