"""The OIDC workforce in the pages: the sign-in button, the provider's logout offer, and the admin's settings.

Hooks: ``auth.sign_in_form`` calls ``offer()``; app.py's Sign out calls ``remember_logout(actor)`` before
``auth.sign_out()``; the Workforce page shows ``provider_tab`` (the identity provider and the teams' groups).
The protocol itself runs in ``gtcore.workforce.oidc_signin`` behind the routes of ``gtcore.ui.oidc_routes``.
"""

from __future__ import annotations

import html

import streamlit as st

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.errors import GTError
from gtcore.ui.errors import show_error
from gtcore.ui.oidc_routes import START
from gtcore.ui.resources import get_context
from gtcore.workforce import oidc_config, oidc_identity, oidc_teams
from gtcore.workforce.teams import Team

_LOGOUT_KEY = "gt_oidc_logout_url"


def _base_path() -> str:
    from streamlit import config

    base = str(config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}" if base else ""


_BUTTON_STYLE = (
    "display:inline-block;padding:0.5rem 1.1rem;border-radius:0.5rem;background:#1f6feb;color:#fff;"
    "text-decoration:none;font-weight:600"
)


def _link(url: str, text: str, *, button: bool = False) -> None:
    """A same-tab link (``st.link_button`` opens a new tab, which would leave the sign-in in another window)."""
    style = f' style="{_BUTTON_STYLE}"' if button else ""
    st.markdown(
        f'<a href="{html.escape(url, quote=True)}" target="_self" rel="noopener"{style}>{html.escape(text)}</a>',
        unsafe_allow_html=True,
    )


def offer() -> None:
    """On the sign-in page: the provider's logout after a sign-out, and the "Sign in with your organization"
    link when an identity provider is configured (local accounts stay below for admins)."""
    logout = st.session_state.pop(_LOGOUT_KEY, None)
    if logout:
        st.info("You are signed out here. Your organization's account may still be signed in.")
        _link(str(logout), "Also sign out of your organization's account")
    try:
        configured = oidc_config.configured(get_context())
    except GTError as exc:
        show_error(exc)
        return
    if not configured:
        return
    _link(_base_path() + START, "Sign in with your organization", button=True)
    caption = "Or sign in with a local account:"
    if not get_context().settings.local_worker_signin:
        caption = "Administrators' local accounts:"
    st.caption(caption)


def remember_logout(actor: Actor | None) -> None:
    """Before a sign-out: when the person came through the identity provider, keep its logout link to offer."""
    if actor is None:
        return
    ctx = get_context()
    try:
        cfg = oidc_config.public_config(ctx)
        if cfg is None or not cfg.logout_endpoint or not oidc_identity.is_oidc_user(ctx, actor.user_id):
            return
        home = str(st.context.url or "").split("?")[0]
        st.session_state[_LOGOUT_KEY] = oidc_config.logout_url(cfg, home)
    except Exception:  # noqa: S110 - the offer is a courtesy: sign-out goes on without it
        return


# --- the admin's tab on the Workforce page ----------------------------------------------------------------------

_FIELDS = (
    ("Issuer", "issuer"),
    ("Authorization endpoint", "authorization_endpoint"),
    ("Token endpoint", "token_endpoint"),
    ("User info endpoint", "user_info_endpoint"),
    ("Logout endpoint", "logout_endpoint"),
    ("JWKS URI", "jwks_uri"),
)


def _init_form(ctx: Context, actor: Actor) -> bool:
    """Fill the form's widget state from the stored provider once per session; True when one is stored."""
    described = oidc_config.describe_config(ctx, actor)
    if "oidc_client_id" not in st.session_state:
        d = described or {}
        for api, attr in oidc_config.API_FIELDS.items():
            if api in ("ClientSecret", "AuthenticationRequestExtraParams"):
                continue
            st.session_state[f"oidc_{attr}"] = d.get(api) or (oidc_config.DEFAULT_SCOPE if api == "Scope" else "")
        extra = d.get("AuthenticationRequestExtraParams") or {}
        st.session_state["oidc_extra"] = "\n".join(f"{k}={v}" for k, v in extra.items())
    return described is not None


