"""Denoiser sizes against the served-speed budget (at most 1 s per 768x512 photograph on 2 cores): multiply-adds
per pixel (counted by hooks on every convolution), parameters, graph size, and the seconds per 768x512 image
through onnxruntime and through the real service.

    python benchmarks/denoiser_size.py [--threads 2] [--runs 9] [--size 768x512] \
        [--json results/denoise/denoiser_size.json]

Each candidate is a registered model with its options and random weights of a trained model's scale (the time
does not depend on their values, but the service's measured reach, and so its tiles, does), written by the one
export path's graph writer (``onnx_io.export_graphs``) into a scratch model folder and checked against PyTorch
there (``onnx_io.check_graphs``).

- "graphs": encoder + decoder in onnxruntime sessions made by the service's ``session_options`` (intra-op
  threads ``--threads``);
- "service": the folders get a sealed manifest (the denoiser's served contract and noise gate, no figures) and
  the real service (``python -m aecodec_service``, ``--threads`` onnxruntime threads) answers ``POST /denoise``
  on loopback for a noisy PNG (sigma 25, so the noise gate runs the model): PNG in and out, the noise estimate,
  and the tiles the service runs a 768x512 image in.

Each is the median (and fastest) wall time of ``--runs`` runs after warm-up, and the CPU seconds used (all
threads; for the service, its process): on cores shared with other work the wall time grows, the CPU time much
less, so the load average is printed and recorded with the rows.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import torch
from PIL import Image
from served import service

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))
from aecodec_service.core.config import Settings  # noqa: E402
from aecodec_service.runtime.sessions import session_options  # noqa: E402
from aecodec_training.models import LevelDenoiser, param_count  # noqa: E402
from aecodec_training.models.denoiser import he_init  # noqa: E402
from aecodec_training.onnx_io import check_graphs, export_graphs  # noqa: E402
from aecodec_training.registry import build_model  # noqa: E402
from aecodec_training.tasks.photo_denoising import NOISE_GATE  # noqa: E402
from aecodec_wire.manifest import DatasetInfo, InputSpec, Manifest, TrainingInfo, seal  # noqa: E402
from aecodec_wire.quantize import measure_stats  # noqa: E402

CANDIDATES: list[tuple[str, dict[str, Any]]] = [  # registered name, options
    ("denoiser", {}),  # the shipped denoise-any's architecture
    ("denoiser-dncnn", {}),
    ("denoiser-unet", {"width": 32, "max_mult": 4}),
    ("denoiser-unet", {}),
    ("denoiser-unet", {"width": 48, "max_mult": 4}),
    ("denoiser-unet", {"width": 64}),
]


def candidate(name: str, options: dict[str, Any]) -> LevelDenoiser:
    """The model with weights of a trained model's scale: the layers a fresh model starts at zero (which make it
    the identity) get a tenth of He's. Small random weights would also fool the service's reach measurement
    (the change from one cell dies out after a few convolutions), and with it the tiles it runs."""
    torch.manual_seed(0)
    model = build_model(name, **options).eval()
    assert isinstance(model, LevelDenoiser)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)]
    zero = [m for m in convs if not m.weight.any()]
    he_init(convs, zero=[])
    with torch.no_grad():
        for m in zero:
            m.weight.mul_(0.1)
    return model


def time_graphs(folder: Path, image: np.ndarray, threads: int, runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds (all threads of this process) per encoder + decoder run on ``image``, after two
    warm-ups."""
    opts = session_options(Settings(model_dir=folder, intra_op_threads=threads))
    enc = ort.InferenceSession(str(folder / "encoder.onnx"), sess_options=opts, providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(folder / "decoder.onnx"), sess_options=opts, providers=["CPUExecutionProvider"])
    times, cpu = [], []
    for _ in range(runs + 2):
        start, start_cpu = time.perf_counter(), time.process_time()
        latent = enc.run(None, {"image": image})[0]
        dec.run(None, {"latent": latent})
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return times[2:], cpu[2:]


def model_folder(model: LevelDenoiser, folder: Path) -> float:
    """Write and check the graphs, then seal a manifest the service loads; the largest ONNX-vs-PyTorch gap."""
    folder.mkdir(parents=True)
    export_graphs(model, torch.rand(2, 3, 128, 128), folder)
    worst = check_graphs(model, folder, torch.rand(2, 3, 128, 128))
    manifest = Manifest(
        name=folder.name,
        kind="denoising",
        architecture=model.architecture(),
        description="benchmarks/denoiser_size.py: random weights, for timing only",
        dataset=DatasetInfo(name="none"),
        input=InputSpec(channels=3, pad_multiple=model.pad_multiple),
        latent_shape=model.latent_shape,
        latent_stats=measure_stats(model.encode(torch.rand(2, 3, 64, 64)).numpy()),
        training=TrainingInfo(command="(random weights)", epochs=0, seconds=0.0, seed=0),
        noise_gate=NOISE_GATE,
    )
    seal(folder, manifest)
    return worst


