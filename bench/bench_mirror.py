"""Benchmark: `reconstruct mirror` of a registry storage directory of many images.

Generates the store with make_registry.py (10,000 tagged images by default: Linux, Windows with
foreign layers, multi-platform indexes, from real producers' JSON), flushes it to disk, then runs
`python -m reconstruct mirror STORE OUT` three times as a user would:

- cold: OUT empty, every file written;
- warm: again, nothing changed (every file compared, none written);
- and reports images/s (tags mirrored per second of wall time, listing included) and the peak
  memory of the whole process tree (the command and its workers), sampled from /proc every
  20 ms: the sum of RSS (shared pages counted in each process: an upper bound) and of PSS.

Targets (issue 7): ≥ 1,000 images/s on a 2-core machine, under 200 MB.

    python bench/bench_mirror.py                     # 10,000 images in a temporary directory
    python bench/bench_mirror.py --images 2000 --jobs 2
    python bench/bench_mirror.py --store /tmp/store  # reuse (or create) a store
    python bench/bench_mirror.py --code /other/checkout   # measure another copy of the code
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_IMAGES_PER_SECOND = 1000
TARGET_MEGABYTES = 200
SAMPLE_SECONDS = 0.02


@dataclass
class Run:
    seconds: float
    cpu_seconds: float  # user + system, of the command and every worker it waited for
    peak_rss: int  # bytes, summed over the tree
    peak_pss: int
    processes: int  # most processes seen at once
    summary: str

    def images_per_second(self, images: int) -> float:
        return images / self.seconds


def tree_of(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc/<pid>/task/<tid>/children."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    todo.extend(int(child) for child in handle.read().split())
            except OSError:
                continue
    return found


def memory_of(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes, from smaps_rollup; (0, 0) once the process is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, pss


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(command: list[str], cwd: Path, env: dict[str, str]) -> Run:
    cpu = children_cpu()
    start = time.perf_counter()
    peak_rss = peak_pss = most = 0
    # Output to a file, not a pipe: nothing reads a pipe while sampling, and a full one blocks.
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, text=True)
        while process.poll() is None:
            pids = tree_of(process.pid)
            sizes = [memory_of(pid) for pid in pids]
            peak_rss = max(peak_rss, sum(rss for rss, _ in sizes))
            peak_pss = max(peak_pss, sum(pss for _, pss in sizes))
            most = max(most, len(pids))
            time.sleep(SAMPLE_SECONDS)
        seconds = time.perf_counter() - start
        output.seek(0)
        lines = output.read().strip().splitlines()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}")
    return Run(seconds, children_cpu() - cpu, peak_rss, peak_pss, most, lines[-1] if lines else "")


def generate(store: Path, images: int) -> dict:
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "make_registry.py"),
            str(store),
            "--images",
            str(images),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    counts = json.loads(done.stdout)
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts


def megabytes(size: int) -> str:
    return f"{size / 1e6:.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--store", type=Path, help="use this store (created when missing)")
    parser.add_argument("--jobs", type=int, help="mirror --jobs (default: one per CPU)")
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout to run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-mirror-"))
    try:
        store = args.store or work / "store"
        if not store.exists():
            print(f"generating {args.images} images in {store} …", file=sys.stderr)
            print("store:", json.dumps(generate(store, args.images), sort_keys=True))
        # Flush the generator's writes now, so the kernel's writeback does not land in a run.
        os.sync()
        env = dict(os.environ, PYTHONPATH=str(args.code))
        out = work / "out"
        command = [sys.executable, "-m", "reconstruct", "mirror", str(store), str(out)]
        if args.jobs:
            command += ["--jobs", str(args.jobs)]
        images = sum(1 for _ in (store / "docker/registry/v2/repositories").glob("**/current/link"))
        cpus = len(os.sched_getaffinity(0))
        load = os.getloadavg()[0]
        listing = measure(
            [sys.executable, "-m", "reconstruct", "ls", "--json", str(store)], args.code, env
        )
        runs = {"cold": measure(command, args.code, env)}
        os.sync()
        runs["warm"] = measure(command, args.code, env)
        report: dict = {
            "images": images,
            "cpus": cpus,
            "load_average_before": round(load, 2),
            "load_average_after": round(os.getloadavg()[0], 2),
            "listing_cpu_seconds": round(listing.cpu_seconds, 2),
        }
        print(
            f"machine: {cpus} CPUs, load average {load:.2f} before, "
            f"{report['load_average_after']:.2f} after (other work slows the wall-clock figures)"
        )
        for name, run in runs.items():
            rate = run.images_per_second(images)
            # On idle CPUs: the listing (one process) then the rest spread over the CPUs.
            projected = listing.cpu_seconds + max(0.0, run.cpu_seconds - listing.cpu_seconds) / cpus
            report[name] = {
                "seconds": round(run.seconds, 2),
                "images_per_second": round(rate),
                "cpu_seconds": round(run.cpu_seconds, 2),
                "projected_idle_images_per_second": round(images / projected),
                "peak_rss_mb": round(run.peak_rss / 1e6),
                "peak_pss_mb": round(run.peak_pss / 1e6),
                "processes": run.processes,
                "summary": run.summary,
            }
            verdict = (
                "meets"
                if rate >= TARGET_IMAGES_PER_SECOND and run.peak_rss < TARGET_MEGABYTES * 1e6
                else "MISSES"
            )
            print(
                f"{name}: {images} images in {run.seconds:.2f} s = {rate:.0f} images/s "
                f"({run.cpu_seconds:.1f} CPU-s; on idle CPUs ≈ {images / projected:.0f}/s); "
                f"peak memory {megabytes(run.peak_rss)} RSS / {megabytes(run.peak_pss)} PSS over "
                f"{run.processes} processes; {verdict} the target "
                f"(≥ {TARGET_IMAGES_PER_SECOND}/s, < {TARGET_MEGABYTES} MB)"
            )
            print(f"  {run.summary}")
        print(json.dumps(report, sort_keys=True))
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
