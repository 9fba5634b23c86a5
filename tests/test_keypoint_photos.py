"""Photos from the user's own 2D keypoints (no regressor, no BlazePose): the keypoint
initializer, `refine PHOTOS --keypoints FILE` end to end, and its errors."""

from __future__ import annotations

import dataclasses
import json

import imageio.v3 as iio
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from jaxrefine import metrics, network
from jaxrefine.body_model import forward
from jaxrefine.camera import Camera, project
from jaxrefine.cli import main as cli_main
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import GeneratorConfig, generate
from jaxrefine.detect import initialize as ini
from jaxrefine.inputs import InputError
from jaxrefine.io import load_result
from jaxrefine.keypoints import BODY25_IGNORED_BY_SMPLIFY, KEYPOINT_PAST_EDGE, keypoints_past_edge
from jaxrefine.objective import load_gmm_prior
from jaxrefine.refine import RefineOptions
from jaxrefine.refine_files import refine_files
from jaxrefine.refine_outputs import Outputs
from jaxrefine.smpl_io import load_body_model

H, W = 480, 640
FX = 900.0  # the true focal length; the focal approximation would be 800 here
PIXEL_NOISE = 2.0  # px
# Bounds on the 24 SMPL joints (mm) and the depth (m) with the true intrinsics. Measured with
# the default InitConfig on 6 bodies at random yaw, BODY_25 keypoints with confidences in
# [0.3, 0.9] and this noise (docs/measurements/2026-12-03/s28_zen5/init_kp_measure.txt):
# MPJPE mean 53 / max 71, PA-MPJPE 38 / 56, depth error 0.18 / 0.34 m (with the focal
# approximation instead: depth error 0.65 / 0.95 m). Loose enough for other platforms, tight
# enough to fail when the set's points, its confidences or the intrinsics are not used.
MAX_PA_MPJPE_MM = 80.0
MAX_MPJPE_MM = 120.0
MAX_DEPTH_ERROR_M = 0.45
FAST = RefineOptions(batch_size=3, camera_steps=2, body_steps=3, texture_size=32)


@pytest.fixture(scope="module")
def model():
    return load_body_model()


@pytest.fixture(scope="module")
def gmm():
    return load_gmm_prior()


def _known_body(model, gmm, seed, yaw, set_name):
    rng = np.random.default_rng(seed)
    truth = {
        "global_orient": jnp.asarray(
            Rotation.from_matrix(ini.FACING_CAMERA @ ini._rot_y(yaw)).as_rotvec(), jnp.float32
        ),
        "body_pose": jnp.asarray(np.asarray(gmm.means[seed]).reshape(23, 3), jnp.float32),
        "betas": jnp.asarray(rng.normal(0, 0.5, model.num_betas), jnp.float32),
        "transl": jnp.asarray([0.2, 0.1, 6.0], jnp.float32),
    }
    kp = np.asarray(ini.LandmarkObjective(model, gmm, {}, set_name).keypoints(truth))
    cam = Camera.create(FX, cx=W / 2, cy=H / 2)
    px = np.asarray(project(cam, jnp.asarray(kp))) + rng.normal(0, PIXEL_NOISE, (len(kp), 2))
    return truth, np.concatenate([px, rng.uniform(0.3, 0.9, (len(kp), 1))], 1)


def _joints(model, p):
    pose = jnp.concatenate([jnp.asarray(p["global_orient"])[None], p["body_pose"]], 0)
    return forward(model, pose, p["betas"], p["transl"]).joints


@pytest.mark.slow  # one compile of the fit per set (~10 s), then < 1 s per body
@pytest.mark.parametrize("set_name, seed, yaw", [("body25", 0, 0.86), ("coco17", 4, 2.78)])
def test_initializer_recovers_a_known_body_from_keypoints(model, gmm, set_name, seed, yaw):
    truth, kp = _known_body(model, gmm, seed, yaw, set_name)
    est = ini.initialize(model, kp, (H, W), gmm=gmm, set_name=set_name,
                         intrinsics=(FX, FX, W / 2, H / 2))  # fmt: skip
    assert float(est.camera.fx) == FX and float(est.camera.cy) == H / 2  # the user's camera
    jt, je = _joints(model, truth), _joints(model, est.params)
    assert float(metrics.pa_mpjpe(je, jt)) < MAX_PA_MPJPE_MM
    assert float(metrics.mpjpe(je, jt)) < MAX_MPJPE_MM
    assert abs(float(est.params["transl"][2]) - 6.0) < MAX_DEPTH_ERROR_M
    assert est.losses.shape == (4,)  # no world points: the four turns about the vertical


