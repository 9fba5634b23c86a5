"""Linking a video's detected people into tracks (jaxrefine.detect.track) and its use by the
photo path: one person per track whatever order the detector lists them in."""

from __future__ import annotations

import imageio.v3 as iio
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrefine.detect.track import landmark_box, link_tracks

LEFT, RIGHT = np.array([10.0, 20, 60, 200]), np.array([120.0, 25, 170, 210])


def _moved(box, dx):
    return box + np.array([dx, 0, dx, 0])


def test_people_keep_their_track_when_the_detector_swaps_their_order():
    frames = [np.stack([LEFT, RIGHT]), np.stack([_moved(RIGHT, 3), _moved(LEFT, 3)]),
              np.stack([_moved(LEFT, 6), _moved(RIGHT, 6)])]  # fmt: skip
    ids = link_tracks(frames)
    assert [list(i) for i in ids] == [[0, 1], [1, 0], [0, 1]]


def test_a_new_person_starts_a_track_and_a_missed_one_continues_within_the_gap():
    third = np.array([220.0, 30, 260, 190])
    frames = [np.stack([LEFT]), np.zeros((0, 4)), np.zeros((0, 4)),  # missed twice
              np.stack([third, _moved(LEFT, 2)]), np.stack([_moved(RIGHT, 200)])]  # fmt: skip
    ids = link_tracks(frames, max_gap=2)
    assert [list(i) for i in ids] == [[0], [], [], [1, 0], [2]]
    # missed once more than the gap allows: a new track
    ids = link_tracks([np.stack([LEFT])] + [np.zeros((0, 4))] * 3 + [np.stack([LEFT])],
                      max_gap=2)  # fmt: skip
    assert [list(i) for i in ids] == [[0], [], [], [], [1]]


def test_boxes_that_barely_overlap_are_not_matched():
    shifted = _moved(LEFT, 45)  # IoU with LEFT: 5 / 95 of the width
    ids = link_tracks([np.stack([LEFT]), np.stack([shifted])], min_iou=0.2)
    assert [list(i) for i in ids] == [[0], [1]]
    ids = link_tracks([np.stack([LEFT]), np.stack([shifted])], min_iou=0.05)
    assert [list(i) for i in ids] == [[0], [0]]


def test_colour_histograms_of_a_mask_and_a_box():
    from jaxrefine.detect.track import BINS, appearance, hellinger

    img = np.zeros((10, 20, 3), np.float32)
    img[:, :10] = [1.0, 0.0, 0.0]  # red left half, blue right half
    img[:, 10:] = [0.0, 0.0, 1.0]
    red, blue = (BINS - 1) * BINS * BINS, BINS - 1  # their bins
    left = np.zeros((10, 20), bool)
    left[:, :10] = True
    h = appearance(img, left)
    assert h.shape == (BINS**3,) and h[red] == 1.0 and h.sum() == pytest.approx(1.0)
    h = appearance((img * 255).astype(np.uint8), np.array([5.0, 0, 20, 10]))  # a box, uint8
    assert h[red] == pytest.approx(1 / 3) and h[blue] == pytest.approx(2 / 3)
    assert np.allclose(appearance(img, np.zeros((10, 20), bool)), 1 / BINS**3)  # no pixels
    assert hellinger(h, h) == pytest.approx(0.0, abs=1e-7)
    assert hellinger(appearance(img, left), appearance(img, ~left)) == pytest.approx(1.0)


def test_colours_keep_apart_people_whose_boxes_coincide():
    """Two people cross; where their boxes coincide exactly the detector lists them in the
    other order: boxes and motion cannot tell them apart there (the frame goes to the wrong
    track), their colours can."""
    from jaxrefine.detect.track import BINS

    red, blue = np.zeros(BINS**3), np.zeros(BINS**3)
    red[(BINS - 1) * BINS * BINS], blue[BINS - 1] = 1.0, 1.0
    box = np.array([0.0, 0, 50, 100])
    boxes, colours = [], []
    for f in range(12):
        a, b = _moved(box, 8 * f), _moved(box, 8 * (12 - f))  # they coincide at frame 6
        mix = 0.4 if abs(f - 6) <= 1 else 0.0  # overlapping people show some of the other
        order = [1, 0] if f == 6 else [0, 1]
        boxes.append(np.stack([a, b])[order])
        colours.append(
            np.stack([(1 - mix) * red + mix * blue, (1 - mix) * blue + mix * red])[order]
        )
    first = [0 if f != 6 else 1 for f in range(12)]  # where person a is listed
    motion = [int(i[k]) for i, k in zip(link_tracks(boxes), first)]
    assert motion == [0] * 6 + [1] + [0] * 5
    both = [int(i[k]) for i, k in zip(link_tracks(boxes, features=colours), first)]
    assert both == [0] * 12


