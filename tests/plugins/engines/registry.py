"""A distribution 2.8 registry on 127.0.0.1 with the test images pushed by skopeo."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.plugins.engines.containers_storage import BuildahImages, ContainersStorage
from tests.plugins.engines.dockerd import DockerSaves
from tests.plugins.engines.images import BUILDAH_DEFAULT
from tests.plugins.engines.processes import Daemon, tcp_http_get
from tests.plugins.engines.records import RawDocuments
from tests.plugins.engines.session import base_env, require_engines


@dataclass
class Pushed(RawDocuments):
    """One tag pushed to the registry.

    ``digest``        manifest digest, as in ``_manifests/tags/<tag>/current/link``
    ``manifest_raw``  ``skopeo inspect --raw docker://…`` (exact bytes served)
    ``config_raw``    ``skopeo inspect --config --raw docker://…``
    ``source``        what it was copied from (skopeo reference)
    """

    name: str
    tag: str
    digest: str
    manifest_raw: bytes
    config_raw: bytes
    source: str


class Registry:
    """Debian's docker-registry (distribution 2.8) on 127.0.0.1, filesystem storage.

    ``storage``  the storage root: holds ``docker/registry/v2`` (repositories/,
                 blobs/sha256/<2 hex>/<hex>/data)
    ``host``     ``127.0.0.1:<port>``;  ``log``: its log;  ``config``: its YAML
    ``pushed``   "name:tag" -> Pushed, for:
                 reconstruct-test/full:1 and :latest, reconstruct-test/small:1
                 (Docker v2s2, from the docker saves), reconstruct-test/full:1-oci
                 (the same image pushed with ``--format oci``), and
                 reconstruct-test/buildah:1 (BUILDAH_DEFAULT, OCI, from containers-storage)
    ``repos``    sorted (name, tag) pairs of ``pushed``
    ``stop()``   stops the registry (storage stays)
    """

    def __init__(self, tmp: Path):
        self.dir = tmp / "registry"
        self.storage = self.dir / "storage"
        self.storage.mkdir(parents=True)
        self.log = self.dir / "registry.log"
        self.config = self.dir / "config.yml"
        self.pushed: dict[str, Pushed] = {}
        self.host = ""
        self.daemon: Daemon | None = None

    @property
    def repos(self) -> list[tuple[str, str]]:
        return sorted((p.name, p.tag) for p in self.pushed.values())

    def _write_config(self, port: int) -> None:
        self.config.write_text(
            f"""version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {self.storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: reconstruct-tests
"""
        )

    def start(self) -> None:
        for _attempt in range(3):  # the free port may be taken before we bind it
            port = _free_port()
            self._write_config(port)
            self.host = f"127.0.0.1:{port}"
            self.daemon = Daemon(
                "docker-registry",
                ["docker-registry", "serve", str(self.config)],
                self.log,
                base_env(),
            )
            self.daemon.start()
            time.sleep(0.3)
            if self.daemon.alive():
                break
        self.daemon.wait_ready(lambda: tcp_http_get(self.host, "/v2/")[0] == 200)

    def stop(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()

    def push(self, cs: ContainersStorage, source: str, name: str, tag: str, *flags: str) -> None:
        dest = f"docker://{self.host}/{name}:{tag}"
        # plain HTTP on loopback
        cs.skopeo("copy", "--quiet", "--dest-tls-verify=false", *flags, source, dest)
        link = (
            self.storage
            / f"docker/registry/v2/repositories/{name}/_manifests/tags/{tag}/current/link"
        )
        self.pushed[f"{name}:{tag}"] = Pushed(
            name=name,
            tag=tag,
            digest=link.read_text().strip(),
            manifest_raw=cs.skopeo("inspect", "--tls-verify=false", "--raw", dest).stdout,
            config_raw=cs.skopeo("inspect", "--tls-verify=false", "--config", "--raw", dest).stdout,
            source=source,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def registry(
    engines_tmp: Path, docker_saves: DockerSaves, buildah: BuildahImages
) -> Iterator[Registry]:
    """A registry with the test images pushed by skopeo; see Registry."""
    require_engines("docker-registry", "skopeo")
    cs = buildah.storage
    reg = Registry(engines_tmp)
    try:
        reg.start()
        full = f"docker-archive:{docker_saves.full.path}"
        reg.push(cs, full, "reconstruct-test/full", "1")
        reg.push(cs, full, "reconstruct-test/full", "latest")
        reg.push(cs, full, "reconstruct-test/full", "1-oci", "--format", "oci")
        reg.push(cs, f"docker-archive:{docker_saves.small.path}", "reconstruct-test/small", "1")
        reg.push(cs, cs.storage_ref(BUILDAH_DEFAULT), "reconstruct-test/buildah", "1")
        yield reg
    finally:
        reg.stop()
