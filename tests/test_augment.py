"""Tests for maskgen.augment: labels follow the pixels, determinism, presets, config files."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from skimage import data

from maskgen import augment as A
from maskgen.boxes import box_iou
from maskgen.detect.landmarks import LEFT_EYE, RIGHT_EYE, flip_landmarks


@pytest.fixture(scope="module")
def astro_face():
    """The astronaut photo, its largest face's landmarks and box, and an alpha over the lower face."""
    from maskgen.detect.faces import find_faces

    image = data.astronaut()
    face = max(find_faces(image), key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    alpha = np.zeros(image.shape[:2], np.float32)
    hull = cv2.convexHull(np.vstack([face.landmarks[2:15], face.landmarks[[29]]]).astype(np.int32))
    cv2.fillConvexPoly(alpha, hull, 1.0)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 2.0)
    return image, face.landmarks, face.box, alpha


@pytest.fixture(scope="module")
def dots():
    """A black image with a small gaussian dot under each of 68 grid 'landmarks'."""
    h, w = 360, 400
    xs, ys = np.meshgrid(np.arange(10) * 20.0 + 110, np.arange(7) * 20.0 + 120)
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1)[:68]
    pts += np.random.default_rng(0).uniform(-0.5, 0.5, pts.shape)  # subpixel positions
    yy, xx = np.mgrid[0:h, 0:w]
    image = np.zeros((h, w), np.float64)
    for x, y in pts:
        sl = np.s_[int(y) - 6:int(y) + 7, int(x) - 6:int(x) + 7]
        image[sl] += np.exp(-((xx[sl] - x) ** 2 + (yy[sl] - y) ** 2) / (2 * 1.3**2))
    image = np.repeat(np.clip(image * 250, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    box = np.array([100.0, 100.0, 300.0, 260.0])
    return image, pts, box


def forced(**ops) -> dict:
    """A spec running exactly the given ops, every time."""
    spec = dict(ops)
    spec["p"] = {op: 1.0 for op in ops if op != "flip"}
    return spec


def dot_errors(image: np.ndarray, landmarks: np.ndarray, margin: int = 10) -> np.ndarray:
    """Distance from each landmark well inside the frame to the centroid of the dot around it."""
    grey = image[..., 0].astype(np.float64)
    h, w = grey.shape
    errors = []
    for x, y in landmarks:
        if not (margin <= x < w - margin and margin <= y < h - margin):
            continue
        x0, y0 = int(round(x)) - 6, int(round(y)) - 6
        patch = grey[y0:y0 + 13, x0:x0 + 13]
        patch = np.where(patch > 0.1 * patch.max(), patch, 0)
        py, px = np.mgrid[0:13, 0:13]
        cx, cy = (patch * px).sum() / patch.sum() + x0, (patch * py).sum() / patch.sum() + y0
        errors.append(np.hypot(cx - x, cy - y))
    assert len(errors) > 40, "too few landmarks left inside the frame to check"
    return np.array(errors)


def is_grey(image: np.ndarray) -> bool:
    return np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2])


