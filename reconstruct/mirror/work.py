"""Reading and rendering images in worker processes, a bounded number of chunks at a time.

A task is a chunk of one source's images: the source's spec and, per image, the fields of its
Reference and the repo-info name to print. The worker opens the source itself (and keeps a few
open for the chunks that follow), so only those strings go in and the rendered documents (a few
KB each) come back.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor, Future
from typing import Any

from ..model import Reference
from ..pool import Pool, check_stop, process_pool, signals_held, waiting
from ..sources import Source, open_source
from .plan import Job
from .report import one_line

MAX_CHUNK = 64  # images per task: pickling and a round trip cost little next to 64 renders
CHUNKS_PER_WORKER = 3  # tasks in flight per worker: none waits, memory stays bounded
MAX_OPEN_SOURCES = 4  # sources a worker keeps open (a folder of archives has many)

Item = tuple[str | None, str | None, str, str | None, str]  # selector, name, tag, digest, repo
Outcome = tuple[bytes | None, str | None]  # the document, or why there is none

# In each process: sources by spec, least recently used first.
_open: dict[str, Source] = {}


def _source(spec: str, options: dict[str, Any]) -> Source:
    source = _open.pop(spec, None)
    if source is None:
        source, _ = open_source(spec, **options)
    _open[spec] = source
    while len(_open) > MAX_OPEN_SOURCES:
        del _open[next(iter(_open))]
    return source


def render_chunk(
    spec: str, options: dict[str, Any], era: int | None, items: list[Item]
) -> list[Outcome]:
    """Each image read and rendered as its repo-info document; a failure is returned, not raised."""
    from .. import api as service

    outcomes: list[Outcome] = []
    for selector, name, tag, digest, repo in items:
        check_stop()
        try:
            target = service.get_listed(
                _source(spec, options), Reference(name, tag, digest, selector)
            )
            text = service.render(target, "repo-info", name=f"{repo}:{tag}", era=era)
            outcomes.append((text.encode(), None))
        except Exception as error:  # one image must not stop the rest; bugs are reported too
            outcomes.append((None, one_line(error)))
    return outcomes


class InProcess(Executor):
    """Runs each task as it is submitted: one worker and no processes."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:
            future.set_exception(error)
        return future


def _executor(workers: int) -> Executor:
    if workers <= 1:
        return InProcess()
    # fork (reconstruct/pool.py): workers start with every module already imported, and die
    # with this process. The executor forks all of them before it starts its own thread, and
    # the parent runs no other (the progress bar is redrawn from the main loop): nothing is
    # forked holding a lock.
    return process_pool(workers)


def chunks(jobs: list[Job], size: int) -> Iterator[list[Job]]:
    """Consecutive jobs of one source, at most `size` of them."""
    start = 0
    while start < len(jobs):
        end = start + 1
        while end < len(jobs) and end - start < size and jobs[end].spec == jobs[start].spec:
            end += 1
        yield jobs[start:end]
        start = end


def outcomes(
    jobs: list[Job],
    *,
    workers: int,
    era: int | None = None,
    options: dict[str, Any] | None = None,
    opened: dict[str, Source] | None = None,
) -> Iterator[tuple[Job, Outcome]]:
    """Every job with its outcome, as the workers finish them (in no particular order).

    `opened`: sources this process already holds and that cannot be opened again (standard
    input); with any, everything runs here.
    """
    options = options or {}
    size = max(1, min(MAX_CHUNK, len(jobs) // (workers * 8)))
    if opened or len(jobs) <= size:
        workers = 1  # too little to be worth processes, or only this process can read it
    _open.clear()
    _open.update(opened or {})
    executor = _executor(workers)
    pending: dict[Future, list[Job]] = {}

    def submit(chunk: list[Job]) -> None:
        items = [(j.selector, j.name, j.tag, j.digest, j.repo) for j in chunk]
        try:
            with signals_held():
                future = executor.submit(render_chunk, chunk[0].spec, options, era, items)
        except RuntimeError as error:  # a broken pool refuses new work
            future = Future()
            future.set_exception(error)
        pending[future] = chunk

    todo = chunks(jobs, size)
    finished = False
    try:
        for chunk in todo:
            submit(chunk)
            if len(pending) >= workers * CHUNKS_PER_WORKER:
                break
        while pending:
            for future in waiting(pending):
                chunk = pending.pop(future)
                following = next(todo, None)
                if following is not None:
                    submit(following)
                try:
                    results = future.result()
                except Exception as error:  # the worker died (killed, out of memory)
                    results = [(None, f"worker failed: {one_line(error)}")] * len(chunk)
                yield from zip(chunk, results, strict=True)
        finished = True
    finally:
        # On an interrupt, an error or a consumer that stopped: nothing more is wanted, so the
        # workers give up their chunks at the next image rather than finish them.
        if not finished and isinstance(executor, Pool):
            executor.stop()
        executor.shutdown(wait=True, cancel_futures=True)
        _open.clear()
