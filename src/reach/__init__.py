"""reach: travel time to clinics and schools, and what a scenario would change."""

from __future__ import annotations

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """Load the Python API lazily so ``import reach`` stays light."""
    if name == "Scenario":
        from reach.api import Scenario

        return Scenario
    raise AttributeError(f"module 'reach' has no attribute {name!r}")
