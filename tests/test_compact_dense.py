"""The compacted dense path (visible vertices only) against the whole-mesh path, on a model with
pose correctives: same loss, same gradient, both stages."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrefine.bench.smplify import make_problem
from jaxrefine.body_model import from_arrays
from jaxrefine.geometry import rodrigues
from jaxrefine.objective import (
    FitData,
    compact_dense,
    get_preset,
    make_objectives,
    params_from_pose,
)
from jaxrefine.priors import load_gmm

# Both paths compute the same float32 numbers for each visible vertex (the blend shapes of the
# whole mesh, then a gather); only the order of the sums over vertices differs (K padded rows
# vs V rows, the zero-weight ones adding exact zeros). Float32 re-association over ~1,700-7,000
# terms: ~1e-6 relative seen; 1e-5 leaves room and still catches any missed or doubled vertex
# (one vertex of ~1,700 changes the loss by ~6e-4 relative).
_LOSS_RTOL = 1e-5
# Gradients sum the same per-vertex terms through the same chain; relative to the largest
# gradient entry of the sample (small entries are differences of large ones).
_GRAD_ATOL_REL = 1e-4


@pytest.fixture(scope="module")
def problem(smpl_size_arrays):
    model = from_arrays(smpl_size_arrays, model_id="smpl-size", gender="neutral", num_betas=10)
    assert model.has_pose_correctives
    (ip, ib, it), _, _, targets, conf, cams = make_problem(model, 2, "dense", seed=1)
    rng = np.random.default_rng(0)
    conf = (rng.uniform(size=conf.shape) < 0.25).astype(np.float32) * rng.uniform(
        0.5, 1.0, conf.shape
    ).astype(np.float32)  # a quarter of the vertices, with varied weights
    data = FitData(
        camera=cams,
        init_transl=jnp.asarray(it),
        pixel_scale=jnp.ones(2),
        dense_targets=jnp.asarray(targets),
        dense_weights=jnp.asarray(conf),
    )
    return model, params_from_pose(ip, ib, it), data


@pytest.mark.parametrize("stage", [0, 1], ids=["camera", "body"])
def test_compacted_loss_and_gradient_match_whole_mesh(problem, stage):
    model, params, data = problem
    compact = compact_dense(data, multiple=64)
    K = compact.dense_ids.shape[1]
    assert K < model.num_vertices // 2  # the compacted path really skins fewer vertices
    obj = make_objectives(model, get_preset("spin"), "dense", load_gmm())[stage]
    vg = jax.jit(jax.vmap(jax.value_and_grad(obj.loss)))
    loss_whole, grad_whole = vg(params, data)
    loss_comp, grad_comp = vg(params, compact)
    assert np.all(np.isfinite(np.asarray(loss_whole)))
    np.testing.assert_allclose(loss_comp, loss_whole, rtol=_LOSS_RTOL)
    for name in params:
        for b in range(2):
            gw, gc = np.asarray(grad_whole[name][b]), np.asarray(grad_comp[name][b])
            atol = _GRAD_ATOL_REL * np.abs(gw).max()
            np.testing.assert_allclose(gc, gw, rtol=0, atol=atol, err_msg=f"{name}, frame {b}")


def test_compact_dense_keeps_every_visible_vertex(problem):
    _, _, data = problem
    compact = compact_dense(data, multiple=64)
    w = np.asarray(data.dense_weights)
    ids = np.asarray(compact.dense_ids)
    wc = np.asarray(compact.dense_weights)
    for b in range(len(w)):
        vis = np.flatnonzero(w[b] > 0)
        np.testing.assert_array_equal(np.sort(ids[b][wc[b] > 0]), vis)
        np.testing.assert_array_equal(wc[b], w[b][ids[b]])
        np.testing.assert_array_equal(
            np.asarray(compact.dense_targets)[b], np.asarray(data.dense_targets)[b][ids[b]]
        )


def test_compact_dense_min_width_pads_with_unweighted_vertices(problem):
    model, _, data = problem
    narrow = compact_dense(data, multiple=64)
    K = narrow.dense_ids.shape[1]
    wide = compact_dense(data, multiple=64, min_width=K + 100)
    assert wide.dense_ids.shape[1] == K + 100
    np.testing.assert_array_equal(np.asarray(wide.dense_ids)[:, :K], np.asarray(narrow.dense_ids))
    assert np.all(np.asarray(wide.dense_weights)[:, K:] == 0)
    whole = compact_dense(data, min_width=10**9)  # capped at the vertex count
    assert whole.dense_ids.shape[1] == model.num_vertices


# The camera stage's rigid shortcut (SMPLifyObjective.specialize) poses the body once with the
# identity root rotation and turns it; the direct path poses it every time. Same float32
# vertices up to the rounding of a different product order (~1e-7 m on a 1 m body, i.e.
# ~1e-5 px at this focal): loss to 1e-5 relative, gradients as above.
@pytest.mark.parametrize("compacted", [True, False], ids=["compacted", "whole"])
@pytest.mark.parametrize("weight_scale", [1.0, 1.3], ids=["weights-sum-1", "weights-sum-1.3"])
@pytest.mark.parametrize("camera_moved", [False, True], ids=["camera-identity", "camera-moved"])
def test_camera_stage_rigid_shortcut_matches_posing(problem, compacted, weight_scale,
                                                    camera_moved):  # fmt: skip
    model, params, data = problem
    if camera_moved:  # the shortcut folds the camera's rotation and translation in: check them
        R = rodrigues(jnp.asarray([0.1, -0.2, 0.05]))
        cam = data.camera.replace(R=jnp.broadcast_to(R, data.camera.R.shape),
                                  t=data.camera.t + jnp.asarray([[0.1, -0.05, 0.2]]))  # fmt: skip
        data = data.replace(camera=cam)
    # a model whose skinning weights do not sum to one checks the root-joint offset term
    model = model.replace(lbs_weights=model.lbs_weights * weight_scale)
    data = compact_dense(data, multiple=64) if compacted else data
    camera_obj = make_objectives(model, get_preset("spin"), "dense", load_gmm())[0]
    frozen = {**params, "global_orient": None, "transl": None}
    fast = jax.vmap(camera_obj.specialize)(frozen, data)
    assert fast.rigid is not None
    # the trained leaves moved away from the start, as they are during the stage
    moved = {**params, "global_orient": params["global_orient"] + jnp.asarray([[0.3, -0.2, 0.1]]),
             "transl": params["transl"] + jnp.asarray([[0.05, 0.02, -0.1]])}  # fmt: skip

    def vg(obj):
        def one(o, p, d):
            return jax.value_and_grad(lambda go, t: o.loss({**p, "global_orient": go,
                                                            "transl": t}, d), (0, 1))(
                p["global_orient"], p["transl"])  # fmt: skip

        return jax.jit(jax.vmap(one, in_axes=(0 if obj is fast else None, 0, 0)))(obj, moved, data)

    loss_fast, grad_fast = vg(fast)
    loss_ref, grad_ref = vg(camera_obj)
    assert np.all(np.isfinite(np.asarray(loss_ref)))
    np.testing.assert_allclose(loss_fast, loss_ref, rtol=_LOSS_RTOL)
    for gf, gr in zip(grad_fast, grad_ref):
        atol = _GRAD_ATOL_REL * np.abs(np.asarray(gr)).max()
        np.testing.assert_allclose(gf, gr, rtol=0, atol=atol)


def test_specialize_keeps_the_posing_path_when_the_body_is_trained(problem):
    model, params, data = problem
    camera_obj, body_obj = make_objectives(model, get_preset("spin"), "dense", load_gmm())
    one = jax.tree_util.tree_map(lambda a: a[0], data)
    body_frozen = {k: None for k in params}
    assert body_obj.specialize(body_frozen, one).rigid is None
    some_body = {**{k: v[0] for k, v in params.items()}, "global_orient": None,
                 "transl": None, "body_pose": None}  # fmt: skip
    assert camera_obj.specialize(some_body, one).rigid is None
    kp_obj = make_objectives(model, get_preset("spin"), "keypoints", load_gmm())[0]
    cam_frozen = {**{k: v[0] for k, v in params.items()}, "global_orient": None, "transl": None}
    assert kp_obj.specialize(cam_frozen, one).rigid is None


@pytest.mark.parametrize("compacted", [True, False], ids=["compacted", "whole"])
def test_camera_vertex_stride_fits_every_sth_vertex(problem, compacted):
    """The camera stage with ``camera_vertex_stride = 3`` is the stride-1 camera stage on
    every third visible vertex (in vertex order), compacted or not, posed directly and by the
    rigid shortcut; the body stage does not change."""
    model, params, whole = problem
    data = compact_dense(whole, multiple=64) if compacted else whole
    gmm = load_gmm()
    cam3, body3 = make_objectives(
        model, dataclasses.replace(get_preset("spin"), camera_vertex_stride=3), "dense", gmm
    )
    cam1, body1 = make_objectives(model, get_preset("spin"), "dense", gmm)
    w = np.asarray(whole.dense_weights)
    kept = np.zeros_like(w)
    for b in range(len(w)):
        every_third = np.flatnonzero(w[b] > 0)[::3]
        kept[b, every_third] = w[b, every_third]
    cut = whole.replace(dense_weights=jnp.asarray(kept))  # the reference: stride 1, whole mesh
    loss = jax.jit(jax.vmap(lambda o, p, d: o.loss(p, d), in_axes=(None, 0, 0)))
    reference = loss(cam1, params, cut)
    np.testing.assert_allclose(loss(cam3, params, data), reference, rtol=_LOSS_RTOL)
    assert not np.allclose(loss(cam1, params, data), reference, rtol=1e-3)  # it drops vertices
    frozen = {**params, "global_orient": None, "transl": None}
    fast = jax.vmap(cam3.specialize)(frozen, data)
    rigid = jax.jit(jax.vmap(lambda o, p, d: o.loss(p, d)))(fast, params, data)
    np.testing.assert_allclose(rigid, reference, rtol=_LOSS_RTOL)
    np.testing.assert_array_equal(loss(body3, params, data), loss(body1, params, data))
