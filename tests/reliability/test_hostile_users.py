"""Hostile users: a worker reaching for another team's job or another worker's task, an auditor trying to change
anything, a disabled user with an old session, brute-force sign-in, and label names, titles and instructions
carrying HTML and script.

Every refused call raises PermissionDenied (or the sign-in error) and leaves every table exactly as it was.
Pages are checked under AppTest: user text in Markdown-rendering elements (markdown, captions, headers,
alerts) is escaped (``&lt;script&gt;`` or ``\\<script\\>``, which Markdown shows as the literal characters),
no element renders HTML (``unsafe_allow_html``), and plain-text elements (``st.text``, code) show it verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.errors import (
    Conflict,
    GTError,
    InvalidCredentials,
    NotFound,
    PermissionDenied,
    SessionExpired,
    Throttled,
)
from gtcore.images import task_images as taskimages
from gtcore.jobs import api as jobs
from gtcore.jobs import progress as jobstats
from gtcore.queue import api as queue
from gtcore.queue import portal
from gtcore.viewer import opener as audit_mod
from gtcore.workforce import invitations, roster, signin, teams
from gtcore.workforce import users as workforce
from gtcore.workforce.signin import ACCOUNT_LIMIT, BASE_LOCK_SECONDS, CLIENT_LIMIT
from tests.fixtures.jobs import JobFactory
from tests.fixtures.labeling import LabelWorld, app_as, open_page, start_in_app
from tests.fixtures.people import PASSWORD, People
from tests.fixtures.queue import box_answer


def snapshot(ctx: Context) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (login throttling aside: refused sign-ins are meant to count there)."""
    with ctx.db.read() as conn:
        return {
            t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=repr)
            for t in dbm.metadata.sorted_tables
            if t.name != "login_throttle"
        }


def refused(ctx: Context, calls: dict[str, Callable[[], Any]], errors: tuple[type[GTError], ...]) -> None:
    before = snapshot(ctx)
    for what, call in calls.items():
        with pytest.raises(errors):
            call()
        assert snapshot(ctx) == before, f"{what} was refused but changed the database"


class World:
    def __init__(self, ctx: Context, root: Path) -> None:
        self.ctx = ctx
        self.people = People(ctx)
        self.admin = self.people.root()
        self.factory = JobFactory(ctx, root, actor=self.admin)
        self.ann = self.people.worker("team-a")
        self.mate = self.people.worker("team-a")
        self.stranger = self.people.worker("team-b")
        self.auditor = self.people.auditor()
        self.job = self.factory.create(name="guarded", n_images=4, workers_per_object=1, team="team-a")
        self.other = self.factory.create(name="elsewhere", n_images=2, team="team-b")
        task = queue.claim_next(ctx, self.ann, self.job.job_id)
        assert task is not None
        self.task = task


@pytest.fixture
def w(ctx: Context, tmp_path: Path) -> World:
    return World(ctx, tmp_path)


def test_a_worker_cannot_reach_another_teams_job(w: World) -> None:
    ctx, s, job = w.ctx, w.stranger, w.job
    refused(ctx, {
        "claim": lambda: queue.claim_next(ctx, s, job.job_id),
        "current task": lambda: queue.current_task(ctx, s, job.job_id),
        "submit": lambda: queue.submit(ctx, s, w.task.assignment_id, box_answer()),
        "prefetch": lambda: taskimages.prefetch_next(ctx, s, w.task),
        "task image": lambda: taskimages.task_image(ctx, s, w.task),
        "progress": lambda: jobstats.job_progress(ctx, s, job.job_id),
        "output": lambda: audit_mod.open_job_output_for_view(ctx, s, job.job_id),
        "describe": lambda: jobs.describe_labeling_job(ctx, s, job.name),
    }, (PermissionDenied, NotFound))  # fmt: skip
    assert [j.job_id for j in portal.worker_jobs(ctx, s)] == [w.other.job_id]
    assert [j.name for j in jobs.list_jobs(ctx, s)] == ["elsewhere"]