def test_fit_weights_per_set():
    vis = np.full(33, 0.3, np.float32)
    assert not ini.fit_weights(vis, 0.5).any()  # MediaPipe: below its visibility gate
    conf = np.full(25, 0.3, np.float32)
    conf[3] = 0.0
    conf[4] = np.nan
    w = ini.fit_weights(conf, 0.5, "body25")  # a keypoint file: any positive confidence
    left_out = list(BODY25_IGNORED_BY_SMPLIFY) + [3, 4]
    assert (w[left_out] == 0).all() and np.allclose(np.delete(w, left_out), 0.3)
    assert np.allclose(ini.fit_weights(np.full(17, 0.2), 0.5, "coco17"), 0.2)


def test_initializer_refuses_what_it_cannot_fit(model):
    with pytest.raises(ValueError, match=r"\(25, 3\).*body25"):
        ini.initialize(model, np.ones((33, 3)), (H, W), set_name="body25")
    with pytest.raises(ValueError, match="world landmarks are MediaPipe's"):
        ini.initialize(model, np.ones((25, 3)), (H, W), np.zeros((33, 3)), set_name="body25")
    with pytest.raises(ValueError, match="usable landmarks"):
        ini.initialize(model, np.zeros((17, 3)), (H, W), set_name="coco17")


def _openpose(path, people):
    doc = {"version": 1.3, "people": [{"pose_keypoints_2d": p.reshape(-1).tolist()}
                                      for p in people]}  # fmt: skip
    path.write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def photos(tmp_path_factory, model):
    """Three 64x64 synthetic photos with OpenPose files of their people (the ground truth's
    BODY_25 keypoints, visibility as confidence) and a tiny network; the third photo's file
    adds a person with only 3 keypoints."""
    root = tmp_path_factory.mktemp("kp_photos")
    rng = np.random.default_rng(0)
    poses = rng.normal(0, 0.2, (8, 24, 3)).astype(np.float32)
    b = generate(model, poses, 3, 0, GeneratorConfig(scene=SceneConfig(image_size=(64, 64)),
                                                     texture_size=32))  # fmt: skip
    (root / "imgs").mkdir()
    (root / "kp").mkdir()
    for i, img in enumerate(b.image):
        iio.imwrite(root / "imgs" / f"frame{i}.png", (img * 255).astype(np.uint8))
        people = [np.concatenate([b.keypoints[i], b.visible[i][:, None]], 1)]
        if i == 2:
            few = np.zeros((25, 3), np.float32)
            few[:3] = [[5, 5, 0.9], [6, 9, 0.9], [4, 12, 0.9]]
            people.append(few)
        _openpose(root / "kp" / f"frame{i}_keypoints.json", np.asarray(people, np.float32))
    cfg = network.get_config("tiny")
    network.save_params(root / "tiny.npz", cfg, network.init_params(cfg, jax.random.key(0)), {})
    return root, b, network.load_params(root / "tiny.npz")[:2]


