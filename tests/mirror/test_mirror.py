"""`mirror`: whole stores as a repo-info tree, checked with `diff -r` against trees built here from
each image's own `reconstruct show` output; `show --all --format jsonl` on a registry.

The expected tag-details.md is written here from upstream's `update-remote.sh` as documented
(generated-file comment, title, one ToC line per tag in byte order, a blank line before each
document), independently of render/tagdetails.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconstruct import api as service
from reconstruct.cli import app
from reconstruct.mirror import QuietReporter, mirror, repo_name, source_specs
from reconstruct.render import tagdetails
from tests.support.clirun import assert_one_line_error, run
from tests.support.paths import CORPUS, REPO, SAMPLE, need

LAYOUTS = CORPUS / "fixtures" / "oci-layout"
ARCHIVES = [
    *sorted((CORPUS / "fixtures" / "docker-save").glob("*.tar")),
    *sorted((CORPUS / "fixtures" / "oci-archive").glob("*.tar")),
]
MAKE_REGISTRY = REPO / "bench" / "make_registry.py"


# --- expectations from `show` ------------------------------------------------------------------


def cli(*args: str) -> str:
    """The real command, in this process (the same code path as a subprocess, only faster)."""
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.stdout


def listed(spec: str, *options: str) -> list[dict]:
    return [json.loads(line) for line in cli("ls", "--json", spec, *options).splitlines()]


def upstream_tag_details(repo: str, documents: dict[str, str]) -> str:
    tags = sorted(documents, key=lambda tag: tag.encode())  # `sort -u` in the C locale
    lines = [
        "<!-- THIS FILE IS GENERATED VIA './update-remote.sh' -->",
        "",
        f"# Tags of `{repo}`",
        "",
    ]
    for tag in tags:
        href = f"{repo}:{tag}".replace(".", "").replace(":", "").lower()
        lines.append(f"-\t[`{repo}:{tag}`](#{href})")
    return "\n".join(lines) + "\n" + "".join("\n" + documents[tag] for tag in tags)


def expected_tree(
    root: Path, specs: list[str], name: str | None = None, options: tuple[str, ...] = ()
) -> None:
    """`show SPEC:SELECTOR --name REPO:TAG` of every tagged image, laid out as repo-info does.

    `specs`: sources, with their transport; `name`: the repository of images listed by tag
    only; `options`: for `ls` and `show` both (an engine's --host)."""
    repos: dict[str, dict[str, str]] = {}
    for spec in specs:
        for entry in listed(spec, *options):
            if not entry["tag"]:
                continue
            repo = expected_repo(entry["name"] or name)
            reference = f"{repo}:{entry['tag']}"
            one = spec + entry["selector"] if spec.endswith(":") else f"{spec}:{entry['selector']}"
            document = cli("show", one, "--name", reference, *options)
            repos.setdefault(repo, {})[entry["tag"]] = document
    for repo, documents in repos.items():
        remote = root / "repos" / repo / "remote"
        remote.mkdir(parents=True)
        for tag, document in documents.items():
            (remote / f"{tag}.md").write_text(document)
        (root / "repos" / repo / "tag-details.md").write_text(upstream_tag_details(repo, documents))


def expected_repo(name: str) -> str:
    """repo-info's names: no registry host, no `library/` (written out, not imported)."""
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if parts[0] == "library" and len(parts) > 1:
        parts = parts[1:]
    return "/".join(parts)


def diff_r(expected: Path, actual: Path) -> None:
    done = subprocess.run(
        ["diff", "-r", str(expected), str(actual)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[:4000] + done.stderr


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def run_mirror(*args: str):
    result = run("mirror", *args)
    assert "Traceback" not in result.err
    return result


def summary_counts(result) -> dict[str, int]:
    """`… 3 written, 10 unchanged, 0 removed[, N skipped][, N failed]` from the summary line."""
    line = result.out.strip().splitlines()[-1]
    counts = {}
    for part in line.split(": ", 1)[1].split(", "):
        number, word = part.split(" ", 1)
        counts[word] = int(number)
    return counts


# --- a generated registry (the benchmark's generator, small) -----------------------------------


def make_registry(root: Path, images: int, per_repo: int = 4) -> Path:
    need(CORPUS)
    subprocess.run(
        [sys.executable, MAKE_REGISTRY, root, "--images", str(images), "--per-repo", str(per_repo)],
        check=True,
        capture_output=True,
    )
    return root


def v2(root: Path) -> Path:
    return root / "docker" / "registry" / "v2"


def tag_link(root: Path, name: str, tag: str) -> Path:
    return v2(root) / "repositories" / name / "_manifests" / "tags" / tag / "current" / "link"


def blob(root: Path, digest: str) -> Path:
    hexpart = digest.removeprefix("sha256:")
    return v2(root) / "blobs" / "sha256" / hexpart[:2] / hexpart / "data"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """12 images (Linux, Windows with foreign layers, multi-platform) in 3 repositories."""
    return make_registry(tmp_path_factory.mktemp("generated") / "store", 12)


def test_mirror_of_a_generated_registry_matches_show_and_reruns_write_nothing(generated, tmp_path):
    expected, out = tmp_path / "expected", tmp_path / "out"
    expected_tree(expected, [f"registry-dir:{generated}"])
    first = run_mirror(generated, out)
    assert first.code == 0, first.err
    diff_r(expected, out)
    assert summary_counts(first) == {"written": 12 + 3, "unchanged": 0, "removed": 0}
    before = snapshot(out)
    again = run_mirror(generated, out)
    assert again.code == 0 and summary_counts(again)["written"] == 0
    assert summary_counts(again)["unchanged"] == 15
    assert snapshot(out) == before
    assert not list(out.rglob(".*.tmp"))


def test_serial_and_parallel_runs_write_the_same_bytes(generated, tmp_path):
    for jobs in ("1", "2", "3"):
        assert run_mirror(generated, tmp_path / jobs, "--jobs", jobs).code == 0
    assert snapshot(tmp_path / "1") == snapshot(tmp_path / "2") == snapshot(tmp_path / "3")


def test_a_changed_input_rewrites_only_its_documents(tmp_path):
    store = make_registry(tmp_path / "store", 12)
    out = tmp_path / "out"
    assert run_mirror(store, out).code == 0
    before = snapshot(out)
    # retag: library/app0's 1.0.1 now names the manifest 1.0.0 names
    name = "library/app0"
    tag_link(store, name, "1.0.1").write_text(tag_link(store, name, "1.0.0").read_text())
    result = run_mirror(store, out)
    assert result.code == 0, result.err
    # (the manifest 1.0.1 named before is untagged now: skipped)
    assert summary_counts(result) == {"written": 2, "unchanged": 13, "removed": 0, "skipped": 1}
    after = snapshot(out)
    changed = {path for path in after if after[path] != before.get(path)}
    assert changed == {"repos/app0/remote/1.0.1.md", "repos/app0/tag-details.md"}
    # a tag deleted: its document goes, its repository's tag-details.md is rewritten
    shutil.rmtree(tag_link(store, name, "1.0.1").parents[1])
    result = run_mirror(store, out)
    assert summary_counts(result) == {"written": 1, "unchanged": 13, "removed": 1, "skipped": 1}
    assert not (out / "repos/app0/remote/1.0.1.md").exists()
    expected = tmp_path / "expected"
    expected_tree(expected, [f"registry-dir:{store}"])
    diff_r(expected, out)


def test_a_failing_image_is_reported_and_the_rest_go_on(tmp_path):
    store = make_registry(tmp_path / "store", 12)
    out = tmp_path / "out"
    assert run_mirror(store, out).code == 0
    details = (out / "repos/app0/tag-details.md").read_bytes()
    broken = tag_link(store, "library/app0", "1.0.2").read_text()
    blob(store, broken).write_bytes(b"{not json")
    # and a tag the previous run did not have, in the same repository: not written into
    # tag-details.md, which cannot be complete now
    tag_link(store, "library/app0", "9.9").parent.mkdir(parents=True)
    tag_link(store, "library/app0", "9.9").write_text(
        tag_link(store, "library/app0", "1.0.0").read_text()
    )
    result = run_mirror(store, out)
    assert result.code == 1
    assert f"reconstruct: {store}: app0:1.0.2: " in result.err and "not valid JSON" in result.err
    assert "tag-details.md not rewritten" in result.err
    assert result.out.strip().endswith("1 failed")
    assert (out / "repos/app0/remote/9.9.md").is_file()  # the rest went on
    assert (out / "repos/app0/tag-details.md").read_bytes() == details
    assert (out / "repos/app0/remote/1.0.2.md").is_file()  # the last good document is kept


def test_untagged_images_are_skipped_with_a_note(tmp_path):
    store = make_registry(tmp_path / "store", 4)
    tags = v2(store) / "repositories" / "library/app0" / "_manifests" / "tags"
    shutil.rmtree(tags / "1.0.2")  # its manifest stays, as a revision: untagged
    result = run_mirror(store, tmp_path / "out")
    assert result.code == 0, result.err
    assert (
        "note:" in result.err and "1 untagged image(s) skipped (library/app0@sha256:" in result.err
    )
    assert summary_counts(result)["skipped"] == 1
    assert sorted(p.name for p in (tmp_path / "out/repos/app0/remote").iterdir()) == [
        "1.0.0.md",
        "1.0.1.md",
        "1.0.3-windowsservercore.md",
    ]


def test_bad_input_is_one_line_and_exit_2(generated, tmp_path):
    assert_one_line_error(run("mirror", tmp_path / "absent", tmp_path / "out"))
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert_one_line_error(run("mirror", generated, a_file))
    inside = run("mirror", generated, generated / "docker" / "mirror")
    assert_one_line_error(inside)
    assert "overlaps the source" in inside.err
    assert not (generated / "docker" / "mirror").exists()
    assert_one_line_error(run("mirror", generated, tmp_path / "out", "--jobs", "0"))


def test_outdir_is_created_and_the_source_is_not_written(generated, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in generated.rglob("*")}
    out = tmp_path / "a" / "b" / "out"
    assert run_mirror(generated, out).code == 0
    assert (out / "repos").is_dir()
    assert {p: p.stat().st_mtime_ns for p in generated.rglob("*")} == before


def test_shards_split_the_repositories_without_overlap(generated, tmp_path):
    whole = tmp_path / "whole"
    assert run_mirror(generated, whole).code == 0
    shares = [tmp_path / f"share{k}" for k in (1, 2, 3)]
    for k, share in enumerate(shares, 1):
        assert run_mirror(generated, share, "--shard", f"{k}/3").code == 0
    trees = [snapshot(share) if share.exists() else {} for share in shares]
    assert sum(len(tree) for tree in trees) == len(snapshot(whole))
    assert {path: data for tree in trees for path, data in tree.items()} == snapshot(whole)
    assert_one_line_error(run("mirror", generated, tmp_path / "x", "--shard", "4/3"))


# --- show --all --format jsonl on a registry ---------------------------------------------------


def test_jsonl_of_a_registry_is_one_object_per_image(generated):
    lines = run("show", generated, "--all", "--format", "jsonl").out.splitlines()
    entries = listed(str(generated))
    assert len(lines) == len(entries) == 12
    for line, entry in zip(lines, entries, strict=True):
        document = json.loads(line)
        assert document["reference"]["name"] == entry["name"]
        assert document["reference"]["tag"] == entry["tag"]
        one = cli("show", f"registry-dir:{generated}:{entry['selector']}", "--format", "jsonl")
        assert line + "\n" == one


def test_load_all_streams_reading_one_image_at_a_time(generated, monkeypatch):
    reads = []
    original = service.get_listed

    def counting(source, reference):
        reads.append(reference.selector)
        return original(source, reference)

    monkeypatch.setattr(service, "get_listed", counting)
    results = service.load_all(str(generated))
    first = next(iter(results))
    assert len(reads) == 1 and first[0].selector == reads[0]
    assert sum(1 for _ in results) == 11 and len(reads) == 12


# --- the sample, the corpus, archives ----------------------------------------------------------


def test_mirror_of_the_sample(tmp_path):
    expected, out = tmp_path / "expected", tmp_path / "out"
    expected_tree(expected, [f"oci:{SAMPLE}"])
    assert run_mirror(SAMPLE, out).code == 0
    diff_r(expected, out)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.md")) == [
        "repos/python/remote/3-windowsservercore.md",
        "repos/python/tag-details.md",
    ]


@pytest.mark.parametrize(
    "layout", ["ggcr_test_index_nested", "stereoscope_multiplatform_buildkit_containerd-store"]
)
def test_mirror_of_corpus_layouts(layout, tmp_path):
    path = need(LAYOUTS / layout)
    expected, out = tmp_path / "expected", tmp_path / "out"
    expected_tree(expected, [f"oci:{path}"], name=layout)
    result = run_mirror(path, out)
    assert result.code == 0, result.err
    diff_r(expected, out)
    again = run_mirror(path, out)
    assert summary_counts(again)["written"] == 0


def test_nameless_images_go_under_the_name_given(tmp_path):
    path = need(LAYOUTS / "ggcr_test_index_nested")
    result = run_mirror(path, tmp_path / "out", "--name", "nested")
    assert result.code == 0, result.err
    assert sorted(p.name for p in (tmp_path / "out/repos/nested/remote").iterdir()) == [
        "1.md",
        "2.md",
        "3.md",
        "4.md",
    ]


def test_a_directory_of_archives_is_one_source_per_file(tmp_path):
    if not ARCHIVES:
        pytest.skip(f"{CORPUS} is absent")
    folder = tmp_path / "archives"
    folder.mkdir()
    for archive in ARCHIVES:
        shutil.copy(archive, folder / archive.name)
    (folder / "notes.txt").write_text("not an archive\n")
    specs = source_specs(str(folder))
    assert specs == [f"docker-archive:{folder / a.name}" for a in sorted(folder.glob("*.tar"))]
    expected, out = tmp_path / "expected", tmp_path / "out"
    expected_tree(expected, specs)
    result = run_mirror(folder, out)
    assert result.code == 0, result.err
    diff_r(expected, out)
    assert (out / "repos/jib-core/remote/jib-base-image.md").is_file()  # host dropped
    assert "untagged image(s) skipped" in result.err


def test_a_tag_two_sources_hold_is_written_once(tmp_path):
    folder = tmp_path / "archives"
    folder.mkdir()
    for name in ("a.tar", "b.tar"):
        shutil.copy(need(CORPUS / "fixtures/docker-save/dive_test-kaniko-image.tar"), folder / name)
    summary = mirror(str(folder), tmp_path / "out", reporter=(reporter := QuietReporter()))
    assert summary.images == 1 and summary.skipped == 1 and summary.failed == 0
    assert any("b.tar: dive-test:kaniko-latest skipped" in note for note in reporter.notes)


def test_an_archive_on_standard_input(tmp_path):
    archive = need(CORPUS / "fixtures/docker-save/jib_busybox-jib-core_tarball.tar")
    result = run("mirror", "-", tmp_path / "out", stdin=archive.read_bytes())
    assert result.code == 0, result.err
    expected = cli("show", f"docker-archive:{archive}", "--name", "jib-core:jib-base-image")
    assert (tmp_path / "out/repos/jib-core/remote/jib-base-image.md").read_text() == expected


def test_progress_bar_only_on_a_terminal():
    import io

    from reconstruct.cli.progress import ConsoleReporter

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream, bar in ((io.StringIO(), False), (Terminal(), True)):
        with ConsoleReporter(stream) as reporter:
            reporter.start(3)
            reporter.advance(1)
            reporter.note("hello")
            assert (reporter.progress is not None) is bar
        assert "reconstruct: note: hello" in stream.getvalue()


# --- the test registry (a real distribution registry's storage) --------------------------------


def test_mirror_of_the_test_registry(registry, tmp_path):
    """Every tag skopeo pushed, as the registry stored it."""
    expected, out = tmp_path / "expected", tmp_path / "out"
    expected_tree(expected, [f"registry-dir:{registry.storage}"])
    result = run_mirror(registry.storage, out)
    assert result.code == 0, result.err
    diff_r(expected, out)
    for name, tag in registry.repos:
        document = (out / "repos" / name / "remote" / f"{tag}.md").read_text()
        assert f"$ docker pull {name}@{registry.pushed[f'{name}:{tag}'].digest}" in document
    again = run_mirror(registry.storage, out)
    assert summary_counts(again)["written"] == 0


# --- names and the format of tag-details.md ----------------------------------------------------


def test_repo_info_names():
    assert repo_name("docker.io/library/python") == "python"
    assert repo_name("localhost:5000/jib-core") == "jib-core"
    assert repo_name("localhost/busybox") == "busybox"
    assert repo_name("quay.io/team/app") == "team/app"
    assert repo_name("library/python") == "python"
    assert repo_name("team/app") == "team/app"


def test_tag_details_header_as_upstream_writes_it():
    # The head of docker-library/repo-info's repos/archlinux/tag-details.md (2024-08).
    upstream = (
        "<!-- THIS FILE IS GENERATED VIA './update-remote.sh' -->\n\n# Tags of `archlinux`\n\n"
        "-\t[`archlinux:base`](#archlinuxbase)\n"
        "-\t[`archlinux:base-20240804.0.251467`](#archlinuxbase-202408040251467)\n"
        "-\t[`archlinux:base-devel`](#archlinuxbase-devel)\n"
        "-\t[`archlinux:base-devel-20240804.0.251467`](#archlinuxbase-devel-202408040251467)\n"
        "-\t[`archlinux:latest`](#archlinuxlatest)\n"
        "-\t[`archlinux:multilib-devel`](#archlinuxmultilib-devel)\n"
        "-\t[`archlinux:multilib-devel-20240804.0.251467`](#archlinuxmultilib-devel-202408040251467)\n"
    )
    tags = [
        "multilib-devel-20240804.0.251467",
        "latest",
        "base-devel",
        "base",
        "multilib-devel",
        "base-devel-20240804.0.251467",
        "base-20240804.0.251467",
    ]
    assert tagdetails.header("archlinux", tagdetails.sort_tags(tags)) == upstream
    whole = tagdetails.render("archlinux", {tag: f"## `archlinux:{tag}`\n" for tag in tags})
    assert whole.startswith(upstream + "\n## `archlinux:base`\n\n## `archlinux:base-2024")
    assert whole.endswith("\n\n## `archlinux:multilib-devel-20240804.0.251467`\n")


def test_tags_sort_in_byte_order_as_upstream():
    # adminer's ToC: `-` (0x2d) sorts before `.` (0x2e), digits before letters
    tags = ["latest", "4.17.1", "4-fastcgi", "5", "4", "fastcgi", "4.17.1-fastcgi", "4-standalone"]
    assert tagdetails.sort_tags(tags) == [
        "4",
        "4-fastcgi",
        "4-standalone",
        "4.17.1",
        "4.17.1-fastcgi",
        "5",
        "fastcgi",
        "latest",
    ]
    assert tagdetails.header("x", []).endswith("-\t**No supported tags**\n")


# --- the test engine: its API, and its data root read from disk --------------------------------


def test_mirror_of_the_test_engine(dockerd, tmp_path):
    expected, out = tmp_path / "expected", tmp_path / "out"
    options = ("--host", dockerd.host)
    expected_tree(expected, ["docker-daemon:"], options=options)
    result = run_mirror("docker-daemon:", out, *options)
    assert result.code == 0, result.err
    diff_r(expected, out)
    assert (out / "repos/reconstruct-test/full/remote/1.md").is_file()
    assert summary_counts(run_mirror("docker-daemon:", out, *options))["written"] == 0


def test_mirror_of_the_test_engines_data_root(dockerd, tmp_path):
    expected, out = tmp_path / "expected", tmp_path / "out"
    spec = f"docker-root:{dockerd.data_root}"
    expected_tree(expected, [spec])
    result = run_mirror(spec, out)
    assert result.code == 0, result.err
    diff_r(expected, out)
    assert (out / "repos/reconstruct-test/small/remote/1.md").is_file()
