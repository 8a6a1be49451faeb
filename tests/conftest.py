"""Shared fixtures: the real photos in ../shared/data (skipped when absent), skimage's astronaut,
and small source trees built from it."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``<repo root>/../shared/data``, or ``$MASKGEN_SHARED_DATA``."""
    return Path(os.environ.get("MASKGEN_SHARED_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "unmasked_faces").is_dir():
        pytest.skip(f"real photos not available at {path} (set MASKGEN_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def small_astronaut(astronaut) -> np.ndarray:
    """The astronaut's head and shoulders at 256 px (face about 75 px): hog (upsample 1) finds it
    quickly and surely, also rotated by ±20°, and no face-like patch is left in the frame."""
    import cv2

    return cv2.resize(astronaut[0:320, 96:416], (256, 256), interpolation=cv2.INTER_AREA)


def save(path: Path, image: np.ndarray, **kwargs) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, **kwargs)
    return path


def rotate(image: np.ndarray, angle: float) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def make_src_tree(root: Path, small_astronaut: np.ndarray) -> Path:
    """A small SRC: three identity folders (one nested deeper), a loose image, and a stray text file."""
    a = small_astronaut
    src = root / "src"
    save(src / "alice" / "a1.jpg", a, quality=95)
    save(src / "alice" / "trip" / "a2.png", rotate(a, 20))
    save(src / "bob" / "b1.jpg", np.ascontiguousarray(a[:, ::-1]), quality=95)
    save(src / "carol" / "c1.webp", np.clip(rotate(a, -10).astype(int) * 0.8, 0, 255).astype(np.uint8))
    save(src / "loose.jpg", rotate(a, -15), quality=95)
    (src / "notes.txt").write_text("not an image, not a candidate")
    return src


@pytest.fixture
def src_tree(tmp_path, small_astronaut) -> Path:
    return make_src_tree(tmp_path, small_astronaut)


def tree_digest(root: Path, ignore_hidden: bool = True) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root``."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        rel = path.relative_to(root).as_posix()
        if ignore_hidden and any(part.startswith(".") for part in rel.split("/")):
            continue
        if path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def make_broken_src(root: Path, face: np.ndarray) -> tuple[Path, dict[str, str], list[str]]:
    """A folder of awkward inputs made from ``face`` (an RGB photo with one face).

    Returns (src, {bad file: expected skip kind}, [good files]). The good files are odd but
    readable (16-bit, CMYK, palette, RGBA, grey, EXIF-rotated) and must all be processed.
    """
    import cv2
    from PIL import Image

    src = root / "broken_src"
    src.mkdir(parents=True)
    good, bad = [], {}

    def jpeg_bytes(img):
        import io

        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=92)
        return buf.getvalue()

    data = jpeg_bytes(face)
    (src / "empty.jpg").write_bytes(b"")
    bad["empty.jpg"] = "empty"
    (src / "notes.jpg").write_text("this is a text file with an image extension\n")
    bad["notes.jpg"] = "not_image"
    (src / "truncated.jpg").write_bytes(data[: len(data) // 3])
    bad["truncated.jpg"] = "truncated"
    corrupt = bytearray(data)
    corrupt[2:64] = bytes(range(62))  # header destroyed
    (src / "corrupt.jpg").write_bytes(bytes(corrupt))
    bad["corrupt.jpg"] = "read_error"  # not_image / corrupt / truncated: any read error
    Image.new("RGB", (3000, 2000), (90, 90, 90)).save(src / "huge.png")
    bad["huge.png"] = "too_large"
    from skimage import data as skdata

    coffee = cv2.resize(skdata.coffee(), (256, 192), interpolation=cv2.INTER_AREA)
    save(src / "coffee_no_face.jpg", coffee)
    bad["coffee_no_face.jpg"] = "no_face"

    f16 = face.astype(np.uint16) * 257
    cv2.imwrite(str(src / "rgb16.png"), f16[..., ::-1])
    good.append("rgb16.png")
    cv2.imwrite(str(src / "grey16.tif"), cv2.cvtColor(f16, cv2.COLOR_RGB2GRAY))
    good.append("grey16.tif")
    Image.fromarray(face).convert("CMYK").save(src / "cmyk.jpg", quality=92)
    good.append("cmyk.jpg")
    Image.fromarray(face).convert("P", palette=Image.Palette.ADAPTIVE, colors=128).save(src / "palette.png")
    good.append("palette.png")
    rgba = np.dstack([face, np.full(face.shape[:2], 255, np.uint8)])
    rgba[:20] = 0  # a transparent band on top
    Image.fromarray(rgba, "RGBA").save(src / "rgba.png")
    good.append("rgba.png")
    Image.fromarray(cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)).save(src / "grey.jpg", quality=92)
    good.append("grey.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored lying on its side; upright after a 90° clockwise turn
    Image.fromarray(np.ascontiguousarray(np.rot90(face, 1))).save(src / "exif_rotated.jpg", quality=92, exif=exif)
    good.append("exif_rotated.jpg")
    return src, bad, good
