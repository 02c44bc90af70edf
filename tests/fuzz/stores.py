"""The store targets' inputs (`registry-dir`, `docker-root`): fuzz bytes decoded into a folder
tree (see `StoreDecoder` and fuzz.py's docstring), with canaries outside it that no output may
show. Kept apart from the targets so that fuzz.py stays the harness."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import tarfile
from pathlib import Path
from typing import Any

import atheris

from reconstruct.blob.digests import sha256_digest
from reconstruct.sources.dockerroot import chain_ids

# --- the directory stores ------------------------------------------------------------------------

# Never written into a store under test, so it may only reach an output by a read out of it.
SECRET = "canary" + secrets.token_hex(16)
SECRET_DIGEST = "sha256:" + hashlib.sha256(SECRET.encode()).hexdigest()
CANARIES = (SECRET, SECRET_DIGEST.removeprefix("sha256:"))
# The store trees are written (and removed) once per input: run.sh puts them on a tmpfs.
SCRATCH = Path(os.environ["RECONSTRUCT_FUZZ_SCRATCH"])  # set by fuzz.py before importing
OUTSIDE = SCRATCH / "outside"
STORE = SCRATCH / "store"
T0 = 1614834367  # the base store's modification times (2021-03-04T05:06:07Z)

DIR = "dir"  # tree entries: bytes (a file), DIR, ("link", target) or FIFO
FIFO = "fifo"
MAX_OPS = 32

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"

KEYS = (
    "mediaType", "schemaVersion", "config", "layers", "manifests", "digest", "size", "urls",
    "platform", "architecture", "os", "os.version", "os.features", "variant", "annotations",
    "history", "created", "created_by", "empty_layer", "comment", "author", "rootfs", "type",
    "diff_ids", "Env", "Cmd", "Entrypoint", "Labels", "ExposedPorts", "WorkingDir", "User",
    "Volumes", "container_config", "Repositories", "Digest", "SourceRepository", "HMAC",
    "fsLayers", "blobSum", "subject", "artifactType", "org.opencontainers.image.ref.name",
)  # fmt: skip
WORDS = (
    DOCKER_MANIFEST, DOCKER_LIST, DOCKER_CONFIG, DOCKER_LAYER, FOREIGN_LAYER, OCI_MANIFEST,
    OCI_INDEX, OCI_CONFIG, OCI_LAYER, OCI_TAR, "application/vnd.in-toto+json", "unknown/unknown",
    "linux", "windows", "amd64", "arm64", "arm", "v7", "10.0.17763.1234", "layers",
    "/bin/sh -c #(nop)  CMD [\"sh\"]", "/bin/sh -c #(nop) ADD file:abc in / ",
    "RUN /bin/sh -c apt-get update # buildkit", "|1 A=b /bin/sh -c true", "",
    "1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
    "2021-13-45T25:61:61Z", "2021-03-04T05:06:07.123456789+02:00", "latest", "\x1b[31m\u202e",
    "sha256:", "sha512:" + "ab" * 64, "sha256:" + "0" * 64, "sha256:" + "A" * 64, "md5:00",
    "https://example.com/layer.tar.gz", "docker.io/library/app", "app:latest", "a@b:c",
)  # fmt: skip
MTIMES = (0, -1, -(2**31), 2**31, 2**33, 253402300800, 2**40, 2**62, T0)


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(content), T0
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _history(*steps: tuple[str, bool]) -> list[dict[str, Any]]:
    return [
        {"created": f"2021-03-0{n + 1}T05:06:07.{n}Z", "created_by": step}
        | ({"empty_layer": True} if empty else {})
        for n, (step, empty) in enumerate(steps)
    ]


def _config(os_name: str, arch: str, diff_ids: list[str], cmd: str, **extra: Any) -> dict:
    steps = [("/bin/sh -c #(nop) ADD file:0123abcd in / ", False)]
    steps += [
        (f"RUN /bin/sh -c echo {n} > /f{n} # buildkit", False) for n in range(1, len(diff_ids))
    ]
    steps += [(f'/bin/sh -c #(nop)  CMD ["{cmd}"]', True)]
    return {
        "architecture": arch,
        "os": os_name,
        "created": "2021-03-04T05:06:07.123Z",
        "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": [cmd], "Labels": {"a": "b"}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": _history(*steps),
    } | extra


def _descriptor(media_type: str, name: str, **extra: Any) -> dict:
    return {"mediaType": media_type, "size": f"#{name}", "digest": f"@{name}"} | extra


FOREIGN_URLS = ["https://mcr.microsoft.com/v2/windows/blobs/x"]
LAYERS = {
    "layer_a": _tar({"etc/hello": b"hello\n", "bin/sh": b"#!\n"}),
    "layer_b": _tar({"app/run.sh": b"echo run\n"}),
    "foreign": _tar({"Files/Windows/win.ini": b"[w]\n"}),
}

LAYER_BLOBS = {name: _gzip(data) for name, data in LAYERS.items()}


def _documents() -> dict[str, Any]:
    """Every JSON document of the base stores: '@name' is that document's digest, '#name' its
    size, '%name' a layer's diff_id, filled in when the store is written."""
    windows = {"os.version": "10.0.17763.1234"}
    return {
        "config_a": _config("linux", "amd64", ["%layer_a", "%layer_b"], "sh"),
        "config_p": _config("linux", "amd64", ["%layer_a"], "base"),
        "config_d": _config("linux", "arm64", ["%layer_b"], "dangling", variant="v8"),
        "config_w": _config("windows", "amd64", ["%foreign", "%layer_b"], "cmd", **windows),
        "manifest_a": {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": _descriptor(DOCKER_CONFIG, "config_a"),
            "layers": [_descriptor(DOCKER_LAYER, "layer_a"), _descriptor(DOCKER_LAYER, "layer_b")],
        },
        "manifest_w": {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": _descriptor(OCI_CONFIG, "config_w"),
            "layers": [
                _descriptor(FOREIGN_LAYER, "foreign", urls=FOREIGN_URLS),
                _descriptor(OCI_LAYER, "layer_b"),
            ],
        },
        "manifest_u": {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": _descriptor(OCI_CONFIG, "config_d"),
            "layers": [_descriptor(OCI_LAYER, "layer_b")],
            "annotations": {"org.opencontainers.image.created": "2021-03-04T05:06:07Z"},
        },
        "index": {
            "schemaVersion": 2,
            "mediaType": DOCKER_LIST,
            "manifests": [
                _descriptor(
                    DOCKER_MANIFEST, "manifest_a", platform={"architecture": "amd64", "os": "linux"}
                ),
                _descriptor(
                    OCI_MANIFEST,
                    "manifest_w",
                    platform={"architecture": "amd64", "os": "windows"} | windows,
                ),
            ],
        },
        "repositories": {
            "Repositories": {
                "app": {
                    "app:latest": "@config_a",
                    "app:1.0": "@config_a",
                    "app@" + sha256_digest(b"app manifest"): "@config_a",
                },
                "mcr.microsoft.com/windows/tool": {
                    "mcr.microsoft.com/windows/tool:ltsc2019": "@config_w"
                },
            }
        },
        "v2meta_a": [
            {"Digest": "@layer_a", "SourceRepository": "docker.io/library/debian", "HMAC": ""},
            {"Digest": "@layer_a", "SourceRepository": "docker.io/library/app", "HMAC": ""},
        ],
        "v2meta_b": [{"Digest": "@layer_b", "SourceRepository": "docker.io/library/app"}],
        "descriptor_w": {
            "mediaType": FOREIGN_LAYER,
            "digest": "@foreign",
            "size": "#foreign",
            "urls": FOREIGN_URLS,
        },
    }


