"""`docker-archive:` and `oci-archive:`: every corpus archive, compressed copies, stdin, errors.

Expected values are read from the archives themselves with tarfile (manifest.json, configs,
index.json, manifests, the layer members' bytes), never copied into the test.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import hashlib
import io
import json
import lzma
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from reconstruct.blob.tar import TarIndex
from reconstruct.model import Image, Index, Target
from reconstruct.sources import detect, open_source
from reconstruct.sources.base import SourceError
from reconstruct.sources.dockerarchive import (
    DOCKER_LAYER,
    DOCKER_LAYER_GZIP,
    DockerArchiveSource,
)
from reconstruct.sources.ociarchive import OciArchiveSource
from tests.support.clirun import assert_one_line_error, run
from tests.support.paths import CORPUS, REPO, corpus_files, need
from tests.support.paths import STEREOSCOPE_LAYOUT as CONTAINERD_LAYOUT

DOCKER_SAVES = corpus_files("fixtures", "docker-save", pattern="*.tar")
OCI_ARCHIVES = corpus_files("fixtures", "oci-archive", pattern="*.tar")


def corpus(name: str) -> Path:
    return need(CORPUS / "fixtures" / name)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def members(path: Path) -> dict[str, bytes]:
    """Every regular member's bytes, links followed (test archives are small)."""
    with tarfile.open(path) as tar:
        found = {}
        for info in tar.getmembers():
            handle = (
                tar.extractfile(info) if (info.isreg() or info.issym() or info.islnk()) else None
            )
            if handle is not None:
                found[os.path.normpath(info.name)] = handle.read()
        return found


def manifest_entries(files: dict[str, bytes]) -> list[dict]:
    """manifest.json with jib's lower-case keys spelled as Docker does."""
    entries = json.loads(files["manifest.json"]) or []
    return [{key[0].upper() + key[1:]: value for key, value in entry.items()} for entry in entries]


def history_of(config: dict) -> list[tuple]:
    return [
        (
            h.get("created"),
            h.get("created_by"),
            h.get("comment"),
            h.get("author"),
            bool(h.get("empty_layer")),
        )
        for h in config.get("history") or []
    ]


def steps_of(image: Image) -> list[tuple]:
    return [(s.created, s.created_by, s.comment, s.author, s.empty_layer) for s in image.steps]


def as_data(target: Target) -> dict:
    return dataclasses.asdict(target)


def check_image_against_config(image: Image, config_bytes: bytes) -> None:
    config = json.loads(config_bytes)
    assert image.config_digest == sha256(config_bytes)
    assert steps_of(image) == history_of(config)
    assert image.diff_ids == config["rootfs"]["diff_ids"]
    assert image.platform.os == config.get("os")
    assert image.platform.architecture == config.get("architecture")
    # every non-empty step carries the layer of the same position
    layered = [s for s in image.steps if not s.empty_layer]
    assert [s.layer.diff_id for s in layered if s.layer] == config["rootfs"]["diff_ids"][
        : len(layered)
    ]


# --- the corpus: docker save archives --------------------------------------------------------


@pytest.mark.parametrize("path", DOCKER_SAVES, ids=lambda p: p.name)
def test_every_docker_save_fixture_reconstructs(path: Path):
    files = members(path)
    source = DockerArchiveSource(path)
    refs = source.references()
    assert refs
    for ref in refs:
        target = source.get(ref.selector)
        assert target.reference is ref
        assert isinstance(target.root, Image)
        assert not target.root.warnings, target.root.warnings
    entries = manifest_entries(files)
    # one reference per RepoTag (or per untagged image), each leading to its own config
    expected = sum(max(1, len(entry.get("RepoTags") or [])) for entry in entries)
    assert len(refs) == expected
    configs = {sha256(files[entry["Config"]]): entry for entry in entries}
    for ref in refs:
        image = source.get(ref.selector).root
        entry = configs[image.config_digest]
        check_image_against_config(image, files[entry["Config"]])
        assert len(image.layers) == len(entry["Layers"])
        if image.manifest_digest is None:  # layers described from the archive's members
            for layer, member in zip(image.layers, entry["Layers"], strict=True):
                check_legacy_layer(layer, files[os.path.normpath(member)], member, entry)


