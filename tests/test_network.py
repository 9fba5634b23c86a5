"""The displacement network: shapes, receptive field, batching, precision, crop convention,
checkpoints and the benchmark's smoke run (tiny config; paper/small by shape only)."""

from __future__ import annotations

import json
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrefine import network
from jaxrefine.camera import Camera, project
from jaxrefine.network import checkpoint, crop

# float32 batching: vmap regroups the same convolutions, GroupNorm sums in another order.
VMAP_TOL = 1e-5
# crop camera vs mapping projected points: float32 rounding of ~1000 px coordinates.
PROJ_TOL_PX = 1e-4
# bfloat16 compute keeps ~3 significant digits over a few dozen layers.
BF16_TOL = 0.1


_init = jax.jit(network.init_params, static_argnums=0)
_apply = jax.jit(network.apply, static_argnums=0)


def _random_params(cfg, seed=0):
    """Parameters with the zero-initialised field heads perturbed, so outputs depend on input."""
    p = _init(cfg, jax.random.key(seed))
    leaves, tree = jax.tree_util.tree_flatten(p)
    keys = jax.random.split(jax.random.key(seed + 1), len(leaves))
    leaves = [x + 0.05 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)]
    return jax.tree_util.tree_unflatten(tree, leaves)


def _inputs(cfg, batch=None, seed=0):
    rng = np.random.default_rng(seed)
    lead = () if batch is None else (batch,)
    S = cfg.crop_size
    image = rng.uniform(size=lead + (S, S, 3)).astype(np.float32)
    renders = rng.uniform(size=lead + (S, S, cfg.render_channels)).astype(np.float32)
    return jnp.asarray(image), jnp.asarray(renders)


@pytest.fixture(scope="module")
def tiny():
    cfg = network.get_config("tiny")
    return cfg, _random_params(cfg)


@pytest.mark.parametrize(
    "name, confidence", [("tiny", False), ("tiny", True), ("small", True), ("paper", True)]
)
def test_output_shapes_per_config(name, confidence):
    cfg = network.get_config(name, confidence=confidence)
    S = cfg.crop_size
    params = network.param_shapes(cfg)
    image = jax.ShapeDtypeStruct((S, S, 3), jnp.float32)
    renders = jax.ShapeDtypeStruct((S, S, 11), jnp.float32)
    out = jax.eval_shape(partial(network.apply, cfg), params, image, renders)
    assert out.fields.shape == (cfg.stacks, S, S, 2) and out.fields.dtype == jnp.float32
    if confidence:
        assert out.log_scale.shape == (S, S) and out.log_scale.dtype == jnp.float32
    else:
        assert out.log_scale is None


def test_configs_and_parameter_counts():
    paper, small = network.get_config("paper"), network.get_config("small")
    assert (paper.crop_size, paper.internal_stride, paper.stacks) == (256, 1, 4)
    assert (paper.encoder_features, paper.encoder_blocks) == (64, 3)  # ResNet-50 stage 1
    assert small.inner_size < small.crop_size  # the field is predicted at lower resolution
    n = {k: network.count_params(network.param_shapes(c)) for k, c in network.CONFIGS.items()}
    assert n["tiny"] < n["small"] < n["paper"]
    assert 10e6 < n["paper"] < 20e6 and n["small"] < 1e6
    assert hash(paper) == hash(network.get_config("paper"))  # usable as a static argument
    with pytest.raises(ValueError, match="divisible"):
        network.get_config("tiny", crop_size=34)
    with pytest.raises(ValueError, match="compute_dtype"):
        network.get_config("tiny", compute_dtype="float16")


@pytest.mark.parametrize("name", ["small", "paper"])
def test_receptive_field_covers_more_than_half_the_crop(name):
    cfg = network.get_config(name)
    assert network.receptive_field(cfg) > cfg.crop_size / 2


