"""The learned refinement pipeline (jaxrefine.refine) on small synthetic frames."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrefine import network
from jaxrefine.camera import project
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import GeneratorConfig, generate
from jaxrefine.fit import STATUS_NO_IMPROVEMENT, STATUS_NONFINITE
from jaxrefine.network.crop import person_box
from jaxrefine.refine import (
    IMAGE_RANGE_TOL,
    CameraWarning,
    CheckedImages,
    OutOfViewWarning,
    RefineOptions,
    axis_angle_params,
    crop_boxes,
    pose_batch,
    predict_fields,
    refine,
    render_crops,
    subject_colours,
    targets_from_fields,
)
from jaxrefine.smpl_io import load_body_model

# Crop pixels map to full-image pixels by size / S; float32 arithmetic on ~100 px values.
PIXEL_TOL = 1e-3
SIZE = 64  # full image side of the test frames
FAST = RefineOptions(batch_size=4, camera_steps=3, body_steps=6, texture_size=32)
# the same fits in another batch order: XLA's float32 reductions may differ in the last bits,
# a few Adam steps keep that at this order (axis-angle radians)
SMOOTH_TOL = 1e-4
# confidence weights are a median of per-vertex scales over each scale, in float32: equal
# scales give 1 up to a rounding of the interpolated exp (0.99999988 seen on a Zen 5)
WEIGHT_TOL = 1e-6
# the pose-prior term of a fit recomputed outside it: the same float32 sums of 69-dim
# whitened residuals, in another program (XLA may fuse and order them differently)
PRIOR_TERM_RTOL = 1e-4


@pytest.fixture(scope="module")
def model():
    return load_body_model()


@pytest.fixture(scope="module")
def frames(model):
    rng = np.random.default_rng(0)
    poses = rng.normal(0, 0.2, (16, 24, 3)).astype(np.float32)
    cfg = GeneratorConfig(scene=SceneConfig(image_size=(SIZE, SIZE)), texture_size=32)
    return generate(model, poses, 4, 0, cfg)


@pytest.fixture(scope="module")
def net():
    cfg = network.get_config("tiny")
    return cfg, network.init_params(cfg, jax.random.key(0))


def _init(b):
    return {"global_orient": b.init_pose[:, 0], "body_pose": b.init_pose[:, 1:],
            "betas": b.init_betas, "transl": b.init_transl}  # fmt: skip


def test_a_subject_with_frames_of_two_sizes_is_refused_naming_the_way_out(model, frames):
    body = pose_batch(model, jnp.asarray(frames.init_pose[:2]), jnp.asarray(frames.init_betas[:2]),
                      jnp.asarray(frames.init_transl[:2]))  # fmt: skip
    images = [frames.image[0], frames.image[1][: SIZE // 2]]
    cams = jax.tree.map(lambda a: a[:2], frames.cameras)
    with pytest.raises(ValueError, match=r"subject 7: its frames differ in size.*track_id"):
        subject_colours(model, images, body.vertices, cams, np.array([7, 7]), size=32)
    colours, index = subject_colours(model, images, body.vertices, cams, np.array([7, 8]),
                                     size=32)  # fmt: skip
    assert colours.shape[0] == 2 and list(index) == [0, 1]  # two subjects: fine


def test_the_crop_box_surrounds_the_part_of_the_body_inside_the_image(model, frames):
    # the same frames in an image cut below the body's middle: the box shrinks to the part
    # above the cut (an upper-body photo); the image's own size gives the box of before
    body = pose_batch(model, frames.pose, frames.betas, frames.transl)
    cams, n = frames.cameras, len(frames.pose)
    uv = jax.vmap(project)(cams, body.vertices)
    cut = np.asarray(jnp.median(uv[..., 1], axis=1))  # a height cutting each body in two
    whole = crop_boxes(model, body.vertices, cams, np.full((n, 2), SIZE), crop_size=32,
                       enlarge=1.2)  # fmt: skip
    upper = crop_boxes(model, body.vertices, cams, np.stack([cut, np.full(n, SIZE)], 1),
                       crop_size=32, enlarge=1.2)  # fmt: skip
    for i in range(n):
        above = np.asarray(uv[i, :, 1] < cut[i]) & np.asarray(uv[i, :, 0] < SIZE)
        above &= np.asarray((uv[i] >= 0).all(-1))
        want = person_box(uv[i], jnp.asarray(above, jnp.float32), 1.2)
        np.testing.assert_allclose(upper[0][i], want[0], atol=PIXEL_TOL)
        np.testing.assert_allclose(upper[1][i], want[1], atol=PIXEL_TOL)
        assert float(upper[1][i]) < float(whole[1][i])
        inside = np.asarray((uv[i] >= 0).all(-1) & (uv[i] < SIZE).all(-1), np.float32)
        np.testing.assert_allclose(whole[1][i], person_box(uv[i], jnp.asarray(inside), 1.2)[1],
                                   atol=PIXEL_TOL)  # fmt: skip


def test_constant_field_moves_every_visible_vertex_by_its_image_size(model, frames, net):
    cfg, params = net
    body = pose_batch(model, jnp.asarray(frames.init_pose), jnp.asarray(frames.init_betas),
                      jnp.asarray(frames.init_transl))  # fmt: skip
    colours, index = subject_colours(model, list(frames.image), body.vertices, frames.cameras,
                                     np.zeros(4), size=32)  # fmt: skip
    assert colours.shape == (1, 32, 32, 3) and list(index) == [0, 0, 0, 0]
    rendering = render_crops(model, list(frames.image), body.vertices, frames.cameras,
                             jnp.asarray(colours[index]), crop_size=cfg.crop_size)  # fmt: skip
    pred = predict_fields(cfg, params, rendering)
    field = jnp.broadcast_to(jnp.array([2.0, -1.0]), pred.field.shape)
    targets, weights, mean = targets_from_fields(
        model, pred.replace(field=field), body.vertices, frames.cameras, use_confidence=False
    )
    proj = jax.vmap(project)(frames.cameras, body.vertices)
    scale = np.asarray(pred.box_size) / cfg.crop_size
    expect = np.asarray(proj) + np.array([2.0, -1.0]) * scale[:, None, None]
    vis = np.asarray(weights) > 0
    assert vis.sum() > 50
    np.testing.assert_allclose(np.asarray(targets)[vis], expect[vis], atol=PIXEL_TOL)
    np.testing.assert_allclose(mean, np.sqrt(5.0) * scale, rtol=1e-5)
    assert np.all(np.asarray(weights)[~vis] == 0)
    assert np.all(np.asarray(targets)[~vis] == 0)  # finite wherever those vertices project


def _initial_renderings(model, frames, cfg, subjects):
    """The frames' initial bodies and their crop renderings, as :func:`refine` makes them
    (textures estimated per subject, 32 px)."""
    body = pose_batch(model, jnp.asarray(frames.init_pose), jnp.asarray(frames.init_betas),
                      jnp.asarray(frames.init_transl))  # fmt: skip
    colours, index = subject_colours(model, list(frames.image), body.vertices, frames.cameras,
                                     subjects, size=32)  # fmt: skip
    rendering = render_crops(model, list(frames.image), body.vertices, frames.cameras,
                             jnp.asarray(colours[index]), crop_size=cfg.crop_size)  # fmt: skip
    return body, rendering


def test_confidence_weights_are_the_median_scale_over_each_vertexs_scale(model, frames, net):
    """With ``use_confidence`` a vertex seen where the predicted Laplace scale is b times the
    median counts 1/b (floored), a vertex at or below the median counts 1; visibility and
    targets are those of the plain weights, and scaling every pixel's scale changes nothing."""
    from jaxrefine.refine import CONFIDENCE_FLOOR

    cfg, params = net
    body, rendering = _initial_renderings(model, frames, cfg, subjects=np.zeros(4))
    pred = predict_fields(cfg, params, rendering)
    rows = jnp.arange(cfg.crop_size)[None, :, None]
    unsure = jnp.broadcast_to(rows < cfg.crop_size // 4, pred.field.shape[:3])  # top quarter
    plain = targets_from_fields(model, pred, body.vertices, frames.cameras, use_confidence=False)

    def weights(log_scale):
        t = targets_from_fields(model, pred.replace(log_scale=log_scale), body.vertices,
                                frames.cameras, use_confidence=True)  # fmt: skip
        np.testing.assert_allclose(t[0], plain[0], atol=PIXEL_TOL)
        return np.asarray(t[1])

    vis = np.asarray(plain[1]) > 0
    np.testing.assert_allclose(weights(jnp.full(unsure.shape, 0.7)), vis.astype(np.float32),
                               rtol=0, atol=WEIGHT_TOL)  # fmt: skip
    w = weights(jnp.where(unsure, jnp.log(8.0), 0.0))
    assert np.all(w[~vis] == 0) and np.all(w[vis] >= CONFIDENCE_FLOOR) and np.all(w <= 1)
    low = np.isclose(w[vis], 1 / 8, rtol=1e-4)  # seen only where the scale is 8x
    assert low.any() and np.isclose(w[vis], 1.0).mean() > 0.5
    np.testing.assert_allclose(weights(jnp.where(unsure, jnp.log(8.0), 0.0) + 2.0), w, rtol=1e-5)


def test_confidence_without_a_confidence_head_is_refused(model, frames, net):
    assert not net[0].confidence
    with pytest.raises(ValueError, match="confidence head.*'tiny'"):
        refine(model, list(frames.image), _init(frames), frames.cameras, net,
               options=dataclasses.replace(FAST, use_confidence=True))  # fmt: skip


def test_no_network_is_refused_by_name(model, frames, net):
    with pytest.raises(ValueError, match=r"needs the displacement network.*got None"):
        refine(model, list(frames.image), _init(frames), frames.cameras, None, options=FAST)
    three = (*net, {"meta": 1})  # load_pretrained()'s whole tuple
    with pytest.raises(ValueError, match=r"is \(config, params\), e.g.*\[:2\].*got a 3-tuple"):
        refine(model, list(frames.image), _init(frames), frames.cameras, three, options=FAST)


def test_one_camera_for_all_images_is_refused_naming_the_way(model, frames, net):
    one = jax.tree.map(lambda a: a[0], frames.cameras)
    with pytest.raises(ValueError, match=r"holds one camera; give one per image \(N\), e.g. Cam"):
        refine(model, list(frames.image), _init(frames), one, net, options=FAST)


def test_refine_end_to_end_never_worse(model, frames, net):
    res = refine(model, list(frames.image), _init(frames), frames.cameras, net,
                 subjects=np.array([0, 0, 1, 1]), options=FAST)  # fmt: skip
    assert res.params["body_pose"].shape == (4, 23, 3) and res.status.shape == (4,)
    assert np.all(np.isfinite(res.params["transl"]))
    assert np.all(res.status != STATUS_NONFINITE)
    assert np.all(res.final_loss <= res.init_loss * (1 + 1e-6))
    assert np.all(res.visible > 0)
    assert set(res.ms) == {"render", "network", "transfer", "fit"}


def test_bodies_out_of_view_are_named_and_kept_as_they_are(model, frames, net):
    init = {k: np.array(v, np.float32) for k, v in _init(frames).items()}
    init["transl"][1] *= [1, -1, -1]  # an OpenGL-style translation: behind the camera
    init["transl"][2] += [30.0, 0, 0]  # beside the image: its crop is padding, yet rendered
    init["transl"][3] *= 1000  # millimetres read as metres: a speck
    with pytest.warns(OutOfViewWarning) as caught:
        res = refine(model, list(frames.image), init, frames.cameras, net, options=FAST)
    said = sorted(str(w.message) for w in caught)
    assert len(said) == 3, said
    assert said[0].startswith("refine: params: 1 of the 4 bodies are behind the camera (e.g. "
                              "frame 1, transl ") and "y and z negated" in said[0]  # fmt: skip
    assert said[1].startswith("refine: params: 1 of the 4 bodies are outside the image (e.g. "
                              "frame 2, transl ")  # fmt: skip
    assert "frame 3" in said[2] and "millimetres?" in said[2]
    assert all(m.endswith("they are kept as they are (status 'kept initial')") for m in said)
    np.testing.assert_array_equal(res.status[1:], STATUS_NO_IMPROVEMENT)
    for k, v in init.items():
        np.testing.assert_array_equal(res.params[k][1:], v[1:])
        assert k == "transl" or not np.array_equal(res.params[k][0], v[0])  # frame 0 fitted
    np.testing.assert_array_equal(res.final_loss[1:], res.init_loss[1:])
    assert res.visible[2] > 0  # the one kept by the view check alone (the others have no data)


def test_share_betas_and_rerun(model, frames, net):
    opts = dataclasses.replace(FAST, share_betas=True, rerun_every=3, batch_size=3)
    res = refine(model, list(frames.image), _init(frames), frames.cameras, net,
                 subjects=np.array([5, 5, 9, 9]), options=opts)  # fmt: skip
    b = np.asarray(res.params["betas"])
    np.testing.assert_array_equal(b[0], b[1])
    np.testing.assert_array_equal(b[2], b[3])
    assert np.all(np.isfinite(b))
    # per-term losses per frame, at the shared-shape refit's result
    assert {"data", "pose_prior", "shape_prior"} <= set(res.terms), set(res.terms)
    assert all(np.asarray(v).shape == (4,) and np.all(np.asarray(v) >= 0)
               for v in res.terms.values())  # fmt: skip


def test_batches_and_rounds_share_the_largest_compacted_width(model, frames, net, monkeypatch):
    """Each fit's data is compacted to at least the run's largest width so far, so a run
    compiles one fit program per width increase, not one per batch and round (each program
    holds thousands of memory maps on CPU). A fine rounding makes the frames' widths differ."""
    import jaxrefine.refine as refine_module

    real, calls = refine_module.compact_dense, []

    def spy(data, multiple=256, min_width=0):
        out = real(data, multiple=8, min_width=min_width)
        need = int(np.ceil((np.asarray(data.dense_weights) > 0).sum(1).max() / 8) * 8)
        calls.append((min_width, need, out.dense_ids.shape[1]))
        return out

    monkeypatch.setattr(refine_module, "compact_dense", spy)
    opts = dataclasses.replace(FAST, batch_size=1, rerun_every=3)
    refine(model, list(frames.image), _init(frames), frames.cameras, net, options=opts)
    assert len(calls) == 8  # 4 batches x 2 rounds
    assert len({need for _, need, _ in calls}) > 1  # the frames really need different widths
    for i, (min_width, need, width) in enumerate(calls):
        assert min_width == max([w for _, _, w in calls[:i]], default=0)
        assert width == max(need, min_width)
    # a long process (eval's rows) drops the fit programs it no longer needs
    from jaxrefine.fit import _fit_stages_batch_jit
    from jaxrefine.smplify import release_compiled_fits

    assert _fit_stages_batch_jit._cache_size() > 0  # the fits, their final checks inside
    release_compiled_fits()
    assert _fit_stages_batch_jit._cache_size() == 0


def test_temporal_weight_refits_each_subjects_frames_together(model, frames, net):
    """Subject 0 has 3 frames (one track refitted with the penalty), subject 1 one frame (too
    short: left as the per-frame fit)."""
    subjects = np.array([0, 0, 0, 1])
    base = refine(model, list(frames.image), _init(frames), frames.cameras, net,
                  subjects=subjects, options=FAST)  # fmt: skip
    opts = dataclasses.replace(FAST, temporal_weight=1e3)
    res = refine(model, list(frames.image), _init(frames), frames.cameras, net,
                 subjects=subjects, options=opts)  # fmt: skip
    moved = np.abs(res.params["body_pose"] - base.params["body_pose"]).max(axis=(1, 2))
    assert np.all(moved[:3] > 0) and moved[3] == 0
    assert np.all(np.isfinite(res.final_loss)) and np.all(res.status != STATUS_NONFINITE)
    # the terms follow the smoothed frames (their own objective's, at the new result)
    assert np.all(res.terms["data"][:3] != base.terms["data"][:3])
    assert all(res.terms[k][3] == base.terms[k][3] for k in base.terms)


def test_temporal_runs_follow_frame_numbers(model, frames, net):
    """With frame numbers, one subject's frames are smoothed in frame order and cut at gaps:
    frames 0-2 given in the order 2, 0, 1 give the results of the ordered run (the same
    frames permuted), and frame 9 (a gap) is left as its per-frame fit."""
    opts = dataclasses.replace(FAST, temporal_weight=1e3)
    subjects = np.zeros(4, int)
    base = refine(model, list(frames.image), _init(frames), frames.cameras, net,
                  subjects=subjects, options=FAST)  # fmt: skip
    ordered = refine(model, list(frames.image), _init(frames), frames.cameras, net,
                     subjects=subjects, frame_index=np.array([0, 1, 2, 9]),
                     options=opts)  # fmt: skip
    moved = np.abs(ordered.params["body_pose"] - base.params["body_pose"]).max(axis=(1, 2))
    assert np.all(moved[:3] > 0) and moved[3] == 0  # the gap's frame: a run of one
    perm = np.array([2, 0, 1, 3])  # the same frames given in another order
    shuffled = refine(model, [frames.image[i] for i in perm],
                      jax.tree.map(lambda a: a[perm], _init(frames)),
                      jax.tree.map(lambda a: a[perm], frames.cameras), net, subjects=subjects,
                      frame_index=np.array([2, 0, 1, 9]), options=opts)  # fmt: skip
    np.testing.assert_allclose(shuffled.params["body_pose"], ordered.params["body_pose"][perm],
                               atol=SMOOTH_TOL)  # fmt: skip


def test_frame_numbers_the_smoothing_would_misread_are_refused(model, frames, net):
    """frame_index must hold N whole frame numbers with each subject once per frame: before,
    one of another length failed deep inside ("all keys need to be the same shape"), and one
    subject twice in a frame or times in seconds (all cut to frame 0) were smoothed without a
    word (docs/measurements/2026-12-08/s55_zen4/frame_index_probe_*.txt)."""
    opts = dataclasses.replace(FAST, temporal_weight=1e3)
    for fi, subjects, message in [
        (np.arange(3), None, r"frame_index has shape \(3,\); expected \(4,\), one video frame "
                             r"number per image$"),
        (np.array([0, 1, 1, 2]), np.zeros(4, int), r"subject 0 has frame_index 1 in images 1, "
         r"2: a subject is one person, seen at most once per frame \(give each person their "
         r"own subject id\)$"),
        (np.arange(4) / 30, None, r"frame_index holds 0.0333333+; whole video frame numbers "
                                  r"are expected \(seconds\? times the frame rate\)$"),
        (np.array([0, 1, np.nan, 3]), None, r"frame_index holds nan; whole video frame"),
    ]:  # fmt: skip
        with pytest.raises(ValueError, match=r"^refine: " + message):
            refine(model, list(frames.image), _init(frames), frames.cameras, net,
                   subjects=subjects, frame_index=fi, options=opts)  # fmt: skip
    # the same frame number for two subjects is two people in one frame: accepted
    refine(model, list(frames.image), _init(frames), frames.cameras, net,
           subjects=np.array([0, 1, 0, 1]), frame_index=np.array([5, 5, 6, 6.0]),
           options=opts)  # fmt: skip


def test_keypoints_with_nan_or_percent_confidences_are_refused(model, frames, net):
    """Before, NaN keypoints (missing ones, at confidence 0) ended every frame "non-finite"
    and percent confidences were fitted as given, both without a word
    (docs/measurements/2026-12-08/s55_zen4/keypoint_values_probe_*.txt)."""
    kp = np.concatenate([frames.keypoints, np.full((4, 25, 1), 0.9)], -1)
    missing = kp.copy()
    missing[:, 3, :2], missing[:, 3, 2] = np.nan, 0.0
    percent = kp * np.array([1, 1, 100])
    for bad, message in [
        (missing, r"4 keypoints hold NaN or inf \(e.g. \[0, 3\]\); a missing keypoint is one "
                  r"of confidence 0 at any finite x, y"),
        (percent, r"confidences from 90 to 90; fractions of 1 are expected \(percent\?"),
    ]:  # fmt: skip
        with pytest.raises(ValueError, match=r"^refine: keypoints: " + message):
            refine(model, list(frames.image), _init(frames), frames.cameras, net, keypoints=bad,
                   options=FAST)  # fmt: skip


def test_a_body_out_of_view_cuts_its_temporal_run(model, frames, net):
    """Frame 3 of a four-frame track lies behind the camera: frames 0-2 are smoothed as the
    track of those three alone, not pulled toward frame 3's kept estimate."""
    opts = dataclasses.replace(FAST, temporal_weight=1e3)
    init = {k: np.array(v, np.float32) for k, v in _init(frames).items()}
    init["transl"][3] *= [1, -1, -1]
    with pytest.warns(OutOfViewWarning, match="1 of the 4 bodies are behind the camera"):
        four = refine(model, list(frames.image), init, frames.cameras, net, options=opts,
                      subjects=np.zeros(4, int), frame_index=np.arange(4))  # fmt: skip
    three = refine(model, list(frames.image[:3]), {k: v[:3] for k, v in init.items()},
                   jax.tree.map(lambda a: a[:3], frames.cameras), net,
                   subjects=np.zeros(3, int), frame_index=np.arange(3), options=opts)  # fmt: skip
    np.testing.assert_allclose(four.params["body_pose"][:3], three.params["body_pose"],
                               atol=SMOOTH_TOL)  # fmt: skip
    np.testing.assert_array_equal(four.params["body_pose"][3], init["body_pose"][3])


def test_zero_body_steps_runs_the_camera_stage_only(model, frames, net):
    """``body_steps=0`` (e.g. ``--body-steps 0``): one round whose fit is the camera stage;
    the pose is the start's."""
    opts = dataclasses.replace(FAST, body_steps=0)
    res = refine(model, list(frames.image), _init(frames), frames.cameras, net, options=opts)
    np.testing.assert_array_equal(res.params["body_pose"], frames.init_pose[:, 1:])
    assert np.all(np.isfinite(res.params["transl"]))
    with pytest.raises(ValueError, match="body_steps=-1"):
        dataclasses.replace(FAST, body_steps=-1)
    with pytest.raises(ValueError, match="batch_size=0"):
        dataclasses.replace(FAST, batch_size=0)


@pytest.mark.parametrize("field, least, below", [
    ("camera_steps", 0, -1), ("body_steps", 0, -1), ("rerun_every", 0, -1),
    ("batch_size", 1, 0), ("texture_size", 1, 0), ("keypoint_weight", 0, -0.5),
    ("temporal_weight", 0, -0.5), ("silhouette_weight", 0, -0.5), ("mask_gate", 0, -0.5),
])  # fmt: skip
def test_refine_options_refuse_a_value_below_its_least(field, least, below):
    """Counts below their least and negative weights (a penalty turned into a reward) are
    refused, naming the field; the least itself is accepted."""
    with pytest.raises(ValueError, match=rf"refine options: {field}={below} \(at least {least}\)"):
        RefineOptions(**{field: below})
    assert getattr(RefineOptions(**{field: least}), field) == least


def test_the_body_stage_runs_the_optimizers_own_step_count(model, frames, net, monkeypatch):
    """Without ``body_steps``, refine fits the preset's count with a classical optimizer and
    LGD's trained count with LGD (refine passes the count to smplify explicitly, so it must
    pick it as smplify would: LGD once ran 100 learned steps here instead of its 10)."""
    import importlib

    from jaxrefine.objective import get_preset
    from jaxrefine.optimizers.learned import load_pretrained
    from jaxrefine.refine import body_stage_steps

    preset = get_preset("dense")
    lgd_steps = load_pretrained("dense").num_steps
    assert body_stage_steps(RefineOptions(optimizer="lgd"), preset, "dense") == lgd_steps
    assert body_stage_steps(RefineOptions(), preset, "dense") == preset.body_steps
    assert body_stage_steps(RefineOptions(optimizer="lgd", body_steps=3), preset, "dense") == 3
    smplify_module = importlib.import_module("jaxrefine.smplify")  # the package exports a function
    real, asked = smplify_module.smplify, []

    def spy(*args, **kw):
        asked.append(kw["body_steps"])
        return real(*args, **kw)

    monkeypatch.setattr(smplify_module, "smplify", spy)
    opts = dataclasses.replace(FAST, optimizer="lgd", body_steps=None, camera_steps=2)
    refine(model, list(frames.image), _init(frames), frames.cameras, net, options=opts)
    assert asked == [lgd_steps]  # one batch of 4, one round


def test_the_fit_uses_the_pose_prior_file_the_options_name(model, frames, net, other_prior_file):
    """``gmm_path`` (``--gmm``; here SMPLify's pickle format) is the body stage's prior: its
    pose-prior term at each frame's result is that file's prior's, not the shipped one's."""
    from jaxrefine.objective import get_preset
    from jaxrefine.priors import load_gmm

    res = refine(model, list(frames.image), _init(frames), frames.cameras, net,
                 options=dataclasses.replace(FAST, gmm_path=str(other_prior_file)))  # fmt: skip
    w = get_preset("dense").weights.pose_prior
    poses = jnp.asarray(res.params["body_pose"]).reshape(4, -1)

    def term(prior):  # what the objective sums: (w * residuals)^2
        return np.asarray(jax.vmap(lambda b: jnp.sum((w * prior.residuals(b)) ** 2))(poses))

    theirs, shipped = term(load_gmm(other_prior_file)), term(load_gmm())
    np.testing.assert_allclose(res.terms["pose_prior"], theirs, rtol=PRIOR_TERM_RTOL)
    assert np.all(np.abs(shipped - theirs) > 10 * PRIOR_TERM_RTOL * theirs), (shipped, theirs)
    with pytest.raises(ValueError, match="gmm_path=p.pkl names a pose prior, but use_gmm=False"):
        RefineOptions(gmm_path="p.pkl", use_gmm=False)


def test_mismatched_counts_are_refused(model, frames, net):
    with pytest.raises(ValueError, match="4 images but"):
        refine(model, list(frames.image), _init(frames), frames.cameras, net,
               subjects=np.zeros(3), options=FAST)  # fmt: skip
    none = jax.tree.map(lambda a: np.asarray(a)[:0], (_init(frames), frames.cameras))
    with pytest.raises(ValueError, match="no images given"):
        refine(model, [], *none, net, options=FAST)


# float32 rotation matrices through scipy's float64 conversion and back: ~1e-7 per entry
ROUND_TRIP_TOL = 1e-5


def test_estimates_with_nan_are_refused_naming_the_frame(model, frames, net):
    init = {k: np.array(v, np.float32) for k, v in _init(frames).items()}
    init["transl"][2, 1] = np.nan  # a regressor's failed frame
    with pytest.raises(ValueError, match=r"^refine: params\['transl'\] holds NaN or inf in 1 "
                       r"of 4 frames \(e\.g\. frame 2\); leave those frames out"):  # fmt: skip
        refine(model, list(frames.image), init, frames.cameras, net, options=FAST)


def test_a_focal_in_millimetres_is_named_and_its_bodies_kept(model, frames, net):
    """Frame 1's focal is a 50 mm lens's millimetres read as pixels (scaled to the 64 px frame
    from a 1920 px one): a CameraWarning says why its body is too small to refine."""
    cams = frames.cameras
    f = 50.0 * SIZE / 1920
    cams = cams.replace(fx=cams.fx.at[1].set(f), fy=cams.fy.at[1].set(f))
    with pytest.warns(UserWarning) as caught:
        res = refine(model, list(frames.image), _init(frames), cams, net, options=FAST)
    said = [(w.category, str(w.message)) for w in caught]
    assert said[0] == (CameraWarning, (
        "refine: cameras: 1 of the 4 cameras have a focal under 0.2 of their image's longer "
        f"side (e.g. frame 1: fx {f:g}, fy {f:g} in {SIZE}x{SIZE} px, a field of view over 136 "
        "degrees): focal lengths are read in pixels (millimetres? normalised by the image "
        "size?); the bodies are then drawn a few pixels tall"))  # fmt: skip
    assert said[1][0] is OutOfViewWarning and "too small" in said[1][1] and len(said) == 2
    np.testing.assert_array_equal(res.status[1], STATUS_NO_IMPROVEMENT)


def test_a_body_pose_in_degrees_is_refused_naming_the_frame(model, frames, net):
    init = dict(_init(frames), body_pose=np.degrees(frames.init_pose[:, 1:]))
    past = np.argwhere(np.linalg.norm(init["body_pose"], axis=-1) > 2 * np.pi)[0]
    with pytest.raises(ValueError, match=rf"^refine: params\['body_pose'\] holds a joint "
                       rf"rotated by .* \(frame {past[0]}, joint {past[1] + 1}\); axis-angle is "
                       r"in radians, a joint's within a turn \(2 pi\): degrees\?"):  # fmt: skip
        refine(model, list(frames.image), init, frames.cameras, net, options=FAST)


@pytest.mark.parametrize("field, value", [("fx", 0.0), ("fy", -90.0), ("cx", np.nan)])
def test_cameras_without_a_positive_focal_or_with_nan_are_refused(model, frames, net, field,
                                                                   value):  # fmt: skip
    cams = frames.cameras.replace(**{field: getattr(frames.cameras, field).at[1].set(value)})
    with pytest.raises(ValueError, match=r"^refine: cameras\[1\] has fx .*; focal lengths are "
                       r"pixels > 0 and every value finite"):  # fmt: skip
        refine(model, list(frames.image), _init(frames), cams, net, options=FAST)


def test_cameras_of_another_resolution_are_named_and_used(model, frames, net):
    """Frame 2's camera is that of its image at twice the size (focal and principal point
    doubled): a warning names it; the fit runs with the cameras given."""
    cams = frames.cameras
    cams = cams.replace(**{k: getattr(cams, k).at[2].multiply(2.0) for k in ("fx", "fy", "cx",
                                                                            "cy")})  # fmt: skip
    with pytest.warns(CameraWarning) as caught:
        res = refine(model, list(frames.image), _init(frames), cams, net, options=FAST)
    assert [str(w.message) for w in caught] == [
        "refine: cameras: 1 of the 4 cameras have their principal point more than 20% of the "
        f"image from its centre (e.g. frame 2: ({SIZE:g}, {SIZE:g}) in {SIZE}x{SIZE} px): is "
        "it the camera of another resolution (a video's full-size camera, its frames "
        "resized)? The bodies are then drawn away from their people; a crop's camera can be "
        "off-centre by right"
    ]
    assert np.all(res.status != STATUS_NONFINITE)


def test_rotation_matrices_are_read_as_axis_angle_and_others_named(model, frames, net):
    from jaxrefine.geometry import rodrigues

    init = _init(frames)
    to_matrices = jax.vmap(jax.vmap(rodrigues))
    R = {"global_orient": to_matrices(init["global_orient"][:, None]),  # (4, 1, 3, 3)
         "body_pose": to_matrices(init["body_pose"])}  # fmt: skip
    read = axis_angle_params(dict(init, **R))
    for key, m in R.items():
        back = to_matrices(jnp.reshape(read[key], (4, -1, 3)))
        np.testing.assert_allclose(back, m, atol=ROUND_TRIP_TOL)
    np.testing.assert_array_equal(read["betas"], init["betas"])
    flat = dict(init, global_orient=R["global_orient"][:, 0])  # (4, 3, 3) also read
    assert axis_angle_params(flat)["global_orient"].shape == (4, 3)
    bad = dict(init, body_pose=np.zeros((4, 23, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"^refine: params\['body_pose'\] holds matrices that "
                                         r"are not rotations"):  # fmt: skip
        refine(model, list(frames.image), bad, frames.cameras, net, options=FAST)


def test_images_are_read_lazily_as_floats_in_0_1_and_other_ranges_are_named():
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    u8.flat[:2] = 0, 255
    reads = []

    class Frames:  # counts reads, as a video would decode them
        def __len__(self):
            return 4

        def __getitem__(self, i):
            reads.append(i)
            return [u8, u8[..., 0], np.dstack([u8, u8[..., :1]]), u8 / 255 * 1.04][i]

    checked = CheckedImages(Frames(), "who")
    assert len(checked) == 4 and reads == []
    want = u8.astype(np.float32) / 255
    np.testing.assert_array_equal(checked[0], want)  # uint8 scaled
    np.testing.assert_array_equal(checked[1], np.repeat(want[..., :1], 3, -1))  # grey
    np.testing.assert_array_equal(checked[2], want)  # alpha dropped
    assert checked[3].max() == 1.0  # within IMAGE_RANGE_TOL: clipped
    assert reads == [0, 1, 2, 3]
    over = (1 + IMAGE_RANGE_TOL) * 1.01
    for bad, message in [
        (
            u8 * np.float32(1.0),
            r"^who\[0\]: float pixels in \[0, 255\]; expected \[0, 1\] \(divide",
        ),
        (np.full((5, 6, 3), over), r"float pixels in \[1.0"),
        (np.full((5, 6, 3), -0.1), r"float pixels in \[-0.1, -0.1\]"),
        (np.full((5, 6, 3), np.nan), r"^who\[0\]: the image holds NaN"),
        (np.zeros((3, 5, 6)), r"got shape \(3, 5, 6\) \(channels first\? transpose"),
    ]:
        with pytest.raises(ValueError, match=message):
            CheckedImages([bad], "who")[0]


def test_images_in_0_255_floats_are_refused_by_refine(model, frames, net):
    images = [np.asarray(im) * 255 for im in frames.image]
    message = r"^refine: images\[0\]: float pixels in \[[0-9.]+, 255\]; expected \[0, 1\]"
    with pytest.raises(ValueError, match=message):
        refine(model, images, _init(frames), frames.cameras, net, options=FAST)


def test_keypoints_and_masks_of_other_shapes_are_refused_naming_them(model, frames, net):
    images, init, cams = list(frames.image), _init(frames), frames.cameras
    xy = np.zeros((4, 25, 2))  # confidences left out
    with pytest.raises(
        ValueError,
        match=r"^refine: keypoints has shape \(4, 25, 2\); expected "
        r"\(N, 25, 3\) x, y, confidence of options.keypoint_set=",
    ):
        refine(model, images, init, cams, net, keypoints=xy, options=FAST)
    coco = dataclasses.replace(FAST, keypoint_set="coco17")
    with pytest.raises(ValueError, match=r"has shape \(4, 25, 3\); expected \(N, 17, 3\)"):
        refine(model, images, init, cams, net, keypoints=np.zeros((4, 25, 3)), options=coco)
    normalised = np.concatenate([frames.keypoints / SIZE, np.ones((4, 25, 1))], -1)
    with pytest.raises(ValueError, match=r"^refine: keypoints: every keypoint of confidence > 0 "
                       r"lies within \[-1.5, 1.5\]; full-image pixels are expected"):  # fmt: skip
        refine(model, images, init, cams, net, keypoints=normalised, options=FAST)
    empty = [np.ones((SIZE, SIZE), bool)] * 3 + [np.zeros((SIZE, SIZE), bool)]
    with pytest.raises(ValueError, match=r"^refine: masks\[3\]: the silhouette mask holds no "
                       "person pixel"):  # fmt: skip
        refine(model, images, init, cams, net, masks=empty,
               options=dataclasses.replace(FAST, silhouette_weight=1.0))  # fmt: skip
    half = [np.ones((SIZE // 2, SIZE // 2), bool)] * 4
    with pytest.raises(ValueError, match=rf"^refine: masks\[0\] has shape \({SIZE // 2}, "):
        refine(model, images, init, cams, net, masks=half,
               options=dataclasses.replace(FAST, silhouette_weight=1.0))  # fmt: skip


def test_mask_gate_drops_exactly_the_targets_outside_the_masks(model, frames, net):
    from jaxrefine.silhouette import mask_side, outside_distance, silhouette_target

    cfg, params = net
    masks = [np.zeros((SIZE, SIZE), bool) for _ in range(4)]
    for m in masks:
        m[:, : SIZE // 2] = True  # the left half of each image is "person"
    opts = dataclasses.replace(FAST, body_steps=0)  # one round: the targets of the start
    plain = refine(model, list(frames.image), _init(frames), frames.cameras, net, options=opts)
    gated = refine(model, list(frames.image), _init(frames), frames.cameras, net, masks=masks,
                   options=dataclasses.replace(opts, mask_gate=0.03))  # fmt: skip
    # the same targets computed by hand, gated by hand
    body, rendering = _initial_renderings(model, frames, cfg, subjects=np.arange(4))
    targets, weights, _ = targets_from_fields(
        model, predict_fields(cfg, params, rendering), body.vertices, frames.cameras,
        use_confidence=False,
    )  # fmt: skip
    for i, m in enumerate(masks):
        t = silhouette_target(m)
        out = np.asarray(outside_distance(t, targets[i])) > 0.03 * float(mask_side(t))
        on = np.asarray(weights[i]) > 0
        assert int(plain.visible[i]) == on.sum()
        assert int(gated.visible[i]) == (on & ~out).sum()
        assert 0 < gated.visible[i] < plain.visible[i]  # the right halves' targets are gone
    with pytest.raises(ValueError, match="one person mask per image"):
        refine(model, list(frames.image), _init(frames), frames.cameras, net,
               options=dataclasses.replace(opts, mask_gate=0.03))  # fmt: skip
    with pytest.raises(ValueError, match="mask_gate"):
        RefineOptions(mask_gate=-0.1)
