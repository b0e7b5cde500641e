"""Range coding of integer symbols with fixed per-channel frequency tables.

constriction's queue-based range coder does the coding; this module only
decides the order (channel by channel, then raster order inside a channel)
and builds each channel's model once from integer counts. The models are
derived from integers by exact float64 division, so encoder and decoder agree
bit for bit on every machine.

A latent with one value per channel (an MLP latent, shape (C,)) is coded in ONE
constriction call: the parameterised ``Categorical(perfect=False)`` family with
the (C, K) probability array, one row per symbol. constriction quantises each
row exactly as it quantises a fixed ``Categorical(row, perfect=False)``, so this
gives the same bytes as one call per channel (``tests/wire`` checks it); a
spatial latent keeps one call per channel, each coding a whole channel.
"""

from __future__ import annotations

import constriction
import numpy as np

# constriction is a compiled module: its submodules are attributes, not importable paths
Categorical = constriction.stream.model.Categorical
RangeEncoder = constriction.stream.queue.RangeEncoder
RangeDecoder = constriction.stream.queue.RangeDecoder
_FAMILY = Categorical(perfect=False)  # probabilities given per call, one row per symbol


class ChannelTables:
    """Per-channel categorical models over the alphabet {0, ..., K-1}."""

    def __init__(self, tables: np.ndarray) -> None:
        tables = np.asarray(tables, dtype=np.int64)
        if tables.ndim != 2 or (tables <= 0).any():
            raise ValueError("frequency tables must be a (channels, symbols) array of positive counts")
        self.alphabet = int(tables.shape[1])
        probs = tables.astype(np.float64) / tables.sum(axis=1, keepdims=True)
        self._probs = np.ascontiguousarray(probs)  # (C, K): one row per symbol of a (C,) latent
        self._models = [Categorical(p, perfect=False) for p in probs]

    @property
    def channels(self) -> int:
        return len(self._models)

    def encode(self, symbols: np.ndarray) -> bytes:
        """(C, *spatial) int symbols -> compressed bytes."""
        rows = self._rows(symbols)
        encoder = RangeEncoder()
        if rows.shape[1] == 1:
            encoder.encode(rows[:, 0], _FAMILY, self._probs)
        else:
            for row, model in zip(rows, self._models, strict=False):
                encoder.encode(row, model)
        return encoder.get_compressed().astype("<u4").tobytes()

    def encode_per_channel(self, symbols: np.ndarray) -> bytes:
        """The reference path, one constriction call per channel (same bytes as ``encode``)."""
        encoder = RangeEncoder()
        for row, model in zip(self._rows(symbols), self._models, strict=False):
            encoder.encode(row, model)
        return encoder.get_compressed().astype("<u4").tobytes()

    def decode(self, data: bytes, shape: tuple[int, ...]) -> np.ndarray:
        """Compressed bytes -> (C, *spatial) int32 symbols of the given shape."""
        if len(data) % 4:
            raise ValueError("coded latent length is not a whole number of 32-bit words")
        if not shape or shape[0] != self.channels:
            raise ValueError(f"latent shape {shape} does not have {self.channels} channels")
        words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        decoder = RangeDecoder(words)
        per_channel = int(np.prod(shape[1:], dtype=np.int64))
        if per_channel == 1:
            return decoder.decode(_FAMILY, self._probs).astype(np.int32).reshape(shape)
        rows = [decoder.decode(model, per_channel) for model in self._models]
        return np.stack(rows).astype(np.int32).reshape(shape)

    def _rows(self, symbols: np.ndarray) -> np.ndarray:
        if symbols.shape[0] != self.channels:
            raise ValueError(f"latent has {symbols.shape[0]} channels, tables have {self.channels}")
        rows = symbols.reshape(self.channels, -1).astype(np.int32)
        if rows.size and (rows.min() < 0 or rows.max() >= self.alphabet):
            raise ValueError(f"symbols must lie in [0, {self.alphabet})")
        return rows
