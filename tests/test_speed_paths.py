"""The fast paths give the same bytes as recomputing: per-photo reuse (mesh, lighting), the drawing cache,
and coarse-to-fine detection against the plain scans it stands for."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import maskgen
from maskgen.dataset import job
from maskgen.mask import masker
from maskgen.mask.masker import mask_faces, prepare_faces

from conftest import make_src_tree, rotate, tree_digest


@pytest.fixture(scope="module")
def astro_faces(astronaut):
    faces = maskgen.find_faces(astronaut)
    assert len(faces) == 1 and not faces[0].rejected
    return faces


@pytest.fixture
def no_cache():
    """The drawing cache off (and emptied) for the test's duration."""
    saved = masker._DRAWINGS
    masker._DRAWINGS = masker._DrawingCache(masker.DRAWING_CACHE_BYTES)
    masker._DRAWINGS.enabled = False
    yield
    masker._DRAWINGS = saved


def _same(a: maskgen.MaskResult, b: maskgen.MaskResult) -> None:
    assert a.image.tobytes() == b.image.tobytes()
    assert len(a.faces) == len(b.faces)
    for fa, fb in zip(a.faces, b.faces):
        assert fa.alpha.tobytes() == fb.alpha.tobytes()
        assert fa.attributes == fb.attributes


@pytest.mark.parametrize("mask_type", ["surgical", "cloth", "n95_valve", "zipper_print"])
def test_precomputed_lighting_gives_the_same_bytes(astronaut, astro_faces, mask_type):
    options = maskgen.MaskOptions(mask_type=mask_type)
    prepared = prepare_faces(astronaut, astro_faces)
    for seed in (0, 1):  # one preparation serves several variants
        plain = mask_faces(astronaut, astro_faces, options, seed=seed)
        reused = mask_faces(astronaut, astro_faces, options, seed=seed, prepared=prepared)
        _same(plain, reused)
    with pytest.raises(ValueError, match="prepared holds"):
        mask_faces(astronaut, astro_faces, options, seed=0, prepared=prepared * 2)


def test_drawing_cache_reuses_only_deterministic_drawings(astronaut, astro_faces):
    cache = masker._DrawingCache(masker.DRAWING_CACHE_BYTES)
    saved, masker._DRAWINGS = masker._DRAWINGS, cache
    try:
        fixed = maskgen.MaskOptions(mask_type="zipper_print", color="#d9c7a8", shape_jitter=0.0)  # the same attributes each time
        first = [mask_faces(astronaut, astro_faces, fixed, seed=s) for s in (0, 1, 0)]
        assert len(cache.items) == 1 and not cache.random_types  # a user mask: no randomness
        mask_faces(astronaut, astro_faces, maskgen.MaskOptions(mask_type="surgical"), seed=0)
        assert ("surgical", "correct") in cache.random_types and len(cache.items) == 1  # its wrinkles are random: not kept
        cache.enabled = False
        again = [mask_faces(astronaut, astro_faces, fixed, seed=s) for s in (0, 1, 0)]
    finally:
        masker._DRAWINGS = saved
    for a, b in zip(first, again):
        _same(a, b)
    _same(first[0], first[2])
    drawing = next(iter(cache.items.values()))
    assert not drawing.alpha.flags.writeable  # shared: nothing may draw into it


def _build(src, out, **kw):
    cfg = maskgen.DatasetConfig(seed=7, variants=2, negatives=1.0, mask_type="surgical,cloth,zipper_print",
                                shape_jitter=0.0, **kw)
    maskgen.build_dataset(src, out, cfg, workers=1, progress=False, messages=False)
    return tree_digest(out)


@pytest.mark.parametrize("crop", ["full", "face"])
def test_dataset_with_and_without_reuse_is_byte_identical(tmp_path, small_astronaut, monkeypatch, crop):
    src = make_src_tree(tmp_path, small_astronaut)
    fast = _build(src, tmp_path / "fast", crop=crop)
    monkeypatch.setattr(job, "REUSE", False)
    off = masker._DrawingCache(masker.DRAWING_CACHE_BYTES)
    off.enabled = False
    monkeypatch.setattr(masker, "_DRAWINGS", off)
    slow = _build(src, tmp_path / "slow", crop=crop)
    assert fast == slow and len(fast) > 10


def test_rotated_copy_masks_the_same_with_reuse(small_astronaut, no_cache):
    image = rotate(small_astronaut, 20)
    faces = maskgen.find_faces(image)
    assert faces
    options = maskgen.MaskOptions(mask_type="kn95")
    _same(mask_faces(image, faces, options, seed=3),
          mask_faces(image, faces, options, seed=3, prepared=prepare_faces(image, faces)))


def test_prepare_skips_rejected_faces(astronaut, astro_faces):
    rejected = dataclasses.replace(astro_faces[0], rejected="test")
    prepared = prepare_faces(astronaut, [rejected, astro_faces[0]])
    assert prepared[0] is None and prepared[1] is not None
    result = mask_faces(astronaut, [rejected, astro_faces[0]], seed=0, prepared=prepared)
    assert len(result.faces) == 1 and result.skipped[0][1] == "test"
    assert np.isfinite(prepared[1].lighting.exposure)


