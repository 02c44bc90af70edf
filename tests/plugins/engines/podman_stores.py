"""containers-storage graph roots written by podman and buildah, for the offline reader: the
``podman_stores`` fixture."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.plugins.engines.containers_storage import (
    BuildahImages,
    ContainersStorage,
    bud_args,
)
from tests.plugins.engines.dockerd import DockerSaves
from tests.plugins.engines.images import CS_BASE, BuildContext
from tests.plugins.engines.namespaces import Namespaces
from tests.plugins.engines.registry import Pushed, Registry
from tests.plugins.engines.session import require_engines

MULTI = "reconstruct-test/multi"
MULTI_LIST = "localhost/reconstruct-test/multi:list"
SMALL_BUD = "localhost/reconstruct-test/small:buildah"


@dataclass
class PodmanStores:
    """Three graph roots, every image in them written by podman, buildah or skopeo.

    ``vfs``      the shared store (``containers_storage``, vfs): busybox imported, the full
                 Dockerfile built by buildah with and without ``--layers`` (and the unnamed
                 intermediate images ``--layers`` leaves)
    ``overlay``  the overlay driver: ``podman load`` of the dockerd 20.10 saves (full, small,
                 multi_tag: three names on one image) and of podman's own oci-archive of the
                 buildah image; busybox imported for amd64 and for arm64; the manifest list
                 MULTI_LIST of those two (``podman manifest create``/``add``); SMALL built by
                 ``buildah bud`` (SMALL_BUD)
    ``pulled``   vfs in a rootless-style graph root (``<home>/.local/share/containers/storage``):
                 pulled from ``registry`` (a private docker-registry on loopback): MULTI:1 for
                 linux/amd64, then for linux/arm64 (the name moves; the amd64 image is left with
                 none), full:1 (Docker v2s2, gzip layers), full:1-oci, and small by digest
    ``multi``    MULTI:1 as pushed: the index ``skopeo copy --all`` put in the registry
    ``registry`` that registry (stopped after the session)
    ``stores``   name → ContainersStorage
    """

    vfs: ContainersStorage
    overlay: ContainersStorage
    pulled: ContainersStorage
    multi: Pushed
    registry: Registry

    @property
    def stores(self) -> dict[str, ContainersStorage]:
        return {"vfs": self.vfs, "overlay": self.overlay, "pulled": self.pulled}


def podman_images(cs: ContainersStorage) -> list[dict]:
    """``podman images -a --format json``: every image of the store, intermediate ones too."""
    return json.loads(cs.podman("images", "-a", "--format", "json").stdout)


@pytest.fixture(scope="session")
def podman_stores(
    engines_tmp: Path,
    engine_namespaces: Namespaces,
    build_context: BuildContext,
    buildah: BuildahImages,
    docker_saves: DockerSaves,
) -> Iterator[PodmanStores]:
    """The graph roots for ``containers-storage:``; see PodmanStores."""
    require_engines("buildah", "podman", "skopeo", "docker-registry")
    overlay = ContainersStorage(engines_tmp, engine_namespaces, "cso", driver="overlay")
    base = str(build_context.base_tar)
    for save in (docker_saves.full, docker_saves.small, docker_saves.multi_tag):
        overlay.podman("load", "--quiet", "-i", str(save.path))
    oci_archive = engines_tmp / "cso-buildah.tar"
    buildah.storage.podman(
        "save", "--quiet", "--format", "oci-archive", "-o", str(oci_archive), buildah.default.ref
    )
    overlay.podman("load", "--quiet", "-i", str(oci_archive))
    overlay.podman("import", "--quiet", base, CS_BASE)
    arm64 = "localhost/busybox:arm64"
    overlay.podman("import", "--quiet", "--arch", "arm64", base, arm64)
    overlay.podman("manifest", "create", MULTI_LIST)
    for image in (CS_BASE, arm64):
        overlay.podman("manifest", "add", MULTI_LIST, f"containers-storage:{image}")
    overlay.buildah(*bud_args(overlay, build_context), "-t", SMALL_BUD, str(build_context.small))
    layout = engines_tmp / "cso-multi"
    overlay.podman("manifest", "push", "--quiet", "--all", MULTI_LIST, f"oci:{layout}:1")

    registry = Registry(engines_tmp / "cso-registry")
    try:
        registry.start()
        registry.push(overlay, f"oci:{layout}:1", MULTI, "1", "--all")
        full = f"docker-archive:{docker_saves.full.path}"
        registry.push(overlay, full, "reconstruct-test/full", "1")
        registry.push(overlay, full, "reconstruct-test/full", "1-oci", "--format", "oci")
        small = f"docker-archive:{docker_saves.small.path}"
        registry.push(overlay, small, "reconstruct-test/small", "1")
        home = engines_tmp / "home"
        pulled = ContainersStorage(
            engines_tmp,
            engine_namespaces,
            "csp",
            root=home / ".local" / "share" / "containers" / "storage",
        )
        host = registry.host
        pulls = (
            ("--platform", "linux/amd64", f"{host}/{MULTI}:1"),
            ("--platform", "linux/arm64", f"{host}/{MULTI}:1"),
            (f"{host}/reconstruct-test/full:1",),
            (f"{host}/reconstruct-test/full:1-oci",),
            (
                f"{host}/reconstruct-test/small@{registry.pushed['reconstruct-test/small:1'].digest}",
            ),
        )
        for args in pulls:
            pulled.podman("pull", "--quiet", "--tls-verify=false", *args)
        yield PodmanStores(
            vfs=buildah.storage,
            overlay=overlay,
            pulled=pulled,
            multi=registry.pushed[f"{MULTI}:1"],
            registry=registry,
        )
    finally:
        registry.stop()
