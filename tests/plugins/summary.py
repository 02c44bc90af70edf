"""A pytest plugin: skip reasons always shown, and the counts written for ``scripts/test.sh``.

Without ``-rs`` pytest shows how many tests were skipped but not why; a skip that hides a
missing tool then goes unseen. At the end of every run this lists each distinct reason
with its count. With ``RECONSTRUCT_TEST_SUMMARY`` set to a file, one JSON line with the
counts and reasons is appended to it, which ``test.sh`` adds up into its closing line.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    stats = terminalreporter.stats
    reasons = Counter(_reason(r) for r in stats.get("skipped", ()))
    known = Counter(str(getattr(r, "wasxfail", "")) for r in stats.get("xfailed", ()))
    for title, counts in (("skipped, by reason", reasons), ("known gaps (xfail)", known)):
        if counts:
            terminalreporter.write_sep("-", title)
            for reason, count in counts.most_common():
                terminalreporter.write_line(f"{count:5d} × {reason}")
    target = os.environ.get("RECONSTRUCT_TEST_SUMMARY")
    if not target:
        return
    # a test counts once: its call phase, or the setup/teardown phase that failed or skipped
    failed = {r.nodeid for r in stats.get("failed", ())} | {
        r.nodeid for r in stats.get("error", ())
    }
    record = {
        "passed": sum(1 for r in stats.get("passed", ()) if r.when == "call"),
        "failed": len(failed),
        "skipped": sum(reasons.values()),
        "reasons": dict(reasons),
        "xfailed": dict(known),
        "exit": int(exitstatus),
    }
    with open(target, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
