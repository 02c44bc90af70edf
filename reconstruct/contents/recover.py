"""COPY and ADD sources recovered from their layers.

The classic builder records `COPY file:<sha> in /dst` (or `dir:`, `multi:`): a hash of the
content, never the build host's file names. The step's layer holds what it really added under
`/dst`; `recover` sets `Step.recovered` to those paths (relative to the destination), which the
dockerfile renderer turns into `COPY <name> /dst` lines said to be recovered. Where the hash is
one moby's classic builder computes over the context (`file:`, `dir:`), it is recomputed from
the layer on the same pass (contents/mobyhash.py) and `Step.recovered_check` says whether it
matches. Only the layers of such steps are read, each once.
"""

from __future__ import annotations

from ..blob.tarformat import clean_name
from ..errors import SourceError
from ..history import hashed_source, image_instructions
from ..model import Target
from ..sources.view import BlobView
from .changes import OPAQUE, WHITEOUT
from .mobyhash import MATCHES, SourceHash
from .where import layer_reader

MAX_RECOVERED = 1000  # paths kept per step; a base root file system's are only counted


def recover(target: Target, view: BlobView) -> None:
    for section in target.sections():
        image = section.image
        if image is None:
            continue
        positions = {id(layer): number for number, layer in enumerate(image.layers, 1)}
        for step, instruction in zip(image.steps, image_instructions(image), strict=True):
            hashed = hashed_source(instruction.arguments or "")
            if instruction.keyword not in ("COPY", "ADD") or not hashed or step.layer is None:
                continue
            reader = layer_reader(view, image.config_digest, positions[id(step.layer)], step.layer)
            if isinstance(reader, str):
                continue
            destination = clean_name(hashed[2].strip("/")) or ""
            kind, digest = hashed[0], hashed[1]
            check = SourceHash(kind, digest, destination) if kind in ("file", "dir") else None
            try:
                step.recovered, step.recovered_count = _under(reader, destination, check)
            except (SourceError, OSError):
                continue
            if check is not None:
                step.recovered_check = _checked(check, instruction.keyword)


def _checked(check: SourceHash, keyword: str) -> str:
    result = check.result()
    if keyword == "ADD" and check.kind == "file" and result != MATCHES:
        # ADD of a local archive hashes the archive, which the layer holds unpacked
        return "not checkable: ADD may have unpacked an archive, and the hash is of the archive"
    return result


def _path(member) -> str | None:
    """The member's path in the layer; None for a whiteout or a name no layer can mean."""
    path = clean_name(member.name)
    if path is None:
        return None
    base = path.rpartition("/")[2]
    return None if base == OPAQUE or base.startswith(WHITEOUT) else path


def _under(reader, destination: str, check: SourceHash | None) -> tuple[list[str], int]:
    found: list[str] = []
    count = 0
    sink = None if check is None else (lambda member: check.sink(member, _path(member)))
    for member in reader.open(None, sink):
        path = _path(member)
        if check is not None:
            check.member(member, path)
        if path is None:
            continue
        if not destination:
            relative = path
        elif path == destination:
            relative = path.rpartition("/")[2] if member.kind != "dir" else ""
        elif path.startswith(destination + "/"):
            relative = path[len(destination) + 1 :]
        else:
            continue  # a parent folder the layer lists again
        if relative:
            count += 1
            if len(found) < MAX_RECOVERED:
                found.append(relative + ("/" if member.kind == "dir" else ""))
    return found, count
