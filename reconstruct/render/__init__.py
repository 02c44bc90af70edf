"""Renderers: a Target in, text out. None of them reads a file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..model import Image, Index, IndexEntry, Platform, Target


@dataclass(frozen=True)
class Section:
    """One image of a target as the renderers walk it (an absent index entry has no image)."""

    platform: Platform
    entry: IndexEntry | None  # None when the target is a single image
    image: Image | None


def sections(target: Target) -> Iterator[Section]:
    """Every image in index order, nested indexes flattened, absent entries included."""
    if isinstance(target.root, Image):
        image = target.root
        # For a lone manifest upstream takes os/architecture from the config, never a version.
        platform = Platform(os=image.platform.os, architecture=image.platform.architecture)
        yield Section(platform, None, image)
        return
    yield from _walk(target.root)


def _walk(index: Index) -> Iterator[Section]:
    for entry in index.entries:
        if entry.index is not None:
            yield from _walk(entry.index)
            continue
        platform = entry.platform or (entry.image.platform if entry.image else Platform())
        yield Section(platform, entry, entry.image)
