"""The date of a `# …` history line, exactly as the repo-info generator prints it.

The generator (docker-library/repo-info `.remote.pl`) prints `Mojo::Date->new($created)
->to_string`. Mojo::Date (Mojolicious ≥ 5.31, 2014) reads, in this order:

- a number of seconds (`/^\\d+$|^\\d+\\.\\d+$/`);
- RFC 822/850 (`Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 …`): a month name it does not
  know is January (an undefined hash value is 0 to Perl);
- RFC 3339, case-insensitively, with anything but digits between date and time (`T`, `t`, a
  space), seconds with any fraction, `Z` or `±HH:MM` or nothing;
- ANSI C asctime (`Sun Nov  6 08:49:37 1994`);

and turns the fields into seconds with Time::Local's `timegm`: a year of 1000 or more is the year;
100..999 is that many years after 1900; 0..99 is a two-digit year in the rolling century (years
up to the current one + 50 mod 100 are this century's, the others the last one's). `timegm` refuses
(and Mojo::Date then keeps no time) a month outside 1..12, a day outside the month (leap years
counted), an hour above 23, a minute above 59, a second of 60 or more, and a day count beyond
365 × 2**31. The offset is applied after; a time before 1970 is kept as none too.

With no time kept, Mojo::Date prints `gmtime(undef)`, the Unix epoch: `Thu, 01 Jan 1970 00:00:00
GMT` (before 2014 it printed the time the document was made, which offline is unknowable; the
epoch stands in for it either way, and `stand_in` says so). `gmtime` truncates a fraction, and past
its range (about 2**56 seconds) returns nothing, which the generator prints as
`Sun, 00 Jan 1900 00:00:00 GMT`. Perl's `$` also matches before one final newline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTH_NUMBERS = {name: number for number, name in enumerate(MONTHS)}
MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
EPOCH_TEXT = "Thu, 01 Jan 1970 00:00:00 GMT"
GMTIME_NOTHING = "Sun, 00 Jan 1900 00:00:00 GMT"
MAX_DAY = 365 * 2**31  # Time::Local's limit on perls since 5.12
GMTIME_UPPER = 67767976233316800  # perl's pp_gmtime bounds (TIME_UPPER_BOUND, LOWER)
GMTIME_LOWER = -67768100567755200

_END = r"\n?\Z"  # Perl's `$`
_EPOCH = re.compile(r"\A(?:\d+|\d+\.\d+)" + _END, re.ASCII)
_RFC822 = re.compile(r"\A\w+\W+(\d+)\W+(\w+)\W+(\d+)\W+(\d+):(\d+):(\d+)\W*\w+" + _END, re.ASCII)
_RFC3339 = re.compile(
    r"\A(\d+)-(\d+)-(\d+)\D+(\d+):(\d+):(\d+(?:\.\d+)?)(?:Z|([+-])(\d+):(\d+))?" + _END,
    re.ASCII | re.IGNORECASE,
)
_ASCTIME = re.compile(r"\A\w+\s+(\w+)\s+(\d+)\s+(\d+):(\d+):(\d+)\s+(\d+)" + _END, re.ASCII)


@dataclass(frozen=True)
class GeneratorDate:
    text: str  # `Mon, 01 Jan 2001 00:00:00 GMT`
    stand_in: bool  # the generator kept no time: the epoch stands in for what it printed


class TimegmError(ValueError):
    """What Time::Local's timegm croaks on."""


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _rolling_century(this_year: int) -> tuple[int, int, int]:
    """Time::Local's (Breakpoint, Century, NextCentury), years counted from 1900."""
    this = this_year - 1900
    breakpoint = (this + 50) % 100
    next_century = this - this % 100 + (100 if breakpoint < 50 else 0)
    return breakpoint, next_century - 100, next_century


def _day_gm(mday: int, month: int, year: int) -> int:
    """Time::Local's _daygm: days since 1970-01-01 (`year` counted from 1900)."""
    shifted = (month + 10) % 12
    full = year + 1900 - shifted // 10
    days = 365 * full + full // 4 - full // 100 + full // 400 + (shifted * 306 + 5) // 10
    return mday + days - 719469  # _daygm's value for 1970-01-01 is 719469 before the offset


