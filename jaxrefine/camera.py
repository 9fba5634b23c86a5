"""The one camera of jaxrefine: a full-image pinhole camera in pixels.

Convention (OpenCV): camera-space x right, y down, z forward. A world point ``X`` maps to
``X_cam = R @ X + t`` and to pixel coordinates ``u = fx * x / z + cx``, ``v = fy * y / z + cy``.
Pixel ``(row i, column j)`` covers ``[j, j + 1) x [i, i + 1)``; its centre is
``(j + 0.5, i + 0.5)``.

The camera is a frozen pytree with array leaves, so a batch of cameras is a ``Camera`` whose
leaves carry a leading batch axis, and functions here are written for one camera (``vmap`` at
the edge).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrefine.geometry import rotate_points

# A K matrix's last row is 0 0 1 by definition; this absorbs a file's decimal rounding of it and
# float32 rounding of a computed one, while a transposed K (cx, cy in that row) is far outside.
K_LAST_ROW_TOL = 1e-6


def intrinsics_from_K(K) -> np.ndarray:
    """(..., 3, 3) K matrices (host values) -> (..., 4) fx, fy, cx, cy (float64).

    Raises:
      ValueError: a last row is not ``0 0 1`` within :data:`K_LAST_ROW_TOL` (a transposed K
        would otherwise be read with its principal point at 0, 0).
    """
    K = np.asarray(K, np.float64)
    rows = K[..., 2, :].reshape(-1, 3)
    bad = ~np.all(np.abs(rows - [0.0, 0.0, 1.0]) <= K_LAST_ROW_TOL, axis=-1)
    if bad.any():
        raise ValueError(f"K's last row must be 0 0 1, got {rows[bad][0].tolist()} (is the "
                         "matrix transposed?)")  # fmt: skip
    return np.stack([K[..., 0, 0], K[..., 1, 1], K[..., 0, 2], K[..., 1, 2]], -1)


@struct.dataclass
class Camera:
    """Pinhole camera.

    Attributes:
      fx, fy: focal lengths in pixels, shape ().
      cx, cy: principal point in pixels, shape ().
      R: world-to-camera rotation, shape (3, 3).
      t: world-to-camera translation, shape (3,).
    """

    fx: jnp.ndarray
    fy: jnp.ndarray
    cx: jnp.ndarray
    cy: jnp.ndarray
    R: jnp.ndarray
    t: jnp.ndarray

    @classmethod
    def create(cls, fx, fy=None, cx=0.0, cy=0.0, R=None, t=None, dtype=jnp.float32) -> Camera:
        """Build a camera from plain numbers (``fy`` defaults to ``fx``, ``R`` to I, ``t`` to 0)."""
        fy = fx if fy is None else fy
        R = np.eye(3) if R is None else R
        t = np.zeros(3) if t is None else t
        return cls(
            fx=jnp.asarray(fx, dtype),
            fy=jnp.asarray(fy, dtype),
            cx=jnp.asarray(cx, dtype),
            cy=jnp.asarray(cy, dtype),
            R=jnp.asarray(R, dtype),
            t=jnp.asarray(t, dtype),
        )

    @classmethod
    def from_intrinsics(cls, intrinsics, dtype=jnp.float32) -> Camera:
        """Batched full-image cameras from (N, 4) fx, fy, cx, cy (pixels) or (N, 3, 3) K
        matrices ((4,) and (3, 3): N = 1): R = I, t = 0 (the bodies carry the translation, as
        estimates files and photos do). A K whose last row is not ``0 0 1`` (transposed) is
        refused when its values are concrete (not under ``jit``); other shapes are refused."""
        a = jnp.asarray(intrinsics, dtype)
        if a.shape[-2:] == (3, 3) and a.ndim <= 3:
            if isinstance(a, jax.core.Tracer):  # values unknown: no row check
                a = jnp.stack([a[..., 0, 0], a[..., 1, 1], a[..., 0, 2], a[..., 1, 2]], -1)
            else:
                try:
                    a = jnp.asarray(intrinsics_from_K(intrinsics), dtype)
                except ValueError as exc:
                    raise ValueError(f"intrinsics: {exc}") from None
        elif a.shape[-1:] != (4,) or a.ndim > 2:
            raise ValueError(f"intrinsics of shape {a.shape}: expected (N, 4) fx, fy, cx, cy "
                             "or (N, 3, 3) K matrices")  # fmt: skip
        k = a.reshape(-1, 4)
        eye = jnp.tile(jnp.eye(3, dtype=dtype), (k.shape[0], 1, 1))
        zero = jnp.zeros((k.shape[0], 3), dtype)
        return cls(fx=k[:, 0], fy=k[:, 1], cx=k[:, 2], cy=k[:, 3], R=eye, t=zero)

    @property
    def K(self) -> jnp.ndarray:
        """Intrinsic matrix, shape (..., 3, 3)."""
        z = jnp.zeros_like(self.fx)
        o = jnp.ones_like(self.fx)
        return jnp.stack(
            [
                jnp.stack([self.fx, z, self.cx], -1),
                jnp.stack([z, self.fy, self.cy], -1),
                jnp.stack([z, z, o], -1),
            ],
            -2,
        )


def scale_pixels(camera: Camera, sx, sy) -> Camera:
    """The camera of the image resized by ``sx`` (width) and ``sy`` (height): pixel coordinates
    (edges at integers, centres at +0.5) scale with the image, so fx, cx by ``sx`` and fy, cy
    by ``sy``; rotation and translation unchanged."""
    return camera.replace(fx=camera.fx * sx, cx=camera.cx * sx, fy=camera.fy * sy,
                          cy=camera.cy * sy)  # fmt: skip


def focal_from_image_size(height: float, width: float) -> float:
    """The paper's focal-length approximation ``f = sqrt(w^2 + h^2)`` for a full image."""
    return float(np.sqrt(float(width) ** 2 + float(height) ** 2))


