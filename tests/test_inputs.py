"""Readers of user inputs: estimates in regressors' formats, keypoint JSON, images, intrinsics."""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from jaxrefine.inputs import (
    Estimates,
    InputError,
    read_estimates,
    read_images,
    read_intrinsics,
    read_keypoints,
)

# Axis-angle -> matrix -> axis-angle in float32 loses about 1e-6 rad; 1e-5 leaves margin.
ROTATION_TOL = 1e-5
# Crop-camera conversion is exact for points at the body's depth plane (z = 0), up to float32.
PIXEL_TOL = 1e-3
# WHAM's float32 vertices against the body re-posed from its float32 parameters, projected at
# focal ~1,470 px and 4-8 m: float32 posing differs by ~1e-6 m, about 1e-3 px
WHAM_PIXEL_TOL = 5e-3
# JPEG (quality 95) or H.264 of hard colour blocks: ringing along the edges, a few levels on
# average (4.1 and 0.5 measured); a picture turned the wrong way is off by about 45-60 (the
# blocks land on other pixels)
LOSSY_MEAN_TOL = 6.0


def _params(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "global_orient": rng.normal(0, 0.5, (n, 3)).astype(np.float32),
        "body_pose": rng.normal(0, 0.3, (n, 69)).astype(np.float32),
        "betas": rng.normal(0, 1, (n, 10)).astype(np.float32),
        "transl": np.tile([0.0, 0.2, 5.0], (n, 1)).astype(np.float32),
    }


def test_axis_angle_npz_round_trip(tmp_path):
    p = _params()
    np.savez(tmp_path / "est.npz", **p, frame=np.arange(3), track_id=np.array([0, 1, 1]))
    est = read_estimates(tmp_path / "est.npz")
    np.testing.assert_allclose(est.global_orient, p["global_orient"])
    np.testing.assert_allclose(est.body_pose.reshape(3, 69), p["body_pose"])
    assert est.pose.shape == (3, 24, 3) and list(est.track_id) == [0, 1, 1]
    assert np.all(np.isnan(est.intrinsics))
    filled = est.with_default_intrinsics(lambda i: (480, 640))
    np.testing.assert_allclose(filled.intrinsics[0], [800.0, 800.0, 320.0, 240.0])


def test_rotation_matrices_and_4dhumans_nesting(tmp_path):
    p = _params()
    pose = np.concatenate([p["global_orient"], p["body_pose"]], 1).reshape(3, 24, 3)
    R = Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix().reshape(3, 24, 3, 3)
    smpl = {"global_orient": R[:, :1], "body_pose": R[:, 1:], "betas": p["betas"]}
    with open(tmp_path / "hmr2.pkl", "wb") as fh:
        pickle.dump({"smpl_params": smpl, "transl": p["transl"]}, fh)
    est = read_estimates(tmp_path / "hmr2.pkl")
    expect = Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix()
    got = Rotation.from_rotvec(est.pose.reshape(-1, 3)).as_matrix()
    np.testing.assert_allclose(got, expect, atol=ROTATION_TOL)
    np.savez(tmp_path / "spin.npz", pred_rotmat=R, pred_betas=p["betas"], cam_t=p["transl"])
    est2 = read_estimates(tmp_path / "spin.npz")
    np.testing.assert_allclose(est2.pose, est.pose, atol=ROTATION_TOL)


@pytest.mark.parametrize("style", ["hmr2", "spin", "hmr2-user-intrinsics"])
def test_crop_camera_matches_hand_computed_projection(tmp_path, style):
    p = _params(n=1)
    s, tx, ty = 0.9, 0.05, 0.2
    centre, size, (h, w) = np.array([300.0, 200.0]), 180.0, (480, 640)
    box = (
        {"box_center": centre[None], "box_size": np.array([size])}
        if style.startswith("hmr2")
        else {"center": centre[None], "scale": np.array([size / 200.0])}
    )
    # an off-centre principal point (the user's) must move the body, not the crop
    user = (900.0, 900.0, 300.0, 260.0) if style == "hmr2-user-intrinsics" else None
    np.savez(
        tmp_path / "e.npz",
        pose=np.zeros((1, 72)),
        betas=p["betas"],
        pred_cam=np.array([[s, tx, ty]]),
        **box,
    )
    est = read_estimates(tmp_path / "e.npz", image_size=lambda i: (h, w), intrinsics=user)
    est = est.with_default_intrinsics(lambda i: (h, w))
    fx, fy, cx, cy = est.intrinsics[0]
    assert user is None or tuple(est.intrinsics[0]) == user
    X = np.array([[0.3, -0.4, 0.0], [-0.2, 0.5, 0.0]])  # points at the body's depth plane
    Xc = X + est.transl[0]
    proj = np.stack([fx * Xc[:, 0] / Xc[:, 2] + cx, fy * Xc[:, 1] / Xc[:, 2] + cy], 1)
    regressor = centre + size / 2.0 * s * (X[:, :2] + np.array([tx, ty]))  # crop -> full px
    np.testing.assert_allclose(proj, regressor, atol=PIXEL_TOL)


def test_crop_boxes_centred_outside_their_images_are_named(tmp_path):
    """SPIN's boxes of two people in a 640x480 image, one centred past its right edge (made
    on frames of another size): a CameraWarning names how many, the first and its image; the
    estimates are read as given."""
    from jaxrefine.camera import CameraWarning

    p = _params(n=2)
    np.savez(tmp_path / "e.npz", pose=np.zeros((2, 72)), betas=p["betas"],
             pred_cam=np.array([[0.9, 0.0, 0.2]] * 2), center=np.array([[300.0, 200], [700, 200]]),
             scale=np.array([0.9, 0.9]))  # fmt: skip
    with pytest.warns(CameraWarning) as caught:
        est = read_estimates(tmp_path / "e.npz", image_size=lambda i: (480, 640))
    assert [str(w.message) for w in caught] == [
        f"{tmp_path / 'e.npz'}: 1 of the 2 crop boxes are centred outside their image (e.g. "
        "estimate 1: (700, 200) in 640x480 px): were they made on frames of another size (a "
        "video's full-size frames, given resized? a photo in its other orientation?) The "
        "bodies are then drawn away from their people"
    ]
    assert len(est) == 2 and np.all(np.isfinite(est.transl))


def test_bedlam_and_camerahmr_labels_read_in_the_camera_frame(tmp_path):
    """Training labels as BEDLAM's and CameraHMR's loaders read them (CameraHMR's
    ``dataset_train.py`` / ``dataset_vis.py``): ``pose_cam`` (not the world ``pose`` beside
    it), ``shape``, ``cam_int`` and ``trans_cam`` plus ``cam_ext``'s translation."""
    p, rng = _params(), np.random.default_rng(1)
    K = np.tile([[1400.0, 0, 955], [0, 1400, 530], [0, 0, 1]], (3, 1, 1))
    ext = np.tile(np.eye(4), (3, 1, 1))
    ext[:, :3, :3] = np.linalg.qr(rng.normal(size=(3, 3, 3)))[0]  # BEDLAM's world camera
    ext[:, :3, 3] = [[0.1, -0.2, 0.3]] * 3
    pose_cam = np.concatenate([p["global_orient"], p["body_pose"]], 1)
    labels = {"imgname": np.array([f"aic-train/img_{k}.jpg" for k in range(3)]),
              "center": rng.uniform(300, 900, (3, 2)), "scale": np.full(3, 2.5),
              "pose_cam": pose_cam, "pose": pose_cam + 1.0, "shape": p["betas"],
              "trans_cam": p["transl"], "cam_int": K, "cam_ext": ext,
              "gtkps": rng.uniform(0, 900, (3, 44, 3))}  # fmt: skip
    np.savez(tmp_path / "bedlam.npz", **labels)
    est = read_estimates(tmp_path / "bedlam.npz")
    np.testing.assert_allclose(est.pose.reshape(3, 72), pose_cam, atol=1e-6)
    np.testing.assert_allclose(est.transl, p["transl"] + [0.1, -0.2, 0.3], atol=1e-6)
    np.testing.assert_allclose(est.intrinsics, [[1400, 1400, 955, 530]] * 3)
    assert list(est.frame) == ["img_0", "img_1", "img_2"]
    del labels["cam_ext"]  # CameraHMR's 4D-Humans labels: trans_cam alone (dataset_vis.py)
    np.savez(tmp_path / "camerahmr.npz", **labels)
    np.testing.assert_allclose(read_estimates(tmp_path / "camerahmr.npz").transl, p["transl"])


def _project(k, transl, X):
    fx, fy, cx, cy = k
    Xc = X + transl
    return np.stack([fx * Xc[:, 0] / Xc[:, 2] + cx, fy * Xc[:, 1] / Xc[:, 2] + cy], 1)


def test_pred_cam_t_full_gets_4dhumans_focal(tmp_path):
    # 4D-Humans' demo.py: pred_cam_t_full = cam_crop_to_full(..., 5000 / 256 * max(h, w)); read
    # with sqrt(w^2 + h^2) (2,203 px for 1920x1080, not 37,500) the body would land ~17x smaller
    from jaxrefine.camera import weak_perspective_to_full

    (h, w), s, tx, ty = (1080, 1920), 0.8, 0.1, 0.3
    centre, size = np.array([1200.0, 500.0]), 600.0
    f = 5000.0 / 256.0 * max(h, w)
    t = np.asarray(weak_perspective_to_full(s, tx, ty, centre, size, (h, w), f).t)
    np.savez(tmp_path / "hmr2.npz", pose=np.zeros((1, 72)), betas=np.zeros((1, 10)),
             pred_cam_t_full=t[None])  # fmt: skip
    est = read_estimates(tmp_path / "hmr2.npz").with_default_intrinsics(lambda i: (h, w))
    assert est.focal_rule == "hmr2"
    np.testing.assert_allclose(est.intrinsics[0], [f, f, w / 2, h / 2], rtol=1e-6)
    X = np.array([[0.3, -0.4, 0.0], [-0.2, 0.5, 0.0]])
    crop = centre + size / 2.0 * s * (X[:, :2] + np.array([tx, ty]))  # 4D-Humans' crop pixels
    np.testing.assert_allclose(_project(est.intrinsics[0], est.transl[0], X), crop, atol=PIXEL_TOL)
    # a file that gives its focal keeps it (and a plain 'transl' keeps the paper's rule)
    np.savez(tmp_path / "f.npz", pose=np.zeros((1, 72)), betas=np.zeros((1, 10)),
             pred_cam_t_full=t[None], focal_length=np.array([1234.0]))  # fmt: skip
    est = read_estimates(tmp_path / "f.npz").with_default_intrinsics(lambda i: (h, w))
    np.testing.assert_allclose(est.intrinsics[0], [1234.0, 1234.0, w / 2, h / 2])
    np.savez(tmp_path / "t.npz", pose=np.zeros((1, 72)), betas=np.zeros((1, 10)), transl=t[None])
    assert read_estimates(tmp_path / "t.npz").focal_rule == "diagonal"


