"""A detected face: the plain data that detection hands to the mask engine."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Face:
    """One detected face: box (x0, y0, x1, y1), 68 landmarks (x, y) and detector score."""

    box: np.ndarray
    landmarks: np.ndarray
    score: float = 1.0
    rejected: str | None = None  # why this face cannot be masked well, if so
