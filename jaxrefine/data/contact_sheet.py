"""A contact sheet of generated frames, for a person to look at.

Per frame, three tiles side by side: the generated image; the ground-truth body rendered
(shaded, light green) over it; the initial estimate rendered (shaded, orange) over it, with
the ground truth's silhouette outline in green for comparison. ``python -m
jaxrefine.data.contact_sheet --out demo/contact_sheet.png`` writes one from the shipped
model and CMU poses (``make demo``).
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine import viz
from jaxrefine.body_model import forward
from jaxrefine.data.scenes import SceneBatch
from jaxrefine.errors import refuse_below
from jaxrefine.files import output_file_arg
from jaxrefine.render import rasterize
from jaxrefine.shading import interpolate, shade, vertex_normals

logger = logging.getLogger(__name__)

GT_COLOUR = (0.55, 0.9, 0.55)
INIT_COLOUR = (1.0, 0.6, 0.25)


@functools.partial(jax.jit, static_argnames=("height", "width", "backend"))
def render_bodies(model, pose, betas, transl, cameras, colour, *, height, width, backend):
    def one(p, b, t, cam):
        v = forward(model, p, b, t).vertices
        frags = rasterize(v, model.faces, cam, height, width, backend, cull_backfaces=True)
        mask = frags.tri_id >= 0
        n = interpolate(vertex_normals(v, model.faces), model.faces, frags)
        n = n / jnp.maximum(jnp.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
        albedo = jnp.broadcast_to(colour, mask.shape + (3,))
        return shade(albedo, n, mask, ambient=0.35, diffuse=0.65), mask

    return jax.vmap(one)(pose, betas, transl, cameras)


def render_overlays(model, batch: SceneBatch, backend: str = "auto") -> np.ndarray:
    """Tiles of every frame: image, ground truth overlay, initial-estimate overlay.

    Args:
      model: the body model the batch was generated with.
      batch: a :class:`~jaxrefine.data.scenes.SceneBatch`.
      backend: rasterizer backend.

    Returns:
      (N, 3, H, W, 3) float32 tiles.
    """
    from jaxrefine.data.scenes import resolve_backend

    h, w = batch.image_size
    be = resolve_backend(backend)
    cams = batch.cameras
    gt, gt_mask = render_bodies(
        model, jnp.asarray(batch.pose), jnp.asarray(batch.betas), jnp.asarray(batch.transl),
        cams, jnp.asarray(GT_COLOUR), height=h, width=w, backend=be,
    )  # fmt: skip
    ini, ini_mask = render_bodies(
        model, jnp.asarray(batch.init_pose), jnp.asarray(batch.init_betas),
        jnp.asarray(batch.init_transl), cams, jnp.asarray(INIT_COLOUR), height=h, width=w,
        backend=be,
    )  # fmt: skip
    gt, gt_mask, ini, ini_mask = (np.asarray(a) for a in (gt, gt_mask, ini, ini_mask))
    tiles = []
    for i in range(len(batch)):
        img = batch.image[i]
        a = viz.overlay(img, gt[i], gt_mask[i], alpha=0.7)
        b = viz.overlay(img, ini[i], ini_mask[i], alpha=0.7)
        edge = _outline(gt_mask[i])
        b[edge] = GT_COLOUR
        tiles.append(np.stack([viz.as_float_image(img), a, b]))
    return np.stack(tiles).astype(np.float32)


def _outline(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool pixels of the mask whose 4-neighbourhood leaves it."""
    m = np.asarray(mask, bool)
    p = np.pad(m, 1)
    inner = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return m & ~inner


def contact_sheet(
    batch: SceneBatch, path, model=None, rows: int | None = None, backend: str = "auto"
) -> str:
    """Write a PNG grid: per frame the image, the ground truth and the initial estimate.

    Args:
      batch: generated frames.
      path: output PNG path (folders are created).
      model: the body model of the batch (default: the shipped open model).
      rows: grid rows (default: two frames per row); each frame takes three adjacent tiles.
      backend: rasterizer backend.

    Returns:
      The path written.

    Raises:
      ValueError: ``rows`` below 1 (before anything is rendered).
    """
    if rows is not None and rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    if model is None:
        from jaxrefine import load_body_model

        model = load_body_model()
    tiles = render_overlays(model, batch, backend)
    n = len(batch)
    rows = -(-n // 2) if rows is None else int(rows)
    per_row = -(-n // rows)
    flat = []
    for r in range(rows):
        for c in range(per_row):
            i = r * per_row + c
            flat += list(tiles[i]) if i < n else [np.ones_like(tiles[0, 0])] * 3
    return viz.save_png(path, viz.image_grid(flat, ncols=per_row * 3, pad=2))


def main(argv: list[str] | None = None) -> int:
    """``python -m jaxrefine.data.contact_sheet``: generate frames and write a contact sheet."""
    from jaxrefine import load_body_model
    from jaxrefine.data.poses import given_poses
    from jaxrefine.data.sampling import SceneConfig
    from jaxrefine.data.scenes import GeneratorConfig, generate

    ap = argparse.ArgumentParser(prog="jaxrefine contact-sheet", description=__doc__)
    ap.add_argument("--out", default="demo/contact_sheet.png", type=output_file_arg)
    ap.add_argument("--poses", default=None, help="POSES.npz from `jaxrefine mocap` (key pose)")
    ap.add_argument("--mocap", default=None, help="else: a CMU folder to read a few trials from")
    ap.add_argument("-n", type=int, default=8)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--difficulty", default="medium", choices=["easy", "medium", "hard"])
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--backend", default="auto", choices=["auto", "egl", "jax"])
    args = ap.parse_args(argv)
    # --rows 0 once divided by zero after the render
    refuse_below(ap, ("-n", args.n, 1), ("--rows", args.rows, 1))
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("jaxrefine").setLevel(logging.INFO)  # not JAX's own INFO lines
    model = load_body_model()
    poses, _ = given_poses(model, args.poses, args.mocap)
    cfg = GeneratorConfig(
        scene=SceneConfig(image_size=(args.size, args.size)),
        difficulty=args.difficulty,
        backend=args.backend,
    )
    batch = generate(model, poses, args.n, args.seed, cfg)
    path = contact_sheet(batch, args.out, model=model, rows=args.rows, backend=args.backend)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
