"""The JSON Schemas (draft 2020-12) of every JSON output, shipped as package data.

They are the published contract of the JSON documents (`reconstruct schema NAME` prints one):
the files here are the source, read with importlib.resources so that they work from a wheel,
a checkout or a zip alike. The tests validate every JSON output they produce against them, so a
renderer that drifts from its schema fails there. Standard library only: the CLI imports this.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

# Every schema, in the order `reconstruct schema` lists them: the name is what follows
# `reconstruct schema`, and the file is NAME.schema.json beside this module.
NAMES = ("show", "ls", "compare", "verify", "audit", "files", "files-jsonl", "base")
# Which output each describes, as `reconstruct schema` lists them.
OUTPUTS = {
    "show": "show --format json (an array with --all; each line of --format jsonl)",
    "ls": "one line of ls --json",
    "compare": "compare --format json",
    "verify": "verify --format json",
    "audit": "audit --format json",
    "files": "files --format json",
    "files-jsonl": "one line of files --format jsonl",
    "base": "base --json",
}


def text(name: str) -> str:
    """The schema file `name` as shipped, byte for byte; LookupError for an unknown name."""
    if name not in NAMES:
        raise LookupError(f"no schema named {name!r} (one of: {', '.join(NAMES)})")
    return resources.files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")


def load(name: str) -> dict[str, Any]:
    """The schema `name`, parsed."""
    return json.loads(text(name))


def listing() -> str:
    """One line per schema: its name and the output it describes."""
    width = max(map(len, NAMES))
    return "".join(f"{name:<{width}}  {OUTPUTS[name]}\n" for name in NAMES)


__all__ = ["NAMES", "OUTPUTS", "listing", "load", "text"]
