"""The built-in box detector: region proposals + a classifier and a box regressor over their features.

- Proposals (``proposals``): the image's foreground, i.e. pixels that differ from the background (the median
  grey) by more than Otsu's threshold, and by half of it; each connected component (8-neighbour, after a 3x3
  dilation), plus the union of components that nearly touch, is a proposal. No training, no weights.
- Scoring: the built-in linear classifier (``gtcore.autolabel.classifier``) over ``features.describe`` of each
  proposal (with 10 % context) decides one of the job's labels or background (an extra class). Training
  samples: every human box (and small jitters of it) is a positive of its label; proposals overlapping a human
  box by IoU >= 0.5 are positives with a regression target; proposals with IoU < 0.3 to every box are background.
- Regression: a ridge regression from the same features to the box offsets (centre shift / size, log of the
  scale) tightens a proposal onto the object.
- Output: boxes of non-background proposals after per-class non-maximum suppression (IoU 0.5). The image's
  confidence is the lowest class probability over its proposals (every proposal must be confidently an object
  or confidently background), so a doubtful proposal sends the image to people.

Limits: suits objects that stand out from a plain-ish background (documents, parts on a table, the bench's
digits); for cluttered photographs a team brings its own ONNX detector (``gtcore.autolabel.onnx_models``).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gtcore.autolabel import classifier as clf
from gtcore.autolabel import features

if TYPE_CHECKING:
    from PIL import Image

Box = tuple[float, float, float, float]  # left, top, width, height (pixels)
MIN_SIDE = 3
MAX_PROPOSALS = 60
JITTERS = ((0.05, 0.0, 1.0), (-0.05, 0.05, 1.08), (0.0, -0.05, 0.93))  # dx, dy (of size), scale
POSITIVE_IOU = 0.5
NEGATIVE_IOU = 0.3
NMS_IOU = 0.5


@dataclass(frozen=True)
class Labeled:
    label: int
    box: Box


@dataclass(frozen=True)
class Detection:
    label: int
    box: Box
    score: float


def iou(a: Box, b: Box) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = min(ax1, bx1) - max(a[0], b[0])
    ih = min(ay1, by1) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _otsu(values: np.ndarray) -> float:
    hist, edges = np.histogram(values, bins=64)
    total = hist.sum()
    if total == 0:
        return 0.0
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    m0 = np.cumsum(hist * centers)
    w1 = total - w0
    mean_all = m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean_all * w0 - m0 * total) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = 0
    return float(centers[int(np.argmax(between))])


def proposals(image: Image.Image) -> list[Box]:
    from scipy import ndimage

    gray = np.asarray(image.convert("L"), dtype=np.float32)
    diff = np.abs(gray - float(np.median(gray)))
    t = _otsu(diff.ravel())
    out: list[Box] = []
    for level in (t, t / 2):
        if level <= 1.0:
            continue
        mask = ndimage.binary_dilation(diff > level, structure=np.ones((3, 3), bool))
        labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
        boxes = [
            (float(s[1].start), float(s[0].start), float(s[1].stop - s[1].start), float(s[0].stop - s[0].start))
            for s in ndimage.find_objects(labels)[:200]
            if s is not None
        ]
        boxes = [b for b in boxes if b[2] >= MIN_SIDE and b[3] >= MIN_SIDE]
        out.extend(boxes)
        out.extend(_merged_neighbours(boxes))
    unique: list[Box] = []
    for b in sorted(out, key=lambda b: -b[2] * b[3]):
        if all(iou(b, u) < 0.9 for u in unique):
            unique.append(b)
    return unique[:MAX_PROPOSALS]


def _merged_neighbours(boxes: Sequence[Box]) -> list[Box]:
    """Unions of two components whose boxes are closer than a quarter of the smaller one (broken strokes)."""
    out = []
    for i, a in enumerate(boxes[:40]):
        for b in boxes[i + 1 : 40]:
            gap = max(b[0] - (a[0] + a[2]), a[0] - (b[0] + b[2]), b[1] - (a[1] + a[3]), a[1] - (b[1] + b[3]))
            if gap < 0.25 * min(max(a[2], a[3]), max(b[2], b[3])):
                x0, y0 = min(a[0], b[0]), min(a[1], b[1])
                out.append((x0, y0, max(a[0] + a[2], b[0] + b[2]) - x0, max(a[1] + a[3], b[1] + b[3]) - y0))
    return out


def _offsets(p: Box, g: Box) -> list[float]:
    return [
        (g[0] + g[2] / 2 - p[0] - p[2] / 2) / p[2],
        (g[1] + g[3] / 2 - p[1] - p[3] / 2) / p[3],
        math.log(g[2] / p[2]),
        math.log(g[3] / p[3]),
    ]


def _apply(p: Box, d: Sequence[float]) -> Box:
    cx = p[0] + p[2] / 2 + d[0] * p[2]
    cy = p[1] + p[3] / 2 + d[1] * p[3]
    w = p[2] * math.exp(max(-1.0, min(1.0, d[2])))
    h = p[3] * math.exp(max(-1.0, min(1.0, d[3])))
    return (cx - w / 2, cy - h / 2, w, h)


@dataclass
class BoxModel:
    scorer: clf.LinearModel  # n_labels + 1 outputs, the last is background
    reg_mean: np.ndarray
    reg_scale: np.ndarray
    reg_w: np.ndarray  # (D + 1, 4)
    n_labels: int

    def detect(self, image: Image.Image) -> tuple[list[Detection], float]:
        """Boxes in the image's pixels and the image's confidence."""
        props = proposals(image)
        if not props:
            return [], 0.0
        x = np.stack([features.describe(features.crop(image, p)) for p in props])
        probs = self.scorer.scores(x)
        deltas = np.hstack([(x - self.reg_mean) / self.reg_scale, np.ones((len(x), 1))]) @ self.reg_w
        found: list[Detection] = []
        for p, pr, d in zip(props, probs, deltas, strict=True):
            label = int(np.argmax(pr))
            if label < self.n_labels:
                found.append(Detection(label, _apply(p, d), float(pr[label])))
        kept: list[Detection] = []
        for det in sorted(found, key=lambda d: -d.score):
            if all(k.label != det.label or iou(k.box, det.box) < NMS_IOU for k in kept):
                kept.append(det)
        return kept, float(probs.max(axis=1).min())

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(
            buf,
            **self.scorer.arrays("s_"),
            reg_mean=self.reg_mean,
            reg_scale=self.reg_scale,
            reg_w=self.reg_w,
            n_labels=np.array([self.n_labels]),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> BoxModel:
        scorer = clf.LinearModel.from_bytes(data, prefix="s_")
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return cls(scorer, z["reg_mean"], z["reg_scale"], z["reg_w"], int(z["n_labels"][0]))


def training_samples(
    image: Image.Image, truth: Sequence[Labeled], n_labels: int
) -> tuple[list[Any], list[int], list[Any], list[list[float]]]:
    """(features, classes, regression features, regression targets) from one human-labeled image."""
    xs: list[Any] = []
    ys: list[int] = []
    rx: list[Any] = []
    rt: list[list[float]] = []
    for t in truth:
        for dx, dy, sc in JITTERS:
            w, h = t.box[2] * sc, t.box[3] * sc
            b = (t.box[0] + dx * t.box[2] - (w - t.box[2]) / 2, t.box[1] + dy * t.box[3] - (h - t.box[3]) / 2, w, h)
            f = features.describe(features.crop(image, b))
            xs.append(f)
            ys.append(t.label)
            rx.append(f)
            rt.append(_offsets(b, t.box))
    for p in proposals(image):
        best = max(truth, key=lambda t: iou(p, t.box), default=None)
        overlap = iou(p, best.box) if best is not None else 0.0
        if best is not None and overlap >= POSITIVE_IOU:
            f = features.describe(features.crop(image, p))
            xs.append(f)
            ys.append(best.label)
            rx.append(f)
            rt.append(_offsets(p, best.box))
        elif overlap < NEGATIVE_IOU:
            xs.append(features.describe(features.crop(image, p)))
            ys.append(n_labels)
    return xs, ys, rx, rt


def fit(
    xs: list[Any], ys: list[int], rx: list[Any], rt: list[list[float]], n_labels: int, *, ridge: float = 10.0
) -> BoxModel:
    if not rx:
        raise clf.TrainingError("no human box to learn from yet")
    scorer = clf.fit(np.stack(xs), np.asarray(ys), n_labels + 1, meta={"features": features.FEATURES_VERSION})
    x = np.stack(rx).astype(np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    a = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    reg = ridge * np.eye(a.shape[1])
    reg[-1, -1] = 0.0
    w = np.linalg.solve(a.T @ a + reg, a.T @ np.asarray(rt))
    return BoxModel(scorer, mean, scale, w, n_labels)


def image_score(pred: Sequence[Detection | Labeled], truth: Sequence[Labeled]) -> float:
    """Mean IoU of one image: greedy one-to-one matching of same-label boxes by IoU; unmatched boxes (missed or
    extra) count 0; the sum is divided by max(len(pred), len(truth)); both empty = 1."""
    n = max(len(pred), len(truth))
    if n == 0:
        return 1.0
    pairs = sorted(
        ((iou(p.box, t.box), i, j) for i, p in enumerate(pred) for j, t in enumerate(truth) if p.label == t.label),
        reverse=True,
    )
    used_p: set[int] = set()
    used_t: set[int] = set()
    total = 0.0
    for v, i, j in pairs:
        if v <= 0 or i in used_p or j in used_t:
            continue
        used_p.add(i)
        used_t.add(j)
        total += v
    return total / n
