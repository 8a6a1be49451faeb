"""The augmentation pipeline: the only module that imports imgaug.

Parameters are drawn once (:func:`~maskgen.augment.parameters.sample_parameters`) from the caller's
``np.random.Generator`` and applied in three stages: a geometric stage (flip, affine, crop, face crop)
moves the image, the landmarks, the boxes and the mask alphas together; an occlusion stage draws a
hand or hair over a face (:mod:`~maskgen.augment.occluders`) and takes what they cover out of the
alphas; a photometric stage (black and white, beauty filter, brightness, contrast, hue, saturation, blur, colour cast,
low resolution, noise, JPEG; :mod:`~maskgen.augment.capture` for the new ones) changes the image only.
Plain numpy goes in and comes out.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

import maskgen.augment.capture as capture
import maskgen.augment.clothing as clothing
import maskgen.augment.occluders as occluders
import maskgen.augment.turn as turn
from maskgen.augment.labels import (box_from_points, check_inputs, keypoints, labels_from_keypoints, mask_share,
                                    visible_fraction)
from maskgen.augment.parameters import sample_parameters
from maskgen.augment.spec import PRESET_SPECS, resolve_spec
from maskgen.boxes import box_area
from maskgen.detect.landmarks import flip_landmarks
from maskgen.mask.colors import is_grey

if not hasattr(np, "sctypes"):  # removed in numpy 2; imgaug 0.4.0 reads it at import
    np.sctypes = {
        "int": [np.int8, np.int16, np.int32, np.int64],
        "uint": [np.uint8, np.uint16, np.uint32, np.uint64],
        "float": [np.float16, np.float32, np.float64, np.longdouble],
        "complex": [np.complex64, np.complex128, np.clongdouble],
        "others": [bool, object, bytes, str, np.void],
    }

import imgaug.augmenters as iaa  # noqa: E402
from imgaug.augmentables.batches import _BatchInAugmentation  # noqa: E402  (no copies)
from imgaug.augmentables.heatmaps import HeatmapsOnImage  # noqa: E402
from imgaug.augmentables.kps import KeypointsOnImage  # noqa: E402


@dataclass
class AugmentResult:
    """The augmented image and, per face, its moved labels."""

    image: np.ndarray  # RGB uint8, same size; the input array itself when nothing ran
    landmarks: list[np.ndarray]  # per face (68, 2) float, clipped to the image (None stays None)
    boxes: list[np.ndarray]  # per face (4,) float x0, y0, x1, y1, clipped to the image
    alphas: list[np.ndarray]  # per face HxW float32 0..1, geometry only ([] when alphas=None)
    visible: list[float]  # per face: share of the moved, unclipped box inside the frame
    applied: list[str]  # what ran, with the exact parameters used
    # per face: share of its mask still visible (not cropped away nor covered), None without an alpha
    mask_visible: list[float | None] = None


def augment(image: np.ndarray, landmarks, boxes, alphas=None, preset="light",
            rng: np.random.Generator | None = None) -> AugmentResult:
    """Augment one image with its faces' landmarks, boxes and mask alphas.

    ``preset`` is one of :data:`~maskgen.augment.spec.PRESETS` or a spec dict (format in
    :mod:`maskgen.augment.spec`); ``rng`` drives every random choice and is required unless the
    preset is ``"none"``. ``landmarks`` may be None, or hold None for a face without landmarks;
    ``alphas`` may be None; with them, ``mask_visible`` says how much of each mask is left in sight.
    """
    landmarks, boxes, alphas = check_inputs(image, landmarks, boxes, alphas)
    given_alphas, given_boxes = alphas, boxes
    spec = resolve_spec(preset)
    h, w = image.shape[:2]
    if spec is PRESET_SPECS["none"]:
        return _unchanged(image, landmarks, boxes, alphas)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"augment needs an np.random.Generator unless preset is 'none', got {type(rng).__name__}")
    s = sample_parameters(spec, rng)
    applied: list[str] = []
    img, landmarks, boxes, alphas = _flip(s, image, landmarks, boxes, alphas, applied)
    img, landmarks, boxes, alphas = _turn_stage(s, img, landmarks, boxes, alphas, applied)
    img, points, alphas = _geometric_stage(s, img, keypoints(landmarks, boxes), alphas, applied)
    img, points, alphas = _face_crop_stage(s, img, points, alphas, applied)
    out_landmarks, out_boxes, visible = labels_from_keypoints(landmarks, points, w, h)
    img, alphas = _occlusion_stage(s, img, out_landmarks, out_boxes, alphas, applied)
    alphas_out = [] if alphas is None else [
        None if a is None else np.ascontiguousarray(a, dtype=np.float32) for a in alphas]
    img = _photometric_stage(s, img, image, applied, capture.largest_box(out_boxes))
    shown = [] if alphas is None else [mask_share(a0, b0, a1, box_from_points(p[-3:]))
                                       for a0, b0, a1, p in zip(given_alphas, given_boxes, alphas, points)]
    return AugmentResult(img, out_landmarks, out_boxes, alphas_out, visible, applied, shown)


def _unchanged(image, landmarks, boxes, alphas) -> AugmentResult:
    """The result of preset 'none': the image itself, the labels copied and clipped."""
    h, w = image.shape[:2]
    alphas_out = [] if alphas is None else [None if a is None else np.asarray(a, np.float32) for a in alphas]
    return AugmentResult(image, [None if lm is None else lm.copy() for lm in landmarks],
                         [np.clip(b, 0, [w, h, w, h]) for b in boxes], alphas_out,
                         [visible_fraction(b, w, h) for b in boxes], [],
                         [None if a is None else mask_share(a, b, a, b) for a, b in zip(alphas_out, boxes)])


def _flip(s: dict, image, landmarks, boxes, alphas, applied: list):
    """The horizontal flip, done here so the landmark indices swap with it."""
    if not s["flip"]:
        return image, landmarks, boxes, alphas
    w = image.shape[1]
    img = cv2.flip(np.ascontiguousarray(image), 1)
    landmarks = [None if lm is None else flip_landmarks(lm, w) for lm in landmarks]
    boxes = [np.array([w - b[2], b[1], w - b[0], b[3]]) for b in boxes]
    if alphas is not None:
        alphas = [None if a is None else cv2.flip(np.asarray(a, np.float32), 1) for a in alphas]
    applied.append("fliplr")
    return img, landmarks, boxes, alphas


def _turn_stage(s: dict, img, landmarks, boxes, alphas, applied: list):
    """Turn and nod the largest face with landmarks in depth (:mod:`~maskgen.augment.turn`); every label
    moves with it."""
    yaw = s["yaw"][1] if s["yaw"][0] else 0.0
    pitch = s["pitch"][1] if s["pitch"][0] else 0.0
    if not yaw and not pitch:
        return img, landmarks, boxes, alphas
    with_landmarks = [i for i, lm in enumerate(landmarks) if lm is not None]
    if not with_landmarks:
        return img, landmarks, boxes, alphas
    i = max(with_landmarks, key=lambda j: box_area(boxes[j]))
    warp = turn.turn_face(img.shape, landmarks[i], yaw, pitch)
    if warp is None:
        return img, landmarks, boxes, alphas
    img = warp.apply(img)
    landmarks_before = landmarks[i]
    landmarks = [warp.landmarks if j == i else None if lm is None else warp.move_points(lm)
                 for j, lm in enumerate(landmarks)]
    # the turned face's box goes with its features, as a detector's box follows them (its outline barely moves)
    shift = (warp.landmarks[17:] - landmarks_before[17:]).mean(axis=0)
    boxes = [b + np.tile(shift, 2) if j == i else _moved_box(warp, b) for j, b in enumerate(boxes)]
    if alphas is not None:
        alphas = [None if a is None else warp.apply(np.asarray(a, np.float32)) for a in alphas]
    if yaw:
        applied.append(f"yaw({warp.degrees:g})")
    if pitch:
        applied.append(f"pitch({warp.pitch:g})")
    return img, landmarks, boxes, alphas


def _moved_box(warp, box: np.ndarray) -> np.ndarray:
    """A box through a non-affine warp: its sides go where the midpoints of its sides go."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    mids = np.array([[x0, cy], [x1, cy], [cx, y0], [cx, y1]])
    m = warp.move_points(mids - 0.5) + 0.5  # box sides are pixel edges, the warp's points pixel indices
    return np.array([m[0, 0], m[2, 1], m[1, 0], m[3, 1]])


