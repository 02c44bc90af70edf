"""Layers listed in worker processes, handed back in the order the change rules need them.

Listing a layer (inflating it) is the work; applying the change rules to it is cheap but must
go layer by layer, bottom up. So layers are listed in the pool (reconstruct/pool.py), at most
`workers + 1` ahead of the one being applied, so memory stays that of a few listings. The
readers close over a source's open files and are not picklable: workers are forked with them
in memory, and a task names its reader by position. With one worker (or one layer) each layer
is streamed straight into the rules, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future

from ..blob.tarformat import Listed
from ..errors import SourceError
from ..pool import default_workers, pool_context, process_pool, signals_held, waiting
from .where import Keep, LayerReader

# What forked workers list: set before the pool forks them, read only in them.
_work: tuple[list[LayerReader], Keep | None] | None = None


def _list(position: int) -> list[Listed] | str:
    assert _work is not None
    readers, keep = _work
    try:
        return list(readers[position].open(keep, None))
    except (SourceError, OSError) as error:
        return str(error) or type(error).__name__


def _failed(reason: str) -> Iterator[Listed]:
    raise SourceError(reason)
    yield  # a generator: the error is raised where its entries are read


def listed_in_order(
    readers: list[LayerReader], keep: Keep | None, workers: int | None = None
) -> Iterator[Iterable[Listed]]:
    """Each reader's entries, in order; a layer that cannot be read raises SourceError (or
    OSError) where its entries are read, as a reader does."""
    global _work
    workers = min(workers or default_workers(), len(readers))
    prelisted = all(reader.prelisted for reader in readers)
    if workers <= 1 or prelisted or pool_context().get_start_method() != "fork":
        for reader in readers:
            yield reader.open(keep, None)
        return
    _work = (readers, keep)
    try:
        with process_pool(workers) as pool:
            pending: dict[int, Future[list[Listed] | str]] = {}
            try:
                for position in range(len(readers)):
                    with signals_held():  # as verify does: never inside the pool's locks
                        for ahead in range(position, min(len(readers), position + workers + 1)):
                            if ahead not in pending:
                                pending[ahead] = pool.submit(_list, ahead)
                    future = pending.pop(position)
                    while not future.done():
                        waiting({future})
                    found = future.result()
                    yield _failed(found) if isinstance(found, str) else found
            except BaseException:  # Ctrl-C, a worker that died, the caller stopping early
                pool.stop()
                raise
    finally:
        _work = None
