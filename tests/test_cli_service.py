import json
from pathlib import Path

import pytest

from gtcore.cli.command import main
from gtcore.context import Context
from gtcore.queue import api as queue
from tests.fixtures.core import make_settings


def test_maintenance_expires_leases_and_reports(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    ctx: Context,
    job_factory,
    people,
) -> None:
    made = job_factory.create(n_images=2, workers_per_object=1)
    settings = ctx.settings
    monkeypatch.setenv("GT_HOME", str(settings.home))
    monkeypatch.setenv("GT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GT_LOCAL_ROOTS", ":".join(str(r) for r in settings.local_roots))
    worker = people(ctx).worker(made.team_id)
    task = queue.claim_next(ctx, worker, made.job_id, now=1.0)  # lease ran out long ago
    assert task is not None
    assert main(["maintenance"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ExpiredLeases"] == 1
    assert report["JobsFailedOverdue"] == []
    fresh = Context.from_settings(make_settings(tmp_path, database_url=settings.database_url))
    again = queue.claim_next(fresh, worker, made.job_id)
    assert again is not None and again.object_idx == task.object_idx
