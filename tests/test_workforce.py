"""Users, roles, first admin, teams, disabling (with leases going back to the pool) on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import ADMIN, AUDITOR, WORKER, Actor
from gtcore.core.errors import Conflict, NotFound, SessionExpired, ValidationError
from gtcore.workforce import roster, signin, teams
from gtcore.workforce import users as workforce
from tests.fixtures.people import PASSWORD, People

PeopleFactory = Callable[[Context], People]


def _job(ctx: Context, team_id: int | None, name: str, objects: int = 3) -> int:
    t = dbm.now()
    with ctx.db.write() as c:
        jid = int(
            c.execute(
                dbm.jobs.insert().values(
                    name=name,
                    name_lower=name.lower(),
                    arn=f"arn:local:{name}",
                    reference_code="r",
                    label_attribute=name,
                    task_type="BoundingBox",
                    status="InProgress",
                    spec_json="{}",
                    labels_json='["a"]',
                    team_id=team_id,
                    input_manifest_uri="file:///m",
                    output_path="file:///o",
                    workers_per_object=2,
                    task_time_limit=300,
                    availability_lifetime=3600,
                    max_concurrent=10,
                    total_objects=objects,
                    created_at=t,
                    updated_at=t,
                )
            ).inserted_primary_key[0]
        )
        for i in range(objects):
            c.execute(
                dbm.objects.insert().values(
                    job_id=jid,
                    idx=i,
                    line_json="{}",
                    source_ref=f"s{i}",
                    needed=2,
                    taken=0,
                    status="open",
                    updated_at=t,
                )
            )
    return jid


def _assign(ctx: Context, job_id: int, idx: int, user_id: int, status: str) -> None:
    t = dbm.now()
    with ctx.db.write() as c:
        c.execute(
            dbm.assignments.insert().values(
                job_id=job_id,
                object_idx=idx,
                worker_id=user_id,
                status=status,
                accepted_at=t,
                lease_expires_at=t + 300,
                updated_at=t,
            )
        )
        o = dbm.objects
        c.execute(o.update().where(o.c.job_id == job_id, o.c.idx == idx).values(taken=o.c.taken + 1))


def _statuses(ctx: Context, user_id: int) -> dict[tuple[int, int], str]:
    a = dbm.assignments
    with ctx.db.read() as c:
        rows = c.execute(select(a.c.job_id, a.c.object_idx, a.c.status).where(a.c.worker_id == user_id)).all()
    return {(r.job_id, r.object_idx): r.status for r in rows}


def _taken(ctx: Context, job_id: int) -> list[int]:
    o = dbm.objects
    with ctx.db.read() as c:
        return list(c.execute(select(o.c.taken).where(o.c.job_id == job_id).order_by(o.c.idx)).scalars())


# --- first admin ---------------------------------------------------------------------------------------------


def test_first_admin_only_once(any_ctx: Context) -> None:
    assert workforce.admin_exists(any_ctx) is False
    admin = workforce.create_first_admin(any_ctx, "  Lead@Example.com ", "a long admin password")
    assert admin.email == "Lead@Example.com" and admin.roles == frozenset({ADMIN})
    assert admin.worker_id.startswith("private.local.")
    assert workforce.admin_exists(any_ctx) is True
    with pytest.raises(Conflict, match="already exists"):
        workforce.create_first_admin(any_ctx, "other@example.com", "another long password")
    # the chosen password works (any letter case of the e-mail), and is not temporary
    s = signin.sign_in(any_ctx, "lead@example.com", "a long admin password", "c")
    assert s.must_change_password is False
    assert workforce.actor_for_token(any_ctx, s.token).user_id == admin.user_id


def test_first_admin_input_problems_all_listed(any_ctx: Context) -> None:
    with pytest.raises(ValidationError) as exc:
        workforce.create_first_admin(any_ctx, "not-an-email", "short")
    fields = {p.field for p in exc.value.problems}
    assert fields == {"email", "new_password"}
    assert workforce.admin_exists(any_ctx) is False


def test_first_admin_race_creates_exactly_one(any_ctx: Context) -> None:
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            workforce.create_first_admin(any_ctx, f"lead{i}@example.com", "a long admin password")
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 3 + ["ok"]
    with any_ctx.db.read() as c:
        assert len(c.execute(select(dbm.users.c.id)).all()) == 1


# --- teams -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["", "-team", "team-", "team_a", "team a", "a" * 64, "<script>alert(1)</script>", "é", "team.a", "a--"],
)
def test_team_name_rules(ctx: Context, people: PeopleFactory, bad: str) -> None:
    admin = people(ctx).admin()
    with pytest.raises(ValidationError) as exc:
        teams.create_team(ctx, admin, bad)
    assert exc.value.problems[0].field == "name"
    assert teams.list_teams(ctx, admin) == []


@pytest.mark.parametrize("good", ["a", "A1", "team-a", "a--b", "x" * 63, "Night-Shift-2"])
def test_team_name_accepted(ctx: Context, people: PeopleFactory, good: str) -> None:
    admin = people(ctx).admin()
    assert teams.create_team(ctx, admin, good).name == good


def test_teams_unique_ignoring_case_and_at_most_25(any_ctx: Context, people: PeopleFactory) -> None:
    admin = people(any_ctx).admin()
    teams.create_team(any_ctx, admin, "Labelers", "first team")
    with pytest.raises(Conflict, match="Labelers"):
        teams.create_team(any_ctx, admin, "labelers")
    for i in range(24):
        teams.create_team(any_ctx, admin, f"t{i}")
    with pytest.raises(Conflict, match="25"):
        teams.create_team(any_ctx, admin, "one-too-many")
    assert len(teams.list_teams(any_ctx, admin)) == 25


def test_rename_team(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    admin = p.admin()
    a = teams.create_team(any_ctx, admin, "alpha")
    teams.create_team(any_ctx, admin, "beta")
    with pytest.raises(Conflict):
        teams.rename_team(any_ctx, admin, a.id, "BETA")
    assert teams.rename_team(any_ctx, admin, "ALPHA", "Alpha", description="day shift").name == "Alpha"
    assert teams.get_team(any_ctx, admin, "alpha").description == "day shift"
    with pytest.raises(ValidationError):
        teams.rename_team(any_ctx, admin, a.id, "no spaces allowed")
    with pytest.raises(NotFound):
        teams.rename_team(any_ctx, admin, "gamma", "delta")


def test_worker_in_several_teams_and_membership_changes(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    admin = p.admin()
    w = p.worker("team-a")
    b = p.team("team-b")
    assert teams.add_members(any_ctx, admin, b, [w.user_id, w.user_id]) == 1
    assert teams.add_members(any_ctx, admin, "TEAM-B", [w.user_id]) == 0  # already a member
    actor = workforce.actor_for(any_ctx, w.user_id)
    assert actor.team_ids == {p.team("team-a"), b}
    assert [m.email for m in teams.team_members(any_ctx, admin, b)] == [w.email]
    with pytest.raises(NotFound):
        teams.add_members(any_ctx, admin, b, [99999])
    teams.remove_member(any_ctx, admin, "team-a", w.user_id)
    assert workforce.actor_for(any_ctx, w.user_id).team_ids == {b}
    with pytest.raises(NotFound):
        teams.remove_member(any_ctx, admin, "team-a", w.user_id)
    assert workforce.my_profile(any_ctx, workforce.actor_for(any_ctx, w.user_id)).teams == ("team-b",)


def test_remove_member_returns_only_that_teams_leases(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    admin = p.admin()
    w = p.worker("team-a")
    b = p.team("team-b")
    teams.add_members(any_ctx, admin, b, [w.user_id])
    ja, jb = _job(any_ctx, p.team("team-a"), "job-a"), _job(any_ctx, b, "job-b")
    _assign(any_ctx, ja, 0, w.user_id, "leased")
    _assign(any_ctx, jb, 0, w.user_id, "leased")
    assert teams.remove_member(any_ctx, admin, "team-a", w.user_id) == 1
    assert _statuses(any_ctx, w.user_id) == {(ja, 0): "released", (jb, 0): "leased"}
    assert _taken(any_ctx, ja) == [0, 0, 0] and _taken(any_ctx, jb) == [1, 0, 0]


# --- disabling and the admin table ------------------------------------------------------------------------------


def test_disable_ends_sessions_and_returns_leases(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    admin = p.admin()
    w = p.worker("team-a")
    other = p.worker("team-a")
    job = _job(any_ctx, p.team("team-a"), "job-1", objects=4)
    _assign(any_ctx, job, 0, w.user_id, "leased")
    _assign(any_ctx, job, 1, w.user_id, "stopped")
    _assign(any_ctx, job, 2, w.user_id, "submitted")
    _assign(any_ctx, job, 3, w.user_id, "declined")
    _assign(any_ctx, job, 0, other.user_id, "leased")
    job2 = _job(any_ctx, p.team("team-a"), "job-2", objects=2)
    _assign(any_ctx, job2, 1, w.user_id, "leased")
    token = p.token(w)
    assert workforce.actor_for_token(any_ctx, token).user_id == w.user_id

    assert roster.disable_user(any_ctx, admin, w.user_id) == 3
    assert _statuses(any_ctx, w.user_id) == {
        (job, 0): "released",
        (job, 1): "released",
        (job, 2): "submitted",
        (job, 3): "declined",
        (job2, 1): "released",
    }
    assert _statuses(any_ctx, other.user_id) == {(job, 0): "leased"}
    assert _taken(any_ctx, job) == [1, 0, 1, 1] and _taken(any_ctx, job2) == [0, 0]
    with pytest.raises(SessionExpired):
        workforce.actor_for_token(any_ctx, token)
    assert signin.live_session_count(any_ctx, w.user_id) == 0
    row = roster.get_user(any_ctx, admin, w.user_id)
    assert row.status == "Disabled" and row.tasks_submitted == 1
    assert workforce.actor_for(any_ctx, w.user_id).is_active is False

    roster.enable_user(any_ctx, admin, w.user_id)
    assert workforce.actor_for_token(any_ctx, p.token(w)).is_active is True
    assert roster.get_user(any_ctx, admin, w.user_id).status == "Active"


def test_admin_cannot_lock_out_the_last_admin(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    admin = p.admin()
    assert admin.user_id is not None
    with pytest.raises(Conflict, match="your own account"):
        roster.disable_user(any_ctx, admin, admin.user_id)
    with pytest.raises(Conflict, match="last active administrator"):
        roster.set_roles(any_ctx, admin, admin.user_id, [WORKER])
    second = p.admin()
    assert second.roles == {ADMIN}
    roster.set_roles(any_ctx, second, admin.user_id, "worker, auditor")
    assert workforce.actor_for(any_ctx, admin.user_id).roles == {WORKER, AUDITOR}
    with pytest.raises(ValidationError, match="unknown role"):
        roster.set_roles(any_ctx, second, admin.user_id, ["root"])
    with pytest.raises(ValidationError, match="at least one role"):
        roster.set_roles(any_ctx, second, admin.user_id, [])


def test_list_workers_statuses(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    admin = p.admin()
    active = p.worker("team-a", email="Active.Person@example.com")
    invited_id, _temp = p.invite([WORKER], "team-b", email="invited@example.com")
    gone = p.disable(p.auditor())
    by_email = {r.email: r for r in roster.list_workers(any_ctx, admin)}
    assert by_email["Active.Person@example.com"].status == "Active"
    assert by_email["Active.Person@example.com"].teams == ("team-a",)
    assert by_email["Active.Person@example.com"].last_login_at is not None
    assert by_email["invited@example.com"].status == "Invited"
    assert by_email["invited@example.com"].last_login_at is None
    assert by_email[gone.email].status == "Disabled" and by_email[gone.email].roles == ("auditor",)
    later = dbm.now() + 8 * 86400
    assert roster.get_user(any_ctx, admin, invited_id).status == "Invited"
    stale = {r.email: r.status for r in roster.list_workers(any_ctx, admin, now=later)}
    assert stale["invited@example.com"] == "Invitation expired"
    assert roster.find_user_id(any_ctx, admin, "ACTIVE.person@example.com") == active.user_id
    with pytest.raises(NotFound):
        roster.find_user_id(any_ctx, admin, "nobody@example.com")


def test_actor_for_reads_the_database(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    w = p.worker("team-a")
    assert isinstance(w, Actor) and w.roles == {WORKER} and w.team_ids == {p.team("team-a")}
    with pytest.raises(NotFound):
        workforce.actor_for(any_ctx, 424242)
    assert signin.sign_in(any_ctx, w.email, PASSWORD, "c").must_change_password is False


# --- the gtcore command ---------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    from gtcore.core.settings import Settings

    home = tmp_path / "gt-home"
    monkeypatch.setenv("GT_HOME", str(home))
    monkeypatch.setenv("GT_DATABASE_URL", f"sqlite:///{home / 'gt.sqlite3'}")
    monkeypatch.setenv("GT_LOCAL_ROOTS", str(tmp_path))
    monkeypatch.delenv("GT_SMTP_HOST", raising=False)
    return Context.from_settings(Settings.from_env())


def test_cli_create_admin_team_invite_reset(
    cli_env: Context, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import json

    from gtcore.cli.command import main

    monkeypatch.setattr("sys.stdin", io.StringIO("the admin's password\n"))
    assert main(["create-admin", "--email", "root@example.com", "--password-stdin"]) == 0
    assert "created administrator root@example.com" in capsys.readouterr().out
    assert signin.sign_in(cli_env, "root@example.com", "the admin's password", "c").user_id
    monkeypatch.setattr("sys.stdin", io.StringIO("another password!\n"))
    assert main(["create-admin", "--email", "second@example.com", "--password-stdin"]) == 1
    assert "already exists" in capsys.readouterr().err

    assert main(["create-team", "night-shift", "--description", "nights"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "night-shift"
    assert main(["create-team", "bad_name"]) == 1
    assert "not a valid team name" in capsys.readouterr().err

    assert main(["invite", "--team", "night-shift", "a@example.com", "not-an-address", "B@example.com"]) == 1
    out = capsys.readouterr().out
    report = json.loads(out[: out.rindex("}") + 1])
    assert [d["email"] for d in report["invited"]] == ["a@example.com", "B@example.com"]
    assert all(d["delivery"] == "outbox" for d in report["invited"])
    assert report["not_invited"] == ["address 2: 'not-an-address' is not an e-mail address"]
    assert "written to" in out and "Temporary password" not in out  # the password stays in the 0600 file

    assert main(["reset-password", "A@EXAMPLE.COM"]) == 0
    reset = json.loads(capsys.readouterr().out)
    assert reset["delivery"] == "outbox" and "reset" in Path(reset["delivered_to"]).read_text()
    assert main(["reset-password", "nobody@example.com"]) == 1


def test_cli_create_admin_prompts_twice(
    cli_env: Context, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from gtcore.cli.command import main

    class _Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", _Terminal())  # a person at a terminal answers the two prompts
    answers = iter(["first try password", "second try password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["create-admin", "--email", "root@example.com"]) == 1
    assert "differ" in capsys.readouterr().err
    assert not workforce.admin_exists(cli_env)
    answers = iter(["same password twice", "same password twice"])
    assert main(["create-admin", "--email", "root@example.com"]) == 0
    assert workforce.admin_exists(cli_env)
