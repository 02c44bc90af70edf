"""`--format dockerfile`: a clean, valid Dockerfile a human can read and rebuild from.

What the history cannot say is said in comments, never invented: the base image (except the
Windows base, inferred from os.version and the base layers), the source names of classic-builder
`COPY file:<sha> in /dst` (only a content hash is recorded), values lost by the builder.
"""

from __future__ import annotations

import json
import re

from ..history import Instruction, hashed_source, image_instructions
from ..history.normalize import json_list, pairs
from ..model import Image, Step, Target
from ..text import platform_string

# Server Core base layers are gigabytes; Nano Server's a few hundred megabytes at most.
_SERVERCORE_MIN_BYTES = 500_000_000
_BUILD_ARG = re.compile(r"(?:^| )([A-Za-z_][A-Za-z0-9_]*)=")


def render(target: Target) -> str:
    parts = []
    for section in target.sections():
        header = f"# {platform_string(section.platform)}"
        if section.image is None:
            parts.append(f"{header}\n# not present in this source\n")
        else:
            parts.append(f"{header}\n" + render_image(section.image))
    return "\n".join(parts)


def render_image(image: Image) -> str:
    lines = _from_lines(image)
    args_seen: dict[str, str] = {}
    for step, instruction in zip(image.steps, image_instructions(image), strict=True):
        if instruction.windows_base:
            lines.append(f"# base layer: {instruction.arguments}")
            continue
        if instruction.keyword == "ARG" and "=" in instruction.arguments:
            name, _, default = instruction.arguments.partition("=")
            args_seen[name] = _quote(default)
        for key, value in _build_args(instruction.build_args):
            if args_seen.get(key) != value:
                args_seen[key] = value
                lines.append(f"ARG {key}={value}")
        lines.extend(_instruction_lines(instruction, image, step))
        if step.uncertain:
            lines.append(f"# (uncertain: {step.uncertain})")
    lines.extend(f"# warning: {warning}" for warning in image.warnings)
    return "\n".join(lines) + "\n"


def _from_lines(image: Image) -> list[str]:
    platform = image.platform
    base = [
        step
        for step, instruction in zip(image.steps, image_instructions(image), strict=True)
        if instruction.windows_base
    ]
    if platform.os == "windows" and platform.os_version and base:
        base_bytes = sum(s.layer.size or 0 for s in base if s.layer)
        flavour = (
            "servercore" if base_bytes >= _SERVERCORE_MIN_BYTES or not base_bytes else "nanoserver"
        )
        return [
            f"# FROM inferred offline from os.version {platform.os_version} and the "
            f"{len(base)} Windows base layer(s) ({flavour}: by their size); "
            "the exact tag upstream used is not recorded",
            f"FROM mcr.microsoft.com/windows/{flavour}:{platform.os_version}",
        ]
    return [
        "# The base image is not recorded: every step below is from the image's history, the",
        "# base image's own steps included, so the build starts from scratch.",
        "FROM scratch",
    ]


def _build_args(text: str | None) -> list[tuple[str, str]]:
    """`A=1 B=two words` → [(A, 1), (B, two words)]: values are unquoted, split at ` NAME=`."""
    if not text:
        return []
    starts = [m.start(1) for m in _BUILD_ARG.finditer(text)]
    if not starts:  # no NAME=value at all: nothing to declare
        return []
    pairs = []
    for begin, end in zip(starts, [*starts[1:], len(text) + 1], strict=True):
        key, _, value = text[begin : end - 1].partition("=")
        pairs.append((key, _quote(value)))
    return pairs


def _quote(value: str) -> str:
    return json.dumps(value) if (not value or re.search(r"[\s\"'\\$]", value)) else value


def _json_list(text: str) -> str | None:
    """Go's `["a" "b"]` (or valid JSON) → `["a", "b"]`; None when it is neither."""
    listed = json_list(text)
    return json.dumps(listed) if listed is not None else None


def _instruction_lines(
    instruction: Instruction, image: Image, step: Step | None = None
) -> list[str]:
    keyword, arguments = instruction.keyword, instruction.arguments
    if keyword == "":
        if not arguments:
            return ["# (a history entry with no command)"]
        return ["# recorded, but not as a Dockerfile instruction:", _comment(arguments)]
    if keyword == "RUN":
        return _run_lines(arguments)
    if keyword in ("CMD", "ENTRYPOINT"):
        as_json = _json_list(arguments)
        return [f"{keyword} {as_json or arguments}"]
    if keyword == "SHELL":
        return [_shell_line(arguments, image)]
    if keyword == "EXPOSE" and arguments.startswith("map["):
        ports = re.findall(r"([0-9]+/[a-z]+):\{\}", arguments)
        return [f"EXPOSE {' '.join(ports)}"]
    if keyword == "VOLUME" and arguments.startswith("[") and _json_list(arguments) is None:
        return [f"VOLUME {json.dumps(arguments[1:-1].split())}"]
    if keyword == "HEALTHCHECK":
        return _healthcheck_lines(arguments)
    if keyword in ("COPY", "ADD"):
        return _copy_lines(keyword, arguments, step)
    if keyword in ("ENV", "LABEL") and "=" in arguments:
        # the classic builder dropped the quotes (`GREETING=hello world`): put them back
        return [keyword + " " + " ".join(f"{k}={_quote(v)}" for k, v in pairs(arguments))]
    if keyword.isupper() and keyword.isalpha():
        return [f"{keyword} {arguments}".rstrip()]
    return [_comment(f"{keyword} {arguments}")]


