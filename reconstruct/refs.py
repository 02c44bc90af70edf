"""Image reference strings: `docker.io/library/python:3`, `python@sha256:…`, `python:3`."""

from __future__ import annotations


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
