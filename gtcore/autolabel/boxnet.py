"""The built-in box detector: a small centre-based head (CenterNet-like) on the backbone's stored feature maps.

- Input (``boxmaps``): the backbone's maps of strides 8, 16 and 32 of the image reduced to at most
  ``boxmaps.SIDE`` px, computed once per image and stored. Every cell of the stride-8 grid gets one vector: the
  stride-8 map there and the stride-16 and stride-32 maps bilinearly enlarged to that grid (``CELL_DIM`` values),
  so a cell sees both fine detail and a wide context; one grid serves every object size (an object of 15 px in
  a 1600 px image is about 7 network px, one cell).
- Targets: per label a heat map, a Gaussian around each object's centre (sigma a sixth of its size in cells, at
  least half a cell), as CenterNet; on the cells near the centre (heat over 0.3) the box: the centre's offset from
  the cell and the log of width and height in cells.
- Head: a two-layer perceptron per cell (``HIDDEN``), trained with Adam on sampled cells (every cell near an object
  plus random background cells of each image, at most ``CELLS_PER_IMAGE``): the penalty-reduced focal loss of
  CenterNet on the heat maps, smooth L1 on the box weighted by the heat. Torch trains it; the saved arrays run
  in numpy (``detect``), so inference needs no torch.
- Output: the cells that are local maxima (3 x 3) of a label's heat and at least ``PEAK``, decoded to boxes,
  non-maximum suppression over all labels (IoU ``NMS_IOU``), boxes from ``KEEP`` kept. The image's confidence
  (``confidence``) is the least sure kept box's score times one minus the strongest doubtful peak's: every kept
  box must be sure and every doubtful peak surely background, or the image goes to people.

Memory: training keeps only the sampled cells (float16); inference one image's grid at a time. The model is
arrays saved as ``.npz`` (``allow_pickle=False``), with the backbone's key in its metadata.
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gtcore.autolabel.boxmaps import Maps
from gtcore.autolabel.classifier import TrainingError
from gtcore.autolabel.detector import Detection, Labeled, iou

FORMAT = "gtcore-autolabel-boxnet-v2"
S = 8
CELL_DIM = 40 + 112 + 320
HIDDEN = (128, 64)
CELLS_PER_IMAGE = 320  # background cells sampled per image (the cells near objects are added)
NEAR_PER_IMAGE = 400  # at most this many cells near objects per image (the heat's peaks always)
STEPS = 800
BATCH = 512
PEAK = 0.05
KEEP = 0.5
NMS_IOU = 0.5


def _axis(n: int, n0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear sampling of ``n`` cells from ``n0`` (half-pixel centres, torch's ``align_corners=False``)."""
    pos = np.clip((np.arange(n) + 0.5) * n0 / n - 0.5, 0, n0 - 1)
    lo = np.floor(pos).astype(np.int64)
    return lo, np.minimum(lo + 1, n0 - 1), (pos - lo).astype(np.float32)


