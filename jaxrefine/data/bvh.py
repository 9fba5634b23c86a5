"""BVH motion files: a small parser and forward kinematics (numpy; file I/O, not traced).

A BVH file has a ``HIERARCHY`` section (joints with an ``OFFSET`` from their parent, a list of
``CHANNELS`` and optional ``End Site`` leaves) and a ``MOTION`` section (``Frames:``,
``Frame Time:`` and one line of channel values per frame). Conventions implemented here:

- Rotation channels are in degrees. A joint's local rotation is the product of its rotation
  channels **in the order they are listed**: ``Zrotation Yrotation Xrotation`` gives
  ``R = Rz(z) @ Ry(y) @ Rx(x)`` (the usual BVH reading; each joint may list its own order).
- Position channels add to the joint's offset (the root's offset is usually zero).
- Global rotation ``G_j = G_parent @ R_j``; global position
  ``p_j = p_parent + G_parent @ (offset_j + translation_j)``. A joint's rotation moves its
  children, so the joint *position* is the pivot of the bone that leaves it.
- Zero rotation is the skeleton's base pose given by the offsets (for the CMU conversion: arms
  straight out sideways, legs angled about 20 degrees outward, Y up, facing +Z).

Malformed files raise ``MocapFileError("<file>:<line>: <what is wrong>")`` (a ValueError):
bad tokens or structure, non-finite numbers or numbers beyond ``MAX_ABS_VALUE``, a frame time
that is not a positive finite number of seconds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
from flax import struct

from jaxrefine.errors import JaxrefineError

# CMU mocap lengths (BVH conversion offsets and ASF/AMC lengths) to metres:
# (1 / 0.45) inch = 0.0254 / 0.45 m (mocap.cs.cmu.edu FAQ).
CMU_UNITS_TO_METRES = 0.056444

# Largest magnitude accepted for any offset or channel value: far beyond any motion-capture
# length (file units) or angle (degrees), small enough that kinematics cannot overflow.
MAX_ABS_VALUE = 1e9
# Frame times accepted, seconds (1 MHz .. 1 frame an hour).
FRAME_TIME_RANGE = (1e-6, 3600.0)
# Deepest joint chain accepted (a body has ~10; bounds the recursive parser).
MAX_DEPTH = 256


class MocapFileError(JaxrefineError, ValueError):
    """A motion-capture file (BVH, ASF, AMC) that does not follow its format; the message
    starts with ``<file>:<line>:``."""


_POSITION_CHANNELS = {"xposition": 0, "yposition": 1, "zposition": 2}
_ROTATION_CHANNELS = {"xrotation": "X", "yrotation": "Y", "zrotation": "Z"}


@struct.dataclass
class Bvh:
    """A parsed BVH file (values as written in the file: lengths in file units, degrees).

    Attributes:
      offsets: (J, 3) joint offsets from the parent joint.
      end_offsets: (J, 3) offset of the joint's ``End Site``; NaN rows for joints without one.
      motion: (F, C) channel values per frame, C = sum of the joints' channel counts.
      joint_names: static, J names in file order (parents before children).
      parents: static, J parent indices, -1 for the root.
      channels: static, per joint the channel names as written (e.g. ``("Zrotation", ...)``).
      frame_time: static, seconds per frame.
      source: static, the file name (for messages).
    """

    offsets: np.ndarray
    end_offsets: np.ndarray
    motion: np.ndarray
    joint_names: tuple[str, ...] = struct.field(pytree_node=False)
    parents: tuple[int, ...] = struct.field(pytree_node=False)
    channels: tuple[tuple[str, ...], ...] = struct.field(pytree_node=False)
    frame_time: float = struct.field(pytree_node=False)
    source: str = struct.field(pytree_node=False, default="<string>")

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def rotation_order(self, joint: int) -> str:
        """The joint's rotation channel order as axis letters, e.g. ``"ZYX"``."""
        return "".join(
            _ROTATION_CHANNELS[c.lower()]
            for c in self.channels[joint]
            if c.lower() in _ROTATION_CHANNELS
        )


