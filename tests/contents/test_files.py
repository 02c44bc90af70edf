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
from tests.support.limits import assert_clean, run_limited

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


def changes_context(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "Dockerfile").write_text(CHANGES_DOCKERFILE)
    (folder / "secret.env").write_text(
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    )
    (folder / "tree").mkdir()
    (folder / "tree" / "a.txt").write_text("a\n")
    (folder / "tree" / "b.txt").write_text("b\n")
    return folder


@pytest.fixture(scope="module")
def changes_save(dockerd, tmp_path_factory):
    """CHANGES_DOCKERFILE built by dockerd 20.10 and saved; the image is removed afterwards, so
    that the engine holds what the other tests expect."""
    context = changes_context(tmp_path_factory.mktemp("changes"))
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
    read_once_lists_alike(changes_save, changes_save.parent)
    text = run("files", str(changes_save), "--step", str(removing["step"]))
    assert text.code == 0 and "- ?????????? " in text.out and "-rwsr-xr-x" in text.out
    # the folder's hash recomputed from its layer matches (its name in the context is the
    # destination's); the secret's does not (copied to another name than it had)
    shown = run("show", str(changes_save), "--format", "dockerfile").out.splitlines()
    assert shown[shown.index("COPY tree/ /opt/tree/") - 3].startswith(
        "# the dir: hash recomputed from the layer matches"
    )
    assert shown[shown.index("COPY .env /app/.env") - 2].startswith(
        "# the file: hash recomputed from the layer does not match"
    )


def read_once_lists_alike(save: Path, tmp_path: Path) -> None:
    """A save given compressed or on standard input (read once: its layers listed as they pass)
    lists as the plain file does, and audit --files finds the secret there too."""
    plain = files_json(str(save))
    packed = tmp_path / f"{save.name}.gz"
    packed.write_bytes(subprocess.run(["gzip", "-c", str(save)], capture_output=True).stdout)
    from_gzip = files_json(str(packed))
    piped = run("files", "-", "--format", "json", stdin=save.read_bytes())
    assert piped.code == 0, piped.err
    for other in (from_gzip, json.loads(piped.out)):
        for mine, theirs in zip(plain["images"], other["images"], strict=True):
            assert mine["steps"] == theirs["steps"]
    audit = run("audit", "-", "--files", "--format", "json", stdin=packed.read_bytes())
    rules = {f["rule"] for f in json.loads(audit.out)["images"][0]["findings"]}
    assert audit.code == 0 and "F002" in rules and SECRET not in audit.out


def saved_layers_listed_as_tar_does(save: Path) -> list[dict]:
    report = files_json(str(save))
    (image,) = report["images"]
    steps = [step for step in image["steps"] if step["layer"]]
    with tarfile.open(save) as tar:
        index = json.load(tar.extractfile("index.json"))
        names = [m.name for m in tar.getmembers()]

        def blob(digest: str) -> bytes:
            return tar.extractfile(f"blobs/sha256/{digest.split(':')[1]}").read()

        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        if manifest.get("manifests"):  # an index: the one image it holds
            manifest = json.loads(blob(manifest["manifests"][0]["digest"]))
        layers = [blob(layer["digest"]) for layer in manifest["layers"]]
    assert names and len(steps) == len(layers)
    for step, data in zip(steps, layers, strict=True):
        assert listed_entries(step) == expected_entries(data), step["instruction"]
    return image["steps"]


