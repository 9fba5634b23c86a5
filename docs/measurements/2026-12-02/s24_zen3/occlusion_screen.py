"""Screen: the share of each person's rendered pixels that another person's initial body hides
(every person's initial fit rasterized in the full photo; the nearest body wins a pixel).

Usage: python occlusion_screen.py PHOTO... (names in ../shared/real_images)
"""

import sys

import jax.numpy as jnp
import numpy as np

from jaxrefine.detect import read_image
from jaxrefine.photo import estimate_params, estimates_from_photo
from jaxrefine.refine import _pose, pose_batch
from jaxrefine.render import rasterize_batch
from jaxrefine.smpl_io import load_body_model

model = load_body_model()
for name in sys.argv[1:]:
    img = read_image(f"../shared/real_images/{name}")
    h, w = img.shape[:2]
    pe = estimates_from_photo(model, img)
    p = {k: jnp.asarray(v) for k, v in estimate_params(pe.estimates).items()}
    verts = pose_batch(model, _pose(p), p["betas"], p["transl"]).vertices
    fr = rasterize_batch(verts, model.faces, pe.cameras, h, w, cull_backfaces=True)
    tri, depth = np.asarray(fr.tri_id), np.asarray(fr.depth)
    own = tri >= 0
    d = np.where(own, depth, np.inf)
    print(name, len(tri), "people; z:", np.round(np.asarray(p["transl"])[:, 2], 1))
    for i in range(len(tri)):
        others = np.delete(d, i, axis=0).min(axis=0) if len(tri) > 1 else np.full((h, w), np.inf)
        occ = own[i] & (others < d[i])
        share = occ.sum() / max(own[i].sum(), 1)
        print(f"  person {i}: {own[i].sum():6d} px, hidden by another fit {occ.sum():6d} "
              f"({share:.1%})")  # fmt: skip
