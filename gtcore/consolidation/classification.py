"""Annotation consolidation: pure algorithms, no I/O (groundtruth-reference.md §5).

Bounding boxes live in ``gtcore.consolidation.boxes`` (re-exported here): IoU matching per class,
averaging, support rule, per-box confidence; its docstring states the rule and thresholds.

Single-label classification (``dawid_skene``): the hierarchical Dawid-Skene EM of
``gtcore.consolidation.em`` over the whole job (full confusion matrix per worker, each row with a
fixed-strength prior centred on the worker's skill + habit and the crowd's error pattern; see there).

- Items answered by one worker are not fitted: they get that worker's answer and confidence
  ``SINGLE_WORKER_CONFIDENCE`` (0), like Ground Truth's one-worker jobs.
- Gold items (``gold={position: class}``, known answers given by the team lead) are fixed truths in the
  fit; their result is the known class with confidence ``CONFIDENCE_CAP``.
- Label = argmax posterior; ties (within 1e-12) go to the lowest class index. Confidence =
  ``round(max posterior, 2)`` clipped to ``CONFIDENCE_CAP`` (0.95, as every real output shows).
- ``fit_single_label`` returns the fitted model too (worker matrices for ``gtcore.consolidation.quality``).

Ground Truth's published variant is ``gtcore.consolidation.gt_mds.modified_dawid_skene`` (reference only).

Majority vote (``majority_vote``, the bench baseline): the most chosen class, ties to the lowest class
index, confidence = vote share; vectorised (one ``bincount``).

Multi-label: ``consolidate_multilabel`` is per-label agreement (a label is in the result when at least one
worker chose it, confidence = share of workers); ``gtcore.consolidation.multilabel`` has the per-label EM.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import NamedTuple

import numpy as np

from gtcore.consolidation import em
from gtcore.consolidation.boxes import (
    IOU_THRESHOLD,
    SINGLE_WORKER_CONFIDENCE,
    Box,
    ConsolidatedBox,
    consolidate_boxes,
    iou,
    majority,
)
from gtcore.core.gcpause import gc_paused

__all__ = [
    "CONFIDENCE_CAP",
    "IOU_THRESHOLD",
    "SINGLE_WORKER_CONFIDENCE",
    "Box",
    "ClassResult",
    "ConsolidatedBox",
    "Encoded",
    "MultiResult",
    "SingleLabelFit",
    "consolidate_boxes",
    "consolidate_multilabel",
    "dawid_skene",
    "encode",
    "fit_encoded",
    "fit_single_label",
    "iou",
    "majority",
    "majority_vote",
    "majority_vote_arrays",
]

CONFIDENCE_CAP = 0.95
_TIE = 1e-12

Number = int | float
# One item's answers: (worker key, class index) pairs.
ItemVotes = Sequence[tuple[Hashable, int]]


class ClassResult(NamedTuple):
    label: int  # class index
    confidence: Number
    posterior: tuple[float, ...] = ()


@dataclass(frozen=True)
class MultiResult:
    labels: list[int]  # class indices, most confident first
    confidence: dict[int, Number]


@dataclass
class Encoded:
    """A job's answers as parallel arrays (answers in item order)."""

    item: np.ndarray
    worker: np.ndarray
    label: np.ndarray
    workers: list[Hashable]  # worker key per worker index
    n_items: int


def _flatten(
    items: Sequence[ItemVotes], k: int, *, workers: bool = True
) -> tuple[np.ndarray, list[Hashable], np.ndarray, int]:
    """(item index per answer, worker keys per answer, classes) of every answer, validated, no per-answer loop."""
    lens = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
    if len(items) and lens.min() == 0:
        raise ValueError(f"item {int(np.argmin(lens))} has no answers")
    flat = list(chain.from_iterable(items))
    ws: list[Hashable] = [w for w, _c in flat] if workers else []
    cs = [c for _w, c in flat]
    if not set(map(type, cs)) <= {int}:
        bad = next(j for j, c in enumerate(cs) if type(c) is not int)
        raise ValueError(f"item {_item_of(lens, bad)}: class index {cs[bad]!r} outside 0..{k - 1}")
    label = np.array(cs, dtype=np.int64)
    item = np.repeat(np.arange(len(items), dtype=np.int64), lens)
    out = (label < 0) | (label >= k)
    if out.any():
        bad = int(np.argmax(out))
        raise ValueError(f"item {int(item[bad])}: class index {cs[bad]!r} outside 0..{k - 1}")
    return item, ws, label, len(items)


def _item_of(lens: np.ndarray, answer: int) -> int:
    return int(np.searchsorted(np.cumsum(lens), answer, side="right"))


def encode(items: Sequence[ItemVotes], k: int) -> Encoded:
    """Validate and flatten ``items``; raises ValueError naming the first bad item."""
    item, ws, label, n = _flatten(items, k)
    index = {w: i for i, w in enumerate(dict.fromkeys(ws))}
    worker = np.array([index[w] for w in ws], dtype=np.int64)
    return Encoded(item, worker, label, list(index), n)


def _cap(p: float) -> Number:
    return min(round(p, 2), CONFIDENCE_CAP)


