"""Derivations every store shares: JSON blobs (index → manifest → config) into the model.

Like go-containerregistry's `partial`: a store supplies blobs, this turns them into Index and
Image. No store-specific knowledge lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..blob.digests import check_digest, sha256_digest
from ..blob.stores import BlobStore
from ..history import link_layers
from ..jsondoc import JSONProblem, load_json
from ..model import (
    INDEX_MEDIA_TYPES,
    Image,
    Index,
    IndexEntry,
    Layer,
    Platform,
    Step,
)
from .base import SourceError

MAX_INDEX_DEPTH = 8
# Index entries one graph may list, every level together. A multi-platform image with its
# attestations lists a few dozen; an index is not a catalogue of thousands of images.
MAX_GRAPH_ENTRIES = 10_000
# Steps, layers and diff_ids one image may have. Docker refuses more than 127 layers, and the
# longest real histories (Windows images, long-lived bases) hold a few hundred steps.
MAX_IMAGE_ENTRIES = 10_000
# Steps and layers of all the images one graph reaches, together: one manifest of 10,000
# layers listed 10,000 times is small on disk and 10**8 objects in memory.
MAX_GRAPH_ITEMS = 200_000


def parse_json(data: bytes, what: str) -> dict[str, Any]:
    """A JSON object, or a one-line SourceError naming `what` was unreadable."""
    try:
        value = load_json(data)
    except JSONProblem as problem:
        raise SourceError(f"{what} is not valid JSON ({problem})") from None
    if not isinstance(value, dict):
        raise SourceError(f"{what} is JSON but not an object")
    return value


def kind_of(document: dict[str, Any]) -> str:
    """'index', 'manifest', 'config', 'schema1' or 'unknown', by media type, then by shape."""
    media_type = _str(document.get("mediaType"))
    if media_type in INDEX_MEDIA_TYPES or isinstance(document.get("manifests"), list):
        return "index"
    if document.get("schemaVersion") == 1 and "fsLayers" in document:
        return "schema1"
    if isinstance(document.get("config"), dict) and isinstance(document.get("layers"), list):
        return "manifest"
    if (
        isinstance(document.get("rootfs"), dict)
        or "history" in document
        or ("architecture" in document and "config" in document)
    ):
        return "config"
    return "unknown"


# --- small typed getters: real files hold nulls and wrong types where strings belong ----------


def as_list(value: Any) -> list[Any]:
    """A JSON value that should be an array: anything else reads as empty."""
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON value that should be an object: anything else reads as empty."""
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return clean_text(value) if isinstance(value, str) else None


