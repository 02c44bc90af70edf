"""Every rule about image reference strings, once: `docker.io/library/python:3`, `python:3`,
`python@sha256:…`, `3f2a9c1b7d4e`.

Where tools disagree on a name's spelling, each spelling behaviour depends on has a name of its
own here: `normalized_name` (how the engine and distribution's reference package normalise),
`repositories_key` (how a data root's repositories.json spells a name), `display_name` (what
repo-info prints), `repo_info_name` (a repo-info tree's folder: no registry at all); and the
labels: `report_label`, `listing_label`, `holding_label`.
"""

from __future__ import annotations

import difflib
import re

# The distribution reference grammar (docker/distribution/reference), with an optional digest.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?)"
_REFERENCE = re.compile(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?(?:@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,})?$"
)
_IMAGE_ID = re.compile(r"^(?:sha256:)?[0-9a-f]{12,64}$")
# Names that are files someone mistyped, not images: refused as references.
_FILE_SUFFIXES = (".json", ".tar", ".gz", ".tgz", ".zst", ".xz", ".bz2", ".md", ".txt", ".yaml")
DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")


def split_reference(text: str | None) -> tuple[str | None, str | None]:
    """(name, tag) from a reference; either may be None. A digest suffix is dropped."""
    if not text:
        return None, None
    text = text.split("@", 1)[0]
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        return (text[:colon] or None), (text[colon + 1 :] or None)
    return text or None, None


def display_name(name: str | None) -> str | None:
    """The short name repo-info prints: no default registry, no `library/` namespace."""
    if not name:
        return name
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        name = name.removeprefix(prefix)
    return name.removeprefix("library/")


def holding_label(ref) -> str:
    """How an error message lists what a source holds: `name:tag`, `:tag` for a tag alone, a
    bare name, else the digest."""
    if ref.name or ref.tag:
        return f"{ref.name or ''}:{ref.tag}" if ref.tag else (ref.name or "")
    return ref.digest or "?"


def report_label(ref) -> str:
    """How verify and audit reports name an image: `name:tag`, a bare name or tag, else the
    digest."""
    if ref.name and ref.tag:
        return f"{ref.name}:{ref.tag}"
    return ref.name or ref.tag or ref.digest or "<unknown>"


def listing_label(ref) -> str:
    """As `docker images` shows an image: `name:tag` with `<none>` for what is unknown, else the
    digest."""
    if ref.name or ref.tag:
        return f"{ref.name or '<none>'}:{ref.tag or '<none>'}"
    return ref.digest or "<unknown>"


def looks_like_reference(text: str) -> bool:
    """True for `python:3`, `ghcr.io/a/b@sha256:…`, `3f2a9c1b7d4e` — what `docker inspect` takes."""
    if not text or text.startswith(("/", ".", "~")) or text.lower().endswith(_FILE_SUFFIXES):
        return False
    return bool(_REFERENCE.match(text) or _IMAGE_ID.match(text))


def _has_domain(first: str) -> bool:
    return "." in first or ":" in first or first == "localhost"


def normalized_name(name: str) -> str:
    """`python` → `docker.io/library/python`, as the engine normalises names: Docker Hub's
    other spellings (`index.docker.io/python`) become `docker.io/library/python` too."""
    first, _, rest = name.partition("/")
    if rest and _has_domain(first):
        domain, path = first, rest
    else:
        domain, path = "docker.io", name
    if domain in DOCKER_HUB:
        domain = "docker.io"
        path = path if "/" in path else "library/" + path
    return f"{domain}/{path}"


def repositories_key(name: str) -> str:
    """`busybox` → `docker.io/library/busybox`, as a data root's repositories.json keys its
    repositories: a name with a registry of its own (`index.docker.io/python` included) is kept
    as written."""
    first, slash, _ = name.partition("/")
    if not slash or not _has_domain(first):
        name = f"docker.io/{name}"
    if name.startswith("docker.io/") and name.count("/") == 1:
        name = "docker.io/library/" + name.removeprefix("docker.io/")
    return name


def repo_info_name(name: str) -> str:
    """`registry:5000/library/python` → `python`: a repo-info tree's names have no registry (of
    any host) and no `library/`."""
    first, slash, rest = name.partition("/")
    if slash and _has_domain(first):
        name = rest
    return name.removeprefix("library/")


def closest_tags(wanted: str, tags: list[str], count: int = 3) -> list[str]:
    """Local tags nearest to `wanted` (difflib), compared in the short form users type."""
    short = {
        (display_name(split_reference(t)[0]) or "") + ":" + (split_reference(t)[1] or ""): t
        for t in tags
    }
    name, tag = split_reference(wanted.split("@", 1)[0])
    probe = f"{display_name(name) or ''}:{tag or 'latest'}"
    return [short[s] for s in difflib.get_close_matches(probe, list(short), n=count, cutoff=0.5)]
