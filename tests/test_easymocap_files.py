"""EasyMocap's SMPL output and calibration, written the way its code writes them
(``write_smpl``, its ``FileStorage`` writer, and OpenCV's own YAML): read as camera-frame SMPL
parameters whose body is EasyMocap's ``R(Rh) @ lbs(poses, shapes) + Th`` seen by the chosen
camera, refused by name when it is something else."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from jaxrefine.body_model import from_arrays
from jaxrefine.inputs import InputError, read_estimates
from jaxrefine.inputs.easymocap_files import read_opencv_yaml
from jaxrefine.testing import make_smpl_size_arrays

SIZE = (480, 640)  # (h, w) of the calibrated images
# EasyMocap's body and ours from the parameters as read: both are float32 forward passes of
# bodies a few metres from the camera, posed with differently composed root rotations
# (float32 relative rounding ~6e-8 of coordinates up to ~6 m, times a few operations)
VERTEX_TOL = 1e-4  # metres


def _matrix_lines(key: str, a: np.ndarray) -> list[str]:
    """One matrix as EasyMocap's FileStorage.write writes it."""
    a = np.atleast_2d(a)
    data = ", ".join(f"{x:.6f}" for x in a.reshape(-1))
    return [f"{key}: !!opencv-matrix", f"  rows: {a.shape[0]}", f"  cols: {a.shape[1]}",
            "  dt: d", f"  data: [{data}]"]  # fmt: skip


def _write_calibration(folder, cameras: dict, sizes: bool = False) -> None:
    """``cameras``: name -> (K, dist, rvec, T) written as EasyMocap's write_camera does
    (CRLF lines, ``%YAML:1.0``)."""
    intri, extri = ["%YAML:1.0", "---", "names:"], ["%YAML:1.0", "---", "names:"]
    for name in cameras:
        intri.append(f'  - "{name}"')
        extri.append(f'  - "{name}"')
    for name, (K, dist, rvec, T) in cameras.items():
        intri += _matrix_lines(f"K_{name}", K) + _matrix_lines(f"dist_{name}", dist)
        if sizes:
            intri += [f"H_{name}: {SIZE[0]}", f"W_{name}: {SIZE[1]}"]
        R = Rotation.from_rotvec(rvec).as_matrix()
        extri += (_matrix_lines(f"R_{name}", rvec.reshape(3, 1)) + _matrix_lines(f"Rot_{name}", R)
                  + _matrix_lines(f"T_{name}", T.reshape(3, 1)))  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "intri.yml").write_bytes("\r\n".join(intri + [""]).encode())
    (folder / "extri.yml").write_bytes("\r\n".join(extri + [""]).encode())


def _camera(rng, f=600.0):
    """A calibrated camera looking at the world origin from ~4 m (values as written: 6
    decimals)."""
    K = np.array([[f, 0, 320.5], [0, f, 241.25], [0, 0, 1]])
    rvec = np.round(rng.normal(0, 0.4, 3), 6)
    T = np.round(np.array([0.1, -0.2, 4.0]) + rng.normal(0, 0.1, 3), 6)
    return K, np.zeros(5), rvec, T


def _person(rng, pid: int) -> dict:
    """One person as write_smpl writes it (3 decimals), with a root rotation in ``poses``."""
    poses = np.round(rng.normal(0, 0.2, 72), 3)
    return {"id": pid, "Rh": np.round(rng.normal(0, 0.5, (1, 3)), 3).tolist(),
            "Th": np.round(rng.normal(0, 0.3, (1, 3)), 3).tolist(),
            "poses": poses.reshape(1, 72).tolist(),
            "shapes": np.round(rng.normal(0, 1, (1, 10)), 3).tolist()}  # fmt: skip


def _write_frame(path, people) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(people, indent=4).replace("\n", "\r\n"))


def _one_frame(tmp_path, seed: int, names=("01",), sizes=False, frame="000000.json"):
    """A calibration of cameras ``names`` in ``tmp_path`` and one frame file of one person
    (``frame``, relative to it): ``(the frame's path, the rng)``."""
    rng = np.random.default_rng(seed)
    _write_calibration(tmp_path, {n: _camera(rng) for n in names}, sizes=sizes)
    f = tmp_path / frame
    _write_frame(f, [_person(rng, 0)])
    return f, rng


