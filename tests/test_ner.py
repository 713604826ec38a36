"""Named entity recognition: the job spec (HumanTaskUiArn, the label file's required instructions), answers checked
against the text at submit (offsets in code points: emoji, combining marks, Korean, right-to-left), span
consolidation by Ground Truth's documented rule, the output record byte for byte against a published line, and
jobs end to end on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gtcore.consolidation.spans import Span, consolidate_spans, jaccard
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import tasktypes
from gtcore.core.errors import SpecError, ValidationError
from gtcore.output import records
from gtcore.output import writer as output
from gtcore.queue import api as queue
from gtcore.queue.answer_checks import validate_answer
from gtcore.queue.answer_checks_spans import span_problems
from tests.fixtures.core import make_user, run_work
from tests.fixtures.jobs import JobFactory

NER = tasktypes.NAMED_ENTITY_RECOGNITION
LABELS = ["Date", "Location", "Person"]
UI_ARN = "arn:aws:sagemaker:us-east-1:394669845002:human-task-ui/NamedEntityRecognition"
INSTRUCTIONS = {
    "shortInstruction": "<p>Mark <b>people</b> &amp; places</p>",
    "fullInstruction": "<ul><li>Dates too</li></ul>",
}


def ent(label: str, start: int, end: int) -> dict[str, Any]:
    return {"endOffset": end, "label": label, "startOffset": start}


def answer(*ents: dict[str, Any]) -> dict[str, Any]:
    return {"crowd-entity-annotation": {"entities": list(ents)}}


def write_config(factory: JobFactory, name: str, *, instructions: Any = INSTRUCTIONS) -> Path:
    doc: dict[str, Any] = {"document-version": "2018-11-28", "labels": [{"label": x} for x in LABELS]}
    if instructions is not None:
        doc["instructions"] = instructions
    path = factory.root / "labels" / f"{name}-ner.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def ner_request(factory: JobFactory, name: str, lines: list[dict[str, Any]], *, workers: int = 1,
                instructions: Any = INSTRUCTIONS) -> dict[str, Any]:  # fmt: skip
    req = factory.request(name=name, task_type="NamedEntityRecognition", labels=LABELS, lines=lines,
                          workers_per_object=workers)  # fmt: skip
    req["LabelCategoryConfigS3Uri"] = str(write_config(factory, name, instructions=instructions))
    human = req["HumanTaskConfig"]
    human["UiConfig"] = {"HumanTaskUiArn": UI_ARN}
    return req


def create(factory: JobFactory, name: str, lines: list[dict[str, Any]], **kw: Any) -> int:
    from gtcore.jobs import api as jobs

    return jobs.create_labeling_job(factory.ctx, factory.actor, ner_request(factory, name, lines, **kw)).job_id


def job_count(ctx: Context) -> int:
    with ctx.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(dbm.jobs)).scalar() or 0)


# --------------------------------------------------------------------------- spec and label file


def test_ner_needs_instructions_in_the_label_file(ctx: Context, job_factory: JobFactory) -> None:
    from gtcore.jobs import api as jobs

    cases = [
        (None, "instructions"),
        ({"shortInstruction": "x"}, "instructions.fullInstruction"),
        ({"shortInstruction": "x" * 300, "fullInstruction": "y"}, "instructions.shortInstruction"),
    ]
    for bad, field in cases:
        with pytest.raises(SpecError) as info:
            jobs.create_labeling_job(ctx, job_factory.actor, ner_request(job_factory, "n1", [{"source": "a"}],
                                                                         instructions=bad))  # fmt: skip
        assert field in {p.field for p in info.value.problems}, info.value
    assert job_count(ctx) == 0
    job_id = create(job_factory, "n1", [{"source": "Bob lives in Paris."}])
    described = jobs.describe_labeling_job(ctx, job_factory.actor, "n1")
    assert described["HumanTaskConfig"]["UiConfig"] == {"HumanTaskUiArn": UI_ARN}
    worker = make_user(ctx.db, "w@example.test", ("worker",), (job_factory.team(),))
    task = queue.claim_next(ctx, worker, job_id)
    assert task is not None and task.task_type == "NamedEntityRecognition"
    assert task.instructions["Short"] == "Mark people & places"  # the label file's HTML as text
    assert task.instructions["Full"] == "Dates too"


def test_other_human_task_ui_arns_are_refused(ctx: Context, job_factory: JobFactory) -> None:
    from gtcore.jobs import api as jobs

    req = ner_request(job_factory, "n2", [{"source": "a"}])
    req["HumanTaskConfig"]["UiConfig"] = {"HumanTaskUiArn": UI_ARN.replace("NamedEntityRecognition", "VideoTracking")}
    with pytest.raises(SpecError, match="'VideoTracking' is not available here"):
        jobs.create_labeling_job(ctx, job_factory.actor, req)


# --------------------------------------------------------------------------- answers against the text


@pytest.mark.parametrize(
    ("text", "span", "piece"),
    [
        ("I ❤️ 🐍 Python", (7, 13), "Python"),  # ❤️ is 2 code points (heart + VS16), 🐍 one (2 UTF-16 units)
        ("Cafe\u0301 na\u0301", (0, 5), "Cafe\u0301"),  # e + combining acute: 5 code points
        ("서울에 사는 김민수", (7, 10), "김민수"),
        ("שלום דוד כהן", (5, 12), "דוד כהן"),
        ("مرحبا أحمد", (6, 10), "أحمد"),
    ],
)
def test_offsets_are_code_points(text: str, span: tuple[int, int], piece: str) -> None:
    assert text[span[0] : span[1]] == piece
    assert span_problems([ent("Person", *span)], text) == []


def test_spans_that_do_not_fit_are_named() -> None:
    text = "Bob\nMary Smith e\u0301 👩\u200d💻"
    bad = [
        ent("Person", 0, 8),  # crosses the line break
        ent("Person", 4, 99),  # past the end
        ent("Person", 3, 4),  # only the line break... crosses it
        ent("Person", 16, 18),  # starts on the combining accent (e is 15, its accent 16)
        ent("Person", 18, 19),  # ends on the zero-width joiner: inside the emoji sequence 👩‍💻
        ent("Person", 8, 9),  # whitespace only
    ]
    problems = span_problems(bad, text)
    fields = [p.field for p in problems]
    assert "crowd-entity-annotation.entities[0]" in fields and "crosses a line break at offset 3" in str(problems[0])
    assert "crowd-entity-annotation.entities[1].endOffset" in fields
    assert "crowd-entity-annotation.entities[3].startOffset" in fields
    assert any(f.startswith("crowd-entity-annotation.entities[4]") for f in fields)
    assert "crowd-entity-annotation.entities[5]" in fields


def test_answer_shape() -> None:
    with pytest.raises(ValidationError) as info:
        validate_answer(NER, LABELS, answer(ent("Nope", 0, 1), {"startOffset": True, "endOffset": 2, "label": "Date"},
                                            ent("Date", 3, 3), ent("Date", 0, 2), ent("Date", 0, 2)))  # fmt: skip
    fields = {p.field for p in info.value.problems}
    assert fields == {
        "crowd-entity-annotation.entities[0].label",
        "crowd-entity-annotation.entities[1].startOffset",
        "crowd-entity-annotation.entities[2].endOffset",
        "crowd-entity-annotation.entities[4]",
    }
    overlapping = answer(ent("Location", 0, 8), ent("Person", 0, 3))
    assert validate_answer(NER, LABELS, overlapping) == overlapping  # overlaps are allowed, as in Ground Truth


# --------------------------------------------------------------------------- consolidation


def test_consolidation_rule() -> None:
    w = [
        [Span("Person", 0, 3), Span("Location", 56, 67)],
        [Span("Person", 0, 3), Span("Location", 56, 66), Span("Date", 16, 22)],
        [Span("Location", 0, 3), Span("Location", 55, 67)],
    ]
    merged = consolidate_spans(w, seed=1)
    assert [(m.label, m.start, m.end) for m in merged] == [("Person", 0, 3), ("Location", 56, 67)]
    # Date: one worker of three, dropped; Location bounds: no clear mode -> medians (56, 67)
    person, location = merged
    assert person.support == 3 and person.confidence == round(1 * (2 / 3) * 1.0, 2)
    assert 0 < location.confidence <= 0.95
    one = consolidate_spans([[Span("Date", 16, 22), Span("Person", 0, 3)]])
    assert [(m.label, m.start, m.end, m.confidence) for m in one] == [("Date", 16, 22, 0), ("Person", 0, 3, 0)]
    tie = [[Span("Person", 0, 5)], [Span("Location", 0, 5)]]
    first = consolidate_spans(tie, seed=7)
    assert first == consolidate_spans(tie, seed=7) and first[0].label in ("Person", "Location")
    # a worker's own overlapping spans stay apart
    nested = consolidate_spans([[Span("Location", 0, 8), Span("Person", 0, 3)], [Span("Location", 0, 8)]])
    assert [(m.label, m.start, m.end) for m in nested] == [("Location", 0, 8)]
    assert jaccard(Span("a", 0, 4), Span("a", 2, 6)) == pytest.approx(2 / 6)


def test_record_matches_a_published_line_byte_for_byte() -> None:
    """The output line of the Comprehend customer-scripts README (reference 1.8), for one worker who marked the
    same entities in the same order: the same bytes once its confidences (an earlier Ground Truth's) are put in."""
    real = (
        '{"source":"Bob was born on Jan 1 1990 and lived his whole life in Minneapolis.","EntityRecognizerPOC-1":'
        '{"annotations":{"entities":[{"endOffset":22,"startOffset":16,"label":"Date"},{"endOffset":3,"startOffset":0,'
        '"label":"Person"},{"endOffset":67,"startOffset":56,"label":"Location"}],"labels":[{"label":"Date"},'
        '{"label":"Location"},{"label":"Person"}]}},"EntityRecognizerPOC-1-metadata":{"entities":[{"confidence":0.08},'
        '{"confidence":0.08},{"confidence":0.09}],"job-name":"labeling-job/entityrecognizerpoc-1","type":'
        '"groundtruth/text-span","creation-date":"2020-04-17T23:27:41.344393","human-annotated":"yes"}}'
    )
    line = {"source": json.loads(real)["source"]}
    spec = records.RecordSpec(task_type=NER, labels=LABELS, label_attribute="EntityRecognizerPOC-1",
                              job_name="EntityRecognizerPOC-1")  # fmt: skip
    worker = records.WorkerAnswer("w", answer(ent("Date", 16, 22), ent("Person", 0, 3), ent("Location", 56, 67)))
    out = records.build_records(spec, [records.ObjectAnswers(0, line, [worker])],
                                clock=lambda: "2020-04-17T23:27:41.344393")[0]  # fmt: skip
    meta = out["EntityRecognizerPOC-1-metadata"]
    assert meta["entities"] == [{"confidence": 0}] * 3
    meta["entities"] = [{"confidence": c} for c in (0.08, 0.08, 0.09)]
    assert json.dumps({**line, **out}, ensure_ascii=False, separators=(",", ":")) == real


# --------------------------------------------------------------------------- end to end


def test_ner_job_end_to_end(any_ctx: Context, any_job_factory: JobFactory, tmp_path: Path) -> None:
    texts = ["Bob was born on Jan 1 1990 in Minneapolis.", "서울에 사는 김민수 🐍 met שלום\nin Paris"]
    f = tmp_path / "doc.txt"
    f.write_text(texts[1], encoding="utf-8")
    job_id = create(any_job_factory, "ner-e2e", [{"source": texts[0]}, {"source-ref": str(f)}], workers=2)
    team = any_job_factory.team()
    workers = [make_user(any_ctx.db, f"w{k}@example.test", ("worker",), (team,)) for k in range(2)]
    by_text = {
        0: [answer(ent("Person", 0, 3), ent("Date", 16, 26)), answer(ent("Person", 0, 3), ent("Date", 16, 26))],
        1: [answer(ent("Person", 7, 10), ent("Location", 25, 30)), answer(ent("Person", 7, 10))],
    }
    for k, w in enumerate(workers):
        while (task := queue.claim_next(any_ctx, w, job_id)) is not None:
            if task.object_idx == 1 and k == 0:  # refused first: crosses the line break (offset 20 is "\n")
                with pytest.raises(ValidationError, match="crosses a line break at offset 21"):
                    queue.submit(any_ctx, w, task.assignment_id, answer(ent("Person", 18, 24)))
            done = queue.submit(any_ctx, w, task.assignment_id, by_text[task.object_idx][k]).job_done
            run_work(any_ctx)
            if done:
                break
    with any_ctx.db.read() as conn:
        row = conn.execute(select(dbm.jobs).where(dbm.jobs.c.id == job_id)).one()
    assert row.status == "Completed"
    recs = [json.loads(x) for x in Path(output.output_manifest_uri(row)).read_text(encoding="utf-8").splitlines()]
    first, second = (r["ner-e2e"]["annotations"]["entities"] for r in recs)
    assert first == [ent("Person", 0, 3) | {}, ent("Date", 16, 26)]
    assert [list(e) for e in first] == [["endOffset", "startOffset", "label"]] * 2
    assert second == [{"endOffset": 10, "startOffset": 7, "label": "Person"}]  # Location: 1 of 2 workers, dropped
    assert texts[1][7:10] == "김민수"
    meta = recs[0]["ner-e2e-metadata"]
    assert list(meta) == ["entities", "job-name", "type", "creation-date", "human-annotated"]
    assert meta["type"] == "groundtruth/text-span" and len(meta["entities"]) == 2
    assert recs[0]["ner-e2e"]["annotations"]["labels"] == [{"label": x} for x in LABELS]


def test_ner_chain_and_clone(ctx: Context, job_factory: JobFactory) -> None:
    from gtcore.jobs import api as jobs

    job_id = create(job_factory, "ner-a", [{"source": "Bob met Ana."}, {"source": "Ana left."}])
    worker = make_user(ctx.db, "w@example.test", ("worker",), (job_factory.team(),))
    task = queue.claim_next(ctx, worker, job_id)
    assert task is not None
    queue.submit(ctx, worker, task.assignment_id, answer(ent("Person", 0, 3)))
    jobs.stop_labeling_job(ctx, job_factory.actor, "ner-a")
    run_work(ctx)
    same = jobs.chain_labeling_job(ctx, job_factory.actor, "ner-a", "ner-b")  # Stopped: the old attribute
    other = queue.claim_next(ctx, worker, same.job_id)
    assert other is not None and other.object_idx == 1 and other.task_type == "NamedEntityRecognition"
    assert other.instructions["Short"] == "Mark people & places"
    clone = jobs.clone_labeling_job(ctx, job_factory.actor, "ner-a", "ner-c")
    assert clone.total_objects == 2
