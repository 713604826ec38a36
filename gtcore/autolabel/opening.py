"""The learner a job starts with (``open_learner``): the built-in learners, the product's saved model of an earlier
job (``InitialActiveLearningModelArn`` naming a ``FinalActiveLearningModelArn``, checksum checked by ``models``), or
a team's ONNX file (a classifier or detector used as is; a feature extractor under the built-in head)."""

from __future__ import annotations

from gtcore.autolabel import backbone as bbm
from gtcore.autolabel import boxnet, features, models, onnx_models
from gtcore.autolabel import segmenter as seg
from gtcore.autolabel import text as txt
from gtcore.autolabel.learner import MODEL_FIELD, Learner
from gtcore.context import Context


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
