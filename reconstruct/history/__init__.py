"""History logic, independent of where the data came from.

- `created_by` → the repo-info Dockerfile line(s) (docs/repo-info-format.md, "History entry to
  Dockerfile line"), including the older generator's behaviour for `--era`;
- `created_by` → a structured instruction (keyword, arguments, build args) for the Dockerfile
  renderer and for comparison;
- matching history steps to diff_ids and manifest layers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import Image, Layer

DEFAULT_SHELL = ("/bin/sh", "-c")
CURRENT_ERA = 9999  # "today's" generator; an era is the year whose generator to imitate
# Until late 2022 the generator neither stripped BuildKit's leading `RUN ` nor recognised the
# instruction form (`ENV A=1`), so BuildKit history printed as `RUN RUN …` and `RUN ENV …`.
BUILDKIT_AWARE_ERA = 2023

_NOP = re.compile(r"#\(nop\) +")
_CAPS_WORD = re.compile(r"[A-Z]+ ")
_BUILD_ARGS = re.compile(r"\|\d+ ")
UNPARSABLE = "# unable to parse image command string further:"
DEFAULT_SHELL_PREFIX = " ".join(DEFAULT_SHELL) + " "
_WINDOWS_BASE = re.compile(r"(Apply image|Install update) ")
_BUILDKIT_SUFFIX = " # buildkit"
_NOP_AFTER_SHELL = re.compile(r"[^|#\s][^#]*? #\(nop\) ")
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
        found = _split_build_args(text, prefixes)
        if found is None:
            return SplitCommand(None, text, nop=False, shell_stripped=False, unparsable=True)
        build_args, text = found
    shell_stripped = False
    for prefix in prefixes:
        if text.startswith(prefix):
            text = text[len(prefix) :]
            shell_stripped = True
            break
    nop = _NOP.match(text)
    if nop:
        text = text[nop.end() :]
    return SplitCommand(build_args, text, bool(nop), shell_stripped, unparsable=False)


def _split_build_args(text: str, prefixes: list[str]) -> tuple[str, str] | None:
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
    if not split.nop and not (era >= BUILDKIT_AWARE_ERA and _CAPS_WORD.match(body)):
        body = "RUN " + body
    lines.append(body)
    return "\n".join(lines)


def printed_before_buildkit_awareness(text: str) -> bool:
    """True for a step's text that only the generator before 2023 prints: `RUN RUN …`,
    `RUN ENV …` (BuildKit's own history with `RUN ` put before it). Today's generator never
    puts `RUN ` before a capitalised word, so such a line dates the document."""
    if text.startswith("# ARGS: ") or not text.startswith("RUN "):
        return False
    return bool(_CAPS_WORD.match(text[len("RUN ") :]))


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
        if build_args is None and (_WINDOWS_BASE.match(body) or _CAPS_WORD.match(body)):
            return body
        command = DEFAULT_SHELL_PREFIX + body
    else:
        command = f"{DEFAULT_SHELL_PREFIX}#(nop)  {text}"
    if build_args is not None:
        count = len(_ARG_NAME.findall(build_args))
        command = f"|{count} {build_args} {command}"
    return command


@dataclass(frozen=True)
class Instruction:
    """A history entry as a Dockerfile instruction, for humans and comparison."""

    keyword: str  # RUN, ENV, COPY, … ; "" when the entry is not a Dockerfile instruction
    arguments: str  # as recorded (Go formatting and `# buildkit` included)
    build_args: str | None = None
    buildkit: bool = False
    windows_base: bool = False  # `Apply image …` / `Install update …`


WINDOWS_DEFAULT_SHELL = ("cmd", "/S", "/C")


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
    buildkit = text.endswith(_BUILDKIT_SUFFIX)
    if buildkit:
        text = text[: -len(_BUILDKIT_SUFFIX)]
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
            found = _split_build_args(text, prefixes)
            if found is None:
                return Instruction("", raw, buildkit=buildkit)
            build_args, text = found
        elif prefix := next((p for p in prefixes if text.startswith(p)), None):
            text, as_command = text[len(prefix) :], True
        elif nop_shell := _NOP_AFTER_SHELL.match(text):
            # `<any shell> #(nop) …`: the classic builder's metadata form under a shell we were
            # not told about (OCI configs carry no Shell)
            text, as_command = text[nop_shell.end() - len("#(nop) ") :], True
        else:
            break
    nop = _NOP.match(text)
    if nop:
        keyword, _, arguments = text[nop.end() :].partition(" ")
        return Instruction(keyword, arguments, build_args, buildkit)
    if _WINDOWS_BASE.match(text) and not as_command:
        return Instruction("RUN", text, windows_base=True)
    if _CAPS_WORD.match(text) and not as_command:
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
    shells: list[str] = []
    found = []
    for step in image.steps:
        instruction = parse_instruction(step.created_by, image.shell, windows, tuple(shells))
        if instruction.keyword == "SHELL":
            # Go printed `[a b c]`: joined by spaces, exactly the prefix later steps carry
            arguments = instruction.arguments.strip()
            shells.append(arguments[1:-1] if arguments.startswith("[") else arguments)
        found.append(instruction)
    return found


# --- steps ↔ layers ---------------------------------------------------------------------------


def link_layers(image: Image) -> None:
    """Join manifest layers with diff_ids by position, then give each non-empty step its layer.

    Nothing is dropped or guessed: when counts disagree every layer is kept, the surplus stays
    unmatched, and a warning says what disagrees.
    """
    manifest_layers = image.layers
    diff_ids = image.diff_ids
    if manifest_layers and diff_ids and len(manifest_layers) != len(diff_ids):
        image.warnings.append(
            f"manifest lists {len(manifest_layers)} layers but the config has "
            f"{len(diff_ids)} diff_ids"
        )
    if not manifest_layers:
        image.layers = [Layer(diff_id=diff_id) for diff_id in diff_ids]
    else:
        for layer, diff_id in zip(manifest_layers, diff_ids, strict=False):
            layer.diff_id = diff_id
    layers = iter(image.layers)
    non_empty = 0
    for step in image.steps:
        if step.empty_layer:
            continue
        non_empty += 1
        step.layer = next(layers, None)
    expected = len(diff_ids) if diff_ids else len(image.layers)
    if image.steps and non_empty != expected:
        what = "rootfs has" if diff_ids else "the manifest lists"
        image.warnings.append(
            f"history has {non_empty} non-empty steps but {what} {expected} layers"
        )
    filesystem = [layer for layer in image.layers if _is_filesystem(layer)]
    if not image.steps and filesystem:
        image.warnings.append(f"image has no history: {len(filesystem)} layers without steps")


def _is_filesystem(layer: Layer) -> bool:
    """False for attestation payloads (in-toto), which no history step produces."""
    return layer.media_type is None or "in-toto" not in layer.media_type
