"""Things on and in front of a face: a beard behind any mask, a hand over the mouth or chin, strands of
hair over the cheeks.

Drawn in the face's own frame (eye centres one unit apart, their midpoint the origin, y down; the mouth
at about (0, 1.05), the chin at (0, 1.8)), from its landmarks or, without them, from its box. A hand
takes the colour of the person's own skin (between the eyes, above any mask) and is shaded finger by
finger; hair takes the colour found above the forehead. Each returns the new image and the coverage
drawn (0..1), so the caller can take the covered part out of the mask alphas.
"""
from __future__ import annotations

import cv2
import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # Rec. 601 luma of sRGB values
NATURAL_HAIR = np.array([[28, 22, 20], [52, 36, 26], [92, 64, 42], [150, 112, 72], [196, 160, 110],
                         [120, 60, 35], [150, 150, 150]], np.float32)


class FaceFrame:
    """The face frame of one face: ``to_image`` maps face units to image pixels."""

    def __init__(self, landmarks, box):
        if landmarks is not None:
            right, left = landmarks[36:42].mean(0), landmarks[42:48].mean(0)
        else:  # eyes at about 38% of a detector box's height, 42% of its width apart
            x0, y0, x1, y1 = box
            cy, cx, span = y0 + 0.38 * (y1 - y0), (x0 + x1) / 2, 0.21 * (x1 - x0)
            right, left = np.array([cx - span, cy]), np.array([cx + span, cy])
        self.origin = (right + left) / 2
        self.u = left - right
        self.v = np.array([-self.u[1], self.u[0]])
        self.scale = float(np.hypot(*self.u))
        self.down = self.v / max(self.scale, 1e-9)  # unit vector down the face

    def to_image(self, pts) -> np.ndarray:
        p = np.atleast_2d(np.asarray(pts, np.float64))
        return self.origin + p[:, :1] * self.u + p[:, 1:2] * self.v

    def grid(self, box) -> tuple[np.ndarray, np.ndarray]:
        """Face-frame coordinates (x across, in eye distances from the midline; y down) of every pixel
        of the image region ``box`` (x0, y0, x1, y1, whole pixels)."""
        x0, y0, x1, y1 = box
        py, px = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        rel_x, rel_y = px - self.origin[0], py - self.origin[1]
        return ((rel_x * self.u[0] + rel_y * self.u[1]) / self.scale ** 2,
                (rel_x * self.v[0] + rel_y * self.v[1]) / self.scale ** 2)


def _patch(image, centre, radius):
    h, w = image.shape[:2]
    x, y = np.round(centre).astype(int)
    r = max(1, int(radius))
    p = image[max(y - r, 0):min(y + r + 1, h), max(x - r, 0):min(x + r + 1, w)]
    return p.reshape(-1, 3).astype(np.float32) if p.size else None


def sampled_colour(image, frame: FaceFrame, points, radius: float) -> np.ndarray | None:
    """Median colour of small patches at face-frame ``points``."""
    parts = [_patch(image, c, radius * frame.scale) for c in frame.to_image(points)]
    parts = [p for p in parts if p is not None]
    return np.median(np.vstack(parts), axis=0) if parts else None


# where skin shows on a face whether it wears a mask or not: between the eyes, the nose bridge, the forehead
SKIN_POINTS = [[0.0, -0.02], [0.0, 0.1], [-0.3, -0.55], [0.3, -0.55], [0.0, -0.7]]


def hair_colour(image, frame: FaceFrame, rng: np.random.Generator, natural_share: float) -> np.ndarray:
    """The colour found above the forehead, or (where none is found, or for ``natural_share`` of the
    calls) a natural hair colour."""
    found = sampled_colour(image, frame, [[-0.6, -1.25], [0.0, -1.4], [0.6, -1.25]], 0.12)
    if found is None or rng.random() < natural_share:
        found = NATURAL_HAIR[int(rng.integers(len(NATURAL_HAIR)))]
    return found


