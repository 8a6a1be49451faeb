"""maskgen.dataset.build / maskgen.dataset.manifest: layout, manifest, COCO, splits, determinism, resume, bad inputs."""
from __future__ import annotations

import collections
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import make_broken_src, make_src_tree, save, shared_data_dir, tree_digest
from maskgen import DatasetConfig, build_dataset, read_image, read_manifest
from maskgen.boxes import box_iou
from maskgen.dataset.layout import DatasetError
from maskgen.dataset.sources import identity_of, iter_sources, parse_split, source_seed, split_of
from maskgen.dataset.manifest import COLUMNS, LABELS, read_settings, read_skipped

FULL = dict(variants=2, negatives=0.5, split="0.4,0.3,0.3", seed=7)
CROP = dict(crop="face", crop_size=128, variants=2, negatives=1.0, wear="correct=0.5,nose=0.3,chin=0.2",
            split="0.5,0.5", seed=3)


def build(src, out, workers=1, **kw):
    options = {k: kw.pop(k) for k in ("limit", "overwrite") if k in kw}
    return build_dataset(src, out, DatasetConfig(**kw), workers=workers, progress=False, messages=False,
                         **options)


@pytest.fixture(scope="module")
def src(tmp_path_factory, small_astronaut):
    return make_src_tree(tmp_path_factory.mktemp("tree"), small_astronaut)


@pytest.fixture(scope="module")
def full(src, tmp_path_factory):
    before = tree_digest(src, ignore_hidden=False)
    out = tmp_path_factory.mktemp("full") / "out"
    summary = build(src, out, **FULL)
    assert tree_digest(src, ignore_hidden=False) == before  # nothing written inside SRC
    return out, summary


@pytest.fixture(scope="module")
def crop(src, tmp_path_factory):
    out = tmp_path_factory.mktemp("crop") / "out"
    return out, build(src, out, **CROP)


# --------------------------------------------------------------------------- helpers


def test_source_seed_and_split_are_stable_hashes():
    assert source_seed(0, "a/b.jpg") == source_seed(0, "a/b.jpg")
    assert source_seed(0, "a/b.jpg") != source_seed(1, "a/b.jpg") != source_seed(0, "a/c.jpg")
    assert 0 <= source_seed(123, "x.png") < 2 ** 63
    assert identity_of("person/sub/x.jpg") == "person" and identity_of("x.jpg") == "x.jpg"
    # every image of an identity lands in the same split, whatever the image
    for person in ("p1", "p2", "p3"):
        assert len({split_of(f"{person}/{i}.jpg", 5, (0.8, 0.1, 0.1)) for i in range(20)}) == 1
    # the fractions hold over many identities, and an empty split stays empty
    counts = collections.Counter(split_of(f"id{i}/x.jpg", 0, (0.8, 0.1, 0.1)) for i in range(4000))
    assert abs(counts["train"] / 4000 - 0.8) < 0.03 and abs(counts["test"] / 4000 - 0.1) < 0.02
    assert set(collections.Counter(split_of(f"id{i}/x.jpg", 0, (0.7, 0.0, 0.3)) for i in range(500))) == {
        "train", "test"}
    assert parse_split("8,1,1") == pytest.approx((0.8, 0.1, 0.1))
    for bad in ("", "a,b", "1,2,3,4", "-1,2", "0,0"):
        with pytest.raises(ValueError):
            parse_split(bad)


def test_iter_sources_is_sorted_recursive_and_filtered(tmp_path, small_astronaut):
    root = tmp_path / "s"
    for rel in ["b/2.jpg", "b/10.JPG", "a.png", "b/sub/x.tiff", ".hidden/y.jpg", "b/.z.jpg", "c/readme.md",
                "b.jpg"]:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    assert [s for s, _ in iter_sources(root)] == ["a.png", "b/10.JPG", "b/2.jpg", "b/sub/x.tiff", "b.jpg"]
    assert list(iter_sources(root / "a.png")) == [("a.png", None)]


