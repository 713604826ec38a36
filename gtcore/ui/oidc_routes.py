"""The HTTP side of OIDC sign-in: two Starlette routes ``app.py`` adds next to the session-cookie route.

- ``GET <base>/_gt/oidc/start``: ``oidc_signin.begin`` (state, nonce, PKCE) and a 303 to the identity provider,
  with the browser binding in an HttpOnly cookie (``SameSite=Lax``, so the provider's redirect back brings it,
  path limited to ``<base>/_gt/oidc/``, 10 minutes).
- ``GET <base>/_gt/oidc/callback``: ``oidc_signin.complete`` (state once, binding, code exchange, ID token
  verified), then the product's HttpOnly session cookie (``session_cookie.put_cookie``) and a 303 to the app;
  any refusal is an HTML page saying why (escaped) with a link back to the sign-in page.

The redirect URI is this app's own address as the browser reached it (``X-Forwarded-Proto`` / ``-Host`` are
believed only from a loopback or private proxy); register ``https://<host>/<base>/_gt/oidc/callback`` at the
provider. The protocol work runs in a thread (it waits on the provider).
"""

from __future__ import annotations

import html
import ipaddress
from typing import Any

from gtcore.core.errors import GTError
from gtcore.ui import session_cookie
from gtcore.workforce import oidc_signin

START = "/_gt/oidc/start"
CALLBACK = "/_gt/oidc/callback"
BINDING_COOKIE = "gt_oidc_binding"


def _trusted_proxy(request: Any) -> bool:
    host = request.client.host if request.client else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private


def _origin(request: Any) -> tuple[str, str]:
    scheme, host = request.url.scheme, request.headers.get("host", request.url.netloc)
    if _trusted_proxy(request):
        scheme = request.headers.get("x-forwarded-proto", scheme).split(",")[0].strip() or scheme
        host = request.headers.get("x-forwarded-host", host).split(",")[0].strip() or host
    return (scheme if scheme in ("http", "https") else "http"), host


def _base(request: Any, route: str) -> str:
    return request.url.path.removesuffix(route).rstrip("/")


def _page(title: str, message: str, base: str, status: int) -> Any:
    from starlette.responses import HTMLResponse

    t, m, b = html.escape(title), html.escape(message), html.escape(base, quote=True)
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{t}</title></head>"
        f"<body style='font-family:sans-serif;max-width:40rem;margin:3rem auto'><h1>{t}</h1><p>{m}</p>"
        f"<p><a href='{b}/'>Back to the sign-in page</a></p></body></html>"
    )
    response = HTMLResponse(body, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _start(request: Any) -> Any:
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import RedirectResponse

    from gtcore.ui.resources import get_context

    base = _base(request, START)
    scheme, host = _origin(request)
    redirect_uri = f"{scheme}://{host}{base}{CALLBACK}"
    try:
        begun = await run_in_threadpool(oidc_signin.begin, get_context(), redirect_uri)
    except GTError as exc:
        return _page("Sign-in is not available", exc.message, base, 503)
    response = RedirectResponse(begun.url, status_code=303)
    response.set_cookie(
        BINDING_COOKIE,
        begun.binding,
        max_age=oidc_signin.LOGIN_SECONDS,
        path=f"{base}/_gt/oidc/",
        secure=scheme == "https",
        httponly=True,
        samesite="lax",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def _callback(request: Any) -> Any:
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import RedirectResponse

    from gtcore.ui.resources import get_context

    base = _base(request, CALLBACK)
    scheme, _host = _origin(request)
    q = request.query_params
    try:
        session = await run_in_threadpool(
            lambda: oidc_signin.complete(
                get_context(),
                state=q.get("state", ""),
                code=q.get("code"),
                error=q.get("error"),
                binding=request.cookies.get(BINDING_COOKIE, ""),
            )
        )
    except GTError as exc:
        response = _page("Sign-in failed", exc.message, base, 400)
    else:
        response = RedirectResponse(f"{base}/", status_code=303)
        session_cookie.put_cookie(response, session.token, f"{base}/", secure=scheme == "https")
        response.headers["Cache-Control"] = "no-store"
    response.delete_cookie(BINDING_COOKIE, path=f"{base}/_gt/oidc/", httponly=True, samesite="lax")
    return response


def routes(base_url_path: str = "") -> list[Any]:
    """The Starlette routes for OIDC sign-in (under ``server.baseUrlPath`` when set)."""
    from starlette.routing import Route

    base = "/" + base_url_path.strip("/") if base_url_path.strip("/") else ""
    return [Route(base + START, _start, methods=["GET"]), Route(base + CALLBACK, _callback, methods=["GET"])]