def check_legacy_layer(layer, data: bytes, member: str, entry: dict) -> None:
    source = (entry.get("LayerSources") or {}).get(layer.diff_id)
    if source:
        assert (layer.digest, layer.size, layer.media_type) == (
            source["digest"],
            source["size"],
            source["mediaType"],
        )
        assert layer.uncompressed_size == len(data)
    elif member.endswith(".tar.gz"):
        # kaniko and jib name gzipped layers after their compressed digest
        assert layer.digest == sha256(data)
        assert (layer.size, layer.media_type) == (len(data), DOCKER_LAYER_GZIP)
        assert layer.uncompressed_size is None
    else:
        assert layer.digest == layer.diff_id == sha256(data)
        assert (layer.size, layer.uncompressed_size) == (len(data), len(data))
        assert layer.media_type == DOCKER_LAYER


def test_legacy_docker_save_tags_and_layers():
    path = corpus("docker-save/dive_test-docker-image_docker18.09_legacy.tar")
    (ref,) = DockerArchiveSource(path).references()
    assert (ref.name, ref.tag, ref.selector) == ("dive-test", "latest", "dive-test:latest")
    image = DockerArchiveSource(path).get("dive-test:latest").root
    assert len(image.layers) == 14 and len(image.steps) == 15
    assert (
        image.docker_version
        == json.loads(members(path)[ref.digest[7:] + ".json"])["docker_version"]
    )


def test_bazel_bundle_images_are_selectable_by_name_and_tag():
    path = corpus("docker-save/ggcr_bazel_test_bundle_2images.tar")
    files = members(path)
    source = DockerArchiveSource(path)
    # bazel writes bare names in RepoTags; `repositories` holds their tag
    repositories = json.loads(files["repositories"])
    assert {(r.name, r.tag) for r in source.references()} == {
        (name, tag) for name, tags in repositories.items() for tag in tags
    }
    with pytest.raises(SourceError, match="holds 2 images"):
        source.get(None)
    for entry in manifest_entries(files):
        (name,) = entry["RepoTags"]
        for selector in (f"{name}:latest", name):
            image = source.get(selector).root
            assert image.config_digest == sha256(files[entry["Config"]])
    image = source.get("test_image_2:latest").root
    (layer,) = image.layers
    ((diff_id, descriptor),) = manifest_entries(files)[0]["LayerSources"].items()
    assert layer.diff_id == diff_id and layer.digest == descriptor["digest"]
    assert (
        spec_target("docker-archive:" + str(path) + ":test_image_1:latest").reference.name
        == "test_image_1"
    )


def spec_target(spec: str) -> Target:
    source, selector = open_source(spec)
    return source.get(selector)


def test_docker25_save_reads_the_oci_manifest_among_the_blobs():
    path = corpus("docker-save/ggcr_hello-world-docker25-oci-layout-arm64.tar")
    files = members(path)
    assert json.loads(files["index.json"])["manifests"] is None  # so manifest.json is the way in
    (entry,) = manifest_entries(files)
    source = DockerArchiveSource(path)
    (ref,) = source.references()
    assert ref.name is None and ref.digest == sha256(files[entry["Config"]])
    image = source.get().root
    documents = {
        name: json.loads(data)
        for name, data in files.items()
        if name.startswith("blobs/") and data.startswith(b"{")
    }
    manifests = {
        name: doc for name, doc in documents.items() if isinstance(doc.get("layers"), list)
    }
    ((name, manifest),) = manifests.items()
    assert image.manifest_digest == sha256(files[name])
    assert image.manifest_media_type == manifest["mediaType"]
    assert [(layer.digest, layer.size, layer.media_type) for layer in image.layers] == [
        (d["digest"], d["size"], d["mediaType"]) for d in manifest["layers"]
    ]
    check_image_against_config(image, files[entry["Config"]])


def test_kaniko_and_jib_variants():
    kaniko = DockerArchiveSource(corpus("docker-save/dive_test-kaniko-image.tar"))
    (ref,) = kaniko.references()
    assert (ref.name, ref.tag) == ("dive-test", "kaniko-latest")
    image = kaniko.get().root
    assert {s.author for s in image.steps[2:]} == {"kaniko"}
    assert all(layer.media_type == DOCKER_LAYER_GZIP for layer in image.layers)
    jib = DockerArchiveSource(corpus("docker-save/jib_busybox-jib-core_tarball.tar"))
    (ref,) = jib.references()  # lower-case keys: config, repoTags, layers
    assert (ref.name, ref.tag) == ("localhost:5000/jib-core", "jib-base-image")
    assert jib.get("jib-base-image").root.steps[-1].created_by == "jib-core:null"


