"""The HTTP side: ``POST <base>/api/sagemaker`` on the app's own server (``routes``, added by ``app.py`` to
Streamlit's ``st.App``), or the standalone ASGI app of ``gtcore serve-api`` (``create_app``: the same endpoint at
``/`` and ``/api/sagemaker``).

A call: the body is read (at most ``MAX_BODY`` bytes), the SigV4 signature checked (``auth``), the target
``SageMaker.<Operation>`` looked up (``registry``), the caller's role checked (admins everything, auditors the
reads, workers nothing), the input checked against botocore's model, the operation run in a worker thread (the
gtcore calls block on the database), and its result shaped by the model. Every refusal is AWS's JSON error
(``{"__type", "message"}``, HTTP 400); an unexpected fault is ``InternalFailure`` (HTTP 500) and is logged.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from gtcore.api import auth, model, registry
from gtcore.api.errors import ApiError, from_gt
from gtcore.context import Context
from gtcore.core.access import ADMIN, AUDITOR
from gtcore.core.errors import GTError

PATH = "/api/sagemaker"
MAX_BODY = 4 * 1024 * 1024
CONTENT_TYPE = "application/x-amz-json-1.1"
log = logging.getLogger("gtcore.api")


def context() -> Context:
    """This process's Context for the current GT_* environment (``Context.shared``: built once)."""
    return Context.shared()


def _operation_name(req: auth.Received) -> str:
    target = req.header("x-amz-target") or ""
    service, _, name = target.partition(".")
    if service != "SageMaker" or not name:
        raise ApiError(
            "UnknownOperationException",
            f"X-Amz-Target {target[:100]!r} names no operation: send SageMaker.<Operation> (JSON 1.1 protocol)",
        )
    return name


def _params(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ApiError("SerializationException", f"the request body is not valid JSON{where}") from None
    if not isinstance(value, dict):
        raise ApiError("SerializationException", "the request body must be a JSON object (the operation's input)")
    return value


def handle(ctx: Context, req: auth.Received, now: float | None = None) -> tuple[int, dict[str, Any]]:
    """``(HTTP status, JSON body)`` for one API request."""
    t = time.time() if now is None else now
    name = "?"
    try:
        actor = auth.authenticate(ctx, req, t)
        name = _operation_name(req)
        op = registry.operations().get(name)
        if op is None:
            if model.operation_model(name) is not None:
                served = ", ".join(sorted(registry.operations()))
                raise ApiError(
                    "NotImplementedException",
                    f"SageMaker.{name} is not implemented by this server; it serves: {served}",
                )
            raise ApiError("UnknownOperationException", f"SageMaker has no operation {name!r}")
        if not (actor.has(ADMIN) or (op.readers and actor.has(AUDITOR))):
            need = "the admin or auditor role" if op.readers else "the admin role"
            raise ApiError(
                "AccessDeniedException",
                f"User: {actor.email} is not authorized to perform: sagemaker:{name} (it needs {need})",
            )
        params = _params(req.body)
        if op.model_checked:
            model.check_input(name, params)
        result = op.handler(registry.Call(ctx, actor, params, name))
        return 200, model.shape_output(name, result)
    except ApiError as exc:
        return exc.status, exc.body()
    except GTError as exc:
        err = from_gt(exc)
        return err.status, err.body()
    except Exception:
        log.exception("SageMaker.%s failed", name)
        return 500, {"__type": "InternalFailure", "message": f"SageMaker.{name} failed on the server (see its log)"}


async def _read_body(request: Any) -> bytes | None:
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > MAX_BODY:
        return None
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _response(status: int, body: dict[str, Any]) -> Any:
    from starlette.responses import Response

    return Response(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        status_code=status,
        media_type=CONTENT_TYPE,
        headers={"x-amzn-RequestId": str(uuid.uuid4())},
    )


async def endpoint(request: Any) -> Any:
    """The Starlette endpoint (POST): the SageMaker JSON 1.1 protocol."""
    from starlette.concurrency import run_in_threadpool

    if request.method != "POST":
        return _response(
            400,
            {"__type": "UnknownOperationException", "message": "the SageMaker API takes POST with X-Amz-Target"},
        )
    body = await _read_body(request)
    if body is None:
        return _response(
            400, {"__type": "ValidationException", "message": f"the request body exceeds {MAX_BODY} bytes"}
        )
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    req = auth.Received(
        method="POST",
        path=raw_path.decode("latin-1"),
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=[(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in request.scope["headers"]],
        body=body,
        client=request.client.host if request.client else "",
    )
    status, out = await run_in_threadpool(handle, context(), req)
    return _response(status, out)


def routes(base_url_path: str = "") -> list[Any]:
    """The route ``app.py`` adds to Streamlit's server: ``<base>/api/sagemaker``."""
    from starlette.routing import Route

    base = "/" + base_url_path.strip("/") if base_url_path.strip("/") else ""
    return [Route(base + PATH, endpoint, methods=["POST", "GET"])]


def create_app() -> Any:
    """The standalone ASGI app (``gtcore serve-api``): the endpoint at ``/`` and at ``/api/sagemaker``."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    return Starlette(
        routes=[Route("/", endpoint, methods=["POST", "GET"]), Route(PATH, endpoint, methods=["POST", "GET"])]
    )
