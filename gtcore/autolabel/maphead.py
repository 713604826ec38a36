"""The classification map head: a small convolutional network on the backbone's stored block-10 maps.

Why: the linear head on pooled embeddings reads where a feature is strongest, not where; letters on cluttered
backgrounds need the shape, which the pooling throws away. Measured (``bench/bench_map_head.py``, letters on
clutter, 12 classes): this head reached 67.5 % held-out accuracy with 300 labels and 87.7 % with 800, where the
linear head reached 42-56 %. The loop trains it beside the linear head each round and keeps the one that covers
more of the validation set at the target's lower bound (``learner.builtin_rival``, ``training.train``).

Network: on (112, 14, 14) maps (``clsmaps``): 1x1 conv to 64, 3x3 conv, 2x2 max-pool, 3x3 conv to 128 (batch
norm and ReLU after each), global average pool, dropout 0.3, linear to the job's labels. Training: random shifts
of up to 2 cells, AdamW (3e-3, weight decay 0.05) with a one-cycle schedule, batches of 64, a bounded budget of
about ``MAX_STEPS`` steps (epochs = ``MAX_STEPS`` / batches per epoch, between ``MIN_EPOCHS`` and
``MAX_EPOCHS``), on torch's threads pinned like the backbone's.

Calibration: ``CAL_SHARE`` of the training labels (stratified, never the validation set) is held out; the
temperature minimising their log-loss (between 0.5 and 10; 1 with fewer than ``MIN_CALIBRATION`` of them) divides
the logits, so the confidence the threshold rule reads is a probability, not the overconfident softmax of a small
net trained to zero loss, nor a sharpened one saturated at 1.0.

Ensemble: ``MEMBERS`` such networks, each with its own seed and its own held-out share, and the confidence is the
mean of their calibrated probabilities. One small net trained on a few hundred labels ranks its most confident
objects badly (a wrong answer it is sure of); members disagree there, and the mean is no longer sure. Measured
(``bench/bench_map_head.py``-style, letters on clutter, 12 classes, threshold by the product's rule on 280
validation objects): with 480 labels one net proved no threshold (bound 0.905 on its 30 most confident), three
covered 143 validation objects and 49.5 % of the pool at 97.8 % accuracy; with 780 labels 170 against 202
validation objects, 66.8 % against 78.2 % of the pool (97.4 and 98.5 % accurate). It costs ``MEMBERS`` times the
training.

File: an ``.npz`` of each member's float32 tensors (``m<j>_<name>``), their temperatures and JSON meta
(``FORMAT``), read back with ``allow_pickle=False``; a one-network file of the previous format (``FORMAT_V1``)
still loads. Like every product-saved model it is loaded only after its checksum (``models.load``).
torch is imported lazily (the ``autolabel`` extra).
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gtcore.autolabel.classifier import TrainingError

FORMAT = "gtcore-autolabel-maphead-v2"
FORMAT_V1 = "gtcore-autolabel-maphead-v1"
KIND = "builtin-classifier-maps"
HEAD = "conv head on block-10 maps"
WIDTH = 64
BATCH = 64
SHIFT = 2
MAX_STEPS = 300
MIN_EPOCHS, MAX_EPOCHS = 8, 30
# fewer training labels: the map head is not trained (the linear head labels alone). From about 100 labels it
# can already win (digits: round 3, 100 labels, covered 285 of 360 validation objects where the linear head
# covered 240); it costs a round about 10 s at 100 labels and 25 s at 300 on this 2-core machine at load 4.
MIN_LABELS = 60
CAL_SHARE = 0.15
# never sharpened below 0.5: a small held-out share that is all right pulls the temperature to the grid's end, and
# confidences saturated at 1.0 cannot be ranked (measured on photos: T 0.2 from 16 labels, a threshold of 1.0)
TEMPERATURES = np.exp(np.linspace(math.log(0.5), math.log(10.0), 60))
MIN_CALIBRATION = 30  # fewer held-out labels: temperature 1 (no evidence to move it)
MEMBERS = 3


def _torch() -> Any:
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))  # as the backbone: the machine is shared
    return torch


def network(channels: int, n_out: int) -> Any:
    from torch import nn

    w = WIDTH
    return nn.Sequential(
        nn.Conv2d(channels, w, 1), nn.BatchNorm2d(w), nn.ReLU(),
        nn.Conv2d(w, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(2 * w, n_out),
    )  # fmt: skip


@dataclass
class MapHead:
    params: list[dict[str, np.ndarray]]  # each member network's state, float32
    temperatures: list[float]  # each member's
    channels: int
    n_out: int
    meta: dict[str, Any] = field(default_factory=dict)
    _built: list[Any] = field(default_factory=list, repr=False, compare=False)

    @property
    def temperature(self) -> tuple[float, ...]:
        return tuple(self.temperatures)

    def _modules(self) -> list[Any]:
        if not self._built:
            torch = _torch()
            for params in self.params:
                net = network(self.channels, self.n_out)
                net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in params.items()}, strict=True)
                net.eval()
                self._built.append(net)
        return self._built

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (N, n_out) of (N, C, 14, 14) maps: the members' mean."""
        nets = self._modules()
        out = np.zeros((len(x), self.n_out))
        for net, t in zip(nets, self.temperatures, strict=True):
            out += _softmax(_logits(net, x, self.n_out).astype(np.float64) / t)
        return np.asarray(out / max(1, len(nets)))

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        meta = {**self.meta, "format": FORMAT, "n_out": self.n_out, "channels": self.channels}
        arrays: dict[str, Any] = {f"m{j}_{k}": v for j, p in enumerate(self.params) for k, v in p.items()}
        arrays["temperatures"] = np.array(self.temperatures, dtype=np.float64)
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> MapHead:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
            if meta.get("format") == FORMAT_V1:  # one network
                params = [{f[2:]: np.asarray(z[f], dtype=np.float32) for f in z.files if f.startswith("p_")}]
                temps = [float(z["temperature"][0])]
            elif meta.get("format") == FORMAT:
                temps = [float(t) for t in z["temperatures"]]
                params = [{} for _ in temps]
                for f in z.files:
                    head, _, name = f.partition("_")
                    if head[:1] == "m" and head[1:].isdigit() and int(head[1:]) < len(temps):
                        params[int(head[1:])][name] = np.asarray(z[f], dtype=np.float32)
            else:
                raise ValueError(f"not a {FORMAT} model")
        if not temps or not all(math.isfinite(t) and t > 0 for t in temps):
            raise ValueError("the model's temperatures are not positive numbers")
        return cls(params, temps, int(meta["channels"]), int(meta["n_out"]), meta)


