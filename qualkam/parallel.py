"""Work spread over processes, results taken back in the order the work was given.

``qualkam code --jobs N`` segments and matches sources in N worker processes while the main
process reads files and writes the store. Results come back in file order, so the store is
written exactly as a single-process run writes it (same ids, same rows), and only a few
sources per worker are in flight at once, so memory stays bounded however large the corpus.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from qualkam.errors import QualkamError

K = TypeVar("K")
A = TypeVar("A")
R = TypeVar("R")

IN_FLIGHT_PER_JOB = 3  # sources queued per worker: enough to keep it busy, few enough to bound memory


def available_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


START_METHOD: str | None = None  # None: choose (see start_method); tests set it to check each


def start_method() -> str:
    """``fork`` on Linux while this process runs a single thread: workers inherit the loaded
    pipeline and matchers, so a pool costs no start-up. Otherwise (another thread could hold a
    lock the child inherits) ``forkserver``, or ``spawn`` where there is none."""
    methods = multiprocessing.get_all_start_methods()
    if START_METHOD is not None:
        return START_METHOD
    if sys.platform == "linux" and "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _orphan_watch(main: int, parent: int) -> None:
    # A forked worker's parent is the main process; a forkserver worker's is the fork server,
    # which outlives a killed main process while its workers hold its pipe: watch both.
    while os.getppid() == parent and _alive(main):
        time.sleep(ORPHAN_POLL_SECONDS)
    os._exit(1)  # the main process is gone: nobody will take this worker's results


ORPHAN_POLL_SECONDS = 0.5


def _start_worker(main: int, initializer: Callable[..., None] | None, args: tuple) -> None:
    """In each worker: exit when the main process dies (the worker would otherwise wait for
    work forever, holding the queue's other end), then the caller's initializer. Only on
    POSIX: there ``os.kill(pid, 0)`` probes a process; on Windows it would interrupt it, and
    spawned workers there hold no end of the queue they would wait on."""
    if os.name == "posix":
        threading.Thread(target=_orphan_watch, args=(main, os.getppid()), daemon=True).start()
    if initializer is not None:
        initializer(*args)


def ordered_map(
    items: Iterable[tuple[K, A | None]],
    local: Callable[[A], R],
    jobs: int = 1,
    remote: Callable[[A], R] | None = None,
    initializer: Callable[..., None] | None = None,
    initargs: Callable[[], tuple] = tuple,
) -> Iterator[tuple[K, R | None]]:
    """Yield ``(key, result)`` for each ``(key, arg)`` in order; ``arg`` None passes through
    with result None (nothing to compute).

    With ``jobs`` 1, ``local(arg)`` runs here, one item at a time. With more, ``remote(arg)``
    runs in ``jobs`` worker processes prepared by ``initializer(*initargs())`` (the arguments
    are made when the pool starts, and pickled unless the workers are forked); the pool starts
    only when the first item needs computing, so a run with nothing to do starts no process.
    ``items`` is consumed lazily: at most ``IN_FLIGHT_PER_JOB * jobs`` results wait at once.
    """
    if jobs <= 1 or remote is None:
        for key, arg in items:
            yield key, None if arg is None else local(arg)
        return
    pool: ProcessPoolExecutor | None = None
    queue: deque[tuple[K, Future | None]] = deque()
    in_flight = 0
    window = IN_FLIGHT_PER_JOB * jobs

    def head() -> tuple[K, R | None]:
        nonlocal in_flight
        key, future = queue.popleft()
        if future is None:
            return key, None
        in_flight -= 1
        return key, future.result()

    try:
        for key, arg in items:
            if arg is None:
                queue.append((key, None))
            else:
                if pool is None:
                    pool = ProcessPoolExecutor(
                        jobs,
                        mp_context=multiprocessing.get_context(start_method()),
                        initializer=_start_worker,
                        initargs=(os.getpid(), initializer, initargs()),
                    )
                queue.append((key, pool.submit(remote, arg)))
                in_flight += 1
            while queue and (queue[0][1] is None or in_flight >= window):
                yield head()
        while queue:
            yield head()
    except BrokenProcessPool as exc:  # from a result or from submitting to the broken pool
        raise QualkamError(
            "a worker process stopped unexpectedly (out of memory?); what was stored is "
            "kept: run again, or with {argument} 1",
            argument="jobs",
        ) from exc
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