def _no_detector(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("BlazePose ran: the keypoint file's people need no detector")

    monkeypatch.setattr("jaxrefine.photo.read_photo_inputs", boom)
    monkeypatch.setattr("jaxrefine.detect.BlazePose", boom)


def test_refine_photos_from_a_keypoint_file(model, photos, tmp_path, monkeypatch):
    root, b, net = photos
    _no_detector(monkeypatch)
    k = np.asarray(b.camera(0).K)
    intr = [float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])]
    with pytest.warns(UserWarning, match=r"fewer than 4 usable keypoints for 1 person\(s\) "
                      r"\(e.g. frame2 person 1\)"):  # fmt: skip
        rep = refine_files(root / "imgs", None, tmp_path / "out", model=model, network=net,
                           keypoints_path=root / "kp", intrinsics=intr, options=FAST,
                           outputs=Outputs(tracks=False), progress=False)  # fmt: skip
    res = load_result(tmp_path / "out" / "refined.npz", model)
    assert list(res["frame"]) == ["frame0", "frame1", "frame2"]  # one person each
    assert not rep["failed"]
    # which person of each file they are, and their score (the mean confidence of their
    # detected keypoints: the ground truth's visibilities here)
    np.testing.assert_array_equal(res["person"], [0, 0, 0])
    np.testing.assert_allclose(res["person_score"], b.visible.mean(1) / (b.visible > 0).mean(1),
                               rtol=1e-6)  # fmt: skip
    assert [f["person"] for f in rep["frames"]] == [0, 0, 0]
    assert [f["person_score"] for f in rep["frames"]] == pytest.approx(res["person_score"],
                                                                       abs=1e-4)  # fmt: skip
    settings = rep["settings"]
    assert settings["estimates"] == "keypoints" and settings["estimates_format"] == "keypoints"
    assert settings["options"]["keypoint_set"] == "body25"
    assert settings["min_person_score"] == 0.2  # the default, recorded
    for f in rep["frames"]:
        assert f["final_objective"] <= f["initial_objective"] * (1 + 1e-6)
    np.testing.assert_allclose(res["camera_K"][:, 0, 0], intr[0])  # the user's intrinsics
    people = sorted(p.name for p in (tmp_path / "out" / "overlays").glob("*_people.png"))
    assert people == [f"frame{i}_people.png" for i in range(3)]
    # the keypoints the fit used are dots on the photo panel (viz.draw_points' colour)
    pic = iio.imread(tmp_path / "out" / "overlays" / "frame0_people.png")[:64, :64, :3]
    xy = np.round(b.keypoints[0][b.visible[0] > 0]).astype(int)
    xy = xy[np.all((xy >= 0) & (xy < 64), 1)]
    assert len(xy) >= 4
    np.testing.assert_array_equal(pic[xy[:, 1], xy[:, 0]], [[255, 51, 51]] * len(xy))


def test_a_folder_of_frames_said_to_be_a_video_gets_its_video(model, photos, tmp_path, monkeypatch):
    """``video=True`` on a folder of frames writes ``overlays.mp4`` too (before only a video
    file did), one picture per frame at the given rate."""
    from jaxrefine.inputs import read_images

    root, b, net = photos
    _no_detector(monkeypatch)
    with pytest.warns(UserWarning, match="fewer than 4 usable keypoints"):
        refine_files(root / "imgs", None, tmp_path / "out", model=model, network=net,
                     keypoints_path=root / "kp", options=FAST, video=True, progress=False,
                     outputs=Outputs(overlays=False, tracks=False, fps=12))  # fmt: skip
    video = read_images(tmp_path / "out" / "overlays.mp4")
    assert len(video) == 3 and video.fps == pytest.approx(12)
    assert np.shape(video[0]) == (64, 3 * 64 + 2 * 2, 3)


def test_a_dry_run_on_photos_finds_the_people_and_fits_nothing(
    model, photos, tmp_path, monkeypatch
):
    root, _, net = photos
    _no_detector(monkeypatch)
    monkeypatch.setattr("jaxrefine.refine_files.run_chunks", None)  # calling it would fail
    with pytest.warns(UserWarning, match="fewer than 4 usable keypoints"):
        got = refine_files(root / "imgs", None, tmp_path / "o", model=model, network=net,
                           keypoints_path=root / "kp", options=FAST, progress=False,
                           dry_run=True)  # fmt: skip
    p = got["plan"]
    assert (p["estimates"], p["estimates_with_keypoints"], p["images_with_people"]) == (3, 3, 3)
    assert any(f.endswith("(3 before / after pictures, 3 <image>_people.png)")
               for f in p["would_write"])  # fmt: skip
    assert got["settings"]["min_person_score"] == 0.2 and not (tmp_path / "o").exists()


