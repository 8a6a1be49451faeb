"""Locate the dlib model files shipped by the ``face-recognition-models`` package.

The package's ``__init__`` imports ``pkg_resources`` (gone from current setuptools), so it
is never imported: its folder is found with :func:`importlib.util.find_spec`.
Set ``MASKGEN_MODELS_DIR`` to use model files from another folder.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

LANDMARKS_68 = "shape_predictor_68_face_landmarks.dat"
CNN_DETECTOR = "mmod_human_face_detector.dat"


class ModelNotFoundError(RuntimeError):
    """A model file could not be located."""


def models_dir() -> Path:
    """Folder holding the dlib model files."""
    override = os.environ.get("MASKGEN_MODELS_DIR")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the package 'face-recognition-models' is not installed; "
            "run: pip install face-recognition-models (or set MASKGEN_MODELS_DIR)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def model_path(name: str) -> Path:
    """Full path of one model file, with a clear message when it is missing."""
    path = models_dir() / name
    if not path.is_file():
        raise ModelNotFoundError(f"model file not found: {path}")
    return path
