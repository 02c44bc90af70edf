"""Archives whose work is bounded by their real size, not by what they claim (issue 13): the
bounds of blob/tarformat.py exercised just below and just above each, in-process; the bombs of
tests/support/archive_bombs.py run end to end under time and memory limits; a stdin that never
ends after a valid archive; zstd skippable and cut-off frames; a Docker ≥ 25 save whose
manifest.json lists thousands of images its index does not."""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from reconstruct.blob import tarformat
from reconstruct.blob.compression import compression_of, inflate_chunks, pusher
from reconstruct.blob.digests import sha256_digest
from reconstruct.blob.tar import TarIndex
from reconstruct.errors import SourceError
from reconstruct.sources.dockerarchive import MAX_MANIFEST_ENTRIES
from reconstruct.verify.digest import Digester
from tests.support import archive_bombs as bombs
from tests.support.hostile import CONFIG, tar_bytes
from tests.support.limits import Limited, assert_clean, run_limited, run_piped

TIMEOUT = 60
GOOD = bombs.good_archive()
ZEROS = bytes(64 * 1024)


def skippable(data: bytes, magic: int = 0x184D2A50) -> bytes:
    return magic.to_bytes(4, "little") + len(data).to_bytes(4, "little") + data


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_checksum=True).compress(data)


# --- in-process: each bound just below and just above --------------------------------------


def scan(data: bytes, chunk: int = 64 * 1024):
    """A stream's members and kept JSON members (the pass every compressed input takes)."""
    pieces = (data[at : at + chunk] for at in range(0, len(data), chunk))
    return tarformat.scan(tarformat.ChunkReader(pieces), "t", keep_json=True)


def index_file(tmp_path: Path, data: bytes) -> TarIndex:
    """A plain file's index (headers by pread, data skipped by offset)."""
    path = tmp_path / "a.tar"
    path.write_bytes(data)
    return TarIndex.open(path)


def refused(data: bytes, tmp_path: Path, words: str) -> None:
    """Both readers refuse `data` with a one-line message holding `words`."""
    for read in (lambda: scan(data), lambda: index_file(tmp_path, data)):
        with pytest.raises(SourceError, match=words) as caught:
            read()
        assert "\n" not in str(caught.value)


def indexed(data: bytes, tmp_path: Path) -> set[str]:
    """The member names both readers index (they must agree)."""
    streamed, _ = scan(data)
    assert set(index_file(tmp_path, data).members) == set(streamed)
    return set(streamed)


def test_pax_records_bound(tmp_path):
    limit = tarformat.MAX_PAX_RECORDS
    within = b"".join([bombs.record("comment", "v")] * limit)
    assert "manifest.json" in indexed(bombs.pax_before_archive(within), tmp_path)
    beyond = within + bombs.record("comment", "v")
    refused(bombs.pax_before_archive(beyond), tmp_path, f"more than {limit} records at byte 0")


def test_pax_header_data_bound(tmp_path):
    limit = tarformat.MAX_HEADER_DATA
    within = bombs.records_of_size(limit, 1000)
    assert "manifest.json" in indexed(bombs.pax_before_archive(within), tmp_path)
    beyond = bombs.records_of_size(limit + 1, 1000)
    refused(bombs.pax_before_archive(beyond), tmp_path, f"a {limit + 1}-byte extended header")


def test_pax_path_applies_to_its_member(tmp_path):
    pax = bombs.extended(bombs.record("path", "renamed/by/pax"))
    data = pax + bombs.member("short", b"x") + bombs.END
    assert indexed(data, tmp_path) == {"renamed/by/pax"}


def test_long_name_bound(tmp_path):
    limit = tarformat.MAX_LONG_NAME
    # within the bound: read, and the member skipped since no file has so long a name
    within = bombs.extended(b"a" * (limit - 1) + b"\0", tarfile.GNUTYPE_LONGNAME)
    assert indexed(within + bombs.member("short", b"x") + bombs.END, tmp_path) == set()
    beyond = bombs.extended(b"a" * limit + b"\0", tarfile.GNUTYPE_LONGNAME)
    refused(beyond + bombs.member("short") + bombs.END, tmp_path, f"a {limit + 1}-byte GNU long")


