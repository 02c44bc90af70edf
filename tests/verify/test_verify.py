"""`verify`: real archives and layouts (the corpus, and images built by the real engines) are ok;
tampered copies made here (a byte flipped in a layer, a config edited, a manifest size changed, a
blob removed) are each caught with the right verdict; foreign layers that are absent are normal.

Expected digests come from the files themselves (hashlib, tarfile), never from reconstruct.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from reconstruct.verify import Check, Verdict, VerifyReport, verify
from reconstruct.verify import digest as layerdigest
from reconstruct.verify.digest import Digester
from tests.support.clirun import assert_one_line_error, run
from tests.support.needs import need_tools
from tests.support.paths import (
    CORPUS,
    FIXTURES,
    REPO,
    SAMPLE,
    WINDOWS_CONFIG,
    WINDOWS_INDEX,
    WINDOWS_MANIFEST,
    corpus_files,
    need,
)
from tests.support.paths import STEREOSCOPE_LAYOUT as STEREOSCOPE

LEGACY_SAVE = FIXTURES / "docker-save" / "dive_test-docker-image_docker18.09_legacy.tar"
CORPUS_IMAGES = [
    *corpus_files("fixtures", "docker-save", pattern="*.tar"),
    *corpus_files("fixtures", "oci-archive", pattern="*.tar"),
    *corpus_files("fixtures", "oci-layout", pattern="*"),
]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def of(report: VerifyReport, kind: str, verdict: Verdict | None = None) -> list[Check]:
    return [
        c for c in report.checks if c.kind == kind and (verdict is None or c.verdict is verdict)
    ]


def assert_all_ok(report: VerifyReport) -> None:
    bad = [c for c in report.checks if c.failed]
    assert not bad, bad
    assert report.exit_code == 0


# --- tampering helpers --------------------------------------------------------------------------


def copy_layout(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def flip_byte(path: Path, at: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    at = len(data) // 2 if at is None else at
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def layout_manifest(layout: Path, platform: str | None = None) -> tuple[dict, dict]:
    """(manifest, its descriptor) of the layout's first image (of `platform` under an index)."""
    index = json.loads((layout / "index.json").read_text())
    descriptor = index["manifests"][0]
    document = json.loads(blob(layout, descriptor["digest"]).read_bytes())
    while "manifests" in document:
        children = document["manifests"]
        descriptor = next(
            (
                c
                for c in children
                if not platform or c.get("platform", {}).get("architecture") == platform
            ),
            children[0],
        )
        document = json.loads(blob(layout, descriptor["digest"]).read_bytes())
    return document, descriptor


def blob(layout: Path, digest: str) -> Path:
    algorithm, hexpart = digest.split(":")
    return layout / "blobs" / algorithm / hexpart


def rewrite_tar(source: Path, target: Path, change) -> None:
    """A copy of the tar at `source`, each regular member's bytes passed through change(name, data)."""
    with tarfile.open(source) as old, tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as new:
        for info in old.getmembers():
            if info.isreg():
                data = change(info.name, old.extractfile(info).read())
                if data is None:
                    continue  # removed
                info.size = len(data)
                new.addfile(info, io.BytesIO(data))
            else:
                new.addfile(info)


def flipped(data: bytes) -> bytes:
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 0x01
    return bytes(changed)


# --- Digester -----------------------------------------------------------------------------------


@pytest.mark.parametrize("step", [1, 7, 4096, 1 << 20])
def test_digester_gzip_zstd_and_plain_in_any_pieces(step: int):
    zstandard = pytest.importorskip("zstandard")
    content = bytes(range(256)) * 4000 + b"tail"
    want = sha256(content)
    forms = {
        "gzip": gzip.compress(content),
        "gzip-members": gzip.compress(content[:1000]) + gzip.compress(content[1000:]) + bytes(512),
        "zstd": zstandard.ZstdCompressor().compress(content),
        None: content,
    }
    for compression, stored in forms.items():
        digester = Digester()
        view = memoryview(stored)
        for at in range(0, len(stored), step):
            digester.update(view[at : at + step])
        measured = digester.finish()
        assert measured.digest == sha256(stored)
        assert measured.size == len(stored)
        assert measured.diff_id == want, compression
        assert measured.uncompressed_size == len(content)
        assert measured.compression == (compression.split("-")[0] if compression else None)


