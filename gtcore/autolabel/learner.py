"""One interface over the models the loop can use: train on human labels, predict with a confidence.

Sources: the built-in learners (``classifier``, ``detector``, ``segmenter``), a saved model of an earlier job (by
its URI, checksum checked, ``models``), or a team's ONNX file (``onnx_models``): an ONNX classifier or detector is
used as is; an ONNX feature extractor replaces the built-in features under the built-in classifier. Semantic
segmentation runs the built-in segmenter only (or its saved model): an ONNX file is refused, naming
``LabelingJobAlgorithmsConfig.InitialActiveLearningModelArn``.

Images are read one at a time through the store (``features.load_image``: safe decoding, reduced while
decoding); only feature vectors are kept, so memory is bounded by the number of objects, not their size.
Predictions for boxes are in the original image's pixels; predicted masks
(``segmenter.SegPrediction``) are kept small and enlarged to the image's size only when written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gtcore.autolabel import backbone as bbm
from gtcore.autolabel import boxmaps, boxnet, clsmaps, embeddings, features, maphead, models, onnx_models
from gtcore.autolabel import classifier as clf
from gtcore.autolabel import detector as det
from gtcore.autolabel import segmenter as seg
from gtcore.autolabel import text as txt
from gtcore.context import Context

Loader = Callable[[str], tuple[Any, float]]  # uri -> (image, scale)
Prediction = tuple[Any, float]  # (class index | [(label, box, score)] | SegPrediction, confidence)
SEMSEG = "SemanticSegmentation"
TEXT = "TextClassification"
MODEL_FIELD = "LabelingJobAlgorithmsConfig.InitialActiveLearningModelArn"


@dataclass
class Learner:
    task_type: str
    n_labels: int
    model: Any = None  # LinearModel | BoxModel | SegModel | OnnxModel (classifier or detector)
    extractor: onnx_models.OnnxModel | None = None  # a team's feature extractor under the built-in classifier
    source: str = "built-in"  # what the team lead sees: built-in, ONNX <uri>, saved <uri>
    ctx: Context | None = None  # with job_id: embeddings are read from / written to the job's store
    job_id: int | None = None
    cache: embeddings.Cache | None = None  # the backbone's vectors of the job's images (created on first use)
    maps: boxmaps.Store | None = None  # boxes: the job's stored feature maps (created on first use)
    proposals: bool = False  # boxes: the region-proposal detector on hand-made features (``detector``), no backbone
    map_head: bool = False  # classification: train the conv head on stored block-10 maps (``maphead``)
    class_maps: clsmaps.Store | None = None  # the job's stored block-10 maps (created on first use)

    @property
    def boxes(self) -> bool:
        return self.task_type == "BoundingBox"

    @property
    def masks(self) -> bool:
        return self.task_type == SEMSEG

    @property
    def fixed(self) -> bool:
        """An ONNX classifier or detector: not retrained, only its threshold is chosen."""
        return isinstance(self.model, onnx_models.OnnxModel)

    @property
    def text(self) -> bool:
        """Text classification: the built-in text learner (``gtcore.autolabel.text``); ``load`` gives texts."""
        return self.task_type == TEXT

    @property
    def kind(self) -> str:
        if self.text:
            return "builtin-text"
        if isinstance(self.model, maphead.MapHead):
            return maphead.KIND
        return "builtin-detector" if self.boxes else "builtin-segmenter" if self.masks else "builtin-classifier"

    @property
    def head(self) -> str:
        """What labels (the training files' words): for classification, which head."""
        if isinstance(self.model, maphead.MapHead):
            return maphead.HEAD
        if self.fixed or self.boxes or self.masks or self.text:
            return self.source
        return "linear head on " + ("ONNX features" if self.extractor else "pooled embeddings")

    @property
    def on_backbone(self) -> bool:
        """Whether the (classification) head reads the backbone's embeddings (else an ONNX extractor's vectors,
        or, for a model saved by an earlier version, the hand-made ``features.describe``)."""
        if self.extractor is not None:
            return False
        meta = getattr(self.model, "meta", None)
        return not (isinstance(meta, dict) and meta.get("features") == features.FEATURES_VERSION)

    def embedder(self) -> embeddings.Cache:
        """The backbone's embeddings of this job's images (loads the backbone: ``BackboneError`` names its file)."""
        if self.cache is None:
            self.cache = embeddings.Cache(self.ctx, self.job_id, bbm.load())
        return self.cache

    def box_maps(self) -> boxmaps.Store:
        """The backbone's stored feature maps of this job's images (``boxmaps``), for the box detector."""
        if self.maps is None:
            self.maps = boxmaps.Store(self.ctx, self.job_id, bbm.load())
        return self.maps

    def block_maps(self, uris: Sequence[str], load: Loader) -> np.ndarray:
        """(N, 112, 14, 14) float16 block-10 maps of the images (``clsmaps``: stored, or computed and stored)."""
        if self.class_maps is None:
            self.class_maps = clsmaps.Store(self.ctx, self.job_id, bbm.load())
        return self.class_maps.get_many(list(uris), load)

    def _vectors(self, uris: Sequence[str], load: Loader) -> np.ndarray:
        if self.on_backbone:
            cache = self.embedder()
            cache.prefetch(uris, load)
            return np.stack([cache.vector(u, load) for u in uris])
        out = []
        for uri in uris:
            image, _ = load(uri)
            out.append(self.extractor.vectors([image], what=uri)[0] if self.extractor else features.describe(image))
        return np.stack(out)

    def train(self, samples: Iterable[tuple[str, Any]], load: Loader) -> int:
        """Fit on (uri, human label) pairs; returns how many were used. A fixed ONNX model is left as is."""
        if self.fixed:
            return 0
        if self.text:  # the built-in text learner: no image backbone
            pairs = [(load(uri)[0], int(label)) for uri, label in samples]
            self.model = txt.fit([t for t, _ in pairs], [y for _, y in pairs], self.n_labels)
            self.source = "built-in"
            return len(pairs)
        meta = {"features": self.extractor.uri if self.extractor else bbm.key()}
        if self.masks:
            items = list(samples)  # (image URI, segmenter.MaskTruth): small; the images are read one at a time
            self.model = seg.train(items, load, self.n_labels + 1, bb=self.embedder().bb)
            self.source = "built-in"
            return int(self.model.linear.meta["images"])
        if self.map_head:  # the conv head on block-10 maps (a rival of the linear head: ``builtin_rival``)
            pairs = list(samples)
            y = np.asarray([int(lab) for _, lab in pairs], dtype=np.int64)
            if len(pairs) < maphead.MIN_LABELS:
                raise clf.TrainingError(f"the map head needs {maphead.MIN_LABELS} human labels; {len(pairs)} so far")
            self.model = maphead.fit(self.block_maps([u for u, _ in pairs], load), y, self.n_labels, meta=meta)
            return len(pairs)
        if not self.boxes:
            pairs = list(samples)
            if not pairs:
                raise clf.TrainingError("no human label to learn from yet")
            self.model = None  # a fresh head on the backbone (or the team's extractor)
            vecs = self._vectors([u for u, _ in pairs], load)
            self.model = clf.fit_head(vecs, np.asarray([int(lab) for _, lab in pairs]), self.n_labels, meta=meta)
            self.source = "built-in" + (f" on ONNX features {self.extractor.uri}" if self.extractor else "")
            return len(pairs)
        if self.extractor is not None:
            raise models.ModelError(f"{self.extractor.uri}: a feature extractor cannot be used for bounding boxes")
        if self.proposals:
            return self._train_proposals(samples, load)
        store = self.box_maps()
        rng = np.random.default_rng(0)
        parts = []
        for uri, truth in samples:
            m = store.get(uri, load)
            sx = m.scale * m.net_size[0] / m.image_size[0]  # the label's (original) pixels -> the network's
            sy = m.scale * m.net_size[1] / m.image_size[1]
            scaled = [det.Labeled(t.label, (t.box[0] * sx, t.box[1] * sy, t.box[2] * sx, t.box[3] * sy)) for t in truth]
            parts.append(boxnet.samples(m, scaled, self.n_labels, rng))
        self.model = boxnet.fit(parts, self.n_labels, {"features": store.bb.key, "maps": boxmaps.key(store.bb.key)})
        self.source = "built-in"
        return len(parts)

    def _train_proposals(self, samples: Iterable[tuple[str, Any]], load: Loader) -> int:
        """The region-proposal detector (``detector``): objects that stand out from their background, found on
        hand-made features; the box rival of the backbone's detector (``builtin_rival``)."""
        bx: list[Any] = []
        by: list[int] = []
        rx: list[Any] = []
        rt: list[list[float]] = []
        used = 0
        for uri, truth in samples:
            image, scale = load(uri)
            scaled = [det.Labeled(t.label, tuple(v * scale for v in t.box)) for t in truth]  # type: ignore[misc]
            a, b, c, d = det.training_samples(image, scaled, self.n_labels)
            bx += a
            by += b
            rx += c
            rt += d
            used += 1
        self.model = det.fit(bx, by, rx, rt, self.n_labels)
        self.source = "built-in (region proposals)"
        return used

    def predict(self, uri: str, load: Loader) -> Prediction:
        if self.model is None:
            raise clf.TrainingError("no model yet")
        if self.text:  # ``load`` gives the text
            p = self.model.scores([load(uri)[0]])[0]
            return int(np.argmax(p)), float(np.max(p))
        if not self.boxes and not self.masks and not isinstance(self.model, onnx_models.OnnxModel):
            x = self.block_maps([uri], load) if isinstance(self.model, maphead.MapHead) else self._vectors([uri], load)
            p = self.model.scores(x)[0]
            label = int(np.argmax(p))
            return label, float(p[label])
        if isinstance(self.model, boxnet.BoxNet):  # boxes in the original's pixels, from the stored maps
            dets, conf = self.model.detect_maps(self.box_maps().get(uri, load))
            return [(d.label, d.box, d.score) for d in dets], conf
        image, scale = load(uri)
        if self.masks:
            bb = self.embedder().bb if self.model.deep else None
            return self.model.predict(image, seg.original_size(image, scale), bb)  # type: ignore[no-any-return]
        if not self.boxes:
            p = self.model.vectors([image], self.n_labels, what=uri)[0]
            label = int(np.argmax(p))
            return label, float(p[label])
        if isinstance(self.model, onnx_models.OnnxModel):
            found, conf = self.model.detect(image, self.n_labels, what=uri)
        else:  # the region-proposal detector (a rival, or a model saved by an earlier version)
            dets, conf = self.model.detect(image)
            found = [(d.label, d.box, d.score) for d in dets]
        inv = 1.0 / scale if scale else 1.0
        return [(lab, tuple(v * inv for v in box), s) for lab, box, s in found], conf

    def to_bytes(self) -> bytes | None:
        """The file of a model the product trained (None for a team's fixed ONNX model)."""
        if self.fixed or self.model is None:
            return None
        return bytes(self.model.to_bytes())


def score(task_type: str, prediction: Any, truth: Any) -> float:
    """1/0 correctness (classification), the image's mean IoU (boxes) or mean IoU without BACKGROUND (masks,
    ``segmenter.mask_score``) of a prediction against a human label."""
    if task_type == SEMSEG:
        return seg.mask_score(prediction.full(), truth.classes(256))
    if task_type != "BoundingBox":
        return 1.0 if int(prediction) == int(truth) else 0.0
    pred = [det.Labeled(lab, box) for lab, box, _s in prediction]
    return det.image_score(pred, truth)


def builtin_rival(lr: Learner) -> Learner | None:
    """A second learner to train on the same human labels and compare on the validation set (the better one
    labels): for a team's fixed ONNX classifier or detector, a fresh built-in learner of the same job; for the
    built-in linear head on the backbone's pooled embeddings, the conv head on its block-10 maps (``maphead``: it
    wins on shapes on clutter, the linear head with few labels); for the
    built-in box detector on the backbone, the region-proposal detector (it wins on objects that stand out from
    a plain background, the backbone's on clutter); None otherwise."""
    if lr.fixed:
        return Learner(lr.task_type, lr.n_labels, ctx=lr.ctx, job_id=lr.job_id, cache=lr.cache)
    if not (lr.boxes or lr.masks or lr.text or lr.map_head) and lr.extractor is None and lr.on_backbone:
        return Learner(lr.task_type, lr.n_labels, ctx=lr.ctx, job_id=lr.job_id, cache=lr.cache, map_head=True)
    if lr.boxes and lr.extractor is None:
        return Learner(
            lr.task_type, lr.n_labels, ctx=lr.ctx, job_id=lr.job_id, cache=lr.cache, maps=lr.maps, proposals=True
        )
    return None


def validation_scores(
    lr: Learner, items: Sequence[tuple[str, Any]], load: Loader
) -> tuple[list[float], list[float], dict[int, Prediction]]:
    """(confidences, scores, predictions by position) of the validation items (uri, human label)."""
    confs, scores, preds = [], [], {}
    for i, (uri, truth) in enumerate(items):
        pred, conf = lr.predict(uri, load)
        preds[i] = (pred, conf)
        confs.append(conf)
        scores.append(score(lr.task_type, pred, truth))
    return confs, scores, preds