def _discover() -> None:
    """The discovery button's callback (before the form's widgets exist in the run): fill the empty endpoints."""
    try:
        doc = oidc_config.discover(str(st.session_state.get("oidc_discover_issuer", "")))
    except GTError as exc:
        st.session_state["oidc_discover_error"] = exc
        return
    current = {attr: str(st.session_state.get(f"oidc_{attr}", "")) for _label, attr in _FIELDS}
    empty = oidc_config.OidcConfig("", "", **current)  # type: ignore[arg-type]
    for attr, value in vars(oidc_config.with_discovery(empty, doc)).items():
        if attr in current and value:
            st.session_state[f"oidc_{attr}"] = value


def provider_tab(ctx: Context, actor: Actor, team_list: list[Team]) -> None:
    """The identity provider (Ground Truth's OidcConfig) and which OIDC groups make up each work team."""
    st.subheader("Identity provider (OIDC)")
    st.caption(
        "Workers sign in through your organization's identity provider. Register "
        f"`<this app's address>{_base_path()}/_gt/oidc/callback` as its redirect URI. The provider must send "
        "sagemaker:groups, sagemaker:sub, sagemaker:client_id and sagemaker:name (and email)."
    )
    try:
        stored = _init_form(ctx, actor)
    except GTError as exc:
        show_error(exc)
        return
    st.text_input("Issuer to read the endpoints from (optional)", key="oidc_discover_issuer")
    st.button("Fill the empty endpoints from the issuer's discovery document", key="oidc_discover", on_click=_discover)
    failed = st.session_state.pop("oidc_discover_error", None)
    if failed is not None:
        show_error(failed)
    with st.form("oidc_config_form"):
        client_id = st.text_input("Client ID", key="oidc_client_id")
        secret = st.text_input(
            "Client secret (leave empty to keep the stored one)", type="password", key="oidc_client_secret"
        )
        urls = {attr: st.text_input(label, key=f"oidc_{attr}") for label, attr in _FIELDS}
        scope = st.text_input("Scope", key="oidc_scope")
        extra = st.text_area("Extra authorization request parameters (one name=value a line)", key="oidc_extra")
        saved = st.form_submit_button("Save the identity provider", key="oidc_save")
    if saved:
        params = dict(line.split("=", 1) for line in extra.splitlines() if "=" in line)
        cfg = oidc_config.OidcConfig(
            client_id=client_id.strip(),
            client_secret=secret,
            scope=scope.strip(),
            extra_params={k.strip(): v.strip() for k, v in params.items()},
            **{k: v.strip() for k, v in urls.items()},
        )
        try:
            oidc_config.save_config(ctx, actor, cfg)
        except GTError as exc:
            show_error(exc)
        else:
            stored = True
            st.success("The identity provider is saved: the sign-in page now offers it.")
    if stored and st.button("Remove the identity provider", key="oidc_remove"):
        try:
            oidc_config.clear_config(ctx, actor)
        except GTError as exc:
            show_error(exc)
        else:
            st.rerun()
    _groups_editor(ctx, actor, team_list)


def _groups_editor(ctx: Context, actor: Actor, team_list: list[Team]) -> None:
    st.subheader("Teams' OIDC groups")
    st.caption(
        "A person is in every team one of whose groups is in his sagemaker:groups claim (read at each sign-in; "
        "a change here applies at once to the groups people last signed in with). Someone whose groups no longer "
        "match leaves the team and its jobs."
    )
    if not team_list:
        st.info("Create a work team first (Teams tab).")
        return
    names = [t.name for t in team_list]
    team = st.selectbox("Team", names, key="oidc_groups_team")
    try:
        current = oidc_teams.team_groups(ctx, actor, team)
    except GTError as exc:
        show_error(exc)
        return
    with st.form("oidc_groups_form"):
        text = st.text_input("Groups (comma-separated, at most 10)", value=", ".join(current), key="oidc_groups")
        saved = st.form_submit_button("Save the groups", key="oidc_groups_save")
    if saved:
        try:
            stored = oidc_teams.set_team_groups(ctx, actor, team, [g for g in text.split(",")])
        except GTError as exc:
            show_error(exc)
        else:
            st.success(f"{team}: {', '.join(stored) if stored else 'no groups'}")
