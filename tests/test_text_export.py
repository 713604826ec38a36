"""Text labels in the viewer and their exports: Ground Truth's published text lines open; NER exports as CoNLL-2003
BIO and spaCy's JSON training format are read back by spaCy's own converters (a real consumer); text
classification exports as JSON Lines and CSV are read back by ``json`` and ``csv`` (formula cells neutralised);
the linter counts overlaps and unlabeled lines; the viewer page shows text lines, filters and exports.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from gtcore.core import tasktypes
from gtcore.manifests.augmented import parse_augmented
from gtcore.output import records
from gtcore.viewer import export_text as xt
from gtcore.viewer import text_table as tt

LABELS = ["Date", "Location", "Person"]
# Ground Truth's published lines (reference 1.4 and 1.8: the text-classification blog line, the Comprehend
# customer-scripts README and the Comprehend developer guide)
PUBLISHED = [
    '{"source":"Bob was born on Jan 1 1990 and lived his whole life in Minneapolis.","EntityRecognizerPOC-1":'
    '{"annotations":{"entities":[{"endOffset":22,"startOffset":16,"label":"Date"},{"endOffset":3,"startOffset":0,'
    '"label":"Person"},{"endOffset":67,"startOffset":56,"label":"Location"}],"labels":[{"label":"Date"},'
    '{"label":"Location"},{"label":"Person"}]}},"EntityRecognizerPOC-1-metadata":{"entities":[{"confidence":0.08},'
    '{"confidence":0.08},{"confidence":0.09}],"job-name":"labeling-job/entityrecognizerpoc-1","type":'
    '"groundtruth/text-span","creation-date":"2020-04-17T23:27:41.344393","human-annotated":"yes"}}',
    '{"source":"J Doe is a judge on the Washington Supreme Court.","EntityRecognizerPOC-1":{"annotations":'
    '{"entities":[{"endOffset":5,"startOffset":0,"label":"Person"}],"labels":[{"label":"Date"},{"label":"Location"},'
    '{"label":"Person"}]}},"EntityRecognizerPOC-1-metadata":{"entities":[{"confidence":0.72}],"job-name":'
    '"labeling-job/entityrecognizerpoc-1","type":"groundtruth/text-span","creation-date":"2020-05-14T21:45:27.174910",'
    '"human-annotated":"yes"}}',
]
TC_LINE = (
    '{"source":"…","hashtag-positivity-label-clone":1,"hashtag-positivity-label-clone-metadata":'
    '{"confidence":0.62,"job-name":"labeling-job/hashtag-positivity-label-clone","class-name":"Marketing",'
    '"human-annotated":"yes","creation-date":"2019-01-08T18:53:17.309395","type":"groundtruth/text-classification"}}'
)


def ner_manifest(texts_and_entities: list[tuple[str, list[tuple[str, int, int]]]]) -> Any:
    spec = records.RecordSpec(tasktypes.NAMED_ENTITY_RECOGNITION, LABELS, "ner", "ner-job")
    lines = []
    for i, (text, ents) in enumerate(texts_and_entities):
        answer = {"crowd-entity-annotation": {"entities": [{"endOffset": e, "label": lab, "startOffset": s}
                                                           for lab, s, e in ents]}}  # fmt: skip
        item = records.ObjectAnswers(i, {"source": text}, [records.WorkerAnswer("w", answer)])
        lines.append(json.dumps({"source": text, **records.build_records(spec, [item])[i]}, ensure_ascii=False))
    lines.append('{"source":"not labeled yet"}')
    return parse_augmented("\n".join(lines) + "\n", where="ner.manifest")


DOCS = [
    (
        "Bob 🐍 visited Paris\nמשה lives in  Tel Aviv.",
        [("Person", 0, 3), ("Location", 14, 19), ("Person", 20, 23), ("Location", 34, 42)],
    ),  # fmt: skip
    (
        "Cafe\u0301 Nord in 서울 with 김민수, banana",
        [("Location", 0, 10), ("Location", 14, 16), ("Person", 22, 25), ("Person", 30, 33), ("Location", 0, 4)],
    ),  # fmt: skip
]


def test_published_lines_open_in_the_viewer() -> None:
    manifest = parse_augmented("\n".join([*PUBLISHED, TC_LINE]) + "\n", where="published.manifest")
    assert manifest.problems == []
    kinds = {a.name: a.type for a in manifest.attributes}
    assert kinds == {"EntityRecognizerPOC-1": "named-entity", "hashtag-positivity-label-clone": "text-classification"}
    ner = tt.text_rows(manifest, manifest.attribute("EntityRecognizerPOC-1"))
    assert [(e.label, e.start, e.end, e.confidence) for e in ner[0].entities] == [
        ("Date", 16, 22, 0.08), ("Person", 0, 3, 0.08), ("Location", 56, 67, 0.09)]  # fmt: skip
    assert ner[0].label_order == LABELS and ner[2].human is None
    tc = tt.text_rows(manifest, manifest.attribute("hashtag-positivity-label-clone"))
    assert (tc[2].labels, tc[2].confidence, tc[2].human) == (["Marketing"], 0.62, True)
    assert tt.filter_rows(ner, labels=["Date"]) == [0] and tt.filter_rows(ner, contains="judge") == [1]
    assert tt.filter_rows(tc, who="machine") == []
    stats = tt.text_statistics(ner)
    assert stats["entities"] == 4 and stats["unlabeled"] == 1
    assert stats["labels"].set_index("label")["entities"].to_dict() == {"Date": 1, "Location": 1, "Person": 2}


def test_highlight_escapes_text() -> None:
    html = tt.highlight_html("<script>alert(1)</script> Bob", [tt.Entity("Person", 26, 29)], LABELS)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'title="Person"' in html and ">Bob</span>" in html


def test_conll_read_by_spacy() -> None:
    from spacy.training.converters import conll_ner_to_docs

    manifest = ner_manifest(DOCS)
    out = xt.export_text(manifest, "ner", "conll")
    assert {(i.code, i.line) for i in out.issues} == {("overlap", 2), ("unlabeled", 3)}
    text = out.files["ner.conll"].decode("utf-8")
    assert text.startswith("-DOCSTART- -X- O O\n\nBob -X- _ B-Person\n")
    docs = list(conll_ner_to_docs(text, n_sents=0, no_print=True))
    assert len(docs) == 2
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Bob", "Person"), ("Paris", "Location"),
                                                          ("משה", "Person"), ("Tel Aviv", "Location")]  # fmt: skip
    assert [(e.text, e.label_) for e in docs[1].ents] == [("Cafe\u0301 Nord", "Location"), ("서울", "Location"),
                                                          ("김민수", "Person"), ("ana", "Person")]  # fmt: skip
    assert [t.text for t in docs[0]][:4] == ["Bob", "🐍", "visited", "Paris"]


def test_spacy_json_read_by_spacy() -> None:
    from spacy.training.converters import json_to_docs

    manifest = ner_manifest(DOCS)
    out = xt.export_text(manifest, "ner", "spacy")
    docs = list(json_to_docs(out.files["ner.json"]))
    assert [d.text for d in docs] == [t for t, _ in DOCS]  # the tokens rebuild the text exactly
    for doc, (_, ents) in zip(docs, DOCS, strict=True):
        kept = sorted(ents, key=lambda e: (e[1], -(e[2] - e[1])))
        kept = [e for i, e in enumerate(kept) if not any(k[1] <= e[1] < k[2] for k in kept[:i])]
        assert sorted((e.start_char, e.end_char, e.label_) for e in doc.ents) == sorted(
            (s, e, lab) for lab, s, e in kept
        )


def classification_manifest(multi: bool) -> Any:
    tt_ = tasktypes.TEXT_MULTI_LABEL if multi else tasktypes.TEXT_CLASSIFICATION
    spec = records.RecordSpec(tt_, ["=SUM(A1)", "plain", "-neg"], "topic", "tc-job")
    texts = ['=HYPERLINK("http://x")', "+1 ok", "@cmd", 'line one\nline two, "quoted"', "normal"]
    lines = []
    for i, text in enumerate(texts):
        if multi:
            answer: dict[str, Any] = {"crowd-classifier-multi-select": {"labels": ["=SUM(A1)", "-neg"]}}
        else:
            answer = {"crowd-classifier": {"label": ["=SUM(A1)", "plain", "-neg"][i % 3]}}
        item = records.ObjectAnswers(i, {"source": text}, [records.WorkerAnswer("w", answer)])
        lines.append(json.dumps({"source": text, **records.build_records(spec, [item])[i]}, ensure_ascii=False))
    return parse_augmented("\n".join(lines) + "\n", where="tc.manifest"), texts


@pytest.mark.parametrize("multi", [False, True])
def test_classification_jsonl_and_csv(multi: bool) -> None:
    manifest, texts = classification_manifest(multi)
    jl = xt.export_text(manifest, "topic", "jsonl").files["labels.jsonl"].decode("utf-8")
    recs = [json.loads(x) for x in jl.splitlines()]
    assert [r["text"] for r in recs] == texts
    if multi:
        assert recs[0]["labels"] == ["=SUM(A1)", "-neg"]
    else:
        assert [r["label"] for r in recs] == ["=SUM(A1)", "plain", "-neg", "=SUM(A1)", "plain"]
    raw = xt.export_text(manifest, "topic", "csv").files["labels.csv"]
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert [r["text"] for r in rows] == ['\'=HYPERLINK("http://x")', "'+1 ok", "'@cmd", texts[3], "normal"]
    for r in rows:  # the linter of the format: no cell a spreadsheet would run
        assert not any(v.startswith(xt.FORMULA_START) for v in r.values()), r
    col = "labels" if multi else "label"
    assert rows[0][col] == ("'=SUM(A1)|-neg" if multi else "'=SUM(A1)")
    with pytest.raises(Exception, match="exports as jsonl or csv"):
        xt.export_text(manifest, "topic", "conll")


def test_viewer_page_shows_text_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fixtures.people import People
    from tests.test_viewer_page import _open_path, _page

    path = tmp_path / "out.manifest"
    path.write_text("\n".join([*PUBLISHED, TC_LINE, '{"source":"<b>x</b>"}']) + "\n", encoding="utf-8")
    home = tmp_path / "gt-home"
    monkeypatch.setenv("GT_HOME", str(home))
    monkeypatch.setenv("GT_DATABASE_URL", f"sqlite:///{home / 'gt.sqlite3'}")
    monkeypatch.setenv("GT_LOCAL_ROOTS", str(tmp_path))
    from gtcore.context import Context
    from gtcore.core.settings import Settings
    from gtcore.viewer import opener

    opener.clear_cache()
    ctx = Context.from_settings(Settings.from_env())
    p = People(ctx)
    at = _open_path(_page(p.token(p.admin())), path)
    assert not at.exception, [e.value for e in at.exception]
    captions = " ".join(c.value for c in at.caption)
    assert "4 of 4 lines" in captions and "Line 1: labeled by people" in captions
    at.multiselect(key="viewer_t_labels").set_value(["Date"]).run()
    assert "1 of 4 lines" in " ".join(c.value for c in at.caption)
    at.radio(key="viewer_t_fmt").set_value("conll").run()
    at.button(key="viewer_t_build").click().run()
    assert not at.exception and any("exported to conll" in t.value for t in at.text)
    ctx.db.dispose()


def test_cli_export_text(tmp_path: Path) -> None:
    import subprocess
    import sys

    src = tmp_path / "out.manifest"
    src.write_text("\n".join([*PUBLISHED, TC_LINE]) + "\n", encoding="utf-8")
    env = {**__import__("os").environ, "GT_HOME": str(tmp_path / "home"), "GT_LOCAL_ROOTS": str(tmp_path)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "gtcore.cli.command",
            "export",
            "--format",
            "conll",
            "--label-attribute",
            "EntityRecognizerPOC-1",
            str(src),
            str(tmp_path / "dest"),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,  # fmt: skip
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(tmp_path / "dest" / "ner.conll")
    assert "Washington -X- _ O" in (tmp_path / "dest" / "ner.conll").read_text(encoding="utf-8")
    assert "unlabeled" in run.stderr  # the text-classification line has no NER label
