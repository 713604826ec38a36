"""Write the bench's image sets from scikit-learn's digits (shipped with scikit-learn; nothing downloaded).

python bench/make_digits.py DIR                       # 1,797 64x64 digits + DIR/truth.json {"file": "7"}
python bench/make_digits.py DIR --count 2000          # 2,000 (digits re-used with a small shift)
python bench/make_digits.py DIR --boxes --count 1500  # 160x120 scenes of 1-3 digits + truth.json of boxes
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gtcore.manifests.sample_digits import make_digits  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--boxes", action="store_true")
    ap.add_argument("--count", type=int, default=None)
    args = ap.parse_args()
    s = make_digits(args.folder, kind="boxes" if args.boxes else "classification", count=args.count)
    print(f"{s.images} images in {s.folder}; truth: {s.truth}")


if __name__ == "__main__":
    main()
