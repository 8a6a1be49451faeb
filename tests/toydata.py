"""A tiny, easily separable masked-face dataset drawn from scikit-image's astronaut photo.

For the trainer's tests, benchmark and smoke runs (a test helper, not installed with the
trainer): no download, no real data needed. The face is found with maskgen's detector; a
"mask" is a filled polygon over the landmarks (nose to chin for ``with_mask``, mouth to chin
for ``incorrect_mask``), and crops are framed the way ``maskgen augment --crop face`` frames
them (random margins around the face box). Not a stand-in for the real generator: use it to
check the machinery, never the model.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

PALETTE = [(235, 240, 245), (120, 170, 220), (40, 40, 45), (90, 150, 110), (200, 120, 150), (230, 200, 90)]


@lru_cache(maxsize=1)
def astronaut_face():
    """The astronaut photo (RGB uint8) and its face (box, 68 landmarks)."""
    import skimage.data

    import maskgen

    image = np.ascontiguousarray(skimage.data.astronaut()[..., :3])
    faces = maskgen.find_faces(image)
    if not faces:  # pragma: no cover - dlib finds this face
        raise RuntimeError("no face found in skimage's astronaut image")
    face = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    return image, np.asarray(face.box, float), np.asarray(face.landmarks, float)


def draw_mask(image: np.ndarray, landmarks: np.ndarray, label: str, color) -> np.ndarray:
    """``image`` with a flat mask drawn over the lower face (nothing for ``without_mask``)."""
    out = image.copy()
    lm = landmarks
    if label == "with_mask":
        polygon = np.vstack([lm[1:16], lm[[28]] + [(lm[15, 0] - lm[28, 0]) * 0.5, 0], lm[[28]],
                             lm[[28]] - [(lm[28, 0] - lm[1, 0]) * 0.5, 0]])
    elif label == "incorrect_mask":
        polygon = np.vstack([lm[3:14], lm[[33]] + [(lm[13, 0] - lm[33, 0]) * 0.6, 0],
                             lm[[33]] + [0, (lm[51, 1] - lm[33, 1]) * 0.3],
                             lm[[33]] - [(lm[33, 0] - lm[3, 0]) * 0.6, 0]])
    elif label == "without_mask":
        return out
    else:
        raise ValueError(f"unknown label {label!r}")
    cv2.fillPoly(out, [np.round(polygon).astype(np.int32)], tuple(int(c) for c in color), cv2.LINE_AA)
    return out


def _jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gain = rng.uniform(0.75, 1.25)
    bias = rng.uniform(-20, 20)
    tint = rng.uniform(0.9, 1.1, size=3)
    return np.clip(image.astype(np.float32) * gain * tint + bias, 0, 255).astype(np.uint8)


def masked_photo(label: str, rng: np.random.Generator) -> np.ndarray:
    """The whole astronaut photo, masked as ``label`` says, with colour jitter."""
    image, _, landmarks = astronaut_face()
    color = PALETTE[int(rng.integers(len(PALETTE)))]
    return _jitter(draw_mask(image, landmarks, label, color), rng)


def make_toy_dataset(out, classes=("with_mask", "without_mask"), per_class: dict | None = None, size: int = 64,
                     seed: int = 0) -> Path:
    """Write ``out/<split>/<label>/<n>.jpg`` face crops (``--crop face`` layout). Returns ``out``."""
    from maskgen.crops import crop_square, sample_square

    per_class = per_class or {"train": 16, "val": 8}
    out = Path(out)
    _, box, _ = astronaut_face()
    rng = np.random.default_rng(seed)
    for split, n in per_class.items():
        for label in classes:
            folder = out / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                photo = masked_photo(label, rng)
                crop = crop_square(photo, sample_square(box, rng), size)
                if rng.random() < 0.5:
                    crop = crop[:, ::-1]
                cv2.imwrite(str(folder / f"{label}_{i:04d}.jpg"), np.ascontiguousarray(crop[..., ::-1]),
                            [cv2.IMWRITE_JPEG_QUALITY, 92])
    return out


def group_photo(labels, rng: np.random.Generator, face_side: int = 160) -> np.ndarray:
    """Side-by-side portraits, one per label: a 'group photo' with ``len(labels)`` faces."""
    from maskgen.crops import crop_square, face_square

    _, box, _ = astronaut_face()
    tiles = [crop_square(masked_photo(label, rng), face_square(box, 0.8), face_side * 2) for label in labels]
    return np.ascontiguousarray(np.hstack(tiles))
