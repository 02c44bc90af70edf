"""Benchmark: `reconstruct files` against `tar -tv` on the same layer (issue 17).

Standalone (no pytest): writes one layer of real file data (files from /usr, as
bench/bench_archive.py makes its layer, default 1.3 GB), a gzip copy of it, and an OCI layout
holding each; then, side by side, best of `--repeat`:

- `tar -tvf layer.tar` and `tar -tvzf layer.tar.gz` (GNU tar; gzip through its own process);
- `reconstruct files oci:LAYOUT --format jsonl` on the plain and on the gzip layout (one
  process: the entries streamed out, the data inflated past and dropped);
- an image of that gzip layer four times over (`--layers 4`): `tar -tvzf` four times in a
  row against `files` with one process (`-j 1`) and with one per CPU (layers listed in
  parallel, the change rules applied in order).

Throughput ratio = tar's seconds / ours (≥ 1: as fast or faster); memory is GNU time's peak RSS.

    python bench/bench_files.py                     # 1.3 GB layer
    python bench/bench_files.py --size-mb 300 --repeat 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_archive import timed, write_layer  # the bench folder is no package


def layout(folder: Path, layer: Path, media_type: str, diff_id: str, times: int = 1) -> Path:
    blobs = folder / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    digest = hashlib.sha256()
    with open(layer, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    os.link(layer, blobs / digest.hexdigest())  # the same bytes, no copy

    def put(data: bytes) -> dict:
        name = hashlib.sha256(data).hexdigest()
        (blobs / name).write_bytes(data)
        return {"digest": f"sha256:{name}", "size": len(data)}

    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id] * times},
            "history": [{"created_by": "/bin/sh -c #(nop) ADD dir:usr in / "}] * times,
        }
    ).encode()
    layer_descriptor = {
        "mediaType": media_type,
        "digest": f"sha256:{digest.hexdigest()}",
        "size": layer.stat().st_size,
    }
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(config)},
            "layers": [layer_descriptor] * times,
        }
    ).encode()
    (folder / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **put(manifest)}]}  # fmt: skip
    (folder / "index.json").write_text(json.dumps(index))
    return folder


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda run: run["wall"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--layers", type=int, default=4, help="layers of the parallel case")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bfiles-", dir="/tmp"))
    try:
        plain = work / "layer.tar"
        with open(plain, "wb") as out:
            diff_id = write_layer(out, args.size_mb * 1_000_000)
        gz = work / "layer.tar.gz"
        with open(gz, "wb") as out:
            subprocess.run(["gzip", "-c", str(plain)], stdout=out, check=True)
        plain_layout = layout(
            work / "plain", plain, "application/vnd.oci.image.layer.v1.tar", diff_id
        )
        gz_layout = layout(
            work / "gzip", gz, "application/vnd.oci.image.layer.v1.tar+gzip", diff_id
        )
        many = layout(
            work / "many", gz, "application/vnd.oci.image.layer.v1.tar+gzip", diff_id, args.layers
        )
        entries = subprocess.run(["tar", "-tf", str(plain)], capture_output=True, check=True)
        count = entries.stdout.count(b"\n")
        print(f"layer: {plain.stat().st_size / 1e9:.2f} GB, {count} entries; "
              f"gzip {gz.stat().st_size / 1e9:.2f} GB")  # fmt: skip
        ours = [sys.executable, "-m", "reconstruct", "files", "--format", "jsonl"]
        rows = [
            ("plain", ["tar", "-tvf", str(plain)], [*ours, f"oci:{plain_layout}"]),
            ("gzip", ["tar", "-tvzf", str(gz)], [*ours, f"oci:{gz_layout}"]),
            (
                f"gz×{args.layers} -j1",
                ["sh", "-c", f'for i in $(seq {args.layers}); do tar -tvzf "$0"; done', str(gz)],
                [*ours, "-j", "1", f"oci:{many}"],
            ),
            (
                f"gz×{args.layers}",
                ["sh", "-c", f'for i in $(seq {args.layers}); do tar -tvzf "$0"; done', str(gz)],
                [*ours, f"oci:{many}"],
            ),
        ]
        print(
            f"\n{'form':<11} {'tar -tv s':>10} {'ours s':>8} {'ratio':>7} {'tar MB':>7} {'our MB':>7}"
        )
        for form, baseline, command in rows:
            theirs = best([timed(baseline) for _ in range(args.repeat)])
            mine = best([timed(command) for _ in range(args.repeat)])
            if mine["code"]:
                raise SystemExit(f"reconstruct files failed: {mine['err'][-500:]}")
            print(
                f"{form:<11} {theirs['wall']:>10.2f} {mine['wall']:>8.2f} "
                f"{theirs['wall'] / mine['wall']:>6.2f}× {theirs['rss_mb']:>7.0f} {mine['rss_mb']:>7.0f}"
            )
        print(f"\nload average {os.getloadavg()[0]:.1f}; ratio = tar's time / ours (≥ 0.9 wanted)")
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