def test_estimate_errors_name_file_and_key(tmp_path):
    p = _params()
    np.savez(tmp_path / "nopose.npz", betas=p["betas"], transl=p["transl"])
    with pytest.raises(InputError, match="nopose.npz.*no SMPL pose"):
        read_estimates(tmp_path / "nopose.npz")
    np.savez(tmp_path / "bad.npz", **{**p, "body_pose": np.zeros((3, 50))})
    with pytest.raises(InputError, match="'body_pose' has shape"):
        read_estimates(tmp_path / "bad.npz")
    np.savez(tmp_path / "count.npz", **{**p, "betas": np.zeros((2, 10))})
    with pytest.raises(InputError, match="disagree|shape"):
        read_estimates(tmp_path / "count.npz")
    np.savez(tmp_path / "nan.npz", **{**p, "transl": np.full((3, 3), np.nan)})
    with pytest.raises(InputError, match="'transl' holds NaN"):
        read_estimates(tmp_path / "nan.npz")
    np.savez(
        tmp_path / "crop.npz", pose=np.zeros((3, 72)), betas=p["betas"], pred_cam=np.ones((3, 3))
    )
    with pytest.raises(InputError, match="needs its box"):
        read_estimates(tmp_path / "crop.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="broken.npz"):
        read_estimates(tmp_path / "broken.npz")
    with pytest.raises(InputError, match="no such estimates file"):
        read_estimates(tmp_path / "missing.npz")


def test_a_body_pose_in_degrees_is_refused_naming_the_joint(tmp_path):
    """Axis-angle in degrees (joint 5 of estimate 1 at 40 degrees); a joint just within a turn
    and a global orientation past one (unwrapped along a video) are read."""
    p = _params()
    deg = {**p, "body_pose": np.degrees(p["body_pose"])}
    deg["body_pose"][:, :] = 0.1
    deg["body_pose"][1, 12:15] = [0.0, 40.0, 0.0]
    np.savez(tmp_path / "deg.npz", **deg)
    with pytest.raises(InputError) as caught:
        read_estimates(tmp_path / "deg.npz")
    assert str(caught.value) == (
        f"{tmp_path / 'deg.npz'}: the body pose has a joint rotated by 40 (estimate 1, joint 5); "
        "axis-angle in radians is expected, a joint's within a turn (2 pi): degrees? "
        "(np.radians converts them)"
    )
    ok = {**p, "global_orient": np.tile([0.0, 0.0, 9.0], (3, 1)).astype(np.float32)}
    ok["body_pose"][0, :3] = [0.0, 2 * np.pi - 1e-3, 0.0]
    np.savez(tmp_path / "ok.npz", **ok)
    assert len(read_estimates(tmp_path / "ok.npz")) == 3


def test_smplx_and_smplh_estimates_are_refused_by_name(tmp_path):
    """An SMPL-X / SMPL+H file was read by its shared keys (a 69-value body pose beside
    SMPL-X's face and hands) or refused as a bad shape (their 21-joint body pose): both now
    say which body it is."""
    p = _params()
    np.savez(tmp_path / "smplx.npz", **p, jaw_pose=np.zeros((3, 3)), expression=np.zeros((3, 10)))
    with pytest.raises(InputError, match=r"smplx.npz: holds jaw_pose, expression: an SMPL-X or "
                       r"SMPL\+H body.*transfer_model"):  # fmt: skip
        read_estimates(tmp_path / "smplx.npz")
    np.savez(tmp_path / "smplh.npz", **{**p, "body_pose": np.zeros((3, 21, 3, 3)) + np.eye(3)})
    with pytest.raises(InputError, match="smplh.npz: has a 21-joint 'body_pose'"):
        read_estimates(tmp_path / "smplh.npz")
    np.savez(tmp_path / "smplh63.npz", **{**p, "body_pose": np.zeros((3, 63))})
    with pytest.raises(InputError, match="smplh63.npz: has a 21-joint 'body_pose'"):
        read_estimates(tmp_path / "smplh63.npz")
    for name, poses, body in (("amass", np.zeros((3, 156)), r"SMPL\+H"),
                              ("smplx_full", np.zeros((3, 55, 3, 3)), "SMPL-X")):  # fmt: skip
        np.savez(tmp_path / f"{name}.npz", poses=poses, betas=np.zeros((3, 16)),
                 trans=np.zeros((3, 3)))  # fmt: skip
        with pytest.raises(InputError, match=rf"{name}.npz: 'poses' holds \d\d joints' "
                           rf"rotations: an {body} body"):  # fmt: skip
            read_estimates(tmp_path / f"{name}.npz")
    np.savez(tmp_path / "humor.npz", root_orient=np.zeros((3, 3)), pose_body=np.zeros((3, 63)),
             betas=np.zeros((3, 16)), trans=np.zeros((3, 3)))  # fmt: skip
    with pytest.raises(InputError, match=r"humor.npz: holds pose_body: an SMPL-X or SMPL\+H"):
        read_estimates(tmp_path / "humor.npz")
    np.savez(tmp_path / "smpl.npz", **p)  # SMPL's own: read
    assert read_estimates(tmp_path / "smpl.npz").body_pose.shape == (3, 23, 3)


def test_pickle_that_runs_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    with open(tmp_path / "evil.pkl", "wb") as fh:
        pickle.dump({"pose": Evil()}, fh)
    with pytest.raises(InputError, match="refusing to load builtins.print"):
        read_estimates(tmp_path / "evil.pkl")


def test_betas_padding_and_refusal(tmp_path):
    p = _params()
    np.savez(tmp_path / "e.npz", **p)
    assert read_estimates(tmp_path / "e.npz", num_betas=16).betas.shape == (3, 16)
    with pytest.raises(InputError, match="10 betas given but the body model has 8"):
        read_estimates(tmp_path / "e.npz", num_betas=8)


def test_openpose_and_coco_keypoints(tmp_path):
    folder = tmp_path / "op"
    folder.mkdir()
    person = np.arange(75, dtype=float)
    person[2::3] = np.linspace(0.04, 1.0, 25)  # confidences
    (folder / "img_001_keypoints.json").write_text(
        json.dumps({"people": [{"pose_keypoints_2d": person.tolist()}]})
    )
    (folder / "img_002_keypoints.json").write_text(json.dumps({"people": []}))
    missing = person.copy()
    missing[9:12] = [0.0, 0.0, 0.7]  # a missing joint written with a confidence
    (folder / "img_003_keypoints.json").write_text(
        json.dumps({"people": [{"pose_keypoints_2d": missing.tolist()}]})
    )
    kp = read_keypoints(folder)
    assert kp.set_name == "body25" and kp.people("img_001").shape == (1, 25, 3)
    assert kp.people("img_002").shape == (0, 25, 3)
    conf = kp.people("img_003")[0, :, 2]
    assert conf[3] == 0  # never at (0, 0)
    np.testing.assert_array_equal(conf[[0, 1, 2, 4]], missing[[2, 5, 8, 14]].astype(np.float32))
    coco = {
        "images": [{"id": 7, "file_name": "a/photo.jpg"}],
        "annotations": [{"image_id": 7, "keypoints": [1.0, 2.0, 2] * 17, "num_keypoints": 17}],
    }
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    ck = read_keypoints(tmp_path / "coco.json")
    assert ck.set_name == "coco17" and ck.people("photo").shape == (1, 17, 3)
    assert np.all(ck.people("photo")[0, :, 2] == 1.0)
    (tmp_path / "short.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": [1, 2]}]}))
    with pytest.raises(InputError, match="short.json people\\[0\\].*75 numbers"):
        read_keypoints(tmp_path / "short.json")
    (tmp_path / "three.json").write_text(json.dumps({"people": [3]}))
    with pytest.raises(InputError, match=r"three.json people\[0\] has no 'pose_keypoints_2d'"):
        read_keypoints(tmp_path / "three.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(InputError, match="junk.json: not a JSON file"):
        read_keypoints(tmp_path / "junk.json")
    scaled = np.random.default_rng(0).uniform(0, 1, (25, 3))  # OpenPose's --keypoint_scale 3
    (tmp_path / "scaled.json").write_text(
        json.dumps({"people": [{"pose_keypoints_2d": scaled.ravel().tolist()}]})
    )
    message = r"scaled.json: every keypoint lies within \[-1.5, 1.5\]: normalised coordinates"
    with pytest.raises(InputError, match=message + r" \(OpenPose's --keypoint_scale 3 or 4\?\)"):
        read_keypoints(tmp_path / "scaled.json")


def test_openpose_confidences_on_another_scale_are_clipped_and_named(tmp_path):
    """OpenPose confidences are fractions of 1: a pose model's overshoot (1.1) is clipped to 1
    without a word; percentages (up to 90) and negative values (logits) are clipped to
    [0, 1] with a warning naming the file and their range."""
    person = np.arange(75, dtype=float)
    person[2::3] = np.linspace(0.0, 1.1, 25)
    (tmp_path / "over.json").write_text(json.dumps({"people": [{"pose_keypoints_2d":
                                                                 person.tolist()}]}))  # fmt: skip
    conf = read_keypoints(tmp_path / "over.json").people("over")[0, :, 2]
    assert conf.max() == 1.0 and conf[10] == pytest.approx(1.1 * 10 / 24)
    for name, scale, shift, said in (("percent", 90 / 1.1, 0.0, "from 0 to 90"),
                                     ("logits", 1.0, -0.5, "from -0.5 to 0.6")):  # fmt: skip
        values = person.copy()
        values[2::3] = person[2::3] * scale + shift
        doc = {"people": [{"pose_keypoints_2d": values.tolist()}]}
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
        with pytest.warns(UserWarning) as caught:
            conf = read_keypoints(tmp_path / f"{name}.json").people(name)[0, :, 2]
        assert [str(w.message) for w in caught] == [
            f"{tmp_path / name}.json: OpenPose confidences {said}, not fractions of 1 (percent? "
            "a detector's unnormalised scores?): they are clipped to [0, 1], so every keypoint "
            "at 1 or more counts as sure and none below 0 counts; divide them by their scale to "
            "keep their weighting"
        ]
        assert conf.min() == 0.0 and conf.max() == pytest.approx(min(1.0, 1.1 * scale + shift))


def test_a_coco_results_lists_image_ids_are_named_by_an_images_file(tmp_path):
    pts = (np.arange(51) % 7 + 1.0).tolist()
    (tmp_path / "res.json").write_text(json.dumps([{"image_id": 11, "keypoints": pts,
                                                    "score": 0.9}]))  # fmt: skip
    (tmp_path / "ann.json").write_text(json.dumps({"images": [{"id": 11, "file_name":
                                                               "sub/clip_a.jpg"}]}))  # fmt: skip
    assert list(read_keypoints(tmp_path / "res.json").frames) == ["11"]
    named = read_keypoints(tmp_path / "res.json", tmp_path / "ann.json")
    assert list(named.frames) == ["clip_a"] and named.people("clip_a").shape == (1, 17, 3)
    (tmp_path / "op.json").write_text(json.dumps({"people": []}))
    with pytest.raises(InputError, match=r"ann.json: image names are for a COCO results list"
                       r".*op.json is openpose"):  # fmt: skip
        read_keypoints(tmp_path / "op.json", tmp_path / "ann.json")
    assert read_keypoints(tmp_path / "op.json", tmp_path / "ann.json", only_results=False)
    (tmp_path / "bad.json").write_text(json.dumps({"images": [{"id": 11}]}))
    with pytest.raises(InputError, match=r"bad.json: expected a COCO file with an 'images' list"):
        read_keypoints(tmp_path / "res.json", tmp_path / "bad.json")


def test_openpose_coco_model_files_are_read_as_body25(tmp_path):
    """OpenPose's older COCO model: 18 points (here under the older key ``pose_keypoints``)
    land at their BODY_25 places by name; the mid hip and the feet are missing (0)."""
    from jaxrefine.keypoints import OPENPOSE_COCO18, joint_names

    person = np.stack([np.arange(18) * 10.0, np.arange(18) + 100.0, np.full(18, 0.75)], 1)
    (tmp_path / "old.json").write_text(json.dumps({"people": [{"pose_keypoints": person.ravel()
                                                                .tolist()}]}))  # fmt: skip
    (got,) = read_keypoints(tmp_path / "old.json").people("old")
    names = joint_names("body25")
    for k, name in enumerate(OPENPOSE_COCO18):
        np.testing.assert_array_equal(got[names.index(name)], person[k])
    assert names.index("left_ear") == 18 and names.index("right_hip") == 9  # the layout
    missing = [i for i, n in enumerate(names) if n not in OPENPOSE_COCO18]
    assert missing == [8, *range(19, 25)] and np.all(got[missing] == 0)


def test_keypoint_frames_match_by_name_then_by_number():
    from jaxrefine.inputs.keypoint_files import Keypoints2D

    people = np.zeros((1, 25, 3), np.float32)
    # OpenPose on a video: <video>_<12-digit frame>; a video's images are frame_<6 digits>
    kp = Keypoints2D("body25", {f"clip_{k:012d}": people for k in (0, 1, 3)}, "op/")
    keys = kp.frames_of([f"frame_{k:06d}" for k in range(4)], "clip.mp4")
    assert keys == ["clip_000000000000", "clip_000000000001", None, "clip_000000000003"]
    # a frame of the image's own name wins over a number; an ambiguous number matches nothing
    kp = Keypoints2D("body25", {"a_7": people, "b_7": people, "img_7": people}, "op/")
    assert kp.frames_of(["img_7", "x_7"]) == ["img_7", None]
    with pytest.raises(
        InputError,
        match=r"op/: no keypoint frame matches an image of clip.mp4 "
        r"\(keypoint frames e.g. 'a_7', 'b_7', \.\.\., images e.g. 'frame'\)",
    ):
        kp.frames_of(["frame"], "clip.mp4")


def test_video_keypoints_reach_the_fit_and_gaps_are_named(tmp_path):
    import imageio.v3 as iio

    from jaxrefine.refine_files import _projected_keypoints, read_inputs
    from jaxrefine.smpl_io import load_body_model

    model, p = load_body_model(), _params(n=3)
    np.savez(tmp_path / "est.npz", **p, frame=np.arange(3))
    iio.imwrite(tmp_path / "clip.mp4", np.zeros((3, 64, 64, 3), np.uint8), fps=10)
    est = read_estimates(tmp_path / "est.npz").with_default_intrinsics(lambda i: (64, 64))
    proj = _projected_keypoints(model, est, "body25")
    (tmp_path / "op").mkdir()
    for k in (0, 2):  # OpenPose skipped frame 1
        person = np.concatenate([proj[k], np.ones((25, 1))], 1).reshape(-1).tolist()
        (tmp_path / "op" / f"clip_{k:012d}_keypoints.json").write_text(
            json.dumps({"people": [{"pose_keypoints_2d": person}]})
        )
    # recorded, not pytest.warns: that re-raises imageio's ResourceWarning (pyproject.toml)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        *_, kps, kp_set = read_inputs(tmp_path / "clip.mp4", tmp_path / "est.npz", model,
                                      keypoints_path=tmp_path / "op")  # fmt: skip
    gaps = [str(w.message) for w in caught if "no keypoints" in str(w.message)]
    assert len(gaps) == 1 and re.search(r"op: no keypoints for 1 of .*'frame_000001'", gaps[0])
    assert kp_set == "body25" and kps.shape == (3, 25, 3)
    np.testing.assert_array_equal(kps[:, :, 2].sum(1) > 0, [True, False, True])
    assert not [w for w in caught if "match no person" in str(w.message)]  # frame 1 has none
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the same gap again
        est = read_inputs(tmp_path / "clip.mp4", tmp_path / "est.npz", model,
                          keypoints_path=tmp_path / "op")[1]  # fmt: skip
    assert est.person.tolist() == [0, -1, 0]  # which person of the file each one matched
    np.testing.assert_array_equal(est.score, np.asarray([1, np.nan, 1], np.float32))
    far = np.concatenate([proj[2] + 500, np.ones((25, 1))], 1).reshape(-1).tolist()
    (tmp_path / "op" / "clip_000000000002_keypoints.json").write_text(
        json.dumps({"people": [{"pose_keypoints_2d": far}]})
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        est = read_inputs(tmp_path / "clip.mp4", tmp_path / "est.npz", model,
                          keypoints_path=tmp_path / "op")[1]  # fmt: skip
    lone = [str(w.message) for w in caught if "match no person" in str(w.message)]
    assert len(lone) == 1 and "1 of the 3 estimates match no person of their image's " in lone[0]
    assert "(e.g. estimate 2, image 'frame_000002'" in lone[0]
    assert est.person.tolist() == [0, -1, -1]


def test_keypoint_people_match_one_estimate_each():
    """Two estimates side by side both lie nearest the left person; one-to-one matching gives
    the right person to the second (a greedy pick gave the left one twice); an estimate far
    from everyone matches no one."""
    from jaxrefine.refine_files import match_keypoints

    grid = np.stack(np.meshgrid(np.arange(5.0), np.arange(5.0)), -1).reshape(25, 2) * 20
    left, right = grid + [100, 100], grid + [150, 100]  # bodies 80 px, a match within 40 px
    people = np.stack([np.concatenate([q, np.ones((25, 1))], 1) for q in (left, right)])
    # 2 px and 48 px from left and right; 20 px and 30 px
    predicted = np.stack([left + [2, 0], left + [20, 0], grid + [400, 400]])
    kps, person = match_keypoints([people] * 3, predicted, np.zeros(3, np.int64))
    assert person.tolist() == [0, 1, -1]
    np.testing.assert_array_equal(kps[:2], people)
    assert not kps[2].any()
    _, alone = match_keypoints([people] * 3, predicted)  # each in a frame of its own
    assert alone.tolist() == [0, 0, -1]


def _mediapipe_people(points_px, size, visibility=0.9):
    """(P, 33, 2) pixels -> MediaPipe Tasks' people: 33 dicts of normalized x, y."""
    h, w = size
    return [[{"x": float(x) / w, "y": float(y) / h, "z": 0.0, "visibility": visibility,
              "presence": 0.99} for x, y in person] for person in points_px]  # fmt: skip


# BODY_25 keypoints whose MediaPipe landmark is the same model point (not a mean of two, not a
# nearest stand-in): nose, shoulders, elbows, wrists, hips, knees, ankles, eyes, ears, big toes,
# heels
SAME_POINT_BODY25 = (0, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24)


def test_mediapipe_landmarks_reach_the_fit_in_pixels(tmp_path):
    import imageio.v3 as iio

    from jaxrefine.refine_files import _projected_keypoints, read_inputs
    from jaxrefine.smpl_io import load_body_model

    model, p, size = load_body_model(), _params(n=2), (64, 96)  # H != W: x and y kept apart
    np.savez(tmp_path / "est.npz", **p, frame=np.arange(2))
    (tmp_path / "img").mkdir()
    for k in range(2):
        iio.imwrite(tmp_path / "img" / f"frame_{k:03d}.png", np.zeros((*size, 3), np.uint8))
    est = read_estimates(tmp_path / "est.npz").with_default_intrinsics(lambda i: size)
    mp33 = _projected_keypoints(model, est, "mediapipe33")
    (tmp_path / "mp").mkdir()
    # frame 0 as the Tasks API gives it (with a hidden left wrist), frame 1 as the legacy API
    tasks = {"pose_landmarks": _mediapipe_people(mp33[:1], size), "pose_world_landmarks": []}
    tasks["pose_landmarks"][0][15]["visibility"] = 0.2
    (tmp_path / "mp" / "frame_000.json").write_text(json.dumps(tasks))
    legacy = {"landmark": _mediapipe_people(mp33[1:], size)[0]}
    (tmp_path / "mp" / "frame_001.json").write_text(json.dumps(legacy))
    *_, kps, kp_set = read_inputs(tmp_path / "img", tmp_path / "est.npz", model,
                                  keypoints_path=tmp_path / "mp")  # fmt: skip
    body25 = _projected_keypoints(model, est, "body25")
    same = list(SAME_POINT_BODY25)
    assert kp_set == "body25" and kps.shape == (2, 25, 3)
    np.testing.assert_allclose(kps[:, same, :2], body25[:, same], atol=PIXEL_TOL)
    assert kps[0, 7, 2] == 0 and kps[1, 7, 2] == np.float32(0.9)  # left wrist: the gate
    assert np.all(kps[:, [20, 23], 2] == 0)  # small toes: MediaPipe has none


def test_mediapipe_files_and_errors(tmp_path):
    people = _mediapipe_people(np.zeros((2, 33, 2)), (10, 10))
    (tmp_path / "two.json").write_text(json.dumps(people))  # a plain list of people
    kp = read_keypoints(tmp_path / "two.json")
    assert kp.normalized and kp.people("two", (10, 10)).shape == (2, 25, 3)
    with pytest.raises(ValueError, match="two.json: normalized keypoints need the image's size"):
        kp.people("two")
    (tmp_path / "none.json").write_text(json.dumps({"pose_landmarks": []}))
    assert read_keypoints(tmp_path / "none.json").people("none", (10, 10)).shape == (0, 25, 3)
    (tmp_path / "short.json").write_text(json.dumps({"pose_landmarks": [people[0][:32]]}))
    with pytest.raises(InputError, match="short.json person 0: expected 33 MediaPipe .* got 32"):
        read_keypoints(tmp_path / "short.json")
    bad = [dict(lm) for lm in people[0]]
    del bad[4]["y"]
    (tmp_path / "bad.json").write_text(json.dumps({"landmark": bad}))
    with pytest.raises(InputError, match="bad.json person 0 landmark 4: expected a dict with"):
        read_keypoints(tmp_path / "bad.json")
    pixels = _mediapipe_people(np.full((1, 33, 2), 300.0), (1, 1))  # x, y in pixels
    (tmp_path / "pixels.json").write_text(json.dumps(pixels))
    with pytest.raises(InputError, match="pixels.json person 0: x, y up to 300: MediaPipe's"):
        read_keypoints(tmp_path / "pixels.json")
    (tmp_path / "other.json").write_text(json.dumps({"keypoints": []}))
    with pytest.raises(InputError, match="other.json: neither an OpenPose .* nor MediaPipe"):
        read_keypoints(tmp_path / "other.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: no keypoint \\*.json files in the folder"):
        read_keypoints(tmp_path / "empty")


def _world_people(points_m):
    """(P, 33, 3) metres -> MediaPipe Tasks' world people: 33 dicts of x, y, z."""
    return [[{"x": float(x), "y": float(y), "z": float(z), "visibility": 0.9} for x, y, z in p]
            for p in points_m]  # fmt: skip


def test_mediapipe_landmarks_and_world_points_are_kept(tmp_path):
    """A Tasks API result keeps its 33 landmarks (in pixels once the size is known) and its
    world landmarks, per person; a legacy file has no world points; mismatches are named."""
    rng = np.random.default_rng(0)
    px, world = rng.uniform(0, 60, (2, 33, 2)), rng.uniform(-0.9, 0.9, (2, 33, 3))
    tasks = {"pose_landmarks": _mediapipe_people(px, (64, 96)),
             "pose_world_landmarks": _world_people(world)}  # fmt: skip
    (tmp_path / "t.json").write_text(json.dumps(tasks))
    lm, wl = read_keypoints(tmp_path / "t.json").mediapipe("t", (64, 96))
    np.testing.assert_allclose(lm[..., :2], px, atol=1e-4)
    np.testing.assert_allclose(lm[..., 2], 0.9)
    np.testing.assert_allclose(wl, world, rtol=1e-6)
    (tmp_path / "l.json").write_text(json.dumps({"landmark": tasks["pose_landmarks"][0]}))
    lm, wl = read_keypoints(tmp_path / "l.json").mediapipe("l", (64, 96))
    assert lm.shape == (1, 33, 3) and wl is None
    assert read_keypoints(tmp_path / "l.json").mediapipe("elsewhere", (64, 96)) is None
    (tmp_path / "op.json").write_text(json.dumps({"people": []}))
    assert read_keypoints(tmp_path / "op.json").mediapipe("op", (64, 96)) is None  # OpenPose
    for name, change, match in [
        ("count", {"pose_world_landmarks": _world_people(world[:1])},
         "count.json: 'pose_world_landmarks' has 1 people, 'pose_landmarks' 2"),
        ("mm", {"pose_world_landmarks": _world_people(world * 1000)},
         "mm.json world person 0: world landmarks up to .* m from the hips"),
        ("noz", {"pose_world_landmarks": [[{"x": 0, "y": 0}] * 33] * 2},
         "noz.json world person 0: every world landmark needs 'x', 'y' and 'z'"),
    ]:  # fmt: skip
        (tmp_path / f"{name}.json").write_text(json.dumps({**tasks, **change}))
        with pytest.raises(InputError, match=match):
            read_keypoints(tmp_path / f"{name}.json")


def test_videos_are_read_and_written_without_jaxs_fork_warning(tmp_path, monkeypatch):
    """imageio-ffmpeg ran Python in ffmpeg's child (``preexec_fn``), so once JAX was up every
    video read or written warned "os.fork() was called ... likely lead to a deadlock" to the
    user; ffmpeg is now spawned without it, and the switch is put back afterwards."""
    import os
    import warnings

    import imageio.v3 as iio
    import jax

    from jaxrefine.inputs.images import FFMPEG_PREEXEC_SWITCH
    from jaxrefine.refine_outputs import write_video

    monkeypatch.delenv(FFMPEG_PREEXEC_SWITCH, raising=False)
    jax.devices()  # JAX's fork hook warns once its backends exist
    frames = np.zeros((4, 32, 48, 3), np.uint8)
    iio.imwrite(tmp_path / "clip.mp4", frames, fps=10)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert len(read_images(tmp_path / "clip.mp4")) == 4
        write_video(tmp_path / "out.mp4", list(frames), 10.0)
    assert [str(w.message) for w in seen if "os.fork" in str(w.message)] == []
    assert (tmp_path / "out.mp4").is_file() and FFMPEG_PREEXEC_SWITCH not in os.environ


def test_images_folder_video_and_errors(tmp_path):
    import imageio.v3 as iio

    rng = np.random.default_rng(0)
    frames = (rng.uniform(0, 1, (3, 32, 48, 3)) * 255).astype(np.uint8)
    (tmp_path / "imgs").mkdir()
    for i, f in enumerate(frames):
        iio.imwrite(tmp_path / "imgs" / f"f{i}.png", f)
    seq = read_images(tmp_path / "imgs")
    assert seq.names == ("f0", "f1", "f2") and not seq.is_video
    np.testing.assert_allclose(seq[1], frames[1] / 255.0, atol=1e-6)
    (tmp_path / "imgs" / "f3.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="f3.png: not a readable image"):
        read_images(tmp_path / "imgs")[3]
    iio.imwrite(tmp_path / "clip.mp4", np.repeat(frames, 2, 0), fps=10)
    vid = read_images(tmp_path / "clip.mp4")
    assert vid.is_video and len(vid) == 6 and vid[0].shape == (32, 48, 3)
    assert vid.frames[0].dtype == np.uint8 and vid[0].dtype == np.float32  # kept as bytes
    np.testing.assert_allclose(vid[2] * 255.0, vid.frames[2], atol=1e-3)
    assert vid.fps == pytest.approx(10.0)
    # a video over the memory budget is refused while decoding, with the way out
    with pytest.raises(InputError, match=r"clip.mp4: more than 2 frames of 48x32 do not fit .*"
                       r"-start_number 0 frames/frame_%06d.png"):  # fmt: skip
        read_images(tmp_path / "clip.mp4", memory_budget=3 * 32 * 48 * 3 - 1)
    assert len(read_images(tmp_path / "clip.mp4", memory_budget=6 * 32 * 48 * 3)) == 6
    from jaxrefine.inputs.images import parse_frames  # only the chosen frames are held

    part = read_images(tmp_path / "clip.mp4", memory_budget=3 * 32 * 48 * 3 - 1,
                       frames=parse_frames("::3"))  # fmt: skip
    assert part.names == ("frame_000000", "frame_000003")
    with pytest.raises(InputError, match="no such file"):
        read_images(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no image files"):
        read_images(tmp_path / "empty")


def test_a_folder_numbered_without_leading_zeros_is_sorted_as_asked(tmp_path):
    """Names 0..11 without leading zeros: by name frame_10 comes before frame_2, and the
    sequence records the doubt; ``order`` sorts by name or number without doubt; names with
    leading zeros leave none; ``--frames`` of a doubtful folder is refused."""
    from pathlib import Path

    import imageio.v3 as iio

    from jaxrefine.inputs.images import number_key, order_doubt, parse_frames

    for folder, name in (("bare", "frame_{}.png"), ("zeros", "frame_{:02d}.png")):
        (tmp_path / folder).mkdir()
        for i in range(12):
            iio.imwrite(tmp_path / folder / name.format(i), np.full((4, 4, 3), i, np.uint8))
    by_name = [f"frame_{i}" for i in (0, 1, 10, 11, *range(2, 10))]
    seq = read_images(tmp_path / "bare")
    assert list(seq.names) == by_name and seq.order_doubt == ("frame_10.png", "frame_2.png")
    assert seq[2][0, 0, 0] == pytest.approx(10 / 255)  # the file of its name
    seq = read_images(tmp_path / "bare", order="name")
    assert list(seq.names) == by_name and seq.order_doubt is None
    seq = read_images(tmp_path / "bare", order="number")
    assert seq.names == tuple(f"frame_{i}" for i in range(12)) and seq.order_doubt is None
    assert seq[2][0, 0, 0] == pytest.approx(2 / 255)
    assert read_images(tmp_path / "zeros").order_doubt is None
    assert read_images(tmp_path / "bare", frames=parse_frames("0:2"),
                       order="number").names == ("frame_0", "frame_1")  # fmt: skip
    with pytest.raises(InputError, match=r"bare: its image names number the frames without "
                       r"leading zeros.*; --frames counts them in one of them: give "
                       r"--image-order number"):  # fmt: skip
        read_images(tmp_path / "bare", frames=parse_frames("0:2"))
    with pytest.raises(InputError, match="image order 'natural': expected one of name, number"):
        read_images(tmp_path / "bare", order="natural")
    names = ["b2.png", "a10.png", "a9.png", "a01.png", "a1.png", "a1b2.png", "a1b10.png"]
    in_order = ["a01.png", "a1.png", "a1b2.png", "a1b10.png", "a9.png", "a10.png", "b2.png"]
    assert [p.name for p in sorted(map(Path, names), key=number_key)] == in_order
    assert order_doubt(sorted(map(Path, ["x1.png", "x2.png", "y10.png"]))) is None


@pytest.mark.parametrize("tag,turns", [(6, 1), (3, 2), (8, -1)])
def test_a_phone_photo_is_read_upright_by_its_exif_orientation(tmp_path, tag, turns):
    """A portrait photo stored on its side with EXIF orientation ``tag`` (6: shown turned 90
    degrees clockwise, 3: 180, 8: 90 anticlockwise) is read as it is shown (as OpenCV reads
    it, so a regressor's estimates and a detector's keypoints fit it), by the user's images
    and by the detector's reader; ``exif=False`` / ``--ignore-exif`` keeps the stored pixels."""
    from PIL import Image

    from jaxrefine.detect import read_image as detector_read_image
    from jaxrefine.inputs.images import turned_upright

    upright = np.zeros((48, 32, 3), np.uint8)  # tall: red head block, green band, blue feet
    upright[:16, 8:24, 0] = 255
    upright[20:28, :, 1] = 255
    upright[40:, :16, 2] = 255
    stored = np.ascontiguousarray(np.rot90(upright, turns))  # what the camera wrote
    exif = Image.Exif()
    exif[274] = tag
    Image.fromarray(stored).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    seq = read_images(tmp_path / "phone.jpg")
    assert seq[0].shape == (48, 32, 3) and seq.exif
    assert _mean_error(seq[0] * 255, upright) < LOSSY_MEAN_TOL
    assert _mean_error(detector_read_image(tmp_path / "phone.jpg"), upright) < LOSSY_MEAN_TOL
    raw = read_images(tmp_path / "phone.jpg", exif=False)
    assert not raw.exif and _mean_error(raw[0] * 255, stored) < LOSSY_MEAN_TOL
    assert turned_upright(seq) == ["phone"] and turned_upright(raw) == []  # what refine reports
    from jaxrefine.inputs.images import image_size  # the header's size, turned alike

    assert image_size(tmp_path / "phone.jpg") == seq[0].shape[:2]
    assert image_size(tmp_path / "phone.jpg", exif=False) == raw[0].shape[:2]
    Image.fromarray(stored).save(tmp_path / "plain.jpg", quality=95)  # no tag: as stored
    assert _mean_error(read_images(tmp_path / "plain.jpg")[0] * 255, stored) < LOSSY_MEAN_TOL


def test_a_phone_video_is_read_upright_by_its_rotation(tmp_path):
    """A phone's portrait video is stored on its side with a display rotation; ffmpeg's
    decoder (imageio-ffmpeg) turns its frames upright, as players show them."""
    import subprocess

    import imageio.v3 as iio
    import imageio_ffmpeg

    upright = np.zeros((4, 64, 48, 3), np.uint8)  # tall: red head block, blue feet
    upright[:, :16, 8:40, 0] = 255
    upright[:, 40:, :24, 2] = 255
    iio.imwrite(tmp_path / "side.mp4", np.ascontiguousarray(np.rot90(upright, 1, (1, 2))), fps=10)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-display_rotation", "-90", "-i",
                    str(tmp_path / "side.mp4"), "-c", "copy", str(tmp_path / "phone.mp4")],
                   check=True, capture_output=True)  # fmt: skip
    video = read_images(tmp_path / "phone.mp4")
    assert len(video) == 4
    assert _mean_error(video[0] * 255, upright[0]) < LOSSY_MEAN_TOL


def test_cmyk_palette_and_grey_alpha_images_are_read_as_rgb(tmp_path):
    """A CMYK JPEG (print and stock photos) was read as four channels and taken for RGBA (its
    colours silently wrong), grey with alpha (two channels) was refused; now each is RGB, for
    the user's images and the detector alike."""
    from PIL import Image

    from jaxrefine.detect import read_image as detector_read_image

    rgb = np.zeros((16, 24, 3), np.uint8)
    rgb[:, :12] = (200, 50, 0)
    rgb[:, 12:] = (20, 90, 240)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "print.jpg", quality=95)
    pal = Image.new("P", (24, 16))
    pal.putpalette([200, 50, 0, 20, 90, 240] + [0] * 762)
    pal.putdata([0 if x < 12 else 1 for _ in range(16) for x in range(24)])
    pal.save(tmp_path / "palette.png")
    grey = np.full((16, 24), 77, np.uint8)
    Image.fromarray(np.dstack([grey, np.full_like(grey, 128)]), "LA").save(tmp_path / "la.png")
    Image.fromarray(grey > 100).save(tmp_path / "bilevel.png")  # all False: black
    seq = read_images(tmp_path)
    assert seq.names == ("bilevel", "la", "palette", "print")
    assert _mean_error(seq[3] * 255, rgb) < LOSSY_MEAN_TOL  # as RGB: the CMY bytes were kept
    np.testing.assert_array_equal(np.round(seq[2] * 255), rgb)
    np.testing.assert_array_equal(np.round(seq[1] * 255), np.dstack([grey] * 3))
    np.testing.assert_array_equal(seq[0], 0.0)
    assert _mean_error(detector_read_image(tmp_path / "print.jpg"), rgb) < LOSSY_MEAN_TOL


