"""A detected face: the plain data that detection hands to the mask engine."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# the face detectors of maskgen.detect.faces (here, without dlib, for command-line choices)
DETECTORS = ("hog", "cnn", "mtcnn", "auto", "none")


@dataclass
class Face:
    """One detected face: box (x0, y0, x1, y1), 68 landmarks (x, y), detector score, and which
    detector found it (``hog``, ``cnn``, ``mtcnn`` or ``none``)."""

    box: np.ndarray
    landmarks: np.ndarray
    score: float = 1.0
    rejected: str | None = None  # why this face cannot be masked well, if so
    detector: str = "hog"
