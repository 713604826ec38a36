"""A team's own model: an ONNX file named by URI (``InitialActiveLearningModelArn``), run with onnxruntime on CPU.

Input/output contract (checked when the model is opened; any mismatch is a ``ModelError`` naming the file):

- one input, float32, shape ``[N, 3, H, W]`` (N may be dynamic; H and W fixed, or dynamic = 64): RGB, values
  0..1, the whole image resized to W x H (bilinear);
- the role, from the model's metadata property ``gtcore.role`` (``classifier``, ``features`` or ``detector``);
  without it a model with outputs named ``boxes``, ``scores`` and ``labels`` is a detector, any other a classifier;
- ``classifier``: first output ``[N, K]``, K = the job's number of labels, in label order: probabilities, or
  scores (a softmax is applied when rows are not probabilities). Used as is; the loop only chooses its threshold;
- ``features``: first output ``[N, D]``: the built-in classifier is trained on these vectors instead of its own
  features (a pretrained feature extractor is how a team gets more machine labels from fewer human ones);
- ``detector`` (N = 1): outputs ``boxes`` ``[M, 4]`` (x1, y1, x2, y2 as fractions of the width and height),
  ``scores`` ``[M]`` and ``labels`` ``[M]`` (class index); boxes scoring at least 0.5 are kept, and the image's
  confidence is the lowest ``max(score, 1 - score)`` over all M (1 when M = 0).

Files over ``MAX_MODEL_BYTES``, files that are not ONNX (protobuf parse or ``onnx.checker`` fails: a renamed
pickle is only ever parsed as protobuf, never unpickled), graphs of more than ``MAX_NODES`` nodes (subgraphs
counted), graphs in which shape inference finds a tensor of more than ``MAX_TENSOR_ELEMENTS`` elements, other
input ranks, channel counts or element types are refused; an exception inside onnxruntime at inference is
reported as "crashed at inference" with the object, and a run longer than ``MAX_RUN_SECONDS`` (an endless Loop,
a graph of absurd cost) is stopped (onnxruntime's ``RunOptions.terminate``) and reported. Nothing is downloaded:
onnxruntime runs the file as given.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gtcore.autolabel.models import ModelError
from gtcore.context import Context
from gtcore.core.errors import StorageError

if TYPE_CHECKING:
    from PIL import Image

MAX_MODEL_BYTES = 512 * 1024 * 1024
MAX_NODES = 50_000
MAX_TENSOR_ELEMENTS = 256 * 1024 * 1024  # 1 GiB of float32
MAX_RUN_SECONDS = 120.0  # one batch of images
DEFAULT_SIDE = 64
ROLES = ("classifier", "features", "detector")


@dataclass
class OnnxModel:
    uri: str
    role: str
    width: int
    height: int
    session: Any
    input_name: str
    output_names: list[str]

    def _tensor(self, images: list[Image.Image]) -> np.ndarray:
        from PIL import Image

        arr = [
            np.asarray(im.convert("RGB").resize((self.width, self.height), Image.Resampling.BILINEAR), np.float32)
            for im in images
        ]
        return (np.stack(arr) / 255.0).transpose(0, 3, 1, 2).astype(np.float32)

    def _run(self, images: list[Image.Image], what: str) -> list[Any]:
        import onnxruntime as ort

        options = ort.RunOptions()
        limit = MAX_RUN_SECONDS
        stopped = threading.Event()

        def stop() -> None:
            stopped.set()
            options.terminate = True

        timer = threading.Timer(limit, stop)
        timer.daemon = True
        timer.start()
        try:
            return list(self.session.run(None, {self.input_name: self._tensor(images)}, options))
        except Exception as exc:  # onnxruntime raises its own exception types
            if stopped.is_set():
                raise ModelError(
                    f"{self.uri}: the model ran longer than {limit:g} s on {what} and was stopped"
                ) from exc
            raise ModelError(f"{self.uri}: the model crashed at inference on {what}: {str(exc)[:300]}") from exc
        finally:
            timer.cancel()

    def vectors(self, images: list[Image.Image], n_labels: int | None = None, what: str = "an image") -> np.ndarray:
        """Classifier: (N, K) probabilities; features: (N, D) vectors."""
        out = np.asarray(self._run(images, what)[0], dtype=np.float64)
        if out.ndim != 2 or out.shape[0] != len(images):
            raise ModelError(f"{self.uri}: the first output has shape {list(out.shape)}, expected [N, K]")
        if self.role == "features":
            return out
        if n_labels is not None and out.shape[1] != n_labels:
            raise ModelError(
                f"{self.uri}: the classifier gives {out.shape[1]} scores per image; the job has {n_labels} labels"
            )
        if not (np.all(out >= 0) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3)):
            out = np.exp(out - out.max(axis=1, keepdims=True))
            out /= out.sum(axis=1, keepdims=True)
        return out

    def detect(
        self, image: Image.Image, n_labels: int, what: str = "an image"
    ) -> tuple[list[tuple[int, tuple[float, float, float, float], float]], float]:
        """[(label, (left, top, width, height) in the image's pixels, score)] and the image's confidence."""
        outs = dict(zip(self.output_names, self._run([image], what), strict=False))
        try:
            boxes = np.asarray(outs["boxes"], dtype=np.float64).reshape(-1, 4)
            scores = np.asarray(outs["scores"], dtype=np.float64).reshape(-1)
            labels = np.asarray(outs["labels"]).astype(np.int64).reshape(-1)
        except (KeyError, ValueError) as exc:
            raise ModelError(
                f"{self.uri}: a detector must output boxes [M,4], scores [M] and labels [M] ({exc})"
            ) from exc
        if not (len(boxes) == len(scores) == len(labels)):
            raise ModelError(f"{self.uri}: boxes, scores and labels have different lengths")
        if len(labels) and (labels.min() < 0 or labels.max() >= n_labels):
            raise ModelError(f"{self.uri}: a label index is outside the job's {n_labels} labels")
        w, h = image.width, image.height
        found = [
            (int(c), (float(b[0] * w), float(b[1] * h), float((b[2] - b[0]) * w), float((b[3] - b[1]) * h)), float(s))
            for b, s, c in zip(boxes, scores, labels, strict=True)
            if s >= 0.5 and b[2] > b[0] and b[3] > b[1]
        ]
        conf = float(np.min(np.maximum(scores, 1 - scores))) if len(scores) else 1.0
        return found, conf


def _count_nodes(graph: Any) -> int:
    n = 0
    for node in graph.node:
        n += 1
        for attr in node.attribute:
            for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                n += _count_nodes(sub)
    return n


def _check_size(uri: str, proto: Any) -> None:
    """Refuse graphs too large to run safely: too many nodes, or a tensor shape inference sizes as huge."""
    import onnx

    nodes = _count_nodes(proto.graph)
    if nodes > MAX_NODES:
        raise ModelError(f"{uri}: the graph has {nodes:,} nodes, more than the {MAX_NODES:,} accepted")
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, data_prop=True)
    except Exception as exc:
        raise ModelError(f"{uri}: shape inference fails on the graph: {str(exc)[:200]}") from exc
    g = inferred.graph
    for value in list(g.value_info) + list(g.output):
        dims = value.type.tensor_type.shape.dim if value.type.HasField("tensor_type") else []
        if dims and all(d.HasField("dim_value") for d in dims):
            size = 1
            for d in dims:
                size *= max(0, int(d.dim_value))
            if size > MAX_TENSOR_ELEMENTS:
                raise ModelError(
                    f"{uri}: the graph makes a tensor {value.name!r} of {size:,} elements, more than the "
                    f"{MAX_TENSOR_ELEMENTS:,} accepted"
                )


def open_model(ctx: Context, uri: str) -> OnnxModel:
    """Read, check and open the ONNX file at ``uri``; ``ModelError`` names the file and the problem."""
    try:
        if ctx.storage.size(uri) > MAX_MODEL_BYTES:
            raise ModelError(f"{uri}: the model file is larger than {MAX_MODEL_BYTES // 2**20} MiB")
        data = ctx.storage.read_bytes(uri)
    except StorageError as exc:
        raise ModelError(f"{uri}: cannot read the model file ({exc})") from exc
    return open_bytes(uri, data)


def open_bytes(uri: str, data: bytes) -> OnnxModel:
    import onnx
    import onnxruntime as ort

    try:
        proto = onnx.load_model_from_string(data)
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise ModelError(
            f"{uri}: not an ONNX model ({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})"
        ) from exc
    if not proto.graph.node:
        raise ModelError(f"{uri}: not an ONNX model (the graph is empty)")
    _check_size(uri, proto)
    meta = {p.key: p.value for p in proto.metadata_props}
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(f"{uri}: onnxruntime cannot load the model: {str(exc)[:300]}") from exc
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelError(f"{uri}: the model has {len(inputs)} inputs; the contract is one image tensor [N, 3, H, W]")
    inp = inputs[0]
    shape = list(inp.shape)
    if inp.type != "tensor(float)" or len(shape) != 4 or shape[1] != 3:
        raise ModelError(f"{uri}: wrong input: {inp.type} of shape {shape}; expected float32 [N, 3, H, W] (RGB)")
    height = shape[2] if isinstance(shape[2], int) and shape[2] > 0 else DEFAULT_SIDE
    width = shape[3] if isinstance(shape[3], int) and shape[3] > 0 else DEFAULT_SIDE
    names = [o.name for o in session.get_outputs()]
    role = meta.get("gtcore.role") or ("detector" if {"boxes", "scores", "labels"} <= set(names) else "classifier")
    if role not in ROLES:
        raise ModelError(f"{uri}: metadata gtcore.role is {role!r}; expected one of {', '.join(ROLES)}")
    return OnnxModel(uri, role, int(width), int(height), session, inp.name, names)
