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
from gtcore.autolabel import boxmaps, boxnet, embeddings, features, models, onnx_models
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
        return "builtin-detector" if self.boxes else "builtin-segmenter" if self.masks else "builtin-classifier"

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
            p = self.model.scores(self._vectors([uri], load))[0]
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


def open_learner(
    ctx: Context, task_type: str, n_labels: int, initial_uri: str | None, *, job_id: int | None = None
) -> Learner:
    """The learner a job starts with: built-in, or from ``InitialActiveLearningModelArn`` (ModelError if unusable).
    With ``job_id`` the backbone's embeddings of the job's images are read from (and added to) the store."""
    lr = Learner(task_type, n_labels, ctx=ctx, job_id=job_id)
    if not initial_uri:
        return lr
    saved = models.find(ctx, initial_uri)
    if saved is not None:
        if saved.task_type != task_type:
            raise models.ModelError(f"{initial_uri}: a saved {saved.task_type} model cannot label a {task_type} job")
        lr.model = models.load(ctx, saved)
        meta = (
            lr.model.meta
            if isinstance(lr.model, boxnet.BoxNet)
            else lr.model.scorer.meta
            if lr.boxes
            else lr.model.linear.meta
            if lr.masks
            else lr.model.meta
        )
        if meta.get("features") not in _usable_features(lr):
            raise models.ModelError(
                f"{initial_uri}: this model was trained on the features of {meta.get('features')}; "
                "a later job can start only from a model on the built-in features"
            )
        out = meta.get("n_out", 0) - (1 if lr.boxes or lr.masks else 0)
        if out != n_labels:
            raise models.ModelError(f"{initial_uri}: the saved model has {out} labels; this job has {n_labels}")
        lr.source = f"saved model {saved.uri}"
        return lr
    if lr.masks:
        raise models.ModelError(
            f"{MODEL_FIELD}: {initial_uri} is not a saved semantic-segmentation model of this product; semantic "
            "segmentation jobs use the built-in segmenter (an ONNX model is not supported for them) or start from "
            "the FinalActiveLearningModelArn of an earlier semantic-segmentation job"
        )
    if lr.text:
        raise models.ModelError(
            f"{MODEL_FIELD}: {initial_uri} is not a saved text-classification model of this product; text jobs use "
            "the built-in text learner or the FinalActiveLearningModelArn of an earlier text-classification job"
        )
    onnx = onnx_models.open_model(ctx, initial_uri)
    lr.source = f"ONNX {onnx.role} {initial_uri}"
    if onnx.role == "features":
        lr.extractor = onnx
    elif (onnx.role == "detector") != lr.boxes:
        raise models.ModelError(f"{initial_uri}: an ONNX {onnx.role} cannot label a {task_type} job")
    else:
        lr.model = onnx
    return lr


def _usable_features(lr: Learner) -> tuple[str, ...]:
    """The ``features`` a saved model may have been trained on to label this job (the current backbone's, or the
    hand-made ones of earlier versions)."""
    if lr.text:
        return (txt.FEATURES_VERSION,)
    if lr.masks:
        return (seg.FEATURES_VERSION, seg.DEEP_FEATURES_VERSION)
    return (bbm.key(), features.FEATURES_VERSION)


def builtin_rival(lr: Learner) -> Learner | None:
    """A second learner to train on the same human labels and compare on the validation set (the better one
    labels): for a team's fixed ONNX classifier or detector, a fresh built-in learner of the same job; for the
    built-in box detector on the backbone, the region-proposal detector (it wins on objects that stand out from
    a plain background, the backbone's on clutter); None otherwise."""
    if lr.fixed:
        return Learner(lr.task_type, lr.n_labels, ctx=lr.ctx, job_id=lr.job_id, cache=lr.cache)
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
