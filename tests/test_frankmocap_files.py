"""FrankMocap's body module output, built the way its code builds it (SPIN's regressor, its
``s * X + t`` crop camera, ``pickle.dump`` with a PyTorch tensor inside): read as SMPL
parameters whose full-image camera draws the body where FrankMocap drew it, checked against
its drawing of the joints, refused by name when it is something else."""

from __future__ import annotations

import pickle
from collections import OrderedDict

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from jaxrefine.inputs import InputError, read_estimates
from jaxrefine.inputs.frankmocap_files import FRANKMOCAP_JOINT_TOL, OPENPOSE_FROM_SMPL

torch = pytest.importorskip("torch", reason="torch (extra 'ref') writes FrankMocap's tensor")
pytestmark = pytest.mark.ref

SIZE = (480, 640)  # (h, w) of the images FrankMocap read
# the body origin (X = 0) lies at the camera's depth: weak and full perspective agree there
# but for the float32 translation's rounding (6e-8 relative) of offsets of a few hundred px
ORIGIN_PIXEL_TOL = 1e-4
# the other joints are up to ~0.4 m nearer or farther than the origin at ~6-9 m: a full
# perspective camera draws them up to ~6 % off FrankMocap's orthographic drawing (mean <= 3 %)
JOINT_SHARE_TOL = 0.03


def _draw(points, cam, top_left, ratio, size, trans_first=False):
    """FrankMocap's drawing (convert_smpl_to_bbox, then convert_bbox_to_oriIm), written from
    its code: model-frame points -> pixels from the image centre; ``trans_first`` draws with
    the hand module's (and SPIN's) order instead."""
    x = np.array(points, np.float64)
    if trans_first:
        x[:, :2] += cam[1:]
        x *= cam[0]
    else:
        x *= cam[0]
        x[:, :2] += cam[1:]
    x *= 112.0
    x /= ratio
    h, w = size
    x[:, :2] += top_left - np.array([w, h]) * 0.5 + 112.0 / ratio
    return x


def _person(model, rng, box, size=SIZE):
    """One entry of pred_output_list: a random upright body, its camera, its crop and its
    joints as FrankMocap draws them (SPIN's 49: OpenPose 1-14 from SMPL's joints, the others
    stand-ins: vertex joints)."""
    from jaxrefine.body_model import posed_joints

    pose = rng.normal(0, 0.2, (24, 3))
    pose[0] = Rotation.from_euler("x", np.pi + rng.normal(0, 0.1)).as_rotvec()
    betas = rng.normal(0, 0.5, 10)
    x, y, w, h = box
    centre, scale = np.array([x + w / 2, y + h / 2]), max(w, h) / 200 * 1.2  # bbox_from_bbr
    ratio, top_left = 224 / (200 * scale), centre - 100 * scale  # crop_bboxInfo
    cam = np.array([rng.uniform(0.8, 1.0), *rng.uniform(-0.3, 0.3, 2)], np.float32)
    joints = np.asarray(posed_joints(model, pose.astype(np.float32),
                                     betas[:model.num_betas].astype(np.float32)))  # fmt: skip
    spin49 = np.zeros((49, 3))
    spin49[1:15] = joints[list(OPENPOSE_FROM_SMPL)]
    spin49[15:] = rng.normal(0, 0.3, (34, 3))
    rotmat = Rotation.from_rotvec(pose).as_matrix()[None].astype(np.float32)
    return {
        "img_cropped": np.zeros((224, 224, 3), np.uint8),
        "pred_joints_img": _draw(spin49, cam, top_left, ratio, size).astype(np.float32),
        "pred_body_pose": Rotation.from_matrix(rotmat[0]).as_rotvec().reshape(1, 72),
        "pred_rotmat": rotmat, "pred_betas": betas[None].astype(np.float32),
        "pred_camera": cam, "bbox_top_left": top_left, "bbox_scale_ratio": ratio,
        "faces": np.zeros((4, 3), np.int64), "bbox_scale": scale, "bbox_center": centre,
        "img_cropped_norm": torch.zeros(1, 3, 4, 4),
    }, pose, joints  # fmt: skip


