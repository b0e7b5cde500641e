"""onnxruntime sessions for one model folder: provider choice, session options, warm-up."""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
from aecodec_wire import manifest as mf
from aecodec_wire.codec_factory import codec_for
from aecodec_wire.integer_hyper import IntegerHyperSynthesis
from aecodec_wire.latent_codec import LatentCodec, SideModel

from ..core.config import Settings
from ..core.providers import usable
from .admission import Admission
from .batcher import MicroBatcher
from .encoder_split import cut_encoder
from .tiling import measure_reach

log = logging.getLogger("aecodec.runtime")

_OPT_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}

ENDPOINTS_BY_KIND = {
    "autoencoder": ["encode", "decode"],
    "sparse": ["encode", "decode"],
    "codec": ["encode", "decode"],
    "denoising": ["encode", "decode", "denoise"],
    "vae": ["encode", "decode", "sample", "interpolate"],
}


def choose_providers(preferred: list[str]) -> list[str]:
    """The preferred providers this onnxruntime build offers, in the preferred order; CPU always last resort."""
    chosen = usable(preferred)  # those that can run here; the reason any other cannot is logged once
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def session_options(settings: Settings) -> ort.SessionOptions:
    """Thread counts and optimisation level set on purpose, not left to chance."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = settings.intra_op_threads
    opts.inter_op_num_threads = settings.inter_op_threads
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL  # small graphs: parallel branches cost more than they win
    opts.graph_optimization_level = _OPT_LEVELS[settings.graph_optimization]
    # idle onnxruntime threads must not spin: the event loop and the image work need those cores
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.log_severity_level = 3  # the CUDA fallback is reported once by us, not per session by onnxruntime
    return opts


class Graph:
    """One ONNX graph; ``run`` takes the first input and returns outputs in ``outputs`` order.

    onnxruntime's CPU arena keeps the largest allocation it ever made, which is what a tiled large image
    needs for every tile. After the last tile of one, ``shrink_after_next_run`` makes the next run give the
    arena's growth back (run option ``memory.enable_memory_arena_shrinkage``), so that memory returns to
    its baseline after a large request while the tiles themselves reuse the arena."""

    def __init__(
        self, source: Path | bytes, providers: list[str], opts: ort.SessionOptions, outputs: list[str], label: str = ""
    ) -> None:
        """``source``: an .onnx file, or a serialized graph named ``label`` in messages."""
        model = str(source) if isinstance(source, Path) else source
        self.session = ort.InferenceSession(model, sess_options=opts, providers=providers)
        self.input_name = self.session.get_inputs()[0].name
        names = [o.name for o in self.session.get_outputs()]
        missing = [o for o in outputs if o not in names]
        if missing:
            label = source.name if isinstance(source, Path) else label
            raise ValueError(f"{label} lacks output(s) {missing}; it has {names}")
        self.outputs = outputs
        self.provider = self.session.get_providers()[0]
        self._shrink = ort.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._shrink_next = False

    def shrink_after_next_run(self) -> None:
        self._shrink_next = self.provider == "CPUExecutionProvider"

    def settle(self, x: np.ndarray) -> None:
        """Run ``x`` (small) and give the arena's growth back after it: what load-time probes grew it to."""
        self.shrink_after_next_run()
        self.run(x)

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        if self._shrink_next:  # another request's run may take it: a shrink is harmless to it
            self._shrink_next = False
            return self.session.run(self.outputs, {self.input_name: x}, self._shrink)
        return self.session.run(self.outputs, {self.input_name: x})


@dataclass(frozen=True)
class SplitEncoder:
    """A hyperprior codec's encoder in two graphs, for its images run in tiles (``encoder_split.py``)."""

    analysis: Graph  # image -> latent
    hyper_analysis: Graph  # latent -> side latent


@dataclass(frozen=True)
class Preset:
    """A name that serves a variable-rate model at one of its trained levels: ``<model>-q<k>`` at quality k."""

    name: str
    quality: int


@dataclass
class ModelRuntime:
    """Everything served for one model version: manifest, codec, sessions and their batchers.

    A preset is the same runtime (the same sessions, batchers and admission) with ``preset`` set."""

    folder: Path
    manifest: mf.Manifest
    codec: LatentCodec  # uniform tables, a codec model's learned prior, ...
    encoder: Graph
    decoder: Graph
    endpoints: list[str]
    admission: Admission  # rows admitted at once (AECODEC_QUEUE_SIZE): refused on arrival beyond it
    batchers: dict[str, MicroBatcher] = field(default_factory=dict)
    reach: dict[str, int] = field(default_factory=dict)  # any-size models: cells each graph sees around a cell
    split: SplitEncoder | None = None  # any-size hyperprior codecs: the encoder in two, for tiles
    preset: Preset | None = None  # set on a preset's view of a variable-rate model

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def provider(self) -> str:
        return self.encoder.provider

    def close(self) -> None:
        for b in self.batchers.values():
            b.close()


def _dummy_input(manifest: mf.Manifest) -> np.ndarray:
    spec = manifest.input
    h = spec.height or spec.pad_multiple * 2
    w = spec.width or spec.pad_multiple * 2
    return np.full((1, spec.channels, h, w), spec.range[0], dtype=np.float32)


