"""A unified diff of two texts, aligned within the comparison budget (see compare's docstring):
`difflib.unified_diff` has no bound, and two rendered documents of many repeated lines took it
minutes. The output is difflib's format, hunk for hunk, whenever difflib would finish in budget.
"""

from __future__ import annotations

import difflib

from . import bounded_opcodes

CONTEXT = 3


class _GivenOpcodes(difflib.SequenceMatcher):
    """difflib's hunk grouping over opcodes computed elsewhere."""

    def __init__(self, opcodes: list[tuple[str, int, int, int, int]]):
        self._given = opcodes

    def get_opcodes(self) -> list[tuple[str, int, int, int, int]]:
        return self._given


def _range(start: int, stop: int) -> str:
    """A hunk's `start,length` as unified diffs write it (1-based; an empty range names the
    line before it)."""
    length = stop - start
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"


def unified_diff(
    left: list[str], right: list[str], fromfile: str, tofile: str
) -> tuple[str, list[str]]:
    """(the diff of two lists of lines with their ends, notes on how it was aligned)."""
    notes: list[str] = []
    opcodes = bounded_opcodes(left, right, notes, "lines")
    out: list[str] = []
    for group in _GivenOpcodes(opcodes).get_grouped_opcodes(CONTEXT):
        if not out:
            out += [f"--- {fromfile}\n", f"+++ {tofile}\n"]
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [" " + line for line in left[i1:i2]]
                continue
            out += ["-" + line for line in left[i1:i2]]
            out += ["+" + line for line in right[j1:j2]]
    return "".join(out), notes
