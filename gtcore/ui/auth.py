"""The sign-in gate for the pages: who is signed in, the role guard, and the sign-in forms.

Contract for pages:

- ``current_actor()`` the signed-in Actor or None. The token lives in ``st.session_state["gt_token"]``
  and is checked by gtcore on every rerun (a disabled user or an expired session is out at once). A new
  browser session (reload, new tab, a ``?job=`` link) takes it from the HttpOnly session cookie
  (``gtcore.ui.session_cookie``); sign-in and password changes set that cookie, sign-out clears it.
- ``require_actor(*roles)`` the Actor; when nobody is signed in it shows the sign-in form (``gate()``) and
  stops, when the role is missing a message and ``st.stop()``.
- ``client_id()`` a client identifier for sign-in throttling.
- ``sign_out()`` ends the session.

User text (e-mail addresses, names) is only ever rendered as text, never as HTML or markdown.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
from pathlib import Path
from typing import Any

import streamlit as st

from gtcore.core.access import WORKER, Actor
from gtcore.core.errors import GTError, PasswordChangeRequired, SessionExpired
from gtcore.ui import session_cookie
from gtcore.ui.errors import show_error
from gtcore.ui.nav import PAGES, PageSpec, pages_for
from gtcore.ui.resources import get_context
from gtcore.workforce import signin
from gtcore.workforce import users as workforce

TOKEN_KEY = "gt_token"  # noqa: S105 - a session-state key, not a secret
_MUST_CHANGE_KEY = "gt_must_change_password"
_NOTICE_KEY = "gt_auth_notice"
_CLIENT_KEY = "gt_client_id"
LANDING_KEY = "gt_landing"  # after the forced password change: where app.py sends the user
REPO_ROOT = Path(__file__).resolve().parents[2]


def _pages_folder_mode() -> bool:
    """True while Streamlit runs in its old ``pages/`` folder mode, where a page URL runs the page file
    directly (without app.py) under an automatic menu listing every page. Streamlit decides this per
    process before the first run and leaves it at the first ``st.navigation`` call."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a Streamlit without the flag has no folder mode
        return False
    return bool(getattr(PagesManager, "uses_pages_directory", False))


def menu(actor: Actor | None, root: Path | None = None) -> Any:
    """Register the navigation for ``actor`` with ``st.navigation`` and return the selected page.

    Signed in: the pages his roles allow (``navigation_for``), recorded in ``st.session_state["gt_nav"]``;
    None when there are none. Not signed in: the sign-in gate, hidden, under every page's address, so a
    reload or a link to a page shows the sign-in form there and, once signed in, that very page.
    """
    session_cookie.sync()
    if actor is None:
        st.session_state.pop("gt_nav", None)
        gates = [st.Page(gate, title="Sign in", icon=":material/login:", default=True)] + [
            st.Page(gate, title="Sign in", icon=":material/login:", url_path=Path(spec.path).stem) for spec in PAGES[1:]
        ]
        return st.navigation(gates, position="hidden")
    base = root or REPO_ROOT
    sections = navigation_for(actor, base)
    st.session_state["gt_nav"] = [spec.path for specs in sections.values() for spec in specs]
    if not sections:
        return None
    return st.navigation(
        {
            section: [st.Page(str(base / s.path), title=s.title, icon=s.icon) for s in specs]
            for section, specs in sections.items()
        }
    )


def current_actor() -> Actor | None:
    """The signed-in Actor, validated by gtcore on every call; None when nobody is signed in."""
    token = st.session_state.get(TOKEN_KEY)
    st.session_state[_MUST_CHANGE_KEY] = False
    if not token:
        token = session_cookie.cookie_token()  # a reload or a new tab: the browser's session cookie
        if not token:
            return None
        st.session_state[TOKEN_KEY] = token
    try:
        return workforce.actor_for_token(get_context(), token)
    except PasswordChangeRequired:
        st.session_state[_MUST_CHANGE_KEY] = True
        return None
    except SessionExpired as exc:
        st.session_state.pop(TOKEN_KEY, None)
        st.session_state[_NOTICE_KEY] = exc.message
        session_cookie.clear_cookie()
        return None


def show_notice() -> None:
    """Show (once) a message left by the previous run, e.g. "Your password was changed"."""
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice:
        st.info(str(notice))


def must_change_password() -> bool:
    """True when the session is live but its temporary password must be replaced first."""
    return bool(st.session_state.get(TOKEN_KEY)) and bool(st.session_state.get(_MUST_CHANGE_KEY))


def require_actor(*roles: str) -> Actor:
    """For pages: the signed-in Actor holding one of ``roles`` (any role when none given); else stop."""
    folder_mode = _pages_folder_mode()
    try:
        actor = current_actor()
    except GTError as exc:  # e.g. the database does not answer
        show_error(exc)
        st.stop()
    if folder_mode:
        # this page was opened by URL on a fresh server, without app.py: give it app.py's menu, and
        # show the gate through that menu (a form drawn inside this page run would lose its first submit)
        menu(actor)
        if actor is None:
            st.rerun()
    if actor is None:
        # a page opened without going through app.py's gate still gets the sign-in form
        gate()
        st.stop()
    assert actor is not None
    if roles and not any(actor.has(r) for r in roles):
        st.warning(f"This page needs the {' or '.join(roles)} role.", icon=":material/block:")
        st.stop()
    show_notice()
    return actor


def gate() -> None:
    """The form a visitor needs before any page: create the first admin, sign in, or replace a
    temporary password. Call after ``current_actor()`` returned None."""
    if not workforce.admin_exists(get_context()):
        first_admin_form()
    elif must_change_password():
        change_password_form(forced=True)
    else:
        sign_in_form()


