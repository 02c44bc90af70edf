"""dockerd 26.1.5 (Debian 13's docker.io, docker-cli, docker-buildx, containerd 1.7) on private
sockets and data roots: with the containerd image store (snapshotters ``overlayfs`` and
``native``) and with the classic store (``vfs``), each with real BuildKit and classic builds.

The binaries come from ``.engines/trixie/root`` (``scripts/fetch-engines.sh``, which test.sh
runs): the same on Debian 12 and 13, nothing installed system-wide. dockerd starts its own
containerd (``<data-root>/containerd/daemon``, the layout the containerd store keeps on
disk) from trixie's binaries; runc is the system's (trixie's needs glibc 2.38).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.plugins.engines.dockerd import NO_NETWORK, Dockerd
from tests.plugins.engines.images import BASE, FULL, FULL_TAGS, SMALL, BuildContext
from tests.plugins.engines.namespaces import Namespaces
from tests.plugins.engines.processes import _unmount_under
from tests.plugins.engines.records import ImageTruth
from tests.plugins.engines.session import base_env, require_engines
from tests.support.needs import unavailable

TRIXIE = Path(__file__).resolve().parents[3] / ".engines" / "trixie" / "root"
API_VERSION = "1.45"  # dockerd 26.1's

MULTI = "reconstruct-test/multi:1"  # multi-stage, RUN heredocs (BuildKit)
TWO = "reconstruct-test/two:1"  # linux/amd64 + linux/arm64, COPY only (no emulation needed)
PROV = "reconstruct-test/prov:1"  # --provenance=mode=max
CLASSIC = "reconstruct-test/classic:1"  # the classic builder (DOCKER_BUILDKIT=0)
DANGLING_TAG = "reconstruct-test/dangling:1"  # built twice: the first build is left dangling

MULTI_DOCKERFILE = """\
FROM busybox:local AS build
RUN <<EOF
echo one > /one.txt
echo two >> /one.txt
EOF
FROM busybox:local
COPY --from=build /one.txt /one.txt
RUN <<EOT sh
echo heredoc > /h.txt
EOT
ENV STAGE=final
CMD ["cat", "/one.txt"]
"""
TWO_DOCKERFILE = """\
FROM scratch
COPY hello.txt /hello.txt
LABEL two=platforms
CMD ["/hello.txt"]
"""
DANGLING_DOCKERFILE = """\
FROM busybox:local
RUN echo {n} > /n.txt
"""

STORES = ("overlayfs", "native", "vfs")  # the first two: the containerd image store


@dataclass
class Built:
    """What one store holds after the builds: ``refs`` every tagged image built,
    ``dangling`` the IDs `docker images --filter dangling=true` gives in full (the classic
    builder's intermediate images, and whatever the rebuild of DANGLING_TAG left untagged),
    ``multi_platform`` the refs with more than one platform."""

    refs: tuple[str, ...]
    dangling: frozenset[str]
    multi_platform: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)  # alias tag → the ref it names


class Dockerd26(Dockerd):
    """dockerd 26 on one store: ``store`` is ``overlayfs`` or ``native`` (the containerd image
    store, ``containerd_store`` True) or ``vfs`` (classic). As Dockerd, plus:

    ``containerd_root``  ``<data-root>/containerd/daemon`` (the containerd store's root)
    ``built``            Built: what the builds left
    ``buildx(*args)``    ``docker buildx`` with the builder of this dockerd
    """

    def __init__(self, tmp: Path, namespaces: Namespaces, store: str):
        self.store = store
        self.containerd_store = store != "vfs"
        super().__init__(tmp, namespaces, name=f"d26-{store}")
        self.cli = str(TRIXIE / "usr/bin/docker")
        self.containerd_root = self.data_root / "containerd" / "daemon"
        self.containerd_log = self.log  # dockerd logs its own containerd's output
        config = self.dir / "cli-config"
        config.mkdir()
        (config / "config.json").write_text(
            json.dumps({"cliPluginsExtraDirs": [str(TRIXIE / "usr/libexec/docker/cli-plugins")]})
        )
        self.env = self.daemon_env() | {"DOCKER_HOST": self.host, "DOCKER_CONFIG": str(config)}
        self.built: Built | None = None

    def daemon_env(self) -> dict[str, str]:
        env = base_env()
        env["PATH"] = f"{TRIXIE}/usr/sbin:{TRIXIE}/usr/bin:{env['PATH']}"
        return env

    def _write_configs(self) -> None:
        config: dict[str, object] = {"storage-driver": self.store}
        if self.containerd_store:
            config["features"] = {"containerd-snapshotter": True}
        (self.dir / "daemon.json").write_text(json.dumps(config))

    def _command(self) -> list[str]:
        return self._ns.wrap(
            [
                str(TRIXIE / "usr/sbin/dockerd"),
                f"--config-file={self.dir / 'daemon.json'}",
                *NO_NETWORK,
                f"--host={self.host}",
                f"--data-root={self.data_root}",
                f"--exec-root={self.exec_root}",
                f"--pidfile={self.dir / 'docker.pid'}",
                f"--cgroup-parent=/{self.cgroup_parent}",
            ]
        )

    def api_get(self, path: str) -> object:
        from tests.plugins.engines.processes import EngineError, unix_http_get

        self.start()
        status, body = unix_http_get(self.socket, f"/v{API_VERSION}{path}")
        if status != 200:
            raise EngineError(f"GET {path}: {status} {body[:200]!r}")
        return json.loads(body)

    def config_bytes(self, image_id: str) -> bytes:
        """The exact config: a content-store blob, or the classic imagedb file."""
        hexpart = image_id.split(":")[1]
        if self.containerd_store:
            return (
                self.containerd_root / "io.containerd.content.v1.content/blobs/sha256" / hexpart
            ).read_bytes()
        return (
            self.data_root / "image" / self.store / "imagedb/content/sha256" / hexpart
        ).read_bytes()

    def truth(self, ref: str) -> ImageTruth:
        inspect = json.loads(self.run("image", "inspect", ref).stdout)[0]
        lines = self.run("history", "--no-trunc", "--format", "{{json .}}", ref).stdout
        image_id = self.config_digest(ref, inspect)
        return ImageTruth(
            ref=ref,
            id=image_id,
            config_raw=self.config_bytes(image_id),
            inspect=inspect,
            history=[json.loads(line) for line in lines.splitlines() if line.strip()],
            history_api=self.api_get(f"/images/{ref}/history"),
        )

    def config_digest(self, ref: str, inspect: dict) -> str:
        """The host platform's config digest: the classic store's Id; on the containerd store,
        what `docker image inspect --format {{.Config.Image}}` cannot say, so from the
        content store, following the target (index → host manifest → config)."""
        if not self.containerd_store:
            return inspect["Id"]
        blobs = self.containerd_root / "io.containerd.content.v1.content/blobs/sha256"
        document = json.loads((blobs / inspect["Id"].split(":")[1]).read_bytes())
        while "manifests" in document:
            entry = next(
                m
                for m in document["manifests"]
                if m.get("platform", {}).get("architecture") == "amd64"
                and m.get("platform", {}).get("os") == "linux"
            )
            document = json.loads((blobs / entry["digest"].split(":")[1]).read_bytes())
        return document["config"]["digest"]


def _build(d: Dockerd26, ctx: BuildContext, top: Path) -> Built:
    d.run("import", "-", BASE, stdin=ctx.base_tar.read_bytes())
    args = [a for k, v in ctx.build_args.items() for a in ("--build-arg", f"{k}={v}")]
    build = ("buildx", "build", "-q", "--network", "none")
    d.run(*build, *args, "-t", FULL, str(ctx.full))
    for tag in FULL_TAGS:
        d.run("tag", FULL, tag)
    d.run(*build, "-t", SMALL, str(ctx.small))
    contexts = top / f"contexts-{d.store}"
    for name, text in (("multi", MULTI_DOCKERFILE), ("two", TWO_DOCKERFILE)):
        (contexts / name).mkdir(parents=True)
        (contexts / name / "Dockerfile").write_text(text)
        (contexts / name / "hello.txt").write_text("hello\n")
    d.run(*build, "-t", MULTI, str(contexts / "multi"))
    refs = [BASE, FULL, *FULL_TAGS, SMALL, MULTI]
    multi_platform: list[str] = []
    if d.containerd_store:  # the classic store keeps one platform and no attestations
        d.run(*build, "--platform", "linux/amd64,linux/arm64", "-t", TWO, str(contexts / "two"))
        d.run(*build, "--provenance=mode=max", "-t", PROV, str(ctx.small))
        refs += [TWO, PROV]
        multi_platform.append(TWO)
    classic = d.env | {"DOCKER_BUILDKIT": "0"}
    from tests.plugins.engines.processes import run

    run(
        [d.cli, "build", "-q", "--network", "none", *args, "-t", CLASSIC, str(ctx.full)],
        env=classic,
    )
    refs.append(CLASSIC)
    for n in (1, 2):
        folder = contexts / f"dangling{n}"
        folder.mkdir()
        (folder / "Dockerfile").write_text(DANGLING_DOCKERFILE.format(n=n))
        d.run(*build, "-t", DANGLING_TAG, str(folder))
    refs.append(DANGLING_TAG)
    listed = d.run("images", "-a", "--filter", "dangling=true", "--no-trunc", "--format", "{{.ID}}")
    dangling = frozenset(listed.stdout.decode().split())
    for ref in refs:
        d.images[ref] = d.truth(ref)
    aliases = dict.fromkeys(FULL_TAGS, FULL)
    return Built(tuple(refs), dangling, tuple(multi_platform), aliases)


def _dockerd26(engines_tmp: Path, namespaces: Namespaces, ctx: BuildContext, store: str):
    require_engines("unshare", "runc")
    if not (TRIXIE / "usr/sbin/dockerd").exists():
        unavailable(f"engines: no dockerd 26 in {TRIXIE}: run scripts/fetch-engines.sh")
    d = Dockerd26(engines_tmp, namespaces, store)
    try:
        d.start()
        d.context = ctx
        d.built = _build(d, ctx, engines_tmp)
        yield d
    finally:
        d.stop()
        _unmount_under(d.dir)


@pytest.fixture(scope="session")
def dockerd26_overlayfs(engines_tmp, engine_namespaces, build_context) -> Iterator[Dockerd26]:
    """dockerd 26, containerd image store, overlayfs snapshotter; see Dockerd26."""
    yield from _dockerd26(engines_tmp, engine_namespaces, build_context, "overlayfs")


@pytest.fixture(scope="session")
def dockerd26_native(engines_tmp, engine_namespaces, build_context) -> Iterator[Dockerd26]:
    """dockerd 26, containerd image store, native snapshotter; see Dockerd26."""
    yield from _dockerd26(engines_tmp, engine_namespaces, build_context, "native")


@pytest.fixture(scope="session")
def dockerd26_vfs(engines_tmp, engine_namespaces, build_context) -> Iterator[Dockerd26]:
    """dockerd 26, classic store (vfs); see Dockerd26."""
    yield from _dockerd26(engines_tmp, engine_namespaces, build_context, "vfs")


@pytest.fixture(scope="session", params=STORES)
def dockerd26(request) -> Dockerd26:
    """Each dockerd 26 store in turn (tests using it run once per store)."""
    return request.getfixturevalue(f"dockerd26_{request.param}")
