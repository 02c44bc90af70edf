"""Risky build steps, read from a RUN body (or an ADD's sources): pure functions over strings.

Each finder returns (rule id, reason, where in the text) tuples; audit.py turns them into
findings with the step number and a masked excerpt.
"""

from __future__ import annotations

import re

Hit = tuple[str, str, int]  # (rule id, short reason, offset of the evidence in the text)

# Every pattern here runs over text from untrusted images, so each one is written to take time
# linear in the text (issue 13): no two quantifiers can share characters, and wherever a failed
# attempt would be retried from a later start over the same span, the later start is ruled out.
#
# - "The first fetch word of a segment": `\bcurl\b[^;&\n]*?\|…` alone tries every curl in a
#   segment, each one scanning to the segment's end. A later curl in the same segment finds no
#   pipe an earlier one did not, so the patterns start at a segment's start, commit (atomically)
#   to its first fetch word, captured as `at` (the offset reported, as before), and scan once.
# - Chains of options and assignments (`sudo -E -H`, `env A=1 B=2`, `sh -e -x`, `chmod -R -v`)
#   are followed for at most _CHAIN words: one chain can hold the start of another (`-x|sudo`,
#   `-sh`), and an unbounded chain then makes every start rescan the rest of it.
# - Runs of whitespace are taken whole (possessively) where what follows cannot be whitespace.
_CHAIN = 32
_FETCH = r"(?:curl|wget|fetch)"
_SHELLS = r"(?:/usr/bin/|/bin/)?(?:ba|da|z|k|a)?sh"


def _first_in_segment(words: str, stop: str) -> str:
    """From the start of a segment (text free of the characters `stop`) to its first `words`."""
    return rf"(?<![^{stop}])(?>[^{stop}]*?(?P<at>\b{words}\b))"


_SHELL_WORD = rf"{_SHELLS}\b(?![.\w-])"
PIPE_TO_SHELL = (
    # curl … | [sudo -opts] [env A=1 …] sh: an env word is any word with `=` after its first
    # character (`\S+=\S*`, written so that it splits one way only); the chain of them stops at
    # the first word that is a shell itself (`env sh=1 …` pipes to sh, as before).
    re.compile(
        _first_in_segment(_FETCH, r";&\n")
        + rf"[^;&\n]*?\|\s*+(?:sudo\s++(?:-\S++\s++){{0,{_CHAIN}}}+)?"
        + rf"(?:env\s++(?:(?!{_SHELL_WORD})\S[^\s=]*+=\S*+\s++){{0,{_CHAIN}}}+)?{_SHELL_WORD}"
    ),
    re.compile(
        _first_in_segment(_FETCH, r";&\n")
        + r"[^;&\n]*?\|\s*+(?:sudo\s++)?(?:python[0-9.]*+|perl|ruby|node|php)"
        r"(?:\s+-)?\s*(?:$|[;&|)]|--\s)"
    ),
    re.compile(rf"\b{_SHELLS}\s++(?:-\S++\s++){{0,{_CHAIN}}}+[\"']?(?:\$\(|`|<\()\s*+{_FETCH}\b"),
    re.compile(rf"(?:^|[\s;&|])(?:source|\.)\s++<\(\s*+{_FETCH}\b"),
    # PowerShell: Invoke-WebRequest … | Invoke-Expression, iex (… DownloadString …)
    re.compile(
        "(?i)"
        + _first_in_segment(r"(?:iwr|irm|Invoke-WebRequest|Invoke-RestMethod)", r";\n")
        + r"[^;\n]*?\|\s*+(?:iex|Invoke-Expression)\b"
    ),
    re.compile(
        "(?i)"
        + _first_in_segment(r"(?:iex|Invoke-Expression)", r";\n")
        + r"[^;\n]*?\.DownloadString\s*+\("
    ),
)

