"""The paper's pipeline for a batch of frames: personal texture -> render the estimate -> predict
the displacement field -> per-visible-vertex targets -> dense SMPLify.

Per frame (``docs/METHOD.md``, "The refinement method"):

1. the square person box around the initial estimate's projection inside the image (enlarged
   as in training, :func:`jaxrefine.network.crop.image_box`) and its crop camera;
2. the initial mesh rendered into the crop (one rasterizer host call for the batch) with the
   subject's estimated texture: textured RGB, relative depth, normals, unique vertex colours,
   mask (:func:`jaxrefine.shading.network_input`);
3. the image resampled to the crop (anti-aliased first when the box is much larger than the
   crop), the network's field in crop pixels;
4. the pixel-to-vertex transfer (:func:`jaxrefine.correspondence.pixels_to_vertices`) on the
   crop's triangle ids and barycentrics, displacements scaled to full-image pixels, targets =
   projection of the initial vertex + displacement, weights = visibility (times a confidence
   from the network's scale head when asked);
5. dense SMPLify in the full image (``dense`` preset).

Everything but the rasterizer call is jitted and vmapped over the batch; the fit is sharded
over local devices by :func:`jaxrefine.fit.fit_stages_batch`. The rasterizer callback stays out
of sharded programs.

The oracle (:mod:`jaxrefine.oracle`) and the evaluation (:mod:`jaxrefine.evaluate`) use the same
pieces with ground-truth or predicted fields.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrefine.body_model import BodyModel, forward
from jaxrefine.camera import (
    BEHIND_CAMERA,
    IN_VIEW,
    MIN_BODY_PIXELS,
    MIN_FOCAL_FRACTION,
    OUT_OF_VIEW_NAMES,
    OUTSIDE_IMAGE,
    PRINCIPAL_POINT_OFF_CENTRE,
    TOO_SMALL,
    Camera,
    CameraWarning,
    check_cameras,
    focal_too_short,
    out_of_view,
    principal_point_off_centre,
    project,
)
from jaxrefine.correspondence import pixels_to_vertices
from jaxrefine.errors import fields_below
from jaxrefine.network import apply_batch
from jaxrefine.network.checkpoint import trained_body_model
from jaxrefine.network.config import NetworkConfig
from jaxrefine.network.crop import crop_camera, crop_image, image_box
from jaxrefine.objective import (
    DENSE_AND_KEYPOINTS,
    REFERENCE_PERSON_SIZE,
    FitData,
    check_gmm_choice,
    check_joint_angles,
    check_keypoint_values,
    check_params,
    choose_gmm_prior,
    compact_dense,
    load_gmm_prior,
    person_size_px,
)
from jaxrefine.render import rasterize_batch
from jaxrefine.shading import network_input, render_channels

BOX_ENLARGE = 1.2  # the person box of training (data.pairs.PairConfig.enlarge): keep them equal
ANTIALIAS_FROM = 1.5  # blur the image before cropping when the box is this many times the crop
CONFIDENCE_FLOOR = 0.05  # smallest per-vertex confidence weight (a vertex is never dropped)


@struct.dataclass
class FieldPrediction:
    """The network's view of a batch (leading B axis everywhere).

    Attributes:
      field: (B, S, S, 2) displacement of the last stack, crop pixels.
      log_scale: (B, S, S) per-pixel log Laplace scale, or None (no confidence head).
      tri_id: (B, S, S) int32 visible triangle of the initial mesh in the crop, -1 background.
      bary: (B, S, S, 3) barycentrics.
      box_center: (B, 2), box_size: (B,) the crop box in full-image pixels.
      image_crop, renders: (B, S, S, 3) / (B, S, S, 11) the network inputs (for pictures).
      render_flags: (B,) int32 rasterizer flags (0 = fine), when the rasterizer reports them.
    """

    field: jnp.ndarray
    log_scale: jnp.ndarray | None
    tri_id: jnp.ndarray
    bary: jnp.ndarray
    box_center: jnp.ndarray
    box_size: jnp.ndarray
    image_crop: jnp.ndarray
    renders: jnp.ndarray
    render_flags: jnp.ndarray


def with_start(data: FitData, init_transl, init_vertices, preset) -> FitData:
    """Fill a batch's depth anchor (``init_transl`` (B, 3)) and person-size scale (from the
    projected initial vertices (B, V, 3)) -- what every refinement row needs before a fit."""
    proj = jax.vmap(project)(data.camera, init_vertices)
    size = jax.vmap(person_size_px)(proj, jnp.ones(proj.shape[:2]))
    n = proj.shape[0]
    scale = REFERENCE_PERSON_SIZE / size if preset.scale_by_person_size else jnp.ones(n)
    return data.replace(init_transl=jnp.asarray(init_transl), pixel_scale=scale)


@functools.partial(jax.jit, static_argnames=("crop_size", "enlarge"))
def crop_boxes(
    model: BodyModel, vertices, cameras: Camera, image_hw, *, crop_size: int, enlarge: float
):
    """Person boxes (B, 2), (B,) and crop cameras of a batch of posed bodies (B, V, 3) in
    images of (B, 2) heights and widths ``image_hw``: the box around the body's in-image part
    (:func:`jaxrefine.network.crop.image_box`, as training's pairs)."""

    def one(v, cam, hw):
        center, size = image_box(project(cam, v), hw, enlarge)
        return center, size, crop_camera(cam, center, size, crop_size)

    return jax.vmap(one)(vertices, cameras, jnp.asarray(image_hw, jnp.float32))


def crop_images(images, centers, sizes, crop_size: int) -> jnp.ndarray:
    """(B, S, S, 3) crops of full images (a list: sizes may differ), anti-aliased when the box
    is much larger than the crop (a Gaussian of sigma ``0.5 * size / S`` before resampling)."""
    from scipy import ndimage

    out = []
    for img, c, s in zip(images, np.asarray(centers), np.asarray(sizes)):
        img = np.asarray(img, np.float32)
        ratio = float(s) / crop_size
        if ratio > ANTIALIAS_FROM:
            img = ndimage.gaussian_filter(img, sigma=(0.5 * ratio, 0.5 * ratio, 0))
        out.append(_crop_one(jnp.asarray(img), jnp.asarray(c), jnp.asarray(s), crop_size))
    return jnp.stack(out)


@functools.partial(jax.jit, static_argnames=("crop_size",))
def _crop_one(image, center, size, crop_size):
    return crop_image(image, center, size, crop_size)


@functools.partial(jax.jit, static_argnames=("per_vertex",))
def _renders(model: BodyModel, vertices, crops: Camera, frags, colours, *, per_vertex: bool):
    def one(v, cam, fr, col):
        kw = {"vertex_colors": col} if per_vertex else {"texture": col, "vt": model.vt,
                                                          "ft": model.ft}  # fmt: skip
        ch = render_channels(v, model.faces, cam, fr, model.v_template, **kw)
        return network_input(ch)

    return jax.vmap(one)(vertices, crops, frags, colours)


@struct.dataclass
class CropRendering:
    """A batch's initial estimates rendered into their person crops (steps 1-2 and the image
    crop of step 3; leading B axis).

    Attributes:
      box_center (B, 2), box_size (B,): the boxes; crops: batched crop cameras;
      tri_id (B, S, S), bary (B, S, S, 3): the initial mesh's fragments in the crop;
      renders (B, S, S, 11): the network's render input; image_crop (B, S, S, 3);
      render_flags (B,) int32: rasterizer flags (0 = fine).
    """

    box_center: jnp.ndarray
    box_size: jnp.ndarray
    crops: Camera
    tri_id: jnp.ndarray
    bary: jnp.ndarray
    renders: jnp.ndarray
    image_crop: jnp.ndarray
    render_flags: jnp.ndarray


def render_crops(
    model: BodyModel,
    images,
    vertices,
    cameras: Camera,
    colours,
    *,
    crop_size: int,
    backend: str = "auto",
    enlarge: float = BOX_ENLARGE,
) -> CropRendering:
    """Steps 1-3 of a batch but the network: boxes, crop renderings, image crops.

    Args:
      model: body model.
      images: B full images (H_i, W_i, 3) float in [0, 1] (a list or an array).
      vertices: (B, V, 3) posed initial vertices (camera frame). cameras: batched full cameras.
      colours: (B, T, T, 3) UV textures (model with UVs) or (B, V, 3) per-vertex colours.
      crop_size: the network's input side S. backend: rasterizer backend.
    """
    S = crop_size
    hw = np.array([np.shape(im)[:2] for im in images], np.float32)
    centers, sizes, crops = crop_boxes(model, vertices, cameras, hw, crop_size=S, enlarge=enlarge)
    frags = rasterize_batch(vertices, model.faces, crops, S, S, backend, cull_backfaces=True)
    per_vertex = colours.ndim == 3
    renders = _renders(model, vertices, crops, frags, jnp.asarray(colours), per_vertex=per_vertex)
    flags = getattr(frags, "flags", None)
    return CropRendering(
        box_center=centers,
        box_size=sizes,
        crops=crops,
        tri_id=frags.tri_id,
        bary=frags.bary,
        renders=renders,
        image_crop=crop_images(images, centers, sizes, S),
        render_flags=jnp.zeros(len(sizes), jnp.int32) if flags is None else flags,
    )


def predict_fields(net_cfg: NetworkConfig, net_params, rendering: CropRendering) -> FieldPrediction:
    """Step 3: the network's field (last stack) for a batch of crop renderings."""
    out = _network(net_cfg, net_params, rendering.image_crop, rendering.renders)
    return FieldPrediction(
        field=out.fields[:, -1],
        log_scale=out.log_scale,
        tri_id=rendering.tri_id,
        bary=rendering.bary,
        box_center=rendering.box_center,
        box_size=rendering.box_size,
        image_crop=rendering.image_crop,
        renders=rendering.renders,
        render_flags=rendering.render_flags,
    )


@functools.partial(jax.jit, static_argnums=(0,))
def _network(net_cfg, net_params, image_crop, renders):
    return apply_batch(net_cfg, net_params, image_crop, renders)


@functools.partial(jax.jit, static_argnames=("use_confidence",))
def targets_from_fields(
    model: BodyModel, pred: FieldPrediction, vertices, cameras: Camera, *, use_confidence: bool
):
    """Per-vertex targets of a batch (steps 4): ``(targets (B, V, 2), weights (B, V),
    mean displacement (B,) in full-image pixels)``; a vertex without a target (weight 0)
    gets (0, 0).

    With ``use_confidence`` the weight of a visible vertex is ``median(b) / b_i`` (clipped to
    [CONFIDENCE_FLOOR, 1]), ``b_i`` the barycentric-weighted mean Laplace scale of the pixels that
    saw it: vertices the network is unsure about count less, none is dropped.
    """
    S = pred.field.shape[1]
    V = vertices.shape[1]

    def one(v, cam, field, tri, bary, size, log_scale):
        vt = pixels_to_vertices(field, model.faces, tri, bary, V)
        disp = vt.displacement * (size / S)
        weights = vt.visible.astype(jnp.float32)
        if use_confidence:
            scale = pixels_to_vertices(
                jnp.exp(log_scale)[..., None], model.faces, tri, bary, V
            ).displacement[:, 0]
            med = jnp.nanmedian(jnp.where(vt.visible, scale, jnp.nan))
            conf = jnp.clip(med / jnp.maximum(scale, 1e-6), CONFIDENCE_FLOOR, 1.0)
            weights = jnp.where(vt.visible, conf, 0.0)
        mean_disp = jnp.sum(jnp.linalg.norm(disp, axis=-1) * vt.visible) / jnp.maximum(
            jnp.sum(vt.visible), 1
        )
        # a vertex without a target gets (0, 0), finite wherever it projects (one at z = 0
        # projects to inf): what check_dense_values asks of every fit's data
        targets = jnp.where(vt.visible[:, None], project(cam, v) + disp, 0.0)
        return targets, weights, mean_disp

    log_scale = pred.log_scale if use_confidence else jnp.zeros(pred.field.shape[:3])
    return jax.vmap(one)(
        vertices, cameras, pred.field, pred.tri_id, pred.bary, pred.box_size, log_scale
    )


@functools.partial(jax.jit, static_argnums=())
def pose_batch(model: BodyModel, pose, betas, transl):
    """Posed bodies of a batch: ``BodyOutput`` with (B, V, 3) vertices and (B, 24, 3) joints."""
    return jax.vmap(lambda p, b, t: forward(model, p, b, t))(pose, betas, transl)


def timed(fn, *args, **kwargs):
    """``(result, seconds)`` of a call, waiting for its arrays."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args, **kwargs))
    return out, time.perf_counter() - t0


# The least value of each numeric RefineOptions field: counts of steps and a batch, and the
# weights, which a negative value would turn from a penalty into a reward.
_LEAST = {"camera_steps": 0, "body_steps": 0, "rerun_every": 0, "batch_size": 1,
          "texture_size": 1, "keypoint_weight": 0, "temporal_weight": 0,
          "silhouette_weight": 0, "mask_gate": 0}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class RefineOptions:
    """How :func:`refine` runs (each option's measured effect: docs/BENCHMARKS.md, eval tables).

    Attributes:
      preset: SMPLify preset ("dense": the paper's variant).
      optimizer: optimizer name, object or factory (see :func:`jaxrefine.smplify.smplify`).
      camera_steps / body_steps: override the preset's iterations.
      use_confidence: weight vertices by the network's confidence head (needs a config with
        ``confidence=True``).
      keypoint_weight: with 2D keypoints given, their term's weight beside the dense term.
      rerun_every: re-run the network every k body iterations (0: once, as the paper found
        enough); a host-side loop of fits, so rendering stays out of sharded programs.
      share_betas: one shape per subject: after the fit, every frame of a subject gets the
        subject's median betas and its pose is refitted with the betas held.
      temporal_weight: > 0 treats each subject's frames, in the order given, as consecutive
        video frames and refits them together with a penalty on the joints' accelerations
        (:mod:`jaxrefine.temporal`); 0 (default) fits every frame on its own.
      use_gmm: the GMM pose prior.
      gmm_path: the GMM's file: None (default) the shipped CMU-fitted prior, else SMPLify's
        ``gmm_08.pkl`` or an ``.npz`` of ``means``, ``covars``, ``weights``
        (:func:`jaxrefine.priors.load_gmm`); the prior of the fit and, for photos, of their
        initial fits (needs ``use_gmm``).
      batch_size: frames per compiled batch (the last batch is padded to it).
      backend: rasterizer backend. texture_size: side of estimated UV textures.
      keypoint_set: the set of the given 2D keypoints ("body25" or "coco17").
      silhouette_weight: > 0 adds the silhouette term (:mod:`jaxrefine.silhouette`) for the
        person masks given to :func:`refine` (needs them); 0 (default): off.
      mask_gate: > 0 drops the dense target of every vertex whose target lies farther than
        this fraction of the person mask's longer side outside the mask
        (:func:`jaxrefine.silhouette.gate_weights`; needs the masks); 0 (default): off.

    Raises:
      ValueError: a value below its least (:data:`_LEAST`), naming each.
    """

    preset: str = "dense"
    optimizer: object = "adam"
    camera_steps: int | None = None
    body_steps: int | None = None
    use_confidence: bool = False
    keypoint_weight: float | None = None
    rerun_every: int = 0
    share_betas: bool = False
    temporal_weight: float = 0.0
    use_gmm: bool = True
    gmm_path: str | None = None
    batch_size: int = 16
    backend: str = "auto"
    texture_size: int = 256
    keypoint_set: str = "body25"
    silhouette_weight: float = 0.0
    mask_gate: float = 0.0

    @property
    def needs_masks(self) -> bool:
        """Whether :func:`refine` needs person masks (the silhouette term or the mask gate)."""
        return self.silhouette_weight > 0 or self.mask_gate > 0

    def __post_init__(self):
        bad = fields_below(self, _LEAST)
        if bad:
            raise ValueError(f"refine options: {', '.join(bad)}")
        check_gmm_choice(self.use_gmm, self.gmm_path)


def pose_prior(options: RefineOptions):
    """The fit's :class:`~jaxrefine.priors.GMMPrior`: ``options.gmm_path``'s (None: the
    shipped one), or None without ``use_gmm``.

    Raises:
      FileNotFoundError, PriorFileError: see :func:`jaxrefine.priors.load_gmm`.
    """
    return choose_gmm_prior(options.use_gmm, options.gmm_path)


def initial_prior(options: RefineOptions | None):
    """The pose prior of photos' initial fits (:mod:`jaxrefine.photo`): ``options.gmm_path``'s,
    else the shipped one (the initial fits use a prior even when ``use_gmm`` is off)."""
    return load_gmm_prior(None if options is None else options.gmm_path)


def check_network(network, options: RefineOptions, source: str = "network") -> None:
    """Raise ``ValueError`` (``source: reason``) when the network ``(config, params)`` lacks
    an output ``options`` ask for: ``use_confidence`` needs a confidence head (its weights);
    ``None`` (no network at all) is refused too."""
    if network is None:
        raise ValueError(
            f"{source}: refine needs the displacement network (config, params), "
            "e.g. jaxrefine.network.load_pretrained()[:2]; got None"
        )
    if not isinstance(network, (tuple, list)) or len(network) != 2:
        got = f"a {len(network)}-tuple" if isinstance(network, (tuple, list)) else type(network)
        raise ValueError(
            f"{source}: refine's network is (config, params), e.g. "
            f"jaxrefine.network.load_pretrained()[:2] (it returns config, params, meta); got {got}"
        )
    cfg = network[0]
    if options.use_confidence and not cfg.confidence:
        raise ValueError(
            f"{source}: --confidence (use_confidence) needs a network with a confidence head; "
            f"network config {cfg.name!r} has none (train one with scripts/train.py "
            "--confidence)"
        )


def warn_network_model(meta: dict, model_id: str, source: str = "network") -> str:
    """The id of the body model whose renderings trained the network (``meta`` as
    :func:`jaxrefine.network.load_pretrained` returns it), with a ``UserWarning`` when it is not
    ``model_id``, the body model a run refines: the network's fields on renderings of another
    body are unmeasured (the shipped network saw only the open model's)."""
    trained = trained_body_model(meta)
    if trained != model_id:
        warnings.warn(
            f"{source} was trained on renderings of the body model {trained!r}, this run "
            f"refines {model_id!r}: its fields on this model are unmeasured (measure them with "
            "jaxrefine eval --model FILE, or train a network for it: scripts/train.py --model "
            "FILE, then --checkpoint)",
            stacklevel=2,
        )
    return trained


@struct.dataclass
class RefineResult:
    """Per-frame results of :func:`refine` (leading N axis).

    Attributes:
      params: refined dict (global_orient (N,3), body_pose (N,23,3), betas (N,NB), transl (N,3)).
      status: (N,) int32 fit status (:func:`jaxrefine.fit.status_name`).
      init_loss / final_loss: (N,) body-stage objective at the start and at the result.
      visible: (N,) int32 vertices with a target. mean_displacement: (N,) px, predicted.
      terms: dict term name -> (N,) the per-frame fit's squared-residual sum of each term at
        its result (the last stage's: data terms and priors); after the ``share_betas`` or
        ``temporal_weight`` refits, the frame's own objective's terms at their result (the
        acceleration penalty is not a frame's). A frame "kept initial" shows the rejected
        result's.
      ms: dict stage -> milliseconds per frame (render, network, transfer, fit; first batch
        includes compilation).
    """

    params: dict
    status: jnp.ndarray
    init_loss: jnp.ndarray
    final_loss: jnp.ndarray
    visible: jnp.ndarray
    mean_displacement: jnp.ndarray
    terms: dict
    ms: dict = struct.field(pytree_node=False, default_factory=dict)


def subject_colours(
    model: BodyModel,
    images,
    vertices,
    cameras: Camera,
    subjects,
    *,
    size: int = 256,
    backend: str = "auto",
):
    """Each subject's personal texture from all its frames (median of back-projected colours,
    uncovered texels filled from their nearest covered one).

    Args:
      images: N full images (a subject's frames must share one size).
      vertices: (N, V, 3) the estimates' vertices. cameras: batched (N).
      subjects: (N,) subject ids (e.g. track ids).

    Returns:
      ``(colours, index)``: (P, T, T, 3) UV textures (models with UVs) or (P, V, 3) per-vertex
      colours (models without, such as SMPL pickles), and (N,) the row of each frame.
    """
    from jaxrefine.data.texture_estimation import estimate_texture, fill_uncovered

    per = "texel" if model.vt is not None and model.ft is not None else "vertex"
    subjects = np.asarray(subjects)
    keys, index = np.unique(subjects, return_inverse=True)
    out = []
    for k in range(len(keys)):
        idx = np.flatnonzero(index == k)
        frames = [np.asarray(images[i]) for i in idx]  # each read (and checked) once
        shapes = {f.shape for f in frames}
        if len(shapes) != 1:
            raise ValueError(
                f"subject {keys[k].item()!r}: its frames differ in size {sorted(shapes)}; one "
                "subject's frames come from one camera (give different people different "
                "track_id / person_id entries in the estimates)"
            )
        est = estimate_texture(
            model, np.stack(frames), np.asarray(vertices)[idx],
            jax.tree.map(lambda a, idx=idx: a[idx], cameras), per=per, size=size,
            backend=backend,
        )  # fmt: skip
        if per == "texel":
            out.append(fill_uncovered(est.colours, est.coverage))
        else:
            fill = est.colours[est.coverage].mean(0) if est.coverage.any() else 0.5
            out.append(np.where(est.coverage[:, None], est.colours, fill).astype(np.float32))
    return np.stack(out), index


def _take(tree, idx):
    return jax.tree.map(lambda a: jnp.asarray(a)[idx], tree)


def _fit_data(model, pred_targets, cams, params, vertices, keypoints, preset, silhouette=None):
    targets, weights, _ = pred_targets
    kp = {}
    if keypoints is not None:
        kp = {"keypoints": jnp.asarray(keypoints[..., :2]),
              "keypoint_conf": jnp.asarray(keypoints[..., 2])}  # fmt: skip
    n = targets.shape[0]
    data = FitData(
        camera=cams, init_transl=params["transl"], pixel_scale=jnp.ones(n),
        dense_targets=targets, dense_weights=weights, silhouette=silhouette, **kp,
    )  # fmt: skip
    return with_start(data, params["transl"], vertices, preset)


def _round(
    model,
    network,
    images,
    params,
    cams,
    colours,
    keypoints,
    options,
    gmm,
    preset,
    camera_steps,
    body_steps,
    silhouette=None,
    width=0,
):
    """One render -> network -> targets -> fit round of a batch; returns (SMPLifyResult,
    targets, data, prediction, timings in seconds, compacted width). The fit's data is
    compacted to at least ``width`` visible-vertex slots (the run's largest so far), so that
    rounds and batches share one compiled fit program."""
    from jaxrefine.smplify import smplify

    net_cfg, net_params = network
    body = pose_batch(model, _pose(params), params["betas"], params["transl"])
    rendering, t_render = timed(
        render_crops, model, images, body.vertices, cams, colours,
        crop_size=net_cfg.crop_size, backend=options.backend,
    )  # fmt: skip
    pred, t_net = timed(predict_fields, net_cfg, net_params, rendering)
    tg, t_tr = timed(
        targets_from_fields, model, pred, body.vertices, cams,
        use_confidence=options.use_confidence,
    )  # fmt: skip
    if options.mask_gate > 0:
        tg = (tg[0], _gate(silhouette, tg[0], tg[1], options.mask_gate), tg[2])
    sil = silhouette if options.silhouette_weight > 0 else None
    data = _fit_data(model, tg, cams, params, body.vertices, keypoints, preset, sil)
    kind = data_kind(keypoints)
    packed = compact_dense(data, min_width=width)
    res, t_fit = timed(
        smplify, model, params, packed, preset=preset, data_kind=kind,
        optimizer=options.optimizer, gmm=gmm, camera_steps=camera_steps, body_steps=body_steps,
        render_flags=rendering.render_flags, keypoint_set=options.keypoint_set,
    )  # fmt: skip
    width = packed.dense_ids.shape[1]
    return res, tg, data, pred, (t_render, t_net, t_tr, t_fit), width


@functools.partial(jax.jit, static_argnums=3)
def _gate(silhouettes, targets, weights, gate: float):
    """Batched :func:`jaxrefine.silhouette.gate_weights`: (B, V) weights."""
    from jaxrefine.silhouette import gate_weights

    return jax.vmap(lambda s, t, w: gate_weights(s, t, w, gate))(silhouettes, targets, weights)


def _pose(params):
    return jnp.concatenate([params["global_orient"][:, None], params["body_pose"]], 1)


def _batches(n: int, size: int):
    """Index arrays of ``size`` (the last one padded with its final frame) and their true
    lengths: one compiled program serves every batch."""
    for start in range(0, n, size):
        idx = np.arange(start, min(start + size, n))
        yield np.concatenate([idx, np.full(size - len(idx), idx[-1])]), len(idx)


def _preset(options: RefineOptions):
    from jaxrefine.objective import get_preset

    p = get_preset(options.preset)
    if options.silhouette_weight > 0:
        weights = dataclasses.replace(p.weights, silhouette=float(options.silhouette_weight))
        p = dataclasses.replace(p, weights=weights)
    if options.keypoint_weight is not None:
        p = dataclasses.replace(
            p,
            weights=dataclasses.replace(
                p.weights, keypoint_in_dense=float(options.keypoint_weight)
            ),
        )
    return p


def data_kind(keypoints) -> str:
    """SMPLify's data kind of a refinement: the dense targets, plus keypoints when given."""
    return "dense" if keypoints is None else DENSE_AND_KEYPOINTS


def body_stage_steps(options: RefineOptions, preset, kind: str) -> int:
    """The body stage's steps of a refinement: ``options.body_steps``, else the optimizer's own
    count (a learned optimizer's trained one), else the preset's. :func:`refine` passes the
    count to every round explicitly (``--rerun-every`` splits it), so it must be the one
    ``smplify`` would have chosen: LGD once ran the preset's 100 steps here instead of its 10
    (sessions 12-16, found in session 16)."""
    from jaxrefine.optimizers.registry import resolve_optimizer

    if options.body_steps is not None:
        return options.body_steps
    own = resolve_optimizer(options.optimizer, preset.learning_rate, kind).stage_steps(None)
    return preset.body_steps if own is None else own


def _refine_batch(
    model, network, images, params, cams, colours, kp, options, gmm, preset, sil, width, steps
):
    """All rounds of one batch: ``(results dict, last round's FitData, seconds per stage,
    compacted width)``; ``width`` is the run's largest compacted width so far (see
    :func:`_round`); ``steps``: the body stage's (:func:`body_stage_steps`). A frame whose
    rendering failed gets the render-failed status from :func:`smplify`."""
    from jaxrefine.fit import worst_status

    k = options.rerun_every if options.rerun_every > 0 else max(steps, 1)
    rounds = max(1, -(-steps // k))  # body_steps 0: one round, the camera stage only
    status, init_loss, secs = None, None, np.zeros(4)
    for r in range(rounds):
        body = min(k, steps - r * k)
        cam = options.camera_steps if r == 0 else 0
        res, tg, data, _, t, width = _round(
            model, network, images, params, cams, colours, kp, options, gmm, preset, cam, body,
            sil, width,
        )  # fmt: skip
        secs += t
        status = res.status if status is None else worst_status(status, res.status)
        if init_loss is None:
            init_loss = (res.body_stage or res.camera_stage).init_loss
        params = res.params
    visible = jnp.sum(tg[1] > 0, axis=1)
    out = {"params": params, "status": status, "init_loss": init_loss, "visible": visible,
           "final_loss": res.final_loss, "mean_displacement": tg[2],
           "terms": dict((res.body_stage or res.camera_stage).terms)}  # fmt: skip
    return out, data, secs, width


def refine(
    model: BodyModel,
    images,
    params: dict,
    cameras: Camera,
    network: tuple[NetworkConfig, dict],
    *,
    subjects=None,
    keypoints=None,
    masks=None,
    frame_index=None,
    options: RefineOptions = RefineOptions(),
    progress=None,
) -> RefineResult:
    """Refine N initial estimates against their images with the displacement network.

    Args:
      model: body model of the estimates.
      images: N full RGB images (H_i, W_i, 3) float in [0, 1] or uint8 (a list, an array
        or an :class:`~jaxrefine.inputs.ImageSequence`), checked as they are read
        (:class:`CheckedImages`); OpenCV's ``cv2.imread`` gives BGR (``image[..., ::-1]``
        is RGB), which nothing here can tell from RGB.
      params: initial estimates, camera frame: global_orient (N,3), body_pose (N,23,3) or
        smplx's (N,69) axis-angle, or rotation matrices (N,3,3) / (N,23,3,3)
        (:func:`axis_angle_params`), betas (N,NB), transl (N,3)
        (:func:`~jaxrefine.objective.check_params`), finite. Bodies out of their image's
        view are named in an :class:`OutOfViewWarning` and kept as they are.
      cameras: batched full-image cameras (N), focal lengths > 0; a focal too short for
        pixels or a principal point far from its image's centre is named in a
        :class:`CameraWarning`.
      network: ``(config, params)`` of the displacement network (e.g. ``load_pretrained()``).
      subjects: (N,) subject / track ids: frames of one subject share a personal texture (and
        a shape with ``share_betas``); default: one subject per frame.
      keypoints: optional (N, K, 3) detected 2D keypoints (x, y, confidence) of the preset's
        keypoint set (BODY_25), full-image pixels (normalised ones are refused), finite (a
        missing one has confidence 0 at any finite x, y), confidences in [0, 1] (to
        :data:`~jaxrefine.keypoints.MAX_CONFIDENCE` taken as given; beyond, refused:
        :func:`~jaxrefine.objective.check_keypoint_values`), fitted beside the dense
        targets with ``keypoint_weight``.
      masks: optional N person masks (H_i, W_i) (e.g. BlazePose's), for the silhouette term
        and the mask gate; used when ``options.needs_masks``, which needs them.
      frame_index: optional (N,) whole video frame numbers, each subject at most once per
        frame (else refused): with ``temporal_weight`` a subject's
        frames are smoothed in frame order, in runs of consecutive numbers (a gap starts a
        new run, :func:`jaxrefine.temporal.consecutive_runs`); default: each subject's frames
        in the order given are one run.
      options: :class:`RefineOptions`.
      progress: optional callable ``(frames_done)`` called after each batch (a progress bar).

    Returns:
      :class:`RefineResult`.
    """
    n, sizes, images = len(images), _image_sizes(images), CheckedImages(images, "refine: images")
    params = {k: jnp.asarray(v, jnp.float32) for k, v in axis_angle_params(params).items()}
    params = check_params(params, model.num_betas, "refine: params")
    _check_counts(n, params, cameras, subjects, keypoints)
    _check_frame_index(frame_index, np.arange(n) if subjects is None else subjects, n)
    _check_finite(params)
    check_joint_angles(params["body_pose"], "refine: params")
    check_cameras(cameras, "refine: cameras")
    intr = np.stack([np.asarray(a) for a in (cameras.fx, cameras.fy, cameras.cx, cameras.cy)], -1)
    warn_camera_values(intr, sizes, "refine: cameras", lambda i: f"frame {i}")
    if keypoints is not None:
        _check_keypoints(model, keypoints, options)
    preset = _preset(options)
    sil = _silhouettes(n, masks, options, images)
    check_network(network, options)
    gmm = pose_prior(options)
    subjects = np.arange(n) if subjects is None else np.asarray(subjects)
    v0 = pose_batch(model, _pose(params), params["betas"], params["transl"]).vertices
    views = view_codes(v0, cameras, sizes)
    warn_out_of_view(views, params["transl"], "refine: params", lambda i: f"frame {i}")
    colours, cindex = subject_colours(
        model, images, v0, cameras, subjects, size=options.texture_size, backend=options.backend
    )
    parts, datas, secs, width = [], [], np.zeros(4), 0
    steps = body_stage_steps(options, preset, data_kind(keypoints))
    for idx, m in _batches(n, min(options.batch_size, n)):
        out, data, t, width = _refine_batch(
            model, network, [images[i] for i in idx], _take(params, idx), _take(cameras, idx),
            jnp.asarray(colours[cindex[idx]]), None if keypoints is None else keypoints[idx],
            options, gmm, preset, None if sil is None else _take(sil, idx), width, steps,
        )  # fmt: skip
        parts.append(jax.tree.map(lambda a, m=m: np.asarray(a)[:m], out))
        datas.append((idx, m, data))
        secs += t
        if progress is not None:
            progress(m)
    merged = jax.tree.map(lambda *a: np.concatenate(a), *parts)
    if options.share_betas:
        merged = _share_betas(model, merged, datas, subjects, options, gmm, preset, width)
    if options.temporal_weight > 0:
        from jaxrefine.temporal import consecutive_runs

        # a body out of view is nobody's neighbour: its kept estimate would pull the others
        ids = np.unique(subjects, return_inverse=True)[1].reshape(-1)
        ids = np.where(views == IN_VIEW, ids, -1 - np.arange(n))
        runs = consecutive_runs(ids, frame_index)
        merged = _smooth_tracks(model, merged, datas, runs, frame_index, options, gmm, preset)
    ms = dict(zip(("render", "network", "transfer", "fit"), (secs * 1e3 / n).tolist()))
    return RefineResult(**_keep_out_of_view(merged, params, views), ms=ms)


class OutOfViewWarning(UserWarning):
    """Estimates whose bodies lie out of their image's view (:func:`view_codes`)."""


# What to check for each way of lying out of view (the codes of camera.out_of_view).
_VIEW_HINTS = {
    BEHIND_CAMERA: "the camera looks along +z with y down (OpenCV); an OpenGL-style "
    "translation has its y and z negated",
    TOO_SMALL: f"under {MIN_BODY_PIXELS:g} px on their longer side; translations are read "
    "in metres (centimetres or millimetres?) and focal lengths in pixels",
    OUTSIDE_IMAGE: "check that the camera (focal, principal point) is the images' own",
}


@jax.jit
def _out_of_view_batch(cameras: Camera, vertices, sizes):
    return jax.vmap(out_of_view)(cameras, vertices, sizes)


def view_codes(vertices, cameras: Camera, sizes) -> np.ndarray:
    """(N,) where each of N bodies lies in its image (:func:`jaxrefine.camera.out_of_view`):
    (N, V, 3) ``vertices``, batched ``cameras``, (N, 2) image ``sizes`` (H, W)."""
    return np.asarray(_out_of_view_batch(cameras, vertices, jnp.asarray(sizes, jnp.float32)))


def warn_out_of_view(codes, transl, who: str, name_of) -> None:
    """One :class:`OutOfViewWarning` per way the bodies of ``codes`` (:func:`view_codes`) lie
    out of view, naming how many, the first (``name_of(i)``) with its (N, 3) ``transl``, and
    what to check; :func:`refine` keeps such estimates as they are."""
    codes, transl = np.asarray(codes), np.asarray(transl)
    for code, name in OUT_OF_VIEW_NAMES.items():
        idx = np.flatnonzero(codes == code)
        if len(idx):
            t = " ".join(f"{x:.3g}" for x in transl[idx[0]])
            warnings.warn(f"{who}: {len(idx)} of the {len(codes)} bodies are {name} (e.g. "
                          f"{name_of(int(idx[0]))}, transl {t}): {_VIEW_HINTS[code]}; they are "
                          "kept as they are (status 'kept initial')", OutOfViewWarning,
                          stacklevel=3)  # fmt: skip


def warn_camera_values(intrinsics, sizes, who: str, name_of) -> None:
    """A :class:`CameraWarning` for each way some of N cameras ((N, 4) ``intrinsics`` fx, fy,
    cx, cy in pixels) do not fit their images of (N, 2) ``sizes`` (H, W): a focal too short
    for pixels (millimetres or normalised?), a principal point far from the image's centre
    (another resolution's camera?); each names how many, the first (``name_of(i)``) and its
    image size. Nothing is changed: the bodies are refined with the cameras given."""
    k, sizes = np.asarray(intrinsics, np.float64).reshape(-1, 4), np.asarray(sizes).reshape(-1, 2)
    found = ((focal_too_short(k[:, 0], k[:, 1], sizes), _short_focal),
             (principal_point_off_centre(k[:, 2], k[:, 3], sizes), _off_centre))  # fmt: skip
    for flags, say in found:
        idx = np.flatnonzero(flags)
        if len(idx):
            i, (h, w) = int(idx[0]), sizes[idx[0]]
            warnings.warn(f"{who}: {len(idx)} of the {len(sizes)} cameras "
                          + say(k[i], f"{name_of(i)}: ", f" in {w}x{h} px"), CameraWarning,
                          stacklevel=3)  # fmt: skip


def _short_focal(k, name: str, size: str) -> str:
    return (f"have a focal under {MIN_FOCAL_FRACTION:g} of their image's longer side (e.g. "
            f"{name}fx {k[0]:g}, fy {k[1]:g}{size}, a field of view over 136 degrees): focal "
            "lengths are read in pixels (millimetres? normalised by the image size?); the "
            "bodies are then drawn a few pixels tall")  # fmt: skip


def _off_centre(k, name: str, size: str) -> str:
    return (f"have their principal point more than {PRINCIPAL_POINT_OFF_CENTRE:.0%} of the "
            f"image from its centre (e.g. {name}({k[2]:g}, {k[3]:g}){size}): is it the camera "
            "of another resolution (a video's full-size camera, its frames resized)? The "
            "bodies are then drawn away from their people; a crop's camera can be off-centre "
            "by right")  # fmt: skip


def _keep_out_of_view(merged: dict, params: dict, codes: np.ndarray) -> dict:
    """``merged`` results with the initial ``params`` kept, "kept initial", for the bodies out
    of view (``codes``): the network saw no pixel of them (an image crop beyond the image is
    padding) and nothing was there to fit."""
    from jaxrefine.fit import KeptResult, keep_initial

    out = np.asarray(codes) != IN_VIEW
    if not out.any():
        return merged
    end = KeptResult(merged["params"], merged["status"], merged["init_loss"],
                     merged["final_loss"], np.zeros(len(out), bool))  # fmt: skip
    kept = jax.tree.map(np.asarray, jax.vmap(keep_initial)(end, params, out))
    return {**merged, "params": kept.params, "status": kept.status,
            "final_loss": kept.final_loss}  # fmt: skip


def _image_sizes(images) -> np.ndarray:
    """(N, 2) (H, W) of a refinement's images (an image file's from its header)."""
    from jaxrefine.inputs.images import ImageSequence, frame_size

    if isinstance(images, ImageSequence):
        return np.array([frame_size(images, i) for i in range(len(images))])
    return np.array([np.shape(images[i])[:2] for i in range(len(images))])


def axis_angle_params(params: dict, who: str = "refine: params") -> dict:
    """``params`` with a global_orient (N, 3, 3) / (N, 1, 3, 3) or body_pose (N, 23, 3, 3) of
    rotation matrices (HMR 2.0's and SPIN's outputs) turned into axis-angle, on the host
    (:func:`jaxrefine.geometry.rotvec_from_matrices`); everything else as it is."""
    from jaxrefine.geometry import rotvec_from_matrices

    out = dict(params)
    for key in ("global_orient", "body_pose"):
        a = np.asarray(params[key]) if key in params else None
        if a is not None and a.ndim >= 3 and a.shape[-2:] == (3, 3):
            try:
                out[key] = rotvec_from_matrices(a)
            except ValueError as exc:
                raise ValueError(f"{who}[{key!r}] {exc}") from None
    return out


# Float images may overshoot [0, 1] by this much (resampling filters ring past the range) and
# are clipped; beyond it they are in another range (0..255 floats), refused rather than clipped.
IMAGE_RANGE_TOL = 0.05


class CheckedImages:
    """A sequence of images read one at a time, each checked and returned as (H, W, 3) float32
    in [0, 1]: uint8 / uint16 scaled, greyscale repeated, alpha dropped
    (:func:`jaxrefine.inputs.images.to_float_rgb`); floats outside [0, 1] (beyond
    :data:`IMAGE_RANGE_TOL`), NaN and other shapes refused naming the image. Lazy, so a video's
    frames are still decoded only when used."""

    def __init__(self, images, who: str):
        self.images, self.who = images, who

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> np.ndarray:
        from jaxrefine.inputs.images import to_float_rgb

        a, who = np.asarray(self.images[i]), f"{self.who}[{i}]"
        if np.issubdtype(a.dtype, np.floating) and a.size and np.all(np.isfinite(a)):
            lo, hi = float(a.min()), float(a.max())
            if lo < -IMAGE_RANGE_TOL or hi > 1 + IMAGE_RANGE_TOL:
                raise ValueError(f"{who}: float pixels in [{lo:g}, {hi:g}]; expected [0, 1] "
                                 "(divide 0..255 values by 255, or pass uint8)")  # fmt: skip
        return to_float_rgb(a, who)


def _silhouettes(n: int, masks, options: RefineOptions, images):
    """The frames' stacked silhouette targets, or None when neither the silhouette term nor
    the mask gate is on."""
    from jaxrefine.silhouette import silhouette_target, stack_targets

    if not options.needs_masks:
        return None
    if masks is None or len(masks) != n:
        got = "none" if masks is None else len(masks)
        raise ValueError(f"silhouette_weight > 0 or mask_gate > 0 needs one person mask per "
                         f"image: {n} images, masks: {got}")  # fmt: skip
    targets = []
    for i, m in enumerate(masks):
        if np.shape(m) != np.shape(images[i])[:2]:
            raise ValueError(f"refine: masks[{i}] has shape {np.shape(m)}; its image is "
                             f"{np.shape(images[i])[:2]} (H, W)")  # fmt: skip
        try:
            targets.append(silhouette_target(m))
        except ValueError as exc:  # e.g. a mask without a person pixel
            raise ValueError(f"refine: masks[{i}]: {exc}") from None
    return stack_targets(targets)


def _check_keypoints(model: BodyModel, keypoints, options: RefineOptions) -> None:
    from jaxrefine.keypoints import get_set, keypoint_sets_for

    k = len(get_set(keypoint_sets_for(model), options.keypoint_set).names)
    got = np.shape(keypoints)
    if len(got) != 3 or got[1:] != (k, 3):
        raise ValueError(
            f"refine: keypoints has shape {got}; expected (N, {k}, 3) x, y, confidence of "
            f"options.keypoint_set={options.keypoint_set!r} (RefineOptions(keypoint_set=...) "
            "names another set)"
        )
    check_keypoint_values(np.asarray(keypoints)[..., :2], np.asarray(keypoints)[..., 2],
                          "refine: keypoints")  # fmt: skip


def _check_finite(params: dict) -> None:
    """Refuse NaN or inf in the estimates (a regressor's failed frame), naming the key and the
    first frame, as the estimates file reader does (they were fitted as "non-finite", and a
    body of NaN vertices read as one behind the camera)."""
    for key, v in params.items():
        bad = np.flatnonzero(~np.all(np.isfinite(np.asarray(v).reshape(len(v), -1)), 1))
        if len(bad):
            raise ValueError(f"refine: params[{key!r}] holds NaN or inf in {len(bad)} of "
                             f"{len(v)} frames (e.g. frame {bad[0]}); leave those frames out "
                             "or give them a start")  # fmt: skip


def _check_counts(n, params, cameras, subjects, keypoints):
    if n == 0:  # once "need at least one array to stack", from deep inside
        raise ValueError("refine: no images given (need at least one frame to refine)")
    sizes = {k: np.shape(v)[0] for k, v in params.items()}
    if not np.ndim(cameras.fx):
        raise ValueError(
            "refine: cameras holds one camera; give one per image (N), e.g. "
            "Camera.from_intrinsics(np.tile([fx, fy, cx, cy], (N, 1)))"
        )
    sizes["cameras"] = np.shape(cameras.fx)[0]
    if subjects is not None:
        sizes["subjects"] = len(subjects)
    if keypoints is not None:
        sizes["keypoints"] = np.shape(keypoints)[0]
    bad = {k: v for k, v in sizes.items() if v != n}
    if bad:
        raise ValueError(f"{n} images but the other inputs have other counts: {bad}")


def _check_frame_index(frame_index, subjects, n: int) -> None:
    """Refuse ``frame_index`` unless it holds N whole frame numbers, each subject seen at most
    once per frame: one subject twice in a frame (two people under one id, or times in
    seconds cut to whole numbers) would be smoothed as one body's neighbouring frames."""
    if frame_index is None:
        return
    f = np.asarray(frame_index)
    if f.shape != (n,):
        raise ValueError(f"refine: frame_index has shape {f.shape}; expected ({n},), one "
                         "video frame number per image")  # fmt: skip
    whole = np.issubdtype(f.dtype, np.number) and np.isfinite(f) & (f % 1 == 0)
    if not np.all(whole):
        raise ValueError(f"refine: frame_index holds {f[np.argmin(whole)]}; whole video "
                         "frame numbers are expected (seconds? times the frame rate)")  # fmt: skip
    key = np.stack([np.asarray(subjects), f.astype(np.int64)], 1)
    pairs, counts = np.unique(key, axis=0, return_counts=True)
    if (counts > 1).any():
        twice = pairs[np.argmax(counts)]
        at = ", ".join(map(str, np.flatnonzero(np.all(key == twice, 1))))
        raise ValueError(f"refine: subject {twice[0]} has frame_index {twice[1]} in images "
                         f"{at}: a subject is one person, seen at most once per frame (give "
                         "each person their own subject id)")  # fmt: skip


def _share_betas(model, merged, datas, subjects, options, gmm, preset, width):
    """Every frame of a subject gets the subject's median betas; poses are refitted with them
    held (body stage only, on the same targets, compacted to at least ``width``)."""
    from jaxrefine.fit import worst_status
    from jaxrefine.smplify import smplify

    betas = merged["params"]["betas"].copy()
    for s in np.unique(subjects):
        sel = subjects == s
        betas[sel] = np.median(betas[sel], axis=0)
    held = dataclasses.replace(
        preset, body_stage_params=tuple(k for k in preset.body_stage_params if k != "betas")
    )
    kind = data_kind(datas[0][2].keypoints)
    for idx, m, data in datas:
        start = _take({**merged["params"], "betas": betas}, np.minimum(idx, len(betas) - 1))
        res = smplify(
            model, start, compact_dense(data, min_width=width), preset=held, data_kind=kind,
            optimizer=options.optimizer,
            gmm=gmm, camera_steps=0, body_steps=options.body_steps,
            keypoint_set=options.keypoint_set,
        )  # fmt: skip
        rows = idx[:m]
        for key, val in res.params.items():
            merged["params"][key][rows] = np.asarray(val)[:m]
        merged["status"][rows] = np.asarray(worst_status(merged["status"][rows], res.status[:m]))
        merged["final_loss"][rows] = np.asarray(res.final_loss)[:m]
        for key, val in res.body_stage.terms.items():
            merged["terms"][key][rows] = np.asarray(val)[:m]
    return merged


def _smooth_tracks(model, merged, datas, runs, frame_index, options, gmm, preset):
    """Each run's frames (consecutive frames of one subject, ordered by ``frame_index`` or as
    given without it, at least :data:`~jaxrefine.temporal.MIN_TRACK`) refitted together with
    the acceleration penalty (:func:`jaxrefine.temporal.smooth_track`), starting from the
    per-frame results, on the same targets."""
    from jaxrefine.fit import worst_status
    from jaxrefine.objective import make_objectives
    from jaxrefine.optimizers.registry import resolve_optimizer
    from jaxrefine.temporal import MIN_TRACK, smooth_track

    kind = data_kind(datas[0][2].keypoints)
    frame_obj = make_objectives(model, preset, kind, gmm, options.keypoint_set)[1]
    parts = [_take(d, np.arange(m)) for _, m, d in datas]
    data = jax.tree.map(lambda *a: np.concatenate(a), *parts)
    keys = set(preset.body_stage_params) - ({"betas"} if options.share_betas else set())
    from jaxrefine.optimizers.learned import LearnedGradientDescent

    optimizer = resolve_optimizer(options.optimizer, preset.learning_rate, kind)
    if isinstance(optimizer, LearnedGradientDescent):
        raise ValueError(
            "temporal_weight > 0 refits whole tracks, but a learned optimizer (LGD) was trained "
            "on single frames: use a classical optimizer (e.g. 'adam') for temporal smoothing"
        )
    steps = preset.body_steps if options.body_steps is None else options.body_steps
    for s in np.unique(runs):
        rows = np.flatnonzero(runs == s)
        if frame_index is not None:
            rows = rows[np.argsort(np.asarray(frame_index)[rows], kind="stable")]
        if len(rows) < MIN_TRACK:
            continue
        res = smooth_track(
            model, frame_obj, _take(merged["params"], rows), _take(data, rows), optimizer,
            weight=options.temporal_weight, num_steps=steps, trainable=keys,
        )  # fmt: skip
        for key, val in res.params.items():
            merged["params"][key][rows] = np.asarray(val)
        merged["status"][rows] = np.asarray(worst_status(merged["status"][rows], res.status))
        loss = jax.vmap(frame_obj.loss)(res.params, _take(data, rows))
        merged["final_loss"][rows] = np.asarray(loss)
        for key, val in jax.vmap(frame_obj.terms)(res.params, _take(data, rows)).items():
            merged["terms"][key][rows] = np.asarray(val)
    return merged
