"""Labeling-job lifecycle on SQLite and PostgreSQL: create, describe, list, stop, fail, authorization, home page."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.errors import Conflict, ManifestError, NotFound, PermissionDenied, SpecError, ValidationError
from gtcore.jobs import api as jobs
from gtcore.jobs import create as jobcreate
from gtcore.jobs import finishing as lifecycle
from gtcore.work import runner
from gtcore.work.handlers import maintenance
from tests.fixtures.core import make_user, run_work
from tests.fixtures.jobs import JobFactory, write_png

SYSTEM = Actor.system_actor()


def count_rows(ctx: Context) -> tuple[int, int]:
    with ctx.db.read() as conn:
        return (
            int(conn.execute(select(func.count()).select_from(dbm.jobs)).scalar_one()),
            int(conn.execute(select(func.count()).select_from(dbm.objects)).scalar_one()),
        )


def set_object_status(ctx: Context, job_id: int, idxs: list[int], status: str) -> None:
    with ctx.db.write() as conn:
        conn.execute(
            update(dbm.objects).where(dbm.objects.c.job_id == job_id, dbm.objects.c.idx.in_(idxs)).values(status=status)
        )


def problem_fields(exc: ValidationError) -> set[str]:
    return {p.field or "" for p in exc.problems}


# --- create ---------------------------------------------------------------------------------------------------


def test_create_inserts_one_object_per_line(any_ctx: Context, any_job_factory: JobFactory, tmp_path: Path) -> None:
    images = any_job_factory.images("extra", 3)
    lines = [{"source-ref": str(p), "batch": i, "note": "é = ünïcode"} for i, p in enumerate(images)]
    made = any_job_factory.create(name="Birds-1", lines=lines, workers_per_object=3)
    s = made.summary
    assert s.status == "InProgress" and s.total_objects == 3 and s.workers_per_object == 3
    assert s.arn == "arn:aws:sagemaker:local:000000000000:labeling-job/birds-1"
    assert s.counters.as_aws() == {
        "TotalLabeled": 0,
        "HumanLabeled": 0,
        "MachineLabeled": 0,
        "FailedNonRetryableError": 0,
        "Unlabeled": 3,
    }
    assert s.progress == 0.0 and s.team_name == "team-a" and s.origin == "new"
    with any_ctx.db.read() as conn:
        rows = conn.execute(
            select(dbm.objects).where(dbm.objects.c.job_id == s.job_id).order_by(dbm.objects.c.idx)
        ).all()
        job = conn.execute(select(dbm.jobs).where(dbm.jobs.c.id == s.job_id)).one()
    assert [r.idx for r in rows] == [0, 1, 2]
    assert [json.loads(r.line_json) for r in rows] == lines  # every key of the line kept
    assert [r.source_ref for r in rows] == [str(p) for p in images]
    assert {(r.status, r.needed, r.taken, r.answers) for r in rows} == {("open", 3, 0, 0)}
    assert json.loads(job.labels_json) == ["cat", "dog", "bird"]
    assert job.task_type == "BoundingBox" and job.label_attribute == "Birds-1"
    assert job.reference_code.startswith("000000000000") and len(job.reference_code) == 28
    assert job.max_concurrent == 1000 and job.task_time_limit == 300 and job.availability_lifetime == 864000
    spec = json.loads(job.spec_json)
    assert spec["RoleArn"].startswith("arn:aws:iam::")  # kept although meaningless here
    assert spec["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] == job.input_manifest_uri


def test_manifest_line_kept_verbatim(any_ctx: Context, any_job_factory: JobFactory) -> None:
    img = write_png(any_job_factory.root / "img" / "a.png", 0)
    raw = '{"source-ref":"' + str(img) + '",\t"k":"a\\u003db \\\\ \\n","n":1.50, "z":"日本"}'
    made = any_job_factory.create(lines=[raw])
    with any_ctx.db.read() as conn:
        assert conn.execute(select(dbm.objects.c.line_json)).scalar_one() == raw
    assert made.summary.total_objects == 1


def test_describe_shape(any_ctx: Context, any_job_factory: JobFactory) -> None:
    made = any_job_factory.create(name="shape-1")
    d = jobs.describe_labeling_job(any_ctx, SYSTEM, "SHAPE-1")  # case-insensitive lookup
    for key in (
        "LabelingJobStatus",
        "LabelCounters",
        "CreationTime",
        "LastModifiedTime",
        "JobReferenceCode",
        "LabelingJobName",
        "LabelingJobArn",
        "LabelAttributeName",
        "InputConfig",
        "OutputConfig",
        "RoleArn",
        "LabelCategoryConfigS3Uri",
        "HumanTaskConfig",
    ):
        assert key in d, key
    assert d["LabelingJobStatus"] == "InProgress" and d["LabelingJobName"] == "shape-1"
    assert isinstance(d["CreationTime"], datetime) and d["CreationTime"].tzinfo is not None
    assert "LabelingJobOutput" not in d and "FailureReason" not in d
    assert d["HumanTaskConfig"]["TaskTitle"] == made.request["HumanTaskConfig"]["TaskTitle"]


def test_describe_missing_name_raises_not_found(any_ctx: Context) -> None:
    with pytest.raises(NotFound, match="no-such-job"):
        jobs.describe_labeling_job(any_ctx, SYSTEM, "no-such-job")


def test_team_given_by_plain_name_and_missing_team(ctx: Context, job_factory: JobFactory) -> None:
    req = job_factory.request(team="plain")
    req["HumanTaskConfig"]["WorkteamArn"] = "plain"
    assert jobs.create_labeling_job(ctx, SYSTEM, req).team_name == "plain"
    req = job_factory.request()
    req["HumanTaskConfig"]["WorkteamArn"] = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/ghosts"
    with pytest.raises(SpecError) as err:
        jobs.create_labeling_job(ctx, SYSTEM, req)
    assert any(p.field == "HumanTaskConfig.WorkteamArn" and "ghosts" in p.message for p in err.value.problems)


def test_name_unique_case_insensitively(any_ctx: Context, any_job_factory: JobFactory) -> None:
    any_job_factory.create(name="Example-Job")
    before = count_rows(any_ctx)
    with pytest.raises(SpecError) as err:
        any_job_factory.create(name="example-job")
    assert "LabelingJobName" in problem_fields(err.value)
    assert count_rows(any_ctx) == before


def test_insert_race_on_name_becomes_conflict(ctx: Context, job_factory: JobFactory) -> None:
    plan = jobcreate.validate_create(ctx, job_factory.request(name="race-1"))
    jobcreate.insert_job(ctx, SYSTEM, plan)
    with pytest.raises(Conflict, match="race-1"):
        jobcreate.insert_job(ctx, SYSTEM, plan)
    assert count_rows(ctx) == (1, 3)


def test_all_problems_reported_and_nothing_created(
    any_ctx: Context, any_job_factory: JobFactory, tmp_path: Path
) -> None:
    good = write_png(tmp_path / "ok.png", 1)
    lines = [
        json.dumps({"source-ref": str(good)}),
        "not json",
        json.dumps({"source-ref": "/etc/passwd"}),
        json.dumps({"source": "inline text"}),
        "",
    ]
    req = any_job_factory.request(lines=lines, labels=["only-one"], task_type="ImageClassification")
    req["HumanTaskConfig"]["TaskTitle"] = ""
    req["OutputConfig"]["S3OutputPath"] = "/outside/the/roots"
    with pytest.raises(SpecError) as err:
        jobs.create_labeling_job(any_ctx, SYSTEM, req)
    fields = problem_fields(err.value)
    assert {"HumanTaskConfig.TaskTitle", "OutputConfig.S3OutputPath"} <= fields
    assert any("needs at least 2" in p.message for p in err.value.problems)  # label file for classification
    lines_reported = sorted(p.line for p in err.value.problems if p.line is not None)
    assert lines_reported[:2] == [2, 3], err.value.problems
    assert count_rows(any_ctx) == (0, 0)


def test_only_manifest_problems_raise_manifest_error(ctx: Context, job_factory: JobFactory, tmp_path: Path) -> None:
    img = write_png(tmp_path / "a.png", 0)
    lines = [json.dumps({"source-ref": str(img)}), '{"source-ref": 5}', json.dumps({"$bad": 1, "source-ref": str(img)})]
    with pytest.raises(ManifestError) as err:
        jobs.create_labeling_job(ctx, SYSTEM, job_factory.request(lines=lines))
    assert [p.line for p in err.value.problems] == [2, 3]
    assert count_rows(ctx) == (0, 0)


def test_inline_source_lines_rejected_for_image_tasks(ctx: Context, job_factory: JobFactory) -> None:
    with pytest.raises(ManifestError) as err:
        jobs.create_labeling_job(ctx, SYSTEM, job_factory.request(lines=[{"source": "a text"}]))
    assert err.value.problems[0].line == 1 and "source-ref" in err.value.problems[0].message


def test_missing_files_named_by_field(ctx: Context, job_factory: JobFactory, tmp_path: Path) -> None:
    req = job_factory.request()
    req["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] = str(tmp_path / "missing.manifest")
    req["LabelCategoryConfigS3Uri"] = str(tmp_path / "missing.json")
    req["HumanTaskConfig"]["Instructions"] = {
        "Short": "Box birds",
        "Examples": [
            {"Kind": "good", "ImageUri": str(tmp_path / "nope.png")},
            {"Kind": "bad", "ImageUri": "file:///etc/passwd"},
        ],
    }
    with pytest.raises(SpecError) as err:
        jobs.create_labeling_job(ctx, SYSTEM, req)
    fields = problem_fields(err.value)
    assert {
        "InputConfig.DataSource.S3DataSource.ManifestS3Uri",
        "LabelCategoryConfigS3Uri",
        "HumanTaskConfig.Instructions.Examples[0].ImageUri",
        "HumanTaskConfig.Instructions.Examples[1].ImageUri",
    } <= fields
    assert any("missing.manifest" in p.message for p in err.value.problems)


def test_label_file_problems(ctx: Context, job_factory: JobFactory, tmp_path: Path) -> None:
    bad = tmp_path / "labels-bad.json"
    bad.write_text('{"document-version":"2018-11-28","labels":[{"label":"a"},{"label":"a"},{"label":""}]}')
    req = job_factory.request()
    req["LabelCategoryConfigS3Uri"] = str(bad)
    with pytest.raises(SpecError) as err:
        jobs.create_labeling_job(ctx, SYSTEM, req)
    assert any("duplicate" in p.message for p in err.value.problems)
    assert all(p.where == str(bad) for p in err.value.problems)
    too_many = job_factory.request(labels=[f"c{i}" for i in range(51)])
    with pytest.raises(SpecError, match="at most 50"):
        jobs.create_labeling_job(ctx, SYSTEM, too_many)


def test_instructions_stored_with_normalized_uris(ctx: Context, job_factory: JobFactory, tmp_path: Path) -> None:
    ex = write_png(tmp_path / "examples" / "good.png", 2)
    req = job_factory.request(
        extra_human={
            "Instructions": {
                "Short": "Tight boxes",
                "Full": "# Rules\n* every bird",
                "Examples": [{"Kind": "good", "ImageUri": "file://" + str(ex), "Caption": "tight"}],
            }
        }
    )
    s = jobs.create_labeling_job(ctx, SYSTEM, req)
    with ctx.db.read() as conn:
        stored = json.loads(
            conn.execute(select(dbm.jobs.c.instructions_json).where(dbm.jobs.c.id == s.job_id)).scalar_one()
        )
    assert stored == {
        "Short": "Tight boxes",
        "Full": "# Rules\n* every bird",
        "Examples": [{"Kind": "good", "ImageUri": str(ex), "Caption": "tight"}],
    }


def test_task_type_read_from_template(ctx: Context, job_factory: JobFactory, tmp_path: Path) -> None:
    tpl = tmp_path / "template.liquid"
    tpl.write_text(
        '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>\n'
        '<crowd-form><crowd-image-classifier name="crowd-image-classifier" categories="{{ task.input.labels '
        '| to_json | escape }}"></crowd-image-classifier></crowd-form>'
    )
    req = job_factory.request(task_type="ImageClassification")
    human = req["HumanTaskConfig"]
    human.pop("PreHumanTaskLambdaArn")
    human.pop("AnnotationConsolidationConfig")
    human["UiConfig"] = {"UiTemplateS3Uri": str(tpl)}
    assert jobs.create_labeling_job(ctx, SYSTEM, req).task_type == "ImageClassification"
    tpl.write_text("<p>no crowd element</p>")
    req2 = json.loads(json.dumps(req))
    req2["LabelingJobName"] = "tpl-2"
    with pytest.raises(SpecError) as err:
        jobs.create_labeling_job(ctx, SYSTEM, req2)
    assert "HumanTaskConfig.UiConfig.UiTemplateS3Uri" in problem_fields(err.value)


def test_multi_chunk_create(any_ctx: Context, any_job_factory: JobFactory) -> None:
    n = jobcreate.INSERT_CHUNK * 2 + 17
    lines = [{"source-ref": f"s3://gt-bench-bucket/img/{i:06d}.jpg", "i": i} for i in range(n)]
    s = any_job_factory.create(lines=lines, workers_per_object=2).summary
    assert s.total_objects == n and s.counters.unlabeled == n
    with any_ctx.db.read() as conn:
        first, last = conn.execute(select(func.min(dbm.objects.c.idx), func.max(dbm.objects.c.idx))).one()
        line = conn.execute(select(dbm.objects.c.line_json).where(dbm.objects.c.idx == n - 1)).scalar_one()
    assert (first, last) == (0, n - 1) and json.loads(line)["i"] == n - 1


def test_bad_line_99999_of_100000_creates_nothing(any_ctx: Context, any_job_factory: JobFactory) -> None:
    lines = [json.dumps({"source-ref": f"s3://gt-bench-bucket/img/{i:06d}.jpg"}) for i in range(100_000)]
    lines[99_998] = '{"source-ref": "s3://gt-bench-bucket/img/x.jpg"'  # line 99,999: truncated JSON
    with pytest.raises(ManifestError) as err:
        any_job_factory.create(lines=lines)
    assert [p.line for p in err.value.problems] == [99_999]
    assert count_rows(any_ctx) == (0, 0)


def test_failure_inside_the_insert_leaves_nothing(
    any_ctx: Context, any_job_factory: JobFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real = jobcreate._bulk_insert

    def failing(conn: Any, rows: list[tuple[Any, ...]]) -> None:
        real(conn, rows)
        seen.append(conn.execute(select(dbm.jobs.c.status)).scalar_one())
        raise RuntimeError("disk full")

    monkeypatch.setattr(jobcreate, "_bulk_insert", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        any_job_factory.create(n_images=4)
    assert seen == ["Initializing"]  # the job is Initializing until its objects are in
    assert count_rows(any_ctx) == (0, 0)


def test_too_many_objects(ctx: Context, job_factory: JobFactory) -> None:
    job_factory.ctx = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, max_objects=3))
    with pytest.raises(ManifestError, match="more than 3 lines"):  # the limit is a setting (GT_MAX_OBJECTS_PER_JOB)
        job_factory.create(n_images=4)


# --- list ---------------------------------------------------------------------------------------------------


def _three_jobs(f: JobFactory, ctx: Context) -> list[str]:
    names = ["beta-2", "Alpha-1", "gamma-3"]
    for i, name in enumerate(names):
        s = f.create(name=name, n_images=1).summary
        with ctx.db.write() as conn:  # distinct creation times, in list order
            conn.execute(update(dbm.jobs).where(dbm.jobs.c.id == s.job_id).values(created_at=1000.0 + i))
    jobs.stop_labeling_job(ctx, SYSTEM, "gamma-3")
    run_work(ctx)
    return names


def test_list_filters_and_sorts(any_ctx: Context, any_job_factory: JobFactory) -> None:
    _three_jobs(any_job_factory, any_ctx)
    names = lambda **kw: [j.name for j in jobs.list_jobs(any_ctx, SYSTEM, **kw)]  # noqa: E731
    assert names() == ["beta-2", "Alpha-1", "gamma-3"]  # default: CreationTime, Ascending
    assert names(sort_order="Descending") == ["gamma-3", "Alpha-1", "beta-2"]
    assert names(sort_by="Name") == ["Alpha-1", "beta-2", "gamma-3"]
    assert names(sort_by="Name", sort_order="Descending") == ["gamma-3", "beta-2", "Alpha-1"]
    assert names(sort_by="Status") == ["beta-2", "Alpha-1", "gamma-3"]  # InProgress < Stopped
    assert names(sort_by="Status", sort_order="Descending") == ["gamma-3", "Alpha-1", "beta-2"]
    assert names(name_contains="ALPHA") == ["Alpha-1"]
    assert names(name_contains="-") == ["beta-2", "Alpha-1", "gamma-3"]
    assert names(status_equals="Stopped") == ["gamma-3"]
    assert names(status_equals="Completed") == []
    assert names(creation_time_after=1000.5) == ["Alpha-1", "gamma-3"]
    assert names(creation_time_before=1000.5) == ["beta-2"]


def test_list_rejects_bad_filters(ctx: Context) -> None:
    for kwargs, field in (
        ({"sort_by": "Size"}, "SortBy"),
        ({"sort_order": "Up"}, "SortOrder"),
        ({"status_equals": "Running"}, "StatusEquals"),
        ({"name_contains": "a%b"}, "NameContains"),
    ):
        with pytest.raises(SpecError) as err:
            jobs.list_jobs(ctx, SYSTEM, **kwargs)
        assert field in problem_fields(err.value)


def test_list_labeling_jobs_pages(any_ctx: Context, any_job_factory: JobFactory) -> None:
    _three_jobs(any_job_factory, any_ctx)
    page = jobs.list_labeling_jobs(any_ctx, SYSTEM, max_results=2, sort_by="Name")
    assert [x["LabelingJobName"] for x in page["LabelingJobSummaryList"]] == ["Alpha-1", "beta-2"]
    rest = jobs.list_labeling_jobs(any_ctx, SYSTEM, max_results=2, sort_by="Name", next_token=page["NextToken"])
    assert [x["LabelingJobName"] for x in rest["LabelingJobSummaryList"]] == ["gamma-3"]
    assert "NextToken" not in rest
    item = rest["LabelingJobSummaryList"][0]
    assert item["LabelingJobStatus"] == "Stopped" and item["LabelCounters"]["Unlabeled"] == 1
    assert item["WorkteamArn"].endswith("workteam/private-crowd/team-a")
    assert item["LabelingJobOutput"]["OutputDatasetS3Uri"].endswith("gamma-3/manifests/output/output.manifest")
    assert item["PreHumanTaskLambdaArn"].endswith("PRE-BoundingBox")
    with pytest.raises(SpecError):
        jobs.list_labeling_jobs(any_ctx, SYSTEM, max_results=101)
    with pytest.raises(SpecError):
        jobs.list_labeling_jobs(any_ctx, SYSTEM, next_token="garbage!")


# --- counters and transitions -------------------------------------------------------------------------------


def test_counters_follow_object_statuses(any_ctx: Context, any_job_factory: JobFactory) -> None:
    s = any_job_factory.create(n_images=6).summary
    set_object_status(any_ctx, s.job_id, [0, 1, 2], "done")
    set_object_status(any_ctx, s.job_id, [3], "failed")
    d = jobs.describe_labeling_job(any_ctx, SYSTEM, s.name)
    assert d["LabelCounters"] == {
        "TotalLabeled": 3,
        "HumanLabeled": 3,
        "MachineLabeled": 0,
        "FailedNonRetryableError": 1,
        "Unlabeled": 2,
    }
    assert jobs.job_summary(any_ctx, SYSTEM, s.name).progress == pytest.approx(4 / 6)


def test_stop_goes_through_stopping_to_stopped(
    any_ctx: Context, any_job_factory: JobFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = any_job_factory.create(n_images=2).summary
    calls: list[tuple[int, str]] = []
    real_finish = lifecycle.finish_job

    def broken(ctx: Context, job_id: int, final: str) -> None:
        calls.append((job_id, final))
        raise ConnectionError("store unreachable")

    monkeypatch.setattr(lifecycle, "finish_job", broken)
    assert jobs.stop_labeling_job(any_ctx, SYSTEM, s.name).status == "Stopping"  # the request does no heavy work
    run_work(any_ctx)  # the worker's finish fails: the item waits for its retry, the job stays Stopping
    assert calls == [(s.job_id, "Stopped")]
    assert jobs.describe_labeling_job(any_ctx, SYSTEM, s.name)["LabelingJobStatus"] == "Stopping"
    with any_ctx.db.read() as conn:
        (item,) = conn.execute(dbm.work_items.select().where(dbm.work_items.c.kind == "jobs.finish")).all()
    assert item.status == "pending" and "store unreachable" in item.last_error
    monkeypatch.setattr(lifecycle, "finish_job", real_finish)
    # the workers retry it by themselves (here: the maintenance sweep re-records it; a manual stop would too)
    assert maintenance.sweep(any_ctx)["StoppingJobsRetried"] == 1
    runner.run_until_idle(any_ctx, now=dbm.now() + 3600)
    stopped = jobs.job_summary(any_ctx, SYSTEM, s.name)
    assert stopped.status == "Stopped" and stopped.ended_at is not None
    d = jobs.describe_labeling_job(any_ctx, SYSTEM, s.name)
    assert d["LabelingJobOutput"]["OutputDatasetS3Uri"] == stopped.output_manifest_uri
    assert Path(stopped.output_manifest_uri).exists()
    with pytest.raises(Conflict, match="cannot be stopped or restarted"):
        jobs.stop_labeling_job(any_ctx, SYSTEM, s.name)


def test_completed_and_failed_are_final(any_ctx: Context, any_job_factory: JobFactory) -> None:
    done = any_job_factory.create(n_images=1).summary
    set_object_status(any_ctx, done.job_id, [0], "failed")
    lifecycle.finish_job(any_ctx, done.job_id, "Completed")
    assert jobs.describe_labeling_job(any_ctx, SYSTEM, done.name)["LabelingJobStatus"] == "Completed"
    with pytest.raises(Conflict):
        jobs.stop_labeling_job(any_ctx, SYSTEM, done.name)
    bad = any_job_factory.create(n_images=1).summary
    failed = jobs.fail_labeling_job(any_ctx, SYSTEM, bad.name, "the image bucket was deleted")
    assert failed.status == "Failed"
    d = jobs.describe_labeling_job(any_ctx, SYSTEM, bad.name)
    assert d["LabelingJobStatus"] == "Failed" and d["FailureReason"] == "the image bucket was deleted"
    with pytest.raises(Conflict):
        jobs.stop_labeling_job(any_ctx, SYSTEM, bad.name)
    with pytest.raises(Conflict):
        jobs.fail_labeling_job(any_ctx, SYSTEM, bad.name, "again")


def test_jobs_fail_after_30_days(ctx: Context, job_factory: JobFactory) -> None:
    old = job_factory.create(n_images=1).summary
    young = job_factory.create(n_images=1).summary
    with ctx.db.write() as conn:
        conn.execute(update(dbm.jobs).where(dbm.jobs.c.id == old.job_id).values(created_at=old.created_at - 31 * 86400))
    assert jobs.fail_overdue_jobs(ctx, SYSTEM) == [old.name]
    assert jobs.job_summary(ctx, SYSTEM, old.name).status == "Failed"
    assert "30 days" in (jobs.job_summary(ctx, SYSTEM, old.name).failure_reason or "")
    assert jobs.job_summary(ctx, SYSTEM, young.name).status == "InProgress"


def test_stopping_conditions(any_ctx: Context, any_job_factory: JobFactory) -> None:
    s = any_job_factory.create(n_images=4, StoppingConditions={"MaxHumanLabeledObjectCount": 2}).summary
    set_object_status(any_ctx, s.job_id, [0], "done")
    assert jobs.check_stopping_conditions(any_ctx, SYSTEM, s.job_id) is False
    set_object_status(any_ctx, s.job_id, [1], "done")
    assert jobs.check_stopping_conditions(any_ctx, SYSTEM, s.job_id) is True
    assert jobs.job_summary(any_ctx, SYSTEM, s.name).status == "Stopping"
    run_work(any_ctx)
    assert jobs.job_summary(any_ctx, SYSTEM, s.name).status == "Stopped"
    p = any_job_factory.create(n_images=4, StoppingConditions={"MaxPercentageOfInputDatasetLabeled": 50}).summary
    set_object_status(any_ctx, p.job_id, [0, 1], "done")
    assert jobs.check_stopping_conditions(any_ctx, SYSTEM, p.job_id) is True


def test_there_is_no_delete() -> None:
    from gtcore.jobs import actions as jobactions
    from gtcore.jobs import describe as jobdescribe
    from gtcore.jobs import listing as joblist

    for module in (jobs, jobactions, joblist, jobdescribe, jobcreate):
        assert not [n for n in dir(module) if "delete" in n.lower()], module


# --- authorization ------------------------------------------------------------------------------------------


def test_permissions(any_ctx: Context, any_job_factory: JobFactory) -> None:
    mine = any_job_factory.create(name="mine", team="team-a", n_images=1).summary
    any_job_factory.create(name="theirs", team="team-b", n_images=1)
    db = any_ctx.db
    worker = make_user(db, "w@example.test", ("worker",), (mine.team_id or 0,))
    stranger = make_user(db, "s@example.test", ("worker",), ())
    auditor = make_user(db, "a@example.test", ("auditor",))
    admin = make_user(db, "lead@example.test", ("admin",))
    nobody = make_user(db, "n@example.test", ())
    assert [j.name for j in jobs.list_jobs(any_ctx, worker)] == ["mine"]
    assert jobs.list_jobs(any_ctx, stranger) == []
    assert {j.name for j in jobs.list_jobs(any_ctx, auditor)} == {"mine", "theirs"}
    assert jobs.describe_labeling_job(any_ctx, worker, "mine")["LabelingJobName"] == "mine"
    assert jobs.describe_labeling_job(any_ctx, auditor, "theirs")["LabelingJobName"] == "theirs"
    with pytest.raises(PermissionDenied):
        jobs.describe_labeling_job(any_ctx, worker, "theirs")
    with pytest.raises(PermissionDenied):
        jobs.list_jobs(any_ctx, nobody)
    for actor in (worker, auditor):
        with pytest.raises(PermissionDenied):
            jobs.create_labeling_job(any_ctx, actor, any_job_factory.request(name="nope"))
        with pytest.raises(PermissionDenied):
            jobs.stop_labeling_job(any_ctx, actor, "mine")
        with pytest.raises(PermissionDenied):
            jobs.clone_labeling_job(any_ctx, actor, "mine", "mine-2")
        with pytest.raises(PermissionDenied):
            jobs.chain_labeling_job(any_ctx, actor, "mine", "mine-3")
        with pytest.raises(PermissionDenied):
            jobs.fail_labeling_job(any_ctx, actor, "mine", "x")
    with pytest.raises(PermissionDenied):
        jobs.check_stopping_conditions(any_ctx, stranger, mine.job_id)
    disabled = Actor(user_id=admin.user_id, email=admin.email, roles=admin.roles, is_active=False)
    with pytest.raises(PermissionDenied):
        jobs.create_labeling_job(any_ctx, disabled, any_job_factory.request(name="nope-2"))
    created = jobs.create_labeling_job(any_ctx, admin, any_job_factory.request(name="by-admin"))
    with any_ctx.db.read() as conn:
        by = conn.execute(select(dbm.jobs.c.created_by).where(dbm.jobs.c.id == created.job_id)).scalar_one()
    assert by == admin.user_id


# --- home page ----------------------------------------------------------------------------------------------


def _app_env(monkeypatch: pytest.MonkeyPatch, ctx: Context) -> None:
    s = ctx.settings
    monkeypatch.setenv("GT_HOME", str(s.home))
    monkeypatch.setenv("GT_DATABASE_URL", s.database_url)
    monkeypatch.setenv("GT_LOCAL_ROOTS", ":".join(str(p) for p in s.local_roots))
    monkeypatch.delenv("GT_S3_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("GT_ALLOWED_BUCKETS", raising=False)


def _home(token: str) -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "home.py"), default_timeout=60)
    at.session_state["gt_token"] = token
    return at.run()


def test_home_page_admin_and_worker(
    ctx: Context, job_factory: JobFactory, people: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = people(ctx)
    admin = p.admin()
    worker = p.worker("team-a")
    job_factory.create(name="home-a", team="team-a", n_images=2)
    job_factory.create(name="home-b", team="team-b", n_images=1)
    _app_env(monkeypatch, ctx)
    at = _home(p.token(admin))
    assert not at.exception, at.exception
    texts = " | ".join(t.value for t in at.text)
    assert str(ctx.settings.home) in texts and "Database: sqlite" in texts
    frames = [d.value for d in at.dataframe]
    jobs_table = frames[-1]
    assert list(jobs_table["Job"]) == ["home-b", "home-a"]  # newest first
    assert list(jobs_table["Unlabeled"]) == [1, 2]
    assert "Progress" in jobs_table.columns
    assert frames[0]["Answers"].tolist() == ["yes"]  # the local root answers
    at = _home(p.token(worker))
    assert not at.exception, at.exception
    assert list(at.dataframe[-1].value["Job"]) == ["home-a"]  # only his team's jobs
    assert not any("Data home" in t.value for t in at.text)


# --- S3 (moto's server over HTTP) ---------------------------------------------------------------------------


def test_create_from_s3_manifest_and_stop_to_s3(tmp_path: Path, s3_server: Any, s3_bucket: str) -> None:
    from tests.fixtures.core import make_settings, make_team

    ctx = Context.from_settings(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    s3 = s3_server.client()
    refs = []
    for i in range(3):
        png = write_png(tmp_path / f"s3img{i}.png", i)
        s3.put_object(Bucket=s3_bucket, Key=f"images/{i}.png", Body=png.read_bytes())
        refs.append(f"s3://{s3_bucket}/images/{i}.png")
    s3.put_object(
        Bucket=s3_bucket,
        Key="in/dataset.manifest",
        Body="".join(json.dumps({"source-ref": r}) + "\n" for r in refs).encode(),
    )
    s3.put_object(
        Bucket=s3_bucket,
        Key="in/labels.json",
        Body=b'{"document-version":"2018-11-28","labels":[{"label":"cat"},{"label":"dog"}]}',
    )
    make_team(ctx.db, "s3-team")
    f = JobFactory(ctx, tmp_path)
    req = f.request(name="s3-job", team="s3-team", task_type="ImageClassification", lines=[{"source-ref": refs[0]}])
    req["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] = f"s3://{s3_bucket}/in/dataset.manifest"
    req["LabelCategoryConfigS3Uri"] = f"s3://{s3_bucket}/in/labels.json"
    req["OutputConfig"]["S3OutputPath"] = f"s3://{s3_bucket}/out/"
    try:
        s = jobs.create_labeling_job(ctx, SYSTEM, req)
        assert s.total_objects == 3 and s.input_manifest_uri == f"s3://{s3_bucket}/in/dataset.manifest"
        with ctx.db.read() as conn:
            assert list(conn.execute(select(dbm.objects.c.source_ref).order_by(dbm.objects.c.idx)).scalars()) == refs
        stopped = jobs.stop_labeling_job(ctx, SYSTEM, "s3-job")
        run_work(ctx)
        assert stopped.output_manifest_uri == f"s3://{s3_bucket}/out/s3-job/manifests/output/output.manifest"
        s3.head_object(Bucket=s3_bucket, Key="out/s3-job/manifests/output/output.manifest")
        missing = json.loads(json.dumps(req))
        missing["LabelingJobName"] = "s3-job-2"
        missing["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] = f"s3://{s3_bucket}/in/nope.manifest"
        with pytest.raises(SpecError) as err:
            jobs.create_labeling_job(ctx, SYSTEM, missing)
        assert "InputConfig.DataSource.S3DataSource.ManifestS3Uri" in problem_fields(err.value)
    finally:
        ctx.db.dispose()
