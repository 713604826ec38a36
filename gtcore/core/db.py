"""SQLAlchemy 2 engine and transactions: SQLite file (WAL) by default, PostgreSQL by URL. The tables are in
``gtcore.core.schema`` (one module per domain) and re-exported here (``dbm.jobs``, ``dbm.metadata``).

Concurrency notes: the queue claims with conditional UPDATEs on ``objects`` (``taken < needed``)
and the unique key ``(job_id, object_idx, worker_id)`` on ``assignments``, so correctness does not
depend on the isolation level. On SQLite, write transactions start with ``BEGIN IMMEDIATE`` so that
concurrent writers queue on the lock (``busy_timeout``) instead of failing at commit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from gtcore.core.errors import ConfigError, GTError
from gtcore.core.schema import (  # noqa: F401  (re-exported: callers use dbm.<table>)
    SCHEMA_VERSION,
    access_keys,
    assignments,
    autolabel_embeddings,
    autolabel_iterations,
    autolabel_jobs,
    autolabel_models,
    invitations,
    jobs,
    login_sessions,
    login_throttle,
    metadata,
    objects,
    oidc_config,
    oidc_identities,
    oidc_logins,
    resource_tags,
    schema_info,
    team_members,
    team_oidc_groups,
    teams,
    users,
    work_items,
)


def now() -> float:
    return time.time()


class Database:
    """An engine plus the transaction helpers gtcore uses.

    ``write()`` opens a write transaction (``BEGIN IMMEDIATE`` on SQLite), ``read()`` a read one.
    """

    def __init__(self, url: str, *, create: bool = True, busy_timeout: float = 30.0, **engine_kwargs: Any) -> None:
        """``busy_timeout``: seconds SQLite waits for another connection's lock before DatabaseUnavailable."""
        self.url = url
        try:
            if url.startswith("sqlite"):
                self.engine = _sqlite_engine(url, busy_timeout, **engine_kwargs)
            else:
                self.engine = create_engine(url, **engine_kwargs)
                _ping_when_idle(self.engine)
        except Exception as exc:  # bad URL, missing driver
            raise ConfigError(f"cannot use database URL {_safe_url(url)}: {exc}") from exc
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.is_postgres = self.engine.dialect.name == "postgresql"
        if create:
            self.migrate()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                if self.is_sqlite:
                    conn.begin()  # SQLAlchemy's side only (pysqlite sends nothing): commit() below commits
                    BEGIN_IMMEDIATE.run(conn, {})
                    try:
                        yield conn
                    except BaseException:
                        conn.rollback()
                        raise
                    conn.commit()
                else:
                    with conn.begin():
                        yield conn
        except OperationalError as exc:
            raise DatabaseUnavailable(f"the database did not answer ({_short(exc)}); try again") from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                if self.is_sqlite:
                    conn.exec_driver_sql("BEGIN")
                    try:
                        yield conn
                    finally:
                        conn.rollback()
                else:
                    with conn.begin():
                        yield conn
        except OperationalError as exc:
            raise DatabaseUnavailable(f"the database did not answer ({_short(exc)}); try again") from exc

    def migrate(self) -> str | None:
        """Bring the schema to the newest Alembic revision (``gtcore.core.migrate.upgrade``; idempotent, safe across
        processes). Returns the revision found before."""
        from gtcore.core import migrate as migrations

        try:
            return migrations.upgrade(self.engine)
        except OperationalError as exc:  # unreachable, locked, refused: a clear GTError, not a traceback
            raise DatabaseUnavailable(f"the database {_safe_url(self.url)} did not answer ({_short(exc)})") from exc

    def ping(self) -> str:
        """Return a short description of the database, raising DatabaseUnavailable if it does not answer."""
        with self.read() as conn:
            conn.exec_driver_sql("SELECT 1")
        return f"{self.engine.dialect.name} ({_safe_url(self.url)})"

    def dispose(self) -> None:
        self.engine.dispose()


class DatabaseUnavailable(GTError):
    pass


