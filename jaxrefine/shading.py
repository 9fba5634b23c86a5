"""Differentiable renderings from rasterized fragments: interpolation, textures, render channels.

Everything here is plain JAX, written for one image (``vmap`` for batches), and differentiable
w.r.t. the attributes, texture and -- through :func:`jaxrefine.render.attach_gradients` --
the vertex positions and camera.

The paper's render channels for a body (docs/METHOD.md, *Render channels*), :func:`render_channels`:

* ``rgb``: textured colour (per-vertex colours, or a UV texture map sampled bilinearly),
  optionally shaded (ambient + one directional light, :func:`shade`),
* ``depth``: camera-space z in metres (0 on background),
* ``normals``: unit camera-space surface normals (interpolated vertex normals; OpenCV axes,
  surfaces facing the camera have negative z),
* ``uvc``: "unique vertex colours": every vertex coloured by its position on the mean-shape
  rest-pose body (``model.v_template``) normalised to [0, 1] per axis by its bounding box
  (:func:`unique_vertex_colors`),
* ``mask``: foreground (1.0) / background (0.0).

Texture convention (OBJ / SMPL UV layouts): ``uv`` in [0, 1], u to the right, v **up**, so
texel row ``(1 - v) * H_t - 0.5`` and column ``u * W_t - 0.5`` (texel centres at +0.5);
lookups clamp to the border.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxrefine.camera import Camera
from jaxrefine.render import Fragments, attach_gradients, rasterize


@struct.dataclass
class RenderChannels:
    """The paper's renderings of one image.

    Attributes:
      rgb: (H, W, 3) float32 colour in [0, 1] (background = ``background``).
      depth: (H, W) float32 camera-space z in metres, 0 on background.
      normals: (H, W, 3) float32 unit camera-space normals, 0 on background.
      uvc: (H, W, 3) float32 unique vertex colours in [0, 1], 0 on background.
      mask: (H, W) float32 foreground 1.0 / background 0.0.
    """

    rgb: jnp.ndarray
    depth: jnp.ndarray
    normals: jnp.ndarray
    uvc: jnp.ndarray
    mask: jnp.ndarray

    def stacked(self) -> jnp.ndarray:
        """(H, W, 11) channels-last network input: rgb 3, depth 1, normals 3, uvc 3, mask 1."""
        return jnp.concatenate(
            [self.rgb, self.depth[..., None], self.normals, self.uvc, self.mask[..., None]], -1
        )


def _check_one(fragments: Fragments) -> None:
    if fragments.tri_id.ndim != 2:
        raise ValueError(
            f"fragments must be for one image (H, W), got {fragments.tri_id.shape}; vmap over a "
            "batch"
        )


def interpolate(attributes: jnp.ndarray, faces: jnp.ndarray, fragments: Fragments) -> jnp.ndarray:
    """Interpolate per-vertex attributes at every pixel.

    ``out[p] = sum_k bary[p, k] * attributes[faces[tri_id[p], k]]``, 0 on background.

    Args:
      attributes: (V, C) per-vertex values (colours, positions, normals, displacements, ...).
      faces: (F, 3) int.
      fragments: :class:`Fragments` of one image (use :func:`attach_gradients` first for
        gradients w.r.t. vertex positions).

    Returns:
      (H, W, C) interpolated attributes.
    """
    _check_one(fragments)
    if attributes.ndim != 2:
        raise ValueError(f"attributes must be (V, C), got {attributes.shape}")
    return interpolate_corners(attributes[faces], fragments)


def interpolate_corners(corner_attributes: jnp.ndarray, fragments: Fragments) -> jnp.ndarray:
    """Interpolate per-face-corner attributes (e.g. UVs ``vt[ft]``) at every pixel.

    Args:
      corner_attributes: (F, 3, C) one value per triangle corner.
      fragments: :class:`Fragments` of one image.

    Returns:
      (H, W, C), 0 on background.
    """
    _check_one(fragments)
    if corner_attributes.ndim != 3 or corner_attributes.shape[1] != 3:
        raise ValueError(f"corner_attributes must be (F, 3, C), got {corner_attributes.shape}")
    mask = fragments.tri_id >= 0
    corners = corner_attributes[jnp.where(mask, fragments.tri_id, 0)]  # (H, W, 3, C)
    out = jnp.sum(fragments.bary[..., None] * corners, axis=-2)
    return jnp.where(mask[..., None], out, 0.0)


def sample_texture(texture: jnp.ndarray, uv: jnp.ndarray) -> jnp.ndarray:
    """Bilinear texture lookup (clamped to the border), differentiable in texture and uv.

    Args:
      texture: (H_t, W_t, C) texture map, row 0 = the top (v = 1).
      uv: (..., 2) texture coordinates, u right, v up, in [0, 1].

    Returns:
      (..., C) sampled values.
    """
    if texture.ndim != 3:
        raise ValueError(f"texture must be (H_t, W_t, C), got {texture.shape}")
    ht, wt = texture.shape[0], texture.shape[1]
    x = uv[..., 0] * wt - 0.5
    y = (1.0 - uv[..., 1]) * ht - 0.5
    x0 = jnp.floor(x)
    y0 = jnp.floor(y)
    fx = (x - x0)[..., None]
    fy = (y - y0)[..., None]

    def tex(yy, xx):
        yi = jnp.clip(yy, 0, ht - 1).astype(jnp.int32)
        xi = jnp.clip(xx, 0, wt - 1).astype(jnp.int32)
        return texture[yi, xi]

    top = tex(y0, x0) * (1 - fx) + tex(y0, x0 + 1) * fx
    bottom = tex(y0 + 1, x0) * (1 - fx) + tex(y0 + 1, x0 + 1) * fx
    return top * (1 - fy) + bottom * fy


def face_normals(vertices: jnp.ndarray, faces: jnp.ndarray) -> jnp.ndarray:
    """(F, 3) unnormalised face normals ``(v1 - v0) x (v2 - v0)`` (length = twice the area)."""
    v = vertices[faces]
    return jnp.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])


def vertex_normals(vertices: jnp.ndarray, faces: jnp.ndarray) -> jnp.ndarray:
    """(V, 3) unit area-weighted vertex normals of (V, 3) vertices (outward for CCW faces)."""
    if vertices.ndim != 2:
        raise ValueError(f"vertices must be (V, 3), got {vertices.shape}; vmap over a batch")
    fn = face_normals(vertices, faces)
    n = jnp.zeros_like(vertices).at[faces.reshape(-1)].add(jnp.repeat(fn, 3, axis=0))
    return n / jnp.maximum(jnp.linalg.norm(n, axis=-1, keepdims=True), 1e-12)


def unique_vertex_colors(v_template: jnp.ndarray) -> jnp.ndarray:
    """The paper's unique vertex colours: rest-pose mean-shape positions scaled to [0, 1].

    Args:
      v_template: (V, 3) the body model's mean-shape rest-pose vertices (``model.v_template``).

    Returns:
      (V, 3) float32 ``(v - min) / (max - min)`` per axis over the bounding box.
    """
    lo = jnp.min(v_template, axis=0, keepdims=True)
    hi = jnp.max(v_template, axis=0, keepdims=True)
    return ((v_template - lo) / jnp.maximum(hi - lo, 1e-12)).astype(jnp.float32)


def shade(
    albedo: jnp.ndarray,
    normals: jnp.ndarray,
    mask: jnp.ndarray,
    light_direction=(0.3, -0.5, 1.0),
    ambient: float = 0.45,
    diffuse: float = 0.55,
    background=0.0,
) -> jnp.ndarray:
    """Lambertian shading with an ambient term and one directional light (camera space).

    ``rgb = albedo * (ambient + diffuse * max(0, -n . l))`` on the foreground, where ``l`` is
    the normalised direction the light travels in (camera space; the default comes from
    behind the camera, slightly from above-left in the image) and ``n`` the unit normal.

    Args:
      albedo: (H, W, 3) surface colour in [0, 1].
      normals: (H, W, 3) unit camera-space normals.
      mask: (H, W) foreground (bool or 0/1).
      light_direction: (3,) direction of the light rays in camera space.
      ambient, diffuse: weights of the two terms.
      background: colour of background pixels (scalar or (3,)).

    Returns:
      (H, W, 3) shaded colour, clipped to [0, 1].
    """
    ld = jnp.asarray(light_direction, jnp.float32)
    ld = ld / jnp.linalg.norm(ld)
    lambert = jnp.maximum(-jnp.sum(normals * ld[None, None], -1, keepdims=True), 0.0)
    rgb = jnp.clip(albedo * (ambient + diffuse * lambert), 0.0, 1.0)
    m = jnp.asarray(mask, bool)[..., None]
    return jnp.where(m, rgb, jnp.asarray(background, jnp.float32))


def render_channels(
    vertices: jnp.ndarray,
    faces: jnp.ndarray,
    camera: Camera,
    fragments: Fragments,
    v_template: jnp.ndarray,
    *,
    vertex_colors: jnp.ndarray | None = None,
    texture: jnp.ndarray | None = None,
    vt: jnp.ndarray | None = None,
    ft: jnp.ndarray | None = None,
    lighting: bool = False,
    background=0.0,
) -> RenderChannels:
    """The paper's render channels of one posed body from its fragments.

    Gradients flow to ``vertices`` and ``camera`` (barycentrics and depth are recomputed with
    :func:`~jaxrefine.render.attach_gradients`), to colours and to the texture.

    Args:
      vertices: (V, 3) world-space posed vertices (those that were rasterized).
      faces: (F, 3) int.
      camera: the camera used for rasterizing.
      fragments: :class:`Fragments` of one image (from :func:`~jaxrefine.render.rasterize`).
      v_template: (V, 3) rest-pose mean-shape vertices for the unique vertex colours.
      vertex_colors: (V, 3) per-vertex albedo in [0, 1] (used when no texture is given).
      texture: (H_t, W_t, 3) UV texture map in [0, 1]; needs ``vt`` (T, 2) and ``ft`` (F, 3).
      lighting: shade the colour with :func:`shade` (for synthetic images); off = flat albedo.
      background: rgb of background pixels.

    Returns:
      :class:`RenderChannels`. Without texture and vertex colours, rgb is a uniform grey.
    """
    frags = attach_gradients(fragments, vertices, faces, camera)
    mask = frags.tri_id >= 0
    normals_world = vertex_normals(vertices, faces)
    normals = interpolate(normals_world @ camera.R.T, faces, frags)
    normals = normals / jnp.maximum(jnp.linalg.norm(normals, axis=-1, keepdims=True), 1e-12)
    uvc = interpolate(unique_vertex_colors(v_template), faces, frags)
    if texture is not None:
        if vt is None or ft is None:
            raise ValueError("a texture needs the UV layout vt (T, 2) and ft (F, 3)")
        uv = interpolate_corners(vt[ft], frags)
        albedo = sample_texture(texture, uv)
    elif vertex_colors is not None:
        albedo = interpolate(vertex_colors, faces, frags)
    else:
        albedo = jnp.full(mask.shape + (3,), 0.7, jnp.float32)
    if lighting:
        rgb = shade(albedo, normals, mask, background=background)
    else:
        rgb = jnp.where(mask[..., None], albedo, jnp.asarray(background, jnp.float32))
    return RenderChannels(
        rgb=rgb.astype(jnp.float32),
        depth=frags.depth,
        normals=jnp.where(mask[..., None], normals, 0.0),
        uvc=uvc,
        mask=mask.astype(jnp.float32),
    )


def render_body(
    model,
    vertices: jnp.ndarray,
    camera: Camera,
    height: int,
    width: int,
    *,
    texture: jnp.ndarray | None = None,
    vertex_colors: jnp.ndarray | None = None,
    lighting: bool = False,
    backend: str = "auto",
    background=0.0,
) -> tuple[RenderChannels, Fragments]:
    """Rasterize a posed body and compute its render channels (one image).

    Args:
      model: a :class:`~jaxrefine.body_model.BodyModel` (faces, v_template, vt, ft are used).
      vertices: (V, 3) posed vertices (``body_model.forward(...).vertices``).
      camera: :class:`~jaxrefine.camera.Camera`.
      height, width: image size (static).
      texture: optional (H_t, W_t, 3) UV texture map (needs ``model.vt`` / ``model.ft``).
      vertex_colors: optional (V, 3) colours (used when there is no texture).
      lighting: shade the colour (ambient + directional light).
      backend: rasterizer backend, see :func:`~jaxrefine.render.rasterize`.
      background: rgb of background pixels.

    Returns:
      (channels, fragments): :class:`RenderChannels` and the rasterized :class:`Fragments`
      (triangle ids and barycentrics for pixel-to-vertex transfer). Back faces are culled (the
      body models are closed, outward-facing meshes).
    """
    frags = rasterize(vertices, model.faces, camera, height, width, backend, cull_backfaces=True)
    channels = _render_channels_jit(
        vertices,
        model.faces,
        camera,
        frags,
        model.v_template,
        vertex_colors=vertex_colors,
        texture=texture,
        vt=model.vt,
        ft=model.ft,
        lighting=lighting,
        background=background,
    )
    return channels, frags


# render_body is called one body at a time (pictures, overlays): op-by-op, its hundreds of
# primitives were dispatched (and compiled, the first time) one by one; one program instead.
_render_channels_jit = jax.jit(render_channels, static_argnames=("lighting",))


def network_input(channels: RenderChannels, depth_clip: float = 1.0) -> jnp.ndarray:
    """The displacement network's render input for one image, (H, W, 11) float32.

    Channels, in order: rgb (3, [0, 1]), relative depth (1), normals (3, [-1, 1]), unique
    vertex colours (3, [0, 1]), mask (1, 0/1) -- the layout of :meth:`RenderChannels.stacked`
    with the depth made independent of the person's distance: ``depth - median(depth over the
    foreground)`` in metres, clipped to ``[-depth_clip, depth_clip]`` (a body is about 0.5 m
    deep, so 1 m keeps every surface), and 0 on background (and everywhere when the mask is
    empty). Training and refinement both build the input with this function.

    Args:
      channels: :class:`RenderChannels` of one image (H, W, ...).
      depth_clip: clip of the relative depth in metres.

    Returns:
      (H, W, 11) float32.
    """
    if channels.depth.ndim != 2:
        raise ValueError(f"one image's channels expected, depth (H, W); got {channels.depth.shape}")
    fg = channels.mask > 0.5
    median = jnp.nanmedian(jnp.where(fg, channels.depth, jnp.nan))
    rel = jnp.clip(channels.depth - jnp.nan_to_num(median), -depth_clip, depth_clip)
    return channels.replace(depth=jnp.where(fg, rel, 0.0)).stacked().astype(jnp.float32)
