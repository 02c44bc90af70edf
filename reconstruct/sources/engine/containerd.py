"""An engine on the containerd image store (Docker 29's default; `containerd-snapshotter`).

There the API's image `Id` is the digest of the image's index or manifest (the name's target),
not its config; `DockerVersion` is the daemon's own; inspect shows the host platform only; and a
history entry's `Size` is the snapshot's usage, not the layer's. So the image is rebuilt from its
own blobs, the real chain index → manifests → configs, for every platform the engine holds:

- from the engine's content store when it is readable here (`<DockerRootDir>/containerd/daemon`,
  or a system containerd's `/var/lib/containerd`, namespace `moby`): every blob checked against
  its digest, so a blob that is not the one named is an error, never a wrong answer;
- else from the engine's export (`docker save`: an OCI layout), streamed until the chain is
  complete (every manifest and config the index names that the engine holds);
- or, when the export is not wanted (a large image, `--exact` off), from what API 1.48 and later
  say: `manifests` on image inspect (each manifest's descriptor, kind, platform, and for an
  attestation the manifest it is for), `platform` on history (1.48) and inspect (1.49). That
  index has every platform and attestation, but no config digest: the Image ID stays unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...blob.contained import InputPath
from ...blob.digests import check_digest, sha256_digest, valid_digest
from ...blob.stores import BlobInfo, BlobStore, DirectoryBlobStore, MemoryBlobStore
from ...blob.tar import read_stream_until
from ...model import Image, Index
from ..base import SourceError
from ..partial import as_dict, as_list, index_from_json, kind_of, parse_json, resolve

SNAPSHOTTER = "io.containerd.snapshotter.v1"
CONTENT = "io.containerd.content.v1.content/blobs"
SYSTEM_CONTAINERD = Path("/var/lib/containerd")
MAX_CHAIN = 10_000  # index entries followed while waiting for the chain in an export


def uses_containerd_store(info: dict[str, Any]) -> bool:
    """`GET /info`: DriverStatus carries `["driver-type", "io.containerd.snapshotter.v1"]`."""
    status = info.get("DriverStatus")
    for pair in status if isinstance(status, list) else []:
        if isinstance(pair, list) and len(pair) == 2 and pair == ["driver-type", SNAPSHOTTER]:
            return True
    return False


class CheckedBlobStore(BlobStore):
    """A store whose every read is checked against the digest asked for."""

    def __init__(self, inner: BlobStore, label: str):
        self.inner = inner
        self.label = label

    def stat(self, digest: str) -> BlobInfo | None:
        return self.inner.stat(digest)

    def read(self, digest: str) -> bytes | None:
        data = self.inner.read(digest)
        if data is not None and sha256_digest(data) != digest:
            raise SourceError(f"{self.label}: blob {digest} hashes to {sha256_digest(data)}")
        return data


def local_content_store(info: dict[str, Any]) -> BlobStore | None:
    """The engine's content store, when this process can read it; None otherwise (a remote
    engine, Docker Desktop's VM, a root this user may not read)."""
    candidates = []
    root = info.get("DockerRootDir")
    if isinstance(root, str) and root.startswith("/"):
        candidates.append(Path(root) / "containerd" / "daemon" / CONTENT)
    candidates.append(SYSTEM_CONTAINERD / CONTENT)
    for path in candidates:
        try:
            if (path / "sha256").is_dir() and any(True for _ in (path / "sha256").iterdir()):
                store = DirectoryBlobStore(InputPath.of(path))
                return CheckedBlobStore(store, f"the content store {path}")
        except OSError:
            continue  # not ours to read
    return None


def from_store(store: BlobStore, target: str) -> Image | Index | None:
    """The chain below `target`, None when the store does not hold the target's blob."""
    check_digest(target)
    return resolve(store, target)


def _chain_complete(blobs: dict[str, bytes], target: str) -> bool:
    """Whether every manifest and config under `target` that an export could hold has passed."""
    pending, seen = [target], 0
    while pending:
        digest = pending.pop()
        seen += 1
        data = blobs.get(digest)
        if data is None or seen > MAX_CHAIN:
            return False
        try:
            document = parse_json(data, digest)
        except SourceError:
            return True  # not JSON: resolve() will say what it is
        kind = kind_of(document)
        if kind == "index":
            pending += [
                d["digest"]
                for d in as_list(document.get("manifests"))
                if isinstance(d, dict) and valid_digest(d.get("digest"))
            ]
        elif kind == "manifest":
            config = as_dict(document.get("config")).get("digest")
            if valid_digest(config) and config not in blobs:
                return False
    return True


