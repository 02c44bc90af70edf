"""`oci-archive:PATH[:TAG]` — an OCI image layout inside a tar (plain or compressed, `-`: stdin).

The same layout as `oci:`, read from one pass over the tar (tarindex.py) instead of a folder,
with the layout helpers of ocilayout.py.
"""

from __future__ import annotations

from pathlib import Path

from ..blob.tar import TarBlobStore, TarIndex
from ..model import Reference, Target
from .base import Source, SourceError
from .ocilayout import layout_references, layout_target
from .partial import parse_json


class OciArchiveSource(Source):
    transport = "oci-archive"

    def __init__(self, path: Path | str, tar: TarIndex | None = None):
        # `tar`: the archive already indexed (verify indexes it while hashing every member)
        self.tar = tar if tar is not None else TarIndex.open(path)
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
        return layout_target(self.store, self.index, self._choose(selector), self.transport)
