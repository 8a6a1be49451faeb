"""Rotated and flipped copies of a photo with its landmarks moved to match (for checks and tests)."""
from __future__ import annotations

import cv2
import numpy as np

from maskgen.detect.landmarks import flip_landmarks
from maskgen.detect.rotation import rotate_image

COPIES = ("upright", "rot+25", "rot-25", "flip")


def make_copy(image: np.ndarray, landmarks: np.ndarray, variant: str) -> tuple[np.ndarray, np.ndarray]:
    """The photo and its landmarks after ``variant`` (one of :data:`COPIES`)."""
    if variant == "upright":
        return image, landmarks
    if variant == "flip":
        return np.ascontiguousarray(image[:, ::-1]), flip_landmarks(landmarks, image.shape[1])
    angle = float(variant[3:])
    rotated, m = rotate_image(image, angle)
    return rotated, landmarks @ m[:, :2].T + m[:, 2]
