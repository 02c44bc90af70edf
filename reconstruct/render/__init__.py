"""Renderers: a Target in, text out. None of them reads a file."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Section, Target


def sections(target: Target) -> Iterator[Section]:
    return target.sections()
