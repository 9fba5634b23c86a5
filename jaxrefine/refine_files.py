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
end (``OUT/``):

- ``refined.npz``: the documented result format (:mod:`jaxrefine.io`) plus ``status``,
  ``status_name``, ``frame``, ``track_id``, ``init_loss``, ``final_loss``;
- ``report.json``: per frame its status, initial and final objective, visible vertices, mean
  predicted displacement (px) and time; the run's settings and totals;
- ``overlays/<frame>_<track>.png``: before / after overlays; for videos ``overlays.mp4``
  (one picture per video frame with every person in it, at the video's rate; for a folder
  of frames given with ``--video``, at ``--fps`` or 30); ``overlays/<image>_people.png``: every
  person of an image at once, for photos and for images with several estimates
  (:func:`people_frames`);
- ``tracks/track_<id>.glb`` and ``.bvh``: each person's refined sequence (shared shape);
- ``meshes/<frame>_<track>.obj|.ply`` on request.

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
import os
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
from jaxrefine.fit import STATUS_NONFINITE, STATUS_RENDER_FAILED, status_name
from jaxrefine.inputs import Estimates, ImageSequence, InputError
from jaxrefine.inputs.estimates import TRACKS_FROM
from jaxrefine.parts import PART_FORMAT, chunk_inputs, load_part, part_path, run_settings
from jaxrefine.refine import check_network, pose_batch, refine

MATCH_RADIUS = 0.5  # a detection matches an estimate within half the person's size (mean px)


@dataclasses.dataclass(frozen=True)
class Outputs:
    """Which files to write besides ``refined.npz`` and ``report.json``."""

    overlays: bool = True
    video: bool = True
    tracks: bool = True
    obj: bool = False
    ply: bool = False
    fps: float | None = None  # of the tracks' animations (default: the video's, else 30)


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
                                 f"{len(images)} images of {images.source}")  # fmt: skip
            out[k] = int(f)
    return out


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
                keypoint_images=None, video=False):  # fmt: skip
    """Read and check everything before any work: ``(images, estimates, frame_of, keypoints
    (N, K, 3) or None, keypoint set name or None)``. ``keypoint_images``: a COCO file naming
    the image ids of a COCO results ``keypoints_path``. With keypoints each estimate gets
    the person of its image's keypoints it matches (:func:`match_keypoints`) as its
    ``person`` and that person's score; estimates matching nobody are named in a warning.
    Estimates without track ids, several in an image, are linked into tracks
    (:func:`link_estimates`) when the images are a video (a video file, or ``video``: a
    folder or list of one video's frames), else each is its own track
    (:func:`~jaxrefine.inputs.estimates.separate_tracks`)."""
    from jaxrefine.inputs import read_estimates, read_images, read_intrinsics, read_keypoints
    from jaxrefine.inputs.estimates import separate_tracks
    from jaxrefine.inputs.keypoint_files import person_scores

    images = read_images(images_src)
    intr = None if intrinsics is None else read_intrinsics(intrinsics)
    est = read_estimates(estimates_path, image_size=_size_lookup(images),
                         num_betas=model.num_betas, intrinsics=intr, model=model,
                         camera=_folder_name(images))  # fmt: skip
    est, left_out = select_frames(est, images)
    if left_out:
        warnings.warn(f"{est.source}: {left_out} estimates of frames --frames does not select "
                      "are left out", stacklevel=2)  # fmt: skip
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


def _label(images: ImageSequence, frame: int, track: int) -> str:
    return f"{images.names[frame]}_{track}"


def _overlay_path(out: Path, images, est, frame_of, i: int) -> Path:
    return out / "overlays" / f"{_label(images, int(frame_of[i]), est.track_id[i])}.png"


def write_overlays(model, images, est, frame_of, merged, out: Path, backend: str) -> None:
    """Before / after overlays (PNG) of the estimates ``merged["index"]`` (``merged`` as
    :func:`run_chunks` returns it): each one's image, initial body, refined body, and both
    seen from the side (:func:`jaxrefine.photo.before_after_people` of that one estimate)."""
    from jaxrefine.photo import before_after_people
    from jaxrefine.viz import save_png

    keys = ("global_orient", "body_pose", "betas", "transl")
    for j, i in enumerate(merged["index"].tolist()):
        one = {f"param_{k}": merged[f"param_{k}"][[j]] for k in keys}
        pic = before_after_people(model, images[int(frame_of[i])], est.take([i]), one, [0],
                                  backend=backend, side=True)  # fmt: skip
        save_png(_overlay_path(out, images, est, frame_of, i), pic)


