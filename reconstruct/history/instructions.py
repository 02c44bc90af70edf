"""`created_by` → a structured instruction (keyword, arguments, build args), for the Dockerfile
renderer, comparison and audit. More forgiving than the generator's line rules (lines.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import Image
from .lines import (
    BUILDKIT_SUFFIX,
    CAPS_WORD,
    NOP,
    NOP_AFTER_SHELL,
    WINDOWS_BASE,
    shell_prefixes,
    split_build_args,
)


@dataclass(frozen=True)
class Instruction:
    """A history entry as a Dockerfile instruction, for humans and comparison."""

    keyword: str  # RUN, ENV, COPY, … ; "" when the entry is not a Dockerfile instruction
    arguments: str  # as recorded (Go formatting and `# buildkit` included)
    build_args: str | None = None
    buildkit: bool = False
    windows_base: bool = False  # `Apply image …` / `Install update …`


WINDOWS_DEFAULT_SHELL = ("cmd", "/S", "/C")
# Earlier SHELL steps whose prefixes later steps may carry: a Dockerfile has a few. At most this
# many distinct ones are kept, in the order first declared (the first matching prefix wins, as
# before); past it the first declared is dropped: 10,000 SHELL steps cost 10,000, not 10,000².
MAX_EARLIER_SHELLS = 32


def parse_instruction(
    created_by: str | None,
    shell: list[str] | None = None,
    windows: bool = False,
    earlier_shells: tuple[str, ...] = (),
) -> Instruction:
    """What a history entry did, whichever builder wrote it (classic, BuildKit, buildah, kaniko).

    More forgiving than the generator's rules: every known shell prefix is removed (Windows'
    default `cmd /S /C` too, and prefixes stacked by a document read back), so equivalent
    spellings give the same Instruction.
    """
    raw = created_by or ""
    text = raw
    buildkit = text.endswith(BUILDKIT_SUFFIX)
    if buildkit:
        text = text[: -len(BUILDKIT_SUFFIX)]
    prefixes = shell_prefixes(shell)
    if windows:
        prefixes.append(" ".join(WINDOWS_DEFAULT_SHELL) + " ")
    prefixes += [f"{earlier} " for earlier in earlier_shells]
    build_args = None
    as_command = False  # recorded as a command: after a shell prefix or BuildKit/kaniko's `RUN `
    for _ in range(4):  # a handful of stacked prefixes at most
        if text.startswith("RUN "):
            text, as_command = text[len("RUN ") :], True
        elif text.startswith("|"):
            found = split_build_args(text, prefixes)
            if found is None:
                return Instruction("", raw, buildkit=buildkit)
            build_args, text = found
        elif prefix := next((p for p in prefixes if text.startswith(p)), None):
            text, as_command = text[len(prefix) :], True
        elif nop_shell := NOP_AFTER_SHELL.match(text):
            # `<any shell> #(nop) …`: the classic builder's metadata form under a shell we were
            # not told about (OCI configs carry no Shell)
            text, as_command = text[nop_shell.end() - len("#(nop) ") :], True
        else:
            break
    nop = NOP.match(text)
    if nop:
        keyword, _, arguments = text[nop.end() :].partition(" ")
        return Instruction(keyword, arguments, build_args, buildkit)
    if WINDOWS_BASE.match(text) and not as_command:
        return Instruction("RUN", text, windows_base=True)
    if CAPS_WORD.match(text) and not as_command:
        keyword, _, arguments = text.partition(" ")
        return Instruction(keyword, arguments, build_args, buildkit)
    if as_command:
        return Instruction("RUN", text, build_args, buildkit)
    # No shell prefix and no instruction: a tool's own note (BuildKit LLB ops, busybox's
    # banner, `docker commit`'s command, an empty entry). Not known to be a shell command.
    return Instruction("", text, build_args, buildkit)


def image_instructions(image: Image) -> list[Instruction]:
    """Every step of `image` as an Instruction, each SHELL step's shell known to later steps."""
    windows = image.platform.os == "windows"
    shells: dict[str, None] = {}  # distinct, oldest first
    found = []
    for step in image.steps:
        instruction = parse_instruction(step.created_by, image.shell, windows, tuple(shells))
        if instruction.keyword == "SHELL":
            # Go printed `[a b c]`: joined by spaces, exactly the prefix later steps carry
            arguments = instruction.arguments.strip()
            shell = arguments[1:-1] if arguments.startswith("[") else arguments
            shells.setdefault(shell, None)
            if len(shells) > MAX_EARLIER_SHELLS:
                del shells[next(iter(shells))]
        found.append(instruction)
    return found


# --- steps ↔ layers ---------------------------------------------------------------------------


# How the classic builder records a COPY/ADD source: only a hash of its content.
_HASHED_SOURCE = re.compile(r"(file|dir|multi):([0-9a-f]{64}) in (.*?) ?$", re.S)


def hashed_source(arguments: str) -> tuple[str, str, str] | None:
    """(kind, hex digest, destination) of `file:<sha> in /dst` (also `dir:`, `multi:`): a
    COPY/ADD whose source the builder recorded only by a content hash; None otherwise."""
    match = _HASHED_SOURCE.match(arguments.rstrip() + " ")
    return (match.group(1), match.group(2), match.group(3)) if match else None
