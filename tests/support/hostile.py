"""A corpus of broken and hostile inputs, generated on demand (issue 8).

`build(folder)` writes every case into `folder` and returns {case name: source spec}. Cases are
small on disk (sparse files stand in for huge members) and deterministic. Run it by hand to look
at them: `python -m tests.support.hostile /tmp/hostile`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

CONFIG = {
    "architecture": "amd64",
    "os": "linux",
    "created": "2020-01-01T00:00:00Z",
    "config": {"Cmd": ["sh"]},
    "rootfs": {"type": "layers", "diff_ids": []},
    "history": [
        {
            "created": "2020-01-01T00:00:00Z",
            "created_by": '/bin/sh -c #(nop)  CMD ["sh"]',
            "empty_layer": True,
        }
    ],
}


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_bytes(
    members: list[tuple[str, bytes]],
    extra: Callable[[tarfile.TarFile], None] | None = None,
    format: int = tarfile.GNU_FORMAT,
) -> bytes:
    """A tar of (name, data) members, mtime 1; `extra` adds what members cannot say."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=format) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1
            tar.addfile(info, io.BytesIO(data))
        if extra:
            extra(tar)
    return buffer.getvalue()


def _legacy_archive(
    config: dict | bytes, layers: list[bytes], manifest_extra: dict | None = None
) -> bytes:
    config_bytes = config if isinstance(config, bytes) else json.dumps(config).encode()
    config_name = _digest(config_bytes).split(":")[1] + ".json"
    members = [(config_name, config_bytes)]
    layer_names = []
    for number, layer in enumerate(layers):
        name = f"layer{number}/layer.tar"
        layer_names.append(name)
        members.append((name, layer))
    manifest = [
        {
            "Config": config_name,
            "RepoTags": ["hostile/test:1"],
            "Layers": layer_names,
            **(manifest_extra or {}),
        }
    ]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    return tar_bytes(members)


def _layertar_bytes() -> bytes:
    return tar_bytes([("etc/hello", b"hello\n")])


def good_archive() -> bytes:
    layer = _layertar_bytes()
    config = dict(CONFIG, rootfs={"type": "layers", "diff_ids": [_digest(layer)]})
    config["history"] = [
        *CONFIG["history"],
        {"created": "2020-01-01T00:00:01Z", "created_by": "/bin/sh -c echo hi"},
    ]
    return _legacy_archive(config, [layer])


def write_layout(folder: Path, index: dict | bytes, blobs: dict[str, bytes]) -> Path:
    (folder / "blobs" / "sha256").mkdir(parents=True)
    (folder / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (folder / "index.json").write_bytes(
        index if isinstance(index, bytes) else json.dumps(index).encode()
    )
    for name, data in blobs.items():
        (folder / "blobs" / "sha256" / name).write_bytes(data)
    return folder


def _json_cases() -> dict[str, bytes]:
    deep = b"[" * 200_000 + b"]" * 200_000
    deep_object = b'{"history":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    odd_types = {
        "architecture": 5,
        "os": ["x"],
        "config": "nope",
        "rootfs": {"diff_ids": [1, None, {}]},
        "history": [None, 3, "x", {"created_by": 7, "created": 12, "empty_layer": "yes"}],
    }
    nul_utf8 = json.dumps(
        dict(
            CONFIG,
            history=[
                {
                    "created_by": "/bin/sh -c echo \u0000 \udc80 \ud800 done",
                    "created": "2020-01-01T00:00:00Z",
                }
            ],
        )
    ).encode()
    dates = dict(
        CONFIG,
        history=[
            {"created": d, "created_by": "x"}
            for d in (
                "99999-01-01T00:00:00Z",
                "-0001-01-01T00:00:00Z",
                "0000-00-00T00:00:00Z",
                "2020-02-30T25:61:61Z",
                "9" * 400,
                "",
            )
        ],
    )
    sizes_manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "x", "digest": "sha256:" + "0" * 64, "size": -5},
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + "1" * 64,
                "size": -1,
            },
            {"mediaType": "x", "digest": "sha256:" + "2" * 64, "size": 10**30},
            {"digest": "../../etc/passwd", "size": 1},
        ],
    }
    wrong_type = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "config": {"digest": "sha256:" + "0" * 64},
        "layers": [],
    }
    mismatch = dict(
        CONFIG,
        rootfs={"type": "layers", "diff_ids": ["sha256:" + "a" * 64] * 3},
        history=[{"created_by": "/bin/sh -c a"}],
    )
    return {
        "json-empty": b"",
        "json-brace": b"{",
        "json-truncated": json.dumps(CONFIG).encode()[:40],
        "json-null": b"null",
        "json-array": b"[]",
        "json-string": b'"config"',
        "json-deep-array": deep,
        "json-deep-history": deep_object,
        "json-odd-types": json.dumps(odd_types).encode(),
        "json-nul-invalid-utf8": nul_utf8,
        "json-raw-invalid-utf8": b'{"history": [{"created_by": "\xff\xfe bad"}], "rootfs": {}}',
        "json-dates-out-of-range": json.dumps(dates).encode(),
        "json-negative-enormous-sizes": json.dumps(sizes_manifest).encode(),
        "json-wrong-media-type": json.dumps(wrong_type).encode(),
        "json-history-diffid-mismatch": json.dumps(mismatch).encode(),
        # found by the fuzzer in CI: an unhashable mediaType
        "json-media-type-list": b'{"mediaType": [], "manifests": 5, "config": []}',
        "json-huge-string": b'{"history": [{"created_by": "' + b"A" * (20 * 1024 * 1024) + b'"}]}',
    }