def video_pictures(model, images, est, frame_of, merged, backend: str, keypoints=None,
                   progress: bool = False):  # fmt: skip
    """One uint8 picture per frame of the video, in order (a generator): the frame (with the
    ``keypoints`` term, (N, K, 3) or None, as dots), every person's initial bodies, their
    refined bodies labelled with their track ids (:func:`jaxrefine.photo.people_picture`); a
    frame without anyone shows the frame in all three panels, so the video keeps the input's
    timing."""
    from tqdm import tqdm

    from jaxrefine.photo import before_after_people
    from jaxrefine.viz import image_grid, picture_image

    for f in tqdm(range(len(images)), unit="frame", desc="video", disable=not progress):
        img = np.asarray(images[f], np.float32)
        sel = np.flatnonzero(frame_of == f)
        pic = image_grid([picture_image(img)[0]] * 3) if not len(sel) else before_after_people(
            model, img, est, merged, sel, backend=backend, keypoints=keypoints,
            labels=[str(t) for t in est.track_id[sel]])  # fmt: skip
        yield (np.clip(pic, 0, 1) * 255).astype(np.uint8)


def write_video(path: Path, pictures, fps: float) -> None:
    """An MP4 of ``pictures`` (an iterable of (H, W, 3) uint8, streamed to imageio-ffmpeg, so a
    long video is never held in memory; cut or padded to the first one's size, even sides),
    written to a temporary file then moved (removed if anything fails)."""
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        if not _stream_video(tmp, pictures, fps):
            raise ValueError(f"{path}: no pictures for the video")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def _stream_video(path: Path, pictures, fps: float) -> int:
    """Send ``pictures`` to an imageio-ffmpeg writer of ``path``; returns how many."""
    import imageio_ffmpeg

    writer, count = None, 0
    try:
        for pic in pictures:
            if writer is None:
                h, w = pic.shape[0] // 2 * 2, pic.shape[1] // 2 * 2
                writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps,
                                                     macro_block_size=2)  # fmt: skip
                writer.send(None)
            pad = ((0, max(h - pic.shape[0], 0)), (0, max(w - pic.shape[1], 0)), (0, 0))
            writer.send(np.ascontiguousarray(np.pad(pic, pad)[:h, :w]))
            count += 1
    finally:
        if writer is not None:
            writer.close()
    return count


def write_tracks(model, est, merged, out: Path, fps: float) -> list[str]:
    """Each person's refined sequence (frames in order, one median shape) as glTF and BVH."""
    from jaxrefine.export import save_bvh, save_gltf

    written = []
    for track in np.unique(est.track_id):
        sel = np.flatnonzero(est.track_id == track)
        params = {k: merged[f"param_{k}"][sel] for k in ("global_orient", "body_pose", "transl")}
        betas = np.median(merged["param_betas"][sel], axis=0)
        base = out / "tracks" / f"track_{int(track)}"
        save_gltf(base.with_suffix(".glb"), model, params, betas, fps)
        save_bvh(base.with_suffix(".bvh"), model, params, betas, fps)
        written += [str(base.with_suffix(".glb")), str(base.with_suffix(".bvh"))]
    return written


def write_meshes(model, images, est, frame_of, merged, out: Path, obj: bool, ply: bool):
    """OBJ / PLY meshes of the estimates ``merged["index"]``."""
    from jaxrefine.io import save_obj, save_ply

    for j, i in enumerate(merged["index"].tolist()):
        pose = jnp.concatenate([jnp.asarray(merged["param_global_orient"][j])[None],
                                merged["param_body_pose"][j]])  # fmt: skip
        v = pose_batch(model, pose[None], jnp.asarray(merged["param_betas"][j])[None],
                       jnp.asarray(merged["param_transl"][j])[None]).vertices[0]  # fmt: skip
        base = out / "meshes" / _label(images, int(frame_of[i]), est.track_id[i])
        if obj:
            save_obj(base.with_suffix(".obj"), np.asarray(v), np.asarray(model.faces))
        if ply:
            save_ply(base.with_suffix(".ply"), np.asarray(v), np.asarray(model.faces))


