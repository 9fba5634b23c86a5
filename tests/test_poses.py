"""The one pose loader: a ``jaxrefine mocap`` file, subject filters, the validation split, and
clear errors naming the file."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxrefine.data.poses import (
    CMU_CREDIT,
    DEMO_POSES_PATH,
    VALIDATION_SUBJECTS,
    PoseFileError,
    PoseSet,
    given_poses,
    load_demo_poses,
    load_poses,
    poses_from_mocap,
    split_poses,
    write_demo_poses,
)
from jaxrefine.files import atomic_savez

SUBJECTS = ("02", "09", "16", "35")
REPO = Path(__file__).resolve().parents[1]


def _arrays(n_per=3) -> dict:
    rng = np.random.default_rng(0)
    n = n_per * len(SUBJECTS)
    subject = np.repeat(np.asarray(SUBJECTS, str), n_per)
    return {
        "pose": rng.normal(0, 0.2, (n, 24, 3)).astype(np.float32),
        "subject": subject,
        "trial": np.char.add(subject, "_01"),
        "fps": np.float32(30),  # other keys of the mocap output are ignored
    }


@pytest.fixture()
def pose_file(tmp_path):
    return atomic_savez(tmp_path / "poses.npz", _arrays(), compressed=False)


def test_load_and_filter(pose_file):
    ps = load_poses(pose_file)
    assert isinstance(ps, PoseSet) and len(ps) == 12
    assert ps.pose.dtype == np.float32 and ps.pose.shape == (12, 24, 3)
    assert ps.subjects == SUBJECTS
    np.testing.assert_array_equal(ps.pose, _arrays()["pose"])
    only = load_poses(pose_file, subjects=["09", "35"])
    assert only.subjects == ("09", "35") and len(only) == 6
    rest = load_poses(pose_file, exclude_subjects=VALIDATION_SUBJECTS)
    assert rest.subjects == ("02", "35")
    assert set(rest.trial.tolist()) == {"02_01", "35_01"}


def test_split_never_trains_on_validation_subjects(pose_file):
    train, val = split_poses(load_poses(pose_file))
    assert not set(train.subject.tolist()) & set(VALIDATION_SUBJECTS)
    assert set(val.subject.tolist()) == set(VALIDATION_SUBJECTS)
    assert len(train) + len(val) == 12
    train2, val2 = split_poses(load_poses(pose_file), validation=("02",))
    assert val2.subjects == ("02",) and "02" not in train2.subjects


def _write(path, arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.pop("subject"), r"missing keys \['subject'\]"),
        (lambda a: a.update(pose=a["pose"][:, :23]), r"'pose' must be float \(N, 24, 3\)"),
        (lambda a: a.update(pose=a["pose"].astype(np.int32)), "'pose' must be float"),
        (lambda a: a.update(trial=a["trial"][:3]), r"'trial' must be a str array \(12,\)"),
        (lambda a: a.update(subject=np.arange(12)), "'subject' must be a str array"),
        (lambda a: a["pose"].__setitem__((4, 2, 1), np.nan), "1 poses are not finite"),
    ],
)
def test_bad_files_name_the_file(tmp_path, change, message):
    a = _arrays()
    change(a)
    path = _write(tmp_path / "bad.npz", a)
    with pytest.raises(ValueError, match=message) as e:
        load_poses(path)
    assert str(path) in str(e.value)


def test_unreadable_files(tmp_path, pose_file):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_poses(tmp_path / "nope.npz")
    with pytest.raises(PoseFileError, match=re.escape(f"{tmp_path}: a folder, not a pose file")):
        load_poses(tmp_path)  # it said "pose file not found" of an existing folder
    text = tmp_path / "text.npz"
    text.write_text("not an archive")
    # not an archive, or a single .npy array under an .npz name: a PoseFileError naming the file
    npy = tmp_path / "array.npz"
    with open(npy, "wb") as fh:
        np.save(fh, np.zeros((2, 24, 3)))
    for bad in (text, npy):
        with pytest.raises(PoseFileError, match=re.escape(f"{bad}: ")):
            load_poses(bad)
    with pytest.raises(ValueError, match=r"no frame left .* has subjects \['02', '09', '16'"):
        load_poses(pose_file, subjects=["77"])


def test_poses_from_mocap(mocap_dir, tmp_path):
    import jaxrefine

    with pytest.raises(FileNotFoundError, match="mocap folder not found"):
        poses_from_mocap(None, tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no .bvh trial"):
        poses_from_mocap(None, tmp_path)
    dst = tmp_path / "bvh" / "07"
    dst.mkdir(parents=True)
    shutil.copy(mocap_dir / "cmu" / "bvh" / "07" / "07_01.bvh", dst)
    ps = poses_from_mocap(jaxrefine.load_body_model(), tmp_path, max_trials=1)
    assert ps.pose.shape[1:] == (24, 3) and len(ps) > 5
    assert ps.subjects == ("07",) and set(ps.trial.tolist()) == {"07_01"}
    assert np.isfinite(ps.pose).all()


def test_given_poses_in_order_file_folder_shipped(pose_file, tmp_path):
    """A command's poses: the file it names, else its CMU folder, else the shipped demo set;
    each says where it came from, and a named file or folder that is missing is an error."""
    pose, where = given_poses(None, pose_file, tmp_path / "not read")
    np.testing.assert_array_equal(pose, _arrays()["pose"])
    assert where == str(pose_file)
    pose, where = given_poses(None)
    np.testing.assert_array_equal(pose, load_demo_poses().pose)
    assert where == str(DEMO_POSES_PATH)
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        given_poses(None, tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError, match="mocap folder not found"):
        given_poses(None, None, tmp_path / "missing")


def _make_demo_poses(*flags):
    argv = [sys.executable, str(REPO / "scripts" / "make_demo_poses.py"), *flags]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=REPO)


def test_make_demo_poses_keeps_evenly_spaced_validation_frames(pose_file, tmp_path):
    """scripts/make_demo_poses.py: only the validation subjects, ``--n`` evenly spaced frames
    (all of them when there are fewer), the CMU credit and the command inside; ``--n`` below 1
    and a folder as ``--out`` are usage errors that write nothing."""
    out = tmp_path / "demo.npz"
    done = _make_demo_poses("--poses", str(pose_file), "--n", "4", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    val = load_poses(pose_file, subjects=VALIDATION_SUBJECTS)  # 6 frames of 09 and 16
    with np.load(out) as z:
        np.testing.assert_array_equal(z["pose"], val.pose[[0, 2, 3, 5]])
        assert set(z["subject"].tolist()) == set(VALIDATION_SUBJECTS)
        assert str(z["credit"]) == CMU_CREDIT and str(z["command"]).endswith(f"--out {out}")
    assert (
        _make_demo_poses("--poses", str(pose_file), "--n", "99", "--out", str(out)).returncode == 0
    )
    assert len(load_poses(out)) == 6
    for flags, message in ((["--n", "0"], "--n must be at least 1 (got 0)"),
                           (["--out", str(tmp_path)], "is a folder, not a file")):  # fmt: skip
        done = _make_demo_poses("--poses", str(pose_file), "--out", str(tmp_path / "x.npz"), *flags)
        assert done.returncode == 2 and message in done.stderr, done.stderr[-2000:]
    with pytest.raises(ValueError, match=r"n must be at least 1 \(got 0\)"):
        write_demo_poses(pose_file, tmp_path / "x.npz", n=0, subjects=("09",), command="")
    assert not (tmp_path / "x.npz").exists()
