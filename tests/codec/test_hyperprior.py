"""The photo codec through the one pipeline: ``aecodec-train train hyperprior-codec --dataset photos`` on a few
synthetic photographs, ``aecodec-train export`` (three checked graphs, float16 weights, Gaussian tables), real
payload bytes through the exported graphs, resumable runs, runs of the earlier photo loop as ``--init``, and an
exported codec grown into the wider variable-rate one."""

from __future__ import annotations

import math
from pathlib import Path
from unittest import mock

import numpy as np
import onnx
import pytest
import torch
from aecodec_training import onnx_io
from aecodec_training.checkpoint import load_checkpoint, save_checkpoint
from aecodec_training.cli import app
from aecodec_training.config import TrainConfig
from aecodec_training.datasets import load_dataset
from aecodec_training.datasets.photos import EPOCH_CROPS, PATCH
from aecodec_training.from_onnx import hyperprior_from_onnx
from aecodec_training.models.gained import GainedHyperpriorCodec
from aecodec_training.models.hyperprior import HyperpriorCodec, HyperpriorConfig, gaussian_tables
from aecodec_training.models.widen import widen
from aecodec_training.realpath import codec_of, round_trip
from aecodec_training.registry import build_model
from aecodec_training.trainer import Trainer
from aecodec_training.warm_start import load_init, start_from, trained_lambda
from aecodec_wire import unpack_any
from aecodec_wire.errors import CorruptPayload
from aecodec_wire.manifest import load
from aecodec_wire.quality import psnr_per_image
from PIL import Image
from typer.testing import CliRunner

SMALL = ["--hidden", "16", "--latent", "24"]
CONFIG = HyperpriorConfig(hidden=16, latent=24)


def _photo(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth colour picture with some texture (what the transforms are made for)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(6 * xx + c) * np.cos(4 * yy - c) for c in range(3)], -1) * 100 + 128
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def _train(photos: Path, run: Path, *extra: str) -> str:
    argv = ["train", "hyperprior-codec", "--dataset", "photos", "--data-dir", str(photos), "--out", str(run)]
    res = CliRunner().invoke(app, [*argv, "--threads", "1", "--device", "cpu", "--no-progress", *SMALL, *extra])
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for i, (h, w) in enumerate([(200, 300), (256, 256), (150, 190)]):
        Image.fromarray(_photo(h, w, i)).save(folder / f"p{i}.png")
    for i, name in enumerate(["kite.png", "ladybird.png"]):  # names of the fixed validation split
        Image.fromarray(_photo(200, 260, 10 + i)).save(folder / name)
    return folder