def test_a_worker_cannot_touch_another_workers_task(w: World) -> None:
    ctx, m, aid = w.ctx, w.mate, w.task.assignment_id
    refused(ctx, {
        "submit": lambda: queue.submit(ctx, m, aid, box_answer()),
        "draft": lambda: queue.save_draft(ctx, m, aid, {"boxes": []}),
        "heartbeat": lambda: queue.heartbeat(ctx, m, aid),
        "release": lambda: queue.release(ctx, m, aid),
        "decline": lambda: queue.decline(ctx, m, aid, "mine now"),
        "stop": lambda: queue.stop_and_resume_later(ctx, m, aid),
        "flag": lambda: queue.flag_object(ctx, m, aid, "ugly"),
        "image": lambda: taskimages.task_image(ctx, m, w.task),
    }, (PermissionDenied,))  # fmt: skip
    mine = queue.claim_next(ctx, m, w.job.job_id)  # he gets a task of his own instead
    assert mine is not None and mine.assignment_id != aid and mine.object_idx != w.task.object_idx


def test_an_auditor_cannot_change_anything(w: World) -> None:
    ctx, a, name = w.ctx, w.auditor, w.job.name
    assert a.user_id is not None and w.ann.user_id is not None and w.admin.user_id is not None
    team_a = teams.get_team(ctx, w.admin, "team-a").id
    request = w.factory.request(name="by-auditor")
    refused(ctx, {
        "create job": lambda: jobs.create_labeling_job(ctx, a, request),
        "stop job": lambda: jobs.stop_labeling_job(ctx, a, name),
        "fail job": lambda: jobs.fail_labeling_job(ctx, a, name, "because"),
        "clone job": lambda: jobs.clone_labeling_job(ctx, a, name, "cloned"),
        "chain job": lambda: jobs.chain_labeling_job(ctx, a, name, "chained"),
        "create team": lambda: teams.create_team(ctx, a, "auditors-club"),
        "rename team": lambda: teams.rename_team(ctx, a, "team-a", "renamed"),
        "add member": lambda: teams.add_members(ctx, a, "team-a", [a.user_id]),  # type: ignore[list-item]
        "remove member": lambda: teams.remove_member(ctx, a, "team-a", w.ann.user_id),  # type: ignore[arg-type]
        "invite": lambda: invitations.invite(ctx, a, ["friend@example.test"], team_a, ["admin"]),
        "reset password": lambda: invitations.reset_password(ctx, a, w.admin.user_id),  # type: ignore[arg-type]
        "resend": lambda: invitations.resend_invitation(ctx, a, w.ann.user_id),  # type: ignore[arg-type]
        "promote himself": lambda: roster.set_roles(ctx, a, a.user_id, ["admin", "auditor"]),  # type: ignore
        "disable the admin": lambda: roster.disable_user(ctx, a, w.admin.user_id),  # type: ignore[arg-type]
        "enable": lambda: roster.enable_user(ctx, a, w.ann.user_id),  # type: ignore[arg-type]
        "claim": lambda: queue.claim_next(ctx, a, w.job.job_id),
        "submit": lambda: queue.submit(ctx, a, w.task.assignment_id, box_answer()),
        "draft": lambda: queue.save_draft(ctx, a, w.task.assignment_id, {"x": 1}),
        "release": lambda: queue.release(ctx, a, w.task.assignment_id),
        "decline": lambda: queue.decline(ctx, a, w.task.assignment_id),
        "flag": lambda: queue.flag_object(ctx, a, w.task.assignment_id, "ugly"),
    }, (PermissionDenied,))  # fmt: skip
    refused(ctx, {"first admin": lambda: workforce.create_first_admin(ctx, "me@example.test", "a long new password 1")},
            (Conflict,))  # fmt: skip
    assert jobs.describe_labeling_job(ctx, a, name)["LabelingJobStatus"] == "InProgress"  # reading is his job


