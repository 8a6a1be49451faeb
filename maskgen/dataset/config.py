"""What decides a dataset's content (:class:`DatasetConfig`), and every setting's default, range and help.

:data:`OPTIONS` is the one place where each setting's default, range or choices and help text
are declared: :class:`DatasetConfig`'s field defaults, :meth:`DatasetConfig.validated` and the
command line's options (:mod:`maskgen.cli.options`) are all built from it. :data:`RUN_OPTIONS`
does the same for the settings of a run that do not change the dataset (workers, runner, limit).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from maskgen.dataset.sources import SPLIT_NAMES, parse_split
from maskgen.images import DEFAULT_MAX_PIXELS
from maskgen.mask.options import MaskOptions, parse_wear

CROP_MODES = ("full", "face")
OUTPUT_FORMATS = ("jpg", "png", "webp")
RUNNERS = ("local", "dask")


def detectors() -> tuple[str, ...]:
    """The face detectors :func:`maskgen.find_faces` knows (imported when first asked: dlib is heavy)."""
    from maskgen.detect.faces import DETECTORS

    return tuple(DETECTORS)


@dataclass(frozen=True)
class Option:
    """One setting: its default, the values it may take, and its help.

    ``kind`` is the type a checked value has; ``low``/``high`` an inclusive range (None: open);
    ``choices`` a tuple or a function giving one; ``optional``: None is a value (sampled, no
    limit, ...). ``flag`` is the command-line flag ('' for ``--name-with-dashes``, None for no
    flag); ``what`` names the setting in messages.
    """

    name: str
    default: Any
    help: str
    kind: type = str
    low: float | None = None
    high: float | None = None
    choices: tuple | Callable[[], tuple] | None = None
    optional: bool = False
    what: str = ""
    flag: str | None = ""
    metavar: str | None = None
    show_default: bool | str = True

    @property
    def cli_flag(self) -> str | None:
        return self.flag if self.flag != "" else "--" + self.name.replace("_", "-")

    @property
    def label(self) -> str:
        return self.what or self.name.replace("_", " ")

    def allowed(self) -> tuple | None:
        return self.choices() if callable(self.choices) else self.choices

    def range_text(self) -> str:
        if self.high is None:
            return f"at least {self.low:g}" if self.low else "0 or more"
        return f"{self.low:g}..{self.high:g}"

    def check(self, value):
        """``value`` converted to :attr:`kind` and checked; ValueError naming the setting if it does not fit."""
        if value is None and self.optional:
            return None
        if self.kind is bool:
            if value not in (True, False):  # 0 and 1 too; not the text "false"
                raise ValueError(f"{self.label} must be true or false, got {value!r}")
            return bool(value)
        value = self.kind(value)
        allowed = self.allowed()
        if allowed is not None and value not in allowed:
            raise ValueError(f"unknown {self.label} {value!r}; choose from {', '.join(allowed)}")
        if self.low is not None or self.high is not None:
            inside = (self.low is None or value >= self.low) and (self.high is None or value <= self.high)
            if not inside:  # NaN fails both comparisons
                raise ValueError(f"{self.label} must be {self.range_text()}, got {value}")
        return value


OPTIONS = (
    Option("mask_type", "random", "Mask type(s) to draw from; see `maskgen masks`.",
           what="mask type", metavar="TYPE[,TYPE...]|random"),
    Option("color", None, "Mask colour; default: each type's realistic palette.", optional=True,
           what="colour", metavar="HEX|NAME|random"),
    Option("texture", None, "Texture or pattern; default: each type's usual texture.", optional=True,
           metavar="NAME|FILE|none|random"),
    Option("texture_strength", None, "Texture strength 0..1; default: sampled.", kind=float, low=0, high=1,
           optional=True),
    Option("wear", "correct", "Wear style (correct, nose, chin, ear) or a mix such as "
                              "correct=0.7,nose=0.2,chin=0.1. nose, chin and ear (hanging from one ear) give "
                              "the incorrect_mask label.", metavar="STYLE|MIX"),
    Option("shape_jitter", 1.0, "How much each mask's shape varies (0: the catalogue shape).", kind=float,
           flag=None),
    Option("seed", 0, "Run seed; each image's seed derives from it and its path.", kind=int),
    Option("detector", "auto", "Face detector: auto (hog, then mtcnn where hog finds nothing), hog, cnn, mtcnn (finds masked "
           "faces; extra maskgen[mtcnn]), or 'none' when the inputs are already face crops.", choices=detectors),
    Option("min_face", 80, "Smallest face to find, px (box side): detection scans the coarsest copy of the photo "
                           "that still finds such a face, and finer ones (down to 40 px), then rotated copies, only "
                           "where nothing was found.", kind=int, low=8, high=100000, what="min face", metavar="PX"),
    Option("upsample", None, "Instead of --min-face's search: one scan of the photo upsampled this many times "
                             "(0: as it is, faces from ~80 px; 1: faces from ~40 px, 4x slower).",
           kind=int, low=0, high=4, optional=True, show_default="off"),
    Option("crop", "full", "full: whole images with every face masked (plus COCO files); face: one square crop "
                           "per face.", choices=CROP_MODES, what="crop mode"),
    Option("crop_size", 224, "Side of face crops in pixels.", kind=int, low=16, high=4096),
    Option("crop_drop", 0.0, "Face crops' centres this share of the face side lower on average (more of the neck, "
                             "where masks pulled down hang; maskgen train reads it and predicts the same way).",
           kind=float, low=-0.5, high=0.5, metavar="SHARE"),
    Option("variants", 1, "Masked variants per image (full) or per face (face).", kind=int, low=1, high=1000),
    Option("negatives", 1.0, "Unmasked (without_mask) outputs per masked variant; fractions are drawn per image.",
           kind=float, low=0, high=100, what="negatives ratio", metavar="RATIO"),
    Option("paired_negatives", False, "Unmasked output j shares masked variant j's augmentation and crop draws: the "
                                      "same photo, turned, cut and lit the same, with and without its mask, so "
                                      "only the mask tells the two apart.", kind=bool),
    Option("split", (0.8, 0.1, 0.1), "Split fractions, assigned by identity (first-level subfolder of SRC, else "
                                     "the image).", metavar="TRAIN,VAL,TEST"),
    Option("augment", "realistic", "Augmentation preset or a config file (.toml or .json).",
           what="augmentation", metavar="none|light|heavy|realistic|FILE"),
    Option("min_visible", 0.5, "Drop a face with less than this fraction of its box left in the frame after "
                               "augmentation.", kind=float, low=0, high=1, flag=None),
    Option("min_mask_visible", 0.5, "Draw the augmentation (and crop) again when less than this share of a mask "
                                    "is left in sight (cut off, or under a hand): its label would not fit "
                                    "its pixels.", kind=float, low=0, high=1, flag=None),
    Option("image_format", "jpg", "Output image format.", choices=OUTPUT_FORMATS, what="output format",
           flag="--format"),
    Option("quality", 95, "JPEG / WebP quality.", kind=int, low=1, high=100),
    Option("max_pixels", DEFAULT_MAX_PIXELS, "Skip images with more pixels than this (checked before decoding; "
                                             "0: no limit).", kind=int, low=0, optional=True, what="max pixels"),
)
OPTION = {o.name: o for o in OPTIONS}

RUN_OPTIONS = (
    Option("workers", None, "Worker processes (with --runner dask and no --scheduler: the local cluster's).",
           kind=int, low=1, high=1024, optional=True, show_default="all cores"),
    Option("runner", "local", "local: this machine's cores; dask: tasks on a dask.distributed cluster "
                              "(extra maskgen[dask]); both write the same bytes.", choices=RUNNERS),
    Option("limit", None, "Process at most N new images (a trial run; a later run carries on).", kind=int, low=0,
           optional=True),
)
RUN_OPTION = {o.name: o for o in RUN_OPTIONS}

# the settings whose values are parsed (not just range-checked) by DatasetConfig.validated
_CHECKED = [o for o in OPTIONS if o.kind is not str or o.choices is not None]


def _default(name: str):
    return OPTION[name].default


@dataclass
class DatasetConfig:
    """Everything that decides a dataset's content (``OUT/settings.json`` keeps it).

    mask_type, color, texture, texture_strength, wear, shape_jitter: as in
    :class:`maskgen.MaskOptions` (``wear`` may be a mix such as ``'correct=0.7,nose=0.2,chin=0.1'``).
    seed: the run seed; each source's seed derives from it and the source's relative path.
    detector, min_face, upsample: face detection (one of :data:`maskgen.detect.faces.DETECTORS`; ``none``
    for face crops), the smallest face to find in pixels, or (``upsample`` not None) one scan at that
    upsampling instead (:func:`maskgen.find_faces`).
    crop: ``'full'`` (whole images, every face masked; COCO export) or ``'face'`` (one square
    crop per face with a random margin, resized to ``crop_size``); ``crop_drop`` moves the crops' centres
    down by that share of the face side on average.
    variants: masked variants per source image (full) or per face (face).
    negatives: unmasked (``without_mask``) outputs per masked variant; fractions are drawn
    per source, e.g. 0.5 gives a negative for about half the sources.
    paired_negatives: unmasked output j takes masked variant j's augmentation and crop draws (the one
    that variant kept), so the pair differs only by the mask; negatives beyond ``variants`` draw their own.
    split: train/val/test fractions, assigned by identity (first-level subfolder, else the image).
    augment: ``'none'``, ``'light'``, ``'heavy'``, a config file path, or a spec dict.
    min_visible: a face whose box keeps less than this fraction inside the frame after
    augmentation is dropped (and listed in skipped.csv).
    min_mask_visible: an output (a face's crop, in crop mode) that keeps less than this share of a mask
    in sight is drawn again (:data:`maskgen.dataset.job.AUGMENT_DRAWS` draws at most), then dropped.
    image_format, quality: output encoding (``jpg``, ``png`` or ``webp``; quality for jpg/webp).
    max_pixels: larger sources are skipped before decoding (None or 0: no limit).

    Defaults, ranges and choices: :data:`OPTIONS`.
    """

    mask_type: str = _default("mask_type")
    color: str | None = _default("color")
    texture: str | None = _default("texture")
    texture_strength: float | None = _default("texture_strength")
    wear: str | dict = _default("wear")
    shape_jitter: float = _default("shape_jitter")
    seed: int = _default("seed")
    detector: str = _default("detector")
    min_face: int = _default("min_face")
    upsample: int | None = _default("upsample")
    crop: str = _default("crop")
    crop_size: int = _default("crop_size")
    crop_drop: float = _default("crop_drop")
    variants: int = _default("variants")
    negatives: float = _default("negatives")
    paired_negatives: bool = _default("paired_negatives")
    split: tuple[float, ...] | str = _default("split")
    augment: str | dict = _default("augment")
    min_visible: float = _default("min_visible")
    min_mask_visible: float = _default("min_mask_visible")
    image_format: str = _default("image_format")
    quality: int = _default("quality")
    max_pixels: int | None = _default("max_pixels")

    def validated(self) -> "DatasetConfig":
        """A checked copy with normalised values; ValueError with a clear message if something is wrong."""
        c = dataclasses.replace(self)
        if not isinstance(c.mask_type, str):
            c.mask_type = ",".join(c.mask_type)
        c.mask_type = ",".join(t.strip() for t in c.mask_type.split(",") if t.strip()) or "random"
        if isinstance(c.wear, dict):
            c.wear = ",".join(f"{k}={v}" for k, v in c.wear.items())
        c.wear = ",".join(f"{k}={round(v, 6):g}" for k, v in parse_wear(c.wear).items())
        if c.texture not in (None, "none", "random") and os.path.isfile(str(c.texture)):
            c.texture = str(Path(c.texture).resolve())
        c.image_format = str(c.image_format).lower().lstrip(".")
        if c.image_format == "jpeg":
            c.image_format = "jpg"
        for option in _CHECKED:
            setattr(c, option.name, option.check(getattr(c, option.name)))
        from maskgen.mask.sampling import sample_attributes  # cv2, through the textures: heavy for the CLI

        # mask type, colour, texture and wear are checked by sampling once
        sample_attributes(c.mask_options(c.wear), np.random.default_rng(0))
        c.split = parse_split(c.split)
        c.augment = resolve_augment(c.augment)
        if c.max_pixels == 0:
            c.max_pixels = None
        return c

    def mask_options(self, wear=None) -> MaskOptions:
        """The :class:`maskgen.MaskOptions` for one mask call (``wear`` overrides the mix)."""
        return MaskOptions(mask_type=self.mask_type, color=self.color, texture=self.texture,
                           texture_strength=self.texture_strength, wear=self.wear if wear is None else wear,
                           shape_jitter=self.shape_jitter)

    @property
    def split_names(self) -> tuple[str, ...]:
        return SPLIT_NAMES[:len(parse_split(self.split))]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["split"] = list(d["split"]) if not isinstance(d["split"], str) else d["split"]
        return d


def resolve_augment(value):
    """A preset name stays a name; a file path becomes its checked spec dict; a dict is checked."""
    from maskgen.augment import PRESETS, load_augment_config, validate_spec  # imgaug: heavy

    if isinstance(value, dict):
        return validate_spec(value)
    value = str(value)
    if value in PRESETS:
        return value
    if os.path.isfile(value):
        return load_augment_config(value)
    raise ValueError(f"augmentation {value!r} is neither a preset ({', '.join(PRESETS)}) nor a file")
