"""Synthetic frames: a textured, lit body in a real mocap pose on a background, with ground truth.

One frame (:func:`generate`, deterministic by seed):

1. parameters (:func:`jaxrefine.data.sampling.sample_scenes`): betas, a mocap pose turned to a
   random heading with a little tilt, focal length, distance and placement (partly out of
   frame at the extremes); camera frame, R = I, t = 0, principal point at the image centre;
2. a procedural clothing + skin texture in the model's UV layout
   (:func:`jaxrefine.data.textures.procedural_texture`) with a per-frame channel gain;
3. a background (:func:`jaxrefine.data.backgrounds.sample_background`: natural photos, HDRI
   crops, procedural patterns);
4. lighting: ambient + one directional light from the camera's side, random direction, colour
   and intensity (Lambert, per-pixel interpolated normals), then Gaussian pixel noise;
5. ground truth: pose, betas, transl, intrinsics, 3D joints, 2D keypoints (BODY_25 by default)
   with visibility (:func:`keypoint_visibility`), the per-pixel triangle ids and the mask;
6. an initial estimate like a regressor's (:func:`jaxrefine.data.perturb.perturb`) at a named
   difficulty.

Rendering of a whole batch is one jitted call (body model, rasterizer -- one host call and
one instanced draw with the EGL backend --, texture lookup, shading, keypoints, visibility).
:func:`iterate` yields batches forever for training (on-the-fly generation); evaluation sets are
cached with :mod:`jaxrefine.data.shards`.

Keypoint visibility: a keypoint is visible when it projects inside the image, lies in front of
the camera, and is not hidden: the rendered depth ``d`` at its pixel satisfies
``z <= d + tol_k`` (or the pixel is background). Joints lie *inside* the body, behind their own
limb's surface by about the limb radius, so ``tol_k = radius_scale * r_k + margin`` where
``r_k`` is the keypoint's distance to the nearest mesh vertex of the posed body (about 0 for
surface keypoints such as the nose, ears, toes and heels; 4-8 cm for knee, elbow and hip
joints) and ``margin`` covers the depth change across one pixel at grazing angles.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrefine.body_model import BodyModel, forward
from jaxrefine.camera import Camera, project, to_camera_frame
from jaxrefine.data.backgrounds import SOURCES, default_pool, sample_background
from jaxrefine.data.perturb import perturb
from jaxrefine.data.sampling import SceneConfig, SceneParams, cameras_for, sample_scenes
from jaxrefine.data.textures import procedural_texture
from jaxrefine.errors import fields_below
from jaxrefine.render import rasterize
from jaxrefine.shading import interpolate, interpolate_corners, sample_texture, vertex_normals
from jaxrefine.uv_layout import require_layout

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    """Settings of the frame generator (ranges are uniform).

    Attributes:
      scene: parameter sampler ranges (image size, focal, distance, placement, yaw, tilt,
        betas), see :class:`~jaxrefine.data.sampling.SceneConfig`.
      difficulty: initial-estimate level, "easy" | "medium" | "hard".
      texture_size: side of the procedural UV textures in texels.
      texture_pool: 0 = a new texture per frame; P > 0 = :func:`iterate` draws P textures once
        and picks from them (faster training; each frame still gets its own channel gain).
      backend: rasterizer backend, "auto" | "egl" | "jax" (see :func:`jaxrefine.render.rasterize`).
      background_sources: subset of ("skimage", "hdri", "procedural").
      keypoint_set: "body25" | "coco17" | "smpl24".
      ambient: ambient light intensity range.
      diffuse: directional light intensity range.
      light_tint: std of the per-channel light colour jitter.
      texture_gain: std of the per-frame, per-channel texture colour gain.
      pixel_noise: range of the Gaussian pixel noise std.
      visibility_radius_scale, visibility_margin_m: keypoint visibility tolerance
        ``tol_k = radius_scale * r_k + margin`` (metres), see the module docstring.
    """

    scene: SceneConfig = SceneConfig()
    difficulty: str = "medium"
    texture_size: int = 256
    texture_pool: int = 0
    backend: str = "auto"
    background_sources: tuple[str, ...] = SOURCES
    keypoint_set: str = "body25"
    ambient: tuple[float, float] = (0.3, 0.65)
    diffuse: tuple[float, float] = (0.3, 0.8)
    light_tint: float = 0.08
    texture_gain: float = 0.08
    pixel_noise: tuple[float, float] = (0.0, 0.02)
    visibility_radius_scale: float = 1.5
    visibility_margin_m: float = 0.03

    def __post_init__(self):  # checked before any frame is drawn, not by the texture sampler
        below = fields_below(self, _LEAST)
        if below:
            raise ValueError(f"generator config: {', '.join(below)}")

    @property
    def image_size(self) -> tuple[int, int]:
        return self.scene.image_size


# The least value of each number field of GeneratorConfig the generator can run with.
_LEAST = {"texture_size": 1, "texture_pool": 0, "light_tint": 0, "texture_gain": 0,
          "visibility_radius_scale": 0, "visibility_margin_m": 0}  # fmt: skip


@struct.dataclass
class SceneBatch:
    """N generated frames with ground truth (numpy arrays; camera frame, OpenCV axes, metres).

    Attributes:
      image: (N, H, W, 3) float32 sRGB in [0, 1].
      mask: (N, H, W) bool body foreground.
      tri_id: (N, H, W) int32 visible triangle (row of ``model.faces``), -1 on background.
      pose: (N, 24, 3) float32 ground-truth axis-angle pose (global orientation first).
      betas: (N, NB) float32.
      transl: (N, 3) float32.
      intrinsics: (N, 4) float32 (fx, fy, cx, cy); the camera has R = I, t = 0.
      joints: (N, 24, 3) float32 ground-truth 3D joints.
      keypoints: (N, K, 2) float32 2D keypoints (pixels, OpenCV, centres at +0.5).
      keypoints_3d: (N, K, 3) float32 3D keypoints.
      visible: (N, K) bool keypoint visibility (in the image and not occluded).
      init_pose, init_betas, init_transl: the initial estimate (perturbed ground truth).
      pose_index: (N,) int64 index of the mocap pose used.
      difficulty: static, the level of the initial estimate.
      keypoint_set: static, name of the keypoint set.
    """

    image: np.ndarray
    mask: np.ndarray
    tri_id: np.ndarray
    pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    intrinsics: np.ndarray
    joints: np.ndarray
    keypoints: np.ndarray
    keypoints_3d: np.ndarray
    visible: np.ndarray
    init_pose: np.ndarray
    init_betas: np.ndarray
    init_transl: np.ndarray
    pose_index: np.ndarray
    difficulty: str = struct.field(pytree_node=False, default="medium")
    keypoint_set: str = struct.field(pytree_node=False, default="body25")

    def __len__(self) -> int:
        return int(self.image.shape[0])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.image.shape[1]), int(self.image.shape[2])

    @property
    def cameras(self) -> Camera:
        """Batched :class:`~jaxrefine.camera.Camera` (leaves with a leading N axis)."""
        n = len(self)
        k = jnp.asarray(self.intrinsics, jnp.float32)
        return Camera(
            fx=k[:, 0],
            fy=k[:, 1],
            cx=k[:, 2],
            cy=k[:, 3],
            R=jnp.tile(jnp.eye(3, dtype=jnp.float32), (n, 1, 1)),
            t=jnp.zeros((n, 3), jnp.float32),
        )

    def camera(self, i: int) -> Camera:
        """The :class:`~jaxrefine.camera.Camera` of frame ``i``."""
        fx, fy, cx, cy = (float(v) for v in self.intrinsics[i])
        return Camera.create(fx, fy, cx, cy)

    def select(self, index) -> SceneBatch:
        """A sub-batch (``index``: slice, int array or bool mask over N)."""
        return jax.tree.map(lambda a: np.asarray(a)[index], self)


# --------------------------------------------------------------------------- visibility
def keypoint_visibility(
    points: jnp.ndarray,
    pixels: jnp.ndarray,
    depth: jnp.ndarray,
    mask: jnp.ndarray,
    tolerance: jnp.ndarray,
) -> jnp.ndarray:
    """Which keypoints are visible: inside the image, in front, and not hidden by the body.

    Args:
      points: (K, 3) camera-space keypoints (z forward, metres).
      pixels: (K, 2) their projections (u, v) in pixels.
      depth: (H, W) rendered camera-space depth of the body.
      mask: (H, W) bool body foreground.
      tolerance: (K,) or () how far (metres) behind the visible surface a keypoint may lie and
        still count as visible (joints are inside their limb).

    Returns:
      (K,) bool.
    """
    if points.ndim != 2 or depth.ndim != 2:
        raise ValueError(
            f"one frame expected: points (K, 3), depth (H, W); got {points.shape}, {depth.shape}"
        )
    h, w = depth.shape
    u, v, z = pixels[:, 0], pixels[:, 1], points[:, 2]
    inside = (u >= 0) & (u < w) & (v >= 0) & (v < h) & (z > 0) & jnp.all(jnp.isfinite(pixels), -1)
    col = jnp.clip(jnp.floor(u), 0, w - 1).astype(jnp.int32)
    row = jnp.clip(jnp.floor(v), 0, h - 1).astype(jnp.int32)
    d = depth[row, col]
    covered = mask[row, col]
    return inside & (~covered | (z <= d + tolerance))


def keypoint_tolerance(
    points: jnp.ndarray, vertices: jnp.ndarray, radius_scale: float, margin: float
) -> jnp.ndarray:
    """Per-keypoint visibility tolerance ``radius_scale * r_k + margin`` (metres), where ``r_k``
    is the distance from keypoint k (K, 3) to the nearest of the (V, 3) vertices."""
    d2 = jnp.sum((points[:, None, :] - vertices[None, :, :]) ** 2, -1)  # (K, V)
    return radius_scale * jnp.sqrt(jnp.min(d2, -1)) + margin


# --------------------------------------------------------------------------- rendering
def _shade(albedo, normals, mask, light) -> jnp.ndarray:
    """Lambert with coloured ambient and directional light.

    ``rgb = albedo * (ambient_rgb + diffuse_rgb * max(0, -n . l))``; ``light`` (9,) =
    direction l (3, camera space, direction of travel), ambient rgb (3), diffuse rgb (3).
    (:func:`jaxrefine.shading.shade` has white light only.)
    """
    ld = light[:3] / jnp.linalg.norm(light[:3])
    lam = jnp.maximum(-jnp.sum(normals * ld[None, None], -1, keepdims=True), 0.0)
    rgb = albedo * (light[None, None, 3:6] + light[None, None, 6:9] * lam)
    return jnp.where(mask[..., None], jnp.clip(rgb, 0.0, 1.0), 0.0)


def render_frame(
    model: BodyModel,
    pose: jnp.ndarray,
    betas: jnp.ndarray,
    transl: jnp.ndarray,
    camera: Camera,
    texture: jnp.ndarray,
    background: jnp.ndarray,
    light: jnp.ndarray,
    gain: jnp.ndarray,
    noise_std: jnp.ndarray,
    key: jax.Array,
    *,
    height: int,
    width: int,
    backend: str = "auto",
    keypoint_set: str = "body25",
    radius_scale: float = 1.5,
    margin: float = 0.03,
) -> dict:
    """Render one frame and its ground truth (one example; ``vmap`` over a batch).

    Args:
      model: body model with a UV layout.
      pose: (24, 3); betas: (NB,); transl: (3,) (camera frame).
      camera: :class:`Camera` with scalar leaves.
      texture: (S, S, 3) UV texture in [0, 1].
      background: (H, W, 3) background image in [0, 1].
      light: (9,) light direction (3), ambient rgb (3), diffuse rgb (3), see :func:`_shade`.
      gain: (3,) per-channel texture gain.
      noise_std: () pixel noise std.
      key: PRNG key of the pixel noise.
      height, width: image size (static).
      backend, keypoint_set, radius_scale, margin: see :class:`GeneratorConfig`.

    Returns:
      dict of image (H, W, 3), mask (H, W), tri_id (H, W), depth (H, W), joints (24, 3),
      keypoints (K, 2), keypoints_3d (K, 3), visible (K,).
    """
    out = forward(model, pose, betas, transl)
    verts = to_camera_frame(camera, out.vertices)
    frags = rasterize(
        out.vertices, model.faces, camera, height, width, backend, cull_backfaces=True
    )
    mask = frags.tri_id >= 0
    uv = interpolate_corners(model.vt[model.ft], frags)
    albedo = jnp.clip(sample_texture(texture, uv) * gain[None, None], 0.0, 1.0)
    normals = interpolate(vertex_normals(verts, model.faces), model.faces, frags)
    normals = normals / jnp.maximum(jnp.linalg.norm(normals, axis=-1, keepdims=True), 1e-12)
    rgb = _shade(albedo, normals, mask, light)
    image = jnp.where(mask[..., None], rgb, background)
    image = image + noise_std * jax.random.normal(key, image.shape, image.dtype)
    kp3 = to_camera_frame(camera, out.keypoints(keypoint_set))
    kp2 = project(camera.replace(R=jnp.eye(3), t=jnp.zeros(3)), kp3)
    tol = keypoint_tolerance(kp3, verts, radius_scale, margin)
    visible = keypoint_visibility(kp3, kp2, frags.depth, mask, tol)
    return {
        "image": jnp.clip(image, 0.0, 1.0),
        "mask": mask,
        "tri_id": frags.tri_id,
        "depth": frags.depth,
        "joints": to_camera_frame(camera, out.joints),
        "keypoints": kp2,
        "keypoints_3d": kp3,
        "visible": visible,
    }


@functools.partial(jax.jit, static_argnames=("height", "width", "backend", "keypoint_set"))
def _render_batch(
    model,
    pose,
    betas,
    transl,
    cameras,
    textures,
    tex_index,
    backgrounds,
    lights,
    gains,
    noise_std,
    seed,
    radius_scale,
    margin,
    *,
    height,
    width,
    backend,
    keypoint_set,
):
    keys = jax.random.split(jax.random.key(seed), pose.shape[0])
    fn = functools.partial(
        render_frame,
        height=height,
        width=width,
        backend=backend,
        keypoint_set=keypoint_set,
        radius_scale=radius_scale,
        margin=margin,
    )
    tex = textures[tex_index]
    return jax.vmap(fn, in_axes=(None, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))(
        model, pose, betas, transl, cameras, tex, backgrounds, lights, gains, noise_std, keys
    )


def _sample_lights(rng: np.random.Generator, n: int, config: GeneratorConfig) -> np.ndarray:
    """(n, 9) lights: direction from the camera's half-space, ambient rgb, diffuse rgb."""
    d = np.stack(
        [rng.uniform(-1.0, 1.0, n), rng.uniform(-0.3, 1.0, n), rng.uniform(0.3, 1.5, n)], 1
    )  # travels away from the camera (z > 0), mostly downwards (y down)
    tint = 1.0 + rng.normal(0, config.light_tint, (n, 1, 3))
    amb = rng.uniform(*config.ambient, (n, 1)) * tint[:, 0]
    dif = rng.uniform(*config.diffuse, (n, 1)) * (1.0 + rng.normal(0, config.light_tint, (n, 3)))
    return np.concatenate([d, amb, dif], 1).astype(np.float32)