def test_digester_reports_corrupt_and_truncated_gzip():
    stored = gzip.compress(b"x" * 100_000 + bytes(range(256)) * 100)
    for bad in (stored[:-20], flipped(stored)):
        digester = Digester()
        digester.update(bad)
        measured = digester.finish()
        assert measured.diff_id is None and "not valid gzip data" in (measured.error or "")


# --- the corpus: real writers' output --------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS_IMAGES, ids=lambda p: p.name)
def test_every_corpus_archive_and_layout_verifies(path: Path):
    report = verify(str(path))
    assert_all_ok(report)
    assert of(report, "config", Verdict.OK) or of(report, "config", Verdict.NOT_CHECKABLE)
    layers = of(report, "layer")
    assert layers and all(c.verdict is Verdict.OK for c in layers), layers


def test_oci_layout_layers_are_hashed_and_match_the_files():
    report = verify(str(need(STEREOSCOPE)))
    assert_all_ok(report)
    layers = of(report, "layer", Verdict.OK)
    assert len(layers) == 2
    for check in layers:
        data = blob(STEREOSCOPE, check.name).read_bytes()
        assert sha256(data) == check.name and check.size == len(data)
        assert "diff_id" in check.reason and "gzip" in check.reason
    platforms = {c.platform for c in of(report, "manifest")}
    assert platforms == {"linux/amd64", "linux/arm64"}


def test_sample_foreign_layers_absent_are_normal():
    report = verify(str(SAMPLE))
    assert report.exit_code == 0
    assert not of(report, "layer", Verdict.MISMATCH)
    foreign = [c for c in of(report, "layer", Verdict.MISSING) if c.urls]
    assert len(foreign) == 6 and all(c.normal for c in foreign)
    assert all(url.startswith("https://mcr.microsoft.com/") for c in foreign for url in c.urls)
    # a metadata-only layout: the regular layers are absent too, and that is said, not failed
    assert all(c.normal for c in of(report, "layer", Verdict.MISSING))
    assert (
        len(of(report, "config", Verdict.OK)) == 3 and len(of(report, "manifest", Verdict.OK)) == 3
    )
    assert of(report, "index", Verdict.OK)


def test_windows_corpus_manifest_index_and_config_are_not_errors():
    report = verify(str(need(WINDOWS_MANIFEST)))
    assert report.exit_code == 0
    foreign = [c for c in of(report, "layer") if c.urls]
    assert len(foreign) == 2 and all(c.verdict is Verdict.MISSING and c.normal for c in foreign)
    assert all(c.normal for c in report.checks if c.verdict is Verdict.MISSING)

    index = verify(str(need(WINDOWS_INDEX)))
    assert index.exit_code == 0
    entries = of(index, "entry", Verdict.MISSING)
    assert len(entries) == 4 and all(c.normal for c in entries)
    assert {c.platform.split(":")[0] for c in entries} == {"windows/amd64"}

    config = verify(str(need(WINDOWS_CONFIG)))
    assert config.exit_code == 0
    assert of(config, "history", Verdict.OK)


def test_a_config_that_is_not_byte_exact_is_a_mismatch():
    # The corpus notes that this config was pretty-printed: its bytes are not the ones the
    # manifest names. verify must say so, with the size the descriptor states.
    report = verify(str(need(WINDOWS_MANIFEST)), config=str(need(WINDOWS_CONFIG)))
    assert report.exit_code == 1
    (config,) = of(report, "config")
    assert config.verdict is Verdict.MISMATCH
    assert sha256(WINDOWS_CONFIG.read_bytes()) in config.reason and "3446 bytes" in config.reason


def test_repo_info_documents_and_dockerfiles_are_not_checkable(tmp_path: Path):
    document = need(CORPUS / "repo-info" / "python__3-windowsservercore__06ac6884aa.md")
    report = verify(str(document))
    assert report.exit_code == 0
    assert [(c.kind, c.verdict) for c in report.checks] == [("source", Verdict.NOT_CHECKABLE)]
    assert "records no blobs" in report.checks[0].reason
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox\nRUN true\n")
    report = verify(str(dockerfile))
    assert report.exit_code == 0 and [c.verdict for c in report.checks] == [Verdict.NOT_CHECKABLE]


# --- tampered copies of corpus layouts and archives --------------------------------------------