def test_dockerd26_buildkit_and_classic_builds(dockerd26_overlayfs, tmp_path):
    """dockerd 26 with the containerd image store: BuildKit's layers and the classic builder's,
    saved (OCI layout archive), listed as tar lists them; CLI 26's context hashes recomputed."""
    d = dockerd26_overlayfs
    context = changes_context(tmp_path / "context")
    d.run("buildx", "build", "-q", "--network", "none", "-t", CHANGES, str(context))
    classic = "reconstruct-test/changes-classic:1"
    from tests.plugins.engines.processes import run as engine_run

    engine_run(
        [d.cli, "build", "-q", "--network", "none", "-t", classic, str(context)],
        env=d.env | {"DOCKER_BUILDKIT": "0"},
    )
    try:
        for name, ref in (("buildkit", CHANGES), ("classic", classic)):
            save = tmp_path / f"{name}.tar"
            d.run("save", "-o", str(save), ref)
            steps = saved_layers_listed_as_tar_does(save)
            replacing = next(s for s in steps if s["instruction"].startswith("RUN rm -rf"))
            replaced = {(e["change"], e["path"]) for e in replacing["entries"]}
            assert ("added", "opt/tree/new.txt") in replaced
            removing = next(s for s in steps if s["instruction"].startswith("RUN rm /app"))
            assert ("removed", "app/.env") in {
                (e["change"], e["path"]) for e in removing["entries"]
            }
        read_once_lists_alike(tmp_path / "buildkit.tar", tmp_path)
        shown = run("show", str(tmp_path / "classic.tar"), "-f", "dockerfile").out.splitlines()
        assert shown[shown.index("COPY tree/ /opt/tree/") - 3].startswith(
            "# the dir: hash recomputed from the layer matches"
        ), shown
        engine = files_json_args("files", f"docker-daemon:{CHANGES}", "--host", d.host)
        saved = files_json(str(tmp_path / "buildkit.tar"))
        assert [s["entries"] for s in engine["images"][0]["steps"]] == [
            s["entries"] for s in saved["images"][0]["steps"]
        ]
        audit = run("audit", str(tmp_path / "buildkit.tar"), "--files", "--format", "json")
        findings = json.loads(audit.out)["images"][0]["findings"]
        assert "F002" in {f["rule"] for f in findings} and SECRET not in audit.out
    finally:
        d.run("rmi", CHANGES, classic)


def test_an_opaque_folder_from_buildah_on_overlay(podman_stores, build_context, tmp_path):
    """containers/storage's overlay driver writes a folder made again as an opaque whiteout."""
    from tests.plugins.engines.containers_storage import bud_args

    cs = podman_stores.overlay
    context = changes_context(tmp_path / "context")
    ref = "localhost/reconstruct-test/changes-bud:1"
    cs.buildah(*bud_args(cs, build_context), "--layers", "-t", ref, str(context))
    try:
        report = files_json(f"containers-storage:{cs.root}:{ref}")
        last = [s for s in report["images"][0]["steps"] if s["layer"]][-1]
        assert ("opaque", "opt/tree") in {(e["change"], e["path"]) for e in last["entries"]}
        assert last["totals"]["hidden_bytes"] >= 4  # a.txt and b.txt, hidden below
        layout = tmp_path / "layout"
        cs.skopeo("copy", "--quiet", cs.storage_ref(ref), f"oci:{layout}:1")
        from_layout = files_json(f"oci:{layout}:1")
        entries = [[s["entries"] for s in r["images"][0]["steps"]] for r in (report, from_layout)]
        assert entries[0] == entries[1]  # rebuilt from tar-split as skopeo writes the blobs
    finally:
        cs.buildah("rmi", ref)


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


def _layout(
    folder: Path,
    layers: list[bytes],
    *,
    config: dict | None = None,
    foreign: list[dict] = (),
    media_type: str = "application/vnd.oci.image.manifest.v1+json",
) -> Path:
    """An OCI layout of one image tagged `1`: `layers` stored as plain tars, after the
    `foreign` descriptors (not stored); `config` replaces the default's keys (linux/amd64,
    one history step per layer)."""
    blobs = folder / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    stored = [put(layer) for layer in layers]
    diff_ids = [d["digest"] for d in stored]
    document = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"/bin/sh -c step {n}"} for n in range(len(layers))],
    }
    document |= config or {}
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                **put(json.dumps(document).encode()),
            },
            "layers": [
                *foreign,
                *({"mediaType": "application/vnd.oci.image.layer.v1.tar", **d} for d in stored),
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
                        "mediaType": media_type,
                        **put(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": "1"},
                    }
                ],
            }
        )
    )
    return folder


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "-1", "1e3"])
def test_a_pax_number_that_is_no_ascii_number_is_unknown(tmp_path, value):
    # str.isdigit() takes "²" and "٣", which int() refuses: the command stopped, quoting it
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("etc/odd")
        info.size, info.pax_headers = 2, {"uid": value, "gid": value}
        tar.addfile(info, io.BytesIO(b"x\n"))
    layout = _layout(tmp_path / "layout", [buffer.getvalue()])
    for command in (
        ["files", f"oci:{layout}", "--format", "json"],
        ["audit", "--files", f"oci:{layout}"],
    ):
        result = run(*command)
        assert result.code == 0, result
    (entry,) = listed_entries(files_json(f"oci:{layout}")["images"][0]["steps"][0])
    assert entry[1] == "etc/odd", entry


