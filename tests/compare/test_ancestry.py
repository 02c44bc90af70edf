"""`reconstruct base`: which image another starts from."""

from __future__ import annotations

import hashlib
import json

from tests.support.clirun import run
from tests.support.paths import SAMPLE


def _blob(folder, value):
    data = json.dumps(value).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (folder / digest).write_bytes(data)
    return digest, len(data)


def _derived_from_sample(tmp_path):
    """The sample's 10.0.17763 image with two more steps and one more layer on top."""
    blobs = SAMPLE / "blobs" / "sha256"
    top = json.loads((SAMPLE / "index.json").read_text())["manifests"][0]["digest"]
    listing = json.loads((blobs / top.split(":")[1]).read_text())
    entry = next(
        m for m in listing["manifests"] if m["platform"]["os.version"].startswith("10.0.17763")
    )
    manifest = json.loads((blobs / entry["digest"].split(":")[1]).read_text())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_text())
    shell = " ".join(config["config"]["Shell"])
    config["history"] += [
        {"created": "2020-01-01T00:00:00Z", "created_by": f"{shell} #(nop)  ENV APP=1"},
        {"created": "2020-01-01T00:00:01Z", "created_by": f"{shell} pip install app"},
    ]
    folder = tmp_path / "derived"
    folder.mkdir()
    config_digest, config_size = _blob(folder, config)
    manifest["config"].update(digest=config_digest, size=config_size)
    manifest["layers"] += [
        {
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "digest": "sha256:" + "5" * 64,
            "size": 4242,
        },
        {
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "digest": "sha256:" + "6" * 64,
            "size": 4243,
        },
    ]
    manifest_digest, _ = _blob(folder, manifest)
    return folder / manifest_digest


def test_the_sample_is_found_as_the_base_of_an_image_built_on_it(tmp_path):
    derived = _derived_from_sample(tmp_path)
    report = json.loads(run("base", derived, "--against", SAMPLE, "--json").out)
    (platform,) = report
    best = platform["candidates"][0]
    assert best["is_base"] is True
    assert best["platform"] == "windows version 10.0.17763.737; amd64"
    assert (best["common_steps"], best["candidate_steps"]) == (11, 11)
    assert (best["common_layers"], best["candidate_layers"]) == (11, 11)
    assert platform["windows_base"] == {
        "os_version": "10.0.17763.737",
        "steps": ["RUN Apply image 1809-RTM-amd64", "RUN Install update 1809-amd64"],
    }
    text = run("base", derived, "--against", SAMPLE).out
    assert (
        f"  base: {SAMPLE}:docker.io/library/python:3-windowsservercore (11 steps, 11 layers)"
        in text
    )


def test_an_image_is_not_the_base_of_its_own_base(tmp_path):
    derived = _derived_from_sample(tmp_path)
    report = json.loads(
        run(
            "base",
            SAMPLE,
            "--platform",
            "windows/amd64:10.0.17763",
            "--against",
            f"json:{derived}",
            "--json",
        ).out
    )
    (platform,) = report
    (candidate,) = platform["candidates"]
    assert (
        candidate["is_base"] is False
        and candidate["common_steps"] == 11
        and candidate["candidate_steps"] == 13
    )
