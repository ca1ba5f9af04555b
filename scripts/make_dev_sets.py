"""The two 20-image synthetic evaluation sets the results are measured on, as folders of symlinks.

MIX20 (tuning): the first 8 CBSD68, 6 McMaster and 6 Set14 images in sorted file-name order.
HELD20 (held out, for confirming a change tuned on MIX20): the next 10 CBSD68, 5 McMaster and
5 Set14 images. Usage: python scripts/make_dev_sets.py --dev ../shared/data/dev --out /tmp/sets
(then --images /tmp/sets/MIX20 or /tmp/sets/HELD20).
"""
from __future__ import annotations

import argparse
from pathlib import Path

SPLITS = {"CBSD68": (8, 10), "McMaster": (6, 5), "Set14": (6, 5)}  # (tuning, held out) per set


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dev", type=Path, required=True, help="folder holding CBSD68/, McMaster/, Set14/")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    for name in ("MIX20", "HELD20"):
        (a.out / name).mkdir(parents=True, exist_ok=True)
    for sub, (n_mix, n_held) in SPLITS.items():
        files = sorted(f for f in (a.dev / sub).iterdir() if f.is_file())
        if len(files) < n_mix + n_held:
            raise SystemExit(f"{a.dev / sub} has {len(files)} images, need {n_mix + n_held}")
        for name, chosen in (("MIX20", files[:n_mix]), ("HELD20", files[n_mix:n_mix + n_held])):
            for f in chosen:
                link = a.out / name / f"{sub}_{f.name}"
                if not link.exists():
                    link.symlink_to(f.resolve())
    for name in ("MIX20", "HELD20"):
        print(a.out / name, len(list((a.out / name).iterdir())), "images")


if __name__ == "__main__":
    main()
