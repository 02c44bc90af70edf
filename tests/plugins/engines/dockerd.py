"""dockerd 20.10 with its own containerd on a private socket (``dockerd``), and ``docker save``
archives of its images (``docker_saves``)."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.plugins.engines.images import BASE, FULL, FULL_TAGS, SMALL, BuildContext
from tests.plugins.engines.namespaces import Namespaces
from tests.plugins.engines.processes import (
    COMMAND_TIMEOUT,
    Daemon,
    EngineError,
    _kill_strays,
    _unmount_under,
    run,
    unix_http_get,
)
from tests.plugins.engines.records import ImageTruth
from tests.plugins.engines.session import base_env, cgroup_name, require_engines
from tests.support.needs import unavailable

REPO = Path(__file__).resolve().parents[3]


def legacy_root() -> Path | None:
    """Where dockerd 20.10 and containerd 1.6 are: the system's on Debian 12 (None), else
    bookworm's packages unpacked by `scripts/fetch-engines.sh bookworm` (Debian 13's own
    docker.io is 26, tested by dockerd26.py)."""
    try:
        release = Path("/etc/debian_version").read_text().split(".")[0].strip()
    except OSError:
        return None
    return None if release == "12" else REPO / ".engines" / "bookworm" / "root"


LEGACY_ROOT = legacy_root()
# /usr/local/bin/docker on these machines is a 28.x client; the docker.io one
# matches dockerd 20.10 (API 1.41).
DOCKER_CLI = str(LEGACY_ROOT / "usr/bin/docker") if LEGACY_ROOT else "/usr/bin/docker"
DOCKER_API_VERSION = "1.41"
# no network at all: no bridge, no iptables, no sysctl changes
NO_NETWORK = (
    "--bridge=none",
    "--iptables=false",
    "--ip6tables=false",
    "--ip-forward=false",
    "--ip-masq=false",
)


# Runs containerd and then dockerd ("$@") as children of this shell, which
# stays their parent: on SIGTERM it stops dockerd, then containerd, and reaps
# both (with `exec dockerd`, containerd would be orphaned to PID 1 when
# dockerd exits and linger as a zombie on machines whose init reaps late).
_DOCKERD_SCRIPT = r"""
cfg=$1 clog=$2 sock=$3; shift 3
containerd --config "$cfg" >>"$clog" 2>&1 &
cpid=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
"$@" &
dpid=$!
trap 'kill -TERM $dpid 2>/dev/null' TERM INT
wait $dpid
wait $dpid
kill -TERM $cpid 2>/dev/null
wait $cpid
"""


class Dockerd:
    """dockerd 20.10 (docker.io) with its own containerd, on a private socket.

    ``host``        ``unix://<tmp>/docker/docker.sock``
    ``socket``      that socket's path
    ``data_root``   ``--data-root``; ``image/vfs/imagedb/content/sha256/<id>``
                    holds each exact config
    ``exec_root``, ``log`` (dockerd's), ``containerd_log``
    ``env``         environment for the docker CLI (DOCKER_HOST, DOCKER_CONFIG,
                    DOCKER_BUILDKIT=0, DOCKER_API_VERSION)
    ``images``      ref -> ImageTruth for busybox:local, reconstruct-test/full:1
                    (also tagged :latest and reconstruct-test/alias:1) and
                    reconstruct-test/small:1
    ``context``     the BuildContext used

    ``run(*args)`` runs the docker CLI against it (starting the daemon again if
    a test stopped it) and returns the CompletedProcess; ``stop()`` stops
    daemon and containerd (data root stays readable); ``start()`` restarts on
    the same data root; ``with stopped():`` stops then restarts.
    """

    def __init__(self, tmp: Path, namespaces: Namespaces, name: str = "docker"):
        self.dir = tmp / name
        self.socket = self.dir / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.data_root = self.dir / "root"
        self.exec_root = self.dir / "exec"
        self.log = self.dir / "dockerd.log"
        self.containerd_log = self.dir / "containerd.log"
        self.containerd_socket = self.dir / "containerd" / "containerd.sock"
        self.images: dict[str, ImageTruth] = {}
        self.context: BuildContext | None = None
        self.cgroup_parent = cgroup_name(tmp)
        self._ns = namespaces
        self._daemon: Daemon | None = None
        self.dir.mkdir()
        cli = DOCKER_CLI if Path(DOCKER_CLI).exists() else shutil.which("docker") or DOCKER_CLI
        self.cli = cli
        self.env = base_env() | {
            "DOCKER_HOST": self.host,
            "DOCKER_CONFIG": str(self.dir / "cli-config"),
            "DOCKER_BUILDKIT": "0",
            # only matters for a newer client than dockerd's
            "DOCKER_API_VERSION": DOCKER_API_VERSION,
        }
        self._write_configs()

    def _write_configs(self) -> None:
        cd = self.containerd_socket.parent
        (self.dir / "containerd.toml").write_text(
            f"""version = 2
root = "{cd}/root"
state = "{cd}/state"
# the CRI plugin would set up CNI networking: not wanted
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{self.containerd_socket}"
[ttrpc]
  address = ""
[debug]
  address = ""
[metrics]
  address = ""
# default is /opt/containerd
[plugins."io.containerd.internal.v1.opt"]
  path = "{cd}/opt"
"""
        )
        # dockerd 20.10 writes /etc/docker/key.json unless told otherwise, and
        # reads /etc/docker/daemon.json unless given --config-file.
        (self.dir / "daemon.json").write_text(
            json.dumps({"deprecated-key-path": str(self.dir / "key.json")})
        )

    def _command(self) -> list[str]:
        dockerd = [
            "dockerd",
            f"--config-file={self.dir / 'daemon.json'}",
            # our own containerd: without --containerd, dockerd 20.10 would use a
            # system one at /run/containerd/containerd.sock if there is one
            f"--containerd={self.containerd_socket}",
            "--storage-driver=vfs",
            *NO_NETWORK,
            f"--host={self.host}",
            f"--data-root={self.data_root}",
            f"--exec-root={self.exec_root}",
            f"--pidfile={self.dir / 'docker.pid'}",
            # containers' cgroups under a name we remove at teardown
            f"--cgroup-parent=/{self.cgroup_parent}",
        ]
        script = [
            "sh",
            "-c",
            _DOCKERD_SCRIPT,
            "sh",
            str(self.dir / "containerd.toml"),
            str(self.containerd_log),
            str(self.containerd_socket),
        ]
        return self._ns.wrap(script + dockerd)

    @property
    def running(self) -> bool:
        return self._daemon is not None and self._daemon.alive()

    def start(self) -> None:
        if self.running:
            return
        self.socket.unlink(missing_ok=True)
        self._daemon = Daemon(
            "dockerd", self._command(), self.log, self.daemon_env(), (self.containerd_log,)
        )
        self._daemon.start()
        self._daemon.wait_ready(self._ping)

    def daemon_env(self) -> dict[str, str]:
        env = base_env()
        if LEGACY_ROOT is not None:  # bookworm's dockerd and containerd first, the system's runc
            env["PATH"] = f"{LEGACY_ROOT}/usr/sbin:{LEGACY_ROOT}/usr/bin:{env['PATH']}"
        return env

    def _ping(self) -> bool:
        return self.socket.exists() and unix_http_get(self.socket, "/_ping", 5)[0] == 200

    def stop(self) -> None:
        if self._daemon is not None:
            self._daemon.stop()
            self._daemon = None
        _kill_strays(str(self.containerd_socket))  # shims of a killed containerd

    @contextlib.contextmanager
    def stopped(self) -> Iterator[Dockerd]:
        self.stop()
        try:
            yield self
        finally:
            self.start()

    def run(
        self, *args: str, timeout: float = COMMAND_TIMEOUT, **kw
    ) -> subprocess.CompletedProcess[bytes]:
        self.start()
        return run([self.cli, *args], env=self.env, timeout=timeout, **kw)

    def api_get(self, path: str) -> object:
        """GET an Engine API path (e.g. ``/images/json``) and decode its JSON."""
        self.start()
        status, body = unix_http_get(self.socket, f"/v{DOCKER_API_VERSION}{path}")
        if status != 200:
            raise EngineError(f"GET {path}: {status} {body[:200]!r}")
        return json.loads(body)

    def truth(self, ref: str) -> ImageTruth:
        inspect = json.loads(self.run("image", "inspect", ref).stdout)[0]
        lines = self.run("history", "--no-trunc", "--format", "{{json .}}", ref).stdout
        image_id = inspect["Id"]
        config = self.data_root / "image/vfs/imagedb/content/sha256" / image_id.split(":")[1]
        return ImageTruth(
            ref=ref,
            id=image_id,
            config_raw=config.read_bytes(),
            inspect=inspect,
            history=[json.loads(line) for line in lines.splitlines() if line.strip()],
            history_api=self.api_get(f"/images/{ref}/history"),
        )


def _build_docker_images(d: Dockerd, ctx: BuildContext) -> None:
    d.run("import", "-", BASE, stdin=ctx.base_tar.read_bytes())
    build_args = [a for k, v in ctx.build_args.items() for a in ("--build-arg", f"{k}={v}")]
    # --network none: with --bridge=none there is no default network for RUN
    d.run("build", "-q", "--network", "none", *build_args, "-t", FULL, str(ctx.full))
    for tag in FULL_TAGS:
        d.run("tag", FULL, tag)
    d.run("build", "-q", "--network", "none", "-t", SMALL, str(ctx.small))
    for ref in (BASE, FULL, SMALL):
        d.images[ref] = d.truth(ref)


@pytest.fixture(scope="session")
def dockerd(
    engines_tmp: Path, engine_namespaces: Namespaces, build_context: BuildContext
) -> Iterator[Dockerd]:
    """dockerd with busybox:local imported and the test images built; see Dockerd."""
    if LEGACY_ROOT is None:
        require_engines("dockerd", "containerd", "runc", "unshare")
    else:
        require_engines("runc", "unshare")
        if not (LEGACY_ROOT / "usr/sbin/dockerd").exists():
            unavailable(
                f"engines: no dockerd 20.10 in {LEGACY_ROOT}: run scripts/fetch-engines.sh bookworm"
            )
    if not (Path(DOCKER_CLI).exists() or shutil.which("docker")):
        unavailable("engines: no docker CLI")
    d = Dockerd(engines_tmp, engine_namespaces)
    try:
        d.start()
        d.context = build_context
        _build_docker_images(d, build_context)
        yield d
    finally:
        d.stop()
        _unmount_under(d.dir)


# --------------------------------------------------------------------------
# docker save


@dataclass
class DockerSave:
    """One ``docker save`` output.

    ``path``         the archive; ``compression`` None, "gzip", "zstd" or "xz"
                     (made with the command-line compressors, as ``docker save | gzip``)
    ``refs``         what was passed to ``docker save``
    ``manifest``     its manifest.json (list, one entry per image)
    ``repositories`` its ``repositories`` file
    ``configs``      config file name in the archive -> exact bytes
    """

    path: Path
    refs: tuple[str, ...]
    compression: str | None
    manifest: list[dict]
    repositories: dict
    configs: dict[str, bytes]
    layout: str = "legacy"  # "legacy" (Docker ≤ 24) or "oci" (Docker ≥ 25: an OCI layout inside)

    def blob_name(self, member: str) -> str:
        """How a reader names ``member``: itself (legacy), or the digest its path spells (oci)."""
        if self.layout == "oci" and member.startswith("blobs/"):
            algorithm, hexpart = member.split("/")[1:3]
            return f"{algorithm}:{hexpart}"
        return member


@dataclass
class DockerSaves:
    """``docker save`` archives of the dockerd images: the legacy layout from Docker ≤ 24
    (Debian 12's 20.10), an OCI layout with manifest.json beside it from Docker ≥ 25
    (Debian 13's 26); ``layout`` of each says which the engine wrote.

    ``full``        reconstruct-test/full:1, plain tar
    ``full_gz``     same, ``| gzip``;  ``full_zst``: ``| zstd``;  ``full_xz``: ``| xz``
    ``small``       reconstruct-test/small:1
    ``two_images``  reconstruct-test/full:1 and reconstruct-test/small:1 in one archive
    ``multi_tag``   reconstruct-test/full:1, :latest and reconstruct-test/alias:1
                    (one image, three RepoTags)
    ``all``         name -> DockerSave for all of the above
    ``images``      ref -> ImageTruth from dockerd
    """

    full: DockerSave
    full_gz: DockerSave
    full_zst: DockerSave
    full_xz: DockerSave
    small: DockerSave
    two_images: DockerSave
    multi_tag: DockerSave
    images: dict[str, ImageTruth]

    @property
    def all(self) -> dict[str, DockerSave]:
        return {
            k: getattr(self, k)
            for k in ("full", "full_gz", "full_zst", "full_xz", "small", "two_images", "multi_tag")
        }


def _read_docker_save(
    path: Path, refs: tuple[str, ...], compression: str | None = None
) -> DockerSave:
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        repositories = json.load(tar.extractfile("repositories"))
        configs = {m["Config"]: tar.extractfile(m["Config"]).read() for m in manifest}
        layout = "oci" if "index.json" in tar.getnames() else "legacy"
    return DockerSave(path, refs, compression, manifest, repositories, configs, layout)


_COMPRESSORS = {
    "gzip": (["gzip", "-c"], ".gz"),
    "zstd": (["zstd", "-q", "-c"], ".zst"),
    "xz": (["xz", "-c", "-T1"], ".xz"),
}


def _compress(save: DockerSave, kind: str) -> DockerSave:
    cmd, suffix = _COMPRESSORS[kind]
    out = save.path.with_name(save.path.name + suffix)
    run([*cmd, str(save.path)], stdout_path=out)
    return DockerSave(
        out, save.refs, kind, save.manifest, save.repositories, save.configs, save.layout
    )


@pytest.fixture(scope="session")
def docker_saves(dockerd: Dockerd, engines_tmp: Path) -> DockerSaves:
    """``docker save`` outputs; see DockerSaves."""
    require_engines("gzip", "zstd", "xz")
    out = engines_tmp / "saves"
    out.mkdir()

    def save(name: str, *refs: str) -> DockerSave:
        path = out / f"{name}.tar"
        dockerd.run("save", "-o", str(path), *refs)
        return _read_docker_save(path, refs)

    full = save("full", FULL)
    return DockerSaves(
        full=full,
        full_gz=_compress(full, "gzip"),
        full_zst=_compress(full, "zstd"),
        full_xz=_compress(full, "xz"),
        small=save("small", SMALL),
        two_images=save("two-images", FULL, SMALL),
        multi_tag=save("multi-tag", FULL, *FULL_TAGS),
        images=dockerd.images,
    )
