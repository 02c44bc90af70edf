"""The evidence a finding shows: a step as one line of text, cut to a short excerpt.

Callers mask the line (with the image's Redactor) before cutting it, so no excerpt holds a secret.
"""

from __future__ import annotations

from ..history import Instruction
from ..history.normalize import collapse

EXCERPT = 160


def instruction_text(instruction: Instruction) -> str:
    """One line per step: `RUN …`, with its build args when recorded."""
    text = collapse(f"{instruction.keyword} {instruction.arguments}".strip())
    if instruction.build_args:
        text = f"[ARGS {collapse(instruction.build_args)}] {text}"
    return text


def excerpt(text: str, focus: str | None = None) -> str:
    """At most EXCERPT characters of `text`, around `focus` when given."""
    if len(text) <= EXCERPT:
        return text
    at = text.find(focus) if focus else -1
    start = 0 if at < EXCERPT // 2 else min(at - EXCERPT // 3, len(text) - EXCERPT)
    piece = text[start : start + EXCERPT]
    return ("…" if start else "") + piece + ("…" if start + EXCERPT < len(text) else "")