def clean_text(value: str) -> str:
    """JSON may carry lone surrogates (`\\udc80`), which cannot be printed: U+FFFD instead."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_list(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [clean_text(item) for item in value]
    if isinstance(value, str):  # some writers store a single string
        return [clean_text(value)]
    return None


def _str_dict(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(key): str(item) for key, item in value.items() if item is not None}


def platform_from(value: Any) -> Platform:
    value = value if isinstance(value, dict) else {}
    return Platform(
        os=_str(value.get("os")),
        architecture=_str(value.get("architecture")),
        variant=_str(value.get("variant")),
        os_version=_str(value.get("os.version")),
        os_features=_str_list(value.get("os.features")),
        features=_str_list(value.get("features")),
    )


def layer_from_descriptor(value: Any) -> Layer:
    value = value if isinstance(value, dict) else {}
    return Layer(
        digest=_str(value.get("digest")),
        size=_int(value.get("size")),
        media_type=_str(value.get("mediaType")),
        urls=_str_list(value.get("urls")) or [],
        annotations=_str_dict(value.get("annotations")),
    )


def _bounded(values: list[Any], what: str) -> list[Any]:
    if len(values) > MAX_IMAGE_ENTRIES:
        raise SourceError(
            f"{what} lists {len(values):,} entries; an image has at most {MAX_IMAGE_ENTRIES:,}"
        )
    return values


def steps_from_history(history: Any) -> list[Step]:
    if not isinstance(history, list):
        return []
    _bounded(history, "the config's history")
    steps = []
    for entry in history:
        entry = entry if isinstance(entry, dict) else {}
        steps.append(
            Step(
                created=_str(entry.get("created")),
                created_by=_str(entry.get("created_by")),
                comment=_str(entry.get("comment")),
                author=_str(entry.get("author")),
                empty_layer=entry.get("empty_layer") is True,
            )
        )
    return steps


def image_from_config(
    config: dict[str, Any],
    *,
    config_digest: str | None = None,
    manifest: dict[str, Any] | None = None,
    manifest_digest: str | None = None,
    manifest_size: int | None = None,
) -> Image:
    """An Image from a config (and its manifest when known), with steps matched to layers."""
    settings = config.get("config") if isinstance(config.get("config"), dict) else {}
    rootfs = config.get("rootfs") if isinstance(config.get("rootfs"), dict) else {}
    image = Image(
        manifest_digest=manifest_digest,
        manifest_size=manifest_size,
        config_digest=config_digest,
        platform=platform_from(config),
        docker_version=_str(config.get("docker_version")) or None,
        created=_str(config.get("created")),
        author=_str(config.get("author")),
        entrypoint=_str_list(settings.get("Entrypoint")),
        cmd=_str_list(settings.get("Cmd")),
        shell=_str_list(settings.get("Shell")),
        env=_str_list(settings.get("Env")),
        labels=_str_dict(settings.get("Labels")) or None,
        user=_str(settings.get("User")),
        working_dir=_str(settings.get("WorkingDir")),
        exposed_ports=sorted(settings["ExposedPorts"])
        if isinstance(settings.get("ExposedPorts"), dict)
        else None,
        volumes=sorted(settings["Volumes"]) if isinstance(settings.get("Volumes"), dict) else None,
        diff_ids=[
            d
            for d in _bounded(as_list(rootfs.get("diff_ids")), "the config's rootfs.diff_ids")
            if isinstance(d, str)
        ],
        steps=steps_from_history(config.get("history")),
    )
    if manifest is not None:
        image.manifest_media_type = _str(manifest.get("mediaType"))
        image.config_media_type = _str(as_dict(manifest.get("config")).get("mediaType"))
        layers = _bounded(as_list(manifest.get("layers")), "the manifest's layers")
        image.layers = [layer_from_descriptor(d) for d in layers]
        image.annotations = _str_dict(manifest.get("annotations"))
    link_layers(image)
    return image


def image_from_manifest(
    store: BlobStore,
    manifest: dict[str, Any],
    *,
    digest: str | None,
    size: int | None = None,
    config_override: bytes | None = None,
) -> Image:
    """Resolve a manifest's config through `store`; an absent config still yields the layers."""
    config_descriptor = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    config_digest = _str(config_descriptor.get("digest"))
    data = config_override
    if data is None and config_digest:
        data = store.read(config_digest)
    warnings = []
    if data is None:
        config: dict[str, Any] = {}
        warnings.append(f"config blob {config_digest} is not present: history unknown")
    else:
        config = parse_json(data, f"config {config_digest or ''}".strip())
        if config_override is not None:
            actual = sha256_digest(data)
            if config_digest and actual != config_digest:
                warnings.append(f"the config given hashes to {actual}, not {config_digest}")
            config_digest = config_digest or actual
    image = image_from_config(
        config,
        config_digest=config_digest,
        manifest=manifest,
        manifest_digest=digest,
        manifest_size=size,
    )
    image.warnings[:0] = warnings
    return image


