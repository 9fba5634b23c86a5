"""A real photo in, refined bodies out: `jaxrefine refine PHOTO` without estimates, its errors,
and `jaxrefine eval-real`'s table on the COCO photo."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
from pathlib import Path

import imageio.v3 as iio
import jax
import numpy as np
import pytest

from jaxrefine import network
from jaxrefine.cli import main as cli_main

REAL_DIR = Path(
    os.environ.get(
        "JAXREFINE_REAL_IMAGES_DIR", Path(__file__).resolve().parents[2] / "shared" / "real_images"
    )
)
COCO_IMAGE = REAL_DIR / "coco_000000000785.jpg"
COCO_JSON = REAL_DIR / "coco_000000000785.json"
# Few steps: these tests check the plumbing, not the fit's quality (eval-real measures that).
FAST = ["--camera-steps", "2", "--body-steps", "3", "--texture-size", "32"]


def _need_detect():
    from jaxrefine.detect import models

    if importlib.util.find_spec("ai_edge_litert") is None:
        pytest.skip("ai-edge-litert not installed (extra 'detect')")
    try:
        models.ensure_models()
    except models.ModelsUnavailableError as e:
        pytest.skip(f"BlazePose model files missing ({e})")


@pytest.fixture(autouse=True, scope="module")
def _no_persistent_compilation_cache():
    """The one crash seen in this file (a segfault inside JAX's persistent compilation-cache
    write after the LiteRT detector ran in the same process) went through the cache: these
    tests compile without it."""
    before = jax.config.jax_enable_compilation_cache
    jax.config.update("jax_enable_compilation_cache", False)
    yield
    jax.config.update("jax_enable_compilation_cache", before)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A tiny random displacement network (plumbing only; no shipped checkpoint needed)."""
    path = tmp_path_factory.mktemp("net") / "tiny.npz"
    cfg = network.get_config("tiny")
    network.save_params(path, cfg, network.init_params(cfg, jax.random.key(0)), {})
    return path


@pytest.fixture(scope="module")
def tiny_confidence_checkpoint(tmp_path_factory):
    """The tiny network with the confidence head (``--confidence`` needs one)."""
    path = tmp_path_factory.mktemp("net") / "tiny_confidence.npz"
    cfg = dataclasses.replace(network.get_config("tiny"), confidence=True)
    network.save_params(path, cfg, network.init_params(cfg, jax.random.key(0)), {})
    return path


@pytest.fixture(scope="module")
def coco_photo():
    _need_detect()
    if not (COCO_IMAGE.is_file() and COCO_JSON.is_file()):
        pytest.skip(f"real images not found in {REAL_DIR} (set JAXREFINE_REAL_IMAGES_DIR)")
    return COCO_IMAGE


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_blank_image_is_no_person_exit_2(tmp_path, tiny_checkpoint, capsys):
    _need_detect()
    iio.imwrite(tmp_path / "blank.png", np.full((64, 64, 3), 128, np.uint8))
    code = cli_main(["refine", str(tmp_path / "blank.png"), "--out", str(tmp_path / "o"),
                     "--checkpoint", str(tiny_checkpoint)])  # fmt: skip
    line = _one_error_line(capsys)
    assert code == 2 and "no person found" in line and "blank.png" in line  # the file
    assert not (tmp_path / "o" / "refined.npz").exists()


def test_unreadable_image_exit_2(tmp_path, tiny_checkpoint, capsys):
    _need_detect()
    (tmp_path / "broken.png").write_bytes(b"this is not a PNG")
    code = cli_main(["refine", str(tmp_path / "broken.png"), "--out", str(tmp_path / "o"),
                     "--checkpoint", str(tiny_checkpoint)])  # fmt: skip
    line = _one_error_line(capsys)
    assert code == 2 and "broken.png" in line


