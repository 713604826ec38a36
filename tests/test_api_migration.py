"""Revision 022_api_keys: jobs made before it keep their Tags (copied from the stored request into resource_tags,
which DescribeLabelingJob and ListTags now read)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, text

from gtcore.core import migrate

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "schema_v1"


def test_old_jobs_keep_their_tags(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite3"
    con = sqlite3.connect(path)
    con.executescript((FIXTURE / "sqlite.sql").read_text())
    job_id, spec_json = con.execute("SELECT id, spec_json FROM jobs ORDER BY id LIMIT 1").fetchone()
    spec = json.loads(spec_json)
    spec["Tags"] = [{"Key": "project", "Value": "pets"}, {"Key": "stage", "Value": ""}]
    con.execute("UPDATE jobs SET spec_json = ? WHERE id = ?", (json.dumps(spec), job_id))
    con.execute("UPDATE jobs SET spec_json = ? WHERE id <> ?", ("not json", job_id))  # a damaged row is skipped
    con.commit()
    con.close()
    engine = create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as c:
        rows = c.execute(text("SELECT kind, resource_id, key, value FROM resource_tags ORDER BY key")).all()
    assert [tuple(r) for r in rows] == [
        ("labeling-job", job_id, "project", "pets"),
        ("labeling-job", job_id, "stage", ""),
    ]
    engine.dispose()