def test_config_validation_messages():
    for kwargs, words in [({"mask_type": "nonsense"}, "mask type"), ({"wear": "sideways"}, "wear"),
                          ({"color": "not-a-colour"}, "colour"), ({"detector": "yolo"}, "detector"),
                          ({"crop": "square"}, "crop"), ({"augment": "medium"}, "augmentation"),
                          ({"split": "1,2,3,4"}, "split"), ({"variants": 0}, "variants"),
                          ({"image_format": "gif"}, "format"), ({"quality": 0}, "quality")]:
        with pytest.raises(ValueError, match=words):
            DatasetConfig(**kwargs).validated()
    c = DatasetConfig(wear={"correct": 2, "chin": 2}, split="2,1,1", max_pixels=0).validated()
    assert c.wear == "correct=0.5,chin=0.5" and c.split == (0.5, 0.25, 0.25) and c.max_pixels is None


def test_runner_names(src, tmp_path):
    """``runner=`` picks the executor; ``engine=``, its old name, still works (with a DeprecationWarning)."""
    with pytest.raises(DatasetError, match="unknown runner 'spark'"):
        build_dataset(src, tmp_path / "x", runner="spark")
    with pytest.warns(DeprecationWarning), pytest.raises(DatasetError, match="disagree"):
        build_dataset(src, tmp_path / "x", runner="local", engine="dask")
    assert not (tmp_path / "x").exists()
    config = DatasetConfig(detector="none", augment="none")
    s = build_dataset(src, tmp_path / "a", config, workers=1, limit=0, progress=False, runner="local")
    assert s.runner == s.engine == "local" and s.processed == 0
    with pytest.warns(DeprecationWarning, match="runner="):
        s = build_dataset(src, tmp_path / "b", config, workers=1, limit=0, progress=False, engine="local")
    assert s.runner == "local"


# --------------------------------------------------------------------------- full-image mode


def _image_files(out: Path) -> set[str]:
    exts = {".jpg", ".png", ".webp"}
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.suffix in exts and p.is_file()}


def test_full_mode_layout_manifest_and_summary_agree(full, src):
    out, summary = full
    rows = read_manifest(out)
    assert rows and list(rows[0]) == list(COLUMNS)
    files = _image_files(out)
    assert files == {r["file_name"] for r in rows}  # manifest and disk agree, no stray files
    assert not any(p.name.startswith(".") for p in out.iterdir() if p.name not in ())  # no .parts/.tmp/.lock
    # layout: <split>/<label>/<mirrored subfolders>/<stem>_<suffix>.jpg
    for r in rows:
        parts = r["file_name"].split("/")
        assert parts[0] == r["split"] and parts[1] == r["label"] and r["label"] in LABELS
        assert parts[2:-1] == r["source"].split("/")[:-1]
        stem = Path(r["source"]).stem
        suffix = f"_v{r['variant']}" if r["label"] != "without_mask" else f"_n{r['variant']}"
        assert parts[-1] == f"{stem}{suffix}.jpg"
        assert isinstance(r["face_index"], list) and len(r["box"]) == len(r["landmarks"]) == len(r["face_index"])
        assert all(len(lm) == 68 for lm in r["landmarks"])
        assert r["seed"] == source_seed(FULL["seed"], r["source"])
        assert isinstance(r["augment"], list)
        w, h = r["width"], r["height"]
        for x0, y0, x1, y1 in r["box"]:
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        if r["label"] == "without_mask":
            assert r["mask_type"] == ["none"] * len(r["box"])
        else:
            assert r["wear"] == ["correct"] * len(r["box"]) and r["mask_type"][0] != "none"
    # every source with 2 masked variants, negatives at ratio 0.5 -> about one per source
    by_source = collections.Counter(r["source"] for r in rows if r["label"] == "with_mask")
    assert set(by_source.values()) == {2} and len(by_source) == 5
    negatives = sum(r["label"] == "without_mask" for r in rows)
    assert 1 <= negatives <= 10
    # summary counts agree with the manifest
    counts = collections.Counter((r["split"], r["label"]) for r in rows)
    assert {(s, lab): n for s, c in summary.counts.items() for lab, n in c.items()} == dict(counts)
    assert summary.outputs == len(rows) and summary.processed == 5 and summary.sources_total == 5
    assert summary.skips == {} and read_skipped(out) == []
    assert "maskgen augment" in summary.format()
    # identities never straddle splits
    splits = collections.defaultdict(set)
    for r in rows:
        splits[identity_of(r["source"])].add(r["split"])
    assert all(len(s) == 1 for s in splits.values())
    # per-split manifests mirror the root one with file names relative to the split folder
    for split in {r["split"] for r in rows}:
        local = read_manifest(out / split)
        assert [f"{split}/{r['file_name']}" for r in local] == [r["file_name"] for r in rows if r["split"] == split]
    settings = read_settings(out)
    assert settings["config"]["seed"] == 7 and settings["config"]["variants"] == 2
    assert settings["source"] == str(src.resolve())


