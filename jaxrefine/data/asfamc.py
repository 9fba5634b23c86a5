"""Acclaim ASF (skeleton) / AMC (motion) files: a small parser and forward kinematics (numpy).

ASF conventions implemented here (as used by the CMU database):

- ``:units`` gives ``length`` (CMU: 0.45; one file unit is ``1 / length`` inch, so metres =
  value * 0.0254 / length = value * 0.056444) and ``angle`` (``deg`` or ``rad``).
- ``:root`` gives the root's channel ``order`` (e.g. ``TX TY TZ RX RY RZ``), its ``axis`` order,
  ``position`` and ``orientation``.
- Each bone has a ``direction`` (unit vector in the world frame of the base pose), a
  ``length``, an ``axis`` frame ``a b c XYZ`` (Euler angles of the bone's local frame, applied in
  the listed order) and a ``dof`` subset of ``rx ry rz`` (values in that order in the AMC).
- Euler angles listed in order ``XYZ`` are applied x first: ``R = Rz(c) @ Ry(b) @ Rx(a)``.
- Bone global rotation ``L_b = L_parent @ C_b @ M_b @ C_b^T`` with ``C_b`` the axis frame and
  ``M_b`` the AMC rotation about the bone's own axes; bone start = parent's end (root: root
  position), bone end = start + ``L_b @ direction * length``. Zero dofs give the base pose
  (CMU: arms straight out sideways, legs angled about 20 degrees outward, Y up, facing +Z).

AMC files list, per frame, a frame number line and one line per bone with its dof values.
Malformed input raises :class:`~jaxrefine.data.bvh.MocapFileError` (a ValueError) with the
message ``"<file>:<line>: <what is wrong>"``; numbers must be finite and no larger than
``MAX_ABS_VALUE``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from flax import struct

from jaxrefine.data.bvh import MAX_ABS_VALUE, Kinematics, MocapFileError, euler_to_matrix

_INCH = 0.0254  # metres
_ROT_DOFS = ("rx", "ry", "rz")
_TRANS_DOFS = ("tx", "ty", "tz")
# Accepted ``:units length`` values (CMU 0.45): one file unit is 1 / length inch.
LENGTH_UNIT_RANGE = (1e-6, 1e6)
_INT64 = np.iinfo(np.int64)
_SECTIONS = (":version", ":name", ":units", ":documentation", ":root", ":bonedata", ":hierarchy")


@struct.dataclass
class Asf:
    """A parsed ASF skeleton; bones in parent-before-child order, the root first.

    Attributes:
      directions: (J, 3) unit bone directions in the base pose (root row zero).
      lengths: (J,) bone lengths in file units (root 0).
      axes: (J, 3) Euler angles (radians) of each bone's local axis frame; root: orientation.
      root_position: (3,) root position in file units.
      bone_names: static, J names, ``"root"`` first.
      parents: static, J parent indices (-1 for the root).
      axis_orders: static, per bone the axis order of ``axes`` (e.g. ``"XYZ"``).
      dofs: static, per bone its dof names in AMC value order (root: the ``order`` line,
        lower case, e.g. ``("tx", "ty", "tz", "rx", "ry", "rz")``).
      length_unit: static, the ``:units length`` value (CMU 0.45).
      angle_unit: static, ``"deg"`` or ``"rad"``.
      source: static, the file name.
    """

    directions: np.ndarray
    lengths: np.ndarray
    axes: np.ndarray
    root_position: np.ndarray
    bone_names: tuple[str, ...] = struct.field(pytree_node=False)
    parents: tuple[int, ...] = struct.field(pytree_node=False)
    axis_orders: tuple[str, ...] = struct.field(pytree_node=False)
    dofs: tuple[tuple[str, ...], ...] = struct.field(pytree_node=False)
    length_unit: float = struct.field(pytree_node=False, default=0.45)
    angle_unit: str = struct.field(pytree_node=False, default="deg")
    source: str = struct.field(pytree_node=False, default="<string>")

    @property
    def metres_per_unit(self) -> float:
        """Metres per file length unit: ``0.0254 / length`` (CMU: 0.056444)."""
        return _INCH / self.length_unit


@struct.dataclass
class Amc:
    """Motion of an ASF skeleton.

    Attributes:
      values: (F, C) dof values per frame as written (angles in the file's unit, translations
        in file length units); columns follow ``columns``.
      frame_numbers: (F,) the frame numbers written in the file.
      columns: static, per column ``(bone, dof)``, bones in the skeleton's order.
      degrees: static, True when angles are in degrees (``:DEGREES``; the default).
      source: static, the file name.
    """

    values: np.ndarray
    frame_numbers: np.ndarray
    columns: tuple[tuple[str, str], ...] = struct.field(pytree_node=False)
    degrees: bool = struct.field(pytree_node=False, default=True)
    source: str = struct.field(pytree_node=False, default="<string>")

    @property
    def num_frames(self) -> int:
        return int(self.values.shape[0])


def _floats(words: list[str], k: int, what: str, where: str) -> np.ndarray:
    """The first ``k`` words as finite numbers no larger than ``MAX_ABS_VALUE``."""
    if len(words) < k:
        raise MocapFileError(f"{where}: {what} needs {k} numbers, found {len(words)}")
    try:
        vals = np.asarray([float(w) for w in words[:k]])
    except ValueError:
        raise MocapFileError(
            f"{where}: {what} holds a non-number: {' '.join(words[:k])[:80]}"
        ) from None
    if not np.all(np.abs(vals) <= MAX_ABS_VALUE):  # NaN compares False
        raise MocapFileError(
            f"{where}: {what} holds a non-finite number or one beyond {MAX_ABS_VALUE:g}"
        )
    return vals


class _AsfReader:
    """Line-by-line state of :func:`parse_asf`: one small method per section."""

    def __init__(self, source: str):
        self.source = source
        self.section: str | None = None
        self.units = {"length": 1.0, "angle": "deg"}
        self.root = {"order": None, "axis": "XYZ", "position": np.zeros(3),
                     "orientation": np.zeros(3)}  # fmt: skip
        self.bones: dict[str, dict] = {}  # finished bone blocks by name, in file order
        self.bone: dict | None = None  # the bone block being read
        self.in_limits = False
        self.children: dict[str, list[str]] = {}
        self.hierarchy_lines: dict[str, int] = {}  # bone -> line naming its parent
        self.in_hierarchy_block = False

    def feed(self, n: int, raw: str) -> None:
        """Read line ``n`` (1-based) of the file."""
        where = f"{self.source}:{n}"
        line = raw.split("#", 1)[0].strip()
        if not line:
            return
        words = line.split()
        if words[0].startswith(":"):
            self.section, self.in_limits = words[0].lower(), False
            if self.section not in _SECTIONS:
                raise MocapFileError(f"{where}: unknown ASF section {words[0][:40]!r}")
            return
        if self.section is None:
            raise MocapFileError(f"{where}: text before the first ASF section: {line[:40]!r}")
        handler = {
            ":units": self._units, ":root": self._root, ":bonedata": self._bonedata,
            ":hierarchy": self._hierarchy,
        }.get(self.section)  # fmt: skip
        if handler is not None:  # :version, :name and :documentation are free text
            handler(words, where, n)

    def _units(self, words: list[str], where: str, n: int) -> None:
        key = words[0].lower()
        if key == "length":
            value = float(_floats(words[1:], 1, "length unit", where)[0])
            lo, hi = LENGTH_UNIT_RANGE
            if not lo <= value <= hi:
                raise MocapFileError(f"{where}: length unit must be between {lo:g} and {hi:g}")
            self.units["length"] = value
        elif key == "angle":
            if len(words) < 2 or words[1].lower() not in ("deg", "rad"):
                raise MocapFileError(f"{where}: angle unit must be 'deg' or 'rad'")
            self.units["angle"] = words[1].lower()
        # mass and other units are not used

    def _root(self, words: list[str], where: str, n: int) -> None:
        key = words[0].lower()
        if key == "order":
            order = tuple(w.lower() for w in words[1:])
            bad = [w for w in order if w not in _ROT_DOFS + _TRANS_DOFS]
            if bad or len(set(order)) != len(order) or not order:
                raise MocapFileError(f"{where}: bad root order {' '.join(words[1:])[:60]!r}")
            self.root["order"] = order
        elif key == "axis":
            if len(words) < 2 or sorted(words[1].upper()) != ["X", "Y", "Z"]:
                raise MocapFileError(f"{where}: root axis must be a permutation of XYZ")
            self.root["axis"] = words[1].upper()
        elif key in ("position", "orientation"):
            self.root[key] = _floats(words[1:], 3, f"root {key}", where)
        else:
            raise MocapFileError(f"{where}: unknown root field {words[0][:40]!r}")

    def _bonedata(self, words: list[str], where: str, n: int) -> None:
        key = words[0].lower()
        if key == "begin":
            if self.bone is not None:
                raise MocapFileError(f"{where}: 'begin' inside a bone (missing 'end')")
            self.bone, self.in_limits = {"line": n, "dof": ()}, False
        elif key == "end":
            self._end_bone(where)
        elif self.bone is None:
            raise MocapFileError(f"{where}: {words[0][:40]!r} outside a begin/end bone block")
        elif key in _BONE_FIELDS:
            _BONE_FIELDS[key](self.bone, words, where)
            self.in_limits = key == "limits"
        elif key in ("id", "bodymass", "cofmass") or (key.startswith("(") and self.in_limits):
            pass
        else:
            raise MocapFileError(f"{where}: unknown bone field {words[0][:40]!r}")

    def _end_bone(self, where: str) -> None:
        bone = self.bone
        if bone is None:
            raise MocapFileError(f"{where}: 'end' without 'begin'")
        for field in ("name", "direction", "length", "axis"):
            if field not in bone:
                raise MocapFileError(
                    f"{self.source}:{bone['line']}: bone block has no {field!r} line"
                )
        if bone["name"] in self.bones or bone["name"] == "root":
            raise MocapFileError(f"{where}: bone {bone['name']!r} defined twice")
        self.bones[bone["name"]] = bone
        self.bone, self.in_limits = None, False

    def _hierarchy(self, words: list[str], where: str, n: int) -> None:
        key = words[0].lower()
        if key in ("begin", "end"):
            self.in_hierarchy_block = key == "begin"
            return
        if not self.in_hierarchy_block:
            raise MocapFileError(f"{where}: hierarchy line outside begin/end")
        parent = words[0]
        for name in words:
            if name not in self.bones and not (name == "root" == parent):
                raise MocapFileError(f"{where}: hierarchy names unknown bone {name[:40]!r}")
        for c in words[1:]:
            if c in self.hierarchy_lines:
                raise MocapFileError(f"{where}: bone {c!r} has two parents")
            self.hierarchy_lines[c] = n
            self.children.setdefault(parent, []).append(c)

    def finish(self) -> None:
        """Checks that need the whole file."""
        if self.bone is not None:
            raise MocapFileError(f"{self.source}:{self.bone['line']}: bone block without 'end'")
        if self.root["order"] is None:
            raise MocapFileError(f"{self.source}:1: no ':root' section with an 'order' line")
        missing = [b for b in self.bones if b not in self.hierarchy_lines]
        if missing:
            raise MocapFileError(f"{self.source}:1: bones missing from ':hierarchy': {missing}")


def _bone_name(bone: dict, words: list[str], where: str) -> None:
    if len(words) != 2:
        raise MocapFileError(f"{where}: bone name must be one word")
    bone["name"] = words[1]


def _bone_direction(bone: dict, words: list[str], where: str) -> None:
    d = _floats(words[1:], 3, "direction", where)
    norm = np.linalg.norm(d)
    if not norm > 0:
        raise MocapFileError(f"{where}: bone direction is zero")
    bone["direction"] = d / norm


def _bone_length(bone: dict, words: list[str], where: str) -> None:
    bone["length"] = float(_floats(words[1:], 1, "length", where)[0])
    if bone["length"] < 0:
        raise MocapFileError(f"{where}: negative bone length")


def _bone_axis(bone: dict, words: list[str], where: str) -> None:
    bone["axis"] = _floats(words[1:], 3, "axis", where)
    order = words[4].upper() if len(words) > 4 else "XYZ"
    if sorted(order) != ["X", "Y", "Z"]:
        raise MocapFileError(f"{where}: axis order {order[:40]!r} is not a permutation of XYZ")
    bone["axis_order"] = order


def _bone_dof(bone: dict, words: list[str], where: str) -> None:
    dof = tuple(w.lower() for w in words[1:])
    if any(w not in _ROT_DOFS for w in dof) or len(set(dof)) != len(dof):
        raise MocapFileError(
            f"{where}: unsupported bone dof {' '.join(words[1:])[:60]!r} (rx, ry, rz supported)"
        )
    bone["dof"] = dof


_BONE_FIELDS = {
    "name": _bone_name, "direction": _bone_direction, "length": _bone_length,
    "axis": _bone_axis, "dof": _bone_dof, "limits": lambda bone, words, where: None,
}  # fmt: skip


def _bone_tree(reader: _AsfReader) -> tuple[list[str], list[int]]:
    """Bones in parent-before-child order from the root (depth first), with parent indices.

    Raises MocapFileError for cycles and bones not connected to the root."""
    source = reader.source
    names, parents = ["root"], [-1]
    stack = [(c, 0) for c in reversed(reader.children.get("root", []))]
    while stack:
        name, parent = stack.pop()
        if name in names:
            line = reader.hierarchy_lines[name]
            raise MocapFileError(f"{source}:{line}: cycle through bone {name!r}")
        names.append(name)
        parents.append(parent)
        idx = len(names) - 1
        stack += [(c, idx) for c in reversed(reader.children.get(name, []))]
    if len(names) != len(reader.bones) + 1:
        unreached = [b for b in reader.bones if b not in names]
        raise MocapFileError(
            f"{source}:{reader.hierarchy_lines[unreached[0]]}: bones not connected to the root: "
            f"{unreached}"
        )
    return names, parents


def _assemble(reader: _AsfReader, names: list[str], parents: list[int]) -> Asf:
    """The :class:`Asf` of a finished reader, angles converted to radians."""
    to_rad = np.pi / 180.0 if reader.units["angle"] == "deg" else 1.0
    root = reader.root
    directions = np.zeros((len(names), 3))
    lengths = np.zeros(len(names))
    axes = np.zeros((len(names), 3))
    axis_orders, dofs = [root["axis"]], [root["order"]]
    axes[0] = root["orientation"] * to_rad
    for i, name in enumerate(names[1:], start=1):
        b = reader.bones[name]
        directions[i], lengths[i], axes[i] = b["direction"], b["length"], b["axis"] * to_rad
        axis_orders.append(b["axis_order"])
        dofs.append(b["dof"])
    return Asf(
        directions=directions,
        lengths=lengths,
        axes=axes,
        root_position=np.asarray(root["position"], dtype=np.float64),
        bone_names=tuple(names),
        parents=tuple(parents),
        axis_orders=tuple(axis_orders),
        dofs=tuple(dofs),
        length_unit=float(reader.units["length"]),
        angle_unit=reader.units["angle"],
        source=reader.source,
    )


def parse_asf(text: str, source: str = "<string>") -> Asf:
    """Parse ASF text into an :class:`Asf` (see the module docstring for conventions).

    Reads the sections line by line (:class:`_AsfReader`), orders the bones from the root
    (:func:`_bone_tree`) and assembles the arrays (:func:`_assemble`).

    Raises:
      MocapFileError: ``"<source>:<line>: ..."`` for malformed input (unknown sections, missing
        bone fields, bad, non-finite or huge numbers, unknown dofs, hierarchy naming unknown
        bones or cycles).
    """
    reader = _AsfReader(source)
    for n, raw in enumerate(text.splitlines(), start=1):
        reader.feed(n, raw)
    reader.finish()
    names, parents = _bone_tree(reader)
    return _assemble(reader, names, parents)


def parse_amc(text: str, asf: Asf, source: str = "<string>") -> Amc:
    """Parse AMC text against its skeleton.

    Every frame must give each bone that has dofs exactly once, with one value per dof.

    Raises:
      MocapFileError: ``"<source>:<line>: ..."`` for unknown bones, wrong value counts,
        non-numbers, non-finite or huge values, frame numbers beyond int64, bone lines before
        the first frame number, missing or repeated bones.
    """
    layout, columns, width = _amc_layout(asf)
    degrees = asf.angle_unit == "deg"
    rows, numbers = [], []
    current, seen, frame_line = None, set(), 0
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            units = {":DEGREES": True, ":RADIANS": False}
            degrees = units.get(line.split()[0].upper(), degrees)
            continue
        words = line.split()
        if len(words) == 1:
            number = _frame_number(line, source, n)
            _check_frame_complete(current, seen, layout, numbers, f"{source}:{frame_line}")
            current = np.zeros(width)
            rows.append(current)
            numbers.append(number)
            seen, frame_line = set(), n
            continue
        if current is None:
            raise MocapFileError(f"{source}:{n}: bone line before the first frame number")
        start, values = _bone_values(words, layout, asf, seen, numbers[-1], f"{source}:{n}")
        current[start : start + len(values)] = values
        seen.add(words[0])
    _check_frame_complete(current, seen, layout, numbers, f"{source}:{frame_line}")
    return Amc(
        values=np.asarray(rows, dtype=np.float64).reshape(len(rows), width),
        frame_numbers=np.asarray(numbers, dtype=np.int64),
        columns=tuple(columns),
        degrees=degrees,
        source=source,
    )


def _amc_layout(asf: Asf) -> tuple[dict, list, int]:
    """Where each bone's dofs sit in a frame row: {bone: (start, count)}, the (bone, dof)
    column names and the row width."""
    layout, columns, width = {}, [], 0
    for name, dof in zip(asf.bone_names, asf.dofs):
        if dof:
            layout[name] = (width, len(dof))
            columns += [(name, d) for d in dof]
            width += len(dof)
    return layout, columns, width


def _frame_number(line: str, source: str, n: int) -> int:
    """A frame number line's value, checked to be an integer within int64."""
    try:
        number = int(line)
    except ValueError:
        raise MocapFileError(
            f"{source}:{n}: expected a frame number, found {line[:40]!r}"
        ) from None
    if not _INT64.min <= number <= _INT64.max:
        raise MocapFileError(f"{source}:{n}: frame number {line[:40]} is out of range")
    return number


