"""Importance-sampled test NLL of VAEs on dynamically binarized MNIST, beside the published figures.

Each model is a shipped folder (manifest.json + encoder.onnx / decoder.onnx; rebuilt in PyTorch from the ONNX
weights when its architecture is registered, else run through onnxruntime) or a run folder (checkpoint.pt).
Writes a markdown table (and the raw figures as JSON) next to ``--out``.

    python benchmarks/vae_nll.py --model mnist-vae=models/mnist-vae --k 1000 --images 2000 \\
        --out results/benchmarks/vae_nll.md
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import time
from pathlib import Path

import torch
from aecodec_training.datasets import load_dataset
from aecodec_training.from_onnx import torch_from_onnx
from aecodec_training.nll import NLL_SEED, LatentModel, OnnxVAE, evaluate_nll

REPO = Path(__file__).resolve().parents[1]
MNIST = REPO.parent / "shared" / "data" / "mnist"

# pythae's reproduction table (static binarization, test NLL with importance sampling), and the IWAE paper
PUBLISHED = [
    ("VAE (pythae)", 89.78),
    ("IWAE, k = 50 (pythae)", 86.82),
    ("HVAE (pythae)", 86.21),
    ("VampPrior (pythae)", 85.79),
    ("IWAE, k = 50, 1 stochastic layer (Burda et al. 2016)", 84.78),
]


def load_model(path: Path) -> tuple[LatentModel, str]:
    """A model folder or a run folder -> something ``evaluate_nll`` can score, and how it was loaded."""
    if (path / "manifest.json").is_file():
        rebuilt = torch_from_onnx(path)
        if rebuilt is not None:
            return rebuilt, "PyTorch rebuilt from the ONNX weights"  # type: ignore[return-value]
        return OnnxVAE(path), "onnxruntime"
    from aecodec_training.trainer import load_run

    model, state = load_run(path)
    return model, f"run checkpoint, {state['epoch']} epochs"  # type: ignore[return-value]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="NAME=PATH (model folder or run folder)")
    ap.add_argument("--k", type=int, default=1000, help="importance samples per digit")
    ap.add_argument("--images", type=int, default=0, help="first N test digits (0: all 10,000)")
    ap.add_argument("--seed", type=int, default=NLL_SEED, help="binarization and sampling seed")
    ap.add_argument("--mnist", type=Path, default=MNIST, help="folder with the MNIST IDX files")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--append", action="store_true", help="keep the rows already in --out's JSON (other names)")
    ap.add_argument("--out", type=Path, default=REPO / "results" / "benchmarks" / "vae_nll.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    test_x = load_dataset("mnist", args.mnist).tensors(torch.device("cpu"), 0.0, 1.0)[1]
    rows = []
    raw = args.out.with_suffix(".json")
    if args.append and raw.is_file():
        names = {spec.rpartition("=")[0] for spec in args.model}
        rows = [r for r in json.loads(raw.read_text()) if r["name"] not in names]
    for spec in args.model:
        name, _, path = spec.rpartition("=")
        model, how = load_model(Path(path))
        start = time.perf_counter()
        r = evaluate_nll(model, test_x, k=args.k, images=args.images or None, seed=args.seed)
        wall = time.perf_counter() - start
        command = f"python benchmarks/vae_nll.py --model {shlex.quote(spec)} --k {args.k} --images {args.images} "
        command += f"--seed {args.seed} --threads {args.threads}"
        row = {"name": name, "path": path, "loaded": how, **r.as_dict(), "wall_s": round(wall, 1)}
        rows.append(row | {"threads": args.threads, "command": command})
        print(f"{name}: NLL {r.nll_nats:.2f}  ELBO {r.elbo_nats:.2f}  ({r.images} digits, k={r.k}, {wall:.0f}s)")
    lines = [
        "# Test NLL on binarized MNIST",
        "",
        "Measured: the first N MNIST test digits (N = digits), dynamically binarized (each pixel a Bernoulli draw "
        "with its intensity, fixed seed); NLL = -log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x).",
        "Published rows use a statically binarized MNIST (one fixed draw), so they compare closely, not exactly.",
        "",
        "| model | test NLL (nats) | ELBO (nats) | digits | k | seed | wall (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['name']} (measured; {r['loaded']}) | {r['nll_nats']:.2f} | {r['elbo_nats']:.2f} | {r['images']} | "
        f"{r['k']} | {r['seed']} | {r['wall_s']:.0f} |"
        for r in rows
    ]
    lines += [f"| {name} (published) | {nll:.2f} | | | | | |" for name, nll in PUBLISHED]
    lines += ["", f"Machine: {platform.machine()}, torch {torch.__version__}; wall times on a shared 2-core CPU.", ""]
    lines += [f"- `{r['command']}`" for r in rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