def write_results(model, images, est, frame_of, merged, out: Path, backend: str) -> Path:
    """``refined.npz`` in the documented result format with the per-frame extras (for people
    found in photos, or estimates given keypoints, also ``person``, their place among their
    image's detections (-1: no keypoint person matched), and ``person_score``, the
    detection's score: :class:`~jaxrefine.inputs.Estimates`)."""
    from jaxrefine.io import save_result

    params = {k: merged[f"param_{k}"] for k in ("global_orient", "body_pose", "betas", "transl")}
    pose = jnp.concatenate([jnp.asarray(params["global_orient"])[:, None], params["body_pose"]], 1)
    joints = pose_batch(model, pose, jnp.asarray(params["betas"]),
                        jnp.asarray(params["transl"])).joints  # fmt: skip
    status = merged["status"].astype(np.int32)
    extra = {
        "status": status, "status_name": np.array([status_name(int(s)) for s in status]),
        "frame": np.array([images.names[int(f)] for f in frame_of]),
        "track_id": est.track_id, "init_loss": merged["init_loss"].astype(np.float32),
        "final_loss": merged["final_loss"].astype(np.float32), "render_backend": np.array(backend),
    }  # fmt: skip
    if est.person is not None:  # people found in the photos: which detection each one is
        extra.update(person=est.person.astype(np.int64), person_score=est.score)
    cams = Camera.from_intrinsics(est.intrinsics)
    return save_result(out / "refined.npz", model, params, joints, cams, extra=extra)


def report(images, est, frame_of, merged, settings: dict) -> dict:
    """The JSON report: one entry per estimate and the run's totals."""
    frames = [
        {"frame": images.names[int(frame_of[i])], "track_id": int(est.track_id[i]),
         "status": status_name(int(merged["status"][i])),
         "initial_objective": float(merged["init_loss"][i]),
         "final_objective": float(merged["final_loss"][i]),
         "visible_vertices": int(merged["visible"][i]),
         "mean_displacement_px": float(merged["mean_displacement"][i]),
         "terms": {k.removeprefix("term_"): float(v[i]) for k, v in merged.items()
                   if k.startswith("term_")},
         "seconds": float(merged["seconds"][i])}
        for i in range(len(est))
    ]  # fmt: skip
    if est.person is not None:
        for f, p, s in zip(frames, est.person, est.score, strict=True):
            f.update(person=int(p), person_score=None if np.isnan(s) else round(float(s), 4))
    counts = {}
    for f in frames:
        counts[f["status"]] = counts.get(f["status"], 0) + 1
    fps = len(frames) / max(float(np.sum(merged["seconds"])), 1e-9)
    return {"settings": settings, "frames": frames, "status_counts": counts,
            "frames_per_second": fps}  # fmt: skip


def failed(merged) -> bool:
    """True when a frame's rendering failed or its fit met non-finite values."""
    return bool(np.any(np.isin(merged["status"], (STATUS_NONFINITE, STATUS_RENDER_FAILED))))


# what a run writes in its output folder: found there before a run, they are an earlier run's
OUTPUT_FILES = ("refined.npz", "report.json", "overlays.mp4")
OUTPUT_FOLDERS = ("parts", "overlays", "tracks", "meshes")


def previous_run(out: Path) -> list[str]:
    """The files and (non-empty) folders of an earlier run in ``out``, by name."""
    out = Path(out)
    found = [n for n in OUTPUT_FILES if (out / n).is_file()]
    return found + [f"{n}/" for n in OUTPUT_FOLDERS
                    if (out / n).is_dir() and any((out / n).iterdir())]  # fmt: skip


def clear_previous_run(out: Path) -> None:
    """Remove what an earlier run wrote in ``out`` (:data:`OUTPUT_FILES`,
    :data:`OUTPUT_FOLDERS`); nothing else in the folder is touched."""
    import shutil

    for name in OUTPUT_FILES:
        (Path(out) / name).unlink(missing_ok=True)
    for name in OUTPUT_FOLDERS:
        shutil.rmtree(Path(out) / name, ignore_errors=True)


