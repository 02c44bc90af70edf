"""`docker-root:` — a Docker data root (`/var/lib/docker`) read from disk, no daemon needed.

Per storage driver (`overlay2`, `vfs`, `windowsfilter`, …; several may be left side by side):

    image/<driver>/repositories.json                  {"Repositories": {name: {"name:tag": id,
                                                        "name@sha256:…": id}}}
    image/<driver>/imagedb/content/sha256/<id>        the exact config (Image ID = sha256:<id>)
    image/<driver>/imagedb/metadata/sha256/<id>/parent  the parent image (classic builds)
    image/<driver>/distribution/v2metadata-by-diffid/sha256/<diff_id hex>
                                                      [{"Digest", "SourceRepository", "HMAC"}]:
                                                      the compressed digests a layer was pulled
                                                      or pushed as (most recent last)
    image/<driver>/layerdb/sha256/<chain id>/{size,diff,descriptor.json}
                                                      size: the layer's uncompressed size;
                                                      descriptor.json (Windows): a foreign
                                                      layer's descriptor (digest, size, urls)

With the containerd image store (`"features": {"containerd-snapshotter": true}`, the default of
Docker 29), images live in the data root's own containerd instead, `containerd/daemon/`
(namespace `moby`): read as `containerd:` reads a root (containerd.py), every blob kept. When
both stores hold images, both are listed, the containerd store's selectors prefixed
`containerd:` as a driver's are when several drivers are present.

In the classic store the manifest itself is not kept, so the compressed sizes and media types of ordinary layers are
unknown; the manifest digest is the repo digest (`name@sha256:…`) when exactly one is recorded
for the name read (it may be the digest of the manifest list that was pulled).

Listed: every `name:tag`, then images known by repo digest only (`name@sha256:…`), then the
dangling images (no name, not the parent of another image) by Image ID.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..blob.contained import InputPath
from ..blob.digests import check_digest, valid_digest
from ..blob.files import MAX_METADATA_BYTES, read_optional_file, read_text_file
from ..blob.tarsplit import Reassembly
from ..jsondoc import load_json
from ..model import Image, Layer, Reference, Target
from ..refs import holding_label, report_label, repositories_key, split_reference
from ..text import decimal_number
from .base import Source, SourceError, check_unambiguous, matches_selector
from .containerd import METADATA, ContainerdImages
from .partial import (
    diff_ids_of,
    image_from_config,
    json_object,
    layer_from_descriptor,
    parse_json,
    sha256_digest,
)
from .view import BlobView, KeptLayer, UnpackedImage, UnpackedLayer

MAX_SMALL_FILE = 64 * 1024
# Where each graph driver keeps a layer's files, by the layer's cache-id (moby's
# daemon/graphdriver): a plain folder that the tar-split beside the layer's record rebuilds the
# layer's tar stream from, as dockerd itself does to save or push it.
UNPACKED = {
    "vfs": "vfs/dir/{id}",
    "overlay2": "overlay2/{id}/diff",
    "fuse-overlayfs": "fuse-overlayfs/{id}/diff",
    "btrfs": "btrfs/subvolumes/{id}",
}
CACHE_ID = re.compile(r"[0-9a-f]{64}")


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The image spec's ChainID of each layer: sha256 of `parent_chain_id + " " + diff_id`."""
    chains: list[str] = []
    for diff_id in diff_ids:
        if not chains:
            chains.append(diff_id)
        else:
            text = f"{chains[-1]} {diff_id}".encode()
            chains.append("sha256:" + hashlib.sha256(text).hexdigest())
    return chains


def find_drivers(path: Path) -> list[InputPath]:
    """The `image/<driver>` folders at `path` (a data root, its `image/`, or one driver's)."""
    top = InputPath.of(path)
    for base in (top / "image", top):
        if not base.is_dir():
            continue
        try:
            children = base.subfolders()
        except SourceError as error:
            raise SourceError(f"docker-root: {error}") from None
        drivers = [child for child in children if _is_driver_dir(child)]
        if drivers:
            return drivers
    if _is_driver_dir(top):
        return [top]
    return []


def _is_driver_dir(path: InputPath) -> bool:
    return (path / "imagedb").is_dir() or (path / "repositories.json").is_file()


def containerd_store(path: Path) -> InputPath | None:
    """The data root's containerd (the containerd image store), None when there is none."""
    folder = InputPath.of(path) / "containerd" / "daemon"
    return folder if (folder / METADATA / "meta.db").is_file() else None


