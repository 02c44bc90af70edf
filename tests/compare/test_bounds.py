"""Issue 13: hostile repo-info documents cost time and memory in proportion to their size.

Documents of 50 MB (one image of 10,000 long steps, one step of millions of lines, 10,000 long
layers), pairs of them differing in one step or in every one, documents just past each cap
(size, steps, layers, images), histories that drive difflib to its cubic worst case and a pull
line that made a regex backtrack quadratically: each is shown or compared under
tests/support/limits.py (60 s, 512 MB, one clean line on exit 2), with its specific outcome.
The documents are written here, in the current era's exact format (show reproduces them byte
for byte), a few MB at a time.
"""

from __future__ import annotations

import difflib
import json
import random
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from reconstruct.blob.files import MAX_METADATA_BYTES
from reconstruct.compare import ALIGNMENT_BUDGET
from reconstruct.compare.textdiff import unified_diff
from reconstruct.sources import repoinfo
from reconstruct.sources.repoinfo import MAX_LAYERS, MAX_SECTIONS, MAX_STEPS
from reconstruct.text import human_size
from tests.support.limits import assert_clean, run_limited

MB = 1024 * 1024
DATE = "Thu, 14 Mar 2019 23:38:02 GMT"
LAYER_SIZE = 1024
PAD = "x" * 5000  # a 5 KB step or layer line: 10,000 of them make 50 MB


def _digest(n: int, kind: str = "0") -> str:
    return f"sha256:{kind}{n:063x}"


def _section(
    name: str,
    platform: str,
    steps: Iterable[str],
    layers: Iterable[str],
    layer_count: int,
) -> Iterable[str]:
    """One image's section: `steps` are each step's text (its lines, no newline at the end),
    `layers` each layer's digest."""
    yield f"\n### `{name}` - {platform}\n\n```console\n$ docker pull {name.split(':')[0]}@"
    yield f"{_digest(0, 'c')}\n```\n\n"
    yield "-\tDocker Version: 20.10.7\n"
    yield "-\tManifest MIME: `application/vnd.docker.distribution.manifest.v2+json`\n"
    yield f"-\tTotal Size: **{human_size(LAYER_SIZE * layer_count)}**  \n"
    yield "\t(compressed transfer size, not on-disk size)\n"
    yield f"-\tImage ID: `{_digest(0, 'b')}`\n"
    yield '-\tDefault Command: `["sh"]`\n\n```dockerfile\n'
    for text in steps:
        yield f"# {DATE}\n{text}\n"
    yield "```\n\n-\tLayers:\n"
    for digest in layers:
        yield (
            f"\t-\t`{digest}`  \n\t\tLast Modified: {DATE}  \n"
            f"\t\tSize: {human_size(LAYER_SIZE)}  \n"
            "\t\tMIME: application/vnd.docker.image.rootfs.diff.tar.gzip\n"
        )


def write_document(
    path: Path,
    *,
    steps: Callable[[int], str] = lambda n: f"RUN echo {n}",
    step_count: int = 3,
    layers: Callable[[int], str] = _digest,
    layer_count: int = 2,
    platforms: int = 1,
    name: str = "hostile:latest",
) -> Path:
    """A current-era document of `platforms` images, each of `step_count` steps (`steps(n)`
    is the n-th one's text) and `layer_count` layers (`layers(n)`: the n-th's digest)."""
    platform_strings = [
        f"linux; amd64 variant v{n}" if n else "linux; amd64" for n in range(platforms)
    ]
    parts: list[Iterable[str]] = [
        [
            f"## `{name}`\n\n```console\n$ docker pull {name.split(':')[0]}@{_digest(0, 'a')}\n```\n\n",
            "-\tManifest MIME: `application/vnd.docker.distribution.manifest.list.v2+json`\n",
            f"-\tPlatforms: {platforms}\n",
            *(f"\t-\t{p}\n" for p in platform_strings),
        ]
    ]
    for platform in platform_strings:
        parts.append(
            _section(
                name,
                platform,
                (steps(n) for n in range(step_count)),
                (layers(n) for n in range(layer_count)),
                layer_count,
            )
        )
    with path.open("w") as out:
        chunk: list[str] = []
        size = 0
        for part in parts:
            for piece in part:
                chunk.append(piece)
                size += len(piece)
                if size > 4 * MB:
                    out.write("".join(chunk))
                    chunk, size = [], 0
        out.write("".join(chunk))
    return path


