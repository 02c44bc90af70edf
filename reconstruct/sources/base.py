"""The source interface: every kind of input lists what it holds and returns the model.

Modelled on containers/image transports: `oci:PATH[:TAG]`, `docker-archive:PATH[:NAME:TAG]`, …
A source only reads; it never formats and never writes to its input.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from ..model import Reference, Target
from ..refs import display_name, split_reference


class SourceError(Exception):
    """Input that cannot be read as asked; the message is one line for the user."""


class Source(ABC):
    transport: ClassVar[str]

    @abstractmethod
    def references(self) -> list[Reference]:
        """Everything this source holds, one entry per name:tag (or per untagged image)."""

    @abstractmethod
    def get(self, selector: str | None = None) -> Target:
        """One image or index; `selector` is a tag, name:tag or digest (None: the only one)."""

    def get_reference(self, reference: Reference) -> Target:
        """One of `references()`, read directly (a store's every image: no lookup per image)."""
        return self.get(reference.selector or reference.digest)

    def _choose(self, selector: str | None) -> Reference:
        """Pick one of `references()` by tag, name:tag, name or digest (prefix)."""
        refs = self.references()
        if not refs:
            raise SourceError(f"{self.transport}: holds no image")
        if selector is None:
            if len(refs) == 1:
                return refs[0]
            names = ", ".join(_describe(ref) for ref in refs[:8])
            more = f" and {len(refs) - 8} more" if len(refs) > 8 else ""
            raise SourceError(
                f"{self.transport}: holds {len(refs)} images ({names}{more}); "
                f"add :TAG (or :NAME:TAG) to choose one"
            )
        matches = [ref for ref in refs if _matches(ref, selector)]
        if not matches:
            raise SourceError(
                f"{self.transport}: no image {selector!r} here (it holds: "
                + ", ".join(_describe(ref) for ref in refs[:8])
                + ")"
            )
        return matches[0]


def _describe(ref: Reference) -> str:
    if ref.name or ref.tag:
        return f"{ref.name or ''}:{ref.tag}" if ref.tag else (ref.name or "")
    return ref.digest or "?"


def _matches(ref: Reference, selector: str) -> bool:
    name_tag = f"{ref.name}:{ref.tag}" if ref.name and ref.tag else None
    if selector in (ref.tag, ref.selector, name_tag, ref.name):
        return True
    # `python:3` and `library/python:3` match `docker.io/library/python:3` (and the reverse)
    wanted_name, wanted_tag = split_reference(selector)
    same_name = bool(ref.name and wanted_name) and display_name(ref.name) == display_name(
        wanted_name
    )
    if same_name and wanted_tag in (None, ref.tag):
        return True
    digest = ref.digest or ""
    bare = selector.removeprefix("sha256:")
    return len(bare) >= 12 and digest.removeprefix("sha256:").startswith(bare)
