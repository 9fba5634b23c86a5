"""Memory maps and executable regions a dense SMPLify fit program adds to the process, with
the kinematic chain before and after pointer doubling (open model, batch 32, persistent
compilation cache off, one fresh process per variant).

Usage: python maps_chain_ab.py before|after
"""

import sys

import compile_chain_ab as ab  # applies jaxrefine's XLA flags first
import jax
import jax.numpy as jnp

from jaxrefine.bench.smplify import make_problem
from jaxrefine.objective import FitData, params_from_pose
from jaxrefine.priors import load_gmm
from jaxrefine.smplify import smplify


def maps():
    lines = open("/proc/self/maps").read().splitlines()
    return len(lines), sum(1 for ln in lines if ln.split()[1][2] == "x")


jax.config.update("jax_enable_compilation_cache", False)
ab.use(sys.argv[1])
model = ab.load("open")
(ipose, ibetas, itransl), focal, center, targets, conf, cams = make_problem(model, 32, "dense")
data = FitData(camera=cams, init_transl=jnp.asarray(itransl), pixel_scale=jnp.ones(32),
               dense_targets=jnp.asarray(targets), dense_weights=jnp.asarray(conf))  # fmt: skip
jax.block_until_ready(jnp.zeros(3) + 1)
m0, x0 = maps()
res = smplify(model, params_from_pose(ipose, ibetas, itransl), data, data_kind="dense",
              preset="dense", gmm=load_gmm(), camera_steps=2, body_steps=2)  # fmt: skip
jax.block_until_ready(res.params)
m1, x1 = maps()
print(f"{sys.argv[1]:7s} the fit program added {m1 - m0} memory maps, {x1 - x0} executable")