def _mean_error(got, want) -> float:
    """Mean absolute difference (0-255) of two pictures of the same shape."""
    assert np.shape(got) == np.shape(want)
    return float(np.mean(np.abs(np.asarray(got, float) - np.asarray(want, float))))


def test_intrinsics(tmp_path):
    assert read_intrinsics([500, 510, 320, 240]) == (500.0, 510.0, 320.0, 240.0)
    (tmp_path / "k.json").write_text(json.dumps({"K": [[600, 0, 300], [0, 600, 200], [0, 0, 1]]}))
    assert read_intrinsics(tmp_path / "k.json") == (600.0, 600.0, 300.0, 200.0)
    with pytest.raises(InputError, match="positive"):
        read_intrinsics([0, 1, 2, 3])
    (tmp_path / "bad.json").write_text(json.dumps({"f": 3}))
    with pytest.raises(InputError, match="bad.json: expected keys"):
        read_intrinsics(tmp_path / "bad.json")


def test_intrinsics_from_matrix_files(tmp_path):
    """A calibration's K as numpy.savetxt text, a JSON list or .npy (or fx fy cx cy in any of
    them) gives the same camera; a transposed K, a wrong count and non-numbers are refused by
    name (text files were read as JSON only: "not a JSON file")."""
    K = np.array([[600.0, 0.0, 300.5], [0.0, 610.25, 200.0], [0.0, 0.0, 1.0]])
    want = (600.0, 610.25, 300.5, 200.0)
    np.savetxt(tmp_path / "K.txt", K)
    np.save(tmp_path / "K.npy", K)
    np.save(tmp_path / "f.npy", np.array(want, np.float32))
    (tmp_path / "K.json").write_text(json.dumps(K.tolist()))
    (tmp_path / "f.txt").write_text("# fx fy cx cy\n600, 610.25, 300.5, 200\n")
    for name in ("K.txt", "K.npy", "f.npy", "K.json", "f.txt"):
        assert read_intrinsics(tmp_path / name) == want, name
    np.savetxt(tmp_path / "KT.txt", K.T)
    (tmp_path / "KT.json").write_text(json.dumps({"K": K.T.tolist()}))
    for name in ("KT.txt", "KT.json"):  # cx, cy would have been read as 0, 0
        with pytest.raises(InputError, match=rf"{name}: K's last row must be 0 0 1, got "
                           r"\[300.5, 200.0, 1.0\] \(is the matrix transposed\?\)"):  # fmt: skip
            read_intrinsics(tmp_path / name)
    bad = {"three.txt": "1 2 3", "words.txt": "fx = 600", "list.json": "[[1, 2], [3]]"}
    said = {
        "three.txt": r"expected a 3x3 K \(9 numbers\) or fx fy cx cy \(4\), got 3 numbers",
        "words.txt": r"neither JSON \(.*\) nor numbers",
        "list.json": "a list that is not",
    }
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(InputError, match=rf"{name}: {said[name]}"):
            read_intrinsics(tmp_path / name)
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    with pytest.raises(InputError, match="s.npy: expected numbers, got an array of <U1"):
        read_intrinsics(tmp_path / "s.npy")
    with pytest.raises(InputError, match="gone.npy: no such intrinsics file"):
        read_intrinsics(tmp_path / "gone.npy")


