"""``jaxrefine refine``: a user's images and initial estimates in, refined bodies and files out.

Inputs are read and checked before any work starts (:mod:`jaxrefine.inputs`): images (a folder,
a list, a video), initial estimates (jaxrefine's npz, generic npz/pkl with SMPL parameters and a
full-image or crop camera), optional 2D keypoints (OpenPose BODY_25 / COCO-17 JSON) and
intrinsics. Estimates are matched to frames by their ``frame`` / ``imgname`` entry (or in order
when the file has none and counts agree, or all to a single image); keypoints to estimates
one detected person each, the closest (:func:`match_keypoints`).

Work goes in chunks of frames; each chunk's results are written atomically to
``OUT/parts/`` as it finishes, so an interrupted run continues where it stopped with
``--resume`` (with the same settings and inputs, else refused: :mod:`jaxrefine.parts`). At the
end the run's files are written (``refined.npz``, ``report.json``, overlays, tracks, meshes:
:mod:`jaxrefine.refine_outputs`); the command line is :mod:`jaxrefine.refine_cli`.

Several processes (machines) share a collection with ``--coordinator HOST:PORT
--num-processes P --process-id I`` (``jax.distributed``, :mod:`jaxrefine.distributed`): each
process refines whole chunks (a contiguous run of them, about ``N / P`` frames), saves their
parts and writes the overlays and meshes of its own frames; the chunks' results are then
gathered and process 0 writes ``refined.npz``, ``report.json``, the tracks and the video, the
same as a one-process run writes (chunks are the unit of work in both, so every frame is
refined with the same companions). ``--resume`` reads back whichever parts a process finds in
its ``OUT/parts/`` (on a shared filesystem, all of them).

The exit status is 0 when every frame refined or kept its start for lack of improvement, and 1
when a frame's rendering failed or a fit met non-finite values (see the report).
"""

from __future__ import annotations

import dataclasses
import re
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine import distributed
from jaxrefine.camera import Camera, project
from jaxrefine.files import atomic_savez
from jaxrefine.inputs import Estimates, ImageSequence, InputError
from jaxrefine.inputs.estimates import TRACKS_FROM
from jaxrefine.parts import PART_FORMAT, chunk_inputs, load_part, part_path, run_settings
from jaxrefine.refine import (
    CameraWarning,
    OutOfViewWarning,
    initial_prior,
    pose_batch,
    refine,
    view_codes,
    warn_camera_values,
    warn_out_of_view,
)
from jaxrefine.refine_outputs import (
    Outputs,
    check_output,
    clear_previous_run,
    failed,
    plan,
    report,
    write_merged,
    write_meshes,
    write_overlays,
)

MATCH_RADIUS = 0.5  # a detection matches an estimate within half the person's size (mean px)


def select_frames(estimates: Estimates, images: ImageSequence) -> tuple[Estimates, int]:
    """The estimates of the frames ``images`` holds when it is a selection of its source
    (``--frames``), and how many were left out. An estimate names its frame by its index in
    the whole source or by name; a name the source does not have at all is kept (for
    :func:`match_frames` to refuse), as is everything when nothing was selected."""
    if images.selection is None:
        return estimates, 0
    if estimates.frame is None:
        raise InputError(f"{estimates.source}: --frames needs estimates that name their frames "
                         "('frame' indices or 'imgname' names)")  # fmt: skip
    chosen, names = set(images.indices), set(images.names)
    others = {p.stem for p in images.all_paths or ()} - names

    def keep(f) -> bool:
        if not isinstance(f, str):
            return int(f) in chosen or int(f) < 0
        if f in names or f in others:
            return f in names
        number = re.fullmatch(r"frame_(\d+)", f) if images.is_video else None
        return number is None or int(number.group(1)) in chosen

    rows = np.array([keep(f) for f in estimates.frame], bool)
    if not rows.any():
        raise InputError(f"{estimates.source}: none of its estimates is in the frames --frames "
                         f"selects of {images.source}")  # fmt: skip
    return estimates.take(rows), int((~rows).sum())


def match_frames(estimates: Estimates, images: ImageSequence) -> np.ndarray:
    """(N,) index of each estimate's image (estimates without frame entries: one per image in
    order, or all of a single image's); :class:`InputError` when one has none."""
    n = len(estimates)
    if estimates.frame is None:
        if len(images) == 1:  # one image: every estimate is one of its people
            return np.zeros(n, np.int64)
        if n != len(images):
            raise InputError(
                f"{estimates.source}: {n} estimates without frame entries for {len(images)} "
                "images: add a 'frame' (index) or 'imgname' key, or give one estimate per image"
            )
        return np.arange(n)
    names = {name: i for i, name in enumerate(images.names)}
    out = np.empty(n, np.int64)
    for k, f in enumerate(estimates.frame):
        if isinstance(f, str):
            if f not in names:
                hint = (f" (a video's frames are named {images.names[0]!r}, ...: give the "
                        "folder of frames the regressor read, e.g. ROMP's <video>_frames/ or "
                        "HybrIK's raw_images/)") if images.is_video else ""  # fmt: skip
                raise InputError(
                    f"{estimates.source}: estimate {k} names image {f!r}, which is not among "
                    f"the {len(images)} images of {images.source}{hint}"
                )
            out[k] = names[f]
        elif images.indices is not None:  # --frames: a frame index of the whole source
            if int(f) not in images.indices:
                raise InputError(f"{estimates.source}: estimate {k} has frame {f}, not one of "
                                 f"the frames --frames selects of {images.source}")  # fmt: skip
            out[k] = images.indices.index(int(f))
        else:
            if not 0 <= int(f) < len(images):
                raise InputError(f"{estimates.source}: estimate {k} has frame {f}, outside the "
                                 f"{len(images)} images of {images.source}"
                                 f"{_one_based_hint(estimates.frame, len(images))}")  # fmt: skip
            out[k] = int(f)
    return out