# --- the corpus: OCI archives ----------------------------------------------------------------


@pytest.mark.parametrize("path", OCI_ARCHIVES, ids=lambda p: p.name)
@pytest.mark.parametrize("source_class", [OciArchiveSource, DockerArchiveSource])
def test_every_oci_archive_fixture_reconstructs(path: Path, source_class):
    files = members(path)
    index = json.loads(files["index.json"])
    source = source_class(path)
    refs = source.references()
    assert [r.digest for r in refs] == [d["digest"] for d in index["manifests"]]
    for ref, descriptor in zip(refs, index["manifests"], strict=True):
        image = source.get(ref.selector).root
        assert isinstance(image, Image)
        manifest_bytes = files[f"blobs/sha256/{descriptor['digest'][7:]}"]
        manifest = json.loads(manifest_bytes)
        assert image.manifest_digest == sha256(manifest_bytes) == descriptor["digest"]
        assert image.manifest_media_type == manifest["mediaType"]
        assert image.config_media_type == manifest["config"]["mediaType"]
        assert [(layer.digest, layer.size, layer.media_type) for layer in image.layers] == [
            (d["digest"], d["size"], d["mediaType"]) for d in manifest["layers"]
        ]
        check_image_against_config(image, files[f"blobs/sha256/{manifest['config']['digest'][7:]}"])
        assert image.total_size == sum(d["size"] for d in manifest["layers"])


def test_oci_archive_zstd_layer_media_type():
    image = OciArchiveSource(corpus("oci-archive/dive_test-oci-zstd-image_buildkit.tar")).get().root
    assert image.layers[0].media_type == "application/vnd.oci.image.layer.v1.tar+zstd"


def test_oci_archive_refuses_a_docker_save_with_a_hint():
    with pytest.raises(SourceError, match="use docker-archive"):
        OciArchiveSource(corpus("docker-save/dive_test-kaniko-image.tar"))


# --- compressed copies and stdin -------------------------------------------------------------

COMPRESSORS = {
    "gzip": lambda data: gzip.compress(data, 6),
    "xz": lzma.compress,
    "bzip2": bz2.compress,
    "zstd": lambda data: pytest.importorskip("zstandard").ZstdCompressor().compress(data),
    # two gzip members, as pigz or `cat a.gz b.gz` write them
    "gzip-multi": lambda data: gzip.compress(data[:7000]) + gzip.compress(data[7000:]),
}


def all_targets(source) -> list[dict]:
    return [as_data(source.get(ref.selector)) for ref in source.references()]


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
@pytest.mark.parametrize("path", DOCKER_SAVES + OCI_ARCHIVES, ids=lambda p: p.name)
def test_compressed_copies_give_identical_results(path: Path, kind: str, tmp_path: Path):
    copy = tmp_path / (path.name + "." + kind)
    copy.write_bytes(COMPRESSORS[kind](path.read_bytes()))
    assert detect(copy) == "docker-archive"
    plain, compressed = DockerArchiveSource(path), DockerArchiveSource(copy)
    assert compressed.tar.compression == kind.split("-")[0]
    assert compressed.references() == plain.references()
    assert all_targets(compressed) == all_targets(plain)


