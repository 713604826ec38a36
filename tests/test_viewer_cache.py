"""The viewer's cache of parsed manifests is measured in bytes, not manifests (issue 28: three parsed 100k-line
manifests took about 3 GB per server process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.viewer import opener


def _manifest(path: Path, lines: int) -> str:
    path.write_text("".join(json.dumps({"source-ref": f"s3://b/{i}.jpg", "n": i}) + "\n" for i in range(lines)))
    return str(path)


def test_the_cache_keeps_what_fits_its_byte_budget(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = [_manifest(tmp_path / f"s{i}.manifest", 20) for i in range(3)]
    big = _manifest(tmp_path / "big.manifest", 400)
    size = Path(small[0]).stat().st_size * opener.PARSED_PER_FILE_BYTE
    cache = opener._Lru(int(size * 2.5))  # room for two of the small ones
    monkeypatch.setattr(opener, "_CACHE", cache)
    actor = Actor.system_actor()
    first = [opener.open_manifest(ctx, actor, u) for u in small]
    assert opener.open_manifest(ctx, actor, small[2]) is first[2]  # kept
    assert opener.open_manifest(ctx, actor, small[1]) is first[1]
    assert opener.open_manifest(ctx, actor, small[0]) is not first[0]  # the oldest went out for the third
    assert cache.used <= cache.budget
    b1 = opener.open_manifest(ctx, actor, big)  # larger than the whole budget: not kept at all
    assert opener.open_manifest(ctx, actor, big) is not b1
    assert len(b1.records) == 400 and cache.used <= cache.budget
    assert opener.open_manifest(ctx, actor, small[1]) is first[1]  # the big one pushed nothing out
