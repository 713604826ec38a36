"""The sign-in gate of app.py through Streamlit's AppTest: first admin, sign-in, forced change,
throttling, the navigation each role gets, and the workforce/account pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gtcore.context import Context
from gtcore.core.access import ADMIN, AUDITOR, WORKER, Actor
from gtcore.core.settings import Settings
from gtcore.ui.auth import navigation_for
from gtcore.ui.nav import PAGES
from gtcore.workforce import invitations, signin, teams
from gtcore.workforce import users as workforce
from tests.fixtures.people import PASSWORD, People

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")


@pytest.fixture
def app_ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    home = tmp_path / "gt-home"
    monkeypatch.setenv("GT_HOME", str(home))
    monkeypatch.setenv("GT_DATABASE_URL", f"sqlite:///{home / 'gt.sqlite3'}")
    monkeypatch.setenv("GT_LOCAL_ROOTS", str(tmp_path))
    for name in ("GT_SMTP_HOST", "GT_S3_ENDPOINT_URL", "GT_SESSION_IDLE_SECONDS", "GT_SESSION_MAX_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    c = Context.from_settings(Settings.from_env())
    yield c  # type: ignore[misc]
    c.db.dispose()


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=30)


def _expected_nav(actor: Actor) -> list[str]:
    """What the sidebar must offer: the role's pages that exist on disk, grouped by section in menu order."""
    mine = [p for p in PAGES if any(r in actor.roles for r in p.roles) and (REPO / p.path).is_file()]
    sections = list(dict.fromkeys(p.section for p in mine))
    return [p.path for s in sections for p in mine if p.section == s]


def _registered(at: AppTest) -> list[str]:
    return [str(Path(str(info["script_path"])).relative_to(REPO)) for info in at._registered_pages.values()]


def _sign_in(at: AppTest, email: str, password: str) -> AppTest:
    at.text_input(key="auth_signin_email").input(email)
    at.text_input(key="auth_signin_pw").input(password)
    return at.button(key="auth_signin_submit").click().run()


def _texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.error, *at.info, *at.warning, *at.success, *at.code, *at.text, *at.title)]
    # messages quoting user text are Markdown-escaped on screen; compare what a person reads
    return re.sub(r"\\(.)", r"\1", "\n".join(str(p) for p in parts))


def test_first_admin_form_once(app_ctx: Context) -> None:
    at = _app().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Create the first administrator"]
    assert "gt_nav" not in at.session_state
    at.text_input(key="auth_first_email").input("lead@example.com")
    at.text_input(key="auth_first_pw").input("a long admin password")
    at.text_input(key="auth_first_pw2").input("a different password!")
    at.button(key="auth_first_submit").click().run()
    assert "differ" in _texts(at) and not workforce.admin_exists(app_ctx)
    at.text_input(key="auth_first_pw2").input("a long admin password")
    at.button(key="auth_first_submit").click().run()
    assert workforce.admin_exists(app_ctx)
    admin = workforce.actor_for_token(app_ctx, at.session_state["gt_token"])
    assert admin.roles == {ADMIN}
    assert at.session_state["gt_nav"] == _expected_nav(admin)
    # a new visitor no longer gets the form: only sign-in
    fresh = _app().run()
    assert [t.value for t in fresh.title] == ["Sign in"]
    assert not [w for w in fresh.text_input if w.key == "auth_first_email"]


def test_first_admin_form_lists_problems(app_ctx: Context) -> None:
    at = _app().run()
    at.text_input(key="auth_first_email").input("<b>not an email</b>")
    at.text_input(key="auth_first_pw").input("short")
    at.text_input(key="auth_first_pw2").input("short")
    at.button(key="auth_first_submit").click().run()
    shown = _texts(at)
    assert "'<b>not an email</b>' is not an e-mail address" in shown  # as text, in a code block
    assert "at least 10" in shown
    assert not workforce.admin_exists(app_ctx)