@pytest.fixture(scope="module")
def run(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    _train(photos, folder, "--epochs", "1", "--lam", "0.01")
    return folder


@pytest.fixture(scope="module")
def exported(run: Path) -> tuple[Path, list[str]]:
    """The run exported by the CLI; the files onnx.checker saw."""
    checked: list[str] = []
    real = onnx.checker.check_model

    def spy(model: onnx.ModelProto, full_check: bool = False) -> None:
        checked.append(model.graph.output[0].name)
        real(model, full_check=full_check)

    folder = run.parent / "models" / "photo-test"
    with mock.patch.object(onnx_io.onnx.checker, "check_model", spy):
        res = CliRunner().invoke(app, ["export", str(run), str(folder), "--wire-id", "29"])
    assert res.exit_code == 0, res.output
    return folder, checked


def test_photo_dataset_draws_fresh_crops_per_epoch_and_holds_out_the_validation_photos(photos: Path) -> None:
    data = load_dataset("photos", photos)
    assert data.train_x.shape == (EPOCH_CROPS, 3, PATCH, PATCH) and data.train_x.dtype == np.uint8
    assert data.test_x.shape == (2, 3, 192, 256)  # the centres of kite.png and ladybird.png, multiples of 64
    again = data.epoch_crops(0, 0)  # type: ignore[attr-defined]
    assert np.array_equal(again, data.train_x)  # seeded by epoch: a resumed run sees the same crops
    assert not np.array_equal(data.epoch_crops(0, 1), again)  # type: ignore[attr-defined]
    sides = {img.shape[:2] for img in data.pyramid}  # type: ignore[attr-defined]
    assert (150, 225) in sides and (192, 192) in sides  # 0.75-scale copies; 0.5 ones only if 128+ remain
    assert "kite.png" in data.md5 and data.name == "photos"


def test_trains_and_resumes_through_the_one_trainer(photos: Path, run: Path, tmp_path: Path) -> None:
    state = load_checkpoint(run)
    assert state is not None and state["model_name"] == "hyperprior-codec" and state["epoch"] == 1
    assert state["train_config"]["task"]["lam"] == 0.01 and state["train_config"]["batch_size"] == 8
    first = state["history"][0]
    assert first["psnr_db"] > 8 and first["est_bytes"] > 0
    resumed = tmp_path / "resumed"
    save_checkpoint(resumed, state)
    out = _train(photos, resumed, "--epochs", "2", "--lam", "0.01")
    assert "resuming" in out
    after = load_checkpoint(resumed)
    assert after is not None and after["epoch"] == 2 and len(after["history"]) == 2


def test_export_checks_three_graphs_stores_half_weights_and_seals_the_wire_fields(
    exported: tuple[Path, list[str]],
) -> None:
    folder, checked = exported
    assert sorted(checked) == ["image", "latent", "params"]  # onnx.checker on encoder, hyper decoder, decoder
    manifest = load(folder)
    assert manifest.kind == "codec" and manifest.wire_id == 29 and manifest.latent_stride == 16
    assert manifest.side_channels == 64 and manifest.gaussian is not None and manifest.prior is not None
    assert manifest.input.pad_multiple == 64 and manifest.input.height is None
    assert manifest.architecture == "hyperprior-mean-scale-gdn-n16-m24-z64-subpixel"
    assert manifest.training.epochs == 1 and manifest.training.seconds > 0
    assert {"psnr_db", "bytes", "bpp"} <= set(manifest.metrics)
    graph = onnx.load(str(folder / "decoder.onnx")).graph
    halves = [i for i in graph.initializer if i.data_type == onnx.TensorProto.FLOAT16]
    assert halves and sum(np.prod(i.dims) for i in halves) > 0.9 * sum(np.prod(i.dims) for i in graph.initializer)


def test_exported_graphs_round_trip_real_payloads(exported: tuple[Path, list[str]]) -> None:
    folder, _ = exported
    manifest = load(folder)
    pixels = _photo(128, 192, 5).transpose(2, 0, 1)[None]
    rt = round_trip(folder, manifest, pixels)
    assert rt.decoded.shape == pixels.shape
    assert rt.psnr_db[0] == pytest.approx(psnr_per_image(pixels, rt.decoded)[0]) and rt.psnr_db[0] > 8
    est = rt.estimated_bits[0] / 8
    assert est <= rt.latent_bytes[0] <= est * 1.02 + 8  # the range coder's overhead is a few bytes
    again = round_trip(folder, manifest, pixels)
    assert np.array_equal(again.decoded, rt.decoded) and again.payload_bytes[0] == rt.payload_bytes[0]


def test_decoding_needs_the_exact_bytes(exported: tuple[Path, list[str]]) -> None:
    folder, _ = exported
    manifest = load(folder)
    codec = codec_of(folder, manifest)
    y = np.random.default_rng(0).normal(0, 3, (1, CONFIG.latent, 4, 4)).astype(np.float32)
    z = np.zeros((1, CONFIG.side, 1, 1), np.float32)
    data = bytearray(codec.encode({"latent": y, "side": z}, [(64, 64)], ["RGB"])[0])
    data[len(data) // 2] ^= 0x10
    with pytest.raises(CorruptPayload, match="checksum"):
        codec.decode(unpack_any(bytes(data)))


def test_values_outside_their_tables_decode_exactly(exported: tuple[Path, list[str]]) -> None:
    """An element far outside its Gaussian table (a model's scale can be small where its latent is not) is
    escaped, not clipped: the decoder gets round(y - mean) back for every element, at a few bytes each."""
    folder, _ = exported
    codec = codec_of(folder, load(folder))
    rng = np.random.default_rng(1)
    y = rng.normal(0, 0.3, (1, CONFIG.latent, 8, 8)).astype(np.float32)
    y[0, 0, 0, :4] = [40.2, -75.0, 3000.4, -1_000_000.0]  # scales near 0.1: tables span a few values only
    z = np.zeros((1, CONFIG.side, 2, 2), np.float32)
    latents = {"latent": y, "side": z}
    data = codec.encode(latents, [(128, 128)], ["RGB"])[0]
    y_hat = codec.decode(unpack_any(data))
    mean = codec._mean_index(codec._z_symbols(z[0]), z.shape[1:], y.shape[1:], None)[0][None]  # both sides'

    values = np.rint(y.astype(np.float64) - mean.astype(np.float64)).astype(np.float32)
    assert np.array_equal(y_hat, values + mean) and values[0, 0, 0, 3] == -1_000_000
    inside = y.copy()
    inside[0, 0, 0, :4] = mean[0, 0, 0, :4]
    plain = codec.encode({"latent": inside, "side": z}, [(128, 128)], ["RGB"])[0]
    assert len(data) - len(plain) <= 4 * 6 + 4  # an escape costs a few bytes, not a table's worth
    assert codec.estimated_bits(latents)[0] / 8 == pytest.approx(len(data) - 14, abs=12)
    side = codec.estimated_side_bits(latents)[0]  # z alone: its 2x2 positions of every channel, under its tables
    z_only = codec.estimated_side_bits({"latent": inside, "side": z})[0]
    assert 0 < side == z_only < codec.estimated_bits(latents)[0] - 20 * 8  # the escapes are y's bits, not z's


def _old_run(folder: Path) -> dict:
    """A checkpoint as the earlier stand-alone photo loop wrote it."""
    torch.manual_seed(3)
    model = HyperpriorCodec(CONFIG)
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    x = torch.rand(2, 3, 64, 64)
    model(x)[0].mean().backward()
    opt.step()
    state = {"config": CONFIG.as_dict(), "model": model.state_dict(), "optimizer": opt.state_dict()}
    state |= {"rng": None, "step": 130, "elapsed_s": 42.0, "lam": 0.0067, "command": "python -m old"}
    state |= {"val": {"psnr_db": 20.0, "bpp": 0.5}, "val_names": ["kite.png"], "data_md5": {"kite.png": "x"}}
    save_checkpoint(folder, state)
    return state


def test_init_from_an_earlier_photo_run_and_resume_its_conversion(photos: Path, tmp_path: Path) -> None:
    old = _old_run(tmp_path / "old")
    cfg = TrainConfig(
        model="hyperprior-codec", dataset="photos", data_dir=str(photos), init=str(tmp_path / "old"), progress=False
    )
    init = load_init(cfg.init)
    assert init["seconds"] == 42.0
    model = Trainer(cfg, log=lambda _msg: None).model
    for key, value in old["model"].items():  # g_a, g_s, h_a, h_s, z_prior: the same names and weights
        assert torch.equal(model.state_dict()[key], value), key
    new = tmp_path / "new"
    result = CliRunner().invoke(app, ["convert", str(tmp_path / "old"), str(new)])
    assert result.exit_code == 0, result.output
    trainer = Trainer(
        TrainConfig(
            model="hyperprior-codec",
            dataset="photos",
            data_dir=str(photos),
            out=str(new),
            options={"hidden": 16, "latent": 24},  # the same architecture flags, as on every resume
            task={"lam": 0.0067},
            progress=False,
        ),
        log=lambda _msg: None,
    )
    assert (trainer.epoch, trainer.step) == divmod(130, 60) and trainer.seconds == 42.0  # 60 steps an epoch
    assert trainer.task.settings.lam == 0.0067  # type: ignore[attr-defined]
    moments = trainer.optimizer.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(moments, old["optimizer"]["state"][0]["exp_avg"])
    again = CliRunner().invoke(app, ["convert", str(tmp_path / "old"), str(tmp_path / "old")])
    assert again.exit_code != 0 and "new folder" in again.output


def test_a_shipped_codec_grows_into_a_wider_variable_rate_one_that_starts_where_it_was(
    photos: Path, exported: tuple[Path, list[str]]
) -> None:
    """``--init`` of a fixed-rate model folder into ``gained-hyperprior-codec``: widened (every width larger),
    its level at the folder's lambda decodes exactly as the folder's transforms do, and its lineage is the
    folder's command."""
    folder = exported[0]
    lambdas = [0.0025, 0.01, 0.04]  # the folder was trained at 0.01: the middle level
    cfg = TrainConfig(
        model="gained-hyperprior-codec",
        dataset="photos",
        data_dir=str(photos),
        init=str(folder),
        options={"hidden": 32, "latent": 40, "side": 72, "lambdas": lambdas},
        progress=False,
    )
    trainer = Trainer(cfg, log=lambda _msg: None)
    grown = trainer.model
    assert (grown.config.hidden, grown.config.latent, grown.config.side) == (32, 40, 72)
    shipped = hyperprior_from_onnx(folder)
    x = torch.from_numpy(_photo(128, 192, 7)).permute(2, 0, 1)[None].float() / 255
    grown.eval()
    with torch.no_grad():
        want, _ = shipped.compress_estimate(x)
        got, _ = grown.compress_estimate_at(x, torch.ones(1))
        low, _ = grown.compress_estimate_at(x, torch.zeros(1))
    assert torch.allclose(got, want, atol=1e-5)
    assert not torch.allclose(low, want, atol=1e-3)  # the other levels quantise more coarsely
    g_y, _ = grown.gains(torch.zeros(1))
    assert torch.allclose(g_y, torch.full_like(g_y, 0.5))  # sqrt(0.0025 / 0.01)
    manifest = load(folder, verify=False)
    assert trainer.lineage["command"] == manifest.training.command
    assert trained_lambda(manifest.description) == 0.01


def test_init_from_the_shipped_variable_rate_folder_continues_its_transforms_and_gains() -> None:
    """A run whose folder is gone resumes from the shipped ``photo-codec-vr``: the same model, its gains and its
    decoder's weights as the graphs hold them (the decoder gives what decoder.onnx gives)."""
    folder = Path(__file__).resolve().parents[2] / "models" / "photo-codec-vr"
    if not (folder / "manifest.json").is_file():
        pytest.skip("photo-codec-vr is not shipped")
    init = load_init(str(folder))
    assert init["model_name"] == "gained-hyperprior-codec"
    model = build_model(init["model_name"], **init["model_config"])
    start_from(model, init["model_name"], init)
    rate = load(folder, verify=False).variable_rate
    assert rate is not None and torch.equal(model.log_gain_y, torch.tensor(rate.log_gain_y))
    latent = torch.randn(1, 192, 4, 6, generator=torch.Generator().manual_seed(0)) * 3
    with torch.no_grad():
        mine = model.decode(latent).numpy()
    served = onnx_io.session(folder / "decoder.onnx").run(None, {"latent": latent.numpy()})[0]
    assert np.abs(mine - served).max() < 1e-3
    tables = load(folder, verify=False).prior  # z's prior, not in the graphs, codes as its tables do
    assert tables is not None
    offsets, counts = np.array(tables.offsets), np.array(tables.counts, dtype=np.float64)
    assert np.abs(model.z_prior.offsets().detach().numpy() - offsets).max() < 1e-3
    symbols = torch.from_numpy(np.array(tables.minima)[:, None] + np.arange(counts.shape[1]) + offsets[:, None])
    seen = np.maximum(counts - 1, 0)  # the tables' floor of one count per bin (every symbol codable) taken off
    p = seen / seen.sum(1, keepdims=True)
    with torch.no_grad():
        q = model.z_prior.likelihood(symbols[None].float())[0].double().numpy()
    kl = (p * np.log2(np.where(p > 0, p, 1) / q)).sum(1).mean()
    assert kl < 1e-3  # bits per symbol more than the distribution the tables were made from


def test_init_from_a_model_folder_that_is_no_hyperprior_says_what_it_takes(tmp_path: Path) -> None:
    folder = Path(__file__).resolve().parents[2] / "models" / "mnist-ae"
    if not (folder / "manifest.json").is_file():
        pytest.skip("mnist-ae is not shipped")
    with pytest.raises(ValueError, match=r"holds a hyperprior codec .*'mlp-reference'.* the run folder"):
        load_init(str(folder))
    with pytest.raises(FileNotFoundError, match="neither a run"):
        load_init(str(tmp_path))


def test_init_takes_the_averaged_weights_when_the_run_kept_them() -> None:
    """A run trained with ``--ema`` is continued from (and exported with) its average, not its last step."""
    last, average = HyperpriorCodec(CONFIG), HyperpriorCodec(CONFIG)
    init = {"model_name": "hyperprior-codec", "model_state": last.state_dict(), "ema_state": average.state_dict()}
    model = HyperpriorCodec(CONFIG)

    def holds(weights: HyperpriorCodec) -> bool:
        return all(torch.equal(v, weights.state_dict()[k]) for k, v in model.state_dict().items())

    start_from(model, "hyperprior-codec", init)
    assert holds(average) and not holds(last)
    start_from(model, "hyperprior-codec", {**init, "ema_state": None})  # a run without an average: its weights
    assert holds(last)


def test_a_variable_rate_codec_grows_new_levels_and_keeps_the_old_ones(photos: Path, tmp_path: Path) -> None:
    """``--init RUN --lambdas ...`` of the same model: its architecture but these levels, every weight kept; a
    level at a trained lambda codes exactly as before, a new one past the top starts from the top's gains scaled
    by sqrt(lambda / top), one between two levels half-way (in log gain) between theirs."""
    small = {"hidden": 16, "latent": 24, "side": 16}
    trained = build_model("gained-hyperprior-codec", **small, lambdas=[0.0025, 0.01, 0.04])
    with torch.no_grad():  # gains unlike their starting values, so that reading them off is tested
        trained.log_gain_y.add_(0.1 * torch.randn_like(trained.log_gain_y))
        trained.log_gain_z.add_(0.1 * torch.randn_like(trained.log_gain_z))
    init = {
        "model_name": "gained-hyperprior-codec",
        "model_config": trained.config_dict(),
        "model_state": trained.state_dict(),
        "train_config": {"command": "aecodec-train train gained-hyperprior-codec", "task": {}},
        "epoch": 3,
        "seconds": 60.0,
    }
    save_checkpoint(tmp_path / "run", init)
    cfg = TrainConfig(
        model="gained-hyperprior-codec",
        dataset="photos",
        data_dir=str(photos),
        init=str(tmp_path / "run"),
        options={"lambdas": [0.0025, 0.005, 0.01, 0.04, 0.16]},
        progress=False,
    )
    grown = Trainer(cfg, log=lambda _msg: None).model
    assert isinstance(grown, GainedHyperpriorCodec)
    assert grown.config.lambdas == (0.0025, 0.005, 0.01, 0.04, 0.16) and grown.config.hidden == 16
    x = torch.from_numpy(_photo(64, 64, 3)).permute(2, 0, 1)[None].float() / 255
    trained.eval(), grown.eval()
    with torch.no_grad():
        for old, new in ((0, 0), (1, 2), (2, 3)):
            want, _ = trained.compress_estimate_at(x, torch.tensor([float(old)]))
            got, _ = grown.compress_estimate_at(x, torch.tensor([float(new)]))
            assert torch.equal(got, want)
        top = trained.log_gain_y[2] + 0.5 * math.log(4)
        assert torch.allclose(grown.log_gain_y[4], top)
        assert torch.allclose(grown.log_gain_z[1], (trained.log_gain_z[0] + trained.log_gain_z[1]) / 2)
    with pytest.raises(ValueError, match="same transforms"):
        wider = build_model("gained-hyperprior-codec", hidden=32, latent=24, side=16)
        start_from(wider, "gained-hyperprior-codec", init)


@pytest.mark.parametrize("bad", ["0.01,abc", "0.01", "0.04,0.01", "0,0.01", "0.01,0.01"])
def test_bad_lambdas_are_a_usage_error_before_training(tmp_path: Path, bad: str) -> None:
    res = CliRunner().invoke(app, ["train", "gained-hyperprior-codec", "--lambdas", bad, "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--lambdas" in res.output
    assert not any(tmp_path.iterdir())  # nothing written


def test_widening_refuses_a_narrower_model() -> None:
    with pytest.raises(ValueError, match="narrower"):
        widen(HyperpriorCodec(HyperpriorConfig(hidden=32)), HyperpriorCodec(HyperpriorConfig(hidden=16)))


def test_gaussian_tables_cover_their_scale() -> None:
    tables = gaussian_tables()
    assert tables.scales[0] == pytest.approx(0.11) and tables.scales[-1] == pytest.approx(256)
    for s, lo, counts in zip(tables.scales, tables.minima, tables.counts, strict=True):
        assert lo == -((len(counts) - 1) // 2) and -lo >= min(6 * s, 1024)  # the values, then the escape
        assert counts[-1] == 1 or -lo == 1024  # the tails beyond +-6.2 sigma: the least a symbol can have
        assert abs(sum(counts) - (1 << tables.precision)) < len(counts)  # normalised up to rounding


def test_z_prior_learns_faster_and_a_run_saved_before_keeps_its_adam_moments() -> None:
    """z's prior has its own, higher learning rate; a checkpoint whose optimizer had one group for every
    parameter resumes under the new groups with each parameter's moments where they were."""
    from aecodec_training.models.hyperprior import Z_PRIOR_LR_FACTOR
    from aecodec_training.trainer import regrouped

    model = HyperpriorCodec(CONFIG)
    groups = model.param_groups(1e-4)
    assert [g["lr"] for g in groups] == [1e-4, pytest.approx(Z_PRIOR_LR_FACTOR * 1e-4)]
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in model.z_prior.parameters()}

    trainable = [p for p in model.parameters() if p.requires_grad]
    old = torch.optim.Adam([{"params": trainable, "lr": 1e-4, "base_lr": 1e-4}])
    for p in trainable:
        p.grad = torch.randn_like(p)
    old.step()
    moments = {id(p): old.state[p]["exp_avg"].clone() for p in trainable}

    new = torch.optim.Adam([{**g, "base_lr": g["lr"]} for g in groups])
    new.load_state_dict(regrouped(old.state_dict(), new, model))
    assert all(torch.equal(new.state[p]["exp_avg"], moments[id(p)]) for g in new.param_groups for p in g["params"])
    assert new.param_groups[1]["lr"] == pytest.approx(Z_PRIOR_LR_FACTOR * new.param_groups[0]["lr"])
    with pytest.raises(ValueError, match="another number of parameters"):
        regrouped(old.state_dict(), torch.optim.Adam([{"params": trainable[:3], "base_lr": 1.0}]), model)
