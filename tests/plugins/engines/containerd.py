"""containerd 1.7 (Debian 13's, from .engines/trixie) on a private root and socket
(``standalone_containerd``), as a Kubernetes node keeps images: ``docker save`` archives of the
dockerd 26 images imported with ``ctr -n k8s.io images import``, the bundled sample with
``ctr -n default``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.plugins.engines.dockerd26 import TRIXIE, Dockerd26
from tests.plugins.engines.processes import Daemon, _kill_strays, run
from tests.plugins.engines.session import base_env

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "python-3-windowsservercore"


@dataclass
class StandaloneContainerd:
    """``root`` (``--root``: meta.db and the content store), ``socket``, ``saves`` (ref → the
    ``docker save`` archive imported into ``k8s.io``), ``refs`` (what was imported there),
    ``ctr(*args)`` runs ctr against it."""

    root: Path
    socket: Path
    saves: dict[str, Path]
    refs: tuple[str, ...]

    def ctr(self, *args: str) -> bytes:
        return run([str(TRIXIE / "usr/bin/ctr"), "-a", str(self.socket), *args]).stdout


def containerd_config(folder: Path) -> tuple[Path, Path]:
    """A config for a containerd whose root, state, opt and socket are all in `folder` (no CRI,
    no CNI): (the config file, the socket)."""
    socket = folder / "c.sock"
    config = folder / "config.toml"
    config.write_text(
        "version = 2\n"
        f'root = "{folder / "root"}"\nstate = "{folder / "state"}"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{socket}"\n'
        f'[plugins."io.containerd.internal.v1.opt"]\n  path = "{folder / "opt"}"\n'
    )
    return config, socket


@pytest.fixture(scope="session")
def standalone_containerd(
    engines_tmp: Path, dockerd26_overlayfs: Dockerd26
) -> Iterator[StandaloneContainerd]:
    """containerd 1.7 with the dockerd 26 images imported; see StandaloneContainerd."""
    folder = engines_tmp / "ctd"
    folder.mkdir()
    config, socket = containerd_config(folder)
    env = base_env()
    env["PATH"] = f"{TRIXIE}/usr/bin:{env['PATH']}"
    daemon = Daemon(
        "containerd",
        [str(TRIXIE / "usr/bin/containerd"), "--config", str(config)],
        folder / "log",
        env,
    )
    daemon.start()
    try:
        daemon.wait_ready(socket.exists)
        built = dockerd26_overlayfs.built
        assert built is not None
        saves = {}
        for index, ref in enumerate(built.refs):
            path = folder / f"save{index}.tar"
            dockerd26_overlayfs.run("save", "-o", str(path), ref)
            saves[ref] = path
        found = StandaloneContainerd(folder / "root", socket, saves, built.refs)
        for path in saves.values():
            found.ctr(
                "-n", "k8s.io", "images", "import", "--all-platforms", "--no-unpack", str(path)
            )
        sample = folder / "sample.tar"
        run(["tar", "-C", str(SAMPLE), "-cf", str(sample), "."])
        found.ctr(
            "-n", "default", "images", "import", "--all-platforms", "--no-unpack",
            "--index-name", "docker.io/library/python:3-windowsservercore", str(sample),
        )  # fmt: skip
        yield found
    finally:
        daemon.stop()
        _kill_strays(str(socket))
