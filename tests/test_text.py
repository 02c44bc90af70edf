"""Sizes, dates, JSON and platform strings exactly as docs/repo-info-format.md states them."""

from __future__ import annotations

import re

import pytest

from reconstruct.model import Platform
from reconstruct.text import (
    decimal_number,
    generator_json,
    history_date,
    human_size,
    platform_string,
)
from tests.support.paths import FORMAT_DOC, need

SIZES = [
    (32, "32.0 B"),
    (1000, "1000.0 B"),
    (1001, "1.0 KB (1001 bytes)"),
    (1050, "1.1 KB (1050 bytes)"),
    (1209, "1.2 KB (1209 bytes)"),
    (999999, "1000.0 KB (999999 bytes)"),
    (1000999, "1001.0 KB (1000999 bytes)"),
    (1001000, "1.0 MB (1001000 bytes)"),
    (51351038, "51.4 MB (51351038 bytes)"),
    (4069985900, "4.1 GB (4069985900 bytes)"),
]


@pytest.mark.parametrize(("size", "printed"), SIZES)
def test_size_examples(size, printed):
    assert human_size(size) == printed


def test_size_table_in_the_format_doc_is_the_one_tested():
    rows = re.findall(r"^\| (\d+) \| `([^`]+)` \|$", need(FORMAT_DOC).read_text(), flags=re.M)
    assert rows, "the size table moved"
    assert [(int(size), printed) for size, printed in rows] == SIZES


def test_size_units_stop_at_tb_and_zero_prints_bytes():
    assert human_size(0) == "0.0 B"
    assert human_size(5 * 10**16) == "50000.0 TB (50000000000000000 bytes)"
    assert human_size(1001 * 10**9) == "1.0 TB (1001000000000 bytes)"


@pytest.mark.parametrize(
    ("created", "printed"),
    [
        ("2019-09-11T17:56:40Z", "Wed, 11 Sep 2019 17:56:40 GMT"),
        # the fraction is truncated (gmtime), unless it is so close to the next second that
        # the double holding the seconds is that second (tests/test_generator_date.py)
        ("2019-09-11T17:56:40.999999Z", "Wed, 11 Sep 2019 17:56:40 GMT"),
        ("2019-09-11T17:56:40.999999999Z", "Wed, 11 Sep 2019 17:56:41 GMT"),
        ("2019-09-11T19:56:40.5+02:00", "Wed, 11 Sep 2019 17:56:40 GMT"),
        ("2019-09-11T17:26:40-00:30", "Wed, 11 Sep 2019 17:56:40 GMT"),
        ("2016-11-22T23:24:34.123456789-08:00", "Wed, 23 Nov 2016 07:24:34 GMT"),
        ("2015-10-21T00:00:00Z", "Wed, 21 Oct 2015 00:00:00 GMT"),
        (None, "Thu, 01 Jan 1970 00:00:00 GMT"),
        ("", "Thu, 01 Jan 1970 00:00:00 GMT"),
        ("yesterday", "Thu, 01 Jan 1970 00:00:00 GMT"),
        ("5", "Thu, 01 Jan 1970 00:00:05 GMT"),  # Mojo::Date reads digits as seconds
        ("2019-13-45T99:00:00Z", "Thu, 01 Jan 1970 00:00:00 GMT"),
    ],
)
def test_history_dates(created, printed):
    assert history_date(created) == printed


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (["/bin/bash"], '["\\/bin\\/bash"]'),
        (["cmd", "/C", "type C:\\hello.txt"], '["cmd","\\/C","type C:\\\\hello.txt"]'),
        (
            ['say "hi"', "a\tb\nc\rd\be\ff", "\x01"],
            '["say \\"hi\\"","a\\tb\\nc\\rd\\be\\ff","\\u0001"]',
        ),
        (["naïve ☃"], '["naïve ☃"]'),
        (
            ["powershell", "-Command", "$ErrorActionPreference = 'Stop';"],
            '["powershell","-Command","$ErrorActionPreference = \'Stop\';"]',
        ),
        ([], "[]"),
    ],
)
def test_generator_json(value, printed):
    assert generator_json(value) == printed


@pytest.mark.parametrize(
    ("platform", "printed"),
    [
        (
            Platform("windows", "amd64", os_version="10.0.17763.737"),
            "windows version 10.0.17763.737; amd64",
        ),
        (Platform("linux", "arm", "v7"), "linux; arm variant v7"),
        (Platform("linux", "arm64", "v8"), "linux; arm64 variant v8"),
        (Platform("unknown", "unknown"), "unknown; unknown"),
        (Platform(), "linux; amd64"),
        (
            Platform(
                "windows", "amd64", os_version="10.0.1", os_features=["win32k"], features=["sse4"]
            ),
            "windows version 10.0.1 ft. win32k; amd64 ft. sse4",
        ),
        # a present but empty list still prints its marker, as the generator does
        (Platform("linux", "amd64", features=[]), "linux; amd64 ft. "),
    ],
)
def test_platform_strings(platform, printed):
    assert platform_string(platform) == printed


@pytest.mark.parametrize("text", ["\u00b2", "\u0663", "", "-1", " 1", "1e3", "1.5", None, "x"])
def test_decimal_number_takes_ascii_digits_only(text):
    # str.isdigit() takes "²" and "٣", which int() refuses (a record's size, a pax uid)
    assert decimal_number(text) is None


def test_decimal_number_bounds_its_digits():
    assert decimal_number("42") == 42 and decimal_number("0") == 0
    assert decimal_number("1" * 20) == int("1" * 20) and decimal_number("1" * 21) is None
    assert decimal_number("1" * 20, 19) is None
