import json
from pathlib import Path

import pytest
from PIL import Image

from gtcore.core.access import Actor
from gtcore.core.errors import PermissionDenied
from gtcore.manifests.samples import SAMPLE_LABELS, make_sample_faces


def test_sample_faces_written_with_truth(tmp_path: Path, system: Actor) -> None:
    s = make_sample_faces(system, tmp_path / "faces", count=5)
    pngs = sorted(p.name for p in s.folder.glob("*.png"))
    assert pngs == [f"face-{i:03d}.png" for i in range(5)]
    lines = (s.folder / "truth.manifest").read_text().splitlines()
    assert len(lines) == 5
    for line in lines:
        rec = json.loads(line)
        with Image.open(rec["source-ref"]) as im:
            assert im.size == (240, 240)
        labels = sorted(b["label"] for b in rec["boxes"])
        assert labels == ["ear", "ear", "eye", "eye", "mouth"]
        for b in rec["boxes"]:
            assert b["label"] in SAMPLE_LABELS
            assert b["left"] >= 0 and b["left"] + b["width"] <= 241
            assert b["top"] >= 0 and b["top"] + b["height"] <= 241


def test_sample_faces_deterministic(tmp_path: Path, system: Actor) -> None:
    a = make_sample_faces(system, tmp_path / "a", count=2)
    b = make_sample_faces(system, tmp_path / "b", count=2)
    assert (a.folder / "face-001.png").read_bytes() == (b.folder / "face-001.png").read_bytes()


def test_sample_faces_admin_only(tmp_path: Path) -> None:
    worker = Actor(user_id=1, email="w@example.com", roles=frozenset({"worker"}))
    with pytest.raises(PermissionDenied):
        make_sample_faces(worker, tmp_path / "x", count=1)
    assert not (tmp_path / "x").exists()