def test_receptive_field_by_hand():
    """tiny with one stack, walked by hand as (field r, pixel spacing j): 7x7 conv (7, 1), one
    bottleneck's 3x3 (9, 1); hourglass depth 2: its top residual gives 11; lower branch: pool
    (10, 2), residual (14, 2), inner hourglass [top 18; pool (16, 4), residual 24, bottom 32,
    residual 40 -> 40], residual (44, 2) -> max(11, 44) = 44; the post residual: 46.

    (A gradient check cannot see this field: GroupNorm's statistics make every output depend,
    weakly, on every input pixel.)"""
    assert network.receptive_field(network.get_config("tiny", stacks=1)) == 46
    strided = network.get_config("tiny", stacks=1, internal_stride=2, crop_size=64)
    assert network.receptive_field(strided) == 7 + 2 * (46 - 7) + 2  # spacings double; + upsampling


def test_untrained_network_predicts_the_zero_field():
    cfg = network.get_config("tiny", confidence=True)
    out = _apply(cfg, _init(cfg, jax.random.key(0)), *_inputs(cfg))
    assert not np.any(np.asarray(out.fields)) and not np.any(np.asarray(out.log_scale))


def test_vmap_equals_per_example_and_jit(tiny):
    cfg, params = tiny
    images, renders = _inputs(cfg, batch=3)
    batch = jax.jit(network.apply_batch, static_argnums=0)(cfg, params, images, renders)
    one = _apply
    assert batch.fields.shape == (3, cfg.stacks, cfg.crop_size, cfg.crop_size, 2)
    for i in range(3):
        np.testing.assert_allclose(
            batch.fields[i], one(cfg, params, images[i], renders[i]).fields, atol=VMAP_TOL
        )
    assert np.abs(np.asarray(batch.fields)).max() > 0.01  # the comparison is not of zeros


def test_strided_config_upsamples_fields_in_crop_pixels():
    """With internal_stride 2 the raw field is at half resolution; a constant raw field (head
    bias only) comes back as the same constant at full resolution (values are not rescaled)."""
    cfg = network.get_config("tiny", internal_stride=2, crop_size=64)
    params = _init(cfg, jax.random.key(0))
    head = f"head{cfg.stacks - 1}"
    params = {**params, head: {**params[head], "bias": jnp.array([3.0, -1.5])}}
    out = _apply(cfg, params, *_inputs(cfg))
    assert out.fields.shape == (cfg.stacks, 64, 64, 2)
    np.testing.assert_allclose(out.fields[-1, ..., 0], 3.0)
    np.testing.assert_allclose(out.fields[-1, ..., 1], -1.5)


def test_bfloat16_compute_returns_float32_close_to_float32(tiny):
    cfg, params = tiny
    cfg16 = cfg.replace(compute_dtype="bfloat16")
    image, renders = _inputs(cfg)
    out16 = _apply(cfg16, params, image, renders)
    out32 = _apply(cfg, params, image, renders)
    assert out16.fields.dtype == jnp.float32
    assert jax.tree_util.tree_leaves(params)[0].dtype == jnp.float32
    scale = np.abs(np.asarray(out32.fields)).max()
    assert np.abs(np.asarray(out16.fields - out32.fields)).max() < BF16_TOL * scale


# float32 GroupNorm over 16x16x4 values per group (mean ~2.5, std ~0.87): summation orders
# differ (per-channel sums then per group here, flax reduces the group at once, and the CPU's
# vector width changes both), so the group means agree to a few ulps of 2.5 (~3e-6), an error
# every output carries times scale / std (up to ~3.5 / 0.87 with the perturbed scales).
# Measured: within 1e-5 on an AVX2-era machine; 1.5e-5 on a Zen 4 (AVX-512) machine.
GROUP_NORM_TOL = 3e-5


def test_group_norm_matches_flax_and_keeps_dtype():
    import flax.linen as nn

    from jaxrefine.network.model import GroupNorm, group_norm

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(size=(3, 16, 16, 32)) * 3 + 1, jnp.float32)
    ref_mod = nn.GroupNorm(num_groups=8, epsilon=1e-5, use_fast_variance=False)
    params = ref_mod.init(jax.random.key(0), x)
    params = jax.tree.map(lambda a: a + jnp.asarray(rng.normal(size=a.shape), jnp.float32), params)
    ref = ref_mod.apply(params, x)
    p = params["params"]
    np.testing.assert_allclose(group_norm(x, p["scale"], p["bias"], 8, 1e-5), ref,
                               atol=GROUP_NORM_TOL)  # fmt: skip
    ours = GroupNorm(num_groups=8)  # same parameter names and shapes: checkpoints interchange
    assert jax.tree.map(jnp.shape, ours.init(jax.random.key(0), x)) == jax.tree.map(
        jnp.shape, params
    )
    np.testing.assert_allclose(ours.apply(params, x), ref, atol=GROUP_NORM_TOL)
    # leading axes are batch axes (as under vmap): each example is normalised on its own
    two = group_norm(jnp.stack([x, 2 * x]), p["scale"], p["bias"], 8, 1e-5)
    np.testing.assert_allclose(two[1], ref_mod.apply(params, 2 * x), atol=GROUP_NORM_TOL)
    half = GroupNorm(num_groups=8, dtype=jnp.bfloat16).apply(params, x)
    assert half.dtype == jnp.bfloat16


