"""Settings read from the environment, in one place."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_ENV", "data_dir"]

#: Environment variable naming the folder of real data (default ``../shared/data``).
DATA_ENV = "REACH_DATA"


def data_dir() -> Path:
    """Return the real-data folder: ``$REACH_DATA`` or ``../shared/data`` from the working dir."""
    return Path(os.environ.get(DATA_ENV, "../shared/data")).expanduser().resolve()
