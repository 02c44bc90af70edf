"""The engine fixtures (tests/plugins/engines/) really produced what they claim."""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import subprocess
import tarfile

import pytest

from tests.plugins.engines import (
    BASE,
    BUILDAH_DEFAULT,
    FULL,
    FULL_DOCKERFILE,
    FULL_TAGS,
    SMALL,
)

pytestmark = pytest.mark.engines

ARGS_PREFIX = "|2 TOKEN=s3cr3t VERSION=1.2.3 /bin/sh -c "


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def instructions(dockerfile: str) -> list[str]:
    """Instruction keywords after FROM (continuation lines folded)."""
    words, joined = [], dockerfile.replace("\\\n", " ")
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            words.append(line.split()[0].upper())
    assert words[0] == "FROM"
    return words[1:]


STEPS = instructions(FULL_DOCKERFILE)
# instructions that add a layer (buildah --layers; dockerd 20.10 skips a RUN that changed nothing)
LAYER_STEPS = [s for s in STEPS if s in {"COPY", "ADD", "RUN"}]


def non_empty(history: list[dict]) -> int:
    return sum(1 for h in history if not h.get("empty_layer"))


# -------------------------------------------------------------------- dockerd


def test_dockerd_full_image_history(dockerd):
    truth = dockerd.images[FULL]
    config = truth.config
    assert truth.id == sha256(truth.config_raw)
    assert len(config["history"]) == len(STEPS) + 1  # + the imported base
    assert len(truth.history) == len(truth.history_api) == len(STEPS) + 1
    # the base's layer, and none for `RUN true` (see below)
    diff_ids = config["rootfs"]["diff_ids"]
    assert non_empty(config["history"]) == len(diff_ids) == 1 + len(LAYER_STEPS) - 1
    created_by = [h.get("created_by", "") for h in config["history"]]
    assert any(c.startswith(ARGS_PREFIX + "echo ") for c in created_by)
    assert ARGS_PREFIX + "true" in created_by
    assert any("EXPOSE map[" not in c and "EXPOSE 53/udp 8080/tcp" in c for c in created_by)
    assert config["config"]["User"] == "1000:1000"
    assert config["config"]["ExposedPorts"] == {"53/udp": {}, "8080/tcp": {}}
    assert "APP_VERSION=1.2.3" in config["config"]["Env"]
    assert config["config"]["Healthcheck"]["Test"][0] == "CMD-SHELL"
    # newest first in the CLI and API; oldest first in the config
    assert truth.history[0]["CreatedBy"] == created_by[-1]
    assert truth.history_api[-1]["Comment"] == "Imported from -"


def test_dockerd_run_that_changed_nothing_is_an_empty_layer(dockerd):
    # Docker 20.10 drops the empty diff and marks the entry empty_layer: true;
    # the Engine API reports size 0 for it, like for metadata instructions.
    config = dockerd.images[FULL].config
    (entry,) = [h for h in config["history"] if h.get("created_by") == ARGS_PREFIX + "true"]
    assert entry["empty_layer"] is True
    api = [h for h in dockerd.images[FULL].history_api if h["CreatedBy"] == ARGS_PREFIX + "true"]
    assert api[0]["Size"] == 0
    # the exec-form RUN is recorded like a shell-form one
    assert ARGS_PREFIX + "echo exec-form > /opt/app/exec.txt" in [
        h.get("created_by") for h in config["history"]
    ]


def test_dockerd_tags_and_small_image(dockerd):
    assert set(FULL_TAGS) <= set(dockerd.images[FULL].inspect["RepoTags"])
    small = dockerd.images[SMALL].config
    assert len(small["history"]) == 3
    assert dockerd.images[BASE].config["history"][0]["comment"] == "Imported from -"