def _geometric_stage(s: dict, img, points: list, alphas, applied: list):
    """Affine and crop through imgaug, moving the points and the alphas with the image."""
    h, w = img.shape[:2]
    geometric = _geometric_augmenter(s, s["seed"], h, w, applied)
    if geometric is None:
        return img, points, alphas
    alpha_idx = [i for i, a in enumerate(alphas or []) if a is not None]
    batch = _BatchInAugmentation(images=[img])
    if points:
        batch.keypoints = [KeypointsOnImage.from_xy_array(np.vstack(points), shape=img.shape)]
    if alpha_idx:
        stack = np.stack([alphas[i] for i in alpha_idx], axis=-1).astype(np.float32, copy=False)
        batch.heatmaps = [HeatmapsOnImage(np.clip(stack, 0, 1, out=stack), shape=img.shape)]
    batch = geometric.augment_batch_(batch)
    img = batch.images[0]
    if points:
        moved = batch.keypoints[0].to_xy_array().astype(np.float64)
        sizes = np.cumsum([len(p) for p in points])[:-1]
        points = np.split(moved, sizes)
    if alpha_idx:
        warped = batch.heatmaps[0].get_arr()
        alphas = list(alphas)
        for j, i in enumerate(alpha_idx):
            alphas[i] = warped[..., j]
    return img, points, alphas


