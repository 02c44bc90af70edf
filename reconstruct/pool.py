"""The one pool of worker processes (mirror's renders, verify's layer digests).

Workers are forked where the platform can (they start in milliseconds with every module
already imported) and die with the process that made them: on Linux each asks the kernel for
SIGKILL when its parent goes (prctl PR_SET_PDEATHSIG), then checks that the parent did not go
before it asked. A parent killed with SIGKILL, which runs no cleanup, so leaves no worker
blocked on a pipe forever. Elsewhere the request is a no-op.

The kernel sends that signal when the *thread* that forked the worker ends: the pool must be
used (its first `submit`, which forks every worker under the fork context) from a thread that
lives as long as the pool, as the main thread does.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def process_pool(
    workers: int,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
) -> ProcessPoolExecutor:
    """A pool of `workers` processes that die with this one; `initializer(*initargs)` runs in
    each worker after that is arranged."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=pool_context(),
        initializer=_start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )


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
    parent: int, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
) -> None:
    die_with_parent(parent)
    # A forked worker inherits its parent's handlers; a parent's cleanup on SIGTERM (mirror
    # removes its temp files) is not the worker's to run.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if initializer is not None:
        initializer(*initargs)
