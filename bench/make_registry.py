"""Write a distribution registry storage directory of many tagged images, for `mirror` benchmarks.

Every image is derived from real producers' JSON (the shared corpus and the bundled sample),
varied per image so that every config and manifest digest differs:

- linux (60 %): the classic builder's httpd:2.4.23 config (Docker v2s2 manifest), BuildKit's
  LLB exporter config and OCI manifest, and a `docker commit` busybox config;
- windows (20 %): the dotnet/framework/runtime:4.8-ltsc2022 config and manifest, with its two
  foreign base layers (urls, no blob: registries do not hold them);
- multi-platform (20 %): the sample's python:3-windowsservercore manifest list (three Windows
  platforms), and the BuildKit linux/amd64 + linux/arm64 OCI index of the corpus with an
  attestation manifest per platform (`unknown/unknown`, in-toto layers), as buildx pushes it.

Per image the config gets a `BENCH_SERIAL` variable and a later `created`, and its last layer a
new diff_id, digest and size; base layers stay shared, as in any real registry. Layer blobs are
sparse files of the manifest's size; every blob gets a deterministic modification time (what the
registry reports as Last-Modified), so two runs with the same arguments write the same store.

The layout is distribution 2.8's filesystem driver (`docker/registry/v2/blobs/sha256/<2>/<hex>/
data`, `repositories/<name>/_manifests/{tags/<tag>/{current,index/sha256/<hex>},revisions/
sha256/<hex>}/link`, `_layers/sha256/<hex>/link`).

    python bench/make_registry.py /tmp/store --images 10000
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "corpus" / "fixtures"
SAMPLE = REPO / "samples" / "python-3-windowsservercore"
T0 = 1_600_000_000  # 2020-09-13: blob mtimes count up from here

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
IN_TOTO = "application/vnd.in-toto+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fake_digest(*parts: object) -> str:
    """A digest for bytes nobody reads (layer contents): stable per image and position."""
    return sha("/".join(map(str, parts)).encode())


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_bytes())


def docker_json(value: object) -> bytes:
    """Docker's distribution code indents manifests with three spaces."""
    return json.dumps(value, indent=3).encode()


def compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class Storage:
    """Blobs and links in the filesystem driver's layout; each blob and link written once."""

    def __init__(self, root: Path):
        self.v2 = root / "docker" / "registry" / "v2"
        self.blobs = self.v2 / "blobs" / "sha256"
        self.repositories = self.v2 / "repositories"
        self.written: set[str] = set()
        self.manifests = 0

    def _blob_path(self, digest: str) -> Path:
        hexpart = digest.removeprefix("sha256:")
        return self.blobs / hexpart[:2] / hexpart / "data"

    def blob(self, data: bytes, mtime: int) -> str:
        digest = sha(data)
        if digest not in self.written:
            self.written.add(digest)
            path = self._blob_path(digest)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.utime(path, (mtime, mtime))
        return digest

    def sparse(self, digest: str, size: int, mtime: int) -> None:
        """A layer blob of the right size without its bytes (only its size and mtime are read)."""
        if digest in self.written:
            return
        self.written.add(digest)
        path = self._blob_path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.truncate(size)
        os.utime(path, (mtime, mtime))

    def _link(self, path: Path, digest: str) -> None:
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(digest)  # distribution writes the digest with no newline

    def manifest(self, name: str, data: bytes, mtime: int) -> str:
        digest = self.blob(data, mtime)
        self.manifests += 1
        hexpart = digest.removeprefix("sha256:")
        self._link(
            self.repositories / name / "_manifests/revisions/sha256" / hexpart / "link", digest
        )
        return digest

    def layer_link(self, name: str, digest: str) -> None:
        hexpart = digest.removeprefix("sha256:")
        self._link(self.repositories / name / "_layers/sha256" / hexpart / "link", digest)

    def tag(self, name: str, tag: str, digest: str) -> None:
        hexpart = digest.removeprefix("sha256:")
        tags = self.repositories / name / "_manifests/tags" / tag
        self._link(tags / "current" / "link", digest)
        self._link(tags / "index" / "sha256" / hexpart / "link", digest)


@dataclass
class Built:
    """What one variant pushed: the manifest bytes and its descriptor's fields."""

    data: bytes
    media_type: str
    digest: str


