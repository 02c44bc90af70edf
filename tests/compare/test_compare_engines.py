"""An image built here by real engines, compared with the Dockerfile that built it."""

from __future__ import annotations

import json

import pytest

from tests.support.clirun import run

pytestmark = pytest.mark.engines


def _report(dockerfile, image_spec):
    result = run("compare", dockerfile, image_spec, "--format", "json")
    assert result.code in (0, 1), result.err
    (platform,) = json.loads(result.out)["platforms"]
    return platform["steps"]


def _dockerfile_instructions(text: str) -> int:
    lines = [
        line
        for line in text.replace("\\\n", " ").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return len([line for line in lines if not line.startswith("FROM")])


def test_classic_builder_image_matches_its_dockerfile(skopeo, build_context):
    steps = _report(build_context.full / "Dockerfile", f"oci:{skopeo.oci.path}:1")
    statuses = [s["status"] for s in steps]
    assert set(statuses) <= {"base", "matched"}, [
        s for s in steps if s["status"] not in ("base", "matched")
    ]
    matched = [s for s in steps if s["status"] == "matched"]
    assert len(matched) == _dockerfile_instructions(build_context.dockerfile)
    assert [s["a_index"] for s in matched] == list(range(len(matched)))


def test_a_changed_dockerfile_line_is_reported_at_its_step(skopeo, build_context, tmp_path):
    changed = build_context.dockerfile.replace("RUN true\n", "RUN false\n")
    assert changed != build_context.dockerfile
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(changed)
    steps = _report(dockerfile, f"oci:{skopeo.oci.path}:1")
    differing = [s for s in steps if s["status"] == "differing"]
    assert len(differing) == 1
    (step,) = differing
    assert step["a"] == "RUN false" and step["b"] == "RUN true"
    lines = [line for line in changed.splitlines() if line and not line.startswith(("FROM", " "))]
    assert lines[step["a_index"]] == "RUN false"


def test_buildah_image_matches_its_dockerfile(podman, build_context):
    oci_dir = podman.oci_dir
    listing = run("ls", oci_dir.path, "--json")
    assert listing.code == 0, listing.err
    steps = _report(build_context.full / "Dockerfile", str(oci_dir.path))
    statuses = [s["status"] for s in steps]
    assert set(statuses) <= {"base", "matched"}, [
        s for s in steps if s["status"] not in ("base", "matched")
    ]
