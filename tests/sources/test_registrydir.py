"""`registry-dir:` — a distribution registry's filesystem storage read offline.

Always-on tests build storage directories in tmp_path, laid out exactly as distribution 2.8
writes them (checked against the real registry in the engine tests below), from real JSON of the
shared corpus. The engine tests read the storage of a real `docker-registry` that skopeo pushed
to and compare with what `skopeo inspect` recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconstruct.model import Image, Index
from reconstruct.sources import detect, open_source
from reconstruct.sources.base import SourceError
from reconstruct.sources.registrydir import RegistryDirSource
from reconstruct.text import imf_fixdate
from tests.support.clirun import assert_one_line_error, run
from tests.support.paths import (
    CORPUS,
    FIXTURES,
    WINDOWS_CONFIG,
    WINDOWS_MANIFEST,
)
from tests.support.paths import STEREOSCOPE_LAYOUT as MULTI_LAYOUT
from tests.support.paths import WINDOWS_INDEX as WINDOWS_LIST

BUILDKIT_CONFIG = FIXTURES / "config" / "buildkit_llb-exporter_compat-v30_config.json"
BUILDKIT_MANIFEST = FIXTURES / "manifest" / "buildkit_llb-exporter_compat-v30_manifest.json"

# 2021-03-04T05:06:07Z and later: distinct, whole-second mtimes the tests can recognise
T0 = 1614834367


def need_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent (../shared not checked out beside the repo)")


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Storage:
    """A registry storage root written the way distribution's filesystem driver lays it out."""

    def __init__(self, root: Path):
        self.root = root
        self.v2 = root / "docker" / "registry" / "v2"
        (self.v2 / "repositories").mkdir(parents=True)
        (self.v2 / "blobs").mkdir(parents=True)

    def blob_path(self, digest: str) -> Path:
        hexpart = digest.removeprefix("sha256:")
        return self.v2 / "blobs" / "sha256" / hexpart[:2] / hexpart / "data"

    def blob(self, data: bytes, *, digest: str | None = None, mtime: int | None = None) -> str:
        digest = digest or sha(data)
        path = self.blob_path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return digest

    def sparse_blob(self, digest: str, size: int, mtime: int) -> None:
        """A layer blob of the manifest's size without writing its bytes (nothing reads them)."""
        path = self.blob_path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.truncate(size)
        os.utime(path, (mtime, mtime))

    def _link(self, path: Path, digest: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(digest)  # distribution writes the digest with no newline

    def revision(self, name: str, digest: str) -> None:
        hexpart = digest.removeprefix("sha256:")
        self._link(
            self.v2 / "repositories" / name / "_manifests/revisions/sha256" / hexpart / "link",
            digest,
        )

    def tag(self, name: str, tag: str, digest: str) -> None:
        self.revision(name, digest)
        hexpart = digest.removeprefix("sha256:")
        tags = self.v2 / "repositories" / name / "_manifests/tags" / tag
        self._link(tags / "current" / "link", digest)
        self._link(tags / "index" / "sha256" / hexpart / "link", digest)

    def layer_link(self, name: str, digest: str) -> None:
        hexpart = digest.removeprefix("sha256:")
        self._link(self.v2 / "repositories" / name / "_layers/sha256" / hexpart / "link", digest)


def mtime_of(storage: Storage, digest: str) -> datetime:
    return datetime.fromtimestamp(storage.blob_path(digest).stat().st_mtime, UTC)


@pytest.fixture
def buildkit_storage(tmp_path: Path) -> tuple[Storage, dict]:
    """reconstruct/llb:v30 (a real BuildKit manifest and config, byte-exact) with its layers."""
    need_corpus()
    storage = Storage(tmp_path / "storage")
    manifest_raw = BUILDKIT_MANIFEST.read_bytes()
    manifest = json.loads(manifest_raw)
    config_digest = storage.blob(BUILDKIT_CONFIG.read_bytes(), mtime=T0)
    assert config_digest == manifest["config"]["digest"]
    for number, layer in enumerate(manifest["layers"]):
        storage.sparse_blob(layer["digest"], layer["size"], T0 + 10 * (number + 1))
        storage.layer_link("reconstruct/llb", layer["digest"])
    digest = storage.blob(manifest_raw, mtime=T0 + 100)
    storage.tag("reconstruct/llb", "v30", digest)
    return storage, {"digest": digest, "manifest": manifest, "raw": manifest_raw}


@pytest.fixture
def windows_storage(tmp_path: Path) -> tuple[Storage, dict]:
    """dotnet/framework/runtime:4.8: a Windows manifest list; one platform present, with its
    two foreign layers absent (as in every registry) and its two ordinary layers present."""
    need_corpus()
    storage = Storage(tmp_path / "windows")
    name = "dotnet/framework/runtime"
    manifest_raw = WINDOWS_MANIFEST.read_bytes()
    manifest = json.loads(manifest_raw)
    # The corpus config is pretty-printed (not the original bytes): store it under the digest
    # the manifest names, as the registry held the original.
    storage.blob(WINDOWS_CONFIG.read_bytes(), digest=manifest["config"]["digest"], mtime=T0)
    for number, layer in enumerate(manifest["layers"]):
        if "urls" not in layer:
            storage.sparse_blob(layer["digest"], layer["size"], T0 + 1000 * (number + 1))
    manifest_digest = storage.blob(manifest_raw, mtime=T0 + 5000)
    assert (
        manifest_digest == "sha256:5ec4722ef299457d69a7186d3da503a947584aa1a5bfc0bfc021fe115dc2a76b"
    )
    storage.revision(name, manifest_digest)
    list_digest = storage.blob(WINDOWS_LIST.read_bytes(), mtime=T0 + 6000)
    storage.tag(name, "4.8", list_digest)
    return storage, {
        "name": name,
        "list": list_digest,
        "manifest": manifest,
        "digest": manifest_digest,
    }


# --- the storage layout ------------------------------------------------------------------------


def test_tagged_manifest_reads_with_layers_and_last_modified(buildkit_storage):
    storage, expected = buildkit_storage
    source = RegistryDirSource(storage.root)
    target = source.get("reconstruct/llb:v30")
    image = target.root
    assert isinstance(image, Image)
    assert target.reference.name == "reconstruct/llb" and target.reference.tag == "v30"
    assert image.manifest_digest == expected["digest"] == sha(expected["raw"])
    assert image.manifest_size == len(expected["raw"])
    assert image.config_digest == expected["manifest"]["config"]["digest"]
    config = json.loads(BUILDKIT_CONFIG.read_bytes())
    assert [s.created_by for s in image.steps] == [h.get("created_by") for h in config["history"]]
    assert [(x.digest, x.size, x.media_type) for x in image.layers] == [
        (d["digest"], d["size"], d["mediaType"]) for d in expected["manifest"]["layers"]
    ]
    assert image.diff_ids == config["rootfs"]["diff_ids"]
    for number, layer in enumerate(image.layers):
        assert layer.last_modified == datetime.fromtimestamp(T0 + 10 * (number + 1), UTC)
        assert layer.last_modified == mtime_of(storage, layer.digest)
    assert image.warnings == []


def test_the_v2_folder_and_its_parents_are_all_accepted(buildkit_storage):
    storage, expected = buildkit_storage
    for path in (
        storage.root,
        storage.root / "docker",
        storage.root / "docker" / "registry",
        storage.v2,
    ):
        ref = RegistryDirSource(path).references()[0]
        assert (ref.name, ref.tag, ref.digest) == ("reconstruct/llb", "v30", expected["digest"])


def test_windows_list_foreign_layers_have_no_last_modified(windows_storage):
    storage, expected = windows_storage
    target = RegistryDirSource(storage.root).get("dotnet/framework/runtime:4.8")
    index = target.root
    assert isinstance(index, Index)
    assert index.digest == expected["list"]
    assert [e.present for e in index.entries] == [False, False, False, True]
    # the three absent platforms are said to be absent, not silently dropped
    assert len(index.warnings) == 3 and all("not present" in w for w in index.warnings)
    image = index.entries[3].image
    assert image.manifest_digest == expected["digest"]
    assert image.platform.os_version == "10.0.20348.473"
    assert [s.created_by for s in image.steps][:2] == [
        "Apply image 2022-RTM-amd64",
        "Install update ltsc2022-amd64",
    ]
    foreign = [layer for layer in image.layers if layer.foreign]
    assert len(foreign) == 2
    assert all(layer.urls and layer.last_modified is None for layer in foreign)
    ordinary = [layer for layer in image.layers if not layer.foreign]
    assert [layer.last_modified for layer in ordinary] == [
        datetime.fromtimestamp(T0 + 3000, UTC),
        datetime.fromtimestamp(T0 + 4000, UTC),
    ]
    # absent foreign blobs are normal for a registry: no warning about them
    assert image.warnings == []
    assert image.total_size == sum(d["size"] for d in expected["manifest"]["layers"])


def test_nested_index_children_are_not_listed_as_untagged(tmp_path: Path):
    """A BuildKit/containerd nested index pushed as one tag: the registry keeps every child
    manifest as a revision of the repository; only the tag is listed."""
    need_corpus()
    storage = Storage(tmp_path / "storage")
    blobs = MULTI_LAYOUT / "blobs" / "sha256"
    for blob in blobs.iterdir():
        storage.blob(blob.read_bytes(), mtime=T0)
    index = json.loads((MULTI_LAYOUT / "index.json").read_bytes())
    top = index["manifests"][0]["digest"]
    storage.tag("library/multi-platform", "latest", top)
    for child in _manifest_digests(storage, top):
        storage.revision("library/multi-platform", child)
    source = RegistryDirSource(storage.root)
    refs = source.references()
    assert [(r.name, r.tag, r.digest) for r in refs] == [("library/multi-platform", "latest", top)]
    target = source.get("latest")
    images = target.images()
    assert sorted(p.architecture for p, _, _ in images) == ["amd64", "arm64"]
    for _, _, image in images:
        assert all(layer.last_modified == datetime.fromtimestamp(T0, UTC) for layer in image.layers)


def _manifest_digests(storage: Storage, digest: str) -> list[str]:
    """Every manifest and index below `digest`, as the registry stores them as revisions."""
    document = json.loads(storage.blob_path(digest).read_bytes())
    found = []
    for child in document.get("manifests") or []:
        found.append(child["digest"])
        if storage.blob_path(child["digest"]).is_file():
            found += _manifest_digests(storage, child["digest"])
    return found


def test_untagged_manifests_are_listed_after_the_tags(buildkit_storage, tmp_path: Path):
    storage, expected = buildkit_storage
    # the same image re-pushed with a different config: the old manifest loses its tag
    config = json.loads(BUILDKIT_CONFIG.read_bytes())
    config["created"] = "2024-01-01T00:00:00Z"
    config_raw = json.dumps(config).encode()
    manifest = dict(expected["manifest"])
    manifest["config"] = dict(manifest["config"], digest=sha(config_raw), size=len(config_raw))
    storage.blob(config_raw)
    new_digest = storage.blob(json.dumps(manifest, indent=3).encode())
    storage.tag("reconstruct/llb", "v30", new_digest)
    storage.tag("other/repo", "1", expected["digest"])
    refs = RegistryDirSource(storage.root).references()
    assert [(r.name, r.tag, r.digest) for r in refs] == [
        ("other/repo", "1", expected["digest"]),
        ("reconstruct/llb", "v30", new_digest),
        ("reconstruct/llb", None, expected["digest"]),
    ]
    untagged = refs[-1]
    assert untagged.selector == f"reconstruct/llb@{expected['digest']}"
    target = RegistryDirSource(storage.root).get(untagged.selector)
    assert target.reference.name == "reconstruct/llb" and target.reference.tag is None
    assert target.root.manifest_digest == expected["digest"]


def test_repositories_nest_and_a_parent_can_be_a_repository_too(buildkit_storage):
    storage, expected = buildkit_storage
    digest = expected["digest"]
    storage.tag("a", "1", digest)
    storage.tag("a/b", "2", digest)
    storage.tag("a/b/c", "3", digest)
    source = RegistryDirSource(storage.root)
    assert source.repositories() == ["a", "a/b", "a/b/c", "reconstruct/llb"]
    assert source.get("a/b:2").reference.name == "a/b"
    assert source.get("3").reference.name == "a/b/c"  # a tag alone, when unique
    assert source.get("a/b/c").reference.tag == "3"  # a repository with one tag


def test_a_tag_in_several_repositories_is_ambiguous(buildkit_storage):
    storage, expected = buildkit_storage
    storage.tag("mirror/llb", "v30", expected["digest"])
    source = RegistryDirSource(storage.root)
    with pytest.raises(SourceError, match="ambiguous"):
        source.get("v30")
    assert source.get("mirror/llb:v30").reference.name == "mirror/llb"
    # a digest names the content: any repository holding it will do, tagged ones first
    assert source.get(expected["digest"]).root.manifest_digest == expected["digest"]
    assert source.get(expected["digest"][:19]).root.manifest_digest == expected["digest"]


# --- what goes wrong on disk --------------------------------------------------------------------


def test_not_a_registry_storage_is_refused(tmp_path: Path):
    (tmp_path / "blobs").mkdir()
    with pytest.raises(SourceError, match="not a registry storage"):
        RegistryDirSource(tmp_path)
    with pytest.raises(SourceError, match="not a directory"):
        RegistryDirSource(tmp_path / "nothing")


def test_missing_manifest_blob_and_bad_link_are_one_line_errors(buildkit_storage):
    storage, _ = buildkit_storage
    storage.tag("gone/image", "1", "sha256:" + "ab" * 32)
    link = storage.v2 / "repositories/broken/_manifests/tags/1/current/link"
    link.parent.mkdir(parents=True)
    link.write_text("not a digest\n")
    source = RegistryDirSource(storage.root)
    with pytest.raises(SourceError, match="blob is absent"):
        source.get("gone/image:1")
    with pytest.raises(SourceError, match="does not hold a digest"):
        source.get("broken:1")
    # listed all the same, so that `ls` shows what the storage claims
    assert ("broken", "1", None) in [(r.name, r.tag, r.digest) for r in source.references()]


def test_bad_json_in_a_manifest_blob_is_a_one_line_error(tmp_path: Path):
    storage = Storage(tmp_path / "storage")
    digest = storage.blob(b'{"schemaVersion": 2, "config": ')
    storage.tag("bad/json", "1", digest)
    with pytest.raises(SourceError, match="not valid JSON") as caught:
        RegistryDirSource(storage.root).get("bad/json:1")
    assert "\n" not in str(caught.value)


def test_absent_layer_blob_and_wrong_size_are_warnings(buildkit_storage):
    storage, expected = buildkit_storage
    layers = expected["manifest"]["layers"]
    storage.blob_path(layers[0]["digest"]).unlink()
    with storage.blob_path(layers[1]["digest"]).open("r+b") as handle:
        handle.truncate(layers[1]["size"] + 1)
    image = RegistryDirSource(storage.root).get("v30").root
    assert image.layers[0].last_modified is None
    assert image.layers[1].last_modified is not None
    assert any(
        layers[0]["digest"] in w and "not in the registry storage" in w for w in image.warnings
    )
    assert any(layers[1]["digest"] in w and "bytes" in w for w in image.warnings)


def test_a_blob_symlinked_out_of_the_storage_is_not_read(buildkit_storage, tmp_path: Path):
    storage, expected = buildkit_storage
    config_path = storage.blob_path(expected["manifest"]["config"]["digest"])
    outside = tmp_path / "outside.json"
    shutil.move(config_path, outside)
    config_path.symlink_to(outside)
    # never read, and said so: a store whose blobs lead out of it is not to be trusted
    with pytest.raises(SourceError, match="leads outside the input"):
        RegistryDirSource(storage.root).get("v30")


# --- opening and the command line ---------------------------------------------------------------


def test_bare_paths_are_detected(buildkit_storage):
    storage, _ = buildkit_storage
    assert detect(storage.root) == "registry-dir"
    assert detect(storage.v2) == "registry-dir"
    source, selector = open_source(f"{storage.root}:reconstruct/llb:v30")
    assert isinstance(source, RegistryDirSource) and selector == "reconstruct/llb:v30"


def test_cli_ls_lists_repositories_and_tags(buildkit_storage, windows_storage):
    storage, expected = buildkit_storage
    result = run("ls", f"registry-dir:{storage.root}", "--json")
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert rows == [
        {
            "name": "reconstruct/llb",
            "tag": "v30",
            "digest": expected["digest"],
            "selector": "reconstruct/llb:v30",
        }
    ]
    win, win_expected = windows_storage
    table = run("ls", f"registry-dir:{win.v2}")
    assert table.code == 0, table.err
    assert "dotnet/framework/runtime" in table.out and win_expected["list"] in table.out


def test_cli_show_prints_last_modified_from_the_blob_mtimes(windows_storage):
    storage, expected = windows_storage
    result = run("show", f"registry-dir:{storage.root}:dotnet/framework/runtime:4.8")
    assert result.code == 0, result.err
    assert result.out.startswith("## `dotnet/framework/runtime:4.8`\n")
    assert f"$ docker pull dotnet/framework/runtime@{expected['list']}" in result.out
    for seconds in (T0 + 3000, T0 + 4000):
        stamp = imf_fixdate(datetime.fromtimestamp(seconds, UTC))
        assert f"\t\tLast Modified: {stamp}  " in result.out
    assert result.out.count("Last Modified:") == 2  # not for the foreign layers
    assert "Apply image 2022-RTM-amd64\n" in result.out


def test_cli_errors_are_one_line_with_exit_2(buildkit_storage, tmp_path: Path):
    storage, expected = buildkit_storage
    storage.tag("mirror/llb", "v30", expected["digest"])
    assert_one_line_error(run("show", f"registry-dir:{storage.root}:v30"))  # ambiguous
    assert_one_line_error(run("show", f"registry-dir:{storage.root}:no/such:tag"))
    assert_one_line_error(run("show", f"registry-dir:{storage.root}"))  # several, none chosen
    assert_one_line_error(run("ls", f"registry-dir:{tmp_path}"))  # not a registry
    assert_one_line_error(run("ls", f"registry-dir:{tmp_path / 'absent'}"))


# --- a real registry ---------------------------------------------------------------------------


@pytest.mark.engines
def test_real_registry_storage_matches_what_skopeo_reads_over_http(registry):
    source = RegistryDirSource(registry.storage)
    listed = {(r.name, r.tag): r.digest for r in source.references() if r.tag}
    assert sorted(listed) == registry.repos
    for key, pushed in registry.pushed.items():
        assert listed[(pushed.name, pushed.tag)] == pushed.digest
        image = source.get(key).root
        assert isinstance(image, Image), key
        manifest, config = pushed.manifest, pushed.config
        assert sha(pushed.manifest_raw) == pushed.digest == image.manifest_digest
        assert image.manifest_size == len(pushed.manifest_raw)
        assert image.config_digest == sha(pushed.config_raw) == manifest["config"]["digest"]
        assert image.manifest_media_type == manifest.get("mediaType")
        assert [(x.digest, x.size, x.media_type) for x in image.layers] == [
            (d["digest"], d["size"], d["mediaType"]) for d in manifest["layers"]
        ]
        assert image.diff_ids == config["rootfs"]["diff_ids"]
        history = config.get("history") or []
        assert [s.created_by for s in image.steps] == [h.get("created_by") for h in history]
        assert [s.empty_layer for s in image.steps] == [bool(h.get("empty_layer")) for h in history]
        for layer in image.layers:
            blob = (
                registry.storage
                / "docker/registry/v2/blobs/sha256"
                / layer.digest[7:9]
                / layer.digest[7:]
                / "data"
            )
            assert layer.last_modified == datetime.fromtimestamp(blob.stat().st_mtime, UTC)
        assert image.warnings == [], (key, image.warnings)


@pytest.mark.engines
def test_real_registry_last_modified_header_when_served(registry):
    """distribution 2.8's filesystem driver serves blobs itself, with no Last-Modified header
    (registries backed by object storage redirect, and the store reports the upload time).
    When a header is sent, it must be the blob file's mtime."""
    import http.client

    pushed = registry.pushed["reconstruct-test/full:1"]
    layer = RegistryDirSource(registry.storage).get("reconstruct-test/full:1").root.layers[0]
    conn = http.client.HTTPConnection(registry.host, timeout=10)
    try:
        conn.request("GET", f"/v2/{pushed.name}/blobs/{layer.digest}")
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    assert response.status == 200
    header = response.getheader("Last-Modified")
    if header is not None:
        assert header == imf_fixdate(layer.last_modified)


@pytest.mark.engines
def test_real_registry_cli_show_and_ls(registry):
    listing = run("ls", f"registry-dir:{registry.storage}", "--json")
    assert listing.code == 0, listing.err
    names = {(row["name"], row["tag"]) for row in map(json.loads, listing.out.splitlines())}
    assert set(registry.repos) <= names
    result = run("show", f"{registry.storage}:reconstruct-test/small:1")
    assert result.code == 0, result.err
    pushed = registry.pushed["reconstruct-test/small:1"]
    assert f"$ docker pull reconstruct-test/small@{pushed.digest}" in result.out
    assert result.out.count("Last Modified:") == len(pushed.manifest["layers"])


# --- found by the registry-dir fuzzer (tests/fuzz): each was an "internal error" --------------


def _tiny_image(storage: Storage, layer: dict | None = None, mtime: int = T0) -> str:
    """A one-layer image tagged evil:1; `layer` adds fields to the layer's descriptor."""
    layer_bytes = b"layer"
    layer_digest = storage.blob(layer_bytes, mtime=mtime)
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {}}).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"digest": storage.blob(config), "size": len(config)},
        "layers": [{"digest": layer_digest, "size": len(layer_bytes), **(layer or {})}],
    }
    digest = storage.blob(json.dumps(manifest).encode())
    storage.tag("evil", "1", digest)
    return digest


def test_an_index_revision_whose_manifests_is_not_a_list_is_skipped(tmp_path: Path):
    storage = Storage(tmp_path / "storage")
    _tiny_image(storage)
    odd = storage.blob(b'{"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": 7}')
    storage.revision("evil", odd)
    refs = RegistryDirSource(storage.root).references()
    assert {r.digest for r in refs} >= {odd}  # listed untagged, not a crash


def test_a_descriptor_whose_urls_is_not_a_list_is_verified(tmp_path: Path):
    storage = Storage(tmp_path / "storage")
    _tiny_image(storage, layer={"urls": True})
    result = run("verify", f"registry-dir:{storage.root}")
    assert result.code == 0 and "internal error" not in result.err, result


def test_a_blob_time_past_what_a_datetime_holds_is_left_unknown():
    """tmpfs keeps any 64-bit mtime (ext4 clamps): such a blob has no Last-Modified."""
    with tempfile.TemporaryDirectory(dir="/dev/shm") as folder:
        storage = Storage(Path(folder))
        _tiny_image(storage, mtime=2**40)
        image = RegistryDirSource(storage.root).get("evil:1").images()[0][2]
        assert image.layers[0].last_modified is None
        assert run("verify", f"registry-dir:{storage.root}").code == 0
