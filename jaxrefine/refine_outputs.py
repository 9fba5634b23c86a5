"""What ``jaxrefine refine`` writes in its output folder (``OUT/``), and what it finds there
from an earlier run.

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
- ``meshes/<frame>_<track>.obj|.ply`` on request;
- ``parts/``: each finished chunk's results (:mod:`jaxrefine.parts`), for ``--resume``.

An earlier run's files (:data:`OUTPUT_FILES`, :data:`OUTPUT_FOLDERS`) are continued
(``--resume``) or replaced (``--overwrite``), never mixed with a new run's. The writers take
the run's estimates and their results as :func:`jaxrefine.refine_files.run_chunks` returns
them (``merged``: each estimate's parameters, status and losses).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from jaxrefine.camera import Camera
from jaxrefine.files import file_in_the_way
from jaxrefine.fit import STATUS_NONFINITE, STATUS_RENDER_FAILED, status_name
from jaxrefine.inputs import ImageSequence, InputError
from jaxrefine.refine import pose_batch


@dataclasses.dataclass(frozen=True)
class Outputs:
    """Which files to write besides ``refined.npz`` and ``report.json``."""

    overlays: bool = True
    video: bool = True
    tracks: bool = True
    obj: bool = False
    ply: bool = False
    fps: float | None = None  # of the tracks' animations (default: the video's, else 30)

    def __post_init__(self):
        if self.fps is not None and not self.fps > 0:
            raise InputError(f"--fps (of the tracks' animations) must be > 0, got {self.fps}")


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


def check_output(out: Path, resume: bool, overwrite: bool, dry_run: bool) -> list[str]:
    """An earlier run's files in ``out`` (:func:`previous_run`) are continued (``resume``) or
    replaced (``overwrite``), never mixed with a new run's (its overlays and tracks would stay
    beside the new ones); returns them. An ``out`` that is a file, or lies under one, is
    refused (it failed when the first chunk was saved, after the people were read)."""
    blocker = out if out.exists() and not out.is_dir() else file_in_the_way(out)
    if blocker is not None:
        raise InputError(f"--out {out}: {blocker} is a file, not a folder")
    if resume and overwrite:
        raise InputError("--resume continues the run in --out, --overwrite replaces it: give "
                         "one")  # fmt: skip
    earlier = previous_run(out)
    if earlier and not (resume or overwrite or dry_run):
        raise InputError(f"{out}: holds an earlier run's {', '.join(earlier)}; give --resume to "
                         "continue it, --overwrite to replace it, or another --out")  # fmt: skip
    return earlier


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


def people_frames(frame_of: np.ndarray, photos: bool, is_video: bool) -> np.ndarray:
    """The images whose ``overlays/<image>_people.png`` (every person of the image at once) a
    run writes: for photos (people found by the run) every image with people; for an estimates
    file's images each image with two people or more (one person's picture is its own
    overlay), none of a video file (``overlays.mp4`` shows its frames)."""
    frames, counts = np.unique(np.asarray(frame_of), return_counts=True)
    if photos:
        return frames
    return np.zeros(0, int) if is_video else frames[counts > 1]


def _label(images: ImageSequence, frame: int, track: int) -> str:
    return f"{images.names[frame]}_{track}"


def _overlay_path(out: Path, images, est, frame_of, i: int) -> Path:
    return out / "overlays" / f"{_label(images, int(frame_of[i]), est.track_id[i])}.png"


def write_overlays(model, images, est, frame_of, merged, out: Path, backend: str) -> None:
    """Before / after overlays (PNG) of the estimates ``merged["index"]`` (``merged`` as
    :func:`jaxrefine.refine_files.run_chunks` returns it): each one's image, initial body,
    refined body, and both seen from the side (:func:`jaxrefine.photo.before_after_people` of
    that one estimate)."""
    from jaxrefine.photo import before_after_people
    from jaxrefine.viz import save_png

    keys = ("global_orient", "body_pose", "betas", "transl")
    for j, i in enumerate(merged["index"].tolist()):
        one = {f"param_{k}": merged[f"param_{k}"][[j]] for k in keys}
        pic = before_after_people(model, images[int(frame_of[i])], est.take([i]), one, [0],
                                  backend=backend, side=True)  # fmt: skip
        save_png(_overlay_path(out, images, est, frame_of, i), pic)


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
    from jaxrefine.inputs.images import ffmpeg_spawned_without_python

    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        with ffmpeg_spawned_without_python():  # no fork-hook warning from JAX
            count = _stream_video(tmp, pictures, fps)
        if not count:
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


def write_merged(model, images, est, frame_of, merged, out, backend, outputs, *, photos,
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