def _check_output(out: Path, resume: bool, overwrite: bool, dry_run: bool) -> list[str]:
    """An earlier run's files in ``out`` (:func:`previous_run`) are continued (``resume``) or
    replaced (``overwrite``), never mixed with a new run's (its overlays and tracks would stay
    beside the new ones); returns them."""
    if resume and overwrite:
        raise InputError("--resume continues the run in --out, --overwrite replaces it: give "
                         "one")  # fmt: skip
    earlier = previous_run(out)
    if earlier and not (resume or overwrite or dry_run):
        raise InputError(f"{out}: holds an earlier run's {', '.join(earlier)}; give --resume to "
                         "continue it, --overwrite to replace it, or another --out")  # fmt: skip
    return earlier


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
) -> dict:
    """The whole command as a function (see the module docstring); returns the report
    (``dry_run``: the settings and :func:`plan` after every input is read and checked, with
    nothing fitted or written).

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
    them (:func:`clear_previous_run`, once every input is read and checked). ``frames``:
    ``START:STOP[:STEP]`` of the source's frames (:func:`jaxrefine.inputs.images.parse_frames`;
    an estimates file's estimates of the other frames are left out, with a warning).
    ``options`` default: :class:`~jaxrefine.refine.RefineOptions`'
    defaults, for photos :func:`jaxrefine.photo.photo_options` (mask gate, confidence weights).

    With ``jax.distributed`` initialized (several processes) each process refines its share of
    the chunks and returns the report of every frame; process 0 writes the collection's files
    (its report lists them; the others' list none)."""
    from jaxrefine.data.scenes import resolve_backend
    from jaxrefine.inputs.images import turned_upright
    from jaxrefine.refine import RefineOptions
    from jaxrefine.report import machine_info, write_json

    out = Path(out)
    with_keypoints = keypoints_path is not None or (estimates_path is None and use_landmarks)
    _check_optimizer(options, model, with_keypoints, photos=estimates_path is None)
    _check_people_source(estimates_path, keypoints_path, boxes, tiles, options)
    if keypoint_images is not None and keypoints_path is None:
        raise InputError("--keypoint-images names the image ids of a COCO results --keypoints "
                         "file: give the file")  # fmt: skip
    _check_person_limits(estimates_path, keypoints_path, boxes, min_person_score, max_people)
    earlier = _check_output(out, resume, overwrite, dry_run)
    images, est, frame_of, kp, kp_set, masks = _read_people(
        images_src, estimates_path, model, keypoints_path=keypoints_path, intrinsics=intrinsics,
        boxes=boxes, tiles=tiles, use_landmarks=use_landmarks, video=video, progress=progress,
        min_person_score=min_person_score, max_people=max_people,
        keypoint_images=keypoint_images, exif=exif, frames=frames,
    )  # fmt: skip
    if options is None:  # the defaults; photos with theirs (as on the command line)
        options = _photo_defaults(RefineOptions(), None, None, estimates_path, network[0],
                                  keypoints_path)  # fmt: skip
    options = keypoint_options(options, kp_set, photos=estimates_path is None)
    backend = resolve_backend(options.backend)
    pid, count = distributed.process()
    keep_tracks = options.share_betas or options.temporal_weight > 0
    groups = chunk_groups(est.track_id, chunk, keep_tracks)  # the unit of work and of resuming
    warn_cut_tracks(est.track_id, groups, options, chunk)
    people = "keypoints" if keypoints_path is not None else "blazepose"
    settings = {"images": str(images.source), "estimates": str(estimates_path or people),
                "estimates_format": est.fmt, "tracks_from": TRACKS_FROM[est.tracks_from]
                if estimates_path is not None else TRACKS_FROM["detected"],
                "keypoints": None if keypoints_path is None else
                str(keypoints_path), "keypoint_images": None if keypoint_images is None else
                str(keypoint_images), "model_id": model.model_id, "network": network[0].name,
                "render_backend": backend, "options": {k: str(v) for k, v in
                dataclasses.asdict(options).items()}, "files": [],
                "exif_orientation": exif, "exif_turned": turned_upright(images),
                "frames": frames,
                "machine": machine_info()}  # fmt: skip
    if estimates_path is None:
        settings.update(_person_limits(keypoints_path, boxes, min_person_score, max_people))
    if count > 1:
        settings["processes"] = count
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
    if outputs.overlays:
        write_overlays(model, images, est, frame_of, local, out, backend)
    if outputs.obj or outputs.ply:
        write_meshes(model, images, est, frame_of, local, out, outputs.obj, outputs.ply)
    merged = distributed.merge(distributed.gather(local))
    if pid == 0:  # process 0 writes the collection's files
        settings["files"] = _write_merged(model, images, est, frame_of, merged, out, backend,
                                          outputs, photos=estimates_path is None, keypoints=kp,
                                          progress=progress, video=video)  # fmt: skip
    result = report(images, est, frame_of, merged, settings)
    if pid == 0:
        write_json(out / "report.json", result, announce=False)
    result["failed"] = failed(merged)
    return result


