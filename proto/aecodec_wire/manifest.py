"""The model manifest: what export writes beside the ONNX files and the service reads.

One definition for both sides, so a field cannot mean one thing in training and
another in serving. A model folder holds ``encoder.onnx``, ``decoder.onnx`` and
``manifest.json`` (a hyperprior codec also ``hyper_decoder.onnx`` and/or ``hyper_synthesis.npz``); the
model's version is a content hash over them (``hashed_files``).

ONNX graph conventions every exported model follows:
- encoder: input ``image`` float32 (N, C, H, W) in ``input.range``;
  output ``latent`` (N, *latent_shape) (the mean for a VAE), and for a VAE
  also ``logvar`` of the same shape.
- decoder: input ``latent``; output ``image`` float32 (N, C, H, W) in ``output_range``.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MANIFEST_FILE = "manifest.json"
ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder.onnx"
HYPER_DECODER_FILE = "hyper_decoder.onnx"  # hyperprior codecs only: side latent -> means and scales of the latent
INTEGER_HYPER_FILE = "hyper_synthesis.npz"  # hyperprior codecs with ``integer_hyper``: its integer arrays
SCHEMA_VERSION: Final = 1
VERSION_HEX_CHARS = 16  # 8 bytes: the payload header carries them raw
MAX_LOG_GAIN = 16.0  # |log gain| bound: exp of it stays far inside float32

ModelKind = Literal["autoencoder", "denoising", "sparse", "vae", "codec"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    """What the encoder takes: channels, fixed size (None for any size), value range."""

    channels: Literal[1, 3]
    height: int | None = Field(default=None, gt=0)
    width: int | None = Field(default=None, gt=0)
    # uint8 pixels p are fed as lo + (hi - lo) * p / 255
    range: tuple[float, float] = (0.0, 1.0)
    # fully convolutional models need H and W padded to a multiple of this
    pad_multiple: int = Field(default=1, ge=1)

    @property
    def fixed_size(self) -> bool:
        return self.height is not None and self.width is not None


class LatentStats(_Strict):
    """Per-channel statistics of the latent on training data, for quantisation.

    A latent of one image has shape (C, *spatial); an MLP latent (49,) has C = 49
    channels with no spatial axes. ``lo``/``hi`` bound the quantiser, and
    ``counts[c]`` is the 256-bin histogram of channel c quantised at 8 bits
    (Laplace-smoothed, so every symbol has a nonzero count). Tables for fewer
    bits are derived by summing adjacent bins (see ``aecodec_wire.quantize``).
    """

    lo: list[float]
    hi: list[float]
    mean: list[float]
    std: list[float]
    counts: list[list[int]]

    @model_validator(mode="after")
    def _consistent(self) -> LatentStats:
        n = len(self.lo)
        if not (len(self.hi) == len(self.mean) == len(self.std) == len(self.counts) == n):
            raise ValueError("latent stats: lo, hi, mean, std and counts need one entry per channel")
        if any(len(row) != 256 or min(row) < 1 for row in self.counts):
            raise ValueError("latent stats: counts need 256 positive integers per channel")
        if any(h <= lo for lo, h in zip(self.lo, self.hi, strict=False)):
            raise ValueError("latent stats: hi must exceed lo in every channel")
        return self


class PriorTables(_Strict):
    """A rate-distortion codec's frozen factorised prior (kind "codec"), read by ``aecodec_wire.prior_codec``.

    Channel c quantises y to s = round(y - offsets[c]) clipped to [minima[c], minima[c] + K - 1] and
    range-codes s - minima[c] with the positive integer frequencies ``counts[c]`` (K per channel, from the
    learned CDF at 2**precision, tails folded into the end bins); it decodes to s + offsets[c].
    """

    precision: int = Field(ge=8, le=24)
    offsets: list[float]
    minima: list[int]
    counts: list[list[int]]

    @model_validator(mode="after")
    def _consistent(self) -> PriorTables:
        n = len(self.offsets)
        if not (len(self.minima) == len(self.counts) == n) or n == 0:
            raise ValueError("prior: offsets, minima and counts need one entry per latent channel")
        if len({len(row) for row in self.counts}) != 1 or any(min(row) < 1 for row in self.counts):
            raise ValueError("prior: counts need the same number (>= 1) of positive integers per channel")
        return self


class GaussianTables(_Strict):
    """A hyperprior codec's fixed Gaussian tables, read by ``aecodec_wire.hyperprior``.

    An element whose predicted scale is sigma uses table i = the first ``scales[i] >= sigma`` (the last if
    none). Its value s = round(y - mu) is range-coded with the positive integer frequencies ``counts[i]`` (a
    zero-mean Gaussian of scale ``scales[i]`` convolved with U(-1/2, 1/2), at 2**precision): as symbol
    s - minima[i] when it lies in [minima[i], minima[i] + len(counts[i]) - 2], else as the last symbol, the
    escape, followed by the value itself (``aecodec_wire.hyperprior``), so no value is ever clipped.
    """

    precision: int = Field(ge=8, le=24)
    scales: list[float]
    minima: list[int]
    counts: list[list[int]]

    @model_validator(mode="after")
    def _consistent(self) -> GaussianTables:
        n = len(self.scales)
        if not (len(self.minima) == len(self.counts) == n) or n == 0:
            raise ValueError("gaussian: scales, minima and counts need one entry per table")
        if any(len(row) < 2 or min(row) < 1 for row in self.counts) or sorted(self.scales) != self.scales:
            raise ValueError("gaussian: scales must ascend and every table needs positive counts (values, escape)")
        return self


class VariableRate(_Strict):
    """A variable-rate hyperprior codec's gain vectors (Cui et al. 2021), read by ``aecodec_wire.variable_rate``.

    One model codes every rate: a quality Q in [1, levels] (its integers are the trained levels, one per
    lambda) interpolates the log-gains linearly between rows floor(Q) and floor(Q) + 1 (1-based), and the
    codec quantises y * exp(log_gain_y) and z * exp(log_gain_z) instead of y and z. The graphs stay the
    plain hyperprior's (ungained); the gains are data, so both sides compute them from the quality the
    payload carries. ``lambdas`` are informative (what each level was trained for).
    """

    levels: int = Field(ge=2, le=64)
    lambdas: list[float]
    log_gain_y: list[list[float]]  # (levels, M): one row per level, one value per channel of y
    log_gain_z: list[list[float]]  # (levels, Z)

    @model_validator(mode="after")
    def _consistent(self) -> VariableRate:
        if not (len(self.lambdas) == len(self.log_gain_y) == len(self.log_gain_z) == self.levels):
            raise ValueError("variable_rate: lambdas, log_gain_y and log_gain_z need one row per level")
        for what, rows in (("log_gain_y", self.log_gain_y), ("log_gain_z", self.log_gain_z)):
            if len({len(r) for r in rows}) != 1 or not rows[0]:
                raise ValueError(f"variable_rate: every row of {what} needs the same number (>= 1) of values")
            if not all(math.isfinite(v) and abs(v) <= MAX_LOG_GAIN for r in rows for v in r):
                raise ValueError(f"variable_rate: {what} values must be finite, within +-{MAX_LOG_GAIN}")
        return self


class IntegerLayer(_Strict):
    """One layer of an integer hyper-synthesis (``aecodec_wire.integer_hyper``): a ``kernel`` x ``kernel``
    convolution (stride 1, zero padding kernel // 2) with integer weights and biases, each output channel
    rescaled by an integer multiply and a right shift by ``shift`` with rounding (one multiplier for values
    >= 0, another below: a LeakyReLU where they differ), then a pixel shuffle by ``upsample``."""

    in_channels: int = Field(ge=1, le=4096)
    out_channels: int = Field(ge=1, le=16384)
    kernel: Literal[1, 3, 5] = 3
    upsample: Literal[1, 2] = 1
    shift: int = Field(ge=0, le=62)


class IntegerHyper(_Strict):
    """A hyperprior codec's hyper-synthesis as an integer network (Ballé, Johnston, Minnen 2019), so that
    encoder and decoder pick every element's Gaussian table from the same integers on any machine; its
    arrays are the file ``hyper_synthesis.npz`` beside the graphs, covered by the content hash.

    z_hat enters as round(z_hat * 2**input_fraction) (a variable-rate model's division by g_z as a
    multiplication by round(2**gain_fraction / g_z), shifted back); activations are clipped to
    +-(2**(activation_bits - 1) - 1); weights lie within +-(2**(weight_bits - 1) - 1). The last layer's
    outputs, means then raw scales, leave at 2**-output_fraction. A raw scale r becomes an integer log-scale
    L(r) = log_min + #{thresholds <= r} (``log_levels`` ascending thresholds in the file: log softplus,
    rounded up), in units of 1/2**log_step_bits of the Gaussian tables' log-spacing, counted from the first
    table; a variable-rate model adds round(log g_y * log_units) (``log_units`` of them per nat), and the table
    index is ceil(L / 2**log_step_bits), clipped to the tables."""

    weight_bits: int = Field(ge=2, le=16)
    activation_bits: int = Field(ge=2, le=31)
    input_fraction: int = Field(ge=0, le=40)
    gain_fraction: int = Field(ge=1, le=40)
    output_fraction: int = Field(ge=0, le=40)
    layers: list[IntegerLayer] = Field(min_length=1, max_length=16)
    log_step_bits: int = Field(ge=0, le=16)
    log_units: float = Field(gt=0, lt=1e9)
    log_min: int = Field(ge=-(1 << 40), le=1 << 40)
    log_levels: int = Field(ge=1, le=1 << 20)

    @model_validator(mode="after")
    def _chained(self) -> IntegerHyper:
        for a, b in zip(self.layers, self.layers[1:], strict=False):
            if a.out_channels != b.in_channels * a.upsample**2:
                raise ValueError("integer_hyper: each layer's output channels must be the next one's input channels")
        if self.layers[-1].out_channels % (self.layers[-1].upsample ** 2 * 2):
            raise ValueError("integer_hyper: the last layer gives the means, then the scales (an even count)")
        return self


class NoiseGate(_Strict):
    """An any-size denoiser whose latent's last channel is its noise level (sigma/255, or -1: blind): when the
    service runs the model at all, and what it tells it.

    The service estimates each image's noise level sigma_hat on 0-255 once, on the whole image (a robust
    classical estimate, ``aecodec_service.runtime.noise``). An image with sigma_hat below ``clean_below``
    (tau) comes back with its pixels unchanged, without running the model: below that level the model's
    output was measured to be no better than its input (``benchmarks/denoise_gate.py``); a request that
    names its noise level (``?sigma=S``) below tau too. From tau up to ``estimate_below`` the model is told
    sigma_hat, from there on it runs blind (where the estimate reads low, as on clipped noise over a black
    background, blind does better). With ``inpaint_erased``, an image below tau still gets its erased
    patches filled in by the model (isolated, exactly black rectangles; ``aecodec_service.runtime.erasure``),
    and only those. Manifests without this field: the model runs on every image, blind unless the request
    names a level.
    """

    clean_below: float = Field(gt=0, le=255)  # tau, on 0-255
    estimate_below: float | None = Field(default=None, ge=0, le=256)  # None: blind at every level above tau
    inpaint_erased: bool = False


class DatasetInfo(_Strict):
    name: str
    md5: dict[str, str] = Field(default_factory=dict)  # file name -> md5 of the files trained on


class TrainingInfo(_Strict):
    command: str  # the exact command that produced the weights
    epochs: int
    seconds: float
    seed: int
    torch_version: str = ""


class Manifest(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    kind: ModelKind
    architecture: str
    description: str = ""
    dataset: DatasetInfo
    input: InputSpec
    output_range: tuple[float, float] = (0.0, 1.0)
    # one image's latent; None marks a spatial axis that follows the image size
    latent_shape: list[int | None]
    latent_stats: LatentStats
    training: TrainingInfo
    metrics: dict[str, float] = Field(default_factory=dict)
    # kind "codec" only: the integer prior tables, and a small id (unique among served models) that compact
    # payloads carry instead of the model name (see CompactCode in v1/payload.proto)
    prior: PriorTables | None = None
    wire_id: int | None = Field(default=None, ge=1, le=255)  # the high byte of CompactCode.check
    # hyperprior codecs only: y is coded with Gaussian tables picked by hyper_decoder.onnx's scales, and
    # ``prior`` then codes the side latent z, whose channel count is ``side_channels``
    gaussian: GaussianTables | None = None
    side_channels: int | None = Field(default=None, ge=1)
    # any-size models whose latent is not at 1/pad_multiple of the side (a hyperprior pads to 64 for z, but
    # y is at 1/16): the latent's downsampling factor
    latent_stride: int | None = Field(default=None, ge=1)
    # any-size denoisers with a noise-level channel: leave (nearly) clean images alone (see NoiseGate)
    noise_gate: NoiseGate | None = None
    # a variable-rate hyperprior codec: the gains that choose its rate per image (see VariableRate)
    variable_rate: VariableRate | None = None
    # a hyperprior codec whose tables come from an integer hyper-synthesis (see IntegerHyper)
    integer_hyper: IntegerHyper | None = None
    version: str = ""  # content hash, set by ``seal``

    @model_validator(mode="after")
    def _gains_fit(self) -> Manifest:
        vr = self.variable_rate
        if vr is None:
            return self
        if self.gaussian is None or self.side_channels is None:
            raise ValueError("variable_rate needs a hyperprior codec (gaussian tables and side_channels)")
        if len(vr.log_gain_y[0]) != self.latent_shape[0] or len(vr.log_gain_z[0]) != self.side_channels:
            raise ValueError(
                f"variable_rate: log_gain_y needs {self.latent_shape[0]} values per level (the latent's channels) "
                f"and log_gain_z {self.side_channels} (side_channels)"
            )
        return self

    @model_validator(mode="after")
    def _integer_hyper_fits(self) -> Manifest:
        net = self.integer_hyper
        if net is None:
            return self
        if self.gaussian is None or self.side_channels is None:
            raise ValueError("integer_hyper needs a hyperprior codec (gaussian tables and side_channels)")
        last = net.layers[-1]
        if net.layers[0].in_channels != self.side_channels or last.out_channels != 2 * last.upsample**2 * (
            self.latent_shape[0] or 0
        ):
            raise ValueError(
                f"integer_hyper: needs {self.side_channels} input channels (side_channels) and twice the "
                f"latent's {self.latent_shape[0]} output channels (means, then scales)"
            )
        return self

    @property
    def latent_channels(self) -> int:
        return len(self.latent_stats.lo)

    def latent_shape_for(self, height: int, width: int) -> tuple[int, ...]:
        """Concrete latent shape for an (already padded) input of height x width."""
        if self.input.fixed_size:
            return tuple(int(d) for d in self.latent_shape if d is not None)
        factor = self.latent_stride or self.input.pad_multiple
        c = self.latent_shape[0]
        assert c is not None
        return (c, height // factor, width // factor)


def _unset_optional(manifest: Manifest) -> set[str]:
    """Optional fields left at None: omitted from the hash and the file, so adding them changed no existing
    model's version."""
    optional = (
        "prior",
        "wire_id",
        "gaussian",
        "side_channels",
        "latent_stride",
        "noise_gate",
        "variable_rate",
        "integer_hyper",
    )
    return {k for k in optional if getattr(manifest, k) is None}