def _write_file(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def make_outside() -> dict[str, Path]:
    """Canary files and whole stores outside the tree, every one holding the secret; no path
    named here holds it (the secret is only in contents and in names inside these folders)."""
    config = json.dumps(
        _config("linux", "amd64", [SECRET_DIGEST], f"echo {SECRET}")
        | {"author": SECRET, "config": {"Env": [f"S={SECRET}"], "Labels": {SECRET: SECRET}}}
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [{"mediaType": OCI_LAYER, "digest": SECRET_DIGEST, "size": 1}],
            "annotations": {SECRET: SECRET},
        }
    ).encode()
    blobs = {sha256_digest(config): config, sha256_digest(manifest): manifest}
    link = sha256_digest(manifest)
    names = {
        "secret": OUTSIDE / "secret.txt",
        "link": OUTSIDE / "link",
        "config": OUTSIDE / "config.json",
        "manifest": OUTSIDE / "manifest.json",
        "blobs": OUTSIDE / "blobs",
        "repo": OUTSIDE / "repo",
        "tags": OUTSIDE / "tags",
        "v2": OUTSIDE / "v2",
        "registry": OUTSIDE / "registry",
        "driver": OUTSIDE / "driver",
        "image": OUTSIDE / "image",
        "content": OUTSIDE / "driver" / "imagedb" / "content" / "sha256",
        "layer": OUTSIDE / "layer",
        "v2meta": OUTSIDE / "v2meta.json",
        "repositories": OUTSIDE / "driver" / "repositories.json",
    }
    shutil.rmtree(OUTSIDE, ignore_errors=True)  # a previous run's, with another secret
    _write_file(names["secret"], SECRET + "\n")
    _write_file(names["link"], SECRET_DIGEST)
    _write_file(names["config"], config)
    _write_file(names["manifest"], manifest)
    for top in ("blobs", "v2/blobs", "registry/v2/blobs"):
        for digest, data in blobs.items():
            hexpart = digest[7:]
            _write_file(OUTSIDE / top / "sha256" / hexpart[:2] / hexpart / "data", data)
    for top in ("repo", f"v2/repositories/{SECRET}", f"registry/v2/repositories/{SECRET}"):
        manifests = OUTSIDE / top / "_manifests"
        _write_file(manifests / "tags" / SECRET / "current" / "link", link)
        _write_file(manifests / "revisions" / "sha256" / link[7:] / "link", link)
        _write_file(OUTSIDE / top / SECRET / "_manifests" / "tags" / "t" / "current" / "link", link)
    _write_file(names["tags"] / SECRET / "current" / "link", link)
    repositories = {"Repositories": {SECRET: {f"{SECRET}:latest": sha256_digest(config)}}}
    for driver in (names["driver"], names["image"] / "overlay2"):
        _write_file(driver / "repositories.json", json.dumps(repositories))
        _write_file(driver / "imagedb" / "content" / "sha256" / sha256_digest(config)[7:], config)
        _write_file(driver / "imagedb" / "content" / "sha256" / SECRET_DIGEST[7:], config)
        _write_file(driver / "layerdb" / "sha256" / SECRET_DIGEST[7:] / "diff", SECRET_DIGEST)
    _write_file(names["layer"] / "diff", SECRET_DIGEST)
    _write_file(names["layer"] / "size", "4242")
    _write_file(names["layer"] / "cache-id", SECRET)
    _write_file(
        names["layer"] / "descriptor.json",
        json.dumps(
            {"mediaType": FOREIGN_LAYER, "digest": SECRET_DIGEST, "size": 1, "urls": [SECRET]}
        ),
    )
    _write_file(
        names["v2meta"], json.dumps([{"Digest": SECRET_DIGEST, "SourceRepository": SECRET}])
    )
    return names


