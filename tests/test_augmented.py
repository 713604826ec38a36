"""Reading augmented manifests: every realdata file, every label kind, adjustment chains, damaged files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gtcore.core.errors import ManifestError, NotFound, UriNotAllowed
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import parse_augmented
from gtcore.storage.store import Storage
from tests.fixtures.core import make_settings, realdata_or_skip

# folder/file -> [(attribute, kind, lines)]
EXPECTED = {
    "bbox-bcbs-logo-1worker/output.manifest": [("bcbs-logo-labeling", "object-detection", 470)],
    "bbox-birds-5workers-consolidated/sample_output.manifest": [("category", "object-detection", 100)],
    "bbox-cat-1worker/output.manifest": [("cat-ground-truth", "object-detection", 4)],
    "bbox-hms-ayo-1worker/output.manifest": [("hms-ayo", "object-detection", 31)],
    "ic-banana-with-autogen-input/dataset-20200530T121341.manifest": [],
    "ic-banana-with-autogen-input/output.manifest": [("banana-1", "image-classification", 119)],
    "ic-coral-4class/output.manifest": [("test-label-dianthus", "image-classification", 229)],
    "ic-vehicles-2023/output.manifest": [("vehicle-labeling-demo", "image-classification", 10)],
    "semseg-pcb/output.manifest": [("S10-label3-ref", "semantic-segmentation", 1)],
}


def test_every_realdata_file_is_covered() -> None:
    root = realdata_or_skip()
    assert sorted(str(p.relative_to(root)) for p in root.glob("*/*.manifest")) == sorted(EXPECTED)


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_realdata_reads_through_storage_and_round_trips(rel: str, tmp_path: Path) -> None:
    root = realdata_or_skip()
    storage = Storage(make_settings(tmp_path, GT_LOCAL_ROOTS=str(root)))
    m = aug.read_augmented(storage, str(root / rel))
    raw_lines = (root / rel).read_text(encoding="utf-8").split("\n")[:-1]
    assert m.problems == [] and len(m.records) == len(raw_lines)
    assert m.lines == list(range(1, len(raw_lines) + 1))
    assert [(a.name, a.type, a.count) for a in m.attributes] == EXPECTED[rel]
    for raw, rec in zip(raw_lines, m.records, strict=True):
        out = aug.dumps_record(rec)
        assert json.loads(out) == json.loads(raw)  # JSON-equal, always
        if "\\u" not in raw:
            assert out == raw  # and byte-equal where Ground Truth wrote no \u escapes
    for a in m.attributes:
        assert a.output_type == f"groundtruth/{a.type}" and a.job_name.startswith("labeling-job/")
        assert not a.adjustment


def test_realdata_outside_the_local_roots_is_refused(tmp_path: Path) -> None:
    root = realdata_or_skip()
    storage = Storage(make_settings(tmp_path))
    with pytest.raises(UriNotAllowed):
        aug.read_augmented(storage, str(root / "bbox-cat-1worker" / "output.manifest"))


def test_boxes_sizes_and_metadata_of_real_lines() -> None:
    root = realdata_or_skip()
    cat = parse_augmented((root / "bbox-cat-1worker" / "output.manifest").read_bytes())
    assert aug.boxes_of(cat.records[0], "cat-ground-truth") == []  # the 2019 image without boxes
    assert aug.boxes_of(cat.records[2], cat.attributes[0]) == [
        aug.Box(0, "Cat", 239.0, 162.0, 284.0, 205.0, 0.09, 0),
        aug.Box(0, "Cat", 221.0, 107.0, 166.0, 124.0, 0.09, 1),
    ]
    assert aug.image_size_of(cat.records[0], "cat-ground-truth") == (601.0, 453.0, 3.0)
    assert aug.metadata_of(cat.records[1], "cat-ground-truth") == {
        "human-annotated": "yes",
        "job-name": "labeling-job/cat-ground-truth",
        "creation-date": "2019-01-29T13:29:11.847049",
        "type": "groundtruth/object-detection",
    }
    birds = parse_augmented((root / "bbox-birds-5workers-consolidated" / "sample_output.manifest").read_bytes())
    b = aug.boxes_of(birds.records[0], "category")[0]
    assert (b.top, b.left, b.confidence) == (164.60000000000002, 138.8, 0.93)
    vehicles = parse_augmented((root / "ic-vehicles-2023" / "output.manifest").read_bytes())
    assert aug.classes_of(vehicles.records[0], "vehicle-labeling-demo") == [aug.ClassLabel(3, "Helicopter", 0.95)]
    assert aug.class_names(vehicles.records, "vehicle-labeling-demo") == {
        0: "Airplane", 1: "Car", 2: "Ferry", 3: "Helicopter", 4: "Motorbike"
    }  # fmt: skip
    seg = parse_augmented((root / "semseg-pcb" / "output.manifest").read_bytes())
    mask = aug.mask_of(seg.records[0], "S10-label3-ref")
    assert mask is not None and mask.uri.endswith("/0_2022-09-09T17:25:31.918770.png")
    assert mask.classes[1] == ("IC", "#2ca02c", 0.0) and mask.classes[0][0] == "BACKGROUND"
    banana = parse_augmented((root / "ic-banana-with-autogen-input" / "output.manifest").read_bytes())
    assert any("=" in aug.source_of(r) for r in banana.records)  # \u003d read as "="


def _od(boxes: list, cmap: dict, extra: dict | None = None, name: str = "b", typ: str = "object-detection") -> dict:
    meta = {"objects": [{"confidence": 0.5}] * len(boxes), "class-map": cmap, "type": f"groundtruth/{typ}"}
    return {name: {"image_size": [{"width": 10, "height": 10, "depth": 3}], "annotations": boxes},
            f"{name}-metadata": {**meta, **(extra or {})}}  # fmt: skip


def test_find_attributes_sees_chains_and_every_kind() -> None:
    box = {"class_id": 0, "left": 1, "top": 1, "width": 2, "height": 2}
    chain = {"source-ref": "s3://b/x.jpg", **_od([box], {"0": "a"}, name="orig")}
    chain.update(_od([box], {"0": "a"}, {"adjustment-status": "unadjusted"}, name="orig-adjusted"))
    chain["multi"] = [1, 0]
    chain["multi-metadata"] = {"class-map": {"0": "x", "1": "y"}, "confidence-map": {"1": 0.9},
                               "type": "groundtruth/image-classification-multilabel"}  # fmt: skip
    chain["verify"] = "1"
    chain["verify-metadata"] = {"class-name": "good", "confidence": 0.8, "type": "groundtruth/label-verification"}
    chain["untyped"] = 2
    chain["untyped-metadata"] = {"class-name": "two"}
    chain["shapeless-ref"] = "s3://b/mask.png"
    chain["shapeless-ref-metadata"] = {"internal-color-map": {}}
    chain["orphan-metadata"] = {"type": "groundtruth/object-detection"}  # no "orphan" key: not an attribute
    attrs = {a.name: a for a in aug.find_attributes([chain, {"source-ref": "s3://b/y.jpg"}])}
    assert list(attrs) == ["orig", "orig-adjusted", "multi", "verify", "untyped", "shapeless-ref"]
    assert attrs["orig-adjusted"].type == "object-detection" and attrs["orig-adjusted"].adjustment
    assert not attrs["orig"].adjustment and "adjustment" in attrs["orig-adjusted"].label
    assert attrs["multi"].type == "multi-label" and attrs["verify"].type == "label-verification"
    assert attrs["untyped"].type == "image-classification" and attrs["shapeless-ref"].type == "semantic-segmentation"
    assert all(a.count == 1 for a in attrs.values())
    assert aug.classes_of(chain, "multi") == [aug.ClassLabel(1, "y", 0.9), aug.ClassLabel(0, "x", None)]
    assert aug.classes_of(chain, "verify") == [aug.ClassLabel(1, "good", 0.8)]


def test_damaged_lines_become_problems_and_odd_values_are_kept_visible() -> None:
    good = json.dumps({"source-ref": "s3://b/a.jpg", **_od([{"class_id": "0", "left": "x", "top": 1,
                                                             "width": 2, "height": 2}], {})})  # fmt: skip
    data = "\ufeff" + "\n".join([good, "{not json", "[1, 2]", "", '{"source-ref": "s3://b/c.jpg", "x": NaN}']) + "\n"
    m = parse_augmented(data.encode() + b"\xff\xfe\n", where="upload:bad.manifest")
    assert [(p.line, p.message.split(":")[0]) for p in m.problems] == [
        (6, f"not UTF-8 at byte {len(data.encode())} (undecodable bytes read as U+FFFD)"),
        (2, "not valid JSON"),
        (3, "a manifest line must be a JSON object, got list"),
        (4, "blank line"),
        (6, "not valid JSON"),
    ]
    assert m.lines == [1, 5]
    b = aug.boxes_of(m.records[0], "b")[0]
    assert b.class_id == 0 and b.class_name == "" and math.isnan(b.left) and b.top == 1.0
    assert math.isnan(m.records[1]["x"])  # NaN loads; the export linter reports it
    with pytest.raises(ManifestError, match="nothing to show"):
        parse_augmented(b"")
    with pytest.raises(ManifestError):
        parse_augmented(b"nope\n[]\n")
    with pytest.raises(NotFound, match="attributes in the file: b"):
        m.attribute("missing")


def test_numbers_are_read_exactly_whatever_parser_is_installed() -> None:
    m = parse_augmented(b'{"id":12345678901234567890123,"f":164.60000000000002,"z":-0.0,"n":NaN}\n')
    rec = m.records[0]
    assert rec["id"] == 12345678901234567890123 and isinstance(rec["id"], int)
    assert rec["f"] == 164.60000000000002 and math.isnan(rec["n"])
    assert aug.dumps_record({k: v for k, v in rec.items() if k != "n"}) == (
        '{"id":12345678901234567890123,"f":164.60000000000002,"z":-0.0}'
    )
