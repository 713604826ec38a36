"""The Workforce page's widgets (admins): the workers table with disable/enable, reset, resend and roles;
invitations; teams and their members. ``pages/workforce.py`` loads the lists and calls one function per tab.

Every widget key starts with ``wf_``.
"""

from __future__ import annotations

import zlib
from datetime import datetime

import pandas as pd
import streamlit as st

from gtcore.context import Context
from gtcore.core.access import ROLES, Actor
from gtcore.core.errors import GTError
from gtcore.core.textsafe import md_escape as _md
from gtcore.ui.errors import show_error
from gtcore.workforce import invitations, roster, teams
from gtcore.workforce.invitation_mail import Delivery
from gtcore.workforce.roster import WorkerRow
from gtcore.workforce.teams import Team


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "never"


def _show_delivery(d: Delivery) -> None:
    if d.delivery == "smtp":
        st.success(f"E-mail sent to {_md(d.email)}.", icon=":material/mail:")
        return
    if d.error:
        st.warning(f"Not e-mailed: {_md(d.error)}")
    st.warning(
        f"{_md(d.email)}: give this temporary password to the worker now; it is shown only once "
        f"(the message is also in the outbox file {_md(d.delivered_to)}).",
        icon=":material/key:",
    )
    st.code(f"user name: {d.email}\ntemporary password: {d.temporary_password}", language=None)


