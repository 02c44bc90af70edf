"""`docker-root:` — a Docker data root read from disk with no daemon.

Always-on tests build data roots in tmp_path from real configs of the shared corpus, laid out as
dockerd 20.10 writes them (checked against a real dockerd in the engine tests below), including
a Windows-shaped root whose layerdb keeps the foreign base layers' descriptors.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reconstruct.model import FOREIGN_MEDIA_TYPES, Image
from reconstruct.refs import repositories_key as canonical_name
from reconstruct.sources import detect, open_source
from reconstruct.sources.base import SourceError
from reconstruct.sources.dockerroot import DockerRootSource, chain_ids
from tests.support.clirun import assert_one_line_error, run
from tests.support.paths import CORPUS, FIXTURES, WINDOWS_CONFIG, WINDOWS_MANIFEST

HTTPD_CONFIG = FIXTURES / "config" / "cimage_httpd-2.4.23_docker1.12.1_config.json"
COMMIT_CONFIG = FIXTURES / "config" / "quay_busybox_docker-commit_config.json"
WINDOWS_NAME = "mcr.microsoft.com/dotnet/framework/runtime"
WINDOWS_MANIFEST_DIGEST = "sha256:5ec4722ef299457d69a7186d3da503a947584aa1a5bfc0bfc021fe115dc2a76b"


def need_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent (../shared not checked out beside the repo)")


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fake_digest(seed: str) -> str:
    return sha(seed.encode())


class DataRoot:
    """`image/<driver>/…` of a Docker data root, written the way dockerd 20.10 writes it."""

    def __init__(self, root: Path, driver: str = "overlay2"):
        self.root = root
        self.dir = root / "image" / driver
        for sub in (
            "imagedb/content/sha256",
            "imagedb/metadata/sha256",
            "layerdb/sha256",
            "distribution/v2metadata-by-diffid/sha256",
            "distribution/diffid-by-digest/sha256",
        ):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.repositories: dict[str, dict[str, str]] = {}
        self._write_repositories()

    def _write_repositories(self) -> None:
        document = {"Repositories": self.repositories}
        (self.dir / "repositories.json").write_text(json.dumps(document, separators=(",", ":")))

    def image(self, config: bytes, parent: str | None = None) -> str:
        """Store a config; its digest is the Image ID. Also the layers' layerdb entries."""
        image_id = sha(config)
        (self.dir / "imagedb/content/sha256" / image_id[7:]).write_bytes(config)
        if parent:
            meta = self.dir / "imagedb/metadata/sha256" / image_id[7:]
            meta.mkdir(parents=True, exist_ok=True)
            (meta / "parent").write_text(parent)
        return image_id

    def layer(
        self, chain_id: str, diff_id: str, size: int, parent: str | None, descriptor=None
    ) -> None:
        folder = self.dir / "layerdb/sha256" / chain_id[7:]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "diff").write_text(diff_id)
        (folder / "size").write_text(str(size))
        (folder / "cache-id").write_text(hashlib.sha256(chain_id.encode()).hexdigest())
        if parent:
            (folder / "parent").write_text(parent)
        if descriptor is not None:
            (folder / "descriptor.json").write_text(json.dumps(descriptor))

    def layers(self, diff_ids: list[str], sizes: list[int], descriptors=None) -> list[str]:
        """layerdb entries named by chain id, computed here by the image spec's formula."""
        chains, parent = [], None
        for number, diff_id in enumerate(diff_ids):
            chain = diff_id if parent is None else sha(f"{parent} {diff_id}".encode())
            descriptor = (descriptors or {}).get(number)
            self.layer(chain, diff_id, sizes[number], parent, descriptor)
            chains.append(chain)
            parent = chain
        return chains

    def v2metadata(self, diff_id: str, entries: list[tuple[str, str]]) -> None:
        document = [{"Digest": d, "SourceRepository": repo, "HMAC": ""} for d, repo in entries]
        (self.dir / "distribution/v2metadata-by-diffid/sha256" / diff_id[7:]).write_text(
            json.dumps(document)
        )
        for digest, _ in entries:
            (self.dir / "distribution/diffid-by-digest/sha256" / digest[7:]).write_text(diff_id)

    def tag(self, name: str, reference: str, image_id: str) -> None:
        """`reference` is `name:tag` or `name@sha256:…`, as repositories.json keys are."""
        self.repositories.setdefault(name, {})[reference] = image_id
        self._write_repositories()


