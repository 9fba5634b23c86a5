"""Training pairs for the displacement network, deterministic by seed.

A pair is what the network sees at test time plus what it should answer:

* ``image``: a square crop of a synthetic photo of a *subject* in a mocap pose (rendered with
  the subject's TRUE texture, lit, on a background, with pixel noise; then photometric
  distortion and channel-wise pixel gains);
* ``renders``: the initial estimate rendered into the same crop with the subject's texture as
  :mod:`jaxrefine.data.texture_estimation` *estimates* it from other frames
  (:func:`jaxrefine.shading.network_input`: rgb, relative depth, normals, unique vertex
  colours, mask);
* ``field``: the ground-truth displacement in crop pixels over the initial rendering (Eq. 1-2,
  :func:`jaxrefine.correspondence.ground_truth_field`), and its foreground ``mask``.

Subjects. A synthetic subject is a procedural texture seed and a body shape (betas)
(:class:`SubjectBank`). Its estimated texture is the per-texel median of K reference frames of
the subject in other poses, back-projected through *easy*-perturbed fits (a good regressor's
error, as a user's initial estimates would be: the texture is blurred and shifted the way it
will be at test time); texels never seen copy their nearest seen texel
(:func:`~jaxrefine.data.texture_estimation.fill_uncovered`, refinement does the same). Building
a bank costs K renders and one estimation per subject: about 0.5 CPU-seconds per subject with
K = 4 at 256 px (EGL llvmpipe), plus 1-2 minutes of compilation; P = 48 takes well under a
minute of CPU once compiled. Cache it with :func:`load_or_build_bank`.

Initial estimates (:data:`DIFFICULTIES`, mixed by ``PairConfig.mix``): the ``easy`` / ``medium``
/ ``hard`` perturbations of :mod:`jaxrefine.data.perturb`, and ``gt_pose``: the ground-truth pose
with a perturbed shape and camera (depth and shift), the paper's case for learning fine
displacements.

Crop. The box comes from the initial estimate's projection inside the image
(:func:`jaxrefine.network.crop.image_box`), as at test time. Image augmentations change the
geometry *before* rendering, so the ground truth stays exact: a scale jitter of the box, a
shift of its centre and an in-plane rotation of the crop (:func:`rotate_in_plane`, a rotation of
the crop camera about its optical axis). Image, renders and field are all rendered directly
with the crop camera (no resampling); crop pixels outside the full synthetic image are set to
:data:`PAD_VALUE` in the image only, as cropping a real photo would
(:func:`jaxrefine.network.crop.crop_image` reads zeros there). One difference from test time
remains: there the image crop is resampled bilinearly from the photo (blurred when upscaled,
aliased when strongly downscaled), here it is rendered at the crop's resolution.

Texture augmentations on the estimated texture (the paper's): Gaussian texel noise, a
brightness change (per-channel gain), a wrong subject's texture, no texture (uniform grey, what
:func:`~jaxrefine.shading.render_channels` draws without one).

Real-photo appearance (:mod:`jaxrefine.data.appearance`, off by default; ``p_clothing``,
``p_distractor``, ``p_occluder``): loose clothing grown out of the person's silhouette, another
person beside, in front of or behind it, and occluders pasted over it, on the image crop only
(the ground truth stays the body's), after the photometric distortion.

Speed (EGL llvmpipe, batch 8, compiled, full image 256 px; CPU time of the process, all its
threads, measured on the shared 2-core machine): 0.57 CPU-s per batch at S = 128 (14 pairs per
CPU-second) and 1.33 CPU-s at S = 256 (6 per CPU-second). About half is the two rasterizations
and shading in the jitted batch, a quarter host-side sampling (scene parameters, backgrounds,
textures). The first batch compiles for 1-2 minutes.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import zipfile
import zlib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine.body_model import BodyModel, forward, rest_joints
from jaxrefine.camera import Camera, project
from jaxrefine.correspondence import ground_truth_field
from jaxrefine.data import appearance
from jaxrefine.data.backgrounds import default_pool, sample_background
from jaxrefine.data.perturb import Difficulty, perturb
from jaxrefine.data.sampling import cameras_for, sample_scenes
from jaxrefine.data.scenes import (
    GeneratorConfig,
    _render_batch,
    _sample_lights,
    batch_seed,
    render_frame,
    resolve_backend,
)
from jaxrefine.data.texture_estimation import estimate_texture, fill_uncovered
from jaxrefine.data.textures import procedural_texture
from jaxrefine.errors import JaxrefineError
from jaxrefine.files import atomic_savez
from jaxrefine.network.crop import crop_camera, image_box
from jaxrefine.render import rasterize
from jaxrefine.shading import network_input, render_channels

DIFFICULTIES = ("easy", "medium", "hard", "gt_pose")  # the codes of ``difficulty``: 0, 1, 2, 3
PAD_VALUE = 0.0  # image value of crop pixels outside the full image
NO_TEXTURE_GREY = 0.7  # the colour render_channels gives a body without texture


@dataclasses.dataclass(frozen=True)
class PairConfig:
    """Settings of the pair generator (ranges are uniform; p_* are probabilities per sample).

    Attributes:
      crop_size: side S of the square crop in pixels.
      generator: the synthetic photo (full image size ``generator.scene.image_size``, scene
        ranges, lights, pixel noise, texture gain, backgrounds, texture size, rasterizer
        backend); its ``difficulty``, ``texture_pool`` and ``keypoint_set`` are not used.
      mix: weights of the initial-estimate kinds (easy, medium, hard, gt_pose).
      gt_pose_level: the perturbation of the ``gt_pose`` kind (no joint or global rotation).
      box_enlarge: enlargement of the person box around the initial estimate's projection.
      p_scale, scale: box size factor (> 1 zooms out).
      shift: std of the box centre shift, as a fraction of the box size (with p_scale).
      p_rotate, rotation_deg: in-plane rotation of the crop, uniform in +-rotation_deg.
      channel_gain: channel-wise pixel noise: every image channel times U(1 - g, 1 + g).
      p_photometric: photometric distortion (brightness delta, contrast, saturation):
      brightness, contrast, saturation: their ranges (delta; factors).
      p_texture_noise, texture_noise_std: Gaussian texel noise on the estimated texture.
      p_brightness, brightness_gain: per-channel gain of the estimated texture.
      p_wrong_texture: render with another subject's estimated texture.
      p_no_texture: render without texture (uniform grey).
      p_clothing, clothing_px: loose clothing (:mod:`jaxrefine.data.appearance`): the image's
        person grows by U{clothing_px} pixels of its edge colours inside smooth random blobs.
      p_occluder, occluder_size: an ellipse of another background over a person pixel, its
        diameters U(occluder_size) of the crop side.
      p_distractor, distractor_shift, distractor_scale: another person (from another crop of
        the batch) in front of or behind the person, moved sideways by U(distractor_shift)
        crop sides and scaled by U(distractor_scale).
      p_close, close_zoom, close_top: a close framing (:func:`close_framing`): the camera zooms
        in by U(close_zoom) and the body's top lands at U(close_top) of the image height, so
        that the image cuts the body (an upper-body photo); the crop is then the box around
        the initial estimate's part inside the image, as at test time.
      num_subjects: P, subjects in the bank.
      reference_frames: K, frames per subject the texture is estimated from.
      reference_level: perturbation of the fits the texture is estimated through.
    """

    crop_size: int = 128
    generator: GeneratorConfig = GeneratorConfig()
    mix: tuple[float, float, float, float] = (0.25, 0.35, 0.2, 0.2)
    gt_pose_level: Difficulty = Difficulty(0.0, 0.0, 0.6, 0.06, 0.02)
    box_enlarge: float = 1.2
    p_scale: float = 0.5
    scale: tuple[float, float] = (0.9, 1.25)
    shift: float = 0.04
    p_rotate: float = 0.3
    rotation_deg: float = 30.0
    channel_gain: float = 0.2
    p_photometric: float = 0.5
    brightness: tuple[float, float] = (-0.12, 0.12)
    contrast: tuple[float, float] = (0.7, 1.3)
    saturation: tuple[float, float] = (0.6, 1.4)
    p_texture_noise: float = 0.3
    texture_noise_std: float = 0.05
    p_brightness: float = 0.3
    brightness_gain: tuple[float, float] = (0.7, 1.3)
    p_wrong_texture: float = 0.1
    p_no_texture: float = 0.1
    p_clothing: float = 0.0
    clothing_px: tuple[int, int] = (1, 6)
    p_occluder: float = 0.0
    occluder_size: tuple[float, float] = (0.2, 0.5)
    p_distractor: float = 0.0
    distractor_shift: tuple[float, float] = (0.15, 0.5)
    distractor_scale: tuple[float, float] = (0.8, 1.2)
    p_close: float = 0.0
    close_zoom: tuple[float, float] = (1.6, 3.5)
    close_top: tuple[float, float] = (0.02, 0.2)
    num_subjects: int = 48
    reference_frames: int = 4
    reference_level: str = "easy"

    @property
    def image_size(self) -> tuple[int, int]:
        return self.generator.scene.image_size

    def no_augmentation(self) -> PairConfig:
        """The same config with every augmentation off (deterministic geometry and colours)."""
        return dataclasses.replace(
            self, p_scale=0.0, p_rotate=0.0, channel_gain=0.0, p_photometric=0.0,
            p_texture_noise=0.0, p_brightness=0.0, p_wrong_texture=0.0, p_no_texture=0.0,
            p_clothing=0.0, p_occluder=0.0, p_distractor=0.0, p_close=0.0,
        )  # fmt: skip


# --------------------------------------------------------------------------- subject bank
class BankFileError(JaxrefineError, ValueError):
    """A subject-bank cache that is damaged or was built with other settings (names the file)."""


@dataclasses.dataclass(frozen=True)
class SubjectBank:
    """P synthetic subjects with their true and estimated textures.

    Attributes:
      texture_seed: (P,) int64 procedural texture seed of each subject.
      betas: (P, NB) float32 body shape.
      true_texture: (P, T, T, 3) uint8 the texture the subject's photos are rendered with.
      estimated_texture: (P, T, T, 3) uint8 the texture estimated from K reference frames,
        uncovered texels filled from their nearest covered texel.
      coverage: (P, T, T) bool texels seen in at least one reference frame.
      model_id: the body model the bank was built for.
      seed: build seed; reference_frames: K; reference_level: fits' perturbation.
    """

    texture_seed: np.ndarray
    betas: np.ndarray
    true_texture: np.ndarray
    estimated_texture: np.ndarray
    coverage: np.ndarray
    model_id: str
    seed: int
    reference_frames: int
    reference_level: str

    def __len__(self) -> int:
        return int(self.betas.shape[0])


@jax.jit
def _rest_pelvis(model, betas):
    return jax.vmap(lambda b: rest_joints(model, b)[0])(betas)


def _place(model, params, betas):
    """Scene params with their betas replaced, the pelvis kept where the sampler put it.

    Returns (betas, transl, pelvis) float32 (camera frame)."""
    pelvis = params.transl + np.asarray(_rest_pelvis(model, jnp.asarray(params.betas)))
    transl = pelvis - np.asarray(_rest_pelvis(model, jnp.asarray(betas)))
    return betas.astype(np.float32), transl.astype(np.float32), pelvis.astype(np.float32)


def build_bank(model: BodyModel, poses: np.ndarray, config: PairConfig, seed: int) -> SubjectBank:
    """Draw ``config.num_subjects`` subjects and estimate each one's texture.

    Per subject: K = ``config.reference_frames`` full synthetic photos (its true texture, its
    shape, random poses from ``poses``, scenes as :func:`jaxrefine.data.scenes.generate`), fits
    perturbed at ``config.reference_level``, and
    :func:`~jaxrefine.data.texture_estimation.estimate_texture` (per texel, median).

    Args:
      model: body model with a UV layout.
      poses: (M, 24, 3) poses of the reference frames (training subjects only).
      config: :class:`PairConfig`; seed: build seed.
    """
    poses = _pose_array(poses)
    gen = config.generator
    P, K, T = int(config.num_subjects), int(config.reference_frames), gen.texture_size
    if P < 1 or K < 1:
        raise ValueError(f"num_subjects and reference_frames must be >= 1, got {P}, {K}")
    s_sub, s_scene, s_light, s_perturb, s_noise = (
        int(c.generate_state(1)[0]) for c in np.random.SeedSequence([int(seed), 7]).spawn(5)
    )
    rng = np.random.default_rng(s_sub)
    tex_seeds = rng.integers(0, 2**31, P).astype(np.int64)
    sc = gen.scene
    betas = np.clip(rng.normal(0, sc.beta_std, (P, model.num_betas)), -sc.beta_clip, sc.beta_clip)
    true = np.stack([procedural_texture(model, int(s), T) for s in tex_seeds])
    params = sample_scenes(model, poses, P * K, s_scene, sc)
    b, transl, pelvis = _place(model, params, np.repeat(betas, K, 0))
    cams = cameras_for(params)
    images = _reference_photos(model, (params.pose, b, transl), cams, true, K, gen,
                               np.random.default_rng(s_light), s_noise)  # fmt: skip
    fit = perturb(params.pose, b, transl, pelvis, config.reference_level, s_perturb)
    verts = np.asarray(_vertices(model, *(jnp.asarray(a) for a in fit)))
    est, cov = _estimated_textures(model, images, verts, cams, K, T, resolve_backend(gen.backend))
    return SubjectBank(
        texture_seed=tex_seeds,
        betas=betas.astype(np.float32),
        true_texture=_to_u8(true),
        estimated_texture=_to_u8(est),
        coverage=cov,
        model_id=str(model.model_id),
        seed=int(seed),
        reference_frames=K,
        reference_level=str(config.reference_level),
    )


def _reference_photos(model, body, cams, true, K: int, gen, rng, noise_seed: int) -> np.ndarray:
    """The P * K reference photos (subject ``p``: frames ``p K ... p K + K - 1``, its true
    texture) of the posed ``body`` (pose, betas, transl), backgrounds, lights and noise levels
    drawn from ``rng`` in that order: (P * K, H, W, 3)."""
    H, W = gen.scene.image_size
    n = len(cams.fx)
    bgs, lights = _backgrounds_and_lights(
        rng, n, (H, W), default_pool(tuple(gen.background_sources)), gen
    )
    noise = rng.uniform(*gen.pixel_noise, n).astype(np.float32)
    out = _render_batch(
        model, *(jnp.asarray(a) for a in body), cams, jnp.asarray(true),
        jnp.asarray(np.repeat(np.arange(len(true)), K)), jnp.asarray(bgs), jnp.asarray(lights),
        jnp.asarray(np.ones((n, 3), np.float32)), jnp.asarray(noise), noise_seed % (2**31),
        gen.visibility_radius_scale, gen.visibility_margin_m,
        height=H, width=W, backend=resolve_backend(gen.backend), keypoint_set=gen.keypoint_set,
    )  # fmt: skip
    return np.asarray(out["image"])


def _estimated_textures(model, images, verts, cams, K: int, T: int, backend: str):
    """Per subject (K consecutive frames each), the texture estimated from its photos and fits
    (holes filled) and its texel coverage: (P, T, T, 3), (P, T, T) bool."""
    P = len(images) // K
    est = np.zeros((P, T, T, 3), np.float32)
    cov = np.zeros((P, T, T), bool)
    for p in range(P):
        sl = slice(p * K, (p + 1) * K)
        e = estimate_texture(
            model, images[sl], verts[sl], jax.tree.map(lambda a, sl=sl: a[sl], cams),
            per="texel", size=T, backend=backend,
        )  # fmt: skip
        est[p], cov[p] = fill_uncovered(e.colours, e.coverage), e.coverage
    return est, cov


_BANK_KEYS = ("texture_seed", "betas", "true_texture", "estimated_texture", "coverage")
_BANK_META = ("model_id", "seed", "reference_frames", "reference_level")


def save_bank(path: str | os.PathLike, bank: SubjectBank) -> Path:
    """Write a bank to an npz, atomically."""
    arrays = {k: getattr(bank, k) for k in _BANK_KEYS}
    arrays.update({k: np.asarray(getattr(bank, k)) for k in _BANK_META})
    return atomic_savez(path, arrays)


def load_bank(path: str | os.PathLike) -> SubjectBank:
    """Read a bank written by :func:`save_bank`; a damaged file raises :class:`BankFileError`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"subject bank not found: {path}")
    try:
        # our own handle: numpy leaks the one it opens when the archive is damaged
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
    except (OSError, ValueError, TypeError, zipfile.BadZipFile, EOFError, zlib.error) as e:
        raise BankFileError(f"{path}: damaged subject bank ({e}); delete it to rebuild") from e
    missing = [k for k in _BANK_KEYS + _BANK_META if k not in a]
    if missing:
        raise BankFileError(f"{path}: not a subject bank, missing keys {missing}")
    P = len(a["betas"])
    T = a["true_texture"].shape[1] if a["true_texture"].ndim == 4 else -1
    expect = {
        "texture_seed": ((P,), "i"), "betas": ((P, a["betas"].shape[-1]), "f"),
        "true_texture": ((P, T, T, 3), "u"), "estimated_texture": ((P, T, T, 3), "u"),
        "coverage": ((P, T, T), "b"),
    }  # fmt: skip
    for k, (shape, kind) in expect.items():
        if a[k].shape != shape or a[k].dtype.kind != kind:
            raise BankFileError(
                f"{path}: '{k}' must be {shape} of kind {kind!r}, got {a[k].dtype} {a[k].shape}"
            )
    return SubjectBank(
        **{k: a[k] for k in _BANK_KEYS},
        model_id=str(a["model_id"]),
        seed=int(a["seed"]),
        reference_frames=int(a["reference_frames"]),
        reference_level=str(a["reference_level"]),
    )


