"""Moby's classic-builder hash of a COPY/ADD source (`file:<sha>`, `dir:<sha>`), recomputed
from what the step's layer holds.

The classic builder hashes the build context as the CLI uploaded it (builder/remotecontext,
pkg/tarsum): per entry, sha256 over tarsum v1's header fields written as name+value with no
separator — `name` (the path in the context, a folder with a trailing `/`), `mode` (decimal,
with the Go file-type bits pkg/archive adds, 0o100000 for a file), `uid`, `gid` (0: the CLI
uploads the context as root), `size`, `typeflag`, `linkname`, `uname`, `gname`, `devmajor`,
`devminor` (mtime left out) — then the file's bytes. `file:` is that of one file; `dir:` is
sha256 over the sorted per-entry hashes of a folder (the folder itself included, the context
root left out) joined by `,` (builder/dockerfile/copy.go hashStringSlice).

A layer keeps the contents, modes, sizes and link targets, but not the names the files had on
the build host nor the owner names the CLI wrote: those are guessed (the destination's name,
`COPY . /dst`; owner names empty, as the CLI has written them since 20.10, or `root`). So a
match shows the layer holds exactly the recorded source; no match shows nothing more than that
the guesses were wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from ..blob.tarformat import Listed

TYPE_BITS = {"file": 0o100000, "dir": 0o040000, "symlink": 0o120000}
TYPEFLAG = {"file": "0", "dir": "5", "symlink": "2"}
OWNERS = ("", "root")  # what the CLI wrote as uname/gname: none (20.10 and later), or root
MAX_HASHED = 2 * 1024**3  # bytes of sources hashed per step; past it, nothing is said

MATCHES = "matches"
NOT_REPRODUCED = "not reproduced"


def entry_header(name: str, kind: str, mode: int, size: int, link: str | None, **how) -> bytes:
    """tarsum v1's header bytes of one context entry (`how`: type_bits, owner)."""
    full_mode = mode | TYPE_BITS[kind] if how["type_bits"] else mode
    fields = (
        ("name", name),
        ("mode", str(full_mode)),
        ("uid", "0"),
        ("gid", "0"),
        ("size", str(size if kind == "file" else 0)),
        ("typeflag", TYPEFLAG[kind]),
        ("linkname", link or ""),
        ("uname", how["owner"]),
        ("gname", how["owner"]),
        ("devmajor", "0"),
        ("devminor", "0"),
    )
    return "".join(key + value for key, value in fields).encode("utf-8", "surrogateescape")


WAYS = tuple({"type_bits": bits, "owner": owner} for bits in (True, False) for owner in OWNERS)


@dataclass
class _Candidate:
    """One guess at the source's name in the context: each entry's hashes, one per way."""

    prefix: str  # the source folder's path in the context ("" for `COPY . /dst`)
    hashes: list[list[str]] = field(default_factory=list)  # per entry, per way


@dataclass
class SourceHash:
    """Recomputes a step's recorded `file:`/`dir:` hash while its layer is listed: `sink`
    goes to the listing (it sees the data of files under the destination), `member` sees every
    member after it is listed; `result()` says whether any guess gives the recorded hash."""

    kind: str  # file, dir
    digest: str  # hex
    destination: str  # as in the layer: no leading or trailing `/`
    _pending: list[list] = field(default_factory=list)  # hashers of the file being listed
    _entries: list[list[str]] = field(default_factory=list)  # per entry: hash per (guess, way)
    _guesses: list[str] = field(default_factory=list)
    _hashed: int = 0
    _problem: str | None = None

    def __post_init__(self) -> None:
        folder = self.destination.rpartition("/")[2]
        # a folder's name in the context: the destination's (`COPY tree/ /opt/tree/`), else
        # the context itself (`COPY . /app`)
        self._guesses = [folder, ""] if self.kind == "dir" and folder else [""]

    def _names(self, relative: str, is_dir: bool) -> list[str]:
        """The entry's name in the context for each guess (`relative`: below the destination;
        "" for the destination itself)."""
        names = []
        for prefix in self._guesses:
            if not relative:
                names.append(f"{prefix}/" if prefix else "")  # the context root: not hashed
            else:
                path = f"{prefix}/{relative}" if prefix else relative
                names.append(path + ("/" if is_dir else ""))
        return names

    def _relative(self, path: str) -> str | None:
        if self.kind == "file":
            if path == self.destination or path.rpartition("/")[0] == self.destination:
                return path.rpartition("/")[2]
            return None
        if path == self.destination:
            return ""
        if not self.destination:
            return path
        if path.startswith(self.destination + "/"):
            return path[len(self.destination) + 1 :]
        return None

    def sink(self, member: Listed, path: str | None) -> Callable[[memoryview], None] | None:
        """The hashers of a regular file under the destination, fed its data."""
        if path is None or self._problem:
            return None
        relative = self._relative(path)
        if relative is None:
            return None
        self._hashed += member.size
        if self._hashed > MAX_HASHED:
            self._problem = "the sources are too large to hash here"
            return None
        hashers = [
            hashlib.sha256(entry_header(name, "file", member.mode, member.size, None, **way))
            for name in self._names(relative, False)
            for way in WAYS
        ]
        self._pending.append(hashers)

        def feed(data: memoryview) -> None:
            for hasher in hashers:
                hasher.update(data)

        return feed

    def member(self, member: Listed, path: str | None) -> None:
        """Each listed member in order, after its data has passed."""
        if path is None or self._problem:
            return
        relative = self._relative(path)
        if relative is None or (self.kind == "file" and member.kind != "file"):
            return  # a file's parent folders are the destination's, not the source's
        if member.kind not in TYPEFLAG:
            self._problem = f"the layer holds a {member.kind} there, which is not checked"
            return
        if member.kind == "file":
            hashers = self._pending.pop()
            self._entries.append([hasher.hexdigest() for hasher in hashers])
            return
        row = []
        for name in self._names(relative, member.kind == "dir"):
            for way in WAYS:
                if not name:
                    row.append("")  # the context root of `COPY . /dst`: not hashed
                    continue
                header = entry_header(name, member.kind, member.mode, 0, member.link, **way)
                row.append(hashlib.sha256(header).hexdigest())
        self._entries.append(row)

    def result(self) -> str:
        if self._problem:
            return f"not checkable: {self._problem}"
        files = [row for row in self._entries if row]
        if self.kind == "file":
            if len(files) != 1:
                return "not checkable: the layer does not add exactly one file there"
            return MATCHES if self.digest in files[0] else NOT_REPRODUCED
        for column in range(len(self._guesses) * len(WAYS)):
            sums = sorted(row[column] for row in self._entries if row[column])
            joined = hashlib.sha256(",".join(sums).encode()).hexdigest()
            if sums and joined == self.digest:
                return MATCHES
        return NOT_REPRODUCED
