"""Bounding-box records (and their adjustment), Ground Truth's 2022+ shape (groundtruth-reference.md §1):
``{"image_size":[{"width","height","depth"}],"annotations":[{"class_id","top","left","height","width"}]}`` and
metadata ``objects, class-map (classes present only), type, human-annotated, creation-date, job-name``
(+ ``adjustment-status`` for adjustment jobs). An adjustment object is ``adjusted`` when at least one worker set
``initialValueModified`` or submitted boxes that differ from the previous attribute's boxes on the line
(tolerance ``consolidation_boxes.ADJUST_TOLERANCE`` px); otherwise the previous value is copied unchanged
(byte-identical once serialised). One object at a time: no whole-job state.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from gtcore.consolidation import classification as cons
from gtcore.consolidation.boxes import same_boxes
from gtcore.output.records_base import DEFAULT_DEPTH, Builder, ObjectAnswers, WorkerAnswer

_NUM = (int, float)  # exact types: a bool is not a coordinate


class BoxBuilder(Builder):
    # --- boxes ----------------------------------------------------------------------------------
    def _worker_boxes(self, it: ObjectAnswers, a: WorkerAnswer) -> tuple[Mapping[str, Any], list[cons.Box]] | None:
        el = self._element(it, a)
        if el is None:
            return None
        raw = el.get("boundingBoxes")
        if type(raw) is not list:
            self._problem(it, a.worker_id, "boundingBoxes", "missing or not a list")
            return None
        class_id, box = self.class_id, cons.Box
        boxes = []
        for bx in raw:
            try:
                label, left, top, width, height = bx["label"], bx["left"], bx["top"], bx["width"], bx["height"]
                if (
                    label in class_id
                    and type(left) in _NUM
                    and type(top) in _NUM
                    and type(width) in _NUM
                    and type(height) in _NUM
                ):
                    boxes.append(box(label, left, top, width, height))
                    continue
            except (KeyError, TypeError):
                pass
            self._bad_box(it, a, raw)
            return el, boxes
        return el, boxes

    def _bad_box(self, it: ObjectAnswers, a: WorkerAnswer, raw: list[Any]) -> None:
        """Report every bad box of one answer (slow path, only when something is wrong)."""
        for j, bx in enumerate(raw):
            field = f"boundingBoxes[{j}]"
            try:
                label, left, top, width, height = bx["label"], bx["left"], bx["top"], bx["width"], bx["height"]
            except (KeyError, TypeError) as exc:
                self._problem(it, a.worker_id, field, f"missing {exc}")
                continue
            if label not in self.class_id:
                self._problem(it, a.worker_id, field, f"label {label!r} is not one of the job's labels")
            elif not all(type(v) in _NUM for v in (left, top, width, height)):
                self._problem(it, a.worker_id, field, "coordinates must be numbers")

    def _image_size(self, it: ObjectAnswers, els: list[Mapping[str, Any]]) -> dict[str, Any]:
        width = height = None
        for el in els:
            props = el.get("inputImageProperties")
            if isinstance(props, Mapping) and props.get("width") and props.get("height"):
                width, height = props["width"], props["height"]
                break
        info = self.image_info(it.line) if self.image_info else None
        if info is not None and (width is None or height is None):
            width, height = info.width, info.height
        depth = info.depth if info is not None else DEFAULT_DEPTH
        return {"width": width, "height": height, "depth": depth}

    def _box_meta(self, confidences: list[Any], class_map: dict[str, str]) -> dict[str, Any]:
        return {
            "objects": [{"confidence": c} for c in confidences],
            "class-map": class_map,
            "type": self.spec.task_type.output_type,
            "human-annotated": "yes",
            "creation-date": self.clock(),
            "job-name": self.job,
        }

    def boxes(self, it: ObjectAnswers) -> dict[str, Any]:
        els: list[Mapping[str, Any]] = []
        per_worker: list[list[cons.Box]] = []
        for a in it.answers:
            p = self._worker_boxes(it, a)
            if p is not None:
                els.append(p[0])
                per_worker.append(p[1])
        adjustment = self.spec.task_type.is_adjustment
        if adjustment:
            prev = self._previous(it)
            if prev is not None and not self._adjusted(prev[1], per_worker, els):
                return self._unadjusted(prev, len(per_worker))
        merged = cons.consolidate_boxes(per_worker)
        class_id = self.class_id
        annotations, confidences, present = [], [], set()
        for c in merged:
            cid = class_id[c.label]
            present.add(cid)
            annotations.append({"class_id": cid, "top": c.top, "left": c.left, "height": c.height, "width": c.width})
            confidences.append(c.confidence)
        labels = self.spec.labels
        value = {"image_size": [self._image_size(it, els)], "annotations": annotations}
        meta = self._box_meta(confidences, {str(c): labels[c] for c in sorted(present)})
        if adjustment:
            meta["adjustment-status"] = "adjusted"
        return {self.attr: value, self.meta: meta}

    def _previous(self, it: ObjectAnswers) -> tuple[Mapping[str, Any], list[cons.Box], dict[str, str]] | None:
        """The earlier attribute's value, its boxes and its class-map; None when the line has none."""
        prev = self.spec.previous_attribute or previous_box_attribute(it.line, self.attr)
        value = it.line.get(prev) if prev else None
        if not isinstance(value, Mapping):
            return None
        meta = it.line.get(f"{prev}-metadata")
        names = dict(meta.get("class-map") or {}) if isinstance(meta, Mapping) else {}
        boxes = []
        for ann in value.get("annotations") or []:
            cid = ann.get("class_id")
            name = names.get(str(cid))
            if name is None:
                name = names[str(cid)] = _label_at(self.spec.labels, cid)
            boxes.append(cons.Box(str(name), ann["left"], ann["top"], ann["width"], ann["height"]))
        return value, boxes, names

    @staticmethod
    def _adjusted(before: list[cons.Box], per_worker: list[list[cons.Box]], els: list[Mapping[str, Any]]) -> bool:
        if any(el.get("initialValueModified") is True for el in els):
            return True
        return any(not same_boxes(before, boxes) for boxes in per_worker)

    def _unadjusted(self, prev: tuple[Mapping[str, Any], list[cons.Box], dict[str, str]], n: int) -> dict[str, Any]:
        """Nobody changed the boxes: the earlier value, unchanged; confidence as for unanimous workers."""
        value, _boxes, names = prev
        anns = value.get("annotations") or []
        conf: Any = cons.SINGLE_WORKER_CONFIDENCE if n <= 1 else 1.0
        ids = sorted({str(a.get("class_id")) for a in anns}, key=lambda c: (len(c), c))
        meta = self._box_meta([conf] * len(anns), {c: names[c] for c in ids})
        meta["adjustment-status"] = "unadjusted"
        return {self.attr: copy.deepcopy(dict(value)), self.meta: meta}


def _label_at(labels: Sequence[str], c: Any) -> str:
    return labels[c] if isinstance(c, int) and 0 <= c < len(labels) else str(c)


def previous_box_attribute(line: Mapping[str, Any], exclude: str) -> str | None:
    """The last attribute on the line holding bounding boxes (other than ``exclude``), if any."""
    found = None
    for key, meta in line.items():
        if not key.endswith("-metadata") or not isinstance(meta, Mapping):
            continue
        attr = key[: -len("-metadata")]
        if attr != exclude and meta.get("type") == "groundtruth/object-detection" and attr in line:
            found = attr
    return found
