"""`containers-storage:` on graph roots written here (tests/support/cswrite.py): the records of
older and newer writers, damaged ones, selection, the default graph root, and the tar-split
rebuild that verify hashes. Stores written by podman and buildah themselves are read in
test_containers_storage.py."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from reconstruct import api
from reconstruct.blob.digests import sha256_digest
from reconstruct.sources import detect, open_source
from reconstruct.sources.containersstorage import graphroot
from reconstruct.sources.containersstorage.store import big_data_file_name
from tests.support.attacks import IMAGE, _hex
from tests.support.clirun import assert_one_line_error, run
from tests.support.cswrite import NAME, graph_root, image_record, layer_record

IMAGE_ID = "sha256:" + _hex("config")
UNPACKED = Path("vfs") / "dir" / _hex("layer") / "data"
TAR_SPLIT = Path("vfs-layers") / f"{_hex('layer')}.tar-split.gz"


@pytest.fixture
def root(tmp_path):
    return graph_root(tmp_path / "storage")


def verify_json(spec: str) -> tuple[int, dict]:
    result = run("verify", spec, "--format", "json")
    return result.code, json.loads(result.out) if result.out else {}


def layer_checks(report: dict) -> list[dict]:
    return [c for g in report["groups"] for c in g["checks"] if c["kind"] == "layer"]


def test_big_data_names_are_containers_storages():
    # as store.go's makeBigDataBaseName, and as the files podman 4.3 wrote here
    assert big_data_file_name("manifest") == "manifest"
    assert big_data_file_name("instances.json") == "instances.json"
    assert big_data_file_name("sha256:edc0") == "=c2hhMjU2OmVkYzA="
    assert big_data_file_name("signature-7e1b") == "=c2lnbmF0dXJlLTdlMWI="
    assert big_data_file_name("Manifest") == "=TWFuaWZlc3Q="
    assert big_data_file_name("../x").startswith("=")  # never a path


def test_the_image_reads_and_verifies(root):
    target = api.load(f"containers-storage:{root}")
    image = target.images()[0][2]
    assert image.config_digest == IMAGE_ID
    assert target.reference.name == "docker.io/library/evil" and target.reference.tag == "1"
    assert target.reference.image_id == IMAGE_ID
    assert detect(root) == "containers-storage"
    code, report = verify_json(str(root))
    assert code == 0, report
    (layer,) = layer_checks(report)
    assert layer["verdict"] == "ok" and "tar-split" in layer["reason"]


def test_an_older_writer_without_digests_or_history(tmp_path):
    """containers/storage before big-data-digests and names-history: the manifest is hashed,
    and everything reads as before."""
    record = image_record()
    for field in ("big-data-digests", "big-data-sizes", "names-history", "created", "digest"):
        del record[field]
    root = graph_root(tmp_path / "old", images=[record])
    target = api.load(f"containers-storage:{root}")
    assert target.reference.digest == sha256_digest(IMAGE["manifest"])
    assert target.images()[0][2].config_digest == IMAGE_ID
    assert verify_json(str(root))[0] == 0


def test_an_image_with_no_manifest_reads_from_its_config(tmp_path):
    key = f"sha256:{_hex('config')}"
    record = image_record(
        **{"big-data-names": [key], "big-data-digests": {}, "big-data-sizes": {}, "digest": None}
    )
    root = graph_root(tmp_path / "configonly", images=[record])
    target = api.load(f"containers-storage:{root}")
    (image,) = [image for _, _, image in target.images()]
    assert image.config_digest == IMAGE_ID
    assert [layer.digest for layer in image.layers] == [sha256_digest(IMAGE["layer"])]
    assert any("no manifest" in warning for warning in image.warnings)
    ls = api.list_references(f"containers-storage:{root}")
    assert ls[0].digest is None and ls[0].image_id == IMAGE_ID
    code, report = verify_json(str(root))
    assert code == 0, report
    assert report["groups"][0]["checks"][0]["verdict"] == "ok"  # the config by its Image ID


def test_a_newer_writer_s_fields_are_ignored(tmp_path):
    record = image_record(**{"mapped-layers": ["x"], "flags": {"new": True}, "future": [1, 2]})
    layer = layer_record(**{"toc-digest": sha256_digest(b"toc"), "flags": {}, "future": "x"})
    root = graph_root(tmp_path / "new", images=[record], layers=[layer])
    plain = graph_root(tmp_path / "plain")
    assert api.render(api.load(f"containers-storage:{root}"), "json") == api.render(
        api.load(f"containers-storage:{plain}"), "json"
    )


@pytest.mark.parametrize(
    "images, says",
    [
        ({"id": _hex("config")}, "not a list of records"),
        ([{"names": [NAME]}], "record 1 has no image id"),
        ([{"id": "../../etc"}], "record 1 has no image id"),
        ("[{", "not readable as containers-storage's images.json"),
    ],
)
def test_a_format_this_reader_does_not_know_is_one_line(tmp_path, images, says):
    root = graph_root(tmp_path / "bad")
    text = images if isinstance(images, str) else json.dumps(images)
    (root / "vfs-images" / "images.json").write_text(text)
    result = run("ls", f"containers-storage:{root}")
    assert_one_line_error(result)
    assert says in result.err


def test_not_a_graph_root_is_one_line(tmp_path):
    result = run("ls", f"containers-storage:{tmp_path}")
    assert_one_line_error(result)
    assert "not a containers-storage graph root" in result.err


def test_damaged_layers(tmp_path):
    incomplete = graph_root(
        tmp_path / "incomplete", layers=[layer_record(flags={"incomplete": True})]
    )
    code, report = verify_json(str(incomplete))
    assert code == 1 and layer_checks(report)[0]["verdict"] == "missing"
    broken = graph_root(tmp_path / "broken", layers=[layer_record(id="somethingelse")])
    target = api.load(f"containers-storage:{broken}")
    assert any("chain is incomplete" in w for w in target.root.warnings)
    looped = graph_root(tmp_path / "loop", layers=[layer_record(parent=_hex("layer"))])
    target = api.load(f"containers-storage:{looped}")
    assert any("loop" in w for w in target.root.warnings)
    wrong = graph_root(tmp_path / "wrong", layers=[layer_record(**{"diff-digest": IMAGE_ID})])
    code, report = verify_json(str(wrong))
    assert code == 1 and "unpacked it as" in layer_checks(report)[0]["reason"]


def test_the_rebuilt_stream_catches_changed_files(tmp_path):
    changed = graph_root(tmp_path / "changed")
    (changed / UNPACKED).write_bytes(b"X" * 20)  # same size, other bytes
    code, report = verify_json(str(changed))
    assert code == 1 and layer_checks(report)[0]["verdict"] == "mismatch"
    longer = graph_root(tmp_path / "longer")
    (longer / UNPACKED).write_bytes(IMAGE["layer"][10:30] + b"!")
    code, report = verify_json(str(longer))
    assert code == 1 and "not the 20 bytes tar-split records" in layer_checks(report)[0]["reason"]
    gone = graph_root(tmp_path / "gone")
    (gone / UNPACKED).unlink()
    code, report = verify_json(str(gone))
    assert code == 1 and "cannot be read" in layer_checks(report)[0]["reason"]
    corrupt = graph_root(tmp_path / "corrupt")
    (corrupt / TAR_SPLIT).write_bytes(gzip.compress(b"not json\n")[:-4])
    code, report = verify_json(str(corrupt))
    assert code == 1
    escaping = graph_root(tmp_path / "escaping")
    (escaping / TAR_SPLIT).write_bytes(
        gzip.compress(b'{"type": 1, "name": "../../../etc/passwd", "size": 5}\n')
    )
    code, report = verify_json(str(escaping))
    assert code == 1 and "leads outside the layer" in layer_checks(report)[0]["reason"]


def test_selectors(tmp_path):
    other = image_record(names=["localhost/app:2", "quay.io/team/app:2"])
    root = graph_root(tmp_path / "sel", images=[image_record(), other])
    source, _ = open_source(f"containers-storage:{root}")
    assert source.select(NAME).selector == NAME
    assert source.select("evil:1").name == "docker.io/library/evil"  # Docker Hub's short form
    assert source.select(_hex("config")[:12]).image_id == IMAGE_ID
    assert source.select("quay.io/team/app:2").selector == "quay.io/team/app:2"
    result = run("show", f"containers-storage:{root}:app:2")  # two names end in /app:2
    assert_one_line_error(result)
    assert "ambiguous" in result.err
    # containers/image's own form: [DRIVER@ROOT+RUNROOT]REF
    target = api.load(f"containers-storage:[vfs@{root}+/run/containers/storage]{NAME}")
    assert target.reference.selector == NAME


def test_several_drivers_prefix_their_selectors(tmp_path):
    root = graph_root(tmp_path / "two")
    graph_root(root, driver="overlay")
    selectors = [ref.selector for ref in api.list_references(f"containers-storage:{root}")]
    assert selectors == [f"overlay@{NAME}", f"vfs@{NAME}"]
    assert api.load(f"containers-storage:{root}:overlay@{NAME}").images()
    code, report = verify_json(str(root))
    assert code == 0, report


def test_unnamed_images_are_listed_by_image_id(tmp_path):
    root = graph_root(tmp_path / "unnamed", images=[image_record(names=[])])
    (ref,) = api.list_references(f"containers-storage:{root}")
    assert (ref.name, ref.tag, ref.selector) == (None, None, _hex("config"))
    table = run("ls", str(root)).out
    assert "IMAGE ID" in table and _hex("config")[:12] in table
    line = json.loads(run("ls", "--json", str(root)).out)
    assert line["image_id"] == IMAGE_ID


def test_the_default_graph_root(tmp_path, monkeypatch):
    conf = tmp_path / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path / "g"}"\n')
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(conf))
    monkeypatch.setattr(os, "getuid", lambda: 0)
    assert graphroot.default_graph_root() == tmp_path / "g"
    monkeypatch.delenv("CONTAINERS_STORAGE_CONF")
    monkeypatch.setattr(graphroot, "SYSTEM_CONFIGS", (tmp_path / "absent.conf",))
    assert graphroot.default_graph_root() == Path("/var/lib/containers/storage")
    # another user: XDG_DATA_HOME, or rootless_storage_path of the system's storage.conf
    monkeypatch.setattr(os, "getuid", lambda: 1000)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert graphroot.default_graph_root() == tmp_path / "data" / "containers" / "storage"
    system = tmp_path / "system.conf"
    system.write_text('[storage]\nrootless_storage_path = "$HOME/store-$UID"\n')
    monkeypatch.setattr(graphroot, "SYSTEM_CONFIGS", (system,))
    assert graphroot.default_graph_root() == tmp_path / "home" / "store-1000"
    user = tmp_path / "config" / "containers" / "storage.conf"
    user.parent.mkdir(parents=True)
    user.write_text(f'[storage]\ngraphroot = "{tmp_path / "mine"}"\n')
    assert graphroot.default_graph_root() == tmp_path / "mine"


def test_the_default_root_is_used_when_none_is_named(tmp_path):
    root = graph_root(tmp_path / "g")
    conf = tmp_path / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{root}"\n')
    env = {"CONTAINERS_STORAGE_CONF": str(conf)}
    for argument in ("containers-storage:", f"containers-storage:{NAME}"):
        result = run_env(env, "ls" if argument.endswith(":") else "show", argument)
        assert result.returncode == 0, result.stderr
        assert "evil" in result.stdout


def run_env(env: dict[str, str], *args: str):
    import subprocess
    import sys

    from tests.support.paths import REPO

    return subprocess.run(
        [sys.executable, "-m", "reconstruct", *args],
        cwd=REPO,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_nothing_is_written(root):
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")}
    for args in (("ls",), ("show", "--all"), ("verify",), ("audit",)):
        run(args[0], str(root), *args[1:])
    assert {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")} == before
