"""The session-cookie route with a VALID code (issue 25.8): the code the browser would post after sign-in is caught
on its way, then posted from another origin (refused, and the code is not spent by the refusal), from the right
origin (the cookie is set), and again (refused: single use). The real app.py under ``streamlit run``."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.browser import new_page, wait_for_idle, wait_until
from tests.fixtures.labeling import APP, LabelWorld
from tests.fixtures.people import PASSWORD

pytestmark = pytest.mark.browser


def _post(url: str, code: str, headers: dict[str, str]) -> tuple[int, str]:
    req = urllib.request.Request(
        f"{url}/_gt/session",
        data=json.dumps({"code": code}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return int(resp.status), str(resp.headers.get("set-cookie", ""))
    except urllib.error.HTTPError as exc:
        return int(exc.code), str(exc.headers.get("set-cookie", ""))


def test_a_valid_code_from_another_origin_is_refused_and_a_code_works_once(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    url = streamlit_app(APP, world.env)
    host = url.split("//", 1)[1]
    caught: list[str] = []

    def intercept(route: Any) -> None:
        caught.append(json.loads(route.request.post_data or "{}").get("code", ""))
        route.abort()  # the code stays unspent in the server

    page = new_page(browser)
    seen: list[str] = []
    page.context.on("request", lambda r: seen.append(r.method + " " + r.url))
    page.context.route("**/_gt/session", intercept)
    page.goto(url)
    wait_for_idle(page)
    page.get_by_label("E-mail address").fill(world.admin.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Jobs").wait_for(timeout=60_000)  # signed in
    try:
        # Playwright's sync API runs the route handler only inside one of its own calls: wait in the browser's time
        wait_until(
            lambda: page.wait_for_timeout(200) or bool(caught), what="the browser's session-code request", timeout=60
        )
    except Exception:
        raise AssertionError([x for x in seen if "static" not in x][-30:]) from None
    code = caught[0]
    assert len(code) >= 40

    right = {"Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}
    for wrong in (
        {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://evil.example"},  # an old browser without Sec-Fetch-Site
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # a sandboxed frame
        {"Origin": f"http://{host}", "Sec-Fetch-Site": "same-site"},  # a sibling subdomain's page
        {"Sec-Fetch-Site": "cross-site"},
        {},  # neither header: not a same-origin fetch
    ):
        status, cookie = _post(url, code, wrong)
        assert status == 403 and "gt_session" not in cookie, (wrong, status, cookie)
    status, cookie = _post(url, code, right)  # the refusals above did not spend it
    assert status == 204 and "gt_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    status, cookie = _post(url, code, right)  # single use
    assert status == 403 and "gt_session" not in cookie


def test_a_client_cannot_choose_its_identity_with_x_forwarded_for(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    """A plain ``streamlit run`` (no GT_TRUSTED_PROXIES): the browser on 127.0.0.1 sends X-Forwarded-For with every
    request, yet its failed sign-in is counted on its socket address, not on the address it claims."""
    from sqlalchemy import select

    from gtcore.core import db as dbm

    world = label_world
    url = streamlit_app(APP, world.env)
    context = browser.new_context(extra_http_headers={"X-Forwarded-For": "203.0.113.9"})
    page = context.new_page()
    page.goto(url)
    wait_for_idle(page)
    page.get_by_label("E-mail address").fill(world.admin.email)
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("wrong e-mail address or password").wait_for(timeout=60_000)
    with world.ctx.db.read() as conn:
        keys = set(conn.execute(select(dbm.login_throttle.c.key)).scalars())
    # uvicorn (under Streamlit) replaced the loopback peer with the header's address: not trusted, one shared client
    assert "client:ip:forwarded-by-untrusted-proxy" in keys and not any("203.0.113.9" in k for k in keys), keys
    context.close()
