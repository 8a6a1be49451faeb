"""A face turned in depth (yaw, pitch): a smooth warp that moves it as a head turned by an angle would look.

The portraits people generate from are nearly all frontal; real photos are not. Each of the 68
landmarks gets a generic depth (:data:`DEPTH`, in eye distances, toward the camera, measured from the
plane of the eye corners; about an adult head's shape). Turning the head by ``degrees`` about a
vertical axis behind the face (:data:`AXIS_DEPTH`, near the ears) and projecting orthographically
moves every landmark sideways by ``x cos + (z - axis) sin``: the far cheek is squeezed, the near one
stretched, the nose slides toward the far side. The head's outline, a ring around the face, stays
put (a head is about round seen from above) and the image beyond it is untouched.

Pitch (looking down or up) nods the head about a horizontal axis at the top of the neck
(:data:`PITCH_AXIS`, behind the face and about mouth level): every landmark moves vertically by
``(y - axis_y) (cos - 1) + (z - axis_z) sin``. Looking down, the face slides down inside its outline
(more forehead, less neck), its lower half is foreshortened and the nose tip drops toward the
upper lip, as in photos taken from above; looking up, the reverse. The face is turned first, then
nodded, in one warp.

The image moves by a thin-plate spline through those points (:class:`TurnWarp`): landmarks land
exactly where the turn puts them, the mask's alpha and every other point (boxes, other faces) move
with the pixels. Angles that would fold the warp (a feature sliding over its neighbour) are halved
until none does. Plain numpy and OpenCV; no model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from maskgen.augment.occluders import FaceFrame

# depth toward the camera per landmark, in eye-centre distances, from the plane of the eye corners
_JAW = (-0.95, -0.88, -0.78, -0.64, -0.47, -0.3, -0.15, -0.03, 0.02)  # 0..8 (ear level to chin); 9..16 mirror
_BROW = (-0.45, -0.2, -0.04, 0.04, 0.08)  # 17..21 (outer to inner); 22..26 mirror
_NOSE = (0.06, 0.17, 0.28, 0.42)  # 27..30 bridge to tip
_NOSTRILS = (0.1, 0.18, 0.24, 0.18, 0.1)  # 31..35
_EYE = (-0.28, -0.1, -0.06, -0.04, -0.07, -0.14)  # 36..41 (outer corner first); 42..47 mirror
_OUTER_LIPS = (-0.06, 0.07, 0.15, 0.18, 0.15, 0.07, -0.06, 0.05, 0.12, 0.14, 0.12, 0.05)  # 48..59
_INNER_LIPS = (-0.03, 0.12, 0.15, 0.12, -0.03, 0.11, 0.13, 0.11)  # 60..67


def _depth_table() -> np.ndarray:
    z = np.zeros(68)
    z[0:9] = _JAW
    z[9:17] = _JAW[7::-1]
    z[17:22] = _BROW
    z[22:27] = _BROW[::-1]
    z[27:31] = _NOSE
    z[31:36] = _NOSTRILS
    z[36:42] = _EYE
    z[42:48] = (_EYE[3], _EYE[2], _EYE[1], _EYE[0], _EYE[5], _EYE[4])  # 42 inner corner .. 45 outer
    z[48:60] = _OUTER_LIPS
    z[60:68] = _INNER_LIPS
    return z


DEPTH = _depth_table()
# how much each landmark follows the face's outline rather than its skin: the jaw from the ears down to
# the cheeks is the outline seen from the front; the chin and every inner point are skin
OUTLINE = np.zeros(68)
OUTLINE[[0, 1, 2, 14, 15, 16]] = 1.0
OUTLINE[[3, 13]] = 0.7
OUTLINE[[4, 12]] = 0.35
KNEE = 0.8  # far-side skin beyond this share of the outline's reach is squeezed toward it, never past it
AXIS_DEPTH = -1.05  # the vertical axis a head turns about, in eye distances behind the eye corners
PITCH_AXIS = (0.9, -1.0)  # the horizontal axis a head nods about: eye distances below the eyes, behind them
RING = 1.45  # the head's outline, fixed by the warp: this many times the face's radius from its centre
FALLOFF = 1.35  # the warp fades to nothing between the ring and this many times its radius
GRID = 1 / 20  # the spline is evaluated every GRID x the face radius (at least 4 px) and interpolated between


@dataclass
class TurnWarp:
    """One turn: the moved landmarks, the pixel maps of the warped region, and a point mover."""

    degrees: float  # the turn (yaw) used, after halving to avoid folds
    pitch: float  # the nod used (positive: looking down), halved with the turn
    landmarks: np.ndarray  # (68, 2) where the turned face's landmarks land
    window: tuple[int, int, int, int]  # x0, y0, x1, y1 of the image region that changes
    map_x: np.ndarray  # for each output pixel of the window, the source x (float32)
    map_y: np.ndarray
    _forward: tuple  # the spline that moves source points to output points

    def apply(self, image: np.ndarray, interpolation=cv2.INTER_LINEAR) -> np.ndarray:
        """``image`` (H, W[, C]) warped; a new array, the input untouched."""
        x0, y0, x1, y1 = self.window
        out = image.copy()
        out[y0:y1, x0:x1] = cv2.remap(image, self.map_x, self.map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)
        return out

    def move_points(self, points: np.ndarray) -> np.ndarray:
        """Source points (N, 2), in landmark (pixel-index) coordinates, where the warp puts them."""
        points = np.asarray(points, np.float64).reshape(-1, 2)
        return points + _faded(self._forward, points)


def turned_landmarks(landmarks: np.ndarray, degrees: float, pitch: float = 0.0) -> np.ndarray:
    """Where the 68 landmarks go when the head turns by ``degrees`` (positive: the nose moves toward
    image right) and then nods by ``pitch`` (positive: looking down), in the face's own frame so a
    tilted face turns about its own vertical."""
    frame = FaceFrame(landmarks, None)
    rel = landmarks - frame.origin
    x, y = rel @ frame.u / frame.scale ** 2, rel @ frame.v / frame.scale ** 2  # in eye distances
    t = math.radians(degrees)
    rigid = x * math.cos(t) + (DEPTH - AXIS_DEPTH) * math.sin(t)  # rotated about (x 0, depth AXIS_DEPTH)
    # the upper jaw points mark the face's outline, not points of its skin: an outline stays the outline,
    # the widest the head's cross-section (an ellipse this wide, reaching from the axis to the cheeks) projects
    outline = np.sign(x) * np.sqrt((x * math.cos(t)) ** 2 + (AXIS_DEPTH * math.sin(t)) ** 2)
    x_new = (1 - OUTLINE) * rigid + OUTLINE * outline
    if t:  # skin on the far side that would pass the outline curls behind it: squeezed against it instead
        far = math.copysign(1.0, t)
        edge = np.abs(outline[[0, 16]]).mean()
        knee, room = KNEE * edge, (0.98 - KNEE) * edge
        past = np.maximum(far * x_new - knee, 0.0) * (OUTLINE < 1)
        x_new = x_new - far * (past - room * past / (room + past))
    y_new = y
    if pitch:
        depth = (DEPTH - AXIS_DEPTH) * math.cos(t) - x * math.sin(t) + AXIS_DEPTH  # depth after the turn
        q = math.radians(pitch)
        axis_y, axis_z = PITCH_AXIS
        y_new = axis_y + (y - axis_y) * math.cos(q) + (depth - axis_z) * math.sin(q)
    return frame.to_image(np.stack([x_new, y_new], axis=1))


def _ring(landmarks: np.ndarray, n: int = 24) -> tuple[np.ndarray, np.ndarray, float]:
    """Points on the head's outline around the face, its centre and radius (pixels)."""
    centre = (landmarks.min(axis=0) + landmarks.max(axis=0)) / 2
    radius = float(np.max(np.hypot(*(landmarks - centre).T)))
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ring = centre + RING * radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return ring, centre, radius


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) squared distances between two point sets."""
    r2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(r2, 0.0, out=r2)


def _kernel(r2: np.ndarray) -> np.ndarray:
    """Thin-plate spline kernel U = r^2 log r^2 / 2 (U(0) = 0)."""
    return 0.5 * r2 * np.log(np.maximum(r2, 1e-12))


def _fit(src: np.ndarray, dst: np.ndarray, centre: np.ndarray, radius: float) -> tuple:
    """A spline of the displacement that takes ``src`` to ``dst``, fading out beyond the ring."""
    n = len(src)
    k = _kernel(_squared_distances(src, src))
    p = np.hstack([np.ones((n, 1)), src])
    a = np.zeros((n + 3, n + 3))
    a[:n, :n], a[:n, n:], a[n:, :n] = k, p, p.T
    b = np.zeros((n + 3, 2))
    b[:n] = dst - src
    coef = np.linalg.solve(a + 1e-9 * np.eye(n + 3), b)
    return src, coef, centre, radius


def _faded(spline: tuple, points: np.ndarray) -> np.ndarray:
    """The spline's displacement at ``points``, 1x inside the ring, fading to 0 at FALLOFF x the ring."""
    src, coef, centre, radius = spline
    n = len(src)
    u = _kernel(_squared_distances(points, src))
    disp = u @ coef[:n] + coef[n] + points @ coef[n + 1:]
    r = np.hypot(*(points - centre).T) / (RING * radius)
    t = np.clip((r - 1.0) / (FALLOFF - 1.0), 0.0, 1.0)
    return disp * (1 - t * t * (3 - 2 * t))[:, None]  # smoothstep: no crease where the fade begins


