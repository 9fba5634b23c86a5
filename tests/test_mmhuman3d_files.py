"""MMHuman3D's demo output (``demo/estimate_smpl.py --output DIR``: ``inference_result.npz``,
a HumanData dumped with ``np.savez_compressed``), written the way its code writes it: read as
SPIN's crop camera of the demo's square crop, the bodies landing where its renderer draws
them, refused by name when it is something else."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxrefine.body_model import forward, from_arrays
from jaxrefine.camera import focal_from_image_size
from jaxrefine.inputs import InputError, read_estimates
from jaxrefine.testing import make_smpl_size_arrays

SIZE = (480, 640)  # (h, w) of the demo's frames
BOX_SCALE = 1.25  # the demo's crop: box2cs(..., bbox_scale_factor=1.25) of the detection box
# The translation read back against the one the file was made from: the crop camera is its
# exact inverse (weak_perspective_to_full), computed in float64 from float32 values written
# by the demo (relative rounding ~6e-8 of ~6 m, a few operations)
TRANSL_TOL = 1e-5  # metres
# The body as read, through the camera as read, against the demo's drawing of its own
# vertices, mean pixel distance in units of the crop side: the demo draws with a 5000-pixel
# focal for a 224-pixel crop (nearly orthographic), jaxrefine with the photo's focal
# sqrt(w^2 + h^2) a few metres away; they agree at the body's depth, and the body's ~0.3 m
# of depth changes the scale of its far points by a few percent (a box misread by half its
# side is off by 0.5)
DRAWING_TOL = 0.04


@pytest.fixture(scope="module", params=["open", "smpl-size"])
def model(request):
    if request.param == "open":
        from jaxrefine.smpl_io import load_body_model

        return load_body_model()
    return from_arrays(make_smpl_size_arrays(0), model_id="s", gender="neutral", num_betas=10)


def _bodies(model, rng, n: int):
    """``n`` people a few metres in front of the camera: axis-angle pose (n, 24, 3), betas
    (n, 10), translation (n, 3), posed vertices without translation (n, V, 3)."""
    pose = rng.normal(0, 0.2, (n, 24, 3)).astype(np.float32)
    pose[:, 0] = [np.pi, 0, 0]  # upright in the camera frame (y down)
    betas = rng.normal(0, 0.7, (n, 10)).astype(np.float32)
    transl = np.column_stack([rng.uniform(-1, 1, n), rng.uniform(-0.5, 0.5, n),
                              rng.uniform(5, 8, n)])  # fmt: skip
    b = np.zeros((n, model.num_betas), np.float32)
    b[:, :10] = betas[:, : model.num_betas]
    verts = jax.vmap(lambda p, bb: forward(model, p, bb).vertices)(pose, b)
    return pose, betas, transl, np.asarray(verts)


def _demo_camera(verts, transl, rng):
    """The detection box (x0, y0, x1, y1, score) of a person drawn by the photo's camera
    (focal sqrt(w^2 + h^2), centred), with a detector's slack, and the crop camera
    [s, tx, ty] a regressor predicts for the demo's crop of that box (SPIN's: the inverse of
    weak_perspective_to_full)."""
    h, w = SIZE
    f, c = focal_from_image_size(h, w), np.array([w / 2.0, h / 2.0])
    p = verts + transl[:, None]
    uv = c + f * p[..., :2] / p[..., 2:3]
    lo, hi = uv.min(1), uv.max(1)
    slack = rng.uniform(-0.05, 0.05, (len(verts), 4)) * (hi - lo).max(1, keepdims=True)
    box = np.column_stack([lo + slack[:, :2], hi + slack[:, 2:], rng.uniform(0.99, 1, len(lo))])
    centre, side = (box[:, :2] + box[:, 2:4]) / 2, BOX_SCALE * (box[:, 2:4] - box[:, :2]).max(1)
    s = 2 * f / (transl[:, 2] * side)
    t = transl[:, :2] + (c - centre) * transl[:, 2:3] / f
    return box.astype(np.float32), np.column_stack([s, t]).astype(np.float32)


def _write_demo_file(path, pose, betas, verts, cam, box, names, person_id, frame_id) -> None:
    """``inference_result.npz`` as the demo writes it: per-estimate lists in a HumanData,
    ``smpl`` a dict, dumped with np.savez_compressed next to HumanData's own attributes."""
    smpl = {"body_pose": pose[:, 1:].reshape(-1, 23, 3), "global_orient": pose[:, 0],
            "betas": betas.reshape(-1, 10)}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path, __key_strict__=False, __temporal_len__=-1, __keypoints_compressed__=False,
        smpl=smpl, verts=list(verts), pred_cams=list(cam), bboxes_xyxy=list(box),
        image_path=[f"images/{n}" for n in names], person_id=list(person_id),
        frame_id=list(frame_id),
    )  # fmt: skip


