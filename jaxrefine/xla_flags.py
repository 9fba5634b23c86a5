"""The XLA flags jaxrefine's edges set before JAX starts (command line, training, tests).

XLA reads ``XLA_FLAGS`` once, when JAX creates its first backend, so these are set by the
programs that own the process (``jaxrefine`` commands, ``scripts/train.py`` and
``scripts/train_lgd.py``, the test suite),
never by library functions. A flag the user already put in ``XLA_FLAGS`` is left as it is;
``JAXREFINE_XLA_TUNING=off`` adds nothing but the host device count.

1. One host device per CPU core (``--xla_force_host_platform_device_count``): XLA runs most
   element-wise work on one core, so batched fits shard frames across the devices.
2. No YNNPACK fusions on CPU (``--xla_cpu_experimental_ynn_fusion_type=``, an empty list).
   jaxlib 0.10 hands reductions, and more, to YNNPACK by default. On the 2-core AMD EPYC of
   docs/METHOD_NOTES.md's tables (2026-11-29, ``jaxrefine bench smplify --model open --batches 32``,
   ``bench body --model smpl-size``, the network's training step), switching YNNPACK off
   made the dense fit 16 % faster (2110 -> 1780 ms), dense LGD 44 % (840 -> 468 ms), the
   body model's forward at batch 32 34 % (15.1 -> 9.9 ms) and the ``small`` network's
   training step 9 % (1515 -> 1380 ms); keypoint fits were unchanged within noise (140 ->
   136 ms). With reductions alone given to YNNPACK the dense LGD fit took 915 ms: its slow
   reductions are the main cause. jaxlib 0.12 (what Python 3.12 installs) knows the flag too: on
   the 2-core Intel Xeon of docs/METHOD_NOTES.md (2026-12-05, SMPL-size model, batch 32)
   the keypoint fit took 45-49 ms in all four runs with YNNPACK off and 89-94 ms in three of
   four with the default (45 ms in one), the dense fit was within the noise either way (on the
   open model: keypoints 36 against 80-87 ms, dense 810-822 against 872-913 ms), and
   the network's training step about 20 % slower with YNNPACK off, as on that Xeon with
   jaxlib 0.10. The flag is experimental and other jaxlib versions may not know it (XLA
   aborts on an unknown flag), so it is added only for the jaxlib versions measured
   (:data:`YNN_OFF_JAXLIB`).
"""

from __future__ import annotations

import os
from importlib import metadata

YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type"
DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"
YNN_OFF_JAXLIB = ((0, 10), (0, 12))  # the jaxlib (major, minor) versions measured with the flag
TUNING_ENV = "JAXREFINE_XLA_TUNING"


def jaxlib_version() -> tuple[int, ...] | None:
    """The installed jaxlib's (major, minor, ...) without importing JAX; None if unknown."""
    try:
        text = metadata.version("jaxlib")
    except metadata.PackageNotFoundError:
        return None
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) or None


def tuned_flags(
    flags: str,
    *,
    host_devices: int | None,
    jaxlib: tuple[int, ...] | None,
    tuning: bool = True,
) -> str:
    """``flags`` (an ``XLA_FLAGS`` value) with jaxrefine's additions (see the module docstring).

    Args:
      flags: the current value; every flag in it is kept and wins over an addition.
      host_devices: host devices to expose on CPU, or None to add no device count.
      jaxlib: the installed jaxlib's version (:func:`jaxlib_version`).
      tuning: False adds the device count only.
    """
    added = []
    if host_devices and DEVICE_COUNT_FLAG not in flags:
        added.append(f"{DEVICE_COUNT_FLAG}={host_devices}")
    known = jaxlib is not None and tuple(jaxlib[:2]) in YNN_OFF_JAXLIB
    if tuning and known and YNN_FLAG not in flags:
        added.append(f"{YNN_FLAG}=")
    return " ".join([flags.strip(), *added]).strip()


def apply(*, host_devices: bool) -> str:
    """Set ``XLA_FLAGS`` for this process (and the processes it starts); returns the value.

    Call before JAX creates a backend (the first computation or device query); later calls
    change nothing in this process. ``host_devices``: expose one CPU device per core.
    """
    value = tuned_flags(
        os.environ.get("XLA_FLAGS", ""),
        host_devices=os.cpu_count() if host_devices else None,
        jaxlib=jaxlib_version(),
        tuning=os.environ.get(TUNING_ENV, "").lower() != "off",
    )
    os.environ["XLA_FLAGS"] = value
    return value
