"""Objects per labeling job (issue 28): Ground Truth's limits are the defaults (100,000 objects, 20,000 for
semantic segmentation) and a setting raises them, as AWS raises them on request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.errors import GTError
from gtcore.core.settings import Settings
from gtcore.jobs import api as jobs
from gtcore.workforce.teams import create_team
from tests.fixtures.core import make_settings


def _request(tmp: Path, name: str, lines: int, task: str = "BoundingBox") -> dict:
    manifest = tmp / f"{name}.manifest"
    with manifest.open("w") as fh:
        for i in range(lines):
            fh.write(f'{{"source-ref":"s3://bucket/img/{i:07d}.jpg"}}\n')
    labels = tmp / "labels.json"
    labels.write_text(json.dumps({"document-version": "2018-11-28", "labels": [{"label": "cat"}, {"label": "dog"}]}))
    return {
        "LabelingJobName": name,
        "LabelAttributeName": "animals" if task == "BoundingBox" else "animals-ref",
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": str(manifest)}}},
        "OutputConfig": {"S3OutputPath": str(tmp / "out")},
        "LabelCategoryConfigS3Uri": str(labels),
        "HumanTaskConfig": {
            "WorkteamArn": "limits-team",
            "PreHumanTaskLambdaArn": f"arn:aws:lambda:us-east-1:432418664414:function:PRE-{task}",
            "TaskTitle": "t", "TaskDescription": "d", "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 300,
        },
    }  # fmt: skip


def _ctx(tmp_path: Path, **env: str) -> Context:
    ctx = Context.from_settings(make_settings(tmp_path, **env))
    create_team(ctx, Actor.system_actor(), "limits-team")
    return ctx


def test_defaults_are_ground_truths_limits() -> None:
    s = Settings.from_env({"GT_HOME": "/tmp/x"})
    assert (s.max_objects, s.max_segmentation_objects) == (100_000, 20_000)
    raised = Settings.from_env({"GT_HOME": "/tmp/x", "GT_MAX_OBJECTS_PER_JOB": "1000000",
                                "GT_MAX_SEGMENTATION_OBJECTS": "50000"})  # fmt: skip
    assert (raised.max_objects, raised.max_segmentation_objects) == (1_000_000, 50_000)


def test_a_setting_moves_the_limit_both_ways_of_the_line(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, GT_MAX_OBJECTS_PER_JOB="150")
    try:
        with pytest.raises(GTError, match="more than 150 lines.*GT_MAX_OBJECTS_PER_JOB"):
            jobs.create_labeling_job(ctx, Actor.system_actor(), _request(tmp_path, "over", 151))
        made = jobs.create_labeling_job(ctx, Actor.system_actor(), _request(tmp_path, "at", 150))
        assert made.total_objects == 150
    finally:
        ctx.db.dispose()


def test_past_100000_objects_only_with_the_setting(tmp_path: Path) -> None:
    n = 100_001
    ctx = _ctx(tmp_path)
    try:
        with pytest.raises(GTError, match="more than 100,000 lines"):
            jobs.create_labeling_job(ctx, Actor.system_actor(), _request(tmp_path, "default", n))
    finally:
        ctx.db.dispose()
    (tmp_path / "raised").mkdir()
    raised = _ctx(tmp_path / "raised", GT_MAX_OBJECTS_PER_JOB="1000000")
    try:
        made = jobs.create_labeling_job(raised, Actor.system_actor(), _request(tmp_path / "raised", "raised", n))
        assert made.total_objects == n
    finally:
        raised.db.dispose()


def test_segmentation_limit_follows_its_own_setting(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, GT_MAX_SEGMENTATION_OBJECTS="10")
    try:
        with pytest.raises(GTError, match="takes at most 10 .*GT_MAX_SEGMENTATION_OBJECTS"):
            jobs.create_labeling_job(ctx, Actor.system_actor(), _request(tmp_path, "seg", 11, "SemanticSegmentation"))
    finally:
        ctx.db.dispose()
