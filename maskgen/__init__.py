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
    "read_image": "maskgen.imageio",
    "ImageReadError": "maskgen.imageio",
    "find_faces": "maskgen.faces",
    "mask_faces": "maskgen.engine",
    "mask_face": "maskgen.engine",
    "MaskOptions": "maskgen.options",
    "list_mask_types": "maskgen.catalog",
    "WEAR_STYLES": "maskgen.options",
    "Face": "maskgen.types",
    "MaskAttributes": "maskgen.types",
    "MaskedFace": "maskgen.types",
    "MaskResult": "maskgen.types",
    "build_dataset": "maskgen.dataset",
    "DatasetConfig": "maskgen.dataset",
    "read_manifest": "maskgen.manifest",
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
