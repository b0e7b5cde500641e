"""Denoising benchmark: noisy input, classical denoisers, CBM3D and the served models, per corruption.

    python benchmarks/denoise.py --photos ../shared/data/photos --mnist ../shared/data/mnist

Needs the benchmark-only packages opencv-python-headless, scikit-image and bm3d (pip). Every model row goes
through the real service (``python -m aecodec_service`` on loopback, the shipped model folder), so the
figures are those a client gets. Every method sees the same noisy 8-bit PNG inputs. Mean per-image PSNR on
8-bit pixels.

- digits: the first ``--digits`` MNIST test digits; Gaussian sigma 0.1 / 0.3 / 0.5 on [0, 1] (clipped,
  8-bit) and one 8x8 erased (black) square per digit;
- photographs: the six validation photographs (never trained on) at full size: clean, light noise (sigma 2
  and 5 on 0-255), sigma 15 / 25 / 50 (additive Gaussian, clipped, 8-bit) and four erased 16x16 squares;
- CBM3D (``bm3d.bm3d_rgb``, given the true sigma) takes ~25 s a full photograph, so it runs on a centre crop
  of ``--crop`` pixels of each validation photograph at sigma 15 / 25 / 50; that table repeats every other
  method on the same crops;
- time: seconds per 768x512 photograph through the service (``--threads`` onnxruntime threads), median of
  ``--runs`` sequential requests, beside NL-means and CBM3D on the same image.

Writes ``results/denoise/denoise.json`` and ``.md`` and the before/after picture ``docs/images/``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import httpx
import numpy as np
from PIL import Image, ImageDraw, ImageOps
from skimage.restoration import denoise_tv_chambolle, estimate_sigma

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))
from aecodec_training.datasets.idx import load_idx_dataset  # noqa: E402
from aecodec_training.datasets.photos import load_photos  # noqa: E402
from aecodec_wire.quality import psnr  # noqa: E402
from corruptions import erase, gaussian  # noqa: E402
from served import service  # noqa: E402

MODEL = "denoise-any"
SEED_MODEL = "mnist-denoise"
DIGIT_SIGMAS = (0.1, 0.3, 0.5)
PHOTO_SIGMAS = (0.0, 2.0, 5.0, 15.0, 25.0, 50.0)
Method = Callable[[np.ndarray, float | None], np.ndarray]


# -- classical denoisers: blind (noise estimated from the image), except CBM3D which is told sigma -----------


def _sigma_255(img: np.ndarray) -> float:
    return float(estimate_sigma(img, channel_axis=-1 if img.ndim == 3 else None, average_sigmas=True))


def median3(img: np.ndarray, sigma: float | None) -> np.ndarray:
    return cv2.medianBlur(img, 3)


def gaussian_blur(img: np.ndarray, sigma: float | None) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), 1.0)


def tv(img: np.ndarray, sigma: float | None) -> np.ndarray:
    weight = max(0.02, 2.0 * _sigma_255(img) / 255)
    out = denoise_tv_chambolle(img / 255.0, weight=weight, channel_axis=-1 if img.ndim == 3 else None)
    return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)


def nl_means(img: np.ndarray, sigma: float | None) -> np.ndarray:
    h = max(1.0, _sigma_255(img))
    if img.ndim == 2:
        return cv2.fastNlMeansDenoising(img, None, h, 7, 21)
    return cv2.fastNlMeansDenoisingColored(img, None, h, h, 7, 21)


def cbm3d(img: np.ndarray, sigma: float | None) -> np.ndarray:
    import bm3d

    s = max(sigma or 0.0, 0.5) / 255  # told the true sigma (the way CBM3D is always reported)
    out = bm3d.bm3d_rgb(img / 255.0, s) if img.ndim == 3 else bm3d.bm3d(img / 255.0, s)
    return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)


CLASSICAL: dict[str, Method] = {"median 3x3": median3, "Gaussian": gaussian_blur, "TV": tv, "NL-means": nl_means}


# -- the service ---------------------------------------------------------------------------------------------


def png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def served(client: httpx.Client, model: str, with_sigma: bool) -> Method:
    def run(img: np.ndarray, sigma: float | None) -> np.ndarray:
        params: dict[str, str | float] = {"model": model}
        if with_sigma and sigma is not None:
            params["sigma"] = sigma
        r = client.post("/denoise", params=params, content=png(img), headers={"Content-Type": "image/png"})
        r.raise_for_status()
        return np.asarray(Image.open(io.BytesIO(r.content)))

    return run


# -- tables --------------------------------------------------------------------------------------------------


def score(
    method: Method, cases: list[tuple[np.ndarray, np.ndarray, float | None]]
) -> tuple[float, float, list[np.ndarray]]:
    """Mean PSNR, mean seconds per image, and the outputs."""
    outs, t0 = [], time.perf_counter()
    for noisy, _, sigma in cases:
        outs.append(method(noisy, sigma))
    seconds = (time.perf_counter() - t0) / len(cases)
    return float(np.mean([psnr(o, clean) for o, (_, clean, _) in zip(outs, cases, strict=True)])), seconds, outs


def table(
    title: str,
    corruptions: dict[str, list[tuple[np.ndarray, np.ndarray, float | None]]],
    methods: dict[str, Method],
    keep: dict[str, dict[str, list[np.ndarray]]],
) -> dict[str, dict[str, float]]:
    """{corruption: {method: PSNR}} including "noisy input" and "best classical"; prints progress."""
    rows: dict[str, dict[str, float]] = {}
    for name, cases in corruptions.items():
        row = {"noisy input": float(np.mean([psnr(n, c) for n, c, _ in cases]))}
        for mname, method in methods.items():
            row[mname], secs, outs = score(method, cases)
            keep.setdefault(name, {})[mname] = outs
            print(f"{title} | {name} | {mname}: {row[mname]:.2f} dB ({secs:.2f} s/image)", flush=True)
        classical = [row[m] for m in CLASSICAL if m in row]
        if classical:
            row["best classical"] = max(classical)
        rows[name] = row
    return rows


def _db(value: float) -> str:
    """A PSNR cell; identical pixels (the 1e-10 floor of ``psnr``, 148 dB) read as infinite."""
    return "∞" if value > 140 else f"{value:.2f}"


def markdown(title: str, rows: dict[str, dict[str, float]]) -> str:
    cols = list(next(iter(rows.values())))
    lines = [f"### {title}", "", "| corruption | " + " | ".join(cols) + " |", "| --- |" + " ---: |" * len(cols)]
    for name, row in rows.items():
        best = max(v for k, v in row.items() if k != "noisy input")
        cells = [(f"**{_db(row[c])}**" if row[c] == best and c != "noisy input" else _db(row[c])) for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def centre(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    y, x = (h - min(side, h)) // 2, (w - min(side, w)) // 2
    return img[y : y + side, x : x + side]


def label(img: Image.Image, text: str) -> Image.Image:
    out = ImageOps.expand(img.convert("RGB"), border=(0, 18, 0, 0), fill=(255, 255, 255))
    ImageDraw.Draw(out).text((4, 3), text, fill=(0, 0, 0))
    return out


def picture(panels: list[list[tuple[np.ndarray, str]]], path: Path) -> None:
    """Rows of labelled panels (each row's images the same size), stacked."""
    rows = []
    for row in panels:
        cells = [label(Image.fromarray(img), text) for img, text in row]
        strip = Image.new("RGB", (sum(c.width for c in cells) + 4 * (len(cells) - 1), cells[0].height), "white")
        x = 0
        for c in cells:
            strip.paste(c, (x, 0))
            x += c.width + 4
        rows.append(strip)
    canvas = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows) + 6 * len(rows)), "white")
    y = 0
    for r in rows:
        canvas.paste(r, (0, y))
        y += r.height + 6
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, optimize=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=Path, required=True)
    p.add_argument("--mnist", type=Path, required=True)
    p.add_argument("--models", type=Path, default=ROOT / "models")
    p.add_argument("--digits", type=int, default=300)
    p.add_argument("--crop", type=int, default=256, help="side of the centre crops CBM3D runs on")
    p.add_argument("--threads", type=int, default=2, help="onnxruntime threads of the service")
    p.add_argument("--runs", type=int, default=3, help="timed requests per 768x512 photograph")
    p.add_argument("--no-cbm3d", action="store_true")
    p.add_argument(
        "--cbm3d-from",
        type=Path,
        help="with --no-cbm3d: take the CBM3D column and time from an earlier denoise.json (the same seeds, so the "
        "same noisy crops); the report says so",
    )
    p.add_argument("--out", type=Path, default=ROOT / "results" / "denoise")
    p.add_argument("--picture", type=Path, default=ROOT / "docs" / "images" / "denoise_before_after.png")
    args = p.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)

    digits = load_idx_dataset("mnist", args.mnist).test_x[: args.digits, 0]  # (N, 28, 28) uint8
    digit_cases = {
        f"Gaussian sigma {s:g}": [(gaussian(d, s * 255, rng), d, s * 255) for d in digits] for s in DIGIT_SIGMAS
    }
    digit_cases["8x8 erased patch"] = [(erase(d, 1, 8, rng), d, 0.0) for d in digits]
    photos = load_photos(args.photos).val
    photo_cases: dict[str, list[tuple[np.ndarray, np.ndarray, float | None]]] = {}
    for s in PHOTO_SIGMAS:
        photo_cases["clean" if s == 0 else f"sigma {s:g}"] = [(gaussian(ph, s, rng), ph, s) for ph in photos]
    photo_cases["4 erased 16x16 squares"] = [(erase(ph, 4, 16, rng), ph, 0.0) for ph in photos]
    crop_cases = {k: [(centre(n, args.crop), centre(c, args.crop), s) for n, c, s in v] for k, v in photo_cases.items()}

    results: dict[str, object] = {
        "command": "python benchmarks/denoise.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
    }
    keep: dict[str, dict[str, dict[str, list[np.ndarray]]]] = {"digits": {}, "photos": {}, "crops": {}}
    with service(args.models, intra_op_threads=args.threads) as (client, _):
        versions = {m["name"]: m["version"] for m in client.get("/models").json()}
        results["models"] = {m: versions.get(m) for m in (MODEL, SEED_MODEL)}
        models = {
            f"{SEED_MODEL}": served(client, SEED_MODEL, False),
            f"{MODEL} (blind)": served(client, MODEL, False),
            f"{MODEL} (sigma given)": served(client, MODEL, True),
        }
        digit_methods = CLASSICAL | models
        results["digits"] = table("digits", digit_cases, digit_methods, keep["digits"])
        photo_methods = CLASSICAL | {k: v for k, v in models.items() if not k.startswith(SEED_MODEL)}
        results["photos"] = table("photos", photo_cases, photo_methods, keep["photos"])
        crop_methods = photo_methods | ({} if args.no_cbm3d else {"CBM3D (sigma given)": cbm3d})
        crop_only = {k: v for k, v in crop_cases.items() if k in ("sigma 15", "sigma 25", "sigma 50")}
        results["crops"] = table("crops", crop_only, crop_methods, keep["crops"])
        results["time_768x512"] = timing(client, photos, args, rng)
    if args.no_cbm3d and args.cbm3d_from:
        carry_cbm3d(results, json.loads(args.cbm3d_from.read_text()))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "denoise.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "denoise.md").write_text(report(results, args))
    make_picture(keep, digit_cases, crop_cases, args.picture)
    print(report(results, args))


