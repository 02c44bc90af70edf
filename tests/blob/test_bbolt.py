"""The bbolt reader (reconstruct/blob/bbolt.py) on a real containerd's meta.db, read while that
containerd runs and holds the file's lock, and on damaged or hostile files."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import tarfile
import time

import pytest

from reconstruct.blob.bbolt import BoltDB, BoltError, Bucket
from reconstruct.blob.digests import sha256_digest
from tests.plugins.engines.containerd import containerd_config
from tests.support.hostile import tar_bytes
from tests.support.needs import need_tools

NAME = "docker.io/library/hello:1"


def _oci_archive() -> tuple[bytes, str]:
    """A one-layer OCI archive named NAME, and its manifest's digest."""
    layer_tar = tar_bytes([("hello.txt", b"hi\n")], format=tarfile.PAX_FORMAT)
    layer = gzip.compress(layer_tar, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer_tar)]},
            "history": [{"created": "2021-01-01T00:00:00Z", "created_by": "COPY hello.txt /"}],
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256_digest(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": sha256_digest(manifest),
                "size": len(manifest),
                "annotations": {"io.containerd.image.name": NAME},
            }
        ],
    }
    files = {
        "oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
        "index.json": json.dumps(index).encode(),
    }
    for blob in (layer, config, manifest):
        files["blobs/sha256/" + sha256_digest(blob).removeprefix("sha256:")] = blob
    return tar_bytes(list(files.items()), format=tarfile.PAX_FORMAT), sha256_digest(manifest)


@pytest.fixture(scope="module")
def running_containerd(tmp_path_factory):
    """A containerd on a private root and socket (no CRI), with the archive imported into the
    `k8s.io` and `default` namespaces; it runs until the module's tests are done."""
    if os.geteuid() != 0:
        pytest.skip("containerd needs root")
    need_tools("containerd", "ctr")
    folder = tmp_path_factory.mktemp("ctd")
    config, socket = containerd_config(folder)
    archive, digest = _oci_archive()
    (folder / "hello.tar").write_bytes(archive)
    log = (folder / "log").open("wb")
    process = subprocess.Popen(
        ["containerd", "--config", str(config)],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        for namespace in ("k8s.io", "default"):
            subprocess.run(
                ["ctr", "-a", str(socket), "-n", namespace, "images", "import", "--no-unpack",
                 str(folder / "hello.tar")],
                check=True,
                capture_output=True,
                timeout=60,
            )  # fmt: skip
        yield folder / "root" / "io.containerd.metadata.v1.bolt" / "meta.db", digest, process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_a_running_containerd_s_images_are_read_without_its_lock(running_containerd):
    meta_db, digest, process = running_containerd
    assert process.poll() is None  # it runs, and holds bbolt's flock on meta.db
    db = BoltDB(meta_db.read_bytes())
    assert db.root.bucket(b"v1").get(b"version") == b"\x06"  # containerd's schema version
    for namespace in (b"k8s.io", b"default"):
        images = db.root.bucket(b"v1", namespace, b"images")
        assert images is not None
        target = images.bucket(NAME.encode(), b"target")
        assert target is not None
        values = target.values()
        assert values[b"digest"] == digest.encode()
        assert values[b"mediatype"] == b"application/vnd.oci.image.manifest.v1+json"
        blobs = dict(db.root.bucket(b"v1", namespace, b"content", b"blob").buckets())
        assert digest.encode() in blobs  # the content store's record of the manifest


def test_the_newest_valid_meta_page_wins(running_containerd):
    """bbolt writes two meta pages in turn: a damaged newest one falls back to the other."""
    data = bytearray(running_containerd[0].read_bytes())
    db = BoltDB(bytes(data))
    page = db.meta.page_size if db.meta.txid % 2 else 0  # txid n lives on page n % 2
    data[page + 16 + 60] ^= 0xFF  # its checksum
    older = BoltDB(bytes(data))
    assert older.meta.txid == db.meta.txid - 1


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda data: b"", "no valid bbolt meta page"),
        (lambda data: b"\0" * 8192, "no valid bbolt meta page"),
        (lambda data: data[: len(data) // 4], "no valid bbolt meta page"),  # pages missing
    ],
    ids=["empty", "zeros", "cut-off"],
)
def test_a_damaged_file_is_one_line(running_containerd, damage, words):
    data = damage(running_containerd[0].read_bytes())
    with pytest.raises(BoltError) as caught:
        db = BoltDB(data)
        _walk(db.root)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def _walk(bucket: Bucket) -> int:
    count = 0
    for _, value in bucket.items():
        count += 1
        if isinstance(value, Bucket):
            count += _walk(value)
    return count


def test_a_page_that_points_back_at_itself_is_refused(running_containerd):
    """A branch page whose child is itself: refused, not followed for ever."""
    data = bytearray(running_containerd[0].read_bytes())
    db = BoltDB(bytes(data))
    size = db.meta.page_size
    root = db.meta.root
    # make the root page a branch of one element that names the root page again
    offset = root * size
    data[offset + 8 : offset + 12] = (0x01).to_bytes(2, "little") + (1).to_bytes(2, "little")
    data[offset + 16 : offset + 32] = (
        (16).to_bytes(4, "little") + (0).to_bytes(4, "little") + root.to_bytes(8, "little")
    )
    with pytest.raises(BoltError, match="reached twice"):
        _walk(BoltDB(bytes(data)).root)


def test_a_page_beyond_the_file_is_refused(running_containerd):
    data = bytearray(running_containerd[0].read_bytes())
    db = BoltDB(bytes(data))
    offset = db.meta.root * db.meta.page_size
    far = (len(data) // db.meta.page_size + 1000).to_bytes(8, "little")
    data[offset + 8 : offset + 12] = (0x01).to_bytes(2, "little") + (1).to_bytes(2, "little")
    data[offset + 16 : offset + 32] = (16).to_bytes(4, "little") + bytes(4) + far
    with pytest.raises(BoltError, match="outside the file"):
        _walk(BoltDB(bytes(data)).root)
