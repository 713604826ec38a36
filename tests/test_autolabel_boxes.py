"""The box detector on stored feature maps (``boxmaps``, ``boxnet``): maps computed once per image and kept in
the job's store area, reused by training and inference; the head's fast inference equals the per-cell network;
its file round-trips and an earlier format is refused."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from gtcore.autolabel import backbone as bbm
from gtcore.autolabel import boxmaps, boxnet
from gtcore.autolabel.detector import Labeled
from gtcore.autolabel.features import load_image
from gtcore.core import db as dbm
from tests.fixtures.autolabel import AutoWorld


def _maps(seed: int = 0, h: int = 12, w: int = 16) -> boxmaps.Maps:
    rng = np.random.default_rng(seed)
    return boxmaps.Maps(
        {
            8: rng.normal(size=(40, h, w)).astype(np.float16),
            16: rng.normal(size=(112, h // 2, w // 2)).astype(np.float16),
            32: rng.normal(size=(320, h // 4, w // 4)).astype(np.float16),
        },
        (w * 8, h * 8),
        (w * 16, h * 16),
        0.5,
    )


def _net(seed: int = 1, n_labels: int = 3) -> boxnet.BoxNet:
    rng = np.random.default_rng(seed)
    d = boxnet.CELL_DIM
    shapes = [(d, 16), (16,), (16, 8), (8,), (8, n_labels + 4), (n_labels + 4,)]
    ws = [(rng.normal(size=s) * 0.1).astype(np.float32) for s in shapes]
    mean = rng.normal(size=d).astype(np.float32)
    return boxnet.BoxNet(ws, mean, (np.abs(rng.normal(size=d)) + 0.5).astype(np.float32), n_labels)


def test_projected_inference_equals_the_network_on_every_cell() -> None:
    m, net = _maps(), _net()
    heat, box = net.outputs(m)
    x = (boxnet.cells(m) - net.mean) / net.scale
    ws = net.weights
    z = np.maximum(np.maximum(x @ ws[0] + ws[1], 0) @ ws[2] + ws[3], 0) @ ws[4] + ws[5]
    assert np.allclose(heat.reshape(-1, 3), 1 / (1 + np.exp(-z[:, :3])), atol=1e-4)
    assert np.allclose(box.reshape(-1, 4), z[:, 3:], atol=1e-3)
    assert np.array_equal(boxnet.cells(m, np.array([3, 40])), boxnet.cells(m)[[3, 40]])


def test_targets_put_a_peak_on_each_centre_and_the_box_near_it() -> None:
    heat, reg, regw = boxnet.targets((12, 16), [Labeled(1, (40.0, 24.0, 32.0, 16.0))], 3)
    assert heat[:, :, 1].max() == 1.0 and heat[:, :, 0].max() == 0.0
    iy, ix = np.unravel_index(np.argmax(heat[:, :, 1]), (12, 16))
    assert (iy, ix) == (4, 7)  # centre (56, 32) px = cell (7, 4)
    dx, dy, lw, lh = reg[iy, ix]
    assert (7 + 0.5 + dx) * 8 == pytest.approx(56) and (4 + 0.5 + dy) * 8 == pytest.approx(32)
    assert np.exp(lw) * 8 == pytest.approx(32) and np.exp(lh) * 8 == pytest.approx(16) and regw[iy, ix] == 1.0


def test_the_model_file_round_trips_and_an_earlier_format_is_refused() -> None:
    m, net = _maps(), _net()
    back = boxnet.BoxNet.from_bytes(net.to_bytes())
    assert np.allclose(back.outputs(m)[0], net.outputs(m)[0]) and back.n_labels == 3
    assert boxnet.is_boxnet(net.to_bytes())
    import io

    buf = io.BytesIO()
    np.savez(buf, boxnet=np.frombuffer(b"gtcore-autolabel-boxnet-v1", dtype=np.uint8))
    with pytest.raises(ValueError, match="earlier version"):
        boxnet.BoxNet.from_bytes(buf.getvalue())


def test_detections_are_in_the_original_images_pixels() -> None:
    m = _maps()
    net = _net()
    net.weights[-1][:3] = -30.0  # no heat anywhere...
    net.weights[-1][0] = 0.0
    net.weights[-2][:, :] = 0.0
    net.weights[-1][3:] = [0.0, 0.0, np.log(4.0), np.log(2.0)]  # ...but label 0 at 0.5 on every cell, 32 x 16 px
    found, conf = net.detect_maps(m)
    assert found and conf == pytest.approx(0.5)
    # network px -> original: net 128 px wide = decoded 256 px = original 512 px (scale 0.5): factor 4
    assert all(d.box[2] == pytest.approx(128) and d.box[3] == pytest.approx(64) for d in found)


def test_maps_are_computed_once_stored_in_the_job_and_reused(auto_world: AutoWorld) -> None:
    w = auto_world
    job = w.create("boxes", 100)
    load = lambda uri: load_image(w.ctx, uri)  # noqa: E731
    with w.ctx.db.read() as conn:
        uris = sorted(r for (r,) in conn.execute(select(dbm.objects.c.source_ref).where(dbm.objects.c.job_id == job)))
    store = boxmaps.Store(w.ctx, job, bbm.load())
    first = store.get(uris[0], load)
    assert store.computed == 1 and store.has(uris[0]) and not store.has(uris[1])
    where = store.uri_of(uris[0])
    assert where is not None and "/autolabel/boxmaps/" in where
    again = boxmaps.Store(w.ctx, job, bbm.load())
    second = again.get(uris[0], load)
    assert again.computed == 0 and all(np.array_equal(first.maps[s], second.maps[s]) for s in boxmaps.STRIDES)
    assert second.net_size == first.net_size and second.scale == first.scale
    w.ctx.storage.write_bytes(where, b"not an npz")  # a damaged file is computed again
    assert again.get(uris[0], load).net_size == first.net_size and again.computed == 1
    assert boxmaps.run_for(w.ctx, job, load, seconds=600)  # the background walk: every image
    assert all(store.has(u) for u in uris)
    assert boxmaps.run_for(w.ctx, job, load, seconds=600)  # nothing left: no image computed again


def test_an_image_is_sure_only_when_every_box_is_sure_and_no_doubtful_peak_remains() -> None:
    assert boxnet.confidence([0.95, 0.9]) == pytest.approx(0.9)
    assert boxnet.confidence([0.95, 0.9, 0.4]) == pytest.approx(0.9 * 0.6)  # a doubtful object lowers it
    assert boxnet.confidence([0.95, 0.55]) < boxnet.confidence([0.95, 0.9])
    assert boxnet.confidence([0.3, 0.1]) == 0.0 and boxnet.confidence([]) == 0.0  # nothing found: people
