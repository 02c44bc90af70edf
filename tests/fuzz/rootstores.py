"""The store targets for the two roots Kubernetes nodes keep (`containerd`, `containers-storage`):
fuzz bytes decoded into a containerd root (meta.db written by tests/support/boltwrite, then
patched byte by byte, and the content store) or a containers-storage graph root (images.json,
big data, layers.json, tar-splits and unpacked files), with the same edits, links out and
canaries as stores.py's registry and data-root targets."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any, ClassVar

from reconstruct.blob.digests import sha256_digest
from tests.fuzz import stores
from tests.fuzz.stores import (
    DIR,
    LAYER_BLOBS,
    LAYERS,
    OUTSIDE,
    SECRET,
    SECRET_DIGEST,
    STORE,
    T0,
    StoreDecoder,
    _remove,
    _write_file,
)
from tests.support.boltwrite import bolt_file, varint
from tests.support.cswrite import big_data_name, tar_split

META = "io.containerd.metadata.v1.bolt/meta.db"
CONTENT = "io.containerd.content.v1.content/blobs/sha256"
MEDIA = {
    "index": stores.DOCKER_LIST,
    "manifest_a": stores.DOCKER_MANIFEST,
    "manifest_w": stores.OCI_MANIFEST,
    "manifest_u": stores.OCI_MANIFEST,
}


def _image_bucket(digest: bytes, media_type: bytes, size: bytes, labels: dict) -> dict:
    return {
        b"target": {b"digest": digest, b"mediatype": media_type, b"size": size},
        b"labels": labels,
    }


def _outside_containerd(root: Path, config: bytes, manifest: bytes) -> None:
    """A containerd root outside the tree naming the secret, its blobs holding it."""
    target = sha256_digest(manifest).encode()
    images = {SECRET.encode(): _image_bucket(target, stores.OCI_MANIFEST.encode(), varint(1), {})}
    meta = bolt_file({b"v1": {b"version": b"\x06", b"k8s.io": {b"images": images}}})
    _write_file(root / META, meta)
    for data in (config, manifest):
        _write_file(root / CONTENT / sha256_digest(data)[7:], data)


def _outside_graph_root(root: Path, config: bytes, manifest: bytes) -> None:
    """A graph root outside the tree: an image named by the secret, its config holding it."""
    image_id = sha256_digest(config)[7:]
    record = {
        "id": image_id,
        "names": [f"localhost/{SECRET}:1"],
        "layer": SECRET_DIGEST[7:],
        "big-data-names": [f"sha256:{image_id}", "manifest"],
    }
    _write_file(root / "vfs-images" / "images.json", json.dumps([record]))
    _write_file(root / "vfs-images" / image_id / big_data_name(f"sha256:{image_id}"), config)
    _write_file(root / "vfs-images" / image_id / "manifest", manifest)
    layer = {"id": SECRET_DIGEST[7:], "diff-digest": SECRET_DIGEST, "diff-size": 1}
    _write_file(root / "vfs-layers" / "layers.json", json.dumps([layer]))
    _write_file(root / "vfs-layers" / f"{SECRET_DIGEST[7:]}.tar-split.gz", SECRET)
    _write_file(root / "vfs" / "dir" / SECRET_DIGEST[7:] / "secret", SECRET)


def make_outside_roots(names: dict[str, Path]) -> dict[str, Path]:
    """The canary roots beside stores.make_outside's (whose config and manifest they reuse)."""
    config, manifest = names["config"].read_bytes(), names["manifest"].read_bytes()
    roots = {"containerd": OUTSIDE / "containerd", "graph": OUTSIDE / "graph"}
    _outside_containerd(roots["containerd"], config, manifest)
    _outside_graph_root(roots["graph"], config, manifest)
    return roots