def test_a_disabled_user_with_an_old_session(w: World) -> None:
    ctx = w.ctx
    assert w.ann.user_id is not None and w.admin.user_id is not None
    token = w.people.token(w.ann)
    assert workforce.actor_for_token(ctx, token).user_id == w.ann.user_id
    assert roster.disable_user(ctx, w.admin, w.ann.user_id) == 1  # his task goes back to the pool
    with pytest.raises(SessionExpired):
        workforce.actor_for_token(ctx, token)
    with pytest.raises(SessionExpired):
        signin.session_user_id(ctx, token)
    now = workforce.actor_for(ctx, w.ann.user_id)  # the Actor as the database has it
    assert not now.is_active
    refused(ctx, {
        "claim": lambda: queue.claim_next(ctx, now, w.job.job_id),
        "submit": lambda: queue.submit(ctx, now, w.task.assignment_id, box_answer()),
        "profile": lambda: workforce.my_profile(ctx, now),
    }, (PermissionDenied,))  # fmt: skip
    with pytest.raises(PermissionDenied, match="disabled"):  # even an Actor object kept from before
        queue.submit(ctx, w.ann, w.task.assignment_id, box_answer())
    with pytest.raises(InvalidCredentials, match="disabled"):
        signin.sign_in(ctx, w.ann.email, PASSWORD, "tests")
    assert signin.live_session_count(ctx, w.ann.user_id) == 0


def test_brute_force_sign_in_is_throttled(ctx: Context) -> None:
    people = People(ctx)
    victim = people.worker("team-a")
    t = 1_900_000_000.0
    for i in range(ACCOUNT_LIMIT):
        with pytest.raises(InvalidCredentials, match="wrong e-mail address or password"):
            signin.sign_in(ctx, victim.email, f"guess number {i}", "attacker", now=t + i)
    with pytest.raises(Throttled) as err:  # locked: even the right password is refused
        signin.sign_in(ctx, victim.email, PASSWORD, "attacker", now=t + ACCOUNT_LIMIT)
    assert err.value.retry_after > 0 and "try again in" in str(err.value)
    # a later guess, once the lock ended, locks for twice as long
    after = t + ACCOUNT_LIMIT + BASE_LOCK_SECONDS + 1
    with pytest.raises(InvalidCredentials):
        signin.sign_in(ctx, victim.email, "one more guess", "attacker", now=after)
    with pytest.raises(Throttled) as longer:
        signin.sign_in(ctx, victim.email, PASSWORD, "attacker", now=after + 1)
    assert longer.value.retry_after > BASE_LOCK_SECONDS
    restarted = Context.from_settings(ctx.settings)  # a server restart forgets nothing
    try:
        with pytest.raises(Throttled):
            signin.sign_in(restarted, victim.email, PASSWORD, "attacker", now=after + 2)
    finally:
        restarted.db.dispose()
    # the lock never refuses the rightful user from a client without failures
    ok = signin.sign_in(ctx, victim.email, PASSWORD, "the real user", now=after + 3)
    assert ok.user_id == victim.user_id


def test_credential_stuffing_from_one_client_is_throttled(ctx: Context) -> None:
    people = People(ctx)
    user = people.worker("team-a")
    t = 1_900_000_000.0
    for i in range(CLIENT_LIMIT):  # one guess each at many accounts, most of which do not exist
        with pytest.raises(InvalidCredentials, match="^wrong e-mail address or password$"):
            signin.sign_in(ctx, f"someone{i}@example.test", "Password123!", "stuffer", now=t + i)
    with pytest.raises(Throttled):
        signin.sign_in(ctx, user.email, PASSWORD, "stuffer", now=t + CLIENT_LIMIT)
    assert signin.sign_in(ctx, user.email, PASSWORD, "elsewhere", now=t + CLIENT_LIMIT).user_id == user.user_id


# ------------------------------------------------------------------------------ HTML and script shown as text

