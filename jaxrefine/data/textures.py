"""Procedural clothing and skin textures in the body model's UV layout.

No clothing texture collection is available offline, so they are generated, varied widely:
an outfit (upper garment with a sleeve length, lower garment with a hem height, shoes, optional
one-piece dress, turtleneck or socks), a pattern per garment (solid, horizontal or vertical
stripes, checks, dots, blobs, value noise, gradient, a chest print), a skin tone, a hair colour
and hair style, and low- and high-frequency shading noise.

Everything is decided in 3D on the mean-shape rest T-pose body and mapped into the UV atlas by
:func:`texel_atlas`: every texel knows the rest-pose surface point it shows (face, barycentrics,
position), the body part it belongs to (argmax of the interpolated skinning weights) and two
cylindrical pattern coordinates (``axial`` along the limb / trunk, ``around`` the limb in
metres of arc). Patterns defined on those coordinates are continuous across UV seams. Texels
outside the UV islands copy their nearest island texel, so bilinear lookups at island borders
do not bleed black.

Texture convention (that of :mod:`jaxrefine.shading`): ``uv`` in [0, 1], u right, v **up**;
texel row ``(1 - v) * S - 0.5``, column ``u * S - 0.5``; row 0 is the top (v = 1).

Rest-pose frame (SMPL): metres, y up, the body faces +z, body-left is +x, arms along +-x.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np
from flax import struct

from jaxrefine.uv_layout import require_layout

logger = logging.getLogger(__name__)

# Body parts by SMPL joint index (SMPL's joint order, jaxrefine.keypoints.SMPL_JOINT_NAMES).
TRUNK_PARTS = (0, 3, 6, 9, 13, 14)
NECK_PART = 12
HEAD_PART = 15
ARM_PARTS = (16, 17, 18, 19, 20, 21, 22, 23)
LEG_PARTS = (1, 2, 4, 5, 7, 8, 10, 11)

# Region labels of the outfit.
SKIN, HAIR, UPPER, LOWER, SHOES, EYES = 0, 1, 2, 3, 4, 5

PATTERNS = ("solid", "hstripes", "vstripes", "checks", "dots", "blobs", "noise", "gradient")

# Skin tones (sRGB, light to dark) interpolated at random, plus a small hue jitter.
_SKIN_TONES = np.array(
    [
        [0.98, 0.87, 0.78],
        [0.94, 0.78, 0.66],
        [0.87, 0.68, 0.54],
        [0.78, 0.57, 0.42],
        [0.65, 0.45, 0.32],
        [0.50, 0.34, 0.24],
        [0.37, 0.25, 0.18],
        [0.24, 0.16, 0.12],
    ],
    np.float32,
)
_HAIR_COLOURS = np.array(
    [
        [0.05, 0.04, 0.04],  # black
        [0.18, 0.11, 0.07],  # dark brown
        [0.35, 0.22, 0.12],  # brown
        [0.72, 0.58, 0.36],  # blond
        [0.55, 0.23, 0.10],  # red
        [0.62, 0.62, 0.62],  # grey
        [0.92, 0.90, 0.86],  # white
    ],
    np.float32,
)


@struct.dataclass
class TexelAtlas:
    """What every texel of an (S, S) UV texture shows on the rest-pose mean-shape body.

    Host-side numpy arrays (this is preprocessing, not a traced computation).

    Attributes:
      face: (S, S) int32 triangle (row of ``faces`` / ``ft``) of the texel, -1 outside islands.
      bary: (S, S, 3) float32 barycentrics of the texel centre in that triangle (0 outside).
      position: (S, S, 3) float32 rest-pose point (metres); outside islands: nearest texel's.
      part: (S, S) int32 body part (argmax joint of the interpolated skinning weights).
      axial: (S, S) float32 coordinate along the limb / trunk (metres; y, or |x| on arms).
      around: (S, S) float32 arc length around the limb / trunk axis (metres).
      covered: (S, S) bool texel centre inside a UV island.
      joints: (24, 3) float32 rest T-pose joints of the mean shape (outfit lines are placed
        relative to them, so any SMPL-layout model works).
      head_top: () float32 highest y of the head part.
    """

    face: np.ndarray
    bary: np.ndarray
    position: np.ndarray
    part: np.ndarray
    axial: np.ndarray
    around: np.ndarray
    covered: np.ndarray
    joints: np.ndarray
    head_top: np.ndarray

    @property
    def size(self) -> int:
        return int(self.face.shape[0])


_ATLAS_CACHE: dict = {}


def _model_key(model, size: int) -> tuple:
    h = hashlib.sha1()
    for a in (model.vt, model.ft, model.faces, model.v_template):
        h.update(np.ascontiguousarray(np.asarray(a)).tobytes())
    return (model.model_id, int(size), h.hexdigest())


def texel_atlas(model, size: int = 256) -> TexelAtlas:
    """The :class:`TexelAtlas` of ``model``'s UV layout at ``size`` x ``size`` texels.

    Rasterizes the UV triangles (``vt[ft]``) with :func:`rasterize_uv` (numpy), cached per
    model and size for the life of the process.

    Args:
      model: a :class:`~jaxrefine.body_model.BodyModel` with ``vt`` (T, 2) and ``ft`` (F, 3).
      size: texture side S in texels.

    Raises:
      UVLayoutError (a ValueError): the model has no UV layout.
    """
    require_layout(model)
    key = _model_key(model, size)
    if key not in _ATLAS_CACHE:
        _ATLAS_CACHE[key] = _build_atlas(model, int(size))
    return _ATLAS_CACHE[key]


def _build_atlas(model, size: int) -> TexelAtlas:
    from scipy import ndimage

    vt = np.asarray(model.vt, np.float64)
    ft = np.asarray(model.ft, np.int64)
    faces = np.asarray(model.faces, np.int64)
    face, bary = rasterize_uv(vt, ft, size)
    covered = face >= 0
    if not covered.any():
        raise ValueError("the UV layout covers no texel centre")
    f = np.where(covered, face, 0)
    corners = faces[f]  # (S, S, 3)
    v = np.asarray(model.v_template, np.float32)
    position = np.einsum("hwk,hwkc->hwc", bary, v[corners])
    weights = np.einsum("hwk,hwkj->hwj", bary, np.asarray(model.lbs_weights, np.float32)[corners])
    part = np.argmax(weights, -1).astype(np.int32)
    # outside islands: copy the nearest covered texel (no black bleeding at island borders)
    _, (iy, ix) = ndimage.distance_transform_edt(~covered, return_indices=True)
    position = position[iy, ix]
    part = part[iy, ix]
    from jaxrefine.body_model import rest_joints

    joints = np.asarray(rest_joints(model, np.zeros(model.num_betas, np.float32)), np.float32)
    head = np.asarray(np.argmax(model.lbs_weights, -1)) == HEAD_PART
    head_top = np.float32(v[head, 1].max() if head.any() else joints[HEAD_PART, 1] + 0.15)
    axial, around = _cylinder_coords(position, part, joints)
    return TexelAtlas(
        face=np.where(covered, face, -1).astype(np.int32),
        bary=np.where(covered[..., None], bary, 0.0).astype(np.float32),
        position=position.astype(np.float32),
        part=part,
        axial=axial.astype(np.float32),
        around=around.astype(np.float32),
        covered=covered,
        joints=joints,
        head_top=head_top,
    )


def rasterize_uv(vt: np.ndarray, ft: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Rasterize UV triangles into an (S, S) texel grid (numpy; no depth, islands are disjoint).

    Args:
      vt: (T, 2) UV coordinates (u right, v up, in [0, 1]).
      ft: (F, 3) int UV indices per face.
      size: S.

    Returns:
      face (S, S) int32 (-1 = no triangle covers the texel centre) and bary (S, S, 3) float32
      affine barycentrics of the texel centre in that face.
    """
    s = float(size)
    p = np.stack([vt[:, 0] * s, (1.0 - vt[:, 1]) * s], -1)[ft]  # (F, 3, 2) texel units
    lo = np.ceil(p.min(1) - 0.5).astype(np.int64)  # first texel whose centre >= min
    hi = np.floor(p.max(1) - 0.5).astype(np.int64)
    ext = np.max(hi - lo + 1, -1)
    face = np.full(size * size, -1, np.int32)
    bary = np.zeros((size * size, 3), np.float32)
    eps = 1e-7
    order = np.argsort(ext, kind="stable")
    ext_sorted = ext[order]
    start = 0
    while start < len(order) and ext_sorted[start] <= 0:
        start += 1
    while start < len(order):
        b = int(ext_sorted[start])
        stop = int(np.searchsorted(ext_sorted, 2 * b, side="right"))  # extents in [b, 2b]
        sel = order[start:stop]
        blk = int(ext_sorted[stop - 1])
        off = np.arange(blk)
        cols = lo[sel, 0][:, None, None] + off[None, None, :]
        rows = lo[sel, 1][:, None, None] + off[None, :, None]
        px, py = cols + 0.5, rows + 0.5
        a, bb, c = p[sel, 0], p[sel, 1], p[sel, 2]
        det = (bb[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (bb[:, 1] - a[:, 1]) * (
            c[:, 0] - a[:, 0]
        )
        ok_det = np.abs(det) > 1e-12
        inv = np.where(ok_det, 1.0 / np.where(ok_det, det, 1.0), 0.0)[:, None, None]
        dx, dy = px - a[:, 0, None, None], py - a[:, 1, None, None]
        l1 = (
            dx * (c[:, 1] - a[:, 1])[:, None, None] - dy * (c[:, 0] - a[:, 0])[:, None, None]
        ) * inv
        l2 = (
            dy * (bb[:, 0] - a[:, 0])[:, None, None] - dx * (bb[:, 1] - a[:, 1])[:, None, None]
        ) * inv
        l0 = 1.0 - l1 - l2
        ok = (l0 >= -eps) & (l1 >= -eps) & (l2 >= -eps) & ok_det[:, None, None]
        ok &= (cols >= 0) & (cols < size) & (rows >= 0) & (rows < size)
        idx = (rows * size + cols)[ok]
        face[idx] = np.broadcast_to(sel[:, None, None], ok.shape)[ok]
        lam = np.clip(np.stack([l0, l1, l2], -1)[ok], 0.0, 1.0)
        bary[idx] = lam / lam.sum(-1, keepdims=True)
        start = stop
    return face.reshape(size, size), bary.reshape(size, size, 3)


def _cylinder_coords(
    position: np.ndarray, part: np.ndarray, joints: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Axial and around coordinates (metres) on the rest T-pose (arms along x)."""
    x, y, z = position[..., 0], position[..., 1], position[..., 2]
    arm = np.isin(part, ARM_PARTS)
    leg = np.isin(part, LEG_PARTS)
    axial = np.where(arm, np.abs(x), y)
    # trunk / head: around the vertical axis; legs: around each leg's vertical axis;
    # arms: around the horizontal arm axis (y = 0.48 m in the open model's T-pose)
    arm_y = joints[16:22, 1].mean()
    arm_z = joints[16:22, 2].mean()
    hip_x = np.abs(joints[1, 0])
    ang_trunk = np.arctan2(x - joints[0, 0], z - joints[0, 2]) * 0.15
    ang_leg = np.arctan2(np.abs(x) - hip_x, z - joints[4:6, 2].mean()) * 0.07
    ang_arm = np.arctan2(y - arm_y, z - arm_z) * 0.05
    around = np.where(arm, ang_arm, np.where(leg, ang_leg, ang_trunk))
    return axial, around


# --------------------------------------------------------------------------- noise helpers
def value_noise(points: np.ndarray, frequency: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth 3D value noise in [0, 1]: random lattice values, smoothstep-trilinear blend.

    Args:
      points: (..., 3) positions (metres; expected within +-1.5 m).
      frequency: lattice cells per metre.
      rng: source of the lattice values.

    Returns:
      (...,) float32 noise.
    """
    p = (np.asarray(points, np.float32) + 1.5) * frequency
    n = int(np.ceil(3.0 * frequency)) + 2
    lattice = rng.random((n, n, n), dtype=np.float32)
    i = np.clip(np.floor(p).astype(np.int32), 0, n - 2)
    f = np.clip(p - i, 0.0, 1.0)
    f = f * f * (3.0 - 2.0 * f)
    out = 0.0
    for dx in (0, 1):
        wx = f[..., 0] if dx else 1.0 - f[..., 0]
        for dy in (0, 1):
            wy = f[..., 1] if dy else 1.0 - f[..., 1]
            for dz in (0, 1):
                wz = f[..., 2] if dz else 1.0 - f[..., 2]
                out = out + wx * wy * wz * lattice[i[..., 0] + dx, i[..., 1] + dy, i[..., 2] + dz]
    return np.asarray(out, np.float32)


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    import colorsys

    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32)


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """A clothing colour: any hue; dark, muted, pastel, vivid, near-white or near-black."""
    kind = rng.choice(
        ["vivid", "muted", "dark", "pastel", "neutral"], p=[0.25, 0.25, 0.2, 0.1, 0.2]
    )
    h = rng.random()
    if kind == "vivid":
        return _hsv_to_rgb(h, rng.uniform(0.6, 1.0), rng.uniform(0.55, 1.0))
    if kind == "muted":
        return _hsv_to_rgb(h, rng.uniform(0.15, 0.5), rng.uniform(0.3, 0.8))
    if kind == "dark":
        return _hsv_to_rgb(h, rng.uniform(0.0, 0.8), rng.uniform(0.05, 0.3))
    if kind == "pastel":
        return _hsv_to_rgb(h, rng.uniform(0.1, 0.35), rng.uniform(0.8, 1.0))
    return np.full(3, rng.uniform(0.05, 0.95), np.float32)  # greys, black, white


def _second_colour(c: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A colour that stands out from ``c`` (random, or a lighter / darker shade of it)."""
    if rng.random() < 0.6:
        for _ in range(8):
            d = random_colour(rng)
            if np.abs(d - c).sum() > 0.5:
                return d
        return 1.0 - c
    return np.clip(c * rng.choice([0.35, 1.8]) + rng.normal(0, 0.05, 3), 0, 1).astype(np.float32)


def skin_tone(rng: np.random.Generator) -> np.ndarray:
    """(3,) sRGB skin colour: an interpolated tone of :data:`_SKIN_TONES` with a little jitter."""
    t = rng.uniform(0, len(_SKIN_TONES) - 1)
    i = int(np.floor(t))
    j = min(i + 1, len(_SKIN_TONES) - 1)
    c = _SKIN_TONES[i] * (1 - (t - i)) + _SKIN_TONES[j] * (t - i)
    return np.clip(c * rng.uniform(0.92, 1.05) + rng.normal(0, 0.015, 3), 0, 1).astype(np.float32)


# --------------------------------------------------------------------------- patterns
def _pattern(
    kind: str,
    a: np.ndarray,
    b: np.ndarray,
    pos: np.ndarray,
    c1: np.ndarray,
    c2: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Colours (N, 3) of a garment pattern at texels with axial ``a``, around ``b`` (N,)."""
    n = a.shape[0]
    if kind == "solid":
        return np.broadcast_to(c1, (n, 3))
    if kind in ("hstripes", "vstripes"):
        period = rng.uniform(0.02, 0.15)
        duty = rng.uniform(0.2, 0.6)
        coord = a if kind == "hstripes" else b
        t = ((coord + rng.random() * period) / period) % 1.0 < duty
        return np.where(t[:, None], c2, c1)
    if kind == "checks":
        p = rng.uniform(0.025, 0.12)
        t = (np.floor(a / p) + np.floor(b / p)) % 2 == 0
        if rng.random() < 0.5:  # tartan-like: two stripe sets blended
            t2 = ((a / (p * 0.5)) % 1.0 < 0.3) | ((b / (p * 0.5)) % 1.0 < 0.3)
            return np.where(t[:, None], c2, c1) * np.where(t2[:, None], 0.7, 1.0)
        return np.where(t[:, None], c2, c1)
    if kind == "dots":
        p = rng.uniform(0.03, 0.1)
        r = p * rng.uniform(0.15, 0.4)
        ca, cb = (a / p) % 1.0 - 0.5, (b / p) % 1.0 - 0.5
        t = (ca**2 + cb**2) * p * p < r * r
        return np.where(t[:, None], c2, c1)
    if kind == "blobs":  # camouflage-like: thresholded noise with up to 3 colours
        c3 = _second_colour(c1, rng)
        n1 = value_noise(pos, rng.uniform(6, 20), rng)
        n2 = value_noise(pos, rng.uniform(6, 20), rng)
        out = np.where((n1 > 0.55)[:, None], c2, c1)
        return np.where((n2 > 0.62)[:, None], c3, out)
    if kind == "noise":  # heathered / denim-like fabric
        t = value_noise(pos, rng.uniform(15, 60), rng)[:, None]
        return c1 * (1 - t) + c2 * t
    if kind == "gradient":
        lo, hi = np.min(a), np.max(a)
        t = ((a - lo) / max(hi - lo, 1e-6))[:, None]
        return c1 * (1 - t) + c2 * t
    raise ValueError(f"unknown pattern {kind!r}; choose from {PATTERNS}")


def _chest_print(pos: np.ndarray, out: np.ndarray, sel: np.ndarray, rng, c: np.ndarray) -> None:
    """Paint a procedural print (discs, rings, bars, a star) on the chest front, in place."""
    x, y, z = pos[..., 0], pos[..., 1], pos[..., 2]
    cx, cy = rng.uniform(-0.06, 0.06), rng.uniform(0.25, 0.4)
    size = rng.uniform(0.05, 0.12)
    u, v = (x - cx) / size, (y - cy) / size
    front = sel & (z > 0.02)
    kind = rng.choice(["disc", "ring", "bars", "star", "square"])
    r = np.hypot(u, v)
    if kind == "disc":
        m = r < 1
    elif kind == "ring":
        m = (r < 1) & (r > rng.uniform(0.4, 0.8))
    elif kind == "bars":
        m = (np.abs(u) < 1.2) & (np.abs(v) < 0.8) & ((v * rng.uniform(2, 5)) % 1.0 < 0.5)
    elif kind == "star":
        ang = np.arctan2(v, u)
        m = r < 0.5 + 0.5 * np.abs(np.cos(2.5 * ang))
    else:
        m = (np.abs(u) < 1) & (np.abs(v) < 1)
    out[front & m] = c


# --------------------------------------------------------------------------- the texture
def procedural_texture(model, seed: int, size: int = 256) -> np.ndarray:
    """A random clothing + skin texture in ``model``'s UV layout, deterministic by seed.

    Args:
      model: a :class:`~jaxrefine.body_model.BodyModel` with a UV layout (``vt``, ``ft``).
      seed: random seed (same seed, same model and size -> identical texture).
      size: texture side S in texels.

    Returns:
      (S, S, 3) float32 sRGB texture in [0, 1] (row 0 = v = 1, see module docstring).
    """
    atlas = texel_atlas(model, size)
    rng = np.random.default_rng(seed)
    labels, colours = outfit(atlas, rng, model)
    return colours


def outfit(
    atlas: TexelAtlas, rng: np.random.Generator, model=None
) -> tuple[np.ndarray, np.ndarray]:
    """Draw an outfit and paint it on the atlas.

    Args:
      atlas: :class:`TexelAtlas` of the model.
      rng: random generator (consumed).
      model: the body model, for the eye landmarks (optional).

    Returns:
      labels (S, S) int32 region per texel (:data:`SKIN`, :data:`HAIR`, :data:`UPPER`,
      :data:`LOWER`, :data:`SHOES`, :data:`EYES`) and colours (S, S, 3) float32 in [0, 1].
    """
    labels, shoe_top, socks = _garments(atlas, rng)
    _hair(atlas, labels, rng)
    if model is not None and model.landmarks:
        _eyes(atlas, labels, model)
    out = _paint(atlas, labels, rng, shoe_top, socks)
    # shading noise: low-frequency blotches and fine fabric grain
    low = value_noise(atlas.position, rng.uniform(3, 10), rng)[..., None]
    out *= 1.0 + rng.uniform(0.0, 0.25) * (low - 0.5)
    out += rng.normal(0, rng.uniform(0.0, 0.03), out.shape).astype(np.float32)
    return labels, np.clip(out, 0.0, 1.0).astype(np.float32)


def _garments(atlas: TexelAtlas, rng: np.random.Generator) -> tuple[np.ndarray, float, bool]:
    """Skin, upper and lower garments and shoes on the atlas, from lines in rest T-pose metres.

    Returns labels (S, S) int32, the shoes' top height and whether the outfit has socks (drawn
    here so that :func:`outfit` consumes ``rng`` in one fixed order).
    """
    y, ax, part = atlas.position[..., 1], np.abs(atlas.position[..., 0]), atlas.part
    trunk, arm, leg = (np.isin(part, p) for p in (TRUNK_PARTS, ARM_PARTS, LEG_PARTS))
    # lines relative to the rest joints: arm coordinate 0 = shoulder, 1 = elbow, 2 = wrist;
    # leg coordinate 0 = hip, 1 = knee, 2 = ankle
    J = atlas.joints
    arm_x = np.array([abs(J[16, 0]) / 2 + abs(J[17, 0]) / 2, abs(J[18, 0]), abs(J[20, 0])])
    leg_y = np.array(
        [J[1, 1] / 2 + J[2, 1] / 2, J[4, 1] / 2 + J[5, 1] / 2, J[7, 1] / 2 + J[8, 1] / 2]
    )
    sleeve = np.interp(
        rng.choice([0.0, 0.4, 1.0, 1.5, 1.98], p=[0.15, 0.3, 0.1, 0.3, 0.15]), [0, 1, 2], arm_x
    )
    waist = J[0, 1] + rng.uniform(-0.05, 0.12)
    hem = np.interp(
        rng.choice([0.75, 1.25, 1.75, 2.05], p=[0.2, 0.15, 0.15, 0.5]), [0, 1, 2], leg_y
    )
    if hem > leg_y[2] - 0.001:  # full length: below the ankle joint
        hem = leg_y[2] - 0.05 * (leg_y[1] - leg_y[2])
    shoe_top = leg_y[2] + rng.uniform(-0.04, 0.06)
    dress = rng.random() < 0.12
    turtleneck = rng.random() < 0.1
    socks = rng.random() < 0.3
    bare_chest = rng.random() < 0.04

    labels = np.full(part.shape, SKIN, np.int32)
    upper = (trunk & (y > waist)) | (arm & (ax < sleeve)) | (turtleneck & (part == NECK_PART))
    if bare_chest:
        upper &= False
    labels[upper] = UPPER
    labels[((trunk | leg) & (y <= waist) & (y > hem)) | (dress & trunk)] = LOWER
    labels[leg & (y < shoe_top)] = SHOES
    return labels, shoe_top, socks


def _hair(atlas: TexelAtlas, labels: np.ndarray, rng: np.random.Generator) -> None:
    """Hair on the top and back of the skull (and the neck's back for long hair), in place."""
    style = rng.choice(["bald", "short", "medium", "long"], p=[0.1, 0.45, 0.25, 0.2])
    if style == "bald":
        return
    y, z, part, J = atlas.position[..., 1], atlas.position[..., 2], atlas.part, atlas.joints
    # hairlines as fractions of the head joint -> head top height
    hy, hz, hh = J[HEAD_PART, 1], J[HEAD_PART, 2], float(atlas.head_top - J[HEAD_PART, 1])
    front_line = hy + hh * {"short": 0.7, "medium": 0.6, "long": 0.54}[style]
    back_line = hy + hh * {"short": 0.14, "medium": -0.25, "long": -0.77}[style]
    side_line = hy + hh * {"short": 0.4, "medium": 0.14, "long": -0.25}[style]
    line = np.where(z > hz + 0.05, front_line, np.where(z < hz - 0.02, back_line, side_line))
    long_back = (part == NECK_PART) & (z < 0) & (style == "long")
    labels[((part == HEAD_PART) | long_back) & (y > line)] = HAIR


def _eyes(atlas: TexelAtlas, labels: np.ndarray, model) -> None:
    """Dark eyes around the model's eye landmarks (head texels within 11 mm), in place."""
    v = np.asarray(model.v_template, np.float32)
    for lm in model.landmarks:
        if lm.name in ("left_eye", "right_eye"):
            p = np.average(v[list(lm.vertices)], axis=0, weights=lm.weights)
            d = np.linalg.norm(atlas.position - p, axis=-1)
            labels[(d < 0.011) & (atlas.part == HEAD_PART)] = EYES


# per region, the probabilities of :data:`PATTERNS`
_PATTERN_PROBS = {
    UPPER: [0.3, 0.15, 0.08, 0.12, 0.08, 0.08, 0.12, 0.07],
    LOWER: [0.45, 0.05, 0.08, 0.1, 0.04, 0.08, 0.15, 0.05],
    SHOES: [0.6, 0.1, 0.0, 0.05, 0.0, 0.0, 0.2, 0.05],
}


def _paint(atlas: TexelAtlas, labels, rng, shoe_top: float, socks: bool) -> np.ndarray:
    """Colours (S, S, 3) float32 of the labelled regions: skin, hair, eyes, socks, and each
    garment in a drawn colour and pattern (denim for some trousers, prints on some tops)."""
    pos, part = atlas.position, atlas.part
    leg = np.isin(part, LEG_PARTS)
    out = np.zeros(part.shape + (3,), np.float32)
    out[:] = skin_tone(rng)
    hair_c = _HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))] * rng.uniform(0.85, 1.15)
    out[labels == HAIR] = np.clip(hair_c, 0, 1)
    out[labels == EYES] = rng.uniform(0.02, 0.15) * np.ones(3)
    sock_c = random_colour(rng)
    if socks:
        out[leg & (labels == SKIN) & (pos[..., 1] < shoe_top + rng.uniform(0.05, 0.2))] = sock_c
    for region in (UPPER, LOWER, SHOES):
        m = labels == region
        if not m.any():
            continue
        c1 = random_colour(rng)
        if region == LOWER and rng.random() < 0.3:  # denim
            c1 = _hsv_to_rgb(rng.uniform(0.58, 0.64), rng.uniform(0.4, 0.8), rng.uniform(0.2, 0.6))
        c2 = _second_colour(c1, rng)
        kind = rng.choice(PATTERNS, p=_PATTERN_PROBS[region])
        out[m] = _pattern(kind, atlas.axial[m], atlas.around[m], pos[m], c1, c2, rng)
        if region == UPPER and rng.random() < 0.25:
            trunk = np.isin(part, TRUNK_PARTS)
            _chest_print(pos, out, m & trunk, rng, _second_colour(c1, rng))
    return out
