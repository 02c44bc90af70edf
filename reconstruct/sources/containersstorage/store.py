"""containers-storage's own records, read from a graph root with no lock and no write.

Podman, Buildah, CRI-O and skopeo keep images in containers/storage. Per storage driver
(`overlay`, `vfs`, `btrfs`, …; a root may hold several after a change of driver):

    <driver>-images/images.json         [{"id": config hex, "digest": what it was pulled or
                                          loaded by (an index's digest when pulled by one),
                                          "names": [full references], "layer": top layer id,
                                          "big-data-names", "big-data-sizes",
                                          "big-data-digests", "created", "metadata"}]
    <driver>-images/<id>/<key>          each big data item: the config (`sha256:<id>`), the
                                          image's manifest (`manifest`) and every manifest or
                                          index it was reached through (`manifest-<digest>`),
                                          signatures; a key holding any character outside
                                          [0-9a-z.] is stored as `=` + base64(key)
    <driver>-layers/layers.json         [{"id", "parent", "compressed-diff-digest",
                                          "compressed-size", "diff-digest", "diff-size",
                                          "compression", "created", "flags"}], and
                                          volatile-layers.json beside it for layers written
                                          without fsync (a container's)
    <driver>-layers/<id>.tar-split.gz   the layer's tar headers and padding, its file
                                          contents left out (they are unpacked)
    vfs/dir/<id>, overlay/<id>/diff     the layer's files, unpacked

containers/storage rewrites these JSON files whole and renames them into place, so reading one
without its `*.lock` (which a running Podman may hold) sees either the old or the new file,
never half of one. Fields an older writer did not record are treated as unknown; fields a newer
one adds are ignored; a file that is not a list of records is refused in one line.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from ...blob.contained import InputPath
from ...blob.digests import valid_digest
from ...blob.files import read_optional_file
from ...jsondoc import JSONProblem, load_json
from ..base import SourceError

IMAGE_ID = re.compile(r"[0-9a-f]{64}\Z")
LAYER_ID = re.compile(r"[0-9a-zA-Z_.-]{1,128}\Z")
# images.json holds a few KB per image: a node's thousands of images are a few tens of MB.
MAX_RECORDS_FILE = 256 * 1024 * 1024
MAX_RECORDS = 1_000_000
# JSON values in one such file (a record holds a few dozen): bounds the memory of parsing.
MAX_VALUES = 5_000_000
MAX_CHAIN = 10_000  # layers below one image (as partial.MAX_IMAGE_ENTRIES)
# Where each driver unpacks a layer's files (drivers not named keep them in ways not read here).
UNPACKED = {"vfs": "vfs/dir/{id}", "overlay": "overlay/{id}/diff", "btrfs": "btrfs/subvolumes/{id}"}
# containers/storage's archive.Compression: the form a layer was last applied from.
COMPRESSION = {0: None, 1: "bzip2", 2: "gzip", 3: "xz", 4: "zstd"}
MANIFEST_KEY = "manifest"  # the image's own manifest (containers/storage ImageDigestBigDataKey)
MANIFEST_PREFIX = "manifest-"  # `manifest-<digest>`: each manifest or index it came through


def big_data_file_name(key: str) -> str:
    """The file name containers/storage gives a big data key (store.go makeBigDataBaseName)."""
    if key and all(char == "." or "0" <= char <= "9" or "a" <= char <= "z" for char in key):
        return key
    return "=" + base64.b64encode(key.encode()).decode()


@dataclass(frozen=True)
class BigData:
    key: str
    digest: str | None  # as recorded in big-data-digests (None: not recorded, or not a digest)
    size: int | None


@dataclass(frozen=True)
class ImageRecord:
    """One entry of `<driver>-images/images.json`."""

    driver: str
    id: str  # the config digest's hex: the Image ID
    digest: str | None
    names: tuple[str, ...]
    top_layer: str | None
    big_data: tuple[BigData, ...]
    created: str | None

    @property
    def image_id(self) -> str:
        return f"sha256:{self.id}"

    def item(self, key: str) -> BigData | None:
        return next((item for item in self.big_data if item.key == key), None)

    def by_digest(self) -> dict[str, str]:
        """digest → big data key, for every item that is content-addressed by its key: the
        config and each `manifest-<digest>` (the plain `manifest` item by its recorded digest,
        when that has no `manifest-<digest>` item of its own)."""
        found: dict[str, str] = {}
        for item in self.big_data:
            if item.key.startswith(MANIFEST_PREFIX) and valid_digest(
                item.key.removeprefix(MANIFEST_PREFIX)
            ):
                found[item.key.removeprefix(MANIFEST_PREFIX)] = item.key
            elif item.key == self.image_id:
                found[item.key] = item.key
        manifest = self.item(MANIFEST_KEY)
        if manifest is not None and manifest.digest and manifest.digest not in found:
            found[manifest.digest] = MANIFEST_KEY
        return found


@dataclass(frozen=True)
class LayerRecord:
    """One entry of `<driver>-layers/layers.json`."""

    id: str
    parent: str | None
    compressed_digest: str | None
    compressed_size: int | None
    diff_digest: str | None
    diff_size: int | None
    compression: str | None  # None: uncompressed or unknown
    created: str | None
    incomplete: bool  # an interrupted write containers/storage will remove
    size_problem: str | None = None  # a recorded diff-size that is no size (verify fails)


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _digest(value: Any) -> str | None:
    return value if valid_digest(value) else None


def _size(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _size_problem(value: Any) -> str | None:
    """Why a recorded diff-size is no size (absent, or -1 for unknown as containers/storage
    writes it, is none)."""
    if value is None or (value == -1 and type(value) is int) or _size(value) is not None:
        return None
    return "its recorded diff-size is not a size in bytes"


def _records(path: InputPath, what: str) -> list[dict[str, Any]] | None:
    """The records of one JSON file (None: no such file); a one-line error when unreadable."""
    data = read_optional_file(path, what, MAX_RECORDS_FILE)
    if data is None:
        return None
    try:
        value = load_json(data, max_values=MAX_VALUES) if data.strip() else []
    except JSONProblem as problem:
        raise SourceError(
            f"{path}: not readable as containers-storage's {what} ({problem})"
        ) from None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise SourceError(
            f"{path}: not a list of records (not containers-storage's {what}, or a format "
            "this reader does not know)"
        )
    return value


def image_record(driver: str, value: dict[str, Any], position: int, path: InputPath) -> ImageRecord:
    image_id = value.get("id")
    if not isinstance(image_id, str) or not IMAGE_ID.match(image_id):
        raise SourceError(
            f"{path}: record {position} has no image id (64 hex digits): not a format "
            "this reader knows"
        )
    names = value.get("names") if isinstance(value.get("names"), list) else []
    sizes = value.get("big-data-sizes") if isinstance(value.get("big-data-sizes"), dict) else {}
    digests = (
        value.get("big-data-digests") if isinstance(value.get("big-data-digests"), dict) else {}
    )
    keys = value.get("big-data-names") if isinstance(value.get("big-data-names"), list) else []
    big_data = tuple(
        BigData(key, _digest(digests.get(key)), _size(sizes.get(key)))
        for key in dict.fromkeys(k for k in keys if isinstance(k, str) and 0 < len(k) <= 512)
    )
    top = _string(value.get("layer"))
    return ImageRecord(
        driver=driver,
        id=image_id,
        digest=_digest(value.get("digest")),
        names=tuple(dict.fromkeys(n for n in names if isinstance(n, str) and 0 < len(n) <= 4096)),
        top_layer=top if top and LAYER_ID.match(top) else None,
        big_data=big_data,
        created=_string(value.get("created")),
    )


def layer_record(value: dict[str, Any]) -> LayerRecord | None:
    layer_id = value.get("id")
    if not isinstance(layer_id, str) or not LAYER_ID.match(layer_id):
        return None
    parent = _string(value.get("parent"))
    flags = value.get("flags") if isinstance(value.get("flags"), dict) else {}
    compression = value.get("compression")
    return LayerRecord(
        id=layer_id,
        parent=parent if parent and LAYER_ID.match(parent) else None,
        compressed_digest=_digest(value.get("compressed-diff-digest")),
        compressed_size=_size(value.get("compressed-size")),
        diff_digest=_digest(value.get("diff-digest")),
        diff_size=_size(value.get("diff-size")),
        compression=COMPRESSION.get(compression) if isinstance(compression, int) else None,
        created=_string(value.get("created")),
        incomplete=flags.get("incomplete") is True,
        size_problem=_size_problem(value.get("diff-size")),
    )


class GraphRoot:
    """One containers-storage graph root: its drivers' image and layer records."""

    def __init__(self, root: InputPath):
        self.root = root
        self._layers: dict[str, dict[str, LayerRecord]] = {}

    def drivers(self) -> list[str]:
        """Every driver with an images.json here, sorted."""
        found = []
        for name in self.root.names():
            if (
                name.endswith("-images")
                and len(name) > len("-images")
                and (self.root / name / "images.json").kind() is not None
            ):
                found.append(name.removesuffix("-images"))
        return sorted(found)

    def images(self, driver: str) -> list[ImageRecord]:
        path = self.root / f"{driver}-images" / "images.json"
        values = _records(path, "images.json") or []
        if len(values) > MAX_RECORDS:
            raise SourceError(f"{path}: more than {MAX_RECORDS:,} image records")
        return [image_record(driver, value, n, path) for n, value in enumerate(values, 1)]

    def layers(self, driver: str) -> dict[str, LayerRecord]:
        if driver not in self._layers:
            found: dict[str, LayerRecord] = {}
            folder = self.root / f"{driver}-layers"
            for name in ("layers.json", "volatile-layers.json"):
                for value in _records(folder / name, name) or []:
                    record = layer_record(value)
                    if record is not None:
                        found.setdefault(record.id, record)
            self._layers[driver] = found
        return self._layers[driver]

    def chain(self, record: ImageRecord) -> tuple[list[LayerRecord], str | None]:
        """The image's layers, bottom first, and why the chain is incomplete (None: it is not)."""
        layers = self.layers(record.driver)
        chain: list[LayerRecord] = []
        seen: set[str] = set()
        current = record.top_layer
        while current is not None:
            if current in seen or len(chain) >= MAX_CHAIN:
                return chain[::-1], f"layer {current}'s parents loop or go on too long"
            seen.add(current)
            layer = layers.get(current)
            if layer is None:
                return chain[::-1], f"layer {current} is not in layers.json"
            chain.append(layer)
            current = layer.parent
        return chain[::-1], None

    def big_data_path(self, record: ImageRecord, key: str) -> InputPath:
        return self.root / f"{record.driver}-images" / record.id / big_data_file_name(key)

    def unpacked(self, driver: str, layer_id: str) -> InputPath | None:
        """The folder holding a layer's files, for the drivers that keep them as a plain tree."""
        pattern = UNPACKED.get(driver)
        return self.root / pattern.format(id=layer_id) if pattern else None

    def tar_split(self, driver: str, layer_id: str) -> InputPath:
        return self.root / f"{driver}-layers" / f"{layer_id}.tar-split.gz"


def is_graph_root(root: InputPath) -> bool:
    """For detecting a bare path: a folder with some `<driver>-images/images.json`."""
    try:
        return bool(GraphRoot(root).drivers())
    except SourceError:
        return False