def looks_like_docker_root(path: Path) -> bool:
    """For detecting a bare path."""
    return path.is_dir() and (bool(find_drivers(path)) or containerd_store(path) is not None)


@dataclass
class Driver:
    """One `image/<driver>` folder, read lazily."""

    path: InputPath
    repositories: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    def config_path(self, image_id: str) -> InputPath:
        _, hexpart = check_digest(image_id)
        return self.path / "imagedb" / "content" / "sha256" / hexpart

    def image_ids(self) -> list[str]:
        folder = self.path / "imagedb" / "content" / "sha256"
        try:
            names = [name for name in folder.names() if (folder / name).is_file()]
        except SourceError as error:
            raise SourceError(f"docker-root: {error}") from None
        return [f"sha256:{name}" for name in names if valid_digest(f"sha256:{name}")]

    def parent(self, image_id: str) -> str | None:
        _, hexpart = check_digest(image_id)
        text = _small_text(self.path / "imagedb" / "metadata" / "sha256" / hexpart / "parent")
        return text if text and valid_digest(text) else None

    def layer_dir(self, chain_id: str) -> InputPath:
        _, hexpart = check_digest(chain_id)
        return self.path / "layerdb" / "sha256" / hexpart

    def v2metadata(self, diff_id: str) -> list[dict[str, Any]]:
        _, hexpart = check_digest(diff_id)
        path = self.path / "distribution" / "v2metadata-by-diffid" / "sha256" / hexpart
        text = _small_text(path, limit=MAX_METADATA_BYTES)
        if text is None:
            return []
        try:
            value = load_json(text)
        except ValueError:
            raise SourceError(f"{path} is not valid JSON") from None
        if not isinstance(value, list):
            raise SourceError(f"{path} is not a JSON list")
        return [
            item
            for item in value
            if isinstance(item, dict)
            and isinstance(item.get("Digest"), str)
            and valid_digest(item["Digest"])
        ]


