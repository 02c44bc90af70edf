"""Benchmark: the CLI's start-up cost, against a bare two-command typer app.

Builds (in a temporary directory, removed afterwards) a bare typer app with two empty commands
and a sparse ~3 GB legacy `docker save` archive (plain tar: three 1 GiB layer members whose data
is a hole, a config blob with their diff_ids, manifest.json), then times, with the same
interpreter, interleaved round by round so that machine noise hits every command alike:

- the baseline: `python bare_typer.py a` (the app's first command, which does nothing);
- `reconstruct --help`;
- `reconstruct show ARCHIVE --format json` (stdout to /dev/null);
- `reconstruct show samples/python-3-windowsservercore` (the bundled OCI layout);
- for reference, `python -c pass` (the interpreter alone, not a ratio's denominator).

Every `reconstruct` runs as `python -m reconstruct`. Reports best and median wall time of
`--runs` runs and their ratios to the baseline's (target for the plain archive: median ≤ 1.10 ×),
then runs `python -X importtime -m reconstruct show ARCHIVE` (three times, the quickest kept)
and says which heavy modules (docker, rich.progress, zstandard, isal, dockerfile_parse,
tabulate, requests, urllib3) it imports, with their cumulative import time, and the largest
imports the bare app does not make.

    .venv/bin/python bench/bench_startup.py               # 15 runs each (about 30 s)
    .venv/bin/python bench/bench_startup.py --runs 40 --keep
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
SAMPLE = REPO / "samples" / "python-3-windowsservercore"
MIB = 1024 * 1024
GIB = 1024 * MIB
LAYERS = 3  # of LAYER_SIZE each: about 3 GB of archive
LAYER_SIZE = GIB
HEAVY = (
    "docker",
    "rich.progress",
    "zstandard",
    "isal",
    "dockerfile_parse",
    "tabulate",
    "requests",
    "urllib3",
)
TARGET = 1.10
IMPORT_RUNS = 3  # -X importtime runs of each (the quickest kept)

BARE_APP = """\
import typer

app = typer.Typer()


@app.command()
def a():
    ...


@app.command()
def b():
    ...


