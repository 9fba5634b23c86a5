"""How many of the network's dense targets land outside the person's BlazePose mask (session 19).

For each photo and person: the first round's targets (initial estimate -> rendering ->
network -> per-vertex targets, as `refine` computes them) and the fraction of the vertices
with a target whose target lies farther than g x (the mask box's longer side) outside the
mask, for several g, beside the same fraction for the initial fit's own projections. No
accuracy is measured here: this calibrates the gate's threshold (what a clean single-person
photo loses) before any evaluation.

    .venv/bin/python docs/measurements/2026-12-01/s19_mask_gate/gate_fraction.py \
        --tiles 1.0 0.6 PHOTO...
"""

import argparse

from jaxrefine import xla_flags

xla_flags.apply(host_devices=True)  # as jaxrefine.cli.main does, before JAX starts

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxrefine.camera import project  # noqa: E402
from jaxrefine.detect import BlazePose, read_image  # noqa: E402
from jaxrefine.network import load_pretrained  # noqa: E402
from jaxrefine.photo import estimate_params, estimates_from_photo  # noqa: E402
from jaxrefine.refine import (  # noqa: E402
    _pose,
    pose_batch,
    predict_fields,
    render_crops,
    subject_colours,
    targets_from_fields,
)
from jaxrefine.silhouette import mask_side, outside_distance, silhouette_target  # noqa: E402
from jaxrefine.smpl_io import load_body_model  # noqa: E402

GATES = (0.01, 0.02, 0.03, 0.05, 0.1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("photos", nargs="+")
    ap.add_argument("--tiles", nargs="+", type=float, default=[1.0])
    args = ap.parse_args()
    model = load_body_model()
    cfg, params, _ = load_pretrained()
    runner = BlazePose()
    print("photo person side_px n_targets | targets beyond g*side for g=" + " ".join(
        map(str, GATES)) + " | initial projections beyond the same")
    for photo in args.photos:
        img = np.asarray(read_image(photo), np.float32) / 255.0
        pe = estimates_from_photo(model, img, tiles=tuple(args.tiles), runner=runner)
        p = {k: jnp.asarray(v) for k, v in estimate_params(pe.estimates).items()}
        n = len(pe.landmarks)
        verts = pose_batch(model, _pose(p), p["betas"], p["transl"]).vertices
        colours, idx = subject_colours(model, [img] * n, verts, pe.cameras, np.arange(n))
        rend = render_crops(model, [img] * n, verts, pe.cameras, jnp.asarray(colours[idx]),
                            crop_size=cfg.crop_size, backend="auto")  # fmt: skip
        pred = predict_fields(cfg, params, rend)
        tg, wt, _ = targets_from_fields(model, pred, verts, pe.cameras, use_confidence=False)
        for i in range(n):
            st = silhouette_target(pe.masks[i])
            side = float(mask_side(st))
            on = np.asarray(wt[i]) > 0
            d_t = np.asarray(outside_distance(st, tg[i]))[on]
            cam = jax.tree.map(lambda a, i=i: a[i], pe.cameras)
            d_0 = np.asarray(outside_distance(st, project(cam, verts[i])))[on]
            ft = " ".join(f"{np.mean(d_t > g * side):.3f}" for g in GATES)
            f0 = " ".join(f"{np.mean(d_0 > g * side):.3f}" for g in GATES)
            print(f"{photo.split('/')[-1]} {i} {side:.0f} {on.sum()} | {ft} | {f0}", flush=True)


if __name__ == "__main__":
    main()