class DockerRootSource(Source):
    transport = "docker-root"

    def __init__(self, path: Path):
        if not path.is_dir():
            raise SourceError(f"docker-root: {path} is not a directory")
        folders = find_drivers(path)
        store = containerd_store(path)
        if not folders and store is None:
            raise SourceError(
                f"docker-root: {path} is not a Docker data root (no image/<driver>/imagedb and "
                "no containerd/daemon in it; a dockerd using the system's containerd keeps its "
                "images there: read containerd:/var/lib/containerd:moby/)"
            )
        self.path = path
        self.drivers = [Driver(folder, _read_repositories(folder)) for folder in folders]
        self._references: list[tuple[Reference, Driver]] | None = None
        self.containerd = (
            ContainerdImages(store, ("moby",), prefix="containerd:" if folders else "")
            if store is not None
            else None
        )

    def _in_containerd(self, reference: Reference) -> bool:
        return self.containerd is not None and self.containerd.record_of(reference) is not None

    # --- listing ---------------------------------------------------------------------------

    def _listing(self) -> list[tuple[Reference, Driver]]:
        if self._references is not None:
            return self._references
        several = len(self.drivers) > 1
        tagged: list[tuple[Reference, Driver]] = []
        by_digest: list[tuple[Reference, Driver]] = []
        dangling: list[tuple[Reference, Driver]] = []
        for driver in self.drivers:
            prefix = f"{driver.name}:" if several else ""
            named_ids: set[str] = set()
            for name, entries in sorted(driver.repositories.items()):
                tagged_ids = set()
                for key, image_id in sorted(entries.items()):
                    if "@" in key:
                        continue
                    key_name, tag = split_reference(key)
                    tagged_ids.add(image_id)
                    ref = Reference(
                        name=key_name or name, tag=tag, digest=image_id, selector=f"{prefix}{key}"
                    )
                    tagged.append((ref, driver))
                for key, image_id in sorted(entries.items()):
                    if "@" in key and image_id not in tagged_ids:
                        tagged_ids.add(image_id)  # one line per image, even with several digests
                        ref = Reference(name=name, digest=image_id, selector=f"{prefix}{key}")
                        by_digest.append((ref, driver))
                named_ids |= set(entries.values())
            ids = driver.image_ids()
            parents = {parent for image_id in ids if (parent := driver.parent(image_id))}
            for image_id in ids:
                if image_id not in named_ids and image_id not in parents:
                    ref = Reference(digest=image_id, selector=f"{prefix}{image_id}")
                    dangling.append((ref, driver))
        self._references = tagged + by_digest + dangling
        return self._references

    def references(self) -> list[Reference]:
        found = [ref for ref, _ in self._listing()]
        return found + (self.containerd.references() if self.containerd else [])

    def blobs(self, references: list[Reference]) -> BlobView:
        """Each image's config (hashable: its name is the Image ID); its layers are unpacked,
        so only what layerdb records of them can be compared. The containerd store's images
        are walked from their manifests, every blob kept."""
        images: dict[str, UnpackedImage] = {}
        kept: dict[tuple[str, int], KeptLayer] = {}
        if self.containerd is not None:
            held = [ref for ref in references if self._in_containerd(ref)]
            view = self.containerd.blobs(held)
            references = [ref for ref in references if ref not in held]
        for ref in references:
            image_id = ref.digest or ""
            if image_id in images:
                images[image_id].label += f", {report_label(ref)}"
                continue
            images[image_id] = self._unpacked(report_label(ref), image_id, kept)
        if self.containerd is None:
            return BlobView(list(images.values()), kept=kept)
        view.roots += list(images.values())
        view.kept.update(kept)
        return view

    def _unpacked(
        self, label: str, image_id: str, kept: dict[tuple[str, int], KeptLayer]
    ) -> UnpackedImage:
        """The image's config and what layerdb records of its layers; into `kept`, where each
        layer's tar stream can be rebuilt from (for listing its files)."""
        found = [
            (driver, driver.config_path(image_id))
            for driver in self.drivers
            if valid_digest(image_id) and driver.config_path(image_id).is_file()
        ]
        if not found:
            return UnpackedImage(label, image_id, None, None)
        driver, path = found[0]
        try:
            data = _read_file(path)
        except SourceError as error:
            return UnpackedImage(label, image_id, None, str(error))
        image = UnpackedImage(label, image_id, data, None)
        diff_ids = diff_ids_of(json_object(data))
        for diff_id, chain in zip(diff_ids, chain_ids(diff_ids), strict=True):
            folder = driver.layer_dir(chain) if valid_digest(chain) else None
            if folder is None or not folder.is_dir():
                image.layers.append(UnpackedLayer(diff_id, False, None))
                continue
            recorded = read_text_file(folder / "diff", MAX_SMALL_FILE)
            if recorded is not None and not valid_digest(recorded):
                recorded = None  # what the file holds is never shown: only a digest is
            unreadable = recorded is None and (folder / "diff").exists()
            image.layers.append(
                UnpackedLayer(diff_id, True, recorded, unreadable, _size_problem(folder))
            )
            found = _reassembly(driver, folder)
            if found is not None:
                cache_id, reassembly = found
                kept[(image_id, len(image.layers))] = KeptLayer(
                    cache_id, recorded, reassembly=reassembly
                )
        return image

    # --- reading ---------------------------------------------------------------------------

    def get(self, selector: str | None = None) -> Target:
        if self.containerd is not None:
            if selector is None:
                return self.get_reference(self.select(None))
            found = self.containerd.lookup(selector)
            if found and self.drivers and not selector.startswith("containerd:"):
                try:
                    self._pick(selector)
                except SourceError:
                    pass  # the classic store has no such image
                else:
                    raise SourceError(
                        f"{self.transport}: {selector!r} is in both the classic and the "
                        "containerd store: prefix containerd: or a driver's name "
                        f"({self.drivers[0].name}:)"
                    )
            if found:
                return self.get_reference(self.containerd.pick(found, selector, self.transport))
            if not self.drivers or selector.startswith("containerd:"):
                raise self._no_image(selector)
        ref, driver = self._pick(selector)
        image_id = ref.digest or ""
        image = self.read_image(driver, image_id, ref.name)
        if ref.name and "@" in (ref.selector or ""):  # chosen by repo digest: that one
            image.manifest_digest = (ref.selector or "").rpartition("@")[2]
        return Target(
            Reference(name=ref.name, tag=ref.tag, digest=image_id, selector=ref.selector), image
        )

    def _no_image(self, selector: str) -> SourceError:
        held = ", ".join(holding_label(ref) for ref in self.references()[:8])
        return SourceError(f"{self.transport}: no image {selector!r} here (it holds: {held})")

    def get_reference(self, reference: Reference) -> Target:
        if self._in_containerd(reference):
            assert self.containerd is not None
            return self.containerd.target(reference, self.transport)
        return super().get_reference(reference)

    def _pick(self, selector: str | None) -> tuple[Reference, Driver]:
        listing = self._listing()
        if selector is None:
            if len(listing) == 1:
                return listing[0]
            self.select(None)  # raises the "holds N images" message
        assert selector is not None
        drivers = self.drivers
        head, sep, rest = selector.partition(":")
        if sep and len(drivers) > 1 and head in {d.name for d in drivers}:
            # `vfs:busybox:latest` reads one driver's image when several are present
            drivers = [d for d in drivers if d.name == head]
            listing = [(ref, d) for ref, d in listing if d.name == head]
            selector = rest
        if "@" in selector:  # name@sha256:… as `docker image inspect` takes it
            name = selector.partition("@")[0]
            for driver in drivers:
                image_id = driver.repositories.get(name, {}).get(selector)
                if image_id:
                    return Reference(name=name, digest=image_id, selector=selector), driver
        matches = [(ref, d) for ref, d in listing if matches_selector(ref, selector)]
        matches += [
            (ref, d)
            for ref, d in listing
            if (ref, d) not in matches and _unqualified(ref, d, self.drivers) == selector
        ]
        if not matches:
            image_id = selector if selector.startswith("sha256:") else f"sha256:{selector}"
            for driver in drivers:  # an intermediate image (a parent), which is not listed
                if valid_digest(image_id) and driver.config_path(image_id).is_file():
                    return Reference(digest=image_id, selector=image_id), driver
            raise self._no_image(selector)
        check_unambiguous([ref for ref, _ in matches], selector, self.transport)
        return matches[0]

    def read_image(self, driver: Driver, image_id: str, name: str | None) -> Image:
        path = driver.config_path(image_id)
        data = _read_file(path)
        if data is None:
            raise SourceError(f"{self.transport}: the config of {image_id} is absent ({path})")
        config = parse_json(data, f"config {path}")
        image = image_from_config(config, config_digest=image_id)
        actual = sha256_digest(data)
        if actual != image_id:
            image.warnings.append(f"the stored config of {image_id} hashes to {actual}")
        image.manifest_digest = self._repo_digest(driver, image_id, name)
        self._fill_layers(driver, image, name)
        return image

    def _repo_digest(self, driver: Driver, image_id: str, name: str | None) -> str | None:
        digests = set()
        for repo, entries in driver.repositories.items():
            if name is not None and repo != name:
                continue
            for key, value in entries.items():
                if "@" in key and value == image_id:
                    digests.add(key.rpartition("@")[2])
        return digests.pop() if len(digests) == 1 else None

    def _fill_layers(self, driver: Driver, image: Image, name: str | None) -> None:
        wanted = repositories_key(name) if name else None
        missing = []
        for layer, chain_id in zip(image.layers, chain_ids(image.diff_ids), strict=False):
            if not valid_digest(chain_id) or not layer.diff_id or not valid_digest(layer.diff_id):
                continue
            folder = driver.layer_dir(chain_id)
            if not folder.is_dir():
                missing.append(layer.diff_id)
            else:
                size = _record(folder / "size", image)
                if (number := decimal_number(size, 19)) is not None:
                    layer.uncompressed_size = number
                elif size is not None:
                    image.warnings.append(f"layerdb {chain_id}'s size is not a number")
                recorded = _record(folder / "diff", image)
                if recorded is not None and not valid_digest(recorded):
                    image.warnings.append(f"layerdb {chain_id}'s diff holds no digest")
                elif recorded and recorded != layer.diff_id:
                    image.warnings.append(
                        f"layerdb {chain_id} holds diff {recorded}, the config says {layer.diff_id}"
                    )
                if self._foreign(folder, layer, image):
                    continue
            self._compressed_digest(driver, layer, image, wanted)
        if missing:
            image.warnings.append(
                f"{len(missing)} of the image's layers are not in layerdb "
                f"(first: {missing[0]}); their sizes are unknown"
            )

    def _foreign(self, folder: InputPath, layer: Layer, image: Image) -> bool:
        """Fill a Windows foreign layer from layerdb's descriptor.json; True when there is one."""
        path = folder / "descriptor.json"
        data = _read_file(path)
        if data is None:
            return False
        try:
            descriptor = layer_from_descriptor(parse_json(data, str(path)))
        except SourceError as error:  # the config is still exact: say so and go on
            image.warnings.append(f"{error}; the foreign layer's descriptor is unknown")
            return False
        if not descriptor.digest or not valid_digest(descriptor.digest):
            image.warnings.append(f"{path} holds no valid digest")
            return False
        layer.digest = descriptor.digest
        layer.size = descriptor.size
        layer.media_type = descriptor.media_type
        layer.urls = descriptor.urls
        layer.annotations = descriptor.annotations
        return True

    def _compressed_digest(
        self, driver: Driver, layer: Layer, image: Image, wanted: str | None
    ) -> None:
        assert layer.diff_id is not None
        try:
            entries = driver.v2metadata(layer.diff_id)
        except SourceError as error:  # the config is still exact: say so and go on
            image.warnings.append(f"{error}; the layer's compressed digest is unknown")
            return
        if not entries:
            return
        same_repo = [e for e in entries if wanted and e.get("SourceRepository") == wanted]
        digests = {e["Digest"] for e in entries}
        if same_repo:
            layer.digest = same_repo[-1]["Digest"]
        elif len(digests) == 1:
            layer.digest = entries[-1]["Digest"]
        else:
            layer.digest = entries[-1]["Digest"]
            image.warnings.append(
                f"layer {layer.diff_id} was pulled or pushed as {len(digests)} different "
                f"digests; showing the most recent ({layer.digest})"
            )


