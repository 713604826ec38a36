"""Automated data labeling's fixed rules and its built-in learners, as pure code (no database)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

from gtcore.autolabel import bounds, classifier, detector, rules
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


def _calibrated(rng: np.random.Generator, n: int, a: float) -> tuple[np.ndarray, np.ndarray]:
    """``n`` objects whose confidence is exactly the chance that the machine label is right (Beta(a, 1), at
    least 1/3 as a 3-class argmax would give)."""
    conf = np.clip(rng.beta(a, 1.0, n), 1 / 3, 1.0)
    return conf, (rng.random(n) < conf).astype(float)


@pytest.mark.parametrize(("a", "n"), [(8.0, 360), (3.0, 1000), (20.0, 200)])
def test_machine_labels_meet_the_target_in_95_percent_of_validation_draws(a: float, n: int) -> None:
    """On a known-calibrated score distribution the accuracy of every object at or above a threshold ``t`` is
    E[c | c >= t] (computed on a large pool of the same distribution); 200 validation sets are drawn, and the
    machine labels of at least 95 % of them must meet 0.95. A threshold chosen on the point estimate does not."""
    rng = np.random.default_rng(11)
    pool = np.sort(np.clip(rng.beta(a, 1.0, 400_000), 1 / 3, 1.0))
    tail = np.cumsum(pool[::-1])[::-1] / np.arange(len(pool), 0, -1)  # mean confidence at or above each pool value

    def accuracy_at(t: float) -> float:
        return float(tail[np.searchsorted(pool, t, side="left")])

    met = labeled = met_naive = 0
    for _ in range(200):
        conf, right = _calibrated(rng, n, a)
        th = rules.choose_threshold(conf, right, 0.95)
        met += th.value is None or accuracy_at(th.value) >= 0.95
        labeled += th.value is not None
        order = np.argsort(-conf)  # the point estimate: lowest t whose validation objects average 0.95
        means = np.cumsum(right[order]) / np.arange(1, n + 1)
        ok = np.nonzero((means >= 0.95) & (np.arange(1, n + 1) >= rules.MIN_CONFIDENT_VALIDATION))[0]
        met_naive += len(ok) == 0 or accuracy_at(conf[order][ok[-1]]) >= 0.95
    assert met >= 190, met
    assert labeled >= 100  # the bound is not so strict that it never labels anything
    if a == 8.0:
        assert met_naive < 170  # the old rule breaks the promise in about half the draws


def test_mean_iou_bound_meets_the_target_in_95_percent_of_validation_draws() -> None:
    """Boxes: an image's IoU is its confidence plus noise (mean IoU above t is known on a large pool)."""
    rng = np.random.default_rng(12)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        conf = rng.uniform(0.0, 1.0, n)
        return conf, np.clip(conf * 0.9 + rng.normal(0, 0.25, n), 0.0, 1.0)

    pc, ps = draw(400_000)
    order = np.argsort(pc)
    pc, ps = pc[order], ps[order]
    tail = np.cumsum(ps[::-1])[::-1] / np.arange(len(ps), 0, -1)
    met = labeled = 0
    for _ in range(200):
        conf, iou = draw(250)
        th = rules.choose_threshold(conf, iou, 0.6, metric="mean-iou")
        labeled += th.value is not None
        met += th.value is None or tail[np.searchsorted(pc, th.value)] >= 0.6
    assert met >= 190 and labeled >= 150, (met, labeled)


def test_the_bound_not_the_estimate_decides() -> None:
    assert bounds.accuracy_lower_bound(59, 59) == pytest.approx(0.05 ** (1 / 59))  # Clopper-Pearson, no error
    assert bounds.accuracy_lower_bound(59, 59) > 0.95 > bounds.accuracy_lower_bound(58, 58)
    assert bounds.accuracy_lower_bound(0, 10) == 0.0 and bounds.accuracy_upper_bound(10, 10) == 1.0
    assert bounds.accuracy_upper_bound(27, 30) > 0.95 > bounds.accuracy_upper_bound(24, 30)
    # 58 right of 58 is a point estimate of 1.0 but not proof of 0.95: no threshold
    th = rules.choose_threshold([0.9] * 58 + [0.1] * 60, [1.0] * 58 + [0.0] * 60, 0.95, min_count=10)
    assert th.value is None and th.metric == 1.0 and th.bound is not None and th.bound < 0.95
    th = rules.choose_threshold([0.9] * 59 + [0.1] * 60, [1.0] * 59 + [0.0] * 60, 0.95, min_count=10)
    assert th.value == 0.9 and th.covered == 59 and th.bound >= 0.95 and th.metric == 1.0
    lo = bounds.mean_lower_bound([0.7] * 40 + [0.5] * 10)
    assert lo < 0.66 < bounds.mean_upper_bound([0.7] * 40 + [0.5] * 10) and lo > 0.62