def test_name_bound_skips_the_member(tmp_path):
    limit = tarformat.MAX_NAME
    names = ["d/" + "a" * (limit - 2), "e/" + "a" * (limit - 1)]  # MAX_NAME and one more
    data = b"".join(
        bombs.extended(name.encode() + b"\0", tarfile.GNUTYPE_LONGNAME) + bombs.member("x")
        for name in names
    )
    assert indexed(data + bombs.END, tmp_path) == {names[0]}


def test_chain_bound(tmp_path):
    limit = tarformat.MAX_CHAIN
    pax = bombs.extended(bombs.record("comment", "x"))
    within = pax * limit + bombs.member("m", b"x") + bombs.END
    assert indexed(within, tmp_path) == {"m"}
    beyond = pax * (limit + 1) + bombs.member("m", b"x") + bombs.END
    refused(beyond, tmp_path, f"more than {limit} extended headers in a row")


def test_global_headers_count_in_the_chain(tmp_path):
    glob = bombs.extended(bombs.record("comment", "x"), tarfile.XGLTYPE)
    beyond = glob * (tarformat.MAX_CHAIN + 1) + bombs.member("m") + bombs.END
    refused(beyond, tmp_path, "extended headers in a row")


def test_extended_data_bound(tmp_path, monkeypatch):
    pax = bombs.extended(bombs.records_of_size(1024, 4))
    data = (pax + bombs.member("m")) * 4 + bombs.END
    monkeypatch.setattr(tarformat, "MAX_EXTENDED_DATA", 4 * 1024)
    assert indexed(data, tmp_path) == {"m"}
    monkeypatch.setattr(tarformat, "MAX_EXTENDED_DATA", 4 * 1024 - 1)
    refused(data, tmp_path, "MiB of extended headers")


def test_extended_count_bound(tmp_path, monkeypatch):
    data = (bombs.extended(bombs.record("comment", "x")) + bombs.member("m")) * 5 + bombs.END
    monkeypatch.setattr(tarformat, "MAX_EXTENDED", 5)
    assert indexed(data, tmp_path) == {"m"}
    monkeypatch.setattr(tarformat, "MAX_EXTENDED", 4)
    refused(data, tmp_path, "more than 4 extended headers")


@pytest.mark.parametrize("name", ["same", None])
def test_member_bound_counts_repeats(tmp_path, monkeypatch, name):
    monkeypatch.setattr(tarformat, "MAX_MEMBERS", 100)
    members = [bombs.header(name or f"m{number}") for number in range(100)]
    assert len(indexed(b"".join(members) + bombs.END, tmp_path)) == (1 if name else 100)
    members.append(bombs.header("/absolute/names/count/too"))
    refused(b"".join(members) + bombs.END, tmp_path, "more than 100 members")


def test_name_bytes_bound(tmp_path, monkeypatch):
    names = [f"{number:04d}" + "n" * 96 for number in range(10)]  # 100 bytes each
    data = b"".join(bombs.header(name) for name in names) + bombs.END
    monkeypatch.setattr(tarformat, "MAX_NAME_BYTES", 1000)
    assert len(indexed(data, tmp_path)) == 10
    monkeypatch.setattr(tarformat, "MAX_NAME_BYTES", 999)
    refused(data, tmp_path, "member names take more than")


class _Stdin:
    """Standard input as an in-memory stream: `head`, then `tail` again and again (or not)."""

    def __init__(self, head: bytes, tail: bytes = b"", times: int | None = None, last=b""):
        self.buffer = self
        self._head, self._tail, self._times, self._last = head, tail, times, last
        self.read_after_head = 0

    def fileno(self) -> int:
        raise io.UnsupportedOperation

    def read(self, size: int = -1) -> bytes:
        if self._head:
            data, self._head = self._head, b""
            return data
        if not self._tail or self._times == 0:
            last, self._last = self._last, b""
            return last
        if self._times is not None:
            self._times -= 1
        self.read_after_head += len(self._tail)
        return self._tail


def stdin_index(monkeypatch, stdin: _Stdin) -> TarIndex:
    monkeypatch.setattr(sys, "stdin", stdin)
    return TarIndex.open("-")