def _their_drawing(verts, cam, box):
    """Where the demo's renderer (visualize_smpl_hmr) draws its vertices (N, V, 3): K1 K0
    (X + T), K0 the 224-pixel crop's intrinsics with focal 5000, K1 the crop square of
    side 1.25 max(w, h) around the box's centre (convert_bbox_to_intrinsic),
    T = (tx, ty, 2 * 5000 / (224 s))."""
    out = []
    for v, (s, tx, ty), (x0, y0, x1, y1, _) in zip(verts, cam, box, strict=True):
        big = BOX_SCALE * max(x1 - x0, y1 - y0)
        k0 = np.array([[5000.0, 0, 112], [0, 5000, 112], [0, 0, 1]])
        k1 = np.array([[big / 224, 0, (x0 + x1) / 2 - big / 2],
                       [0, big / 224, (y0 + y1) / 2 - big / 2], [0, 0, 1]])  # fmt: skip
        p = (k1 @ k0 @ (v + [tx, ty, 2 * 5000 / (224 * s)]).T).T
        out.append(p[:, :2] / p[:, 2:])
    return np.stack(out)


def _single_person_file(tmp_path, model, seed=0, n=3):
    rng = np.random.default_rng(seed)
    pose, betas, transl, verts = _bodies(model, rng, n)
    box, cam = _demo_camera(verts, transl, rng)
    names = [f"{i:06d}.png" for i in range(n)]
    f = tmp_path / "out" / "inference_result.npz"
    _write_demo_file(f, pose, betas, verts, cam, box, names, [0] * n, [2 * i for i in range(n)])
    return f, (pose, betas, transl, verts, cam, box)


def _size(_key):
    return SIZE


