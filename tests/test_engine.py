"""The masking engine on a real photo: geometry measured on output pixels, for every type and wear."""
from __future__ import annotations

import numpy as np
import pytest

import maskgen
from maskgen.crops import face_square
from maskgen.mask.catalog import get_mask_type, list_mask_types
from maskgen.mask.options import WEAR_STYLES
from maskgen.verify.coverage import changed_pixels, coverage, rim_fraction
from maskgen.verify.rotated_copies import COPIES, make_copy

TYPES = list_mask_types()


@pytest.fixture(scope="module")
def astro_face(astronaut):
    faces = maskgen.find_faces(astronaut)
    assert len(faces) == 1, "the suit's mission patch must not count as a face"
    return faces[0]


@pytest.fixture(scope="module")
def variants(astronaut, astro_face):
    """Each variant's image, its true landmarks (moved from the upright photo) and the face found on it."""
    out = {}
    for variant in COPIES:
        image, truth = make_copy(astronaut, astro_face.landmarks, variant)
        found = [f for f in maskgen.find_faces(image) if not f.rejected]
        assert found, f"no face found on the {variant} astronaut"
        face = min(found, key=lambda f: np.linalg.norm(f.landmarks.mean(0) - truth.mean(0)))
        assert np.abs(face.landmarks - truth).mean() < 6, f"landmarks off on {variant}"
        out[variant] = (image, truth, face)
    return out


@pytest.mark.parametrize("mask_type", TYPES)
def test_wear_styles_cover_the_right_regions(variants, mask_type):
    for variant, (image, truth, face) in variants.items():
        for wear in WEAR_STYLES:
            result = maskgen.mask_face(image, face, maskgen.MaskOptions(mask_type=mask_type, wear=wear), seed=3)
            c = coverage(image, result.image, truth)
            where = f"{mask_type}/{wear}/{variant}: {c}"
            assert c["eyes"] < 0.02, where
            if wear == "correct":
                assert c["nose"] >= 0.95 and c["mouth"] >= 0.95 and c["chin"] >= 0.95, where
            elif wear == "nose":
                assert c["nose"] <= 0.05 and c["mouth"] >= 0.95, where
            else:
                assert c["nose"] <= 0.05 and c["mouth"] <= 0.05, where
            assert rim_fraction(result.image, result.faces[0].alpha) < 0.05, where


def test_result_is_plain_data_and_reproducible(astronaut, astro_face):
    opts = maskgen.MaskOptions(mask_type="random", wear="correct=0.5,nose=0.3,chin=0.2")
    a = maskgen.mask_faces(astronaut, [astro_face], opts, seed=11)
    b = maskgen.mask_faces(astronaut, [astro_face], opts, rng=np.random.default_rng(11))
    assert np.array_equal(a.image, b.image)
    assert a.faces[0].attributes == b.faces[0].attributes
    other = maskgen.mask_faces(astronaut, [astro_face], opts, seed=12)
    assert not np.array_equal(a.image, other.image)
    masked = a.faces[0]
    assert isinstance(masked.face.box, np.ndarray) and masked.face.landmarks.shape == (68, 2)
    assert masked.alpha.shape == astronaut.shape[:2] and masked.alpha.dtype == np.float32
    assert 0.0 <= masked.alpha.min() and masked.alpha.max() <= 1.0
    assert set(masked.attributes.to_dict()) >= {"mask_type", "wear", "color", "texture", "texture_strength"}
    # alpha marks where the image changed
    changed = np.abs(a.image.astype(int) - astronaut.astype(int)).max(axis=2) > 3
    assert changed[masked.alpha > 0.9].mean() > 0.97
    assert not np.shares_memory(a.image, astronaut)


def test_options_are_honoured(astronaut, astro_face):
    r = maskgen.mask_face(astronaut, astro_face, maskgen.MaskOptions(mask_type="cloth", color="#1f7a3a",
                                                                     texture="none", wear="nose"), seed=0)
    a = r.faces[0].attributes
    assert (a.mask_type, a.color, a.texture, a.wear) == ("cloth", "#1f7a3a", "none", "nose")
    # the rendered colour is green-dominated where the mask is opaque
    px = r.image[r.faces[0].alpha > 0.95].astype(float).mean(axis=0)
    assert px[1] > px[0] and px[1] > px[2]
    with pytest.raises(ValueError, match="unknown mask type"):
        maskgen.mask_face(astronaut, astro_face, maskgen.MaskOptions(mask_type="nope"), seed=0)
    with pytest.raises(ValueError, match="unknown colour"):
        maskgen.mask_face(astronaut, astro_face, maskgen.MaskOptions(color="notacolour"), seed=0)
    with pytest.raises(ValueError, match="wear"):
        maskgen.MaskOptions(wear="sideways").wear_weights()


