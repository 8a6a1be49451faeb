"""Rotating a photo onto a canvas that holds all of it (the rotated face search, and rotated test copies)."""
from __future__ import annotations

import cv2
import numpy as np


def rotate_image(image: np.ndarray, angle: float, border: int = cv2.BORDER_REFLECT) -> tuple[np.ndarray, np.ndarray]:
    """``image`` rotated by ``angle`` degrees (counter-clockwise) on a canvas holding all of it, and the 2x3 map."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos))
    m[0, 2] += (nw - w) / 2
    m[1, 2] += (nh - h) / 2
    return cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=border), m
