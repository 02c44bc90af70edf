"""`containerd:[ROOT][:REF]` — containerd's own root read from disk, no daemon needed.

A containerd root (default `/var/lib/containerd`; a Docker data root's `containerd/daemon`
with the containerd image store) holds:

    io.containerd.content.v1.content/blobs/sha256/<hex>   every index, manifest, config,
                                                          compressed layer and attestation
    io.containerd.metadata.v1.bolt/meta.db                bbolt (blob/bbolt.py), schema 6:
        v1/<namespace>/images/<name>/target/{digest,mediatype,size}

Namespaces: `k8s.io` (Kubernetes' CRI), `moby` (Docker), `default` (`ctr`), any other a client
chose. Image names are whole references (`docker.io/library/busybox:1.36`), `name@sha256:…`
for an image pulled by digest, `moby-dangling@sha256:…` for Docker's dangling images; the CRI
also names each image by its config digest (`sha256:…`), an alias of the tagged record that is
not listed again. The blobs on disk are shared by every namespace.

meta.db is read whole, without bbolt's lock (a running containerd holds it for as long as it
runs; see blob/bbolt.py for why that is safe), and nothing is ever written.

Listed per namespace (sorted): every tagged name, then images by digest only, then untagged
and dangling images. A selector is the listed `NAMESPACE/NAME`, or anything `Source.select`
takes (a name, a tag, a digest prefix); `NAMESPACE/` alone keeps that namespace's images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..blob.bbolt import BoltDB, BoltError, Bucket
from ..blob.contained import InputPath
from ..blob.digests import valid_digest
from ..blob.files import read_small_file
from ..blob.stores import DirectoryBlobStore
from ..model import Reference, Target
from ..refs import split_reference
from .base import (
    Source,
    SourceError,
    check_unambiguous,
    matches_selector,
    split_path_selector,
)
from .partial import resolve
from .view import BlobView, descriptor_roots, stored_view

DEFAULT_ROOT = Path("/var/lib/containerd")
CONTENT = "io.containerd.content.v1.content"
METADATA = "io.containerd.metadata.v1.bolt"
SCHEMA = b"\x06"  # containerd 1.x and 2.x's metadata schema
# meta.db grows and never shrinks (bbolt reuses its free pages); a node's is tens of MB.
MAX_META_DB = 1 << 30
DANGLING = "moby-dangling@"  # Docker's name for an image no tag names any more
MAX_NAME = 4096


def is_containerd_root(path: Path) -> bool:
    """For detecting a bare path: a folder holding containerd's metadata database."""
    if not path.is_dir():
        return False
    return (InputPath.of(path) / METADATA / "meta.db").is_file()


@dataclass(frozen=True)
class ImageRecord:
    """One `v1/<namespace>/images/<name>` entry of meta.db."""

    namespace: str
    name: str
    digest: str | None  # the target descriptor's (None: unreadable)
    media_type: str | None
    size: int | None
    # the size as recorded, for verify: a negative one kept, "malformed" for an unreadable
    # varint (None: no size recorded)
    recorded_size: int | str | None = None


def go_varint(data: bytes) -> int | None:
    """Go's `binary.Varint` (zig-zag), as containerd writes sizes; None when malformed."""
    value = shift = 0
    for index, byte in enumerate(data[:10]):
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if index != len(data) - 1:
                return None
            return (value >> 1) ^ -(value & 1)
        shift += 7
    return None


def _text(value: bytes | Bucket | None, limit: int = MAX_NAME) -> str | None:
    if not isinstance(value, bytes) or len(value) > limit:
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return None


