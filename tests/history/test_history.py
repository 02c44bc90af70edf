"""The history-line rules and every example of docs/repo-info-format.md, and layer matching."""

from __future__ import annotations

import re

import pytest

from reconstruct.history import (
    BUILDKIT_AWARE_ERA,
    link_layers,
    parse_instruction,
    printed_before_buildkit_awareness,
    repo_info_text,
)
from reconstruct.model import FOREIGN_MEDIA_TYPES, Image, Layer, Step
from tests.support.paths import FORMAT_DOC, need

POWERSHELL = [
    "powershell",
    "-Command",
    "$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue';",
]
CMD = ["cmd", "/S", "/C"]

# (created_by, final SHELL, printed) — the table of the format doc, row for row.
DOC_EXAMPLES = [
    ('/bin/sh -c #(nop)  CMD ["bash"]', None, 'CMD ["bash"]'),
    ("/bin/sh -c #(nop) ADD file:ab12… in / ", None, "ADD file:ab12… in / "),
    ("/bin/sh -c apt-get update", None, "RUN apt-get update"),
    ("|2 A=1 B=two words /bin/sh -c echo $A", None, "# ARGS: A=1 B=two words\nRUN echo $A"),
    ("|1 X=1 echo hi", None, "# unable to parse image command string further:\n|1 X=1 echo hi"),
    ("RUN /bin/sh -c apt-get update # buildkit", None, "RUN apt-get update # buildkit"),
    (
        "RUN |1 version=1.2 /bin/sh -c set -eux # buildkit",
        None,
        "# ARGS: version=1.2\nRUN set -eux # buildkit",
    ),
    ("COPY /rootfs/ / # buildkit", None, "COPY /rootfs/ / # buildkit"),
    ("Apply image 10.0.17763.737", None, "RUN Apply image 10.0.17763.737"),
    ("cmd /S /C #(nop)  ENV X=1", None, "RUN cmd /S /C #(nop)  ENV X=1"),
    ("cmd /S /C #(nop)  ENV GOPATH=C:\\go", CMD, "ENV GOPATH=C:\\go"),
    (
        " ".join(POWERSHELL) + " #(nop)  ENV PYTHON_VERSION=3.7.4",
        POWERSHELL,
        "ENV PYTHON_VERSION=3.7.4",
    ),
    ("", None, "RUN "),
]


@pytest.mark.parametrize(("created_by", "shell", "printed"), DOC_EXAMPLES)
def test_format_doc_examples(created_by, shell, printed):
    assert repo_info_text(created_by, shell) == printed


