"""The CreateLabelingJob-shaped spec: every constraint of groundtruth-reference.md section 4, all reported at once."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from gtcore.core import tasktypes
from gtcore.core.errors import SpecError
from gtcore.jobs.request_file import load_request, resolve_relative_paths
from gtcore.jobs.spec import check_job_spec, label_attribute_problems, parse_job_spec
from gtcore.jobs.spec_human import task_type_from_template, team_from_workteam

DELETE = object()
REGION_ACCT = "us-east-1:432418664414"


def base_request() -> dict[str, Any]:
    """What a team passes to `aws sagemaker create-labeling-job --cli-input-json` for a bounding-box job."""
    return {
        "LabelingJobName": "birds-2024-batch-1",
        "LabelAttributeName": "bird-boxes",
        "InputConfig": {
            "DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://my-bucket/input/dataset.manifest"}},
            "DataAttributes": {"ContentClassifiers": ["FreeOfPersonallyIdentifiableInformation"]},
        },
        "OutputConfig": {"S3OutputPath": "s3://my-bucket/output/", "KmsKeyId": "arn:aws:kms:us-east-1:1:key/abc-1"},
        "RoleArn": "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-2024",
        "LabelCategoryConfigS3Uri": "s3://my-bucket/labels.json",
        "StoppingConditions": {"MaxHumanLabeledObjectCount": 500, "MaxPercentageOfInputDatasetLabeled": 100},
        "HumanTaskConfig": {
            "WorkteamArn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/bird-team",
            "UiConfig": {"UiTemplateS3Uri": "s3://my-bucket/template.liquid"},
            "PreHumanTaskLambdaArn": f"arn:aws:lambda:{REGION_ACCT}:function:PRE-BoundingBox",
            "TaskKeywords": ["Images", "bounding boxes"],
            "TaskTitle": "Draw boxes around birds",
            "TaskDescription": "Draw a tight box around every bird",
            "NumberOfHumanWorkersPerDataObject": 3,
            "TaskTimeLimitInSeconds": 3600,
            "TaskAvailabilityLifetimeInSeconds": 864000,
            "MaxConcurrentTaskCount": 1000,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": f"arn:aws:lambda:{REGION_ACCT}:function:ACS-BoundingBox"
            },
        },
        "Tags": [{"Key": "project", "Value": "birds: batch 1"}],
    }


def mutate(req: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    req = copy.deepcopy(req)
    node = req
    keys = path.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    if value is DELETE:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value
    return req


def problems_of(req: Any) -> list[tuple[str, str]]:
    spec, problems = check_job_spec(req)
    assert (spec is None) == bool(problems)
    return [(p.field or "", p.message) for p in problems]


def test_real_shaped_request_is_accepted_and_kept() -> None:
    req = base_request()
    spec = parse_job_spec(req)
    assert spec.name == "birds-2024-batch-1"
    assert spec.label_attribute == "bird-boxes"
    assert spec.task_type is tasktypes.BOUNDING_BOX
    assert spec.team == "bird-team"
    assert spec.workers_per_object == 3 and spec.task_time_limit == 3600
    assert spec.availability_lifetime == 864000 and spec.max_concurrent == 1000
    assert spec.keywords == ("Images", "bounding boxes")
    assert spec.stopping_conditions == {"MaxHumanLabeledObjectCount": 500, "MaxPercentageOfInputDatasetLabeled": 100}
    # fields with no meaning here are kept as given
    assert spec.request["RoleArn"] == req["RoleArn"]
    assert spec.request["Tags"] == req["Tags"]
    assert spec.request["OutputConfig"]["KmsKeyId"] == req["OutputConfig"]["KmsKeyId"]
    assert spec.request is not req and spec.request == req


def test_defaults_for_optional_fields() -> None:
    req = base_request()
    for path in (
        "HumanTaskConfig.TaskAvailabilityLifetimeInSeconds",
        "HumanTaskConfig.MaxConcurrentTaskCount",
        "RoleArn",
        "HumanTaskConfig.UiConfig",
        "Tags",
        "StoppingConditions",
    ):
        req = mutate(req, path, DELETE)
    spec = parse_job_spec(req)
    assert spec.availability_lifetime == 2_592_000
    assert spec.max_concurrent == 1000
    assert spec.stopping_conditions == {}
    assert spec.instructions == {"Short": "", "Full": "", "Examples": []}


@pytest.mark.parametrize(
    "name, ok",
    [
        ("a", True),
        ("Example-Job-1", True),
        ("a--b", True),
        ("x" * 63, True),
        ("x" * 64, False),
        ("", False),
        ("bad_name", False),
        ("-lead", False),
        ("trail-", False),
        ("with.dot", False),
        ("with space", False),
        ("ünïcode", False),
    ],
)
def test_labeling_job_name_pattern_and_length(name: str, ok: bool) -> None:
    found = problems_of(mutate(base_request(), "LabelingJobName", name))
    fields = [f for f, _ in found]
    assert ("LabelingJobName" not in fields) == ok, found


@pytest.mark.parametrize(
    "attr, fragment",
    [
        ("boxes-metadata", "-metadata"),
        ("boxes-ref", "-ref"),
        ("source", "reserved"),
        ("source-ref", "reserved"),
        ("x" * 128, "limit is 127"),
        ("bad_attr", "pattern"),
        ("", "empty"),
    ],
)
def test_label_attribute_rules(attr: str, fragment: str) -> None:
    found = problems_of(mutate(base_request(), "LabelAttributeName", attr))
    assert any(f == "LabelAttributeName" and fragment in m for f, m in found), found


def test_label_attribute_rules_helper_accepts_good_names() -> None:
    assert label_attribute_problems("bird-boxes") == []
    assert label_attribute_problems("x" * 127) == []
    assert label_attribute_problems("category") == []


@pytest.mark.parametrize(
    "path, value, field, fragment",
    [
        ("InputConfig", DELETE, "InputConfig", "required"),
        (
            "InputConfig.DataSource.S3DataSource.ManifestS3Uri",
            DELETE,
            "InputConfig.DataSource.S3DataSource.ManifestS3Uri",
            "required",
        ),
        (
            "InputConfig.DataSource.S3DataSource.ManifestS3Uri",
            "s3://b/" + "k" * 1020,
            "InputConfig.DataSource.S3DataSource.ManifestS3Uri",
            "limit is 1024",
        ),
        (
            "InputConfig.DataSource.SnsDataSource",
            {"SnsTopicArn": "arn:aws:sns:us-east-1:123456789012:t"},
            "InputConfig.DataSource.SnsDataSource",
            "streaming",
        ),
        (
            "InputConfig.DataAttributes.ContentClassifiers",
            ["FreeOfViolence"],
            "InputConfig.DataAttributes.ContentClassifiers[0]",
            "not one of",
        ),
        ("OutputConfig.S3OutputPath", DELETE, "OutputConfig.S3OutputPath", "required"),
        ("OutputConfig.KmsKeyId", "bad key id!", "OutputConfig.KmsKeyId", "pattern"),
        ("OutputConfig.SnsTopicArn", "arn:aws:sns:us-east-1:12:t", "OutputConfig.SnsTopicArn", "pattern"),
        ("RoleArn", "arn:aws:iam::1:r", "RoleArn", "at least 20"),
        ("RoleArn", "arn:aws:iam::123456789012:user/someone", "RoleArn", "pattern"),
        ("LabelCategoryConfigS3Uri", DELETE, "LabelCategoryConfigS3Uri", "required"),
        (
            "StoppingConditions.MaxHumanLabeledObjectCount",
            0,
            "StoppingConditions.MaxHumanLabeledObjectCount",
            "minimum is 1",
        ),
        (
            "StoppingConditions.MaxPercentageOfInputDatasetLabeled",
            101,
            "StoppingConditions.MaxPercentageOfInputDatasetLabeled",
            "maximum is 100",
        ),
        (
            "StoppingConditions.MaxPercentageOfInputDatasetLabeled",
            0,
            "StoppingConditions.MaxPercentageOfInputDatasetLabeled",
            "minimum is 1",
        ),
        ("HumanTaskConfig", DELETE, "HumanTaskConfig", "required"),
        ("HumanTaskConfig.WorkteamArn", DELETE, "HumanTaskConfig.WorkteamArn", "required"),
        (
            "HumanTaskConfig.WorkteamArn",
            "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default",
            "HumanTaskConfig.WorkteamArn",
            "Mechanical Turk",
        ),
        (
            "HumanTaskConfig.WorkteamArn",
            "arn:aws:sagemaker:us-east-1:1234:workteam/private-crowd/x",
            "HumanTaskConfig.WorkteamArn",
            "pattern",
        ),
        (
            "HumanTaskConfig.WorkteamArn",
            "arn:aws:sagemaker:us-east-1:123456789012:workteam/vendor-crowd/acme",
            "HumanTaskConfig.WorkteamArn",
            "private team",
        ),
        ("HumanTaskConfig.WorkteamArn", "my team!", "HumanTaskConfig.WorkteamArn", "neither a team name"),
        ("HumanTaskConfig.UiConfig", {}, "HumanTaskConfig.UiConfig", "exactly one"),
        (
            "HumanTaskConfig.UiConfig",
            {
                "UiTemplateS3Uri": "s3://b/t",
                "HumanTaskUiArn": "arn:aws:sagemaker:us-east-1:123456789012:human-task-ui/NamedEntityRecognition",
            },
            "HumanTaskConfig.UiConfig",
            "exactly one",
        ),
        (
            "HumanTaskConfig.UiConfig",
            {"HumanTaskUiArn": "arn:aws:sagemaker:us-east-1:123456789012:human-task-ui/PointCloudObjectDetection"},
            "HumanTaskConfig.UiConfig.HumanTaskUiArn",
            "not available",
        ),
        (
            "HumanTaskConfig.PreHumanTaskLambdaArn",
            f"arn:aws:lambda:{REGION_ACCT}:function:PRE-VideoObjectDetection",
            "HumanTaskConfig.PreHumanTaskLambdaArn",
            "not a built-in task type",
        ),
        (
            "HumanTaskConfig.PreHumanTaskLambdaArn",
            "arn:aws:lambda:us-east-1:123456789012:function:my-custom-pre",
            "HumanTaskConfig.PreHumanTaskLambdaArn",
            "custom Lambdas",
        ),
        (
            "HumanTaskConfig.PreHumanTaskLambdaArn",
            "PRE-BoundingBox",
            "HumanTaskConfig.PreHumanTaskLambdaArn",
            "pattern",
        ),
        (
            "HumanTaskConfig.AnnotationConsolidationConfig",
            {},
            "HumanTaskConfig.AnnotationConsolidationConfig.AnnotationConsolidationLambdaArn",
            "required",
        ),
        ("HumanTaskConfig.TaskKeywords", [], "HumanTaskConfig.TaskKeywords", "at least 1"),
        ("HumanTaskConfig.TaskKeywords", ["a", "b", "c", "d", "e", "f"], "HumanTaskConfig.TaskKeywords", "limit is 5"),
        ("HumanTaskConfig.TaskKeywords", ["k" * 31], "HumanTaskConfig.TaskKeywords[0]", "limit is 30"),
        ("HumanTaskConfig.TaskKeywords", ["two  spaces"], "HumanTaskConfig.TaskKeywords[0]", "pattern"),
        ("HumanTaskConfig.TaskKeywords", ["images", "bad-dash"], "HumanTaskConfig.TaskKeywords[1]", "pattern"),
        ("HumanTaskConfig.TaskTitle", DELETE, "HumanTaskConfig.TaskTitle", "required"),
        ("HumanTaskConfig.TaskTitle", "t" * 129, "HumanTaskConfig.TaskTitle", "limit is 128"),
        ("HumanTaskConfig.TaskTitle", "", "HumanTaskConfig.TaskTitle", "empty"),
        ("HumanTaskConfig.TaskTitle", "   ", "HumanTaskConfig.TaskTitle", "blank"),
        ("HumanTaskConfig.TaskDescription", "d" * 256, "HumanTaskConfig.TaskDescription", "limit is 255"),
        ("HumanTaskConfig.TaskDescription", DELETE, "HumanTaskConfig.TaskDescription", "required"),
        (
            "HumanTaskConfig.NumberOfHumanWorkersPerDataObject",
            0,
            "HumanTaskConfig.NumberOfHumanWorkersPerDataObject",
            "minimum is 1",
        ),
        (
            "HumanTaskConfig.NumberOfHumanWorkersPerDataObject",
            10,
            "HumanTaskConfig.NumberOfHumanWorkersPerDataObject",
            "maximum is 9",
        ),
        (
            "HumanTaskConfig.NumberOfHumanWorkersPerDataObject",
            "3",
            "HumanTaskConfig.NumberOfHumanWorkersPerDataObject",
            "whole number",
        ),
        (
            "HumanTaskConfig.NumberOfHumanWorkersPerDataObject",
            2.5,
            "HumanTaskConfig.NumberOfHumanWorkersPerDataObject",
            "whole number",
        ),
        (
            "HumanTaskConfig.NumberOfHumanWorkersPerDataObject",
            True,
            "HumanTaskConfig.NumberOfHumanWorkersPerDataObject",
            "whole number",
        ),
        ("HumanTaskConfig.TaskTimeLimitInSeconds", 29, "HumanTaskConfig.TaskTimeLimitInSeconds", "minimum is 30"),
        ("HumanTaskConfig.TaskTimeLimitInSeconds", 28_801, "HumanTaskConfig.TaskTimeLimitInSeconds", "maximum"),
        ("HumanTaskConfig.TaskTimeLimitInSeconds", DELETE, "HumanTaskConfig.TaskTimeLimitInSeconds", "required"),
        (
            "HumanTaskConfig.TaskAvailabilityLifetimeInSeconds",
            59,
            "HumanTaskConfig.TaskAvailabilityLifetimeInSeconds",
            "minimum is 60",
        ),
        (
            "HumanTaskConfig.TaskAvailabilityLifetimeInSeconds",
            2_592_001,
            "HumanTaskConfig.TaskAvailabilityLifetimeInSeconds",
            "maximum",
        ),
        ("HumanTaskConfig.MaxConcurrentTaskCount", 0, "HumanTaskConfig.MaxConcurrentTaskCount", "minimum is 1"),
        ("HumanTaskConfig.MaxConcurrentTaskCount", 5001, "HumanTaskConfig.MaxConcurrentTaskCount", "maximum is 5000"),
        (
            "HumanTaskConfig.PublicWorkforceTaskPrice",
            {"AmountInUsd": {"Dollars": 3, "Cents": 100, "TenthFractionsOfACent": 10}},
            "HumanTaskConfig.PublicWorkforceTaskPrice.AmountInUsd.Cents",
            "maximum is 99",
        ),
        ("HumanTaskConfig.TaskTitel", "typo", "HumanTaskConfig.TaskTitel", "unknown parameter"),
        ("LabelingJobNmae", "typo", "LabelingJobNmae", "unknown parameter"),
        ("Tags", [{"Key": f"k{i}", "Value": "v"} for i in range(51)], "Tags", "limit is 50"),
        ("Tags", [{"Key": "", "Value": "v"}], "Tags[0].Key", "empty"),
        ("Tags", [{"Key": "k" * 129, "Value": "v"}], "Tags[0].Key", "limit is 128"),
        ("Tags", [{"Key": "k", "Value": "v" * 257}], "Tags[0].Value", "limit is 256"),
        ("Tags", [{"Key": "k", "Value": "semi;colon"}], "Tags[0].Value", "may hold only"),
        ("Tags", [{"Key": "k"}], "Tags[0].Value", "required"),
        (
            "LabelingJobAlgorithmsConfig",
            {},
            "LabelingJobAlgorithmsConfig.LabelingJobAlgorithmSpecificationArn",
            "required",
        ),
        (
            "LabelingJobAlgorithmsConfig",
            {
                "LabelingJobAlgorithmSpecificationArn": "arn:aws:sagemaker:us-east-1:027400017018:labeling-job-algorithm-specification/image-classification"  # noqa: E501
            },
            "LabelingJobAlgorithmsConfig.LabelingJobAlgorithmSpecificationArn",
            "object-detection",
        ),
        (
            "LabelingJobAlgorithmsConfig",
            {
                "LabelingJobAlgorithmSpecificationArn": "arn:aws:sagemaker:us-east-1:027400017018:labeling-job-algorithm-specification/object-detection",  # noqa: E501
                "InitialActiveLearningModelArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/x",
            },
            "LabelingJobAlgorithmsConfig.InitialActiveLearningModelArn",
            "give the URI of a model file",
        ),
        (
            "LabelingJobAlgorithmsConfig",
            {
                "LabelingJobAlgorithmSpecificationArn": "arn:aws:sagemaker:us-east-1:027400017018:labeling-job-algorithm-specification/object-detection",  # noqa: E501
                "LabelingJobResourceConfig": {
                    "VpcConfig": {"SecurityGroupIds": [f"sg-{i}" for i in range(6)], "Subnets": []}
                },
            },
            "LabelingJobAlgorithmsConfig.LabelingJobResourceConfig.VpcConfig.SecurityGroupIds",
            "limit is 5",
        ),
    ],
)
def test_each_constraint_names_its_field(path: str, value: Any, field: str, fragment: str) -> None:
    found = problems_of(mutate(base_request(), path, value))
    assert any(f == field and fragment in m for f, m in found), found


def test_every_violation_reported_at_once() -> None:
    req = base_request()
    broken = {
        "LabelingJobName": "bad_name",
        "LabelAttributeName": "x-metadata",
        "HumanTaskConfig.TaskTitle": "t" * 200,
        "HumanTaskConfig.NumberOfHumanWorkersPerDataObject": 12,
        "HumanTaskConfig.TaskTimeLimitInSeconds": 5,
        "HumanTaskConfig.MaxConcurrentTaskCount": 9000,
        "StoppingConditions.MaxPercentageOfInputDatasetLabeled": 150,
        "OutputConfig.S3OutputPath": DELETE,
        "HumanTaskConfig.TaskKeywords": ["ok", "not-ok"],
    }
    for path, value in broken.items():
        req = mutate(req, path, value)
    with pytest.raises(SpecError) as err:
        parse_job_spec(req)
    fields = {p.field for p in err.value.problems}
    expected = {p if p != "HumanTaskConfig.TaskKeywords" else "HumanTaskConfig.TaskKeywords[1]" for p in broken}
    assert expected <= fields
    text = str(err.value)
    assert "HumanTaskConfig.TaskTitle" in text and "LabelingJobName" in text


def test_not_an_object() -> None:
    assert problems_of(["not", "a", "dict"])[0][1].startswith("the job spec must be a JSON object")
    assert any(
        f == "InputConfig" and "must be an object" in m
        for f, m in problems_of(mutate(base_request(), "InputConfig", "s3://x"))
    )


@pytest.mark.parametrize(
    "fields, expected",
    [
        (
            {"PreHumanTaskLambdaArn": f"arn:aws:lambda:{REGION_ACCT}:function:PRE-ImageMultiClass"},
            "ImageClassification",
        ),
        (
            {"PreHumanTaskLambdaArn": "arn:aws:lambda:us-west-2:081040173940:function:PRE-ImageMultiClassMultiLabel"},
            "ImageMultiClassification",
        ),
        ({"TaskType": "BoundingBox"}, "BoundingBox"),
        ({"TaskType": "ImageMultiClassification"}, "ImageMultiClassification"),
        (
            {
                "AnnotationConsolidationConfig": {
                    "AnnotationConsolidationLambdaArn": f"arn:aws:lambda:{REGION_ACCT}:function:ACS-ImageMultiClass"
                }
            },
            "ImageClassification",
        ),
    ],
)
def test_task_type_sources(fields: dict[str, Any], expected: str) -> None:
    req = base_request()
    human = req["HumanTaskConfig"]
    for key in ("PreHumanTaskLambdaArn", "AnnotationConsolidationConfig", "UiConfig"):
        human.pop(key)
    human.update(fields)
    spec = parse_job_spec(req)
    assert spec.task_type is not None and spec.task_type.name == expected
    if expected != "BoundingBox":
        assert spec.task_type.min_labels == 2


def test_task_type_fields_must_agree_and_exist() -> None:
    found = problems_of(mutate(base_request(), "HumanTaskConfig.TaskType", "ImageClassification"))
    assert any("disagree" in m for _, m in found), found
    found = problems_of(mutate(base_request(), "HumanTaskConfig.TaskType", "Polygon"))
    assert any(f == "HumanTaskConfig.TaskType" and "unknown task type" in m for f, m in found)
    req = base_request()
    for key in ("PreHumanTaskLambdaArn", "AnnotationConsolidationConfig", "UiConfig"):
        req["HumanTaskConfig"].pop(key)
    found = problems_of(req)
    assert any("cannot tell the task type" in m for _, m in found), found


def test_template_only_defers_task_type_to_jobs() -> None:
    req = base_request()
    for key in ("PreHumanTaskLambdaArn", "AnnotationConsolidationConfig"):
        req["HumanTaskConfig"].pop(key)
    spec = parse_job_spec(req)
    assert spec.task_type is None and spec.ui_template_uri == "s3://my-bucket/template.liquid"


def test_task_type_from_template_elements() -> None:
    assert task_type_from_template('<crowd-form><crowd-bounding-box name="b"/></crowd-form>') is tasktypes.BOUNDING_BOX
    assert task_type_from_template("<crowd-image-classifier-multi-select>") is tasktypes.IMAGE_MULTI_LABEL
    assert task_type_from_template("<crowd-image-classifier categories=''>") is tasktypes.IMAGE_CLASSIFICATION
    assert task_type_from_template("<crowd-entity-annotation>") is None


def test_workteam_forms() -> None:
    assert team_from_workteam("birders") == ("birders", None)
    assert team_from_workteam("arn:aws:sagemaker:eu-west-1:123456789012:workteam/private-crowd/a-b") == ("a-b", None)
    assert team_from_workteam("arn:aws-cn:sagemaker:cn-north-1:123456789012:workteam/private-crowd/t")[0] == "t"
    name, problem = team_from_workteam("arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/")
    assert name is None and problem


def test_auto_labeling_not_available_for_multi_label() -> None:
    req = mutate(
        base_request(),
        "HumanTaskConfig.PreHumanTaskLambdaArn",
        f"arn:aws:lambda:{REGION_ACCT}:function:PRE-ImageMultiClassMultiLabel",
    )
    req["HumanTaskConfig"].pop("AnnotationConsolidationConfig")
    req["LabelingJobAlgorithmsConfig"] = {
        "LabelingJobAlgorithmSpecificationArn": "arn:aws:sagemaker:us-east-1:027400017018:labeling-job-algorithm-specification/image-classification"  # noqa: E501
    }
    found = problems_of(req)
    assert any(f == "LabelingJobAlgorithmsConfig" and "not available" in m for f, m in found), found


def test_auto_labeling_config_with_matching_algorithm_is_kept() -> None:
    req = base_request()
    req["LabelingJobAlgorithmsConfig"] = {
        "LabelingJobAlgorithmSpecificationArn": "arn:aws:sagemaker:us-east-1:027400017018:labeling-job-algorithm-specification/object-detection",  # noqa: E501
        "LabelingJobResourceConfig": {
            "VolumeKmsKeyId": "key-1",
            "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]},
        },
    }
    assert parse_job_spec(req).request["LabelingJobAlgorithmsConfig"] == req["LabelingJobAlgorithmsConfig"]


def test_instructions_extension() -> None:
    good = {
        "Short": "Box every bird",
        "Full": "# Rules\n\n* tight boxes\n* include tails",
        "Examples": [
            {"Kind": "good", "ImageUri": "s3://b/good.jpg", "Caption": "tight"},
            {"Kind": "bad", "ImageUri": "s3://b/bad.jpg"},
        ],
    }
    spec = parse_job_spec(mutate(base_request(), "HumanTaskConfig.Instructions", good))
    assert spec.instructions["Short"] == "Box every bird"
    assert spec.instructions["Examples"][1] == {"Kind": "bad", "ImageUri": "s3://b/bad.jpg", "Caption": ""}
    bad = {
        "Short": "s" * 256,
        "Full": "f" * 70_000,
        "Extra": 1,
        "Examples": [
            {"Kind": "ugly", "ImageUri": "s3://b/x.jpg"},
            {"Kind": "good"},
            {"Kind": "good", "ImageUri": "s3://b/x.jpg", "Caption": "c" * 256},
            "nope",
        ],
    }
    found = problems_of(mutate(base_request(), "HumanTaskConfig.Instructions", bad))
    p = "HumanTaskConfig.Instructions"
    for field, fragment in [
        (f"{p}.Short", "limit is 255"),
        (f"{p}.Full", "limit"),
        (f"{p}.Extra", "unknown"),
        (f"{p}.Examples[0].Kind", "not one of"),
        (f"{p}.Examples[1].ImageUri", "required"),
        (f"{p}.Examples[2].Caption", "limit is 255"),
        (f"{p}.Examples[3]", "must be an object"),
    ]:
        assert any(f == field and fragment in m for f, m in found), (field, found)
    many = {"Examples": [{"Kind": "good", "ImageUri": f"s3://b/{i}.jpg"} for i in range(21)]}
    assert any("limit is 20" in m for _, m in problems_of(mutate(base_request(), f"{p}", many)))


def test_adjustment_needs_previous_attribute_that_differs() -> None:
    req = mutate(
        base_request(),
        "HumanTaskConfig.PreHumanTaskLambdaArn",
        f"arn:aws:lambda:{REGION_ACCT}:function:PRE-AdjustmentBoundingBox",
    )
    req["HumanTaskConfig"].pop("AnnotationConsolidationConfig")
    found = problems_of(req)
    assert any(f == "ChainedFrom.LabelAttributeName" for f, _ in found), found
    same = mutate(req, "ChainedFrom", {"LabelAttributeName": "bird-boxes"})
    assert any(f == "LabelAttributeName" and "different" in m for f, m in problems_of(same))
    ok = mutate(req, "ChainedFrom", {"LabelingJobName": "birds-0", "LabelAttributeName": "old-boxes"})
    spec = parse_job_spec(ok)
    assert spec.task_type is tasktypes.ADJUSTMENT_BOUNDING_BOX and spec.chained_from_attribute == "old-boxes"


def test_load_request_reports_json_line() -> None:
    with pytest.raises(SpecError) as err:
        load_request('{\n  "LabelingJobName": "x",\n  oops\n}', where="job.json")
    assert err.value.problems[0].line == 3 and err.value.problems[0].where == "job.json"
    assert load_request(json.dumps(base_request())) == base_request()


def test_resolve_relative_paths(tmp_path: Path) -> None:
    req = base_request()
    req["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] = "data/in.manifest"
    req["OutputConfig"]["S3OutputPath"] = "out"
    req["LabelCategoryConfigS3Uri"] = "/abs/labels.json"
    req["HumanTaskConfig"]["Instructions"] = {"Examples": [{"Kind": "good", "ImageUri": "ex/good.png"}]}
    out = resolve_relative_paths(req, tmp_path)
    assert out["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] == str(tmp_path / "data/in.manifest")
    assert out["OutputConfig"]["S3OutputPath"] == str(tmp_path / "out")
    assert out["LabelCategoryConfigS3Uri"] == "/abs/labels.json"
    assert out["HumanTaskConfig"]["UiConfig"]["UiTemplateS3Uri"] == "s3://my-bucket/template.liquid"
    assert out["HumanTaskConfig"]["Instructions"]["Examples"][0]["ImageUri"] == str(tmp_path / "ex/good.png")
    assert req["OutputConfig"]["S3OutputPath"] == "out"  # the input is not changed