def test_objects_at_the_threshold_are_machine_labeled_and_count() -> None:
    """``>=``, not ``>``: the validation objects AT the threshold are counted, as their pool twins are labeled."""
    conf = [0.9] * 30 + [0.8] * 60 + [0.1] * 30
    right = [1.0] * 90 + [0.0] * 30
    th = rules.choose_threshold(conf, right, 0.95)
    assert th.value == 0.8 and th.covered == 90  # 30 at 0.9 alone do not pass; with the 60 AT 0.8 they do
    assert rules.choose_threshold([0.8] * 100, [1.0] * 100, 0.95).value == 0.8  # one tie group at the threshold


def test_an_object_at_the_threshold_is_machine_labeled() -> None:
    assert rules.machine_labels(0.8, 0.8) and rules.machine_labels(0.81, 0.8)
    assert not rules.machine_labels(0.7999, 0.8) and not rules.machine_labels(1.0, None)
    # the round's check counts its fresh objects AT the threshold too
    val = ([0.8] * 100, [1.0] * 100)
    th = rules.choose_threshold(*val, 0.95)
    assert rules.check_round(th, val, ([0.8] * 40, [0.0] * 40), 0.95).checked == 40


def test_ties_at_the_threshold_go_in_or_out_together() -> None:
    th = rules.choose_threshold([0.8] * 70 + [0.7] * 30, [1.0] * 70 + [1.0] * 5 + [0.0] * 25, 0.95)
    assert th.value == 0.8 and th.covered == 70


def test_a_threshold_needs_the_minimum_number_of_validation_objects() -> None:
    assert rules.MIN_CONFIDENT_VALIDATION == 30
    # a perfect model on 29 validation objects: too few to trust, whatever the bound; 30 at IoU 1.0 pass
    assert rules.choose_threshold([0.9] * 29, [1.0] * 29, 0.6, metric="mean-iou").value is None
    assert rules.choose_threshold([0.9] * 30, [1.0] * 30, 0.6, metric="mean-iou").value == 0.9
    assert rules.candidate_sizes(100) == [30, 36, 42, 50, 60, 71, 85, 100] and rules.candidate_sizes(29) == []
    assert rules.candidate_sizes(30) == [30] and rules.candidate_sizes(101)[-2:] == [85, 101]  # n on the grid: once


def test_the_whole_validation_set_is_a_candidate() -> None:
    """280 validation objects, all right but one: the grid's largest size below 280 is 240, so without the whole
    set as a candidate the threshold would leave the 40 least confident objects' pool twins to people."""
    conf = [1.0 - i / 1000 for i in range(280)]
    right = [1.0] * 279 + [0.0]
    th = rules.choose_threshold(conf, right, 0.95)
    assert th.covered == 280 and th.value == conf[-1]


def test_threshold_for_boxes_uses_mean_iou_and_none_when_unreachable() -> None:
    assert rules.target_for("BoundingBox") == ("mean-iou", 0.6)
    assert rules.target_for("ImageClassification") == ("accuracy", 0.95)
    th = rules.choose_threshold([0.9] * 40 + [0.1] * 40, [0.7] * 40 + [0.0] * 40, 0.6, metric="mean-iou")
    assert th.value == 0.9 and th.covered == 40 and th.bound == pytest.approx(0.7)
    assert rules.choose_threshold([0.5] * 60, [0.4] * 60, 0.6, metric="mean-iou").value is None


