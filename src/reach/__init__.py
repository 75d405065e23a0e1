"""reach: travel time to clinics and schools, and what a scenario would change."""

from __future__ import annotations

__version__ = "0.1.0"