def _face_crop_stage(s: dict, img, points: list, alphas, applied: list):
    """Zoom onto the largest face (its box from the moved points), labels and alphas along."""
    if not s["face_crop"][0] or not points:
        return img, points, alphas
    side, dx, dy = s["face_crop"][1]
    box = capture.largest_box([box_from_points(p[-3:]) for p in points])
    window = capture.face_crop_window(box, img.shape, side, (dx, dy))
    if window is None:
        return img, points, alphas
    img, edge = capture.face_crop(img, window)
    points = [p @ edge[:, :2].T + edge[:, 2] for p in points]
    if alphas is not None:
        alphas = [None if a is None else capture.warp_alpha(a, edge) for a in alphas]
    applied.append(f"face_crop(side={side:g},dx={dx:g},dy={dy:g})")
    return img, points, alphas


def _occlusion_stage(s: dict, img, landmarks: list, boxes: list, alphas, applied: list):
    """A beard and clothing at the neck on one face (behind its mask), a hand and strands of hair over it;
    what the hand and the hair cover leaves the mask alphas."""
    if not boxes or not (s["hand"][0] or s["hair"][0] or s["beard"][0] or s["collar"][0]):
        return img, alphas
    rng = np.random.default_rng(s["seed"] + 31)
    grey = is_grey(img)
    i = int(rng.integers(len(boxes)))
    frame = occluders.FaceFrame(landmarks[i], boxes[i])
    covers = []
    masks = None  # what a beard or a collar is drawn behind: the masks' alphas, summed
    if (s["beard"][0] or s["collar"][0]) and alphas and any(a is not None for a in alphas):
        masks = sum(a for a in alphas if a is not None)
    if s["beard"][0]:  # its own stream: the hand and hair draws stay as they were
        img = occluders.draw_beard(img, landmarks[i], frame, np.random.default_rng(s["seed"] + 37), s["beard"][1],
                                   under=masks)
        applied.append(f"beard(density={s['beard'][1]:g})")
    if s["collar"][0]:  # behind any mask too, and its own stream
        img = clothing.draw_collar(img, landmarks[i], frame, np.random.default_rng(s["seed"] + 41), s["collar"][1],
                                   under=masks)
        applied.append(f"collar(height={s['collar'][1]:g})")
    if s["hand"][0]:
        img, cover = occluders.draw_hand(img, frame, rng, s["hand"][1])
        covers.append(cover)
        applied.append(f"hand(size={s['hand'][1]:g})")
    if s["hair"][0]:
        img, cover = occluders.draw_hair(img, frame, rng, s["hair"][1])
        covers.append(cover)
        applied.append(f"hair(strands={s['hair'][1]})")
    if grey:  # a hand on a black-and-white photo is black and white too
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    if alphas is not None and covers:
        kept = np.prod([1 - c for c in covers], axis=0).astype(np.float32)
        alphas = [None if a is None else a * kept for a in alphas]
    return img, alphas


