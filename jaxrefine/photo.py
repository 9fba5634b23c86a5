"""A plain photograph in, refined bodies out, without a regressor (BlazePose: extra ``detect``).

1. People: BlazePose (:func:`jaxrefine.detect.detect_people`, on the whole photo and on
   tiles of it, :data:`PHOTO_TILES`) finds every person (or takes the user's boxes) and gives
   33 landmarks, metric world landmarks and a mask per person.
2. Initial estimate per person: the landmark initializer
   (:func:`jaxrefine.detect.initialize.initialize`; a fit of the body model to the world and
   image landmarks, full-image camera with the focal approximation ``f = sqrt(W^2 + H^2)``).
3. Refinement (:func:`jaxrefine.refine.refine`): the displacement network's dense targets,
   and -- unless switched off -- the landmarks mapped to BODY_25 as a sparse keypoint term
   beside them. BlazePose's person mask drops the dense targets that leave it
   (:data:`PHOTO_MASK_GATE`); the network's confidence head weights the vertices
   (:data:`PHOTO_CONFIDENCE`); the silhouette term on the mask is an option (off by default).
   :func:`photo_options` gives these defaults.

:func:`estimates_from_photo` numbers a photo's people in the detector's order (best score
first) as their ``track_id``; :func:`read_photo_inputs` renumbers them across photos, or links
them into tracks across a video's frames (:mod:`jaxrefine.detect.track`).

**From the user's own keypoints** (:func:`read_keypoint_photo_inputs`; ``jaxrefine refine
PHOTOS --keypoints FILE`` without ``--estimates``): the people are those of an OpenPose
BODY_25, COCO-17 or MediaPipe Pose file, each initialized from its 2D keypoints by the same
initializer (a MediaPipe Tasks file's world landmarks too, where it has them; without world
points four orientation hypotheses; the user's ``--intrinsics`` or the focal approximation),
then refined as above with the keypoints as the sparse term (BODY_25 for MediaPipe). No
BlazePose, so no detect extra and no person masks: the mask gate and the silhouette term are
off.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine.camera import Camera
from jaxrefine.inputs import Estimates
from jaxrefine.inputs.estimates import concat_estimates
from jaxrefine.keypoints import canonical_set_name, joint_names, mediapipe33_keypoints
from jaxrefine.refine import RefineOptions, initial_prior, pose_batch, refine

# Photos' default weight of the landmark term beside the dense term (RefineOptions'
# keypoint_weight). Session 27's rule, written before the runs
# (docs/measurements/2026-12-03/s27_zen5/decision_rules_s27.md), on eval-real of six photos
# with weights 1 (the old default), 3 and 10: 3 passed (over the 14 people of the multi-person
# photos PCK@0.05 0.937 -> 0.986 and IoU against BlazePose's mask 0.587 -> 0.599, above the
# initial fit's 0.595; the COCO photo's real ground truth PCK 1.000, IoU 0.712 -> 0.716), 10
# failed (the astronaut's IoU 0.703 -> 0.693).
LANDMARK_WEIGHT = 3.0
# Photos' default mask gate (RefineOptions.mask_gate): targets more than 3 % of the person's
# size outside BlazePose's mask are dropped. 3 %: the least of the gates tried at which no
# single-person test photo loses more than 1 % of its targets; measured (session 19, docs/PHOTOS.md,
# "The mask gate"): it kept or raised every photo mean and upper-body mean of PCK@0.05.
PHOTO_MASK_GATE = 0.03
# Photos' default detector tiles (fractions of the longer side, coarsest first; a finer size
# only adds people): the whole photo finds nobody in either crowded sports test photo, these
# find 6 and 4 people with no false positive on ten test photos (session 20, docs/PHOTOS.md,
# "Finding the people"); about 1.5-2.5 s of detection per photo on 2 CPU cores instead of 0.1 s.
PHOTO_TILES = (1.0, 0.6, 0.4, 0.3)
# Photos weight the vertices by the network's confidence head (RefineOptions.use_confidence)
# when the network has one. Session 25's rule, written before the runs
# (docs/measurements/2026-12-02/s25_zen3/decision_rules_s25.md), on session 26's eval-real of
# six photos (docs/measurements/2026-12-03/s26_zen5/): over the 14 people of the four
# multi-person photos, PCK@0.05 of the network-only row 0.822 -> 0.836, network + landmarks
# 0.937 -> 0.937, IoU means not lower; the COCO photo kept PCK@0.05 1.000 and the astronaut
# gained (docs/PHOTOS.md, "The network's confidence weights on photos").
PHOTO_CONFIDENCE = True


def photo_options(network_config, **changes) -> RefineOptions:
    """Photos' refinement options: :class:`RefineOptions`' defaults with the mask gate
    :data:`PHOTO_MASK_GATE` and, when ``network_config`` has a confidence head, the confidence
    weights (:data:`PHOTO_CONFIDENCE`; a network without one weights every vertex 1, as
    ``use_confidence`` in the returned options says); ``changes`` override any field."""
    defaults = {"mask_gate": PHOTO_MASK_GATE,
                "use_confidence": PHOTO_CONFIDENCE and bool(network_config.confidence)}  # fmt: skip
    return RefineOptions(**{**defaults, **changes})


class PhotoEstimates(NamedTuple):
    """Initial estimates of the P people of one photo.

    Attributes:
      estimates: :class:`~jaxrefine.inputs.Estimates` (P) with full-image intrinsics,
        ``frame`` 0 and ``track_id`` = person index.
      cameras: batched full-image :class:`~jaxrefine.camera.Camera` (P).
      landmarks: (P, 33, 3) BlazePose landmarks x, y (pixels), visibility.
      masks: (P, H, W) float32 BlazePose person probabilities.
    """

    estimates: Estimates
    cameras: Camera
    landmarks: np.ndarray
    masks: np.ndarray


def estimates_from_photo(
    model,
    image,
    *,
    boxes=None,
    tiles: tuple[float, ...] = PHOTO_TILES,
    runner=None,
    init_config=None,
    frame=0,
    source: str | None = None,
    min_score: float | None = None,
    max_people: int | None = None,
    name: str | None = None,
    intrinsics=None,
    gmm=None,
) -> PhotoEstimates:
    """Detect the people of a photo and fit an initial body to each (steps 1-2 above).

    Args:
      model: body model.
      image: (H, W, 3) uint8 / float in [0, 1] array, or an image path.
      boxes: optional (N, 4) person boxes x0, y0, x1, y1 (pixels): skip the detector.
      tiles: detector tiles (see :func:`~jaxrefine.detect.detect_people`).
      runner: a loaded :class:`~jaxrefine.detect.BlazePose` (default: load one).
      init_config: :class:`~jaxrefine.detect.initialize.InitConfig` (default: its defaults).
      frame: the ``frame`` entry of the estimates (an image index or name).
      source: the name recorded in the estimates (default: the path, or "photo").
      min_score / max_people: the detector's least score and the most people kept (None:
        :data:`~jaxrefine.detect.blazepose.MIN_DETECTION_SCORE`,
        :data:`~jaxrefine.detect.blazepose.MAX_PEOPLE`; see ``detect_people``).
      name: the photo's name in errors and warnings (default: its path, or "image").
      intrinsics: the photo's (fx, fy, cx, cy) pixels, or None: the focal approximation.
      gmm: the initial fits' pose prior (default: the shipped one,
        :func:`jaxrefine.objective.load_gmm_prior`).

    A person whose landmarks have fewer than 4 usable points (e.g. a stray detection) is left
    out with a warning naming the photo; with none left the photo has no person.

    Raises:
      NoPersonError, ImageReadError, ModelsUnavailableError (see ``detect_people``).
    """
    from jaxrefine.detect import detect_people, read_image
    from jaxrefine.detect.initialize import InitConfig
    from jaxrefine.objective import load_gmm_prior

    img = read_image(image) if not isinstance(image, np.ndarray) else image
    h, w = img.shape[:2]
    name = name or (None if isinstance(image, np.ndarray) else str(image))
    people = detect_people(img, boxes, tiles=tiles, runner=runner, name=name,
                           **_detector_limits(min_score, max_people))  # fmt: skip
    gmm = load_gmm_prior() if gmm is None else gmm
    cfg = InitConfig() if init_config is None else init_config
    people, fits = _initial_fits(model, people, (h, w), gmm, cfg, intrinsics, name or "image")
    cams = jax.tree.map(lambda *a: jnp.stack(a), *[f.camera for f in fits])
    src = source or (str(image) if not isinstance(image, np.ndarray) else "photo")
    est = _fits_to_estimates(fits, model.num_betas, frame, src, "blazepose",
                             scores=[p.score for p in people])  # fmt: skip
    return PhotoEstimates(
        estimates=est,
        cameras=cams,
        landmarks=np.stack([p.landmarks2d for p in people]).astype(np.float32),
        masks=np.stack([p.mask for p in people]).astype(np.float32),
    )


def _initial_fits(model, people, size, gmm, cfg, intrinsics, name: str) -> tuple[list, list]:
    """``(people, fits)``: an initial fit per detected person
    (:func:`~jaxrefine.detect.initialize.initialize`), the people with too few usable
    landmarks left out (a warning names them; none left: ``NoPersonError``)."""
    import warnings

    from jaxrefine.detect import NoPersonError
    from jaxrefine.detect.initialize import TooFewLandmarksError, initialize

    kept, fits = [], []
    for i, p in enumerate(people):
        try:
            fits.append(initialize(model, p.landmarks2d, size, p.world, gmm=gmm, config=cfg,
                                   intrinsics=intrinsics))  # fmt: skip
        except TooFewLandmarksError as e:
            warnings.warn(f"{name}: person {i} (detector score {p.score:.2f}) left out: {e}",
                          stacklevel=3)  # fmt: skip
            continue
        kept.append(p)
    if not kept:
        raise NoPersonError(f"no person in {name} has 4 usable landmarks (found {len(people)})")
    return kept, fits


def _detector_limits(min_score, max_people) -> dict:
    """``detect_people``'s ``min_score`` / ``max_people`` where given (None: its defaults)."""
    limits = {"min_score": min_score, "max_people": max_people}
    return {k: v for k, v in limits.items() if v is not None}


