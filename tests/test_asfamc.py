"""ASF/AMC parser and forward kinematics: synthetic skeletons with known answers, CMU trials,
malformed input."""

from __future__ import annotations

import re

import numpy as np
import pytest

from jaxrefine.data import asfamc

# Forward kinematics is float64 numpy; results agree with closed forms to rounding.
_FK_TOL = 1e-9  # m / unitless

_ASF = """# test skeleton
:version 1.10
:name TEST
:units
  mass 1.0
  length 0.45
  angle deg
:documentation
  free text: ignored
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name spine
     direction 0 1 0
     length 2
     axis 0 0 0 XYZ
    dof rx ry rz
    limits (-10.0 10.0)
           (-10.0 10.0)
           (-10.0 10.0)
  end
  begin
     id 2
     name arm
     direction 1 0 0
     length 1
     axis 0 0 90 XYZ
    dof rx
  end
  begin
     id 3
     name hand
     direction 1 0 0
     length 0.5
     axis 0 0 0 XYZ
  end
:hierarchy
  begin
    root spine
    spine arm
    arm hand
  end
"""

_AMC = """#!OML:ASF test.asf
:FULLY-SPECIFIED
:DEGREES
1
root 1 2 3 0 0 0
spine 0 0 0
arm 0
2
root 0 0 0 0 0 90
spine 0 0 0
arm 90
"""


def test_parse_asf_structure():
    a = asfamc.parse_asf(_ASF, "t.asf")
    assert a.bone_names == ("root", "spine", "arm", "hand")
    assert a.parents == (-1, 0, 1, 2)
    assert a.dofs == (("tx", "ty", "tz", "rx", "ry", "rz"), ("rx", "ry", "rz"), ("rx",), ())
    assert a.metres_per_unit == pytest.approx(0.056444, abs=1e-6)  # the CMU FAQ's factor
    np.testing.assert_allclose(a.axes[2], [0, 0, np.pi / 2])


def test_fk_closed_form():
    a = asfamc.parse_asf(_ASF, "t.asf")
    m = asfamc.parse_amc(_AMC, a, "t.amc")
    assert m.num_frames == 2 and list(m.frame_numbers) == [1, 2]
    k = asfamc.forward_kinematics(a, m, scale=1.0)
    # frame 1: base pose, root at (1, 2, 3): spine up 2, arm +x 1, hand +x 0.5
    np.testing.assert_allclose(k.positions[0, 1], [1, 2, 3], atol=_FK_TOL)
    np.testing.assert_allclose(k.positions[0, 2], [1, 4, 3], atol=_FK_TOL)
    np.testing.assert_allclose(k.end_positions[0, 3], [2.5, 4, 3], atol=_FK_TOL)
    # frame 2: root turned 90 deg about z (spine now points -x); the arm's rx = 90 deg is a
    # rotation about the arm's local x axis, which its axis frame (Rz 90) maps to world +y.
    # In the root-turned frame, +y became -x; rotating the arm (+x -> world -z about +y)
    # and then the root turn (z unchanged) leaves the arm pointing -z.
    np.testing.assert_allclose(k.positions[1, 2], [-2, 0, 0], atol=_FK_TOL)
    np.testing.assert_allclose(k.end_positions[1, 2], [-2, 0, -1], atol=_FK_TOL)
    np.testing.assert_allclose(k.end_positions[1, 3], [-2, 0, -1.5], atol=_FK_TOL)
    # the base pose (no AMC) equals frame 1 without the root offset
    base = asfamc.forward_kinematics(a, scale=1.0)
    np.testing.assert_allclose(base.end_positions[0], k.end_positions[0] - [1, 2, 3], atol=_FK_TOL)
    # default scale comes from :units length
    k_m = asfamc.forward_kinematics(a, m)
    np.testing.assert_allclose(k_m.positions, a.metres_per_unit * k.positions, atol=_FK_TOL)


def test_radians_and_axis_order():
    asf = _ASF.replace("angle deg", "angle rad").replace(
        "axis 0 0 90 XYZ", "axis 0 0 1.5707963267948966 XYZ"
    )
    a = asfamc.parse_asf(asf, "t.asf")
    amc = _AMC.replace(":DEGREES", ":RADIANS").replace("arm 90", "arm 1.5707963267948966")
    amc = amc.replace("root 0 0 0 0 0 90", "root 0 0 0 0 0 1.5707963267948966")
    k = asfamc.forward_kinematics(a, asfamc.parse_amc(amc, a, "t.amc"), scale=1.0)
    np.testing.assert_allclose(k.end_positions[1, 3], [-2, 0, -1.5], atol=_FK_TOL)
    # the axis angles follow the listed order: "90 0 0 ZYX" is the same frame as "0 0 90 XYZ"
    a2 = asfamc.parse_asf(_ASF.replace("axis 0 0 90 XYZ", "axis 90 0 0 ZYX"), "t.asf")
    k2 = asfamc.forward_kinematics(a2, asfamc.parse_amc(_AMC, a2, "t.amc"), scale=1.0)
    np.testing.assert_allclose(k2.end_positions[1, 3], [-2, 0, -1.5], atol=_FK_TOL)


