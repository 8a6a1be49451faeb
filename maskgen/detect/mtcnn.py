"""MTCNN face detection from ``facenet-pytorch``: the only module of maskgen that imports torch.

MTCNN (Zhang et al. 2016) finds faces that a mask half hides, where dlib's HOG and CNN detectors
mostly fail. Its three small networks (``pnet.pt``, ``rnet.pt``, ``onet.pt``, 2 MB, MIT licence) ship
inside the ``facenet-pytorch`` wheel: nothing is downloaded. Only version 2.5.3 works with current torch
(2.6.0 pins torch<2.3). The package is the optional extra ``mtcnn``: ``pip install 'maskgen[mtcnn]'``.

torch and facenet_pytorch are imported on first use and the networks loaded once per process and
device. The device is CUDA where torch sees one and CPU otherwise; ``MASKGEN_DEVICE`` (``cpu``,
``cuda``, ``cuda:1``) or the ``device`` argument choose another.
"""
from __future__ import annotations

import os
import threading
from collections import defaultdict
from contextlib import contextmanager

import numpy as np

EXTRA = "pip install 'maskgen[mtcnn]'"
MIN_FACE_SIZE = 20  # px: facenet-pytorch's default; smaller faces are enlarged before detection (faces.py)
THRESHOLDS = (0.6, 0.7, 0.7)  # the three stages' score thresholds (facenet-pytorch's defaults)
BATCH = 16  # photos of one size sent through the networks together
# torch threads while MTCNN runs on the CPU (the previous count is restored after): its networks are small,
# and more threads mostly wait on each other, all the more beside other busy processes (on the 2-core
# machine, 1 thread ran 5 to 10 times faster than 2 while other work ran). MASKGEN_MTCNN_THREADS overrides.
CPU_THREADS = 1

_lock = threading.Lock()
_models: dict[str, object] = {}


class MissingExtraError(RuntimeError):
    """An optional package that a detector needs is not installed."""


def _import():
    try:
        import torch
        from facenet_pytorch import MTCNN
    except ImportError as exc:
        raise MissingExtraError(
            f"the mtcnn detector needs facenet-pytorch==2.5.3 ({exc.name or exc} is missing): {EXTRA}") from exc
    return torch, MTCNN


def available() -> bool:
    """Whether the mtcnn detector can be used here (its packages are installed); imports nothing."""
    import importlib.util

    try:
        return all(importlib.util.find_spec(name) is not None for name in ("torch", "facenet_pytorch", "requests"))
    except (ImportError, ValueError):
        return False


def default_device() -> str:
    """``MASKGEN_DEVICE`` when set, else ``cuda`` where torch sees a GPU, else ``cpu``."""
    chosen = os.environ.get("MASKGEN_DEVICE", "").strip()
    if chosen:
        return chosen
    torch, _ = _import()
    return "cuda" if torch.cuda.is_available() else "cpu"


def load(device: str | None = None):
    """The MTCNN networks on ``device`` (default :func:`default_device`), loaded once per process."""
    device = device or default_device()
    with _lock:
        if device not in _models:
            torch, mtcnn_class = _import()
            model = mtcnn_class(min_face_size=MIN_FACE_SIZE, thresholds=list(THRESHOLDS), keep_all=True,
                                select_largest=False, device=torch.device(device))
            _models[device] = model.eval()
        return _models[device]


def detect(images: list[np.ndarray], thresholds: tuple[float, float, float] = THRESHOLDS,
           device: str | None = None) -> list[list[tuple[np.ndarray, float, np.ndarray]]]:
    """Faces in each RGB uint8 image: ``(box x0, y0, x1, y1, score, 5 points)`` per face, best first.

    Photos of the same size go through the networks together, ``BATCH`` at a time. ``thresholds`` are
    the three stages' minimum scores. The 5 points are MTCNN's own: the subject's right eye, left eye,
    nose tip, right and left mouth corners (x, y). Boxes are MTCNN's, tighter than dlib's: see
    :func:`maskgen.detect.framing.hog_like_box`.
    """
    model = load(device)
    torch, _ = _import()
    from facenet_pytorch.models.utils.detect_face import detect_face

    out: list[list] = [[] for _ in images]
    by_shape: dict[tuple, list[int]] = defaultdict(list)
    for i, image in enumerate(images):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"mtcnn needs RGB uint8 images, got {image.dtype} {image.shape}")
        by_shape[image.shape].append(i)
    for indices in by_shape.values():
        for start in range(0, len(indices), BATCH):
            chunk = indices[start:start + BATCH]
            batch = torch.from_numpy(np.stack([images[i] for i in chunk])).to(model.device)
            with torch.inference_mode(), _threads(torch, model.device):
                boxes, points = detect_face(batch, model.min_face_size, model.pnet, model.rnet, model.onet,
                                            list(thresholds), model.factor, model.device)
            for i, b, q in zip(chunk, boxes, points):
                found = [(np.asarray(b[k][:4], np.float64), float(b[k][4]), np.asarray(q[k], np.float64))
                         for k in range(len(b))]
                out[i] = sorted(found, key=lambda f: -f[1])
    return out


@contextmanager
def _threads(torch, device):
    """torch's intra-op threads set to ``CPU_THREADS`` (or ``MASKGEN_MTCNN_THREADS``) on the CPU, then restored."""
    wanted = int(os.environ.get("MASKGEN_MTCNN_THREADS", "0") or 0) or CPU_THREADS
    before = torch.get_num_threads()
    if device.type != "cpu" or wanted == before:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)
