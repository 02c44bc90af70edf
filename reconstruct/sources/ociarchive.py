"""`oci-archive:PATH[:TAG]` — an OCI image layout inside a tar (plain or compressed, `-`: stdin).

The same layout as `oci:`, read from one pass over the tar (blob/tar.py) instead of a folder,
with the layout helpers of ocilayout.py.
"""

from __future__ import annotations

from pathlib import Path

from ..blob.tar import MemberObserver, TarBlobStore, TarIndex
from .base import Capabilities, SourceError
from .ocilayout import LayoutSource
from .partial import parse_json


class OciArchiveSource(LayoutSource):
    transport = "oci-archive"

    capabilities = Capabilities(archive=True)

    def __init__(self, path: Path | str, observe: MemberObserver | None = None, on_read=None):
        # `observe`: verify hashes every member during the one pass a compressed input allows
        self.tar = self.archive = TarIndex.open(path, observe, on_read)
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