@dataclass
class IndexGraph:
    """What one walk from a root has met: each index is expanded once (an index graph is a DAG,
    and 10 entries naming one child index 8 levels down would otherwise be 10**8 paths), and
    the entries of all its indexes together are bounded."""

    indexes: set[str] = field(default_factory=set)
    entries: int = 0
    items: int = 0

    def count(self, listed: int, digest: str | None) -> None:
        self.entries += listed
        if self.entries > MAX_GRAPH_ENTRIES:
            raise SourceError(
                f"the index graph at {digest or 'the root'} lists more than "
                f"{MAX_GRAPH_ENTRIES:,} entries"
            )

    def count_items(self, image: Image) -> None:
        self.items += len(image.steps) + len(image.layers)
        if self.items > MAX_GRAPH_ITEMS:
            raise SourceError(
                f"the images below one index hold more than {MAX_GRAPH_ITEMS:,} steps and layers"
            )


def resolve(
    store: BlobStore,
    digest: str,
    *,
    media_type: str | None = None,
    size: int | None = None,
    depth: int = 0,
    seen: frozenset[str] = frozenset(),
    graph: IndexGraph | None = None,
) -> Image | Index | None:
    """The image or index a descriptor names, or None when its blob is not in the store."""
    check_digest(digest)
    if depth > MAX_INDEX_DEPTH:
        raise SourceError(f"indexes nested more than {MAX_INDEX_DEPTH} deep at {digest}")
    if digest in seen:
        raise SourceError(f"index {digest} contains itself (a loop)")
    graph = graph if graph is not None else IndexGraph()
    if digest in graph.indexes:
        return Index(
            digest=digest,
            warnings=[f"index {digest} is listed more than once: its entries are shown once"],
        )
    data = store.read(digest)
    if data is None:
        return None
    document = parse_json(data, f"blob {digest}")
    kind = kind_of(document)
    if kind == "index":
        graph.indexes.add(digest)
        return index_from_json(
            store, document, digest=digest, depth=depth + 1, seen=seen | {digest}, graph=graph
        )
    if kind == "manifest":
        image = image_from_manifest(store, document, digest=digest, size=size or len(data))
        graph.count_items(image)
        return image
    if kind == "schema1":
        raise SourceError(f"{digest} is a schema 1 manifest, which is not supported")
    raise SourceError(f"blob {digest} is neither an index nor a manifest")


def index_from_json(
    store: BlobStore,
    document: dict[str, Any],
    *,
    digest: str | None,
    depth: int = 0,
    seen: frozenset[str] = frozenset(),
    graph: IndexGraph | None = None,
) -> Index:
    graph = graph if graph is not None else IndexGraph()
    index = Index(
        digest=digest,
        media_type=_str(document.get("mediaType")),
        annotations=_str_dict(document.get("annotations")),
    )
    descriptors = as_list(document.get("manifests"))
    graph.count(len(descriptors), digest)
    for descriptor in descriptors:
        if not isinstance(descriptor, dict) or not _str(descriptor.get("digest")):
            index.warnings.append("an index entry has no digest and was skipped")
            continue
        entry = IndexEntry(
            digest=descriptor["digest"],
            media_type=_str(descriptor.get("mediaType")),
            size=_int(descriptor.get("size")),
            platform=platform_from(descriptor["platform"])
            if isinstance(descriptor.get("platform"), dict)
            else None,
            annotations=_str_dict(descriptor.get("annotations")),
        )
        resolved = resolve(
            store,
            entry.digest,
            media_type=entry.media_type,
            size=entry.size,
            depth=depth,
            seen=seen,
            graph=graph,
        )
        if isinstance(resolved, Index):
            entry.index = resolved
        elif isinstance(resolved, Image):
            entry.image = resolved
        else:
            index.warnings.append(f"{entry.digest} is listed but not present in this source")
        index.entries.append(entry)
    return index


def json_object(data: bytes | None) -> dict[str, Any] | None:
    """A JSON object, or None for anything else (absent, not JSON, not an object)."""
    if data is None:
        return None
    try:
        value = load_json(data)
    except JSONProblem:
        return None
    return value if isinstance(value, dict) else None


def diff_ids_of(config: dict[str, Any] | None) -> list[str]:
    """A raw config's rootfs.diff_ids, a non-string entry as \"\"."""
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    values = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    return [d if isinstance(d, str) else "" for d in values] if isinstance(values, list) else []
