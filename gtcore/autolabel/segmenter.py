"""The built-in segmenter for semantic-segmentation jobs: a per-pixel linear classifier on hand-made features.

- Working size: each image is reduced (box filter) to at most ``WORK_SIDE`` pixels on the long side; features,
  training and prediction happen there, and the predicted class map is enlarged back to the image's own size
  (nearest neighbour), so the mask PNG has exactly the image's size.
- Per-pixel features (``FEATURE_SIZE`` values, ``pixels.pixel_features``): the colour; the colour minus the image's
  median colour (the background of a plain-ish image) and the length of that difference; the local mean colour
  over 5x5 and 11x11 boxes; the local standard deviation of the grey level over 3x3, 7x7 and 15x15 boxes
  (texture, edges); the local mean of the difference length over 7x7 and 15x15; the normalised position.
  Box filters (``scipy.ndimage.uniform_filter``) cost a few passes per image whatever the window.
- Learner: multinomial logistic regression (the built-in ``classifier.fit``: standardised features,
  scikit-learn to fit, numpy to predict) on a bounded random sample of pixels of the human masks: at most
  ``MAX_TRAIN_PIXELS`` in all, at least ``MIN_PER_IMAGE`` per image (past ``MAX_TRAIN_PIXELS / MIN_PER_IMAGE``
  human masks a random subset of that many is read, so training time stays bounded), per image half from the
  labeled (non-BACKGROUND) pixels when it has any, so small objects are not drowned by the background.
  Probabilities are smoothed over 3x3 pixels before the arg-max.
- Confidence (one figure per image, what the threshold is chosen on): the *expected IoU* of the predicted mask
  under the model's own probabilities, i.e. per non-BACKGROUND class c that is predicted (or holds at least
  ``MIN_CLASS_SHARE`` of the probability mass) sum(p_c on pixels predicted c) / (pixels predicted c + sum(p_c)
  - sum(p_c on pixels predicted c)), averaged over those classes; an image where no class qualifies scores its
  mean BACKGROUND probability. It measures what the target measures (mean IoU without BACKGROUND), so a large
  easy background cannot make a doubtful object look certain, as a mean of per-pixel maxima would. On 500 images
  of ``bench/make_shapes.py`` its rank correlation (Spearman) with the true IoU is 0.53; the mean per-pixel
  maximum's is -0.02.

Why this design: it needs no pretrained weights and nothing downloaded, trains in seconds on 2 CPU cores,
and its model is one small set of arrays (``classifier.LinearModel``, saved as ``.npz`` through ``models``
with its SHA-256, read with ``allow_pickle=False``). Images are decoded one at a time (``features.load_image``)
and only sampled pixels and small compressed class maps are kept, so memory is bounded. It suits objects that
differ from their background by colour or texture (parts on a table, documents, the product's synthetic
shapes); for photographs with cluttered scenes people keep labeling what it is not sure of.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gtcore.autolabel import classifier as clf
from gtcore.autolabel.pixels import WORK_SIDE, deep_features, guided, pixel_features, working_rgb

if TYPE_CHECKING:
    from PIL import Image

    from gtcore.autolabel.backbone import Backbone

FEATURES_VERSION = "seg-rgb-bgdiff-box5-11-std3-7-15-pos-v1"
DEEP_FEATURES_VERSION = "seg-v1+effl0-s4-s8-s16-guided"  # + the backbone's maps (``deep_features``)
MAX_TRAIN_PIXELS = 40_000
MIN_PER_IMAGE = 64
MIN_CLASS_SHARE = 0.002
LIMIT = (1920, 1080)  # Ground Truth's image limit of automated labeling for semantic segmentation
Loader = Callable[[str], tuple[Any, float]]


def within_limit(size: tuple[int, int]) -> bool:
    """Whether an image of ``size`` (w, h) may be machine-labeled: at most 1920x1080 (either orientation)."""
    w, h = size
    return (w <= LIMIT[0] and h <= LIMIT[1]) or (w <= LIMIT[1] and h <= LIMIT[0])


def original_size(image: Image.Image, scale: float) -> tuple[int, int]:
    """The size of the image before ``features.load_image`` reduced it."""
    given = image.info.get("gtcore-orig-size")
    if isinstance(given, tuple) and len(given) == 2:
        return int(given[0]), int(given[1])
    s = scale or 1.0
    return max(1, round(image.width / s)), max(1, round(image.height / s))


def shrink_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A class-index mask resized (nearest) to ``size`` (w, h)."""
    h, w = mask.shape
    if (w, h) == size:
        return mask
    ys = np.minimum((np.arange(size[1]) + 0.5) * h / size[1], h - 1).astype(np.intp)
    xs = np.minimum((np.arange(size[0]) + 0.5) * w / size[0], w - 1).astype(np.intp)
    return mask[ys[:, None], xs[None, :]]


@dataclass(frozen=True)
class MaskTruth:
    """A human mask: the consolidated palette PNG at ``uri``, read only when needed."""

    uri: str
    read: Callable[[str], bytes]

    def classes(self, n_classes: int) -> np.ndarray:
        from gtcore.output.mask_png import decode_index_png

        mask, _palette = decode_index_png(self.read(self.uri), field=self.uri)
        return np.where(mask < n_classes, mask, 0).astype(np.uint8)


