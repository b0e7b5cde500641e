"""A variable-rate codec model's quality scale, the gains a quality picks, and the search behind ``max_bytes``.

The quality Q of a model with K levels runs from 1 to K; its integers are the trained levels (the presets).
A payload carries it in thousandths (``CompactCode.quality``, 1000..K*1000), and the encoder and the decoder
compute the gains from that integer alone, with the model's own operations (``interpolate`` in
training/aecodec_training/models/gained.py): the log-gains of the two neighbouring levels mixed linearly in
float32, then the exponential. That is taken in float64 and rounded to float32, because numpy's float32 exp
may take another SIMD path on another CPU, and a gain that differs in its last bit between the two sides
could pick another Gaussian table.

``best_within`` is ``cwebp -size`` for such a model: the encoder graph has run once, and each try of the
search is only the hyper decoder and the range coder, at one quality step (a thousandth) of precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .errors import BudgetTooSmall
from .manifest import VariableRate

MILLI = 1000  # the wire's quality unit: thousandths


class QualityScale:
    """Qualities 1..K of one variable-rate model, in the thousandths the wire carries."""

    def __init__(self, rate: VariableRate) -> None:
        self.levels = rate.levels
        self.lowest, self.highest = MILLI, rate.levels * MILLI
        self.default = (rate.levels + 1) // 2 * MILLI  # the middle preset
        self._log_y = np.asarray(rate.log_gain_y, dtype=np.float32)  # (K, M)
        self._log_z = np.asarray(rate.log_gain_z, dtype=np.float32)  # (K, Z)

    def to_wire(self, quality: float) -> int:
        """A requested quality (1..K, any precision) -> the nearest thousandth, which the payload carries."""
        if not math.isfinite(quality):
            raise ValueError(f"quality must be a number from 1 to {self.levels}, not {quality!r}")
        milli = math.floor(quality * MILLI + 0.5)
        if not self.lowest <= milli <= self.highest:
            raise ValueError(f"quality must be from 1 to {self.levels}, not {quality!r}")
        return milli

    def contains(self, milli: int) -> bool:
        return self.lowest <= milli <= self.highest

    def log_gains(self, milli: int) -> tuple[np.ndarray, np.ndarray]:
        """(log g_y (M,), log g_z (Z,)) float32 at quality milli / 1000: the neighbouring levels' rows mixed
        linearly in float32 as the model's ``interpolate`` (elementwise IEEE operations: the same bits anywhere)."""
        steps = milli - MILLI  # from the lowest level, in thousandths of a level
        lo = min(steps // MILLI, self.levels - 2)
        t = np.float32((steps - lo * MILLI) / MILLI)
        return _mix(self._log_y, lo, t), _mix(self._log_z, lo, t)

    def gains(self, milli: int) -> tuple[np.ndarray, np.ndarray]:
        """(g_y (M,), g_z (Z,)) float32 at quality milli / 1000; the same bits on both sides of the wire."""
        log_y, log_z = self.log_gains(milli)
        return _exp(log_y), _exp(log_z)


def _mix(table: np.ndarray, lo: int, t: np.float32) -> np.ndarray:
    return table[lo] * (np.float32(1) - t) + table[lo + 1] * t  # float32, as the model's interpolate


def _exp(log: np.ndarray) -> np.ndarray:
    return np.exp(log.astype(np.float64)).astype(np.float32)


def quality_of(milli: int) -> float:
    """The quality a payload's thousandths stand for (1.0 .. K)."""
    return milli / MILLI


def best_within(encode_at: Callable[[int], bytes], lowest: int, highest: int, max_bytes: int) -> bytes:
    """The payload of the highest quality in [lowest, highest] (thousandths) that is at most ``max_bytes``.

    Bisection keeps a quality that fits and one that does not, so the answer's next quality step up is over
    the budget (or it is the highest): at most 2 + log2(highest - lowest) tries, 15 for 8 levels. A size
    that does not grow with quality everywhere (at a thousandth's steps it jitters by a few bytes) cannot
    break that promise, only hide a higher quality that would also fit. (Guessing where the budget falls
    from the log-sizes took more tries than bisection, measured: the jitter defeats it near the end.)
    Raises ``BudgetTooSmall`` when even the lowest quality is larger."""
    top = encode_at(highest)
    if len(top) <= max_bytes:
        return top
    best = encode_at(lowest)
    if len(best) > max_bytes:
        raise BudgetTooSmall(len(best), max_bytes)
    lo, hi = lowest, highest  # lo fits, hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        found = encode_at(mid)
        if len(found) <= max_bytes:
            lo, best = mid, found
        else:
            hi = mid
    return best
