"""Ground-truth records: what the producing engine or tool reports about an image."""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ImageTruth:
    """What the producing engine reports about one image in its own store.

    ``ref``          the name it was built/tagged as
    ``id``           ``sha256:<config digest>``
    ``config_raw``   the exact config JSON bytes (docker: imagedb file;
                     containers-storage: ``skopeo inspect --config --raw``)
    ``inspect``      ``docker image inspect`` / ``buildah inspect --type image``
    ``history``      CLI history, newest first: ``docker history --no-trunc
                     --format '{{json .}}'`` lines, or ``podman history
                     --no-trunc --format json``
    ``history_api``  Engine API ``GET /images/{ref}/history`` (dockerd only)
    ``manifest_raw`` the stored manifest (containers-storage only; dockerd
                     keeps none for local builds)
    """

    ref: str
    id: str
    config_raw: bytes
    inspect: dict
    history: list[dict]
    history_api: list[dict] | None = None
    manifest_raw: bytes | None = None

    @property
    def config(self) -> dict:
        return json.loads(self.config_raw)

    @property
    def manifest(self) -> dict | None:
        return json.loads(self.manifest_raw) if self.manifest_raw else None


class RawDocuments:
    """`manifest` and `config` decoded from the exact bytes a record keeps of them."""

    manifest_raw: bytes
    config_raw: bytes

    @property
    def manifest(self) -> dict:
        return json.loads(self.manifest_raw)

    @property
    def config(self) -> dict:
        return json.loads(self.config_raw)


@dataclass
class Artifact(RawDocuments):
    """An image written to a file or directory by a real tool.

    ``path``          the file or directory
    ``transport``     containers/image transport: docker-archive, oci-archive, oci, dir
    ``ref``           full skopeo reference, e.g. ``oci:/tmp/x/oci:1``
    ``manifest_raw``  ``skopeo inspect --raw <ref>`` (for docker-archive skopeo
                      synthesises a v2s2 manifest: the archive has none)
    ``config_raw``    ``skopeo inspect --config --raw <ref>`` (exact bytes)
    ``files``         the format's own index files, exact bytes: ``manifest.json``
                      and ``repositories`` of a docker-archive; ``index.json``
                      and ``oci-layout`` of an OCI layout / archive; ``manifest.json``
                      and ``version`` of a dir:
    """

    path: Path
    transport: str
    ref: str
    manifest_raw: bytes
    config_raw: bytes
    files: dict[str, bytes] = field(default_factory=dict)


_INDEX_FILES = ("manifest.json", "repositories", "index.json", "oci-layout", "version")


def index_files(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {n: (path / n).read_bytes() for n in _INDEX_FILES if (path / n).is_file()}
    with tarfile.open(path) as tar:
        names = set(tar.getnames())
        return {n: tar.extractfile(n).read() for n in _INDEX_FILES if n in names}