def test_a_repeated_opaque_marker_costs_once(tmp_path):
    # 100,000 files, then 100,000 copies of the marker hiding them: each copy walked the
    # emptied folder's whole table again (quadratic: minutes); now seconds, bounded like any
    # listing by run_limited's time and memory
    files = [(f"x/{n}", b"", 0o644) for n in range(100_000)]
    markers = [("x/.wh..wh..opq", b"", 0o644)] * 100_000
    layout = _layout(tmp_path / "layout", [_tar(files), _tar(markers)])
    result = run_limited("files", f"oci:{layout}", "--jobs", "1", "--format", "json")
    assert_clean(result)
    assert result.code == 0, result
    first, second = json.loads(result.out)["images"][0]["steps"]
    assert len(first["entries"]) == 100_000
    assert {e["change"] for e in second["entries"]} == {"opaque"}


def test_one_blob_listed_many_times_is_bounded_by_entries_in_all(tmp_path, monkeypatch):
    # a manifest may list one small blob any number of times: what is listed is bounded (the
    # bound lowered here from 1,000,000, which a 1.8 MB layout of one 199,000-member layer
    # listed 10 times passed)
    import reconstruct.contents as contents
    from reconstruct import api
    from reconstruct.errors import SourceError

    monkeypatch.setattr(contents, "MAX_IMAGE_ENTRIES", 1_000)
    layer = _tar([(f"f/{n}", b"", 0o644) for n in range(300)])
    assert len(api.files(f"oci:{_layout(tmp_path / 'three', [layer] * 3)}", workers=1)) == 1
    with pytest.raises(SourceError, match="more than 1,000 entries in all"):
        api.files(f"oci:{_layout(tmp_path / 'four', [layer] * 4)}", workers=1)


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
    # moby's hash recomputed from each layer: the copied file and folder are exactly the
    # recorded sources (the source names equal the destinations'); the tarball is not (ADD
    # hashed the archive, the layer holds it unpacked)
    checks = [
        line
        for line in shown.out.splitlines()
        if line.startswith(("# the file: hash", "# the dir: hash"))
    ]
    assert checks == [
        "# the file: hash recomputed from the layer matches: it holds exactly that source",
        "# the dir: hash recomputed from the layer matches: it holds exactly that source",
        "# the file: hash is not checkable: ADD may have unpacked an archive, and the hash is "
        "of the archive",
        "# the file: hash recomputed from the layer matches: it holds exactly that source",
    ], shown.out
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


def test_an_engine_lists_through_its_export(dockerd, docker_saves):
    """`docker-daemon:`: the engine's export (`GET /images/get`), read once as it streams."""
    from tests.plugins.engines.images import FULL

    from_engine = files_json_args("files", f"docker-daemon:{FULL}", "--host", dockerd.host)
    from_save = files_json(str(docker_saves.full.path))
    steps = from_engine["images"][0]["steps"]
    assert [s["entries"] for s in steps] == [s["entries"] for s in from_save["images"][0]["steps"]]
    assert sum(len(s["entries"]) for s in steps) > 100
    audit = run("audit", f"docker-daemon:{FULL}", "--files", "--host", dockerd.host, "-f", "json")
    assert audit.code == 0, audit.err
    assert json.loads(audit.out)["images"][0]["label"] == FULL


