"""The masked-face detector (MTCNN from facenet-pytorch), ``auto``, small and cut-off faces, the box
mapping to dlib's convention, a missing extra, and ``maskgen faces``; real models on real photos."""
from __future__ import annotations

import csv
import io
import subprocess
import sys

import cv2
import numpy as np
import pytest

import maskgen
from maskgen.boxes import box_area, box_iou, intersection
from maskgen.detect import faces as detect
from maskgen.detect import framing, mtcnn

needs_mtcnn = pytest.mark.skipif(not mtcnn.available(), reason="the mtcnn extra is not installed: pip install 'maskgen[mtcnn]'")

EXTS = (".jpg", ".jpeg", ".png", ".webp")


def _iod(landmarks: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks[42:48].mean(0) - landmarks[36:42].mean(0)))


@pytest.fixture(scope="module")
def hog_face(astronaut):
    return maskgen.find_faces(astronaut)[0]


@pytest.fixture(scope="module")
def masked_astronaut(astronaut, hog_face):
    """The astronaut wearing a surgical mask drawn by maskgen, high on the nose bridge (the first seed that
    draws it there: worn lower, the mask leaves HOG enough nose): HOG no longer finds her face."""
    for seed in range(20):
        result = maskgen.mask_faces(astronaut, [hog_face], maskgen.MaskOptions(mask_type="surgical"), seed=seed)
        if result.faces[0].attributes.top <= 0:
            return result.image
    raise AssertionError("no seed of 20 drew the mask high on the nose bridge")


def _real(shared_data, folder: str, n: int) -> list:
    paths = sorted(p for p in (shared_data / folder).glob("*") if p.suffix.lower() in EXTS)
    if not paths:
        pytest.skip(f"no photos in {shared_data / folder}")
    return [paths[i] for i in np.linspace(0, len(paths) - 1, min(n, len(paths))).round().astype(int)]


