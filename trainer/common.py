"""Torch-free helpers shared by the trainer's modules and its command line.

Nothing here imports torch, so ``maskgen --help`` stays fast and ``import maskgen`` never
pulls torch in.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
SPLITS = ("train", "val", "test")
CHECKPOINT_FORMAT = "maskgen-trainer/1"
ARCH = "resnet50"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class TrainerError(Exception):
    """A user-facing problem (bad input, missing file, unavailable weights): one clear line."""


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def list_images(folder: Path) -> list[Path]:
    """Every image file under ``folder``, recursively, in a stable order."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and is_image(p))


def class_folders(root: Path) -> list[str]:
    """Names of the sub-folders of ``root`` that hold at least one image (ImageFolder style)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
                  and any(is_image(p) for p in d.rglob("*")))


def image_folder_samples(root: Path, classes: list[str]) -> list[tuple[str, int]]:
    """(path, class index) for every image of ``root/<class>/...``; other folders are ignored."""
    samples = []
    for index, name in enumerate(classes):
        folder = Path(root) / name
        if folder.is_dir():
            samples.extend((str(p), index) for p in list_images(folder))
    return samples


def parse_class_map(text: str | None) -> dict[str, str]:
    """``"real_mask=with_mask,no_mask=without_mask"`` -> {folder: class}."""
    if not text:
        return {}
    mapping = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise TrainerError(f"--classes expects FOLDER=CLASS pairs separated by commas, got {part!r}")
        folder, cls = (s.strip() for s in part.split("=", 1))
        if not folder or not cls:
            raise TrainerError(f"--classes expects FOLDER=CLASS pairs separated by commas, got {part!r}")
        mapping[folder] = cls
    return mapping


def labelled_photos(data: Path, classes: list[str], mapping: dict[str, str]) -> tuple[list[tuple[str, int, str]], list[str]]:
    """(path, class index, folder) of every photo in an ImageFolder-layout ``data`` folder.

    Without ``mapping`` every folder must be named like one of ``classes``; with a mapping only
    the mapped folders are read (identity entries may be given), the others are returned as ignored.
    """
    data = Path(data)
    if not data.is_dir():
        raise TrainerError(f"{data} is not a folder")
    folders = class_folders(data)
    if not folders:
        raise TrainerError(f"{data} holds no sub-folders with images (expected DATA/<label>/<photo>)")
    if mapping:
        bad = sorted({c for c in mapping.values() if c not in classes})
        if bad:
            raise TrainerError(f"--classes maps to {', '.join(bad)}, which the model does not know; "
                               f"its classes are {', '.join(classes)}")
        missing = sorted(f for f in mapping if f not in folders)
        if missing:
            raise TrainerError(f"--classes names {', '.join(missing)}, not found in {data} "
                               f"(folders with images: {', '.join(folders)})")
        used = [f for f in folders if f in mapping]
    else:
        unknown = [f for f in folders if f not in classes]
        if unknown:
            raise TrainerError(
                f"folder(s) {', '.join(unknown)} in {data} are not classes of the model "
                f"({', '.join(classes)}); map them with --classes, e.g. "
                f"--classes {unknown[0]}={classes[0]}")
        used = folders
    photos = []
    for folder in used:
        target = classes.index(mapping.get(folder, folder))
        photos.extend((str(p), target, folder) for p in list_images(data / folder))
    ignored = [f for f in folders if f not in used]
    return photos, ignored


def read_rgb(path) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3), EXIF rotation applied.

    Uses ``maskgen.read_image`` (robust reading) when available, else Pillow directly.
    Raises :class:`TrainerError` when the file cannot be read.
    """
    try:
        from maskgen.images import read_image, ImageReadError
    except ImportError:  # pragma: no cover - maskgen.images is part of the package
        read_image, ImageReadError = None, None
    if read_image is not None:
        try:
            return read_image(path)
        except ImageReadError as exc:
            raise TrainerError(f"cannot read {path}: {exc}") from exc
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except (OSError, ValueError) as exc:
        raise TrainerError(f"cannot read {path}: {exc}") from exc


def shared_data_dir() -> Path:
    """The project's shared real photos: ``$MASKGEN_SHARED_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("MASKGEN_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> None:
    """Write ``rows`` (dicts) to ``path`` atomically; ``columns`` fixes the order."""
    path = Path(path)
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _fmt(row.get(k, "")) for k in columns})
    os.replace(tmp, path)


def _fmt(value):
    if isinstance(value, float):
        return "" if value != value else f"{value:.6g}"
    return value


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def write_json(path: Path, data) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
