"""Real container engines for the test suite, as a pytest plugin.

Registered from ``tests/conftest.py`` with ``pytest_plugins = ["tests.plugins.engines"]``.
Install the engines with ``scripts/install-engines.sh`` (Debian packages docker.io,
buildah, podman, skopeo, docker-registry, busybox-static, zstd, xz-utils).

Every fixture here is session scoped and works offline: the only base image is
``busybox:local``, made from the ``busybox-static`` binary. Daemons listen on
private unix sockets (the registry on 127.0.0.1) and keep all their state in one
temporary directory, removed at the end of the session (set
``RECONSTRUCT_KEEP_ENGINES=1`` to keep it: its path is printed at the end).

Engines run in private mount namespaces (``unshare --mount``) where ``/etc``,
``/var`` and ``/opt`` are overlays whose writable layer is in the temporary
directory and ``/run`` is a fresh tmpfs. So the files these tools write at
fixed global paths (``/etc/docker/key.json``, ``/run/docker/plugins``,
``/run/containerd/s``, ``/var/lib/containers/cache``,
``/var/cache/containers``...) never reach the host, a system dockerd or
containerd is invisible to ours, and every mount they make disappears with
them.

Fixtures (see each one's docstring for its attributes):

``engines_tmp``         the session's temporary directory
``build_context``       the Dockerfiles and build contexts used by every builder
``dockerd``             dockerd 20.10 with busybox:local and the test images built
``docker_saves``        ``docker save`` archives (plain, gzip, zstd, xz, several images)
``containers_storage``  private containers-storage (vfs) shared by buildah/podman/skopeo
``buildah``             the same Dockerfile built by buildah, default and ``--layers``
``podman``              ``podman save`` of those as docker-archive, oci-archive, oci-dir
``podman_service``      ``podman system service`` (Docker-compatible API) on a socket
``skopeo``              skopeo copies of the dockerd image: oci, oci-archive, docker-archive, dir
``registry``            a distribution 2.8 registry on 127.0.0.1 with the images pushed
``podman_stores``       containers-storage graph roots (vfs, overlay, a rootless-style one)
                        written by podman load/import/pull/manifest and buildah bud
``dockerd26``           dockerd 26 (Debian 13's, from .engines/trixie) on each store in turn:
                        ``dockerd26_overlayfs``/``_native`` (containerd image store), ``_vfs``
``standalone_containerd``  containerd 1.7 on a private root, OCI archives imported with ``ctr``

Each skips with a one-line reason when not root, a binary is missing, or a
daemon does not start. Tests using any of them get the ``engines`` marker, so
``-m "not engines"`` deselects them.

Modules: ``processes`` (commands, daemons, cleanup, HTTP over a unix socket), ``namespaces``
(private mount namespaces), ``session`` (``engines_tmp``, ``engine_namespaces``, the skip
checks), ``images`` (image names, Dockerfiles, ``build_context``), ``records`` (ImageTruth,
Artifact), ``dockerd`` (``dockerd``, ``docker_saves``), ``containers_storage``
(``containers_storage``, ``buildah``, ``podman``, ``podman_service``, ``skopeo``), ``registry``,
``podman_stores``.
This package exposes the fixtures, the pytest hooks and the names tests import.
"""

from __future__ import annotations

import pytest

from tests.plugins.engines.containerd import StandaloneContainerd, standalone_containerd
from tests.plugins.engines.containers_storage import (
    BuildahImages,
    ContainersStorage,
    PodmanSaves,
    PodmanService,
    SkopeoCopies,
    buildah,
    containers_storage,
    podman,
    podman_service,
    skopeo,
)
from tests.plugins.engines.dockerd import (
    DOCKER_API_VERSION,
    DOCKER_CLI,
    Dockerd,
    DockerSave,
    DockerSaves,
    docker_saves,
    dockerd,
)
from tests.plugins.engines.dockerd26 import (
    Dockerd26,
    dockerd26,
    dockerd26_native,
    dockerd26_overlayfs,
    dockerd26_vfs,
)
from tests.plugins.engines.images import (
    BASE,
    BUILD_ARGS,
    BUILDAH_DEFAULT,
    BUILDAH_LAYERS,
    CS_BASE,
    FULL,
    FULL_DOCKERFILE,
    FULL_TAGS,
    SMALL,
    SMALL_DOCKERFILE,
    BuildContext,
    build_context,
)
from tests.plugins.engines.namespaces import Namespaces
from tests.plugins.engines.podman_stores import PodmanStores, podman_images, podman_stores
from tests.plugins.engines.processes import (
    Daemon,
    EngineError,
    run,
    tcp_http_get,
    unix_http_get,
)
from tests.plugins.engines.records import Artifact, ImageTruth
from tests.plugins.engines.registry import Pushed, Registry, registry
from tests.plugins.engines.session import engine_namespaces, engines_tmp, require_engines

__all__ = [
    "BASE",
    "BUILDAH_DEFAULT",
    "BUILDAH_LAYERS",
    "BUILD_ARGS",
    "CS_BASE",
    "DOCKER_API_VERSION",
    "DOCKER_CLI",
    "ENGINE_FIXTURES",
    "FULL",
    "FULL_DOCKERFILE",
    "FULL_TAGS",
    "SMALL",
    "SMALL_DOCKERFILE",
    "Artifact",
    "BuildContext",
    "BuildahImages",
    "ContainersStorage",
    "Daemon",
    "DockerSave",
    "DockerSaves",
    "Dockerd",
    "Dockerd26",
    "EngineError",
    "ImageTruth",
    "Namespaces",
    "PodmanSaves",
    "PodmanService",
    "PodmanStores",
    "Pushed",
    "Registry",
    "SkopeoCopies",
    "StandaloneContainerd",
    "build_context",
    "buildah",
    "containers_storage",
    "docker_saves",
    "dockerd",
    "dockerd26",
    "dockerd26_native",
    "dockerd26_overlayfs",
    "dockerd26_vfs",
    "engine_namespaces",
    "engines_tmp",
    "podman",
    "podman_images",
    "podman_service",
    "podman_stores",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "registry",
    "require_engines",
    "run",
    "skopeo",
    "standalone_containerd",
    "tcp_http_get",
    "unix_http_get",
]

ENGINE_FIXTURES = frozenset(
    {
        "engines_tmp",
        "engine_namespaces",
        "build_context",
        "dockerd",
        "docker_saves",
        "containers_storage",
        "buildah",
        "podman",
        "podman_service",
        "skopeo",
        "registry",
        "podman_stores",
        "dockerd26",
        "dockerd26_native",
        "dockerd26_overlayfs",
        "dockerd26_vfs",
        "standalone_containerd",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "engines: uses real container engines (root, docker.io, buildah, podman, "
        "skopeo, docker-registry); skipped when they are not available",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if ENGINE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.engines)
