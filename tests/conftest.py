"""Shared fixtures: where the real data lives, and a skip when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from reach.settings import DATA_ENV

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real public data folder (``$REACH_DATA``, default ``../shared/data``)."""
    import os

    root = Path(os.environ[DATA_ENV]) if DATA_ENV in os.environ else REPO.parent / "shared" / "data"
    if not root.is_dir():
        pytest.skip(f"real data not found at {root}: set {DATA_ENV} to the shared data folder")
    return root.resolve()


@pytest.fixture(scope="session")
def comoros(real_data: Path) -> Path:
    """The Comoros folder of the real data."""
    return real_data / "comoros"


@pytest.fixture(scope="session")
def malawi(real_data: Path) -> Path:
    """The southern Malawi AccessMod folder of the real data."""
    return real_data / "malawi_south_accessmod"
