"""Class records that need the whole job: single label (image and text), label verification, multi-label.

Their consolidation is an EM over every answer of the job (``gtcore.consolidation``), so records are built in
two passes that never hold the job's answers as Python objects: ``SingleFit`` / ``MultiFit`` take the votes
of one chunk of objects at a time (``add``) into flat integer arrays, ``run`` fits once, then each chunk's
records look their results up by object index. The results are those of fitting the whole list at once
(same item order, same worker order, same code path: ``fit_encoded`` / ``yes_posterior``).

- single label (2023): value = class index (int), metadata ``class-name, job-name, confidence, type,
  human-annotated, creation-date`` (text classification: ``records_text.text_single_metadata`` order);
- multi-label: value = list of class indices, metadata ``class-map, confidence-map, type, job-name,
  human-annotated, creation-date``;
- label verification: ``gtcore.output.records_verification``.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

import numpy as np

from gtcore.consolidation import classification as cons
from gtcore.consolidation.multilabel import result_of, yes_posterior
from gtcore.output.records_base import Builder, ObjectAnswers, gold_class
from gtcore.output.records_text import text_single_metadata


class _Fit:
    def __init__(self, k: int) -> None:
        self.k = k
        self.workers: dict[str, int] = {}
        self.item, self.worker = array("q"), array("q")
        self.idx = array("q")  # object index of each fitted item, ascending
        self._idx: np.ndarray | None = None

    def _worker(self, w: str) -> int:
        return self.workers.setdefault(w, len(self.workers))

    def positions(self, idxs: Sequence[int]) -> list[int | None]:
        """Each object's row in the fit, None when it was not fitted."""
        if self._idx is None:
            self._idx = np.frombuffer(self.idx, dtype=np.int64) if len(self.idx) else np.zeros(0, dtype=np.int64)
        want = np.asarray(idxs, dtype=np.int64)
        pos = np.searchsorted(self._idx, want)
        hit = pos < len(self._idx)
        hit[hit] = self._idx[pos[hit]] == want[hit]
        return [int(p) if h else None for p, h in zip(pos.tolist(), hit.tolist(), strict=True)]


class SingleFit(_Fit):
    """Single-label / verification EM (``classification.fit_encoded``) fed chunk by chunk."""

    def __init__(self, k: int) -> None:
        super().__init__(k)
        self.label = array("q")
        self.gold: dict[int, int] = {}
        self.result: cons.ArrayFit | None = None

    def add(self, idx: int, votes: Sequence[tuple[str, int]], gold: int | None = None) -> None:
        pos = len(self.idx)
        self.idx.append(idx)
        for w, c in votes:
            self.item.append(pos)
            self.worker.append(self._worker(w))
            self.label.append(c)
        if gold is not None:
            self.gold[pos] = gold

    def run(self) -> None:
        def arr(a: array) -> np.ndarray:
            return np.frombuffer(a, dtype=np.int64) if len(a) else np.zeros(0, dtype=np.int64)

        enc = cons.Encoded(arr(self.item), arr(self.worker), arr(self.label), list(self.workers), len(self.idx))
        self.result = cons.fit_encoded(enc, self.k, gold=self.gold)

    def get(self, pos: int) -> tuple[int, Any]:
        """(class index, confidence) of the fitted item at ``pos``."""
        assert self.result is not None
        return int(self.result.label[pos]), self.result.confidence(pos)


class MultiFit(_Fit):
    """Per-label EM of multi-label jobs (``multilabel.yes_posterior``) over objects with 2+ valid answers."""

    def __init__(self, k: int) -> None:
        super().__init__(k)
        self.said = bytearray()
        self.yes: np.ndarray | None = None

    def add(self, idx: int, choices: Sequence[tuple[str, list[int]]]) -> None:
        if len(choices) < 2:
            return
        pos = len(self.idx)
        self.idx.append(idx)
        for w, chosen in choices:
            self.item.append(pos)
            self.worker.append(self._worker(w))
            row = bytearray(self.k)
            for c in chosen:
                row[c] = 1
            self.said += row

    def run(self) -> None:
        item = np.frombuffer(self.item, dtype=np.int64) if len(self.item) else np.zeros(0, dtype=np.int64)
        worker = np.frombuffer(self.worker, dtype=np.int64) if len(self.worker) else np.zeros(0, dtype=np.int64)
        said = np.frombuffer(bytes(self.said), dtype=np.uint8).reshape(-1, self.k)
        self.yes = yes_posterior(item, worker, said, len(self.idx), len(self.workers))


def add_single(b: Builder, fit: SingleFit, items: Sequence[ObjectAnswers], *, gold: bool = True) -> None:
    """Pass 1 of single-label and verification jobs: the valid votes (and gold classes) of ``items``."""
    attr = b.spec.gold_attribute if gold else None
    for it in items:
        v = b.votes(it)
        if v:
            fit.add(it.idx, v, gold_class(it.line, attr, b.spec.labels) if attr else None)


def single_records(b: Builder, fit: SingleFit, items: Sequence[ObjectAnswers]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    text = b.spec.task_type.text
    for it, pos in zip(items, fit.positions([it.idx for it in items]), strict=True):
        if pos is None:
            continue
        label, confidence = fit.get(pos)
        meta = {
            "class-name": b.spec.labels[label],
            "job-name": b.job,
            "confidence": confidence,
            "type": b.spec.task_type.output_type,
            "human-annotated": "yes",
            "creation-date": b.clock(),
        }
        out[it.idx] = {b.attr: label, b.meta: text_single_metadata(meta) if text else meta}
    return out


def multi_choices(b: Builder, it: ObjectAnswers) -> list[tuple[str, list[int]]]:
    choices: list[tuple[str, list[int]]] = []
    for a in it.answers:
        el = b._element(it, a)
        if el is None:
            continue
        raw = el.get("labels")
        if not isinstance(raw, list):
            b._problem(it, a.worker_id, "labels", "missing or not a list")
            continue
        bad = [x for x in raw if x not in b.class_id]
        for x in bad:
            b._problem(it, a.worker_id, "labels", f"{x!r} is not one of the job's labels")
        choices.append((a.worker_id, [b.class_id[x] for x in raw if x in b.class_id]))
    return choices


def add_multi(b: Builder, fit: MultiFit, items: Sequence[ObjectAnswers]) -> None:
    """Pass 1 of multi-label jobs."""
    for it in items:
        fit.add(it.idx, multi_choices(b, it))


def multi_records(b: Builder, fit: MultiFit, items: Sequence[ObjectAnswers]) -> dict[int, dict[str, Any]]:
    """Per-label EM over the whole job (``gtcore.consolidation.multilabel``; it beat per-label agreement
    on every simulated crowd of bench/bench_crowd.py); objects with one valid answer keep it (confidence 0)."""
    assert fit.yes is not None
    out: dict[int, dict[str, Any]] = {}
    for it, pos in zip(items, fit.positions([it.idx for it in items]), strict=True):
        if pos is None:
            r = cons.consolidate_multilabel([list(ch) for _w, ch in multi_choices(b, it)])
        else:
            r = result_of(fit.yes[:, pos])
        out[it.idx] = {
            b.attr: list(r.labels),
            b.meta: {
                "class-map": {str(c): b.spec.labels[c] for c in r.labels},
                "confidence-map": {str(c): r.confidence[c] for c in r.labels},
                "type": b.spec.task_type.output_type,
                "job-name": b.job,
                "human-annotated": "yes",
                "creation-date": b.clock(),
            },
        }
    return out
