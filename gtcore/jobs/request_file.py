"""The CreateLabelingJob request as a JSON file or text (``gtcore create-labeling-job --cli-input-json``, as for
``aws sagemaker create-labeling-job``): parsed with the line of a JSON error, and its relative local paths made
absolute against the file's folder."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from gtcore.core.errors import Problem, SpecError


def load_request(text: str, where: str = "") -> dict[str, Any]:
    """Parse the ``--cli-input-json`` text; bad JSON -> SpecError naming the line."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            [Problem(f"not valid JSON: {exc.msg} (column {exc.colno})", where=where, line=exc.lineno)],
            summary="the job spec is not valid JSON",
        ) from None
    if not isinstance(value, dict):
        raise SpecError([Problem("the job spec must be a JSON object", where=where)])
    return value


def _local_relative(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "://" not in value and not os.path.isabs(value)


def resolve_relative_paths(request: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """A copy of ``request`` whose relative local paths (manifest, output, labels, template, examples) are
    made absolute against ``base_dir`` (the CLI uses the job JSON file's folder)."""
    req = copy.deepcopy(request)

    def fix(parent: Any, key: str) -> None:
        if isinstance(parent, dict) and _local_relative(parent.get(key)):
            parent[key] = str((base_dir / parent[key]).absolute())

    inp = req.get("InputConfig")
    src = inp.get("DataSource") if isinstance(inp, dict) else None
    fix(src.get("S3DataSource") if isinstance(src, dict) else None, "ManifestS3Uri")
    fix(req.get("OutputConfig"), "S3OutputPath")
    fix(req, "LabelCategoryConfigS3Uri")
    human = req.get("HumanTaskConfig")
    if isinstance(human, dict):
        fix(human.get("UiConfig"), "UiTemplateS3Uri")
        instructions = human.get("Instructions")
        if isinstance(instructions, dict) and isinstance(instructions.get("Examples"), list):
            for ex in instructions["Examples"]:
                fix(ex, "ImageUri")
    return req