# `\s*[= ]\s*` (a space or `=` between any blanks) without its three ways to split one run of
# blanks: blanks then `=` then blanks, or a run of blanks holding a space.
_EQUALS_OR_SPACE = r"(?:\s*+=\s*+|[^\S ]*+ \s*+)"
TLS_OFF = (
    (re.compile(r"--no-check-certificate\b"), "wget --no-check-certificate"),
    (
        # `-[A-Za-z]*k[A-Za-z]*`: a run of letters holding a k, found without backtracking
        re.compile(
            _first_in_segment("curl", r"\n;&|")
            + r"[^\n;&|]*?\s(?:-[A-Za-jl-z]*+k[A-Za-z]*+|--insecure)(?![\w-])"
        ),
        "curl -k",
    ),
    (re.compile(r"\bGIT_SSL_NO_VERIFY\b"), "GIT_SSL_NO_VERIFY"),
    (
        re.compile(rf"(?i)\bhttp\.sslVerify{_EQUALS_OR_SPACE}[\"']?(?:false|0)\b"),
        "git http.sslVerify false",
    ),
    (re.compile(r"\bverify\s*+=\s*+False\b"), "verify=False"),
    (re.compile(r"\bPYTHONHTTPSVERIFY\s*+=\s*+[\"']?0"), "PYTHONHTTPSVERIFY=0"),
    (
        re.compile(r"\bNODE_TLS_REJECT_UNAUTHORIZED\s*+=\s*+[\"']?0"),
        "NODE_TLS_REJECT_UNAUTHORIZED=0",
    ),
    (
        re.compile(rf"(?i)\bstrict[-_]ssl\b{_EQUALS_OR_SPACE}[\"']?false"),
        "strict-ssl false",
    ),
    (re.compile(r"--trusted-host\b"), "pip --trusted-host"),
    (re.compile(r"(?i)\bsslverify\s*+=\s*+(?:0|false|no)\b"), "sslverify off"),
    (re.compile(r"(?i)Verify-(?:Peer|Host)\s++[\"']?false"), "apt Verify-Peer false"),
    (
        re.compile(r"--(?:insecure-skip-tls-verify|skip-tls-verify|tls-verify=false)\b"),
        "TLS verification skipped",
    ),
    (re.compile(r"(?i)-SkipCertificateCheck\b"), "-SkipCertificateCheck"),
    (re.compile(r"ServerCertificateValidationCallback"), "certificate validation callback"),
)

SIGNATURES_OFF = (
    (re.compile(r"--allow-unauthenticated\b"), "apt-get --allow-unauthenticated"),
    (re.compile(r"(?i)AllowUnauthenticated\s++[\"']?true"), "APT AllowUnauthenticated"),
    (re.compile(r"--force-yes\b"), "apt-get --force-yes"),
    (re.compile(r"--allow-untrusted\b"), "apk --allow-untrusted"),
    (re.compile(r"--nogpgcheck\b"), "--nogpgcheck"),
    (re.compile(r"(?i)\bgpgcheck\s*+=\s*+(?:0|false|no)\b"), "gpgcheck=0"),
    (re.compile(r"--nosignature\b"), "rpm --nosignature"),
)

_CHMOD = re.compile(
    rf"\bchmod\s++((?:-[A-Za-z]++\s++){{0,{_CHAIN}}}+)([0-7]{{3,4}}|[ugoa]*+[+=][rwxXst]+)(?=\s|$)"
)
REMOTE_SOURCE = re.compile(r"(?i)(https?|git)://|git@")
PYTHON = re.compile(r"python[0-9.]*")
RPM_VERSION = re.compile(r"-\d")


def _start(match: re.Match[str]) -> int:
    """Where the evidence starts: the fetch word for the patterns that start at a segment."""
    return match.start("at") if "at" in match.re.groupindex else match.start()


def pipe_to_shell(text: str) -> list[Hit]:
    for pattern in PIPE_TO_SHELL:
        match = pattern.search(text)
        if match:
            return [
                (
                    "R001",
                    "downloads a script and runs it unverified (piped to a shell)",
                    _start(match),
                )
            ]
    return []