def test_landmark_box_uses_the_visible_landmarks():
    lm = np.array([[10.0, 20, 0.9], [50, 80, 0.7], [400, 400, 0.1]])
    np.testing.assert_array_equal(landmark_box(lm), [10, 20, 50, 80])
    lm[:, 2] = 0.0  # none visible: all of them
    np.testing.assert_array_equal(landmark_box(lm), [10, 20, 400, 400])


def test_a_videos_people_are_linked_in_the_photo_path(tmp_path, monkeypatch):
    """``read_photo_inputs`` on a video whose second frame lists the two people in the other
    order: each track holds one person's landmarks (before, the k-th detection was track k)."""
    from jaxrefine import photo
    from jaxrefine.camera import Camera
    from jaxrefine.inputs import Estimates

    lms = {0: np.tile([[30.0, 100.0, 1.0]], (33, 1)), 1: np.tile([[140.0, 100.0, 1.0]], (33, 1))}
    lms[0][0, :2], lms[1][0, :2] = [20, 30], [130, 30]  # give each a box
    calls = None

    class FakeRunner:  # BlazePose is not needed: the people are given
        pass

    def fake(model, img, *, boxes, tiles, runner, frame, source, **limits):
        order = next(calls)  # the detector order of this frame (set before each read)
        n = len(order)
        z = lambda *shape: np.zeros((n, *shape), np.float32)  # noqa: E731
        est = Estimates(global_orient=z(3), body_pose=z(23, 3), betas=z(10), transl=z(3),
                        intrinsics=z(4) + 1, frame=np.array([frame] * n, object),
                        track_id=np.arange(n, dtype=np.int64), source=source,
                        fmt="blazepose")  # fmt: skip
        cams = Camera(fx=jnp.ones(n), fy=jnp.ones(n), cx=jnp.ones(n), cy=jnp.ones(n),
                      R=jnp.tile(jnp.eye(3), (n, 1, 1)), t=jnp.zeros((n, 3)))  # fmt: skip
        return photo.PhotoEstimates(est, cams, np.stack([lms[k] for k in order]),
                                    np.ones((n, *img.shape[:2]), np.float32))  # fmt: skip

    from jaxrefine.detect import track

    real, given = track.link_tracks, []

    def spy(boxes, **kw):
        given.append(kw["features"])
        return real(boxes, **kw)

    monkeypatch.setattr(track, "link_tracks", spy)
    monkeypatch.setattr(photo, "estimates_from_photo", fake)
    monkeypatch.setattr("jaxrefine.detect.BlazePose", FakeRunner)
    iio.imwrite(tmp_path / "clip.mp4", np.zeros((3, 32, 48, 3), np.uint8), fps=10)
    (tmp_path / "frames").mkdir()
    for i in range(3):
        iio.imwrite(tmp_path / "frames" / f"f{i}.png", np.zeros((32, 48, 3), np.uint8))
    # a video file, and a folder of frames said to be a video
    for src, kw in ((tmp_path / "clip.mp4", {}), (tmp_path / "frames", {"video": True})):
        calls = iter([[0, 1], [1, 0], [0, 1]])
        _, est, frame_of, _, _, landmarks, _ = photo.read_photo_inputs(src, None, **kw)
        assert list(frame_of) == [0, 0, 1, 1, 2, 2]
        assert list(est.track_id) == [0, 1, 1, 0, 0, 1]
        for t in (0, 1):
            xs = landmarks[est.track_id == t][:, 1, 0]
            assert np.all(xs == xs[0])  # one person per track
        # each person's colours (inside their mask) went to the tracker
        assert [np.shape(c) for c in given.pop()] == [(2, track.BINS**3)] * 3
    calls = iter([[0, 1], [1, 0], [0, 1]])  # separate photos: every person their own
    _, est, *_ = photo.read_photo_inputs(tmp_path / "frames", None)
    assert list(est.track_id) == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("min_iou", [0.0, 1.5])
