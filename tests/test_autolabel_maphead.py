"""The classification map head (a small conv net on the backbone's stored block-10 maps): it learns shapes on
clutter from real images, is calibrated and saved / loaded only after the checksum; its maps are stored once per
image, reused, invalidated by a new backbone, recomputed when damaged; the loop trains it beside the linear head
and the round records which one it chose."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from sklearn.datasets import load_sample_images
from sqlalchemy import select

from gtcore.autolabel import backbone as bbm
from gtcore.autolabel import clsmaps, embeddings, loop, maphead, models, opening
from gtcore.autolabel import learner as lrn
from gtcore.autolabel.features import load_image
from gtcore.autolabel.status import loop_status
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from tests.fixtures.autolabel import AutoWorld

pytestmark = pytest.mark.map_head  # the map head trains here (tests/conftest.py turns it off elsewhere)

SHAPES = ("cross", "ring", "bar")


def _shapes_on_clutter(n: int, side: int = 96, seed: int = 0) -> dict[str, Image.Image]:
    """Three outline shapes, moved and scaled, drawn over random crops of scikit-learn's two photographs: the
    class is the shape, never the background (name: ``<class>-<i>``)."""
    rng = random.Random(seed)
    photos = [Image.fromarray(a) for a in load_sample_images().images]
    out = {}
    for i in range(n):
        k = i % len(SHAPES)
        p = photos[rng.randrange(2)]
        s = rng.randint(100, 300)
        x, y = rng.randint(0, p.width - s), rng.randint(0, p.height - s)
        im = p.crop((x, y, x + s, y + s)).resize((side, side))
        d = ImageDraw.Draw(im)
        r = rng.randint(side // 5, side // 3)
        cx, cy = rng.randint(r, side - r), rng.randint(r, side - r)
        color = tuple(rng.choice((0, 255)) for _ in range(3))
        if SHAPES[k] == "cross":
            d.line((cx - r, cy - r, cx + r, cy + r), fill=color, width=5)
            d.line((cx - r, cy + r, cx + r, cy - r), fill=color, width=5)
        elif SHAPES[k] == "ring":
            d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=color, width=5)
        else:
            d.line((cx - r, cy, cx + r, cy), fill=color, width=7)
        out[f"{k}-{i}"] = im
    return out


@pytest.fixture(scope="module")
def shapes() -> dict[str, Image.Image]:
    return _shapes_on_clutter(150)


@pytest.fixture(scope="module")
def maps(shapes: dict[str, Image.Image]) -> clsmaps.Store:
    """The block-10 maps of ``shapes``, computed once (in batches) for the module's tests."""
    store = clsmaps.Store(None, None, bbm.load())
    store.get_many(list(shapes), _loader(shapes))
    assert store.computed == len(shapes)
    return store


def _loader(images: dict[str, Image.Image]) -> lrn.Loader:
    return lambda uri: (images[uri], 1.0)