def to_camera_frame(camera: Camera, points: jnp.ndarray) -> jnp.ndarray:
    """World points (N, 3) -> camera-space points (N, 3)."""
    return rotate_points(points, camera.R) + camera.t[None]


def project(camera: Camera, points: jnp.ndarray) -> jnp.ndarray:
    """Project world points (N, 3) to pixel coordinates (N, 2) (see module docstring)."""
    pc = to_camera_frame(camera, points)
    return perspective(camera, pc[:, 0], pc[:, 1], pc[:, 2])


def perspective(camera: Camera, x: jnp.ndarray, y: jnp.ndarray, z: jnp.ndarray) -> jnp.ndarray:
    """Camera-frame coordinates, each (N,), to pixel coordinates (N, 2)."""
    return jnp.stack([camera.fx * x / z + camera.cx, camera.fy * y / z + camera.cy], -1)


# Where a body lies for a camera (codes of :func:`out_of_view`); a body out of view has no
# pixel of the image to be refined against.
IN_VIEW, BEHIND_CAMERA, TOO_SMALL, OUTSIDE_IMAGE = 0, 1, 2, 3
OUT_OF_VIEW_NAMES = {BEHIND_CAMERA: "behind the camera", TOO_SMALL: "too small in the image",
                     OUTSIDE_IMAGE: "outside the image"}  # fmt: skip
# A body whose projection spans fewer pixels than this (its box's longer side) is "too small":
# the network would see its crop upsampled more than 8x (128 px input of the `small` config)
# from pixels holding no body part's shape. A translation in centimetres or millimetres read
# as metres puts a body there: 3.9 m away given as 390 spans 10 px, as 3900 1 px, for a 1.7 m
# tall body in a 1920x1080 image at the paper's focal (2,203 px).
MIN_BODY_PIXELS = 16.0


def out_of_view(camera: Camera, vertices: jnp.ndarray, size) -> jnp.ndarray:
    """() int32, where ONE body's (V, 3) world ``vertices`` lie for ``camera`` in an image of
    ``size`` (H, W) pixels: :data:`IN_VIEW`, or :data:`BEHIND_CAMERA` (no vertex at z > 0:
    e.g. an OpenGL-style translation, z negative), :data:`TOO_SMALL` (spans fewer than
    :data:`MIN_BODY_PIXELS`), :data:`OUTSIDE_IMAGE` (no vertex projects into the image)."""
    pc = to_camera_frame(camera, vertices)
    front = pc[:, 2] > 0
    uv = perspective(camera, pc[:, 0], pc[:, 1], jnp.where(front, pc[:, 2], 1.0))
    lo = jnp.min(jnp.where(front[:, None], uv, jnp.inf), 0)
    hi = jnp.max(jnp.where(front[:, None], uv, -jnp.inf), 0)
    h, w = size[0], size[1]
    inside = front & (uv[:, 0] >= 0) & (uv[:, 0] <= w) & (uv[:, 1] >= 0) & (uv[:, 1] <= h)
    code = jnp.where(jnp.any(inside), IN_VIEW, OUTSIDE_IMAGE)
    code = jnp.where(jnp.max(hi - lo) < MIN_BODY_PIXELS, TOO_SMALL, code)
    return jnp.where(jnp.any(front), code, BEHIND_CAMERA).astype(jnp.int32)


