"""The Create job form, without Streamlit: its fields, live checks and the request it builds (the label list's
edits and checks: ``gtcore.jobform.labels``).

The page (``pages/create_job.py``) keeps a :class:`JobForm` filled from its widgets; this module turns
it into the CreateLabelingJob-shaped request that ``gtcore.jobs.api`` validates and creates (one call), and
answers the questions the page asks while the team lead types: is this name valid, what is the default
output location, may automated data labeling be switched on (and if not, why). Everything here is pure;
the parts that read or write the store or the database (data setup, uploads, sample data, the preview
task, creating) are in ``gtcore.jobform.data`` and ``gtcore.jobform.create``.

Problems carry the request's field path (``HumanTaskConfig.TaskTitle``) prefixed by the form's own name
for it (``Task title (HumanTaskConfig.TaskTitle)``, see ``gtcore.jobform.problems``), so a message says
where to look on the page and in the job spec.
"""

from __future__ import annotations

import copy
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from gtcore.core import tasktypes
from gtcore.core.autolabeling import ALGORITHM_FAMILY
from gtcore.core.errors import Problem
from gtcore.jobform.auto_labeling import AUTO_LABELING_MIN_OBJECTS, algorithm_arn, auto_labeling
from gtcore.jobform.labels import label_problems
from gtcore.jobform.problems import HUMAN, TASK_TYPE_FIELD
from gtcore.jobs.arns import workteam_arn
from gtcore.jobs.spec import MANIFEST_FIELD, label_attribute_problems
from gtcore.jobs.spec_checks import NAME_PATTERN, Checker
from gtcore.jobs.spec_human import DEFAULT_AVAILABILITY, DEFAULT_MAX_CONCURRENT
from gtcore.storage.uris import is_s3, split_s3

ORIGINS = ("new", "clone", "chain")
# console defaults (groundtruth-reference.md 4.2): 5 minutes for classification, 60 for other image tasks


@dataclass
class ExampleImage:
    """A good or bad example shown beside the task: an image URI the store allows, and a caption."""

    kind: str  # "good" | "bad"
    image_uri: str
    caption: str = ""


@dataclass
class JobForm:
    """What the team lead entered. Times are seconds; ``label_attribute`` blank means the job name."""

    name: str = ""
    label_attribute: str = ""
    manifest_uri: str = ""
    object_count: int | None = None  # known once data setup ran or the manifest was checked
    output_path: str = ""
    task_type: str = "BoundingBox"
    labels: list[str] = field(default_factory=list)
    title: str = ""
    description: str = ""
    full_instructions: str = ""
    examples: list[ExampleImage] = field(default_factory=list)
    workers_per_object: int = 1
    task_time_limit: int = 3600
    availability_lifetime: int = DEFAULT_AVAILABILITY
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    team: str = ""
    auto_labeling: bool = False
    auto_model_uri: str = ""  # InitialActiveLearningModelArn: a team's ONNX file or an earlier job's final model
    auto_min_objects: int = AUTO_LABELING_MIN_OBJECTS  # the rule in force (settings.autolabel_min_objects)
    origin: str = "new"  # "new" | "clone" | "chain"
    source_job: str = ""  # clone / chain: the job it comes from
    source_attribute: str = ""  # chain: the source job's label attribute
    verify_attribute: str = ""  # a new verification job: the input manifest's attribute to verify
    base_request: dict[str, Any] = field(default_factory=dict)  # clone / chain: the source job's request

    @property
    def attribute(self) -> str:
        """The label attribute the job will use (the job name when left blank, as the console does; with
        ``-ref`` appended for semantic segmentation, whose attribute must end in it)."""
        given = self.label_attribute.strip()
        if given or self.task_type not in tasktypes.TASK_TYPES:
            return given or self.name.strip()
        name = self.name.strip()
        return name + "-ref" if name and tasktypes.needs_ref_suffix(tasktypes.get(self.task_type)) else name


# --------------------------------------------------------------------------- live checks


def name_problems(name: str) -> list[str]:
    """Why ``name`` is not a valid LabelingJobName (empty list when it is)."""
    c = Checker()
    c.check_text(
        name,
        "LabelingJobName",
        min_len=1,
        max_len=63,
        pattern=NAME_PATTERN,
        pattern_help="letters, digits and hyphens, not at either end; no _ or .",
    )
    return [p.message for p in c.problems]


def attribute_problems(
    attribute: str,
    *,
    job_name: str = "",
    source_attribute: str = "",
    adjustment: bool = False,
    task_type: str | None = None,
) -> list[str]:
    """Why ``attribute`` (blank: the job name) is not a valid LabelAttributeName for this job."""
    tt = tasktypes.TASK_TYPES.get(task_type or "")
    value = attribute.strip() or job_name.strip()
    if not attribute.strip() and value and tt is not None and tasktypes.needs_ref_suffix(tt):
        value += "-ref"
    if not value:
        return ["give a label attribute name or a job name (the attribute defaults to it)"]
    found = [p.message for p in label_attribute_problems(value, task_type=tt)]
    if adjustment and source_attribute and value == source_attribute:
        found.append(f"an adjustment job needs a label attribute different from {source_attribute!r}")
    return found


# --------------------------------------------------------------------------- defaults and eligibility


def default_output(home: str, input_uri: str) -> str:
    """Where output goes unless changed: next to an S3 input (``s3://b/data/images/`` -> ``s3://b/data/output/``),
    else ``<data home>/output``."""
    value = (input_uri or "").strip()
    if is_s3(value):
        bucket, key = split_s3(value)
        folder = (key if key.endswith("/") else posixpath.dirname(key)).strip("/")
        parent = folder.rsplit("/", 1)[0] + "/" if "/" in folder else ""
        return f"s3://{bucket}/{parent}output/"
    return str(PurePosixPath(str(home)) / "output")