def estimate_params(est: Estimates) -> dict:
    """The parameter dict (P leading) of estimates, as :func:`refine` takes it."""
    return {"global_orient": est.global_orient, "body_pose": est.body_pose, "betas": est.betas,
            "transl": est.transl}  # fmt: skip


def landmark_options(options: RefineOptions, set_name: str = "body25") -> RefineOptions:
    """``options`` with the keypoint term of ``set_name`` on (BODY_25: BlazePose's landmarks
    as the photo path maps them), weighted :data:`LANDMARK_WEIGHT` unless a weight is set."""
    weight = options.keypoint_weight if options.keypoint_weight is not None else LANDMARK_WEIGHT
    return dataclasses.replace(options, keypoint_set=set_name, keypoint_weight=weight)


def refine_photo(
    model,
    image_path,
    network,
    *,
    boxes=None,
    use_landmarks: bool = True,
    options: RefineOptions | None = None,
    tiles: tuple[float, ...] = PHOTO_TILES,
    runner=None,
    keypoints=None,
    keypoint_set: str = "body25",
    intrinsics=None,
) -> dict:
    """Detect, initialize and refine every person of one photo (the module's three steps), or,
    given ``keypoints``, initialize and refine those people (no BlazePose).

    Args:
      model: body model. image_path: the photo (or an (H, W, 3) array).
      network: ``(config, params)`` of the displacement network.
      boxes: optional (N, 4) person boxes. use_landmarks: add the landmarks (or the given
        keypoints) as a keypoint term. options: refinement options (default:
        :func:`photo_options`; with ``keypoints`` the mask gate off: there are no masks; its
        ``gmm_path`` is the initial fits' prior too).
        tiles / runner: see :func:`estimates_from_photo`.
      keypoints: optional (P, K, 3) x, y (pixels), confidence of ``keypoint_set`` ("body25"
        or "coco17"): the people to refine, initialized from them
        (:func:`estimates_from_keypoints`; people with fewer than 4 usable keypoints are
        left out, ``kept`` says which stayed). intrinsics: the photo's (fx, fy, cx, cy), or
        None: the focal approximation.

    Returns:
      dict ``initial`` / ``refined`` (parameter dicts, P leading), ``cameras``, ``status``
      (P,), ``status_name``, ``init_loss``, ``final_loss``, ``scores`` (P,) (the detector's,
      or with ``keypoints`` the mean confidence of each person's keypoints), ``landmarks``
      (P, 33, 3), ``masks`` (P, H, W), ``image`` (H, W, 3) float in [0, 1]; with ``keypoints``:
      ``landmarks`` / ``masks`` None and ``kept`` (P,) the indices of the refined people.

    Raises:
      ValueError: ``keypoints`` with ``boxes``, or with nobody to refine.
    """
    from jaxrefine.detect import read_image
    from jaxrefine.fit import status_name

    img = read_image(image_path) if not isinstance(image_path, np.ndarray) else image_path
    img = np.asarray(img, np.float32) / (255.0 if img.dtype == np.uint8 else 1.0)
    if keypoints is None:
        options = photo_options(network[0]) if options is None else options
        pe = estimates_from_photo(model, img, boxes=boxes, tiles=tiles, runner=runner,
                                  intrinsics=intrinsics, gmm=initial_prior(options))  # fmt: skip
        kp = mediapipe33_keypoints(pe.landmarks) if use_landmarks else None
        opts = landmark_options(options) if use_landmarks else options
        extra = {"landmarks": pe.landmarks, "masks": pe.masks}
    else:
        pe, kp, opts, extra = _keypoint_people(
            model, img, network, keypoints, keypoint_set, intrinsics, boxes, options,
            use_landmarks,
        )  # fmt: skip
    n = len(pe.estimates)
    init = estimate_params(pe.estimates)
    masks = list(pe.masks) if opts.needs_masks else None
    res = refine(model, [img] * n, init, pe.cameras, network, keypoints=kp, masks=masks,
                 options=opts)  # fmt: skip
    status = np.asarray(res.status)
    return {
        "initial": init,
        "refined": {k: np.asarray(v) for k, v in res.params.items()},
        "cameras": pe.cameras,
        "status": status,
        "status_name": [status_name(int(s)) for s in status],
        "init_loss": np.asarray(res.init_loss),
        "final_loss": np.asarray(res.final_loss),
        "scores": pe.estimates.score,
        **extra,
        "image": img,
    }


