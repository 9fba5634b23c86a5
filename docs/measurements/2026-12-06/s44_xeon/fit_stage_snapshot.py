"""jaxprs and results of jaxrefine.fit.fit over its options, for a before/after refactor check."""
import sys, itertools, hashlib
import jax, jax.numpy as jnp, numpy as np
from jaxrefine.fit import fit
from jaxrefine.optimizers import Objective, adam, gauss_newton, lbfgs, levenberg_marquardt

T = jnp.linspace(0.0, 2.0, 12)
def res(p, d):
    a, b = p["ab"]
    return a * jnp.exp(b * T) + p["c"] - d["y"]
def terms(p, d):
    r = res(p, d)
    return {"first": jnp.sum(r[:6] ** 2), "second": jnp.sum(r[6:] ** 2)}
OBJ = Objective.from_residuals(res, terms_fn=terms)
p0 = {"ab": jnp.asarray([2.3, -0.8], jnp.float32), "c": jnp.asarray(0.1, jnp.float32)}
d = {"y": 2.0 * jnp.exp(-1.0 * T) + 0.3}
opts = {"adam": lambda: adam(0.05), "lbfgs": lbfgs, "lm": levenberg_marquardt, "gn": gauss_newton}
out = []
for name, rec, sel, it, tr in itertools.product(opts, (True, False), ("best", "last", "none"), (False, True), (None, {"ab"})):
    f = lambda p, d: fit(OBJ, p, d, opts[name](), num_steps=7, trainable=tr, record_terms=rec, select=sel, return_iterates=it)
    jp = str(jax.make_jaxpr(f)(p0, d))
    r = jax.jit(f)(p0, d)
    leaves = jax.tree_util.tree_leaves(r)
    h = hashlib.sha256(b"".join(np.asarray(l).tobytes() for l in leaves)).hexdigest()[:16]
    out.append(f"{name} rec={rec} sel={sel} it={it} tr={tr} jaxpr={hashlib.sha256(jp.encode()).hexdigest()[:16]} result={h} status={int(r.status)} final={float(r.final_loss):.9g}")
open(sys.argv[1], "w").write("\n".join(out) + "\n")
print(len(out), "cases")
