"""`reconstruct compare`: upstream documents, Dockerfiles and images, whatever their sources."""

from __future__ import annotations

import json

import pytest

from reconstruct.api import load
from reconstruct.compare import compare
from tests.support.clirun import run
from tests.support.paths import CORPUS, SAMPLE, SEED, corpus_files, need

CURRENT_ERA_DOCS = [
    path
    for path in corpus_files("repo-info", pattern="*.md")
    if "-\tPlatforms: " in path.read_text()
]
ALL_DOCS = corpus_files("repo-info", pattern="*.md")


def test_sample_against_the_seed_differs_in_digests_only():
    result = run("compare", SAMPLE, need(SEED), "--format", "json")
    assert result.code == 1, result.err
    report = json.loads(result.out)
    differing = [f["name"] for f in report["fields"] if f["status"] == "differ"]
    for platform in report["platforms"]:
        assert platform["platform_a"] == platform["platform_b"]
        differing += [f["name"] for f in platform["fields"] if f["status"] == "differ"]
        assert {p["status"] for p in platform["steps"]} == {"matched"}
        assert all(f["status"] == "equal" for p in platform["steps"] for f in p["fields"])
        assert {p["status"] for p in platform["layers"]} == {"matched"}
        for layer in platform["layers"]:
            fields = {f["name"]: f["status"] for f in layer["fields"]}
            assert fields["last modified"] == "unknown"  # the sample cannot know it
            assert {fields[n] for n in ("digest", "size", "media type", "foreign")} == {"equal"}
    assert sorted(differing) == sorted(["digest"] + ["manifest digest", "Image ID"] * 3)
    text = run("compare", SAMPLE, SEED)
    assert text.code == 1 and text.out.endswith("result: differ (7 differences)\n")


@pytest.mark.parametrize("path", CURRENT_ERA_DOCS, ids=lambda p: p.name)
def test_current_era_documents_reproduce_byte_for_byte_and_compare_equal(path, tmp_path):
    rendered = run("show", path)
    assert rendered.code == 0, rendered.err
    assert rendered.out == path.read_text()
    copy = tmp_path / "rendered.md"
    copy.write_text(rendered.out)
    result = run("compare", path, copy)
    assert result.code == 0, result.out
    assert result.out.endswith("result: equal\n")


@pytest.mark.parametrize("path", ALL_DOCS, ids=lambda p: p.name)
def test_every_era_reads_and_renders_back_in_its_own_era(path):
    """Every real document, a whole tag-details.md too, with no --era: as it was written."""
    result = run("show", path)
    assert result.code == 0, result.err
    assert result.out == path.read_text()
    assert run("show", path, "--format", "json").code == 0


def test_the_same_tag_on_two_dates_shows_the_real_changes():
    old = need(CORPUS / "repo-info" / "python__3-windowsservercore__06ac6884aa.md")
    new = CORPUS / "repo-info" / "python__3-windowsservercore__0c9183bfbd.md"
    report = json.loads(run("compare", old, new, "--format", "json").out)
    platforms = [(p["platform_a"], p["platform_b"]) for p in report["platforms"]]
    # ltsc2016 and 1803 were dropped, ltsc2022 added; 1809 stayed, with a newer update
    assert ("windows version 10.0.14393.3274; amd64", None) in platforms
    assert any(a is None and b.startswith("windows version 10.0.20348.") for a, b in platforms)
    (kept,) = [p for p in report["platforms"] if p["platform_a"] and p["platform_b"]]
    assert kept["platform_a"].startswith("windows version 10.0.17763.")
    assert kept["platform_b"].startswith("windows version 10.0.17763.")
    fields = {f["name"]: f for f in kept["fields"]}
    assert fields["Docker Version"]["status"] == "differ"
    # the Windows base steps are the same instructions (Apply image), rebuilt on a new update
    steps = kept["steps"]
    assert steps[0]["status"] == "matched" and steps[0]["a"] == "RUN Apply image 1809-RTM-amd64"
    assert any(
        s["status"] == "differing" and s["a"].startswith("ENV PYTHON_VERSION=") for s in steps
    )
    old_doc, new_doc = old.read_text(), new.read_text()
    for pair in kept["layers"]:
        if pair["status"] == "only_b":
            assert pair["b"] in new_doc and pair["b"] not in old_doc
    assert report["equal"] is False


