"""Dynamic micro-batching: concurrent requests for one model graph share one onnxruntime run.

Rows wait in a bounded queue; one worker task per graph takes every row that is
already waiting (of the same trailing shape), waits up to ``max_wait`` for more
only while under load (the previous run had company), runs them as one batch in
the inference thread pool and hands each caller its slice. Requests are admitted
or refused on arrival (admission.py), so the queue stays within its size; a row
whose caller went away (timed out, or its request failed) leaves the queue at once
and is never computed.

A tiny run skips all of that: when nothing is queued or running for the graph and
its measured speed predicts the run takes at most ``inline_run_s``, it runs right
on the event loop. For the shipped models a run is ~15 us, while the queue, the
wake-up and the thread hop cost several times that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from .errors import Overloaded, TooLarge

log = logging.getLogger("aecodec.batcher")
RunFn = Callable[[np.ndarray], list[np.ndarray]]
T = TypeVar("T")


async def all_or_none(aws: Iterable[Awaitable[T]]) -> list[T]:
    """Like ``gather``, but when one fails the others are cancelled (their queued rows leave the queue)."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


@dataclass
class _Job:
    x: np.ndarray
    future: asyncio.Future[list[np.ndarray]] = field(repr=False)


class MicroBatcher:
    """Batches rows for one graph of one model version."""

    def __init__(
        self,
        name: str,
        run: RunFn,
        executor: Executor,
        *,
        max_batch: int,
        max_wait_s: float,
        queue_size: int,
        inline_run_s: float = 0.0,
        on_batch: Callable[[int], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        self.name = name
        self._run = run
        self._executor = executor
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.queue_size = queue_size
        self._on_batch = on_batch or (lambda n: None)
        self._on_depth = on_depth or (lambda n: None)
        self._jobs: deque[_Job] = deque()
        self._rows = 0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._busy = False  # previous run had more than one job: worth waiting for company
        self.inline_run_s = inline_run_s
        self._running = 0  # runs in the executor right now
        self._s_per_value: float | None = None  # measured run time per input value (EWMA); None: not yet

    def _timed(self, x: np.ndarray) -> list[np.ndarray]:
        t0 = time.perf_counter()
        outs = self._run(x)
        per_value = (time.perf_counter() - t0) / max(1, x.size)
        old = self._s_per_value
        # falls at once, rises slowly: a run in the executor also pays for getting the GIL back
        self._s_per_value = per_value if old is None or per_value < old else 0.9 * old + 0.1 * per_value
        return outs

    def try_inline(self, x: np.ndarray) -> list[np.ndarray] | None:
        """Run x right here when it is tiny and the graph idle (see the module doc); None: submit it."""
        if not self._inline(x):
            return None
        self._on_batch(x.shape[0])
        return self._timed(x)

    def _inline(self, x: np.ndarray) -> bool:
        est = self._s_per_value
        return (
            est is not None
            and not self._jobs
            and not self._running
            and not self._closed
            and est * x.size <= self.inline_run_s
        )

    @property
    def depth(self) -> int:
        return self._rows

    async def submit(self, x: np.ndarray) -> list[np.ndarray]:
        """(n, ...) rows -> the graph's outputs for those rows, batched with whatever else is waiting."""
        if self._closed:  # swapped out by a reload: finish this request on the old session, unbatched
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, x)
        outs = self.try_inline(x)
        if outs is not None:
            return outs
        if x.shape[0] > self.max_batch:
            parts = [self.submit(x[i : i + self.max_batch]) for i in range(0, x.shape[0], self.max_batch)]
            chunks = await all_or_none(parts)
            return [np.concatenate(outs) for outs in zip(*chunks, strict=False)]
        if x.shape[0] > self.queue_size:
            raise TooLarge(f"{x.shape[0]} rows are more than the {self.name} queue ever holds ({self.queue_size})")
        if self._rows + x.shape[0] > self.queue_size:
            raise Overloaded(
                f"the {self.name} queue is full ({self._rows} rows waiting, limit {self.queue_size}); retry shortly",
                retry_after_s=1.0,
            )
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._work(), name=f"batcher:{self.name}")
        job = _Job(x, loop.create_future())
        self._jobs.append(job)
        self._rows += x.shape[0]
        self._on_depth(self._rows)
        assert self._wake is not None
        self._wake.set()
        try:
            return await job.future
        except asyncio.CancelledError:  # the caller gave up (timeout, a failed sibling): do not compute its rows
            if job in self._jobs:
                self._jobs.remove(job)
                self._rows -= x.shape[0]
                self._on_depth(self._rows)
            raise

    def close(self) -> None:
        """Stop taking new batches once the queued ones are done; later submits run unbatched."""
        self._closed = True
        if self._wake is not None:
            self._wake.set()

    def _take(self) -> list[_Job]:
        first = self._jobs.popleft()
        batch, rows, shape = [first], first.x.shape[0], first.x.shape[1:]
        skipped: list[_Job] = []
        while self._jobs and rows < self.max_batch:
            job = self._jobs.popleft()
            if job.x.shape[1:] == shape and rows + job.x.shape[0] <= self.max_batch:
                batch.append(job)
                rows += job.x.shape[0]
            else:
                skipped.append(job)
        self._jobs.extendleft(reversed(skipped))
        return batch

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wake is not None
        while True:
            if not self._jobs:
                if self._closed:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._busy and self.max_wait_s > 0 and self._rows < self.max_batch:
                await asyncio.sleep(self.max_wait_s)
                if not self._jobs:  # every waiting caller gave up meanwhile
                    continue
            batch = self._take()
            n_rows = sum(j.x.shape[0] for j in batch)
            self._rows -= n_rows
            self._on_depth(self._rows)
            self._on_batch(n_rows)
            self._busy = len(batch) > 1
            x = batch[0].x if len(batch) == 1 else np.concatenate([j.x for j in batch])
            self._running += 1
            try:
                outs = await loop.run_in_executor(self._executor, self._timed, x)
            except Exception as exc:  # a failing run fails its callers, never the worker
                log.exception("%s: batch of %d rows failed", self.name, n_rows)
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            finally:
                self._running -= 1
            start = 0
            for job in batch:
                n = job.x.shape[0]
                if not job.future.done():
                    job.future.set_result([o[start : start + n] for o in outs])
                start += n
