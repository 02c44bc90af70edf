"""`repo-info-dir:PATH[:NAME:TAG]` — a checkout of docker-library/repo-info.

The document for an image is `repos/<name>/remote/<tag>.md` (no `library/` in the name); each
repository's `repos/<name>/tag-details.md` is a whole-file document (`collections()`), which a
mirror of the checkout writes back as it is.
"""

from __future__ import annotations

from pathlib import Path

from ..blob.contained import InputPath
from ..model import Collection, Reference, Target
from ..refs import display_name, split_reference
from .base import Capabilities, Source, SourceError
from .repoinfo import RepoInfoSource
from .tagdetails import TagDetailsSource


class RepoInfoDirSource(Source):
    transport = "repo-info-dir"
    capabilities = Capabilities(
        config=False, unhashable="a repo-info document records no blobs: nothing to hash"
    )

    def __init__(self, path: Path):
        repos = InputPath.of(path) / "repos"
        if not repos.is_dir():
            raise SourceError(
                f"repo-info-dir: {path} has no repos/ folder (not a repo-info checkout)"
            )
        self.path = path
        self.repos = repos

    def references(self) -> list[Reference]:
        found = []
        for name in self.repos.names():
            for document in (self.repos / name / "remote").names():
                if document.endswith(".md") and not document.startswith("."):
                    tag = document.removesuffix(".md")
                    found.append(Reference(name=name, tag=tag, selector=f"{name}:{tag}"))
        return found

    def document(self, selector: str) -> InputPath:
        name, tag = split_reference(selector)
        name = display_name(name) or ""
        path = self.repos / name / "remote" / f"{tag or 'latest'}.md"
        if not name or ".." in Path(name).parts or not path.is_file():
            raise SourceError(
                f"repo-info-dir: no document for {name}:{tag or 'latest'} (looked for {path})"
            )
        return path

    def collections(self) -> dict[str, Collection]:
        """Each repository's tag-details.md, where the checkout has one (read as written)."""
        found = {}
        for name in self.repos.names():
            path = self.repos / name / "tag-details.md"
            if path.is_file():
                collection = TagDetailsSource(path).collection()
                found[collection.name] = collection
        return found

    def get(self, selector: str | None = None) -> Target:
        if selector is None:
            raise SourceError("repo-info-dir: name the image, e.g. repo-info-dir:PATH:python:3")
        return RepoInfoSource(self.document(selector)).get()