app()
"""


# --- the sparse archive ------------------------------------------------------------------------


def header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def add(out, name: str, data: bytes) -> None:
    out.write(header(name, len(data)))
    out.write(data)
    out.write(bytes(-len(data) % 512))


def sparse_layer(out, index: int, size: int) -> str:
    """A layer tar of `size` bytes at the current offset: one file of zeros (a hole), the end
    blocks. Returns its diff_id (the zeros are hashed, not written)."""
    inner = header(f"data/zeros-{index}.bin", size - 512 - 1024)
    out.write(inner)
    out.seek(size - 512, os.SEEK_CUR)  # file data and end-of-archive blocks: all zeros
    digest = hashlib.sha256(inner)
    chunk = bytes(16 * MIB)
    left = size - 512
    while left:
        step = min(left, len(chunk))
        digest.update(chunk[:step] if step < len(chunk) else chunk)
        left -= step
    return "sha256:" + digest.hexdigest()


def build_archive(path: Path) -> None:
    """A legacy docker save: `<id>/{VERSION,json,layer.tar}` per layer, `<config>.json`,
    manifest.json, repositories; the layers' data are holes, so the file takes a few KiB."""
    diff_ids, layer_names = [], []
    with open(path, "wb") as out:
        for index in range(LAYERS):
            layer_id = hashlib.sha256(f"bench-startup-layer-{index}".encode()).hexdigest()
            add(out, f"{layer_id}/VERSION", b"1.0")
            add(out, f"{layer_id}/json", json.dumps({"id": layer_id, "os": "linux"}).encode())
            out.write(header(f"{layer_id}/layer.tar", LAYER_SIZE))
            diff_ids.append(sparse_layer(out, index, LAYER_SIZE))
            layer_names.append(f"{layer_id}/layer.tar")
        history = [
            {
                "created": "2026-01-01T00:00:00Z",
                "created_by": f"/bin/sh -c #(nop) ADD file:zeros{index} in /data ",
            }
            for index in range(LAYERS)
        ]
        history.append(
            {
                "created": "2026-01-01T00:00:00Z",
                "created_by": '/bin/sh -c #(nop)  CMD ["sh"]',
                "empty_layer": True,
            }
        )
        config = {
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/bin:/bin"]},
            "history": history,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        config_data = json.dumps(config).encode()
        config_name = hashlib.sha256(config_data).hexdigest() + ".json"
        add(out, config_name, config_data)
        manifest = [{"Config": config_name, "RepoTags": ["bench/sparse:1"], "Layers": layer_names}]
        add(out, "manifest.json", json.dumps(manifest).encode())
        top = layer_names[-1].split("/")[0]
        add(out, "repositories", json.dumps({"bench/sparse": {"1": top}}).encode())
        out.write(bytes(1024))


# --- timing ------------------------------------------------------------------------------------


def run_once(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start, done


def check(name: str, done: subprocess.CompletedProcess) -> None:
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()
        raise SystemExit(f"{name}: exit {done.returncode}\n{err}")


def measure(commands: dict[str, list[str]], runs: int, cwd: Path) -> dict[str, list[float]]:
    """One warm-up run each (page cache, bytecode), then `runs` rounds; each round runs every
    command once, starting one further along the list than the round before."""
    names = list(commands)
    for name in names:
        check(name, run_once(commands[name], cwd)[1])
    walls: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(runs):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            wall, done = run_once(commands[name], cwd)
            check(name, done)
            walls[name].append(wall)
    return walls


# --- -X importtime -----------------------------------------------------------------------------

IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


def import_times(cmd: list[str], cwd: Path) -> list[dict]:
    """`-X importtime` entries in the order printed (children before their parent), each with
    its parent's index (the next entry below that is nested less deeply)."""
    done = subprocess.run(
        [cmd[0], "-X", "importtime", *cmd[1:]],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    check(" ".join(cmd[1:]), done)
    entries = []
    for line in done.stderr.decode(errors="replace").splitlines():
        match = IMPORT_LINE.match(line)
        if match:
            self_us, cum_us, indent, name = match.groups()
            entries.append(
                {"name": name, "self": int(self_us), "cum": int(cum_us), "depth": len(indent)}
            )
    stack: list[int] = []  # indices of entries waiting for their parent, deepest last
    for index in range(len(entries) - 1, -1, -1):
        entries[index]["parent"] = None
        depth = entries[index]["depth"]
        while stack and entries[stack[-1]]["depth"] >= depth:
            stack.pop()
        if stack:
            entries[index]["parent"] = stack[-1]
        stack.append(index)
    return entries


def quickest_imports(cmd: list[str], cwd: Path, runs: int) -> tuple[list[dict], int]:
    """The `-X importtime` run with the least import time in all (µs), of `runs`."""
    timed = []
    for _ in range(runs):
        entries = import_times(cmd, cwd)
        timed.append((sum(e["self"] for e in entries), entries))
    total, entries = min(timed, key=lambda pair: pair[0])
    return entries, total


def heavy_report(entries: list[dict]) -> list[tuple[str, list[dict]]]:
    """For each heavy module: its own entry and any submodules', as imported."""
    found = []
    for heavy in HEAVY:
        hits = [e for e in entries if e["name"] == heavy or e["name"].startswith(heavy + ".")]
        found.append((heavy, hits))
    return found


def extra_roots(entries: list[dict], baseline: list[dict]) -> list[dict]:
    """Modules the bare app does not import, outermost only, largest first. Each gets `extra`:
    the self time of it and of its extra descendants (what the bare app imports too, e.g.
    typer under reconstruct.cli, is left out; a nested extra import counts in its importer)."""
    known = {e["name"] for e in baseline}
    for e in entries:
        e["is_extra"] = e["name"] not in known
        e["extra"] = 0
    for e in entries:  # children come before their parent
        if e["is_extra"]:
            e["extra"] += e["self"]
        if e["parent"] is not None:
            entries[e["parent"]]["extra"] += e["extra"]
    roots = [
        e
        for e in entries
        if e["is_extra"] and (e["parent"] is None or not entries[e["parent"]]["is_extra"])
    ]
    return sorted(roots, key=lambda e: -e["extra"])


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="runs per command (default 15)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        run_bench(work, args.runs)
    finally:
        if args.keep:
            print(f"\nkept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run_bench(work: Path, runs: int) -> None:
    python = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))
    bare = work / "bare_typer.py"
    bare.write_text(BARE_APP)
    archive = work / "sparse.tar"
    t0 = time.perf_counter()
    build_archive(archive)
    on_disk = archive.stat().st_blocks * 512
    print(
        f"built {archive} ({archive.stat().st_size / MIB:.0f} MiB, {on_disk / 1024:.0f} KiB "
        f"on disk) in {time.perf_counter() - t0:.1f} s"
    )
    versions = subprocess.run(
        [python, "-c", "import sys, typer; print(sys.version.split()[0], typer.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    print(
        f"interpreter {python} (Python {versions[0]}, typer {versions[1]}); "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}\n"
    )

    cli = [python, "-m", "reconstruct"]
    commands = {
        "bare typer app (baseline)": [python, str(bare), "a"],
        "reconstruct --help": [*cli, "--help"],
        "reconstruct show plain 3 GB archive": [*cli, "show", str(archive), "--format", "json"],
        "reconstruct show sample (OCI layout)": [*cli, "show", str(SAMPLE)],
        "python -c pass (reference)": [python, "-c", "pass"],
    }
    t0 = time.perf_counter()
    walls = measure(commands, runs, work)
    elapsed = time.perf_counter() - t0
    baseline = statistics.median(walls["bare typer app (baseline)"])
    baseline_best = min(walls["bare typer app (baseline)"])

    print(f"== start-up, {runs} runs each, interleaved ({elapsed:.0f} s)")
    print(f"{'command':38} {'best ms':>8} {'× best':>7} {'median ms':>10} {'× median':>9}")
    for name, times in walls.items():
        best, median = min(times), statistics.median(times)
        print(
            f"{name:38} {best * 1000:8.1f} {best / baseline_best:6.2f}× "
            f"{median * 1000:10.1f} {median / baseline:8.2f}×"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")

    ratio = statistics.median(walls["reconstruct show plain 3 GB archive"]) / baseline
    print(
        f"startup ratio (show plain 3 GB archive / bare typer app): {ratio:.2f}× "
        f"(target ≤ {TARGET:.2f}×) {'PASS' if ratio <= TARGET else 'MISS'}\n"
    )

    # --- what `show ARCHIVE` imports ----------------------------------------------------------
    show = commands["reconstruct show plain 3 GB archive"]
    entries, total = quickest_imports(show, work, IMPORT_RUNS)
    base_entries, base_total = quickest_imports(
        commands["bare typer app (baseline)"], work, IMPORT_RUNS
    )
    print(
        f"== python -X importtime -m reconstruct show ARCHIVE (the quickest of {IMPORT_RUNS} "
        f"runs): {len(entries)} modules, "
        f"{total / 1000:.1f} ms of imports (bare typer app: {len(base_entries)} modules, "
        f"{base_total / 1000:.1f} ms)"
    )
    heavy = heavy_report(entries)
    for module, hits in heavy:
        own = next((e for e in hits if e["name"] == module), None)
        if not hits:
            print(f"  {module:18} not imported")
            continue
        cum = own["cum"] if own else sum(e["self"] for e in hits)
        print(f"  {module:18} IMPORTED: {cum / 1000:6.1f} ms cumulative, {len(hits)} module(s)")
    imported = [module for module, hits in heavy if hits]
    print(f"heavy modules imported: {', '.join(imported) if imported else 'none'}\n")

    roots = extra_roots(entries, base_entries)
    extra_total = sum(e["extra"] for e in roots)
    print(
        f"== imports the bare typer app does not make ({extra_total / 1000:.1f} ms in all), "
        "outermost, largest first: the time of each and of the extra imports under it "
        "(in brackets: its whole cumulative time, and who imports it)"
    )
    for entry in roots[:15]:
        parent = entries[entry["parent"]]["name"] if entry["parent"] is not None else None
        where = f"from {parent}" if parent else "top level"
        print(
            f"  {entry['extra'] / 1000:7.1f} ms  {entry['name']:34} "
            f"({entry['cum'] / 1000:.1f} ms cumulative, {where})"
        )
    largest = sorted((e for e in entries if e["is_extra"]), key=lambda e: -e["self"])[:12]
    print("== the same modules by their own import time (self), largest first")
    for entry in largest:
        parent = entries[entry["parent"]]["name"] if entry["parent"] is not None else None
        print(
            f"  {entry['self'] / 1000:7.1f} ms  {entry['name']:34} "
            f"({f'from {parent}' if parent else 'top level'})"
        )


if __name__ == "__main__":
    main()
