"""`containerd:` and the containerd half of `docker-root:` on roots written here (meta.db by
tests/support/boltwrite.py, blobs from the shared test image): selection across namespaces,
what is listed, and one-line errors for damaged metadata. Real roots (containerd 1.7, dockerd 26)
are read in test_containerd_store.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconstruct import api
from reconstruct.blob.digests import sha256_digest
from reconstruct.errors import SourceError
from reconstruct.sources import detect, open_source
from reconstruct.sources.containerd import DEFAULT_ROOT, ContainerdSource, go_varint
from tests.support.attacks import CONTENT, IMAGE, _data_root, _hex
from tests.support.boltwrite import containerd_meta, varint
from tests.support.clirun import assert_one_line_error, run

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
TARGET = (sha256_digest(IMAGE["manifest"]), MANIFEST, len(IMAGE["manifest"]))
OTHER = (sha256_digest(b"another"), MANIFEST, 7)


def write_root(folder: Path, images: dict) -> Path:
    meta = folder / "io.containerd.metadata.v1.bolt" / "meta.db"
    meta.parent.mkdir(parents=True)
    meta.write_bytes(containerd_meta(images))
    blobs = folder / CONTENT
    blobs.mkdir(parents=True)
    for name in ("layer", "config", "manifest"):
        (blobs / _hex(name)).write_bytes(IMAGE[name])
    return folder


@pytest.fixture
def root(tmp_path):
    return write_root(
        tmp_path / "ctd",
        {
            "k8s.io": {
                "docker.io/library/evil:1": TARGET,
                TARGET[0]: TARGET,  # the CRI's image-ID alias of the same image
                "registry.k8s.io/pause@" + OTHER[0]: OTHER,
            },
            "moby": {
                "docker.io/library/evil:1": TARGET,
                "moby-dangling@" + OTHER[0]: OTHER,
            },
            "default": {"docker.io/library/evil:2": OTHER},
        },
    )


def test_varints_are_go_s():
    for value in (0, 1, 63, 64, 300, 2**40):
        assert go_varint(varint(value)) == value
    assert go_varint(b"\x80") is None and go_varint(b"\x02\x00") is None


def test_every_namespace_is_listed_without_the_cri_alias(root):
    refs = api.list_references(f"containerd:{root}")
    assert [r.selector for r in refs] == [
        "default/docker.io/library/evil:2",
        "k8s.io/docker.io/library/evil:1",
        f"k8s.io/registry.k8s.io/pause@{OTHER[0]}",
        "moby/docker.io/library/evil:1",
        f"moby/moby-dangling@{OTHER[0]}",
    ]
    dangling = refs[-1]
    assert (dangling.name, dangling.tag, dangling.digest) == (None, None, OTHER[0])
    by_digest = refs[2]
    assert (by_digest.name, by_digest.tag) == ("registry.k8s.io/pause", None)


def test_selectors(root):
    source = ContainerdSource(root)
    assert source.select("k8s.io/docker.io/library/evil:1").selector.startswith("k8s.io/")
    # the same image in two namespaces is one image: either names it
    assert source.select("evil:1").digest == TARGET[0]
    assert source.select(TARGET[0][:19]).digest == TARGET[0]
    assert source.select("default/").tag == "2"  # a namespace holding one image
    with pytest.raises(SourceError, match="ambiguous"):
        source.select("moby/")  # two images there
    assert source.get("k8s.io/docker.io/library/evil:1").root.config_digest == sha256_digest(
        IMAGE["config"]
    )


def test_a_name_in_two_namespaces_with_different_images_is_ambiguous(tmp_path):
    folder = write_root(
        tmp_path / "c",
        {"a": {"docker.io/library/x:1": TARGET}, "b": {"docker.io/library/x:1": OTHER}},
    )
    result = run("show", f"containerd:{folder}:x:1")
    assert_one_line_error(result)
    assert "ambiguous" in result.err
    assert run("show", f"containerd:{folder}:a/docker.io/library/x:1").code == 0


def test_the_argument_is_root_then_ref(root):
    assert ContainerdSource.split_argument("") == (DEFAULT_ROOT, None)
    assert ContainerdSource.split_argument("k8s.io/docker.io/library/x:1") == (
        DEFAULT_ROOT,
        "k8s.io/docker.io/library/x:1",
    )
    assert ContainerdSource.split_argument(f"{root}:evil:1") == (root, "evil:1")
    assert detect(root) == "containerd"
    source, selector = open_source(f"{root}:evil:1")
    assert source.transport == "containerd" and selector == "evil:1"


@pytest.mark.parametrize(
    "damage",
    [b"", b"\0" * 8192, b"not bolt at all" * 1000, "schema 5", "truncated"],
    ids=["empty", "zeros", "text", "schema-5", "truncated"],
)
def test_damaged_metadata_is_one_line(root, damage):
    meta = root / "io.containerd.metadata.v1.bolt" / "meta.db"
    if damage == "schema 5":
        from tests.support.boltwrite import bolt_file

        meta.write_bytes(bolt_file({b"v1": {b"version": b"\x05"}}))
    elif damage == "truncated":
        meta.write_bytes(meta.read_bytes()[:5000])
    else:
        meta.write_bytes(damage)
    for command in ("show", "ls", "verify"):
        result = run(command, f"containerd:{root}")
        assert_one_line_error(result)


def test_a_data_root_with_both_stores_lists_both(tmp_path):
    folder = _data_root(tmp_path / "data")
    write_root(folder / "containerd" / "daemon", {"moby": {"docker.io/library/evil:3": TARGET}})
    refs = api.list_references(f"docker-root:{folder}")
    selectors = [r.selector for r in refs]
    assert "evil:1" in selectors and "containerd:docker.io/library/evil:3" in selectors
    classic = api.load(f"docker-root:{folder}:evil:1")
    stored = api.load(f"docker-root:{folder}:containerd:docker.io/library/evil:3")
    assert classic.root.config_digest == stored.images()[0][2].config_digest
    assert api.load(f"docker-root:{folder}:evil:3").reference.digest == TARGET[0]
