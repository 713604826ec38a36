"""botocore's installed ``sagemaker`` service model: operation names, input checks and output shaping.

Inputs are checked twice against the model, naming the field: botocore's own ``ParamValidator`` (required
members, types, unknown members: the messages the AWS CLI prints) and the model's constraints a client does not
check (``min``/``max`` of strings, numbers and lists, ``pattern``, ``enum``). CreateLabelingJob skips both: its
request goes whole through the job spec (``gtcore.jobs.spec``), the one path the CLI and the Create job page use.
Outputs keep only the members the model declares, with timestamps as epoch seconds (JSON protocol).
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from gtcore.api.errors import ApiError, validation

SERVICE = "sagemaker"
# shapes whose model pattern is widened here: a WorkteamArn may also be the bare team name (as in the job spec);
# an OidcEndpoint may also be http to a loopback address (gtcore.workforce.oidc_config checks it: one rule)
WIDENED_PATTERNS = frozenset({"WorkteamArn", "OidcEndpoint"})


@functools.cache
def service_model() -> ServiceModel:
    import botocore.session

    return botocore.session.get_session().get_service_model(SERVICE)


def operation_model(name: str) -> OperationModel | None:
    try:
        return service_model().operation_model(name)
    except Exception:  # botocore's OperationNotFoundError
        return None


def operation_names() -> list[str]:
    return list(service_model().operation_names)


def declared_errors(name: str) -> list[str]:
    op = operation_model(name)
    return [] if op is None else [e.name for e in op.error_shapes]


@functools.cache
def _regex(pattern: str) -> re.Pattern[str] | None:
    if "\\p{" in pattern or "\\P{" in pattern:
        return None  # Unicode classes: Python's re has none; the operation checks those values itself
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _number(shape: Shape, value: Any) -> bool:
    return shape.type_name in ("integer", "long", "float", "double") and isinstance(value, int | float)


def _constraints(value: Any, shape: Shape, path: str, out: list[str]) -> None:
    meta = shape.metadata
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, member in shape.members.items():
            if key in value and value[key] is not None:
                _constraints(value[key], member, f"{path}.{key}" if path else key, out)
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{path}: at most {meta['max']} items, not {len(value)}")
        for i, item in enumerate(value):
            _constraints(item, shape.member, f"{path}[{i}]", out)  # type: ignore[attr-defined]
    elif shape.type_name == "map" and isinstance(value, dict):
        for k, v in value.items():
            _constraints(v, shape.value, f"{path}.{k}", out)  # type: ignore[attr-defined]
    elif shape.type_name == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{path}: at most {meta['max']} characters, not {len(value)}")
        if shape.enum and value not in shape.enum:
            out.append(f"{path}: {value!r} is not one of {', '.join(shape.enum)}")
        widened = shape.name in WIDENED_PATTERNS
        rx = _regex(meta.get("pattern", "")) if meta.get("pattern") and not widened else None
        if rx is not None and value and not rx.fullmatch(value):
            out.append(f"{path}: {value!r} does not match the pattern {meta['pattern']}")
    elif _number(shape, value) and value > meta.get("max", value):
        out.append(f"{path}: at most {meta['max']}, not {value}")


def check_input(name: str, params: Any) -> None:
    """ValidationException naming every field that breaks the operation's input shape."""
    op = operation_model(name)
    if op is None or op.input_shape is None:
        return
    if not isinstance(params, dict):
        raise ApiError("SerializationException", "the request body must be a JSON object")
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(params, op.input_shape)
    problems = report.generate_report().splitlines() if report.has_errors() else []
    _constraints(params, op.input_shape, "", problems)
    if problems:
        raise validation(f"{len(problems)} validation error(s) detected: " + "; ".join(problems))


def _wire(value: Any, shape: Shape) -> Any:
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        out = {}
        for key, member in shape.members.items():
            if key in value and value[key] is not None:
                out[key] = _wire(value[key], member)
        return out
    if kind == "list" and isinstance(value, list | tuple):
        return [_wire(v, shape.member) for v in value]  # type: ignore[attr-defined]
    if kind == "map" and isinstance(value, dict):
        return {k: _wire(v, shape.value) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        return value.timestamp() if isinstance(value, datetime) else float(value)
    return value


def shape_output(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """The operation's output shape: declared members only, timestamps as epoch seconds."""
    op = operation_model(name)
    if op is None or op.output_shape is None:
        return {}
    return _wire(result, op.output_shape) or {}
