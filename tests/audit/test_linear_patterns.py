"""Every regular expression the audit runs takes time linear in its input (issue 13).

The audit reads created_by, ENV and LABEL text from untrusted images. Each pattern (found by
walking the modules of reconstruct.audit, so a new one is covered without being listed here) and
each detector function is run over adversarial inputs: long runs of one character, repeated
prefixes of what the patterns look for, and chains that hold the start of another match. A
linear pattern takes about 8 times as long on 400 KB as on 50 KB; a quadratic one about 64. Then
the whole `audit` command runs on configs whose history, Env and Labels are 100 KB of them.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import random
import re
import string
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import reconstruct.audit
from reconstruct.audit import risks, secrets
from tests.support.limits import assert_clean, run_limited

TINY, SMALL, LARGE = 6_250, 50_000, 400_000
MAX_TINY = 0.25  # seconds at 6 KB: fail fast on a quadratic pattern, before it takes minutes
MAX_RATIO = 40  # linear ~8, quadratic ~64; generous for a loaded 2-core machine
FLOOR = 0.002  # seconds: below this a time is mostly noise, not work
MAX_SMALL = 1.0  # seconds at 50 KB: a linear pattern takes milliseconds


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda size: (unit * (size // len(unit) + 1))[:size]


def _prefixed(prefix: str, unit: str) -> Callable[[int], str]:
    return lambda size: prefix + _repeat(unit)(size - len(prefix))


# name -> a text of the given size
GENERATORS: dict[str, Callable[[int], str]] = {
    **{f"run {c!r}": _repeat(c) for c in (".", " ", "=", "-", "a", "/", '"', "'", "\\", ":", "@")},
    **{f"run {c!r}": _repeat(c) for c in ("0", "9", "+", "_", "|", "\t", "\n", "k", "$")},
    "run base64": _repeat("Zx9kQ2vB7pL4mW8r+/aB"),
    **{
        f"repeat {unit!r}": _repeat(unit)
        for unit in (
            "AKIA",
            "aws_secret_access_key=",
            "ghp_",
            "eyJaaaaaaaa.",
            "eyJaaaaaaaa-",
            "-----BEGIN ",
            "-----BEGIN PRIVATE KEY-----",
            "-----END ",
            "password=",
            'password="',
            "--password",
            "token.",
            ".-",
            "http://",
            "a.",
            "a://a:",
            "curl ",
            "curl | ",
            "curl -",
            "iwr ",
            "iex ",
            "chmod -",
            "a=b ",
        )
    },
    # a long run after what a pattern starts with
    "'http.sslVerify' + blanks": _prefixed("http.sslVerify", " "),
    "'strict-ssl' + blanks": _prefixed("strict-ssl", " "),
    "'password' + blanks": _prefixed("password", " "),
    "'aws_secret_access_key' + blanks": _prefixed("aws_secret_access_key", " "),
    "'curl -' + k's": _prefixed("curl -", "k"),
    "'a://a:' + a's": _prefixed("a://a:", "a"),
    "'-----BEGIN PRIVATE KEY-----' + dashes": _prefixed("-----BEGIN PRIVATE KEY-----", "-"),
    # chains that hold the start of another match
    "sudo options holding | sudo": _prefixed("curl | sudo ", "-|sudo "),
    "env assignments holding | env": _prefixed("curl | env ", "x=|env "),
    "env assignments with many =": _prefixed("curl | env ", "a=b=c=d "),
    "shell options holding sh": _prefixed("sh ", "-sh "),
    "chmod options holding chmod": _prefixed("chmod ", "-chmod "),
    "shell words with quotes": _repeat("a'b'\"c\"\\d "),
}


def _patterns_in(value: object, name: str) -> Iterator[tuple[str, re.Pattern[str]]]:
    if isinstance(value, re.Pattern):
        yield name, value
    elif isinstance(value, tuple | list):
        for index, item in enumerate(value):
            yield from _patterns_in(item, f"{name}[{index}]")
    elif isinstance(value, secrets.TokenFormat):
        yield from _patterns_in(value.pattern, f"{name}.pattern")


def audit_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Every compiled pattern a module of reconstruct.audit holds (alone, or in a table)."""
    found: dict[int, tuple[str, re.Pattern[str]]] = {}
    for module_info in pkgutil.iter_modules(reconstruct.audit.__path__):
        module = importlib.import_module(f"reconstruct.audit.{module_info.name}")
        for attribute, value in vars(module).items():
            for name, pattern in _patterns_in(value, f"{module_info.name}.{attribute}"):
                found.setdefault(id(pattern), (name, pattern))
    return sorted(found.values())


def _finditer(pattern: re.Pattern[str]) -> Callable[[str], object]:
    return lambda text: sum(1 for _ in pattern.finditer(text))


DETECTORS: list[tuple[str, Callable[[str], object]]] = [
    *((name, _finditer(pattern)) for name, pattern in audit_patterns()),
    ("risks.pipe_to_shell", risks.pipe_to_shell),
    ("risks.tls_disabled", risks.tls_disabled),
    ("risks.world_writable", risks.world_writable),
    ("risks.unpinned_installs", risks.unpinned_installs),
    ("risks.shell_split", lambda text: _or_error(risks.shell_split, text)),
    ("secrets.find_tokens", secrets.find_tokens),
    ("secrets.find_assignments", secrets.find_assignments),
    ("secrets.secret_name", secrets.secret_name),
]


def _or_error(function: Callable[[str], object], text: str) -> object:
    try:
        return function(text)
    except ValueError:
        return None