def check_image_order(images: ImageSequence, est: Estimates | None, video: bool,
                      temporal: bool = False) -> None:  # fmt: skip
    """Refuse, for a folder whose order by name and by number differ (``images.order_doubt``:
    ``frame_10.png`` before ``frame_2.png`` by name), what depends on the frames' order:
    ``temporal`` (``--temporal-weight``: a track's frames smoothed as neighbours), ``video``
    (tracks linked from frame to frame), estimates matched to the images by index or one per
    image in order. Estimates naming their images need no order otherwise."""
    from jaxrefine.inputs.images import order_error

    if images.order_doubt is None:
        return
    if temporal:
        what = "--temporal-weight smooths each track's frames as neighbours in one of them"
    elif video:
        what = "--video links the people from frame to frame in one of them"
    elif est is not None and est.frame is None:
        what = f"{est.source} has one estimate per image, in one of them"
    elif est is not None and any(not isinstance(f, str) for f in est.frame):
        what = f"the frame indices of {est.source} count them in one of them"
    else:
        return
    raise InputError(order_error(images.source, images.order_doubt, what))


def _one_based_hint(frames, count: int) -> str:
    """A hint for integer ``frames`` counted from 1 (the last one is ``count``, none is 0):
    each estimate would otherwise have been matched to the next image."""
    numbers = [int(f) for f in frames if not isinstance(f, str)]
    if numbers and min(numbers) >= 1 and max(numbers) == count:
        return " (frames counted from 1? they are counted from 0 here: subtract 1)"
    return ""


def match_keypoints(
    detected: list[np.ndarray], predicted: np.ndarray, frame_of=None
) -> tuple[np.ndarray, np.ndarray]:
    """Give each estimate the detected person of its frame closest to its projected
    keypoints, one detected person to at most one estimate (the Hungarian method on the mean
    pixel distance over the person's confident keypoints).

    Args:
      detected: per estimate, the (P, K, 3) people detected in its frame.
      predicted: (N, K, 2) the estimates' projected keypoints of the same set.
      frame_of: (N,) each estimate's frame (its estimates share the frame's people); None:
        every estimate in a frame of its own.

    Returns:
      ``(keypoints, person)``: (N, K, 3) the matched keypoints (confidence 0 everywhere when
      no detection is within ``MATCH_RADIUS`` of the person's size), and (N,) int64 the
      matched person's place among the frame's detections, -1 for none.
    """
    from scipy.optimize import linear_sum_assignment

    n, k = predicted.shape[:2]
    frame_of = np.arange(n) if frame_of is None else np.asarray(frame_of)
    out, person = np.zeros((n, k, 3), np.float32), np.full(n, -1, np.int64)
    for f in np.unique(frame_of):
        rows = np.flatnonzero(frame_of == f)
        people = np.asarray(detected[rows[0]], np.float32).reshape(-1, k, 3)
        if not len(people):
            continue
        cost = np.stack([_mean_distance(people, predicted[i]) for i in rows])  # (R, P)
        radius = np.asarray([MATCH_RADIUS * (np.ptp(predicted[i], axis=0).max() + 1e-6)
                             for i in rows])  # fmt: skip
        within = cost < radius[:, None]
        pick_r, pick_p = linear_sum_assignment(np.where(within, cost, 1e12))
        for r, q in zip(pick_r, pick_p, strict=True):
            if within[r, q]:
                out[rows[r]], person[rows[r]] = people[q], q
    return out, person


