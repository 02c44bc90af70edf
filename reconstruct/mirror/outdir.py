"""OUTDIR as mirror touches it: through directory file descriptors, never through a path below it.

OUTDIR itself is opened as the user gave it (it may be a symbolic link they chose); everything
below it is reached one name at a time from the folder above, with O_NOFOLLOW: a symbolic link
(or a FIFO, a device, a folder) found where mirror expects a folder or a document is refused with
a one-line error and never followed, created through, read, or removed. Only regular files mirror
itself could have written are ever removed: stale `<tag>.md` documents and its own temp files.

- Temp files are `.reconstruct-<32 random hex digits>.tmp`, created O_EXCL|O_NOFOLLOW beside the
  file they replace, and renamed over it relative to the same folder's descriptor. Every temp
  file this process has open is known (`_live`): removed on any exit, also from the SIGTERM and
  SIGINT handlers; what a killed run (SIGKILL) left is removed by the next run before it writes.
- `OUTDIR/.reconstruct-mirror.lock` (flock, exclusive, not waiting) holds the writer's pid; a
  second mirror into the same OUTDIR stops at once with one line. The file is removed when the
  run ends, so the finished tree holds only `repos/`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import signal
import stat
import threading
import time
from pathlib import Path
from types import FrameType, TracebackType
from typing import BinaryIO

from ..sources import SourceError
from ..text import decimal_number

LOCK_NAME = ".reconstruct-mirror.lock"
TEMP = re.compile(r"\.reconstruct-[0-9a-f]{32}\.tmp")
# What versions before this one named their temp files: `.<file name>.<pid>.tmp`.
LEGACY_TEMP = re.compile(r"\.[A-Za-z0-9_][A-Za-z0-9_.-]*\.md\.[0-9]+\.tmp")
# repos/ is at most this deep: a name has at most 128 components (255 characters), + remote.
MAX_DEPTH = 130

DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted at a document's path must not hang the run (it is then refused).
READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
NEW_TEMP = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
LOCK = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Refused(OSError):
    """Something below OUTDIR that mirror will not follow or write through (one line)."""


def _refusal(dir_fd: int, name: str, shown: str, wanted: str) -> Refused:
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except OSError:
        mode = 0
    if stat.S_ISLNK(mode):
        return Refused(f"{shown} is a symbolic link; mirror follows no link below OUTDIR")
    return Refused(f"{shown} is not {wanted}; mirror leaves it alone")


def open_dir(parent: int, name: str, shown: str, *, create: bool) -> int | None:
    """The folder `name` of `parent` (created when missing and `create`), never a link; None
    when it is missing and not to be created."""
    try:
        return os.open(name, DIRECTORY, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            return None
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _refusal(parent, name, shown, "a folder") from None
        raise
    with contextlib.suppress(FileExistsError):  # made meanwhile, or a dangling link: see below
        os.mkdir(name, 0o777, dir_fd=parent)
    try:
        return os.open(name, DIRECTORY, dir_fd=parent)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _refusal(parent, name, shown, "a folder") from None
        raise


def open_regular(parent: int, name: str, shown: str) -> BinaryIO | None:
    """The regular file `name` of `parent` for reading, never through a link; None if absent."""
    try:
        fd = os.open(name, READ, dir_fd=parent)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _refusal(parent, name, shown, "a regular file") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _refusal(parent, name, shown, "a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# --- temp files -------------------------------------------------------------------------------

# Temp files of this process that exist (or are about to): (folder's descriptor, name).
_live: set[tuple[int, str]] = set()


def new_temp(parent: int) -> tuple[str, BinaryIO]:
    """A new, empty temp file in `parent`, under a name nobody could have guessed."""
    name = f".reconstruct-{secrets.token_hex(16)}.tmp"
    _live.add((parent, name))  # before it exists: a signal in between finds nothing to remove
    try:
        fd = os.open(name, NEW_TEMP, 0o666, dir_fd=parent)
    except BaseException:
        _live.discard((parent, name))
        raise
    return name, os.fdopen(fd, "wb")


def rename_temp(parent: int, temp: str, name: str) -> None:
    os.rename(temp, name, src_dir_fd=parent, dst_dir_fd=parent)
    _live.discard((parent, temp))


def remove_temp(parent: int, temp: str) -> None:
    try:
        os.unlink(temp, dir_fd=parent)
    except FileNotFoundError:
        pass
    finally:
        _live.discard((parent, temp))


def replace_file(path: str, data: bytes) -> None:
    """`data` becomes the file `path`, whole or not at all, as mirror writes its documents:
    a new temp file beside it (O_EXCL|O_NOFOLLOW, a name nobody could guess), renamed over it
    relative to the folder's descriptor, so a symlink at `path` is replaced, never followed;
    the temp file removed on any failure or signal. The mode is what a new file gets."""
    folder, name = os.path.split(path)
    parent = os.open(folder or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        temp, handle = new_temp(parent)
        try:
            with handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            rename_temp(parent, temp, name)
        except BaseException:
            remove_temp(parent, temp)
            raise
    finally:
        os.close(parent)


def remove_live_temps() -> None:
    """Every temp file this process still has: an exit, or a signal, before it was renamed."""
    for parent, temp in list(_live):
        try:
            remove_temp(parent, temp)
        except OSError:
            _live.discard((parent, temp))


def sweep_temps(outdir: int, shown: str) -> int:
    """Remove the temp files a killed run left anywhere in repos/ (regular files only); how
    many there were. Only with the lock held: no other mirror is writing them."""
    repos = open_dir(outdir, "repos", f"{shown}/repos", create=False)
    return 0 if repos is None else _sweep(repos, 0)


def _sweep(folder: int, depth: int) -> int:
    removed = 0
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if depth >= MAX_DEPTH:
                    continue
                try:
                    child = os.open(entry.name, DIRECTORY, dir_fd=folder)
                except OSError:  # replaced meanwhile, or unreadable: not mirror's
                    continue
                removed += _sweep(child, depth + 1)
            elif (TEMP.fullmatch(entry.name) or LEGACY_TEMP.fullmatch(entry.name)) and (
                entry.is_file(follow_symlinks=False)
            ):
                try:
                    os.unlink(entry.name, dir_fd=folder)  # a link put there since: the link
                    removed += 1
                except FileNotFoundError:
                    pass
    finally:
        os.close(folder)
    return removed


# --- the lock, and the run's hold on OUTDIR ---------------------------------------------------


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every `finally` runs before the process ends."""