def _keypoint_people(model, img, network, keypoints, kp_set, intrinsics, boxes, options, use):
    """:func:`refine_photo`'s people from given keypoints: ``(PhotoEstimates without
    landmarks and masks, keypoint term or None, options, extra results)``."""
    if boxes is not None:
        raise ValueError("boxes choose the people the detector finds; keypoints bring their own")
    if options is None:
        options = dataclasses.replace(photo_options(network[0]), mask_gate=0.0)
    if options.needs_masks:
        raise ValueError("the silhouette term and the mask gate need BlazePose's masks")
    people = np.asarray(keypoints, np.float32)
    est, kept = estimates_from_keypoints(model, people, kp_set, img.shape[:2],
                                         intrinsics=intrinsics,
                                         gmm=initial_prior(options))  # fmt: skip
    if not len(kept):
        raise ValueError("no person with at least 4 usable keypoints")
    pe = PhotoEstimates(est, Camera.from_intrinsics(est.intrinsics), None, None)
    if not use:
        return pe, None, options, {"landmarks": None, "masks": None, "kept": kept}
    opts = landmark_options(options, canonical_set_name(kp_set))
    return pe, people[kept], opts, {"landmarks": None, "masks": None, "kept": kept}


def read_photo_inputs(
    images_src,
    model,
    *,
    boxes=None,
    tiles=PHOTO_TILES,
    use_landmarks=True,
    video=False,
    progress=False,
    min_score=None,
    max_people=None,
    intrinsics=None,
    gmm=None,
):
    """``jaxrefine refine`` without ``--estimates``: the people of each image as estimates.

    ``track_id`` says which estimates are one person (their frames share one estimated
    texture, and a track's frames are smoothed together with ``temporal_weight``): in a video
    (a video file, or any images with ``video=True``: one video's frames in order) the people
    are linked from frame to frame by their landmark boxes
    (:func:`jaxrefine.detect.track.link_tracks`); in a folder or list of photos every person
    of every photo is their own (numbered across the photos). Images where nobody is found
    are left out, named in a warning (a video's tracks bridge them as missed frames).
    ``min_score`` / ``max_people``: the detector's limits (:func:`estimates_from_photo`).
    ``intrinsics``: (fx, fy, cx, cy) or a JSON file
    (:func:`~jaxrefine.inputs.read_intrinsics`) for every image, else the focal approximation.
    ``gmm``: the initial fits' pose prior (None: the shipped one).

    Returns ``(images, estimates, frame_of, keypoints (N, 25, 3) or None, "body25" or None,
    landmarks (N, 33, 3), masks)`` (the first five as
    :func:`jaxrefine.refine_files.read_inputs` returns them; ``masks``: N person masks
    (H_i, W_i), BlazePose's, for the silhouette term). ``progress``: a progress bar over the
    images (people found so far) when there are several.

    Raises:
      NoPersonError: nobody in any image (the message names the image, or the first one).
    """
    import warnings

    from tqdm import tqdm

    from jaxrefine.detect import BlazePose, NoPersonError
    from jaxrefine.detect.track import BINS, appearance
    from jaxrefine.inputs import read_images, read_intrinsics

    images = read_images(images_src)
    intr = None if intrinsics is None else read_intrinsics(intrinsics)
    linked = images.is_video or video
    runner = BlazePose()
    parts, points, colours, nobody = [], [], [], []
    bar = tqdm(range(len(images)), unit="image", desc="detect + initialize",
               disable=not progress or len(images) < 2)  # fmt: skip
    for i in bar:
        img = images[i]
        name = str(images.paths[i] if images.paths is not None else images.names[i])
        try:
            pe = estimates_from_photo(model, img, boxes=boxes, tiles=tiles, runner=runner,
                                      frame=i, source=str(images.source), min_score=min_score,
                                      max_people=max_people, name=name,
                                      intrinsics=intr, gmm=gmm)  # fmt: skip
        except NoPersonError as e:  # an empty frame still counts for the tracker's gaps
            nobody.append(e)
            points.append(np.zeros((0, 33, 3), np.float32))
            colours.append(np.zeros((0, BINS**3)))
            continue
        parts.append(pe)
        points.append(pe.landmarks)
        if linked:  # each person's colours, for the tracker
            colours.append(np.stack([appearance(img, m > 0.5) for m in pe.masks]))
        bar.set_postfix(people=sum(len(p.landmarks) for p in parts))
    if not parts:
        raise NoPersonError(str(nobody[0]) if len(images) == 1 else
                            f"{images.source}: nobody found in any of its {len(images)} "
                            f"images (e.g. {nobody[0]})")  # fmt: skip
    if nobody:
        warnings.warn(f"nobody found in {len(nobody)} of {len(images)} images (e.g. "
                      f"{nobody[0]}); they are not refined", stacklevel=2)  # fmt: skip
    est = concat_estimates([p.estimates for p in parts])
    tracks = _link_people(points, linked, features=colours if linked else None)
    est = dataclasses.replace(est, track_id=tracks)
    landmarks = np.concatenate([p.landmarks for p in parts])
    masks = [m for p in parts for m in p.masks]
    frame_of = np.asarray(est.frame, np.int64)
    if not use_landmarks:
        return images, est, frame_of, None, None, landmarks, masks
    return images, est, frame_of, mediapipe33_keypoints(landmarks), "body25", landmarks, masks