def read_records(database: BoltDB, namespaces: tuple[str, ...] | None) -> list[ImageRecord]:
    """Every image record of the namespaces wanted (None: all), in key order."""
    v1 = database.root.bucket(b"v1")
    if v1 is None:
        raise SourceError("its meta.db holds no v1 bucket (not containerd's metadata)")
    version = v1.get(b"version")
    if isinstance(version, bytes) and version != SCHEMA:
        raise SourceError(
            f"its meta.db is schema version {go_varint(version)}, this reader knows 6"
        )
    records = []
    for raw_namespace, bucket in v1.buckets():
        namespace = _text(raw_namespace, 255)
        if namespace is None or (namespaces is not None and namespace not in namespaces):
            continue
        images = bucket.bucket(b"images")
        if images is None:
            continue
        for raw_name, image in images.buckets():
            name = _text(raw_name)
            if not name:
                continue
            target = image.bucket(b"target")
            values = target.values() if target is not None else {}
            digest = _text(values.get(b"digest"), 200)
            size = go_varint(values[b"size"]) if b"size" in values else None
            records.append(
                ImageRecord(
                    namespace=namespace,
                    name=name,
                    digest=digest if valid_digest(digest) else None,
                    media_type=_text(values.get(b"mediatype"), 255),
                    size=size if size is not None and size >= 0 else None,
                    recorded_size=size
                    if size is not None or b"size" not in values
                    else "malformed",
                )
            )
    return records


def _reference(record: ImageRecord, selector: str) -> Reference:
    name = record.name
    if name.startswith(DANGLING) or valid_digest(name):
        return Reference(digest=record.digest, selector=selector)
    if "@" in name:
        return Reference(name=name.partition("@")[0], digest=record.digest, selector=selector)
    repository, tag = split_reference(name)
    return Reference(name=repository, tag=tag, digest=record.digest, selector=selector)


class ContainerdImages:
    """The images and blobs of one containerd root, in the namespaces wanted (None: all).

    Shared by `containerd:` and `docker-root:` (a data root with the containerd image store,
    whose images are in namespace `moby`): selectors are `NAMESPACE/NAME` when several
    namespaces are read, else `prefix` + NAME."""

    def __init__(self, root: InputPath, namespaces: tuple[str, ...] | None, prefix: str = ""):
        self.root = root
        self.namespaces = namespaces
        self.prefix = prefix
        self.store = DirectoryBlobStore(root / CONTENT / "blobs")
        self._listing: list[tuple[Reference, ImageRecord]] | None = None
        self._by_selector: dict[str | None, tuple[Reference, ImageRecord]] | None = None

    def records(self) -> list[ImageRecord]:
        path = self.root / METADATA / "meta.db"
        data = read_small_file(path, "containerd metadata", MAX_META_DB)
        try:
            return read_records(BoltDB(data), self.namespaces)
        except BoltError as error:
            raise SourceError(f"{path}: not a readable bbolt file ({error})") from None
        except SourceError as error:
            raise SourceError(f"{path}: {error}") from None

    def listing(self) -> list[tuple[Reference, ImageRecord]]:
        if self._listing is not None:
            return self._listing
        by_namespace: dict[str, list[ImageRecord]] = {}
        for record in self.records():
            by_namespace.setdefault(record.namespace, []).append(record)
        found: list[tuple[Reference, ImageRecord]] = []
        for namespace in sorted(by_namespace):
            records = by_namespace[namespace]
            named = {r.digest for r in records if not valid_digest(r.name)}
            tagged, by_digest, untagged = [], [], []
            for record in sorted(records, key=lambda r: r.name):
                if valid_digest(record.name) and record.digest in named:
                    continue  # the CRI's image-ID alias of a named image
                selector = (
                    f"{namespace}/{record.name}"
                    if self.namespaces is None
                    else self.prefix + record.name
                )
                ref = _reference(record, selector)
                group = tagged if ref.tag else by_digest if ref.name else untagged
                group.append((ref, record))
            found += tagged + by_digest + untagged
        self._listing = found
        return found

    def references(self) -> list[Reference]:
        return [ref for ref, _ in self.listing()]

    def lookup(self, selector: str) -> list[Reference]:
        """The references `selector` names: a listed selector or name exactly, a namespace's
        own `NAMESPACE/REF`, else what `matches_selector` takes."""
        listing = self.listing()
        exact = [ref for ref, record in listing if selector in (ref.selector, record.name)]
        if exact:
            return exact
        if self.prefix and selector.startswith(self.prefix):
            selector = selector.removeprefix(self.prefix)
        namespace, slash, rest = selector.partition("/")
        if slash and any(record.namespace == namespace for _, record in listing):
            inside = [ref for ref, record in listing if record.namespace == namespace]
            if not rest:
                return inside
            exact = [
                ref
                for ref, record in listing
                if (record.namespace, record.name) == (namespace, rest)
            ]
            return exact or [ref for ref in inside if matches_selector(ref, rest)]
        return [ref for ref, _ in listing if matches_selector(ref, selector)]

    def pick(self, matches: list[Reference], selector: str, transport: str) -> Reference:
        """The one image `matches` (what `lookup(selector)` found, not empty) names."""
        check_unambiguous(matches, selector, transport, "; use a selector as listed")
        return matches[0]

    def record_of(self, reference: Reference) -> ImageRecord | None:
        """The record a listed reference came from (selectors are unique here)."""
        if self._by_selector is None:
            self._by_selector = {ref.selector: (ref, rec) for ref, rec in self.listing()}
        found = self._by_selector.get(reference.selector)
        return found[1] if found is not None and found[0] == reference else None

    def target(self, reference: Reference, transport: str) -> Target:
        what = reference.selector or reference.digest or "?"
        record = self.record_of(reference)
        digest = record.digest if record is not None else reference.digest
        if not digest:
            raise SourceError(f"{transport}: the record of {what} holds no target digest")
        root = resolve(
            self.store,
            digest,
            media_type=record.media_type if record else None,
            size=record.size if record else None,
        )
        if root is None:
            raise SourceError(
                f"{transport}: {what} names {digest}, whose blob is not in the content store"
            )
        return Target(reference, root)

    def blobs(self, references: list[Reference]) -> BlobView:
        view = stored_view([ref for ref in references if not ref.digest], self.store)
        # meta.db's target descriptor, its size and media type checked as an index entry's are
        found = [(ref, self._descriptor(ref)) for ref in references if ref.digest]
        view.roots[:0] = descriptor_roots(found)
        return view

    def _descriptor(self, reference: Reference) -> dict[str, object]:
        record = self.record_of(reference)
        descriptor: dict[str, object] = {"digest": reference.digest}
        if record is not None and record.digest == reference.digest:
            if record.recorded_size is not None:
                descriptor["size"] = record.recorded_size
            if record.media_type:
                descriptor["mediaType"] = record.media_type
        return descriptor


