"""Tiny ONNX models built with the ``onnx`` package for the automated-labeling tests (nothing is downloaded)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 13)]


def _model(nodes, inputs, outputs, inits=(), role: str | None = None) -> bytes:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(graph, opset_imports=OPSET, producer_name="gtcore-tests")
    m.ir_version = 8
    if role:
        helper.set_model_props(m, {"gtcore.role": role})
    onnx.checker.check_model(m)
    return m.SerializeToString()


def image_input(side: int = 16, channels: int = 3) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", channels, side, side])


def mean_colour_classifier(weights: np.ndarray, side: int = 16) -> bytes:
    """scores = mean RGB (N, 3) @ weights (3, K): an ONNX classifier of K labels."""
    k = weights.shape[1]
    return _model(
        [
            helper.make_node("ReduceMean", ["image"], ["rgb"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["rgb", "w"], ["scores"]),
        ],
        [image_input(side)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", k])],
        [numpy_helper.from_array(weights.astype(np.float32), "w")],
        role="classifier",
    )


def pooled_features(side: int = 64, cell: int = 8) -> bytes:
    """A feature extractor: the image averaged over cell x cell squares, flattened (N, 3 * (side/cell)^2)."""
    n = 3 * (side // cell) ** 2
    return _model(
        [
            helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[cell, cell], strides=[cell, cell]),
            helper.make_node("Flatten", ["pooled"], ["features"], axis=1),
        ],
        [image_input(side)],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n])],
        role="features",
    )


def constant_detector(box: list[float], score: float, label: int, side: int = 32) -> bytes:
    """A detector that always finds one box (fractions x1, y1, x2, y2) with ``score`` and ``label``."""
    return _model(
        [
            helper.make_node("ReduceMean", ["image"], ["unused"], keepdims=0),
            helper.make_node("Identity", ["b"], ["boxes"]),
            helper.make_node("Identity", ["s"], ["scores"]),
            helper.make_node("Identity", ["c"], ["labels"]),
        ],
        [image_input(side)],
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1]),
            helper.make_tensor_value_info("labels", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("unused", TensorProto.FLOAT, []),
        ],
        [
            numpy_helper.from_array(np.array([box], np.float32), "b"),
            numpy_helper.from_array(np.array([score], np.float32), "s"),
            numpy_helper.from_array(np.array([label], np.int64), "c"),
        ],
        role="detector",
    )


def grey_input_classifier() -> bytes:
    """Wrong input: one channel instead of RGB."""
    return _model(
        [helper.make_node("ReduceMean", ["image"], ["scores"], axes=[2, 3], keepdims=0)],
        [image_input(16, channels=1)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 1])],
    )


def crashing_classifier(side: int = 16) -> bytes:
    """Loads fine, fails inside onnxruntime: reshapes 3*16*16 values into rows of 7."""
    return _model(
        [helper.make_node("Reshape", ["image", "shape"], ["scores"])],
        [image_input(side)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["A", 7])],
        [numpy_helper.from_array(np.array([-1, 7], np.int64), "shape")],
    )


# --- hostile models (issue 25.8) ---------------------------------------------------------------------------------


def slow_classifier(matmuls: int = 400, side: int = 16) -> bytes:
    """A classifier whose scores wait on ``matmuls`` chained 1024x1024 products scaled by the image's mean (no
    constant folding can precompute them): minutes of CPU per image."""
    a = np.eye(1024, dtype=np.float32)
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["m"], keepdims=0),  # (N,)
        helper.make_node("ReduceMean", ["m"], ["s"], keepdims=0),  # scalar
        helper.make_node("Mul", ["a", "s"], ["x0"]),
    ]
    for i in range(matmuls):
        nodes.append(helper.make_node("MatMul", [f"x{i}", "a"], [f"x{i + 1}"]))
    nodes += [
        helper.make_node("ReduceSum", [f"x{matmuls}"], ["t"], keepdims=0),
        helper.make_node("ReduceMean", ["image"], ["rgb"], axes=[2, 3], keepdims=0),
        helper.make_node("Add", ["rgb", "t"], ["scores"]),
    ]
    return _model(
        nodes,
        [image_input(side)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(a, "a")],
        role="classifier",
    )


def endless_classifier(side: int = 16) -> bytes:
    """A classifier behind a Loop whose trip count is 2**62 and whose condition stays true."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["v_in", "one"], ["v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, []),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, []),
        ],
        [numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")],
    )
    return _model(
        [
            helper.make_node("ReduceMean", ["image"], ["rgb"], axes=[2, 3], keepdims=0),
            helper.make_node("Loop", ["trips", "cond", "zero"], ["v"], body=body),
            helper.make_node("Add", ["rgb", "v"], ["scores"]),
        ],
        [image_input(side)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])],
        [
            numpy_helper.from_array(np.array(2**62, dtype=np.int64), "trips"),
            numpy_helper.from_array(np.array(True), "cond"),
            numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"),
        ],
        role="classifier",
    )


def huge_tensor_classifier(side: int = 16, rows: int = 40_000) -> bytes:
    """A classifier that expands a constant to ``rows`` x ``rows`` floats (6.4 GB at 40,000) before its scores."""
    return _model(
        [
            helper.make_node("Expand", ["one", "shape"], ["big"]),
            helper.make_node("ReduceSum", ["big"], ["t"], keepdims=0),
            helper.make_node("ReduceMean", ["image"], ["rgb"], axes=[2, 3], keepdims=0),
            helper.make_node("Add", ["rgb", "t"], ["scores"]),
        ],
        [image_input(side)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])],
        [
            numpy_helper.from_array(np.array([1.0], dtype=np.float32), "one"),
            numpy_helper.from_array(np.array([rows, rows], dtype=np.int64), "shape"),
        ],
        role="classifier",
    )


def many_nodes_classifier(nodes: int = 60_000, side: int = 16) -> bytes:
    """A classifier behind ``nodes`` Identity nodes."""
    chain = [helper.make_node("ReduceMean", ["image"], ["r0"], axes=[2, 3], keepdims=0)]
    chain += [helper.make_node("Identity", [f"r{i}"], [f"r{i + 1}"]) for i in range(nodes)]
    chain.append(helper.make_node("Identity", [f"r{nodes}"], ["scores"]))
    return _model(
        chain,
        [image_input(side)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])],
        role="classifier",
    )
