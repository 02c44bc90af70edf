"""A blob's digests as it streams past, in constant memory: its own digest and, for a layer, the
digest of the tar it inflates to (the diff_id), gzip, zstd or uncompressed.

Used twice: by worker processes reading blobs from files (`measure`, `measure_all`), and by the
one pass over a compressed archive, which pushes each member's data through a `Digester` as the
stream goes by. Compression is told by magic bytes, not by media type or name: a layer named
`.tar` that is really gzip is still measured right, and the caller compares with what the
manifest said.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ..blob.compression import LONGEST_MAGIC, compression_of, describe_error, pusher
from ..blob.files import READ_CHUNK, BlobLocation, read_chunks
from ..blob.tarsplit import Reassembly, reassembled
from ..errors import SourceError
from ..pool import check_stop, pool_context, process_pool, signals_held, waiting

# Below this much layer data, worker processes cost more to start than they save.
PARALLEL_MIN_BYTES = 16 * 1024 * 1024
# Workers report progress to the parent, and look whether they are to stop, every this many bytes.
PROGRESS_STEP = 8 * 1024 * 1024


@dataclass(frozen=True)
class Measured:
    """What a blob's bytes hash to."""

    digest: str  # the blob as stored
    size: int
    compression: str | None  # "gzip", "zstd", or None (stored uncompressed)
    diff_id: str | None  # the uncompressed content's digest; None when it could not be inflated
    uncompressed_size: int | None
    error: str | None = None  # why inflating failed, or why the blob could not be read whole


class Digester:
    """Push a blob's bytes through `update`, then `finish` for its digests."""

    def __init__(self, algorithm: str = "sha256", diff_algorithm: str = "sha256"):
        self._raw = hashlib.new(algorithm)
        self._algorithm = algorithm
        self._diff = hashlib.new(diff_algorithm)
        self._diff_algorithm = diff_algorithm
        self.size = 0
        self._unpacked = 0
        self._head = b""  # the first bytes, until there are enough to tell the compression
        self._push: Callable[[Any], None] | None = None
        self._finish: Callable[[], None] | None = None  # checks the compressed data ended
        self.compression: str | None = None
        self.error: str | None = None

    def update(self, data: bytes | memoryview) -> None:
        if not data:
            return
        self._raw.update(data)
        self.size += len(data)
        if self._push is None:
            self._head += bytes(data)
            if len(self._head) < LONGEST_MAGIC:
                return
            data, self._head = self._head, b""
            self._choose(data)
        if self.error is None:
            try:
                self._push(data)  # type: ignore[misc]
            except Exception as error:  # each inflater has its own error class
                self.error = _describe(self.compression, error)

    def _choose(self, head: bytes) -> None:
        kind = compression_of(head)
        if kind in ("gzip", "zstd"):
            self.compression = kind
            inflating = pusher(kind, self._unpacked_piece)
            self._push, self._finish = inflating.push, inflating.finish
        else:  # a layer is gzip, zstd or a plain tar; anything else is hashed as it is
            self._push = self._unpacked_piece

    def _unpacked_piece(self, data: bytes | memoryview) -> None:
        self._diff.update(data)
        self._unpacked += len(data)

    def finish(self) -> Measured:
        if self._push is None:  # fewer bytes than a magic number: stored as is
            head, self._head = self._head, b""
            self._choose(head)
            if head:
                self._push(head)  # type: ignore[misc]
        if self._finish is not None and self.error is None:
            try:
                self._finish()
            except Exception as error:
                self.error = _describe(self.compression, error)
        digest = f"{self._algorithm}:{self._raw.hexdigest()}"
        if self.error is not None:
            return Measured(digest, self.size, self.compression, None, None, self.error)
        diff_id = f"{self._diff_algorithm}:{self._diff.hexdigest()}"
        return Measured(digest, self.size, self.compression, diff_id, self._unpacked)


def _describe(compression: str | None, error: Exception) -> str:
    return f"not valid {compression} data ({describe_error(error)})"


# --- reading blobs from files, in parallel ------------------------------------------------------

_progress_counter: Any = None  # a shared integer in worker processes (see measure_all)


