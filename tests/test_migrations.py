"""Alembic migrations: a database made by the pre-Alembic code (tests/fixtures/schema_v1, SQLite and PostgreSQL)
upgrades to head without losing a row; a fresh database reaches the same schema as the models; concurrent
starts migrate once; a database from a newer gtcore is refused."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from gtcore.core import db as dbm
from gtcore.core import migrate
from gtcore.core.db import Database
from gtcore.core.errors import ConfigError
from tests.fixtures.core import drop_pg_schema, pg_or_skip, pg_schema_url

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "schema_v1"
V1_TABLES = ["users", "teams", "team_members", "login_sessions", "login_throttle", "invitations", "jobs",
             "objects", "assignments", "schema_info"]  # fmt: skip


def _rows(engine, table: str) -> list[tuple]:
    with engine.connect() as c:
        order = ", ".join(c.execute(text(f"SELECT * FROM {table} ORDER BY 1")).keys())  # noqa: S608
        return [tuple(r) for r in c.execute(text(f"SELECT {order} FROM {table} ORDER BY {order}"))]  # noqa: S608


def _v1_database(kind: str, tmp_path: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        path = tmp_path / "v1.sqlite3"
        con = sqlite3.connect(path)
        con.executescript((FIXTURE / "sqlite.sql").read_text())
        con.close()
        return f"sqlite:///{path}", None
    pg_or_skip()
    url, schema = pg_schema_url("mig_")
    eng = create_engine(url)
    with eng.begin() as c:
        c.exec_driver_sql((FIXTURE / "postgresql.sql").read_text())
    eng.dispose()
    return url, schema


def _schema_diff(engine) -> list:
    with engine.connect() as c:
        return compare_metadata(MigrationContext.configure(c), dbm.metadata)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_v1_database_upgrades_without_losing_a_row(kind: str, tmp_path: Path) -> None:
    url, schema = _v1_database(kind, tmp_path)
    try:
        eng = create_engine(url)
        before = {t: _rows(eng, t) for t in V1_TABLES}
        assert len(before["assignments"]) == 5 and len(before["objects"]) == 8 and len(before["users"]) == 4
        assert before["login_sessions"] and before["login_throttle"] and before["invitations"]
        found = Database(url, create=False).migrate()
        assert found == migrate.BASELINE
        with eng.connect() as c:
            assert MigrationContext.configure(c).get_current_revision() == migrate.head()
        for t in V1_TABLES:
            assert _rows(eng, t) == before[t], t
        assert _schema_diff(eng) == []
        # the upgraded database works: new rows get fresh ids, the new tables are usable
        d = Database(url)
        with d.write() as c:
            new_id = c.execute(dbm.teams.insert().values(name="t2", name_lower="t2", description="", created_at=1.0))
            assert new_id.inserted_primary_key[0] > max(r[0] for r in before["teams"])
            row = {"kind": "k", "key": "", "payload_json": "{}", "status": "pending", "attempts": 0}
            c.execute(dbm.work_items.insert().values(**row, run_after=0.0, created_at=0.0, updated_at=0.0))
        d.dispose()
        eng.dispose()
    finally:
        if schema:
            drop_pg_schema(schema)


def test_fresh_database_matches_the_models(db_url: str) -> None:
    d = Database(db_url)
    assert _schema_diff(d.engine) == []
    with d.engine.connect() as c:
        assert MigrationContext.configure(c).get_current_revision() == migrate.head()
    assert d.migrate() == migrate.head()  # already there: nothing to do
    d.dispose()


def test_concurrent_starts_migrate_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    errors: list[BaseException] = []

    def start() -> None:
        try:
            Database(url).dispose()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    eng = create_engine(url)
    assert _schema_diff(eng) == []
    assert _rows(eng, "schema_info") == [(1, 1)]
    eng.dispose()


def test_database_from_a_newer_gtcore_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    Database(url).dispose()
    eng = create_engine(url)
    with eng.begin() as c:
        c.exec_driver_sql("UPDATE alembic_version SET version_num = '0999_from_the_future'")
    eng.dispose()
    with pytest.raises(ConfigError, match="0999_from_the_future.*newer"):
        Database(url)
