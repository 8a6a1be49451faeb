"""maskgen against MaskTheFace, side by side on the same photos in one run: wall time and faces masked.

Each tool runs as its own process (start-up included), interleaved over ``--repeats`` rounds, on
the same folder of photos; the table gives the median wall time, the faces each masked, and the
ratio of MaskTheFace's time to maskgen's with 1 worker and with all cores (MaskTheFace has one
process). maskgen runs the issue's settings: surgical masks, no augmentation, one split, no
negatives (``--mask-type surgical --augment none --split 1,0,0 --negatives 0``).

* ``--mtf DIR --mtf-python PATH``: an unmodified MaskTheFace checkout (with its
  ``dlib_models/shape_predictor_68_face_landmarks.dat``) and the python of its environment;
  it runs ``mask_the_face.py --path COPY --mask_type surgical --verbose`` on a copy of the folder.
  Its code stays outside this project.
* Always: **MaskTheFace's floor**, a stand-in that is a lower bound on MaskTheFace's time. For each
  photo MaskTheFace reads it (``cv2.imread``), runs dlib's HOG detector at upsample 1 on it and the
  68-point predictor on each face found, then warps a template; the floor runs exactly those first
  steps (process start, ``import dlib, cv2``, both models loaded, then read + detect + landmarks per
  photo) and nothing else, so MaskTheFace cannot be faster. Its ratio is therefore a lower bound on
  maskgen's speed-up over MaskTheFace, and its face count an upper bound on what MaskTheFace masks.

Without FOLDER the issue's test set is built in a temporary folder (:func:`build_test_set`):
196 photos of 400x400 px from 14 real faces (13 portraits of ``../shared/data/unmasked_faces``
named in :data:`SET_FILES`, and ``skimage.data.astronaut``), each 14 times: upright, flipped,
rotated by +-10 and +-25 degrees, face scaled 0.6-1.5.

    python benchmarks/bench_vs_maskthface.py [FOLDER] [--repeats 3] [--mtf DIR --mtf-python PATH]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from trees import tree_command

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "unmasked_faces"
# 13 portraits of different people (deepface's unit-test photos, face_recognition's examples), plus the astronaut
SET_FILES = (
    "deepface__unit_dataset_img1.jpg", "deepface__unit_dataset_img12.jpg", "deepface__unit_dataset_img15.jpg",
    "deepface__unit_dataset_img20.jpg", "deepface__unit_dataset_img25.jpg", "deepface__unit_dataset_img33.jpg",
    "deepface__unit_dataset_img35.jpg", "deepface__unit_dataset_img41.jpg", "deepface__unit_dataset_img51.jpg",
    "facerecog__alex-lacamoire.jpg", "facerecog__knn_examples_train_biden_biden2.jpg",
    "facerecog__knn_examples_train_obama_obama.jpg", "facerecog__knn_examples_train_rose_leslie_img2.jpg",
)
SIDE = 400
FACE_PX = 140.0  # face size (maskgen.detect.landmarks.face_size) at scale 1
# per face: (flipped, degrees counter-clockwise); scales 0.6..1.5 are dealt out over them
POSES = tuple((flip, angle) for flip in (False, True) for angle in (0, 0, 0, 10, -10, 25, -25))
SETTINGS = ["--mask-type", "surgical", "--augment", "none", "--split", "1,0,0", "--negatives", "0"]

FLOOR = r"""
import sys, time
t0 = time.perf_counter()
import cv2, dlib
folder, predictor_path = sys.argv[1], sys.argv[2]
detector = dlib.get_frontal_face_detector()
predictor = dlib.shape_predictor(predictor_path)
import os
faces = 0
t1 = time.perf_counter()
for name in sorted(os.listdir(folder)):
    image = cv2.imread(os.path.join(folder, name))
    if image is None:
        continue
    for rect in detector(image, 1):
        predictor(image, rect)
        faces += 1
print(f"faces {faces} startup {t1 - t0:.3f} loop {time.perf_counter() - t1:.3f}")
"""


def _source_face(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre and size of the largest face of a source photo (maskgen's detector, upsample 1)."""
    import maskgen
    from maskgen.detect.landmarks import face_size

    faces = [f for f in maskgen.find_faces(image, upsample=1) if not f.rejected]
    if not faces:
        raise RuntimeError("no face found in a test-set source photo")
    lm = max(faces, key=lambda f: face_size(f.landmarks)).landmarks
    return lm[[36, 39, 42, 45, 48, 54, 8]].mean(axis=0), face_size(lm)


