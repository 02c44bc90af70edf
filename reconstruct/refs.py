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
