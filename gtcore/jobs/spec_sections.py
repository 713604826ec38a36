"""Checks of CreateLabelingJob's optional sections: StoppingConditions, the VPC config,
LabelingJobAlgorithmsConfig, Tags, ChainedFrom (called by ``spec.check_job_spec``; all problems collected)."""

from __future__ import annotations

from typing import Any

from gtcore.core.autolabeling import ALGORITHM_FAMILY
from gtcore.core.tasktypes import TaskType
from gtcore.jobs.spec_checks import ATTRIBUTE_PATTERN, NAME_PATTERN, Checker, tag_text_ok

MODEL_ARN = r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:model/.*"
ALGORITHM_ARN = r"arn:.*"
VPC_ID_PATTERN = r"[-0-9a-zA-Z]+"
KMS_PATTERN = r"[a-zA-Z0-9:/_-]*"


def check_stopping(c: Checker, req: dict[str, Any]) -> dict[str, int]:
    sc = c.obj(req, "StoppingConditions", "StoppingConditions", required=False)
    if sc is None:
        return {}
    c.known_keys(sc, ("MaxHumanLabeledObjectCount", "MaxPercentageOfInputDatasetLabeled"), "StoppingConditions")
    out: dict[str, int] = {}
    count = c.integer(
        sc, "MaxHumanLabeledObjectCount", "StoppingConditions.MaxHumanLabeledObjectCount", required=False, lo=1
    )
    pct = c.integer(
        sc,
        "MaxPercentageOfInputDatasetLabeled",
        "StoppingConditions.MaxPercentageOfInputDatasetLabeled",
        required=False,
        lo=1,
        hi=100,
    )
    if count is not None:
        out["MaxHumanLabeledObjectCount"] = count
    if pct is not None:
        out["MaxPercentageOfInputDatasetLabeled"] = pct
    return out


def check_vpc(c: Checker, rc: dict[str, Any], p: str) -> None:
    vpc = c.obj(rc, "VpcConfig", f"{p}.VpcConfig", required=False)
    if vpc is None:
        return
    c.known_keys(vpc, ("SecurityGroupIds", "Subnets"), f"{p}.VpcConfig")
    for key, most in (("SecurityGroupIds", 5), ("Subnets", 16)):
        for i, item in enumerate(
            c.items(vpc, key, f"{p}.VpcConfig.{key}", required=True, min_items=1, max_items=most) or []
        ):
            c.check_text(item, f"{p}.VpcConfig.{key}[{i}]", max_len=32, pattern=VPC_ID_PATTERN)


def check_algorithms(c: Checker, req: dict[str, Any], task_type: TaskType | None) -> None:
    p = "LabelingJobAlgorithmsConfig"
    alg = c.obj(req, p, p, required=False)
    if alg is None:
        return
    c.known_keys(
        alg, ("LabelingJobAlgorithmSpecificationArn", "InitialActiveLearningModelArn", "LabelingJobResourceConfig"), p
    )
    arn = c.string(
        alg,
        "LabelingJobAlgorithmSpecificationArn",
        f"{p}.LabelingJobAlgorithmSpecificationArn",
        required=True,
        max_len=2048,
        pattern=ALGORITHM_ARN,
    )
    model = c.string(
        alg, "InitialActiveLearningModelArn", f"{p}.InitialActiveLearningModelArn", required=False, max_len=2048
    )
    if model is not None and model.startswith("arn:"):
        c.add(
            f"{p}.InitialActiveLearningModelArn",
            "a SageMaker ARN cannot be used here: give the URI of a model file, i.e. the "
            "FinalActiveLearningModelArn of an earlier job (a model this product saved) or a team's ONNX file",
        )
    rc = c.obj(alg, "LabelingJobResourceConfig", f"{p}.LabelingJobResourceConfig", required=False)
    if rc is not None:
        c.known_keys(rc, ("VolumeKmsKeyId", "VpcConfig"), f"{p}.LabelingJobResourceConfig")
        c.string(
            rc,
            "VolumeKmsKeyId",
            f"{p}.LabelingJobResourceConfig.VolumeKmsKeyId",
            required=False,
            max_len=2048,
            pattern=KMS_PATTERN,
        )
        check_vpc(c, rc, f"{p}.LabelingJobResourceConfig")
    if task_type is not None and not task_type.supports_auto_labeling:
        c.add(
            p,
            f"automated data labeling is not available for {task_type.title} jobs (only single-label image "
            "and text classification, bounding boxes and semantic segmentation)",
        )
    elif task_type is not None and arn is not None:
        family = ALGORITHM_FAMILY.get(task_type.name, "")
        if not arn.endswith(f"labeling-job-algorithm-specification/{family}"):
            c.add(
                f"{p}.LabelingJobAlgorithmSpecificationArn",
                f"a {task_type.title} job uses the labeling-job-algorithm-specification/{family} algorithm",
            )


def check_tags(c: Checker, req: dict[str, Any]) -> None:
    for i, tag in enumerate(c.items(req, "Tags", "Tags", required=False, max_items=50) or []):
        if not isinstance(tag, dict):
            c.add(f"Tags[{i}]", 'must be an object {"Key": ..., "Value": ...}')
            continue
        c.known_keys(tag, ("Key", "Value"), f"Tags[{i}]")
        for key, lo, hi in (("Key", 1, 128), ("Value", 0, 256)):
            text = c.string(tag, key, f"Tags[{i}].{key}", required=True, min_len=lo, max_len=hi)
            if text is not None and not tag_text_ok(text):
                c.add(f"Tags[{i}].{key}", "may hold only letters, digits, spaces and _ . : / = + - @")


def check_chained_from(c: Checker, req: dict[str, Any]) -> str | None:
    ch = c.obj(req, "ChainedFrom", "ChainedFrom", required=False)
    if ch is None:
        return None
    c.known_keys(ch, ("LabelingJobName", "LabelAttributeName"), "ChainedFrom")
    c.string(
        ch,
        "LabelingJobName",
        "ChainedFrom.LabelingJobName",
        required=False,
        min_len=1,
        max_len=63,
        pattern=NAME_PATTERN,
    )
    return c.string(
        ch,
        "LabelAttributeName",
        "ChainedFrom.LabelAttributeName",
        required=False,
        min_len=1,
        max_len=127,
        pattern=ATTRIBUTE_PATTERN,
    )


def check_gold_standard(c: Checker, req: dict[str, Any]) -> str | None:
    """``GoldStandard {"LabelAttributeName"}`` (extension): the manifest attribute with known answers."""
    gold = c.obj(req, "GoldStandard", "GoldStandard", required=False)
    if gold is None:
        return None
    c.known_keys(gold, ("LabelAttributeName",), "GoldStandard")
    return c.string(
        gold,
        "LabelAttributeName",
        "GoldStandard.LabelAttributeName",
        required=True,
        min_len=1,
        max_len=127,
        pattern=ATTRIBUTE_PATTERN,
    )
