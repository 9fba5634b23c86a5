"""TRAM's results (``np.save`` of dicts of PyTorch tensors) read without torch: the bodies
against TRAM's camera, the refusals by name (the tensors themselves: test_torch_files.py)."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from jaxrefine.inputs import InputError, read_estimates

torch = pytest.importorskip("torch", reason="torch (extra 'ref') writes TRAM's tensors")
pytestmark = pytest.mark.ref

# float32 rotation matrices -> axis-angle -> matrices: ~1e-6 rad lost; 1e-5 leaves margin
ROTATION_TOL = 1e-5
# float32 vertices at ~5 m and focal ~1,000 px: ~1e-4 px of rounding between the two sides
PIXEL_TOL = 1e-2
SIZE = (360, 640)  # (h, w) of the frames TRAM read


def _tram_track(model, rng, frames, transl_xy=0.1):
    """A TRAM track file's dict (torch tensors, as estimate_humans.py saves VIMO's results)
    and the SMPL parameters it holds."""
    from jaxrefine.body_model import forward

    n = len(frames)
    pose = rng.normal(0, 0.25, (n, 24, 3))
    pose[:, 0] = [np.pi, 0, 0]  # upright in the camera frame (y down)
    betas = rng.normal(0, 0.5, (n, 10)).astype(np.float32)
    transl = np.column_stack([rng.uniform(-transl_xy, transl_xy, (n, 2)) * 5,
                              rng.uniform(4, 6, n)]).astype(np.float32)  # fmt: skip
    rotmat = Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix().reshape(n, 24, 3, 3)
    f32 = lambda a: torch.from_numpy(np.asarray(a, np.float32))  # noqa: E731
    track = {
        "pred_cam": f32(rng.uniform(0.5, 1, (n, 3))),
        "pred_pose": f32(rotmat[..., :2].transpose(0, 1, 3, 2).reshape(n, 144)),
        "pred_shape": f32(betas),
        "pred_rotmat": f32(rotmat),
        "pred_trans": f32(transl[:, None]),
        "frame": torch.from_numpy(np.asarray(frames)),
    }
    verts = np.stack([np.asarray(forward(model, pose[i].astype(np.float32),
                                         betas[i, :model.num_betas], transl[i]).vertices)
                      for i in range(n)])  # fmt: skip
    return track, verts


def _write_tram(root, model, rng, focal=800.0):
    """TRAM's results folder of a video: camera.npy and two tracks (files 0 and 2: TRAM
    ranks tracks by length and can skip short ones)."""
    (root / "hps").mkdir(parents=True)
    n = {0: [0, 1, 2, 3], 2: [2, 3]}
    tracks = {k: _tram_track(model, rng, frames) for k, frames in n.items()}
    for k, (track, _) in tracks.items():
        np.save(root / "hps" / f"hps_track_{k}.npy", track)
    h, w = SIZE
    calib = np.array([focal, focal, w / 2, h / 2])  # calibrate_intrinsics' np.array
    np.save(root / "camera.npy", {"pred_cam_R": np.tile(np.eye(3), (4, 1, 1)),
                                  "pred_cam_T": np.zeros((4, 3)), "img_focal": calib[0],
                                  "img_center": calib[2:]})  # fmt: skip
    return tracks


def test_tram_results_are_read_with_their_camera(tmp_path):
    """TRAM's track files: the folder (``hps`` or the video's results folder) or one file;
    each file a track (its number), frames the video's indices, ``camera.npy``'s focal and
    centre; the bodies project where TRAM's renderer draws them (its pinhole with
    ``img_focal`` on SMPL's vertices plus ``pred_trans``)."""
    from jaxrefine.body_model import forward
    from jaxrefine.smpl_io import load_body_model

    model, rng = load_body_model(), np.random.default_rng(0)
    tracks = _write_tram(tmp_path / "results" / "clip", model, rng)
    size = lambda key: SIZE  # noqa: E731
    for where in ("results/clip", "results/clip/hps"):
        est = read_estimates(tmp_path / where, image_size=size, num_betas=model.num_betas)
        assert est.fmt == "tram" and est.track_id.tolist() == [0] * 4 + [2] * 2
        assert est.frame.tolist() == [0, 1, 2, 3, 2, 3] and est.named_tracks
    np.testing.assert_allclose(est.intrinsics, np.tile([800, 800, 320, 180], (6, 1)))
    verts = np.concatenate([v for _, v in tracks.values()])
    betas = np.concatenate([t["pred_shape"].numpy() for t, _ in tracks.values()])
    np.testing.assert_allclose(est.betas, betas[:, : model.num_betas])
    for i in range(len(est)):
        ours = np.asarray(forward(model, est.pose[i], est.betas[i], est.transl[i]).vertices)
        np.testing.assert_allclose(_pixels(est.intrinsics[i], ours), _pixels(est.intrinsics[i],
                                   verts[i]), atol=PIXEL_TOL)  # fmt: skip
    one = read_estimates(tmp_path / "results/clip/hps/hps_track_2.npy", image_size=size)
    assert one.track_id.tolist() == [2, 2] and one.frame.tolist() == [2, 3]
    rotmat = tracks[2][0]["pred_rotmat"].numpy()
    np.testing.assert_allclose(Rotation.from_rotvec(one.pose.reshape(-1, 3)).as_matrix(),
                               rotmat.reshape(-1, 3, 3), atol=ROTATION_TOL)  # fmt: skip


