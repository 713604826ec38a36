"""Validating a CreateLabelingJob request against the store and the database (before anything is created).

Checks beyond the pure spec (``gtcore.jobs.spec``): every URI is allowed by the store, the team exists,
the name is free (case-insensitively), the label category file parses and suits the task type, the
example images exist, and every line of the input manifest is valid. All problems are reported
together (``SpecError``; ``ManifestError`` when only the manifest is at fault).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.errors import ManifestError, Problem, SpecError, StorageError, ValidationError
from gtcore.core.tasktypes import TaskType
from gtcore.jobs.preflight_sources import source_kind_problems, source_problems
from gtcore.jobs.spec import LABELS_FIELD, MANIFEST_FIELD, OUTPUT_FIELD, JobSpec, check_job_spec
from gtcore.jobs.spec_checks import Checker
from gtcore.jobs.spec_human import check_human_task_config, task_type_from_template, team_from_workteam
from gtcore.manifests.jsonl import UriChecker, parse_manifest_lines, stream_lines
from gtcore.manifests.label_config import load_label_config, validate_labels
from gtcore.manifests.label_config_ner import instructions_text, ner_config_problems


def too_many(limit: int) -> str:
    """The problem of a manifest past ``Settings.max_objects`` (one wording for the form and the API)."""
    return (f"the manifest has more than {limit:,} lines, the limit of objects per labeling job "
            "(raised with GT_MAX_OBJECTS_PER_JOB, as AWS raises it on request)")  # fmt: skip


TEMPLATE_FIELD = "HumanTaskConfig.UiConfig.UiTemplateS3Uri"
EXAMPLES_FIELD = "HumanTaskConfig.Instructions.Examples"
MODEL_FIELD = "LabelingJobAlgorithmsConfig.InitialActiveLearningModelArn"


def _raw(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


@dataclass
class Plan:
    """Everything needed to insert a validated job."""

    spec: JobSpec
    request: dict[str, Any]  # as accepted: URIs normalized
    task_type: TaskType
    team_id: int
    labels: list[str]
    instructions: dict[str, Any]  # {"Short","Full","Examples"} with example URIs normalized
    lines: list[str]  # manifest lines verbatim (no line ends, no BOM)
    records: list[dict[str, Any]]


class _Validation:
    def __init__(self, ctx: Context, request: Any, where: str) -> None:
        self.ctx = ctx
        self.request = request
        self.where = where
        self.spec, self.problems = check_job_spec(request, where=where)
        self.manifest_problems: list[Problem] = []
        self.bad = {p.field for p in self.problems}
        self.label_instructions = ("", "")  # NER: the label category file's (short, full) instructions, as text

    def add(self, field: str, message: str) -> None:
        self.problems.append(Problem(message, where=self.where, field=field))

    def usable(self, field: str, value: Any) -> bool:
        return isinstance(value, str) and bool(value.strip()) and field not in self.bad

    def normalize(self, field: str, value: Any) -> str | None:
        if not self.usable(field, value):
            return None
        try:
            return str(self.ctx.storage.normalize(value))
        except StorageError as exc:
            self.add(field, str(exc))
            return None

    def name_is_free(self) -> None:
        name = _raw(self.request, "LabelingJobName")
        if not self.usable("LabelingJobName", name):
            return
        with self.ctx.db.read() as conn:
            taken = conn.execute(select(dbm.jobs.c.name).where(dbm.jobs.c.name_lower == name.lower())).scalar()
        if taken is not None:
            self.add(
                "LabelingJobName",
                f"a labeling job named {taken!r} already exists; names are unique "
                "(case-insensitively) and stay taken, so pick another",
            )

    def team_id(self) -> int | None:
        field = "HumanTaskConfig.WorkteamArn"
        raw = _raw(self.request, "HumanTaskConfig", "WorkteamArn")
        if not self.usable(field, raw):
            return None
        team, problem = team_from_workteam(raw)
        if team is None:
            return None
        with self.ctx.db.read() as conn:
            tid = conn.execute(select(dbm.teams.c.id).where(dbm.teams.c.name_lower == team.lower())).scalar()
        if tid is None:
            self.add(field, f"there is no team named {team!r}; create the team first")
        return None if tid is None else int(tid)

    def task_type(self) -> TaskType | None:
        found = self.spec.task_type if self.spec else None
        if found is None and isinstance(_raw(self.request, "HumanTaskConfig"), dict):
            found = check_human_task_config(Checker(), self.request["HumanTaskConfig"]).task_type
        template = _raw(self.request, "HumanTaskConfig", "UiConfig", "UiTemplateS3Uri")
        if not self.usable(TEMPLATE_FIELD, template):
            return found
        uri = self.normalize(TEMPLATE_FIELD, template)  # also when unused: it must be an allowed storage URI
        if found is not None or uri is None:
            return found
        try:
            found = task_type_from_template(self.ctx.storage.read_text(uri))
        except StorageError as exc:
            self.add(TEMPLATE_FIELD, f"cannot read the template to tell the task type: {exc}")
            return None
        if found is None:
            self.add(
                TEMPLATE_FIELD,
                "the template uses no built-in crowd element (crowd-bounding-box, "
                "crowd-image-classifier...); give PreHumanTaskLambdaArn or TaskType",
            )
        return found

    def labels(self, uri: str | None, task_type: TaskType | None, required: list[str] | None) -> list[str]:
        if uri is None:
            return []
        try:
            config = load_label_config(self.ctx.storage, uri)
            labels = config.labels
        except ValidationError as exc:
            self.problems.extend(
                Problem(p.message, where=p.where or uri, line=p.line, field=p.field or LABELS_FIELD)
                for p in exc.problems
            )
            return []
        except StorageError as exc:
            self.add(LABELS_FIELD, str(exc))
            return []
        if task_type is not None:
            self.problems.extend(
                Problem(p.message, where=uri, field=p.field) for p in validate_labels(labels, task_type, where="labels")
            )
        if task_type is not None and task_type.marks_spans:
            self.problems.extend(ner_config_problems(config.raw, uri))
            self.label_instructions = instructions_text(config.raw)
        missing = [x for x in (required or []) if x not in labels]
        if missing:
            self.add(LABELS_FIELD, f"an adjustment job keeps the original job's labels; missing: {', '.join(missing)}")
        return labels

    def mask_model(self, uri: str | None, task_type: TaskType | None) -> None:
        """Semantic segmentation starts only from a model this product saved for it (no ONNX contract for masks)."""
        if uri is None or task_type is None or not task_type.paints_mask:
            return
        m = dbm.autolabel_models
        with self.ctx.db.read() as conn:
            found = conn.execute(select(m.c.id).where(m.c.uri == uri, m.c.task_type == task_type.name).limit(1)).first()
        if found is None:
            self.add(
                MODEL_FIELD,
                f"{uri} is not a saved semantic-segmentation model of this product: semantic segmentation jobs use "
                "the built-in segmenter (an ONNX model is not supported for them) or start from the "
                "FinalActiveLearningModelArn of an earlier semantic-segmentation job",
            )

    def examples(self, accepted: dict[str, Any]) -> None:
        examples = _raw(accepted, "HumanTaskConfig", "Instructions", "Examples")
        for i, ex in enumerate(examples if isinstance(examples, list) else []):
            field = f"{EXAMPLES_FIELD}[{i}].ImageUri"
            uri = self.normalize(field, _raw(ex, "ImageUri"))
            if uri is None:
                continue
            try:
                found = self.ctx.storage.exists(uri)
            except StorageError as exc:
                self.add(field, str(exc))
                continue
            if not found:
                self.add(field, f"example image {uri} does not exist")
            ex["ImageUri"] = uri

    def manifest(self, uri: str | None, task_type: TaskType | None) -> tuple[list[str], list[dict[str, Any]]]:
        if uri is None:
            return [], []
        storage = self.ctx.storage
        try:
            lines = stream_lines(storage, uri)  # a huge line is never held whole
        except StorageError as exc:
            self.add(MANIFEST_FIELD, f"cannot read the input manifest: {exc}")
            return [], []
        # past the limit the job cannot be created: check every line, but build no records (bounded memory)
        limit = self.ctx.settings.max_objects
        keep = len(lines) - (1 if lines and not lines[-1] else 0) <= limit
        records, problems = parse_manifest_lines(lines, where=uri, check_uri=UriChecker(storage.normalize), keep=keep)
        self.manifest_problems.extend(problems)
        if not keep or len(records) + len(problems) > limit:
            self.manifest_problems.append(Problem(too_many(limit), uri))
        if keep and task_type is not None and task_type.text and problems:  # the text rules name their lines too
            bad = {p.line for p in problems if p.line is not None}
            end = len(lines) - (1 if lines and not lines[-1] else 0)
            numbers = [n for n in range(1, end + 1) if n not in bad]
            self.manifest_problems.extend(source_kind_problems(storage, records, task_type, uri, numbers))
            self.manifest_problems.sort(key=lambda p: (p.line is None, p.line or 0))
        if not keep or problems or not lines or not isinstance(lines[0], str):
            return [], []
        self.manifest_problems.extend(source_kind_problems(storage, records, task_type, uri))
        text = [str(x) for x in lines[: len(records)]]
        if text and text[0].startswith("\ufeff"):
            text[0] = text[0][1:]
        return [x[:-1] if x.endswith("\r") else x for x in text], records


def validate_create(ctx: Context, request: Any, *, where: str = "", required_labels: list[str] | None = None) -> Plan:
    """Every check of a CreateLabelingJob request; raises SpecError / ManifestError with all problems."""
    v = _Validation(ctx, request, where)
    v.name_is_free()
    team_id = v.team_id()
    accepted: dict[str, Any] = copy.deepcopy(request) if isinstance(request, dict) else {}
    manifest = v.normalize(MANIFEST_FIELD, _raw(request, "InputConfig", "DataSource", "S3DataSource", "ManifestS3Uri"))
    output = v.normalize(OUTPUT_FIELD, _raw(request, "OutputConfig", "S3OutputPath"))
    labels_uri = v.normalize(LABELS_FIELD, _raw(request, "LabelCategoryConfigS3Uri"))
    task_type = v.task_type()
    labels = v.labels(labels_uri, task_type, required_labels)
    v.examples(accepted)
    model_uri = v.normalize(MODEL_FIELD, _raw(request, "LabelingJobAlgorithmsConfig", "InitialActiveLearningModelArn"))
    v.mask_model(model_uri, task_type)
    lines, records = v.manifest(manifest, task_type)
    if task_type is not None and v.spec is not None and records and not v.manifest_problems:
        v.manifest_problems.extend(
            source_problems(
                records, task_type, v.spec.chained_from_attribute, str(manifest), ctx.settings.max_segmentation_objects
            )
        )
    least = ctx.settings.autolabel_min_objects
    if isinstance(_raw(request, "LabelingJobAlgorithmsConfig"), dict) and records and len(records) < least:
        v.add(
            "LabelingJobAlgorithmsConfig",
            f"automated data labeling needs at least {least:,} objects; the input manifest has {len(records):,} "
            "(remove LabelingJobAlgorithmsConfig to have people label them all)",
        )
    if v.problems:
        raise SpecError(
            v.problems + v.manifest_problems,
            summary=f"the labeling job was not created: {len(v.problems + v.manifest_problems)} problem(s)",
        )
    if v.manifest_problems:
        raise ManifestError(
            v.manifest_problems,
            summary=f"the labeling job was not created: {len(v.manifest_problems)} problem(s) "
            f"in the input manifest {manifest}",
        )
    assert v.spec is not None and task_type is not None and team_id is not None
    assert manifest is not None and output is not None and labels_uri is not None
    accepted["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] = manifest
    accepted["OutputConfig"]["S3OutputPath"] = output
    accepted["LabelCategoryConfigS3Uri"] = labels_uri
    if model_uri is not None:
        accepted["LabelingJobAlgorithmsConfig"]["InitialActiveLearningModelArn"] = model_uri
    instructions = copy.deepcopy(v.spec.instructions)
    if not instructions["Short"] and not instructions["Full"]:  # NER: the label file's (Ground Truth's place)
        instructions["Short"], instructions["Full"] = v.label_instructions
    for ex, given in zip(
        instructions["Examples"], _raw(accepted, "HumanTaskConfig", "Instructions", "Examples") or [], strict=False
    ):
        ex["ImageUri"] = given["ImageUri"]
    return Plan(
        spec=v.spec,
        request=accepted,
        task_type=task_type,
        team_id=team_id,
        labels=labels,
        instructions=instructions,
        lines=lines,
        records=records,
    )
