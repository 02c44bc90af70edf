"""The containerd image store read offline: `docker-root:` of a dockerd 26 data root with
`containerd-snapshotter` (overlayfs and native), and `containerd:` of that data root's
containerd and of a standalone containerd 1.7 with archives imported by `ctr`.

The ground truth is `docker save` of the same image (an OCI layout, every blob the store holds):
for every image built (BuildKit: every instruction, multi-stage, heredocs, two platforms, a
mode=max provenance; the classic builder; a tag alias; a dangling image), every rendered field
of every reading equals the saved layout's, and `compare` exits 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconstruct import api
from reconstruct.refs import display_name
from reconstruct.sources import detect, open_source
from tests.plugins.engines.dockerd26 import PROV, TWO
from tests.support.clirun import assert_one_line_error, run
from tests.support.schemas import check

STORES = ("overlayfs", "native")


@pytest.fixture(scope="module", params=STORES)
def store(request):
    """A containerd-store dockerd 26, its images saved, then the daemon stopped: every test
    here reads the data root with no daemon."""
    d = request.getfixturevalue(f"dockerd26_{request.param}")
    saves = d.dir / "saves"
    if not saves.exists():
        saves.mkdir()
        for index, ref in enumerate(d.built.refs):
            d.run("save", "-o", str(saves / f"{index}.tar"), ref)
    d.stop()
    yield d, {ref: saves / f"{i}.tar" for i, ref in enumerate(d.built.refs)}
    d.start()


def rendered(spec: str) -> tuple[str, str, dict]:
    """repo-info and JSON renderings, and the reference with its name as repo-info shows it
    (a `docker save` names `busybox`, the store `docker.io/library/busybox`)."""
    target = api.load(spec)
    name = "reconstruct-test/image:1"  # one header name, so the bodies compare
    document = json.loads(api.render(target, "json"))
    check("show", document)
    reference = document.pop("reference")
    reference["name"] = display_name(reference["name"])
    return api.render(target, "repo-info", name=name), document, reference


def qualified(ref: str) -> str:
    return ref if ref.count("/") > 1 else f"docker.io/{ref if '/' in ref else 'library/' + ref}"


def test_every_image_reads_as_its_docker_save(store):
    d, saves = store
    for ref in d.built.refs:
        expected = rendered(f"docker-archive:{saves[ref]}")
        name = qualified(ref)
        assert rendered(f"docker-root:{d.data_root}:{name}") == expected, ref
        assert rendered(f"containerd:{d.containerd_root}:moby/{name}") == expected, ref
        compared = api.compare(f"docker-root:{d.data_root}:{name}", f"docker-archive:{saves[ref]}")
        assert not compared.differs, (ref, compared.comparison)


def test_the_chain_is_the_stores_own(store):
    """Image ID = config digest, the index and its attestation manifests, both platforms."""
    d, _ = store
    two = api.load(f"docker-root:{d.data_root}:{qualified(TWO)}")
    images = two.images()
    platforms = [(p.os, p.architecture) for p, _, _ in images]
    assert platforms[:2] == [("linux", "amd64"), ("linux", "arm64")]
    assert platforms[2:] == [("unknown", "unknown")] * 2  # one attestation per platform
    assert images[0][2].config_digest == d.images[TWO].id
    assert two.reference.digest == d.images[TWO].inspect["Id"]  # the index is the target
    prov = api.load(f"docker-root:{d.data_root}:{qualified(PROV)}")
    attestation = prov.images()[-1][2]
    assert [layer.media_type for layer in attestation.layers] == ["application/vnd.in-toto+json"]
    for ref in d.built.refs:
        image = api.load(f"docker-root:{d.data_root}:{qualified(ref)}").images()[0][2]
        assert image.config_digest == d.images[ref].id, ref
        assert all(layer.size for layer in image.layers), ref  # compressed sizes are known


def test_listing_aliases_and_dangling(store):
    d, _ = store
    refs = api.list_references(f"docker-root:{d.data_root}")
    by_selector = {ref.selector: ref for ref in refs}
    for ref in d.built.refs:
        assert qualified(ref) in by_selector, ref
    for alias, original in d.built.aliases.items():
        assert by_selector[qualified(alias)].digest == by_selector[qualified(original)].digest
    dangling = [ref for ref in refs if ref.selector.startswith("moby-dangling@")]
    assert all(ref.name is None and ref.tag is None for ref in dangling)
    assert d.built.dangling and {ref.digest for ref in dangling} == d.built.dangling
    for ref in dangling:
        assert api.load(f"docker-root:{d.data_root}:{ref.selector}").images()
    same = api.list_references(f"containerd:{d.containerd_root}")
    assert [(r.name, r.tag, r.digest) for r in same] == [(r.name, r.tag, r.digest) for r in refs]
    assert {r.selector for r in same} == {f"moby/{r.selector}" for r in refs}


def test_bare_paths_are_detected(store):
    d, _ = store
    assert detect(d.data_root) == "docker-root"
    assert detect(d.containerd_root) == "containerd"
    source, selector = open_source(f"{d.containerd_root}:moby/docker.io/library/busybox:local")
    assert source.transport == "containerd" and selector == "moby/docker.io/library/busybox:local"


def test_commands_work_on_the_store(store, tmp_path: Path):
    d, _ = store
    root = str(d.data_root)
    verify = run("verify", f"docker-root:{root}", "--format", "json")
    assert verify.code == 0, verify.err
    report = json.loads(verify.out)
    assert report["summary"]["mismatch"] == 0 and report["summary"]["ok"] > 0
    verify = run("verify", f"containerd:{d.containerd_root}")
    assert verify.code == 0, verify.err
    audit = run("audit", f"docker-root:{root}:{qualified('reconstruct-test/full:1')}")
    assert audit.code in (0, 1) and "TOKEN" in audit.out  # the build arg is in the history
    base = run(
        "base",
        f"docker-root:{root}:{qualified('reconstruct-test/small:1')}",
        "--against",
        f"docker-root:{root}:docker.io/library/busybox:local",
    )
    assert base.code == 0 and "busybox" in base.out, base.out + base.err
    out = tmp_path / "mirror"
    mirrored = run("mirror", f"docker-root:{root}", str(out))
    assert mirrored.code == 0, mirrored.err
    assert (out / "repos" / "reconstruct-test" / "full" / "remote" / "1.md").is_file()
    listed = run("ls", f"containerd:{d.containerd_root}", "--json")
    assert listed.code == 0 and len(listed.out.splitlines()) == len(
        api.list_references(f"docker-root:{root}")
    )


def test_errors_are_one_line(store, tmp_path: Path):
    d, _ = store
    assert_one_line_error(run("show", f"containerd:{d.containerd_root}:nope:1"))
    assert_one_line_error(run("show", f"containerd:{tmp_path}"))
    assert_one_line_error(run("ls", f"docker-root:{tmp_path}"))


def test_standalone_containerd_read_while_it_runs(standalone_containerd):
    """A node's store: `ctr -n k8s.io images import`, read with containerd running (it holds
    meta.db's lock: the reader never takes it and never waits)."""
    ctd = standalone_containerd
    root = ctd.root
    listed = api.list_references(f"containerd:{root}")
    namespaces = {ref.selector.partition("/")[0] for ref in listed}
    assert namespaces == {"k8s.io", "default"}
    for ref in ctd.refs:
        name = qualified(ref)
        expected = rendered(f"docker-archive:{ctd.saves[ref]}")
        assert rendered(f"containerd:{root}:k8s.io/{name}") == expected, ref
    sample = api.load(f"containerd:{root}:default/docker.io/library/python:3-windowsservercore")
    assert len(sample.images()) == 3  # every platform imported (--all-platforms)