def _read_people(images_src, estimates_path, model, *, keypoints_path, intrinsics, boxes, tiles,
                 use_landmarks, video, progress, min_person_score, max_people,
                 keypoint_images, exif, frames=None):  # fmt: skip
    """The run's people from wherever they come (:func:`refine_files`' three sources):
    ``(images, estimates, frame_of, keypoints or None, keypoint set or None, masks or None)``."""
    from jaxrefine.inputs import read_images
    from jaxrefine.inputs.images import parse_frames

    selection = None if frames is None else parse_frames(frames)
    images_src = read_images(images_src, exif=exif, frames=selection)  # read once, for all
    if estimates_path is not None:
        images, est, frame_of, kp, kp_set = read_inputs(
            images_src, estimates_path, model, keypoints_path=keypoints_path,
            intrinsics=intrinsics, keypoint_images=keypoint_images, video=video,
        )  # fmt: skip
        return images, est, frame_of, kp, kp_set, None
    if keypoints_path is not None:
        from jaxrefine.photo import read_keypoint_photo_inputs

        images, est, frame_of, kp, kp_set, _, masks = read_keypoint_photo_inputs(
            images_src, model, keypoints_path, intrinsics=intrinsics,
            use_landmarks=use_landmarks, video=video, progress=progress,
            min_person_score=min_person_score, keypoint_images=keypoint_images,
        )  # fmt: skip
        return images, est, frame_of, kp, kp_set, masks
    from jaxrefine.photo import PHOTO_TILES, read_photo_inputs

    images, est, frame_of, kp, kp_set, _, masks = read_photo_inputs(
        images_src, model, boxes=boxes, tiles=PHOTO_TILES if tiles is None else tiles,
        use_landmarks=use_landmarks, video=video, progress=progress,
        min_score=min_person_score, max_people=max_people, intrinsics=intrinsics,
    )  # fmt: skip
    return images, est, frame_of, kp, kp_set, masks


def plan(images, est, frame_of, kp, groups, out: Path, outputs: Outputs, video: bool,
         photos: bool) -> dict:  # fmt: skip
    """What a run would do (``--dry-run``): the inputs as read, the chunks, and the files it
    would write to ``out`` (``photos``: people found in the images, with their people
    overlays; an estimates file's images with several people get them too,
    :func:`people_frames`); nothing is fitted or written."""
    n_tracks = len(np.unique(est.track_id))
    with_kp = None if kp is None else int(np.sum(np.any(np.asarray(kp)[..., 2] > 0, -1)))
    files = [str(out / "refined.npz"), str(out / "report.json")]
    if outputs.overlays:
        n_people = len(people_frames(frame_of, photos, images.is_video))
        people = f", {n_people} <image>_people.png" if n_people else ""
        files.append(f"{out / 'overlays'}/ ({len(est)} before / after pictures{people})")
    if outputs.video and (images.is_video or video):
        files.append(str(out / "overlays.mp4"))
    if outputs.tracks:
        files.append(f"{out / 'tracks'}/ ({n_tracks} .glb and .bvh)")
    for kind, on in (("obj", outputs.obj), ("ply", outputs.ply)):
        if on:
            files.append(f"{out / 'meshes'}/ ({len(est)} .{kind})")
    return {"images": len(images), "video": bool(images.is_video or video),
            "images_with_people": len(np.unique(frame_of)), "estimates": len(est),
            "estimates_format": est.fmt, "tracks": n_tracks,
            "estimates_with_keypoints": with_kp, "chunks": len(np.unique(groups)),
            "resumable_parts": len(list((out / "parts").glob("*.npz")))
            if (out / "parts").is_dir() else 0, "would_write": files}  # fmt: skip


def print_turned(names: list[str], indent: str = "refine: ") -> None:
    """One line naming the images turned upright by their EXIF orientation, if any."""
    if names:
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        print(f"{indent}{len(names)} image(s) turned upright by their EXIF orientation "
              f"({', '.join(names[:3])}{more}; --ignore-exif takes them as stored)")  # fmt: skip


