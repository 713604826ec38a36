"""Worker quality from a fitted single-label model (pure; for team leads, not in Ground Truth).

For each worker of ``gtcore.consolidation.em.Fit``:

- ``accuracy``: his estimated probability of giving the true class, ``sum_t prior[t] * C[t, t]``.
- ``confusion``: his most frequent mistake ``(true class, given class, share of his answers)`` from
  ``prior[t] * C[t, a]`` over ``t != a`` (None with fewer than ``MIN_ANSWERS`` answers).
- ``informativeness``: the mutual information between the truth and his answer, divided by the entropy of
  the truth (0 = his answer tells nothing, 1 = it determines the class).
- flags (only with at least ``MIN_ANSWERS`` answers and an accuracy below ``LOW_ACCURACY``), from a G-test
  of independence between the truth and his answers on his soft counts (``G = 2 * sum N log(N n / (row col))``
  against the 99 % quantile of chi-square with ``(K-1)^2`` degrees of freedom, Wilson-Hilferty):
  ``likely spammer`` when independence is not rejected (uniform or constant answers); ``likely adversary``
  when it is rejected (he consistently names a wrong class: the model turns his answers into evidence for
  the true one, but a team lead should know).
- ``gold_right`` / ``gold_answered``: his score on gold objects, when there are any.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from gtcore.consolidation.em import Fit

MIN_ANSWERS = 10
LOW_ACCURACY = 0.3
_Z99 = 2.326


@dataclass(frozen=True)
class WorkerQuality:
    worker: str
    answers: int
    accuracy: float
    informativeness: float
    confusion: tuple[str, str, float] | None
    flags: tuple[str, ...]
    gold_answered: int = 0
    gold_right: int = 0

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["confusion"] = (
            None
            if self.confusion is None
            else {"true": self.confusion[0], "given": self.confusion[1], "share": self.confusion[2]}
        )
        d["flags"] = list(self.flags)
        return d


def _info(prior: np.ndarray, conf: np.ndarray) -> np.ndarray:
    joint = prior[None, :, None] * conf  # (W, t, a)
    marg = joint.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / (prior[None, :, None] * marg)), 0.0)
    h = float(-(prior * np.log(np.maximum(prior, 1e-300))).sum())
    return terms.sum(axis=(1, 2)) / max(h, 1e-12)


def _g_test(counts: np.ndarray) -> np.ndarray:
    """True where the worker's answers depend on the truth (independence rejected at 1 %)."""
    k = counts.shape[1]
    n = counts.sum(axis=(1, 2))
    row = counts.sum(axis=2, keepdims=True)
    col = counts.sum(axis=1, keepdims=True)
    expected = row * col / np.maximum(n, 1e-12)[:, None, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        g = 2.0 * np.where(counts > 0, counts * np.log(counts / expected), 0.0).sum(axis=(1, 2))
    df = max(1, (k - 1) ** 2)
    q99 = df * (1 - 2 / (9 * df) + _Z99 * (2 / (9 * df)) ** 0.5) ** 3
    return g > q99


def worker_quality(
    model: Fit,
    workers: Sequence[Hashable],
    labels: Sequence[str],
    *,
    gold_scores: Mapping[Any, tuple[int, int]] | None = None,
) -> list[WorkerQuality]:
    """One ``WorkerQuality`` per worker, most answers first. ``gold_scores``: worker -> (right, answered)."""
    prior, conf = model.prior, model.conf
    k = len(prior)
    acc = np.einsum("t,wtt->w", prior, conf)
    info = _info(prior, conf)
    dependent = _g_test(model.counts)
    off = prior[None, :, None] * conf * (1.0 - np.eye(k))[None, :, :]
    out = []
    for w, key in enumerate(workers):
        n = int(model.answers[w])
        flags: list[str] = []
        confusion = None
        if n >= MIN_ANSWERS:
            if acc[w] >= LOW_ACCURACY:
                pass
            elif not dependent[w]:
                flags.append("likely spammer")
            else:
                flags.append("likely adversary")
            t, a = divmod(int(off[w].argmax()), k)
            confusion = (labels[t], labels[a], round(float(off[w, t, a]), 3))
        right, answered = (gold_scores or {}).get(key, (0, 0))
        out.append(WorkerQuality(str(key), n, round(float(acc[w]), 3), round(float(info[w]), 3), confusion,
                                 tuple(flags), answered, right))  # fmt: skip
    out.sort(key=lambda q: (-q.answers, q.worker))
    return out
