"""`mirror` against a hostile OUTDIR and hostile names: real runs of the command line.

Nothing outside OUTDIR may be written: a canary folder behind links planted at every place mirror
writes to stays byte for byte as it was. Names and tags that are no safe path are refused, not
written; two names never share files. A mirror killed at any point leaves no process behind, and
the next run ends with the tree a clean run writes and no temp file. Two mirrors never interleave
in one OUTDIR.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.mirror.test_mirror import make_registry, v2
from tests.support.limits import assert_clean, run_limited
from tests.support.paths import REPO

TEMP = re.compile(r"\.reconstruct-[0-9a-f]{32}\.tmp")
LOCK = ".reconstruct-mirror.lock"
MARKER = "RECONSTRUCT_HOSTILE_TEST_RUN"


# --- helpers -----------------------------------------------------------------------------------


def files(root: Path) -> dict[str, bytes]:
    """Every regular file under `root` (links are not followed, and not listed), by path."""
    found = {}
    for folder, subfolders, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                found[str(path.relative_to(root))] = path.read_bytes()
        subfolders[:] = [d for d in subfolders if not (Path(folder) / d).is_symlink()]
    return found


def state(root: Path) -> dict[str, tuple[str, bytes | str, int]]:
    """Everything under `root` (a canary): kind, content or link target, modification time."""
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            found[str(path.relative_to(root))] = ("link", os.readlink(path), info.st_mtime_ns)
        elif path.is_dir():
            found[str(path.relative_to(root))] = ("dir", "", info.st_mtime_ns)
        else:
            found[str(path.relative_to(root))] = ("file", path.read_bytes(), info.st_mtime_ns)
    return found


def make_canary(root: Path) -> Path:
    """A folder that looks like a repository's (documents, tag-details.md) and must stay as is."""
    root.mkdir()
    for name in ("1.0.0.md", "1.0.1.md", "latest.md", "other.md", "tag-details.md"):
        (root / name).write_text(f"canary {name}: not mirror's to touch\n")
    (root / "remote").mkdir()
    (root / "remote" / "1.0.0.md").write_text("canary remote document\n")
    (root / "notes.txt").write_text("notes\n")
    old = 1_500_000_000_000_000_000
    for path in root.rglob("*"):
        os.utime(path, ns=(old, old))
    os.utime(root, ns=(old, old))
    return root


def temps(root: Path) -> list[str]:
    return [
        str(path.relative_to(root))
        for path in root.rglob("*")
        if TEMP.fullmatch(path.name) or re.fullmatch(r"\..*\.\d+\.tmp", path.name)
    ]


def mirror_limited(source: Path, out: Path, *args: str):
    result = run_limited("mirror", source, out, *args)
    assert_clean(result)
    return result


def failure_lines(result) -> list[str]:
    return [line for line in result.err.splitlines() if not line.startswith("reconstruct: note:")]


def tag_details_tags(path: Path) -> list[str]:
    """The tags a tag-details.md lists in its table of contents."""
    repo = re.search(r"^# Tags of `(.+)`$", path.read_text(), re.M)
    assert repo is not None, path
    return re.findall(rf"^-\t\[`{re.escape(repo.group(1))}:([^`]+)`\]", path.read_text(), re.M)


def assert_tag_details_match_documents(out: Path) -> int:
    """Each repository's tag-details.md lists exactly the documents in its remote/; how many."""
    checked = 0
    for details in (out / "repos").rglob("tag-details.md"):
        documents = sorted(p.stem for p in (details.parent / "remote").glob("*.md"))
        assert sorted(tag_details_tags(details)) == documents, details
        checked += 1
    return checked


# --- sources -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    """12 images in 3 repositories: app0 (library/app0), team1/service1, team2/service2."""
    return make_registry(tmp_path_factory.mktemp("small") / "store", 12)