@pytest.mark.parametrize("missing", ["isal", "zstandard"])
def test_without_optional_inflaters(missing: str, monkeypatch, tmp_path: Path):
    """gzip falls back to zlib without `isal`; zstd without `zstandard` is a one-line refusal."""
    path = corpus("docker-save/ggcr_bazel_test_bundle_2images.tar")
    copy = tmp_path / "copy"
    if missing == "isal":
        copy.write_bytes(gzip.compress(path.read_bytes()))
    else:
        zstandard = pytest.importorskip("zstandard")
        copy.write_bytes(zstandard.ZstdCompressor().compress(path.read_bytes()))
    for name in [m for m in sys.modules if m == missing or m.startswith(missing + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, missing, None)  # makes `import` fail
    if missing == "isal":
        assert all_targets(DockerArchiveSource(copy)) == all_targets(DockerArchiveSource(path))
    else:
        with pytest.raises(SourceError, match="install the `zstandard` package"):
            DockerArchiveSource(copy)


def test_streamed_archive_keeps_only_small_json_members(tmp_path: Path):
    path = corpus("docker-save/dive_test-kaniko-image.tar")
    copy = tmp_path / "kaniko.tar.gz"
    copy.write_bytes(gzip.compress(path.read_bytes()))
    index = TarIndex.open(copy)
    assert index.streamed
    layer = next(m for m in index.files() if m.name.endswith(".tar.gz"))
    with pytest.raises(SourceError, match="not kept"):
        index.read(layer.name)
    assert index.read("manifest.json") == members(path)["manifest.json"]


def cli_json(*args: str, stdin: bytes | None = None) -> dict:
    result = run("show", *args, "--format", "json", stdin=stdin)
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_stdin_plain_and_compressed_match_the_file(tmp_path: Path):
    path = corpus("docker-save/dive_test-docker-image_docker18.09_legacy.tar")
    expected = cli_json(str(path))
    data = path.read_bytes()
    assert cli_json("-", stdin=data) == expected
    assert cli_json("-", stdin=gzip.compress(data)) == expected
    assert cli_json("docker-archive:-:dive-test:latest", stdin=lzma.compress(data)) == expected


def test_stdin_redirected_from_a_file_is_read_by_offset():
    path = corpus("docker-save/ggcr_bazel_test_bundle_2images.tar")
    with path.open("rb") as handle:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "reconstruct",
                "show",
                "docker-archive:-:test_image_1:latest",
                "--format",
                "json",
            ],
            stdin=handle,
            capture_output=True,
            cwd=REPO,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == cli_json(f"{path}:test_image_1:latest")


def test_oci_archive_from_stdin():
    path = corpus("oci-archive/dive_test-oci-gzip-image_buildkit.tar")
    assert cli_json("oci-archive:-", stdin=gzip.compress(path.read_bytes())) == cli_json(
        f"oci-archive:{path}"
    )


# --- the command line ------------------------------------------------------------------------


def test_cli_ls_and_show_on_a_multi_image_archive():
    path = corpus("docker-save/ggcr_bazel_test_bundle_2images.tar")
    listing = run("ls", str(path))
    assert listing.code == 0
    assert "test_image_1" in listing.out and "test_image_2" in listing.out
    rows = [json.loads(line) for line in run("ls", str(path), "--json").out.splitlines()]
    assert {(r["name"], r["tag"]) for r in rows} == {
        ("test_image_1", "latest"),
        ("test_image_2", "latest"),
    }
    shown = cli_json(f"docker-archive:{path}:test_image_2:latest")
    assert shown["reference"]["name"] == "test_image_2"
    assert_one_line_error(run("show", str(path)))  # two images, no selector
    assert_one_line_error(run("show", f"{path}:nope:1"))
    repo_info = run("show", f"{path}:test_image_1")
    assert repo_info.code == 0 and "test_image_1" in repo_info.out


def test_cli_show_every_archive_as_json():
    for path in DOCKER_SAVES + OCI_ARCHIVES:
        for ref in DockerArchiveSource(path).references():
            shown = cli_json(f"{path}:{ref.selector}")
            assert shown["reference"]["digest"] == ref.digest