class Kinematics(NamedTuple):
    """Global pose of a skeleton over frames (shared by the BVH and ASF/AMC readers).

    Attributes:
      positions: (F, J, 3) joint positions (the pivot of each joint / start of each bone), m.
      rotations: (F, J, 3, 3) global joint rotations relative to the base pose (identity when
        every channel is zero); ``rotations[f, j] @ v`` maps a base-pose direction of joint
        j's bone to its direction in frame f.
      end_positions: (F, J, 3) end of each joint's bone where the file defines one (BVH
        ``End Site``; ASF bone end), NaN elsewhere, m.
      joint_names: J names.
      parents: J parent indices, -1 for the root.
    """

    positions: np.ndarray
    rotations: np.ndarray
    end_positions: np.ndarray
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]


def axis_rotation(axis: str, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about world axis ``"X"``, ``"Y"`` or ``"Z"`` (radians)."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(c), np.zeros_like(c)
    rows = {
        "X": [[o, z, z], [z, c, -s], [z, s, c]],
        "Y": [[c, z, s], [z, o, z], [-s, z, c]],
        "Z": [[c, -s, z], [s, c, z], [z, z, o]],
    }[axis.upper()]
    return np.stack([np.stack(r, -1) for r in rows], -2)


def euler_to_matrix(angles: np.ndarray, axes: str) -> np.ndarray:
    """Product of axis rotations in the listed order: ``R = R_a0(t0) @ R_a1(t1) @ ...``.

    Args:
      angles: (..., k) radians, one per letter of ``axes``.
      axes: k axis letters, e.g. ``"ZYX"`` (BVH channel order).

    Returns:
      (..., 3, 3) rotation matrices.
    """
    angles = np.asarray(angles, dtype=np.float64)
    if angles.shape[-1] != len(axes):
        raise ValueError(f"{len(axes)} axes {axes!r} but angles of shape {angles.shape}")
    R = np.broadcast_to(np.eye(3), (*angles.shape[:-1], 3, 3)).copy()
    for i, a in enumerate(axes):
        R = R @ axis_rotation(a, angles[..., i])
    return R


class _Tokens:
    """Whitespace tokens of the hierarchy section with their line numbers."""

    def __init__(self, lines: list[str], start: int, source: str):
        self.items: list[tuple[str, int]] = []
        self.source = source
        self.motion_line = None
        for n in range(start, len(lines)):
            words = lines[n].split()
            if words and words[0].upper() == "MOTION":
                self.motion_line = n
                break
            self.items += [(w, n + 1) for w in words]
        self.pos = 0

    def error(self, msg: str, line: int | None = None) -> MocapFileError:
        if line is None:
            line = self.items[min(self.pos, len(self.items) - 1)][1] if self.items else 1
        return MocapFileError(f"{self.source}:{line}: {msg}")

    def next(self, what: str) -> tuple[str, int]:
        if self.pos >= len(self.items):
            last = self.items[-1][1] if self.items else 1
            raise self.error(f"unexpected end of hierarchy, expected {what}", last)
        tok = self.items[self.pos]
        self.pos += 1
        return tok

    def expect(self, word: str) -> int:
        tok, line = self.next(repr(word))
        if tok.upper() != word.upper():
            raise self.error(f"expected {word!r}, found {tok!r}", line)
        return line

    def floats(self, k: int, what: str) -> np.ndarray:
        vals = []
        for _ in range(k):
            tok, line = self.next(what)
            try:
                vals.append(float(tok))
            except ValueError:
                raise self.error(f"{what}: {tok!r} is not a number", line) from None
            if not abs(vals[-1]) <= MAX_ABS_VALUE:
                raise self.error(f"{what}: {tok!r} is not a finite number <= {MAX_ABS_VALUE:g}")
        return np.asarray(vals)


def _parse_joint(tk: _Tokens, name: str, parent: int, out: dict, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise tk.error(f"joints nested deeper than {MAX_DEPTH}")
    if name in out["names"]:
        raise tk.error(f"joint name {name!r} used twice")
    index = len(out["names"])
    out["names"].append(name)
    out["parents"].append(parent)
    out["channels"].append(())
    out["offsets"].append(np.zeros(3))
    out["ends"].append(np.full(3, np.nan))
    tk.expect("{")
    tk.expect("OFFSET")
    out["offsets"][index] = tk.floats(3, f"OFFSET of joint {name!r}")
    while True:
        tok, line = tk.next(f"CHANNELS, JOINT, End Site or '}}' in joint {name!r}")
        key = tok.upper()
        if key == "}":
            return
        if key == "CHANNELS":
            count_tok, cline = tk.next("channel count")
            try:
                count = int(count_tok)
            except ValueError:
                raise tk.error(f"channel count {count_tok!r} is not an integer", cline) from None
            if not 0 <= count <= 6:
                raise tk.error(f"joint {name!r} declares {count} channels (0 to 6 allowed)", cline)
            chans = []
            for _ in range(count):
                c, cl = tk.next("channel name")
                if c.lower() not in _POSITION_CHANNELS and c.lower() not in _ROTATION_CHANNELS:
                    raise tk.error(f"unknown channel {c!r} in joint {name!r}", cl)
                chans.append(c)
            if len({c.lower() for c in chans}) != len(chans):
                raise tk.error(f"joint {name!r} repeats a channel: {chans}", cline)
            out["channels"][index] = tuple(chans)
        elif key == "JOINT":
            child, _ = tk.next("joint name")
            _parse_joint(tk, child, index, out, depth + 1)
        elif key == "END":
            tk.expect("Site")
            tk.expect("{")
            tk.expect("OFFSET")
            out["ends"][index] = tk.floats(3, f"End Site OFFSET of joint {name!r}")
            tk.expect("}")
        else:
            raise tk.error(f"unexpected {tok!r} in joint {name!r}", line)


def parse_bvh(text: str, source: str = "<string>") -> Bvh:
    """Parse BVH text.

    Args:
      text: the whole file.
      source: name used in error messages (the file path).

    Returns:
      The parsed :class:`Bvh`.

    Raises:
      MocapFileError: ``"<source>:<line>: ..."`` for malformed input (bad tokens, missing
        sections, non-finite or huge numbers, a frame line with the wrong number of values,
        fewer or more frames than ``Frames:`` declares, a bad frame time).
    """
    lines = text.splitlines()
    out, motion_line = _hierarchy(lines, source)
    num_frames, frame_time, n = _motion_header(lines, motion_line + 1, source)
    width = sum(len(c) for c in out["channels"])
    motion = _frames(lines, n, width, num_frames, source)
    return Bvh(
        offsets=np.asarray(out["offsets"], dtype=np.float64),
        end_offsets=np.asarray(out["ends"], dtype=np.float64),
        motion=motion,
        joint_names=tuple(out["names"]),
        parents=tuple(out["parents"]),
        channels=tuple(out["channels"]),
        frame_time=float(frame_time),
        source=source,
    )


def _hierarchy(lines: list[str], source: str) -> tuple[dict, int]:
    """The HIERARCHY section: the joints' lists (names, parents, channels, offsets, ends) and
    the index of the MOTION line."""
    first = next((i for i, s in enumerate(lines) if s.strip()), None)
    if first is None or lines[first].split()[0].upper() != "HIERARCHY":
        raise MocapFileError(f"{source}:{(first or 0) + 1}: a BVH file starts with 'HIERARCHY'")
    tk = _Tokens(lines, first + 1, source)
    out: dict = {"names": [], "parents": [], "channels": [], "offsets": [], "ends": []}
    tok, line = tk.next("ROOT")
    if tok.upper() != "ROOT":
        raise tk.error(f"expected 'ROOT', found {tok!r}", line)
    name, _ = tk.next("root name")
    _parse_joint(tk, name, -1, out)
    if tk.pos != len(tk.items):
        extra, line = tk.items[tk.pos]
        raise tk.error(f"unexpected {extra!r} after the root joint (one ROOT supported)", line)
    if tk.motion_line is None:
        raise MocapFileError(f"{source}:{len(lines)}: no MOTION section")
    return out, tk.motion_line


def _motion_header(lines: list[str], n: int, source: str) -> tuple[int, float, int]:
    """``Frames:`` and ``Frame Time:`` from line index ``n`` on; returns them and the index of
    the line after them."""
    header = {}
    for key in ("FRAMES:", "FRAME TIME:"):
        while n < len(lines) and not lines[n].strip():
            n += 1
        if n >= len(lines) or not lines[n].strip().upper().startswith(key):
            raise MocapFileError(
                f"{source}:{n + 1}: expected '{key.title()}' in the MOTION section"
            )
        value = lines[n].strip()[len(key) :].strip()
        try:
            header[key] = int(value) if key == "FRAMES:" else float(value)
        except ValueError:
            raise MocapFileError(
                f"{source}:{n + 1}: bad {key[:-1].title()} value {value[:40]!r}"
            ) from None
        n += 1
    num_frames, frame_time = header["FRAMES:"], header["FRAME TIME:"]
    lo, hi = FRAME_TIME_RANGE
    if num_frames < 0 or not lo <= frame_time <= hi:
        raise MocapFileError(
            f"{source}:{n}: need Frames >= 0 and a Frame Time of {lo:g} to {hi:g} seconds, "
            f"found {num_frames} and {frame_time!r}"
        )
    return num_frames, frame_time, n


def _frames(lines: list[str], n: int, width: int, num_frames: int, source: str) -> np.ndarray:
    """The frame lines from index ``n`` on as a (num_frames, width) float64 table, checked:
    each line ``width`` numbers, ``num_frames`` lines, every value finite and not huge."""
    rows, row_lines = [], []
    for k in range(n, len(lines)):
        words = lines[k].split()
        if not words:
            continue
        if len(words) != width:
            raise MocapFileError(
                f"{source}:{k + 1}: frame {len(rows) + 1} has {len(words)} values, the "
                f"hierarchy defines {width} channels"
            )
        rows.append(words)
        row_lines.append(k + 1)
    if len(rows) != num_frames:
        raise MocapFileError(
            f"{source}:{len(lines)}: 'Frames: {num_frames}' declared but {len(rows)} frame "
            "lines found"
        )
    try:
        motion = np.asarray(rows, dtype=np.float64).reshape(num_frames, width)
    except ValueError:
        for words, k in zip(rows, row_lines):
            try:
                np.asarray(words, dtype=np.float64)
            except ValueError:
                raise MocapFileError(f"{source}:{k}: frame line holds a non-number") from None
        raise MocapFileError(f"{source}: frame lines are not a table of numbers") from None
    bad = ~np.all(np.abs(motion) <= MAX_ABS_VALUE, axis=1)  # NaN compares False
    if np.any(bad):
        k = row_lines[int(np.argmax(bad))]
        raise MocapFileError(
            f"{source}:{k}: frame line holds a non-finite value or one beyond {MAX_ABS_VALUE:g}"
        )
    return motion


def load_bvh(path: str | os.PathLike) -> Bvh:
    """Read and parse a BVH file (see :func:`parse_bvh`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise MocapFileError(f"{path}:1: not a text file ({exc.reason})") from None
    return parse_bvh(text, source=str(path))


def forward_kinematics(
    bvh: Bvh, scale: float = CMU_UNITS_TO_METRES, frames: np.ndarray | slice | None = None
) -> Kinematics:
    """Global joint positions and rotations for the selected frames.

    Args:
      bvh: the parsed file.
      scale: file length unit in metres (default: CMU units).
      frames: indices or a slice into the frames; None for all.

    Returns:
      :class:`Kinematics` with positions (F, J, 3) m, rotations (F, J, 3, 3),
      end_positions (F, J, 3) m (NaN for joints without an ``End Site``).
    """
    motion = bvh.motion if frames is None else bvh.motion[frames]
    F, J = motion.shape[0], len(bvh.joint_names)
    pos = np.zeros((F, J, 3))
    rot = np.zeros((F, J, 3, 3))
    ends = np.full((F, J, 3), np.nan)
    col = 0
    for j in range(J):
        chans = [c.lower() for c in bvh.channels[j]]
        vals = motion[:, col : col + len(chans)]
        col += len(chans)
        local_t = np.broadcast_to(bvh.offsets[j], (F, 3)).copy()
        axes, angle_cols = "", []
        for k, c in enumerate(chans):
            if c in _POSITION_CHANNELS:
                local_t[:, _POSITION_CHANNELS[c]] += vals[:, k]
            else:
                axes += _ROTATION_CHANNELS[c]
                angle_cols.append(k)
        local_R = euler_to_matrix(np.deg2rad(vals[:, angle_cols]), axes)
        p = bvh.parents[j]
        if p < 0:
            rot[:, j] = local_R
            pos[:, j] = scale * local_t
        else:
            rot[:, j] = rot[:, p] @ local_R
            pos[:, j] = pos[:, p] + scale * np.einsum("fab,fb->fa", rot[:, p], local_t)
        if np.all(np.isfinite(bvh.end_offsets[j])):
            ends[:, j] = pos[:, j] + scale * rot[:, j] @ bvh.end_offsets[j]
    return Kinematics(pos, rot, ends, bvh.joint_names, bvh.parents)
