"""Consolidation algorithms: box matching/averaging, Dawid-Skene EM vs majority vote, multi-label."""

from __future__ import annotations

import random

import pytest

from gtcore.consolidation.classification import (
    CONFIDENCE_CAP,
    SINGLE_WORKER_CONFIDENCE,
    Box,
    consolidate_boxes,
    consolidate_multilabel,
    dawid_skene,
    iou,
    majority,
    majority_vote,
)

# --- boxes ------------------------------------------------------------------------------------------------


def test_iou_known_values() -> None:
    a = Box("cat", 0, 0, 10, 10)
    assert iou(a, a) == 1.0
    assert iou(a, Box("cat", 5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou(a, Box("cat", 10, 0, 10, 10)) == 0.0  # touching edges
    assert iou(a, Box("cat", 20, 20, 5, 5)) == 0.0
    assert iou(a, Box("cat", 0, 0, 0, 10)) == 0.0  # no area


def test_majority_support() -> None:
    # issue 17: 2 workers need both (was 1 of 2); every other count unchanged
    assert [majority(n) for n in range(1, 10)] == [1, 2, 2, 2, 3, 3, 4, 4, 5]


def test_single_worker_boxes_unchanged_with_zero_confidence() -> None:
    boxes = [Box("cat", 10, 20, 30, 40), Box("dog", 1, 2, 3, 4)]
    out = consolidate_boxes([boxes])
    assert [(c.label, c.left, c.top, c.width, c.height) for c in out] == [
        ("cat", 10, 20, 30, 40),
        ("dog", 1, 2, 3, 4),
    ]
    assert all(type(c.left) is int and type(c.height) is int for c in out)
    assert [c.confidence for c in out] == [SINGLE_WORKER_CONFIDENCE] * 2
    assert SINGLE_WORKER_CONFIDENCE == 0


def test_two_workers_overlapping_boxes_are_averaged() -> None:
    w1 = [Box("cat", 100, 50, 200, 100)]
    w2 = [Box("cat", 110, 55, 200, 101)]
    (c,) = consolidate_boxes([w1, w2])
    assert (c.left, c.top, c.width, c.height) == (105, 52.5, 200, 100.5)
    assert type(c.left) is int and type(c.width) is int  # whole means are written as integers
    expected_iou = iou(w1[0], w2[0])
    assert 0.8 < expected_iou < 0.95
    assert c.confidence == round(expected_iou, 2)
    assert c.support == 2


def test_unrounded_float_mean_like_ground_truth() -> None:
    tops = [164, 165, 164.3, 165, 165]
    workers = [[Box("bird", 138, t, 443, 859)] for t in tops]
    (c,) = consolidate_boxes(workers)
    assert c.top == sum(tops) / 5  # no rounding
    assert c.height == 859 and type(c.height) is int
    assert c.support == 5


def test_classes_never_merge_and_order_is_first_appearance() -> None:
    w1 = [Box("dog", 300, 300, 50, 50), Box("cat", 0, 0, 100, 100)]
    w2 = [Box("cat", 2, 2, 100, 100), Box("dog", 301, 301, 50, 50)]
    w3 = [Box("dog", 0, 0, 100, 100)]  # same place as the cats but another class
    out = consolidate_boxes([w1, w2, w3])
    assert [c.label for c in out] == ["dog", "cat"]
    assert [c.support for c in out] == [2, 2]
    assert out[1].left == 1 and out[1].top == 1


def test_at_most_one_box_per_worker_per_cluster() -> None:
    # worker 1 drew the same object twice; worker 2 once. The best-matching copy joins worker 2's box.
    w1 = [Box("cat", 0, 0, 100, 100), Box("cat", 3, 3, 100, 100)]
    w2 = [Box("cat", 4, 4, 100, 100)]
    (pair,) = consolidate_boxes([w1, w2])  # 2 workers need both (issue 17): the spare copy is dropped
    assert pair.support == 2 and (pair.left, pair.top) == (3.5, 3.5)
    out = consolidate_boxes([w1, w2], min_support=1)  # the old rule: the spare copy survives alone
    assert len(out) == 2
    assert sorted(c.support for c in out) == [1, 2]
    pair = next(c for c in out if c.support == 2)
    assert (pair.left, pair.top) == (3.5, 3.5)
    lone = next(c for c in out if c.support == 1)
    assert (lone.left, lone.top) == (0, 0)
    assert lone.confidence == round(1 / 2 * 0.5, 2)  # support 1/2 x the IoU threshold


def test_minority_boxes_are_dropped() -> None:
    common = [Box("cat", 10, 10, 100, 100)]
    w1 = common + [Box("cat", 400, 400, 20, 20)]  # only worker 1 sees this one
    w2 = [Box("cat", 12, 9, 100, 100)]
    w3 = [Box("cat", 9, 12, 98, 100)]
    out = consolidate_boxes([w1, w2, w3])
    assert len(out) == 1 and out[0].support == 3
    assert out[0].left == pytest.approx((10 + 12 + 9) / 3)
    assert 0.9 <= out[0].confidence <= 1.0
    # with an explicit minimum support of 1 the lone box stays, with a low confidence
    out1 = consolidate_boxes([w1, w2, w3], min_support=1)
    assert len(out1) == 2 and out1[1].confidence == round(1 / 3 * 0.5, 2)


def test_low_overlap_is_not_matched() -> None:
    w1 = [Box("cat", 0, 0, 100, 100)]
    w2 = [Box("cat", 60, 0, 100, 100)]  # IoU 40/160 = 0.25 < 0.5
    assert consolidate_boxes([w1, w2]) == []  # 2 workers who disagree: no box either drew alone (issue 17)
    out = consolidate_boxes([w1, w2], min_support=1)
    assert len(out) == 2 and all(c.support == 1 for c in out)


def test_confidence_spreads_with_support_and_overlap() -> None:
    five_agree = [[Box("b", 100 + k, 100, 200, 200)] for k in range(5)]
    three_agree = [[Box("b", 100 + k, 100, 200, 200)] for k in range(3)] + [[], []]
    c5 = consolidate_boxes(five_agree)[0].confidence
    c3 = consolidate_boxes(three_agree)[0].confidence
    assert 0.9 < c5 <= 1.0
    assert c3 == pytest.approx(round(3 / 5 * c5, 2), abs=0.011)
    assert c3 < c5


def test_empty_answers() -> None:
    assert consolidate_boxes([]) == []
    assert consolidate_boxes([[], []]) == []


def test_box_result_does_not_depend_on_worker_order_for_clear_matches() -> None:
    w = [[Box("cat", 10 + k, 10, 100, 100), Box("dog", 500, 500 + k, 40, 40)] for k in range(3)]
    a = consolidate_boxes(w)
    b = consolidate_boxes(list(reversed(w)))
    key = sorted((c.label, c.left, c.top, c.confidence) for c in a)
    assert key == sorted((c.label, c.left, c.top, c.confidence) for c in b)


# --- single-label ---------------------------------------------------------------------------------------


def test_majority_vote_ties_go_to_lowest_class_index() -> None:
    res = majority_vote([[("a", 2), ("b", 1)], [("a", 0), ("b", 2), ("c", 2)]], 3)
    assert res[0].label == 1 and res[0].confidence == 0.5
    assert res[1].label == 2 and res[1].confidence == round(2 / 3, 2)


def test_em_symmetric_tie_is_deterministic() -> None:
    items = [[("w1", 1), ("w2", 0)]]
    for _ in range(3):
        (r,) = dawid_skene(items, 3)
        assert r.label == 0
        # issue 17 changed the EM on purpose: two one-answer workers leave the third class some posterior mass,
        # so the tie's confidence is a little under the old 0.5; both named classes stay exactly tied
        assert r.posterior[0] == r.posterior[1] > r.posterior[2]
        assert 0.4 <= r.confidence <= 0.5


def test_em_single_answer_items_get_that_answer_and_single_worker_confidence() -> None:
    res = dawid_skene([[("w1", 2)], [("w1", 1), ("w2", 1)]], 3)
    assert res[0].label == 2 and res[0].confidence == SINGLE_WORKER_CONFIDENCE
    assert res[1].label == 1 and 0.5 < res[1].confidence <= CONFIDENCE_CAP


def test_em_confidence_is_rounded_and_capped() -> None:
    items = [[(f"w{k}", 1) for k in range(5)] for _ in range(50)]
    res = dawid_skene(items, 2)
    assert all(r.label == 1 and r.confidence == CONFIDENCE_CAP for r in res)
    for r in dawid_skene([[("a", 0), ("b", 0), ("c", 1)]] * 5 + [[("a", 1), ("b", 1), ("c", 1)]] * 5, 2):
        assert r.confidence == round(r.confidence, 2)
        assert 0 <= r.confidence <= CONFIDENCE_CAP


def test_em_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="no answers"):
        dawid_skene([[]], 2)
    with pytest.raises(ValueError, match="outside"):
        dawid_skene([[("a", 5), ("b", 0)]], 2)


def _simulate(seed: int, accuracies: dict[str, float], n_items: int, k: int, per_item: int) -> tuple:
    rng = random.Random(seed)
    truth = [rng.randrange(k) for _ in range(n_items)]
    items = []
    for t in truth:
        votes = []
        for w in rng.sample(sorted(accuracies), per_item):
            c = t if rng.random() < accuracies[w] else rng.choice([x for x in range(k) if x != t])
            votes.append((w, c))
        items.append(votes)
    return truth, items


def _accuracy(results: list, truth: list[int]) -> float:
    return sum(r.label == t for r, t in zip(results, truth, strict=True)) / len(truth)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_em_discounts_a_worker_who_is_always_wrong(seed: int) -> None:
    # 3 workers per item: two good ones and one who never gives the true class
    truth, items = _simulate(seed, {"good1": 0.8, "good2": 0.75, "bad": 0.0}, 600, 4, 3)
    mv = _accuracy(majority_vote(items, 4), truth)
    em = _accuracy(dawid_skene(items, 4), truth)
    assert em >= mv + 0.1  # MV loses 1-1-1 splits and 2-1 votes led by the bad worker; EM learns to distrust him
    # where the good workers disagree, MV often sides with the bad worker; EM rarely does
    res_em, res_mv = dawid_skene(items, 4), majority_vote(items, 4)
    split = [i for i, v in enumerate(items) if dict(v)["good1"] != dict(v)["good2"]]
    em_bad = sum(res_em[i].label == dict(items[i])["bad"] for i in split)
    mv_bad = sum(res_mv[i].label == dict(items[i])["bad"] for i in split)
    assert len(split) > 100
    assert em_bad * 4 < mv_bad


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_em_at_least_as_good_as_majority_vote_with_mixed_workers(seed: int) -> None:
    workers = {"a": 0.95, "b": 0.9, "c": 0.8, "d": 0.6, "e": 0.45, "f": 0.3, "g": 0.25}
    truth, items = _simulate(seed, workers, 1500, 3, 3)
    mv = _accuracy(majority_vote(items, 3), truth)
    em = _accuracy(dawid_skene(items, 3), truth)
    assert em >= mv


def test_em_conflicting_workers_resolved_by_reliability() -> None:
    # w1 and w2 agree with each other on 40 calibration items; w3 disagrees with both every time.
    items = [[("w1", 0), ("w2", 0), ("w3", 1)] for _ in range(20)]
    items += [[("w1", 1), ("w2", 1), ("w3", 0)] for _ in range(20)]
    # then an item where only w1 and w3 answered and they conflict: trust w1
    items.append([("w1", 1), ("w3", 0)])
    res = dawid_skene(items, 2)
    assert res[-1].label == 1
    assert res[-1].confidence > 0.5
    mv = majority_vote([items[-1]], 2)
    assert mv[0].label == 0  # majority vote only has the index tie-break


# --- multi-label ------------------------------------------------------------------------------------------


def test_multilabel_union_with_share_confidence() -> None:
    r = consolidate_multilabel([[1, 0], [1], [1, 8]])
    assert r.labels == [1, 0, 8]
    assert r.confidence == {1: CONFIDENCE_CAP, 0: 0.33, 8: 0.33}


def test_multilabel_single_worker_and_empty() -> None:
    r = consolidate_multilabel([[3, 2]])
    assert r.labels == [2, 3] and r.confidence == {2: SINGLE_WORKER_CONFIDENCE, 3: SINGLE_WORKER_CONFIDENCE}
    assert consolidate_multilabel([[], []]).labels == []
    assert consolidate_multilabel([]).labels == []


def test_multilabel_duplicate_choice_counts_once() -> None:
    r = consolidate_multilabel([[1, 1], [0]])
    assert r.confidence == {0: 0.5, 1: 0.5}
    assert r.labels == [0, 1]


# --- records (answers -> Ground Truth label pairs) ------------------------------------------------------------


def test_records_adjustment_finds_previous_attribute_on_the_line() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from gtcore.core import tasktypes
    from gtcore.output.records import (
        ObjectAnswers,
        RecordSpec,
        WorkerAnswer,
        build_records,
        creation_date,
        previous_box_attribute,
        same_boxes,
    )

    prev = {
        "image_size": [{"width": 10, "height": 10, "depth": 3}],
        "annotations": [{"class_id": 1, "top": 1, "left": 2, "height": 3, "width": 4}],
    }
    line = {
        "source-ref": "s3://b/x.jpg",
        "boxes": prev,
        "boxes-metadata": {"class-map": {"1": "dog"}, "type": "groundtruth/object-detection"},
        "verdict": 1,
        "verdict-metadata": {"type": "groundtruth/image-classification"},
    }
    assert previous_box_attribute(line, "boxes-adjusted") == "boxes"
    assert previous_box_attribute(line, "boxes") is None
    spec = RecordSpec(tasktypes.get("AdjustmentBoundingBox"), ["cat", "dog"], "boxes-adjusted", "Adj")
    same = {
        "boundingBox": {
            "boundingBoxes": [{"label": "dog", "left": 2.004, "top": 1, "width": 4, "height": 3}],
            "inputImageProperties": {"width": 10, "height": 10},
        }
    }
    out = build_records(spec, [ObjectAnswers(0, line, [WorkerAnswer("w1", same)])], clock=lambda: "T")
    assert out[0]["boxes-adjusted"] == prev
    assert out[0]["boxes-adjusted-metadata"] == {
        "objects": [{"confidence": 0}],
        "class-map": {"1": "dog"},
        "type": "groundtruth/object-detection",
        "human-annotated": "yes",
        "creation-date": "T",
        "job-name": "labeling-job/adj",
        "adjustment-status": "unadjusted",
    }
    relabelled = {"boundingBox": {"boundingBoxes": [{"label": "cat", "left": 2, "top": 1, "width": 4, "height": 3}]}}
    out = build_records(spec, [ObjectAnswers(0, line, [WorkerAnswer("w1", relabelled)])], clock=lambda: "T")
    assert out[0]["boxes-adjusted-metadata"]["adjustment-status"] == "adjusted"
    assert out[0]["boxes-adjusted"]["annotations"] == [{"class_id": 0, "top": 1, "left": 2, "height": 3, "width": 4}]
    assert out[0]["boxes-adjusted-metadata"]["class-map"] == {"0": "cat"}
    from gtcore.consolidation.classification import Box as B

    assert same_boxes([B("a", 1, 1, 2, 2), B("b", 0, 0, 1, 1)], [B("b", 0, 0, 1, 1.001), B("a", 1, 1, 2, 2)])
    assert not same_boxes([B("a", 1, 1, 2, 2)], [B("a", 1, 1, 2, 2.5)])
    assert not same_boxes([B("a", 1, 1, 2, 2)], [])
    assert creation_date(datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2020-01-02T03:04:05.000000"
    tz = timezone(timedelta(hours=2))
    assert creation_date(datetime(2020, 1, 2, 5, 4, 5, 7, tzinfo=tz)) == "2020-01-02T03:04:05.000007"


def test_records_collect_every_malformed_answer() -> None:
    from gtcore.core import tasktypes
    from gtcore.core.errors import ValidationError
    from gtcore.output.records import ObjectAnswers, RecordSpec, WorkerAnswer, build_records

    spec = RecordSpec(tasktypes.get("ImageMultiClassification"), ["a", "b"], "tags", "J")
    items = [
        ObjectAnswers(0, {}, [WorkerAnswer("w1", {"crowd-image-classifier-multi-select": {"labels": ["zz"]}})]),
        ObjectAnswers(1, {}, [WorkerAnswer("w2", {"wrong": {}})]),
        ObjectAnswers(2, {}, [WorkerAnswer("w3", {"crowd-image-classifier-multi-select": {"labels": "a"}})]),
        ObjectAnswers(3, {}, []),  # no answers: left out, not an error
    ]
    with pytest.raises(ValidationError) as err:
        build_records(spec, items)
    fields = [p.field for p in err.value.problems]
    assert fields == [
        "object 0, worker w1: labels",
        "object 1, worker w2: crowd-image-classifier-multi-select",
        "object 2, worker w3: labels",
    ]
    assert "'zz'" in str(err.value)


def test_small_group_fast_path_agrees_with_general_clustering() -> None:
    from gtcore.consolidation.boxes import _cluster, _small

    rng = random.Random(5)
    checked = 0
    for _ in range(3000):
        m = rng.randint(1, 3)
        flat = [
            Box("cat", rng.uniform(0, 40), rng.uniform(0, 40), rng.uniform(5, 60), rng.uniform(5, 60)) for _ in range(m)
        ]
        ids = list(range(m))
        fast = _small(flat, ids, 0.5)
        if fast is None:
            continue
        slow = _cluster(flat, list(range(m)), ids, 0.5)
        assert sorted((c, round(v, 12)) for c, v in fast) == sorted((c, round(v, 12)) for c, v in slow)
        checked += 1
    assert checked > 2000
