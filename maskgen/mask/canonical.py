"""The canonical face frame in which masks are drawn, and the control mesh that maps it onto a face.

Units: the distance between the eye centres is 1; the origin is their midpoint; y points down.
MEAN_SHAPE is the mean of dlib's 68 landmarks over frontal portraits, aligned so, and made
left-right symmetric. Beyond the jaw the mesh has two rings of points pushed outward, so that
masks can extend under the chin and onto the neck.
"""
from __future__ import annotations

import cv2
import numpy as np

MEAN_SHAPE = np.array([
    [-1.105, 0.012],
    [-1.089, 0.303],
    [-1.049, 0.592],
    [-0.997, 0.878],
    [-0.902, 1.149],
    [-0.739, 1.386],
    [-0.528, 1.586],
    [-0.284, 1.742],
    [0.000, 1.787],
    [0.284, 1.742],
    [0.528, 1.586],
    [0.739, 1.386],
    [0.902, 1.149],
    [0.997, 0.878],
    [1.049, 0.592],
    [1.089, 0.303],
    [1.105, 0.012],
    [-0.923, -0.181],
    [-0.781, -0.316],
    [-0.578, -0.358],
    [-0.371, -0.330],
    [-0.171, -0.255],
    [0.171, -0.255],
    [0.371, -0.330],
    [0.578, -0.358],
    [0.781, -0.316],
    [0.923, -0.181],
    [0.000, -0.038],
    [0.000, 0.159],
    [0.000, 0.355],
    [0.000, 0.557],
    [-0.224, 0.680],
    [-0.116, 0.716],
    [0.000, 0.752],
    [0.116, 0.716],
    [0.224, 0.680],
    [-0.694, 0.003],
    [-0.573, -0.068],
    [-0.425, -0.067],
    [-0.294, 0.028],
    [-0.434, 0.052],
    [-0.580, 0.052],
    [0.294, 0.028],
    [0.425, -0.067],
    [0.573, -0.068],
    [0.694, 0.003],
    [0.580, 0.052],
    [0.434, 0.052],
    [-0.450, 1.020],
    [-0.287, 0.956],
    [-0.123, 0.922],
    [0.000, 0.951],
    [0.123, 0.922],
    [0.287, 0.956],
    [0.450, 1.020],
    [0.293, 1.171],
    [0.132, 1.242],
    [0.000, 1.256],
    [-0.132, 1.242],
    [-0.293, 1.171],
    [-0.384, 1.030],
    [-0.125, 1.023],
    [0.000, 1.039],
    [0.125, 1.023],
    [0.384, 1.030],
    [0.126, 1.087],
    [0.000, 1.104],
    [-0.126, 1.087]
], dtype=np.float64)

# landmarks used as mesh vertices: all but the inner lips, which fold onto each other
MESH_LANDMARKS = np.array(list(range(0, 60)))
# outward rings around the jaw (canonical units)
RING_DISTANCES = (0.32, 0.95)
# a ring above the brows closes the mesh over the forehead
BROW_LIFT = 0.45
# a far ring beside the jaw and neck, joined to the outer ring by a strip of triangles (the Delaunay mesh of
# the rest is left as it is): what is drawn there (a mask hanging from an ear, a wide scarf) bends with the
# face instead of being cut at the mesh's edge
FAR_RING = 2.6


def jaw_normals(jaw: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Unit normals of the jaw polyline (17 points), pointing away from centre."""
    tangent = np.gradient(jaw, axis=0)
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
    flip = np.sum(normal * (jaw - centre), axis=1) < 0
    normal[flip] *= -1
    return normal


def _canonical_vertices() -> np.ndarray:
    pts = [MEAN_SHAPE[MESH_LANDMARKS]]
    jaw = MEAN_SHAPE[0:17]
    normals = jaw_normals(jaw, MEAN_SHAPE[30])
    for d in RING_DISTANCES:
        pts.append(jaw + d * normals)
    brows = MEAN_SHAPE[17:27] + np.array([0.0, -BROW_LIFT])
    pts.append(brows)
    return np.vstack(pts)


def delaunay(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles of ``points`` as (T, 3) vertex indices."""
    lo = points.min(axis=0) - 1
    hi = points.max(axis=0) + 1
    scale = 1000.0 / (hi - lo).max()
    pts = (points - lo) * scale
    subdiv = cv2.Subdiv2D((0, 0, int((hi - lo)[0] * scale) + 2, int((hi - lo)[1] * scale) + 2))
    for p in pts:
        subdiv.insert((float(p[0]), float(p[1])))
    triangles = []
    for t in subdiv.getTriangleList():
        # each corner is the input point it lies on (Subdiv2D's float32 copies); a corner on none of
        # them is one of the subdivision's virtual outer vertices
        corners = t.reshape(3, 2).astype(np.float64)
        dist = np.linalg.norm(pts[None, :, :] - corners[:, None, :], axis=2)
        nearest = dist.argmin(axis=1)
        if np.all(dist[np.arange(3), nearest] < 0.05) and len(set(nearest.tolist())) == 3:
            triangles.append(nearest.tolist())
    return np.array(sorted(triangles), np.int32)


def _far_strip(first_far: int) -> np.ndarray:
    """Triangles between the outer ring and the far ring (vertex ``first_far`` onward), one quad per jaw segment."""
    outer = len(MESH_LANDMARKS) + 17 * (len(RING_DISTANCES) - 1)
    tris = []
    for i in range(16):
        a, b, fa, fb = outer + i, outer + i + 1, first_far + i, first_far + i + 1
        tris += [[a, b, fb], [a, fb, fa]]
    return np.array(tris, np.int32)


_NEAR = _canonical_vertices()
CANONICAL_VERTICES = np.vstack([_NEAR, MEAN_SHAPE[0:17] + FAR_RING * jaw_normals(MEAN_SHAPE[0:17], MEAN_SHAPE[30])])
TRIANGLES = np.vstack([delaunay(_NEAR), _far_strip(len(_NEAR))])
