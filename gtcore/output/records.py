"""Worker answers -> the consolidated ``<attr>`` / ``<attr>-metadata`` pair, per task type.

The shapes are Ground Truth's (groundtruth-reference.md §1), in the key order of its newest outputs; one
module per kind of record:

- bounding boxes and their adjustment: ``gtcore.output.records_boxes``;
- single label, multi-label (and the whole-job fits they need): ``gtcore.output.records_classes``;
- semantic segmentation (and its adjustment): ``gtcore.output.records_segmentation`` (the PNGs go to ``files``);
- named entities and text classification's key order: ``gtcore.output.records_text``;
- label verification: ``gtcore.output.records_verification``.

``build_records`` is pure apart from the ``clock`` and ``image_info`` callables it is given. Boxes, masks and
entities are consolidated one object at a time; classes by an EM over the whole job, so a caller going through
a big job in chunks (``gtcore.output.writer``) first feeds every chunk to a ``JobFit`` (``start_fit``, ``add``,
``run``) and passes it to ``build_records`` for each chunk; without one, ``build_records`` fits ``items``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gtcore.consolidation.boxes import same_boxes
from gtcore.core.errors import Problem, ValidationError
from gtcore.output import records_classes as classes
from gtcore.output import records_segmentation as seg
from gtcore.output.records_base import (
    DEFAULT_DEPTH,
    Builder,
    ImageInfo,
    ObjectAnswers,
    RecordSpec,
    WorkerAnswer,
    creation_date,
    gold_class,
    job_name_value,
)
from gtcore.output.records_boxes import BoxBuilder, previous_box_attribute
from gtcore.output.records_text import ner_records
from gtcore.output.records_verification import verification_records

__all__ = [
    "DEFAULT_DEPTH",
    "ImageInfo",
    "JobFit",
    "ObjectAnswers",
    "RecordSpec",
    "WorkerAnswer",
    "build_records",
    "creation_date",
    "gold_class",
    "job_name_value",
    "previous_box_attribute",
    "same_boxes",
    "start_fit",
]


def _problems(spec: RecordSpec, problems: list[Problem]) -> ValidationError:
    return ValidationError(problems, summary=f"job {spec.job_name}: {len(problems)} malformed answer(s)")


class JobFit:
    """The whole-job part of a class job's consolidation: ``add`` every chunk of objects, then ``run``."""

    def __init__(self, spec: RecordSpec) -> None:
        self.spec = spec
        self.builder = Builder(spec, creation_date, None)
        k = max(1, len(spec.labels))
        self.multi = spec.task_type.multi_choice and not spec.task_type.verifies
        self.fit: classes.SingleFit | classes.MultiFit = classes.MultiFit(k) if self.multi else classes.SingleFit(k)

    def add(self, items: Sequence[ObjectAnswers]) -> None:
        items = [it for it in items if it.answers]
        if isinstance(self.fit, classes.MultiFit):
            classes.add_multi(self.builder, self.fit, items)
        else:
            classes.add_single(self.builder, self.fit, items, gold=not self.spec.task_type.verifies)

    def run(self) -> None:
        """Fit; raises ValidationError listing every malformed answer of every chunk (object, worker, field)."""
        if self.builder.problems:
            raise _problems(self.spec, self.builder.problems)
        self.fit.run()


def start_fit(spec: RecordSpec) -> JobFit | None:
    """A ``JobFit`` when the task type's consolidation needs the whole job (classes), else None."""
    tt = spec.task_type
    return None if (tt.paints_mask or tt.marks_spans or tt.draws_boxes) else JobFit(spec)


def build_records(
    spec: RecordSpec,
    items: Sequence[ObjectAnswers],
    *,
    clock: Callable[[], str] = creation_date,
    image_info: Callable[[Mapping[str, Any]], ImageInfo | None] | None = None,
    files: dict[str, bytes] | None = None,
    fit: JobFit | None = None,
) -> dict[int, dict[str, Any]]:
    """Consolidate every item that has answers; ``{idx: {"<attr>": ..., "<attr>-metadata": ...}}``.

    Semantic segmentation: the consolidated mask PNGs are put in ``files`` (URI -> bytes) for the caller to
    store (``gtcore.output.records_segmentation``). ``fit``: the whole job's ``JobFit`` (already run) when
    ``items`` is one chunk of a class job. Raises ValidationError listing every malformed answer (object,
    worker, field).
    """
    items = [it for it in items if it.answers]
    tt = spec.task_type
    if fit is None and (fit := start_fit(spec)) is not None:
        fit.add(items)
        fit.run()
    b = BoxBuilder(spec, clock, image_info)
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
    elif tt.draws_boxes:
        out = {it.idx: b.boxes(it) for it in items}
    else:
        assert fit is not None  # classes: problems were reported by the fit
        if isinstance(fit.fit, classes.MultiFit):
            out = classes.multi_records(b, fit.fit, items)
        elif tt.verifies:
            out = verification_records(b, fit.fit, items)
        else:
            out = classes.single_records(b, fit.fit, items)
        return out
    if b.problems:
        raise _problems(spec, b.problems)
    return out
