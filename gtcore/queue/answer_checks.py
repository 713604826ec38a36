"""Worker answers (Ground Truth ``answerContent``): validation against the task type and the job's labels.

Shapes, as Ground Truth's crowd elements write them (names from ``gtcore.core.tasktypes``)::

    BoundingBox            {"boundingBox": {"boundingBoxes": [{"height","label","left","top","width"}],
                                            "inputImageProperties": {"height","width"}}}
    AdjustmentBoundingBox  the same, plus "initialValueModified": bool inside "boundingBox"
    ImageClassification    {"crowd-image-classifier": {"label": "<one of the labels>"}}
    ImageMultiClassification
                           {"crowd-image-classifier-multi-select": {"labels": ["<label>", ...]}}
    SemanticSegmentation (and its adjustment)
                           {"crowd-semantic-segmentation": {"labeledImage": {"pngImageData"}, "labelMappings",
                                                            "inputImageProperties"}}  (gtcore.queue.answer_checks_mask)
    Verification*          {"crowd-image-classifier": {"label": "<one of the verification labels>"}}
    TextClassification     {"crowd-classifier": {"label": ...}} (and "crowd-classifier-multi-select" for multi-label)
    NamedEntityRecognition {"crowd-entity-annotation": {"entities": [{"endOffset","label","startOffset"}]}}
                           (gtcore.queue.answer_checks_spans)

Every element may also carry Ground Truth's optional ``workerComment`` string.

Rules: numbers are finite (booleans are not numbers), ``left``/``top`` >= 0, ``width``/``height`` > 0, a box
may overshoot the image by at most ``EDGE_TOLERANCE`` pixels (canvas rounding), at most ``MAX_BOXES`` boxes,
labels must be the job's labels (text, not index), multi-label choices have no duplicates. Every problem is
collected and raised together as one ``ValidationError`` whose problems name the field
(``boundingBox.boundingBoxes[3].label``).
"""

from __future__ import annotations

import math
from typing import Any

from gtcore.core import tasktypes
from gtcore.core.errors import Problem, ValidationError
from gtcore.core.tasktypes import TaskType
from gtcore.queue.answer_checks_mask import check_mask
from gtcore.queue.answer_checks_spans import check_entities

MAX_BOXES = 500
EDGE_TOLERANCE = 1.0  # pixels a box may extend past the image edge (canvas rounding)
MAX_COMMENT = 2000
BOX_KEYS = ("height", "label", "left", "top", "width")
BOX_OUTPUT_TYPE = "groundtruth/object-detection"