def _run_lines(body: str) -> list[str]:
    if "\n" in body:  # a heredoc body, or continuation lines recorded verbatim
        marker = "EOF"
        while marker in body:
            marker += "_"
        return [f"RUN <<{marker}", body, marker]
    return [f"RUN {body}"]


def _comment(text: str) -> str:
    return "# " + text.replace("\n", "\n# ")


def _shell_line(arguments: str, image: Image) -> str:
    as_json = _json_list(arguments)
    if as_json:
        return f"SHELL {as_json}"
    inner = arguments[1:-1] if arguments.startswith("[") else arguments
    # Go printed `[powershell -Command …]`: the spaces inside elements are lost; the final
    # config's Shell gives them back when it is the same shell.
    if image.shell and " ".join(image.shell) == inner:
        return f"SHELL {json.dumps(image.shell)}"
    return f"SHELL {json.dumps(inner.split())}"


def _healthcheck_lines(arguments: str) -> list[str]:
    # Classic builder: `&{["CMD-SHELL" "curl -f http://x/"] "30s" "3s" "0s" "0s" '\x03'}`.
    match = re.match(r"&\{(\[.*?\]) ((?:\"[^\"]*\" ?)*)(?:'\\x([0-9a-f]{2})'|(\d+))?\}", arguments)
    test = json_list(match.group(1)) if match else None
    if match is None or test is None:  # not the classic form: shown as recorded
        return [f"HEALTHCHECK {arguments}"]
    options = []
    for flag, value in zip(
        ("interval", "timeout", "start-period", "start-interval"),
        re.findall(r'"([^"]*)"', match.group(2)),
        strict=False,
    ):
        if value and value != "0s":
            options.append(f"--{flag}={value}")
    retries = match.group(3) or match.group(4)
    if retries and int(retries, 16 if match.group(3) else 10):
        options.append(f"--retries={int(retries, 16 if match.group(3) else 10)}")
    prefix = " ".join(["HEALTHCHECK", *options])
    if test[:1] == ["NONE"]:
        return ["HEALTHCHECK NONE"]
    if test[:1] == ["CMD-SHELL"] and len(test) == 2:
        return [f"{prefix} CMD {test[1]}"]
    return [f"{prefix} CMD {json.dumps(test[1:])}"]


def _copy_lines(keyword: str, arguments: str, step: Step | None = None) -> list[str]:
    hashed = hashed_source(arguments)
    if hashed is None:
        return [f"{keyword} {arguments.rstrip()}"]
    kind, digest, destination = hashed
    if step is not None and step.recovered:
        count = step.recovered_count or len(step.recovered)
        lines = _recovered_lines(keyword, kind, digest, destination, step.recovered, count)
        return [*_check_line(step.recovered_check, kind), *lines]
    placeholder = {
        "file": f"file-{digest[:12]}",
        "dir": f"dir-{digest[:12]}/",
        "multi": f"multi-{digest[:12]}/",
    }[kind]
    return [
        f"# source not recorded: the builder kept only a hash of its content ({kind}:{digest})",
        f"{keyword} {placeholder} {_json_path(destination)}",
    ]


MAX_LISTED = 20  # recovered paths named in a comment; the rest are counted


def _check_line(check: str | None, kind: str) -> list[str]:
    """What recomputing the builder's hash from the layer showed (contents/mobyhash.py)."""
    if check == "matches":
        return [
            f"# the {kind}: hash recomputed from the layer matches: it holds exactly that source"
        ]
    if check == "not reproduced":
        return [
            f"# the {kind}: hash recomputed from the layer does not match: it also covers the "
            "build host's file names and owner names, which were guessed"
        ]
    if check:
        return [f"# the {kind}: hash is {check}"]
    return []


def _recovered_lines(
    keyword: str, kind: str, digest: str, destination: str, recovered: list[str], count: int
) -> list[str]:
    """`COPY <name> /dst` from what the step's layer adds under `/dst` (contents/recover.py)."""
    note = (
        f"# recovered from the layer: the builder kept only a hash ({kind}:{digest[:12]}), "
        "not the build host's file names"
    )
    files = [path for path in recovered if not path.endswith("/")]
    if destination == "/":  # a base root file system
        return [
            f"# the layer holds a root file system of {count} entries ({kind}:{digest})",
            f"{keyword} rootfs.tar /",
        ]
    if count == 1 and len(files) == 1:
        return [note, f"{keyword} {_json_path(files[0])} {_json_path(destination)}"]
    shown = ", ".join(recovered[:MAX_LISTED])
    more = f" and {count - MAX_LISTED} more" if count > MAX_LISTED else ""
    folder = destination.rstrip("/").rpartition("/")[2] or "context"
    return [
        note,
        f"# it adds {count} entries under {destination}: {shown}{more}",
        f"{keyword} {_json_path(folder + '/')} {_json_path(destination)}",
    ]


def _json_path(path: str) -> str:
    return json.dumps(path) if " " in path else path
