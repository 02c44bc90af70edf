"""containers-storage graph roots written the way containers/storage writes them (images.json,
big data named as store.go's makeBigDataBaseName names it, layers.json, a tar-split and the
unpacked files of each layer), for tests that need a store no tool would write: damaged, old,
new or hostile ones. Real stores come from podman and buildah (tests/plugins/engines)."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

from reconstruct.blob.digests import sha256_digest as digest
from tests.support.attacks import IMAGE, _hex

CREATED = "2026-01-02T03:04:05.123456789Z"
NAME = "docker.io/library/evil:1"


def big_data_name(key: str) -> str:
    if key and all(c == "." or "0" <= c <= "9" or "a" <= c <= "z" for c in key):
        return key
    return "=" + base64.b64encode(key.encode()).decode()


def tar_split(pieces: list[tuple[str, Any]]) -> bytes:
    """The gzip of tar-split's JSON lines: ("segment", bytes) or ("file", (name, size))."""
    lines = []
    for position, (kind, value) in enumerate(pieces):
        if kind == "segment":
            entry = {"type": 2, "payload": base64.b64encode(value).decode(), "position": position}
        else:
            name, size = value
            entry = {"type": 1, "name": name, "size": size, "payload": None, "position": position}
        lines.append(json.dumps(entry))
    return gzip.compress(("\n".join(lines) + "\n").encode())


def image_record(**changes: Any) -> dict[str, Any]:
    """The record of the shared test image (tests/support/attacks.py IMAGE)."""
    manifest = digest(IMAGE["manifest"])
    config_key = f"sha256:{_hex('config')}"
    record = {
        "id": _hex("config"),
        "digest": manifest,
        "names": [NAME],
        "names-history": [NAME],
        "layer": _hex("layer"),
        "metadata": "{}",
        "big-data-names": [config_key, f"manifest-{manifest}", "manifest"],
        "big-data-sizes": {
            config_key: len(IMAGE["config"]),
            f"manifest-{manifest}": len(IMAGE["manifest"]),
            "manifest": len(IMAGE["manifest"]),
        },
        "big-data-digests": {
            config_key: digest(IMAGE["config"]),
            f"manifest-{manifest}": manifest,
            "manifest": manifest,
        },
        "created": CREATED,
    }
    record.update(changes)
    return record


def layer_record(**changes: Any) -> dict[str, Any]:
    layer = IMAGE["layer"]
    record = {
        "id": _hex("layer"),
        "created": CREATED,
        "compressed-diff-digest": digest(layer),
        "compressed-size": len(layer),
        "diff-digest": digest(layer),
        "diff-size": len(layer),
        "uidset": [0],
        "gidset": [0],
    }
    record.update(changes)
    return record


def graph_root(
    folder: Path,
    driver: str = "vfs",
    images: list[dict[str, Any]] | None = None,
    layers: list[dict[str, Any]] | None = None,
) -> Path:
    """A graph root holding the test image (or the records given), its big data, its layer
    unpacked (the layer's bytes 10 to 30 as the file `data`, the rest as tar-split segments,
    so that the rebuilt stream is the layer exactly) and the lock files podman keeps."""
    layer = IMAGE["layer"]
    images_dir = folder / f"{driver}-images"
    item = images_dir / _hex("config")
    item.mkdir(parents=True)
    manifest = digest(IMAGE["manifest"])
    for key, data in (
        (f"sha256:{_hex('config')}", IMAGE["config"]),
        (f"manifest-{manifest}", IMAGE["manifest"]),
        ("manifest", IMAGE["manifest"]),
    ):
        (item / big_data_name(key)).write_bytes(data)
    (images_dir / "images.json").write_text(json.dumps(images or [image_record()]))
    layers_dir = folder / f"{driver}-layers"
    layers_dir.mkdir(parents=True)
    (layers_dir / "layers.json").write_text(json.dumps(layers or [layer_record()]))
    (layers_dir / f"{_hex('layer')}.tar-split.gz").write_bytes(
        tar_split([("segment", layer[:10]), ("file", ("./data", 20)), ("segment", layer[30:])])
    )
    files = folder / "vfs" / "dir" / _hex("layer") if driver == "vfs" else folder / driver
    if driver == "overlay":
        files = folder / "overlay" / _hex("layer") / "diff"
    files.mkdir(parents=True)
    (files / "data").write_bytes(layer[10:30])
    for lock in ("storage.lock", f"{driver}-images/images.lock", f"{driver}-layers/layers.lock"):
        (folder / lock).touch()
    return folder
