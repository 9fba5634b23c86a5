"""Mocap pose sets: the one place that reads them, filters subjects and splits train/validation.

A pose file is the output of ``jaxrefine mocap`` (:func:`jaxrefine.data.mocap.convert`): an
npz with ``pose`` (N, 24, 3) float32 axis-angle poses in SMPL layout (global orientation
first), and per frame its ``trial`` (e.g. "02_01") and ``subject`` (e.g. "02") as unicode
strings. Other keys (quality report, frame numbers) are ignored here.

Validation subjects (:data:`VALIDATION_SUBJECTS`): CMU subjects 09 and 16, already held out
from the GMM pose prior; never train the displacement network on them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from jaxrefine.errors import JaxrefineError
from jaxrefine.files import read_npz

VALIDATION_SUBJECTS = ("09", "16")
MAX_ANGLE = 1e4  # radians; any axis-angle component beyond is a damaged file, not a pose


class PoseFileError(JaxrefineError, ValueError):
    """A pose file that is not a readable ``jaxrefine mocap`` output (names the file)."""


@dataclasses.dataclass(frozen=True)
class PoseSet:
    """N mocap frames.

    Attributes:
      pose: (N, 24, 3) float32 axis-angle, global orientation first.
      subject: (N,) str subject id per frame ("02").
      trial: (N,) str trial id per frame ("02_01").
    """

    pose: np.ndarray
    subject: np.ndarray
    trial: np.ndarray

    def __len__(self) -> int:
        return int(self.pose.shape[0])

    @property
    def subjects(self) -> tuple[str, ...]:
        """The distinct subject ids, sorted."""
        return tuple(sorted(set(self.subject.tolist())))

    def select(self, index) -> PoseSet:
        """The frames ``index`` (bool mask, int array or slice) selects."""
        return PoseSet(self.pose[index], self.subject[index], self.trial[index])


def _fail(path, what: str) -> PoseFileError:
    return PoseFileError(f"{path}: {what} (expected a `jaxrefine mocap` pose file)")


def read_pose_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of a ``jaxrefine mocap`` pose file, once ``pose`` (N, 24, 3) float,
    ``subject`` and ``trial`` (N,) str are checked (:func:`load_poses`' errors)."""
    path = Path(path)
    if path.is_dir():
        raise _fail(path, "a folder, not a pose file")
    if not path.is_file():
        raise FileNotFoundError(f"pose file not found: {path} (make it with `jaxrefine mocap`)")
    z = read_npz(path, PoseFileError, "pose file (expected one made by `jaxrefine mocap`)")
    missing = [k for k in ("pose", "subject", "trial") if k not in z]
    if missing:
        raise _fail(path, f"missing keys {missing} (found {sorted(z)})")
    pose, subject, trial = z["pose"], z["subject"], z["trial"]
    if pose.ndim != 3 or pose.shape[1:] != (24, 3) or not np.issubdtype(pose.dtype, np.floating):
        raise _fail(path, f"'pose' must be float (N, 24, 3), got {pose.dtype} {pose.shape}")
    n = len(pose)
    for name, a in (("subject", subject), ("trial", trial)):
        if a.shape != (n,) or a.dtype.kind != "U":
            raise _fail(path, f"'{name}' must be a str array ({n},), got {a.dtype} {a.shape}")
    bad = ~(np.abs(pose) <= MAX_ANGLE).all(axis=(1, 2))  # NaN compares False
    if bad.any():
        raise _fail(path, f"{int(bad.sum())} poses are not finite or beyond {MAX_ANGLE} rad "
                    f"(first: frame {np.argmax(bad)})")  # fmt: skip
    return z


def load_poses(
    path: str | os.PathLike,
    *,
    subjects: Iterable[str] | None = None,
    exclude_subjects: Iterable[str] | None = None,
) -> PoseSet:
    """Read a ``jaxrefine mocap`` pose file, optionally keeping or dropping subjects.

    Args:
      path: the npz file.
      subjects: keep only these subject ids (None = all).
      exclude_subjects: then drop these subject ids.

    Returns:
      :class:`PoseSet`.

    Raises:
      FileNotFoundError: no such file.
      PoseFileError (a ValueError): not an npz, a missing key, wrong shapes or dtypes,
        non-finite poses, or no frame left after the subject filter (each names the file).
    """
    z = read_pose_file(path)
    n, subject = len(z["pose"]), z["subject"]
    out = PoseSet(z["pose"].astype(np.float32), subject, z["trial"])
    keep = np.ones(n, bool)
    if subjects is not None:
        keep &= np.isin(subject, list(subjects))
    if exclude_subjects is not None:
        keep &= ~np.isin(subject, list(exclude_subjects))
    if not keep.any():
        raise _fail(
            path,
            f"no frame left (subjects={subjects}, exclude_subjects={exclude_subjects}; the file "
            f"has subjects {list(out.subjects)})",
        )
    return out.select(keep)