def test_pointwise_convolutions_are_matrix_products_with_the_same_numbers():
    from jaxrefine.network.model import _conv

    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=(2, 8, 8, 5)), jnp.float32)
    dn = ("NHWC", "HWIO", "NHWC")
    for k, pad in ((1, 0), (3, 1)):
        w = jnp.asarray(rng.normal(size=(k, k, 5, 7)), jnp.float32)
        args = (x, w, (1, 1), [(pad, pad)] * 2)
        ref = jax.lax.conv_general_dilated(*args, dimension_numbers=dn)
        np.testing.assert_allclose(_conv(*args, dimension_numbers=dn), ref, atol=1e-5)

    def lowered(stride):
        fn = jax.jit(lambda a, b: _conv(a, b, (stride,) * 2, [(0, 0)] * 2, dimension_numbers=dn))
        return fn.lower(x, w[:1, :1]).as_text()

    assert "convolution" not in lowered(1) and "dot_general" in lowered(1)
    assert "convolution" in lowered(2)  # only the stride-1 case is rewritten


def test_apply_rejects_a_batch(tiny):
    cfg, params = tiny
    images, renders = _inputs(cfg, batch=2)
    with pytest.raises(ValueError, match="ONE example"):
        network.apply(cfg, params, images, renders)


# ---------------------------------------------------------------- crop convention


def _scene():
    rng = np.random.default_rng(3)
    X = rng.normal(0, 0.4, (200, 3)).astype(np.float32) + [0.1, -0.2, 5.0]
    cam = Camera.create(1200.0, 1150.0, 640.0, 360.0, R=np.eye(3), t=[0.05, 0.1, 0.2])
    return cam, jnp.asarray(X)


def test_crop_camera_projects_to_crop_pixels():
    cam, X = _scene()
    p = project(cam, X)
    center, size = crop.person_box(p, jnp.ones(len(p)))
    for S in (32, 256):
        expected = crop.image_to_crop_points(p, center, size, S)
        got = project(crop.crop_camera(cam, center, size, S), X)
        np.testing.assert_allclose(got, expected, atol=PROJ_TOL_PX)


def test_person_box_is_square_enlarged_and_ignores_zero_weights():
    pts = jnp.array([[10.0, 20.0], [30.0, 60.0], [1000.0, 1000.0]])
    center, size = crop.person_box(pts, jnp.array([1.0, 1.0, 0.0]), enlarge=1.5)
    np.testing.assert_allclose(center, [20.0, 40.0])
    np.testing.assert_allclose(size, 60.0)  # 1.5 x the longer side (40)
    _, size = crop.person_box(pts, jnp.array([1.0, 0.0, 0.0]), min_size=16.0)
    assert float(size) == 16.0


def test_image_box_surrounds_the_part_inside_the_image():
    # a 100 x 50 image (H, W); two points inside, one far below it (a cut-off body's feet)
    pts = jnp.array([[10.0, 20.0], [30.0, 60.0], [20.0, 400.0]])
    center, size = crop.image_box(pts, (100, 50), enlarge=1.5)
    np.testing.assert_allclose(center, [20.0, 40.0])
    np.testing.assert_allclose(size, 60.0)  # the box of the first two points only
    # all inside: the box of person_box with every point
    inside = pts[:2]
    for got, want in zip(crop.image_box(inside, (100, 50)), crop.person_box(inside, jnp.ones(2))):
        np.testing.assert_allclose(got, want)
    # none inside: all points count (a box, not the minimum one at the origin)
    out = pts + jnp.array([[0.0, 500.0]])
    for got, want in zip(crop.image_box(out, (100, 50)), crop.person_box(out, jnp.ones(3))):
        np.testing.assert_allclose(got, want)


