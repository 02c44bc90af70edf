"""Benchmark: `reconstruct show` on a large `docker save` archive, plain and gzip-compressed.

Builds (in a temporary directory, never committed) an uncompressed legacy-layout archive with one
large layer of real file data from /usr (so gzip's ratio is realistic), then measures:

- plain: bytes `show` reads (rchar and read_bytes of /proc/<pid>/io, the archive's pages dropped
  from the page cache first) and wall time, next to `tar -tf` and
  `skopeo inspect --config docker-archive:` on the same file;
- gzip (`gzip -c`, as `docker save | gzip`): wall time next to `gzip -dc > /dev/null`, and peak
  RSS of each.

Targets (issue 3): plain ≤ 1 MiB read and < 0.25 s; gzip ≤ 0.35 × `gzip -dc`, < 100 MB.

    python bench/bench_archive.py --size-mb 500          # a quicker run
    python bench/bench_archive.py                        # ~3 GB, as the issue asks
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
DATA_ROOTS = ("/usr/lib", "/usr/share", "/usr/bin", "/usr/libexec", "/usr/include")

# In a child process: the modules imported first, then one `load` + `render` of the archive
# between two readings of /proc/self/io, so the counters hold the archive's reads and nothing else.
IO_DRIVER = r"""
import json, sys, time
from reconstruct import api as service
import reconstruct.render.jsonout, reconstruct.sources.dockerarchive, reconstruct.blob.tar
def snap():
    return {k: int(v) for k, v in (l.split(": ") for l in open("/proc/self/io") if l.strip())}
