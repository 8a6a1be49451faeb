"""Square face crops, shared by the dataset's ``--crop face`` mode and the trainer's prediction.

Training and prediction must cut faces the same way, so both call :func:`face_square`; every crop
is cut by :func:`cut_square`, which returns the square it actually used (moved inside the frame),
and annotations follow the crop through that square (:func:`points_in_crop`, :func:`box_in_crop`).
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


def _scale(square, size: int | None) -> tuple[float, float, float, int]:
    """``(x0, y0, scale, side out)`` of the crop of ``square``: its side is rounded to whole pixels."""
    x0, y0, x1, y1 = (float(v) for v in square)
    side = max(1, int(round(x1 - x0)))
    out = size or side
    return x0, y0, out / side, out


def cut_square(image: np.ndarray, square, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``square`` out of ``image``, resized to ``size``; returns the crop and the square it used.

    The square used is ``square`` moved (if need be shrunk) inside the frame (:func:`inside_frame`):
    annotations go into the crop's pixels through it, with :func:`points_in_crop` and
    :func:`box_in_crop`, never through the square asked for.
    """
    used = inside_frame(square, image.shape)
    x0, y0, scale, out = _scale(used, size)
    m = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], np.float64)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(image, m, (out, out), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    return crop, used


def crop_square(image: np.ndarray, square, size: int | None = None) -> np.ndarray:
    """The pixels of :func:`cut_square` alone (when no annotation has to follow them)."""
    return cut_square(image, square, size)[0]


def points_in_crop(points, used, size: int | None = None) -> np.ndarray:
    """(x, y) points of the photo in the pixels of the crop :func:`cut_square` cut with ``used``."""
    x0, y0, scale, _ = _scale(used, size)
    return (np.asarray(points, np.float64).reshape(-1, 2) - [x0, y0]) * scale


def box_in_crop(box, used, size: int | None = None) -> np.ndarray:
    """A box (x0, y0, x1, y1) of the photo in the pixels of the crop :func:`cut_square` cut with ``used``."""
    x0, y0, scale, _ = _scale(used, size)
    return (np.asarray(box, np.float64) - [x0, y0, x0, y0]) * scale


def sample_square(box, rng: np.random.Generator, margin_range=MARGIN_RANGE, max_shift: float = 0.08,
                  drop: float = 0.0) -> np.ndarray:
    """A randomly framed square around a face box, as the dataset's crop mode uses; ``drop`` moves its
    centre down by that share of the face side on average (prediction cuts with the same ``drop``)."""
    margin = float(rng.uniform(*margin_range))
    shift = (float(rng.uniform(-max_shift, max_shift)), drop + float(rng.uniform(-max_shift, max_shift)))
    return face_square(box, margin, shift)
