"""The one model every source fills and every renderer reads.

Plain dataclasses, no I/O and no formatting. A field a source cannot know stays None (or an empty
collection): a renderer prints nothing for it and a comparison treats it as unknown, never as a
difference. Field names follow the OCI image spec where one exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

# Layers that registries do not (or may not) redistribute: Windows base layers.
FOREIGN_MEDIA_TYPES = frozenset(
    {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)

DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
INDEX_MEDIA_TYPES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
MANIFEST_MEDIA_TYPES = frozenset({DOCKER_MANIFEST_V2, OCI_MANIFEST})
# The OCI annotation naming the image an image was built FROM (a Dockerfile source sets it).
BASE_NAME_ANNOTATION = "org.opencontainers.image.base.name"


@dataclass
class Platform:
    """An index entry's platform, or the one an image config declares."""

    os: str | None = None
    architecture: str | None = None
    variant: str | None = None
    os_version: str | None = None
    # None and [] differ: the generator prints " ft. " for a present but empty list.
    os_features: list[str] | None = None
    features: list[str] | None = None

    @property
    def is_unknown(self) -> bool:
        """BuildKit attestation manifests are listed as unknown/unknown."""
        return self.os == "unknown" and self.architecture == "unknown"


@dataclass
class Layer:
    """One filesystem layer: the manifest's descriptor joined with the config's diff_id."""

    digest: str | None = None  # compressed digest from a manifest; None when no manifest is known
    size: int | None = None  # compressed size in bytes
    media_type: str | None = None
    urls: list[str] = field(default_factory=list)
    diff_id: str | None = None  # digest of the uncompressed tar, from rootfs.diff_ids
    uncompressed_size: int | None = None
    last_modified: datetime | None = None  # what a registry reports; rarely known offline
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def foreign(self) -> bool:
        return self.media_type in FOREIGN_MEDIA_TYPES


@dataclass
class Step:
    """One entry of the config's history, as recorded (created is the raw string)."""

    created: str | None = None
    created_by: str | None = None
    comment: str | None = None
    author: str | None = None
    empty_layer: bool = False
    layer: Layer | None = None  # the layer this step produced, once matched
    # Set by a source that had to infer empty_layer (the Engine API does not report it).
    uncertain: str | None = None
    # For a COPY/ADD the builder recorded only by a content hash (`file:<sha> in /dst`): what its
    # layer really adds under the destination, relative to it, when read (contents/recover.py);
    # the build host's file names are not recorded anywhere.
    recovered: list[str] | None = None  # at most the first 1,000
    recovered_count: int | None = None  # how many entries the layer adds there in all
    # moby's classic-builder hash recomputed from those: "matches", "not reproduced" (the
    # guessed build-host names were not the real ones) or "not checkable: <why>"
    recovered_check: str | None = None


@dataclass
class Image:
    """One image: a manifest (when known), its config, history and layers."""

    manifest_digest: str | None = None
    manifest_media_type: str | None = None
    manifest_size: int | None = None
    config_digest: str | None = None  # the Image ID
    config_media_type: str | None = None
    platform: Platform = field(default_factory=Platform)
    docker_version: str | None = None
    created: str | None = None
    author: str | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    shell: list[str] | None = None
    env: list[str] | None = None
    labels: dict[str, str] | None = None
    user: str | None = None
    working_dir: str | None = None
    exposed_ports: list[str] | None = None
    volumes: list[str] | None = None
    diff_ids: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)  # manifest order (or diff_id order)
    annotations: dict[str, str] = field(default_factory=dict)
    # Problems found while reading or matching (count mismatches, absent blobs, ...).
    warnings: list[str] = field(default_factory=list)

    @property
    def total_size(self) -> int | None:
        """Sum of the manifest's layer sizes (duplicates and foreign layers counted)."""
        sizes = [layer.size for layer in self.layers]
        if not sizes or any(size is None for size in sizes):
            return None
        return sum(sizes)  # type: ignore[arg-type]


@dataclass
class IndexEntry:
    """One entry of an index: a descriptor plus what it resolved to, if its blob is present."""

    digest: str
    media_type: str | None = None
    size: int | None = None
    platform: Platform | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    image: Image | None = None
    index: Index | None = None  # a nested index

    @property
    def present(self) -> bool:
        return self.image is not None or self.index is not None


@dataclass
class Index:
    """An OCI image index or Docker manifest list."""

    digest: str | None = None
    media_type: str | None = None
    entries: list[IndexEntry] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Reference:
    """What a source holds under one name: `name:tag` (either may be unknown) and its digest."""

    name: str | None = None
    tag: str | None = None
    digest: str | None = None
    selector: str | None = None  # what to pass back to Source.get to read exactly this one
    image_id: str | None = None  # where the listing itself knows it (containers-storage)


@dataclass
class Target:
    """What `show` renders: a named image or index."""

    reference: Reference
    root: Image | Index
    # The repo-info generator year a document read back followed (None: today's format).
    era: int | None = None

    def images(self) -> list[tuple[Platform | None, IndexEntry | None, Image]]:
        """Every image present, in index order: (index entry's platform, entry, image)."""
        return [
            (s.entry.platform if s.entry else None, s.entry, s.image)
            for s in self.sections()
            if s.image is not None
        ]

    def sections(self) -> Iterator[Section]:
        """Every image in index order, nested indexes flattened, absent entries included."""
        if isinstance(self.root, Image):
            image = self.root
            # For a lone manifest upstream takes os/architecture from the config, never a version.
            yield Section(
                Platform(os=image.platform.os, architecture=image.platform.architecture),
                None,
                image,
            )
            return
        yield from _walk(self.root)


@dataclass(frozen=True)
class Section:
    """One image of a target as renderers and comparison walk it (absent entries: no image)."""

    platform: Platform
    entry: IndexEntry | None  # None when the target is a single image
    image: Image | None


def _walk(index: Index) -> Iterator[Section]:
    for entry in index.entries:
        if entry.index is not None:
            yield from _walk(entry.index)
            continue
        platform = entry.platform or (entry.image.platform if entry.image else Platform())
        yield Section(platform, entry, entry.image)


@dataclass
class Collection:
    """Many images in one document: a repository's tag-details.md (every tag of one repository),
    each tag's Target in the file's order (None: a tag the document says does not exist)."""

    name: str
    documents: list[tuple[str, Target | None]]
    # What comes before the first document (generated-file comment, title, contents), as
    # written; None: as upstream's update-remote.sh writes it for these tags.
    header: str | None = None
