"""The Source contract: every kind of input lists what it holds and returns the model.

Modelled on containers/image transports (`oci:PATH[:TAG]`, `docker-archive:PATH[:NAME:TAG]`, …)
and go-containerregistry's minimal cores: a source implements `references()` and `get()`, says
what it can know in `capabilities`, and shows its stored bytes in `blobs()` (view.py); selection
(`select`), direct reads of listed references (`get_reference`) and the labels are derived here.
A source only reads; it never formats and never writes to its input. Nothing outside `sources/`
knows which transport a source is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ..blob.digests import is_digest_prefix
from ..errors import SourceError
from ..model import Collection, Reference, Target
from ..refs import display_name, holding_label, split_reference

if TYPE_CHECKING:  # the blob view is built only when verify asks for it
    from ..blob.tarformat import MemberObserver
    from .view import BlobView


@dataclass(frozen=True)
class Capabilities:
    """What a kind of source holds; commands decide from these, never from transport names."""

    config: bool = True  # each image's own config (Image ID, Env…): not in a document or Dockerfile
    whole_history: bool = True  # history back to the base's first step (a Dockerfile's: its FROM)
    local_path: bool = True  # reads a file or folder here (False: an engine's API)
    archive: bool = False  # a tar, whose members a one-pass read can hand to an observer
    # Why there are no blobs to hash (None: there are, see `blobs()`).
    unhashable: str | None = None
    # One document of many images (a tag-details.md): with no selector, `show` prints it whole.
    whole_document: bool = False


class Source(ABC):
    transport: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()

    @classmethod
    def split_argument(cls, argument: str) -> tuple[Path, str | None]:
        """What follows `TRANSPORT:` → (the path to read, the selector); `PATH[:SELECTOR]`."""
        return split_path_selector(argument)

    @abstractmethod
    def references(self) -> list[Reference]:
        """Everything this source holds, one entry per name:tag (or per untagged image)."""

    @abstractmethod
    def get(self, selector: str | None = None) -> Target:
        """One image or index; `selector` is a tag, name:tag or digest (None: the only one)."""

    def get_reference(self, reference: Reference) -> Target:
        """One of `references()`, read directly (a store's every image: no lookup per image)."""
        return self.get(reference.selector or reference.digest)

    def blobs(self, references: list[Reference]) -> BlobView:
        """The stored bytes behind `references` (some of `references()`), for verification.

        Only sources with `capabilities.unhashable` None are asked."""
        raise SourceError(f"{self.transport}: {self.capabilities.unhashable or 'no blobs here'}")

    def collections(self) -> dict[str, Collection]:
        """The whole-file documents this source holds, by repository name (a tag-details.md, a
        checkout's tag-details files): what a mirror writes back as they are, rather than
        assembling them from each tag's document. Most sources hold none."""
        return {}

    def select(self, selector: str | None) -> Reference:
        """Pick one of `references()` by tag, name:tag, name or digest (prefix)."""
        refs = self.references()
        if not refs:
            raise SourceError(f"{self.transport}: holds no image")
        if selector is None:
            if len(refs) == 1:
                return refs[0]
            names = ", ".join(holding_label(ref) for ref in refs[:8])
            more = f" and {len(refs) - 8} more" if len(refs) > 8 else ""
            raise SourceError(
                f"{self.transport}: holds {len(refs)} images ({names}{more}); "
                f"add :TAG (or :NAME:TAG) to choose one"
            )
        matches = [ref for ref in refs if matches_selector(ref, selector)]
        if not matches:
            raise SourceError(
                f"{self.transport}: no image {selector!r} here (it holds: "
                + ", ".join(holding_label(ref) for ref in refs[:8])
                + ")"
            )
        return matches[0]

    def selected(self, selector: str | None) -> list[Reference]:
        """The reference `selector` names, or every reference when there is none."""
        return [self.select(selector)] if selector else self.references()

    def exported(self, references: list[Reference], observe: MemberObserver) -> Source | None:
        """These images as an archive the source streams (an engine's export, `docker save`
        through its API), read once with every member handed to `observe`: for a source
        that serves no blobs itself. None where the source reads its own."""
        return None


def split_path_selector(argument: str) -> tuple[Path, str | None]:
    """`DIR:tag` → (DIR, 'tag'): the longest prefix that exists is the path (paths may hold ':')."""
    if argument == "-" or argument.startswith("-:"):  # standard input, for archives
        return Path("-"), argument[2:] or None
    if Path(argument).exists() or ":" not in argument:
        return Path(argument), None
    cut = len(argument)
    while (cut := argument.rfind(":", 0, cut)) > 0:
        if Path(argument[:cut]).exists():
            return Path(argument[:cut]), argument[cut + 1 :] or None
    return Path(argument), None


def check_unambiguous(
    matches: list[Reference], selector: str, transport: str, hint: str = ""
) -> None:
    """Refuse a selector that names several images (a digest prefix: several digests; a name
    or tag: several name:tag@digest); the same image under several listings is one."""
    if is_digest_prefix(selector):
        keys: set = {ref.digest for ref in matches}
    else:
        keys = {(ref.name, ref.tag, ref.digest) for ref in matches}
    if len(keys) > 1:
        raise SourceError(
            f"{transport}: {selector!r} is ambiguous here: "
            + ", ".join(ref.selector or "?" for ref in matches[:8])
            + hint
        )


def matches_selector(ref: Reference, selector: str) -> bool:
    """Whether `selector` (tag, name:tag, name, digest or a 12+ digit prefix) names `ref`."""
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


__all__ = [
    "Capabilities",
    "Source",
    "SourceError",
    "check_unambiguous",
    "matches_selector",
    "split_path_selector",
]
