"""Face detection and 68-point landmarks: the only module that imports dlib.

Everything returned is plain numpy data in :class:`~maskgen.detect.face.Face`; dlib types never
leave this module (and torch never enters it: MTCNN lives in :mod:`maskgen.detect.mtcnn`, imported on
first use). Models are loaded lazily, once per process.

Detectors: ``hog`` and ``cnn`` (dlib's), ``mtcnn`` (finds masked faces: the optional extra
``maskgen[mtcnn]``), ``auto`` (HOG, and MTCNN for the photos where HOG finds nothing), ``none`` (the
photo is a face crop). Small photos are searched on an enlarged, padded copy (:mod:`.framing`).
"""
from __future__ import annotations

import threading
import warnings

import cv2
import dlib
import numpy as np

from maskgen.boxes import box_area, overlap_of_smaller
from maskgen.detect import framing, mtcnn
from maskgen.detect import model_files as models
from maskgen.detect.landmarks import implausibility, landmark_roll
from maskgen.detect.face import DETECTORS, Face
from maskgen.detect.framing import View

DEFAULT_MIN_SCORE = 0.0  # dlib's own threshold
ROLL_REFINE_DEGREES = 12.0  # faces tilted more than this get a second, upright landmark pass
RELATIVE_MIN_SCORE = 0.15  # a detection this much weaker than the photo's best is taken as a false alarm
DLIB_ROTATIONS = (-30.0, 30.0)  # hog and cnn: searched again this much rotated when nothing is found
# coarse-to-fine search (min_face): dlib's detectors box faces well from their 80 px window up at upsample 0
# (they find some down to ~55 px, boxed as 73 px); each upsampling halves that
SMALLEST_FACE = 80
DEFAULT_MIN_FACE = 80  # px: the default smallest face (box side) to find
FINEST_FACE = 40  # px: where nothing is found, the search goes on down to faces of this size (upsample 1)
# a find of the coarse-to-fine search all scoring under this (7% of the photos of unmasked_faces and their
# rotated copies) gets a second look (_second_look): weak coarse boxes of tilted faces mislead the landmarks
SURE_DLIB_SCORE = 0.3
MTCNN_ROTATIONS = (-25.0, -15.0, 15.0, 25.0)  # mtcnn's rescue search: also mirrored and contrast-equalised
# MTCNN's stage thresholds for the rescue search, run only where the first search found nothing: looser
# than facenet-pytorch's (0.6, 0.7, 0.7). Chosen on the 46 photos of real_mask, no_mask, incorrect_mask
# and 450 of real_dev where the first search finds nothing: the rescue finds a face in 39 of them (29
# with the first search's thresholds), and a false one in 12 of 99 photos without a face (4 with them).
RESCUE_THRESHOLDS = (0.4, 0.5, 0.5)
MAX_OVERLAP = 0.5  # an MTCNN box lying more than this much inside a better one is the same face
# a weak MTCNN detection (under SURE_SCORE) much smaller than the photo's best one is a false alarm (a hand,
# a pattern at the border): 6 of the 10 extra detections in the 120 one-person portraits of unmasked_faces
SURE_SCORE = 0.95
SECONDARY_MIN_SIDE = 0.3
# and a second face needs at least this score unless it is sure: 59 of the 61 faces MTCNN finds in the first 60
# photos of real_mask score 0.75 or more, the false face on a spacesuit's collar in a group photo 0.73
SECONDARY_MIN_SCORE = 0.75

_lock = threading.Lock()
_cache: dict[str, object] = {}


def _load(name: str):
    if name == "mtcnn":
        return mtcnn.load()
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


def load_models(detector: str, with_torch: bool = True) -> None:
    """Load what ``detector`` needs now (the landmark model too), not on the first photo; ``with_torch=False``:
    dlib's models only (a fork server must not start torch; MTCNN then loads in each worker)."""
    _load("landmarks")
    if with_torch:
        note = check_detector(detector)
        names = {"auto": ("hog",) if note else ("hog", "mtcnn")}.get(detector, (detector,))
    else:
        names = {"auto": ("hog",), "mtcnn": ()}.get(detector, (detector,))
    for name in names:
        if name != "none":
            _load(name)