def print_plan(result: dict) -> None:
    """``--dry-run``'s summary on stdout (:func:`plan`)."""
    p, st = result["plan"], result["settings"]
    kind = "video frame(s)" if p["video"] else "image(s)"
    chosen = f" (--frames {st['frames']})" if st.get("frames") else ""
    print(f"refine (dry run): {p['images']} {kind} of {st['images']}{chosen} (people in "
          f"{p['images_with_people']} of them)")  # fmt: skip
    print(f"  {p['estimates']} estimates from {st['estimates']} (format "
          f"{p['estimates_format']}), {p['tracks']} track(s), {p['chunks']} chunk(s)")  # fmt: skip
    print(f"  tracks: {st['tracks_from']}")
    print_turned(st["exif_turned"], "  ")
    if p["estimates_with_keypoints"] is not None:
        print(f"  keypoints ({st['options']['keypoint_set']}) for "
              f"{p['estimates_with_keypoints']} of {p['estimates']} estimates")  # fmt: skip
    if p["resumable_parts"]:
        print(f"  {p['resumable_parts']} finished chunk(s) in the output folder (--resume)")
    if p["earlier_run"]:
        then = {"resume": "--resume continues it", "overwrite": "--overwrite replaces them",
                None: "the run needs --resume or --overwrite"}[p["earlier_run_then"]]  # fmt: skip
        print(f"  the output folder holds an earlier run's {', '.join(p['earlier_run'])}: "
              f"{then}")  # fmt: skip
    opts = st["options"]
    print(f"  optimizer {opts['optimizer']}, network {st['network']}, render backend "
          f"{st['render_backend']}, body model {st['model_id']}")  # fmt: skip
    print("  would write:\n" + "\n".join(f"    {f}" for f in p["would_write"]))


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


def people_frames(frame_of: np.ndarray, photos: bool, is_video: bool) -> np.ndarray:
    """The images whose ``overlays/<image>_people.png`` (every person of the image at once) a
    run writes: for photos (people found by the run) every image with people; for an estimates
    file's images each image with two people or more (one person's picture is its own
    overlay), none of a video file (``overlays.mp4`` shows its frames)."""
    frames, counts = np.unique(np.asarray(frame_of), return_counts=True)
    if photos:
        return frames
    return np.zeros(0, int) if is_video else frames[counts > 1]


def _write_merged(model, images, est, frame_of, merged, out, backend, outputs, *, photos,
                  keypoints=None, progress=False, video=False):  # fmt: skip
    """Process 0's part: ``refined.npz``, the video (of a video file, or of images that are
    one ``video``'s frames, at ``outputs.fps`` or 30), the photos' people overlays (with the
    ``keypoints`` term, (N, K, 3) or None, as dots) and the tracks, from every estimate's
    results; returns the files written."""
    write_results(model, images, est, frame_of, merged, out, backend)
    fps = outputs.fps or images.fps or 30.0
    files = [str(out / "refined.npz")]
    if outputs.video and (images.is_video or video):
        pictures = video_pictures(model, images, est, frame_of, merged, backend, keypoints,
                                  progress=progress)  # fmt: skip
        write_video(out / "overlays.mp4", pictures, images.fps or fps)
        files.append(str(out / "overlays.mp4"))
    crowded = people_frames(frame_of, photos, images.is_video)
    if outputs.overlays and len(crowded):
        from jaxrefine.photo import write_people_overlays

        files += write_people_overlays(model, images, est, frame_of, merged, out, backend,
                                       keypoints, frames=crowded)  # fmt: skip
    if outputs.tracks:
        files += write_tracks(model, est, merged, out, fps)
    return files


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


def _photo_defaults(options, mask_gate, confidence, estimates, network_config, keypoints=None):
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


