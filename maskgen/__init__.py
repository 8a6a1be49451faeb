"""maskgen: realistic masks on face photos, and labelled masked-face datasets.

The public API is flat::

    import maskgen
    image = maskgen.read_image("photo.jpg")
    faces = maskgen.find_faces(image)
    result = maskgen.mask_faces(image, faces, maskgen.MaskOptions(mask_type="surgical"), seed=0)

Heavy backends (dlib, imgaug) load on first use, never at import, and torch never.
"""
from __future__ import annotations

__version__ = "0.1.0"

_API = {
    "read_image": "maskgen.images",
    "ImageReadError": "maskgen.images",
    "find_faces": "maskgen.detect.faces",
    "mask_faces": "maskgen.mask.masker",
    "mask_face": "maskgen.mask.masker",
    "MaskOptions": "maskgen.mask.options",
    "list_mask_types": "maskgen.mask.catalog",
    "WEAR_STYLES": "maskgen.mask.options",
    "Face": "maskgen.detect.face",
    "MaskAttributes": "maskgen.mask.results",
    "MaskedFace": "maskgen.mask.results",
    "MaskResult": "maskgen.mask.results",
    "build_dataset": "maskgen.dataset.build",
    "DatasetConfig": "maskgen.dataset.config",
    "read_manifest": "maskgen.dataset.manifest",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'maskgen' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
