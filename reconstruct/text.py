"""Pure formatting helpers that reproduce repo-info's generator: sizes, dates, JSON, platforms."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from .model import Platform

_UNITS = ("B", "KB", "MB", "GB", "TB")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
EPOCH_DATE = "Thu, 01 Jan 1970 00:00:00 GMT"
_FRACTION = re.compile(r"(?<=T\d\d:\d\d:\d\d)\.(\d+)")
_DECIMAL = re.compile(r"[0-9]+")  # ASCII only: `\d` takes every script's digits


def _six_digits(match: re.Match[str]) -> str:
    return "." + (match.group(1) + "000000")[:6]


def decimal_number(text: str | None, digits: int = 20) -> int | None:
    """`text` as a whole number when it is 1 to `digits` ASCII digits, else None (a record's
    size, a pax uid: `str.isdigit` also takes "²" and "٣", which int() refuses)."""
    if text is None or not 0 < len(text) <= digits or not _DECIMAL.fullmatch(text):
        return None
    return int(text)


def human_size(size: int) -> str:
    """`51.4 MB (51351038 bytes)`: decimal units, one decimal, printf rounding.

    The unit steps up only while the integer part at the current unit is strictly above 1000,
    which is why 1000999 bytes print as `1001.0 KB`.
    """
    value = float(size)
    unit = 0
    while int(value) > 1000 and unit < len(_UNITS) - 1:
        unit += 1
        value = size / 1000**unit
    text = "%.1f %s" % (value, _UNITS[unit])  # noqa: UP031 - printf rounding is the point
    return text if unit == 0 else f"{text} ({size} bytes)"


def parse_date(value: str | None) -> datetime | None:
    """An RFC 3339 timestamp (any fraction length, any offset) as an aware UTC datetime."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    try:
        # the common shape first (`2019-09-11T17:56:40.123456789Z`): fromisoformat is C code
        parsed = datetime.fromisoformat(_FRACTION.sub(_six_digits, text))
    except ValueError:
        try:
            from dateutil import parser as dateparser  # only for what fromisoformat refuses

            parsed = dateparser.isoparse(text)
        except (ValueError, OverflowError):
            return None  # strict on purpose: a fuzzy parser turns "5" into a date
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def imf_fixdate(moment: datetime) -> str:
    """RFC 7231 IMF-fixdate, locale-independent and valid for years below 1000 too."""
    moment = moment.astimezone(UTC)
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} "
        f"{moment.year:04d} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} GMT"
    )


def history_date(created: str | None) -> str:
    """The `# <date>` line of a history entry, by the generator's own rules (generator_date.py:
    `0001-01-01T00:00:00Z` is 2001, a date it cannot read is the Unix epoch)."""
    from .generator_date import generator_date

    return generator_date(created).text


def generator_json(value: object) -> str:
    """Compact JSON as the generator prints it: `/` escaped as `\\/`, non-ASCII left raw."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")


def platform_string(platform: Platform) -> str:
    """`windows version 10.0.17763.737; amd64`, `linux; arm variant v7`, `unknown; unknown`."""
    text = platform.os or "linux"
    if platform.os_version:
        text += f" version {platform.os_version}"
    if platform.os_features is not None:
        text += " ft. " + ", ".join(platform.os_features)
    text += "; " + (platform.architecture or "amd64")
    if platform.variant:
        text += f" variant {platform.variant}"
    if platform.features is not None:
        text += " ft. " + ", ".join(platform.features)
    return text


def platform_label(platform: Platform) -> str:
    """`linux/arm64/v8`, `windows/amd64:10.0.17763.737`: how reports name a platform."""
    text = "/".join(p for p in (platform.os, platform.architecture, platform.variant) if p)
    return text + (f":{platform.os_version}" if platform.os_version else "")


def short_digest(digest: str | None, length: int = 12) -> str:
    if not digest:
        return ""
    return digest.split(":", 1)[-1][:length]


# --- terminal safety ---------------------------------------------------------------------------
# Images are untrusted: what a terminal acts on (C0 controls but tab and newline, CR included;
# DEL; the C1 controls U+0080-U+009F, CSI U+009B among them) and the Unicode bidi controls that
# reorder what is shown (ALM, LRM/RLM, embeddings and overrides U+202A-U+202E, isolates
# U+2066-U+2069) never reach it raw. Nor do lone surrogates (a JSON `\udc9b`, a tar name's
# byte that is not UTF-8, kept by surrogateescape): written out they become that raw byte (0x9b
# is CSI) or stop the output. Text with none of them (every ordinary document) is only scanned,
# in C, and returned as it is: byte for byte the same output.
_UNSAFE_CLASS = (
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_UNSAFE = re.compile(_UNSAFE_CLASS)
_UNSAFE_RUN = re.compile(_UNSAFE_CLASS + "+")
_UNSAFE_CODES = [
    *range(0x00, 0x09),
    *range(0x0B, 0x20),
    *range(0x7F, 0xA0),
    0x061C,
    0x200E,
    0x200F,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
    *range(0xD800, 0xE000),
]
_TEXT_ESCAPES = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in _UNSAFE_CODES}
_JSON_ESCAPES = {c: f"\\u{c:04x}" for c in _UNSAFE_CODES}
# The printable ASCII bytes, tab and newline: what bytes.translate deletes to find the rest.
_SAFE_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n"
_FEW_RUNS = 1000


def is_terminal_safe(text: str) -> bool:
    """True when `text` holds no terminal or bidi control (nothing terminal_safe would change)."""
    if text.isascii():  # the common case (isascii is a flag): only C0 and DEL to look for
        return not text.encode("ascii").translate(None, _SAFE_ASCII)
    return _UNSAFE.search(text) is None


def _escaped(text: str, table: dict[int, str]) -> str:
    if is_terminal_safe(text):
        return text
    if text.isascii():
        return text.translate(table)  # str.translate has an ASCII fast path
    # A few runs in a long text: a regex finds them faster than translate walks every
    # character; many (a hostile field of nothing else): translate, linear and without a call
    # per run.
    done, runs = _UNSAFE_RUN.subn(lambda run: run.group().translate(table), text, _FEW_RUNS)
    return done if runs < _FEW_RUNS else text.translate(table)


def terminal_safe(text: str) -> str:
    """`text` with every terminal and bidi control and every lone surrogate spelled out in hex,
    `\\xHH` below U+0100 and `\\uHHHH` above (`\\x1b`, `\\x0d`, `\\x9b`, `\\u202e`, `\\udc9b`);
    tab and newline are kept.
    Text holding none is returned unchanged."""
    return _escaped(text, _TEXT_ESCAPES)


def json_safe(json_text: str) -> str:
    """JSON text with what json.dumps(ensure_ascii=False) leaves raw (DEL, C1 and bidi
    controls, lone surrogates; C0 too, were any there) written as `\\uXXXX` escapes: the same
    JSON value, which decodes to the exact original strings, with nothing a terminal acts on.
    json.dumps puts such characters only inside strings, where the escape means the same
    character."""
    return _escaped(json_text, _JSON_ESCAPES)
