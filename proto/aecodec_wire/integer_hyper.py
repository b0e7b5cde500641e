"""A hyperprior codec's hyper-synthesis as an integer network: z's symbols -> every latent element's mean and
Gaussian table index, computed from integers alone, so encoder and decoder agree on every table on any machine
(Ballé, Johnston, Minnen 2019, "Integer networks for data compression with latent-variable models").

Why: the table index decides how each element of y is range-coded. Taken from the float32 scales of
``hyper_decoder.onnx`` it depends on the last bits of those floats, which differ between execution providers,
CPU kernels, onnxruntime versions and optimisation levels; one element on the other side of a table boundary
and the rest of the stream decodes to garbage. Integer arithmetic has no last bits to differ in.

How (the numbers are the manifest's ``integer_hyper`` and the file ``hyper_synthesis.npz``):

- z_hat enters in fixed point, round(z_hat * 2**input_fraction); a variable-rate model's z_hat_q / g_z as
  (round(z_hat_q * 2**input_fraction) * round(2**gain_fraction / g_z)) >> gain_fraction, where
  2**gain_fraction / g_z = 2**gain_fraction * exp(-log g_z) is computed with ``decimal`` (its exp is correctly
  rounded by specification, so it has no machine-dependent last bit either).
- Each layer: a convolution with integer weights (per output channel scaled, |w| < 2**(weight_bits - 1)) plus
  an integer bias, then per output channel (v * m + 2**(shift - 1)) >> shift with m = ``up`` for v >= 0 and
  ``down`` below (a LeakyReLU in integers; rounding half up), activations clipped to
  +-(2**(activation_bits - 1) - 1), then a pixel shuffle.
- The convolutions are float64 matrix products (BLAS, fast) on integer-valued arrays, the bias added after in
  int64. Every partial sum of an output is at most (the sum of |w| over its inputs) times the activation clip;
  the loader computes that bound from the weights and refuses a network where it reaches 2**53. Below it,
  every product and every partial sum is an integer float64 holds exactly, so each operation is exact and the
  result is the same integers whatever the summation order, blocking, FMA or threads. (float32 would need
  the bound below 2**24: about 9-bit activations, measured to move a third of the tables, and single-threaded
  sgemm was only twice as fast.) Every rescale is int64, checked below 2**63.
- The last layer's outputs are the means and raw (pre-softplus) scales at 2**-output_fraction. A mean is that
  integer times 2**-output_fraction (exact in float64), then float32. A raw scale r is mapped to an integer
  log-scale by a sorted table of thresholds made at export (the number of thresholds <= r: softplus and log
  evaluated once, at export, and stored); a variable-rate model adds round(log g_y * log_units); the index
  is the ceiling of that over 2**log_step_bits, clipped to the tables.

Exported by training (``aecodec_training.models.integer_hyper``) for every hyperprior codec with sub-pixel
upsampling; models without it keep the float path.
"""

from __future__ import annotations

import decimal
import math
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .manifest import INTEGER_HYPER_FILE, IntegerHyper, Manifest, PriorTables

FLOAT_EXACT = 1 << 53  # integers below this are exact in float64, and so is every sum of them that stays below
INT64_LIMIT = 1 << 63
STRIP_VALUES = 1 << 22  # im2col values per strip of output rows (32 MiB of float64): memory stays bounded
LOOKUP_LIMIT = 1 << 22  # buckets of the log-scale lookup (LevelLookup): 8 MiB at most
THRESHOLD_LIMIT = 1 << 62
NPY_HEADER = 4096  # room for an .npy member's header beyond its data
_DECIMAL = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN)


def input_extent(prior: PriorTables) -> int:
    """A bound on |z_hat_q| = |symbol + minimum + offset| over every symbol of z's tables."""
    k = len(prior.counts[0])
    ends = (max(abs(lo + off), abs(lo + k - 1 + off)) for lo, off in zip(prior.minima, prior.offsets, strict=True))
    return math.ceil(max(ends))