class Prepared:
    """A hot statement compiled once per dialect and run on the driver's cursor of a ``write()``/``read()``
    connection: no per-call SQLAlchemy work (cache key, parameter and result processing: about 10 us a statement,
    as much as SQLite takes to run it). For statements whose parameters are plain ints, floats and strings and
    whose results are read as tuples. Driver errors are wrapped as SQLAlchemy wraps them (a lost connection is
    invalidated), so ``write()`` turns them into DatabaseUnavailable as usual.
    """

    _all: list[Prepared] = []  # every hot statement made so far (module constants)

    def __init__(self, stmt: Any) -> None:
        self.stmt = stmt
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}
        Prepared._all.append(self)

    def _compile(self, dialect: Any) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        c = self.stmt.compile(dialect=dialect)
        order = tuple(c.positiontup) if c.positional and c.positiontup is not None else None
        return str(c), order, dict(c.params)

    def _for(self, conn: Connection) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        name = conn.dialect.name
        got = self._compiled.get(name)
        if got is None:
            # the first hot statement a process runs on a dialect compiles all of them (about 0.05 ms each), so a
            # rarely run one (the submit that completes a job) does not pay its compile in the middle of a call
            for other in Prepared._all:
                if name not in other._compiled and other is not self:
                    try:
                        other._compiled[name] = other._compile(conn.dialect)
                    except Exception:  # noqa: S112  (a statement of the other dialect: compiled if ever run here)
                        continue
            got = self._compiled[name] = self._compile(conn.dialect)
        return got

    def run(self, conn: Connection, params: dict[str, Any]) -> tuple[list[tuple], int]:
        """Run it: its result rows (RETURNING included; all read, so the statement is done) and rowcount."""
        if not conn.in_transaction():  # as Connection.execute would: commit()/rollback() then reach the driver
            conn.begin()
        sql, order, defaults = self._for(conn)
        merged = {**defaults, **params} if defaults else params
        args: Any = [merged[k] for k in order] if order is not None else merged
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        hooked = conn.engine.dispatch.before_cursor_execute or conn.engine.dispatch.after_cursor_execute
        try:
            if hooked:  # engine listeners (the profiler's) see the statement as they see any other
                for before in conn.dispatch.before_cursor_execute:
                    sql, args = before(conn, cur, sql, args, None, False)
            cur.execute(sql, args)
            rows = cur.fetchall() if cur.description is not None else []
            if hooked:
                for after in conn.dispatch.after_cursor_execute:
                    after(conn, cur, sql, args, None, False)
            return rows, cur.rowcount
        except conn.dialect.loaded_dbapi.Error as exc:
            conn._handle_dbapi_exception(exc, sql, args, cur, None)  # raises the wrapped error
            raise  # pragma: no cover (the line above always raises)
        finally:
            cur.close()

    def first(self, conn: Connection, params: dict[str, Any]) -> tuple | None:
        rows = self.run(conn, params)[0]
        return rows[0] if rows else None

    def count(self, conn: Connection, params: dict[str, Any]) -> int:
        """Run it; the rows it changed."""
        return self.run(conn, params)[1]


BEGIN_IMMEDIATE = Prepared(text("BEGIN IMMEDIATE"))
PING_IDLE_SECONDS = 1.0  # a pooled PostgreSQL connection idle longer than this is pinged before it is handed out


def _ping_when_idle(engine: Engine) -> None:
    """Pre-ping, but only connections that sat in the pool for more than ``PING_IDLE_SECONDS``.

    ``pool_pre_ping`` costs a round trip on every checkout, i.e. on every transaction of a busy annotator; a
    connection used a moment ago is as alive as the ping would show. One that waited longer (the server may
    have restarted meanwhile) is pinged, and a dead one is replaced by a fresh connection (the pool retries on
    ``DisconnectionError``). A server that goes away mid-use fails that statement, as with pre-ping, and
    SQLAlchemy then discards the pool's older connections.
    """
    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since <= PING_IDLE_SECONDS:
            return  # just connected, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(f"a pooled connection was dead ({exc})") from exc


def _short(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).splitlines()[0][:200]


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def _sqlite_engine(url: str, busy_timeout: float = 30.0, **kwargs: Any) -> Engine:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout, "check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
        # take transaction control away from pysqlite so BEGIN IMMEDIATE works
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # an acknowledged commit survives power loss, not only a crash
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # explicit BEGIN statements are issued by Database.write/read; nothing to do here
        return None

    return engine