@dataclass(frozen=True)
class SegPrediction:
    """A predicted mask at working size (zlib-compressed class indices) and the image's own size."""

    packed: bytes
    shape: tuple[int, int]  # working (h, w)
    size: tuple[int, int]  # the image's (w, h)

    def small(self) -> np.ndarray:
        return np.frombuffer(zlib.decompress(self.packed), dtype=np.uint8).reshape(self.shape)

    def full(self) -> np.ndarray:
        return shrink_mask(self.small(), self.size)

    def summary(self) -> dict[str, Any]:
        counts = np.bincount(self.small().ravel())
        total = max(1, int(counts.sum()))
        share = {str(c): round(int(n) / total, 4) for c, n in enumerate(counts) if n}
        return {"width": self.size[0], "height": self.size[1], "classShare": share}


def expected_iou(probs: np.ndarray, pred: np.ndarray) -> float:
    """The confidence: the predicted mask's expected mean IoU (non-BACKGROUND) under ``probs`` (N, K)."""
    n, k = probs.shape
    ious = []
    for c in range(1, k):
        hit = pred == c
        mass = float(probs[:, c].sum())
        if not hit.any() and mass < max(1.0, MIN_CLASS_SHARE * n):
            continue
        inter = float(probs[hit, c].sum())
        ious.append(inter / max(1e-9, float(hit.sum()) + mass - inter))
    return float(np.mean(ious)) if ious else float(probs[:, 0].mean())


@dataclass
class SegModel:
    linear: clf.LinearModel  # n_out = the job's labels + 1 (BACKGROUND is class 0)

    @property
    def n_classes(self) -> int:
        return int(self.linear.meta.get("n_out", 0))

    @property
    def deep(self) -> bool:
        """Whether it reads the backbone's maps (else the hand-made features only: a model of an earlier version)."""
        return self.linear.meta.get("features") == DEEP_FEATURES_VERSION

    def predict(
        self, image: Image.Image, size: tuple[int, int], bb: Backbone | None = None
    ) -> tuple[SegPrediction, float]:
        from scipy.ndimage import uniform_filter

        rgb = working_rgb(image, size)
        h, w, _ = rgb.shape
        x = pixel_features(rgb)
        if self.deep:
            if bb is None:
                raise ValueError("this segmenter needs the backbone")
            x = np.hstack([x, deep_features(bb, image, (h, w))])
        grid = self.linear.scores(x).reshape(h, w, -1)
        if self.deep:
            probs = guided(grid.astype(np.float32), rgb.mean(axis=2)).reshape(h * w, -1)
        else:
            probs = uniform_filter(grid, size=(3, 3, 1), mode="nearest").reshape(h * w, -1)
        pred = np.argmax(probs, axis=1).astype(np.uint8)
        conf = expected_iou(probs, pred)
        return SegPrediction(zlib.compress(pred.tobytes(), 6), (h, w), size), conf

    def to_bytes(self) -> bytes:
        return self.linear.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> SegModel:
        linear = clf.LinearModel.from_bytes(data)
        if linear.meta.get("model") != "segmenter":
            raise ValueError("not a segmenter model")
        return cls(linear)


def train(
    samples: Sequence[tuple[str, MaskTruth]],
    load: Loader,
    n_classes: int,
    *,
    seed: int = 0,
    bb: Backbone | None = None,
) -> SegModel:
    """Fit on (image URI, human mask) pairs, one image decoded at a time; a bounded sample of pixels is kept
    (``meta["images"]``: how many masks it used)."""
    rng = np.random.default_rng(seed)
    most = MAX_TRAIN_PIXELS // MIN_PER_IMAGE
    if len(samples) > most:
        samples = [samples[int(i)] for i in sorted(rng.choice(len(samples), most, replace=False))]
    per_image = max(MIN_PER_IMAGE, MAX_TRAIN_PIXELS // max(1, len(samples)))
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for uri, truth in samples:
        image, scale = load(uri)
        mask = truth.classes(n_classes)
        rgb = working_rgb(image, (mask.shape[1], mask.shape[0]))
        small = shrink_mask(mask, (rgb.shape[1], rgb.shape[0])).ravel()
        fg = np.flatnonzero(small)
        bg = np.flatnonzero(small == 0)
        k_fg = min(len(fg), per_image // 2)
        picks = [rng.choice(fg, k_fg, replace=False)] if k_fg else []
        picks.append(rng.choice(bg, min(len(bg), per_image - k_fg), replace=False))
        idx = np.concatenate(picks)
        x = pixel_features(rgb)
        if bb is not None:
            x = np.hstack([x, deep_features(bb, image, rgb.shape[:2])])
        xs.append(x[idx])
        ys.append(small[idx])
    if not xs:
        raise clf.TrainingError("no human mask to learn from yet")
    version = DEEP_FEATURES_VERSION if bb is not None else FEATURES_VERSION
    meta = {"features": version, "model": "segmenter", "work_side": WORK_SIDE, "images": len(xs)}
    if bb is not None:
        meta["backbone"] = bb.key
    return SegModel(clf.fit(np.concatenate(xs), np.concatenate(ys), n_classes, c=0.1 if bb else 1.0, meta=meta))


def mask_score(pred: np.ndarray, truth: np.ndarray) -> float:
    """One object's IoU averaged over the non-BACKGROUND classes present in the truth or the prediction; 1 when
    neither holds any (both all BACKGROUND). A prediction of another size is resized (nearest) to the truth's."""
    if pred.shape != truth.shape:
        pred = shrink_mask(pred, (truth.shape[1], truth.shape[0]))
    classes = sorted((set(np.unique(pred).tolist()) | set(np.unique(truth).tolist())) - {0})
    if not classes:
        return 1.0
    ious = []
    for c in classes:
        p, t = pred == c, truth == c
        ious.append(float(np.logical_and(p, t).sum()) / float(np.logical_or(p, t).sum()))
    return float(np.mean(ious))