before, start = snap(), time.perf_counter()
service.render(service.load(sys.argv[1]), "json")
seconds, after = time.perf_counter() - start, snap()
print(json.dumps({"seconds": seconds, **{k: after[k] - before[k] for k in after}}))
"""


class HashingWriter:
    """A file wrapper that hashes what goes through (the layer's diff_id)."""

    def __init__(self, out):
        self.out = out
        self.hash = hashlib.sha256()
        self.written = 0

    def write(self, data) -> int:
        self.hash.update(data)
        self.written += len(data)
        return self.out.write(data)

    def tell(self) -> int:
        return self.written


def real_files():
    """Regular files under /usr, forever (cycling), for realistic layer content."""
    files = []
    for root in DATA_ROOTS:
        for folder, _, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    files.append(path)
    if not files:
        raise SystemExit("no files under /usr to build a layer from")
    round_number = 0
    while True:
        for path in files:
            yield round_number, path
        round_number += 1


def write_layer(out, size: int) -> str:
    """A real layer tar of about `size` bytes written to `out`; returns its diff_id."""
    writer = HashingWriter(out)
    with tarfile.open(fileobj=writer, mode="w", format=tarfile.PAX_FORMAT) as layer:
        for round_number, path in real_files():
            if writer.written >= size:
                break
            try:
                with open(path, "rb") as handle:
                    info = layer.gettarinfo(fileobj=handle, arcname=f"r{round_number}{path}")
                    info.mtime = 0
                    layer.addfile(info, handle)
            except OSError:
                continue
    return "sha256:" + writer.hash.hexdigest()


def header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def add(out, name: str, data: bytes) -> None:
    out.write(header(name, len(data)))
    out.write(data)
    out.write(bytes(-len(data) % 512))


def build_archive(path: Path, size: int) -> None:
    """A legacy docker save: `<id>/{VERSION,json,layer.tar}`, `<config>.json`, then manifest.json."""
    layer_id = hashlib.sha256(b"bench-layer").hexdigest()
    with open(path, "wb") as out:
        add(out, f"{layer_id}/VERSION", b"1.0")
        add(out, f"{layer_id}/json", json.dumps({"id": layer_id, "os": "linux"}).encode())
        at = out.tell()
        out.write(bytes(512))  # the layer's header, written once its size is known
        diff_id = write_layer(out, size)
        layer_size = out.tell() - at - 512
        out.write(bytes(-layer_size % 512))
        end = out.tell()
        out.seek(at)
        out.write(header(f"{layer_id}/layer.tar", layer_size))
        out.seek(end)
        config = {
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/bin:/bin"]},
            "history": [
                {
                    "created": "2026-01-01T00:00:00Z",
                    "created_by": "/bin/sh -c #(nop) ADD dir:usr in / ",
                },
                {
                    "created": "2026-01-01T00:00:00Z",
                    "created_by": '/bin/sh -c #(nop)  CMD ["sh"]',
                    "empty_layer": True,
                },
            ],
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
        config_data = json.dumps(config).encode()
        config_name = hashlib.sha256(config_data).hexdigest() + ".json"
        add(out, config_name, config_data)
        manifest = [
            {
                "Config": config_name,
                "RepoTags": ["bench/big:1"],
                "Layers": [f"{layer_id}/layer.tar"],
            }
        ]
        add(out, "manifest.json", json.dumps(manifest).encode())
        add(out, "repositories", json.dumps({"bench/big": {"1": layer_id}}).encode())
        out.write(bytes(1024))


def drop_cache(path: Path) -> None:
    """Evict the file's pages so read_bytes counts real reads (needs no privileges)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def timed(cmd: list[str], *, env: dict[str, str] | None = None) -> dict:
    """Wall time, exit code and peak RSS of one command, its output to /dev/null.

    The peak RSS comes from GNU time (`/usr/bin/time -f %M`): a child of this Python process
    would report at least this process's own peak (the kernel carries it across fork and exec).
    """
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.NamedTemporaryFile(mode="r") as rss:
        wrapped = [gnu_time, "-f", "%M", "-o", rss.name, *cmd] if gnu_time else cmd
        start = time.perf_counter()
        done = subprocess.run(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        wall = time.perf_counter() - start
        peak = rss.read().strip().splitlines()
    rss_mb = int(peak[-1]) / 1024 if peak and peak[-1].isdigit() else float("nan")
    err = done.stderr.decode(errors="replace")
    return {"wall": wall, "code": done.returncode, "rss_mb": rss_mb, "err": err}


def cli(archive: Path) -> dict:
    """The real command line, start-up included."""
    return timed([sys.executable, "-m", "reconstruct", "show", str(archive), "--format", "json"])


def in_process(archive: Path) -> dict:
    """Bytes read and seconds spent on the archive alone (see IO_DRIVER)."""
    done = subprocess.run(
        [sys.executable, "-c", IO_DRIVER, str(archive)],
        capture_output=True, check=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    return json.loads(done.stdout)


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["wall"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=3072, help="layer size (default 3072)")
    parser.add_argument("--dir", type=Path, help="where to build (default: a temp dir, removed)")
    parser.add_argument("--keep", action="store_true", help="keep the archives")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-archive-", dir=args.dir))
    try:
        run_bench(work, args.size_mb * MIB, args.repeat)
    finally:
        if args.keep:
            print(f"\narchives kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run_bench(work: Path, size: int, repeat: int) -> None:
    plain = work / "big.tar"
    t0 = time.perf_counter()
    build_archive(plain, size)
    print(
        f"built {plain} ({plain.stat().st_size / MIB:.0f} MiB) in {time.perf_counter() - t0:.1f} s"
    )
    gz = work / "big.tar.gz"
    t0 = time.perf_counter()
    with open(gz, "wb") as out:
        subprocess.run(["gzip", "-c", str(plain)], stdout=out, check=True)
    ratio = gz.stat().st_size / plain.stat().st_size
    print(
        f"gzipped to {gz.stat().st_size / MIB:.0f} MiB (ratio {ratio:.2f}) in {time.perf_counter() - t0:.1f} s\n"
    )

    startup = best([timed([sys.executable, "-c", "import reconstruct.cli"]) for _ in range(repeat)])
    print(
        f"python start-up + `import reconstruct.cli`: {startup['wall']:.3f} s (in every CLI run)\n"
    )

    # --- plain -------------------------------------------------------------------------------
    reads = []
    for _ in range(repeat):
        drop_cache(plain)
        reads.append(in_process(plain))
    work_io = min(reads, key=lambda r: r["seconds"])
    drop_cache(plain)
    ours = best([cli(plain) for _ in range(repeat)])
    assert ours["code"] == 0, ours["err"]
    rows = [
        ("reconstruct show (CLI)", ours["wall"], ours["rss_mb"],
         f"archive: rchar {work_io['rchar'] / 1024:.1f} KiB in {work_io['syscr']} reads, "
         f"read_bytes {work_io['read_bytes'] / 1024:.1f} KiB (cold), {work_io['seconds'] * 1000:.1f} ms"),
    ]  # fmt: skip
    drop_cache(plain)
    tar_run = best([timed(["tar", "-tf", str(plain)]) for _ in range(repeat)])
    rows.append(("tar -tf", tar_run["wall"], tar_run["rss_mb"], note(tar_run)))
    if shutil.which("skopeo"):
        skopeo_run = best(
            [
                timed(["skopeo", "inspect", "--config", f"docker-archive:{plain}"])
                for _ in range(repeat)
            ]
        )
        rows.append(
            ("skopeo inspect --config", skopeo_run["wall"], skopeo_run["rss_mb"], note(skopeo_run))
        )
    print_table("plain archive", rows, ours["wall"])
    read = work_io["rchar"]
    print(
        f"target ≤ 1 MiB read: {'PASS' if read <= MIB else 'MISS'} ({read / 1024:.1f} KiB); "
        f"< 0.25 s wall: {'PASS' if ours['wall'] < 0.25 else 'MISS'} ({ours['wall']:.3f} s CLI, "
        f"{work_io['seconds'] * 1000:.1f} ms of it on the archive)\n"
    )

    # --- gzip ---------------------------------------------------------------------------------
    ours_gz = best([cli(gz) for _ in range(repeat)])
    assert ours_gz["code"] == 0, ours_gz["err"]
    gz_work = min((in_process(gz) for _ in range(repeat)), key=lambda r: r["seconds"])
    gzip_run = best([timed(["gzip", "-dc", str(gz)]) for _ in range(repeat)])
    rows = [
        ("reconstruct show (CLI)", ours_gz["wall"], ours_gz["rss_mb"],
         f"{gz_work['seconds']:.3f} s on the archive"),
        ("gzip -dc > /dev/null", gzip_run["wall"], gzip_run["rss_mb"], note(gzip_run)),
    ]  # fmt: skip
    if shutil.which("skopeo"):
        sk = timed(["skopeo", "inspect", "--config", f"docker-archive:{gz}"])
        rows.append(("skopeo inspect --config", sk["wall"], sk["rss_mb"], note(sk)))
    print_table("gzip-compressed archive", rows, ours_gz["wall"])
    share = ours_gz["wall"] / gzip_run["wall"]
    work_share = gz_work["seconds"] / gzip_run["wall"]
    print(
        f"target ≤ 0.35 × gzip -dc: {'PASS' if share <= 0.35 else 'MISS'} ({share:.2f} × with "
        f"start-up, {work_share:.2f} × without); < 100 MB: "
        f"{'PASS' if ours_gz['rss_mb'] < 100 else 'MISS'} ({ours_gz['rss_mb']:.0f} MB)"
    )


def note(run: dict) -> str:
    if run["code"] == 0:
        return ""
    last = (run["err"].strip().splitlines() or [""])[-1]
    return f"exit {run['code']}: {last[:90]}"


def print_table(title: str, rows: list[tuple], ours: float) -> None:
    print(f"== {title}")
    print(f"{'command':32} {'wall s':>8} {'vs ours':>8} {'peak RSS MB':>12}  notes")
    for name, wall, rss, notes in rows:
        print(f"{name:32} {wall:8.3f} {wall / ours:7.2f}× {rss:12.1f}  {notes}")


if __name__ == "__main__":
    main()
