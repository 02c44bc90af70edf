"""`audit --files`: findings in what each step wrote (contents/), tied to that step.

F001 a secret in a file (the token formats and private keys of secrets.py, and high-entropy
password-like assignments); F002 the same, where a later step removed the file (or a folder
above it): the secret is gone from the running image but still readable in the writing step's
layer, so the finding's step is the step that wrote it; F003 a credential file by its name;
F004 setuid/setgid files; F005 world-writable files (folders with the sticky bit, as /tmp, are
not). Secret values never leave this module unmasked.
"""

from __future__ import annotations

from ..blob.tarformat import clean_name
from ..contents import ImageFiles
from ..contents.changes import Entry
from .report import Finding
from .rules import CREDENTIAL_FILES, MAX_SCANNED_FILE, RULES, SECRET_SUFFIXES
from .secrets import Secret, find_assignments, find_tokens


def wants_contents(name: str, size: int) -> bool:
    """Which files' contents `audit --files` reads while listing a layer (names as written)."""
    if size > MAX_SCANNED_FILE:
        return False
    path = (clean_name(name) or "").lower()
    return credential_file(path) or path.endswith(SECRET_SUFFIXES) or _in_home(path)


def credential_file(path: str) -> bool:
    return any(path == name or path.endswith("/" + name) for name in CREDENTIAL_FILES)


def _in_home(path: str) -> bool:
    return path.startswith(("root/", "home/"))


def _secrets(entry: Entry) -> list[Secret]:
    if entry.data is None:
        return []
    text = entry.data.decode("utf-8", "replace")
    return find_tokens(text) + find_assignments(text)


def _removed_later(files: ImageFiles, number: int, path: str) -> int | None:
    """The first step after `number` whose layer removes `path` (or a folder above it)."""
    for step in files.steps:
        if step.step <= number:
            continue
        for entry in step.entries:
            if entry.change in ("removed", "opaque") and (
                path == entry.path or path.startswith(entry.path + "/")
            ):
                return step.step
    return None


def file_findings(files: ImageFiles) -> list[Finding]:
    found: list[Finding] = []
    for step in files.steps:
        for entry in step.entries:
            if entry.change not in ("added", "changed"):
                continue
            secrets = _secrets(entry)
            removed = _removed_later(files, step.step, entry.path) if secrets else None
            for secret in secrets[:1] if secrets else []:
                what = f"{secret.what} ({secret.masked}) in /{entry.path}"
                if removed is not None:
                    reason = (
                        f"{what}, removed by step {removed}: its layer still holds it, "
                        "readable by anyone who pulls the image"
                    )
                    found.append(_finding("F002", reason, step.step, entry.path))
                else:
                    found.append(_finding("F001", what, step.step, entry.path))
            if credential_file(entry.path.lower()) and not secrets and entry.type == "file":
                found.append(
                    _finding("F003", f"/{entry.path}, a credential file", step.step, entry.path)
                )
            mode = entry.mode or 0
            if entry.type == "file" and mode & 0o6000:
                kind = "setuid" if mode & 0o4000 else "setgid"
                found.append(
                    _finding("F004", f"/{entry.path} is {kind} ({mode:04o})", step.step, entry.path)
                )
            if entry.type in ("file", "dir") and mode & 0o002 and not mode & 0o1000:
                found.append(
                    _finding(
                        "F005",
                        f"/{entry.path} is world-writable ({mode:04o})",
                        step.step,
                        entry.path,
                    )
                )
    return found


def _finding(rule: str, reason: str, step: int, path: str) -> Finding:
    return Finding(rule, RULES[rule].severity, reason, step, f"/{path}")
