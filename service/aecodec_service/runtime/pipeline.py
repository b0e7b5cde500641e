"""The trips a request takes: image -> encoder -> quantise + range-code -> payload, and back.

Shared by the routes and the in-process benchmark so that both measure the same
work. A request's rows are admitted (or refused) first, before any image or payload
is decoded (admission.py). Pixel and entropy work runs on a CPU thread pool unless
it is tiny (then a thread hop would cost more than the work); graphs run behind the
batchers, large images on any-size models tile by tile (graphs.py, tiling.py). Every
failure is a domain error (errors.py); nothing here knows HTTP.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from aecodec_wire import image_extras
from aecodec_wire import payload as wire
from aecodec_wire.errors import BudgetTooSmall, ModelMismatch, PayloadError
from aecodec_wire.image_extras import Extras
from aecodec_wire.latent_codec import Latents
from aecodec_wire.manifest import Manifest
from aecodec_wire.v1 import payload_pb2 as pb

from ..core.config import Settings
from .batcher import all_or_none
from .errors import (
    BadPayload,
    BadRequestInput,
    DomainError,
    ModelTimeout,
    ModelVersionMismatch,
    TooLarge,
    UnknownPayloadModel,
)
from .graphs import Outputs, run_in_tiles, run_rows, tile_geometry
from .imaging import AS_SENT, Intake, Prepared, to_image_bytes, to_model_input, to_pixels
from .memory import give_back
from .noise import Box, plans
from .registry import ModelRegistry
from .sessions import ModelRuntime, SplitEncoder
from .tiling import HALO_PX, TILE_PX, needs_tiles

T = TypeVar("T")


def held_pixels(rt: ModelRuntime, width: int, height: int) -> int:
    """Pixels an image of this size occupies at the model's side (a fixed-size model's native size)."""
    spec = rt.manifest.input
    return spec.width * spec.height if spec.width and spec.height else width * height


@dataclass(frozen=True)
class Encoded:
    payload: bytes
    latent: np.ndarray  # the encoder's float latent of this image, (*latent_shape)
    intake: Intake = AS_SENT  # orientation applied, metadata not carried
    quality: float | None = None  # a variable-rate model's: the quality the payload was coded at


@dataclass(frozen=True)
class Decoded:
    model: ModelRuntime
    image: bytes
    width: int
    height: int
    mode: str
    extras: Extras = image_extras.NONE  # the ICC profile and alpha plane put back on the image


@dataclass(frozen=True)
class Denoised:
    image: bytes
    intake: Intake


def _each(items: Sequence[T], batch: bool, fn: Callable[[T], object]) -> list:
    """Apply fn to every item; in a batch, an item's error names its index."""
    out = []
    for i, item in enumerate(items):
        try:
            out.append(fn(item))
        except DomainError as exc:
            raise exc.for_item(i) if batch else exc from None
    return out


def _patched(x: np.ndarray, y: np.ndarray, m: Manifest, patches: tuple[Box, ...]) -> np.ndarray:
    """The input ``x`` (input range) with the decoder's output ``y`` (output range) inside ``patches`` only."""
    (ilo, ihi), (olo, ohi) = m.input.range, m.output_range
    out = x.copy()
    for top, bottom, left, right in patches:
        out[:, top:bottom, left:right] = ilo + (y[:, top:bottom, left:right] - olo) * ((ihi - ilo) / (ohi - olo))
    return out


