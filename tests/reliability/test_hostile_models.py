"""Hostile team models (issue 25.8): an ONNX file that is a renamed pickle is refused and never unpickled; a graph
that would run for ever, allocate gigabytes or hold a huge number of nodes is refused or stopped with a message
naming the file, and the process goes on."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import pytest
from PIL import Image

from gtcore.autolabel import onnx_models
from gtcore.autolabel.models import ModelError
from tests import onnx_makers

pytest.importorskip("onnxruntime")
IMAGE = Image.new("RGB", (16, 16), (100, 150, 200))


class _Boom:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.write_text, (self.marker, "unpickled!"))


def test_a_renamed_pickle_is_refused_and_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = pickle.dumps(_Boom(marker))
    with pytest.raises(ModelError, match=r"team/model\.onnx: not an ONNX model"):
        onnx_models.open_bytes("team/model.onnx", data)
    assert not marker.exists()


def test_an_endless_graph_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_models, "MAX_RUN_SECONDS", 2.0)
    model = onnx_models.open_bytes("endless.onnx", onnx_makers.endless_classifier())
    t0 = time.monotonic()
    with pytest.raises(ModelError, match=r"endless\.onnx: .*longer than 2 s"):
        model.vectors([IMAGE], 3)
    assert time.monotonic() - t0 < 60


def test_a_slow_graph_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_models, "MAX_RUN_SECONDS", 1.0)
    model = onnx_models.open_bytes("slow.onnx", onnx_makers.slow_classifier())
    t0 = time.monotonic()
    with pytest.raises(ModelError, match=r"slow\.onnx: .*longer than 1 s"):
        model.vectors([IMAGE], 3)
    assert time.monotonic() - t0 < 60


def test_a_graph_that_allocates_gigabytes_is_refused() -> None:
    with pytest.raises(ModelError, match=r"big\.onnx: .*1,600,000,000 elements"):
        onnx_models.open_bytes("big.onnx", onnx_makers.huge_tensor_classifier())


def test_a_graph_of_too_many_nodes_is_refused() -> None:
    with pytest.raises(ModelError, match=r"many\.onnx: .*60,002 nodes"):
        onnx_models.open_bytes("many.onnx", onnx_makers.many_nodes_classifier())
