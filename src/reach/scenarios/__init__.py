"""Scenario operations: what an alternative changes, and how it compares with the baseline.

Pure functions, no I/O: each operation of a scenario file turns baseline inputs into new ones.

- :mod:`reach.scenarios.roads`: road and ferry operations (``upgrade_road``, ``add_road``,
  ``close_road``, ``add_ferry``, ``change_ferry``, ``suspend_ferry``, ``season``) on a
  :class:`~reach.ingest.roads.RoadLines`, returning a new one.
- :mod:`reach.scenarios.facilities`: facility operations.
- :mod:`reach.scenarios.compare`: differences between an alternative and the baseline.
"""
