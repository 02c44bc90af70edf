"""`registry-dir:` — a CNCF distribution registry's filesystem storage, read offline.

The storage (`rootdirectory` of the filesystem driver) holds `docker/registry/v2/`:

    repositories/<name>/_manifests/tags/<tag>/current/link        a digest (the tag)
    repositories/<name>/_manifests/revisions/sha256/<hex>/link    every manifest pushed
    blobs/sha256/<2 hex>/<hex>/data                               manifests, configs, layers

Repository names nest (`library/python`, `a/b/c`; `a` and `a/b` may both be repositories):
a repository is any folder holding `_manifests`. The blob data files' modification times are
what the registry reports as Last-Modified, so each layer whose blob is present gets its
`last_modified` from there. Foreign layers are never served by a registry (clients fetch their
`urls`), so theirs stays unknown.

Listed: every tag (sorted by repository, then tag), then the untagged manifests (revisions no tag
names and no index in the same repository lists), by digest.
"""

from __future__ import annotations

from pathlib import Path

from ..blob.contained import InputPath
from ..blob.digests import check_digest, is_digest_prefix, valid_digest
from ..blob.files import read_text_file
from ..blob.stores import DirectoryBlobStore
from ..model import Image, Index, Reference, Target
from .base import Source, SourceError, matches_selector
from .partial import as_list, kind_of, parse_json, resolve
from .view import BlobView, stored_view

BLOB_PATTERN = "{alg}/{short}/{hex}/data"
MAX_LINK_BYTES = 1024
# Where the v2 folder may sit below the path the user gave (the storage root is the usual one).
V2_CANDIDATES = ("docker/registry/v2", "registry/v2", "v2", ".")


def find_v2(path: Path) -> InputPath | None:
    """The `docker/registry/v2` folder at or below `path`, None when there is none."""
    top = InputPath.of(path)
    for candidate in V2_CANDIDATES:
        folder = top / candidate
        if (folder / "repositories").is_dir() or (candidate != "." and (folder / "blobs").is_dir()):
            return folder
    return None


def looks_like_registry(path: Path) -> bool:
    """For detecting a bare path: a registry storage root or its v2 folder."""
    if not path.is_dir():
        return False
    v2 = find_v2(path)
    return v2 is not None and (v2 / "repositories").is_dir()


def read_link(path: InputPath) -> str | None:
    """The digest a `link` file holds, None when it is absent or not a digest."""
    text = read_text_file(path, MAX_LINK_BYTES)
    return text if valid_digest(text) else None


