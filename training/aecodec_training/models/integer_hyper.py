"""A trained hyper-synthesis turned into the integer network the wire codec runs (``aecodec_wire.integer_hyper``).

Post-training conversion: each convolution's weights are scaled per output channel to the largest integer
of ``weight_bits`` and rounded; activations get one fixed-point scale per layer, calibrated on the z_hat the
hyper decoder really sees (its largest value times ``margin`` fits the activation range; beyond it, values
saturate); biases are rounded at the scale of their accumulator; the rescale to the next layer's scale (and
the LeakyReLU's slope) becomes an integer multiplier and a right shift as large as int64 allows. The raw
scales' softplus, log and the Gaussian tables' boundaries become one sorted table of integer thresholds.
The bit widths keep every accumulation below 2**53, so float64 products on the integers are exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from aecodec_wire.integer_hyper import FLOAT_EXACT, INT64_LIMIT, input_extent, weight_sum
from aecodec_wire.manifest import IntegerHyper, IntegerLayer, PriorTables


@dataclass(frozen=True)
class FloatLayer:
    """One layer of a float hyper-synthesis: conv (stride 1, same padding), LeakyReLU (None: none), shuffle."""

    weight: np.ndarray  # (O, C, k, k)
    bias: np.ndarray  # (O,)
    slope: float | None
    upsample: int


@dataclass(frozen=True)
class IntegerBits:
    """The conversion's precision: float64-exact for up to 2**11 inputs per output at these defaults."""

    weight_bits: int = 12
    activation_bits: int = 20
    output_fraction: int = 16  # means and raw scales leave as integers of 2**-16
    log_step_bits: int = 5  # 32 log-scale steps between neighbouring Gaussian tables
    margin: float = 4.0  # activation headroom over the largest calibration value


