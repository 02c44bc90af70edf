"""Secrets in image history and config: known token formats, private keys, and secret-looking
assignments; and how they are shown (masked, never in clear).

Pure functions over strings. Values are masked here, at the source of every finding, so no
report format can print one by mistake (`Redactor` also masks each value found wherever else it
appears: the same step's risky-command excerpt, say).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MASK = "******"
# Values shorter than this show no character at all; longer ones keep their public prefix
# (`ghp_`, `AKIA`): the kind of token, not any of its secret part.
REVEAL_MIN_LENGTH = 16
HIGH_ENTROPY_BITS = 3.0  # Shannon bits per character; random base64 is ~4–6, words ~2–3
HIGH_ENTROPY_MIN_LENGTH = 8


@dataclass(frozen=True)
class TokenFormat:
    what: str
    pattern: re.Pattern[str]
    prefix: int  # characters of public prefix kept when masking


# Every pattern here runs over text from untrusted images, so each one takes time linear in the
# text (issue 13): no two quantifiers can share characters (possessive `*+`, `++` where what
# follows cannot extend the run), and where a failed attempt would be retried from each later
# start inside the same run of characters (`-eyJ…-eyJ…`, `a.a.a…://`, `.-.-.-password`), the
# pattern starts at the run's start and commits (atomically) to the run's first possible start:
# a later one cannot succeed where it failed.
TOKEN_FORMATS = (
    TokenFormat("AWS access key ID", re.compile(r"\b((?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})\b"), 4),
    TokenFormat(
        "AWS secret access key",
        re.compile(
            r"(?i)aws_?secret_?access_?key\s*+[=:]\s*+[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
        ),
        0,
    ),
    TokenFormat("GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,255}+)\b"), 4),
    TokenFormat("GitHub token", re.compile(r"\b(github_pat_[A-Za-z0-9_]{22,255}+)\b"), 11),
    TokenFormat("GitLab token", re.compile(r"\b(gl(?:pat|dt|rt|ptt|cbt)-[A-Za-z0-9_\-]{20,})"), 6),
    TokenFormat("Slack token", re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]{10,})"), 5),
    TokenFormat(
        "Slack webhook URL",
        re.compile(
            r"(https://hooks\.slack\.com/services/T[A-Za-z0-9_]++/B[A-Za-z0-9_]++/[A-Za-z0-9_]++)"
        ),
        33,
    ),
    TokenFormat(
        "JSON Web Token",
        # `\beyJ` also starts after a `-` inside a run of [A-Za-z0-9_-]: only its first counts
        re.compile(
            r"(?<![A-Za-z0-9_-])(?>[A-Za-z0-9_-]*?(?=\beyJ))"
            r"(eyJ[A-Za-z0-9_-]{8,}+\.eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{8,}+)"
        ),
        3,
    ),
    TokenFormat("Google API key", re.compile(r"\b(AIza[0-9A-Za-z_\-]{35})"), 4),
    TokenFormat("Stripe secret key", re.compile(r"\b((?:sk|rk)_live_[0-9A-Za-z]{24,})"), 8),
    TokenFormat("npm token", re.compile(r"\b(npm_[A-Za-z0-9]{36})\b"), 4),
    TokenFormat("PyPI token", re.compile(r"\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})"), 5),
)

PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:(?:RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY(?: BLOCK)?-----"
    r"(?:[^-]|-(?!----END))*+(?:-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----)?"
)

# A name that says its value is a secret: a word of it (split at _ . -) is one of these.
_SECRET_WORDS = re.compile(
    r"(?i)(?:^|[_.\-])(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_\-]?key|apikey|"
    r"access[_\-]?key|private[_\-]?key|secret[_\-]?key|client[_\-]?secret|credentials?|auth)"
    r"(?:[_.\-]|$)"
)
# …unless the name is about the secret rather than the secret itself.
_NOT_SECRET_SUFFIX = re.compile(
    r"(?i)[_.\-](?:file|path|dir|url|uri|host|port|user|username|name|type|length|len|ttl|"
    r"timeout|expiry|expires|enabled|header|endpoint|id|version|mode|method)$"
)
_PLACEHOLDERS = frozenset(
    {
        "true",
        "false",
        "yes",
        "no",
        "none",
        "null",
        "nil",
        "changeme",
        "change-me",
        "secret",
        "password",
        "token",
        "example",
        "default",
        "empty",
        "unset",
        "required",
        "todo",
    }
)
# `password=…`, `--token …`, `API_KEY: …` inside a command. The name is a whole run of
# [A-Za-z0-9_.-] holding one of the words (what follows it cannot be one of those characters);
# it starts where the run starts, and the first word in it is committed to: one run is scanned
# once, however many words or starts (after a `.` or `-`) it holds.
ASSIGNMENT = re.compile(
    r"(?i)(?<![A-Za-z0-9_.\-])(?:--?)?((?>[A-Za-z0-9_.\-]*?"
    r"(?:pass(?:word|wd)|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key|client[_\-]?secret))"
    r"[A-Za-z0-9_.\-]*+)(?:\s*[=:]\s*|\s+(?=[\"'A-Za-z0-9]))"
    r"(?:\"([^\"\n]*)\"|'([^'\n]*)'|([^\s;&|'\"`)]+))"
)
# `scheme://user:password@`: the scheme (`\b[a-z][a-z0-9+.-]*`) from the first place in its run
# of [a-z0-9+.-] where it may start.
URL_CREDENTIALS = re.compile(
    r"(?<![a-z0-9+.\-])(?>[a-z0-9+.\-]*?\b[a-z])[a-z0-9+.\-]*+://([^/\s:@$]++):([^/\s@]++)@",
    re.IGNORECASE,
)


def secret_name(name: str) -> bool:
    """`TOKEN`, `DB_PASSWORD`, `NPM_AUTH_TOKEN` are; `GPG_KEY`, `PASSWORD_FILE`, `PWD` are not."""
    if name.upper() in ("PWD", "OLDPWD") or "public" in name.lower():
        return False  # the shell's working directory; .NET's PublicKeyToken, public keys
    return bool(_SECRET_WORDS.search(name)) and not _NOT_SECRET_SUFFIX.search(name)


def literal_value(value: str) -> bool:
    """A value someone wrote in, rather than a reference, a path or a placeholder."""
    text = value.strip().strip("\"'")
    if not text or "$" in text or (text.startswith("<") and text.endswith(">")):
        return False
    if text.startswith(("/", "./", "~/", "../")) or text.lower() in _PLACEHOLDERS:
        return False
    return len(set(text)) > 1  # `xxxxxx`, `******`


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def high_entropy(value: str) -> bool:
    return len(value) >= HIGH_ENTROPY_MIN_LENGTH and entropy(value) >= HIGH_ENTROPY_BITS


def mask(value: str, prefix: int = 0) -> str:
    """`ghp_******`; short or unknown values show nothing of themselves."""
    keep = prefix if len(value) >= REVEAL_MIN_LENGTH and prefix < len(value) // 2 else 0
    return value[:keep] + MASK


@dataclass(frozen=True)
class Secret:
    """One secret value found in a piece of text."""

    what: str  # "GitHub token", "private key", "password assignment", …
    value: str
    masked: str
    start: int  # where the value starts in the text searched
    name: str | None = None  # the variable or option it was assigned to
    known_format: bool = False  # a token format, or a private key: certain, not a guess


def find_tokens(text: str) -> list[Secret]:
    """Known token formats and private keys in `text`."""
    found = []
    for token in TOKEN_FORMATS:
        for match in token.pattern.finditer(text):
            value = match.group(1)
            found.append(
                Secret(
                    token.what, value, mask(value, token.prefix), match.start(1), known_format=True
                )
            )
    for match in PRIVATE_KEY.finditer(text):
        value = match.group(0)
        header = value.split("-----", 2)[1]
        found.append(
            Secret(
                "private key", value, f"-----{header}-----{MASK}", match.start(), known_format=True
            )
        )
    return found


def find_assignments(text: str) -> list[Secret]:
    """`password=…`-like assignments with a high-entropy literal value, and URL credentials."""
    found = []
    for match in ASSIGNMENT.finditer(text):
        name = match.group(1)
        group = next(g for g in (2, 3, 4) if match.group(g) is not None)
        value = match.group(group)
        if "public" in name.lower() or _NOT_SECRET_SUFFIX.search(name):
            continue
        if not literal_value(value) or not high_entropy(value):
            continue
        found.append(
            Secret(f"{name} assignment", value, mask(value), match.start(group), name=name)
        )
    for match in URL_CREDENTIALS.finditer(text):
        value = match.group(2)
        if literal_value(value):
            found.append(Secret("password in a URL", value, mask(value), match.start(2)))
    return found


class Redactor:
    """Masks every secret value found in an image, wherever it appears.

    One pass over a text finds every occurrence of every value (an Aho-Corasick automaton,
    pyahocorasick): replacing value after value cost values x length for each text, and an
    image of thousands of secrets in one long step took minutes. Where occurrences overlap,
    the whole covered run is masked: from its start the longest value's mask, then MASK for
    whatever of the run is left, so no character of any value shows. Each finding masks its
    step's text, so the last few results are kept."""

    CACHED_TEXTS = 16

    def __init__(self, secrets: Iterable[Secret] = ()):
        self._masks: dict[str, str] = {}
        self._automaton: Any = None
        self._done: dict[str, str] = {}
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Secret) -> None:
        if len(secret.value) >= 3:  # a one- or two-character "secret" would mask half the text
            self._masks.setdefault(secret.value, secret.masked)
            self._automaton = None
            self._done.clear()

    def __call__(self, text: str) -> str:
        if not self._masks:
            return text
        done = self._done.get(text)
        if done is None:
            done = self._mask(text)
            if len(self._done) >= self.CACHED_TEXTS:
                self._done.pop(next(iter(self._done)))
            self._done[text] = done
        return done

    def _mask(self, text: str) -> str:
        if self._automaton is None:
            import ahocorasick

            automaton = ahocorasick.Automaton()
            for value in self._masks:
                automaton.add_word(value, value)
            automaton.make_automaton()
            self._automaton = automaton
        # the longest value starting at each place, as (start, end, value), by start
        longest: dict[int, tuple[int, str]] = {}
        for last, value in self._automaton.iter(text):
            start = last + 1 - len(value)
            if start not in longest or len(value) > len(longest[start][1]):
                longest[start] = (last + 1, value)
        starts = sorted(longest)
        out, at, i = [], 0, 0  # text[:at] is done
        while i < len(starts):
            start = starts[i]
            end, value = longest[start]
            out += [text[at:start], self._masks[value]]
            run_end = end
            i += 1
            while i < len(starts) and starts[i] < run_end:  # overlapping: one masked run
                run_end = max(run_end, longest[starts[i]][0])
                i += 1
            if run_end > end:
                out.append(MASK)
            at = run_end
        out.append(text[at:])
        return "".join(out)