def _up(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """(C, h0, w0) -> (C, h, w), bilinear."""
    c, h0, w0 = a.shape
    if (h0, w0) == (h, w):
        return a.astype(np.float32)
    y0, y1, wy = _axis(h, h0)
    x0, x1, wx = _axis(w, w0)
    a = a.astype(np.float32)
    rows = a[:, y0] * (1 - wy)[None, :, None] + a[:, y1] * wy[None, :, None]
    return np.asarray(rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx, dtype=np.float32)


def _at(a: np.ndarray, h: int, w: int, idx: np.ndarray) -> np.ndarray:
    """(C, h0, w0) bilinearly enlarged to (h, w), read only at the flat cells ``idx``: (N, C)."""
    c, h0, w0 = a.shape
    gy, gx = idx // w, idx % w
    y0, y1, wy = (v[gy] for v in _axis(h, h0))
    x0, x1, wx = (v[gx] for v in _axis(w, w0))
    a = a.astype(np.float32)
    out = (a[:, y0, x0] * (1 - wx) + a[:, y0, x1] * wx) * (1 - wy) + (a[:, y1, x0] * (1 - wx) + a[:, y1, x1] * wx) * wy
    return np.asarray(out.T, dtype=np.float32)


def cells(m: Maps, idx: np.ndarray | None = None) -> np.ndarray:
    """(N, CELL_DIM) float32: the vectors of the stride-8 grid's cells ``idx`` (flat; all when None)."""
    h, w = m.maps[8].shape[1:]
    idx = np.arange(h * w) if idx is None else np.asarray(idx, dtype=np.int64)
    return np.concatenate([_at(m.maps[s], h, w, idx) for s in (8, 16, 32)], axis=1)


def targets(
    shape: tuple[int, int], truth: Sequence[Labeled], n_labels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(heat (H, W, L), box targets (H, W, 4), box weights (H, W)) of boxes in network pixels."""
    h, w = shape
    heat = np.zeros((h, w, n_labels), np.float32)
    reg = np.zeros((h, w, 4), np.float32)
    regw = np.zeros((h, w), np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    for t in truth:
        x, y, bw, bh = t.box
        if bw <= 0 or bh <= 0 or not 0 <= t.label < n_labels:
            continue
        cx, cy, wc, hc = (x + bw / 2) / S, (y + bh / 2) / S, bw / S, bh / S
        sx, sy = max(0.5, wc / 6), max(0.5, hc / 6)
        g = np.exp(-((xs - cx) ** 2 / (2 * sx * sx) + (ys - cy) ** 2 / (2 * sy * sy)))
        iy, ix = min(h - 1, max(0, int(cy))), min(w - 1, max(0, int(cx)))
        g[iy, ix] = 1.0  # the centre's cell is the object's peak
        heat[:, :, t.label] = np.maximum(heat[:, :, t.label], g)
        near = (g > 0.3) & (g >= regw)
        reg[near] = np.stack(
            [(cx - xs)[near], (cy - ys)[near], np.full(near.sum(), math.log(max(wc, 0.2))),
             np.full(near.sum(), math.log(max(hc, 0.2)))], axis=1,
        )  # fmt: skip
        regw[near] = g[near]
    return heat, reg, regw


def samples(
    m: Maps, truth: Sequence[Labeled], n_labels: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(cells float16 (N, D), heat (N, L), box targets (N, 4), box weights (N,)) sampled from one image's maps;
    ``truth`` in the network's pixels."""
    h, w = m.maps[8].shape[1:]
    heat, reg, regw = targets((h, w), truth, n_labels)
    flat_heat = heat.reshape(-1, n_labels).max(axis=1)
    near = np.flatnonzero(flat_heat > 0.05)
    if len(near) > NEAR_PER_IMAGE:
        peaks = near[flat_heat[near] >= 0.999]
        near = np.union1d(peaks, rng.choice(near, NEAR_PER_IMAGE, replace=False))
    bg = rng.choice(h * w, min(h * w, CELLS_PER_IMAGE), replace=False)
    idx = np.union1d(near, bg)
    return (
        cells(m, idx).astype(np.float16),
        heat.reshape(-1, n_labels)[idx],
        reg.reshape(-1, 4)[idx],
        regw.ravel()[idx],
    )


@dataclass
class BoxNet:
    weights: list[np.ndarray]  # W1, b1, W2, b2, W3, b3 (the last layer: n_labels heat logits, then 4 box values)
    mean: np.ndarray
    scale: np.ndarray
    n_labels: int
    meta: dict[str, Any] = field(default_factory=dict)

    def outputs(self, m: Maps) -> tuple[np.ndarray, np.ndarray]:
        """(heat (H, W, L) in 0..1, box values (H, W, 4)) of an image's grid. The first layer is linear, and so is
        the bilinear enlarging: each map is projected at its own resolution, then enlarged (the same numbers as
        projecting the enlarged cells, at a fraction of the cost)."""
        h, w = m.maps[8].shape[1:]
        w1 = self.weights[0] / self.scale[:, None]
        hid = self.weights[1] - (self.mean / self.scale) @ self.weights[0]
        x = np.zeros((w1.shape[1], h, w), np.float32)
        at = 0
        for s in (8, 16, 32):
            a = m.maps[s].astype(np.float32)
            c = a.shape[0]
            x += _up(np.tensordot(w1[at : at + c].T, a, axes=1), h, w)
            at += c
        z = np.maximum(x.reshape(len(hid), -1).T + hid, 0.0)
        ws = self.weights
        for k in range(2, len(ws) - 2, 2):
            z = np.maximum(z @ ws[k] + ws[k + 1], 0.0)
        out = z @ ws[-2] + ws[-1]
        heat = 1.0 / (1.0 + np.exp(-np.clip(out[:, : self.n_labels], -30, 30)))
        return heat.reshape(h, w, self.n_labels), out[:, self.n_labels :].reshape(h, w, 4)

    def detect_maps(self, m: Maps) -> tuple[list[Detection], float]:
        """Boxes in the original image's pixels and the image's confidence."""
        from scipy.ndimage import maximum_filter

        heat, box = self.outputs(m)
        local = heat == maximum_filter(heat, size=(3, 3, 1), mode="constant")
        fx, fy = m.to_original()
        peaks: list[tuple[float, int, tuple[float, float, float, float]]] = []
        for gy, gx, c in np.argwhere(local & (heat >= PEAK)):
            dx, dy, lw, lh = (float(v) for v in box[gy, gx])
            bw, bh = S * math.exp(min(6.0, max(-3.0, lw))), S * math.exp(min(6.0, max(-3.0, lh)))
            cx, cy = (gx + 0.5 + dx) * S, (gy + 0.5 + dy) * S
            peaks.append((float(heat[gy, gx, c]), int(c), ((cx - bw / 2) * fx, (cy - bh / 2) * fy, bw * fx, bh * fy)))
        kept: list[tuple[float, int, tuple[float, float, float, float]]] = []
        for p in sorted(peaks, key=lambda t: -t[0]):
            if all(iou(k[2], p[2]) < NMS_IOU for k in kept):
                kept.append(p)
        found = [Detection(c, b, sc) for sc, c, b in kept if sc >= KEEP]
        return found, confidence([p[0] for p in peaks])

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        arrays: dict[str, Any] = {f"w{k}": v for k, v in enumerate(self.weights)}
        np.savez(
            buf,
            **arrays,
            mean=self.mean,
            scale=self.scale,
            n_labels=np.array([self.n_labels]),
            meta=np.frombuffer(json.dumps(self.meta).encode(), dtype=np.uint8),
            boxnet=np.frombuffer(FORMAT.encode("ascii"), dtype=np.uint8),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> BoxNet:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            if "boxnet" not in z.files or bytes(z["boxnet"]).decode("ascii") != FORMAT:
                raise ValueError(f"not a {FORMAT} model (a box model of an earlier version is not read)")
            n = len([f for f in z.files if f.startswith("w")])
            weights = [np.asarray(z[f"w{k}"], dtype=np.float32) for k in range(n)]
            meta = json.loads(bytes(z["meta"]).decode())
            return cls(
                weights, z["mean"].astype(np.float32), z["scale"].astype(np.float32), int(z["n_labels"][0]), meta
            )


def confidence(peaks: Sequence[float]) -> float:
    """The image's confidence from its peaks' scores: the least sure kept box times how surely the strongest
    doubtful peak is background, ``min(kept) x (1 - max(doubtful))``; 0 when no box is kept (an image where
    nothing is found goes to people). Measured on ``make_scenes.py`` (116 labeled images, 50 held out): Spearman
    0.61 with the image's IoU, where the lowest ``max(p, 1 - p)`` over the peaks had 0.23."""
    kept = [p for p in peaks if p >= KEEP]
    doubt = max((p for p in peaks if p < KEEP), default=0.0)
    return float(min(kept, default=0.0) * (1.0 - doubt))


def is_boxnet(data: bytes) -> bool:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return "boxnet" in z.files
    except (ValueError, OSError):
        return False


def fit(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], n_labels: int, meta: dict) -> BoxNet:
    """Train the head on the images' sampled cells (``samples``); ``TrainingError`` without any human box."""
    if not parts or not any((p[1] >= 0.999).any() for p in parts):
        raise TrainingError("no human box to learn from yet")
    import torch

    t0 = time.perf_counter()
    x = np.concatenate([p[0] for p in parts])
    heat = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    reg = torch.from_numpy(np.concatenate([p[2] for p in parts]))
    regw = torch.from_numpy(np.concatenate([p[3] for p in parts]))
    mean = x[: min(len(x), 50_000)].astype(np.float32).mean(axis=0)
    scale = x[: min(len(x), 50_000)].astype(np.float32).std(axis=0) + 1e-3
    xt = torch.from_numpy(x)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    layers: list[Any] = []
    d = x.shape[1]
    for hdim in HIDDEN:
        layers += [torch.nn.Linear(d, hdim), torch.nn.ReLU()]
        d = hdim
    layers.append(torch.nn.Linear(d, n_labels + 4))
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=STEPS)
    mu, sd = torch.from_numpy(mean), torch.from_numpy(scale)
    for _ in range(STEPS):
        b = torch.randint(0, len(x), (min(BATCH, len(x)),), generator=gen)
        out = net((xt[b].float() - mu) / sd)
        loss = _focal(out[:, :n_labels], heat[b]) + _box_loss(out[:, n_labels:], reg[b], regw[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    weights: list[np.ndarray] = []
    for layer in net:
        if isinstance(layer, torch.nn.Linear):
            weights += [layer.weight.detach().numpy().T.copy(), layer.bias.detach().numpy().copy()]
    info = {
        **meta,
        "model": "boxnet",
        "n_out": n_labels + 1,
        "images": len(parts),
        "cells": len(x),
        "seconds": time.perf_counter() - t0,
    }
    return BoxNet(weights, mean, scale, n_labels, info)


def _focal(logit: Any, y: Any) -> Any:
    """CenterNet's penalty-reduced focal loss (alpha 2, beta 4), per object."""
    import torch

    p = torch.sigmoid(logit).clamp(1e-4, 1 - 1e-4)
    pos = (y >= 0.999).float()
    lp = -((1 - p) ** 2 * torch.log(p) * pos).sum()
    ln = -((1 - y) ** 4 * p**2 * torch.log(1 - p) * (1 - pos)).sum()
    return (lp + ln) / pos.sum().clamp(min=1.0)


def _box_loss(out: Any, target: Any, weight: Any) -> Any:
    import torch

    per = torch.nn.functional.smooth_l1_loss(out, target, reduction="none").sum(dim=1)
    return (per * weight).sum() / weight.sum().clamp(min=1.0)