def test_full_mode_landmarks_follow_augmentation(full):
    """Unmasked outputs: a fresh detection on the written image agrees with the manifest."""
    from maskgen import find_faces

    out, _ = full
    rows = [r for r in read_manifest(out) if r["label"] == "without_mask"]
    checked = 0
    for r in rows:
        image = read_image(out / r["file_name"])
        box = np.array(r["box"][0])
        found = [f for f in find_faces(image) if box_iou(f.box, box) > 0.5]
        if len(found) != 1:
            continue  # the detector missed this face (or found another thing)
        lm = np.array(r["landmarks"][0])
        err = np.linalg.norm(found[0].landmarks - lm, axis=1).mean()
        size = lm[:, 1].max() - lm[:, 1].min()
        assert err < 0.08 * size, (r["file_name"], r["augment"], err)
        checked += 1
    assert checked >= 2


def test_coco_files_load_and_boxes_lie_inside(full):
    from pycocotools.coco import COCO

    out, summary = full
    rows = read_manifest(out)
    for split in {r["split"] for r in rows}:
        path = out / f"coco_{split}.json"
        assert summary.coco[split] == path
        coco = COCO(str(path))
        names = {c["name"] for c in coco.loadCats(coco.getCatIds())}
        assert names == {"with_mask", "without_mask", "incorrect_mask"}
        split_rows = [r for r in rows if r["split"] == split]
        assert len(coco.getImgIds()) == len(split_rows)
        assert len(coco.getAnnIds()) == sum(len(r["box"]) for r in split_rows)
        for img in coco.loadImgs(coco.getImgIds()):
            assert (out / img["file_name"]).is_file()
            w, h = img["width"], img["height"]
            with open(out / img["file_name"], "rb"):
                pass
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]])):
                x, y, bw, bh = ann["bbox"]
                assert x >= 0 and y >= 0 and bw > 0 and bh > 0 and x + bw <= w and y + bh <= h
                assert len(ann["keypoints"]) == 68 * 3 and ann["num_keypoints"] > 0
                assert coco.loadCats(ann["category_id"])[0]["name"] == img["label"]


def test_imagefolder_and_hf_datasets_load(full, tmp_path, monkeypatch):
    torchvision = pytest.importorskip("torchvision")
    datasets = pytest.importorskip("datasets")
    out, _ = full
    rows = read_manifest(out)
    for split in {r["split"] for r in rows}:
        folder = torchvision.datasets.ImageFolder(str(out / split))
        expected = {r["file_name"]: r["label"] for r in rows if r["split"] == split}
        assert len(folder) == len(expected)
        for path, target in folder.samples:
            rel = Path(path).relative_to(out).as_posix()
            assert folder.classes[target] == expected[rel]
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ds = datasets.load_dataset("imagefolder", data_dir=str(out), cache_dir=str(tmp_path / "hf"))
    hf_names = {"train": "train", "val": "validation", "test": "test"}
    assert sum(len(d) for d in ds.values()) == len(rows)
    for split in {r["split"] for r in rows}:
        d = ds[hf_names[split]]
        assert sorted(d["source"]) == sorted(r["source"] for r in rows if r["split"] == split)
        assert "landmarks" in d.column_names and d[0]["image"].size[0] > 0