def _their_body(model, person: dict, camera):
    """EasyMocap's SMPLlayer.forward (R(Rh) @ lbs + Th) in the camera frame (R x + T): the
    body's vertices and joints moved alike."""
    from jaxrefine.body_model import forward

    _, _, rvec, T = camera
    betas = np.zeros(model.num_betas, np.float32)
    betas[:10] = np.asarray(person["shapes"]).reshape(10)[: model.num_betas]
    body = forward(model, np.asarray(person["poses"], np.float32).reshape(24, 3), betas)
    rh = Rotation.from_rotvec(np.asarray(person["Rh"]).reshape(3)).as_matrix()
    R = Rotation.from_rotvec(rvec).as_matrix()

    def move(x):
        x = (np.asarray(x, np.float64) @ rh.T + np.asarray(person["Th"]).reshape(3)) @ R.T + T
        return x.astype(np.float32)

    return body.__class__(move(body.vertices), move(body.joints), body.keypoint_sets)


def _their_vertices(model, person: dict, camera) -> np.ndarray:
    return np.asarray(_their_body(model, person, camera).vertices)


def _our_vertices(model, est, i: int) -> np.ndarray:
    from jaxrefine.body_model import forward

    return np.asarray(forward(model, est.pose[i], est.betas[i], est.transl[i]).vertices)


@pytest.fixture(scope="module")
def model():
    from jaxrefine.smpl_io import load_body_model

    return load_body_model()


def _size(_key):
    return SIZE


def test_bodies_are_easymocaps_seen_by_the_images_camera(tmp_path, model):
    """Two cameras; the one named like the images folder is used: the body posed with the
    parameters as read is EasyMocap's body in that camera's frame."""
    rng = np.random.default_rng(0)
    cams = {"01": _camera(rng), "02": _camera(rng, 800.0)}
    _write_calibration(tmp_path, cams)
    people = [_person(rng, 3), _person(rng, 5)]
    _write_frame(tmp_path / "output" / "smpl" / "000007.json", people)
    est = read_estimates(tmp_path / "output" / "smpl" / "000007.json", image_size=_size,
                         num_betas=model.num_betas, model=model, camera="02")  # fmt: skip
    assert est.fmt == "easymocap" and list(est.frame) == ["000007"] * 2
    assert est.track_id.tolist() == [3, 5]
    np.testing.assert_allclose(est.intrinsics[0], [800.0, 800.0, 320.5, 241.25])
    for i, person in enumerate(people):
        ours, theirs = _our_vertices(model, est, i), _their_vertices(model, person, cams["02"])
        assert np.abs(ours - theirs).max() < VERTEX_TOL
    # the model users bring (SMPL-size, pose correctives): its own rest root joint, same body
    smpl_size = from_arrays(make_smpl_size_arrays(0), model_id="s", gender="neutral",
                            num_betas=10)  # fmt: skip
    est_s = read_estimates(tmp_path / "output" / "smpl" / "000007.json", image_size=_size,
                           num_betas=10, model=smpl_size, camera="02")  # fmt: skip
    for i, person in enumerate(people):
        theirs = _their_vertices(smpl_size, person, cams["02"])
        assert np.abs(_our_vertices(smpl_size, est_s, i) - theirs).max() < VERTEX_TOL
    # the other camera sees another body: the choice matters
    other = read_estimates(tmp_path / "output" / "smpl" / "000007.json", image_size=_size,
                           num_betas=model.num_betas, model=model, camera="01")  # fmt: skip
    assert np.abs(_our_vertices(model, other, 0) - _our_vertices(model, est, 0)).max() > 0.1


def test_opencv_written_yaml_reads_like_easymocaps(tmp_path):
    """OpenCV's own FileStorage layout (3-space indents, ``1.``-style numbers, data over
    several lines, unquoted number names) reads to the same matrices."""
    text = ("%YAML:1.0\n---\nnames:\n   - 1\nK_1: !!opencv-matrix\n   rows: 3\n   cols: 3\n"
            "   dt: d\n   data: [ 6.0000000000000000e+02, 0., 3.2050000000000000e+02, 0.,\n"
            "       600., 2.4125000000000000e+02, 0., 0., 1. ]\nH_1: 480\nW_1: 640\n")  # fmt: skip
    (tmp_path / "intri.yml").write_text(text)
    got = read_opencv_yaml(tmp_path / "intri.yml")
    np.testing.assert_array_equal(got["K_1"], [[600, 0, 320.5], [0, 600, 241.25], [0, 0, 1]])
    assert got["names"] == [1] and got["H_1"] == 480


