"""Entry point: the sign-in gate, then the pages the signed-in user's roles allow.

``streamlit run app.py``. Streamlit finds the ``st.App`` below and serves this file as a Starlette app with
two routes of ours added (``gtcore.ui.session_cookie``: the HttpOnly session cookie that keeps a browser
signed in across reloads and tabs; ``gtcore.api.server``: Ground Truth's API at ``<base>/api/sagemaker`` for boto3
and the AWS CLI); each browser session then runs this file as the script (``__main__``).

While no administrator exists, only the one-time "create the first administrator" form is shown; then the
sign-in form (and the forced password change after a temporary password); then ``st.navigation`` built
from ``gtcore.ui.nav``.

``st.navigation`` is called on every run, also for the gate (hidden, under every page's address), so
Streamlit's automatic ``pages/`` folder menu, which would list every page to anyone, is never shown; a page
opened by URL on a fresh server runs ``auth.require_actor``, which registers the same menu.

The server's start (and, as before, the first run) starts the embedded background worker (``gtcore.ui.embedded``),
stopped with the server.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent

if __name__ != "__main__":  # imported by `streamlit run app.py` (or an ASGI server) for the web app
    import contextlib
    from collections.abc import AsyncIterator
    from typing import Any

    from streamlit import config
    from streamlit.starlette import App

    from gtcore.api import server as sagemaker_api
    from gtcore.ui import embedded, oidc_routes, readiness, session_cookie

    @contextlib.asynccontextmanager
    async def _lifespan(_app: Any) -> AsyncIterator[None]:
        embedded.ensure_started()  # at server start too, so API-only use (no page ever opened) gets its work done
        yield None

    _base = str(config.get_option("server.baseUrlPath") or "")
    app = App(
        ROOT / "app.py",
        routes=session_cookie.routes(_base)
        + readiness.routes(_base)
        + oidc_routes.routes(_base)
        + sagemaker_api.routes(_base),
        lifespan=_lifespan,
    )
else:
    import streamlit as st

    from gtcore.core.errors import GTError
    from gtcore.ui import auth, embedded, oidc_signin
    from gtcore.ui.errors import show_error
    from gtcore.ui.resources import get_context
    from gtcore.workforce import users as workforce

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
                oidc_signin.remember_logout(actor)  # offers the identity provider's logout on the sign-in page
                auth.sign_out()
                st.rerun()
    if nav is None:
        st.warning("No pages are available for your roles yet.")
        st.stop()
    if actor is not None:
        auth.land(actor, nav)
    nav.run()
