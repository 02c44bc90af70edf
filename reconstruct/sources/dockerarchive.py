"""`docker-archive:PATH[:NAME:TAG]` — `docker save` / `podman save` archives (`-`: stdin).

Layouts (docs/history-and-sources.md), all read from one pass over the tar (blob/tar.py), whole
archive plain or gzip/zstd/xz/bzip2-compressed:

- legacy (Docker < 25, Podman, skopeo, kaniko, jib, bazel): `manifest.json` lists per image its
  config member, RepoTags and layer members (jib spells the keys in lower case); layer members
  may be symlinks to a shared layer; `LayerSources` keeps the distribution descriptor of layers
  (Windows foreign layers, bazel's base layers). There is no image manifest, so the layers are
  described from what the archive shows: an uncompressed layer's digest is its diff_id, a
  gzipped one's size is its member's size.
- Docker ≥ 25: an OCI image layout beside `manifest.json`. The OCI index is preferred: it gives
  manifest digests, media types and compressed sizes, and lists every platform of a containerd
  store save even where only some have their blobs here (absent ones are listed as such).
  `manifest.json` entries the index does not reach are read the legacy way, with the OCI
  manifest found among the blobs when one names their config.
- an OCI layout alone (an oci-archive given as a bare path) reads like `oci-archive:`.
- pre-1.10 saves (no `manifest.json`, per-layer `json` files) are refused: their layers have no
  content digests, so the layer side of every step would be a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..blob.digests import BLOB_MEMBER
from ..blob.tar import MemberObserver, TarBlobStore, TarIndex
from ..jsondoc import JSONProblem, load_json
from ..model import Image, Reference, Target
from ..refs import display_name, report_label, split_reference
from .base import Capabilities, Source, SourceError
from .ocilayout import layout_references, layout_target
from .partial import (
    MAX_INDEX_DEPTH,
    as_list,
    image_from_config,
    image_from_manifest,
    kind_of,
    parse_json,
    sha256_digest,
)
from .view import BlobView, MemberImage, Root, descriptor_roots

DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
# kaniko (go-containerregistry's tarball writer) and jib name gzipped layers `<hex>.tar.gz`
# after their compressed digest; the archive does not say which media type the image used, and
# both tools default to the Docker one.
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
GZIP_SUFFIXES = (".tar.gz", ".tgz")
HEX_NAME = re.compile(r"^(?:.*/)?([0-9a-f]{64})(\.tar|\.tar\.gz|\.tgz)?$")
# The OCI manifest that names a manifest.json config is searched among blobs up to this size.
MANIFEST_SEARCH_LIMIT = 256 * 1024
# `docker save` of every image of a big host lists a few hundred; beyond this, refused.
MAX_MANIFEST_ENTRIES = 10_000


@dataclass
class ManifestEntry:
    """One `manifest.json` entry, keys normalised."""

    config: str
    repo_tags: list[str]
    layers: list[str]
    layer_sources: dict[str, Any]


@dataclass
class _Choice:
    """A Reference and how to build its target."""

    reference: Reference
    entry: ManifestEntry | None = None  # None: an index.json entry


class DockerArchiveSource(Source):
    transport = "docker-archive"

    capabilities = Capabilities(archive=True)

    def __init__(
        self,
        path: Path | str,
        observe: MemberObserver | None = None,
        on_read=None,
        *,
        tar: TarIndex | None = None,
    ):
        # `observe`: verify hashes every member during the one pass a compressed input allows;
        # `tar`: the archive indexed already (an engine's export, streamed)
        self.tar = tar if tar is not None else TarIndex.open(path, observe, on_read)
        self.label = self.tar.label
        self.store = TarBlobStore(self.tar)
        manifest_data = self.tar.read("manifest.json")
        index_data = self.tar.read("index.json")
        if manifest_data is None and index_data is None:
            if self.tar.read("repositories") is not None or any(
                m.name.endswith("/json") for m in self.tar.files()
            ):
                raise SourceError(
                    f"{self.label} is a docker save archive from before Docker 1.10 (no "
                    "manifest.json): its layers have no content digests, so it is not supported"
                )
            raise SourceError(
                f"{self.label} has no manifest.json or index.json: not a docker save archive "
                "or OCI layout"
            )
        self.entries = _manifest_entries(manifest_data, self.label) if manifest_data else []
        self.index = parse_json(index_data, f"{self.label}: index.json") if index_data else None
        self._choices: list[_Choice] | None = None
        self._by_reference: dict[int, _Choice] = {}
        self._configs: dict[str, tuple[bytes, str]] = {}
        # config digest → the first OCI manifest among the blobs naming it; built on first use
        self._manifests: dict[str, tuple[str, dict[str, Any], int]] | None = None

    # --- listing --------------------------------------------------------------------------

    def references(self) -> list[Reference]:
        return [choice.reference for choice in self.choices()]

    def choices(self) -> list[_Choice]:
        if self._choices is None:
            choices = []
            covered: set[str] = set()
            tags = self._repositories()
            if self.index is not None:
                familiar = self._repo_tag_names()
                visited: set[str] = set()  # blobs read once for all entries together
                for reference, descriptor in layout_references(self.index):
                    choices.append(_Choice(_as_repo_tag(reference, familiar)))
                    covered |= self._configs_below(descriptor, 0, visited)
            for entry in self.entries:
                _, digest = self._config(entry)
                # by the digest its member name spells too: an edited config still is the
                # index's blob, and is then checked (and reported) once
                if digest not in covered and _digest_in_name(entry.config) not in covered:
                    choices.extend(
                        _Choice(ref, entry) for ref in _entry_references(entry, digest, tags)
                    )
            self._choices = choices
            self._by_reference = {id(choice.reference): choice for choice in choices}
        return self._choices

    def get(self, selector: str | None = None) -> Target:
        return self.get_reference(self.select(selector))

    def get_reference(self, reference: Reference) -> Target:
        """One of `references()`, found by identity: `show --all` asks for each in turn."""
        self.choices()
        choice = self._by_reference.get(id(reference))
        if choice is None or choice.reference is not reference:
            return self.get(reference.selector or reference.digest)
        if choice.entry is None:
            assert self.index is not None
            return layout_target(self.store, self.index, reference, self.transport)
        return Target(reference, self._image(choice.entry))

    def _repo_tag_names(self) -> dict[tuple[str, str], str]:
        """(display name, tag) → the name as manifest.json's RepoTags spell it."""
        names = {}
        for entry in self.entries:
            for repo_tag in entry.repo_tags:
                name, tag = split_reference(repo_tag)
                if name and tag:
                    names[(display_name(name) or name, tag)] = name
        return names

    def blobs(self, references: list[Reference]) -> BlobView:
        """Docker ≥ 25 saves: their OCI index; manifest.json entries it does not reach: by
        member name (the legacy layout)."""
        wanted = {id(ref) for ref in references}
        chosen = [c for c in self.choices() if id(c.reference) in wanted]
        descriptors = dict((r.digest, d) for r, d in layout_references(self.index or {}))
        found = [
            (c.reference, descriptors.get(c.reference.digest) or {"digest": c.reference.digest})
            for c in chosen
            if c.entry is None
        ]
        roots: list[Root] = list(descriptor_roots(found))
        entries: dict[str, tuple[list[str], ManifestEntry]] = {}
        for choice in chosen:
            if choice.entry is not None:
                names, _ = entries.setdefault(choice.entry.config, ([], choice.entry))
                names.append(report_label(choice.reference))
        for names, entry in entries.values():
            label = ", ".join(dict.fromkeys(names))
            roots.append(MemberImage(label, entry.config, entry.layers, entry.layer_sources))
        return BlobView(roots, store=self.store, archive=self.tar)

    # --- images from manifest.json ----------------------------------------------------------

    def _image(self, entry: ManifestEntry) -> Image:
        data, digest = self._config(entry)
        found = self._oci_manifest(digest)
        if found is not None:
            manifest_digest, manifest, size = found
            return image_from_manifest(
                self.store, manifest, digest=manifest_digest, size=size, config_override=data
            )
        config = parse_json(data, f"{self.label}: config {entry.config}")
        rootfs = config.get("rootfs") if isinstance(config.get("rootfs"), dict) else {}
        diff_ids = [d if isinstance(d, str) else None for d in rootfs.get("diff_ids") or []]
        descriptors, sizes, warnings = [], [], []
        for position, path in enumerate(entry.layers):
            diff_id = diff_ids[position] if position < len(diff_ids) else None
            descriptor, size, warning = self._layer(path, diff_id, entry.layer_sources)
            descriptors.append(descriptor)
            sizes.append(size)
            if warning:
                warnings.append(warning)
        image = image_from_config(config, config_digest=digest, manifest={"layers": descriptors})
        for layer, size in zip(image.layers, sizes, strict=False):
            layer.uncompressed_size = size
        image.warnings[:0] = warnings
        return image

    def _layer(
        self, path: str, diff_id: str | None, sources: dict[str, Any]
    ) -> tuple[dict[str, Any], int | None, str | None]:
        """A layer's descriptor, its uncompressed size when known, and a warning."""
        member = self.tar.resolve(path)
        present = member is not None and member.kind == "file"
        gzipped = path.endswith(GZIP_SUFFIXES)
        uncompressed = member.size if present and not gzipped else None  # type: ignore[union-attr]
        source = sources.get(diff_id) if diff_id else None
        if isinstance(source, dict):  # what the layer was distributed as (urls for foreign ones)
            return source, uncompressed, None
        if not present:
            return {}, None, f"layer {path} is listed in manifest.json but absent from the archive"
        named = _digest_in_name(path)
        if gzipped:
            descriptor = {"mediaType": DOCKER_LAYER_GZIP, "size": member.size, "digest": named}
            return descriptor, None, None
        if BLOB_MEMBER.match(path) and named != diff_id:
            # A blob of a Docker ≥ 25 save that is not the uncompressed tar: compressed in a way
            # only its (absent) OCI manifest would tell.
            return {"size": member.size, "digest": named}, None, None
        warning = None
        if named and diff_id and named != diff_id:
            warning = f"layer {path} is named for {named} but the config's diff_id is {diff_id}"
        # An uncompressed layer is its own blob: its digest is the diff_id.
        descriptor = {"mediaType": DOCKER_LAYER, "size": member.size, "digest": diff_id or named}
        return descriptor, uncompressed, warning

    def _config(self, entry: ManifestEntry) -> tuple[bytes, str]:
        """The config member's bytes and digest (the image ID)."""
        if entry.config not in self._configs:
            data = self.tar.read(entry.config)
            if data is None:
                raise SourceError(
                    f"{self.label}: manifest.json names config {entry.config}, "
                    "which is not in the archive"
                )
            self._configs[entry.config] = (data, sha256_digest(data))
        return self._configs[entry.config]

    def _oci_manifest(self, config_digest: str) -> tuple[str, dict[str, Any], int] | None:
        """The OCI manifest among the blobs that names this config (Docker ≥ 25 saves)."""
        if self.index is None:
            return None
        if self._manifests is None:
            self._manifests = self._manifests_by_config()
        return self._manifests.get(config_digest)

    def _manifests_by_config(self) -> dict[str, tuple[str, dict[str, Any], int]]:
        """Every OCI manifest among the blobs, by the config digest it names (the first one
        in archive order for each): one pass over the blobs, whatever the number of entries."""
        found: dict[str, tuple[str, dict[str, Any], int]] = {}
        for member in self.tar.files("blobs/"):
            match = BLOB_MEMBER.match(member.name)
            if not match or member.size > MANIFEST_SEARCH_LIMIT:
                continue
            try:
                data = self.tar.read(member.name)
                document = load_json(data or b"")
            except (SourceError, ValueError):
                continue  # a layer, or a blob not kept while streaming
            if not isinstance(document, dict) or kind_of(document) != "manifest":
                continue
            config = document.get("config")
            digest = config.get("digest") if isinstance(config, dict) else None
            if isinstance(digest, str) and digest not in found:
                found[digest] = (f"{match.group(1)}:{match.group(2)}", document, member.size)
        return found

    def _configs_below(
        self, descriptor: dict[str, Any], depth: int, visited: set[str] | None = None
    ) -> set[str]:
        """Config digests an index.json entry leads to (present blobs only); each blob is read
        once however many indexes list it, so a fan-out of indexes costs its size, not its
        paths."""
        visited = set() if visited is None else visited
        digest = descriptor.get("digest")
        if not isinstance(digest, str) or digest in visited or depth > MAX_INDEX_DEPTH:
            return set()
        visited.add(digest)
        data = self.store.read(digest)
        if data is None:
            return set()
        document = parse_json(data, f"{self.label}: blob {digest}")
        if kind_of(document) == "index":
            found: set[str] = set()
            for child in as_list(document.get("manifests")):
                if isinstance(child, dict):
                    found |= self._configs_below(child, depth + 1, visited)
            return found
        config = document.get("config")
        if isinstance(config, dict) and isinstance(config.get("digest"), str):
            return {config["digest"]}
        return set()

    def _repositories(self) -> dict[str, dict[str, str]]:
        """`repositories`: name → tag → top layer id, for RepoTags written without a tag."""
        data = self.tar.read("repositories")
        if data is None:
            return {}
        try:
            document = load_json(data)
        except ValueError:
            return {}  # only a fallback for tags: an unreadable one is not worth refusing
        if not isinstance(document, dict):
            return {}
        return {
            name: {tag: top for tag, top in tags.items() if isinstance(top, str)}
            for name, tags in document.items()
            if isinstance(tags, dict)
        }