def _pixels(k, X):
    return k[:2] * X[:, :2] / X[:, 2:] + k[2:]


def test_tram_files_are_read_without_torch(tmp_path, without_torch):
    """The reader imports no torch: a Python where ``import torch`` fails reads the files."""
    from jaxrefine.smpl_io import load_body_model

    _write_tram(tmp_path / "clip", load_body_model(), np.random.default_rng(1))
    out = without_torch("from jaxrefine.inputs import read_estimates\n"
                        f"est = read_estimates({str(tmp_path / 'clip')!r}, "
                        f"image_size=lambda k: {SIZE})\n"
                        "print(len(est), est.fmt, 'torch' in sys.modules)")  # fmt: skip
    assert out.split() == ["6", "tram", "False"]


def test_tram_files_refused_by_name(tmp_path):
    """Without its camera.npy (unless --intrinsics), with another video's camera, with
    tensors numpy has no dtype for, or a class that is not a tensor: refused, naming the
    file and why."""
    from jaxrefine.smpl_io import load_body_model

    model, rng, size = load_body_model(), np.random.default_rng(2), lambda key: SIZE
    _write_tram(tmp_path / "clip", model, rng)
    moved = tmp_path / "moved"
    moved.mkdir()
    track = tmp_path / "clip" / "hps" / "hps_track_0.npy"
    (moved / track.name).write_bytes(track.read_bytes())
    with pytest.raises(InputError, match=r"hps_track_0.npy: TRAM's translations were made for "
                       r"the focal in its camera.npy, which is neither.*--intrinsics"):  # fmt: skip
        read_estimates(moved, image_size=size)
    est = read_estimates(moved, image_size=size, intrinsics=(800.0, 800.0, 320.0, 180.0))
    assert len(est) == 4
    (moved / "camera.npy").write_bytes((tmp_path / "clip" / "camera.npy").read_bytes())
    np.testing.assert_allclose(
        read_estimates(moved, image_size=size).intrinsics[0], [800, 800, 320, 180]
    )  # beside the file: read too
    _write_tram(tmp_path / "zoomed", model, np.random.default_rng(2), focal=20000.0)
    with pytest.raises(InputError, match=r"hps_track_0.npy: only \d+% of TRAM's bodies land "
                       "in or near their images"):  # fmt: skip
        read_estimates(tmp_path / "zoomed", image_size=size)
    for name, bad, why in (
        ("bf16", torch.zeros(3, dtype=torch.bfloat16), r"torch.BFloat16Storage \(an unsupported"),
        ("device", torch.device("cpu"), r"refusing to load torch.device"),
    ):  # fmt: skip
        p = tmp_path / "hps" / f"{name}.npy"
        p.parent.mkdir(exist_ok=True)
        np.save(p, dict(_tram_track(model, rng, [0])[0], extra=bad))
        with pytest.raises(InputError, match=f"{name}.npy: .*{why}"):
            read_estimates(p, image_size=size)


def test_tram_output_plans_a_run(tmp_path, plan_run):
    """TRAM's results folder on the video's frames (``video2frames``' ``%04d.jpg``), end to
    end up to the fit (``dry_run``): its tracks, frames and camera."""
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model()
    _write_tram(tmp_path / "clip", model, np.random.default_rng(3))
    (tmp_path / "images").mkdir()
    for i in range(4):
        iio.imwrite(tmp_path / "images" / f"{i:04d}.jpg", np.zeros((*SIZE, 3), np.uint8))
    got = plan_run(tmp_path / "images", tmp_path / "clip", tmp_path / "out")
    p = got["plan"]
    assert (p["estimates"], p["tracks"], p["images_with_people"]) == (6, 2, 4)
    assert got["settings"]["estimates_format"] == "tram" and not (tmp_path / "out").exists()