def test_tampered_oci_layout_each_caught(tmp_path: Path):
    need(STEREOSCOPE)
    # one byte flipped in a layer
    layout = copy_layout(STEREOSCOPE, tmp_path / "flip")
    manifest, _ = layout_manifest(layout, "amd64")
    layer = manifest["layers"][0]["digest"]
    flip_byte(blob(layout, layer))
    report = verify(str(layout))
    assert report.exit_code == 1
    (bad,) = [c for c in of(report, "layer") if c.name == layer]
    assert bad.verdict is Verdict.MISMATCH and "hashes to" in bad.reason
    assert sum(c.verdict is Verdict.OK for c in of(report, "layer")) == 1  # the other platform's

    # the config edited (same size: only the digest can tell)
    layout = copy_layout(STEREOSCOPE, tmp_path / "config")
    manifest, _ = layout_manifest(layout, "amd64")
    config = blob(layout, manifest["config"]["digest"])
    config.write_bytes(config.read_bytes().replace(b'"amd64"', b'"arm64"'))
    report = verify(str(layout))
    bad = [c for c in of(report, "config") if c.verdict is Verdict.MISMATCH]
    assert len(bad) == 1 and bad[0].name == manifest["config"]["digest"]
    assert sha256(config.read_bytes()) in bad[0].reason and report.exit_code == 1

    # a manifest's size changed in its descriptor
    layout = copy_layout(STEREOSCOPE, tmp_path / "size")
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text())
    top = blob(layout, index["manifests"][0]["digest"])
    nested = json.loads(top.read_bytes())
    nested["manifests"][0]["size"] += 7
    data = json.dumps(nested).encode()
    new = blob(layout, sha256(data))
    new.write_bytes(data)
    index["manifests"][0].update(digest=sha256(data), size=len(data))
    index_path.write_text(json.dumps(index))
    report = verify(str(layout))
    bad = [c for c in of(report, "manifest") if c.verdict is Verdict.MISMATCH]
    assert len(bad) == 1 and "the descriptor says" in bad[0].reason
    assert report.exit_code == 1

    # a blob removed: a layer, then a config
    layout = copy_layout(STEREOSCOPE, tmp_path / "removed")
    manifest, _ = layout_manifest(layout, "arm64")
    blob(layout, manifest["layers"][0]["digest"]).unlink()
    blob(layout, manifest["config"]["digest"]).unlink()
    report = verify(str(layout))
    missing = [c for c in report.checks if c.verdict is Verdict.MISSING]
    assert {c.kind for c in missing} == {"layer", "config"}
    assert not any(c.normal for c in missing) and report.exit_code == 1


@pytest.mark.parametrize("value", [["sha256:" + "0" * 64], {"a": 1}, 7, "sha256:short"])
def test_a_config_digest_that_is_no_digest_is_a_mismatch(tmp_path: Path, value):
    # found by the containers-storage fuzzer: a list here was used as a dictionary key
    blobs = tmp_path / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": value},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": 1,
                        "digest": "sha256:" + "0" * 64}],
        }
    ).encode()  # fmt: skip
    (blobs / sha256(manifest)[7:]).write_bytes(manifest)
    descriptor = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "digest": sha256(manifest), "size": len(manifest)}  # fmt: skip
    (tmp_path / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "manifests": [descriptor]})
    )
    report = verify(f"oci:{tmp_path}")
    (bad,) = of(report, "config")
    assert bad.verdict is Verdict.MISMATCH and bad.reason == "the manifest names no config"
    assert report.exit_code == 1


def test_tampered_legacy_docker_save_each_caught(tmp_path: Path):
    files = {}
    with tarfile.open(need(LEGACY_SAVE)) as tar:
        for info in tar.getmembers():
            if info.isreg():
                files[info.name] = tar.extractfile(info).read()
    entry = json.loads(files["manifest.json"])[0]
    layer, config = entry["Layers"][3], entry["Config"]

    target = tmp_path / "flip.tar"
    rewrite_tar(LEGACY_SAVE, target, lambda name, data: flipped(data) if name == layer else data)
    report = verify(str(target))
    (bad,) = [c for c in report.checks if c.failed]
    assert bad.kind == "layer" and bad.name == layer and bad.position == 4
    assert "diff_id" in bad.reason and sha256(flipped(files[layer])) in bad.reason

    target = tmp_path / "config.tar"
    rewrite_tar(LEGACY_SAVE, target, lambda name, data: data + b" " if name == config else data)
    (bad,) = [c for c in verify(str(target)).checks if c.failed]
    assert bad.kind == "config" and "Image ID" not in bad.reason and "hashes to" in bad.reason

    target = tmp_path / "removed.tar"
    rewrite_tar(LEGACY_SAVE, target, lambda name, data: None if name == layer else data)
    report = verify(str(target))
    (bad,) = [c for c in report.checks if c.failed]
    assert bad.verdict is Verdict.MISSING and bad.name == layer and report.exit_code == 1