def integerise(
    layers: Sequence[FloatLayer],
    calibration: torch.Tensor,
    prior: PriorTables,
    scales: Sequence[float],
    log_gain_y: np.ndarray | None = None,
    log_gain_z: np.ndarray | None = None,
    bits: IntegerBits = IntegerBits(),
) -> tuple[IntegerHyper, dict[str, np.ndarray]]:
    """The manifest's ``integer_hyper`` and the file's arrays for ``layers``, calibrated on ``calibration``
    (N, Z, a, b) z_hat; ``log_gain_y`` (K, M) and ``log_gain_z`` (K, Z): a variable-rate model's gains."""
    amax = (1 << (bits.activation_bits - 1)) - 1
    wmax = (1 << (bits.weight_bits - 1)) - 1
    budget = FLOAT_EXACT / amax  # sum |w_int| of one output times the activation clip stays below 2**53
    shrink = 1.0 if log_gain_z is None else float(np.exp(-np.min(log_gain_z)))  # z_hat = z_hat_q / g_z
    input_fraction = max(0, min(40, math.floor(math.log2(amax / (input_extent(prior) * shrink)))))
    scale = float(1 << input_fraction)  # the activation scale of the current layer's input
    act = calibration.double()
    arrays: dict[str, np.ndarray] = {}
    specs = []
    for i, layer in enumerate(layers):
        last = i == len(layers) - 1
        w = torch.from_numpy(layer.weight).double()
        b = torch.from_numpy(layer.bias).double()
        peak, total = w.abs().flatten(1).amax(1), w.abs().flatten(1).sum(1)
        room = budget - 1 - layer.weight[0].size / 2  # what sum |w| may reach before rounding (+1/2 each)
        per_out = torch.where(peak > 0, torch.minimum(wmax / peak, room / total).clamp_min(1e-300), 1.0)  # s_o
        pre = F.conv2d(act, w, b, padding=layer.weight.shape[-1] // 2)
        if layer.slope is not None:
            pre = F.leaky_relu(pre, layer.slope)
        act = F.pixel_shuffle(pre, layer.upsample) if layer.upsample > 1 else pre
        top = float(act.abs().max())
        out_scale = float(1 << bits.output_fraction) if last else amax / (bits.margin * top) if top > 0 else 1.0
        ratio = (out_scale / (per_out * scale)).numpy()
        bias = np.rint((b * per_out * scale).numpy()).astype(np.int64)
        slope = 1.0 if layer.slope is None else layer.slope
        weights = np.rint((w * per_out[:, None, None, None]).numpy()).astype(np.int16)
        largest = weight_sum(weights) * amax + int(np.abs(bias).max())
        shift = _shift(largest, float(ratio.max()) * max(1.0, abs(slope)))
        arrays[f"w{i}"] = weights
        arrays[f"b{i}"] = bias
        arrays[f"up{i}"] = np.rint(ratio * 2.0**shift).astype(np.int64)
        arrays[f"down{i}"] = np.rint(ratio * slope * 2.0**shift).astype(np.int64)
        specs.append(
            IntegerLayer(
                in_channels=layer.weight.shape[1],
                out_channels=layer.weight.shape[0],
                kernel=layer.weight.shape[-1],
                upsample=layer.upsample,  # type: ignore[arg-type]
                shift=shift,
            )
        )
        scale = out_scale
    log_units, log_min, thresholds = _log_scale(scales, log_gain_y, bits)
    arrays["thresholds"] = thresholds
    limit = (input_extent(prior) + 1) * 2**input_fraction * (shrink * 1.01 + 1)
    spec = IntegerHyper(
        weight_bits=bits.weight_bits,
        activation_bits=bits.activation_bits,
        input_fraction=input_fraction,
        gain_fraction=max(1, min(40, math.floor(math.log2(INT64_LIMIT / 4 / limit)))),
        output_fraction=bits.output_fraction,
        layers=specs,
        log_step_bits=bits.log_step_bits,
        log_units=log_units,
        log_min=log_min,
        log_levels=len(thresholds),
    )
    return spec, arrays


def _shift(largest: int, ratio: float) -> int:
    """The largest right shift (at most 62) whose multipliers ratio * 2**shift keep largest * m in int64."""
    if largest >= FLOAT_EXACT:
        raise ValueError(f"an accumulation can reach {largest}: fewer weight or activation bits are needed")
    shift = 62
    while shift > 0 and largest * (math.ceil(ratio * 2.0**shift) + 1) + (1 << shift) >= INT64_LIMIT:
        shift -= 1
    return shift


def _log_scale(
    scales: Sequence[float], log_gain_y: np.ndarray | None, bits: IntegerBits
) -> tuple[float, int, np.ndarray]:
    """(units per nat, the lowest level, thresholds): level(r) = log_min + #{thresholds <= r} is
    ceil((log softplus(r * 2**-F) - log scales[0]) * units), kept where some gain can still move the index.
    Rounded up, so that ceil(level / 2**log_step_bits) is exactly the float rule's first scale >= sigma (an
    integer gain offset keeps that); rounding to nearest put a 64th of the elements one table too low."""
    logs = np.log(np.asarray(scales, dtype=np.float64))
    count = len(logs)
    spacing = (logs[-1] - logs[0]) / max(1, count - 1)
    if count < 2 or spacing <= 0 or not np.allclose(logs, logs[0] + spacing * np.arange(count), rtol=0, atol=1e-9):
        raise ValueError("an integer hyper-synthesis needs log-spaced Gaussian scales (two or more)")
    step = 1 << bits.log_step_bits
    units = step / spacing
    gains = np.zeros(1) if log_gain_y is None else np.asarray(log_gain_y, dtype=np.float64)
    g_lo, g_hi = math.floor(gains.min() * units) - 1, math.ceil(gains.max() * units) + 1
    lowest, highest = -g_hi, (count - 2) * step + 1 - g_lo  # below / above: the first / last table at any gain
    # level >= t where softplus(raw) > scales[0] * exp((t - 1) / units): the smallest such integer raw
    target = np.exp(logs[0] + (np.arange(lowest + 1, highest + 1) - 1) / units)
    raw = target + np.log(-np.expm1(-target))  # softplus^-1
    return float(units), lowest, (np.floor(raw * 2.0**bits.output_fraction) + 1).astype(np.int64)
