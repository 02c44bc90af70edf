"""`repo-info:FILE` — an upstream repo-info "remote" document read back into the model.

Every era of docs/repo-info-format.md: single manifests (2016), lists with and without a platform
count, foreign layers with and without Last Modified, the BuildKit misrenderings before 2023, OCI
indexes, attestation sections, schema 1, and `**does not exist** (yet?)`.

A document gives the rendered Dockerfile lines, not `created_by`: each line is turned back into a
`created_by` that renders to the same text (history.created_by_from_repo_info). It does not say
which step made which layer, so steps are not matched to layers.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from ..blob.files import read_small_file
from ..history import (
    BUILDKIT_AWARE_ERA,
    created_by_from_repo_info,
    printed_before_buildkit_awareness,
)
from ..model import Image, Index, IndexEntry, Layer, Platform, Reference, Step, Target
from ..refs import split_reference
from .base import Capabilities, Source, SourceError

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE = re.compile(
    r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) ([A-Z][a-z]{2}) (\d{4,}) (\d\d):(\d\d):(\d\d) GMT$"
)
_HEADER = re.compile(r"^## `(.+)`$")
_SECTION = re.compile(r"^### `(.+)` - (.*)$")
_PULL = re.compile(r"^\$ docker pull (\S+)@(\S+)$")
_FIELD = re.compile(
    r"^-\t(Docker Version|Manifest MIME|Total Size|Image ID|Entrypoint|Default Command|`SHELL`): (.*)$"
)
_BYTES = re.compile(r"\((\d+) bytes\)|^(\d+)\.0 B$")
MISSING_MARK = "**does not exist** (yet?)"
PULL_PLACEHOLDER = "$ docker pull "


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


def parse_document(text: str, origin: str = "document") -> Target:
    lines = text.split("\n")
    if not lines or not _HEADER.match(lines[0]):
        raise SourceError(f"{origin} is not a repo-info document (no '## `name:tag`' header)")
    name, tag = split_reference(_HEADER.match(lines[0]).group(1))
    if MISSING_MARK in lines[:4]:
        raise DoesNotExist(f"{name}:{tag} does not exist upstream (so the document says)")
    position = 1
    top_digest = None
    top_mime = None
    counted = False
    while position < len(lines) and not lines[position].startswith("### "):
        line = lines[position]
        pull = _PULL.match(line)
        if pull and top_digest is None:
            top_digest = pull.group(2)
        elif line.startswith("-\tManifest MIME: `"):
            top_mime = line.split("`")[1]
        elif line.startswith("-\tPlatforms:"):
            counted = line.strip() != "-\tPlatforms:"
        position += 1
    sections = _split_sections(lines[position:])
    images = [_parse_section(body, origin) for body in sections]
    reference = Reference(name=name, tag=tag, digest=top_digest, selector=f"{name}:{tag}")
    # The eras a document shows of itself: no platform count before 2022, BuildKit steps
    # printed as `RUN RUN …` before 2023.
    era = None if counted else 2021
    if era is None and _before_buildkit_awareness(lines[position:]):
        era = BUILDKIT_AWARE_ERA - 1
    if top_mime is None and len(images) == 1 and images[0][0] is None:
        image = images[0][2]
        image.manifest_digest = image.manifest_digest or top_digest
        return Target(reference, image, era=era)
    index = Index(digest=top_digest, media_type=top_mime)
    for digest, platform, image in images:
        entry = IndexEntry(digest=digest or "", platform=platform)
        if image.manifest_media_type is None and image.config_digest is None and not image.steps:
            index.warnings.append(f"{digest} is listed but not present in this source")
        else:
            entry.image = image
        index.entries.append(entry)
    return Target(reference, index, era=era)


def _split_sections(lines: list[str]) -> list[list[str]]:
    sections: list[list[str]] = []
    for line in lines:
        if line.startswith("### "):
            sections.append([])
        if sections:
            sections[-1].append(line)
    return sections


def _parse_section(lines: list[str], origin: str) -> tuple[str | None, Platform, Image]:
    match = _SECTION.match(lines[0])
    if not match:
        raise SourceError(f"{origin}: malformed section header {lines[0][:80]!r}")
    platform = parse_platform_string(match.group(2))
    image = Image(
        platform=Platform(
            os=platform.os,
            architecture=platform.architecture,
            variant=platform.variant,
            os_version=platform.os_version,
        )
    )
    digest = None
    stated_total = None
    at = 1
    while at < len(lines) and lines[at] != "```dockerfile":
        line = lines[at]
        pull = _PULL.match(line)
        field = _FIELD.match(line)
        if pull:
            digest = pull.group(2)
            image.manifest_digest = digest
        elif field:
            key, value = field.groups()
            if key == "Docker Version":
                image.docker_version = value
            elif key == "Manifest MIME":
                image.manifest_media_type = value.strip("`")
            elif key == "Total Size":
                stated_total = _size(value.strip("* "))
            elif key == "Image ID":
                image.config_digest = value.strip("`")
            else:
                decoded = _json_list(value.strip("`"), origin)
                if key == "Entrypoint":
                    image.entrypoint = decoded
                elif key == "Default Command":
                    image.cmd = decoded
                else:
                    image.shell = decoded
        at += 1
    end = lines.index("```", at + 1) if "```" in lines[at + 1 :] else len(lines)
    image.steps = _parse_steps(lines[at + 1 : end])
    image.layers = _parse_layers(lines[end + 1 :])
    total = image.total_size
    if stated_total is not None and total is not None and stated_total != total:
        image.warnings.append(
            f"the document states Total Size {stated_total} but its layers add up to {total}"
        )
    return digest, platform, image


def _json_list(text: str, origin: str) -> list[str] | None:
    try:
        value = json.loads(text)
    except ValueError:
        raise SourceError(f"{origin}: {text[:60]!r} is not JSON") from None
    return value if isinstance(value, list) else None


def _parse_steps(lines: list[str]) -> list[Step]:
    steps: list[Step] = []
    texts: list[list[str]] = []
    for line in lines:
        if line.startswith("# ") and (date := _DATE.match(line[2:])) is not None:
            steps.append(Step(created=_created(parse_imf_date(date.group(0)))))
            texts.append([])
        elif texts:
            texts[-1].append(line)
    for step, text in zip(steps, texts, strict=True):
        step.created_by = created_by_from_repo_info("\n".join(text))
    return steps


def _before_buildkit_awareness(lines: list[str]) -> bool:
    """The document prints BuildKit history as the generator did until 2022 (`RUN RUN …`)."""
    return any(printed_before_buildkit_awareness(line) for line in lines)


def _parse_layers(lines: list[str]) -> list[Layer]:
    layers: list[Layer] = []
    for line in lines:
        if line.startswith("\t-\t`"):
            layers.append(Layer(digest=line.split("`")[1]))
        elif not layers:
            continue
        elif line.startswith("\t\tLast Modified: "):
            layers[-1].last_modified = parse_imf_date(line[len("\t\tLast Modified: ") :].rstrip())
        elif line.startswith("\t\tSize: "):
            layers[-1].size = _size(line[len("\t\tSize: ") :].rstrip())
        elif line.startswith("\t\tMIME: "):
            layers[-1].media_type = line[len("\t\tMIME: ") :] or None
        elif line.startswith("-\t") or line.startswith("### "):
            break
    return layers


class RepoInfoSource(Source):
    transport = "repo-info"
    capabilities = Capabilities(
        config=False, unhashable="a repo-info document records no blobs: nothing to hash"
    )

    def __init__(self, path: Path):
        if not path.is_file():
            raise SourceError(f"repo-info: {path} is not a file")
        data = read_small_file(path, "document")
        try:
            self.text = data.decode()
        except UnicodeDecodeError:
            raise SourceError(f"repo-info: {path} is not UTF-8 text") from None
        self.path = path

    def references(self) -> list[Reference]:
        try:
            return [parse_document(self.text, str(self.path)).reference]
        except DoesNotExist:
            name, tag = split_reference(_HEADER.match(self.text.split("\n", 1)[0]).group(1))
            return [Reference(name=name, tag=tag, selector=f"{name}:{tag}")]

    def get(self, selector: str | None = None) -> Target:
        target = parse_document(self.text, str(self.path))
        if selector:
            self.select(selector)
        return target
