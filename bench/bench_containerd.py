"""Benchmark: the containerd image store, through the engine and offline (issue 14).

Standalone (no pytest): as root, starts dockerd 26 (Debian 13's, unpacked by
scripts/fetch-engines.sh into .engines/trixie) with `containerd-snapshotter` (overlayfs) on a
private socket and data root inside a private mount namespace, imports busybox as
`busybox:local` and builds N small images with BuildKit (each with its provenance attestation,
as `docker build` makes them by default). Then, over the same images, side by side:

- baseline: a loop of `docker image inspect` + `docker history --no-trunc` per image (what a
  script without reconstruct does; trixie's docker CLI 26);
- `reconstruct show docker-daemon: --all --format json` (one process; target ≤ 1.0× baseline);
- `reconstruct show containerd:<data-root>/containerd/daemon --all --format json`, and
  `reconstruct show docker-root:<data-root> --all --format json`: the same images read offline,
  from meta.db and the content store (reported as a ratio to the baseline; the daemon is up, as
  on a node, but never asked).

    python bench/bench_containerd.py --images 100
    python bench/bench_containerd.py --images 20 --repeat 1      # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import (  # the bench folder is no package: found through sys.path
    PrivateDockerd,
    build_images,
    reconstruct_argv,
    timed,
    unmount_under,
)

REPO = Path(__file__).resolve().parents[1]
TRIXIE = REPO / ".engines" / "trixie" / "root"


class ContainerdStoreDockerd(PrivateDockerd):
    """dockerd 26 with the containerd image store; dockerd runs its own containerd."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.env.pop("DOCKER_BUILDKIT")
        self.env.pop("DOCKER_API_VERSION")
        self.env["PATH"] = f"{TRIXIE}/usr/sbin:{TRIXIE}/usr/bin:{self.env['PATH']}"
        (root / "cli").mkdir()
        plugins = str(TRIXIE / "usr/libexec/docker/cli-plugins")
        (root / "cli" / "config.json").write_text(json.dumps({"cliPluginsExtraDirs": [plugins]}))
        (root / "daemon.json").write_text(
            json.dumps(
                {"storage-driver": "overlayfs", "features": {"containerd-snapshotter": True}}
            )
        )
        self.data = root / "data"

    def command(self) -> list[str]:
        # no containerd of ours: dockerd 26 starts its own (<data-root>/containerd/daemon)
        return [
            str(TRIXIE / "usr/sbin/dockerd"),
            f"--config-file={self.root / 'daemon.json'}",
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            f"--host={self.host}",
            f"--data-root={self.data}",
            f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.root / 'docker.pid'}",
            f"--cgroup-parent=/{self.root.name}",
        ]

    def docker(self, *args: str, stdin: bytes | None = None) -> bytes:
        done = subprocess.run(
            [str(TRIXIE / "usr/bin/docker"), *args],
            input=stdin,
            capture_output=True,
            env=self.env,
            timeout=600,
        )
        if done.returncode:
            raise SystemExit(f"docker {' '.join(args)}: {done.stderr.decode()[-1000:]}")
        return done.stdout


def cli_loop(daemon: ContainerdStoreDockerd, refs: list[str]) -> float:
    cli = str(TRIXIE / "usr/bin/docker")
    start = time.perf_counter()
    for ref in refs:
        for argv in (["image", "inspect", ref], ["history", "--no-trunc", ref]):
            subprocess.run([cli, *argv], capture_output=True, env=daemon.env, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median is shown")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench_containerd: needs root (dockerd)")
    if not (TRIXIE / "usr/sbin/dockerd").exists():
        raise SystemExit("bench_containerd: run scripts/fetch-engines.sh first")
    work = Path(tempfile.mkdtemp(prefix="bctd-", dir="/tmp"))
    daemon = ContainerdStoreDockerd(work)
    try:
        daemon.start()
        started = time.perf_counter()
        refs = build_images(daemon, work, args.images, ("buildx", "build"))
        print(f"built {len(refs)} images in {time.perf_counter() - started:.0f} s")
        env = os.environ | {"DOCKER_HOST": daemon.host}
        runs: dict[str, list[float]] = {}
        reconstruct = reconstruct_argv()
        commands = {
            "docker inspect + history loop (baseline)": None,
            "reconstruct show docker-daemon: --all": [
                *reconstruct, "show", "docker-daemon:", "--all", "--format", "json"],
            "reconstruct show containerd:ROOT --all (offline)": [
                *reconstruct, "show", f"containerd:{daemon.data}/containerd/daemon", "--all",
                "--format", "json"],
            "reconstruct show docker-root:DATA --all (offline)": [
                *reconstruct, "show", f"docker-root:{daemon.data}", "--all", "--format", "json"],
        }  # fmt: skip
        for _ in range(args.repeat):
            for label, argv in commands.items():
                seconds = cli_loop(daemon, refs) if argv is None else timed(argv, env)
                runs.setdefault(label, []).append(seconds)
        baseline = statistics.median(runs["docker inspect + history loop (baseline)"])
        print(f"\n{len(refs)} images on the containerd store (dockerd 26.1.5, overlayfs), "
              f"median of {args.repeat}; load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
        print(f"{'what':<52} {'seconds':>8} {'× baseline':>11}")
        for label, seconds in runs.items():
            median = statistics.median(seconds)
            print(f"{label:<52} {median:>8.2f} {median / baseline:>10.2f}×")
    finally:
        daemon.stop()
        unmount_under(work)
        subprocess.run(["rm", "-rf", "--one-file-system", str(work)], check=False)


if __name__ == "__main__":
    main()