def resolve_backend(backend: str) -> str:
    """ "auto" -> "egl" when an EGL context can be made, else "jax"; others unchanged."""
    from jaxrefine.render import egl_available

    if backend == "auto":
        return "egl" if egl_available() else "jax"
    return backend


# --------------------------------------------------------------------------- public API
def make_textures(model: BodyModel, seeds, size: int = 256) -> np.ndarray:
    """(len(seeds), S, S, 3) float32 procedural textures, one per seed."""
    return np.stack([procedural_texture(model, int(s), size) for s in seeds])


def generate(
    model: BodyModel,
    poses: np.ndarray,
    n: int,
    seed: int,
    config: GeneratorConfig = GeneratorConfig(),
    *,
    textures: np.ndarray | None = None,
    scenes: SceneParams | None = None,
) -> SceneBatch:
    """Generate ``n`` frames deterministically from ``seed`` (same inputs -> identical arrays).

    Args:
      model: body model with a UV layout (``vt``, ``ft``).
      poses: (M, 24, 3) mocap poses in SMPL layout (e.g. ``jaxrefine mocap`` output).
      n: number of frames.
      seed: random seed.
      config: :class:`GeneratorConfig`.
      textures: optional (P, S, S, 3) texture bank to pick from instead of drawing a new
        texture per frame (see ``GeneratorConfig.texture_pool``).
      scenes: optional ``n`` frames' parameters drawn beforehand (e.g. video tracks of
        :func:`~jaxrefine.data.sampling.sample_sequences`) instead of drawing them here.

    Returns:
      :class:`SceneBatch` of ``n`` frames.
    """
    poses, n = _checked(model, poses, n)
    H, W = config.scene.image_size
    ss = np.random.SeedSequence(int(seed))
    s_scene, s_tex, s_bg, s_light, s_perturb, s_noise = (
        int(c.generate_state(1)[0]) for c in ss.spawn(6)
    )
    params = sample_scenes(model, poses, n, s_scene, config.scene) if scenes is None else scenes
    if len(params.pose) != n:
        raise ValueError(f"{len(params.pose)} scene parameters given for {n} frames")
    rng_tex = np.random.default_rng(s_tex)
    textures = _frame_textures(model, textures, rng_tex, n, config.texture_size)
    gains = (1.0 + rng_tex.normal(0, config.texture_gain, (n, 3))).astype(np.float32)
    pool = default_pool(tuple(config.background_sources))
    rng_bg = np.random.default_rng(s_bg)
    backgrounds = np.stack([sample_background(H, W, rng_bg, pool)[0] for _ in range(n)])
    rng_light = np.random.default_rng(s_light)
    lights = _sample_lights(rng_light, n, config)
    noise_std = rng_light.uniform(*config.pixel_noise, n).astype(np.float32)
    out = _render_batch(
        model,
        jnp.asarray(params.pose),
        jnp.asarray(params.betas),
        jnp.asarray(params.transl),
        cameras_for(params),
        jnp.asarray(textures),
        jnp.arange(n),
        jnp.asarray(backgrounds),
        jnp.asarray(lights),
        jnp.asarray(gains),
        jnp.asarray(noise_std),
        s_noise % (2**31),
        config.visibility_radius_scale,
        config.visibility_margin_m,
        height=H,
        width=W,
        backend=resolve_backend(config.backend),
        keypoint_set=config.keypoint_set,
    )
    out = jax.tree.map(np.asarray, out)
    pelvis = out["joints"][:, 0]
    init_pose, init_betas, init_transl = perturb(
        params.pose, params.betas, params.transl, pelvis, config.difficulty, s_perturb
    )
    return _scene_batch(params, out, (init_pose, init_betas, init_transl), config)