class ContainerdSource(Source):
    transport = "containerd"

    def __init__(self, path: Path):
        if not path.is_dir():
            raise SourceError(f"containerd: {path} is not a directory")
        if not is_containerd_root(path):
            raise SourceError(
                f"containerd: {path} is not a containerd root (no {METADATA}/meta.db in it)"
            )
        self.path = path
        self.images = ContainerdImages(InputPath.of(path), None)

    @classmethod
    def split_argument(cls, argument: str) -> tuple[Path, str | None]:
        """`[ROOT][:REF]`: a ROOT is a path (starting `/` or `.`); else all is REF, read from
        the default root."""
        if not argument:
            return DEFAULT_ROOT, None
        if argument.startswith(("/", ".")):
            return split_path_selector(argument)
        if argument.startswith(":"):
            return DEFAULT_ROOT, argument[1:] or None
        return DEFAULT_ROOT, argument

    def references(self) -> list[Reference]:
        return self.images.references()

    def select(self, selector: str | None) -> Reference:
        if selector is None:
            return super().select(None)
        matches = self.images.lookup(selector)
        if not matches:
            return super().select(selector)  # raises "no image … here"
        return self.images.pick(matches, selector, self.transport)

    def get(self, selector: str | None = None) -> Target:
        return self.get_reference(self.select(selector))

    def get_reference(self, reference: Reference) -> Target:
        return self.images.target(reference, self.transport)

    def blobs(self, references: list[Reference]) -> BlobView:
        return self.images.blobs(references)


__all__ = ["ContainerdImages", "ContainerdSource", "ImageRecord", "is_containerd_root"]