# --------------------------------------------------------------------------- crop mode


def test_crop_mode_faces_labels_and_coordinates(crop):
    out, summary = crop
    rows = read_manifest(out)
    assert _image_files(out) == {r["file_name"] for r in rows}
    labels = collections.Counter(r["label"] for r in rows)
    masked = collections.Counter((r["source"], r["face_index"]) for r in rows if r["label"] != "without_mask")
    negatives = collections.Counter((r["source"], r["face_index"]) for r in rows if r["label"] == "without_mask")
    out_of_frame = {(s["source"], s["face_index"]) for s in read_skipped(out) if s["kind"] == "out_of_frame"}
    assert len({s for s, _ in masked}) == 5  # every source gave crops
    for face in set(masked) | set(negatives):  # 2 variants and ratio 1 × 2 negatives per face
        assert masked[face] == 2 or face in out_of_frame
        assert negatives[face] == 2 or face in out_of_frame
    assert labels["incorrect_mask"] >= 1 and labels["with_mask"] >= 1
    assert not list(out.glob("coco_*.json"))
    for r in rows:
        assert r["width"] == r["height"] == 128 and isinstance(r["face_index"], int)
        assert Path(r["file_name"]).name.startswith(f"{Path(r['source']).stem}_f{r['face_index']}_")
        lm = np.array(r["landmarks"])
        assert lm.shape == (68, 2) and lm.min() >= 0 and lm.max() <= 127
        x0, y0, x1, y1 = r["box"]
        assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 128
        # face crops with a random margin: the face fills roughly 50-95% of the side
        assert 0.4 < (x1 - x0) / 128 < 1.0
        if r["label"] == "without_mask":
            assert r["mask_type"] == "none" and r["wear"] == "none"
        else:
            assert r["wear"] in ("correct", "nose", "chin")
            assert (r["label"] == "with_mask") == (r["wear"] == "correct")
        img = read_image(out / r["file_name"])
        assert img.shape == (128, 128, 3)
    assert sum(summary.counts["train"].values()) + sum(summary.counts["val"].values()) == len(rows)


def test_crop_drop_centres_face_crops_lower(tmp_path, astronaut):
    """``crop_drop`` moves every face crop's centre down by that share of the face's side, the random
    framing otherwise drawn the same: the same face sits higher in the crop by exactly that much (its
    landmarks in the manifest, at the crop's scale), and settings.json keeps the value for the trainer."""
    save(tmp_path / "src" / "astro.png", astronaut)
    rows = {}
    for drop in (0.0, 0.15):
        out = tmp_path / f"out{drop}"
        build(tmp_path / "src", out, crop_drop=drop, crop="face", crop_size=128, variants=3, negatives=1.0,
              augment="none", split="1,0", seed=5)
        assert read_settings(out)["config"]["crop_drop"] == drop
        rows[drop] = {r["file_name"]: r for r in read_manifest(out)}
    assert rows[0.0].keys() == rows[0.15].keys() and len(rows[0.0]) == 6
    for name, r in rows[0.0].items():
        lm0, lm1 = np.array(r["landmarks"]), np.array(rows[0.15][name]["landmarks"])
        x0, _, x1, _ = r["box"]  # the face box in this crop's pixels (square; cut at the bottom edge)
        inside = (lm0[:, 1] < 126.5) & (lm1[:, 1] > 0.5)  # the manifest clips points to the crop
        assert inside.sum() > 40
        assert np.allclose(lm0[:, 0], lm1[:, 0], atol=0.02)
        assert np.allclose(lm0[inside, 1] - lm1[inside, 1], 0.15 * (x1 - x0), atol=0.6), name


# --------------------------------------------------------------------------- determinism and resume


def test_two_workers_give_identical_bytes(src, full, tmp_path):
    out, _ = full
    out2 = tmp_path / "out2"
    build(src, out2, workers=2, **FULL)
    assert tree_digest(out2) == tree_digest(out)