def _check_frame_complete(current, seen: set, layout: dict, numbers: list, where: str) -> None:
    """The frame just read (if any) gave every bone with dofs."""
    if current is not None and len(seen) != len(layout):
        missing = sorted(set(layout) - seen)
        raise MocapFileError(f"{where}: frame {numbers[-1]} lacks bones {missing}")


def _bone_values(words, layout: dict, asf: Asf, seen: set, frame: int, where: str):
    """A bone line's (start column, values), checked: a known bone, not yet in this frame,
    one finite, not huge number per dof."""
    name = words[0]
    if name not in layout:
        raise MocapFileError(f"{where}: unknown bone {name!r} (not in {asf.source})")
    if name in seen:
        raise MocapFileError(f"{where}: bone {name!r} given twice in frame {frame}")
    start, count = layout[name]
    if len(words) - 1 != count:
        raise MocapFileError(
            f"{where}: bone {name!r} has {len(words) - 1} values, its dofs "
            f"{asf.dofs[asf.bone_names.index(name)]} need {count}"
        )
    try:
        values = np.asarray([float(w) for w in words[1:]])
    except ValueError:
        raise MocapFileError(f"{where}: bone {name!r} holds a non-number") from None
    if not np.all(np.abs(values) <= MAX_ABS_VALUE):
        raise MocapFileError(
            f"{where}: bone {name!r} holds a non-finite value or one beyond {MAX_ABS_VALUE:g}"
        )
    return start, values


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return path.read_text(encoding="latin-1")