def truncated_copies(path: Path, tmp_path: Path) -> list[Path]:
    data = path.read_bytes()
    with tarfile.open(path) as tar:
        infos = tar.getmembers()
    big = max(infos, key=lambda i: i.size)
    cuts = {
        "mid-layer": big.offset_data + big.size // 2,
        "mid-header": infos[-1].offset + 100,
        "no-end-marker": infos[-1].offset_data + infos[-1].size + (-infos[-1].size % 512),
    }
    made = []
    for label, cut in cuts.items():
        copy = tmp_path / f"{label}.tar"
        copy.write_bytes(data[:cut])
        made.append(copy)
    gz = tmp_path / "cut.tar.gz"
    compressed = gzip.compress(data)
    gz.write_bytes(compressed[: len(compressed) * 2 // 3])
    made.append(gz)
    return made


@pytest.mark.parametrize(
    "name", ["dive_test-docker-image_docker18.09_legacy.tar", "dive_test-kaniko-image.tar"]
)
def test_truncated_archives_fail_with_one_line(name: str, tmp_path: Path):
    for copy in truncated_copies(corpus(f"docker-save/{name}"), tmp_path):
        with pytest.raises(SourceError, match="truncated"):
            DockerArchiveSource(copy)
        result = run("show", str(copy))
        assert_one_line_error(result)
        assert "truncated" in result.err


def test_truncated_stdin_fails_with_one_line():
    data = corpus("docker-save/dive_test-kaniko-image.tar").read_bytes()
    result = run("show", "-", stdin=gzip.compress(data)[:-5000])
    assert_one_line_error(result)


def test_corrupt_and_foreign_inputs_fail_with_one_line(tmp_path: Path):
    data = corpus("docker-save/dive_test-kaniko-image.tar").read_bytes()
    compressed = bytearray(gzip.compress(data))
    compressed[len(compressed) // 2 : len(compressed) // 2 + 64] = bytes(64)
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(bytes(compressed))
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(4096))
    empty = tmp_path / "empty.tar"
    empty.write_bytes(b"")
    cases = [
        (f"docker-archive:{corrupt}", "corrupt gzip"),
        (f"docker-archive:{garbage}", "not a tar"),
        (f"oci-archive:{garbage}", "not a tar"),
        (f"docker-archive:{empty}", "empty"),
        (f"docker-archive:{tmp_path}", "directory"),
        (f"docker-archive:{tmp_path / 'absent.tar'}", "absent.tar"),
    ]
    for spec, words in cases:
        result = run("show", spec)
        assert_one_line_error(result)
        assert words in result.err, result.err


# --- synthetic archives: what the corpus has no example of ----------------------------------


def add(tar: tarfile.TarFile, name: str, data: bytes = b"", **fields) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data))


def config_for(layers: list[bytes], commands: list[str]) -> bytes:
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "history": [{"created_by": c} for c in commands],
            "rootfs": {"type": "layers", "diff_ids": [sha256(layer) for layer in layers]},
        }
    ).encode()


