"""`containers-storage:` read offline from graph roots podman, buildah and skopeo wrote here
(tests/plugins/engines/podman_stores.py: vfs, overlay, a rootless-style root; podman load,
import, pull from a local registry, manifest lists, buildah bud).

The ground truth is what the tools say of their own store: `podman image inspect`,
`podman images -a`, `skopeo inspect --raw` of `containers-storage:` (the exact manifest bytes),
`podman manifest inspect`, and `podman save` of the same image.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from reconstruct import api
from reconstruct.sources import detect
from tests.plugins.engines.podman_stores import MULTI, MULTI_LIST, podman_images
from tests.support.clirun import assert_one_line_error, run

STORES = ("vfs", "overlay", "pulled")


@pytest.fixture(scope="module", params=STORES)
def store(request, podman_stores):
    return podman_stores.stores[request.param]


def spec(cs, selector: str = "") -> str:
    return f"containers-storage:{cs.root}" + (f":{selector}" if selector else "")


def inspect(cs, image_id: str) -> dict:
    return json.loads(cs.podman("image", "inspect", image_id).stdout)[0]


def raw_manifest(cs, ref: str) -> bytes:
    """What skopeo reads from the store: an image by its ID (64 hex digits) or a reference."""
    return cs.skopeo("inspect", "--raw", cs.storage_ref(ref.removeprefix("sha256:"))).stdout


def test_every_image_podman_lists_is_listed(store):
    """The same images (by Image ID) and the same names; the unnamed ones by Image ID."""
    listed = api.list_references(spec(store))
    podman = podman_images(store)
    assert {ref.image_id for ref in listed} == {"sha256:" + i["Id"] for i in podman}
    names = {name for image in podman for name in image.get("Names") or []}
    assert {ref.selector for ref in listed if ref.name} == names
    unnamed = {i["Id"] for i in podman if not i.get("Names")}
    assert {ref.selector for ref in listed if not ref.name} == unnamed
    for ref in listed:
        assert ref.digest is None or ref.digest == "sha256:" + ref.digest.split(":")[1]


def test_every_image_equals_podman_inspect(store):
    """Image ID, Digest, names, platform, config, history and diff_ids, for every image;
    the manifest is the one skopeo reads from the store, byte for byte."""
    for ref in api.list_references(spec(store)):
        if ref.selector == MULTI_LIST:
            continue  # podman inspects a manifest list's local instance: the test below
        target = api.load(spec(store, ref.selector))
        truth = inspect(store, ref.image_id)
        assert ref.digest == truth["Digest"], ref
        if ref.name:  # a name (name:tag), or a name by digest
            names = truth["RepoTags"] + truth.get("RepoDigests", []) + truth.get("NamesHistory", [])
            assert ref.selector in names, ref
        images = [image for _, _, image in target.images() if image.config_digest == ref.image_id]
        assert len(images) == 1, ref
        image = images[0]
        assert image.config_digest == "sha256:" + truth["Id"]
        assert (image.platform.os, image.platform.architecture) == (
            truth["Os"],
            truth["Architecture"],
        )
        assert image.diff_ids == truth["RootFS"]["Layers"], ref
        config = truth["Config"]
        assert (image.env or None) == (config.get("Env") or None), ref
        assert image.cmd == config.get("Cmd"), ref
        assert image.entrypoint == (config.get("Entrypoint") or None), ref
        assert (image.labels or None) == (config.get("Labels") or None), ref
        assert (image.working_dir or "") == config.get("WorkingDir", ""), ref
        assert (image.user or "") == config.get("User", ""), ref
        history = truth.get("History") or []
        assert [s.created_by for s in image.steps] == [h.get("created_by") for h in history]
        assert [s.empty_layer for s in image.steps] == [bool(h.get("empty_layer")) for h in history]
        manifest = raw_manifest(store, ref.image_id)
        assert image.manifest_digest == "sha256:" + hashlib.sha256(manifest).hexdigest(), ref
        layers = json.loads(manifest)["layers"]
        assert [(layer.digest, layer.size) for layer in image.layers] == [
            (d["digest"], d["size"]) for d in layers
        ], ref


def test_pulled_by_index_keeps_the_index(podman_stores):
    """Pulled for two platforms in turn: each record reached through the pushed index, which
    skopeo reads back from the store by its digest; the moved name and the unnamed image."""
    cs = podman_stores.pulled
    multi = podman_stores.multi
    name = f"{podman_stores.registry.host}/{MULTI}:1"
    target = api.load(spec(cs, name))
    assert target.reference.digest == multi.digest
    assert raw_manifest(cs, f"{name.rpartition(':')[0]}@{multi.digest}") == multi.manifest_raw
    platforms = {
        (entry.platform.architecture, entry.present)
        for entry in target.root.entries
        if entry.platform is not None
    }
    assert platforms == {("amd64", False), ("arm64", True)}  # the name is on arm64 now
    unnamed = [ref for ref in api.list_references(spec(cs)) if not ref.name]
    assert [ref.digest for ref in unnamed] == [multi.digest]
    amd64 = api.load(spec(cs, unnamed[0].selector[:12]))
    present = [e.platform.architecture for e in amd64.root.entries if e.present]
    assert present == ["amd64"]


def test_a_manifest_list_reaches_its_instances(podman_stores):
    cs = podman_stores.overlay
    truth = json.loads(cs.podman("manifest", "inspect", MULTI_LIST).stdout)
    target = api.load(spec(cs, MULTI_LIST))
    entries = target.root.entries
    assert [(e.digest, e.platform.architecture) for e in entries] == [
        (m["digest"], m["platform"]["architecture"]) for m in truth["manifests"]
    ]
    assert all(entry.present for entry in entries)


def test_history_lines_follow_the_rules_for_its_config(store, tmp_path: Path):
    """The rendering of each image equals that of its own config read alone (json:)."""
    for ref in api.list_references(spec(store)):
        if not ref.name or ref.selector == MULTI_LIST:
            continue
        config = tmp_path / "config.json"
        config.write_bytes(
            store.skopeo("inspect", "--config", "--raw", store.storage_ref(ref.image_id[7:])).stdout
        )
        target = api.load(spec(store, ref.selector))
        images = [image for _, _, image in target.images() if image.config_digest == ref.image_id]
        alone = api.load(f"json:{config}").images()[0][2]
        assert [s.created_by for s in images[0].steps] == [s.created_by for s in alone.steps]
        ours = api.render(target, "dockerfile").split("\n\n")
        theirs = api.render(api.load(f"json:{config}"), "dockerfile")
        body = theirs.split("\n", 1)[1]  # without its platform comment
        assert any(block.endswith(body.rstrip("\n")) for block in ours) or body in "\n\n".join(
            ours
        ), ref


def test_compare_with_podman_save_exits_0(podman_stores, tmp_path: Path):
    for store, cs in podman_stores.stores.items():
        for number, ref in enumerate(api.list_references(spec(cs))):
            if not ref.tag or ref.selector == MULTI_LIST:
                continue
            saved = tmp_path / f"{store}-{number}.tar"
            cs.podman(
                "save", "--quiet", "--format", "docker-archive", "-o", str(saved), ref.selector
            )
            result = run("compare", spec(cs, ref.selector), f"docker-archive:{saved}")
            assert result.code == 0, (ref.selector, result.out, result.err)


def test_commands_work_on_the_store(store, tmp_path: Path):
    verify = run("verify", spec(store), "--format", "json")
    assert verify.code == 0, verify.err
    report = json.loads(verify.out)
    assert report["summary"]["mismatch"] == 0 and report["summary"]["ok"] > 0
    layers = [c for g in report["groups"] for c in g["checks"] if c["kind"] == "layer"]
    # every layer rebuilt from podman's own tar-split and files, and hashed to its diff_id
    # (the platform the pulled index lists but this store does not hold has no layer check)
    assert layers and all(c["verdict"] == "ok" and "tar-split" in c["reason"] for c in layers)
    audit = run("audit", spec(store), "--format", "json")
    assert audit.code in (0, 1), audit.err
    assert json.loads(audit.out)["images"]
    shown = run("show", spec(store), "--all", "--format", "json")
    assert shown.code == 0, shown.err
    out = tmp_path / "mirror"
    mirrored = run("mirror", spec(store), str(out))
    assert mirrored.code == 0, mirrored.err
    assert list((out / "repos").glob("**/remote/*.md"))
    assert run("ls", str(store.root)).code == 0
    assert detect(store.root) == "containers-storage"


def test_base_finds_the_imported_busybox(podman_stores):
    cs = podman_stores.vfs
    result = run(
        "base",
        spec(cs, "localhost/reconstruct-test/full:buildah"),
        "--against",
        spec(cs, "localhost/busybox:local"),
        "--json",
    )
    assert result.code == 0, result.err
    assert "busybox" in result.out


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            found[str(path)] = (info.st_size, info.st_mtime_ns)
    return found


def test_read_only_and_never_blocked_by_podmans_locks(podman_stores):
    """Every lock file held exclusively (as a running podman holds them): ls, show and verify
    finish, and the store is unchanged to the nanosecond."""
    cs = podman_stores.overlay
    locks = sorted(str(p) for p in cs.root.rglob("*.lock"))
    assert locks
    before = _snapshot(cs.root)
    script = "".join(f"exec {9 + n}<>'{lock}'; flock -x {9 + n}; " for n, lock in enumerate(locks))
    holder = subprocess.Popen(
        ["bash", "-c", script + "echo held; sleep 120"], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout.readline() == b"held\n"
        for args in (("ls", spec(cs)), ("show", spec(cs), "--all"), ("verify", spec(cs))):
            result = run(*args, timeout=120)
            assert result.code == 0, (args, result.err)
    finally:
        holder.kill()
        holder.wait()
    assert _snapshot(cs.root) == before


def test_a_bad_selector_is_one_line(podman_stores):
    cs = podman_stores.overlay
    assert_one_line_error(run("show", spec(cs, "no-such:tag")))
    # `busybox` is short for both localhost/busybox:local and :arm64
    result = run("show", spec(cs, "busybox"))
    assert_one_line_error(result)
    assert "ambiguous" in result.err
