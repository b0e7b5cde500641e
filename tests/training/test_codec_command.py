"""``aecodec-train codec`` end to end on a tiny folder of images: trains levels, publishes them atomically
into a model folder, and a real service serves them after a reload; plus the planning it rests on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from aecodec_training.cli import app
from aecodec_training.custom_codec import plan, taken_wire_ids
from aecodec_training.rd import at_bytes, bytes_for
from aecodec_training.zoo import PHOTO_WIRE_IDS, SHIPPED_WIRE_IDS, free_wire_ids
from aecodec_wire.manifest import load
from PIL import Image
from typer.testing import CliRunner

from .helpers import fake_digits

SHIPPED_IDS = {1, 2, 3, 4, 11, 12, 21, 22, 23, 24, 25}


def _png_folder(folder: Path, n: int = 40, size: int = 16) -> Path:
    for i, img in enumerate(fake_digits(n, 0, size=size)):
        sub = folder / ("a" if i % 2 else "b")  # nested: the folder is searched recursively
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(sub / f"{i:03d}.png")
    return folder


def test_plan_spreads_lambdas_and_the_budget(tmp_path: Path) -> None:
    levels = plan("x", 3, 20.0, 784, tmp_path)
    assert [p.name for p in levels] == ["x-q2", "x-q1", "x-q3"]  # the middle level first, from scratch
    by_name = {p.name: p for p in levels}
    assert by_name["x-q1"].lam < by_name["x-q2"].lam < by_name["x-q3"].lam
    assert by_name["x-q2"].init == "" and by_name["x-q1"].init == by_name["x-q3"].init == "x-q2"
    assert sum(p.minutes for p in levels) == pytest.approx(20.0)
    assert plan("x", 1, 5.0, 784, tmp_path)[0].minutes == 5.0
    bigger = plan("x", 3, 20.0, 4 * 784, tmp_path)  # lambda weighs the per-image MSE: it follows the area
    assert bigger[0].lam == pytest.approx(4 * levels[0].lam)


def test_wire_ids_avoid_shipped_photo_and_served_ones(tmp_path: Path) -> None:
    assert SHIPPED_WIRE_IDS == SHIPPED_IDS
    ids = free_wire_ids({32, 33}, 3)
    assert ids == [34, 35, 36]
    assert not set(ids) & (SHIPPED_IDS | set(PHOTO_WIRE_IDS))
    with pytest.raises(ValueError, match="free wire ids"):
        free_wire_ids(set(range(256)), 1)
    assert taken_wire_ids(tmp_path / "missing", set()) == (set(), {})


def test_equal_bytes_readings() -> None:
    curve = [{"bytes": 100.0, "psnr": 20.0}, {"bytes": 400.0, "psnr": 30.0}]
    assert at_bytes(curve, 200.0) == pytest.approx(25.0)  # interpolated over log bytes
    assert at_bytes(curve, 50.0) is None and at_bytes(curve, 500.0) is None
    assert bytes_for(curve, 25.0) == pytest.approx(200.0)
    assert bytes_for(curve, 35.0) is None


def test_bad_name_and_size_are_refused_before_training(tmp_path: Path) -> None:
    runner = CliRunner()
    folder = _png_folder(tmp_path / "imgs", n=4)
    res = runner.invoke(app, ["codec", "--data-dir", str(folder), "--name", "Bad Name", "--publish", str(tmp_path)])
    assert res.exit_code != 0 and "--name" in str(res.exception)
    res = runner.invoke(
        app, ["codec", "--data-dir", str(folder), "--name", "ok", "--publish", str(tmp_path), "--size", "big"]
    )
    assert res.exit_code != 0 and "expected auto, any or HxW" in str(res.exception)


def test_codec_command_publishes_levels_a_running_service_serves_after_reload(tmp_path: Path) -> None:
    pytest.importorskip("aecodec_service", reason="the service is not installed beside the training package")
    from aecodec_wire.quality import psnr
    from service.conftest import serve
    from service.helpers import png, read

    images = _png_folder(tmp_path / "imgs")
    models = tmp_path / "models"
    models.mkdir()
    with serve(models, wait_ready=False, admin_open=True) as server, server.client() as client:
        args = ["codec", "--data-dir", str(images), "--name", "tiny", "--levels", "2", "--minutes", "0.04"]
        args += ["--publish", str(models), "--run-dir", str(tmp_path / "run"), "--threads", "1", "--no-progress"]
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
        published = sorted(p.name for p in models.iterdir())
        assert published == ["tiny-q1", "tiny-q2", "tiny-rd.json", "tiny-rd.md", "tiny-rd.png"]
        assert not list(models.glob(".*"))  # no temporary folder left beside them
        manifests = {n: load(models / n) for n in ("tiny-q1", "tiny-q2")}
        ids = {m.wire_id for m in manifests.values()}
        assert len(ids) == 2 and not ids & (SHIPPED_IDS | set(PHOTO_WIRE_IDS))
        for m in manifests.values():  # a fixed-size (16 x 16) greyscale level, checked and measured
            assert m.kind == "codec" and (m.input.height, m.input.width, m.input.channels) == (16, 16, 1)
            assert " && " not in m.training.command and m.training.epochs >= 1

        assert client.get("/models/tiny-q1").status_code == 404  # not served before the reload
        answer = client.post("/admin/reload")
        assert answer.status_code == 200, answer.text
        reload = answer.json()
        assert {n.split("@")[0] for n in reload["loaded"]} == {"tiny-q1", "tiny-q2"}, reload
        digit = fake_digits(1, 9, size=16)[0]
        for name, manifest in manifests.items():
            entry = client.get(f"/models/{name}").json()
            assert entry["wire_id"] == manifest.wire_id
            payload = client.post(f"/encode?model={name}", content=png(digit), headers={"Content-Type": "image/png"})
            assert payload.status_code == 200, payload.text
            back = client.post("/decode", content=payload.content, headers={"Content-Type": "application/x-protobuf"})
            assert back.status_code == 200, back.text
            restored = np.asarray(read(back.content))
            assert restored.shape == (16, 16)
            assert len(payload.content) < len(png(digit))
            assert psnr(digit, restored) > 10

    report = json.loads((models / "tiny-rd.json").read_text())
    assert report["val_images"] >= 1 and [p["model"] for p in report["results"]["learned"]] == ["tiny-q1", "tiny-q2"]
    for p in report["results"]["learned"]:
        assert {"jpeg_psnr_at_bytes", "webp_psnr_at_bytes", "jpeg_bytes_at_psnr", "wire_id"} <= set(p)
    assert report["results"]["jpeg"] and report["results"]["webp"]
    table = (models / "tiny-rd.md").read_text()
    assert "| tiny-q1 |" in table and "WebP dB at equal bytes" in table
    assert (models / "tiny-rd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_images_of_several_sizes_give_any_size_levels(tmp_path: Path) -> None:
    from aecodec_training.custom_codec import train_codec
    from aecodec_training.realpath import round_trip

    folder = tmp_path / "mixed"
    folder.mkdir()
    for i in range(24):
        h, w = (40, 56) if i % 2 else (48, 36)
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.stack([(xx * (3 + i % 4)) % 256, (yy * 5) % 256, ((xx + yy) * 2 + 20 * i) % 256], -1)
        Image.fromarray(img.astype(np.uint8)).save(folder / f"{i}.jpg", quality=95)
    report = train_codec(
        folder, "mix", tmp_path / "models", tmp_path / "run", levels=1, minutes=0.02, threads=1, progress=False
    )
    assert report["size"] == "any" and report["image_shape"] == [3, 32, 32]  # trained on 32 x 32 patches
    manifest = load(tmp_path / "models" / "mix-q1")
    assert manifest.input.height is None and manifest.input.channels == 3 and manifest.latent_shape[1:] == [None, None]
    photo = np.random.default_rng(0).integers(0, 256, (2, 3, 40, 56), dtype=np.uint8)  # another size
    rt = round_trip(tmp_path / "models" / "mix-q1", manifest, photo)
    assert rt.decoded.shape == photo.shape and (rt.payload_bytes > rt.latent_bytes).all()
