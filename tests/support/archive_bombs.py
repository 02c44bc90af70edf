"""Archives that claim, or make a reader do, far more than their size (issue 13), written
without holding them whole: tar headers and pax records built by hand, big streams written in
chunks, repetitive gzip written as one compressed member repeated (a valid multi-member gzip,
as pigz writes).

Run by hand to look at them: `python -m tests.support.archive_bombs /tmp/bombs`.
"""

from __future__ import annotations

import gzip
import json
import sys
import tarfile
import zlib
from pathlib import Path

from reconstruct.blob.digests import sha256_digest
from tests.support.hostile import CONFIG, good_archive, tar_bytes

BLOCK = 512
END = bytes(2 * BLOCK)


def header(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE) -> bytes:
    """One 512-byte header block."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.mtime = 1
    return info.tobuf(format=tarfile.USTAR_FORMAT if len(name) <= 100 else tarfile.GNU_FORMAT)


def padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def member(name: str, data: bytes = b"") -> bytes:
    return header(name, len(data)) + padded(data)


def record(key: str, value: str) -> bytes:
    """One pax record, `<length> <key>=<value>\\n`, its length counting itself."""
    body = f" {key}={value}\n".encode()
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return str(length).encode() + body


def records_of_size(size: int, count: int, key: str = "comment") -> bytes:
    """`count` records of one key whose data is exactly `size` bytes (size ≥ 16·count)."""
    records = []
    left = size
    for number in range(count, 0, -1):
        share = left // number
        value = "a" * (share - len(key) - 3 - len(str(share)))
        one = record(key, value)
        while len(one) < share:  # the length field's width may have shifted by a digit
            value += "a"
            one = record(key, value)
        while len(one) > share:
            value = value[:-1]
            one = record(key, value)
        records.append(one)
        left -= len(one)
    data = b"".join(records)
    assert len(data) == size, (len(data), size)
    return data


def extended(data: bytes, kind: bytes = tarfile.XHDTYPE) -> bytes:
    """A pax (`x`, `g`) or GNU long-name (`L`, `K`) header with its data."""
    names = {tarfile.XHDTYPE: "././@PaxHeader", tarfile.XGLTYPE: "././@GlobalHead"}
    return header(names.get(kind, "././@LongLink"), len(data), kind) + padded(data)


def many_keys(count: int) -> bytes:
    """A pax header of `count` distinct keys."""
    return b"".join(record(f"k{number}", "v") for number in range(count))


def pax_before_archive(records: bytes) -> bytes:
    """A pax header applying to the first member of a good archive (keys nobody reads)."""
    return extended(records) + good_archive()


def write_gzip_repeated(path: Path, piece: bytes, times: int, tail: bytes = END) -> Path:
    """`piece` repeated `times` then `tail`, gzipped: `piece` is compressed once and its gzip
    member repeated, so that writing costs a compression of `piece`, not of the whole."""
    compressed = gzip.compress(piece, compresslevel=9, mtime=0)
    with path.open("wb") as out:
        for _ in range(times):
            out.write(compressed)
        out.write(gzip.compress(tail, mtime=0))
    return path


def write_same_name_members(path: Path, count: int, compress: bool) -> Path:
    """`count` empty members all named `x`, then the end marker; plain or one gzip stream."""
    chunk_count = 8192
    chunk = header("x") * chunk_count
    with path.open("wb") as out:
        deflate = zlib.compressobj(1, zlib.DEFLATED, 31) if compress else None
        left = count
        while left > 0:
            piece = chunk if left >= chunk_count else header("x") * left
            left -= chunk_count
            out.write(deflate.compress(piece) if deflate else piece)
        out.write(deflate.compress(END) + deflate.flush() if deflate else END)
    return path


def docker25_archive(uncovered: int, with_manifests: int = 0) -> bytes:
    """A Docker ≥ 25 save: an OCI layout whose index names one image, and a manifest.json that
    also lists `uncovered` images the index does not reach (their configs are blobs; the first
    `with_manifests` of them have an OCI manifest among the blobs too)."""
    members: list[tuple[str, bytes]] = []
    entries = []

    def config(number: int) -> bytes:
        return json.dumps(dict(CONFIG, config={"Cmd": ["sh", "-c", str(number)]})).encode()

    def manifest_of(data: bytes) -> bytes:
        document = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256_digest(data),
                "size": len(data),
            },
            "layers": [],
        }
        return json.dumps(document).encode()

    def blob(data: bytes) -> str:
        name = "blobs/sha256/" + sha256_digest(data).split(":")[1]
        members.append((name, data))
        return name

    indexed = config(10**6)
    blob(indexed)
    indexed_manifest = manifest_of(indexed)
    blob(indexed_manifest)
    entries.append({"Config": blob(indexed), "RepoTags": ["indexed/image:1"], "Layers": []})
    for number in range(uncovered):
        data = config(number)
        name = blob(data)
        if number < with_manifests:
            blob(manifest_of(data))
        entries.append({"Config": name, "RepoTags": [f"loose/image:{number}"], "Layers": []})
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": sha256_digest(indexed_manifest),
                "size": len(indexed_manifest),
                "annotations": {"io.containerd.image.name": "docker.io/indexed/image:1"},
            }
        ],
    }
    unique = dict(members)  # a blob named twice is one member
    return tar_bytes(
        [
            ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
            ("index.json", json.dumps(index).encode()),
            *unique.items(),
            ("manifest.json", json.dumps(entries).encode()),
        ]
    )


def build(folder: Path) -> dict[str, Path]:
    """The end-to-end cases, written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, Path] = {}
    cases["pax-100k-keys"] = folder / "pax-100k-keys.tar"
    cases["pax-100k-keys"].write_bytes(pax_before_archive(many_keys(100_000)))
    globals_piece = extended(records_of_size(1024 * 1024 - 512, 1000), tarfile.XGLTYPE) + member(
        "x"
    )
    cases["pax-1000-globals"] = write_gzip_repeated(
        folder / "pax-1000-globals.tar.gz", globals_piece, 1000
    )
    cases["4m-same-name"] = write_gzip_repeated(
        folder / "4m-same-name.tar.gz", header("x") * 8192, 4_000_000 // 8192
    )
    cases["250k-same-name"] = write_same_name_members(
        folder / "250k-same-name.tar", 250_000, compress=False
    )
    cases["docker25-3000-uncovered"] = folder / "docker25-3000-uncovered.tar"
    cases["docker25-3000-uncovered"].write_bytes(docker25_archive(3000, with_manifests=1500))
    return cases


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "archive-bombs")
    for case, path in build(target).items():
        print(f"{case}\t{path}\t{path.stat().st_size}")
