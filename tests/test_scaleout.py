"""Several processes, one job: the frames' shares, the merge, and ``refine`` / ``eval`` over two
local CPU processes (``jax.distributed``) against one process.

The two-process run happens in subprocesses: the distributed runtime is fixed when JAX starts.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import imageio.v3 as iio
import jax
import numpy as np
import pytest

from jaxrefine import distributed, network
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import GeneratorConfig, generate
from jaxrefine.evaluate import (
    eval_frames,
    simulate_detections,
    summarize,
)
from jaxrefine.metrics import METRIC_NAMES
from jaxrefine.refine import RefineOptions
from jaxrefine.refine_files import refine_files
from jaxrefine.refine_outputs import Outputs
from jaxrefine.smpl_io import load_body_model
from jaxrefine.testing import launch_local_processes

FAST = RefineOptions(batch_size=2, camera_steps=2, body_steps=3, texture_size=32)
# A process refines whole chunks, the same chunks as one process, with the same compiled
# programs: the results are expected bit for bit. The tolerance only allows for float32
# reductions that XLA:CPU might split differently over threads on a busy machine (a few ulps of
# values of order 1-100); a wrong merge (rows swapped, a frame refined with other companions)
# moves parameters by 1e-3 and more.
MERGE_RTOL, MERGE_ATOL = 1e-6, 1e-6
# a single objective term (refine's report): a float32 sum over thousands of residuals; 1.5e-6
# relative seen on a data term of 71 whose frame's objective stayed within MERGE_RTOL; a wrong
# merge moves it by far more
TERM_RTOL = 1e-5

# ---------------------------------------------------------------------------- shares and merge


@pytest.mark.parametrize(
    "n, procs, groups",
    [
        (10, 3, None),  # one frame per group, uneven split
        (7, 2, [0, 0, 0, 1, 1, 2, 2]),  # uneven groups
        (8, 3, [5, 9, 5, 9, 5, 9, 7, 7]),  # interleaved track ids (not sorted, not 0..G-1)
        (3, 4, [0, 0, 1]),  # more processes than groups: some get nothing
        (5, 1, [0, 1, 1, 2, 2]),
        (0, 2, None),
    ],
)
def test_shares_cover_every_frame_once_and_keep_groups_together(n, procs, groups):
    parts = distributed.shares(n, procs, groups)
    assert len(parts) == procs
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(n))
    g = np.arange(n) if groups is None else np.asarray(groups)
    owners = {}
    for p, idx in enumerate(parts):
        assert np.all(np.diff(idx) > 0)  # sorted, no repeats
        for gid in np.unique(g[idx]):
            assert owners.setdefault(int(gid), p) == p, f"group {gid} split"
    for p in range(procs):  # the same answer from each process's own call
        assert np.array_equal(distributed.share(n, procs, p, groups), parts[p])


def test_shares_are_balanced_and_contiguous():
    parts = distributed.shares(10, 3)
    assert [len(p) for p in parts] == [3, 4, 3]
    chunks = np.arange(130) // 64  # 64, 64, 2 frames
    parts = distributed.shares(130, 2, chunks)
    assert [np.unique(chunks[p]).tolist() for p in parts] == [[0], [1, 2]]
    with pytest.raises(ValueError, match="groups must be"):
        distributed.shares(3, 2, [0, 1])
    with pytest.raises(ValueError, match="process id 2"):
        distributed.share(3, 2, 2)


def test_merge_orders_rows_and_refuses_gaps():
    a = {"index": np.array([2, 0]), "x": np.array([[2.0], [0.0]]), "s": np.array(["c", "a"])}
    b = {"index": np.array([1]), "x": np.array([[1.0]]), "s": np.array(["b"])}
    empty = {"index": np.zeros(0, np.int64)}
    out = distributed.merge([a, empty, b])
    assert out["x"].ravel().tolist() == [0.0, 1.0, 2.0] and out["s"].tolist() == ["a", "b", "c"]
    with pytest.raises(ValueError, match="once each"):
        distributed.merge([a, a])
    with pytest.raises(ValueError, match="once each"):
        distributed.merge([a])
    assert distributed.gather(a)[0]["s"].tolist() == ["c", "a"]  # one process: itself


def test_detections_of_a_share_are_the_whole_sets_rows():
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 100, (9, 25, 2))
    visible = rng.random((9, 25)) < 0.7
    whole = simulate_detections(kp, visible, 3)
    rows = np.array([1, 4, 5, 8])
    part = simulate_detections(kp[rows], visible[rows], 3, rows=rows, total=9)
    np.testing.assert_array_equal(part, whole[rows])


def test_summarize_takes_means_over_all_frames_not_means_of_shares():
    rng = np.random.default_rng(1)
    per = {f"{r}/{k}": rng.random(5).astype(np.float32) for r in
           ("init", "keypoints_detected", "learned_dense", "learned_dense_keypoints",
            "sparse_gt", "dense_gt") for k in METRIC_NAMES}  # fmt: skip
    per["index"] = np.arange(5)

    def share(rows, epe, pixels):
        s = {k: v[rows] for k, v in per.items()}
        s.update({"total/epe_sum": epe, "total/epe_zero_sum": 2 * epe, "total/fg_pixels": pixels,
                  "total/learned_dense/ms_fit": 10.0 * len(rows)})  # fmt: skip
        return s

    whole = summarize([share(np.arange(5), 30.0, 10.0)])
    split = summarize([share(np.array([3, 0]), 6.0, 5.0), share(np.array([1, 2, 4]), 24.0, 5.0)])
    assert whole == split  # exact: the same frames in the same order
    assert whole["init"]["mpjpe"] == float(np.mean(per["init/mpjpe"]))
    assert whole["learned_dense"]["epe"] == 3.0 and whole["zero_field"]["epe"] == 6.0
    assert whole["learned_dense"]["ms_fit"] == 10.0 and whole["init"]["ms_fit"] is None


# ----------------------------------------------------------------------------- eval by shares


def test_a_share_of_eval_frames_is_the_whole_sets_rows():
    """A process makes its subjects' frames exactly as the whole set has them (the rest of an
    eval share is per frame or per subject: detections above, means in ``summarize``; an
    end-to-end comparison of ``evaluate`` with the merge of ``evaluate_share`` over both
    subjects, 4 frames, agreed within the merge tolerance, at 6 minutes under load)."""
    model = load_body_model()
    poses = np.random.default_rng(0).normal(0, 0.2, (16, 24, 3)).astype(np.float32)
    config = GeneratorConfig(scene=SceneConfig(image_size=(32, 32)), texture_size=32)
    whole, ids = eval_frames(model, poses, 5, 3, config, group=2)  # subjects of 2, 2, 1 frames
    part, part_ids = eval_frames(model, poses, 5, 3, config, group=2, keep=[2, 1])
    rows = np.flatnonzero(ids >= 1)
    assert part_ids.tolist() == ids[rows].tolist() == [1, 1, 2]
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(whole), jax.tree.leaves(part)):
        np.testing.assert_array_equal(b, np.asarray(a)[rows], err_msg=jax.tree_util.keystr(path))


# ------------------------------------------------------------------------ gather, two processes

GATHER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from jaxrefine import distributed
    coordinator, pid = sys.argv[1], int(sys.argv[2])
    distributed.initialize(coordinator, 2, pid)
    rows = distributed.share(3, 2, pid, groups=[0, 1, 1])  # process 0: frame 0; 1: frames 1, 2
    local = {"index": rows, "x": rows * 0.1, "name": np.array([f"f{i}" for i in rows]),
             "big": np.full((len(rows), 1000), pid, np.float32)}
    parts = distributed.gather(local)
    empty = distributed.gather({"index": rows[:0]} if pid else local)  # process 1 has nothing
    merged = distributed.merge(parts)
    print("RESULT", json.dumps({"x": merged["x"].tolist(), "name": merged["name"].tolist(),
          "dtype": str(merged["x"].dtype), "big": merged["big"][:, 0].tolist(),
          "empty": [len(p["index"]) for p in empty]}))
    """
)