def _link_people(
    points: list[np.ndarray], is_video: bool, min_visibility=None, features=None
) -> np.ndarray:
    """(N,) track ids of the people of every frame (``points``: one (P_f, K, 3) x, y,
    visibility array per frame): linked by their boxes (and ``features``, one (P_f, D) array
    of colour histograms per frame, when given) across a video's frames, else one id per
    person. ``min_visibility``: the least visibility of a point that shapes a box (None: the
    tracker's default for BlazePose landmarks)."""
    from jaxrefine.detect.track import MIN_VISIBILITY, landmark_box, link_tracks

    if not is_video:
        return np.arange(sum(len(p) for p in points), dtype=np.int64)
    floor = MIN_VISIBILITY if min_visibility is None else min_visibility
    boxes = [np.asarray([landmark_box(lm, floor) for lm in p]).reshape(-1, 4) for p in points]
    return np.concatenate(link_tracks(boxes, features=features)).astype(np.int64)


TINY = float(np.finfo(np.float32).tiny)  # a keypoint file's points count from any confidence


def estimates_from_keypoints(
    model,
    people: np.ndarray,
    set_name: str,
    image_size: tuple[int, int],
    *,
    world=None,
    intrinsics=None,
    init_config=None,
    gmm=None,
    frame=0,
    source: str = "keypoints",
) -> tuple[Estimates, np.ndarray]:
    """An initial body per person of one photo from the user's 2D keypoints.

    Args:
      model: body model. people: (P, K, 3) x, y (pixels), confidence of ``set_name``
        ("body25", "coco17", or "mediapipe33": landmarks with visibility). image_size: the
        photo's (H, W). world: (P, 33, 3) MediaPipe world landmarks, or None.
      intrinsics: (fx, fy, cx, cy), or None: the focal approximation.
      init_config / gmm: see :func:`jaxrefine.detect.initialize.initialize`.
      frame: the ``frame`` entry of the estimates. source: the name recorded in them.

    Returns:
      ``(estimates, kept)``: estimates (``fmt`` "keypoints", ``track_id`` = their order,
      ``person`` = ``kept``, ``score`` their
      :func:`~jaxrefine.inputs.keypoint_files.person_scores`) of the people with at least 4
      usable keypoints, and ``kept`` (P',) their indices in ``people`` (a person with fewer
      is left out: callers say so).
    """
    from jaxrefine.detect.initialize import InitConfig, TooFewLandmarksError, initialize
    from jaxrefine.inputs.keypoint_files import person_scores
    from jaxrefine.objective import load_gmm_prior

    gmm = load_gmm_prior() if gmm is None else gmm
    cfg = InitConfig() if init_config is None else init_config
    fits, kept = [], []
    for i, person in enumerate(np.asarray(people, np.float32)):
        wl = None if world is None else world[i]
        try:
            fits.append(initialize(model, person, image_size, wl, gmm=gmm, config=cfg,
                                   set_name=set_name, intrinsics=intrinsics))  # fmt: skip
        except TooFewLandmarksError:
            continue
        kept.append(i)
    kept = np.asarray(kept, np.int64)
    est = _fits_to_estimates(fits, model.num_betas, frame, source, "keypoints",
                             scores=person_scores(people)[kept])  # fmt: skip
    return dataclasses.replace(est, person=kept), kept