def _pose(image: np.ndarray, centre, size: float, flip: bool, angle: float, scale: float) -> np.ndarray:
    if flip:
        image = np.ascontiguousarray(image[:, ::-1])
        centre = np.array([image.shape[1] - 1 - centre[0], centre[1]])
    zoom = scale * FACE_PX / size
    small = cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_AREA if zoom < 1 else cv2.INTER_CUBIC)
    c = np.asarray(centre, float) * zoom
    m = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), angle, 1.0)
    m[:, 2] += [SIDE / 2 - c[0], SIDE / 2 - c[1]]
    return cv2.warpAffine(small, m, (SIDE, SIDE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(118, 118, 118))


def build_test_set(out: Path, folder: Path = SHARED) -> list[Path]:
    """The issue's 196 test photos (400x400 JPEGs) in ``out``; returns their paths."""
    import maskgen
    import skimage.data

    out.mkdir(parents=True, exist_ok=True)
    sources = [(Path(n).stem, maskgen.read_image(folder / n)) for n in SET_FILES]
    sources.append(("astronaut", skimage.data.astronaut()))
    scales = np.linspace(0.6, 1.5, len(POSES))
    paths = []
    for k, (name, image) in enumerate(sources):
        centre, size = _source_face(image)
        for j, (flip, angle) in enumerate(POSES):
            scale = float(scales[(j * 5 + k) % len(POSES)])  # each face gets every scale, in its own order
            pose = _pose(image, centre, size, flip, angle, scale)
            path = out / f"{name}_{'f' if flip else 'u'}{angle:+d}_s{scale:.2f}_{j}.jpg"
            cv2.imwrite(str(path), cv2.cvtColor(pose, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
            paths.append(path)
    return paths


def _timed(cmd: list[str], **kw) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, done


def run_floor(photos: Path, python: str) -> tuple[float, int, str]:
    """MaskTheFace's floor (see the module's help): seconds, faces found, its own start-up/loop split."""
    from maskgen.detect import model_files

    seconds, done = _timed([python, "-c", FLOOR, str(photos), str(model_files.model_path(model_files.LANDMARKS_68))],
                           cwd=photos.parent)
    faces = int(re.search(r"faces (\d+)", done.stdout).group(1))
    return seconds, faces, done.stdout.strip()


def run_maskgen(photos: Path, out: Path, workers: int, python: str, tree: Path | None = None) -> tuple[float, int, str]:
    """``maskgen augment`` with the issue's settings (the maskgen of ``tree`` if given): seconds, faces
    masked, its time-per-stage line."""
    launcher = [python, "-c", "import sys; from maskgen.cli.main import main; sys.exit(main())"]
    cmd = [*(launcher if tree is None else tree_command(python, tree)), "augment",
           str(photos), str(out), *SETTINGS, "--workers", str(workers), "--no-progress", "-q"]
    shutil.rmtree(out, ignore_errors=True)  # the last round's dataset goes before the clock starts
    seconds, done = _timed(cmd, cwd=out.parent)  # not the checkout: python -c puts the cwd first on sys.path
    faces = 0
    with open(out / "metadata.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["label"] != "without_mask":
                faces += len(json.loads(row["face_index"]))
    stages = next((line.strip() for line in done.stderr.splitlines() if "time per stage" in line), "")
    return seconds, faces, stages


def run_mtf(photos: Path, work: Path, mtf: Path, python: str) -> tuple[float, int, str]:
    """An unmodified MaskTheFace on a copy of the photos (it writes next to its input): seconds, faces masked."""
    src = work / "mtf_in"
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(work / "mtf_in_masked", ignore_errors=True)
    shutil.copytree(photos, src)
    seconds, done = _timed([python, "mask_the_face.py", "--path", str(src), "--mask_type", "surgical", "--verbose"],
                           cwd=mtf)
    found = [int(n) for n in re.findall(r"Faces found:\s*(\d+)", done.stdout + done.stderr)]
    written = len(list((work / "mtf_in_masked").glob("*"))) if (work / "mtf_in_masked").is_dir() else 0
    faces = sum(found) if found else written
    return seconds, faces, f"{written} images written"


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _rounds(args, photos: Path, work: Path) -> dict[str, list[tuple[float, int, str]]]:
    tools = {"floor": lambda: run_floor(photos, args.floor_python)}
    if args.mtf:
        tools["mtf"] = lambda: run_mtf(photos, work, args.mtf, args.mtf_python)
    for n in sorted({1, args.workers}):
        tools[f"maskgen{n}"] = lambda n=n: run_maskgen(photos, work / f"maskgen{n}", n, args.maskgen_python)
        if args.other_tree:
            tools[f"other{n}"] = lambda n=n: run_maskgen(photos, work / f"other{n}", n, args.maskgen_python,
                                                         args.other_tree)
    runs: dict[str, list] = {name: [] for name in tools}
    for r in range(args.repeats):
        for name, tool in (tools.items() if r % 2 == 0 else reversed(tools.items())):  # interleaved
            runs[name].append(tool())
            print(f"  round {r + 1} {name:<10} {runs[name][-1][0]:7.2f} s  {runs[name][-1][1]} faces  "
                  f"load {os.getloadavg()[0]:.1f}  {runs[name][-1][2]}", flush=True)
    return runs


def _report(runs: dict, n_photos: int, workers: int, loads: tuple[float, float]) -> None:
    median = {name: statistics.median(r[0] for r in rs) for name, rs in runs.items()}
    faces = {name: rs[-1][1] for name, rs in runs.items()}
    names = {"floor": "MaskTheFace floor (HOG upsample 1 + landmarks; LOWER BOUND on MaskTheFace's time)",
             "mtf": "MaskTheFace (one process)"}
    print(f"\n{n_photos} photos, median of {len(next(iter(runs.values())))} interleaved rounds; "
          f"1-minute load average {loads[0]:.2f} before, {loads[1]:.2f} after")
    print(f"{'tool':<86} {'wall s':>7} {'faces':>6}")
    for name in runs:
        n = re.sub(r"\D", "", name)
        label = names.get(name) or (f"maskgen{' of --other-tree' if name.startswith('other') else ''}, {n} "
                                    f"worker{'s' if n != '1' else ''}")
        print(f"{label:<86} {median[name]:7.2f} {faces[name]:6d}")
    for n in sorted({1, workers}):
        mg = median[f"maskgen{n}"]
        if "mtf" in median:
            print(f"speed-up over MaskTheFace, maskgen with {n} worker(s): {median['mtf'] / mg:.2f}x")
        print(f"speed-up over MaskTheFace's floor, maskgen with {n} worker(s): {median['floor'] / mg:.2f}x "
              f"(a lower bound on the speed-up over MaskTheFace)")
        if f"other{n}" in median:
            print(f"  --other-tree with {n} worker(s): {median['floor'] / median[f'other{n}']:.2f}x over the floor; "
                  f"this tree is {median[f'other{n}'] / mg:.2f}x faster than it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=None,
                        help="photos to run on (default: the issue's test set, built in a temporary folder)")
    parser.add_argument("--mtf", type=Path, default=None, help="an unmodified MaskTheFace checkout")
    parser.add_argument("--mtf-python", default=None, help="the python of MaskTheFace's environment")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=_cores(), help="'all cores' worker count")
    parser.add_argument("--maskgen-python", default=sys.executable)
    parser.add_argument("--floor-python", default=sys.executable, help="a python with dlib and cv2")
    parser.add_argument("--keep", type=Path, default=None, help="build the test set here and keep it")
    parser.add_argument("--other-tree", type=Path, default=None,
                        help="also time the maskgen of this source tree (first on sys.path), e.g. an earlier version")
    args = parser.parse_args()
    if args.mtf is not None:
        if not (args.mtf / "mask_the_face.py").is_file():
            parser.error(f"{args.mtf}: no mask_the_face.py (an unmodified MaskTheFace checkout is expected)")
        args.mtf, args.mtf_python = args.mtf.resolve(), args.mtf_python or sys.executable
    with tempfile.TemporaryDirectory(prefix="bench_mtf_") as tmp:
        work = Path(tmp)
        photos = args.folder
        if photos is None:
            photos = args.keep or work / "photos"
            build_test_set(photos)
            print(f"test set: {len(list(photos.iterdir()))} photos in {photos}")
        load = os.getloadavg()[0]
        runs = _rounds(args, photos.resolve(), work)
        _report(runs, sum(1 for p in photos.iterdir() if p.is_file()), args.workers, (load, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
