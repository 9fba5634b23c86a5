"""A person's refined sequence for mocap and VFX tools: BVH and an animated, skinned glTF (.glb).

Both describe one body shape (the sequence's betas; pose correctives are not representable in
either format and are left out) posed by the per-frame SMPL parameters. Axes: jaxrefine fits in
the camera frame (OpenCV: x right, y down, z forward); exports turn it into the y-up frame both
formats expect by a rotation of 180 degrees about x (x right, y up, the camera looking down -z),
so the body stands upright where the camera saw it. Units: metres in glTF (its convention),
centimetres in BVH (what most BVH readers assume; ``BVH_UNITS_PER_METRE``).

- BVH: the 24 SMPL joints with their names; OFFSETs from the rest joints of the sequence's
  shape; the root has ``Xposition Yposition Zposition Zrotation Yrotation Xrotation``, every
  other joint ``Zrotation Yrotation Xrotation`` (local rotation ``Rz @ Ry @ Rx``, degrees).
- glTF 2.0 binary: one skinned mesh (rest vertices of the shape, 4 strongest skinning weights
  per vertex, renormalised), a joint node per SMPL joint, and one animation with a rotation
  channel per joint and a translation channel on the root, sampled at the sequence's fps
  (linear interpolation).

Written through kept libraries (pygltflib; BVH is plain text) and atomically.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from scipy.spatial.transform import Rotation

from jaxrefine.body_model import BodyModel, rest_joints, shape_vertices
from jaxrefine.files import atomic_write
from jaxrefine.keypoints import SMPL_JOINT_NAMES

BVH_UNITS_PER_METRE = 100.0
TO_Y_UP = Rotation.from_euler("x", 180, degrees=True)  # camera frame -> y-up export frame
SKIN_INFLUENCES = 4  # glTF's JOINTS_0 / WEIGHTS_0 hold four per vertex


def _check(params: dict) -> int:
    t = np.shape(params["body_pose"])[0]
    for k, shape in (("global_orient", (t, 3)), ("body_pose", (t, 23, 3)), ("transl", (t, 3))):
        if np.shape(params[k]) != shape:
            raise ValueError(f"params[{k!r}] must be {shape}, got {np.shape(params[k])}")
    if t < 1:
        raise ValueError("an export needs at least one frame")
    return t


def sequence_skeleton(model: BodyModel, betas) -> tuple[np.ndarray, np.ndarray]:
    """Rest joints (24, 3) and rest vertices (V, 3) of one shape (betas (NB,)), metres."""
    b = jnp.asarray(betas, jnp.float32)
    return np.asarray(rest_joints(model, b), np.float64), np.asarray(shape_vertices(model, b))


def root_motion(params: dict, rest_root: np.ndarray) -> tuple[Rotation, np.ndarray]:
    """Per-frame root rotation and root joint position in the y-up export frame (metres).

    SMPL rotates the body about its root joint ``J0`` and adds ``transl``: the root sits at
    ``J0 + transl`` in the camera frame.
    """
    go = Rotation.from_rotvec(np.asarray(params["global_orient"], np.float64))
    pos = rest_root[None] + np.asarray(params["transl"], np.float64)
    return TO_Y_UP * go, TO_Y_UP.apply(pos)


def bvh_text(model: BodyModel, params: dict, betas, fps: float) -> str:
    """The BVH file of a sequence (see the module docstring)."""
    t = _check(params)
    J, _ = sequence_skeleton(model, betas)
    s = BVH_UNITS_PER_METRE
    children = {i: [c for c in range(len(J)) if model.parents[c] == i] for i in range(len(J))}
    lines, order = ["HIERARCHY"], []  # order: joints as the file lists them (depth first)

    def joint(i: int, depth: int) -> None:
        order.append(i)
        pad = "  " * depth
        off = J[i] * s if i == 0 else (J[i] - J[model.parents[i]]) * s
        head = "ROOT" if i == 0 else "JOINT"
        lines.append(f"{pad}{head} {SMPL_JOINT_NAMES[i]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}")
        ch = "6 Xposition Yposition Zposition" if i == 0 else "3"
        lines.append(f"{pad}  CHANNELS {ch} Zrotation Yrotation Xrotation")
        for c in children[i]:
            joint(c, depth + 1)
        if not children[i]:
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET 0 0 0", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    joint(0, 0)
    root_rot, root_pos = root_motion(params, J[0])
    local = Rotation.from_rotvec(np.asarray(params["body_pose"], np.float64).reshape(-1, 3))
    euler = local.as_euler("ZYX", degrees=True).reshape(t, 23, 3)
    root_euler = root_rot.as_euler("ZYX", degrees=True)
    # OFFSET of the root is J0 in the rest frame; its position channels carry the motion minus it
    lines += ["MOTION", f"Frames: {t}", f"Frame Time: {1.0 / fps:.8f}"]
    for k in range(t):
        rest = [euler[k, i - 1] for i in order[1:]]  # motion columns follow the file's order
        vals = [*(root_pos[k] * s - J[0] * s), *root_euler[k], *np.concatenate(rest)]
        lines.append(" ".join(f"{v:.6f}" for v in vals))
    return "\n".join(lines) + "\n"


def save_bvh(path: str | os.PathLike, model: BodyModel, params: dict, betas, fps: float) -> Path:
    """Write :func:`bvh_text` atomically."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    text = bvh_text(model, params, betas, fps)
    return atomic_write(path, lambda fh: fh.write(text.encode()))