def tls_disabled(text: str) -> list[Hit]:
    hits = []
    for pattern, what in TLS_OFF:
        match = pattern.search(text)
        if match:
            hits.append(("R004", f"TLS certificate verification disabled ({what})", _start(match)))
    for pattern, what in SIGNATURES_OFF:
        match = pattern.search(text)
        if match:
            hits.append(
                ("R006", f"package signature verification disabled ({what})", match.start())
            )
    return hits


def world_writable(text: str) -> list[Hit]:
    hits = []
    for match in _CHMOD.finditer(text):
        mode = match.group(2)
        if mode.isdigit():
            # The last digit is "others"; a leading 1 (sticky, like /tmp's 1777) is the safe form.
            if len(mode) == 4 and int(mode[0]) & 1:
                continue
            if int(mode[-1]) & 2:
                hits.append(("R003", f"chmod {mode} makes files world-writable", match.start()))
        else:
            who, _, what = mode.partition("+") if "+" in mode else mode.partition("=")
            if ("o" in who or "a" in who) and "w" in what:
                hits.append(("R003", f"chmod {mode} makes files world-writable", match.start()))
    return hits


def remote_add(arguments: str, buildkit: bool) -> list[Hit]:
    """`ADD https://…` without `--checksum`: the download is trusted as it comes."""
    words = arguments.split()
    if any(word.startswith("--checksum") for word in words):
        return []
    sources = [w for w in words[:-1] if not w.startswith("--")]
    remote = next((w for w in sources if REMOTE_SOURCE.match(w)), None)
    if remote is None:
        return []
    caveat = " (BuildKit does not record --checksum: it may have been given)" if buildkit else ""
    return [("R002", f"ADD from {remote} without --checksum{caveat}", arguments.find(remote))]


# --- unpinned package installs ----------------------------------------------------------------

_SPLIT = re.compile(r"&&|\|\||[;|\n`()]|\$\(")
_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PREFIXES = {"sudo", "command", "exec", "nice", "time", "env", "xargs"}
# Options that take a value as the next word, per package manager.
_VALUE_OPTIONS = {
    "apt": {"-o", "-t", "-c", "--option", "--target-release", "--config-file", "-a"},
    "apk": {
        "-t",
        "--virtual",
        "-X",
        "--repository",
        "--arch",
        "-p",
        "--root",
        "--keys-dir",
        "--cache-dir",
        "--repositories-file",
    },
    "yum": {
        "-x",
        "--exclude",
        "-c",
        "--config",
        "--installroot",
        "--releasever",
        "--setopt",
        "--enablerepo",
        "--disablerepo",
        "--repo",
        "--repofrompath",
        "--forcearch",
    },
    "pip": {
        "-c",
        "--constraint",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--trusted-host",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--src",
        "--cache-dir",
        "--log",
        "--upgrade-strategy",
        "--only-binary",
        "--no-binary",
        "--progress-bar",
        "-e",
        "--editable",
        "--proxy",
        "--cert",
        "--client-cert",
        "--timeout",
        "--retries",
    },
}
_MANAGERS = {
    "apt-get": ("apt", "install"),
    "apt": ("apt", "install"),
    "aptitude": ("apt", "install"),
    "apk": ("apk", "add"),
    "yum": ("yum", "install"),
    "dnf": ("yum", "install"),
    "microdnf": ("yum", "install"),
    "tdnf": ("yum", "install"),
    "pip": ("pip", "install"),
    "pip3": ("pip", "install"),
}


def unpinned_installs(text: str) -> list[Hit]:
    hits = []
    body = text.replace("\\\n", " ")
    at = 0
    for segment in _SPLIT.split(body):
        offset = body.find(segment, at)
        at = max(at, offset)
        words = _words(segment)
        found = _install(words)
        if found is None:
            continue
        tool, packages = found
        unpinned = [p for p in packages if not _pinned(_MANAGERS_KIND[tool], p)]
        if unpinned:
            shown = ", ".join(unpinned[:6]) + (
                f" and {len(unpinned) - 6} more" if len(unpinned) > 6 else ""
            )
            hits.append(
                ("R005", f"{tool} installs packages without a version: {shown}", max(offset, 0))
            )
    return hits


