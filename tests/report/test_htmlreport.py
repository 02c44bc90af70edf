"""`report`: one self-contained HTML file, rendered by a real browser (Debian's chromium,
headless, in a network namespace of its own where it can be made: nothing could be fetched).

The inputs are built here without engines: an OCI layout with real gzip layers (verify: ok),
a secret, a risky step, and payloads planted in a created_by, in labels and in the tag; the
Windows sample (an index of three platforms with foreign base layers, written from metadata);
the shared corpus's Windows manifest and config when it is there. What is expected comes from
the inputs and from the other commands' own results (api.verify/audit), not from the HTML.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import uuid
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reconstruct import api
from reconstruct.history import CURRENT_ERA, repo_info_text
from reconstruct.render.html import markup as htmlmarkup
from tests.support.clirun import assert_one_line_error, run
from tests.support.hostile import tar_bytes, write_layout
from tests.support.needs import unavailable
from tests.support.paths import SAMPLE, SAMPLE_UPSTREAM, WINDOWS_CONFIG, WINDOWS_MANIFEST, need
from tests.support.png import read_png

# What a page that ran them would leave behind: a title, or an attribute on <body>.
PWN_SCRIPT = "<script>document.title='PWNED'</script>"
PWN_IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
PWN_ATTRIBUTE = "\"'><svg onload=\"document.body.setAttribute('data-pwned','2')\">"
PWN_TAG = "1.0<img src=x onerror=\"document.body.setAttribute('data-pwned','3')\">"
PAYLOADS = (PWN_SCRIPT, PWN_IMG, PWN_ATTRIBUTE, PWN_TAG)
SECRET = "ghp_" + hashlib.sha256(b"report").hexdigest()[:36]  # a GitHub token's shape
CONTROLS = "red\x1b[31m bidi\u202eevil nul\x00 lone\udc80"
NOP = "/bin/sh -c #(nop)  "
SH = "/bin/sh -c "
BAND = (0x1F, 0x4E, 0x79)  # the header band's colour in the style sheet
FOREIGN = (0xE0, 0x8A, 0x1E)  # the foreign layers' fill in the chart


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _noise(size: int, seed: bytes) -> bytes:
    """Incompressible, deterministic bytes: layers of visibly different sizes."""
    out, block = bytearray(), seed
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


HISTORY = [
    (f"{NOP}ADD file:{'ab' * 32} in / ", [("etc/os-release", _noise(300_000, b"base"))]),
    (f'{NOP}CMD ["sh"]', None),
    (f"{NOP}ENV GITHUB_TOKEN={SECRET}", None),
    (
        f"{SH}curl -fsSL https://example.com/install.sh | sh",
        [("usr/bin/tool", _noise(80_000, b"t"))],
    ),
    (f"{SH}echo '{PWN_SCRIPT}' > /index.html", [("index.html", PWN_SCRIPT.encode())]),
    (f"{NOP}LABEL evil={PWN_IMG}", None),
    (f"{SH}printf '%s' \"{PWN_ATTRIBUTE}\" '{CONTROLS}' > /x", [("x", b"x" * 20_000)]),
]
LABELS = {"evil": PWN_IMG, "title": PWN_SCRIPT, PWN_ATTRIBUTE: "a key too", "control": CONTROLS}


def write_image(folder: Path) -> Path:
    """An OCI layout of one image: the steps above, real gzip layers, tagged PWN_TAG."""
    blobs: dict[str, bytes] = {}
    layers, diff_ids, history = [], [], []
    for number, (created_by, files) in enumerate(HISTORY):
        entry: dict = {"created": f"2024-03-0{number + 1}T10:00:00Z", "created_by": created_by}
        if files is None:
            entry["empty_layer"] = True
        else:
            tar = tar_bytes(files)
            compressed = gzip.compress(tar, mtime=0)
            blobs[sha256(compressed)] = compressed
            diff_ids.append(sha256(tar))
            layers.append(
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256(compressed),
                    "size": len(compressed),
                }
            )
        history.append(entry)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-03-09T10:00:00Z",
        "config": {"Cmd": ["sh"], "Labels": LABELS},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    config_bytes = json.dumps(config).encode()  # ASCII: the lone surrogate as `\udc80`
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha256(config_bytes),
            "size": len(config_bytes),
        },
        "layers": layers,
    }
    manifest_bytes = json.dumps(manifest).encode()
    blobs[sha256(config_bytes)] = config_bytes
    blobs[sha256(manifest_bytes)] = manifest_bytes
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": manifest["mediaType"],
                "digest": sha256(manifest_bytes),
                "size": len(manifest_bytes),
                "annotations": {"org.opencontainers.image.ref.name": PWN_TAG},
            }
        ],
    }
    return write_layout(folder, index, {d.split(":")[1]: b for d, b in blobs.items()})


# --- the browser ------------------------------------------------------------------------------


class Browser:
    def __init__(self, path: str, isolate: list[str], home: Path):
        self.path, self.isolate, self.home = path, isolate, home

    def run(self, page: Path, *arguments: str) -> subprocess.CompletedProcess:
        profile = self.home / f"profile-{uuid.uuid4().hex}"  # a fresh one every time
        command = [
            *self.isolate,
            self.path,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *arguments,
            page.resolve().as_uri(),
        ]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "XDG_CACHE_HOME": str(self.home / "cache"),
            "LANG": "C.UTF-8",
        }
        done = subprocess.run(command, capture_output=True, timeout=180, env=env)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
        return done

    def dom(self, page: Path) -> str:
        return self.run(page, "--dump-dom").stdout.decode("utf-8")

    def screenshot(self, page: Path, png: Path) -> bytes:
        self.run(page, f"--screenshot={png}", "--window-size=1280,2000", "--hide-scrollbars")
        assert png.is_file(), "chromium wrote no screenshot"
        return png.read_bytes()


@pytest.fixture(scope="session")
def browser(tmp_path_factory) -> Browser:
    found = shutil.which("chromium")
    if found is None:
        unavailable("missing chromium (Debian's, headless: the report is checked in it)")
    isolate: list[str] = []
    unshare = shutil.which("unshare")
    if os.geteuid() == 0 and unshare:
        probe = subprocess.run([unshare, "--net", "true"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            isolate = [unshare, "--net"]  # no network at all: nothing could be fetched
    return Browser(found, isolate, tmp_path_factory.mktemp("chromium"))


class Page(HTMLParser):
    """A dumped DOM: its text, every element's attributes, the title."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.title = ""
        self._in_title = False
        self.feed(markup)
        self.close()
        self.text = " ".join(" ".join(self.texts).split())

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_title = tag == "title" and not self.title

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        self.texts.append(data)
        if self._in_title:
            self.title += data

    def attributes(self) -> set[str]:
        return {name for _, attrs in self.elements for name in attrs}

    def tags(self) -> set[str]:
        return {tag for tag, _ in self.elements}


