"""How the service's noise gate for ``denoise-any`` was set: the noise estimate's accuracy, and where the model
starts to help.

    python benchmarks/denoise_gate.py --photos ../shared/data/photos --mnist ../shared/data/mnist

The service estimates each image's noise level sigma_hat (``aecodec_service.runtime.noise``, Donoho's MAD on
the finest diagonal Haar detail) and returns images with sigma_hat below the manifest's
``noise_gate.clean_below`` (tau) unchanged; between tau and ``noise_gate.estimate_below`` the model is told
sigma_hat, above it the model runs blind. This script measures, on the six validation photographs (full
size, never trained on) and MNIST test digits, through the model's ONNX graphs (the arithmetic the service
uses):

- sigma_hat against the true sigma (additive Gaussian, clipped, 8-bit);
- per image and noise level, the PSNR gain over the input of the model blind, told sigma_hat, told the
  true sigma;
- for each candidate tau, the mean gain of the gated output over the input at each light noise level;
- the erased-patch detector (``aecodec_service.runtime.erasure``): the black rectangles it finds on every clean
  photograph of the folder and on clean and erased MNIST test digits (found rectangles are the only pixels
  the model may change in an image below tau), and on the validation photographs with four erased squares.

Writes ``results/denoise/gate.json`` and ``gate.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))
from aecodec_service.runtime.erasure import erased_rectangles  # noqa: E402
from aecodec_service.runtime.noise import estimate_sigma  # noqa: E402
from aecodec_training.datasets.idx import load_idx_dataset  # noqa: E402
from aecodec_training.datasets.photos import load_photos  # noqa: E402
from aecodec_wire.manifest import load  # noqa: E402
from aecodec_wire.quality import psnr  # noqa: E402
from corruptions import erase, gaussian  # noqa: E402

PHOTO_SIGMAS = (0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 7.0, 10.0, 15.0, 25.0, 50.0)
LIGHT = tuple(s for s in PHOTO_SIGMAS if s <= 7.0)  # the levels tau is judged on
DIGIT_SIGMAS = (0.0, 0.02, 0.05, 0.1, 0.3, 0.5)  # on [0, 1]
TAUS = tuple(np.round(np.arange(2.0, 6.01, 0.25), 2))
MODES = ("blind", "estimate", "told")
TOLERANCE_DB = 0.05  # tau: the smallest whose gated mean is at most this far below the input at every light level


class Model:
    """The served graphs on one uint8 (H, W, 3) image, the noise-level channel set per call (None: blind)."""

    def __init__(self, folder: Path) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.enc = ort.InferenceSession(str(folder / "encoder.onnx"), opts, providers=["CPUExecutionProvider"])
        self.dec = ort.InferenceSession(str(folder / "decoder.onnx"), opts, providers=["CPUExecutionProvider"])
        self.pad = load(folder, verify=False).input.pad_multiple  # the service edge-pads to this

    def __call__(self, img: np.ndarray, levels: dict[str, float | None]) -> dict[str, np.ndarray]:
        h, w = img.shape[:2]
        m = self.pad
        x = np.pad(img, ((0, -h % m), (0, -w % m), (0, 0)), mode="edge").transpose(2, 0, 1)[None]
        latent = self.enc.run(None, {"image": x.astype(np.float32) / 255})[0]
        out = {}
        for name, level in levels.items():
            z = latent.copy()
            if level is not None:
                z[:, -1] = level / 255
            y = self.dec.run(None, {"latent": z})[0][0]
            out[name] = np.clip(np.rint(y * 255), 0, 255).astype(np.uint8).transpose(1, 2, 0)[:h, :w]
        return out


def levels_of(img: np.ndarray) -> np.ndarray:
    return img.transpose(2, 0, 1) if img.ndim == 3 else img


def photo_rows(model: Model, photos: list[np.ndarray], rng: np.random.Generator) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for s in PHOTO_SIGMAS:
        rows[f"{s:g}"] = []
        for ph in photos:
            n = gaussian(ph, s, rng)
            hat = estimate_sigma(levels_of(n))
            outs = model(n, {"blind": None, "estimate": hat, "told": s})
            before = psnr(n, ph)
            rows[f"{s:g}"].append(
                {"sigma_hat": hat, "input": before} | {m: psnr(o, ph) - before for m, o in outs.items()}
            )
        r = rows[f"{s:g}"]
        print(f"photos sigma {s:g}: sigma_hat {[round(x['sigma_hat'], 2) for x in r]}", flush=True)
    return rows


def digit_rows(model: Model, digits: np.ndarray, rng: np.random.Generator) -> dict[str, dict[str, float]]:
    out = {}
    for s in DIGIT_SIGMAS:
        hats, gains = [], {m: [] for m in MODES}
        for d in digits:
            n = gaussian(d, s * 255, rng)
            hat = estimate_sigma(n)
            hats.append(hat)
            outs = model(np.repeat(n[..., None], 3, axis=2), {"blind": None, "estimate": hat, "told": s * 255})
            before = psnr(n, d)
            for m, o in outs.items():
                gains[m].append(psnr(o.mean(axis=2).round().astype(np.uint8), d) - before)
        out[f"{s:g}"] = {
            "sigma_hat_mean": float(np.mean(hats)),
            "sigma_hat_p5": float(np.quantile(hats, 0.05)),
            "sigma_hat_p95": float(np.quantile(hats, 0.95)),
        } | {f"{m}_gain": float(np.mean(g)) for m, g in gains.items()}
        print(f"digits sigma {s:g}: {out[f'{s:g}']}", flush=True)
    return out


def detections(folder: Path, photos: list[np.ndarray], digits: np.ndarray, rng: np.random.Generator) -> dict:
    """How many black rectangles the erased-patch detector finds where there are none, and where there are."""
    every = [p for p in sorted(folder.rglob("*")) if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".webp"}]
    clean = sum(len(erased_rectangles(levels_of(np.asarray(Image.open(p).convert("RGB"))))) for p in every)
    erased_digits = [erase(d, 1, 8, rng) for d in digits]
    erased_photos = [erase(ph, 4, 16, rng) for ph in photos]
    return {
        "clean_photos": len(every),
        "clean_photos_rectangles": clean,
        "clean_digits": len(digits),
        "clean_digits_rectangles": sum(len(erased_rectangles(d)) for d in digits),
        "erased_digits_rectangles": sum(len(erased_rectangles(d)) for d in erased_digits),
        "erased_photos_squares": 4 * len(photos),
        "erased_photos_rectangles": sum(len(erased_rectangles(levels_of(e))) for e in erased_photos),
    }


def gated_gain(rows: list[dict], tau: float) -> float:
    """Mean PSNR gain over the input with the gate: identity below tau, the model told sigma_hat above."""
    return float(np.mean([r["estimate"] if r["sigma_hat"] >= tau else 0.0 for r in rows]))


def report(res: dict) -> str:
    photos, digits, det = res["photos"], res["digits"], res["detector"]
    lines = [
        "## Noise gate of denoise-any\n",
        f"`{res['command']}`; model {res['model']}. PSNR on 8-bit pixels; gains are output minus input (dB).\n",
        "### sigma_hat against the true sigma (validation photographs: mean, min-max over six)\n",
        "| true sigma | " + " | ".join(f"{s:g}" for s in PHOTO_SIGMAS) + " |",
        "| --- |" + " ---: |" * len(PHOTO_SIGMAS),
        "| sigma_hat mean | "
        + " | ".join(f"{np.mean([r['sigma_hat'] for r in photos[f'{s:g}']]):.2f}" for s in PHOTO_SIGMAS)
        + " |",
        "| min-max | "
        + " | ".join(
            f"{min(r['sigma_hat'] for r in photos[f'{s:g}']):.1f}-{max(r['sigma_hat'] for r in photos[f'{s:g}']):.1f}"
            for s in PHOTO_SIGMAS
        )
        + " |",
        "",
        "### Mean gain over the input on the photographs, by how the model is told the noise level\n",
        "| true sigma | input dB | blind | told sigma_hat | told the true sigma |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in PHOTO_SIGMAS:
        r = photos[f"{s:g}"]
        inp = np.mean([x["input"] for x in r])
        cells = [f"{np.mean([x[m] for x in r]):+.2f}" for m in MODES]
        lines.append(f"| {s:g} | {'∞' if s == 0 else f'{inp:.2f}'} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "### MNIST test digits: sigma_hat and the mean gain over the input\n",
        "| sigma (0-1) | sigma_hat mean (5-95 %) | blind | told sigma_hat | told the true sigma |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for s, d in digits.items():
        spread = f"{d['sigma_hat_mean']:.2f} ({d['sigma_hat_p5']:.2f}-{d['sigma_hat_p95']:.2f})"
        lines.append(
            f"| {s} ({float(s) * 255:.1f}) | {spread} | " + " | ".join(f"{d[f'{m}_gain']:+.2f}" for m in MODES) + " |"
        )
    lines += [
        "",
        "### Gated output (identity below tau, told sigma_hat above): mean gain over the input on the photographs\n",
        "| tau | " + " | ".join(f"sigma {s:g}" for s in LIGHT) + " | worst |",
        "| ---: |" + " ---: |" * (len(LIGHT) + 1),
    ]
    for tau, row in res["taus"].items():
        lines.append(f"| {tau} | " + " | ".join(f"{row[f'{s:g}']:+.2f}" for s in LIGHT) + f" | {row['worst']:+.2f} |")
    lines += [
        "",
        f"tau = {res['tau']}: the smallest whose gated mean is at most {TOLERANCE_DB} dB below the input's at every "
        f"light level (strictly never below: {res['tau_strict']}; None: none from {TAUS[0]:g} to {TAUS[-1]:g}).",
        "",
        "### Erased-patch detector (isolated, exactly black rectangles of 4-64 pixels a side)\n",
        f"Rectangles found: {det['clean_photos_rectangles']} on the {det['clean_photos']} clean photographs of the "
        "folder, "
        f"{det['clean_digits_rectangles']} on {det['clean_digits']} clean MNIST test digits, "
        f"{det['erased_digits_rectangles']} on the same digits with one 8x8 erased square each (it touches the black "
        f"background, so the digit is left as it is), {det['erased_photos_rectangles']} of the "
        f"{det['erased_photos_squares']} squares erased in the validation photographs (overlapping squares are not "
        "rectangles).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=Path, required=True)
    p.add_argument("--mnist", type=Path, required=True)
    p.add_argument("--model", type=Path, default=ROOT / "models" / "denoise-any")
    p.add_argument("--digits", type=int, default=300)
    p.add_argument("--out", type=Path, default=ROOT / "results" / "denoise")
    args = p.parse_args()
    t0 = time.monotonic()
    model = Model(args.model)
    rng = np.random.default_rng(0)
    photos = load_photos(args.photos).val
    digits = load_idx_dataset("mnist", args.mnist).test_x[: args.digits, 0]
    res: dict = {
        "command": "python benchmarks/denoise_gate.py " + " ".join(sys.argv[1:]),
        "model": json.loads((args.model / "manifest.json").read_text())["version"],
    }
    res["photos"] = photo_rows(model, photos, rng)
    res["digits"] = digit_rows(model, digits, rng)
    res["taus"] = {}
    for tau in TAUS:
        row = {f"{s:g}": gated_gain(res["photos"][f"{s:g}"], float(tau)) for s in LIGHT}
        res["taus"][f"{tau:g}"] = row | {"worst": min(row.values())}
    # None: no candidate keeps the gated output that close to the input at every light level
    res["tau"] = min((float(t) for t, row in res["taus"].items() if row["worst"] >= -TOLERANCE_DB), default=None)
    res["tau_strict"] = min((float(t) for t, row in res["taus"].items() if row["worst"] >= 0), default=None)
    res["detector"] = detections(args.photos, photos, load_idx_dataset("mnist", args.mnist).test_x[:2000, 0], rng)
    res["seconds"] = round(time.monotonic() - t0, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gate.json").write_text(json.dumps(res, indent=1) + "\n")
    (args.out / "gate.md").write_text(report(res))
    print(report(res))


if __name__ == "__main__":
    main()