def skin_colour(image, frame: FaceFrame) -> np.ndarray | None:
    """The person's skin colour: the patches above the mask that look like the skin between the eyes
    (warm, about as bright), hair and glasses left out."""
    medians = [np.median(p, axis=0) for p in (_patch(image, c, 0.07 * frame.scale) for c in frame.to_image(SKIN_POINTS))
               if p is not None]
    if not medians:
        return None
    ref = medians[0]
    lum = lambda c: float(c @ [0.3, 0.59, 0.11])  # noqa: E731
    kept = [m for m in medians if m[0] >= m[2] - 5 and 0.7 * lum(ref) <= lum(m) <= 1.4 * lum(ref) + 1]
    return np.median(np.vstack(kept or [ref]), axis=0)


def _capsule(px, py, a, b, r):
    """Signed distance (pixels) to a capsule from a to b of radius r, and the distance to its axis."""
    ab = b - a
    t = np.clip(((px - a[0]) * ab[0] + (py - a[1]) * ab[1]) / max(float(ab @ ab), 1e-9), 0, 1)
    d = np.hypot(px - a[0] - t * ab[0], py - a[1] - t * ab[1])
    return d - r, d / max(r, 1e-6)


def hand_parts(size: float, curl: float) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Capsules (start, end, radius) of a hand in its own frame, face units: wrist at the origin, fingers
    along -y (up), side by side, palm toward the camera, thumb to +x; ``size`` 1 is an adult hand (palm
    about 1.3 eye distances wide); ``curl`` shortens the fingers as they bend away from the camera."""
    s = 1.3 * size
    parts = [(np.array([0.0, 0.55 * s]), np.array([0.0, 3.0 * s]), 0.4 * s),  # forearm, out of frame
             (np.array([-0.14 * s, -0.08 * s]), np.array([-0.13 * s, -0.6 * s]), 0.36 * s),  # palm
             (np.array([0.14 * s, -0.06 * s]), np.array([0.13 * s, -0.6 * s]), 0.34 * s)]
    for dx, length, spread, bend in ((-0.36, 0.6, -0.09, 0.9), (-0.12, 0.78, -0.03, 1.0), (0.12, 0.82, 0.02, 1.0),
                                     (0.35, 0.72, 0.08, 0.8)):
        base = np.array([dx * s, -0.74 * s])
        tip = base + length * s * (1 - curl * bend) * np.array([np.sin(spread), -np.cos(spread)])
        parts.append((base, tip, 0.11 * s))
    thumb_base = np.array([0.4 * s, -0.12 * s])
    parts.append((thumb_base, thumb_base + 0.52 * s * np.array([0.55, -0.84]), 0.13 * s))
    return parts


POSES = (  # palm centre (x toward the hand's side) and the fingers' turn from upright toward the face's middle
    ((0.15, 1.15), (0.7, 1.2)),  # palm over the mouth, fingers across a cheek
    ((0.25, 2.05), (1.3, 1.7)),  # under the chin, fingers along the jaw
    ((0.85, 1.35), (-0.35, 0.1)),  # from the side, fingers up over the cheek
)


def draw_hand(image: np.ndarray, frame: FaceFrame, rng: np.random.Generator, size: float):
    """A hand over the mouth, under the chin or on a cheek; returns (image, coverage)."""
    (cx, cy), (lo, hi) = POSES[int(rng.integers(len(POSES)))]
    side = float(rng.choice([-1.0, 1.0]))  # the hand comes from the image's left (-1) or right
    angle = -side * float(rng.uniform(lo, hi))
    curl = float(rng.uniform(0.0, 0.4))
    skin = skin_colour(image, frame)
    skin = np.array([190, 140, 115], np.float32) if skin is None else skin
    skin = np.clip(skin * rng.uniform(0.85, 1.08) * np.array([1.03, 0.99, 0.97]), 0, 255)
    c, s = np.cos(angle), np.sin(angle)
    turn = np.array([[c, -s], [s, c]]) @ np.diag([side, 1.0])
    palm = np.array([side * cx, cy])
    wrist = palm - turn @ np.array([0.02, -0.48 * size])
    parts = []
    for a, b, r in hand_parts(size, curl):
        a_img, b_img = frame.to_image(np.vstack([turn @ a, turn @ b]) + wrist)
        parts.append((a_img, b_img, r * frame.scale))
    return _paint_parts(image, parts, skin, frame.scale, rng)


def _region(points: np.ndarray, pad: float, w: int, h: int) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 of the pixels within ``pad`` of the points' box, clipped to a w x h image."""
    x0, y0 = np.maximum(np.floor(points.min(0) - pad).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(points.max(0) + pad).astype(int), [w, h])
    return int(x0), int(y0), int(x1), int(y1)