def test_one_camera_needs_no_name_and_its_size_is_checked(tmp_path, model):
    f, _ = _one_frame(tmp_path, 1, ("cam",), sizes=True, frame="output/smpl/000000.json")
    est = read_estimates(f, image_size=_size, num_betas=model.num_betas, model=model)
    assert len(est) == 1
    with pytest.raises(InputError, match="calibrated for 640x480 images and its image is 320x240"):
        read_estimates(f, image_size=lambda k: (240, 320), num_betas=model.num_betas,
                       model=model)  # fmt: skip


def test_principal_point_outside_the_image_refused(tmp_path, model):
    """Without H_/W_ the principal point must lie in the image (a calibration of frames of
    another size)."""
    f, _ = _one_frame(tmp_path, 2, ("cam",), frame="output/smpl/000000.json")
    with pytest.raises(InputError, match=r"principal point \(320.5, 241.2\) lies outside"):
        read_estimates(f, image_size=lambda k: (200, 300), num_betas=model.num_betas,
                       model=model)  # fmt: skip


def test_several_cameras_and_no_name_refused_naming_them(tmp_path, model):
    f, _ = _one_frame(tmp_path, 3, ("01", "02"), frame="output/smpl/000000.json")
    with pytest.raises(InputError, match=r"has 2 cameras \(01, 02\) and the images folder's "
                                         r"name \('frames'\) is none of them"):  # fmt: skip
        read_estimates(f, image_size=_size, model=model, camera="frames")


def test_missing_calibration_refused_naming_where_it_looked(tmp_path, model):
    rng = np.random.default_rng(4)
    f = tmp_path / "a" / "b" / "c" / "d" / "000000.json"
    _write_frame(f, [_person(rng, 0)])
    _write_calibration(tmp_path, {"01": _camera(rng)})  # 4 folders above: too far
    with pytest.raises(InputError, match=r"no intri.yml \+ extri.yml was found .*looked in"):
        read_estimates(f, image_size=_size, model=model)


def test_other_layouts_and_damaged_entries_refused(tmp_path, model):
    rng = np.random.default_rng(5)
    _write_calibration(tmp_path, {"01": _camera(rng)})
    f = tmp_path / "000000.json"

    def refused(people, match):
        _write_frame(f, people)
        with pytest.raises(InputError, match=match):
            read_estimates(f, image_size=_size, model=model)

    p = _person(rng, 0)
    refused([{**p, "poses": [[0.0] * 87], "expression": [[0.0] * 10]}], r"87 numbers \(SMPL-X\)")
    refused([{**p, "poses": [[0.0] * 78]}], r"78 numbers \(SMPL\+H\)")
    refused([{**p, "Th": [[1.0, float("nan"), 0.0]]}], "'Th' holds NaN")
    refused([{**p, "Rh": [[1.0, 2.0]]}], "'Rh' and 'Th' must hold 3 numbers")
    refused([{**p, "id": "a"}], "'id' must be an integer")
    refused([{"id": 0, "keypoints": [[1, 2, 3]]}], "not EasyMocap's SMPL output")
    f.write_text("[{")
    with pytest.raises(InputError, match="not a readable json file"):
        read_estimates(f, image_size=_size, model=model)
    _write_frame(f, [])
    with pytest.raises(InputError, match="EasyMocap's frame holds no people"):
        read_estimates(f, image_size=_size, model=model)
    _write_frame(f, [p])
    assert len(read_estimates(f.parent, image_size=_size, model=model)) == 1  # beside intri.yml
    (tmp_path / "extri.yml").write_text("%YAML:1.0\n---\nnames: [01]\nR_01: !!opencv-matrix\n"
                                        "  rows: 3\n")  # fmt: skip
    with pytest.raises(InputError, match="extri.yml: not a readable OpenCV YAML file"):
        read_estimates(f, image_size=_size, model=model)