def fitted_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2x3 affine map taking src points onto dst points."""
    m, *_ = np.linalg.lstsq(np.hstack([src, np.ones((len(src), 1))]), dst, rcond=None)
    return m.T


GEOMETRIC = {
    "rotate": [30, 30],
    "scale": [1.6, 1.6],
    "translate": [0.07, 0.07],
    "shear": [12, 12],
    "crop": [0.15, 0.15],
    "flip": 1.0,
}
PHOTOMETRIC = {
    "brightness": [1.3, 1.3],
    "contrast": [0.7, 0.7],
    "hue": [40, 40],
    "saturation": [1.5, 1.5],
    "blur": [2.0, 2.0],
    "motion_blur": [9, 9],
    "noise": [10, 10],
    "jpeg": [20, 20],
}


# ----------------------------------------------------------------------------- geometry

@pytest.mark.parametrize("op", list(GEOMETRIC))
def test_geometric_op_moves_landmarks_with_content(op, dots):
    image, pts, box = dots
    alpha = (image[..., 0] / 255.0).astype(np.float32)
    res = A.augment(image, [pts], [box], [alpha], forced(**{op: GEOMETRIC[op]}), np.random.default_rng(1))
    assert res.applied and res.applied[0].startswith({"flip": "fliplr", "rotate": "affine", "scale": "affine",
                                                      "translate": "affine", "shear": "affine"}.get(op, op))
    assert res.image.shape == image.shape and res.image.dtype == np.uint8
    assert not np.array_equal(res.image, image)
    assert res.landmarks[0].shape == (68, 2) and res.boxes[0].shape == (4,)
    assert res.alphas[0].shape == image.shape[:2] and res.alphas[0].dtype == np.float32
    assert dot_errors(res.image, res.landmarks[0]).max() < 0.2
    # the alpha moved exactly like the image
    assert np.abs(res.alphas[0] * 255 - res.image[..., 0]).max() < 3


def test_combined_geometry_on_a_real_face(astro_face):
    image, lm, box, alpha = astro_face
    spec = forced(rotate=[-17, -17], scale=[1.2, 1.2], translate=[-0.04, -0.04], shear=[5, 5])
    res = A.augment(image, [lm], [box], [alpha], spec, np.random.default_rng(3))
    assert res.applied == ["affine(rotate=-17,scale=1.2,tx=-0.04,ty=-0.04,shear=5)"]
    # the points moved by one affine map; warping the source with it reproduces the image
    m = fitted_affine(lm, res.landmarks[0])
    assert np.abs(np.hstack([lm, np.ones((68, 1))]) @ m.T - res.landmarks[0]).max() < 1e-4  # imgaug: float32
    expected = cv2.warpAffine(image, m, image.shape[1::-1], flags=cv2.INTER_LINEAR)
    x0, y0, x1, y1 = res.boxes[0].astype(int)
    diff = np.abs(expected[y0:y1, x0:x1].astype(int) - res.image[y0:y1, x0:x1].astype(int))
    assert diff.mean() < 1.0
    # each landmark's neighbourhood is the source neighbourhood, moved
    for i in (30, 36, 45, 48, 54):
        x, y = np.round(res.landmarks[0][i]).astype(int)
        assert np.abs(expected[y - 2:y + 3, x - 2:x + 3].astype(int) - res.image[y - 2:y + 3, x - 2:x + 3]).mean() < 2
    # the alpha too, its centre of mass mapped by the same transform
    yy, xx = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    c_src = np.array([(alpha * xx).sum(), (alpha * yy).sum()]) / alpha.sum()
    out = res.alphas[0]
    c_out = np.array([(out * xx).sum(), (out * yy).sum()]) / out.sum()
    assert np.hypot(*(m[:, :2] @ c_src + m[:, 2] - c_out)) < 0.3
    assert out.min() >= 0 and out.max() <= 1


def test_box_follows_scale_and_shift_exactly(astro_face):
    image, lm, box, _ = astro_face
    res = A.augment(image, [lm], [box], None, forced(scale=[0.8, 0.8], translate=[0.05, 0.05]),
                    np.random.default_rng(0))
    m = fitted_affine(lm, res.landmarks[0])  # index coordinates; box edges sit half a pixel out
    corners = np.array([[box[0], box[1]], [box[2], box[3]]]) - 0.5
    expected = (corners @ m[:, :2].T + m[:, 2] + 0.5).ravel()
    np.testing.assert_allclose(res.boxes[0], expected, atol=1e-4)  # imgaug moves points in float32
    assert res.visible == [1.0] and res.alphas == []


def test_crop_is_a_crop_resized_back(astro_face):
    image, lm, box, alpha = astro_face
    h, w = image.shape[:2]
    res = A.augment(image, [lm], [box], [alpha], forced(crop=[0.0, 0.2]), np.random.default_rng(4))
    t, r, b, l = (float(v.split("=")[1]) for v in res.applied[0][len("crop("):-1].split(","))
    y0, y1, x0, x1 = round(t * h), h - round(b * h), round(l * w), w - round(r * w)
    assert len({t, r, b, l}) == 4  # sides drawn apart
    assert np.array_equal(res.image, cv2.resize(image[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_LINEAR))
    np.testing.assert_allclose(res.alphas[0], cv2.resize(alpha[y0:y1, x0:x1], (w, h)), atol=1e-5)
    sx, sy = w / (x1 - x0), h / (y1 - y0)
    np.testing.assert_allclose(res.landmarks[0], (lm + 0.5 - [x0, y0]) * [sx, sy] - 0.5, atol=1e-3)
    np.testing.assert_allclose(res.boxes[0], (box - [x0, y0, x0, y0]) * [sx, sy, sx, sy], atol=1e-3)


def test_rotation_keeps_box_size(astro_face):
    image, lm, box, _ = astro_face
    res = A.augment(image, [lm], [box], None, forced(rotate=[25, 25]), np.random.default_rng(0))
    w0, h0 = box[2] - box[0], box[3] - box[1]
    w1, h1 = res.boxes[0][2] - res.boxes[0][0], res.boxes[0][3] - res.boxes[0][1]
    assert abs(w1 - w0) < 1 and abs(h1 - h0) < 1  # a square face box does not grow when turned
    centre = res.landmarks[0][27:36].mean(0)
    assert res.boxes[0][0] < centre[0] < res.boxes[0][2] and res.boxes[0][1] < centre[1] < res.boxes[0][3]


def test_flip_swaps_left_and_right(astro_face):
    image, lm, box, alpha = astro_face
    res = A.augment(image, [lm], [box], [alpha], {"flip": 1.0}, np.random.default_rng(0))
    assert res.applied == ["fliplr"]
    assert np.array_equal(res.image, image[:, ::-1])
    assert np.array_equal(res.alphas[0], alpha[:, ::-1])
    np.testing.assert_allclose(res.landmarks[0], flip_landmarks(lm, image.shape[1]))
    w = image.shape[1]
    np.testing.assert_allclose(res.boxes[0], [w - box[2], box[1], w - box[0], box[3]])
    # the subject's right eye stays on the image's left of the nose, as in the source
    for points in (lm, res.landmarks[0]):
        assert points[RIGHT_EYE, 0].mean() < points[30, 0] < points[LEFT_EYE, 0].mean()
        assert points[0, 0] < points[16, 0] and points[48, 0] < points[54, 0]
    # and under the flipped eye landmarks lies the mirrored eye
    x, y = np.round(res.landmarks[0][36]).astype(int)
    xs, ys = np.round(lm[45]).astype(int)
    mirrored = image[ys - 2:ys + 3, xs - 2:xs + 3][:, ::-1]
    assert np.abs(res.image[y - 2:y + 3, x - 2:x + 3].astype(int) - mirrored).max() <= 1


def _turned_and_found(astro_face, op: str, degrees: float):
    """The astronaut turned by one turn op (with an alpha that is the image, so both must move alike),
    and dlib's face on the output: (result, the face found, face size, landmark error from the reported
    landmarks and from the unmoved ones, both in face sizes, over the inner landmarks)."""
    from maskgen.detect.faces import find_faces
    from maskgen.detect.landmarks import face_size

    image, lm, box, _ = astro_face
    alpha = (image[..., 1] / 255.0).astype(np.float32)
    res = A.augment(image, [lm], [box], [alpha], forced(**{op: [degrees, degrees]}), np.random.default_rng(0))
    assert res.applied == [f"{op}({degrees})"]
    out, moved = res.image, res.landmarks[0]
    assert np.abs(res.alphas[0] * 255 - out[..., 1]).max() < 1.01
    # measured independently: dlib finds the face again, its landmarks where augment says they are
    found = min(find_faces(out), key=lambda f: np.hypot(*(f.landmarks[30] - moved[30])))
    size = face_size(lm)
    err_reported = np.hypot(*(found.landmarks - moved).T)[17:].mean() / size
    err_unmoved = np.hypot(*(found.landmarks - lm).T)[17:].mean() / size
    return res, found, size, err_reported, err_unmoved


@pytest.mark.parametrize("degrees", [20, -20])
def test_yaw_turns_a_real_face_and_its_labels(degrees, astro_face):
    image, lm, _, _ = astro_face
    res, found, size, err_reported, err_unmoved = _turned_and_found(astro_face, "yaw", degrees)
    out, moved = res.image, res.landmarks[0]
    assert err_reported < 0.035 and err_reported < 0.6 * err_unmoved
    # the nose slides toward the side the head turns to, more than the outline does
    nose_shift = moved[30, 0] - lm[30, 0]
    assert np.sign(nose_shift) == np.sign(degrees) and abs(nose_shift) > 0.12 * size
    assert abs(moved[0, 0] - lm[0, 0]) < 0.5 * abs(nose_shift) and abs(moved[16, 0] - lm[16, 0]) < 0.5 * abs(nose_shift)
    # under each moved landmark lies what lay under it in the source (sampled between pixels, lightly blurred)
    def sample(img, points):
        img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 1.0)
        p = points.astype(np.float32)[:, None, :]
        return cv2.remap(img, p[..., 0], p[..., 1], cv2.INTER_LINEAR)[:, 0]
    inner = np.arange(17, 68)
    before, after = sample(image, lm[inner]), sample(out, moved[inner])
    assert np.abs(after - before).mean() < 6 and np.abs(after - sample(image, moved[inner])).mean() > 12
    # the box still frames the face dlib finds; pixels far from the face are untouched
    assert box_iou(res.boxes[0], found.box) > 0.6
    assert np.array_equal(out[:, 400:], image[:, 400:]) and np.array_equal(out[300:], image[300:])


@pytest.mark.parametrize("pitch", [20, -15])
def test_pitch_nods_a_real_face_and_its_labels(pitch, astro_face):
    image, lm, _, _ = astro_face
    res, _, size, err_reported, err_unmoved = _turned_and_found(astro_face, "pitch", pitch)
    out, moved = res.image, res.landmarks[0]
    assert err_reported < 0.04 and err_reported < 0.6 * err_unmoved

    # in the face's own frame: looking down, the nose tip drops toward the mouth and the lower face is
    # foreshortened; looking up, the reverse. No sideways motion.
    def heights(points):
        eyes = points[36:48, 1].mean()
        return points[30, 1] - eyes, points[57, 1] - points[30, 1], points[8, 1] - eyes

    (nose0, gap0, chin0), (nose1, gap1, chin1) = heights(lm), heights(moved)
    assert chin1 < chin0  # foreshortened either way
    if pitch > 0:
        assert nose1 / chin1 > nose0 / chin0 + 0.03 and gap1 / gap0 < 0.9
    else:
        assert nose1 / chin1 < nose0 / chin0 - 0.03 and gap1 / gap0 > 1.0
    eye_line = lm[42:48].mean(0) - lm[36:42].mean(0)
    sideways = (moved - lm) @ (eye_line / np.hypot(*eye_line))  # along the eye line: a nod moves nothing that way
    assert np.abs(sideways).max() < 0.005 * size
    assert np.array_equal(out[:, 400:], image[:, 400:]) and np.array_equal(out[300:], image[300:])


def test_yaw_and_pitch_run_as_one_warp(astro_face):
    image, lm, box, _ = astro_face
    res = A.augment(image, [lm], [box], None, forced(yaw=[15, 15], pitch=[10, 10]), np.random.default_rng(0))
    assert res.applied == ["yaw(15)", "pitch(10)"]
    from maskgen.augment.turn import turned_landmarks
    assert np.abs(res.landmarks[0] - turned_landmarks(lm, 15, 10)).max() < 1e-6


def test_realistic_preset_turns_half_the_faces(astro_face):
    image, lm, box, _ = astro_face
    turned = [any(a.startswith("yaw(") for a in A.augment(image, [lm], [box], None, "realistic",
                                                         np.random.default_rng(seed)).applied) for seed in range(40)]
    assert 12 <= sum(turned) <= 28


def test_yaw_halves_an_angle_that_would_fold_the_face(astro_face):
    image, lm, box, _ = astro_face
    res = A.augment(image, [lm], [box], None, forced(yaw=[45, 45]), np.random.default_rng(0))
    (applied,) = res.applied
    degrees = float(applied[len("yaw("):-1])
    assert degrees in (22.5, 11.25, 5.625)
    moved = res.landmarks[0]
    # the features keep their order from left to right: nothing slid over its neighbour
    for chain in ([0, 4, 8, 12, 16], [36, 39, 42, 45], [31, 33, 35], [48, 51, 54]):
        assert np.all(np.diff(moved[chain, 0]) > 0)


def test_face_pushed_out_of_frame(astro_face):
    image, lm, box, alpha = astro_face
    h, w = image.shape[:2]
    res = A.augment(image, [lm], [box], [alpha], forced(translate=[0.9, 0.9]), np.random.default_rng(0))
    assert res.visible == [0.0]
    x0, y0, x1, y1 = res.boxes[0]
    assert (x1 - x0) * (y1 - y0) == 0 and 0 <= x0 <= x1 <= w and 0 <= y0 <= y1 <= h
    assert res.landmarks[0].min() >= 0 and (res.landmarks[0] <= [w - 1, h - 1]).all()
    assert res.alphas[0].max() == 0
    # half out: visible is the share of the moved box still inside
    res = A.augment(image, [lm], [box], [alpha], forced(translate=[-0.3, -0.3]), np.random.default_rng(0))
    moved = box + [-0.3 * w, -0.3 * h, -0.3 * w, -0.3 * h]
    assert moved[1] < 0 < moved[3]  # the top of the face left the frame
    assert res.visible[0] == pytest.approx(moved[3] / (moved[3] - moved[1]), abs=1e-4)
    np.testing.assert_allclose(res.boxes[0], [moved[0], 0, moved[2], moved[3]], atol=1e-4)


def test_several_faces_and_missing_parts(dots):
    image, pts, box = dots
    other = pts + [5.0, 3.0]
    res = A.augment(image, [pts, None, other], [box, box + 10, box], [None, np.ones(image.shape[:2]), None],
                    forced(rotate=[10, 10], flip=1.0), np.random.default_rng(0))
    assert res.landmarks[1] is None and res.alphas[0] is None and res.alphas[2] is None
    assert len(res.boxes) == len(res.visible) == 3
    np.testing.assert_allclose(res.landmarks[2] - res.landmarks[0], np.tile(res.landmarks[2][0] - res.landmarks[0][0],
                                                                            (68, 1)), atol=1e-4)
    # many alphas (more channels than cv2 warps at once) each follow their own box
    alphas, boxes = [], []
    for i in range(6):
        alpha = np.zeros(image.shape[:2], np.float32)
        alpha[100 + 25 * i:120 + 25 * i, 90 + 40 * i:110 + 40 * i] = 1
        alphas.append(alpha)
        boxes.append(np.array([90 + 40 * i, 100 + 25 * i, 110 + 40 * i, 120 + 25 * i], float))
    res = A.augment(image, None, boxes, alphas, forced(rotate=[20, 20], crop=[0.1, 0.1]), np.random.default_rng(0))
    yy, xx = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    for alpha, box in zip(res.alphas, res.boxes):
        centre = np.array([(alpha * xx).sum(), (alpha * yy).sum()]) / alpha.sum()
        np.testing.assert_allclose(centre, (box[:2] + box[2:]) / 2 - 0.5, atol=0.05)
    empty = A.augment(image, [], [], None, "heavy", np.random.default_rng(0))
    assert empty.landmarks == [] and empty.boxes == [] and empty.visible == []


# ----------------------------------------------------------------------------- photometry

@pytest.mark.parametrize("op", list(PHOTOMETRIC))
def test_photometric_op_changes_pixels_only(op, astro_face):
    image, lm, box, alpha = astro_face
    res = A.augment(image, [lm], [box], [alpha], forced(**{op: PHOTOMETRIC[op]}), np.random.default_rng(2))
    assert len(res.applied) == 1 and res.applied[0].startswith(op + "(")
    assert res.image.shape == image.shape and res.image.dtype == np.uint8
    assert not np.array_equal(res.image, image)
    assert np.array_equal(res.landmarks[0], lm) and np.array_equal(res.boxes[0], box)
    assert np.array_equal(res.alphas[0], alpha)  # alphas never see photometric ops
    # the content is still where it was
    assert np.corrcoef(res.image.ravel(), image.ravel())[0, 1] > 0.7 or op in ("hue", "contrast")


def test_all_photometric_ops_together_leave_alpha_alone(astro_face):
    image, lm, box, alpha = astro_face
    res = A.augment(image, [lm], [box], [alpha], forced(**PHOTOMETRIC), np.random.default_rng(5))
    assert [a.split("(")[0] for a in res.applied] == list(PHOTOMETRIC)
    assert np.array_equal(res.alphas[0], alpha)


def test_grey_image_stays_grey(astro_face):
    image, lm, box, alpha = astro_face
    grey = np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    res = A.augment(grey, [lm], [box], [alpha], forced(**PHOTOMETRIC, **GEOMETRIC), np.random.default_rng(0))
    assert not any(a.startswith(("hue", "saturation")) for a in res.applied)
    assert is_grey(res.image)
    for seed in range(5):
        assert is_grey(A.augment(grey, [lm], [box], [alpha], "heavy", np.random.default_rng(seed)).image)


# ----------------------------------------------------------------------------- presets and determinism

def test_none_is_identity(astro_face):
    image, lm, box, alpha = astro_face
    res = A.augment(image, [lm], [box], [alpha], "none")
    assert res.applied == [] and res.visible == [1.0]
    assert np.array_equal(res.image, image)
    assert np.array_equal(res.landmarks[0], lm) and np.array_equal(res.boxes[0], box)
    assert np.array_equal(res.alphas[0], alpha)
    nothing = A.augment(image, [lm], [box], [alpha], {"rotate": 10, "p": {"rotate": 0.0}}, np.random.default_rng(0))
    assert nothing.applied == [] and np.array_equal(nothing.image, image)


def test_same_seed_same_bytes(astro_face):
    image, lm, box, alpha = astro_face
    before = image.copy()
    for seed in (0, 1, 2):
        a = A.augment(image, [lm], [box], [alpha], "heavy", np.random.default_rng(seed))
        b = A.augment(image, [lm], [box], [alpha], "heavy", np.random.default_rng(seed))
        assert a.image.tobytes() == b.image.tobytes() and a.alphas[0].tobytes() == b.alphas[0].tobytes()
        assert a.landmarks[0].tobytes() == b.landmarks[0].tobytes() and a.boxes[0].tobytes() == b.boxes[0].tobytes()
        assert a.applied == b.applied and a.visible == b.visible
    assert np.array_equal(image, before)  # the input is never written to
    everything = forced(**PHOTOMETRIC, **GEOMETRIC)
    a, b = (A.augment(image, [lm], [box], [alpha], everything, np.random.default_rng(9)) for _ in range(2))
    assert a.image.tobytes() == b.image.tobytes() and a.applied == b.applied and len(a.applied) == 11
    assert np.array_equal(image, before)
    runs = {tuple(A.augment(image, [lm], [box], None, "heavy", np.random.default_rng(s)).applied) for s in range(6)}
    assert len(runs) > 1


def test_rng_required():
    with pytest.raises(ValueError, match="Generator"):
        A.augment(np.zeros((8, 8, 3), np.uint8), [], [], None, "light")
    with pytest.raises(ValueError, match="Generator"):
        A.augment(np.zeros((8, 8, 3), np.uint8), [], [], None, "light", 42)
    with pytest.raises(ValueError, match="preset"):
        A.augment(np.zeros((8, 8, 3), np.uint8), [], [], None, "medium", np.random.default_rng(0))


@pytest.mark.parametrize("preset", ["light", "heavy", "realistic"])
def test_presets_run_every_op_they_list(preset, dots):
    image, pts, box = dots
    small, pts, box = image[::2, ::2].copy(), pts / 2, box / 2
    seen = set()
    for seed in range(60):
        res = A.augment(small, [pts], [box], None, preset, np.random.default_rng(seed))
        seen.update(a.split("(")[0] for a in res.applied)
        assert res.image.shape == small.shape and 0 <= res.visible[0] <= 1
    spec = A.preset_spec(preset)
    expected = {"fliplr"} | {op for op in A.PHOTOMETRIC_OPS + A.OCCLUSION_OPS if op in spec}
    expected |= {"affine"} | {op for op in ("crop", "face_crop", "yaw", "pitch") if op in spec}
    expected -= {"hue", "saturation", "cast"}  # the dots image is grey
    expected -= {"yaw", "pitch"}  # the dot grid is no face: turning it folds it, so it is left (the turn tests turn a face)
    assert expected <= seen
    light, heavy = A.preset_spec("light"), A.preset_spec("heavy")
    assert light["rotate"] == [-10, 10] and heavy["rotate"] == [-25, 25] and heavy["scale"] == [0.75, 1.25]


# ----------------------------------------------------------------------------- config files

def test_load_json_and_toml(tmp_path):
    j = tmp_path / "aug.json"
    j.write_text(json.dumps({"flip": 0.5, "rotate": 15, "scale": [0.9, 1.1], "jpeg": [40, 95], "p": {"rotate": 0.3}}))
    spec = A.load_augment_config(j)
    assert spec["rotate"] == [-15, 15] and spec["p"] == {"rotate": 0.3, "scale": 1.0, "jpeg": 1.0}
    t = tmp_path / "aug.toml"
    t.write_text('base = "light"\nrotate = [-20, 20]\nnoise = 4\n[p]\nnoise = 0.25\n')
    spec = A.load_augment_config(t)
    assert spec["rotate"] == [-20, 20] and spec["noise"] == [0, 4] and spec["p"]["noise"] == 0.25
    assert spec["scale"] == A.preset_spec("light")["scale"] and spec["p"]["rotate"] == 0.5
    assert A.validate_spec(spec) == spec  # the returned dict is itself a valid spec
    res = A.augment(np.zeros((32, 32, 3), np.uint8), [], [], None, spec, np.random.default_rng(0))
    assert res.image.shape == (32, 32, 3)


@pytest.mark.parametrize("content, message", [
    ('{"rotat": 10}', "unknown key.*'rotat'"),
    ('{"scale": 1.1}', "'scale'.*\\[low, high\\]"),
    ('{"rotate": [10, -10]}', "'rotate'.*above"),
    ('{"jpeg": [0, 200]}', "'jpeg'.*\\[1, 100\\]"),
    ('{"rotate": "10"}', "'rotate'.*number"),
    ('{"flip": 1.5}', "'flip'.*probability"),
    ('{"p": {"blurr": 0.5}}', "unknown op 'blurr'"),
    ('{"p": {"blur": 0.5}}', "'blur', which has no range"),
    ('{"base": "extreme"}', "'base'"),
    ('{"rotate": 10,', "not valid JSON"),
    ('[1, 2]', "expected a table"),
])
def test_bad_config_is_named(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        A.load_augment_config(path)
    assert str(path) in str(info.value)


def test_bad_toml_and_missing_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("rotate = [1, \n")
    with pytest.raises(ValueError, match="not valid TOML") as info:
        A.load_augment_config(path)
    assert str(path) in str(info.value)
    with pytest.raises(ValueError, match="cannot read"):
        A.load_augment_config(tmp_path / "missing.json")


def test_bad_inputs():
    with pytest.raises(ValueError, match="RGB uint8"):
        A.augment(np.zeros((8, 8), np.uint8), [], [], None, "none")
    with pytest.raises(ValueError, match="alpha"):
        A.augment(np.zeros((8, 8, 3), np.uint8), [None], [np.zeros(4)], [np.zeros((4, 4))], "none")


def test_mask_visible_measures_what_is_left_of_the_mask(astro_face):
    """Zooming in or out keeps the whole mask in sight (share 1: measured at the face's scale); a face
    crop that cuts the lower face, or a hand over the mouth, leaves less, as the alpha's pixels say."""
    image, lm, box, alpha = astro_face
    rng = np.random.default_rng(0)
    assert A.augment(image, [lm], [box], alphas=[alpha], preset="none").mask_visible == [1.0]
    assert A.augment(image, [lm], [box], preset="light", rng=rng).mask_visible == []
    for zoom in (0.8, 1.15):
        res = A.augment(image, [lm], [box], alphas=[alpha], preset={"scale": [zoom, zoom]}, rng=rng)
        assert res.mask_visible[0] == pytest.approx(1.0, abs=0.03)
    res = A.augment(image, [lm], [box], alphas=[alpha], preset={"face_crop": [0.6, 0.6]}, rng=np.random.default_rng(3))
    rows = np.flatnonzero(res.alphas[0].max(axis=1) > 0.5)
    assert res.mask_visible[0] < 0.9 and rows.max() >= image.shape[0] - 3  # cut at the bottom edge
    hands = [A.augment(image, [lm], [box], alphas=[alpha], preset={"hand": [1.0, 1.1]}, rng=np.random.default_rng(s))
             for s in range(6)]
    covered = [1 - h.alphas[0].sum() / alpha.sum() for h in hands]
    for h, c in zip(hands, covered):
        assert h.mask_visible[0] == pytest.approx(1 - c, abs=1e-6)
    assert max(covered) > 0.1