def test_point_round_trips_and_field_mapping_are_exact():
    # a box of 128 px on a 64 px crop: every step below is exact in float32
    center, size, S = jnp.array([300.5, 210.25]), jnp.array(128.0), 64
    p = jnp.array([[0.0, 0.0], [300.5, 210.25], [17.0, 911.0]])
    np.testing.assert_allclose(
        crop.crop_to_image_points(crop.image_to_crop_points(p, center, size, S), center, size, S),
        p,
        rtol=0,
    )
    # a constructed field: every crop pixel moves its image point by (+4, -2) image pixels
    grid = jnp.stack(jnp.meshgrid(jnp.arange(S) + 0.5, jnp.arange(S) + 0.5), -1)
    moved = crop.image_to_crop_points(
        crop.crop_to_image_points(grid, center, size, S) + jnp.array([[[4.0, -2.0]]]),
        center,
        size,
        S,
    )
    field_crop = moved - grid
    back = crop.crop_field_to_image(field_crop, size, S)
    np.testing.assert_array_equal(back, np.broadcast_to([4.0, -2.0], back.shape))


def test_crop_image_resamples_the_box():
    """A box covering the whole image at its own size is the identity; a box of half the size
    at twice the resolution puts each image pixel on 2x2 crop pixels (interior, exact for a
    linear ramp); outside the image reads zeros."""
    H = W = 16
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    image = jnp.asarray(np.stack([xx, yy, xx + 2 * yy], -1))
    ident = crop.crop_image(image, jnp.array([8.0, 8.0]), 16.0, 16)
    np.testing.assert_allclose(ident, image, atol=1e-5)
    zoom = crop.crop_image(image, jnp.array([8.0, 8.0]), 8.0, 16)  # box [4, 12)^2
    # crop pixel j centre (j + 0.5) -> image x = 4 + (j + 0.5) / 2, pixel-index x - 0.5
    j = np.arange(16)
    np.testing.assert_allclose(zoom[0, :, 0], 4 + (j + 0.5) / 2 - 0.5, atol=1e-5)
    np.testing.assert_allclose(zoom[:, 0, 1], 4 + (j + 0.5) / 2 - 0.5, atol=1e-5)
    outside = crop.crop_image(image, jnp.array([100.0, 100.0]), 8.0, 8)
    assert not np.any(np.asarray(outside))


# ---------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip_is_bit_exact(tmp_path, tiny):
    cfg, params = tiny
    path = network.save_params(tmp_path / "net.npz", cfg, params, {"steps": 3})
    cfg2, params2, meta = network.load_params(path)
    assert cfg2 == cfg and meta == {"steps": 3}
    flat, flat2 = network.flatten_params(params), network.flatten_params(params2)
    assert flat.keys() == flat2.keys()
    for k in flat:
        np.testing.assert_array_equal(flat[k], flat2[k])
    cfg3, _, _ = network.load_pretrained(path)  # an exported file by path
    assert cfg3 == cfg


def _rewrite(path, change):
    with np.load(path) as z:
        flat = {k: z[k] for k in z.files}
    change(flat)
    np.savez(path, **flat)