def check_detector(detector: str) -> str | None:
    """Check that ``detector`` can run here, without loading anything.

    Raises ``ValueError`` for an unknown name and :class:`~maskgen.detect.mtcnn.MissingExtraError` for
    ``mtcnn`` without its packages. For ``auto`` without them, returns the one-line note that HOG
    alone looks for faces (``auto`` then works as ``hog``); otherwise None.
    """
    _check(detector)
    if detector in ("mtcnn", "auto") and not mtcnn.available():
        if detector == "mtcnn":
            raise mtcnn.MissingExtraError(f"the mtcnn detector needs facenet-pytorch==2.5.3: {mtcnn.EXTRA}")
        return f"detector auto: MTCNN is not installed, so HOG alone looks for faces ({mtcnn.EXTRA})"
    return None


def _check(detector: str) -> None:
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; choose from {', '.join(DETECTORS)}")


_noted: set[str] = set()


def _auto_note() -> str | None:
    """``check_detector('auto')``, warned about once per process."""
    note = check_detector("auto")
    if note and note not in _noted:
        _noted.add(note)
        warnings.warn(note, RuntimeWarning, stacklevel=4)
    return note


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


def _keep(found: list, min_score: float | None) -> list:
    """Detections (box, score, ...) scoring at least ``min_score`` and ``RELATIVE_MIN_SCORE`` of the best."""
    found = [f for f in found if min_score is None or f[1] >= min_score]
    if len(found) > 1:
        best = max(f[1] for f in found)
        found = [f for f in found if f[1] >= RELATIVE_MIN_SCORE * best]
    return found


def _distinct(found: list) -> list:
    """MTCNN detections (box, score, ...) best first, without those lying mostly inside a better one
    (``MAX_OVERLAP``) and the weak ones far smaller than the best or barely over the threshold
    (``SURE_SCORE``, ``SECONDARY_MIN_SIDE``, ``SECONDARY_MIN_SCORE``)."""
    kept: list = []
    for f in sorted(found, key=lambda f: -f[1]):
        if all(overlap_of_smaller(f[0], k[0]) <= MAX_OVERLAP for k in kept):
            kept.append(f)
    if kept:
        side = lambda b: np.sqrt(box_area(b))  # noqa: E731
        best = side(kept[0][0])
        kept = kept[:1] + [f for f in kept[1:] if f[1] >= SURE_SCORE
                           or (side(f[0]) >= SECONDARY_MIN_SIDE * best and f[1] >= SECONDARY_MIN_SCORE)]
    return kept


def find_faces(image: np.ndarray, detector: str = "hog", upsample: int | None = None,
               min_score: float | None = None, rotations: tuple[float, ...] | None = None,
               device: str | None = None, min_face: int | None = None) -> list[Face]:
    """Every face in an RGB uint8 image, with its box, score, 68 landmarks and the detector that found it.

    ``detector`` is ``hog`` (fast), ``cnn`` (more robust, slower), ``mtcnn`` (finds masked faces; needs
    ``maskgen[mtcnn]``; ``device`` picks its torch device), ``auto`` (``hog``, then ``mtcnn`` without
    its rescue search where ``hog`` finds nothing: what datasets are built with) or ``none`` (the image is already a face crop).

    dlib's detectors search coarse to fine (:func:`scan_plan`): first the coarsest copy of the photo on
    which a face of ``min_face`` pixels (box side, default ``DEFAULT_MIN_FACE``) is still found (a
    downscaled copy when ``min_face`` is large, the photo itself at upsample 0 for 80 px, upsampled for
    smaller), then, only when nothing was found, finer scans down to ``FINEST_FACE``; hog scans the
    photo's grey levels there. A photo with a face of ``min_face`` or more gets only its faces from the
    scan that found the first ones: a smaller face beside them is found only with a smaller ``min_face``.
    ``upsample`` (0, 1, 2...) instead runs one scan of the colour photo enlarged that many times (the
    search of earlier versions; 1 was their default). A photo whose shorter side is under
    ``framing.SMALL_SIDE`` is searched on a padded, enlarged copy, so that small faces and faces cut by
    the border are found; boxes and landmarks are mapped back to the photo, and may reach outside it.

    When nothing is found upright, the image is searched again rotated by each of ``rotations``
    degrees (default: ``DLIB_ROTATIONS``, coarse to fine as above; for mtcnn ``MTCNN_ROTATIONS``, and
    mirrored and contrast-equalised, with ``RESCUE_THRESHOLDS``), and boxes and landmarks are mapped
    back. Detections scoring under ``min_score`` (default: dlib's own threshold 0 for hog and cnn;
    mtcnn's stage thresholds) are dropped, and so are those scoring under 0.15 of the best detection of
    their scan (patches and prints that look faintly like a face beside a real one). Faces whose
    landmarks are implausible carry a ``rejected`` reason instead of being dropped silently.
    """
    return find_faces_batch([image], detector, upsample, min_score, rotations, device, min_face)[0]


