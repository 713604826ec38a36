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

from gtcore.autolabel import classifier as clf
from gtcore.autolabel import detector as det
from gtcore.autolabel import features, models, onnx_models
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

    def _vector(self, image: Any, uri: str) -> np.ndarray:
        if self.extractor is not None:
            return self.extractor.vectors([image], what=uri)[0]
        return features.describe(image)

    def train(self, samples: Iterable[tuple[str, Any]], load: Loader) -> int:
        """Fit on (uri, human label) pairs; returns how many were used. A fixed ONNX model is left as is."""
        if self.fixed:
            return 0
        meta = {"features": self.extractor.uri if self.extractor else features.FEATURES_VERSION}
        if self.text:
            pairs = [(load(uri)[0], int(label)) for uri, label in samples]
            self.model = txt.fit([t for t, _ in pairs], [y for _, y in pairs], self.n_labels)
            self.source = "built-in"
            return len(pairs)
        if self.masks:
            items = list(samples)  # (image URI, segmenter.MaskTruth): small; the images are read one at a time
            self.model = seg.train(items, load, self.n_labels + 1)
            self.source = "built-in"
            return int(self.model.linear.meta["images"])
        if not self.boxes:
            xs, ys = [], []
            for uri, label in samples:
                image, _ = load(uri)
                xs.append(self._vector(image, uri))
                ys.append(int(label))
            if not xs:
                raise clf.TrainingError("no human label to learn from yet")
            self.model = clf.fit(np.stack(xs), np.asarray(ys), self.n_labels, meta=meta)
            self.source = "built-in" + (f" on ONNX features {self.extractor.uri}" if self.extractor else "")
            return len(xs)
        if self.extractor is not None:
            raise models.ModelError(f"{self.extractor.uri}: a feature extractor cannot be used for bounding boxes")
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
        self.source = "built-in"
        return used

    def predict(self, uri: str, load: Loader) -> Prediction:
        if self.model is None:
            raise clf.TrainingError("no model yet")
        image, scale = load(uri)
        if self.text:  # ``image`` is the text
            p = self.model.scores([image])[0]
            return int(np.argmax(p)), float(np.max(p))
        if self.masks:
            return self.model.predict(image, seg.original_size(image, scale))  # type: ignore[no-any-return]
        if not self.boxes:
            if isinstance(self.model, onnx_models.OnnxModel):
                p = self.model.vectors([image], self.n_labels, what=uri)[0]
            else:
                p = self.model.scores(self._vector(image, uri)[None, :])[0]
            label = int(np.argmax(p))
            return label, float(p[label])
        if isinstance(self.model, onnx_models.OnnxModel):
            found, conf = self.model.detect(image, self.n_labels, what=uri)
        else:
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


def open_learner(ctx: Context, task_type: str, n_labels: int, initial_uri: str | None) -> Learner:
    """The learner a job starts with: built-in, or from ``InitialActiveLearningModelArn`` (ModelError if unusable)."""
    lr = Learner(task_type, n_labels)
    if not initial_uri:
        return lr
    saved = models.find(ctx, initial_uri)
    if saved is not None:
        if saved.task_type != task_type:
            raise models.ModelError(f"{initial_uri}: a saved {saved.task_type} model cannot label a {task_type} job")
        lr.model = models.load(ctx, saved)
        meta = lr.model.scorer.meta if lr.boxes else lr.model.linear.meta if lr.masks else lr.model.meta
        wanted = seg.FEATURES_VERSION if lr.masks else txt.FEATURES_VERSION if lr.text else features.FEATURES_VERSION
        if meta.get("features") != wanted:
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
