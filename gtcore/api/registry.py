"""The operations served: one function per SageMaker operation, registered by name.

    @operation("DescribeLabelingJob")
    def describe(call: Call) -> dict: ...

``OPERATION_MODULES`` lists the modules holding them (a new module defines its functions and joins the list).
A name must be an operation of botocore's model; its input is checked against the model before the function runs
unless it registered with ``model_checked=False`` (CreateLabelingJob: the job spec checks it). ``readers`` says
whether auditors may call it (reads); the others need an admin. Workers have no API access. An operation of the
model not registered here answers ``NotImplementedException`` naming it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gtcore.api import model
from gtcore.context import Context
from gtcore.core.access import Actor

OPERATION_MODULES = ("gtcore.api.ops_jobs", "gtcore.api.ops_teams", "gtcore.api.ops_workforce", "gtcore.api.ops_tags")


@dataclass(frozen=True)
class Call:
    ctx: Context
    actor: Actor
    params: dict[str, Any]
    operation: str


Handler = Callable[[Call], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    name: str
    handler: Handler
    readers: bool
    model_checked: bool


_OPERATIONS: dict[str, Operation] = {}
_loaded: list[bool] = []


def operation(name: str, *, readers: bool = False, model_checked: bool = True) -> Callable[[Handler], Handler]:
    if model.operation_model(name) is None:
        raise ValueError(f"{name} is not an operation of botocore's sagemaker model")

    def register(fn: Handler) -> Handler:
        _OPERATIONS[name] = Operation(name, fn, readers, model_checked)
        return fn

    return register


def operations() -> dict[str, Operation]:
    if not _loaded:
        for module in OPERATION_MODULES:
            importlib.import_module(module)
        _loaded.append(True)
    return _OPERATIONS
