"""The ``aecodec`` command against the real service: folder jobs (resumable, atomic) and single files."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from aecodec_sdk import AsyncClient, inspect
from aecodec_sdk._jobs import atomic_write
from aecodec_sdk.cli import app
from PIL import Image
from typer.testing import CliRunner

from .conftest import add_noise

runner = CliRunner()
BROKEN = {"broken/truncated.png", "broken/text.png", "empty.png"}


def cli(service, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--url", service.url, "--api-key", service.api_key, *map(str, args)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def noisy_tree(root: Path, digits: np.ndarray, n: int = 200) -> dict[str, np.ndarray]:
    """``n`` noisy digits spread over nested folders, plus broken files; returns rel path -> clean."""
    clean = digits[np.arange(n) % len(digits)]
    noisy = add_noise(clean, seed=3)
    truth = {}
    for i in range(n):
        rel = f"set-{i % 3}/{'deep/' if i % 2 else ''}digit-{i:03d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(noisy[i]).save(root / rel)
        truth[rel] = clean[i]
    (root / "broken").mkdir()
    png = (root / "set-0/digit-000.png").read_bytes()
    (root / "broken/truncated.png").write_bytes(png[: len(png) // 2])
    (root / "broken/text.png").write_text("this is not an image\n")
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("not an input: wrong suffix\n")
    return truth


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def test_denoise_dir_is_concurrent_resumable_and_reports_failures(service, digits, tmp_path, monkeypatch) -> None:
    service.require("mnist-denoise")
    src, dst = tmp_path / "noisy", tmp_path / "clean"
    truth = noisy_tree(src, digits)

    code, out = cli(service, "denoise-dir", src, dst, "--model", "mnist-denoise", "--concurrency", 8)
    assert code == 1, out  # the broken files fail the run ...
    assert "203 files, 200 done, 0 skipped" in out
    for rel in BROKEN:  # ... and are each listed
        assert rel in out
    outputs = {p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()}
    assert outputs == set(truth)  # mirrored structure, nothing else (no temp files left behind)
    before = after = 0.0
    for rel, clean in truth.items():
        with Image.open(dst / rel) as im:
            assert im.format == "PNG" and im.size == (28, 28)
            after += mse(np.asarray(im.convert("L")), clean)
        before += mse(np.asarray(Image.open(src / rel)), clean)
    assert after < 0.6 * before, f"denoised MSE {after / 200:.0f} vs noisy {before / 200:.0f}"

    # a rerun sends only what is not done yet: the three broken files, and writes nothing
    mtimes = {rel: (dst / rel).stat().st_mtime_ns for rel in truth}
    sent = []
    real_send = AsyncClient._send

    async def counting_send(self, call):
        sent.append(call.path)
        return await real_send(self, call)

    monkeypatch.setattr(AsyncClient, "_send", counting_send)
    code, out = cli(service, "denoise-dir", src, dst, "--model", "mnist-denoise", "--quiet")
    assert code == 1
    assert "203 files, 0 done, 200 skipped" in out and "3 failed" in out
    assert len(sent) == len(BROKEN)
    assert mtimes == {rel: (dst / rel).stat().st_mtime_ns for rel in truth}


def test_a_killed_job_leaves_only_complete_files_and_resumes(service, digits, tmp_path) -> None:
    service.require("mnist-denoise")
    src, dst = tmp_path / "in", tmp_path / "out"
    truth = noisy_tree(src, digits, n=120)
    env = {**os.environ, "AECODEC_URL": service.url, "AECODEC_API_KEY": service.api_key}
    cmd = [sys.executable, "-m", "aecodec_sdk", "denoise-dir", str(src), str(dst), "-m", "mnist-denoise", "-c", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not (dst.exists() and len(list(dst.rglob("*.png"))) >= 10) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for out in dst.rglob("*.png"):  # whatever exists is whole
        with Image.open(out) as im:
            im.load()
    code, out = cli(service, "denoise-dir", src, dst, "-m", "mnist-denoise", "-q")
    assert code == 1 and "3 failed" in out
    assert all((dst / rel).exists() for rel in truth)


def test_encode_dir_then_decode_dir(service, digits, tmp_path) -> None:
    service.require("mnist-ae")
    src = tmp_path / "images"
    for i in range(12):
        (src / f"g{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(digits[i]).save(src / f"g{i % 2}/d{i}.png")
    code, out = cli(service, "encode-dir", src, tmp_path / "payloads", "-m", "mnist-ae", "--bits", 6, "-q")
    assert code == 0 and "12 done" in out, out
    payloads = sorted((tmp_path / "payloads").rglob("*.aec"))
    assert len(payloads) == 12 and all(inspect(p.read_bytes()).bits == 6 for p in payloads)
    code, out = cli(service, "decode-dir", tmp_path / "payloads", tmp_path / "decoded", "-q")
    assert code == 0 and "12 done" in out, out
    assert Image.open(tmp_path / "decoded/g1/d3.png").size == (28, 28)
    code, out = cli(service, "encode-dir", src, tmp_path / "payloads", "-m", "mnist-ae", "-q")
    assert code == 0 and "0 done, 12 skipped" in out


def test_single_file_commands(service, digits, tmp_path) -> None:
    service.require("mnist-ae")
    Image.fromarray(digits[2]).save(tmp_path / "d.png")
    code, out = cli(service, "encode", tmp_path / "d.png", tmp_path / "d.aec", "--model", "mnist-ae")
    assert code == 0, out
    code, out = cli(service, "inspect", tmp_path / "d.aec", "--json")
    assert code == 0 and json.loads(out)["model"] == "mnist-ae"
    code, out = cli(service, "decode", tmp_path / "d.aec", tmp_path / "d.webp")
    assert code == 0 and Image.open(tmp_path / "d.webp").format == "WEBP"
    code, out = cli(service, "models")
    assert code == 0 and "mnist-ae" in out
    code, out = cli(service, "encode", tmp_path / "d.png", tmp_path / "x.aec", "--model", "nope")
    assert code == 1 and "404" in out and "nope" in out and not (tmp_path / "x.aec").exists()
    (tmp_path / "junk.aec").write_bytes(b"junk")
    code, out = runner.invoke(app, ["inspect", str(tmp_path / "junk.aec")]).exit_code, ""
    assert code == 1


def test_sample_to_grid_and_folder(service, tmp_path) -> None:
    service.require("mnist-vae")
    code, out = cli(service, "sample", "-n", 6, "--seed", 3, "--model", "mnist-vae", tmp_path / "grid.png")
    assert code == 0, out
    assert Image.open(tmp_path / "grid.png").size == (3 * 28, 2 * 28)
    code, out = cli(service, "sample", "-n", 3, "--seed", 3, "--model", "mnist-vae", tmp_path / "many")
    assert code == 0 and len(list((tmp_path / "many").glob("sample-*.png"))) == 3


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch) -> None:
    target = tmp_path / "sub" / "out.png"
    atomic_write(target, b"first")

    def boom(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write(target, b"second")
    assert target.read_bytes() == b"first"
    assert [p.name for p in target.parent.iterdir()] == ["out.png"]
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode
    assert io  # keep the import list honest for readers: PNG checks above use PIL
