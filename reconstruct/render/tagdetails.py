"""`repos/<name>/tag-details.md` as docker-library/repo-info's `update-remote.sh` writes it.

The file is a generated-file comment, a title, a table of contents with one line per tag (tags in
byte order, as `sort -u` orders `name:tag` in the C locale), then for each tag a blank line and the
tag's whole remote document. Documents are passed in one by one, so a repository with thousands
of tags never has to be held in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..history import CURRENT_ERA
from ..model import Collection
from ..text import terminal_safe

# The generator names itself by its `$0` in the comment; upstream runs it as ./update-remote.sh.
GENERATOR = "./update-remote.sh"
SEPARATOR = "\n"  # before each document (the script's bare `echo`)


def sort_tags(tags: Iterable[str]) -> list[str]:
    """Upstream's order: `sort -u`, and its checkouts are made in the C locale (byte order)."""
    return sorted(set(tags), key=lambda tag: tag.encode())


def anchor(reference: str) -> str:
    """The table of contents' link: `adminer:4.17.1` → `#adminer4171` (dots and colons dropped)."""
    return "#" + reference.replace(".", "").replace(":", "").lower()


def header(name: str, tags: list[str]) -> str:
    """Everything before the first document: comment, title and table of contents (names and
    tags come from images: terminal-safe, as render() makes the documents)."""
    lines = [f"<!-- THIS FILE IS GENERATED VIA '{GENERATOR}' -->", "", f"# Tags of `{name}`", ""]
    lines.extend(f"-\t[`{name}:{tag}`]({anchor(f'{name}:{tag}')})" for tag in tags)
    if not tags:
        lines.append("-\t**No supported tags**")
    return terminal_safe("\n".join(lines) + "\n")


def pieces(name: str, tags: list[str], documents: Iterable[str]) -> Iterator[str]:
    """The file in pieces: the header, then a blank line before each document, in `tags` order."""
    return pieces_after(header(name, tags), documents)


def render(name: str, documents: dict[str, str]) -> str:
    """The whole file for `name` from each tag's document (small repositories, tests)."""
    tags = sort_tags(documents)
    return "".join(pieces(name, tags, (documents[tag] for tag in tags)))


def missing(name: str, tag: str) -> str:
    """A tag the registry did not have, as the generator prints it."""
    return f"## `{name}:{tag}`\n\n**does not exist** (yet?)\n"


def render_collection(collection: Collection, era: int | None = None) -> str:
    """A whole tag-details.md again: its header as read (or as update-remote.sh writes one),
    each document in its own era (or `era`); terminal-safe, as render() makes documents."""
    from . import repoinfo

    tags = [tag for tag, _ in collection.documents]
    head = collection.header if collection.header is not None else header(collection.name, tags)
    documents = (
        repoinfo.render(target, collection.name, tag, era or target.era or CURRENT_ERA)
        if target is not None
        else missing(collection.name, tag)
        for tag, target in collection.documents
    )
    return terminal_safe("".join(pieces_after(head, documents)))


def pieces_after(head: str, documents: Iterable[str]) -> Iterator[str]:
    yield head
    for document in documents:
        yield SEPARATOR
        yield document
