"""``jaxrefine info``: what this install has and can do, for install trouble and bug reports.

One report (:func:`install_info`, printed by :func:`main` or written as JSON): jaxrefine's
version; the machine and JAX's devices; the versions of the packages jaxrefine needs; each
optional extra of ``pyproject.toml`` with the packages it lacks (read from ``pyproject.toml``
itself in a source checkout, where an editable install's recorded requirements can be older,
else from the installed package's requirements; a package's own extra, ``jax[cuda12]``, is
followed into that package's requirements) and the ``pip`` line that adds them; which
rasterizer runs (the EGL kernel, with its OpenGL renderer, or the pure-JAX fallback and why);
whether BlazePose's model files are cached (photos); the shipped assets (the network and its
training steps and validation EPE, the learned optimizers, the body model); the XLA flags and
the compilation cache in effect. Nothing is downloaded or changed.

``--model FILE`` adds what jaxrefine makes of a body model file of yours (:func:`model_info`):
its id, gender, sizes, pose correctives, surface landmarks and UV layout, and what a missing
layout rules out (the synthetic scenes of ``oracle``, ``eval``, ``eval-video`` and training).
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import json
import os
import re
from pathlib import Path

from jaxrefine.files import output_file_arg

DIST = "jaxrefine"
# the packages whose versions decide how jaxrefine behaves, beside those it requires
SHOWN = ("jax", "jaxlib", "flax", "optax", "optimistix", "numpy", "scipy", "imageio",
         "imageio-ffmpeg", "pillow")  # fmt: skip


def version(dist: str = DIST) -> str | None:
    """The installed version of distribution ``dist``, None when it is not installed."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def requirements() -> list[str]:
    """jaxrefine's requirement strings (``name>=1; extra == "x"``): ``pyproject.toml``'s in a
    source checkout, else the installed package's."""
    import tomllib

    source = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if source.is_file():
        project = tomllib.loads(source.read_text()).get("project", {})
        if project.get("name") == DIST:
            reqs = list(project.get("dependencies", []))
            for extra, names in project.get("optional-dependencies", {}).items():
                reqs += [f'{r}; extra == "{extra}"' for r in names]
            return reqs
    return metadata.requires(DIST) or []


def extras(requires: list[str] | None = None) -> dict[str, dict]:
    """Each optional extra -> ``{"packages": [...], "missing": [...]}`` (``requires``:
    requirement strings, default :func:`requirements`)."""
    out: dict[str, dict] = {}
    for req in requirements() if requires is None else requires:
        m = re.search(r"""extra\s*==\s*["']([^"']+)["']""", req)
        if m is None:
            continue
        name, sub = re.match(r"([A-Za-z0-9_.\-]+)(?:\[([^\]]+)\])?", req).groups()
        entry = out.setdefault(m.group(1), {"packages": [], "missing": []})
        for dist in [name] + (_extra_of(name, sub) if sub else []):
            entry["packages"].append(dist)
            if version(dist) is None:
                entry["missing"].append(dist)
    return out


def _extra_of(dist: str, extra: str) -> list[str]:
    """The packages that ``dist``'s extra ``extra`` adds (none when ``dist`` is missing)."""
    try:
        reqs = metadata.requires(dist) or []
    except metadata.PackageNotFoundError:
        return []
    tag = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    names = [re.match(r"[A-Za-z0-9_.\-]+", r).group(0) for r in reqs if tag.search(r)]
    return [n for n in dict.fromkeys(names) if n != dist]


def rasterizer() -> dict:
    """Which rasterizer ``--backend auto`` runs here: ``{"backend", "detail"}``."""
    from jaxrefine.render import EGLUnavailableError, default_rasterizer

    try:
        return {"backend": "egl", "detail": str(default_rasterizer(0).renderer)}
    except EGLUnavailableError as exc:
        return {"backend": "jax", "detail": f"no EGL context: {exc}"}


def blazepose_models() -> dict:
    """Whether BlazePose's checked model files are cached (photos without estimates)."""
    from jaxrefine.detect.models import ModelsUnavailableError, default_cache_dir, ensure_models

    try:
        return {"cached": True, "folder": str(ensure_models(download=False))}
    except ModelsUnavailableError as exc:
        return {"cached": False, "folder": str(default_cache_dir()), "detail": str(exc)}


def assets() -> dict:
    """The shipped network, learned optimizers and body model, with their training record."""
    from jaxrefine.network import trained_body_model

    root = Path(__file__).parent / "assets"
    net = json.loads((root / "displacement_small.json").read_text())
    meta = net["meta"]
    out = {"network": {"config": net["config"]["name"], "steps": meta.get("steps"),
                       "body_model": trained_body_model(meta),
                       "val_epe_px": meta.get("val_epe"),
                       "val_zero_field_epe_px": meta.get("val_zero_epe")}}  # fmt: skip
    for path in sorted(root.glob("lgd_*.json")):
        out[path.stem] = {"steps": json.loads(path.read_text())["meta"].get("steps")}
    out["body_model"] = json.loads((root / "open_body_model.json").read_text())["model_id"]
    return out