def _checked(model: BodyModel, poses, n) -> tuple[np.ndarray, int]:
    """:func:`generate`'s inputs checked: (M, 24, 3) poses as float32, a UV layout, n >= 1."""
    poses = np.asarray(poses, np.float32)
    if poses.ndim != 3 or poses.shape[1:] != (24, 3):
        raise ValueError(f"poses must be (M, 24, 3), got {poses.shape}")
    require_layout(model)
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    return poses, n


def _frame_textures(model, textures, rng: np.random.Generator, n: int, size: int):
    """(n, S, S, 3) one texture per frame: drawn new, or picked from the bank ``textures``
    (gathered first so that only n textures travel to the device)."""
    if textures is None:
        return make_textures(model, rng.integers(0, 2**31, n), size)
    pick = rng.integers(0, len(textures), n)
    if isinstance(textures, jax.Array):
        return textures[jnp.asarray(pick)]
    return np.asarray(textures, np.float32)[pick]


def _scene_batch(params: SceneParams, out: dict, init, config: GeneratorConfig) -> SceneBatch:
    """The :class:`SceneBatch` of the rendered frames ``out`` (numpy), their parameters and
    the initial estimates ``init`` = (pose, betas, transl)."""
    H, W = config.scene.image_size
    n = len(params.pose)
    init_pose, init_betas, init_transl = init
    f = params.focal.astype(np.float32)
    intrinsics = np.stack(
        [f, f, np.full(n, W / 2.0, np.float32), np.full(n, H / 2.0, np.float32)], 1
    )
    return SceneBatch(
        image=out["image"].astype(np.float32),
        mask=out["mask"].astype(bool),
        tri_id=out["tri_id"].astype(np.int32),
        pose=params.pose,
        betas=params.betas,
        transl=params.transl,
        intrinsics=intrinsics,
        joints=out["joints"].astype(np.float32),
        keypoints=out["keypoints"].astype(np.float32),
        keypoints_3d=out["keypoints_3d"].astype(np.float32),
        visible=out["visible"].astype(bool),
        init_pose=init_pose,
        init_betas=init_betas,
        init_transl=init_transl,
        pose_index=np.asarray(params.pose_index, np.int64),
        difficulty=config.difficulty,
        keypoint_set=config.keypoint_set,
    )


