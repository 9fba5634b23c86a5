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

import argparse
import functools
import os
import time

import numpy as np

from jaxrefine.bench.common import count, seconds
from jaxrefine.files import output_file_arg

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


# --------------------------------------------------------------------------- pyrender


def import_pyrender():
    """Import pyrender for headless EGL rendering with its 4x multisampling turned off.

    Returns the module, or raises ImportError / OSError (e.g. missing ``libxrender1``) when it
    cannot be used. Sets ``PYOPENGL_PLATFORM=egl`` and ``EGL_PLATFORM=surfaceless`` unless set.
    """
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    import pyrender
    import pyrender.renderer as prr

    if not getattr(prr, "_jaxrefine_no_msaa", False):
        storage = prr.glRenderbufferStorageMultisample

        def single_sample(target, samples, fmt, width, height):
            return storage(target, 0, fmt, width, height)

        prr.glRenderbufferStorageMultisample = single_sample
        prr._jaxrefine_no_msaa = True
    return pyrender


class PyrenderDepth:
    """pyrender depth-only renderer of (V, 3) meshes seen by OpenCV cameras (new mesh per call)."""

    def __init__(self, height: int, width: int, znear: float = 0.05, zfar: float = 100.0):
        self.pyrender = import_pyrender()
        self.height, self.width = height, width
        self.znear, self.zfar = znear, zfar
        self.renderer = self.pyrender.OffscreenRenderer(width, height)

    def depth(self, vertices, faces, fx, fy, cx, cy, R, t) -> np.ndarray:
        """(H, W) float32 depth (0 = background) of world-space ``vertices`` (V, 3)."""
        import trimesh

        pr = self.pyrender
        # OpenGL camera (y up, looking down -z) = OpenCV camera rotated by pi about x.
        pc = (np.asarray(vertices) @ np.asarray(R).T + np.asarray(t)) * np.array([1.0, -1, -1])
        mesh = pr.Mesh.from_trimesh(trimesh.Trimesh(pc, faces, process=False), smooth=False)
        scene = pr.Scene()
        scene.add(mesh)
        cam = pr.IntrinsicsCamera(
            float(fx), float(fy), float(cx), float(cy), znear=self.znear, zfar=self.zfar
        )
        scene.add(cam, pose=np.eye(4))
        return self.renderer.render(scene, flags=pr.RenderFlags.DEPTH_ONLY)

    def close(self) -> None:
        self.renderer.delete()


# --------------------------------------------------------------------------- benchmark


def bench_meshes(batch: int, seed: int = 0):
    """``batch`` posed meshes (B, V, 3) float32, faces (F, 3) int32 and a name.

    The shipped open body model in random poses when it is installed, else :func:`figure_mesh`.
    """
    rng = np.random.default_rng(seed)
    try:
        import jax.numpy as jnp

        import jaxrefine
        from jaxrefine.body_model import forward

        model = jaxrefine.load_body_model()
    except (FileNotFoundError, ImportError, AttributeError):
        meshes = [figure_mesh(i % 8) for i in range(batch)]
        return np.stack([m[0] for m in meshes]), meshes[0][1], "procedural figure"
    verts = []
    for _ in range(batch):
        pose = rng.normal(0, 0.25, (24, 3))
        pose[0] = 0
        out = forward(model, jnp.asarray(pose, jnp.float32), jnp.zeros(model.num_betas))
        verts.append(np.asarray(out.vertices, np.float32))
    return np.stack(verts), np.asarray(model.faces, np.int32), model.model_id


def bench_cameras(batch: int, height: int, width: int, seed: int = 0):
    """Per-frame cameras (batched :class:`Camera`) framing a standing body, varied yaw."""
    import jax
    import jax.numpy as jnp

    from jaxrefine.camera import Camera

    rng = np.random.default_rng(seed + 1)
    cams = []
    for _ in range(batch):
        yaw = rng.uniform(-np.pi, np.pi)
        c, s = np.cos(yaw), np.sin(yaw)
        R = np.diag([1.0, -1.0, -1.0]) @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
        dist = rng.uniform(2.6, 3.4)
        f = 0.85 * height * dist / 1.8
        cams.append(Camera.create(f, f, width / 2, height / 2, R, [0.0, 0.1, dist]))
    return jax.tree.map(lambda *x: jnp.stack(x), *cams)


BACKENDS = ("egl", "egl-cull", "jax", "pyrender")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="jaxrefine bench raster", description=__doc__)
    parser.add_argument("--sizes", type=count, nargs="+", default=[256, 512])
    parser.add_argument("--batches", type=count, nargs="+", default=[1, 8, 32])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--budget", type=seconds, default=3.0, help="seconds per configuration")
    parser.add_argument("--json", default=None, type=output_file_arg,
                        help="write the results to this file")  # fmt: skip
    return parser.parse_args(argv)


