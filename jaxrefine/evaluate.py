"""The paper's Table 1 analog on synthetic frames: how much does learned dense refinement help,
next to SMPLify on detected keypoints and the ground-truth upper bounds?

Frames are made as training makes them (:mod:`jaxrefine.data.scenes`: CMU poses, procedural
clothing, backgrounds, lighting, noise), in groups of ``group`` frames per synthetic subject
(one texture per subject, so the personal texture is estimated from the subject's frames and
initial estimates, as :func:`jaxrefine.refine.refine` does for a user's video; body shapes vary
per frame). Every row fits with the same preset and optimizer, one jit-compiled batched program
per method:

| row | meaning |
|---|---|
| ``init`` | the initial estimate |
| ``zero_field`` | EPE of the zero field (= keeping the initial estimate), EPE only |
| ``keypoints_detected`` | SMPLify on simulated detector keypoints (:class:`DetectorNoise`) |
| ``learned_dense`` | SMPLify on the network's dense targets |
| ``learned_dense_keypoints`` | both terms |
| ``sparse_gt`` | SMPLify on the 25 ground-truth keypoints (upper bound for sparse) |
| ``dense_gt`` | SMPLify on ground-truth dense targets (upper bound for dense) |

Metrics (mm, 24 SMPL joints / all vertices, :mod:`jaxrefine.metrics`): mpjpe, pa_mpjpe, n_mpjpe,
pve, pa_pve, n_pve; ``epe`` (px, crop pixels, the initial rendering's foreground) of the predicted
field and of the zero field; ms per frame of each stage after compilation (render, network,
transfer, fit). ``None`` where a column does not apply.

Every fitted row uses ``options``' pose prior (:func:`jaxrefine.refine.pose_prior`): the
shipped GMM, or SMPLify's ``gmm_08.pkl`` (or an ``.npz``) given as ``--gmm PATH``; the JSON's
``pose_prior`` names it.

Several processes (``--coordinator --num-processes --process-id``, :mod:`jaxrefine.distributed`)
split the synthetic subjects: each makes and evaluates its own subjects' frames (made exactly as
in a one-process run), and the table is computed from every frame's metrics and the summed pixel
errors, pixel counts and stage times, so it is the one-process table (means over all frames).
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine import distributed
from jaxrefine.body_model import BodyModel
from jaxrefine.correspondence import ground_truth_dense_targets, ground_truth_field
from jaxrefine.data.sampling import sample_scenes, with_one_shape
from jaxrefine.data.scenes import GeneratorConfig, SceneBatch, generate, make_textures
from jaxrefine.errors import refuse_below
from jaxrefine.files import output_file_arg
from jaxrefine.metrics import METRIC_NAMES, compute_all
from jaxrefine.network.config import NetworkConfig
from jaxrefine.network.crop import crop_camera
from jaxrefine.objective import (
    FitData,
    compact_dense,
    get_preset,
    params_from_pose,
)
from jaxrefine.priors import GMM_FILE_HELP, prior_file_arg
from jaxrefine.refine import (
    RefineOptions,
    check_network,
    pose_batch,
    pose_prior,
    predict_fields,
    refine,
    render_crops,
    subject_colours,
    timed,
    with_start,
)
from jaxrefine.render import rasterize_batch
from jaxrefine.smplify import release_compiled_fits
from jaxrefine.uv_layout import MODEL_HELP, require_layout

ROWS = (
    "init",
    "zero_field",
    "keypoints_detected",
    "learned_dense",
    "learned_dense_keypoints",
    "sparse_gt",
    "dense_gt",
)
LEARNED_ROWS = ("learned_dense", "learned_dense_keypoints")  # refine() with the network
GIVEN_TARGET_ROWS = ("keypoints_detected", "sparse_gt", "dense_gt")  # SMPLify on given targets
TIME_COLUMNS = ("ms_render", "ms_network", "ms_transfer", "ms_fit")
TOTAL = "total/"  # prefix of a share's sums (the other entries of a share are per frame)


@dataclasses.dataclass(frozen=True)
class DetectorNoise:
    """A 2D keypoint detector's errors (the paper's OpenPose row), relative to the person's size
    ``s`` (the longer side of the ground-truth keypoints' box, pixels):

    - every detected joint: Gaussian pixel noise of std ``sigma * s``;
    - a fraction ``low_conf_frac`` of joints are unsure: confidence U(``low_conf``) and
      ``low_conf_noise`` times the noise;
    - ``outlier_frac`` of joints land anywhere in the person's box (swapped limbs, other
      people), with a confidence U(``low_conf``);
    - joints the ground truth marks invisible (outside the image or occluded) are missed with
      probability ``miss_occluded``, visible ones with ``miss_visible``; missed = confidence 0.

    Confidences of sure joints are U(``high_conf``). The defaults give errors of a few percent
    of the body height, about what OpenPose shows on 3DPW-like footage.
    """

    sigma: float = 0.015
    low_conf_frac: float = 0.2
    low_conf: tuple[float, float] = (0.2, 0.5)
    low_conf_noise: float = 3.0
    high_conf: tuple[float, float] = (0.6, 0.95)
    outlier_frac: float = 0.03
    miss_visible: float = 0.05
    miss_occluded: float = 0.6


def simulate_detections(
    keypoints, visible, seed: int, noise: DetectorNoise = DetectorNoise(), *, rows=None, total=None
):
    """(N, K, 3) detections (x, y, confidence) from ground-truth keypoints (N, K, 2) and their
    visibility (N, K) (see :class:`DetectorNoise`).

    With ``rows`` (N,) and ``total``, the frames are those rows of a set of ``total`` frames and
    get the noise they get when the whole set is simulated (a process's share)."""
    rng = np.random.default_rng(seed)
    kp = np.asarray(keypoints, np.float64)
    n, k = kp.shape[:2]
    rows = np.arange(n) if rows is None else np.asarray(rows)
    total = n if total is None else int(total)

    def draw(fn, *args, extra=()):  # the whole set's draws, in one order, then these rows
        return fn(*args, (total, k, *extra))[rows]

    lo, hi = kp.min(1), kp.max(1)
    size = np.max(hi - lo, axis=1)[:, None, None]
    unsure = draw(rng.random) < noise.low_conf_frac
    conf = np.where(unsure, draw(rng.uniform, *noise.low_conf), draw(rng.uniform, *noise.high_conf))
    std = noise.sigma * size * np.where(unsure, noise.low_conf_noise, 1.0)[..., None]
    out = kp + draw(rng.normal, 0, 1, extra=(2,)) * std
    outlier = draw(rng.random) < noise.outlier_frac
    anywhere = lo[:, None] + draw(rng.random, extra=(2,)) * (hi - lo)[:, None]
    out = np.where(outlier[..., None], anywhere, out)
    conf = np.where(outlier, draw(rng.uniform, *noise.low_conf), conf)
    miss_p = np.where(np.asarray(visible, bool), noise.miss_visible, noise.miss_occluded)
    conf = np.where(draw(rng.random) < miss_p, 0.0, conf)
    return np.concatenate([out, conf[..., None]], -1).astype(np.float32)


def eval_frames(
    model: BodyModel,
    poses,
    n: int,
    seed: int,
    config: GeneratorConfig,
    group: int,
    keep=None,
    one_shape: bool = False,
):
    """``n`` frames in subjects of ``group`` frames (one procedural texture each); returns the
    :class:`SceneBatch` and (n,) subject ids. ``keep``: make only these subjects' frames (a
    process's share), each exactly as the whole set has it. ``one_shape``: each subject also
    keeps one body shape across its frames (:func:`~jaxrefine.data.sampling.with_one_shape`);
    by default shapes vary per frame."""
    subjects = -(-n // group)
    rng = np.random.default_rng(seed)
    texture_seeds = rng.integers(0, 2**31, subjects)
    frame_seeds = [int(rng.integers(2**31)) for _ in range(subjects)]
    keep = range(subjects) if keep is None else sorted({int(s) for s in keep})

    def scenes(s):
        if not one_shape:
            return None
        count = min(group, n - s * group)
        drawn = sample_scenes(model, poses, count, frame_seeds[s], config.scene)
        return with_one_shape(model, drawn)

    batches = [
        generate(
            model,
            poses,
            min(group, n - s * group),
            frame_seeds[s],
            config,
            textures=make_textures(model, texture_seeds[s : s + 1], config.texture_size),
            scenes=scenes(s),
        )  # fmt: skip
        for s in keep
    ]
    batch = jax.tree.map(lambda *a: np.concatenate(a), *batches)
    ids = np.repeat(np.arange(subjects), group)[:n]
    return batch, ids[np.isin(ids, list(keep))]


def _metrics(model, params, batch: SceneBatch) -> dict:
    """Every frame's metrics: ``{name: (N,) float32}``."""
    pose = jnp.concatenate([jnp.asarray(params["global_orient"])[:, None], params["body_pose"]], 1)
    out = pose_batch(model, pose, jnp.asarray(params["betas"]), jnp.asarray(params["transl"]))
    gt = pose_batch(model, jnp.asarray(batch.pose), jnp.asarray(batch.betas),
                    jnp.asarray(batch.transl))  # fmt: skip
    m = jax.jit(jax.vmap(compute_all))(out.joints, gt.joints, out.vertices, gt.vertices)
    return {k: np.asarray(m[k]) for k in METRIC_NAMES}


def _row(metrics=None, epe=None, **ms) -> dict:
    row = {k: (None if metrics is None else metrics[k]) for k in METRIC_NAMES}
    row["epe"] = epe
    row.update({c: ms.get(c) for c in TIME_COLUMNS})
    return row


def _chunks(n: int, size: int):
    """Index arrays of ``size`` (the last padded with its final frame) and their lengths."""
    for start in range(0, n, size):
        idx = np.arange(start, min(start + size, n))
        yield np.concatenate([idx, np.full(size - len(idx), idx[-1])]), len(idx)


def _take(tree, idx):
    return jax.tree.map(lambda a: jnp.asarray(a)[idx], tree)


@jax.jit
def _gt_fields(model, v_gt, v_init, cams, centers, sizes, tri_id, bary):
    S = tri_id.shape[1]

    def one(vg, vi, cam, c, s, tri, b):
        crop = crop_camera(cam, c, s, S)
        return ground_truth_field(vg, crop, vi, crop, model.faces, tri, b)

    return jax.vmap(one)(v_gt, v_init, cams, centers, sizes, tri_id, bary)


def field_errors(model, network, batch: SceneBatch, colours, cindex, options) -> dict:
    """EPE (px, crop pixels) of the predicted field and of the zero field over the initial
    renderings' foreground pixels of every frame, and ms per frame of render and network."""
    cfg, params = network
    err = zero = count = 0.0
    secs = np.zeros(2)
    cams = batch.cameras
    for i, (idx, m) in enumerate(_chunks(len(batch), options.batch_size)):
        v_init = pose_batch(
            model,
            *(jnp.asarray(a[idx]) for a in (batch.init_pose, batch.init_betas, batch.init_transl)),
        )
        v_gt = pose_batch(model, *(jnp.asarray(a[idx]) for a in
                                   (batch.pose, batch.betas, batch.transl)))  # fmt: skip
        args = (model, list(batch.image[idx]), v_init.vertices, _take(cams, idx),
                jnp.asarray(colours[cindex[idx]]))  # fmt: skip
        if i == 0:  # compile outside the timings
            predict_fields(cfg, params, render_crops(*args, crop_size=cfg.crop_size))
        rendering, t_r = timed(render_crops, *args, crop_size=cfg.crop_size,
                               backend=options.backend)  # fmt: skip
        pred, t_n = timed(predict_fields, cfg, params, rendering)
        secs += (t_r, t_n)
        gt, fg = _gt_fields(model, v_gt.vertices, v_init.vertices, _take(cams, idx),
                            pred.box_center, pred.box_size, pred.tri_id, pred.bary)  # fmt: skip
        fg = np.asarray(fg[:m], np.float64)
        err += float(np.sum(np.linalg.norm(np.asarray(pred.field - gt)[:m], axis=-1) * fg))
        zero += float(np.sum(np.linalg.norm(np.asarray(gt)[:m], axis=-1) * fg))
        count += float(np.sum(fg))
    n = len(batch)
    return {"epe": err / max(count, 1), "epe_zero": zero / max(count, 1),
            "ms_render": secs[0] * 1e3 / n, "ms_network": secs[1] * 1e3 / n,
            "epe_sum": err, "epe_zero_sum": zero, "fg_pixels": count}  # fmt: skip


def _fit_all(model, init_params, data: FitData, kind, preset, options, gmm, flags=None):
    """SMPLify over all frames in batches; ``(params (N, ...), ms per frame after a warm-up
    batch that compiles)``. Dense data is compacted once for all frames: every batch has the
    same width, so one program serves them all and no batch's timing includes a compile."""
    from jaxrefine.smplify import smplify

    n = int(np.shape(init_params["betas"])[0])
    data = compact_dense(data) if kind == "dense" else data

    def run(idx):
        return smplify(
            model, _take(init_params, idx), _take(data, idx), preset=preset, data_kind=kind,
            optimizer=options.optimizer, gmm=gmm, camera_steps=options.camera_steps,
            body_steps=options.body_steps,
            render_flags=None if flags is None else jnp.asarray(flags)[idx],
        )  # fmt: skip

    chunks = list(_chunks(n, min(options.batch_size, n)))
    jax.block_until_ready(run(chunks[0][0]).params)
    parts, secs = [], 0.0
    for idx, m in chunks:
        res, t = timed(run, idx)
        secs += t
        parts.append(jax.tree.map(lambda a, m=m: np.asarray(a)[:m], res.params))
    return jax.tree.map(lambda *a: np.concatenate(a), *parts), secs * 1e3 / n


@jax.jit
def _gt_dense(model, v_gt, v_init, cams, tri_id, bary):
    def one(vg, vi, cam, tri, b):
        return ground_truth_dense_targets(vg, cam, vi, cam, model.faces, tri, b)

    return jax.vmap(one)(v_gt, v_init, cams, tri_id, bary)


def ground_truth_data(model, batch: SceneBatch, options) -> tuple[dict, dict]:
    """Fit data of the ground-truth rows: ``({"sparse_gt", "dense_gt"}: FitData without the
    start filled, timings)`` -- dense targets from the full-image rendering of the initial
    estimate, sparse from the projected BODY_25 keypoints inside the image."""
    H, W = batch.image_size
    cams = batch.cameras
    targets, weights, flags, secs = [], [], [], np.zeros(2)
    for idx, m in _chunks(len(batch), options.batch_size):
        v_init = pose_batch(
            model,
            *(jnp.asarray(a[idx]) for a in (batch.init_pose, batch.init_betas, batch.init_transl)),
        )
        v_gt = pose_batch(model, *(jnp.asarray(a[idx]) for a in
                                   (batch.pose, batch.betas, batch.transl)))  # fmt: skip
        frags, t_r = timed(rasterize_batch, v_init.vertices, model.faces, _take(cams, idx), H, W,
                           options.backend, cull_backfaces=True)  # fmt: skip
        (tg, w), t_t = timed(_gt_dense, model, v_gt.vertices, v_init.vertices, _take(cams, idx),
                             frags.tri_id, frags.bary)  # fmt: skip
        secs += (t_r, t_t)
        targets.append(np.asarray(tg)[:m])
        weights.append(np.asarray(w)[:m])
        f = getattr(frags, "flags", None)
        flags.append(np.zeros(m, np.int32) if f is None else np.asarray(f)[:m])
    n = len(batch)
    kp = jnp.asarray(batch.keypoints)
    inside = (kp[..., 0] >= 0) & (kp[..., 0] < W) & (kp[..., 1] >= 0) & (kp[..., 1] < H)
    blank = {"camera": cams, "init_transl": jnp.zeros((n, 3)), "pixel_scale": jnp.ones(n)}
    data = {
        "sparse_gt": FitData(keypoints=kp, keypoint_conf=inside.astype(jnp.float32), **blank),
        "dense_gt": FitData(dense_targets=jnp.asarray(np.concatenate(targets)),
                            dense_weights=jnp.asarray(np.concatenate(weights)), **blank),
    }  # fmt: skip
    info = {"ms_render": secs[0] * 1e3 / n, "ms_transfer": secs[1] * 1e3 / n,
            "render_flags": np.concatenate(flags)}  # fmt: skip
    return data, info


def evaluate(
    model: BodyModel,
    poses,
    n: int,
    seed: int,
    network: tuple[NetworkConfig, dict],
    *,
    difficulty: str = "medium",
    image_size: tuple[int, int] = (256, 256),
    group: int = 8,
    options: RefineOptions | None = None,
    detector: DetectorNoise = DetectorNoise(),
    rows: tuple[str, ...] = ROWS,
    one_shape: bool = False,
    say=lambda *a: None,
) -> dict:
    """Run the rows asked for (default every row, see the module docstring; ``init`` always
    runs, it is the baseline) and return the JSON-ready result. A subset (e.g. ``("init",
    "learned_dense")``) measures one option's effect without paying for the others.
    ``one_shape``: each synthetic subject keeps one body shape (:func:`eval_frames`), which
    ``options.share_betas`` needs to be meaningful.

    In a run of several processes (``jax.distributed`` initialized) each evaluates its share of
    the subjects (:func:`jaxrefine.distributed.share`) and every process returns the table of
    all frames."""
    from jaxrefine.data.sampling import SceneConfig

    t_all = time.perf_counter()
    options = RefineOptions() if options is None else options
    unknown = set(rows) - set(ROWS)
    if unknown:
        raise ValueError(f"unknown eval rows {sorted(unknown)}; choose from {list(ROWS)}")
    if n < 1 or group < 1:
        raise ValueError(f"eval: n={n}, group={group}: each must be at least 1")
    rows = tuple(r for r in ROWS if r in rows or r == "init")
    config = GeneratorConfig(scene=SceneConfig(image_size=image_size), difficulty=difficulty,
                             backend=options.backend)  # fmt: skip
    pid, count = distributed.process()
    ids = np.repeat(np.arange(-(-n // group)), group)[:n]
    frames = distributed.share(n, count, pid, ids)
    part = {"index": frames}
    if len(frames):
        batch, subjects = eval_frames(
            model, poses, n, seed, config, group, keep=np.unique(ids[frames]), one_shape=one_shape
        )
        part = evaluate_share(model, batch, subjects, frames, n, seed, network, options,
                              detector, say, rows)  # fmt: skip
    shares = distributed.gather(part)
    result = {
        "rows": summarize(shares, rows), "per_frame": per_frame(shares, rows, group),
        "n": n, "seed": seed,
        "difficulty": difficulty, "group": group, "one_shape": one_shape,
        "image_size": list(image_size),
        "model_id": model.model_id, "network": network[0].name, "preset": options.preset,
        "optimizer": str(options.optimizer), "detector": dataclasses.asdict(detector),
        "options": {k: str(v) for k, v in dataclasses.asdict(options).items()},
        "wall_s": time.perf_counter() - t_all,
    }  # fmt: skip
    if count > 1:
        result["processes"] = count
    return result


def evaluate_share(
    model, batch, subjects, frames, n, seed, network, options, detector, say, rows=ROWS
):
    """The ``rows`` on one share of the frames: ``{"index": (M,) frame numbers, "<row>/<metric>":
    (M,) per frame, "total/...": sums}`` (the field's pixel errors and pixel count, each row's
    stage milliseconds summed over the frames), merged by :func:`summarize`.

    Args:
      batch: the share's M frames (:func:`eval_frames` with ``keep``); subjects: (M,) ids.
      frames: (M,) their numbers in the whole set of ``n``.
    """
    m = len(frames)
    init = params_from_pose(batch.init_pose, batch.init_betas, batch.init_transl)
    preset = get_preset(options.preset)
    gmm = pose_prior(options)  # the given-target rows fit with refine's prior
    v_init = pose_batch(
        model, *(jnp.asarray(a) for a in (batch.init_pose, batch.init_betas, batch.init_transl))
    )
    say(f"[eval] {m} frames, {len(np.unique(subjects))} subjects; estimating their textures")
    colours, cindex = subject_colours(model, list(batch.image), v_init.vertices, batch.cameras,
                                      subjects, size=options.texture_size,
                                      backend=options.backend)  # fmt: skip
    out = {"index": np.asarray(frames)}

    def put(row, params, **ms):
        out.update({f"{row}/{k}": v for k, v in _metrics(model, params, batch).items()})
        out.update({f"{TOTAL}{row}/{c}": np.float64(v * m) for c, v in ms.items()})

    put("init", init)
    if set(rows) & {"zero_field", *LEARNED_ROWS}:
        say("[eval] predicted fields")
        fe = field_errors(model, network, batch, colours, cindex, options)
        out.update({f"{TOTAL}{k}": np.float64(fe[k])
                    for k in ("epe_sum", "epe_zero_sum", "fg_pixels")})  # fmt: skip
    det = simulate_detections(batch.keypoints, batch.visible, seed + 7, detector, rows=frames,
                              total=n)  # fmt: skip
    fits = _fit_rows(model, batch, det, init, v_init, rows, preset, options, gmm, say)
    for row, (params, ms) in fits.items():
        put(row, params, **ms)
    for row, kp in (("learned_dense", None), ("learned_dense_keypoints", det)):
        if row not in rows:
            continue
        say(f"[eval] {row}")
        res = _refine_timed(model, batch, init, subjects, network, kp, options)
        put(row, res.params, **{f"ms_{k}": res.ms[k] for k in ("render", "network", "transfer",
                                                              "fit")})  # fmt: skip
        release_compiled_fits()  # this row's fit programs are not needed again
    return out


def _fit_rows(model, batch, det, init, v_init, rows, preset, options, gmm, say) -> dict:
    """The SMPLify rows on given targets (detections, ground-truth keypoints, ground-truth
    dense targets) that ``rows`` asks for: ``{row: (params, {column: ms per frame})}``."""
    wanted = [r for r in GIVEN_TARGET_ROWS if r in rows]
    if not wanted:
        return {}
    say("[eval] ground-truth targets and detections")
    gt_data, gt_info = ground_truth_data(model, batch, options)
    fits = {
        "keypoints_detected": ("keypoints", gt_data["sparse_gt"].replace(
            keypoints=jnp.asarray(det[..., :2]), keypoint_conf=jnp.asarray(det[..., 2]))),
        "sparse_gt": ("keypoints", gt_data["sparse_gt"]),
        "dense_gt": ("dense", gt_data["dense_gt"]),
    }  # fmt: skip
    out = {}
    for row in wanted:
        kind, data = fits[row]
        say(f"[eval] {row}")
        data = with_start(data, init["transl"], v_init.vertices, preset)
        flags = gt_info["render_flags"] if row == "dense_gt" else None
        params, ms_fit = _fit_all(model, init, data, kind, preset, options, gmm, flags)
        release_compiled_fits()  # this row's fit programs are not needed again
        extra = {"ms_render": gt_info["ms_render"], "ms_transfer": gt_info["ms_transfer"]}
        out[row] = (params, {"ms_fit": ms_fit, **(extra if row == "dense_gt" else {})})
    return out


def summarize(shares: list[dict], rows: tuple[str, ...] = ROWS) -> dict:
    """The table's ``rows`` from every share (:func:`evaluate_share`): metrics are means over all
    frames (in frame order, as one process computes them), EPE is the summed pixel error over
    the summed pixel count, a stage's ms per frame its summed milliseconds over all frames."""
    frames = _frame_columns(shares)
    n = len(frames["index"])

    def total(key):
        return sum(float(s[TOTAL + key]) for s in shares if TOTAL + key in s)

    def ms(row):
        keys = {c for s in shares for c in TIME_COLUMNS if f"{TOTAL}{row}/{c}" in s}
        return {c: total(f"{row}/{c}") / n for c in keys}

    def metrics(row):
        return {k: float(np.mean(frames[f"{row}/{k}"])) for k in METRIC_NAMES}

    count = max(total("fg_pixels"), 1)
    table = {r: _row(metrics(r), **ms(r)) for r in ROWS if f"{r}/{METRIC_NAMES[0]}" in frames}
    table["zero_field"] = _row(epe=total("epe_zero_sum") / count)
    for r in LEARNED_ROWS:
        if r in table:
            table[r]["epe"] = total("epe_sum") / count
    return {r: table[r] for r in rows}


def _frame_columns(shares: list[dict]) -> dict:
    """The shares' per-frame columns (not their totals), merged in frame order."""
    return distributed.merge([{k: v for k, v in s.items() if not k.startswith(TOTAL)}
                              for s in shares])  # fmt: skip


def per_frame(shares: list[dict], rows: tuple[str, ...], group: int) -> dict:
    """Every frame's metrics (mm) in frame order, as columns (lists): ``frame``, ``subject``
    (the synthetic subject, ``frame // group``) and ``<row>/<metric>`` for the rows that ran."""
    frames = _frame_columns(shares)
    index = np.asarray(frames["index"])
    out = {"frame": index.tolist(), "subject": (index // group).tolist()}
    for r in rows:
        if f"{r}/{METRIC_NAMES[0]}" in frames:
            out.update({f"{r}/{k}": np.asarray(frames[f"{r}/{k}"]).tolist() for k in METRIC_NAMES})
    return out


def _refine_timed(model, batch, init, subjects, network, keypoints, options):
    """:func:`refine` on all frames, after a warm-up on the first batch (compilation stays out
    of the timings)."""
    b = min(options.batch_size, len(batch))
    sub = np.arange(b)
    refine(model, [batch.image[i] for i in sub], _take(init, sub), _take(batch.cameras, sub),
           network, subjects=subjects[sub], options=options,
           keypoints=None if keypoints is None else keypoints[sub])  # fmt: skip
    return refine(model, list(batch.image), init, batch.cameras, network, subjects=subjects,
                  keypoints=keypoints, options=options)  # fmt: skip


def format_result(result: dict) -> str:
    """The table of a result (mm, px, ms per frame; '-' where a column does not apply)."""
    from jaxrefine.report import print_table

    cols = [*METRIC_NAMES, "epe", *TIME_COLUMNS]

    def cell(v, k):
        if v is None:
            return "-"
        return f"{v:.2f}" if k.startswith("ms") or k == "epe" else f"{v:.1f}"

    rows = [[r] + [cell(v[k], k) for k in cols] for r, v in result["rows"].items()]
    return print_table(["row", *cols], rows)


def parser():
    """``jaxrefine eval``'s flags."""
    import argparse

    from jaxrefine.optimizers.registry import optimizer_arg, optimizer_help

    ap = argparse.ArgumentParser(prog="jaxrefine eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--poses", required=True, help="POSES.npz from `jaxrefine mocap` (use your "
                    "validation subjects' folder only)")  # fmt: skip
    ap.add_argument("--subjects", nargs="*", default=None,
                    help="keep only these subjects of the pose file (e.g. 09 16)")  # fmt: skip
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--difficulty", default="medium", choices=["easy", "medium", "hard"])
    ap.add_argument("--checkpoint", default=None, help="network (default: the shipped one)")
    ap.add_argument("--optimizer", default="adam", type=optimizer_arg, help=optimizer_help())
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--group", type=int, default=8, help="frames per synthetic subject")
    ap.add_argument("--batch", type=int, default=32, help="frames per compiled batch")
    ap.add_argument("--confidence", action="store_true", help="weight vertices by confidence")
    ap.add_argument(
        "--rerun-every", type=int, default=0, help="re-run the network every k body iterations"
    )
    ap.add_argument(
        "--share-betas",
        action="store_true",
        help="refine one shape per synthetic subject (needs --one-shape)",
    )
    ap.add_argument(
        "--one-shape",
        action="store_true",
        help="each synthetic subject keeps one body shape across its --group frames "
        "(default: a shape per frame)",
    )
    ap.add_argument(
        "--rows",
        nargs="+",
        default=list(ROWS),
        choices=ROWS,
        metavar="ROW",
        help=f"rows to run (init always runs); default all: {' '.join(ROWS)}",
    )
    ap.add_argument("--backend", default="auto", choices=["auto", "egl", "jax"])
    ap.add_argument("--model", default=None, help=MODEL_HELP)
    ap.add_argument("--gmm", default=None, metavar="PATH", type=prior_file_arg,
                    help=GMM_FILE_HELP + "; every fitted row's")  # fmt: skip
    ap.add_argument("--json", default=None, type=output_file_arg, help="write the result here")
    ap.add_argument(
        "--csv",
        default=None,
        type=output_file_arg,
        help="write every frame's metrics here (frame, subject, <row>/<metric>, mm)",
    )
    distributed.add_process_flags(ap)
    return ap


def main(argv: list[str]) -> int:
    import sys

    from jaxrefine.data.poses import load_poses
    from jaxrefine.network import load_pretrained, trained_body_model
    from jaxrefine.report import machine_info, write_csv, write_json
    from jaxrefine.smpl_io import load_body_model

    ap = parser()
    args = ap.parse_args(argv)
    # --group 0 once divided by zero after the pose file was read
    refuse_below(ap, ("--n", args.n, 1), ("--group", args.group, 1))
    if args.share_betas and not args.one_shape:
        ap.error(
            "--share-betas needs --one-shape (by default a synthetic subject's shape "
            "changes from frame to frame, so there is no one shape to share)"
        )
    options = RefineOptions(optimizer=args.optimizer, batch_size=args.batch,
                            use_confidence=args.confidence, rerun_every=args.rerun_every,
                            share_betas=args.share_betas, backend=args.backend,
                            gmm_path=args.gmm)  # fmt: skip
    pose_prior(options)  # a bad --gmm fails before any pose or frame is read
    distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    model = load_body_model(args.model, gender=None)
    require_layout(model)  # the synthetic frames texture the body
    poses = load_poses(args.poses, subjects=args.subjects).pose
    net = load_pretrained(args.checkpoint)
    check_network(net[:2], options, args.checkpoint or "the shipped network")
    result = evaluate(
        model, poses, args.n, args.seed, net[:2], difficulty=args.difficulty,
        image_size=(args.image_size, args.image_size), group=args.group, options=options,
        rows=tuple(args.rows), one_shape=args.one_shape,
        say=lambda *a: print(*a, file=sys.stderr, flush=True),
    )  # fmt: skip
    result["checkpoint"] = args.checkpoint or "shipped"
    result["network_body_model"] = trained_body_model(net[2])  # eval measures it on args.model
    result["pose_prior"] = options.gmm_path or "shipped"
    if args.process_id > 0:  # every process has the table; process 0 reports it
        return 0
    print(f"eval: {args.n} frames, seed {args.seed}, {args.difficulty}, network {net[0].name}")
    format_result(result)
    frames = result.pop("per_frame")
    write_json(args.json, {**result, "machine": machine_info()})
    write_csv(args.csv, frames)
    return 0