def test_keypoints_far_past_the_image_edge_are_told_apart():
    """A 1920x1080 frame: keypoints inside, on the edges and just within the margin pass;
    just past it on any side they are flagged, unless their confidence is 0."""
    h, w, m = 1080, 1920, KEYPOINT_PAST_EDGE
    pts = [(w / 2, h / 2, 1), (0, h, 1), ((1 + 0.99 * m) * w, h / 2, 1), (w / 2, -0.99 * m * h, 1),
           ((1 + 1.01 * m) * w, h / 2, 1), (-1.01 * m * w, 0, 1), (0, (1 + 1.01 * m) * h, 0.1),
           (w / 2, -1.01 * m * h, 1), (5 * w, 5 * h, 0)]  # fmt: skip
    past = keypoints_past_edge(np.array(pts)[None], [(h, w)])
    assert past.tolist() == [[False] * 4 + [True] * 4 + [False]]


def test_keypoints_of_frames_of_another_size_are_named(model, photos, tmp_path, monkeypatch):
    """A keypoint file whose first frame's people were found on a frame of another size (its
    keypoints moved 200 px right, past the 64 px image's edge): one warning before any work
    names how many people, the first, a keypoint and the image's size; the others pass."""
    root, b, net = photos
    _no_detector(monkeypatch)
    (tmp_path / "kp").mkdir()
    for i in range(3):
        doc = json.loads((root / "kp" / f"frame{i}_keypoints.json").read_text())
        if i == 0:
            pts = np.array(doc["people"][0]["pose_keypoints_2d"]).reshape(25, 3)
            pts[:, 0] += 200.0
            doc["people"][0]["pose_keypoints_2d"] = pts.reshape(-1).tolist()
            j = int(np.argmax(pts[:, 2] > 0))  # the first keypoint it has
            x, y = pts[j, :2]
        (tmp_path / "kp" / f"frame{i}_keypoints.json").write_text(json.dumps(doc))
    with pytest.warns(UserWarning) as caught:
        refine_files(root / "imgs", None, tmp_path / "o", model=model, network=net,
                     keypoints_path=tmp_path / "kp", options=FAST, progress=False,
                     dry_run=True)  # fmt: skip
    said = [str(w.message) for w in caught if "past its edge" in str(w.message)]
    assert said == [
        f"{tmp_path / 'kp'}: the keypoints of 1 of the 3 people reach more than 25% of the "
        f"image's side past its edge (e.g. estimate 0, image 'frame0': ({x:.0f}, {y:.0f}) in "
        "64x64 px): were they detected on frames of another size (a video's full-size frames, "
        "given resized)? The bodies are fitted to them as given"
    ]


def test_keypoint_photos_use_the_photo_defaults_without_masks(photos, tmp_path, monkeypatch):
    """From the command line: the photos' landmark weight and confidence weights, the mask
    gate off (no masks), and the estimates of a keypoint file's people are its frames'."""
    from jaxrefine.photo import LANDMARK_WEIGHT

    root, _, _ = photos
    _no_detector(monkeypatch)
    seen = {}

    def spy(model, net, images, est, frame_of, kp, options, out, **kw):
        seen.update(kw, options=options, kp=kp, est=est)
        raise SystemExit(0)  # stop before the fit: the options are what this test reads

    monkeypatch.setattr("jaxrefine.refine_files.run_chunks", spy)
    with pytest.raises(SystemExit):
        cli_main(["refine", str(root / "imgs" / "frame0.png"), "--keypoints",
                  str(root / "kp" / "frame0_keypoints.json"), "--out", str(tmp_path / "o"),
                  "--checkpoint", str(root / "tiny.npz")])  # fmt: skip
    opts = seen["options"]
    assert seen["masks"] is None and opts.mask_gate == 0.0 and opts.silhouette_weight == 0.0
    assert (opts.keypoint_set, opts.keypoint_weight) == ("body25", LANDMARK_WEIGHT)
    assert seen["kp"].shape == (1, 25, 3) and seen["est"].fmt == "keypoints"


