"""A layer's entries as changes to the file system below it (OCI image-spec "changesets").

A layer is a tar of what one step added or changed, plus whiteouts: `DIR/.wh.NAME` removes NAME
(and all below it) from the layers beneath, `DIR/.wh..wh..opq` makes DIR opaque (nothing of it
below shows through; what the layer itself puts in DIR stays). An entry is `added` when nothing
of that path is below, else `changed`. Paths are kept without a leading `./` or `/`; names that
are absolute or climb with `..` cannot be part of a layer and are counted, never listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..blob.tarformat import Listed, clean_name

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


@dataclass(frozen=True, slots=True)
class Entry:
    path: str
    type: str  # file, dir, symlink, hardlink, fifo, chardev, blockdev, sparse, other; for a
    # removed path the type it had below (None when unknown)
    mode: int | None
    uid: int | None
    gid: int | None
    size: int  # bytes this layer stores for it (0 for a removal)
    link: str | None
    change: str  # added, changed, removed, opaque
    data: bytes | None = None  # its contents, where the listing kept them (audit --files)


@dataclass
class Below:
    """What the layers so far leave in the file system: each path's type and size (the size
    of the layer that last wrote it), by folder, so that a whiteout removes a whole subtree
    in time proportional to it."""

    entries: dict[str, tuple[str, int]] = field(default_factory=dict)
    children: dict[str, set[str]] = field(default_factory=dict)

    def add(self, path: str, kind: str, size: int) -> None:
        self.entries[path] = (kind, size)
        parent, _, _ = path.rpartition("/")
        self.children.setdefault(parent, set()).add(path)

    def remove_tree(self, path: str) -> int:
        """Remove `path` and everything below; the bytes they held."""
        freed = 0
        pending = [path]
        while pending:
            current = pending.pop()
            found = self.entries.pop(current, None)
            if found is not None:
                freed += found[1]
                parent, _, _ = current.rpartition("/")
                self.children.get(parent, set()).discard(current)
            pending.extend(self.children.pop(current, ()))
        return freed

    def empty_folder(self, path: str) -> int:
        """What an opaque marker hides: everything below `path`, not `path` itself."""
        # the folder's set is dropped, not emptied: an emptied set keeps its table, and a
        # layer repeating the marker would walk it again each time
        children = self.children.pop(path, None)
        return sum(self.remove_tree(child) for child in children) if children else 0


@dataclass
class LayerChanges:
    entries: list[Entry]
    unsafe_names: int  # absolute or `..` names, left out
    hidden_bytes: int  # bytes of lower layers this layer overwrote or removed (dive's "wasted")


def changes(listed: Iterable[Listed], below: Below) -> LayerChanges:
    """The layer's entries as changes to `below`, which is updated to the file system above."""
    entries: list[Entry] = []
    unsafe = 0
    hidden = 0
    written: list[tuple[str, str, int]] = []
    for member in listed:
        path = clean_name(member.name)
        if path is None:
            if any(part not in ("", ".") for part in member.name.split("/")):
                unsafe += 1  # absolute or climbing; `./` itself is the layer's root folder
            continue
        folder, _, base = path.rpartition("/")
        if base == OPAQUE:
            entries.append(Entry(folder, "dir", None, None, None, 0, None, "opaque"))
            hidden += below.empty_folder(folder)
            continue
        if base.startswith(WHITEOUT):
            removed = f"{folder}/{base[len(WHITEOUT) :]}" if folder else base[len(WHITEOUT) :]
            kind = below.entries.get(removed, (None, 0))[0]
            entries.append(Entry(removed, kind or "other", None, None, None, 0, None, "removed"))
            hidden += below.remove_tree(removed)
            continue
        change = "changed" if path in below.entries else "added"
        entries.append(
            Entry(
                path,
                member.kind,
                member.mode,
                member.uid,
                member.gid,
                member.size,
                member.link,
                change,
                member.data,
            )
        )
        written.append((path, member.kind, member.size))
    # what this layer writes replaces what is below only once the layer is applied whole (a
    # whiteout and a new entry of one name may come in either order)
    for path, kind, size in written:
        previous = below.entries.get(path)
        if previous is not None:
            hidden += previous[1]
            if kind != "dir":
                below.remove_tree(path)
        below.add(path, kind, size)
    return LayerChanges(entries, unsafe, hidden)