def test_the_generator_writes_what_show_writes(tmp_path):
    """The generator is faithful: its documents come back byte for byte (checked small)."""
    path = write_document(tmp_path / "small.md", platforms=2)
    result = run_limited("show", f"repo-info:{path}")
    assert result.code == 0 and result.out == path.read_text(), result


# --- 50 MB documents ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bounds")


@pytest.fixture(scope="module")
def long_steps(docs) -> Path:
    """One image of MAX_STEPS (the cap, so accepted) steps of 5 KB each: 50 MB."""
    return write_document(
        docs / "long-steps.md",
        steps=lambda n: f"RUN echo {n} {PAD}",
        step_count=MAX_STEPS,
        layer_count=100,
    )


@pytest.fixture(scope="module")
def slightly_different(docs) -> Path:
    """`long_steps` with step 5001 and layer 51 changed."""
    return write_document(
        docs / "slightly-different.md",
        steps=lambda n: f"RUN echo {'changed' if n == 5000 else n} {PAD}",
        step_count=MAX_STEPS,
        layers=lambda n: _digest(n, "f" if n == 50 else "0"),
        layer_count=100,
    )


@pytest.fixture(scope="module")
def all_different(docs) -> Path:
    """`long_steps` with every step and every layer changed."""
    return write_document(
        docs / "all-different.md",
        steps=lambda n: f"RUN true {n} {PAD}",
        step_count=MAX_STEPS,
        layers=lambda n: _digest(n, "1"),
        layer_count=100,
    )


def _show_reproduces(path: Path) -> None:
    result = run_limited("show", f"repo-info:{path}", timeout=60)
    assert_clean(result)
    assert result.code == 0, result
    assert result.out == path.read_text(), "show does not reproduce the document"


def test_show_of_50_mb_of_long_steps(long_steps):
    assert long_steps.stat().st_size > 50_000_000
    _show_reproduces(long_steps)


def test_show_of_one_step_of_millions_of_lines(tmp_path):
    """A heredoc step of 3.4 million `# …` lines (no date, so one step): 50 MB, one image."""
    path = write_document(
        tmp_path / "one-step.md",
        steps=lambda n: "RUN <<EOF\n" + "# hostile line\n" * 3_400_000 + "EOF",
        step_count=1,
        layer_count=1,
    )
    assert path.stat().st_size > 50_000_000
    _show_reproduces(path)


def test_show_of_50_mb_of_long_layers(tmp_path):
    path = write_document(
        tmp_path / "long-layers.md",
        step_count=1,
        layers=lambda n: f"{_digest(n)}{PAD}",
        layer_count=MAX_LAYERS,
    )
    assert path.stat().st_size > 50_000_000
    _show_reproduces(path)


def _compared(a: Path, b: Path, *options: str):
    result = run_limited("compare", f"repo-info:{a}", f"repo-info:{b}", *options, timeout=60)
    assert_clean(result)
    return result


def test_compare_of_two_50_mb_documents_one_step_and_one_layer_apart(
    long_steps, slightly_different
):
    result = _compared(long_steps, slightly_different)
    assert result.code == 1, result
    assert f"  steps: {MAX_STEPS - 1} matched, 1 differing\n" in result.out, result
    assert "    differing: A step 5001, B step 5001\n" in result.out, result
    assert (
        "      A: RUN echo 5000 xxx" in result.out and "      B: RUN echo changed xxx" in result.out
    )
    assert "  layers: 99 matched, 1 differing\n" in result.out, result
    assert "    differing: A layer 51, B layer 51\n" in result.out, result
    assert result.out.endswith("result: differ (2 differences)\n"), result


def test_compare_of_two_50_mb_documents_different_everywhere(long_steps, all_different):
    result = _compared(long_steps, all_different)
    assert result.code == 1, result
    assert f"  steps: {MAX_STEPS} differing\n" in result.out, result
    assert "  layers: 100 differing\n" in result.out, result
    assert "    differing: A step 1, B step 1\n" in result.out, result
    assert f"    differing: A step {MAX_STEPS}, B step {MAX_STEPS}\n" in result.out, result
    assert result.out.endswith(f"result: differ ({MAX_STEPS + 100} differences)\n"), result


# --- just past a cap ---------------------------------------------------------------------------


def _refused(path: Path, *words: str, command: str = "show") -> None:
    sources = [f"repo-info:{path}"] * (2 if command == "compare" else 1)
    result = run_limited(command, *sources, timeout=60)
    assert_clean(result)
    assert result.code == 2, result
    for word in words:
        assert word in result.err, result