def carry_cbm3d(results: dict, earlier: dict) -> None:
    """The CBM3D column and time of an earlier run, placed where a run with CBM3D puts them."""
    name = "CBM3D (sigma given)"
    for corruption, row in results["crops"].items():
        best = row.pop("best classical")
        row[name] = earlier["crops"][corruption][name]
        row["best classical"] = best
    results["time_768x512"]["cbm3d_s"] = earlier["time_768x512"]["cbm3d_s"]
    results["cbm3d_from"] = earlier["command"]


def timing(client: httpx.Client, photos: list[np.ndarray], args: argparse.Namespace, rng: np.random.Generator) -> dict:
    """Seconds per 768x512 photograph (sigma 25): the service (median of sequential requests), NL-means, CBM3D."""
    images = [np.asarray(ImageOps.fit(Image.fromarray(ph), (768, 512), Image.Resampling.LANCZOS)) for ph in photos]
    noisy = [gaussian(im, 25.0, rng) for im in images]
    bodies = [png(n) for n in noisy]
    client.post("/denoise", params={"model": MODEL}, content=bodies[0], headers={"Content-Type": "image/png"})
    times = []
    for body in bodies:
        for _ in range(args.runs):
            t = time.perf_counter()
            r = client.post("/denoise", params={"model": MODEL}, content=body, headers={"Content-Type": "image/png"})
            times.append(time.perf_counter() - t)
            r.raise_for_status()
    out = {"service_s_median": float(np.median(times)), "service_s_max": float(np.max(times))}
    out["service_threads"] = args.threads
    t = time.perf_counter()
    nl_means(noisy[0], 25.0)
    out["nl_means_s"] = time.perf_counter() - t
    if not args.no_cbm3d:
        t = time.perf_counter()
        cbm3d(noisy[0], 25.0)
        out["cbm3d_s"] = time.perf_counter() - t
    print("time 768x512:", json.dumps(out), flush=True)
    return out


