"""The bundled sample against the seed it was written from."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys

from tests.support.clirun import run
from tests.support.paths import SAMPLE, SAMPLE_UPSTREAM, SEED, need

# Lines that cannot match: digests of re-serialized JSON, and what needs the network.
DIFFERENT_BY_NATURE = ("$ docker pull ", "-\tImage ID: ")


def test_sample_upstream_copy_is_the_seed():
    assert SAMPLE_UPSTREAM.read_bytes() == need(SEED).read_bytes()


def test_sample_renders_the_seed_line_for_line_in_the_2019_format():
    result = run("show", SAMPLE, "--name", "python:3-windowsservercore", "--era", "2019")
    assert result.code == 0, result.err
    ours = result.out.splitlines()
    theirs = [
        line
        for line in SAMPLE_UPSTREAM.read_text().splitlines()
        if not line.startswith("\t\tLast Modified: ")  # unknown offline, so not printed
    ]
    assert len(ours) == len(theirs)
    differing = []
    for mine, upstream in zip(ours, theirs, strict=True):
        if mine != upstream:
            assert mine.startswith(DIFFERENT_BY_NATURE), (mine, upstream)
            assert upstream.startswith(mine.split("@")[0].split("`")[0])
            differing.append(mine)
    # the list digest, three manifest digests and three Image IDs, nothing else
    assert len(differing) == 7
    assert not result.out.endswith("\n\n")


def test_todays_format_differs_from_2019_only_by_the_platform_count():
    today = run("show", SAMPLE, "--name", "python:3-windowsservercore").out.splitlines()
    then = run(
        "show", SAMPLE, "--name", "python:3-windowsservercore", "--era", "2019"
    ).out.splitlines()
    changed = [(a, b) for a, b in zip(today, then, strict=True) if a != b]
    assert changed == [("-\tPlatforms: 3", "-\tPlatforms:")]


def test_name_comes_from_the_layout_annotations():
    result = run("show", SAMPLE)
    assert result.out.startswith("## `python:3-windowsservercore`\n")


def test_foreign_layers_are_marked_and_carry_urls():
    import json

    document = json.loads(run("show", SAMPLE, "--format", "json").out)
    images = [entry["image"] for entry in document["root"]["entries"]]
    assert len(images) == 3
    for image in images:
        foreign = [layer for layer in image["layers"] if layer["foreign"]]
        assert len(foreign) == 2 and all(layer["urls"] for layer in foreign)
        # the Windows base steps are exactly the ones that produced the foreign layers
        base_steps = [s for s in image["steps"] if s["instruction"]["windows_base"]]
        assert [s["layer_index"] for s in base_steps] == [0, 1]
        assert image["warnings"] == []


def test_the_sample_script_is_deterministic(tmp_path):
    copy = tmp_path / "samples"
    shutil.copytree(SAMPLE.parent, copy)
    subprocess.run([sys.executable, str(copy / "make_sample.py")], check=True, capture_output=True)
    comparison = filecmp.dircmp(SAMPLE, copy / SAMPLE.name)
    assert comparison.left_only == comparison.right_only == []
    blobs = filecmp.dircmp(SAMPLE / "blobs" / "sha256", copy / SAMPLE.name / "blobs" / "sha256")
    assert blobs.left_only == blobs.right_only == blobs.diff_files == []
    assert comparison.diff_files == []