def test_a_document_just_over_the_size_cap(tmp_path):
    path = write_document(tmp_path / "huge.md")
    with path.open("r+b") as handle:
        handle.truncate(MAX_METADATA_BYTES + 1)  # sparse: NULs after a real document
    for command in ("show", "compare"):
        _refused(path, f"is {MAX_METADATA_BYTES + 1} bytes", "over the 64 MB cap", command=command)


def test_steps_just_over_the_step_cap(tmp_path):
    path = write_document(tmp_path / "steps.md", step_count=MAX_STEPS + 1)
    _refused(path, f"more than {MAX_STEPS} steps in one image", "the cap on steps")


def test_a_million_dated_lines_are_refused_at_the_cap(tmp_path):
    """50 MB of `# <date>` lines (the 776 MB of the report): refused as soon as the cap is
    passed, long before the end of the document."""
    path = write_document(tmp_path / "dates.md", steps=lambda n: "RUN x", step_count=1_400_000)
    assert path.stat().st_size > 50_000_000
    _refused(path, f"more than {MAX_STEPS} steps in one image")


def test_layers_just_over_the_layer_cap(tmp_path):
    path = write_document(tmp_path / "layers.md", step_count=1, layer_count=MAX_LAYERS + 1)
    _refused(path, f"more than {MAX_LAYERS} layers in one image", "the cap on layers")


def test_images_just_over_the_image_cap(tmp_path):
    path = write_document(
        tmp_path / "images.md", step_count=1, layer_count=1, platforms=MAX_SECTIONS + 1
    )
    _refused(path, f"more than {MAX_SECTIONS} images in one document")


# --- the work of aligning, and of reading, bounded ------------------------------------------------


def test_documents_of_a_thousand_images_are_compared_and_ranked_in_bounded_time(tmp_path):
    """Platforms were paired by a scan of every image of B for each image of A, and `base`
    computed each candidate image's keys once per image of the other side (44 s here)."""
    a = write_document(tmp_path / "a.md", step_count=1, layer_count=1, platforms=MAX_SECTIONS)
    b = write_document(
        tmp_path / "b.md",
        steps=lambda n: "RUN changed",
        step_count=1,
        layer_count=1,
        platforms=MAX_SECTIONS,
    )
    result = _compared(a, b)
    assert result.code == 1, result
    assert result.out.count("\nplatform linux; amd64") == MAX_SECTIONS, result
    assert result.out.count("  steps: 1 differing\n") == MAX_SECTIONS, result
    assert result.out.endswith(f"result: differ ({MAX_SECTIONS} differences)\n"), result
    ranked = run_limited("base", f"repo-info:{a}", "--against", f"repo-info:{b}", "--json")
    assert_clean(ranked)
    assert ranked.code == 0, ranked
    assert len(json.loads(ranked.out)) == MAX_SECTIONS


@pytest.fixture(scope="module")
def worst_case(docs) -> tuple[Path, Path]:
    """10,000 equal steps, and as many alternating between two: difflib's worst case."""
    a = write_document(docs / "same.md", steps=lambda n: "RUN x", step_count=MAX_STEPS)
    b = write_document(
        docs / "alternating.md",
        steps=lambda n: "RUN y" if n % 2 == 0 else "RUN x",
        step_count=MAX_STEPS,
    )
    return a, b