@pytest.fixture
def httpd_root(tmp_path: Path):
    """httpd:2.4.23 pulled from Docker Hub (real config), one layer also pushed elsewhere."""
    need_corpus()
    root = DataRoot(tmp_path / "docker")
    config_raw = HTTPD_CONFIG.read_bytes()
    config = json.loads(config_raw)
    diff_ids = config["rootfs"]["diff_ids"]
    image_id = root.image(config_raw)
    sizes = [1000 * (n + 1) for n in range(len(diff_ids))]
    root.layers(diff_ids, sizes)
    pulled = [fake_digest(f"httpd layer {n}") for n in range(len(diff_ids))]
    for number, diff_id in enumerate(diff_ids):
        entries = [(pulled[number], "docker.io/library/httpd")]
        if number == 0:  # the debian base layer, pulled earlier for another image
            entries.insert(0, (fake_digest("debian layer"), "docker.io/library/debian"))
        root.v2metadata(diff_id, entries)
    repo_digest = fake_digest("httpd manifest")
    root.tag("httpd", "httpd:2.4.23", image_id)
    root.tag("httpd", f"httpd@{repo_digest}", image_id)
    return root, {
        "id": image_id,
        "config": config,
        "sizes": sizes,
        "pulled": pulled,
        "repo_digest": repo_digest,
    }


@pytest.fixture
def windows_root(tmp_path: Path):
    """A Windows host's data root (driver windowsfilter) after `docker pull` of
    mcr.microsoft.com/dotnet/framework/runtime:4.8 on Server 2022: the two base layers are
    foreign, so layerdb keeps their descriptors (descriptor.json); the other two were
    downloaded, so distribution metadata has their compressed digests."""
    need_corpus()
    root = DataRoot(tmp_path / "windows-docker", driver="windowsfilter")
    config_raw = WINDOWS_CONFIG.read_bytes()
    config = json.loads(config_raw)
    manifest = json.loads(WINDOWS_MANIFEST.read_bytes())
    diff_ids = config["rootfs"]["diff_ids"]
    image_id = root.image(config_raw)
    sizes = [4_400_000_000, 2_300_000_000, 5_000, 700_000_000]
    descriptors = {n: d for n, d in enumerate(manifest["layers"]) if "urls" in d}
    assert sorted(descriptors) == [0, 1]
    root.layers(diff_ids, sizes, descriptors)
    for number in (2, 3):
        root.v2metadata(diff_ids[number], [(manifest["layers"][number]["digest"], WINDOWS_NAME)])
    root.tag(WINDOWS_NAME, f"{WINDOWS_NAME}:4.8", image_id)
    root.tag(WINDOWS_NAME, f"{WINDOWS_NAME}@{WINDOWS_MANIFEST_DIGEST}", image_id)
    return root, {"id": image_id, "config": config, "manifest": manifest, "sizes": sizes}


# --- facts ---------------------------------------------------------------------------------------


def test_chain_ids_match_what_dockerd_wrote():
    """Recorded from dockerd 20.10's layerdb (`docker load` of dive's test image)."""
    diff_ids = [
        "sha256:23bc2b70b2014dec0ac22f27bb93e9babd08cdd6f1115d0c955b9ff22b382f5a",
        "sha256:a65b7d7ac139a0e4337bc3c73ce511f937d6140ef61a0108f7d4b8aab8d67274",
        "sha256:93e208d471756ffbac88cf9c25feb442007f221d3bd73231e27b747a0a68927c",
    ]
    assert chain_ids(diff_ids) == [
        diff_ids[0],
        "sha256:feff741eb35964a11ee9328c739beb64f43d0fd1590f0c7e44f69283bd1888ce",
        "sha256:8bbb2ee30155dbf5985e176553f4edc04c52c3c6f109635395614848d864ab25",
    ]
    assert chain_ids([]) == []


