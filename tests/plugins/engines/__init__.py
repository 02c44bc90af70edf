"""Real container engines for the test suite, as a pytest plugin.

Registered from ``tests/conftest.py`` with ``pytest_plugins = ["tests.engines"]``.
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

Each skips with a one-line reason when not root, a binary is missing, or a
daemon does not start. Tests using any of them get the ``engines`` marker, so
``-m "not engines"`` deselects them.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import io
import itertools
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.needs import need_tools, unavailable

COMMAND_TIMEOUT = 180  # seconds for any one engine command
START_TIMEOUT = 60  # seconds for a daemon to answer
STOP_TIMEOUT = 20  # seconds for a daemon to exit after SIGTERM

# /usr/local/bin/docker on these machines is a 28.x client; the docker.io one
# matches dockerd 20.10 (API 1.41).
DOCKER_CLI = "/usr/bin/docker"
DOCKER_API_VERSION = "1.41"

BUILD_ARGS = {"TOKEN": "s3cr3t"}
FULL = "reconstruct-test/full:1"
FULL_TAGS = ("reconstruct-test/full:latest", "reconstruct-test/alias:1")
SMALL = "reconstruct-test/small:1"
BASE = "busybox:local"
# containers-storage qualifies short names with localhost/
BUILDAH_DEFAULT = "localhost/reconstruct-test/full:buildah"
BUILDAH_LAYERS = "localhost/reconstruct-test/full:buildah-layers"
CS_BASE = "localhost/busybox:local"

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
    }
)

ENGINES_TMP: Path | None = None  # the session's directory, once created

FULL_DOCKERFILE = """\
FROM busybox:local
ARG VERSION=1.2.3
ARG TOKEN
ARG UNSET
ENV APP_HOME=/opt/app \\
    APP_VERSION=$VERSION
ENV LANG=C.UTF-8 GREETING="hello world"
LABEL org.opencontainers.image.title="reconstruct test" version=$VERSION
COPY hello.txt /opt/app/hello.txt
COPY conf/ /opt/app/conf/
ADD payload.tar /opt/app/payload/
ADD notes.txt /opt/app/
RUN echo "version=$VERSION token=$TOKEN" > /opt/app/built.txt && mkdir -p /data /logs
RUN true
RUN ["/bin/sh", "-c", "echo exec-form > /opt/app/exec.txt"]
WORKDIR /opt/app
SHELL ["/bin/sh", "-e", "-c"]
RUN echo shell-form > /opt/app/shell.txt
USER 1000:1000
EXPOSE 8080/tcp 53/udp
VOLUME ["/data", "/logs"]
HEALTHCHECK --interval=30s --timeout=3s CMD wget -q -O- http://127.0.0.1:8080/ || exit 1
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo \\"hello world\\""]
"""

SMALL_DOCKERFILE = """\
FROM busybox:local
RUN echo small > /small.txt
CMD ["cat", "/small.txt"]
"""


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


# --------------------------------------------------------------------------
# processes


class EngineError(RuntimeError):
    """An engine command failed; the message ends with its output."""


def _tail(text: str, lines: int = 8) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def run(
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = COMMAND_TIMEOUT,
    stdin: bytes | None = None,
    stdout_path: Path | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``cmd`` in its own process group; on timeout kill the whole group.

    Raises EngineError when it exits non-zero. With ``stdout_path`` the
    standard output goes to that file (for ``docker save | gzip``-like steps).
    """
    out = open(stdout_path, "wb") if stdout_path else subprocess.PIPE  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        try:
            stdout, stderr = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            _killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise EngineError(f"timed out after {timeout}s: {_describe(cmd)}") from None
    finally:
        if stdout_path:
            out.close()
    if proc.returncode != 0:
        text = (stderr or b"").decode(errors="replace")
        raise EngineError(f"{_describe(cmd)} exited {proc.returncode}: {_tail(text)}")
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout or b"", stderr)


def _describe(cmd: list[str]) -> str:
    """The command line without the namespace wrapper, shortened."""
    if _NS_SCRIPT in cmd:
        cmd = cmd[cmd.index(_NS_SCRIPT) + 3 :]
    text = " ".join(cmd)
    return text if len(text) < 400 else text[:400] + "..."