def report(results: dict, args: argparse.Namespace) -> str:
    t = results["time_768x512"]
    parts = [
        "## Denoising benchmark\n",
        f"`{results['command']}` on {results['machine']}; models {json.dumps(results['models'])}. "
        "Mean per-image PSNR (dB) on 8-bit pixels; the best of each row in bold.\n",
        markdown(f"MNIST test digits (first {args.digits}, 8-bit PNGs)", results["digits"]),
        markdown("Validation photographs, full size (six, never trained on)", results["photos"]),
        markdown(f"Validation photographs, centre {args.crop}x{args.crop} crops (CBM3D runs here)", results["crops"]),
        f"Time per 768x512 photograph (sigma 25): the service with {t['service_threads']} onnxruntime threads "
        f"{t['service_s_median']:.2f} s median ({t['service_s_max']:.2f} s max, HTTP and PNG included); "
        f"OpenCV NL-means {t['nl_means_s']:.2f} s"
        + (f"; CBM3D {t['cbm3d_s']:.1f} s" if "cbm3d_s" in t else "")
        + ".\n",
    ]
    if "cbm3d_from" in results:
        parts.append(
            f"The CBM3D column and time are those of an earlier run, `{results['cbm3d_from']}` (the same seeds, so "
            "the same noisy crops); CBM3D did not run again.\n"
        )
    return "\n".join(parts)