@pytest.mark.skipif(sys.platform != "linux", reason="the fork server's start-up path is what is tested")
def test_workers_import_the_maskgen_their_caller_imported(tmp_path):
    """A caller that puts another copy of maskgen first on sys.path gets workers running that copy
    (Python 3.11's fork server would otherwise import the installed one, with other code and bytes)."""
    import shutil
    import maskgen
    copy = tmp_path / "tree"
    shutil.copytree(Path(maskgen.__file__).parent, copy / "maskgen", ignore=shutil.ignore_patterns("__pycache__"))
    code = (f"import sys; sys.path.insert(0, {str(copy)!r})\n"
            "from maskgen.dataset import local_runner\n"
            "import maskgen\n"
            "pool = local_runner.mp_context('hog', 'none').Pool(1)\n"
            "print(maskgen.__file__, pool.apply(eval, (\"__import__('maskgen').__file__\",)))\n"
            "pool.close(); pool.join()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    caller, worker = done.stdout.split()
    assert caller == worker == str(copy / "maskgen" / "__init__.py")


def test_limit_then_rerun_equals_uninterrupted_run(src, full, tmp_path):
    out, _ = full
    partial = tmp_path / "partial"
    s1 = build(src, partial, limit=2, **FULL)
    assert s1.processed == 2 and s1.sources_total == 2
    assert {r["source"] for r in read_manifest(partial)} == {"alice/a1.jpg", "alice/trip/a2.png"}
    s2 = build(src, partial, limit=1, **FULL)
    assert s2.processed == 1 and s2.already_done == 2
    s3 = build(src, partial, **FULL)
    assert s3.processed == 2 and s3.already_done == 3
    assert tree_digest(partial) == tree_digest(out)
    s4 = build(src, partial, **FULL)  # nothing left to do
    assert s4.processed == 0 and s4.outputs == s3.outputs
    assert tree_digest(partial) == tree_digest(out)


def test_killed_run_then_rerun_equals_uninterrupted_run(src, full, tmp_path):
    out, _ = full
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-c", "from maskgen.cli.main import main; main()", "augment", str(src), str(killed),
           "--workers", "1", "--no-progress", "--variants", "2", "--negatives", "0.5",
           "--split", "0.4,0.3,0.3", "--seed", "7"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    parts = killed / ".parts"
    try:
        while time.time() < deadline and proc.poll() is None:
            if parts.is_dir() and any(parts.rglob("*.json")):
                break
            time.sleep(0.005)
        assert proc.poll() is None, proc.stderr.read().decode()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (killed / "metadata.csv").exists()  # really killed midway
    summary = build(src, killed, **FULL)
    assert summary.already_done >= 1 and summary.processed <= 4
    assert tree_digest(killed) == tree_digest(out)
    assert not (killed / ".parts").exists() and not (killed / ".tmp").exists()


def test_half_written_source_is_redone(src, full, tmp_path):
    """Images of a source written but its part missing (killed in between): redone, same bytes."""
    out, _ = full
    half = tmp_path / "half"
    build(src, half, limit=1, **FULL)
    # simulate a kill after some images of the next source and a temp file
    rows = [r for r in read_manifest(out) if r["source"] == "alice/trip/a2.png"]
    target = half / rows[0]["file_name"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"half")
    (half / ".tmp").mkdir(exist_ok=True)
    (half / ".tmp" / ".x.jpg.123.0.tmp").write_bytes(b"junk")
    build(src, half, **FULL)
    assert tree_digest(half) == tree_digest(out)


# --------------------------------------------------------------------------- safety


def test_settings_guard_and_overwrite(src, tmp_path):
    out = tmp_path / "o"
    build(src, out, limit=1, **FULL)
    with pytest.raises(DatasetError, match="different settings.*seed"):
        build(src, out, **dict(FULL, seed=8))
    s = build(src, out, overwrite=True, limit=1, **dict(FULL, seed=8))
    assert s.already_done == 0 and read_settings(out)["config"]["seed"] == 8
    assert len({r["source"] for r in read_manifest(out)}) == 1
    # a foreign, non-empty OUT is refused
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not empty"):
        build(src, foreign, **FULL)
    with pytest.raises(DatasetError, match="not empty"):
        build(src, foreign, overwrite=True, **FULL)
    assert (foreign / "mine.txt").read_text() == "keep me"


def test_out_inside_src_is_refused(src):
    before = tree_digest(src, ignore_hidden=False)
    for inside in (src / "out", src, src / "alice" / "x"):
        with pytest.raises(DatasetError, match="inside SRC"):
            build(src, inside, **FULL)
    assert tree_digest(src, ignore_hidden=False) == before
    assert not (src / "out").exists() and not (src / "alice" / "x").exists()


def test_no_images_is_an_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.txt").write_text("x")
    with pytest.raises(DatasetError, match="no images"):
        build(empty, tmp_path / "o")
    assert not (tmp_path / "o").exists()
    with pytest.raises(DatasetError, match="does not exist"):
        build(tmp_path / "missing", tmp_path / "o2")


def test_broken_inputs_are_listed_and_good_ones_processed(tmp_path, small_astronaut):
    src, bad, good = make_broken_src(tmp_path, small_astronaut)
    before = tree_digest(src, ignore_hidden=False)
    out = tmp_path / "out"
    messages = []
    summary = build_dataset(src, out, DatasetConfig(max_pixels=2_000_000, negatives=0, split="1", augment="none"),
                            workers=1, progress=False, log=messages.append)
    assert tree_digest(src, ignore_hidden=False) == before
    skipped = {r["source"]: r for r in read_skipped(out)}
    assert set(skipped) == set(bad)
    for name, kind in bad.items():
        got = skipped[name]["kind"]
        if kind == "read_error":
            assert got in ("corrupt", "not_image", "truncated"), (name, got)
        else:
            assert got == kind, (name, got, skipped[name]["reason"])
        assert skipped[name]["reason"] and "\n" not in skipped[name]["reason"]
        assert any(m.startswith(f"skipped {name}: ") for m in messages), name
    rows = read_manifest(out)
    assert sorted(r["source"] for r in rows) == sorted(good)
    assert summary.skips == collections.Counter(r["kind"] for r in skipped.values())
    # the EXIF-rotated photo was processed upright: eyes above the mouth, as in the source
    r = next(r for r in rows if r["source"] == "exif_rotated.jpg")
    lm = np.array(r["landmarks"][0])
    assert lm[36:48, 1].mean() < lm[48:60, 1].mean() - 10
    assert (r["width"], r["height"]) == (small_astronaut.shape[1], small_astronaut.shape[0])
    # the grey inputs gave grey outputs, and nothing odd was written
    grey = read_image(out / next(r["file_name"] for r in rows if r["source"] == "grey16.tif")).astype(int)
    assert np.abs(grey[..., 0] - grey[..., 2]).max() <= 8


def test_same_stem_siblings_do_not_collide(tmp_path, small_astronaut):
    src = tmp_path / "s"
    save(src / "p.jpg", small_astronaut)
    save(src / "p.png", small_astronaut)
    out = tmp_path / "o"
    build(src, out, negatives=0, augment="none", split="1")
    names = sorted(r["file_name"] for r in read_manifest(out))
    assert names == ["train/with_mask/p_jpg_v0.jpg", "train/with_mask/p_png_v0.jpg"]


def test_single_file_source(tmp_path, small_astronaut):
    photo = save(tmp_path / "in" / "one.png", small_astronaut)
    out = tmp_path / "o"
    s = build(photo, out, negatives=0, split="1", augment="none", image_format="png")
    assert s.outputs == 1
    assert [r["file_name"] for r in read_manifest(out)] == ["train/with_mask/one_v0.png"]


def test_detector_none_on_face_crops(tmp_path, astronaut):
    src = tmp_path / "crops"
    save(src / "id1" / "face.jpg", astronaut[55:195, 150:290])
    out = tmp_path / "o"
    s = build(src, out, detector="none", negatives=1, split="1", crop="face", crop_size=96)
    assert s.outputs == 2 and {r["label"] for r in read_manifest(out)} == {"with_mask", "without_mask"}


@pytest.mark.slow
def test_real_photos_workers_and_resume(shared_data, tmp_path):
    """A few of the real portraits: 1 vs 2 workers and a limited run + rerun give the same bytes."""
    photos = sorted((shared_data / "unmasked_faces").glob("*.jpg"))[:: 30][:4]
    src = tmp_path / "real"
    src.mkdir()
    for p in photos:  # links, never copies of the photos
        (src / p.name).symlink_to(p)
    opts = dict(variants=1, negatives=1, seed=11, split="0.5,0.5")
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    sa = build(src, a, workers=1, **opts)
    build(src, b, workers=2, **opts)
    build(src, c, workers=2, limit=2, **opts)
    build(src, c, workers=1, **opts)
    assert sa.outputs >= 4
    assert tree_digest(a) == tree_digest(b) == tree_digest(c)
    assert shared_data_dir().is_dir()


def test_source_removed_after_a_kill_keeps_its_outputs(tmp_path, small_astronaut, monkeypatch):
    """A killed run's finished sources stay in the manifest even if removed from SRC before the rerun."""
    import maskgen.dataset.build as ds

    src = make_src_tree(tmp_path, small_astronaut)
    out = tmp_path / "out"

    def killed(*a, **k):
        raise KeyboardInterrupt  # dies after processing, before merging

    monkeypatch.setattr(ds, "_merge", killed)
    with pytest.raises(KeyboardInterrupt):
        build(src, out, limit=2, negatives=0, augment="none", split="1")
    monkeypatch.undo()
    assert not (out / "metadata.csv").exists() and (out / ".parts").is_dir()
    (src / "alice" / "a1.jpg").unlink()  # processed, then removed from SRC
    summary = build(src, out, negatives=0, augment="none", split="1")
    rows = read_manifest(out)
    assert [r["source"] for r in rows] == ["alice/a1.jpg", "alice/trip/a2.png", "bob/b1.jpg", "carol/c1.webp",
                                           "loose.jpg"]
    assert _image_files(out) == {r["file_name"] for r in rows} and summary.outputs == 5


def test_killed_after_merge_before_cleanup(src, full, tmp_path, monkeypatch):
    """Part files still there next to a finished metadata.csv: the rerun ends with the same bytes."""
    import maskgen.dataset.build as ds

    out, _ = full
    late = tmp_path / "late"
    real_rmtree = ds.shutil.rmtree

    def killed(path, *a, **k):
        if str(path).endswith(ds.PARTS_DIR):
            raise KeyboardInterrupt
        return real_rmtree(path, *a, **k)

    monkeypatch.setattr(ds.shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        build(src, late, **FULL)
    monkeypatch.undo()
    assert (late / "metadata.csv").is_file() and (late / ".parts").is_dir()
    s = build(src, late, **FULL)
    assert s.processed == 0
    assert tree_digest(late) == tree_digest(out)


def _green_share(image: np.ndarray) -> float:
    """Share of pixels of a pure green mask (shaded by the face's light), on the astronaut, where
    nothing else is green."""
    im = image.astype(int)
    return float(((im[..., 1] > im[..., 0] + 50) & (im[..., 1] > im[..., 2] + 50)).mean())


def test_a_crop_that_hides_the_mask_is_drawn_again(tmp_path, astronaut):
    """Masks worn on the chin under tight face crops: without the check (min_mask_visible 0) written
    crops labelled incorrect_mask show little or none of the mask; by default a draw that hides most of
    it is drawn again, and every written crop shows the mask, measured on its pixels by the mask's
    colour (a fully visible mask covers about a quarter of the crop here)."""
    save(tmp_path / "src" / "astro.png", astronaut)
    options = dict(crop="face", crop_size=128, variants=12, negatives=0, wear="chin", color="#00ff00",
                   texture="none", mask_type="surgical,cloth,kn95", augment={"face_crop": [0.95, 1.3]},
                   split="1,0,0", seed=0)
    shares = {}
    for check in (0.0, 0.5):
        out = tmp_path / f"out{check}"
        build(tmp_path / "src", out, min_mask_visible=check, **options)
        rows = read_manifest(out)
        assert {r["label"] for r in rows} == {"incorrect_mask"}
        shares[check] = [_green_share(read_image(out / r["file_name"])) for r in rows]
        skipped = read_skipped(out)
        assert all(s["kind"] == "mask_hidden" and s["variant"] != "" for s in skipped), skipped
        assert len(rows) + len(skipped) == options["variants"]
    assert min(shares[0.0]) < 0.02  # some crops hide the mask under that label
    assert len(shares[0.5]) >= 4 and min(shares[0.5]) > 0.1


def test_paired_negatives_differ_from_their_variant_only_by_the_mask(tmp_path, astronaut):
    """With ``paired_negatives`` unmasked output j takes masked variant j's augmentation and crop, the
    draw that variant kept included (chin-worn masks under tight crops force redraws): the pair has the
    same landmarks, box and augmentation, the same pixels around the eyes and other ones on the chin.
    Without pairing the negatives are framed otherwise."""
    save(tmp_path / "src" / "astro.png", astronaut)
    options = dict(crop="face", crop_size=128, variants=6, negatives=1, wear="chin", color="#00ff00",
                   texture="none", mask_type="surgical,cloth", split="1,0,0", seed=0,
                   augment={"base": "realistic", "face_crop": [0.95, 1.3]})
    pairs = {}
    for paired in (False, True):
        out = tmp_path / f"out{paired}"
        build(tmp_path / "src", out, paired_negatives=paired, **options)
        rows = {Path(r["file_name"]).stem: r for r in read_manifest(out)}
        pairs[paired] = [(rows[s], rows[s.replace("_v", "_n")], out) for s in rows
                         if "_v" in s and s.replace("_v", "_n") in rows]
        assert len(pairs[paired]) >= 4
    assert read_settings(tmp_path / "outTrue")["config"]["paired_negatives"] is True
    assert any(v["landmarks"] != n["landmarks"] for v, n, _ in pairs[False])
    for v, n, out in pairs[True]:
        assert (v["landmarks"], v["box"], v["augment"]) == (n["landmarks"], n["box"], n["augment"])
        masked, bare = read_image(out / v["file_name"]).astype(int), read_image(out / n["file_name"]).astype(int)
        diff = np.abs(masked - bare).max(axis=2)
        # the eyes and brows (landmarks 17-26, 36-47): no mask, loop or shadow there, the same pixels
        lm = np.array(v["landmarks"])[list(range(17, 27)) + list(range(36, 48))]
        (x0, y0), (x1, y1) = np.floor(lm.min(axis=0)).astype(int), np.ceil(lm.max(axis=0)).astype(int)
        assert diff[y0:y1 + 1, x0:x1 + 1].mean() < 1.5, diff[y0:y1 + 1, x0:x1 + 1].mean()
        # the mask pulled down: below the lower lip (landmark 57), between the jaw's sides, the pair differs
        jaw = np.array(v["landmarks"])[4:13]
        below = diff[int(np.array(v["landmarks"])[57][1]) + 2:, int(jaw[:, 0].min()):int(jaw[:, 0].max())]
        assert below.mean() > 15, below.mean()
    # whole images: the same pairing
    full_out = tmp_path / "full"
    build(tmp_path / "src", full_out, paired_negatives=True, variants=3, negatives=1, wear="chin", split="1,0,0",
          seed=0, augment="realistic")
    rows = {Path(r["file_name"]).stem: r for r in read_manifest(full_out)}
    assert {f"astro_n{j}" for j in range(3)} <= set(rows)
    for j in range(3):
        v, n = rows[f"astro_v{j}"], rows[f"astro_n{j}"]
        assert (v["landmarks"], v["augment"]) == (n["landmarks"], n["augment"])
