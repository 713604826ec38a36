"""Account (everyone): who I am, my teams, change my password, my API access keys, sign out."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from gtcore.core.errors import GTError
from gtcore.ui import access_key_widgets as akw
from gtcore.ui.auth import change_password_form, require_actor, sign_out
from gtcore.ui.errors import show_error
from gtcore.ui.resources import get_context
from gtcore.workforce import users as workforce

actor = require_actor()
st.title("Account")

try:
    me = workforce.my_profile(get_context(), actor)
except GTError as exc:
    show_error(exc)
    st.stop()

st.text(f"E-mail address: {me.email}")
st.text(f"Roles: {', '.join(me.roles) or 'none'}")
st.text(f"Work teams: {', '.join(me.teams) or 'none'}")
st.text(f"Worker id: {me.worker_id}")
if me.last_login_at:
    st.text(f"Signed in at: {datetime.fromtimestamp(me.last_login_at):%Y-%m-%d %H:%M}")

st.subheader("Change password")
change_password_form(forced=False)

st.subheader("API access keys")
akw.my_keys(get_context(), actor)

st.subheader("Sign out")
if st.button("Sign out", key="account_sign_out", icon=":material/logout:"):
    sign_out()
    st.rerun()