def measure(name: str, options: dict[str, Any], folder: Path, image: np.ndarray, threads: int, runs: int) -> dict:
    model = candidate(name, options)
    worst = model_folder(model, folder)
    times, cpu = time_graphs(folder, image, threads, runs)
    return {
        "model": name,
        "options": options,
        "folder": folder.name,
        "architecture": model.architecture(),
        "macs_per_pixel": round(model.macs_per_pixel()),
        "params": param_count(model),
        "graph_mb": round(sum(f.stat().st_size for f in folder.glob("*.onnx")) / 1e6, 2),
        "onnx_vs_torch": worst,
        "graphs_s_median": round(statistics.median(times), 3),
        "graphs_s_min": round(min(times), 3),
        "graphs_cpu_s": round(statistics.median(cpu), 3),
    }


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def served_seconds(client: httpx.Client, pid: int, model: str, body: bytes, runs: int) -> tuple[list[float], float]:
    """Seconds per POST /denoise of ``body`` (sequential), after one warm-up; and the service's CPU seconds per
    request."""

    def post() -> float:
        start = time.perf_counter()
        r = client.post("/denoise", params={"model": model}, content=body, headers={"Content-Type": "image/png"})
        r.raise_for_status()
        return time.perf_counter() - start

    post()
    start_cpu = cpu_seconds(pid)
    times = [post() for _ in range(runs)]
    return times, (cpu_seconds(pid) - start_cpu) / runs


def noisy_png(width: int, height: int) -> bytes:
    """A smooth colour picture with Gaussian noise of sigma 25 (0-255), as an 8-bit PNG."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    clean = np.stack([np.sin(6 * xx) * 0.4 + 0.5, np.cos(5 * yy) * 0.4 + 0.5, (xx + yy) / 2], axis=-1) * 255
    noisy = np.clip(np.rint(clean + rng.standard_normal(clean.shape) * 25), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def table(rows: list[dict[str, Any]], size: tuple[int, int], threads: int) -> str:
    lines = [
        f"| model | options | MACs/px | params | graph files MB | s per {size[0]}x{size[1]}, {threads} threads, "
        "graphs: median (fastest) | through the service: median (fastest) | CPU s: graphs, service |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        opts = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in r["options"].items()) or "(default)"
        lines.append(
            f"| {r['model']} | {opts} | {r['macs_per_pixel'] / 1000:.1f} k | {r['params'] / 1e6:.2f} M "
            f"| {r['graph_mb']:.1f} | {r['graphs_s_median']:.3f} ({r['graphs_s_min']:.3f}) "
            f"| {r['service_s_median']:.3f} ({r['service_s_min']:.3f}) "
            f"| {r['graphs_cpu_s']:.2f}, {r['service_cpu_s']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads (the service's setting)")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--size", default="768x512", help="WxH of the timed image")
    p.add_argument("--json", type=Path, help="also write the rows here")
    p.add_argument("--pick", type=int, nargs="+", help="measure only these CANDIDATES (indices; default all)")
    args = p.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    assert len(size) == 2
    torch.set_num_threads(args.threads)
    image = np.random.default_rng(0).random((1, 3, size[1], size[0]), dtype=np.float32)
    load_before = os.getloadavg()  # the times are wall clock: say how busy the cores were
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, options) in enumerate(CANDIDATES):
            if args.pick and i not in args.pick:
                continue
            rows.append(measure(name, options, Path(tmp) / f"candidate-{i}", image, args.threads, args.runs))
            print(rows[-1], flush=True)
        body = noisy_png(size[0], size[1])
        with service(Path(tmp), intra_op_threads=args.threads) as (client, pid):
            for row in rows:
                times, cpu = served_seconds(client, pid, row["folder"], body, args.runs)
                row["service_s_median"] = round(statistics.median(times), 3)
                row["service_s_min"] = round(min(times), 3)
                row["service_cpu_s"] = round(cpu, 3)
                print(row["folder"], row["service_s_median"], flush=True)
    load = {"before": [round(v, 2) for v in load_before], "after": [round(v, 2) for v in os.getloadavg()]}
    print(table(rows, (size[0], size[1]), args.threads))
    print(f"load average (1, 5, 15 min) before {load['before']}, after {load['after']}; {os.cpu_count()} CPUs")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        command = "python benchmarks/denoiser_size.py " + " ".join(sys.argv[1:])
        result = {"command": command, "cpus": os.cpu_count(), "load_average": load, "rows": rows}
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
