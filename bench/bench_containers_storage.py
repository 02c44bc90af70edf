"""Benchmark: a containers-storage graph root read offline, against podman itself (issue 15).

Standalone (no pytest): as root, makes a private graph root (vfs) with podman: `podman import`
of a busybox root filesystem (a real layer, tar-split and unpacked files), then N - 1 more
images written the way containers/storage writes them (a record in images.json, each image's
config and manifest as big data files named as store.go names them; every image a different
config on the shared layer: its own label, history step and creation time), and checks that
`podman images` lists all N. Then, over the same images, side by side:

- baseline: a loop of `podman image inspect ID` + `podman history --no-trunc --format json ID`
  per image (what a script without reconstruct does; podman reads the same files);
- `podman image inspect` of every ID in one process, plus the history loop (podman at its best);
- `reconstruct show containers-storage:ROOT --all --format json` (one process).

    python bench/bench_containers_storage.py                 # 1,000 images
    python bench/bench_containers_storage.py --images 200 --repeat 1
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import reconstruct_argv, timed  # the bench folder is no package

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def big_data_name(key: str) -> str:
    if key and all(c == "." or "0" <= c <= "9" or "a" <= c <= "z" for c in key):
        return key
    return "=" + base64.b64encode(key.encode()).decode()


class Store:
    """A private graph root and the podman command line that uses it."""

    def __init__(self, work: Path):
        self.root, self.run = work / "root", work / "run"
        conf = work / "storage.conf"
        conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{self.root}"\n'
                        f'runroot = "{self.run}"\n')  # fmt: skip
        self.env = os.environ | {"CONTAINERS_STORAGE_CONF": str(conf), "TMPDIR": str(work)}
        self.podman = [
            "podman", "--root", str(self.root), "--runroot", str(self.run),
            "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
            "--events-backend", "none", "--tmpdir", str(work / "libpod"),
        ]  # fmt: skip

    def __call__(self, *args: str) -> bytes:
        done = subprocess.run([*self.podman, *args], capture_output=True, env=self.env)
        if done.returncode:
            raise SystemExit(f"podman {' '.join(args[:3])}: {done.stderr.decode()[-500:]}")
        return done.stdout


def base_tar(path: Path) -> None:
    busybox = shutil.which("busybox") or "/bin/busybox"
    with tarfile.open(path, "w") as tar:
        tar.add(busybox, arcname="bin/busybox")


def write_images(store: Store, count: int) -> list[str]:
    """N - 1 more images beside the imported one, as containers/storage records them."""
    images_json = store.root / "vfs-images" / "images.json"
    records = json.loads(images_json.read_text())
    (base,) = records
    config = json.loads((store.root / "vfs-images" / base["id"] / big_data_name(
        f"sha256:{base['id']}")).read_bytes())  # fmt: skip
    layer_manifest = json.loads((store.root / "vfs-images" / base["id"] / "manifest").read_bytes())
    for number in range(1, count):
        created = f"2026-01-01T00:{number // 60 % 60:02d}:{number % 60:02d}Z"
        image_config = dict(config, created=created)
        image_config["config"] = dict(config.get("config") or {}, Labels={"n": str(number)})
        image_config["history"] = [
            *config.get("history", []),
            {"created": created, "created_by": f'/bin/sh -c #(nop)  LABEL n="{number}"',
             "empty_layer": True},
        ]  # fmt: skip
        config_bytes = json.dumps(image_config).encode()
        image_id = hashlib.sha256(config_bytes).hexdigest()
        manifest = dict(layer_manifest)
        manifest["config"] = dict(
            layer_manifest["config"], digest=f"sha256:{image_id}", size=len(config_bytes)
        )
        manifest_bytes = json.dumps(manifest).encode()
        manifest_digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
        folder = store.root / "vfs-images" / image_id
        folder.mkdir()
        items = {
            f"sha256:{image_id}": config_bytes,
            f"manifest-{manifest_digest}": manifest_bytes,
            "manifest": manifest_bytes,
        }
        for key, data in items.items():
            (folder / big_data_name(key)).write_bytes(data)
        name = f"localhost/bench/image-{number}:1"
        records.append({
            "id": image_id, "digest": manifest_digest, "names": [name],
            "names-history": [name], "layer": base["layer"],
            "big-data-names": list(items),
            "big-data-sizes": {k: len(v) for k, v in items.items()},
            "big-data-digests": {k: "sha256:" + hashlib.sha256(v).hexdigest()
                                 for k, v in items.items()},
            "created": created,
        })  # fmt: skip
    partial = images_json.with_suffix(".tmp")
    partial.write_text(json.dumps(records))
    partial.rename(images_json)  # as containers/storage replaces it
    return [record["id"] for record in records]


def podman_loop(store: Store, ids: list[str], together: bool) -> float:
    start = time.perf_counter()
    if together:
        store("image", "inspect", *ids)
    for image_id in ids:
        if not together:
            store("image", "inspect", image_id)
        store("history", "--no-trunc", "--format", "json", image_id)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median is shown")
    args = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which("podman"):
        raise SystemExit("bench_containers_storage: needs root and podman")
    work = Path(tempfile.mkdtemp(prefix="bcs-", dir="/tmp"))
    try:
        store = Store(work)
        base_tar(work / "base.tar")
        store("import", "--quiet", str(work / "base.tar"), "localhost/busybox:local")
        ids = write_images(store, args.images)
        listed = json.loads(store("images", "--format", "json"))
        if len(listed) != args.images:
            raise SystemExit(f"podman lists {len(listed)} images, not {args.images}")
        print(f"{args.images} images in {store.root}; podman images lists all of them")
        show = [*reconstruct_argv(), "show", f"containers-storage:{store.root}", "--all",
                "--format", "json"]  # fmt: skip
        runs: dict[str, list[float]] = {}
        baseline = "podman inspect + history loop (baseline)"
        for _ in range(args.repeat):
            runs.setdefault(baseline, []).append(podman_loop(store, ids, together=False))
            runs.setdefault("podman inspect (all at once) + history loop", []).append(
                podman_loop(store, ids, together=True)
            )
            runs.setdefault("reconstruct show containers-storage:ROOT --all", []).append(
                timed(show)
            )
        reference = statistics.median(runs[baseline])
        print(f"\n{args.images} images, podman {store('--version').decode().split()[-1]}, "
              f"median of {args.repeat}; load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
        print(f"{'what':<50} {'seconds':>8} {'× baseline':>11}")
        for label, seconds in runs.items():
            median = statistics.median(seconds)
            print(f"{label:<50} {median:>8.2f} {median / reference:>10.3f}×")
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(work)], check=False)


if __name__ == "__main__":
    main()
