"""Payloads that decode on any machine: the integer hyper-synthesis (aecodec_wire.integer_hyper), with real parts.

A tiny ``gained-hyperprior-codec`` is trained for a few seconds by the one trainer on synthetic photographs and
exported by ``export_run``, which converts its h_s to integers (``integer_hyper`` in the manifest, the arrays in
``hyper_synthesis.npz``). Checked: the network equals a pure-Python integer reference and PyTorch's float64
convolutions exactly; where the float hyper decoder's outputs are perturbed by 1e-4 (relative) the float path
picks other tables and decodes to something else, the integer path decodes the same pixels; another onnxruntime
optimisation level for the encoder and decoder graphs changes nothing the tables depend on; the real service
serves the model over HTTP without opening hyper_decoder.onnx, also from a folder without it; and a network
file that does not match its manifest is refused before use.
"""

from __future__ import annotations

import io
import shutil
import time
import zipfile
from bisect import bisect_right
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from aecodec_training.export import export_run
from aecodec_training.realpath import codec_of, side_models
from aecodec_wire import integer_hyper, unpack_any
from aecodec_wire.codec_factory import codec_for
from aecodec_wire.hyperprior import HyperpriorCodec
from aecodec_wire.integer_hyper import IntegerHyperSynthesis, read_arrays
from aecodec_wire.manifest import (
    HYPER_DECODER_FILE,
    INTEGER_HYPER_FILE,
    IntegerHyper,
    Manifest,
    load,
    seal,
)
from aecodec_wire.quality import psnr
from PIL import Image
from pydantic import ValidationError

from tests.codec.helpers import train_tiny_gained
from tests.service.conftest import Running, serve
from tests.service.photos import photo

NAME, BARE, LAMBDAS = "int-test", "int-bare", [0.002, 0.01, 0.05]
WIDTH, HEIGHT = 256, 192
PNG = {"Content-Type": "image/png"}
PERTURB = 1e-4  # relative: far more than two machines' float32 differ by (about 3e-6 between optimisation levels)


def _png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder: the exported tiny model (with hyper_decoder.onnx) and a copy sealed without it."""
    root = tmp_path_factory.mktemp("integer-hyper")
    train_tiny_gained(root, LAMBDAS)  # one epoch of a tiny model: exactness, not quality (but a picture)
    served = root / "models"
    export_run(root / "run", served / NAME, NAME, wire_id=31)
    bare = served / BARE
    shutil.copytree(served / NAME, bare)
    (bare / HYPER_DECODER_FILE).unlink()
    seal(bare, load(bare, verify=False).model_copy(update={"name": BARE, "wire_id": 32}))
    return served


@pytest.fixture(scope="module")
def folder(models: Path) -> Path:
    return models / NAME


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return photo(WIDTH, HEIGHT, 7)


def _codec(folder: Path) -> HyperpriorCodec:
    codec = codec_of(folder, load(folder))
    assert isinstance(codec, HyperpriorCodec) and codec.integer is not None
    return codec


def _float_codec(folder: Path, perturb: float = 0.0) -> HyperpriorCodec:
    """The same model through today's float path (hyper_decoder.onnx, onnxruntime), its outputs optionally
    multiplied by 1 +- ``perturb`` element by element: what another machine's float32 might give."""
    manifest = load(folder).model_copy(update={"integer_hyper": None})
    hyper = side_models(folder)["hyper_decoder"]
    signs = np.random.default_rng(0)

    def perturbed(z: np.ndarray) -> np.ndarray:
        out = hyper(z)
        return (out * (1 + perturb * signs.choice([-1.0, 1.0], out.shape))).astype(np.float32)

    return HyperpriorCodec(manifest, perturbed if perturb else hyper)


def _latents(folder: Path, image: np.ndarray, level: str = "all") -> dict[str, np.ndarray]:
    levels = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL, "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL}
    opts = ort.SessionOptions()
    opts.graph_optimization_level = levels[level]
    enc = ort.InferenceSession(str(folder / "encoder.onnx"), opts, providers=["CPUExecutionProvider"])
    y, z = enc.run(["latent", "side"], {"image": image.transpose(2, 0, 1)[None].astype(np.float32) / 255})
    return {"latent": y, "side": z}