def model_info(path: str) -> dict:
    """What jaxrefine reads from the body model file ``path`` (any gender, every shape
    component; errors: :func:`jaxrefine.smpl_io.load_body_model`'s)."""
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model(path, gender=None, num_betas=None)
    uv = model.vt is not None and model.ft is not None
    return {"file": str(path), "model_id": model.model_id, "gender": model.gender,
            "vertices": model.num_vertices, "faces": int(model.faces.shape[0]),
            "betas": model.num_betas, "pose_correctives": model.has_pose_correctives,
            "landmarks": [lm.name for lm in model.landmarks],
            "uv_coordinates": int(model.vt.shape[0]) if uv else 0,
            "description": model.describe()}  # fmt: skip


def _model_lines(m: dict, network_model: str) -> list[str]:
    """:func:`model_info` as lines of text (``network_model``: the body model the shipped
    network was trained on)."""
    uv = (f"UV layout: {m['uv_coordinates']} texture coordinates" if m["uv_coordinates"] else
          "UV layout: none (oracle, eval, eval-video and training need one: jaxrefine convert "
          "MODEL OUT.npz --uv UV.obj; refine does not)")  # fmt: skip
    lines = [f"model {m['file']}: {m['description']}",
             f"  landmarks: {', '.join(m['landmarks']) or 'none'}; {uv}"]  # fmt: skip
    if m["model_id"] != network_model:
        lines.append(f"  the shipped network learned {network_model}'s renderings: its fields on "
                     "this model are unmeasured (refine warns; jaxrefine eval --model measures "
                     "them; scripts/train.py --model trains one)")  # fmt: skip
    return lines


def install_info(*, render: bool = True) -> dict:
    """The whole report (see the module docstring); ``render``: also make an EGL context."""
    from jaxrefine.report import machine_info

    return {
        "jaxrefine": version() or "not installed as a package (run from a source tree)",
        "machine": machine_info(),
        "packages": {name: version(name) for name in SHOWN},
        "extras": extras(),
        "rasterizer": rasterizer() if render else None,
        "blazepose_models": blazepose_models(),
        "assets": assets(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "compilation_cache": _cache_dir(),
    }


def _cache_dir() -> str | None:
    import jax

    return jax.config.jax_compilation_cache_dir


def print_info(info: dict) -> None:
    """The report as lines of text."""
    from jaxrefine.report import machine_line

    print(f"jaxrefine {info['jaxrefine']}")
    print(machine_line(info["machine"]) + f"; devices: {', '.join(info['machine']['devices'])}")
    print("packages: " + ", ".join(f"{k} {v or 'missing'}" for k, v in info["packages"].items()))
    for name, entry in sorted(info["extras"].items()):
        if entry["missing"]:
            print(f"extra {name}: missing {', '.join(entry['missing'])} "
                  f"(pip install 'jaxrefine[{name}]')")  # fmt: skip
        else:
            print(f"extra {name}: installed ({', '.join(entry['packages'])})")
    if info["rasterizer"] is not None:
        r = info["rasterizer"]
        print(f"rasterizer: {r['backend']} ({r['detail']})")
    bp = info["blazepose_models"]
    where = bp["folder"] if bp["cached"] else f"not cached: {bp['detail']}"
    print(f"BlazePose models (photos): {where}")
    net = info["assets"]["network"]
    print(
        f"network: {net['config']}, {net['steps']} training steps on {net['body_model']}'s "
        "renderings, validation EPE "
        f"{net['val_epe_px']:.2f} px (zero field {net['val_zero_field_epe_px']:.2f} px)"
    )
    lgd = [f"{k} ({v['steps']} steps)" for k, v in info["assets"].items() if k.startswith("lgd")]
    print(f"learned optimizers: {', '.join(lgd)}; body model: {info['assets']['body_model']}")
    print(f"XLA_FLAGS: {info['xla_flags'] or '(none)'}; compilation cache: "
          f"{info['compilation_cache'] or 'off'}")  # fmt: skip
    if info.get("model") is not None:
        print("\n".join(_model_lines(info["model"], net["body_model"])))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="jaxrefine info", description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", default=None, type=output_file_arg,
                    help="also write the report to this JSON file")  # fmt: skip
    ap.add_argument("--no-render", action="store_true",
                    help="make no EGL context (no rasterizer line)")  # fmt: skip
    ap.add_argument("--model", default=None, metavar="FILE",
                    help="also report what jaxrefine reads from this body model file (e.g. "
                         "your SMPL_NEUTRAL.pkl)")  # fmt: skip
    args = ap.parse_args(argv)
    model = None if args.model is None else model_info(args.model)  # a bad file: before the rest
    info = {**install_info(render=not args.no_render), "model": model}
    print_info(info)
    if args.json:
        from jaxrefine.report import write_json

        write_json(args.json, info, announce=False)
    return 0