def _manifest_entries(data: bytes, label: str) -> list[ManifestEntry]:
    try:
        document = load_json(data)
    except JSONProblem as error:
        raise SourceError(f"{label}: manifest.json is not valid JSON ({error})") from None
    if document is None:
        return []
    if not isinstance(document, list):
        raise SourceError(f"{label}: manifest.json is not a list of images")
    if len(document) > MAX_MANIFEST_ENTRIES:
        raise SourceError(
            f"{label}: manifest.json lists {len(document)} images, more than the "
            f"{MAX_MANIFEST_ENTRIES} an archive may hold"
        )
    entries = []
    for item in document:
        item = item if isinstance(item, dict) else {}
        config = _key(item, "Config")
        if not isinstance(config, str):
            raise SourceError(f"{label}: a manifest.json entry names no Config")
        tags = _key(item, "RepoTags")
        layers = _key(item, "Layers")
        sources = _key(item, "LayerSources")
        entries.append(
            ManifestEntry(
                config=config,
                repo_tags=_strings(tags),
                layers=_strings(layers),
                layer_sources=sources if isinstance(sources, dict) else {},
            )
        )
    return entries


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _key(item: dict[str, Any], name: str) -> Any:
    """`Config` as Docker writes it, `config` as jib does."""
    return item[name] if name in item else item.get(name[0].lower() + name[1:])


