"""`dockerfile:FILE` — a Dockerfile read into steps, to compare an image with what built it.

Parsed with dockerfile-parse; on top of it: the final stage (or `:STAGE`), heredocs (which the
parser does not know), and ARG/ENV substitution where the builder itself substitutes (every
instruction but RUN, CMD and ENTRYPOINT, whose variables the shell expands at run time).
The base image is kept in the `org.opencontainers.image.base.name` annotation; where
substitution changed an instruction, the unexpanded form is kept in the step's comment (buildah
records that one).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from ..blob.contained import InputPath
from ..blob.files import read_small_file
from ..model import BASE_NAME_ANNOTATION, Image, Reference, Step, Target
from .base import Capabilities, Source, SourceError

_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_VARIABLE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)
_SUBSTITUTED = {
    "ENV",
    "LABEL",
    "ARG",
    "WORKDIR",
    "USER",
    "EXPOSE",
    "VOLUME",
    "COPY",
    "ADD",
    "STOPSIGNAL",
    "FROM",
}
_MAKES_LAYER = {"RUN", "COPY", "ADD"}


def substitute(text: str, scope: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        value = scope.get(name)
        if match.group(2) == "-":
            return value if value else match.group(3)
        if match.group(2) == "+":
            return match.group(3) if value else ""
        return value if value is not None else ""

    return _VARIABLE.sub(replace, text)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, value) in order, heredoc bodies folded into their instruction."""
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()), env_replace=False)
    lines = text.split("\n")
    found: list[tuple[str, str]] = []
    skip_until = -1
    for item in parser.structure:
        if item["startline"] <= skip_until or item["instruction"] == "COMMENT":
            continue
        value = item["value"]
        heredoc = _HEREDOC.search(value) if item["instruction"] in ("RUN", "COPY", "ADD") else None
        if heredoc:
            body, skip_until = _heredoc_body(
                lines, item["endline"] + 1, heredoc.group(3), heredoc.group(1) == "-"
            )
            value = value[: heredoc.start()].strip()
            value = (value + " " + body).strip() if value else body
        found.append((item["instruction"], value))
    return found


def _heredoc_body(lines: list[str], start: int, marker: str, strip_tabs: bool) -> tuple[str, int]:
    body = []
    for number in range(start, len(lines)):
        line = lines[number].lstrip("\t") if strip_tabs else lines[number]
        if line == marker:
            return "\n".join(body), number
        body.append(line)
    raise SourceError(f"heredoc <<{marker} is never closed")


def _stages(
    instructions: list[tuple[str, str]],
) -> list[tuple[str | None, str, list[tuple[str, str]], dict[str, str]]]:
    """(stage name, base, instructions, global ARG scope) per FROM."""
    global_args: dict[str, str] = {}
    stages = []
    for keyword, value in instructions:
        if keyword == "FROM":
            words = substitute(value, global_args).split()
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append((name, words[0] if words else "", [], dict(global_args)))
        elif not stages:
            if keyword == "ARG":
                name, _, default = value.partition("=")
                global_args[name.strip()] = default.strip().strip('"')
        else:
            stages[-1][2].append((keyword, value))
    if not stages:
        raise SourceError("the Dockerfile has no FROM")
    return stages


def steps_from_dockerfile(
    text: str, stage: str | None = None, build_args: dict[str, str] | None = None
) -> tuple[str, list[Step]]:
    """The base image and one Step per instruction of the chosen (default: final) stage."""
    stages = _stages(_instructions(text))
    chosen = stages[-1]
    if stage is not None:
        named = [s for s in stages if s[0] == stage]
        if not named:
            raise SourceError(f"the Dockerfile has no stage {stage!r}")
        chosen = named[0]
    _, base, instructions, scope = chosen
    scope = {**scope, **(build_args or {})}
    steps = []
    for keyword, value in instructions:
        raw = value
        if keyword in _SUBSTITUTED:
            value = substitute(value, scope)
        if keyword == "ARG":
            name, _, default = value.partition("=")
            scope.setdefault(
                name.strip(), (build_args or {}).get(name.strip(), default.strip().strip('"'))
            )
        elif keyword == "ENV":
            from ..history.normalize import pairs

            scope.update(dict(pairs(value)))
        if keyword == "RUN":
            created_by = f"/bin/sh -c {value}"
        else:
            created_by = f"/bin/sh -c #(nop)  {keyword} {value}"
        # Buildah records ENV/LABEL unexpanded: the raw text goes in the comment for comparison.
        comment = f"/bin/sh -c #(nop)  {keyword} {raw}" if raw != value else None
        steps.append(
            Step(created_by=created_by, comment=comment, empty_layer=keyword not in _MAKES_LAYER)
        )
    return base, steps


class DockerfileSource(Source):
    transport = "dockerfile"
    capabilities = Capabilities(
        config=False,
        whole_history=False,
        unhashable="a Dockerfile is not an image: nothing to hash",
    )

    def __init__(self, path: Path):
        if path.is_dir():  # a build context: its Dockerfile, which must lie inside it
            path = InputPath.of(path) / "Dockerfile"  # type: ignore[assignment]
        if not path.is_file():
            raise SourceError(f"dockerfile: {path} is not a file")
        try:
            self.text = read_small_file(path, "Dockerfile").decode()
        except UnicodeDecodeError:
            raise SourceError(f"dockerfile: {path} is not UTF-8 text") from None
        self.path = path

    def references(self) -> list[Reference]:
        return [Reference(name=str(self.path), selector=None)]

    def get(self, selector: str | None = None) -> Target:
        base, steps = steps_from_dockerfile(self.text, stage=selector)
        image = Image(steps=steps, annotations={BASE_NAME_ANNOTATION: base})
        return Target(Reference(name=str(self.path)), image)
