"""`docker-daemon:` on dockerd 26 with the containerd image store (overlayfs and native) and the
classic store (vfs): every image the builds left reads as its own `docker save`, fast and
`--exact`, and `compare` against that save exits 0 on every store.

On the containerd store the engine's `Id` is the index's digest, not the config's: the source
rebuilds the chain from the content store when it can read it here (it can: the engine is
local), and from the export when it cannot (a remote engine; simulated by hiding the local
content store from the source).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from reconstruct import api
from reconstruct.refs import display_name
from reconstruct.sources.engine import EngineSource
from reconstruct.sources.engine import containerd as engine_containerd
from tests.plugins.engines.dockerd26 import TWO
from tests.support.clirun import run
from tests.support.paths import REPO
from tests.support.schemas import check


@pytest.fixture(scope="module")
def saved(dockerd26):
    d = dockerd26
    folder = d.dir / "engine-saves"
    if not folder.exists():
        folder.mkdir()
        for index, ref in enumerate(d.built.refs):
            d.run("save", "-o", str(folder / f"{index}.tar"), ref)
    return d, {ref: folder / f"{i}.tar" for i, ref in enumerate(d.built.refs)}


def body(target) -> dict:
    document = json.loads(api.render(target, "json"))
    check("show", document)
    reference = document.pop("reference")
    return {"root": document, "name": display_name(reference["name"])}


def differences(a, b, path="") -> list[str]:
    """Where two JSON values differ, as paths (for the failure message)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            p for k in a.keys() | b.keys() for p in differences(a.get(k), b.get(k), f"{path}.{k}")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            p
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for p in differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"[:300]]


def engine_target(d, ref: str, exact: bool | None):
    source = EngineSource(d.host, exact=exact)
    return source.get(ref), source


def test_every_image_reads_as_its_save_fast_and_exact(saved):
    d, saves = saved
    for ref in d.built.refs:
        expected = body(api.load(f"docker-archive:{saves[ref]}"))
        # the classic store's fast path is the API's (whole seconds; covered with dockerd 20.10)
        for exact in (None, True) if d.containerd_store else (True,):
            target, _ = engine_target(d, ref, exact)
            got = body(target)
            if not d.containerd_store:
                # the classic store keeps no manifest: the save's is made at export time
                for image in (got["root"]["root"], expected["root"]["root"]):
                    for key in ("manifest_digest", "manifest_media_type", "manifest_size"):
                        image.pop(key, None)
                    image.pop("total_size", None)
                    for layer in image.get("layers", []):
                        for key in ("digest", "size", "media_type", "last_modified"):
                            layer.pop(key, None)
                    image.pop("warnings", None)
            assert got == expected, (ref, exact, differences(got, expected))


def test_compare_with_its_own_save_exits_0(saved):
    d, saves = saved
    for ref in d.built.refs:
        done = subprocess.run(
            [sys.executable, "-m", "reconstruct", "compare", f"docker-daemon:{ref}",
             f"docker-archive:{saves[ref]}"],
            cwd=REPO,
            capture_output=True,
            env=os.environ | {"DOCKER_HOST": d.host},
            timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, (ref, done.stdout.decode(), done.stderr.decode())


def test_the_containerd_chain_without_the_local_content_store(dockerd26_overlayfs, monkeypatch):
    """A remote engine (or Docker Desktop's VM): the export gives the chain, every platform."""
    d = dockerd26_overlayfs
    saves = {}
    for ref in (TWO, "reconstruct-test/full:1"):
        saves[ref] = d.dir / f"remote-{len(saves)}.tar"
        d.run("save", "-o", str(saves[ref]), ref)
    monkeypatch.setattr(engine_containerd, "local_content_store", lambda info: None)
    for ref in (TWO, "reconstruct-test/full:1"):
        target, source = engine_target(d, ref, True)
        assert source.exports and source.exports[-1].members > 0
        assert body(target) == body(api.load(f"docker-archive:{saves[ref]}")), ref
    fast, source = engine_target(d, "reconstruct-test/full:1", False)
    image = fast.images()[0][2]
    assert image.config_digest is None and image.docker_version is None  # never the wrong one
    assert any("containerd image store" in w for w in image.warnings)
    assert not source.exports


def test_the_image_id_is_the_config_digest(saved):
    d, _ = saved
    for ref in d.built.refs:
        target, _ = engine_target(d, ref, None)
        image = target.images()[0][2]
        assert image.config_digest == d.images[ref].id, ref
    out = run("ls", "docker-daemon:", "--host", d.host)
    assert out.code == 0, out.err


def test_mirror_and_audit_of_the_engine(saved, tmp_path):
    d, _ = saved
    env = os.environ | {"DOCKER_HOST": d.host}

    def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "reconstruct", *args], cwd=REPO, capture_output=True,
            env=env, timeout=600,
        )  # fmt: skip

    out = tmp_path / "mirror"
    mirrored = cli("mirror", "docker-daemon:", str(out))
    assert mirrored.returncode == 0, mirrored.stderr.decode()
    for ref in d.built.refs:
        name, tag = ref.rsplit(":", 1)
        assert (out / "repos" / name / "remote" / f"{tag}.md").is_file(), ref
    audit = cli("audit", "docker-daemon:reconstruct-test/full:1")
    assert audit.returncode in (0, 1) and b"TOKEN" in audit.stdout, audit.stderr.decode()