class Pipeline:
    def __init__(self, settings: Settings, cpu: Executor, in_flight: Callable[[], int] = lambda: 1) -> None:
        self.settings = settings
        self._cpu = cpu
        self._in_flight = in_flight  # HTTP requests being served right now
        self.tile_px, self.halo_px = TILE_PX, HALO_PX  # large images on any-size models run in tiles
        self._trim_due = False  # a request ran tiles: hand the freed heap back when it ends

    async def offload(self, nbytes: int, fn: Callable[[], T]) -> T:
        """Run fn on the CPU pool, or right here when the work is too small to be worth a thread hop."""
        if nbytes <= self.settings.inline_bytes:
            return fn()
        return await asyncio.get_running_loop().run_in_executor(self._cpu, fn)

    async def run_graph(self, rt: ModelRuntime, graph: str, xs: list[np.ndarray]) -> list[list[np.ndarray]]:
        """Per-item (1, ...) inputs -> per-item outputs; a large image on an any-size model runs in tiles."""
        batcher, timeout = rt.batchers[graph], self.settings.request_timeout_s
        alone = self._in_flight() <= 1
        try:
            geometry = tile_geometry(rt, graph, self.tile_px, self.halo_px)
            big = [i for i, x in enumerate(xs) if geometry is not None and needs_tiles(x, *geometry)]
            if geometry is None or not big:
                return await run_rows(batcher, xs, timeout, alone)
            small = [i for i in range(len(xs)) if i not in big]
            out: list[list[np.ndarray]] = [[] for _ in xs]
            if small:
                rows = await run_rows(batcher, [xs[i] for i in small], timeout, alone)
                for i, o in zip(small, rows, strict=True):
                    out[i] = o
            self._trim_due = True
            if graph == "encoder" and rt.split is not None:
                tiled = await self._encode_in_parts(rt, rt.split, [xs[i] for i in big], timeout)
            else:
                session = rt.encoder if graph == "encoder" else rt.decoder
                tiled = await run_in_tiles(session, batcher, [xs[i] for i in big], geometry, timeout)
            for i, o in zip(big, tiled, strict=True):
                out[i] = o
            return out
        except TimeoutError as exc:
            raise ModelTimeout(f"model {rt.name} did not answer within {timeout} s; retry later") from exc

    async def _encode_in_parts(
        self, rt: ModelRuntime, split: SplitEncoder, xs: list[np.ndarray], timeout: float
    ) -> Outputs:
        """Large images through a hyperprior codec's encoder in its two parts: the analysis in tiles with its own
        halo, then the hyper-analysis once over each assembled latent (``encoder_split.py``)."""
        geometry = tile_geometry(rt, "analysis", self.tile_px, self.halo_px)
        assert geometry is not None  # a split encoder is an any-size model's
        latents = await run_in_tiles(split.analysis, rt.batchers["analysis"], xs, geometry, timeout)
        split.hyper_analysis.shrink_after_next_run()  # its arena grew to a whole large latent: give it back
        sides = await run_rows(rt.batchers["hyper_analysis"], [y[0] for y in latents], timeout, alone=False)
        return [[y[0], z[0]] for y, z in zip(latents, sides, strict=True)]

    def _prepare(self, rt: ModelRuntime, blobs: list[bytes], resize: bool, batch: bool) -> list[Prepared]:
        s = self.settings
        total = 0

        def one(blob: bytes) -> Prepared:
            nonlocal total
            p = to_model_input(blob, rt.manifest.input, max_pixels=s.max_pixels, resize=resize, pad_mode=s.pad_mode)
            total += held_pixels(rt, p.width, p.height)
            self._check_held(total)
            return p

        return _each(blobs, batch, one)

    def _check_held(self, total: int) -> None:
        """A request's images together (at the model's size) are within AECODEC_MAX_PIXELS.

        Each image is within the limit on its own; without a limit on their sum, a 15 KB batch of 256
        payloads declaring maximal images would hold 256 times the limit in memory. Such a request never
        fits, so it is TooLarge (413), not a retry."""
        limit = self.settings.max_pixels
        if total > limit:
            raise TooLarge(
                f"the request's images hold {total} pixels together (at the model's size); at most {limit} per "
                "request: send fewer or smaller images per request",
                kind="request-too-large",
            )

    async def encode(
        self,
        rt: ModelRuntime,
        blobs: list[bytes],
        *,
        bits: int | None,
        resize: bool,
        batch: bool,
        quality: float | None = None,
        max_bytes: int | None = None,
    ) -> list[Encoded]:
        """Images -> payloads. ``bits`` applies to codecs with a choice of bit depths (else it is not theirs);
        ``quality`` or ``max_bytes`` to variable-rate models (checked by the caller: rate.py). With
        ``max_bytes`` the encoder graph runs once per image and only the codec's search repeats."""
        with rt.admission.hold(len(blobs)), self._large_request():  # refused before any image is decoded
            return await self._encode(rt, blobs, bits, resize, batch, quality, max_bytes)

    async def _encode(
        self,
        rt: ModelRuntime,
        blobs: list[bytes],
        bits: int | None,
        resize: bool,
        batch: bool,
        quality: float | None,
        max_bytes: int | None,
    ) -> list[Encoded]:
        nbytes = sum(map(len, blobs))
        prepared = await self.offload(nbytes, lambda: self._prepare(rt, blobs, resize, batch))
        outs = await self.run_graph(rt, "encoder", [p.x for p in prepared])
        names = rt.codec.latent_names
        depth = bits if rt.codec.bit_depths else None

        def latents_of(rows: list[list[np.ndarray]]) -> Latents:
            if len(names) == 1:
                return rows[0][0] if len(rows) == 1 else np.concatenate([o[0] for o in rows])
            return {n: np.concatenate([o[k] for o in rows]) for k, n in enumerate(names)}

        sizes = [(p.width, p.height) for p in prepared]
        modes = [p.mode for p in prepared]
        extras = [p.extras for p in prepared]

        def one(k: int) -> bytes:
            try:
                return rt.codec.encode(
                    latents_of([outs[k]]),
                    [sizes[k]],
                    [modes[k]],
                    depth,
                    [extras[k]],
                    quality=quality,
                    max_bytes=max_bytes,
                )[0]
            except BudgetTooSmall as exc:
                raise BadRequestInput(
                    f"max_bytes={exc.max_bytes} is too small for this image with model {rt.name!r}: its smallest "
                    f"payload (quality 1) is {exc.smallest} bytes",
                    kind="max-bytes-too-small",
                ) from None

        def code() -> list[Encoded]:
            if max_bytes is None and len({o[0].shape for o in outs}) == 1:
                payloads = rt.codec.encode(latents_of(outs), sizes, modes, depth, extras, quality=quality)
            else:  # one image at a time: a budget too small for one names its item
                payloads = _each(range(len(outs)), batch, one)
            qualities = [wire.inspect(pl).quality for pl in payloads] if rt.codec.qualities else [None] * len(outs)
            return [
                Encoded(pl, o[0][0], p.intake, q)
                for pl, o, p, q in zip(payloads, outs, prepared, qualities, strict=True)
            ]

        # a search codes each image some fifteen times: its work follows the pixels, not the upload's bytes
        return await self.offload(nbytes if max_bytes is None else sum(p.x.nbytes for p in prepared), code)

    @contextmanager
    def _large_request(self) -> Iterator[None]:
        """After a request that ran tiles, give the heap it freed back to the OS (memory.py)."""
        try:
            yield
        finally:
            if self._trim_due:
                self._trim_due = False
                give_back()

    def admit(self, rt: ModelRuntime, rows: int = 1) -> None:
        """Refuse at once (before the body is read) when ``rows`` more would not fit for this model."""
        rt.admission.check(rows)

    @staticmethod
    def _resolve(registry: ModelRegistry, data: bytes) -> tuple[ModelRuntime, wire.Code]:
        """Payload bytes -> (the model that made it, its message); no work proportional to what it declares."""
        try:
            code = wire.unpack_any(data)
        except PayloadError as exc:
            raise BadPayload(str(exc)) from exc
        if isinstance(code, pb.CompactCode):  # a codec model's payload names its model by wire id
            wire_id = wire.wire_id_of(code)
            rt = registry.get_by_wire_id(wire_id)
            if rt is None:
                served = ", ".join(
                    f"{r.name} ({r.manifest.wire_id})" for r in registry.models.values() if r.manifest.wire_id
                )
                raise UnknownPayloadModel(
                    f"payload was made by the codec model with id {wire_id}, which is not served here "
                    f"(codec models served: {served or 'none'})"
                )
        else:
            found = registry.get(code.model)
            if found is None:
                served = ", ".join(sorted(registry.models)) or "none"
                name = code.model if len(code.model) <= 64 else code.model[:64] + "..."  # names have <= 64 chars
                raise UnknownPayloadModel(
                    f"payload was made by model {name!r}, which is not served here (served: {served})"
                )
            rt = found
        return rt, code

    def _latent(self, rt: ModelRuntime, code: wire.Code) -> np.ndarray:
        """The decoder's input; every header field is checked against the model and the pixel limit first."""
        try:
            return rt.codec.decode(code, max_pixels=self.settings.max_pixels)
        except ModelMismatch as exc:
            raise ModelVersionMismatch(str(exc)) from exc
        except PayloadError as exc:
            raise BadPayload(str(exc)) from exc

    async def decode(self, registry: ModelRegistry, payloads: list[bytes], *, fmt: str, batch: bool) -> list[Decoded]:
        resolved = _each(payloads, batch, lambda p: self._resolve(registry, p))  # headers only: cheap
        by_model: dict[str, list[int]] = defaultdict(list)
        for i, (rt, _) in enumerate(resolved):
            by_model[rt.name].append(i)
        with ExitStack() as held:  # every model's rows admitted before any payload is decoded, or none
            for idx in by_model.values():
                held.enter_context(resolved[idx[0]][0].admission.hold(len(idx)))
            with self._large_request():
                return await self._decode(resolved, by_model, fmt, batch)

    async def _decode(
        self,
        resolved: list[tuple[ModelRuntime, wire.Code]],
        by_model: dict[str, list[int]],
        fmt: str,
        batch: bool,
    ) -> list[Decoded]:
        nbytes = sum(len(code.data) for _, code in resolved) * 8  # entropy decoding costs more than image decoding
        total = 0

        def latent(rc: tuple[ModelRuntime, wire.Code]) -> np.ndarray:
            nonlocal total
            lat = self._latent(*rc)  # the header's fields are filled in (and checked) from here on
            total += held_pixels(rc[0], rc[1].width, rc[1].height)
            self._check_held(total)
            return lat

        latents = await self.offload(nbytes, lambda: _each(resolved, batch, latent))
        parsed = [(rt, lat, code) for (rt, code), lat in zip(resolved, latents, strict=True)]
        images: list[np.ndarray] = [np.empty(0)] * len(parsed)

        async def run(idx: list[int]) -> None:
            rt = parsed[idx[0]][0]
            outs = await self.run_graph(rt, "decoder", [parsed[i][1] for i in idx])
            for i, o in zip(idx, outs, strict=False):
                images[i] = o[0][0]

        if len(by_model) == 1:  # gather would wrap the one coroutine in a task: a loop round trip
            await run(next(iter(by_model.values())))
        else:
            await all_or_none(run(idx) for idx in by_model.values())

        def render() -> list[Decoded]:
            out = []
            for (rt, _, code), y in zip(parsed, images, strict=False):
                mode = wire.PB_TO_MODE.get(code.mode, "L" if rt.manifest.input.channels == 1 else "RGB")
                try:
                    extras = image_extras.read(code)  # checked with the header; the alpha plane inflates here
                except PayloadError as exc:
                    raise BadPayload(str(exc)) from exc
                data = to_image_bytes(
                    y,
                    rt.manifest.output_range,
                    width=code.width,
                    height=code.height,
                    mode=mode,
                    fixed_size=rt.manifest.input.fixed_size,
                    fmt=fmt,
                    extras=extras,
                )
                out.append(Decoded(rt, data, code.width, code.height, mode, extras))
            return out

        return await self.offload(sum(y.size for y in images), render)

    async def denoise(
        self, rt: ModelRuntime, blobs: list[bytes], *, resize: bool, fmt: str, batch: bool, sigma: float | None = None
    ) -> list[Denoised]:
        """Image -> encoder -> decoder (no quantisation: the float latent is the cleanest) -> image, upright,
        with the input's ICC profile and alpha plane.

        ``sigma`` (0-255) is a known noise level for an any-size denoiser, whose latent's last channel is its
        noise-level map (sigma/255; the encoder fills in "unknown"). A model whose manifest has a noise gate
        leaves (nearly) clean images alone: see ``noise_levels``."""
        with rt.admission.hold(len(blobs)), self._large_request():
            return await self._denoise(rt, blobs, resize, fmt, batch, sigma)

    async def _denoise(
        self, rt: ModelRuntime, blobs: list[bytes], resize: bool, fmt: str, batch: bool, sigma: float | None
    ) -> list[Denoised]:
        nbytes = sum(map(len, blobs))
        prepared = await self.offload(nbytes, lambda: self._prepare(rt, blobs, resize, batch))
        m = rt.manifest
        # the estimate's work follows the pixels, not the (possibly tiny) compressed bytes
        todo = await self.offload(sum(p.x.nbytes for p in prepared), lambda: plans(m, prepared, sigma))
        run = [i for i, plan in enumerate(todo) if plan.run]
        outs: list[tuple[np.ndarray, tuple[float, float]]] = [(p.x[0], m.input.range) for p in prepared]
        if run:
            latents = [o[0] for o in await self.run_graph(rt, "encoder", [prepared[i].x for i in run])]
            for i, z in zip(run, latents, strict=True):
                level = todo[i].level
                if level is not None:
                    z[:, -1] = level / 255
            images = await self.run_graph(rt, "decoder", latents)
            for i, o in zip(run, images, strict=True):
                patches = todo[i].patches
                outs[i] = (
                    (o[0][0], m.output_range)
                    if patches is None
                    else (_patched(prepared[i].x[0], o[0][0], m, patches), m.input.range)
                )
        return await self.offload(
            nbytes,
            lambda: [
                Denoised(
                    to_image_bytes(
                        y,
                        value_range,
                        width=p.width,
                        height=p.height,
                        mode=p.mode,
                        fixed_size=m.input.fixed_size,
                        fmt=fmt,
                        extras=p.extras,
                    ),
                    p.intake,
                )
                for (y, value_range), p in zip(outs, prepared, strict=True)
            ],
        )

    async def sample(self, rt: ModelRuntime, n: int, seed: int, temperature: float) -> list[np.ndarray]:
        """n draws from the VAE prior N(0, temperature^2 I), decoded to uint8 pixels."""
        with rt.admission.hold(n):
            return await self._sample(rt, n, seed, temperature)

    async def _sample(self, rt: ModelRuntime, n: int, seed: int, temperature: float) -> list[np.ndarray]:
        shape = tuple(int(d) for d in rt.manifest.latent_shape if d is not None)
        z = (np.random.default_rng(seed).standard_normal((n, *shape)) * temperature).astype(np.float32)
        outs = await self.run_graph(rt, "decoder", [z[i : i + 1] for i in range(n)])
        return [to_pixels(o[0][0], rt.manifest.output_range) for o in outs]

    async def interpolate(self, rt: ModelRuntime, a: bytes, b: bytes, steps: int, resize: bool) -> list[np.ndarray]:
        """Decode ``steps`` points on the segment between the latent means of two images (both ends included)."""
        with rt.admission.hold(steps + 2):
            return await self._interpolate(rt, a, b, steps, resize)

    async def _interpolate(self, rt: ModelRuntime, a: bytes, b: bytes, steps: int, resize: bool) -> list[np.ndarray]:
        prepared = await self.offload(len(a) + len(b), lambda: self._prepare(rt, [a, b], resize, True))
        mu_a, mu_b = (o[0] for o in await self.run_graph(rt, "encoder", [p.x for p in prepared]))
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32).reshape((steps,) + (1,) * (mu_a.ndim - 1))
        z = (1 - t) * mu_a + t * mu_b
        outs = await self.run_graph(rt, "decoder", [z[i : i + 1] for i in range(steps)])
        return [to_pixels(o[0][0], rt.manifest.output_range) for o in outs]
