"""Ground Truth's published "modified Dawid-Skene" (groundtruth-reference.md §5.2), kept as a reference.

This was the product's single-label EM until issue 17; it is no longer used for output (see
``gtcore.consolidation.em``) but stays for ``bench/bench_crowd.py``, which measures it side by side.

- Items answered by one worker are not fitted: they get that answer and confidence 0.
- Start: item posteriors = vote shares; matrices ``prior_matrix(0.7)`` (diagonal 0.7, off-diagonal ``0.3/(K-1)``).
- M-step: soft counts ``N_w[true, given]`` smoothed with
  ``prior_matrix(acc_w) * n_w + prior_matrix(mean_acc) * n_w / 2`` (``n_w`` the worker's answers,
  ``acc_w`` his soft accuracy), rows normalised; class prior = mean posterior.
- E-step: posterior ∝ prior × Π_w C_w[true, given]. At most 20 epochs or a relative log-likelihood change < 1e-8.

Diagnosis (issue 17): the pseudo-counts grow with the worker's own count, so every matrix is effectively one
number; spammers and adversaries keep looking 0.2-0.3 accurate and their votes count for the class they name.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

EM_INITIAL_ACCURACY = 0.7
EM_MAX_EPOCHS = 20
EM_TOLERANCE = 1e-8
_ACC_CLIP = (1e-3, 1 - 1e-3)


def prior_matrix(accuracy: float, k: int) -> np.ndarray:
    """K x K matrix with ``accuracy`` on the diagonal and the rest spread evenly on each row."""
    if k == 1:
        return np.ones((1, 1))
    m = np.full((k, k), (1.0 - accuracy) / (k - 1))
    np.fill_diagonal(m, accuracy)
    return m


def modified_dawid_skene(
    items: Sequence[Sequence[tuple[Hashable, int]]],
    k: int,
    *,
    max_epochs: int = EM_MAX_EPOCHS,
    tol: float = EM_TOLERANCE,
    acc0: float = EM_INITIAL_ACCURACY,
) -> np.ndarray:
    """Posterior (n_items, K) of items with at least 2 answers, fitted together."""
    worker_index: dict[Hashable, int] = {}
    it_l: list[int] = []
    wk_l: list[int] = []
    cl_l: list[int] = []
    for i, votes in enumerate(items):
        for w, c in votes:
            it_l.append(i)
            wk_l.append(worker_index.setdefault(w, len(worker_index)))
            cl_l.append(c)
    it, wk, cl = np.array(it_l), np.array(wk_l), np.array(cl_l)
    n_items, n_workers = len(items), len(worker_index)
    n_w = np.bincount(wk, minlength=n_workers).astype(float)
    post = np.zeros((n_items, k))
    np.add.at(post, (it, cl), 1.0)
    post /= post.sum(axis=1, keepdims=True)
    acc = np.full(n_workers, acc0)
    prev_ll: float | None = None
    for _epoch in range(max_epochs):
        given = np.zeros((n_workers, k, k))  # given[w, answered, true]
        np.add.at(given, (wk, cl), post[it])
        counts = given.transpose(0, 2, 1)
        mean_acc = float(acc.mean())
        smooth = np.stack([prior_matrix(a, k) for a in acc]) * n_w[:, None, None]
        smooth += prior_matrix(mean_acc, k)[None, :, :] * (n_w[:, None, None] / 2.0)
        conf = counts + smooth
        conf /= conf.sum(axis=2, keepdims=True)
        prior = np.clip(post.mean(axis=0), 1e-12, None)
        log_post = np.tile(np.log(prior), (n_items, 1))
        np.add.at(log_post, it, np.log(conf[wk, :, cl]))
        top = log_post.max(axis=1, keepdims=True)
        expd = np.exp(log_post - top)
        norm = expd.sum(axis=1, keepdims=True)
        post = expd / norm
        ll = float((np.log(norm) + top).sum())
        agree = np.bincount(wk, weights=post[it, cl], minlength=n_workers)
        acc = np.clip(agree / n_w, *_ACC_CLIP)
        if prev_ll is not None and abs(ll - prev_ll) <= tol * abs(prev_ll):
            break
        prev_ll = ll
    return post
