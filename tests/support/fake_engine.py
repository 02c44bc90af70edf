"""A small Docker Engine API server for image shapes no engine here can produce: Windows images.

No Windows engine runs on these machines, so this serves on a unix socket what a Windows dockerd
answers, written from the Engine API reference (v1.41: `GET /_ping`, `/version`, `/images/json`,
`/images/{name}/json`, `/images/{name}/history`, `/images/{name}/get`) and from the seed's facts
(the `python:3-windowsservercore` 10.0.17763 image of samples/, itself written from the seed). The
real docker SDK talks to it, so the engine source is exercised exactly as against dockerd.

What is made up, and said so: diff_ids (a Windows engine knows them, the seed does not publish
them: `sha256(b"fake diff_id of " + compressed digest)`), layer tars in exports (placeholders of
1 KiB, not the gigabytes of the base layers), and the second image (a 2022-era build by a classic
builder: `Apply image 10.0.20348.4294` / `Install update 10.0.20348.5499` as docs/history-and-
sources.md lists them, metadata steps without a layer, one RUN whose layer holds no file data so
that its size 0 is ambiguous). Layer sizes on disk are stood in for by the compressed sizes.

Misbehaviours for error tests: `mode="old"` answers an API version of 1.12, `mode="reject"`
answers the version request with 400 as an engine refusing the client's API version does,
`mode="hang"` accepts connections and never answers, `mode="new"` answers an API version newer
than any client knows (1.99), `mode="cut"` stops an export halfway, as a daemon stopped in the
middle of `docker save` does.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import socketserver
import tarfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.support.paths import SAMPLE

API_VERSION = "1.41"
FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
# The seed's python:3-windowsservercore: the manifest list digest `docker pull` printed
SEED_INDEX_DIGEST = "sha256:541559e3cc828b77371fd1bb3a9f8ea1f54fdd2fd8da0872b3dcc0c082a71a7a"
SEED_TAG = "python:3-windowsservercore"
APP_TAG = "example/winapp:ltsc2022"
# Windows' classic builder shell prefix when no SHELL instruction was given
CMD_SHELL = "cmd /S /C "


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fake_diff_id(compressed_digest: str) -> str:
    return _sha256(b"fake diff_id of " + compressed_digest.encode())


@dataclass
class FakeImage:
    """One image as the engine keeps it: the exact config bytes and what the API derives."""

    config: dict[str, Any]
    repo_tags: list[str]
    repo_digests: list[str]
    layers: list[dict[str, Any]]  # manifest layer descriptors, in diff_id order
    export_layout: str = "legacy"  # "legacy" (Docker ≤ 24) or "oci" (Docker ≥ 25)
    # history entries whose layer holds no file data: the engine reports their size as 0
    zero_sized: frozenset[int] = frozenset()
    config_raw: bytes = b""

    def __post_init__(self) -> None:
        self.config["rootfs"] = {
            "type": "layers",
            "diff_ids": [fake_diff_id(layer["digest"]) for layer in self.layers],
        }
        self.config_raw = json.dumps(self.config, separators=(",", ":")).encode()

    @property
    def id(self) -> str:
        return _sha256(self.config_raw)

    @property
    def diff_ids(self) -> list[str]:
        return self.config["rootfs"]["diff_ids"]

    @property
    def manifest_raw(self) -> bytes:
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(self.config_raw),
                "digest": self.id,
            },
            "layers": self.layers,
        }
        return json.dumps(manifest, indent=3).encode()

    def layer_sizes(self) -> list[int]:
        return [layer["size"] for layer in self.layers]

    def history(self) -> list[dict[str, Any]]:
        """`GET /images/{name}/history`: newest first, size 0 for entries without a layer."""
        sizes = iter(self.layer_sizes())
        entries = []
        for position, entry in enumerate(self.config.get("history", [])):
            size = 0 if entry.get("empty_layer") else next(sizes, 0)
            if position in self.zero_sized:
                size = 0
            entries.append(
                {
                    "Id": "<missing>",
                    "Created": _epoch(entry["created"]),
                    "CreatedBy": entry.get("created_by", ""),
                    "Tags": None,
                    "Size": size,
                    "Comment": entry.get("comment", ""),
                }
            )
        entries.reverse()
        entries[0]["Id"] = self.id
        entries[0]["Tags"] = list(self.repo_tags) or None
        return entries

    def inspect(self) -> dict[str, Any]:
        """`GET /images/{name}/json` as a Windows dockerd 20.10 answers it."""
        settings = self.config.get("config", {})
        container_config = {
            "Hostname": "",
            "Domainname": "",
            "User": settings.get("User", ""),
            "AttachStdin": False,
            "AttachStdout": False,
            "AttachStderr": False,
            "Tty": False,
            "OpenStdin": False,
            "StdinOnce": False,
            "Env": settings.get("Env"),
            "Cmd": settings.get("Cmd"),
            "Image": "",
            "Volumes": settings.get("Volumes"),
            "WorkingDir": settings.get("WorkingDir", ""),
            "Entrypoint": settings.get("Entrypoint"),
            "OnBuild": None,
            "Labels": settings.get("Labels"),
            "Shell": settings.get("Shell"),
        }
        size = sum(self.layer_sizes())
        return {
            "Id": self.id,
            "RepoTags": list(self.repo_tags),
            "RepoDigests": list(self.repo_digests),
            "Parent": "",
            "Comment": "",
            "Created": self.config.get("created"),
            "Container": "",
            "ContainerConfig": dict(container_config, Cmd=None),
            "DockerVersion": self.config.get("docker_version", ""),
            "Author": "",
            "Config": container_config,
            "Architecture": self.config.get("architecture"),
            "Os": self.config.get("os"),
            "OsVersion": self.config.get("os.version"),
            "Size": size,
            "VirtualSize": size,
            "GraphDriver": {
                "Data": {"dir": f"C:\\ProgramData\\docker\\windowsfilter\\{self.id[7:]}"},
                "Name": "windowsfilter",
            },
            "RootFS": {"Type": "layers", "Layers": list(self.diff_ids)},
            "Metadata": {"LastTagTime": "2019-09-20T10:00:00.0000000Z"},
        }

    def summary(self) -> dict[str, Any]:
        """One entry of `GET /images/json`."""
        size = sum(self.layer_sizes())
        return {
            "Containers": -1,
            "Created": _epoch(self.config["created"]),
            "Id": self.id,
            "Labels": self.config.get("config", {}).get("Labels"),
            "ParentId": "",
            "RepoDigests": list(self.repo_digests) or None,
            "RepoTags": list(self.repo_tags) or None,
            "SharedSize": -1,
            "Size": size,
            "VirtualSize": size,
        }

    def export(self) -> bytes:
        """`GET /images/{name}/get`: a `docker save` archive, members in name order as dockerd
        writes them (its exporter tars a directory), layer tars as 1 KiB placeholders."""
        members: dict[str, bytes] = {}
        placeholder = bytes(1024)  # an empty tar: two zero blocks
        config_clean = self.config_raw
        tags = list(self.repo_tags) or None
        if self.export_layout == "legacy":
            parent = ""
            layer_paths = []
            sources = {}
            for diff_id, layer in zip(self.diff_ids, self.layers, strict=True):
                v1 = hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()
                members[f"{v1}/VERSION"] = b"1.0"
                members[f"{v1}/json"] = json.dumps({"id": v1, "parent": parent or None}).encode()
                members[f"{v1}/layer.tar"] = placeholder
                layer_paths.append(f"{v1}/layer.tar")
                if layer["mediaType"] == FOREIGN:
                    sources[diff_id] = layer
                parent = v1
            members[f"{self.id[7:]}.json"] = config_clean
            entry: dict[str, Any] = {
                "Config": f"{self.id[7:]}.json",
                "RepoTags": tags,
                "Layers": layer_paths,
            }
            if sources:
                entry["LayerSources"] = sources
            members["manifest.json"] = json.dumps([entry]).encode()
        else:
            manifest = self.manifest_raw
            manifest_digest = _sha256(manifest)
            members[f"blobs/sha256/{self.id[7:]}"] = config_clean
            members[f"blobs/sha256/{manifest_digest[7:]}"] = manifest
            for layer in self.layers:
                if layer["mediaType"] != FOREIGN:  # foreign layers are never exported
                    members[f"blobs/sha256/{layer['digest'][7:]}"] = placeholder
            descriptor = {
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "digest": manifest_digest,
                "size": len(manifest),
                "annotations": {"io.containerd.image.name": f"docker.io/{self.repo_tags[0]}"},
            }
            members["index.json"] = json.dumps(
                {"schemaVersion": 2, "manifests": [descriptor]}
            ).encode()
            members["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
            members["manifest.json"] = json.dumps(
                [
                    {
                        "Config": f"blobs/sha256/{self.id[7:]}",
                        "RepoTags": tags,
                        "Layers": [f"blobs/sha256/{layer['digest'][7:]}" for layer in self.layers],
                    }
                ]
            ).encode()
        name, _, tag = (self.repo_tags[0] if self.repo_tags else ":").rpartition(":")
        if name:
            members["repositories"] = json.dumps({name: {tag: self.id[7:]}}).encode()
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for member_name in sorted(members):
                data = members[member_name]
                info = tarfile.TarInfo(member_name)
                info.size, info.mtime, info.mode = len(data), 1568196556, 0o644
                tar.addfile(info, io.BytesIO(data))
        return out.getvalue()


def _epoch(created: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())


def seed_image() -> FakeImage:
    """python:3-windowsservercore, windows 10.0.17763.737, from samples/ (the seed's facts).

    Built by the 2016–2019 Windows builder: every one of its 11 history entries has a layer,
    the first two foreign (`Apply image`, `Install update`)."""
    index = json.loads((SAMPLE / "index.json").read_text())
    blobs = SAMPLE / "blobs" / "sha256"
    listing = json.loads((blobs / index["manifests"][0]["digest"][7:]).read_text())
    entry = next(m for m in listing["manifests"] if m["platform"]["os.version"] == "10.0.17763.737")
    manifest = json.loads((blobs / entry["digest"][7:]).read_text())
    config = json.loads((blobs / manifest["config"]["digest"][7:]).read_text())
    return FakeImage(
        config=config,
        repo_tags=[SEED_TAG],
        repo_digests=[f"python@{SEED_INDEX_DIGEST}"],
        layers=manifest["layers"],
    )


def app_image() -> FakeImage:
    """A 2022-era local build on Windows Server 2022 (no RepoDigests: never pushed).

    Metadata steps record no layer (dockerd 20.10 classic builder); `mkdir C:\\data` made a
    layer with no file data (size 0), `echo` none (size 0 too): the fast path cannot tell which.
    Exported in the Docker ≥ 25 layout (an OCI layout beside manifest.json)."""
    base = "https://mcr.microsoft.com/v2/windows/servercore/blobs/"
    apply_digest = _sha256(b"fake servercore 10.0.20348.4294 base layer")
    update_digest = _sha256(b"fake servercore 10.0.20348.5499 update layer")
    layers = [
        {"mediaType": FOREIGN, "size": 1_543_220_372, "digest": apply_digest,
         "urls": [base + apply_digest]},
        {"mediaType": FOREIGN, "size": 2_025_414_829, "digest": update_digest,
         "urls": [base + update_digest]},
        {"mediaType": LAYER, "size": 1_289, "digest": _sha256(b"fake layer: COPY app")},
        {"mediaType": LAYER, "size": 1_176, "digest": _sha256(b"fake layer: mkdir C:\\data")},
    ]  # fmt: skip
    history = [
        {"created": "2022-11-04T20:12:17Z", "created_by": "Apply image 10.0.20348.4294"},
        {"created": "2023-01-05T18:40:31Z", "created_by": "Install update 10.0.20348.5499"},
        {"created": "2023-01-17T09:30:01Z", "created_by": CMD_SHELL + "#(nop)  ENV APP_HOME=C:\\app",
         "empty_layer": True},
        {"created": "2023-01-17T09:30:05Z",
         "created_by": CMD_SHELL + "#(nop) COPY file:" + "4" * 64 + " in C:\\app\\ "},
        {"created": "2023-01-17T09:30:40Z", "created_by": CMD_SHELL + "mkdir C:\\data"},
        {"created": "2023-01-17T09:31:02Z", "created_by": CMD_SHELL + "echo built",
         "empty_layer": True},
        {"created": "2023-01-17T09:31:03Z", "created_by": CMD_SHELL + '#(nop)  CMD ["app.exe"]',
         "empty_layer": True},
    ]  # fmt: skip
    config = {
        "architecture": "amd64",
        "os": "windows",
        "os.version": "10.0.20348.5499",
        "created": "2023-01-17T09:31:03Z",
        "docker_version": "20.10.23",
        "config": {"Env": ["APP_HOME=C:\\app"], "Cmd": ["app.exe"]},
        "history": history,
    }
    return FakeImage(
        config=config,
        repo_tags=[APP_TAG],
        repo_digests=[],
        layers=layers,
        export_layout="oci",
        zero_sized=frozenset({4}),
    )


@dataclass
class FakeEngine:
    """The server and what it has served. Use as a context manager: `with FakeEngine(path) as e`."""

    socket_path: Path
    images: list[FakeImage] = field(default_factory=lambda: [seed_image(), app_image()])
    mode: str = "normal"
    requests: list[str] = field(default_factory=list)
    export_bytes_sent: dict[str, int] = field(default_factory=dict)
    _server: Any = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def __enter__(self) -> FakeEngine:
        engine = self

        class Handler(_Handler):
            fake = engine

        self.socket_path.unlink(missing_ok=True)
        self._server = _Server(str(self.socket_path), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self.socket_path.unlink(missing_ok=True)

    def find(self, name: str) -> FakeImage | None:
        """What dockerd's reference lookup finds: a tag, name (:latest), ID prefix, or digest."""
        wanted = _familiar(name)
        if ":" not in wanted.rsplit("/", 1)[-1] and "@" not in wanted:
            wanted += ":latest"
        for image in self.images:
            hexid = image.id[7:]
            bare = name.removeprefix("sha256:")
            if re.fullmatch(r"[0-9a-f]{4,64}", bare) and hexid.startswith(bare):
                return image
            if wanted in [_familiar(t) for t in image.repo_tags + image.repo_digests]:
                return image
        return None


def _familiar(reference: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/", "library/"):
        if reference.startswith(prefix):
            return reference[len(prefix) :]
    return reference


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeEngine

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read `FakeEngine.requests` instead."""

    def address_string(self) -> str:
        return "unix"

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        fake = self.fake
        path = unquote(urlsplit(self.path).path)
        fake.requests.append(path)
        if fake.mode == "hang":
            fake._stop.wait(60)  # never answers (the client's timeout must end the wait)
            self.close_connection = True
            return
        path = re.sub(r"^/v[0-9.]+(?=/)", "", path)
        if path == "/_ping":
            return self._send(200, b"OK", "text/plain; charset=utf-8")
        if path == "/version":
            if fake.mode == "reject":
                return self._json(
                    400,
                    {
                        "message": "client version 1.44 is too new. Maximum supported API "
                        "version is 1.23"
                    },
                )
            return self._json(200, _version(self._api_version()))
        if path == "/images/json":
            return self._json(200, [image.summary() for image in fake.images])
        match = re.fullmatch(r"/images/(.+)/(json|history|get)", path)
        if not match:
            return self._json(404, {"message": f"page not found: {path}"})
        image = fake.find(match.group(1))
        if image is None:
            return self._json(404, {"message": f"No such image: {match.group(1)}"})
        if match.group(2) == "json":
            return self._json(200, image.inspect())
        if match.group(2) == "history":
            return self._json(200, image.history())
        return self._stream_export(image)

    def _stream_export(self, image: FakeImage) -> None:
        """Chunked, like dockerd; a client that hangs up early is not an error."""
        data = image.export()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-tar")
        self.send_header("Transfer-Encoding", "chunked")
        self._common_headers()
        self.end_headers()
        sent = 0
        if self.fake.mode == "cut":  # the daemon goes away after the first half
            data = data[: len(data) // 2]
        try:
            for at in range(0, len(data), 32 * 1024):
                chunk = data[at : at + 32 * 1024]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                sent += len(chunk)
                time.sleep(0)  # let the reader run, so an early hang-up is seen early
            if self.fake.mode == "cut":
                self.close_connection = True
                return  # no terminating chunk: the connection just ends
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            self.fake.export_bytes_sent[image.id] = sent

    def _json(self, status: int, body: object) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self._common_headers()
        self.end_headers()
        if self.command != "HEAD":
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

    def _api_version(self) -> str:
        return {"old": "1.12", "new": "1.99"}.get(self.fake.mode, API_VERSION)

    def _common_headers(self) -> None:
        self.send_header("Api-Version", self._api_version())
        self.send_header("Docker-Experimental", "false")
        self.send_header("Ostype", "windows")
        self.send_header("Server", "Docker/20.10.23 (windows)")


def _version(api_version: str) -> dict[str, Any]:
    """`GET /version` of a Windows dockerd (Windows Server 2019)."""
    return {
        "Platform": {"Name": "Docker Engine - Community"},
        "Components": [
            {
                "Name": "Engine",
                "Version": "20.10.23",
                "Details": {"ApiVersion": api_version, "MinAPIVersion": "1.24", "Os": "windows"},
            }
        ],
        "Version": "20.10.23",
        "ApiVersion": api_version,
        "MinAPIVersion": "1.24" if api_version >= "1.24" else api_version,
        "GitCommit": "6051f14",
        "GoVersion": "go1.18.10",
        "Os": "windows",
        "Arch": "amd64",
        "KernelVersion": "10.0 17763 (17763.1.amd64fre.rs5_release.180914-1434)",
        "BuildTime": "2023-01-19T17:31:35.000000000+00:00",
    }