def load_or_build_bank(
    path: str | os.PathLike, model: BodyModel, poses: np.ndarray, config: PairConfig, seed: int
) -> SubjectBank:
    """The bank cached at ``path``; built (:func:`build_bank`) and written there if absent.

    A cached bank made for another model, seed, size or texture estimation raises
    :class:`BankFileError` (no silent reuse): delete the file or pass another path.
    """
    path = Path(path)
    if not path.exists():
        bank = build_bank(model, poses, config, seed)
        save_bank(path, bank)
        return bank
    bank = load_bank(path)
    want = {
        "model_id": str(model.model_id), "seed": int(seed),
        "reference_frames": int(config.reference_frames),
        "reference_level": str(config.reference_level), "num_subjects": int(config.num_subjects),
        "texture_size": int(config.generator.texture_size),
    }  # fmt: skip
    have = {
        "model_id": bank.model_id, "seed": bank.seed, "reference_frames": bank.reference_frames,
        "reference_level": bank.reference_level, "num_subjects": len(bank),
        "texture_size": int(bank.true_texture.shape[1]),
    }  # fmt: skip
    diff = {k: (have[k], want[k]) for k in want if have[k] != want[k]}
    if diff:
        raise BankFileError(
            f"{path}: subject bank built with other settings (have, want): {diff}; delete it or "
            "pass another path"
        )
    return bank


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def _pose_array(poses) -> np.ndarray:
    poses = np.asarray(getattr(poses, "pose", poses), np.float32)
    if poses.ndim != 3 or poses.shape[1:] != (24, 3) or len(poses) == 0:
        raise ValueError(f"poses must be (M, 24, 3) with M >= 1, got {poses.shape}")
    return poses


