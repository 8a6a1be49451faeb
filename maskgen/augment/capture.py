"""How photos are taken: tight face crops, low resolution, beauty smoothing and colour casts.

Plain numpy and OpenCV. :func:`face_crop` is geometric (it returns the affine map it applied, so the
pipeline moves labels and alphas with it); the others change pixels only. Every function takes the
values drawn for it in :func:`maskgen.augment.parameters.sample_parameters`.
"""
from __future__ import annotations

import cv2
import numpy as np

from maskgen.boxes import box_area


def largest_box(boxes: list) -> np.ndarray | None:
    """The box of the largest face (edge coordinates), or None without faces."""
    if not boxes:
        return None
    return max(boxes, key=box_area)


def face_crop_window(box: np.ndarray, shape, side: float, shift: tuple[float, float]):
    """Window (x0, y0, zoom) of the image's aspect, ``side`` times the face box's larger side tall, centred
    on the box moved by ``shift`` (fractions of the window), kept inside the frame; None when it would
    not zoom in."""
    h, w = shape[:2]
    face = max(box[2] - box[0], box[3] - box[1])
    win_h = side * face
    if win_h >= h * 0.98 or face <= 1:
        return None
    win_w = win_h * w / h
    cx = (box[0] + box[2]) / 2 + shift[0] * win_w
    cy = (box[1] + box[3]) / 2 + shift[1] * win_h
    x0 = float(np.clip(cx - win_w / 2, 0, w - win_w))
    y0 = float(np.clip(cy - win_h / 2, 0, h - win_h))
    return x0, y0, h / win_h


def face_crop(image: np.ndarray, window) -> tuple[np.ndarray, np.ndarray]:
    """The window cut out and scaled back to the image size; returns the image and the 2x3 map taking
    pixel-edge coordinates of the input to those of the output."""
    x0, y0, zoom = window
    h, w = image.shape[:2]
    edge = np.array([[zoom, 0, -zoom * x0], [0, zoom, -zoom * y0]])
    centre = edge.copy()  # warpAffine works on pixel centres: shift in by half a pixel and back out
    centre[:, 2] += edge[:, :2] @ [0.5, 0.5] - 0.5
    out = cv2.warpAffine(image, centre, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out, edge


def warp_alpha(alpha: np.ndarray, edge_map: np.ndarray) -> np.ndarray:
    """An alpha through the map :func:`face_crop` returned."""
    h, w = alpha.shape
    centre = edge_map.copy()
    centre[:, 2] += edge_map[:, :2] @ [0.5, 0.5] - 0.5
    return cv2.warpAffine(np.asarray(alpha, np.float32), centre, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def low_resolution(image: np.ndarray, face_width: float, target: float, upscale_cubic: bool) -> np.ndarray:
    """The photo as a camera that saw the face ``target`` pixels wide would give it, scaled back up."""
    factor = target / max(face_width, 1.0)
    if factor >= 1.0:
        return image
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC if upscale_cubic else cv2.INTER_LINEAR)


BEAUTY_MAX_DIAMETER = 7  # pixels; wider filters (faces over 100 px) run on a scaled-down copy


def beauty(image: np.ndarray, strength: float, face_width: float) -> np.ndarray:
    """A phone's beauty filter: edge-preserving smoothing of skin, slightly brightened."""
    d = int(np.clip(face_width * 0.08, 3, 19)) | 1
    if d <= BEAUTY_MAX_DIAMETER:
        smooth = cv2.bilateralFilter(image, d, 30 + 50 * strength, d * 1.5)
    else:  # a wide filter costs d^2 a pixel: the same smoothing on a copy scaled down to a 7-pixel filter
        h, w = image.shape[:2]
        f = BEAUTY_MAX_DIAMETER / d
        small = cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
        small = cv2.bilateralFilter(small, BEAUTY_MAX_DIAMETER, 30 + 50 * strength, BEAUTY_MAX_DIAMETER * 1.5)
        smooth = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    out = image.astype(np.float32) * (1 - strength) + smooth.astype(np.float32) * strength
    lift = 1 + 0.08 * strength
    out = 255.0 * (out / 255.0) ** (1 / lift)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def monochrome(image: np.ndarray, tone: float) -> np.ndarray:
    """A black-and-white photo: the grey levels, toned warm (sepia-like) by ``tone`` (0: neutral grey)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    if tone <= 0:
        return cv2.cvtColor(grey.astype(np.uint8), cv2.COLOR_GRAY2RGB)
    tint = 1 + tone * np.array([0.12, 0.0, -0.16], np.float32)  # warm highlights, mid-tones kept
    out = grey[..., None] * tint
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def colour_cast(image: np.ndarray, amount: float, angle: float) -> np.ndarray:
    """White balance off by ``amount`` along ``angle``: 0 warm, pi cool, pi/2 green, -pi/2 magenta."""
    warm = np.array([1.0, 0.0, -1.0])
    green = np.array([-0.5, 1.0, -0.5])
    gains = np.exp(amount * (np.cos(angle) * warm * 0.5 + np.sin(angle) * green * 0.5))
    gains /= np.dot(gains, [0.2126, 0.7152, 0.0722])  # keep the brightness
    lut = np.clip(np.round(np.arange(256)[:, None] * gains[None, :]), 0, 255).astype(np.uint8)
    out = np.empty_like(image)
    for k in range(3):
        out[..., k] = lut[image[..., k], k]
    return out
