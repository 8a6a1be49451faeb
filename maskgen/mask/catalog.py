"""The mask catalog: built-in procedural types with realistic palettes, plus user masks.

Attributes are drawn from a type's palette and textures in :mod:`maskgen.mask.sampling`. A palette
holds the colours photos show most (light-blue and white surgical masks, black and grey cloth); a
type's ``tail`` is the share drawn instead from anywhere in the gamut
(:func:`maskgen.mask.colors.fashion_colour`: vivid, pastel, dark, muted and skin-tone fashion masks).

A user mask is a folder with ``mask.png`` (RGBA) and ``anchors.json`` (see docs/masks.md).
Folders are found in ``masks/`` shipped with maskgen and in every folder listed in the
``MASKGEN_MASK_PATH`` environment variable; a folder path is also accepted as a type name.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from maskgen.mask.colors import parse_colour


@dataclass(frozen=True)
class MaskType:
    name: str
    description: str
    palette: tuple[tuple[str, str, float], ...]  # (hex, name, weight)
    textures: tuple[tuple[str, float], ...]  # (texture, weight) when the user asks for none in particular
    folder: Path | None = None  # user masks: folder with mask.png and anchors.json
    anchors: dict = field(default_factory=dict, hash=False, compare=False)
    recolor: bool = False
    in_random: bool = True  # drawn when the user asks for 'random'
    weight: float = 1.0  # how often 'random' draws it, relative to the others
    tail: float = 0.0  # share of masks in a fashion colour from anywhere in the gamut instead of the palette
    ear_loops: bool = False  # held by ear loops: can hang from one ear ("ear" wear)


def _p(*entries):
    return tuple((parse_colour(c)[0], n, w) for c, n, w in entries)


# fashion prints of sewn masks, by how often photos show them (florals and loud multicolour prints most)
PRINTED = (("floral", 0.1), ("ditsy", 0.06), ("abstract", 0.06), ("dots", 0.04), ("stripes", 0.04),
           ("zebra", 0.03), ("plaid", 0.03), ("gingham", 0.03), ("checker", 0.02), ("camo", 0.03),
           ("paisley", 0.02), ("leopard", 0.025), ("tiedye", 0.025), ("hearts", 0.025), ("smile", 0.02),
           ("animal", 0.015), ("lettering", 0.025))

BUILT_IN = {
    "surgical": MaskType("surgical", "pleated disposable mask with nose wire, side bindings and ear loops", _p(
        ("#92c3e2", "light blue", 0.38), ("#a9d4ea", "pale blue", 0.12), ("#eeeff0", "white", 0.2),
        ("#6cc2b8", "surgical green", 0.08), ("#2a2b2f", "black", 0.12), ("#e7b4c3", "pink", 0.025),
        ("#a8dccb", "mint", 0.02), ("#b8bcc2", "grey", 0.04), ("#e9e08a", "yellow", 0.01),
        ("#b9a7d8", "lavender", 0.005)), (("nonwoven", 1.0),), weight=0.3, tail=0.03, ear_loops=True),
    "kn95": MaskType("kn95", "KN95 folded respirator: vertical crest, heat-sealed rim, ear loops", _p(
        ("#eeeff0", "white", 0.55), ("#26272b", "black", 0.22), ("#8e9196", "grey", 0.07),
        ("#e7b4c3", "pink", 0.04), ("#d9c7a8", "beige", 0.04), ("#a9d4ea", "pale blue", 0.03)),
        (("nonwoven", 0.75), ("stamp", 0.25)), weight=0.12, tail=0.06, ear_loops=True),
    "kf94": MaskType("kf94", "KF94 three-panel folded respirator with boat-shaped sides", _p(
        ("#f0f1f2", "white", 0.55), ("#25262a", "black", 0.3), ("#a3a6ab", "grey", 0.08),
        ("#d9c7a8", "beige", 0.04), ("#e7b4c3", "pink", 0.03)), (("nonwoven", 0.85), ("stamp", 0.15)),
        weight=0.05, tail=0.04, ear_loops=True),
    "n95": MaskType("n95", "moulded N95 cup with nose clip and head straps", _p(
        ("#f1efe9", "white", 0.75), ("#d8d8d4", "light grey", 0.15), ("#9fb4c8", "blue grey", 0.1)),
        (("nonwoven", 0.7), ("stamp", 0.3)), weight=0.05),
    "n95_valve": MaskType("n95_valve", "moulded N95 cup with an exhalation valve", _p(
        ("#f1efe9", "white", 0.7), ("#d8d8d4", "light grey", 0.15), ("#9fb4c8", "blue grey", 0.15)),
        (("nonwoven", 0.8), ("stamp", 0.2)), weight=0.03),
    "cloth": MaskType("cloth", "sewn fabric mask: centre seam, hem, plain, woven or printed", _p(
        ("#232427", "black", 0.24), ("#1f2a4d", "navy", 0.07), ("#8e9196", "grey", 0.08),
        ("#eeeff0", "white", 0.09), ("#d9c7a8", "beige", 0.05), ("#b3262d", "red", 0.03),
        ("#e7b4c3", "pink", 0.05), ("#4c7a4a", "green", 0.03), ("#3c64a8", "blue", 0.05),
        ("#6b1f2a", "maroon", 0.02), ("#e3c341", "yellow", 0.02), ("#6c4f96", "purple", 0.02)),
        (("weave", 0.22), ("melange", 0.12), ("knit", 0.04), ("none", 0.05)) + PRINTED, weight=0.22, tail=0.3,
        ear_loops=True),
    "sports": MaskType("sports", "jaw-hugging neoprene / polyurethane sports mask", _p(
        ("#1c1d20", "black", 0.5), ("#4a4c50", "dark grey", 0.2), ("#1f2a4d", "navy", 0.08),
        ("#c2c5c9", "light grey", 0.07), ("#b3262d", "red", 0.04), ("#eeeff0", "white", 0.04)),
        (("melange", 0.35), ("knit", 0.3), ("none", 0.25), ("lettering", 0.1)), weight=0.06, tail=0.12),
    "respirator": MaskType("respirator", "half-face elastomeric respirator with two filter cartridges", _p(
        ("#5b5e63", "grey", 0.45), ("#26272b", "black", 0.35), ("#8d9aa8", "blue grey", 0.2)),
        (("none", 1.0),), weight=0.015),
    "bandana": MaskType("bandana", "folded bandana tied behind the head, hanging below the chin", _p(
        ("#b3262d", "red", 0.3), ("#1f2a4d", "navy", 0.25), ("#232427", "black", 0.2),
        ("#4c7a4a", "green", 0.06), ("#6b1f2a", "maroon", 0.06)),
        (("paisley", 0.55), ("weave", 0.15), ("floral", 0.1), ("camo", 0.05), ("gingham", 0.05),
         ("plaid", 0.05), ("tiedye", 0.05)), weight=0.03, tail=0.15),
    "gaiter": MaskType("gaiter", "neck gaiter tube pulled up over nose and chin", _p(
        ("#232427", "black", 0.3), ("#4a4c50", "dark grey", 0.2), ("#1f2a4d", "navy", 0.15),
        ("#6b6d3a", "olive", 0.1), ("#b3262d", "red", 0.05), ("#3c64a8", "blue", 0.1),
        ("#c2c5c9", "light grey", 0.1)),
        (("knit", 0.3), ("melange", 0.2), ("camo", 0.15), ("stripes", 0.1), ("tiedye", 0.06), ("floral", 0.05),
         ("leopard", 0.04), ("lettering", 0.05), ("plaid", 0.05)), weight=0.05, tail=0.25),
    "scarf": MaskType("scarf", "scarf, shemagh or niqab-style veil over the nose, draping past the chin", _p(
        ("#1d1e21", "black", 0.35), ("#1f2a4d", "navy", 0.08), ("#4a4c50", "dark grey", 0.08),
        ("#6e4b32", "brown", 0.07), ("#d9c7a8", "beige", 0.08), ("#eeeff0", "white", 0.07),
        ("#6b1f2a", "maroon", 0.05), ("#6b6d3a", "olive", 0.03)),
        (("weave", 0.4), ("melange", 0.2), ("gingham", 0.12), ("floral", 0.1), ("paisley", 0.08), ("none", 0.1)),
        weight=0.025, tail=0.2),
    "hosiery": MaskType("hosiery", "sheer stretch-nylon tube over the lower face; the face shows through", _p(
        ("#1d1e21", "black", 0.4), ("#d8b095", "nude", 0.2), ("#b08060", "tan", 0.1),
        ("#5a3b2a", "dark brown", 0.08), ("#8e9196", "grey", 0.07), ("#1f2a4d", "navy", 0.05),
        ("#eeeff0", "white", 0.05)), (("none", 1.0),), weight=0.01, tail=0.05),
    "window": MaskType("window", "cloth mask with a clear plastic window over the mouth", _p(
        ("#eeeff0", "white", 0.3), ("#232427", "black", 0.3), ("#1f2a4d", "navy", 0.1),
        ("#92c3e2", "light blue", 0.1), ("#e7b4c3", "pink", 0.05)),
        (("weave", 0.4), ("melange", 0.2), ("none", 0.3), ("floral", 0.1)), weight=0.01, tail=0.15,
        ear_loops=True),
    "sequin": MaskType("sequin", "fashion mask covered in sequins, or in metallic lame", _p(
        ("#c9a544", "gold", 0.25), ("#c4c7cc", "silver", 0.25), ("#d4a59a", "rose gold", 0.12),
        ("#26272b", "black", 0.15), ("#b3262d", "red", 0.08), ("#3c64a8", "blue", 0.06),
        ("#6c4f96", "purple", 0.05), ("#4c7a4a", "green", 0.04)),
        (("sequins", 0.7), ("lame", 0.3)), weight=0.015, tail=0.1, ear_loops=True),
}

RANDOM_COLOURS = _p(("#eeeff0", "white", 1), ("#232427", "black", 1), ("#92c3e2", "light blue", 1),
                    ("#8e9196", "grey", 1), ("#1f2a4d", "navy", 1), ("#e7b4c3", "pink", 1),
                    ("#b3262d", "red", 1), ("#4c7a4a", "green", 1), ("#d9c7a8", "beige", 1))


def _user_folders() -> list[Path]:
    shipped = Path(__file__).resolve().parent / "masks"
    try:
        import maskgen.masks as shipped_pkg

        shipped = Path(shipped_pkg.__file__).parent
    except ImportError:
        pass
    roots = [shipped] + [Path(p) for p in os.environ.get("MASKGEN_MASK_PATH", "").split(os.pathsep) if p]
    found = []
    for root in roots:
        if root.is_dir():
            found += sorted(p.parent for p in root.glob("*/anchors.json"))
    return found


ANCHOR_NAMES = ("nose_bridge", "chin", "left_cheek", "right_cheek", "left_jaw", "right_jaw")


@lru_cache(maxsize=64)
def load_user_mask(folder: str) -> MaskType:
    """Read a user mask folder (``mask.png`` + ``anchors.json``); ValueError with the reason if invalid."""
    path = Path(folder)
    meta_path = path / "anchors.json"
    if not meta_path.is_file() or not (path / "mask.png").is_file():
        raise ValueError(f"{path}: a user mask folder needs mask.png and anchors.json")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{meta_path}: not valid JSON ({exc})") from None
    anchors = meta.get("anchors", {})
    missing = [a for a in ANCHOR_NAMES if a not in anchors]
    if missing:
        raise ValueError(f"{meta_path}: missing anchors {', '.join(missing)}")
    palette = ()
    if meta.get("recolor"):
        palette = tuple((parse_colour(c)[0], parse_colour(c)[1], 1.0) for c in meta.get("colors", ["white"]))
    return MaskType(meta.get("name", path.name), meta.get("description", f"user mask from {path}"), palette,
                    (("none", 1.0),), folder=path,
                    anchors={k: tuple(map(float, anchors[k])) for k in ANCHOR_NAMES},
                    recolor=bool(meta.get("recolor", False)), in_random=bool(meta.get("in_random", True)),
                    weight=float(meta.get("weight", 0.05)))


def list_mask_types() -> list[str]:
    """Names of every available mask type: the built-in ones, then user masks."""
    names = list(BUILT_IN)
    for folder in _user_folders():
        try:
            names.append(load_user_mask(str(folder)).name)
        except ValueError:
            continue
    return names


def random_mask_types() -> list[str]:
    """The types drawn for ``mask_type='random'``: all but user masks marked ``in_random: false``."""
    return [n for n in list_mask_types() if get_mask_type(n).in_random]


def get_mask_type(name: str) -> MaskType:
    """A mask type by name, or a user mask by folder path."""
    if name in BUILT_IN:
        return BUILT_IN[name]
    if os.path.isdir(name):
        return load_user_mask(str(Path(name).resolve()))
    for folder in _user_folders():
        try:
            spec = load_user_mask(str(folder))
        except ValueError:
            continue
        if spec.name == name:
            return spec
    raise ValueError(f"unknown mask type {name!r}; choose from {', '.join(list_mask_types())}")


def describe_mask_type(name: str) -> str:
    return get_mask_type(name).description

