"""gtcore.manifests.label_config: label category configuration files and label rules per task type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gtcore.core import tasktypes
from gtcore.core.errors import ObjectNotFound, ValidationError
from gtcore.manifests.label_config import dumps_label_config, load_label_config, parse_label_config, validate_labels
from gtcore.storage.store import Storage
from tests.fixtures.core import make_settings

BIRDS = ["Duck", "Sparrow", "Woodpecker", "Owl", "Parrot", "Turkey", "Falcon", "Swan", "Goose", "Canary"]


def fields(problems: list) -> list[str | None]:
    return [p.field for p in problems]


def test_dumps_is_the_ground_truth_document_and_round_trips() -> None:
    text = dumps_label_config(["cat", "dog"])
    assert text == '{"document-version":"2018-11-28","labels":[{"label":"cat"},{"label":"dog"}]}'
    config = parse_label_config(dumps_label_config(BIRDS + ["Bäcker 🐦"]))
    assert config.labels == BIRDS + ["Bäcker 🐦"]  # order kept: positions are the class ids
    assert config.raw["document-version"] == "2018-11-28"
    assert "Bäcker 🐦" in dumps_label_config(["Bäcker 🐦"])  # raw UTF-8


def test_extra_keys_are_kept_and_video_version_key_accepted() -> None:
    doc = {
        "documentVersion": "2020-03-01",
        "labels": [{"label": "car", "shortDisplayName": "c"}, {"label": "bus"}],
        "instructions": {"shortInstruction": "<p>Box vehicles</p>", "fullInstruction": "<p>All of them</p>"},
    }
    config = parse_label_config("\ufeff" + json.dumps(doc, indent=2))
    assert config.labels == ["car", "bus"]
    assert config.raw == doc


@pytest.mark.parametrize(
    ("text", "fragment", "field"),
    [
        ("{not json", "not valid JSON", None),
        ("[]", "must be a JSON object", None),
        ('{"document-version":"2018-11-28"}', '"labels"', "labels"),
        ('{"labels":[]}', '"labels"', "labels"),
        ('{"labels":"cat,dog"}', '"labels"', "labels"),
    ],
)
def test_structural_problems(text: str, fragment: str, field: str | None) -> None:
    with pytest.raises(ValidationError) as info:
        parse_label_config(text, where="s3://b/labels.json")
    problems = info.value.problems
    assert len(problems) == 1
    assert fragment in problems[0].message and problems[0].field == field
    assert problems[0].where == "s3://b/labels.json"
    assert "s3://b/labels.json" in str(info.value)


def test_all_entry_problems_are_collected() -> None:
    doc = {
        "document-version": 5,
        "labels": [{"label": "cat"}, "dog", {"name": "bird"}, {"label": 3}, {"label": "ok"}],
    }
    with pytest.raises(ValidationError) as info:
        parse_label_config(json.dumps(doc))
    assert fields(info.value.problems) == ["document-version", "labels[1]", "labels[2]", "labels[3]"]


def test_label_rules_in_the_file() -> None:
    doc = {"labels": [{"label": x} for x in ["cat", "Cat", "cat", "  ", "", "x" * 257, "y" * 256]]}
    with pytest.raises(ValidationError) as info:
        parse_label_config(json.dumps(doc), where="labels.json")
    problems = info.value.problems
    assert fields(problems) == ["labels[2]", "labels[3]", "labels[4]", "labels[5]"]
    assert "duplicate label 'cat' (same as labels[0])" in problems[0].message  # case-sensitive: "Cat" is fine
    assert "257 characters" in problems[3].message


def test_validate_labels_counts_per_task_type() -> None:
    ic = tasktypes.IMAGE_CLASSIFICATION
    box = tasktypes.BOUNDING_BOX
    assert validate_labels(["cat", "dog"], ic) == []
    assert validate_labels(["cat"], box) == []
    one = validate_labels(["cat"], ic)
    assert fields(one) == ["labels"] and "at least 2" in one[0].message
    assert fields(validate_labels([], box)) == ["labels"]
    many = [f"c{i}" for i in range(51)]
    assert validate_labels(many[:50], box) == []
    over = validate_labels(many, box, where="spec.labels")
    assert fields(over) == ["spec.labels"] and "at most 50" in over[0].message
    assert fields(validate_labels(many[:31], ic)) == ["labels"]  # console limit 30 for single-label
    assert validate_labels(many[:50], tasktypes.IMAGE_MULTI_LABEL) == []


def test_validate_labels_collects_everything() -> None:
    problems = validate_labels(["a", "a", " ", "z" * 300], tasktypes.IMAGE_MULTI_LABEL)
    assert fields(problems) == ["labels[1]", "labels[2]", "labels[3]"]
    odd = validate_labels(["a", 7, None], tasktypes.BOUNDING_BOX)  # type: ignore[list-item]
    assert fields(odd) == ["labels[1]", "labels[2]"]


def test_load_from_storage(tmp_path: Path) -> None:
    storage = Storage(make_settings(tmp_path))
    path = tmp_path / "labels.json"
    storage.write_text(str(path), dumps_label_config(BIRDS))
    assert load_label_config(storage, str(path)).labels == BIRDS
    path.write_text('{"labels":[{"label":"a"},{"label":"a"}]}')
    with pytest.raises(ValidationError) as info:
        load_label_config(storage, str(path))
    assert info.value.problems[0].where == str(path)
    with pytest.raises(ObjectNotFound):
        load_label_config(storage, str(tmp_path / "missing.json"))
