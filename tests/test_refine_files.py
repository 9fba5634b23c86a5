"""`jaxrefine refine` on a user's files: formats in, every output out, resume, clear errors."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import imageio.v3 as iio
import jax
import numpy as np
import pytest

from jaxrefine import network
from jaxrefine.body_model import OPEN_MODEL_ID
from jaxrefine.cli import main as cli_main
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import GeneratorConfig, generate
from jaxrefine.inputs import InputError
from jaxrefine.io import load_result
from jaxrefine.refine import CameraWarning, OutOfViewWarning, RefineOptions
from jaxrefine.refine_files import refine_files
from jaxrefine.refine_outputs import Outputs
from jaxrefine.smpl_io import load_body_model

FAST = RefineOptions(batch_size=3, camera_steps=2, body_steps=3, texture_size=32)


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """Three frames of two people: PNGs, a generic estimates npz and a tiny checkpoint."""
    root = tmp_path_factory.mktemp("user")
    model = load_body_model()
    rng = np.random.default_rng(0)
    poses = rng.normal(0, 0.2, (8, 24, 3)).astype(np.float32)
    b = generate(model, poses, 3, 0, GeneratorConfig(scene=SceneConfig(image_size=(64, 64)),
                                                     texture_size=32))  # fmt: skip
    (root / "imgs").mkdir()
    for i, img in enumerate(b.image):
        iio.imwrite(root / "imgs" / f"frame{i}.png", (img * 255).astype(np.uint8))
    np.savez(root / "est.npz", global_orient=b.init_pose[:, 0], body_pose=b.init_pose[:, 1:],
             betas=b.init_betas, transl=b.init_transl, imgname=["frame0.png", "frame1.png",
             "frame2.png"], track_id=[0, 0, 1], camera_K=np.stack([np.asarray(
             b.camera(i).K) for i in range(3)]))  # fmt: skip
    cfg = network.get_config("tiny")
    network.save_params(root / "tiny.npz", cfg, network.init_params(cfg, jax.random.key(0)), {})
    return model, root, network.load_params(root / "tiny.npz")[:2]


def _dry_run_args(root, out) -> list[str]:
    """``jaxrefine refine --dry-run`` of :func:`user_files`' images, estimates and network."""
    return ["refine", str(root / "imgs"), "--estimates", str(root / "est.npz"), "--out", str(out),
            "--checkpoint", str(root / "tiny.npz"), "--dry-run"]  # fmt: skip


def test_refine_files_writes_every_output_and_resumes(user_files, monkeypatch, other_prior_file):
    model, root, net = user_files
    out = root / "out"
    rep = refine_files(root / "imgs", root / "est.npz", out, model=model, network=net,
                       options=FAST, outputs=Outputs(obj=True), chunk=2,
                       progress=False)  # fmt: skip
    res = load_result(out / "refined.npz", model)
    assert res["body_pose"].shape == (3, 69) and list(res["track_id"]) == [0, 0, 1]
    assert list(res["frame"]) == ["frame0", "frame1", "frame2"]
    saved = json.loads((out / "report.json").read_text())
    assert len(saved["frames"]) == 3 and saved["settings"]["estimates_format"] == "generic"
    assert saved["settings"]["machine"]["jax_backend"] == jax.default_backend()
    for f in saved["frames"]:
        assert f["final_objective"] <= f["initial_objective"] * (1 + 1e-6)
        assert f["visible_vertices"] > 0
        assert "data" in f["terms"] and all(v >= 0 for v in f["terms"].values())
    assert len(list((out / "overlays").glob("*.png"))) == 3
    assert len(list((out / "meshes").glob("*.obj"))) == 3
    assert {p.name for p in (out / "tracks").iterdir()} == {
        "track_0.glb", "track_0.bvh", "track_1.glb", "track_1.bvh"}  # fmt: skip
    assert not rep["failed"] and len(list((out / "parts").glob("*.npz"))) == 2
    _its_files_point_to_its_result(out, model)

    def boom(*a, **k):
        raise AssertionError("a finished chunk was refitted")

    monkeypatch.setattr("jaxrefine.refine_files.refine", boom)
    again = refine_files(root / "imgs", root / "est.npz", out, model=model, network=net,
                         options=FAST, outputs=Outputs(overlays=False, tracks=False), chunk=2,
                         resume=True, progress=False)  # fmt: skip
    assert [f["final_objective"] for f in again["frames"]] == [
        f["final_objective"] for f in saved["frames"]]  # fmt: skip
    # a resumed run with other settings or inputs is refused, naming what differs
    import dataclasses

    other = dataclasses.replace(FAST, body_steps=4)
    with pytest.raises(InputError, match=r"part_00000.npz: made with other settings "
                       r"\(options.body_steps\)"):  # fmt: skip
        refine_files(root / "imgs", root / "est.npz", out, model=model, network=net,
                     options=other, chunk=2, resume=True, progress=False)  # fmt: skip
    other = dataclasses.replace(FAST, gmm_path=str(other_prior_file))
    with pytest.raises(InputError, match=r"part_00000.npz: made with other settings "
                       r"\(options.gmm_path, pose_prior\)"):  # fmt: skip
        refine_files(root / "imgs", root / "est.npz", out, model=model, network=net,
                     options=other, chunk=2, resume=True, progress=False)  # fmt: skip
    moved = dict(np.load(root / "est.npz"))
    moved["transl"] = moved["transl"] + np.float32(0.01)
    np.savez(root / "est_moved.npz", **moved)
    with pytest.raises(InputError, match=r"part_00000.npz: made from other inputs"):
        refine_files(root / "imgs", root / "est_moved.npz", out, model=model, network=net,
                     options=FAST, chunk=2, resume=True, progress=False)  # fmt: skip
    with pytest.raises(InputError, match=r"part_00000.npz: holds other estimates than this "
                       r"run's chunk \(another --chunk"):  # fmt: skip
        refine_files(root / "imgs", root / "est.npz", out, model=model, network=net,
                     options=FAST, chunk=3, resume=True, progress=False)  # fmt: skip


