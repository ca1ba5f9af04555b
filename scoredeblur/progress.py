"""Progress bars that respect the caller and the environment (``TQDM_DISABLE=1``, ``--quiet``)."""
from __future__ import annotations

import os

from tqdm import tqdm

LARGE_CALL = 5_000  # tile-evaluations of the network above which a call says up front how much it will do


def disabled(progress: bool) -> bool:
    return not progress or os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes")


def bar(total: int, progress: bool, desc: str, unit: str) -> tqdm:
    return tqdm(total=total, disable=disabled(progress), desc=desc, unit=unit)
