"""The hostile corpus (``tests/hostile_corpus.py``): no internal error, no user file lost.

About 300 commands, each in its own world with user files around it (see the corpus's
docstring); a few minutes on two cores. The counts table and every bad case are printed, and are
the failure message.
"""

from __future__ import annotations

import pytest

from tests.hostile_corpus import format_report, run_corpus


@pytest.mark.slow
def test_hostile_corpus_no_internal_errors_and_no_files_lost() -> None:
    report = run_corpus(jobs=2)
    text = format_report(report)
    print(text)
    assert len(report.outcomes) >= 150, text
    if report.internal or report.lost:
        pytest.fail(
            f"{len(report.internal)} internal errors, {len(report.lost)} cases lost files\n{text}",
            pytrace=False,
        )