def _fits_to_estimates(
    fits: list, num_betas: int, frame, source: str, fmt: str, scores=None
) -> Estimates:
    """The initializer's fits (:class:`~jaxrefine.detect.initialize.InitialEstimate`, possibly
    none) as :class:`Estimates` of one image: ``track_id`` and ``person`` = person index,
    ``score`` = ``scores`` ((P,) the detections' scores; None: NaN)."""
    shapes = {"global_orient": (3,), "body_pose": (23, 3), "betas": (num_betas,),
              "transl": (3,)}  # fmt: skip
    stack = {k: np.asarray([np.asarray(f.params[k]) for f in fits], np.float32).reshape(-1, *s)
             for k, s in shapes.items()}  # fmt: skip
    intr = [[float(f.camera.fx), float(f.camera.fy), float(f.camera.cx), float(f.camera.cy)]
            for f in fits]  # fmt: skip
    n = len(fits)
    return Estimates(
        **stack, intrinsics=np.asarray(intr, np.float32).reshape(n, 4),
        frame=np.array([frame] * n, object), track_id=np.arange(n, dtype=np.int64),
        source=source, fmt=fmt, person=np.arange(n, dtype=np.int64),
        score=np.full(n, np.nan, np.float32) if scores is None else
        np.asarray(scores, np.float32).reshape(n),
    )  # fmt: skip