def test_the_iou_threshold_bounds_the_matches(min_iou):
    # 0 matches every pair the assignment makes, above 1 none
    ids = link_tracks([np.stack([LEFT]), np.stack([_moved(LEFT, 1)])], min_iou=min_iou)
    assert list(ids[1]) == ([0] if min_iou <= 1 else [1])


def _crossing(speed: float, frames: int = 16, noise: float = 0.0, seed: int = 0):
    """Two people walking past each other (one right, one left, ``speed`` px per frame; their
    boxes coincide at frame ``frames // 2``), listed in a random order per frame with
    ``noise`` px of box jitter: (boxes per frame, which listed box is person 0 per frame)."""
    rng = np.random.default_rng(seed)
    boxes, first = [], []
    for f in range(frames):
        a = _moved(np.array([0.0, 0, 50, 100]), speed * f)
        b = _moved(np.array([0.0, 5, 50, 105]), speed * (frames - f))
        order = rng.permutation(2) if noise else np.arange(2)
        both = np.stack([a, b])[order] + rng.normal(0, noise, (2, 4))
        boxes.append(both)
        first.append(int(np.flatnonzero(order == 0)[0]))
    return boxes, first


def test_people_who_cross_keep_their_tracks():
    # box IoU alone swapped these two once their boxes overlapped more with each other's last
    # box than with their own (this case; 57 of the 100 jittered ones of
    # docs/measurements/2026-12-03/s27_zen5/track_crossing.txt)
    boxes, _ = _crossing(8)
    assert [list(i) for i in link_tracks(boxes)] == [[0, 1]] * 16
    for seed in range(20):  # jittered and shuffled: the same identity before and after
        boxes, first = _crossing(8, noise=2.0, seed=seed)
        person0 = [int(ids[k]) for ids, k in zip(link_tracks(boxes), first)]
        crossing = 8  # where the two boxes coincide, either assignment fits them
        assert len(set(person0[:crossing] + person0[crossing + 1 :])) == 1, (seed, person0)


def _turning(meets: int, speed: float = 8.0, same: bool = False):
    """Two people who walk towards each other and turn back where they meet, ``meets`` times
    (at frame 8, then every 32 frames; the frame-by-frame tracker swaps them at each turn: its
    constant velocity carries each track onto the other person). Clothes of different colours
    (Hellinger distance 0.62, everyday clothes: 0.3-0.9; ``same``: alike), an overlapping
    person's colours mixed with the other's in proportion to the overlap. Returns boxes and
    colours per frame and, per frame, where person 0 is listed (in turns: the order says
    nothing)."""
    from jaxrefine.detect.blazepose import box_iou
    from jaxrefine.detect.track import BINS

    grey, red, blue = np.full(BINS**3, 1.0 / BINS**3), np.zeros(BINS**3), np.zeros(BINS**3)
    red[(BINS - 1) * BINS * BINS], blue[BINS - 1] = 1.0, 1.0
    red, blue = 0.5 * grey + 0.5 * red, 0.5 * grey + 0.5 * blue
    blue = red if same else blue
    t = np.arange(32 * (meets - 1) + 24, dtype=float)
    phase = 16 - np.abs((t + 8) % 32 - 16)  # 8 -> 16 (they meet) -> 0 (apart) -> 16 ...
    boxes, colours, first = [], [], []
    for f in range(len(t)):
        a = _moved(np.array([0.0, 0, 50, 100]), speed * phase[f])
        b = _moved(np.array([0.0, 5, 50, 105]), speed * (32 - phase[f]))
        mix = float(box_iou(a, b[None])[0]) / 2
        order = [f % 2, 1 - f % 2]
        boxes.append(np.stack([a, b])[order])
        colours.append(np.stack([(1 - mix) * red + mix * blue,
                                 (1 - mix) * blue + mix * red])[order])  # fmt: skip
        first.append(order.index(0))
    return boxes, colours, first


