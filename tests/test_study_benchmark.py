"""benchmarks/study.py keeps running, and its exactness checks hold, on a small demo region.

Times are not checked here (they are the benchmark's to print); the run must finish with the
agreement it asserts: reach's network search equal to scipy's and networkx's, the incremental
study equal to 15 independent full surfaces, and the grid search equal to scikit-image's where
their models coincide.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks import study


def test_study_benchmark_runs_and_its_answers_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "study.json"
    args = ["--size", "200000", "--repeat", "1", "--no-grass", "--demo-dir", str(tmp_path / "d")]
    for table in ("grid", "network", "study"):
        args += ["--only", table]
    assert study.main([*args, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "EXACTNESS FAILURE" not in printed
    facts = json.loads(out.read_text())["facts"]
    assert facts["network"]["scipy"]["max_abs"] == 0
    assert facts["network"]["networkx"]["only_a"] + facts["network"]["networkx"]["only_b"] == 0
    assert facts["study"] == {"study_max_abs_min": 0.0, "study_reached_by_one_only": 0}
    assert facts["surface"]["skimage_all cells passable"]["max_abs"] < 1e-9
    assert facts["surface"]["peak_mb"] > 0
    names = {row["name"] for row in json.loads(out.read_text())["rows"]}
    assert "15 independent full surfaces, 1 thread" in names