def _folds(spline: tuple, window, step: int = 8) -> bool:
    """Whether the mapping folds anywhere in the window (its Jacobian's determinant drops to <= 0.01)."""
    x0, y0, x1, y1 = window
    xs, ys = np.arange(x0, x1, step, dtype=np.float64), np.arange(y0, y1, step, dtype=np.float64)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    moved = (pts + _faded(spline, pts)).reshape(len(ys), len(xs), 2)
    if moved.shape[0] < 2 or moved.shape[1] < 2:
        return False
    dx = np.diff(moved, axis=1)[:-1]
    dy = np.diff(moved, axis=0)[:, :-1]
    det = (dx[..., 0] * dy[..., 1] - dx[..., 1] * dy[..., 0]) / step ** 2
    return bool(det.min() <= 0.01)


def turn_face(image_shape: tuple, landmarks: np.ndarray, degrees: float, pitch: float = 0.0) -> TurnWarp | None:
    """The warp that turns the face with these landmarks by ``degrees`` and nods it by ``pitch``
    (None: too small to warp)."""
    h, w = image_shape[:2]
    landmarks = np.asarray(landmarks, np.float64)
    ring, centre, radius = _ring(landmarks)
    if radius < 4 or FaceFrame(landmarks, None).scale < 2:  # too small, or no eye line to turn about
        return None
    reach = RING * FALLOFF * radius
    window = (max(0, int(centre[0] - reach)), max(0, int(centre[1] - reach)),
              min(w, int(math.ceil(centre[0] + reach)) + 1), min(h, int(math.ceil(centre[1] + reach)) + 1))
    if window[2] - window[0] < 2 or window[3] - window[1] < 2:
        return None
    grid = max(4, int(round(GRID * radius)))
    for _ in range(4):
        moved = turned_landmarks(landmarks, degrees, pitch)
        src, dst = np.vstack([landmarks, ring]), np.vstack([moved, ring])
        forward = _fit(src, dst, centre, radius)
        if not _folds(forward, window, 2 * grid):
            break
        degrees, pitch = degrees / 2, pitch / 2
    else:
        return None
    # the image needs, for each output pixel, where it came from: the spline from output to source
    inverse = _fit(dst, src, centre, radius)
    x0, y0, x1, y1 = window
    gx = np.arange(x0, x1 + grid, grid, dtype=np.float64)
    gy = np.arange(y0, y1 + grid, grid, dtype=np.float64)
    mx, my = np.meshgrid(gx, gy)
    pts = np.stack([mx.ravel(), my.ravel()], axis=1)
    back = (pts + _faded(inverse, pts)).reshape(len(gy), len(gx), 2).astype(np.float32)
    # node k of the coarse grid sits at x0 + k * grid: pixel i of the window is node i / grid
    ix, iy = np.meshgrid(np.arange(x1 - x0, dtype=np.float32) / grid, np.arange(y1 - y0, dtype=np.float32) / grid)
    map_x = cv2.remap(back[..., 0], ix, iy, cv2.INTER_LINEAR)
    map_y = cv2.remap(back[..., 1], ix, iy, cv2.INTER_LINEAR)
    return TurnWarp(float(degrees), float(pitch), moved, window, map_x, map_y, forward)