def test_a_missing_keypoint_file_without_estimates_is_named(tmp_path, tiny_checkpoint, capsys):
    """Photos with --keypoints and no --estimates are refined from the file's people
    (tests/test_keypoint_photos.py); a file that is not there fails before any work."""
    iio.imwrite(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    code = cli_main(["refine", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"),
                     "--keypoints", str(tmp_path / "kp.json"),
                     "--checkpoint", str(tiny_checkpoint)])  # fmt: skip
    assert code == 2 and "kp.json: no such keypoint file" in _one_error_line(capsys)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag", ["--silhouette-weight", "--mask-gate"])
def test_mask_options_with_estimates_are_refused(tmp_path, tiny_checkpoint, capsys, flag):
    iio.imwrite(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    code = cli_main(["refine", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"),
                     "--estimates", str(tmp_path / "est.npz"), flag, "0.5",
                     "--checkpoint", str(tiny_checkpoint)])  # fmt: skip
    assert code == 2 and flag in _one_error_line(capsys)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flags", [["--tiles", "1"], ["--box", "0", "0", "4", "4"]])
def test_detector_flags_with_estimates_are_refused(tmp_path, tiny_checkpoint, capsys, flags):
    iio.imwrite(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    code = cli_main(["refine", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"),
                     "--estimates", str(tmp_path / "est.npz"), *flags,
                     "--checkpoint", str(tiny_checkpoint)])  # fmt: skip
    assert code == 2 and flags[0] in _one_error_line(capsys)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", ["refine", "eval-real"])
def test_confidence_without_a_confidence_head_is_refused(tmp_path, tiny_checkpoint, capsys,
                                                         command):  # fmt: skip
    """Refused before any work, naming the checkpoint (it used to fail deep in the targets)."""
    photo, out = str(tmp_path / "a.png"), str(tmp_path / "o")
    iio.imwrite(photo, np.zeros((8, 8, 3), np.uint8))
    args = {"refine": [photo, "--out", out], "eval-real": ["--image", photo, "--out", out]}
    code = cli_main([command, *args[command], "--confidence",
                     "--checkpoint", str(tiny_checkpoint)])  # fmt: skip
    line = _one_error_line(capsys)
    assert code == 2 and "confidence head" in line and str(tiny_checkpoint) in line
    assert not (tmp_path / "o").exists()


def test_photos_default_to_the_mask_gate_and_confidence_and_estimates_to_none():
    from jaxrefine.photo import PHOTO_CONFIDENCE, PHOTO_MASK_GATE
    from jaxrefine.refine import RefineOptions
    from jaxrefine.refine_files import photo_defaults

    head = dataclasses.replace(network.get_config("tiny"), confidence=True)
    no_head = network.get_config("tiny")

    def resolved(gate, conf, estimates, cfg=head):
        o = photo_defaults(RefineOptions(), gate, conf, estimates, cfg)
        return o.mask_gate, o.use_confidence

    assert PHOTO_MASK_GATE > 0 and PHOTO_CONFIDENCE
    assert resolved(None, None, None) == (PHOTO_MASK_GATE, True)  # photos, flags not given
    assert resolved(None, None, None, no_head) == (PHOTO_MASK_GATE, False)  # nothing to weight
    assert resolved(None, None, "est.npz") == (0.0, False)  # estimates bring no masks
    assert resolved(0.1, False, None) == (0.1, False)  # as given
    assert resolved(0.0, True, "est.npz") == (0.0, True)


@pytest.mark.slow
def test_refine_photo_without_estimates_end_to_end(coco_photo, tiny_checkpoint, tmp_path):
    from jaxrefine.io import load_result
    from jaxrefine.refine import RefineOptions
    from jaxrefine.refine_files import refine_files
    from jaxrefine.refine_outputs import Outputs
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model()
    out = tmp_path / "out"
    # with the silhouette term on BlazePose's mask (the photo path's masks reach the fit)
    fast = RefineOptions(batch_size=1, camera_steps=2, body_steps=3, texture_size=32,
                         silhouette_weight=1.0, mask_gate=0.03)  # fmt: skip
    intr = [700.0, 710.0, 300.0, 200.0]  # a calibrated camera (the photo's focal is unknown)
    rep = refine_files(coco_photo, None, out, model=model,
                       network=network.load_params(tiny_checkpoint)[:2], options=fast,
                       outputs=Outputs(tracks=False), progress=False,
                       intrinsics=intr)  # fmt: skip
    assert not rep["failed"]
    res = load_result(out / "refined.npz", model)
    k = res["camera_K"][0]
    np.testing.assert_allclose([k[0, 0], k[1, 1], k[0, 2], k[1, 2]], intr)  # the user's camera
    assert res["body_pose"].shape == (1, 69) and list(res["track_id"]) == [0]
    # BlazePose's first detection, with the detector's score (kept from 0.5, its floor, up)
    assert list(res["person"]) == [0] and 0.5 <= float(res["person_score"][0]) <= 1.0
    saved = json.loads((out / "report.json").read_text())
    assert saved["frames"][0]["person_score"] == pytest.approx(res["person_score"][0], abs=1e-4)
    assert saved["settings"]["estimates_format"] == "blazepose"
    from jaxrefine.photo import LANDMARK_WEIGHT

    assert saved["settings"]["options"]["keypoint_weight"] == str(LANDMARK_WEIGHT)
    assert saved["settings"]["options"]["silhouette_weight"] == "1.0"
    assert saved["settings"]["options"]["mask_gate"] == "0.03"
    frame = saved["frames"][0]
    assert frame["final_objective"] <= frame["initial_objective"] * (1 + 1e-6)
    assert (out / "overlays" / f"{coco_photo.stem}_people.png").is_file()
    assert (out / "overlays" / f"{coco_photo.stem}_0.png").is_file()


@pytest.mark.slow
def test_demo_photo_scores_both_fits_against_blazepose(coco_photo, tiny_checkpoint, tmp_path):
    """`make demo`'s photo: the picture with its attribution, and a caption that scores the
    initial and refined fits as eval-real does (pseudo ground truth), numbers in [0, 1]."""
    import re

    from jaxrefine.demo import real_photo
    from jaxrefine.smpl_io import load_body_model

    written = real_photo(tmp_path, load_body_model(), "auto", real_dir=coco_photo.parent,
                         checkpoint=tiny_checkpoint)  # fmt: skip
    assert written is not None and Path(written).is_file()
    caption = (tmp_path / "real_photo.txt").read_text()
    assert "pseudo ground truth" in caption and "COCO" in caption.splitlines()[0]
    found = re.findall(r"(initial|refined) PCK@0.05 ([0-9.]+), IoU ([0-9.]+)", caption)
    assert [f[0] for f in found] == ["initial", "refined"]
    assert all(0.0 <= float(v) <= 1.0 for f in found for v in f[1:])


@pytest.mark.slow
def test_a_folder_of_photos_of_different_sizes_is_one_subject_per_person(
    coco_photo, tiny_checkpoint, tmp_path
):
    """Separate photos are not a video: each person gets their own track id (own texture),
    so photos of different sizes refine together (they were refused as one subject's frames
    of different sizes)."""
    from jaxrefine.io import load_result
    from jaxrefine.refine import RefineOptions
    from jaxrefine.refine_files import refine_files
    from jaxrefine.refine_outputs import Outputs
    from jaxrefine.smpl_io import load_body_model

    photos = tmp_path / "photos"
    photos.mkdir()
    image = iio.imread(coco_photo)
    iio.imwrite(photos / "a.png", image)
    iio.imwrite(photos / "b.png", image[:, 60:-60])  # the skier, a narrower photo
    iio.imwrite(photos / "c.png", np.full_like(image, 128))  # nobody: left out, named
    fast = RefineOptions(batch_size=2, camera_steps=2, body_steps=3, texture_size=32)
    with pytest.warns(UserWarning, match=r"nobody found in 1 of 3 images \(e.g. no person "
                      r"found in \S*c.png .*\); they are not refined"):  # fmt: skip
        rep = refine_files(photos, None, tmp_path / "out", model=load_body_model(),
                           network=network.load_params(tiny_checkpoint)[:2], options=fast,
                           outputs=Outputs(tracks=False), progress=False,
                           max_people=1)  # fmt: skip
    assert not rep["failed"]
    res = load_result(tmp_path / "out" / "refined.npz", load_body_model())
    assert list(res["track_id"]) == [0, 1] and list(res["frame"]) == ["a", "b"]
    assert (rep["settings"]["min_person_score"], rep["settings"]["max_people"]) == (0.5, 1)


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["adam", "lgd", "lgd-dense-only", "adam-confidence"])
def test_eval_real_rows_on_coco(coco_photo, tiny_checkpoint, tmp_path, capsys, optimizer, request,
                                monkeypatch):  # fmt: skip
    """Every row scored and pictured (LGD has a checkpoint for each row's data); with a
    learned optimizer that has a version for dense targets only, the rows it cannot fit
    (landmarks) are skipped, and say why, instead of failing the run or hiding the rows.
    ``adam-confidence``: Adam and a network re-run with a network that has a confidence head,
    whose weights the photos' default then uses (recorded); the others' network has none."""
    from PIL import Image

    from jaxrefine.evaluate_real_cli import INPUT_ROW, METRICS, ROWS

    if optimizer == "lgd-dense-only":
        request.getfixturevalue("dense_only_optimizer")  # registers it for this test
    checkpoint, extra = tiny_checkpoint, []
    if optimizer == "adam-confidence":
        optimizer, extra = "adam", ["--rerun-every", "2", "--keypoint-weight", "2.5"]
        checkpoint = request.getfixturevalue("tiny_confidence_checkpoint")

    from jaxrefine import photo
    from jaxrefine.photo import LANDMARK_WEIGHT

    real, weights = photo.landmark_options, []
    monkeypatch.setattr(photo, "landmark_options",
                        lambda o, *a: weights.append(o.keypoint_weight) or real(o, *a))  # fmt: skip
    code = cli_main(["eval-real", "--image", str(coco_photo), "--annotation", str(COCO_JSON),
                     "--checkpoint", str(checkpoint), "--out", str(tmp_path / "pics"),
                     "--json", str(tmp_path / "r.json"), "--optimizer", optimizer,
                     *FAST, *extra])  # fmt: skip
    assert code == 0
    table = capsys.readouterr().out
    for row in ROWS:
        assert row in table
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["optimizer"] == optimizer
    settings = (doc["confidence"], doc["rerun_every"], doc["keypoint_weight"])
    assert settings == ((True, 2, 2.5) if extra else (False, 0, LANDMARK_WEIGHT))
    if extra:  # the landmark row's fit got the weight
        assert weights and set(weights) == {2.5}
    assert "devices" in doc["machine"]  # which machine the figures came from
    (res,) = doc["results"]
    assert res["ground_truth"] == "coco_ground_truth" and res["people"] == 1
    skipped = {"lgd-dense-only": {"sparse_landmarks": "'keypoints'",
                                  "learned_dense_landmarks": "'dense+keypoints'"}}  # fmt: skip
    skipped = skipped.get(optimizer, {})
    assert set(res["skipped"]) == set(skipped)
    assert set(res["rows"]) == {INPUT_ROW, *ROWS} - set(skipped)
    # the people's own keypoints and BlazePose's mask, before any body (measured on this
    # photo: BlazePose's landmarks PCK@0.1 1.0, its mask IoU 0.92: test_detect's bounds)
    given = res["rows"][INPUT_ROW]
    assert given["pck@0.1"] >= 0.9 and given["silhouette_iou"] > 0.8
    for row, kind in skipped.items():
        assert kind in res["skipped"][row]
        assert f"row {row} skipped: {optimizer}: no checkpoint for data kind {kind}" in table
        assert not (tmp_path / "pics" / f"{coco_photo.stem}_{row}.png").exists()
    for row in set(ROWS) - set(skipped):
        assert set(res["rows"][row]) == set(METRICS)
        assert all(0.0 <= v <= 1.0 for v in res["rows"][row].values())
        png = tmp_path / "pics" / f"{coco_photo.stem}_{row}.png"
        assert "CC BY 2.0" in Image.open(png).text["Attribution"]
        assert "6795644157" in png.with_suffix(".txt").read_text()


@pytest.mark.slow
def test_eval_real_on_a_coco_keypoint_file(coco_photo, tiny_checkpoint, tmp_path, capsys,
                                           monkeypatch):  # fmt: skip
    """``--coco FILE --coco-images DIR``: every image with annotated people is scored against
    them (the COCO photo twice, under two ids, plus a person no detection matches and a blank
    image where the detector finds nobody: counted as missed, not failing the run), with the
    means over people, a per-person CSV and the JSON; an interrupted run resumes without
    running its finished photos again; a missing image is refused before any work, unless
    ``--limit`` leaves it out."""
    import shutil

    doc = json.loads(COCO_JSON.read_text())
    (img,), (ann,) = doc["images"], doc["annotations"]
    (tmp_path / "imgs").mkdir()
    shutil.copy(coco_photo, tmp_path / "imgs" / "a.jpg")
    shutil.copy(coco_photo, tmp_path / "imgs" / "b.jpg")
    x, y = 5.0, 5.0  # a small person outline in the corner, where nobody is detected
    nobody = {**ann, "id": 99, "bbox": [x, y, 20, 40],
              "segmentation": [[x, y, x + 20, y, x + 20, y + 40, x, y + 40]]}  # fmt: skip
    iio.imwrite(tmp_path / "imgs" / "c.png", np.zeros((img["height"], img["width"], 3), np.uint8))
    doc["images"] = [{**img, "id": 1, "file_name": "a.jpg"}, {**img, "id": 2, "file_name": "b.jpg"},
                     {**img, "id": 3, "file_name": "c.png"}]  # fmt: skip
    doc["annotations"] = [{**ann, "image_id": 1}, {**ann, "id": 7, "image_id": 2},
                          {**nobody, "image_id": 2},
                          {**nobody, "id": 98, "image_id": 3}]  # fmt: skip
    (tmp_path / "ann.json").write_text(json.dumps(doc))
    args = ["eval-real", "--coco", str(tmp_path / "ann.json"), "--coco-images",
            str(tmp_path / "imgs"), "--checkpoint", str(tiny_checkpoint), *FAST]  # fmt: skip
    out = [*args, "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv"),
           "--plot", str(tmp_path / "people.png")]  # fmt: skip
    assert cli_main(out) == 0
    assert iio.imread(tmp_path / "people.png").ndim == 3
    table = capsys.readouterr().out
    assert "3 photos, 2 of 4 annotated people matched to a detected person and scored" in table
    coco = json.loads((tmp_path / "r.json").read_text())["coco"]
    assert [r["annotation_ids"] for r in coco["results"]] == [[ann["id"]], [7], []]
    assert [(r["people"], r["annotated"]) for r in coco["results"]] == [(1, 1), (1, 2), (0, 1)]
    for row, means in coco["summary"]["rows"].items():  # people weigh alike
        per = [r["per_person"][row][0] for r in coco["results"][:2]]
        for m, v in means.items():
            assert v == pytest.approx(np.mean([p[m] for p in per]))
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert lines[0].startswith("photo,ground_truth,person,annotation_id,box,row,pck@0.05")
    assert len(lines) == 1 + 2 * 5  # two people, four rows and their input keypoints
    assert not (tmp_path / "r.json.partial.jsonl").exists()  # all in r.json
    # interrupted after the first photo, then resumed: the finished photo is not run again
    from jaxrefine import evaluate_real_cli

    real, calls = evaluate_real_cli.evaluate_photo, []

    def interrupted(*a, **k):
        calls.append(a[1])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(evaluate_real_cli, "evaluate_photo", interrupted)
    again = [*args, "--json", str(tmp_path / "r3.json")]
    assert cli_main(again) == 130 and not (tmp_path / "r3.json").exists()
    journal = (tmp_path / "r3.json.partial.jsonl").read_text().splitlines()
    assert len(journal) == 2  # the settings and photo a
    calls.clear()
    monkeypatch.setattr(evaluate_real_cli, "evaluate_photo", lambda *a, **k: (calls.append(a[1]),
                        real(*a, **k))[1])  # fmt: skip
    assert cli_main([*again, "--resume"]) == 0
    assert [p.name for p in calls] == ["b.jpg", "c.png"]
    resumed = json.loads((tmp_path / "r3.json").read_text())["coco"]
    assert resumed["results"][0]["per_person"] == coco["results"][0]["per_person"]
    (tmp_path / "r3.json.partial.jsonl").write_text("\n".join(journal) + "\n")
    capsys.readouterr()
    assert cli_main([*again, "--resume", "--min-keypoints", "3"]) == 2
    assert "other settings (min_keypoints)" in _one_error_line(capsys)
    (tmp_path / "imgs" / "b.jpg").unlink()
    assert cli_main([*args, "--json", str(tmp_path / "r2.json")]) == 2
    assert "b.jpg: an image of" in _one_error_line(capsys)
    assert not (tmp_path / "r2.json").exists()
    calls.clear()  # --limit 1: the first image only; the missing b.jpg lies past it
    assert cli_main([*args, "--limit", "1", "--json", str(tmp_path / "r4.json")]) == 0
    assert [p.name for p in calls] == ["a.jpg"]
    assert len(json.loads((tmp_path / "r4.json").read_text())["coco"]["results"]) == 1
    for flag in ("--limit", "--min-keypoints"):  # usage errors: --limit -1 once left out the
        with pytest.raises(SystemExit, match="2"):  # last image; a person without keypoints
            cli_main([*args, flag, "0"])  # has no score
        assert f"{flag} must be at least 1 (got 0)" in capsys.readouterr().err
    refused = (
        ("--tiles", "--tiles are fractions of the photo's longer side"),
        ("--min-person-score", "BlazePose's detector is a score in (0, 1]"),
    )
    for flag, said in refused:
        with pytest.raises(SystemExit, match="2"):  # 0 once ran a photo for minutes
            cli_main([*args, flag, "0"])
        assert said in capsys.readouterr().err


def test_eval_real_plots_every_scored_person(tmp_path):
    """``--plot``: the values plotted are every scored person's, per row in table order; a
    row without a finite value (a keypoint file's people have no mask) has no box."""
    from jaxrefine.evaluate_real_cli import people_scores, plot_people

    def person(oks, iou):
        return {"pck@0.05": 1.0, "pck@0.1": 1.0, "oks": oks, "silhouette_iou": iou}

    results = [{"people": 2, "ground_truth": "coco_ground_truth",
                "per_person": {"initial": [person(0.9, 0.6), person(0.8, 0.5)],
                               "input_keypoints": [person(1.0, float("nan"))] * 2}},
               {"people": 1, "ground_truth": "pseudo_ground_truth_blazepose",
                "per_person": {"initial": [person(0.7, 0.4)]}}]  # fmt: skip
    scores = people_scores(results)
    assert list(scores["oks"]) == ["input_keypoints", "initial"]
    np.testing.assert_allclose(scores["oks"]["initial"], [0.9, 0.8, 0.7])
    assert list(scores["silhouette_iou"]) == ["initial"]
    png = plot_people(results, tmp_path / "people.png")
    assert iio.imread(png).shape[:2] == (420, 1500)  # three 5 x 4.2 inch panels at 100 dpi


@pytest.fixture
def coco_files():
    """The COCO photo and its annotation (no detector needed; read afresh for each test, which
    may change it)."""
    if not (COCO_IMAGE.is_file() and COCO_JSON.is_file()):
        pytest.skip(f"real images not found in {REAL_DIR} (set JAXREFINE_REAL_IMAGES_DIR)")
    return COCO_IMAGE, json.loads(COCO_JSON.read_text())


def _result(image_id, keypoints, score, dx=0.0):
    """A detector's COCO result: the keypoints shifted by ``dx`` px, keypoint values 1."""
    kp = np.asarray(keypoints, np.float64).reshape(17, 3)
    kp = np.concatenate([kp[:, :2] + [dx, 0.0], (kp[:, 2:] > 0).astype(float)], 1)
    return {"image_id": image_id, "category_id": 1, "keypoints": kp.ravel().tolist(),
            "score": score}  # fmt: skip


@pytest.mark.slow
def test_eval_real_scores_a_keypoint_files_people(coco_files, tiny_checkpoint, tmp_path,
                                                  capsys, monkeypatch):  # fmt: skip
    """``--coco ... --keypoints RESULTS``: a detector's people instead of BlazePose's (which
    must not run): the photo's ground-truth keypoints as a result are matched by box and
    scored (all keypoints within 5 % from the start: the initializer used them); a low-score
    copy is left out and counted; a confident person far from any annotation is not scored; a
    photo without results has its annotated person missed. Refusals before any work."""
    import shutil

    image, doc = coco_files
    (img,), (ann,) = doc["images"], doc["annotations"]

    def boom(*a, **k):
        raise AssertionError("BlazePose ran: a keypoint file's people need no detector")

    monkeypatch.setattr("jaxrefine.detect.BlazePose", boom)
    (tmp_path / "imgs").mkdir()
    shutil.copy(image, tmp_path / "imgs" / "a.jpg")
    iio.imwrite(tmp_path / "imgs" / "c.png", np.zeros((img["height"], img["width"], 3), np.uint8))
    doc["images"] = [{**img, "id": 1, "file_name": "a.jpg"}, {**img, "id": 3, "file_name": "c.png"}]
    doc["annotations"] = [{**ann, "image_id": 1}, {**ann, "id": 5, "image_id": 3}]
    (tmp_path / "ann.json").write_text(json.dumps(doc))
    far = np.asarray(ann["keypoints"], np.float64).reshape(17, 3) * [0.2, 0.2, 1]  # top left
    results = [_result(1, ann["keypoints"], 0.95), _result(1, ann["keypoints"], 0.1, dx=40.0),
               _result(1, far.ravel(), 0.9)]  # fmt: skip
    (tmp_path / "res.json").write_text(json.dumps(results))
    args = ["eval-real", "--coco", str(tmp_path / "ann.json"), "--coco-images",
            str(tmp_path / "imgs"), "--checkpoint", str(tiny_checkpoint), *FAST,
            "--keypoints", str(tmp_path / "res.json")]  # fmt: skip
    assert cli_main([*args, "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "2 photos, 1 of 2 annotated people matched to a detected person and scored" in out
    assert "1 below --min-person-score (never matched), 0 matched" in out
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["people_from"] == str((tmp_path / "res.json").resolve()) and r["mask_gate"] == 0.0
    first, blank = r["coco"]["results"]
    assert first["annotation_ids"] == [ann["id"]] and blank["people"] == 0
    assert first["keypoint_people_left_out"] == {"low_score": 1, "few_keypoints": 0}
    assert first["rows"]["initial"]["pck@0.05"] == 1.0
    assert set(first["rows"]) == {"input_keypoints", "initial", "sparse_landmarks",
                                  "learned_dense", "learned_dense_landmarks"}  # fmt: skip
    given = first["rows"]["input_keypoints"]  # the result's keypoints are the ground truth
    assert (given["pck@0.05"], given["oks"]) == (1.0, pytest.approx(1.0))
    assert np.isnan(given["silhouette_iou"])  # a keypoint file brings no mask
    assert re.search(r"input_keypoints\s*\|\s*1\s*\|\s*1\.000.*\|\s*n/a\s*\|", out)

    def refused(argv, words):  # a usage error (SystemExit) or a named input error (exit 2)
        try:
            code = cli_main(argv)
        except SystemExit as e:
            code = e.code
        assert code == 2 and words in capsys.readouterr().err

    refused([*args, "--pseudo", str(image)], "--keypoints needs ground truth")
    refused([*args, "--mask-gate", "0.03"], "--mask-gate need BlazePose's person masks")
    refused([*args, "--max-people", "3"], "--max-people limits BlazePose's people")
    (tmp_path / "other.json").write_text(json.dumps([_result(77, ann["keypoints"], 0.9)]))
    refused([*args, "--keypoints", str(tmp_path / "other.json")],
            "other.json: no keypoint frame matches an image")  # fmt: skip


@pytest.mark.slow
def test_eval_real_fits_with_the_prior_gmm_names(coco_files, tiny_checkpoint, tmp_path, capsys,
                                                 monkeypatch, other_prior_file):  # fmt: skip
    """``eval-real --gmm FILE``: a keypoint file's people and BlazePose's are initialized with
    that prior, the sparse row's SMPLify and the learned rows' refine get it, and the JSON
    names it. A missing file is refused (exit 2, named) before any photo is read; ``--resume``
    refuses the journal of a run with another prior."""
    import importlib
    import shutil
    import types

    from jaxrefine import photo
    from jaxrefine.priors import load_gmm

    smplify = importlib.import_module("jaxrefine.smplify")  # the module (the package exports
    # a function of that name)

    image, doc = coco_files
    (tmp_path / "imgs").mkdir()
    shutil.copy(image, tmp_path / "imgs" / Path(image).name)
    (tmp_path / "ann.json").write_text(json.dumps(doc))
    (ann,) = doc["annotations"]
    (img,) = doc["images"]
    (tmp_path / "res.json").write_text(json.dumps([_result(img["id"], ann["keypoints"], 0.95)]))
    seen = {"initial": [], "smplify": [], "refine": []}
    frame_people, fit = photo.keypoint_frame_people, smplify.smplify

    def initial(*a, gmm=None, **k):
        seen["initial"].append(gmm)
        return frame_people(*a, gmm=gmm, **k)

    def sparse(*a, gmm=None, **k):
        seen["smplify"].append(gmm)
        return fit(*a, gmm=gmm, **k)

    def learned(model, images, params, cameras, network, *, options, **k):
        seen["refine"].append(options.gmm_path)  # refine's own use: test_refine.py
        return types.SimpleNamespace(params=params)

    monkeypatch.setattr(photo, "keypoint_frame_people", initial)
    monkeypatch.setattr(smplify, "smplify", sparse)
    monkeypatch.setattr("jaxrefine.refine.refine", learned)
    args = ["eval-real", "--coco", str(tmp_path / "ann.json"), "--coco-images",
            str(tmp_path / "imgs"), "--checkpoint", str(tiny_checkpoint), *FAST,
            "--keypoints", str(tmp_path / "res.json"),
            "--json", str(tmp_path / "r.json")]  # fmt: skip
    assert cli_main([*args, "--gmm", str(other_prior_file)]) == 0
    other = load_gmm(other_prior_file)
    assert len(seen["initial"]) == 1 and len(seen["smplify"]) == 1
    for prior in seen["initial"] + seen["smplify"]:
        np.testing.assert_array_equal(prior.means, other.means)
    assert seen["refine"] == [str(other_prior_file)] * 2  # both learned rows
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["pose_prior"] == str(other_prior_file)
    assert set(r["coco"]["results"][0]["rows"]) >= {"sparse_landmarks", "learned_dense"}
    capsys.readouterr()
    with monkeypatch.context() as m:  # nothing may be read before the prior
        m.setattr("jaxrefine.detect.evaluate_real.read_coco_people", None)
        assert cli_main([*args, "--gmm", str(tmp_path / "nope.pkl")]) == 2
    assert "nope.pkl" in capsys.readouterr().err

    def blazepose_people(*a, gmm=None, **k):  # BlazePose's people (a stand-in detector)
        seen["initial"].append(gmm)
        raise SystemExit(0)

    monkeypatch.setattr("jaxrefine.detect.BlazePose", lambda: None)
    monkeypatch.setattr(photo, "estimates_from_photo", blazepose_people)
    with pytest.raises(SystemExit):
        cli_main(["eval-real", "--pseudo", str(image), "--checkpoint", str(tiny_checkpoint),
                  "--gmm", str(other_prior_file)])  # fmt: skip
    np.testing.assert_array_equal(seen["initial"][-1].means, other.means)

    def interrupted(*a, **k):
        raise RuntimeError("interrupted")

    monkeypatch.setattr("jaxrefine.refine.refine", interrupted)
    assert cli_main([*args, "--gmm", str(other_prior_file)]) == 1
    assert cli_main([*args, "--resume"]) == 2
    assert "an interrupted run with other settings (run)" in capsys.readouterr().err


@pytest.mark.slow
def test_consecutive_real_frames_link_their_people_into_tracks(tmp_path):
    """Two consecutive frames of a real video (OpenCV's basketball samples) given as a folder
    with ``video=True``. On the whole frame only (tiles 1) the detector finds the man cut by
    the border in the second frame alone: the man seen in both keeps one track, the other starts
    another. The photos' default tiles find him in both frames: two tracks of two frames. As
    separate photos every person is their own."""
    import shutil

    from jaxrefine.photo import read_photo_inputs
    from jaxrefine.smpl_io import load_body_model

    _need_detect()
    names = ["opencv_basketball1.png", "opencv_basketball2.png"]
    if not all((REAL_DIR / n).is_file() for n in names):
        pytest.skip(f"real images not found in {REAL_DIR} (set JAXREFINE_REAL_IMAGES_DIR)")
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, n in enumerate(names):
        shutil.copyfile(REAL_DIR / n, frames / f"f{i}.png")
    model = load_body_model()
    _, est, frame_of, _, _, landmarks, _ = read_photo_inputs(
        frames, model, video=True, tiles=(1.0,)
    )
    assert list(frame_of) == [0, 1, 1]  # one man found in the first frame, two in the second
    left = np.argsort(landmarks[1:, :, 0].mean(1))  # the second frame's people, left first
    assert est.track_id[0] == est.track_id[1 + left[0]] == 0
    assert est.track_id[1 + left[1]] == 1
    _, est, frame_of, _, _, landmarks, _ = read_photo_inputs(frames, model, video=True)
    assert list(frame_of) == [0, 0, 1, 1]
    for f in (0, 1):  # in each frame the man on the left is track 0, the one on the right 1
        rows = np.nonzero(frame_of == f)[0]
        by_x = rows[np.argsort(landmarks[rows, :, 0].mean(1))]
        assert list(est.track_id[by_x]) == [0, 1]
    _, est, *_ = read_photo_inputs(frames, model)
    assert list(est.track_id) == [0, 1, 2, 3]
    # a frame where nobody is found is left out, named; the tracks bridge it
    shutil.move(frames / "f1.png", frames / "f2.png")
    iio.imwrite(frames / "f1.png", np.full_like(iio.imread(frames / "f0.png"), 128))
    with pytest.warns(UserWarning, match=r"nobody found in 1 of 3 images \(e.g. no person "
                      r"found in \S*f1.png"):  # fmt: skip
        _, est, frame_of, _, _, landmarks, _ = read_photo_inputs(frames, model, video=True)
    assert list(frame_of) == [0, 0, 2, 2]
    for f in (0, 2):
        rows = np.nonzero(frame_of == f)[0]
        by_x = rows[np.argsort(landmarks[rows, :, 0].mean(1))]
        assert list(est.track_id[by_x]) == [0, 1]


def test_an_interrupted_journal_keeps_its_whole_lines(tmp_path):
    from jaxrefine.evaluate_real_cli import read_journal
    from jaxrefine.inputs import InputError

    path = tmp_path / "r.json.partial.jsonl"
    settings = {"run": "x", "tiles": [1.0]}
    done = {"photo": "a.jpg", "people": 1}
    path.write_text(json.dumps(settings) + "\n" + json.dumps(done) + '\n{"photo": "b.j')
    assert read_journal(path, settings) == {"a.jpg": done}  # b's cut line: b runs again
    assert read_journal(tmp_path / "none.jsonl", settings) == {}
    with pytest.raises(InputError, match=r"other settings \(tiles\)"):
        read_journal(path, {**settings, "tiles": [1.0, 0.6]})


@pytest.mark.slow
def test_eval_real_fits_the_model_given(coco_files, tiny_checkpoint, tmp_path, monkeypatch,
                                        open_model_file):  # fmt: skip
    """``eval-real --model FILE`` with a model file without a UV layout (as SMPL's are): the
    initial fits, the sparse row's SMPLify and the learned rows' refine (run for real, with
    per-vertex colours) all get that model, and the JSON names it."""
    import importlib
    import shutil

    from jaxrefine import photo, refine
    from jaxrefine.body_model import OPEN_MODEL_ID

    smplify = importlib.import_module("jaxrefine.smplify")  # the module (the package exports
    # a function of that name)
    open_model_file(tmp_path / "mine.npz", uv=False, model_id="my-open-copy")
    image, doc = coco_files
    (tmp_path / "imgs").mkdir()
    shutil.copy(image, tmp_path / "imgs" / Path(image).name)
    (tmp_path / "ann.json").write_text(json.dumps(doc))
    (ann,) = doc["annotations"]
    (tmp_path / "res.json").write_text(
        json.dumps([_result(doc["images"][0]["id"], ann["keypoints"], 0.95)])
    )
    seen = {"initial": [], "smplify": [], "refine": []}

    def spy(name, fn):
        def wrapped(model, *a, **k):
            seen[name].append(model.model_id)
            return fn(model, *a, **k)

        return wrapped

    monkeypatch.setattr(photo, "keypoint_frame_people", spy("initial", photo.keypoint_frame_people))
    monkeypatch.setattr(smplify, "smplify", spy("smplify", smplify.smplify))
    monkeypatch.setattr(refine, "refine", spy("refine", refine.refine))
    args = ["eval-real", "--coco", str(tmp_path / "ann.json"), "--coco-images",
            str(tmp_path / "imgs"), "--checkpoint", str(tiny_checkpoint), *FAST, "--keypoints",
            str(tmp_path / "res.json"), "--json", str(tmp_path / "r.json")]  # fmt: skip
    with pytest.warns(UserWarning, match="trained on renderings of the body model "
                      f"'{OPEN_MODEL_ID}', this run refines 'my-open-copy'"):  # fmt: skip
        assert cli_main([*args, "--model", str(tmp_path / "mine.npz")]) == 0
    assert len(seen["initial"]) == 1 and len(seen["refine"]) == 2  # both learned rows
    assert len(seen["smplify"]) == 3  # the sparse row's and refine's (it fits with SMPLify)
    assert {m for ids in seen.values() for m in ids} == {"my-open-copy"}
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["model_id"] == "my-open-copy" and r["network_body_model"] == OPEN_MODEL_ID
    rows = r["coco"]["results"][0]["rows"]
    assert np.isfinite(rows["learned_dense"]["silhouette_iou"])


def test_a_detected_person_with_too_few_landmarks_is_left_out(coco_photo, monkeypatch):
    """A detection whose landmarks have fewer than 4 usable points (a stray one, as a very low
    ``--min-person-score`` finds) is left out with a warning naming the photo, and the photo's
    other people go on; with none left the photo has no person. (It used to end the whole run
    with "only 1 usable landmarks; need at least 4", naming no photo.)"""
    from jaxrefine import detect, photo
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model()
    real = detect.detect_people(coco_photo)[0]
    stray = dataclasses.replace(real, landmarks2d=real.landmarks2d * np.float32([1, 1, 0]))
    monkeypatch.setattr(detect, "detect_people", lambda *a, **k: [real, stray])
    said = rf"{re.escape(str(coco_photo))}: person 1 \(detector score \d\.\d\d\) left out: only 0"
    with pytest.warns(UserWarning, match=said):
        got = photo.estimates_from_photo(model, coco_photo)
    assert len(got.estimates.betas) == 1 and got.landmarks.shape[0] == got.masks.shape[0] == 1
    np.testing.assert_array_equal(got.landmarks[0], real.landmarks2d.astype(np.float32))
    monkeypatch.setattr(detect, "detect_people", lambda *a, **k: [stray])
    with pytest.warns(UserWarning, match=said.replace("person 1", "person 0")):
        with pytest.raises(detect.NoPersonError, match=f"no person in {re.escape(str(coco_photo))}"
                           r" has 4 usable landmarks \(found 1\)"):  # fmt: skip
            photo.estimates_from_photo(model, coco_photo)