LABELS = ['<script>alert("label")</script>', "<img src=x onerror=alert(2)>", "cat"]
TITLE = 'Cats <script>alert("title")</script>'
DESCRIPTION = "Boxes <b>only</b> <script>steal()</script>"
SHORT = 'Draw <b>tight</b> boxes <script>alert("short")</script>'
FULL = "# Rules\n<iframe src=\"javascript:alert(3)\"></iframe>\n\n<script>fetch('/x?'+document.cookie)</script>"
RAW_TAG = re.compile(r"(?<!\\)<\s*/?\s*(script|img|iframe|b)\b", re.IGNORECASE)
MARKDOWN_KINDS = ("markdown", "caption", "title", "header", "subheader", "error", "warning", "info", "success")


def _markdown_values(at: Any) -> list[str]:
    out = []
    for kind in MARKDOWN_KINDS:
        out += [str(e.value) for e in getattr(at, kind)]
    return out


def _check_page(at: Any, visible: list[str]) -> list[str]:
    """No raw tag in a Markdown-rendering element, no HTML-enabled element, and each ``visible`` text shown."""
    assert not at.exception, at.exception
    values = _markdown_values(at)
    raw = [v for v in values if RAW_TAG.search(v)]
    assert raw == [], f"unescaped HTML in Markdown elements: {raw}"
    html_on = [e.value for e in at.markdown if getattr(e.proto, "allow_html", False)]
    assert not any("script" in v or "onerror" in v or "<" in v for v in html_on), html_on
    shown = values + [str(e.value) for e in at.text] + [str(b.label) for b in at.button]
    plain = [re.sub(r"\\(.)", r"\1", v).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
             for v in shown]  # fmt: skip
    for text in visible:
        assert any(text in p for p in plain), f"{text!r} is not shown (as text) on the page"
    return values


def test_html_in_labels_titles_and_instructions_is_shown_as_text(app_world: LabelWorld) -> None:
    world = app_world
    ann = world.worker("xss@example.test")
    job = world.jobs.create(
        name="xss", n_images=2, task_type="BoundingBox", labels=LABELS,
        extra_human={"TaskTitle": TITLE, "TaskDescription": DESCRIPTION,
                     "Instructions": {"Short": SHORT, "Full": FULL, "Examples": []}},
    )  # fmt: skip
    at = app_as(world, ann)
    open_page(at, "pages/portal.py")
    _check_page(at, [TITLE, DESCRIPTION])
    assert any(e.value == DESCRIPTION for e in at.text)  # plain text, verbatim
    start_in_app(at, job.job_id)
    values = _check_page(at, [SHORT, "<script>fetch('/x?'+document.cookie)</script>", *LABELS])
    assert any("&lt;script&gt;" in v or "\\<script\\>" in v for v in values)  # escaped, not dropped
    admin = app_as(world, world.admin)
    open_page(admin, "pages/jobs.py")
    _check_page(admin, [])


def test_a_disabled_users_open_page_signs_him_out(app_world: LabelWorld) -> None:
    """His browser still holds the session token: the next rerun shows the sign-in form, not the portal."""
    world = app_world
    ann = world.worker("leaver@example.test")
    job = world.jobs.create(name="leaving", n_images=2)
    at = start_in_app(app_as(world, ann), job.job_id)
    assert at.session_state["label_job_id"] == job.job_id
    assert ann.user_id is not None
    roster.disable_user(world.ctx, world.admin, ann.user_id)
    at.run()
    assert not at.exception, at.exception
    assert "gt_token" not in at.session_state
    assert "signed out" in " ".join(str(i.value) for i in at.info)
    assert [t.label for t in at.text_input][:2] == ["E-mail address", "Password"]
    a = dbm.assignments
    with world.ctx.db.read() as conn:
        statuses = conn.execute(select(a.c.status).where(a.c.worker_id == ann.user_id)).scalars().all()
    assert statuses == ["released"]  # his task went back to the pool
