"""Jaxpr equations of one SMPLify fit program (tiny 64-vertex test body, body stage of 3 steps,
dense data), counted by the jaxrefine function that emitted them, with the kinematic chain
before or after pointer doubling (compile_chain_ab.py's variants).

Usage, from the repository root:
  python docs/measurements/2026-12-02/s23_zen3/jaxpr_count.py before|after
"""

import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, "tests")
import compile_chain_ab as ab  # noqa: E402  (applies jaxrefine's XLA flags first)
import jax  # noqa: E402
from jax._src import source_info_util  # noqa: E402
from test_smplify import tiny_model, tiny_problem  # noqa: E402

import jaxrefine.fit as F  # noqa: E402
from jaxrefine.smplify import smplify  # noqa: E402

ab.use(sys.argv[1])
model = tiny_model()
init, data, _ = tiny_problem(model)
captured = {}
compiled_fit = F._fit_stages_batch_jit


def spy(dyn, params, d, **kw):
    captured["args"] = (dyn, params, d, kw)
    return compiled_fit(dyn, params, d, **kw)


F._fit_stages_batch_jit = spy
smplify(model, init, data, camera_steps=0, body_steps=3, data_kind="dense",
        keypoint_set="smpl24", compact=False)  # fmt: skip
dyn, params, d, kw = captured["args"]
jaxpr = jax.make_jaxpr(lambda a, b, c: compiled_fit.__wrapped__(a, b, c, **kw))(dyn, params, d)
count = collections.Counter()


def walk(j, in_loop):
    for e in j.eqns:
        loop = in_loop or e.primitive.name in ("scan", "while")
        for p in e.params.values():
            for x in p if isinstance(p, (list, tuple)) else [p]:
                if hasattr(x, "jaxpr") and hasattr(x.jaxpr, "eqns"):
                    walk(x.jaxpr, loop)
                elif hasattr(x, "eqns"):
                    walk(x, loop)
        fr = source_info_util.user_frame(e.source_info.traceback)
        where = f"{fr.file_name.split('jaxrefine/')[-1]}:{fr.function_name}" if fr else "?"
        count[(where, "in loop" if in_loop else "outside")] += 1


walk(jaxpr.jaxpr, False)
print(f"{sys.argv[1]}: {sum(count.values())} equations")
for (where, loop), n in count.most_common(8):
    print(f"  {n:5d}  {where} ({loop})")