def _write(path, people, image="/data/run/img_0.jpg", smpl_type="smpl", demo_type="body"):
    """save_pred_to_pkl: an OrderedDict of the run and its people (no mesh: --save_mesh off)."""
    data = OrderedDict(demo_type=demo_type, smpl_type=smpl_type, image_path=image,
                       body_bbox_list=[np.array([1, 2, 3, 4])] * len(people),
                       hand_bbox_list=[None] * len(people), save_mesh=False,
                       pred_output_list=people)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(data))


def _project(est, i, joints):
    """The estimate's body joints (model frame) drawn by its full-image pinhole camera, in
    pixels from the image centre (no intrinsics in the file: the reader's default, focal
    sqrt(w^2 + h^2) at the image centre)."""
    X = joints + est.transl[i]
    h, w = SIZE
    f = np.hypot(w, h)
    assert np.all(np.isnan(est.intrinsics[i]))
    return np.column_stack([f * X[:, 0] / X[:, 2], f * X[:, 1] / X[:, 2]])


def test_frankmocap_output_draws_the_body_where_frankmocap_did(tmp_path):
    """Two people of one image: rotations and betas as written, and a camera that draws the
    body origin exactly where FrankMocap's weak-perspective camera does and the joints within
    perspective's difference from its drawing; the file names its image."""
    from jaxrefine.smpl_io import load_body_model

    model, rng = load_body_model(), np.random.default_rng(0)
    people = [_person(model, rng, box) for box in ((100, 60, 150, 380), (380, 120, 120, 300))]
    _write(tmp_path / "mocap" / "img_0_prediction_result.pkl", [p for p, _, _ in people])
    est = read_estimates(tmp_path / "mocap" / "img_0_prediction_result.pkl",
                         image_size=lambda k: SIZE, model=model)  # fmt: skip
    assert len(est) == 2 and est.fmt == "frankmocap" and list(est.frame) == ["img_0", "img_0"]
    for i, (p, pose, joints) in enumerate(people):
        np.testing.assert_allclose(est.global_orient[i], pose[0], atol=1e-5)
        np.testing.assert_allclose(est.body_pose[i], pose[1:], atol=1e-5)
        np.testing.assert_allclose(est.betas[i], p["pred_betas"][0, : model.num_betas])
        origin = _draw(np.zeros((1, 3)), p["pred_camera"], p["bbox_top_left"],
                       p["bbox_scale_ratio"], SIZE)[0, :2]  # fmt: skip
        ours = _project(est, i, np.zeros((1, 3)))[0]
        np.testing.assert_allclose(ours, origin, atol=ORIGIN_PIXEL_TOL)
        spin_order = _draw(np.zeros((1, 3)), p["pred_camera"], p["bbox_top_left"],
                           p["bbox_scale_ratio"], SIZE, trans_first=True)[0, :2]  # fmt: skip
        assert np.abs(spin_order - ours).max() > 0.5  # the order of scale and shift shows
        theirs = p["pred_joints_img"][1:15, :2]
        ours = _project(est, i, joints[list(OPENPOSE_FROM_SMPL)])
        extent = np.linalg.norm(np.ptp(theirs, axis=0))
        assert np.linalg.norm(ours - theirs, axis=1).mean() / extent < JOINT_SHARE_TOL


