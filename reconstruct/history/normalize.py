"""One spelling per instruction, so that equivalent history entries compare equal.

Classic builder, BuildKit, buildah, a repo-info document read back and a Dockerfile all write
the same instruction differently: shell prefixes, `#(nop)`, `# buildkit`, Go-formatted values
(`CMD ["a" "b"]`, `EXPOSE map[80/tcp:{}]`, `VOLUME [/data]`), whitespace. What a builder does
not record (COPY sources under the classic builder, ARG defaults under buildah) is left out of
the key, so its absence is not a difference.
"""

from __future__ import annotations

import json
import re
import shlex

from ..jsondoc import load_json
from . import Instruction

_GO_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_SPACE = re.compile(r"\s+")
_CONTENT_SOURCE = re.compile(r"(?:file|dir|multi):[0-9a-f]{64} in ")
_NEXT_PAIR = re.compile(r" (?=[^\s=\"']+=)")


def collapse(text: str) -> str:
    return _SPACE.sub(" ", text.replace("\\\n", " ")).strip()


def json_list(text: str) -> list[str] | None:
    """`["a","b"]` or Go's `["a" "b"]` as a list; None when it is neither."""
    text = text.strip()
    try:
        value = load_json(text)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
    except ValueError:
        pass
    if text.startswith("[") and text.endswith("]"):
        items = _GO_STRING.findall(text)
        if items and _GO_STRING.sub("", text[1:-1]).strip() == "":
            try:
                return [load_json(f'"{item}"') for item in items]
            except ValueError:
                return None
    return None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].replace('\\"', '"') if value[0] == '"' else value[1:-1]
    return value


def pairs(text: str) -> list[tuple[str, str]]:
    """`A=1 B="two words"` → [(A, 1), (B, two words)]; legacy `ENV A 1` → [(A, 1)].

    Quoted text is split as a shell would (a Dockerfile); unquoted text at each ` NAME=` (the
    classic builder records values without their quotes: `GREETING=hello world`).
    """
    text = collapse(text)
    if not text:
        return []
    if "=" not in text.split(" ", 1)[0]:
        key_, _, value = text.partition(" ")
        return [(key_, _unquote(value))]
    if '"' in text or "'" in text:
        try:
            words = shlex.split(text)
        except ValueError:
            words = None
        if words and all("=" in word for word in words):
            return [tuple(word.split("=", 1)) for word in words]  # type: ignore[misc]
    return [tuple(part.split("=", 1)) for part in _NEXT_PAIR.split(text)]  # type: ignore[misc]


def key(instruction: Instruction, shell: list[str] | None = None) -> str:
    """The normalized form of one instruction (equal keys: the same instruction)."""
    keyword = instruction.keyword
    arguments = collapse(instruction.arguments)
    if keyword == "RUN":
        listed = json_list(arguments)
        if listed:  # exec form: the classic builder records it joined, shell prefix and all
            for candidate in (list(shell or []), ["/bin/sh", "-c"]):
                if candidate and listed[: len(candidate)] == candidate:
                    listed = listed[len(candidate) :]
                    break
        body = " ".join(listed) if listed else arguments
        return f"RUN {body}"
    if keyword in ("ENV", "LABEL"):
        return keyword + " " + " ".join(f"{k}={v}" for k, v in pairs(arguments))
    if keyword == "ARG":
        # Builders disagree on what an ARG step records (classic: `VERSION=1.2.3`; buildah:
        # every argument in scope, `TOKEN VERSION`, even for another ARG): only the step counts.
        return "ARG"
    if keyword in ("CMD", "ENTRYPOINT"):
        listed = json_list(arguments)
        if listed is None:  # shell form: the builder wraps it in the shell
            listed = [*(shell or ["/bin/sh", "-c"]), arguments]
        return f"{keyword} {json.dumps(listed)}"
    if keyword == "SHELL":
        listed = json_list(arguments)
        inner = arguments[1:-1] if arguments.startswith("[") else arguments
        return "SHELL " + (" ".join(listed) if listed else inner)
    if keyword == "EXPOSE":
        ports = re.findall(r"(\d+(?:-\d+)?(?:/\w+)?)", arguments)
        normalized = sorted(p if "/" in p else f"{p}/tcp" for p in ports)
        return "EXPOSE " + " ".join(normalized)
    if keyword == "VOLUME":
        listed = json_list(arguments)
        if listed is None:
            listed = (arguments[1:-1] if arguments.startswith("[") else arguments).split()
        return "VOLUME " + " ".join(sorted(listed))
    if keyword in ("COPY", "ADD"):
        # Only the destination is comparable: the classic builder keeps a content hash, BuildKit
        # the source as written, a Dockerfile the source and flags.
        words = [w for w in _CONTENT_SOURCE.sub("", arguments).split() if not w.startswith("--")]
        listed = json_list(arguments)
        destination = (listed or words or [""])[-1]
        return f"{keyword} {destination.rstrip('/') or '/'}"
    if keyword == "HEALTHCHECK":
        test = re.findall(r'"([^"]*)"', arguments)
        if arguments.startswith("&{"):
            shell_form = test[:1] == ["CMD-SHELL"]
            command = test[1] if len(test) > 1 else ""
            return "HEALTHCHECK " + (
                "NONE"
                if test[:1] == ["NONE"]
                else f"CMD {command}"
                if shell_form
                else "CMD " + " ".join(test[1:])
            )
        if arguments.strip().upper() == "NONE":
            return "HEALTHCHECK NONE"
        command = re.sub(r"^(--\S+\s+)*CMD\s+", "", arguments)
        listed = json_list(command)
        return "HEALTHCHECK CMD " + (" ".join(listed) if listed else command)
    if keyword == "MAINTAINER":
        return f"MAINTAINER {arguments}"
    if keyword == "":
        return f"# {arguments}"
    return f"{keyword} {arguments}".strip()