def test_a_document_compared_with_itself_from_an_old_era_is_equal():
    doc = need(CORPUS / "repo-info" / "python__3-windowsservercore__2d0a01307b.md")
    assert run("compare", doc, doc).code == 0


def test_dockerfile_against_an_image_history(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM mcr.microsoft.com/windows/servercore:ltsc2016\n"
        'SHELL ["powershell", "-Command", "$ErrorActionPreference = \'Stop\'; $ProgressPreference = \'SilentlyContinue\';"]\n'
        "ENV PYTHON_VERSION 3.7.4\nENV PYTHON_RELEASE 3.7.4\n"
    )
    a = load(str(dockerfile))
    b = load(str(SAMPLE), platform="windows/amd64:10.0.14393")
    result = compare(a, b)
    (platform,) = result.platforms
    statuses = [p.status for p in platform.steps]
    # base steps (Apply image, Install update) belong to the base image, the rest align in order
    assert statuses[:2] == ["base", "base"]
    assert statuses[2:5] == ["matched", "matched", "matched"]
    assert statuses[5:] == ["only_b"] * 6  # the rest of the image is not in this short Dockerfile


def test_changed_dockerfile_line_is_reported_at_its_step(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        'FROM x\nSHELL ["powershell", "-Command", "$ErrorActionPreference = \'Stop\'; $ProgressPreference = \'SilentlyContinue\';"]\n'
        "ENV PYTHON_VERSION 3.7.5\nENV PYTHON_RELEASE 3.7.4\n"
    )
    report = json.loads(
        run(
            "compare",
            dockerfile,
            f"oci:{SAMPLE}",
            "--platform",
            "windows/amd64:10.0.17763",
            "--format",
            "json",
        ).out
    )
    (platform,) = report["platforms"]
    differing = [p for p in platform["steps"] if p["status"] == "differing"]
    assert len(differing) == 1
    assert differing[0]["a_index"] == 1 and differing[0]["b_index"] == 3
    assert (
        differing[0]["a"] == "ENV PYTHON_VERSION=3.7.5"
        and differing[0]["b"] == "ENV PYTHON_VERSION=3.7.4"
    )


def test_diff_format_is_a_unified_diff_of_renderings():
    result = run("compare", SAMPLE, need(SEED), "--format", "diff")
    assert result.code == 1
    changed = [
        line
        for line in result.out.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    expected = ("docker pull", "Image ID", "Last Modified", "Platforms")
    assert changed and all(any(word in line for word in expected) for line in changed)


def test_missing_document_and_errors(tmp_path):
    missing = tmp_path / "missing.md"
    missing.write_text("## `nothing:here`\n\n**does not exist** (yet?)\n")
    result = run("show", missing)
    assert result.code == 2 and "does not exist upstream" in result.err
    assert run("compare", SAMPLE, tmp_path / "nope").code == 2


def test_a_date_with_an_overflowing_year_is_unknown(tmp_path):
    # found by the fuzzer: `# Wed, 11 Sep 99999999999999999999 …` raised OverflowError
    doc = tmp_path / "year.md"
    doc.write_text(
        "## `x:1`\n\n-\tPlatforms: 1\n\t-\tlinux; amd64\n\n### `x:1` - linux; amd64\n\n"
        "```dockerfile\n# Wed, 11 Sep 99999999999999999999 17:56:40 GMT\nRUN true\n```\n"
    )
    result = run("show", doc, "--format", "json")
    assert result.code == 0, result.err
    assert '"created": null' in result.out
