"""Paths below an input folder, resolved so that no component ever leaves it.

An input folder (a layout, a registry's storage, a Docker data root, a folder of blobs) may be
written by an attacker: a symlink in it may point at `/etc/shadow`, a `link` file may be a FIFO
or `/dev/zero`. Every file below an input folder is reached through an `InputPath`, which

- resolves the path beneath the folder: on Linux ≥ 5.6 with `openat2(RESOLVE_BENEATH)`, which
  the kernel enforces; elsewhere (or where a seccomp filter refuses openat2) by walking it one
  component at a time with `O_NOFOLLOW` from the folder's own descriptor. Either way a symlink
  is followed only while it stays inside (absolute symlinks and `..` above the folder are
  refused), as a store that links within itself needs;
- opens files with `O_NONBLOCK` (a FIFO cannot hang the open) and reads regular files only;
- bounds every listing and walk (entries, depth), so a crafted tree costs what it weighs.

The folder itself may be a symlink: the user named it. Errors say which path and why, never
what a file holds.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ..errors import SourceError

MAX_SYMLINKS = 40  # as the kernel's own limit on one path
MAX_ENTRIES = 200_000  # names in one folder listing
MAX_DEPTH = 64  # folders below the input in a walk (a registry name has a few)

_O_PATH = getattr(os, "O_PATH", 0)
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_BENEATH = 0x08
_SYS_OPENAT2 = 437  # the same number on every Linux architecture (a post-5.0 syscall)

# openat2 is tried once; a kernel without it (ENOSYS) or a filter refusing it (EPERM) means
# the O_NOFOLLOW walk for the rest of the process.
use_openat2 = hasattr(os, "O_PATH") and os.uname().sysname == "Linux"


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_syscall = None


def _openat2(dir_fd: int, relative: str, flags: int) -> int | None:
    """openat2 beneath `dir_fd`; None when this kernel cannot (then the walk is used)."""
    global _syscall, use_openat2
    if _syscall is None:
        libc = ctypes.CDLL(None, use_errno=True)
        _syscall = libc.syscall
        _syscall.restype = ctypes.c_long
    how = _OpenHow(flags, 0, _RESOLVE_BENEATH | _RESOLVE_NO_MAGICLINKS)
    fd = _syscall(
        ctypes.c_long(_SYS_OPENAT2),
        ctypes.c_int(dir_fd),
        ctypes.c_char_p(os.fsencode(relative)),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    if fd >= 0:
        return fd
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EPERM):
        use_openat2 = False
        return None
    raise OSError(code, os.strerror(code), relative)


def _walk_open(dir_fd: int, relative: str, flags: int) -> int:
    """What openat2(RESOLVE_BENEATH) does, one component at a time with O_NOFOLLOW."""
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    stack = [os.open(".", _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)]
    links = 0
    try:
        while parts:
            part = parts.pop(0)
            if part == "..":
                if len(stack) == 1:
                    raise OSError(errno.EXDEV, "leads outside the input", relative)
                os.close(stack.pop())
                continue
            info = os.stat(part, dir_fd=stack[-1], follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode) and (parts or not flags & os.O_NOFOLLOW):
                links += 1
                if links > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), relative)
                target = os.readlink(part, dir_fd=stack[-1])
                if target.startswith("/"):
                    raise OSError(errno.EXDEV, "leads outside the input", relative)
                parts[:0] = [p for p in target.split("/") if p not in ("", ".")]
                continue
            if parts:
                if not stat.S_ISDIR(info.st_mode):
                    raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), relative)
                flag = _O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
                stack.append(os.open(part, flag, dir_fd=stack[-1]))
                continue
            return os.open(part, flags | os.O_NOFOLLOW, dir_fd=stack[-1])
        return os.open(".", flags, dir_fd=stack[-1])  # the folder itself (or `a/..`)
    finally:
        for fd in stack:
            os.close(fd)


def open_beneath(dir_fd: int, relative: str, flags: int) -> int:
    """A descriptor for `relative` below the folder `dir_fd`; OSError (EXDEV when it leads
    outside, ELOOP for a symlink where none is followed) as the kernel gives it."""
    if use_openat2:
        fd = _openat2(dir_fd, relative or ".", flags)
        if fd is not None:
            return fd
    return _walk_open(dir_fd, relative, flags)


def _reason(error: OSError) -> str:
    if error.errno == errno.EXDEV:
        return "it leads outside the input"
    if error.errno == errno.ELOOP:
        return "it is a symlink loop or leads outside the input"
    return error.strerror or str(error)


class InputFolder:
    """The folder a user named as input; its descriptor is opened on first use."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._fd: int | None = None
        self._pid = 0

    def fd(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked worker opens its own
            self._fd = os.open(self.path, _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            self._pid = os.getpid()
        return self._fd

    def __del__(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(self._fd)

    def __truediv__(self, relative: str) -> InputPath:
        return InputPath(self, PurePosixPath(relative))

    @property
    def top(self) -> InputPath:
        return InputPath(self, PurePosixPath("."))


class InputPath:
    """A path below an `InputFolder`, with the few pathlib methods the readers use, all
    contained. `str()` is the path as the user would write it, for messages."""

    __slots__ = ("folder", "relative")

    def __init__(self, folder: InputFolder, relative: PurePosixPath):
        self.folder = folder
        self.relative = relative

    @classmethod
    def of(cls, path: Path | str) -> InputPath:
        return InputFolder(path).top

    def __truediv__(self, part: str) -> InputPath:
        return InputPath(self.folder, self.relative / part)

    def __str__(self) -> str:
        return str(self.folder.path / self.relative) if self.key else str(self.folder.path)

    def __repr__(self) -> str:
        return f"InputPath({str(self)!r})"

    def __fspath__(self) -> str:
        raise TypeError("an InputPath is opened through its own methods, never by path")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InputPath) and (self.folder.path, self.key) == (
            other.folder.path,
            other.key,
        )

    def __hash__(self) -> int:
        return hash((self.folder.path, self.key))

    @property
    def key(self) -> str:
        """The path relative to the input folder, `` for the folder itself."""
        text = self.relative.as_posix()
        return "" if text == "." else text

    @property
    def name(self) -> str:
        return self.relative.name or self.folder.path.name

    @property
    def parent(self) -> InputPath:
        return InputPath(self.folder, self.relative.parent)

    def relative_to(self, other: InputPath) -> PurePosixPath:
        return self.relative.relative_to(other.relative)

    # --- what is there -----------------------------------------------------------------

    def _open(self, flags: int) -> int:
        try:
            top = self.folder.fd()
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(self.folder.path)) from None
        return open_beneath(top, self.key, flags)

    def lstat(self) -> os.stat_result:
        """The entry itself (a symlink is not followed); OSError when absent."""
        fd = self._open(_O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)

    def stat(self) -> os.stat_result:
        """What it leads to (symlinks inside followed); OSError when absent or outside."""
        fd = self._open(_O_PATH | os.O_CLOEXEC)
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)

    def kind(self) -> str | None:
        """`file`, `dir`, `other` (FIFO, socket, device), `outside` (or a symlink loop), or
        None when there is nothing by that name."""
        try:
            mode = self.stat().st_mode
        except OSError as error:
            if error.errno in (errno.EXDEV, errno.ELOOP):
                return "outside"
            return None
        if stat.S_ISREG(mode):
            return "file"
        if stat.S_ISDIR(mode):
            return "dir"
        return "other"

    def is_file(self) -> bool:
        return self.kind() == "file"

    def is_dir(self) -> bool:
        return self.kind() == "dir"

    def exists(self) -> bool:
        return self.kind() is not None

    def problem(self) -> str | None:
        """Why this entry, which is there, cannot be read as a file; None when it can (or when
        there is nothing by that name)."""
        kind = self.kind()
        if kind == "outside":
            return "it leads outside the input"
        if kind == "other":
            return f"it is a {_type_name(self.stat().st_mode)}, not a regular file"
        if kind == "dir":
            return "it is a directory, not a regular file"
        return None

    # --- reading ---------------------------------------------------------------------------

    def open_file(self) -> int:
        """A blocking descriptor of this regular file; OSError (ENXIO-like for a FIFO, socket
        or device, EXDEV for a path leading outside) otherwise."""
        return _regular(self._open(_OPEN_FLAGS))

    def read_bytes(self, what: str, limit: int) -> bytes:
        """The whole file, at most `limit` bytes; a one-line SourceError otherwise."""
        try:
            fd = self.open_file()
        except OSError as error:
            reason = _reason(error)
            if error.errno in (errno.ENXIO, errno.ENODEV):  # a socket, or a device with no driver
                reason = self.problem() or reason
            raise SourceError(f"cannot read {what} {self}: {reason}") from None
        return read_descriptor(fd, what, str(self), limit)

    # --- listing ---------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The names in this folder, sorted; [] when it is absent or not a folder; a one-line
        SourceError when it leads outside, cannot be read or holds too many."""
        try:
            fd = self._open(os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as error:
            if error.errno in (errno.ENOENT, errno.ENOTDIR):
                return []
            raise SourceError(f"cannot read {self}: {_reason(error)}") from None
        names = []
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    names.append(entry.name)
                    if len(names) > MAX_ENTRIES:
                        raise SourceError(f"{self} holds over {MAX_ENTRIES} entries")
        except OSError as error:
            raise SourceError(f"cannot read {self}: {_reason(error)}") from None
        finally:
            os.close(fd)
        return sorted(names)

    def iterdir(self) -> list[InputPath]:
        return [self / name for name in self.names()]

    def subfolders(self) -> list[InputPath]:
        """The folders in this folder (symlinks to folders inside count), sorted by name."""
        return [child for child in self.iterdir() if child.is_dir()]

    def walk(self, max_depth: int = MAX_DEPTH) -> Iterator[tuple[InputPath, list[str], list[str]]]:
        """As os.walk, top-down and iterative: (folder, subfolder names, file names); the
        caller may prune the subfolder list. Symlinked folders are not descended into (a
        loop of them would never end); deeper than `max_depth` is a one-line SourceError."""
        pending = [(self, 0)]
        while pending:
            folder, depth = pending.pop()
            if depth > max_depth:
                raise SourceError(f"{folder} is nested over {max_depth} folders deep")
            subfolders, files = [], []
            for name in folder.names():
                child = folder / name
                try:
                    mode = child.lstat().st_mode
                except OSError:
                    continue
                if stat.S_ISDIR(mode):
                    subfolders.append(name)
                else:
                    files.append(name)
            yield folder, subfolders, files
            pending.extend((folder / name, depth + 1) for name in reversed(subfolders))


def open_named(path: Path | str) -> int:
    """A blocking descriptor of a regular file the user named (its own symlinks followed:
    the user chose it); OSError otherwise, never a hang on a FIFO."""
    return _regular(os.open(path, _OPEN_FLAGS))


def _regular(fd: int) -> int:
    """`fd` made blocking when it is a regular file; closed and OSError otherwise."""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, f"it is a {_type_name(info.st_mode)}, not a regular file")
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def read_descriptor(fd: int, what: str, label: str, limit: int) -> bytes:
    """All of `fd` (closed after), at most `limit` bytes, whatever its size claims."""
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise SourceError(f"{what} {label} is {size} bytes: too large to be metadata")
        chunks = []
        remaining = limit + 1  # a file growing while read is still cut at the limit
        while remaining > 0:
            data = os.read(fd, min(remaining, 1 << 20))
            if not data:
                break
            chunks.append(data)
            remaining -= len(data)
        if remaining <= 0:
            raise SourceError(f"{what} {label} is over {limit} bytes: too large to be metadata")
        return b"".join(chunks)
    except OSError as error:
        raise SourceError(f"cannot read {what} {label}: {_reason(error)}") from None
    finally:
        os.close(fd)


def _type_name(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "special file"