def test_intrinsics_from_a_result(tmp_path):
    """A jaxrefine result gives the camera its meshes were made for: one camera_K for all its
    rows; rows of two cameras, another file or a damaged one are refused by name."""
    import jax

    from jaxrefine.camera import Camera
    from jaxrefine.io import save_result
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model()

    def result(name, *cams):
        n = len(cams)
        params = {"global_orient": np.zeros((n, 3)), "body_pose": np.zeros((n, 69)),
                  "betas": np.zeros((n, model.num_betas)), "transl": np.zeros((n, 3))}  # fmt: skip
        batch = jax.tree.map(lambda *a: np.stack(a), *cams)
        return save_result(tmp_path / name, model, params, np.zeros((n, 24, 3)), batch)

    one, other = Camera.create(610.5, 600.25, 320.0, 241.5), Camera.create(500.0, 500.0, 1, 2)
    assert read_intrinsics(result("same.npz", one, one)) == (610.5, 600.25, 320.0, 241.5)
    with pytest.raises(InputError, match=r"two.npz: its rows hold 2 cameras \(camera_K\), not "
                       "one: give the images' camera as fx fy cx cy"):  # fmt: skip
        read_intrinsics(result("two.npz", one, other))
    np.savez(tmp_path / "plain.npz", K=np.eye(3))
    with pytest.raises(InputError, match=r"plain.npz: not a jaxrefine result file .* \(--intrin"):
        read_intrinsics(tmp_path / "plain.npz")
    (tmp_path / "cut.npz").write_bytes(result("cut.npz", one).read_bytes()[:100])
    with pytest.raises(InputError, match="cut.npz: not a readable result"):
        read_intrinsics(tmp_path / "cut.npz")
    with pytest.raises(InputError, match="gone.npz: no such intrinsics file"):
        read_intrinsics(tmp_path / "gone.npz")