def _its_files_point_to_its_result(out, model) -> None:
    """A run's folder, report or chunk given back as estimates names what to give instead."""
    from jaxrefine.inputs import read_estimates

    chunk = r"a chunk of a jaxrefine refine run \(its parts/, kept for --resume\): give the run's"
    for given, said in ((out, "a jaxrefine refine output folder: give its refined.npz"),
                        (out / "report.json", "the report of a jaxrefine refine run: give the "
                         "refined.npz beside it"),
                        (out / "parts" / "part_00000.npz", chunk)):  # fmt: skip
        with pytest.raises(InputError, match=f"{re.escape(str(given))}: {said}"):
            read_estimates(given, image_size=lambda k: (64, 64), model=model)


def test_an_earlier_runs_files_are_resumed_replaced_or_refused(user_files, tmp_path, capsys):
    """A second run into the same --out mixed its files with the first's (the first's extra
    overlays and tracks stayed beside the new ones): now it is refused, naming them, unless
    --resume continues the run or --overwrite replaces just its files."""
    model, root, net = user_files
    out = tmp_path / "out"
    kw = dict(model=model, network=net, options=FAST, outputs=Outputs(tracks=False),
              progress=False)  # fmt: skip
    refine_files(root / "imgs", root / "est.npz", out, **kw)
    (out / "overlays" / "frame9_9.png").write_bytes(b"an earlier run's picture")
    (out / "notes.txt").write_text("the user's own file")
    with pytest.raises(InputError, match=r"out: holds an earlier run's refined.npz, report.json, "
                       r"parts/, overlays/; give --resume.*--overwrite"):  # fmt: skip
        refine_files(root / "imgs", root / "est.npz", out, **kw)
    with pytest.raises(InputError, match="give one"):
        refine_files(root / "imgs", root / "est.npz", out, resume=True, overwrite=True, **kw)
    with pytest.raises(InputError, match="no such estimates file"):  # bad input: nothing removed
        refine_files(root / "imgs", root / "missing.npz", out, overwrite=True, **kw)
    assert (out / "overlays" / "frame9_9.png").is_file()
    args = _dry_run_args(root, out)
    assert cli_main(args) == 0
    assert "holds an earlier run's refined.npz" in capsys.readouterr().out
    for flag, then in (("--overwrite", "--overwrite replaces them"),
                       ("--resume", "--resume continues it")):  # fmt: skip
        assert cli_main([*args, flag]) == 0 and then in capsys.readouterr().out
    refine_files(root / "imgs", root / "est.npz", out, overwrite=True, **kw)
    assert not (out / "overlays" / "frame9_9.png").exists()
    assert (out / "notes.txt").read_text() == "the user's own file"
    assert len(list((out / "overlays").glob("*.png"))) == 3 and (out / "refined.npz").is_file()


def test_an_optimizer_without_a_version_for_the_data_fails_before_work(
    user_files, tmp_path, dense_only_optimizer
):
    """A learned optimizer with a version for dense targets only, asked for dense targets plus
    keypoints: refused before anything is read or written, naming the way out; with dense
    targets only it is accepted."""
    import dataclasses

    model, root, net = user_files
    dense_only = dataclasses.replace(FAST, optimizer=dense_only_optimizer)
    for kw, hint in (({"estimates_path": None}, "--no-landmarks"),
                     ({"estimates_path": root / "est.npz", "keypoints_path": "kp.json"},
                      "no --keypoints")):  # fmt: skip
        with pytest.raises(InputError, match=f"--optimizer lgd-dense-only: no checkpoint .*"
                           f"'dense\\+keypoints'.*with {hint}"):  # fmt: skip
            refine_files(tmp_path / "no_such_photo.jpg", out=tmp_path / "o", model=model,
                         network=net, options=dense_only, progress=False, **kw)  # fmt: skip
        assert not (tmp_path / "o").exists()
    out = refine_files(root / "imgs", root / "est.npz", tmp_path / "dense", model=model,
                       network=net, options=dense_only, progress=False)  # fmt: skip
    assert len(out["frames"]) > 0


