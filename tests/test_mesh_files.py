"""Meshes as estimates: 4D-Humans' ``demo.py --save_mesh`` files, written the way its code
writes them (vertices plus ``pred_cam_t_full``, turned 180 degrees about x, vertex colours),
read back as parameters whose body lies on the mesh in the camera frame; the fit itself
recovers a model's own meshes; other meshes are refused by name."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from jaxrefine.body_model import forward, from_arrays
from jaxrefine.inputs import InputError, read_estimates
from jaxrefine.inputs.tracker_files import HMR2_FOCAL_PER_SIDE
from jaxrefine.testing import make_smpl_size_arrays
from jaxrefine.vertex_fit import fit_vertices

SIZE = (480, 640)
# a model's own meshes are fitted to within 0.002 mm at every vertex (12 CMU poses:
# docs/measurements/2026-12-04/s36_xeon/vertex_fit_check.txt); the OBJ's 8 decimals and the
# float32 forward pass of bodies 4-8 m away (~5e-4 mm rounding) stay far below these
FIT_MEAN_TOL_MM = 0.05
FIT_MAX_TOL_MM = 0.2


@pytest.fixture(scope="module")
def model():
    from jaxrefine.smpl_io import load_body_model

    return load_body_model()


def _bodies(model, n: int, seed: int) -> np.ndarray:
    """(n, V, 3) camera-frame meshes of CMU poses, turned, shaped and placed at random."""
    from jaxrefine.data.poses import load_demo_poses

    rng, poses = np.random.default_rng(seed), load_demo_poses().pose
    pose = poses[rng.integers(0, len(poses), n)].astype(np.float32)
    pose[:, 0] = Rotation.random(n, random_state=seed).as_rotvec()
    betas = rng.normal(0, 1, (n, model.num_betas)).astype(np.float32)
    transl = np.column_stack([rng.normal(0, 0.3, (n, 2)), rng.uniform(4, 8, n)])
    f = jax.vmap(lambda p, b, t: forward(model, p, b, t).vertices)
    return np.asarray(f(pose, betas, transl.astype(np.float32)), np.float64)


def _write_4dhumans_obj(path, vertices) -> None:
    """4D-Humans' vertices_to_trimesh(verts, cam_t).export(...): camera-frame vertices turned
    180 degrees about x, with trimesh's vertex colours and faces."""
    v = vertices * [1.0, -1.0, -1.0]
    lines = [f"v {x:.8f} {y:.8f} {z:.8f} 0.65098039 0.74117647 0.85882353" for x, y, z in v]
    lines += ["f 1 2 3", "f 2 3 4"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# https://github.com/mikedh/trimesh\n" + "\n".join(lines) + "\n")


def _posed(model, est) -> np.ndarray:
    f = jax.vmap(lambda p, b, t: forward(model, p, b, t).vertices)
    return np.asarray(f(est.pose, est.betas, est.transl), np.float64)


def test_fit_recovers_a_models_own_meshes(model):
    """The open model and an SMPL-size one with pose correctives."""
    smpl_size = from_arrays(make_smpl_size_arrays(0), model_id="s", gender="neutral",
                            num_betas=10)  # fmt: skip
    for m, seed in ((model, 1), (smpl_size, 2)):
        target = _bodies(m, 3, seed)
        fit = fit_vertices(m, target)
        f = jax.vmap(lambda p, b, t, m=m: forward(m, p, b, t).vertices)
        err = np.abs(np.asarray(f(fit.pose, fit.betas, fit.transl)) - target) * 1000
        assert np.all(fit.miss_mm < FIT_MEAN_TOL_MM) and err.max() < FIT_MAX_TOL_MM


def test_4dhumans_mesh_reads_as_its_body(tmp_path, model):
    """``<image>_<person>.obj``: the image's name, the body on the mesh in OpenCV's camera
    frame, 4D-Humans' focal for the translation."""
    target = _bodies(model, 1, 3)[0]
    _write_4dhumans_obj(tmp_path / "walk_1.obj", target)
    est = read_estimates(tmp_path / "walk_1.obj", image_size=lambda k: SIZE,
                         num_betas=model.num_betas, model=model)  # fmt: skip
    assert est.fmt == "mesh" and list(est.frame) == ["walk"]
    err = np.linalg.norm(_posed(model, est)[0] - target, axis=-1) * 1000
    assert err.mean() < FIT_MEAN_TOL_MM and err.max() < FIT_MAX_TOL_MM
    k = est.with_default_intrinsics(lambda i: SIZE).intrinsics[0]
    np.testing.assert_allclose(k, [HMR2_FOCAL_PER_SIDE * 640] * 2 + [320, 240], rtol=1e-6)


def test_meshes_that_are_not_the_models_are_refused(tmp_path, model):
    target = _bodies(model, 1, 4)[0]
    _write_4dhumans_obj(tmp_path / "a_0.obj", target)
    smpl_size = from_arrays(make_smpl_size_arrays(0), model_id="s0", gender="neutral",
                            num_betas=10)  # fmt: skip
    with pytest.raises(InputError, match=r"a_0.obj: a mesh of 13348 vertices, and the body "
                       r"model \(s0\) has 6890: give the body model"):  # fmt: skip
        read_estimates(tmp_path / "a_0.obj", image_size=lambda k: SIZE, model=smpl_size)
    with pytest.raises(InputError, match="a mesh is read by fitting the body model to it"):
        read_estimates(tmp_path / "a_0.obj", image_size=lambda k: SIZE)
    other = from_arrays(make_smpl_size_arrays(1), model_id="s1", gender="neutral", num_betas=10)
    _write_4dhumans_obj(tmp_path / "b_0.obj", _bodies(other, 1, 5)[0])
    with pytest.raises(InputError, match=r"b_0.obj: the body model fitted to the mesh stays "
                       r"\d+\.\d mm \(mean\) from its vertices"):  # fmt: skip
        read_estimates(tmp_path / "b_0.obj", image_size=lambda k: SIZE, model=smpl_size)
    centred = target - target.mean(0)  # saved without its camera translation
    _write_4dhumans_obj(tmp_path / "c_0.obj", centred)
    with pytest.raises(InputError, match="c_0.obj: the mesh lies around the camera's plane"):
        read_estimates(tmp_path / "c_0.obj", image_size=lambda k: SIZE, model=model)
    _write_4dhumans_obj(tmp_path / "f_0.obj", target * 1e6)  # not metres: no body fits
    with pytest.raises(InputError, match="f_0.obj: the body model fitted to the mesh stays"):
        read_estimates(tmp_path / "f_0.obj", image_size=lambda k: SIZE, model=model)
    (tmp_path / "d_0.obj").write_text("v 1 2\nf 1 2 3\n")
    with pytest.raises(InputError, match="d_0.obj: an OBJ mesh needs 'v x y z' vertex lines"):
        read_estimates(tmp_path / "d_0.obj", image_size=lambda k: SIZE, model=model)
    (tmp_path / "e_0.obj").write_text("v 1 2 nan\n")
    with pytest.raises(InputError, match="e_0.obj: the mesh's vertices holds NaN"):
        read_estimates(tmp_path / "e_0.obj", image_size=lambda k: SIZE, model=model)


def test_demo_output_folder_plans_a_run(tmp_path, model, plan_run):
    """4D-Humans' output folder (two people in one image, one in another) with its images."""
    import imageio.v3 as iio

    meshes = _bodies(model, 3, 6)
    meshes[:, :, 0] += np.array([-0.6, 0.6, 0.0])[:, None]  # the two people side by side
    (tmp_path / "images").mkdir()
    for name in ("a", "b"):
        iio.imwrite(tmp_path / "images" / f"{name}.jpg", np.zeros((*SIZE, 3), np.uint8))
    for (name, person), v in zip((("a", 0), ("a", 1), ("b", 0)), meshes, strict=True):
        _write_4dhumans_obj(tmp_path / "demo_out" / f"{name}_{person}.obj", v)
    (tmp_path / "demo_out" / "a_0.png").write_bytes(b"")  # its renderings beside them
    got = plan_run(tmp_path / "images", tmp_path / "demo_out", tmp_path / "out")
    p = got["plan"]
    assert (p["estimates"], p["images_with_people"]) == (3, 2)
    assert got["settings"]["estimates_format"] == "mesh"