def _pixels(folder: Path, y_hat: np.ndarray, level: str = "all") -> np.ndarray:
    levels = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL, "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL}
    opts = ort.SessionOptions()
    opts.graph_optimization_level = levels[level]
    dec = ort.InferenceSession(str(folder / "decoder.onnx"), opts, providers=["CPUExecutionProvider"])
    out = dec.run(None, {"latent": y_hat})[0][0].transpose(1, 2, 0)
    return np.clip(np.rint(out.astype(np.float64) * 255), 0, 255).astype(np.uint8)


# --- a pure-Python integer reference of the network --------------------------------------------------------
def _reference(spec: IntegerHyper, arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The network with Python integers and loops only: no floating point anywhere."""
    amax = (1 << (spec.activation_bits - 1)) - 1
    a = [[[max(-amax, min(amax, int(v))) for v in row] for row in ch] for ch in x]
    for i, layer in enumerate(spec.layers):
        w, b = arrays[f"w{i}"].tolist(), arrays[f"b{i}"].tolist()
        up, down = arrays[f"up{i}"].tolist(), arrays[f"down{i}"].tolist()
        h, width, k = len(a[0]), len(a[0][0]), layer.kernel
        p = k // 2
        out = []
        for o in range(layer.out_channels):
            plane = []
            for r in range(h):
                row = []
                for c in range(width):
                    v = b[o]
                    for ci in range(layer.in_channels):
                        for dr in range(k):
                            rr = r + dr - p
                            if 0 <= rr < h:
                                for dc in range(k):
                                    cc = c + dc - p
                                    if 0 <= cc < width:
                                        v += w[o][ci][dr][dc] * a[ci][rr][cc]
                    v = (v * (up[o] if v >= 0 else down[o]) + ((1 << layer.shift) >> 1)) >> layer.shift
                    row.append(v if i == len(spec.layers) - 1 else max(-amax, min(amax, v)))
                plane.append(row)
            out.append(plane)
        s = layer.upsample  # pixel shuffle: out[c][r*s + i][q*s + j] = in[c*s*s + i*s + j][r][q]
        a = [
            [[out[c * s * s + (r % s) * s + (q % s)][r // s][q // s] for q in range(width * s)] for r in range(h * s)]
            for c in range(layer.out_channels // (s * s))
        ]
    return np.asarray(a, dtype=np.int64)


def _reference_index(spec: IntegerHyper, thresholds: list[int], raw: np.ndarray, offsets: list[int], tables: int):
    """The table index of each raw scale: log_min + #{thresholds <= r} + offset, ceiling over 2**log_step_bits."""
    out = []
    for c, plane in enumerate(raw):
        for r in plane.reshape(-1).tolist():
            level = spec.log_min + bisect_right(thresholds, r) + offsets[c]
            out.append(min(tables - 1, max(0, -((-level) // (1 << spec.log_step_bits)))))
    return np.asarray(out)


def test_export_writes_the_integer_network_and_seals_it(folder: Path) -> None:
    manifest = load(folder)
    spec = manifest.integer_hyper
    assert spec is not None and (folder / INTEGER_HYPER_FILE).is_file()
    assert [(lay.in_channels, lay.out_channels, lay.upsample) for lay in spec.layers] == [
        (16, 64, 2),
        (16, 96, 2),
        (24, 48, 1),
    ]  # h_s: sub-pixel conv (Z -> 4N), LeakyReLU, sub-pixel conv (N -> 4 * 3N/2), LeakyReLU, conv (3N/2 -> 2M)
    assert {"q1_bpp", "q3_bpp", "psnr_db"} <= set(manifest.metrics)  # the served figures, through the integers
    data = bytearray((folder / INTEGER_HYPER_FILE).read_bytes())
    copy = folder.parent.parent / "tampered"
    shutil.copytree(folder, copy)
    data[len(data) // 2] ^= 1
    (copy / INTEGER_HYPER_FILE).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="content hash"):
        load(copy)  # the file is covered by the model's version


def test_the_network_equals_a_pure_integer_reference_and_torch(folder: Path) -> None:
    """(c) numpy's float64 products give exactly the integers of Python's integer arithmetic, and so do
    PyTorch's float64 convolutions (another summation order) and numpy in strips of one row."""
    manifest = load(folder)
    spec = manifest.integer_hyper
    assert spec is not None and manifest.variable_rate is not None
    arrays = read_arrays(folder / INTEGER_HYPER_FILE, spec)
    net = IntegerHyperSynthesis(manifest, arrays)
    rng = np.random.default_rng(3)
    amax = (1 << (spec.activation_bits - 1)) - 1
    x = rng.integers(-amax // 4, amax // 4, (16, 2, 3))
    x[0, 0, 0], x[1, 1, 2] = amax, -amax  # the extremes the bounds were proven for
    want = _reference(spec, arrays, x)
    got = net.run(x)
    assert got.dtype == np.int64 and np.array_equal(got, want)
    a = torch.from_numpy(x)
    for i, layer in enumerate(spec.layers):  # PyTorch, float64
        t = {k: torch.from_numpy(arrays[f"{k}{i}"]) for k in ("w", "b", "up", "down")}
        v = F.conv2d(a.double()[None], t["w"].double(), padding=layer.kernel // 2)[0].long() + t["b"][:, None, None]
        m = torch.where(v >= 0, t["up"][:, None, None], t["down"][:, None, None])
        a = (v * m + ((1 << layer.shift) >> 1)) >> layer.shift
        if i < len(spec.layers) - 1:
            a = a.clamp(-amax, amax)
        if layer.upsample > 1:
            a = F.pixel_shuffle(a[None], layer.upsample)[0]
    assert np.array_equal(a.numpy(), want)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(integer_hyper, "STRIP_VALUES", 1)  # one row per product: other matrix shapes and blocking
        assert np.array_equal(net.run(x), want)
    gains = net.log_offsets(np.asarray(manifest.variable_rate.log_gain_y[2], np.float32))
    index = net.table_index(got, gains)
    tables = len(manifest.gaussian.scales) if manifest.gaussian else 0
    thresholds = arrays["thresholds"].tolist()
    assert np.array_equal(index, _reference_index(spec, thresholds, want[24:], gains.tolist(), tables))
    log_z = np.asarray(manifest.variable_rate.log_gain_z[0], np.float32)
    exact = net.input_gains(log_z)  # decimal's correctly rounded exp; float64's agrees to within its rounding
    assert np.abs(exact - 2.0**spec.gain_fraction * np.exp(-log_z.astype(np.float64))).max() <= 0.5 + 1e-9 * exact.max()


def test_perturbed_floats_pick_other_tables_the_integers_do_not(folder: Path, image: np.ndarray) -> None:
    """(a) The float path with its hyper decoder's outputs perturbed by 1e-4 (relative) picks other tables for
    some elements and so decodes its own payload to another latent; the integer path's payload decodes to the
    same latent and pixels on a decoder whose float hyper decoder is perturbed the same way (it never runs it)."""
    latents = _latents(folder, image)
    size = [(WIDTH, HEIGHT)]
    exact, other = _float_codec(folder), _float_codec(folder, PERTURB)
    y, z = latents["latent"][0], latents["side"][0]
    changed = 0
    for milli in range(1000, 3001, 250):
        z_sym = exact._z_symbols(z, exact._gains(milli)[1])
        _, want = exact._mean_index(z_sym, z.shape, y.shape, milli)
        _, moved = other._mean_index(z_sym, z.shape, y.shape, milli)
        changed += np.count_nonzero(want != moved)
    print(f"{changed} of {9 * y.size} tables moved by the perturbation")
    assert changed > 0  # the float path WOULD pick other tables
    payload = exact.encode(latents, size, ["RGB"], quality=2)[0]
    right = exact.decode(unpack_any(payload))
    try:
        wrong = other.decode(unpack_any(payload))
    except ValueError:  # the stream can also run out or hold an impossible escape: as bad
        wrong = None
    assert wrong is None or not np.array_equal(wrong, right)
    integer = _codec(folder)
    payload = integer.encode(latents, size, ["RGB"], quality=2)[0]
    manifest = load(folder)
    elsewhere = HyperpriorCodec(manifest, _float_codec(folder, PERTURB).hyper_decoder, integer.integer)
    here, there = integer.decode(unpack_any(payload)), elsewhere.decode(unpack_any(payload))
    assert np.array_equal(here, there)
    assert np.array_equal(_pixels(folder, here), _pixels(folder, there))
    assert psnr(image, _pixels(folder, here)) > 10


def test_another_optimisation_level_decodes_the_same(folder: Path, image: np.ndarray) -> None:
    """(b) A payload made with the encoder graph at onnxruntime's full optimisation decodes, with the decoder
    graph at none, to the same latent bit for bit (the tables come from integers) and to the same pixels up to
    the decoder graph's own float32 rounding."""
    codec = _codec(folder)
    payload = codec.encode(_latents(folder, image, "all"), [(WIDTH, HEIGHT)], ["RGB"], quality=2.5)[0]
    y_hat = codec.decode(unpack_any(payload))
    again = _codec(folder).decode(unpack_any(payload))  # a fresh codec: nothing carried over
    assert np.array_equal(y_hat, again)
    full, none = _pixels(folder, y_hat, "all"), _pixels(folder, again, "none")
    assert np.abs(full.astype(int) - none.astype(int)).max() <= 1 and np.mean(full == none) > 0.999
    other = codec.encode(_latents(folder, image, "none"), [(WIDTH, HEIGHT)], ["RGB"], quality=2.5)[0]
    assert len(other) == pytest.approx(len(payload), abs=8)  # the encoder's floats move y, never the tables' rule


def test_served_over_http_without_the_float_hyper_decoder(models: Path, folder: Path, image: np.ndarray) -> None:
    """(d) The real service encodes and decodes with the integer network (no onnxruntime session for the hyper
    decoder; one model folder has no hyper_decoder.onnx at all), byte for byte what the offline real path gives,
    at several qualities and under max_bytes; a damaged payload is a 422."""
    with serve(models) as running:
        for name in (NAME, BARE):
            rt = running.app.state.registry.get(name)
            assert rt.codec.integer is not None and rt.codec.hyper_decoder is None
        _round_trips(running, models, image)


def _round_trips(running: Running, models: Path, image: np.ndarray) -> None:
    """Each served payload decodes, in the service and in a codec loaded here, to the same latent bit for bit,
    and the service's pixels are the decoder graph's on it (up to float32 rounding of that graph)."""
    data = _png(image)
    with running.client() as client:
        for name in (NAME, BARE):
            here = _codec(models / name)
            there = running.app.state.registry.get(name).codec
            for quality in (1, 2.5, 3):
                r = client.post("/encode", params={"model": name, "quality": quality}, content=data, headers=PNG)
                assert r.status_code == 200, r.text
                y_hat = here.decode(unpack_any(r.content))
                assert np.array_equal(y_hat, there.decode(unpack_any(r.content)))
                d = client.post("/decode", content=r.content, headers={"Content-Type": "application/x-protobuf"})
                assert d.status_code == 200, d.text
                served = np.asarray(Image.open(io.BytesIO(d.content)).convert("RGB")).astype(int)
                assert np.abs(served - _pixels(models / name, y_hat)).max() <= 1
            budget = len(r.content) - 20
            fitted = client.post("/encode", params={"model": name, "max_bytes": budget}, content=data, headers=PNG)
            assert fitted.status_code == 200 and len(fitted.content) <= budget
        damaged = bytearray(r.content)
        damaged[len(damaged) // 2] ^= 0x40
        bad = client.post("/decode", content=bytes(damaged), headers={"Content-Type": "application/x-protobuf"})
        assert bad.status_code == 422


def test_the_level_lookup_counts_exactly_as_a_binary_search() -> None:
    """LevelLookup replaces np.searchsorted for the table index: the same count at every threshold, one
    either side, far outside and at random, with repeated thresholds, a single one and wide gaps."""
    rng = np.random.default_rng(5)
    cases = [
        np.array([5, 5, 5, 9, 9, 100]),
        np.array([0]),
        np.array([-(1 << 20), 3, 4, 4, 4, 1 << 20]),  # gaps of 1 and of 2**20: buckets of one
        np.sort(rng.integers(-(10**6), 10**6, 500)),
    ]
    for thresholds in cases:
        lookup = integer_hyper.LevelLookup(thresholds)
        near = (thresholds[:, None] + np.arange(-2, 3)).reshape(-1)
        probe = np.concatenate([near, rng.integers(-(1 << 41), 1 << 41, 10_000), [-(1 << 62), 1 << 62]])
        assert np.array_equal(lookup.count(probe), np.searchsorted(thresholds, probe, side="right"))
    with pytest.raises(ValueError, match="too dense"):  # gaps of one over 2**30: a lookup too large to build
        integer_hyper.LevelLookup(np.array([0, 1, 1 << 30]))
    with pytest.raises(ValueError, match="within"):
        integer_hyper.LevelLookup(np.array([np.iinfo(np.int64).min, 0]))


def test_a_network_that_does_not_match_its_manifest_is_refused(folder: Path, tmp_path: Path) -> None:
    manifest = load(folder)
    spec = manifest.integer_hyper
    assert spec is not None
    arrays = read_arrays(folder / INTEGER_HYPER_FILE, spec)
    too_wide = dict(arrays, w0=arrays["w0"].astype(np.int32) * 4)  # beyond the declared weight bits
    with pytest.raises(ValueError, match="exceeds"):
        IntegerHyperSynthesis(manifest, too_wide)
    with pytest.raises(ValueError, match="expected"):
        IntegerHyperSynthesis(manifest, {k: v for k, v in arrays.items() if k != "thresholds"})
    with pytest.raises(ValueError, match="expected integers"):
        IntegerHyperSynthesis(manifest, dict(arrays, b0=arrays["b0"].astype(np.float64)))
    with pytest.raises(ValueError, match="expected integers"):  # uint64: not all of it fits int64
        IntegerHyperSynthesis(manifest, dict(arrays, b0=arrays["b0"].astype(np.uint64)))
    lowest = np.full_like(arrays["b0"], np.iinfo(np.int64).min)  # whose |value| int64 cannot hold
    with pytest.raises(ValueError, match="overflow int64"):
        IntegerHyperSynthesis(manifest, dict(arrays, b0=lowest))
    wide = manifest.model_copy(update={"integer_hyper": spec.model_copy(update={"activation_bits": 31})})
    with pytest.raises(ValueError, match="overflow int64"):  # the rescale's products would pass 2**63
        IntegerHyperSynthesis(wide, arrays)
    with pytest.MonkeyPatch.context() as mp:  # sums past the exact range of float64 (here made small)
        mp.setattr(integer_hyper, "FLOAT_EXACT", 1 << 20)
        with pytest.raises(ValueError, match="not exact"):
            IntegerHyperSynthesis(manifest, arrays)
    big = tmp_path / INTEGER_HYPER_FILE  # a member larger than its declared shape: refused unread
    np.savez(big, **(arrays | {"thresholds": np.zeros(spec.log_levels * 4, np.int64)}))
    with pytest.raises(ValueError, match="unexpected member"):
        read_arrays(big, spec)
    np.savez(big, **(arrays | {"thresholds": np.zeros(spec.log_levels + 1, np.int64)}))  # small, wrong shape
    with pytest.raises(ValueError, match="expected integers"):
        read_arrays(big, spec)
    with zipfile.ZipFile(big, "w") as zf:
        zf.writestr("extra.npy", b"x")
    with pytest.raises(ValueError, match="unexpected member"):
        read_arrays(big, spec)
    layers = [spec.layers[0], spec.layers[2]]  # 64 channels out, 24 expected in: no chain
    with pytest.raises(ValidationError, match="next one's input"):
        IntegerHyper.model_validate(spec.model_dump() | {"layers": [lay.model_dump() for lay in layers]})
    with pytest.raises(ValueError, match="needs that network"):
        codec_for(manifest, side_models(folder))  # a manifest that declares it cannot fall back to floats


def test_a_folder_whose_network_is_refused_is_reported_and_the_rest_served(
    folder: Path, image: np.ndarray, tmp_path: Path
) -> None:
    """A sealed folder whose network breaks its declared bounds does not load (the reason is the service's,
    /readyz names it); the other model serves as before."""
    models = tmp_path / "models"
    shutil.copytree(folder, models / NAME)
    broken = models / "int-broken"
    shutil.copytree(folder, broken)
    spec = load(folder).integer_hyper
    assert spec is not None
    arrays = read_arrays(folder / INTEGER_HYPER_FILE, spec)
    np.savez(broken / INTEGER_HYPER_FILE, **(arrays | {"w2": arrays["w2"].astype(np.int16) * 2}))
    seal(broken, load(broken, verify=False).model_copy(update={"name": "int-broken", "wire_id": 33}))
    with serve(models, wait_ready=False) as running, running.client() as client:
        deadline = 200
        while not running.app.state.registry.loaded_once and deadline:
            deadline -= 1
            time.sleep(0.05)
        errors = running.app.state.registry.errors
        assert any("int-broken" in k and "exceeds" in v for k, v in errors.items()), errors
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "int-broken" in ready.json()["detail"]
        r = client.post("/encode", params={"model": NAME}, content=_png(image), headers=PNG)
        assert r.status_code == 200


def test_models_without_it_keep_the_float_path(folder: Path, image: np.ndarray) -> None:
    manifest: Manifest = load(folder).model_copy(update={"integer_hyper": None})
    codec = codec_for(manifest, side_models(folder))
    assert isinstance(codec, HyperpriorCodec) and codec.integer is None
    payload = codec.encode(_latents(folder, image), [(WIDTH, HEIGHT)], ["RGB"], quality=2)[0]
    assert codec.decode(unpack_any(payload)).shape == (1, 24, HEIGHT // 16, WIDTH // 16)
