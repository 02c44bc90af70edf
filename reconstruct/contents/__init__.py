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
from .inorder import listed_in_order
from .where import Keep, LayerReader, Listings, layer_reader

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


# Entries listed for one image, every layer together. One layer holds at most 200,000
# members (blob/tarformat.py); a manifest may list one blob many times: what is listed is
# bounded by this, not by what it claims. The largest real images hold a few hundred thousand.
MAX_IMAGE_ENTRIES = 1_000_000


def image_files(
    image: Image,
    view: BlobView,
    label: str,
    platform: str | None,
    keep: Keep | None = None,
    workers: int | None = None,
    listings: Listings | None = None,
) -> ImageFiles:
    """Every step of `image`, each with the entries its layer holds (layers listed in
    `workers` processes, applied in order); the contents of the regular files
    `keep(name, size)` wants are kept in their entries. `listings`: what the one pass of an
    archive that can be read only once listed (contents/streamed.py)."""
    result = ImageFiles(label, platform, image.config_digest)
    positions = {id(layer): number for number, layer in enumerate(image.layers, 1)}
    readable: list[tuple[StepFiles, LayerReader]] = []
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
        reader = layer_reader(view, image.config_digest, positions[id(layer)], layer, listings)
        if isinstance(reader, str):
            files.unreadable = reader
        else:
            readable.append((files, reader))
    below = Below()
    in_order = listed_in_order([reader for _, reader in readable], keep, workers)
    total = 0
    for (files, _), listed in zip(readable, in_order, strict=True):
        # once a layer cannot be read, what is below the later ones is not known
        files.after_unreadable = any(
            step.unreadable for step in result.steps[: files.step - 1] if step.layer
        )
        try:
            found = changes(listed, below)
        except (SourceError, OSError) as error:
            files.unreadable = str(error)
            continue
        total += len(found.entries)
        if total > MAX_IMAGE_ENTRIES:  # one blob a manifest lists many times, say
            raise SourceError(
                f"{label}: its layers hold more than {MAX_IMAGE_ENTRIES:,} entries in all: "
                "too many to list"
            )
        files.entries = found.entries
        files.unsafe_names = found.unsafe_names
        files.hidden_bytes = found.hidden_bytes
    return result


def target_files(
    target: Target,
    view: BlobView,
    label: str,
    listings: Listings | None = None,
    workers: int | None = None,
) -> list[ImageFiles]:
    """Every image of a target (attestations, which hold no file system, left out)."""
    several = not isinstance(target.root, Image)  # as audit names an index's images
    found = []
    for section in target.sections():
        if section.image is None or (section.platform.is_unknown and several):
            continue
        platform = platform_label(section.platform) if several else None
        found.append(
            image_files(section.image, view, label, platform, listings=listings, workers=workers)
        )
    return found


__all__ = ["CHANGES", "SCHEMA", "Entry", "ImageFiles", "StepFiles", "image_files", "target_files"]