def build(folder: Path) -> dict[str, str]:
    """Write every case; return {name: what to pass to `reconstruct show`}."""
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, str] = {}

    def put(name: str, data: bytes, suffix: str = "") -> None:
        path = folder / (name + suffix)
        path.write_bytes(data)
        cases[name] = str(path)

    for name, data in _json_cases().items():
        put(name, data, ".json")
        cases[name] = f"json:{folder / (name + '.json')}"

    good = good_archive()
    offsets = sorted(
        {
            0,
            1,
            2,
            100,
            257,
            511,
            512,
            513,
            1023,
            1024,
            1536,
            2048,
            4096,
            len(good) // 3,
            len(good) // 2,
            len(good) - 1025,
            len(good) - 1024,
            len(good) - 513,
            len(good) - 512,
            len(good) - 1,
        }
    )
    for offset in offsets:
        put(f"tar-truncated-at-{offset}", good[:offset], ".tar")
    compressed = gzip.compress(good, mtime=0)
    put("gzip-truncated", compressed[: len(compressed) // 2], ".tar.gz")
    flipped = bytearray(compressed)
    flipped[len(flipped) // 2] ^= 0xFF
    put("gzip-corrupt", bytes(flipped), ".tar.gz")
    put("gzip-garbage-after", compressed + b"garbage!" * 10, ".tar.gz")
    put(
        "zstd-corrupt",
        b"\x28\xb5\x2f\xfd" + os.urandom(0) + b"\x00" * 16 + b"not zstd at all",
        ".tar.zst",
    )
    put("xz-corrupt", b"\xfd7zXZ\x00" + b"\x01" * 40, ".tar.xz")
    put("not-a-tar", b"hello, this is plain text and not an archive\n" * 20, ".tar")

    put(
        "archive-dotdot-names",
        tar_bytes(
            [
                ("../../etc/passwd", b"x"),
                ("/etc/shadow", b"y"),
                (
                    "manifest.json",
                    b'[{"Config": "../../etc/passwd", "RepoTags": [], "Layers": ["/etc/shadow"]}]',
                ),
            ]
        ),
        ".tar",
    )

    def outward_links(tar: tarfile.TarFile) -> None:
        for name, target in (("layer0", "/etc"), ("evil.json", "../../../etc/passwd")):
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)

    put(
        "archive-symlinks-outside",
        tar_bytes(
            [
                (
                    "manifest.json",
                    b'[{"Config": "evil.json", "RepoTags": ["x:1"], "Layers": ["layer0/layer.tar"]}]',
                )
            ],
            outward_links,
        ),
        ".tar",
    )
    put(
        "archive-missing-members",
        tar_bytes(
            [
                (
                    "manifest.json",
                    b'[{"Config": "nothere.json", "RepoTags": ["x:1"], "Layers": ["gone/layer.tar"]}]',
                )
            ]
        ),
        ".tar",
    )
    put("archive-manifest-not-json", tar_bytes([("manifest.json", b"\x00\x01\x02 nope")]), ".tar")
    put("archive-empty-manifest", tar_bytes([("manifest.json", b"[]")]), ".tar")
    put(
        "archive-history-mismatch",
        _legacy_archive(
            dict(
                CONFIG,
                rootfs={"type": "layers", "diff_ids": []},
                history=[{"created_by": "/bin/sh -c a"}, {"created_by": "/bin/sh -c b"}],
            ),
            [_layertar_bytes(), _layertar_bytes()],
        ),
        ".tar",
    )
    put(
        "archive-nul-created-by",
        _legacy_archive(
            json.dumps(dict(CONFIG, history=[{"created_by": "a\u0000b\udc80"}])).encode(), []
        ),
        ".tar",
    )

    # A 1 GB metadata member: a real tar header, then a sparse file as long as the header says.
    big = folder / "archive-1gb-manifest.tar"
    header = tarfile.TarInfo("manifest.json")
    header.size = 1 << 30
    with big.open("wb") as handle:
        handle.write(header.tobuf(format=tarfile.GNU_FORMAT))
        handle.truncate(512 + (1 << 30) + 1024)
    cases["archive-1gb-manifest"] = str(big)

    # Decompression bomb: 1 GiB of zeros inside a member, about 1 MB gzip-compressed.
    bomb = folder / "gzip-bomb.tar.gz"
    with gzip.GzipFile(bomb, "wb", compresslevel=6, mtime=0) as out:
        info = tarfile.TarInfo("manifest.json")
        info.size = 1 << 30
        out.write(info.tobuf(format=tarfile.GNU_FORMAT))
        zeros = b"\x00" * (1 << 20)
        for _ in range(1 << 10):
            out.write(zeros)
        out.write(b"\x00" * 1024)
    cases["gzip-bomb"] = str(bomb)

    config_bytes = json.dumps(CONFIG).encode()
    config_digest = _digest(config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config_bytes),
        },
        "layers": [],
    }
    manifest_bytes = json.dumps(manifest).encode()
    manifest_digest = _digest(manifest_bytes)
    blobs = {
        config_digest.split(":")[1]: config_bytes,
        manifest_digest.split(":")[1]: manifest_bytes,
    }

    # An index that names itself: the blob file is named by the digest it refers to.
    loop_name = "a" * 64
    loop = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": f"sha256:{loop_name}",
                "size": 10,
            }
        ],
    }
    cases["layout-index-loop"] = str(
        write_layout(
            folder / "layout-index-loop",
            {
                "schemaVersion": 2,
                "manifests": [
                    {"mediaType": loop["mediaType"], "digest": f"sha256:{loop_name}", "size": 1}
                ],
            },
            {loop_name: json.dumps(loop).encode()},
        )
    )

    chain: dict[str, bytes] = dict(blobs)
    child = {
        "mediaType": manifest["mediaType"],
        "digest": manifest_digest,
        "size": len(manifest_bytes),
    }
    for _ in range(50):
        data = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [child],
            }
        ).encode()
        chain[_digest(data).split(":")[1]] = data
        child = {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": _digest(data),
            "size": len(data),
        }
    cases["layout-index-too-deep"] = str(
        write_layout(
            folder / "layout-index-too-deep", {"schemaVersion": 2, "manifests": [child]}, chain
        )
    )

    outside = write_layout(
        folder / "layout-blob-symlink-outside",
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": manifest["mediaType"],
                    "digest": manifest_digest,
                    "size": len(manifest_bytes),
                }
            ],
        },
        {config_digest.split(":")[1]: config_bytes},
    )
    (outside / "blobs" / "sha256" / manifest_digest.split(":")[1]).symlink_to("/etc/passwd")
    cases["layout-blob-symlink-outside"] = str(outside)
    cases["layout-dotdot-digest"] = str(
        write_layout(
            folder / "layout-dotdot-digest",
            {
                "schemaVersion": 2,
                "manifests": [{"digest": "sha256:../../../../etc/passwd", "size": 1}],
            },
            {},
        )
    )
    cases["layout-index-not-json"] = str(
        write_layout(folder / "layout-index-not-json", b"\x00garbage", {})
    )
    cases["layout-missing-blobs"] = str(
        write_layout(
            folder / "layout-missing-blobs", {"schemaVersion": 2, "manifests": [child]}, {}
        )
    )
    cases["layout-wrong-media-types"] = str(
        write_layout(
            folder / "layout-wrong-media-types",
            {
                "schemaVersion": 2,
                "manifests": [{"mediaType": "text/plain", "digest": config_digest, "size": 3}],
            },
            blobs,
        )
    )

    put("repo-info-header-only", b"## `x:1`\n", ".md")
    put(
        "repo-info-garbage-sections",
        b"## `x:1`\n\n### nonsense\n```dockerfile\n# not a date\nRUN x\n",
        ".md",
    )
    put(
        "repo-info-bad-json",
        b"## `x:1`\n\n-\tPlatforms: 1\n\t-\tlinux; amd64\n\n### `x:1` - linux; amd64\n\n-\tDefault Command: `[unclosed`\n",
        ".md",
    )
    put("repo-info-nul", b"## `x:1`\n\x00\x00\xff\xfe", ".md")
    put("dockerfile-unclosed-heredoc", b"FROM x\nRUN <<EOF\necho never closed\n", ".Dockerfile")
    put("dockerfile-no-from", b"RUN echo hi\n", ".Dockerfile")
    put("dockerfile-binary", b"FROM \x00\xff\xfe\n", ".Dockerfile")
    return cases


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-inputs")
    for case, spec in build(target).items():
        print(f"{case}\t{spec}")