@jax.jit
def _vertices(model, pose, betas, transl):
    return jax.vmap(lambda p, b, t: forward(model, p, b, t).vertices)(pose, betas, transl)


# --------------------------------------------------------------------------- crop geometry
def rotate_in_plane(camera: Camera, angle: jnp.ndarray, center: jnp.ndarray) -> Camera:
    """The camera whose image is ``camera``'s rotated by ``angle`` (radians) about ``center``.

    A pixel ``p`` of the old image lands at ``center + Rot(angle) (p - center)`` (with y down,
    positive angles turn the picture clockwise on screen). For square pixels (``fx == fy``)
    this is again a pinhole camera: the world is rotated about the optical axis
    (``R' = Rz R``, ``t' = Rz t``) and the principal point moves to
    ``center + Rot(angle) (c - center)``.

    Args:
      camera: one camera with ``fx == fy``; angle: (); center: (2,) pixels.
    """
    c, s = jnp.cos(angle), jnp.sin(angle)
    rot2 = jnp.array([[c, -s], [s, c]])
    rz = jnp.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    pp = center + rot2 @ (jnp.stack([camera.cx, camera.cy]) - center)
    return camera.replace(cx=pp[0], cy=pp[1], R=rz @ camera.R, t=rz @ camera.t)


def inside_image(crop: Camera, camera: Camera, size: int, height: int, width: int) -> jnp.ndarray:
    """(size, size) bool: crop pixels whose centre sees a point inside ``camera``'s image.

    Both cameras must share their optical centre (a crop camera of ``camera``); the crop
    pixel's ray is mapped to ``camera``'s pixels.
    """
    g = jnp.arange(size, dtype=jnp.float32) + 0.5
    u, v = jnp.meshgrid(g, g)
    ray = jnp.stack([(u - crop.cx) / crop.fx, (v - crop.cy) / crop.fy, jnp.ones_like(u)], -1)
    d = ray @ crop.R @ camera.R.T  # crop camera -> world -> full camera directions
    z = d[..., 2]
    x = camera.fx * d[..., 0] / z + camera.cx
    y = camera.fy * d[..., 1] / z + camera.cy
    return (z > 0) & (x >= 0) & (x < width) & (y >= 0) & (y < height)


