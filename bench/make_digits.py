"""Write the bench's image sets from scikit-learn's digits (shipped with scikit-learn; nothing downloaded).

python bench/make_digits.py DIR                       # 1,797 64x64 digits + DIR/truth.json {"file": "7"}
python bench/make_digits.py DIR --count 2000          # 2,000 (digits re-used with a small shift)
python bench/make_digits.py DIR --boxes --count 1500  # 160x120 scenes of 1-3 digits + truth.json of boxes
python bench/make_digits.py DIR --boxes --mixed-sizes # the same scenes at 0.75x, 1x, 1.5x and 2.5x in one set
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gtcore.manifests.sample_digits import make_digits  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--boxes", action="store_true")
    ap.add_argument("--count", type=int, default=None)
    ap.add_argument("--mixed-sizes", action="store_true", help="rescale the images (and boxes) to four sizes")
    args = ap.parse_args()
    s = make_digits(args.folder, kind="boxes" if args.boxes else "classification", count=args.count)
    if args.mixed_sizes:
        _mix_sizes(s.folder, s.truth)
    print(f"{s.images} images in {s.folder}; truth: {s.truth}")


SCALES = (0.75, 1.0, 1.5, 2.5)


def _mix_sizes(folder: Path, truth_path: Path) -> None:
    """Image i is rescaled by SCALES[i % 4]; its boxes (if any) with it."""
    from PIL import Image

    truth = json.loads(truth_path.read_text())
    for i, name in enumerate(sorted(truth)):
        k = SCALES[i % len(SCALES)]
        if k == 1.0:
            continue
        with Image.open(folder / name) as im:
            im.load()
            small = im.resize((round(im.width * k), round(im.height * k)), Image.Resampling.BILINEAR)
        small.save(folder / name)
        if isinstance(truth[name], list):
            truth[name] = [
                {**b, **{f: round(b[f] * k) for f in ("left", "top", "width", "height")}} for b in truth[name]
            ]
    truth_path.write_text(json.dumps(truth, indent=0) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