def test_canonical_names_as_distribution_metadata_records_them():
    assert canonical_name("busybox") == "docker.io/library/busybox"
    assert canonical_name("user/app") == "docker.io/user/app"
    assert canonical_name("localhost/app") == "localhost/app"
    assert canonical_name("127.0.0.1:5000/a/b") == "127.0.0.1:5000/a/b"
    assert canonical_name("mcr.microsoft.com/x/y") == "mcr.microsoft.com/x/y"


# --- reading ---------------------------------------------------------------------------------------


def test_pulled_image_has_exact_config_sizes_and_compressed_digests(httpd_root):
    root, expected = httpd_root
    target = DockerRootSource(root.root).get("httpd:2.4.23")
    image = target.root
    assert isinstance(image, Image)
    assert (target.reference.name, target.reference.tag) == ("httpd", "2.4.23")
    assert image.config_digest == expected["id"] == target.reference.digest
    assert image.manifest_digest == expected["repo_digest"]
    assert image.manifest_media_type is None  # the manifest itself is not kept
    history = expected["config"]["history"]
    assert [s.created_by for s in image.steps] == [h.get("created_by") for h in history]
    assert [s.empty_layer for s in image.steps] == [bool(h.get("empty_layer")) for h in history]
    assert [x.diff_id for x in image.layers] == expected["config"]["rootfs"]["diff_ids"]
    assert [x.uncompressed_size for x in image.layers] == expected["sizes"]
    # the digest pulled for *this* repository, not the older one from library/debian
    assert [x.digest for x in image.layers] == expected["pulled"]
    assert all(x.size is None and x.media_type is None for x in image.layers)
    assert image.warnings == []
    layered = [s for s in image.steps if not s.empty_layer]
    assert [s.layer.diff_id for s in layered] == image.diff_ids


def test_image_without_distribution_metadata_has_diff_ids_only(httpd_root):
    """A locally built image, never pushed: no compressed digest anywhere."""
    root, _ = httpd_root
    config_raw = COMMIT_CONFIG.read_bytes()
    image_id = root.image(config_raw)
    diff_ids = json.loads(config_raw)["rootfs"]["diff_ids"]
    root.layers(diff_ids, [10, 20])
    root.tag("committed", "committed:1", image_id)
    image = DockerRootSource(root.root).get("committed:1").root
    assert image.manifest_digest is None
    assert [(x.digest, x.diff_id, x.uncompressed_size) for x in image.layers] == [
        (None, diff_ids[0], 10),
        (None, diff_ids[1], 20),
    ]


def test_several_digests_from_other_repositories_take_the_most_recent_with_a_warning(httpd_root):
    root, expected = httpd_root
    diff_id = expected["config"]["rootfs"]["diff_ids"][1]
    root.v2metadata(
        diff_id, [(fake_digest("a"), "docker.io/x/a"), (fake_digest("b"), "quay.io/y/b")]
    )
    image = DockerRootSource(root.root).get("httpd:2.4.23").root
    assert image.layers[1].digest == fake_digest("b")
    assert any(diff_id in w and "2 different digests" in w for w in image.warnings)


def test_several_repo_digests_leave_the_manifest_digest_unknown(httpd_root):
    root, expected = httpd_root
    root.tag("httpd", f"httpd@{fake_digest('another manifest')}", expected["id"])
    source = DockerRootSource(root.root)
    assert source.get("httpd:2.4.23").root.manifest_digest is None
    # chosen by one repo digest, that is the manifest digest
    chosen = source.get(f"httpd@{expected['repo_digest']}").root
    assert chosen.manifest_digest == expected["repo_digest"]