def validate_answer(task_type: str | TaskType, labels: list[str], answer: Any, *, where: str = "answer") -> dict:
    """Check ``answer`` (answerContent) and return a clean copy holding only the known keys.

    Raises:
        ValidationError: listing every problem, each naming its field.
    """
    tt = tasktypes.get(task_type) if isinstance(task_type, str) else task_type
    problems: list[Problem] = []
    el = tt.answer_element

    def bad(field: str, message: str) -> None:
        problems.append(Problem(message, where=where, field=field))

    if not isinstance(answer, dict):
        bad("answerContent", f"must be an object with the key {el!r}, got {type(answer).__name__}")
        raise ValidationError(problems, summary="the answer is not valid")
    for key in answer:
        if key != el:
            bad(str(key), f"unknown key; a {tt.name} answer holds only {el!r}")
    body = answer.get(el)
    clean: dict[str, Any] = {}
    if not isinstance(body, dict):
        bad(el, "missing" if body is None else f"must be an object, got {type(body).__name__}")
    elif tt.paints_mask:
        clean = check_mask(tt, labels, body, el, bad)
    elif tt.marks_spans:  # named entity recognition (the text-dependent rules run at submit)
        clean = check_entities(labels, body, el, bad)
    elif tt.draws_boxes:
        clean = _boxes(tt, labels, body, el, bad)
    elif tt.multi_choice:
        clean = _multi(labels, body, el, bad)
    else:
        clean = _single(labels, body, el, bad)
    if isinstance(body, dict) and "workerComment" in body:
        comment = body["workerComment"]
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
            bad(f"{el}.workerComment", f"must be text of at most {MAX_COMMENT} characters")
        else:
            clean["workerComment"] = comment
    if problems:
        raise ValidationError(problems, summary=f"the {tt.title.lower()} answer is not valid")
    return {el: clean}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _unknown(body: dict, allowed: set[str], prefix: str, bad: Any) -> None:
    for key in body:
        if key not in allowed:
            bad(f"{prefix}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _single(labels: list[str], body: dict, el: str, bad: Any) -> dict:
    _unknown(body, {"label", "workerComment"}, el, bad)
    label = body.get("label")
    if not isinstance(label, str):
        bad(f"{el}.label", "missing: pick one label" if label is None else "must be a label name (text)")
        return {}
    if label not in labels:
        bad(f"{el}.label", f"{label!r} is not one of the job's labels")
    return {"label": label}


def _multi(labels: list[str], body: dict, el: str, bad: Any) -> dict:
    _unknown(body, {"labels", "workerComment"}, el, bad)
    chosen = body.get("labels")
    if not isinstance(chosen, list):
        bad(f"{el}.labels", "missing" if chosen is None else "must be a list of label names")
        return {}
    seen: set[str] = set()
    for i, label in enumerate(chosen):
        field = f"{el}.labels[{i}]"
        if not isinstance(label, str):
            bad(field, "must be a label name (text)")
        elif label not in labels:
            bad(field, f"{label!r} is not one of the job's labels")
        elif label in seen:
            bad(field, f"{label!r} is chosen twice")
        else:
            seen.add(label)
    return {"labels": [lab for lab in chosen if isinstance(lab, str)]}


def _boxes(tt: TaskType, labels: list[str], body: dict, el: str, bad: Any) -> dict:
    allowed = {"boundingBoxes", "inputImageProperties", "workerComment"}
    if tt.is_adjustment:
        allowed.add("initialValueModified")
    _unknown(body, allowed, el, bad)
    out: dict[str, Any] = {}
    props = body.get("inputImageProperties")
    img_w = img_h = None
    props_out = None
    if not isinstance(props, dict):
        bad(f"{el}.inputImageProperties", "missing: the image's width and height are required")
    else:
        _unknown(props, {"height", "width"}, f"{el}.inputImageProperties", bad)
        for key in ("height", "width"):
            v: Any = props.get(key)
            if not _number(v) or v <= 0:
                bad(f"{el}.inputImageProperties.{key}", f"must be a positive number, got {v!r}")
        if _number(props.get("width")) and _number(props.get("height")):
            img_w, img_h = props["width"], props["height"]
            props_out = {"height": img_h, "width": img_w}
    boxes = body.get("boundingBoxes")
    if not isinstance(boxes, list):
        bad(f"{el}.boundingBoxes", "missing" if boxes is None else "must be a list of boxes")
        boxes = []
    elif len(boxes) > MAX_BOXES:
        bad(f"{el}.boundingBoxes", f"{len(boxes)} boxes; at most {MAX_BOXES} are allowed per image")
    clean_boxes = []
    for i, box in enumerate(boxes[:MAX_BOXES]):
        clean_box = _box(box, f"{el}.boundingBoxes[{i}]", labels, img_w, img_h, bad)
        if clean_box is not None:
            clean_boxes.append(clean_box)
    out["boundingBoxes"] = clean_boxes  # Ground Truth's key order: boundingBoxes, inputImageProperties
    if props_out is not None:
        out["inputImageProperties"] = props_out
    if "initialValueModified" in body:
        flag = body["initialValueModified"]
        if not isinstance(flag, bool):
            bad(f"{el}.initialValueModified", f"must be true or false, got {flag!r}")
        else:
            out["initialValueModified"] = flag
    return out


def _box(box: Any, field: str, labels: list[str], img_w: Any, img_h: Any, bad: Any) -> dict | None:
    if not isinstance(box, dict):
        bad(field, f"must be an object with {', '.join(BOX_KEYS)}")
        return None
    _unknown(box, set(BOX_KEYS), field, bad)
    ok = True
    for key in ("left", "top", "width", "height"):
        v = box.get(key)
        if v is None:
            bad(f"{field}.{key}", "missing")
            ok = False
        elif not _number(v):
            bad(f"{field}.{key}", f"must be a finite number, got {v!r}")
            ok = False
        elif key in ("width", "height") and v <= 0:
            bad(f"{field}.{key}", f"must be greater than 0, got {v!r}")
            ok = False
        elif v < 0:
            bad(f"{field}.{key}", f"must not be negative, got {v!r}")
            ok = False
    label = box.get("label")
    if not isinstance(label, str):
        bad(f"{field}.label", "missing" if label is None else "must be a label name (text)")
        ok = False
    elif label not in labels:
        bad(f"{field}.label", f"{label!r} is not one of the job's labels")
        ok = False
    if ok and img_w is not None and box["left"] + box["width"] > img_w + EDGE_TOLERANCE:
        bad(f"{field}.width", f"the box ends at x={box['left'] + box['width']}, past the image width {img_w}")
        ok = False
    if ok and img_h is not None and box["top"] + box["height"] > img_h + EDGE_TOLERANCE:
        bad(f"{field}.height", f"the box ends at y={box['top'] + box['height']}, past the image height {img_h}")
        ok = False
    if not ok:
        return None
    return {k: box[k] for k in BOX_KEYS}


def boxes_equal(a: list[dict], b: list[dict]) -> bool:
    """Same boxes (label and coordinates), in any order: used for ``initialValueModified``."""

    def key(box: dict) -> tuple:
        return (box.get("label"), *(float(box.get(k, 0)) for k in ("left", "top", "width", "height")))

    return sorted(map(key, a)) == sorted(map(key, b))


def previous_boxes(line: dict, attribute: str | None, labels: list[str], *, exclude: str = "") -> dict | None:
    """The boxes of an earlier bounding-box attribute of a manifest line, as the canvas draws them.

    ``attribute`` is the label attribute the adjustment job was chained from; when unknown, the first key of
    the line whose ``-metadata`` says ``groundtruth/object-detection`` (other than ``exclude``) is used.
    Class ids are turned into label text with the line's ``class-map`` (else the job's label order).
    Returns ``{"attribute", "boundingBoxes": [{height,label,left,top,width}], "inputImageProperties"}``.
    """
    if not attribute:
        for key, meta in line.items():
            if key.endswith("-metadata") and isinstance(meta, dict) and meta.get("type") == BOX_OUTPUT_TYPE:
                candidate = key[: -len("-metadata")]
                if candidate != exclude and isinstance(line.get(candidate), dict):
                    attribute = candidate
                    break
    value = line.get(attribute) if attribute else None
    if not isinstance(value, dict):
        return None
    meta = line.get(f"{attribute}-metadata")
    class_map = meta.get("class-map") if isinstance(meta, dict) else None
    class_map = class_map if isinstance(class_map, dict) else {}
    boxes = []
    for ann in value.get("annotations") or []:
        if not isinstance(ann, dict):
            continue
        cid = ann.get("class_id")
        label = class_map.get(str(cid))
        if label is None and isinstance(cid, int) and 0 <= cid < len(labels):
            label = labels[cid]
        boxes.append(
            {
                "height": ann.get("height"),
                "label": label if label is not None else str(cid),
                "left": ann.get("left"),
                "top": ann.get("top"),
                "width": ann.get("width"),
            }
        )
    sizes = value.get("image_size") or [{}]
    size = sizes[0] if isinstance(sizes, list) and sizes and isinstance(sizes[0], dict) else {}
    return {
        "attribute": attribute,
        "boundingBoxes": boxes,
        "inputImageProperties": {"height": size.get("height"), "width": size.get("width")},
    }
