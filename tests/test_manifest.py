"""gtcore.manifests.jsonl: JSON Lines parsing, validation (every problem, exact line numbers), writing.

Real Ground Truth files are read in place from ../shared/realdata; the bad-manifest corpus is
tests/data/bad_manifests/ (one file per problem class).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gtcore.core.errors import ManifestError, ObjectNotFound, Problem, UriNotAllowed
from gtcore.manifests.jsonl import (
    MAX_ATTRIBUTE_CHARS,
    MAX_LINE_CHARS,
    UriChecker,
    dumps_line,
    load_manifest,
    parse_manifest_lines,
    read_manifest,
    validate_manifest,
    write_manifest,
)
from gtcore.storage.store import Storage
from tests.fixtures.core import make_settings

CORPUS = Path(__file__).parent / "data" / "bad_manifests"

REAL_MANIFESTS = (
    "bbox-birds-5workers-consolidated/sample_output.manifest",
    "bbox-bcbs-logo-1worker/output.manifest",
    "bbox-hms-ayo-1worker/output.manifest",
    "bbox-cat-1worker/output.manifest",
    "ic-coral-4class/output.manifest",
    "ic-banana-with-autogen-input/output.manifest",
    "ic-banana-with-autogen-input/dataset-20200530T121341.manifest",
    "ic-vehicles-2023/output.manifest",
    "semseg-pcb/output.manifest",
)

# file -> every expected (line, field, message fragment); the test asserts exactly these, nothing more.
EXPECTED: dict[str, list[tuple[int | None, str | None, str]]] = {
    "not_json.manifest": [(2, None, "not valid JSON"), (4, None, "not valid JSON")],
    "not_object.manifest": [
        (2, None, "not an array"),
        (3, None, "not a string"),
        (4, None, "not a number"),
        (5, None, "not null"),
    ],
    "both_sources.manifest": [(2, None, "both source-ref and source")],
    "no_source.manifest": [(1, None, "neither source-ref"), (3, None, "neither source-ref")],
    "source_ref_not_string.manifest": [
        (2, "source-ref", "must be a string"),
        (3, "source-ref", "must be a string"),
        (4, "source-ref", "must be a string"),
    ],
    "source_ref_empty_or_folder.manifest": [(2, "source-ref", "empty"), (3, "source-ref", "names a folder")],
    "source_not_string.manifest": [(2, "source", "must be a string"), (3, "source", "must be a string")],
    "dollar_key.manifest": [(2, "$meta", "begins with '$'"), (3, "$hidden", "begins with '$'")],
    "line_too_long.manifest": [(2, None, "the limit is 100,000")],
    "attribute_too_long.manifest": [(2, "note", "the limit is 20,000")],
    "uri_not_allowed.manifest": [
        (1, "source-ref", "169.254.169.254"),
        (2, "source-ref", "relative"),
        (3, "source-ref", "/etc/passwd"),
        (4, "source-ref", "'..'"),
        (5, "source-ref", "file:///etc/shadow"),
        (6, "source-ref", "https"),
    ],
    "blank_lines.manifest": [(2, None, "blank line"), (4, None, "blank line")],
    "nan_infinity.manifest": [(1, None, "NaN is not valid JSON"), (2, None, "Infinity"), (3, None, "-Infinity")],
    "not_utf8.manifest": [(2, None, "not UTF-8: undecodable byte 0xe9"), (4, None, "not UTF-8: undecodable byte 0xff")],
    "deep_nesting.manifest": [(2, None, "nested too deeply")],
    "empty.manifest": [(None, None, "empty")],
    "multi_problem.manifest": [
        (2, None, "not valid JSON"),
        (3, None, "blank line"),
        (4, None, "both source-ref and source"),
        (5, None, "neither source-ref"),
        (6, "source-ref", "must be a string"),
        (6, "$x", "begins with '$'"),
        (7, None, "NaN"),
        (8, None, "not an array"),
        (9, "source-ref", "ftp"),
    ],
}


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    return Storage(make_settings(tmp_path))


def lines_of(text: str) -> list[str]:
    return text.split("\n")


# --- the bad-manifest corpus --------------------------------------------------------------------------


def test_corpus_has_one_expectation_per_file() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.manifest")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_manifest_reports_every_problem_at_its_line(name: str, storage: Storage) -> None:
    uri = str(CORPUS / name)
    # the corpus lives outside tmp_path, so parse its bytes directly with the storage's URI check
    data = (CORPUS / name).read_bytes()
    lines: list[bytes] = data.split(b"\n")
    records, problems = parse_manifest_lines(lines, where=uri, check_uri=UriChecker(storage.normalize))
    got = [(p.line, p.field) for p in problems]
    want = [(line, field) for line, field, _ in EXPECTED[name]]
    assert got == want, [str(p) for p in problems]
    for problem, (_, _, fragment) in zip(problems, EXPECTED[name], strict=True):
        assert fragment in problem.message, str(problem)
        assert problem.where == uri
    bad_lines = {line for line, _, _ in EXPECTED[name]}
    n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    assert len(records) == n_lines - len(bad_lines - {None})


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_manifest_through_storage_raises_manifest_error(name: str, tmp_path: Path, storage: Storage) -> None:
    target = tmp_path / name
    target.write_bytes((CORPUS / name).read_bytes())
    problems = validate_manifest(storage, str(target))
    assert [(p.line, p.field) for p in problems] == [(line, field) for line, field, _ in EXPECTED[name]]
    with pytest.raises(ManifestError) as info:
        read_manifest(storage, str(target))
    assert info.value.problems == problems
    assert str(target) in str(info.value)


# --- line handling ------------------------------------------------------------------------------------


def test_trailing_newline_crlf_and_bom_are_accepted() -> None:
    text = "\ufeff" + '{"source-ref":"s3://b/a.jpg"}\r\n{"source":"txt"}\r\n'
    records, problems = parse_manifest_lines(lines_of(text))
    assert problems == []
    assert records == [{"source-ref": "s3://b/a.jpg"}, {"source": "txt"}]
    # the same lines as file iteration yields them (newline kept), and as bytes
    as_file = ["\ufeff" + '{"source-ref":"s3://b/a.jpg"}\r\n', '{"source":"txt"}\r\n']
    assert parse_manifest_lines(as_file) == (records, [])
    assert parse_manifest_lines([x.encode() for x in as_file]) == (records, [])
    # BOM as raw bytes at the very start
    assert parse_manifest_lines([b'\xef\xbb\xbf{"source":"t"}']) == ([{"source": "t"}], [])


def test_no_trailing_newline_is_fine_but_extra_blank_lines_at_the_end_are_reported() -> None:
    assert parse_manifest_lines(['{"source":"a"}'])[1] == []
    _, problems = parse_manifest_lines(lines_of('{"source":"a"}\n\n'))
    assert [(p.line, p.message) for p in problems] == [(2, "blank line (every line must hold one JSON object)")]
    _, problems = parse_manifest_lines(['{"source":"a"}\n', "\n"])
    assert [p.line for p in problems] == [2]


def test_blank_only_file_reports_the_blank_line_not_emptiness() -> None:
    _, problems = parse_manifest_lines(lines_of("\n"))
    assert [(p.line, "blank" in p.message) for p in problems] == [(1, True)]
    records, problems = parse_manifest_lines(lines_of('\n{"source":"a"}\n'))
    assert records == [{"source": "a"}]
    assert [(p.line, "blank" in p.message) for p in problems] == [(1, True)]
    assert parse_manifest_lines([])[1] == [Problem("the manifest is empty: it has no JSON lines")]
    assert parse_manifest_lines([""])[1] == [Problem("the manifest is empty: it has no JSON lines")]


def test_line_length_limit_is_exact() -> None:
    head = '{"source-ref":"s3://b/a.jpg","n":"'
    at_limit = head + "x" * (MAX_LINE_CHARS - len(head) - 2) + '"}'
    assert len(at_limit) == MAX_LINE_CHARS
    over = head + "x" * (MAX_LINE_CHARS - len(head) - 1) + '"}'
    _, problems = parse_manifest_lines([at_limit, over], require_source=True)
    # the line at the limit still has a too-long attribute; the line over it is not checked further
    assert [(p.line, p.field) for p in problems] == [(1, "n"), (2, None)]
    assert "100,001 characters" in problems[1].message


def test_attribute_limit_is_exact_and_counts_compact_json() -> None:
    ok = {"source-ref": "s3://b/a.jpg", "v": "x" * (MAX_ATTRIBUTE_CHARS - 2)}
    bad = {"source-ref": "s3://b/a.jpg", "v": "x" * (MAX_ATTRIBUTE_CHARS - 1)}
    _, problems = parse_manifest_lines([dumps_line(ok), dumps_line(bad)])
    assert [(p.line, p.field) for p in problems] == [(2, "v")]
    assert "20,001 characters" in problems[0].message
    # 1,200 numbers written short ("1e15,") are 22,800 characters once re-serialised ("1000000000000000.0,")
    short = '{"source-ref":"s3://b/a.jpg","v":[' + ",".join(["1e15"] * 1200) + "]}"
    assert len(short) < MAX_ATTRIBUTE_CHARS
    _, problems = parse_manifest_lines([short])
    assert [(p.line, p.field) for p in problems] == [(1, "v")]


def test_nested_dollar_keys_and_dollar_values_are_allowed() -> None:
    line = '{"source-ref":"s3://b/a.jpg","price":"$5","meta":{"$inner":1}}'
    assert parse_manifest_lines([line])[1] == []


def test_require_source_false_allows_lines_without_source() -> None:
    records, problems = parse_manifest_lines(['{"label":1}'], require_source=False)
    assert (records, problems) == ([{"label": 1}], [])
    _, problems = parse_manifest_lines(['{"label":1,"source-ref":5}'], require_source=False)
    assert [p.field for p in problems] == ["source-ref"]


def test_check_uri_errors_become_problems_and_other_lines_continue() -> None:
    seen: list[str] = []

    def check(uri: str) -> None:
        seen.append(uri)
        if "bad" in uri:
            raise UriNotAllowed(f"{uri} is refused", uri)

    text = '{"source-ref":"s3://b/good.jpg"}\n{"source-ref":"s3://b/bad.jpg"}\n{"source":"t"}\n'
    records, problems = parse_manifest_lines(lines_of(text), where="m.manifest", check_uri=check)
    assert seen == ["s3://b/good.jpg", "s3://b/bad.jpg"]
    assert records == [{"source-ref": "s3://b/good.jpg"}, {"source": "t"}]
    assert [str(p) for p in problems] == ["m.manifest, line 2, source-ref: s3://b/bad.jpg is refused"]


def test_uri_checker_fast_path_agrees_with_normalize(tmp_path: Path) -> None:
    store = Storage(make_settings(tmp_path, GT_ALLOWED_BUCKETS="gt-ok,gt-two"))
    outside = tmp_path.parent / (tmp_path.name + "-outside")
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"x")
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(b"x")
    (images / "escape.jpg").symlink_to(outside / "secret.jpg")
    (images / "inside.jpg").symlink_to(images / "a.jpg")
    (images / "linked-dir").symlink_to(outside)
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "b.png").write_bytes(b"x")
    uris = [
        str(clean / "b.png"),
        str(clean / "c.png"),
        str(clean) + "/.",
        str(clean) + "/../../x.png",
        str(clean) + "//b.png",
        str(images / "a.jpg"),
        str(images / "missing.jpg"),
        str(images / "escape.jpg"),
        str(images / "inside.jpg"),
        str(images / "linked-dir" / "secret.jpg"),
        str(images / "nofolder" / "x.jpg"),
        str(images) + "/..",
        str(images) + "/../../etc/passwd",
        str(images) + "//a.jpg",
        "file://" + str(images / "a.jpg"),
        str(images / "tab\tname.jpg"),
        "/a.jpg",
        "s3://gt-ok/a.jpg",
        "s3://gt-ok/deep/er/b.png",
        "s3://gt-ok/x/../y.jpg",
        "s3://gt-ok/./y.jpg",
        "s3://gt-ok/..",
        "s3://gt-ok/a\x00b.jpg",
        "s3://gt-ok/a\nb.jpg",
        "s3://gt-ok/tab\there.jpg",
        "s3://gt-ok/.hidden.jpg",
        "s3://gt-ok/zero\u200bwidth.jpg",
        "s3://gt-no/a.jpg",
        "s3://gt-two/a.jpg",
        "s3:///a.jpg",
        "S3://gt-ok/a.jpg",
        str(tmp_path / "a.jpg"),
        "/etc/passwd",
    ]

    def verdict(fn: object, uri: str) -> bool:
        try:
            fn(uri)  # type: ignore[operator]
        except UriNotAllowed:
            return False
        return True

    checker = UriChecker(store.normalize)
    want = [verdict(store.normalize, u) for u in uris]
    assert want[:10] == [True, True, True, False, True, True, True, False, True, False]
    for _ in range(2):  # the second pass runs with every bucket and folder already cached
        assert [verdict(checker, u) for u in uris] == want
    assert checker.prefixes == ("s3://gt-ok/", "s3://gt-two/")
    assert str(clean) in checker.clean_folders and str(images) not in checker.clean_folders
    assert verdict(checker, "s3://gt-ok/a.jpg") and not verdict(checker, "s3://gt-ok/q/../../etc")
    # and through the parser's inline fast path, line by line
    lines = [dumps_line({"source-ref": u}) for u in uris * 2]
    _, problems = parse_manifest_lines(lines, check_uri=UriChecker(store.normalize))
    assert sorted({p.line for p in problems}) == [i + 1 for i, ok in enumerate(want * 2) if not ok]


def test_non_utf8_bytes_elsewhere_in_the_file_do_not_hide_good_lines(tmp_path: Path, storage: Storage) -> None:
    path = tmp_path / "m.manifest"
    path.write_bytes(b'{"source-ref":"s3://gt-b/\xc3\xa9.jpg"}\n{"source":"\xff"}\n{"source":"ok"}\n')
    records, problems = load_manifest(storage, str(path))
    assert records == [{"source-ref": "s3://gt-b/\u00e9.jpg"}, {"source": "ok"}]
    assert [p.line for p in problems] == [2]


# --- reading, writing, storage errors ------------------------------------------------------------------


def test_dumps_line_is_compact_raw_utf8_and_rejects_nan() -> None:
    assert (
        dumps_line({"source-ref": "s3://b/ä\u200b.jpg", "n": [1, 2.5]})
        == '{"source-ref":"s3://b/ä\u200b.jpg","n":[1,2.5]}'
    )
    with pytest.raises(ManifestError):
        dumps_line({"x": float("nan")})
    with pytest.raises(ManifestError):
        dumps_line(["not", "a", "dict"])  # type: ignore[arg-type]


def test_write_then_read_round_trips(tmp_path: Path, storage: Storage) -> None:
    records = [{"source-ref": f"s3://gt-b/{i}.jpg", "k": {"é": i}} for i in range(5)] + [{"source": "x\ny"}]
    uri = str(tmp_path / "out" / "m.manifest")
    write_manifest(storage, uri, records)
    data = Path(uri).read_bytes()
    assert data.endswith(b"}\n") and b"\r" not in data and data.count(b"\n") == 6
    assert read_manifest(storage, uri) == records
    assert [n for n in os.listdir(tmp_path / "out")] == ["m.manifest"]  # no temp file left behind


def test_write_manifest_with_a_bad_record_leaves_the_old_file(tmp_path: Path, storage: Storage) -> None:
    uri = str(tmp_path / "m.manifest")
    write_manifest(storage, uri, [{"source": "old"}])
    with pytest.raises(ManifestError):
        write_manifest(storage, uri, [{"source": "new"}, {"source": float("inf")}])
    assert Path(uri).read_text() == '{"source":"old"}\n'


def test_missing_and_refused_manifests_raise_storage_errors(tmp_path: Path, storage: Storage) -> None:
    with pytest.raises(ObjectNotFound):
        validate_manifest(storage, str(tmp_path / "nope.manifest"))
    with pytest.raises(UriNotAllowed):
        read_manifest(storage, "/etc/hostname")


def test_problem_text_names_file_line_and_field() -> None:
    _, problems = parse_manifest_lines(['{"source-ref":1}'], where="s3://b/in.manifest")
    assert problems == [Problem("source-ref must be a string URI, not a number", "s3://b/in.manifest", 1, "source-ref")]
    assert str(problems[0]) == "s3://b/in.manifest, line 1, source-ref: source-ref must be a string URI, not a number"


# --- real Ground Truth files ----------------------------------------------------------------------------


def test_every_real_manifest_is_covered(realdata: Path) -> None:
    found = sorted(str(p.relative_to(realdata)) for p in realdata.rglob("*.manifest"))
    assert found == sorted(REAL_MANIFESTS)


@pytest.mark.parametrize("rel", REAL_MANIFESTS)
def test_real_manifest_validates_clean_and_round_trips(rel: str, realdata: Path, tmp_path: Path) -> None:
    store = Storage(make_settings(tmp_path, GT_LOCAL_ROOTS=os.pathsep.join([str(tmp_path), str(realdata)])))
    path = realdata / rel
    assert validate_manifest(store, str(path)) == []
    records = read_manifest(store, str(path))
    original = path.read_text(encoding="utf-8").split("\n")
    assert original[-1] == ""  # Ground Truth ends the last line with a newline
    original = original[:-1]
    assert len(records) == len(original)
    exact = 0
    for record, line in zip(records, original, strict=True):
        written = dumps_line(record)
        assert json.loads(written) == json.loads(line)
        if "\\u" not in line:  # Ground Truth's HTML-safe escapes (\u003d) are the only expected difference
            assert written == line
            exact += 1
    assert exact >= len(original) * 0.7
    # and the whole file written back: byte-equal unless it has \u escapes
    out = str(tmp_path / "copy.manifest")
    write_manifest(store, out, records)
    if "\\u" not in path.read_text(encoding="utf-8"):
        assert Path(out).read_bytes() == path.read_bytes()
    assert read_manifest(store, out) == records