@pytest.fixture(scope="module")
def clean_small(small, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("clean-small") / "out"
    assert mirror_limited(small, out).code == 0
    tree = files(out)
    assert "repos/app0/remote/1.0.0.md" in tree and "repos/team1/service1/tag-details.md" in tree
    return tree


def without(tree: dict[str, bytes], prefix: str) -> dict[str, bytes]:
    return {path: data for path, data in tree.items() if not path.startswith(prefix)}


# --- links planted in OUTDIR -------------------------------------------------------------------


def test_a_link_at_repos_is_refused_in_one_line(small, tmp_path):
    canary = make_canary(tmp_path / "canary")
    before = state(canary)
    out = tmp_path / "out"
    out.mkdir()
    (out / "repos").symlink_to(canary)
    result = mirror_limited(small, out)
    assert result.code == 2 and "repos is a symbolic link" in result.err, result
    assert state(canary) == before
    assert (out / "repos").is_symlink()


@pytest.mark.parametrize(
    "planted",
    ["repos/app0", "repos/app0/remote", "repos/team1", "repos/team1/service1/remote"],
)
def test_a_link_at_a_repository_folder_is_refused_and_the_rest_is_written(
    small, clean_small, tmp_path, planted
):
    canary = make_canary(tmp_path / "canary")
    before = state(canary)
    out = tmp_path / "out"
    (out / planted).parent.mkdir(parents=True)
    (out / planted).symlink_to(canary)
    result = mirror_limited(small, out)
    assert result.code == 1, result
    failures = failure_lines(result)
    assert failures and all("is a symbolic link; mirror follows no link" in f for f in failures)
    assert state(canary) == before
    # The repository behind the link is not written; every other one is as a clean run writes.
    repository = planted.removesuffix("/remote").removeprefix("repos/")
    assert files(out) == without(clean_small, f"repos/{repository}/")
    again = mirror_limited(small, out)
    assert again.code == 1 and "0 written" in again.out
    assert state(canary) == before


def test_links_at_document_paths_are_refused_and_not_followed(small, clean_small, tmp_path):
    canary = make_canary(tmp_path / "canary")
    before = state(canary)
    out = tmp_path / "out"
    remote = out / "repos" / "app0" / "remote"
    remote.mkdir(parents=True)
    (remote / "1.0.0.md").symlink_to(canary / "1.0.0.md")
    (remote / "gone.md").symlink_to(canary / "other.md")  # a stale tag's document
    (remote / "dangling.md").symlink_to(canary / "absent.md")
    (out / "repos" / "app0" / "tag-details.md").symlink_to(canary / "tag-details.md")
    (out / "repos" / "team1" / "service1").mkdir(parents=True)
    (out / "repos" / "team1" / "service1" / "tag-details.md").symlink_to(canary / "latest.md")
    os.mkfifo(remote / "1.0.1.md")  # would hang a reader that waits for a writer
    result = mirror_limited(small, out)
    assert result.code == 1, result
    assert any(
        "app0:1.0.0: " in f and "1.0.0.md is a symbolic link" in f for f in result.err.splitlines()
    )
    assert any("1.0.1.md is not a regular file" in f for f in result.err.splitlines())
    assert state(canary) == before
    assert not (canary / "absent.md").exists()
    for link in ("1.0.0.md", "gone.md", "dangling.md"):
        assert (remote / link).is_symlink()  # left as they are: never followed, never removed
    # service1's documents are written; its tag-details.md, a link, is refused.
    assert "service1/tag-details.md is a symbolic link" in result.err
    expected = without(without(clean_small, "repos/app0/"), "repos/team1/service1/tag-details.md")
    assert without(files(out), "repos/app0/") == expected
    assert files(out)["repos/app0/remote/1.0.2.md"] == clean_small["repos/app0/remote/1.0.2.md"]


def test_links_at_predictable_temp_names_are_left_alone(small, clean_small, tmp_path):
    """Earlier versions wrote `.<file>.<pid>.tmp`: links planted at those names for the pids
    that come next must not be written through."""
    canary = make_canary(tmp_path / "canary")
    before = state(canary)
    out = tmp_path / "out"
    folders = {
        out / "repos" / "app0" / "remote": ["1.0.0.md", "1.0.1.md", "1.0.2.md"],
        out / "repos" / "app0": ["tag-details.md"],
        out / "repos" / "team1" / "service1": ["tag-details.md"],
    }
    first = os.getpid()
    planted = []
    for folder, names in folders.items():
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            for pid in range(first, first + 400):
                link = folder / f".{name}.{pid}.tmp"
                link.symlink_to(canary / "latest.md")
                planted.append(link)
    result = mirror_limited(small, out)
    assert result.code == 0, result
    assert state(canary) == before
    assert all(link.is_symlink() for link in planted)
    assert files(out) == clean_small


def test_a_link_at_the_lock_file_is_refused(small, tmp_path):
    canary = make_canary(tmp_path / "canary")
    before = state(canary)
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK).symlink_to(canary / "latest.md")
    result = mirror_limited(small, out)
    assert result.code == 2 and f"{LOCK} is a symbolic link" in result.err, result
    assert state(canary) == before
    assert not (out / "repos").exists()


