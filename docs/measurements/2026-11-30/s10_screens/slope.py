import sys
sys.argv = ["x", "32"]
src = open("/work/runs/s10/lgd_split.py").read().split("cases = {")[0]
g = {}; exec(src, g)
import time, numpy as np
runner = g["runner"]
cases = {
    "adam 100+50": runner(optimizer="adam", camera_steps=100, body_steps=50),
    "adam 100+100": runner(optimizer="adam", camera_steps=100, body_steps=100),
    "lgd 100+10": runner(optimizer="lgd", camera_steps=100, body_steps=10),
    "lgd 100+20": runner(optimizer="lgd", camera_steps=100, body_steps=20),
    "camera 100 only": runner(optimizer="adam", camera_steps=100, body_steps=0),
}
for f in cases.values(): f(); f()
ts = {k: [] for k in cases}
for _ in range(5):
    for k, f in cases.items():
        t0 = time.perf_counter(); f(); ts[k].append(time.perf_counter() - t0)
for k, v in ts.items(): print(f"{k}: {np.median(v)*1e3:.1f} ms")
