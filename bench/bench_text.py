"""Benchmark: text labeling (issue 23), every figure measured in one run on this machine.

    python bench/bench_text.py [--objects 100000] [--pairs 2000] [--sim 5000] [--ner-tasks 20] [--skip-browser]

Printed:

1. **Creation**: a text-classification job of ``--objects`` inline texts (``{"source": ...}``, real sentences from
   installed packages' docstrings, numbered so no two are equal) created through ``gtcore.jobs.api`` on SQLite, and
   an image-classification job of as many ``source-ref`` lines in the same run (the bare comparison).
2. **Claim + submit pairs/s**: one worker answers ``--pairs`` objects of each job (``queue.claim_next`` +
   ``queue.submit``: validation, leases, everything a submit runs); the ratio text / image.
3. **Consolidation accuracy against the truth** on simulated annotators: text classification (``--sim`` texts,
   4 labels, 3 workers per text from a crowd of 30 with accuracies 0.55-0.95 and 3 spammers): the product's
   consolidation (the Dawid-Skene EM of ``records.build_records``) against majority vote; NER (``--sim`` / 2 texts,
   3 workers each missing an entity 15 %, moving a boundary 20 %, mislabeling 10 %, adding a stray span 10 %):
   exact-match entity precision / recall / F1 of the consolidated spans and of one worker alone.
4. **NER screen, Submit -> next text** in Debian chromium (the real app under ``streamlit run``): for each of
   ``--ner-tasks`` texts mark one word with Shift+Ctrl+Right and key 1, press Ctrl+Enter, and time until the next
   text is on the screen (page clock, median).
5. **Automated labeling on a real text set**: the docstrings of numpy, scipy, pandas, SQLAlchemy, scikit-learn,
   Pillow, botocore and Streamlit as installed (``gtcore.autolabel.text_sample``, at most 2,500 each), labeled
   by package. One
   iteration of the loop's rules on it: people label the training batch (``MaxConcurrentTaskCount`` 1000 - 10) and
   the validation set (``rules.validation_size``), the built-in text learner trains, ``rules.choose_threshold``
   picks the threshold for 95 %, the rest above it is machine-labeled: fraction and accuracy against the truth.

The 1-minute load average is printed before each part (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gtcore.autolabel import learner as lrn  # noqa: E402
from gtcore.autolabel import rules  # noqa: E402
from gtcore.autolabel import text as txt  # noqa: E402
from gtcore.autolabel.text_sample import DEFAULT_PACKAGES, docstring_set  # noqa: E402
from gtcore.consolidation.spans import Span, consolidate_spans  # noqa: E402
from gtcore.context import Context  # noqa: E402
from gtcore.core import tasktypes  # noqa: E402
from gtcore.core.access import Actor  # noqa: E402
from gtcore.jobs import api as jobs  # noqa: E402
from gtcore.output import records  # noqa: E402
from gtcore.queue import api as queue  # noqa: E402
from tests.fixtures.core import make_settings, make_team, make_user  # noqa: E402

SYSTEM = Actor.system_actor()


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def request(root: Path, name: str, lines: list[dict[str, Any]], task_type: str, labels: list[str]) -> dict[str, Any]:
    manifest = root / f"{name}.manifest"
    manifest.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    cfg = root / f"{name}-labels.json"
    cfg.write_text(json.dumps({"document-version": "2018-11-28", "labels": [{"label": x} for x in labels]}))
    return {
        "LabelingJobName": name,
        "LabelAttributeName": name,
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": str(manifest)}}},
        "OutputConfig": {"S3OutputPath": str(root / "output")},
        "LabelCategoryConfigS3Uri": str(cfg),
        "HumanTaskConfig": {
            "WorkteamArn": "team-a",
            "TaskType": task_type,
            "TaskTitle": name,
            "TaskDescription": "bench",
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 300,
        },
    }


def part_jobs(root: Path, n: int, pairs: int, sentences: list[str]) -> None:
    print(f"\n1-2. creation and claim+submit (SQLite), load {load()}")
    root.mkdir(parents=True, exist_ok=True)
    ctx = Context.from_settings(make_settings(root))
    team = make_team(ctx.db, "team-a")
    worker = make_user(ctx.db, "w@example.test", ("worker",), (team,))
    labels = ["Positive", "Negative", "Neutral", "Marketing"]
    texts = [{"source": f"{sentences[i % len(sentences)]} (#{i})"} for i in range(n)]
    images = [{"source-ref": str(root / "images" / f"img-{i:06d}.png")} for i in range(n)]
    made = {}
    for name, lines, tt in (("text-job", texts, "TextClassification"), ("image-job", images, "ImageClassification")):
        req = request(root, name, lines, tt, labels)
        t = time.perf_counter()
        made[name] = jobs.create_labeling_job(ctx, SYSTEM, req)
        print(f"   {tt:<20} {n:,} objects created in {time.perf_counter() - t:6.1f} s")
    rates: dict[str, list[float]] = {"text-job": [], "image-job": []}
    elements = {"text-job": "crowd-classifier", "image-job": "crowd-image-classifier"}
    order = ["text-job", "image-job"]
    for _round in range(4):  # alternating which goes first (the first measured pays for warming up)
        for name in order:
            t = time.perf_counter()
            for k in range(pairs // 4):
                task = queue.claim_next(ctx, worker, made[name].job_id)
                assert task is not None
                queue.submit(ctx, worker, task.assignment_id, {elements[name]: {"label": labels[k % 4]}})
            rates[name].append(pairs // 4 / (time.perf_counter() - t))
        order.reverse()
    for name, got in rates.items():
        print(f"   {name:<20} {statistics.median(got):7.1f} claim+submit pairs/s (median of 4 rounds of "
              f"{pairs // 4:,}; rounds {', '.join(f'{r:.0f}' for r in got)}; load {load()})")  # fmt: skip
    print(f"   ratio text / image: {statistics.median(rates['text-job']) / statistics.median(rates['image-job']):.2f}")
    ctx.db.dispose()


def part_consolidation(n: int) -> None:
    print(f"\n3. consolidation against the truth (simulated annotators), load {load()}")
    rng = random.Random(23)
    k = 4
    crowd = [rng.uniform(0.55, 0.95) for _ in range(27)] + [None, None, None]  # None: a spammer (random answers)
    labels = [f"c{i}" for i in range(k)]
    truth = [rng.randrange(k) for _ in range(n)]
    items = []
    for i, y in enumerate(truth):
        answers = []
        for w in rng.sample(range(len(crowd)), 3):
            acc = crowd[w]
            right = acc is not None and rng.random() < acc
            pick = y if right else rng.choice([c for c in range(k) if c != y] if acc is not None else range(k))
            answers.append(records.WorkerAnswer(f"w{w}", {"crowd-classifier": {"label": labels[pick]}}))
        items.append(records.ObjectAnswers(i, {"source": f"t{i}"}, answers))
    spec = records.RecordSpec(tasktypes.TEXT_CLASSIFICATION, labels, "a", "bench")
    t = time.perf_counter()
    out = records.build_records(spec, items)
    em_time = time.perf_counter() - t
    em = sum(out[i]["a"] == y for i, y in enumerate(truth)) / n
    mv_right = 0
    for it, y in zip(items, truth, strict=True):
        votes = Counter(labels.index(a.content["crowd-classifier"]["label"]) for a in it.answers).most_common()
        tied = [c for c, v in votes if v == votes[0][1]]
        mv_right += rng.choice(tied) == y
    print(f"   text classification, {n:,} texts x 3 workers: EM {em:.3f} (in {em_time:.1f} s), majority vote "
          f"{mv_right / n:.3f}")  # fmt: skip

    m = max(1, n // 2)
    tp = fp = fn = 0
    tp1 = fp1 = fn1 = 0
    ner_labels = ["PER", "LOC", "ORG", "DATE"]
    for _ in range(m):
        gold = []
        pos = 0
        for _e in range(rng.randint(1, 5)):
            pos += rng.randint(2, 30)
            length = rng.randint(3, 15)
            gold.append(Span(rng.choice(ner_labels), pos, pos + length))
            pos += length
        workers = []
        for _w in range(3):
            spans = []
            for g in gold:
                if rng.random() < 0.15:
                    continue
                s, e, lab = g.start, g.end, g.label
                if rng.random() < 0.2:
                    s, e = s + rng.choice([-2, -1, 1]), e + rng.choice([-1, 1, 2])
                if rng.random() < 0.1:
                    lab = rng.choice([x for x in ner_labels if x != lab])
                spans.append(Span(lab, max(0, s), max(s + 1, e)))
            if rng.random() < 0.1:
                s = rng.randint(0, pos)
                spans.append(Span(rng.choice(ner_labels), s, s + rng.randint(2, 8)))
            workers.append(spans)
        merged = {(x.label, x.start, x.end) for x in consolidate_spans(workers, seed=pos)}
        want = {(g.label, g.start, g.end) for g in gold}
        tp, fp, fn = tp + len(merged & want), fp + len(merged - want), fn + len(want - merged)
        one = {(x.label, x.start, x.end) for x in workers[0]}
        tp1, fp1, fn1 = tp1 + len(one & want), fp1 + len(one - want), fn1 + len(want - one)

    def f1(a: int, b: int, c: int) -> str:
        p, r = a / max(1, a + b), a / max(1, a + c)
        return f"precision {p:.3f}, recall {r:.3f}, F1 {2 * p * r / max(1e-9, p + r):.3f}"

    print(
        f"   NER, {m:,} texts x 3 workers, exact spans: consolidated {f1(tp, fp, fn)}; one worker {f1(tp1, fp1, fn1)}"
    )


def part_autolabel(storage: Any) -> None:
    print(f"\n5. automated labeling on a real text set, load {load()}")
    t = time.perf_counter()
    items = docstring_set(DEFAULT_PACKAGES, per_package=2500)
    found = Counter(lab for _, lab in items)
    print(f"   docstrings of {', '.join(f'{k} {v:,}' for k, v in found.items())}: {len(items):,} texts "
          f"(read in {time.perf_counter() - t:.1f} s)")  # fmt: skip
    random.Random(7).shuffle(items)
    labels = sorted(found)
    keyed = [(txt.inline_key(x), labels.index(y)) for x, y in items]
    n_train, n_val = rules.training_batch_size(1000), rules.validation_size(len(keyed))
    train, val, rest = keyed[:n_train], keyed[n_train : n_train + n_val], keyed[n_train + n_val :]
    load_text = txt.text_loader(storage)
    lr = lrn.Learner("TextClassification", len(labels))
    t = time.perf_counter()
    lr.train(train, load_text)
    trained = time.perf_counter() - t
    confs, scores, _ = lrn.validation_scores(lr, val, load_text)
    th = rules.choose_threshold(confs, scores, rules.target_for("TextClassification")[1])
    t = time.perf_counter()
    preds = [(lr.predict(k, load_text), y) for k, y in rest]
    inferred = time.perf_counter() - t
    print(f"   people: {len(train):,} training + {len(val):,} validation; trained in {trained:.1f} s; "
          f"threshold {th.value} (validation accuracy above it {th.metric})")  # fmt: skip
    if th.value is None:
        print("   no threshold reaches 95 % on the validation set: everything would go to people")
        return
    machine = [(p, y) for (p, c), y in preds if c >= th.value]
    acc = sum(p == y for p, y in machine) / max(1, len(machine))
    all_acc = sum(p == y for (p, _c), y in preds) / max(1, len(preds))
    print(f"   machine-labeled {len(machine):,} of the other {len(rest):,} ({len(machine) / max(1, len(rest)):.1%}), "
          f"accuracy {acc:.3f} against the package truth (model accuracy on all of them {all_acc:.3f}); "
          f"inference {len(rest) / inferred:,.0f} texts/s")  # fmt: skip


def part_browser(root: Path, n: int) -> None:
    from gtcore.jobs import api as jobs_api
    from tests.browser import StreamlitServer, launch_chromium, new_page, wait_for_idle, wait_until
    from tests.fixtures.labeling import APP, KEYDOWN_JS, LabelWorld, sign_in, start_job
    from tests.fixtures.people import PASSWORD
    from tests.test_ner import ner_request

    print(f"\n4. NER screen Submit -> next text in chromium, load {load()}")
    root.mkdir(parents=True, exist_ok=True)
    world = LabelWorld.create(root)
    world.worker("bench@example.test")
    texts = [f"Text {i}: Ana Lima met Bob in Paris on 3 May with 김민수 🐍." for i in range(n + 2)]
    req = ner_request(world.jobs, "ner-bench", [{"source": t} for t in texts])
    jobs_api.create_labeling_job(world.ctx, world.jobs.actor, req)
    times = []
    with StreamlitServer(APP, world.env, log_path=root / "streamlit.log") as app, launch_chromium() as browser:
        page = new_page(browser, width=1400, height=1000)
        page.add_init_script(KEYDOWN_JS)
        sign_in(page, app.base_url, "bench@example.test", PASSWORD)
        start_job(page, req["HumanTaskConfig"]["TaskTitle"])
        box = page.locator(".gt-ner-text")
        for i in range(n):
            wait_until(lambda i=i: box.inner_text().startswith(f"Text {i}:"), timeout=60, what=f"text {i}")
            wait_for_idle(page, settle=0.2)
            box.focus()
            page.keyboard.press("Control+ArrowRight")
            page.keyboard.press("Control+ArrowRight")
            page.keyboard.press("Shift+Control+ArrowRight")
            page.keyboard.press("1")
            wait_until(lambda: page.locator(".gt-ner-chip").count() == 1, timeout=30, what="one entity")
            wait_for_idle(page, settle=0.2)
            page.keyboard.press("Control+Enter")
            shown = page.wait_for_function(
                "(want) => { const b = document.querySelector('.gt-ner-text');"
                " return b && b.innerText.startsWith(want) ? performance.now() : null; }",
                arg=f"Text {i + 1}:",
                polling="raf",
                timeout=60_000,
            )
            times.append(float(shown.json_value()) - float(page.evaluate("() => window.__gtKeyAt")))
    answers = world.responses("ner-bench")
    print(f"   {len(times)} submits: median {statistics.median(times):.0f} ms, min {min(times):.0f}, "
          f"max {max(times):.0f} ms; {len(answers)} worker-response files written")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--objects", type=int, default=100_000)
    p.add_argument("--pairs", type=int, default=2000)
    p.add_argument("--sim", type=int, default=5000)
    p.add_argument("--ner-tasks", type=int, default=20)
    p.add_argument("--skip-browser", action="store_true")
    args = p.parse_args()
    print(f"{os.cpu_count()} cores, load average (1/5/15 min) {load()}")
    sentences = [t for t, _ in docstring_set(("numpy", "sqlalchemy"), per_package=2000)]
    with tempfile.TemporaryDirectory(prefix="bench-text-") as tmp:
        root = Path(tmp)
        part_jobs(root / "jobs", args.objects, args.pairs, sentences)
        part_consolidation(args.sim)
        if not args.skip_browser:
            part_browser(root / "browser", args.ner_tasks)
        (root / "al").mkdir()
        ctx = Context.from_settings(make_settings(root / "al"))
        part_autolabel(ctx.storage)
        ctx.db.dispose()
    print(f"\nload average at the end {load()}")


if __name__ == "__main__":
    main()