class _Blob:
    """Accumulates glTF buffer views and accessors over one binary buffer."""

    def __init__(self, gltf):
        self.gltf, self.data = gltf, io.BytesIO()

    def add(self, array: np.ndarray, kind: str, target=None, minmax: bool = False) -> int:
        import pygltflib as g

        ctype = {np.float32: g.FLOAT, np.uint16: g.UNSIGNED_SHORT, np.uint32: g.UNSIGNED_INT}
        a = np.ascontiguousarray(array)
        while self.data.tell() % 4:
            self.data.write(b"\0")
        start = self.data.tell()
        self.data.write(a.tobytes())
        self.gltf.bufferViews.append(
            g.BufferView(buffer=0, byteOffset=start, byteLength=a.nbytes, target=target)
        )
        acc = g.Accessor(bufferView=len(self.gltf.bufferViews) - 1,
                         componentType=ctype[a.dtype.type], count=len(a), type=kind)  # fmt: skip
        if minmax:
            flat = a.reshape(len(a), -1)
            acc.min, acc.max = flat.min(0).tolist(), flat.max(0).tolist()
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1


def _skin_weights(model: BodyModel) -> tuple[np.ndarray, np.ndarray]:
    """The 4 strongest joints per vertex (V, 4) uint16 and their renormalised weights."""
    w = np.asarray(model.lbs_weights, np.float64)
    idx = np.argsort(-w, axis=1)[:, :SKIN_INFLUENCES]
    top = np.take_along_axis(w, idx, 1)
    top /= np.maximum(top.sum(1, keepdims=True), 1e-12)
    return idx.astype(np.uint16), top.astype(np.float32)


def gltf_document(model: BodyModel, params: dict, betas, fps: float):
    """A ``pygltflib.GLTF2`` with the skinned, animated body (see the module docstring)."""
    import pygltflib as g

    t = _check(params)
    J, V = sequence_skeleton(model, betas)
    doc = g.GLTF2(asset=g.Asset(generator="jaxrefine"), scene=0)
    blob = _Blob(doc)
    nj = len(J)
    children = [[c for c in range(nj) if model.parents[c] == i] for i in range(nj)]
    for i in range(nj):
        off = J[i] if i == 0 else J[i] - J[model.parents[i]]
        doc.nodes.append(g.Node(name=SMPL_JOINT_NAMES[i], translation=off.tolist(),
                                children=children[i]))  # fmt: skip
    ibm = np.tile(np.eye(4, dtype=np.float32), (nj, 1, 1))
    ibm[:, :3, 3] = -J  # bind pose: joints at their rest positions, no rotation
    ibm_acc = blob.add(ibm.transpose(0, 2, 1).reshape(nj, 16), "MAT4")  # column-major
    doc.skins.append(g.Skin(joints=list(range(nj)), inverseBindMatrices=ibm_acc, skeleton=0))
    joints4, weights4 = _skin_weights(model)
    prim = g.Primitive(
        attributes=g.Attributes(
            POSITION=blob.add(V.astype(np.float32), "VEC3", g.ARRAY_BUFFER, minmax=True),
            JOINTS_0=blob.add(joints4, "VEC4", g.ARRAY_BUFFER),
            WEIGHTS_0=blob.add(weights4, "VEC4", g.ARRAY_BUFFER),
        ),
        indices=blob.add(
            np.asarray(model.faces, np.uint32).reshape(-1), "SCALAR", g.ELEMENT_ARRAY_BUFFER
        ),  # fmt: skip
    )
    doc.meshes.append(g.Mesh(name="body", primitives=[prim]))
    doc.nodes.append(g.Node(name="body", mesh=0, skin=0))
    doc.scenes.append(g.Scene(nodes=[0, nj]))
    _animation(doc, blob, model, params, J, t, fps)
    doc.buffers.append(g.Buffer(byteLength=blob.data.tell()))
    doc.set_binary_blob(blob.data.getvalue())
    return doc


def _animation(doc, blob, model, params, J, t, fps):
    import pygltflib as g

    times = blob.add((np.arange(t) / fps).astype(np.float32), "SCALAR", minmax=True)
    root_rot, root_pos = root_motion(params, J[0])
    local = Rotation.from_rotvec(np.asarray(params["body_pose"], np.float64).reshape(-1, 3))
    quats = [root_rot.as_quat()] + list(local.as_quat().reshape(t, 23, 4).transpose(1, 0, 2))
    anim = g.Animation(name="refined")
    for j, q in enumerate(quats):
        anim.samplers.append(g.AnimationSampler(input=times, output=blob.add(
            q.astype(np.float32), "VEC4")))  # fmt: skip
        anim.channels.append(g.AnimationChannel(sampler=j, target=g.AnimationChannelTarget(
            node=j, path="rotation")))  # fmt: skip
    anim.samplers.append(g.AnimationSampler(input=times, output=blob.add(
        root_pos.astype(np.float32), "VEC3")))  # fmt: skip
    anim.channels.append(g.AnimationChannel(sampler=len(quats), target=g.AnimationChannelTarget(
        node=0, path="translation")))  # fmt: skip
    doc.animations.append(anim)


def save_gltf(path: str | os.PathLike, model: BodyModel, params: dict, betas, fps: float) -> Path:
    """Write the animated, skinned body as a binary glTF (``.glb``), atomically."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    doc = gltf_document(model, params, betas, fps)
    return atomic_write(path, lambda fh: fh.write(b"".join(doc.save_to_bytes())))