def test_lens_distortion_is_warned_about(tmp_path, model):
    rng = np.random.default_rng(6)
    K, _, rvec, T = _camera(rng)
    _write_calibration(tmp_path, {"01": (K, np.array([-0.2, 0.05, 0, 0, 0]), rvec, T)})
    f = tmp_path / "000000.json"
    _write_frame(f, [_person(rng, 0)])
    with pytest.warns(UserWarning, match=r"lens distortion \(-0.2, 0.05, 0, 0, 0\) is left out"):
        read_estimates(f, image_size=_size, model=model)


def test_damaged_distortion_is_refused_by_name(tmp_path, model):
    """A ``dist_`` entry that is not finite numbers (it was once read unchecked)."""
    f, _ = _one_frame(tmp_path, 12)
    lines = (tmp_path / "intri.yml").read_bytes().decode().split("\r\n")
    k = lines.index("dist_01: !!opencv-matrix")
    nan = list(lines)
    nan[k + 4] = nan[k + 4].replace("data: [0.000000", "data: [.nan", 1)
    words = lines[:k] + ["dist_01: [a, b]"] + lines[k + 5 :]  # not a matrix: a list of words
    for text, match in ((nan, "'dist_01' holds NaN"), (words, "'dist_01' must hold numbers")):
        (tmp_path / "intri.yml").write_text("\n".join(text))
        with pytest.raises(InputError, match=f"intri.yml: {match}"):
            read_estimates(f, image_size=_size, model=model)


def test_folder_leaves_out_frames_without_people(tmp_path, model):
    rng = np.random.default_rng(7)
    _write_calibration(tmp_path, {"01": _camera(rng)})
    smpl = tmp_path / "output" / "smpl"
    _write_frame(smpl / "000000.json", [_person(rng, 0), _person(rng, 1)])
    _write_frame(smpl / "000001.json", [])
    _write_frame(smpl / "000002.json", [_person(rng, 1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no distortion: nothing to warn about
        est = read_estimates(smpl, image_size=_size, num_betas=model.num_betas, model=model)
    assert list(est.frame) == ["000000", "000000", "000002"]
    assert est.track_id.tolist() == [0, 1, 1] and est.named_tracks
    _write_frame(smpl / "000000.json", [])
    _write_frame(smpl / "000002.json", [])
    with pytest.raises(InputError, match="none of its 3 files holds a person"):
        read_estimates(smpl, image_size=_size, model=model)


@pytest.mark.parametrize("damaged", ["intri.yml", "extri.yml", "000000.json"])
def test_damaged_bytes_are_refused_by_name(tmp_path, model, damaged):
    """Truncated or altered calibration and frame files read or are refused as InputError
    naming a file, never another exception."""
    f, rng = _one_frame(tmp_path, 8)
    good = (tmp_path / damaged).read_bytes()
    for trial in range(40):
        raw = bytearray(good[: rng.integers(1, len(good))] if trial % 2 else good)
        for k in rng.integers(0, len(raw), 3):
            raw[k] = int(rng.integers(0, 256))
        (tmp_path / damaged).write_bytes(bytes(raw))
        try:
            with warnings.catch_warnings():  # an altered distortion is warned about: a reading
                warnings.filterwarnings("ignore", ".*the camera's lens distortion", UserWarning)
                read_estimates(f, image_size=_size, model=model)
        except InputError as exc:
            assert any(name in str(exc) for name in ("intri.yml", "extri.yml", "000000.json"))


def test_easymocap_dataset_plans_a_run(tmp_path, plan_run):
    """EasyMocap's dataset layout end to end up to the fit (``dry_run``): the images of
    camera 02 (its folder's name picks the camera) with the output folder."""
    import imageio.v3 as iio

    rng = np.random.default_rng(9)
    _write_calibration(tmp_path, {"01": _camera(rng), "02": _camera(rng)}, sizes=True)
    for k, n in ((0, 2), (1, 1)):
        (tmp_path / "images" / "02").mkdir(parents=True, exist_ok=True)
        iio.imwrite(tmp_path / "images" / "02" / f"{k:06d}.jpg", np.zeros((*SIZE, 3), np.uint8))
        _write_frame(tmp_path / "output" / "smpl" / f"{k:06d}.json",
                     [_person(rng, j) for j in range(n)])  # fmt: skip
    got = plan_run(tmp_path / "images" / "02", tmp_path / "output" / "smpl", tmp_path / "out")
    p = got["plan"]
    assert (p["estimates"], p["tracks"], p["images_with_people"]) == (3, 2, 2)
    assert got["settings"]["estimates_format"] == "easymocap" and not (tmp_path / "out").exists()


def _write_annots(path, people_points) -> None:
    """EasyMocap's 2D annotation file (its save_annot: json, indent 4)."""
    annots = [{"bbox": [*pts[:, :2].min(0), *pts[:, :2].max(0), 0.9], "personID": i,
               "keypoints": pts.tolist(), "isKeyframe": False}
              for i, pts in enumerate(people_points)]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"filename": f"images/02/{path.stem}.jpg", "height": SIZE[0],
                                "width": SIZE[1], "annots": annots, "isKeyframe": False},
                               indent=4))  # fmt: skip


