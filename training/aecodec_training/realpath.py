"""The serving path, offline: ONNX encoder -> the model's latent codec -> payload bytes -> decode -> ONNX
decoder, on uint8 images. Export measures every manifest figure with it, and the rate-distortion reports put
learned levels beside JPEG and WebP with it, so a figure is what a client of the service would get."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from aecodec_wire import unpack_any
from aecodec_wire.codec_factory import codec_for
from aecodec_wire.integer_hyper import IntegerHyperSynthesis
from aecodec_wire.latent_codec import LatentCodec, Latents, SideModel
from aecodec_wire.manifest import DECODER_FILE, ENCODER_FILE, Manifest
from aecodec_wire.quality import psnr_per_image

from .onnx_io import session

PROVISIONAL_VERSION = "0" * 16  # a draft manifest's version while the figures that go into it are measured
BATCH = 500


@dataclass
class RoundTrip:
    """Per image: payload bytes (header included), coded latent bytes estimated by the tables, PSNR."""

    decoded: np.ndarray  # uint8 (N, C, H, W)
    payload_bytes: np.ndarray  # (N,)
    latent_bytes: np.ndarray  # (N,) the range coder's bytes inside the payload
    estimated_bits: np.ndarray  # (N,) ideal code length of the latent under the codec's tables
    psnr_db: np.ndarray  # (N,)


def side_models(folder: Path) -> dict[str, SideModel]:
    """The model folder's graphs beyond encoder and decoder (a hyperprior's hyper_decoder.onnx), by file stem,
    as the one-array callables a latent codec takes."""
    out: dict[str, SideModel] = {}
    for path in sorted(folder.glob("*.onnx")):
        if path.name in (ENCODER_FILE, DECODER_FILE):
            continue
        out[path.stem] = _one_array(session(path))
    return out


def codec_of(folder: Path, manifest: Manifest) -> LatentCodec:
    """The latent codec of a model folder, as the service builds it: its tables, and a hyperprior's integer
    hyper-synthesis or else its hyper decoder graph."""
    integer = IntegerHyperSynthesis.from_folder(folder, manifest)
    return codec_for(manifest, {} if integer else side_models(folder), integer)


def _one_array(sess: ort.InferenceSession) -> SideModel:
    name = sess.get_inputs()[0].name

    def run(a: np.ndarray) -> np.ndarray:
        return np.asarray(sess.run(None, {name: a.astype(np.float32)})[0])

    return run


def round_trip(
    folder: Path, manifest: Manifest, pixels: np.ndarray, bits: int | None = None, quality: float | None = None
) -> RoundTrip:
    """uint8 (N, C, H, W) images through the real path of the model in ``folder`` (a variable-rate model's at
    ``quality``, else at its default)."""
    draft = manifest.model_copy(update={"version": manifest.version or PROVISIONAL_VERSION})
    codec = codec_of(folder, draft)
    depth = bits if codec.bit_depths else None
    enc, dec = session(folder / ENCODER_FILE), session(folder / DECODER_FILE)
    names = [o.name for o in enc.get_outputs()]
    lo, hi = manifest.input.range
    olo, ohi = manifest.output_range
    mode = "L" if manifest.input.channels == 1 else "RGB"
    decoded, sizes, est, coded = [], [], [], []
    for s in range(0, len(pixels), BATCH):
        xb = pixels[s : s + BATCH]
        x = (lo + (hi - lo) * xb.astype(np.float32) / 255.0).astype(np.float32)
        outputs = enc.run(None, {"image": x})
        # a codec that codes several encoder outputs (a hyperprior's y and z) takes them by name
        latents: Latents = dict(zip(names, outputs, strict=True)) if len(codec.latent_names) > 1 else outputs[0]
        payloads = codec.encode(
            latents, [(xb.shape[3], xb.shape[2])] * len(xb), [mode] * len(xb), depth, quality=quality
        )
        codes = [unpack_any(p) for p in payloads]
        y_hat = np.concatenate([codec.decode(c) for c in codes])
        out = dec.run(None, {"latent": y_hat.astype(np.float32)})[0]
        decoded.append(np.clip(np.rint((out.astype(np.float64) - olo) / (ohi - olo) * 255.0), 0, 255).astype(np.uint8))
        sizes += [len(p) for p in payloads]
        coded += [len(c.data) for c in codes]
        est.append(np.asarray(codec.estimated_bits(latents, depth, quality=quality), dtype=np.float64))
    images = np.concatenate(decoded)
    return RoundTrip(
        images,
        np.asarray(sizes, np.float64),
        np.asarray(coded, np.float64),
        np.concatenate(est),
        psnr_per_image(pixels, images),
    )
