"""repo-info shapes the sample does not have, from layouts written here from the documented facts:
a BuildKit OCI index with attestation entries, a lone manifest, an entry whose blobs are absent.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.support.clirun import run

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class Layout:
    def __init__(self, root: Path):
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def blob(self, value) -> dict:
        data = json.dumps(value).encode()
        digest = hashlib.sha256(data).hexdigest()
        (self.root / "blobs" / "sha256" / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    def top(self, descriptor: dict, ref_name: str) -> None:
        descriptor = dict(descriptor, annotations={"org.opencontainers.image.ref.name": ref_name})
        (self.root / "index.json").write_text(
            json.dumps({"schemaVersion": 2, "manifests": [descriptor]})
        )


def _image(layout: Layout, history, layer_sizes, cmd=("sh",)):
    config = layout.blob(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": list(cmd)} if cmd else {},
            "rootfs": {
                "type": "layers",
                "diff_ids": [f"sha256:{i:064x}" for i in range(len(layer_sizes))],
            },
            "history": history,
        }
    )
    layers = [
        {
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": f"sha256:{i + 100:064x}",
            "size": size,
        }
        for i, size in enumerate(layer_sizes)
    ]
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"),
        "layers": layers,
    }
    return dict(layout.blob(manifest), mediaType=OCI_MANIFEST)


def _attestation(layout: Layout, subject: str):
    config = layout.blob(
        {
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"),
        "layers": [
            {
                "mediaType": "application/vnd.in-toto+json",
                "digest": "sha256:" + "9" * 64,
                "size": 2026,
            }
        ],
    }
    return dict(
        layout.blob(manifest),
        mediaType=OCI_MANIFEST,
        platform={"architecture": "unknown", "os": "unknown"},
        annotations={
            "vnd.docker.reference.digest": subject,
            "vnd.docker.reference.type": "attestation-manifest",
        },
    )


def test_buildkit_index_with_attestations(tmp_path):
    layout = Layout(tmp_path / "busybox")
    history = [
        {
            "created": "2026-05-13T02:21:49Z",
            "created_by": "BusyBox 1.38.0 (uclibc), Buildroot 2026.05.1, Debian 13",
        }
    ]
    image = dict(
        _image(layout, history, [773906]), platform={"architecture": "amd64", "os": "linux"}
    )
    index = layout.blob(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [image, _attestation(layout, image["digest"])],
        }
    )
    layout.top(dict(index, mediaType=OCI_INDEX), "uclibc")
    text = run("show", layout.root, "--name", "busybox:uclibc").out
    assert (
        "-\tManifest MIME: `application/vnd.oci.image.index.v1+json`\n-\tPlatforms: 2\n\t-\tlinux; amd64\n\t-\tunknown; unknown\n"
        in text
    )
    attestation = text.split("### `busybox:uclibc` - unknown; unknown\n", 1)[1]
    assert "Docker Version" not in attestation and "Default Command" not in attestation
    assert "```dockerfile\n```\n" in attestation
    assert attestation.endswith(
        "\t\tSize: 2.0 KB (2026 bytes)  \n\t\tMIME: application/vnd.in-toto+json\n"
    )
    assert "Warnings" not in text  # an attestation with no history is normal
    assert (
        "# Wed, 13 May 2026 02:21:49 GMT\nRUN BusyBox 1.38.0 (uclibc), Buildroot 2026.05.1, Debian 13\n"
        in text
    )
    # per-image Manifest MIME is the schema 2 type even for OCI manifests (the generator's quirk)
    assert (
        text.count("-\tManifest MIME: `application/vnd.docker.distribution.manifest.v2+json`") == 2
    )
    older = run("show", layout.root, "--name", "busybox:uclibc", "--era", "2023").out
    assert "unknown; unknown" not in older and "-\tPlatforms: 1\n" in older


def test_lone_manifest_has_no_top_mime_and_no_section_pull(tmp_path):
    layout = Layout(tmp_path / "single")
    history = [
        {
            "created": "2016-08-30T20:05:16Z",
            "created_by": "/bin/sh -c #(nop) ADD file:" + "a" * 64 + " in / ",
        },
        {
            "created": "2016-08-30T20:05:17Z",
            "created_by": '/bin/sh -c #(nop)  CMD ["/bin/sh"]',
            "empty_layer": True,
        },
    ]
    manifest = _image(layout, history, [1001000], cmd=("/bin/sh",))
    layout.top(manifest, "latest")
    text = run("show", layout.root, "--name", "library/alpine:latest").out
    lines = text.splitlines()
    assert lines[:7] == [
        "## `alpine:latest`",
        "",
        "```console",
        f"$ docker pull alpine@{manifest['digest']}",
        "```",
        "",
        "-\tPlatforms: 1",
    ]
    assert "\t-\tlinux; amd64" in lines
    section = text.split("### `alpine:latest` - linux; amd64\n", 1)[1]
    assert "docker pull" not in section
    assert '-\tDefault Command: `["\\/bin\\/sh"]`' in section
    assert (
        "-\tTotal Size: **1.0 MB (1001000 bytes)**  \n\t(compressed transfer size, not on-disk size)\n"
        in section
    )
    assert 'CMD ["/bin/sh"]\n```' in section


def test_absent_entry_is_listed_and_said(tmp_path):
    layout = Layout(tmp_path / "partial")
    history = [{"created": "2020-01-01T00:00:00Z", "created_by": "/bin/sh -c true"}]
    present = dict(_image(layout, history, [10]), platform={"architecture": "amd64", "os": "linux"})
    absent = {
        "mediaType": OCI_MANIFEST,
        "digest": "sha256:" + "7" * 64,
        "size": 500,
        "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
    }
    index = layout.blob(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [present, absent]}
    )
    layout.top(dict(index, mediaType=OCI_INDEX), "1")
    result = run("show", layout.root, "--name", "x:1")
    assert result.code == 0, result.err
    assert "\t-\tlinux; arm64 variant v8\n" in result.out
    assert "-\tNot present in this source: only its index entry is." in result.out
    assert f"\t-\tsha256:{'7' * 64} is listed but not present in this source" in result.out
    document = json.loads(run("show", layout.root, "--format", "json").out)
    assert [e["present"] for e in document["root"]["entries"]] == [True, False]


def test_count_mismatch_is_reported_in_every_format(tmp_path):
    layout = Layout(tmp_path / "odd")
    history = [{"created_by": "/bin/sh -c a"}, {"created_by": "/bin/sh -c b"}]
    layout.top(_image(layout, history, [10]), "1")
    message = "history has 2 non-empty steps but rootfs has 1 layers"
    for fmt in ("repo-info", "dockerfile", "json", "table"):
        result = run("show", layout.root, "--format", fmt)
        assert result.code == 0 and message in result.out, fmt
