"""Every config, manifest, index and OCI layout of the shared corpus, in all four formats.

The expectations are read from the files themselves: history entries, layer descriptors.
"""

from __future__ import annotations

import json
import re

import pytest
from dockerfile_parse import DockerfileParser

from tests.support.clirun import run
from tests.support.paths import CORPUS, corpus_files

FORMATS = ("repo-info", "dockerfile", "json", "table")
JSON_FILES = [
    *corpus_files("fixtures", "config", pattern="*.json"),
    *corpus_files("fixtures", "manifest", pattern="*.json"),
    *corpus_files("fixtures", "index", pattern="*.json"),
]
LAYOUTS = corpus_files("fixtures", "oci-layout")


def _sources():
    """(spec, id) for every JSON file and every reference of every OCI layout."""
    specs = [(str(path), path.name) for path in JSON_FILES]
    for layout in LAYOUTS:
        listing = run("ls", layout, "--json")
        assert listing.code == 0, listing.err
        for line in listing.out.splitlines():
            selector = json.loads(line)["selector"]
            specs.append((f"oci:{layout}:{selector}", f"{layout.name}:{selector}"))
    return specs


SOURCES = _sources() if CORPUS.is_dir() else []


def test_the_corpus_is_here_or_skipped():
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    assert len(JSON_FILES) >= 7 and len(LAYOUTS) >= 2 and len(SOURCES) >= 11


@pytest.mark.parametrize(("spec", "fmt"), [(s, f) for s, _ in SOURCES for f in FORMATS])
def test_renders_without_error(spec, fmt):
    result = run("show", spec, "--format", fmt)
    assert result.code == 0, result.err
    assert result.out.strip()


def _images(document):
    root = document["root"]
    if root["kind"] == "image":
        return [root]
    found = []

    def walk(index):
        for entry in index["entries"]:
            if entry["index"]:
                walk(entry["index"])
            elif entry["image"]:
                found.append(entry["image"])

    walk(root)
    return found


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: p.name)
def test_json_output_keeps_what_the_file_says(path):
    raw = json.loads(path.read_text())
    document = json.loads(run("show", path, "--format", "json").out)
    assert document["schema"] == "reconstruct/v1"
    images = _images(document)
    if "history" in raw:  # a config
        (image,) = images
        assert [s["created_by"] for s in image["steps"]] == [
            h.get("created_by") for h in raw["history"]
        ]
        assert image["diff_ids"] == raw["rootfs"]["diff_ids"]
        non_empty = [s for s in image["steps"] if not s["empty_layer"]]
        if len(non_empty) == len(raw["rootfs"]["diff_ids"]):
            assert [image["layers"][s["layer_index"]]["diff_id"] for s in non_empty] == raw[
                "rootfs"
            ]["diff_ids"]
    elif "layers" in raw:  # a manifest alone: layers known, config absent
        (image,) = images
        assert [layer["digest"] for layer in image["layers"]] == [
            d["digest"] for d in raw["layers"]
        ]
        assert image["total_size"] == sum(d["size"] for d in raw["layers"])
        foreign = [d for d in raw["layers"] if "foreign" in d["mediaType"]]
        assert sum(layer["foreign"] for layer in image["layers"]) == len(foreign)
        assert any("config blob" in w for w in image["warnings"])
    else:  # an index whose manifests are not beside it
        assert [e["digest"] for e in document["root"]["entries"]] == [
            m["digest"] for m in raw["manifests"]
        ]
        assert all(not e["present"] for e in document["root"]["entries"])


def test_windows_manifest_with_its_config():
    manifest = (
        CORPUS
        / "fixtures/manifest/dockerview_dotnet-framework-runtime-4.8-ltsc2022_windows_foreign-layers_manifest.json"
    )
    config = (
        CORPUS
        / "fixtures/config/dockerview_dotnet-framework-runtime-4.8-ltsc2022_windows_config.json"
    )
    if not manifest.exists():
        pytest.skip("corpus absent")
    result = run("show", manifest, "--config", config, "--name", "dotnet/framework/runtime:4.8")
    assert result.code == 0, result.err
    text = result.out
    raw = json.loads(manifest.read_text())
    assert text.count("MIME: application/vnd.docker.image.rootfs.foreign.diff.tar.gzip") == 2
    assert "RUN Apply image 2022-RTM-amd64" in text and "RUN Install update ltsc2022-amd64" in text
    assert "$ docker pull dotnet/framework/runtime@sha256:" in text
    total = sum(d["size"] for d in raw["layers"])
    assert f"({total} bytes)" in text
    # the corpus config is pretty-printed, so it hashes to something else: said, not hidden
    assert "the config given hashes to" in text


@pytest.mark.parametrize("spec", [s for s, _ in SOURCES], ids=[i for _, i in SOURCES])
def test_dockerfile_output_is_a_valid_dockerfile(spec, tmp_path):
    text = run("show", spec, "--format", "dockerfile").out
    for number, block in enumerate(re.split(r"\n(?=# [a-z]+(?: version [^;]+)?; )", text)):
        if "not present in this source" in block:
            continue
        folder = tmp_path / str(number)
        folder.mkdir()
        parser = DockerfileParser(path=str(folder))
        parser.content = block
        instructions = [i["instruction"] for i in parser.structure if i["instruction"] != "COMMENT"]
        assert instructions and instructions[0] == "FROM", block
        allowed = {
            "FROM",
            "RUN",
            "CMD",
            "LABEL",
            "EXPOSE",
            "ENV",
            "ADD",
            "COPY",
            "ENTRYPOINT",
            "VOLUME",
            "USER",
            "WORKDIR",
            "ARG",
            "ONBUILD",
            "STOPSIGNAL",
            "HEALTHCHECK",
            "SHELL",
            "MAINTAINER",
            "COMMENT",
        }
        assert set(instructions) <= allowed, instructions
