"""`oci:` — an OCI image layout directory (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`).

Each `index.json` entry is one reference; its tag comes from `org.opencontainers.image.ref.name`
(a bare tag, or a whole reference) and its name from `io.containerd.image.name` where present.
The layout helpers here serve the archive sources too (an OCI layout inside a tar).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..blob.contained import InputPath
from ..blob.files import read_small_file
from ..blob.stores import BlobStore, DirectoryBlobStore
from ..model import Reference, Target
from ..refs import split_reference
from .base import Source, SourceError
from .partial import as_list, parse_json, resolve
from .view import BlobView, descriptor_roots

if TYPE_CHECKING:
    from ..blob.tar import TarIndex

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


def layout_references(index: dict[str, Any]) -> list[tuple[Reference, dict[str, Any]]]:
    """One Reference per index.json entry, with the descriptor it names."""
    found = []
    for descriptor in as_list(index.get("manifests")):
        if not isinstance(descriptor, dict) or not isinstance(descriptor.get("digest"), str):
            continue
        annotations = descriptor.get("annotations") or {}
        annotations = annotations if isinstance(annotations, dict) else {}
        name, tag = split_reference(annotations.get(CONTAINERD_NAME))
        ref_name = annotations.get(REF_NAME)
        if isinstance(ref_name, str) and ref_name:
            if "/" in ref_name or ":" in ref_name:
                name, tag = split_reference(ref_name)
            else:
                tag = ref_name
        digest = descriptor["digest"]
        selector = f"{name}:{tag}" if name and tag else (tag or digest)
        found.append((Reference(name=name, tag=tag, digest=digest, selector=selector), descriptor))
    return found


def layout_descriptors(
    index: dict[str, Any], references: list[Reference]
) -> list[tuple[Reference, dict[str, Any]]]:
    """The index.json entries that `references` name, with their descriptors."""
    digests = {ref.digest for ref in references}
    return [(ref, d) for ref, d in layout_references(index) if ref.digest in digests]


def layout_target(
    store: BlobStore, index: dict[str, Any], reference: Reference, transport: str
) -> Target:
    for ref, descriptor in layout_references(index):
        if ref.digest == reference.digest:
            root = resolve(
                store,
                descriptor["digest"],
                media_type=descriptor.get("mediaType"),
                size=descriptor.get("size") if isinstance(descriptor.get("size"), int) else None,
            )
            if root is None:
                raise SourceError(
                    f"{transport}: {reference.digest} is listed in index.json but its blob is absent"
                )
            return Target(reference, root)
    raise SourceError(f"{transport}: no entry {reference.digest} in index.json")


class LayoutSource(Source):
    """An OCI image layout, wherever it lies: `index` and a `store` of its blobs; `archive` is
    the tar it lies in, None for a folder."""

    index: dict[str, Any]
    store: BlobStore
    archive: TarIndex | None = None
    # a folder with no layer blob at all is a metadata-only copy (like the bundled sample)
    layers_may_be_absent = False

    def references(self) -> list[Reference]:
        return [ref for ref, _ in layout_references(self.index)]

    def get(self, selector: str | None = None) -> Target:
        return layout_target(self.store, self.index, self.select(selector), self.transport)

    def blobs(self, references: list[Reference]) -> BlobView:
        roots = descriptor_roots(layout_descriptors(self.index, references))
        return BlobView(
            roots,
            store=self.store,
            archive=self.archive,
            layers_may_be_absent=self.layers_may_be_absent,
        )


class OciLayoutSource(LayoutSource):
    transport = "oci"
    layers_may_be_absent = True

    def __init__(self, path: Path):
        if not path.is_dir():
            raise SourceError(f"oci: {path} is not a directory")
        folder = InputPath.of(path)
        index_path = folder / "index.json"
        if not index_path.exists():
            raise SourceError(f"oci: {path} has no index.json, so it is not an OCI image layout")
        self.path = path
        self.index = parse_json(read_small_file(index_path, "index"), f"{index_path}")
        self.store = DirectoryBlobStore(folder / "blobs")
