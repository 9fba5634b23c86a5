"""One synthetic frame through the refinement pipeline, every intermediate kept for pictures.

The steps are those of :func:`jaxrefine.refine.refine`, run with its own pieces:

1. the personal texture estimated from the frame and its initial estimate
   (:func:`~jaxrefine.refine.subject_colours`);
2. the person box, the crop, and the initial mesh rendered into it: textured colour, relative
   depth, normals, unique vertex colours, mask (:func:`~jaxrefine.refine.render_crops`);
3. the network's displacement field over the crop (:func:`~jaxrefine.refine.predict_fields`);
4. the field transferred to the visible vertices: per-vertex 2D targets in the full image
   (:func:`~jaxrefine.refine.targets_from_fields`);
5. dense SMPLify on those targets (camera stage, then body stage), iterates kept.

Because the frame is synthetic (:mod:`jaxrefine.data.scenes`), the ground truth sits beside
every prediction: the ground-truth field over the same crop rendering
(:func:`~jaxrefine.correspondence.ground_truth_field`), the ground-truth per-vertex targets,
and the 3D errors before and after. :func:`network_targets` (steps 1-4 for a batch) is also
what :mod:`jaxrefine.compare` uses for its learned-target rows.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine.body_model import BodyModel
from jaxrefine.camera import Camera, project
from jaxrefine.correspondence import endpoint_error, ground_truth_field
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import GeneratorConfig, SceneBatch
from jaxrefine.evaluate import eval_frames, ground_truth_data
from jaxrefine.fit import status_name
from jaxrefine.metrics import M_TO_MM, METRIC_NAMES, compute_all
from jaxrefine.network.config import NetworkConfig
from jaxrefine.network.crop import crop_camera
from jaxrefine.objective import (
    FitData,
    get_preset,
    load_gmm_prior,
    params_from_pose,
    pose_from_params,
)
from jaxrefine.refine import (
    CropRendering,
    FieldPrediction,
    RefineOptions,
    pose_batch,
    predict_fields,
    render_crops,
    subject_colours,
    targets_from_fields,
    with_start,
)
from jaxrefine.shading import RenderChannels, render_body

# the overlay colours of the three bodies (RGB in [0, 1]) and the snapshots' grey
BODY_COLOURS = {
    "init": (1.0, 0.6, 0.25),
    "refined": (0.95, 0.4, 0.8),
    "ground truth": (0.45, 0.9, 0.5),
}
SNAPSHOT_GREY = 0.75


@dataclasses.dataclass(frozen=True)
class NetworkTargets:
    """Steps 1-4 of a batch (leading B axis).

    Attributes:
      rendering: the crop renderings (:class:`~jaxrefine.refine.CropRendering`).
      prediction: the network's fields (:class:`~jaxrefine.refine.FieldPrediction`).
      targets: (B, V, 2) per-vertex 2D targets, full-image pixels.
      weights: (B, V) 1 for vertices seen in the crop rendering, else 0.
      mean_displacement: (B,) mean predicted displacement of the visible vertices, pixels.
    """

    rendering: CropRendering
    prediction: FieldPrediction
    targets: jnp.ndarray
    weights: jnp.ndarray
    mean_displacement: jnp.ndarray


def network_targets(
    model: BodyModel,
    network: tuple[NetworkConfig, dict],
    images,
    vertices,
    cameras: Camera,
    subjects,
    *,
    texture_size: int = 256,
    backend: str = "auto",
    use_confidence: bool = False,
) -> NetworkTargets:
    """The network's dense targets for a batch of initial estimates (steps 1-4).

    Args:
      model: body model. network: ``(config, params)`` (e.g. ``network.load_pretrained()[:2]``).
      images: B full images (H, W, 3) in [0, 1]. vertices: (B, V, 3) initial estimates' vertices
        (camera frame). cameras: batched full-image cameras. subjects: (B,) subject ids (frames
        of a subject share one estimated texture).
      texture_size: side of the estimated UV textures. backend: rasterizer backend.
      use_confidence: weight vertices by the network's confidence head.
    """
    cfg, params = network
    colours, index = subject_colours(
        model, images, vertices, cameras, subjects, size=texture_size, backend=backend
    )
    rendering = render_crops(
        model,
        images,
        vertices,
        cameras,
        jnp.asarray(colours[index]),
        crop_size=cfg.crop_size,
        backend=backend,
    )
    pred = predict_fields(cfg, params, rendering)
    targets, weights, disp = targets_from_fields(
        model, pred, vertices, cameras, use_confidence=use_confidence
    )
    return NetworkTargets(rendering, pred, targets, weights, disp)


def channels_of_input(renders) -> RenderChannels:
    """The render channels of one network input (S, S, 11) (:func:`~jaxrefine.shading.network_input`
    layout; ``depth`` is the relative depth the network sees, 0 on background)."""
    r = np.asarray(renders)
    return RenderChannels(
        rgb=r[..., :3], depth=r[..., 3], normals=r[..., 4:7], uvc=r[..., 7:10], mask=r[..., 10]
    )


@dataclasses.dataclass(frozen=True)
class WalkthroughConfig:
    """Settings of :func:`walkthrough`.

    Attributes:
      image_size: side of the synthetic frame (pixels). texture_size: procedural and
        estimated texture side. difficulty: initial-estimate level ("easy" | "medium" | "hard").
      preset / optimizer: SMPLify preset and optimizer name.
      camera_steps / body_steps: iterations (None: the preset's).
      snapshots: body-stage iterates pictured (evenly spaced, the last included).
      backend: rasterizer backend.
    """

    image_size: int = 256
    texture_size: int = 256
    difficulty: str = "medium"
    preset: str = "dense"
    optimizer: str = "adam"
    camera_steps: int | None = None
    body_steps: int | None = None
    snapshots: int = 4
    backend: str = "auto"


@dataclasses.dataclass(frozen=True)
class Walkthrough:
    """Everything :func:`walkthrough` computed for its frame (numpy; V vertices, S crop side).

    Attributes:
      image: (H, W, 3) the frame. image_crop: (S, S, 3) its person crop.
      channels: :class:`~jaxrefine.shading.RenderChannels` of the initial mesh in the crop.
      box: (cx, cy, side) of the crop box, full-image pixels.
      gt_field / pred_field: (S, S, 2) ground-truth and predicted fields, crop pixels.
      foreground: (S, S) bool pixels of the initial mesh in the crop.
      epe: {"predicted", "zero"} mean end-point error over the foreground, crop pixels.
      init_2d / gt_2d: (V, 2) projected initial / ground-truth vertices, full-image pixels.
      pred_targets / gt_targets: (V, 2) predicted / ground-truth per-vertex targets.
      weights: (V,) 1 for vertices with a target.
      camera_loss / body_loss: (C + 1,), (T + 1,) SMPLify's objective along each stage.
      snapshot_steps: (k,) body-stage iterations pictured; snapshots: (k, H, W, 3) overlays of
        the mesh at those iterations (step 0 = after the camera stage).
      overlays: {"init", "refined", "ground truth"} (H, W, 3) mesh overlays on the image.
      vertex_error: {"init", "refined"} (V,) per-vertex 3D error, mm.
      error_pictures: {"init", "refined"} (H, W, 3) meshes coloured by vertex error.
      metrics: {"init", "refined"} -> {metric: mm} (:data:`jaxrefine.metrics.METRIC_NAMES`).
      status: the fit's status name. seconds: {step: wall seconds} (compilation included).
    """

    image: np.ndarray
    image_crop: np.ndarray
    channels: RenderChannels
    box: tuple[float, float, float]
    gt_field: np.ndarray
    pred_field: np.ndarray
    foreground: np.ndarray
    epe: dict
    init_2d: np.ndarray
    gt_2d: np.ndarray
    pred_targets: np.ndarray
    gt_targets: np.ndarray
    weights: np.ndarray
    camera_loss: np.ndarray
    body_loss: np.ndarray
    snapshot_steps: np.ndarray
    snapshots: np.ndarray
    overlays: dict
    vertex_error: dict
    error_pictures: dict
    metrics: dict
    status: str
    seconds: dict


def _one(tree, i: int = 0):
    return jax.tree.map(lambda a: np.asarray(a)[i], tree)


@functools.partial(jax.jit, static_argnames=("height", "width", "backend"))
def _render(model, vertices, camera, colours, *, height: int, width: int, backend: str):
    """Shaded (H, W, 3) picture and (H, W) mask of one mesh with per-vertex colours."""
    ch, _ = render_body(
        model,
        vertices,
        camera,
        height,
        width,
        vertex_colors=colours,
        lighting=True,
        backend=backend,
    )
    return ch.rgb, ch.mask


def _picture(model, image, vertices, camera, colours, backend) -> np.ndarray:
    from jaxrefine.viz import overlay

    H, W = image.shape[:2]
    rgb, mask = _render(
        model,
        jnp.asarray(vertices),
        camera,
        jnp.asarray(colours),
        height=H,
        width=W,
        backend=backend,
    )
    return overlay(image, np.asarray(rgb), np.asarray(mask), alpha=0.75)


def frame(model: BodyModel, poses, seed: int, config: WalkthroughConfig) -> SceneBatch:
    """The walkthrough's synthetic frame (a batch of one, as :mod:`jaxrefine.evaluate` makes)."""
    gen = GeneratorConfig(
        scene=SceneConfig(image_size=(config.image_size,) * 2),
        difficulty=config.difficulty,
        texture_size=config.texture_size,
        backend=config.backend,
    )
    batch, _ = eval_frames(model, poses, 1, seed, gen, group=1)
    return batch


def _fields(model, gt_v, init_v, cam, nt: NetworkTargets):
    """Ground-truth and predicted crop fields, the foreground and the EPEs."""
    p = nt.prediction
    S = p.field.shape[1]
    crop = crop_camera(cam, p.box_center[0], p.box_size[0], S)
    gt, fg = ground_truth_field(gt_v, crop, init_v, crop, model.faces, p.tri_id[0], p.bary[0])
    pred = p.field[0]
    epe = {
        "predicted": float(endpoint_error(pred, gt, fg)),
        "zero": float(endpoint_error(jnp.zeros_like(gt), gt, fg)),
    }
    return np.asarray(gt), np.asarray(pred), np.asarray(fg), epe


def _fit(model, init, nt: NetworkTargets, cams, init_v, config: WalkthroughConfig):
    from jaxrefine.smplify import smplify

    preset = get_preset(config.preset)
    n = nt.targets.shape[0]
    data = FitData(
        camera=cams,
        init_transl=init["transl"],
        pixel_scale=jnp.ones(n),
        dense_targets=nt.targets,
        dense_weights=nt.weights,
    )
    data = with_start(data, init["transl"], init_v, preset)
    return smplify(
        model,
        init,
        data,
        preset=preset,
        data_kind="dense",
        optimizer=config.optimizer,
        gmm=load_gmm_prior(),
        camera_steps=config.camera_steps,
        body_steps=config.body_steps,
        return_iterates=True,
        render_flags=nt.rendering.render_flags,
    )


def _iterate_vertices(model, iterates: dict, steps) -> np.ndarray:
    """(k, V, 3) vertices of the body-stage iterates ``steps`` (one frame's iterates)."""
    it = {k: jnp.asarray(v)[0][np.asarray(steps)] for k, v in iterates.items()}
    pose = jnp.concatenate([it["global_orient"][:, None], it["body_pose"]], 1)
    return np.asarray(pose_batch(model, pose, it["betas"], it["transl"]).vertices)


def walkthrough(
    model: BodyModel,
    poses,
    network: tuple[NetworkConfig, dict],
    seed: int = 0,
    config: WalkthroughConfig = WalkthroughConfig(),
) -> Walkthrough:
    """Run one synthetic frame through the pipeline (see the module docstring).

    Args:
      model: body model. poses: (M, 24, 3) mocap poses (SMPL layout) to draw the frame from.
      network: ``(config, params)`` of the displacement network.
      seed: picks the frame (pose, shape, camera, texture, initial estimate).
      config: :class:`WalkthroughConfig`.
    """
    import time

    t, secs = time.perf_counter(), {}

    def lap(name):
        nonlocal t
        secs[name], t = time.perf_counter() - t, time.perf_counter()

    batch = frame(model, poses, seed, config)
    init = params_from_pose(batch.init_pose, batch.init_betas, batch.init_transl)
    gt_b = _posed(model, batch.pose, batch.betas, batch.transl)
    init_b = _posed(model, batch.init_pose, batch.init_betas, batch.init_transl)
    cams, cam = batch.cameras, _one(batch.cameras)
    lap("frame")
    nt = network_targets(
        model,
        network,
        list(batch.image),
        init_b.vertices,
        cams,
        [0],
        texture_size=config.texture_size,
        backend=config.backend,
    )
    lap("texture, rendering, network, targets")
    gt_field, pred_field, fg, epe = _fields(model, gt_b.vertices[0], init_b.vertices[0], cam, nt)
    opts = RefineOptions(batch_size=1, backend=config.backend)
    gt_data, _ = ground_truth_data(model, batch, opts)
    lap("ground truth")
    res = _fit(model, init, nt, cams, init_b.vertices, config)
    jax.block_until_ready(res.params)
    lap("fit")
    body = res.body_stage
    steps = _snapshot_steps(body.loss_curve.shape[1] - 1, config.snapshots)
    snap_v = _iterate_vertices(model, body.iterates, steps)
    ref_b = _posed(model, pose_from_params(res.params), res.params["betas"], res.params["transl"])
    image = np.asarray(batch.image[0])
    bodies = {"init": init_b, "refined": ref_b, "ground truth": gt_b}
    errs, metrics = _errors(bodies)
    pictures = _pictures(model, image, cam, config.backend, bodies, snap_v, errs)
    out = Walkthrough(
        image=image,
        **_network_side(nt),
        gt_field=gt_field,
        pred_field=pred_field,
        foreground=fg,
        epe=epe,
        init_2d=np.asarray(project(cam, init_b.vertices[0])),
        gt_2d=np.asarray(project(cam, gt_b.vertices[0])),
        gt_targets=np.asarray(gt_data["dense_gt"].dense_targets[0]),
        **_fit_side(res),
        snapshot_steps=steps,
        **pictures,
        vertex_error=errs,
        metrics=metrics,
        seconds=secs,
    )
    lap("pictures")  # out.seconds is this dict
    return out


def _fit_side(res) -> dict:
    """The :class:`Walkthrough` fields of the fit's first frame: the camera stage's loss curve
    (None without that stage), the body stage's, and the fit's status name."""
    camera = res.camera_stage
    return {
        "camera_loss": None if camera is None else np.asarray(camera.loss_curve[0]),
        "body_loss": np.asarray(res.body_stage.loss_curve[0]),
        "status": status_name(int(res.status[0])),
    }


def _posed(model, pose, betas, transl):
    """A batch of one posed body (:func:`~jaxrefine.refine.pose_batch`) from array-likes."""
    return pose_batch(model, *(jnp.asarray(a) for a in (pose, betas, transl)))


def _snapshot_steps(last: int, snapshots: int) -> np.ndarray:
    """``snapshots`` (at least 2) body-stage steps from 0 to ``last``, evenly spaced, unique."""
    return np.unique(np.linspace(0, last, max(snapshots, 2)).round().astype(int))


def _network_side(nt: NetworkTargets) -> dict:
    """The :class:`Walkthrough` fields of the network's first frame: its crop, input channels,
    box (cx, cy, size), predicted targets and their weights."""
    pred = nt.prediction
    return {
        "image_crop": np.asarray(pred.image_crop[0]),
        "channels": channels_of_input(pred.renders[0]),
        "box": (*map(float, np.asarray(pred.box_center[0])), float(pred.box_size[0])),
        "pred_targets": np.asarray(nt.targets[0]),
        "weights": np.asarray(nt.weights[0]),
    }


def _errors(bodies: dict) -> tuple[dict, dict]:
    """``(per-vertex error in mm, metrics)`` of the ``init`` and ``refined`` bodies against the
    ``ground truth`` (each a batch of one :class:`~jaxrefine.body_model.BodyOutput`)."""
    gt = bodies["ground truth"]
    errs, metrics = {}, {}
    for k in ("init", "refined"):
        b = bodies[k]
        errs[k] = np.linalg.norm(np.asarray(b.vertices[0] - gt.vertices[0]), axis=-1) * M_TO_MM
        m = compute_all(b.joints[0], gt.joints[0], b.vertices[0], gt.vertices[0])
        metrics[k] = {name: float(m[name]) for name in METRIC_NAMES}
    return errs, metrics


def _pictures(model, image, cam, backend: str, bodies: dict, snap_v, errs: dict) -> dict:
    """The walkthrough's renderings over ``image``: the fit's ``snapshots`` (``snap_v``, one
    (V, 3) vertex array each, in grey), an ``overlays`` picture of each body in its colour
    (:data:`BODY_COLOURS`) and ``error_pictures`` of the init and refined bodies coloured by
    their vertex error (``errs``, one shared scale)."""
    from jaxrefine.viz import values_to_rgb

    grey = np.full((model.num_vertices, 3), SNAPSHOT_GREY, np.float32)
    pic = functools.partial(_picture, model, image, camera=cam, backend=backend)
    vmax = float(max(e.max() for e in errs.values()))
    return {
        "snapshots": np.stack([pic(vertices=v, colours=grey) for v in snap_v]),
        "overlays": {
            k: pic(vertices=b.vertices[0], colours=np.full_like(grey, BODY_COLOURS[k]))
            for k, b in bodies.items()
        },
        "error_pictures": {
            k: pic(vertices=bodies[k].vertices[0], colours=values_to_rgb(errs[k], vmax))
            for k in errs
        },
    }