def _seconds(function: Callable[[str], object], text: str) -> float:
    start = time.perf_counter()
    function(text)
    return time.perf_counter() - start


def test_every_pattern_is_found():
    names = [name for name, _ in audit_patterns()]
    # the tables and the lone patterns of secrets.py, risks.py and configfindings.py
    for expected in (
        "secrets.TOKEN_FORMATS[0].pattern",
        "secrets.PRIVATE_KEY",
        "secrets.ASSIGNMENT",
        "secrets.URL_CREDENTIALS",
        "risks.PIPE_TO_SHELL[0]",
        "risks.TLS_OFF[1][0]",
        "risks.SIGNATURES_OFF[0][0]",
        "risks._CHMOD",
        "risks._SPLIT",
        "configfindings.PORT",
    ):
        assert expected in names, names
    assert len(names) >= 50, names


@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_patterns_take_linear_time(generator: str):
    make = GENERATORS[generator]
    tiny, small, large = make(TINY), make(SMALL), make(LARGE)
    assert len(tiny) == TINY and len(small) == SMALL and len(large) == LARGE
    slow = []
    for name, detector in DETECTORS:
        at_tiny = _seconds(detector, tiny)
        if at_tiny > MAX_TINY:
            slow.append(f"{name}: {at_tiny:.2f} s at {TINY / 1000} KB")
            continue
        at_small = _seconds(detector, small)
        if at_small > MAX_SMALL:
            slow.append(f"{name}: {at_small:.2f} s at {SMALL // 1000} KB")
            continue
        at_large = _seconds(detector, large)
        for _ in range(2):  # the least of 3 runs, only when the first looks too slow
            if at_large / max(at_small, FLOOR) < MAX_RATIO:
                break
            at_small = min(at_small, _seconds(detector, small))
            at_large = min(at_large, _seconds(detector, large))
        ratio = at_large / max(at_small, FLOOR)
        if ratio >= MAX_RATIO:
            slow.append(f"{name}: {at_small:.4f} s -> {at_large:.4f} s ({ratio:.0f}x)")
    assert not slow, f"{generator}: " + "; ".join(slow)


# --- the whole command --------------------------------------------------------------------------

E2E = {
    "dots": ".",
    "blanks": " ",
    "dashes": "-",
    "equals": "=",
    "quotes": '"',
    "backslashes": "\\",
    "colons": ":",
    "token.": "token.",
    "password=": "password=",
    "AKIA": "AKIA",
    "-----BEGIN ": "-----BEGIN ",
    "http://": "http://",
    "a.": "a.",
    "curl | ": "curl | ",
    "-|sudo ": "curl | sudo -|sudo ",
    "x=|env ": "curl | env x=|env ",
    "sh -sh ": "sh -sh ",
    "chmod -chmod ": "chmod -chmod ",
    "eyJaaaaaaaa-": "eyJaaaaaaaa-",
}
E2E_SIZE = 100_000


@pytest.mark.parametrize("name", sorted(E2E))
def test_audit_of_an_adversarial_config_completes(tmp_path: Path, name: str):
    text = _repeat(E2E[name])(E2E_SIZE)
    document = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-05-01T00:00:00Z",
        "config": {"Env": [f"X={text}", text], "Labels": {"l": text}},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{1:064x}"]},
        "history": [
            {"created": "2024-04-01T00:00:00Z", "created_by": f"/bin/sh -c {text}"},
            {
                "created": "2024-04-01T00:00:00Z",
                "created_by": f"/bin/sh -c #(nop)  ENV A={text}",
                "empty_layer": True,
            },
        ],
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    result = run_limited("audit", f"json:{path}", timeout=60)
    assert_clean(result)
    assert result.code in (0, 1), result
    assert "sha256:" in result.out, result  # the report names the image it read


def test_many_different_secrets_in_one_step_are_masked_in_linear_time(tmp_path: Path):
    """Each finding masks its step's text with every secret found: 50,000 distinct passwords
    in one 1.3 MB step were 50,000 replacements over 1.3 MB per finding (hours); one pass of
    an automaton per text now."""
    chooser = random.Random(13)
    alphabet = string.ascii_letters + string.digits
    values = ["".join(chooser.choices(alphabet, k=16)) for _ in range(50_000)]
    words = [f"password={value} " for value in values]
    document = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [{"created_by": "/bin/sh -c " + "".join(words), "empty_layer": True}],
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    result = run_limited("audit", f"json:{path}", "--format", "json", timeout=60)
    assert_clean(result)
    assert result.code in (0, 1), result
    (image,) = json.loads(result.out)["images"]
    assert len(image["findings"]) >= 49_000  # a few random values are not random-looking
    shown = set(re.findall(r"[A-Za-z0-9]{16}", result.out))
    assert shown.isdisjoint(values)  # masked everywhere


@pytest.mark.parametrize(
    "text, expected",
    [
        ("..abcdefgh..", "..a*" + secrets.MASK + ".."),  # two values overlapping: one masked run
        ("abcdefXY cdefgh", "L* c*"),  # the longest value at a place wins
        ("zzzz zzz", "Z*" + secrets.MASK + " Z*"),  # a value overlapping itself
        ("nothing here", "nothing here"),
    ],
)
def test_the_redactor_masks_overlapping_values_whole(text, expected):
    redact = secrets.Redactor(
        secrets.Secret("x", value, masked, 0)
        for value, masked in (("abcdef", "a*"), ("cdefgh", "c*"), ("zzz", "Z*"), ("abcdefXY", "L*"))
    )
    assert redact(text) == expected