def test_a_folder_of_frankmocap_files(tmp_path):
    """The mocap folder: each file's people to the image its image_path names; FrankMocap's
    output folder above it is refused with a hint naming it."""
    from jaxrefine.smpl_io import load_body_model

    model, rng = load_body_model(), np.random.default_rng(1)
    for k, n in ((0, 1), (1, 2)):
        people = [_person(model, rng, (100 + 200 * j, 60, 150, 380))[0] for j in range(n)]
        _write(tmp_path / "mocap" / f"f{k}_prediction_result.pkl", people + [None],
               image=f"/x/frames/f{k}.jpg")  # fmt: skip
    est = read_estimates(tmp_path / "mocap", image_size=lambda k: SIZE, model=model)
    assert list(est.frame) == ["f0", "f1", "f1"] and len(set(est.track_id.tolist())) == 3
    (tmp_path / "rendered").mkdir()  # FrankMocap's output folder given instead: named
    with pytest.raises(InputError, match="its subfolder mocap/ holds 2: give that folder"):
        read_estimates(tmp_path, image_size=lambda k: SIZE, model=model)


def test_frankmocap_files_refused_by_name(tmp_path):
    """SMPL-X output, a file without people, another image size than FrankMocap read, a read
    without the body model: each named."""
    from jaxrefine.smpl_io import load_body_model

    model, rng = load_body_model(), np.random.default_rng(2)
    good = [_person(model, rng, (100, 60, 150, 380))[0]]
    f = tmp_path / "a_prediction_result.pkl"
    read = lambda **kw: read_estimates(f, image_size=lambda k: kw.get("size", SIZE),  # noqa: E731
                                       model=kw.get("model", model))  # fmt: skip
    _write(f, good, smpl_type="smplx", demo_type="frank")
    with pytest.raises(InputError, match="FrankMocap's 'frank' output of 'smplx' bodies"):
        read()
    _write(f, [None])
    with pytest.raises(InputError, match="FrankMocap found nobody in /data/run/img_0.jpg"):
        read()
    _write(f, good)
    assert len(read()) == 1
    with pytest.raises(InputError, match=r"joints \('pred_joints_img'\) are \d+% of the body's "
                       f"size \\(at most {FRANKMOCAP_JOINT_TOL:.0%}\\)"):  # fmt: skip
        read(size=(720, 1280))
    with pytest.raises(InputError, match="checked against its joints with the body model"):
        read_estimates(f, image_size=lambda k: SIZE)
    damaged = {"pred_joints_img": np.zeros((10, 3)), "pred_camera": [0.9, np.nan, 0.0],
               "bbox_scale_ratio": -1.0, "pred_rotmat": np.zeros((1, 23, 3, 3))}  # fmt: skip
    for key, value in damaged.items():
        _write(f, [{**good[0], key: value}])
        with pytest.raises(InputError, match=str(f)):
            read()
    _write(f, [])
    data = pickle.loads(f.read_bytes())
    f.write_bytes(pickle.dumps({**data, "pred_output_list": 5}))
    with pytest.raises(InputError, match="'pred_output_list' must be a list of people"):
        read()


def test_frankmocap_output_plans_a_run(tmp_path, plan_run):
    """The mocap folder with the images FrankMocap read, end to end up to the fit
    (``dry_run``): its people, their images and the format."""
    import imageio.v3 as iio

    from jaxrefine.smpl_io import load_body_model

    model, rng = load_body_model(), np.random.default_rng(3)
    (tmp_path / "images").mkdir()
    for k, n in ((0, 2), (1, 1)):
        iio.imwrite(tmp_path / "images" / f"img_{k}.jpg", np.zeros((*SIZE, 3), np.uint8))
        people = [_person(model, rng, (100 + 250 * j, 60, 150, 380))[0] for j in range(n)]
        _write(tmp_path / "mocap" / f"img_{k}_prediction_result.pkl", people,
               image=f"/run/images/img_{k}.jpg")  # fmt: skip
    got = plan_run(tmp_path / "images", tmp_path / "mocap", tmp_path / "out")
    p = got["plan"]
    assert (p["estimates"], p["tracks"], p["images_with_people"]) == (3, 3, 2)
    assert got["settings"]["estimates_format"] == "frankmocap" and not (tmp_path / "out").exists()