def files_json_args(*args: str) -> dict:
    result = run(*args, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_a_docker_data_root_lists_its_unpacked_layers(dockerd, docker_saves):
    """The classic store keeps layers unpacked (vfs/dir/<cache-id>) with a tar-split beside
    each layerdb record: the rebuilt streams list as the saved blobs do."""
    from tests.plugins.engines.images import FULL

    from_root = files_json(f"docker-root:{dockerd.data_root}:{FULL}")
    from_save = files_json(str(docker_saves.full.path))
    steps = from_root["images"][0]["steps"]
    assert [s["entries"] for s in steps] == [s["entries"] for s in from_save["images"][0]["steps"]]
    assert all(s["unreadable"] is None for s in steps if s["layer"])
    assert sum(len(s["entries"]) for s in steps) > 100


def test_layers_listed_in_worker_processes_apply_in_order(tmp_path):
    """Listed in processes (each a layer) or one by one, the changes are the same."""
    from reconstruct.contents import image_files
    from reconstruct.sources import open_source

    layers = [
        _tar([(f"d{n}", None, 0o755), *((f"d{n}/f{i}", b"x" * i, 0o644) for i in range(50))])
        for n in range(6)
    ]
    layers.append(_tar([(f"d{n}/.wh..wh..opq", b"", 0o644) for n in range(6)]))
    layout = _layout(tmp_path / "layout", layers)
    source, selector = open_source(f"oci:{layout}:1")
    target = source.get(selector)
    view = source.blobs(source.selected(selector))
    one, four = (image_files(target.root, view, "x", None, workers=n) for n in (1, 4))
    assert [s.entries for s in one.steps] == [s.entries for s in four.steps]
    assert four.hidden_bytes == 6 * sum(range(50)) and len(four.steps[-1].entries) == 6


def test_a_windows_image_lists_its_layers_files_and_hives_and_names_the_foreign_base(tmp_path):
    """A Windows image: the base layers are foreign (`…foreign.diff.tar.gzip`, served by
    Microsoft, not in the layout); the layers built on them hold `Files/` (the file system)
    and `Hives/` (registry hives), listed as they are."""
    built = _tar(
        [
            ("Files", None, 0o755),
            ("Files/app", None, 0o755),
            ("Files/app/run.exe", b"MZ" + b"\0" * 100, 0o644),
            ("Hives", None, 0o755),
            ("Hives/Software_Delta", b"regf" + b"\0" * 60, 0o644),
        ]
    )
    foreign = {
        "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "digest": "sha256:" + "f" * 64,
        "size": 1_500_000_000,
        "urls": ["https://mcr.microsoft.com/v2/windows/servercore/blobs/sha256:" + "f" * 64],
    }
    built_diff = "sha256:" + hashlib.sha256(built).hexdigest()
    config = {
        "os": "windows",
        "os.version": "10.0.20348.2527",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "e" * 64, built_diff]},
        "history": [
            {"created": "2024-06-01T00:00:00Z", "created_by": "Apply image 10.0.20348.2527"},
            {"created": "2024-06-02T00:00:00Z", "created_by": "cmd /S /C copy app C:\\app"},
        ],
    }
    layout = _layout(
        tmp_path / "layout",
        [built],
        config=config,
        foreign=[foreign],
        media_type="application/vnd.docker.distribution.manifest.v2+json",
    )
    base, app = files_json(f"oci:{layout}:1")["images"][0]["steps"]
    assert base["unreadable"] == "a foreign layer: not distributed with the image"
    assert base["instruction"].startswith("RUN Apply image 10.0.20348.2527")
    assert [e["path"] for e in app["entries"]] == [
        "Files",
        "Files/app",
        "Files/app/run.exe",
        "Hives",
        "Hives/Software_Delta",
    ]
    assert app["after_unreadable"] and app["totals"]["added"] == 5
    text = run("files", f"oci:{layout}:1")
    assert text.code == 0 and "foreign layer" in text.out and "Hives/Software_Delta" in text.out
