"""SMPL-layout body models as frozen pytrees, and their pure forward pass.

A :class:`BodyModel` holds the arrays of an SMPL-layout model (24 joints, SMPL's kinematic tree)
as pytree leaves and its topology (parents, joint names, landmark vertices, identity) as static
metadata. :func:`forward` poses ONE body; batch with ``jax.vmap``:

>>> import jax, jax.numpy as jnp, jaxrefine
>>> model = jaxrefine.load_body_model()
>>> out = jaxrefine.body_model.forward(model, jnp.zeros((24, 3)), jnp.zeros(10))
>>> out.vertices.shape == (model.num_vertices, 3), out.joints.shape
(True, (24, 3))

The forward pass reproduces smplx's ``lbs`` (docs/METHOD.md, *Body model and keypoints*):

1. ``v_shaped = v_template + shapedirs @ betas``
2. ``J = J_regressor @ v_shaped`` (joints from the shaped mesh, before pose correctives)
3. ``R_j = rodrigues(pose_j)``
4. ``v_posed = v_shaped + posedirs^T vec(R_1..23 - I)`` (row-major; skipped when the model has
   no pose correctives, e.g. the open default model)
5. the rigid transform chain along ``parents`` gives posed joints and skinning transforms
6. linear blend skinning of ``v_posed``; ``transl`` is added to vertices and joints.
"""

from __future__ import annotations

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrefine.geometry import rodrigues
from jaxrefine.keypoints import SMPL_JOINT_NAMES, Landmark, gather_keypoints, keypoint_sets_for

SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)  # fmt: skip
NUM_JOINTS = 24
NUM_POSE_FEATURES = 9 * (NUM_JOINTS - 1)  # 207 pose-corrective inputs
# The shipped open model's id (jaxrefine/assets/open_body_model.json; tests/test_lgd_smplify.py
# checks): the body model of every learned checkpoint that does not name one (all made before
# the training scripts took --model).
OPEN_MODEL_ID = "jaxrefine-open-anny-v1"


def recorded_model_id(meta: dict) -> str:
    """The id of the body model a learned checkpoint's ``meta`` says it was trained on: its
    ``"body_model"`` entry, a dict's ``model_id`` or a string's first word (the shipped LGD
    checkpoints write the id and a note); a checkpoint naming none: :data:`OPEN_MODEL_ID`."""
    record = meta.get("body_model", OPEN_MODEL_ID)
    return str(record["model_id"] if isinstance(record, dict) else str(record).split()[0])


