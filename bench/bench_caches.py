"""The bench's caches (``bench_autolabel.py --embeddings-cache / --maps-cache``): a set's backbone vectors and
block-10 maps by file name, stored into a new job before its workers start and saved back at the end, so runs of
one set at several error rates pay the backbone once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gtcore.context import Context
from gtcore.core import db as dbm


def _refs(ctx: Context, job_id: int) -> dict[int, str]:
    with ctx.db.read() as conn:
        rows = conn.execute(
            dbm.objects.select().with_only_columns(dbm.objects.c.idx, dbm.objects.c.source_ref)
            .where(dbm.objects.c.job_id == job_id)
        ).all()  # fmt: skip
    return {int(i): str(r) for i, r in rows if r}


def cache_in(ctx: Context, job_id: int, cache: Path) -> int:
    """Store the cached vectors of the job's images (by file name) as the job's embeddings; how many."""
    from gtcore.autolabel import backbone as bbm
    from gtcore.autolabel import embeddings as emb

    if not cache.exists():
        return 0
    with np.load(cache, allow_pickle=False) as z:
        if str(z["key"]) != bbm.key():
            return 0
        vecs = dict(zip((str(n) for n in z["names"]), z["vectors"], strict=True))
    with ctx.db.read() as conn:
        refs = conn.execute(
            dbm.objects.select().with_only_columns(dbm.objects.c.idx, dbm.objects.c.source_ref)
            .where(dbm.objects.c.job_id == job_id)
        ).all()  # fmt: skip
    rows = [(int(i), vecs[Path(str(r)).name], None) for i, r in refs if Path(str(r)).name in vecs]
    emb._store(ctx, job_id, bbm.key(), rows)
    return len(rows)


def cache_out(ctx: Context, job_id: int, cache: Path) -> None:
    from gtcore.autolabel import backbone as bbm
    from gtcore.autolabel import embeddings as emb

    got = emb.stored(ctx, job_id, bbm.key())
    with ctx.db.read() as conn:
        refs = dict(
            conn.execute(
                dbm.objects.select().with_only_columns(dbm.objects.c.idx, dbm.objects.c.source_ref)
                .where(dbm.objects.c.job_id == job_id)
            ).all()
        )  # fmt: skip
    names = [Path(str(refs[i])).name for i in sorted(got)]
    if names:
        np.savez(cache, key=np.asarray(bbm.key()), names=np.asarray(names),
                 vectors=np.stack([got[i] for i in sorted(got)]).astype(np.float16))  # fmt: skip


def maps_in(ctx: Context, job_id: int, cache: Path) -> int:
    """Store the cached block-10 maps of the job's images (by file name) in the job's maps store; how many."""
    from gtcore.autolabel import backbone as bbm
    from gtcore.autolabel import clsmaps

    if not cache.exists():
        return 0
    store = clsmaps.Store(ctx, job_id, bbm.load())
    with np.load(cache, allow_pickle=False) as z:
        if str(z["key"]) != clsmaps.key():
            return 0
        at = {str(n): k for k, n in enumerate(z["names"])}
        m10 = z["m10"]
        done = 0
        for uri in set(_refs(ctx, job_id).values()):
            k = at.get(Path(uri).name)
            where = store.uri_of(uri)
            if k is not None and where is not None:
                ctx.storage.write_bytes(where, store.encode(m10[k]))
                done += 1
    return done


def maps_out(ctx: Context, job_id: int, cache: Path) -> None:
    from gtcore.autolabel import backbone as bbm
    from gtcore.autolabel import clsmaps

    store = clsmaps.Store(ctx, job_id, bbm.load())
    names, maps = [], []
    for uri in sorted(set(_refs(ctx, job_id).values())):
        if store.has(uri):
            names.append(Path(uri).name)
            maps.append(store.decode(ctx.storage.read_bytes(store.uri_of(uri) or "")))
    if names:
        np.savez(cache, key=np.asarray(clsmaps.key()), names=np.asarray(names), m10=np.stack(maps))