def test_windows_foreign_layers_come_from_layerdb_descriptors(windows_root):
    root, expected = windows_root
    image = DockerRootSource(root.root).get(f"{WINDOWS_NAME}:4.8").root
    manifest_layers = expected["manifest"]["layers"]
    assert image.config_digest == expected["id"]
    assert image.manifest_digest == WINDOWS_MANIFEST_DIGEST
    assert (image.platform.os, image.platform.os_version) == ("windows", "10.0.20348.473")
    assert [x.digest for x in image.layers] == [d["digest"] for d in manifest_layers]
    for layer, descriptor in zip(image.layers[:2], manifest_layers[:2], strict=True):
        assert layer.foreign and layer.media_type in FOREIGN_MEDIA_TYPES
        assert layer.size == descriptor["size"]
        assert layer.urls == descriptor["urls"]
    for layer in image.layers[2:]:
        assert not layer.foreign and layer.size is None and layer.media_type is None
    assert [x.uncompressed_size for x in image.layers] == expected["sizes"]
    steps = image.steps
    assert [s.created_by for s in steps[:2]] == [
        "Apply image 2022-RTM-amd64",
        "Install update ltsc2022-amd64",
    ]
    assert [s.layer.foreign for s in steps] == [True, True, False, False]
    assert image.warnings == []


def test_windows_root_renders_through_the_cli(windows_root):
    root, expected = windows_root
    result = run("show", f"docker-root:{root.root}:{WINDOWS_NAME}:4.8")
    assert result.code == 0, result.err
    assert result.out.startswith(f"## `{WINDOWS_NAME}:4.8`\n")
    assert f"$ docker pull {WINDOWS_NAME}@{WINDOWS_MANIFEST_DIGEST}" in result.out
    assert f"Image ID: `{expected['id']}`" in result.out
    assert "Apply image 2022-RTM-amd64\n" in result.out
    assert "Install update ltsc2022-amd64\n" in result.out
    assert result.out.count("MIME: application/vnd.docker.image.rootfs.foreign.diff.tar.gzip") == 2
    document = json.loads(run("show", f"{root.root}:4.8", "--format", "json").out)
    assert json.dumps(expected["sizes"][0]) in json.dumps(document)


def test_dangling_images_are_listed_by_id_but_not_build_parents(httpd_root):
    root, expected = httpd_root
    config = dict(expected["config"], created="2030-01-01T00:00:00Z")
    parent = root.image(json.dumps(config).encode())  # an intermediate image of a build
    config = dict(config, created="2030-01-02T00:00:00Z")
    dangling = root.image(json.dumps(config).encode(), parent=parent)
    source = DockerRootSource(root.root)
    refs = source.references()
    assert [(r.name, r.tag, r.digest) for r in refs] == [
        ("httpd", "2.4.23", expected["id"]),
        (None, None, dangling),
    ]
    assert refs[1].selector == dangling
    assert source.get(dangling[7:19]).root.config_digest == dangling
    # the intermediate image is not listed, but can still be read by its ID
    assert source.get(parent).root.config_digest == parent


def test_an_image_known_only_by_repo_digest_is_listed_with_its_name(httpd_root):
    root, expected = httpd_root
    config = dict(expected["config"], created="2031-01-01T00:00:00Z")
    image_id = root.image(json.dumps(config).encode())
    digest = fake_digest("untagged manifest")
    root.tag("httpd", f"httpd@{digest}", image_id)
    refs = DockerRootSource(root.root).references()
    assert (refs[1].name, refs[1].tag, refs[1].digest) == ("httpd", None, image_id)
    assert refs[1].selector == f"httpd@{digest}"
    image = DockerRootSource(root.root).get(refs[1].selector).root
    assert image.manifest_digest == digest


