"""The hard simulated crowd of issue 17, shared by ``bench_crowd.py`` (and usable from a REPL).

``simulate(seed, n_items)`` draws, with ``numpy.random.default_rng(seed)``:

- ``K`` = 10 classes, true classes uniform; each class ``c`` has a look-alike ``c ^ 1`` (0<->1, 2<->3, ...).
- 500 workers; activity weights lognormal(0, 1); each item gets 3 *distinct* workers drawn with probability
  proportional to the weights (Gumbel top-3), so a few workers give hundreds of answers and many give a few.
- Worker mix (by position after a shuffle): 50 % good (accuracy U(0.75, 0.95); half of their errors go to the
  true class's look-alike, the rest uniformly to the other classes), 20 % mediocre (accuracy U(0.45, 0.65),
  errors uniform), 15 % uniform spammers (any class, truth ignored), 5 % constant spammers (always one class),
  10 % adversaries (80 % of the time a fixed derangement of the truth, otherwise a uniform class).
- Every worker's true confusion matrix ``C[w, true, given]`` is returned, so the oracle (Bayes rule with the
  true matrices and the true uniform prior) is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

K = 10
N_WORKERS = 500
PER_ITEM = 3
KINDS = ("good", "mediocre", "uniform spammer", "constant spammer", "adversary")
SHARES = (0.50, 0.20, 0.15, 0.05, 0.10)


@dataclass
class Crowd:
    truth: np.ndarray  # (n_items,)
    item: np.ndarray  # (n_answers,) item index, ascending
    worker: np.ndarray  # (n_answers,) worker index
    label: np.ndarray  # (n_answers,) given class
    conf: np.ndarray  # (n_workers, K, K) true confusion matrices
    kind: list[str]  # per worker

    def votes(self) -> list[list[tuple[str, int]]]:
        """Items as ``[(worker id, class), ...]`` lists (the product's API)."""
        out: list[list[tuple[str, int]]] = [[] for _ in range(len(self.truth))]
        for i, w, c in zip(self.item.tolist(), self.worker.tolist(), self.label.tolist(), strict=True):
            out[i].append((f"w{w}", c))
        return out


def _matrices(rng: np.random.Generator, n_workers: int, k: int) -> tuple[np.ndarray, list[str]]:
    counts = [round(s * n_workers) for s in SHARES]
    counts[0] += n_workers - sum(counts)
    kinds = [kd for kd, n in zip(KINDS, counts, strict=True) for _ in range(n)]
    rng.shuffle(kinds)
    conf = np.zeros((n_workers, k, k))
    look = np.arange(k) ^ 1
    for w, kd in enumerate(kinds):
        m = conf[w]
        if kd in ("good", "mediocre"):
            acc = rng.uniform(0.75, 0.95) if kd == "good" else rng.uniform(0.45, 0.65)
            m[:] = (1 - acc) / (k - 1)
            if kd == "good":  # half of the errors on the look-alike, half spread over the other k-1 classes
                m[:] = (1 - acc) / 2 / (k - 1)
                m[np.arange(k), look] += (1 - acc) / 2
            np.fill_diagonal(m, acc)
        elif kd == "uniform spammer":
            m[:] = 1.0 / k
        elif kd == "constant spammer":
            m[:, rng.integers(k)] = 1.0
        else:  # adversary: a derangement of the classes, 80 % of the time
            while True:
                perm = rng.permutation(k)
                if not np.any(perm == np.arange(k)):
                    break
            m[:] = 0.2 / k
            m[np.arange(k), perm] += 0.8
    return conf, kinds


def simulate(seed: int, n_items: int, *, k: int = K, n_workers: int = N_WORKERS, per_item: int = PER_ITEM) -> Crowd:
    rng = np.random.default_rng(seed)
    conf, kinds = _matrices(rng, n_workers, k)
    logw = rng.lognormal(0.0, 1.0, n_workers)
    logw = np.log(logw)
    truth = rng.integers(k, size=n_items)
    chosen = np.empty((n_items, per_item), dtype=np.int64)
    step = 20_000
    for s in range(0, n_items, step):
        g = logw[None, :] + rng.gumbel(size=(min(step, n_items - s), n_workers))
        chosen[s : s + step] = np.argpartition(-g, per_item, axis=1)[:, :per_item]
    item = np.repeat(np.arange(n_items), per_item)
    worker = chosen.reshape(-1)
    # draw each answer from its worker's row for the true class (inverse CDF)
    cdf = np.cumsum(conf[worker, truth[item]], axis=1)
    u = rng.random(len(item))[:, None]
    label = np.minimum((u > cdf).sum(axis=1), k - 1)
    return Crowd(truth, item, worker, label, conf, kinds)


def oracle(crowd: Crowd, k: int = K) -> np.ndarray:
    """Posterior with the true matrices and the true (uniform) class prior."""
    n = len(crowd.truth)
    logp = np.zeros((n, k))
    np.add.at(logp, crowd.item, np.log(np.clip(crowd.conf[crowd.worker, :, crowd.label], 1e-300, None)))
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=1, keepdims=True)