def main(argv: list[str]) -> int:
    import argparse
    import sys

    from jaxrefine.detect.blazepose import MAX_PEOPLE, MIN_DETECTION_SCORE
    from jaxrefine.inputs.keypoint_files import MIN_PERSON_SCORE
    from jaxrefine.optimizers.registry import optimizer_arg, optimizer_help
    from jaxrefine.photo import LANDMARK_WEIGHT
    from jaxrefine.refine import RefineOptions

    ap = argparse.ArgumentParser(prog="jaxrefine refine", description=__doc__.split("\n\n")[0])
    a = ap.add_argument
    a("images", help="a folder of images, one image, or a video file")
    a(
        "--estimates",
        default=None,
        help="initial estimates (.npz / .npy / .pkl / .pk / .pt / EasyMocap's .json / a mesh's "
        ".obj or .ply, or a folder of them, one per image and named after it, or TRAM's "
        "results/<video>/: SPIN, PARE, VIBE, PyMAF, HMR 2.0 / 4D-Humans (also its demo's "
        "meshes, with --model), WHAM, ROMP, CLIFF, HybrIK, TRAM, FrankMocap, EasyMocap (its "
        "images/<camera>/ folder picks the camera), MMHuman3D's inference_result.npz (with "
        "its images/ folder), any SMPL parameters; see docs/FORMATS.md); "
        "without them people are initialized from "
        "--keypoints when given, else detected by BlazePose (extra 'detect')",
    )
    a(
        "--box",
        nargs=4,
        type=float,
        action="append",
        default=None,
        metavar=("X0", "Y0", "X1", "Y1"),
        help="without --estimates: a person box in pixels (repeatable; skips the detector)",
    )
    a("--tiles", nargs="+", type=float, default=None,
      help="without --estimates: detector tiles as fractions of the longer side, coarsest "
           "first (default 1 0.6 0.4 0.3: the whole photo, then tiles that only add people; "
           "1 = the whole photo only)")  # fmt: skip
    a("--no-landmarks", action="store_true", help="without --estimates: no landmark term")
    a("--video", action="store_true",
      help="the images (a folder or list) are one video's frames in order (a video file "
           "always is): link their people into tracks (the people found in them, or an "
           "estimates file's people when it has no track ids)")  # fmt: skip
    a("--frames", default=None, metavar="START:STOP[:STEP]",
      help="only these frames of the images (counted from 0, as Python slices: 0:100, 250:, "
           "::5); a video is decoded only up to the last; an estimates file's other frames "
           "are left out")  # fmt: skip
    a("--out", required=True, help="output folder")
    a("--ignore-exif", action="store_true",
      help="take image files as stored, not turned upright by their EXIF orientation (for "
           "estimates or keypoints made on the stored pixels; OpenCV, photo viewers and the "
           "default turn them)")  # fmt: skip
    a("--keypoints", default=None,
      help="OpenPose BODY_25 folder/JSON, COCO-17 JSON, or MediaPipe Pose folder/JSON "
           "(33 landmarks, normalized; fitted as BODY_25); without --estimates its people "
           "are initialized from these keypoints and refined (no detector)")  # fmt: skip
    a("--keypoint-images", default=None,
      help="a COCO file whose 'images' (id, file_name) name the image ids of a COCO results "
           "--keypoints file (else an id matches an image whose name ends in it)")  # fmt: skip
    a("--min-person-score", type=float, default=None,
      help="without --estimates: refine the people scoring at least this: with --keypoints "
           f"their keypoints' mean confidence (default {MIN_PERSON_SCORE:g}; a COCO result's "
           "confidences include its score), else BlazePose's detector score (default "
           f"{MIN_DETECTION_SCORE:g})")  # fmt: skip
    a("--max-people", type=int, default=None,
      help=f"without --estimates and --keypoints: at most this many people per image, the "
           f"best detector scores (default {MAX_PEOPLE}; more found: a warning)")  # fmt: skip
    a("--intrinsics", nargs="+", default=None,
      help="fx fy cx cy, a JSON file, or a jaxrefine result (its refined.npz's camera): the "
           "camera of every image (default: the estimates file's, else focal sqrt(w^2 + h^2) "
           "at the image centre)")  # fmt: skip
    a("--checkpoint", default=None, help="network checkpoint (default: the shipped one)")
    a("--model", default=None, help="body model file (default: the open model)")
    a("--gender", default=None, help="gender of a model folder (neutral/male/female)")
    a("--device", choices=("cpu", "gpu"), default=None, help="JAX platform (default: JAX's)")
    a("--optimizer", default="adam", type=optimizer_arg, help=optimizer_help())
    a("--confidence", action=argparse.BooleanOptionalAction, default=None,
      help="weight vertices by the network's confidence head (default: on for photos when "
           "the network has one, off with --estimates)")  # fmt: skip
    a("--keypoint-weight", type=float, default=None,
      help="weight of the keypoint term beside the dense term (default: 1 for --keypoints "
           f"with --estimates, {LANDMARK_WEIGHT:g} on photos without --estimates)")  # fmt: skip
    a("--rerun-every", type=int, default=0,
      help="re-run the network every k body iterations (0: once, the paper's single "
           "pass; 10 with --confidence was the most accurate on synthetic frames, `jaxrefine "
           "eval`, at ~7x the time; on real photos it loses most keypoints: README)")  # fmt: skip
    a(
        "--share-betas",
        action="store_true",
        help="one body shape per track (chunks keep whole tracks; one longer than --chunk gets a "
        "shape per chunk, named in a warning)",
    )
    a("--silhouette-weight", type=float, default=0.0,
      help="photos: add the silhouette term on BlazePose's person masks (0 = off)")  # fmt: skip
    a("--mask-gate", type=float, default=None,
      help="photos: drop dense targets lying farther outside the person's BlazePose mask "
           "than this fraction of the mask's size (0 = off; default: 0.03 for photos, "
           "off with --estimates, which bring no masks)")  # fmt: skip
    a(
        "--temporal-weight",
        type=float,
        default=0.0,
        help="video: refit each track's frames together with this weight on joint accelerations "
        "(0 = off; 1e5 was best in `jaxrefine eval-video`); tracks longer than --chunk are cut",
    )
    a("--batch", type=int, default=16, help="frames per compiled batch")
    a("--chunk", type=int, default=64,
      help="estimates per saved chunk (resume granularity; with --share-betas or "
           "--temporal-weight whole tracks per chunk where they fit)")  # fmt: skip
    a("--fps", type=float, default=None, help="fps of the exported animations")
    a("--obj", action="store_true", help="write a mesh per frame (.obj)")
    a("--ply", action="store_true", help="write a mesh per frame (.ply)")
    a("--no-overlays", action="store_true", help="write no before / after pictures")
    a("--no-tracks", action="store_true", help="no glTF / BVH per track")
    a("--resume", action="store_true", help="continue an interrupted run in --out")
    a(
        "--overwrite",
        action="store_true",
        help="replace an earlier run's files in --out (refined.npz, report.json, overlays, "
        "tracks, meshes, parts; nothing else); without it or --resume they are refused",
    )
    a("--dry-run", action="store_true",
      help="read and check every input (and find the people of photos), print what the run "
           "would do and write, then stop: nothing is fitted or written")  # fmt: skip
    a("--backend", default="auto", choices=["auto", "egl", "jax"])
    distributed.add_process_flags(ap)
    args = ap.parse_args(argv)
    if args.device:
        jax.config.update("jax_platforms", "cuda" if args.device == "gpu" else "cpu")
    distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    from jaxrefine.network import load_pretrained
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model(args.model, gender=args.gender)
    cfg, params, _ = load_pretrained(args.checkpoint)
    intr = args.intrinsics
    if intr is not None:
        intr = intr[0] if len(intr) == 1 else [float(v) for v in intr]
    options = RefineOptions(
        optimizer=args.optimizer, keypoint_weight=args.keypoint_weight,
        rerun_every=args.rerun_every, share_betas=args.share_betas, batch_size=args.batch,
        backend=args.backend, temporal_weight=args.temporal_weight,
        silhouette_weight=args.silhouette_weight,
    )  # fmt: skip
    options = _photo_defaults(options, args.mask_gate, args.confidence, args.estimates, cfg,
                              args.keypoints)  # fmt: skip
    check_network((cfg, params), options, args.checkpoint or "the shipped network")
    outputs = Outputs(overlays=not args.no_overlays, tracks=not args.no_tracks, obj=args.obj,
                      ply=args.ply, fps=args.fps)  # fmt: skip
    result = refine_files(
        args.images, args.estimates, args.out, model=model, network=(cfg, params),
        keypoints_path=args.keypoints, intrinsics=intr, options=options, outputs=outputs,
        chunk=args.chunk, resume=args.resume, boxes=args.box,
        tiles=None if args.tiles is None else tuple(args.tiles),
        use_landmarks=not args.no_landmarks, video=args.video,
        min_person_score=args.min_person_score, keypoint_images=args.keypoint_images,
        max_people=args.max_people, dry_run=args.dry_run, exif=not args.ignore_exif,
        overwrite=args.overwrite, frames=args.frames,
    )  # fmt: skip
    if args.dry_run:
        print_plan(result)
        return 0
    if args.process_id > 0:
        return 1 if result["failed"] else 0
    print(f"refine: {len(result['frames'])} estimates -> {args.out} "
          f"({', '.join(f'{k}: {v}' for k, v in result['status_counts'].items())}; "
          f"{result['frames_per_second']:.2f} frames/s)")  # fmt: skip
    print_turned(result["settings"]["exif_turned"])
    if result["settings"]["tracks_from"] in (TRACKS_FROM["linked"], TRACKS_FROM["each"]):
        print(f"refine: tracks: {result['settings']['tracks_from']}")
    if result["failed"]:
        print("refine: some frames failed (rendering or non-finite fit): see report.json",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0
