"""`files`: what each step wrote, against `tar -tv` of the same layer blobs.

Real images: a Dockerfile that adds a secret and a folder, deletes the secret, sets a setuid bit
and replaces a folder, built by dockerd 20.10's classic builder and saved (legacy layout), and
the full test image built by buildah with `--layers` read from containers-storage (layers
rebuilt from tar-split) and from an OCI layout skopeo wrote of it. Layers written here with
tarfile test the change rules themselves (whiteouts, opaque folders, hidden bytes, hostile
names)."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.plugins.engines.images import BUILDAH_LAYERS
from tests.support.clirun import assert_one_line_error, run

CHANGES = "reconstruct-test/changes:1"
CHANGES_DOCKERFILE = """\
FROM busybox:local
COPY secret.env /app/.env
COPY tree/ /opt/tree/
RUN rm /app/.env && echo tool > /bin/tool && chmod 4755 /bin/tool
RUN rm -rf /opt/tree && mkdir /opt/tree && echo new > /opt/tree/new.txt
"""


def tar_listing(data: bytes) -> list[tuple[str, str, int, int, int, str | None]]:
    """`tar -tv --numeric-owner` of a layer tar: (mode text, name, uid, gid, size, link)."""
    inflate = (
        ["-z"] if data[:2] == b"\x1f\x8b" else ["--zstd"] if data[:4] == b"\x28\xb5\x2f\xfd" else []
    )
    done = subprocess.run(
        ["tar", "-tv", "--numeric-owner", *inflate, "-f", "-"],
        input=data,
        capture_output=True,
        check=True,
    )
    rows = []
    for line in done.stdout.decode().splitlines():
        mode, owner, size, _day, _time, rest = line.split(None, 5)
        uid, gid = owner.split("/")
        link = None
        for arrow in (" -> ", " link to "):
            if arrow in rest:
                rest, link = rest.split(arrow, 1)
        rows.append((mode, rest, int(uid), int(gid), int(size), link))
    return rows


def expected_entries(data: bytes) -> list[tuple[str, str, int, int, int, str | None]]:
    """What `files` must list for a layer, from tar's own listing: names without `./`, the root
    left out, whiteouts as the paths they remove."""
    found = []
    for mode, name, uid, gid, size, link in tar_listing(data):
        path = name.removeprefix("./").rstrip("/")
        if not path:
            continue
        folder, _, base = path.rpartition("/")
        if base == ".wh..wh..opq":
            found.append(("opaque", folder))
        elif base.startswith(".wh."):
            found.append(("removed", f"{folder}/{base[4:]}".lstrip("/")))
        else:
            found.append((mode, path, uid, gid, size, link))
    return found


def listed_entries(step: dict) -> list:
    rows = []
    for entry in step["entries"]:
        if entry["change"] in ("opaque", "removed"):
            rows.append((entry["change"], entry["path"]))
        else:
            rows.append(
                (
                    _mode_text(entry),
                    entry["path"],
                    entry["uid"],
                    entry["gid"],
                    entry["size"],
                    entry["link"],
                )
            )
    return rows


def _mode_text(entry: dict) -> str:
    from reconstruct.contents.changes import Entry
    from reconstruct.render.filesreport import mode_text

    return mode_text(Entry(**{k: entry.get(k) for k in Entry.__dataclass_fields__}))


def files_json(spec: str) -> dict:
    result = run("files", spec, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


@pytest.fixture(scope="module")
def changes_save(dockerd, tmp_path_factory):
    """CHANGES_DOCKERFILE built by dockerd 20.10 and saved; the image is removed afterwards, so
    that the engine holds what the other tests expect."""
    context = tmp_path_factory.mktemp("changes")
    (context / "Dockerfile").write_text(CHANGES_DOCKERFILE)
    (context / "secret.env").write_text(
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    )
    (context / "tree").mkdir()
    (context / "tree" / "a.txt").write_text("a\n")
    (context / "tree" / "b.txt").write_text("b\n")
    dockerd.run("build", "-q", "--network", "none", "-t", CHANGES, str(context))
    save = context / "changes.tar"
    dockerd.run("save", "-o", str(save), CHANGES)
    yield save
    dockerd.run("rmi", CHANGES)


def layers_of_save(save: Path) -> list[bytes]:
    with tarfile.open(save) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        return [tar.extractfile(member).read() for member in manifest[0]["Layers"]]


def test_a_saved_image_lists_as_tar_does(changes_save):
    report = files_json(str(changes_save))
    (image,) = report["images"]
    with_layers = [step for step in image["steps"] if step["layer"]]
    layers = layers_of_save(changes_save)
    assert len(with_layers) == len(layers)
    for step, data in zip(with_layers, layers, strict=True):
        assert listed_entries(step) == expected_entries(data), step["instruction"]
    by_instruction = {step["instruction"]: step for step in image["steps"]}
    removing = next(s for i, s in by_instruction.items() if i.startswith("RUN rm /app/.env"))
    changes = {(e["change"], e["path"]) for e in removing["entries"]}
    assert ("removed", "app/.env") in changes
    tool = next(e for e in removing["entries"] if e["path"] == "bin/tool")
    assert tool["mode"] & 0o4000 and tool["change"] == "added"
    replacing = next(s for i, s in by_instruction.items() if i.startswith("RUN rm -rf /opt/tree"))
    replaced = {(e["change"], e["path"]) for e in replacing["entries"]}
    # a folder removed and made again: whiteouts of its old files (vfs diffs), or an opaque
    # marker (overlay diffs); either way the old files are gone and the new one is there
    assert ("added", "opt/tree/new.txt") in replaced
    assert {("removed", "opt/tree/a.txt"), ("removed", "opt/tree/b.txt")} <= replaced or (
        "opaque",
        "opt/tree",
    ) in replaced
    assert removing["totals"]["removed"] >= 1 and image["hidden_bytes"] > 0
    audit = run("audit", str(changes_save), "--files", "--format", "json")
    assert audit.code == 0 and "wJalrXUtnFEMI" not in audit.out
    written = next(s for i, s in by_instruction.items() if i.startswith("COPY file:"))
    rules = {(f["rule"], f["step"]) for f in json.loads(audit.out)["images"][0]["findings"]}
    assert ("F002", written["step"]) in rules and ("F004", removing["step"]) in rules
    text = run("files", str(changes_save), "--step", str(removing["step"]))
    assert text.code == 0 and "- ?????????? " in text.out and "-rwsr-xr-x" in text.out


def test_buildah_layers_from_containers_storage_and_from_a_layout(podman_stores, tmp_path):
    cs = podman_stores.vfs
    from_store = files_json(f"containers-storage:{cs.root}:{BUILDAH_LAYERS}")
    layout = tmp_path / "layout"
    cs.skopeo("copy", "--quiet", cs.storage_ref(BUILDAH_LAYERS), f"oci:{layout}:1")
    from_layout = files_json(f"oci:{layout}:1")
    steps = [s for s in from_store["images"][0]["steps"] if s["layer"]]
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest).read_bytes())
    blobs = [
        (layout / "blobs" / "sha256" / layer["digest"].split(":")[1]).read_bytes()
        for layer in manifest["layers"]
    ]
    assert len(steps) == len(blobs)
    for step, blob in zip(steps, blobs, strict=True):
        assert listed_entries(step) == expected_entries(blob), step["instruction"]
    for a, b in zip(
        steps, [s for s in from_layout["images"][0]["steps"] if s["layer"]], strict=True
    ):
        assert a["entries"] == b["entries"]
    copies = {e["path"] for s in steps for e in s["entries"]}
    assert {"opt/app/hello.txt", "opt/app/conf/app.conf", "opt/app/payload/p.txt"} <= copies


# --- the change rules, on layers written here --------------------------------------------------


def _tar(entries: list[tuple[str, bytes | None, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _layout(folder: Path, layers: list[bytes]) -> Path:
    blobs = folder / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    diff_ids = [put(layer)["digest"] for layer in layers]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": f"/bin/sh -c step {n}"} for n in range(len(layers))],
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(config)},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": 1}
                for d in diff_ids
            ],
        }
    ).encode()
    (folder / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (folder / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        **put(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": "1"},
                    }
                ],
            }
        )
    )
    return folder


def test_whiteouts_opaque_folders_and_hidden_bytes(tmp_path):
    base = _tar(
        [
            ("etc", None, 0o755),
            ("etc/secret", b"s" * 100, 0o600),
            ("opt", None, 0o755),
            ("opt/old", None, 0o755),
            ("opt/old/a", b"a" * 10, 0o644),
            ("opt/old/deep", None, 0o755),
            ("opt/old/deep/b", b"b" * 20, 0o644),
            ("bin", None, 0o755),
            ("bin/tool", b"t" * 5, 0o755),
        ]
    )
    upper = _tar(
        [
            ("etc/.wh.secret", b"", 0o644),
            ("opt/old/.wh..wh..opq", b"", 0o644),
            ("opt/old/new", b"n", 0o644),
            ("bin/tool", b"T" * 7, 0o4755),
            ("/etc/passwd", b"x", 0o644),
            ("../escape", b"x", 0o644),
        ]
    )
    layout = _layout(tmp_path / "layout", [base, upper])
    report = files_json(f"oci:{layout}:1")
    lower, top = report["images"][0]["steps"]
    assert lower["totals"]["added"] == 9 and lower["totals"]["hidden_bytes"] == 0
    changes = [(e["change"], e["path"], e["type"]) for e in top["entries"]]
    assert changes == [
        ("removed", "etc/secret", "file"),
        ("opaque", "opt/old", "dir"),
        ("added", "opt/old/new", "file"),
        ("changed", "bin/tool", "file"),
    ]
    assert top["unsafe_names"] == 2
    # the secret (100), what the opaque folder hid (10 + 20), the tool overwritten (5)
    assert top["totals"]["hidden_bytes"] == 135 == report["images"][0]["hidden_bytes"]


SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_audit_files_ties_a_removed_secret_to_the_step_that_wrote_it(tmp_path):
    env = f"AWS_SECRET_ACCESS_KEY={SECRET}\n".encode()
    layers = [
        _tar([("app", None, 0o755), ("app/.env", env, 0o600), ("app/.npmrc", b"x", 0o600)]),
        _tar([("app/.wh..env", b"", 0o644), ("bin", None, 0o755), ("bin/su", b"s", 0o4755)]),
        _tar([("data", None, 0o777), ("tmp", None, 0o1777)]),
    ]
    layout = _layout(tmp_path / "layout", layers)
    result = run("audit", f"oci:{layout}:1", "--files", "--format", "json")
    assert result.code == 0, result.err
    assert SECRET not in result.out
    findings = [
        (f["rule"], f["step"])
        for image in json.loads(result.out)["images"]
        for f in image["findings"]
        if f["rule"].startswith("F")
    ]
    assert ("F002", 1) in findings  # at the step that wrote it, not the one that removed it
    assert ("F003", 1) in findings and ("F004", 2) in findings and ("F005", 3) in findings
    sarif = run("audit", f"oci:{layout}:1", "--files", "--format", "sarif")
    assert sarif.code == 0 and SECRET not in sarif.out
    assert "secret-removed-later" in sarif.out
    text = run("audit", f"oci:{layout}:1", "--files")
    assert "removed by step 2" in text.out and SECRET not in text.out
    plain = run("audit", f"oci:{layout}:1", "--format", "json")
    assert '"F00' not in plain.out  # only with --files


def test_sources_without_layers_say_so(tmp_path):
    document = tmp_path / "doc.md"
    document.write_text("## `x:1`\n\n**does not exist** (yet?)\n")
    result = run("files", f"repo-info:{document}")
    assert_one_line_error(result)
    assert "no layer to list" in result.err
    layout = _layout(tmp_path / "layout", [_tar([("a", b"a", 0o644)])])
    for blob in (layout / "blobs" / "sha256").iterdir():
        if blob.stat().st_size == len(_tar([("a", b"a", 0o644)])):
            blob.unlink()
    report = files_json(f"oci:{layout}:1")
    assert report["images"][0]["steps"][0]["unreadable"] == "this source holds no blob of it"


def test_copy_sources_are_recovered_from_the_layers(docker_saves, podman_stores):
    """The classic builder records `COPY file:<sha> in /dst`; the layers say what was copied."""
    shown = run("show", f"docker-archive:{docker_saves.full.path}", "--format", "dockerfile")
    assert shown.code == 0, shown.err
    copies = [line for line in shown.out.splitlines() if line.startswith(("COPY ", "ADD "))]
    assert copies == [
        "COPY hello.txt /opt/app/hello.txt",
        "COPY conf/ /opt/app/conf/",
        "ADD p.txt /opt/app/payload/",  # ADD of a local tarball: what it unpacked to
        "ADD notes.txt /opt/app/",
    ]
    assert "# it adds 2 entries under /opt/app/conf/: app.conf, extra.conf" in shown.out
    # `podman import` records its root file system as `ADD file:<sha> in /`: counted
    cs = podman_stores.vfs
    base = run("show", f"containers-storage:{cs.root}:localhost/busybox:local", "-f", "dockerfile")
    assert base.code == 0, base.err
    count = int(base.out.split("# the layer holds a root file system of ")[1].split()[0])
    assert count > 100 and "ADD rootfs.tar /" in base.out  # busybox and one link per applet
    document = json.loads(
        run("show", f"docker-archive:{docker_saves.full.path}", "-f", "json", "--recover").out
    )
    recovered = [s["recovered"] for s in document["root"]["steps"] if s["recovered"]]
    assert ["hello.txt"] in recovered and ["app.conf", "extra.conf"] in recovered
    plain = json.loads(run("show", f"docker-archive:{docker_saves.full.path}", "-f", "json").out)
    assert not any(s["recovered"] for s in plain["root"]["steps"])  # only when asked
