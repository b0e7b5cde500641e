"""Latents <-> compact payload for scale-hyperprior codec models (a manifest with ``gaussian`` tables).

The encoder graph gives two latents: y (``latent``, (M, h, w)) and the side latent z (``side``,
(Z, h/4, w/4)). z is coded first, per channel, with the manifest's factorised ``prior`` tables; the model's
``hyper_decoder.onnx`` (a callable given to the codec) maps the decoded z_hat to a mean and a scale for
every element of y; each element is coded as round(y - mean) with the fixed Gaussian table its scale picks
(``Manifest.gaussian``). The decoder repeats exactly the same steps, so the only thing both sides must agree
on bit for bit is the table index, computed from the hyper decoder's float32 scales by one comparison
against the manifest's float64 scale table (CompressAI's ``GaussianConditional.build_indexes``).

One range-coder stream holds z, then y (grouped by table, in raster order inside a group), then the
escaped values of y, wrapped in a ``CompactCode`` whose width and height imply both latent shapes. A value
outside its table's range is coded as the table's last symbol (the escape) and its distance beyond the range
as a sign, a bit length and the bits themselves, all with uniform models (as CompressAI's bypass coding), so
the decoder gets every value the encoder had: a clipped value would spread its error over a 16x16 block.

A variable-rate model (a manifest with ``variable_rate``) codes the same way in its gained domain: at quality
Q (carried by the payload) with gains g_y(Q), g_z(Q) (variable_rate.py), z * g_z is coded, the hyper decoder
gets z_hat / g_z, the means and scales it gives are multiplied by g_y, y * g_y is coded, and the decoder graph
gets y_hat / g_y: ``compress_estimate_at`` of training/aecodec_training/models/gained.py, step for step.

A model whose manifest has ``integer_hyper`` takes the means and table indices from its integer
hyper-synthesis instead (integer_hyper.py: numpy, no onnxruntime), on both sides, so every machine picks the
same tables; its gains enter as integers there (1/g_z as a fixed-point multiplier of the input, g_y as an
offset of the integer log-scale). Models without it keep the float path above.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import constriction
import numpy as np

from . import payload
from .errors import CorruptPayload
from .image_extras import Extras, per_image
from .integer_hyper import IntegerHyperSynthesis
from .latent_codec import Geometry, Latents, SideModel, fixed_rate
from .manifest import Manifest
from .v1 import payload_pb2 as pb
from .variable_rate import QualityScale, best_within

Categorical = constriction.stream.model.Categorical
RangeEncoder = constriction.stream.queue.RangeEncoder
RangeDecoder = constriction.stream.queue.RangeDecoder
Uniform = constriction.stream.model.Uniform
SIDE = "side"  # the encoder output holding z
HYPER_STRIDE = 4  # z is at 1/4 of y's side
ESCAPE_BITS = 24  # an escaped value's distance beyond its table is below 2**24 (exact in float32)
_SIGN, _LENGTH, _BYTE = Uniform(2), Uniform(ESCAPE_BITS + 1), Uniform(256)
Gains = tuple[np.ndarray, np.ndarray] | tuple[None, None]  # (g_y (M,), g_z (Z,)) float32; (None, None): fixed rate
GAIN_CACHE = 64  # qualities whose integer gains a codec keeps (a max_bytes search tries about 15)


def _models(counts: Sequence[Sequence[int]]) -> list:
    """Exact float64 probabilities from integer counts -> constriction models (same on every machine)."""
    out = []
    for row in counts:
        c = np.asarray(row, dtype=np.float64)
        out.append(Categorical(c / c.sum(), perfect=False))
    return out


class HyperpriorCodec:
    """Encodes and decodes the latents of one hyperprior codec model version."""

    latent_names: tuple[str, ...] = ("latent", SIDE)
    bit_depths: tuple[int, ...] = ()  # no bits: a fixed-rate model's rate is its training's, a variable one's a quality

    def __init__(
        self,
        manifest: Manifest,
        hyper_decoder: SideModel | None = None,
        integer: IntegerHyperSynthesis | None = None,
    ) -> None:
        if manifest.prior is None or manifest.gaussian is None or manifest.wire_id is None:
            raise ValueError(
                f"model {manifest.name!r} has no prior, gaussian tables or wire_id: not a hyperprior codec"
            )
        if manifest.integer_hyper is not None and integer is None:
            raise ValueError(f"model {manifest.name!r} codes with an integer hyper-synthesis: it needs that network")
        if manifest.integer_hyper is None and hyper_decoder is None:
            raise ValueError(f"model {manifest.name!r} is a hyperprior codec: it needs its hyper_decoder graph")
        if integer is not None and math.prod(layer.upsample for layer in integer.spec.layers) != HYPER_STRIDE:
            raise ValueError(f"model {manifest.name!r}: the integer hyper-synthesis must upsample by {HYPER_STRIDE}")
        self.manifest = manifest
        self.wire_id = manifest.wire_id
        self.hyper_decoder = hyper_decoder
        self.integer = integer if manifest.integer_hyper is not None else None  # None: the float path
        self._integer_gains: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        prior, gauss = manifest.prior, manifest.gaussian
        self._z_offsets = np.asarray(prior.offsets, dtype=np.float64)
        self._z_minima = np.asarray(prior.minima, dtype=np.int64)
        self._z_counts = np.asarray(prior.counts, dtype=np.int64)
        self._z_models = _models(prior.counts)
        self._scales = np.asarray(gauss.scales, dtype=np.float64)
        self._index_type = np.min_scalar_type(len(self._scales) - 1)
        self._y_minima = np.asarray(gauss.minima, dtype=np.int64)
        self._y_sizes = np.asarray([len(row) for row in gauss.counts], dtype=np.int64)
        self._y_counts = gauss.counts
        self._y_models = _models(gauss.counts)  # built once per codec instance: a reload drops them with it
        self._key = manifest.name.encode() + b"\0" + bytes.fromhex(manifest.version or "0" * 16)
        self.geometry = Geometry(manifest, omit_implied_latent=True)
        rate = manifest.variable_rate
        self.qualities = QualityScale(rate) if rate is not None else None  # None: one rate, the training's

    # --- the steps both sides share -------------------------------------------------------------------
    def _gains(self, milli: int | None) -> Gains:
        if self.qualities is None or milli is None:
            return None, None
        return self.qualities.gains(milli)

    def _z_symbols(self, z: np.ndarray, g_z: np.ndarray | None = None) -> np.ndarray:
        """(Z, a, b) floats -> (Z, a*b) int symbols in [0, K) of z (times its gains)."""
        rows = z.reshape(len(self._z_offsets), -1)
        if g_z is not None:
            rows = rows * g_z[:, None]  # float32, as the model
        s = np.rint(rows.astype(np.float64) - self._z_offsets[:, None]).astype(np.int64) - self._z_minima[:, None]
        return np.clip(s, 0, self._z_counts.shape[1] - 1)

    def _z_hat(self, symbols: np.ndarray, shape: tuple[int, ...], g_z: np.ndarray | None = None) -> np.ndarray:
        """The hyper decoder's input: the dequantised z (divided by its gains)."""
        z_hat = (symbols + self._z_minima[:, None] + self._z_offsets[:, None]).astype(np.float32).reshape(shape)
        return z_hat if g_z is None else z_hat / g_z[:, None, None]

    def _params(
        self, z_hat: np.ndarray, y_shape: tuple[int, ...], g_y: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """z_hat (Z, a, b) -> (mean (M, h, w) float32, table index (M*h*w,) int64) from the hyper decoder, both
        in y's gained domain when there are gains. A scale below the first table's picks it with or without
        the model's clamp, so the clamp is left out."""
        assert self.hyper_decoder is not None  # __init__: every model without an integer network has one
        out = np.asarray(self.hyper_decoder(z_hat[None]), dtype=np.float32)[0]  # (2M, h, w): means, then scales
        m = y_shape[0]
        if out.shape != (2 * m, *y_shape[1:]):
            raise CorruptPayload(f"hyper decoder gave shape {list(out.shape)} for latent shape {list(y_shape)}")
        mean, scale = out[:m], out[m:]
        if g_y is not None:
            mean, scale = mean * g_y[:, None, None], scale * g_y[:, None, None]
        index = np.searchsorted(self._scales, scale.reshape(-1).astype(np.float64), side="left")
        return mean, np.minimum(index, len(self._scales) - 1)

    def _integer_params(
        self, z_sym: np.ndarray, z_shape: tuple[int, ...], y_shape: tuple[int, ...], milli: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``_params`` through the integer hyper-synthesis, from z's symbols: the table indices from integers
        alone; the means from its integers too, times g_y in float32 as the float path."""
        net = self.integer
        assert net is not None
        z_hat_q = (z_sym + self._z_minima[:, None]).astype(np.float64) + self._z_offsets[:, None]
        rates = None if self.qualities is None or milli is None else self._integer_rates(milli)
        out = net.run(net.inputs(z_hat_q.reshape(z_shape), None if rates is None else rates[0]))
        if out.shape != (2 * y_shape[0], *y_shape[1:]):
            raise CorruptPayload(f"hyper-synthesis gave shape {list(out.shape)} for latent shape {list(y_shape)}")
        mean, index = net.means(out), net.table_index(out, None if rates is None else rates[1])
        g_y, _ = self._gains(milli)
        return (mean if g_y is None else mean * g_y[:, None, None]), index

    def _integer_rates(self, milli: int) -> tuple[np.ndarray, np.ndarray]:
        """(input multipliers from g_z, log-scale offsets from g_y) at a quality, computed once per quality."""
        found = self._integer_gains.get(milli)
        if found is None:
            assert self.qualities is not None and self.integer is not None
            log_y, log_z = self.qualities.log_gains(milli)
            found = (self.integer.input_gains(log_z), self.integer.log_offsets(log_y))
            if len(self._integer_gains) >= GAIN_CACHE:
                self._integer_gains.clear()
            self._integer_gains[milli] = found
        return found

    def _mean_index(
        self, z_sym: np.ndarray, z_shape: tuple[int, ...], y_shape: tuple[int, ...], milli: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """z's symbols -> (means (M, h, w) float32, table index (M*h*w,)) in y's gained domain: what encoder and
        decoder must agree on, from the integer network when the model has one, else the float hyper decoder."""
        if self.integer is not None:
            return self._integer_params(z_sym, z_shape, y_shape, milli)
        g_y, g_z = self._gains(milli)
        return self._params(self._z_hat(z_sym, z_shape, g_z), y_shape, g_y)

    def _symbols(
        self, y: np.ndarray, z: np.ndarray, milli: int | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One image's (y (M, h, w), z (Z, a, b)) at a quality -> (z symbols, y symbols, y excess, y tables)."""
        g_y, g_z = self._gains(milli)
        z_sym = self._z_symbols(z, g_z)
        mean, index = self._mean_index(z_sym, z.shape, y.shape, milli)
        y_sym, excess = self._y_symbols(y if g_y is None else y * g_y[:, None, None], mean, index)
        return z_sym, y_sym, excess, index

    def _y_symbols(self, y: np.ndarray, mean: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """round(y - mean) offset into each element's table -> (symbols, excess), both (M*h*w,) int64: a value
        outside its table gets the escape symbol and its signed distance beyond the table's range as excess."""
        s = np.rint(y.reshape(-1).astype(np.float64) - mean.reshape(-1).astype(np.float64)).astype(np.int64)
        s -= self._y_minima[index]
        top = self._y_sizes[index] - 2  # the last value symbol; top + 1 is the escape
        limit = (1 << ESCAPE_BITS) - 1
        excess = np.clip(np.where(s < 0, s, np.where(s > top, s - top, 0)), -limit, limit)
        return np.where(excess != 0, top + 1, s), excess

    def _y_hat(self, symbols: np.ndarray, excess: np.ndarray, index: np.ndarray) -> np.ndarray:
        """The inverse of ``_y_symbols`` (without the mean): (M*h*w,) int64 values round(y - mean)."""
        top = self._y_sizes[index] - 2
        offset = np.where(excess < 0, excess, np.where(excess > 0, top + excess, symbols))
        return offset + self._y_minima[index]

    def _groups(self, index: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """(table, positions) in coding order: tables ascending, raster order inside each. The indices sort as
        the smallest unsigned type that holds them, where numpy's stable sort is a radix sort (a seventh of
        the time for a photograph's 300k elements)."""
        order = np.argsort(index.astype(self._index_type), kind="stable")
        counts = np.bincount(index, minlength=len(self._scales))
        ends = np.cumsum(counts)
        return [(int(t), order[ends[t] - counts[t] : ends[t]]) for t in np.flatnonzero(counts)]

    def _encode_one(
        self, y: np.ndarray, z: np.ndarray, size: tuple[int, int], mode: str, extra: Extras, milli: int | None
    ) -> bytes:
        """One image's latents at a quality (None: a fixed-rate model) -> its compact payload."""
        z_sym, y_sym, excess, index = self._symbols(y, z, milli)
        encoder = RangeEncoder()
        for row, model in zip(z_sym, self._z_models, strict=True):
            encoder.encode(row.astype(np.int32), model)
        order = []
        for table, pos in self._groups(index):
            encoder.encode(y_sym[pos].astype(np.int32), self._y_models[table])
            order.append(pos)
        escaped = excess[np.concatenate(order)]
        for e in escaped[escaped != 0]:  # in coding order; the few escaped values only (a Python loop)
            _encode_excess(encoder, int(e))
        code = pb.CompactCode(data=encoder.get_compressed().astype("<u4").tobytes())
        if milli is not None:
            code.quality = milli
        self.geometry.write(code, tuple(y.shape), size[0], size[1], mode, extra)
        return payload.pack_compact(code, self.wire_id, self._key)

    def _milli(self, quality: float | None, max_bytes: int | None) -> int | None:
        """The quality to code at, in thousandths (None for a fixed-rate model), or ValueError saying why not."""
        scale = self.qualities
        if scale is None:
            fixed_rate(self.manifest, quality, max_bytes)
            return None
        if quality is not None and max_bytes is not None:
            raise ValueError("quality and max_bytes both choose the rate: give one of them")
        if max_bytes is not None and max_bytes < 1:
            raise ValueError(f"max_bytes must be a positive number of bytes, not {max_bytes}")
        return scale.default if quality is None else scale.to_wire(quality)

    # --- LatentCodec ----------------------------------------------------------------------------------
    def encode(
        self,
        latents: Latents,
        sizes: Sequence[tuple[int, int]],
        modes: Sequence[str],
        bits: int | None = None,
        extras: Sequence[Extras] | None = None,
        *,
        quality: float | None = None,
        max_bytes: int | None = None,
    ) -> list[bytes]:
        """latents {"latent": (N, M, h, w), "side": (N, Z, h/4, w/4)} -> N compact payloads.

        A variable-rate model codes at ``quality`` (1..K; default the middle preset), or, with ``max_bytes``,
        each image at the highest quality whose payload is at most that long (``BudgetTooSmall`` when none is)."""
        if bits is not None:
            raise ValueError(f"model {self.manifest.name!r} codes at the rate it was trained for: bits does not apply")
        if not isinstance(latents, Mapping):
            raise ValueError("a hyperprior codec needs the encoder's 'latent' and 'side' outputs")
        milli = self._milli(quality, max_bytes)
        out = []
        each = per_image(extras, len(sizes))
        for y, z, size, mode, extra in zip(latents["latent"], latents[SIDE], sizes, modes, each, strict=True):
            if max_bytes is None or self.qualities is None:
                out.append(self._encode_one(y, z, size, mode, extra, milli))
            else:  # the encoder graph ran once; each try is the hyper decoder and the range coder
                at = partial(self._encode_one, y, z, size, mode, extra)
                out.append(best_within(at, self.qualities.lowest, self.qualities.highest, max_bytes))
        return out

    def estimated_bits(self, latents: Latents, bits: int | None = None, *, quality: float | None = None) -> np.ndarray:
        """(N,) -sum log2 p of each image's z and y symbols under the integer tables (at ``quality``)."""
        return np.asarray([side + main for side, main in self._estimated_parts(latents, quality)])

    def estimated_side_bits(self, latents: Latents, *, quality: float | None = None) -> np.ndarray:
        """(N,) the part of ``estimated_bits`` that codes z, the side information."""
        return np.asarray([side for side, _ in self._estimated_parts(latents, quality)])

    def _estimated_parts(self, latents: Latents, quality: float | None) -> list[tuple[float, float]]:
        """(z bits, y bits) of each image."""
        if not isinstance(latents, Mapping):
            raise ValueError("a hyperprior codec needs the encoder's 'latent' and 'side' outputs")
        milli = self._milli(quality, None)
        z_logp = np.log2(self._z_counts / self._z_counts.sum(axis=1, keepdims=True))
        out = []
        for y, z in zip(latents["latent"], latents[SIDE], strict=True):
            z_sym, y_sym, excess, index = self._symbols(y, z, milli)
            side = float(-np.take_along_axis(z_logp, z_sym, axis=1).sum())
            total = 0.0
            for table, pos in self._groups(index):
                counts = np.asarray(self._y_counts[table], dtype=np.float64)
                total -= np.log2(counts[y_sym[pos]] / counts.sum()).sum()
            for e in excess[excess != 0]:
                total += 1 + np.log2(ESCAPE_BITS + 1) + 8 * _excess_bytes(int(e))
            out.append((side, float(total)))
        return out

    def decode(self, code: payload.Code, *, max_pixels: int | None = None) -> np.ndarray:
        """A CompactCode -> (1, M, h, w) float32 y_hat; fills in width, height, mode and latent_shape."""
        code = payload.check_compact(code, self.wire_id, self._key, self.manifest.name, self.manifest.version)
        self.geometry.fill(code)
        y_shape = self.geometry.check(code, max_pixels)  # the quality too: present exactly for variable rate
        g_y, _ = self._gains(code.quality)
        z_shape = (len(self._z_offsets), -(-y_shape[1] // HYPER_STRIDE), -(-y_shape[2] // HYPER_STRIDE))
        if len(code.data) % 4:
            raise CorruptPayload("coded latent length is not a whole number of 32-bit words")
        try:
            decoder = RangeDecoder(np.frombuffer(code.data, dtype="<u4").astype(np.uint32))
            per_channel = z_shape[1] * z_shape[2]
            z_sym = np.stack([decoder.decode(model, per_channel) for model in self._z_models]).astype(np.int64)
            mean, index = self._mean_index(z_sym, z_shape, y_shape, code.quality or None)
            y_sym = np.empty(index.shape, dtype=np.int64)
            order = []
            for table, pos in self._groups(index):
                y_sym[pos] = decoder.decode(self._y_models[table], len(pos))
                order.append(pos)
            excess = np.zeros(index.shape, dtype=np.int64)
            coded = np.concatenate(order)
            for p in coded[y_sym[coded] == self._y_sizes[index[coded]] - 1]:
                excess[p] = _decode_excess(decoder)
        except CorruptPayload:
            raise
        except Exception as exc:  # the coder raises on data that cannot be a valid stream
            raise CorruptPayload(f"coded latent cannot be decoded: {exc}") from exc
        y_hat = self._y_hat(y_sym, excess, index).astype(np.float32).reshape(y_shape) + mean
        return (y_hat if g_y is None else y_hat / g_y[:, None, None])[None]


def _excess_bytes(e: int) -> int:
    """Bytes holding the bits of |e| below its leading one."""
    return (abs(e).bit_length() - 1 + 7) // 8


def _encode_excess(encoder: Any, e: int) -> None:
    """A non-zero distance beyond a table: sign, bit length, then the bits below the leading one, a byte at a time."""
    m = abs(e)
    encoder.encode(int(e > 0), _SIGN)
    encoder.encode(m.bit_length(), _LENGTH)
    rest = m - (1 << (m.bit_length() - 1))
    for k in range(_excess_bytes(e)):
        encoder.encode((rest >> (8 * k)) & 0xFF, _BYTE)


def _decode_excess(decoder: Any) -> int:
    sign, length = int(decoder.decode(_SIGN)), int(decoder.decode(_LENGTH))
    if length == 0:
        raise CorruptPayload("coded latent has an escaped value of bit length 0")
    rest = 0
    for k in range((length - 1 + 7) // 8):
        rest |= int(decoder.decode(_BYTE)) << (8 * k)
    m = (1 << (length - 1)) + rest
    if m >= 1 << length:
        raise CorruptPayload("coded latent has an escaped value longer than its declared bit length")
    return m if sign else -m
