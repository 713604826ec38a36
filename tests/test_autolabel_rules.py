"""Automated data labeling's fixed rules and its built-in learners, as pure code (no database)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

from gtcore.autolabel import classifier, detector, rules
from gtcore.autolabel import features as feats


def test_probe_batch_and_its_failure_rule() -> None:
    assert rules.PROBE_SIZE == 10
    assert not rules.probe_failed(1, 10)  # 10 % fails nothing
    assert rules.probe_failed(2, 10)  # more than 10 % fails the job
    assert not rules.probe_failed(0, 0)


@pytest.mark.parametrize(
    ("total", "size"), [(1250, 250), (1797, 360), (4999, 1000), (5000, 500), (20000, 2000), (100, 20)]
)
def test_validation_set_is_20_percent_under_5000_else_10(total: int, size: int) -> None:
    assert rules.validation_size(total) == size


def test_training_batch_and_next_batches() -> None:
    assert rules.training_batch_size(1000) == 990  # MaxConcurrentTaskCount - the probe
    assert rules.training_batch_size(5) == 1
    assert rules.next_batch_size(1000, 300, None) == 300
    assert rules.next_batch_size(100, 300, None) == 100
    assert rules.next_batch_size(100, 300, 40) == 40  # MaxHumanLabeledObjectCount budget
    assert rules.human_budget(50, 60) == 0 and rules.human_budget(None, 5) is None
    assert rules.labeled_budget(50, 1000, 400) == 100 and rules.labeled_budget(None, 10, 0) is None


def test_threshold_reaches_the_classification_target_on_a_known_set() -> None:
    # 100 validation objects: confidence i/100; the model is right on every object above 0.3 except one in 25
    conf = [i / 100 for i in range(100)]
    right = [1.0 if (c > 0.3 and i % 25) else (1.0 if i % 2 else 0.0) for i, c in enumerate(conf)]
    th = rules.choose_threshold(conf, right, 0.95)
    assert th.value is not None
    above = [r for c, r in zip(conf, right, strict=True) if c >= th.value]
    assert np.mean(above) >= 0.95 and th.metric == pytest.approx(np.mean(above))
    assert len(above) == th.covered
    # the lowest such threshold: one step lower misses the target
    lower = [r for c, r in zip(conf, right, strict=True) if c >= th.value - 0.01]
    assert np.mean(lower) < 0.95


def test_threshold_for_boxes_uses_mean_iou_and_none_when_unreachable() -> None:
    assert rules.target_for("BoundingBox") == ("mean-iou", 0.6)
    assert rules.target_for("ImageClassification") == ("accuracy", 0.95)
    th = rules.choose_threshold([0.9] * 20 + [0.1] * 20, [0.7] * 20 + [0.0] * 20, 0.6)
    assert th.value == 0.9 and th.covered == 20
    assert rules.choose_threshold([0.5] * 30, [0.4] * 30, 0.6).value is None
    assert rules.choose_threshold([0.99] * 5, [1.0] * 5, 0.95).value is None  # too few to trust


def test_ties_at_the_threshold_go_in_or_out_together() -> None:
    th = rules.choose_threshold([0.8] * 20 + [0.7] * 10, [1.0] * 20 + [1.0] * 5 + [0.0] * 5, 0.95)
    assert th.value == 0.8 and th.covered == 20


def test_most_uncertain_first_unscored_first() -> None:
    picks = rules.most_uncertain([(1, 0.9), (2, None), (3, 0.2), (4, 0.5), (5, None)], 3)
    assert picks == [2, 5, 3]


def test_algorithm_arns_map_to_task_types() -> None:
    base = "arn:aws:sagemaker:us-east-1:027400017018:labeling-job-algorithm-specification/"
    assert rules.task_type_of_algorithm(base + "image-classification") == "ImageClassification"
    assert rules.task_type_of_algorithm(base + "object-detection") == "BoundingBox"
    assert rules.task_type_of_algorithm(base + "text-classification") == "TextClassification"


def test_linear_model_round_trips_without_pickle() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 1)
    m = classifier.fit(x, y, 4)
    back = classifier.LinearModel.from_bytes(m.to_bytes())
    assert np.allclose(back.scores(x), m.scores(x))
    assert back.scores(x).shape == (60, 4)
    with pytest.raises(classifier.TrainingError):
        classifier.fit(x, np.zeros(60, int), 3)


def test_features_have_a_fixed_size() -> None:
    for size in ((5, 3), (64, 64), (640, 480)):
        v = feats.describe(Image.new("RGB", size, (10, 200, 30)))
        assert v.shape == (feats.FEATURE_SIZE,) and v.dtype == np.float32


def _scene(rng: random.Random) -> tuple[Image.Image, list[detector.Labeled]]:
    img = Image.new("RGB", (96, 96), (230, 230, 230))
    truth = []
    for label, (x, y) in enumerate([(8, 8), (56, 50)][: rng.randint(1, 2)]):
        w, h = rng.randint(18, 26), rng.randint(18, 26)
        colour = (20, 20, 20) if label == 0 else (200, 30, 30)
        if label == 0:
            img.paste(colour, (x, y, x + w, y + h))
        else:
            for k in range(h):
                img.paste(colour, (x + k * w // (2 * h), y + k, x + w - k * w // (2 * h), y + k + 1))
        truth.append(detector.Labeled(label, (float(x), float(y), float(w), float(h))))
    return img, truth


def test_box_detector_learns_two_shapes_and_scores_iou() -> None:
    rng = random.Random(3)
    scenes = [_scene(rng) for _ in range(60)]
    xs, ys, rx, rt = [], [], [], []
    for img, truth in scenes[:40]:
        a, b, c, d = detector.training_samples(img, truth, 2)
        xs, ys, rx, rt = xs + a, ys + b, rx + c, rt + d
    model = detector.BoxModel.from_bytes(detector.fit(xs, ys, rx, rt, 2).to_bytes())
    scores = [detector.image_score(model.detect(img)[0], truth) for img, truth in scenes[40:]]
    assert np.mean(scores) >= 0.6


def test_image_score_counts_missed_and_extra_boxes() -> None:
    t = [detector.Labeled(0, (0, 0, 10, 10)), detector.Labeled(1, (20, 20, 10, 10))]
    assert detector.image_score(t, t) == 1.0
    assert detector.image_score(t[:1], t) == 0.5  # one missed
    assert detector.image_score([detector.Labeled(1, (0, 0, 10, 10))], t[:1]) == 0.0  # wrong label
    assert detector.image_score([], []) == 1.0
