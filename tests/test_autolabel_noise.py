"""The bound against the TRUTH when the human labels are noisy: each validation label's probability of being
right (the consolidation's posterior) enters ``bounds.noisy_lower_bound``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import select

from gtcore.autolabel import bounds, pool, posterior, rules
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.jobs import api as jobs
from gtcore.manifests.sample_digits import DIGIT_LABELS
from tests.fixtures.autolabel import AutoWorld
from tests.fixtures.core import make_user
from tests.fixtures.simulate import label_posterior


def test_noisy_bound_is_clopper_pearson_on_sure_labels_and_corrects_for_doubtful_ones() -> None:
    assert bounds.noisy_lower_bound(95, 100, [1.0] * 100) == bounds.accuracy_lower_bound(95, 100)
    # 288 of 300 agree with labels that are ~96 % right: the model itself is better than the agreement says
    q = [0.96] * 300
    assert bounds.noisy_lower_bound(288, 300, q) > bounds.accuracy_lower_bound(288, 300)
    assert bounds.noisy_lower_bound(288, 300, q) > 0.95
    assert bounds.noisy_lower_bound(0, 0, []) == 0.0
    # with labels barely better than a coin no correction is claimed
    assert bounds.noisy_lower_bound(60, 100, [0.5] * 100) == bounds.accuracy_lower_bound(60, 100)


def _answers(rng: np.random.Generator, truth: int, k: int, error: float, workers: int) -> list[int]:
    return [
        int(rng.choice([c for c in range(k) if c != truth])) if rng.random() < error else truth for _ in range(workers)
    ]


def test_with_noisy_labels_the_promise_holds_against_the_truth_and_more_is_labeled() -> None:
    """3 annotators at 15 % error, 10 classes: about 4 % of the consolidated labels are wrong. The model's
    confidence is calibrated against the TRUTH; over 200 validation draws the machine labels at the threshold
    chosen with the labels' posteriors meet 0.95 against the truth in at least 190, and a threshold is found in
    many more draws than when the labels are taken as sure."""
    rng = np.random.default_rng(5)
    k, error, n, a = 10, 0.15, 360, 30.0
    pool_conf = np.sort(np.clip(rng.beta(a, 1.0, 400_000), 0.1, 1.0))
    tail = np.cumsum(pool_conf[::-1])[::-1] / np.arange(len(pool_conf), 0, -1)
    met = noisy = plain = 0
    for _ in range(200):
        conf = np.clip(rng.beta(a, 1.0, n), 0.1, 1.0)
        truth = rng.integers(0, k, n)
        pred = np.where(rng.random(n) < conf, truth, (truth + rng.integers(1, k, n)) % k)
        agree, right = [], []
        for i in range(n):
            post = label_posterior(_answers(rng, int(truth[i]), k, error, 3), k, error)
            agree.append(float(int(np.argmax(post)) == int(pred[i])))
            right.append(float(np.max(post)))
        th = rules.choose_threshold(conf, agree, 0.95, label_right=right)
        noisy += th.value is not None
        met += th.value is None or float(tail[np.searchsorted(pool_conf, th.value, side="left")]) >= 0.95
        plain += rules.choose_threshold(conf, agree, 0.95).value is not None
    assert met >= 190, met
    assert noisy >= 150, noisy
    assert noisy > plain + 50, (noisy, plain)


def test_label_right_reads_the_posterior_and_old_rows_count_as_sure() -> None:
    post = {7: np.array([0.1, 0.9]), 8: np.array([0.5, 0.5])}
    assert posterior.label_right([7, 8, 9], post) == [0.9, 0.5, 1.0]
    rows = pool.triples("[[1,0.9,1.0],[2,0.8,0.0,0.75]]")
    assert pool.remaining(rows, {9}) == ([0.9, 0.8], [1.0, 0.0], [1.0, 0.75])


def test_job_posteriors_from_three_noisy_annotators(auto_world: AutoWorld) -> None:
    """A job's stored answers (3 people an object, 20 % of answers wrong) give each object with 2+ answers a
    posterior; wrong consolidated labels are on average less sure than right ones."""
    w = auto_world
    with w.ctx.db.read() as c:
        team = int(c.execute(select(dbm.teams.c.id).where(dbm.teams.c.name == w.team)).scalar_one())
    w.workers.append(make_user(w.ctx.db, "w9@example.com", team_ids=(team,)))
    req = w.request("classification", 400, max_concurrent=50)
    req["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] = 3
    job = jobs.create_labeling_job(w.ctx, Actor.system_actor(), req).job_id
    w.run(job, "classification", 400, error_rate=0.2, rounds=3, every=None)
    _, truth = w.dataset("classification", 400)
    with w.ctx.db.read() as c:
        refs = dict(
            c.execute(select(dbm.objects.c.idx, dbm.objects.c.source_ref).where(dbm.objects.c.job_id == job)).all()
        )
    post = posterior.job_posteriors(w.ctx, job, DIGIT_LABELS, "ImageClassification")
    assert len(post) >= 100
    right = [float(p.max()) for i, p in post.items() if DIGIT_LABELS[int(p.argmax())] == truth[Path(refs[i]).name]]
    wrong = [float(p.max()) for i, p in post.items() if DIGIT_LABELS[int(p.argmax())] != truth[Path(refs[i]).name]]
    assert right and min(right) > 0.3 and sum(right) / len(right) > 0.9
    assert not wrong or sum(wrong) / len(wrong) < sum(right) / len(right)
    assert posterior.job_posteriors(w.ctx, job, DIGIT_LABELS, "BoundingBox") == {}