def _split(
    folder: Path,
    encoder: Graph,
    outputs: tuple[str, str],
    providers: list[str],
    opts: ort.SessionOptions,
    manifest: mf.Manifest,
) -> SplitEncoder | None:
    """The encoder's two parts, checked to give its outputs; None where it cannot be cut or they do not."""
    parts = cut_encoder(folder / mf.ENCODER_FILE, *outputs)
    if parts is None:
        return None
    split = SplitEncoder(
        Graph(parts[0], providers, opts, [outputs[0]], f"{mf.ENCODER_FILE} (analysis)"),
        Graph(parts[1], providers, opts, [outputs[1]], f"{mf.ENCODER_FILE} (hyper-analysis)"),
    )
    probe = np.random.default_rng(0).uniform(*manifest.input.range, _dummy_input(manifest).shape).astype(np.float32)
    latent, side = encoder.run(probe)
    cut_latent = split.analysis.run(probe)[0]
    cut_side = split.hyper_analysis.run(cut_latent)[0]
    same = all(np.allclose(a, b, rtol=1e-5, atol=1e-5) for a, b in ((cut_latent, latent), (cut_side, side)))
    if not same:
        log.warning("%s: its encoder's two parts do not give its outputs; large images run it whole in tiles", folder)
        return None
    return split


def load_model(folder: Path, settings: Settings, executor: Executor, metrics: object | None = None) -> ModelRuntime:
    """Build and warm up one model folder; raises with the reason when anything is off."""
    manifest = mf.load(folder, verify=True)
    providers = choose_providers(settings.providers)
    opts = session_options(settings)
    side: dict[str, SideModel] = {}
    integer = IntegerHyperSynthesis.from_folder(folder, manifest)  # a hyperprior's tables from integers alone
    if integer is None and (folder / mf.HYPER_DECODER_FILE).is_file():  # else from the float hyper decoder graph
        hyper = ort.InferenceSession(str(folder / mf.HYPER_DECODER_FILE), sess_options=opts, providers=providers)
        hyper_input = hyper.get_inputs()[0].name
        side["hyper_decoder"] = lambda z: hyper.run(None, {hyper_input: z})[0]
    codec = codec_for(manifest, side, integer)
    enc_outputs = list(codec.latent_names) + (["logvar"] if manifest.kind == "vae" else [])
    encoder = Graph(folder / mf.ENCODER_FILE, providers, opts, enc_outputs)
    decoder = Graph(folder / mf.DECODER_FILE, providers, opts, ["image"])
    latent = encoder.run(_dummy_input(manifest))[0]  # warm-up, and proof the two graphs fit together
    image = decoder.run(latent)[0]
    if latent.shape[1:] != manifest.latent_shape_for(*_dummy_input(manifest).shape[2:]):
        raise ValueError(
            f"encoder output {list(latent.shape[1:])} does not match manifest latent_shape {manifest.latent_shape}"
        )
    if image.shape[1] != manifest.input.channels:
        raise ValueError(f"decoder gives {image.shape[1]} channels, manifest input has {manifest.input.channels}")
    admission = Admission(manifest.name, settings.queue_size)
    rt = ModelRuntime(folder, manifest, codec, encoder, decoder, ENDPOINTS_BY_KIND[manifest.kind], admission)
    graphs = {"encoder": encoder, "decoder": decoder}
    if not manifest.input.fixed_size:  # the halo its tiles need (tiling.py), measured once per version
        pad = manifest.input.pad_multiple
        rt.reach["encoder"] = measure_reach(encoder.run, manifest.input.channels, pad, 0.3)
        rt.reach["decoder"] = measure_reach(decoder.run, int(latent.shape[1]), 1, 2.0)
        if len(codec.latent_names) == 2:  # a latent and a side latent computed from it: a hyperprior codec
            latent_name, side_name = codec.latent_names
            rt.split = _split(folder, encoder, (latent_name, side_name), providers, opts, manifest)
        if rt.split is not None:
            rt.reach["analysis"] = measure_reach(rt.split.analysis.run, manifest.input.channels, pad, 0.3)
            graphs |= {"analysis": rt.split.analysis, "hyper_analysis": rt.split.hyper_analysis}
        for name, graph in graphs.items():  # the probes grew each arena to a probe's size: give that back
            graph.settle(_dummy_input(manifest) if name in ("encoder", "analysis") else latent)
    for graph_name, graph in graphs.items():
        on_batch = on_depth = None
        if metrics is not None:
            on_batch = metrics.batch_size.labels(manifest.name, graph_name).observe  # type: ignore[attr-defined]
            on_depth = metrics.queue_depth.labels(manifest.name, graph_name).set  # type: ignore[attr-defined]
        rt.batchers[graph_name] = MicroBatcher(
            f"{manifest.name}/{graph_name}",
            graph.run,
            executor,
            max_batch=settings.max_batch,
            max_wait_s=settings.max_wait_ms / 1000,
            queue_size=settings.queue_size,
            inline_run_s=settings.inline_run_us / 1e6,
            on_batch=on_batch,
            on_depth=on_depth,
        )
    log.info("model %s version %s (%s) loaded on %s", manifest.name, manifest.version, manifest.kind, rt.provider)
    return rt