@pytest.mark.parametrize("compress", [None, gzip.compress])
def test_endless_zeros_after_the_archive_are_read_only_so_far(monkeypatch, compress):
    head = compress(GOOD) if compress else GOOD
    stdin = _Stdin(head, bytes(64 * 1024))  # endless
    tar = stdin_index(monkeypatch, stdin)
    assert tar.read("manifest.json") is not None
    assert stdin.read_after_head <= 2 * tarformat.TRAILER_LIMIT + 256 * 1024


def test_zeros_after_a_zstd_archive_are_corrupt(monkeypatch):
    """zstd has no zero padding between frames (gzip readers allow it, zstd's do not)."""
    with pytest.raises(SourceError, match="corrupt zstd data"):
        stdin_index(monkeypatch, _Stdin(zstd(GOOD), bytes(64 * 1024)))


def test_endless_empty_gzip_members_after_the_archive(monkeypatch):
    stdin = _Stdin(gzip.compress(GOOD), gzip.compress(b"", mtime=0) * 1000)
    assert stdin_index(monkeypatch, stdin).read("manifest.json") is not None
    assert stdin.read_after_head <= 2 * tarformat.TRAILER_LIMIT + 64 * 1024


def test_endless_skippable_frames_after_the_archive(monkeypatch):
    stdin = _Stdin(zstd(GOOD), skippable(bytes(1000)) * 64)
    assert stdin_index(monkeypatch, stdin).read("manifest.json") is not None
    assert stdin.read_after_head <= 2 * tarformat.TRAILER_LIMIT + 256 * 1024