def test_estimates_cut_and_join_every_per_person_field():
    """``take`` and ``concat_estimates`` keep the optional ``person`` / ``score`` rows with
    the others (the people overlays label bodies with ``person``, else the track id)."""
    from jaxrefine.inputs.estimates import concat_estimates
    from jaxrefine.photo import _labels

    p = _params(n=3)
    est = Estimates(global_orient=p["global_orient"], body_pose=p["body_pose"].reshape(3, 23, 3),
                    betas=p["betas"], transl=p["transl"], intrinsics=np.ones((3, 4), np.float32),
                    frame=np.array([0, 0, 1], object), track_id=np.array([5, 6, 7]),
                    source="s", fmt="f", person=np.array([2, 0, 1]),
                    score=np.array([0.9, 0.8, 0.7], np.float32))  # fmt: skip
    cut = est.take(np.array([2, 0]))
    assert cut.person.tolist() == [1, 2] and cut.track_id.tolist() == [7, 5]
    np.testing.assert_array_equal(cut.score, np.float32([0.7, 0.9]))
    both = concat_estimates([est, cut])
    assert both.person.tolist() == [2, 0, 1, 1, 2] and len(both) == 5
    plain = dataclasses.replace(cut, person=None, score=None)
    assert concat_estimates([est, plain]).person is None  # not every part has them
    assert _labels(est, [0, 1]) == ["2", "0"] and _labels(plain, [0, 1]) == ["7", "5"]


def _vibe_people(h, w, rng):
    """VIBE's / PARE's video output for a (h, w) video: two people, their crop cameras turned
    into ``orig_cam`` as their demo does (``convert_crop_cam_to_orig_img``)."""
    people = {}
    for pid, frames in ((3, [0, 1, 2]), (7, [1, 2])):
        n = len(frames)
        cam = np.column_stack([rng.uniform(0.8, 1.1, n), rng.normal(0, 0.1, (n, 2))])
        box = np.column_stack([rng.uniform(200, 400, n), rng.uniform(150, 300, n),
                               np.full(n, 180.0), np.full(n, 180.0)])  # fmt: skip
        sx, sy = cam[:, 0] * box[:, 2] / w, cam[:, 0] * box[:, 2] / h
        tx = (box[:, 0] - w / 2) / (w / 2) / sx + cam[:, 1]
        ty = (box[:, 1] - h / 2) / (h / 2) / sy + cam[:, 2]
        rot = Rotation.from_rotvec(rng.normal(0, 0.3, (n * 24, 3))).as_matrix()
        people[pid] = {"pred_cam": cam, "orig_cam": np.column_stack([sx, sy, tx, ty]),
                       "pose": rot.reshape(n, 24, 3, 3).astype(np.float32),
                       "betas": rng.normal(0, 1, (n, 10)).astype(np.float32),
                       "verts": np.zeros((n, 6890, 3), np.float32), "joints2d": None,
                       "bboxes": box, "frame_ids": np.asarray(frames)}  # fmt: skip
    return people


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3)])
def test_vibe_and_pare_video_output_is_read_without_joblib(tmp_path, compress):
    """A ``joblib.dump`` file of VIBE's / PARE's per-person dicts (read without joblib):
    tracks, frames, poses, and ``orig_cam`` placing the body where their renderer draws it."""
    joblib = pytest.importorskip("joblib", reason="joblib (extra 'ref') writes the reference")
    (h, w), rng = (480, 640), np.random.default_rng(0)
    people = _vibe_people(h, w, rng)
    joblib.dump(people, tmp_path / "vibe_output.pkl", compress=compress)
    est = read_estimates(tmp_path / "vibe_output.pkl", image_size=lambda i: (h, w))
    est = est.with_default_intrinsics(lambda i: (h, w))
    assert est.track_id.tolist() == [3, 3, 3, 7, 7] and est.frame.tolist() == [0, 1, 2, 1, 2]
    assert est.fmt == "vibe-pare"
    rot = np.concatenate([p["pose"] for p in people.values()]).reshape(-1, 3, 3)
    got = Rotation.from_rotvec(est.pose.reshape(-1, 3)).as_matrix()
    np.testing.assert_allclose(got, rot, atol=ROTATION_TOL)
    oc = np.concatenate([p["orig_cam"] for p in people.values()])
    X = np.array([[0.3, -0.4, 0.0], [-0.2, 0.5, 0.0]])  # points at the body's depth plane
    for i, (sx, sy, tx, ty) in enumerate(oc):  # their renderer's pixels (vibe_renderer.py)
        vibe = np.stack([w / 2 * (1 + sx * (X[:, 0] + tx)), h / 2 * (1 + sy * (X[:, 1] + ty))], 1)
        np.testing.assert_allclose(_project(est.intrinsics[i], est.transl[i], X), vibe,
                                   atol=PIXEL_TOL)  # fmt: skip


def test_pymaf_video_output_is_read_as_vibe(tmp_path):
    """PyMAF's demo writes VIBE's layout (``joblib.dump`` of ``{person_id: {pred_cam,
    orig_cam, verts, pose, betas, joints3d, joints2d, bboxes, frame_ids}}`` to
    ``_output.pkl``, ``pose`` axis-angle (N, 72)): read as VIBE's, the same bodies."""
    joblib = pytest.importorskip("joblib", reason="joblib (extra 'ref') writes the reference")
    (h, w), rng = (480, 640), np.random.default_rng(1)
    vibe = _vibe_people(h, w, rng)
    pymaf = {pid: {**p, "pose": Rotation.from_matrix(p["pose"].reshape(-1, 3, 3)).as_rotvec()
                   .reshape(-1, 72).astype(np.float32),
                   "joints3d": np.zeros((len(p["betas"]), 49, 3), np.float32)}
             for pid, p in vibe.items()}  # fmt: skip
    joblib.dump(vibe, tmp_path / "vibe_output.pkl")
    joblib.dump(pymaf, tmp_path / "_output.pkl")
    a = read_estimates(tmp_path / "vibe_output.pkl", image_size=lambda i: (h, w))
    b = read_estimates(tmp_path / "_output.pkl", image_size=lambda i: (h, w))
    assert b.fmt == a.fmt == "vibe-pare" and b.frame.tolist() == a.frame.tolist()
    np.testing.assert_allclose(b.pose, a.pose, atol=ROTATION_TOL)
    np.testing.assert_array_equal(b.transl, a.transl)


