"""``jaxrefine bench raster``: rasterizer frames/s, EGL kernel vs JAX fallback vs pyrender.

Same meshes, same cameras, same run, timed round-robin (:func:`jaxrefine.bench.common.interleaved`):

* ``egl``: :func:`jaxrefine.render.rasterize_batch` with the EGL backend (one host call and one
  instanced draw per batch; upload and read-back included; outputs tri_id, bary, depth).
* ``egl-cull``: the same with back-face culling (exact for the closed body mesh).
* ``jax``: the pure-JAX z-buffer (:func:`jaxrefine.render.rasterize_jax`, jit + vmap).
* ``pyrender``: pyrender's OffscreenRenderer, depth only, new mesh each frame, multisampling
  off (only when pyrender is importable; its rows are skipped with a note otherwise).

The mesh is the shipped open body model (``jaxrefine.load_body_model()``) when it exists, else
:func:`figure_mesh`, a procedural closed figure of similar size (12,828 vertices, 25,600 faces).
"""

from __future__ import annotations

import functools

import numpy as np

# --------------------------------------------------------------------------- stand-in mesh


@functools.cache
def icosphere(level: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere: (V, 3) float64 vertices, (F, 3) int32 outward (CCW) faces."""
    t = (1.0 + 5**0.5) / 2
    v = [
        (-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0),
        (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
        (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1),
    ]  # fmt: skip
    f = [
        (0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11),
        (1, 5, 9), (5, 11, 4), (11, 10, 2), (10, 7, 6), (7, 1, 8),
        (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9),
        (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1),
    ]  # fmt: skip
    verts = [np.array(p, float) / np.linalg.norm(p) for p in v]
    faces = f

    def mid(a, b, cache):
        key = (min(a, b), max(a, b))
        if key not in cache:
            m = verts[a] + verts[b]
            verts.append(m / np.linalg.norm(m))
            cache[key] = len(verts) - 1
        return cache[key]

    for _ in range(level):
        cache: dict[tuple[int, int], int] = {}

        new = []
        for a, b, c in faces:
            ab, bc, ca = mid(a, b, cache), mid(b, c, cache), mid(c, a, cache)
            new += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new
    return np.array(verts), np.array(faces, np.int32)


def _rot(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def _ellipsoid(level, centre, radii, direction=(0.0, 1.0, 0.0)):
    v, f = icosphere(level)
    v = v * np.asarray(radii)
    d = np.asarray(direction, float)
    d /= np.linalg.norm(d)
    y = np.array([0.0, 1.0, 0.0])
    ax = np.cross(y, d)
    if np.linalg.norm(ax) > 1e-9:
        v = v @ _rot(ax, np.arccos(np.clip(y @ d, -1, 1))).T
    elif d[1] < 0:
        v = v * np.array([1.0, -1.0, -1.0])  # rotate 180 degrees about x: keeps orientation
    return v + np.asarray(centre), f


def figure_mesh(pose: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A closed, outward-facing human-like figure of body-model size, in SMPL axes.

    14 ellipsoids (torso and head from level-4 icospheres, limbs, hands, feet from level-3):
    12,828 vertices, 25,600 faces, y up, facing +z, about 1.75 m tall, pelvis near the origin.
    The parts overlap like a body's (self-occlusion), the mesh is not welded across parts.

    Args:
      pose: 0 = an A-pose; other values draw random limb angles (seeded by ``pose``), with
        arms often crossing in front of the torso.

    Returns:
      vertices (V, 3) float32, faces (F, 3) int32.
    """
    rng = np.random.default_rng(pose)
    parts = [
        _ellipsoid(4, (0, 0.25, 0), (0.17, 0.32, 0.11)),  # torso
        _ellipsoid(4, (0, 0.72, 0.01), (0.085, 0.115, 0.1)),  # head
    ]
    for side in (1.0, -1.0):
        # Arm: shoulder -> elbow -> wrist -> hand.
        if pose == 0:
            a1 = np.array([side * 0.7, -0.7, 0.0])
            a2 = a1.copy()
        else:
            a1 = np.array([side * rng.uniform(0.1, 1.0), rng.uniform(-1, 0.3), rng.uniform(0, 1)])
            a2 = np.array([-side * rng.uniform(0, 1.0), rng.uniform(-1, 0.5), rng.uniform(0, 1.2)])
        a1 /= np.linalg.norm(a1)
        a2 /= np.linalg.norm(a2)
        shoulder = np.array([side * 0.2, 0.5, 0.0])
        elbow = shoulder + 0.28 * a1
        wrist = elbow + 0.25 * a2
        parts.append(_ellipsoid(3, (shoulder + elbow) / 2, (0.05, 0.17, 0.05), a1))
        parts.append(_ellipsoid(3, (elbow + wrist) / 2, (0.04, 0.15, 0.04), a2))
        parts.append(_ellipsoid(3, wrist + 0.07 * a2, (0.045, 0.08, 0.025), a2))
        # Leg: hip -> knee -> ankle -> foot.
        l1 = np.array([side * 0.05, -1.0, 0.0 if pose == 0 else rng.uniform(-0.2, 0.8)])
        l2 = np.array([0.0, -1.0, 0.0 if pose == 0 else rng.uniform(-0.8, 0.1)])
        l1 /= np.linalg.norm(l1)
        l2 /= np.linalg.norm(l2)
        hip = np.array([side * 0.09, -0.02, 0.0])
        knee = hip + 0.42 * l1
        ankle = knee + 0.4 * l2
        parts.append(_ellipsoid(3, (hip + knee) / 2, (0.08, 0.24, 0.08), l1))
        parts.append(_ellipsoid(3, (knee + ankle) / 2, (0.055, 0.22, 0.055), l2))
        parts.append(_ellipsoid(3, ankle + np.array([0, -0.04, 0.06]), (0.05, 0.04, 0.12)))
    verts, faces, n = [], [], 0
    for v, f in parts:
        verts.append(v)
        faces.append(f + n)
        n += len(v)
    return np.concatenate(verts).astype(np.float32), np.concatenate(faces).astype(np.int32)
