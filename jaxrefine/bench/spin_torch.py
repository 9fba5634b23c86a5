"""A PyTorch reference of SPIN's SMPLify on smplx, written from SPIN's settings as
docs/METHOD.md states them (not copied from SPIN), for the parity test and
``jaxrefine bench smplify``.

Same structure as SPIN: camera stage (Adam, translation + global orientation, torso joints,
depth anchor) then body stage (Adam, body pose + betas + global orientation, GMoF data term,
max-mixture GMM, angle prior, shape prior), losses summed over the batch. ``data_kind="dense"``
swaps the keypoint term for jaxrefine's dense vertex term (same normalisation as
:mod:`jaxrefine.objective`) so the dense path can be compared too.
"""

from __future__ import annotations

import numpy as np

# smplx's 45 SMPL joints -> OpenPose BODY_25 (docs/METHOD.md, *Body model and keypoints*)
SMPLX_TO_BODY25 = [
    24,
    12,
    17,
    19,
    21,
    16,
    18,
    20,
    0,
    2,
    5,
    8,
    1,
    4,
    7,
    25,
    26,
    27,
    28,
    29,
    30,
    31,
    32,
    33,
    34,
]


def _nw(covars, weights) -> np.ndarray:
    """SMPLify's normalised component weights (float64): ``w_m / ((2 pi)^(D/2) s_m / min s)``,
    ``s_m = sqrt(det Sigma_m)``."""
    covars, weights = np.asarray(covars, np.float64), np.asarray(weights, np.float64)
    sqrdets = np.sqrt(np.linalg.det(covars))
    return weights / ((2 * np.pi) ** (covars.shape[-1] / 2.0) * sqrdets / sqrdets.min())


def spin_nll_weights(covars, weights) -> np.ndarray:
    """The per-component constants ``-log nw_m`` (M,) exactly as SPIN's prior gets them: ``nw``
    stored in float32 first, the log taken of that. Below float32's smallest subnormal (about
    1.4e-45, ``-log`` 103.3) ``nw`` is 0 and its constant ``inf``: the component never wins the
    max-mixture. Components between 87.3 and 103.3 keep a subnormal's reduced precision."""
    nw32 = np.asarray(_nw(covars, weights), np.float32)
    with np.errstate(divide="ignore"):
        return -np.log(nw32.astype(np.float64))


def spin_prior(gmm):
    """jaxrefine's :class:`~jaxrefine.priors.GMMPrior` with SPIN's constants
    (:func:`spin_nll_weights`): components dead in SPIN get ``inf`` and are never chosen, so a
    jaxrefine fit follows SPIN with any prior, the shipped one included. For the loss (max-
    mixture energy) form only, which Adam uses; the residual form needs finite constants."""
    import jax.numpy as jnp

    nll = spin_nll_weights(np.asarray(gmm.covars), np.asarray(gmm.weights))
    return gmm.replace(nll_weights=jnp.asarray(nll, gmm.nll_weights.dtype))


def _torch():
    import torch

    return torch


