"""Augmentation of a masked image together with its labels.

:func:`augment` takes an image with its faces' landmarks, boxes and mask alphas, and returns them
moved together (:class:`AugmentResult`). The step reads in four modules:

- :mod:`~maskgen.augment.spec`: the spec format, its validation, the presets, user config files;
- :mod:`~maskgen.augment.parameters`: one augmentation's parameters drawn from a spec;
- :mod:`~maskgen.augment.labels`: landmarks and boxes through the warp, and their visibility;
- :mod:`~maskgen.augment.pipeline`: the geometric, occlusion and photometric stages (the only module
  that imports imgaug);
- :mod:`~maskgen.augment.capture` and :mod:`~maskgen.augment.occluders`: tight face crops, low
  resolution, beauty smoothing, colour casts; hands and hair over the face (numpy and OpenCV).
"""
from __future__ import annotations

from maskgen.augment.spec import (GEOMETRIC_OPS, KEYS, OCCLUSION_OPS, OPS, PHOTOMETRIC_OPS, PRESETS,
                                  load_augment_config, preset_spec, validate_spec)

__all__ = ["AugmentResult", "GEOMETRIC_OPS", "KEYS", "OCCLUSION_OPS", "OPS", "PHOTOMETRIC_OPS", "PRESETS", "augment",
           "load_augment_config", "preset_spec", "validate_spec"]


def __getattr__(name: str):
    """``augment`` and ``AugmentResult`` import the pipeline (and imgaug, slow) on first use only, so that
    checking settings, or a run with ``--augment none``, never loads imgaug."""
    if name in ("augment", "AugmentResult"):
        from maskgen.augment import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'maskgen.augment' has no attribute {name!r}")
