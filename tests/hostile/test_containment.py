"""Stores that try to make reconstruct read outside them (tests/support/attacks.py): nothing
outside the input is opened (strace watches every open), the canary's secret never appears in
any output, FIFOs and devices cost no hang, and verify fails where something it must check
could not be read."""

from __future__ import annotations

import atexit
import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from reconstruct.blob import contained
from reconstruct.blob.contained import InputPath
from reconstruct.errors import SourceError
from tests.support import attacks
from tests.support.limits import assert_clean, run_limited
from tests.support.needs import installable_here, need_tools
from tests.support.paths import REPO

# Built once at collection (the names parametrize the tests); removed at exit by `rm -rf`, since
# shutil.rmtree recurses and the deep cases are deeper than Python's recursion limit.
FOLDER = Path(tempfile.mkdtemp(prefix="attacks-"))
atexit.register(subprocess.run, ["rm", "-rf", "--one-file-system", str(FOLDER)], check=False)
CASES = attacks.build(FOLDER)
OUTSIDE = (FOLDER / "outside").resolve()


def test_every_attack_is_built():
    # device nodes need root; on a root Debian machine (CI) every case is there
    assert len(CASES) >= (71 if os.geteuid() == 0 else 64), sorted(CASES)
    if installable_here():
        assert os.geteuid() == 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_show_and_verify_stay_inside(name):
    attack = CASES[name]
    for command in attack.commands:
        args = [command, attack.spec] + (["--format", "json"] if command == "verify" else [])
        result = run_limited(*args, timeout=30)
        assert_clean(result)
        assert attacks.SECRET not in result.out + result.err, result
        assert "CANARY" not in result.out + result.err, result
        if command == "show":
            assert result.code == (0 if attack.show_ok else 2), result
        if command == "files":  # a layer it cannot read is said to be so, in the listing
            assert result.code == (0 if attack.show_ok else 2), result
        if command == "verify":
            if attack.verify_fails:
                assert result.code in (1, 2), result
            else:
                assert result.code == 0, result


@pytest.mark.parametrize("name", sorted(CASES))
def test_mirror_stays_inside_and_says_why_an_image_is_left_out(name, tmp_path):
    attack = CASES[name]
    result = run_limited("mirror", attack.spec, str(tmp_path / "out"), "--jobs", "1", timeout=30)
    assert_clean(result)  # an image it cannot read is a failure, said in one line, not a bug
    written = "".join(p.read_text() for p in (tmp_path / "out").rglob("*.md"))
    assert "CANARY" not in result.out + result.err + written, result


def _opened(*args: str) -> list[str]:
    """Every path a run of the CLI opened, as the kernel resolved it (strace -y)."""
    need_tools("strace")
    with tempfile.NamedTemporaryFile(suffix=".strace") as log:
        command = ["strace", "-f", "-qq", "-y", "-e", "trace=open,openat,openat2,creat"]
        command += ["-e", "status=successful", "-o", log.name]
        command += [sys.executable, "-m", "reconstruct", *args]
        subprocess.run(command, cwd=REPO, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        text = Path(log.name).read_text(errors="replace")
    assert "openat" in text, "strace saw no open at all"
    return re.findall(r"= \d+<([^>]*)>", text)


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_file_outside_the_input_is_opened(name):
    attack = CASES[name]
    for command in ("show", "verify", "files"):
        if command not in attack.commands:
            continue
        leaked = [p for p in _opened(command, attack.spec) if p.startswith(str(OUTSIDE))]
        assert leaked == [], f"{command} {attack.spec} opened {leaked}"


def test_strace_would_see_a_leak():
    """The check above is not vacuous: the canary's own layout, read directly, is opened."""
    opened = _opened("show", f"oci:{OUTSIDE / 'layout'}")
    assert any(p.startswith(str(OUTSIDE)) for p in opened)


def test_a_link_that_stays_inside_is_followed_and_verified():
    result = run_limited("verify", CASES["oci-config-linked-inside"].spec)
    assert result.code == 0 and "verified" in result.out, result


def test_verify_says_why_a_layer_cannot_be_read():
    result = run_limited("verify", CASES["oci-layer-fifo"].spec)
    assert result.code == 1 and "FIFO, not a regular file" in result.out, result
    result = run_limited("verify", CASES["oci-layer-out"].spec)
    assert result.code == 1 and "leads outside the input" in result.out, result


def test_a_docker_root_never_echoes_a_record():
    result = run_limited("show", CASES["root-diff-holds-text"].spec)
    assert result.code == 0 and "diff holds no digest" in result.out, result
    result = run_limited("verify", CASES["root-diff-holds-text"].spec)
    assert result.code == 1 and "not a readable digest" in result.out, result


# --- the resolver itself, both ways: openat2 (the kernel's) and the O_NOFOLLOW walk ------------


@pytest.fixture(params=["openat2", "walk"])
def resolver(request, monkeypatch):
    if request.param == "openat2" and not contained.use_openat2:
        pytest.skip("this kernel has no openat2 (the walk is tested)")
    monkeypatch.setattr(contained, "use_openat2", request.param == "openat2")
    return request.param


@pytest.fixture()
def tree(tmp_path):
    inside, out = tmp_path / "in", tmp_path / "out"
    (inside / "a" / "b").mkdir(parents=True)
    out.mkdir()
    (out / "secret").write_text("secret")
    (inside / "a" / "b" / "file").write_text("file")
    (inside / "rel").symlink_to("a/b/file")
    (inside / "a" / "up").symlink_to("../a/b")
    (inside / "abs-in").symlink_to(inside / "a" / "b" / "file")
    (inside / "abs-out").symlink_to(out / "secret")
    (inside / "dotdot").symlink_to("../out/secret")
    (inside / "dir-out").symlink_to(out)
    (inside / "loop").symlink_to("loop")
    os.mkfifo(inside / "fifo")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(inside / "socket"))
    return InputPath.of(inside)


