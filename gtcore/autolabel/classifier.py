"""The built-in classifier: standardised features -> multinomial logistic regression (scikit-learn to fit,
numpy to predict), and its file format.

Why this learner: on 2 CPU cores it trains on a few thousand feature vectors in about a second, its
probabilities are well calibrated enough for a confidence threshold, and it is small: the fitted model is a
handful of arrays, saved as an ``.npz`` file read back with ``allow_pickle=False`` (no pickle anywhere, not even
for the product's own files).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gtcore.core.errors import GTError

FORMAT = "gtcore-autolabel-linear-v1"


class TrainingError(GTError):
    """The human labels cannot train a model (yet): the job goes on with people."""


@dataclass
class LinearModel:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (K, D)
    intercept: np.ndarray  # (K,)
    classes: np.ndarray  # (K,) the class index of each row
    meta: dict[str, Any] = field(default_factory=dict)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Probabilities (N, n_out), columns by class index 0..n_out-1 (classes never seen get 0)."""
        z = ((np.asarray(x, dtype=np.float64) - self.mean) / self.scale) @ self.coef.T + self.intercept
        if z.shape[1] == 1:  # binary: scikit-learn keeps one row for the second class
            z = np.hstack([-z / 2, z / 2])
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        n_out = int(self.meta.get("n_out", int(self.classes.max()) + 1))
        out = np.zeros((p.shape[0], n_out))
        out[:, self.classes.astype(np.int64)] = p
        return out

    def arrays(self, prefix: str = "") -> dict[str, Any]:
        """The arrays ``to_bytes`` saves, named with ``prefix`` (a model inside another's file: ``from_bytes``)."""
        meta = json.dumps({**self.meta, "format": FORMAT}).encode("utf-8")
        parts = {"mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": self.intercept,
                 "classes": self.classes, "meta": np.frombuffer(meta, dtype=np.uint8)}  # fmt: skip
        return {prefix + k: v for k, v in parts.items()}

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, **self.arrays())
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, prefix: str = "") -> LinearModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(bytes(z[prefix + "meta"]).decode("utf-8"))
            if meta.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} model")
            return cls(
                z[prefix + "mean"],
                z[prefix + "scale"],
                z[prefix + "coef"],
                z[prefix + "intercept"],
                z[prefix + "classes"],
                meta,
            )


def fit(x: np.ndarray, y: np.ndarray, n_out: int, *, c: float = 0.5, meta: dict[str, Any] | None = None) -> LinearModel:
    """Fit on (N, D) features and class indices ``y``; ``n_out`` = number of outputs (the job's labels)."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y, dtype=np.int64)
    if len(y) < 2 or len(set(y.tolist())) < 2:
        raise TrainingError(f"the human labels so far hold {len(set(y.tolist()))} class(es); training needs two")
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=c, max_iter=1000)
    model.fit((x - mean) / scale, y)
    return LinearModel(
        mean,
        scale,
        np.asarray(model.coef_, dtype=np.float64),
        np.asarray(model.intercept_, dtype=np.float64),
        np.asarray(model.classes_, dtype=np.int64),
        {**(meta or {}), "n_out": int(n_out)},
    )


HEAD_C = (0.003, 0.01, 0.03, 0.1)  # candidate strengths of the head on backbone embeddings (inverse L2 penalty)
HEAD_FOLDS = 3


def fit_head(x: np.ndarray, y: np.ndarray, n_out: int, *, meta: dict[str, Any] | None = None) -> LinearModel:
    """The calibrated head on embeddings: logistic regression whose strength is chosen by the held-out log-loss
    of ``HEAD_FOLDS``-fold cross-validation over ``HEAD_C`` (the probabilities are then what the threshold rule
    reads as confidence); with fewer than 10 labels of a class in all, the most regularised strength."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y, dtype=np.int64)
    counts = np.bincount(y)
    counts = counts[counts > 0]
    c = HEAD_C[0]
    if len(counts) >= 2 and counts.min() >= HEAD_FOLDS and len(y) >= 10 * len(counts):
        z = np.asarray(x, dtype=np.float64)
        losses = []
        for cand in HEAD_C:
            loss = 0.0
            for tr, te in StratifiedKFold(HEAD_FOLDS, shuffle=True, random_state=0).split(z, y):
                mean, scale = z[tr].mean(axis=0), z[tr].std(axis=0) + 1e-6
                m = LogisticRegression(C=cand, max_iter=500).fit((z[tr] - mean) / scale, y[tr])
                p = m.predict_proba((z[te] - mean) / scale)
                col = {k: i for i, k in enumerate(m.classes_)}
                loss -= float(np.sum(np.log(np.clip([p[i, col.get(t, 0)] for i, t in enumerate(y[te])], 1e-9, 1))))
            losses.append(loss)
        c = HEAD_C[int(np.argmin(losses))]
    return fit(x, y, n_out, c=c, meta={**(meta or {}), "head_c": c})