def test_euler_convention_matches_extrinsic_xyz():
    """``axis a b c XYZ`` and dofs ``rx ry rz`` are extrinsic x-then-y-then-z rotations."""
    from scipy.spatial.transform import Rotation

    asf = _ASF.replace("axis 0 0 0 XYZ\n    dof rx ry rz", "axis 30 40 50 XYZ\n    dof rx ry rz")
    a = asfamc.parse_asf(asf, "t.asf")
    k = asfamc.forward_kinematics(
        a,
        asfamc.parse_amc(_AMC.replace("spine 0 0 0\narm 90", "spine 10 20 30\narm 0"), a, "t.amc"),
    )
    C = Rotation.from_euler("xyz", [30, 40, 50], degrees=True).as_matrix()
    M = Rotation.from_euler("xyz", [10, 20, 30], degrees=True).as_matrix()
    root = Rotation.from_euler("xyz", [0, 0, 90], degrees=True).as_matrix()
    np.testing.assert_allclose(k.rotations[1, 1], root @ C @ M @ C.T, atol=_FK_TOL)


_BAD_ASF = {
    "unknown section": (
        _ASF.replace(":documentation", ":docs"),
        r"bad\.asf:8: unknown ASF section",
    ),
    "bad number": (
        _ASF.replace("length 2\n", "length two\n"),
        r"bad\.asf:20: length holds a non-number",
    ),
    "missing axis": (
        _ASF.replace("     axis 0 0 0 XYZ\n    dof rx ry rz", "    dof rx ry rz"),
        r"bad\.asf:16: bone block has no 'axis'",
    ),
    "bad dof": (_ASF.replace("dof rx\n", "dof rx l\n"), r"bad\.asf:\d+: unsupported bone dof"),
    "unknown parent": (
        _ASF.replace("arm hand\n", "leg hand\n"),
        r"bad\.asf:\d+: hierarchy names unknown bone 'leg'",
    ),
    "unlinked bone": (
        _ASF.replace("    arm hand\n", ""),
        r"bad\.asf:\d+: bones missing from ':hierarchy'",
    ),
    "no end": (
        _ASF.replace("    dof rx\n  end\n", "    dof rx\n"),
        r"bad\.asf:\d+: 'begin' inside a bone",
    ),
    "bad root order": (
        _ASF.replace("order TX TY TZ RX RY RZ", "order TX TY TQ"),
        r"bad\.asf:11: bad root order",
    ),
}

_BAD_AMC = {
    "unknown bone": (_AMC.replace("arm 0\n", "leg 0\n"), r"bad\.amc:7: unknown bone 'leg'"),
    "wrong count": (_AMC.replace("arm 90", "arm 90 1"), r"bad\.amc:11: bone 'arm' has 2 values"),
    "non-number": (
        _AMC.replace("spine 0 0 0\narm 90", "spine 0 nan? 0\narm 90"),
        r"bad\.amc:10: bone 'spine' holds a non-number",
    ),
    "missing bone": (
        _AMC.replace("spine 0 0 0\narm 0\n", "spine 0 0 0\n"),
        r"bad\.amc:4: frame 1 lacks bones \['arm'\]",
    ),
    "repeated bone": (
        _AMC.replace("arm 0\n", "arm 0\narm 1\n"),
        r"bad\.amc:8: bone 'arm' given twice",
    ),
    "before frame": (
        _AMC.replace(":DEGREES\n1\n", ":DEGREES\n"),
        r"bad\.amc:4: bone line before the first frame",
    ),
    "bad frame number": (_AMC.replace("\n2\n", "\ntwo\n"), r"bad\.amc:8: expected a frame number"),
}


@pytest.mark.parametrize("case", sorted(_BAD_ASF))
def test_malformed_asf(case):
    text, pattern = _BAD_ASF[case]
    with pytest.raises(ValueError, match=pattern):
        asfamc.parse_asf(text, "bad.asf")


@pytest.mark.parametrize("case", sorted(_BAD_AMC))
def test_malformed_amc(case):
    text, pattern = _BAD_AMC[case]
    a = asfamc.parse_asf(_ASF, "t.asf")
    with pytest.raises(ValueError, match=pattern):
        asfamc.parse_amc(text, a, "bad.amc")


def test_load_names_the_file(tmp_path):
    (tmp_path / "s.asf").write_text(_ASF)
    a = asfamc.load_asf(tmp_path / "s.asf")
    p = tmp_path / "s_01.amc"
    p.write_text(_AMC.replace("arm 90", "arm"))
    with pytest.raises(ValueError, match=re.escape(str(p)) + r":11:"):
        asfamc.load_amc(p, a)


