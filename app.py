"""Entry point: the sign-in gate, then the pages the signed-in user's roles allow.

``streamlit run app.py``. While no administrator exists, only the one-time "create the first
administrator" form is shown; then the sign-in form (and the forced password change after a
temporary password); then ``st.navigation`` built from ``gtcore.ui.nav``.

``st.navigation`` is called on every run, also for the gate (one hidden page), so Streamlit's
automatic ``pages/`` folder menu, which would list every page to anyone, is never shown; a page
opened by URL on a fresh server runs ``auth.require_actor``, which registers the same menu.

The first run also starts the embedded background worker (``gtcore.ui.embedded``), stopped with the server.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from gtcore.core.errors import GTError
from gtcore.ui import auth, embedded
from gtcore.ui.errors import show_error
from gtcore.ui.resources import get_context
from gtcore.workforce import users as workforce

ROOT = Path(__file__).resolve().parent

st.set_page_config(page_title="Labeling", page_icon=":material/label:", layout="wide")

try:
    embedded.ensure_started()  # the app's own background worker (job finishing, output files, sweeps)
    actor = auth.current_actor() if workforce.admin_exists(get_context()) else None
except GTError as exc:
    show_error(exc)
    st.stop()

nav = auth.menu(actor, ROOT)
if actor is not None:
    with st.sidebar:
        st.text(f"Signed in as {actor.email}")
        if st.button("Sign out", key="app_sign_out", icon=":material/logout:"):
            auth.sign_out()
            st.rerun()
if nav is None:
    st.warning("No pages are available for your roles yet.")
    st.stop()
nav.run()
