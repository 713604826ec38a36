"""Workforce (admins): the table of workers, invitations, teams, API access keys; disable/enable, reset, resend,
roles."""

from __future__ import annotations

import streamlit as st

from gtcore.core.errors import GTError
from gtcore.ui import access_key_widgets as akw
from gtcore.ui import oidc_signin
from gtcore.ui import workforce_widgets as ww
from gtcore.ui.auth import require_actor
from gtcore.ui.errors import show_error
from gtcore.ui.resources import get_context
from gtcore.workforce import roster, teams

actor = require_actor("admin")
ctx = get_context()
st.title("Workforce")
flash = st.session_state.pop("wf_flash", None)
if flash:
    st.info(str(flash))

try:
    workers = roster.list_workers(ctx, actor)
    team_list = teams.list_teams(ctx, actor)
except GTError as exc:
    show_error(exc)
    st.stop()

tab_workers, tab_invite, tab_teams, tab_keys, tab_oidc = st.tabs(
    ["Workers", "Invite", "Teams", "API keys", "Identity provider"]
)
with tab_workers:
    ww.workers_tab(ctx, actor, workers)
with tab_invite:
    ww.invite_tab(ctx, actor, team_list)
with tab_teams:
    ww.teams_tab(ctx, actor, team_list, workers)
with tab_keys:
    akw.workforce_keys_tab(ctx, actor, workers)
with tab_oidc:
    oidc_signin.provider_tab(ctx, actor, team_list)
