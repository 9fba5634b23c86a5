"""The command line's failures: one line naming the command, a non-zero exit, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from jaxrefine import cli
from jaxrefine.files import output_file_arg, output_folder_arg


@pytest.fixture(autouse=True)
def _cli_env(monkeypatch):
    """cli.main sets XLA_FLAGS and the compilation cache for the process: keep both local."""
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))
    monkeypatch.setenv("JAXREFINE_CACHE_DIR", "off")
    monkeypatch.delenv("JAXREFINE_DEBUG", raising=False)


def _boom(argv):
    raise RuntimeError("the solver diverged")


def _bad_input(argv):
    raise KeyError("unknown keypoint set 'body26'")


def _error_lines(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()


def test_missing_poses_file_is_one_line_and_exit_2(tmp_path, capsys):
    missing = tmp_path / "missing.npz"
    assert cli.main(["oracle", "--poses", str(missing)]) == 2
    (line,) = _error_lines(capsys)
    assert line.startswith("jaxrefine oracle: error: ") and str(missing) in line


def test_oracle_own_error_is_one_line(tmp_path, capsys):
    path = tmp_path / "poses.npz"
    np.savez(path, angles=np.zeros((2, 24, 3)))
    assert cli.main(["oracle", "--poses", str(path)]) == 2
    (line,) = _error_lines(capsys)
    assert line.startswith("jaxrefine oracle: error: ") and f"{path}" in line and "pose" in line


def test_input_error_of_any_command_exits_2_unquoted(monkeypatch, capsys):
    monkeypatch.setitem(cli.COMMANDS, "bad", (f"{__name__}:_bad_input", "raises KeyError"))
    assert cli.main(["bad"]) == 2
    assert _error_lines(capsys) == ["jaxrefine bad: error: unknown keypoint set 'body26'"]


def test_runtime_failure_exits_1_naming_the_type(monkeypatch, capsys):
    monkeypatch.setitem(cli.COMMANDS, "boom", (f"{__name__}:_boom", "raises RuntimeError"))
    assert cli.main(["boom"]) == 1
    (line,) = _error_lines(capsys)
    assert line.startswith("jaxrefine boom: error: RuntimeError: the solver diverged (run ")


def _ffmpeg_log(argv):
    from jaxrefine.inputs import InputError

    raise InputError("clip.mp4: not a readable video (OSError: Could not load meta "
                     "information\n=== stderr ===\n\nffmpeg version n9.0.2\n  libavutil 60.\n"
                     "Error opening input files: Invalid data)")  # fmt: skip


def test_a_message_of_many_lines_is_cut_to_one(monkeypatch, capsys):
    """A message holding a tool's log (imageio's ffmpeg error printed 19 lines) ends as one
    line: its first and its last."""
    monkeypatch.setitem(cli.COMMANDS, "log", (f"{__name__}:_ffmpeg_log", "raises InputError"))
    assert cli.main(["log"]) == 2
    assert _error_lines(capsys) == [
        "jaxrefine log: error: clip.mp4: not a readable video (OSError: Could not load meta "
        "information ... Error opening input files: Invalid data)"]  # fmt: skip


def _warns(argv):
    import warnings

    warnings.warn("2 person(s) score below 0.2; they are not refined", stacklevel=2)
    return 0


def test_warnings_are_one_line_naming_the_command(tmp_path):
    """A command's warning reaches the user as one line, without Python's file, line and
    source; ``--debug`` keeps Python's form (a fresh process: pytest records warnings itself)."""
    code = ("import sys, warnings\nfrom jaxrefine import cli\n"
            "cli.COMMANDS['warner'] = ('tests.test_cli:_warns', 'warns')\n"
            "before = warnings.formatwarning\n"
            "code = cli.main(sys.argv[1:])\n"
            "assert warnings.formatwarning is before  # restored\n"
            "sys.exit(code)\n")  # fmt: skip
    env = {**os.environ, "JAXREFINE_CACHE_DIR": "off", "PYTHONWARNINGS": "default"}
    env.pop("JAXREFINE_DEBUG", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def run(*argv):
        done = subprocess.run([sys.executable, "-c", code, *argv], cwd=root, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert run("warner") == (
        "jaxrefine warner: warning: 2 person(s) score below 0.2; they are not refined\n"
    )
    err = run("--debug", "warner")
    assert "UserWarning: 2 person(s)" in err and "cli.py:" in err


def test_debug_flag_and_variable_show_the_traceback(monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "boom", (f"{__name__}:_boom", "raises RuntimeError"))
    with pytest.raises(RuntimeError, match="diverged"):
        cli.main(["--debug", "boom"])
    monkeypatch.setenv("JAXREFINE_DEBUG", "1")
    with pytest.raises(RuntimeError, match="diverged"):
        cli.main(["boom"])


def test_unknown_or_missing_command_goes_to_stderr(capsys):
    assert cli.main(["frobnicate"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("jaxrefine: error: unknown command 'frobnicate'")
    assert cli.main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("usage: jaxrefine")
    listed = [line for line in captured.err.splitlines() if line.startswith("  ")]
    assert [line.split()[0] for line in listed] == list(cli.COMMANDS)
    column = {len(line) - len(line[2:].split(None, 1)[1]) for line in listed}
    assert len(column) == 1  # every command's help starts in one column


def test_mocap_with_only_unreadable_trials_writes_nothing(tmp_path, capsys):
    src = tmp_path / "mocap"
    src.mkdir()
    (src / "01_01.bvh").write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")  # truncated
    out = tmp_path / "out" / "poses.npz"
    assert cli.main(["mocap", str(src), "--out", str(out), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "jaxrefine mocap: error: " in captured.err
    assert "none of the 1 trial files converted; nothing written" in captured.err
    assert f"written:\n  {src / '01_01.bvh'}:4: " in captured.err  # the failure is listed
    assert captured.out == ""  # no empty report table
    assert not out.exists() and not (out.parent.exists() and any(out.parent.iterdir()))


def test_mocap_on_a_folder_without_trials_writes_nothing(tmp_path, capsys):
    out = tmp_path / "poses.npz"
    assert cli.main(["mocap", str(tmp_path), "--out", str(out), "--no-progress"]) == 2
    assert "no .bvh or .amc files" in capsys.readouterr().err
    assert not out.exists()


def test_installed_entry_point_prints_one_line(tmp_path):
    """The real process: no traceback on stderr, exit status 2."""
    env = dict(os.environ, JAXREFINE_CACHE_DIR="off", JAX_PLATFORMS="cpu")
    env.pop("JAXREFINE_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "jaxrefine.cli", "oracle", "--poses", "missing.npz"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("jaxrefine oracle: error: ") and "missing.npz" in line


def test_refine_flags_read_by_topic_with_their_defaults():
    """``jaxrefine refine --help`` groups its flags by topic, and the grouping changed no
    flag's default."""
    from jaxrefine import refine_cli

    ap = refine_cli.parser()
    text = ap.format_help()
    titles = ["inputs:", "people in photos without --estimates:",
              "camera, body model and network:", "fitting:", "outputs:", "running:"]  # fmt: skip
    at = [text.index(t) for t in titles]
    assert at == sorted(at)
    body = text[at[0] :]  # below the usage lines, which name every flag
    at = [body.index(t) for t in titles]
    assert body.index("--estimates ESTIMATES") < at[1] < body.index("--box X0") < at[2]
    assert at[3] < body.index("--optimizer OPTIMIZER") < at[4] < body.index("--out OUT") < at[5]
    assert at[5] < body.index("--num-processes")
    args = ap.parse_args(["photos", "--out", "o"])
    assert (args.optimizer, args.batch, args.chunk, args.backend) == ("adam", 16, 64, "auto")
    assert (args.num_processes, args.process_id, args.rerun_every) == (1, 0, 0)
    assert args.confidence is None and args.mask_gate is None and args.keypoint_weight is None
    assert args.box is None and args.silhouette_weight == 0.0 and not args.dry_run
    with pytest.raises(SystemExit):
        ap.parse_args(["photos"])  # --out is required


def test_a_gpu_asked_for_where_jax_has_none_is_one_line(tmp_path):
    """``refine --device gpu`` and ``scripts/train.py`` / ``scripts/train_lgd.py --platform
    gpu`` where JAX has no CUDA backend: exit 2 with one line naming the flag and the extra
    that installs one, before anything is read or written (jax 0.10 itself raised a bare
    AssertionError at the first computation)."""
    from importlib import metadata
    from pathlib import Path

    if any(d.metadata["Name"].startswith("jax-cuda") for d in metadata.distributions()):
        pytest.skip("JAX's CUDA plugin is installed here: --platform gpu may well work")
    scripts = Path(__file__).resolve().parents[1] / "scripts"
    env = dict(os.environ, JAXREFINE_CACHE_DIR="off")
    env.pop("JAXREFINE_DEBUG", None)
    runs = (
        (["-m", "jaxrefine.cli", "refine", "imgs", "--out", "o", "--device", "gpu"], "--device"),
        ([str(scripts / "train.py"), "--platform", "gpu", "--config", "tiny", "--out", "r"],
         "--platform"),
        ([str(scripts / "train_lgd.py"), "--platform", "gpu", "--out", "r"], "--platform"),
    )  # fmt: skip
    for argv, flag in runs:
        proc = subprocess.run([sys.executable, *argv], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        (line,) = proc.stderr.strip().splitlines()
        assert f"error: {flag} gpu: JAX (jax " in line and "has no cuda backend" in line, line
        assert "pip install 'jaxrefine[cuda]'" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, said", [
    (["oracle", "--n", "0"], "--n must be at least 1 (got 0)"),
    (["oracle", "--reps", "0"], "--reps must be at least 1 (got 0)"),  # once timed 1, recorded 0
    (["oracle", "--chunk-size", "0"], "--chunk-size must be at least 1 (got 0)"),
    (["eval", "--n", "0"], "--n must be at least 1 (got 0)"),
    (["eval", "--group", "0"], "--group must be at least 1 (got 0)"),  # ZeroDivisionError
    (["demo", "--n", "0"], "--n must be at least 1 (got 0)"),  # once a TypeError, after work
    (["eval-video", "--length", "2"], "--length must be at least 3 (one acceleration) (got 2)"),
    (["eval-video", "--tracks", "0"], "--tracks must be at least 1 (got 0)"),
    (["eval-video", "--weights", "0", "-1"],
     "--weights are smoothness weights, at least 0 (got -1)"),  # refused after earlier fits
])  # fmt: skip
def test_counts_below_one_are_usage_errors_before_any_work(argv, said, tmp_path, capsys):
    """A count below one is argparse's usage error (exit 2) naming the flag, before any file
    is read or written."""
    flags = ["--out", str(tmp_path / "out")] if argv[0] == "demo" else ["--poses", "none.npz"]
    with pytest.raises(SystemExit, match="2"):
        cli.main([*argv, *flags])
    assert _error_lines(capsys)[-1] == f"jaxrefine {argv[0]}: error: {said}"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags, said", [
    (["-n", "0"], "shards: num_samples=0 (each at least 1)"),
    (["--shard-size", "0", "--batch-size", "-1"], "shards: shard_size=0, batch_size=-1 (each"),
    (["--texture-size", "0"], "generator config: texture_size=0 (at least 1)"),  # once failed
])  # fmt: skip  # after the progress bar began, in the UV layout ("covers no texel centre")
def test_shards_counts_below_one_name_the_setting_before_any_frame(flags, said, tmp_path,
                                                                   capsys):  # fmt: skip
    np.savez(tmp_path / "poses.npz", pose=np.zeros((4, 24, 3), np.float32))
    argv = ["shards", str(tmp_path / "out"), "--poses", str(tmp_path / "poses.npz")]
    assert cli.main([*argv, *([] if "-n" in flags else ["-n", "4"]), *flags]) == 2
    lines = _error_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith(f"jaxrefine shards: error: {said}"), lines
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["oracle", "eval", "eval-video"])
def test_an_image_size_below_one_is_one_line_before_any_frame(command, tmp_path, capsys):
    """``--image-size 0`` fails in one line (exit 2) when the scene is configured, before any
    frame is made (``eval`` once died of a ZeroDivisionError, ``oracle`` in the rasterizer
    after its first progress line)."""
    subjects = np.array(["01", "02", "09", "16"] * 8)
    np.savez(tmp_path / "poses.npz", pose=np.zeros((32, 24, 3), np.float32), subject=subjects,
             trial=np.full(32, "01_01"))  # fmt: skip
    argv = [command, "--poses", str(tmp_path / "poses.npz"), "--image-size", "0"]
    assert cli.main(argv) == 2
    assert _error_lines(capsys) == [  # the only line: no progress, nothing rasterized
        f"jaxrefine {command}: error: image size must be positive, got 0x0"
    ]


def test_contact_sheet_writes_the_grid_and_refuses_counts_below_one(tmp_path, capsys):
    """``jaxrefine contact-sheet``: per frame three tiles (image, ground truth, initial
    estimate), ``--rows`` rows; ``-n 0`` / ``--rows 0`` are usage errors before any frame
    (``--rows 0`` once divided by zero after rendering)."""
    import imageio.v3 as iio

    from jaxrefine.data.poses import DEMO_POSES_PATH

    poses = str(DEMO_POSES_PATH)
    out = tmp_path / "sheet.png"
    args = ["contact-sheet", "--poses", poses, "--size", "32", "--out", str(out)]
    assert cli.main([*args, "-n", "2", "--rows", "2"]) == 0
    assert iio.imread(out).shape[:2] == (2 * 32 + 2, 3 * 32 + 2 * 2)  # 2 rows of 3, pad 2
    out.unlink()
    refused = ((["-n", "0"], "-n must be at least 1 (got 0)"),
               (["-n", "2", "--rows", "0"], "--rows must be at least 1 (got 0)"))  # fmt: skip
    for flags, said in refused:
        with pytest.raises(SystemExit, match="2"):
            cli.main([*args, *flags])
        assert _error_lines(capsys)[-1] == f"jaxrefine contact-sheet: error: {said}"
    assert not out.exists()


@pytest.mark.parametrize("argv", [
    ["oracle", "--poses", "p.npz", "--json"], ["eval", "--poses", "p.npz", "--csv"],
    ["eval-video", "--poses", "p.npz", "--json"], ["eval-real", "--image", "x.jpg", "--plot"],
    ["info", "--json"], ["bench", "body", "--json"], ["mocap", "src", "--out"],
    ["contact-sheet", "--out"],
])  # fmt: skip
def test_an_output_file_under_a_file_or_on_a_folder_is_a_usage_error(argv, tmp_path, capsys):
    """An output file flag naming a folder, or a path under a file, is refused when the flags
    are read (it failed only when the result was written, after the work)."""
    (tmp_path / "taken").write_text("a file")
    flag, under = argv[-1], tmp_path / "taken" / "r.out"
    for path, said in ((under, f"{under}: {tmp_path / 'taken'} is a file, not a folder"),
                       (tmp_path, f"{tmp_path} is a folder, not a file")):  # fmt: skip
        with pytest.raises(SystemExit, match="2"):
            cli.main([*argv, str(path)])
        assert _error_lines(capsys)[-1].endswith(f"error: argument {flag}: {said}")
    assert (tmp_path / "taken").read_text() == "a file"
    for path in (tmp_path / "taken", tmp_path / "new" / "r.out"):  # an earlier result, or a new
        assert output_file_arg(str(path)) == str(path)  # folder: taken (the file is replaced)


@pytest.mark.parametrize("argv", [
    ["demo", "--out"], ["eval-real", "--image", "x.jpg", "--out"], ["train", "--out"],
    ["train-lgd", "--out"], ["fetch-models", "--cache-dir"],
])  # fmt: skip
def test_an_output_folder_that_is_a_file_is_a_usage_error(argv, tmp_path, capsys):
    """A run's output folder that is a file, or lies under one, is refused when the flags are
    read (it failed when the first file was written, after the inputs; train's after its
    training data were made)."""
    (tmp_path / "taken").write_text("a file")
    flag, taken, under = argv[-1], tmp_path / "taken", tmp_path / "taken" / "run"
    for path, said in ((taken, f"{taken} is a file, not a folder"),
                       (under, f"{under}: {taken} is a file, not a folder")):  # fmt: skip
        with pytest.raises(SystemExit, match="2"):
            cli.main([*argv, str(path)])
        assert _error_lines(capsys)[-1].endswith(f"error: argument {flag}: {said}")
    assert taken.read_text() == "a file"
    for path in (tmp_path, tmp_path / "new" / "run"):  # an existing folder, or a new one
        assert output_folder_arg(str(path)) == str(path)


def test_train_lgd_export_under_a_file_is_refused_before_training(tmp_path, capsys):
    """``train-lgd --export`` is written after the whole training: a folder, or a path under
    a file, is a usage error at once."""
    taken = tmp_path / "taken"
    taken.write_text("a file")
    for path, said in ((tmp_path, f"{tmp_path} is a folder, not a file"),
                       (taken / "lgd", f"{taken} is a file")):  # fmt: skip
        with pytest.raises(SystemExit, match="2"):
            cli.main(["train-lgd", "--out", str(tmp_path / "run"), "--export", str(path)])
        assert said in _error_lines(capsys)[-1]
    assert not (tmp_path / "run").exists()


def test_eval_real_names_a_missing_photo_or_ground_truth(tmp_path, capsys):
    """``eval-real --image``: a missing photo, a missing ``--annotation``, and a photo without
    its ``.json`` are usage errors naming the file; the last one says how to give the JSON or
    score the photo without ground truth (it said "X.json: No such file or directory", also
    of a photo that did not exist)."""
    import imageio.v3 as iio

    photo, gone = tmp_path / "a.png", tmp_path / "gone.png"
    iio.imwrite(photo, np.zeros((8, 8, 3), np.uint8))
    cases = [
        (["--image", str(gone)], f"--image {gone}: no such photo file"),
        (["--image", str(photo), "--annotation", str(tmp_path / "n.json")],
         f"--annotation {tmp_path / 'n.json'}: no such file"),
        (["--image", str(photo)], f"--image {photo}: its COCO ground truth {tmp_path / 'a.json'} "
         "does not exist; give the JSON with --annotation FILE, or score the photo against "
         f"BlazePose's landmarks and mask (pseudo ground truth) with --pseudo {photo}"),
    ]  # fmt: skip
    for args, said in cases:
        with pytest.raises(SystemExit, match="2"):
            cli.main(["eval-real", *args, "--out", str(tmp_path / "o")])
        assert _error_lines(capsys)[-1] == f"jaxrefine eval-real: error: {said}"
    assert not (tmp_path / "o").exists()


def test_demo_checks_its_photo_folder_and_poses_before_writing(tmp_path, capsys, monkeypatch):
    """``demo --real-images DIR`` (or ``$JAXREFINE_REAL_IMAGES_DIR``) without the COCO photo is
    an error naming the folder (it fell back to the astronaut without a word), and a missing
    ``--poses`` fails before any picture is written (body_model.png was)."""
    from jaxrefine.demo import COCO_PHOTO, REAL_IMAGES_ENV

    out, gone = tmp_path / "out", tmp_path / "gone.npz"
    monkeypatch.delenv(REAL_IMAGES_ENV, raising=False)
    no_photo = (f"{tmp_path}: no {COCO_PHOTO} in it (a folder of the shared real images; leave "
                "it out for scikit-image's astronaut)")  # fmt: skip
    no_poses = f"pose file not found: {gone} (make it with `jaxrefine mocap`)"
    for flags, said in ((["--real-images", str(tmp_path)], no_photo),
                        (["--poses", str(gone)], no_poses)):  # fmt: skip
        assert cli.main(["demo", "--out", str(out), *flags]) == 2
        assert _error_lines(capsys)[-1] == f"jaxrefine demo: error: {said}"
        assert not out.exists()
    monkeypatch.setenv(REAL_IMAGES_ENV, str(tmp_path))
    assert cli.main(["demo", "--out", str(out)]) == 2
    assert _error_lines(capsys)[-1] == f"jaxrefine demo: error: {no_photo}"
    assert not out.exists()


def test_eval_real_coco_paths_are_checked_first(tmp_path, capsys):
    """``--coco`` must be a file and ``--coco-images`` a folder; each wrong one is a usage error
    naming it (they failed as "Is a directory", or as every image of the set missing)."""
    ann, gone = tmp_path / "ann.json", tmp_path / "gone"
    ann.write_text("{}")
    cases = [
        (tmp_path, tmp_path, f"--coco {tmp_path} is a folder, not a COCO keypoint file (e.g. "
                             "person_keypoints_val2017.json)"),
        (gone, tmp_path, f"--coco {gone}: no such file"),
        (ann, gone, f"--coco-images {gone}: no such folder (the set's images, e.g. val2017/)"),
        (ann, ann, f"--coco-images {ann}: a file, not a folder (the set's images, e.g. "
                   "val2017/)"),
    ]  # fmt: skip
    for coco, images, said in cases:
        with pytest.raises(SystemExit, match="2"):
            cli.main(["eval-real", "--coco", str(coco), "--coco-images", str(images)])
        assert _error_lines(capsys)[-1] == f"jaxrefine eval-real: error: {said}"