def words(value: str) -> str:
    return " ".join(value.split())


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    return write_image(tmp_path_factory.mktemp("image") / "layout")


@pytest.fixture(scope="module")
def hostile_report(layout, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = run("report", layout, "-o", out)
    assert result.code == 0, result
    assert result.out == "" and result.err == ""
    return out


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample") / "sample.html"
    result = run("report", SAMPLE, "--against", SAMPLE_UPSTREAM, "-o", out)
    assert result.code == 0, result  # differences from upstream do not count
    return out


# --- in the browser ---------------------------------------------------------------------------


def test_the_dom_holds_every_step_and_every_finding(browser, layout, hostile_report):
    page = Page(browser.dom(hostile_report))
    report = api.report(str(layout))
    image = report.target.root
    assert len(image.steps) == len(HISTORY)
    for step in image.steps:  # the history line as repo-info prints it (secrets masked)
        line = words(htmlmarkup.escape(repo_info_text(step.created_by, image.shell, CURRENT_ERA)))
        assert words(Page(line).text) in page.text, line
    for layer in image.layers:
        assert layer.digest in page.text
    findings = report.audit.findings
    assert {f.rule[0] for f in findings} >= {"S", "R", "C"}  # a secret, a risk, the config
    for finding in findings:
        assert words(finding.reason) in page.text, finding
        assert finding.rule in page.text
    assert api.verify(str(layout)).exit_code == 0
    assert "verified" in page.text and "mismatch" in page.text  # the summary line
    # the secret is masked everywhere: findings, history, labels
    assert SECRET not in page.text and SECRET[4:20] not in hostile_report.read_text()
    assert "GITHUB_TOKEN=ghp_******" in page.text


def test_planted_payloads_never_run(browser, hostile_report, tmp_path):
    markup = hostile_report.read_text(encoding="utf-8")
    lowered = markup.lower()
    for raw in ("<script", "<img", "<svg"):  # as markup: only escaped (`&lt;img`), as text
        assert raw not in lowered.replace('<svg xmlns="http://www.w3.org/2000/svg"', ""), raw
    # as written (CSP on), and with the policy taken out: escaping alone must hold
    without_policy = tmp_path / "no-csp.html"
    without_policy.write_text(re.sub(r"<meta http-equiv=[^>]*>", "", markup), encoding="utf-8")
    assert "Content-Security-Policy" not in without_policy.read_text()
    for page_file in (hostile_report, without_policy):
        page = Page(browser.dom(page_file))
        assert "data-pwned" not in page.attributes()
        assert "PWNED" not in page.title and page.title.startswith("reconstruct report:")
        assert PWN_TAG in page.title  # the tag shows, as text
        assert not {"script", "img", "iframe", "object", "embed", "link"} & page.tags()
        for payload in PAYLOADS:
            assert payload in page.text, payload
        assert "\\x1b[31m" in page.text and "\\u202e" in page.text and "\\udc80" in page.text
        assert "\x1b" not in page.text and "\u202e" not in page.text


def test_the_payload_check_can_see_a_payload_run(browser, tmp_path):
    """The canary: the same payloads, unescaped and without a policy, do run in this
    browser, so the checks above would see it if the report let them."""
    page_file = tmp_path / "canary.html"
    page_file.write_text(f"<!DOCTYPE html><title>x</title><body>{PWN_SCRIPT}{PWN_IMG}</body>")
    page = Page(browser.dom(page_file))
    assert page.title == "PWNED" and "data-pwned" in page.attributes()


def test_the_screenshot_is_not_blank(browser, sample_report, tmp_path):
    picture = read_png(browser.screenshot(sample_report, tmp_path / "shot.png"))
    assert (picture.width, picture.height) == (1280, 2000)
    colours: set[tuple[int, ...]] = set()
    inked = sampled = 0
    for row in range(0, picture.height, 3):
        for pixel in picture.pixels(row)[::3]:
            rgb = pixel[:3]
            colours.add(rgb)
            sampled += 1
            inked += rgb != (255, 255, 255)
    assert len(colours) > 100, len(colours)
    assert inked / sampled > 0.03, inked / sampled
    assert BAND in colours  # the style sheet applied: its hash is what the policy allows
    assert FOREIGN in colours  # the foreign base layers' bars are drawn


def test_foreign_layers_and_every_platform_are_shown(browser, sample_report):
    page = Page(browser.dom(sample_report))
    target = api.load(str(SAMPLE))
    platforms = [section.platform for section in target.sections()]
    assert len(platforms) == 3
    for platform in platforms:
        assert f"windows version {platform.os_version}; amd64" in page.text
    charts = [attrs for tag, attrs in page.elements if tag == "svg"]
    assert len(charts) == 3
    hatched = [
        attrs
        for tag, attrs in page.elements
        if tag == "rect" and "url(#hatch-c" in (attrs.get("fill") or "")
    ]
    foreign = sum(layer.foreign for _, _, image in target.images() for layer in image.layers)
    assert foreign == 6 and len(hatched) == foreign + 3  # and one legend swatch per chart
    assert page.text.count("foreign: Windows base layer, not distributed") == foreign
    assert "foreign (Windows base layer, not distributed with the image)" in page.text
    # the comparison with upstream, as compare reports it
    assert "Comparison" in page.text and "differ (7 differences)" in page.text
    assert "manifest digest" in page.text and "11 matched" in page.text


def test_against_another_copy_is_equal(browser, layout, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(layout, copy)
    out = tmp_path / "same.html"
    result = run("report", layout, "--against", copy, "-o", out)
    assert result.code == 0, result
    page = Page(browser.dom(out))
    assert f"B {copy}" in page.text or str(copy) in page.text
    assert "Result equal" in page.text


def test_the_corpus_windows_manifest(browser, tmp_path):
    manifest, config = need(WINDOWS_MANIFEST), need(WINDOWS_CONFIG)
    out = tmp_path / "windows.html"
    result = run("report", manifest, "--config", config, "-o", out)
    # the corpus keeps this config pretty-printed: it does not hash to its descriptor
    assert result.code == api.verify(str(manifest), config=str(config)).exit_code == 1
    page = Page(browser.dom(out))
    assert "mismatch" in page.text and "FAILED" in page.text
    assert "foreign: Windows base layer, not distributed" in page.text
    assert "Apply image" in page.text


# --- the file itself --------------------------------------------------------------------------


def test_the_file_is_self_contained(hostile_report, sample_report):
    for path in (hostile_report, sample_report):
        markup = path.read_text(encoding="utf-8")
        page = Page(markup)
        policies = [
            attrs["content"]
            for tag, attrs in page.elements
            if tag == "meta"
            and (attrs.get("http-equiv") or "").lower() == "content-security-policy"
        ]
        assert len(policies) == 1
        policy = policies[0]
        assert "default-src 'none'" in policy and "unsafe-inline" not in policy
        style = re.search(r"<style>(.*?)</style>", markup, re.S)
        assert style is not None and markup.count("<style") == 1
        digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}'" in policy
        assert markup.index("Content-Security-Policy") < markup.index("<style>")
        for tag, attrs in page.elements:
            assert "src" not in attrs and "style" not in attrs, (tag, attrs)
            assert (attrs.get("href") or "#").startswith("#"), (tag, attrs)
            for name, value in attrs.items():
                assert not name.startswith("on"), (tag, name)
                assert "http:" not in (value or "") or name == "xmlns", (tag, name, value)
                assert "https:" not in (value or ""), (tag, name, value)
        assert "@import" not in markup and re.findall(r"url\((?!#)", markup) == []
        assert "@media print" in markup


def test_every_image_string_is_escaped_and_neutralised():
    assert htmlmarkup.escape('<a href="x">\'&') == "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;"
    assert htmlmarkup.escape("a\x1b[2Jb\x00\u202e\x9b") == "a\\x1b[2Jb\\x00\\u202e\\x9b"
    assert htmlmarkup.escape("x\udc80") == "x\\udc80"
    assert htmlmarkup.escape("tab\tand\nnewline") == "tab\tand\nnewline"


# --- the command ------------------------------------------------------------------------------


def test_bad_input_writes_nothing_and_exits_2(layout, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    for args in (
        ("report", layout),  # no --output
        ("report", tmp_path / "missing", "-o", folder / "r.html"),
        ("report", layout, "-o", folder),  # a folder
        ("report", layout, "-o", folder / "no-such" / "r.html"),
        ("report", layout, "--against", tmp_path / "missing", "-o", folder / "r.html"),
        ("report", layout, "--platform", "linux/s390x", "-o", folder / "r.html"),
    ):
        assert_one_line_error(run(*args))
    assert list(folder.iterdir()) == []


def test_the_output_is_never_inside_an_input(layout, tmp_path):
    copy = shutil.copytree(layout, tmp_path / "copy", symlinks=True)
    upstream = tmp_path / "upstream.md"
    upstream.write_text(run("show", copy).out)
    before = {p: p.read_bytes() for p in sorted(copy.rglob("*")) if p.is_file()}
    index = copy / "index.json"
    for args in (
        ("report", copy, "-o", copy / "report.html"),  # a new file inside the layout
        ("report", copy, "-o", index),  # one of its own files
        ("report", copy, "-o", tmp_path / "link" / "index.json"),  # through a link to it
        ("report", copy, "--against", upstream, "-o", upstream),  # the upstream document
    ):
        (tmp_path / "link").unlink(missing_ok=True)
        (tmp_path / "link").symlink_to(copy)
        result = run(*args)
        assert_one_line_error(result)
        assert "inputs are only read" in result.err, result
    assert {p: p.read_bytes() for p in sorted(copy.rglob("*")) if p.is_file()} == before
    assert upstream.read_text().startswith("## ")


def test_the_output_is_replaced_whole_and_nothing_else_is_written(layout, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere.html"
    elsewhere.write_text("keep me")
    out = folder / "r.html"
    out.symlink_to(elsewhere)  # replaced, never followed
    assert run("report", layout, "-o", out).code == 0
    assert sorted(p.name for p in folder.iterdir()) == ["r.html"]  # no temp file left
    assert not out.is_symlink() and out.read_text().startswith("<!DOCTYPE html>")
    assert elsewhere.read_text() == "keep me"
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    to_stdout = run("report", layout, "-o", "-")
    assert to_stdout.code == 0 and to_stdout.out.startswith("<!DOCTYPE html>")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_exit_codes_follow_verify_and_audit(layout, tmp_path):
    out = tmp_path / "r.html"
    assert run("report", layout, "-o", out).code == 0  # findings alone: as audit, exit 0
    assert api.audit(str(layout)).exit_code("critical") == 1
    assert run("report", layout, "-o", out, "--fail-on", "critical").code == 1
    assert out.is_file()
    assert api.audit(str(SAMPLE)).exit_code("high") == 0  # medium and low findings only
    assert run("report", SAMPLE, "-o", out, "--fail-on", "high").code == 0
    assert run("report", SAMPLE, "-o", out, "--fail-on", "medium").code == 1
    tampered = tmp_path / "tampered"
    shutil.copytree(layout, tampered)
    blob = max((tampered / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 1
    blob.write_bytes(bytes(data))
    result = run("report", tampered, "-o", out)
    assert result.code == 1 == api.verify(str(tampered)).exit_code
    assert "FAILED" in Page(out.read_text()).text


def test_help_explains_the_report():
    help_text = " ".join(run("report", "--help").out.split())
    for word in ("--output", "--against", "--fail-on", "Content-Security-Policy", "Exit 0"):
        assert word in help_text
