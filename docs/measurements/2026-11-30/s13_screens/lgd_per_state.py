"""Per-state joint error of the shipped dense LGD on 64 validation frames (camera-stage starts);
 run for 10 and 20 learned steps (diagnostic only)."""
import sys, numpy as np, jax, jax.numpy as jnp
from jaxrefine import xla_flags; xla_flags.apply(host_devices=True)
from jaxrefine.smpl_io import load_body_model
from jaxrefine.data.poses import VALIDATION_SUBJECTS, load_poses
from jaxrefine.train import lgd as T
from jaxrefine.optimizers.learned import load_pretrained
model = load_body_model()
val = load_poses('/work/runs/cmu_poses.npz', subjects=VALIDATION_SUBJECTS).pose
kind = sys.argv[1] if len(sys.argv) > 1 else 'dense'
cfg = T.LGDConfig(kind=kind, camera_stage=True)
import os; batch = T.make_samples(model, val, cfg, seed=int(os.environ.get("SEED", 777)), size=int(os.environ.get("SIZE", 64)))
lgd = load_pretrained(kind)
for steps in (10,):
    p, d = T.fit_inputs(batch)
    res = T.run_lgd(lgd, T.body_objective(model, cfg), p, d, num_steps=steps)
    err = T.state_errors(model, res.iterates, batch)
    j = 1e3 * np.asarray(err['joint_m']).mean(0)
    print(kind, steps, 'joint mm per state:', ' '.join(f'{x:.1f}' for x in j))
    print('   pose_l1 per state:', ' '.join(f"{x:.3f}" for x in np.asarray(err['pose_l1']).mean(0)))
    print('   betas_l1 per state:', ' '.join(f"{x:.3f}" for x in np.asarray(err['betas_l1']).mean(0)))
from jaxrefine.body_model import posed_joints
it = res.iterates
pose = jnp.concatenate([it["global_orient"][..., None, :], it["body_pose"]], -2)
J = jax.vmap(jax.vmap(lambda p, b, t: posed_joints(model, p, b, t)))(pose, it["betas"], it["transl"])
G = jnp.asarray(batch['gt_joints'])[:, None]
ra = jnp.linalg.norm((J - J[..., :1, :]) - (G - G[..., :1, :]), axis=-1).mean((0, 2)) * 1e3
root = jnp.linalg.norm(J[..., 0, :] - G[..., 0, :], axis=-1).mean(0) * 1e3
rz = jnp.abs(J[..., 0, 2] - G[..., 0, 2]).mean(0) * 1e3
print('root-aligned joint mm:', ' '.join(f'{x:.1f}' for x in ra))
print('root error mm:', ' '.join(f'{x:.1f}' for x in root))
print('root depth error mm:', ' '.join(f'{x:.1f}' for x in rz))