@pytest.mark.parametrize("compress", ["gzip", "zstd", "xz"])
def test_compressed_archives_are_hashed_in_one_pass(compress: str, tmp_path: Path):
    need(LEGACY_SAVE)
    need_tools(compress)
    plain = verify(str(LEGACY_SAVE))
    copy = tmp_path / f"save.tar.{compress}"
    with copy.open("wb") as out:
        subprocess.run([compress, "-c", str(LEGACY_SAVE)], stdout=out, check=True)
    report = verify(str(copy))
    assert report.streamed and not plain.streamed
    assert [(c.kind, c.name, c.verdict, c.reason) for c in report.checks] == [
        (c.kind, c.name, c.verdict, c.reason) for c in plain.checks
    ]
    # tampered, then compressed: the one pass still catches it
    bad_plain = tmp_path / "bad.tar"
    layer = json.loads(_member(LEGACY_SAVE, "manifest.json"))[0]["Layers"][0]
    rewrite_tar(LEGACY_SAVE, bad_plain, lambda name, data: flipped(data) if name == layer else data)
    bad = tmp_path / f"bad.tar.{compress}"
    with bad.open("wb") as out:
        subprocess.run([compress, "-c", str(bad_plain)], stdout=out, check=True)
    report = verify(str(bad))
    assert report.streamed and report.exit_code == 1
    assert [c.name for c in report.checks if c.failed] == [layer]


def _member(path: Path, name: str) -> bytes:
    with tarfile.open(path) as tar:
        return tar.extractfile(name).read()


def test_parallel_workers_give_the_same_verdicts(monkeypatch):
    need(LEGACY_SAVE)
    here = verify(str(LEGACY_SAVE), workers=1)
    monkeypatch.setattr(layerdigest, "PARALLEL_MIN_BYTES", 0)
    seen = []
    original = layerdigest._measure_in_processes

    def spy(jobs, workers, on_progress):
        seen.append(workers)
        return original(jobs, workers, on_progress)

    monkeypatch.setattr(layerdigest, "_measure_in_processes", spy)
    progress = Recorder()
    parallel = verify(str(LEGACY_SAVE), workers=2, progress=progress)
    assert seen == [2]
    assert [(c.name, c.verdict, c.reason) for c in parallel.checks] == [
        (c.name, c.verdict, c.reason) for c in here.checks
    ]
    assert progress.started and progress.stopped


class Recorder:
    def __init__(self):
        self.started = self.stopped = False
        self.done = []

    def start(self, total, description):
        self.started = True

    def update(self, done):
        self.done.append(done)

    def stop(self):
        self.stopped = True


# --- the command line ---------------------------------------------------------------------------


def test_cli_exit_codes_formats_and_stdin(tmp_path: Path):
    ok = run("verify", SAMPLE)
    assert ok.code == 0 and "foreign layer" in ok.out and ok.out.rstrip().endswith("verified")
    assert "urls: https://mcr.microsoft.com/" in ok.out
    document = json.loads(run("verify", SAMPLE, "--format", "json").out)
    assert document["schema"] == "reconstruct/verify/v1" and document["exit_code"] == 0
    assert document["summary"]["mismatch"] == 0 and document["summary"]["missing_normal"] > 0
    assert {check["verdict"] for g in document["groups"] for check in g["checks"]} >= {
        "ok",
        "missing",
    }

    layout = copy_layout(need(STEREOSCOPE), tmp_path / "layout")
    manifest, _ = layout_manifest(layout, "amd64")
    flip_byte(blob(layout, manifest["layers"][0]["digest"]))
    bad = run("verify", f"oci:{layout}")
    assert bad.code == 1 and "mismatch" in bad.out and bad.out.rstrip().endswith("FAILED")

    compressed = tmp_path / "save.tar.gz"
    compressed.write_bytes(gzip.compress(need(LEGACY_SAVE).read_bytes()))
    piped = run("verify", "-", "-f", "json", stdin=compressed.read_bytes())
    assert piped.code == 0, piped.err
    assert json.loads(piped.out)["streamed"] is True

    assert_one_line_error(run("verify", tmp_path / "missing"))
    assert_one_line_error(run("verify", f"oci:{SAMPLE}:no-such-tag"))


