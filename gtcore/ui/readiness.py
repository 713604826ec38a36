"""The readiness route ``GET /readyz`` (``app.py`` serves it beside the session-cookie route), for load balancers
and the deployment kit: 200 when this server can serve work, 503 with the reason when it cannot.

Streamlit's own ``/_stcore/health`` says only that the Tornado/Starlette server runs: it answers "ok" with the
database down. Here the database answers ``SELECT 1`` (``Database.ping``) and the object store answers
(``Store.ping``: local roots exist and are writable, the S3 endpoint answers), each within ``TIMEOUT_SECONDS``.
The body is JSON: ``{"status": "ready"|"unavailable", "database": {...}, "store": [...]}``; it names the
database by its dialect and URL without the password, and nothing else of the configuration.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gtcore.context import Context
from gtcore.core.db import DatabaseUnavailable

ROUTE = "/readyz"
TIMEOUT_SECONDS = 5.0


def check(ctx: Context) -> tuple[bool, dict[str, Any]]:
    """(ready, details) for this process's database and store (blocking; the route runs it in a thread)."""
    details: dict[str, Any] = {}
    ready = True
    try:
        details["database"] = {"ok": True, "detail": ctx.db.ping()}
    except Exception as exc:  # DatabaseUnavailable, or anything the driver raised: not ready, say why
        ready = False
        details["database"] = {"ok": False, "detail": str(exc)[:300]}
    try:
        store = [{"name": s.name, "ok": s.ok, "detail": s.detail} for s in ctx.storage.ping()]
    except Exception as exc:
        store = [{"name": "store", "ok": False, "detail": str(exc)[:300]}]
    details["store"] = store
    ready = ready and all(s["ok"] for s in store)
    details["status"] = "ready" if ready else "unavailable"
    return ready, details


async def _endpoint(request: Any) -> Any:
    from starlette.responses import JSONResponse

    from gtcore.ui.resources import get_context

    try:
        ctx = get_context()
        ready, details = await asyncio.wait_for(asyncio.to_thread(check, ctx), TIMEOUT_SECONDS)
    except TimeoutError:
        ready, details = False, {"status": "unavailable", "detail": f"no answer within {TIMEOUT_SECONDS:g} s"}
    except DatabaseUnavailable as exc:  # the context migrates its database first: it did not answer
        ready, details = False, {"status": "unavailable", "database": {"ok": False, "detail": str(exc)[:300]}}
    except Exception as exc:  # the settings or the context could not be built
        ready, details = False, {"status": "unavailable", "detail": str(exc)[:300]}
    headers = {"Cache-Control": "no-store"}
    return JSONResponse(details, status_code=200 if ready else 503, headers=headers)


def routes(base_url_path: str = "") -> list[Any]:
    """The route ``app.py`` adds (under ``server.baseUrlPath`` when set)."""
    from starlette.routing import Route

    base = "/" + base_url_path.strip("/") if base_url_path.strip("/") else ""
    return [Route(base + ROUTE, _endpoint, methods=["GET", "HEAD"])]
