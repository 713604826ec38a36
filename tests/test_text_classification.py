"""Text classification (single and multi-label) end to end, on SQLite and PostgreSQL: jobs over inline ``source``
lines and ``source-ref`` text files, answered through the queue by several workers, consolidated by the EM, written
as Ground Truth writes them (types ``groundtruth/text-classification`` and ``-multilabel``), worker-response files,
chaining and cloning; every bad input refused with line and field and nothing stored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gtcore.consolidation.classification import dawid_skene
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import tasktypes
from gtcore.core.errors import ManifestError, SpecError, ValidationError
from gtcore.jobs import api as jobs
from gtcore.manifests.augmented import read_augmented
from gtcore.manifests.text_sources import MAX_TEXT_CHARS, read_text_source
from gtcore.output import records
from gtcore.output import writer as output
from gtcore.queue import api as queue
from gtcore.queue.answer_checks import validate_answer
from tests.fixtures.core import make_user, run_work
from tests.fixtures.jobs import JobFactory

LABELS = ["Positive", "Marketing", "Negative"]
TEXTS = ["I love this phone ❤️", "Buy 2 get 1 free! https://x.test/?a=1&b=2", "Worst support ever, don't buy."]


def crew(ctx: Context, team_id: int, n: int, tag: str = "w") -> list[Any]:
    return [make_user(ctx.db, f"{tag}{k}@example.test", ("worker",), (team_id,)) for k in range(n)]


def drain(ctx: Context, worker: Any, job_id: int, answer_for: Any) -> None:
    while (task := queue.claim_next(ctx, worker, job_id)) is not None:
        done = queue.submit(ctx, worker, task.assignment_id, answer_for(task)).job_done
        run_work(ctx)
        if done:
            return


def job_row(ctx: Context, job_id: int) -> Any:
    with ctx.db.read() as conn:
        return conn.execute(select(dbm.jobs).where(dbm.jobs.c.id == job_id)).one()


def text_job(factory: JobFactory, **kw: Any) -> Any:
    kw.setdefault("labels", LABELS)
    kw.setdefault("task_type", "TextClassification")
    kw.setdefault("lines", [{"source": t, "id": i} for i, t in enumerate(TEXTS)])
    return factory.create(**kw)


def test_catalogue_has_the_text_types() -> None:
    single, multi = tasktypes.get("TextClassification"), tasktypes.get("TextMultiClassification")
    assert (single.output_type, multi.output_type) == (
        "groundtruth/text-classification",
        "groundtruth/text-classification-multilabel",
    )
    assert tasktypes.from_lambda_arn("arn:aws:lambda:us-east-1:432418664414:function:PRE-TextMultiClass") is single
    assert tasktypes.from_lambda_arn("arn:aws:lambda:us-east-1:1:function:ACS-TextMultiClassMultiLabel") is multi
    assert single in tasktypes.CREATABLE and multi in tasktypes.CREATABLE
    assert (single.max_labels, multi.max_labels) == (30, 50)  # reference section 9 (console limit / API limit)
    with pytest.raises(ValidationError):
        validate_answer(single, LABELS, {"crowd-classifier": {"label": "Nope"}})
    assert validate_answer(multi, LABELS, {"crowd-classifier-multi-select": {"labels": ["Negative"]}}) == {
        "crowd-classifier-multi-select": {"labels": ["Negative"]}
    }


def test_single_label_three_workers(any_ctx: Context, any_job_factory: JobFactory) -> None:
    made = text_job(any_job_factory, name="tweets", workers_per_object=3, label_attribute="sentiment")
    workers = crew(any_ctx, made.team_id, 3)
    votes = {0: ["Positive"] * 3, 1: ["Marketing", "Marketing", "Negative"], 2: ["Negative"] * 3}
    seen: dict[int, str] = {}

    def answer(task: Any, k: int) -> dict[str, Any]:
        assert task.task_type == "TextClassification" and task.source_ref is None
        seen[task.object_idx] = task.line["source"]
        return {"crowd-classifier": {"label": votes[task.object_idx][k]}}

    for k, w in enumerate(workers):
        drain(any_ctx, w, made.job_id, lambda t, k=k: answer(t, k))
    assert seen == dict(enumerate(TEXTS))
    row = job_row(any_ctx, made.job_id)
    assert row.status == "Completed"
    uri = output.output_manifest_uri(row)
    text = Path(uri).read_text(encoding="utf-8")
    lines = text.splitlines()
    em = dawid_skene([[(w.worker_id, LABELS.index(v)) for w, v in zip(workers, votes[i], strict=True)]
                      for i in range(3)], 3)  # fmt: skip
    for i, line in enumerate(lines):
        rec = json.loads(line)
        meta = rec["sentiment-metadata"]
        assert list(rec) == ["source", "id", "sentiment", "sentiment-metadata"]
        assert rec["source"] == TEXTS[i] and rec["sentiment"] == em[i].label
        assert list(meta) == ["confidence", "job-name", "class-name", "human-annotated", "creation-date", "type"]
        assert meta["type"] == "groundtruth/text-classification" and meta["class-name"] == LABELS[em[i].label]
        assert meta["confidence"] == em[i].confidence <= 0.95
        assert line.startswith(
            json.dumps({"source": TEXTS[i], "id": i}, ensure_ascii=False, separators=(",", ":"))[:-1]
        )
    assert "❤️" in text  # raw UTF-8
    assert read_augmented(any_ctx.storage, uri).problems == []
    # worker responses: one file per object, every worker's crowd-classifier answer
    folder = Path(row.output_path) / row.name / "annotations" / "worker-response"
    files = sorted(folder.rglob("*.json"))
    assert len(files) == 3
    body = json.loads(files[0].read_text())
    assert [a["answerContent"] for a in body["answers"]] == [
        {"crowd-classifier": {"label": v}} for v in votes[int(files[0].parent.name)]
    ]
    req = next((Path(row.output_path) / row.name / "annotations").rglob("consolidation-request/**/*.json"))
    assert json.loads(req.read_text())[0]["dataObject"] == {"content": TEXTS[0]}


def test_multi_label_text(any_ctx: Context, any_job_factory: JobFactory) -> None:
    made = text_job(any_job_factory, name="topics", workers_per_object=2, task_type="TextMultiClassification",
                    label_attribute="topics")  # fmt: skip
    workers = crew(any_ctx, made.team_id, 2)
    chosen = {0: [["Positive"], ["Positive"]], 1: [["Marketing", "Positive"], ["Marketing", "Positive"]],
              2: [["Negative"], ["Negative"]]}  # fmt: skip
    for k, w in enumerate(workers):
        drain(any_ctx, w, made.job_id,
              lambda t, k=k: {"crowd-classifier-multi-select": {"labels": chosen[t.object_idx][k]}})  # fmt: skip
    row = job_row(any_ctx, made.job_id)
    recs = [json.loads(x) for x in Path(output.output_manifest_uri(row)).read_text().splitlines()]
    assert [r["topics"] for r in recs] == [[0], [0, 1], [2]]
    meta = recs[1]["topics-metadata"]
    assert list(meta) == ["class-map", "confidence-map", "type", "job-name", "human-annotated", "creation-date"]
    assert meta["type"] == "groundtruth/text-classification-multilabel"
    assert meta["class-map"] == {"0": "Positive", "1": "Marketing"}


def test_source_ref_text_files(ctx: Context, job_factory: JobFactory, tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("첫 번째 문서\nsecond line", encoding="utf-8")
    (folder / "b.txt").write_bytes("\ufeffשלום עולם".encode())
    made = text_job(job_factory, name="files", lines=[{"source-ref": str(folder / n)} for n in ("a.txt", "b.txt")])
    w = crew(ctx, made.team_id, 1)[0]
    task = queue.claim_next(ctx, w, made.job_id)
    assert task is not None and task.source_ref == str(folder / "a.txt")
    assert read_text_source(ctx.storage, task.source_ref) == "첫 번째 문서\nsecond line"
    assert read_text_source(ctx.storage, str(folder / "b.txt")) == "שלום עולם"  # BOM dropped
    queue.submit(ctx, w, task.assignment_id, {"crowd-classifier": {"label": "Positive"}})
    drain(ctx, w, made.job_id, lambda t: {"crowd-classifier": {"label": "Negative"}})
    row = job_row(ctx, made.job_id)
    recs = [json.loads(x) for x in Path(output.output_manifest_uri(row)).read_text().splitlines()]
    assert [(r["source-ref"], r["files"], r["files-metadata"]["confidence"]) for r in recs] == [
        (str(folder / "a.txt"), 0, 0),
        (str(folder / "b.txt"), 2, 0),
    ]


def _refused(ctx: Context, factory: JobFactory, lines: list[Any], name: str) -> list[Any]:
    before = _job_count(ctx)
    with pytest.raises((ManifestError, SpecError)) as info:
        text_job(factory, name=name, lines=lines)
    assert _job_count(ctx) == before  # nothing stored
    return info.value.problems


def _job_count(ctx: Context) -> int:
    with ctx.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(dbm.jobs)).scalar() or 0)


def test_bad_text_lines_are_named(any_ctx: Context, any_job_factory: JobFactory, tmp_path: Path) -> None:
    bad_utf8 = tmp_path / "bad.txt"
    bad_utf8.write_bytes(b"ok line\nbad \xff byte\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    outside = "/etc/hostname"
    lines: list[Any] = [
        {"source": "fine"},
        {"source": ""},
        {"source": "   \t"},
        {"source": "x" * (MAX_TEXT_CHARS + 1)},
        {"source-ref": str(bad_utf8)},
        {"source-ref": str(empty)},
        {"source-ref": outside},
        {"source-ref": str(tmp_path / "missing.txt")},
        {"source": 12},
        {"text": "no source"},
    ]
    problems = _refused(any_ctx, any_job_factory, lines, "bad-text")
    by_line = {p.line: p for p in problems if p.line}
    assert set(by_line) >= {2, 3, 4, 5, 6, 7, 8, 9, 10}, [str(p) for p in problems]
    assert by_line[2].field == "source" and "empty" in by_line[2].message
    assert by_line[3].field == "source" and "whitespace" in by_line[3].message
    assert by_line[4].field == "source" and "20,000" in by_line[4].message
    assert by_line[5].field == "source-ref" and "0xff" in by_line[5].message
    assert "line 2 of the file" in str(by_line[5])
    assert by_line[6].field == "source-ref" and "empty" in by_line[6].message
    assert by_line[7].field == "source-ref" and outside in str(by_line[7])
    assert by_line[8].field == "source-ref"
    assert by_line[9].field == "source"
    assert 1 not in by_line


def test_text_manifest_refused_for_an_image_type(ctx: Context, job_factory: JobFactory) -> None:
    before = _job_count(ctx)
    with pytest.raises(ManifestError) as info:
        job_factory.create(name="img", task_type="ImageClassification", lines=[{"source": "a text"}])
    assert "need source-ref" in str(info.value) and _job_count(ctx) == before


def test_chain_and_clone(ctx: Context, job_factory: JobFactory) -> None:
    made = text_job(job_factory, name="first", label_attribute="sent")
    w = crew(ctx, made.team_id, 1)[0]
    task = queue.claim_next(ctx, w, made.job_id)
    assert task is not None
    queue.submit(ctx, w, task.assignment_id, {"crowd-classifier": {"label": "Positive"}})
    jobs.stop_labeling_job(ctx, job_factory.actor, "first")
    run_work(ctx)
    same = jobs.chain_labeling_job(ctx, job_factory.actor, "first", "first-more")
    assert same.total_objects == 3 and job_row(ctx, same.job_id).label_attribute == "sent"
    drain(ctx, w, same.job_id, lambda t: {"crowd-classifier": {"label": "Negative"}})
    row = job_row(ctx, same.job_id)
    recs = [json.loads(x) for x in Path(output.output_manifest_uri(row)).read_text().splitlines()]
    assert [r["sent"] for r in recs] == [0, 2, 2]  # the first answer kept, the other two labeled now
    assert [r["source"] for r in recs] == TEXTS
    again = jobs.chain_labeling_job(ctx, job_factory.actor, "first-more", "topic", label_attribute_name="topic")
    assert job_row(ctx, again.job_id).task_type == "TextClassification"
    clone = jobs.clone_labeling_job(ctx, job_factory.actor, "first", "first-clone")
    assert job_row(ctx, clone.job_id).task_type == "TextClassification" and clone.total_objects == 3


def test_reference_example_line_byte_for_byte() -> None:
    """The reference's real text-classification line (1.4, blog by mkianpour 2019): our record for the same
    answer, with its job name, creation date and confidence, is the same bytes."""
    real = (
        '{"source":"…","hashtag-positivity-label-clone":1,"hashtag-positivity-label-clone-metadata":'
        '{"confidence":0.62,"job-name":"labeling-job/hashtag-positivity-label-clone","class-name":"Marketing",'
        '"human-annotated":"yes","creation-date":"2019-01-08T18:53:17.309395","type":"groundtruth/text-classification"}}'
    )
    line = json.loads(real)
    spec = records.RecordSpec(
        task_type=tasktypes.TEXT_CLASSIFICATION,
        labels=["Positive", "Marketing", "Negative"],
        label_attribute="hashtag-positivity-label-clone",
        job_name="hashtag-positivity-label-clone",
    )
    source = {"source": line["source"]}
    item = records.ObjectAnswers(0, source, [records.WorkerAnswer("w1", {"crowd-classifier": {"label": "Marketing"}})])
    out = records.build_records(spec, [item], clock=lambda: "2019-01-08T18:53:17.309395")[0]
    assert out["hashtag-positivity-label-clone-metadata"]["confidence"] == 0  # one worker: 0, as Ground Truth
    out["hashtag-positivity-label-clone-metadata"]["confidence"] = 0.62  # the real job's EM figure
    ours = json.dumps({**source, **out}, ensure_ascii=False, separators=(",", ":"))
    assert ours == real
