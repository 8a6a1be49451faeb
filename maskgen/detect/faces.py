"""Face detection and 68-point landmarks: the only module that imports dlib.

Everything returned is plain numpy data in :class:`~maskgen.mask.results.Face`; dlib types never
leave this module. Models are loaded lazily, once per process.
"""
from __future__ import annotations

import threading

import cv2
import dlib
import numpy as np

from maskgen.detect import model_files as models
from maskgen.detect.landmarks import implausibility
from maskgen.detect.face import Face
from maskgen.detect.rotation import rotate_image

DETECTORS = ("hog", "cnn", "none")
DEFAULT_MIN_SCORE = 0.0  # dlib's own threshold
ROLL_REFINE_DEGREES = 12.0  # faces tilted more than this get a second, upright landmark pass
RELATIVE_MIN_SCORE = 0.15  # a detection this much weaker than the photo's best is taken as a false alarm

_lock = threading.Lock()
_cache: dict[str, object] = {}


def _load(name: str):
    with _lock:
        if name not in _cache:
            if name == "hog":
                _cache[name] = dlib.get_frontal_face_detector()
            elif name == "cnn":
                _cache[name] = dlib.cnn_face_detection_model_v1(str(models.model_path(models.CNN_DETECTOR)))
            elif name == "landmarks":
                _cache[name] = dlib.shape_predictor(str(models.model_path(models.LANDMARKS_68)))
            else:
                raise ValueError(f"unknown model {name!r}")
        return _cache[name]


def _detect_boxes(image: np.ndarray, detector: str, upsample: int) -> list[tuple[np.ndarray, float]]:
    if detector == "hog":
        rects, scores, _ = _load("hog").run(image, upsample, 0.0)
        return [(np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1], float), float(s))
                for r, s in zip(rects, scores)]
    if detector == "cnn":
        found = _load("cnn")(image, upsample)
        out = []
        for d in found:
            r = d.rect
            out.append((np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1], float), float(d.confidence)))
        return out
    if detector == "none":
        h, w = image.shape[:2]
        return [(np.array([0.0, 0.0, float(w), float(h)]), 1.0)]
    raise ValueError(f"unknown detector {detector!r}; choose from {', '.join(DETECTORS)}")


def predict_landmarks(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """68 (x, y) landmarks of the face inside ``box`` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    shape = _load("landmarks")(np.ascontiguousarray(image), dlib.rectangle(x0, y0, x1 - 1, y1 - 1))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def _box_of(points: np.ndarray) -> np.ndarray:
    return np.array([points[:, 0].min(), points[:, 1].min(), points[:, 0].max(), points[:, 1].max()])


def find_faces(image: np.ndarray, detector: str = "hog", upsample: int = 1, min_score: float | None = None,
               rotations: tuple[float, ...] = (-30.0, 30.0)) -> list[Face]:
    """Every face in an RGB uint8 image, with its box, score and 68 landmarks.

    ``detector`` is ``hog`` (fast), ``cnn`` (more robust, slower) or ``none`` (the image is
    already a face crop). ``upsample`` enlarges the image that many times for small faces.
    When nothing is found upright, the image is searched again rotated by each of
    ``rotations`` degrees, and boxes and landmarks are mapped back. Detections scoring
    under ``min_score`` (default 0, dlib's own threshold) are dropped, and so are those scoring under
    0.15 of the photo's best detection (patches and prints that look faintly like a face beside
    a real one). Faces whose landmarks
    are implausible carry a ``rejected`` reason instead of being dropped silently.
    """
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; choose from {', '.join(DETECTORS)}")
    image = np.ascontiguousarray(image)
    if min_score is None:
        min_score = DEFAULT_MIN_SCORE

    def detect(img):
        found = [(b, s) for b, s in _detect_boxes(img, detector, upsample) if s >= min_score]
        if len(found) > 1:
            best = max(s for _, s in found)
            found = [(b, s) for b, s in found if s >= RELATIVE_MIN_SCORE * best]
        return found

    faces = [_face(image, box, score, None) for box, score in detect(image)]
    if not faces and detector != "none":
        for angle in rotations:
            rotated, forward = rotate_image(image, angle, border=cv2.BORDER_REPLICATE)
            back = cv2.invertAffineTransform(forward)
            found = detect(rotated)
            if found:
                faces = [_face(rotated, box, score, back) for box, score in found]
                break
    for face in faces:
        face.rejected = implausibility(face.landmarks, image.shape)
    faces.sort(key=lambda f: (f.box[0], f.box[1]))
    return faces


def _roll(landmarks: np.ndarray) -> float:
    """In-plane rotation of a face in degrees, from its eye centres."""
    d = landmarks[42:48].mean(0) - landmarks[36:42].mean(0)
    return float(np.degrees(np.arctan2(d[1], d[0])))


def refine_landmarks(image: np.ndarray, box: np.ndarray, landmarks: np.ndarray,
                     min_roll: float = ROLL_REFINE_DEGREES) -> np.ndarray:
    """Landmarks predicted again on the face turned upright, when it is tilted by ``min_roll`` or more.

    dlib's predictor is trained on upright faces; on tilted ones a second pass on a de-rotated copy of
    the face's neighbourhood is markedly more accurate (mapped back to the original image).
    """
    roll = _roll(landmarks)
    if abs(roll) < min_roll:
        return landmarks
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0)
    centre = landmarks.mean(axis=0)
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), roll, 1.0)
    # a window of twice the face around its centre, rotated upright
    half = side
    m[:, 2] += [half - centre[0], half - centre[1]]
    size = int(round(2 * half))
    upright = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    c = half
    upright_box = np.array([c - (x1 - x0) / 2, c - (y1 - y0) / 2, c + (x1 - x0) / 2, c + (y1 - y0) / 2])
    # keep the box's offset from the landmark centre (the box sits a little above the landmarks' mean)
    offset = np.array([(x0 + x1) / 2, (y0 + y1) / 2]) - centre
    rotated_offset = m[:, :2] @ offset
    upright_box += np.r_[rotated_offset, rotated_offset]
    refined = predict_landmarks(upright, upright_box)
    return _apply(cv2.invertAffineTransform(m), refined)


def _face(image: np.ndarray, box: np.ndarray, score: float, back: np.ndarray | None) -> Face:
    landmarks = predict_landmarks(image, box)
    if back is None:
        landmarks = refine_landmarks(image, box, landmarks)
    if back is not None:
        corners = np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]])
        box = _box_of(_apply(back, corners))
        landmarks = _apply(back, landmarks)
    return Face(box=box.astype(np.float64), landmarks=landmarks, score=score)