def hashed_files(folder: Path, manifest: Manifest) -> tuple[str, ...]:
    """The files a model's version covers: both ONNX graphs; a hyperprior's hyper decoder graph, which a model
    with an integer hyper-synthesis may leave out (nothing runs it), and that network's file."""
    files: tuple[str, ...] = (ENCODER_FILE, DECODER_FILE)
    if manifest.gaussian is not None and (manifest.integer_hyper is None or (folder / HYPER_DECODER_FILE).is_file()):
        files += (HYPER_DECODER_FILE,)
    return files + ((INTEGER_HYPER_FILE,) if manifest.integer_hyper is not None else ())


def content_hash(folder: Path, manifest: Manifest) -> str:
    """sha256 over the model's files (``hashed_files``) and the manifest (without its version), shortened."""
    h = hashlib.sha256()
    for fname in hashed_files(folder, manifest):
        h.update((folder / fname).read_bytes())
    body = manifest.model_dump(mode="json", exclude={"version"} | _unset_optional(manifest))
    h.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    return h.hexdigest()[:VERSION_HEX_CHARS]


def seal(folder: Path, manifest: Manifest) -> Manifest:
    """Stamp the content hash and write manifest.json atomically."""
    sealed = manifest.model_copy(update={"version": content_hash(folder, manifest)})
    tmp = folder / (MANIFEST_FILE + ".tmp")
    tmp.write_text(sealed.model_dump_json(indent=1, exclude=_unset_optional(sealed)) + "\n")
    tmp.replace(folder / MANIFEST_FILE)
    return sealed


def load(folder: Path, verify: bool = True) -> Manifest:
    """Read a model folder's manifest; with ``verify`` the content hash must match."""
    manifest = Manifest.model_validate_json((folder / MANIFEST_FILE).read_text())
    if verify:
        actual = content_hash(folder, manifest)
        if actual != manifest.version:
            raise ValueError(
                f"model folder {folder}: content hash {actual} does not match "
                f"manifest version {manifest.version!r}; re-export the model"
            )
    return manifest
