"""Renderers: a model in, text out; none of them reads a file or knows where the model came from.

`FORMATS` is the one list of `show`'s output formats (the CLI's choices come from it); `render`
dispatches to the module of each, imported only when that format is asked for. The report
renderers (comparison, verify, audit, base, listing, tag-details) are called by name.

Images are untrusted, and what they say reaches terminals: every renderer's output goes through
`text.terminal_safe` (text: terminal and bidi controls spelled out, `\\x1b`) or `text.json_safe`
(JSON: the same characters as `\\u001b` escapes, decoding to the exact original strings) on
its way out, here for `show`'s formats and at the end of each report renderer. Output without
such characters is unchanged, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..model import Target
from ..text import json_safe, terminal_safe

FORMATS = ("repo-info", "dockerfile", "json", "jsonl", "table")
DEFAULT_FORMAT = "repo-info"


def render(
    target: Target, fmt: str, *, repo: str, tag: str, era: int, no_trunc: bool = False
) -> str:
    """`target` in format `fmt` (one of FORMATS); `repo`/`tag` name it in repo-info headers.
    Terminal-safe: no control character from the image is left raw (see the module's doc)."""
    if fmt in ("json", "jsonl"):
        from . import jsonout

        return json_safe(jsonout.render(target) if fmt == "json" else jsonout.render_line(target))
    return terminal_safe(_text(target, fmt, repo=repo, tag=tag, era=era, no_trunc=no_trunc))


def _text(target: Target, fmt: str, *, repo: str, tag: str, era: int, no_trunc: bool) -> str:
    if fmt == "repo-info":
        from . import repoinfo

        return repoinfo.render(target, repo, tag, era)
    if fmt == "dockerfile":
        from . import dockerfile

        return dockerfile.render(target)
    if fmt == "table":
        from . import table

        return table.render(target, no_trunc=no_trunc)
    raise ValueError(f"unknown format {fmt!r} (one of: {', '.join(FORMATS)})")


def joined(documents: Iterable[str], fmt: str) -> Iterator[str]:
    """Several rendered images as one output, piece by piece as they come: a JSON array for
    `json`, one object per line for `jsonl`, blank-line separated text otherwise."""
    as_array = fmt == "json"
    if as_array:
        yield "[\n"
    for shown, text in enumerate(documents):
        if shown and fmt != "jsonl":
            yield ",\n" if as_array else "\n"
        yield text.rstrip("\n") + "\n" if as_array else text
    if as_array:
        yield "]\n"