def read_keypoint_photo_inputs(
    images_src,
    model,
    keypoints_path,
    *,
    intrinsics=None,
    use_landmarks=True,
    video=False,
    progress=False,
    min_person_score=None,
    keypoint_images=None,
    gmm=None,
):
    """``jaxrefine refine PHOTOS --keypoints FILE`` without ``--estimates``: the people of the
    keypoint file as estimates (see the module docstring; no BlazePose).

    Every person of an image's keypoint frame (:meth:`~jaxrefine.inputs.keypoint_files.
    Keypoints2D.frames_of` pairs them) scoring at least ``min_person_score`` (None:
    :data:`~jaxrefine.inputs.keypoint_files.MIN_PERSON_SCORE`; the score is
    :func:`~jaxrefine.inputs.keypoint_files.person_scores`) is initialized from their keypoints
    (a MediaPipe file's people from their 33 landmarks and, when the file has them, world
    landmarks, as BlazePose's are; the sparse term is the BODY_25 keypoints either way); people
    below the score, people with fewer than 4 usable keypoints and images without a frame are
    left out with a warning naming them (:func:`keypoint_frame_people` per image). Track ids
    as :func:`read_photo_inputs` gives them (linked by keypoint boxes in a video).
    ``keypoint_images``: a COCO file naming the image ids of a COCO results list. ``gmm``: the
    initial fits' pose prior (None: the shipped one).

    Returns ``(images, estimates, frame_of, keypoints (N, K, 3) or None, set name or None,
    None, None)``: :func:`read_photo_inputs`' tuple without landmarks and masks.

    Raises:
      InputError: unreadable files, or no person to refine in any image.
    """
    from tqdm import tqdm

    from jaxrefine.detect.track import BINS, appearance, landmark_box
    from jaxrefine.inputs import InputError, read_images, read_intrinsics, read_keypoints
    from jaxrefine.inputs.keypoint_files import MIN_PERSON_SCORE
    from jaxrefine.objective import load_gmm_prior

    images = read_images(images_src)
    intr = None if intrinsics is None else read_intrinsics(intrinsics)
    kp = read_keypoints(keypoints_path, keypoint_images)
    keys = kp.frames_of(images.names, images.source)
    gmm = load_gmm_prior() if gmm is None else gmm
    parts, points, skipped = [], [], []
    bar = tqdm(range(len(images)), unit="image", desc="initialize from keypoints",
               disable=not progress or len(images) < 2)  # fmt: skip
    linked = images.is_video or video
    colours, faint = [], []
    floor = MIN_PERSON_SCORE if min_person_score is None else float(min_person_score)
    for i in bar:
        if keys[i] is None:  # an empty frame still counts for the tracker's gaps
            points.append(np.zeros((0, len(joint_names(kp.set_name)), 3), np.float32))
            colours.append(np.zeros((0, BINS**3)))
            continue
        img = images[i]
        size = tuple(np.shape(img)[:2])
        fp = keypoint_frame_people(model, kp, keys[i], size, min_person_score=floor,
                                   intrinsics=intr, gmm=gmm, frame=i,
                                   source=str(images.source))  # fmt: skip
        faint += [f"{images.names[i]} person {j} ({score:.2f})" for j, score in fp.faint]
        skipped += [f"{images.names[i]} person {j}" for j in fp.few]
        parts.append(fp.estimates)
        points.append(fp.points)
        if linked:  # each person's colours inside their keypoint box, for the tracker
            colours.append(np.asarray([appearance(img, landmark_box(p, TINY)) for p in
                                       fp.points]).reshape(-1, BINS**3))  # fmt: skip
        bar.set_postfix(people=sum(len(p) for p in parts))
    missing = [images.names[i] for i in range(len(images)) if keys[i] is None]
    _warn_left_out(kp.source, missing, faint, skipped, floor)
    if not sum(len(p) for p in parts):
        raise InputError(f"{kp.source}: no person with at least 4 usable keypoints and a score "
                         f"of at least {floor:g} in any of the {len(images)} image(s) of "
                         f"{images.source}")  # fmt: skip
    est = concat_estimates(parts)
    tracks = _link_people(points, linked, TINY, features=colours if linked else None)
    est = dataclasses.replace(est, track_id=tracks)
    frame_of = np.asarray(est.frame, np.int64)
    if not use_landmarks:
        return images, est, frame_of, None, None, None, None
    return images, est, frame_of, np.concatenate(points), kp.set_name, None, None


def _warn_left_out(source, missing: list, faint: list, few: list, floor: float) -> None:
    """One warning (at the caller of :func:`read_keypoint_photo_inputs`) per kind of what a
    keypoint file leaves unrefined: images without a frame, people below the score ``floor``,
    people with fewer than 4 usable keypoints; each names the first."""
    import warnings

    if missing:
        warnings.warn(f"{source}: no keypoints for {len(missing)} image(s) (e.g. "
                      f"{missing[0]!r}); they are not refined", stacklevel=3)  # fmt: skip
    if faint:
        warnings.warn(f"{source}: {len(faint)} person(s) score below {floor:g} (the mean "
                      f"confidence of their keypoints; e.g. {faint[0]}); they are not refined "
                      "(--min-person-score)", stacklevel=3)  # fmt: skip
    if few:
        warnings.warn(f"{source}: fewer than 4 usable keypoints for {len(few)} "
                      f"person(s) (e.g. {few[0]}); they are not refined",
                      stacklevel=3)  # fmt: skip


class FramePeople(NamedTuple):
    """The people of one keypoint frame, initialized (:func:`keypoint_frame_people`).

    Attributes:
      estimates: :class:`~jaxrefine.inputs.Estimates` (P') of the people refined.
      points: (P', K, 3) their keypoints (pixels, confidence) in the file's set.
      index: (P',) their places in the frame.
      faint: [(place, score)] of the people scoring below the floor.
      few: places of the people with fewer than 4 usable keypoints.
    """

    estimates: Estimates
    points: np.ndarray
    index: np.ndarray
    faint: list
    few: list


