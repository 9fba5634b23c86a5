"""Profile dense B32 fits (open model): per-op time of one case of lgd_split.py."""
import sys, glob, gzip, json, collections, re, runpy
case = sys.argv[1]; out = sys.argv[2]
sys.argv = [sys.argv[0], "32"]
src = open("/work/runs/s10/lgd_split.py").read().split("for k, f in cases.items():")[0]
g = {}; exec(src, g)
import jax
f = g["cases"][case]; f(); f()
N = 3
with jax.profiler.trace(out, create_perfetto_trace=True):
    for _ in range(N): f()
fn = glob.glob(out + "/**/*.trace.json.gz", recursive=True)[0]
ev = json.load(gzip.open(fn)); ev = ev["traceEvents"] if isinstance(ev, dict) else ev
tot = collections.Counter(); cnt = collections.Counter()
for e in ev:
    if e.get("ph") == "X" and "dur" in e:
        k = e["name"]
        if "$" in k or "Thunk" in k or "Pjit" in k or "PjRt" in k or k.startswith("end:"): continue
        k = re.sub(r"\.\d+$", "", k)
        tot[k] += e["dur"]; cnt[k] += 1
T = sum(tot.values())
print(f"{case}: op time {T/N/1e3:.1f} ms per fit")
for k, v in tot.most_common(25):
    print(f"{v/N/1e3:8.2f} ms {100*v/T:5.1f}%  n={cnt[k]/N:7.0f}  {k[:90]}")