def test_every_row_of_the_doc_table_is_covered():
    text = need(FORMAT_DOC).read_text()
    table = text.split("| created_by | printed |", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == len(DOC_EXAMPLES)
    for row, (created_by, _, printed) in zip(rows, DOC_EXAMPLES, strict=True):
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        quoted = re.findall(r"`([^`]*)`", cells[0].replace("\\|", "|"))
        if created_by:
            assert quoted and quoted[0] == created_by
        first_printed = re.findall(r"`([^`]*)`", cells[1].replace("\\|", "|"))
        if first_printed and first_printed[0] != "unchanged":
            assert printed.startswith(first_printed[0])


@pytest.mark.parametrize(
    ("created_by", "shell", "printed"),
    [
        # rule 1: only one leading RUN is removed
        ("RUN RUN x", None, "RUN x"),  # the second RUN then reads as an instruction
        # rule 3: at most one prefix, only at the start
        ("/bin/sh -c /bin/sh -c echo", None, "RUN /bin/sh -c echo"),
        ("echo /bin/sh -c x", None, "RUN echo /bin/sh -c x"),
        # prefixes are case-sensitive and need the trailing space
        ("/BIN/SH -C echo", None, "RUN /BIN/SH -C echo"),
        ("/bin/sh -cecho", None, "RUN /bin/sh -cecho"),
        # an earlier, different SHELL keeps its prefix
        ("cmd /S /C #(nop)  ENV A=1", POWERSHELL, "RUN cmd /S /C #(nop)  ENV A=1"),
        # `#(nop)` needs at least one space after it; several are all removed
        ("/bin/sh -c #(nop)ENV A=1", None, "RUN #(nop)ENV A=1"),
        ("/bin/sh -c #(nop)     WORKDIR /x", None, "WORKDIR /x"),
        # rule 5: all-caps word and a space (not a lone word, not mixed case)
        ("WORKDIR /data", None, "WORKDIR /data"),
        ("CMD", None, "RUN CMD"),
        ("Env A=1", None, "RUN Env A=1"),
        # build args before the final SHELL's prefix
        ("|1 A=1 cmd /S /C echo %A%", CMD, "# ARGS: A=1\nRUN echo %A%"),
        # the earliest shell prefix ends the argument list
        ("|2 A=/bin/sh B=1 /bin/sh -c echo", None, "# ARGS: A=/bin/sh B=1\nRUN echo"),
        # any text starting with | and no shell prefix is unparsable
        ("|x foo", None, "# unable to parse image command string further:\n|x foo"),
        # tabs and newlines verbatim; ` # buildkit` kept
        ("/bin/sh -c a\tb\nc", None, "RUN a\tb\nc"),
        ("RUN /bin/sh -c cat <<EOF\nhi\nEOF # buildkit", None, "RUN cat <<EOF\nhi\nEOF # buildkit"),
        ("Install update 1809-amd64", None, "RUN Install update 1809-amd64"),
        (
            "BusyBox 1.38.0 (uclibc), Buildroot 2026.05.1, Debian 13",
            None,
            "RUN BusyBox 1.38.0 (uclibc), Buildroot 2026.05.1, Debian 13",
        ),
        (None, None, "RUN "),
    ],
)
def test_rules_beyond_the_examples(created_by, shell, printed):
    assert repo_info_text(created_by, shell) == printed


@pytest.mark.parametrize(
    ("created_by", "era", "printed"),
    [
        (
            "RUN /bin/sh -c apt-get update # buildkit",
            2019,
            "RUN RUN /bin/sh -c apt-get update # buildkit",
        ),
        ("ENV LANG=C.UTF-8", 2022, "RUN ENV LANG=C.UTF-8"),
        ("ENV LANG=C.UTF-8", 2023, "ENV LANG=C.UTF-8"),
        ('/bin/sh -c #(nop)  CMD ["bash"]', 2016, 'CMD ["bash"]'),
        ("|1 A=1 /bin/sh -c x", 2016, "# ARGS: A=1\nRUN x"),
    ],
)
def test_older_generator_eras(created_by, era, printed):
    assert repo_info_text(created_by, None, era) == printed


def test_instructions():
    assert parse_instruction('/bin/sh -c #(nop)  CMD ["bash"]') == parse_instruction('CMD ["bash"]')
    run = parse_instruction("RUN |1 v=1 /bin/sh -c make # buildkit")
    assert (run.keyword, run.arguments, run.build_args, run.buildkit) == (
        "RUN",
        "make",
        "v=1",
        True,
    )
    base = parse_instruction("Apply image 1809-RTM-amd64")
    assert base.windows_base and base.keyword == "RUN"
    assert parse_instruction("|1 X=1 echo hi").keyword == ""
    assert parse_instruction("mkdir /proc, mkfile /base/base.txt").keyword == ""
    assert parse_instruction("").keyword == ""
    # a shell command that happens to start with a capital word stays a RUN
    assert parse_instruction("/bin/sh -c FOO=1 make").keyword == "RUN"


def _image(steps, diff_ids, layers):
    return Image(
        steps=[Step(created_by=f"step {i}", empty_layer=empty) for i, empty in enumerate(steps)],
        diff_ids=diff_ids,
        layers=[Layer(digest=d, size=1, media_type=m) for d, m in layers],
    )


def test_matching_by_empty_layer_and_position():
    foreign = next(iter(FOREIGN_MEDIA_TYPES))
    image = _image(
        [False, True, False, True],
        ["sha256:d1", "sha256:d2"],
        [("sha256:c1", foreign), ("sha256:c2", "application/vnd.oci.image.layer.v1.tar+gzip")],
    )
    link_layers(image)
    assert image.warnings == []
    assert [s.layer.digest if s.layer else None for s in image.steps] == [
        "sha256:c1",
        None,
        "sha256:c2",
        None,
    ]
    assert [layer.diff_id for layer in image.layers] == ["sha256:d1", "sha256:d2"]
    assert image.layers[0].foreign and not image.layers[1].foreign


def test_count_mismatches_are_reported_and_nothing_is_dropped():
    image = _image([False, False, False], ["sha256:d1", "sha256:d2"], [("sha256:c1", None)])
    link_layers(image)
    assert len(image.layers) == 1 and len(image.diff_ids) == 2 and len(image.steps) == 3
    assert "manifest lists 1 layers but the config has 2 diff_ids" in image.warnings
    assert "history has 3 non-empty steps but rootfs has 2 layers" in image.warnings
    assert image.steps[2].layer is None


def test_no_manifest_layers_come_from_diff_ids():
    image = _image([False], ["sha256:d1"], [])
    link_layers(image)
    assert image.layers[0].diff_id == "sha256:d1" and image.layers[0].digest is None
    assert image.total_size is None and image.warnings == []


def test_image_without_history_is_reported():
    image = _image([], ["sha256:d1"], [("sha256:c1", None)])
    link_layers(image)
    assert image.warnings == ["image has no history: 1 layers without steps"]


@pytest.mark.parametrize(
    ("created_by", "dated"),
    [
        ("RUN /bin/sh -c apk add curl # buildkit", True),
        ("ENV A=1", True),
        ("EXPOSE map[4443/tcp:{}]", True),
        ("COPY /notary-server ./ # buildkit", True),
        ("/bin/sh -c SETX /M PATH x", True),  # a command in capitals: also printed differently
        ("/bin/sh -c #(nop)  ENV B=2", False),
        ("/bin/sh -c apk add curl", False),
        ("|1 TOKEN=x /bin/sh -c ENV_FILE=1 make", False),
        ("Apply image 1809-RTM-amd64", False),
    ],
)
def test_only_the_older_generator_prints_run_before_a_capitalised_word(created_by, dated):
    """Today's lines never look like the 2022 generator's, and each line that only the 2022
    generator prints is recognised: a document's `RUN RUN …` dates it."""
    today = repo_info_text(created_by)
    assert not any(printed_before_buildkit_awareness(line) for line in today.splitlines())
    before = repo_info_text(created_by, era=BUILDKIT_AWARE_ERA - 1)
    assert printed_before_buildkit_awareness(before.splitlines()[-1]) == dated, before
    assert (before != today) == dated


def test_earlier_shells_are_bounded_and_still_strip_their_prefix(monkeypatch):
    """Each step is parsed against the shells SHELL steps declared before it: 10,000 SHELL
    steps once cost 10,000 squared prefix checks. The most recent distinct ones are kept."""
    from reconstruct.history import instructions

    seen: list[int] = []
    parse = instructions.parse_instruction

    def counting(created_by, shell=None, windows=False, earlier_shells=()):
        seen.append(len(earlier_shells))
        return parse(created_by, shell, windows, earlier_shells)

    monkeypatch.setattr(instructions, "parse_instruction", counting)
    declared = [Step(created_by=f"/bin/sh -c #(nop)  SHELL [sh{n} -c]") for n in range(5_000)]
    repeated = [Step(created_by="/bin/sh -c #(nop)  SHELL [bash -c]")] * 5_000
    last = Step(created_by="sh4999 -c echo hi")
    found = instructions.image_instructions(Image(steps=declared + repeated + [last]))
    assert max(seen) == instructions.MAX_EARLIER_SHELLS
    assert (found[-1].keyword, found[-1].arguments) == ("RUN", "echo hi")
