"""What a source shows of its stored bytes, for `verify`: the blob view of the Source contract.

As go-containerregistry's `validate` checks any image through its interface alone, verify walks
whatever a source returns from `Source.blobs()` without knowing which kind of source it is. Each
kind of root is a shape of storage, not a transport:

- `DescriptorRoot`: a descriptor to walk through a content-addressed store (index → manifests →
  config and layers): OCI layouts, archives holding one, registry storage, folders of blobs;
- `MemberImage`: an image whose config and layers are archive members named by path (a legacy
  `docker save` manifest.json entry);
- `UnpackedImage`: a config file whose layers are kept unpacked (a Docker data root): the
  config can be hashed, the layers only compared with what the store recorded of them;
- `LoneDocument`: one metadata file given by path (json: FILE), its blobs looked up beside it.

A store that keeps layers unpacked rather than as blobs (containers-storage) says so per image
and layer position in `BlobView.kept`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..blob.stores import BlobStore
    from ..blob.tar import TarIndex
    from ..blob.tarsplit import Reassembly


@dataclass
class DescriptorRoot:
    label: str
    descriptor: dict[str, Any]


@dataclass
class MemberImage:
    label: str
    config: str  # the config member's path
    layers: list[str]  # the layer members' paths, in order
    layer_sources: dict[str, Any] = field(default_factory=dict)  # diff_id → distributed form


@dataclass
class UnpackedLayer:
    diff_id: str
    present: bool  # the store keeps this layer
    recorded: str | None  # what the store records as its diff_id (None: nothing readable)
    record_unreadable: bool = False  # a record is there but is not a digest
    size_problem: str | None = None  # its size record is there but is no number


@dataclass
class UnpackedImage:
    label: str
    image_id: str
    config: bytes | None  # None: not stored
    config_problem: str | None  # why the config could not be read (it is there)
    layers: list[UnpackedLayer] = field(default_factory=list)


@dataclass
class LoneDocument:
    label: str  # the file's path
    data: bytes
    config_override: bytes | None = None  # `--config FILE` for a lone manifest


@dataclass
class KeptLayer:
    """A layer a store keeps unpacked, not as its blob (containers-storage), as it records it."""

    layer_id: str
    diff_id: str | None  # what the store records it unpacked to (None: nothing recorded)
    incomplete: bool = False  # an interrupted write the store will remove
    diff_size: int | None = None  # the size recorded of its tar stream
    reassembly: Reassembly | None = None  # where its tar stream can be rebuilt from
    size_problem: str | None = None  # a recorded size that is no number: verify fails


Root = DescriptorRoot | MemberImage | UnpackedImage | LoneDocument


@dataclass
class BlobView:
    """The roots the selection reaches, and where their blobs are read from."""

    roots: list[Root]
    store: BlobStore | None = None  # for DescriptorRoot (and LoneDocument's neighbours)
    archive: TarIndex | None = None  # for MemberImage, and a store inside an archive
    layers_may_be_absent: bool = False  # a metadata-only copy of this kind is normal
    # (Image ID, layer position from 1) → the layer a store keeps unpacked in place of that
    # blob (no blob to hash); by position, as a store may reuse a layer it had from another
    # form of the same content
    kept: dict[tuple[str, int], KeptLayer] = field(default_factory=dict)

    @property
    def streamed(self) -> bool:
        """The bytes were only seen during one pass over the input (compressed, or a pipe)."""
        return self.archive is not None and self.archive.streamed


def descriptor_roots(found: list[tuple[Any, dict[str, Any]]]) -> list[DescriptorRoot]:
    """One root per distinct top blob, every (Reference, descriptor) naming it in its label."""
    from ..refs import report_label

    grouped: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for ref, descriptor in found:
        key = descriptor.get("digest") if isinstance(descriptor.get("digest"), str) else ""
        names, _ = grouped.setdefault(key, ([], descriptor))
        names.append(report_label(ref))
    return [
        DescriptorRoot(", ".join(dict.fromkeys(names)), descriptor)
        for names, descriptor in grouped.values()
    ]


def digest_roots(references: list[Any]) -> list[DescriptorRoot]:
    """One root per distinct digest the references name (those naming none have no blob)."""
    return descriptor_roots([(ref, {"digest": ref.digest}) for ref in references if ref.digest])


def stored_view(references: list[Any], store: BlobStore) -> BlobView:
    """The references of a store that names images by digest (registry storage, containerd):
    a reference naming none (an unreadable tag link or record) is a root with no descriptor,
    which verify reports, never skips. Layer blobs may be absent: a registry never holds
    foreign layers, a node may drop layers it unpacked and holds the platforms it pulled."""
    from ..refs import report_label

    roots = digest_roots(references)
    roots += [DescriptorRoot(report_label(ref), {}) for ref in references if not ref.digest]
    return BlobView(roots, store=store, layers_may_be_absent=True)
