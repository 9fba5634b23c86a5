"""The optimizer comparison: the same frames, the same targets, only the optimizer changes.

For N synthetic frames (:func:`jaxrefine.evaluate.eval_frames`: CMU poses, procedural
clothing, backgrounds, a regressor-like initial estimate) every :class:`Method` refines the same
initial estimates against each of these target sets:

| target | kind | what |
|---|---|---|
| ``sparse_gt`` | keypoints | the 25 projected ground-truth BODY_25 keypoints (inside the image) |
| ``sparse_detected`` | keypoints | simulated detections (:class:`~.evaluate.DetectorNoise`) |
| ``dense_gt`` | dense | ground-truth per-vertex targets (the oracle's) |
| ``dense_learned`` | dense | the network's targets (:func:`~.walkthrough.network_targets`) |

Each fit is SMPLify with the ``dense`` preset and the GMM pose prior (the shipped one, or the
one given), run as two timed calls,
the camera stage and then the body stage from its result (so the wall-time axis of the body
stage is measured, not guessed; each call is run twice, the first compiles). A method named
``"lgd"`` is learned gradient descent as :func:`jaxrefine.smplify.smplify` runs it by name: the
camera stage with Adam, the body stage by the shipped LGD checkpoint of the target kind (sparse
or dense) on the data term only (no priors). When no checkpoint is shipped the row is *skipped
with the reason*, never dropped.

Per method and target set: the mean metrics (mm, :data:`jaxrefine.metrics.METRIC_NAMES`), ms
per frame of each stage after compilation, the compilation seconds, the per-frame fit status
counts (:data:`jaxrefine.fit.STATUS_NAMES`; "failed" = not ok), and the body-stage loss of every
frame at every iterate -- always the same objective (the preset's body objective with the GMM
prior), evaluated on the iterates, so the curves of LGD (which minimises the data term only)
and of the classical optimizers share one axis.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine.body_model import BodyModel
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import GeneratorConfig
from jaxrefine.evaluate import eval_frames, ground_truth_data, simulate_detections
from jaxrefine.fit import STATUS_NAMES, STATUS_OK, worst_status
from jaxrefine.metrics import METRIC_NAMES, compute_all
from jaxrefine.network.config import NetworkConfig
from jaxrefine.objective import (
    compact_dense,
    get_preset,
    load_gmm_prior,
    make_objectives,
    params_from_pose,
    pose_from_params,
)
from jaxrefine.optimizers.registry import resolve_optimizer
from jaxrefine.priors import GMMPrior
from jaxrefine.refine import RefineOptions, pose_batch, timed, with_start
from jaxrefine.report import format_table
from jaxrefine.walkthrough import network_targets

TARGETS = ("sparse_gt", "sparse_detected", "dense_gt", "dense_learned")
TARGET_KIND = {
    "sparse_gt": "keypoints",
    "sparse_detected": "keypoints",
    "dense_gt": "dense",
    "dense_learned": "dense",
}
LGD = "lgd"


@dataclasses.dataclass(frozen=True)
class Method:
    """One row of the comparison.

    Attributes:
      label: the row's name in tables and plots.
      optimizer: a registry name (:func:`jaxrefine.optimizers.registry.optimizer_names`);
        ``"lgd"`` = Adam camera stage + the shipped LGD of the target kind (data term only);
        ``"lgd:PATH"`` the same with a checkpoint of one's own (rows of target sets it was
        not trained for are skipped with the reason).
      camera_steps / body_steps: iterations of the two stages.
    """

    label: str
    optimizer: str
    camera_steps: int
    body_steps: int


def default_methods(
    scale: float = 1.0, lgd_steps: int = 10, optimizers: tuple[str, ...] | None = None
) -> tuple[Method, ...]:
    """The notebook's rows: each optimizer at its usual budget times ``scale`` (at least 2
    steps per stage); LGD with at most ``lgd_steps`` learned steps (its camera stage is Adam's,
    with Adam's steps, so the two share one compiled camera stage). ``optimizers``: keep only
    the rows of these registry names (None: all)."""

    def s(k):
        return max(2, int(round(k * scale)))

    rows = (
        Method(f"Adam {s(100)}+{s(100)}", "adam", s(100), s(100)),
        Method(f"L-BFGS {s(20)}+{s(50)}", "lbfgs", s(20), s(50)),
        Method(f"LM {s(10)}+{s(20)}", "lm", s(10), s(20)),
        Method(f"Gauss-Newton {s(10)}+{s(20)}", "gn", s(10), s(20)),
        Method(f"jaxopt L-BFGS {s(20)}+{s(50)}", "jaxopt-lbfgs", s(20), s(50)),
        Method(f"LGD {s(100)}+{lgd_steps}", LGD, s(100), lgd_steps),
    )
    return rows if optimizers is None else tuple(m for m in rows if m.optimizer in optimizers)


@dataclasses.dataclass(frozen=True)
class Frames:
    """The comparison's frames and every target set (leading N axis; see the module table).

    Attributes:
      init_params: the initial estimates' parameter dict. init_vertices: (N, V, 3).
      gt_joints (N, 24, 3) / gt_vertices (N, V, 3): ground truth, camera frame.
      data: {target: FitData with the start filled}. render_flags: {target: (N,) or None}.
      skipped: {target: why it could not be made}.
    """

    init_params: dict
    init_vertices: jnp.ndarray
    gt_joints: jnp.ndarray
    gt_vertices: jnp.ndarray
    data: dict
    render_flags: dict
    skipped: dict


def make_frames(
    model: BodyModel,
    poses,
    n: int,
    seed: int,
    network: tuple[NetworkConfig, dict] | None = None,
    *,
    targets: tuple[str, ...] = TARGETS,
    difficulty: str = "medium",
    image_size: int = 256,
    texture_size: int = 256,
    preset: str = "dense",
    backend: str = "auto",
) -> Frames:
    """``n`` synthetic frames (one subject per frame) and the requested target sets.

    Args:
      network: ``(config, params)`` of the displacement network for ``dense_learned``; None
        skips that target set (the reason is kept in ``Frames.skipped``).
      targets: names of :data:`TARGETS` to make.
    """
    bad = [t for t in targets if t not in TARGETS]
    if bad:
        raise ValueError(f"unknown target sets {bad}; choose from {TARGETS}")
    gen = GeneratorConfig(
        scene=SceneConfig(image_size=(image_size, image_size)),
        difficulty=difficulty,
        texture_size=texture_size,
        backend=backend,
    )
    batch, subjects = eval_frames(model, poses, n, seed, gen, group=1)
    init = params_from_pose(batch.init_pose, batch.init_betas, batch.init_transl)
    gt = pose_batch(model, *(jnp.asarray(a) for a in (batch.pose, batch.betas, batch.transl)))
    v0 = pose_batch(
        model, *(jnp.asarray(a) for a in (batch.init_pose, batch.init_betas, batch.init_transl))
    ).vertices
    gt_data, info = ground_truth_data(model, batch, RefineOptions(batch_size=n, backend=backend))
    data, flags, skipped = {}, {}, {}
    for t in targets:
        if t in gt_data:
            data[t], flags[t] = gt_data[t], info["render_flags"] if t == "dense_gt" else None
        elif t == "sparse_detected":
            det = simulate_detections(batch.keypoints, batch.visible, seed + 7)
            data[t] = gt_data["sparse_gt"].replace(
                keypoints=jnp.asarray(det[..., :2]), keypoint_conf=jnp.asarray(det[..., 2])
            )
            flags[t] = None
        elif network is None:
            skipped[t] = "no displacement network given"
        else:
            nt = network_targets(
                model,
                network,
                list(batch.image),
                v0,
                batch.cameras,
                subjects,
                texture_size=texture_size,
                backend=backend,
            )
            data[t] = gt_data["dense_gt"].replace(
                dense_targets=nt.targets, dense_weights=nt.weights
            )
            flags[t] = np.asarray(nt.rendering.render_flags)
    p = get_preset(preset)
    data = {t: with_start(d, init["transl"], v0, p) for t, d in data.items()}
    return Frames(init, v0, gt.joints, gt.vertices, data, flags, skipped)


def _metrics(model, params, frames: Frames) -> dict:
    """Per-frame metrics (mm) of a params batch against the ground truth."""
    out = pose_batch(model, pose_from_params(params), params["betas"], params["transl"])
    m = jax.jit(jax.vmap(compute_all))(
        out.joints, frames.gt_joints, out.vertices, frames.gt_vertices
    )
    return {k: np.asarray(m[k]) for k in METRIC_NAMES}


@jax.jit
def _curve(objective, iterates, data):
    """(N, T + 1) ``objective`` at every iterate of every frame."""
    return jax.vmap(lambda its, d: jax.vmap(lambda p: objective.loss(p, d))(its))(iterates, data)


def _twice(run):
    """``(result, seconds of a second run, compile seconds = first - second)``."""
    _, first = timed(run)
    res, secs = timed(run)
    return res, secs, max(first - secs, 0.0)


def run_method(
    model,
    frames: Frames,
    target: str,
    method: Method,
    *,
    preset: str = "dense",
    chunk_size: int | None = None,
    gmm: GMMPrior | None = None,
) -> dict:
    """One method on one target set (see the module docstring for what is measured);
    ``gmm``: the pose prior of the fits and of the loss curves (None: the shipped one; e.g.
    ``load_gmm_prior("gmm_08.pkl")`` for SMPLify's).

    Returns:
      {"metrics": {name: mean mm}, "per_frame": {name: (N,) mm}, "ms_camera", "ms_body",
      "ms_per_frame" (both stages), "compile_s", "status": (N,) codes, "status_counts":
      {name: frames}, "failed": frames not ok, "loss_curve": (N, T + 1), "ms_axis": (T + 1,)
      ms per frame since the fit began at each body-stage iterate}.

    Raises:
      FileNotFoundError: an "lgd" method without a shipped checkpoint of the target's kind.
    """
    from jaxrefine.smplify import smplify

    kind, data, p = TARGET_KIND[target], frames.data[target], get_preset(preset)
    data = compact_dense(data) if kind == "dense" else data
    gmm = load_gmm_prior() if gmm is None else gmm
    # resolved once, outside the timings (a learned optimizer's checkpoint is read from disk)
    opt = resolve_optimizer(method.optimizer, p.learning_rate, kind)
    flags = frames.render_flags[target]
    common = dict(preset=p, data_kind=kind, chunk_size=chunk_size, render_flags=flags,
                  optimizer=opt, gmm=gmm)  # fmt: skip
    cam, s_cam, c_cam = _twice(lambda: smplify(
        model, frames.init_params, data, camera_steps=method.camera_steps, body_steps=0, **common
    ))  # fmt: skip
    body, s_body, c_body = _twice(lambda: smplify(
        model, cam.params, data, camera_steps=0, body_steps=method.body_steps,
        return_iterates=True, **common,
    ))  # fmt: skip
    _, reference = make_objectives(model, p, kind, gmm)
    curve = np.asarray(_curve(reference, body.body_stage.iterates, data))
    n, T = curve.shape[0], curve.shape[1] - 1
    status = np.asarray(worst_status(cam.status, body.status))
    per_frame = _metrics(model, body.params, frames)
    counts = np.bincount(status, minlength=len(STATUS_NAMES))
    return {
        "metrics": {k: float(np.mean(v)) for k, v in per_frame.items()},
        "per_frame": per_frame,
        "ms_camera": s_cam * 1e3 / n,
        "ms_body": s_body * 1e3 / n,
        "ms_per_frame": (s_cam + s_body) * 1e3 / n,
        "compile_s": c_cam + c_body,
        "status": status,
        "status_counts": {STATUS_NAMES[c]: int(k) for c, k in enumerate(counts)},
        "failed": int(np.sum(status != STATUS_OK)),
        "loss_curve": curve,
        "ms_axis": (s_cam + s_body * np.arange(T + 1) / max(T, 1)) * 1e3 / n,
    }


def _cannot_fit(method: Method, kind: str) -> str | None:
    """Why ``method`` has no version for data of ``kind`` (a learned optimizer trained for
    other observations, e.g. a user's ``"lgd:PATH"``; the shipped LGD missing from the
    package), or None. A user's checkpoint file that is missing raises."""
    from jaxrefine.optimizers.registry import missing_version

    try:
        return missing_version(method.optimizer, kind)
    except FileNotFoundError as exc:  # only the shipped LGD's missing checkpoint is skipped
        if method.optimizer != LGD:
            raise
        return f"no shipped weights: {exc}"


def compare(
    model: BodyModel,
    frames: Frames,
    methods: tuple[Method, ...],
    *,
    targets: tuple[str, ...] | None = None,
    preset: str = "dense",
    gmm: GMMPrior | None = None,
    say=lambda *a: None,
) -> dict:
    """Every method on every target set of ``frames``.

    Args:
      frames: from :func:`make_frames`. methods: the rows (:func:`default_methods`).
      targets: a subset of the frames' target sets (default: all that were made).
      gmm: the pose prior (None: the shipped one; see :func:`run_method`).
      say: progress callback (e.g. ``print``).

    Returns:
      {"init": {target-independent metrics: mean mm}, "targets": {target: {"kind",
      "rows": {label: :func:`run_method`'s dict}, "skipped": {label: reason}}},
      "skipped_targets": {target: reason}, "n"}.
    """
    targets = tuple(frames.data) if targets is None else targets
    init = _metrics(model, frames.init_params, frames)
    out = {
        "init": {k: float(np.mean(v)) for k, v in init.items()},
        "targets": {},
        "skipped_targets": dict(frames.skipped),
        "n": int(frames.init_vertices.shape[0]),
    }
    for t in targets:
        rows, skipped = {}, {}
        for m in methods:
            say(f"[compare] {t}: {m.label}")
            why = _cannot_fit(m, TARGET_KIND[t])
            if why is not None:
                skipped[m.label] = why
                say(f"[compare] {t}: {m.label} SKIPPED ({why})")
                continue
            t0 = time.perf_counter()
            rows[m.label] = run_method(model, frames, t, m, preset=preset, gmm=gmm)
            say(f"[compare] {t}: {m.label} done in {time.perf_counter() - t0:.1f} s")
        out["targets"][t] = {"kind": TARGET_KIND[t], "rows": rows, "skipped": skipped}
    return out


def summary_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    """``(headers, rows)`` of the comparison table: one row per target set and method (and
    the initial estimate first); skipped methods stay in the table with their reason."""
    metrics = ("mpjpe", "pa_mpjpe", "pve", "pa_pve")
    headers = ["targets", "method", *metrics, "ms/frame", "compile s", "failed", "status"]
    rows = [
        [
            "-",
            "initial estimate",
            *(f"{result['init'][k]:.1f}" for k in metrics),
            "-",
            "-",
            "-",
            "-",
        ]
    ]
    for t, res in result["targets"].items():
        for label, r in res["rows"].items():
            status = ", ".join(f"{k} {v}" for k, v in r["status_counts"].items() if v)
            rows.append(
                [
                    t,
                    label,
                    *(f"{r['metrics'][k]:.1f}" for k in metrics),
                    f"{r['ms_per_frame']:.1f}",
                    f"{r['compile_s']:.1f}",
                    str(r["failed"]),
                    status,
                ]
            )
        for label, why in res["skipped"].items():
            rows.append(
                [t, label, *("-" for _ in metrics), "-", "-", "-", "SKIPPED: " + why.split(":")[0]]
            )
    for t, why in result["skipped_targets"].items():
        rows.append([t, "(all)", *("-" for _ in metrics), "-", "-", "-", f"SKIPPED: {why}"])
    return headers, rows


def format_comparison(result: dict) -> str:
    """:func:`summary_rows` as a Markdown table."""
    return format_table(*summary_rows(result))


def median_curve(row: dict) -> np.ndarray:
    """(T + 1,) median over frames of the body-stage loss relative to its start."""
    c = np.asarray(row["loss_curve"], np.float64)
    return np.median(c / np.maximum(c[:, :1], 1e-30), axis=0)