# A camera's principal point lies within a few per cent of its image's centre (a calibration's
# typical offset), and the regressors' cameras put it at the centre. The camera of the same
# view at s times the resolution (a video's full-size camera, its frames given resized) puts
# it at s times the centre, (s - 1) / 2 of the side away: more than this fraction for s > 1.4
# or s < 0.6, where every body is drawn away from its person (a crop's camera, moved with the
# crop, can be off-centre by right: hence a warning, never a refusal).
PRINCIPAL_POINT_OFF_CENTRE = 0.2


def check_cameras(cameras: Camera, who: str) -> None:
    """Refuse a batch of cameras with one whose focal lengths are not finite and > 0 (pixels;
    0 divides by zero, a negative one mirrors the image) or whose other values are not
    finite, naming the first as ``who[i]``. Traced values are not checked (unknown)."""
    leaves = (cameras.fx, cameras.fy, cameras.cx, cameras.cy, cameras.R, cameras.t)
    if any(isinstance(a, jax.core.Tracer) for a in leaves):
        return
    f = np.stack([np.asarray(cameras.fx), np.asarray(cameras.fy)], -1).reshape(-1, 2)
    rest = np.hstack([np.asarray(a).reshape(len(f), -1) for a in leaves[2:]])
    bad = np.flatnonzero(~(np.all(np.isfinite(f) & (f > 0), -1) & np.all(np.isfinite(rest), -1)))
    if len(bad):
        i, (cx, cy) = bad[0], rest[bad[0], :2]
        raise ValueError(f"{who}[{i}] has fx {f[i, 0]:g}, fy {f[i, 1]:g}, cx {cx:g}, cy {cy:g}; "
                         "focal lengths are pixels > 0 and every value finite")  # fmt: skip


def principal_point_off_centre(cx, cy, sizes) -> np.ndarray:
    """(N,) bool: whether each camera's principal point (``cx``, ``cy``, (N,) pixels) lies more
    than :data:`PRINCIPAL_POINT_OFF_CENTRE` of its image's side from the centre of its image
    of (N, 2) ``sizes`` (H, W)."""
    sizes = np.asarray(sizes, np.float64).reshape(-1, 2)
    off_x = np.abs(np.asarray(cx, np.float64) - sizes[:, 1] / 2) / sizes[:, 1]
    off_y = np.abs(np.asarray(cy, np.float64) - sizes[:, 0] / 2) / sizes[:, 0]
    return (off_x > PRINCIPAL_POINT_OFF_CENTRE) | (off_y > PRINCIPAL_POINT_OFF_CENTRE)


# A pinhole camera's focal is at least this fraction of its image's longer side: a field of
# view under 136 degrees across that side (the widest phone lenses' focal is about half the
# side; a wider lens is a fisheye, not a pinhole). A focal in millimetres (28-85 for a
# full-frame lens) read as pixels of a 640 px or larger image, or one normalised by the image
# size (about 1), lies far below it, and draws every body a few pixels tall.
MIN_FOCAL_FRACTION = 0.2


def focal_too_short(fx, fy, sizes) -> np.ndarray:
    """(N,) bool: whether each camera's focal (``fx`` or ``fy``, (N,) pixels) is under
    :data:`MIN_FOCAL_FRACTION` of the longer side of its image of (N, 2) ``sizes`` (H, W)."""
    side = np.asarray(sizes, np.float64).reshape(-1, 2).max(1)
    least = np.minimum(np.asarray(fx, np.float64), np.asarray(fy, np.float64))
    return least < MIN_FOCAL_FRACTION * side


def box_centre_outside(centres, sizes) -> np.ndarray:
    """(N,) bool: whether each crop box's centre ((N, 2) ``centres`` x, y in pixels) lies
    outside its image of (N, 2) ``sizes`` (H, W). A detector's box is cut to its image, so its
    centre lies inside; a box made on frames of another size (a video's full-size frames, the
    images given resized; a photo's other orientation) can lie outside: the body its crop
    camera draws is then scaled and moved with it, away from its person."""
    c, sizes = np.asarray(centres, np.float64).reshape(-1, 2), np.asarray(sizes).reshape(-1, 2)
    return (c[:, 0] < 0) | (c[:, 0] > sizes[:, 1]) | (c[:, 1] < 0) | (c[:, 1] > sizes[:, 0])