def test_single_person_demo_reads_as_its_crop_camera(tmp_path, model):
    """The single-person demo's file: every estimate goes to its image by name, one track
    (person_id 0), the parameters as written, the translation the regressor's crop camera
    stands for, and the body landing where the demo draws its own vertices."""
    f, (pose, betas, transl, verts, cam, box) = _single_person_file(tmp_path, model)
    est = read_estimates(f, image_size=_size, num_betas=model.num_betas, model=model)
    est = est.with_default_intrinsics(_size)
    assert est.fmt == "mmhuman3d" and list(est.frame) == ["000000", "000001", "000002"]
    assert est.track_id.tolist() == [0, 0, 0] and est.named_tracks
    np.testing.assert_allclose(est.pose, pose, atol=1e-6)
    np.testing.assert_allclose(est.betas[:, : min(10, model.num_betas)],
                               betas[:, : model.num_betas], atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(est.transl, transl, atol=TRANSL_TOL)
    drawn = _their_drawing(verts.astype(np.float64), cam.astype(np.float64), box)
    k = est.intrinsics
    for i in range(len(est)):
        p = np.asarray(forward(model, est.pose[i], est.betas[i], est.transl[i]).vertices)
        ours = k[i, 2:] + k[i, :2] * p[:, :2] / p[:, 2:3]
        side = BOX_SCALE * (box[i, 2:4] - box[i, :2]).max()
        miss = np.linalg.norm(ours - drawn[i], axis=1).mean() / side
        assert miss < DRAWING_TOL, miss


def test_multi_person_demo_keeps_the_trackers_ids(tmp_path, model):
    """The multi-person demo's rows: every tracked person of every frame, their tracker's
    ids as tracks, two people in one image."""
    rng = np.random.default_rng(1)
    pose, betas, transl, verts = _bodies(model, rng, 3)
    box, cam = _demo_camera(verts, transl, rng)
    f = tmp_path / "out" / "inference_result.npz"
    _write_demo_file(f, pose, betas, verts, cam, box, ["000000.png", "000000.png", "000001.png"],
                     [1, 4, 1], [0, 0, 1])  # fmt: skip
    est = read_estimates(f, image_size=_size, num_betas=model.num_betas, model=model)
    assert list(est.frame) == ["000000", "000000", "000001"]
    assert est.track_id.tolist() == [1, 4, 1]
    np.testing.assert_allclose(est.transl, transl, atol=TRANSL_TOL)


def test_a_camera_read_in_another_order_is_refused_by_its_own_vertices(tmp_path, model):
    """The demo's vertices through its camera must land on its box: the camera's numbers in
    another order (the scale last, or the translation first) are refused naming the file."""
    f, (pose, betas, transl, verts, cam, box) = _single_person_file(tmp_path, model, seed=2)
    names = [f"{i:06d}.png" for i in range(3)]
    for order in ([1, 2, 0], [2, 0, 1]):
        g = tmp_path / f"order{order[0]}" / "inference_result.npz"
        _write_demo_file(g, pose, betas, verts, np.abs(cam[:, order]) + 0.01, box, names,
                         [0] * 3, [0, 1, 2])  # fmt: skip
        miss = rf"order{order[0]}/inference_result.npz: .*vertices of estimate 0, drawn with"
        with pytest.raises(InputError, match=miss + " its camera, miss their box"):
            read_estimates(g, image_size=_size, model=model)
    # the same cameras as written pass (the check refuses the order, not the file)
    assert len(read_estimates(f, image_size=_size, model=model)) == 3
    # --speed_up_type: the frames between key frames keep the zero meshes the demo filled in
    # (their poses, cameras and boxes interpolated): left out of the check, read as written
    g = tmp_path / "speedup" / "inference_result.npz"
    zeros = verts.copy()
    zeros[1] = 0
    _write_demo_file(g, pose, betas, zeros, cam, box, names, [0] * 3, [0, 1, 2])
    np.testing.assert_allclose(read_estimates(g, image_size=_size, model=model).transl, transl,
                               atol=TRANSL_TOL)  # fmt: skip
    bad = cam.copy()
    bad[2] = np.abs(cam[2, [1, 2, 0]]) + 0.01  # after the zero mesh: named by its own index
    _write_demo_file(g, pose, betas, zeros, bad, box, names, [0] * 3, [0, 1, 2])
    with pytest.raises(InputError, match=r"speedup/inference_result.npz: .*estimate 2, drawn"):
        read_estimates(g, image_size=_size, model=model)


def test_smplx_output_and_damaged_entries_are_refused_by_name(tmp_path, model):
    """MMHuman3D's SMPL-X HumanData, a body dict without betas, degenerate boxes and
    non-finite cameras: one line naming the file and what is wrong."""
    f, (pose, betas, transl, verts, cam, box) = _single_person_file(tmp_path, model, seed=3)
    base = dict(np.load(f, allow_pickle=True))
    base["smpl"] = base["smpl"].item()

    def refused(name, match, **change):
        p = tmp_path / name / "inference_result.npz"
        p.parent.mkdir()
        np.savez_compressed(p, **{k: v for k, v in {**base, **change}.items() if v is not None})
        with pytest.raises(InputError, match=rf"{name}/inference_result.npz: .*{match}"):
            read_estimates(p, image_size=_size, model=model)

    refused("smplx", r"MMHuman3D's SMPL-X output", smpl=None, smplx=base["smpl"])
    refused("nobetas", r"MMHuman3D's 'smpl' lacks betas",
            smpl={k: v for k, v in base["smpl"].items() if k != "betas"})  # fmt: skip
    refused("flat", r"boxes must have positive sizes", bboxes_xyxy=box[:, [0, 1, 0, 3, 4]])
    refused("nan", r"pred_cams holds NaN", pred_cams=np.where(cam > 0, np.nan, cam))
    refused("verts", r"'verts' must be \(N, V, 3\)", verts=verts[:2])


def test_demo_output_plans_a_run(tmp_path, plan_run):
    """The demo's output folder end to end up to the fit (``dry_run``): its ``images/``
    with its ``inference_result.npz``."""
    import imageio.v3 as iio

    from jaxrefine.smpl_io import load_body_model

    f, _ = _single_person_file(tmp_path, load_body_model(), seed=4)
    for i in range(3):
        (tmp_path / "out" / "images").mkdir(exist_ok=True)
        iio.imwrite(tmp_path / "out" / "images" / f"{i:06d}.png", np.zeros((*SIZE, 3), np.uint8))
    got = plan_run(tmp_path / "out" / "images", f, tmp_path / "refined")
    p = got["plan"]
    assert (p["estimates"], p["tracks"], p["images_with_people"]) == (3, 1, 3)
    assert got["settings"]["estimates_format"] == "mmhuman3d"
    assert not (tmp_path / "refined").exists()
