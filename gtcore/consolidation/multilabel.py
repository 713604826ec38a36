"""Multi-label consolidation by EM per label (pure numpy, no I/O).

Each label is its own yes/no question: a worker "said yes" to label ``c`` on an item when ``c`` is among his
choices, "no" otherwise. ``multilabel_em`` fits ``gtcore.consolidation.em`` (a 2 x 2 confusion matrix per worker
and label, same priors as single-label) over every item with 2+ answers, per label; a label is in the result
when its posterior of "yes" is above 0.5, with that posterior (rounded, capped at 0.95) as its confidence.
Items answered by one worker keep his choices with confidence 0 (as ``consolidate_multilabel``).

Measured against per-label agreement on simulated crowds in ``bench/bench_crowd.py --part multilabel``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from gtcore.consolidation import em
from gtcore.consolidation.classification import CONFIDENCE_CAP, MultiResult, consolidate_multilabel

ItemChoices = Sequence[tuple[Hashable, Sequence[int]]]  # one item: (worker key, chosen class indices)


def multilabel_em(items: Sequence[ItemChoices], k: int) -> list[MultiResult]:
    """Consolidated labels of every item (see the module docstring), in order."""
    index: dict[Hashable, int] = {}
    it_l: list[int] = []
    wk_l: list[int] = []
    chosen: list[set[int]] = []
    fit_pos: dict[int, int] = {}
    for i, answers in enumerate(items):
        if len(answers) < 2:
            continue
        fit_pos[i] = len(fit_pos)
        for w, choice in answers:
            bad = [c for c in choice if type(c) is not int or not 0 <= c < k]
            if bad:
                raise ValueError(f"item {i}: class index {bad[0]!r} outside 0..{k - 1}")
            it_l.append(fit_pos[i])
            wk_l.append(index.setdefault(w, len(index)))
            chosen.append(set(choice))
    said = np.zeros((len(chosen), k), dtype=np.uint8)
    for j, ch in enumerate(chosen):
        for c in ch:
            said[j, c] = 1
    yes = yes_posterior(np.array(it_l, dtype=np.int64), np.array(wk_l, dtype=np.int64), said, len(fit_pos), len(index))
    out: list[MultiResult] = []
    for i, answers in enumerate(items):
        pos = fit_pos.get(i)
        out.append(consolidate_multilabel([list(ch) for _w, ch in answers]) if pos is None else result_of(yes[:, pos]))
    return out


def yes_posterior(item: np.ndarray, worker: np.ndarray, said: np.ndarray, n_items: int, n_workers: int) -> np.ndarray:
    """(k, n_items) posterior of "yes" per label; ``said`` is (answers, k) 0/1 (answers of items with 2+ answers)."""
    k = said.shape[1]
    yes = np.zeros((k, n_items))
    if n_items:
        for c in range(k):
            model = em.fit(item, worker, said[:, c].astype(np.int64), n_items, n_workers, 2)
            yes[c] = model.posterior[:, 1]
    return yes


def result_of(p: np.ndarray) -> MultiResult:
    """One fitted item's result from its (k,) posterior of "yes" per label."""
    k = len(p)
    present = [c for c in range(k) if p[c] > 0.5]
    present.sort(key=lambda c: (-p[c], c))
    return MultiResult(present, {c: min(round(float(p[c]), 2), CONFIDENCE_CAP) for c in present})