class Generator:
    def __init__(self, storage: Storage):
        self.storage = storage
        self.httpd = load(FIXTURES / "config" / "cimage_httpd-2.4.23_docker1.12.1_config.json")
        self.commit = load(FIXTURES / "config" / "quay_busybox_docker-commit_config.json")
        self.llb_config = load(FIXTURES / "config" / "buildkit_llb-exporter_compat-v30_config.json")
        self.llb_manifest = load(
            FIXTURES / "manifest" / "buildkit_llb-exporter_compat-v30_manifest.json"
        )
        self.win_config = load(
            FIXTURES
            / "config"
            / "dockerview_dotnet-framework-runtime-4.8-ltsc2022_windows_config.json"
        )
        self.win_manifest = load(
            FIXTURES
            / "manifest"
            / "dockerview_dotnet-framework-runtime-4.8-ltsc2022_windows_foreign-layers_manifest.json"
        )
        self.sample = self._sample()
        self.multi = self._buildkit_multi()

    # --- templates -------------------------------------------------------------------------

    def _sample(self) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
        """(index entry, manifest, config) for each platform of the sample's manifest list."""
        blobs = SAMPLE / "blobs" / "sha256"
        top = load(SAMPLE / "index.json")["manifests"][0]["digest"]
        listing = load(blobs / top.removeprefix("sha256:"))
        found = []
        for entry in listing["manifests"]:
            manifest = load(blobs / entry["digest"].removeprefix("sha256:"))
            config = load(blobs / manifest["config"]["digest"].removeprefix("sha256:"))
            found.append((entry, manifest, config))
        return found

    def _buildkit_multi(self) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
        layout = FIXTURES / "oci-layout" / "stereoscope_multiplatform_buildkit_containerd-store"
        blobs = layout / "blobs" / "sha256"
        top = load(layout / "index.json")["manifests"][0]["digest"]
        index = load(blobs / top.removeprefix("sha256:"))
        found = []
        for entry in index["manifests"]:
            manifest = load(blobs / entry["digest"].removeprefix("sha256:"))
            config = load(blobs / manifest["config"]["digest"].removeprefix("sha256:"))
            found.append((entry, manifest, config))
        return found

    # --- one image -------------------------------------------------------------------------

    def _vary(self, config: dict[str, Any], serial: int, part: int) -> dict[str, Any]:
        """A copy whose digest is unique: a variable, a later date, a new last diff_id."""
        config = copy.deepcopy(config)
        settings = config.setdefault("config", {}) or {}
        config["config"] = settings
        settings["Env"] = [*(settings.get("Env") or []), f"BENCH_SERIAL={serial}.{part}"]
        created = f"2021-{1 + serial % 12:02d}-{1 + serial % 28:02d}T{serial % 24:02d}:00:00Z"
        config["created"] = created
        history = config.get("history") or []
        if history:
            history[-1] = {**history[-1], "created": created}
        diff_ids = config.get("rootfs", {}).get("diff_ids") or []
        if diff_ids:
            diff_ids[-1] = fake_digest("diff", serial, part)
        return config

    def _image(
        self,
        name: str,
        serial: int,
        part: int,
        config: dict[str, Any],
        layers: list[dict[str, Any]],
        *,
        oci: bool,
    ) -> Built:
        """Config, layers and manifest of one image; the last ordinary layer made unique."""
        config = self._vary(config, serial, part)
        layers = copy.deepcopy(layers)
        ordinary = [layer for layer in layers if "urls" not in layer]
        if ordinary:
            last = ordinary[-1]
            last["digest"] = fake_digest("layer", serial, part)
            last["size"] = 1000 + (serial * 7919 + part) % 5_000_000
        mtime = T0 + serial * 10 + part
        config_data = compact(config)
        config_digest = self.storage.blob(config_data, mtime)
        self.storage.layer_link(name, config_digest)
        for number, layer in enumerate(ordinary):
            self.storage.sparse(layer["digest"], layer["size"], mtime - 100 + number)
            self.storage.layer_link(name, layer["digest"])
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
                "size": len(config_data),
                "digest": config_digest,
            },
            "layers": layers,
        }
        data = json.dumps(manifest, indent=2).encode() if oci else docker_json(manifest)
        digest = self.storage.manifest(name, data, mtime + 1)
        return Built(data, manifest["mediaType"], digest)

    def linux(self, name: str, serial: int) -> str:
        kind = serial % 3
        if kind == 0:  # BuildKit's image exporter: OCI manifest as the fixture has it
            built = self._image(
                name, serial, 0, self.llb_config, self.llb_manifest["layers"], oci=True
            )
            return built.digest
        config = self.httpd if kind == 1 else self.commit
        layers = [
            {
                "mediaType": DOCKER_LAYER,
                "size": 32 + (number * 104_729) % 60_000_000,
                "digest": fake_digest("base", diff_id),
            }
            for number, diff_id in enumerate(config["rootfs"]["diff_ids"])
        ]
        return self._image(name, serial, 0, config, layers, oci=False).digest

    def windows(self, name: str, serial: int) -> str:
        return self._image(
            name, serial, 0, self.win_config, self.win_manifest["layers"], oci=False
        ).digest

    def multi_platform(self, name: str, serial: int) -> str:
        if serial % 2:
            return self._windows_list(name, serial)
        return self._buildkit_index(name, serial)

    def _windows_list(self, name: str, serial: int) -> str:
        entries = []
        for part, (entry, manifest, config) in enumerate(self.sample):
            built = self._image(name, serial, part, config, manifest["layers"], oci=False)
            entries.append(
                {
                    "mediaType": DOCKER_MANIFEST,
                    "size": len(built.data),
                    "digest": built.digest,
                    "platform": entry["platform"],
                }
            )
        listing = {"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": entries}
        return self.storage.manifest(name, docker_json(listing), T0 + serial * 10 + 9)

    def _buildkit_index(self, name: str, serial: int) -> str:
        images, attestations = [], []
        for part, (entry, manifest, config) in enumerate(self.multi):
            built = self._image(name, serial, part, config, manifest["layers"], oci=True)
            images.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": built.digest,
                    "size": len(built.data),
                    "platform": entry["platform"],
                }
            )
            attestations.append(self._attestation(name, serial, part, built.digest))
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": images + attestations}
        return self.storage.manifest(
            name, json.dumps(index, indent=2).encode(), T0 + serial * 10 + 9
        )

    def _attestation(self, name: str, serial: int, part: int, subject: str) -> dict[str, Any]:
        """BuildKit's attestation manifest for one platform: SBOM-less provenance, in-toto."""
        statement = compact(
            {
                "_type": "https://in-toto.io/Statement/v0.1",
                "predicateType": "https://slsa.dev/provenance/v0.2",
                "subject": [{"name": f"pkg:docker/{name}", "digest": {"sha256": subject[7:]}}],
                "predicate": {
                    "builder": {"id": ""},
                    "buildType": "https://mobyproject.org/buildkit@v1",
                },
            }
        )
        mtime = T0 + serial * 10 + part + 5
        statement_digest = self.storage.blob(statement, mtime)
        self.storage.layer_link(name, statement_digest)
        config = compact(
            {
                "architecture": "unknown",
                "os": "unknown",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [statement_digest]},
            }
        )
        config_digest = self.storage.blob(config, mtime)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [
                {
                    "mediaType": IN_TOTO,
                    "digest": statement_digest,
                    "size": len(statement),
                    "annotations": {
                        "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"
                    },
                }
            ],
        }
        data = json.dumps(manifest, indent=2).encode()
        digest = self.storage.manifest(name, data, mtime + 1)
        return {
            "mediaType": OCI_MANIFEST,
            "digest": digest,
            "size": len(data),
            "annotations": {
                "vnd.docker.reference.digest": subject,
                "vnd.docker.reference.type": "attestation-manifest",
            },
            "platform": {"architecture": "unknown", "os": "unknown"},
        }