class CameraWarning(UserWarning):
    """Cameras that do not fit their images: a focal or principal point
    (:func:`focal_too_short`, :func:`principal_point_off_centre`), a crop camera's box
    (:func:`box_centre_outside`)."""


def weak_perspective_to_full(
    scale,
    tx,
    ty,
    box_center,
    box_size,
    image_size: tuple[int, int],
    focal_length: float | None = None,
    principal_point: tuple[float, float] | None = None,
) -> Camera:
    """Crop weak-perspective camera of a regressor -> full-image pinhole camera.

    SPIN / HMR / PARE / HMR 2.0 predict ``[s, tx, ty]`` for a square crop of side ``box_size``
    (pixels of the full image) centred at ``box_center``: a body point ``X`` lands at crop
    normalised coordinates ``s * (X_xy + t_xy)`` in [-1, 1], i.e. at full-image pixels
    ``box_center + box_size / 2 * s * (X_xy + t_xy)``. A full-image pinhole camera with focal
    ``f``, principal point at the image centre ``c`` and R = I gives
    ``f / t_z * (X_xy + t'_xy) + c`` for a body far from the camera. Matching scale and offset:

        t_z   = 2 f / (box_size * s)
        t'_xy = t_xy + (box_center - c) * t_z / f  =  t_xy + 2 (box_center - c) / (box_size * s)

    (the formula of ProHMR's full-frame fitting and 4D-Humans' ``cam_crop_to_full``). The body
    is then at translation ``t = (t'_x, t'_y, t_z)`` in camera space; the returned camera holds it
    as its ``t`` (world = body frame), with the regressor's convention of R = I.

    Args:
      scale, tx, ty: the regressor's weak-perspective camera (scalars).
      box_center: (2,) crop centre (x, y) in full-image pixels.
      box_size: crop side in full-image pixels.
      image_size: (height, width) of the full image.
      focal_length: full-image focal length in pixels; default ``sqrt(w^2 + h^2)``.
      principal_point: ``c`` above, (cx, cy) in full-image pixels (e.g. the user's
        intrinsics); default the image centre.
    """
    h, w = image_size
    f = focal_from_image_size(h, w) if focal_length is None else float(focal_length)
    cx, cy = (w / 2.0, h / 2.0) if principal_point is None else map(float, principal_point)
    bc = np.asarray(box_center, np.float64)
    tz = 2.0 * f / (float(box_size) * float(scale) + 1e-9)
    t = np.array([float(tx) + (bc[0] - cx) * tz / f, float(ty) + (bc[1] - cy) * tz / f, tz])
    return Camera.create(f, f, cx, cy, np.eye(3), t)


def crop_camera(camera: Camera, box_center, box_size, crop_size: int) -> Camera:
    """The camera of a square crop of ``camera``'s image: projecting with it gives crop pixels.

    The box (centre (2,) (x, y), side ``box_size``, full-image pixels) is resampled to
    ``crop_size`` x ``crop_size``; its left/top edge maps to 0. With ``k = crop_size / box_size``,
    ``u_crop = (u - box_center_x) k + crop_size / 2``, so the crop camera keeps R and t and has
    ``f' = k f`` and ``c' = (c - box_center) k + crop_size / 2`` (pixel centres at +0.5 in both).
    Jittable; one camera (vmap for a batch).
    """
    k = crop_size / box_size
    half = crop_size / 2.0
    return camera.replace(
        fx=camera.fx * k,
        fy=camera.fy * k,
        cx=(camera.cx - box_center[0]) * k + half,
        cy=(camera.cy - box_center[1]) * k + half,
    )


def _centre_like(box_center, points: jnp.ndarray) -> jnp.ndarray:
    """The (2,) box centre with leading unit axes to the rank of ``points`` (..., 2)."""
    center = jnp.asarray(box_center)
    return center.reshape((1,) * (points.ndim - center.ndim) + center.shape)


def crop_to_full_pixels(points_crop, box_center, box_size, crop_size: int):
    """Map pixel coordinates (..., 2) of a square crop to full-image pixels (the inverse of
    :func:`crop_camera`'s mapping; jittable)."""
    points = jnp.asarray(points_crop)
    return (points - crop_size / 2.0) * (box_size / crop_size) + _centre_like(box_center, points)


def full_to_crop_pixels(points_full, box_center, box_size, crop_size: int):
    """Map full-image pixel coordinates (..., 2) to a square crop's pixels (
    :func:`crop_camera`'s mapping; jittable)."""
    points = jnp.asarray(points_full)
    return (points - _centre_like(box_center, points)) * (crop_size / box_size) + crop_size / 2.0
