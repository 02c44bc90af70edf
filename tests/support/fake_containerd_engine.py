"""A Docker Engine API server as Docker 28 and 29 answer on the containerd image store (API 1.48
and 1.49), for the newer API fields no engine here has: `manifests` and `platform` on image
inspect, `platform` on history.

Written from the Engine API reference (v1.48: `GET /images/{name}/json?manifests=1` adds
`Manifests`, a list of ImageManifestSummary `{ID, Descriptor, Available, Size, Kind,
ImageData: {Platform, Containers, Size}, AttestationData: {For}}`; `GET /images/{name}/history`
takes `platform`, a JSON-encoded OCI platform; v1.49: image inspect takes `platform`, exclusive
with `manifests`) and from what dockerd 26 answers here on that store: `Id` is the digest of
the name's target (the index), `Descriptor` that target's descriptor, `DockerVersion` the
daemon's, history `Size` the snapshot's usage, `/info` DriverStatus
`["driver-type", "io.containerd.snapshotter.v1"]`. The image is a BuildKit-shaped two-platform
build (linux/amd64, linux/arm64, one attestation manifest each); its blobs are real (the layer
tars, the in-toto statements and every JSON document hash to their digests), and `layout(dir)`
writes them as an OCI layout: the ground truth the API's answers are checked against.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import re
import tarfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.fake_engine import _Server  # one threaded unix-socket server for both fakes

TAG = "example/two:1"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
IN_TOTO = "application/vnd.in-toto+json"
PLATFORMS = ({"architecture": "amd64", "os": "linux"}, {"architecture": "arm64", "os": "linux"})
HISTORY = (  # (created, created_by, empty_layer)
    ("2026-11-30T10:00:00Z", "COPY hello.txt /hello.txt # buildkit", False),
    ("2026-11-30T10:00:01Z", "LABEL two=platforms", True),
    ("2026-11-30T10:00:01Z", 'CMD ["/hello.txt"]', True),
)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _layer(name: str, data: bytes) -> tuple[bytes, bytes]:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mtime = len(data), 1764496800
        tar.addfile(info, io.BytesIO(data))
    raw = out.getvalue()
    return raw, gzip.compress(raw, mtime=0)


@dataclass
class Platform:
    platform: dict[str, str]
    config: bytes
    manifest: bytes
    attestation: bytes  # the attestation manifest for this platform


@dataclass
class TwoPlatformImage:
    """The blobs, by digest, and the index that names them."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    platforms: list[Platform] = field(default_factory=list)
    index: bytes = b""

    def __post_init__(self) -> None:
        raw, layer = _layer("hello.txt", b"hello\n")
        self.blobs[_digest(layer)] = layer
        entries, attestations = [], []
        for platform in PLATFORMS:
            config = _json(
                {
                    "architecture": platform["architecture"],
                    "os": platform["os"],
                    "created": HISTORY[-1][0],
                    "config": {"Cmd": ["/hello.txt"], "Labels": {"two": "platforms"}},
                    "rootfs": {"type": "layers", "diff_ids": [_digest(raw)]},
                    "history": [
                        {"created": c, "created_by": b, "comment": "buildkit.dockerfile.v0"}
                        | ({"empty_layer": True} if e else {})
                        for c, b, e in HISTORY
                    ],
                }
            )
            manifest = self._manifest(config, OCI_CONFIG, [(layer, OCI_LAYER)])
            statement = _json({"_type": "https://in-toto.io/Statement/v0.1", "subject": []})
            attestation = self._manifest(_json({"architecture": "unknown", "os": "unknown",
                                                "rootfs": {"type": "layers",
                                                           "diff_ids": [_digest(statement)]}}),
                                         OCI_CONFIG, [(statement, IN_TOTO)])  # fmt: skip
            self.platforms.append(Platform(platform, config, manifest, attestation))
            entries.append(self.descriptor(manifest, OCI_MANIFEST) | {"platform": platform})
            attestations.append(
                self.descriptor(attestation, OCI_MANIFEST)
                | {
                    "annotations": {
                        "vnd.docker.reference.digest": _digest(manifest),
                        "vnd.docker.reference.type": "attestation-manifest",
                    },
                    "platform": {"architecture": "unknown", "os": "unknown"},
                }
            )
        self.index = _json(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries + attestations}
        )
        self.blobs[_digest(self.index)] = self.index

    def _manifest(self, config: bytes, config_type: str, layers: list[tuple[bytes, str]]) -> bytes:
        self.blobs[_digest(config)] = config
        for data, _ in layers:
            self.blobs[_digest(data)] = data
        manifest = _json(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": self.descriptor(config, config_type),
                "layers": [self.descriptor(data, kind) for data, kind in layers],
            }
        )
        self.blobs[_digest(manifest)] = manifest
        return manifest

    @staticmethod
    def descriptor(data: bytes, media_type: str) -> dict[str, Any]:
        return {"mediaType": media_type, "digest": _digest(data), "size": len(data)}

    @property
    def target(self) -> str:
        return _digest(self.index)

    def layout(self, folder: Path) -> Path:
        """The blobs as an OCI layout, named TAG, as `docker save` writes it on this store."""
        (folder / "blobs" / "sha256").mkdir(parents=True)
        for digest, data in self.blobs.items():
            (folder / "blobs" / "sha256" / digest[7:]).write_bytes(data)
        (folder / "index.json").write_bytes(self.layout_index())
        (folder / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        return folder

    def export(self) -> bytes:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as tar:
            members = {f"blobs/sha256/{d[7:]}": b for d, b in self.blobs.items()}
            members["index.json"] = self.layout_index()
            members["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return out.getvalue()

    def layout_index(self) -> bytes:
        entry = self.descriptor(self.index, OCI_INDEX) | {
            "annotations": {"io.containerd.image.name": f"docker.io/{TAG}",
                            "org.opencontainers.image.ref.name": "1"}}  # fmt: skip
        return _json({"schemaVersion": 2, "manifests": [entry]})

    # --- what the API says ---------------------------------------------------------------------

    def platform_of(self, wanted: dict[str, str] | None) -> Platform:
        for item in self.platforms:
            if wanted is None or all(item.platform.get(k) == v for k, v in wanted.items()):
                return item
        raise KeyError(wanted)

    def inspect(self, platform: Platform, manifests: bool) -> dict[str, Any]:
        config = json.loads(platform.config)
        answer: dict[str, Any] = {
            "Id": self.target,
            "Descriptor": self.descriptor(self.index, OCI_INDEX),
            "RepoTags": [TAG],
            "RepoDigests": [f"{TAG.split(':')[0]}@{self.target}"],
            "Created": config["created"],
            "DockerVersion": "29.1.2",  # the daemon's own: no BuildKit config carries one
            "Author": "",
            "Config": {"Cmd": config["config"]["Cmd"], "Labels": config["config"]["Labels"],
                       "Env": None, "Entrypoint": None, "WorkingDir": "", "User": ""},
            "Architecture": config["architecture"],
            "Os": config["os"],
            "Size": 8192,
            "RootFS": {"Type": "layers", "Layers": config["rootfs"]["diff_ids"]},
        }  # fmt: skip
        if manifests:
            # in the index's order (moby walks the index): the images, then the attestations
            images = [
                {
                    "ID": _digest(item.manifest),
                    "Descriptor": self.descriptor(item.manifest, OCI_MANIFEST)
                    | {"platform": item.platform},
                    "Available": True,
                    "Size": {"Total": 8192, "Content": 300},
                    "Kind": "image",
                    "ImageData": {
                        "Platform": item.platform,
                        "Containers": [],
                        "Size": {"Unpacked": 8192},
                    },
                }
                for item in self.platforms
            ]
            attestations = [
                {"ID": _digest(item.attestation),
                 "Descriptor": self.descriptor(item.attestation, OCI_MANIFEST)
                 | {"platform": {"architecture": "unknown", "os": "unknown"}},
                 "Available": True, "Size": {"Total": 900, "Content": 900},
                 "Kind": "attestation", "AttestationData": {"For": _digest(item.manifest)}}
                for item in self.platforms
            ]  # fmt: skip
            answer["Manifests"] = images + attestations
        return answer

    def history(self, platform: Platform) -> list[dict[str, Any]]:
        from datetime import datetime

        config = json.loads(platform.config)
        entries = []
        for item in config["history"]:
            created = datetime.fromisoformat(item["created"].replace("Z", "+00:00"))
            entries.append(
                {
                    "Id": "<missing>",
                    "Created": int(created.timestamp()),
                    "CreatedBy": item["created_by"],
                    "Tags": None,
                    "Size": 8192,  # the snapshot's usage: the same for every entry
                    "Comment": item.get("comment", ""),
                }
            )
        entries.reverse()
        entries[0]["Id"], entries[0]["Tags"] = self.target, [TAG]
        return entries


@dataclass
class FakeContainerdEngine:
    """`with FakeContainerdEngine(socket, api_version="1.49") as engine`: serves one image."""

    socket_path: Path
    api_version: str = "1.49"
    image: TwoPlatformImage = field(default_factory=TwoPlatformImage)
    requests: list[str] = field(default_factory=list)
    _server: Any = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def __enter__(self) -> FakeContainerdEngine:
        engine = self

        class Handler(_Handler):
            fake = engine

        self.socket_path.unlink(missing_ok=True)
        self._server = _Server(str(self.socket_path), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.socket_path.unlink(missing_ok=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeContainerdEngine

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def address_string(self) -> str:
        return "unix"

    def do_GET(self) -> None:
        fake, image = self.fake, self.fake.image
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = re.sub(r"^/v[0-9.]+(?=/)", "", unquote(parts.path))
        fake.requests.append(f"{path}?{parts.query}" if parts.query else path)
        if path == "/_ping":
            return self._send(200, b"OK", "text/plain")
        if path == "/version":
            return self._json(200, {"Version": "29.1.2", "ApiVersion": fake.api_version,
                                    "MinAPIVersion": "1.24", "Os": "linux", "Arch": "amd64",
                                    "Components": [{"Name": "Engine", "Version": "29.1.2"}]})  # fmt: skip
        if path == "/info":
            return self._json(200, {"Driver": "overlayfs",
                                    "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]],
                                    "DockerRootDir": "/nonexistent/reconstruct-fake-engine"})  # fmt: skip
        if path == "/images/json":
            return self._json(200, [{"Id": image.target, "RepoTags": [TAG], "RepoDigests": [],
                                     "Size": 8192, "Created": 1764496801}])  # fmt: skip
        match = re.fullmatch(r"/images/(.+)/(json|history|get)", path)
        if not match or match.group(1) not in (TAG, image.target, f"docker.io/{TAG}"):
            return self._json(404, {"message": f"No such image: {path}"})
        platform = json.loads(query["platform"]) if "platform" in query else None
        older = tuple(int(x) for x in fake.api_version.split(".")) < (1, 49)
        if match.group(2) == "json":
            if platform is not None and older:
                return self._json(400, {"message": "unknown parameter platform"})
            if platform is not None and query.get("manifests"):
                return self._json(400, {"message": "platform and manifests are exclusive"})
            manifests = query.get("manifests") in ("1", "true")
            return self._json(200, image.inspect(image.platform_of(platform), manifests))
        if match.group(2) == "history":
            return self._json(200, image.history(image.platform_of(platform)))
        return self._send(200, image.export(), "application/x-tar")

    def _json(self, status: int, body: object) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Api-Version", self.fake.api_version)
        self.send_header("Server", "Docker/29.1.2 (linux)")
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)