def test_sign_in_wrong_then_right(app_ctx: Context) -> None:
    People(app_ctx).admin(email=None)
    lead = workforce.actor_for(app_ctx, 1)
    at = _app().run()
    assert [t.value for t in at.title] == ["Sign in"]
    _sign_in(at, lead.email, "wrong password")
    assert "wrong e-mail address or password" in _texts(at)
    assert "gt_token" not in at.session_state
    _sign_in(at, lead.email.upper(), PASSWORD)
    assert workforce.actor_for_token(app_ctx, at.session_state["gt_token"]).user_id == lead.user_id
    assert at.session_state["gt_nav"] == _expected_nav(lead)


def test_sign_in_throttled_after_repeated_failures(app_ctx: Context) -> None:
    lead = People(app_ctx).admin()
    at = _app().run()
    for _ in range(signin.ACCOUNT_LIMIT):
        _sign_in(at, lead.email, "wrong password")
        assert "wrong e-mail address or password" in _texts(at)
    _sign_in(at, lead.email, PASSWORD)  # right password, but locked
    assert "too many failed sign-ins" in _texts(at)
    assert "gt_token" not in at.session_state


def test_forced_password_change(app_ctx: Context) -> None:
    p = People(app_ctx)
    admin = p.admin()
    teams.create_team(app_ctx, admin, "team-a")
    (d,) = invitations.invite(app_ctx, admin, ["new@example.com"], "team-a").invited
    assert d.temporary_password
    at = _app().run()
    _sign_in(at, "new@example.com", d.temporary_password)
    assert [t.value for t in at.title] == ["Choose your password"]
    assert "gt_nav" not in at.session_state
    at.text_input(key="auth_change_current").input(d.temporary_password)
    at.text_input(key="auth_change_new").input(d.temporary_password)
    at.text_input(key="auth_change_new2").input(d.temporary_password)
    at.button(key="auth_change_submit").click().run()
    assert "differ from the current" in _texts(at)
    at.text_input(key="auth_change_current").input(d.temporary_password)
    at.text_input(key="auth_change_new").input("my own password here")
    at.text_input(key="auth_change_new2").input("my own password here")
    at.button(key="auth_change_submit").click().run()
    worker = workforce.actor_for_token(app_ctx, at.session_state["gt_token"])
    assert worker.email == "new@example.com" and worker.roles == {WORKER}
    assert at.session_state["gt_nav"] == _expected_nav(worker)
    # signs in again with the new password from a new browser session
    again = _sign_in(_app().run(), "new@example.com", "my own password here")
    assert workforce.actor_for_token(app_ctx, again.session_state["gt_token"]).user_id == worker.user_id


@pytest.mark.parametrize("role", [ADMIN, WORKER, AUDITOR, "worker+auditor"])
def test_navigation_per_role(app_ctx: Context, role: str) -> None:
    p = People(app_ctx)
    p.admin()
    actor = p.admin() if role == ADMIN else p.user(role.split("+"), "team-a")
    at = _app()
    at.session_state["gt_token"] = p.token(actor)
    at.run()
    expected = _expected_nav(actor)
    assert at.session_state["gt_nav"] == expected
    assert _registered(at) == expected
    if role == ADMIN:
        assert "pages/workforce.py" in expected
    else:
        assert "pages/workforce.py" not in expected
    assert "pages/account.py" in expected