def test_trailer_within_the_limit_is_still_checked(monkeypatch):
    within = bytes(tarformat.TRAILER_LIMIT // 2) + b"garbage!"
    with pytest.raises(SourceError, match="gzip data"):  # not gzip: corrupt, or cut off
        stdin_index(monkeypatch, _Stdin(gzip.compress(GOOD) + within))
    cut = gzip.compress(bytes(1000))[:-6]
    with pytest.raises(SourceError, match="truncated"):
        stdin_index(monkeypatch, _Stdin(gzip.compress(GOOD) + cut))
    beyond = _Stdin(gzip.compress(GOOD), ZEROS, 2 * tarformat.TRAILER_LIMIT // len(ZEROS), b"bad")
    assert stdin_index(monkeypatch, beyond).members
    assert beyond.read_after_head <= tarformat.TRAILER_LIMIT + len(ZEROS)


# --- zstd frames -----------------------------------------------------------------------------


def inflated(data: bytes, step: int = 1000) -> bytes:
    source = io.BytesIO(data)
    return b"".join(inflate_chunks("zstd", lambda size: source.read(min(size, step)), "x"))


def pushed(data: bytes, step: int = 777) -> bytes:
    out: list[bytes] = []
    push = pusher("zstd", lambda piece: out.append(bytes(piece)))
    for at in range(0, len(data), step):
        push.push(data[at : at + step])
    push.finish()
    return b"".join(out)


CONTENT = os.urandom(200_000) + bytes(300_000)


@pytest.mark.parametrize(
    "stream",
    [
        skippable(b"meta") + zstd(CONTENT),
        skippable(b"", 0x184D2A5F) + skippable(b"x" * 70_000, 0x184D2A57) + zstd(CONTENT),
        zstd(CONTENT[:1000]) + skippable(b"between") + zstd(CONTENT[1000:]) + skippable(b"end"),
        zstandard.ZstdCompressor(write_content_size=False).compress(CONTENT),
    ],
    ids=["at-start", "several-at-start", "between-and-after", "no-content-size"],
)
def test_skippable_frames_are_valid_zstd(stream):
    assert compression_of(stream[:6]) == "zstd"
    assert inflated(stream) == CONTENT
    assert inflated(stream, 1 << 20) == CONTENT
    assert pushed(stream) == CONTENT
    digester = Digester()
    digester.update(stream)
    measured = digester.finish()
    assert measured.error is None and measured.diff_id == sha256_digest(CONTENT)


@pytest.mark.parametrize("cut", [1, 4, 100, 5000])
def test_a_cut_off_last_frame_is_an_error(cut):
    stream = zstd(CONTENT[:1000]) + zstd(CONTENT[1000:])
    with pytest.raises(SourceError, match="x is truncated: the zstd data ends early"):
        inflated(stream[:-cut])
    with pytest.raises(EOFError):
        pushed(stream[:-cut])
    digester = Digester()
    digester.update(stream[:-cut])
    assert "ends early" in (digester.finish().error or "")


def test_a_cut_off_skippable_frame_is_an_error():
    with pytest.raises(SourceError, match="truncated"):
        inflated(zstd(CONTENT) + skippable(b"abcdef")[:-1])


def test_garbage_after_a_frame_is_an_error():
    with pytest.raises(SourceError, match="corrupt zstd data"):
        inflated(zstd(CONTENT) + b"garbage!")


# --- end to end ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return bombs.build(tmp_path_factory.mktemp("bombs"))


def refused_fast(result: Limited, words: str, seconds: float, started: float) -> None:
    assert_clean(result)
    assert result.code == 2 and words in result.err, result
    assert time.monotonic() - started < seconds, result


def test_pax_header_of_100k_keys(cases):
    started = time.monotonic()
    result = run_limited("show", cases["pax-100k-keys"], timeout=TIMEOUT)
    refused_fast(result, "extended header at byte 0", 10, started)


def test_pax_header_of_100k_records_within_the_size(tmp_path):
    path = tmp_path / "records.tar"
    path.write_bytes(bombs.pax_before_archive(bombs.record("k", "") * 100_000))
    assert path.stat().st_size < tarformat.MAX_HEADER_DATA
    started = time.monotonic()
    result = run_limited("show", path, timeout=TIMEOUT)
    refused_fast(result, f"more than {tarformat.MAX_PAX_RECORDS} records", 10, started)


@pytest.mark.parametrize("stdin", [False, True], ids=["file", "stdin"])
def test_1000_global_headers_gzip(cases, stdin):
    path = cases["pax-1000-globals"]
    started = time.monotonic()
    if stdin:
        result = run_limited("show", "-", stdin_file=str(path), timeout=TIMEOUT)
    else:
        result = run_limited("show", path, timeout=TIMEOUT)
    refused_fast(result, "64 MiB of extended headers", 20, started)
    assert result.peak_kb < 128 * 1024, result.peak_kb


def test_4m_members_of_one_name_gzip(cases):
    started = time.monotonic()
    result = run_limited("show", cases["4m-same-name"], timeout=TIMEOUT)
    refused_fast(result, f"more than {tarformat.MAX_MEMBERS} members", 30, started)


def test_250k_members_of_one_name_plain(cases):
    started = time.monotonic()
    result = run_limited("ls", cases["250k-same-name"], timeout=TIMEOUT)
    refused_fast(result, f"more than {tarformat.MAX_MEMBERS} members", 30, started)


def _endless(head: bytes, tail: bytes) -> Iterator[bytes]:
    yield head
    while True:
        yield tail


@pytest.mark.parametrize(
    "head, tail",
    [
        (GOOD, ZEROS),  # cat x.tar /dev/zero
        (gzip.compress(GOOD), ZEROS),  # cat x.tar.gz /dev/zero
        (gzip.compress(GOOD), gzip.compress(bytes(8 * 1024 * 1024), mtime=0)),  # then gzip zeros
        (zstd(GOOD), skippable(ZEROS)),  # then skippable frames for ever
    ],
    ids=["plain-then-zeros", "gzip-then-zeros", "gzip-then-gzip-of-zeros", "zstd-then-skippable"],
)
def test_show_stdin_with_endless_input_after_the_archive(head, tail):
    result = run_piped(_endless(head, tail), "show", "-", "--format", "dockerfile")
    assert_clean(result)
    assert result.code == 0, result
    assert "echo hi" in result.out, result


def test_show_zstd_archive_with_skippable_frames(tmp_path):
    path = tmp_path / "x.tar.zst"
    path.write_bytes(skippable(b"meta") + zstd(GOOD[:5000]) + skippable(b"mid") + zstd(GOOD[5000:]))
    plain = tmp_path / "x.tar"
    plain.write_bytes(GOOD)
    result = run_limited("show", path, "--format", "json", timeout=TIMEOUT)
    assert_clean(result)
    expected = run_limited("show", plain, "--format", "json", timeout=TIMEOUT)
    assert result.code == 0 and json.loads(result.out) == json.loads(expected.out), result


def test_show_zstd_archive_whose_last_frame_is_cut_off(tmp_path):
    path = tmp_path / "x.tar.zst"
    path.write_bytes(zstd(GOOD) + zstd(bytes(100_000))[:-20])  # the tar is whole, a frame not
    result = run_limited("show", path, timeout=TIMEOUT)
    assert_clean(result)
    assert result.code == 2 and "is truncated: the zstd data ends early" in result.err, result


def test_verify_a_zstd_layer_with_skippable_frames(tmp_path):
    """An OCI archive whose zstd layer starts with a skippable frame verifies; cut off, not."""
    layer_tar = tar_bytes([("etc/hello", b"hello\n")])
    for layer, ok in ((skippable(b"meta") + zstd(layer_tar), True), (zstd(layer_tar)[:-3], False)):
        config = json.dumps(
            dict(
                CONFIG,
                rootfs={"type": "layers", "diff_ids": [sha256_digest(layer_tar)]},
                history=[{"created": "2020-01-01T00:00:00Z", "created_by": "/bin/sh -c echo"}],
            )
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
                        "mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
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
                    "annotations": {"org.opencontainers.image.ref.name": "1"},
                }
            ],
        }
        blobs = [
            ("blobs/sha256/" + sha256_digest(data).split(":")[1], data)
            for data in (config, manifest, layer)
        ]
        path = tmp_path / f"oci-{ok}.tar"
        path.write_bytes(
            tar_bytes(
                [
                    ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                    *blobs,
                    ("index.json", json.dumps(index).encode()),
                ]
            )
        )
        result = run_limited("verify", f"oci-archive:{path}", timeout=TIMEOUT)
        assert_clean(result)
        if ok:
            assert result.code == 0, result
        else:
            assert result.code == 1 and "ends early" in result.out + result.err, result