def test_map_head_learns_shapes_on_clutter_calibrated_and_saved_with_a_checksum(
    ctx: Context, shapes: dict[str, Image.Image], maps: clsmaps.Store, tmp_path: Path
) -> None:
    names = list(shapes)
    train, test = names[:96], names[96:]
    lr = lrn.Learner("ImageClassification", len(SHAPES), map_head=True, class_maps=maps)
    assert lr.train([(u, int(u[0])) for u in train], _loader(shapes)) == 96
    assert isinstance(lr.model, maphead.MapHead) and lr.kind == maphead.KIND and lr.head == maphead.HEAD
    meta = lr.model.meta
    assert (
        meta["features"] == bbm.key()
        and meta["calibrated_on"] >= 3
        and meta["trained_on"] + meta["calibrated_on"] == 96
    )
    assert maphead.MIN_EPOCHS <= meta["epochs"] <= maphead.MAX_EPOCHS
    preds = [lr.predict(u, _loader(shapes)) for u in test]
    right = np.array([p == int(u[0]) for u, (p, _) in zip(test, preds, strict=True)])
    conf = np.array([c for _, c in preds])
    assert right.mean() >= 0.8, right.mean()
    assert conf[right].mean() > conf[~right].mean() if (~right).any() else conf.mean() > 0.5
    # saved like every product model: loaded back only while its checksum matches
    data = lr.to_bytes() or b""
    (tmp_path / "model.npz").write_bytes(data)
    saved = models.SavedModel(1, str(tmp_path / "model.npz"), models.sha256(data), lr.kind, "ImageClassification")
    back = models.load(ctx, saved)
    assert isinstance(back, maphead.MapHead) and back.temperature == lr.model.temperature
    assert len(back.params) == len(back.temperatures) == maphead.MEMBERS == meta["members"]
    x = lr.block_maps(test[:4], _loader(shapes))
    assert np.allclose(back.scores(x), lr.model.scores(x), atol=1e-5)
    data = bytearray(Path(saved.uri).read_bytes())
    data[len(data) // 2] ^= 0x01
    Path(saved.uri).write_bytes(bytes(data))
    with pytest.raises(models.ModelError, match="SHA-256 does not match"):
        models.load(ctx, saved)


def test_too_few_labels_train_no_map_head_and_the_linear_head_gets_it_as_rival(
    shapes: dict[str, Image.Image],
) -> None:
    lr = lrn.Learner("ImageClassification", len(SHAPES))
    rival = lrn.builtin_rival(lr)
    assert rival is not None and rival.map_head and lrn.builtin_rival(rival) is None
    few = [(u, int(u[0])) for u in list(shapes)[: maphead.MIN_LABELS - 1]]
    with pytest.raises(maphead.TrainingError, match="map head needs"):
        rival.train(few, _loader(shapes))
    assert lrn.builtin_rival(lrn.Learner("TextClassification", 2)) is None


def test_temperature_is_fitted_on_held_out_labels() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    logits = rng.normal(0, 1, (400, 3))
    logits[np.arange(400), y] += 1.0
    assert maphead.temperature(logits * 6, y) > 3  # overconfident logits are cooled
    assert 0.5 <= maphead.temperature(logits / 6, y) < 0.7  # underconfident ones sharpened, never below 0.5
    perfect = np.eye(3)[y] * 8.0  # a held-out share all right: not sharpened to saturation
    assert maphead.temperature(perfect, y) == pytest.approx(0.5) and maphead._softmax(perfect / 0.5).max() < 1.0
    tr, cal = maphead.split(y, 0.15, rng)
    assert not set(tr) & set(cal) and len(tr) + len(cal) == 400 and 50 <= len(cal) <= 70
    assert maphead.epochs_for(100) == maphead.MAX_EPOCHS and maphead.epochs_for(5000) == maphead.MIN_EPOCHS


def test_block_maps_are_stored_once_reused_invalidated_and_recomputed_when_damaged(
    auto_world: AutoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = auto_world
    job = w.create("classification", 100)
    load = lambda uri: load_image(w.ctx, uri)  # noqa: E731
    uris = sorted(str(p) for p in w.dataset("classification", 100)[0].glob("digit-*.png"))[:5]
    store = clsmaps.Store(w.ctx, job, bbm.load())
    first = [store.get(u, load) for u in uris]
    assert store.computed == 5 and first[0].shape == clsmaps.SHAPE and first[0].dtype == np.float16
    direct = bbm.load().map10([load(uris[0])[0]])[0]
    assert np.array_equal(first[0], direct)
    again = clsmaps.Store(w.ctx, job, bbm.load())
    assert np.array_equal(again.get(uris[0], load), first[0]) and again.computed == 0  # read, not recomputed
    where = again.uri_of(uris[1])
    assert where is not None
    w.ctx.storage.write_bytes(where, b"not an npz")  # damaged: computed again and rewritten whole
    assert np.array_equal(again.get(uris[1], load), first[1]) and again.computed == 1
    assert clsmaps.run_for(w.ctx, job, load, 600.0)  # the background walk stores the rest
    assert all(
        clsmaps.Store(w.ctx, job, bbm.load()).has(str(p))
        for p in w.dataset("classification", 100)[0].glob("digit-*.png")
    )
    # another backbone (or other weights): another folder; the old maps are never read
    monkeypatch.setattr(bbm, "key", lambda: "other-net:0123456789abcdef:pool")
    other = clsmaps.Store(w.ctx, job, bbm.load())
    assert other.base != store.base and not other.has(uris[0])


def test_the_loop_compares_both_heads_and_the_status_names_the_chosen_one(auto_world: AutoWorld) -> None:
    w = auto_world
    job = w.create("classification", 160, max_concurrent=30)
    assert w.run(job, "classification", 160) == "Completed"
    status = loop_status(w.ctx, Actor.system_actor(), job)
    trained = [it for it in status.iterations if it.trained]
    assert trained and all(it.model in ("linear head", "map head") for it in trained)
    out = w.root / "output"
    metrics = [json.loads(p.read_text()) for p in out.rglob("training/*/metrics.json")]
    assert metrics
    both = [m for m in metrics if len(m["candidates"]) == 2]
    assert both, [m["candidates"] for m in metrics]  # once enough labels: the map head is trained as the rival
    for m in both:
        names = [c["model"] for c in m["candidates"]]
        assert names == ["linear head on pooled embeddings", maphead.HEAD]
    by_round = {it.number: it for it in status.iterations}
    for m in both:  # the round's model covers most of the validation set at the bound; at equal coverage, the
        # higher bound (that of its most confident objects when neither proved a threshold)
        a, b = m["candidates"]
        key = [(c["covered"], c["bound"] if c["bound"] is not None else -1.0) for c in (a, b)]
        if key[0] != key[1]:
            best = a if key[0] > key[1] else b
            assert by_round[m["iteration"]].model == ("map head" if best["model"] == maphead.HEAD else "linear head")
    assert clsmaps.wanted(w.ctx, job) is False  # the job is done: no more map work
    assert opening.open_learner(w.ctx, "ImageClassification", 10, None).map_head is False


def test_the_embedding_pass_stores_the_block_maps_too(auto_world: AutoWorld) -> None:
    """One backbone pass gives an image-classification object's embedding and its block-10 maps: the embedding step
    stores both, so the maps' own walk has nothing left to compute for those images."""
    w = auto_world
    job = w.create("classification", 100)
    load = lambda uri: load_image(w.ctx, uri)  # noqa: E731
    with w.ctx.db.write() as conn:  # the loop's state, as its first poll makes it (no background work run)
        facts = loop.job_facts(conn, job)
        assert facts is not None
        loop.ensure_state(conn, facts)
    assert clsmaps.wanted(w.ctx, job)
    assert embeddings.embed_some(w.ctx, job, load, limit=8) == 8
    with w.ctx.db.read() as conn:
        done = [
            r
            for (r,) in conn.execute(
                select(dbm.objects.c.source_ref)
                .join(
                    dbm.autolabel_embeddings,
                    (dbm.autolabel_embeddings.c.job_id == dbm.objects.c.job_id)
                    & (dbm.autolabel_embeddings.c.idx == dbm.objects.c.idx),
                )
                .where(dbm.objects.c.job_id == job)
            )
        ]
    assert len(done) == 8
    store = clsmaps.Store(w.ctx, job, bbm.load())
    assert all(store.has(u) for u in done)
    stored = store.get(done[0], load)
    assert store.computed == 0  # read back, not computed again
    assert np.array_equal(stored, bbm.load().map10([load(done[0])[0]])[0])  # the same maps as their own pass
    vec = bbm.load().embed([load(done[0])[0]])[0]
    both = bbm.load().embed_and_map10([load(done[0])[0]])
    assert np.array_equal(both[0][0], vec) and np.array_equal(both[1][0], stored)


def test_the_confidence_is_the_members_mean_and_a_one_network_file_still_loads(
    shapes: dict[str, Image.Image], maps: clsmaps.Store
) -> None:
    """Each member is trained on its own seed and held-out share; the head's probabilities are the mean of the
    members' calibrated ones. A file of the previous format (one network, ``FORMAT_V1``) loads as one member."""
    names = list(shapes)
    x = maps.get_many(names[:90], _loader(shapes))
    y = np.array([int(u[0]) for u in names[:90]])
    head = maphead.fit(x, y, len(SHAPES))
    assert len(head.params) == maphead.MEMBERS and len(set(head.temperatures)) >= 1
    singles = [maphead.MapHead([p], [t], head.channels, head.n_out) for p, t in zip(head.params, head.temperatures)]
    each = [m.scores(x[:8]) for m in singles]
    assert np.allclose(head.scores(x[:8]), np.mean(each, axis=0), atol=1e-6)
    assert not np.allclose(each[0], each[1], atol=1e-3)  # different seeds: different members
    buf = io.BytesIO()
    meta = {"format": maphead.FORMAT_V1, "n_out": head.n_out, "channels": head.channels}
    np.savez(buf, **{f"p_{k}": v for k, v in head.params[0].items()}, temperature=np.array([head.temperatures[0]]),
             meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))  # fmt: skip
    old = maphead.MapHead.from_bytes(buf.getvalue())
    assert len(old.params) == 1 and np.allclose(old.scores(x[:8]), each[0], atol=1e-6)
    back = maphead.MapHead.from_bytes(head.to_bytes())
    assert np.allclose(back.scores(x[:8]), head.scores(x[:8]), atol=1e-6)
    other = io.BytesIO()
    bad = json.dumps({**meta, "format": "v9"}).encode()
    np.savez(other, temperature=np.array([1.0]), meta=np.frombuffer(bad, np.uint8))
    with pytest.raises(ValueError, match="not a"):
        maphead.MapHead.from_bytes(other.getvalue())