def test_a_history_at_difflib_worst_case_is_paired_by_position_with_a_note(worst_case):
    """10,000 equal steps against alternating ones: difflib would take hours (its work grows
    with the cube of the length); the budget stops it after about a second."""
    a, b = worst_case
    result = _compared(a, b, "--format", "json")
    assert result.code == 1, result
    (platform,) = json.loads(result.out)["platforms"]
    (note,) = platform["notes"]
    assert note.startswith(f"steps: {MAX_STEPS - 1} of A and {MAX_STEPS - 1} of B"), note
    assert (
        f"paired by position: aligning them by content would take over {ALIGNMENT_BUDGET}" in note
    )
    statuses = [pair["status"] for pair in platform["steps"]]
    assert statuses == ["differing", "matched"] * (MAX_STEPS // 2)  # position n with position n
    text = _compared(a, b)
    assert f"  steps: {MAX_STEPS // 2} matched, {MAX_STEPS // 2} differing\n" in text.out, text


def test_a_slight_change_in_a_repetitive_history_is_found_exactly(worst_case, tmp_path):
    """The same steps repeated, one changed: the common start and end are paired first, so
    difflib has one step left to align and the change is found where it is."""
    a = worst_case[0]
    b = write_document(
        tmp_path / "one-changed.md",
        steps=lambda n: "RUN y" if n == 4321 else "RUN x",
        step_count=MAX_STEPS,
    )
    result = _compared(a, b, "--format", "json")
    assert result.code == 1, result
    (platform,) = json.loads(result.out)["platforms"]
    assert platform["notes"] == []
    changed = [(p["a_index"], p["b_index"]) for p in platform["steps"] if p["status"] != "matched"]
    assert changed == [(4321, 4321)]


def test_a_pull_line_of_many_at_signs_reads_in_linear_time(tmp_path):
    """`(\\S+)@(\\S+)$` backtracked quadratically on such a line (a 1 MB one: hours)."""
    path = write_document(tmp_path / "pull.md")
    text = path.read_text()
    hostile = "$ docker pull " + "a@" * 500_000 + " x"
    path.write_text(
        text.replace("```\n\n-\tDocker Version", f"{hostile}\n```\n\n-\tDocker Version", 1)
    )
    result = run_limited("show", f"repo-info:{path}", timeout=60)
    assert_clean(result)
    assert result.code == 0, result
    # the line is read as the old pattern did: no digest with a space in it; the last `@`
    # with a name before it otherwise
    assert repoinfo._pulled_digest(hostile) is None
    digest = "sha256:" + "e" * 64
    assert repoinfo._pulled_digest("$ docker pull " + "a@" * 500_000 + digest) == digest
    assert repoinfo._pulled_digest("$ docker pull python@" + digest) == digest
    assert repoinfo._pulled_digest("$ docker pull @" + digest) is None


def test_a_command_nested_past_the_stack_is_not_json(tmp_path):
    path = write_document(tmp_path / "nested.md")
    text = path.read_text().replace('`["sh"]`', "`" + "[" * 1_000_000 + "`")
    path.write_text(text)
    _refused(path, "is not JSON")


def test_the_text_report_says_how_a_long_history_was_paired(worst_case):
    a, b = worst_case
    result = _compared(a, b)
    assert result.code == 1, result
    assert "\n  note: steps: " in result.out and "paired by position" in result.out, result


# --- compare --format diff: the same budget ----------------------------------------------------


def _apply(a: list[str], diff: str) -> list[str]:
    """`a` with a unified diff applied, checking every context and removed line against it."""
    lines = diff.splitlines(keepends=True)
    out, at, i = [], 0, 2 if lines else 0
    while i < len(lines):
        hunk = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@\n", lines[i])
        assert hunk, lines[i]
        length = int(hunk.group(2) or 1)
        begin = int(hunk.group(1)) - (1 if length else 0)
        out += a[at:begin]
        at, i = begin, i + 1
        while i < len(lines) and not lines[i].startswith("@@"):
            kind, body = lines[i][0], lines[i][1:]
            if kind in " -":
                assert a[at] == body, (at, a[at], body)
                at += 1
            if kind in " +":
                out.append(body)
            i += 1
    return out + a[at:]


def test_the_text_diff_turns_a_into_b_and_is_difflib_s_where_difflib_would_finish():
    chooser = random.Random(5)
    differs_from_difflib = 0
    for _ in range(2_000):
        a = [chooser.choice("abc") + "\n" for _ in range(chooser.randint(0, 30))]
        b = [chooser.choice("abc") + "\n" for _ in range(chooser.randint(0, 30))]
        diff, notes = unified_diff(a, b, "A", "B")
        assert _apply(a, diff) == b and notes == []
        assert (diff == "") == (a == b)
        differs_from_difflib += diff != "".join(difflib.unified_diff(a, b, "A", "B"))
    # the common start and end are paired first: with three letters that sometimes pairs other
    # equal lines than difflib does, never wrongly
    assert differs_from_difflib < 2_000 // 2


def test_a_diff_of_histories_past_the_budget_is_bounded_and_says_so(tmp_path):
    """Steps cycling through 97 against 89 commands: difflib.unified_diff takes seconds per
    10,000 steps, minutes for a few such images; the budget pairs the rest by position."""
    a = write_document(
        tmp_path / "a.md", steps=lambda n: f"RUN step {n % 97}", step_count=MAX_STEPS
    )
    b = write_document(
        tmp_path / "b.md", steps=lambda n: f"RUN step {n % 89}", step_count=MAX_STEPS
    )
    result = _compared(a, b, "--format", "diff")
    assert result.code == 1, result
    assert "paired by position" in result.err and result.err.count("\n") == 1, result
    assert _apply(a.read_text().splitlines(keepends=True), result.out) == b.read_text().splitlines(
        keepends=True
    )
