"""What masking produces: the sampled attributes of a mask, a masked face and the masked image."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from maskgen.detect.face import Face


@dataclass
class MaskAttributes:
    """Everything sampled for one mask: enough to reproduce it and to label it."""

    mask_type: str
    wear: str
    color: str  # hex '#rrggbb'
    color_name: str
    texture: str  # 'none', a procedural texture name, or a file name
    texture_strength: float
    height: float  # relative shape variation, 1.0 = catalog default
    width: float
    top: float  # shift of the top edge, in face-height units (positive = lower)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class MaskedFace:
    """A face after masking: its face data, the mask's alpha (image-sized, 0..1) and attributes."""

    face: Face
    alpha: np.ndarray
    attributes: MaskAttributes


@dataclass
class MaskResult:
    """The masked image (RGB uint8) and one entry per masked face."""

    image: np.ndarray
    faces: list[MaskedFace] = field(default_factory=list)
    skipped: list[tuple[Face, str]] = field(default_factory=list)

    @property
    def alpha(self) -> np.ndarray:
        """Union of all masks' alpha."""
        if not self.faces:
            return np.zeros(self.image.shape[:2], np.float32)
        return np.max(np.stack([f.alpha for f in self.faces]), axis=0)
