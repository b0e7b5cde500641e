"""Load shedding on arrival: a request is admitted (its rows reserved) or refused before any work is done.

Each model version admits at most ``capacity`` rows (images, payloads, samples) at once, counted from
arrival until the answer is ready. A request that does not fit now is refused at once (Overloaded: 503
+ Retry-After) instead of decoding its images and waiting in a queue only to be refused later; one that
could never fit (more rows than the capacity) is TooLarge (413), since retrying cannot help. Since every
row in a batcher's queue belongs to an admitted request, the queues never hold more than the capacity.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import Overloaded, TooLarge


class Admission:
    """Rows admitted for one model version; used from the event loop only (no lock needed)."""

    def __init__(self, name: str, capacity: int, retry_after_s: float = 1.0) -> None:
        self.name = name
        self.capacity = capacity
        self.retry_after_s = retry_after_s
        self.rows = 0

    def check(self, rows: int = 1) -> None:
        """Refuse now if ``rows`` more would not fit (nothing is reserved)."""
        if rows > self.capacity:
            raise TooLarge(
                f"the request holds {rows} rows for model {self.name}, more than it ever takes at once "
                f"({self.capacity}); split it into smaller batches",
                kind="batch-too-large",
            )
        if self.rows + rows > self.capacity:
            raise Overloaded(
                f"the {self.name} queue is full ({self.rows} rows admitted, limit {self.capacity}); retry shortly",
                retry_after_s=self.retry_after_s,
            )

    @contextmanager
    def hold(self, rows: int) -> Iterator[None]:
        """Reserve ``rows`` for the duration of the block, or refuse at once."""
        self.check(rows)
        self.rows += rows
        try:
            yield
        finally:
            self.rows -= rows
