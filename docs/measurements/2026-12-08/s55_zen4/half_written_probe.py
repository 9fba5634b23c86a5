"""What a write that fails part-way (a full disk; here a file-size limit, RLIMIT_FSIZE, with
SIGXFSZ ignored so the write raises instead of killing) leaves of `jaxrefine refine`'s mesh
and overlay files: save_obj, save_ply and save_png, each over an earlier good file of the
same name (a re-run with --overwrite, or --resume rewriting a chunk). The open model's mean
body; a 512x512 noise picture."""

import resource
import signal
import tempfile
from pathlib import Path

import numpy as np

from jaxrefine.body_model import forward
from jaxrefine.io import save_obj, save_ply
from jaxrefine.smpl_io import load_body_model
from jaxrefine.viz import save_png

model = load_body_model()
v = np.asarray(forward(model, np.zeros((24, 3)), np.zeros(10), np.zeros(3)).vertices)
f = np.asarray(model.faces)
picture = np.random.default_rng(0).random((512, 512, 3))
writers = {"mesh.obj": lambda p: save_obj(p, v, f), "mesh.ply": lambda p: save_ply(p, v, f),
           "overlay.png": lambda p: save_png(p, picture)}  # fmt: skip
LIMIT = 64 * 1024  # bytes a process may write to one file while the limit holds
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
with tempfile.TemporaryDirectory() as tmp:
    for name, write in writers.items():
        path = Path(tmp) / name
        write(path)
        good = path.read_bytes()
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, hard))
        try:
            write(path)
            error = "no error"
        except OSError as e:
            error = f"{type(e).__name__}: {e.strerror}"
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        now = path.read_bytes() if path.exists() else None
        state = ("missing" if now is None else "the earlier file, intact" if now == good
                 else f"{len(now):,} of {len(good):,} bytes (half-written)")  # fmt: skip
        left = sorted(p.name for p in Path(tmp).iterdir() if p.name.startswith("."))
        print(f"{name}: {error}; the file is {state}; temporary files left: {left or 'none'}")