@pytest.mark.parametrize("planted", ["hard link", "an input saved there"])
def test_a_lock_file_that_is_no_lock_is_left_alone(small, tmp_path, planted):
    # truncated to hold the pid, a hard link's target outside OUTDIR (or a file the user keeps
    # there, even the archive being mirrored) would be lost
    canary = make_canary(tmp_path / "canary")
    out = tmp_path / "out"
    out.mkdir()
    if planted == "hard link":
        os.link(canary / "latest.md", out / LOCK)
    else:
        (out / LOCK).write_bytes(b"ustar archive bytes" * 100)
    before, kept = state(canary), (out / LOCK).read_bytes()
    result = mirror_limited(small, out)
    assert result.code == 2 and f"{LOCK} is not a mirror's lock" in result.err, result
    assert state(canary) == before and (out / LOCK).read_bytes() == kept
    assert not (out / "repos").exists()


def test_an_outdir_that_is_a_link_loop_or_empty_is_one_line(small, tmp_path):
    (tmp_path / "loop").symlink_to("loop")
    result = mirror_limited(small, tmp_path / "loop")
    assert result.code == 2 and "loop of symbolic links" in result.err, result
    result = run_limited("mirror", str(small), "", cwd=tmp_path)
    assert result.code == 2 and "OUTDIR is empty" in result.err, result
    assert not (tmp_path / "repos").exists()


def test_outdir_itself_may_be_a_link(small, clean_small, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "chosen").symlink_to(real)
    assert mirror_limited(small, tmp_path / "chosen").code == 0
    assert files(real) == clean_small


# --- names and tags ----------------------------------------------------------------------------


def add_repository(store: Path, name: str, model: str = "library/app0") -> Path:
    """A copy of repository `model` (its links; the blobs are shared) under `name`."""
    repositories = v2(store) / "repositories"
    target = repositories / name
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(repositories / model / "_manifests", target / "_manifests")
    return target


def add_tag(repository: Path, tag: str, like: str = "1.0.0") -> None:
    tags = repository / "_manifests" / "tags"
    shutil.copytree(tags / like, tags / tag)


