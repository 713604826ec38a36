"""Answer validation (gtcore.queue.answer_checks): every task type, every rule, all problems collected, fields named."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from gtcore.core.errors import ValidationError
from gtcore.queue import answer_checks as answers

LABELS = ["cat", "dog", "bird"]


def boxes(*bs: Any, w: float = 640, h: float = 480, **extra: object) -> dict:
    return {"boundingBox": {"boundingBoxes": list(bs), "inputImageProperties": {"height": h, "width": w}, **extra}}


def box(label: Any = "cat", left: Any = 10, top: Any = 20, width: Any = 30, height: Any = 40) -> dict:
    return {"height": height, "label": label, "left": left, "top": top, "width": width}


def fields(exc: ValidationError) -> set[str]:
    return {p.field for p in exc.problems if p.field}


def test_valid_bounding_box_answer_is_returned_clean_in_ground_truth_key_order() -> None:
    clean = answers.validate_answer("BoundingBox", LABELS, boxes(box(), box("dog", 0, 0, 640, 480)))
    assert clean == boxes(box(), box("dog", 0, 0, 640, 480))
    assert list(clean["boundingBox"]) == ["boundingBoxes", "inputImageProperties"]
    assert list(clean["boundingBox"]["boundingBoxes"][0]) == ["height", "label", "left", "top", "width"]
    assert json.dumps(clean)  # plain JSON


def test_zero_boxes_is_a_valid_answer() -> None:
    assert answers.validate_answer("BoundingBox", LABELS, boxes())["boundingBox"]["boundingBoxes"] == []


def test_every_bad_box_field_is_reported_together() -> None:
    bad = boxes(
        box(label="horse"),  # [0] unknown label
        box(left=-1),  # [1] negative
        box(width=0),  # [2] zero size
        box(top=math.nan),  # [3] NaN
        box(height=math.inf),  # [4] inf
        {"height": 1, "label": "cat", "left": 1, "top": 1},  # [5] width missing
        box(left=True),  # [6] bool is not a number
        {**box(), "color": "red"},  # [7] unknown key
        "not a box",  # [8]
        box(left=600, width=50),  # [9] past the right edge (640)
        box(label=1),  # [10] index instead of text
    )
    with pytest.raises(ValidationError) as ei:
        answers.validate_answer("BoundingBox", LABELS, bad)
    f = fields(ei.value)
    p = "boundingBox.boundingBoxes"
    assert {
        f"{p}[0].label",
        f"{p}[1].left",
        f"{p}[2].width",
        f"{p}[3].top",
        f"{p}[4].height",
        f"{p}[5].width",
        f"{p}[6].left",
        f"{p}[7].color",
        f"{p}[8]",
        f"{p}[9].width",
        f"{p}[10].label",
    } <= f
    assert "'horse' is not one of the job's labels" in str(ei.value)


def test_box_may_overshoot_the_edge_by_rounding_only() -> None:
    answers.validate_answer("BoundingBox", LABELS, boxes(box(left=600, width=40.9)))  # 640.9 <= 640 + 1
    with pytest.raises(ValidationError):
        answers.validate_answer("BoundingBox", LABELS, boxes(box(top=450, height=31.5)))  # 481.5 > 480 + 1


def test_too_many_boxes_refused() -> None:
    many = boxes(*[box() for _ in range(answers.MAX_BOXES + 1)])
    with pytest.raises(ValidationError) as ei:
        answers.validate_answer("BoundingBox", LABELS, many)
    assert "boundingBox.boundingBoxes" in fields(ei.value)
    assert str(answers.MAX_BOXES) in str(ei.value)


def test_image_properties_required_and_positive() -> None:
    with pytest.raises(ValidationError) as ei:
        answers.validate_answer("BoundingBox", LABELS, {"boundingBox": {"boundingBoxes": []}})
    assert "boundingBox.inputImageProperties" in fields(ei.value)
    with pytest.raises(ValidationError) as ei:
        answers.validate_answer("BoundingBox", LABELS, boxes(w=0, h=-3))
    assert {"boundingBox.inputImageProperties.width", "boundingBox.inputImageProperties.height"} <= fields(ei.value)


def test_wrong_top_level_shape() -> None:
    for bad, field in [
        ([], "answerContent"),
        ({"crowd-image-classifier": {"label": "cat"}}, "crowd-image-classifier"),
        ({"boundingBox": []}, "boundingBox"),
        ({}, "boundingBox"),
    ]:
        with pytest.raises(ValidationError) as ei:
            answers.validate_answer("BoundingBox", LABELS, bad)
        assert field in fields(ei.value), bad


def test_initial_value_modified_only_for_adjustment_and_boolean() -> None:
    ok = answers.validate_answer("AdjustmentBoundingBox", LABELS, boxes(box(), initialValueModified=True))
    assert ok["boundingBox"]["initialValueModified"] is True
    assert (
        "initialValueModified"
        not in answers.validate_answer("AdjustmentBoundingBox", LABELS, boxes(box()))["boundingBox"]
    )
    with pytest.raises(ValidationError) as ei:
        answers.validate_answer("AdjustmentBoundingBox", LABELS, boxes(initialValueModified="yes"))
    assert "boundingBox.initialValueModified" in fields(ei.value)
    with pytest.raises(ValidationError) as ei:
        answers.validate_answer("BoundingBox", LABELS, boxes(initialValueModified=False))
    assert "boundingBox.initialValueModified" in fields(ei.value)


def test_single_label_classification() -> None:
    el = "crowd-image-classifier"
    assert answers.validate_answer("ImageClassification", LABELS, {el: {"label": "dog"}}) == {el: {"label": "dog"}}
    for bad, field in [
        ({el: {"label": "horse"}}, f"{el}.label"),
        ({el: {"label": 0}}, f"{el}.label"),
        ({el: {}}, f"{el}.label"),
        ({el: {"label": "cat", "labels": ["cat"]}}, f"{el}.labels"),
    ]:
        with pytest.raises(ValidationError) as ei:
            answers.validate_answer("ImageClassification", LABELS, bad)
        assert field in fields(ei.value), bad


def test_multi_label_classification() -> None:
    el = "crowd-image-classifier-multi-select"
    ok = answers.validate_answer("ImageMultiClassification", LABELS, {el: {"labels": ["bird", "cat"]}})
    assert ok == {el: {"labels": ["bird", "cat"]}}
    assert answers.validate_answer("ImageMultiClassification", LABELS, {el: {"labels": []}}) == {el: {"labels": []}}
    with pytest.raises(ValidationError) as ei:
        answers.validate_answer("ImageMultiClassification", LABELS, {el: {"labels": ["cat", "cat", "fish", 3]}})
    assert {f"{el}.labels[1]", f"{el}.labels[2]", f"{el}.labels[3]"} <= fields(ei.value)
    assert "chosen twice" in str(ei.value)
    with pytest.raises(ValidationError) as ei:
        answers.validate_answer("ImageMultiClassification", LABELS, {el: {"labels": "cat"}})
    assert f"{el}.labels" in fields(ei.value)


def test_worker_comment_kept_when_text() -> None:
    el = "crowd-image-classifier"
    ok = answers.validate_answer("ImageClassification", LABELS, {el: {"label": "cat", "workerComment": "blurry"}})
    assert ok[el]["workerComment"] == "blurry"
    with pytest.raises(ValidationError) as ei:
        answers.validate_answer("ImageClassification", LABELS, {el: {"label": "cat", "workerComment": 5}})
    assert f"{el}.workerComment" in fields(ei.value)


def test_unknown_task_type_is_a_key_error_naming_known_types() -> None:
    with pytest.raises(KeyError, match="BoundingBox"):
        answers.validate_answer("Polygon", LABELS, {})


def test_boxes_equal_ignores_order_and_int_float() -> None:
    a = [box("cat", 1, 2, 3, 4), box("dog", 5, 6, 7, 8)]
    b = [box("dog", 5.0, 6.0, 7.0, 8.0), box("cat", 1, 2, 3, 4)]
    assert answers.boxes_equal(a, b)
    assert not answers.boxes_equal(a, [box("cat", 1, 2, 3, 4)])
    assert not answers.boxes_equal(a, [box("cat", 1, 2, 3, 4), box("bird", 5, 6, 7, 8)])


def test_previous_boxes_from_a_real_ground_truth_line(realdata) -> None:  # type: ignore[no-untyped-def]
    lines = (realdata / "bbox-cat-1worker" / "output.manifest").read_text().splitlines()
    line = json.loads(lines[2])
    prev = answers.previous_boxes(line, "cat-ground-truth", ["Cat"])
    ann = line["cat-ground-truth"]["annotations"]
    assert prev is not None and prev["attribute"] == "cat-ground-truth"
    assert [b["label"] for b in prev["boundingBoxes"]] == ["Cat"] * len(ann)
    assert [(b["left"], b["top"], b["width"], b["height"]) for b in prev["boundingBoxes"]] == [
        (a["left"], a["top"], a["width"], a["height"]) for a in ann
    ]
    size = line["cat-ground-truth"]["image_size"][0]
    assert prev["inputImageProperties"] == {"height": size["height"], "width": size["width"]}
    # unknown attribute name: found by the object-detection metadata type
    assert answers.previous_boxes(line, None, ["Cat"], exclude="new-attr") == prev
    assert answers.previous_boxes({"source-ref": "x"}, None, ["Cat"]) is None
    # the previous boxes validate as an answer of the adjustment job (labels are text)
    answer = {
        "boundingBox": {"boundingBoxes": prev["boundingBoxes"], "inputImageProperties": prev["inputImageProperties"]}
    }
    answers.validate_answer("AdjustmentBoundingBox", ["Cat"], answer)