def keypoint_frame_people(
    model, kp, key: str, size: tuple[int, int], *, min_person_score: float, intrinsics=None,
    gmm=None, frame=0, source: str = "keypoints", only=None,
) -> FramePeople:  # fmt: skip
    """The people of frame ``key`` of a keypoint file (:class:`~jaxrefine.inputs.Keypoints2D`)
    in an image of ``size`` (H, W) who score at least ``min_person_score``
    (:func:`~jaxrefine.inputs.keypoint_files.person_scores`), each initialized from their
    keypoints (:func:`estimates_from_keypoints`; a MediaPipe file's people from their 33
    landmarks and world landmarks, as BlazePose's are). ``intrinsics``, ``gmm``, ``frame``,
    ``source``: as :func:`estimates_from_keypoints` takes them. ``only``: the places of the
    people to consider (None: everyone; the others are neither initialized nor reported)."""
    from jaxrefine.inputs.keypoint_files import person_scores

    people = kp.people(key, size)
    scores = person_scores(people)
    cand = np.arange(len(people)) if only is None else np.asarray(only, np.int64).reshape(-1)
    index = cand[scores[cand] >= min_person_score]
    faint = [(int(j), float(scores[j])) for j in cand if scores[j] < min_person_score]
    mp = kp.mediapipe(key, size)  # (landmarks, world) of a MediaPipe file
    if mp is None:
        first = (people[index], kp.set_name, None)
    else:
        first = (mp[0][index], "mediapipe33", None if mp[1] is None else mp[1][index])
    est, kept = estimates_from_keypoints(
        model, first[0], first[1], size, world=first[2], intrinsics=intrinsics, gmm=gmm,
        frame=frame, source=source,
    )  # fmt: skip
    few = [int(index[j]) for j in range(len(index)) if j not in kept]
    est = dataclasses.replace(est, person=index[kept], score=scores[index[kept]].astype(np.float32))
    return FramePeople(est, people[index][kept], index[kept], faint, few)


# the side view's colours: the first parameter set's bodies (the initial ones) and the last's
SIDE_COLOURS = ((0.62, 0.62, 0.62), (0.35, 0.62, 0.98))
SIDE_BACKGROUND = 0.93
SIDE_MARGIN = 1.25  # the side view frames the bodies' extent this many times over


def side_camera(vertices: np.ndarray, focal: float, h: int, w: int) -> Camera:
    """A camera that sees ``vertices`` (M, 3, camera frame of the photo: x right, y down, z
    away) from the photo's right, looking along -x at their centre: the picture's x is the
    photo's depth (farther to the right), its y the photo's y; at a distance that frames
    them in an (h, w) picture with focal ``focal``."""
    lo, hi = vertices.min(0), vertices.max(0)
    centre = (lo + hi) / 2.0
    extent = SIDE_MARGIN * max(hi[2] - lo[2], hi[1] - lo[1], 0.5)
    distance = focal * extent / min(h, w) + (hi[0] - lo[0]) / 2.0
    R = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    t = -R @ (centre + np.array([distance, 0.0, 0.0]))
    return Camera.create(focal, focal, w / 2.0, h / 2.0, R=R, t=t)


def side_panel(model, vertex_sets: list[np.ndarray], focal: float, h: int, w: int, *,
               backend="auto") -> np.ndarray:  # fmt: skip
    """Everyone of each vertex set ((P, V, 3) each; the first drawn in grey, the last in
    blue, :data:`SIDE_COLOURS`) seen from the side (:func:`side_camera`), on a plain
    background: (h, w, 3) float32. Shows what the photo cannot: how far each body is and
    how it leans towards the camera."""
    from jaxrefine.shading import render_body
    from jaxrefine.viz import draw_labels, overlay

    every = np.concatenate([np.asarray(v).reshape(-1, 3) for v in vertex_sets])
    cam = side_camera(every, focal, h, w)
    pic = np.full((h, w, 3), SIDE_BACKGROUND, np.float32)
    for k, verts in enumerate(vertex_sets):
        colour = SIDE_COLOURS[0 if k < len(vertex_sets) - 1 else 1]
        tint = jnp.tile(jnp.asarray(colour, jnp.float32), (np.shape(verts)[1], 1))
        for v in np.asarray(verts):
            ch, _ = render_body(model, jnp.asarray(v), cam, h, w, lighting=True,
                                backend=backend, vertex_colors=tint)  # fmt: skip
            pic = overlay(pic, np.asarray(ch.rgb), np.asarray(ch.mask), alpha=0.8)
    return draw_labels(
        pic, ["side, camera at left"], [(w / 2.0, h)], size=max(10, round(max(h, w) / 40))
    )


