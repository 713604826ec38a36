"""Sessions in Debian chromium (issue 18.2, 18.7): the HttpOnly session cookie keeps a worker signed in across
reloads, new tabs and ``?job=`` links; sign-in returns to the page asked for; sign out ends it; the forced
password change lands on the Worker portal. The real app.py under ``streamlit run``."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import select

from gtcore.core import db as dbm
from gtcore.core.errors import SessionExpired
from gtcore.workforce import users as workforce
from tests.browser import exception_text, new_page, wait_for_idle, wait_until
from tests.fixtures.labeling import APP, LabelWorld, change_password, sign_in, wait_task
from tests.fixtures.people import PASSWORD

pytestmark = pytest.mark.browser
SIZE = (640, 480)


def _h1(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("h1").all_inner_texts()]


def _dialogs(page: Any) -> list[str]:
    return list(page.locator('[role="dialog"]').all_inner_texts())


def wait_task_absent(page: Any) -> bool:
    """No Label page task is on the screen (the old cookie opened nothing)."""
    return page.get_by_text("Object 1 of").count() == 0


def _session_cookie(page: Any) -> dict[str, Any] | None:
    return next((c for c in page.context.cookies() if c["name"] == "gt_session"), None)


def test_session_survives_reload_new_tab_and_deep_link_and_sign_out_ends_it(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    world.worker("ann@example.test")
    job = world.box_job("deep-link", [world.image(f"i{i}", SIZE) for i in range(2)])
    url = streamlit_app(APP, world.env)
    deep = f"{url}/label?job={job.job_id}"

    page = new_page(browser)
    # a link to the Label page of a job, signed out: the sign-in form there, then that very page and job
    page.goto(deep)
    wait_for_idle(page)
    page.get_by_role("heading", name="Sign in").wait_for(timeout=30_000)
    assert _dialogs(page) == [] and _h1(page) == ["Sign in"]
    page.get_by_role("textbox", name="E-mail address").fill("ann@example.test")
    page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert wait_task(page) == 0
    assert f"job={job.job_id}" in page.url

    cookie = wait_until(lambda: _session_cookie(page), what="the session cookie", timeout=20)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert page.evaluate("document.cookie").find("gt_session") == -1  # invisible to the page's scripts
    token = cookie["value"]
    s = dbm.login_sessions
    with world.ctx.db.read() as conn:
        hashes = list(conn.execute(select(s.c.token_hash)).scalars())
    assert hashlib.sha256(token.encode()).hexdigest() in hashes and token not in hashes  # stored only hashed

    # reload: still signed in, on the same task
    page.reload()
    assert wait_task(page) == 0
    assert _dialogs(page) == [] and exception_text(page) is None

    # a new tab of the same browser: signed in too
    tab = page.context.new_page()
    tab.goto(f"{url}/portal")
    wait_for_idle(tab)
    tab.get_by_role("heading", name="Worker portal").wait_for(timeout=30_000)
    assert "Sign in" not in _h1(tab)
    tab.close()

    # sign out: the session ends in the database and the cookie goes; a reload shows the sign-in form
    page.get_by_role("button", name="Sign out").click()
    wait_for_idle(page)
    page.get_by_role("heading", name="Sign in").wait_for(timeout=30_000)
    wait_until(lambda: _session_cookie(page) is None, what="the cookie cleared", timeout=20)
    with pytest.raises(SessionExpired):
        workforce.actor_for_token(world.ctx, token)
    page.reload()
    wait_for_idle(page)
    page.get_by_role("heading", name="Sign in").wait_for(timeout=30_000)
    assert _h1(page) == ["Sign in"]

    # a browser that kept the old cookie gets nothing from it
    thief = new_page(browser)
    thief.context.add_cookies([{"name": "gt_session", "value": token, "url": url}])
    thief.goto(deep)
    wait_for_idle(thief)
    thief.get_by_role("heading", name="Sign in").wait_for(timeout=30_000)
    assert _h1(thief) == ["Sign in"] and wait_task_absent(thief)
    thief.context.close()
    page.context.close()


def test_the_session_route_refuses_other_origins_and_unknown_codes(label_world: LabelWorld, streamlit_app: Any) -> None:
    import urllib.error
    import urllib.request

    url = streamlit_app(APP, label_world.env)

    def post(headers: dict[str, str]) -> int:
        req = urllib.request.Request(f"{url}/_gt/session", data=b'{"code": "guess"}', method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            assert "set-cookie" not in {k.lower() for k in exc.headers}
            return int(exc.code)

    host = url.split("//", 1)[1]
    assert post({"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}) == 403
    assert post({"Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}) == 403  # no such code
    assert post({}) == 403  # neither Origin nor Sec-Fetch-Site: not a same-origin fetch


def test_forced_password_change_lands_on_the_worker_portal(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    temp = world.invite("new@example.test")
    world.box_job("first-job", [world.image("a", SIZE)])
    url = streamlit_app(APP, world.env)
    page = new_page(browser)
    sign_in(page, url, "new@example.test", temp)
    change_password(page, temp, PASSWORD)
    page.get_by_role("heading", name="Worker portal").wait_for(timeout=30_000)
    assert "Worker portal" in _h1(page) and "/portal" in page.url
    page.context.close()