def test_the_initial_fits_use_the_prior_gmm_names(
    model, photos, tmp_path, monkeypatch, other_prior_file
):
    """``--gmm``: the keypoint file's people are initialized with that prior (each start is
    more likely under the prior it was fitted with) and the fit's options name it; in Python
    ``refine_photo`` initializes with ``options.gmm_path``'s prior too."""
    from jaxrefine import photo
    from jaxrefine.priors import load_gmm

    root, b, _ = photos
    read_photo_inputs = photo.read_photo_inputs  # BlazePose's path, for the end
    _no_detector(monkeypatch)
    seen = []

    def spy(model, net, images, est, frame_of, kp, options, out, **kw):
        seen.append((options, est))
        raise SystemExit(0)  # stop before the fit: the starts are what this test reads

    monkeypatch.setattr("jaxrefine.refine_files.run_chunks", spy)
    args = ["refine", str(root / "imgs" / "frame0.png"), "--keypoints",
            str(root / "kp" / "frame0_keypoints.json"), "--out", str(tmp_path / "o"),
            "--checkpoint", str(root / "tiny.npz")]  # fmt: skip
    for more in ([], ["--gmm", str(other_prior_file)]):
        with pytest.raises(SystemExit):
            cli_main(args + more)
    (plain_options, plain), (options, theirs) = seen
    assert plain_options.gmm_path is None and options.gmm_path == str(other_prior_file)
    other, shipped = load_gmm(other_prior_file), load_gmm()

    def energy(prior, est):
        return float(prior.energy(jnp.asarray(est.body_pose, jnp.float32).reshape(-1)))

    assert energy(other, theirs) < energy(other, plain)
    assert energy(shipped, plain) < energy(shipped, theirs)
    priors = []

    def stop(*a, gmm=None, **kw):
        priors.append(gmm)
        raise SystemExit(0)

    monkeypatch.setattr(photo, "estimates_from_keypoints", stop)
    people = np.concatenate([b.keypoints[0], b.visible[0][:, None]], 1)[None]
    with pytest.raises(SystemExit):
        theirs_options = dataclasses.replace(FAST, gmm_path=str(other_prior_file))
        photo.refine_photo(model, b.image[0], None, keypoints=people, options=theirs_options)
    # BlazePose's people (a stand-in detector: its people are not what this reads)
    monkeypatch.setattr(photo, "read_photo_inputs", read_photo_inputs)
    monkeypatch.setattr("jaxrefine.detect.BlazePose", lambda: None)
    monkeypatch.setattr(photo, "estimates_from_photo", stop)
    args = ["refine", str(root / "imgs" / "frame0.png"), "--out", str(tmp_path / "o"),
            "--checkpoint", str(root / "tiny.npz"), "--gmm", str(other_prior_file)]  # fmt: skip
    with pytest.raises(SystemExit):
        cli_main(args)
    with pytest.raises(SystemExit):
        photo.refine_photo(model, b.image[0], None, options=theirs_options)
    assert len(priors) == 3
    for prior in priors:
        np.testing.assert_array_equal(prior.means, other.means)


def test_keypoint_photo_options(photos):
    from jaxrefine.photo import LANDMARK_WEIGHT
    from jaxrefine.refine_files import keypoint_options, photo_defaults

    cfg = network.get_config("tiny")
    opts = photo_defaults(FAST, None, None, None, cfg, keypoints="kp.json")
    assert opts.mask_gate == 0.0 and not opts.needs_masks
    assert photo_defaults(FAST, None, None, None, cfg).mask_gate > 0  # BlazePose's photos
    opts = keypoint_options(opts, "coco17", photos=True)
    assert (opts.keypoint_set, opts.keypoint_weight) == ("coco17", LANDMARK_WEIGHT)


def test_video_frames_link_the_keypoint_files_people(model, photos, tmp_path, monkeypatch):
    """Two people, listed in the other order in the second frame: one track each."""
    from jaxrefine.detect import track
    from jaxrefine.photo import read_keypoint_photo_inputs

    root, b, _ = photos
    (tmp_path / "kp").mkdir()
    a = np.concatenate([b.keypoints[0], b.visible[0][:, None]], 1)
    right = a + np.asarray([30.0, 0.0, 0.0], np.float32)
    _openpose(tmp_path / "kp" / "frame0_keypoints.json", np.stack([a, right]))
    _openpose(tmp_path / "kp" / "frame1_keypoints.json", np.stack([right + [1, 0, 0], a]))
    frames = [str(root / "imgs" / f"frame{i}.png") for i in range(2)]
    real, given = track.link_tracks, []

    def spy(boxes, **kw):
        given.append(kw["features"])
        return real(boxes, **kw)

    monkeypatch.setattr(track, "link_tracks", spy)
    _, est, frame_of, kp, kp_set, landmarks, masks = read_keypoint_photo_inputs(
        frames, model, tmp_path / "kp", video=True)  # fmt: skip
    # colours inside each person's keypoint box went to the tracker
    assert [np.shape(c) for c in given[0]] == [(2, track.BINS**3)] * 2
    assert list(frame_of) == [0, 0, 1, 1] and kp_set == "body25" and kp.shape == (4, 25, 3)
    assert landmarks is None and masks is None
    assert est.track_id[0] == est.track_id[3] and est.track_id[1] == est.track_id[2]
    assert est.track_id[0] != est.track_id[1]
    _, est, *_ = read_keypoint_photo_inputs(frames, model, tmp_path / "kp")
    assert list(est.track_id) == [0, 1, 2, 3]  # separate photos: everyone their own