def test_progress_bar_only_on_a_terminal(tmp_path: Path):
    # Run through a pseudo-terminal: the bar is drawn on stderr, never on stdout.
    pty = pytest.importorskip("pty")
    import os

    archive = need(LEGACY_SAVE)  # 1.5 MB of layers: the bar gets drawn
    pid, fd = pty.fork()
    if pid == 0:  # the child: stderr is the terminal, stdout a file
        with open(tmp_path / "out.txt", "wb") as out:
            os.dup2(out.fileno(), 1)
        os.chdir(REPO)
        # a terminal that draws (TERM=dumb, as under some CI runners, rightly gets no bar)
        env = {**os.environ, "TERM": "xterm-256color"}
        args = [sys.executable, "-m", "reconstruct", "verify", str(archive)]
        os.execve(sys.executable, args, env)
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    out = (tmp_path / "out.txt").read_text()
    assert out.rstrip().endswith("verified") and "\x1b[" not in out
    assert b"verify: layers" in b"".join(chunks)  # drawn on the terminal
    assert "verify: layers" not in run("verify", archive).err  # and not when stderr is a pipe


# --- images built and written by the real engines ---------------------------------------------


def test_every_engine_archive_and_layout_verifies(docker_saves, skopeo, podman, registry):
    specs = {f"docker save {k}": str(s.path) for k, s in docker_saves.all.items()}
    specs |= {
        f"skopeo {a.transport}": f"{a.transport}:{a.path}" for a in (skopeo.oci, skopeo.oci_archive)
    }
    specs["skopeo docker-archive"] = str(skopeo.docker_archive.path)
    for ref, saves in podman.saves.items():
        specs |= {f"podman {ref} {fmt}": str(a.path) for fmt, a in saves.items()}
    specs["registry storage"] = f"registry-dir:{registry.storage}"
    for label, spec in specs.items():
        report = verify(spec)
        assert_all_ok(report)
        layers = of(report, "layer")
        assert layers and all(c.verdict is Verdict.OK for c in layers), label
        assert of(report, "history", Verdict.OK), label
        compressed = label.startswith("docker save full_")
        assert report.streamed == compressed, label


def test_layers_match_what_the_engines_recorded(skopeo, docker_saves):
    manifest = skopeo.oci.manifest
    report = verify(f"oci:{skopeo.oci.path}")
    layers = of(report, "layer", Verdict.OK)
    assert [c.name for c in layers] == [d["digest"] for d in manifest["layers"]]
    assert [c.size for c in layers] == [d["size"] for d in manifest["layers"]]
    (config,) = of(report, "config", Verdict.OK)
    assert config.name == sha256(skopeo.oci.config_raw) == manifest["config"]["digest"]
    # docker save: the config is named by the Image ID dockerd reports (the legacy layout's
    # `<id>.json`, or Docker ≥ 25's blob of that digest)
    save = docker_saves.full
    truth = docker_saves.images["reconstruct-test/full:1"]
    (config,) = of(verify(str(save.path)), "config", Verdict.OK)
    assert config.name == save.blob_name(save.manifest[0]["Config"])
    assert truth.id.split(":")[1] in config.name


def test_docker_root_rebuilds_its_layers_and_the_engine_is_not_checkable(dockerd):
    report = verify(f"docker-root:{dockerd.data_root}")
    assert report.exit_code == 0
    configs = of(report, "config", Verdict.OK)
    # other tests may have built more images in the session's dockerd: the fixture's are there
    assert {t.id for t in dockerd.images.values()} <= {c.name for c in configs}
    assert of(report, "config") == configs  # and every config checked is ok
    # every layer rebuilt from layerdb's tar-split and vfs/dir/<cache-id>, hashed to its diff_id
    layers = of(report, "layer")
    assert layers and all(c.verdict is Verdict.OK for c in layers), [
        (c.name, c.verdict, c.reason) for c in layers if c.verdict is not Verdict.OK
    ]
    assert all("tar-split" in c.reason for c in layers)
    result = run("verify", "--host", dockerd.host, "docker-daemon:reconstruct-test/full:1")
    assert result.code == 0, result.err
    assert "not checkable" in result.out and "docker save" in result.out