SHAPES = ("linux", "linux", "linux", "windows", "multi")  # 60 % / 20 % / 20 %


def repository(number: int) -> str:
    """Official-image style names, some namespaced and nested, as a private registry holds."""
    if number % 5 == 0:
        return f"library/app{number}"
    if number % 5 == 1:
        return f"team{number % 7}/service{number}"
    if number % 5 == 2:
        return f"platform/tools/tool{number}"
    return f"app{number}"


def tag_name(serial: int, shape: str) -> str:
    suffix = {"linux": "", "windows": "-windowsservercore", "multi": "-multi"}[shape]
    return f"1.{serial // 10}.{serial % 10}{suffix}"


def generate(root: Path, images: int, per_repo: int) -> dict[str, int]:
    if not FIXTURES.is_dir() or not SAMPLE.is_dir():
        raise SystemExit(f"need {FIXTURES} and {SAMPLE} to derive images from")
    storage = Storage(root)
    generator = Generator(storage)
    shapes = {"linux": 0, "windows": 0, "multi": 0}
    for serial in range(images):
        name = repository(serial // per_repo)
        shape = SHAPES[serial % len(SHAPES)]
        if shape == "linux":
            digest = generator.linux(name, serial)
        elif shape == "windows":
            digest = generator.windows(name, serial)
        else:
            digest = generator.multi_platform(name, serial)
        storage.tag(name, tag_name(serial, shape), digest)
        shapes[shape] += 1
    return {"tags": images, "manifests": storage.manifests, "blobs": len(storage.written), **shapes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the storage root to create (must not exist)")
    parser.add_argument("--images", type=int, default=10_000, help="tags to push (default 10000)")
    parser.add_argument("--per-repo", type=int, default=40, help="tags per repository")
    args = parser.parse_args()
    if args.root.exists():
        raise SystemExit(f"{args.root} exists; give a new path")
    counts = generate(args.root, args.images, args.per_repo)
    print(json.dumps(counts, sort_keys=True))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
