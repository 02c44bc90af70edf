"""Metadata that is small on disk and enormous once followed (issue 13, classes 4 and 5): an
index graph whose paths multiply, one manifest listed a third of a million times, configs and
indexes of ten million entries, NaN sizes, JSON nested past the parser's stack. Every command
ends within the time and memory limits with a result or one line naming the bound."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconstruct.blob.digests import sha256_digest
from reconstruct.jsondoc import MAX_VALUES, JSONProblem, load_json
from reconstruct.sources.partial import MAX_GRAPH_ENTRIES, MAX_GRAPH_ITEMS, MAX_IMAGE_ENTRIES
from tests.support.hostile import CONFIG, write_layout
from tests.support.limits import assert_clean, run_limited

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
COMMANDS = ("show", "ls", "verify", "audit")


def _descriptor(media_type: str, data: bytes, **extra) -> dict:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data), **extra}


def _image(layers: int = 1) -> tuple[dict[str, bytes], dict]:
    """Blobs of one image (its layers are bytes that only hash) and its manifest descriptor."""
    blobs = {}
    layer_descriptors = []
    diff_ids = []
    for number in range(layers):
        layer = f"layer {number}".encode()
        blobs[sha256_digest(layer).split(":")[1]] = layer
        layer_descriptors.append(_descriptor("application/vnd.oci.image.layer.v1.tar", layer))
        diff_ids.append(sha256_digest(layer))
    history = [{"created": "2021-01-01T00:00:00Z", "created_by": "RUN x"}] * layers
    config = json.dumps(
        dict(CONFIG, rootfs={"type": "layers", "diff_ids": diff_ids}, history=history)
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": _descriptor("application/vnd.oci.image.config.v1+json", config),
            "layers": layer_descriptors,
        }
    ).encode()
    for data in (config, manifest):
        blobs[sha256_digest(data).split(":")[1]] = data
    return blobs, _descriptor(MANIFEST, manifest)


def _tagged(descriptor: dict) -> dict:
    return dict(descriptor, annotations={"org.opencontainers.image.ref.name": "1"})


def _fan_out(folder: Path, width: int = 10, depth: int = 8) -> Path:
    """Each index lists the next one `width` times, `depth` levels down to one manifest:
    a few KB of blobs, width**depth paths."""
    blobs, child = _image()
    for _ in range(depth):
        index = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": [child] * width})
        data = index.encode()
        blobs[sha256_digest(data).split(":")[1]] = data
        child = _descriptor(INDEX, data)
    return write_layout(folder, {"schemaVersion": 2, "manifests": [_tagged(child)]}, blobs)


def _listed_often(folder: Path, times: int, layers: int = 1) -> Path:
    """One index listing the same manifest (of `layers` layers) `times` times."""
    blobs, manifest = _image(layers)
    index = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": [manifest] * times})
    data = index.encode()
    blobs[sha256_digest(data).split(":")[1]] = data
    root = {"schemaVersion": 2, "manifests": [_tagged(_descriptor(INDEX, data))]}
    return write_layout(folder, root, blobs)


def _config_file(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    return f"json:{path}"


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("graph-bounds")
    ten_million = b"[" + b",".join([b"{}"] * 10_000_000) + b"]"
    steps = [{"created_by": "RUN x"}] * (MAX_IMAGE_ENTRIES + 1)
    diff_ids = ["sha256:" + "a" * 64] * (MAX_IMAGE_ENTRIES + 1)
    nan_manifest = (
        b'{"schemaVersion": 2, "config": {"digest": "sha256:' + b"0" * 64 + b'", "size": NaN},'
        b' "layers": [{"digest": "sha256:' + b"1" * 64 + b'", "size": Infinity}]}'
    )
    return {
        "fan-out": str(_fan_out(folder / "fan-out")),
        "listed-350000-times": str(_listed_often(folder / "often", 350_000)),
        "listed-at-the-cap": str(_listed_often(folder / "at-cap", MAX_GRAPH_ENTRIES)),
        "listed-over-the-cap": str(_listed_often(folder / "over-cap", MAX_GRAPH_ENTRIES + 1)),
        "layers-times-listings": str(
            _listed_often(folder / "wide", MAX_GRAPH_ITEMS // 5_000 + 1, layers=5_000)
        ),
        "config-ten-million-history": _config_file(
            folder, "history.json", b'{"architecture": "amd64", "history": ' + ten_million + b"}"
        ),
        "config-ten-million-diff-ids": _config_file(
            folder,
            "diffids.json",
            b'{"architecture": "amd64", "rootfs": {"diff_ids": ' + ten_million + b"}}",
        ),
        "index-ten-million-entries": _config_file(
            folder, "index.json", b'{"schemaVersion": 2, "manifests": ' + ten_million + b"}"
        ),
        "config-history-over-cap": _config_file(
            folder, "steps.json", json.dumps(dict(CONFIG, history=steps)).encode()
        ),
        "config-diff-ids-over-cap": _config_file(
            folder,
            "diff_ids.json",
            json.dumps(dict(CONFIG, rootfs={"type": "layers", "diff_ids": diff_ids})).encode(),
        ),
        "manifest-nan-sizes": _config_file(folder, "nan.json", nan_manifest),
        "config-nested-deep": _config_file(
            folder, "deep.json", b'{"history": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
        ),
    }


# What `show` must answer for each: None = a result (exit 0); else words of the one-line error.
SHOW = {
    "fan-out": None,
    "listed-350000-times": f"more than {MAX_VALUES:,} JSON values",  # refused before parsing
    "listed-at-the-cap": None,
    "listed-over-the-cap": f"more than {MAX_GRAPH_ENTRIES:,} entries",
    "layers-times-listings": f"more than {MAX_GRAPH_ITEMS:,} steps and layers",
    "config-ten-million-history": f"more than {MAX_VALUES:,} JSON values",
    "config-ten-million-diff-ids": f"more than {MAX_VALUES:,} JSON values",
    "index-ten-million-entries": f"more than {MAX_VALUES:,} JSON values",
    "config-history-over-cap": f"at most {MAX_IMAGE_ENTRIES:,}",
    "config-diff-ids-over-cap": f"at most {MAX_IMAGE_ENTRIES:,}",
    "manifest-nan-sizes": "NaN is not a JSON value",
    "config-nested-deep": "nested too deeply",
}


@pytest.mark.parametrize("case", sorted(SHOW))
def test_show_is_bounded(stores, case):
    result = run_limited("show", stores[case], timeout=60)
    assert_clean(result)
    expected = SHOW[case]
    if expected is None:
        assert result.code == 0 and result.out.strip(), result
    else:
        assert result.code == 2 and expected in result.err, result


ENTRIES = f"more than {MAX_GRAPH_ENTRIES:,} entries"
ITEMS = f"more than {MAX_GRAPH_ITEMS:,}"
# (exit code, words of the one line on stderr) per case and command. `ls` lists names and
# reads no index; `verify` fails what it cannot walk (1) or stops at a bound (2).
OTHERS = {
    ("fan-out", "ls"): (0, ""),
    ("fan-out", "verify"): (0, ""),
    ("fan-out", "audit"): (0, ""),
    ("listed-350000-times", "ls"): (0, ""),
    ("listed-350000-times", "verify"): (1, ""),
    ("listed-350000-times", "audit"): (2, f"more than {MAX_VALUES:,} JSON values"),
    ("listed-over-the-cap", "ls"): (0, ""),
    ("listed-over-the-cap", "verify"): (2, ENTRIES),
    ("listed-over-the-cap", "audit"): (2, ENTRIES),
    ("layers-times-listings", "ls"): (0, ""),
    ("layers-times-listings", "verify"): (2, ITEMS),
    ("layers-times-listings", "audit"): (2, ITEMS),
    ("config-nested-deep", "ls"): (0, ""),
    ("config-nested-deep", "verify"): (2, "not a JSON object"),
    ("config-nested-deep", "audit"): (2, "nested too deeply"),
}


@pytest.mark.parametrize("case, command", sorted(OTHERS))
def test_every_command_is_bounded(stores, case, command):
    result = run_limited(command, stores[case], timeout=60)
    assert_clean(result)
    code, words = OTHERS[(case, command)]
    assert result.code == code and words in result.err, result


def test_verify_bounds_each_name_not_the_whole_store(tmp_path):
    """1,001 tags of 10 platforms each: 10,010 entries in the store, 10 below each name."""
    blobs, manifest = _image()
    roots = []
    for tag in range(1_001):
        entries = [
            dict(manifest, platform={"os": "linux", "architecture": f"a{tag}-{n}"})
            for n in range(10)
        ]
        data = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries}).encode()
        blobs[sha256_digest(data).split(":")[1]] = data
        descriptor = _descriptor(INDEX, data)
        roots.append(dict(descriptor, annotations={"org.opencontainers.image.ref.name": f"t{tag}"}))
    layout = write_layout(tmp_path / "layout", {"schemaVersion": 2, "manifests": roots}, blobs)
    result = run_limited("verify", f"oci:{layout}", timeout=60)
    assert_clean(result)
    assert result.code == 0 and result.out.rstrip().endswith("verified"), result


def test_the_fan_out_shows_each_index_once(stores):
    """8 nested indexes, each listed 10 times: each is expanded once, and the image is found."""
    result = run_limited("show", stores["fan-out"], "--format", "json", timeout=60)
    assert result.code == 0, result
    document = json.loads(result.out)
    text = json.dumps(document)
    assert text.count('"created_by"') >= 1
    assert "is listed more than once" in text
    assert len(text) < 1_000_000  # 10**8 paths would be gigabytes


def test_verify_walks_the_fan_out_once(stores):
    result = run_limited("verify", stores["fan-out"], "--format", "json", timeout=60)
    assert result.code == 0, result
    checks = [c for group in json.loads(result.out)["groups"] for c in group["checks"]]
    digests = [c["name"] for c in checks if c["kind"] == "index"]
    assert len(digests) == len(set(digests)) == 8


@pytest.mark.parametrize(
    "text, reason",
    [
        ("[" * 100_000, "nested too deeply"),
        ('{"a": NaN}', "NaN is not a JSON value"),
        ("[-Infinity]", "-Infinity is not a JSON value"),
        ("[" + "1," * MAX_VALUES + "1]", "JSON values"),
        (b'{"a": "\xff"}', "not UTF-8"),
        ("{", "Expecting property name"),
    ],
)
def test_load_json_refuses_in_one_line(text, reason):
    with pytest.raises(JSONProblem) as caught:
        load_json(text)
    assert reason in str(caught.value) and "\n" not in str(caught.value)


def test_load_json_reads_what_metadata_holds():
    assert load_json(json.dumps(CONFIG)) == CONFIG
    assert load_json(b"[" + b"1," * (MAX_VALUES - 2) + b"1]")[-1] == 1


@pytest.mark.parametrize(
    "created_by",
    [
        "/bin/sh -c #(nop)  CMD " + "[" * 100_000,
        "RUN " + "[" * 100_000,
        "/bin/sh -c #(nop)  HEALTHCHECK &{" + "[" * 100_000 + "] }",
        '/bin/sh -c #(nop)  ENTRYPOINT ["' + '", "'.join(["x"] * 300_000) + '"]',
    ],
    ids=["cmd", "run", "healthcheck", "many-words"],
)
@pytest.mark.parametrize("fmt", ["repo-info", "dockerfile", "json", "table"])
def test_history_text_that_looks_like_json(tmp_path, created_by, fmt):
    """created_by is parsed as JSON in places (exec forms): deep or huge text stays text."""
    config = dict(CONFIG, history=[{"created": "2021-01-01T00:00:00Z", "created_by": created_by}])
    spec = _config_file(tmp_path, "config.json", json.dumps(config).encode())
    result = run_limited("show", spec, "--format", fmt, timeout=60)
    assert_clean(result)
    assert result.code == 0, result
    if fmt != "table":  # (a table cuts long text)
        shown = '"x", "x"' if "ENTRYPOINT" in created_by else "[" * 100_000
        assert shown in result.out.replace('\\"', '"'), "the text must come out whole"
        audit = run_limited("audit", spec, timeout=60)
        assert_clean(audit)
        assert audit.code in (0, 1), audit


def test_punctuation_inside_strings_is_not_counted_as_values(tmp_path):
    """Buildpacks and SBOM tools store megabytes of JSON inside one label: one value."""
    label = json.dumps({"layers": [{"name": f"l{n}", "sha": f"{n:064x}"} for n in range(100_000)]})
    config = dict(CONFIG, config={"Labels": {"io.buildpacks.build.metadata": label * 3}})
    assert 3 * (label.count(",") + label.count(":")) > MAX_VALUES  # counted whole: refused
    data = json.dumps(config).encode()
    assert load_json(data)["config"]["Labels"]["io.buildpacks.build.metadata"] == label * 3
    result = run_limited("show", _config_file(tmp_path, "config.json", data), timeout=60)
    assert_clean(result)
    assert result.code == 0, result
