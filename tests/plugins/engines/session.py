"""The session's private directory, the clean environment every engine runs in, and the
check that skips (or fails) an engine test when the machine cannot run engines."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins.engines.namespaces import Namespaces
from tests.plugins.engines.processes import (
    EngineError,
    _kill_strays,
    _remove_cgroups,
    _unmount_under,
    run,
)
from tests.support.needs import need_tools, unavailable

ENGINES_TMP: Path | None = None  # the session's directory, once created


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
    _remove_cgroups(cgroup_name(root))


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


def cgroup_name(root: Path) -> str:
    return root.name  # dockerd --cgroup-parent, unique per session


def base_env() -> dict[str, str]:
    """A clean environment: sbin on PATH (runc, containerd), and a private HOME so
    no per-user config (~/.docker, ~/.config/containers) is read or written."""
    keep = {k: os.environ[k] for k in ("LANG", "LC_ALL", "TERM") if k in os.environ}
    home = ENGINES_TMP / "home" if ENGINES_TMP else Path(tempfile.gettempdir())
    home.mkdir(exist_ok=True)
    return keep | {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
    }


@pytest.fixture(scope="session")
def engine_namespaces(engines_tmp: Path) -> Namespaces:
    """Factory of private mount namespaces (see Namespaces); internal."""
    return Namespaces(engines_tmp / "ns")