@pytest.mark.parametrize("command", [["ls"], ["show", "--all", "--format", "jsonl"]])
def test_docker25_save_with_3000_entries_the_index_does_not_cover(cases, command):
    started = time.monotonic()
    result = run_limited(*command, cases["docker25-3000-uncovered"], timeout=TIMEOUT)
    elapsed = time.monotonic() - started
    assert_clean(result)
    assert result.code == 0, result
    assert elapsed < 20, elapsed
    if command == ["ls"]:
        rows = [line for line in result.out.splitlines() if line.startswith("loose/image")]
        assert len(rows) == 3000
        return
    images = [json.loads(line) for line in result.out.splitlines()]
    assert len(images) == 3001
    by_tag = {image["reference"]["tag"]: image["root"] for image in images}
    assert by_tag["1"]["manifest_digest"]  # the index's image
    # the first 1500 loose images have an OCI manifest among the blobs, found once for all
    assert all(by_tag[str(number)]["manifest_digest"] for number in range(1500))
    assert not any(by_tag[str(number)]["manifest_digest"] for number in range(1500, 3000))
    assert by_tag["2999"]["config"]["cmd"] == ["sh", "-c", "2999"]


def test_manifest_json_entries_are_bounded(tmp_path):
    config = json.dumps(CONFIG).encode()
    entry = {"Config": "c.json", "RepoTags": [], "Layers": []}
    for count, code in ((MAX_MANIFEST_ENTRIES, 0), (MAX_MANIFEST_ENTRIES + 1, 2)):
        path = tmp_path / f"{count}.tar"
        manifest = json.dumps([entry] * count).encode()
        path.write_bytes(tar_bytes([("c.json", config), ("manifest.json", manifest)]))
        started = time.monotonic()
        result = run_limited("ls", path, timeout=TIMEOUT)
        assert_clean(result)
        assert result.code == code, result
        assert time.monotonic() - started < 20
        if code == 2:
            assert f"more than the {MAX_MANIFEST_ENTRIES}" in result.err, result


@pytest.mark.parametrize(
    "tail",
    [gzip.compress(b"", mtime=0) * 4096, skippable(bytes(64 * 1024))],
    ids=["empty-gzip-members", "zstd-skippable-frames"],
)
def test_show_stdin_with_endless_silent_input_inside_the_archive(tail):
    """Half an archive, then compressed input that inflates to nothing, for ever: no end
    marker ever comes, so the bound is on input that gives no output."""
    head = (gzip.compress if tail.startswith(b"\x1f\x8b") else zstd)(GOOD[: len(GOOD) // 2])
    result = run_piped(_endless(head, tail), "show", "-")
    assert_clean(result)
    assert result.code == 2 and "inflate to nothing" in result.err, result
