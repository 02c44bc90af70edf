"""The command line as a user meets it: errors, options, listing, speed of --help."""

from __future__ import annotations

import json
import stat

from tests.support.clirun import assert_one_line_error, run
from tests.support.paths import SAMPLE


def test_help_explains_sources_and_formats():
    result = run("--help")
    assert result.code == 0
    assert "oci:DIR" in result.out and "show" in result.out and "ls" in result.out
    show = run("show", "--help").out
    for word in ("--format", "--platform", "--name", "--era", "--config", "repo-info"):
        assert word in show


def test_no_arguments_prints_help():
    result = run()
    assert result.code == 0 and "Usage: reconstruct" in result.out


def test_bad_inputs_give_one_line_and_exit_2(tmp_path):
    not_json = tmp_path / "notes.txt"
    not_json.write_text("hello\n")
    broken = tmp_path / "broken.json"
    broken.write_text('{"history": [')
    array = tmp_path / "array.json"
    array.write_text("[1, 2]")
    other = tmp_path / "other.json"
    other.write_text('{"hello": "world"}')
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    for args in (
        ("show", tmp_path / "missing"),
        ("show", not_json),
        ("show", broken),
        ("show", array),
        ("show", other),
        ("show", empty_dir),
        ("show", SAMPLE, "--format", "xml"),
        ("show", SAMPLE, "--platform", "a//b"),
        ("show", SAMPLE, "--platform", "linux/arm64"),
        ("show", f"oci:{SAMPLE}:no-such-tag"),
        ("show", f"oci:{tmp_path}"),
        ("show", SAMPLE, "--name", ":"),
        ("show",),
        ("ls", tmp_path / "missing"),
    ):
        assert_one_line_error(run(*args))


def test_inputs_are_not_written(tmp_path):
    before = {
        p: (p.stat().st_mtime_ns, stat.S_IMODE(p.stat().st_mode), p.read_bytes())
        for p in SAMPLE.rglob("*")
        if p.is_file()
    }
    for fmt in ("repo-info", "dockerfile", "json", "table"):
        assert run("show", SAMPLE, "--format", fmt).code == 0
    after = {
        p: (p.stat().st_mtime_ns, stat.S_IMODE(p.stat().st_mode), p.read_bytes())
        for p in SAMPLE.rglob("*")
        if p.is_file()
    }
    assert before == after


def test_platform_selection():
    result = run("show", SAMPLE, "--platform", "windows/amd64:10.0.17134", "--format", "json")
    document = json.loads(result.out)
    (entry,) = document["root"]["entries"]
    assert entry["platform"]["os_version"] == "10.0.17134.1006"
    repo_info = run("show", SAMPLE, "--platform", "windows/amd64:10.0.14393").out
    assert "-\tPlatforms: 1\n\t-\twindows version 10.0.14393.3204; amd64\n" in repo_info


def test_ls_lists_name_tag_digest():
    rows = [json.loads(line) for line in run("ls", SAMPLE, "--json").out.splitlines()]
    assert rows == [
        {
            "name": "docker.io/library/python",
            "tag": "3-windowsservercore",
            "digest": json.loads((SAMPLE / "index.json").read_text())["manifests"][0]["digest"],
            "selector": "docker.io/library/python:3-windowsservercore",
        }
    ]
    assert "3-windowsservercore" in run("ls", SAMPLE).out


def test_selectors_by_tag_and_digest():
    digest = json.loads((SAMPLE / "index.json").read_text())["manifests"][0]["digest"]
    by_tag = run("show", f"oci:{SAMPLE}:3-windowsservercore")
    by_name = run("show", f"oci:{SAMPLE}:python:3-windowsservercore")
    by_digest = run("show", f"oci:{SAMPLE}:{digest[:19]}")
    assert by_tag.code == by_name.code == by_digest.code == 0
    assert by_tag.out == by_name.out == by_digest.out == run("show", SAMPLE).out


def test_manifest_with_config_and_blob_folder(tmp_path):
    blobs = SAMPLE / "blobs" / "sha256"
    index = json.loads((SAMPLE / "index.json").read_text())["manifests"][0]["digest"]
    listing = json.loads((blobs / index.split(":")[1]).read_text())
    manifest_digest = listing["manifests"][2]["digest"]
    manifest_path = blobs / manifest_digest.split(":")[1]
    config_digest = json.loads(manifest_path.read_text())["config"]["digest"]
    config_path = blobs / config_digest.split(":")[1]
    from_layout = run("show", SAMPLE, "--platform", "windows/amd64:10.0.17763", "--format", "json")
    expected = json.loads(from_layout.out)["root"]["entries"][0]["image"]
    alone = json.loads(run("show", manifest_path, "--config", config_path, "--format", "json").out)[
        "root"
    ]
    assert alone["steps"] == expected["steps"] and alone["layers"] == expected["layers"]
    assert alone["config_digest"] == config_digest and alone["manifest_digest"] == manifest_digest
    # a folder of blobs named by digest reads as a store; its top is the index
    folder = tmp_path / "blobs"
    folder.mkdir()
    for blob in blobs.iterdir():
        (folder / f"sha256:{blob.name}").write_bytes(blob.read_bytes())
    from_folder = run("show", folder, "--name", "python:3-windowsservercore")
    assert from_folder.code == 0, from_folder.err
    assert from_folder.out == run("show", SAMPLE, "--name", "python:3-windowsservercore").out


def test_config_alone_has_no_invented_values(tmp_path):
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]},
        "history": [
            {
                "created": "2020-01-02T03:04:05Z",
                "created_by": "/bin/sh -c #(nop) ADD file:" + "a" * 64 + " in / ",
            }
        ],
        "config": {"Cmd": ["sh"]},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    text = run("show", path, "--name", "x:1").out
    assert "$ docker pull x:1" in text  # no manifest digest to pull by
    assert "Total Size: **unknown**" in text
    assert "`sha256:" + "1" * 64 + "` (diff_id; compressed digest unknown)" in text
    assert "Manifest MIME" not in text and "Last Modified" not in text


def test_all_images_of_a_source_in_every_format():
    from tests.support.paths import CORPUS, need

    layout = need(CORPUS / "fixtures" / "oci-layout" / "ggcr_test_index_nested")
    tags = [json.loads(line)["tag"] for line in run("ls", layout, "--json").out.splitlines()]
    lines = run("show", layout, "--all", "--format", "jsonl").out.splitlines()
    assert [json.loads(line)["reference"]["tag"] for line in lines] == tags
    array = json.loads(run("show", layout, "--all", "--format", "json").out)
    assert [document["reference"]["tag"] for document in array] == tags
    documents = run("show", layout, "--all").out
    assert [line for line in documents.splitlines() if line.startswith("## ")] == [
        f"## `<none>:{tag}`" for tag in tags
    ]
    one = run("show", f"oci:{layout}:{tags[0]}").out
    assert documents.startswith(one + "\n## ")
