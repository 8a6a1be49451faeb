"""Face detection and landmarks with dlib's real models."""
from __future__ import annotations

import sys
import subprocess

import cv2
import numpy as np
import pytest

import maskgen
from maskgen.detect import model_files as models
from maskgen.detect.landmarks import FLIP_PERMUTATION, flip_landmarks


def test_model_files_are_found_without_importing_the_package():
    path = models.model_path(models.LANDMARKS_68)
    assert path.is_file() and path.stat().st_size > 50_000_000
    assert models.model_path(models.CNN_DETECTOR).is_file()
    # locating the models must not import face_recognition_models (it needs pkg_resources)
    code = ("import sys, maskgen.detect.model_files as m; m.model_path(m.LANDMARKS_68); "
            "assert 'face_recognition_models' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_model_gives_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("MASKGEN_MODELS_DIR", str(tmp_path))
    with pytest.raises(models.ModelNotFoundError, match="model file not found"):
        models.model_path(models.LANDMARKS_68)


def test_import_loads_no_backend():
    code = ("import sys, maskgen; maskgen.MaskOptions; "
            "bad = [m for m in ('dlib', 'torch', 'imgaug') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def _check_astronaut_landmarks(face):
    lm = face.landmarks
    assert lm.shape == (68, 2)
    # her eyes are around y=115, nose tip ~135, chin ~165 in the 512 px photo
    assert 100 < lm[36:48, 1].mean() < 125
    assert lm[30, 1] > lm[36:48, 1].mean() and lm[8, 1] > lm[57, 1] > lm[30, 1]
    assert lm[36:42, 0].mean() < lm[30, 0] < lm[42:48, 0].mean()


def test_hog_finds_the_astronaut_and_not_her_mission_patch(astronaut):
    faces = maskgen.find_faces(astronaut)
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    assert 150 < x0 < 200 and 60 < y0 < 100 and 80 < x1 - x0 < 110
    assert faces[0].rejected is None
    _check_astronaut_landmarks(faces[0])


def test_cnn_detector(astronaut):
    faces = maskgen.find_faces(astronaut, detector="cnn")
    assert len(faces) == 1
    _check_astronaut_landmarks(faces[0])


def test_detector_none_treats_the_image_as_a_face_crop(astronaut):
    crop = astronaut[60:200, 160:285]
    faces = maskgen.find_faces(crop, detector="none")
    assert len(faces) == 1
    assert np.allclose(faces[0].box, [0, 0, crop.shape[1], crop.shape[0]])
    lm = faces[0].landmarks
    assert lm[36:42, 0].mean() < lm[30, 0] < lm[42:48, 0].mean() and lm[8, 1] > lm[30, 1]


def test_upsampling_finds_small_faces(astronaut):
    tiny = cv2.resize(astronaut, (160, 160), interpolation=cv2.INTER_AREA)
    assert maskgen.find_faces(tiny, upsample=0) == []
    assert len(maskgen.find_faces(tiny, upsample=2)) == 1


def test_tilted_face_is_found_by_the_rotated_search(astronaut):
    h, w = astronaut.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 55, 1.0)
    tilted = cv2.warpAffine(astronaut, m, (w, h), borderMode=cv2.BORDER_CONSTANT)
    assert maskgen.find_faces(tilted, rotations=()) == []
    faces = maskgen.find_faces(tilted)
    assert len(faces) == 1
    lm = faces[0].landmarks
    truth = maskgen.find_faces(astronaut)[0].landmarks @ m[:, :2].T + m[:, 2]
    assert np.abs(lm - truth).mean() < 6


def test_no_face_in_a_photo_without_one():
    from skimage import data

    assert maskgen.find_faces(data.coffee()) == []


def test_flip_permutation_is_an_involution(astronaut):
    assert np.array_equal(FLIP_PERMUTATION[FLIP_PERMUTATION], np.arange(68))
    face = maskgen.find_faces(astronaut)[0]
    flipped = maskgen.find_faces(np.ascontiguousarray(astronaut[:, ::-1]))[0]
    assert np.abs(flip_landmarks(face.landmarks, astronaut.shape[1]) - flipped.landmarks).mean() < 4
