"""One-sided confidence bounds the loop's threshold rests on (``rules.choose_threshold``, ``rules.check_round``):
Clopper-Pearson bounds of a proportion (machine labels right or wrong), the same corrected for human labels that
are each right only with a known probability (``noisy_lower_bound``), and a seeded Poisson bootstrap of a mean
(IoU). Pure functions; scipy and numpy are imported lazily (the ``autolabel`` extra)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gtcore.core.autolabeling import CONFIDENCE

BOOTSTRAP_DRAWS = 1000
BOOTSTRAP_SEED = 20260


def accuracy_lower_bound(right: float, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson lower bound of a proportion (``right`` of ``n``)."""
    from scipy.stats import beta

    k = round(right)
    if n <= 0 or k <= 0:
        return 0.0
    return float(beta.ppf(1.0 - confidence, k, n - k + 1))


def noisy_lower_bound(agree: float, n: int, label_right: Sequence[float], confidence: float = CONFIDENCE) -> float:
    """One-sided lower bound of the machine labels' accuracy against the TRUTH from their agreement (``agree`` of
    ``n``) with human labels each right only with probability ``label_right`` (the consolidation's posterior,
    ``posterior``). With labels all sure it is plain Clopper-Pearson.

    Otherwise, given the labels' probabilities ``q_i``: the model's errors on objects it never saw are independent
    of the annotators', so object i agrees with probability ``acc*q_i + (1-acc)*r_i``, where ``r_i <= 1-q_i`` is
    the chance that a wrong label equals the model's wrong class. The agreements are independent Bernoulli draws,
    so Clopper-Pearson bounds their mean ``A`` (Hoeffding: a sum of unequal Bernoullis is no more spread than the
    binomial of the same mean), and ``A <= (1-q) + acc*(2q-1)`` with ``q`` the mean of the ``q_i`` gives
    ``acc >= (A - (1-q)) / (2q - 1)`` (for q > 1/2). The one assumption beyond the Clopper-Pearson one is that the
    posteriors are not over-modest; Dawid-Skene's tend to be over-confident, which only makes the bound lower."""
    if n <= 0:
        return 0.0
    a = accuracy_lower_bound(agree, n, confidence)
    q = sum(min(1.0, max(0.0, float(x))) for x in label_right) / max(1, len(label_right))
    if q >= 1.0 or q <= 0.5:
        return a
    return min(1.0, max(a, (a - (1.0 - q)) / (2.0 * q - 1.0)))


def accuracy_upper_bound(right: float, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson upper bound of a proportion (``right`` of ``n``)."""
    from scipy.stats import beta

    k = round(right)
    if n <= 0 or k >= n:
        return 1.0
    return float(beta.ppf(confidence, k + 1, n - k))


def bootstrap_prefix_means(scores: Sequence[float]) -> Any:
    """(draws x n) means of every prefix of ``scores`` under Poisson(1) resampling weights (seeded: the same
    scores give the same bound, so a retried step chooses the same threshold)."""
    import numpy as np

    s = np.asarray(scores, dtype=float)
    w = np.random.default_rng(BOOTSTRAP_SEED).poisson(1.0, size=(BOOTSTRAP_DRAWS, len(s))).astype(float)
    sums, counts = np.cumsum(w * s, axis=1), np.cumsum(w, axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1.0), 0.0)


def mean_lower_bound(scores: Sequence[float], confidence: float = CONFIDENCE) -> float:
    """One-sided bootstrap lower bound of the mean of ``scores`` (IoU in [0, 1])."""
    import numpy as np

    if not scores:
        return 0.0
    return float(np.quantile(bootstrap_prefix_means(scores)[:, -1], 1.0 - confidence))


def mean_upper_bound(scores: Sequence[float], confidence: float = CONFIDENCE) -> float:
    import numpy as np

    if not scores:
        return 1.0
    return float(np.quantile(bootstrap_prefix_means(scores)[:, -1], confidence))