def timegm(
    sec: float, minute: int, hour: int, mday: int, month: int, year: int, this_year: int
) -> float:
    """Time::Local::timegm (its year munging, range checks and limit) as of `this_year`."""
    if year >= 1000:
        year -= 1900
    elif 0 <= year < 100:
        breakpoint, century, next_century = _rolling_century(this_year)
        year += century if year > breakpoint else next_century
    if not 0 <= month <= 11:
        raise TimegmError(f"Month '{month}' out of range 0..11")
    days_in_month = MONTH_DAYS[month] + (1 if month == 1 and _leap(year + 1900) else 0)
    if not 1 <= mday <= days_in_month:
        raise TimegmError(f"Day '{mday}' out of range 1..{days_in_month}")
    if not 0 <= hour <= 23:
        raise TimegmError(f"Hour '{hour}' out of range 0..23")
    if not 0 <= minute <= 59:
        raise TimegmError(f"Minute '{minute}' out of range 0..59")
    if not 0 <= sec < 60:
        raise TimegmError(f"Second '{sec}' out of range 0..59")
    days = _day_gm(mday, month, year)
    if abs(days) >= MAX_DAY:
        raise TimegmError("Day too big")
    return sec + 60 * minute + 3600 * hour + 86400 * days


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def epoch_of(value: str, this_year: int) -> float | None:
    """Mojo::Date::parse: the seconds `value` names, or None where it keeps no time."""
    if _EPOCH.match(value):
        return _number(value.rstrip("\n"))
    offset = 0
    if match := _RFC822.match(value):
        day, month_name, year, hour, minute, sec = match.groups()
        month = MONTH_NUMBERS.get(month_name, 0)
    elif match := _RFC3339.match(value):
        year, month_text, day, hour, minute, sec, sign, off_hours, off_minutes = match.groups()
        month = int(month_text) - 1
        if sign:
            offset = (int(off_hours) * 3600 + int(off_minutes) * 60) * (-1 if sign == "+" else 1)
    elif match := _ASCTIME.match(value):
        month_name, day, hour, minute, sec, year = match.groups()
        month = MONTH_NUMBERS.get(month_name, 0)
    else:
        return None
    try:
        epoch = timegm(_number(sec), int(minute), int(hour), int(day), month, int(year), this_year)
    except TimegmError:
        return None
    epoch += offset
    return epoch if epoch >= 0 else None


def _civil(days: int) -> tuple[int, int, int]:
    """(year, month 1..12, day) of a day count from 1970-01-01, for any year (proleptic
    Gregorian, as gmtime)."""
    days += 719468
    era = days // 146097
    day_of_era = days - era * 146097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + 3 if shifted_month < 10 else shifted_month - 9
    return year_of_era + era * 400 + (1 if month <= 2 else 0), month, day


def to_string(epoch: float) -> str:
    """Mojo::Date::to_string: `gmtime` of the seconds, as `%s, %02d %s %04d %02d:%02d:%02d GMT`."""
    if not GMTIME_LOWER <= epoch <= GMTIME_UPPER:
        return GMTIME_NOTHING
    seconds = int(epoch)  # gmtime truncates toward zero
    days, rest = divmod(seconds, 86400)
    year, month, day = _civil(days)
    hour, rest = divmod(rest, 3600)
    minute, sec = divmod(rest, 60)
    weekday = DAYS[(days + 4) % 7]  # 1970-01-01 was a Thursday
    return (
        f"{weekday}, {day:02d} {MONTHS[month - 1]} {year:04d} {hour:02d}:{minute:02d}:{sec:02d} GMT"
    )


def generator_date(created: str | None, this_year: int | None = None) -> GeneratorDate:
    """The `# …` line's date for a history entry's `created` (None: absent)."""
    if this_year is None:
        this_year = datetime.now(UTC).year
    epoch = epoch_of(created, this_year) if isinstance(created, str) else None
    if epoch is None:
        return GeneratorDate(EPOCH_TEXT, True)
    return GeneratorDate(to_string(epoch), False)