def _wham_people(h, w, rng, model):
    """WHAM's ``wham_output.pkl`` for a (h, w) video, as its demo.py writes it: per person
    ``pose`` (N, 72) with the camera-frame root, ``trans`` (SMPL's transl in the camera
    frame), world-frame ``pose_world`` / ``trans_world``, ``betas``, ``verts`` (SMPL's vertices
    plus ``trans``: verts_cam + trans_cam) and ``frame_ids``; the body model stands in for
    SMPL."""
    from jaxrefine.body_model import forward

    f = np.sqrt(w**2 + h**2)  # WHAM's compute_cam_intrinsics
    people = {}
    for pid, frames in ((0, [0, 1, 2]), (4, [2, 3])):
        n = len(frames)
        pose = rng.normal(0, 0.2, (n, 72)).astype(np.float32)
        pose[:, 0] = np.pi  # upright in the camera frame (y down)
        betas = rng.normal(0, 0.5, (n, 10)).astype(np.float32)
        z = rng.uniform(4, 8, n)
        px = np.column_stack([rng.uniform(0.3 * w, 0.7 * w, n), rng.uniform(0.4 * h, 0.6 * h, n)])
        trans = np.column_stack([(px - [w / 2, h / 2]) * z[:, None] / f, z]).astype(np.float32)
        verts = np.stack([np.asarray(forward(model, p, b[: model.num_betas], t).vertices)
                          for p, b, t in zip(pose, betas, trans)])  # fmt: skip
        people[pid] = {"pose": pose, "trans": trans, "pose_world": pose,
                       "trans_world": np.cumsum(rng.normal(0, 0.05, (n, 3)), 0),
                       "betas": betas, "verts": verts.astype(np.float32),
                       "frame_ids": np.asarray(frames)}  # fmt: skip
    return people


def test_wham_output_is_read_with_its_camera(tmp_path):
    """WHAM's demo output (read without joblib): tracks, frames, SMPL's camera-frame
    ``trans`` as the translation and WHAM's focal (the image diagonal, jaxrefine's default):
    the body's vertices project where WHAM's renderer draws its ``verts``
    (``full_perspective_projection`` with ``compute_cam_intrinsics``). Its world translation
    in place of ``trans`` is refused by the vertices' check."""
    joblib = pytest.importorskip("joblib", reason="joblib (extra 'ref') writes the reference")
    from jaxrefine.body_model import forward
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model()
    (h, w), rng = (720, 1280), np.random.default_rng(0)
    people = _wham_people(h, w, rng, model)
    joblib.dump(people, tmp_path / "wham_output.pkl", compress=3)
    est = read_estimates(tmp_path / "wham_output.pkl", image_size=lambda i: (h, w),
                         num_betas=model.num_betas)  # fmt: skip
    est = est.with_default_intrinsics(lambda i: (h, w))
    assert est.fmt == "wham" and est.track_id.tolist() == [0, 0, 0, 4, 4]
    assert est.frame.tolist() == [0, 1, 2, 2, 3]
    f = np.sqrt(w**2 + h**2)
    verts = np.concatenate([p["verts"] for p in people.values()])
    for i in range(len(est)):
        wham = verts[i] / verts[i][:, 2:] @ np.array([[f, 0, 0], [0, f, 0], [w / 2, h / 2, 1]])
        ours = forward(model, est.pose[i], est.betas[i], est.transl[i]).vertices
        np.testing.assert_allclose(_project(est.intrinsics[i], 0.0, np.asarray(ours)),
                                   wham[:, :2], atol=WHAM_PIXEL_TOL)  # fmt: skip
    for p in people.values():  # the world translation read as the camera's
        p["trans"] = p["trans_world"]
    joblib.dump(people, tmp_path / "world.pkl")
    with pytest.raises(InputError, match=r"world.pkl: WHAM's 'trans' is .* m from its body's "
                       "vertices"):  # fmt: skip
        read_estimates(tmp_path / "world.pkl", image_size=lambda i: (h, w))
    for bad, match in ((np.nan, "do not hold one finite body"), (1e300, "is 1732050.81 m from")):
        people = _wham_people(h, w, rng, model)
        people[4]["verts"] = people[4]["verts"].astype(np.float64)
        people[4]["verts"][1, :5] = bad  # damaged vertices: none passes the check unseen
        joblib.dump(people, tmp_path / "bad.pkl")
        with pytest.raises(InputError, match=match):
            read_estimates(tmp_path / "bad.pkl", image_size=lambda i: (h, w))


def _romp_outputs(h, w, rng, n=2, track_ids=None):
    """ROMP's ``outputs`` of one (h, w) image as its ``ResultSaver`` saves them
    (``np.savez(<image>.npz, results=outputs)``): SMPL parameters, the weak-perspective
    ``cam`` on the padded square, model-frame ``joints`` (71, standing in for SMPL's) and
    their drawing ``pj2d_org``, written from its code (``batch_orth_proj`` then
    ``convert_proejection_from_input_to_orgimg``)."""
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2  # ROMP's padding_image
    joints = np.column_stack([rng.normal(0, 0.25, (n * 71, 2)), rng.normal(0, 0.1, n * 71)])
    joints = joints.reshape(n, 71, 3).astype(np.float32)
    cam = np.column_stack([rng.uniform(0.5, 0.9, n), rng.uniform(-0.5, 0.5, (n, 2))])
    out = {"smpl_thetas": rng.normal(0, 0.2, (n, 72)).astype(np.float32),
           "smpl_betas": rng.normal(0, 1, (n, 10)).astype(np.float32),
           "cam": cam.astype(np.float32), "joints": joints,
           "pj2d_org": _romp_pixels(cam, joints, side, top, left).astype(np.float32),
           "verts": joints, "center_confs": np.ones((n, 1), np.float32),
           "cam_trans": np.zeros((n, 3), np.float32)}  # fmt: skip
    if track_ids is not None:
        out["track_ids"] = np.asarray(track_ids, np.int32)
    return out


def _romp_pixels(cam, X, side, top, left):
    """Where ROMP draws model-frame points X (N, P, 3) in the original image's pixels."""
    norm = X[..., :2] * cam[:, None, :1] + cam[:, None, 1:]  # batch_orth_proj
    return (norm + 1) * side / 2 - np.array([left, top])


