"""Where the detectors look: small photos enlarged, rescue copies (mirrored, contrast, rotated), and
MTCNN boxes turned into the boxes dlib's 68-point predictor expects. Plain numpy and OpenCV.

Every copy comes with the 2x3 affine map from the original photo to the copy (in pixel-centre
coordinates, those of landmarks: pixel (i, j) is the point (i, j)), so that boxes and
landmarks found on it are mapped back exactly (they may then reach outside the photo: a face cut by
the border keeps its honest landmarks; crop code clips where it must).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from maskgen.detect.rotation import rotate_image

SMALL_SIDE = 128  # px: a photo whose shorter side is under this is enlarged before detection
PAD = 0.25  # border added on each side of a small photo, as a share of its longer side (cut-off faces)

# MTCNN box -> the box dlib's HOG detector draws on the same face (its 68-point predictor was trained
# on such boxes). With c = MTCNN box centre, w, h = its width and height:
#   HOG centre x = cx + HOG_DX * w,  HOG centre y = cy + HOG_DY * h,  HOG side = HOG_SW * w + HOG_SH * h
# Fitted by least squares with benchmarks/fit_mtcnn_boxes.py on the 143 faces that both detectors find
# (one HOG box and the MTCNN box overlapping it most, IoU >= 0.4) in the 159 photos of
# ../shared/data/unmasked_faces and no_mask. Landmarks from the mapped MTCNN boxes differ from those
# from the HOG boxes by 2.7% of the interocular distance on average (median 1.3%, 95th percentile 5.9%,
# 5-fold cross-validated); from raw MTCNN boxes by 4.6% (95th percentile 10.2%).
HOG_DX = 0.0031
HOG_DY = 0.0642
HOG_SW = 0.5424
HOG_SH = 0.3877


@dataclass
class View:
    """An image the detector runs on, and the map from the original photo to it."""

    image: np.ndarray
    forward: np.ndarray  # 2x3: original photo coordinates -> this image's
    kind: str = "plain"  # plain, enlarged, mirrored, contrast, rotated
    base: "View | None" = None  # for a mirrored or contrast copy: the view whose pixels landmarks are read on

    @property
    def back(self) -> np.ndarray:
        return cv2.invertAffineTransform(self.forward)

    @property
    def upright_in_view(self) -> bool:
        """Landmarks are best predicted on this view (its face is turned upright), not on the original."""
        return self.kind == "rotated"


def apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 2) through a 2x3 affine map."""
    return np.asarray(points, np.float64) @ m[:, :2].T + m[:, 2]


def box_through(m: np.ndarray, box: np.ndarray, edges: bool = True) -> np.ndarray:
    """The axis-aligned box around ``box``'s corners after the map ``m``.

    Boxes are (x0, y0, x1, y1) with exclusive ends, as dlib's detectors give them: they cover pixels
    x0 .. x1 - 1, whose outer edges lie half a pixel further out (``edges``; without it the corners
    themselves are mapped, as the rotated search always did: the hull of a turned box is no tighter)."""
    shift = 0.5 if edges else 0.0
    x0, y0, x1, y1 = np.asarray(box, np.float64) - shift
    p = apply(m, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
    return np.array([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()]) + shift


def is_small(shape: tuple[int, ...]) -> bool:
    return min(shape[:2]) < SMALL_SIDE


def enlarge(image: np.ndarray) -> View:
    """``image`` itself, or for a small photo a copy padded by ``PAD`` of its longer side on every side
    (its mean colour: a face cut by the border is whole again to the detector) and scaled up so that
    its shorter side becomes ``SMALL_SIDE``."""
    h, w = image.shape[:2]
    if not is_small(image.shape):
        return View(image, np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    pad = int(round(PAD * max(h, w)))
    colour = [float(v) for v in image.reshape(-1, image.shape[2]).mean(0)]
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=colour)
    scale = SMALL_SIDE / min(h, w)
    size = (int(round(padded.shape[1] * scale)), int(round(padded.shape[0] * scale)))
    big = cv2.resize(padded, size, interpolation=cv2.INTER_CUBIC)
    sx, sy = size[0] / padded.shape[1], size[1] / padded.shape[0]
    forward = np.array([[sx, 0, sx * (pad + 0.5) - 0.5], [0, sy, sy * (pad + 0.5) - 0.5]])
    return View(np.ascontiguousarray(big), forward, "enlarged")


def rescue_views(view: View, angles: tuple[float, ...]) -> list[View]:
    """Copies of ``view`` to search when nothing was found on it: mirrored, contrast-equalised, rotated."""
    image = view.image
    h, w = image.shape[:2]
    mirror = np.array([[-1.0, 0, w - 1], [0, 1.0, 0]])
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(lab[..., 0])
    views = [View(np.ascontiguousarray(image[:, ::-1]), compose(mirror, view.forward), "mirrored", view),
             View(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB), view.forward, "contrast", view)]
    return views + rotated_views(view, angles)


def rotated_views(view: View, angles: tuple[float, ...]) -> list[View]:
    """``view`` rotated by each angle (degrees, counter-clockwise) on a canvas that holds all of it."""
    out = []
    for angle in angles:
        rotated, m = rotate_image(view.image, angle, border=cv2.BORDER_REPLICATE)
        out.append(View(rotated, compose(m, view.forward), "rotated"))
    return out


def to_base(view: View, box: np.ndarray) -> tuple[View, np.ndarray]:
    """A box found on a mirrored or contrast copy, moved onto the view it was copied from."""
    if view.base is None:
        return view, box
    return view.base, box_through(compose(view.base.forward, view.back), box)


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 map ``outer(inner(p))``."""
    a = np.vstack([outer, [0, 0, 1]]) @ np.vstack([inner, [0, 0, 1]])
    return a[:2]


def hog_like_box(box: np.ndarray, constants: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """The square box dlib's HOG detector would draw around the face that MTCNN boxed as ``box``."""
    dx, dy, sw, sh = constants or (HOG_DX, HOG_DY, HOG_SW, HOG_SH)
    x0, y0, x1, y1 = np.asarray(box, np.float64)
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2 + dx * w, (y0 + y1) / 2 + dy * h
    half = (sw * w + sh * h) / 2
    return np.array([cx - half, cy - half, cx + half, cy + half])