def _logits(net: Any, x: np.ndarray, n_out: int) -> np.ndarray:
    torch = _torch()
    out = []
    with torch.inference_mode():
        for k in range(0, len(x), 256):
            out.append(net(torch.from_numpy(np.asarray(x[k : k + 256], dtype=np.float32))).numpy())
    return np.concatenate(out) if out else np.zeros((0, n_out), np.float32)


def is_maphead(data: bytes) -> bool:
    try:
        MapHead.from_bytes(data)
    except (ValueError, KeyError, OSError):
        return False
    return True


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return np.asarray(p / p.sum(axis=1, keepdims=True))


def temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature (of ``TEMPERATURES``) minimising the log-loss of ``logits`` against ``y``."""
    z = np.asarray(logits, dtype=np.float64)
    best, best_loss = 1.0, math.inf
    for t in TEMPERATURES:
        p = _softmax(z / t)
        loss = -float(np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))
        if loss < best_loss:
            best, best_loss = float(t), loss
    return best


def split(y: np.ndarray, share: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train, calibration) positions: ``share`` of each class held out (at least one of a class with 3+)."""
    tr, cal = [], []
    for c in np.unique(y):
        pos = rng.permutation(np.flatnonzero(y == c))
        k = int(round(len(pos) * share)) if len(pos) >= 3 else 0
        k = max(k, 1) if len(pos) >= 3 else 0
        cal += pos[:k].tolist()
        tr += pos[k:].tolist()
    return np.array(sorted(tr), dtype=np.int64), np.array(sorted(cal), dtype=np.int64)


def epochs_for(n: int) -> int:
    """The training budget for ``n`` labels: about ``MAX_STEPS`` steps, ``MIN_EPOCHS``-``MAX_EPOCHS`` epochs."""
    per_epoch = max(1, math.ceil(n / BATCH))
    return int(min(MAX_EPOCHS, max(MIN_EPOCHS, MAX_STEPS // per_epoch)))


def fit(x: np.ndarray, y: np.ndarray, n_out: int, *, meta: dict[str, Any] | None = None, seed: int = 0) -> MapHead:
    """Train ``MEMBERS`` networks on (N, C, 14, 14) maps and class indices ``y`` (seeds ``seed``, ``seed`` + 1 ...,
    each with its own held-out share); ``TrainingError`` with too few labels."""
    y = np.asarray(y, dtype=np.int64)
    if len(y) < MIN_LABELS or len(set(y.tolist())) < 2:
        raise TrainingError(f"the map head needs {MIN_LABELS} human labels of two classes or more; {len(y)} so far")
    members = [_fit_member(x, y, n_out, seed + j) for j in range(MEMBERS)]
    head = MapHead([m[0] for m in members], [m[1] for m in members], int(x.shape[1]), int(n_out), dict(meta or {}))
    head._built = [m[2] for m in members]
    first = members[0][3]
    head.meta.update(epochs=first["epochs"], trained_on=first["trained_on"], calibrated_on=first["calibrated_on"],
                     members=len(members), temperatures=head.temperatures)  # fmt: skip
    return head


def _fit_member(x: np.ndarray, y: np.ndarray, n_out: int, seed: int) -> tuple[dict[str, np.ndarray], float, Any, dict]:
    """One member: (its state, its temperature, the trained module, facts for the meta)."""
    torch = _torch()
    from torch.nn import functional as F

    rng = np.random.default_rng(seed)
    tr, cal = split(y, CAL_SHARE, rng)
    torch.manual_seed(seed)
    net = network(x.shape[1], n_out)
    epochs = epochs_for(len(tr))
    steps = epochs * math.ceil(len(tr) / BATCH)
    opt = torch.optim.AdamW(net.parameters(), 3e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps)
    xt = torch.from_numpy(np.asarray(x[tr], dtype=np.float32))
    yt = torch.from_numpy(y[tr])
    h, w = xt.shape[2:]
    padded = F.pad(xt, (SHIFT, SHIFT, SHIFT, SHIFT))
    net.train()
    for _ in range(epochs):
        order = rng.permutation(len(tr))
        for k in range(0, len(tr), BATCH):
            b = order[k : k + BATCH]
            dx, dy = rng.integers(0, 2 * SHIFT + 1, len(b)), rng.integers(0, 2 * SHIFT + 1, len(b))
            xb = torch.stack([padded[i, :, dy[j] : dy[j] + h, dx[j] : dx[j] + w] for j, i in enumerate(b)])
            loss = F.cross_entropy(net(xb), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    params = {k: v.detach().numpy().astype(np.float32).copy() for k, v in net.state_dict().items()}
    t = temperature(_logits(net, x[cal], n_out), y[cal]) if len(cal) >= MIN_CALIBRATION else 1.0
    return params, t, net, {"epochs": epochs, "trained_on": int(len(tr)), "calibrated_on": int(len(cal))}