# --------------------------------------------------------------------------- one pair
def _photometric(image, gain, brightness, contrast, saturation):
    """Channel gains (3,), brightness delta, contrast and saturation factors on (S, S, 3)."""
    x = image * gain[None, None] + brightness
    mean = jnp.mean(x)
    x = (x - mean) * contrast + mean
    grey = jnp.mean(x, -1, keepdims=True)
    return jnp.clip(grey + (x - grey) * saturation, 0.0, 1.0)


def make_pair(
    model: BodyModel,
    gt: tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray],
    init: tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray],
    camera: Camera,
    true_texture: jnp.ndarray,
    texture: jnp.ndarray,
    background: jnp.ndarray,
    light: jnp.ndarray,
    aug: dict,
    key: jax.Array,
    *,
    crop_size: int,
    height: int,
    width: int,
    enlarge: float,
    backend: str,
) -> dict:
    """One training pair (one example; ``vmap`` over a batch).

    Args:
      model: body model with a UV layout.
      gt, init: (pose (24, 3), betas (NB,), transl (3,)) of the ground truth and the initial
        estimate (camera frame).
      camera: the full image's camera (scalar leaves, ``fx == fy``).
      true_texture: (T, T, 3) float texture of the photo.
      texture: (T, T, 3) float texture of the initial rendering (estimated, augmented).
      background: (S, S, 3) background of the crop.
      light: (9,) light of the photo (:func:`jaxrefine.data.scenes.render_frame`).
      aug: per-sample numbers: ``gain`` (3,) texture gain of the photo, ``noise`` () pixel noise
        std, ``box_scale`` (), ``box_shift`` (2,), ``angle`` () radians, ``channel_gain`` (3,),
        ``brightness``, ``contrast``, ``saturation`` ().
      key: PRNG key of the pixel noise.
      crop_size: S; height, width: full image size; enlarge: box enlargement (static).

    Returns:
      dict: image (S, S, 3), renders (S, S, 11), field (S, S, 2), mask (S, S), box_center (2,),
      box_size (), crop_intrinsics (4,), crop_rotation (3, 3), person (S, S) bool (the true
      body's pixels in the image), inside (S, S) bool (crop pixels inside the full image).
    """
    S = crop_size
    v_gt = forward(model, *gt).vertices
    v_init = forward(model, *init).vertices
    center, size = image_box(project(camera, v_init), (height, width), enlarge)
    size = size * aug["box_scale"]
    center = center + aug["box_shift"] * size
    half = jnp.full(2, S / 2.0, jnp.float32)
    crop = rotate_in_plane(crop_camera(camera, center, size, S), aug["angle"], half)
    photo = render_frame(
        model, *gt, crop, true_texture, background, light, aug["gain"], aug["noise"], key,
        height=S, width=S, backend=backend,
    )  # fmt: skip
    image = _photometric(photo["image"], aug["channel_gain"], aug["brightness"],
                         aug["contrast"], aug["saturation"])  # fmt: skip
    inside = inside_image(crop, camera, S, height, width)
    image = jnp.where(inside[..., None], image, PAD_VALUE)
    frags = rasterize(v_init, model.faces, crop, S, S, backend, cull_backfaces=True)
    channels = render_channels(
        v_init, model.faces, crop, frags, model.v_template, texture=texture, vt=model.vt,
        ft=model.ft,
    )  # fmt: skip
    field, fg = ground_truth_field(v_gt, crop, v_init, crop, model.faces, frags.tri_id, frags.bary)
    return {
        "image": image,
        "renders": network_input(channels),
        "field": field,
        "mask": fg.astype(jnp.float32),
        "box_center": center,
        "box_size": size,
        "crop_intrinsics": jnp.stack([crop.fx, crop.fy, crop.cx, crop.cy]),
        "crop_rotation": crop.R,
        "person": photo["mask"],
        "inside": inside,
    }