def test_tampered_real_oci_layout_each_caught(skopeo, tmp_path: Path):
    original = skopeo.oci.path
    manifest = skopeo.oci.manifest

    layout = copy_layout(original, tmp_path / "flip")
    layer = manifest["layers"][-1]["digest"]
    flip_byte(blob(layout, layer))
    report = verify(f"oci:{layout}")
    (bad,) = [c for c in report.checks if c.failed]
    assert (bad.kind, bad.name, bad.verdict) == ("layer", layer, Verdict.MISMATCH)
    assert "hashes to" in bad.reason and report.exit_code == 1

    layout = copy_layout(original, tmp_path / "config")
    path = blob(layout, manifest["config"]["digest"])
    path.write_bytes(path.read_bytes().replace(b"s3cr3t", b"s3cr3T"))
    (bad,) = [c for c in verify(f"oci:{layout}").checks if c.failed]
    assert (bad.kind, bad.verdict) == ("config", Verdict.MISMATCH)
    assert sha256(path.read_bytes()) in bad.reason

    layout = copy_layout(original, tmp_path / "size")
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0]["size"] -= 1
    (layout / "index.json").write_text(json.dumps(index))
    (bad,) = [c for c in verify(f"oci:{layout}").checks if c.failed]
    assert (bad.kind, bad.verdict) == ("manifest", Verdict.MISMATCH)
    assert f"the descriptor says {index['manifests'][0]['size']} bytes" in bad.reason

    layout = copy_layout(original, tmp_path / "removed")
    blob(layout, manifest["layers"][0]["digest"]).unlink()
    report = verify(f"oci:{layout}")
    (bad,) = [c for c in report.checks if c.failed]
    assert (bad.kind, bad.verdict, bad.position) == ("layer", Verdict.MISSING, 1)
    assert report.exit_code == 1


def test_tampered_real_docker_save_each_caught(docker_saves, tmp_path: Path):
    save = docker_saves.full
    entry = save.manifest[0]
    layer = entry["Layers"][-1]
    # a legacy `<id>/layer.tar` is checked against the config's diff_id; a Docker ≥ 25 blob
    # against the digest its name spells
    because = "diff_id" if save.layout == "legacy" else "hashes to"

    flipped_save = tmp_path / "flip.tar"
    rewrite_tar(save.path, flipped_save, lambda n, d: flipped(d) if n == layer else d)
    for path in (flipped_save, _gzipped(flipped_save)):  # read by offset, and in one pass
        report = verify(str(path))
        (bad,) = [c for c in report.checks if c.failed]
        assert (bad.kind, bad.name, bad.verdict) == (
            "layer",
            save.blob_name(layer),
            Verdict.MISMATCH,
        )
        assert because in bad.reason

    edited = tmp_path / "config.tar"
    rewrite_tar(
        save.path,
        edited,
        lambda n, d: d.replace(b"s3cr3t", b"hidden") if n == entry["Config"] else d,
    )
    (bad,) = [c for c in verify(str(edited)).checks if c.failed]
    assert (bad.kind, bad.verdict) == ("config", Verdict.MISMATCH)

    removed = tmp_path / "removed.tar"
    rewrite_tar(save.path, removed, lambda n, d: None if n == layer else d)
    (bad,) = [c for c in verify(str(removed)).checks if c.failed]
    assert (bad.kind, bad.name, bad.verdict, bad.normal) == (
        "layer",
        save.blob_name(layer),
        Verdict.MISSING,
        False,
    )


def _gzipped(path: Path) -> Path:
    target = path.with_name(path.name + ".gz")
    target.write_bytes(gzip.compress(path.read_bytes(), compresslevel=1))
    return target


def test_tampered_real_registry_storage(registry, tmp_path: Path):
    storage = copy_layout(registry.storage, tmp_path / "storage")
    pushed = registry.pushed["reconstruct-test/small:1"]
    layer = pushed.manifest["layers"][-1]["digest"]
    hexpart = layer.split(":")[1]
    data = storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"
    flip_byte(data)
    report = verify(f"registry-dir:{storage}:reconstruct-test/small:1")
    (bad,) = [c for c in report.checks if c.failed]
    assert (bad.kind, bad.name, bad.verdict) == ("layer", layer, Verdict.MISMATCH)


def test_compressed_save_from_stdin(docker_saves):
    result = run("verify", "-", "-f", "json", stdin=docker_saves.full_zst.path.read_bytes())
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["streamed"] is True and document["summary"]["ok"] >= 10