def find_faces_batch(images: list[np.ndarray], detector: str = "hog", upsample: int | None = None,
                     min_score: float | None = None, rotations: tuple[float, ...] | None = None,
                     device: str | None = None, min_face: int | None = None) -> list[list[Face]]:
    """:func:`find_faces` for several photos: MTCNN runs on photos of one size together."""
    _check(detector)
    images = [np.ascontiguousarray(image) for image in images]
    if detector in ("hog", "cnn", "none", "auto"):
        dlib_name = "hog" if detector == "auto" else detector
        out = [_find_dlib(image, dlib_name, upsample, min_score, rotations, min_face) for image in images]
    else:
        out = [[] for _ in images]
    if detector == "mtcnn" or (detector == "auto" and not _auto_note()):
        todo = [i for i, faces in enumerate(out) if not faces]
        # auto's MTCNN pass has no rescue search: its looser thresholds find a false face in about one
        # photo in eight without a face (12 of 99), and a dataset must not mask a coffee cup
        found = _find_mtcnn([images[i] for i in todo], min_score, rotations, device, rescue=detector == "mtcnn")
        for i, faces in zip(todo, found):
            out[i] = faces
    for image, faces in zip(images, out):
        for face in faces:
            face.rejected = implausibility(face.landmarks, image.shape)
        faces.sort(key=lambda f: (f.box[0], f.box[1]))
    return out


def scan_plan(min_face: float | None = None, upsample: int | None = None) -> list[tuple[float, int]]:
    """The scans of the coarse-to-fine search, coarse first: (scale of the copy, dlib upsample).

    The first reaches faces of ``min_face`` pixels (``SMALLEST_FACE`` after scaling); each next one
    is twice finer, down to ``FINEST_FACE``. With ``upsample`` set: that one scan of the photo itself.
    """
    if upsample is not None:
        return [(1.0, int(upsample))]
    min_face = float(DEFAULT_MIN_FACE if min_face is None else min_face)
    if not min_face > 0:
        raise ValueError(f"min_face must be positive, got {min_face}")
    plan, scale = [], SMALLEST_FACE / min_face
    while scale < 0.87:  # downscaled copies (within 15% of the photo's own size: the photo itself)
        plan.append((scale, 0))
        scale *= 2
    up = 0
    while SMALLEST_FACE / 2 ** up > 1.15 * min_face:  # upsample until the first scan reaches min_face
        up += 1
    plan.append((1.0, up))
    while SMALLEST_FACE / 2 ** up > 1.15 * min(min_face, FINEST_FACE):
        up += 1
        plan.append((1.0, up))
    return plan


def _scan(view: View, detector: str, scale: float, upsample: int, min_score: float, grey: bool) -> list:
    """Detections (box on ``view``, score) of one scan of ``view``: a copy scaled by ``scale``, upsampled."""
    image = cv2.cvtColor(view.image, cv2.COLOR_RGB2GRAY) if grey and detector == "hog" else view.image
    if scale >= 0.999:
        return _keep(_detect_boxes(image, detector, upsample), min_score)
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    back = np.array([[w / size[0], 0, 0.5 * w / size[0] - 0.5], [0, h / size[1], 0.5 * h / size[1] - 0.5]])
    return [(framing.box_through(back, box), score)
            for box, score in _keep(_detect_boxes(small, detector, upsample), min_score)]


def _find_dlib(image: np.ndarray, detector: str, upsample: int | None, min_score: float | None,
               rotations: tuple[float, ...] | None, min_face: int | None = None) -> list[Face]:
    if detector == "none":
        view = View(image, np.array([[1.0, 0, 0], [0, 1.0, 0]]))
        return [_face(view, box, score, detector) for box, score in _detect_boxes(image, detector, 0)]
    min_score = DEFAULT_MIN_SCORE if min_score is None else min_score
    view = framing.enlarge(image)
    plan = scan_plan(None if min_face is None else min_face * view.forward[0, 0], upsample)
    angles = DLIB_ROTATIONS if rotations is None else rotations
    # the first scan of the search on grey levels (a third of hog's work), again in colour if it finds nothing
    tries = [(*plan[0], True)] if upsample is None and detector == "hog" else []
    tries += [(scale, up, False) for scale, up in plan]
    for i, (scale, up, grey) in enumerate(tries):
        found = _scan(view, detector, scale, up, min_score, grey)
        if found:
            if max(f[1] for f in found) < SURE_DLIB_SCORE and upsample is None:
                view, found = _second_look(view, found, [t for t in tries[i + 1:] if t[:2] != (scale, up)][:1],
                                           (scale, up), detector, min_score, angles)
            return [_face(view, box, score, detector) for box, score in found]
    for scale, up in plan:
        turned = _rotated_scan(view, detector, scale, up, min_score, angles)
        if turned is not None:
            return [_face(turned[0], box, score, detector) for box, score in turned[1]]
    return []


