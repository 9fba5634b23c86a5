"""Real-photo appearance augmentations (loose clothing, occluders): what grows where, with which
colour; the occluder's shape; and, in the pair generator, that they change the image only."""

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
    aug_cfg = dataclasses.replace(cfg, p_clothing=1.0, p_occluder=1.0)
    aug = pairs.make_pairs(model, poses, bank, 3, 7, aug_cfg)
    assert set(plain) == set(aug)
    for k in plain:
        if k != "image":
            np.testing.assert_array_equal(plain[k], aug[k], err_msg=k)
    for i in range(3):
        assert (plain["image"][i] != aug["image"][i]).any(), i
    assert aug_cfg.no_augmentation().p_clothing == 0 and aug_cfg.no_augmentation().p_occluder == 0


def test_training_flags_set_the_probabilities():
    from jaxrefine.train import run

    args = run.parser().parse_args(["--clothing", "0.5", "--occluders", "0.25"])
    pc = run.pair_config("small", 128, None, args.clothing, args.occluders)
    assert (pc.p_clothing, pc.p_occluder) == (0.5, 0.25)
    assert run.pair_config("small", 128, None).p_clothing == 0.0  # off unless asked for
    with pytest.raises(SystemExit, match="--occluders is a probability"):
        run.pair_config("small", 128, None, 0.5, 1.5)