def client_id() -> str:
    """Who is connecting, for throttling: the remote address, or the last X-Forwarded-For hop that our
    own proxy added when the connection comes from a local or private proxy; else a per-session id."""
    remote: str | None = None
    forwarded = ""
    with contextlib.suppress(Exception):  # no client context outside a browser session
        ip = st.context.ip_address
        remote = ip if isinstance(ip, str) and ip else None
        xff = st.context.headers.get("X-Forwarded-For", "")
        forwarded = xff if isinstance(xff, str) else ""
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    if hops and (remote is None or _is_private(remote)):
        return "ip:" + hops[-1][:100]
    if remote:
        return "ip:" + remote
    if _CLIENT_KEY not in st.session_state:
        st.session_state[_CLIENT_KEY] = "session:" + secrets.token_hex(8)
    return str(st.session_state[_CLIENT_KEY])


def _is_private(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_private
    except ValueError:
        return False


def sign_out() -> None:
    """End the session in the database and forget the token."""
    token = st.session_state.pop(TOKEN_KEY, None)
    st.session_state[_MUST_CHANGE_KEY] = False
    if token:
        signin.sign_out(get_context(), token)  # revoked first: the cookie is dead even if the browser keeps it
    session_cookie.clear_cookie()


def navigation_for(actor: Actor, root: Path | None = None) -> dict[str, list[PageSpec]]:
    """The pages for ``actor`` grouped by section in menu order, keeping only page files that exist."""
    base = root or REPO_ROOT
    sections: dict[str, list[PageSpec]] = {}
    for spec in pages_for(actor):
        if (base / spec.path).is_file():
            sections.setdefault(spec.section, []).append(spec)
    return sections


# --- forms app.py shows before anyone is signed in ------------------------------------------------------------


def first_admin_form() -> None:
    """The one-time form that creates the first administrator (app.py shows it only while none exists)."""
    st.title("Create the first administrator")
    st.write(
        "No administrator exists yet. The account you create here manages work teams, invitations and "
        "labeling jobs. This form disappears once the account exists."
    )
    with st.form("auth_first_admin"):
        email = st.text_input("E-mail address", key="auth_first_email")
        pw = st.text_input("Password (at least 10 characters)", type="password", key="auth_first_pw")
        pw2 = st.text_input("Repeat the password", type="password", key="auth_first_pw2")
        submitted = st.form_submit_button("Create administrator", key="auth_first_submit")
    if not submitted:
        return
    if pw != pw2:
        st.error("The two passwords differ.")
        return
    ctx = get_context()
    try:
        workforce.create_first_admin(ctx, email, pw)
        session = signin.sign_in(ctx, email, pw, client_id())
    except GTError as exc:
        show_error(exc)
        return
    _signed_in(session.token)
    st.rerun()


def sign_in_form() -> None:
    """E-mail and password; on success the token goes to the session state and the app reruns."""
    st.title("Sign in")
    show_notice()
    from gtcore.ui import oidc_signin  # the organization's identity provider, when one is configured

    oidc_signin.offer()
    with st.form("auth_sign_in"):
        email = st.text_input("E-mail address", key="auth_signin_email")
        pw = st.text_input("Password", type="password", key="auth_signin_pw")
        submitted = st.form_submit_button("Sign in", key="auth_signin_submit")
    if not submitted:
        return
    try:
        session = signin.sign_in(get_context(), email, pw, client_id())
    except GTError as exc:
        show_error(exc)
        return
    _signed_in(session.token)
    st.rerun()


def _signed_in(token: str) -> None:
    st.session_state[TOKEN_KEY] = token
    session_cookie.set_cookie(token)


def change_password_form(*, forced: bool) -> None:
    """Change the signed-in user's password (``forced``: the temporary one must go before anything else)."""
    if forced:
        st.title("Choose your password")
        st.info("You signed in with a temporary password. Choose your own password to continue.")
    with st.form("auth_change_pw", clear_on_submit=True):
        current = st.text_input(
            "Temporary password" if forced else "Current password", type="password", key="auth_change_current"
        )
        new = st.text_input("New password (at least 10 characters)", type="password", key="auth_change_new")
        new2 = st.text_input("Repeat the new password", type="password", key="auth_change_new2")
        submitted = st.form_submit_button("Change password", key="auth_change_submit")
    if forced and st.button("Sign out", key="auth_change_signout"):
        sign_out()
        st.rerun()
    if not submitted:
        return
    if new != new2:
        st.error("The two new passwords differ.")
        return
    try:
        session = signin.change_password(get_context(), st.session_state.get(TOKEN_KEY, ""), current, new)
    except SessionExpired as exc:
        st.session_state.pop(TOKEN_KEY, None)
        show_error(exc)
        return
    except GTError as exc:
        show_error(exc)
        return
    _signed_in(session.token)
    st.session_state[_MUST_CHANGE_KEY] = False
    st.session_state[_NOTICE_KEY] = "Your password was changed."
    if forced:
        st.session_state[LANDING_KEY] = True
    st.rerun()


def land(actor: Actor, page: Any) -> None:
    """After the forced password change: a worker who came to the home page goes on to the Worker portal
    (a link to another page, e.g. ``?job=``, keeps its page)."""
    if not st.session_state.pop(LANDING_KEY, False) or not actor.has(WORKER):
        return
    if getattr(page, "default", False) or getattr(page, "url_path", "") in ("", "home"):
        st.switch_page("pages/portal.py")
