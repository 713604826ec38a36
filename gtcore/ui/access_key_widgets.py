"""API access keys on the Account page (one's own keys) and the Workforce page (admins: anyone's).

A new key's secret is shown once, in the run that made it; afterwards only the key id is listed. Without a server
key (``GT_SECRET_KEY``) the sections say so and offer nothing. Widget keys start with ``ak_``.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from gtcore.context import Context
from gtcore.core.access import ADMIN, AUDITOR, Actor
from gtcore.core.errors import GTError
from gtcore.core.textsafe import md_escape as _md
from gtcore.ui.errors import show_error
from gtcore.workforce import access_keys
from gtcore.workforce.access_keys import AccessKey, NewAccessKey
from gtcore.workforce.roster import WorkerRow


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "never"


def _available(ctx: Context) -> bool:
    if ctx.settings.secret_keys:
        return True
    st.info(
        "API access keys are not available: the server has no `GT_SECRET_KEY` "
        "(make one with `gtcore generate-secret-key`).",
        icon=":material/key_off:",
    )
    return False


def _show_new(ctx: Context, key: NewAccessKey) -> None:
    st.warning(f"Access key for {_md(key.email)}: copy the secret now, it is shown only once.", icon=":material/key:")
    base = ctx.settings.portal_url.rstrip("/")
    st.code(
        f"aws_access_key_id = {key.key_id}\naws_secret_access_key = {key.secret}\n"
        f"region = {ctx.settings.aws_region}\nendpoint_url = {base}/api/sagemaker",
        language=None,
    )


def _table(keys: list[AccessKey], with_owner: bool) -> None:
    rows = [
        {**({"User": k.email} if with_owner else {}), "Access key id": k.key_id, "Created": _when(k.created_at)}
        | {"Last used": _when(k.last_used_at)}
        for k in keys
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _delete_picker(ctx: Context, actor: Actor, keys: list[AccessKey], prefix: str) -> None:
    if not keys:
        return
    ids = [k.key_id for k in keys]
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    chosen = c1.selectbox("Key to delete", ids, key=f"{prefix}_delete_pick")
    if c2.button("Delete key", key=f"{prefix}_delete", icon=":material/delete:"):
        try:
            access_keys.delete_access_key(ctx, actor, str(chosen))
        except GTError as exc:
            show_error(exc)
            return
        st.session_state["ak_flash"] = f"Access key {chosen} deleted: it no longer works."
        st.rerun()


def _flash() -> None:
    msg = st.session_state.pop("ak_flash", None)
    if msg:
        st.success(_md(str(msg)))


def my_keys(ctx: Context, actor: Actor) -> None:
    """The Account page's section: my keys, make one, delete one."""
    if not _available(ctx):
        return
    _flash()
    try:
        keys = access_keys.list_access_keys(ctx, actor)
    except GTError as exc:
        show_error(exc)
        return
    st.caption(
        f"For scripts using boto3's `sagemaker` client or the AWS CLI against this server "
        f"(at most {access_keys.MAX_KEYS_PER_USER} keys; what you may do is what your roles allow)."
    )
    if not (actor.has(ADMIN) or actor.has(AUDITOR)):
        st.info("The API serves admins and auditors: a key of yours works once you hold one of those roles.")
    if keys:
        _table(keys, with_owner=False)
    if st.button("Create access key", key="ak_mine_create", icon=":material/add:"):
        try:
            _show_new(ctx, access_keys.create_access_key(ctx, actor, actor.user_id or 0))
        except GTError as exc:
            show_error(exc)
    _delete_picker(ctx, actor, keys, "ak_mine")


def workforce_keys_tab(ctx: Context, actor: Actor, workers: list[WorkerRow]) -> None:
    """The Workforce page's tab (admins): everyone's keys, make one for a person, revoke any."""
    if not _available(ctx):
        return
    _flash()
    try:
        keys = access_keys.list_access_keys(ctx, actor, -1)
    except GTError as exc:
        show_error(exc)
        return
    if keys:
        _table(keys, with_owner=True)
    else:
        st.caption("No access keys yet.")
    people = {w.user_id: w.email for w in workers if w.status == "Active"}
    if people:
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        uid = c1.selectbox("Person", list(people), format_func=lambda u: people[u], key="ak_wf_user")
        if c2.button("Create access key", key="ak_wf_create", icon=":material/add:"):
            try:
                _show_new(ctx, access_keys.create_access_key(ctx, actor, int(uid)))
            except GTError as exc:
                show_error(exc)
    _delete_picker(ctx, actor, keys, "ak_wf")