def test_keypoint_photos_refuse_what_does_not_fit(model, photos, tmp_path):
    root, _, net = photos
    kw = dict(model=model, network=net, keypoints_path=root / "kp", progress=False)

    def refused(match, **more):
        with pytest.raises(InputError, match=match):
            refine_files(root / "imgs", None, tmp_path / "o", **{**kw, **more})
        assert not (tmp_path / "o").exists()

    refused("--box / --tiles choose the people the detector finds; a keypoint file",
            boxes=[[0, 0, 10, 10]], options=FAST)  # fmt: skip
    refused("need BlazePose's person masks",
            options=dataclasses.replace(FAST, mask_gate=0.03))  # fmt: skip
    (tmp_path / "few").mkdir()
    few = np.zeros((1, 25, 3), np.float32)
    few[0, :3] = [[5, 5, 0.9], [6, 9, 0.9], [4, 12, 0.9]]
    _openpose(tmp_path / "few" / "frame0_keypoints.json", few)
    with pytest.warns(UserWarning) as said:
        refused(r"few: no person with at least 4 usable keypoints and a score of at least 0.2 "
                r"in any of the 3 image",
                keypoints_path=tmp_path / "few", options=FAST)  # fmt: skip
    said = " | ".join(str(w.message) for w in said)
    assert "no keypoints for 2 image(s) (e.g. 'frame1')" in said
    assert "fewer than 4 usable keypoints for 1 person(s) (e.g. frame0 person 0)" in said


def test_a_mediapipe_file_is_initialized_from_its_landmarks_and_world_points(
    model, gmm, tmp_path, monkeypatch
):
    """A MediaPipe Tasks result is initialized as BlazePose's people are: from its 33
    landmarks and world points (hence the world-point hypotheses), fitted as BODY_25."""
    from jaxrefine.photo import read_keypoint_photo_inputs

    truth, lm = _known_body(model, gmm, 1, 2.0, "mediapipe33")
    kp3d = np.asarray(ini.LandmarkObjective(model, gmm, {}, "mediapipe33").keypoints(truth))
    world = kp3d - kp3d[list(ini.HIPS)].mean(0)
    iio.imwrite(tmp_path / "p.png", np.zeros((H, W, 3), np.uint8))
    person = [{"x": x / W, "y": y / H, "visibility": 0.95} for x, y in lm[:, :2]]
    # a second, faint person first (all visibilities below MediaPipe's 0.5: score 0) with
    # other world points: left out, and the world points passed on must stay the first's
    faint = [{**p, "visibility": 0.2} for p in person]
    world_people = [[dict(zip("xyz", map(float, p))) for p in w] for w in (world * 0.5, world)]
    tasks = {"pose_landmarks": [faint, person], "pose_world_landmarks": world_people}
    (tmp_path / "p.json").write_text(json.dumps(tasks))
    real, calls = ini.initialize, []
    monkeypatch.setattr(ini, "initialize", lambda *a, **k: calls.append((a, k)) or real(*a, **k))
    intr = [FX, FX, W / 2, H / 2]
    with pytest.warns(UserWarning, match=r"1 person\(s\) score below 0.2 .*p person 0 \(0.00\)"):
        _, est, _, kp, kp_set, *_ = read_keypoint_photo_inputs(
            tmp_path / "p.png", model, tmp_path / "p.json", intrinsics=intr
        )
    ((args, kw),) = calls
    assert kw["set_name"] == "mediapipe33" and args[1].shape == (33, 3)
    np.testing.assert_allclose(args[3], world, atol=1e-5)
    assert kp_set == "body25" and kp.shape == (1, 25, 3)
    fit = {k: jnp.asarray(getattr(est, k)[0]) for k in ("global_orient", "body_pose", "betas",
                                                         "transl")}  # fmt: skip
    assert float(metrics.pa_mpjpe(_joints(model, fit), _joints(model, truth))) < MAX_PA_MPJPE_MM