def _mean_distance(people: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(P,) mean pixel distance of each person's confident keypoints (P, K, 3) to ``points``
    (K, 2); inf for a person with none."""
    conf = people[..., 2] > 0
    dist = np.linalg.norm(people[..., :2] - points[None], axis=-1)
    mean = np.sum(dist * conf, 1) / np.maximum(conf.sum(1), 1)
    return np.where(conf.any(1), mean, np.inf)


def _params(est: Estimates, idx) -> dict:
    return {"global_orient": est.global_orient[idx], "body_pose": est.body_pose[idx],
            "betas": est.betas[idx], "transl": est.transl[idx]}  # fmt: skip


def _folder_name(images: ImageSequence) -> str | None:
    """The name of the folder the images lie in, or None (a video, or several folders): a
    calibration's camera name for EasyMocap's ``<data>/images/<camera>/``."""
    folders = {p.parent for p in images.paths or ()}
    return folders.pop().name if len(folders) == 1 else None


def _size_lookup(images: ImageSequence):
    """``key -> (H, W)`` for a frame name, a frame index or (for one estimate per image, or
    any number of one image) a position; sizes are cached. With ``--frames`` a frame the
    selection leaves out (its estimates are left out later) has its file's size, or a
    video's frames' size."""
    cache: dict[int, tuple[int, int]] = {}
    names = {name: i for i, name in enumerate(images.names)}
    index = {k: i for i, k in enumerate(images.indices or ())}

    def size(key) -> tuple[int, int]:
        named = isinstance(key, str)
        if (named and key not in names) or (index and not named and int(key) not in index):
            return _unselected_size(images, key)
        i = (names[key] if isinstance(key, str) else index[int(key)] if index else
             0 if len(images) == 1 else int(key))  # fmt: skip
        if i not in cache:
            cache[i] = tuple(np.shape(images[i])[:2])
        return cache[i]

    return size


def _unselected_size(images: ImageSequence, key) -> tuple[int, int]:
    """(H, W) of a frame ``--frames`` left out (see :func:`_size_lookup`)."""
    from jaxrefine.inputs.images import image_size

    if images.selection is not None and images.is_video:
        return tuple(images.frames[0].shape[:2])  # a video's frames share one size
    stems = {p.stem: p for p in images.all_paths or ()}
    if isinstance(key, str) and key in stems:
        return image_size(stems[key], exif=images.exif)
    if not isinstance(key, str) and images.all_paths and 0 <= int(key) < len(images.all_paths):
        return image_size(images.all_paths[int(key)], exif=images.exif)
    raise InputError(f"no image named {key!r} among the {len(images)} images of "
                     f"{images.source}")  # fmt: skip


def _projected_keypoints(model, est: Estimates, set_name: str) -> np.ndarray:
    """(N, K, 2) the estimates' keypoints of ``set_name`` projected with their cameras."""
    body = pose_batch(model, jnp.asarray(est.pose), jnp.asarray(est.betas),
                      jnp.asarray(est.transl))  # fmt: skip
    kp3d = jax.vmap(lambda j, v: body.__class__(v, j, body.keypoint_sets).keypoints(set_name))(
        body.joints, body.vertices
    )
    return np.asarray(jax.vmap(project)(Camera.from_intrinsics(est.intrinsics), kp3d))


def link_estimates(model, images: ImageSequence, est: Estimates, frame_of) -> np.ndarray:
    """(N,) track ids of a video's estimates, linked from frame to frame by
    :func:`jaxrefine.detect.track.link_tracks` as the people found in a video are: each
    estimate's box is that of its projected BODY_25 keypoints, its colours those of the
    image inside the box."""
    from jaxrefine.detect.track import appearance, link_tracks

    frame_of = np.asarray(frame_of)
    kp = _projected_keypoints(model, est, "body25")
    box = np.concatenate([kp.min(1), kp.max(1)], 1)
    box = np.nan_to_num(box, nan=0.0, posinf=1e6, neginf=-1e6)  # a body behind the camera
    rows = [np.flatnonzero(frame_of == f) for f in range(len(images))]
    colours = [np.stack([appearance(images[f], box[i]) for i in r]) if len(r) else
               np.zeros((0, 1)) for f, r in enumerate(rows)]  # fmt: skip
    ids = link_tracks([box[r] for r in rows], features=colours)
    out = np.empty(len(est), np.int64)
    for r, i in zip(rows, ids):
        out[r] = i
    return out


def read_inputs(images_src, estimates_path, model, *, keypoints_path=None, intrinsics=None,
                keypoint_images=None, video=False, progress=False):  # fmt: skip
    """Read and check everything before any work: ``(images, estimates, frame_of, keypoints
    (N, K, 3) or None, keypoint set name or None)``. ``keypoint_images``: a COCO file naming
    the image ids of a COCO results ``keypoints_path``. With keypoints each estimate gets
    the person of its image's keypoints it matches (:func:`match_keypoints`) as its
    ``person`` and that person's score; estimates matching nobody are named in a warning.
    Estimates without track ids, several in an image, are linked into tracks
    (:func:`link_estimates`) when the images are a video (a video file, or ``video``: a
    folder or list of one video's frames), else each is its own track
    (:func:`~jaxrefine.inputs.estimates.separate_tracks`). ``progress``: a progress bar over a
    folder of meshes (read by fitting the body model to each)."""
    from jaxrefine.inputs import read_estimates, read_images, read_intrinsics, read_keypoints
    from jaxrefine.inputs.estimates import separate_tracks
    from jaxrefine.inputs.keypoint_files import person_scores

    images = read_images(images_src)
    intr = None if intrinsics is None else read_intrinsics(intrinsics)
    est = read_estimates(estimates_path, image_size=_size_lookup(images),
                         num_betas=model.num_betas, intrinsics=intr, model=model,
                         camera=_folder_name(images), progress=progress)  # fmt: skip
    est, left_out = select_frames(est, images)
    if left_out:
        warnings.warn(f"{est.source}: {left_out} estimates of frames --frames does not select "
                      "are left out", stacklevel=2)  # fmt: skip
    check_image_order(images, est, video)
    frame_of = match_frames(est, images)
    if video and est.named_tracks:
        warnings.warn(f"{est.source}: has track ids of its own; they are kept (--video links "
                      "only the estimates of a file without them)", stacklevel=2)  # fmt: skip
    link = (lambda e, f: link_estimates(model, images, e, f)) if (
        images.is_video or video) else None  # fmt: skip
    size = _size_lookup(images)
    est = est.with_default_intrinsics(lambda i: size(int(frame_of[i])))
    est = separate_tracks(est, frame_of, images.names, link)
    if keypoints_path is None:
        return images, est, frame_of, None, None
    kp = read_keypoints(keypoints_path, keypoint_images)
    keys = kp.frames_of(images.names, images.source)
    missing = sorted({images.names[f] for f in frame_of if keys[f] is None})
    if missing:
        warnings.warn(
            f"{kp.source}: no keypoints for {len(missing)} of the estimates' images (e.g. "
            f"{missing[0]!r}); those are fitted without keypoints",
            stacklevel=2,
        )
    detected = [kp.people(keys[f], size(int(f)) if kp.normalized else None) for f in frame_of]
    matched, person = match_keypoints(detected, _projected_keypoints(model, est, kp.set_name),
                                      frame_of)  # fmt: skip
    lone = [i for i in range(len(est)) if person[i] < 0 and keys[frame_of[i]] is not None]
    if lone:
        warnings.warn(f"{kp.source}: {len(lone)} of the {len(est)} estimates match no person "
                      f"of their image's keypoints (e.g. estimate {lone[0]}, image "
                      f"{images.names[frame_of[lone[0]]]!r}; a match lies within "
                      f"{MATCH_RADIUS:g} of the body's size); those are fitted without "
                      "keypoints", stacklevel=2)  # fmt: skip
    scores = np.where(person >= 0, person_scores(matched), np.nan).astype(np.float32)
    est = dataclasses.replace(est, person=person, score=scores)
    return images, est, frame_of, matched, kp.set_name


def chunk_groups(track_id, chunk: int, keep_tracks: bool) -> np.ndarray:
    """(N,) chunk number of every estimate. Plain: ``chunk`` estimates at a time in file order.
    ``keep_tracks`` (``--share-betas``, ``--temporal-weight``): whole tracks, in order of first
    appearance, packed into chunks of at most ``chunk`` estimates; a track longer than
    ``chunk`` fills chunks of its own in file order (its last piece shared with what follows)."""
    track_id = np.asarray(track_id)
    if not keep_tracks:
        return np.arange(len(track_id)) // chunk
    _, first = np.unique(track_id, return_index=True)
    out = np.empty(len(track_id), np.int64)
    k, used = 0, 0
    for t in track_id[np.sort(first)]:
        rows = np.flatnonzero(track_id == t)
        if used and used + len(rows) > chunk:
            k, used = k + 1, 0
        if used + len(rows) <= chunk:
            out[rows], used = k, used + len(rows)
        else:  # longer than a chunk: consecutive pieces
            out[rows] = k + np.arange(len(rows)) // chunk
            k, used = int(out[rows[-1]]), (len(rows) - 1) % chunk + 1
    return out


def cut_tracks(track_id: np.ndarray, groups: np.ndarray) -> list[int]:
    """The tracks whose estimates fall in more than one chunk (``groups``: (N,) chunk ids)."""
    return sorted(int(t) for t in np.unique(track_id) if len(np.unique(groups[track_id == t])) > 1)


def warn_cut_tracks(track_id, groups, options, chunk: int) -> None:
    """Warn when ``--share-betas`` / ``--temporal-weight`` meet tracks cut by the chunks
    (tracks longer than ``--chunk``, :func:`chunk_groups`): both work inside one chunk, so such
    a track gets a shape (and a smoothing) per chunk."""
    wants = [f for f, on in (("--share-betas", options.share_betas),
                             ("--temporal-weight", options.temporal_weight > 0)) if on]  # fmt: skip
    cut = cut_tracks(np.asarray(track_id), np.asarray(groups)) if wants else []
    if cut:
        longest = int(np.max(np.unique(np.asarray(track_id), return_counts=True)[1]))
        warnings.warn(
            f"{' and '.join(wants)} work within a chunk of at most --chunk {chunk} estimates "
            f"(whole tracks where they fit); tracks {', '.join(map(str, cut[:5]))}"
            f"{', ...' if len(cut) > 5 else ''} are longer and get one shape / smoothing per "
            f"chunk (--chunk {longest} keeps every track whole)",
            stacklevel=3,
        )


def _run_chunk(model, network, images, est, frame_of, idx, keypoints, options, masks) -> dict:
    t0 = time.perf_counter()
    # said once for the run, before it (_warn_before_run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfViewWarning)
        warnings.simplefilter("ignore", CameraWarning)
        res = refine(
            model, [images[int(frame_of[i])] for i in idx], _params(est, idx),
            Camera.from_intrinsics(est.intrinsics[idx]), network, subjects=est.track_id[idx],
            frame_index=frame_of[idx], keypoints=None if keypoints is None else keypoints[idx],
            masks=None if masks is None else [masks[i] for i in idx], options=options,
        )  # fmt: skip
    secs = (time.perf_counter() - t0) / len(idx)
    out = {f"param_{k}": np.asarray(v) for k, v in res.params.items()}
    out.update(index=idx, status=np.asarray(res.status), init_loss=np.asarray(res.init_loss),
               final_loss=np.asarray(res.final_loss), visible=np.asarray(res.visible),
               mean_displacement=np.asarray(res.mean_displacement),
               **{f"term_{k}": np.asarray(v) for k, v in res.terms.items()},
               seconds=np.full(len(idx), secs), format=np.array(PART_FORMAT))  # fmt: skip
    return out


def run_chunks(
    model,
    network,
    images,
    est,
    frame_of,
    keypoints,
    options,
    out: Path,
    *,
    groups: np.ndarray,
    resume: bool,
    progress: bool = True,
    chunks=None,
    masks=None,
) -> dict:
    """Refine the estimates chunk by chunk (each saved to ``OUT/parts/`` when done; with
    ``resume`` finished chunks are read back instead of refitted).

    ``groups``: (N,) chunk number of every estimate (:func:`chunk_groups`). ``chunks``: the
    chunk numbers to run (default all). ``masks``: one person mask per estimate (the silhouette
    term's, see :class:`~jaxrefine.refine.RefineOptions`) or None. Returns their arrays
    concatenated, row ``j`` being estimate ``index[j]`` (an empty ``index`` when there are
    none)."""
    from tqdm import tqdm

    groups = np.asarray(groups)
    chunks = np.unique(groups) if chunks is None else [int(k) for k in chunks]
    pid, count = distributed.process()
    idxs = [np.flatnonzero(groups == k) for k in chunks]
    desc = "refine" if count == 1 else f"refine [{pid}/{count}]"
    bar = tqdm(total=sum(map(len, idxs)), unit="frame", disable=not progress, desc=desc)
    parts, settings = [], run_settings(model, network, options)
    for k, idx in zip(chunks, idxs):
        path = part_path(out, k)
        names = [images.names[int(frame_of[i])] for i in idx]
        inputs = chunk_inputs(est, names, keypoints, masks, idx)
        part = load_part(path, idx, settings, inputs) if resume else None
        if part is None:
            part = _run_chunk(model, network, images, est, frame_of, idx, keypoints, options,
                              masks)  # fmt: skip
            part.update(settings=np.array(settings), inputs=np.array(inputs))
            atomic_savez(path, part)
        parts.append(part)
        bar.update(len(idx))
    bar.close()
    if not parts:
        return {"index": np.zeros(0, np.int64)}
    keys = [k for k in parts[0] if k not in ("format", "settings", "inputs")]
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def _check_optimizer(options, model, with_keypoints: bool, photos: bool) -> None:
    """Refuse, before any work, an optimizer with no version for the run's data (a learned
    optimizer registered by data kind without a checkpoint for it, or a user's LGD checkpoint
    trained for other data; LGD ships one for each of SMPLify's data kinds), and warn when an
    LGD checkpoint was trained on another body model than ``model`` (its accuracy there is
    unmeasured: the shipped ones learned the open model's steps)."""
    from jaxrefine.optimizers.learned import trained_body_model
    from jaxrefine.optimizers.registry import lgd_checkpoint, missing_version

    if options is None:
        return
    kind = "dense+keypoints" if with_keypoints else "dense"
    why = missing_version(options.optimizer, kind)
    if why is not None:
        drop = "--no-landmarks" if photos else "no --keypoints"
        raise InputError(f"--optimizer {options.optimizer}: {why}; with {drop} the fit uses "
                         "dense targets only, or choose a classical optimizer")  # fmt: skip
    path = lgd_checkpoint(options.optimizer, kind)
    trained = None if path is None else trained_body_model(path)
    if trained is not None and trained != model.model_id:
        warnings.warn(
            f"--optimizer {options.optimizer}: the LGD checkpoint {path} was trained on the body "
            f"model {trained!r}, this run fits {model.model_id!r}: its steps are unmeasured on "
            "this model (train one for it: scripts/train_lgd.py --model ..., then --optimizer "
            "lgd:PATH)",
            stacklevel=3,
        )


def refine_files(
    images_src,
    estimates_path,
    out,
    *,
    model,
    network,
    keypoints_path=None,
    intrinsics=None,
    options=None,
    outputs: Outputs = Outputs(),
    chunk: int = 64,
    resume: bool = False,
    progress: bool = True,
    boxes=None,
    tiles: tuple[float, ...] | None = None,
    use_landmarks: bool = True,
    video: bool = False,
    min_person_score: float | None = None,
    keypoint_images=None,
    max_people: int | None = None,
    dry_run: bool = False,
    exif: bool = True,
    overwrite: bool = False,
    frames: str | None = None,
    network_body_model: str | None = None,
    image_order: str | None = None,
) -> dict:
    """The whole command as a function (see the module docstring); returns the report
    (``dry_run``: the settings and :func:`~jaxrefine.refine_outputs.plan` after every input is
    read and checked, with nothing fitted or written).

    Without ``estimates_path`` the people of each image are detected and initialized from
    BlazePose landmarks (:func:`jaxrefine.photo.read_photo_inputs`; ``boxes``, ``tiles``: None
    = the photos' default :data:`jaxrefine.photo.PHOTO_TILES`; ``min_person_score`` the
    detector's least score and ``max_people`` the most people per image, None: BlazePose's
    defaults), or, with ``keypoints_path``, they are the keypoint file's people, initialized
    from their keypoints
    (:func:`jaxrefine.photo.read_keypoint_photo_inputs`;
    ``min_person_score`` the least score of a person refined, None: its default; no
    BlazePose and no masks; ``keypoint_images`` names a COCO results list's image ids); their
    landmarks are the keypoint term (BODY_25) unless ``use_landmarks`` is False, and
    ``overlays/<image>_people.png`` shows every person of an image; ``video``: the images
    (a folder or list) are one video's frames in order, so their people are linked into
    tracks as a video file's are. ``intrinsics`` (fx, fy, cx, cy, or a JSON file): the camera
    of every image (replacing an estimates file's own); None: the file's, else the focal
    approximation. ``exif``: image files are turned upright by their EXIF orientation
    (False: taken as stored; :func:`jaxrefine.inputs.images.decode_image`). An earlier run's
    files in ``out`` are refused unless ``resume`` continues it or ``overwrite`` replaces
    them (:func:`~jaxrefine.refine_outputs.clear_previous_run`, once every input is read and
    checked). ``frames``: ``START:STOP[:STEP]`` of the source's frames
    (:func:`jaxrefine.inputs.images.parse_frames`; an estimates file's estimates of the other
    frames are left out, with a warning). ``network_body_model``: the id of the body model the
    network was trained on (:func:`jaxrefine.refine.warn_network_model`), as ``settings``
    records it (None: not known, e.g. a bare ``(config, params)``). ``image_order``: a
    folder's images sorted by ``"name"`` or by the ``"number"`` in their names; None: by
    name, refusing what depends on the order when the two differ
    (:func:`check_image_order`).
    ``options`` default: :class:`~jaxrefine.refine.RefineOptions`'
    defaults, for photos :func:`jaxrefine.photo.photo_options` (mask gate, confidence weights).

    With ``jax.distributed`` initialized (several processes) each process refines its share of
    the chunks and returns the report of every frame; process 0 writes the collection's files
    (its report lists them; the others' list none)."""
    from jaxrefine.data.scenes import resolve_backend
    from jaxrefine.refine import RefineOptions

    out = Path(out)
    _check_flags(model, options, estimates_path, keypoints_path, keypoint_images, boxes, tiles,
                 min_person_score, max_people, use_landmarks, chunk)  # fmt: skip
    prior = initial_prior(options)  # read now: a bad --gmm file fails before any work
    earlier = check_output(out, resume, overwrite, dry_run)
    images, est, frame_of, kp, kp_set, masks = _read_people(
        images_src, estimates_path, model, keypoints_path=keypoints_path, intrinsics=intrinsics,
        boxes=boxes, tiles=tiles, use_landmarks=use_landmarks, video=video, progress=progress,
        min_person_score=min_person_score, max_people=max_people,
        keypoint_images=keypoint_images, exif=exif, frames=frames, gmm=prior,
        image_order=image_order,
    )  # fmt: skip
    check_image_order(images, None, False, options is not None and options.temporal_weight > 0)
    _warn_before_run(model, images, est, frame_of, intrinsics, kp, keypoints_path)
    if options is None:  # the defaults; photos with theirs (as on the command line)
        options = photo_defaults(RefineOptions(), None, None, estimates_path, network[0],
                                  keypoints_path)  # fmt: skip
    options = keypoint_options(options, kp_set, photos=estimates_path is None)
    backend = resolve_backend(options.backend)
    pid, count = distributed.process()
    keep_tracks = options.share_betas or options.temporal_weight > 0
    groups = chunk_groups(est.track_id, chunk, keep_tracks)  # the unit of work and of resuming
    warn_cut_tracks(est.track_id, groups, options, chunk)
    settings = _settings(images, est, model, network, options, backend,
                         estimates_path=estimates_path, keypoints_path=keypoints_path,
                         keypoint_images=keypoint_images, exif=exif, frames=frames,
                         network_body_model=network_body_model,
                         image_order=image_order)  # fmt: skip
    if estimates_path is None:
        settings.update(_person_limits(keypoints_path, boxes, min_person_score, max_people))
    if dry_run:
        what = plan(images, est, frame_of, kp, groups, out, outputs, video,
                    photos=estimates_path is None)  # fmt: skip
        then = "resume" if resume else "overwrite" if overwrite else None
        return {"settings": settings, "plan": {**what, "earlier_run": earlier,
                                               "earlier_run_then": then}}  # fmt: skip
    if overwrite and earlier:
        if count > 1:
            raise InputError("--overwrite with several processes: empty --out first (one "
                             "process would remove what another writes)")  # fmt: skip
        clear_previous_run(out)
    mine = np.unique(groups[distributed.share(len(est), count, pid, groups)])
    local = run_chunks(model, network, images, est, frame_of, kp, options, out, groups=groups,
                       resume=resume, progress=progress, chunks=mine, masks=masks)  # fmt: skip
    return _write_results(model, images, est, frame_of, local, kp, out, backend, outputs,
                          settings, photos=estimates_path is None, video=video,
                          progress=progress)  # fmt: skip


def _settings(
    images,
    est,
    model,
    network,
    options,
    backend: str,
    *,
    estimates_path,
    keypoints_path,
    keypoint_images,
    exif: bool,
    frames,
    network_body_model: str | None = None,
    image_order: str | None = None,
) -> dict:
    """What a run read and ran with, as ``report.json``'s ``settings`` records it: the inputs
    (where the people came from when no estimates file was given), the body model, network
    (and the body model it was trained on, when known),
    renderer and options, the EXIF handling, the frame selection and the image order asked
    for (``image_order``, None: by name), the machine, and (with
    several ``jax.distributed`` processes) their number. ``files`` is filled in once
    written."""
    from jaxrefine.inputs.images import turned_upright
    from jaxrefine.report import machine_info

    people = "keypoints" if keypoints_path is not None else "blazepose"
    detected = estimates_path is None
    settings = {
        "images": str(images.source),
        "estimates": str(estimates_path or people),
        "estimates_format": est.fmt,
        "tracks_from": TRACKS_FROM["detected" if detected else est.tracks_from],
        "keypoints": None if keypoints_path is None else str(keypoints_path),
        "keypoint_images": None if keypoint_images is None else str(keypoint_images),
        "model_id": model.model_id,
        "network": network[0].name,
        "network_body_model": network_body_model,
        "render_backend": backend,
        "options": {k: str(v) for k, v in dataclasses.asdict(options).items()},
        "files": [],
        "exif_orientation": exif,
        "exif_turned": turned_upright(images),
        "frames": frames,
        "image_order": image_order,
        "machine": machine_info(),
    }
    count = distributed.process()[1]
    if count > 1:
        settings["processes"] = count
    return settings


def _write_results(
    model,
    images,
    est,
    frame_of,
    local: dict,
    kp,
    out: Path,
    backend: str,
    outputs: Outputs,
    settings: dict,
    *,
    photos: bool,
    video: bool,
    progress: bool,
) -> dict:
    """Write this process's overlays and meshes (``local``: its chunks' arrays, as
    :func:`run_chunks` returns them), gather every process's rows, and on process 0 the
    collection's files and ``report.json``; returns the report with ``failed`` added."""
    from jaxrefine.report import write_json

    if outputs.overlays:
        write_overlays(model, images, est, frame_of, local, out, backend)
    if outputs.obj or outputs.ply:
        write_meshes(model, images, est, frame_of, local, out, outputs.obj, outputs.ply)
    merged = distributed.merge(distributed.gather(local))
    pid = distributed.process()[0]
    if pid == 0:  # process 0 writes the collection's files
        settings["files"] = write_merged(model, images, est, frame_of, merged, out, backend,
                                          outputs, photos=photos, keypoints=kp,
                                          progress=progress, video=video)  # fmt: skip
    result = report(images, est, frame_of, merged, settings)
    if pid == 0:
        write_json(out / "report.json", result, announce=False)
    result["failed"] = failed(merged)
    return result


def _read_people(images_src, estimates_path, model, *, keypoints_path, intrinsics, boxes, tiles,
                 use_landmarks, video, progress, min_person_score, max_people,
                 keypoint_images, exif, frames=None, gmm=None, image_order=None):  # fmt: skip
    """The run's people from wherever they come (:func:`refine_files`' three sources):
    ``(images, estimates, frame_of, keypoints or None, keypoint set or None, masks or None)``;
    ``gmm``: the pose prior of photos' initial fits (None: the shipped one)."""
    from jaxrefine.inputs import read_images
    from jaxrefine.inputs.images import parse_frames

    selection = None if frames is None else parse_frames(frames)
    images_src = read_images(images_src, exif=exif, frames=selection, order=image_order)
    if estimates_path is None:  # estimates are checked with their frame entries
        check_image_order(images_src, None, video)
    if estimates_path is not None:
        images, est, frame_of, kp, kp_set = read_inputs(
            images_src, estimates_path, model, keypoints_path=keypoints_path,
            intrinsics=intrinsics, keypoint_images=keypoint_images, video=video,
            progress=progress,
        )  # fmt: skip
        return images, est, frame_of, kp, kp_set, None
    if keypoints_path is not None:
        from jaxrefine.photo import read_keypoint_photo_inputs

        images, est, frame_of, kp, kp_set, _, masks = read_keypoint_photo_inputs(
            images_src, model, keypoints_path, intrinsics=intrinsics,
            use_landmarks=use_landmarks, video=video, progress=progress,
            min_person_score=min_person_score, keypoint_images=keypoint_images, gmm=gmm,
        )  # fmt: skip
        return images, est, frame_of, kp, kp_set, masks
    from jaxrefine.photo import PHOTO_TILES, read_photo_inputs

    images, est, frame_of, kp, kp_set, _, masks = read_photo_inputs(
        images_src, model, boxes=boxes, tiles=PHOTO_TILES if tiles is None else tiles,
        use_landmarks=use_landmarks, video=video, progress=progress,
        min_score=min_person_score, max_people=max_people, intrinsics=intrinsics, gmm=gmm,
    )  # fmt: skip
    return images, est, frame_of, kp, kp_set, masks


def _warn_before_run(model, images, est: Estimates, frame_of: np.ndarray, intrinsics, kp,
                     keypoints_path) -> None:  # fmt: skip
    """The warnings before any work, each naming how many, the first estimate and its image:
    cameras that do not fit their images (the file's, or ``intrinsics``: ``--intrinsics``;
    :func:`jaxrefine.refine.warn_camera_values`: a focal in millimetres draws every body a
    few pixels tall, the camera of another resolution, a video's full-size one for its
    resized frames, draws it away from its person), a keypoint file's keypoints far past their
    image's edge (``kp`` of ``keypoints_path``, None without one), bodies out of view."""
    from jaxrefine.inputs.images import frame_size

    sizes = np.array([frame_size(images, int(f)) for f in frame_of]).reshape(-1, 2)

    def name(i: int) -> str:
        return f"estimate {i}, image {images.names[int(frame_of[i])]!r}"

    who = "--intrinsics" if intrinsics is not None else str(est.source)
    warn_camera_values(est.intrinsics, sizes, who, name)
    if keypoints_path is not None:
        _warn_keypoints_past_edge(kp, sizes, str(keypoints_path), name)
    _warn_out_of_view(model, est, sizes, name)


def _warn_keypoints_past_edge(kp, sizes, source: str, name_of) -> None:
    """Warn of people whose keypoints ((N, K, 3) pixels, one person per estimate) reach far
    past the edge of their images of (N, 2) ``sizes``
    (:func:`jaxrefine.keypoints.keypoints_past_edge`): keypoints detected on frames of
    another size (a video's full-size frames, its frames given resized). They are used as
    given."""
    from jaxrefine.keypoints import KEYPOINT_PAST_EDGE, keypoints_past_edge

    past = keypoints_past_edge(kp, sizes)
    idx = np.flatnonzero(past.any(-1))
    if len(idx):
        i = int(idx[0])
        (h, w), (x, y, _) = sizes[i], np.asarray(kp)[i, np.argmax(past[i])]
        warnings.warn(f"{source}: the keypoints of {len(idx)} of the {len(past)} people reach "
                      f"more than {KEYPOINT_PAST_EDGE:.0%} of the image's side past its edge "
                      f"(e.g. {name_of(i)}: ({x:.0f}, {y:.0f}) in {w}x{h} px): were they "
                      "detected on frames of another size (a video's full-size frames, given "
                      "resized)? The bodies are fitted to them as given", stacklevel=3)  # fmt: skip


VIEW_BATCH = 256  # estimates posed at a time by _warn_out_of_view


def _warn_out_of_view(model, est: Estimates, sizes: np.ndarray, name_of) -> None:
    """Warn of estimates whose bodies lie out of their images' view ((N, 2) ``sizes``; behind
    the camera, too small, outside it: :func:`jaxrefine.refine.view_codes`);
    :func:`~jaxrefine.refine.refine` keeps them as they are. Posed ``VIEW_BATCH`` at a time
    (a long video's every vertex at once would not fit memory)."""
    codes = []
    for s in range(0, len(est), VIEW_BATCH):
        i = slice(s, s + VIEW_BATCH)
        body = pose_batch(model, jnp.asarray(est.pose[i]), jnp.asarray(est.betas[i]),
                          jnp.asarray(est.transl[i]))  # fmt: skip
        codes.append(view_codes(body.vertices, Camera.from_intrinsics(est.intrinsics[i]),
                                sizes[i]))  # fmt: skip
    warn_out_of_view(np.concatenate(codes), est.transl, str(est.source), name_of)


def _check_flags(model, options, estimates_path, keypoints_path, keypoint_images, boxes, tiles,
                 min_person_score, max_people, use_landmarks, chunk):  # fmt: skip
    """Refuse, before any input is read, flags that do not fit together or lie out of range."""
    with_keypoints = keypoints_path is not None or (estimates_path is None and use_landmarks)
    _check_optimizer(options, model, with_keypoints, photos=estimates_path is None)
    _check_people_source(estimates_path, keypoints_path, boxes, tiles, options)
    if keypoint_images is not None and keypoints_path is None:
        raise InputError("--keypoint-images names the image ids of a COCO results --keypoints "
                         "file: give the file")  # fmt: skip
    _check_person_limits(estimates_path, keypoints_path, boxes, min_person_score, max_people)
    _check_chunk(chunk)


def _check_person_limits(estimates_path, keypoints_path, boxes, min_person_score, max_people):
    """``--min-person-score`` chooses among the people found in photos (a keypoint file's or
    the detector's), ``--max-people`` among the detector's: refuse them where there is no
    choice (an estimates file, the user's boxes)."""
    if min_person_score is not None and (estimates_path is not None or boxes is not None):
        raise InputError("--min-person-score chooses among the people found in photos (a "
                         "keypoint file's, or the detector's): give photos without --estimates "
                         "and --box")  # fmt: skip
    if max_people is not None and (estimates_path is not None or keypoints_path is not None
                                   or boxes is not None):  # fmt: skip
        raise InputError("--max-people limits the people the detector finds: give photos "
                         "without --estimates, --keypoints and --box")  # fmt: skip
    if max_people is not None and max_people < 1:
        raise InputError(f"--max-people must be at least 1 (got {max_people})")
    if min_person_score is not None and keypoints_path is None and estimates_path is None:
        from jaxrefine.detect.blazepose import check_min_score

        check_min_score(min_person_score)  # before any image is read


def _check_chunk(chunk: int) -> None:
    """``--chunk``: estimates per saved chunk, at least one."""
    if chunk < 1:
        raise InputError(f"--chunk (estimates per saved chunk) must be at least 1 (got {chunk})")


def _person_limits(keypoints_path, boxes, min_person_score, max_people) -> dict:
    """The limits a photo run used, for ``report.json``'s settings."""
    from jaxrefine.inputs.keypoint_files import MIN_PERSON_SCORE

    if keypoints_path is not None:
        return {"min_person_score": (MIN_PERSON_SCORE if min_person_score is None
                                     else float(min_person_score))}  # fmt: skip
    if boxes is not None:
        return {}
    from jaxrefine.detect.blazepose import MAX_PEOPLE, MIN_DETECTION_SCORE

    return {"min_person_score": (MIN_DETECTION_SCORE if min_person_score is None
                                 else float(min_person_score)),
            "max_people": MAX_PEOPLE if max_people is None else int(max_people)}  # fmt: skip


def _check_people_source(estimates_path, keypoints_path, boxes, tiles, options):
    """Refuse, before any work, options that do not fit where the people come from: an
    estimates file, a keypoint file (photos without ``--estimates``), or BlazePose."""
    detector = estimates_path is None and keypoints_path is None
    if options is not None and options.needs_masks and not detector:
        raise InputError("--silhouette-weight / --mask-gate need BlazePose's person masks: give "
                         "photos without --estimates and --keypoints")  # fmt: skip
    if not detector and (boxes is not None or tiles is not None):
        whose = "an estimates file" if estimates_path is not None else "a keypoint file"
        raise InputError(f"--box / --tiles choose the people the detector finds; {whose} "
                         "brings its own people")  # fmt: skip
    if tiles is not None:
        from jaxrefine.detect.blazepose import check_tiles

        check_tiles(tiles)
    if boxes is not None:
        from jaxrefine.detect.blazepose import check_boxes

        check_boxes(boxes)  # before any image is read


def keypoint_options(options, kp_set: str | None, photos: bool):
    """``options`` with the keypoint term of set ``kp_set`` on (None: no keypoints, unchanged).
    Its weight, unless ``options`` sets one: on photos without ``--estimates`` (BlazePose's
    landmarks or the user's keypoints, the only sparse anchor) the photos' default
    (:data:`jaxrefine.photo.LANDMARK_WEIGHT`); a user's ``--keypoints`` beside estimates 1."""
    if kp_set is None:
        return options
    if photos:
        from jaxrefine.photo import landmark_options

        return landmark_options(options, kp_set)
    weight = 1.0 if options.keypoint_weight is None else options.keypoint_weight
    return dataclasses.replace(options, keypoint_set=kp_set, keypoint_weight=weight)


def photo_defaults(options, mask_gate, confidence, estimates, network_config, keypoints=None):
    """``options`` with ``--mask-gate`` / ``--confidence`` as given, else (None) the photos'
    defaults (:func:`jaxrefine.photo.photo_options`) without ``--estimates`` and off with;
    the mask gate also off for photos with ``--keypoints`` (no BlazePose, no masks)."""
    from jaxrefine.photo import photo_options

    photo = photo_options(network_config)
    if mask_gate is None:
        mask_gate = photo.mask_gate if estimates is None and keypoints is None else 0.0
    if confidence is None:
        confidence = photo.use_confidence if estimates is None else False
    return dataclasses.replace(options, mask_gate=mask_gate, use_confidence=confidence)