class StoreDecoder:
    """Fuzz bytes → a store's folder tree (a dict of relative path → entry), written to STORE.

    The input is read by a FuzzedDataProvider, in this order: the spec's form (transport
    prefix, bare path, a sub-folder, a selector), the base variant, a few structural JSON
    mutations of the store's documents, then up to MAX_OPS file-system edits. Every choice
    reads 0 when the input is exhausted, and 0 always means "as the base store", so the empty
    input is a valid store and short inputs are small edits of it.
    """

    transport = ""
    subfolders: tuple[str, ...] = ()
    vocabulary: tuple[str, ...] = ()

    def __init__(self, data: bytes):
        self.fdp = atheris.FuzzedDataProvider(data)
        self.docs = _documents()
        self.outside = OUTSIDE_PATHS
        self.names = set(self.docs) | set(LAYERS)
        self.styles: dict[str, int] = {}
        self.deep: dict[str, int] = {}
        self._bytes: dict[str, bytes] = {}
        self._busy: set[str] = set()

    def pick(self, values: Any) -> Any:
        return self.fdp.PickValueInList(list(values))

    # --- documents ---------------------------------------------------------------------------

    def blob(self, name: str) -> bytes:
        """A document's bytes, its placeholders filled (a cycle a mutation made: a fixed text)."""
        if name in LAYERS:
            return LAYER_BLOBS[name]
        if name in self._bytes:
            return self._bytes[name]
        if name in self._busy:
            return b"cycle"
        self._busy.add(name)
        value = self._fill(self.docs[name])
        style = self.styles.get(name, 0)
        text = json.dumps(
            value,
            indent=3 if style == 1 else None,
            ensure_ascii=style != 2,
            separators=(",", ":") if style == 3 else None,
        )
        for marker, depth in self.deep.items():  # nesting json.dumps would refuse to write
            text = text.replace(json.dumps(marker), "[" * depth + "]" * depth)
        data = text.encode("utf-8", "surrogatepass")
        if style == 4:
            data = b"\xef\xbb\xbf" + data + b"\n\x00"
        self._busy.discard(name)
        self._bytes[name] = data
        return data

    def digest(self, name: str) -> str:
        return sha256_digest(self.blob(name))

    def diff_id(self, name: str) -> str:
        return sha256_digest(LAYERS[name]) if name in LAYERS else self.digest(name)

    def _fill(self, value: Any) -> Any:
        if isinstance(value, str) and value[:1] in "@#%" and value[1:] in self.names:
            name = value[1:]
            if value[0] == "@":
                return self.digest(name)
            if value[0] == "%":
                return self.diff_id(name)
            return len(self.blob(name))
        if isinstance(value, dict):
            return {key: self._fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._fill(item) for item in value]
        return value

    def digest_pool(self) -> list[str]:
        return [f"@{name}" for name in sorted(self.names)] + [f"%{name}" for name in LAYERS]

    def fuzz_value(self, depth: int = 0) -> Any:
        fdp = self.fdp
        choice = fdp.ConsumeIntInRange(0, 12)
        if choice == 0:
            return None
        if choice == 1:
            return fdp.ConsumeBool()
        if choice == 2:
            return fdp.ConsumeInt(8)
        if choice == 3:
            return (-1) ** fdp.ConsumeIntInRange(0, 1) * 10 ** fdp.ConsumeIntInRange(0, 400)
        if choice == 4:
            return fdp.ConsumeRegularFloat() if fdp.ConsumeBool() else fdp.ConsumeFloat()
        if choice == 5:
            return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40))
        if choice == 6:
            return self.pick(self.digest_pool())
        if choice == 7:
            return self.pick(WORDS)
        if choice == 8 and depth < 4:
            return [self.fuzz_value(depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))]
        if choice == 9 and depth < 4:
            count = fdp.ConsumeIntInRange(0, 4)
            return {self.pick(KEYS): self.fuzz_value(depth + 1) for _ in range(count)}
        if choice == 10:
            marker = f"\x00deep{len(self.deep)}\x00"
            self.deep[marker] = fdp.ConsumeIntInRange(1, 100_000)
            return marker
        if choice == 11:
            return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 20))  # surrogates too
        return "#" + self.pick(sorted(self.names))  # some document's size

    def mutate(self, value: Any, depth: int = 0) -> Any:
        fdp = self.fdp
        action = fdp.ConsumeIntInRange(0, 5)
        container = isinstance(value, dict | list) and bool(value)
        if action in (0, 1) and container and depth < 8:  # go down to one member
            if isinstance(value, dict):
                key = self.pick(list(value))
                value[key] = self.mutate(value[key], depth + 1)
            else:
                at = fdp.ConsumeIntInRange(0, len(value) - 1)
                value[at] = self.mutate(value[at], depth + 1)
            return value
        if action == 2 and container:  # drop a member
            if isinstance(value, dict):
                del value[self.pick(list(value))]
            else:
                del value[fdp.ConsumeIntInRange(0, len(value) - 1)]
            return value
        if action == 3 and isinstance(value, dict):  # add (or replace) a member
            key = self.pick(KEYS) if fdp.ConsumeBool() else fdp.ConsumeUnicode(8)
            value[key] = self.fuzz_value()
            return value
        if action == 4 and container and isinstance(value, list):  # repeat a member
            item = value[fdp.ConsumeIntInRange(0, len(value) - 1)]
            value.extend(json.loads(json.dumps(item)) for _ in range(fdp.ConsumeIntInRange(1, 8)))
            return value
        return self.fuzz_value()

    # --- the tree ----------------------------------------------------------------------------

    def decode(self) -> tuple[str, dict[str, Any], dict[str, int]]:
        fdp = self.fdp
        form = fdp.ConsumeIntInRange(0, 7)
        choice = fdp.ConsumeIntInRange(0, 15)  # the selector or sub-folder
        text = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 24)) if form == 7 else ""
        self.variant = fdp.ConsumeIntInRange(0, 3)
        for _ in range(fdp.ConsumeIntInRange(0, 4)):
            name = self.pick(sorted(self.docs))
            self.docs[name] = self.mutate(self.docs[name])
            self.styles[name] = fdp.ConsumeIntInRange(0, 4)
        tree: dict[str, Any] = {}
        mtimes: dict[str, int] = {}
        self.build(tree, mtimes)
        for _ in range(MAX_OPS):
            if fdp.remaining_bytes() == 0:
                break
            self.edit(tree, mtimes)
        return self.spec(form, choice, text, tree), tree, mtimes

    def spec(self, form: int, choice: int, text: str, tree: dict[str, Any]) -> str:
        if form == 4:
            return str(STORE)  # detected
        root = str(STORE)
        sub = self.subfolders[choice % len(self.subfolders)]
        if form == 5 and _inside(tree, f"{sub}/x"):  # a path the user names is followed
            root = str(STORE / sub)
        spec = f"{self.transport}:{root}"
        if form == 6:
            selectors = self.selectors()
            return f"{spec}:{selectors[choice % len(selectors)]}"
        if form == 7:
            return f"{spec}:{text}"
        return spec

    def pick_path(self, tree: dict[str, Any]) -> str:
        folders = {str(Path(p).parent) for p in tree} - {"."}
        paths = sorted(tree) + sorted(folders)
        return self.pick(paths) if paths else "x"

    def edit(self, tree: dict[str, Any], mtimes: dict[str, int]) -> None:
        fdp = self.fdp
        op = fdp.ConsumeIntInRange(0, 13)
        path = self.pick_path(tree)
        if op == 0:
            _remove(tree, path)
        elif op == 1:
            _remove(tree, path)
            tree[path] = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 512))
        elif op == 2:
            _remove(tree, path)
            tree[path] = b""
        elif op == 3:  # a folder where a file is expected (maybe holding the file)
            old = tree.get(path)
            _remove(tree, path)
            tree[path] = DIR
            if isinstance(old, bytes) and fdp.ConsumeBool():
                tree[f"{path}/{self.pick(['data', 'link', path.rpartition('/')[2]])}"] = old
        elif op in (4, 5):
            target = self.link_target(tree, path)
            _remove(tree, path)
            tree[path] = ("link", target)
        elif op == 6:
            _remove(tree, path)
            tree[path] = FIFO
        elif op == 7:  # a new entry at a path made of store names and fuzzed names
            parts = [self.component() for _ in range(fdp.ConsumeIntInRange(1, 12))]
            base = path if fdp.ConsumeBool() else ""
            new = "/".join([base, *parts]).strip("/")
            tree[new] = self.content(tree)
        elif op == 8:  # deep nesting
            depth = fdp.ConsumeIntInRange(1, 90)
            name = self.pick(["a", "_x", "library", "sha256"])
            tail = self.pick(self.deep_tails())
            tree[f"{self.deep_base()}/{'/'.join([name] * depth)}/{tail}"] = self.content(tree)
        elif op == 9:
            mtimes[path] = self.pick(MTIMES) if fdp.ConsumeBool() else fdp.ConsumeInt(8)
        elif op == 10:  # the same content somewhere else
            other = self.pick_path(tree)
            if isinstance(tree.get(path), bytes | tuple):
                tree[other] = tree[path]
        elif op == 11:  # many siblings
            folder = str(Path(path).parent)
            for n in range(fdp.ConsumeIntInRange(1, 40)):
                tree[f"{folder}/{self.pick(self.vocabulary)}{n}"] = self.content(tree)
        else:
            self.attack(tree, fdp.ConsumeIntInRange(0, 7))

    def link_target(self, tree: dict[str, Any], path: str) -> str:
        fdp = self.fdp
        here = STORE / path
        kind = fdp.ConsumeIntInRange(0, 7)
        if kind == 0:  # inside, relative
            return os.path.relpath(STORE / self.pick_path(tree), here.parent)
        if kind == 1:  # inside, but absolute
            return str(STORE / self.pick_path(tree))
        if kind in (2, 3):  # out of the tree, to a canary
            outside = self.pick(sorted(self.outside))
            target = self.outside[outside]
            return str(target) if kind == 3 else os.path.relpath(target, here.parent)
        if kind == 4:
            return self.pick(["/dev/zero", "/dev/null", "/", "/proc/self/fd/0"])
        if kind == 5:
            return self.pick(["nowhere", "../nowhere", ".", "..", "../" * 30])
        if kind == 6:
            return here.name  # itself
        return "../" * path.count("/") + path  # itself, the long way round

    def component(self) -> str:
        fdp = self.fdp
        if fdp.ConsumeBool():
            return self.pick(self.vocabulary)
        raw = (
            fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 40)).replace(b"/", b"_").replace(b"\0", b"_")
        )
        name = os.fsdecode(raw or b"_")
        return "_" if name in (".", "..") else name

    def content(self, tree: dict[str, Any]) -> Any:
        fdp = self.fdp
        choice = fdp.ConsumeIntInRange(0, 3)
        if choice == 0:
            return self.digest(self.pick(sorted(self.names))).encode()
        if choice == 1:
            return self.blob(self.pick(sorted(self.docs)))
        if choice == 2:
            return DIR
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 128))

    # --- per store ---------------------------------------------------------------------------

    def build(self, tree: dict[str, Any], mtimes: dict[str, int]) -> None:
        raise NotImplementedError

    def selectors(self) -> list[str]:
        raise NotImplementedError

    def attack(self, tree: dict[str, Any], which: int) -> None:
        raise NotImplementedError

    def deep_base(self) -> str:
        raise NotImplementedError

    def deep_tails(self) -> list[str]:
        raise NotImplementedError