def _clear_ids(boxes, ids, first):
    """Person 0's track id in the frames where the two people do not overlap."""
    from jaxrefine.detect.blazepose import box_iou
    from jaxrefine.detect.track import MIN_IOU

    return [int(i[k]) for b, i, k in zip(boxes, ids, first) if box_iou(b[0], b[1:])[0] < MIN_IOU]


@pytest.mark.parametrize("meets", [1, 2])
def test_people_who_meet_and_turn_back_keep_their_tracks(meets):
    """Frame by frame the two tracks swap where the people turn back (85 of 100 simulated,
    docs/measurements/2026-12-03/s31_zen5/track_crossings.txt); re-deciding each crossing by
    the colours seen clear of it gives person 0 one id in every frame where the two are apart
    (twice in a row: the second decision reads the first one's relabelling)."""
    boxes, colours, first = _turning(meets)
    linked = link_tracks(boxes, features=colours, resolve=False)
    clear = _clear_ids(boxes, linked, first)
    assert len(set(clear)) == 2  # swapped at every turn
    ids = link_tracks(boxes, features=colours)
    assert len(set(_clear_ids(boxes, ids, first))) == 1
    assert sorted(set(np.concatenate(ids).tolist())) == [0, 1]  # still two tracks


def test_people_dressed_alike_and_a_crossing_at_the_end_are_left_as_linked():
    from jaxrefine.detect.track import resolve_crossings

    boxes, colours, _ = _turning(1, same=True)
    linked = link_tracks(boxes, features=colours, resolve=False)
    assert [list(i) for i in link_tracks(boxes, features=colours)] == [list(i) for i in linked]
    boxes, colours, first = _turning(1)  # cut at frame 10, overlapping: no clear frames after
    linked = link_tracks(boxes[:10], features=colours[:10], resolve=False)
    assert int(linked[9][first[9]]) != int(linked[0][first[0]])  # swapped at the turn
    again = resolve_crossings(linked, boxes[:10], colours[:10])
    assert [list(i) for i in again] == [list(i) for i in linked]


def test_a_person_who_turns_back_from_two_others_in_turn_keeps_one_track():
    """Person a meets b at frame 8 and turns back, then meets c at frame 40 and turns back
    again; frame by frame the tracks swap at both meetings. The second crossing is between
    tracks the first decision relabelled: it must be read with their new ids."""
    from jaxrefine.detect.blazepose import box_iou
    from jaxrefine.detect.track import BINS

    t = np.arange(48, dtype=float)
    x = np.stack([np.where(t <= 8, 64 + 8 * t, np.where(t <= 40, 192 - 8 * t, 8 * t - 448)),
                  np.where(t <= 8, 192 - 8 * t, 8 * t + 64),
                  np.where(t <= 40, 8 * t - 448, 192 - 8 * t)])  # fmt: skip
    grey = np.full(BINS**3, 1.0 / BINS**3)
    pure = np.eye(BINS**3)[[(BINS - 1) * BINS * BINS, BINS - 1, (BINS - 1) * BINS]]
    clothes = 0.5 * grey + 0.5 * pure  # red, blue, green
    boxes, colours, where = [], [], []
    for f in range(len(t)):
        bx = np.stack([_moved(np.array([0.0, 5.0 * k, 50, 100 + 5.0 * k]), x[k, f])
                       for k in range(3)])  # fmt: skip
        iou = np.stack([box_iou(b, bx) for b in bx]) / 2
        np.fill_diagonal(iou, 0.0)
        seen = (1 - iou.sum(1))[:, None] * clothes + iou @ clothes
        order = np.roll(np.arange(3), f)  # listed in turns
        boxes.append(bx[order])
        colours.append(seen[order])
        where.append(np.argsort(order))  # where person k is listed
    clear = [f for f in range(len(t)) if np.all(np.triu(
        np.stack([box_iou(b, boxes[f]) for b in boxes[f]]), 1) < 0.2)]  # fmt: skip

    def person_ids(ids):
        return [{int(ids[f][where[f][k]]) for f in clear} for k in range(3)]

    linked = person_ids(link_tracks(boxes, features=colours, resolve=False))
    assert all(len(s) > 1 for s in linked[:2])  # a and b swapped, then a and c
    assert person_ids(link_tracks(boxes, features=colours)) == [{0}, {1}, {2}]
