"""The export linter over a corpus of bad lines (tests/data/lint/), and the fix / drop / abort choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from gtcore.core.errors import GTError, ValidationError
from gtcore.manifests.augmented import parse_augmented
from gtcore.viewer import export_lint as lint
from gtcore.viewer import export_resolution as resolution
from tests.fixtures.core import realdata_or_skip

CORPUS = Path(__file__).parent / "data" / "lint"
Z, OUT, U, N = lint.ZERO_SIZE, lint.OUTSIDE_IMAGE, lint.UNKNOWN_CLASS, lint.NOT_A_NUMBER
M, D, X = lint.MISSING_IMAGE_SIZE, lint.DUPLICATE_SOURCE_REF, lint.MALFORMED


def _open(name: str):  # type: ignore[no-untyped-def]
    path = CORPUS / name
    return parse_augmented(path.read_bytes(), where=str(path))


def _found(name: str) -> set[tuple[int, int | None, str]]:
    return {(i.line, i.box, i.code) for i in lint.lint(_open(name), "boxes").issues}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("clean.manifest", set()),
        ("zero_size.manifest", {(1, 0, Z), (2, 0, Z)}),
        ("outside_image.manifest", {(1, 0, OUT), (2, 0, OUT), (3, 0, OUT)}),
        ("unknown_class.manifest", {(1, 1, U), (3, 0, U)}),
        (
            "not_a_number.manifest",
            {(1, 0, N), (2, 0, N), (2, 1, N), (3, 0, N), (4, 0, N), (5, None, N)},
        ),
        ("missing_image_size.manifest", {(1, None, M), (2, None, M), (3, None, M)}),
        ("duplicate_source_ref.manifest", {(3, None, D), (4, None, D)}),
        ("malformed.manifest", {(1, None, X), (2, 0, X), (3, None, X)}),
        (
            "many_problems.manifest",
            {(1, 1, OUT), (1, 2, U), (2, None, M), (2, 0, Z), (3, 0, N), (3, 1, OUT), (4, None, D)},
        ),
    ],
)
def test_corpus_issues_are_all_found_with_line_and_box(name: str, expected: set) -> None:
    assert _found(name) == expected


def test_issue_messages_name_the_field_and_the_value() -> None:
    report = lint.lint(_open("not_a_number.manifest"), "boxes")
    by_line = {(i.line, i.box): i for i in report.issues}
    assert by_line[(1, 0)].field == "boxes.annotations[0]" and "left=nan" in by_line[(1, 0)].message
    assert "left='12'" in by_line[(2, 0)].message
    assert "top=None" in by_line[(2, 1)].message and "height=True" in by_line[(2, 1)].message
    assert by_line[(3, 0)].field == "boxes-metadata.objects[0].confidence"
    assert by_line[(4, 0)].field == "boxes.annotations[0].class_id"
    dup = lint.lint(_open("duplicate_source_ref.manifest"), "boxes").issues[0]
    assert dup.message == "s3://b/a.jpg is also on line 1" and dup.source_ref == "s3://b/a.jpg"
    problems = report.problems()
    assert len(problems) == len(report.issues)
    assert problems[0].line == 1 and problems[0].where.endswith("not_a_number.manifest")
    assert report.counts() == {N: 6}
    assert list(report.table()["code"]) == [i.code for i in report.issues]


def test_abort_raises_with_every_issue() -> None:
    manifest = _open("many_problems.manifest")
    with pytest.raises(ValidationError) as err:
        resolution.resolve(manifest, "boxes", "abort")
    assert len(err.value.problems) == 7
    assert "nothing was exported" in str(err.value)
    assert {p.line for p in err.value.problems} == {1, 2, 3, 4}
    # a clean file passes abort untouched
    res = resolution.resolve(_open("clean.manifest"), "boxes", "abort")
    assert [len(i.boxes) for i in res.images] == [1, 0, 2]


def test_fix_clips_boxes_and_drops_what_cannot_be_repaired() -> None:
    res = resolution.resolve(_open("many_problems.manifest"), "boxes", "fix")
    kept = {i.line: i for i in res.images}
    assert sorted(kept) == [1, 3, 5]  # line 2 (no image size) and line 4 (repeated source-ref) dropped
    l1 = kept[1].boxes
    assert [(b.left, b.top, b.width, b.height, b.clipped) for b in l1] == [
        (1.0, 1.0, 5.0, 5.0, False),
        (0.0, 0.0, 20.0, 20.0, True),  # -10,-10 30x30 clipped into the 100x80 image
    ]  # the class-3 box has no name anywhere: dropped
    l3 = kept[3].boxes
    assert [(b.left, b.top, b.width, b.height) for b in l3] == [(50.0, 50.0, 50.0, 30.0)]  # NaN box dropped
    assert res.changes["boxes clipped"] == 2
    assert res.changes["lines dropped"] == 2
    assert res.changes["boxes dropped"] == 2
    assert "2 boxes clipped" in res.summary()


def test_fix_names_a_class_from_other_lines_and_keeps_boxes_with_bad_confidence() -> None:
    res = resolution.resolve(_open("unknown_class.manifest"), "boxes", "fix")
    line1 = res.images[0].boxes
    assert [(b.class_id, b.class_name) for b in line1] == [(0, "cat"), (1, "dog")]  # "dog" from line 2
    assert [len(i.boxes) for i in res.images] == [2, 1, 0]  # class 7 is unknown everywhere: dropped
    nan = resolution.resolve(_open("not_a_number.manifest"), "boxes", "fix")
    assert [len(i.boxes) for i in nan.images] == [0, 0, 1, 0]  # line 5 (size not a number) dropped
    assert nan.images[2].boxes[0].confidence is None
    assert nan.changes["confidences left out"] == 1


def test_drop_removes_every_box_with_an_issue() -> None:
    res = resolution.resolve(_open("many_problems.manifest"), "boxes", "drop")
    kept = {i.line: [(b.left, b.top) for b in i.boxes] for i in res.images}
    assert kept == {1: [(1.0, 1.0)], 3: [], 5: [(1.0, 1.0)]}
    out = resolution.resolve(_open("outside_image.manifest"), "boxes", "drop")
    assert [len(i.boxes) for i in out.images] == [0, 1, 0]


def test_bad_mode_and_non_box_attribute_are_refused() -> None:
    with pytest.raises(GTError, match="fix, drop, abort"):
        resolution.resolve(_open("clean.manifest"), "boxes", "repair")
    banana = realdata_or_skip() / "ic-banana-with-autogen-input" / "output.manifest"
    with pytest.raises(GTError, match="image-classification"):
        lint.lint(parse_augmented(banana.read_bytes()), "banana-1")


def test_every_realdata_box_file_lints_clean_or_with_located_issues() -> None:
    root = realdata_or_skip()
    for path in sorted(root.glob("bbox-*/*.manifest")):
        manifest = parse_augmented(path.read_bytes(), where=str(path))
        report = lint.lint(manifest, manifest.attributes[0])
        assert report.lines == len(manifest.records)
        for issue in report.issues:
            assert 1 <= issue.line <= len(manifest.records) and issue.field
        assert resolution.resolve(manifest, manifest.attributes[0], "fix").images
