"""What a training run leaves behind: ``log.csv``, TensorBoard events, a progress bar, a curve
picture and ``run.json``. Only process 0 of a multi-process run writes (the others pass
``enabled=False``). Every file is written atomically (:mod:`jaxrefine.files`)."""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import sys
import time
from pathlib import Path

from jaxrefine.files import atomic_write

FIRST_COLUMNS = ("step", "wall_s", "steps_per_s", "loss")


def machine_info() -> dict:
    """CPU model, core count, Python, JAX version and devices of this process."""
    import jax

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "process_count": jax.process_count(),
    }


def write_json(path: str | os.PathLike, obj: dict) -> Path:
    """``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n"
    return atomic_write(path, lambda fh: fh.write(text.encode()))


def read_rows(path: Path, upto_step: int) -> list[dict]:
    """Rows of an existing ``log.csv`` with ``step <= upto_step`` (a resumed run keeps them)."""
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if int(r["step"]) <= upto_step]


class RunLogger:
    """CSV + TensorBoard + tqdm for one run.

    Args:
      out: run folder; writes ``out/log.csv`` and ``out/tb/``.
      start_step: the step the run starts (or resumes) at; older CSV rows are kept.
      total_steps: the last step (for the progress bar).
      enabled: False on processes other than 0 (nothing is written or shown).
      bar_keys: metrics shown in the progress bar next to steps/s.
    """

    def __init__(self, out, start_step: int, total_steps: int, enabled: bool = True,
                 bar_keys: tuple[str, ...] = ("loss", "epe")):  # fmt: skip
        self.out, self.enabled, self.bar_keys = Path(out), enabled, bar_keys
        self.csv_path = self.out / "log.csv"
        self.rows = read_rows(self.csv_path, start_step) if enabled else []
        self.wall0 = float(self.rows[-1]["wall_s"]) if self.rows else 0.0
        self.tb = self.bar = None
        if enabled:
            from tensorboardX import SummaryWriter
            from tqdm import tqdm

            self.tb = SummaryWriter(str(self.out / "tb"))
            self.bar = tqdm(total=total_steps, initial=start_step, unit="step",
                            dynamic_ncols=True, file=sys.stderr)  # fmt: skip
        self.t0 = time.perf_counter()
        self.last = (start_step, self.t0)

    def wall(self) -> float:
        """Seconds of training so far, over all resumed chunks."""
        return self.wall0 + time.perf_counter() - self.t0

    def tick(self, step: int) -> None:
        """Advance the progress bar to ``step``."""
        if self.bar is not None:
            self.bar.update(step - self.bar.n)

    def log(self, step: int, metrics: dict[str, float]) -> dict:
        """Record ``metrics`` (plain floats) at ``step``: CSV row (rewritten atomically),
        TensorBoard scalars, progress-bar text. Returns the row."""
        now = time.perf_counter()
        rate = (step - self.last[0]) / max(now - self.last[1], 1e-9)
        self.last = (step, now)
        row = {"step": step, "wall_s": round(self.wall(), 3), "steps_per_s": round(rate, 4)}
        row.update({k: float(v) for k, v in metrics.items()})
        if not self.enabled:
            return row
        self.rows.append(row)
        self._write_csv()
        for k, v in row.items():
            if k != "step":
                self.tb.add_scalar(k, v, step)
        self.tb.flush()
        shown = {k: f"{row[k]:.4g}" for k in self.bar_keys if k in row}
        self.bar.set_postfix(steps_s=f"{rate:.2f}", **shown, refresh=False)
        self.tick(step)
        return row

    def _write_csv(self) -> None:
        keys = list(FIRST_COLUMNS)
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys, restval="")
        w.writeheader()
        w.writerows(self.rows)
        atomic_write(self.csv_path, lambda fh: fh.write(buf.getvalue().encode()))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.tb is not None:
            self.tb.close()


def plot_curves(rows: list[dict], path: str | os.PathLike) -> Path:
    """Loss (left, log scale) and every ``*epe*`` column (right; validation and zero-field
    baselines included) against the step, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(key):
        pts = [(int(r["step"]), float(r[key])) for r in rows if r.get(key) not in (None, "")]
        return zip(*pts, strict=True) if pts else ((), ())

    keys = sorted({k for r in rows for k in r})
    fig, (ax_loss, ax_epe) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(*series("loss"), lw=1)
    ax_loss.set(xlabel="step", ylabel="training loss", yscale="log", title="loss")
    for k in (k for k in keys if "epe" in k):
        style = "o-" if k.startswith("val") else "-"
        ax_epe.plot(*series(k), style, lw=1, ms=3, label=k)
    ax_epe.set(xlabel="step", ylabel="end-point error (px)", title="EPE")
    if ax_epe.lines:
        ax_epe.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return atomic_write(path, lambda fh: fh.write(buf.getvalue()))
