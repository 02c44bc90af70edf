"""`ls`: what a source holds, as a table or as JSON lines."""

from __future__ import annotations

import json

from ..model import Reference
from ..text import json_safe, terminal_safe


def render_table(references: list[Reference]) -> str:
    from tabulate import tabulate

    # cells escaped before tabulate measures them, so that the columns line up as shown
    rows = [
        tuple(
            terminal_safe(cell)
            for cell in (r.name or "<none>", r.tag or "<none>", r.digest or "", r.selector or "")
        )
        for r in references
    ]
    return tabulate(rows, headers=["NAME", "TAG", "DIGEST", "SELECTOR"], tablefmt="plain") + "\n"


def render_jsonl(references: list[Reference]) -> str:
    return json_safe(
        "".join(
            json.dumps(
                {"name": r.name, "tag": r.tag, "digest": r.digest, "selector": r.selector},
                sort_keys=True,
            )
            + "\n"
            for r in references
        )
    )