def test_navigation_for_is_role_and_disk_based(tmp_path: Path) -> None:
    for rel in ("pages/account.py", "pages/workforce.py", "pages/portal.py", "pages/viewer.py"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text("")

    def paths(*roles: str) -> dict[str, list[str]]:
        a = Actor(user_id=1, email="x@example.com", roles=frozenset(roles))
        return {s: [p.path for p in specs] for s, specs in navigation_for(a, tmp_path).items()}

    assert paths(ADMIN) == {
        "Audit": ["pages/viewer.py"],
        "Admin": ["pages/workforce.py"],
        "General": ["pages/account.py"],
    }
    assert paths(WORKER) == {"Labeling": ["pages/portal.py"], "General": ["pages/account.py"]}
    assert paths(AUDITOR) == {"Audit": ["pages/viewer.py"], "General": ["pages/account.py"]}
    assert paths() == {}
    disabled = Actor(user_id=1, email="x@example.com", roles=frozenset({ADMIN}), is_active=False)
    assert navigation_for(disabled, tmp_path) == {}


def test_ended_session_goes_back_to_sign_in(app_ctx: Context) -> None:
    p = People(app_ctx)
    p.admin()
    w = p.worker()
    at = _app()
    token = p.token(w)
    at.session_state["gt_token"] = token
    at.run()
    assert "gt_nav" in at.session_state
    p.disable(w)
    at.run()
    assert [t.value for t in at.title] == ["Sign in"]
    assert "signed out" in _texts(at)
    assert "gt_token" not in at.session_state


def test_workforce_page_invites_and_shows_text_only(app_ctx: Context) -> None:
    p = People(app_ctx)
    admin = p.admin()
    teams.create_team(app_ctx, admin, "team-a")
    at = _app()
    at.session_state["gt_token"] = p.token(admin)
    at.run()
    at.switch_page("pages/workforce.py").run()
    assert not at.exception
    at.text_area(key="wf_invite_emails").input("ok@example.com, <script>alert(1)</script>@x.com")
    at.button(key="wf_invite_submit").click().run()
    assert not at.exception
    codes = "\n".join(c.value for c in at.code)
    assert "<script>alert(1)</script>@x.com' is not an e-mail address" in codes
    assert "user name: ok@example.com\ntemporary password: " in codes
    temp = codes.split("temporary password: ")[1].split()[0]
    # user text inside markdown messages is escaped, so it shows literally
    assert any(str(w.value).startswith("`ok@example.com`: give this temporary password") for w in at.warning)
    assert signin.sign_in(app_ctx, "ok@example.com", temp, "c").must_change_password
    assert not any("<script>" in str(m.value) for m in at.markdown)
    at.run()  # shown once: gone on the next rerun
    assert "temporary password" not in "\n".join(c.value for c in at.code)
    table = at.dataframe[0].value
    assert set(table["E-mail"]) == {admin.email, "ok@example.com"}
    assert dict(zip(table["E-mail"], table["Status"], strict=True))["ok@example.com"] == "Invited"


def test_workforce_page_refuses_non_admin(app_ctx: Context) -> None:
    p = People(app_ctx)
    p.admin()
    at = AppTest.from_file(str(REPO / "pages" / "workforce.py"), default_timeout=30)
    at.session_state["gt_token"] = p.token(p.worker())
    at.run()
    assert "needs the admin role" in _texts(at)
    assert not at.dataframe and not at.text_area


def test_account_page_change_password_and_sign_out(app_ctx: Context) -> None:
    p = People(app_ctx)
    p.admin()
    w = p.worker("team-a")
    at = _app()
    at.session_state["gt_token"] = p.token(w)
    at.run()
    at.switch_page("pages/account.py").run()
    assert not at.exception
    assert f"E-mail address: {w.email}" in _texts(at) and "Work teams: team-a" in _texts(at)
    at.text_input(key="auth_change_current").input(PASSWORD)
    at.text_input(key="auth_change_new").input("another fine password")
    at.text_input(key="auth_change_new2").input("another fine password")
    at.button(key="auth_change_submit").click().run()
    assert not at.exception
    assert "Your password was changed." in _texts(at)
    assert signin.sign_in(app_ctx, w.email, "another fine password", "c").user_id == w.user_id
    # AppTest starts every run in Streamlit's pages-folder mode (it resets the flag that st.navigation
    # clears), so a page shown after st.rerun() and the next run's page get different widget ids: run
    # once more before clicking. A real server leaves that mode for good at its first st.navigation.
    at.run()
    at.button(key="account_sign_out").click().run()
    assert "gt_token" not in at.session_state
    assert [t.value for t in at.title] == ["Sign in"]


# --- a real browser against `streamlit run app.py` -----------------------------------------------------------


def _nav_links(page: object) -> list[str]:
    links = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()  # type: ignore[attr-defined]
    return [t.split("\n")[-1].strip() for t in links]


def _nav_when_ready(page: object) -> list[str]:
    from tests.browser import wait_for_idle, wait_until

    wait_for_idle(page)
    return wait_until(lambda: _nav_links(page) or None, timeout=30, what="the sidebar menu")


def _h1(page: object) -> list[str]:
    return page.locator("h1").all_inner_texts()  # type: ignore[attr-defined]


def _not_found_dialog(page: object) -> list[str]:
    """Texts of open dialogs, which are then closed: a URL that is no page gets Streamlit's "Page not found"
    (a page the signed-in user's roles do not allow, too); a signed-out visitor gets the gate anywhere."""
    dialogs = page.locator('[role="dialog"]').all_inner_texts()  # type: ignore[attr-defined]
    if dialogs:
        page.keyboard.press("Escape")  # type: ignore[attr-defined]
        page.locator('[role="dialog"]').wait_for(state="detached")  # type: ignore[attr-defined]
    return dialogs


def _browser_sign_in(page: object, base_url: str, email: str, password: str, path: str = "") -> None:
    from tests.browser import wait_for_idle

    page.goto(base_url + path)  # type: ignore[attr-defined]
    wait_for_idle(page)
    _not_found_dialog(page)
    page.get_by_label("E-mail address").fill(email)  # type: ignore[attr-defined]
    page.get_by_label("Password", exact=True).fill(password)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    wait_for_idle(page)


@pytest.mark.browser
def test_browser_gate_lists_no_pages_before_sign_in(tmp_path: Path, browser: object, streamlit_app: object) -> None:
    from tests.browser import new_page, wait_for_idle

    home = tmp_path / "gt-home"
    env = {"GT_HOME": str(home), "GT_DATABASE_URL": f"sqlite:///{home / 'gt.sqlite3'}", "GT_LOCAL_ROOTS": str(tmp_path)}
    base = streamlit_app(APP, env)  # type: ignore[operator]
    first = new_page(browser)
    # the very first run of a fresh server, straight to a page URL: only the first-admin form, no menu, and
    # no "Page not found" (the gate answers under every page's address)
    first.goto(base + "/workforce")
    wait_for_idle(first)
    first.get_by_role("heading", name="Create the first administrator").wait_for(timeout=30_000)  # a busy machine
    assert _not_found_dialog(first) == []
    assert _h1(first) == ["Create the first administrator"]
    assert _nav_links(first) == []
    first.get_by_label("E-mail address").fill("lead@example.com")
    first.get_by_label("Password (at least 10 characters)").fill("a long admin password")
    first.get_by_label("Repeat the password").fill("a long admin password")
    first.get_by_role("button", name="Create administrator").click()
    wait_for_idle(first)
    assert {"Workforce", "Account"} <= set(_nav_when_ready(first))
    assert _h1(first) == ["Workforce"]  # the page asked for

    ctx = Context.from_settings(Settings.from_env(env))
    lead = workforce.actor_for(ctx, 1)
    p = People(ctx, root=lead)
    worker = p.worker("team-a")
    ctx.db.dispose()

    visitor = new_page(browser)
    for path, dialog in (("/workforce", []), ("/no-such-page", ["Page not found"])):  # the form, never a menu
        visitor.goto(base + path)
        wait_for_idle(visitor)
        visitor.get_by_role("heading", name="Sign in").wait_for(timeout=30_000)
        assert [d.split("\n")[0] for d in _not_found_dialog(visitor)] == dialog
        assert _h1(visitor) == ["Sign in"] and _nav_links(visitor) == []
    _browser_sign_in(visitor, base, worker.email, PASSWORD, "/workforce")
    links = _nav_when_ready(visitor)
    assert "Account" in links and "Workforce" not in links
    assert "Workforce" not in _h1(visitor)
    visitor.context.close()

    admin_page = new_page(browser)
    _browser_sign_in(admin_page, base, "lead@example.com", "a long admin password")
    assert "Workforce" in _nav_when_ready(admin_page)
    admin_page.get_by_role("link", name="Workforce").click()
    wait_for_idle(admin_page)
    assert _h1(admin_page) == ["Workforce"]
    admin_page.context.close()
    first.context.close()
