"""Labels through the geometric stage: inputs checked, boxes carried as points, visibility measured.

Coordinates: landmarks are pixel indices (pixel centre at integer x), boxes are pixel edges (a box
covering pixel 0 only is ``(0, 0, 1, 1)``). A box travels through the warp as the centre and two
semi-axis ends of its inscribed ellipse, so a rotated face gets a tight box back.
"""
from __future__ import annotations

import math

import numpy as np

from maskgen.boxes import box_area, intersection


def box_points(box: np.ndarray) -> np.ndarray:
    """Centre and two semi-axis ends of the ellipse inscribed in a box (edge coordinates)."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([[cx, cy], [x1, cy], [cx, y1]], dtype=np.float64)


def box_from_points(p: np.ndarray) -> np.ndarray:
    """Bounding box of the moved ellipse: tight under rotation, exact under scale and shift."""
    c, u, v = p[0], p[1] - p[0], p[2] - p[0]
    hx, hy = math.hypot(u[0], v[0]), math.hypot(u[1], v[1])
    return np.array([c[0] - hx, c[1] - hy, c[0] + hx, c[1] + hy])


def check_inputs(image, landmarks, boxes, alphas):
    """Inputs as arrays (boxes (4,), landmarks (68, 2) or None); ValueError on a bad shape or count."""
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


def visible_fraction(box: np.ndarray, w: int, h: int) -> float:
    """Share of ``box`` inside a ``w`` x ``h`` frame."""
    area = box_area(box)
    return intersection(box, (0.0, 0.0, w, h)) / area if area > 0 else 0.0


def mask_share(alpha_before, box_before, alpha_after, box_after) -> float | None:
    """Share of a mask left visible after augmentation (cut off by a crop, covered by a hand), at the
    face's scale: the alpha's sum per unit of face-box area (the moved, unclipped box) after, over
    before, at most 1. None for a face without a mask."""
    if alpha_before is None or alpha_after is None:
        return None
    before = float(np.sum(alpha_before, dtype=np.float64)) / max(box_area(box_before), 1e-9)
    if before <= 0:
        return None
    after = float(np.sum(alpha_after, dtype=np.float64)) / max(box_area(box_after), 1e-9)
    return min(1.0, after / before)


def keypoints(landmarks: list, boxes: list) -> list[np.ndarray]:
    """Per face, the points imgaug moves (pixel-edge coordinates): its landmarks, if any, then its box points."""
    # imgaug keypoints use pixel-edge coordinates: landmark index x is the edge x - 0.5
    return [np.vstack([lm + 0.5, box_points(b)]) if lm is not None else box_points(b)
            for lm, b in zip(landmarks, boxes)]


def labels_from_keypoints(landmarks: list, points: list, w: int, h: int):
    """Per face, the moved landmarks (clipped; None stays None), the box (clipped) and its visible share."""
    out_landmarks, out_boxes, visible = [], [], []
    for lm, p in zip(landmarks, points):
        box = box_from_points(p[-3:])
        visible.append(visible_fraction(box, w, h))
        out_boxes.append(np.clip(box, 0, [w, h, w, h]))
        if lm is None:
            out_landmarks.append(None)
        else:
            out_landmarks.append(np.clip(p[:68] - 0.5, 0, [w - 1, h - 1]))
    return out_landmarks, out_boxes, visible
