"""How far degraded dense targets are from the oracle's (mean px over valid vertices)."""
import dataclasses, numpy as np
from jaxrefine.smpl_io import load_body_model
from jaxrefine.data.poses import load_poses, VALIDATION_SUBJECTS
from jaxrefine.train.lgd import LGDConfig, make_samples
model = load_body_model()
poses = load_poses("/work/runs/cmu_poses.npz", subjects=VALIDATION_SUBJECTS).pose
base = LGDConfig(kind="dense_keypoints")
ref = make_samples(model, poses, base, seed=3, size=16)
for shrink, noise in [((1.0, 1.0), 0.0), ((0.3, 1.0), 0.0), ((0.3, 1.0), 3.0), ((1.0, 1.0), 3.0)]:
    cfg = dataclasses.replace(base, dense_shrink=shrink, dense_part_noise_px=noise)
    s = make_samples(model, poses, cfg, seed=3, size=16)
    w = s["dense_weights"] > 0
    d = np.linalg.norm(s["dense_targets"] - ref["dense_targets"], axis=-1)[w]
    same_kp = np.array_equal(s["keypoints"], ref["keypoints"])
    print(shrink, noise, f"mean {d.mean():.2f} px, median {np.median(d):.2f}, keypoints same {same_kp}")
