"""The built-in box detector on the pretrained backbone's feature maps (a one-stage, centre-based detector).

- Maps: the backbone (``backbone.maps``) sees the image reduced to at most ``SIDE`` px on the long side; its
  maps of strides 8, 16 and 32 make three grids (levels). Each cell's feature vector joins the three maps at
  that cell (the finer map average-pooled, the coarser one bilinearly enlarged: ``CELL_DIM`` values) and the
  level (one-hot), so one head serves every level.
- Assignment: an object belongs to the level whose stride suits its size (long side up to 64 px of the network's
  image: stride 8; up to 192: 16; larger: 32; objects of 15 px in an image of 1600 px are 5 px there and still
  get stride 8). The cells within a third of a cell of its centre (at least the centre cell) are positives of
  its label, the other cells inside it are ignored, every other cell is background (a bounded random sample).
- Heads: a multinomial logistic regression (``classifier.fit``, labels + background) for every cell, and a
  ridge regression from the positives' features to the box: the centre's offset from the cell in strides and
  the log of width and height in strides.
- Output: the cells that are local maxima (5 x 5) of a label's probability on their level, at least
  ``PEAK``; their boxes after class-wise non-maximum suppression (IoU 0.5) over all levels; a box is kept when
  its probability is at least 0.5. The image's confidence is the lowest ``max(p, 1 - p)`` over the peaks:
  every kept box must be sure and every doubtful peak must be surely background, or the image goes to people.

Memory: one image's maps at a time (about 10 MB at ``SIDE``); training keeps only sampled cell vectors
(at most ``NEG_PER_IMAGE`` background cells an image). The model is arrays saved as ``.npz``
(``allow_pickle=False``), with the backbone's key in its metadata.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gtcore.autolabel import classifier as clf
from gtcore.autolabel.detector import NMS_IOU, Detection, Labeled, iou

if TYPE_CHECKING:
    from PIL import Image

    from gtcore.autolabel.backbone import Backbone

FORMAT = "gtcore-autolabel-boxnet-v1"
SIDE = 512
LEVELS = (8, 16, 32)
LIMITS = (64.0, 192.0)  # long side (network px) up to which an object belongs to stride 8, then 16
CELL_DIM = 40 + 112 + 320 + len(LEVELS)
NEG_PER_IMAGE = 160
PEAK = 0.2
KEEP = 0.5


def _resize(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """(C, h0, w0) -> (C, h, w): average pooling when shrinking by an integer factor, else bilinear."""
    c, h0, w0 = a.shape
    if (h0, w0) == (h, w):
        return a
    if h0 > h and h0 % h == 0 and w0 % w == 0:
        fy, fx = h0 // h, w0 // w
        return a.reshape(c, h, fy, w, fx).mean(axis=(2, 4))
    from scipy.ndimage import zoom

    return np.asarray(zoom(a, (1, h / h0, w / w0), order=1), dtype=np.float32)


def cell_grids(maps: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """{stride: (H, W, CELL_DIM)} of one image's maps."""
    out = {}
    for k, s in enumerate(LEVELS):
        h, w = maps[s].shape[1:]
        parts = [_resize(maps[t], h, w) for t in LEVELS]
        onehot = np.zeros((len(LEVELS), h, w), np.float32)
        onehot[k] = 1.0
        out[s] = np.concatenate(parts + [onehot]).transpose(1, 2, 0).astype(np.float32)
    return out


def level_of(w: float, h: float) -> int:
    m = max(w, h)
    return LEVELS[0] if m <= LIMITS[0] else LEVELS[1] if m <= LIMITS[1] else LEVELS[2]


def _targets(box: tuple[float, float, float, float], s: int, cy: int, cx: int) -> list[float]:
    x, y, w, h = box
    dx, dy = (x + w / 2) / s - (cx + 0.5), (y + h / 2) / s - (cy + 0.5)
    return [dx, dy, math.log(max(w, 1.0) / s), math.log(max(h, 1.0) / s)]


def _decode(d: Sequence[float], s: int, cy: int, cx: int) -> tuple[float, float, float, float]:
    w = s * math.exp(max(-3.0, min(5.0, d[2])))
    h = s * math.exp(max(-3.0, min(5.0, d[3])))
    return ((cx + 0.5 + d[0]) * s - w / 2, (cy + 0.5 + d[1]) * s - h / 2, w, h)