def test_grayscale_photo_gets_grayscale_mask(astronaut, astro_face):
    grey = np.repeat(astronaut.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    r = maskgen.mask_face(grey, astro_face, maskgen.MaskOptions(mask_type="surgical", color="lightblue"), seed=0)
    assert np.array_equal(r.image[..., 0], r.image[..., 1]) and np.array_equal(r.image[..., 1], r.image[..., 2])


def test_lighting_follows_the_face(astronaut, astro_face):
    """The same white mask is darker on a darker photo, and darker on the shadowed side of a face."""
    opts = maskgen.MaskOptions(mask_type="n95", color="white", texture="none")
    bright = maskgen.mask_face(astronaut, astro_face, opts, seed=0)
    dim_src = (astronaut * 0.45).astype(np.uint8)
    dim = maskgen.mask_face(dim_src, astro_face, opts, seed=0)
    sel = bright.faces[0].alpha > 0.95
    assert dim.image[sel].mean() < 0.7 * bright.image[sel].mean()
    # light from the image's right: the mask's right-left balance shifts with the skin's
    x = np.linspace(0.55, 1.25, astronaut.shape[1])[None, :, None]
    side_lit = np.clip(astronaut * x, 0, 255).astype(np.uint8)
    cx = int(astro_face.landmarks[30, 0])
    cy = int(astro_face.landmarks[29, 1])

    def balance(image, mask_alpha=None):
        lum = image.mean(axis=2)
        if mask_alpha is None:  # skin of both cheeks
            return lum[cy - 5:cy + 5, cx + 25:cx + 35].mean() - lum[cy - 5:cy + 5, cx - 35:cx - 25].mean()
        ys, xs = np.nonzero(mask_alpha > 0.95)
        return lum[ys[xs > cx + 10], xs[xs > cx + 10]].mean() - lum[ys[xs < cx - 10], xs[xs < cx - 10]].mean()

    lit = maskgen.mask_face(side_lit, astro_face, opts, seed=0)
    skin_shift = balance(side_lit) - balance(astronaut)
    mask_shift = balance(lit.image, lit.faces[0].alpha) - balance(bright.image, bright.faces[0].alpha)
    assert skin_shift > 10
    assert mask_shift > 0.5 * skin_shift


def test_every_face_gets_its_own_mask(astronaut, astro_face):
    """A photo with two faces (the astronaut twice, side by side): both masked, with different draws."""
    import cv2

    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    pair = np.hstack([small, small[:, ::-1]])
    faces = maskgen.find_faces(pair, upsample=1)
    assert len(faces) == 2
    r = maskgen.mask_faces(pair, faces, maskgen.MaskOptions(mask_type="random"), seed=5)
    assert len(r.faces) == 2
    assert r.faces[0].attributes != r.faces[1].attributes
    for masked in r.faces:
        c = coverage(pair, r.image, masked.face.landmarks)
        assert c["mouth"] > 0.95 and c["eyes"] < 0.02


def test_implausible_landmarks_are_skipped_with_a_reason(astronaut, astro_face):
    collapsed = maskgen.Face(box=astro_face.box, landmarks=np.tile(astro_face.landmarks.mean(0), (68, 1)))
    from maskgen.detect.landmarks import implausibility

    collapsed.rejected = implausibility(collapsed.landmarks, astronaut.shape)
    assert collapsed.rejected and "collapsed" in collapsed.rejected
    r = maskgen.mask_faces(astronaut, [collapsed], seed=0)
    assert r.faces == [] and r.skipped[0][1] == collapsed.rejected
    assert np.array_equal(r.image, astronaut)
    outside = maskgen.Face(box=astro_face.box, landmarks=astro_face.landmarks + [2000, 0])
    assert "outside" in implausibility(outside.landmarks, astronaut.shape)


def test_turned_face_is_narrower_on_the_far_side():
    """Squeeze one side of the landmarks (a face turned away): the mask follows, that side narrower."""
    from maskgen.mask.fit import build_mesh
    from maskgen.mask.canonical import MEAN_SHAPE

    lm = MEAN_SHAPE * 80 + [200, 150]
    turned = lm.copy()
    centre = turned[30, 0]
    left = turned[:, 0] < centre
    turned[left, 0] = centre + (turned[left, 0] - centre) * 0.5
    mesh = build_mesh(turned)
    assert mesh.side_factors[0] < 0.8 < mesh.side_factors[1]
    image = np.full((400, 400, 3), 150, np.uint8)
    face = maskgen.Face(box=np.array([100, 100, 300, 300.0]), landmarks=turned)
    r = maskgen.mask_face(image, face, maskgen.MaskOptions(mask_type="surgical"), seed=0)
    ys, xs = np.nonzero(r.faces[0].alpha > 0.5)
    assert (centre - xs.min()) < 0.7 * (xs.max() - centre)


def test_user_mask_follows_the_face(astronaut, astro_face, tmp_path):
    import json
    import shutil

    from maskgen.mask.catalog import get_mask_type

    shipped = get_mask_type("zipper_print").folder
    mine = tmp_path / "my_mask"
    shutil.copytree(shipped, mine)
    meta = json.loads((mine / "anchors.json").read_text())
    meta.update(name="my_mask", recolor=True)
    (mine / "anchors.json").write_text(json.dumps(meta))
    r = maskgen.mask_face(astronaut, astro_face, maskgen.MaskOptions(mask_type=str(mine), color="#c03030"),
                          seed=0)
    c = coverage(astronaut, r.image, astro_face.landmarks)
    assert c["mouth"] > 0.95 and c["nose"] > 0.9 and c["eyes"] < 0.02
    px = r.image[r.faces[0].alpha > 0.95].astype(float).mean(axis=0)
    assert px[0] > px[1] + 20  # recoloured red
    (mine / "anchors.json").write_text("{ not json")
    from maskgen.mask.catalog import load_user_mask

    load_user_mask.cache_clear()
    with pytest.raises(ValueError, match="not valid JSON"):
        load_user_mask(str(mine))


def test_every_type_covers_the_nose_under_independent_landmarks(shared_data):
    """Masks placed with the photo's landmarks, checked against landmarks found anew on the mirrored photo
    (dlib fits it independently): under correct wear every type covers the whole nose and the mouth
    and leaves the eyes free on real portraits, turned ones included."""
    from maskgen.detect.landmarks import flip_landmarks, region_polygons
    from maskgen.verify.coverage import polygon_fraction

    checked = 0
    for path in sorted((shared_data / "unmasked_faces").iterdir())[::10]:
        image = maskgen.read_image(path)
        faces = [f for f in maskgen.find_faces(image) if not f.rejected]
        mirrored = [f for f in maskgen.find_faces(np.ascontiguousarray(image[:, ::-1])) if not f.rejected]
        if not faces or not mirrored:
            continue
        face = faces[0]
        other = min((flip_landmarks(f.landmarks, image.shape[1]) for f in mirrored),
                    key=lambda lm: np.abs(lm - face.landmarks).mean())
        polygons = region_polygons(other)
        checked += 1
        for k, mask_type in enumerate(TYPES):
            alpha = maskgen.mask_face(image, face, maskgen.MaskOptions(mask_type=mask_type), seed=k).faces[0].alpha
            # alpha above 0.2 counts: a clear window covers the mouth, and a skin-tone mask changes few pixels
            c = {name: polygon_fraction(alpha > 0.2, poly) for name, poly in polygons.items()}
            where = f"{mask_type} on {path.name}: {c}"
            assert c["nose"] >= 0.95 and c["mouth"] >= 0.95, where
            assert max(c["left_eye"], c["right_eye"]) < 0.02, where
    assert checked >= 8


def test_correct_wear_sits_from_high_on_the_bridge_to_halfway_down_the_nose(astronaut, astro_face):
    """Real masks worn correctly sit anywhere from just under the eyes to halfway down the nose: the top of
    the changed pixels on the nose's line, measured against dlib's landmarks, over seeds; the nose tip
    stays covered at every height."""
    lm = astro_face.landmarks
    x = int(round(lm[27:31, 0].mean()))
    eyes, tip = lm[36:48, 1].mean(), lm[30, 1]
    tops = {}
    for seed in range(24):
        r = maskgen.mask_face(astronaut, astro_face, maskgen.MaskOptions(mask_type="surgical", wear="correct"),
                              seed=seed)
        column = changed_pixels(astronaut[:, x - 2:x + 3], r.image[:, x - 2:x + 3], threshold=13).any(axis=1)
        rows = np.flatnonzero(column[int(eyes):])
        assert rows.size, f"seed {seed}: nothing changed below the eyes"
        tops[r.faces[0].attributes.top] = rows[0] / (tip - eyes)  # 0 at the eyes, 1 at the nose tip
    high = [t for shift, t in tops.items() if shift < -0.01]
    low = [t for shift, t in tops.items() if shift > 0.035]
    assert high and low
    assert all(0.2 < t < 0.42 for t in high), high  # on the bridge, the eyes left free
    assert all(0.5 < t < 0.8 for t in low), low  # halfway down the nose, its tip covered
    assert max(tops.values()) - min(tops.values()) > 0.25, tops


def test_chin_wear_sits_from_under_the_lip_to_under_the_chin(astronaut, astro_face):
    """A pulled-down mask sits anywhere between the lower lip and hanging under the chin, as real ones do:
    the top of the changed pixels on the face's centre line, measured against dlib's landmarks."""
    lm = astro_face.landmarks
    x = int(round(lm[[51, 57, 8], 0].mean()))
    lip, chin = lm[57, 1], lm[8, 1]
    tops = {}
    for seed in range(24):
        r = maskgen.mask_face(astronaut, astro_face, maskgen.MaskOptions(mask_type="surgical", wear="chin"), seed=seed)
        column = changed_pixels(astronaut[:, x - 2:x + 3], r.image[:, x - 2:x + 3], threshold=13).any(axis=1)
        rows = np.flatnonzero(column[int(lip):])
        assert rows.size, f"seed {seed}: nothing changed below the lip"
        tops[r.faces[0].attributes.top] = (int(lip) + rows[0] - lip) / (chin - lip)  # 0 at the lip, 1 at the chin
    low = [t for shift, t in tops.items() if shift < -0.01]
    hanging = [t for shift, t in tops.items() if shift > 0.03]
    assert low and hanging
    assert all(0.0 < t < 0.45 for t in low), low  # on the chin, the lower lip left free
    assert all(t > 0.6 for t in hanging) and max(hanging) > 0.9, hanging  # toward under the chin: the chin shows
    assert max(tops.values()) - min(tops.values()) > 0.5


EAR_LOOPED = [t for t in TYPES if get_mask_type(t).ear_loops]


def test_ear_wear_hangs_a_mask_beside_the_jaw_from_one_ear(astronaut, astro_face):
    """A mask hanging from one ear, measured on output pixels against dlib's landmarks: nose, mouth
    and eyes bare; the mask beside the jaw on one side of the face, below the brows; its loops reaching
    up toward that ear; both ears used over seeds; types without ear loops are pulled down instead."""
    lm = astro_face.landmarks
    centre_x = lm[[27, 30, 33, 51, 57]][:, 0].mean()
    brow_y, mouth_y, chin_y = lm[17:27, 1].mean(), lm[48:68, 1].mean(), lm[8, 1]
    half_jaw = (lm[16, 0] - lm[0, 0]) / 2
    square = face_square(astro_face.box, 0.25)  # a face crop at the middle margin of training crops
    sides, shown = set(), []
    for i, mask_type in enumerate(EAR_LOOPED * 2):
        r = maskgen.mask_face(astronaut, astro_face, maskgen.MaskOptions(mask_type=mask_type, wear="ear"), seed=i)
        assert r.faces[0].attributes.wear == "ear"
        c = coverage(astronaut, r.image, lm)
        where = f"{mask_type} seed {i}: {c}"
        assert c["nose"] <= 0.02 and c["mouth"] <= 0.02 and c["eyes"] <= 0.02, where
        ys, xs = np.nonzero(changed_pixels(astronaut, r.image, 12))
        side = np.sign(np.median(xs) - centre_x)
        sides.add(side)
        assert np.mean(np.sign(xs - centre_x) == side) > 0.97, where  # all on one side of the face
        assert np.median(np.abs(xs - centre_x)) > 0.75 * half_jaw, where  # beside the jaw, not over the mouth
        assert ys.min() > brow_y, where  # the loops go over the ears, not over the brows
        assert ys.max() > chin_y, where  # the mask hangs below the chin line
        assert ys.min() < mouth_y, where  # ...and its loops run up toward the ear
        x0, y0, x1, y1 = square
        in_crop = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
        shown.append(in_crop.mean())
        assert shown[-1] > 0.35, where
    assert sides == {-1.0, 1.0}
    assert np.mean(shown) > 0.52, shown  # the face crop shows most of it (it hung outside, 0.43, before)
    r = maskgen.mask_face(astronaut, astro_face, maskgen.MaskOptions(mask_type="n95", wear="ear"), seed=0)
    assert r.faces[0].attributes.wear == "chin"


def test_a_hanging_mask_lies_inside_the_face_mesh():
    """What a mask hanging from an ear covers lies inside the control mesh (pixels outside it are never
    drawn: the mask would end in a hard edge), down to the lowest row anything is drawn."""
    from maskgen.mask.canonical import CANONICAL_VERTICES, TRIANGLES
    from maskgen.mask.canvas import LOWEST, sample_hang
    from maskgen.mask.fit import _locate

    rng = np.random.default_rng(0)
    outside = total = 0
    for _ in range(200):
        hw = 1.25 * rng.uniform(0.9, 1.1)
        hang = sample_hang(rng, (True, True), (-hw, 0.2, hw, 2.0))
        gx, gy = np.meshgrid(np.linspace(-hw - 0.3, hw + 0.3, 25), np.linspace(0.1, 2.1, 15))
        pts = hang.forward(np.stack([gx.ravel(), gy.ravel()], axis=1))
        pts = pts[pts[:, 1] <= LOWEST]
        outside += int((_locate(CANONICAL_VERTICES, TRIANGLES, pts) < 0).sum())
        total += len(pts)
    assert outside <= 0.001 * total, (outside, total)
