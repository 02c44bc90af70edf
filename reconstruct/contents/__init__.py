"""What each step wrote: its layer's entries as changes to the layers below (changes.py), read
from wherever the source keeps the layer's tar (where.py), streamed once, never extracted.

Pure logic over the model and the source's blob view; the `files` command's text and JSON are
in render/filesreport.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import SourceError
from ..history import repo_info_text
from ..model import Image, Target
from ..sources.view import BlobView
from ..text import platform_label
from .changes import Below, Entry, changes
from .where import Keep, layer_reader

SCHEMA = "reconstruct/files/v1"
CHANGES = ("added", "changed", "removed", "opaque")


@dataclass
class StepFiles:
    step: int  # from 1, as audit numbers steps
    instruction: str  # the step's repo-info line
    layer: str | None  # its layer's digest (None: the step made no layer)
    entries: list[Entry] = field(default_factory=list)
    unreadable: str | None = None  # why the layer's entries are not listed
    unsafe_names: int = 0
    hidden_bytes: int = 0  # bytes of lower layers this step overwrote or removed
    # a lower layer could not be read: `added`/`changed` are relative to the layers that were
    after_unreadable: bool = False

    @property
    def totals(self) -> dict[str, int]:
        counts = {change: 0 for change in CHANGES}
        for entry in self.entries:
            counts[entry.change] += 1
        return counts | {
            "bytes": sum(entry.size for entry in self.entries),
            "hidden_bytes": self.hidden_bytes,
        }


@dataclass
class ImageFiles:
    label: str
    platform: str | None
    config_digest: str | None = None
    steps: list[StepFiles] = field(default_factory=list)

    @property
    def hidden_bytes(self) -> int:
        """What dive calls wasted space: lower layers' bytes no longer visible at the top."""
        return sum(step.hidden_bytes for step in self.steps)


def image_files(
    image: Image, view: BlobView, label: str, platform: str | None, keep: Keep | None = None
) -> ImageFiles:
    """Every step of `image`, each with the entries its layer holds (layers in order); the
    contents of the regular files `keep(name, size)` wants are kept in their entries."""
    result = ImageFiles(label, platform, image.config_digest)
    below = Below()
    positions = {id(layer): number for number, layer in enumerate(image.layers, 1)}
    broken = False  # once a layer cannot be read, what is below the later ones is not known
    for number, step in enumerate(image.steps, 1):
        layer = step.layer
        files = StepFiles(
            number,
            repo_info_text(step.created_by, image.shell),
            (layer.digest or layer.diff_id) if layer is not None else None,
        )
        result.steps.append(files)
        if layer is None:
            continue
        reader = layer_reader(view, image.config_digest, positions[id(layer)], layer)
        if isinstance(reader, str):
            files.unreadable = reader
            broken = True
            continue
        files.after_unreadable = broken
        try:
            found = changes(reader.open(keep), below)
        except (SourceError, OSError) as error:
            files.unreadable = str(error)
            broken = True
            continue
        files.entries = found.entries
        files.unsafe_names = found.unsafe_names
        files.hidden_bytes = found.hidden_bytes
    return result


def target_files(target: Target, view: BlobView, label: str) -> list[ImageFiles]:
    """Every image of a target (attestations, which hold no file system, left out)."""
    several = not isinstance(target.root, Image)  # as audit names an index's images
    found = []
    for section in target.sections():
        if section.image is None or (section.platform.is_unknown and several):
            continue
        platform = platform_label(section.platform) if several else None
        found.append(image_files(section.image, view, label, platform))
    return found


__all__ = ["CHANGES", "SCHEMA", "Entry", "ImageFiles", "StepFiles", "image_files", "target_files"]