@struct.dataclass
class BodyModel:
    """An SMPL-layout body model.

    Attributes:
      v_template: (V, 3) rest-pose mean-shape vertices, metres; y up, the body faces +z.
      shapedirs: (NB, V * 3) shape blend shapes, coefficient first like ``posedirs`` (smplx's
        (V, 3, NB) with the coefficient axis moved to the front and the vertex axes flattened):
        the blend is then a row-major vector-matrix product, which XLA's CPU matrix kernels
        run fast (the forward and backward shape-blend products of a batch-1 forward+backward
        on an SMPL-size model: 67 us, against 128 us in smplx's layout; profile in
        ``docs/measurements/2026-11-30/body_b1_profile.txt``).
      posedirs: (207, V * 3) pose-corrective blend shapes, or None (the term is skipped).
      J_regressor: (24, V) joint regressor (rows sum to 1).
      lbs_weights: (V, 24) skinning weights.
      faces: (F, 3) int32 triangle vertex indices, outward (counter-clockwise) orientation.
      vt: (T, 2) float32 UV coordinates, or None.
      ft: (F, 3) int32 per-face UV indices into ``vt``, or None.
      joint_template: (24, 3) ``J_regressor @ v_template`` (precomputed by the loaders), or None.
      joint_shapedirs: (24, 3, NB) ``J_regressor @ shapedirs`` (precomputed), or None.
      parents: static tuple of 24 parent indices (``parents[0] == -1``).
      joint_names: static tuple of 24 names.
      landmarks: static tuple of :class:`Landmark` (nose, eyes, ears, toes, heels).
      model_id: static identifier (file name / checksum / "jaxrefine-open-anny-v1").
      gender: static "neutral" | "male" | "female".
      kind: static model family, "smpl".
    """

    v_template: jnp.ndarray
    shapedirs: jnp.ndarray
    posedirs: jnp.ndarray | None
    J_regressor: jnp.ndarray
    lbs_weights: jnp.ndarray
    faces: jnp.ndarray
    vt: jnp.ndarray | None = None
    ft: jnp.ndarray | None = None
    joint_template: jnp.ndarray | None = None
    joint_shapedirs: jnp.ndarray | None = None
    parents: tuple[int, ...] = struct.field(pytree_node=False, default=SMPL_PARENTS)
    joint_names: tuple[str, ...] = struct.field(pytree_node=False, default=SMPL_JOINT_NAMES)
    landmarks: tuple[Landmark, ...] = struct.field(pytree_node=False, default=())
    model_id: str = struct.field(pytree_node=False, default="unknown")
    gender: str = struct.field(pytree_node=False, default="neutral")
    kind: str = struct.field(pytree_node=False, default="smpl")

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_betas(self) -> int:
        return int(self.shapedirs.shape[0])

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    @property
    def has_pose_correctives(self) -> bool:
        return self.posedirs is not None

    def landmark(self, name: str) -> Landmark:
        for lm in self.landmarks:
            if lm.name == name:
                return lm
        raise KeyError(f"model {self.model_id!r} defines no landmark {name!r}")

    def describe(self) -> str:
        return (
            f"{self.kind} model {self.model_id!r} ({self.gender}): {self.num_vertices} vertices, "
            f"{int(self.faces.shape[0])} faces, {self.num_betas} betas, "
            f"pose correctives {'yes' if self.has_pose_correctives else 'no'}"
        )


@struct.dataclass
class BodyOutput:
    """Result of :func:`forward` for one body.

    Attributes:
      vertices: (V, 3) posed vertices (metres, model/world frame, ``transl`` included).
      joints: (24, 3) posed joints.
      keypoint_sets: static; the model's keypoint definitions used by :meth:`keypoints`.
    """

    vertices: jnp.ndarray
    joints: jnp.ndarray
    keypoint_sets: object = struct.field(pytree_node=False, default=None)

    def keypoints(self, set_name: str) -> jnp.ndarray:
        """Keypoints (K, 3) of a named set: "smpl24", "body25" or "coco17"."""
        return gather_keypoints(self.keypoint_sets, set_name, self.joints, self.vertices)


def _check_single(name: str, x: jnp.ndarray, shape: tuple[int, ...]) -> None:
    if x.ndim != len(shape) or tuple(x.shape) != shape:
        hint = " (forward takes ONE body; batch with jax.vmap)" if x.ndim > len(shape) else ""
        if x.shape[-2:] == (3, 3) and shape[-1:] == (3,):
            hint = " (rotation matrices? forward takes axis-angle)"
        raise ValueError(f"{name} must have shape {shape}, got {tuple(x.shape)}{hint}")


def shape_vertices(model: BodyModel, betas: jnp.ndarray) -> jnp.ndarray:
    """Rest-pose vertices of a shape: (NB,) -> (V, 3)."""
    _check_single("betas", betas, (model.num_betas,))
    return model.v_template + (betas @ model.shapedirs).reshape(-1, 3)


def rest_joints(model: BodyModel, betas: jnp.ndarray) -> jnp.ndarray:
    """T-pose joints (24, 3) of a shape: ``J_regressor @ (v_template + shapedirs @ betas)``.

    Computed without forming the (V, 3) mesh: the regressor is folded into the template and the
    blend shapes (``(J_regressor @ shapedirs)`` is (24, 3, NB)), which is what keypoint-only fits
    need.
    """
    _check_single("betas", betas, (model.num_betas,))
    jt, jd = model.joint_template, model.joint_shapedirs
    if jt is None or jd is None:
        jt = model.J_regressor @ model.v_template
        sd = model.shapedirs.reshape(model.num_betas, -1, 3)
        jd = jnp.einsum("jv,lvc->jcl", model.J_regressor, sd)
    return jt + jnp.einsum("jcl,l->jc", jd, betas)


