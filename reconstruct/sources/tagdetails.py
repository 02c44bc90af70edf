"""`tag-details:FILE[:TAG]` — a repository's whole `tag-details.md`: every tag in one file.

docker-library/repo-info's `update-remote.sh` writes, for each repository, a generated-file
comment naming itself, `# Tags of `NAME``, a table of contents (one `-\t[`NAME:TAG`](#anchor)`
per tag, or `-\t**No supported tags**`), then each tag's whole remote document after a blank
line. The 2016–2017 files came from docker-library/docs' `.template-helpers/generate-tag-details.pl`
in the same shape, their documents in that generator's own form (repoinfo.py reads every era).

Each document is read as `repo-info:` reads one (its era detected from itself); a selector picks
a tag; with none, `show` prints the whole file again (`Capabilities.whole_document`).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..blob.contained import InputPath
from ..blob.files import read_small_file
from ..model import Collection, Reference, Target
from .base import Capabilities, Source, SourceError
from .repoinfo import MAX_DOCUMENT_BYTES, DoesNotExist, is_utf8, parse_document

GENERATED = re.compile(rb"<!-- THIS FILE IS GENERATED VIA '[^'\n]*' -->\n")
_TITLE = re.compile(rb"# Tags of `([^`\n]+)`\n")
MAX_TAGS = 100_000  # a repository's tags (the largest upstream have a few thousand)


def is_tag_details(head: bytes) -> bool:
    """For detecting a bare path: a file that opens as tag-details.md does."""
    return GENERATED.match(head) is not None and _TITLE.search(head) is not None


def split_tag_details(data: bytes, origin: str) -> tuple[str, bytes, list[tuple[str, bytes]]]:
    """(repository name, the header as written, [(tag, its document's bytes)]), in file order.

    A document starts at a `## `NAME:TAG`` line after a blank line and runs to the blank line
    before the next one (the blank line itself is the separator the script prints)."""
    generated = GENERATED.match(data)
    title = _TITLE.match(data, generated.end() + 1) if generated else None
    if generated is None or title is None or data[generated.end() : generated.end() + 1] != b"\n":
        raise SourceError(f"{origin} is not a tag-details.md (no generated-file comment and title)")
    name = title.group(1).decode()
    header_line = re.compile(rb"\n\n(## `" + re.escape(title.group(1)) + rb":([^`\n]+)`\n)")
    starts = [(m.start(1), m.group(2).decode()) for m in header_line.finditer(data, title.end())]
    if len(starts) > MAX_TAGS:
        raise SourceError(f"{origin} holds more than {MAX_TAGS:,} tags")
    header = data[: starts[0][0] - 1] if starts else data
    documents = []
    for number, (start, tag) in enumerate(starts):
        end = starts[number + 1][0] - 1 if number + 1 < len(starts) else len(data)
        documents.append((tag, data[start:end]))
    return name, header, documents


def parse_tag_details(data: bytes, origin: str) -> Collection:
    name, header, documents = split_tag_details(data, origin)
    parsed: list[tuple[str, Target | None]] = []
    for tag, document in documents:
        try:
            parsed.append((tag, parse_document(document, f"{origin}, tag {tag}")))
        except DoesNotExist:
            parsed.append((tag, None))
    return Collection(name, parsed, header.decode())


class TagDetailsSource(Source):
    transport = "tag-details"
    capabilities = Capabilities(
        config=False,
        unhashable="a repo-info document records no blobs: nothing to hash",
        whole_document=True,
    )

    def __init__(self, path: Path | InputPath):
        if not path.is_file():
            raise SourceError(f"tag-details: {path} is not a file")
        self.data = read_small_file(path, "tag-details.md", MAX_DOCUMENT_BYTES)
        if not is_utf8(self.data):
            raise SourceError(f"tag-details: {path} is not UTF-8 text")
        self.path = path
        self.name, _, self.documents = split_tag_details(self.data, str(path))

    def references(self) -> list[Reference]:
        found = []
        for tag, document in self.documents:
            try:
                digest = parse_document(document, f"{self.path}, tag {tag}").reference.digest
            except DoesNotExist:
                digest = None
            found.append(
                Reference(name=self.name, tag=tag, digest=digest, selector=f"{self.name}:{tag}")
            )
        return found

    def get(self, selector: str | None = None) -> Target:
        reference = self.select(selector)
        return self.get_reference(reference)

    def get_reference(self, reference: Reference) -> Target:
        for tag, document in self.documents:
            if tag == reference.tag:
                return parse_document(document, f"{self.path}, tag {tag}")
        raise SourceError(f"tag-details: no tag {reference.tag!r} in {self.path}")

    def collection(self) -> Collection:
        return parse_tag_details(self.data, str(self.path))

    def collections(self) -> dict[str, Collection]:
        return {self.name: self.collection()}


__all__ = ["TagDetailsSource", "is_tag_details", "parse_tag_details", "split_tag_details"]
