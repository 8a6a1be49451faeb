"""Fit: map the canonical face frame onto a photographed face.

The mesh's vertices are the face's own landmarks (60 of them) plus rings pushed out beyond the
jaw (the farthest beside the jaw and down the neck) and above the brows. Each canonical triangle
maps affinely onto its image triangle, so a mask drawn in the canonical frame bends with the jaw, nose and chin of the real face: a turned face
compresses the far side, a tilted face rotates it. Points outside the landmarks are extrapolated
with the face's overall affine pose, shortened on the far side of a turned face.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from maskgen.detect.landmarks import roll_angle
from maskgen.mask.canonical import (BROW_LIFT, CANONICAL_VERTICES, FAR_RING, MEAN_SHAPE, MESH_LANDMARKS,
                                    RING_DISTANCES, TRIANGLES, jaw_normals)

POSE_LANDMARKS = np.r_[0:17, 27:48]  # jaw, nose and eyes: stable under expressions


@dataclass
class Raster:
    """A pixel grid over the canonical frame: pixel (0, 0) is at canonical (x0, y0)."""

    x0: float
    y0: float
    scale: float  # pixels per canonical unit
    width: int
    height: int

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Canonical x and y of every pixel centre."""
        xs = self.x0 + np.arange(self.width, dtype=np.float32) / self.scale
        ys = self.y0 + np.arange(self.height, dtype=np.float32) / self.scale
        return np.meshgrid(xs, ys)

    def to_pixels(self, pts: np.ndarray) -> np.ndarray:
        return (np.asarray(pts, np.float64) - [self.x0, self.y0]) * self.scale

    @classmethod
    def around(cls, bounds: tuple[float, float, float, float], scale: float) -> "Raster":
        x0, y0, x1, y1 = bounds
        return cls(x0, y0, scale, int(np.ceil((x1 - x0) * scale)) + 1, int(np.ceil((y1 - y0) * scale)) + 1)


@dataclass
class FaceMesh:
    """Canonical and image positions of the control mesh for one face."""

    canonical: np.ndarray  # (N, 2)
    image: np.ndarray  # (N, 2)
    triangles: np.ndarray  # (T, 3)
    linear: np.ndarray  # 2x2 part of the least-squares affine canonical -> image
    offset: np.ndarray  # (2,)
    side_factors: tuple[float, float]  # horizontal foreshortening of image-left and image-right sides

    @property
    def scale(self) -> float:
        """Image pixels per canonical unit (the face's interocular distance, roughly)."""
        return float(np.sqrt(abs(np.linalg.det(self.linear))))

    @property
    def roll(self) -> float:
        """In-plane rotation of the face, radians: that of the pose's image of the canonical x axis,
        which runs through the eye centres."""
        return roll_angle(self.linear[:, 0])

    @functools.cached_property
    def triangle_maps(self) -> np.ndarray:
        """(T, 2, 3) affine map of each triangle, canonical -> image (computed once per mesh)."""
        return _triangle_affines(self.canonical, self.image, self.triangles)

    def to_image(self, pts: np.ndarray) -> np.ndarray:
        """Canonical points to image points through the mesh (affine pose outside it)."""
        pts = np.atleast_2d(np.asarray(pts, np.float64))
        out = pts @ self.linear.T + self.offset
        tri_of = _locate(self.canonical, self.triangles, pts)
        inside = tri_of >= 0
        if inside.any():
            m = self.triangle_maps[tri_of[inside]]
            out[inside] = np.einsum("pij,pj->pi", m[:, :, :2], pts[inside]) + m[:, :, 2]
        return out