def test_hostile_names_and_tags_are_refused_and_never_written(small, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(small, store)
    x = add_repository(store, "x")
    add_repository(store, "x/remote")  # would land in x's documents folder
    add_repository(store, "x/tag-details.md")  # would be a folder where x's file is
    add_repository(store, "x/y/remote")
    add_repository(store, "foo\n")
    add_repository(store, "Upper")
    add_tag(x, "1.0.0\n")  # a tag ending in a newline
    add_tag(x, "Latest")
    add_tag(x, "latest")  # one file with Latest on a case-insensitive file system
    out = tmp_path / "out"
    result = mirror_limited(store, out)
    assert result.code == 1, result
    err = result.err
    assert "name 'x/remote' cannot be a repo-info path" in err
    assert "name 'x/tag-details.md' cannot be a repo-info path" in err
    assert "name 'x/y/remote' cannot be a repo-info path" in err
    assert "name 'foo\\n' cannot be a repo-info path" in err
    assert "name 'Upper' cannot be a repo-info path: repository names are lowercase" in err
    assert "tag '1.0.0\\n' cannot be a file name" in err
    assert "x:latest skipped: its file name differs from Latest.md's only in case" in err
    assert all(line.startswith("reconstruct: ") for line in err.splitlines())
    names = {path.name for path in out.rglob("*")}
    assert not any("\n" in name for name in names)
    assert not (out / "repos" / "Upper").exists() and not (out / "repos" / "x" / "y").exists()
    x_documents = sorted(p.name for p in (out / "repos" / "x" / "remote").iterdir())
    assert x_documents == [
        "1.0.0.md",
        "1.0.1.md",
        "1.0.2.md",
        "1.0.3-windowsservercore.md",
        "Latest.md",
    ]
    assert sorted(p.name for p in (out / "repos" / "x").iterdir()) == ["remote", "tag-details.md"]
    assert assert_tag_details_match_documents(out) == 4  # app0, service1, service2, x
    tree = files(out)
    again = mirror_limited(store, out)
    assert "0 written" in again.out and " 0 removed" in again.out, again
    assert files(out) == tree


# --- interrupted runs --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """A store that takes a mirror a few seconds: 2000 images in 50 repositories."""
    return make_registry(tmp_path_factory.mktemp("big") / "store", 2000, per_repo=40)


@pytest.fixture(scope="module")
def clean_big(big, tmp_path_factory) -> tuple[dict[str, bytes], float]:
    """A clean run's tree, and how long the run took."""
    out = tmp_path_factory.mktemp("clean-big") / "out"
    started = time.monotonic()
    result = mirror_limited(big, out, "--jobs", "4")
    assert result.code == 0, result
    return files(out), time.monotonic() - started


def start_mirror(source: Path, out: Path, marker: str, *args: str) -> subprocess.Popen:
    """The command in a session of its own, its processes marked by an environment variable."""
    return subprocess.Popen(
        [sys.executable, "-m", "reconstruct", "mirror", str(source), str(out), *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), MARKER: marker},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def marked(marker: str) -> list[int]:
    """Live (not zombie) processes whose environment holds MARKER=marker."""
    wanted = f"{MARKER}={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environment = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            status = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if wanted in environment and status != "Z":
            found.append(int(entry))
    return found


def wait_for(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def assert_none_survive(marker: str, process: subprocess.Popen) -> None:
    try:
        assert wait_for(lambda: not marked(marker), 2.0), f"still alive: {marked(marker)}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever is left, so no test leaks it
        process.communicate()


def test_sigkill_at_random_points_leaves_nothing_and_the_rerun_repairs(big, clean_big, tmp_path):
    if not Path("/proc/self/environ").exists():
        pytest.skip("needs /proc")
    clean, duration = clean_big
    seed = random.randrange(1 << 30)
    chance = random.Random(seed)
    # Two kills at random times, two once the workers run; half of the main process alone (its
    # workers must die with it), half of the whole process group.
    plans = [("time", "main"), ("time", "group"), ("workers", "main"), ("workers", "group")]
    killed_with_workers = 0
    for number, (when, whom) in enumerate(plans):
        out = tmp_path / f"out{number}"
        marker = uuid.uuid4().hex
        process = start_mirror(big, out, marker, "--jobs", "4")
        if when == "time":
            time.sleep(chance.uniform(0.2, 0.95) * duration)
        else:
            running = wait_for(lambda marker=marker: len(marked(marker)) >= 3, 30)
            assert running, f"seed {seed}: no workers"
            time.sleep(chance.uniform(0.0, 0.25) * duration)
        killed_with_workers += len(marked(marker)) > 1
        if whom == "main":
            os.kill(process.pid, signal.SIGKILL)
        else:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        assert_none_survive(marker, process)
        if not out.exists():
            continue  # killed while listing the store: nothing written yet
        rerun = mirror_limited(big, out, "--jobs", "4")
        assert rerun.code == 0, (seed, rerun)
        assert files(out) == clean, f"seed {seed}, kill {number}"
        assert temps(out) == [] and not (out / LOCK).exists()
    assert killed_with_workers >= 2, f"seed {seed}"


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_remove_temp_files_and_stop_the_workers(big, tmp_path, number):
    out = tmp_path / "out"
    marker = uuid.uuid4().hex
    process = start_mirror(big, out, marker, "--jobs", "4")
    assert wait_for(lambda: len(marked(marker)) >= 3, 30), "no workers"
    time.sleep(0.3)
    os.kill(process.pid, number)
    try:
        _, err = process.communicate(timeout=30)
    finally:
        assert_none_survive(marker, process)
    if number == signal.SIGTERM:
        assert process.returncode == -signal.SIGTERM, err
        assert err.decode().count("Traceback") == 0
    else:
        assert process.returncode == 130, err  # typer's exit code for an interrupt
        assert err.decode().count("Traceback") == 0
    assert (out / "repos").is_dir()
    assert temps(out) == []
    assert not (out / LOCK).exists()


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_whole_group_never_hangs_the_pool(big, tmp_path, number):
    # Ctrl-C (and `kill -TERM -PGID`) reach the workers too: a worker killed mid-write left its
    # result half in the pool's pipe, and the parent waited for the rest forever (1 run in 5)
    chance = random.Random(number)
    for attempt in range(6):
        out = tmp_path / f"out{attempt}"
        marker = uuid.uuid4().hex
        process = start_mirror(big, out, marker, "--jobs", "4")
        assert wait_for(lambda mark=marker: len(marked(mark)) >= 3, 30), "no workers"
        time.sleep(chance.uniform(0.1, 1.0))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, number)
        try:
            _, err = process.communicate(timeout=30)
        finally:
            assert_none_survive(marker, process)
        assert b"Traceback" not in err, err
        assert temps(out) == [] and not (out / LOCK).exists()


def test_temp_files_of_a_killed_run_are_removed_by_the_next(small, clean_small, tmp_path):
    out = tmp_path / "out"
    remote = out / "repos" / "app0" / "remote"
    remote.mkdir(parents=True)
    left = [
        remote / ".reconstruct-0123456789abcdef0123456789abcdef.tmp",
        out / "repos" / "app0" / ".reconstruct-fedcba9876543210fedcba9876543210.tmp",
        remote / ".1.0.0.md.4242.tmp",  # what an earlier version left
        out / "repos" / "gone" / "remote" / ".reconstruct-00000000000000000000000000000000.tmp",
    ]
    for path in left:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    result = mirror_limited(small, out)
    assert result.code == 0, result
    assert "removed 4 temp file(s) an interrupted run left" in result.err
    assert temps(out) == []
    assert without(files(out), "repos/gone/") == clean_small


# --- two mirrors, one OUTDIR -------------------------------------------------------------------


def test_a_second_mirror_into_the_same_outdir_stops_at_once(big, small, tmp_path):
    out = tmp_path / "out"
    marker = uuid.uuid4().hex
    first = start_mirror(big, out, marker, "--jobs", "2")
    try:
        assert wait_for(lambda: (out / LOCK).exists() and marked(marker), 30), "no lock taken"
        second = mirror_limited(small, out)
        still_running = first.poll() is None
    finally:
        _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    if still_running:
        assert second.code == 2, second
        assert re.fullmatch(
            rf"reconstruct: {re.escape(str(out))} is being written by another mirror "
            rf"\(pid {first.pid}\)\n",
            second.err,
        ), second
    assert assert_tag_details_match_documents(out) == 50
    assert not (out / LOCK).exists()


def test_concurrent_mirrors_of_different_stores_never_interleave(big, small, tmp_path):
    """Started together, again and again: each run either stops on the lock or runs whole;
    every tag-details.md lists exactly the documents beside it."""
    for attempt in range(4):
        out = tmp_path / f"out{attempt}"
        runs = [start_mirror(store, out, uuid.uuid4().hex) for store in (small, big, small)]
        outcomes = [(run.communicate(timeout=120), run.returncode) for run in runs]
        codes = [code for _, code in outcomes]
        for (_, stderr), code in outcomes:
            assert code in (0, 2), stderr
            if code == 2:
                assert re.fullmatch(
                    rf"reconstruct: {re.escape(str(out))} is being written by another mirror "
                    r"\(pid \d+\)\n",
                    stderr.decode(),
                ), stderr
        assert 0 in codes
        assert assert_tag_details_match_documents(out) >= 3
        assert temps(out) == [] and not (out / LOCK).exists()
