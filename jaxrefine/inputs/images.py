"""Images in: a folder, a list of files, or a video file (read with imageio / imageio-ffmpeg).

Frames are float32 RGB in [0, 1], (H, W, 3); greyscale and RGBA inputs are converted, image
files turned upright by their EXIF orientation tag (:func:`decode_image`). Image
files are read when a frame is asked for (a long folder does not fill the memory); a video is
decoded once, frame by frame, and kept in memory as uint8: one that would take more than
:data:`VIDEO_MEMORY_FRACTION` of the machine's memory is refused while decoding, with the way
out (its frames extracted to a folder, which is read lazily).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxrefine.inputs.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
# A decoded video may take this share of the physical memory: the rest is for the fits and
# the renderings (the overlay video is streamed to its file picture by picture, not held)
VIDEO_MEMORY_FRACTION = 0.25
EXIF_ORIENTATION_TAG = 274  # 0x0112, "Orientation" (EXIF 2.32, section 4.6.4)
# Pillow's pixel layouts that are converted to RGB on reading (CMYK as print and stock photos
# are saved, palette, grey with alpha, bilevel, ...): decoded as stored their channels would
# be taken for RGB(A) (a CMYK JPEG has four) or refused. RGB(A) and grey (8 or 16 bit) are
# read as stored, which keeps 16-bit precision (Pillow's conversion would clip it).
CONVERTED_MODES = ("CMYK", "YCbCr", "LAB", "HSV", "P", "PA", "LA", "La", "1", "RGBX", "RGBa")


def physical_memory() -> int | None:
    """Bytes of physical memory (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def to_float_rgb(array: np.ndarray, source: str) -> np.ndarray:
    """(H, W), (H, W, 1|3|4) uint8/uint16/float -> (H, W, 3) float32 in [0, 1]."""
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4) or min(a.shape[:2]) < 1:
        first = a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4)
        hint = " (channels first? transpose it to (H, W, C))" if first else ""
        raise InputError(f"{source}: expected an image (H, W[, 1|3|4]), got shape {a.shape}{hint}")
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, -1)
    a = a[..., :3]
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0
    if np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise InputError(f"{source}: the image holds NaN or inf values")
        return np.clip(a.astype(np.float32), 0.0, 1.0)
    raise InputError(f"{source}: unsupported pixel type {a.dtype}")


def pillow_header(source: bytes | str | os.PathLike) -> tuple[int, str | None]:
    """An image file's (its bytes' or its path's) EXIF orientation tag (274: 1, stored
    upright, to 8) and Pillow's mode (its pixel layout: ``RGB``, ``CMYK``, ``P``, ...), from
    the header only; (1, None) where Pillow cannot read the file (imageio's other plugins
    decode it as stored)."""
    from io import BytesIO

    from PIL import Image

    try:
        with Image.open(BytesIO(source) if isinstance(source, bytes) else source) as img:
            value, mode = img.getexif().get(EXIF_ORIENTATION_TAG, 1), img.mode
    except Exception:  # not Pillow's format, or damaged metadata
        return 1, None
    return (int(value) if value in range(1, 9) else 1), mode