@functools.partial(jax.jit, static_argnames=("crop_size", "height", "width", "enlarge", "backend"))
def _pair_batch(model, gt, init, cameras, true_tex, tex, backgrounds, lights, aug,
                seed, *, crop_size, height, width, enlarge, backend):  # fmt: skip
    n = gt[0].shape[0]
    k_img = jax.random.key(seed)
    fn = functools.partial(
        make_pair, model, crop_size=crop_size, height=height, width=width, enlarge=enlarge,
        backend=backend,
    )  # fmt: skip
    return jax.vmap(fn)(gt, init, cameras, true_tex, tex, backgrounds, lights, aug,
                        jax.random.split(k_img, n))  # fmt: skip


# --------------------------------------------------------------------------- public API
def _initial_estimates(params, betas, transl, pelvis, codes, config, seed):
    """Perturb each frame at its kind; returns (pose, betas, transl)."""
    seeds = np.random.SeedSequence([int(seed), 11]).generate_state(len(DIFFICULTIES))
    out = [np.array(params.pose), np.array(betas), np.array(transl)]
    for c, name in enumerate(DIFFICULTIES):
        level = config.gt_pose_level if name == "gt_pose" else name
        pert = perturb(params.pose, betas, transl, pelvis, level, int(seeds[c]))
        for o, p in zip(out, pert):
            o[codes == c] = p[codes == c]
    return tuple(o.astype(np.float32) for o in out)


