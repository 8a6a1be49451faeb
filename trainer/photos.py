"""Labelled photo folders (ImageFolder layout, ``ROOT/<label>/...``): listing their images and
mapping folder names to a model's classes (``--classes``). No torch here; the images themselves
are read with :func:`maskgen.images.read_image`."""
from __future__ import annotations

from pathlib import Path

from maskgen.images import is_supported

from .errors import TrainerError


def is_image(path: Path) -> bool:
    """An image file by its extension (maskgen's supported formats), hidden files excluded."""
    return is_supported(path) and not Path(path).name.startswith(".")


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
        folder, _, cls = (s.strip() for s in part.partition("="))
        if not folder or not cls:
            raise TrainerError(f"--classes expects FOLDER=CLASS pairs separated by commas, got {part!r}")
        mapping[folder] = cls
    return mapping


def _used_folders(data: Path, folders: list[str], classes: list[str], mapping: dict[str, str]) -> list[str]:
    """The folders of ``data`` to read: the mapped ones, or (without a mapping) all, each a class."""
    if mapping:
        bad = sorted({c for c in mapping.values() if c not in classes})
        if bad:
            raise TrainerError(f"--classes maps to {', '.join(bad)}, which the model does not know; "
                               f"its classes are {', '.join(classes)}")
        missing = sorted(f for f in mapping if f not in folders)
        if missing:
            raise TrainerError(f"--classes names {', '.join(missing)}, not found in {data} "
                               f"(folders with images: {', '.join(folders)})")
        return [f for f in folders if f in mapping]
    unknown = [f for f in folders if f not in classes]
    if unknown:
        raise TrainerError(
            f"folder(s) {', '.join(unknown)} in {data} are not classes of the model "
            f"({', '.join(classes)}); map them with --classes, e.g. "
            f"--classes {unknown[0]}={classes[0]}")
    return folders


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
    used = _used_folders(data, folders, classes, mapping)
    photos = []
    for folder in used:
        target = classes.index(mapping.get(folder, folder))
        photos.extend((str(p), target, folder) for p in list_images(data / folder))
    ignored = [f for f in folders if f not in used]
    return photos, ignored