class SpinSMPLifyTorch:
    """SPIN-style SMPLify on smplx (float32 or float64).

    Args:
      arrays: SMPL-layout model arrays (smplx naming; posedirs may be absent).
      gmm: (means (8,69), covars (8,69,69), weights (8,)).
      dtype: "float32" or "float64".
      prior: "spin" (default): the GMM's normalised component weights are held in float32 and
        their log taken afterwards, as SPIN's prior does, so a component whose
        ``-log(weight x normaliser)`` exceeds ~103.3 underflows to weight 0 and is never chosen
        (:func:`spin_nll_weights`; the shipped CMU prior has one); "exact": ``-log`` in
        float64, every component kept (jaxrefine's own prior).
      weights: dict with sigma, pose_prior, angle_prior, shape_prior, depth (SPIN's values by
        default), use_angle_prior / use_depth_prior switches.
    """

    def __init__(self, arrays: dict, gmm, dtype="float32", num_betas=10, prior="spin", **weights):
        torch = _torch()
        from smplx import SMPL
        from smplx.utils import Struct

        arrays = dict(arrays)
        if "posedirs" not in arrays:
            arrays["posedirs"] = np.zeros((arrays["v_template"].shape[0], 3, 207))
        self.dtype = getattr(torch, dtype)
        self.smpl = SMPL(
            "unused", data_struct=Struct(**arrays), num_betas=num_betas, dtype=self.dtype
        )
        if prior not in ("spin", "exact"):
            raise ValueError(f"prior must be 'spin' or 'exact', got {prior!r}")
        means, covars, wts = (np.asarray(x, np.float64) for x in gmm)
        prec = np.linalg.inv(covars)
        nll = spin_nll_weights(covars, wts) if prior == "spin" else -np.log(_nw(covars, wts))
        self.means = torch.tensor(means, dtype=self.dtype)
        self.prec = torch.tensor(prec, dtype=self.dtype)
        self.neg_log_nw = torch.tensor(nll, dtype=self.dtype)
        self.w = dict(sigma=100.0, pose_prior=4.78, angle_prior=15.2, shape_prior=5.0, depth=100.0,
                      use_angle_prior=True, use_depth_prior=True, data=1.0)  # fmt: skip
        self.w.update(weights)

    # -- model pieces -------------------------------------------------------------------------
    def _forward(self, go, bp, betas):
        o = self.smpl(global_orient=go, body_pose=bp, betas=betas)
        return o.vertices, o.joints[:, SMPLX_TO_BODY25]

    def _project(self, pts, t, focal, center):
        p = pts + t[:, None]
        return focal[:, None, :] * p[..., :2] / p[..., 2:] + center[:, None]

    def _gmof(self, r):
        s2 = self.w["sigma"] ** 2
        return s2 * r**2 / (s2 + r**2)

    def _gmm(self, bp):
        d = bp[:, None, :] - self.means[None]
        e = 0.5 * torch_einsum("bmi,mij,bmj->bm", d, self.prec, d) + self.neg_log_nw
        return e.min(dim=1).values

    # -- losses (per sample; SPIN sums them over the batch) ----------------------------------
    def camera_loss(self, go, bp, betas, t, t0, focal, center, targets, conf, kind, scale):
        verts, kp = self._forward(go, bp, betas)
        if kind == "keypoints":
            idx = [9, 12, 2, 5]
            r = (self._project(kp[:, idx], t, focal, center) - targets[:, idx]) * scale[
                :, None, None
            ]
            data = ((r * (conf[:, idx] > 0)[..., None]) ** 2).sum((1, 2))
        else:
            r = (self._project(verts, t, focal, center) - targets) * scale[:, None, None]
            n = (conf > 0).sum(1).clamp(min=1)
            data = (conf[..., None] * r**2).sum((1, 2)) * 25.0 / n
        data = data * self.w["data"] ** 2
        if self.w["use_depth_prior"]:
            data = data + self.w["depth"] ** 2 * (t[:, 2] - t0[:, 2]) ** 2
        return data

    def body_loss(self, go, bp, betas, t, focal, center, targets, conf, kind, scale, ignore):
        verts, kp = self._forward(go, bp, betas)
        if kind == "keypoints":
            c = conf.clone()
            c[:, list(ignore)] = 0.0
            r = (self._project(kp, t, focal, center) - targets) * scale[:, None, None]
            data = (c[..., None] ** 2 * self._gmof(r)).sum((1, 2))
        else:
            r = (self._project(verts, t, focal, center) - targets) * scale[:, None, None]
            n = (conf > 0).sum(1).clamp(min=1)
            data = (conf[..., None] * self._gmof(r)).sum((1, 2)) * 25.0 / n
        total = data * self.w["data"] ** 2
        total = total + self.w["pose_prior"] ** 2 * self._gmm(bp)
        if self.w["use_angle_prior"]:
            sel = bp[:, [52, 55, 9, 12]] * bp.new_tensor([1.0, -1.0, -1.0, -1.0])
            total = total + self.w["angle_prior"] ** 2 * (torch_exp(sel) ** 2).sum(1)
        total = total + self.w["shape_prior"] ** 2 * (betas**2).sum(1)
        return total

    def fit(self, pose, betas, transl, focal, center, targets, conf, *, kind="keypoints",
            scale=None, camera_steps=100, body_steps=100, lr=1e-2, ignore=(1, 9, 12)):  # fmt: skip
        """Returns dict of numpy arrays: global_orient, body_pose, betas, transl, and the
        per-sample camera / body losses at the end of each stage."""
        torch = _torch()
        T = lambda x: torch.tensor(np.asarray(x), dtype=self.dtype)  # noqa: E731
        pose, betas, t = T(pose).reshape(len(pose), 72), T(betas), T(transl)
        focal = T(focal).reshape(-1, 1).repeat(1, 2)
        center, targets, conf = T(center), T(targets), T(conf)
        scale = torch.ones(len(pose), dtype=self.dtype) if scale is None else T(scale)
        go = pose[:, :3].clone().requires_grad_(True)
        bp = pose[:, 3:].clone()
        be = betas.clone()
        t = t.clone().requires_grad_(True)
        t0 = t.detach().clone()
        opt = torch.optim.Adam([go, t], lr=lr, betas=(0.9, 0.999))
        for _ in range(camera_steps):
            loss = self.camera_loss(go, bp, be, t, t0, focal, center, targets, conf, kind, scale)
            opt.zero_grad()
            loss.sum().backward()
            opt.step()
        with torch.no_grad():
            cam_loss = self.camera_loss(
                go, bp, be, t, t0, focal, center, targets, conf, kind, scale
            )
        t = t.detach()
        bp.requires_grad_(True)
        be.requires_grad_(True)
        opt = torch.optim.Adam([bp, be, go], lr=lr, betas=(0.9, 0.999))
        for _ in range(body_steps):
            loss = self.body_loss(go, bp, be, t, focal, center, targets, conf, kind, scale, ignore)
            opt.zero_grad()
            loss.sum().backward()
            opt.step()
        with torch.no_grad():
            body_loss = self.body_loss(
                go, bp, be, t, focal, center, targets, conf, kind, scale, ignore
            )
        n = lambda x: x.detach().numpy()  # noqa: E731
        return {
            "global_orient": n(go), "body_pose": n(bp).reshape(-1, 23, 3), "betas": n(be),
            "transl": n(t), "camera_loss": n(cam_loss), "body_loss": n(body_loss),
        }  # fmt: skip


def torch_einsum(*a):
    return _torch().einsum(*a)


def torch_exp(x):
    return _torch().exp(x)