def test_refine_photo_takes_keypoints_in_python(model, photos, monkeypatch):
    """``refine_photo(..., keypoints=...)``: the library call behind the command, no BlazePose;
    the person with 3 keypoints is left out and ``kept`` says so."""
    from jaxrefine import photo

    root, b, net = photos
    _no_detector(monkeypatch)
    monkeypatch.setattr(photo, "estimates_from_photo", photo.read_photo_inputs)  # boom too
    people = np.stack([np.concatenate([b.keypoints[2], b.visible[2][:, None]], 1),
                       np.zeros((25, 3), np.float32)])  # fmt: skip
    k = np.asarray(b.camera(2).K)
    intr = (k[0, 0], k[1, 1], k[0, 2], k[1, 2])
    real, seen = photo.refine, []
    monkeypatch.setattr(photo, "refine", lambda *a, **kw: seen.append(kw) or real(*a, **kw))
    res = photo.refine_photo(model, b.image[2], net, keypoints=people, intrinsics=intr,
                             options=FAST)  # fmt: skip
    opts = seen[0]["options"]
    assert (opts.keypoint_set, opts.keypoint_weight) == ("body25", photo.LANDMARK_WEIGHT)
    assert seen[0]["keypoints"].shape == (1, 25, 3) and seen[0]["masks"] is None
    assert list(res["kept"]) == [0] and res["landmarks"] is None and res["masks"] is None
    assert res["refined"]["body_pose"].shape == (1, 23, 3)
    assert float(res["final_loss"][0]) <= float(res["init_loss"][0]) * (1 + 1e-6)
    assert float(res["cameras"].fx[0]) == pytest.approx(k[0, 0])
    with pytest.raises(ValueError, match="boxes choose the people"):
        photo.refine_photo(model, b.image[2], net, keypoints=people, boxes=[[0, 0, 9, 9]])
    with pytest.raises(ValueError, match="need BlazePose's masks"):
        photo.refine_photo(model, b.image[2], net, keypoints=people,
                           options=dataclasses.replace(FAST, mask_gate=0.03))  # fmt: skip
    with pytest.raises(ValueError, match="no person with at least 4 usable keypoints"):
        photo.refine_photo(model, b.image[2], net, keypoints=people[1:], options=FAST)


def test_person_scores():
    from jaxrefine.inputs.keypoint_files import person_scores

    people = np.zeros((3, 17, 3), np.float32)
    people[0, :3, 2] = [0.5, 1.0, 0.0]  # two detected points: (0.5 + 1) / 2
    people[1, :, 2] = 0.3
    np.testing.assert_allclose(person_scores(people), [0.75, 0.3, 0.0], rtol=1e-6)
    assert person_scores(np.zeros((0, 25, 3))).shape == (0,)


def test_a_coco_results_files_score_chooses_its_people(tmp_path):
    """A detector's COCO results: with keypoint values 1, the person's score is the result's
    ``score`` (which the reader multiplies into the confidences)."""
    from jaxrefine.inputs.keypoint_files import person_scores, read_coco

    pts = np.zeros((17, 3))
    pts[:, 0], pts[:, 1], pts[:, 2] = np.arange(17) * 3 + 10, np.arange(17) * 2 + 5, 1
    results = [{"image_id": 7, "category_id": 1, "keypoints": pts.ravel().tolist(), "score": s}
               for s in (0.9, 0.08)]  # fmt: skip
    (tmp_path / "res.json").write_text(json.dumps(results))
    np.testing.assert_allclose(person_scores(read_coco(tmp_path / "res.json").people("7")),
                               [0.9, 0.08], rtol=1e-6)  # fmt: skip


