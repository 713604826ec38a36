"""The built-in text learner (``gtcore.autolabel.text``) through the loop's ``Learner`` interface: trained on human
labels of a real text set (docstrings of installed packages), its saved file read back without pickle, the loop's
threshold rule picking machine labels that reach the 95 % target, inline and file texts through the loader.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from gtcore.autolabel import learner as lrn
from gtcore.autolabel import rules
from gtcore.autolabel import text as txt
from gtcore.autolabel.classifier import TrainingError
from gtcore.autolabel.text_sample import docstring_set
from gtcore.context import Context

PACKAGES = ("numpy", "sqlalchemy", "PIL")


@pytest.fixture(scope="module")
def sample() -> list[tuple[str, str]]:
    items = docstring_set(PACKAGES, per_package=400)
    if len({lab for _, lab in items}) < 3:
        pytest.skip("numpy, sqlalchemy and pillow are needed for the docstring set")
    random.Random(3).shuffle(items)
    return items


def test_learner_reaches_the_target_on_real_text(sample: list[tuple[str, str]], ctx: Context) -> None:
    labels = sorted({lab for _, lab in sample})
    keys = [(txt.inline_key(t), labels.index(lab)) for t, lab in sample]
    train, val, rest = keys[:500], keys[500:800], keys[800:]
    load = txt.text_loader(ctx.storage)
    lr = lrn.Learner("TextClassification", len(labels))
    assert lr.kind == "builtin-text" and lr.train(train, load) == 500
    confs, scores, _ = lrn.validation_scores(lr, val, load)
    th = rules.choose_threshold(confs, scores, rules.CLASSIFICATION_TARGET)
    assert th.value is not None and th.covered >= 100, th  # a usable threshold on the validation set
    auto = [(lr.predict(k, load), y) for k, y in rest]
    machine = [(p, y) for (p, c), y in auto if c >= th.value]
    accuracy = sum(p == y for p, y in machine) / len(machine)
    assert len(machine) >= len(rest) // 3 and accuracy >= 0.9, (len(machine), accuracy)
    again = txt.TextModel.from_bytes(lr.to_bytes() or b"")
    probe = [t for t, _ in sample[:5]]
    assert np.allclose(again.scores(probe), lr.model.scores(probe))


def test_loader_reads_files_and_inline_text(ctx: Context, tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_text("안녕하세요 from a file", encoding="utf-8")
    load = txt.text_loader(ctx.storage)
    assert load(str(f)) == ("안녕하세요 from a file", 1.0)
    assert load(txt.inline_key("inline\ntext")) == ("inline\ntext", 1.0)


def test_one_class_is_not_enough() -> None:
    with pytest.raises(TrainingError, match="one class"):
        txt.fit(["a b", "c d"], [1, 1], 3)