def make_picture(keep: dict, digit_cases: dict, crop_cases: dict, path: Path) -> None:
    k = "sigma 25"
    crops = keep["crops"][k]
    i = 3 if len(crop_cases[k]) > 3 else 0
    noisy, clean, _ = crop_cases[k][i]
    row = [(noisy, "noisy sigma 25"), (crops["NL-means"][i], "NL-means")]
    # with --no-cbm3d, CBM3D still runs on the one crop shown (seconds, not the hour of the whole table)
    row.append((crops["CBM3D (sigma given)"][i] if "CBM3D (sigma given)" in crops else cbm3d(noisy, 25.0), "CBM3D"))
    row += [(crops[f"{MODEL} (blind)"][i], f"{MODEL} (blind)"), (clean, "clean")]
    digit_rows = []
    for name in ("Gaussian sigma 0.3", "8x8 erased patch"):
        cases, outs = digit_cases[name], keep["digits"][name]

        def strip(images: list[np.ndarray]) -> np.ndarray:
            return np.concatenate([np.kron(im, np.ones((3, 3), dtype=np.uint8)) for im in images[:4]], axis=1)

        digit_rows.append(
            [
                (strip([c[0] for c in cases]), f"{name}: noisy"),
                (strip(outs[SEED_MODEL]), SEED_MODEL),
                (strip(outs[f"{MODEL} (blind)"]), MODEL),
                (strip([c[1] for c in cases]), "clean"),
            ]
        )
    picture([row, *digit_rows], path)


if __name__ == "__main__":
    main()