def _readme_frames(mocap_dir):
    text = (mocap_dir / "README.md").read_text()
    return {m[0]: int(m[2]) for m in re.findall(r"^\| (\d+_\d+) \| (\w+) \| (\d+) \|", text, re.M)}


@pytest.mark.parametrize("trial", ["10_05", "16_15", "16_45", "13_39", "105_06"])
def test_cmu_frame_counts_match_readme(mocap_dir, trial):
    subject = trial.split("_")[0]
    folder = mocap_dir / "cmu" / "asfamc" / subject
    if not (folder / f"{trial}.amc").is_file():
        pytest.skip(f"{folder / trial}.amc not present")
    a = asfamc.load_asf(folder / f"{subject}.asf")
    m = asfamc.load_amc(folder / f"{trial}.amc", a)
    assert m.num_frames == _readme_frames(mocap_dir)[trial]
    np.testing.assert_array_equal(m.frame_numbers, np.arange(1, m.num_frames + 1))
    assert len(a.bone_names) == 31


def test_cmu_kinematics_plausible(mocap_dir):
    folder = mocap_dir / "cmu" / "asfamc" / "16"
    if not (folder / "16_15.amc").is_file():
        pytest.skip(f"{folder}/16_15.amc not present")
    a = asfamc.load_asf(folder / "16.asf")
    k = asfamc.forward_kinematics(a, asfamc.load_amc(folder / "16_15.amc", a))
    idx = {n: i for i, n in enumerate(a.bone_names)}
    # rigid bones
    lengths = np.linalg.norm(k.end_positions - k.positions, axis=-1)
    np.testing.assert_allclose(
        lengths, np.broadcast_to(a.metres_per_unit * a.lengths, lengths.shape), atol=1e-9
    )
    # a walk: feet near the floor, hips about a leg length above them, head above hips
    y = k.positions[:, :, 1]
    assert np.all(y[:, idx["head"]] > y[:, idx["root"]] + 0.4)
    assert np.all(k.end_positions[:, idx["ltoes"], 1] < 0.15)
    assert np.all(np.abs(y[:, idx["root"]] - 0.95) < 0.1)
    # knees bend forward, never backward: the knee lies in front of the hip-ankle line
    # (walking frames; the knee is ahead of the line along the direction the foot points)
    hip, knee, ankle = (k.positions[:, idx[n]] for n in ("lfemur", "ltibia", "lfoot"))
    toe = k.positions[:, idx["ltoes"]]
    mid = 0.5 * (hip + ankle)
    forward = toe - ankle
    forward[:, 1] = 0
    ahead = np.einsum(
        "fa,fa->f", knee - mid, forward / np.linalg.norm(forward, axis=-1, keepdims=True)
    )
    assert np.mean(ahead > -0.01) > 0.95


_NON_FINITE_ASF = {
    "nan length": (_ASF.replace("length 2", "length nan"), r"bad\.asf:20: length holds a non-fin"),
    "inf axis": (_ASF.replace("axis 0 0 90 XYZ", "axis 0 inf 90 XYZ"), r"bad\.asf:\d+: axis"),
    "nan direction": (_ASF.replace("direction 0 1 0", "direction 0 nan 0"), r"direction holds"),
    "huge position": (_ASF.replace("position 0 0 0", "position 0 1e300 0"), r"root position"),
    "length unit inf": (_ASF.replace("length 0.45", "length inf"), r"bad\.asf:6: length unit"),
    "length unit tiny": (_ASF.replace("length 0.45", "length 1e-300"), r"between 1e-06 and"),
}


@pytest.mark.parametrize("case", sorted(_NON_FINITE_ASF))
def test_non_finite_asf_refused(case):
    text, pattern = _NON_FINITE_ASF[case]
    with pytest.raises(asfamc.MocapFileError, match=pattern):
        asfamc.parse_asf(text, "bad.asf")


def test_amc_frame_number_beyond_int64_and_non_finite_values():
    a = asfamc.parse_asf(_ASF, "t.asf")
    with pytest.raises(asfamc.MocapFileError, match=r"bad\.amc:8: frame number .* out of range"):
        asfamc.parse_amc(_AMC.replace("\n2\n", f"\n{2**70}\n"), a, "bad.amc")
    with pytest.raises(asfamc.MocapFileError, match=r"bad\.amc:11: bone 'arm' holds a non-fin"):
        asfamc.parse_amc(_AMC.replace("arm 90", "arm -inf"), a, "bad.amc")
    assert asfamc.parse_amc(_AMC.replace("\n2\n", f"\n{2**63 - 1}\n"), a).frame_numbers[1] > 0