def people_picture(model, image, param_sets: list[dict], cameras: Camera, *, backend="auto",
                   keypoints=None, labels=None, side: bool = False):  # fmt: skip
    """The photo beside each parameter set's people rendered over it (farther people first,
    nearer ones on top): (H, (1 + S) W + pads, 3) float32, for a photo larger than
    :data:`jaxrefine.viz.MAX_PICTURE_SIDE` at that size (:func:`jaxrefine.viz.picture_image`).

    Args:
      image: (H, W, 3) float in [0, 1]. param_sets: S dicts of (P, ...) parameters.
      cameras: batched full-image cameras (P).
      keypoints: optional (P, K, 3) x, y, confidence the fit used, drawn as dots on the photo
        (those with confidence > 0).
      labels: optional P strings written above each person's body in the last panel (a
        person whose body is off the picture gets none).
      side: add a panel of every set's people seen from the side (:func:`side_panel`).
    """
    from jaxrefine.camera import scale_pixels
    from jaxrefine.shading import render_body
    from jaxrefine.viz import draw_labels, draw_points, image_grid, overlay, picture_image

    img, (sx, sy) = picture_image(image)  # a large photo's picture is drawn smaller
    cameras = scale_pixels(cameras, sx, sy)
    h, w = img.shape[:2]
    first = img
    if keypoints is not None:
        pts = np.asarray(keypoints, np.float32).reshape(-1, 3) * np.float32([sx, sy, 1.0])
        first = draw_points(img, pts[pts[:, 2] > 0, :2], radius=max(2, round(max(h, w) / 250)))
    panels, vertex_sets = [first], []
    for p in param_sets:
        pose = jnp.concatenate([jnp.asarray(p["global_orient"])[:, None], p["body_pose"]], 1)
        verts = pose_batch(model, pose, jnp.asarray(p["betas"]), jnp.asarray(p["transl"]))
        vertex_sets.append(np.asarray(verts.vertices))
        pic, tops = img, np.full((len(pose), 2), np.nan)
        for i in np.argsort(-np.asarray(p["transl"])[:, 2]):
            cam = jax.tree.map(lambda a, i=i: a[i], cameras)
            ch, _ = render_body(model, verts.vertices[i], cam, h, w, lighting=True,
                                backend=backend)  # fmt: skip
            mask = np.asarray(ch.mask) > 0.5
            pic = overlay(pic, np.asarray(ch.rgb), mask)
            ys, xs = np.nonzero(mask)
            if len(ys):  # the label's anchor: the top of the body's outline, centred
                tops[i] = ((xs.min() + xs.max()) / 2, ys.min())
        panels.append(pic)
    if labels is not None:
        panels[-1] = draw_labels(panels[-1], labels, tops, size=max(10, round(max(h, w) / 40)))
    if side:
        focal = float(np.asarray(cameras.fx).reshape(-1)[0])
        panels.append(side_panel(model, vertex_sets, focal, h, w, backend=backend))
    return image_grid(panels)


def write_people_overlays(model, images, est, frame_of, merged, out, backend: str,
                          keypoints=None, frames=None) -> list[str]:  # fmt: skip
    """``OUT/overlays/<image>_people.png``: per image (``frames``, image indices; None: every
    image with people), the photo (with ``keypoints`` (N, K, 3),
    the keypoint term of every estimate, as dots, when given), every person's initial and
    refined body (``merged`` as :func:`jaxrefine.refine_files.run_chunks` returns it), each
    refined body labelled with its ``person`` number (:func:`_labels`), and everyone's
    initial and refined bodies seen from the side (:func:`side_panel`)."""
    from pathlib import Path

    from jaxrefine.viz import save_png

    written = []
    for f in np.unique(frame_of) if frames is None else frames:
        sel = np.flatnonzero(frame_of == f)
        pic = before_after_people(model, images[int(f)], est, merged, sel, backend=backend,
                                  keypoints=keypoints, labels=_labels(est, sel),
                                  side=True)  # fmt: skip
        path = Path(out) / "overlays" / f"{images.names[int(f)]}_people.png"
        written.append(save_png(path, pic))
    return written


def before_after_people(model, image, est: Estimates, merged: dict, rows, *, backend="auto",
                        keypoints=None, labels=None, side: bool = False):  # fmt: skip
    """:func:`people_picture` of estimates ``rows`` (one image's people): the image (with
    their rows of ``keypoints``, (N, K, 3) or None, as dots), their initial bodies, their
    refined ones (``merged`` as :func:`jaxrefine.refine_files.run_chunks` returns it), and
    with ``side`` both seen from the side (initial grey, refined blue)."""
    keys = ("global_orient", "body_pose", "betas", "transl")
    init = {k: getattr(est, k)[rows] for k in keys}
    refined = {k: merged[f"param_{k}"][rows] for k in keys}
    pts = None if keypoints is None else np.asarray(keypoints)[rows]
    cams = Camera.from_intrinsics(est.intrinsics[rows])
    return people_picture(model, image, [init, refined], cams, backend=backend, keypoints=pts,
                          labels=labels, side=side)  # fmt: skip


def _labels(est: Estimates, rows) -> list[str]:
    """The people overlays' labels of estimates ``rows``: their ``person`` numbers (as
    ``refined.npz`` has them), else their track ids."""
    ids = est.track_id if est.person is None else est.person
    return [str(int(k)) for k in np.asarray(ids)[rows]]


def save_attributed_png(path, picture, credit: str, description: str = "") -> str:
    """Save an (H, W, 3) float picture as PNG with the photo's ``credit`` (attribution line) in
    its text metadata ("Attribution", "Description") and in a caption file ``path.txt``, each
    written atomically."""
    from pathlib import Path

    from PIL import Image, PngImagePlugin

    from jaxrefine.files import atomic_write

    path = Path(path)
    info = PngImagePlugin.PngInfo()
    info.add_text("Attribution", credit)
    info.add_text("Description", description)
    u8 = (np.clip(np.asarray(picture), 0, 1) * 255).astype(np.uint8)
    atomic_write(path, lambda fh: Image.fromarray(u8).save(fh, format="PNG", pnginfo=info))
    caption = f"{credit}\n{description}\n".encode()
    atomic_write(path.with_suffix(".txt"), lambda fh: fh.write(caption))
    return str(path)