def majority_vote_arrays(item: np.ndarray, label: np.ndarray, n_items: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised core of ``majority_vote``: (label, confidence) arrays; one-answer items get confidence 0."""
    counts = np.bincount(item * k + label, minlength=n_items * k).reshape(n_items, k)
    n = counts.sum(axis=1)
    labels = counts.argmax(axis=1)  # first maximum = lowest class index
    top = counts[np.arange(n_items), labels] / np.maximum(n, 1)
    conf = np.minimum(np.round(top, 2), CONFIDENCE_CAP)
    conf[n == 1] = SINGLE_WORKER_CONFIDENCE
    return labels, conf


def majority_vote(items: Sequence[ItemVotes], k: int) -> list[ClassResult]:
    """Most chosen class per item (ties: lowest class index); confidence = vote share (capped).

    ``posterior`` is left empty (the bench baseline needs only label and confidence)."""
    with gc_paused():  # 100,000s of small tuples: the cyclic collector's scans would cost more than the work
        item, _ws, label, n_items = _flatten(items, k, workers=False)
        labels, conf = majority_vote_arrays(item, label, n_items, k)
        return list(map(ClassResult, labels.tolist(), conf.tolist()))


@dataclass
class SingleLabelFit:
    results: list[ClassResult]
    model: em.Fit | None  # None when no item had 2 answers or more (nothing fitted)
    workers: list[Hashable]  # worker key per row of model.conf


def fit_single_label(items: Sequence[ItemVotes], k: int, *, gold: Mapping[int, int] | None = None) -> SingleLabelFit:
    """Hierarchical EM over every item with 2+ answers (and every gold item); one result per item, in order."""
    with gc_paused():
        return _fit_single_label(items, k, gold)


def _fit_single_label(items: Sequence[ItemVotes], k: int, gold: Mapping[int, int] | None) -> SingleLabelFit:
    enc = encode(items, k)
    arr = fit_encoded(enc, k, gold=gold)
    columns = zip(arr.label.tolist(), arr.top.tolist(), arr.fitted.tolist(), arr.rows(), strict=True)
    results = [
        ClassResult(lab, _cap(p), tuple(row or ())) if fitted else ClassResult(lab, SINGLE_WORKER_CONFIDENCE, ())
        for lab, p, fitted, row in columns
    ]
    return SingleLabelFit(results, arr.model, enc.workers)


@dataclass
class ArrayFit:
    """``fit_encoded``'s result, one entry per item: class, its posterior (fitted items), whether fitted."""

    label: np.ndarray
    top: np.ndarray
    fitted: np.ndarray
    model: em.Fit | None
    positions: np.ndarray  # item index of each row of model.posterior

    def rows(self) -> list[list[float] | None]:
        out: list[list[float] | None] = [None] * len(self.label)
        if self.model is not None:
            for i, row in zip(self.positions.tolist(), self.model.posterior.tolist(), strict=True):
                out[i] = row
        return out

    def confidence(self, i: int) -> Number:
        """Item ``i``'s confidence as in the module docstring (0 for an item with one answer)."""
        return _cap(float(self.top[i])) if self.fitted[i] else SINGLE_WORKER_CONFIDENCE


def fit_encoded(enc: Encoded, k: int, *, gold: Mapping[int, int] | None = None) -> ArrayFit:
    """The EM of ``fit_single_label`` over already encoded answers (``enc.item`` ascending), as arrays."""
    gold = dict(gold or {})
    for i, c in gold.items():
        if not 0 <= i < enc.n_items or type(c) is not int or not 0 <= c < k:
            raise ValueError(f"gold item {i}: class {c!r} is not one of 0..{k - 1} or the item does not exist")
    n_ans = np.bincount(enc.item, minlength=enc.n_items)
    fitted = n_ans >= 2
    if gold:
        fitted[list(gold)] = True
    first = np.zeros(enc.n_items, dtype=np.int64)
    first[1:] = np.cumsum(n_ans)[:-1]
    labels = enc.label[first].astype(np.int64) if enc.n_items else np.zeros(0, dtype=np.int64)
    top = np.zeros(enc.n_items)
    model = None
    fit_items = np.flatnonzero(fitted)
    if len(fit_items):
        pos = np.full(enc.n_items, -1, dtype=np.int64)
        pos[fit_items] = np.arange(len(fit_items))
        if len(fit_items) == enc.n_items:  # every item fitted: the answers as they are (no copies of 1M-row arrays)
            item, worker, label = enc.item, enc.worker, enc.label
        else:
            keep = fitted[enc.item]
            item, worker, label = pos[enc.item[keep]], enc.worker[keep], enc.label[keep]
        model = em.fit(
            item,
            worker,
            label,
            len(fit_items),
            len(enc.workers),
            k,
            gold={int(pos[i]): c for i, c in gold.items()},
        )
        post = model.posterior
        best = post.max(axis=1, keepdims=True)
        lab = (post >= best - _TIE).argmax(axis=1)
        labels[fit_items] = lab
        top[fit_items] = post[np.arange(len(fit_items)), lab]
    return ArrayFit(labels, top, fitted, model, fit_items)


def dawid_skene(items: Sequence[ItemVotes], k: int, *, gold: Mapping[int, int] | None = None) -> list[ClassResult]:
    """Consolidated class of every item (see the module docstring); one ``ClassResult`` per item, in order."""
    return fit_single_label(items, k, gold=gold).results


def consolidate_multilabel(worker_choices: Sequence[Sequence[int]]) -> MultiResult:
    """Per-label agreement: every label chosen by at least one worker, with its share as confidence."""
    n = len(worker_choices)
    if n == 0:
        return MultiResult([], {})
    counts: dict[int, int] = {}
    for choice in worker_choices:
        for c in set(choice):
            counts[c] = counts.get(c, 0) + 1
    conf: dict[int, Number] = {c: (SINGLE_WORKER_CONFIDENCE if n == 1 else _cap(cnt / n)) for c, cnt in counts.items()}
    order = sorted(counts, key=lambda c: (-counts[c], c))
    return MultiResult(order, {c: conf[c] for c in order})
