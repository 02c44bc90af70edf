"""Where one layer's tar can be read from, through a source's blob view alone (as verify walks
it): a blob file of a content-addressed store, a member of a plain archive, a containers-storage
layer rebuilt from its tar-split and files; else why it cannot be read here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..blob.files import BlobLocation
from ..blob.tar import list_layer, list_stream
from ..blob.tarformat import Listed, Sink
from ..blob.tarsplit import reassembled
from ..model import Layer
from ..sources.view import BlobView, MemberImage

# Which regular files' contents to keep while listing: keep(name as written, size).
Keep = Callable[[str, int], bool]


@dataclass(frozen=True)
class LayerReader:
    """How to list one layer: `open(keep, sink)` gives its entries, read once (`keep` and
    `sink` as `blob.tarformat.listing` takes them)."""

    label: str
    open: Callable[[Keep | None, Sink | None], Iterator[Listed]]
    prelisted: bool = False  # listed already (during a one-pass read): no data, no sink


# What the one pass of an archive that can be read only once listed, by member name
# (contents/streamed.py): entries, or why there are none.
Listings = dict[str, list[Listed] | str]


def layer_reader(
    view: BlobView,
    config_digest: str | None,
    position: int,
    layer: Layer,
    listings: Listings | None = None,
) -> LayerReader | str:
    """The reader of the image's layer at `position` (from 1), or why there is none."""
    digest = layer.digest
    store = view.store
    if view.streamed and listings is not None:
        return _listed(view, config_digest, position, layer, listings)
    if digest and store is not None:
        location = store.locate(digest)
        if location is not None:
            return LayerReader(
                digest, lambda keep, sink=None: list_layer(location, digest, keep, sink)
            )
        member = store.member_name(digest)
        if member is not None and view.archive is not None:
            found = view.archive.location(member)
            if found is not None:
                return LayerReader(
                    digest, lambda keep, sink=None: list_layer(found, digest, keep, sink)
                )
            if view.archive.streamed:
                return "a compressed archive is read once: give it uncompressed, or as a layout"
    kept = view.kept.get((config_digest or "", position))
    if kept is not None:
        if kept.reassembly is None:
            return "kept unpacked, with nothing here to rebuild its tar from"
        reassembly = kept.reassembly
        label = f"layer {kept.layer_id}"
        return LayerReader(
            label, lambda keep, sink=None: list_stream(reassembled(reassembly), label, keep, sink)
        )
    member_location = _member_layer(view, config_digest, position)
    if member_location is not None:
        where = member_location
        return LayerReader(
            digest or layer.diff_id or "?",
            lambda keep, sink=None: list_layer(where, str(where.path), keep, sink),
        )
    return _absent(layer)


def _absent(layer: Layer) -> str:
    if layer.foreign:
        return "a foreign layer: not distributed with the image"
    return "this source holds no blob of it"


def _listed(
    view: BlobView, config_digest: str | None, position: int, layer: Layer, listings: Listings
) -> LayerReader | str:
    """The layer as the archive's one pass listed it."""
    assert view.archive is not None
    name = None
    if layer.digest and view.store is not None:
        name = view.store.member_name(layer.digest)
    name = name or _member_name(view, config_digest, position)
    member = view.archive.resolve(name) if name else None
    found = listings.get(member.name) if member is not None else None
    if found is None:
        return _absent(layer)
    if isinstance(found, str):
        return found
    entries = found
    return LayerReader(name or "?", lambda keep, sink=None: iter(entries), prelisted=True)


def _member_name(view: BlobView, config_digest: str | None, position: int) -> str | None:
    """A legacy `docker save` entry's layer member, by position."""
    if view.archive is None or not config_digest:
        return None
    hexpart = config_digest.partition(":")[2]
    for root in view.roots:
        if (
            isinstance(root, MemberImage)
            and hexpart
            and hexpart in root.config
            and position <= len(root.layers)
        ):
            return root.layers[position - 1]
    return None


def _member_layer(view: BlobView, config_digest: str | None, position: int) -> BlobLocation | None:
    name = _member_name(view, config_digest, position)
    return view.archive.location(name) if name and view.archive is not None else None