class ContainerdDecoder(StoreDecoder):
    transport = "containerd"
    subfolders = ("io.containerd.content.v1.content", "io.containerd.metadata.v1.bolt")
    vocabulary = (
        "io.containerd.content.v1.content", "io.containerd.metadata.v1.bolt", "meta.db", "blobs",
        "sha256", "ingest", "io.containerd.snapshotter.v1.overlayfs", "tmpmounts", ".hidden",
        "\x1b[2J", "ünï",
    )  # fmt: skip
    # namespace → image name → the document it names
    NAMES: ClassVar[dict[str, dict[str, str]]] = {
        "k8s.io": {
            "docker.io/library/app:latest": "index",
            "docker.io/library/app:1.0": "manifest_a",
            "docker.io/library/app@@manifest_a": "manifest_a",
        },
        "moby": {"docker.io/team/tool:v2": "manifest_w", "moby-dangling@@manifest_u": "manifest_u"},
        "default": {"localhost/solo:1": "manifest_u"},
    }

    def name(self, pattern: str) -> str:
        head, _, doc = pattern.partition("@@")
        return f"{head}@{self.digest(doc)}" if doc else head

    def build(self, tree: dict[str, Any], mtimes: dict[str, int]) -> None:
        names = self.NAMES if self.variant != 1 else {"k8s.io": {"app:1": "manifest_a"}}
        v1: dict = {b"version": b"\x06" if self.variant != 2 else b"\x08"}
        stored = set()
        for namespace, named in names.items():
            images = {}
            for pattern, doc in named.items():
                digest = self.digest(doc).encode()
                size = varint(len(self.blob(doc)))
                labels = {b"io.cri-containerd.image": b"managed"} if namespace == "k8s.io" else {}
                images[self.name(pattern).encode()] = _image_bucket(
                    digest, MEDIA[doc].encode(), size, labels
                )
                stored.add(doc)
            v1[namespace.encode()] = {b"images": images}
        self.v1 = v1
        tree[META] = bolt_file({b"v1": v1})
        if "index" in stored:
            stored |= {"manifest_a", "manifest_w"}
        configs = {"manifest_a": "config_a", "manifest_w": "config_w", "manifest_u": "config_d"}
        stored |= {configs[doc] for doc in list(stored) if doc in configs}
        stored |= set(LAYERS) if self.variant != 3 else set()  # variant 3: metadata only
        for number, doc in enumerate(sorted(stored)):
            path = f"{CONTENT}/{self.digest(doc)[7:]}"
            tree[path] = self.blob(doc)
            mtimes[path] = T0 + number

    def selectors(self) -> list[str]:
        manifest = self.digest("manifest_a")
        return [
            "k8s.io/docker.io/library/app:latest", "docker.io/library/app:1.0", "app:latest",
            "app", "1.0", f"docker.io/library/app@{manifest}", manifest, manifest[7:19],
            "moby/docker.io/team/tool:v2", f"moby-dangling@{self.digest('manifest_u')}",
            "default/localhost/solo:1", "solo:1", "nothing:here", "k8s.io/", "sha256:", "/",
        ]  # fmt: skip

    def deep_base(self) -> str:
        return CONTENT

    def deep_tails(self) -> list[str]:
        return [self.digest("config_a")[7:], "meta.db", "x"]

    def attack(self, tree: dict[str, Any], which: int) -> None:
        fdp, outside = self.fdp, self.outside
        if which in (0, 1):  # meta.db patched in place: pages, headers, elements, overflow
            data = bytearray(tree.get(META) if isinstance(tree.get(META), bytes) else b"")
            for _ in range(fdp.ConsumeIntInRange(1, 8)):
                if not data:
                    break
                at = fdp.ConsumeIntInRange(0, len(data) - 1)
                patch = fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 16))
                data[at : at + len(patch)] = patch
            tree[META] = bytes(data)
        elif which == 2:  # meta.db rewritten with fuzzed names, digests, media types, sizes
            images = {}
            for _ in range(fdp.ConsumeIntInRange(1, 6)):
                name = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 60))
                digest = self.pick([*self.digest_pool(), "sha256:", SECRET_DIGEST])
                if digest[:1] in "@%":
                    doc = digest[1:]
                    digest = self.digest(doc) if digest[0] == "@" else self.diff_id(doc)
                media = self.pick(stores.WORDS).encode()
                size = varint(fdp.ConsumeIntInRange(-(2**62), 2**62))
                if fdp.ConsumeBool():
                    size = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 12))
                images[name] = _image_bucket(digest.encode(), media, size, {})
            namespace = self.pick([b"k8s.io", b"moby", b"", b"\x1b[2J", b"a/b"])
            tree[META] = bolt_file({b"v1": {**self.v1, namespace: {b"images": images}}})
        elif which == 3:  # meta.db out of the tree
            tree[META] = ("link", str(outside["containerd"] / META))
        elif which == 4:  # the content store out of the tree
            _remove(tree, "io.containerd.content.v1.content")
            tree["io.containerd.content.v1.content"] = (
                "link",
                os.path.relpath(outside["containerd"] / "io.containerd.content.v1.content", STORE),
            )
        elif which == 5:  # a config blob out of the tree
            tree[f"{CONTENT}/{self.digest('config_a')[7:]}"] = ("link", str(outside["config"]))
        elif which == 6:  # a layer blob is the secret (Last Modified, verify's hashing, files)
            tree[f"{CONTENT}/{self.digest('layer_a')[7:]}"] = ("link", str(outside["secret"]))
        else:  # the metadata folder out of the tree
            _remove(tree, "io.containerd.metadata.v1.bolt")
            tree["io.containerd.metadata.v1.bolt"] = (
                "link",
                str(outside["containerd"] / "io.containerd.metadata.v1.bolt"),
            )


