"""``maskgen faces IMAGES...``: every face found, as CSV on stdout, to check inputs before a long run.

One row per face: ``file, face, x0, y0, x1, y1, score, detector, rejected`` (box in pixels of the photo as
read, upright after its EXIF orientation; it may reach outside a photo whose face is cut by the border;
``rejected`` says why maskgen would not mask the face, empty when it would), and with ``--landmarks`` the
68 points ``x0, y0, ..., x67, y67``. Photos without a face get no row. Messages go to stderr: the
note of a detector that falls back, one line per file that cannot be read or shows no face (the run
carries on), and a closing count. Exit status 0 when every named path was looked at, 2 for usage
errors (no such path, an unknown detector, mtcnn without its extra).
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from maskgen.detect.face import DETECTORS


def _expand(paths: tuple[str, ...]) -> list[Path]:
    """The named files, and the supported images under each named folder (sorted, recursive)."""
    from maskgen.images import is_supported

    out: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and is_supported(p))
        else:
            out.append(path)
    return out


def _header(landmarks: bool) -> list[str]:
    cols = ["file", "face", "x0", "y0", "x1", "y1", "score", "detector", "rejected"]
    return cols + ([f"{axis}{i}" for i in range(68) for axis in "xy"] if landmarks else [])


def _row(path: Path, index: int, face, landmarks: bool) -> list:
    row = [str(path), index, *(f"{v:.1f}" for v in face.box), f"{face.score:.4f}", face.detector,
           face.rejected or ""]
    return row + ([f"{v:.1f}" for v in face.landmarks.reshape(-1)] if landmarks else [])


@click.command("faces", context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@click.option("--detector", type=click.Choice(DETECTORS), default="auto",
              help="auto: HOG, and MTCNN where HOG finds nothing; mtcnn: finds masked faces (maskgen[mtcnn]); "
                   "hog, cnn: dlib's; none: each photo is a face crop.")
@click.option("--min-face", type=click.IntRange(8, 100000), default=None, show_default=False, metavar="PX",
              help="Smallest face hog and cnn search for (box side, px), coarse to fine  "
                   "[default: 80, as maskgen augment]")
@click.option("--upsample", type=click.IntRange(0, 4), default=None, show_default=False,
              help="Instead of --min-face's search: one hog/cnn scan of the photo upsampled this many times")
@click.option("--landmarks", "with_landmarks", is_flag=True, help="Add the 68 landmark points (x, y) to each row.")
@click.option("--device", default=None, help="torch device for mtcnn  [default: cuda where present, else cpu]",
              show_default=False)
def faces_command(images, detector, min_face, upsample, with_landmarks, device):
    """Find every face in IMAGES (files, or folders walked recursively) and print them as CSV.

    Check a folder before a long `maskgen augment` or `maskgen evaluate` run: a photo without a row is
    one where no face was found.
    """
    from maskgen.detect import faces as detect
    from maskgen.detect.mtcnn import MissingExtraError
    from maskgen.images import ImageReadError, read_image

    try:
        note = detect.check_detector(detector)
    except (ValueError, MissingExtraError) as exc:
        raise click.UsageError(str(exc)) from exc
    if note:
        click.echo(note, err=True)
        detector = "hog"
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(_header(with_landmarks))
    counts = {"photos": 0, "with_face": 0, "faces": 0, "unreadable": 0}
    for path in _expand(images):
        counts["photos"] += 1
        try:
            found = detect.find_faces(read_image(path), detector=detector, device=device, min_face=min_face,
                                      upsample=upsample)
        except ImageReadError as exc:
            counts["unreadable"] += 1
            click.echo(f"skip {exc}", err=True)
            continue
        except MissingExtraError as exc:
            raise click.ClickException(str(exc)) from exc
        if not found:
            click.echo(f"{path}: no face found (detector {detector})", err=True)
        counts["with_face"] += bool(found)
        counts["faces"] += len(found)
        for i, face in enumerate(found):
            writer.writerow(_row(path, i, face, with_landmarks))
        sys.stdout.flush()
    click.echo(f"{counts['photos']} photos: {counts['with_face']} with a face, {counts['faces']} faces, "
               f"{counts['unreadable']} unreadable", err=True)