def _read_repositories(folder: InputPath) -> dict[str, dict[str, str]]:
    path = folder / "repositories.json"
    data = _read_file(path)
    if data is None:
        return {}
    document = parse_json(data, str(path))
    repositories = document.get("Repositories")
    if repositories is None:
        return {}
    if not isinstance(repositories, dict):
        raise SourceError(f"docker-root: {path} has no Repositories object")
    found: dict[str, dict[str, str]] = {}
    for name, entries in repositories.items():
        if not isinstance(entries, dict):
            continue
        found[name] = {
            key: value
            for key, value in entries.items()
            if isinstance(key, str) and isinstance(value, str) and valid_digest(value)
        }
    return found


def _read_file(path: InputPath, limit: int = MAX_METADATA_BYTES) -> bytes | None:
    """A small file's bytes, None when absent; a one-line SourceError when unreadable (a FIFO,
    a device, a symlink out of the data root, too large)."""
    return read_optional_file(path, "docker-root:", limit)


def _size_problem(folder: InputPath) -> str | None:
    """Why a layer's layerdb `size` is no size (None: a number, or no record). Its value, the
    unpacked files' size by the driver's count, is not the tar stream's: only its form is
    checked."""
    size = read_text_file(folder / "size", MAX_SMALL_FILE)
    if size is None:
        return "its layerdb size cannot be read" if (folder / "size").exists() else None
    if decimal_number(size, 19) is None:
        return "its layerdb size is not a number"
    return None