def load_asf(path: str | os.PathLike) -> Asf:
    """Read and parse an ASF file."""
    path = Path(path)
    return parse_asf(_read_text(path), source=str(path))


def load_amc(path: str | os.PathLike, asf: Asf) -> Amc:
    """Read and parse an AMC file of the skeleton ``asf``."""
    path = Path(path)
    return parse_amc(_read_text(path), asf, source=str(path))


def _order_matrix(angles: np.ndarray, order: str) -> np.ndarray:
    """Euler angles (..., 3) listed for axes ``order``, applied first-listed first."""
    return euler_to_matrix(angles[..., ::-1], order[::-1])


def forward_kinematics(
    asf: Asf,
    amc: Amc | None = None,
    scale: float | None = None,
    frames: np.ndarray | slice | None = None,
) -> Kinematics:
    """Global bone start/end positions and rotations.

    Args:
      asf: the skeleton.
      amc: its motion, or None for the base pose (one frame, all dofs zero, root at
        ``root_position``).
      scale: metres per file unit; None derives it from ``:units length`` (CMU 0.056444).
      frames: indices or a slice into the AMC frames; None for all.

    Returns:
      :class:`~jaxrefine.data.bvh.Kinematics`: positions (F, J, 3) bone starts (root: root
      position) in m, rotations (F, J, 3, 3) global bone rotations ``L_b``, end_positions
      (F, J, 3) bone ends in m.
    """
    scale = asf.metres_per_unit if scale is None else scale
    if amc is None:
        values = np.zeros((1, 0))
        index = {}
        degrees = True
    else:
        values = amc.values if frames is None else amc.values[frames]
        index = {c: k for k, c in enumerate(amc.columns)}
        degrees = amc.degrees
    F, J = values.shape[0], len(asf.bone_names)
    to_rad = np.pi / 180.0 if degrees else 1.0

    def dof_values(bone: str, names: tuple[str, ...]) -> np.ndarray:
        out = np.zeros((F, len(names)))
        for k, d in enumerate(names):
            if (bone, d) in index:
                out[:, k] = values[:, index[(bone, d)]]
        return out

    pos = np.zeros((F, J, 3))
    rot = np.zeros((F, J, 3, 3))
    ends = np.zeros((F, J, 3))
    for j, name in enumerate(asf.bone_names):
        dofs = asf.dofs[j]
        vals = dof_values(name, dofs)
        rot_names = [d for d in dofs if d in _ROT_DOFS]
        if rot_names:
            angles = np.stack([vals[:, dofs.index(d)] for d in rot_names], -1) * to_rad
            order = "".join(d[1].upper() for d in rot_names)
            M = _order_matrix(angles, order)  # first listed applied first
        else:
            M = np.broadcast_to(np.eye(3), (F, 3, 3))
        C = _order_matrix(asf.axes[j], asf.axis_orders[j])
        local = C @ M @ C.T
        p = asf.parents[j]
        if p < 0:
            t = np.zeros((F, 3))
            for k, d in enumerate(_TRANS_DOFS):
                if d in dofs:
                    t[:, k] = vals[:, dofs.index(d)]
            rot[:, j] = local
            pos[:, j] = scale * (asf.root_position + t)
            ends[:, j] = pos[:, j]
        else:
            rot[:, j] = rot[:, p] @ local
            pos[:, j] = ends[:, p]
            bone = scale * asf.lengths[j] * asf.directions[j]
            ends[:, j] = pos[:, j] + rot[:, j] @ bone
    return Kinematics(pos, rot, ends, asf.bone_names, asf.parents)