def _die_with_parent() -> None:
    """In the child: get SIGTERM when pytest dies, even by SIGKILL (no teardown).

    Daemons run in their own sessions, so nothing else would stop them.
    """
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class Daemon:
    """A long-running process in its own session, logging to a file."""

    def __init__(
        self, name: str, cmd: list[str], log: Path, env: dict[str, str], other_logs: tuple = ()
    ):
        self.name, self.cmd, self.log, self.env = name, cmd, log, env
        self.other_logs: tuple[Path, ...] = other_logs  # also quoted when it fails
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 6) -> str:
        parts = []
        for log in (self.log, *self.other_logs):
            with contextlib.suppress(OSError):
                text = log.read_text(errors="replace").strip()
                if text:
                    parts.append(f"[{log.name}] {_tail(text, lines)}")
        return " ".join(parts) or "(empty log)"

    def wait_ready(self, ready: Callable[[], bool], timeout: float = START_TIMEOUT) -> None:
        """Poll ``ready()`` until true; skip the test if the daemon dies or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                self.stop()
                unavailable(f"engines: {self.name} exited at start: {self.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if ready():
                    return
            time.sleep(0.2)
        self.stop()
        unavailable(f"engines: {self.name} not ready after {timeout}s: {self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM the leader (so it can clean up), then the group, then SIGKILL."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for target, sig in ((proc.pid, signal.SIGTERM), (-proc.pid, signal.SIGTERM)):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(target, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(STOP_TIMEOUT)
        _killpg(proc.pid, signal.SIGKILL)  # stragglers in the group (containerd)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


def _kill_strays(marker: str) -> None:
    """SIGKILL every process whose command line mentions ``marker``.

    Catches what escapes our process groups, e.g. containerd-shim-runc-v2
    (it calls setpgid) with ``-address <tmp>/...containerd.sock``.
    """
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        with contextlib.suppress(OSError):
            if marker.encode() in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)


def _unmount_under(root: Path) -> None:
    """Lazily unmount whatever is mounted at or below ``root``, deepest first."""
    prefix = str(root)
    points = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            # field 5 is the mount point, with space/tab/newline/backslash octal-escaped
            point = line.split()[4].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    for point in sorted(set(points), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30, check=False)


def _remove_cgroups(name: str) -> None:
    """Remove the (empty) cgroup ``name`` dockerd made, in every hierarchy."""
    for hierarchy in Path("/sys/fs/cgroup").glob("*"):
        top = hierarchy / name
        if not top.is_dir():
            continue
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)


# --------------------------------------------------------------------------
# HTTP over a unix socket (Docker Engine API), without third-party clients


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 10):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def unix_http_get(socket_path: Path | str, path: str, timeout: float = 30) -> tuple[int, bytes]:
    """GET ``path`` from an HTTP server on a unix socket; (status, body)."""
    conn = _UnixHTTPConnection(str(socket_path), timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def tcp_http_get(host: str, path: str, timeout: float = 5) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------
# private mount namespaces

# Runs "$@" in a new mount namespace where /etc, /var and /opt are overlays
# whose upper layer is "$1/<n>.upper" (so writes to fixed global paths stay in
# our temp dir) and /run is an empty tmpfs (hides a system containerd/dockerd
# socket, takes /run/docker and /run/containerd/s writes). Everything mounted
# in the namespace goes away when its last process exits.
_NS_SCRIPT = r"""
set -e
ov=$1; shift
# /run first, and -n: mount(8) would otherwise create /run/mount/utab on the host
mount -n -t tmpfs -o mode=0755 tmpfs /run
for d in /etc /var /opt; do
    [ -d "$d" ] || continue
    n=${d#/}
    mkdir -p "$ov/$n.upper" "$ov/$n.work"
    mount -n -t overlay overlay -o "lowerdir=$d,upperdir=$ov/$n.upper,workdir=$ov/$n.work" "$d"
done
exec "$@"
"""

_ns_counter = itertools.count()


class Namespaces:
    """Makes ``unshare`` command lines; each gets its own overlay directory.

    ``etc_files`` (relative path -> text) are put into every overlay's /etc, so
    tools without a flag for it read our registries.conf, policy.json etc.
    """

    def __init__(self, root: Path):
        self.root = root
        self.etc_files: dict[str, str] = {}

    def wrap(self, argv: list[str]) -> list[str]:
        ov = self.root / f"ns{next(_ns_counter):03d}"
        for rel, text in self.etc_files.items():
            target = ov / "etc.upper" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        ov.mkdir(parents=True, exist_ok=True)
        return [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            _NS_SCRIPT,
            "sh",
            str(ov),
            *argv,
        ]

    def written(self) -> list[str]:
        """Paths the engines wrote under /etc, /var, /opt (made private by the overlays)."""
        found = set()
        for upper in self.root.glob("ns*/*.upper"):
            top = "/" + upper.name.removesuffix(".upper")
            for path in upper.rglob("*"):
                if not path.is_dir():
                    found.add(f"{top}/{path.relative_to(upper)}")
        return sorted(found)


# --------------------------------------------------------------------------
# skipping


def require_engines(*binaries: str) -> None:
    """Skip unless root and every binary (name on PATH or absolute path) exists."""
    if os.environ.get("RECONSTRUCT_SKIP_ENGINES"):
        pytest.skip("engines: RECONSTRUCT_SKIP_ENGINES is set")
    if os.geteuid() != 0:
        pytest.skip("engines: not root")
    need_tools(*binaries)
    _probe_namespaces()


_ns_probe_result: list[str] = []


def _probe_namespaces() -> None:
    if not _ns_probe_result:
        with tempfile.TemporaryDirectory(prefix="engines-probe-") as tmp:
            try:
                run(Namespaces(Path(tmp)).wrap(["true"]), timeout=30)
                _ns_probe_result.append("")
            except (EngineError, OSError) as exc:
                _ns_probe_result.append(f"engines: private mount namespace unavailable: {exc}")
    if _ns_probe_result[0]:
        unavailable(_ns_probe_result[0])


# --------------------------------------------------------------------------
# ground truth records


@dataclass
class ImageTruth:
    """What the producing engine reports about one image in its own store.

    ``ref``          the name it was built/tagged as
    ``id``           ``sha256:<config digest>``
    ``config_raw``   the exact config JSON bytes (docker: imagedb file;
                     containers-storage: ``skopeo inspect --config --raw``)
    ``inspect``      ``docker image inspect`` / ``buildah inspect --type image``
    ``history``      CLI history, newest first: ``docker history --no-trunc
                     --format '{{json .}}'`` lines, or ``podman history
                     --no-trunc --format json``
    ``history_api``  Engine API ``GET /images/{ref}/history`` (dockerd only)
    ``manifest_raw`` the stored manifest (containers-storage only; dockerd
                     keeps none for local builds)
    """

    ref: str
    id: str
    config_raw: bytes
    inspect: dict
    history: list[dict]
    history_api: list[dict] | None = None
    manifest_raw: bytes | None = None

    @property
    def config(self) -> dict:
        return json.loads(self.config_raw)

    @property
    def manifest(self) -> dict | None:
        return json.loads(self.manifest_raw) if self.manifest_raw else None


@dataclass
class Artifact:
    """An image written to a file or directory by a real tool.

    ``path``          the file or directory
    ``transport``     containers/image transport: docker-archive, oci-archive, oci, dir
    ``ref``           full skopeo reference, e.g. ``oci:/tmp/x/oci:1``
    ``manifest_raw``  ``skopeo inspect --raw <ref>`` (for docker-archive skopeo
                      synthesises a v2s2 manifest: the archive has none)
    ``config_raw``    ``skopeo inspect --config --raw <ref>`` (exact bytes)
    ``files``         the format's own index files, exact bytes: ``manifest.json``
                      and ``repositories`` of a docker-archive; ``index.json``
                      and ``oci-layout`` of an OCI layout / archive; ``manifest.json``
                      and ``version`` of a dir:
    """

    path: Path
    transport: str
    ref: str
    manifest_raw: bytes
    config_raw: bytes
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def manifest(self) -> dict:
        return json.loads(self.manifest_raw)

    @property
    def config(self) -> dict:
        return json.loads(self.config_raw)


_INDEX_FILES = ("manifest.json", "repositories", "index.json", "oci-layout", "version")


def _index_files(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {n: (path / n).read_bytes() for n in _INDEX_FILES if (path / n).is_file()}
    with tarfile.open(path) as tar:
        names = set(tar.getnames())
        return {n: tar.extractfile(n).read() for n in _INDEX_FILES if n in names}


# --------------------------------------------------------------------------
# session temp dir and inputs


@pytest.fixture(scope="session")
def engines_tmp(pytestconfig: pytest.Config) -> Iterator[Path]:
    """The session's private directory for every engine, ``/tmp/engines-XXXXXXXX``
    (or under RECONSTRUCT_ENGINES_TMP). Its path is kept short: unix socket paths
    must stay under 108 bytes and podman refuses a runroot longer than 50
    characters. At teardown: kill processes that mention it, unmount below it,
    remove dockerd's cgroup, delete it. With RECONSTRUCT_KEEP_ENGINES set it is
    kept and its path printed. Directories left by a killed session are
    removed at the next start."""
    global ENGINES_TMP
    require_engines()
    base = Path(os.environ.get("RECONSTRUCT_ENGINES_TMP", "/tmp")).resolve()
    if base.parts[1:2] in (("etc",), ("var",), ("opt",), ("run",)):
        # the engines' namespaces mount over these (see _NS_SCRIPT)
        pytest.skip(
            f"engines: RECONSTRUCT_ENGINES_TMP must not be under /etc, /var, /opt, /run: {base}"
        )
    _sweep_stale(base)
    root = Path(tempfile.mkdtemp(prefix="engines-", dir=base))
    (root / "owner.pid").write_text(str(os.getpid()))
    ENGINES_TMP = root
    try:
        yield root
    finally:
        if os.environ.get("RECONSTRUCT_KEEP_ENGINES"):
            _stop_everything(root)
            reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"engines: kept {root}")
        else:
            _cleanup(root)


def _stop_everything(root: Path) -> None:
    _kill_strays(str(root))
    _unmount_under(root)
    _remove_cgroups(_cgroup_name(root))


def _cleanup(root: Path) -> None:
    _stop_everything(root)
    shutil.rmtree(root, ignore_errors=True)


def _sweep_stale(base: Path) -> None:
    """Remove engines-* directories whose pytest process is gone (killed hard)."""
    for old in base.glob("engines-*"):
        try:
            os.kill(int((old / "owner.pid").read_text()), 0)
        except ProcessLookupError:
            _cleanup(old)
        except (OSError, ValueError):
            continue  # not ours, or another session still alive


def _cgroup_name(root: Path) -> str:
    return root.name  # dockerd --cgroup-parent, unique per session


@dataclass
class BuildContext:
    """The inputs every builder uses.

    ``full``         context directory with ``Dockerfile`` (FULL_DOCKERFILE) and
                     hello.txt, conf/, payload.tar (ADD extracts it), notes.txt
    ``small``        context directory for SMALL_DOCKERFILE
    ``dockerfile``   text of the full Dockerfile
    ``build_args``   ``--build-arg`` values (``TOKEN=s3cr3t``; VERSION keeps its default)
    ``base_tar``     the busybox root filesystem tar imported as ``busybox:local``
    """

    full: Path
    small: Path
    dockerfile: str
    build_args: dict[str, str]
    base_tar: Path


def _make_base_tar(path: Path) -> None:
    """bin/busybox plus one symlink per applet, a passwd/group, /tmp."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    applets = run([busybox, "--list"]).stdout.decode().split()

    def add(tar: tarfile.TarFile, name: str, kind: bytes, mode: int, **kw) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime = kind, mode, 1700000000
        data = kw.pop("data", None)
        for key, value in kw.items():
            setattr(info, key, value)
        if data is not None:
            info.size = len(data)
        tar.addfile(info, io.BytesIO(data) if data is not None else None)

    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for d, mode in (("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777)):
            add(tar, d, tarfile.DIRTYPE, mode)
        add(tar, "bin/busybox", tarfile.REGTYPE, 0o755, data=Path(busybox).read_bytes())
        for applet in sorted(set(applets) - {"busybox"}):
            add(tar, f"bin/{applet}", tarfile.SYMTYPE, 0o777, linkname="busybox")
        passwd = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n"
        add(tar, "etc/passwd", tarfile.REGTYPE, 0o644, data=passwd)
        add(tar, "etc/group", tarfile.REGTYPE, 0o644, data=b"root:x:0:\napp:x:1000:\n")


@pytest.fixture(scope="session")
def build_context(engines_tmp: Path) -> BuildContext:
    """Dockerfiles and contexts (see BuildContext). No engine needed."""
    require_engines("busybox")
    top = engines_tmp / "context"
    full, small = top / "full", top / "small"
    (full / "conf").mkdir(parents=True)
    small.mkdir(parents=True)
    (full / "Dockerfile").write_text(FULL_DOCKERFILE)
    (full / "hello.txt").write_text("hello\n")
    (full / "notes.txt").write_text("notes\n")
    (full / "conf" / "app.conf").write_text("a=1\n")
    (full / "conf" / "extra.conf").write_text("b=2\n")
    payload = top / "payload"
    payload.mkdir()
    (payload / "p.txt").write_text("p\n")
    with tarfile.open(full / "payload.tar", "w") as tar:
        tar.add(payload / "p.txt", arcname="p.txt")
    (small / "Dockerfile").write_text(SMALL_DOCKERFILE)
    base_tar = top / "busybox-rootfs.tar"
    _make_base_tar(base_tar)
    return BuildContext(full, small, FULL_DOCKERFILE, dict(BUILD_ARGS), base_tar)


# --------------------------------------------------------------------------
# dockerd

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

    def __init__(self, tmp: Path, namespaces: Namespaces):
        self.dir = tmp / "docker"
        self.socket = self.dir / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.data_root = self.dir / "root"
        self.exec_root = self.dir / "exec"
        self.log = self.dir / "dockerd.log"
        self.containerd_log = self.dir / "containerd.log"
        self.containerd_socket = self.dir / "containerd" / "containerd.sock"
        self.images: dict[str, ImageTruth] = {}
        self.context: BuildContext | None = None
        self.cgroup_parent = _cgroup_name(tmp)
        self._ns = namespaces
        self._daemon: Daemon | None = None
        self.dir.mkdir()
        cli = DOCKER_CLI if Path(DOCKER_CLI).exists() else shutil.which("docker") or DOCKER_CLI
        self.cli = cli
        self.env = _base_env() | {
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
            # no network at all: no bridge, no iptables, no sysctl changes
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",
            "--ip-masq=false",
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
            "dockerd", self._command(), self.log, _base_env(), (self.containerd_log,)
        )
        self._daemon.start()
        self._daemon.wait_ready(self._ping)

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


def _base_env() -> dict[str, str]:
    """A clean environment: sbin on PATH (runc, containerd), and a private HOME so
    no per-user config (~/.docker, ~/.config/containers) is read or written."""
    keep = {k: os.environ[k] for k in ("LANG", "LC_ALL", "TERM") if k in os.environ}
    home = ENGINES_TMP / "home" if ENGINES_TMP else Path(tempfile.gettempdir())
    home.mkdir(exist_ok=True)
    return keep | {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
    }


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
def engine_namespaces(engines_tmp: Path) -> Namespaces:
    """Factory of private mount namespaces (see Namespaces); internal."""
    return Namespaces(engines_tmp / "ns")


@pytest.fixture(scope="session")
def dockerd(
    engines_tmp: Path, engine_namespaces: Namespaces, build_context: BuildContext
) -> Iterator[Dockerd]:
    """dockerd with busybox:local imported and the test images built; see Dockerd."""
    require_engines("dockerd", "containerd", "runc", "unshare")
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


# --------------------------------------------------------------------------
# containers-storage: buildah, podman, skopeo


class ContainersStorage:
    """A private containers-storage (vfs) and config for buildah, podman and skopeo.

    ``root``, ``runroot``   graph root and run root
    ``conf``                directory with storage.conf, registries.conf (no search
                            registries, short names disabled), policy.json
                            (insecureAcceptAnything), containers.conf (cgroupfs,
                            file events, tmp dirs inside ``tmp``)
    ``env``                 CONTAINERS_STORAGE_CONF, CONTAINERS_REGISTRIES_CONF,
                            CONTAINERS_CONF, TMPDIR pointing there
    ``storage_ref(name)``   ``containers-storage:[vfs@root+runroot]name`` for skopeo

    ``buildah(*args)``, ``podman(*args)``, ``skopeo(*args)`` run the tool with
    those settings inside a private mount namespace and return the
    CompletedProcess. ``podman_argv`` is podman's command line with global flags.
    """

    def __init__(self, tmp: Path, namespaces: Namespaces):
        self.dir = tmp / "cs"
        self.root, self.runroot = self.dir / "root", self.dir / "run"  # see engines_tmp
        self.conf, self.tmp = self.dir / "conf", self.dir / "tmp"
        for d in (self.root, self.runroot, self.conf, self.tmp):
            d.mkdir(parents=True)
        self._ns = namespaces
        self._write_configs()
        self.env = _base_env() | {
            "CONTAINERS_STORAGE_CONF": str(self.conf / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(self.conf / "registries.conf"),
            "CONTAINERS_CONF": str(self.conf / "containers.conf"),
            "TMPDIR": str(self.tmp),  # big temporary files (podman save, skopeo)
        }
        store = [
            "--root",
            str(self.root),
            "--runroot",
            str(self.runroot),
            "--storage-driver",
            "vfs",
        ]
        self.buildah_argv = [
            "buildah",
            *store,
            "--registries-conf",
            str(self.conf / "registries.conf"),
        ]
        self.podman_argv = [
            "podman",
            *store,
            "--tmpdir",
            str(self.tmp / "libpod"),
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--network-config-dir",
            str(self.dir / "networks"),
            "--volumepath",
            str(self.dir / "volumes"),
        ]
        self.skopeo_argv = [
            "skopeo",
            "--policy",
            str(self.conf / "policy.json"),
            "--registries.d",
            str(self.conf / "registries.d"),
            "--tmpdir",
            str(self.tmp),
        ]

    def _write_configs(self) -> None:
        files = {
            "storage.conf": (
                f'[storage]\ndriver = "vfs"\n'
                f'graphroot = "{self.root}"\nrunroot = "{self.runroot}"\n'
            ),
            # no search registries and no short-name aliases: nothing is looked up remotely
            "registries.conf": 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n',
            "policy.json": json.dumps({"default": [{"type": "insecureAcceptAnything"}]}),
            "containers.conf": (
                '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                f'events_logfile_path = "{self.dir}/events.log"\ntmp_dir = "{self.tmp}/libpod"\n'
                f'[network]\nnetwork_config_dir = "{self.dir}/networks"\n'
            ),
        }
        (self.conf / "registries.d").mkdir()
        for name, text in files.items():
            (self.conf / name).write_text(text)
            # also at the default path inside the namespaces, for code paths
            # that have no flag or variable (e.g. podman import's policy check)
            self._ns.etc_files[f"containers/{name}"] = text

    def storage_ref(self, name: str) -> str:
        return f"containers-storage:[vfs@{self.root}+{self.runroot}]{name}"

    def _run(
        self, argv: list[str], args: tuple[str, ...], **kw
    ) -> subprocess.CompletedProcess[bytes]:
        return run(self._ns.wrap([*argv, *args]), env=self.env, **kw)

    def buildah(self, *args: str, **kw) -> subprocess.CompletedProcess[bytes]:
        return self._run(self.buildah_argv, args, **kw)

    def podman(self, *args: str, **kw) -> subprocess.CompletedProcess[bytes]:
        return self._run(self.podman_argv, args, **kw)

    def skopeo(self, *args: str, **kw) -> subprocess.CompletedProcess[bytes]:
        return self._run(self.skopeo_argv, args, **kw)

    def artifact(self, path: Path, transport: str, ref: str) -> Artifact:
        """Record what skopeo reports for ``ref`` (see Artifact)."""
        return Artifact(
            path=path,
            transport=transport,
            ref=ref,
            manifest_raw=self.skopeo("inspect", "--raw", ref).stdout,
            config_raw=self.skopeo("inspect", "--config", "--raw", ref).stdout,
            files=_index_files(path) if path.exists() else {},
        )

    def truth(self, ref: str) -> ImageTruth:
        inspect = json.loads(self.buildah("inspect", "--type", "image", ref).stdout)
        config_raw = self.skopeo("inspect", "--config", "--raw", self.storage_ref(ref)).stdout
        return ImageTruth(
            ref=ref,
            id="sha256:" + inspect["FromImageID"],
            config_raw=config_raw,
            inspect=inspect,
            history=json.loads(
                self.podman("history", "--no-trunc", "--format", "json", ref).stdout
            ),
            manifest_raw=self.skopeo("inspect", "--raw", self.storage_ref(ref)).stdout,
        )


@pytest.fixture(scope="session")
def containers_storage(
    engines_tmp: Path, engine_namespaces: Namespaces, build_context: BuildContext
) -> ContainersStorage:
    """Private containers-storage with localhost/busybox:local imported
    (``podman import`` of the same busybox root tar); see ContainersStorage."""
    require_engines("buildah", "podman", "skopeo", "unshare")
    cs = ContainersStorage(engines_tmp, engine_namespaces)
    if len(str(cs.runroot)) > 50:
        unavailable(f"engines: podman needs a runroot under 50 characters, not {cs.runroot}")
    cs.podman("import", "--quiet", str(build_context.base_tar), CS_BASE)
    return cs


@dataclass
class BuildahImages:
    """FULL_DOCKERFILE built by ``buildah bud --isolation chroot`` (buildah 1.28).

    ``default``  without --layers (buildah's default): every instruction is a
                 history entry, all ``empty_layer: true`` but the last, which
                 carries the one new layer; tagged BUILDAH_DEFAULT
    ``layers``   with ``--layers``: a layer per filesystem-changing instruction;
                 tagged BUILDAH_LAYERS
    ``base``     localhost/busybox:local as imported
    ``storage``  the ContainersStorage
    (each an ImageTruth; history is ``podman history --format json``)
    """

    default: ImageTruth
    layers: ImageTruth
    base: ImageTruth
    storage: ContainersStorage


@pytest.fixture(scope="session")
def buildah(containers_storage: ContainersStorage, build_context: BuildContext) -> BuildahImages:
    """The full Dockerfile built by buildah, default and --layers; see BuildahImages."""
    cs = containers_storage
    build_args = [
        a for k, v in build_context.build_args.items() for a in ("--build-arg", f"{k}={v}")
    ]
    # chroot isolation: no user namespace / network namespace / cgroup setup
    # needed, and then --network must not be given ("host" is implied).
    # buildah ≥ 1.3x raises RUN's open-files and process limits to 1048576 unless told a
    # limit; these machines allow a hard limit of 20000 files and no raising, so RUN keeps
    # the limits we have.
    ulimits = [
        f"--ulimit={name}={':'.join(map(str, resource.getrlimit(limit)))}"
        for name, limit in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC))
    ]
    common = [
        "bud",
        "--quiet",
        "--isolation",
        "chroot",
        *ulimits,
        "--pull-never",
        "--signature-policy",
        str(cs.conf / "policy.json"),
        *build_args,
    ]
    cs.buildah(*common, "-t", BUILDAH_DEFAULT, str(build_context.full))
    cs.buildah(*common, "--layers", "-t", BUILDAH_LAYERS, str(build_context.full))
    return BuildahImages(
        default=cs.truth(BUILDAH_DEFAULT),
        layers=cs.truth(BUILDAH_LAYERS),
        base=cs.truth(CS_BASE),
        storage=cs,
    )


@dataclass
class PodmanSaves:
    """``podman save`` (podman 4.3) of the buildah images.

    ``docker_archive``, ``oci_archive``, ``oci_dir``   Artifacts of BUILDAH_DEFAULT
                     (``--format docker-archive`` converts the OCI config to a
                     Docker one; ``oci-dir`` is an OCI layout directory)
    ``saves``        image ref -> {"docker-archive"|"oci-archive"|"oci-dir": Artifact}
                     for BUILDAH_DEFAULT and BUILDAH_LAYERS
    ``history``      image ref -> ``podman history --no-trunc --format json``
    ``images``       image ref -> ImageTruth (as in ``buildah``)
    ``run(*args)``   runs podman with the private storage
    """

    saves: dict[str, dict[str, Artifact]]
    history: dict[str, list[dict]]
    images: dict[str, ImageTruth]
    storage: ContainersStorage

    @property
    def docker_archive(self) -> Artifact:
        return self.saves[BUILDAH_DEFAULT]["docker-archive"]

    @property
    def oci_archive(self) -> Artifact:
        return self.saves[BUILDAH_DEFAULT]["oci-archive"]

    @property
    def oci_dir(self) -> Artifact:
        return self.saves[BUILDAH_DEFAULT]["oci-dir"]

    def run(self, *args: str, **kw) -> subprocess.CompletedProcess[bytes]:
        return self.storage.podman(*args, **kw)


def _podman_save(cs: ContainersStorage, ref: str, out: Path) -> dict[str, Artifact]:
    result = {}
    for fmt, transport, name in (
        ("docker-archive", "docker-archive", "docker-archive.tar"),
        ("oci-archive", "oci-archive", "oci-archive.tar"),
        ("oci-dir", "oci", "oci-dir"),
    ):
        path = out / name
        cs.podman("save", "--quiet", "--format", fmt, "-o", str(path), ref)
        # podman names the image in the oci index with the full ref
        skopeo_ref = (
            f"{transport}:{path}" if transport == "docker-archive" else f"{transport}:{path}:{ref}"
        )
        result[fmt] = cs.artifact(path, transport, skopeo_ref)
    return result


@pytest.fixture(scope="session")
def podman(buildah: BuildahImages, engines_tmp: Path) -> PodmanSaves:
    """``podman save`` outputs and ``podman history``; see PodmanSaves."""
    cs = buildah.storage
    saves, history = {}, {}
    for label, truth in (("default", buildah.default), ("layers", buildah.layers)):
        out = engines_tmp / "podman" / label
        out.mkdir(parents=True)
        saves[truth.ref] = _podman_save(cs, truth.ref, out)
        history[truth.ref] = truth.history
    images = {t.ref: t for t in (buildah.default, buildah.layers, buildah.base)}
    return PodmanSaves(saves, history, images, cs)


class PodmanService:
    """``podman system service`` serving the Docker-compatible (and libpod) API.

    ``url``      ``unix://<tmp>/podman/podman.sock`` (also ``str(service)``)
    ``socket``   that path
    ``images``   the images in its storage (ref -> ImageTruth from ``buildah``)
    ``log``      the service's log
    ``run(*args)`` runs the docker CLI (docker.io) against it
    ``api_get(path)`` GETs a Docker API path, e.g. ``/images/json``, and decodes it
    """

    def __init__(self, tmp: Path, cs: ContainersStorage, images: dict[str, ImageTruth]):
        self.dir = tmp / "podman-service"
        self.dir.mkdir()
        self.socket = self.dir / "podman.sock"
        self.url = f"unix://{self.socket}"
        self.log = self.dir / "service.log"
        self.images = images
        self.env = _base_env() | {
            "DOCKER_HOST": self.url,
            "DOCKER_CONFIG": str(self.dir / "cli"),
            "DOCKER_API_VERSION": DOCKER_API_VERSION,
        }
        # --time=0: never exit for inactivity
        argv = cs._ns.wrap([*cs.podman_argv, "system", "service", "--time=0", self.url])
        self.daemon = Daemon("podman system service", argv, self.log, cs.env)

    def __str__(self) -> str:
        return self.url

    def start(self) -> None:
        self.daemon.start()
        self.daemon.wait_ready(
            lambda: self.socket.exists() and unix_http_get(self.socket, "/_ping", 5)[0] == 200
        )

    def run(self, *args: str, **kw) -> subprocess.CompletedProcess[bytes]:
        cli = DOCKER_CLI if Path(DOCKER_CLI).exists() else "docker"
        return run([cli, *args], env=self.env, **kw)

    def api_get(self, path: str) -> object:
        status, body = unix_http_get(self.socket, f"/v{DOCKER_API_VERSION}{path}")
        if status != 200:
            raise EngineError(f"GET {path}: {status} {body[:200]!r}")
        return json.loads(body)


@pytest.fixture(scope="session")
def podman_service(buildah: BuildahImages, engines_tmp: Path) -> Iterator[PodmanService]:
    """podman's Docker-compatible API on a private socket; see PodmanService."""
    images = {t.ref: t for t in (buildah.default, buildah.layers, buildah.base)}
    service = PodmanService(engines_tmp, buildah.storage, images)
    try:
        service.start()
        yield service
    finally:
        service.daemon.stop()


# --------------------------------------------------------------------------
# skopeo


@dataclass
class SkopeoCopies:
    """skopeo (1.9) copies of reconstruct-test/full:1 from ``docker_saves.full``.

    ``source``          Artifact of the docker-archive it copied from
    ``oci``             ``oci:<dir>:1`` (OCI layout, tag in index.json annotation)
    ``oci_archive``     ``oci-archive:<file>:1``
    ``docker_archive``  ``docker-archive:<file>:reconstruct-test/full:1``
    ``dir``             ``dir:<dir>`` (manifest.json, version, blobs by hex name)
    ``all``             transport -> Artifact
    """

    source: Artifact
    oci: Artifact
    oci_archive: Artifact
    docker_archive: Artifact
    dir: Artifact

    @property
    def all(self) -> dict[str, Artifact]:
        return {a.transport: a for a in (self.oci, self.oci_archive, self.docker_archive, self.dir)}


@pytest.fixture(scope="session")
def skopeo(
    docker_saves: DockerSaves, containers_storage: ContainersStorage, engines_tmp: Path
) -> SkopeoCopies:
    """skopeo copies of the dockerd image; see SkopeoCopies."""
    cs = containers_storage
    out = engines_tmp / "skopeo"
    out.mkdir()
    src_path = docker_saves.full.path
    source_ref = f"docker-archive:{src_path}"
    targets = {
        "oci": (out / "oci", f"oci:{out / 'oci'}:1"),
        "oci-archive": (out / "oci-archive.tar", f"oci-archive:{out / 'oci-archive.tar'}:1"),
        "docker-archive": (
            out / "docker-archive.tar",
            f"docker-archive:{out / 'docker-archive.tar'}:{FULL}",
        ),
        "dir": (out / "dir", f"dir:{out / 'dir'}"),
    }
    made = {}
    for transport, (path, ref) in targets.items():
        cs.skopeo("copy", "--quiet", source_ref, ref)
        made[transport] = cs.artifact(path, transport, ref)
    return SkopeoCopies(
        source=cs.artifact(src_path, "docker-archive", source_ref),
        oci=made["oci"],
        oci_archive=made["oci-archive"],
        docker_archive=made["docker-archive"],
        dir=made["dir"],
    )


# --------------------------------------------------------------------------
# registry


@dataclass
class Pushed:
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

    @property
    def manifest(self) -> dict:
        return json.loads(self.manifest_raw)

    @property
    def config(self) -> dict:
        return json.loads(self.config_raw)


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
                _base_env(),
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