def test_no_augmentation_shortcut_matches_the_pipeline(astronaut, astro_faces):
    from maskgen.augment import augment

    face = astro_faces[0]
    boxes = [face.box, face.box + [-40, -40, 300, 0]]  # the second reaches out of the frame
    landmarks = [face.landmarks, None]
    a = augment(astronaut, landmarks, boxes, preset="none")
    b = job.unaugmented(astronaut, landmarks, boxes)
    assert a.image is astronaut and b.image is astronaut
    assert a.visible == b.visible and a.applied == b.applied == []
    for x, y in zip(a.boxes + a.landmarks[:1], b.boxes + b.landmarks[:1]):
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
    assert b.landmarks[1] is None and b.landmarks[0] is not face.landmarks


def test_no_augmentation_run_never_imports_imgaug(tmp_path, small_astronaut):
    import subprocess
    import sys

    src = make_src_tree(tmp_path, small_astronaut)
    code = ("import sys, maskgen; maskgen.build_dataset(sys.argv[1], sys.argv[2], maskgen.DatasetConfig("
            "augment='none', negatives=1.0), workers=1, progress=False, messages=False); "
            "assert 'imgaug' not in sys.modules, 'imgaug imported'")
    subprocess.run([sys.executable, "-c", code, str(src), str(tmp_path / "out")], check=True)


# ----------------------------------------------------------------- coarse-to-fine detection


def test_scan_plan_coarse_to_fine():
    from maskgen.detect.faces import scan_plan

    assert scan_plan() == scan_plan(80) == [(1.0, 0), (1.0, 1)]  # the photo, then upsampled once
    assert scan_plan(40) == [(1.0, 1)] and scan_plan(20) == [(1.0, 2)]
    assert scan_plan(160) == [(0.5, 0), (1.0, 0), (1.0, 1)]  # a half-size copy first
    assert scan_plan(320) == [(0.25, 0), (0.5, 0), (1.0, 0), (1.0, 1)]
    assert scan_plan(80, upsample=2) == scan_plan(upsample=2) == [(1.0, 2)]  # --upsample: one scan, as before
    with pytest.raises(ValueError, match="min_face"):
        scan_plan(0)


def _lm_error(a, b) -> float:
    iod = np.linalg.norm(a.landmarks[42:48].mean(0) - a.landmarks[36:42].mean(0))
    return float(np.linalg.norm(a.landmarks - b.landmarks, axis=1).mean() / iod)


@pytest.fixture(scope="module")
def big_face(astronaut):
    """The astronaut's head and shoulders at 2x (640 px, face box about 180 px)."""
    import cv2

    return cv2.resize(astronaut[0:320, 60:380], (640, 640), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize("variant", ["upright", "rot+25", "rot-25", "flip"])
@pytest.mark.parametrize("min_face", [None, 40, 160])
def test_coarse_to_fine_finds_the_faces_upsample_1_finds(big_face, variant, min_face):
    from maskgen.verify.rotated_copies import make_copy

    image, _ = make_copy(big_face, np.zeros((68, 2)), variant)
    ref = maskgen.find_faces(image, upsample=1)
    new = maskgen.find_faces(image, min_face=min_face)
    assert len(ref) == len(new) == 1
    assert _lm_error(ref[0], new[0]) < 0.1  # the same face, landmarks within a tenth of the eye distance
    w_ref, w_new = ref[0].box[2] - ref[0].box[0], new[0].box[2] - new[0].box[0]
    assert 0.6 < w_new / w_ref < 1.6


def test_downscaled_scan_maps_boxes_back(big_face):
    from maskgen.detect import faces

    view = faces.framing.enlarge(big_face)
    (full, _), = faces._scan(view, "hog", 1.0, 0, 0.0, False)
    (half, _), = faces._scan(view, "hog", 0.5, 0, 0.0, False)
    centre = lambda b: np.array([b[0] + b[2], b[1] + b[3]]) / 2  # noqa: E731
    assert np.linalg.norm(centre(full) - centre(half)) < 0.1 * (full[2] - full[0])
    assert 0.75 < (half[2] - half[0]) / (full[2] - full[0]) < 1.33


def test_small_face_found_by_the_finer_scan(small_astronaut):
    import cv2

    tiny = cv2.resize(small_astronaut, (160, 160), interpolation=cv2.INTER_AREA)  # face about 47 px
    assert maskgen.find_faces(tiny, upsample=0) == []
    found = maskgen.find_faces(tiny)  # min_face 80 first, then finer where nothing was found
    assert len(found) == 1 and not found[0].rejected
    assert maskgen.find_faces(tiny, min_face=40)[0].box.tolist() == found[0].box.tolist()


def test_dataset_min_face_and_upsample_settings(tmp_path, small_astronaut):
    src = make_src_tree(tmp_path, small_astronaut)
    cfg = maskgen.DatasetConfig(upsample=1, negatives=0.0, augment="none").validated()
    assert cfg.upsample == 1 and cfg.min_face == 80
    with pytest.raises(ValueError, match="min face must be"):
        maskgen.DatasetConfig(min_face=2).validated()
    summary = maskgen.build_dataset(src, tmp_path / "out", cfg, workers=1, progress=False, messages=False)
    assert summary.outputs == 5