def array_names(spec: IntegerHyper) -> dict[str, tuple[int, ...]]:
    """The arrays of the network's file and their shapes: per layer i ``w{i}`` (O, C, k, k), ``b{i}``,
    ``up{i}`` and ``down{i}`` (O,); and the ``thresholds`` of the log-scale."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i, layer in enumerate(spec.layers):
        o = layer.out_channels
        shapes[f"w{i}"] = (o, layer.in_channels, layer.kernel, layer.kernel)
        shapes |= {f"b{i}": (o,), f"up{i}": (o,), f"down{i}": (o,)}
    return shapes | {"thresholds": (spec.log_levels,)}


def read_arrays(path: Path, spec: IntegerHyper) -> dict[str, np.ndarray]:
    """The file's arrays (an .npz archive), each checked before its data is read: a member the spec names, no
    larger than its declared shape can be, whose .npy header declares exactly that shape and an integer type
    of at most 8 bytes; so a small file cannot make the loader allocate more than the manifest says."""
    shapes = array_names(spec)
    out = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename.removesuffix(".npy")
            if name not in shapes or info.file_size > 8 * math.prod(shapes[name]) + NPY_HEADER:
                raise ValueError(f"{path.name}: unexpected member {info.filename!r} ({info.file_size} bytes)")
            with zf.open(info) as fp:
                major, _ = np.lib.format.read_magic(fp)
                if major not in (1, 2):
                    raise ValueError(f"{path.name}: {name} is in .npy format {major}, expected 1 or 2")
                read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read(fp)
                if shape != shapes[name] or not _integers(dtype) or fortran:
                    raise ValueError(f"{path.name}: {name} is {dtype} {shape}, expected integers {shapes[name]}")
                data = fp.read(math.prod(shape) * dtype.itemsize)
            if len(data) != math.prod(shape) * dtype.itemsize:
                raise ValueError(f"{path.name}: {name} is truncated")
            out[name] = np.frombuffer(data, dtype=dtype).reshape(shape).copy()  # writable, like np.load
    return out


class IntegerHyperSynthesis:
    """The integer hyper-synthesis of one model version (its manifest's ``integer_hyper`` and arrays)."""

    def __init__(self, manifest: Manifest, arrays: Mapping[str, np.ndarray]) -> None:
        spec = manifest.integer_hyper
        if spec is None or manifest.gaussian is None or manifest.prior is None:
            raise ValueError(f"model {manifest.name!r} declares no integer hyper-synthesis")
        self.spec = spec
        self.tables = len(manifest.gaussian.scales)
        self.amax = (1 << (spec.activation_bits - 1)) - 1
        self.latent = spec.layers[-1].out_channels // spec.layers[-1].upsample ** 2 // 2
        shapes = array_names(spec)
        if set(arrays) != set(shapes):
            raise ValueError(f"{INTEGER_HYPER_FILE}: arrays {sorted(arrays)}, expected {sorted(shapes)}")
        for name, shape in shapes.items():
            a = arrays[name]
            if a.shape != shape or not _integers(a.dtype):
                raise ValueError(f"{INTEGER_HYPER_FILE}: {name} is {a.dtype} {a.shape}, expected integers {shape}")
        self._weights, self._bias, self._up, self._down = [], [], [], []
        wmax = (1 << (spec.weight_bits - 1)) - 1
        for i, layer in enumerate(spec.layers):
            w, b = arrays[f"w{i}"].astype(np.int64), arrays[f"b{i}"].astype(np.int64)
            up, down = arrays[f"up{i}"].astype(np.int64), arrays[f"down{i}"].astype(np.int64)
            if _magnitude(w) > wmax:
                raise ValueError(f"{INTEGER_HYPER_FILE}: w{i} exceeds +-{wmax} ({spec.weight_bits} bits)")
            sums = weight_sum(w) * self.amax  # bounds every partial sum of every output
            if sums >= FLOAT_EXACT:
                raise ValueError(f"{INTEGER_HYPER_FILE}: layer {i}'s sums can reach {sums}: not exact in float64")
            m = max(_magnitude(up), _magnitude(down))
            if (sums + _magnitude(b)) * m + (1 << layer.shift) >= INT64_LIMIT:
                raise ValueError(f"{INTEGER_HYPER_FILE}: layer {i}'s rescale can overflow int64")
            self._weights.append(w.reshape(layer.out_channels, -1).astype(np.float64))
            self._bias.append(b[:, None, None])
            self._up.append(up[:, None, None])
            self._down.append(down[:, None, None])
        thresholds = arrays["thresholds"].astype(np.int64)
        if np.any(np.diff(thresholds) < 0):
            raise ValueError(f"{INTEGER_HYPER_FILE}: the thresholds must ascend")
        self._levels = LevelLookup(thresholds)
        self._input_limit = (input_extent(manifest.prior) + 1) << spec.input_fraction  # bounds |round(z_hat_q * 2**f)|
        rate = manifest.variable_rate
        if rate is not None:  # the largest 2**gain_fraction / g_z times the largest input must stay in int64
            biggest = math.exp(-min(min(row) for row in rate.log_gain_z)) * 1.01 + 1
            if self._input_limit * biggest * 2**spec.gain_fraction >= INT64_LIMIT // 2:
                raise ValueError(f"{INTEGER_HYPER_FILE}: gain_fraction too large for the gains: int64 overflows")

    @classmethod
    def from_folder(cls, folder: Path, manifest: Manifest) -> IntegerHyperSynthesis | None:
        """The network of a model folder, or None when its manifest declares none."""
        if manifest.integer_hyper is None:
            return None
        return cls(manifest, read_arrays(folder / INTEGER_HYPER_FILE, manifest.integer_hyper))

    # --- the gains of a variable-rate model, as integers ----------------------------------------------
    def input_gains(self, log_z: np.ndarray) -> np.ndarray:
        """(Z,) round(2**gain_fraction / g_z) for log-gains log_z (float32), with correctly rounded decimal exp."""
        scale = decimal.Decimal(1 << self.spec.gain_fraction)
        out = [
            int(_DECIMAL.multiply(_DECIMAL.exp(-decimal.Decimal(float(v))), scale).to_integral_value(_DECIMAL.rounding))
            for v in log_z
        ]
        return np.asarray(out, dtype=np.int64)

    def log_offsets(self, log_y: np.ndarray) -> np.ndarray:
        """(M,) round(log g_y * log_units): g_y's factor on the scales as an offset of the integer log-scale."""
        return np.rint(log_y.astype(np.float64) * self.spec.log_units).astype(np.int64)

    # --- the network ----------------------------------------------------------------------------------
    def inputs(self, z_hat_q: np.ndarray, gains: np.ndarray | None = None) -> np.ndarray:
        """(Z, a, b) dequantised z (float64; the symbols plus the prior's offsets) -> the integer input, divided
        by g_z when ``gains`` (``input_gains``) are given."""
        x = np.rint(z_hat_q * float(1 << self.spec.input_fraction)).astype(np.int64)
        x = np.clip(x, -self._input_limit, self._input_limit)  # within the prior's range already; a guard
        if gains is not None:
            p = self.spec.gain_fraction
            x = (x * gains[:, None, None] + (1 << (p - 1))) >> p
        return np.clip(x, -self.amax, self.amax)

    def run(self, x: np.ndarray) -> np.ndarray:
        """Integer input (Z, a, b) -> (2M, h, w) int64: the means, then the raw scales, at 2**-output_fraction."""
        a = np.clip(np.asarray(x, dtype=np.int64), -self.amax, self.amax)
        last = len(self.spec.layers) - 1
        for i, layer in enumerate(self.spec.layers):
            a = _shuffle(self._layer(i, a, clip=i < last), layer.upsample)
        return a

    def _layer(self, i: int, a: np.ndarray, clip: bool) -> np.ndarray:
        """Layer i (before its pixel shuffle) on integer activations (C, H, W) -> (O, H, W) int64: a float64
        matrix product on im2col columns (exact, see above), the bias, the rescale; in strips of rows, so the
        temporaries stay within ``STRIP_VALUES`` whatever the image size."""
        layer, w = self.spec.layers[i], self._weights[i]
        c, h, width = a.shape
        k, p = layer.kernel, layer.kernel // 2
        padded = np.pad(a.astype(np.float64), ((0, 0), (p, p), (p, p)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(1, 2))  # (C, H, W, k, k)
        out = np.empty((w.shape[0], h, width), dtype=np.int64)
        rows = max(1, STRIP_VALUES // (c * k * k * width))
        for r in range(0, h, rows):
            cols = windows[:, r : r + rows].transpose(0, 3, 4, 1, 2).reshape(c * k * k, -1)
            v = (w @ cols).astype(np.int64).reshape(w.shape[0], -1, width) + self._bias[i]
            v = (v * np.where(v >= 0, self._up[i], self._down[i]) + ((1 << layer.shift) >> 1)) >> layer.shift
            out[:, r : r + rows] = np.clip(v, -self.amax, self.amax) if clip else v
        return out

    def means(self, out: np.ndarray) -> np.ndarray:
        """The network's output -> (M, h, w) float32 means (exact in float64 first, then one rounding)."""
        return (out[: self.latent] * 2.0**-self.spec.output_fraction).astype(np.float32)

    def table_index(self, out: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
        """The network's output -> (M*h*w,) Gaussian table index of each element, raised by a variable-rate
        model's ``log_offsets``."""
        raw = out[self.latent :].reshape(self.latent, -1)
        level = self.spec.log_min + self._levels.count(raw)
        if offsets is not None:
            level = level + offsets[:, None]
        index = -((-level) >> self.spec.log_step_bits)  # ceil(level / 2**log_step_bits)
        return np.clip(index, 0, self.tables - 1).reshape(-1)


class LevelLookup:
    """#{thresholds <= r} for every r of an array, exactly, in a few array passes rather than a binary search
    per element (np.searchsorted: 14 ms for a 768x512 photograph's 300k scales; this: a fifth of that).

    r falls in a bucket of width 2**shift no wider than the smallest gap between distinct thresholds, so a
    bucket holds at most one distinct threshold: the count is the count at the bucket's start, plus that
    threshold's multiplicity when r reaches it."""

    def __init__(self, thresholds: np.ndarray) -> None:
        distinct, runs = np.unique(thresholds, return_counts=True)
        if len(distinct) == 0 or _magnitude(distinct) > THRESHOLD_LIMIT:
            raise ValueError(f"{INTEGER_HYPER_FILE}: thresholds must be given, within +-2**62")
        gap = int(np.diff(distinct).min()) if len(distinct) > 1 else 1
        self.shift = gap.bit_length() - 1  # 2**shift <= gap
        self.base, self.top = int(distinct[0]) - 1, int(distinct[-1])  # below base: count 0; from top: all
        buckets = ((self.top - self.base) >> self.shift) + 1
        if buckets > LOOKUP_LIMIT:
            raise ValueError(f"{INTEGER_HYPER_FILE}: thresholds too dense for a lookup of {LOOKUP_LIMIT} buckets")
        starts = self.base + (np.arange(buckets, dtype=np.int64) << self.shift)
        index_type = np.min_scalar_type(len(distinct))
        self._first = np.searchsorted(distinct, starts, side="right").astype(index_type)  # first distinct > start
        self._next = np.append(distinct, np.iinfo(np.int64).max)
        self._below = np.concatenate([[0], np.cumsum(runs)])  # thresholds below distinct[k]

    def count(self, r: np.ndarray) -> np.ndarray:
        """#{thresholds <= r} elementwise, int64 (the same as np.searchsorted(thresholds, r, side="right"))."""
        r = np.clip(r, self.base, self.top)
        k = self._first[(r - self.base) >> self.shift].astype(np.int64)
        k += r >= self._next[k]
        return self._below[k]


def _integers(dtype: np.dtype) -> bool:
    """An integer type int64 holds every value of."""
    return (dtype.kind == "i" and dtype.itemsize <= 8) or (dtype.kind == "u" and dtype.itemsize < 8)


def _magnitude(a: np.ndarray) -> int:
    """The largest |value| as a Python integer (np.abs of int64's minimum would overflow)."""
    return max(-int(a.min()), int(a.max()))


def weight_sum(w: np.ndarray) -> int:
    """The largest sum of |w| over one output's inputs: times the activation clip, it bounds every partial sum."""
    return int(np.abs(w.astype(np.int64)).reshape(len(w), -1).sum(1).max())


def _shuffle(a: np.ndarray, r: int) -> np.ndarray:
    """PixelShuffle: (C*r*r, H, W) -> (C, H*r, W*r), out[c, h*r + i, w*r + j] = a[c*r*r + i*r + j, h, w]."""
    if r == 1:
        return a
    c, h, w = a.shape
    return a.reshape(c // (r * r), r, r, h, w).transpose(0, 3, 1, 4, 2).reshape(c // (r * r), h * r, w * r)