def split_poses(
    poses: PoseSet, validation: Iterable[str] = VALIDATION_SUBJECTS
) -> tuple[PoseSet, PoseSet]:
    """Split by subject: (train = every other subject, val = the ``validation`` subjects).

    Either part may be empty (e.g. a file made from the training subjects only).
    """
    val = np.isin(poses.subject, list(validation))
    return poses.select(~val), poses.select(val)


def poses_from_mocap(model, mocap_dir: str | os.PathLike, max_trials: int = 6) -> PoseSet:
    """A few CMU trials retargeted on the fly (for demos without a pose file).

    Takes ``max_trials`` trials spread over the sorted ``.bvh`` files under ``mocap_dir`` and
    retargets them at 2 frames per second onto ``model``'s rest pose.

    Raises:
      FileNotFoundError: the folder does not exist or holds no ``.bvh`` file.
    """
    import jax.numpy as jnp

    from jaxrefine.body_model import rest_joints
    from jaxrefine.data import mocap

    root = Path(mocap_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"mocap folder not found: {root} (pass a pose file instead)")
    files = sorted(root.rglob("*.bvh"))
    if not files:
        raise FileNotFoundError(f"no .bvh trial under {root}")
    trials = files[:: max(1, len(files) // max(1, int(max_trials)))]
    rest = np.asarray(rest_joints(model, jnp.zeros(model.num_betas)))
    pose, subject, trial = [], [], []
    for path in trials:
        tr = mocap.load_trial(path, frames_at_fps=2)
        p = mocap.retarget(tr, rest)
        pose.append(p)
        subject += [tr.subject] * len(p)
        trial += [tr.trial] * len(p)
    return PoseSet(
        np.concatenate(pose).astype(np.float32), np.asarray(subject, str), np.asarray(trial, str)
    )


DEMO_POSES_PATH = Path(__file__).resolve().parents[1] / "assets" / "demo_poses.npz"
CMU_CREDIT = (
    "The data used in this project was obtained from mocap.cs.cmu.edu. The database was "
    "created with funding from NSF EIA-0196217."
)


def write_demo_poses(src, dst, *, n: int, subjects, command: str) -> Path:
    """Evenly spaced poses of ``subjects`` from a ``jaxrefine mocap`` file, with the CMU credit
    and the command that made them (``scripts/make_demo_poses.py``); fewer than ``n`` when the
    subjects have fewer frames. ``n`` below 1 is a ValueError (an empty set would fail the demo
    only when it ran)."""
    from jaxrefine.files import atomic_savez

    if n < 1:
        raise ValueError(f"demo poses: n must be at least 1 (got {n})")
    ps = load_poses(src, subjects=subjects)
    pick = np.linspace(0, len(ps) - 1, min(n, len(ps))).round().astype(int)
    sel = ps.select(pick)
    return atomic_savez(dst, {
        "pose": sel.pose, "subject": sel.subject, "trial": sel.trial,
        "credit": np.array(CMU_CREDIT), "command": np.array(command),
    })  # fmt: skip


def load_demo_poses() -> PoseSet:
    """The pose set shipped for the demo (CMU subjects 09 and 16, evenly spaced)."""
    return load_poses(DEMO_POSES_PATH)


def given_poses(
    model, poses_path: str | os.PathLike | None = None, mocap_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, str]:
    """The poses a command was given, and where they came from: (N, 24, 3) poses of a
    ``jaxrefine mocap`` file (:func:`load_poses`), else a few CMU trials retargeted on the fly
    from ``mocap_dir`` (:func:`poses_from_mocap`), else the pose set shipped for the demo
    (:func:`load_demo_poses`). A missing file or folder is an error; nothing outside the
    package is read unless named."""
    if poses_path:
        return load_poses(poses_path).pose, str(poses_path)
    if mocap_dir:
        return poses_from_mocap(model, mocap_dir).pose, str(mocap_dir)
    return load_demo_poses().pose, str(DEMO_POSES_PATH)
