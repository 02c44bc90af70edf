"""The one pool of worker processes (mirror's renders, verify's layer digests).

Workers are forked where the platform can (they start in milliseconds with every module
already imported) and die with the process that made them: on Linux each asks the kernel for
SIGKILL when its parent goes (prctl PR_SET_PDEATHSIG), then checks that the parent did not go
before it asked. A parent killed with SIGKILL, which runs no cleanup, so leaves no worker
blocked on a pipe forever. Elsewhere the request is a no-op.

The kernel sends that signal when the *thread* that forked the worker ends: the pool must be
used (its first `submit`, which forks every worker under the fork context) from a thread that
lives as long as the pool, as the main thread does.

Ctrl-C (and mirror's SIGTERM) raise in the main thread between any two bytecodes; raised inside
`concurrent.futures.wait` they can leave a future's lock held, and then the pool's own thread
and `shutdown` wait for it forever. `signals_held()` holds such signals back while the pool's and the
futures' locks are taken (`waiting` is `wait` inside it) and acts on them right after.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(Exception):
    """The pool was told to stop: the task gave up part way."""


_stop_flag: Any = None  # in a worker: its pool's shared stop flag


def check_stop() -> None:
    """In a worker: raise Stopped when its pool was told to stop (tasks call this between
    units of work)."""
    if _stop_flag is not None and _stop_flag.value:
        raise Stopped("stopped")


class Pool(ProcessPoolExecutor):
    """A process pool whose running tasks can be told to give up (`stop`).

    Killing a worker instead can cut a result off half written into the pipe every worker
    shares: the pool's own thread then waits for the rest of it forever, and so does the
    interpreter's exit."""

    def __init__(
        self, workers: int, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
    ):
        context = pool_context()
        self.stop_flag = context.RawValue("b", 0)
        super().__init__(
            max_workers=workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(os.getpid(), self.stop_flag, initializer, initargs),
        )

    def stop(self) -> None:
        """Drop what is queued, have running tasks give up (they raise Stopped at their next
        check), and wait for the workers to end."""
        self.stop_flag.value = 1
        self.shutdown(wait=True, cancel_futures=True)


def default_workers() -> int:
    """One worker per CPU this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def process_pool(
    workers: int,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Pool:
    """A pool of `workers` processes that die with this one; `initializer(*initargs)` runs in
    each worker after that is arranged."""
    return Pool(workers, initializer, initargs)


def pool_context() -> Any:
    """The start-method context of the pool (also for `Value`s handed to its initializer)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent ends; exit now if `parent` is already gone."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc to load, or no prctl in it
            pass
    # The parent may have died between the fork and the request: the worker was reparented.
    if os.getppid() != parent:
        os._exit(1)


def _start_worker(
    parent: int,
    stop_flag: Any,
    initializer: Callable[..., object] | None,
    initargs: tuple[Any, ...],
) -> None:
    global _stop_flag
    die_with_parent(parent)
    _stop_flag = stop_flag
    # Ctrl-C and `kill -TERM -PGID` reach the whole process group. A worker they killed could
    # leave its result half written in the pipe the workers share, and the pool's thread (and
    # the parent's shutdown) would wait for the rest forever; a forked worker would also run
    # its parent's cleanup (mirror removes its temp files). The parent handles both and stops
    # the pool (`Pool.stop`); workers die with it whatever kills it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if initializer is not None:
        initializer(*initargs)


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back in the block (which takes the pool's and the futures'
    locks); one that came meanwhile is delivered again, to the handler it was meant for, at
    its end. Outside the main thread, which never runs handlers, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    previous = {}
    for number in HELD_SIGNALS:
        if callable(signal.getsignal(number)):  # SIG_DFL, SIG_IGN act in the kernel, not here
            previous[number] = signal.signal(number, lambda number, frame: came.append(number))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in dict.fromkeys(came):
            signal.raise_signal(number)


def waiting(pending: Collection[Future], timeout: float = 0.2) -> set[Future]:
    """The futures of `pending` done within `timeout` seconds, with signals held meanwhile."""
    with signals_held():
        return wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)[0]
