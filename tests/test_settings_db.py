from pathlib import Path

import pytest
from sqlalchemy import select

from gtcore.core import db as dbm
from gtcore.core.errors import ConfigError
from gtcore.core.settings import Settings


def test_settings_defaults(tmp_path: Path) -> None:
    s = Settings.from_env({}, cwd=tmp_path)
    assert s.home == tmp_path / "gt-data"
    assert s.database_url == f"sqlite:///{tmp_path / 'gt-data' / 'gt.sqlite3'}"
    assert s.local_roots == (tmp_path / "gt-data", tmp_path)
    assert s.allowed_buckets is None and s.smtp is None


def test_settings_reads_names(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "GT_HOME": str(tmp_path / "h"),
            "GT_LOCAL_ROOTS": f"{tmp_path}/a:{tmp_path}/b",
            "GT_ALLOWED_BUCKETS": "one, two",
            "GT_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
            "GT_SMTP_HOST": "mail",
            "GT_SMTP_PORT": "2525",
        },
        cwd=tmp_path,
    )
    assert s.local_roots == (tmp_path / "a", tmp_path / "b")
    assert s.allowed_buckets == frozenset({"one", "two"})
    assert s.s3_endpoint_url == "http://127.0.0.1:9000"
    assert s.smtp is not None and s.smtp.port == 2525
    with pytest.raises(ConfigError, match="GT_SMTP_PORT"):
        Settings.from_env({"GT_SMTP_HOST": "m", "GT_SMTP_PORT": "x"}, cwd=tmp_path)


def test_schema_created_and_versioned(fresh_db: dbm.Database) -> None:
    with fresh_db.read() as c:
        assert c.execute(select(dbm.schema_info.c.version)).scalar_one() == dbm.SCHEMA_VERSION
    fresh_db.migrate()  # idempotent
    assert fresh_db.ping()


def test_write_rolls_back_on_error(fresh_db: dbm.Database) -> None:
    with pytest.raises(RuntimeError), fresh_db.write() as c:
        c.execute(dbm.teams.insert().values(name="a", name_lower="a", description="", created_at=1.0))
        raise RuntimeError("boom")
    with fresh_db.read() as c:
        assert c.execute(select(dbm.teams)).first() is None
