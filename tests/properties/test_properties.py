"""Property-based tests (hypothesis): sizes, dates, platform strings, history lines, and the
repo-info render → parse → render round trip."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from reconstruct.history import created_by_from_repo_info, repo_info_text
from reconstruct.model import Image, Index, IndexEntry, Layer, Platform, Reference, Step, Target
from reconstruct.render import repoinfo
from reconstruct.sources.repoinfo import parse_document, parse_imf_date, parse_platform_string
from reconstruct.text import history_date, human_size, imf_fixdate, platform_string

UNITS = ["B", "KB", "MB", "GB", "TB"]
SIZE = re.compile(r"^(\d+\.\d) (B|KB|MB|GB|TB)(?: \((\d+) bytes\))?$")


@given(st.integers(min_value=0, max_value=10**18))
def test_sizes(size):
    text = human_size(size)
    match = SIZE.match(text)
    assert match, text
    unit = UNITS.index(match.group(2))
    assert (match.group(3) is None) == (unit == 0)
    if unit:
        assert int(match.group(3)) == size
    # the unit steps up only while the integer part is strictly above 1000
    if unit < 4:
        assert int(size / 1000**unit) <= 1000
    if unit > 0:
        assert int(size / 1000 ** (unit - 1)) > 1000
    assert abs(float(match.group(1)) - size / 1000**unit) <= 0.05 + 1e-9 * size / 1000**unit


# The generator keeps no date before 1970 (tests/test_generator_date.py has those); its seconds are
# a double, so a fraction within about 1e-7 of the next second rounds up (so: digits of 0 added).
moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


@given(moments, st.integers(min_value=-14 * 60, max_value=14 * 60), st.integers(0, 9))
def test_dates_are_converted_to_utc_and_truncated(moment, offset_minutes, extra_digits):
    offset = timedelta(minutes=offset_minutes)
    local = moment.astimezone(timezone(offset))
    fraction = f"{moment.microsecond:06d}" + "0" * extra_digits
    sign = "+" if offset_minutes >= 0 else "-"
    minutes = abs(offset_minutes)
    text = (
        local.strftime("%Y-%m-%dT%H:%M:%S")
        + f".{fraction}{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    )
    printed = history_date(text)
    assert printed == imf_fixdate(moment.replace(microsecond=0))
    assert parse_imf_date(printed) == moment.replace(microsecond=0)


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=12)


@given(
    st.sampled_from(["linux", "windows", "freebsd", "unknown"]),
    st.sampled_from(["amd64", "arm", "arm64", "386", "riscv64", "unknown"]),
    st.none() | names,
    st.none() | st.from_regex(r"10\.0\.\d{5}\.\d{1,4}", fullmatch=True),
    st.none() | st.lists(names, min_size=1, max_size=3),
    st.none() | st.lists(names, min_size=1, max_size=3),
)
def test_platform_strings_round_trip(os_name, arch, variant, version, os_features, features):
    platform = Platform(os_name, arch, variant, version, os_features, features)
    assert parse_platform_string(platform_string(platform)) == platform


shells = st.sampled_from(
    [
        None,
        ["cmd", "/S", "/C"],
        ["powershell", "-Command", "$ErrorActionPreference = 'Stop';"],
        ["/bin/bash", "-c"],
    ]
)
bodies = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
words = st.sampled_from(
    [
        "ENV A=1",
        'CMD ["x"]',
        "apt-get update",
        "Apply image 1809",
        "echo $A",
        "COPY a /b # buildkit",
        "",
    ]
)


@st.composite
def created_bys(draw):
    shell = draw(shells)
    text = draw(words) + draw(bodies)
    if draw(st.booleans()):
        text = "#(nop) " + " " * draw(st.integers(0, 2)) + text
    if draw(st.booleans()):
        prefix = " ".join(shell) + " " if shell and draw(st.booleans()) else "/bin/sh -c "
        text = prefix + text
    if draw(st.booleans()):
        count = draw(st.integers(1, 3))
        args = " ".join(f"A{n}={draw(names)}" for n in range(count))
        text = f"|{count} {args} {text}"
    if draw(st.booleans()):
        text = "RUN " + text
    return text, shell


@settings(max_examples=400)
@given(created_bys(), st.sampled_from([2016, 2019, 2022, 2023, 9999]))
def test_history_lines_read_back_render_the_same(case, era):
    created_by, shell = case
    printed = repo_info_text(created_by, shell, era)
    again = created_by_from_repo_info(printed)
    # the era's own rendering of the inverse is the same text (documents are read in their era)
    assert repo_info_text(again, None, era) == printed


digests = st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True)
line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="`"), max_size=30
)


@st.composite
def images(draw):
    steps = [
        Step(
            created=draw(moments).strftime("%Y-%m-%dT%H:%M:%SZ"),
            created_by=draw(
                st.sampled_from(["/bin/sh -c ", "/bin/sh -c #(nop)  ENV A=", "Apply image "])
            )
            + draw(line_text),
        )
        for _ in range(draw(st.integers(0, 5)))
    ]
    layers = [
        Layer(
            digest=draw(digests),
            size=draw(st.integers(0, 10**12)),
            media_type=draw(
                st.sampled_from(
                    [
                        "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                        "application/vnd.oci.image.layer.v1.tar+gzip",
                    ]
                )
            ),
            last_modified=draw(st.none() | moments.map(lambda m: m.replace(microsecond=0))),
        )
        for _ in range(draw(st.integers(1, 4)))
    ]
    return Image(
        manifest_digest=draw(digests),
        manifest_media_type="application/vnd.docker.distribution.manifest.v2+json",
        config_digest=draw(digests),
        docker_version=draw(
            st.none() | st.from_regex(r"[0-9]{2}\.[0-9]{2}\.[0-9]", fullmatch=True)
        ),
        entrypoint=draw(st.none() | st.lists(line_text, min_size=1, max_size=3)),
        cmd=draw(st.none() | st.lists(line_text, max_size=3)),
        shell=draw(st.none() | st.lists(line_text, min_size=1, max_size=3)),
        steps=steps,
        layers=layers,
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["linux", "windows"]), st.sampled_from(["amd64", "arm64"]), images()
        ),
        min_size=1,
        max_size=3,
    ),
    digests,
    st.booleans(),
)
def test_repo_info_render_parse_render(entries, top_digest, as_index):
    if as_index:
        index = Index(digest=top_digest, media_type="application/vnd.oci.image.index.v1+json")
        for os_name, arch, image in entries:
            index.entries.append(
                IndexEntry(
                    digest=image.manifest_digest, platform=Platform(os_name, arch), image=image
                )
            )
        target = Target(Reference(), index)
    else:
        os_name, arch, image = entries[0]
        image.platform = Platform(os_name, arch)
        target = Target(Reference(), image)
    first = repoinfo.render(target, "library/some/name", "tag")
    second = repoinfo.render(parse_document(first), "some/name", "tag")
    assert second == first
