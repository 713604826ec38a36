"""gtcore.manifests.fastjson gives exactly the standard library's results (orjson only where it is byte-identical)."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from gtcore.core.errors import ManifestError
from gtcore.manifests import fastjson
from gtcore.manifests import jsonl as manifest

TRICKY_FLOATS = [0.0, -0.0, 1.0, 0.1 + 0.2, 164.60000000000002, 1e-4, 9.99e-5, 1e-5, 2.5e-7, 5e-324, 1e15, 1e16,
                 123456789012345.6, 1.7976931348623157e308, 1e22, 0.00012, 10.00001, 400.00000000000006]  # fmt: skip
TRICKY_TEXT = ["", "plain", 'quote " and \\ backslash', "é ü 中文 🐦", "\u2028\u2029", "\x7f", "a=b&c'd", "job-10e5",
               "null", "0.00001", *[chr(c) for c in range(32)]]  # fmt: skip


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.choice(TRICKY_FLOATS) * rng.choice([1, -1])
    if kind == 1:
        return rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-12, 12)
    if kind == 2:
        return rng.choice([rng.randint(-(2**63), 2**63 - 1), rng.randint(0, 5000), 2**64 - 1, True, False])
    if kind == 3:
        return rng.choice(TRICKY_TEXT) + "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(6)))
    if kind == 4:
        return rng.choice([0, 3, 7.5, "x"])
    if kind == 5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(TRICKY_TEXT) + str(k): _random_value(rng, depth + 1) for k in range(rng.randrange(4))}


def _records(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [{f"k{j}": _random_value(rng) for j in range(rng.randrange(1, 6))} for _ in range(n)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dumps_equal_the_standard_encoder(seed: int) -> None:
    recs = _records(3000, seed)
    expected = [manifest.dumps_line(r) for r in recs]
    assert [fastjson.dumps_line(r) for r in recs] == expected
    assert fastjson.dumps_many(recs) == expected
    known = [*TRICKY_TEXT, ",1e16,", ":1e-05}"]  # strings holding JSON punctuation are never taken out
    assert fastjson.dumps_many(recs, known_strings=known) == expected
    assert [fastjson.dumps_line(r, known_strings=known) for r in recs[:300]] == expected[:300]


def test_dumps_a_box_record_and_the_fallbacks() -> None:
    rec = {
        "a": {"annotations": [{"class_id": 0, "top": 164.60000000000002, "left": 138.8, "height": 859}]},
        "a-metadata": {"objects": [{"confidence": 0.93}], "class-map": {"0": "Bird"}, "job-name": "labeling-job/x"},
    }
    assert fastjson.dumps_line(rec) == json.dumps(rec, separators=(",", ":"), ensure_ascii=False)
    for odd in ({"x": 1e-05}, {"x": 1e16}, {"x": None}, {"x": 2**70}, {"x": "\ud800"}):
        assert fastjson.dumps_line(odd) == json.dumps(odd, separators=(",", ":"), ensure_ascii=False)
    assert fastjson.dumps_many([{"x": 1e-05}, {"y": 1}]) == ['{"x":1e-05}', '{"y":1}']
    # a job name with a digit before "e": the fast path when the caller names it, the same text either way
    named = {"a-metadata": {"job-name": "labeling-job/v1e", "confidence": 0.5}, "big": 1e16}
    assert fastjson.dumps_many([named], known_strings=["labeling-job/v1e"]) == [manifest.dumps_line(named)]
    assert '"big":1e+16' in fastjson.dumps_line(named, known_strings=["labeling-job/v1e"])
    assert fastjson._differs(b'{"j":"labeling-job/v1e"}') and not fastjson._differs(
        b'{"j":"labeling-job/v1e"}', fastjson._literals(["labeling-job/v1e"]))  # fmt: skip
    for bad in ({"x": math.nan}, {"x": math.inf}):
        with pytest.raises(ManifestError):
            fastjson.dumps_line(bad)
        with pytest.raises(ManifestError):
            fastjson.dumps_many([bad])


@pytest.mark.parametrize("seed", [4, 5])
def test_loads_equal_the_standard_parser(seed: int) -> None:
    texts = [json.dumps(r, ensure_ascii=rng_flag) for r, rng_flag in zip(_records(2000, seed), [True, False] * 1000,
                                                                          strict=True)]  # fmt: skip
    texts += ['{"big":123456789012345678901234}', '{"neg":-9223372036854775809}', '{"n":NaN}', '{"i":-Infinity}',
              '{"s":"\\ud800"}', '{"huge":1e400}', '[1, 2.50, "x"]']  # fmt: skip
    expected = [json.loads(t) for t in texts]

    def same(a: Any, b: Any) -> bool:  # NaN != NaN: compare through repr, types included
        return repr(a) == repr(b) and type(a) is type(b)

    assert all(same(fastjson.loads(t), e) for t, e in zip(texts, expected, strict=True))
    assert all(same(a, e) for a, e in zip(fastjson.loads_many(texts), expected, strict=True))
    assert type(fastjson.loads('{"big":123456789012345678901234}')["big"]) is int
    with pytest.raises(ValueError):
        fastjson.loads("{not json")