def test_symlinks_inside_are_followed(resolver, tree):
    assert (tree / "rel").read_bytes("file", 100) == b"file"
    assert (tree / "a" / "up" / "file").read_bytes("file", 100) == b"file"
    assert (tree / "a" / ".." / "rel").is_file()
    assert tree.is_dir() and (tree / "a").is_dir()


@pytest.mark.parametrize("name", ["abs-out", "dotdot", "dir-out/secret", "../out/secret", "abs-in"])
def test_a_path_leading_out_is_refused(resolver, tree, name):
    # an absolute symlink is refused even when it points inside: as RESOLVE_BENEATH does
    path = tree / name
    assert path.kind() == "outside"
    with pytest.raises(SourceError, match="leads outside the input"):
        path.read_bytes("blob", 100)


def test_a_symlink_loop_is_refused(resolver, tree):
    assert (tree / "loop").kind() == "outside"
    with pytest.raises(SourceError, match="loop"):
        (tree / "loop").read_bytes("blob", 100)


@pytest.mark.parametrize("name,kind", [("fifo", "FIFO"), ("socket", "socket")])
def test_special_files_are_refused_without_hanging(resolver, tree, name, kind):
    assert (tree / name).kind() == "other"
    assert (tree / name).problem() == f"it is a {kind}, not a regular file"
    with pytest.raises(SourceError, match=f"{kind}, not a regular file"):
        (tree / name).read_bytes("record", 100)


def test_a_device_is_refused(resolver, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    os.mknod(tmp_path / "zero", 0o600 | 0o020000, os.makedev(1, 5))
    path = InputPath.of(tmp_path) / "zero"
    assert path.problem() == "it is a device, not a regular file"
    with pytest.raises(SourceError, match="device"):
        path.read_bytes("record", 100)


def test_listing_and_walking_stay_inside(resolver, tree):
    assert "secret" not in (tree / "a").names()
    with pytest.raises(SourceError, match="leads outside"):
        (tree / "dir-out").names()
    walked = [(folder.key, sorted(files)) for folder, _, files in tree.walk()]
    assert (
        "",
        sorted(["abs-in", "abs-out", "dir-out", "dotdot", "fifo", "loop", "rel", "socket"]),
    ) in walked
    assert all(
        not key.startswith("dir-out") for key, _ in walked
    )  # a symlinked folder: not entered


def test_a_walk_is_bounded_in_depth(resolver, tmp_path):
    os.makedirs(tmp_path / "/".join(["d"] * 80))
    with pytest.raises(SourceError, match="nested over 64 folders deep"):
        list(InputPath.of(tmp_path).walk())


def test_reading_is_bounded_by_the_limit_not_the_claim(resolver, tmp_path):
    (tmp_path / "big").write_bytes(b"x" * 1000)
    with pytest.raises(SourceError, match="too large"):
        (InputPath.of(tmp_path) / "big").read_bytes("metadata", 999)
    assert (InputPath.of(tmp_path) / "big").read_bytes("metadata", 1000) == b"x" * 1000
