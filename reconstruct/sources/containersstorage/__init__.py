"""`containers-storage:[ROOT][:REF]` — Podman's, Buildah's and CRI-O's image store read from
disk, no daemon needed (the records: store.py; the default root: graphroot.py).

ROOT is a graph root (`/var/lib/containers/storage`, `~/.local/share/containers/storage`, or
what storage.conf names when none is given); containers/image's own `[DRIVER@ROOT+RUNROOT]REF`
is read too (the run root holds nothing this reads). Each image record is one image: one
platform, named by none, one or several full references. Its root is what it was pulled or
loaded by: the index when it came through one (the other platforms that index lists are other
records, or not here), else its manifest; a manifest list made with `podman manifest create`
(a record with no layer of its own) reaches its instances through the whole store. A record with
no manifest (an image an old writer committed) is read from its config and layers.json.

Listed per driver: every name (`localhost/app:1`, `docker.io/library/alpine:3`), then names by
digest only, then images with no name (by Image ID, the `IMAGE ID` podman shows). A selector is
a listed name, a tag, a short name (`app:1` as `localhost/app:1`, as podman resolves it), or an
Image ID or digest prefix.

Layers are kept unpacked: their compressed blobs are not here, so `verify` compares what
layers.json records of each (the digest it was pulled as, the diff_id it unpacked to) with the
manifest and config, and cannot hash the tar stream itself.
"""

from __future__ import annotations

from pathlib import Path

from ...blob.contained import InputPath
from ...blob.digests import is_digest_prefix, sha256_digest
from ...blob.files import BlobLocation, read_small_file
from ...blob.stores import BlobInfo, BlobStore
from ...blob.tarsplit import Reassembly
from ...model import Image, Index, Reference, Target
from ...refs import report_label, split_reference
from ..base import Source, SourceError, check_unambiguous, matches_selector, split_path_selector
from ..partial import diff_ids_of, image_from_config, json_object, parse_json, resolve
from ..view import BlobView, KeptLayer, UnpackedImage, UnpackedLayer, stored_view
from .graphroot import default_graph_root
from .store import (
    MANIFEST_KEY,
    MANIFEST_PREFIX,
    GraphRoot,
    ImageRecord,
    LayerRecord,
    is_graph_root,
)

TRANSPORT = "containers-storage"


class BigDataStore(BlobStore):
    """The content-addressed big data of some image records (configs, manifests, indexes),
    every file read inside the graph root."""

    def __init__(self, graph: GraphRoot, records: list[ImageRecord]):
        self.graph = graph
        self.items: dict[str, tuple[ImageRecord, str]] = {}
        for record in records:
            for digest, key in record.by_digest().items():
                self.items.setdefault(digest, (record, key))

    def path(self, digest: str) -> InputPath | None:
        found = self.items.get(digest)
        return self.graph.big_data_path(*found) if found is not None else None

    def stat(self, digest: str) -> BlobInfo | None:
        path = self.path(digest)
        if path is None or not path.is_file():
            return None
        return BlobInfo(path.stat().st_size)

    def read(self, digest: str) -> bytes | None:
        path = self.path(digest)
        if path is None or path.kind() is None:
            return None
        return read_small_file(path, f"blob {digest}")

    def problem(self, digest: str) -> str | None:
        path = self.path(digest)
        reason = path.problem() if path is not None else None
        return f"{path}: {reason}" if reason is not None else None

    def locate(self, digest: str) -> BlobLocation | None:
        path = self.path(digest)
        if path is None or not path.is_file():
            return None
        return BlobLocation(path.key, root=str(path.folder.path))


def _reference(record: ImageRecord, name: str | None, selector: str, digest: str | None):
    if name is None:
        return Reference(digest=digest, selector=selector, image_id=record.image_id)
    if "@" in name:
        repository = name.partition("@")[0]
        return Reference(
            name=repository, digest=digest, selector=selector, image_id=record.image_id
        )
    repository, tag = split_reference(name)
    return Reference(
        name=repository, tag=tag, digest=digest, selector=selector, image_id=record.image_id
    )


