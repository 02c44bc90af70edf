"""Benchmark: `reconstruct show docker-daemon: --all` against the docker CLI and dfimage.

Standalone (no pytest): as root, starts a private dockerd 20.10 (vfs, its own containerd, a
private socket, data in a temporary directory, inside a private mount namespace so nothing is
written to the host's /etc, /var or /run), imports a busybox root filesystem as `busybox:local`
and builds N small images with the classic builder. Then, over the same images:

- `reconstruct show docker-daemon: --all --format json` (one process);
- a loop of `docker image inspect` + `docker history --no-trunc` per image (what a script without
  reconstruct does; docker.io's CLI);
- `dfimage` 1.1.0 (PyPI) per image, installed into a virtualenv under the work directory. It
  talks to unix:///var/run/docker.sock only (hard-coded, DOCKER_HOST is ignored), so it runs in a
  mount namespace where /run/docker.sock is our daemon's socket;
- `reconstruct show docker-daemon:IMAGE -f dockerfile` per image, for a like-for-like line;
- `reconstruct --help` start-up (target < 150 ms), and `python -c 'import typer'` for its share;
- the exact path on an image with five 8 MB layers: bytes read of the engine's export.

Targets (issue 4): ≤ 1.0× the docker CLI loop, ≥ 5× faster than dfimage, --help < 150 ms.

    python bench/bench_engine.py --images 100
    python bench/bench_engine.py --images 20 --no-dfimage --repeat 1      # quicker
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCKER_CLI = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"
API = "1.41"
START_TIMEOUT = 60

# Runs "$@" in a new mount namespace: /run is an empty tmpfs (no system daemon's socket, takes
# dockerd's /run writes), /etc and /var are overlays whose upper layers are in "$1".
NS_SCRIPT = r"""
set -e
ov=$1; shift
mount -n -t tmpfs -o mode=0755 tmpfs /run
for d in /etc /var; do
    n=${d#/}
    mkdir -p "$ov/$n.upper" "$ov/$n.work"
    mount -n -t overlay overlay -o "lowerdir=$d,upperdir=$ov/$n.upper,workdir=$ov/$n.work" "$d"
done
[ -n "$DOCKER_SOCK_LINK" ] && ln -s "$DOCKER_SOCK_LINK" /run/docker.sock
exec "$@"
"""
# containerd, then dockerd, as children of one shell that stops both on SIGTERM.
DOCKERD_SCRIPT = r"""
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

IMAGE_DOCKERFILE = """\
FROM busybox:local
LABEL bench.index="{i}"
ENV BENCH_INDEX={i}
RUN echo {i} > /bench-{i}.txt
WORKDIR /srv
CMD ["cat", "/bench-{i}.txt"]
"""
BIG_DOCKERFILE = "FROM busybox:local\n" + "".join(
    f"RUN head -c 8000000 /dev/urandom > /blob{n}\n" for n in range(5)
)

# In a child process: fast and exact path on each image, reporting what was read of the export.
EXACT_DRIVER = r"""
import json, sys, time
from reconstruct.sources.engine import EngineSource
host, refs = sys.argv[1], sys.argv[2:]
fast_source, exact_source = EngineSource(host, exact=False), EngineSource(host, exact=True)
rows = []
for ref in refs:
    start = time.perf_counter(); fast_source.get(ref); fast = time.perf_counter() - start
    start = time.perf_counter(); image = exact_source.get(ref).root
    exact = time.perf_counter() - start
    read = exact_source.exports[-1]
    rows.append({"ref": ref, "fast": fast, "exact": exact, "read": read.bytes_read,
                 "id": image.config_digest})
print(json.dumps(rows))
"""


class PrivateDockerd:
    """dockerd + containerd on a private socket, everything under `root`."""

    def __init__(self, root: Path):
        self.root = root
        self.socket = root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.cd_socket = root / "cd" / "containerd.sock"
        self.log = root / "dockerd.log"
        self.proc: subprocess.Popen | None = None
        self.env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(root / "home"),
            "DOCKER_HOST": self.host,
            "DOCKER_CONFIG": str(root / "cli"),
            "DOCKER_BUILDKIT": "0",
            "DOCKER_API_VERSION": API,
        }
        (root / "home").mkdir(parents=True)
        cd = self.cd_socket.parent
        (root / "containerd.toml").write_text(
            f'version = 2\nroot = "{cd}/root"\nstate = "{cd}/state"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.cd_socket}"\n[ttrpc]\n  address = ""\n'
            '[debug]\n  address = ""\n[metrics]\n  address = ""\n'
            f'[plugins."io.containerd.internal.v1.opt"]\n  path = "{cd}/opt"\n'
        )
        (root / "daemon.json").write_text(json.dumps({"deprecated-key-path": str(root / "key")}))

    def command(self) -> list[str]:
        """containerd and dockerd 20.10, as children of one shell (DOCKERD_SCRIPT)."""
        dockerd = [
            "dockerd",
            f"--config-file={self.root / 'daemon.json'}",
            f"--containerd={self.cd_socket}",
            "--storage-driver=vfs",
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            f"--host={self.host}",
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.root / 'docker.pid'}",
            f"--cgroup-parent=/{self.root.name}",
        ]
        script = ["sh", "-c", DOCKERD_SCRIPT, "sh", str(self.root / "containerd.toml"),
                  str(self.root / "containerd.log"), str(self.cd_socket)]  # fmt: skip
        return [*script, *dockerd]

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                namespaced(self.root / "ns", self.command()),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"dockerd exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if self.socket.exists() and api_get(self.socket, "/_ping")[0] == 200:
                    return
            time.sleep(0.2)
        raise SystemExit(
            f"dockerd not ready after {START_TIMEOUT}s: {self.log.read_text()[-2000:]}"
        )

    def docker(self, *args: str, stdin: bytes | None = None) -> bytes:
        done = subprocess.run(
            [DOCKER_CLI, *args], input=stdin, capture_output=True, env=self.env, timeout=600
        )
        if done.returncode:
            raise SystemExit(f"docker {' '.join(args)}: {done.stderr.decode()[-1000:]}")
        return done.stdout

    def stop(self) -> None:
        if self.proc is None:
            return
        for target in (self.proc.pid, -self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None
        kill_strays(str(self.root))  # containerd shims leave the process group


def namespaced(overlays: Path, argv: list[str]) -> list[str]:
    overlays.mkdir(parents=True, exist_ok=True)
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", NS_SCRIPT, "sh",
            str(overlays), *argv]  # fmt: skip