@pytest.mark.parametrize("size", [(480, 640), (641, 480), (1080, 1920)])
def test_romp_output_is_read_with_its_camera(tmp_path, size):
    """ROMP's file of one image (a pickled dict inside the npz, read running no code): its
    people, and its ``cam`` on the image padded to a square (odd and even padding, portrait
    and landscape) as a full-image camera that puts points at the body's depth plane where
    ROMP draws them."""
    (h, w), rng = size, np.random.default_rng(0)
    outputs = _romp_outputs(h, w, rng, n=3)
    np.savez(tmp_path / "img.npz", results=outputs)
    est = read_estimates(tmp_path / "img.npz", image_size=lambda i: (h, w))
    est = est.with_default_intrinsics(lambda i: (h, w))
    assert est.fmt == "romp" and not est.named_tracks and est.frame is None  # no tracker ran
    np.testing.assert_allclose(est.pose.reshape(3, 72), outputs["smpl_thetas"])
    np.testing.assert_allclose(est.betas, outputs["smpl_betas"])
    side = max(h, w)
    X = np.array([[0.3, -0.4, 0.0], [-0.2, 0.5, 0.0]])
    romp = _romp_pixels(outputs["cam"].astype(np.float64), np.tile(X, (3, 1, 1)), side,
                        (side - h) // 2, (side - w) // 2)  # fmt: skip
    for i in range(3):
        np.testing.assert_allclose(_project(est.intrinsics[i], est.transl[i], X), romp[i],
                                   atol=PIXEL_TOL)  # fmt: skip


def test_romp_video_results_and_folder(tmp_path):
    """ROMP's ``--mode video`` output: each frame's npz and ``video_results.npz`` (frame file
    name -> outputs). The single file names its frames; the folder gives each file's people
    to its frame and reads ``video_results.npz`` beside them not a second time; ROMP's
    tracker's ids are kept."""
    (h, w), rng = (360, 640), np.random.default_rng(1)
    frames = {f"{t:08d}.png": _romp_outputs(h, w, rng, n=2, track_ids=[5, 9]) for t in range(3)}
    for name, out in frames.items():
        np.savez(tmp_path / name.replace(".png", ".npz"), results=out)
    np.savez(tmp_path / "video_results.npz", results=frames, sequence_results={})
    one = read_estimates(tmp_path / "video_results.npz", image_size=lambda key: (h, w))
    assert one.frame.tolist() == ["00000000"] * 2 + ["00000001"] * 2 + ["00000002"] * 2
    assert one.track_id.tolist() == [5, 9] * 3 and one.fmt == "romp"
    folder = read_estimates(tmp_path, image_size=lambda key: (h, w))
    assert folder.frame.tolist() == one.frame.tolist()
    np.testing.assert_array_equal(folder.transl, one.transl)
    assert folder.track_id.tolist() == [5, 9] * 3
    for out in frames.values():  # ROMP without its tracker: nobody is linked
        del out["track_ids"]
    np.savez(tmp_path / "video_results.npz", results=frames)
    one = read_estimates(tmp_path / "video_results.npz", image_size=lambda key: (h, w))
    assert not one.named_tracks and one.track_id.tolist() == [0] * 6


def test_romp_files_refused_by_name(tmp_path):
    """BEV's SMPL+A bodies, a root-aligned ROMP run, images of another size than ROMP read,
    and a pickled object that is not numbers are refused, naming the file and why."""
    (h, w), rng = (480, 640), np.random.default_rng(2)
    out = _romp_outputs(h, w, rng)
    np.savez(tmp_path / "ok.npz", results=out)
    with pytest.raises(InputError, match=r"ok.npz: ROMP's joints, placed by its camera as "
                       r"jaxrefine reads it, miss .* give the images ROMP read"):  # fmt: skip
        read_estimates(tmp_path / "ok.npz", image_size=lambda i: (360, 480))
    bev = dict(out, smpl_betas=np.zeros((2, 11), np.float32))
    np.savez(tmp_path / "bev.npz", results=bev)
    with pytest.raises(InputError, match=r"bev.npz: .*BEV's SMPL\+A bodies"):
        read_estimates(tmp_path / "bev.npz", image_size=lambda i: (h, w))
    root = out["joints"] - out["joints"][:, [45, 46]].mean(1, keepdims=True)
    np.savez(tmp_path / "root.npz", results=dict(out, joints=root))
    with pytest.raises(InputError, match=r"root.npz: ROMP's bodies were root-aligned"):
        read_estimates(tmp_path / "root.npz", image_size=lambda i: (h, w))
    import fractions

    np.savez(tmp_path / "code.npz", results=dict(out, extra=fractions.Fraction(1, 3)))
    with pytest.raises(InputError, match=r"code.npz: .*refusing to load fractions.Fraction"):
        read_estimates(tmp_path / "code.npz", image_size=lambda i: (h, w))


def test_cliff_output_is_read_by_its_detection_rows(tmp_path):
    """CLIFF's demo file (``imgname`` lists every image read, ``detection_all`` says which
    image each estimate belongs to; ``global_t`` SMPL's translation for ``focal_l`` at the
    image centre): each estimate goes to its detection's image with CLIFF's camera; axis-angle
    or rotation matrices; an ``--infill`` file (more detection rows than poses) is refused."""
    rng, (h, w) = np.random.default_rng(3), (480, 640)
    imgs = [f"/data/clip/imgs/{i:06d}.jpg" for i in range(4)]  # CLIFF's sorted glob
    det = np.zeros((3, 8))
    det[:, 0] = [0, 0, 2]  # two people in the first image, none in the second, one in the third
    p = _params(n=3)
    focal = np.full(3, np.hypot(h, w), np.float32)  # CLIFF's estimate_focal_length
    pose = np.concatenate([p["global_orient"], p["body_pose"]], 1)
    joints = p["transl"][:, None] + rng.normal(0, 0.3, (3, 49, 3))  # posed with transl
    cliff = {"imgname": imgs, "pose": pose, "shape": p["betas"], "global_t": p["transl"],
             "pred_joints": joints, "focal_l": focal, "detection_all": det}  # fmt: skip
    np.savez(tmp_path / "clip_cliff_hr48.npz", **cliff)
    est = read_estimates(tmp_path / "clip_cliff_hr48.npz", image_size=lambda key: (h, w))
    est = est.with_default_intrinsics(lambda i: (h, w))
    assert est.fmt == "cliff" and est.frame.tolist() == ["000000", "000000", "000002"]
    assert not est.named_tracks
    np.testing.assert_allclose(est.transl, p["transl"])
    np.testing.assert_allclose(est.intrinsics, np.tile([*focal[:1], focal[0], w / 2, h / 2],
                                                       (3, 1)))  # fmt: skip
    np.testing.assert_allclose(est.pose.reshape(3, 72), pose, atol=1e-6)
    rot = Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix().reshape(3, 24, 3, 3)
    np.savez(tmp_path / "rotmat.npz", **dict(cliff, pose=rot))  # --pose_format rotmat
    got = read_estimates(tmp_path / "rotmat.npz", image_size=lambda key: (h, w))
    np.testing.assert_allclose(got.pose.reshape(3, 72), pose, atol=ROTATION_TOL)
    np.savez(tmp_path / "infill.npz", **dict(cliff, detection_all=np.zeros((5, 8))))
    with pytest.raises(InputError, match=r"infill.npz: CLIFF's 'detection_all' has 5 rows for "
                       "3 poses .*--infill"):  # fmt: skip
        read_estimates(tmp_path / "infill.npz", image_size=lambda key: (h, w))
    np.savez(tmp_path / "beyond.npz", **dict(cliff, detection_all=det + [[4] + [0] * 7]))
    with pytest.raises(InputError, match=r"beyond.npz: .*images beyond the 4"):
        read_estimates(tmp_path / "beyond.npz", image_size=lambda key: (h, w))
    np.savez(tmp_path / "root.npz", **dict(cliff, pred_joints=joints - p["transl"][:, None]))
    with pytest.raises(InputError, match=r"root.npz: CLIFF's 'global_t' is .* m from its own"):
        read_estimates(tmp_path / "root.npz", image_size=lambda key: (h, w))


def _hybrik_res(model, rng, n=3, size=(720, 1280)):
    """HybrIK's ``res.pk`` as its demo_video.py writes it (one person, a row per frame), the
    body model standing in for SMPL: rotations as (w, x, y, z) quaternions, ``transl`` the
    pelvis joint's camera-frame position, ``pred_xyz_24_struct`` the posed joints
    root-relative in units of 2.2 m, square crop boxes."""
    import jax

    from jaxrefine.body_model import posed_joints

    pose = rng.normal(0, 0.25, (n, 24, 3))
    pose[:, 0] = [np.pi, 0, 0]
    betas = rng.normal(0, 0.5, (n, model.num_betas)).astype(np.float32)
    q = Rotation.from_rotvec(pose.reshape(-1, 3)).as_quat()[:, [3, 0, 1, 2]]  # w, x, y, z
    joints = np.asarray(jax.vmap(lambda p, b: posed_joints(model, p, b))(
        pose.astype(np.float32), betas))  # fmt: skip
    x0 = rng.uniform(100, 400, n)
    side = rng.uniform(300, 500, n)
    return {
        "pred_thetas": q.reshape(n, 96).astype(np.float32),
        "pred_betas": betas,
        "pred_phi": np.zeros((n, 23, 2)),
        "transl": rng.normal([0, 0, 6], 0.5, (n, 3)),
        "pred_xyz_24_struct": ((joints - joints[:, :1]) / 2.2).reshape(n, 72),
        "bbox": np.column_stack([x0, x0 / 2, x0 + side, x0 / 2 + side]),
        "height": np.full(n, size[0]),
        "width": np.full(n, size[1]),
        "img_path": np.array([f"out/raw_images/clip-{i + 1:06d}.png" for i in range(n)]),
    }


def test_hybrik_output_is_read_with_its_pelvis_and_focal(tmp_path):
    """HybrIK's ``res.pk``: quaternions (w first) as axis-angle, SMPL's ``transl`` that puts
    the posed pelvis joint where HybrIK's ``transl`` says, its crop's focal (1000 / 256 of the
    box side) at the image centre, the frames its image files; HybrIK's own joints check the
    rotations (read x-first, they are refused)."""
    from jaxrefine.body_model import posed_joints
    from jaxrefine.smpl_io import load_body_model

    model, rng = load_body_model(), np.random.default_rng(4)
    res = _hybrik_res(model, rng)
    (tmp_path / "res.pk").write_bytes(pickle.dumps(res))
    est = read_estimates(tmp_path / "res.pk", image_size=lambda key: (720, 1280),
                         num_betas=model.num_betas, model=model)  # fmt: skip
    est = est.with_default_intrinsics(lambda i: (720, 1280))
    assert est.fmt == "hybrik" and est.frame.tolist() == ["clip-000001", "clip-000002",
                                                          "clip-000003"]  # fmt: skip
    side = res["bbox"][:, 2] - res["bbox"][:, 0]
    np.testing.assert_allclose(est.intrinsics[:, 0], 1000 / 256 * side, rtol=1e-6)
    np.testing.assert_allclose(est.intrinsics[:, 2:], np.tile([640, 360], (3, 1)))
    for i in range(3):
        pelvis = posed_joints(model, est.pose[i], est.betas[i], est.transl[i])[0]
        np.testing.assert_allclose(pelvis, res["transl"][i], atol=1e-5)
    wrong = dict(res, pred_thetas=res["pred_thetas"].reshape(3, 24, 4)[..., [1, 2, 3, 0]])
    (tmp_path / "xyzw.pk").write_bytes(pickle.dumps(wrong))
    with pytest.raises(InputError, match=r"xyzw.pk: HybrIK's joints .* m \(mean\) from the body"):
        read_estimates(tmp_path / "xyzw.pk", image_size=lambda key: (720, 1280), model=model)
    with pytest.raises(InputError, match=r"res.pk: .*needs the body model"):
        read_estimates(tmp_path / "res.pk", image_size=lambda key: (720, 1280))


def test_joblib_files_refuse_what_is_not_numbers(tmp_path):
    import fractions

    joblib = pytest.importorskip("joblib", reason="joblib (extra 'ref') writes the reference")
    (h, w) = (480, 640)
    people = _vibe_people(h, w, np.random.default_rng(1))
    joblib.dump(people, tmp_path / "v.pkl")
    with pytest.raises(InputError, match=r"'orig_cam' of estimate 0 was made for an image of "
                       r"another shape than its 480x480 image.*--ignore-exif"):  # fmt: skip
        read_estimates(tmp_path / "v.pkl", image_size=lambda i: (480, 480))  # a cropped video
    people[3]["extra"] = fractions.Fraction(1, 3)
    joblib.dump(people, tmp_path / "code.pkl")
    with pytest.raises(InputError, match="refusing to load fractions.Fraction"):
        read_estimates(tmp_path / "code.pkl", image_size=lambda i: (h, w))
    people[3]["extra"] = np.array([{"a": 1}], object)
    joblib.dump(people, tmp_path / "objects.pkl")
    with pytest.raises(InputError, match="refusing an array of object"):
        read_estimates(tmp_path / "objects.pkl", image_size=lambda i: (h, w))
    raw = (tmp_path / "v.pkl").read_bytes()
    (tmp_path / "cut.pkl").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match="cut.pkl: not a readable .pkl file"):
        read_estimates(tmp_path / "cut.pkl", image_size=lambda i: (h, w))


def test_several_estimates_of_one_image_need_no_frame_entries(tmp_path):
    """PARE's image output (one pkl per photo, a row per person) has no frame key: with one
    image every estimate is one of its people (crop cameras sized by that image)."""
    import imageio.v3 as iio

    from jaxrefine.refine_files import read_inputs
    from jaxrefine.smpl_io import load_body_model

    p = _params(n=2)
    np.savez(tmp_path / "e.npz", pose=np.zeros((2, 72)), betas=p["betas"],
             pred_cam=[[0.9, 0, 0], [1.0, 0.1, 0]], box_center=[[100, 80], [200, 90]],
             box_size=[120, 100])  # fmt: skip
    iio.imwrite(tmp_path / "photo.png", np.zeros((240, 320, 3), np.uint8))
    images, est, frame_of, *_ = read_inputs(tmp_path / "photo.png", tmp_path / "e.npz",
                                            load_body_model())  # fmt: skip
    assert frame_of.tolist() == [0, 0] and len(est) == 2
    assert np.all(est.intrinsics[:, 2:] == [160, 120])  # the image's centre, for both
    assert est.track_id.tolist() == [0, 1]  # two people, two tracks (no file's ids to keep)


def test_a_track_is_one_person_per_image(tmp_path):
    """Estimates without track ids: one track while every image holds one of them (a person
    through a video), each their own track where an image holds several (their shapes,
    motions and overlay files apart: before, two people of one image were track 0 twice and
    one overlay overwrote the other). A file's own ids repeating in an image: refused."""
    import imageio.v3 as iio

    from jaxrefine.refine_files import read_inputs
    from jaxrefine.smpl_io import load_body_model

    (tmp_path / "imgs").mkdir()
    for i in range(3):
        iio.imwrite(tmp_path / "imgs" / f"f{i}.png", np.zeros((48, 64, 3), np.uint8))
    p, model = _params(n=3), load_body_model()
    np.savez(tmp_path / "video.npz", **p, frame=[0, 1, 2])
    est = read_inputs(tmp_path / "imgs", tmp_path / "video.npz", model)[1]
    assert est.track_id.tolist() == [0, 0, 0] and est.tracks_from == "one"
    np.savez(tmp_path / "two.npz", **p, frame=[0, 0, 1])
    est = read_inputs(tmp_path / "imgs", tmp_path / "two.npz", model)[1]
    assert est.track_id.tolist() == [0, 1, 2]
    np.savez(tmp_path / "ids.npz", **p, frame=[0, 0, 1], track_id=[4, 7, 4])
    assert read_inputs(tmp_path / "imgs", tmp_path / "ids.npz", model)[1].track_id.tolist() == [
        4, 7, 4]  # fmt: skip
    np.savez(tmp_path / "bad.npz", **p, frame=[0, 1, 1], track_id=[4, 7, 7])
    with pytest.raises(InputError, match=r"bad.npz: track 7 has 2 estimates in image 'f1': a "
                       "track is one person"):  # fmt: skip
        read_inputs(tmp_path / "imgs", tmp_path / "bad.npz", model)


def test_a_videos_estimates_without_track_ids_are_linked(tmp_path):
    """Two people in every frame of a video, listed in another order from frame 2 on (ROMP
    and CLIFF list people by the detector's order): with a video file, or frames given with
    ``--video``, they are linked into two tracks by their projected boxes (the tracker of
    videos without estimates); a folder of photos keeps each its own track."""
    import imageio.v3 as iio

    from jaxrefine.refine_files import read_inputs
    from jaxrefine.smpl_io import load_body_model

    (tmp_path / "imgs").mkdir()
    frames = np.zeros((4, 240, 320, 3), np.uint8)
    for i, img in enumerate(frames):
        iio.imwrite(tmp_path / "imgs" / f"f{i}.png", img)
    iio.imwrite(tmp_path / "clip.mp4", frames, fps=10)
    x = {"a": lambda t: -0.6 + 0.05 * t, "b": lambda t: 0.6 - 0.05 * t}
    order = [("a", "b"), ("a", "b"), ("b", "a"), ("b", "a")]
    who = [w for ab in order for w in ab]
    transl = [[x[w](t), 0.0, 6.0] for t, ab in enumerate(order) for w in ab]
    n = len(who)
    np.savez(tmp_path / "est.npz", global_orient=np.tile([np.pi, 0, 0], (n, 1)),
             body_pose=np.zeros((n, 69)), betas=np.zeros((n, 10)), transl=transl,
             frame=np.repeat(np.arange(4), 2))  # fmt: skip
    model = load_body_model()
    photos = read_inputs(tmp_path / "imgs", tmp_path / "est.npz", model)[1]
    assert photos.track_id.tolist() == list(range(8)) and photos.tracks_from == "each"
    for src, video in ((tmp_path / "imgs", True), (tmp_path / "clip.mp4", False)):
        est = read_inputs(src, tmp_path / "est.npz", model, video=video)[1]
        track = est.track_id
        assert est.tracks_from == "linked"
        ids = {w: {int(t) for t, ww in zip(track, who) if ww == w} for w in "ab"}
        assert len(ids["a"]) == len(ids["b"]) == 1 and ids["a"] != ids["b"], (src, track)
    named = dict(np.load(tmp_path / "est.npz"))
    named["frame"] = np.array([f"clip-{i + 1:06d}.png" for i in named.pop("frame")])  # HybrIK's
    np.savez(tmp_path / "named.npz", **named)
    with pytest.raises(InputError, match=r"names image 'clip-000001'.*\(a video's frames are "
                       r"named 'frame_000000'.*HybrIK's raw_images/"):  # fmt: skip
        read_inputs(tmp_path / "clip.mp4", tmp_path / "named.npz", model)
    np.savez(tmp_path / "ids.npz", **np.load(tmp_path / "est.npz"), track_id=np.arange(n))
    with pytest.warns(UserWarning, match=r"ids.npz: has track ids of its own; they are kept"):
        est = read_inputs(tmp_path / "imgs", tmp_path / "ids.npz", model, video=True)[1]
    assert est.track_id.tolist() == list(range(8))