def test_low_scoring_people_of_a_keypoint_file_are_left_out_by_name(model, photos, tmp_path):
    from jaxrefine.photo import read_keypoint_photo_inputs

    root, b, net = photos
    (tmp_path / "kp").mkdir()
    real = np.concatenate([b.keypoints[0], b.visible[0][:, None]], 1)
    ghost = real * np.asarray([1, 1, 0.1], np.float32) + np.asarray([20, 0, 0], np.float32)
    _openpose(tmp_path / "kp" / "frame0_keypoints.json", np.stack([ghost, real]))
    frame = str(root / "imgs" / "frame0.png")
    with pytest.warns(UserWarning, match=r"1 person\(s\) score below 0.2 .*frame0 person 0 "
                      r"\(0.10\)\); they are not refined \(--min-person-score\)"):  # fmt: skip
        _, est, _, kp, *_ = read_keypoint_photo_inputs(frame, model, tmp_path / "kp")
    assert len(est) == 1 and np.array_equal(kp[0], real)
    score = real[real[:, 2] > 0, 2].mean()
    assert est.person.tolist() == [1]  # its place in the file, past the ghost left out
    np.testing.assert_allclose(est.score, [score], rtol=1e-6)
    _, est, _, kp, *_ = read_keypoint_photo_inputs(frame, model, tmp_path / "kp",
                                                   min_person_score=0.05)  # fmt: skip
    assert len(est) == 2 and np.array_equal(kp[1], real)
    assert est.person.tolist() == [0, 1]
    np.testing.assert_allclose(est.score, [0.1 * score, score], rtol=1e-6)
    with pytest.raises(InputError, match=r"no person with at least 4 usable keypoints and a "
                       r"score of at least 1.01"), pytest.warns(UserWarning):  # fmt: skip
        read_keypoint_photo_inputs(frame, model, tmp_path / "kp", min_person_score=1.01)
    # a detector's COCO results (image ids) named by an images file
    coco = real[[0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11]]  # BODY_25 -> COCO
    (tmp_path / "res.json").write_text(json.dumps([{"image_id": 40, "keypoints": coco.ravel()
                                                    .tolist(), "score": 0.9}]))  # fmt: skip
    (tmp_path / "ann.json").write_text(
        json.dumps({"images": [{"id": 40, "file_name": "frame0.png"}]})
    )
    _, est, _, kp, kp_set, *_ = read_keypoint_photo_inputs(
        frame, model, tmp_path / "res.json", keypoint_images=tmp_path / "ann.json")  # fmt: skip
    assert len(est) == 1 and kp_set == "coco17"
    np.testing.assert_allclose(kp[0], coco * [1, 1, 0.9], rtol=1e-6)  # confidence x score
    kw = dict(model=model, network=net, options=FAST, progress=False, min_person_score=0.1)
    for est_path, boxes in ((tmp_path / "e.npz", None), (None, [[0, 0, 9, 9]])):
        with pytest.raises(InputError, match="--min-person-score chooses among the people "
                           "found in photos"):  # fmt: skip
            refine_files(frame, est_path, tmp_path / "o", boxes=boxes, **kw)
    for est_path, kp_path, boxes in (
        (tmp_path / "e.npz", None, None),
        (None, tmp_path / "kp", None),
        (None, None, [[0, 0, 9, 9]]),
    ):
        with pytest.raises(InputError, match="--max-people limits the people the detector"):
            refine_files(frame, est_path, tmp_path / "o", keypoints_path=kp_path, boxes=boxes,
                         **{**kw, "min_person_score": None, "max_people": 3})  # fmt: skip
    with pytest.raises(InputError, match="--keypoint-images names the image ids"):
        refine_files(frame, None, tmp_path / "o", keypoint_images=tmp_path / "ann.json",
                     **{**kw, "min_person_score": None})  # fmt: skip
    # the detector's limits out of range: refused before any image is read (a score of 0 or
    # a tile of 0 once made the detection of one photo run for minutes, or never end)
    for changes, said in (
        ({"min_person_score": 0.0}, r"BlazePose's detector is a score in \(0, 1\].*got 0$"),
        ({"tiles": (1.0, 0.0, 1.5)}, r"--tiles are fractions .* in \[0.05, 1\].*got 0 1.5$"),
    ):
        with pytest.raises(ValueError, match=said):
            refine_files(frame, None, tmp_path / "o", **{**kw, "min_person_score": None,
                                                         **changes})  # fmt: skip
    assert not (tmp_path / "o").exists()