def test_a_users_lgd_checkpoint_is_checked_against_the_data_and_the_body_model(
    user_files, tmp_path, capsys
):
    """``--optimizer lgd:PATH``: a checkpoint trained for other observations is refused before
    work; one trained on another body model runs with a warning naming both models; a missing
    checkpoint is a one-line flag error."""
    import dataclasses
    import warnings

    from jaxrefine.optimizers import learned
    from jaxrefine.refine_files import _check_optimizer

    model, root, net = user_files
    learned.save_lgd(tmp_path / "sparse", learned.load_pretrained("sparse"), {})
    with pytest.raises(InputError, match="trained for 'keypoints' observations, this fit has "
                       "'dense'"):  # fmt: skip
        refine_files(root / "imgs", root / "est.npz", tmp_path / "o", model=model, network=net,
                     options=dataclasses.replace(FAST, optimizer=f"lgd:{tmp_path / 'sparse'}"),
                     progress=False)  # fmt: skip
    assert not (tmp_path / "o").exists()

    dense = learned.load_pretrained("dense")
    learned.save_lgd(tmp_path / "theirs", dense, {"body_model": {"model_id": "SMPL_X:0a1b"}})
    theirs = dataclasses.replace(FAST, optimizer=f"lgd:{tmp_path / 'theirs'}")
    with pytest.warns(UserWarning, match=f"trained on the body model 'SMPL_X:0a1b', this run "
                      f"fits '{model.model_id}'"):  # fmt: skip
        rep = refine_files(root / "imgs", root / "est.npz", tmp_path / "out", model=model,
                           network=net, options=theirs, progress=False)  # fmt: skip
    assert len(rep["frames"]) == 3 and not rep["failed"]
    learned.save_lgd(tmp_path / "mine", dense, {"body_model": {"model_id": model.model_id}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same model, or the shipped LGD on the open model
        for spec in (f"lgd:{tmp_path / 'mine'}", "lgd"):
            _check_optimizer(dataclasses.replace(FAST, optimizer=spec), model, False, False)
    with pytest.warns(UserWarning, match="lgd_dense was trained on the body model "
                      f"'{OPEN_MODEL_ID}', this run fits 'SMPL_X:0a1b'"):  # fmt: skip
        _check_optimizer(dataclasses.replace(FAST, optimizer="lgd"),
                         model.replace(model_id="SMPL_X:0a1b"), False, False)  # fmt: skip

    args = ["refine", str(root / "imgs"), "--estimates", str(root / "est.npz"), "--out",
            str(tmp_path / "o"), "--optimizer", f"lgd:{tmp_path / 'nope'}"]  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        cli_main(args)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and f"not found: {tmp_path / 'nope.npz'}" in err
    assert not (tmp_path / "o").exists()


def test_inconsistent_inputs_fail_before_work(user_files, tmp_path, capsys):
    model, root, net = user_files
    z = dict(np.load(root / "est.npz"))
    z["imgname"] = np.array(["frame0.png", "frame1.png", "nope.png"])
    np.savez(tmp_path / "bad.npz", **z)
    with pytest.raises(InputError, match="bad.npz: estimate 2 names image 'nope'"):
        refine_files(root / "imgs", tmp_path / "bad.npz", tmp_path / "o", model=model,
                     network=net, options=FAST, progress=False)  # fmt: skip
    assert not (tmp_path / "o").exists()
    args = ["refine", str(root / "imgs"), "--estimates", str(tmp_path / "bad.npz"), "--out",
            str(tmp_path / "o"), "--checkpoint", str(root / "tiny.npz")]  # fmt: skip
    code = cli_main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "nope" in err[0]


def test_frames_counted_from_one_are_named_as_such(user_files, tmp_path):
    """Frame numbers 1..3 for the 3 images: the error says they may count from 1; a frame
    past the end among numbers from 0 gets no such hint."""
    model, root, net = user_files
    est = {k: v for k, v in np.load(root / "est.npz").items() if k != "imgname"}

    def read(frames):
        np.savez(tmp_path / "est.npz", **est, frame=np.asarray(frames))
        with pytest.raises(InputError) as caught:
            refine_files(root / "imgs", tmp_path / "est.npz", tmp_path / "o", model=model,
                         network=net, options=FAST, progress=False, dry_run=True)  # fmt: skip
        return str(caught.value)

    said = read([1, 2, 3])
    assert said.endswith("estimate 2 has frame 3, outside the 3 images of "
                         f"{root / 'imgs'} (frames counted from 1? they are counted from 0 "
                         "here: subtract 1)")  # fmt: skip
    assert read([0, 1, 3]).endswith(f"outside the 3 images of {root / 'imgs'}")


def test_frames_numbered_without_leading_zeros_need_an_order(user_files, tmp_path, capsys):
    """Images frame_1, frame_2, frame_10 (frame_10 before frame_2 by name): frame indices,
    one estimate per image, --video, --frames and --temporal-weight are refused naming both
    orders and the way out; estimates naming their images need no order otherwise;
    --image-order chooses one."""
    from jaxrefine.inputs import read_images
    from jaxrefine.refine_files import read_inputs

    model, root, net = user_files
    (tmp_path / "imgs").mkdir()
    for i, n in enumerate((1, 2, 10)):
        shutil.copy(root / "imgs" / f"frame{i}.png", tmp_path / "imgs" / f"frame_{n}.png")
    est = {k: v for k, v in np.load(root / "est.npz").items() if k != "imgname"}
    where = tmp_path / "est.npz"

    def dry(estimates=where, **flags) -> dict:
        flags = {"options": FAST, **flags}
        return refine_files(tmp_path / "imgs", estimates, tmp_path / "o", model=model,
                            network=net, progress=False, dry_run=True, **flags)  # fmt: skip

    def refused(estimates=where, **flags) -> str:
        with pytest.raises(InputError) as caught:
            dry(estimates, **flags)
        said = str(caught.value)
        assert said.startswith(f"{tmp_path / 'imgs'}: its image names number the frames "
                               "without leading zeros, so frame_10.png comes before "
                               "frame_2.png by name and after it by number; ")  # fmt: skip
        assert said.endswith("give --image-order number (by the numbers in the names, as a "
                             "video's frames written by ffmpeg's %d) or --image-order name "
                             "(as sorted() lists them, for a program that read this folder "
                             "that way); or rename the files with leading zeros "
                             "(frame_000002.png)")  # fmt: skip
        return said

    np.savez(where, **est, frame=np.arange(3))
    assert f"; the frame indices of {where} count them in one of them:" in refused()
    assert "; --frames counts them in one of them:" in refused(frames="0:2")
    assert dry(image_order="number")["settings"]["image_order"] == "number"
    np.savez(where, **est)
    assert f"; {where} has one estimate per image, in one of them:" in refused()
    said = refused(None, video=True)  # checked before any person is detected
    assert "; --video links the people from frame to frame in one of them:" in said
    np.savez(where, **est, imgname=["frame_1.png", "frame_2.png", "frame_10.png"])
    assert dry()["plan"]["estimates"] == 3  # estimates naming their images need no order
    refused(video=True)
    smooth = dataclasses.replace(FAST, temporal_weight=1.0)
    assert "; --temporal-weight smooths each track's frames as neighbours in one of them:" in (
        refused(options=smooth))  # fmt: skip
    np.savez(where, **est, frame=np.arange(3))
    for order, names in (("number", ["frame_1", "frame_2", "frame_10"]),
                         ("name", ["frame_1", "frame_10", "frame_2"])):  # fmt: skip
        images, _, frame_of, *_ = read_inputs(read_images(tmp_path / "imgs", order=order),
                                              where, model)  # fmt: skip
        assert [images.names[f] for f in frame_of] == names
    args = ["refine", str(tmp_path / "imgs"), "--estimates", str(where), "--out",
            str(tmp_path / "o"), "--checkpoint", str(root / "tiny.npz"), "--dry-run"]  # fmt: skip
    assert cli_main(args) == 2 and "--image-order number" in capsys.readouterr().err
    assert cli_main([*args, "--image-order", "number"]) == 0


def test_a_pose_prior_file_is_read_before_work_and_named_in_the_plan(
    user_files, tmp_path, monkeypatch, capsys, other_prior_file
):
    """``--gmm``: a missing or unreadable file fails before any input is read (exit 2, the
    file named); a good one is named by the dry run and recorded in the settings."""
    model, root, net = user_files

    def boom(*a, **k):
        raise AssertionError("inputs were read before the prior was checked")

    monkeypatch.setattr("jaxrefine.refine_files._read_people", boom)
    args = _dry_run_args(root, tmp_path / "o")
    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    (tmp_path / "folder").mkdir()
    for path, why in ((tmp_path / "none.pkl", "GMM file not found: "),
                      (tmp_path / "bad.pkl", "malformed pickle stream"),
                      (tmp_path / "folder", "is a folder, not a GMM file")):  # fmt: skip
        assert cli_main([*args, "--gmm", str(path)]) == 2
        err = capsys.readouterr().err
        assert why in err and str(path) in err, err
    monkeypatch.undo()
    monkeypatch.chdir(other_prior_file.parent)  # a relative path is recorded as an absolute one
    assert cli_main([*args, "--gmm", other_prior_file.name]) == 0
    assert f"pose prior {other_prior_file.resolve()}\n" in capsys.readouterr().out
    assert cli_main(args) == 0 and "pose prior the shipped GMM\n" in capsys.readouterr().out
    got = refine_files(root / "imgs", root / "est.npz", tmp_path / "o", model=model, network=net,
                       options=RefineOptions(gmm_path=str(other_prior_file)), progress=False,
                       dry_run=True)  # fmt: skip
    assert got["settings"]["options"]["gmm_path"] == str(other_prior_file)
    assert not (tmp_path / "o").exists()


def test_a_network_trained_on_another_body_model_is_named(user_files, tmp_path, capsys):
    """A checkpoint names the body model whose renderings trained it (one naming none: the
    open model). ``refine`` on another model warns, naming both and how to measure or train a
    network for it, and the dry run's plan and ``report.json``'s settings say it; on the same
    model nothing is said."""
    import warnings

    model, root, net = user_files
    network.save_params(tmp_path / "theirs.npz", *net, {"body_model": "SMPL_X:0a1b"})
    args = ["refine", str(root / "imgs"), "--estimates", str(root / "est.npz"), "--out",
            str(tmp_path / "o"), "--dry-run", "--checkpoint"]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cli_main([*args, str(root / "tiny.npz")]) == 0  # names none: the open model's
    assert "network tiny, render backend" in capsys.readouterr().out
    with pytest.warns(UserWarning, match=r"theirs.npz was trained on renderings of the body "
                      f"model 'SMPL_X:0a1b', this run refines '{OPEN_MODEL_ID}': .*jaxrefine "
                      r"eval --model FILE.*scripts/train.py --model FILE"):  # fmt: skip
        assert cli_main([*args, str(tmp_path / "theirs.npz")]) == 0
    assert "network tiny (trained on SMPL_X:0a1b), render backend" in capsys.readouterr().out
    got = refine_files(root / "imgs", root / "est.npz", tmp_path / "o", model=model, network=net,
                       progress=False, dry_run=True, network_body_model="SMPL_X:0a1b")  # fmt: skip
    assert got["settings"]["network_body_model"] == "SMPL_X:0a1b"
    assert not (tmp_path / "o").exists()


def test_the_output_flags_choose_what_is_written(user_files, tmp_path, capsys):
    """``refine``'s output flags (``--no-overlays``, ``--no-tracks``, ``--obj``, ``--ply``)
    reach the run: the dry run's list of what it would write follows them."""
    model, root, net = user_files
    args = _dry_run_args(root, tmp_path / "o")
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert "overlays/ (3 before / after pictures)" in out and "tracks/ (2 .glb and .bvh)" in out
    assert "meshes/" not in out
    assert cli_main([*args, "--no-overlays", "--no-tracks", "--obj", "--ply"]) == 0
    out = capsys.readouterr().out
    assert "overlays/" not in out and "tracks/" not in out
    assert "meshes/ (3 .obj)" in out and "meshes/ (3 .ply)" in out
    assert not (tmp_path / "o").exists()


def test_chunks_keep_tracks_whole_where_they_fit():
    from jaxrefine.refine_files import chunk_groups, cut_tracks

    track = np.array([0, 1, 0, 1, 2, 2])
    np.testing.assert_array_equal(chunk_groups(track, 2, False), [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(chunk_groups(track, 2, True), [0, 1, 0, 1, 2, 2])
    np.testing.assert_array_equal(chunk_groups(track, 4, True), [0, 0, 0, 0, 1, 1])
    long = np.array([5] * 5 + [6] * 2)  # track 5 is longer than a chunk of 2
    np.testing.assert_array_equal(chunk_groups(long, 2, True), [0, 0, 1, 1, 2, 3, 3])
    assert cut_tracks(long, chunk_groups(long, 2, True)) == [5]
    # its last piece takes the next track when that fits
    np.testing.assert_array_equal(chunk_groups(long[1:], 3, True), [0, 0, 0, 1, 1, 1])
    rng = np.random.default_rng(0)
    for _ in range(200):
        track, chunk = rng.integers(0, 6, rng.integers(1, 40)), int(rng.integers(1, 9))
        groups = chunk_groups(track, chunk, True)
        _, sizes = np.unique(groups, return_counts=True)
        assert sizes.max() <= chunk and np.all(np.diff(np.unique(groups)) == 1)
        ids, counts = np.unique(track, return_counts=True)
        assert set(cut_tracks(track, groups)) == set(ids[counts > chunk].tolist())


def test_tracks_cut_by_the_chunks_are_named_with_share_betas():
    import dataclasses
    import warnings

    from jaxrefine.refine_files import cut_tracks, warn_cut_tracks

    track = np.array([0, 0, 0, 1, 2, 2])
    groups = np.array([0, 0, 1, 1, 2, 2])  # chunks of 2: track 0 (3 estimates) is cut
    assert cut_tracks(track, groups) == [0]
    assert cut_tracks(track, np.zeros(6, int)) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_cut_tracks(track, groups, FAST, 2)  # neither option: nothing to say
        warn_cut_tracks(track, np.zeros(6, int), dataclasses.replace(FAST, share_betas=True), 6)
    with pytest.warns(UserWarning, match=r"--share-betas work within a chunk of at most --chunk "
                      r"2 .*tracks 0 are longer .*--chunk 3 keeps"):  # fmt: skip
        warn_cut_tracks(track, groups, dataclasses.replace(FAST, share_betas=True), 2)


def test_share_betas_keeps_an_interleaved_track_in_one_chunk(user_files, tmp_path):
    """Estimates in file order track 0, 1, 0 with --chunk 2: the chunks are [0, 0] + [1] by
    track, not [0, 1] + [0] by file order, so track 0 gets one shape and nothing is warned."""
    import dataclasses
    import warnings

    model, root, net = user_files
    est = dict(np.load(root / "est.npz"))
    est["track_id"] = np.array([0, 1, 0])
    np.savez(tmp_path / "est.npz", **est)
    shared = dataclasses.replace(FAST, share_betas=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        refine_files(root / "imgs", tmp_path / "est.npz", tmp_path / "out", model=model,
                     network=net, options=shared, outputs=Outputs(overlays=False, tracks=False),
                     chunk=2, progress=False)  # fmt: skip
    res = load_result(tmp_path / "out" / "refined.npz", model)
    np.testing.assert_array_equal(res["betas"][0], res["betas"][2])
    assert not np.array_equal(res["betas"][0], res["betas"][1])
    with np.load(tmp_path / "out" / "parts" / "part_00000.npz") as part:
        np.testing.assert_array_equal(part["index"], [0, 2])


def test_keypoint_weights_default_per_source_and_zero_is_kept():
    import dataclasses

    from jaxrefine.photo import LANDMARK_WEIGHT
    from jaxrefine.refine_files import keypoint_options

    def weight(kp_set, photos, given=None):
        o = keypoint_options(dataclasses.replace(FAST, keypoint_weight=given), kp_set, photos)
        return o.keypoint_set, o.keypoint_weight

    assert weight("coco17", photos=False) == ("coco17", 1.0)  # a user's --keypoints
    assert weight("body25", photos=True) == ("body25", LANDMARK_WEIGHT)  # a photo's landmarks
    assert weight("coco17", photos=False, given=0.0) == ("coco17", 0.0)  # was turned into 1
    assert weight("body25", photos=True, given=0.5) == ("body25", 0.5)
    assert keypoint_options(FAST, None, photos=True) is FAST


def test_a_videos_overlay_has_one_picture_per_frame_with_everyone(
    user_files, tmp_path, monkeypatch
):
    """``overlays.mp4`` keeps the input's timing: one picture per video frame at its rate, two
    people of one frame in one picture, a frame without anyone shown as it is (it was one
    picture per estimate: people took turns and empty frames vanished)."""
    from jaxrefine import photo
    from jaxrefine import refine_outputs as rf
    from jaxrefine.inputs import read_images

    model, root, net = user_files
    frames = [iio.imread(root / "imgs" / f"frame{i}.png") for i in range(3)]
    iio.imwrite(tmp_path / "clip.mp4", np.stack(frames), fps=10)
    est = dict(np.load(root / "est.npz"))
    del est["imgname"]
    est["track_id"] = np.array([0, 1, 0])
    np.savez(tmp_path / "est.npz", **est, frame=np.array([0, 0, 2]))  # nobody in frame 1
    drawn, people, real_draw, real_write = [], [], photo.people_picture, rf.write_video

    def count_people(model, image, param_sets, cameras, **kw):
        people.append(kw["labels"])  # one per person: their track ids
        return real_draw(model, image, param_sets, cameras, **kw)

    def keep(path, pictures, fps):
        drawn.extend(pictures)
        real_write(path, drawn, fps)

    monkeypatch.setattr(photo, "people_picture", count_people)
    monkeypatch.setattr(rf, "write_video", keep)
    out = tmp_path / "out"
    refine_files(tmp_path / "clip.mp4", tmp_path / "est.npz", out, model=model, network=net,
                 options=FAST, outputs=Outputs(overlays=False, tracks=False),
                 progress=False)  # fmt: skip
    assert people == [["0", "1"], ["0"]]  # frame 0's two people in one picture, frame 2's one
    assert [p.shape for p in drawn] == [(64, 3 * 64 + 2 * 2, 3)] * 3  # frame | initial | refined
    video = read_images(out / "overlays.mp4")
    assert len(video) == 3 and video.fps == pytest.approx(10)
    assert np.shape(video[0]) == (64, 196, 3)
    clip = read_images(tmp_path / "clip.mp4")  # the frames as decoded (H.264 changed them)
    for f, bodies in ((0, True), (1, False), (2, True)):
        frame = (np.clip(np.asarray(clip[f]), 0, 1) * 255).astype(np.uint8)
        panels = [drawn[f][:, k * 66 : k * 66 + 64] for k in range(3)]
        assert np.array_equal(panels[0], frame)  # the frame itself first
        for k in (1, 2):  # bodies drawn over it, or (nobody) the frame as it is
            assert (np.any(panels[k] != frame, -1).mean() > 0.01) == bodies
    assert not list(out.glob("overlays/*.png"))  # per-estimate pictures only when asked for


def test_an_image_with_several_estimates_gets_a_people_overlay(user_files, tmp_path,
                                                               monkeypatch):  # fmt: skip
    """An estimates file with two people in one image: ``overlays/<image>_people.png`` shows
    both at once, labelled with their track ids (it was written only for people found in
    photos); an image of one estimate keeps its own overlay only. The dry run plans it."""
    from jaxrefine import photo

    model, root, net = user_files
    est = dict(np.load(root / "est.npz"))
    est["imgname"] = np.array(["frame0.png", "frame0.png", "frame2.png"])
    est["track_id"] = np.array([3, 5, 3])
    np.savez(tmp_path / "est.npz", **est)
    kw = dict(model=model, network=net, options=FAST, outputs=Outputs(tracks=False),
              progress=False)  # fmt: skip
    plan = refine_files(root / "imgs", tmp_path / "est.npz", tmp_path / "out", dry_run=True,
                        **kw)["plan"]  # fmt: skip
    assert plan["would_write"][2].endswith("(3 before / after pictures, 1 <image>_people.png)")
    labels, real_draw = [], photo.people_picture

    def record(model, image, param_sets, cameras, **k):
        if k.get("labels") is not None:  # a people overlay (the per-estimate ones have none)
            labels.append(k["labels"])
        return real_draw(model, image, param_sets, cameras, **k)

    monkeypatch.setattr(photo, "people_picture", record)
    rep = refine_files(root / "imgs", tmp_path / "est.npz", tmp_path / "out", **kw)
    names = sorted(p.name for p in (tmp_path / "out" / "overlays").glob("*.png"))
    assert names == ["frame0_3.png", "frame0_5.png", "frame0_people.png", "frame2_3.png"]
    assert labels == [["3", "5"]]
    assert str(tmp_path / "out" / "overlays" / "frame0_people.png") in rep["settings"]["files"]
    pic = iio.imread(tmp_path / "out" / "overlays" / "frame0_people.png")
    assert pic.shape[:2] == (64, 4 * 64 + 3 * 2)  # image | initial | refined | side view


def test_a_video_that_fails_midway_leaves_nothing(tmp_path):
    from jaxrefine.refine_outputs import write_video

    def pictures():
        yield np.zeros((33, 41, 3), np.uint8)  # odd sides: cut to even ones
        raise RuntimeError("a rendering failed")

    with pytest.raises(RuntimeError, match="a rendering failed"):
        write_video(tmp_path / "v.mp4", pictures(), 10.0)
    assert not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match="no pictures for the video"):
        write_video(tmp_path / "v.mp4", iter([]), 10.0)
    assert not list(tmp_path.iterdir())
    write_video(tmp_path / "v.mp4", [np.zeros((33, 41, 3), np.uint8)] * 2, 10.0)
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


def test_a_dry_run_checks_everything_and_writes_nothing(user_files, tmp_path, monkeypatch, capsys):
    """``--dry-run``: every input read and checked, the plan printed, nothing fitted or
    written; a bad input still fails as it would (exit 2)."""
    import shutil

    model, root, net = user_files

    def boom(*a, **k):
        raise AssertionError("a dry run fitted")

    monkeypatch.setattr("jaxrefine.refine_files.run_chunks", boom)
    got = refine_files(root / "imgs", root / "est.npz", tmp_path / "o", model=model, network=net,
                       options=FAST, outputs=Outputs(obj=True), chunk=2, progress=False,
                       dry_run=True)  # fmt: skip
    p = got["plan"]
    assert (p["images"], p["estimates"], p["tracks"], p["chunks"]) == (3, 3, 2, 2)
    assert p["estimates_with_keypoints"] is None and p["resumable_parts"] == 0
    assert [f.split(str(tmp_path / "o"))[1] for f in p["would_write"]] == [
        "/refined.npz", "/report.json", "/overlays/ (3 before / after pictures)",
        "/tracks/ (2 .glb and .bvh)", "/meshes/ (3 .obj)"]  # fmt: skip
    assert got["settings"]["estimates_format"] == "generic"
    assert not (tmp_path / "o").exists()
    (tmp_path / "o" / "parts").mkdir(parents=True)  # a run interrupted after one chunk
    shutil.copy(root / "est.npz", tmp_path / "o" / "parts" / "part_00000.npz")
    args = _dry_run_args(root, tmp_path / "o")
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert "refine (dry run): 3 image(s) of" in out and "1 finished chunk(s)" in out
    assert "tracks: the file's track ids" in out
    with pytest.warns(UserWarning, match="1 estimates of frames --frames does not select"):
        assert cli_main([*args, "--frames", "1:"]) == 0
    out = capsys.readouterr().out
    assert "2 image(s) of" in out and "(--frames 1:)" in out and "2 estimates from" in out
    assert sorted(p.name for p in (tmp_path / "o").rglob("*")) == ["part_00000.npz", "parts"]
    args[3] = str(tmp_path / "missing.npz")
    assert cli_main(args) == 2
    assert "missing.npz: no such estimates file" in capsys.readouterr().err
    # --ignore-exif reaches the image reader (photos are turned upright unless asked not to)
    import jaxrefine.inputs

    asked, real_read = [], jaxrefine.inputs.read_images

    def read_images(src, **kw):
        if not isinstance(src, jaxrefine.inputs.ImageSequence):  # not the one already read
            asked.append(kw.get("exif", True))
        return real_read(src, **kw)

    monkeypatch.setattr(jaxrefine.inputs, "read_images", read_images)
    args[3] = str(root / "est.npz")
    assert cli_main(args) == 0 and cli_main([*args, "--ignore-exif"]) == 0
    assert asked == [True, False]
    # an image its EXIF orientation turns is named (here 180 degrees: the size stays)
    from PIL import Image

    shutil.copytree(root / "imgs", tmp_path / "tagged")
    exif = Image.Exif()
    exif[274] = 3
    Image.open(root / "imgs" / "frame1.png").save(tmp_path / "tagged" / "frame1.png", exif=exif)
    capsys.readouterr()
    assert cli_main(["refine", str(tmp_path / "tagged"), *args[2:]]) == 0
    assert "1 image(s) turned upright by their EXIF orientation (frame1;" in capsys.readouterr().out
    got = refine_files(tmp_path / "tagged", root / "est.npz", tmp_path / "o2", model=model,
                       network=net, options=FAST, progress=False, dry_run=True)  # fmt: skip
    assert got["settings"]["exif_turned"] == ["frame1"]


def test_vibe_output_plans_a_run(user_files, tmp_path):
    """VIBE's / PARE's ``joblib.dump`` output on a user's frames, end to end up to the fit
    (``dry_run``): people become tracks, ``frame_ids`` the images, ``orig_cam`` the camera."""
    joblib = pytest.importorskip("joblib", reason="joblib (extra 'ref') writes the reference")
    model, root, net = user_files
    rng = np.random.default_rng(0)

    def person(frames):
        n = len(frames)
        return {
            "pose": rng.normal(0, 0.2, (n, 72)),
            "betas": np.zeros((n, 10)),
            "frame_ids": np.array(frames),
            "orig_cam": np.tile([0.8, 0.8, 0, 0.1], (n, 1)),
        }

    joblib.dump({1: person([0, 1, 2]), 5: person([2])}, tmp_path / "vibe_output.pkl")
    got = refine_files(root / "imgs", tmp_path / "vibe_output.pkl", tmp_path / "o", model=model,
                       network=net, options=FAST, progress=False, dry_run=True)  # fmt: skip
    p = got["plan"]
    assert (p["estimates"], p["tracks"], p["images_with_people"]) == (4, 2, 3)
    assert got["settings"]["estimates_format"] == "vibe-pare" and not (tmp_path / "o").exists()


def test_the_fit_flags_reach_the_run(user_files, tmp_path, capsys):
    """``refine``'s fit flags reach the run: the dry run's plan lists the options that differ
    from the defaults (as ``report.json`` records them) and its chunk count follows
    ``--chunk``."""
    model, root, net = user_files
    args = _dry_run_args(root, tmp_path / "o")
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert "  fit options: the defaults\n" in out and ", 1 chunk(s)" in out
    assert cli_main([*args, "--keypoint-weight", "2", "--rerun-every", "3", "--share-betas",
                     "--temporal-weight", "1e5", "--batch", "4", "--chunk", "2"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert ("  fit options: keypoint_weight 2.0, rerun_every 3, share_betas True, "
            "temporal_weight 100000.0, batch_size 4\n") in out, out  # fmt: skip
    assert ", 2 chunk(s)" in out
    assert not (tmp_path / "o").exists()


def test_gender_picks_the_model_file_of_a_folder(user_files, tmp_path, capsys):
    """``refine --model FOLDER --gender G`` refines with the folder's ``SMPL_{G}.pkl`` (the
    plan names its id); ``--gender male`` on the gender-neutral open model fails in one line
    naming ``--model``."""
    import pickle

    from jaxrefine.smpl_io import load_body_model
    from jaxrefine.testing import make_smpl_size_arrays

    model, root, net = user_files
    folder = tmp_path / "models"
    folder.mkdir()
    for seed, gender in ((1, "FEMALE"), (2, "MALE")):
        arrays = make_smpl_size_arrays(seed=seed)
        (folder / f"SMPL_{gender}.pkl").write_bytes(pickle.dumps(arrays, protocol=2))
    args = _dry_run_args(root, tmp_path / "o")
    for gender in ("female", "male"):
        with pytest.warns(UserWarning, match="was trained on renderings of the body model"):
            assert cli_main([*args, "--model", str(folder), "--gender", gender]) == 0
        model_id = load_body_model(folder, gender=gender).model_id
        assert f"body model {model_id}, " in capsys.readouterr().out
    assert cli_main([*args, "--gender", "male"]) == 2
    err = capsys.readouterr().err
    assert "gender 'male': the shipped open body model is gender-neutral" in err
    assert "--model FILE" in err
    assert not (tmp_path / "o").exists()


def test_numbers_out_of_range_fail_in_one_line_before_any_work(user_files, tmp_path, capsys,
                                                              monkeypatch):  # fmt: skip
    """``--chunk 0``, ``--fps 0`` and a negative weight are refused (exit 2, one line naming
    them) before any input is read."""

    def boom(*a, **k):
        raise AssertionError("inputs were read before the flags were checked")

    model, root, net = user_files
    monkeypatch.setattr("jaxrefine.refine_files._read_people", boom)
    args = ["refine", str(root / "imgs"), "--estimates", str(root / "est.npz"), "--out",
            str(tmp_path / "o"), "--checkpoint", str(root / "tiny.npz")]  # fmt: skip
    for flags, said in (
        (["--chunk", "0"], "--chunk (estimates per saved chunk) must be at least 1 (got 0)"),
        (["--fps", "0"], "--fps (of the tracks' animations) must be > 0, got 0.0"),
        (["--temporal-weight", "-1"], "refine options: temporal_weight=-1.0 (at least 0)"),
        (["--keypoint-weight", "-2"], "refine options: keypoint_weight=-2.0 (at least 0)"),
    ):  # fmt: skip
        assert cli_main([*args, *flags]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"jaxrefine refine: error: {said}"], err
    assert not (tmp_path / "o").exists()


def test_a_bad_box_fails_before_any_photo_is_read(user_files, tmp_path, capsys, monkeypatch):
    """``--box`` inverted or not finite: one line naming the box, before the detector loads
    or any photo is read (it once failed after the landmark model had loaded)."""

    def boom(*a, **k):
        raise AssertionError("inputs were read before --box was checked")

    model, root, net = user_files
    monkeypatch.setattr("jaxrefine.refine_files._read_people", boom)
    args = ["refine", str(root / "imgs"), "--out", str(tmp_path / "o"), "--checkpoint",
            str(root / "tiny.npz")]  # fmt: skip
    for box in (["100", "100", "50", "50"], ["nan", "0", "10", "10"]):
        assert cli_main([*args, "--box", "0", "0", "9", "9", "--box", *box]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"jaxrefine refine: error: --box {' '.join(box)}: a box is x0 y0 x1 y1 "
                       "in pixels, finite, with x1 > x0 and y1 > y0"], err  # fmt: skip
    assert not (tmp_path / "o").exists()


def test_an_out_that_is_a_file_fails_before_any_photo_is_read(user_files, tmp_path, capsys,
                                                              monkeypatch):  # fmt: skip
    """``--out`` naming a file (or a path under one) is refused in one line before the people
    are read (it failed when the first chunk was saved, after detection)."""

    def boom(*a, **k):
        raise AssertionError("inputs were read before --out was checked")

    model, root, net = user_files
    monkeypatch.setattr("jaxrefine.refine_files._read_people", boom)
    (tmp_path / "taken").write_text("a file")
    for out in (tmp_path / "taken", tmp_path / "taken" / "run"):
        argv = ["refine", str(root / "imgs"), "--estimates", str(root / "est.npz"), "--out",
                str(out), "--checkpoint", str(root / "tiny.npz")]  # fmt: skip
        assert cli_main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"jaxrefine refine: error: --out {out}: {tmp_path / 'taken'} is a file, "
                       "not a folder"], err  # fmt: skip
    assert (tmp_path / "taken").read_text() == "a file"


def test_cameras_of_another_resolution_are_named(user_files, tmp_path):
    """``--intrinsics``, or an estimates file's ``camera_K``, whose principal point lies far
    from the centre of the images (64x64 here): a camera of another resolution; or whose
    focal is too short for pixels. One warning before the run names the source, how many,
    the first estimate and its image; a point near the centre says nothing."""
    model, root, net = user_files

    def plan(intrinsics, est=root / "est.npz"):
        return refine_files(root / "imgs", est, tmp_path / "o", model=model, network=net,
                            options=FAST, intrinsics=intrinsics, progress=False,
                            dry_run=True)  # fmt: skip

    with pytest.warns(UserWarning) as caught:
        plan([500.0, 500.0, 320.0, 240.0])
    said = [str(w.message) for w in caught]
    assert said[0].startswith("--intrinsics: 3 of the 3 cameras have their principal point "
                              "more than 20% of the image from its centre (e.g. estimate 0, "
                              "image 'frame0': (320, 240) in 64x64 px): is it the camera of "
                              "another resolution")  # fmt: skip
    assert said[1:] == [said[1]] and "3 of the 3 bodies are outside the image" in said[1]
    with pytest.warns(CameraWarning, match=r"^--intrinsics: 3 of the 3 .* \(64, 64\) in"):
        plan([100.0, 100.0, 64.0, 64.0])  # the camera of the frames at twice their size
    assert plan([80.0, 80.0, 36.0, 30.0])["plan"]["images"] == 3
    with pytest.warns(UserWarning) as caught:
        plan([1.3, 1.3, 32.0, 32.0])  # a focal normalised by the image size
    assert [str(w.message) for w in caught if w.category is CameraWarning] == [
        "--intrinsics: 3 of the 3 cameras have a focal under 0.2 of their image's longer side "
        "(e.g. estimate 0, image 'frame0': fx 1.3, fy 1.3 in 64x64 px, a field of view over "
        "136 degrees): focal lengths are read in pixels (millimetres? normalised by the image "
        "size?); the bodies are then drawn a few pixels tall"
    ]
    est = dict(np.load(root / "est.npz"))
    est["camera_K"][1, :2] *= 2  # the file's camera of frame1, for the frame at twice its size
    np.savez(tmp_path / "est.npz", **est)
    with pytest.warns(CameraWarning) as caught:
        plan(None, tmp_path / "est.npz")
    assert [str(w.message) for w in caught if w.category is CameraWarning] == [
        f"{tmp_path / 'est.npz'}: 1 of the 3 cameras have their principal point more than 20% "
        f"of the image from its centre (e.g. estimate 1, image 'frame1': "
        f"({est['camera_K'][1, 0, 2]:g}, {est['camera_K'][1, 1, 2]:g}) in 64x64 px): is it the "
        "camera of another resolution (a video's full-size camera, its frames resized)? The "
        "bodies are then drawn away from their people; a crop's camera can be off-centre by "
        "right"
    ]


def test_estimates_out_of_view_are_named_once_before_the_run(user_files, tmp_path):
    """An estimate behind the camera (an OpenGL-style translation) is named once, with its
    image, before any chunk is refined (not again by each chunk's refine()), and kept; so is
    a camera of another resolution (estimate 2's), which is used as it is."""
    model, root, net = user_files
    est = dict(np.load(root / "est.npz"))
    est["transl"][1] *= [1, -1, -1]
    est["camera_K"][2, :2] *= 1.5
    np.savez(tmp_path / "est.npz", **est)
    with pytest.warns(UserWarning) as caught:
        refine_files(root / "imgs", tmp_path / "est.npz", tmp_path / "out", model=model,
                     network=net, options=FAST, chunk=1, progress=False,
                     outputs=Outputs(overlays=False, tracks=False))  # fmt: skip
    assert [w.category for w in caught] == [CameraWarning, OutOfViewWarning]
    assert str(caught[1].message) == (
        f"{tmp_path / 'est.npz'}: 1 of the 3 bodies are behind the camera (e.g. estimate 1, "
        f"image 'frame1', transl {' '.join(f'{x:.3g}' for x in est['transl'][1])}): the camera "
        "looks along +z with y down (OpenCV); an OpenGL-style translation has its y and z "
        "negated; they are kept as they are (status 'kept initial')"
    )
    result = load_result(tmp_path / "out" / "refined.npz")
    np.testing.assert_array_equal(result["transl"][1], est["transl"][1].astype(np.float32))
