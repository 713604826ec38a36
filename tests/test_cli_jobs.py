"""The job CLI in-process (`gtcore.cli.command.main`), flags spelled like the AWS CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from gtcore.cli.command import main
from gtcore.context import Context
from gtcore.core.settings import Settings
from tests.fixtures.core import make_team
from tests.fixtures.jobs import write_png


@pytest.fixture
def cli_env(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("GT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GT_LOCAL_ROOTS", str(tmp_path))
    monkeypatch.setenv("GT_DATABASE_URL", db_url)
    monkeypatch.delenv("GT_ALLOWED_BUCKETS", raising=False)
    monkeypatch.chdir(tmp_path)
    ctx = Context.from_settings(Settings.from_env())
    make_team(ctx.db, "annotators")
    yield ctx
    ctx.db.dispose()


def write_job_json(folder: Path, name: str = "cli-job-1", **changes: Any) -> Path:
    """A job folder as a team would keep it: images, manifest, labels and job.json with RELATIVE paths."""
    images = [write_png(folder / "images" / f"{i}.png", i) for i in range(3)]
    (folder / "input.manifest").write_text("".join(json.dumps({"source-ref": str(p)}) + "\n" for p in images))
    (folder / "labels.json").write_text(
        json.dumps({"document-version": "2018-11-28", "labels": [{"label": "car"}, {"label": "truck"}]})
    )
    request = {
        "LabelingJobName": name,
        "LabelAttributeName": "vehicle",
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": "input.manifest"}}},
        "OutputConfig": {"S3OutputPath": "output/"},
        "RoleArn": "arn:aws:iam::123456789012:role/GroundTruthRole",
        "LabelCategoryConfigS3Uri": "labels.json",
        "HumanTaskConfig": {
            "WorkteamArn": "arn:aws:sagemaker:eu-west-1:123456789012:workteam/private-crowd/annotators",
            "UiConfig": {"UiTemplateS3Uri": "s3://someone-elses-bucket/template.liquid"},
            "PreHumanTaskLambdaArn": "arn:aws:lambda:eu-west-1:568282634449:function:PRE-ImageMultiClass",
            "TaskTitle": "Car or truck?",
            "TaskDescription": "Pick the vehicle type",
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 300,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": "arn:aws:lambda:eu-west-1:568282634449:function:ACS-ImageMultiClass"
            },
        },
        "Tags": [{"Key": "team", "Value": "vision"}],
    }
    request.update(changes)
    path = folder / "job.json"
    path.write_text(json.dumps(request, indent=2))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_create_from_file_then_describe(cli_env: Context, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job = write_job_json(tmp_path / "project")
    code, out, err = run(capsys, "create-labeling-job", "--cli-input-json", "file://project/job.json")
    assert code == 0, err
    assert json.loads(out) == {"LabelingJobArn": "arn:aws:sagemaker:local:000000000000:labeling-job/cli-job-1"}
    code, out, err = run(capsys, "describe-labeling-job", "--labeling-job-name", "cli-job-1")
    assert code == 0, err
    d = json.loads(out)
    assert d["LabelingJobStatus"] == "InProgress"
    assert d["LabelCounters"] == {
        "TotalLabeled": 0,
        "HumanLabeled": 0,
        "MachineLabeled": 0,
        "FailedNonRetryableError": 0,
        "Unlabeled": 3,
    }
    assert datetime.fromisoformat(d["CreationTime"]).utcoffset() is not None
    # relative paths were taken from the JSON file's folder
    assert d["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] == str(job.parent / "input.manifest")
    assert d["OutputConfig"]["S3OutputPath"] == str(job.parent / "output")
    assert d["Tags"] == [{"Key": "team", "Value": "vision"}]


def test_create_inline_json_and_name_override(
    cli_env: Context, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = write_job_json(tmp_path / "p2")
    request = json.loads(job.read_text())
    for holder, key in (
        (request["InputConfig"]["DataSource"]["S3DataSource"], "ManifestS3Uri"),
        (request["OutputConfig"], "S3OutputPath"),
        (request, "LabelCategoryConfigS3Uri"),
    ):
        holder[key] = str(job.parent / holder[key])
    code, out, err = run(
        capsys, "create-labeling-job", "--cli-input-json", json.dumps(request), "--labeling-job-name", "Inline-2"
    )
    assert code == 0, err
    assert json.loads(out)["LabelingJobArn"].endswith("labeling-job/inline-2")


def test_create_reports_every_problem(cli_env: Context, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    human = {
        "WorkteamArn": "nobody-team",
        "TaskTitle": "",
        "NumberOfHumanWorkersPerDataObject": 10,
        "TaskDescription": "d",
        "TaskTimeLimitInSeconds": 10,
        "TaskType": "BoundingBox",
    }
    write_job_json(tmp_path / "bad", name="bad_name", HumanTaskConfig=human)
    code, out, err = run(capsys, "create-labeling-job", "--cli-input-json", "file://bad/job.json")
    assert code == 1 and out == ""
    for field in (
        "LabelingJobName",
        "HumanTaskConfig.TaskTitle",
        "HumanTaskConfig.NumberOfHumanWorkersPerDataObject",
        "HumanTaskConfig.TaskTimeLimitInSeconds",
        "HumanTaskConfig.WorkteamArn",
    ):
        assert field in err, (field, err)
    assert err.startswith("error: ")
    code, out, _ = run(capsys, "list-labeling-jobs")
    assert code == 0 and json.loads(out) == {"LabelingJobSummaryList": []}


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("file://does/not/exist.json", "cannot read the job spec file"),
        ("job.json", "neither file://"),
        ("{not json", "not valid JSON"),
    ],
)
def test_create_bad_input_argument(
    cli_env: Context, capsys: pytest.CaptureFixture[str], value: str, fragment: str
) -> None:
    code, out, err = run(capsys, "create-labeling-job", "--cli-input-json", value)
    assert code == 1 and out == "" and fragment in err


def test_list_stop_clone_chain(cli_env: Context, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("zeta-1", "Alpha-2"):
        write_job_json(tmp_path / name, name=name)
        assert run(capsys, "create-labeling-job", "--cli-input-json", f"file://{name}/job.json")[0] == 0
    code, out, _ = run(capsys, "list-labeling-jobs", "--sort-by", "Name")
    assert code == 0
    listed = json.loads(out)["LabelingJobSummaryList"]
    assert [x["LabelingJobName"] for x in listed] == ["Alpha-2", "zeta-1"]
    assert listed[0]["LabelCounters"]["Unlabeled"] == 3 and "CreationTime" in listed[0]
    code, out, err = run(capsys, "stop-labeling-job", "--labeling-job-name", "zeta-1")
    assert code == 0 and out == "", err
    assert run(capsys, "worker", "--until-idle")[0] == 0  # the background worker finishes the stop
    code, out, _ = run(capsys, "list-labeling-jobs", "--status-equals", "Stopped")
    assert [x["LabelingJobName"] for x in json.loads(out)["LabelingJobSummaryList"]] == ["zeta-1"]
    code, out, _ = run(capsys, "list-labeling-jobs", "--name-contains", "ALP", "--sort-order", "Descending")
    assert [x["LabelingJobName"] for x in json.loads(out)["LabelingJobSummaryList"]] == ["Alpha-2"]
    code, out, _ = run(capsys, "list-labeling-jobs", "--max-results", "1", "--sort-by", "Name")
    page = json.loads(out)
    assert len(page["LabelingJobSummaryList"]) == 1 and page["NextToken"]
    code, out, _ = run(
        capsys, "list-labeling-jobs", "--max-results", "1", "--sort-by", "Name", "--next-token", page["NextToken"]
    )
    assert [x["LabelingJobName"] for x in json.loads(out)["LabelingJobSummaryList"]] == ["zeta-1"]
    code, _, err = run(capsys, "stop-labeling-job", "--labeling-job-name", "zeta-1")
    assert code == 1 and "cannot be stopped or restarted" in err
    code, out, err = run(
        capsys, "clone-labeling-job", "--labeling-job-name", "Alpha-2", "--new-labeling-job-name", "alpha-3"
    )
    assert code == 0 and json.loads(out)["LabelingJobArn"].endswith("/alpha-3"), err
    code, _, err = run(
        capsys, "chain-labeling-job", "--labeling-job-name", "Alpha-2", "--new-labeling-job-name", "alpha-4"
    )
    assert code == 1 and "InProgress" in err


def test_describe_and_stop_missing_job(cli_env: Context, capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in ("describe-labeling-job", "stop-labeling-job"):
        code, out, err = run(capsys, cmd, "--labeling-job-name", "ghost-job")
        assert code == 1 and out == "" and "ghost-job" in err and "does not exist" in err


def test_usage_errors_and_help(cli_env: Context, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["list-labeling-jobs", "--status-equals", "Running"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["describe-labeling-job"])
    assert exc.value.code == 2
    for cmd in (
        "create-labeling-job",
        "describe-labeling-job",
        "list-labeling-jobs",
        "stop-labeling-job",
        "clone-labeling-job",
        "chain-labeling-job",
    ):
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0
        assert "usage: gtcore " + cmd in capsys.readouterr().out