def _within(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """The intersection over the smaller box (a box found again inside another of the same label)."""
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / max(1e-9, min(a[2] * a[3], b[2] * b[3]))


def samples(
    grids: dict[int, np.ndarray], truth: Sequence[Labeled], n_labels: int, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[int], list[np.ndarray], list[list[float]]]:
    """(cell vectors, classes, positive vectors, box targets) of one image; ``truth`` in network pixels."""
    xs: list[np.ndarray] = []
    ys: list[int] = []
    px: list[np.ndarray] = []
    pt: list[list[float]] = []
    for s, g in grids.items():
        h, w, _ = g.shape
        state = np.zeros((h, w), np.int8)  # 0 background, 1 positive, 2 ignored
        for t in truth:
            x, y, bw, bh = t.box
            if bw <= 0 or bh <= 0:
                continue
            x0, y0 = max(0, int(x // s)), max(0, int(y // s))
            x1, y1 = min(w - 1, int((x + bw) // s)), min(h - 1, int((y + bh) // s))
            mine = level_of(bw, bh) == s
            if mine:  # the rest of the object's cells on its own level are neither object nor background
                inside = state[y0 : y1 + 1, x0 : x1 + 1]
                inside[inside == 0] = 2
            cx, cy = (x + bw / 2) / s, (y + bh / 2) / s
            rx, ry = max(0.5, bw / s / 3), max(0.5, bh / s / 3)
            for gy in range(max(0, int(cy - ry)), min(h, int(cy + ry) + 1)):
                for gx in range(max(0, int(cx - rx)), min(w, int(cx + rx) + 1)):
                    if abs(gx + 0.5 - cx) <= rx and abs(gy + 0.5 - cy) <= ry or (gx, gy) == (int(cx), int(cy)):
                        if not mine:  # an object of another size: background on this level (a hard negative)
                            if state[gy, gx] == 0:
                                state[gy, gx] = 3
                                xs.append(g[gy, gx])
                                ys.append(n_labels)
                            continue
                        state[gy, gx] = 1
                        xs.append(g[gy, gx])
                        ys.append(t.label)
                        px.append(g[gy, gx])
                        pt.append(_targets(t.box, s, gy, gx))
        bg = np.flatnonzero(state.ravel() == 0)
        take: Any = rng.choice(bg, min(len(bg), NEG_PER_IMAGE // len(grids)), replace=False) if len(bg) else []
        flat = g.reshape(-1, g.shape[2])
        xs += [flat[i] for i in take]
        ys += [n_labels] * len(take)
    return xs, ys, px, pt


@dataclass
class BoxNet:
    scorer: clf.LinearModel  # n_labels + 1 outputs, the last is background
    reg_w: np.ndarray  # (CELL_DIM + 1, 4) on the scorer's standardised features
    n_labels: int

    @property
    def meta(self) -> dict[str, Any]:
        return self.scorer.meta

    def detect_maps(self, maps: dict[int, np.ndarray], scale: tuple[float, float]) -> tuple[list[Detection], float]:
        """Boxes (in the pixels of the image the maps were made from: network px / ``scale``) and the confidence."""
        from scipy.ndimage import maximum_filter

        peaks: list[tuple[float, int, tuple[float, float, float, float]]] = []
        for s, g in cell_grids(maps).items():
            h, w, d = g.shape
            flat = g.reshape(-1, d)
            probs = self.scorer.scores(flat)
            obj = probs[:, : self.n_labels].reshape(h, w, self.n_labels)
            local = obj == maximum_filter(obj, size=(5, 5, 1), mode="constant")
            cand = np.argwhere(local & (obj >= PEAK))
            if not len(cand):
                continue
            z = (flat[cand[:, 0] * w + cand[:, 1]] - self.scorer.mean) / self.scorer.scale
            deltas = np.hstack([z, np.ones((len(z), 1))]) @ self.reg_w
            for (gy, gx, c), dl in zip(cand, deltas, strict=True):
                bx = _decode(dl, s, int(gy), int(gx))
                box = (bx[0] / scale[0], bx[1] / scale[1], bx[2] / scale[0], bx[3] / scale[1])
                peaks.append((float(obj[gy, gx, c]), int(c), box))
        kept: list[tuple[float, int, tuple[float, float, float, float]]] = []
        for p in sorted(peaks, key=lambda t: -t[0]):
            if all(k[1] != p[1] or (iou(k[2], p[2]) < NMS_IOU and _within(k[2], p[2]) < 0.8) for k in kept):
                kept.append(p)
        found = [Detection(c, b, sc) for sc, c, b in kept if sc >= KEEP]
        conf = min((max(sc, 1 - sc) for sc, _, _ in kept), default=1.0)
        return found, float(conf)

    def detect(self, image: Image.Image, bb: Backbone) -> tuple[list[Detection], float]:
        maps, (tw, th) = bb.maps(image, SIDE)
        return self.detect_maps(maps, (tw / image.width, th / image.height))

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(
            buf,
            **self.scorer.arrays("s_"),
            reg_w=self.reg_w,
            n_labels=np.array([self.n_labels]),
            boxnet=np.frombuffer(FORMAT.encode("ascii"), dtype=np.uint8),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> BoxNet:
        scorer = clf.LinearModel.from_bytes(data, prefix="s_")
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            if "boxnet" not in z.files or bytes(z["boxnet"]).decode("ascii") != FORMAT:
                raise ValueError(f"not a {FORMAT} model")
            return cls(scorer, z["reg_w"], int(z["n_labels"][0]))


def is_boxnet(data: bytes) -> bool:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return "boxnet" in z.files
    except (ValueError, OSError):
        return False


def fit(
    xs: list[np.ndarray], ys: list[int], px: list[np.ndarray], pt: list[list[float]], n_labels: int, meta: dict
) -> BoxNet:
    if not px:
        raise clf.TrainingError("no human box to learn from yet")
    scorer = clf.fit(np.stack(xs), np.asarray(ys), n_labels + 1, c=0.05, meta={**meta, "model": "boxnet"})
    z = (np.stack(px).astype(np.float64) - scorer.mean) / scorer.scale
    a = np.hstack([z, np.ones((len(z), 1))])
    reg = 30.0 * np.eye(a.shape[1])
    reg[-1, -1] = 0.0
    w = np.linalg.solve(a.T @ a + reg, a.T @ np.asarray(pt, dtype=np.float64))
    return BoxNet(scorer, w, n_labels)