@functools.cache
def _ancestor_tables(parents: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Index tables for :func:`rigid_chain`'s pointer doubling: table k maps each joint (and a
    sentinel at index J, the identity) to its 2^k-th ancestor, the sentinel above the root.
    ceil(log2(depth + 1)) tables (SMPL's tree is 9 joints deep: 4)."""
    J = len(parents)
    anc = np.array([J if p < 0 else p for p in parents] + [J], dtype=np.int32)
    depth = [0] * J
    for i in range(1, J):
        depth[i] = depth[parents[i]] + 1
    tables = []
    for _ in range(int(np.ceil(np.log2(max(depth) + 1)))):
        tables.append(anc)
        anc = anc[anc]
    return tuple(tables)


def rigid_chain(
    rotations: jnp.ndarray, joints: jnp.ndarray, parents: tuple[int, ...]
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Forward kinematics along a static tree.

    Each joint's world transform is the product of its ancestors' local transforms. It is
    composed by pointer doubling: every joint's transform is multiplied by that of its 2^k-th
    ancestor, k = 0, 1, ..., so the whole tree takes ceil(log2(depth + 1)) rounds of 4x4
    products (4 for SMPL) instead of one product per joint (23). Same numbers up to float
    rounding (the products associate differently). A fit program traces the chain several
    times; with one product per joint it was half of the program's operations, and its
    compile time halves with doubling (keypoint SMPLify ~30 -> ~15 s on a 2-core Zen 3), at
    the same run time. The products are element-wise: batched 4x4 ``matmul`` under ``vmap``
    was 14-30 % slower on CPU (docs/measurements/2026-12-02/s23_zen3/compile_chain_ab.txt).

    Args:
      rotations: (J, 3, 3) local joint rotations.
      joints: (J, 3) rest-pose joint positions.
      parents: static parent indices, ``parents[0] == -1``.

    Returns:
      posed_joints: (J, 3); and the skinning transforms (J, 3, 4) mapping rest-pose points to
      posed points (smplx's relative transforms ``A``; the last row [0 0 0 1] is implicit).
    """
    J = len(parents)
    parent_pos = jnp.concatenate([jnp.zeros((1, 3), joints.dtype), joints[np.array(parents[1:])]])
    local = jnp.concatenate([rotations, (joints - parent_pos)[:, :, None]], axis=-1)  # (J, 3, 4)
    bottom = jnp.broadcast_to(jnp.array([0, 0, 0, 1], local.dtype), (J, 1, 4))
    identity = jnp.eye(4, dtype=local.dtype)[None]
    world = jnp.concatenate([jnp.concatenate([local, bottom], axis=1), identity])  # (J + 1, 4, 4)
    for ancestor in _ancestor_tables(tuple(parents)):
        world = jnp.sum(world[ancestor][:, :, :, None] * world[:, None, :, :], axis=2)
    world_R, posed = world[:J, :3, :3], world[:J, :3, 3]
    trans = posed - jnp.einsum("jab,jb->ja", world_R, joints)
    return posed, jnp.concatenate([world_R, trans[:, :, None]], axis=-1)


def skin(weights: jnp.ndarray, transforms: jnp.ndarray, points: jnp.ndarray) -> jnp.ndarray:
    """Linear blend skinning: (V, J) weights, (J, 3, 4) transforms, (V, 3) rest points -> (V, 3).

    The blended per-vertex transforms are one (V, J) x (J, 12) product; applying them is
    written element-wise (a batched 3x4 product per vertex is several times slower on CPU
    under ``vmap``).
    """
    T = weights @ transforms.reshape(transforms.shape[0], 12)  # (V, 12), rows of [R | t]
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    return jnp.stack(
        [
            T[:, 4 * r] * x + T[:, 4 * r + 1] * y + T[:, 4 * r + 2] * z + T[:, 4 * r + 3]
            for r in range(3)
        ],
        axis=-1,
    )


def forward(
    model: BodyModel,
    pose: jnp.ndarray,
    betas: jnp.ndarray,
    transl: jnp.ndarray | None = None,
) -> BodyOutput:
    """Pose one body.

    Args:
      model: the body model.
      pose: (24, 3) axis-angle, global orientation first (smplx's ``global_orient`` then
        ``body_pose``); a flat (72,) vector is also accepted.
      betas: (NB,) shape coefficients, ``NB == model.num_betas``.
      transl: (3,) translation added to vertices and joints, or None.

    Returns:
      :class:`BodyOutput` with vertices (V, 3) and joints (24, 3).
    """
    pose = jnp.asarray(pose)
    if pose.shape == (3 * model.num_joints,):
        pose = pose.reshape(model.num_joints, 3)
    _check_single("pose", pose, (model.num_joints, 3))
    betas = jnp.asarray(betas)
    v_shaped = shape_vertices(model, betas)
    # J_regressor @ v_shaped, through the precomputed regressed shape space (same numbers,
    # 24 x NB work per body instead of 24 x V)
    J = rest_joints(model, betas)
    R = rodrigues(pose)
    if model.posedirs is not None:
        feat = (R[1:] - jnp.eye(3, dtype=R.dtype)[None]).reshape(-1)
        v_posed = v_shaped + (feat @ model.posedirs).reshape(-1, 3)
    else:
        v_posed = v_shaped
    posed_joints, A = rigid_chain(R, J, model.parents)
    verts = skin(model.lbs_weights, A, v_posed)
    if transl is not None:
        transl = jnp.asarray(transl)
        _check_single("transl", transl, (3,))
        verts = verts + transl[None]
        posed_joints = posed_joints + transl[None]
    return BodyOutput(vertices=verts, joints=posed_joints, keypoint_sets=keypoint_sets_for(model))


def posed_joints(
    model: BodyModel, pose: jnp.ndarray, betas: jnp.ndarray, transl: jnp.ndarray | None = None
) -> jnp.ndarray:
    """Posed joints (24, 3) without skinning the mesh (cheap path for keypoint-only fits)."""
    pose = jnp.asarray(pose).reshape(model.num_joints, 3)
    J, _ = rigid_chain(rodrigues(pose), rest_joints(model, betas), model.parents)
    return J if transl is None else J + transl[None]


def skin_vertices(
    model: BodyModel,
    pose: jnp.ndarray,
    betas: jnp.ndarray,
    vertex_ids,
    transl: jnp.ndarray | None = None,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Posed joints (24, 3) and only the selected posed vertices (K, 3).

    Used when a fit needs a few surface landmarks (nose, toes, ...) or only the visible
    vertices, not the whole mesh. ``vertex_ids`` is a static tuple of K ints or a (K,) int
    array (traced is fine: a batch of frames may select different vertices).
    """
    pose = jnp.asarray(pose).reshape(model.num_joints, 3)
    if isinstance(vertex_ids, jax.Array):
        ids = vertex_ids
    else:
        ids = np.asarray(vertex_ids, dtype=np.int32)
    R = rodrigues(pose)
    sd = model.shapedirs.reshape(model.num_betas, -1, 3)[:, ids]
    v = model.v_template[ids] + jnp.einsum("lvc,l->vc", sd, betas)
    if model.posedirs is not None:
        feat = (R[1:] - jnp.eye(3, dtype=R.dtype)[None]).reshape(-1)
        pd = model.posedirs.reshape(NUM_POSE_FEATURES, -1, 3)[:, ids]
        v = v + jnp.einsum("p,pvc->vc", feat, pd)
    J, A = rigid_chain(R, rest_joints(model, betas), model.parents)
    v = skin(model.lbs_weights[ids], A, v)
    if transl is not None:
        J, v = J + transl[None], v + transl[None]
    return J, v


def _shape_basis(arrays: dict, model_id: str, num_betas: int | None) -> np.ndarray:
    """``shapedirs`` as (V, 3, NB) float32, cut to ``num_betas`` (None: all of them)."""
    shapedirs = np.asarray(arrays["shapedirs"], np.float32)
    if shapedirs.ndim == 2:  # (V*3, NB) flattened
        shapedirs = shapedirs.reshape(-1, 3, shapedirs.shape[-1])
    available = shapedirs.shape[-1]
    if num_betas is None:
        num_betas = available
    if num_betas > available or num_betas < 1:
        raise ValueError(
            f"asked for num_betas={num_betas}, but model {model_id!r} has {available} shape "
            f"components; use num_betas between 1 and {available}"
        )
    return shapedirs[:, :, :num_betas]


def _pose_correctives(arrays: dict, V: int) -> np.ndarray | None:
    """``posedirs`` as (207, V*3) float32, or None when absent or all zero."""
    posedirs = arrays.get("posedirs")
    if posedirs is None:
        return None
    posedirs = np.asarray(posedirs, np.float32)
    if not np.any(posedirs):
        return None  # all-zero correctives: skip the term instead of multiplying zeros
    # smplx: (V, 3, 207) -> (207, V*3), i.e. flatten the vertex axes then transpose
    return posedirs.reshape(V * 3, -1).T.copy()


def _parents(arrays: dict) -> tuple[int, ...]:
    """The kinematic tree from ``kintree_table`` (2, 24) or ``parents`` (24,); root -1."""
    if "kintree_table" in arrays:
        parents = np.asarray(arrays["kintree_table"])[0].astype(np.int64)
    else:
        parents = np.asarray(arrays["parents"]).astype(np.int64)
    parents = tuple(int(p) for p in parents)
    return (-1,) + parents[1:]  # smplx forces the root's parent to -1


def _landmarks(arrays: dict) -> tuple[Landmark, ...]:
    """The ``landmarks`` JSON string's named vertex combinations (none when absent)."""
    if arrays.get("landmarks") is None:
        return ()
    spec = json.loads(str(np.asarray(arrays["landmarks"])))
    return tuple(
        Landmark(k, tuple(int(i) for i in d["vertices"]), tuple(float(w) for w in d["weights"]))
        for k, d in spec.items()
    )


def from_arrays(arrays: dict, *, model_id: str, gender: str, num_betas: int | None) -> BodyModel:
    """Build a :class:`BodyModel` from plain numpy arrays in SMPL's naming.

    Keys: ``v_template`` (V,3), ``shapedirs`` (V,3,NB) or (V*3,NB), ``posedirs`` (V,3,207)
    optional, ``J_regressor`` (24,V), ``weights`` (V,24), ``f`` (F,3), ``kintree_table``
    (2,24) or ``parents`` (24,); optional ``vt``, ``ft``, ``landmarks`` (JSON string).
    Validation of the model family happens in :mod:`jaxrefine.smpl_io`.
    """
    f32 = np.float32
    shapedirs = _shape_basis(arrays, model_id, num_betas)
    num_betas = shapedirs.shape[-1]
    v_template = np.asarray(arrays["v_template"], f32)
    V = v_template.shape[0]
    posedirs = _pose_correctives(arrays, V)
    vt = arrays.get("vt")
    ft = arrays.get("ft")
    J_reg = np.asarray(arrays["J_regressor"], f32).astype(np.float64)  # same bits as stored
    joint_template = (J_reg @ v_template.astype(np.float64)).astype(f32)
    joint_shapedirs = np.einsum("jv,vcl->jcl", J_reg, shapedirs.astype(np.float64)).astype(f32)
    return BodyModel(
        v_template=jnp.asarray(v_template),
        shapedirs=jnp.asarray(shapedirs.reshape(V * 3, num_betas).T.copy()),
        posedirs=None if posedirs is None else jnp.asarray(posedirs),
        J_regressor=jnp.asarray(np.asarray(arrays["J_regressor"], f32)),
        lbs_weights=jnp.asarray(np.asarray(arrays["weights"], f32)),
        faces=jnp.asarray(np.asarray(arrays["f"], np.int32)),
        vt=None if vt is None else jnp.asarray(np.asarray(vt, f32)),
        ft=None if ft is None else jnp.asarray(np.asarray(ft, np.int32)),
        joint_template=jnp.asarray(joint_template),
        joint_shapedirs=jnp.asarray(joint_shapedirs),
        parents=_parents(arrays),
        joint_names=SMPL_JOINT_NAMES,
        landmarks=_landmarks(arrays),
        model_id=model_id,
        gender=gender,
        kind="smpl",
    )