def _as_repo_tag(reference: Reference, names: dict[tuple[str, str], str]) -> Reference:
    """An index.json entry under the name its manifest.json RepoTag gives it.

    Docker ≥ 25 writes both: index.json names the image `docker.io/library/python:3`
    (io.containerd.image.name), manifest.json `python:3`, which is what `docker load` restores
    and `docker images` then shows; the familiar spelling is what a user knows the image by.
    """
    if not (reference.name and reference.tag):
        return reference
    name = names.get((display_name(reference.name) or reference.name, reference.tag))
    if name is None or name == reference.name:
        return reference
    return Reference(
        name=name, tag=reference.tag, digest=reference.digest, selector=f"{name}:{reference.tag}"
    )


def _entry_references(
    entry: ManifestEntry, digest: str, repositories: dict[str, dict[str, str]]
) -> list[Reference]:
    refs = []
    for repo_tag in entry.repo_tags:
        name, tag = split_reference(repo_tag)
        if name and not tag:  # bazel writes bare names; `repositories` may hold the tag
            tag = _tag_from_repositories(name, entry, repositories)
        selector = f"{name}:{tag}" if name and tag else (name or digest)
        refs.append(Reference(name=name, tag=tag, digest=digest, selector=selector))
    return refs or [Reference(digest=digest, selector=digest)]


def _tag_from_repositories(
    name: str, entry: ManifestEntry, repositories: dict[str, dict[str, str]]
) -> str | None:
    top = entry.layers[-1].split("/")[0] if entry.layers else None
    tags = [tag for tag, layer_id in repositories.get(name, {}).items() if layer_id == top]
    return tags[0] if len(tags) == 1 else None


def _digest_in_name(path: str) -> str | None:
    """`blobs/sha256/<hex>`, `<hex>.tar` or `<hex>.tar.gz`: writers name those by digest."""
    blob = BLOB_MEMBER.match(path)
    if blob:
        return f"{blob.group(1)}:{blob.group(2)}"
    named = HEX_NAME.match(path)
    if named and named.group(2):  # `<v1 id>/layer.tar` is not a digest: only `<hex>.tar…`
        return f"sha256:{named.group(1)}"
    return None