def test_importing_maskgen_and_detection_loads_no_torch():
    code = ("import sys, maskgen, maskgen.detect.faces, maskgen.detect.mtcnn, maskgen.cli.faces; "
            "maskgen.find_faces; maskgen.detect.faces.check_detector('auto'); "
            "bad = [m for m in ('torch', 'facenet_pytorch', 'torchvision') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@needs_mtcnn
def test_mtcnn_finds_the_astronaut_and_its_landmarks_match_hogs(astronaut, hog_face):
    found = maskgen.find_faces(astronaut, detector="mtcnn")
    assert len(found) == 1 and found[0].detector == "mtcnn" and found[0].rejected is None
    assert found[0].score > 0.99
    # the mapped box is HOG-like: it overlaps HOG's box closely
    assert box_iou(found[0].box, hog_face.box) > 0.8
    err = np.linalg.norm(found[0].landmarks - hog_face.landmarks, axis=1)
    assert err.mean() < 0.03 * _iod(hog_face.landmarks) and err.max() < 0.10 * _iod(hog_face.landmarks)


@needs_mtcnn
def test_raw_mtcnn_box_is_mapped_to_a_hog_like_box(astronaut, hog_face):
    [[(box, score, points)]] = mtcnn.detect([astronaut])
    assert score > 0.99 and points.shape == (5, 2)
    mapped = framing.hog_like_box(box)
    assert np.isclose(mapped[2] - mapped[0], mapped[3] - mapped[1])  # square, as dlib's boxes are
    assert box_iou(mapped, hog_face.box) > box_iou(box, hog_face.box)
    assert np.abs(mapped - hog_face.box).max() < 8


@needs_mtcnn
def test_mtcnn_finds_the_masked_astronaut_where_hog_does_not(masked_astronaut, hog_face):
    assert not any(box_iou(f.box, hog_face.box) > 0.3 for f in maskgen.find_faces(masked_astronaut))
    found = maskgen.find_faces(masked_astronaut, detector="mtcnn")
    assert len(found) == 1 and box_iou(found[0].box, hog_face.box) > 0.6
    assert np.abs(found[0].landmarks[36:48] - hog_face.landmarks[36:48]).mean() < 6  # the eyes


@needs_mtcnn
def test_auto_is_hog_where_hog_finds_a_face_and_mtcnn_where_it_does_not(astronaut, masked_astronaut):
    upright = maskgen.find_faces(astronaut, detector="auto")
    assert [f.detector for f in upright] == ["hog"]
    assert np.array_equal(upright[0].landmarks, maskgen.find_faces(astronaut)[0].landmarks)
    small = cv2.resize(masked_astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    assert maskgen.find_faces(small, detector="hog") == []
    found = maskgen.find_faces(small, detector="auto")
    assert [f.detector for f in found] == ["mtcnn"]


@needs_mtcnn
def test_batched_detection_matches_one_by_one(astronaut, masked_astronaut):
    images = [astronaut, masked_astronaut, np.ascontiguousarray(astronaut[:, ::-1]), astronaut[:300, :300]]
    batched = detect.find_faces_batch(images, detector="mtcnn")
    for image, faces in zip(images, batched):
        single = maskgen.find_faces(image, detector="mtcnn")
        assert len(single) == len(faces)
        for a, b in zip(single, faces):
            assert np.allclose(a.box, b.box, atol=0.5) and np.allclose(a.landmarks, b.landmarks, atol=1.0)


@pytest.mark.parametrize("detector", [pytest.param("mtcnn", marks=needs_mtcnn), "hog"])
@pytest.mark.parametrize("cut", [(60, 200, 160, 285), (70, 190, 200, 290)], ids=["whole", "cut_by_the_border"])
def test_small_and_cut_off_faces_are_found_and_mapped_back(astronaut, hog_face, detector, cut):
    """A 50x56 and a 36x48 crop (the second cuts the face at the left border): found on the enlarged,
    padded copy; box and landmarks come back in the crop's pixels, reaching outside it where the face does."""
    y0, y1, x0, x1 = cut
    s = 0.4
    small = cv2.resize(astronaut[y0:y1, x0:x1], None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    assert framing.is_small(small.shape)
    expected_box = (hog_face.box - [x0, y0, x0, y0]) * s
    expected_lm = (hog_face.landmarks - [x0, y0] + 0.5) * s - 0.5  # pixel centres after the resize
    found = maskgen.find_faces(small, detector=detector)
    assert len(found) == 1 and found[0].rejected is None
    assert np.abs(found[0].box - expected_box).max() < 0.15 * (expected_box[2] - expected_box[0])
    assert np.linalg.norm(found[0].landmarks - expected_lm, axis=1).mean() < 0.1 * _iod(expected_lm)
    if cut[2] == 200:
        assert found[0].box[0] < 0 and found[0].landmarks[:, 0].min() < 0


def test_views_map_points_back_exactly(astronaut):
    small = np.ascontiguousarray(astronaut[100:150, 200:240])
    view = framing.enlarge(small)
    assert view.kind == "enlarged" and min(view.image.shape[:2]) >= framing.SMALL_SIDE
    pts = np.array([[0.0, 0.0], [39.0, 49.0], [12.5, 30.0]])
    assert np.allclose(framing.apply(view.back, framing.apply(view.forward, pts)), pts)
    # the enlarged copy shows pixel (x, y) of the crop at forward(x, y)
    fx, fy = framing.apply(view.forward, [[20.0, 25.0]])[0].round().astype(int)
    assert np.abs(view.image[fy, fx].astype(int) - small[25, 20].astype(int)).max() < 30
    for rescue in framing.rescue_views(view, (-20.0,)):
        back = framing.apply(rescue.back, framing.apply(rescue.forward, pts))
        assert np.allclose(back, pts), rescue.kind
        box = np.array([5.0, 6.0, 20.0, 30.0])
        base, moved = framing.to_base(rescue, framing.box_through(rescue.forward, box))
        assert np.allclose(framing.box_through(base.back, moved), box) or rescue.kind == "rotated"
    assert not framing.is_small(astronaut.shape) and framing.enlarge(astronaut).kind == "plain"


@needs_mtcnn
def test_mtcnn_finds_real_masked_faces(shared_data):
    paths = _real(shared_data, "real_mask", 20)
    found = [bool(maskgen.find_faces(maskgen.read_image(p), detector="mtcnn")) for p in paths]
    hog = [bool(maskgen.find_faces(maskgen.read_image(p))) for p in paths]
    assert sum(found) >= 0.9 * len(paths), [p.name for p, f in zip(paths, found) if not f]
    assert sum(found) > sum(hog)


@needs_mtcnn
def test_mtcnn_finds_every_face_of_a_group_photo_of_real_masked_people(shared_data):
    """Real masked crops of 60 to 110 px, each found on its own, pasted side by side on a plain wall."""
    crops = []
    for path in _real(shared_data, "real_mask", 40):
        image = maskgen.read_image(path)
        if 40 <= min(image.shape[:2]) and max(image.shape[:2]) <= 200 and maskgen.find_faces(image, "mtcnn"):
            crops.append(image)
    if len(crops) < 4:
        pytest.skip("too few small real masked crops")
    crops = crops[:6]
    scene = np.full((240, 150 * len(crops), 3), (205, 200, 190), np.uint8)
    boxes = []
    for i, crop in enumerate(crops):
        side = 60 + 10 * i
        h, w = crop.shape[:2]
        tile = cv2.resize(crop, (round(w * side / max(h, w)), round(h * side / max(h, w))), interpolation=cv2.INTER_AREA)
        x, y = 150 * i + 20, 60
        scene[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
        boxes.append((x, y, x + tile.shape[1], y + tile.shape[0]))
    found = maskgen.find_faces(scene, detector="mtcnn")
    for box in boxes:
        assert any(_overlap_share(f.box, box) > 0.4 for f in found), (box, [f.box for f in found])
    assert len(found) == len(boxes)


def _overlap_share(face_box, tile_box) -> float:
    """How much of the face box lies on the tile."""
    return intersection(face_box, tile_box) / box_area(face_box)


def test_a_missing_extra_is_named(monkeypatch, astronaut, masked_astronaut):
    monkeypatch.setitem(sys.modules, "facenet_pytorch", None)  # as if not installed
    monkeypatch.setattr(mtcnn, "_models", {})
    monkeypatch.setattr(detect, "_noted", set())
    with pytest.raises(mtcnn.MissingExtraError, match=r"pip install 'maskgen\[mtcnn\]'"):
        detect.check_detector("mtcnn")
    with pytest.raises(mtcnn.MissingExtraError, match=r"pip install 'maskgen\[mtcnn\]'"):
        maskgen.find_faces(astronaut, detector="mtcnn")
    note = detect.check_detector("auto")
    assert "HOG alone" in note and "maskgen[mtcnn]" in note
    small = cv2.resize(masked_astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    with pytest.warns(RuntimeWarning, match="HOG alone"):
        assert maskgen.find_faces(small, detector="auto") == []  # HOG alone: nothing, and no crash
    assert [f.detector for f in maskgen.find_faces(astronaut, detector="auto")] == ["hog"]


def _run_faces(args):
    from click.testing import CliRunner

    from maskgen.cli.faces import faces_command

    return CliRunner().invoke(faces_command, args)


def test_faces_command_prints_csv_and_reports_bad_files(tmp_path, astronaut, hog_face):
    from PIL import Image

    good = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(good)
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    coffee = tmp_path / "coffee.png"
    from skimage import data

    Image.fromarray(data.coffee()).save(coffee)
    result = _run_faces([str(good), str(bad), str(coffee), "--detector", "hog"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1 and rows[0]["file"] == str(good) and rows[0]["face"] == "0"
    assert rows[0]["detector"] == "hog" and rows[0]["rejected"] == ""
    box = np.array([float(rows[0][k]) for k in ("x0", "y0", "x1", "y1")])
    assert np.abs(box - hog_face.box).max() < 4 and float(rows[0]["score"]) > 0
    err = result.stderr.splitlines()
    assert any(str(bad) in line and "not an image" in line for line in err)
    assert any(str(coffee) in line and "no face found" in line for line in err)
    assert err[-1] == "3 photos: 1 with a face, 1 faces, 1 unreadable"


@needs_mtcnn
def test_faces_command_landmarks_and_folders(tmp_path, masked_astronaut):
    from PIL import Image

    Image.fromarray(cv2.resize(masked_astronaut, (256, 256), interpolation=cv2.INTER_AREA)).save(tmp_path / "m.png")
    result = _run_faces([str(tmp_path), "--landmarks"])  # default detector auto: mtcnn finds her
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert len(rows[0]) == 9 + 136 and rows[0][-2:] == ["x67", "y67"]
    assert len(rows) == 2 and rows[1][7] == "mtcnn" and rows[1][0].endswith("m.png")
    assert all(np.isfinite(float(v)) for v in rows[1][9:])


def test_faces_command_usage_errors(tmp_path, monkeypatch):
    result = _run_faces([str(tmp_path / "missing.jpg")])
    assert result.exit_code == 2
    monkeypatch.setitem(sys.modules, "facenet_pytorch", None)
    (tmp_path / "x.jpg").write_bytes(b"")
    result = _run_faces([str(tmp_path / "x.jpg"), "--detector", "mtcnn"])
    assert result.exit_code == 2 and "maskgen[mtcnn]" in result.stderr


@pytest.fixture(scope="module")
def two_sizes(astronaut):
    """A 480x320 wall with the astronaut's face at about 76 px and at about 37 px (HOG box sides)."""
    head = astronaut[0:320, 96:416]
    wall = np.full((320, 480, 3), (200, 196, 188), np.uint8)
    big = cv2.resize(head, (256, 256), interpolation=cv2.INTER_AREA)[:240]
    small = cv2.resize(head, (112, 112), interpolation=cv2.INTER_AREA)
    wall[40:280, 10:266] = big
    wall[100:212, 330:442] = small
    return wall


def test_evaluate_and_predict_search_hog_down_to_40_px_faces(two_sizes):
    """evaluate/predict (min_face 40) find the 37 px face beside the big one, as the single scan at
    upsample 1 of earlier versions did; augment's default (min_face 80) stops at the scan that found
    the big face."""
    from maskgen_trainer.config import InferenceOptions
    from maskgen_trainer.predict import detect as predict_detect

    opts = InferenceOptions(detector="hog")
    assert opts.min_face == 40 and opts.upsample is None
    found = predict_detect(two_sizes, "hog", opts.upsample, opts.max_side, opts.min_score, opts.min_face)
    sides = sorted(round(b[2] - b[0]) for b, _, _ in found)
    old = maskgen.find_faces(two_sizes, detector="hog", upsample=1)
    assert len(found) == 2 == len(old) and 30 <= sides[0] <= 45 and sides[1] >= 65, sides
    assert [d for _, _, d in found] == ["hog", "hog"]
    assert len(maskgen.find_faces(two_sizes, detector="hog")) == 1  # min_face 80
    shrunk = predict_detect(two_sizes, "hog", None, 400, None, 40)  # searched on a 400 px copy: min_face scaled
    assert len(shrunk) == 2


def test_faces_command_min_face(tmp_path, two_sizes):
    from PIL import Image

    Image.fromarray(two_sizes).save(tmp_path / "wall.png")
    rows = {}
    for args in ([], ["--min-face", "40"], ["--upsample", "1"]):
        result = _run_faces([str(tmp_path / "wall.png"), "--detector", "hog", *args])
        assert result.exit_code == 0, result.output
        rows[tuple(args)] = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows[()]) == 1 and len(rows[("--min-face", "40")]) == 2 == len(rows[("--upsample", "1")])