def workers_tab(ctx: Context, actor: Actor, workers: list[WorkerRow]) -> None:
    """The workers table and the actions on one chosen worker."""
    table = pd.DataFrame(
        [
            {
                "E-mail": w.email,
                "Roles": ", ".join(w.roles),
                "Teams": ", ".join(w.teams),
                "Status": w.status + (" (sign-in locked)" if w.sign_in_locked_until else ""),
                "Last sign-in": _when(w.last_login_at),
                "Tasks submitted": w.tasks_submitted,
            }
            for w in workers
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")
    by_id = {w.user_id: w for w in workers}
    chosen = st.selectbox("Worker", list(by_id), format_func=lambda u: by_id[u].email, key="wf_worker")
    if chosen is not None:
        w = by_id[chosen]
        c1, c2, c3 = st.columns(3)
        try:
            if w.sign_in_locked_until:
                st.warning(
                    f"Failed sign-ins locked {_md(w.email)} until {_when(w.sign_in_locked_until)} for the clients "
                    "that failed (a client without failures still gets in).",
                    icon=":material/lock_clock:",
                )
                if st.button("Unlock sign-in", key="wf_unlock", icon=":material/lock_open:"):
                    roster.unlock_sign_in(ctx, actor, w.user_id)
                    st.session_state["wf_flash"] = f"{_md(w.email)} unlocked."
                    st.rerun()
            if w.status == "Disabled":
                if c1.button("Enable", key="wf_enable", icon=":material/person_check:"):
                    roster.enable_user(ctx, actor, w.user_id)
                    st.rerun()
            elif c1.button("Disable", key="wf_disable", icon=":material/person_off:"):
                back = roster.disable_user(ctx, actor, w.user_id)
                st.session_state["wf_flash"] = f"{_md(w.email)} disabled; {back} task(s) went back to the pool."
                st.rerun()
            if c2.button("Reset password", key="wf_reset", icon=":material/lock_reset:"):
                _show_delivery(invitations.reset_password(ctx, actor, w.user_id))
            if w.status in ("Invited", "Invitation expired") and c3.button(
                "Resend invitation", key="wf_resend", icon=":material/forward_to_inbox:"
            ):
                _show_delivery(invitations.resend_invitation(ctx, actor, w.user_id))
            with st.form("wf_roles_form"):
                new_roles = st.multiselect("Roles", list(ROLES), default=list(w.roles), key=f"wf_roles_{w.user_id}")
                if st.form_submit_button("Save roles", key="wf_roles_save"):
                    roster.set_roles(ctx, actor, w.user_id, new_roles)
                    st.rerun()
        except GTError as exc:
            show_error(exc)


INVITED = "wf_invite_outcome"  # what the last "Send invitations" did, shown once under the form


def invite_tab(ctx: Context, actor: Actor, team_list: list[Team]) -> None:
    """Invite up to 50 addresses into a team. The invitation runs in the button's callback, before the page
    loads the workers: the Workers tab lists the new people in the same run."""
    if not team_list:
        st.info("Create a work team first (Teams tab): workers see the jobs of their teams only.")
    names = [t.name for t in team_list]
    team_key = f"wf_invite_team::{zlib.crc32('/'.join(names).encode())}"  # a new team list: a fresh choice
    with st.form("wf_invite_form"):
        st.text_area("E-mail addresses (up to 50; commas, spaces or one per line)", key="wf_invite_emails")
        st.selectbox(
            "Work team",
            names,
            index=0 if len(names) == 1 else None,  # the only team is the choice; of several, none is assumed
            placeholder="Choose a work team",
            key=team_key,
        )
        st.multiselect("Roles", list(ROLES), default=["worker"], key="wf_invite_roles")
        st.form_submit_button(
            "Send invitations", key="wf_invite_submit", on_click=_on_invite, args=(ctx, actor, team_key)
        )
    outcome = st.session_state.pop(INVITED, None)
    if isinstance(outcome, str):
        st.error(outcome, icon=":material/group:")
    elif isinstance(outcome, GTError):
        show_error(outcome)
    elif outcome is not None:
        _invited_ui(outcome)


def _on_invite(ctx: Context, actor: Actor, team_key: str) -> None:
    state = st.session_state
    team_name, roles = state.get(team_key), list(state.get("wf_invite_roles") or [])
    if team_name is None and "worker" in roles:
        state[INVITED] = "Choose the work team the workers join: a worker in no team gets no jobs."
        return
    try:
        state[INVITED] = invitations.invite(ctx, actor, str(state.get("wf_invite_emails") or ""), team_name, roles)
    except GTError as exc:
        state[INVITED] = exc


def _invited_ui(result: invitations.InviteResult) -> None:
    if result.problems:
        st.error(f"{len(result.problems)} address(es) not invited:")
        st.code("\n".join(str(p) for p in result.problems), language=None, wrap_lines=True)
    if result.existing:
        st.info(f"{len(result.existing)} already had an account and joined the team:")
        st.code("\n".join(result.existing), language=None)
    for d in result.invited:
        _show_delivery(d)


def teams_tab(ctx: Context, actor: Actor, team_list: list[Team], workers: list[WorkerRow]) -> None:
    """The teams table, a new team, and the members of a chosen team."""
    by_id = {w.user_id: w for w in workers}
    st.dataframe(
        pd.DataFrame([{"Team": t.name, "Description": t.description, "Members": t.member_count} for t in team_list]),
        hide_index=True,
        width="stretch",
    )
    with st.form("wf_team_create", clear_on_submit=True):
        new_name = st.text_input("New team name (letters, digits, hyphens; at most 63)", key="wf_team_name")
        new_desc = st.text_input("Description (optional)", key="wf_team_desc")
        create_clicked = st.form_submit_button("Create team", key="wf_team_create_submit")
    if create_clicked:
        try:
            teams.create_team(ctx, actor, new_name, new_desc)
            st.rerun()
        except GTError as exc:
            show_error(exc)
    names = {t.id: t.name for t in team_list}
    team_id = st.selectbox("Team", list(names), format_func=lambda i: names[i], key="wf_team_pick")
    if team_id is not None:
        try:
            members = teams.team_members(ctx, actor, team_id)
            member_ids = {m.user_id for m in members}
            st.dataframe(
                pd.DataFrame([{"Member": m.email, "Active": m.is_active} for m in members]),
                hide_index=True,
                width="stretch",
            )
            others = [w.user_id for w in workers if w.user_id not in member_ids]
            add = st.multiselect("Add workers", others, format_func=lambda u: by_id[u].email, key="wf_team_add")
            if add and st.button("Add to team", key="wf_team_add_btn"):
                teams.add_members(ctx, actor, team_id, add)
                st.rerun()
            drop = st.selectbox(
                "Remove a member",
                [m.user_id for m in members],
                index=None,
                key="wf_team_drop",
                format_func=lambda u: next(m.email for m in members if m.user_id == u),
            )
            if drop is not None and st.button("Remove from team", key="wf_team_drop_btn"):
                back = teams.remove_member(ctx, actor, team_id, drop)
                st.session_state["wf_flash"] = f"Removed; {back} task(s) went back to the pool."
                st.rerun()
            with st.form("wf_team_rename"):
                renamed = st.text_input("Rename to", value=names[team_id], key=f"wf_team_rename_{team_id}")
                if st.form_submit_button("Rename", key="wf_team_rename_submit"):
                    teams.rename_team(ctx, actor, team_id, renamed)
                    st.rerun()
        except GTError as exc:
            show_error(exc)