def _paint_parts(image, parts, colour, scale, rng):
    """Union of shaded capsules over the image, with a soft shadow under them."""
    h, w = image.shape[:2]
    pts = np.vstack([np.vstack([a, b]) for a, b, _ in parts])
    x0, y0, x1, y1 = _region(pts, max(r for _, _, r in parts) + 3, w, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return image, np.zeros((h, w), np.float32)
    py, px = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    sdf = np.full(px.shape, 1e9, np.float32)
    shade = np.zeros(px.shape, np.float32)
    for a, b, r in parts:
        d, axis = _capsule(px, py, a, b, r)
        roundness = np.sqrt(np.clip(1 - axis ** 2, 0, 1))  # a cylinder's normal toward the camera
        nearer = d < sdf
        shade = np.where(nearer, roundness, np.maximum(shade, roundness * (d < 0)))
        sdf = np.minimum(sdf, d)
    cover = np.clip(0.5 - sdf, 0, 1)
    # rounded fingers darken toward their sides (dark lines where they touch), lit a little from above
    grad = np.gradient(shade, axis=0)
    light = 0.55 + 0.5 * shade ** 0.6 - 1.5 * np.clip(grad, -0.1, 0.1) + 0.05 * (rng.random(shade.shape) - 0.5)
    patch = colour[None, None, :] * light[..., None] * np.array([1.0, 0.96, 0.94])
    patch = cv2.GaussianBlur(patch.astype(np.float32), (0, 0), max(0.5, 0.006 * scale))
    roi = image[y0:y1, x0:x1].astype(np.float32)
    drop = int(round(0.06 * scale))
    below = np.zeros_like(cover)
    below[drop:] = cover[:cover.shape[0] - drop]
    shadow = cv2.GaussianBlur(below, (0, 0), max(1.0, 0.05 * scale))
    roi *= 1 - 0.35 * shadow[..., None]
    out_roi = roi * (1 - cover[..., None]) + patch * cover[..., None]
    out = image.copy()
    out[y0:y1, x0:x1] = np.clip(np.round(out_roi), 0, 255).astype(np.uint8)
    full = np.zeros((h, w), np.float32)
    full[y0:y1, x0:x1] = cover
    return out, full


def draw_hair(image: np.ndarray, frame: FaceFrame, rng: np.random.Generator, count: int):
    """Locks of hair falling from the temples over the cheeks and the mask's sides; returns (image, coverage).

    ``count`` strands are shared among one to three locks; each lock follows one curve from the
    hairline down past the cheek, its strands fanned a little apart.
    """
    h, w = image.shape[:2]
    found = hair_colour(image, frame, rng, 0.4)
    locks = 1 + min(int(rng.integers(3)), count // 6)
    prem = np.zeros((h, w, 3), np.float32)
    cover = np.zeros((h, w), np.float32)
    t = np.linspace(0, 1, 16)[:, None]
    for _ in range(locks):
        sign = float(rng.choice([-1.0, 1.0]))
        start = np.array([sign * rng.uniform(0.85, 1.2), rng.uniform(-0.9, -0.3)])
        end = np.array([start[0] - sign * rng.uniform(0.05, 0.45), rng.uniform(1.2, 2.4)])
        bend = (start + end) / 2 + [sign * rng.uniform(-0.1, 0.2), 0.0]
        spread = rng.uniform(0.03, 0.12)
        for _ in range(max(1, count // locks)):
            offset = rng.normal(0, spread, 3)
            curve = ((1 - t) ** 2 * (start + [offset[0], 0]) + 2 * t * (1 - t) * (bend + [offset[1], 0]) +
                     t ** 2 * (end + [offset[2], rng.uniform(-0.3, 0.1)]))
            pts = np.round(frame.to_image(curve) * 16).astype(np.int32)
            width = max(1, int(round(rng.uniform(0.006, 0.02) * frame.scale)))
            alpha = rng.uniform(0.5, 0.95)
            tone = np.clip(found * rng.uniform(0.65, 1.4), 0, 255)
            # drawn in the strand's own box (a whole-image layer per strand cost most of the time)
            x0, y0, x1, y1 = _region(pts / 16, width + 2, w, h)
            if x1 <= x0 or y1 <= y0:
                continue
            layer = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.polylines(layer, [pts - [x0 * 16, y0 * 16]], False, 255, width, cv2.LINE_AA, shift=4)
            a = layer.astype(np.float32) / 255.0 * alpha
            prem[y0:y1, x0:x1] = prem[y0:y1, x0:x1] * (1 - a[..., None]) + tone * a[..., None]
            cover[y0:y1, x0:x1] = cover[y0:y1, x0:x1] * (1 - a) + a
    out = image.astype(np.float32) * (1 - cover[..., None]) + prem
    return np.clip(np.round(out), 0, 255).astype(np.uint8), cover


BEARD_STYLES = ("full", "stubble", "goatee", "moustache")


def _polygon_mask(shape: tuple[int, int], polygon, origin) -> np.ndarray:
    """Anti-aliased fill (0..1, float32) of an image-space polygon in a region of ``shape`` at ``origin``."""
    layer = np.zeros(shape, np.uint8)
    pts = np.round((np.asarray(polygon, np.float64) - origin) * 16).astype(np.int32)
    cv2.fillPoly(layer, [pts], 255, cv2.LINE_AA, shift=4)
    return layer.astype(np.float32) / 255.0


def _hair_texture(shape: tuple[int, int], rng: np.random.Generator, length: float, angle: float) -> np.ndarray:
    """Noise smeared along ``angle`` (radians, image space) over ``length`` pixels: hairs, 0..1, mean about 0.5."""
    k = max(3, int(round(length)) | 1)
    kernel = np.zeros((k, k), np.float32)
    c, d = (k - 1) / 2, np.array([np.cos(angle), np.sin(angle)])
    p0, p1 = np.round((c - d * c) * 16).astype(int), np.round((c + d * c) * 16).astype(int)
    cv2.line(kernel, tuple(int(v) for v in p0), tuple(int(v) for v in p1), 1.0, 1, cv2.LINE_AA, shift=4)
    kernel /= max(float(kernel.sum()), 1e-6)
    smeared = cv2.filter2D(rng.random(shape, dtype=np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT)
    spread = float(smeared.std()) or 1.0
    return np.clip(0.5 + 0.22 * (smeared - smeared.mean()) / spread, 0, 1)


def draw_beard(image: np.ndarray, landmarks, frame: FaceFrame, rng: np.random.Generator, strength: float,
               under: np.ndarray | None = None) -> np.ndarray:
    """Facial hair on the jaw, chin and upper lip: a full beard, stubble, a goatee or a moustache.

    Grows between the jaw line (hanging below it for a long beard) and a cheek line from the sideburns
    to beside the nose; never on the lips, the nose or above. ``strength`` 0..1 is how dense it is.
    It is drawn behind any mask: ``under`` (the masks' alphas, summed) keeps it off what they cover,
    so the alphas stay as they are. Takes the hair colour above the forehead or a natural one, and the
    photo's light on the face (the skin's own shading, darker under the jaw). Needs 68 landmarks;
    without them the image comes back unchanged.
    """
    if landmarks is None:
        return image
    lm = np.asarray(landmarks, np.float64)
    h, w = image.shape[:2]
    style = BEARD_STYLES[int(rng.integers(len(BEARD_STYLES)))]
    outline = _beard_outline(lm, frame, rng, style)
    x0, y0, x1, y1 = _region(outline, 0.2 * frame.scale + 4, w, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return image
    density = _beard_density(outline, lm, frame, style, (x0, y0, x1, y1))
    fine = style == "stubble"
    texture = _hair_texture(density.shape, rng, (0.03 if fine else 0.08) * frame.scale,
                            float(np.arctan2(frame.down[1], frame.down[0]) + rng.uniform(-0.35, 0.35)))
    # mostly a darkening of the skin (at training resolution hairs blend into a tone), grained by strands
    solid = strength * (rng.uniform(0.25, 0.5) if fine else rng.uniform(0.6, 0.95))
    cover = density * np.clip(solid + 0.5 * strength * (texture - 0.5), 0, 1)
    if under is not None:
        cover *= 1 - np.clip(under[y0:y1, x0:x1], 0, 1)
    tone = np.clip(hair_colour(image, frame, rng, 0.6) * rng.uniform(0.45, 0.85), 0, 255)
    if fine:  # stubble: a bluish-grey shadow of hair under the skin
        tone = np.clip(0.5 * tone + 0.5 * np.array([70, 66, 68], np.float32), 0, 255)
    roi = image[y0:y1, x0:x1].astype(np.float32)
    lum = roi @ LUMA
    skin_lum = float(np.median(lum[density > 0.5])) if (density > 0.5).any() else float(lum.mean())
    light = np.clip(lum / max(skin_lum, 1.0), 0.3, 1.5) ** 0.8
    hair = tone[None, None, :] * (light * (0.75 + 0.5 * texture))[..., None]
    out = image.copy()
    blended = roi * (1 - cover[..., None]) + hair * cover[..., None]
    out[y0:y1, x0:x1] = np.clip(np.round(blended), 0, 255).astype(np.uint8)
    return out


def _beard_outline(lm: np.ndarray, frame: FaceFrame, rng: np.random.Generator, style: str) -> np.ndarray:
    """Image-space polygon a beard of ``style`` grows in: the jaw line from the sideburns round the chin
    (hanging below it by the style's length), a cheek line, and under the nose."""
    unit, down = frame.scale, frame.down
    hang = {"full": rng.uniform(0.05, 0.45), "stubble": 0.02, "goatee": rng.uniform(0.05, 0.35),
            "moustache": 0.0}[style] * unit
    centre = lm[27:36].mean(0)
    jaw = lm[1:16].copy()  # from the sideburns (below the ears' tops) round the chin
    jaw += (jaw - centre) * 0.04  # just outside the jaw line
    t = np.linspace(-1, 1, 15)[:, None]
    jaw += down * hang * np.cos(t * np.pi / 2) ** 2  # hangs most below the chin
    cheek_r = lm[15] + (lm[54] - lm[15]) * rng.uniform(0.35, 0.6) - down * 0.1 * unit
    cheek_l = lm[1] + (lm[48] - lm[1]) * rng.uniform(0.35, 0.6) - down * 0.1 * unit
    under_nose = [lm[35] + down * 0.09 * unit, lm[33] + down * 0.1 * unit, lm[31] + down * 0.09 * unit]
    return np.vstack([jaw, [cheek_r], under_nose, [cheek_l]])


def _beard_density(outline: np.ndarray, lm: np.ndarray, frame: FaceFrame, style: str, box) -> np.ndarray:
    """How densely hair grows (0..1) over the pixels of ``box`` (x0, y0, x1, y1): the outline less the
    lips, cut to the chin (goatee) or the upper lip (moustache), soft-edged, thinner toward the cheeks."""
    x0, y0, x1, y1 = box
    unit = frame.scale
    origin = np.array([x0, y0], np.float64)
    shape = (y1 - y0, x1 - x0)
    density = _polygon_mask(shape, outline, origin)
    lips = lm[48:60] + (lm[48:60] - lm[48:60].mean(0)) * 0.08
    density *= 1 - _polygon_mask(shape, lips, origin)
    fx, fy = frame.grid(box)
    mouth_top = float(((lm[51] - frame.origin) @ frame.v) / unit ** 2)
    if style == "goatee":
        density *= np.clip((0.5 - np.abs(fx)) / 0.12, 0, 1)
    elif style == "moustache":
        density *= np.clip((0.6 - np.abs(fx)) / 0.1, 0, 1) * np.clip((mouth_top + 0.04 - fy) / 0.06, 0, 1)
    density = cv2.GaussianBlur(density, (0, 0), max(0.6, 0.035 * unit))
    # thinner toward the cheeks and the sideburns, as real beards grow
    density *= np.clip(1.25 - 0.5 * np.abs(fx), 0.3, 1)  # in place: float32, as the outputs were measured
    return density