def layer_tar(content: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        add(tar, "file.txt", content)
    return out.getvalue()


def test_symlinked_and_hard_linked_layers(tmp_path: Path):
    shared = layer_tar(b"shared")
    config = config_for([shared, shared, shared], ["one", "two", "three"])
    path = tmp_path / "links.tar"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        add(tar, "a" * 64 + "/layer.tar", shared)
        # Docker writes a repeated layer as a symlink to the first copy
        add(
            tar,
            "b" * 64 + "/layer.tar",
            type=tarfile.SYMTYPE,
            linkname="../" + "a" * 64 + "/layer.tar",
        )
        add(tar, "c" * 64, type=tarfile.SYMTYPE, linkname="a" * 64)  # a linked directory
        add(tar, "hard.tar", type=tarfile.LNKTYPE, linkname="a" * 64 + "/layer.tar")
        add(tar, "config.json", config)
        manifest = [{"Config": "config.json", "RepoTags": ["links:1"], "Layers": [
            "a" * 64 + "/layer.tar", "b" * 64 + "/layer.tar", "c" * 64 + "/layer.tar"]}]  # fmt: skip
        add(tar, "manifest.json", json.dumps(manifest).encode())
    image = DockerArchiveSource(path).get().root
    assert not image.warnings
    assert [(layer.digest, layer.size) for layer in image.layers] == [
        (sha256(shared), len(shared))
    ] * 3
    assert TarIndex.open(path).read("hard.tar") == shared


def test_unsafe_member_names_are_skipped(tmp_path: Path):
    layer = layer_tar(b"x")
    config = config_for([layer], ["one"])
    path = tmp_path / "unsafe.tar"
    with tarfile.open(path, "w") as tar:
        add(tar, "../escape.json", b"{}")
        add(tar, "/absolute.json", b"{}")
        add(tar, "layer.tar", type=tarfile.SYMTYPE, linkname="../../etc/passwd")
        add(tar, "config.json", config)
        add(
            tar,
            "./manifest.json",
            json.dumps([{"Config": "config.json", "Layers": ["layer.tar"]}]).encode(),
        )
    index = TarIndex.open(path)
    assert sorted(index.members) == ["config.json", "layer.tar", "manifest.json"]
    assert index.resolve("layer.tar") is None  # a link out of the archive is not followed
    image = DockerArchiveSource(path).get().root
    assert image.warnings == [
        "layer layer.tar is listed in manifest.json but absent from the archive"
    ]
    assert image.layers[0].diff_id == sha256(layer) and image.layers[0].digest is None


def test_long_names_in_gnu_and_pax_archives(tmp_path: Path):
    long_name = "deep/" * 30 + "manifest-like.json"
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        path = tmp_path / f"long-{fmt}.tar"
        with tarfile.open(path, "w", format=fmt) as tar:
            add(tar, long_name, b'{"a": 1}')
            add(tar, "link", type=tarfile.SYMTYPE, linkname=long_name)
        index = TarIndex.open(path)
        assert index.read("link") == b'{"a": 1}'
        streamed = TarIndex.open(_gzip_copy(path, tmp_path))
        assert streamed.read(long_name) == b'{"a": 1}'


def _gzip_copy(path: Path, tmp_path: Path) -> Path:
    copy = tmp_path / (path.name + ".gz")
    copy.write_bytes(gzip.compress(path.read_bytes()))
    return copy


def test_pre_1_10_archive_is_refused_in_one_line(tmp_path: Path):
    path = tmp_path / "old.tar"
    with tarfile.open(path, "w") as tar:
        add(tar, "a" * 64 + "/json", b'{"id": "' + b"a" * 64 + b'"}')
        add(tar, "a" * 64 + "/layer.tar", layer_tar(b"x"))
        add(tar, "repositories", b'{"old": {"latest": "' + b"a" * 64 + b'"}}')
    with pytest.raises(SourceError, match=r"before Docker 1\.10"):
        DockerArchiveSource(path)
    assert_one_line_error(run("show", str(path)))


def test_plain_archive_reads_headers_and_metadata_only(tmp_path: Path):
    """A 256 MiB layer (a sparse file: no disk used) costs a few KiB of reads."""
    size = 256 * 1024 * 1024
    config = json.dumps({"os": "linux", "architecture": "amd64", "history": [{"created_by": "big"}],
                         "rootfs": {"diff_ids": ["sha256:" + "0" * 64]}}).encode()  # fmt: skip
    path = tmp_path / "big.tar"
    with path.open("wb") as out:
        info = tarfile.TarInfo("big/layer.tar")
        info.size = size
        out.write(info.tobuf())
        out.seek(size, os.SEEK_CUR)
        with tarfile.open(fileobj=out, mode="w") as tar:
            add(tar, "config.json", config)
            add(
                tar,
                "manifest.json",
                json.dumps([{"Config": "config.json", "Layers": ["big/layer.tar"]}]).encode(),
            )
    before = read_chars()
    image = DockerArchiveSource(path).get().root
    used = read_chars() - before
    assert image.layers[0].size == size
    assert used < 64 * 1024, used


def read_chars() -> int:
    if not Path("/proc/self/io").exists():
        pytest.skip("no /proc/self/io here")
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar")


def containerd_store_save(tmp_path: Path, drop_platform: str) -> tuple[Path, dict]:
    """A Docker ≥ 25 (containerd store) save: the corpus layout, one platform's blobs absent."""
    layout = need(CONTAINERD_LAYOUT)
    blobs = {p.name: p.read_bytes() for p in (layout / "blobs" / "sha256").iterdir()}
    index = json.loads((layout / "index.json").read_bytes())
    documents = {h: json.loads(b) for h, b in blobs.items() if b.startswith(b"{")}
    platform_manifests = {
        d["digest"][7:]: d
        for doc in documents.values()
        for d in doc.get("manifests") or []
        if (d.get("platform") or {}).get("architecture")
    }
    (dropped,) = [
        h for h, d in platform_manifests.items() if d["platform"]["architecture"] == drop_platform
    ]
    manifest = documents[dropped]
    for digest in [
        dropped,
        manifest["config"]["digest"][7:],
        *(lay["digest"][7:] for lay in manifest["layers"]),
    ]:
        blobs.pop(digest, None)
    (kept,) = [h for h in platform_manifests if h != dropped]
    kept_manifest = documents[kept]
    legacy = [{"Config": "blobs/sha256/" + kept_manifest["config"]["digest"][7:], "RepoTags": ["multi:latest"],
               "Layers": ["blobs/sha256/" + lay["digest"][7:] for lay in kept_manifest["layers"]]}]  # fmt: skip
    path = tmp_path / "containerd-save.tar"
    with tarfile.open(path, "w") as tar:
        for digest, data in blobs.items():
            add(tar, f"blobs/sha256/{digest}", data)
        add(tar, "oci-layout", (layout / "oci-layout").read_bytes())
        add(tar, "index.json", json.dumps(index).encode())
        add(tar, "manifest.json", json.dumps(legacy).encode())
    return path, {"index": index, "dropped": "sha256:" + dropped, "kept": "sha256:" + kept}


def test_containerd_store_save_shows_present_and_lists_absent_platforms(tmp_path: Path):
    path, facts = containerd_store_save(tmp_path, drop_platform="arm64")
    source = DockerArchiveSource(path)
    refs = source.references()
    # the manifest.json image is reached from index.json, so it is not listed twice
    assert [r.digest for r in refs] == [d["digest"] for d in facts["index"]["manifests"]]
    root = source.get(refs[0].selector).root
    assert isinstance(root, Index)
    entries = _entries(root)
    assert entries[facts["kept"]].present and not entries[facts["dropped"]].present
    warnings = [w for index in _indexes(root) for w in index.warnings]
    assert any(facts["dropped"] in w and "not present" in w for w in warnings)
    assert cli_json(str(path))["reference"]["digest"] == refs[0].digest


def _indexes(index: Index) -> list[Index]:
    found = [index]
    for entry in index.entries:
        if entry.index is not None:
            found += _indexes(entry.index)
    return found


def _entries(index: Index) -> dict:
    return {entry.digest: entry for nested in _indexes(index) for entry in nested.entries}


# --- real producers (tests/plugins/engines/): dockerd, podman, skopeo ------------------------


def assert_steps_match_engine(image: Image, config_raw: bytes, cli_history: list[dict]) -> None:
    """Steps equal the producer's exact config history and its `history` command, row for row."""
    check_image_against_config(image, config_raw)
    newest_first = list(reversed(image.steps))
    assert len(cli_history) == len(newest_first)
    for step, row in zip(newest_first, cli_history, strict=True):
        assert (step.created_by or "") == row["CreatedBy"]
        assert (step.comment or "") == (row.get("Comment", row.get("comment")) or "")


def member_sizes(path: Path) -> dict[str, int]:
    with tarfile.open(path) as tar:
        return {os.path.normpath(info.name): info.size for info in tar.getmembers()}


@pytest.mark.engines
def test_docker_save_archives_match_dockerd(docker_saves):
    truths = {truth.id: truth for truth in docker_saves.images.values()}
    plain_results = {}
    for label, save in docker_saves.all.items():
        source = DockerArchiveSource(save.path)
        assert source.tar.compression == save.compression
        tags = [tag for entry in save.manifest for tag in entry["RepoTags"]]
        assert sorted(f"{r.name}:{r.tag}" for r in source.references()) == sorted(tags)
        sizes = member_sizes(save.path) if save.compression is None else None
        for entry in save.manifest:
            for tag in entry["RepoTags"]:
                target = source.get(tag)
                image = target.root
                assert isinstance(image, Image) and not image.warnings
                assert f"{target.reference.name}:{target.reference.tag}" == tag
                truth = truths[image.config_digest]
                assert save.configs[entry["Config"]] == truth.config_raw
                assert_steps_match_engine(image, truth.config_raw, truth.history)
                assert [h["CreatedBy"] for h in truth.history_api] == [
                    s.created_by or "" for s in reversed(image.steps)
                ]
                assert [layer.digest for layer in image.layers] == truth.config["rootfs"][
                    "diff_ids"
                ]
                if sizes is not None:
                    assert [layer.size for layer in image.layers] == [
                        sizes[os.path.normpath(p)] for p in entry["Layers"]
                    ]
                plain_results.setdefault(tag, as_data(target))
                assert as_data(target) == plain_results[tag], label


@pytest.mark.engines
def test_docker_save_from_stdin_and_cli(docker_saves):
    save = docker_saves.full_zst
    expected = cli_json(str(docker_saves.full.path))
    assert cli_json("-", stdin=save.path.read_bytes()) == expected
    assert cli_json(str(save.path)) == expected
    listing = run("ls", str(docker_saves.two_images.path))
    assert listing.code == 0
    for ref in docker_saves.two_images.refs:
        assert ref.split(":")[0] in listing.out
    assert_one_line_error(run("show", str(docker_saves.two_images.path)))


@pytest.mark.engines
def test_podman_archives_match_podman(podman):
    for ref, saves in podman.saves.items():
        truth = podman.images[ref]
        history = podman.history[ref]
        docker_archive = saves["docker-archive"]
        target = spec_target(f"docker-archive:{docker_archive.path}")
        image = target.root
        assert (target.reference.name, target.reference.tag) == tuple(ref.rsplit(":", 1))
        assert not image.warnings
        # podman converts the OCI config to a Docker one: same history, other bytes
        assert_steps_match_engine(image, docker_archive.config_raw, history)
        assert steps_of(image) == history_of(truth.config)
        # skopeo describes the same layers (digests and sizes; it calls them gzip, they are not)
        assert [(layer.digest, layer.size) for layer in image.layers] == [
            (d["digest"], d["size"]) for d in docker_archive.manifest["layers"]
        ]
        oci_archive = saves["oci-archive"]
        for spec in (f"oci-archive:{oci_archive.path}:{ref}", str(oci_archive.path)):
            target = spec_target(spec)
            image = target.root
            assert image.manifest_digest == sha256(oci_archive.manifest_raw)
            assert [(lay.digest, lay.size, lay.media_type) for lay in image.layers] == [
                (d["digest"], d["size"], d["mediaType"]) for d in oci_archive.manifest["layers"]
            ]
            assert image.config_digest == sha256(truth.config_raw)
            assert_steps_match_engine(image, truth.config_raw, history)


@pytest.mark.engines
def test_skopeo_archives_match_dockerd(skopeo, dockerd):
    truth = dockerd.images["reconstruct-test/full:1"]
    oci_archive = skopeo.oci_archive
    image = spec_target(f"oci-archive:{oci_archive.path}:1").root
    assert image.manifest_digest == sha256(oci_archive.manifest_raw)
    assert [(lay.digest, lay.size, lay.media_type) for lay in image.layers] == [
        (d["digest"], d["size"], d["mediaType"]) for d in oci_archive.manifest["layers"]
    ]
    assert_steps_match_engine(image, oci_archive.config_raw, truth.history)
    docker_archive = skopeo.docker_archive
    # skopeo writes the RepoTag fully qualified
    (entry,) = json.loads(docker_archive.files["manifest.json"])
    assert entry["RepoTags"] == ["docker.io/reconstruct-test/full:1"]
    image = spec_target(
        f"docker-archive:{docker_archive.path}:docker.io/reconstruct-test/full:1"
    ).root
    assert image.config_digest == truth.id
    assert_steps_match_engine(image, truth.config_raw, truth.history)
    assert [layer.digest for layer in image.layers] == truth.config["rootfs"]["diff_ids"]


def test_docker25_save_names_images_as_docker_images_shows_them(tmp_path: Path):
    """Docker ≥ 25 names each image twice: index.json's `io.containerd.image.name`
    (`docker.io/library/hello-world:latest`) and manifest.json's RepoTags (`hello-world:latest`),
    which `docker load` restores and `docker images` shows: that familiar name is the one listed,
    and the qualified one still selects the image."""
    files = members(corpus("docker-save/ggcr_hello-world-docker25-oci-layout-arm64.tar"))
    (entry,) = manifest_entries(files)
    manifest_name = next(
        name
        for name, data in files.items()
        if name.startswith("blobs/") and b'"layers"' in data and data.startswith(b"{")
    )
    descriptor = {
        "mediaType": json.loads(files[manifest_name])["mediaType"],
        "digest": "sha256:" + manifest_name.rsplit("/", 1)[1],
        "size": len(files[manifest_name]),
        "annotations": {
            "io.containerd.image.name": "docker.io/library/hello-world:latest",
            "org.opencontainers.image.ref.name": "latest",
        },
    }
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [descriptor]}).encode()
    files["manifest.json"] = json.dumps([{**entry, "RepoTags": ["hello-world:latest"]}]).encode()
    path = tmp_path / "docker26-save.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    source = DockerArchiveSource(path)
    (ref,) = source.references()
    assert (ref.name, ref.tag, ref.digest) == ("hello-world", "latest", descriptor["digest"])
    for selector in ("hello-world:latest", "docker.io/library/hello-world:latest", "latest"):
        assert source.get(selector).root.manifest_digest == descriptor["digest"]
