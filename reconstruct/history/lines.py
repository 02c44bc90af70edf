"""`created_by` ↔ the repo-info Dockerfile line(s): docs/repo-info-format.md's "History entry to
Dockerfile line", with the older generator's behaviour for `--era`, and its inverse for documents
read back."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_SHELL = ("/bin/sh", "-c")
CURRENT_ERA = 9999  # "today's" generator; an era is the year whose generator to imitate
# Until late 2022 the generator neither stripped BuildKit's leading `RUN ` nor recognised the
# instruction form (`ENV A=1`), so BuildKit history printed as `RUN RUN …` and `RUN ENV …`.
BUILDKIT_AWARE_ERA = 2023

NOP = re.compile(r"#\(nop\) +")
CAPS_WORD = re.compile(r"[A-Z]+ ")
_BUILD_ARGS = re.compile(r"\|\d+ ")
UNPARSABLE = "# unable to parse image command string further:"
DEFAULT_SHELL_PREFIX = " ".join(DEFAULT_SHELL) + " "
WINDOWS_BASE = re.compile(r"(Apply image|Install update) ")
BUILDKIT_SUFFIX = " # buildkit"
NOP_AFTER_SHELL = re.compile(r"[^|#\s][^#]*? #\(nop\) ")
_ARG_NAME = re.compile(r"(?:^| )[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class SplitCommand:
    """A `created_by` taken apart the way the generator does it."""

    build_args: str | None  # the `A=1 B=2` of a `|2 A=1 B=2 /bin/sh -c …` prefix
    body: str  # what is left once `RUN `, build args, one shell prefix and `#(nop) ` are gone
    nop: bool  # a classic-builder metadata instruction (`#(nop)`)
    shell_stripped: bool  # a known shell prefix was removed (so the body is a shell command)
    unparsable: bool  # `|N …` without a known shell prefix: the argument list cannot be split


def shell_prefixes(shell: list[str] | tuple[str, ...] | None) -> list[str]:
    """`/bin/sh -c ` and the image's final SHELL joined by spaces, each with one trailing space."""
    prefixes = [" ".join(DEFAULT_SHELL) + " "]
    if shell:
        prefixes.append(" ".join(shell) + " ")
    return prefixes


def split_created_by(
    created_by: str | None, shell: list[str] | None = None, era: int = CURRENT_ERA
) -> SplitCommand:
    text = created_by or ""
    if era >= BUILDKIT_AWARE_ERA and text.startswith("RUN "):
        text = text[len("RUN ") :]
    prefixes = shell_prefixes(shell)
    build_args = None
    if text.startswith("|"):
        found = split_build_args(text, prefixes)
        if found is None:
            return SplitCommand(None, text, nop=False, shell_stripped=False, unparsable=True)
        build_args, text = found
    shell_stripped = False
    for prefix in prefixes:
        if text.startswith(prefix):
            text = text[len(prefix) :]
            shell_stripped = True
            break
    nop = NOP.match(text)
    if nop:
        text = text[nop.end() :]
    return SplitCommand(build_args, text, bool(nop), shell_stripped, unparsable=False)


def split_build_args(text: str, prefixes: list[str]) -> tuple[str, str] | None:
    """Split `|N <args> <shell prefix>…` at the first ` <shell prefix>` after the count.

    Values are unquoted, so the earliest occurrence is a guess; it is the generator's guess.
    """
    count = _BUILD_ARGS.match(text)
    if not count:
        return None
    hits = [at for prefix in prefixes if (at := text.find(" " + prefix, count.end())) >= 0]
    if not hits:
        return None
    at = min(hits)
    return text[count.end() : at], text[at + 1 :]


def repo_info_text(
    created_by: str | None, shell: list[str] | None = None, era: int = CURRENT_ERA
) -> str:
    """The Dockerfile line(s) repo-info prints for one history entry (may contain newlines)."""
    split = split_created_by(created_by, shell, era)
    if split.unparsable:
        return f"{UNPARSABLE}\n{split.body}"
    lines = [f"# ARGS: {split.build_args}"] if split.build_args is not None else []
    body = split.body
    if not split.nop and not (era >= BUILDKIT_AWARE_ERA and CAPS_WORD.match(body)):
        body = "RUN " + body
    lines.append(body)
    return "\n".join(lines)


def printed_before_buildkit_awareness(text: str) -> bool:
    """True for a step's text that only the generator before 2023 prints: `RUN RUN …`,
    `RUN ENV …` (BuildKit's own history with `RUN ` put before it). Today's generator never
    puts `RUN ` before a capitalised word, so such a line dates the document."""
    if text.startswith("# ARGS: ") or not text.startswith("RUN "):
        return False
    return bool(CAPS_WORD.match(text[len("RUN ") :]))


def created_by_from_repo_info(text: str) -> str:
    """A `created_by` that renders back to `text` in every era (the inverse of the rules).

    The builder's exact prefix is lost in a document, so the classic builder's forms are used:
    `/bin/sh -c …` for RUN, `/bin/sh -c #(nop)  …` for other instructions.
    """
    if text.startswith(UNPARSABLE + "\n"):
        return text[len(UNPARSABLE) + 1 :]
    build_args = None
    if text.startswith("# ARGS: ") and "\n" in text:
        build_args, text = text[len("# ARGS: ") :].split("\n", 1)
    if text.startswith("RUN "):
        body = text[len("RUN ") :]
        # `RUN RUN …`/`RUN ENV …`: how documents before 2023 printed BuildKit's own history.
        if build_args is None and (WINDOWS_BASE.match(body) or CAPS_WORD.match(body)):
            return body
        command = DEFAULT_SHELL_PREFIX + body
    else:
        command = f"{DEFAULT_SHELL_PREFIX}#(nop)  {text}"
    if build_args is not None:
        count = len(_ARG_NAME.findall(build_args))
        command = f"|{count} {build_args} {command}"
    return command