def _available_backends(requested: list[str]) -> tuple[list[str], list[str]]:
    """The requested backends this machine can run, and notes on those it cannot."""
    from jaxrefine import render

    backends, notes = list(requested), []
    if any(b.startswith("egl") for b in backends) and not render.egl_available():
        notes.append("EGL rows skipped: no EGL context (install libegl1 libgl1)")
        backends = [b for b in backends if not b.startswith("egl")]
    if "pyrender" in backends:
        try:
            import_pyrender()
        except Exception as e:  # ImportError, OSError (libxrender1), ...
            notes.append(f"pyrender rows skipped: pyrender is not importable ({e})")
            backends.remove("pyrender")
    return backends, notes


def _callables(backends, verts_np, faces, verts, cams, size: int, pyr):
    """One blocking callable per backend for a batch, and the first-call (compile) seconds of
    the jaxrefine backends."""
    import jax

    from jaxrefine import render

    batch = len(verts)
    fj = jax.numpy.asarray(faces)
    fns, compile_s = {}, {}
    for b in backends:
        if b == "pyrender":
            cam_np = jax.tree.map(np.asarray, cams)

            def run_pyrender(cam_np=cam_np, batch=batch, pyr=pyr):
                for i in range(batch):
                    pyr.depth(
                        verts_np[i], faces, cam_np.fx[i], cam_np.fy[i], cam_np.cx[i],
                        cam_np.cy[i], cam_np.R[i], cam_np.t[i],
                    )  # fmt: skip

            fns[b] = run_pyrender
            continue
        backend = "jax" if b == "jax" else "egl"
        cull = b == "egl-cull"

        def run(verts=verts, cams=cams, backend=backend, cull=cull, size=size):
            out = render.rasterize_batch(verts, fj, cams, size, size, backend, cull_backfaces=cull)
            return jax.block_until_ready(out)

        t0 = time.perf_counter()
        run()
        compile_s[b] = time.perf_counter() - t0
        fns[b] = run
    return fns, compile_s


def _records(times, backends, compile_s, size: int, batch: int):
    """Per backend: the JSON record and the table row (ms per frame vs the reference: pyrender
    when measured, else the JAX fallback)."""
    ref = "pyrender" if "pyrender" in times else ("jax" if "jax" in times else None)
    ref_ms = np.median(times[ref]) * 1e3 / batch if ref else None
    out = []
    for b in backends:
        t = times[b] * 1e3 / batch  # ms per frame
        med = float(np.median(t))
        res = {
            "backend": b,
            "size": size,
            "batch": batch,
            "ms_per_frame_median": med,
            "ms_per_frame_min": float(t.min()),
            "ms_per_frame_max": float(t.max()),
            "frames_per_s": 1e3 / med,
            "reps": len(t),
            "first_call_s": compile_s.get(b),
            "speedup_vs_ref": (ref_ms / med) if ref else None,
            "reference": ref,
        }
        row = [
            f"{size}x{size}", batch, b, f"{med:.2f}", f"{t.min():.2f}-{t.max():.2f}",
            f"{1e3 / med:.0f}", f"{ref_ms / med:.2f}x" if ref else "-", len(t),
        ]  # fmt: skip
        out.append((res, row))
    return out


def main(argv: list[str] | None = None) -> int:
    import jax

    from jaxrefine import render
    from jaxrefine.bench.common import interleaved
    from jaxrefine.report import machine_info, print_table, write_json

    args = _parse_args(argv)
    backends, notes = _available_backends(args.backends)
    verts_all, faces, mesh_name = bench_meshes(max(args.batches))
    print(
        f"mesh: {mesh_name} ({verts_all.shape[1]} vertices, {faces.shape[0]} faces); "
        f"backends: {', '.join(backends)}"
    )
    if render.egl_available():
        print(f"EGL renderer: {render.default_rasterizer().renderer}")
    for n in notes:
        print("note:", n)

    rows, results = [], []
    for size in args.sizes:
        cams_all = bench_cameras(max(args.batches), size, size)
        pyr = PyrenderDepth(size, size) if "pyrender" in backends else None
        for batch in args.batches:
            verts = jax.numpy.asarray(verts_all[:batch])
            cams = jax.tree.map(lambda x, b=batch: x[:b], cams_all)
            fns, compile_s = _callables(backends, verts_all, faces, verts, cams, size, pyr)
            times = interleaved(fns, min_reps=3, budget_s=args.budget)
            for res, row in _records(times, backends, compile_s, size, batch):
                results.append(res)
                rows.append(row)
        if pyr is not None:
            pyr.close()
    print()
    print_table(
        ["image", "batch", "backend", "ms/frame", "range", "frames/s", "vs ref", "reps"], rows
    )
    print(
        "ms/frame include upload and read-back (EGL: one host call per batch, outputs tri_id, "
        "bary, depth; JAX: lax.map over frames; pyrender: depth only, new mesh per frame, "
        "multisampling off). 'vs ref' = reference ms/frame / this ms/frame, reference = "
        "pyrender if present, else the JAX fallback."
    )
    write_json(
        args.json,
        {
            "benchmark": "raster",
            "machine": machine_info(),
            "mesh": {"name": mesh_name, "vertices": int(verts_all.shape[1]),
                     "faces": int(faces.shape[0])},
            "egl_renderer": render.default_rasterizer().renderer
            if render.egl_available() else None,
            "notes": notes,
            "results": results,
        },
    )  # fmt: skip
    return 0
