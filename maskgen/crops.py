"""Square face crops, shared by the dataset's ``--crop face`` mode and the trainer's prediction.

Training and prediction must cut faces the same way, so both call :func:`face_square`.
"""
from __future__ import annotations

import cv2
import numpy as np

DEFAULT_MARGIN = 0.25  # margin used at prediction time, the middle of the training range
MARGIN_RANGE = (0.05, 0.45)


def face_square(box, margin: float = DEFAULT_MARGIN, shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Square (x0, y0, x1, y1) around a face box, ``margin`` of its side added on each side.

    ``shift`` moves the centre by fractions of the face side (used to vary framing).
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0)
    cx = (x0 + x1) / 2 + shift[0] * side
    cy = (y0 + y1) / 2 + shift[1] * side
    half = side * (0.5 + margin)
    return np.array([cx - half, cy - half, cx + half, cy + half])


def inside_frame(square, shape: tuple[int, ...]) -> np.ndarray:
    """``square`` moved (and if need be shrunk about its centre) to lie inside an image of ``shape``.

    Crops are never padded: padding (replicated or black edges) would be a cue no real photo has.
    """
    h, w = shape[:2]
    x0, y0, x1, y1 = (float(v) for v in square)
    side = min(x1 - x0, float(w), float(h))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    cx = min(max(cx, side / 2), w - side / 2)
    cy = min(max(cy, side / 2), h - side / 2)
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def crop_square(image: np.ndarray, square, size: int | None = None) -> np.ndarray:
    """Cut ``square`` (first moved inside the frame) out of ``image``, resized to ``size``."""
    x0, y0, x1, y1 = (float(v) for v in inside_frame(square, image.shape))
    side = max(1, int(round(x1 - x0)))
    out = size or side
    scale = out / side
    m = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], np.float64)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(image, m, (out, out), flags=interp, borderMode=cv2.BORDER_REPLICATE)


def sample_square(box, rng: np.random.Generator, margin_range=MARGIN_RANGE, max_shift: float = 0.08) -> np.ndarray:
    """A randomly framed square around a face box, as the dataset's crop mode uses."""
    margin = float(rng.uniform(*margin_range))
    shift = (float(rng.uniform(-max_shift, max_shift)), float(rng.uniform(-max_shift, max_shift)))
    return face_square(box, margin, shift)