def test_corrupted_checkpoints_fail_clearly(tmp_path, tiny):
    cfg, params = tiny
    path = network.save_params(tmp_path / "net.npz", cfg, params)
    key = next(iter(network.flatten_params(params)))

    _rewrite(path, lambda f: f.pop(key))
    with pytest.raises(checkpoint.CheckpointError, match=r"net\.npz.*1 missing"):
        network.load_params(path)

    network.save_params(path, cfg, params)
    _rewrite(path, lambda f: f.update({key: np.zeros((1, 2, 3), np.float32)}))
    with pytest.raises(checkpoint.CheckpointError, match=f"net.npz: {key} has shape"):
        network.load_params(path)

    network.save_params(path, cfg, params)
    _rewrite(path, lambda f: f[key].flat.__setitem__(0, np.nan))
    with pytest.raises(checkpoint.CheckpointError, match="NaN"):
        network.load_params(path)

    network.save_params(path, cfg, params)  # the config says more stacks than the file holds
    header = json.loads(path.with_suffix(".json").read_text())
    header["config"]["stacks"] = 3
    path.with_suffix(".json").write_text(json.dumps(header))
    with pytest.raises(checkpoint.CheckpointError, match="missing"):
        network.load_params(path)

    path.with_suffix(".json").unlink()
    with pytest.raises(checkpoint.CheckpointError, match="config file net.json is missing"):
        network.load_params(path)
    photo = tmp_path / "photo.jpg"  # its .json (e.g. COCO's annotation) was read as the config
    photo.write_bytes(b"\xff\xd8 not a checkpoint")
    said = r"photo.jpg: not a network checkpoint \(an exported .npz with its .json beside it"
    with pytest.raises(checkpoint.CheckpointError, match=said):
        network.load_pretrained(photo)


def test_load_pretrained_from_a_training_run_directory(tmp_path, tiny):
    """A run directory as the training loop writes it: ``config.json`` with a ``network`` entry
    and orbax ``checkpoints/<step>/`` holding a ``params`` item; the latest step loads."""
    ocp = pytest.importorskip("orbax.checkpoint", reason="orbax-checkpoint is not installed")
    cfg, params = tiny
    (tmp_path / "config.json").write_text(json.dumps({"network": cfg.to_dict(), "train": {}}))
    mgr = ocp.CheckpointManager(
        tmp_path / "checkpoints",
        options=ocp.CheckpointManagerOptions(create=True, enable_async_checkpointing=False),
        item_names=("state", "data", "params"),
    )
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    for step, p in ((5, zeros), (10, params)):
        mgr.save(step, args=ocp.args.Composite(params=ocp.args.StandardSave(p)), force=True)
    mgr.close()
    cfg2, params2, meta = network.load_pretrained(tmp_path)
    assert cfg2 == cfg and meta["step"] == 10
    for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(params2)):
        np.testing.assert_array_equal(a, b)


def test_load_pretrained_without_the_shipped_asset(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "SHIPPED_PATH", tmp_path / "displacement_small.npz")
    with pytest.raises(FileNotFoundError, match="no shipped network checkpoint.*train"):
        network.load_pretrained()


_TARGET_EPE_RATIO = 0.6  # the target: validation EPE at most 60 % of the zero field's


def test_shipped_checkpoint_says_how_it_was_made():
    """The packaged network loads, meets the EPE target its JSON reports, and records every
    training run of its lineage (the README's model card cites these fields)."""
    cfg, params, meta = network.load_pretrained()
    assert cfg.name == "small" and cfg.confidence
    assert network.count_params(params) > 0
    assert meta["val_epe"] <= _TARGET_EPE_RATIO * meta["val_zero_epe"]
    assert set(meta["validation_subjects"]) == {"09", "16"}
    assert not set(meta["validation_subjects"]) & set(meta["training_subjects"])
    commands, node = [], meta
    while isinstance(node, dict) and node.get("command"):
        commands.append(node["command"])
        node = node.get("init_from")
    assert all("scripts/train.py" in c or "train.py" in c for c in commands)
    assert "--clothing 0.5 --occluders 0.3 --distractors 0.4" in commands[0]  # session 15's run
    assert "--clothing 0.5 --occluders 0.3" in commands[1]  # session 14's stages
    assert len(commands) == 6 and meta["step"] == 12600  # 3500 + 1600 + 2000 + 1500 + 2000 + 2000


# ---------------------------------------------------------------- benchmark smoke run


def test_bench_network_smoke(tmp_path):
    """The benchmark runs end to end with tiny settings (its figures are not asserted)."""
    from jaxrefine.bench import network as bench

    out = tmp_path / "bench.json"
    rc = bench.main(
        ["--configs", "tiny", "--batches", "2", "--reps", "1", "--no-torch", "--json", str(out)]
    )
    assert rc == 0
    rows = json.loads(out.read_text())["results"]
    assert [(r["config"], r["batch"]) for r in rows] == [("tiny", 2)]
    assert all(r["forward_ms_per_frame"] > 0 and r["train_step_ms"] > 0 for r in rows)