def _split(layer: bytes) -> tuple[list[tuple[str, Any]], dict[str, bytes]]:
    """A layer's tar-split (its first file's contents left out) and that file, unpacked."""
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        member = next(m for m in tar.getmembers() if m.isfile() and m.size)
    start, end = member.offset_data, member.offset_data + member.size
    pieces = [("segment", layer[:start]), ("file", (member.name, member.size))]
    return [*pieces, ("segment", layer[end:])], {member.name: layer[start:end]}


class ContainersStorageDecoder(StoreDecoder):
    transport = "containers-storage"
    subfolders = ("vfs-images", "vfs")
    vocabulary = (
        "vfs-images", "vfs-layers", "overlay-images", "overlay-layers", "vfs", "dir", "overlay",
        "diff", "images.json", "layers.json", "volatile-layers.json", "manifest", "storage.lock",
        "images.lock", "layers.lock", ".hidden", "\x1b[2J", "ünï",
    )  # fmt: skip

    def __init__(self, data: bytes):
        super().__init__(data)
        # the records, as JSON documents the structural mutations reach: '$name' is a
        # document's digest without its algorithm (an Image ID, a layer ID)
        self.docs["images"] = [
            {
                "id": "$config_a",
                "digest": "@index",
                "names": ["docker.io/library/app:latest", "docker.io/library/app:1.0"],
                "layer": "$layer_b",
                "big-data-names": ["sha256:$config_a", "manifest-@index", "manifest-@manifest_a",
                                   "manifest"],
                "big-data-sizes": {"sha256:$config_a": "#config_a", "manifest": "#manifest_a"},
                "big-data-digests": {"sha256:$config_a": "@config_a", "manifest": "@manifest_a"},
                "created": "2021-03-04T05:06:07.123456789Z",
            },
            {
                "id": "$config_d",
                "digest": "@manifest_u",
                "names": ["localhost/solo:1"],
                "layer": "$manifest_u",
                "big-data-names": ["sha256:$config_d", "manifest-@manifest_u", "manifest"],
                "created": "2021-03-05T05:06:07Z",
            },
            {"id": "$config_p", "layer": "$layer_a", "big-data-names": ["sha256:$config_p"]},
        ]  # fmt: skip
        self.docs["layers"] = [
            {
                "id": "$layer_a",
                "compressed-diff-digest": "@layer_a",
                "compressed-size": "#layer_a",
                "diff-digest": "%layer_a",
                "diff-size": len(LAYERS["layer_a"]),
                "compression": 2,
            },
            {
                "id": "$layer_b",
                "parent": "$layer_a",
                "compressed-diff-digest": "@layer_b",
                "compressed-size": "#layer_b",
                "diff-digest": "%layer_b",
                "diff-size": len(LAYERS["layer_b"]),
            },
            {  # layer_b again with no parent, as another image's only layer
                "id": "$manifest_u",
                "diff-digest": "%layer_b",
                "diff-size": len(LAYERS["layer_b"]),
            },
        ]
        self.names |= {"images", "layers"}

    def _fill(self, value: Any) -> Any:
        if isinstance(value, dict):  # big data keys name documents too
            return {self._fill_key(key): self._fill(item) for key, item in value.items()}
        if isinstance(value, str) and self._fill_key(value) != value:
            return self._fill_key(value)
        return super()._fill(value)

    def _fill_key(self, text: str) -> str:
        head, marker, name = text.partition("$")
        if marker and name in self.names:
            return head + self.digest(name)[7:]
        head, marker, name = text.partition("@")
        if marker and head == "manifest-" and name in self.names:
            return head + self.digest(name)
        return text

    def build(self, tree: dict[str, Any], mtimes: dict[str, int]) -> None:
        driver = "vfs" if self.variant != 1 else "overlay"
        self.driver = driver
        tree[f"{driver}-images/images.json"] = self.blob("images")
        tree[f"{driver}-layers/layers.json"] = self.blob("layers")
        for lock in (
            "storage.lock",
            f"{driver}-images/images.lock",
            f"{driver}-layers/layers.lock",
        ):
            tree[lock] = b""
        big_data = {
            "config_a": {"sha256:$config_a": "config_a", "manifest-@index": "index",
                         "manifest-@manifest_a": "manifest_a", "manifest": "manifest_a"},
            "config_d": {"sha256:$config_d": "config_d", "manifest-@manifest_u": "manifest_u",
                         "manifest": "manifest_u"},
            "config_p": {"sha256:$config_p": "config_p"},
        }  # fmt: skip
        if self.variant == 2:  # config-only images (a build's intermediate images)
            big_data = {image: {k: v for k, v in items.items() if k.startswith("sha256:")}
                        for image, items in big_data.items()}  # fmt: skip
        for image, items in big_data.items():
            folder = f"{driver}-images/{self.digest(image)[7:]}"
            for key, doc in items.items():
                tree[f"{folder}/{big_data_name(self._fill_key(key))}"] = self.blob(doc)
        layer_ids = {"layer_a": "layer_a", "layer_b": "layer_b", "manifest_u": "layer_b"}
        for number, (id_doc, layer) in enumerate(layer_ids.items()):
            layer_id = self.digest(id_doc)[7:]
            pieces, files = _split(LAYERS[layer])
            split = f"{driver}-layers/{layer_id}.tar-split.gz"
            tree[split] = tar_split(pieces)
            unpacked = f"vfs/dir/{layer_id}" if driver == "vfs" else f"overlay/{layer_id}/diff"
            tree[unpacked] = DIR
            if self.variant != 3:  # variant 3: the layers' files are gone (a pruned store)
                for name, data in files.items():
                    tree[f"{unpacked}/{name}"] = data
            mtimes[split] = T0 + number
        assert LAYER_BLOBS  # the compressed forms are what layers.json's digests name

    def selectors(self) -> list[str]:
        image_id = self.digest("config_a")[7:]
        return [
            "docker.io/library/app:latest", "app:latest", "app:1.0", "localhost/solo:1", "solo:1",
            image_id, image_id[:12], f"docker.io/library/app@{self.digest('index')}",
            f"app@{self.digest('manifest_a')}", self.digest("config_p")[7:], "nothing:here",
            f"[vfs@{STORE}]app:latest", f"[overlay@{STORE}+/run/x]solo:1", "sha256:", ":", "@",
        ]  # fmt: skip

    def deep_base(self) -> str:
        return f"{self.driver}-images"

    def deep_tails(self) -> list[str]:
        return ["images.json", "manifest", "x"]

    def attack(self, tree: dict[str, Any], which: int) -> None:
        driver, graph = self.driver, self.outside["graph"]
        image = f"{driver}-images/{self.digest('config_a')[7:]}"
        layer_b = self.digest("layer_b")[7:]
        if which == 0:  # images.json out of the tree, naming the outside image
            tree[f"{driver}-images/images.json"] = ("link", str(graph / "vfs-images/images.json"))
        elif which == 1:  # an image's big data folder out of the tree
            _remove(tree, image)
            tree[image] = ("link", str(graph / "vfs-images"))
        elif which == 2:  # the config big data is the outside config
            key = big_data_name(f"sha256:{self.digest('config_a')[7:]}")
            tree[f"{image}/{key}"] = ("link", str(self.outside["config"]))
        elif which == 3:  # layers.json out of the tree
            tree[f"{driver}-layers/layers.json"] = ("link", str(graph / "vfs-layers/layers.json"))
        elif which == 4:  # a layer's unpacked files out of the tree
            unpacked = f"vfs/dir/{layer_b}" if driver == "vfs" else f"overlay/{layer_b}/diff"
            _remove(tree, unpacked)
            tree[unpacked] = ("link", str(graph / "vfs/dir" / SECRET_DIGEST[7:]))
        elif which == 5:  # a tar-split is the secret
            tree[f"{driver}-layers/{layer_b}.tar-split.gz"] = ("link", str(self.outside["secret"]))
        elif which == 6:  # an unpacked file is the secret
            unpacked = f"vfs/dir/{layer_b}" if driver == "vfs" else f"overlay/{layer_b}/diff"
            name = next(iter(_split(LAYERS["layer_b"])[1]))
            tree[f"{unpacked}/{name}"] = ("link", str(self.outside["secret"]))
        else:  # a layer ID or a big data name that leads up
            records = self._fill(self.docs["layers"])  # as mutated, before its byte style
            if isinstance(records, list) and records and isinstance(records[-1], dict):
                records[-1]["id"] = self.pick(["..", "../../outside/graph", "a/../..", "."])
                tree[f"{driver}-layers/layers.json"] = json.dumps(records).encode()