def _remove(tree: dict[str, Any], path: str) -> None:
    tree.pop(path, None)
    for other in [p for p in tree if p.startswith(path + "/")]:
        del tree[other]


V2 = "docker/registry/v2"


class RegistryDecoder(StoreDecoder):
    transport = "registry-dir"
    subfolders = (V2, "docker/registry", "docker")
    vocabulary = (
        "repositories", "_manifests", "tags", "current", "index", "link", "revisions", "sha256",
        "blobs", "data", "_layers", "_uploads", "library", "app", "latest", "docker", "registry",
        "v2", "sha512", "ab", ".hidden", "a:b", "-", "\x1b[2J", "ünï",
    )  # fmt: skip

    def build(self, tree: dict[str, Any], mtimes: dict[str, int]) -> None:
        v2 = "docker/registry/v2" if self.variant != 3 else "registry/v2"
        self.v2 = v2
        tags = {
            "library/app": {"latest": "index", "1.0": "manifest_a"},
            "team/sub/tool": {"v2": "manifest_w"},
        }
        if self.variant == 1:  # one image only
            tags = {"library/app": {"latest": "manifest_a"}}
        if self.variant == 2:  # `a` and `a/b` both repositories, a tag named like a digest
            tags["library"] = {"sha256": "manifest_u"}
            tags["library/app"]["x" * 128] = "manifest_w"
        untagged = {"library/app": ["manifest_u"]} if self.variant != 1 else {}
        stored = set()
        for name, tagged in tags.items():
            manifests = f"{v2}/repositories/{name}/_manifests"
            revisions = list(tagged.values()) + untagged.get(name, [])
            if "index" in revisions:
                revisions += ["manifest_a", "manifest_w"]
            for tag, doc in tagged.items():
                digest = self.digest(doc)
                tree[f"{manifests}/tags/{tag}/current/link"] = digest.encode()
                tree[f"{manifests}/tags/{tag}/index/sha256/{digest[7:]}/link"] = digest.encode()
            for doc in revisions:
                digest = self.digest(doc)
                tree[f"{manifests}/revisions/sha256/{digest[7:]}/link"] = digest.encode()
                stored.add(doc)
            for layer in ("layer_a", "layer_b"):
                digest = self.digest(layer)
                tree[f"{v2}/repositories/{name}/_layers/sha256/{digest[7:]}/link"] = digest.encode()
            tree[f"{v2}/repositories/{name}/_uploads"] = DIR
        configs = {"manifest_a": "config_a", "manifest_w": "config_w", "manifest_u": "config_d"}
        stored |= {configs[doc] for doc in stored if doc in configs}
        stored |= {"layer_a", "layer_b"}
        for number, doc in enumerate(sorted(stored)):
            path = self.blob_path(self.digest(doc))
            tree[path] = self.blob(doc)
            mtimes[path] = T0 + number

    def blob_path(self, digest: str) -> str:
        hexpart = digest.partition(":")[2]
        return f"{self.v2}/blobs/sha256/{hexpart[:2]}/{hexpart}/data"

    def selectors(self) -> list[str]:
        index, manifest = self.digest("index"), self.digest("manifest_a")
        return [
            "library/app:latest", "library/app", "latest", "1.0", "team/sub/tool:v2",
            f"library/app@{index}", f"library/app@{self.digest('manifest_u')}", manifest[:19],
            manifest, "app:latest", "nothing:here", f"team/sub/tool@{manifest}", "v2",
            "library/app@sha256:", "library", "docker.io/library/app:latest",
        ]  # fmt: skip

    def deep_base(self) -> str:
        return f"{self.v2}/repositories"

    def deep_tails(self) -> list[str]:
        digest = self.digest("manifest_a")
        return [
            "_manifests/tags/t/current/link",
            f"_manifests/revisions/sha256/{digest[7:]}/link",
            "_manifests",
            "x",
        ]

    def attack(self, tree: dict[str, Any], which: int) -> None:
        v2, outside = self.v2, self.outside
        canary_config = sha256_digest(outside["config"].read_bytes())
        canary_manifest = sha256_digest(outside["manifest"].read_bytes())
        manifests = f"{v2}/repositories/library/app/_manifests"
        if which == 0:  # the whole blob store out of the tree; a tag naming its manifest
            _remove(tree, f"{v2}/blobs")
            tree[f"{v2}/blobs"] = ("link", str(outside["blobs"]))
            tree[f"{manifests}/tags/evil/current/link"] = canary_manifest.encode()
        elif which == 1:  # a repository out of the tree
            tree[f"{v2}/repositories/evil"] = ("link", str(outside["repo"]))
        elif which == 2:  # a manifest here, its config's blob a symlink to a canary
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": {
                        "mediaType": OCI_CONFIG,
                        "digest": canary_config,
                        "size": outside["config"].stat().st_size,
                    },
                    "layers": [],
                }
            ).encode()
            tree[self.blob_path(sha256_digest(manifest))] = manifest
            tree[self.blob_path(canary_config)] = ("link", str(outside["config"]))
            tree[f"{manifests}/tags/evil/current/link"] = sha256_digest(manifest).encode()
            tree[f"{manifests}/revisions/sha256/{sha256_digest(manifest)[7:]}/link"] = (
                sha256_digest(manifest).encode()
            )
        elif which == 3:  # the v2 folder itself (or its parent) out of the tree
            whole = self.fdp.ConsumeBool()
            link = v2 if whole else v2.rpartition("/")[0]
            _remove(tree, link)
            tree[link] = ("link", str(outside["v2"] if whole else outside["registry"]))
        elif which == 4:  # a tag's link file out of the tree (it holds an unguessable digest)
            tree[f"{manifests}/tags/latest/current/link"] = ("link", str(outside["link"]))
        elif which == 5:  # a tags folder out of the tree
            _remove(tree, f"{manifests}/tags")
            tree[f"{manifests}/tags"] = (
                "link",
                os.path.relpath(outside["tags"], STORE / manifests),
            )
        elif which == 6:  # a revision's blob out of the tree, the right digest
            tree[f"{manifests}/revisions/sha256/{canary_manifest[7:]}/link"] = (
                canary_manifest.encode()
            )
            tree[self.blob_path(canary_manifest)] = ("link", str(outside["manifest"]))
        else:  # a present layer blob out of the tree (Last Modified, verify's hashing)
            path = self.blob_path(self.digest("layer_a"))
            tree[path] = ("link", str(outside["secret"]))