def _draw_augmentations(rng: np.random.Generator, n: int, config: PairConfig) -> dict:
    """Per-sample image augmentation numbers (identity where a coin says no)."""
    c = config

    def coin(p):
        return rng.random(n) < p

    scale = np.where(coin(c.p_scale), rng.uniform(*c.scale, n), 1.0)
    shift = rng.normal(0, c.shift, (n, 2)) * (scale != 1.0)[:, None]
    angle = np.where(coin(c.p_rotate), np.deg2rad(rng.uniform(-1, 1, n) * c.rotation_deg), 0.0)
    photo = coin(c.p_photometric)
    return {
        "box_scale": scale,
        "box_shift": shift,
        "angle": angle,
        "channel_gain": rng.uniform(1 - c.channel_gain, 1 + c.channel_gain, (n, 3)),
        "brightness": np.where(photo, rng.uniform(*c.brightness, n), 0.0),
        "contrast": np.where(photo, rng.uniform(*c.contrast, n), 1.0),
        "saturation": np.where(photo, rng.uniform(*c.saturation, n), 1.0),
    }


def _pick_textures(rng, subject, bank, config):
    """Textures (n, T, T, 3) float32 of the initial renderings: the estimated ones after the
    wrong-subject / no-texture choices, brightness gain and texel noise; and the texture-kind
    code (n,) (0 own, 1 wrong subject's, 2 none)."""
    n, P = len(subject), len(bank)
    u = rng.random(n)
    kind = np.where(u < config.p_no_texture, 2, 0)
    kind = np.where((u >= config.p_no_texture) & (u < config.p_no_texture + config.p_wrong_texture)
                    & (P > 1), 1, kind)  # fmt: skip
    other = (subject + rng.integers(1, max(P, 2), n)) % P
    pick = np.where(kind == 1, other, subject)
    tex = bank.estimated_texture[pick].astype(np.float32) / 255.0
    tex[kind == 2] = NO_TEXTURE_GREY
    for i in np.nonzero(rng.random(n) < config.p_brightness)[0]:
        tex[i] *= rng.uniform(*config.brightness_gain, 3).astype(np.float32)
    for i in np.nonzero(rng.random(n) < config.p_texture_noise)[0]:  # noise where drawn only
        tex[i] += rng.normal(0, config.texture_noise_std, tex.shape[1:]).astype(np.float32)
    return np.clip(tex, 0.0, 1.0), kind