class ContainersStorageSource(Source):
    transport = TRANSPORT

    def __init__(self, path: Path):
        if not path.is_dir():
            raise SourceError(f"{TRANSPORT}: {path} is not a directory")
        root = InputPath.of(path)
        if not is_graph_root(root):
            raise SourceError(
                f"{TRANSPORT}: {path} is not a containers-storage graph root "
                "(no <driver>-images/images.json in it)"
            )
        self.path = path
        self.graph = GraphRoot(root)
        self._records: list[ImageRecord] | None = None
        self._listing: list[tuple[Reference, ImageRecord]] | None = None
        self._by_selector: dict[str | None, tuple[Reference, ImageRecord]] = {}
        self._roots: dict[tuple[str, str], str | None] = {}

    @classmethod
    def split_argument(cls, argument: str) -> tuple[Path, str | None]:
        """`[ROOT][:REF]` (a ROOT starts `/` or `.`; else all is REF in the default root), or
        containers/image's `[DRIVER@ROOT+RUNROOT]REF`."""
        if argument.startswith("["):
            inside, bracket, rest = argument[1:].partition("]")
            if not bracket:
                raise SourceError(f"{TRANSPORT}: {argument!r}: `[` without its `]`")
            root = inside.rpartition("@")[2].partition("+")[0] if inside else ""
            return (Path(root) if root else default_graph_root()), rest or None
        if not argument:
            return default_graph_root(), None
        if argument.startswith(("/", ".")):
            return split_path_selector(argument)
        if argument.startswith(":"):
            return default_graph_root(), argument[1:] or None
        return default_graph_root(), argument

    # --- the records --------------------------------------------------------------------------

    def records(self) -> list[ImageRecord]:
        if self._records is None:
            self._records = [
                record for driver in self.graph.drivers() for record in self.graph.images(driver)
            ]
        return self._records

    def listing(self) -> list[tuple[Reference, ImageRecord]]:
        if self._listing is not None:
            return self._listing
        records = self.records()
        several = len({record.driver for record in records}) > 1
        found: list[tuple[Reference, ImageRecord]] = []
        for driver in sorted({record.driver for record in records}):
            prefix = f"{driver}@" if several else ""
            tagged, by_digest, unnamed = [], [], []
            for record in records:
                if record.driver != driver:
                    continue
                digest = self.root_digest(record)
                for name in record.names:
                    ref = _reference(record, name, prefix + name, digest)
                    (tagged if ref.tag else by_digest).append((ref, record))
                if not record.names:
                    unnamed.append((_reference(record, None, prefix + record.id, digest), record))
            found += sorted(tagged, key=lambda pair: pair[0].selector or "")
            found += sorted(by_digest, key=lambda pair: pair[0].selector or "")
            found += sorted(unnamed, key=lambda pair: (pair[1].created or "", pair[1].id))
        self._listing = found
        self._by_selector = {ref.selector: (ref, record) for ref, record in found}
        return found

    def root_digest(self, record: ImageRecord) -> str | None:
        """The digest of what the record was reached by (its index or manifest); None when it
        keeps no manifest at all."""
        key = (record.driver, record.id)
        if key not in self._roots:
            self._roots[key] = self._find_root(record)
        return self._roots[key]

    def _find_root(self, record: ImageRecord) -> str | None:
        own = record.by_digest()
        if record.digest and record.digest in own:
            return record.digest
        manifest = record.item(MANIFEST_KEY)
        if manifest is not None:
            if manifest.digest:
                return manifest.digest
            path = self.graph.big_data_path(record, MANIFEST_KEY)
            if path.kind() is not None:  # an older writer recorded no digests: hash it
                return sha256_digest(read_small_file(path, "manifest"))
        manifests = [d for d, k in own.items() if k.startswith(MANIFEST_PREFIX)]
        return manifests[0] if len(manifests) == 1 else None

    # --- the Source contract ------------------------------------------------------------------

    def references(self) -> list[Reference]:
        return [ref for ref, _ in self.listing()]

    def lookup(self, selector: str) -> list[Reference]:
        listing = self.listing()
        exact = [
            ref
            for ref, record in listing
            if selector == ref.selector or ref.selector == f"{record.driver}@{selector}"
        ]
        if exact:
            return exact
        bare = selector.removeprefix("sha256:")
        if is_digest_prefix(selector):
            by_id = [ref for ref, record in listing if record.id.startswith(bare)]
            if by_id:
                return by_id
        matches = [ref for ref, _ in listing if matches_selector(ref, selector)]
        if matches:
            return matches
        # As podman looks a short name up in local storage: `app:1` names `localhost/app:1`
        # or `quay.io/team/app:1`, any name ending in `/app` (ambiguity is refused in select).
        wanted, tag = split_reference(selector)
        if not wanted or "@" in selector:
            return []
        return [
            ref
            for ref, _ in listing
            if ref.name and ref.name.endswith(f"/{wanted}") and tag in (None, ref.tag)
        ]

    def select(self, selector: str | None) -> Reference:
        if selector is None:
            return super().select(None)
        matches = self.lookup(selector)
        if not matches:
            return super().select(selector)  # raises "no image … here"
        if not is_digest_prefix(selector):
            check_unambiguous(matches, selector, self.transport, "; use a name as listed")
        elif len({ref.image_id for ref in matches}) > 1:
            raise SourceError(
                f"{self.transport}: {selector!r} is ambiguous here: "
                + ", ".join(ref.selector or "?" for ref in matches[:8])
            )
        return matches[0]

    def get(self, selector: str | None = None) -> Target:
        return self.get_reference(self.select(selector))

    def record_of(self, reference: Reference) -> ImageRecord:
        self.listing()
        found = self._by_selector.get(reference.selector)  # selectors are unique here
        if found is None:
            raise SourceError(f"{self.transport}: no image {reference.selector!r} here")
        return found[1]

    def store_for(self, record: ImageRecord) -> BigDataStore:
        """A record's own big data; a manifest list (no layer of its own) reaches its instances,
        which are other records, through the whole store."""
        if record.top_layer is None:
            return BigDataStore(self.graph, [record, *self.records()])
        return BigDataStore(self.graph, [record])

    def get_reference(self, reference: Reference) -> Target:
        record = self.record_of(reference)
        digest = self.root_digest(record)
        store = self.store_for(record)
        chain, broken = self.graph.chain(record) if record.top_layer else ([], None)
        if digest is None:
            root: Image | Index | None = self._config_only(record, store, chain)
        else:
            root = resolve(store, digest)
            if root is None:
                raise SourceError(
                    f"{self.transport}: {reference.selector} was reached by {digest}, "
                    "which its record does not keep"
                )
        if broken is not None:
            root.warnings.append(f"its layer chain is incomplete: {broken}")
        return Target(reference, root)

    def _config_only(
        self, record: ImageRecord, store: BigDataStore, chain: list[LayerRecord]
    ) -> Image:
        data = store.read(record.image_id)
        if data is None:
            raise SourceError(
                f"{self.transport}: image {record.id} keeps neither a manifest nor its config"
            )
        config = parse_json(data, f"config {record.image_id}")
        image = image_from_config(config, config_digest=record.image_id)
        image.warnings.append("no manifest is kept: layer digests are those layers.json records")
        for layer, kept in zip(image.layers, chain, strict=False):
            layer.digest = kept.compressed_digest
            layer.size = kept.compressed_size
            layer.uncompressed_size = kept.diff_size
        return image

    def blobs(self, references: list[Reference]) -> BlobView:
        """Configs, manifests and indexes by digest; layers as layers.json records them (kept
        unpacked: no blob); an image with no manifest as its config and layer records."""
        store = BigDataStore(self.graph, self.records())
        view = stored_view([ref for ref in references if ref.digest], store)
        for reference in references:
            record = self.record_of(reference)
            if not reference.digest:
                view.roots.append(self._unpacked(reference, record, store))
        # every record's layers: a manifest list's instances are other records
        for record in self.records():
            chain, _ = self.graph.chain(record) if record.top_layer else ([], None)
            for position, layer in enumerate(chain, 1):
                view.kept[(record.image_id, position)] = KeptLayer(
                    layer.id,
                    layer.diff_digest,
                    layer.incomplete,
                    layer.diff_size,
                    self._reassembly(record.driver, layer),
                    layer.size_problem,
                )
        return view

    def _reassembly(self, driver: str, layer: LayerRecord) -> Reassembly | None:
        """Where the layer's tar stream can be rebuilt from: its tar-split beside layers.json
        and its files, for a driver that keeps them as a plain folder. Given whenever both are
        there in any form: one that is no file or folder, or leads outside, fails the check."""
        files = self.graph.unpacked(driver, layer.id)
        tar_split = self.graph.tar_split(driver, layer.id)
        if files is None or files.kind() is None or tar_split.kind() is None:
            return None
        return Reassembly(str(files.folder.path), tar_split.key, files.key)

    def _unpacked(
        self, reference: Reference, record: ImageRecord, store: BigDataStore
    ) -> UnpackedImage:
        label = report_label(reference)
        try:
            data = store.read(record.image_id)
        except SourceError as error:
            return UnpackedImage(label, record.image_id, None, str(error))
        image = UnpackedImage(label, record.image_id, data, None)
        if data is None:
            return image
        chain, _ = self.graph.chain(record) if record.top_layer else ([], None)
        config = json_object(data)
        for position, diff_id in enumerate(diff_ids_of(config)):
            kept = chain[position] if position < len(chain) else None
            image.layers.append(
                UnpackedLayer(diff_id, kept is not None, kept.diff_digest if kept else None)
            )
        return image


__all__ = ["ContainersStorageSource", "is_graph_root"]
