"""Processes for the engines: commands in their own process group, daemons in their own
session (both die with pytest), killing and unmounting what they leave, and HTTP over a
unix socket (the Docker Engine API) without third-party clients."""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.plugins.engines.namespaces import _NS_SCRIPT
from tests.support.needs import unavailable

COMMAND_TIMEOUT = 180  # seconds for any one engine command
START_TIMEOUT = 60  # seconds for a daemon to answer
STOP_TIMEOUT = 20  # seconds for a daemon to exit after SIGTERM


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
    return _get(_UnixHTTPConnection(str(socket_path), timeout), path)


def tcp_http_get(host: str, path: str, timeout: float = 5) -> tuple[int, bytes]:
    return _get(http.client.HTTPConnection(host, timeout=timeout), path)


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()