def from_export(read: Callable[[int], bytes], target: str) -> tuple[Image | Index, bool, int]:
    """The chain below `target` from a streamed export: (root, read to its end, members)."""
    check_digest(target)

    def blobs_of(kept: dict[str, bytes]) -> dict[str, bytes]:
        found = {}
        for name, data in kept.items():
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == "blobs" and valid_digest(f"{parts[1]}:{parts[2]}"):
                found[f"{parts[1]}:{parts[2]}"] = data
        return found

    def enough(kept: dict[str, bytes]) -> bool:
        return _chain_complete(blobs_of(kept), target)

    tar, complete = read_stream_until(read, "the engine's export", enough)
    blobs = blobs_of(tar.kept_members())
    checked = {d: b for d, b in blobs.items() if sha256_digest(b) == d}
    root = resolve(MemoryBlobStore(checked), target)
    if root is None:
        raise SourceError(f"the engine's export does not hold {target}, the image's own blob")
    return root, complete, len(tar.members)


ATTESTATION_TYPE = "vnd.docker.reference.type"
ATTESTATION_FOR = "vnd.docker.reference.digest"


def same_platform(platform: dict[str, Any], inspect: dict[str, Any]) -> bool:
    """Whether an OCI platform is the one an (older engine's) inspect describes."""
    return (platform.get("os"), platform.get("architecture"), platform.get("variant") or "") == (
        inspect.get("Os"),
        inspect.get("Architecture"),
        inspect.get("Variant") or "",
    )


def index_from_manifests(
    target: str, inspect: dict[str, Any], image_of: Callable[[dict[str, Any]], Image | None]
) -> Index:
    """The index an API 1.48 inspect describes in `Manifests` (ImageManifestSummary: `ID`,
    `Descriptor`, `Available`, `Kind` image/attestation/unknown, `ImageData.Platform`,
    `AttestationData.For`); `image_of(platform)` reads one available image's config and history."""
    descriptors = []
    kinds = []
    for summary in as_list(inspect.get("Manifests")):
        summary = as_dict(summary)
        descriptor = dict(as_dict(summary.get("Descriptor")))
        if not valid_digest(descriptor.get("digest")):
            continue
        kind = summary.get("Kind")
        annotations = dict(as_dict(descriptor.get("annotations")))
        if kind == "attestation":
            annotations.setdefault(ATTESTATION_TYPE, "attestation-manifest")
            subject = as_dict(summary.get("AttestationData")).get("For")
            if valid_digest(subject):
                annotations.setdefault(ATTESTATION_FOR, subject)
            descriptor.setdefault("platform", {"architecture": "unknown", "os": "unknown"})
        elif kind == "image" and "platform" not in descriptor:
            platform = as_dict(as_dict(summary.get("ImageData")).get("Platform"))
            if platform:
                descriptor["platform"] = platform
        if annotations:
            descriptor["annotations"] = annotations
        descriptors.append(descriptor)
        kinds.append((kind, bool(summary.get("Available"))))
    top = as_dict(inspect.get("Descriptor"))
    document = {"mediaType": top.get("mediaType"), "manifests": descriptors}
    index = index_from_json(MemoryBlobStore(), document, digest=target)
    index.warnings.clear()  # "listed but not present": said once, below, with the reason
    for entry, (kind, available) in zip(index.entries, kinds, strict=True):
        if kind == "image" and available and entry.platform is not None:
            platform = next(d for d in descriptors if d["digest"] == entry.digest)["platform"]
            entry.image = image_of(platform)
            if entry.image is not None:
                entry.image.manifest_digest = entry.digest
                entry.image.manifest_media_type = entry.media_type
                entry.image.manifest_size = entry.size
    absent = sum(1 for entry in index.entries if entry.image is None)
    if absent:
        index.warnings.append(
            f"{absent} of the {len(index.entries)} manifests are listed from the engine's API "
            "only (attestations, platforms it does not hold or does not show): --exact reads them"
        )
    return index