def _triangle_affines(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(T, 2, 3) affine maps taking each triangle of ``src`` onto the same triangle of ``dst``
    (as :func:`cv2.getAffineTransform` of the float32 corners, for all triangles at once); a degenerate
    ``src`` triangle gets a zero map."""
    a = np.concatenate([src[triangles].astype(np.float32).astype(np.float64), np.ones((len(triangles), 3, 1))], axis=2)
    b = dst[triangles].astype(np.float32).astype(np.float64)
    det = np.linalg.det(a)
    ok = np.abs(det) > 1e-12
    out = np.zeros((len(triangles), 2, 3))
    if ok.any():
        out[ok] = np.linalg.solve(a[ok], b[ok]).transpose(0, 2, 1)
    return out


def _locate(vertices: np.ndarray, triangles: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Index of the (first) triangle holding each point, -1 outside."""
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    v0, v1 = b - a, c - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    w = pts[:, None, :] - a[None]  # (P, T, 2)
    u = (w[..., 0] * v1[:, 1] - v1[:, 0] * w[..., 1]) / den
    v = (v0[:, 0] * w[..., 1] - w[..., 0] * v0[:, 1]) / den
    inside = (u >= -1e-9) & (v >= -1e-9) & (u + v <= 1 + 1e-9)
    return np.where(inside.any(axis=1), inside.argmax(axis=1), -1)


def _affine_fit(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.hstack([src, np.ones((len(src), 1))])
    sol, *_ = np.linalg.lstsq(a, dst, rcond=None)
    return sol[:2].T, sol[2]


def build_mesh(landmarks: np.ndarray) -> FaceMesh:
    """The control mesh of a face from its 68 landmarks."""
    lm = np.asarray(landmarks, np.float64)
    linear, offset = _affine_fit(MEAN_SHAPE[POSE_LANDMARKS], lm[POSE_LANDMARKS])
    # how much each side is foreshortened: nose tip position between the jaw sides, in face-aligned units
    inv = np.linalg.inv(linear)
    aligned = (lm - offset) @ inv.T
    left = max(aligned[30, 0] - aligned[2, 0], 1e-3)
    right = max(aligned[14, 0] - aligned[30, 0], 1e-3)
    f_left = float(np.clip(2 * left / (left + right), 0.15, 1.6))
    f_right = float(np.clip(2 * right / (left + right), 0.15, 1.6))

    canon_jaw = MEAN_SHAPE[0:17]
    canon_normals = jaw_normals(canon_jaw, MEAN_SHAPE[30])

    def ring(d: float) -> np.ndarray:
        """The jaw pushed out by ``d`` units, each side foreshortened as the face is turned."""
        delta = d * canon_normals
        factor = np.where(delta[:, 0] < 0, f_left, f_right)
        return lm[0:17] + np.stack([delta[:, 0] * factor, delta[:, 1]], axis=1) @ linear.T

    lift = np.array([0.0, -BROW_LIFT]) @ linear.T
    image_pts = [lm[MESH_LANDMARKS], *(ring(d) for d in RING_DISTANCES), lm[17:27] + lift, ring(FAR_RING)]
    return FaceMesh(CANONICAL_VERTICES, np.vstack(image_pts), TRIANGLES, linear, offset, (f_left, f_right))


def warp_layers(mesh: FaceMesh, raster: Raster, layers: list[np.ndarray], image_shape: tuple[int, ...],
                region: np.ndarray | None = None):
    """Warp canonical-raster layers onto the image.

    ``region``: canonical polygon outside which nothing is drawn (the mask's bounds), used to keep the
    region of interest small. Returns ``(x0, y0, warped_layers)`` with the layers cut to the region of
    interest whose top-left image pixel is ``(x0, y0)``; ``None`` when the region leaves the image.
    """
    h, w = image_shape[:2]
    tri_img = mesh.image[mesh.triangles]
    if region is not None:
        hull = mesh.to_image(region)
    else:
        hull = mesh.image
    x0 = int(np.floor(max(hull[:, 0].min() - 2, 0)))
    y0 = int(np.floor(max(hull[:, 1].min() - 2, 0)))
    x1 = int(np.ceil(min(hull[:, 0].max() + 3, w)))
    y1 = int(np.ceil(min(hull[:, 1].max() + 3, h)))
    if x1 <= x0 or y1 <= y0:
        return None
    rw, rh = x1 - x0, y1 - y0
    # label every ROI pixel with the triangle covering it; larger triangles first so small ones win
    labels = np.full((rh, rw), -1, np.int32)
    e1, e2 = tri_img[:, 1] - tri_img[:, 0], tri_img[:, 2] - tri_img[:, 0]
    areas = np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    src = (tri_img - [x0, y0]).astype(np.float32)  # (T, 3, 2) ROI pixels
    lo, hi = src.min(axis=1), src.max(axis=1)
    touches = (areas >= 1e-6) & (hi[:, 0] >= -1) & (hi[:, 1] >= -1) & (lo[:, 0] <= rw) & (lo[:, 1] <= rh)
    corners = np.round(src * 16).astype(np.int32)
    for t in np.argsort(-areas):
        if touches[t]:
            cv2.fillConvexPoly(labels, corners[t], int(t), lineType=cv2.LINE_8, shift=4)
    # per triangle: ROI pixel -> raster pixel
    dst = raster.to_pixels(mesh.canonical[mesh.triangles].reshape(-1, 2)).reshape(-1, 3, 2)
    coeffs = np.zeros((len(tri_img), 2, 3))
    coeffs[touches] = _triangle_affines(src[touches].reshape(-1, 2), dst[touches].reshape(-1, 2),
                                        np.arange(3 * int(touches.sum())).reshape(-1, 3))
    c = np.vstack([coeffs.astype(np.float32).reshape(-1, 6), np.float32([[0, 0, -10, 0, 0, -10]])])
    g = c[labels]  # label -1: the last row, mapping outside the raster
    xx = np.arange(rw, dtype=np.float32)[None, :]
    yy = np.arange(rh, dtype=np.float32)[:, None]
    map_x = g[..., 0] * xx + g[..., 1] * yy + g[..., 2]
    map_y = g[..., 3] * xx + g[..., 4] * yy + g[..., 5]
    warped = [cv2.remap(layer, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
              for layer in layers]
    return x0, y0, warped