def measure(
    location: BlobLocation,
    algorithm: str = "sha256",
    diff_algorithm: str = "sha256",
    report: Callable[[int], None] | None = None,
) -> Measured:
    """Read the blob at `location` once and measure it; `report(n)`: n more bytes were read."""
    digester = Digester(algorithm, diff_algorithm)
    try:
        _feed(digester, read_chunks(location, READ_CHUNK), report)
    except OSError as error:
        measured = digester.finish()
        reason = f"cannot read {location.path}: {error.strerror or error}"
        return Measured(measured.digest, measured.size, measured.compression, None, None, reason)
    measured = digester.finish()
    if location.length is not None and measured.size < location.length:
        short = f"the file ends after {measured.size} of {location.length} bytes"
        return Measured(measured.digest, measured.size, measured.compression, None, None, short)
    return measured


def _start_worker(counter: Any) -> None:
    global _progress_counter
    _progress_counter = counter


def _report_to_parent(count: int) -> None:
    check_stop()  # a stopped pool's worker gives up its blob here
    with _progress_counter.get_lock():
        _progress_counter.value += count


def _measure_in_worker(job: Job) -> Measured:
    return measure_job(job, _report_to_parent)


def measure_job(job: Job, report: Callable[[int], None] | None = None) -> Measured:
    if job.reassembly is not None:
        return measure_reassembled(job.reassembly, job.diff_algorithm, report)
    return measure(job.location, job.algorithm, job.diff_algorithm, report)


def measure_reassembled(
    layer: Reassembly, algorithm: str = "sha256", report: Callable[[int], None] | None = None
) -> Measured:
    """A layer kept unpacked, measured as the tar stream its tar-split and files rebuild."""
    digester = Digester(algorithm, algorithm)
    try:
        _feed(digester, reassembled(layer), report)
    except SourceError as error:
        measured = digester.finish()
        return Measured(measured.digest, measured.size, None, None, None, str(error))
    return digester.finish()


def _feed(
    digester: Digester, chunks: Iterable[bytes], report: Callable[[int], None] | None
) -> None:
    """Every chunk through `digester`; `report(n)` hears every PROGRESS_STEP bytes or so."""
    unreported = 0
    for chunk in chunks:
        digester.update(chunk)
        unreported += len(chunk)
        if report is not None and unreported >= PROGRESS_STEP:
            report(unreported)
            unreported = 0
    if report is not None and unreported:
        report(unreported)


@dataclass(frozen=True)
class Job:
    """One blob to measure; `size` orders the work (largest first) and feeds the progress bar."""

    key: str
    location: BlobLocation
    size: int
    algorithm: str = "sha256"
    diff_algorithm: str = "sha256"
    # a layer kept unpacked: measured as the tar stream rebuilt from these (location: its
    # tar-split file)
    reassembly: Reassembly | None = None


def measure_all(
    jobs: list[Job],
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, Measured]:
    """Every job measured (by key); in `workers` processes (default: one per CPU) when there
    is enough data for it to pay. `on_progress(done_bytes)` hears now and then how far it is.
    """
    workers = workers or os.cpu_count() or 1
    ordered = sorted(jobs, key=lambda job: job.size, reverse=True)
    total = sum(job.size for job in ordered)
    if workers <= 1 or len(ordered) <= 1 or total < PARALLEL_MIN_BYTES:
        return _measure_here(ordered, on_progress)
    return _measure_in_processes(ordered, min(workers, len(ordered)), on_progress)


def _measure_here(
    jobs: list[Job], on_progress: Callable[[int], None] | None
) -> dict[str, Measured]:
    results: dict[str, Measured] = {}
    done = 0

    def report(count: int) -> None:
        nonlocal done
        done += count
        if on_progress is not None:
            on_progress(done)

    for job in jobs:
        results[job.key] = measure_job(job, report)
    return results


def _measure_in_processes(
    jobs: list[Job], workers: int, on_progress: Callable[[int], None] | None
) -> dict[str, Measured]:
    # fork (reconstruct/pool.py): the parent has no threads of its own yet (a progress bar
    # draws from the main thread, below); workers die with the parent.
    counter = pool_context().Value("q", 0)
    results: dict[str, Measured] = {}
    with process_pool(workers, _start_worker, (counter,)) as pool:
        try:
            with signals_held():
                pending: dict[Future[Measured], Job] = {
                    pool.submit(_measure_in_worker, job): job for job in jobs
                }
            while pending:
                for future in waiting(pending):
                    results[pending.pop(future).key] = future.result()
                if on_progress is not None:
                    on_progress(counter.value)
        except BaseException:  # Ctrl-C, or a worker that died: stop the others now
            pool.stop()
            raise
    return results
