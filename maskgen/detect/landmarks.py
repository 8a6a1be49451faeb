"""Indices and regions of dlib's 68-point landmark scheme, and checks on a landmark set."""
from __future__ import annotations

import numpy as np

JAW = list(range(0, 17))
RIGHT_BROW = list(range(17, 22))  # subject's right, image left
LEFT_BROW = list(range(22, 27))
NOSE_BRIDGE = list(range(27, 31))
NOSTRILS = list(range(31, 36))
RIGHT_EYE = list(range(36, 42))
LEFT_EYE = list(range(42, 48))
OUTER_LIPS = list(range(48, 60))
INNER_LIPS = list(range(60, 68))


def _flip_permutation() -> np.ndarray:
    """Index map that swaps left and right landmarks after a horizontal flip."""
    perm = np.arange(68)
    pairs = [(i, 16 - i) for i in range(8)]  # jaw
    pairs += [(17 + i, 26 - i) for i in range(5)]  # brows
    pairs += [(31, 35), (32, 34)]  # nostrils
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56)]  # outer lips
    pairs += [(60, 64), (61, 63), (67, 65)]  # inner lips
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


FLIP_PERMUTATION = _flip_permutation()


def flip_landmarks(landmarks: np.ndarray, width: int) -> np.ndarray:
    """Landmarks of the horizontally flipped image, left and right indices swapped."""
    flipped = np.asarray(landmarks, dtype=np.float64).copy()
    flipped[:, 0] = width - 1 - flipped[:, 0]
    return flipped[FLIP_PERMUTATION]


def roll_angle(eye_line: np.ndarray) -> float:
    """In-plane rotation of a face in radians, from the direction of its eye line (from the right eye,
    image left, to the left eye); positive turns the face clockwise on screen (image y points down)."""
    return float(np.arctan2(eye_line[1], eye_line[0]))


def landmark_roll(landmarks: np.ndarray) -> float:
    """In-plane rotation of a face in radians, from its eye centres (see :func:`roll_angle`)."""
    return roll_angle(landmarks[42:48].mean(0) - landmarks[36:42].mean(0))


def region_polygons(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Polygons used to check where a mask sits: eyes, nose, mouth and chin."""
    lm = np.asarray(landmarks, dtype=np.float64)
    chin = np.vstack([lm[5:12], lm[[57]]])  # jaw 5..11 closed through the lower lip
    nose = np.vstack([lm[[31]], lm[[30]], lm[[35]], lm[[34, 33, 32]]])
    return {
        "right_eye": lm[RIGHT_EYE],
        "left_eye": lm[LEFT_EYE],
        "nose": nose,  # nostrils and nose tip
        "mouth": lm[OUTER_LIPS],
        "chin": chin,
    }


def face_size(landmarks: np.ndarray) -> float:
    """A scale for the face: distance from the brow line to the chin, or jaw width if larger."""
    lm = np.asarray(landmarks, dtype=np.float64)
    height = np.linalg.norm(lm[8] - (lm[19] + lm[24]) / 2)
    width = np.linalg.norm(lm[16] - lm[0])
    return float(max(height, width))


def implausibility(landmarks: np.ndarray, image_shape: tuple[int, ...]) -> str | None:
    """Why a landmark set cannot be masked well, or None when it looks like a face."""
    lm = np.asarray(landmarks, dtype=np.float64)
    h, w = image_shape[:2]
    size = face_size(lm)
    if not np.isfinite(lm).all():
        return "landmarks are not finite"
    if size < 2 or np.ptp(lm, axis=0).max() < 2:
        return "landmarks collapsed (all points nearly on one spot)"
    if size < 12:
        return f"face too small ({size:.0f} px across)"
    inside = (lm[:, 0] >= -0.02 * w) & (lm[:, 0] <= 1.02 * w) & (lm[:, 1] >= -0.02 * h) & (lm[:, 1] <= 1.02 * h)
    if inside.mean() < 0.75:
        return f"landmarks mostly outside the image ({100 * (1 - inside.mean()):.0f}% out)"
    eye_r, eye_l = lm[RIGHT_EYE].mean(0), lm[LEFT_EYE].mean(0)
    eye_dist = np.linalg.norm(eye_l - eye_r)
    if eye_dist < 0.12 * size:
        return "landmarks collapsed (eyes nearly on top of each other)"
    mouth = lm[OUTER_LIPS].mean(0)
    eyes_mid = (eye_r + eye_l) / 2
    axis = np.array([-(eye_l - eye_r)[1], (eye_l - eye_r)[0]]) / max(eye_dist, 1e-6)
    if np.dot(mouth - eyes_mid, axis) < 0.25 * eye_dist:
        return "landmarks implausible (mouth not below the eyes)"
    if np.linalg.norm(lm[8] - eyes_mid) < 0.6 * eye_dist:
        return "landmarks collapsed (chin too close to the eyes)"
    return None
