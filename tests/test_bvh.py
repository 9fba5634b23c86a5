"""BVH parser and forward kinematics: synthetic files with known answers, CMU trials, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from jaxrefine.data import bvh

# Forward kinematics is float64 numpy; results agree with closed forms to rounding.
_FK_TOL = 1e-9  # m / unitless
# CMU BVH numbers are written with 4-5 decimals; re-deriving a bone length from two FK
# positions agrees with |offset| * scale to ~1e-6 m (float64, no rounding in between).
_BONE_LENGTH_TOL = 1e-6  # m

_TWO_JOINTS = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Spine
  {
    OFFSET 0 2 0
    CHANNELS 3 Xrotation Yrotation Zrotation
    End Site
    {
      OFFSET 0 1 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0083333
1 2 3 0 0 0 0 0 0
1 2 3 90 0 0 0 0 90
"""


def test_parse_structure():
    b = bvh.parse_bvh(_TWO_JOINTS, "two.bvh")
    assert b.joint_names == ("Hips", "Spine")
    assert b.parents == (-1, 0)
    assert b.rotation_order(0) == "ZYX" and b.rotation_order(1) == "XYZ"
    assert b.num_frames == 2
    assert b.fps == pytest.approx(120.0, rel=1e-4)
    assert np.isnan(b.end_offsets[0]).all()
    np.testing.assert_array_equal(b.end_offsets[1], [0, 1, 0])


def test_fk_closed_form():
    b = bvh.parse_bvh(_TWO_JOINTS, "two.bvh")
    k = bvh.forward_kinematics(b, scale=1.0)
    # frame 0: zero rotation, root at (1, 2, 3)
    np.testing.assert_allclose(k.positions[0], [[1, 2, 3], [1, 4, 3]], atol=_FK_TOL)
    np.testing.assert_allclose(k.end_positions[0, 1], [1, 5, 3], atol=_FK_TOL)
    # frame 1: root turned 90 deg about Z: the spine (+Y) points to -X
    np.testing.assert_allclose(k.positions[1, 1], [-1, 2, 3], atol=_FK_TOL)
    # the spine's own Z rotation by 90 deg turns its +Y end site to -X in its own frame,
    # then the root's turn maps -X to -Y: end = spine + (0, -1, 0)
    np.testing.assert_allclose(k.end_positions[1, 1], [-1, 1, 3], atol=_FK_TOL)
    # scale multiplies every length, root position channels included
    k2 = bvh.forward_kinematics(b, scale=0.5)
    np.testing.assert_allclose(k2.positions, 0.5 * k.positions, atol=_FK_TOL)


@pytest.mark.parametrize("order", ["ZYX", "XYZ", "YXZ", "ZXY"])
def test_rotation_order_matches_intrinsic_euler(order):
    """BVH channel order = intrinsic Euler order (scipy upper-case axes)."""
    chans = " ".join(f"{a}rotation" for a in order)
    text = _TWO_JOINTS.replace("CHANNELS 3 Xrotation Yrotation Zrotation", f"CHANNELS 3 {chans}")
    angles = np.array([30.0, -50.0, 70.0])
    text = text.replace("1 2 3 90 0 0 0 0 90", "0 0 0 0 0 0 " + " ".join(map(str, angles)))
    k = bvh.forward_kinematics(bvh.parse_bvh(text, "order.bvh"), scale=1.0)
    ref = Rotation.from_euler(order, angles, degrees=True).as_matrix()
    np.testing.assert_allclose(k.rotations[1, 1], ref, atol=_FK_TOL)


_MALFORMED = {
    "no hierarchy": ("ROOT Hips\n", r"bad\.bvh:1: a BVH file starts"),
    "bad offset": (_TWO_JOINTS.replace("OFFSET 0 2 0", "OFFSET 0 two 0"), r"bad\.bvh:8: OFFSET"),
    "unknown channel": (
        _TWO_JOINTS.replace("Xrotation Yrotation Zrotation", "Xrotation Yrot Z"),
        r"bad\.bvh:9: unknown channel",
    ),
    "missing brace": (
        _TWO_JOINTS.replace("  }\n}\nMOTION", "  }\nMOTION"),
        r"bad\.bvh:\d+: unexpected end",
    ),
    "short frame line": (
        _TWO_JOINTS.replace("1 2 3 90 0 0 0 0 90", "1 2 3 90 0 0 0 0"),
        r"bad\.bvh:20: frame 2 has 8 values",
    ),
    "frame count": (
        _TWO_JOINTS.replace("Frames: 2", "Frames: 3"),
        r"bad\.bvh:\d+: 'Frames: 3' declared but 2",
    ),
    "non-number": (
        _TWO_JOINTS.replace("1 2 3 90 0 0 0 0 90", "1 2 3 90 0 0 x 0 90"),
        r"bad\.bvh:20: frame line holds a non-number",
    ),
    "no motion": (_TWO_JOINTS.split("MOTION")[0], r"bad\.bvh:\d+: no MOTION"),
    "bad frame time": (
        _TWO_JOINTS.replace("Frame Time: 0.0083333", "Frame Time: fast"),
        r"bad\.bvh:18: bad Frame Time value",
    ),
}


