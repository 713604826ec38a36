"""Worker answers -> the consolidated ``<attr>`` / ``<attr>-metadata`` pair, per task type.

The shapes are Ground Truth's (groundtruth-reference.md §1), in the key order of its newest outputs:

- boxes (2022+): ``{"image_size":[{"width","height","depth"}],"annotations":[{"class_id","top","left",
  "height","width"}]}`` and metadata ``objects, class-map (classes present only), type, human-annotated,
  creation-date, job-name`` (+ ``adjustment-status`` for adjustment jobs);
- single label (2023): value = class index (int), metadata ``class-name, job-name, confidence, type,
  human-annotated, creation-date``;
- multi-label: value = list of class indices, metadata ``class-map, confidence-map, type, job-name,
  human-annotated, creation-date``;
- semantic segmentation (and its adjustment): ``gtcore.output.records_segmentation`` (the PNGs go to ``files``);
- label verification: ``gtcore.output.records_verification``.

``build_records`` is pure apart from the ``clock`` and ``image_info`` callables it is given. Adjustment
jobs: an object is ``adjusted`` when at least one worker set ``initialValueModified`` or submitted boxes
that differ from the previous attribute's boxes on the line (tolerance ``consolidation_boxes.ADJUST_TOLERANCE`` px);
otherwise the previous value is copied unchanged (byte-identical once serialised).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from gtcore.consolidation import classification as cons
from gtcore.consolidation.boxes import same_boxes
from gtcore.consolidation.multilabel import multilabel_em
from gtcore.core.errors import Problem, ValidationError
from gtcore.core.tasktypes import TaskType
from gtcore.output import records_segmentation as seg
from gtcore.output.records_text import ner_records, text_single_metadata
from gtcore.output.records_verification import verification_records

DEFAULT_DEPTH = 3
_NUM = (int, float)  # exact types: a bool is not a coordinate


class WorkerAnswer(NamedTuple):
    worker_id: str  # public id, e.g. "private.local.1a2b..."
    content: Mapping[str, Any]  # answerContent
    raw: str | None = None  # answerContent as stored (JSON text), reused for the consolidation request


class ObjectAnswers(NamedTuple):
    idx: int  # datasetObjectId
    line: Mapping[str, Any]  # the input manifest line
    answers: Sequence[WorkerAnswer]  # submission order


@dataclass(frozen=True)
class ImageInfo:
    width: int | None
    height: int | None
    depth: int


@dataclass(frozen=True)
class RecordSpec:
    task_type: TaskType
    labels: Sequence[str]
    label_attribute: str
    job_name: str
    previous_attribute: str | None = None  # adjustment jobs: the attribute whose boxes are adjusted
    gold_attribute: str | None = None  # single-label: the line attribute holding a known answer (class name)
    output_folder: str = ""  # <output path>/<job name>: semantic-segmentation PNGs go under it


# [(whole second, its "YYYY-MM-DDTHH:MM:SS" text)]: one strftime a second; the pair is replaced whole (threads)
_second_text: list[tuple[int, str]] = [(-1, "")]


def creation_date(when: datetime | None = None) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffff`` in UTC, no zone (Ground Truth's image/text format)."""
    if when is None:  # the hot path (one call per consolidated object): no datetime objects
        ns = time.time_ns()
        sec, us = divmod(ns // 1000, 1_000_000)
        cached_sec, text = _second_text[0]
        if cached_sec != sec:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
            _second_text[0] = (sec, text)
        return f"{text}.{us:06d}"
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.isoformat(timespec="microseconds")


def job_name_value(name: str) -> str:
    return "labeling-job/" + name.lower()


def build_records(
    spec: RecordSpec,
    items: Sequence[ObjectAnswers],
    *,
    clock: Callable[[], str] = creation_date,
    image_info: Callable[[Mapping[str, Any]], ImageInfo | None] | None = None,
    files: dict[str, bytes] | None = None,
) -> dict[int, dict[str, Any]]:
    """Consolidate every item that has answers; ``{idx: {"<attr>": ..., "<attr>-metadata": ...}}``.

    Semantic segmentation: the consolidated mask PNGs are put in ``files`` (URI -> bytes) for the caller to
    store (``gtcore.output.records_segmentation``). Raises ValidationError listing every malformed answer
    (object, worker, field).
    """
    b = _Builder(spec, clock, image_info)
    items = [it for it in items if it.answers]
    tt = spec.task_type
    if tt.paints_mask:
        out = seg.segmentation_records(
            items=items,
            labels=spec.labels,
            attr=spec.label_attribute,
            job=b.job,
            output_type=tt.output_type,
            element=tt.answer_element,
            adjustment=tt.is_adjustment,
            folder=spec.output_folder,
            clock=clock,
            files={} if files is None else files,
            problem=b._problem,
        )
    elif tt.marks_spans:
        out = ner_records(items, labels=spec.labels, attr=spec.label_attribute, job=b.job,
                          output_type=tt.output_type, element=tt.answer_element, clock=clock,
                          problem=b._problem)  # fmt: skip
    elif tt.verifies:
        out = verification_records(b, items)
    elif tt.draws_boxes:
        out = {it.idx: b.boxes(it) for it in items}
    elif tt.multi_choice:
        out = b.multilabel(items)
    else:
        out = b.single_label(items)
    if b.problems:
        raise ValidationError(b.problems, summary=f"job {spec.job_name}: {len(b.problems)} malformed answer(s)")
    return out


class _Builder:
    def __init__(
        self,
        spec: RecordSpec,
        clock: Callable[[], str],
        image_info: Callable[[Mapping[str, Any]], ImageInfo | None] | None,
    ) -> None:
        self.spec = spec
        self.attr = spec.label_attribute
        self.meta = spec.label_attribute + "-metadata"
        self.job = job_name_value(spec.job_name)
        self.class_id = {name: i for i, name in enumerate(spec.labels)}
        self.clock = clock
        self.image_info = image_info
        self.problems: list[Problem] = []

    def _problem(self, it: ObjectAnswers, worker: str, field: str, msg: str) -> None:
        self.problems.append(
            Problem(msg, where=f"job {self.spec.job_name}", field=f"object {it.idx}, worker {worker}: {field}")
        )

    def _element(self, it: ObjectAnswers, a: WorkerAnswer) -> Mapping[str, Any] | None:
        name = self.spec.task_type.answer_element
        content = a.content
        el = content.get(name) if type(content) is dict or isinstance(content, Mapping) else None
        if type(el) is not dict and not isinstance(el, Mapping):
            self._problem(it, a.worker_id, name, f"answer has no {name!r} object")
            return None
        return el

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

    # --- classification -----------------------------------------------------------------------
    def _choice(self, it: ObjectAnswers, a: WorkerAnswer) -> int | None:
        el = self._element(it, a)
        if el is None:
            return None
        label = el.get("label")
        if label not in self.class_id:
            self._problem(it, a.worker_id, "label", f"{label!r} is not one of the job's labels")
            return None
        return self.class_id[label]

    def gold(self, items: Sequence[ObjectAnswers]) -> dict[int, int]:
        """{position in ``items``: known class} from the gold attribute (a class name or index) of each line."""
        attr = self.spec.gold_attribute
        if not attr:
            return {}
        return {
            pos: c for pos, it in enumerate(items) if (c := gold_class(it.line, attr, self.spec.labels)) is not None
        }

    def single_label(self, items: Sequence[ObjectAnswers]) -> dict[int, dict[str, Any]]:
        votes: list[list[tuple[str, int]]] = []
        kept: list[ObjectAnswers] = []
        for it in items:
            v = [(a.worker_id, c) for a in it.answers if (c := self._choice(it, a)) is not None]
            if v:
                votes.append(v)
                kept.append(it)
        results = cons.dawid_skene(votes, max(1, len(self.spec.labels)), gold=self.gold(kept))
        out: dict[int, dict[str, Any]] = {}
        text = self.spec.task_type.text
        for it, r in zip(kept, results, strict=True):
            meta = {
                "class-name": self.spec.labels[r.label],
                "job-name": self.job,
                "confidence": r.confidence,
                "type": self.spec.task_type.output_type,
                "human-annotated": "yes",
                "creation-date": self.clock(),
            }
            out[it.idx] = {self.attr: r.label, self.meta: text_single_metadata(meta) if text else meta}
        return out

    def multilabel(self, items: Sequence[ObjectAnswers]) -> dict[int, dict[str, Any]]:
        """Per-label EM over the whole job (``gtcore.consolidation.multilabel``; it beat per-label agreement
        on every simulated crowd of bench/bench_crowd.py)."""
        per_item = [self._multi_choices(it) for it in items]
        results = multilabel_em(per_item, max(1, len(self.spec.labels)))
        return {it.idx: self._multi_record(r) for it, r in zip(items, results, strict=True)}

    def _multi_choices(self, it: ObjectAnswers) -> list[tuple[str, list[int]]]:
        choices: list[tuple[str, list[int]]] = []
        for a in it.answers:
            el = self._element(it, a)
            if el is None:
                continue
            raw = el.get("labels")
            if not isinstance(raw, list):
                self._problem(it, a.worker_id, "labels", "missing or not a list")
                continue
            bad = [x for x in raw if x not in self.class_id]
            for x in bad:
                self._problem(it, a.worker_id, "labels", f"{x!r} is not one of the job's labels")
            choices.append((a.worker_id, [self.class_id[x] for x in raw if x in self.class_id]))
        return choices

    def _multi_record(self, r: cons.MultiResult) -> dict[str, Any]:
        return {
            self.attr: list(r.labels),
            self.meta: {
                "class-map": {str(c): self.spec.labels[c] for c in r.labels},
                "confidence-map": {str(c): r.confidence[c] for c in r.labels},
                "type": self.spec.task_type.output_type,
                "job-name": self.job,
                "human-annotated": "yes",
                "creation-date": self.clock(),
            },
        }


def gold_class(line: Mapping[str, Any], attr: str, labels: Sequence[str]) -> int | None:
    """The known class of a gold line (its ``attr`` holds a class name, or a class index), else None."""
    v = line.get(attr)
    if isinstance(v, str) and v in labels:
        return list(labels).index(v)
    if type(v) is int and 0 <= v < len(labels):
        return v
    return None


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