def test_dockerd_data_root_readable_when_stopped(dockerd):
    image_id = dockerd.images[FULL].id
    with dockerd.stopped():
        assert not dockerd.running
        repos = json.loads((dockerd.data_root / "image/vfs/repositories.json").read_text())
        assert repos["Repositories"]["reconstruct-test/full"][FULL] == image_id
        content = dockerd.data_root / "image/vfs/imagedb/content/sha256" / image_id[7:]
        assert content.read_bytes() == dockerd.images[FULL].config_raw
    assert dockerd.running
    assert (
        dockerd.run("image", "inspect", "--format", "{{.Id}}", FULL).stdout.decode().strip()
        == image_id
    )


# ---------------------------------------------------------------- docker save


def test_docker_saves_decompress(docker_saves):
    plain = docker_saves.full.path.read_bytes()
    assert gzip.decompress(docker_saves.full_gz.path.read_bytes()) == plain
    assert lzma.decompress(docker_saves.full_xz.path.read_bytes()) == plain
    unzstd = subprocess.run(
        ["zstd", "-dc", str(docker_saves.full_zst.path)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert unzstd.stdout == plain
    with tarfile.open(docker_saves.full_gz.path) as tar:
        assert "manifest.json" in tar.getnames()


def test_docker_saves_contents(docker_saves):
    full_id = docker_saves.images[FULL].id
    (entry,) = docker_saves.full.manifest
    assert entry["RepoTags"] == [FULL]
    config_raw = docker_saves.full.configs[entry["Config"]]
    assert sha256(config_raw) == full_id
    assert config_raw == docker_saves.images[FULL].config_raw
    assert len(entry["Layers"]) == len(docker_saves.images[FULL].config["rootfs"]["diff_ids"])
    two = docker_saves.two_images.manifest
    assert sorted(t for m in two for t in m["RepoTags"]) == sorted([FULL, SMALL])
    (multi,) = docker_saves.multi_tag.manifest
    assert sorted(multi["RepoTags"]) == sorted([FULL, *FULL_TAGS])
    assert set(docker_saves.multi_tag.repositories) == {
        "reconstruct-test/full",
        "reconstruct-test/alias",
    }


# -------------------------------------------------------------- buildah/podman

BASE_COMMENT = "FROM localhost/busybox:local"


def test_buildah_default_squashes_into_one_layer(buildah):
    config = buildah.default.config
    history = config["history"]
    assert len(history) == len(STEPS) + 1
    assert [h.get("empty_layer", False) for h in history[1:]] == [True] * (len(STEPS) - 1) + [False]
    assert len(config["rootfs"]["diff_ids"]) == 2
    # buildah 1.28 (Debian 12) names the base in the last entry's comment; 1.39 records none
    assert history[-1].get("comment", BASE_COMMENT) == BASE_COMMENT
    created_by = [h.get("created_by", "") for h in history]
    assert any(c.startswith(ARGS_PREFIX + "echo ") for c in created_by)
    assert "/bin/sh -c #(nop) ENV APP_HOME=/opt/app     APP_VERSION=$VERSION" in created_by
    assert buildah.default.manifest["config"]["digest"] == sha256(buildah.default.config_raw)
    assert buildah.default.id == sha256(buildah.default.config_raw)


def test_buildah_layers(buildah):
    config = buildah.layers.config
    assert len(config["history"]) == len(STEPS) + 1
    assert non_empty(config["history"]) == len(config["rootfs"]["diff_ids"]) == len(LAYER_STEPS) + 1


def test_podman_history(podman):
    history = podman.history[BUILDAH_DEFAULT]
    assert len(history) == len(STEPS) + 1
    assert history[0].get("comment", BASE_COMMENT) == BASE_COMMENT  # none from buildah 1.39


def test_podman_saves(podman):
    oci = podman.oci_dir
    index = json.loads(oci.files["index.json"])
    assert (
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == BUILDAH_DEFAULT
    )
    assert oci.manifest["config"]["digest"] == sha256(oci.config_raw)
    assert oci.config["history"] == podman.images[BUILDAH_DEFAULT].config["history"]
    assert "index.json" in podman.oci_archive.files
    (entry,) = json.loads(podman.docker_archive.files["manifest.json"])
    assert entry["RepoTags"] == [BUILDAH_DEFAULT]
    # docker-archive holds a Docker-format config converted from the OCI one
    assert len(podman.docker_archive.config["history"]) == len(STEPS) + 1
    for saves in podman.saves.values():
        assert set(saves) == {"docker-archive", "oci-archive", "oci-dir"}


def test_podman_service_docker_api(podman_service):
    assert podman_service.url.startswith("unix://") and str(podman_service) == podman_service.url
    tags = {
        t for image in podman_service.api_get("/images/json") for t in image.get("RepoTags") or ()
    }
    assert BUILDAH_DEFAULT in tags
    history = podman_service.api_get(f"/images/{BUILDAH_DEFAULT}/history")
    assert len(history) == len(STEPS) + 1
    out = podman_service.run("history", "--no-trunc", "--format", "{{json .}}", BUILDAH_DEFAULT)
    assert len(out.stdout.splitlines()) == len(STEPS) + 1


# --------------------------------------------------------------------- skopeo


def test_skopeo_copies(skopeo, dockerd):
    history = dockerd.images[FULL].config["history"]
    for transport, artifact in skopeo.all.items():
        assert artifact.path.exists(), transport
        assert artifact.manifest["config"]["digest"] == sha256(artifact.config_raw), transport
        assert artifact.config["history"] == history, transport
    index = json.loads(skopeo.oci.files["index.json"])
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "1"
    assert skopeo.oci.manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert "version" in skopeo.dir.files
    assert skopeo.source.config_raw == dockerd.images[FULL].config_raw


# ------------------------------------------------------------------- registry


def test_registry_storage(registry):
    v2 = registry.storage / "docker/registry/v2"
    assert ("reconstruct-test/full", "1") in registry.repos
    for pushed in registry.pushed.values():
        tag_dir = v2 / "repositories" / pushed.name / "_manifests/tags" / pushed.tag
        link = tag_dir / "current/link"
        assert link.read_text() == pushed.digest == sha256(pushed.manifest_raw)
        blob = v2 / "blobs/sha256" / pushed.digest[7:9] / pushed.digest[7:] / "data"
        assert blob.read_bytes() == pushed.manifest_raw
        config_digest = pushed.manifest["config"]["digest"]
        assert config_digest == sha256(pushed.config_raw)
        assert (v2 / "blobs/sha256" / config_digest[7:9] / config_digest[7:] / "data").is_file()
    oci = registry.pushed["reconstruct-test/full:1-oci"].manifest
    assert oci["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    v2s2 = registry.pushed["reconstruct-test/full:1"].manifest
    assert v2s2["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert (
        registry.pushed["reconstruct-test/full:latest"].digest == registry.pushed[f"{FULL}"].digest
    )


def test_engines_marker_applied(request, engines_tmp):
    assert request.node.get_closest_marker("engines") is not None
    assert engines_tmp.is_dir()


def test_engines_wrote_nothing_global_but_caches(
    engine_namespaces, registry, podman_service, skopeo
):
    """What the engines wrote to /etc, /var, /opt went to the namespaces' overlays;
    it is only containers/image's blob-info cache and short-name lock (no flag
    moves them for root), plus our own config copies."""
    written = set(engine_namespaces.written())
    expected = {
        "/var/lib/containers/cache/blob-info-cache-v1.boltdb",  # containers/image before 5.34
        "/var/lib/containers/cache/blob-info-cache-v1.sqlite",  # and since
        "/var/cache/containers/short-name-aliases.conf.lock",
    } | {f"/etc/containers/{n}" for n in ("storage.conf", "registries.conf", "policy.json")}
    assert written - expected - {"/etc/containers/containers.conf"} == set()
