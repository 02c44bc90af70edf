"""Benchmark: `reconstruct verify` of a large archive of gzip layers, against the shell.

Builds (in a temporary directory, never committed) an OCI image archive like `skopeo copy …
oci-archive:` or `podman save --format oci-archive` write: several gzip layers of real file data
from /usr (compressed with zlib level 6, as Docker does, so the ratio is realistic), a config
with their diff_ids, a manifest, index.json, all in one plain tar. Then times, best of
`--repeat` runs, page cache warm for everyone:

- `reconstruct verify oci-archive:ARCHIVE` (layers read by offset from the tar, one worker
  process per core) and `reconstruct verify oci:LAYOUT` (the same blobs as files);
- the baseline: what a shell user runs to check the same two digests of every layer, the blob's
  and the diff_id, `sha256sum` and `gzip -dc | sha256sum` side by side (both at once, as two
  jobs), and, for reference, the same one after the other.

Reports throughput (compressed layer bytes per second) and the ratio to the baseline (issue 6
target: ≥ 0.9 ×), and peak memory: the largest single process (GNU time's %M) and the whole
process tree (summed from /proc every 20 ms).

    python bench/bench_verify.py                  # ~1.5 GB of layers, as the issue asks
    python bench/bench_verify.py --size-mb 300    # quicker
    python bench/bench_verify.py --keep --dir /tmp --repeat 5
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
import threading
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
DATA_ROOTS = ("/usr/lib", "/usr/share", "/usr/bin", "/usr/libexec", "/usr/include", "/usr/sbin")
# Layer sizes as shares of the total, largest first: a base, a runtime, the app's layers.
LAYER_SHARES = (0.34, 0.24, 0.16, 0.12, 0.08, 0.06)
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


# --- building the archive ----------------------------------------------------------------------


def usr_files() -> list[str]:
    files = []
    for root in DATA_ROOTS:
        for folder, _, names in os.walk(root):
            for name in sorted(names):
                path = os.path.join(folder, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    files.append(path)
    if not files:
        raise SystemExit("no files under /usr to build layers from")
    return files


class GzipSink:
    """A file-like object that gzips (zlib level 6) what tarfile writes, and hashes both sides."""

    def __init__(self, out):
        self.out = out
        self.deflate = zlib.compressobj(6, zlib.DEFLATED, 31)
        self.diff = hashlib.sha256()
        self.blob = hashlib.sha256()
        self.compressed = 0
        self.offset = 0

    def write(self, data) -> int:
        self.diff.update(data)
        self.offset += len(data)
        self._emit(self.deflate.compress(data))
        return len(data)

    def tell(self) -> int:
        return self.offset

    def _emit(self, data: bytes) -> None:
        if data:
            self.blob.update(data)
            self.compressed += len(data)
            self.out.write(data)

    def close(self) -> None:
        self._emit(self.deflate.flush())


def build_layer(args: tuple[Path, int, int, list[str]]) -> dict:
    """One gzip layer of about `target` compressed bytes, from /usr files starting at `start`."""
    path, target, start, files = args
    round_number = 0
    with path.open("wb") as out:
        sink = GzipSink(out)
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            at = start
            while sink.compressed < target:
                if at >= len(files):
                    at, round_number = 0, round_number + 1
                source = files[at]
                at += 1
                try:
                    info = tar.gettarinfo(source, arcname=f"r{round_number}{source}")
                    with open(source, "rb") as handle:
                        tar.addfile(info, handle)
                except OSError:
                    continue
        sink.close()
    digest = "sha256:" + sink.blob.hexdigest()
    return {
        "path": str(path),
        "digest": digest,
        "size": sink.compressed,
        "diff_id": "sha256:" + sink.diff.hexdigest(),
        "uncompressed": sink.offset,
    }


def build(workdir: Path, size_mb: int) -> tuple[Path, Path, list[dict]]:
    """An OCI layout directory and the same as a plain tar (an oci-archive)."""
    layout = workdir / "layout"
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    files = usr_files()
    total = size_mb * MIB
    jobs = [
        (
            workdir / f"layer{i}.tmp",
            int(total * share),
            (i * len(files)) // len(LAYER_SHARES),
            files,
        )
        for i, share in enumerate(LAYER_SHARES)
    ]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        layers = list(pool.map(build_layer, jobs))
    for layer in layers:
        target = blobs / layer["digest"].split(":")[1]
        os.replace(layer["path"], target)
        layer["path"] = str(target)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer["diff_id"] for layer in layers]},
        "history": [
            {"created": "2024-01-01T00:00:00Z", "created_by": f"/bin/sh -c #(nop) ADD layer{i} /"}
            for i in range(len(layers))
        ],
    }
    config_blob = _put(blobs, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_blob[0],
            "size": config_blob[1],
        },
        "layers": [
            {"mediaType": GZIP_LAYER, "digest": layer["digest"], "size": layer["size"]}
            for layer in layers
        ],
    }
    manifest_blob = _put(blobs, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": manifest["mediaType"],
                "digest": manifest_blob[0],
                "size": manifest_blob[1],
                "annotations": {"org.opencontainers.image.ref.name": "bench"},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    archive = workdir / "image.oci.tar"
    subprocess.run(
        ["tar", "-cf", str(archive), "-C", str(layout), "oci-layout", "index.json", "blobs"],
        check=True,
    )
    return layout, archive, layers


def _put(blobs: Path, data: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (blobs / digest.split(":")[1]).write_bytes(data)
    return digest, len(data)


# --- measuring ---------------------------------------------------------------------------------


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants, now."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    total, pending, page = 0, [root], os.sysconf("SC_PAGE_SIZE")
    while pending:
        pid = pending.pop()
        pending += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total


def timed(command: list[str]) -> dict:
    """Wall seconds, the largest process's peak RSS (GNU time) and the tree's peak RSS."""
    with tempfile.NamedTemporaryFile("r") as report:
        process = subprocess.Popen(
            ["/usr/bin/time", "-f", "%M", "-o", report.name, *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
        )
        peak = 0
        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss(process.pid))
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        start = time.perf_counter()
        watcher.start()
        out, err = process.communicate()
        seconds = time.perf_counter() - start
        done.set()
        watcher.join()
        max_rss_kb = int(report.read().strip().splitlines()[-1] or 0)
    return {
        "seconds": seconds,
        "code": process.returncode,
        "out": out.decode(),
        "err": err.decode(),
        "max_rss_mb": max_rss_kb / 1024,
        "tree_rss_mb": peak / MIB,
    }


def best(command: list[str], repeat: int) -> dict:
    runs = [timed(command) for _ in range(repeat)]
    return min(runs, key=lambda r: r["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1536, help="compressed layers in all")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to build (default: tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the archive afterwards")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-verify-", dir=args.dir))
    try:
        start = time.perf_counter()
        layout, archive, layers = build(workdir, args.size_mb)
        compressed = sum(layer["size"] for layer in layers)
        uncompressed = sum(layer["uncompressed"] for layer in layers)
        print(
            f"built {len(layers)} gzip layers, {compressed / MIB:.0f} MiB "
            f"({uncompressed / MIB:.0f} MiB uncompressed, ratio {compressed / uncompressed:.2f}); "
            f"archive {archive.stat().st_size / MIB:.0f} MiB, in {time.perf_counter() - start:.0f} s"
        )
        paths = [layer["path"] for layer in layers]
        subprocess.run(["cat", *paths, str(archive)], stdout=subprocess.DEVNULL, check=True)
        python = [sys.executable, "-m", "reconstruct", "verify", "--format", "json"]
        side_by_side = (
            'sha256sum "$@" > /dev/null & '
            'for f; do gzip -dc "$f" | sha256sum; done > /dev/null; wait'
        )
        sequential = 'for f; do sha256sum "$f"; gzip -dc "$f" | sha256sum; done > /dev/null'
        results = {
            "reconstruct verify oci-archive:": best(
                [*python, f"oci-archive:{archive}"], args.repeat
            ),
            "reconstruct verify oci:": best([*python, f"oci:{layout}"], args.repeat),
            "sha256sum & gzip -dc | sha256sum (side by side)": best(
                ["bash", "-c", side_by_side, "bash", *paths], args.repeat
            ),
            "sha256sum; gzip -dc | sha256sum (one after the other)": best(
                ["bash", "-c", sequential, "bash", *paths], args.repeat
            ),
        }
        for label in ("reconstruct verify oci-archive:", "reconstruct verify oci:"):
            report = json.loads(results[label]["out"])
            layer_checks = [
                c for g in report["groups"] for c in g["checks"] if c["kind"] == "layer"
            ]
            ok = results[label]["code"] == 0 and all(c["verdict"] == "ok" for c in layer_checks)
            if not ok or len(layer_checks) != len(layers):
                raise SystemExit(f"{label} did not verify: {results[label]['err'][:500]}")
        baseline = results["sha256sum & gzip -dc | sha256sum (side by side)"]["seconds"]
        print()
        print("| | wall s | MB/s (compressed) | × baseline | peak RSS MB (largest) | tree RSS MB |")
        print("|---|---:|---:|---:|---:|---:|")
        for label, result in results.items():
            print(
                f"| {label.replace('|', chr(92) + '|')} | {result['seconds']:.2f} | {compressed / 1e6 / result['seconds']:.0f} "
                f"| {baseline / result['seconds']:.2f} | {result['max_rss_mb']:.1f} "
                f"| {result['tree_rss_mb']:.1f} |"
            )
        ratio = baseline / results["reconstruct verify oci-archive:"]["seconds"]
        verdict = "PASS" if ratio >= 0.9 else "FAIL"
        print(f"\ntarget: verify ≥ 0.9 × the baseline's throughput — {verdict} ({ratio:.2f} ×)")
        if args.keep:
            print(f"kept: {workdir}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
