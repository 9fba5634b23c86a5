"""Meshes as estimates: 4D-Humans' ``demo.py --save_mesh`` files, written the way its code
writes them (vertices plus ``pred_cam_t_full``, turned 180 degrees about x, vertex colours),
read back as parameters whose body lies on the mesh in the camera frame; PLY meshes as
trimesh exports them and as ``refine --ply`` writes them; the fit itself recovers a model's
own meshes; other meshes are refused by name."""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from jaxrefine.body_model import forward, from_arrays
from jaxrefine.inputs import InputError, read_estimates
from jaxrefine.inputs.tracker_files import HMR2_FOCAL_PER_SIDE
from jaxrefine.refine import OutOfViewWarning
from jaxrefine.testing import make_smpl_size_arrays
from jaxrefine.vertex_fit import fit_vertices

SIZE = (480, 640)
K = np.array([700.0, 700.0, 320.0, 240.0])  # a camera given with --intrinsics
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
    # _bodies places people 4-8 m away for K's 700 px focal; the demo's focal for a 640 px
    # wide image (12,500 px) sees two of them beside the image, and says so
    with pytest.warns(OutOfViewWarning, match="2 of the 3 bodies are outside the image"):
        got = plan_run(tmp_path / "images", tmp_path / "demo_out", tmp_path / "out")
    p = got["plan"]
    assert (p["estimates"], p["images_with_people"]) == (3, 2)
    assert got["settings"]["estimates_format"] == "mesh"


def _write_trimesh_ascii_ply(path, vertices) -> None:
    """trimesh's ASCII PLY layout (export(encoding="ascii")): vertices in OpenGL's axes with
    RGBA colours, faces after them."""
    v = vertices * [1.0, -1.0, -1.0]
    head = ["ply", "format ascii 1.0", "comment https://github.com/mikedh/trimesh",
            f"element vertex {len(v)}", "property float x", "property float y",
            "property float z", "property uchar red", "property uchar green",
            "property uchar blue", "property uchar alpha", "element face 1",
            "property list uchar int vertex_indices", "end_header"]  # fmt: skip
    rows = [f"{x:.8f} {y:.8f} {z:.8f} 166 189 219 255" for x, y, z in v]
    path.write_text("\n".join(head + rows + ["3 0 1 2"]) + "\n")


def _check_body(est, model, target) -> None:
    assert est.fmt == "mesh"
    err = np.linalg.norm(_posed(model, est)[0] - target, axis=-1) * 1000
    assert err.mean() < FIT_MEAN_TOL_MM and err.max() < FIT_MAX_TOL_MM


def test_ply_meshes_read_as_their_body(tmp_path, model):
    """Binary (jaxrefine's ``refine --ply``: OpenCV's axes), ASCII (trimesh's layout, OpenGL's
    axes, colours) and trimesh's own binary export all read as the mesh's body."""
    from jaxrefine.io import save_ply

    target = _bodies(model, 1, 7)[0]
    save_ply(tmp_path / "own_0.ply", target, model.faces)
    _write_trimesh_ascii_ply(tmp_path / "ascii_2.ply", target)
    for name in ("own_0.ply", "ascii_2.ply"):
        est = read_estimates(tmp_path / name, image_size=lambda k: SIZE, model=model,
                             num_betas=model.num_betas, intrinsics=K)  # fmt: skip
        assert list(est.frame) == [name.split("_")[0]]
        _check_body(est, model, target)
        np.testing.assert_allclose(est.intrinsics[0], K)
    trimesh = pytest.importorskip("trimesh", reason="trimesh (installed with pyrender) writes "
                                  "the exports users have")  # fmt: skip
    mesh = trimesh.Trimesh(target * [1.0, -1.0, -1.0], np.asarray(model.faces), process=False)
    mesh.export(tmp_path / "tm_0.ply")
    est = read_estimates(tmp_path / "tm_0.ply", image_size=lambda k: SIZE, model=model,
                         num_betas=model.num_betas, intrinsics=K)  # fmt: skip
    _check_body(est, model, target)


def test_a_ply_mesh_needs_its_camera(tmp_path, model):
    """No regressor's focal can be assumed for a PLY mesh (an OBJ's is 4D-Humans')."""
    from jaxrefine.io import save_ply

    save_ply(tmp_path / "a_0.ply", _bodies(model, 1, 9)[0], model.faces)
    with pytest.raises(InputError, match=r"a_0.ply: a PLY mesh holds no camera: give the one "
                       r"it was made for with --intrinsics"):  # fmt: skip
        read_estimates(tmp_path / "a_0.ply", image_size=lambda k: SIZE, model=model)


