"""What the displacement network sees and predicts on one photo (session 18 diagnostic).

Writes OUT/network_view.png: the image crop, the initial rendering (texture channels), the
predicted field's magnitude, and the per-vertex targets (arrows from the initial projection
to the target) over the full photo; prints how many vertices with a target project outside
the image and their mean displacement vs those inside.

    .venv/bin/python docs/measurements/2026-12-01/s18_upper_body/network_view.py PHOTO OUT [CKPT]
"""

import sys
from pathlib import Path

from jaxrefine import xla_flags

xla_flags.apply(host_devices=True)  # as jaxrefine.cli.main does, before JAX starts

import imageio.v3 as iio  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from jaxrefine.camera import project  # noqa: E402
from jaxrefine.detect import read_image  # noqa: E402
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
from jaxrefine.smpl_io import load_body_model  # noqa: E402


def main(photo, out, ckpt=None):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_body_model()
    cfg, params, _ = load_pretrained(ckpt)
    img = np.asarray(read_image(photo), np.float32) / 255.0
    h, w = img.shape[:2]
    pe = estimates_from_photo(model, img)
    p = {k: jnp.asarray(v) for k, v in estimate_params(pe.estimates).items()}
    n = len(pe.landmarks)
    verts = pose_batch(model, _pose(p), p["betas"], p["transl"]).vertices
    colours, idx = subject_colours(model, [img] * n, verts, pe.cameras, np.arange(n))
    rend = render_crops(model, [img] * n, verts, pe.cameras, jnp.asarray(colours[idx]),
                        crop_size=cfg.crop_size, backend="auto")  # fmt: skip
    pred = predict_fields(cfg, params, rend)
    tg, wt, md = targets_from_fields(model, pred, verts, pe.cameras, use_confidence=False)
    for i in range(n):
        uv = np.asarray(project(jax_tree_i(pe.cameras, i), verts[i]))
        t = np.asarray(tg[i])
        on = np.asarray(wt[i]) > 0
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
        d = np.linalg.norm(t - uv, axis=1)
        print(f"person {i}: box size {float(rend.box_size[i]):.0f} px (image {w}x{h}); "
              f"vertices with a target {on.sum()}, of them outside the image "
              f"{(on & ~inside).sum()}; mean |displacement| inside {d[on & inside].mean():.1f} "
              f"px, outside {d[on & ~inside].mean() if (on & ~inside).any() else float('nan'):.1f} px")
        fig, ax = plt.subplots(1, 4, figsize=(16, 4.4))
        ax[0].imshow(np.asarray(rend.image_crop[i]))
        ax[0].set_title("image crop (network input)")
        ax[1].imshow(np.clip(np.asarray(rend.renders[i][..., :3]), 0, 1))
        ax[1].set_title("rendering channels 0-2")
        mag = np.linalg.norm(np.asarray(pred.field[i]), axis=-1)
        mag = np.where(np.asarray(rend.tri_id[i]) >= 0, mag, np.nan)
        im = ax[2].imshow(mag)
        plt.colorbar(im, ax=ax[2])
        ax[2].set_title("|field| on the rendering (crop px)")
        ax[3].imshow(img)
        sel = np.flatnonzero(on)[::15]
        ax[3].quiver(uv[sel, 0], uv[sel, 1], t[sel, 0] - uv[sel, 0], t[sel, 1] - uv[sel, 1],
                     angles="xy", scale_units="xy", scale=1, color="yellow", width=0.003)
        ax[3].set_xlim(min(0, uv[:, 0].min()), max(w, uv[:, 0].max()))
        ax[3].set_ylim(max(h, uv[:, 1].max()), min(0, uv[:, 1].min()))
        ax[3].set_title("targets (every 15th vertex)")
        for a in ax:
            a.axis("off")
        fig.tight_layout()
        fig.savefig(out / f"network_view_{i}.png", dpi=70)
        plt.close(fig)


def jax_tree_i(tree, i):
    import jax

    return jax.tree.map(lambda a: a[i], tree)


if __name__ == "__main__":
    main(*sys.argv[1:])
