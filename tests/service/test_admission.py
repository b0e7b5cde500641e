"""Load shedding: admit or refuse on arrival, never compute rows of a request that failed or gave up."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from aecodec_service.runtime.admission import Admission
from aecodec_service.runtime.batcher import MicroBatcher, all_or_none
from aecodec_service.runtime.errors import Overloaded, TooLarge

from .conftest import serve
from .helpers import png

DIGIT = png(np.full((28, 28), 128, np.uint8))
IMG = {"Content-Type": "image/png"}


def test_admission_refuses_what_never_fits_as_too_large_and_what_does_not_fit_now_as_overloaded() -> None:
    gate = Admission("m", capacity=4)
    with pytest.raises(TooLarge):
        gate.check(5)  # retrying can never help: 413, never 503
    with gate.hold(3):
        with pytest.raises(Overloaded) as exc:
            gate.check(2)
        assert exc.value.retry_after_s and "queue is full" in exc.value.detail
        gate.check(1)
    assert gate.rows == 0  # released when the request is done


class Gate:
    """A graph run that blocks until released and records every row it computed."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.seen: list[float] = []

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        self.release.wait(10)
        self.seen.extend(float(v) for v in x[:, 0])
        return [x * 2]


def test_rows_of_a_caller_that_gave_up_leave_the_queue() -> None:
    gate = Gate()

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as pool:
            b = MicroBatcher("m/enc", gate.run, pool, max_batch=1, max_wait_s=0, queue_size=8)
            first = asyncio.ensure_future(b.submit(np.array([[1.0]])))  # runs (blocked)
            await asyncio.sleep(0.05)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(b.submit(np.array([[2.0]])), 0.05)  # queued, then times out
            assert b.depth == 0  # left the queue at once
            gate.release.set()
            assert (await first)[0][0, 0] == 2.0
            b.close()

    asyncio.run(scenario())
    assert gate.seen == [1.0]  # the timed-out row was never computed


def test_a_failed_part_cancels_the_other_parts_of_the_request() -> None:
    gate = Gate()

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as pool:
            b = MicroBatcher("m/enc", gate.run, pool, max_batch=1, max_wait_s=0, queue_size=2)
            busy = asyncio.ensure_future(b.submit(np.array([[1.0]])))
            await asyncio.sleep(0.05)
            # one request in three parts: the second is queued, the third does not fit, so all are dropped
            parts = [b.submit(np.array([[v]])) for v in (2.0, 3.0, 4.0, 5.0)]
            with pytest.raises(Overloaded):
                await all_or_none(parts)
            assert b.depth == 0
            gate.release.set()
            await busy
            b.close()

    asyncio.run(scenario())
    assert gate.seen == [1.0]


def test_overload_is_refused_while_the_model_is_still_busy(fake_models: Path) -> None:
    """The 503 does not wait for the queue: it comes while the admitted requests are still being computed."""
    with serve(fake_models, queue_size=2, max_batch=1, max_wait_ms=0, inline_run_us=0) as s:
        rt = s.app.state.registry.get("mnist-ae")
        release = threading.Event()
        real = rt.batchers["encoder"]._run

        def blocked(x: np.ndarray) -> list[np.ndarray]:
            release.wait(20)
            return real(x)

        rt.batchers["encoder"]._run = blocked
        answers: list[httpx.Response] = []
        admitted = [threading.Thread(target=lambda: answers.append(_post(s.url))) for _ in range(2)]
        for t in admitted:
            t.start()
        while rt.admission.rows < 2:  # both admitted, one running and one queued (or both waiting)
            threading.Event().wait(0.01)
        refused = _post(s.url)
        assert not release.is_set()
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1", refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        release.set()
        for t in admitted:
            t.join()
        assert [a.status_code for a in answers] == [200, 200]
        assert rt.admission.rows == 0
        # on an idle server, a batch that can never fit is 413: retrying cannot help
        too_big = httpx.post(s.url + "/encode", files=[("files", DIGIT)] * 3, timeout=20)
        assert too_big.status_code == 413 and "retry-after" not in too_big.headers, too_big.text


def _post(url: str) -> httpx.Response:
    return httpx.post(url + "/encode", content=DIGIT, headers=IMG, timeout=20)
