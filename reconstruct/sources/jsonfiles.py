"""`json:` — raw metadata files: a config, a manifest, an index, or a folder of blobs by digest.

Blobs a manifest or index refers to are looked up beside the file, named `sha256:<hex>`,
`<hex>` or `sha256/<hex>`, so a folder of blobs copied from anywhere reads as a store.
"""

from __future__ import annotations

from pathlib import Path

from ..blob.contained import InputPath
from ..blob.digests import check_digest
from ..blob.files import MAX_METADATA_BYTES, read_small_file
from ..blob.stores import DirectoryBlobStore
from ..model import Image, Index, Reference, Target
from .base import Source, SourceError
from .partial import (
    as_list,
    image_from_config,
    image_from_manifest,
    index_from_json,
    kind_of,
    parse_json,
    resolve,
    sha256_digest,
)
from .view import BlobView, LoneDocument, digest_roots

BLOB_NAMES = ("{alg}:{hex}", "{hex}", "{alg}/{hex}", "blobs/{alg}/{hex}")


class JsonFilesSource(Source):
    transport = "json"

    def __init__(self, path: Path, config: Path | None = None):
        self.path = path
        self.config = config
        if not path.exists():
            raise SourceError(f"json: {path} does not exist")
        if not path.is_dir() and not path.is_file():  # read as a folder, its parent would be
            raise SourceError(f"json: {path} is neither a regular file nor a folder")
        self.folder = InputPath.of(path if path.is_dir() else path.parent)
        self.store = DirectoryBlobStore(self.folder, BLOB_NAMES)

    def references(self) -> list[Reference]:
        if self.path.is_file():
            digest = sha256_digest(read_small_file(self.path, "file"))
            return [Reference(digest=digest, selector=digest)]
        return [Reference(digest=d, selector=d) for d in self._roots()]

    def blobs(self, references: list[Reference]) -> BlobView:
        if self.path.is_file():
            data = read_small_file(self.path, "file")
            override = read_small_file(self.config, "config") if self.config else None
            root = LoneDocument(str(self.path), data, override)
            return BlobView([root], store=self.store, layers_may_be_absent=True)
        return BlobView(digest_roots(references), store=self.store, layers_may_be_absent=True)

    def get(self, selector: str | None = None) -> Target:
        if self.path.is_file():
            return Target(Reference(), self._from_file())
        ref = self.select(selector)
        root = resolve(self.store, ref.digest or "")
        if root is None:  # a config named by digest, with no manifest above it
            data = self.store.read(ref.digest or "")
            root = image_from_config(
                parse_json(data or b"{}", ref.digest or ""), config_digest=ref.digest
            )
        return Target(Reference(digest=ref.digest), root)

    def _from_file(self) -> Image | Index:
        data = read_small_file(self.path, "file")
        document = parse_json(data, str(self.path))
        digest = sha256_digest(data)
        kind = kind_of(document)
        if kind == "config":
            return image_from_config(document, config_digest=digest)
        if kind == "manifest":
            override = read_small_file(self.config, "config") if self.config else None
            return image_from_manifest(
                self.store, document, digest=digest, size=len(data), config_override=override
            )
        if kind == "index":
            return index_from_json(self.store, document, digest=digest)
        if kind == "schema1":
            raise SourceError(f"{self.path} is a schema 1 manifest, which is not supported")
        raise SourceError(f"{self.path} is JSON but not an image config, manifest or index")

    def _roots(self) -> list[str]:
        """Digests of the blobs no other blob refers to: the images and indexes at the top."""
        documents: dict[str, dict] = {}
        unreadable: list[str] = []  # a top index or manifest among them is not lost silently
        for folder, _, files in self.folder.walk():
            for name in files:
                path = folder / name
                digest = _digest_from_name(path)
                if digest is not None and path.problem() is not None:
                    unreadable.append(digest)
                    continue
                if digest is None or not path.is_file() or path.stat().st_size > MAX_METADATA_BYTES:
                    continue
                try:
                    documents[digest] = parse_json(read_small_file(path, "blob"), str(path))
                except (SourceError, OSError):
                    continue  # layer blobs and other non-JSON files
        referenced = set()
        for document in documents.values():
            for child in as_list(document.get("manifests")):
                if isinstance(child, dict):
                    referenced.add(child.get("digest"))
            if isinstance(document.get("config"), dict):
                referenced.add(document["config"].get("digest"))
        tops = [
            d for d, doc in documents.items() if d not in referenced and kind_of(doc) != "unknown"
        ]
        # what cannot be read may be a top (verify then says why it fails); blobs below a top
        # that is read are reached from it
        tops += [d for d in unreadable if d not in referenced]
        if not tops:
            raise SourceError(f"json: no config, manifest or index found in {self.path}")
        return tops


def _digest_from_name(path: InputPath) -> str | None:
    relative = path.key
    for candidate in (relative, relative.replace("/", ":"), "sha256:" + path.name, path.name):
        candidate = candidate.removeprefix("blobs:")
        try:
            check_digest(candidate)
            return candidate
        except SourceError:
            continue
    return None
