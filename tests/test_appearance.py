"""Real-photo appearance augmentations (loose clothing, other people, occluders): what grows
where, with which colour; where another person lands and what it covers; the occluder's shape;
and, in the pair generator, that they change the image only."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from jaxrefine.data import appearance

_S = 32
_AREA_TOL = 0.03  # relative; a pixel-centre ellipse of radii >= 8 px vs pi * rx * ry
_FRACTION_TOL = 0.02  # smooth_region's quantile on S * S pixels (ties of the upsampled noise)


def _person():
    """A two-coloured 8 x 12 block: left half red, right half blue, on a grey background."""
    image = np.full((_S, _S, 3), 0.5, np.float32)
    person = np.zeros((_S, _S), bool)
    person[10:22, 12:20] = True
    image[10:22, 12:16] = (1.0, 0.0, 0.0)
    image[10:22, 16:20] = (0.0, 0.0, 1.0)
    return image, person


@pytest.mark.parametrize("steps", [0, 1, 3])
def test_clothing_grows_like_a_cross_dilation(steps):
    image, person = _person()
    out, grown = appearance.grow_clothing(image, person, np.ones_like(person), steps)
    cross = ndimage.generate_binary_structure(2, 1)
    want = ndimage.binary_dilation(person, cross, steps) if steps else person
    np.testing.assert_array_equal(grown, want)
    np.testing.assert_array_equal(out[~grown], image[~grown])  # the rest untouched
    np.testing.assert_array_equal(out[person], image[person])  # the person's own pixels too
    new = grown & ~person
    left, right = new & (np.arange(_S) < 16)[None], new & (np.arange(_S) >= 16)[None]
    # new pixels take the colour of the person pixel they grew from: red left, blue right
    np.testing.assert_array_equal(out[left], np.broadcast_to((1.0, 0.0, 0.0), out[left].shape))
    np.testing.assert_array_equal(out[right], np.broadcast_to((0.0, 0.0, 1.0), out[right].shape))


def test_clothing_stays_in_the_allowed_region():
    image, person = _person()
    allowed = np.zeros_like(person)
    allowed[:, :16] = True  # only the left side may grow
    out, grown = appearance.grow_clothing(image, person, allowed, 4)
    assert (grown & ~person).any()
    assert not (grown & ~person & ~allowed).any()
    np.testing.assert_array_equal(out[:, 20:], image[:, 20:])


def test_ellipse_area_and_orientation():
    e = appearance.ellipse(64, (32.0, 32.0), (20.0, 8.0), 0.0)
    assert abs(e.sum() / (np.pi * 20 * 8) - 1) < _AREA_TOL
    ys, xs = np.nonzero(e)
    assert np.ptp(xs) > 2 * np.ptp(ys)  # long axis along x at angle 0
    ys, xs = np.nonzero(appearance.ellipse(64, (32.0, 32.0), (20.0, 8.0), np.pi / 2))
    assert np.ptp(ys) > 2 * np.ptp(xs)


@pytest.mark.parametrize("fraction", [0.3, 0.7])
def test_smooth_region_covers_its_fraction(fraction):
    region = appearance.smooth_region(64, fraction, np.random.default_rng(0))
    assert region.shape == (64, 64)
    assert abs(region.mean() - fraction) < _FRACTION_TOL


def test_apply_keeps_pixels_outside_the_image():
    image, person = _person()
    inside = np.ones_like(person)
    inside[:, 24:] = False  # the crop's right part lies beyond the photo
    rng = np.random.default_rng(1)
    numbers = appearance.draw(
        rng, _S, person, clothing=True, occluder=True, clothing_px=(3, 3),
        occluder_size=(2.0, 2.0), background_fn=lambda r: np.zeros((_S, _S, 3), np.float32),
    )  # fmt: skip
    assert numbers["steps"] == 3 and numbers["occluder"] is not None
    out = appearance.apply(image, person, inside, numbers)
    np.testing.assert_array_equal(out[~inside], image[~inside])
    assert (out[inside] != image[inside]).any()
    # a crop with no person gets no occluder (nothing to occlude)
    none = appearance.draw(rng, _S, np.zeros_like(person), clothing=False, occluder=True,
                           clothing_px=(1, 1), occluder_size=(0.5, 0.5),
                           background_fn=lambda r: None)  # fmt: skip
    assert none["occluder"] is None and none["steps"] == 0


def test_warp_nearest_moves_mirrors_and_scales():
    a = np.random.default_rng(0).random((_S, _S))
    moved = appearance.warp_nearest(a, 1.0, 3, -5, False, -1.0)
    np.testing.assert_array_equal(moved[3:, : _S - 5], a[: _S - 3, 5:])  # out[y, x] = a[y-3, x+5]
    assert (moved[:3] == -1).all() and (moved[:, _S - 5 :] == -1).all()
    np.testing.assert_array_equal(appearance.warp_nearest(a, 1.0, 0, 0, True, -1.0), a[:, ::-1])
    twice = appearance.warp_nearest(a, 2.0, 0, 0, False, -1.0)
    c = _S // 2  # scaled about the crop centre: each source pixel becomes a 2 x 2 block
    src = a[c - 4 : c + 4, c - 4 : c + 4]
    np.testing.assert_array_equal(twice[c - 8 : c + 8 : 2, c - 8 : c + 8 : 2], src)
    np.testing.assert_array_equal(twice[c - 7 : c + 8 : 2, c - 7 : c + 8 : 2], src)
    half = appearance.warp_nearest(a, 0.5, 0, 0, False, -1.0)
    assert (half[c - 8 : c + 8, c - 8 : c + 8] >= 0).all() and (half[:4] == -1).all()


def test_another_person_in_front_or_behind():
    image, person = _person()
    other = np.full((_S, _S, 3), (0.0, 1.0, 0.0), np.float32)
    mask = np.zeros_like(person)
    mask[14:30, 16:26] = True  # overlaps the person's right half
    front = appearance.paste_person(image, person, other, mask, front=True)
    behind = appearance.paste_person(image, person, other, mask, front=False)
    np.testing.assert_array_equal(front[mask], other[mask])
    np.testing.assert_array_equal(behind[person], image[person])  # the person stays in front
    np.testing.assert_array_equal(behind[mask & ~person], other[mask & ~person])
    for out in (front, behind):
        np.testing.assert_array_equal(out[~mask], image[~mask])


def test_apply_puts_a_person_behind_the_clothing_and_outside_pixels_untouched():
    image, person = _person()
    inside = np.ones_like(person)
    inside[:, 28:] = False
    other = np.full((_S, _S, 3), (0.0, 1.0, 0.0), np.float32)
    mask = np.zeros_like(person)
    mask[8:24, 18:32] = True
    numbers = {"steps": 2, "allowed": np.ones_like(person), "occluder": None, "patch": None}
    out = appearance.apply(image, person, inside, numbers, (other, mask, False))
    clothed, grown = appearance.grow_clothing(image, person, inside, 2)
    np.testing.assert_array_equal(out[grown], clothed[grown])  # clothing in front of the other
    green = mask & ~grown & inside
    np.testing.assert_array_equal(out[green], other[green])
    np.testing.assert_array_equal(out[~inside], image[~inside])


def test_draw_distractor_takes_another_crop_and_moves_sideways():
    rng = np.random.default_rng(3)
    draws = [
        appearance.draw_distractor(rng, 2, 5, 100, (0.15, 0.5), (0.8, 1.2)) for _ in range(200)
    ]
    assert all(d["source"] != 2 and 0 <= d["source"] < 5 for d in draws)
    assert all(15 <= abs(d["dx"]) <= 50 and abs(d["dy"]) <= 10 for d in draws)
    assert all(0.8 <= d["scale"] <= 1.2 for d in draws)
    for key in ("mirror", "front"):
        assert 0.3 < np.mean([d[key] for d in draws]) < 0.7, key  # both halves happen
    assert min(d["dx"] for d in draws) < 0 < max(d["dx"] for d in draws)
    alone = appearance.draw_distractor(rng, 0, 1, 100, (0.15, 0.5), (0.8, 1.2))
    assert alone["source"] == 0  # a batch of one: the crop's own person, moved


def test_pairs_change_only_the_image():
    """Same seed with and without the augmentations: every array but the image is identical
    (the ground truth does not move), and the images differ."""
    from jaxrefine.data import pairs
    from jaxrefine.data.sampling import SceneConfig
    from jaxrefine.data.scenes import GeneratorConfig
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model()
    poses = np.random.default_rng(0).normal(0, 0.15, (8, 24, 3)).astype(np.float32)
    gen = GeneratorConfig(scene=SceneConfig(image_size=(64, 64)), texture_size=64)
    cfg = pairs.PairConfig(crop_size=64, generator=gen, num_subjects=2, reference_frames=1)
    bank = pairs.build_bank(model, poses, cfg, seed=0)
    plain = pairs.make_pairs(model, poses, bank, 3, 7, cfg)
    for change in ({"p_clothing": 1.0, "p_occluder": 1.0}, {"p_distractor": 1.0}):
        aug_cfg = dataclasses.replace(cfg, **change)
        aug = pairs.make_pairs(model, poses, bank, 3, 7, aug_cfg)
        assert set(plain) == set(aug)
        for k in plain:
            if k != "image":
                np.testing.assert_array_equal(plain[k], aug[k], err_msg=k)
        for i in range(3):
            assert (plain["image"][i] != aug["image"][i]).any(), (change, i)
        off = aug_cfg.no_augmentation()
        assert off.p_clothing == off.p_occluder == off.p_distractor == 0


def test_other_people_leave_the_other_augmentations_numbers_alone():
    """Other people draw from their own stream: with them added, every pixel they do not cover
    is what clothing and occluders alone gave (runs without them keep their images)."""
    from jaxrefine.data import pairs
    from jaxrefine.data.sampling import SceneConfig
    from jaxrefine.data.scenes import GeneratorConfig
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model()
    poses = np.random.default_rng(0).normal(0, 0.15, (8, 24, 3)).astype(np.float32)
    gen = GeneratorConfig(scene=SceneConfig(image_size=(64, 64)), texture_size=64)
    cfg = pairs.PairConfig(crop_size=64, generator=gen, num_subjects=2, reference_frames=1,
                           p_clothing=1.0)  # fmt: skip
    bank = pairs.build_bank(model, poses, cfg, seed=0)
    alone = pairs.make_pairs(model, poses, bank, 3, 5, cfg)["image"]
    crowd = pairs.make_pairs(model, poses, bank, 3, 5, dataclasses.replace(cfg, p_distractor=1.0))
    same = (crowd["image"] == alone).all(-1)
    assert same.mean() > 0.5  # the other person covers part of each crop, not all of it
    assert (~same).any(axis=(1, 2)).all()


def test_training_flags_set_the_probabilities():
    from jaxrefine.train import run

    argv = ["--clothing", "0.5", "--occluders", "0.25", "--distractors", "0.4"]
    args = run.parser().parse_args(argv)
    pc = run.pair_config("small", 128, None, args.clothing, args.occluders, args.distractors)
    assert (pc.p_clothing, pc.p_occluder, pc.p_distractor) == (0.5, 0.25, 0.4)
    default = run.pair_config("small", 128, None)
    assert default.p_clothing == default.p_distractor == 0.0  # off unless asked for
    with pytest.raises(SystemExit, match="--occluders is a probability"):
        run.pair_config("small", 128, None, 0.5, 1.5)
    with pytest.raises(SystemExit, match="--distractors is a probability"):
        run.pair_config("small", 128, None, 0.5, 0.5, -0.1)
    args = run.parser().parse_args(["--close-framing", "0.3"])
    assert run.pair_config("small", 128, None, close=args.close_framing).p_close == 0.3
    assert default.p_close == 0.0
    with pytest.raises(SystemExit, match="--close-framing is a probability"):
        run.pair_config("small", 128, None, close=2.0)