class DockerRootDecoder(StoreDecoder):
    transport = "docker-root"
    subfolders = ("image", "image/overlay2")
    vocabulary = (
        "image", "overlay2", "vfs", "windowsfilter", "imagedb", "content", "metadata", "sha256",
        "layerdb", "distribution", "v2metadata-by-diffid", "diffid-by-digest", "repositories.json",
        "parent", "diff", "size", "cache-id", "descriptor.json", "lastUpdated", "tar-split.json.gz",
        "mounts", "tmp", ".hidden", "\x1b[2J", "ünï",
    )  # fmt: skip

    def build(self, tree: dict[str, Any], mtimes: dict[str, int]) -> None:
        configs = ["config_a", "config_p", "config_d", "config_w"]
        drivers = {"overlay2": configs}
        if self.variant == 1:  # a second driver left beside the first
            drivers["vfs"] = ["config_d", "config_a"]
        if self.variant == 2:  # the tagged images only: no parent, none dangling
            drivers = {"overlay2": ["config_a", "config_w"]}
        top = "image" if self.variant != 3 else ""  # variant 3: the driver's folder is the root
        if self.variant == 3:
            drivers = {"": configs}
        self.driver = f"{top}/overlay2".strip("/") if top else ""
        for driver, images in drivers.items():
            base = "/".join(p for p in (top, driver) if p)
            prefix = f"{base}/" if base else ""
            repositories = self.blob("repositories") if driver != "vfs" else b'{"Repositories":{}}'
            tree[f"{prefix}repositories.json"] = repositories
            for doc in images:
                image_id = self.digest(doc)
                tree[f"{prefix}imagedb/content/sha256/{image_id[7:]}"] = self.blob(doc)
                meta = f"{prefix}imagedb/metadata/sha256/{image_id[7:]}"
                tree[f"{meta}/lastUpdated"] = b"2021-03-04T05:06:07.123456789Z"
                if doc == "config_a" and "config_p" in images:
                    tree[f"{meta}/parent"] = self.digest("config_p").encode()
                self.layerdb(tree, prefix, doc)
            for layer, doc in (("layer_a", "v2meta_a"), ("layer_b", "v2meta_b")):
                diff_id, digest = self.diff_id(layer), self.digest(layer)
                tree[f"{prefix}distribution/v2metadata-by-diffid/sha256/{diff_id[7:]}"] = self.blob(
                    doc
                )
                tree[f"{prefix}distribution/diffid-by-digest/sha256/{digest[7:]}"] = (
                    diff_id.encode()
                )
        self.prefix = f"{self.driver}/" if self.driver else ""

    def layerdb(self, tree: dict[str, Any], prefix: str, doc: str) -> None:
        """layerdb entries for the chain of the config's diff_ids (as mutated)."""
        try:
            diff_ids = json.loads(self.blob(doc))["rootfs"]["diff_ids"]
            diff_ids = [d for d in diff_ids if isinstance(d, str) and len(d) == 71]
        except (ValueError, KeyError, TypeError, RecursionError):
            return
        by_diff = {self.diff_id(layer): layer for layer in LAYERS}
        parent = None
        for diff_id, chain in zip(diff_ids, chain_ids(diff_ids), strict=True):
            folder = f"{prefix}layerdb/sha256/{chain[7:]}"
            layer = by_diff.get(diff_id)
            tree[f"{folder}/diff"] = diff_id.encode()
            tree[f"{folder}/size"] = str(len(LAYERS[layer]) if layer else 1).encode()
            tree[f"{folder}/cache-id"] = hashlib.sha256(chain.encode()).hexdigest().encode()
            tree[f"{folder}/tar-split.json.gz"] = _gzip(b"{}")
            if parent:
                tree[f"{folder}/parent"] = parent.encode()
            if layer == "foreign":
                tree[f"{folder}/descriptor.json"] = self.blob("descriptor_w")
            parent = chain

    def selectors(self) -> list[str]:
        image_id = self.digest("config_a")
        return [
            "app:latest", "app", "1.0", "mcr.microsoft.com/windows/tool:ltsc2019", image_id,
            image_id[7:19], self.digest("config_p"), self.digest("config_d")[7:],
            "app@" + sha256_digest(b"app manifest"), "overlay2:app:latest", "vfs:app:1.0", "latest",
            "docker.io/library/app:latest", "nothing:here", "sha256:", "overlay2:",
        ]  # fmt: skip

    def deep_base(self) -> str:
        return f"{self.prefix}layerdb/sha256"

    def deep_tails(self) -> list[str]:
        return ["diff", "size", "descriptor.json", "x"]

    def attack(self, tree: dict[str, Any], which: int) -> None:
        prefix, outside = self.prefix, self.outside
        canary_config = sha256_digest(outside["config"].read_bytes())
        if which == 0 and self.driver:  # the whole driver out of the tree
            _remove(tree, self.driver)
            tree[self.driver] = ("link", str(outside["driver"]))
        elif which == 1:  # repositories.json out of the tree
            tree[f"{prefix}repositories.json"] = ("link", str(outside["repositories"]))
        elif which == 2:  # a tag here naming an image whose config is a symlink to a canary
            document = {"Repositories": {"evil": {"evil:latest": canary_config}}}
            tree[f"{prefix}repositories.json"] = json.dumps(document).encode()
            target = os.path.relpath(outside["config"], STORE / prefix / "imagedb/content/sha256")
            tree[f"{prefix}imagedb/content/sha256/{canary_config[7:]}"] = ("link", target)
        elif which == 3:  # the imagedb content folder out of the tree
            _remove(tree, f"{prefix}imagedb/content/sha256")
            tree[f"{prefix}imagedb/content/sha256"] = ("link", str(outside["content"]))
        elif which == 4:  # a layer's layerdb folder out of the tree
            chain = self.diff_id("layer_a")[7:]
            _remove(tree, f"{prefix}layerdb/sha256/{chain}")
            tree[f"{prefix}layerdb/sha256/{chain}"] = ("link", str(outside["layer"]))
        elif which == 5:  # a layer's pull records out of the tree
            path = f"{prefix}distribution/v2metadata-by-diffid/sha256/{self.diff_id('layer_a')[7:]}"
            tree[path] = ("link", str(outside["v2meta"]))
        elif which == 6:  # the image folder out of the tree
            _remove(tree, "image")
            tree["image"] = ("link", str(outside["image"]))
        else:  # a parent record, the layers' records out of the tree
            meta = f"{prefix}imagedb/metadata/sha256/{self.digest('config_a')[7:]}/parent"
            tree[meta] = ("link", str(outside["link"]))
            for name in ("diff", "size", "descriptor.json"):
                tree[f"{prefix}layerdb/sha256/{self.diff_id('layer_b')[7:]}/{name}"] = (
                    "link",
                    str(outside["layer"] / name),
                )