_MANAGERS_KIND = {tool: kind for tool, (kind, _) in _MANAGERS.items()} | {"python -m pip": "pip"}


# One piece of a shell word as shlex.split (POSIX mode, no comments) reads it: unquoted
# characters, a backslash escape, a '…' or "…" string; or the blanks between words.
_WORD_PART = re.compile(
    r"""([^ \t\r\n'"\\]++)|\\(.)|'([^']*+)'|"((?:[^"\\]|\\.)*+)"|[ \t\r\n]++""", re.DOTALL
)
_QUOTED_ESCAPE = re.compile(r'\\([\\"])')  # inside "…", a backslash escapes only \ and "


def shell_split(text: str) -> list[str]:
    """`shlex.split(text)`, in time linear in the text (shlex's is quadratic in a word's
    length); ValueError on an unclosed quote or a trailing backslash, as shlex."""
    words: list[str] = []
    word: list[str] = []
    quoted = False  # '' and "" make a word of their own
    at = 0
    while at < len(text):
        part = _WORD_PART.match(text, at)
        if part is None:
            raise ValueError("no closing quotation or no escaped character")
        at = part.end()
        plain, escaped, single, double = part.groups()
        if plain is not None:
            word.append(plain)
        elif escaped is not None:
            word.append(escaped)
        elif single is not None:
            word.append(single)
            quoted = True
        elif double is not None:
            word.append(_QUOTED_ESCAPE.sub(r"\1", double))
            quoted = True
        elif word or quoted:
            words.append("".join(word))
            word, quoted = [], False
    if word or quoted:
        words.append("".join(word))
    return words


def _words(segment: str) -> list[str]:
    try:
        words = shell_split(segment)
    except ValueError:
        words = segment.split()
    first = 0  # an index, not `words = words[1:]`: that copies the list once per word
    while first < len(words) and (
        _ENV_ASSIGNMENT.match(words[first])
        or words[first] in _PREFIXES
        or words[first].startswith("-")
    ):
        first += 1
    return words[first:]


def _install(words: list[str]) -> tuple[str, list[str]] | None:
    """(tool, package arguments) when `words` is a package install command."""
    if not words:
        return None
    tool = words[0].rsplit("/", 1)[-1]
    rest = words[1:]
    if PYTHON.fullmatch(tool) and rest[:2] == ["-m", "pip"]:
        tool, rest = "python -m pip", rest[2:]
    elif tool not in _MANAGERS:
        return None
    kind = _MANAGERS_KIND[tool]
    verb = _MANAGERS.get(tool, ("pip", "install"))[1]
    options = _VALUE_OPTIONS[kind]
    arguments = []  # the words that are not options nor option values, in order
    skip = False
    for word in rest:
        if skip:
            skip = False
        elif word.startswith("-"):
            if kind == "pip" and (word in ("-r", "--requirement") or word.startswith("-r")):
                return None  # the versions are in a requirements file the history does not show
            skip = word in options
        else:
            arguments.append(word)
    if not arguments or arguments[0] != verb or len(arguments) == 1:
        return None
    return tool, arguments[1:]


def _pinned(kind: str, package: str) -> bool:
    if "$" in package or package.startswith((".", "/", "~")) or "://" in package:
        return True  # a variable, a local file or a URL: not a registry name to pin
    if kind == "apt":
        return "=" in package or package.endswith(".deb")
    if kind == "apk":
        return any(op in package for op in "=<>~")
    if kind == "yum":
        return "=" in package or package.endswith(".rpm") or bool(RPM_VERSION.search(package))
    # pip: an exact version, or a direct reference (`name @ url`, a wheel)
    return "==" in package or "@" in package or package.endswith((".whl", ".tar.gz", ".zip"))