def test_gather_over_two_processes_is_exact():
    outs = launch_local_processes(GATHER)
    results = [json.loads(o.split("RESULT ", 1)[1]) for o in outs]
    assert results[0] == results[1]  # every process gets everything
    r = results[0]
    assert r["x"] == [0.0, 0.1, 0.2] and r["dtype"] == "float64"  # no float32 round trip
    assert r["name"] == ["f0", "f1", "f2"] and r["big"] == [0.0, 1.0, 1.0]
    assert r["empty"] == [1, 0]


# ------------------------------------------------------------------------ refine, two processes

PROCESS = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    coordinator, pid, root, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    from jaxrefine import distributed, network
    distributed.initialize(coordinator, 2, pid)
    import jax
    assert jax.process_count() == 2
    from jaxrefine.refine import RefineOptions
    from jaxrefine.refine_files import refine_files
    from jaxrefine.refine_outputs import Outputs
    from jaxrefine.smpl_io import load_body_model
    options = RefineOptions(batch_size=2, camera_steps=2, body_steps=3, texture_size=32)
    rep = refine_files(root / "imgs", root / "est.npz", out, model=load_body_model(),
                       network=network.load_params(root / "tiny.npz")[:2], options=options,
                       outputs=Outputs(tracks=False), chunk=1, progress=False)
    print("DONE", len(rep["frames"]))
    """
)


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """Three 48x48 frames of two people, a generic estimates npz and a tiny checkpoint."""
    root = tmp_path_factory.mktemp("user")
    model = load_body_model()
    poses = np.random.default_rng(0).normal(0, 0.2, (8, 24, 3)).astype(np.float32)
    b = generate(model, poses, 3, 0, GeneratorConfig(scene=SceneConfig(image_size=(48, 48)),
                                                     texture_size=32))  # fmt: skip
    (root / "imgs").mkdir()
    for i, img in enumerate(b.image):
        iio.imwrite(root / "imgs" / f"frame{i}.png", (img * 255).astype(np.uint8))
    np.savez(root / "est.npz", global_orient=b.init_pose[:, 0], body_pose=b.init_pose[:, 1:],
             betas=b.init_betas, transl=b.init_transl, track_id=[0, 0, 1],
             imgname=[f"frame{i}.png" for i in range(3)],
             camera_K=np.stack([np.asarray(b.camera(i).K) for i in range(3)]))  # fmt: skip
    cfg = network.get_config("tiny")
    network.save_params(root / "tiny.npz", cfg, network.init_params(cfg, jax.random.key(0)), {})
    return model, root


def _run_two(root, out):
    for stdout in launch_local_processes(PROCESS, root, out):
        assert "DONE 3" in stdout


def _assert_same_report(two, one):
    """Equal but for the timings, the process count and the machine (a process sees its own
    devices); objectives within the tolerance."""
    assert two["settings"].pop("processes") == 2
    for r in (two, one):  # the same files, in their own folders
        r["settings"]["files"] = [Path(f).name for f in r["settings"]["files"]]
        assert r["settings"].pop("machine")["cores"] >= 1
    assert two["settings"] == one["settings"] and two["status_counts"] == one["status_counts"]
    assert len(two["frames"]) == len(one["frames"])
    for a, b in zip(two["frames"], one["frames"]):
        for k in b:
            if isinstance(b[k], float) and k != "seconds":
                np.testing.assert_allclose(a[k], b[k], rtol=MERGE_RTOL, atol=MERGE_ATOL)
            elif k == "terms":  # per-term losses, as the objectives
                assert set(a[k]) == set(b[k])
                for t in b[k]:
                    np.testing.assert_allclose(a[k][t], b[k][t], rtol=TERM_RTOL, atol=MERGE_ATOL)
            elif k != "seconds":
                assert a[k] == b[k], k


@pytest.mark.slow
def test_refine_on_two_processes_equals_one(user_files, tmp_path, monkeypatch):
    model, root = user_files
    net = network.load_params(root / "tiny.npz")[:2]
    one, two = tmp_path / "one", tmp_path / "two"
    _run_two(root, two)  # chunks of one frame: process 0 refines frame 0, process 1 frames 1-2
    refine_files(root / "imgs", root / "est.npz", one, model=model, network=net, options=FAST,
                 outputs=Outputs(tracks=False), chunk=1, progress=False)  # fmt: skip
    with np.load(one / "refined.npz") as a, np.load(two / "refined.npz") as b:
        assert a.files == b.files
        for k in a.files:
            if a[k].dtype.kind == "f":
                np.testing.assert_allclose(b[k], a[k], rtol=MERGE_RTOL, atol=MERGE_ATOL,
                                           err_msg=k)  # fmt: skip
            else:
                np.testing.assert_array_equal(b[k], a[k], err_msg=k)
    rep = {d: json.loads((d / "report.json").read_text()) for d in (one, two)}
    _assert_same_report(rep[two], rep[one])
    assert sorted(p.name for p in (two / "overlays").iterdir()) == [
        "frame0_0.png", "frame1_0.png", "frame2_1.png"]  # fmt: skip
    assert len(list((two / "parts").glob("*.npz"))) == 3

    def boom(*a, **k):
        raise AssertionError("a finished chunk was refitted")

    # the parts both processes saved serve a resumed run (here, one process on the same folder)
    monkeypatch.setattr("jaxrefine.refine_files.refine", boom)
    again = refine_files(root / "imgs", root / "est.npz", two, model=model, network=net,
                         options=FAST, outputs=Outputs(overlays=False, tracks=False), chunk=1,
                         resume=True, progress=False)  # fmt: skip
    assert [f["final_objective"] for f in again["frames"]] == [
        f["final_objective"] for f in rep[two]["frames"]]  # fmt: skip


def test_bad_process_flags_fail_before_work(capsys):
    from jaxrefine.cli import main as cli_main

    code = cli_main(["refine", "x", "--out", "y", "--coordinator", "127.0.0.1:1",
                     "--num-processes", "2", "--process-id", "2"])  # fmt: skip
    assert code == 2 and "process id 2 outside [0, 2)" in capsys.readouterr().err
    code = cli_main(["eval", "--poses", "p.npz", "--num-processes", "2"])
    assert code == 2 and "--coordinator" in capsys.readouterr().err
