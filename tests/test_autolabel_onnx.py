"""Teams' ONNX models (generated here with the ``onnx`` package) and the product's checksummed saved models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gtcore.autolabel import learner as lrn
from gtcore.autolabel import models, onnx_models, opening
from gtcore.autolabel.classifier import fit
from gtcore.autolabel.features import FEATURES_VERSION
from gtcore.context import Context
from tests import onnx_makers as mk


def _save(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / "models" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return str(path)


def _loader(images: dict[str, Image.Image]) -> lrn.Loader:
    return lambda uri: (images[uri], 1.0)


def test_onnx_classifier_is_used_as_is(ctx: Context, tmp_path: Path) -> None:
    uri = _save(tmp_path, "rgb.onnx", mk.mean_colour_classifier(np.eye(3) * 10))
    lr = opening.open_learner(ctx, "ImageClassification", 3, uri)
    assert lr.fixed and lr.model.role == "classifier" and lr.to_bytes() is None
    images = {"r": Image.new("RGB", (40, 30), (250, 0, 0)), "b": Image.new("RGB", (8, 8), (0, 0, 240))}
    assert lr.train([("r", 0)], _loader(images)) == 0  # not retrained
    label, conf = lr.predict("r", _loader(images))
    assert label == 0 and conf > 0.9  # softmax of scores
    assert lr.predict("b", _loader(images))[0] == 2


def test_onnx_features_under_the_builtin_classifier(ctx: Context, tmp_path: Path) -> None:
    uri = _save(tmp_path, "pool.onnx", mk.pooled_features(side=64, cell=8))
    lr = opening.open_learner(ctx, "ImageClassification", 2, uri)
    assert lr.extractor is not None and not lr.fixed
    images = {f"{k}-{i}": Image.new("RGB", (64, 64), (200 * k + i, 30, 30)) for k in (0, 1) for i in range(5)}
    lr.train([(u, int(u[0])) for u in images], _loader(images))
    assert lr.source.startswith("built-in on ONNX features")
    assert [lr.predict(u, _loader(images))[0] for u in images] == [int(u[0]) for u in images]
    assert lr.to_bytes()  # the classifier on top is the product's own file


def test_onnx_detector_boxes_in_image_pixels(ctx: Context, tmp_path: Path) -> None:
    uri = _save(tmp_path, "det.onnx", mk.constant_detector([0.1, 0.2, 0.5, 0.6], 0.9, 1))
    lr = opening.open_learner(ctx, "BoundingBox", 2, uri)
    (found, conf) = lr.predict("x", _loader({"x": Image.new("RGB", (200, 100))}))
    (label, box, score) = found[0]
    assert label == 1 and box == pytest.approx((20.0, 20.0, 80.0, 40.0)) and score == pytest.approx(0.9)
    assert conf == pytest.approx(0.9)
    with pytest.raises(models.ModelError, match="cannot label a ImageClassification job"):
        opening.open_learner(ctx, "ImageClassification", 2, uri)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"this is not a model at all", "not an ONNX model"),
        (b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00}\x94.", "not an ONNX model"),  # a pickle: never unpickled
        (mk.grey_input_classifier(), "wrong input"),
    ],
)
def test_bad_model_files_are_named_with_the_problem(ctx: Context, tmp_path: Path, data: bytes, fragment: str) -> None:
    uri = _save(tmp_path, "bad.onnx", data)
    with pytest.raises(models.ModelError) as err:
        opening.open_learner(ctx, "ImageClassification", 3, uri)
    assert uri in str(err.value) and fragment in str(err.value)


def test_a_model_that_crashes_at_inference_names_file_and_object(ctx: Context, tmp_path: Path) -> None:
    uri = _save(tmp_path, "crash.onnx", mk.crashing_classifier())
    lr = opening.open_learner(ctx, "ImageClassification", 7, uri)
    with pytest.raises(models.ModelError, match="crashed at inference on img-7.png"):
        lr.predict("img-7.png", _loader({"img-7.png": Image.new("RGB", (16, 16))}))


def test_wrong_label_count_and_missing_file(ctx: Context, tmp_path: Path) -> None:
    uri = _save(tmp_path, "rgb.onnx", mk.mean_colour_classifier(np.eye(3)))
    lr = opening.open_learner(ctx, "ImageClassification", 5, uri)
    with pytest.raises(models.ModelError, match="gives 3 scores per image; the job has 5 labels"):
        lr.predict("a", _loader({"a": Image.new("RGB", (4, 4))}))
    with pytest.raises(models.ModelError, match="cannot read the model file"):
        onnx_models.open_model(ctx, str(tmp_path / "models" / "missing.onnx"))


def test_saved_model_loads_only_when_the_checksum_matches(ctx: Context, tmp_path: Path, job_factory) -> None:
    job = job_factory.create(n_images=2, task_type="ImageClassification")
    x = np.random.default_rng(1).normal(size=(20, 4))
    model = fit(x, (x[:, 0] > 0).astype(int), 3, meta={"features": FEATURES_VERSION})
    saved = models.save(ctx, job.job_id, 3, str(tmp_path / "out" / job.name), "builtin-classifier",
                        "ImageClassification", model.to_bytes())  # fmt: skip
    assert saved.uri.endswith("/training/3/model.npz") and len(saved.sha256) == 64
    assert models.find(ctx, saved.uri) == saved
    assert np.allclose(models.load(ctx, saved).scores(x), model.scores(x))
    # a saved model given back as InitialActiveLearningModelArn is loaded as the product's own
    lr = opening.open_learner(ctx, "ImageClassification", 3, saved.uri)
    assert lr.source == f"saved model {saved.uri}" and not lr.fixed
    with pytest.raises(models.ModelError, match="this job has 4"):
        opening.open_learner(ctx, "ImageClassification", 4, saved.uri)
    on_onnx = fit(x, (x[:, 0] > 0).astype(int), 3, meta={"features": "/models/team.onnx"})
    other_saved = models.save(ctx, job.job_id, 4, str(tmp_path / "out" / job.name), "builtin-classifier",
                              "ImageClassification", on_onnx.to_bytes())  # fmt: skip
    with pytest.raises(models.ModelError, match="trained on the features of /models/team.onnx"):
        opening.open_learner(ctx, "ImageClassification", 3, other_saved.uri)
    # tampered with: refused before anything is parsed
    Path(saved.uri).write_bytes(Path(saved.uri).read_bytes()[:-3] + b"xyz")
    with pytest.raises(models.ModelError, match="SHA-256 does not match"):
        models.load(ctx, saved)
    # a file the product never saved is only ever read as ONNX
    other = _save(tmp_path, "copy.npz", model.to_bytes())
    with pytest.raises(models.ModelError, match="not an ONNX model"):
        opening.open_learner(ctx, "ImageClassification", 3, other)