@pytest.mark.parametrize("case", sorted(_MALFORMED))
def test_malformed_raises_with_file_and_line(case):
    text, pattern = _MALFORMED[case]
    with pytest.raises(ValueError, match=pattern):
        bvh.parse_bvh(text, "bad.bvh")


def test_load_names_the_file(tmp_path):
    p = tmp_path / "broken.bvh"
    p.write_text(_TWO_JOINTS.replace("Frames: 2", "Frames: 5"))
    with pytest.raises(ValueError, match=re.escape(str(p)) + r":\d+:"):
        bvh.load_bvh(p)
    p.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ValueError, match=re.escape(str(p)) + r":1: not a text file"):
        bvh.load_bvh(p)


def _readme_frames(mocap_dir):
    text = (mocap_dir / "README.md").read_text()
    return {m[0]: int(m[2]) for m in re.findall(r"^\| (\d+_\d+) \| (\w+) \| (\d+) \|", text, re.M)}


@pytest.mark.parametrize("trial", ["02_01", "05_03", "09_01", "07_12"])
def test_cmu_frame_counts_match_readme(mocap_dir, trial):
    path = mocap_dir / "cmu" / "bvh" / trial[:2] / f"{trial}.bvh"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    b = bvh.load_bvh(path)
    assert b.num_frames == _readme_frames(mocap_dir)[trial]  # includes the T-pose frame
    assert b.fps == pytest.approx(120.0, rel=1e-4)
    assert len(b.joint_names) == 31 and all(b.rotation_order(j) == "ZYX" for j in range(31))


def test_cmu_kinematics_plausible(mocap_dir):
    path = mocap_dir / "cmu" / "bvh" / "02" / "02_01.bvh"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    b = bvh.load_bvh(path)
    k = bvh.forward_kinematics(b)
    names = {n: i for i, n in enumerate(b.joint_names)}
    # rigid bones: every joint stays |offset| * scale from its parent in every frame
    for j, p in enumerate(b.parents):
        if p >= 0:
            d = np.linalg.norm(k.positions[:, j] - k.positions[:, p], axis=-1)
            expect = bvh.CMU_UNITS_TO_METRES * np.linalg.norm(b.offsets[j])
            np.testing.assert_allclose(d, expect, atol=_BONE_LENGTH_TOL)
    # rotations stay orthonormal
    R = k.rotations.reshape(-1, 3, 3)
    np.testing.assert_allclose(
        R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), R.shape), atol=1e-9
    )
    # a walking person: head above hips above feet; toes within 15 cm of the lowest point
    y = k.positions[1:, :, 1]
    assert np.all(y[:, names["Head"]] > y[:, names["Hips"]] + 0.3)
    assert np.all(y[:, names["Hips"]] > y[:, names["LeftFoot"]] + 0.6)
    assert np.ptp(k.positions[1:, names["LeftToeBase"], 1]) < 0.15
    # the converter's frame 1 is a T-pose: legs straight down, arms horizontal
    t = k.positions[0]
    leg = t[names["LeftFoot"]] - t[names["LeftUpLeg"]]
    assert np.degrees(np.arccos(-leg[1] / np.linalg.norm(leg))) < 5.0
    arm = t[names["LeftHand"]] - t[names["LeftArm"]]
    assert arm[0] > 0 and abs(arm[1]) / np.linalg.norm(arm) < 0.2  # within ~12 deg


_NON_FINITE = {
    "offset -inf": (_TWO_JOINTS.replace("OFFSET 0 2 0", "OFFSET 0 -inf 0"), r"bad\.bvh:8: OFFSET"),
    "offset nan": (_TWO_JOINTS.replace("OFFSET 0 1 0", "OFFSET nan 1 0"), r"bad\.bvh:12: End Site"),
    "huge offset": (_TWO_JOINTS.replace("OFFSET 0 2 0", "OFFSET 0 1e300 0"), r"bad\.bvh:8:"),
    "frame time inf": (
        _TWO_JOINTS.replace("Frame Time: 0.0083333", "Frame Time: inf"),
        r"bad\.bvh:\d+: need Frames >= 0 and a Frame Time of 1e-06 to 3600 seconds",
    ),
    "frame time nan": (_TWO_JOINTS.replace("0.0083333", "nan"), r"bad\.bvh:\d+: need Frames"),
    "motion inf": (
        _TWO_JOINTS.replace("1 2 3 90 0 0 0 0 90", "1 2 3 90 0 0 0 0 inf"),
        r"bad\.bvh:20: frame line holds a non-finite value",
    ),
    "deep nesting": (
        "HIERARCHY\nROOT a\n{\nOFFSET 0 0 0\n"
        + "".join(f"JOINT b{i}\n{{\nOFFSET 0 0 0\n" for i in range(300)),
        r"bad\.bvh:\d+: joints nested deeper than 256",
    ),
    "repeated joint name": (_TWO_JOINTS.replace("JOINT Spine", "JOINT Hips"), "used twice"),
}


@pytest.mark.parametrize("case", sorted(_NON_FINITE))
def test_non_finite_and_pathological_input_refused(case):
    text, pattern = _NON_FINITE[case]
    with pytest.raises(bvh.MocapFileError, match=pattern):
        bvh.parse_bvh(text, "bad.bvh")
