"""The process pool: signals held while its locks are taken, workers stopped at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reconstruct.pool import Stopped, check_stop, process_pool, signals_held

REPO = Path(__file__).resolve().parents[1]


def _sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_signal_in_the_block_is_delivered_at_its_end():
    caught = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: caught.append(number))
    try:
        with signals_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler would have run by now
            assert caught == []
        assert caught == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler, whatever this process inherited: a shell starts background
    jobs with SIGINT ignored, and then Python installs none."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_raising_handler_raises_after_the_block_and_is_restored(python_sigint):
    with pytest.raises(KeyboardInterrupt), signals_held():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        inside = True
    assert inside
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_default_dispositions_are_left_alone():
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with signals_held():
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_outside_the_main_thread_nothing_changes(python_sigint):
    seen = []

    def run() -> None:
        with signals_held():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]


# Interrupts raised over and over, but only inside library code (the frame the handler
# interrupts is not the script's own): that is where one can leave a future's lock taken. With
# `concurrent.futures.wait` itself in place of `waiting`, this script hangs every time here.
RACE = """
import os, signal, sys, threading, time
from reconstruct.pool import process_pool, waiting

class Interrupt(Exception):
    pass

SCRIPT = sys._getframe().f_code
armed = False

def interrupt(number, frame):
    if armed and frame.f_code is not SCRIPT:
        raise Interrupt

signal.signal(signal.SIGINT, interrupt)
pool = process_pool(2)
stop = threading.Event()

def press():
    while not stop.is_set():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.0005)

pending = {pool.submit(time.sleep, 0.0005) for _ in range(3000)}
presser = threading.Thread(target=press, daemon=True)
presser.start()
armed = True
interrupts = 0
while pending:
    try:
        pending -= waiting(pending, timeout=0.05)
    except Interrupt:
        interrupts += 1
armed = False
stop.set()
presser.join()
pool.shutdown(wait=True)
print("interrupts", interrupts)
"""


def _python(script: str, timeout: float) -> subprocess.CompletedProcess:
    """`script` run by a Python of its own, with this checkout importable."""
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_interrupts_during_waits_never_hang_the_pool():
    done = _python(RACE, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 10, done.stdout


def _steps(count: int) -> int:
    """A task of `count` units of 50 ms, checking between them whether to stop."""
    for _ in range(count):
        check_stop()
        time.sleep(0.05)
    return count


def test_stop_has_running_tasks_give_up_and_the_workers_end():
    pool = process_pool(2)
    futures = [pool.submit(_steps, 1200) for _ in range(6)]  # a minute each
    time.sleep(0.5)  # two are running by now
    workers = list(pool._processes.values())  # the test looks inside the pool; the code does not
    started = time.monotonic()
    pool.stop()
    assert time.monotonic() - started < 5
    assert not any(_running(worker.pid) for worker in workers)
    running = [future for future in futures if not future.cancelled()]
    assert len(running) >= 2
    for future in running:
        assert isinstance(future.exception(), Stopped)


def test_a_stopped_pool_leaves_nothing_for_the_exit_to_wait_for():
    # The interpreter's exit joins the pool's thread: a stop must leave it ended.
    script = (
        "import time\n"
        "from reconstruct.pool import process_pool\n"
        "from tests.test_pool import _steps\n"
        "pool = process_pool(2)\n"
        "futures = [pool.submit(_steps, 1200) for _ in range(6)]\n"
        "time.sleep(0.3)\n"
        "pool.stop()\n"
        "print('stopped')\n"
    )
    for _ in range(5):
        done = _python(script, timeout=60)
        assert (done.returncode, done.stdout) == (0, "stopped\n"), done.stderr[-2000:]