def _inside(tree: dict[str, Any], relative: str) -> bool:
    """Whether writing at `relative` stays in STORE: no folder on its way is a symlink (one the
    tree made may point at `/`: the harness may run as root and must never write there). Every
    symlink is an entry of the tree, and every other folder is made by `write_tree`."""
    parts = relative.split("/")
    return all(tree.get("/".join(parts[:end]), DIR) == DIR for end in range(1, len(parts)))


def write_tree(tree: dict[str, Any], mtimes: dict[str, int]) -> None:
    shutil.rmtree(STORE, ignore_errors=True)
    STORE.mkdir()
    made = {STORE}
    for relative in sorted(tree):
        entry, path = tree[relative], STORE / relative
        if not _inside(tree, relative):
            continue
        try:
            if entry == DIR:
                path.mkdir(parents=True, exist_ok=True)
                made.add(path)
                continue
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            if isinstance(entry, tuple):
                os.symlink(entry[1], path)
            elif entry == FIFO:
                os.mkfifo(path)
            else:
                path.write_bytes(entry)
        except (OSError, ValueError):
            continue  # a path an earlier entry made impossible (a file where a folder goes)
    for relative, stamp in mtimes.items():
        if not _inside(tree, relative):
            continue
        try:
            os.utime(STORE / relative, (stamp, stamp), follow_symlinks=False)
        except (OSError, OverflowError, ValueError):
            continue


# The canary stores outside the tree: made once per process by `make_outside` (fuzz.py's main).
OUTSIDE_PATHS: dict[str, Path] = {}
