"""The session cookie: a signed-in browser stays signed in across reloads, new tabs and ``?job=`` links.

Streamlit can read cookies (``st.context.cookies``, sent with the websocket) but a script cannot set one,
and a cookie set from JavaScript cannot be HttpOnly. So ``app.py`` is served as a Streamlit ``st.App``
(Starlette) with one extra route, ``POST <base>/_gt/session``, and the cookie travels like this:

1. sign-in (or a password change) gives the script a session token; ``set_cookie(token)`` parks it in this
   process's memory under a random single-use code (60 s) and draws a hidden component whose only act is
   to POST that code, same-origin, to the route;
2. the route swaps the code for ``Set-Cookie: gt_session=<token>; HttpOnly; SameSite=Strict; Path=<base>/``
   (``Secure`` over HTTPS, ``Max-Age`` the absolute session lifetime). The page's JavaScript only ever sees
   the code, never the token; the database keeps only the token's SHA-256 (``login_sessions``);
3. a new websocket (reload, new tab) brings the cookie: ``cookie_token()`` returns it once per browser
   session and gtcore checks it like any token (idle and absolute expiry, disabled users, sign-out);
4. sign out revokes the session in the database first (the cookie is dead from then on), then
   ``clear_cookie()`` has the route expire it.

The route refuses requests from another origin (``Origin`` / ``Sec-Fetch-Site``), unknown or used codes.
Several app processes need sticky sessions (as the README says): the code lives in the process that made it.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlsplit

COOKIE = "gt_session"
ROUTE = "/_gt/session"
CODE_SECONDS = 60.0
_CHECKED_KEY = "gt_cookie_checked"
_PENDING_KEY = "gt_cookie_pending"

_lock = threading.Lock()
_codes: dict[str, tuple[str, str | None, float]] = {}  # code -> (action "set"|"clear", token, expires)


def _park(action: str, token: str | None, now: float | None = None) -> str:
    t = time.monotonic() if now is None else now
    code = secrets.token_urlsafe(32)
    with _lock:
        for old in [c for c, (_a, _t, exp) in _codes.items() if exp < t]:
            del _codes[old]
        _codes[code] = (action, token, t + CODE_SECONDS)
    return code


def _take(code: str, now: float | None = None) -> tuple[str, str | None] | None:
    """The action parked under ``code`` (once: the code is gone afterwards), None when unknown or too old."""
    t = time.monotonic() if now is None else now
    with _lock:
        entry = _codes.pop(code, None)
    if entry is None or entry[2] < t:
        return None
    return entry[0], entry[1]


def _pending(code: str) -> bool:
    with _lock:
        return code in _codes


# --------------------------------------------------------------------------- the HTTP route (Starlette)


def _same_origin(request: Any) -> bool:
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return site == "same-origin"
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def _session_endpoint(request: Any) -> Any:
    from starlette.responses import Response

    if not _same_origin(request):
        return Response("cross-origin request refused", status_code=403)
    try:
        body = json.loads(await request.body() or b"{}")
        code = str(body.get("code", ""))
    except (ValueError, AttributeError):
        return Response("bad request", status_code=400)
    taken = _take(code)
    if taken is None:
        return Response("unknown or used code", status_code=403)
    action, token = taken
    response = Response(status_code=204)
    cookie_path = request.url.path.removesuffix(ROUTE).rstrip("/") + "/"  # the app's base path
    if action == "set" and token:
        put_cookie(response, token, cookie_path, secure=request.url.scheme == "https")
    else:
        response.delete_cookie(
            COOKIE, path=cookie_path, secure=request.url.scheme == "https", httponly=True, samesite="strict"
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def put_cookie(response: Any, token: str, cookie_path: str, *, secure: bool) -> None:
    """Set the session cookie on a Starlette ``response`` (also used by the OIDC callback route)."""
    from gtcore.ui.resources import get_context

    response.set_cookie(
        COOKIE,
        token,
        max_age=get_context().settings.session_max_seconds,
        path=cookie_path,
        secure=secure,
        httponly=True,
        samesite="strict",
    )


def routes(base_url_path: str = "") -> list[Any]:
    """The Starlette routes ``app.py`` adds to Streamlit's (under ``server.baseUrlPath`` when set)."""
    from starlette.routing import Route

    base = "/" + base_url_path.strip("/") if base_url_path.strip("/") else ""
    return [Route(base + ROUTE, _session_endpoint, methods=["POST"])]


# --------------------------------------------------------------------------- the script side (Streamlit)


def cookie_token() -> str | None:
    """The session token the browser sent in its cookie, once per browser session (a cookie already tried,
    e.g. one whose session was signed out in this tab, is not offered again)."""
    import streamlit as st

    try:
        token = st.context.cookies.get(COOKIE)
    except Exception:  # no browser (AppTest, bare mode)
        return None
    if not isinstance(token, str) or not token or st.session_state.get(_CHECKED_KEY) == token:
        return None
    st.session_state[_CHECKED_KEY] = token
    return token


def set_cookie(token: str) -> None:
    """Have the browser keep ``token`` in the HttpOnly session cookie (drawn by ``sync()`` on the next runs)."""
    import streamlit as st

    st.session_state[_CHECKED_KEY] = token
    st.session_state[_PENDING_KEY] = _park("set", token)


def clear_cookie() -> None:
    """Have the browser drop the session cookie (its session is already revoked in the database)."""
    import streamlit as st

    st.session_state[_PENDING_KEY] = _park("clear", None)


def _route_url() -> str | None:
    import streamlit as st
    from streamlit import config

    try:
        parts = urlsplit(st.context.url or "")
    except Exception:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    base = str(config.get_option("server.baseUrlPath") or "").strip("/")
    return f"{parts.scheme}://{parts.netloc}{'/' + base if base else ''}{ROUTE}"


_JS = """<script>
fetch(%s, {method: "POST", credentials: "same-origin", cache: "no-store",
           headers: {"Content-Type": "application/json"}, body: JSON.stringify({code: %s})});
</script>"""


def sync() -> None:
    """Draw the hidden component that hands a parked code to the route, on every run until the route took it
    (a rerun that removed the component before its request went out draws it again)."""
    import streamlit as st
    import streamlit.components.v1 as components

    code = st.session_state.get(_PENDING_KEY)
    if not code:
        return
    url = _route_url()
    if url is None or not _pending(code):
        st.session_state.pop(_PENDING_KEY, None)
        return
    with st.sidebar:
        components.html(_JS % (json.dumps(url), json.dumps(code)), height=0)