def make_pairs(
    model: BodyModel,
    poses,
    bank: SubjectBank,
    n: int,
    seed: int,
    config: PairConfig = PairConfig(),
) -> dict[str, np.ndarray]:
    """``n`` training pairs, deterministic: same (model, poses, bank, n, seed, config) ->
    identical arrays. Batch k of a training run uses seed
    :func:`jaxrefine.data.scenes.batch_seed` ``(seed, k)`` (:func:`make_pairs_batch`).

    Args:
      model: body model with a UV layout (the bank's).
      poses: (M, 24, 3) training poses (or a :class:`~jaxrefine.data.poses.PoseSet`).
      bank: :class:`SubjectBank` (its subjects give textures and shapes).
      n: number of pairs; seed: random seed; config: :class:`PairConfig`.

    Returns:
      dict of numpy arrays (S = ``config.crop_size``):

      - ``image`` (n, S, S, 3) float32 in [0, 1]: the photo crop;
      - ``renders`` (n, S, S, 11) float32: :func:`~jaxrefine.shading.network_input` of the
        initial estimate with the (augmented) estimated texture;
      - ``field`` (n, S, S, 2) float32: ground-truth displacement in crop pixels (0 on
        background);
      - ``mask`` (n, S, S) float32: foreground of the initial rendering;
      - ``box_center`` (n, 2), ``box_size`` (n,): the crop box in full-image pixels (before the
        in-plane rotation ``angle`` (n,) radians about the crop centre);
      - ``intrinsics`` (n, 4) full-image (fx, fy, cx, cy), camera R = I, t = 0;
        ``crop_intrinsics`` (n, 4) and ``crop_rotation`` (n, 3, 3): the crop camera;
      - ``difficulty`` (n,) int32 codes into :data:`DIFFICULTIES`; ``subject`` (n,) int32;
        ``texture_kind`` (n,) int32 (0 own estimate, 1 wrong subject's, 2 none);
      - ``pose``, ``betas``, ``transl`` and ``init_pose``, ``init_betas``, ``init_transl``.

    Speed: see the module docstring (14 pairs per CPU-second at S = 128, 6 at S = 256).
    """
    poses = _pose_array(poses)
    n, mix = _checked_request(model, bank, n, config)
    gen = config.generator
    H, W = gen.scene.image_size
    S = int(config.crop_size)
    s_scene, s_sub, s_pert, s_bg, s_aug, s_tex, s_key, s_app, s_crowd, s_close = (
        int(c.generate_state(1)[0]) for c in np.random.SeedSequence(int(seed)).spawn(10)
    )  # spawned children do not depend on their count: the earlier ones are as before
    params = sample_scenes(model, poses, n, s_scene, gen.scene)
    rng = np.random.default_rng(s_sub)
    subject = rng.integers(0, len(bank), n)
    codes = rng.choice(4, n, p=mix / mix.sum())
    betas, transl, pelvis = _place(model, params, bank.betas[subject])
    init = _initial_estimates(params, betas, transl, pelvis, codes, config, s_pert)
    pool = default_pool(tuple(gen.background_sources))
    bgs, lights = _backgrounds_and_lights(np.random.default_rng(s_bg), n, (S, S), pool, gen)
    aug = _augmentation_draws(np.random.default_rng(s_aug), n, config)
    tex, kind = _pick_textures(np.random.default_rng(s_tex), subject, bank, config)
    true_tex = bank.true_texture[subject].astype(np.float32) / 255.0
    cams = cameras_for(params)
    if config.p_close > 0:
        verts = _vertices(model, jnp.asarray(params.pose), jnp.asarray(betas), jnp.asarray(transl))
        cams = close_framing(np.random.default_rng(s_close), cams, verts, config, (H, W))
    out = _pair_batch(
        model, tuple(jnp.asarray(a) for a in (params.pose, betas, transl)),
        tuple(jnp.asarray(a) for a in init), cams, jnp.asarray(true_tex), jnp.asarray(tex),
        jnp.asarray(bgs), jnp.asarray(lights), aug,
        s_key % (2**31), crop_size=S, height=H, width=W, enlarge=float(config.box_enlarge),
        backend=resolve_backend(gen.backend),
    )  # fmt: skip
    out = {k: np.asarray(v) for k, v in out.items()}
    rngs = np.random.default_rng(s_app), np.random.default_rng(s_crowd)
    out["image"] = _real_appearance(out.pop("image"), out.pop("person"), out.pop("inside"),
                                    rngs, config, pool)  # fmt: skip
    out.update(
        angle=np.asarray(aug["angle"]),
        intrinsics=np.stack([np.asarray(a) for a in (cams.fx, cams.fy, cams.cx, cams.cy)],
                            1).astype(np.float32),  # fmt: skip
        difficulty=codes.astype(np.int32),
        subject=subject.astype(np.int32),
        texture_kind=kind.astype(np.int32),
        pose=params.pose, betas=betas, transl=transl,
        init_pose=init[0], init_betas=init[1], init_transl=init[2],
    )  # fmt: skip
    return out


def _checked_request(model: BodyModel, bank: SubjectBank, n, config: PairConfig):
    """``(n, mix)`` of a :func:`make_pairs` call, after its checks (``ValueError`` naming the
    bad argument)."""
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    if bank.model_id != str(model.model_id):
        raise ValueError(f"the bank is for model {bank.model_id!r}, not {model.model_id!r}")
    mix = np.asarray(config.mix, np.float64)
    if mix.shape != (4,) or (mix < 0).any() or mix.sum() <= 0:
        raise ValueError(f"mix must be 4 non-negative weights, got {config.mix}")
    return n, mix


