"""Re-consolidate an existing Ground Truth job from its own files (``gtcore consolidate``).

Reads the job's worker-response tree (groundtruth-reference.md §2)::

    <job>/annotations/worker-response/iteration-<N>/<datasetObjectId>/<YYYY-MM-DD_HH:MM:SS>.json

in any iteration layout: every ``*.json`` file below the given folder whose parent folder is a
``datasetObjectId`` (digits) counts, whatever the iterations are called or how deep they are. Each file is
``{"answers": [{"workerId", "answerContent", ...}, ...]}``. A worker's answer to an object that appears in
more than one file (several iterations, a retried write) counts once: the one in the last file in key order.
``datasetObjectId`` is the line number (from 0) of the manifest given with ``--manifest`` (input manifest, or
an output manifest: its lines are the input lines plus label pairs). The output manifest is that manifest with
``<attr>`` / ``<attr>-metadata`` set (replaced if present) on every line with answers, by this project's
consolidation (``gtcore.output.records.build_records``); other lines are written unchanged.

Labels (class index order): a label category config file if given; otherwise the class-map / class-name the
manifest's ``<attr>-metadata`` already carries, by index, then any other label in the answers in order of
first appearance. The job name (for ``job-name``) defaults to the folder above ``annotations``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gtcore.core import tasktypes
from gtcore.core.errors import Problem, ValidationError
from gtcore.manifests.jsonl import dumps_line
from gtcore.manifests.label_config import load_label_config
from gtcore.output.records import ObjectAnswers, RecordSpec, WorkerAnswer, build_records

_OBJECT_ID = re.compile(r"^\d+$")


@dataclass
class Reconsolidated:
    output_uri: str
    lines: int
    consolidated: int
    answers: int
    response_files: int
    labels: list[str]


def read_worker_responses(storage: Any, root: str) -> tuple[dict[int, list[WorkerAnswer]], int]:
    """{datasetObjectId: answers (one per worker)} and the number of files read."""
    per: dict[int, dict[str, WorkerAnswer]] = {}
    files = 0
    problems: list[Problem] = []
    for uri in storage.list(root.rstrip("/") + "/", suffixes=(".json",)):
        parts = uri.rstrip("/").split("/")
        if len(parts) < 2 or not _OBJECT_ID.match(parts[-2]):
            continue
        files += 1
        try:
            doc = json.loads(storage.read_text(uri))
            answers = doc["answers"]
            if not isinstance(answers, list):
                raise TypeError("answers is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(Problem(f"not a worker-response file ({exc})", where=uri))
            continue
        slot = per.setdefault(int(parts[-2]), {})
        for k, a in enumerate(answers):
            if not isinstance(a, Mapping) or not isinstance(a.get("workerId"), str):
                problems.append(Problem("answer without a workerId", where=uri, field=f"answers[{k}]"))
                continue
            content = a.get("answerContent")
            if not isinstance(content, Mapping):
                problems.append(Problem("answer without an answerContent object", where=uri, field=f"answers[{k}]"))
                continue
            slot.pop(a["workerId"], None)  # the later file wins, and keeps the answer order of the later file
            slot[a["workerId"]] = WorkerAnswer(a["workerId"], content)
    if problems:
        raise ValidationError(problems, summary=f"{root}: {len(problems)} bad worker-response file(s) or answer(s)")
    return {idx: list(v.values()) for idx, v in sorted(per.items())}, files


def _labels_from(lines: Sequence[Mapping[str, Any]], attr: str, answers: Mapping[int, list[WorkerAnswer]],
                 element: str) -> list[str]:  # fmt: skip
    by_index: dict[int, str] = {}
    for line in lines:
        meta = line.get(attr + "-metadata")
        if not isinstance(meta, Mapping):
            continue
        for key, name in (meta.get("class-map") or {}).items():
            if str(key).isdigit() and isinstance(name, str):
                by_index.setdefault(int(key), name)
        if isinstance(meta.get("class-name"), str) and type(line.get(attr)) is int:
            by_index.setdefault(line[attr], meta["class-name"])
    labels = [by_index[i] for i in sorted(by_index)]
    seen = set(labels)
    for idx in sorted(answers):
        for a in answers[idx]:
            el = a.content.get(element)
            if not isinstance(el, Mapping):
                continue
            names = [b.get("label") for b in el.get("boundingBoxes") or [] if isinstance(b, Mapping)]
            names += [el.get("label")] + list(el.get("labels") or [])
            for n in names:
                if isinstance(n, str) and n not in seen:
                    seen.add(n)
                    labels.append(n)
    return labels


def reconsolidate(
    storage: Any,
    *,
    manifest_uri: str,
    responses_uri: str,
    label_attribute: str,
    task_type: str,
    output_uri: str,
    label_config_uri: str | None = None,
    job_name: str | None = None,
) -> Reconsolidated:
    tt = tasktypes.get(task_type)
    lines = [json.loads(t) for t in storage.read_text(manifest_uri).splitlines() if t.strip()]
    answers, files = read_worker_responses(storage, responses_uri)
    outside = [idx for idx in answers if idx >= len(lines)]
    if outside:
        raise ValidationError(
            [Problem(f"datasetObjectId {i} has no line in the manifest ({len(lines)} lines)", where=responses_uri)
             for i in outside[:20]],
            summary=f"{responses_uri}: worker responses for objects the manifest does not have",
        )  # fmt: skip
    if label_config_uri:
        labels = list(load_label_config(storage, label_config_uri).labels)
    else:
        labels = _labels_from(lines, label_attribute, answers, tt.answer_element)
    if job_name is None:
        parts = responses_uri.rstrip("/").split("/")
        job_name = parts[-3] if len(parts) >= 3 and parts[-2] == "annotations" else "reconsolidated"
    spec = RecordSpec(tt, labels, label_attribute, job_name)
    items = [ObjectAnswers(idx, lines[idx], ans) for idx, ans in answers.items()]
    records = build_records(spec, items)
    out = []
    for idx, line in enumerate(lines):
        rec = records.get(idx)
        if rec is None:
            out.append(dumps_line(line))
        else:
            merged = dict(line)
            merged.pop(label_attribute, None)
            merged.pop(label_attribute + "-metadata", None)
            merged.update(rec)
            out.append(dumps_line(merged))
    storage.write_text(output_uri, "".join(s + "\n" for s in out))
    return Reconsolidated(output_uri, len(lines), len(records), sum(len(a) for a in answers.values()), files, labels)