def test_several_drivers_are_all_read_and_selectable(httpd_root):
    root, expected = httpd_root
    vfs = DataRoot(root.root, driver="vfs")
    config_raw = COMMIT_CONFIG.read_bytes()
    other = vfs.image(config_raw)
    vfs.layers(json.loads(config_raw)["rootfs"]["diff_ids"], [1, 2])
    vfs.tag("httpd", "httpd:2.4.23", other)  # the same name, another image
    vfs.tag("busybox", "busybox:latest", other)
    source = DockerRootSource(root.root)
    selectors = [r.selector for r in source.references()]
    assert selectors == ["overlay2:httpd:2.4.23", "vfs:busybox:latest", "vfs:httpd:2.4.23"]
    assert source.get("vfs:httpd:2.4.23").root.config_digest == other
    assert source.get("overlay2:httpd:2.4.23").root.config_digest == expected["id"]
    assert source.get("busybox:latest").root.config_digest == other
    with pytest.raises(SourceError, match="ambiguous"):
        source.get("httpd:2.4.23")


# --- what goes wrong on disk ---------------------------------------------------------------------


def test_not_a_docker_root_is_refused(tmp_path: Path):
    (tmp_path / "containers").mkdir()
    with pytest.raises(SourceError, match="not a Docker data root"):
        DockerRootSource(tmp_path)


def test_tampered_config_is_a_warning_and_missing_one_an_error(httpd_root):
    root, expected = httpd_root
    path = root.dir / "imagedb/content/sha256" / expected["id"][7:]
    path.write_bytes(path.read_bytes() + b"\n")
    image = DockerRootSource(root.root).get("httpd:2.4.23").root
    assert any("hashes to" in w for w in image.warnings)
    path.unlink()
    with pytest.raises(SourceError, match="absent"):
        DockerRootSource(root.root).get("httpd:2.4.23")


def test_bad_repositories_json_is_a_one_line_error(httpd_root):
    root, _ = httpd_root
    (root.dir / "repositories.json").write_text('{"Repositories": {')
    with pytest.raises(SourceError, match="not valid JSON") as caught:
        DockerRootSource(root.root)
    assert "\n" not in str(caught.value)


def test_layers_missing_from_layerdb_are_a_warning(httpd_root):
    root, expected = httpd_root
    last_chain = chain_ids(expected["config"]["rootfs"]["diff_ids"])[-1]
    for file in (root.dir / "layerdb/sha256" / last_chain[7:]).iterdir():
        file.unlink()
    (root.dir / "layerdb/sha256" / last_chain[7:]).rmdir()
    image = DockerRootSource(root.root).get("httpd:2.4.23").root
    assert image.layers[-1].uncompressed_size is None
    assert image.layers[-1].digest == expected["pulled"][-1]  # still known from distribution
    assert any("not in layerdb" in w for w in image.warnings)


def test_bad_distribution_metadata_and_descriptor_are_warnings(windows_root):
    root, expected = windows_root
    diff_ids = expected["config"]["rootfs"]["diff_ids"]
    (root.dir / "distribution/v2metadata-by-diffid/sha256" / diff_ids[2][7:]).write_text("[{")
    first_chain = chain_ids(diff_ids)[0]
    (root.dir / "layerdb/sha256" / first_chain[7:] / "descriptor.json").write_text("{")
    image = DockerRootSource(root.root).get("4.8").root
    assert image.config_digest == expected["id"]  # the exact config is still read
    assert image.layers[0].digest is None and image.layers[2].digest is None
    assert image.layers[3].digest == expected["manifest"]["layers"][3]["digest"]
    assert any("descriptor is unknown" in w for w in image.warnings)
    assert any("compressed digest is unknown" in w for w in image.warnings)


# --- opening and the command line ---------------------------------------------------------------


def test_bare_paths_are_detected(httpd_root):
    root, _ = httpd_root
    assert detect(root.root) == "docker-root"
    assert detect(root.root / "image") == "docker-root"
    assert detect(root.dir) == "docker-root"
    source, selector = open_source(f"{root.root}:httpd:2.4.23")
    assert isinstance(source, DockerRootSource) and selector == "httpd:2.4.23"


def test_cli_ls_and_show(httpd_root):
    root, expected = httpd_root
    listing = run("ls", f"docker-root:{root.root}", "--json")
    assert listing.code == 0, listing.err
    assert [json.loads(line) for line in listing.out.splitlines()] == [
        {"name": "httpd", "tag": "2.4.23", "digest": expected["id"], "selector": "httpd:2.4.23"}
    ]
    shown = run("show", f"docker-root:{root.root}:httpd:2.4.23", "--format", "dockerfile")
    assert shown.code == 0, shown.err
    assert "httpd-foreground" in shown.out