def _best(found: list) -> float:
    return max(f[1] for f in found)


def _second_look(view: View, found: list, finer: list, scan: tuple[float, int], detector: str, min_score: float,
                 angles: tuple[float, ...]) -> tuple[View, list]:
    """A weak find checked: the next finer scan wins if it scores higher; where it finds nothing at all,
    the rotated copies at the same scale do (weak boxes of tilted faces mislead the landmarks)."""
    if finer:
        scale, up, grey = finer[0]
        better = _scan(view, detector, scale, up, min_score, grey)
        if better:
            return (view, better) if _best(better) > _best(found) else (view, found)
    turned = _rotated_scan(view, detector, *scan, min_score, angles)
    if turned is not None and _best(turned[1]) > _best(found):
        return turned
    return view, found


def _rotated_scan(view: View, detector: str, scale: float, up: int, min_score: float,
                  angles: tuple[float, ...]) -> tuple[View, list] | None:
    """The first rotated copy of ``view`` on which a scan finds faces, and its detections."""
    for turned in framing.rotated_views(view, angles):
        found = _scan(turned, detector, scale, up, min_score, False)
        if found:
            return turned, found
    return None


def _find_mtcnn(images: list[np.ndarray], min_score: float | None, rotations: tuple[float, ...] | None,
                device: str | None, rescue: bool = True) -> list[list[Face]]:
    """MTCNN on each photo (enlarged where small); with ``rescue``, a second search for those where it
    finds nothing: the copies of :func:`framing.rescue_views` with ``RESCUE_THRESHOLDS``, keeping the
    best-scoring copy."""
    if not images:
        return []
    views = [framing.enlarge(image) for image in images]
    found = [_distinct(_keep(f, min_score)) for f in mtcnn.detect([v.image for v in views], device=device)]
    chosen: list[tuple[View, list]] = list(zip(views, found))
    missed = [i for i, f in enumerate(found) if not f] if rescue else []
    angles = MTCNN_ROTATIONS if rotations is None else rotations
    copies = [framing.rescue_views(views[i], angles) for i in missed]
    flat = [v for vs in copies for v in vs]
    results = iter(mtcnn.detect([v.image for v in flat], RESCUE_THRESHOLDS, device) if flat else [])
    for i, vs in zip(missed, copies):
        tries = [(v, _distinct(_keep(next(results), min_score))) for v in vs]
        tries = [t for t in tries if t[1]]
        if tries:
            chosen[i] = max(tries, key=lambda t: t[1][0][1])
    return [[_mtcnn_face(view, box, score) for box, score, _ in dets] for view, dets in chosen]


def _mtcnn_face(view: View, box: np.ndarray, score: float) -> Face:
    """A face from an MTCNN box: moved onto the view whose pixels are read, made HOG-like, landmarked."""
    view, box = framing.to_base(view, box)
    return _face(view, framing.hog_like_box(box), score, "mtcnn")


def refine_landmarks(image: np.ndarray, box: np.ndarray, landmarks: np.ndarray,
                     min_roll: float = ROLL_REFINE_DEGREES) -> np.ndarray:
    """Landmarks predicted again on the face turned upright, when it is tilted by ``min_roll`` or more.

    dlib's predictor is trained on upright faces; on tilted ones a second pass on a de-rotated copy of
    the face's neighbourhood is markedly more accurate (mapped back to the original image).
    """
    roll = float(np.degrees(landmark_roll(landmarks)))
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
    return framing.apply(cv2.invertAffineTransform(m), refined)


def _face(view: View, box: np.ndarray, score: float, detector: str) -> Face:
    """The face boxed by ``box`` on ``view``: landmarks read there, box and landmarks mapped to the photo."""
    landmarks = predict_landmarks(view.image, box)
    if view.kind != "rotated":
        landmarks = refine_landmarks(view.image, box, landmarks)
    if view.kind == "plain":
        return Face(box=box.astype(np.float64), landmarks=landmarks, score=score, detector=detector)
    back = view.back
    box = framing.box_through(back, box, edges=view.kind != "rotated")
    return Face(box=box, landmarks=framing.apply(back, landmarks), score=score, detector=detector)
