"""The exact path of `docker-daemon:`: the engine's export, read only as far as needed.

`GET /images/{id}/get` (the `docker save` archive) is streamed through the tar reader every
archive uses (blob/tar.py), which stops as soon as the image's own config, and where it adds anything the manifest, have passed; the model is
then built from those bytes as for any archive (partial.py). EngineSource (engine/__init__.py) makes the
request and decides when the exact path is used.

Kept apart from the source so the stream reading is tested on plain bytes, without an engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...blob.stores import MemoryBlobStore
from ...blob.tar import read_stream_until
from ...model import Image
from ..base import SourceError
from ..partial import (
    as_dict,
    as_list,
    image_from_config,
    image_from_manifest,
    kind_of,
    parse_json,
    sha256_digest,
)

# Small JSON blobs of an OCI layout inside the export are read to find the manifest.
MANIFEST_SEARCH_LIMIT = 256 * 1024
STREAM_BUFFER = 256 * 1024  # read-ahead past the config: at most this much


@dataclass
class ExportRead:
    """What one streamed `GET /images/{id}/get` gave, and how much of it was read."""

    config: bytes | None = None
    manifest_json: bytes | None = None  # the legacy `manifest.json` (LayerSources)
    oci_manifest: tuple[str, bytes] | None = None  # (digest, bytes) naming the config
    layout: str | None = None  # "legacy" or "oci", from where the config was
    bytes_read: int = 0
    members: int = 0
    complete: bool = False  # the archive was read to its end


class _Counting:
    """A read-only file object over `read(size)` that counts what it hands out."""

    def __init__(self, read: Callable[[int], bytes]):
        self._read = read
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._read(size if size and size > 0 else STREAM_BUFFER)
        self.count += len(data)
        return data


def read_export(
    read: Callable[[int], bytes], config_digest: str, *, want_layer_sources: bool
) -> ExportRead:
    """Walk a `docker save` stream header by header; keep the config (and manifest), stop early.

    Docker ≤ 24 writes the archive in name order (`<v1 id>/layer.tar`, `<image id>.json`,
    `manifest.json`, `repositories`), so the config passes at a random point among the layers and
    `manifest.json` near the end; it is waited for only when its LayerSources (foreign layers)
    matter. Docker ≥ 25 writes an OCI layout: config and manifest are blobs, in digest order.
    Podman writes layers first, then the config.
    """
    hexpart = config_digest.split(":", 1)[-1]
    legacy_name, blob_name = f"{hexpart}.json", f"blobs/sha256/{hexpart}"
    counting = _Counting(read)
    found = ExportRead()
    looked_at: set[str] = set()

    def enough(kept: dict[str, bytes]) -> bool:
        for name in kept.keys() - looked_at:
            looked_at.add(name)
            data = kept[name]
            if name in (legacy_name, blob_name):
                found.config = data
                found.layout = "legacy" if name == legacy_name else "oci"
            elif name == "manifest.json":
                found.manifest_json = data
            elif (
                name.startswith("blobs/")
                and len(data) <= MANIFEST_SEARCH_LIMIT
                and _names_config(data, config_digest)
            ):
                found.oci_manifest = ("sha256:" + name.rsplit("/", 1)[-1], data)
        return _enough(found, want_layer_sources)

    tar, found.complete = read_stream_until(counting.read, "the engine's export", enough)
    found.members = len(tar.members)
    found.bytes_read = counting.count
    return found


def _names_config(data: bytes, config_digest: str) -> bool:
    if not data.lstrip().startswith(b"{"):
        return False
    try:
        document = parse_json(data, "blob")
    except SourceError:
        return False
    config = document.get("config")
    return isinstance(config, dict) and config.get("digest") == config_digest


def _enough(found: ExportRead, want_layer_sources: bool) -> bool:
    if found.config is None:
        return False
    if found.layout == "oci":
        return found.oci_manifest is not None
    return not want_layer_sources or found.manifest_json is not None


def image_from_export(found: ExportRead, config_digest: str) -> Image:
    """The model from the export's own config (and manifest, or LayerSources, where read)."""
    if found.config is None:
        raise SourceError(f"the engine's export does not hold the config {config_digest}")
    kind = kind_of(parse_json(found.config, f"blob {config_digest}"))
    if kind != "config":
        # an engine that names images by their manifest (the containerd image store) and was
        # not recognised as one: never read an index or manifest as if it were the config
        raise SourceError(
            f"the engine names this image by {config_digest}, which is an image {kind}, not "
            "its config: its history cannot be read this way"
        )
    warnings = []
    actual = sha256_digest(found.config)
    if actual != config_digest:
        warnings.append(f"the exported config hashes to {actual}, not {config_digest}")
    if found.oci_manifest is not None:
        digest, data = found.oci_manifest
        image = image_from_manifest(
            MemoryBlobStore({config_digest: found.config}),
            parse_json(data, f"manifest {digest}"),
            digest=digest,
            size=len(data),
        )
    else:
        config = parse_json(found.config, f"config {config_digest}")
        sources = _layer_sources(found.manifest_json, config_digest)
        diff_ids = as_list(as_dict(config.get("rootfs")).get("diff_ids"))
        manifest = None
        if sources:  # foreign (Windows base) layers: their distribution descriptors
            manifest = {"layers": [sources.get(d) or {} for d in diff_ids if isinstance(d, str)]}
        image = image_from_config(config, config_digest=config_digest, manifest=manifest)
    image.warnings[:0] = warnings
    return image


def _layer_sources(manifest_json: bytes | None, config_digest: str) -> dict[str, Any]:
    if manifest_json is None:
        return {}
    try:
        entries = parse_json(b'{"m": ' + manifest_json + b"}", "manifest.json")["m"]
    except SourceError:
        return {}
    hexpart = config_digest.split(":", 1)[-1]
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and str(entry.get("Config", "")).endswith(hexpart + ".json"):
            sources = entry.get("LayerSources")
            return sources if isinstance(sources, dict) else {}
    return {}
