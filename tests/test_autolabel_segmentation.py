"""Automated data labeling for semantic segmentation: the mean-IoU rule (BACKGROUND excluded), the built-in
segmenter, the ARN mapping, a refused ONNX model, and the loop end to end on small synthetic shapes (the real
create-job API, annotators answering the true masks through the real queue, the real background runner)."""

from __future__ import annotations

import base64
import io
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from gtcore.autolabel import bounds, models, opening, rules
from gtcore.autolabel import segmenter as seg
from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.colors import semseg_colors
from gtcore.core.errors import SpecError, TaskError
from gtcore.jobs import api as jobs
from gtcore.output.mask_png import decode_color_png
from gtcore.queue import api as queue
from gtcore.queue.answer_checks import validate_answer
from gtcore.work import runner
from tests import onnx_makers as mk
from tests.fixtures import simulate
from tests.fixtures.autolabel import AutoWorld
from tests.test_segmentation import answer

SYSTEM = Actor.system_actor()
LABELS = ["disc", "block"]
W, H = 64, 48
ARN = "arn:aws:sagemaker:us-east-1:027400017018:labeling-job-algorithm-specification/"


def scene(rng: random.Random) -> tuple[Image.Image, np.ndarray]:
    """A 64x48 image: 1-2 shapes (a red disc = class 1, a blue block = class 2) on a noisy light background."""
    img = Image.new("RGB", (W, H), tuple(rng.randint(195, 240) for _ in range(3)))
    mask = Image.new("L", (W, H), 0)
    draw, paint = ImageDraw.Draw(img), ImageDraw.Draw(mask)
    for k in rng.sample([1, 2], rng.randint(1, 2)):
        w, h = rng.randint(12, 26), rng.randint(10, 20)
        x, y = rng.randint(0, W - w - 1), rng.randint(0, H - h - 1)
        if k == 1:
            draw.ellipse((x, y, x + w, y + h), fill=(rng.randint(170, 230), rng.randint(20, 70), rng.randint(20, 70)))
            paint.ellipse((x, y, x + w, y + h), fill=1)
        else:
            draw.rectangle((x, y, x + w, y + h), fill=(rng.randint(20, 70), rng.randint(40, 90), rng.randint(160, 220)))
            paint.rectangle((x, y, x + w, y + h), fill=2)
    noise = np.random.default_rng(rng.randint(0, 10**6)).integers(-14, 15, (H, W, 3))
    pixels = np.clip(np.asarray(img, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB"), np.asarray(mask, dtype=np.uint8)


class _Truth:
    def __init__(self, mask: np.ndarray) -> None:
        self.mask = mask

    def classes(self, n_classes: int) -> np.ndarray:
        return self.mask


# --------------------------------------------------------------------------- the rule and the learner


def test_mask_score_leaves_background_out() -> None:
    truth = np.zeros((10, 10), np.uint8)
    truth[0:4, 0:5] = 1  # 20 px of class 1
    pred = truth.copy()
    pred[0:4, 4] = 0  # 16 of 20 px found
    assert seg.mask_score(pred, truth) == pytest.approx(16 / 20)  # BACKGROUND's (high) IoU is not averaged in
    pred2 = pred.copy()
    pred2[8:10, 8:10] = 2  # a class only the prediction has counts 0
    assert seg.mask_score(pred2, truth) == pytest.approx((16 / 20 + 0) / 2)
    empty = np.zeros((10, 10), np.uint8)
    assert seg.mask_score(empty, empty) == 1.0  # neither has a class: right if the prediction is all background
    assert seg.mask_score(pred, empty) == 0.0
    assert seg.mask_score(np.ones((5, 5), np.uint8), np.ones((10, 10), np.uint8)) == 1.0  # resized to the truth


def test_threshold_on_a_known_validation_set_meets_mean_iou_0_7() -> None:
    assert rules.target_for("SemanticSegmentation") == ("mean-iou", 0.7)
    truth = np.zeros((20, 20), np.uint8)
    truth[5:15, 5:15] = 1
    truth[5, 5:8] = 0  # 97 px
    confs, scores = [], []
    for i in range(40):  # confidence i/40; the prediction covers (40 + 1.5 i) % of the square
        pred = np.zeros_like(truth)
        rows = max(1, round(10 * min(1.0, 0.4 + 0.015 * i)))
        pred[5 : 5 + rows, 5:15] = 1
        confs.append(i / 40)
        scores.append(seg.mask_score(pred, truth))
    th = rules.choose_threshold(confs, scores, rules.target_for("SemanticSegmentation")[1], metric="mean-iou")
    assert th.value is not None and th.bound is not None and th.bound >= 0.7  # the lower bound, not the mean
    above = [s for c, s in zip(confs, scores, strict=True) if c >= th.value]
    assert np.mean(above) >= 0.7 and th.metric == pytest.approx(np.mean(above)) and th.covered == len(above)
    assert bounds.mean_lower_bound([s for c, s in zip(confs, scores, strict=True) if c >= 0]) < 0.7  # all: too low


def test_segmenter_learns_shapes_and_round_trips_without_pickle() -> None:
    rng = random.Random(3)
    data = [scene(rng) for _ in range(70)]
    images = {f"i{k}": im for k, (im, _m) in enumerate(data)}
    model = seg.train([(f"i{k}", _Truth(data[k][1])) for k in range(30)], lambda u: (images[u], 1.0), 3)  # type: ignore[misc]
    back = seg.SegModel.from_bytes(model.to_bytes())
    assert back.linear.meta["features"] == seg.FEATURES_VERSION and back.n_classes == 3
    assert back.linear.meta["images"] == 30
    scores, confs = [], []
    for k in range(30, 70):
        pred, conf = back.predict(images[f"i{k}"], (W, H))
        assert pred.full().shape == (H, W) and 0.0 <= conf <= 1.0
        scores.append(seg.mask_score(pred.full(), data[k][1]))
        confs.append(conf)
    assert np.mean(scores) >= 0.8
    big = Image.new("RGB", (640, 480), (220, 220, 220))
    pred, _ = back.predict(big.resize((160, 120)), (640, 480))  # a reduced image: the mask has the original's size
    assert pred.full().shape == (480, 640) and max(pred.shape) <= seg.WORK_SIDE
    assert seg.within_limit((1920, 1080)) and seg.within_limit((1080, 1920)) and not seg.within_limit((1921, 1080))


def test_algorithm_arn_maps_semantic_segmentation() -> None:
    assert rules.task_type_of_algorithm(ARN + "semantic-segmentation") == "SemanticSegmentation"
    assert "SemanticSegmentation" in rules.TASK_TYPES
    assert rules.task_type_of_algorithm(ARN + "text-classification") == "TextClassification"


def test_an_onnx_model_is_refused_for_semantic_segmentation(ctx: Context, tmp_path: Path) -> None:
    path = tmp_path / "team.onnx"
    path.write_bytes(mk.mean_colour_classifier(np.eye(3) * 10))
    with pytest.raises(models.ModelError, match=r"LabelingJobAlgorithmsConfig\.InitialActiveLearningModelArn"):
        opening.open_learner(ctx, "SemanticSegmentation", 2, str(path))


def test_simulated_annotators_paint_the_true_mask(tmp_path: Path) -> None:
    _img, mask = scene(random.Random(5))
    Image.fromarray(mask, "L").save(tmp_path / "m.png")
    body = simulate.answer_for({"mask": str(tmp_path / "m.png")}, LABELS, 0.0, random.Random(0), (W, H))
    clean = validate_answer("SemanticSegmentation", LABELS, body)
    colors = semseg_colors(LABELS)
    data = base64.b64decode(clean["crowd-semantic-segmentation"]["labeledImage"]["pngImageData"])
    assert np.array_equal(decode_color_png(data, colors, (W, H)), mask)
    wrong = simulate.answer_for({"mask": str(tmp_path / "m.png")}, LABELS, 1.0, random.Random(0), (W, H))
    data = base64.b64decode(wrong["crowd-semantic-segmentation"]["labeledImage"]["pngImageData"])
    assert np.array_equal(decode_color_png(data, colors, (W, H))[4:, 4:], mask[:-4, :-4])  # shifted by 4 px


# --------------------------------------------------------------------------- end to end


def _dataset(root: Path, count: int) -> dict[str, np.ndarray]:
    folder = root / "shapes"
    folder.mkdir(exist_ok=True)
    rng = random.Random(11)
    truth = {}
    for k in range(count):
        img, mask = scene(rng)
        img.save(folder / f"shape-{k:04d}.png")
        truth[f"shape-{k:04d}.png"] = mask
    return truth


def _request(w: AutoWorld, name: str, count: int, **top: Any) -> dict[str, Any]:
    folder = w.root / "shapes"
    manifest = w.root / f"{name}.manifest"
    manifest.write_text("".join(json.dumps({"source-ref": str(p)}) + "\n" for p in sorted(folder.glob("*.png"))))
    labels = w.root / f"{name}-labels.json"
    labels.write_text(json.dumps({"document-version": "2018-11-28", "labels": [{"label": x} for x in LABELS]}))
    fn = "arn:aws:lambda:us-east-1:432418664414:function:"
    req = {
        "LabelingJobName": name,
        "LabelAttributeName": f"{name}-ref",
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": str(manifest)}}},
        "OutputConfig": {"S3OutputPath": str(w.root / "output")},
        "RoleArn": "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole",
        "LabelCategoryConfigS3Uri": str(labels),
        "HumanTaskConfig": {
            "WorkteamArn": f"arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/{w.team}",
            "PreHumanTaskLambdaArn": fn + "PRE-SemanticSegmentation",
            "TaskTitle": "Shapes",
            "TaskDescription": "Paint the discs and the blocks",
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 300,
            "TaskAvailabilityLifetimeInSeconds": 864000,
            "MaxConcurrentTaskCount": 30,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": fn + "ACS-SemanticSegmentation"},
        },
        "LabelingJobAlgorithmsConfig": {"LabelingJobAlgorithmSpecificationArn": ARN + "semantic-segmentation"},
    }
    req.update(top)
    return req


def _run(w: AutoWorld, job_id: int, name: str, truth: dict[str, np.ndarray]) -> str:
    for _ in range(100):
        answered = 0
        idle: set[str] = set()
        while len(idle) < len(w.workers):
            for wk in w.workers:
                try:
                    task = None if wk.email in idle else queue.claim_next(w.ctx, wk, job_id)
                except TaskError:  # the job ended
                    idle = {x.email for x in w.workers}
                    break
                if task is None:
                    idle.add(wk.email)
                    continue
                mask = truth[Path(str(task.source_ref)).name]
                queue.submit(w.ctx, wk, task.assignment_id, answer(mask, LABELS))
                answered += 1
        ran = runner.run_until_idle(w.ctx, max_seconds=300)
        status = str(jobs.describe_labeling_job(w.ctx, SYSTEM, name)["LabelingJobStatus"])
        if status in ("Completed", "Stopped", "Failed") or (answered == 0 and ran == 0):
            return status
    return "InProgress"


def test_segmentation_loop_end_to_end(any_auto_world: AutoWorld) -> None:
    w = any_auto_world
    count = 200  # 40 validation objects: a threshold rests on at least 30
    truth = _dataset(w.root, count)
    name = "shapes-auto"
    job = jobs.create_labeling_job(w.ctx, SYSTEM, _request(w, name, count)).job_id
    assert _run(w, job, name, truth) == "Completed"
    d = jobs.describe_labeling_job(w.ctx, SYSTEM, name)
    counters = d["LabelCounters"]
    assert counters["MachineLabeled"] > 0 and counters["HumanLabeled"] + counters["MachineLabeled"] == count
    lines = [json.loads(x) for x in w.ctx.storage.read_text(d["LabelingJobOutput"]["OutputDatasetS3Uri"]).splitlines()]
    attr = f"{name}-ref"
    human = [x for x in lines if x[f"{attr}-metadata"]["human-annotated"] == "yes"]
    machine = [x for x in lines if x[f"{attr}-metadata"]["human-annotated"] == "no"]
    assert len(machine) == counters["MachineLabeled"] and len(lines) == count
    colors = semseg_colors(LABELS)
    palette = [v for c in colors for v in (int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16))]
    ious = []
    for x in machine:
        assert list(x) == list(human[0])  # source-ref, <attr>, <attr>-metadata
        meta, hmeta = x[f"{attr}-metadata"], human[0][f"{attr}-metadata"]
        assert list(meta) == list(hmeta)
        assert {k: v for k, v in meta.items() if k not in ("creation-date", "internal-color-map")} == {
            **{k: v for k, v in hmeta.items() if k not in ("creation-date", "internal-color-map")},
            "human-annotated": "no",
        }
        cmap = meta["internal-color-map"]
        conf = cmap["0"]["confidence"]
        assert 0 < conf <= 1 and conf == round(conf, 2)
        assert cmap == {k: {**v, "confidence": conf} for k, v in hmeta["internal-color-map"].items()}
        assert "/annotations/consolidated-annotation/output/" in x[attr]
        im = Image.open(io.BytesIO(w.ctx.storage.read_bytes(x[attr])))
        assert im.mode == "P" and im.size == (W, H) and im.getpalette()[: len(palette)] == palette
        ious.append(seg.mask_score(np.asarray(im), truth[Path(x["source-ref"]).name]))
    assert np.mean(ious) >= 0.7, ious
    folder = Path(d["LabelingJobOutput"]["OutputDatasetS3Uri"]).parents[2]
    n = min(int(p.name) for p in (folder / "training").iterdir() if (p / "model.npz").is_file())
    for rel in (f"training/{n}/train.manifest", f"training/{n}/model.npz", f"training/{n}/metrics.json",
                f"activelearning/{n}/validation/input.manifest",
                f"activelearning/{n}/validation/auto_annotator_output.txt",
                f"inference/{n}/input.manifest", f"inference/{n}/output.jsonl"):  # fmt: skip
        assert (folder / rel).is_file(), rel
    assert json.loads((folder / f"training/{n}/metrics.json").read_text())["metric"] == "mean-iou"
    auto = sorted(folder.glob("activelearning/*/auto-annotation/auto_annotator_output.txt"))
    first = next(t for t in (p.read_text() for p in auto) if t.strip()).splitlines()[0]
    token, rec = first.split(" ", 1)
    assert token.isdigit() and json.loads(rec)[f"{attr}-metadata"]["human-annotated"] == "no"
    # the final model is saved with its checksum and can start a later semantic-segmentation job
    final = d["LabelingJobOutput"]["FinalActiveLearningModelArn"]
    lr = opening.open_learner(w.ctx, "SemanticSegmentation", len(LABELS), final)
    assert isinstance(lr.model, seg.SegModel) and lr.source.startswith("saved model")
    algo = {"LabelingJobAlgorithmSpecificationArn": ARN + "semantic-segmentation"}
    onnx = {**algo, "InitialActiveLearningModelArn": str(w.root / "x.onnx")}
    with pytest.raises(SpecError, match="not a saved semantic-segmentation model") as e:
        jobs.create_labeling_job(w.ctx, SYSTEM, _request(w, "shapes-onnx", count, LabelingJobAlgorithmsConfig=onnx))
    assert any(p.field == "LabelingJobAlgorithmsConfig.InitialActiveLearningModelArn" for p in e.value.problems)
    again = {**algo, "InitialActiveLearningModelArn": final}
    later = jobs.create_labeling_job(
        w.ctx, SYSTEM, _request(w, "shapes-again", count, LabelingJobAlgorithmsConfig=again)
    )
    assert later.job_id != job


def test_segmenter_training_reads_a_bounded_number_of_masks(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(8)
    data = [scene(rng) for _ in range(12)]
    read: list[str] = []

    def load(uri: str) -> tuple[Image.Image, float]:
        read.append(uri)
        return data[int(uri) % 12][0], 1.0

    monkeypatch.setattr(seg, "MAX_TRAIN_PIXELS", 640)  # at most 10 masks of 64 pixels
    model = seg.train([(str(k), _Truth(data[k % 12][1])) for k in range(40)], load, 3)  # type: ignore[misc]
    assert len(read) == len(set(read)) == 10 and model.linear.meta["images"] == 10
    assert len(model.linear.classes) == 3