def test_a_folder_of_per_image_files_is_one_estimates_set(tmp_path):
    """PARE's image output (``pare_results/<image>.pkl``, a row per person, ``orig_cam``):
    ``--estimates pare_results/`` gives each file's people to the image of its name, each
    their own track; a file named after no image is refused by name."""
    import imageio.v3 as iio

    from jaxrefine.refine_files import read_inputs
    from jaxrefine.smpl_io import load_body_model

    joblib = pytest.importorskip("joblib", reason="joblib (extra 'ref') writes the reference")
    (h, w), rng = (48, 64), np.random.default_rng(0)
    (tmp_path / "imgs").mkdir()
    (tmp_path / "pare_results").mkdir()
    for name, people in (("a", 2), ("b", 1)):
        iio.imwrite(tmp_path / "imgs" / f"{name}.png", np.zeros((h, w, 3), np.uint8))
        rot = Rotation.from_rotvec(rng.normal(0, 0.2, (people * 24, 3))).as_matrix()
        joblib.dump({"pred_pose": rot.reshape(people, 24, 3, 3),
                     "pred_shape": rng.normal(0, 1, (people, 10)),
                     "orig_cam": np.tile([0.5, 0.5 * w / h, 0.1, 0.2], (people, 1)),
                     "pred_cam": np.ones((people, 3)), "bboxes": np.ones((people, 4))},
                    tmp_path / "pare_results" / f"{name}.pkl")  # fmt: skip
    model = load_body_model()
    images, est, frame_of, *_ = read_inputs(tmp_path / "imgs", tmp_path / "pare_results", model)
    assert frame_of.tolist() == [0, 0, 1] and est.track_id.tolist() == [0, 1, 2]
    assert est.source == str(tmp_path / "pare_results") and est.fmt == "crop-camera"
    X = np.array([[0.3, -0.4, 0.0]])
    vibe = [w / 2 * (1 + 0.5 * (0.3 + 0.1)), h / 2 * (1 + 0.5 * w / h * (-0.4 + 0.2))]
    np.testing.assert_allclose(_project(est.intrinsics[2], est.transl[2], X)[0], vibe,
                               atol=PIXEL_TOL)  # fmt: skip
    joblib.dump({"pred_pose": rot.reshape(1, 24, 3, 3), "pred_shape": np.zeros((1, 10)),
                 "orig_cam": [[0.5, 0.5 * w / h, 0, 0]]},
                tmp_path / "pare_results" / "c.pkl")  # fmt: skip
    with pytest.raises(InputError, match=r"c.pkl: .*no image named 'c' among the 2 images"):
        read_inputs(tmp_path / "imgs", tmp_path / "pare_results", model)
    with pytest.raises(InputError, match="no estimates files"):
        read_inputs(tmp_path / "imgs", tmp_path / "imgs", model)


def _phalp_file(path, h, w, focal=5000.0, res=256):
    """PHALP's / 4D-Humans' ``track.py`` output as its code builds it (``PHALP.track``'s
    ``final_visuals_dic``, ``get_human_apl``'s ``detection_data``, HMAR's
    ``get_3d_parameters`` with ``EXTRA.FOCAL_LENGTH`` = ``focal`` and ``render.res`` =
    ``res``): two frames; person 2 seen in both, person 5 seen in frame 0 and only predicted
    in frame 1; an appearance embedding as a torch tensor. Returns ``path`` and, per seen
    person, (frame, track id, crop camera s, tx, ty, box centre, box side) in the photo."""
    import torch

    joblib = pytest.importorskip("joblib", reason="joblib (extra 'ref') writes the reference")
    rng = np.random.default_rng(0)
    big = max(h, w)
    left, top, ratio = (big - w) // 2, (big - h) // 2, res / big
    out, seen = {}, []
    for t, people in ((0, [(2, 0), (5, 0)]), (1, [(2, 0), (5, 3)])):
        v = {"time": t, "shot": 0}
        for key in ("tid", "bbox", "tracked_time", "smpl", "camera", "size", "embedding",
                    "tracked_ids", "img_name"):  # fmt: skip
            v[key] = []
        for tid, since in people:
            x0, y0, bw, bh = 60.0 + 200 * (tid == 5) + 10 * t, 40.0, 120.0, 260.0
            c, side = np.array([x0 + bw / 2, y0 + bh / 2]), max(bw, bh)
            s, tx, ty = rng.uniform(0.8, 1.1), *rng.normal(0, 0.1, 2)
            c256, side256 = (c + [left, top]) * ratio, side * ratio
            tz = 2 * focal / (s * side256)
            cam = np.array([tx, ty, tz]) + np.r_[(c256 - res / 2) * tz / focal, 0]
            rot = Rotation.from_rotvec(rng.normal(0, 0.2, (24, 3))).as_matrix()
            v["tid"].append(tid)
            v["bbox"].append(np.array([x0, y0, bw, bh]))
            v["tracked_time"].append(since)
            v["smpl"].append({"global_orient": rot[:1], "body_pose": rot[1:],
                              "betas": rng.normal(0, 1, 10).astype(np.float32)})  # fmt: skip
            v["camera"].append(cam.astype(np.float32))
            v["size"].append([h, w])
            v["embedding"].append(torch.randn(8))
            v["img_name"].append(f"{t + 1:06d}.jpg")
            if since == 0:
                v["tracked_ids"].append(tid)
                seen.append((t, tid, s, tx, ty, c, side, rot))
        out[f"_DEMO/clip/img/{t + 1:06d}.jpg"] = v
    joblib.dump(out, path)
    return path, seen


def test_4dhumans_track_output_is_read_without_joblib_or_torch(tmp_path):
    """4D-Humans' ``track.py`` (PHALP) file: the people seen in each frame (not PHALP's
    predictions of hidden ones), PHALP's track ids and frame times, rotation matrices, and its
    camera placing the body where HMR 2.0's crop camera put it in the photo."""
    pytest.importorskip("torch", reason="torch (extra 'ref') writes the tensors PHALP stores")
    (h, w) = (480, 640)
    path, seen = _phalp_file(tmp_path / "demo_clip.pkl", h, w)
    est = read_estimates(path).with_default_intrinsics(lambda i: (h, w))
    assert est.frame.tolist() == [0, 0, 1] and est.track_id.tolist() == [2, 5, 2]
    assert est.focal_rule == "hmr2" and est.fmt == "4d-humans-phalp"
    X = np.array([[0.3, -0.4, 0.0], [-0.2, 0.5, 0.0]])  # points at the body's depth plane
    for i, (_, _, s, tx, ty, c, side, rot) in enumerate(seen):
        crop = c + side / 2 * s * (X[:, :2] + [tx, ty])  # HMR 2.0's crop camera, photo pixels
        np.testing.assert_allclose(_project(est.intrinsics[i], est.transl[i], X), crop,
                                   atol=PIXEL_TOL)  # fmt: skip
        got = Rotation.from_rotvec(est.pose[i]).as_matrix()
        np.testing.assert_allclose(got, rot, atol=ROTATION_TOL)
    other, _ = _phalp_file(tmp_path / "other.pkl", h, w, focal=500.0)  # not PHALP's defaults
    with pytest.raises(InputError, match=r"other.pkl: PHALP's camera puts only 0% of the "
                       r"people inside their own boxes"):  # fmt: skip
        read_estimates(other)


def test_frames_select_part_of_a_folder_or_a_video(tmp_path):
    """``--frames START:STOP[:STEP]``: a folder's or a video's frames by their place in the
    source (a video decoded only up to the last; names and frame indices stay the source's,
    the video's rate divided by the step); an estimates file's other frames are left out
    with a warning, its crop cameras of those frames sized from their files without a
    decode error; bad specs are refused."""
    import imageio.v3 as iio

    from jaxrefine.inputs.images import parse_frames
    from jaxrefine.refine_files import read_inputs
    from jaxrefine.smpl_io import load_body_model

    frames = np.zeros((6, 48, 64, 3), np.uint8)
    iio.imwrite(tmp_path / "clip.mp4", frames, fps=12)
    (tmp_path / "imgs").mkdir()
    for i in range(6):
        iio.imwrite(tmp_path / "imgs" / f"f{i}.png", frames[i])
    video = read_images(tmp_path / "clip.mp4", frames=parse_frames("1::2"))
    assert video.names == ("frame_000001", "frame_000003", "frame_000005")
    assert video.indices == (1, 3, 5) and video.fps == pytest.approx(6.0)
    folder = read_images(tmp_path / "imgs", frames=parse_frames(":2"))
    assert folder.names == ("f0", "f1") and folder.indices == (0, 1)
    for bad in ("5", "1:2:0", "-1:", "a:b"):
        with pytest.raises(InputError, match="--frames"):
            parse_frames(bad)
    with pytest.raises(InputError, match="selects none"):
        read_images(tmp_path / "imgs", frames=parse_frames("9:"))
    p, model = _params(n=6), load_body_model()
    np.savez(tmp_path / "est.npz", **p, frame=np.arange(6))
    with pytest.warns(UserWarning, match="3 estimates of frames --frames does not select"):
        _, est, frame_of, *_ = read_inputs(video, tmp_path / "est.npz", model)
    assert frame_of.tolist() == [0, 1, 2]
    np.testing.assert_allclose(est.transl, p["transl"][[1, 3, 5]])
    np.savez(tmp_path / "neg.npz", **p, frame=[1, 3, 5, -1, 0, 2])
    with pytest.warns(UserWarning, match="2 estimates of frames"):  # frames 0 and 2
        with pytest.raises(InputError, match="neg.npz: estimate 3 has frame -1, not one of"):
            read_inputs(video, tmp_path / "neg.npz", model)
    crop = {"pose": np.zeros((6, 72)), "betas": p["betas"],
            "pred_cam": np.tile([0.9, 0, 0], (6, 1)), "box_center": np.tile([32, 24], (6, 1)),
            "box_size": np.full(6, 40.0),
            "imgname": [f"f{i}.png" for i in range(6)]}  # fmt: skip
    np.savez(tmp_path / "crop.npz", **crop)
    with pytest.warns(UserWarning, match="4 estimates of frames"):
        _, est, frame_of, *_ = read_inputs(folder, tmp_path / "crop.npz", model)
    assert est.frame.tolist() == ["f0", "f1"] and frame_of.tolist() == [0, 1]