def test_annots_read_as_body25_keypoints(tmp_path):
    """EasyMocap's ``annots/<camera>/`` folder: BODY_25 people per frame, named by the file's
    stem; a point at (0, 0) is never a target; damaged people refused by name."""
    from jaxrefine.inputs import read_keypoints

    rng = np.random.default_rng(10)
    pts = np.column_stack([rng.uniform(50, 600, (25, 2)), rng.uniform(0.3, 1, 25)])
    pts[4] = 0  # OpenPose's missing joint
    folder = tmp_path / "annots" / "02"
    _write_annots(folder / "000000.json", [pts, pts + [5, 5, 0]])
    _write_annots(folder / "000001.json", [])
    kp = read_keypoints(folder)
    assert kp.set_name == "body25" and sorted(kp.frames) == ["000000", "000001"]
    np.testing.assert_allclose(kp.people("000000")[1], pts + [5, 5, 0], atol=1e-4)
    assert kp.people("000000")[0, 4, 2] == 0 and kp.people("000001").shape == (0, 25, 3)
    _write_annots(folder / "000001.json", [pts[:18]])
    with pytest.raises(InputError, match=r"000001.json annots\[0\] \(BODY_25: 25 points\): "
                       r"expected 25 x \(x, y, c\) = 75 numbers, got 54"):  # fmt: skip
        read_keypoints(folder)


def test_easymocap_dataset_plans_a_run_with_its_annots(tmp_path):
    """The estimates, the images of camera 02 and its annots: every estimate finds its
    keypoints."""
    import imageio.v3 as iio
    import jax

    from jaxrefine import network
    from jaxrefine.refine import RefineOptions
    from jaxrefine.refine_files import refine_files
    from jaxrefine.smpl_io import load_body_model

    rng = np.random.default_rng(11)
    cam = _camera(rng)
    _write_calibration(tmp_path, {"02": cam}, sizes=True)
    model, people = load_body_model(), [_person(rng, 0)]
    (tmp_path / "images" / "02").mkdir(parents=True)
    iio.imwrite(tmp_path / "images" / "02" / "000000.jpg", np.zeros((*SIZE, 3), np.uint8))
    _write_frame(tmp_path / "output" / "smpl" / "000000.json", people)
    kp3d = np.asarray(_their_body(model, people[0], cam).keypoints("body25"))  # drawn by K
    pts = np.column_stack([kp3d[:, :2] / kp3d[:, 2:] * 600.0 + [320.5, 241.25], np.ones(25)])
    _write_annots(tmp_path / "annots" / "02" / "000000.json", [pts])
    cfg = network.get_config("tiny")
    got = refine_files(tmp_path / "images" / "02", tmp_path / "output" / "smpl",
                       tmp_path / "out", model=model, network=(cfg, network.init_params(
                           cfg, jax.random.key(0))), keypoints_path=tmp_path / "annots" / "02",
                       options=RefineOptions(), progress=False, dry_run=True)  # fmt: skip
    assert got["plan"]["estimates_with_keypoints"] == 1
