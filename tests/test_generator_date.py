"""The `# …` date of a history line, by the repo-info generator's own rules
(reconstruct/generator_date.py): a table written from Mojo::Date's and Time::Local's code, every
branch of it, and the same strings (and many more) against the real Mojo::Date (Debian's
libmojolicious-perl, which scripts/install-engines.sh installs), run by perl."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconstruct import api
from reconstruct.generator_date import EPOCH_TEXT, generator_date
from tests.support.needs import need_tools, unavailable
from tests.support.schemas import check

THIS_YEAR = 2026  # the rolling century below is 2026's: 0..76 are 2000..2076, 77..99 1977..1999

TABLE = [
    # (created, printed, stand_in)
    ("0001-01-01T00:00:00Z", "Mon, 01 Jan 2001 00:00:00 GMT", False),  # kaniko, crane, ko
    ("0069-06-15T12:00:00Z", "Sat, 15 Jun 2069 12:00:00 GMT", False),
    ("0070-01-01T00:00:00Z", "Wed, 01 Jan 2070 00:00:00 GMT", False),
    ("0076-12-31T23:59:59Z", "Thu, 31 Dec 2076 23:59:59 GMT", False),  # the breakpoint
    ("0077-01-01T00:00:00Z", "Sat, 01 Jan 1977 00:00:00 GMT", False),  # the last century's
    ("0099-01-01T00:00:00Z", "Fri, 01 Jan 1999 00:00:00 GMT", False),
    ("0100-01-01T00:00:00Z", "Sat, 01 Jan 2000 00:00:00 GMT", False),  # 1900 + 100
    ("0999-01-01T00:00:00Z", "Thu, 01 Jan 2899 00:00:00 GMT", False),  # 1900 + 999
    ("1000-01-01T00:00:00Z", EPOCH_TEXT, True),  # as written: before 1970
    ("1969-12-31T23:59:59Z", EPOCH_TEXT, True),
    ("1970-01-01T00:00:00Z", EPOCH_TEXT, False),  # the epoch itself, read
    ("1970-01-01T00:00:00+01:00", EPOCH_TEXT, True),  # an hour before it, after the offset
    ("1970-01-01T01:00:00+01:00", EPOCH_TEXT, False),
    ("2019-02-30T00:00:00Z", EPOCH_TEXT, True),  # timegm: no 30 February
    ("2019-04-31T00:00:00Z", EPOCH_TEXT, True),
    ("2020-02-29T00:00:00Z", "Sat, 29 Feb 2020 00:00:00 GMT", False),  # a leap year
    ("2100-02-29T00:00:00Z", EPOCH_TEXT, True),  # not one
    ("2019-01-01T24:00:00Z", EPOCH_TEXT, True),
    ("2019-01-01T00:60:00Z", EPOCH_TEXT, True),
    ("2019-01-01T00:00:60Z", EPOCH_TEXT, True),  # no leap second
    ("2019-13-01T00:00:00Z", EPOCH_TEXT, True),
    ("2019-00-01T00:00:00Z", EPOCH_TEXT, True),
    # the seconds are a double: a fraction this close to the next second rounds up into it,
    # and gmtime truncates what is left (Perl and Mojo::Date do exactly this)
    ("2019-09-11T17:56:40.999999999Z", "Wed, 11 Sep 2019 17:56:41 GMT", False),
    ("2019-09-11T17:56:40.9999Z", "Wed, 11 Sep 2019 17:56:40 GMT", False),
    ("2019-09-11T17:56:59.9Z", "Wed, 11 Sep 2019 17:56:59 GMT", False),
    ("2019-09-11t17:56:40z", "Wed, 11 Sep 2019 17:56:40 GMT", False),  # lower case
    ("2019-09-11 17:56:40", "Wed, 11 Sep 2019 17:56:40 GMT", False),  # no offset, a space
    ("2019-09-11T17:56:40+02:00", "Wed, 11 Sep 2019 15:56:40 GMT", False),
    ("2019-09-11T17:56:40-09:30", "Thu, 12 Sep 2019 03:26:40 GMT", False),
    ("2019-09-11T17:56:40+99:00", "Sat, 07 Sep 2019 14:56:40 GMT", False),  # any offset
    ("2019-9-1T1:2:3Z", "Sun, 01 Sep 2019 01:02:03 GMT", False),  # one digit each
    ("2019-09-11T17:56:40Z\n", "Wed, 11 Sep 2019 17:56:40 GMT", False),  # Perl's `$`
    ("2019-09-11T17:56:40ZZ", EPOCH_TEXT, True),
    ("2019-09-11", EPOCH_TEXT, True),
    ("", EPOCH_TEXT, True),
    (None, EPOCH_TEXT, True),  # no `created` at all
    ("yesterday", EPOCH_TEXT, True),
    ("1568224600", "Wed, 11 Sep 2019 17:56:40 GMT", False),  # seconds
    ("1568224600.75", "Wed, 11 Sep 2019 17:56:40 GMT", False),
    ("99999999999999999999", "Sun, 00 Jan 1900 00:00:00 GMT", False),  # past gmtime's range
    ("Wed, 11 Sep 2019 17:56:40 GMT", "Wed, 11 Sep 2019 17:56:40 GMT", False),  # RFC 822
    ("Wednesday, 11-Sep-19 17:56:40 GMT", "Wed, 11 Sep 2019 17:56:40 GMT", False),  # RFC 850
    ("Wed, 11 Foo 2019 17:56:40 GMT", "Fri, 11 Jan 2019 17:56:40 GMT", False),  # no month: Jan
    ("Wed Sep 11 17:56:40 2019", "Wed, 11 Sep 2019 17:56:40 GMT", False),  # asctime
    ("99999-01-01T00:00:00Z", "Fri, 01 Jan 99999 00:00:00 GMT", False),  # %04d of 5 digits
]


@pytest.mark.parametrize("created, printed, stand_in", TABLE)
def test_the_generator_s_rules(created, printed, stand_in):
    date = generator_date(created, this_year=THIS_YEAR)
    assert (date.text, date.stand_in) == (printed, stand_in)


def test_the_rolling_century_moves_with_the_year():
    # in 2020 the breakpoint was 70: 0071 was 1971; in 2026 it is 2071
    assert generator_date("0071-01-01T00:00:00Z", this_year=2020).text.endswith("1971 00:00:00 GMT")
    assert generator_date("0071-01-01T00:00:00Z", this_year=2026).text.endswith("2071 00:00:00 GMT")
    # in 2060 (breakpoint 10): 0049 is 2049, 0005 is 2105
    assert generator_date("0049-01-01T00:00:00Z", this_year=2060).text.endswith("2049 00:00:00 GMT")
    assert generator_date("0005-01-01T00:00:00Z", this_year=2060).text.endswith("2105 00:00:00 GMT")


def mojo_dates(values: list[str]) -> list[str]:
    """Mojo::Date->new($_)->to_string for each value, by the real Mojolicious."""
    need_tools("perl")
    script = (
        "use Mojo::Date; use JSON::PP; local $/; my $in = decode_json(<STDIN>);"
        "print encode_json([map { Mojo::Date->new($_)->to_string } @$in]);"
    )
    done = subprocess.run(
        ["perl", "-e", script], input=json.dumps(values).encode(), capture_output=True
    )
    if done.returncode and b"Mojo/Date.pm" in done.stderr:
        unavailable("missing Mojo::Date (Debian's libmojolicious-perl)")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_table_is_what_mojo_date_prints():
    values = [created for created, _, _ in TABLE if created is not None]
    this_year = datetime.now(UTC).year
    ours = [generator_date(v, this_year=this_year).text for v in values]
    assert ours == mojo_dates(values)


_FIELD = st.integers(min_value=0, max_value=99).map(lambda n: f"{n:02d}")
_RFC3339 = st.builds(
    lambda year, month, day, hour, minute, second, fraction, zone: (
        f"{year}-{month}-{day}T{hour}:{minute}:{second}{fraction}{zone}"
    ),
    st.integers(min_value=0, max_value=3000).map(lambda n: f"{n:04d}"),
    st.integers(min_value=0, max_value=13).map(lambda n: f"{n:02d}"),
    st.integers(min_value=0, max_value=32).map(lambda n: f"{n:02d}"),
    st.integers(min_value=0, max_value=25).map(lambda n: f"{n:02d}"),
    _FIELD,
    _FIELD,
    st.sampled_from(["", ".5", ".999999999", ".0"]),
    st.sampled_from(["Z", "z", "", "+00:00", "-05:30", "+14:00", "+23:59"]),
)


@settings(max_examples=1, deadline=None)
@given(st.lists(_RFC3339 | st.text(max_size=30), min_size=400, max_size=400))
def test_random_dates_are_what_mojo_date_prints(values):
    """Hundreds of dates near every edge, and any text at all, against the real thing."""
    values = [v for v in values if "\x00" not in v]
    this_year = datetime.now(UTC).year
    assert [generator_date(v, this_year=this_year).text for v in values] == mojo_dates(values)


def test_json_says_where_the_date_is_a_stand_in(tmp_path):
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [
            {"created": "0001-01-01T00:00:00Z", "created_by": "ko", "empty_layer": True},
            {"created": "2019-02-30T00:00:00Z", "created_by": "bad", "empty_layer": True},
            {"created_by": "none", "empty_layer": True},
        ],
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    document = json.loads(api.render(api.load(f"json:{path}"), "json"))
    check("show", document)
    steps = document["root"]["steps"]
    assert [(s["date"], s["date_stand_in"]) for s in steps] == [
        (generator_date("0001-01-01T00:00:00Z").text, False),
        (EPOCH_TEXT, True),
        (EPOCH_TEXT, True),
    ]
    assert steps[0]["created_utc"] == "0001-01-01T00:00:00Z"  # what the config says
    text = api.render(api.load(f"json:{path}"), "repo-info", name="x:1")
    assert "# Mon, 01 Jan 2001 00:00:00 GMT\nRUN ko" in text
