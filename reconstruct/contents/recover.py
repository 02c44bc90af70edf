"""COPY and ADD sources recovered from their layers.

The classic builder records `COPY file:<sha> in /dst` (or `dir:`, `multi:`): a hash of the
content, never the build host's file names. The step's layer holds what it really added under
`/dst`; `recover` sets `Step.recovered` to those paths (relative to the destination), which the
dockerfile renderer turns into `COPY <name> /dst` lines said to be recovered. Only the layers of
such steps are read, each once, entries only.
"""

from __future__ import annotations

from ..blob.tarformat import clean_name
from ..errors import SourceError
from ..history import hashed_source, image_instructions
from ..model import Target
from ..sources.view import BlobView
from .changes import OPAQUE, WHITEOUT
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
            try:
                step.recovered, step.recovered_count = _under(reader.open(None), destination)
            except (SourceError, OSError):
                continue


def _under(listed, destination: str) -> tuple[list[str], int]:
    found: list[str] = []
    count = 0
    for member in listed:
        path = clean_name(member.name)
        if path is None:
            continue
        base = path.rpartition("/")[2]
        if base == OPAQUE or base.startswith(WHITEOUT):
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
