"""A repository's tag-details.md as a source (`tag-details:`), and a repo-info checkout built
from the corpus' real upstream documents mirrored back byte for byte (`diff -r`): every
remote/<tag>.md in its own era, and tag-details.md files both as upstream's update-remote.sh
assembles them (assembled here from that script's own steps) and the 2016
generate-tag-details.pl file as it was published."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reconstruct import api
from reconstruct.sources import detect
from tests.support.clirun import assert_one_line_error, run
from tests.support.paths import corpus_files

DOCUMENTS = corpus_files("repo-info", pattern="*.md")
TAG_DETAILS = [p for p in DOCUMENTS if "__tag-details__" in p.name]
REMOTE = [p for p in DOCUMENTS if "__tag-details__" not in p.name]


def header_of(document: bytes) -> tuple[str, str]:
    """(name, tag) of a remote document's first line, `## `name:tag``."""
    reference = document.split(b"\n", 1)[0].decode().removeprefix("## `").removesuffix("`")
    name, _, tag = reference.rpartition(":")
    return name, tag


def update_remote_tag_details(repo: str, documents: dict[str, bytes]) -> bytes:
    """tag-details.md as update-remote.sh writes it: its generated comment, title, a ToC line per
    `bashbrew list` entry (`repo:tag`, `sort -u` in the C locale) with GitHub's anchor (dots and
    colons dropped, lower case), then for each tag a bare `echo` and the document."""
    tags = sorted({f"{repo}:{tag}" for tag in documents}, key=str.encode)
    out = [
        b"<!-- THIS FILE IS GENERATED VIA './update-remote.sh' -->\n",
        b"\n",
        f"# Tags of `{repo}`\n".encode(),
        b"\n",
    ]
    for tag in tags:
        href = "#" + tag.replace(".", "").replace(":", "").lower()
        out.append(f"-\t[`{tag}`]({href})\n".encode())
    if not tags:
        out.append(b"-\t**No supported tags**\n")
    for tag in tags:
        out.append(b"\n")
        out.append(documents[tag.partition(":")[2]])
    return b"".join(out)


def checkouts(top: Path) -> list[Path]:
    """Checkout-shaped trees of every corpus document: a tag seen on several dates goes to the
    next tree, so that each tree holds one document per tag."""
    trees: list[dict[str, dict[str, bytes]]] = []
    for path in REMOTE:
        document = path.read_bytes()
        name, tag = header_of(document)
        for tree in trees:
            if tag not in tree.setdefault(name, {}):
                tree[name][tag] = document
                break
        else:
            trees.append({name: {tag: document}})
    roots = []
    for number, tree in enumerate(trees):
        root = top / f"checkout-{number}"
        for name, documents in tree.items():
            remote = root / "repos" / name / "remote"
            remote.mkdir(parents=True)
            for tag, document in documents.items():
                (remote / f"{tag}.md").write_bytes(document)
            (root / "repos" / name / "tag-details.md").write_bytes(
                update_remote_tag_details(name, documents)
            )
        roots.append(root)
    # the 2016 file as published, with its tags' documents as its sections hold them
    for path in TAG_DETAILS:
        data = path.read_bytes()
        source, _ = api.open_source(f"tag-details:{path}")
        name = source.name
        folder = roots[0] / "repos" / name
        (folder / "remote").mkdir(parents=True)
        (folder / "tag-details.md").write_bytes(data)
        for tag, document in source.documents:
            (folder / "remote" / f"{tag}.md").write_bytes(document)
    return roots


@pytest.mark.parametrize("path", TAG_DETAILS, ids=lambda p: p.name)
def test_a_tag_details_file_is_a_source_of_its_tags(path):
    assert detect(path) == "tag-details"
    listed = run("ls", "--json", str(path))
    assert listed.code == 0, listed.err
    tags = [line for line in listed.out.splitlines() if line]
    assert len(tags) == 2
    whole = run("show", str(path))
    assert whole.code == 0 and whole.out == path.read_text()
    one = run("show", f"tag-details:{path}:latest")
    assert one.code == 0 and one.out.startswith("## `rakudo-star:latest`\n")
    assert one.out in path.read_text()
    every = run("show", str(path), "--all", "--format", "jsonl")
    assert every.code == 0 and len(every.out.splitlines()) == 2
    refused = run("show", f"repo-info:{path}")
    assert_one_line_error(refused)
    assert "tag-details:FILE" in refused.err


def test_a_checkout_mirrors_back_byte_for_byte(tmp_path):
    roots = checkouts(tmp_path)
    assert len(roots) >= 2  # python:3-windowsservercore is there on three dates
    for root in roots:
        out = tmp_path / f"{root.name}-mirrored"
        result = run("mirror", f"repo-info-dir:{root}", str(out))
        assert result.code == 0, result.err
        diff = subprocess.run(["diff", "-r", str(root), str(out)], capture_output=True, text=True)
        assert diff.returncode == 0, diff.stdout[:3000]
        again = run("mirror", f"repo-info-dir:{root}", str(out))  # nothing to rewrite
        assert again.code == 0 and " 0 written" in again.out, again.out


def test_an_assembled_tag_details_reads_back_too(tmp_path):
    documents = {}
    for path in REMOTE:
        name, tag = header_of(path.read_bytes())
        if name == "python":
            documents.setdefault(tag, path.read_bytes())
    assembled = tmp_path / "tag-details.md"
    assembled.write_bytes(update_remote_tag_details("python", documents))
    assert run("show", str(assembled)).out == assembled.read_text()
    for tag in documents:
        one = run("show", f"{assembled}:python:{tag}")
        assert one.code == 0 and one.out.encode() == documents[tag]
