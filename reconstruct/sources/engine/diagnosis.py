"""Why an engine could not be reached or read, in one line: the socket's state, the errno
inside requests'/urllib3's wrapping, the engine's own HTTP message."""

from __future__ import annotations

import errno
import os
import socket
import stat
from typing import Any

from ..base import SourceError

DEFAULT_HOST = "unix:///var/run/docker.sock"
PODMAN_SOCKETS = ("/run/podman/podman.sock",)


def describe_failure(error: BaseException, host: str, timeout: float, what: str) -> SourceError:
    """One line for the user: which engine, and what went wrong in words, not a traceback."""
    path = host.removeprefix("unix://") if host.startswith(("unix://", "/")) else None
    cause = _os_error(error)
    text = " ".join(str(error).split())
    if _is_timeout(error):
        return SourceError(
            f"docker-daemon: the engine at {host} did not answer within {timeout:g} s ({what})"
        )
    if path is not None:
        diagnosis = _diagnose_socket(path)
        if diagnosis:
            return SourceError(f"docker-daemon: {diagnosis}{_podman_hint(path)}")
    if cause is not None and cause.errno == errno.EACCES:
        return SourceError(f"docker-daemon: permission denied on {host}")
    if cause is not None and cause.errno in (errno.ECONNREFUSED, errno.ENOENT):
        return SourceError(f"docker-daemon: no engine is listening at {host}")
    refusal = _http_refusal(error)
    if refusal and what == "connect":  # `GET /version`, the SDK's version negotiation
        return SourceError(
            f"docker-daemon: the engine at {host} refused the API version negotiation: {refusal}"
        )
    return SourceError(f"docker-daemon: cannot {what} at {host}: {refusal or _last_clause(text)}")


def _os_error(error: BaseException) -> OSError | None:
    """The OSError (errno set) somewhere inside requests'/urllib3's wrapping of it."""
    found = [e for e in _chain(error) if isinstance(e, OSError) and e.errno]
    return found[0] if found else None


def _http_refusal(error: BaseException) -> str | None:
    """`HTTP 400: <the engine's message>` when an HTTP error answer is inside `error`."""
    for current in _chain(error):
        response = getattr(current, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int) and status >= 400:
            message = getattr(current, "explanation", None) or explanation(response)
            return f"HTTP {status}: {_last_clause(' '.join(str(message).split()))}"
    return None


def _is_timeout(error: BaseException) -> bool:
    names = {type(e).__name__ for e in _chain(error)}
    return bool(names & {"ReadTimeout", "ConnectTimeout", "ReadTimeoutError", "TimeoutError",
                         "timeout", "ConnectTimeoutError", "Timeout"})  # fmt: skip


def _chain(error: BaseException) -> list[BaseException]:
    """`error` and every exception inside it: causes, contexts, arguments, urllib3's `reason`."""
    found: list[BaseException] = []
    pending: list[Any] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        pending.extend([current.__cause__, current.__context__, *current.args])
        pending.append(getattr(current, "reason", None))
    return found


def _diagnose_socket(path: str) -> str | None:
    """What is wrong with a unix socket path, in words; None when it looks usable."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"no engine: {path} does not exist (is the Docker or Podman service running?)"
    except PermissionError:
        return f"permission denied on {path}"
    except OSError as error:
        return f"cannot use {path}: {error.strerror}"
    if not stat.S_ISSOCK(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "a file"
        return f"{path} is {kind}, not an engine's socket"
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2)
    try:
        probe.connect(path)
    except PermissionError:
        return (
            f"permission denied on {path} (be in the group that owns it, e.g. docker, "
            "or use --host)"
        )
    except ConnectionRefusedError:
        return f"no engine is listening at {path} (a stale socket: is the service running?)"
    except OSError:
        return None
    finally:
        probe.close()
    return None


def _podman_hint(path: str) -> str:
    if path != DEFAULT_HOST.removeprefix("unix://"):
        return ""
    candidates = list(PODMAN_SOCKETS)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        candidates.insert(0, f"{runtime}/podman/podman.sock")
    for candidate in candidates:
        if os.path.exists(candidate):
            return f"; Podman's socket is at {candidate}: --host unix://{candidate}"
    return "; use --host or DOCKER_HOST to name another engine"


def api_message(error: Any) -> str:
    explanation = getattr(error, "explanation", None) or str(error)
    return _last_clause(" ".join(str(explanation).split()))


def explanation(response: Any) -> str:
    try:
        message = response.json().get("message")
    except Exception:
        message = None
    return str(message or f"HTTP {response.status_code}")


def _last_clause(text: str) -> str:
    """requests nests messages (`… (Caused by …: …)`): keep it one readable line."""
    text = text.removeprefix("Error while fetching server API version: ")
    return text if len(text) <= 300 else text[:297] + "..."