def upload_folder_name(job_name: str) -> str:
    """A safe folder name for a job's uploads, even for a name that is not valid yet."""
    cleaned = re.sub(r"[^A-Za-z0-9-]+", "-", job_name or "").strip("-")[:63]
    return cleaned or "unnamed"


# --------------------------------------------------------------------------- the request


def form_problems(form: JobForm) -> list[Problem]:
    """What the form itself can tell is wrong before asking gtcore (gtcore checks everything else)."""
    out: list[Problem] = []
    if form.origin not in ORIGINS:
        out.append(Problem(f"unknown form origin {form.origin!r}", field="origin"))
    if form.origin != "chain" and not form.manifest_uri.strip():
        out.append(
            Problem(
                "choose the input data: run the data setup on a folder or S3 prefix, give a manifest "
                "URI, or upload a manifest file",
                field=MANIFEST_FIELD,
            )
        )
    if not form.team.strip():
        out.append(Problem("choose the private work team that will label the data", field=f"{HUMAN}.WorkteamArn"))
    if form.task_type not in tasktypes.TASK_TYPES:
        out.append(Problem(f"unknown task type {form.task_type!r}", field=TASK_TYPE_FIELD))
        return out
    out.extend(label_problems(form.labels, form.task_type))
    if tasktypes.get(form.task_type).verifies and form.origin != "chain" and not form.verify_attribute.strip():
        out.append(
            Problem(
                "name the input manifest's attribute whose labels are to be verified (or chain from a job)",
                field="ChainedFrom.LabelAttributeName",
            )
        )
    if form.auto_labeling:
        ok, reason = auto_labeling(form.task_type, form.object_count, form.auto_min_objects)
        if not ok:
            out.append(Problem(f"cannot be switched on: {reason}", field="LabelingJobAlgorithmsConfig"))
    for i, ex in enumerate(form.examples):
        if not ex.image_uri.strip():
            out.append(
                Problem(
                    "give the image (upload it or give its URI)", field=f"{HUMAN}.Instructions.Examples[{i}].ImageUri"
                )
            )
    return out


def instructions_of(form: JobForm) -> dict[str, Any]:
    """The Instructions extension: the description doubles as the short instructions on the task screen."""
    return {
        "Short": form.description.strip(),
        "Full": form.full_instructions,
        "Examples": [
            {"Kind": e.kind, "ImageUri": e.image_uri.strip(), "Caption": e.caption.strip()} for e in form.examples
        ],
    }


def build_request(form: JobForm, *, label_config_uri: str | None) -> dict[str, Any]:
    """The CreateLabelingJob request for ``form`` (a clone or chain starts from the source job's request)."""
    req: dict[str, Any] = copy.deepcopy(form.base_request)
    if form.origin == "chain":
        req["ChainedFrom"] = {"LabelingJobName": form.source_job, "LabelAttributeName": form.source_attribute}
    elif form.verify_attribute.strip() and tasktypes.get(form.task_type).verifies:
        req["ChainedFrom"] = {"LabelAttributeName": form.verify_attribute.strip()}
    elif form.origin != "clone":  # a clone keeps the source's (an adjustment job needs it)
        req.pop("ChainedFrom", None)
    req["LabelingJobName"] = form.name.strip()
    req["LabelAttributeName"] = form.attribute
    inp = req.setdefault("InputConfig", {})
    inp["DataSource"] = {"S3DataSource": {"ManifestS3Uri": form.manifest_uri.strip()}}
    req["OutputConfig"] = {**(req.get("OutputConfig") or {}), "S3OutputPath": form.output_path.strip()}
    if label_config_uri:
        req["LabelCategoryConfigS3Uri"] = label_config_uri
    else:
        req.pop("LabelCategoryConfigS3Uri", None)
    human = {
        k: v
        for k, v in (req.get(HUMAN) or {}).items()
        if k not in ("PreHumanTaskLambdaArn", "AnnotationConsolidationConfig", "UiConfig", "TaskType")
    }
    if form.team.strip():
        human["WorkteamArn"] = workteam_arn(form.team.strip())
    else:
        human.pop("WorkteamArn", None)
    human.update(
        {
            "TaskType": form.task_type,
            "TaskTitle": form.title.strip(),
            "TaskDescription": form.description.strip(),
            "NumberOfHumanWorkersPerDataObject": int(form.workers_per_object),
            "TaskTimeLimitInSeconds": int(form.task_time_limit),
            "TaskAvailabilityLifetimeInSeconds": int(form.availability_lifetime),
            "MaxConcurrentTaskCount": int(form.max_concurrent),
            "Instructions": instructions_of(form),
        }
    )
    req[HUMAN] = human
    if form.auto_labeling and form.task_type in ALGORITHM_FAMILY:
        alg = dict(req.get("LabelingJobAlgorithmsConfig") or {})
        alg["LabelingJobAlgorithmSpecificationArn"] = algorithm_arn(form.task_type)
        if form.auto_model_uri.strip():
            alg["InitialActiveLearningModelArn"] = form.auto_model_uri.strip()
        else:
            alg.pop("InitialActiveLearningModelArn", None)
        req["LabelingJobAlgorithmsConfig"] = alg
    else:
        req.pop("LabelingJobAlgorithmsConfig", None)
    return req


def overrides_for(base: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The ``overrides`` that turn ``base`` into ``wanted`` under ``jobactions.deep_merge`` (None removes a key)."""
    out: dict[str, Any] = {}
    for key in base:
        if key not in wanted:
            out[key] = None
    for key, value in wanted.items():
        old = base.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            sub = overrides_for(old, value)
            if sub:
                out[key] = sub
        elif key not in base or old != value:
            out[key] = copy.deepcopy(value)
    return out
