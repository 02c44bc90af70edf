"""`ls`: what a source holds, as a table or as JSON lines (one object per image, no header:
each line is a record, schema `reconstruct schema ls`)."""

from __future__ import annotations

import json

from ..model import Reference
from ..text import json_safe, terminal_safe


def render_table(references: list[Reference]) -> str:
    from tabulate import tabulate

    # An IMAGE ID column only where the listing knows them (containers-storage: an image is
    # reached by its index or manifest digest, but podman shows and takes its Image ID).
    ids = any(r.image_id for r in references)
    headers = ["NAME", "TAG", "DIGEST", *(["IMAGE ID"] if ids else []), "SELECTOR"]
    # cells escaped before tabulate measures them, so that the columns line up as shown
    rows = [
        tuple(
            terminal_safe(cell)
            for cell in (
                r.name or "<none>",
                r.tag or "<none>",
                r.digest or "",
                *([_short_id(r.image_id)] if ids else []),
                r.selector or "",
            )
        )
        for r in references
    ]
    return tabulate(rows, headers=headers, tablefmt="plain") + "\n"


def _short_id(image_id: str | None) -> str:
    """As podman and docker print an Image ID: its first 12 hex digits."""
    return (image_id or "").removeprefix("sha256:")[:12]


def render_jsonl(references: list[Reference]) -> str:
    return json_safe(
        "".join(
            json.dumps(
                {"name": r.name, "tag": r.tag, "digest": r.digest, "selector": r.selector}
                | ({"image_id": r.image_id} if r.image_id else {}),
                sort_keys=True,
            )
            + "\n"
            for r in references
        )
    )
