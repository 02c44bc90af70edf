"""Every reference spelling behaviour depends on, under its own name (reconstruct/refs.py)."""

from __future__ import annotations

import pytest

from reconstruct.model import Reference
from reconstruct.refs import (
    closest_tags,
    display_name,
    holding_label,
    listing_label,
    looks_like_reference,
    normalized_name,
    repo_info_name,
    report_label,
    repositories_key,
    split_reference,
)


@pytest.mark.parametrize(
    ("name", "engine", "data_root"),
    [
        ("python", "docker.io/library/python", "docker.io/library/python"),
        ("library/python", "docker.io/library/python", "docker.io/library/python"),
        ("docker.io/python", "docker.io/library/python", "docker.io/library/python"),
        # the engine folds Docker Hub's other names into docker.io; repositories.json does not
        ("index.docker.io/python", "docker.io/library/python", "index.docker.io/python"),
        ("registry-1.docker.io/a/b", "docker.io/a/b", "registry-1.docker.io/a/b"),
        ("localhost/busybox", "localhost/busybox", "localhost/busybox"),
        ("ghcr.io/owner/app", "ghcr.io/owner/app", "ghcr.io/owner/app"),
        ("registry:5000/x", "registry:5000/x", "registry:5000/x"),
    ],
)
def test_normalized_names_and_repositories_keys(name, engine, data_root):
    assert normalized_name(name) == engine
    assert repositories_key(name) == data_root


@pytest.mark.parametrize(
    ("name", "shown", "folder"),
    [
        ("docker.io/library/python", "python", "python"),
        ("index.docker.io/library/python", "python", "python"),
        ("registry:5000/library/python", "registry:5000/library/python", "python"),
        ("ghcr.io/owner/app", "ghcr.io/owner/app", "owner/app"),
        ("owner/app", "owner/app", "owner/app"),
    ],
)
def test_display_and_repo_info_names(name, shown, folder):
    assert display_name(name) == shown  # what a repo-info header prints
    assert repo_info_name(name) == folder  # a repo-info tree's folder: no registry at all


@pytest.mark.parametrize(
    ("ref", "report", "listing", "holding"),
    [
        (Reference("a/b", "1", "sha256:x"), "a/b:1", "a/b:1", "a/b:1"),
        (Reference(None, "3", "sha256:x"), "3", "<none>:3", ":3"),
        (Reference("a/b", None, "sha256:x"), "a/b", "a/b:<none>", "a/b"),
        (Reference(None, None, "sha256:x"), "sha256:x", "sha256:x", "sha256:x"),
        (Reference(), "<unknown>", "<unknown>", "?"),
    ],
)
def test_the_three_labels_of_a_reference(ref, report, listing, holding):
    assert report_label(ref) == report  # verify and audit reports
    assert listing_label(ref) == listing  # `show --all` messages, as `docker images` spells it
    assert holding_label(ref) == holding  # "it holds: …" in a source's errors


def test_reference_grammar_and_splitting():
    assert split_reference("registry:5000/a/b:1@sha256:" + "0" * 64) == ("registry:5000/a/b", "1")
    assert split_reference("registry:5000/a/b") == ("registry:5000/a/b", None)
    assert looks_like_reference("python:3") and looks_like_reference("3f2a9c1b7d4e")
    assert not looks_like_reference("image.tar") and not looks_like_reference("./python")
    assert closest_tags("pyhton:3", ["python:3", "busybox:1"]) == ["python:3"]
