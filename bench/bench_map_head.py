"""Benchmark (the experiment behind ``gtcore.autolabel.maphead``, which the loop now trains beside the linear head;
this script keeps its own copy of the first measurement's settings: 30 epochs, no calibration): a small
convolutional head on the backbone's stride-16 maps (block 10: 112 x 14 x 14 of the image at 224 px).

python bench/bench_map_head.py DIR [--labels 300,800] [--epochs 30] [--validation 400] [--seed 0]

DIR: a classification set with ``truth.json`` (``make_letters.py``, ``make_photos.py``). Prints, per label count,
the head's held-out accuracy, the share covered at 0.95 by the point estimate, the log-loss and training time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gtcore.autolabel import backbone as bbm  # noqa: E402
from gtcore.autolabel import maphead  # noqa: E402


def maps(folder: Path, names: list[str]) -> np.ndarray:
    bb = bbm.load()
    net, out = bb.net, []
    for k in range(0, len(names), bbm.BATCH):
        arrs = [
            np.asarray(Image.open(folder / n).convert("RGB").resize((224, 224), Image.Resampling.BILINEAR))
            for n in names[k : k + bbm.BATCH]
        ]
        with bb.torch.inference_mode():
            x = net._swish(net._bn0(net._conv_stem(bb._tensor(arrs))))
            for block in net._blocks[:11]:
                x = block(x)
            out.append(x.numpy().astype(np.float16))
    return np.concatenate(out)


def main() -> None:
    import torch
    from torch.nn import functional as F

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--labels", default="300,800")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--validation", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    truth = json.loads((a.folder / "truth.json").read_text())
    names = sorted(truth)
    classes = sorted(set(truth.values()))
    y = np.array([classes.index(truth[n]) for n in names])
    t0 = time.perf_counter()
    x = maps(a.folder, names)
    print(f"maps: {(time.perf_counter() - t0) / len(names) * 1000:.0f} ms an image")
    perm = np.random.default_rng(a.seed).permutation(len(y))
    val, rest = perm[: a.validation], perm[a.validation :]

    def shift(xb: torch.Tensor, s: int = 2) -> torch.Tensor:
        n, _, h, w = xb.shape
        p = F.pad(xb, (s, s, s, s))
        dx, dy = np.random.randint(0, 2 * s + 1, n), np.random.randint(0, 2 * s + 1, n)
        return torch.stack([p[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])

    for count in (int(c) for c in a.labels.split(",")):
        tr = rest[:count]
        t0 = time.perf_counter()
        torch.manual_seed(a.seed)
        m = maphead.network(x.shape[1], len(classes))  # the product's network
        opt = torch.optim.AdamW(m.parameters(), 3e-3, weight_decay=0.05)
        xt, yt = torch.from_numpy(x[tr].astype(np.float32)), torch.from_numpy(y[tr])
        steps = a.epochs * ((len(tr) + 63) // 64)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps)
        m.train()
        for _ in range(a.epochs):
            order = torch.randperm(len(tr))
            for k in range(0, len(tr), 64):
                b = order[k : k + 64]
                loss = F.cross_entropy(m(shift(xt[b])), yt[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        m.eval()
        with torch.no_grad():
            z = m(torch.from_numpy(x[val].astype(np.float32))).numpy()
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        ok = (p.argmax(1) == y[val]).astype(float)
        s = ok[np.argsort(-p.max(1))]
        good = np.flatnonzero(np.cumsum(s) / np.arange(1, len(s) + 1) >= 0.95)
        cov = (good.max() + 1) / len(s) if len(good) else 0.0
        nll = float(-np.log(p[np.arange(len(val)), y[val]] + 1e-9).mean())
        print(f"{count} labels: accuracy {ok.mean():.3f}, covered@0.95 {cov:.3f}, log-loss {nll:.3f}, "
              f"training {time.perf_counter() - t0:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