def batch_seed(seed: int, step: int) -> int:
    """The seed of batch ``step`` of the stream ``seed`` (independent streams per step)."""
    return int(np.random.SeedSequence([int(seed), int(step)]).generate_state(1)[0])


def iterate(
    model: BodyModel,
    poses: np.ndarray,
    batch_size: int,
    seed: int,
    config: GeneratorConfig = GeneratorConfig(),
    *,
    start: int = 0,
    num_batches: int | None = None,
) -> Iterator[SceneBatch]:
    """On-the-fly training data: batches generated with :func:`generate`, forever by default.

    Batch ``k`` uses seed :func:`batch_seed` ``(seed, k)``, so a stream restarted at
    ``start=k`` continues identically. With ``config.texture_pool = P > 0`` a bank of P textures
    is drawn once (seeded) and frames pick from it.

    Args:
      model, poses, config: as in :func:`generate`.
      batch_size: frames per batch.
      seed: stream seed.
      start: index of the first batch.
      num_batches: stop after this many batches (None = never stop).

    Yields:
      :class:`SceneBatch` of ``batch_size`` frames.
    """
    bank = None
    if config.texture_pool > 0:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 2**31 - 1]))
        bank = make_textures(
            model, rng.integers(0, 2**31, config.texture_pool), config.texture_size
        )
    k = int(start)
    while num_batches is None or k < start + num_batches:
        yield generate(model, poses, batch_size, batch_seed(seed, k), config, textures=bank)
        k += 1
