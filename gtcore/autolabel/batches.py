"""The objects of an automated-labeling job as the loop sees them: how many are held, released, claimable, labeled
by people or the model (``counts``), which held objects a round hands to people (``next_batch``: the most uncertain
under the latest model and a random check from the pool that remains) and the handing over itself
(``hand_to_people``), and whether the round's batch is settled (``batch_settled``). The phases that use them are
in ``loop``."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import Connection, and_, case, func, select, update

from gtcore.autolabel import rules
from gtcore.core import db as dbm

O = dbm.objects  # noqa: E741
CHUNK = 500


@dataclass(frozen=True)
class Counts:
    held: int = 0
    claimable: int = 0  # released, open, still needs an answer nobody holds
    released_open: int = 0
    human: int = 0  # status done
    machine: int = 0
    failed: int = 0
    probe_total: int = 0
    probe_open: int = 0
    probe_failed: int = 0
    validation_open: int = 0


def counts(conn: Connection, job_id: int) -> Counts:
    claim = case((and_(O.c.taken < O.c.needed, O.c.declines < O.c.needed), 1), else_=0)
    q = (
        select(O.c.status, O.c.held, O.c.al_role, claim, func.count())
        .where(O.c.job_id == job_id)
        .group_by(O.c.status, O.c.held, O.c.al_role, claim)
    )
    c: dict[str, int] = {}
    for status, held, role, claimable, n in conn.execute(q):
        n = int(n)
        opened = status == "open"

        def add(key: str, v: int = n) -> None:
            c[key] = c.get(key, 0) + v

        if opened and held:
            add("held")
        if opened and not held:
            add("released_open")
            if claimable:
                add("claimable")
        if status == "done":
            add("human")
        if status == "machine":
            add("machine")
        if status == "failed":
            add("failed")
        if role == "probe":
            add("probe_total")
            if opened:
                add("probe_open")
            if status == "failed":
                add("probe_failed")
        if role == "validation" and opened:
            add("validation_open")
    return Counts(**c)


def held_objects(conn: Connection, job_id: int) -> list[tuple[int, float | None]]:
    q = select(O.c.idx, O.c.al_confidence).where(O.c.job_id == job_id, O.c.status == "open", O.c.held.is_(True))
    return [(int(i), c) for i, c in conn.execute(q.order_by(O.c.idx))]


def hand_to_people(conn: Connection, job_id: int, idxs: list[int], role: str, iteration: int) -> int:
    """Hand held objects to people (they become claimable); returns how many moved."""
    moved = 0
    for k in range(0, len(idxs), CHUNK):
        moved += conn.execute(
            update(O)
            .where(O.c.job_id == job_id, O.c.idx.in_(idxs[k : k + CHUNK]), O.c.status == "open", O.c.held.is_(True))
            .values(held=False, al_role=role, al_iteration=iteration, updated_at=dbm.now())
        ).rowcount
    return moved


def random_held(conn: Connection, job_id: int, n: int, seed: int) -> list[int]:
    """``n`` held objects drawn at random (seeded: a retried step draws the same)."""
    idxs = [i for i, _ in held_objects(conn, job_id)]
    random.Random(seed).shuffle(idxs)
    return idxs[:n]


def next_batch(conn: Connection, job_id: int, n: int, seed: int) -> tuple[list[int], list[int]]:
    """(most uncertain, random check) held objects of a round's batch of ``n``."""
    held = held_objects(conn, job_id)
    random.Random(seed).shuffle(held)
    check = rules.check_size(n)
    uncertain = rules.most_uncertain(held, n - check)
    taken = set(uncertain)
    return uncertain, [i for i, _ in held if i not in taken][:check]


def batch_settled(conn: Connection, job_id: int) -> bool:
    """Whether nothing released to people is still open (claimed-but-unanswered objects are open)."""
    return counts(conn, job_id).released_open == 0