def kill_strays(marker: str) -> None:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker.encode() in (entry / "cmdline").read_bytes():
                    os.kill(int(entry.name), signal.SIGKILL)


def unmount_under(root: Path) -> None:
    points = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].encode().decode("unicode_escape")
            if point == str(root) or point.startswith(f"{root}/"):
                points.append(point)
    for point in sorted(set(points), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    for hierarchy in Path("/sys/fs/cgroup").glob("*"):
        top = hierarchy / root.name
        for folder, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])) if top.is_dir() else []:
            with contextlib.suppress(OSError):
                os.rmdir(folder)


class _Unix(http.client.HTTPConnection):
    def __init__(self, path: Path):
        super().__init__("localhost", timeout=30)
        self.path_ = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(self.path_)


def api_get(sock: Path, path: str) -> tuple[int, bytes]:
    conn = _Unix(sock)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def busybox_tar() -> bytes:
    """bin/busybox with a symlink per applet, /etc/passwd, /tmp: the base of every image."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    applets = subprocess.run([busybox, "--list"], capture_output=True, check=True).stdout.split()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for folder in ("bin", "etc", "tmp"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder == "tmp" else 0o755
            tar.addfile(info)
        data = Path(busybox).read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
        for applet in sorted({a.decode() for a in applets} - {"busybox"}):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(info)
        passwd = b"root:x:0:0:root:/root:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
    return out.getvalue()


def build_images(
    daemon: PrivateDockerd, work: Path, count: int, build_command: tuple[str, ...] = ("build",)
) -> list[str]:
    """`count` small images from busybox:local; `build_command`: ("buildx", "build") for
    BuildKit."""
    daemon.docker("import", "-", "busybox:local", stdin=busybox_tar())

    def build(i: int) -> str:
        context = work / "contexts" / f"{i:03d}"
        context.mkdir(parents=True)
        (context / "Dockerfile").write_text(IMAGE_DOCKERFILE.format(i=i))
        tag = f"bench/img-{i:03d}:1"
        daemon.docker(*build_command, "-q", "--network", "none", "-t", tag, str(context))
        return tag

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(build, range(count)))


def timed(argv: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, timeout=3600)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(argv[:6])} …: exit {done.returncode}: {done.stderr[-800:]!r}")
    return seconds


def reconstruct_argv() -> list[str]:
    script = Path(sys.executable).with_name("reconstruct")
    return [str(script)] if script.exists() else [sys.executable, "-m", "reconstruct"]


def dfimage_venv(work: Path) -> Path | None:
    """dfimage 1.1.0 in its own virtualenv (it pins docker==7.1.0); None when pip cannot."""
    venv = work / "dfimage-venv"
    if not (venv / "bin" / "dfimage").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        done = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "dfimage==1.1.0"],
            capture_output=True,
            timeout=600,
        )
        if done.returncode:
            print(f"dfimage: pip install failed, skipped: {done.stderr.decode()[-300:]}")
            return None
    return venv / "bin" / "dfimage"


def dfimage_loop(daemon: PrivateDockerd, dfimage: Path, refs: list[str]) -> float:
    """Every image through dfimage, inside a namespace where /run/docker.sock is our socket."""
    loop = (
        "import subprocess, sys, time, json\n"
        "start = time.perf_counter()\n"
        "for ref in sys.argv[2:]:\n"
        "    done = subprocess.run([sys.argv[1], ref], capture_output=True)\n"
        "    assert done.returncode == 0 and done.stdout, (ref, done.stderr[-300:])\n"
        "print(time.perf_counter() - start)\n"
    )
    env = {**daemon.env, "DOCKER_SOCK_LINK": str(daemon.socket)}
    env.pop("DOCKER_HOST")
    argv = namespaced(daemon.root / "ns-dfimage", [sys.executable, "-c", loop, str(dfimage), *refs])
    done = subprocess.run(argv, capture_output=True, env=env, timeout=7200)
    if done.returncode:
        raise SystemExit(f"dfimage loop failed: {done.stderr.decode()[-1500:]}")
    return float(done.stdout.decode().strip().splitlines()[-1])


def measure(args: argparse.Namespace, daemon: PrivateDockerd, work: Path, refs: list[str]) -> None:
    ours_cli = reconstruct_argv()
    env = {**os.environ, **daemon.env}
    results: dict[str, float] = {}

    helps = [timed([*ours_cli, "--help"]) for _ in range(20)]
    typer_only = min(timed([sys.executable, "-c", "import typer"]) for _ in range(10))
    bare = min(timed([sys.executable, "-c", "pass"]) for _ in range(10))

    show_all = [*ours_cli, "show", "docker-daemon:", "--all", "--format", "json",
                "--host", daemon.host]  # fmt: skip
    check = subprocess.run(show_all, capture_output=True, env=env, timeout=600)
    documents = json.loads(check.stdout)
    uncertain = sum(1 for d in documents for s in d["root"]["steps"] if s["uncertain"])
    results["all"] = min(timed(show_all, env) for _ in range(args.repeat))

    def cli_loop() -> float:
        start = time.perf_counter()
        for ref in refs:
            for argv in (("image", "inspect", ref), ("history", "--no-trunc", ref)):
                subprocess.run([DOCKER_CLI, *argv], capture_output=True, env=env, check=True)
        return time.perf_counter() - start

    results["cli"] = min(cli_loop() for _ in range(args.repeat))

    start = time.perf_counter()
    for ref in refs:
        subprocess.run([*ours_cli, "show", f"docker-daemon:{ref}", "-f", "dockerfile", "--host",
                        daemon.host], capture_output=True, env=env, check=True)  # fmt: skip
    results["ours_each"] = time.perf_counter() - start

    dfimage = None if args.no_dfimage else dfimage_venv(work)
    if dfimage is not None:
        results["dfimage"] = dfimage_loop(daemon, dfimage, refs)

    exact_rows = []
    if not args.no_exact:
        context = work / "contexts" / "big"
        context.mkdir(parents=True)
        (context / "Dockerfile").write_text(BIG_DOCKERFILE)
        daemon.docker("build", "-q", "--network", "none", "-t", "bench/big:1", str(context))
        driver = subprocess.run(
            [sys.executable, "-c", EXACT_DRIVER, daemon.host, "bench/big:1", *refs],
            capture_output=True, env=env, check=True, cwd=REPO,
        )  # fmt: skip
        exact_rows = json.loads(driver.stdout)
        for row in exact_rows:
            row["total"] = len(api_get(daemon.socket, f"/v{API}/images/{row['id']}/get")[1])

    n = len(refs)
    print(f"\n== {n} local images (dockerd 20.10, classic builder), best of {args.repeat}")
    print(f"{'what':58} {'wall s':>8}  ratio")
    print(f"{'reconstruct show docker-daemon: --all --format json':58} {results['all']:8.3f}")
    ratio = results["all"] / results["cli"]
    print(f"{'docker image inspect + docker history --no-trunc, each':58} {results['cli']:8.3f}  "
          f"reconstruct/CLI = {ratio:.3f}× (target ≤ 1.0: {'PASS' if ratio <= 1 else 'MISS'})")  # fmt: skip
    if "dfimage" in results:
        speedup = results["dfimage"] / results["all"]
        print(f"{'dfimage IMAGE, each (dfimage 1.1.0)':58} {results['dfimage']:8.3f}  "
              f"dfimage/reconstruct = {speedup:.1f}× (target ≥ 5: "
              f"{'PASS' if speedup >= 5 else 'MISS'})")  # fmt: skip
        each = results["dfimage"] / results["ours_each"]
        print(f"{'reconstruct show docker-daemon:IMAGE -f dockerfile, each':58} "
              f"{results['ours_each']:8.3f}  dfimage/reconstruct, one process per image = "
              f"{each:.1f}×")  # fmt: skip
    else:
        print(f"{'reconstruct show docker-daemon:IMAGE -f dockerfile, each':58} "
              f"{results['ours_each']:8.3f}")  # fmt: skip
    print(f"documents: {len(documents)}, steps marked uncertain: {uncertain}")
    best, median = min(helps), statistics.median(helps)
    print(f"\nreconstruct --help: best {best * 1000:.0f} ms, median {median * 1000:.0f} ms "
          f"(target < 150 ms: {'PASS' if best < 0.150 else 'MISS'}); python -c pass "
          f"{bare * 1000:.0f} ms, python -c 'import typer' {typer_only * 1000:.0f} ms "
          f"(typer's import: {(typer_only - bare) * 1000:.0f} ms)")  # fmt: skip
    if exact_rows:
        big, small = exact_rows[0], exact_rows[1:]
        print(
            f"exact path, bench/big:1 (5 × 8 MB layers): read {big['read'] / 1e6:.1f} MB of the "
            f"{big['total'] / 1e6:.1f} MB export in {big['exact']:.2f} s (fast path "
            f"{big['fast'] * 1000:.0f} ms)"
        )
        read, total = sum(r["read"] for r in small), sum(r["total"] for r in small)
        early = sum(1 for r in small if r["read"] < r["total"])
        print(
            f"exact path, the {len(small)} small images: read {read / 1e6:.1f} MB of "
            f"{total / 1e6:.1f} MB ({read / total:.0%}); stopped before the end on {early}; "
            f"{statistics.median(r['exact'] for r in small) * 1000:.0f} ms median each (fast "
            f"path {statistics.median(r['fast'] for r in small) * 1000:.1f} ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timed loop (best)")
    parser.add_argument("--no-dfimage", action="store_true", help="skip dfimage (needs PyPI)")
    parser.add_argument("--no-exact", action="store_true", help="skip the export measurement")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench_engine: needs root (a private dockerd)")
    missing = [
        b for b in ("dockerd", "containerd", "runc", "unshare", "busybox") if not shutil.which(b)
    ]
    if missing:
        raise SystemExit(f"bench_engine: missing {', '.join(missing)} (scripts/install-engines.sh)")
    work = Path(tempfile.mkdtemp(prefix="bench-eng-", dir="/tmp"))  # short: socket paths
    daemon = PrivateDockerd(work / "d")
    try:
        daemon.start()
        start = time.perf_counter()
        refs = ["busybox:local", *build_images(daemon, work, args.images)]
        print(f"built {args.images} images in {time.perf_counter() - start:.0f} s ({work})")
        measure(args, daemon, work, refs)
    finally:
        daemon.stop()
        unmount_under(work)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