def _photometric_stage(s: dict, img: np.ndarray, original: np.ndarray, applied: list, face_box) -> np.ndarray:
    """The image-only ops; never writes into ``original`` (the caller's image)."""
    if s["mono"][0]:
        img = capture.monochrome(img, s["mono"][1])
        applied.append(f"mono(tone={s['mono'][1]:g})")
    grey = is_grey(img)
    face_width = float(face_box[2] - face_box[0]) if face_box is not None else img.shape[1] / 4
    if s["beauty"][0]:
        img = capture.beauty(img, s["beauty"][1], face_width)
        applied.append(f"beauty({s['beauty'][1]:g})")
    photometric = _photometric_augmenter(s, s["seed"] + 16, grey, applied)
    if photometric is not None:
        if np.may_share_memory(img, original):
            img = img.copy()  # imgaug works in place below; never touch the caller's image
        img = photometric.augment_batch_(_BatchInAugmentation(images=[img])).images[0]
    if s["cast"][0] and not grey:
        img = capture.colour_cast(img, s["cast"][1][0], np.deg2rad(s["cast"][1][1]))
        applied.append(f"cast({s['cast'][1][0]:g},angle={s['cast'][1][1]})")
    if s["lowres"][0]:
        target, cubic = s["lowres"][1]
        if target < face_width:
            img = capture.low_resolution(img, face_width, target, cubic)
            applied.append(f"lowres(face={target}px)")
    # noise and JPEG run after imgaug, here: imgaug's AdditiveGaussianNoise is about twice as slow,
    # its JpegCompression goes through deprecated imageio calls
    if s["noise"][0]:
        img = _noise(img, s["noise"][1], s["seed"] + 22)
        applied.append(f"noise(sigma={s['noise'][1]:g})")
    if s["jpeg"][0]:
        img = _jpeg(img, s["jpeg"][1], grey)
        applied.append(f"jpeg(q={s['jpeg'][1]})")
    return img


def _geometric_augmenter(s: dict, seed: int, h: int, w: int, applied: list):
    children, parts = [], []
    rotate, scale, shear = (s[k][1] if s[k][0] else None for k in ("rotate", "scale", "shear"))
    tx, ty = s["translate"][1]
    if rotate is not None:
        parts.append(f"rotate={rotate:g}")
    if scale is not None:
        parts.append(f"scale={scale:g}")
    if s["translate"][0]:
        parts.append(f"tx={tx:g},ty={ty:g}")
    if shear is not None:
        parts.append(f"shear={shear:g}")
    if parts:
        affine = iaa.Affine(
            scale=1.0 if scale is None else scale, rotate=rotate or 0.0, shear=shear or 0.0,
            translate_percent={"x": tx, "y": ty} if s["translate"][0] else None,
            order=1, cval=0, mode="constant", backend="cv2", seed=seed)
        affine._order_heatmaps = 1  # alphas: bilinear like the image (imgaug 0.4.0 default: cubic)
        children.append(affine)
        applied.append(f"affine({','.join(parts)})")
    if s["crop"][0]:
        t, r, b, l = s["crop"][1]
        # crop, then resize back bilinearly (Crop(keep_size=True) would upscale with INTER_AREA)
        children.append(iaa.Crop(percent=(t, r, b, l), keep_size=False, seed=seed + 1))
        children.append(iaa.Resize({"height": h, "width": w}, interpolation="linear", seed=seed + 3))
        applied.append(f"crop(t={t:g},r={r:g},b={b:g},l={l:g})")
    return iaa.Sequential(children, seed=seed + 2) if children else None


def _photometric_augmenter(s: dict, seed: int, grey: bool, applied: list):
    children = []

    def add(op, augmenter, record):
        if s[op][0]:
            children.append(augmenter())
            applied.append(record)

    add("brightness", lambda: iaa.Multiply(s["brightness"][1], seed=seed), f"brightness({s['brightness'][1]:g})")
    add("contrast", lambda: iaa.LinearContrast(s["contrast"][1], seed=seed + 1), f"contrast({s['contrast'][1]:g})")
    if not grey:  # a hue or saturation change would put colour into a grey image
        add("hue", lambda: iaa.AddToHue(int(round(s["hue"][1] * 255 / 360)), seed=seed + 2),
            f"hue({s['hue'][1]:g})")
        add("saturation", lambda: iaa.pillike.EnhanceColor(s["saturation"][1], seed=seed + 3),
            f"saturation({s['saturation'][1]:g})")
    add("blur", lambda: iaa.GaussianBlur(s["blur"][1], seed=seed + 4), f"blur(sigma={s['blur'][1]:g})")
    k, angle = s["motion_blur"][1]
    add("motion_blur", lambda: iaa.MotionBlur(k=k, angle=angle, direction=0.0, seed=seed + 5),
        f"motion_blur(k={k},angle={angle})")
    return iaa.Sequential(children, seed=seed + 8) if children else None


def _noise(image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Gaussian noise, the same on every channel (grey stays grey), rounded and saturated."""
    noise = np.random.default_rng(seed).standard_normal(image.shape[:2], dtype=np.float32)
    noise *= sigma
    return cv2.add(image, cv2.merge([noise] * image.shape[2]), dtype=cv2.CV_8U)


def _jpeg(image: np.ndarray, quality: int, grey: bool) -> np.ndarray:
    """JPEG round trip at ``quality``; a grey image is coded as one channel so it stays grey."""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    if grey:
        _, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., 0]), params)
        return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE), cv2.COLOR_GRAY2RGB)
    _, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