class RegistryDirSource(Source):
    transport = "registry-dir"

    def __init__(self, path: Path):
        if not path.is_dir():
            raise SourceError(f"registry-dir: {path} is not a directory")
        v2 = find_v2(path)
        if v2 is None:
            raise SourceError(
                f"registry-dir: {path} is not a registry storage directory "
                "(no docker/registry/v2/repositories in it)"
            )
        self.path = path
        self.v2 = v2
        self.store = DirectoryBlobStore(v2 / "blobs", (BLOB_PATTERN,), keep_mtime=True)
        self._references: list[Reference] | None = None

    # --- listing ---------------------------------------------------------------------------

    def repositories(self) -> list[str]:
        """Every repository name, sorted (a folder holding `_manifests` is one)."""
        root = self.v2 / "repositories"
        if not root.is_dir():
            return []
        names = []
        for folder, subfolders, _ in root.walk():
            if "_manifests" in subfolders:
                names.append(folder.relative_to(root).as_posix())
            # `_manifests`, `_layers`, `_uploads` hold no repositories; symlinks are not followed.
            subfolders[:] = [d for d in subfolders if not d.startswith("_")]
        return sorted(name for name in names if name != ".")

    def tags(self, name: str) -> list[tuple[str, str | None]]:
        """(tag, digest) for each tag of `name`; digest None when its link is unreadable."""
        folder = self._manifests(name) / "tags"
        found = []
        for tag_dir in _sorted_dirs(folder):
            link = tag_dir / "current" / "link"
            if not link.exists():
                continue  # a tag being written or half deleted
            found.append((tag_dir.name, read_link(link)))
        return found

    def revisions(self, name: str) -> list[str]:
        """Every manifest digest ever pushed to `name` (the revisions' link files)."""
        found = []
        for alg_dir in _sorted_dirs(self._manifests(name) / "revisions"):
            for rev_dir in _sorted_dirs(alg_dir):
                digest = read_link(rev_dir / "link")
                if digest and digest == f"{alg_dir.name}:{rev_dir.name}":
                    found.append(digest)
        return found

    def references(self) -> list[Reference]:
        if self._references is not None:
            return self._references
        tagged: list[Reference] = []
        untagged: list[Reference] = []
        for name in self.repositories():
            tags = self.tags(name)
            for tag, digest in tags:
                tagged.append(
                    Reference(name=name, tag=tag, digest=digest, selector=f"{name}:{tag}")
                )
            named = {digest for _, digest in tags if digest}
            for digest in self._untagged(name, named):
                untagged.append(Reference(name=name, digest=digest, selector=f"{name}@{digest}"))
        self._references = tagged + untagged
        return self._references

    def _untagged(self, name: str, tagged: set[str]) -> list[str]:
        """Revisions no tag names and no index of this repository lists (its platforms)."""
        revisions: list[str] = []
        children: set[str] = set()
        for digest in self.revisions(name):
            data = self.store.read(digest)
            if data is None:
                continue
            revisions.append(digest)
            if b'"manifests"' not in data:
                continue  # only an index lists other manifests: no need to parse the rest
            try:
                document = parse_json(data, digest)
            except SourceError:
                continue
            if kind_of(document) == "index":
                children.update(
                    item["digest"]
                    for item in as_list(document.get("manifests"))
                    if isinstance(item, dict) and isinstance(item.get("digest"), str)
                )
        return [d for d in revisions if d not in tagged and d not in children]

    def _manifests(self, name: str) -> InputPath:
        return self.v2 / "repositories" / name / "_manifests"

    # --- reading ---------------------------------------------------------------------------

    def select(self, selector: str | None) -> Reference:
        """As the base class, but a tag or name found in several repositories is ambiguous."""
        if selector is None:
            return super().select(None)
        refs = self.references()
        if "@" in selector:  # name@digest: that repository's manifest, tagged or not
            name, _, digest = selector.partition("@")
            for ref in refs:
                if ref.name == name and ref.digest == digest:
                    return ref
            if name in self.repositories():
                check_digest(digest)
                return Reference(name=name, digest=digest, selector=selector)
        matches = [ref for ref in refs if matches_selector(ref, selector)]
        exact = [ref for ref in matches if selector in (ref.selector, f"{ref.name}:{ref.tag}")]
        if exact:
            return exact[0]
        if matches and all(ref.name == selector for ref in matches):
            # a repository name alone: its only tag, or `latest`
            if len(matches) == 1:
                return matches[0]
            for ref in matches:
                if ref.tag == "latest":
                    return ref
            raise SourceError(
                f"{self.transport}: repository {selector} holds {len(matches)} images "
                f"({', '.join(str(ref.tag or ref.digest) for ref in matches[:8])}); "
                "add :TAG to choose one"
            )
        if is_digest_prefix(selector):
            ambiguous = len({ref.digest for ref in matches}) > 1
        else:  # a tag alone (or `short:tag`) must name one repository's image
            ambiguous = len({(ref.name, ref.tag) for ref in matches}) > 1
        if ambiguous:
            raise SourceError(
                f"{self.transport}: {selector!r} is ambiguous here: "
                + ", ".join(ref.selector or "?" for ref in matches[:8])
                + "; use NAME:TAG"
            )
        return super().select(selector)

    def get(self, selector: str | None = None) -> Target:
        return self.get_reference(self.select(selector))

    def blobs(self, references: list[Reference]) -> BlobView:
        return stored_view(references, self.store)

    def get_reference(self, ref: Reference) -> Target:
        what = ref.selector or ref.digest or "?"
        if not ref.digest:
            raise SourceError(
                f"{self.transport}: the tag link of {what} is unreadable or does not hold a digest"
            )
        root = resolve(self.store, ref.digest)
        if root is None:
            raise SourceError(
                f"{self.transport}: {what} names manifest {ref.digest}, whose blob is absent"
            )
        self.fill_last_modified(root)
        return Target(
            Reference(name=ref.name, tag=ref.tag, digest=ref.digest, selector=ref.selector), root
        )

    def fill_last_modified(self, root: Image | Index) -> None:
        """Each present layer blob's modification time, as the registry's Last-Modified."""
        images = [root] if isinstance(root, Image) else list(_images(root))
        for image in images:
            if not image.manifest_digest:
                continue  # no manifest: the layers are diff_ids only
            for layer in image.layers:
                if layer.foreign or not layer.digest:
                    continue
                info = self.store.stat(layer.digest)
                if info is None:
                    image.warnings.append(
                        f"layer blob {layer.digest} is not in the registry storage "
                        "(Last Modified unknown)"
                    )
                    continue
                layer.last_modified = info.modified
                if layer.size is not None and info.size != layer.size:
                    image.warnings.append(
                        f"layer blob {layer.digest} is {info.size} bytes, "
                        f"the manifest says {layer.size}"
                    )


def _images(index: Index):
    for entry in index.entries:
        if entry.index is not None:
            yield from _images(entry.index)
        elif entry.image is not None:
            yield entry.image


def _sorted_dirs(folder: InputPath) -> list[InputPath]:
    """The folders in `folder`, by name (a symlink to a folder inside the storage counts)."""
    try:
        return folder.subfolders()
    except SourceError as error:
        raise SourceError(f"registry-dir: {error}") from None