def _record(path: InputPath, image: Image) -> str | None:
    """A layerdb record's text; None, with a warning naming why, when it cannot be read."""
    try:
        return _small_text(path)
    except SourceError as error:
        image.warnings.append(str(error))
        return None


def _reassembly(driver: Driver, record: InputPath) -> tuple[str, Reassembly] | None:
    """The layer's cache-id and where its tar stream can be rebuilt from: its record's tar-split.json.gz and the
    driver's folder of its files, when the input is the whole data root (the files are in
    `<driver>/`, beside `image/`) and both are there in some form (one that is no file or
    folder, or leads outside, fails when read)."""
    pattern = UNPACKED.get(driver.name)
    if pattern is None or driver.path.key != f"image/{driver.name}":
        return None
    cache_id = _small_text(record / "cache-id")
    if cache_id is None or not CACHE_ID.fullmatch(cache_id):
        return None
    files = driver.path.folder / pattern.format(id=cache_id)
    tar_split = record / "tar-split.json.gz"
    if files.kind() is None or tar_split.kind() is None:
        return None
    return cache_id, Reassembly(str(driver.path.folder.path), tar_split.key, files.key)


def _small_text(path: InputPath, limit: int = MAX_SMALL_FILE) -> str | None:
    data = _read_file(path, limit)
    if data is None:
        return None
    try:
        return data.decode().strip()
    except UnicodeDecodeError:
        return None


def _unqualified(ref: Reference, driver: Driver, drivers: list[Driver]) -> str | None:
    """A listed selector without its `driver:` prefix (there only when several drivers exist)."""
    if not ref.selector or len(drivers) < 2:
        return None
    return ref.selector.removeprefix(f"{driver.name}:")
