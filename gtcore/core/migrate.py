"""Bring a database to the newest schema with Alembic (``gtcore migrate``, and ``Database.migrate`` at start).

- A fresh database gets every revision from ``0001_baseline`` on.
- A database made before Alembic (tables present, ``schema_info`` version 1, no ``alembic_version``) is
  stamped ``0001_baseline`` (its tables are exactly that revision's) and then upgraded: no row is touched.
- A database at a revision this code does not know (made by a newer gtcore) is refused with a ConfigError.

Many processes may start at once (Streamlit servers, ``gtcore worker``s, load tests): the upgrade runs under a
lock (``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on PostgreSQL) and re-reads the revision
inside it, so exactly one process migrates and the others see the result. A database already at head costs
one small read and no lock.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.engine import Engine

from gtcore.core.errors import ConfigError

SCRIPTS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001_baseline"
_PG_LOCK = 0x67746D67  # "gtmg": the advisory lock key of gtcore migrations


@lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    return ScriptDirectory(str(SCRIPTS))


def head() -> str:
    heads = _script().get_heads()
    if len(heads) != 1:  # two revisions with the same parent: a merge revision is missing
        raise ConfigError(f"gtcore's migrations have {len(heads)} heads ({', '.join(heads)}); add a merge revision")
    return heads[0]


def current(conn: Connection) -> str | None:
    """The database's revision: None for an empty database, BASELINE for one made before Alembic."""
    rev = MigrationContext.configure(conn).get_current_revision()
    if rev is None and inspect(conn).has_table("jobs"):
        return BASELINE
    return rev


def _check_known(rev: str | None) -> None:
    if rev is None:
        return
    try:
        _script().get_revision(rev)
    except Exception:
        raise ConfigError(
            f"the database is at schema revision {rev!r}, which this gtcore does not know "
            "(it was migrated by a newer version): upgrade gtcore"
        ) from None


def upgrade(engine: Engine) -> str | None:
    """Migrate to head; return the revision found before (None for an empty database), or head if already there."""
    target = head()
    with engine.connect() as conn:
        rev = current(conn)
        conn.rollback()
    _check_known(rev)
    if rev == target:
        return rev
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK})")
        rev = current(conn)  # again, under the lock: another process may have migrated meanwhile
        _check_known(rev)
        if rev != target:
            cfg = Config()
            cfg.set_main_option("script_location", str(SCRIPTS))
            cfg.attributes["connection"] = conn
            from alembic import command

            if rev == BASELINE and MigrationContext.configure(conn).get_current_revision() is None:
                command.stamp(cfg, BASELINE)
            command.upgrade(cfg, target)
        conn.commit()
    return rev