def image_size(path: str | os.PathLike, *, exif: bool = True) -> tuple[int, int]:
    """(H, W) of an image file as :func:`read_image` would read it (turned by its EXIF
    orientation unless ``exif`` is False), from its header where Pillow reads it (else the
    file is decoded)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            w, h = img.size
    except Exception:  # not Pillow's format: decode it
        return tuple(decode_image(path, exif=exif).shape[:2])
    orientation = pillow_header(path)[0] if exif else 1
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)  # those turn by 90 degrees


def decode_image(path: str | os.PathLike, *, exif: bool = True) -> np.ndarray:
    """An image file's pixels, (H, W[, C]) of its own type; layouts that are not RGB(A) or
    grey (:data:`CONVERTED_MODES`: CMYK, palette, grey with alpha, ...) converted to RGB;
    with ``exif`` turned upright by the EXIF orientation tag (a phone's portrait photo is
    stored on its side with a tag that says so), as photo viewers and OpenCV's
    ``cv2.imread`` show it, so the field's regressors and keypoint detectors, which read
    images with OpenCV, saw the same pixels.

    Raises:
      InputError: the file is missing or not a readable image (naming it).
    """
    import imageio.v3 as iio

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder, not an image file")
    if not path.is_file():
        raise InputError(f"{path}: no such image file")
    ext = path.suffix.lower() or None
    try:  # read the bytes ourselves: imageio leaks its file handle on a corrupt file
        data = path.read_bytes()
        orientation, mode = pillow_header(data)
        turn, convert = exif and orientation > 1, mode in CONVERTED_MODES
        if turn or convert:  # Pillow turns and converts (imageio's options)
            return np.asarray(iio.imread(data, extension=ext, plugin="pillow", rotate=turn,
                                         mode="RGB" if convert else None))  # fmt: skip
        return np.asarray(iio.imread(data, extension=ext))
    except Exception as exc:  # imageio raises many types for broken files
        raise InputError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from exc


def read_image(path: str | os.PathLike, *, exif: bool = True) -> np.ndarray:
    """One image file -> (H, W, 3) float32 in [0, 1], upright by its EXIF orientation unless
    ``exif`` is False (:func:`decode_image`); :class:`InputError` if unreadable."""
    return to_float_rgb(decode_image(path, exif=exif), str(path))


@dataclasses.dataclass(frozen=True)
class ImageSequence:
    """Frames of one source.

    Attributes:
      names: (N,) frame names (file stems, or ``frame_000123`` for videos).
      source: the folder, file list description or video path.
      fps: frames per second of a video (None for images).
      paths: image paths (None for a video).
      frames: decoded video frames, (H, W, 3) uint8 (a quarter of float32's memory; None
        for images).
      exif: images are turned upright by their EXIF orientation tags (:func:`decode_image`);
        False: taken as stored (for keypoints or estimates made on the stored pixels).
      selection: the frames chosen from the source (``--frames``, :func:`parse_frames`), or
        None for all of them; ``indices`` then holds each frame's place in the whole source
        and ``all_paths`` the whole source's files (None for a video: not all decoded).
      order_doubt: for a folder sorted by name whose names number the frames without leading
        zeros, the first two files that name and number put in another order, e.g.
        ``("frame_10.png", "frame_2.png")`` (:func:`order_doubt`); None when the two orders
        agree or the order was chosen (``order``).
    """

    names: tuple[str, ...]
    source: str
    fps: float | None = None
    paths: tuple[Path, ...] | None = None
    frames: tuple[np.ndarray, ...] | None = None
    exif: bool = True
    selection: slice | None = None
    indices: tuple[int, ...] | None = None
    all_paths: tuple[Path, ...] | None = None
    order_doubt: tuple[str, str] | None = None

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i: int) -> np.ndarray:
        """Frame ``i`` as (H, W, 3) float32 in [0, 1]."""
        if self.frames is not None:
            return self.frames[i].astype(np.float32) / np.float32(255.0)
        return read_image(self.paths[i], exif=self.exif)

    @property
    def is_video(self) -> bool:
        return self.frames is not None


def frame_size(images: ImageSequence, i: int) -> tuple[int, int]:
    """(H, W) of frame ``i`` as the run reads it, without decoding an image file (its header,
    :func:`image_size`; a video's frames are in memory)."""
    if images.frames is not None:
        return tuple(images.frames[i].shape[:2])
    return image_size(images.paths[i], exif=images.exif)


def parse_frames(spec: str) -> slice:
    """``--frames START:STOP[:STEP]`` (Python's slice of the source's frames, counted from 0;
    any part may be left out, e.g. ``:100`` or ``::5``) as a slice.

    Raises:
      InputError: not of that form, a negative number, or a step of 0.
    """
    parts = spec.split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        start, stop, step = (int(x) if x.strip() else None for x in (*parts, "")[:3])
    except ValueError:
        raise InputError(f"--frames {spec!r}: expected START:STOP or START:STOP:STEP, frames "
                         "counted from 0 (e.g. 0:100, 250:, ::5)") from None  # fmt: skip
    if any(x is not None and x < 0 for x in (start, stop, step)) or step == 0:
        raise InputError(f"--frames {spec!r}: frames and step are counted from 0, upwards")
    return slice(start, stop, step)


def _selected(k: int, selection: slice | None) -> bool:
    """Whether frame ``k`` of a source is among ``selection``'s (None: all)."""
    if selection is None:
        return True
    start, stop, step = selection.start or 0, selection.stop, selection.step or 1
    return k >= start and (stop is None or k < stop) and (k - start) % step == 0


FFMPEG_PREEXEC_SWITCH = "IMAGEIO_FFMPEG_NO_PREVENT_SIGINT"


@contextlib.contextmanager
def ffmpeg_spawned_without_python():
    """Within: imageio-ffmpeg starts ffmpeg without a ``preexec_fn``. By default it passes
    ``os.setpgrp`` (to keep Ctrl-C from reaching ffmpeg), so the child runs Python between
    fork and exec, Python calls its fork hooks, and JAX's hook warns on every video read or
    written that "os.fork() ... will likely lead to a deadlock" (imageio-ffmpeg's issue #58
    reports such hangs; its switch :data:`FFMPEG_PREEXEC_SWITCH` drops the function). Ctrl-C
    then reaches ffmpeg as well, which ends a run as it ends ours. A value the user set stays."""
    before = os.environ.get(FFMPEG_PREEXEC_SWITCH)
    os.environ.setdefault(FFMPEG_PREEXEC_SWITCH, "1")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(FFMPEG_PREEXEC_SWITCH, None)


def _read_video(path: Path, max_frames: int | None, budget: int | None,
                selection: slice | None = None) -> ImageSequence:  # fmt: skip
    with ffmpeg_spawned_without_python():
        return _read_video_frames(path, max_frames, budget, selection)


def _read_video_frames(path: Path, max_frames: int | None, budget: int | None,
                       selection: slice | None) -> ImageSequence:  # fmt: skip
    import imageio.v3 as iio

    stop = None if selection is None else selection.stop
    try:
        meta = iio.immeta(path)
        frames, ks, used = [], [], 0
        with iio.imopen(path, "r") as video:  # closed here, also after an early stop
            for k, frame in enumerate(video.iter()):
                if (max_frames is not None and k >= max_frames) or (stop is not None and k >= stop):
                    break
                if not _selected(k, selection):
                    continue
                rgb = to_float_rgb(frame, f"{path} frame {k}")  # checks shape and type
                frames.append(np.round(rgb * 255.0).astype(np.uint8))
                ks.append(k)
                used += frames[-1].nbytes
                if budget is not None and used > budget:
                    raise _too_long(path, len(frames), frames[-1].shape, budget)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: not a readable video ({type(exc).__name__}: {exc})") from exc
    if not frames:
        raise InputError(f"{path}: the video has no frames" if selection is None else
                         f"{path}: --frames selects none of the video's frames")  # fmt: skip
    fps = float(meta["fps"]) if meta.get("fps") else None
    if fps and selection is not None:
        fps /= selection.step or 1  # the chosen frames, played in the same time
    return ImageSequence(tuple(f"frame_{k:06d}" for k in ks), str(path), fps,
                         frames=tuple(frames), selection=selection,
                         indices=None if selection is None else tuple(ks))  # fmt: skip


def _files(paths: tuple[Path, ...], source: str, exif: bool, selection,
           doubt: tuple[str, str] | None = None) -> ImageSequence:  # fmt: skip
    names = tuple(p.stem for p in paths)
    if selection is None:
        return ImageSequence(names, source, paths=paths, exif=exif, order_doubt=doubt)
    if doubt is not None:
        raise InputError(order_error(source, doubt, "--frames counts them in one of them"))
    keep = range(len(paths))[selection]
    if not len(keep):
        raise InputError(f"{source}: --frames selects none of its {len(paths)} images")
    return ImageSequence(tuple(names[k] for k in keep), source,
                         paths=tuple(paths[k] for k in keep), exif=exif, selection=selection,
                         indices=tuple(keep), all_paths=paths)  # fmt: skip


IMAGE_ORDERS = ("name", "number")  # a folder's images sorted by name, or by the numbers in it


def number_key(path: Path) -> tuple[list, str]:
    """Sort key of a file name whose runs of digits compare as numbers (``frame_2`` before
    ``frame_10``); names equal as numbers (``f01``, ``f1``) by name."""
    parts = re.split(r"(\d+)", path.name)  # text, digits, text, ...: the kinds line up
    return [int(x) if k % 2 else x for k, x in enumerate(parts)], path.name


def order_doubt(paths: Sequence[Path]) -> tuple[str, str] | None:
    """For ``paths`` sorted by name: the first place where the order by the numbers in the
    names (:func:`number_key`) differs, as (the file there by name, the file there by
    number), e.g. ``("frame_10.png", "frame_2.png")``; None when both orders agree (numbers
    with leading zeros, or none)."""
    for by_name, by_number in zip(paths, sorted(paths, key=number_key)):
        if by_name != by_number:
            return by_name.name, by_number.name
    return None


def order_error(source: str, doubt: tuple[str, str], what: str) -> str:
    """The message refusing what depends on the frames' order (``what``, a clause: "the
    frame indices of est.npz count them in one of them") for a folder whose order is in
    doubt (:func:`order_doubt`), with the way out."""
    first, second = doubt
    return (
        f"{source}: its image names number the frames without leading zeros, so {first} "
        f"comes before {second} by name and after it by number; {what}: give "
        "--image-order number (by the numbers in the names, as a video's frames written by "
        "ffmpeg's %d) or --image-order name (as sorted() lists them, for a program that read "
        "this folder that way); or rename the files with leading zeros (frame_000002.png)"
    )


def _too_long(path: Path, frames: int, shape, budget: int) -> InputError:
    h, w = shape[:2]
    return InputError(
        f"{path}: more than {frames - 1} frames of {w}x{h} do not fit in the "
        f"{budget / 2**30:.1f} GB a video may take in memory here; extract its frames to a "
        f"folder (ffmpeg -i {path.name} -start_number 0 frames/frame_%06d.png: the video's own "
        "frame names), which is read frame by frame, and refine the folder (photos without "
        "--estimates: with --video); or refine part of it: --frames START:STOP"
    )


def read_images(
    source: str | os.PathLike | Sequence[str | os.PathLike],
    max_frames: int | None = None,
    memory_budget: int | None = -1,
    exif: bool = True,
    frames: slice | None = None,
    order: str | None = None,
) -> ImageSequence:
    """Images from a folder (sorted by name), an explicit list of files, or a video file.

    ``order``: a folder's images sorted by ``"name"`` or by the ``"number"`` in their names
    (:func:`number_key`); None: by name, and where the two orders differ the sequence records
    it (``order_doubt``) for the caller to refuse what depends on the order (``frames`` is
    refused here).

    ``memory_budget``: bytes a decoded video may take (-1: :data:`VIDEO_MEMORY_FRACTION` of the
    physical memory; None: no limit). ``exif``: image files are turned upright by their EXIF
    orientation (:func:`decode_image`; a video's rotation is applied by ffmpeg's decoder).
    ``frames``: only these of the source's frames (:func:`parse_frames`; a video is decoded
    up to the last of them, and keeps only them in memory; its frame names stay the
    video's numbers).

    An :class:`ImageSequence` given as ``source`` is returned as it is.

    Raises:
      InputError: missing source, a folder without images, an unreadable video or one over
        the memory budget, a list entry that is not an image file, ``frames`` of a folder
        whose order is in doubt, an unknown ``order``. Unreadable image files in a folder or
        list are reported when their frame is read (:func:`read_image` names the file).
    """
    if isinstance(source, ImageSequence):
        return source
    if order not in (None, *IMAGE_ORDERS):
        raise InputError(f"image order {order!r}: expected one of {', '.join(IMAGE_ORDERS)}")
    if isinstance(source, (list, tuple)):
        paths = tuple(Path(p) for p in source)
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise InputError(f"image files not found: {', '.join(missing[:5])}")
        if not paths:
            raise InputError("an empty list of images was given")
        return _files(paths, f"{len(paths)} files", exif, frames)
    path = Path(source)
    if path.is_dir():
        key = number_key if order == "number" else None
        paths = tuple(sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                             key=key))  # fmt: skip
        if not paths:
            raise InputError(f"{path}: no image files ({', '.join(IMAGE_SUFFIXES)}) in the folder")
        doubt = order_doubt(paths) if order is None else None
        if max_frames is not None:
            paths = paths[:max_frames]
        return _files(paths, str(path), exif, frames, doubt)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        if memory_budget == -1:
            total = physical_memory()
            memory_budget = None if total is None else int(VIDEO_MEMORY_FRACTION * total)
        return _read_video(path, max_frames, memory_budget, frames)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _files((path,), str(path), exif, frames)
    raise InputError(
        f"{path}: expected a folder of images, an image ({', '.join(IMAGE_SUFFIXES)}) or a "
        f"video ({', '.join(VIDEO_SUFFIXES)})"
    )


def turned_upright(images: ImageSequence) -> list[str]:
    """The names of ``images``' files that their EXIF orientation turns (none when the
    sequence takes them as stored, or for a video); reads the files' headers only."""
    if not images.exif or images.paths is None:
        return []
    return [n for n, p in zip(images.names, images.paths) if pillow_header(p)[0] > 1]
