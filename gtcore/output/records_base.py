"""What every record builder shares: the answer and spec types, the creation date, the per-job builder base
(problems, the answer element, a classifier choice, gold classes). ``gtcore.output.records`` builds on it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from gtcore.core.errors import Problem
from gtcore.core.tasktypes import TaskType

DEFAULT_DEPTH = 3


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


class Builder:
    """Per-job record building state: names, class ids, the clock, and the problems found in answers."""

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

    def _choice(self, it: ObjectAnswers, a: WorkerAnswer) -> int | None:
        el = self._element(it, a)
        if el is None:
            return None
        label = el.get("label")
        if label not in self.class_id:
            self._problem(it, a.worker_id, "label", f"{label!r} is not one of the job's labels")
            return None
        return self.class_id[label]

    def votes(self, it: ObjectAnswers) -> list[tuple[str, int]]:
        """The classifier answers of one object that name one of the job's labels: (worker, class index)."""
        return [(a.worker_id, c) for a in it.answers if (c := self._choice(it, a)) is not None]


def gold_class(line: Mapping[str, Any], attr: str, labels: Sequence[str]) -> int | None:
    """The known class of a gold line (its ``attr`` holds a class name, or a class index), else None."""
    v = line.get(attr)
    if isinstance(v, str) and v in labels:
        return list(labels).index(v)
    if type(v) is int and 0 <= v < len(labels):
        return v
    return None