class Outdir:
    """`with Outdir(path) as out:` OUTDIR open as `out.fd`, locked, leftovers of killed runs
    removed (`out.swept` of them), signals handled; on leaving, this process's temp files are
    removed and the lock released. A SIGTERM ends the process with SIGTERM, after that."""

    def __init__(self, path: Path):
        self.path = path
        self.shown = str(path)
        self.fd = -1
        self.swept = 0
        self._lock = -1
        self._previous: dict[int, object] = {}
        self._leaving = False
        self._deferred: int | None = None

    def __enter__(self) -> Outdir:
        self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            self._handle_signals()
            self._lock = self._take_lock()
            self.swept = sweep_temps(self.fd, self.shown)
        except BaseException:
            self._leave()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._leave()
        if isinstance(error, _Terminated) or self._deferred == signal.SIGTERM:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
        if self._deferred == signal.SIGINT and error is None:
            raise KeyboardInterrupt

    def _leave(self) -> None:
        self._leaving = True  # a signal now is acted on once this is done
        try:
            remove_live_temps()
            if self._lock >= 0:
                self._release_lock()
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1
        finally:
            for number, handler in self._previous.items():
                signal.signal(number, handler)  # type: ignore[arg-type]
            self._previous.clear()

    # signals

    def _handle_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may; a library caller's thread keeps its handlers
        for number in (signal.SIGINT, signal.SIGTERM):
            previous = signal.signal(number, self._on_signal)
            self._previous[number] = previous if previous is not None else signal.SIG_DFL

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        remove_live_temps()
        if self._leaving:
            self._deferred = number
            return
        if number == signal.SIGTERM:
            raise _Terminated
        raise KeyboardInterrupt

    # the lock

    def _take_lock(self) -> int:
        shown = f"{self.shown}/{LOCK_NAME}"
        for _ in range(100):
            try:
                fd = os.open(LOCK_NAME, LOCK, 0o644, dir_fd=self.fd)
            except OSError as error:
                if error.errno == errno.ELOOP:
                    raise _refusal(self.fd, LOCK_NAME, shown, "a regular file") from None
                raise
            try:
                opened = os.fstat(fd)
                if not stat.S_ISREG(opened.st_mode):
                    raise _refusal(self.fd, LOCK_NAME, shown, "a regular file")
                if opened.st_nlink > 1 or not _holds_a_pid(fd, opened):
                    # a hard link (to a file outside OUTDIR) or a file that is no lock (an
                    # input saved there): truncated, it would be lost
                    raise Refused(f"{shown} is not a mirror's lock; mirror leaves it alone")
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise SourceError(
                        f"{self.shown} is being written by another mirror (pid {_holder(fd)})"
                    ) from None
                try:
                    now = os.stat(LOCK_NAME, dir_fd=self.fd, follow_symlinks=False)
                except FileNotFoundError:
                    now = None
                if now is not None and os.path.samestat(opened, now):
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                    return fd
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # the holder removed that file as it finished: lock the one there now
        raise SourceError(f"{self.shown}: cannot take {LOCK_NAME}")

    def _release_lock(self) -> None:
        try:
            held = os.fstat(self._lock)
            there = os.stat(LOCK_NAME, dir_fd=self.fd, follow_symlinks=False)
            if os.path.samestat(held, there):
                os.unlink(LOCK_NAME, dir_fd=self.fd)  # while still holding it: see _take_lock
        except OSError:
            pass
        finally:
            os.close(self._lock)
            self._lock = -1


def _holds_a_pid(fd: int, opened: os.stat_result) -> bool:
    """Whether the lock file is empty or holds what a mirror writes there: its pid."""
    if opened.st_size == 0:
        return True
    text = os.pread(fd, 32, 0) if opened.st_size <= 32 else b"x"
    return decimal_number(text.decode("ascii", "replace").strip()) is not None


def _holder(fd: int) -> str:
    """The pid the lock's holder wrote (it writes it just after taking the lock)."""
    for _ in range(20):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if decimal_number(text) is not None:
            return text
        time.sleep(0.01)
    return "unknown"