def test_the_rounds_check_keeps_raises_or_stops_the_threshold() -> None:
    val = ([0.95] * 100 + [0.85] * 100 + [0.2] * 100, [1.0] * 200 + [0.0] * 100)
    th = rules.choose_threshold(*val, 0.95)
    assert th.value == 0.85
    # fresh labels of the remaining pool agree: the threshold stands, measured on the fresh ones at or above it
    ok = rules.check_round(th, val, ([0.9] * 20 + [0.3] * 20, [1.0] * 20 + [0.0] * 20), 0.95)
    assert (ok.threshold, ok.checked, ok.metric, ok.failed) == (0.85, 20, 1.0, False)
    # the pool is harder at 0.85-0.9 (half wrong): significantly below the target there, so the threshold rises
    hard = ([0.86] * 20 + [0.97] * 20, [1.0, 0.0] * 10 + [1.0] * 20)
    up = rules.check_round(th, val, hard, 0.95)
    assert up.failed and up.threshold is not None and up.threshold > 0.86 and up.metric == 0.75
    # wrong everywhere: machine labeling stops for the round
    bad = rules.check_round(th, val, ([0.99] * 20 + [0.9] * 20, [0.0] * 40), 0.95)
    assert bad.failed and bad.threshold is None
    # later rounds: few validation objects are still like the pool, too few to prove the target alone; the
    # round's fresh labels added to them can (and must agree), else nothing is machine-labeled
    few = ([0.95] * 40 + [0.3] * 20, [1.0] * 40 + [0.0] * 20)
    none = rules.choose_threshold(*few, 0.95)
    assert none.value is None
    joint = rules.check_round(none, few, ([0.96] * 40 + [0.4] * 40, [1.0] * 40 + [0.0] * 40), 0.95)
    assert (joint.threshold, joint.checked, joint.metric) == (0.95, 40, 1.0)
    assert joint.bound is not None and joint.bound >= 0.95 and joint.estimate == 1.0
    assert rules.check_round(none, few, ([0.96] * 40, [1.0, 0.0] * 20), 0.95).threshold is None
    assert rules.check_round(none, few, ([0.2] * 40, [0.0] * 40), 0.95).threshold is None


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


def test_the_form_the_checks_and_the_loop_read_one_source_of_numbers() -> None:
    from gtcore.core import autolabeling
    from gtcore.jobform.auto_labeling import algorithm_arn, auto_labeling_plan
    from gtcore.jobs import spec_sections

    assert rules.validation_size is autolabeling.validation_size and rules.check_size is autolabeling.check_size
    assert spec_sections.ALGORITHM_FAMILY is autolabeling.ALGORITHM_FAMILY
    plan = auto_labeling_plan(1797, 100)
    assert "a training batch of 90 and a validation set of 360 (20 %)" in plan
    assert "batches of 100 (80 the model is least sure of and 20 at random" in plan and "95% confidence" in plan
    assert "a validation set of 600 (10 %)" in auto_labeling_plan(6000, 100)
    for task in autolabeling.ALGORITHM_FAMILY:
        assert autolabeling.task_type_of_algorithm(algorithm_arn(task)) == task


def test_a_bound_exactly_at_the_target_sets_the_threshold() -> None:
    """The threshold rule's boundary: the lower bound must reach the target (``>=``), so a bound equal to it
    passes; a hair above it does not."""
    confs, right = [0.9] * 40, [1.0] * 40
    at = bounds.accuracy_lower_bound(40, 40)  # the bound the 40 right answers give
    th = rules.choose_threshold(confs, right, at)
    assert th.value == 0.9 and th.bound == at and th.covered == 40
    assert rules.choose_threshold(confs, right, at + 1e-9).value is None


def test_a_rounds_candidate_wins_by_coverage_then_by_bound() -> None:
    """Two heads each round: the one covering more validation objects at the bound labels; at equal coverage (most
    often none) the one whose most confident objects come nearer the target is reported and picks the next batch."""
    from gtcore.autolabel import training

    T = rules.Threshold
    passed, near, far = T(0.9, 0.97, 0.96, 50, 280), T(None, 0.9, 0.8, 0, 280), T(None, 0.7, 0.6, 0, 280)
    assert training._better(passed, near) and not training._better(near, passed)
    assert training._better(near, far) and not training._better(far, near)
    assert not training._better(near, near) and not training._better(T(None, None, None, 0, 0), far)
    assert training._better(T(0.5, 0.96, 0.95, 60, 280), passed)  # more covered beats a higher bound