def _backgrounds_and_lights(rng: np.random.Generator, n: int, hw: tuple[int, int], pool, gen):
    """(n, H, W, 3) backgrounds from ``pool``, then the lights, from one random stream."""
    bgs = np.stack([sample_background(*hw, rng, pool)[0] for _ in range(n)])
    return bgs, _sample_lights(rng, n, gen)


def _augmentation_draws(rng: np.random.Generator, n: int, config: PairConfig) -> dict:
    """The crops' augmentations (:func:`_draw_augmentations`), the texture gain (n, 3) and the
    pixel noise level (n,), as float32 JAX arrays, from one random stream."""
    gen = config.generator
    aug = _draw_augmentations(rng, n, config)
    aug["gain"] = 1.0 + rng.normal(0, gen.texture_gain, (n, 3))
    aug["noise"] = rng.uniform(*gen.pixel_noise, n)
    return {k: jnp.asarray(v, jnp.float32) for k, v in aug.items()}


def close_framing(rng: np.random.Generator, cameras: Camera, vertices, config: PairConfig,
                  image_hw: tuple[int, int]) -> Camera:  # fmt: skip
    """The batch's cameras (R = I, t = 0), each framed close with probability
    ``config.p_close``: focal times z ~ U(close_zoom) and the principal point moved so that the
    body's top (the highest projected ground-truth vertex) lands at U(close_top) x H and its
    horizontal centre at (0.5 + U(-0.15, 0.15)) x W. A close-framed body is z times larger
    in the image, cut by its lower border: an upper-body photo.

    Args:
      rng: the close-framing stream; cameras: batched (n); vertices: (n, V, 3) ground-truth
      vertices (camera frame); image_hw: (H, W).
    """
    H, W = image_hw
    n = len(np.asarray(cameras.fx))
    close = rng.random(n) < config.p_close
    z = np.where(close, rng.uniform(*config.close_zoom, n), 1.0)
    top = rng.uniform(*config.close_top, n) * H
    across = (0.5 + rng.uniform(-0.15, 0.15, n)) * W
    uv = np.asarray(jax.vmap(project)(cameras, vertices))
    cx, cy = np.asarray(cameras.cx), np.asarray(cameras.cy)
    y_top = uv[..., 1].min(1)
    x_mid = (uv[..., 0].min(1) + uv[..., 0].max(1)) / 2
    # u' = z (u - cx) + cx + d: the pixel of a point after zooming about the principal point
    new_cx = np.where(close, across - z * (x_mid - cx), cx)
    new_cy = np.where(close, top - z * (y_top - cy), cy)
    f = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    return cameras.replace(fx=f(z * np.asarray(cameras.fx)), fy=f(z * np.asarray(cameras.fy)),
                           cx=f(new_cx), cy=f(new_cy))  # fmt: skip


def _real_appearance(images, person, inside, rngs, config, pool) -> np.ndarray:
    """Loose clothing, other people and occluders (:mod:`jaxrefine.data.appearance`) on the
    image crops (n, S, S, 3), each with its probability; returns the input unchanged when all
    are 0. ``rngs``: (clothing and occluders, other people), two streams so that runs without
    other people draw the numbers they drew before those existed. A crop's other person comes
    from the crops as rendered (before any of these augmentations)."""
    if config.p_clothing <= 0 and config.p_occluder <= 0 and config.p_distractor <= 0:
        return images
    rng, rng_crowd = rngs
    n, S = images.shape[:2]
    clothing, occluder = rng.random(n) < config.p_clothing, rng.random(n) < config.p_occluder
    crowd = rng_crowd.random(n) < config.p_distractor
    out = np.array(images)
    for i in np.nonzero(clothing | occluder | crowd)[0]:
        # draws no numbers for a crop with neither clothing nor occluder (streams unchanged)
        numbers = appearance.draw(
            rng, S, person[i], clothing=bool(clothing[i]), occluder=bool(occluder[i]),
            clothing_px=config.clothing_px, occluder_size=config.occluder_size,
            background_fn=lambda r: sample_background(S, S, r, pool)[0],
        )  # fmt: skip
        other = None
        if crowd[i]:
            move = appearance.draw_distractor(rng_crowd, int(i), n, S, config.distractor_shift,
                                              config.distractor_scale)  # fmt: skip
            j = move["source"]
            other = appearance.place_person(images[j], person[j] & inside[j], move)
        out[i] = appearance.apply(out[i], person[i], inside[i], numbers, other)
    return out


def make_pairs_batch(model, poses, bank, batch_size: int, seed: int, step: int,
                     config: PairConfig = PairConfig()) -> dict[str, np.ndarray]:  # fmt: skip
    """Batch ``step`` of the training stream ``seed``: :func:`make_pairs` with
    :func:`~jaxrefine.data.scenes.batch_seed` ``(seed, step)``."""
    return make_pairs(model, poses, bank, batch_size, batch_seed(seed, step), config)