def test_bad_ply_files_are_refused_by_name(tmp_path, model):
    def refused(name: str, content: bytes, match: str) -> None:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(InputError, match=f"{name}: {match}"):
            read_estimates(tmp_path / name, image_size=lambda k: SIZE, model=model, intrinsics=K)

    refused("a_0.ply", b"not a ply\n", "not a readable PLY mesh")
    refused("b_0.ply", b"ply\nformat ascii 1.0\nelement face 1\nproperty list uchar int "
            b"vertex_indices\nend_header\n3 0 1 2\n", "a PLY mesh needs a 'vertex' element "
            r"\(it has: face\)")  # fmt: skip
    refused("c_0.ply", b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty "
            b"float y\nend_header\n1 2\n", r"a PLY mesh needs vertices with x, y and z "
            r"properties \(it has 1 with: x, y\)")  # fmt: skip
    refused("d_0.ply", b"ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty "
            b"float y\nproperty float z\nend_header\n1 2 3\n", "not a readable PLY")  # fmt: skip
    refused("e_0.ply", b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty "
            b"float y\nproperty float z\nend_header\n1 2 nan\n", "the mesh's vertices holds "
            "NaN")  # fmt: skip


def test_a_folder_with_both_obj_and_ply_of_a_person_is_refused(tmp_path, model):
    """``refine --obj --ply`` writes both: read together, everyone would be there twice."""
    from jaxrefine.io import save_obj, save_ply

    target = _bodies(model, 1, 8)[0]
    save_obj(tmp_path / "meshes" / "a_0.obj", target, model.faces)
    save_ply(tmp_path / "meshes" / "a_0.ply", target, model.faces)
    with pytest.raises(InputError, match=r"meshes: the meshes a_0 are there as both .obj and "
                       r".ply: the same people twice"):  # fmt: skip
        read_estimates(tmp_path / "meshes", image_size=lambda k: SIZE, model=model)
    (tmp_path / "meshes" / "a_0.obj").unlink()
    est = read_estimates(tmp_path / "meshes", image_size=lambda k: SIZE, model=model,
                         num_betas=model.num_betas, intrinsics=K)  # fmt: skip
    _check_body(est, model, target)


def test_a_refine_output_folder_points_to_its_result_and_meshes(tmp_path, model):
    """``refine``'s output folder given as estimates is refused, naming its refined.npz and
    its meshes/; the meshes with the camera read from that refined.npz are their bodies."""
    from jaxrefine.camera import Camera
    from jaxrefine.inputs import read_intrinsics
    from jaxrefine.io import save_ply, save_result

    target, out = _bodies(model, 1, 10)[0], tmp_path / "out"
    save_ply(out / "meshes" / "a_0.ply", target, model.faces)
    zeros = {"global_orient": np.zeros((1, 3)), "body_pose": np.zeros((1, 69)),
             "betas": np.zeros((1, model.num_betas)), "transl": np.zeros((1, 3))}  # fmt: skip
    cam = jax.tree.map(lambda a: np.asarray(a)[None], Camera.create(*K))
    save_result(out / "refined.npz", model, zeros, np.zeros((1, 24, 3)), cam)
    (out / "report.json").write_text("{}")
    refused = (
        r"out: a jaxrefine refine output folder: give its refined.npz .*, or its "
        r"meshes/ folder with --intrinsics .*out/refined.npz"
    )
    with pytest.raises(InputError, match=refused):
        read_estimates(out, image_size=lambda k: SIZE, model=model, intrinsics=K)
    est = read_estimates(out / "meshes", image_size=lambda k: SIZE, model=model,
                         num_betas=model.num_betas,
                         intrinsics=read_intrinsics(out / "refined.npz"))  # fmt: skip
    _check_body(est, model, target)
    np.testing.assert_allclose(est.intrinsics[0], K)


def test_a_folder_of_meshes_shows_its_fitting_progress(tmp_path, model, capsys):
    """Each mesh is read by fitting the body model to it (0.2-0.5 s each): a folder of
    them shows a progress bar when asked, and nothing otherwise."""
    from jaxrefine.io import save_ply

    for i, body in enumerate(_bodies(model, 2, 11)):
        save_ply(tmp_path / "meshes" / f"a_{i}.ply", body, model.faces)
    kw = dict(image_size=lambda k: SIZE, model=model, num_betas=model.num_betas, intrinsics=K)
    read_estimates(tmp_path / "meshes", **kw)
    assert "fitting" not in capsys.readouterr().err
    est = read_estimates(tmp_path / "meshes", progress=True, **kw)
    assert len(est) == 2
    assert re.search(r"fitting the body model to the meshes: 100%.* 2/2", capsys.readouterr().err)
