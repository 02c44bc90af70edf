"""`repo-info:FILE` — an upstream repo-info "remote" document read back into the model.

Every era of docs/repo-info-format.md: single manifests (2016), lists with and without a platform
count, foreign layers with and without Last Modified, the BuildKit misrenderings before 2023, OCI
indexes, attestation sections, schema 1, and `**does not exist** (yet?)`.

A document gives the rendered Dockerfile lines, not `created_by`: each line is turned back into a
`created_by` that renders to the same text (history.created_by_from_repo_info). It does not say
which step made which layer, so steps are not matched to layers.
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from ..blob.contained import InputPath
from ..blob.files import MAX_METADATA_BYTES, read_small_file
from ..history import (
    BUILDKIT_AWARE_ERA,
    created_by_from_repo_info,
    printed_before_buildkit_awareness,
)
from ..jsondoc import JSONProblem, load_json
from ..model import Image, Index, IndexEntry, Layer, Platform, Reference, Step, Target
from ..refs import split_reference
from .base import Capabilities, Source, SourceError
from .partial import MAX_GRAPH_ITEMS, MAX_IMAGE_ENTRIES

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE = re.compile(
    r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) ([A-Z][a-z]{2}) (\d{4,}) (\d\d):(\d\d):(\d\d) GMT$"
)
_HEADER = re.compile(r"^## `(.+)`$")
_SECTION = re.compile(r"^### `(.+)` - (.*)$")
_NO_SPACE = re.compile(r"\S+")
_FIELD = re.compile(
    r"^-\t(Docker Version|Manifest MIME|Total Size|Image ID|Entrypoint|Default Command|`SHELL`): (.*)$"
)
_BYTES = re.compile(r"\((\d+) bytes\)|^(\d+)\.0 B$")
MISSING_MARK = "**does not exist** (yet?)"
PULL_PLACEHOLDER = "$ docker pull "

# What one document may hold. Real ones are far below every cap: a remote document is a few to
# some tens of KB (the corpus' largest: 25 KB, 6 images, 84 steps, 41 layers) and a repository's
# whole tag-details.md a few MB; so the caps refuse only made-up documents, in one line, before
# their size turns into time or memory.
MAX_DOCUMENT_BYTES = MAX_METADATA_BYTES  # 64 MB, far above a tag-details.md
# One image's steps and layers: the cap every metadata reader applies (partial.py says why);
# it is also what keeps compare's alignment small.
MAX_STEPS = MAX_LAYERS = MAX_IMAGE_ENTRIES
# A remote document lists one image per platform and attestation (a few dozen at most): 1,000
# images. (`base` ranks every image of one side against every one of the other: 1,000 × 1,000
# pairs take it seconds.)
MAX_SECTIONS = 1_000
# Steps and layers of all its images together (each a few hundred bytes in the model, whatever
# few bytes it takes in the document): as for the images below one index.
MAX_ENTRIES = MAX_GRAPH_ITEMS
_CAP_REASONS = {
    "steps": "real histories have a few hundred",
    "layers": "Docker allows 127",
}


class DoesNotExist(SourceError):
    """The document says the tag does not exist upstream."""


def parse_imf_date(text: str) -> datetime | None:
    match = _DATE.match(text.strip())
    if not match or match.group(2) not in _MONTHS:
        return None
    day, month, year, hour, minute, second = match.groups()
    try:
        return datetime(
            int(year),
            _MONTHS.index(month) + 1,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=UTC,
        )
    except (ValueError, OverflowError):  # a year of many digits
        return None


def parse_platform_string(text: str) -> Platform:
    """`windows version 10.0.17763.737; amd64`, `linux; arm variant v7 ft. x, y`."""
    os_part, _, arch_part = text.partition("; ")
    os_part, _, os_features = os_part.partition(" ft. ")
    os_name, _, version = os_part.partition(" version ")
    arch_part, _, features = arch_part.partition(" ft. ")
    arch, _, variant = arch_part.partition(" variant ")
    return Platform(
        os=os_name or None,
        architecture=arch or None,
        variant=variant or None,
        os_version=version or None,
        os_features=os_features.split(", ") if " ft. " in text.split("; ")[0] else None,
        features=features.split(", ")
        if " ft. " in arch_part + " ft. " + features and features
        else None,
    )


def _size(text: str) -> int | None:
    match = _BYTES.search(text)
    if not match:
        return None
    return int(match.group(1) or match.group(2))


def _created(date: datetime | None) -> str | None:
    return date.strftime("%Y-%m-%dT%H:%M:%SZ") if date and date.year >= 1000 else None


def parse_document(text: str | bytes, origin: str = "document") -> Target:
    """The document's model; `text` is its str, or its bytes (UTF-8, as `RepoInfoSource` keeps
    them: each line is decoded on its own, so no copy of the whole document is ever made).

    Work and memory are linear in the document's size: its lines are read one at a time and only
    what the model keeps is kept (a step's text is one slice of the document), and the counts of
    images, steps and layers are capped (MAX_SECTIONS, MAX_STEPS, MAX_LAYERS, MAX_ENTRIES)."""
    lines = _lines(text)
    first = next(lines)[0]
    header = _HEADER.match(first)
    if not header:
        raise SourceError(f"{origin} is not a repo-info document (no '## `name:tag`' header)")
    name, tag = split_reference(header.group(1))
    early = list(itertools.islice(lines, 3))
    if any(line == MISSING_MARK for line, _, _ in early):
        raise DoesNotExist(f"{name}:{tag} does not exist upstream (so the document says)")
    reader = _Reader(text, origin)
    for line, start, end in itertools.chain(early, lines):
        reader.line(line, start, end)
    reader.finish()
    reference = Reference(name=name, tag=tag, digest=reader.top_digest, selector=f"{name}:{tag}")
    images = reader.images
    # The eras a document shows of itself: no platform count before 2022, BuildKit steps
    # printed as `RUN RUN …` before 2023.
    era = None if reader.counted else 2021
    if era is None and reader.before_buildkit_awareness:
        era = BUILDKIT_AWARE_ERA - 1
    if reader.top_mime is None and len(images) == 1 and images[0][0] is None:
        image = images[0][2]
        image.manifest_digest = image.manifest_digest or reader.top_digest
        return Target(reference, image, era=era)
    index = Index(digest=reader.top_digest, media_type=reader.top_mime)
    for digest, platform, image in images:
        entry = IndexEntry(digest=digest or "", platform=platform)
        if image.manifest_media_type is None and image.config_digest is None and not image.steps:
            index.warnings.append(f"{digest} is listed but not present in this source")
        else:
            entry.image = image
        index.entries.append(entry)
    return Target(reference, index, era=era)


def _lines(text: str | bytes) -> Iterator[tuple[str, int, int]]:
    """Each line as `text.split("\\n")` gives it (a trailing newline ends in an empty line), with
    where it starts and ends in `text`, one at a time."""
    newline: str | bytes = b"\n" if isinstance(text, bytes) else "\n"
    start = 0
    while True:
        end = text.find(newline, start)  # type: ignore[arg-type]
        last = end < 0
        if last:
            end = len(text)
        yield _decoded(text[start:end]), start, end
        if last:
            return
        start = end + 1


def _decoded(piece: str | bytes) -> str:
    return piece.decode() if isinstance(piece, bytes) else piece


def _pulled_digest(line: str) -> str | None:
    """DIGEST of a `$ docker pull NAME@DIGEST` line (the last `@` with a name before it and a
    digest after it), else None. A scan, not the regex `(\\S+)@(\\S+)$`: that backtracks
    quadratically on a long line of many `@`."""
    if not line.startswith(PULL_PLACEHOLDER):
        return None
    reference = line[len(PULL_PLACEHOLDER) :]
    if not _NO_SPACE.fullmatch(reference):
        return None
    at = reference.rfind("@", 1, len(reference) - 1)
    return reference[at + 1 :] if at > 0 else None


class _Reader:
    """The document's lines after its header, one at a time: the top block up to the first
    `### ` line, then each section (an image): its fields up to the ```` ```dockerfile ```` fence,
    its steps up to the closing fence, its layers up to the next field or section."""

    def __init__(self, text: str | bytes, origin: str):
        self.text = text
        self.origin = origin
        self.top_digest: str | None = None
        self.top_mime: str | None = None
        self.counted = False
        self.before_buildkit_awareness = False
        self.images: list[tuple[str | None, Platform, Image]] = []
        self.entries = 0  # steps and layers of every image so far
        self.state = "top"
        self.image: Image | None = None
        self.digest: str | None = None
        self.platform = Platform()
        self.stated_total: int | None = None
        self.created: str | None = None  # the open step: its date, the span of its text
        self.span: tuple[int, int] | None = None
        self.in_step = False

    def line(self, line: str, start: int, end: int) -> None:
        if line.startswith("### "):
            self.finish()
            self._section(line)
            return
        state = self.state
        if state == "top":
            self._top(line)
            return
        if not self.before_buildkit_awareness and printed_before_buildkit_awareness(line):
            self.before_buildkit_awareness = True
        if state == "fields":
            if line == "```dockerfile":
                self.state = "steps"
            else:
                self._field(line)
        elif state == "steps":
            if line == "```":
                self._close_step()
                self.state = "layers"
            elif line.startswith("# ") and (date := _DATE.match(line[2:])) is not None:
                self._close_step()
                self._count("steps", len(self.image.steps), MAX_STEPS)
                self.created = _created(parse_imf_date(date.group(0)))
                self.in_step = True
            elif self.in_step:
                self.span = (self.span[0] if self.span else start, end)
        elif state == "layers":
            self._layer(line)

    def finish(self) -> None:
        """The open section, if any, done."""
        if self.image is None:
            return
        self._close_step()
        image = self.image
        total = image.total_size
        if self.stated_total is not None and total is not None and self.stated_total != total:
            image.warnings.append(
                f"the document states Total Size {self.stated_total} but its layers add up to {total}"
            )
        self.images.append((self.digest, self.platform, image))
        self.image = None

    def _top(self, line: str) -> None:
        digest = _pulled_digest(line)
        if digest is not None and self.top_digest is None:
            self.top_digest = digest
        elif line.startswith("-\tManifest MIME: `"):
            self.top_mime = line.split("`", 2)[1]
        elif line.startswith("-\tPlatforms:"):
            self.counted = line.strip() != "-\tPlatforms:"

    def _section(self, line: str) -> None:
        if len(self.images) >= MAX_SECTIONS:
            raise SourceError(
                f"{self.origin}: more than {MAX_SECTIONS} images in one document "
                "(a real one lists a few dozen)"
            )
        match = _SECTION.match(line)
        if not match:
            raise SourceError(f"{self.origin}: malformed section header {line[:80]!r}")
        platform = parse_platform_string(match.group(2))
        self.image = Image(
            platform=Platform(
                os=platform.os,
                architecture=platform.architecture,
                variant=platform.variant,
                os_version=platform.os_version,
            )
        )
        self.digest = None
        self.stated_total = None
        self.platform = platform
        self.state = "fields"

    def _field(self, line: str) -> None:
        image = self.image
        digest = _pulled_digest(line)
        if digest is not None:
            self.digest = image.manifest_digest = digest
            return
        field = _FIELD.match(line)
        if not field:
            return
        key, value = field.groups()
        if key == "Docker Version":
            image.docker_version = value
        elif key == "Manifest MIME":
            image.manifest_media_type = value.strip("`")
        elif key == "Total Size":
            self.stated_total = _size(value.strip("* "))
        elif key == "Image ID":
            image.config_digest = value.strip("`")
        else:
            decoded = _json_list(value.strip("`"), self.origin)
            if key == "Entrypoint":
                image.entrypoint = decoded
            elif key == "Default Command":
                image.cmd = decoded
            else:
                image.shell = decoded

    def _close_step(self) -> None:
        if not self.in_step:
            return
        body = _decoded(self.text[self.span[0] : self.span[1]]) if self.span else ""
        self.image.steps.append(
            Step(created=self.created, created_by=created_by_from_repo_info(body))
        )
        self.in_step = False
        self.span = None

    def _layer(self, line: str) -> None:
        layers = self.image.layers
        if line.startswith("\t-\t`"):
            self._count("layers", len(layers), MAX_LAYERS)
            layers.append(Layer(digest=line[4:].partition("`")[0]))
        elif not layers:
            return
        elif line.startswith("\t\tLast Modified: "):
            layers[-1].last_modified = parse_imf_date(line[len("\t\tLast Modified: ") :].rstrip())
        elif line.startswith("\t\tSize: "):
            layers[-1].size = _size(line[len("\t\tSize: ") :].rstrip())
        elif line.startswith("\t\tMIME: "):
            layers[-1].media_type = line[len("\t\tMIME: ") :] or None
        elif line.startswith("-\t"):
            self.state = "rest"  # what follows the layer list is not read

    def _count(self, what: str, held: int, cap: int) -> None:
        """One more step or layer: refused past the image's cap or the document's."""
        if held >= cap:
            raise SourceError(
                f"{self.origin}: more than {cap} {what} in one image (the cap on {what}; "
                f"{_CAP_REASONS[what]})"
            )
        self.entries += 1
        if self.entries > MAX_ENTRIES:
            raise SourceError(
                f"{self.origin}: more than {MAX_ENTRIES} steps and layers in one document "
                "(the cap on a whole document)"
            )


def _json_list(text: str, origin: str) -> list[str] | None:
    try:
        value = load_json(text)
    except JSONProblem:
        raise SourceError(f"{origin}: {text[:60]!r} is not JSON") from None
    return value if isinstance(value, list) else None


class RepoInfoSource(Source):
    transport = "repo-info"
    capabilities = Capabilities(
        config=False, unhashable="a repo-info document records no blobs: nothing to hash"
    )

    def __init__(self, path: Path | InputPath):
        if not path.is_file():
            raise SourceError(f"repo-info: {path} is not a file")
        try:
            size = path.stat().st_size
        except OSError:
            size = 0  # read_small_file says why it cannot be read
        if size > MAX_DOCUMENT_BYTES:
            raise SourceError(_too_large(path, f"{size} bytes"))
        # The bytes are kept, not their str: a single non-ASCII character would make that up to
        # four times as large. Each line is decoded as it is parsed.
        self.data = read_small_file(path, "repo-info document", MAX_DOCUMENT_BYTES)
        if not is_utf8(self.data):
            raise SourceError(f"repo-info: {path} is not UTF-8 text")
        if self.data.startswith(b"<!-- THIS FILE IS GENERATED VIA"):
            raise SourceError(
                f"repo-info: {path} is a tag-details.md (every tag of a repository): read it "
                "as tag-details:FILE[:TAG], or give the path alone"
            )
        self.path = path

    def references(self) -> list[Reference]:
        try:
            return [parse_document(self.data, str(self.path)).reference]
        except DoesNotExist:
            first = next(_lines(self.data))[0]
            name, tag = split_reference(_HEADER.match(first).group(1))
            return [Reference(name=name, tag=tag, selector=f"{name}:{tag}")]

    def get(self, selector: str | None = None) -> Target:
        target = parse_document(self.data, str(self.path))
        if selector:
            self.select(selector)
        return target


def _too_large(path: Path | InputPath, size: str) -> str:
    return (
        f"repo-info: {path} is {size}: over the {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB cap "
        "on a repo-info document (real ones are at most a few MB)"
    )


def is_utf8(data: bytes) -> bool:
    """Whether `data` is UTF-8, decoded a MB at a time (the whole str is never made)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for at in range(0, len(view), 1 << 20):
            decoder.decode(view[at : at + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True
