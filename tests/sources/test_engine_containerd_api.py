"""`docker-daemon:` against Docker 28/29 on the containerd image store (API 1.48 and 1.49), when
its content store is not readable here (a remote engine, Docker Desktop's VM): the real docker SDK
talks to tests/support/fake_containerd_engine.py, whose answers are written from the API
reference; the image's own blobs, written as an OCI layout, are the ground truth."""

from __future__ import annotations

import json

import pytest

from reconstruct import api
from reconstruct.errors import SourceError
from reconstruct.sources.engine import EngineSource
from reconstruct.sources.engine import containerd as engine_containerd
from tests.support.fake_containerd_engine import TAG, FakeContainerdEngine
from tests.support.schemas import check


@pytest.fixture(params=["1.48", "1.49"])
def engine(request, tmp_path, monkeypatch):
    # this machine's own /var/lib/containerd must not stand in for the remote engine's store
    monkeypatch.setattr(engine_containerd, "local_content_store", lambda info: None)
    with FakeContainerdEngine(tmp_path / "docker.sock", api_version=request.param) as fake:
        yield fake, fake.image.layout(tmp_path / "layout")


def sections(target) -> list[dict]:
    whole = json.loads(api.render(target, "json"))
    check("show", whole)
    document = whole["root"]
    return document.get("entries") or [document]


def test_the_api_gives_every_platform_and_attestation(engine):
    fake, layout = engine
    truth = api.load(f"oci:{layout}")
    target = EngineSource(fake.url, exact=False).get(TAG)
    assert target.reference.digest == fake.image.target  # the name's target, as `docker pull`
    assert [e.digest for e in target.root.entries] == [e.digest for e in truth.root.entries]
    assert [e.platform for e in target.root.entries] == [e.platform for e in truth.root.entries]
    assert [e.annotations for e in target.root.entries] == [
        e.annotations for e in truth.root.entries
    ]
    shown = {e.platform.architecture for e in target.root.entries if e.image is not None}
    # 1.48 shows one platform's config (the host's), 1.49 each one asked for
    assert shown == ({"amd64"} if fake.api_version == "1.48" else {"amd64", "arm64"})
    for got, want in zip(target.root.entries, truth.root.entries, strict=True):
        if got.image is None:
            continue
        image, expected = got.image, want.image
        assert image.config_digest is None  # the API has no config digest: never a wrong one
        assert image.docker_version is None  # the daemon's, not the image's
        assert image.manifest_digest == expected.manifest_digest
        assert [(s.created, s.created_by, s.empty_layer) for s in image.steps] == [
            (s.created, s.created_by, s.empty_layer) for s in expected.steps
        ]
        assert [layer.diff_id for layer in image.layers] == [
            layer.diff_id for layer in expected.layers
        ]
    assert any("--exact" in w for w in target.root.warnings)
    platform_queries = [r for r in fake.requests if "platform=" in r]
    assert platform_queries and not any("/get" in r for r in fake.requests)  # no export


def test_exact_reads_the_chain_from_the_export(engine):
    fake, layout = engine
    source = EngineSource(fake.url, exact=True)
    target = source.get(TAG)
    truth = api.load(f"oci:{layout}")
    assert sections(target) == sections(truth)
    assert source.exports and source.exports[-1].members > 0


def test_an_older_api_falls_back_to_the_host_platform(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_containerd, "local_content_store", lambda info: None)
    with FakeContainerdEngine(tmp_path / "docker.sock", api_version="1.45") as fake:
        target = EngineSource(fake.url, exact=False).get(TAG)
    image = target.root
    assert image.config_digest is None and image.docker_version is None
    assert image.steps[0].created_by.startswith("COPY hello.txt")
    assert not any("manifests=" in r for r in fake.requests)


def test_exact_never_prints_an_empty_history_when_the_chain_cannot_be_followed(engine):
    """An export that lacks the image's own index: an error naming it, never exit 0."""
    fake, _ = engine
    whole = fake.image.export
    target_member = f"blobs/sha256/{fake.image.target[7:]}"

    def without_index() -> bytes:
        import io
        import tarfile

        out = io.BytesIO()
        with (
            tarfile.open(fileobj=io.BytesIO(whole())) as tar,
            tarfile.open(fileobj=out, mode="w") as kept,
        ):
            for member in tar.getmembers():
                if member.name != target_member:
                    kept.addfile(member, tar.extractfile(member))
        return out.getvalue()

    fake.image.export = without_index
    with pytest.raises(SourceError, match="does not hold"):
        EngineSource(fake.url, exact=True).get(TAG)
