"""`oci-archive:PATH[:TAG]` — an OCI image layout inside a tar (plain or compressed, `-`: stdin).

The same layout as `oci:`, read from one pass over the tar (tarindex.py) instead of a folder,
with the layout helpers of ocilayout.py.
"""

from __future__ import annotations

from pathlib import Path

from ..blob.tar import MemberObserver, TarBlobStore, TarIndex
from ..model import Reference, Target
from .base import Capabilities, Source, SourceError
from .ocilayout import layout_descriptors, layout_references, layout_target
from .partial import parse_json
from .view import BlobView, descriptor_roots


class OciArchiveSource(Source):
    transport = "oci-archive"

    capabilities = Capabilities(archive=True)

    def __init__(self, path: Path | str, observe: MemberObserver | None = None, on_read=None):
        # `observe`: verify hashes every member during the one pass a compressed input allows
        self.tar = TarIndex.open(path, observe, on_read)
        data = self.tar.read("index.json")
        if data is None:
            docker_save = self.tar.read("manifest.json") is not None
            hint = " (a docker save archive: use docker-archive:)" if docker_save else ""
            raise SourceError(
                f"oci-archive: {self.tar.label} has no index.json, so it is not an OCI image "
                f"layout{hint}"
            )
        self.index = parse_json(data, f"{self.tar.label}: index.json")
        self.store = TarBlobStore(self.tar)

    def references(self) -> list[Reference]:
        return [ref for ref, _ in layout_references(self.index)]

    def get(self, selector: str | None = None) -> Target:
        return layout_target(self.store, self.index, self.select(selector), self.transport)

    def blobs(self, references: list[Reference]) -> BlobView:
        roots = descriptor_roots(layout_descriptors(self.index, references))
        return BlobView(roots, store=self.store, archive=self.tar)