def test_cli_errors_are_one_line_with_exit_2(httpd_root, tmp_path: Path):
    root, _ = httpd_root
    assert_one_line_error(run("show", f"docker-root:{root.root}:nosuch:tag"))
    assert_one_line_error(run("ls", f"docker-root:{tmp_path / 'empty'}"))
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run("ls", f"docker-root:{tmp_path / 'empty'}"))


# --- a real dockerd ------------------------------------------------------------------------------


@pytest.mark.engines
def test_real_data_root_read_with_the_daemon_stopped(dockerd):
    listed_by_docker = sorted(
        line
        for line in dockerd.run("images", "--format", "{{.Repository}}:{{.Tag}}")
        .stdout.decode()
        .split()
        if not line.startswith("<none>")
    )
    with dockerd.stopped():
        assert not dockerd.running
        source = DockerRootSource(dockerd.data_root)
        refs = source.references()
        assert sorted(f"{r.name}:{r.tag}" for r in refs if r.tag) == listed_by_docker
        for ref, truth in dockerd.images.items():
            image = source.get(ref).root
            assert image.config_digest == truth.id == truth.inspect["Id"], ref
            assert image.diff_ids == truth.inspect["RootFS"]["Layers"]
            history = truth.config.get("history") or []
            assert [s.created_by for s in image.steps] == [h.get("created_by") for h in history]
            assert [s.empty_layer for s in image.steps] == [
                bool(h.get("empty_layer")) for h in history
            ]
            # `docker history` (newest first) shows the same commands ("" for none)
            assert [s.created_by or "" for s in reversed(image.steps)] == [
                line["CreatedBy"] for line in truth.history
            ]
            # and the Engine API's sizes are layerdb's: uncompressed, 0 for empty steps
            sizes = [s.layer.uncompressed_size if s.layer else 0 for s in image.steps]
            assert sizes == [entry["Size"] for entry in reversed(truth.history_api)]
            assert all(layer.uncompressed_size is not None for layer in image.layers)
            assert image.manifest_digest is None  # built here, never pulled or pushed
            assert image.warnings == [], (ref, image.warnings)


@pytest.mark.engines
def test_real_data_root_through_the_cli(dockerd):
    with dockerd.stopped():
        result = run("show", f"{dockerd.data_root}:reconstruct-test/small:1", "--format", "json")
        assert result.code == 0, result.err
        truth = dockerd.images["reconstruct-test/small:1"]
        assert truth.id in result.out
        # `1` is a tag of two different images: ambiguous
        assert_one_line_error(run("show", f"docker-root:{dockerd.data_root}:1"))


def test_verify_rebuilds_an_unpacked_layer_from_its_tar_split(tmp_path):
    """A data root written here (tests/support/attacks.py's, a layer in overlay2/<cache-id>/diff
    with its tar-split beside the layerdb record): rebuilt, it hashes to the diff_id; a byte
    changed in the unpacked file is a mismatch, a missing file unreadable."""
    from tests.support.attacks import CACHE_ID, _data_root

    root = _data_root(tmp_path / "root")
    verified = run("verify", f"docker-root:{root}", "--format", "json")
    assert verified.code == 0, verified.out
    layers = [c for g in json.loads(verified.out)["groups"] for c in g["checks"]]
    (layer,) = [c for c in layers if c["kind"] == "layer"]
    assert layer["verdict"] == "ok" and "tar-split" in layer["reason"]
    data = root / "overlay2" / CACHE_ID / "diff" / "data"
    data.write_bytes(data.read_bytes()[:-1] + b"!")
    tampered = run("verify", f"docker-root:{root}")
    assert tampered.code == 1 and "mismatch" in tampered.out.lower()
    data.unlink()
    missing = run("verify", f"docker-root:{root}")
    assert missing.code == 1 and "cannot be read" in missing.out
