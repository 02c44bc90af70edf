"""Stores on disk that try to make reconstruct read outside them (issue 13).

`build(folder)` writes, below `folder`, a canary folder (`outside/`: a secret file, and valid
copies of every blob, so that following a link out would *work*, silently) and one store per
attack, each planting symlinks, FIFOs, sockets or device nodes where a store keeps files.
It returns {case name: Attack}. Device nodes need root; without it those cases are left out
(the caller says so). `python -m tests.support.attacks DIR` writes them to look at.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from reconstruct.blob.digests import sha256_digest as digest

SECRET = "CANARY-7f3a9c-root:$6$never-shown$:19000:0:99999:7:::"

CONFIG = {
    "architecture": "amd64",
    "os": "linux",
    "created": "2021-06-01T00:00:00Z",
    "config": {"Cmd": ["sh"]},
    "rootfs": {"type": "layers", "diff_ids": []},
    "history": [
        {"created": "2021-06-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
        {
            "created": "2021-06-01T00:00:01Z",
            "created_by": '/bin/sh -c #(nop)  CMD ["sh"]',
            "empty_layer": True,
        },
    ],
}


@dataclass
class Attack:
    spec: str  # what to pass to reconstruct
    verify_fails: bool = True  # verify must exit 1 or 2; False: it must pass (exit 0)
    show_ok: bool = False  # show works (exit 0): the attack is on a part show does not need;
    # False: show refuses with one line (exit 2)
    commands: tuple[str, ...] = ("show", "ls", "verify", "audit", "files")
    notes: list[str] = field(default_factory=list)


def _image() -> dict[str, bytes]:
    """A tiny image: {name: bytes} for layer, config, manifest, index."""
    layer = b"layer bytes, not a real tar: only hashed"
    config = dict(CONFIG, rootfs={"type": "layers", "diff_ids": [digest(layer)]})
    config_bytes = json.dumps(config).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest(config_bytes),
            "size": len(config_bytes),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": digest(layer),
                "size": len(layer),
            }
        ],
    }
    manifest_bytes = json.dumps(manifest).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": manifest["mediaType"],
                "digest": digest(manifest_bytes),
                "size": len(manifest_bytes),
                "annotations": {"org.opencontainers.image.ref.name": "1"},
            }
        ],
    }
    return {
        "layer": layer,
        "config": config_bytes,
        "manifest": manifest_bytes,
        "index": json.dumps(index).encode(),
    }


IMAGE = _image()


def _b64(key: str) -> str:
    import base64

    return base64.b64encode(key.encode()).decode()


def _hex(name: str) -> str:
    return digest(IMAGE[name]).split(":")[1]


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _link(path: Path, target: Path | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        if path.is_dir() and not path.is_symlink():
            import shutil

            shutil.rmtree(path)
        else:
            path.unlink()
    path.symlink_to(target)


def _special(path: Path, kind: str) -> None:
    """Replace `path` with a FIFO, a unix socket, or a character device (/dev/zero's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        here = os.getcwd()
        os.chdir(path.parent)  # a socket's path is limited to 108 bytes: bind it by name
        try:
            with socket.socket(socket.AF_UNIX) as server:
                server.bind(path.name)
        finally:
            os.chdir(here)
    else:
        os.mknod(path, 0o600 | 0o020000, os.makedev(1, 5))  # what /dev/zero is


def deep_folders(top: Path, depth: int) -> Path:
    """`top/d/d/…` `depth` deep (os.makedirs recurses, and would hit Python's own limit)."""
    path = top
    for _ in range(depth):
        path = path / "d"
        path.mkdir(exist_ok=True)
    return path


def _layout(folder: Path) -> Path:
    _write(folder / "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
    _write(folder / "index.json", IMAGE["index"])
    for name in ("layer", "config", "manifest"):
        _write(folder / "blobs" / "sha256" / _hex(name), IMAGE[name])
    return folder


def _registry(folder: Path) -> Path:
    v2 = folder / "docker" / "registry" / "v2"
    for name in ("layer", "config", "manifest"):
        hexpart = _hex(name)
        _write(v2 / "blobs" / "sha256" / hexpart[:2] / hexpart / "data", IMAGE[name])
    manifests = v2 / "repositories" / "evil" / "_manifests"
    link = digest(IMAGE["manifest"]).encode()
    _write(manifests / "tags" / "1" / "current" / "link", link)
    _write(manifests / "revisions" / "sha256" / _hex("manifest") / "link", link)
    for name in ("layer", "config"):
        _write(
            v2 / "repositories" / "evil" / "_layers" / "sha256" / _hex(name) / "link",
            digest(IMAGE[name]).encode(),
        )
    return folder


def _data_root(folder: Path) -> Path:
    driver = folder / "image" / "overlay2"
    image_id = digest(IMAGE["config"])
    _write(
        driver / "repositories.json",
        json.dumps({"Repositories": {"evil": {"evil:1": image_id}}}).encode(),
    )
    _write(driver / "imagedb" / "content" / "sha256" / _hex("config"), IMAGE["config"])
    diff_id = digest(IMAGE["layer"])
    layer_dir = driver / "layerdb" / "sha256" / diff_id.split(":")[1]  # one layer: chain = diff
    _write(layer_dir / "diff", diff_id.encode())
    _write(layer_dir / "size", str(len(IMAGE["layer"])).encode())
    # unpacked as dockerd keeps it: overlay2/<cache-id>/diff, a tar-split beside the record
    from tests.support.cswrite import tar_split

    layer = IMAGE["layer"]
    _write(layer_dir / "cache-id", CACHE_ID.encode())
    _write(
        layer_dir / "tar-split.json.gz",
        tar_split([("segment", layer[:10]), ("file", ("./data", 20)), ("segment", layer[30:])]),
    )
    _write(folder / "overlay2" / CACHE_ID / "diff" / "data", layer[10:30])
    return folder


CACHE_ID = "c" * 64


def _containerd_root(folder: Path, size: int | bytes | None = None) -> Path:
    """containerd's own root: meta.db naming `docker.io/library/evil:1` in namespace k8s.io
    (its target's size as given, else the manifest's), and the content store."""
    from tests.support.boltwrite import containerd_meta

    size = len(IMAGE["manifest"]) if size is None else size
    target = (digest(IMAGE["manifest"]), "application/vnd.oci.image.manifest.v1+json", size)
    meta = containerd_meta({"k8s.io": {"docker.io/library/evil:1": target}})
    _write(folder / "io.containerd.metadata.v1.bolt" / "meta.db", meta)
    for name in ("layer", "config", "manifest"):
        _write(folder / CONTENT / _hex(name), IMAGE[name])
    return folder


CONTENT = "io.containerd.content.v1.content/blobs/sha256"


def _graph_root(folder: Path) -> Path:
    """containers-storage (vfs): the image's records, big data, tar-split and unpacked file."""
    from tests.support.cswrite import graph_root

    return graph_root(folder)


def _blob_folder(folder: Path) -> Path:
    for name in ("layer", "config", "manifest", "index"):
        _write(folder / f"sha256:{_hex(name)}", IMAGE[name])
    return folder


def _repo_info(folder: Path) -> Path:
    document = Path(__file__).resolve().parents[2] / "samples"
    text = next(document.rglob("*.md"), None)
    body = text.read_bytes() if text else b"## `evil:1`\n"
    _write(folder / "repos" / "evil" / "remote" / "1.md", body)
    return folder


def build(folder: Path) -> dict[str, Attack]:
    """Write the canary and every attack below `folder`; {case: Attack}."""
    outside = folder / "outside"
    secret = _write(outside / "secret", SECRET.encode())
    copies = _layout(outside / "layout")  # valid blobs: a link out would be followed silently
    _registry(outside / "registry")
    _data_root(outside / "root")
    _containerd_root(outside / "containerd")
    _graph_root(outside / "cs")
    _write(outside / "Dockerfile", f"FROM scratch\nRUN echo {SECRET}\n".encode())
    _repo_info(outside / "repoinfo")
    root = os.geteuid() == 0
    cases: dict[str, Attack] = {}

    def case(name: str) -> Path:
        return folder / "cases" / name

    # --- OCI layouts
    path = _layout(case("oci-index-is-the-secret"))
    _link(path / "index.json", secret)
    cases["oci-index-is-the-secret"] = Attack(f"oci:{path}", commands=("show", "ls", "verify"))
    path = _layout(case("oci-index-relative-out"))
    _link(path / "index.json", os.path.relpath(secret, path))
    cases["oci-index-relative-out"] = Attack(f"oci:{path}", commands=("show", "ls", "verify"))
    path = _layout(case("oci-blobs-folder-out"))
    _link(path / "blobs", copies / "blobs")
    cases["oci-blobs-folder-out"] = Attack(f"oci:{path}")
    path = _layout(case("oci-sha256-folder-out"))
    _link(path / "blobs" / "sha256", copies / "blobs" / "sha256")
    cases["oci-sha256-folder-out"] = Attack(f"oci:{path}")
    path = _layout(case("oci-config-out"))
    _link(path / "blobs" / "sha256" / _hex("config"), copies / "blobs" / "sha256" / _hex("config"))
    cases["oci-config-out"] = Attack(f"oci:{path}")
    path = _layout(case("oci-layer-out"))
    _link(path / "blobs" / "sha256" / _hex("layer"), copies / "blobs" / "sha256" / _hex("layer"))
    cases["oci-layer-out"] = Attack(f"oci:{path}", show_ok=True)
    path = _layout(case("oci-layer-dotdot"))
    _link(path / "blobs" / "sha256" / _hex("layer"), "../../../../outside/secret")
    cases["oci-layer-dotdot"] = Attack(f"oci:{path}", show_ok=True)
    for kind in ("fifo", "socket", "device"):
        if kind == "device" and not root:
            continue
        path = _layout(case(f"oci-layer-{kind}"))
        _special(path / "blobs" / "sha256" / _hex("layer"), kind)
        cases[f"oci-layer-{kind}"] = Attack(f"oci:{path}", show_ok=True)
        path = _layout(case(f"oci-manifest-{kind}"))
        _special(path / "blobs" / "sha256" / _hex("manifest"), kind)
        cases[f"oci-manifest-{kind}"] = Attack(f"oci:{path}")
    path = _layout(case("oci-index-fifo"))
    _special(path / "index.json", "fifo")
    cases["oci-index-fifo"] = Attack(f"oci:{path}", commands=("show", "ls", "verify"))
    # a link that stays inside is how some stores share blobs: followed, and verified
    path = _layout(case("oci-config-linked-inside"))
    config = path / "blobs" / "sha256" / _hex("config")
    _write(path / "shared" / "config.json", IMAGE["config"])
    _link(config, "../../shared/config.json")
    cases["oci-config-linked-inside"] = Attack(f"oci:{path}", verify_fails=False, show_ok=True)

    # --- registry storage
    path = _registry(case("registry-blobs-out"))
    _link(path / "docker/registry/v2/blobs", outside / "registry/docker/registry/v2/blobs")
    cases["registry-blobs-out"] = Attack(f"registry-dir:{path}")
    path = _registry(case("registry-manifests-out"))
    _link(
        path / "docker/registry/v2/repositories/evil/_manifests",
        outside / "registry/docker/registry/v2/repositories/evil/_manifests",
    )
    cases["registry-manifests-out"] = Attack(f"registry-dir:{path}")
    path = _registry(case("registry-repositories-out"))
    _link(
        path / "docker/registry/v2/repositories",
        outside / "registry/docker/registry/v2/repositories",
    )
    cases["registry-repositories-out"] = Attack(f"registry-dir:{path}")
    link = "docker/registry/v2/repositories/evil/_manifests/tags/1/current/link"
    path = _registry(case("registry-link-fifo"))
    _special(path / link, "fifo")
    cases["registry-link-fifo"] = Attack(f"registry-dir:{path}")
    path = _registry(case("registry-link-dev-zero"))
    _link(path / link, "/dev/zero")
    cases["registry-link-dev-zero"] = Attack(f"registry-dir:{path}")
    if root:
        path = _registry(case("registry-link-device"))
        _special(path / link, "device")
        cases["registry-link-device"] = Attack(f"registry-dir:{path}")
    path = _registry(case("registry-link-secret"))
    _link(path / link, secret)
    cases["registry-link-secret"] = Attack(f"registry-dir:{path}")
    path = _registry(case("registry-nested-deep"))
    deep = path / "docker/registry/v2/repositories"
    (deep_folders(deep, 1500) / "_manifests").mkdir()
    cases["registry-nested-deep"] = Attack(f"registry-dir:{path}")

    # --- Docker data roots
    hexes = {n: _hex(n) for n in ("config", "layer")}
    layer_dir = "image/overlay2/layerdb/sha256/" + hexes["layer"]
    config_file = "image/overlay2/imagedb/content/sha256/" + hexes["config"]
    path = _data_root(case("root-diff-is-the-secret"))
    _link(path / layer_dir / "diff", secret)
    cases["root-diff-is-the-secret"] = Attack(f"docker-root:{path}", show_ok=True)
    path = _data_root(case("root-diff-holds-text"))
    _write(path / layer_dir / "diff", SECRET.encode())  # inside, but no digest: never echoed
    cases["root-diff-holds-text"] = Attack(f"docker-root:{path}", show_ok=True)
    path = _data_root(case("root-config-out"))
    _link(path / config_file, outside / "root" / config_file)
    cases["root-config-out"] = Attack(f"docker-root:{path}")
    path = _data_root(case("root-repositories-fifo"))
    _special(path / "image/overlay2/repositories.json", "fifo")
    cases["root-repositories-fifo"] = Attack(f"docker-root:{path}")
    path = _data_root(case("root-repositories-out"))
    _link(
        path / "image/overlay2/repositories.json", outside / "root/image/overlay2/repositories.json"
    )
    cases["root-repositories-out"] = Attack(f"docker-root:{path}")
    path = _data_root(case("root-size-dev-zero"))
    _link(path / layer_dir / "size", "/dev/zero")
    cases["root-size-dev-zero"] = Attack(f"docker-root:{path}", show_ok=True)
    for kind, text in (("superscript", "\u00b2"), ("text", "many"), ("negative", "-5")):
        path = _data_root(case(f"root-size-{kind}"))  # no number: said, and verify fails
        _write(path / layer_dir / "size", text.encode())
        cases[f"root-size-{kind}"] = Attack(f"docker-root:{path}", show_ok=True)
    path = _data_root(case("root-imagedb-out"))
    _link(path / "image/overlay2/imagedb", outside / "root/image/overlay2/imagedb")
    cases["root-imagedb-out"] = Attack(f"docker-root:{path}")
    path = _data_root(case("root-config-fifo"))
    _special(path / config_file, "fifo")
    cases["root-config-fifo"] = Attack(f"docker-root:{path}")
    # the unpacked layers, which `files` lists and verify rebuilds (a bad cache-id: neither)
    unpacked = f"overlay2/{CACHE_ID}/diff"
    path = _data_root(case("root-layer-folder-out"))
    _link(path / unpacked, outside / "root" / unpacked)
    cases["root-layer-folder-out"] = Attack(f"docker-root:{path}", show_ok=True)
    path = _data_root(case("root-layer-file-is-the-secret"))
    _link(path / unpacked / "data", secret)
    cases["root-layer-file-is-the-secret"] = Attack(f"docker-root:{path}", show_ok=True)
    path = _data_root(case("root-tar-split-is-the-secret"))
    _link(path / layer_dir / "tar-split.json.gz", secret)
    cases["root-tar-split-is-the-secret"] = Attack(f"docker-root:{path}", show_ok=True)
    path = _data_root(case("root-tar-split-fifo"))
    _special(path / layer_dir / "tar-split.json.gz", "fifo")
    cases["root-tar-split-fifo"] = Attack(f"docker-root:{path}", show_ok=True)
    path = _data_root(case("root-cache-id-leads-up"))
    _write(path / layer_dir / "cache-id", b"../../../../outside/root/overlay2")
    cases["root-cache-id-leads-up"] = Attack(
        f"docker-root:{path}", show_ok=True, verify_fails=False
    )
    if root:
        path = _data_root(case("root-config-device"))
        _special(path / config_file, "device")
        cases["root-config-device"] = Attack(f"docker-root:{path}")

    # --- containerd roots
    meta = "io.containerd.metadata.v1.bolt/meta.db"
    path = _containerd_root(case("containerd-meta-is-the-secret"))
    _link(path / meta, secret)
    cases["containerd-meta-is-the-secret"] = Attack(f"containerd:{path}")
    path = _containerd_root(case("containerd-meta-out"))
    _link(path / meta, outside / "containerd" / meta)
    cases["containerd-meta-out"] = Attack(f"containerd:{path}")
    path = _containerd_root(case("containerd-meta-fifo"))
    _special(path / meta, "fifo")
    cases["containerd-meta-fifo"] = Attack(f"containerd:{path}")
    path = _containerd_root(case("containerd-content-out"))
    _link(
        path / "io.containerd.content.v1.content",
        outside / "containerd/io.containerd.content.v1.content",
    )
    cases["containerd-content-out"] = Attack(f"containerd:{path}")
    path = _containerd_root(case("containerd-config-out"))
    _link(path / CONTENT / _hex("config"), outside / "containerd" / CONTENT / _hex("config"))
    cases["containerd-config-out"] = Attack(f"containerd:{path}")
    path = _containerd_root(case("containerd-layer-is-the-secret"))
    _link(path / CONTENT / _hex("layer"), secret)
    cases["containerd-layer-is-the-secret"] = Attack(f"containerd:{path}", show_ok=True)

    for kind, size in (("negative", -5), ("malformed", b"\xff\xff"), ("wrong", 3)):
        path = _containerd_root(case(f"containerd-size-{kind}"), size)  # verify checks it
        cases[f"containerd-size-{kind}"] = Attack(f"containerd:{path}", show_ok=True)

    # --- containers-storage graph roots
    config_item = f"vfs-images/{_hex('config')}/=" + _b64(f"sha256:{_hex('config')}")
    manifest_item = f"vfs-images/{_hex('config')}/manifest"
    unpacked = f"vfs/dir/{_hex('layer')}"
    tar_split = f"vfs-layers/{_hex('layer')}.tar-split.gz"
    path = _graph_root(case("cs-images-is-the-secret"))
    _link(path / "vfs-images" / "images.json", secret)
    cases["cs-images-is-the-secret"] = Attack(f"containers-storage:{path}")
    path = _graph_root(case("cs-images-fifo"))
    _special(path / "vfs-images" / "images.json", "fifo")
    cases["cs-images-fifo"] = Attack(f"containers-storage:{path}")
    path = _graph_root(case("cs-layers-fifo"))
    _special(path / "vfs-layers" / "layers.json", "fifo")
    cases["cs-layers-fifo"] = Attack(f"containers-storage:{path}")
    path = _graph_root(case("cs-config-out"))
    _link(path / config_item, outside / "cs" / config_item)
    cases["cs-config-out"] = Attack(f"containers-storage:{path}")
    path = _graph_root(case("cs-manifest-out"))
    (path / manifest_item).unlink()
    manifest_key = f"manifest-{digest(IMAGE['manifest'])}"
    _link(
        path / f"vfs-images/{_hex('config')}/={_b64(manifest_key)}", outside / "cs" / manifest_item
    )
    cases["cs-manifest-out"] = Attack(f"containers-storage:{path}")
    path = _graph_root(case("cs-images-folder-out"))
    _link(path / "vfs-images" / _hex("config"), outside / "cs" / "vfs-images" / _hex("config"))
    cases["cs-images-folder-out"] = Attack(f"containers-storage:{path}")
    path = _graph_root(case("cs-layer-file-is-the-secret"))
    (path / unpacked / "data").unlink()
    _link(path / unpacked / "data", secret)
    cases["cs-layer-file-is-the-secret"] = Attack(f"containers-storage:{path}", show_ok=True)
    path = _graph_root(case("cs-layer-folder-out"))
    _link(path / unpacked, outside / "cs" / unpacked)
    cases["cs-layer-folder-out"] = Attack(f"containers-storage:{path}", show_ok=True)
    path = _graph_root(case("cs-tar-split-is-the-secret"))
    _link(path / tar_split, secret)
    cases["cs-tar-split-is-the-secret"] = Attack(f"containers-storage:{path}", show_ok=True)
    path = _graph_root(case("cs-tar-split-fifo"))
    _special(path / tar_split, "fifo")
    cases["cs-tar-split-fifo"] = Attack(f"containers-storage:{path}", show_ok=True)

    for kind, size in (("infinite", "1e400"), ("text", '"40"'), ("fraction", "1.5")):
        path = _graph_root(case(f"cs-diff-size-{kind}"))  # no size: verify fails
        records = path / "vfs-layers" / "layers.json"
        records.write_text(
            records.read_text().replace('"diff-size": ', f'"diff-size": {size}, "x": ')
        )
        cases[f"cs-diff-size-{kind}"] = Attack(f"containers-storage:{path}", show_ok=True)

    # --- folders of blobs, repo-info checkouts, build contexts
    path = _blob_folder(case("json-blobs-out"))
    for name in ("config", "manifest", "index"):
        _link(path / f"sha256:{_hex(name)}", copies / "blobs" / "sha256" / _hex(name))
    cases["json-blobs-out"] = Attack(f"json:{path}")
    path = _blob_folder(case("json-subfolder-out"))
    _link(path / "sha256", copies / "blobs" / "sha256")
    for name in ("config", "manifest", "index"):
        (path / f"sha256:{_hex(name)}").unlink()
    cases["json-subfolder-out"] = Attack(f"json:{path}")
    for kind in ("fifo", "device", "out"):  # the top blob: never left out of verify silently
        if kind == "device" and not root:
            continue
        path = _blob_folder(case(f"json-index-{kind}"))
        top = path / f"sha256:{_hex('index')}"
        if kind == "out":
            top.unlink()
            _link(top, secret)
        else:
            _special(top, kind)
        cases[f"json-index-{kind}"] = Attack(f"json:{path}")
    path = _blob_folder(case("json-named-fifo"))  # read as a folder, its parent would be
    _special(path / "pipe", "fifo")
    cases["json-named-fifo"] = Attack(f"json:{path / 'pipe'}", commands=("show", "ls", "verify"))
    path = _blob_folder(case("json-nested-deep"))
    deep_folders(path, 1500)
    cases["json-nested-deep"] = Attack(f"json:{path}")
    path = _repo_info(case("repoinfo-remote-out"))
    _link(path / "repos" / "evil" / "remote", outside / "repoinfo" / "repos" / "evil" / "remote")
    cases["repoinfo-remote-out"] = Attack(f"repo-info-dir:{path}:evil:1", commands=("show", "ls"))
    path = case("dockerfile-out")
    _link(path / "Dockerfile", outside / "Dockerfile")
    cases["dockerfile-out"] = Attack(f"dockerfile:{path}", commands=("show",))
    return cases


if __name__ == "__main__":
    for name, attack in build(Path(sys.argv[1])).items():
        print(f"{name}\t{attack.spec}")
