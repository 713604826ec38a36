"""The ``autolabel.train`` step of round N (run by background workers; ``autolabel.infer``: ``inference``).

``train``: consolidate the human answers settled so far (``gtcore.output.writer.write_intermediate``, which also
writes round N's intermediate manifest), train on the human labels of earlier rounds except the validation set's
(never on round N's batch: people are labeling it now, and it is the round's fresh check), predict the validation
set, choose the threshold on the one-sided lower bound (``rules.choose_threshold``; for classification against
the truth, with each human label's probability of being right from the consolidation, ``posterior``), save the model
(``models.save``: atomic file + SHA-256) and write ``training/<N>/`` and ``activelearning/<N>/validation/``.
A job that starts from a model (``InitialActiveLearningModelArn``) keeps it when it covers more of the validation
set at the target than the freshly trained one.

``infer``: ``gtcore.autolabel.inference``.

Both are idempotent: an iteration whose ``finished_at`` (infer) or ``model_id``/``threshold`` (train) is set is
not redone; a retry after a crash does the same work again, and store writes are whole-file (tmp then rename), so a
worker killed mid-way leaves no half-written model or output. A model that cannot be used (``ModelError``) switches
the job to people only (``loop.go_human_only``); too few labels to train (``TrainingError``) skips the machine
labels of that iteration only.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from sqlalchemy import select, update

from gtcore.autolabel import files, loop, models, opening, outputs, pool, posterior, rules
from gtcore.autolabel import learner as lrn
from gtcore.autolabel import text as txt
from gtcore.autolabel.classifier import TrainingError
from gtcore.autolabel.features import load_image
from gtcore.autolabel.segmenter import MaskTruth
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import extras
from gtcore.output import writer

log = logging.getLogger(__name__)
O = dbm.objects  # noqa: E741
IT = dbm.autolabel_iterations
S = dbm.autolabel_jobs
CHUNK = 200
MISSING_EXTRA = f"the background worker lacks the automated-labeling libraries: {extras.AUTOLABEL_INSTALL}"


def _context(ctx: Context, job_id: int, iteration: int) -> tuple[loop.JobFacts, Any, Any] | None:
    with ctx.db.read() as conn:
        f = loop.job_facts(conn, job_id)
        st = conn.execute(select(S).where(S.c.job_id == job_id)).first()
        it = conn.execute(select(IT).where(IT.c.job_id == job_id, IT.c.iteration == iteration)).first()
    if f is None or st is None or it is None or f.status != "InProgress" or st.phase != "loop":
        return None
    return f, st, it


def _loader(ctx: Context, task_type: str = "") -> lrn.Loader:
    if task_type == lrn.TEXT:  # texts: source-ref files or the inline text (gtcore.autolabel.text)
        return txt.text_loader(ctx.storage)
    return lambda uri: load_image(ctx, uri)


def _human_items(ctx: Context, f: loop.JobFacts, roles: tuple[str, ...], before: int | None = None,
                 iteration: int | None = None) -> list[tuple[int, str, Any, str]]:  # fmt: skip
    """Items (idx, image URI, human label, line) from the stored consolidated labels of the objects of ``roles``,
    released before round ``before`` or in round ``iteration``."""
    q = select(O.c.idx, O.c.source_ref, O.c.consolidated_json, O.c.line_json).where(
        O.c.job_id == f.id, O.c.status == "done", O.c.consolidated_json.is_not(None), O.c.al_role.in_(roles)
    )
    if before is not None:
        q = q.where(O.c.al_iteration < before)
    if iteration is not None:
        q = q.where(O.c.al_iteration == iteration)
    with ctx.db.read() as conn:
        rows = conn.execute(q.order_by(O.c.idx)).all()
    out: list[tuple[int, str, Any, str]] = []
    masks = f.task_type == lrn.SEMSEG
    for idx, ref, enc, line in rows:
        ref = txt.object_key(ref, line) if f.task_type == lrn.TEXT else ref
        label = outputs.human_label(json.loads(enc), f.attr, f.labels, masks=masks) if ref else None
        if label is None:
            continue
        if masks:  # the consolidated mask PNG, read when the learner needs it
            label = MaskTruth(str(label), ctx.storage.read_bytes)
        out.append((int(idx), str(ref), label, str(line)))
    return out


TRAINING_ROLES = ("probe", "train", "batch", "check")


def _finish_iteration(ctx: Context, job_id: int, n: int, **values: Any) -> None:
    with ctx.db.write() as conn:
        conn.execute(update(IT).where(IT.c.job_id == job_id, IT.c.iteration == n).values(**values))


def _better(a: rules.Threshold, b: rules.Threshold) -> bool:
    """Whether a candidate with threshold ``a`` beats one with ``b``: it covers more of the validation set at the
    bound; at equal coverage (none at all, most often) its bound is higher. The bound of a candidate that proved
    nothing is that of its most confident objects: the round reports, and picks its next batch by, the model
    nearer the target, not whichever was scored first."""
    if a.covered != b.covered:
        return a.covered > b.covered
    return (a.bound if a.bound is not None else -1.0) > (b.bound if b.bound is not None else -1.0)


def model_unusable(ctx: Context, job_id: int, n: int, exc: Exception) -> None:
    """A round's model cannot be used (a bad or missing model file, or the automated-labeling libraries missing on
    this worker: scikit-learn / scipy / onnx / onnxruntime / torch): the job goes on with people, the reason shown."""
    reason = f"{MISSING_EXTRA} ({exc})" if isinstance(exc, ImportError) else str(exc)
    loop.go_human_only(ctx, job_id, reason, n)


def train(ctx: Context, job_id: int, n: int) -> list[loop.Action]:
    got = _context(ctx, job_id, n)
    if got is None:
        return []
    f, st, it = got
    if it.finished_at is not None or loop.trained(it):
        return [("infer", n)] if it.finished_at is None else []
    writer.write_intermediate(ctx, job_id, iteration=n)  # consolidates the settled human answers
    train_items = _human_items(ctx, f, TRAINING_ROLES, before=n)
    val_items = _human_items(ctx, f, ("validation",))
    metric_name, target = rules.target_for(f.task_type)
    load = _loader(ctx, f.task_type)
    t0 = time.perf_counter()
    try:
        lr = opening.open_learner(ctx, f.task_type, len(f.labels), st.initial_model_uri, job_id=job_id)
        candidates = [lr]
        if not lr.fixed and lr.model is not None:  # a saved model to start from: compare it with a fresh one
            candidates.append(lrn.Learner(f.task_type, len(f.labels), lr.model, lr.extractor, lr.source, ctx, job_id))
        trained_on = lr.train([(u, lab) for _, u, lab, _ in train_items], load)
        gone = pool.gone_before(ctx, job_id, n)  # validation objects earlier rounds would have labeled
        sure = _label_right(ctx, f, [v[0] for v in val_items])  # how sure each human label is
        best: tuple[Any, rules.Threshold, dict[int, Any], str] | None = None
        compared: list[dict[str, Any]] = []  # every candidate's coverage, in the round's training files

        def score(cand: Any) -> rules.Threshold:
            nonlocal best
            confs, scores, preds = lrn.validation_scores(cand, [(u, lab) for _, u, lab, _ in val_items], load)
            enc = pool.encode([v[0] for v in val_items], confs, scores, sure)
            v_conf, v_score, v_right = pool.remaining(pool.triples(enc), gone)
            th = rules.choose_threshold(v_conf, v_score, target, metric=metric_name, label_right=v_right)
            compared.append({"model": cand.head, "threshold": th.value, "covered": th.covered, "bound": th.bound})
            if best is None or _better(th, best[1]):
                best = (cand, th, preds, enc)
            return th

        for cand in candidates:
            score(cand)
        rival = lrn.builtin_rival(lr)  # a second learner on the same labels (builtin_rival)
        # the rival can only win by covering more: when the best so far covers every validation object still
        # like the pool, it is not trained (its training is most of a round's time)
        if rival is not None and best is not None and best[1].covered < best[1].total:
            try:
                rival.train([(u, lab) for _, u, lab, _ in train_items], load)
                score(rival)
            except TrainingError as exc:  # too few labels for it yet (the map head): the first learner alone
                log.info("job %s round %s: no rival this round (%s)", job_id, n, exc)
        assert best is not None
    except (models.ModelError, ImportError) as exc:
        model_unusable(ctx, job_id, n, exc)
        return []
    except TrainingError as exc:
        _finish_iteration(
            ctx, job_id, n, error=str(exc), finished_at=dbm.now(), human_labeled=len(train_items) + len(val_items)
        )
        return [("step", n)]
    chosen, th, preds, pairs = best
    seconds = time.perf_counter() - t0
    model_id = _save_model(ctx, f, n, chosen)
    files.write_training_files(ctx, f, n, train_items, val_items, preds, th, trained_on, seconds, compared)
    _finish_iteration(
        ctx,
        job_id,
        n,
        trained_on=trained_on,
        validation_count=th.total,  # the validation objects still like the pool
        metric_name=metric_name,
        metric=th.metric,
        bound=th.bound,
        validation_threshold=th.value,
        validation_scores_json=pairs,
        threshold=th.value if th.value is not None else -1.0,
        training_seconds=seconds,
        human_labeled=len(train_items) + len(val_items),
        model_id=model_id,
    )
    return [("infer", n)]  # it waits for the round's batch to be settled (``infer``)


def _save_model(ctx: Context, f: loop.JobFacts, n: int, lr: lrn.Learner) -> int | None:
    data = lr.to_bytes()
    if data is None:
        return None
    if lr.source.startswith("saved model") and lr.model is not None and not lr.extractor:
        found = models.find(ctx, lr.source.removeprefix("saved model "))
        if found is not None:
            return found.id
    return models.save(ctx, f.id, n, f.folder, lr.kind, f.task_type, data).id


def _label_right(ctx: Context, f: loop.JobFacts, idxs: list[int]) -> list[float] | None:
    """Classification: each object's probability that its consolidated label is right (``posterior``); None
    for other task types (their labels count as sure)."""
    if rules.target_for(f.task_type)[0] != "accuracy":
        return None
    post = posterior.job_posteriors(ctx, f.id, f.labels, f.task_type)
    return posterior.label_right(idxs, post) if post else None
