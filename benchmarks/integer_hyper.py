"""What the integer hyper-synthesis costs against the float one, on a trained photo codec and real photographs.

    python benchmarks/integer_hyper.py --model models/photo-codec-q2 --data-dir ../shared/data/photos

Rebuilds the model's transforms from its graphs (``from_onnx.hyperprior_from_onnx``), converts its h_s to the
integer network export writes (``models/integer_hyper.integerise``, calibrated on the training photographs'
centres), and seals a copy of the folder with it in a scratch folder (never models/). Then each held-out
photograph, cropped to the largest multiple of 64 around its centre, goes through the real path
(``realpath.round_trip``: ONNX encoder, wire codec, payload bytes, ONNX decoder) of both folders: payload
bytes and PSNR, and how many latent elements get another table. Last, on a 768x512 photograph: the
hyper-synthesis alone, onnxruntime's float graph against the integer network (numpy), run in turns, best of
``--repeat``; and /encode + /decode through the real service (benchmarks/photo_codec.py's) of each folder.
Writes results/integer_hyper/{results.json,results.md}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from functools import partial
from pathlib import Path

import httpx
import numpy as np
import torch
from aecodec_training.datasets.photos import load_photos
from aecodec_training.from_onnx import hyperprior_from_onnx
from aecodec_training.models.integer_hyper import IntegerBits, integerise
from aecodec_training.onnx_io import session
from aecodec_training.realpath import codec_of, round_trip
from aecodec_wire.hyperprior import HyperpriorCodec
from aecodec_wire.manifest import ENCODER_FILE, INTEGER_HYPER_FILE, Manifest, load, seal
from photo_codec import serve
from photo_codec import timing as served_timing

OUT = Path("results/integer_hyper")
MULTIPLE = 64


def centre(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (3, h, w): the centre crop of the largest multiple of 64 in each side."""
    h, w = img.shape[:2]
    ch, cw = h // MULTIPLE * MULTIPLE, w // MULTIPLE * MULTIPLE
    top, left = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(img[top : top + ch, left : left + cw].transpose(2, 0, 1))


def tiles(img: np.ndarray, side: int = 256) -> list[np.ndarray]:
    """(H, W, 3) -> every whole side x side tile, (3, side, side) each."""
    h, w = img.shape[:2]
    return [
        np.ascontiguousarray(img[t : t + side, s : s + side].transpose(2, 0, 1))
        for t in range(0, h - side + 1, side)
        for s in range(0, w - side + 1, side)
    ]


def side_latents(folder: Path, images: list[np.ndarray]) -> torch.Tensor:
    """(N, Z, a, b): the z_hat the hyper decoder sees for same-sized images, as the wire codec computes it."""
    codec = codec_of(folder, load(folder))
    assert isinstance(codec, HyperpriorCodec)
    enc = session(folder / ENCODER_FILE)
    z = enc.run(["side"], {"image": np.stack(images).astype(np.float32) / 255.0})[0]
    return torch.from_numpy(np.stack([codec._z_hat(codec._z_symbols(one), one.shape) for one in z]))


def convert(folder: Path, scratch: Path, calibration: list[np.ndarray], bits: IntegerBits) -> Path:
    """A copy of ``folder`` with the integer hyper-synthesis, sealed under a new version, in ``scratch``."""
    manifest = load(folder)
    assert manifest.prior is not None and manifest.gaussian is not None
    model = hyperprior_from_onnx(folder)
    layers = model.hyper_layers()
    assert layers is not None
    sides = side_latents(folder, calibration)
    spec, arrays = integerise(layers, sides, manifest.prior, manifest.gaussian.scales, bits=bits)
    out = scratch / f"{manifest.name}-{label(bits).replace('/', '-')}"
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(folder, out)
    np.savez_compressed(out / INTEGER_HYPER_FILE, **arrays)  # type: ignore[arg-type]
    seal(out, manifest.model_copy(update={"integer_hyper": spec}))
    return out


def label(bits: IntegerBits) -> str:
    return f"{bits.weight_bits}/{bits.activation_bits}"


def parse_bits(text: str) -> IntegerBits:
    """'12/20' -> weight bits, activation bits."""
    w, a = (int(v) for v in text.split("/"))
    return IntegerBits(weight_bits=w, activation_bits=a)


def table_changes(float_folder: Path, int_folder: Path, img: np.ndarray) -> tuple[float, float]:
    """(share of y's elements whose table differs, largest |mean difference|) between the two paths."""
    enc = session(float_folder / ENCODER_FILE)
    y, z = enc.run(["latent", "side"], {"image": img[None].astype(np.float32) / 255.0})
    a, b = codec_of(float_folder, load(float_folder)), codec_of(int_folder, load(int_folder))
    assert isinstance(a, HyperpriorCodec) and isinstance(b, HyperpriorCodec)
    z_sym = a._z_symbols(z[0])
    mean_a, index_a = a._mean_index(z_sym, z[0].shape, y[0].shape, None)
    mean_b, index_b = b._mean_index(z_sym, z[0].shape, y[0].shape, None)
    return float(np.mean(index_a != index_b)), float(np.abs(mean_a - mean_b).max())


def timing(float_folder: Path, int_folder: Path, img: np.ndarray, repeat: int) -> dict[str, float]:
    """Seconds of the hyper-synthesis alone (z's symbols -> means and table indices) for one image, the two
    paths run alternately (best of ``repeat`` each), so that both see the same load on the machine."""
    enc = session(float_folder / ENCODER_FILE)
    y, z = enc.run(["latent", "side"], {"image": img[None].astype(np.float32) / 255.0})
    runs = {}
    for key, folder in (("float_onnxruntime_s", float_folder), ("integer_numpy_s", int_folder)):
        codec = codec_of(folder, load(folder))
        assert isinstance(codec, HyperpriorCodec)
        runs[key] = partial(codec._mean_index, codec._z_symbols(z[0]), z[0].shape, y[0].shape, None)
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for key, run in runs.items():
            start = time.perf_counter()
            run()
            best[key] = min(best[key], time.perf_counter() - start)
    return best


def through_service(folders: dict[str, Path], img: np.ndarray, rounds: int = 2) -> dict[str, float]:
    """Best seconds of /encode + /decode of one image through the real service (2 intra-op threads), each
    folder served on its own, in turns for ``rounds`` rounds."""
    best = dict.fromkeys(folders, float("inf"))
    for _ in range(rounds):
        for key, folder in folders.items():
            proc, url, copy = serve([folder])
            try:
                with httpx.Client(base_url=url, timeout=60) as client:
                    best[key] = min(best[key], served_timing(client, img.transpose(1, 2, 0), load(folder).name))
            finally:
                proc.terminate()
                proc.wait()
                shutil.rmtree(copy, ignore_errors=True)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=Path("models/photo-codec-q2"))
    ap.add_argument("--data-dir", type=Path, required=True, help="the photo folder (its held-out split is measured)")
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/aecodec-integer-hyper"), help="converted copies")
    ap.add_argument(
        "--bits",
        type=parse_bits,
        nargs="+",
        default=[IntegerBits()],
        help="conversions to measure, each weight bits/activation bits, e.g. 8/20 12/20",
    )
    ap.add_argument("--calibration", type=int, default=12, help="training photographs to calibrate on")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if args.scratch.resolve().is_relative_to(Path("models").resolve()):
        ap.error("--scratch must not be under models/")
    photos = load_photos(args.data_dir)
    calibration = [t for img in photos.train[: args.calibration] for t in tiles(img)]
    images = [centre(img) for img in photos.val]
    manifest: Manifest = load(args.model)
    float_rt = [round_trip(args.model, manifest, img[None]) for img in images]
    pixels = [img.shape[1] * img.shape[2] for img in images]
    rows: list[dict[str, object]] = []
    folders: dict[str, Path] = {}
    for bits in args.bits:
        wb = label(bits)
        folder = folders[wb] = convert(args.model, args.scratch, calibration, bits)
        int_manifest = load(folder)
        for img, name, n, f in zip(images, photos.val_names, pixels, float_rt, strict=True):
            i = round_trip(folder, int_manifest, img[None])
            changed, mean_diff = table_changes(args.model, folder, img)
            rows.append(
                {
                    "weight_bits": wb,
                    "photo": name,
                    "size": f"{img.shape[2]}x{img.shape[1]}",
                    "float_bytes": int(f.payload_bytes[0]),
                    "integer_bytes": int(i.payload_bytes[0]),
                    "float_bpp": float(f.payload_bytes[0] * 8 / n),
                    "integer_bpp": float(i.payload_bytes[0] * 8 / n),
                    "float_psnr_db": float(f.psnr_db[0]),
                    "integer_psnr_db": float(i.psnr_db[0]),
                    "tables_changed": changed,
                    "file_bytes": (folder / INTEGER_HYPER_FILE).stat().st_size,
                    "largest_mean_difference": mean_diff,
                }
            )
    speed_img = next((c[:, :512, :768] for c in images if c.shape[1] >= 512 and c.shape[2] >= 768), None)
    timed = label(IntegerBits()) if label(IntegerBits()) in folders else label(args.bits[0])
    folder = folders[timed]  # the default conversion's, when measured
    speed = {}
    if speed_img is not None:
        speed = timing(args.model, folder, speed_img, args.repeat)
        served = through_service({"float": args.model, "integer": folder}, speed_img)
        speed |= {f"service_encode_decode_{key}_s": value for key, value in served.items()}
    size = (folder / INTEGER_HYPER_FILE).stat().st_size
    lines = [
        f"{manifest.name}: float hyper-synthesis (hyper_decoder.onnx, onnxruntime) against the integer one, through "
        f"the real path on {len(images)} held-out photographs (centre crops, multiples of 64).",
        "",
        "| weight/activation bits | bytes, float | bytes, integer | change | PSNR float dB | PSNR integer dB "
        "| tables changed | file |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for wb in map(label, args.bits):
        mine = [r for r in rows if r["weight_bits"] == wb]
        fb = sum(int(r["float_bytes"]) for r in mine)  # type: ignore[call-overload]
        ib = sum(int(r["integer_bytes"]) for r in mine)  # type: ignore[call-overload]
        fp = np.mean([r["float_psnr_db"] for r in mine])
        ip = np.mean([r["integer_psnr_db"] for r in mine])
        ch = np.mean([r["tables_changed"] for r in mine])
        mb = int(mine[0]["file_bytes"]) / 1e6  # type: ignore[call-overload]
        row = f"| {wb} | {fb} | {ib} | {100 * (ib - fb) / fb:+.3f} % | {fp:.3f} | {ip:.3f} | {100 * ch:.3f} % "
        lines.append(row + f"| {mb:.2f} MB |")
    if speed:
        lines += [
            "",
            f"Hyper-synthesis of one 768x512 photograph (best of {args.repeat}): onnxruntime float "
            f"{1000 * speed['float_onnxruntime_s']:.1f} ms, integer network (numpy float64 BLAS) "
            f"{1000 * speed['integer_numpy_s']:.1f} ms; /encode + /decode through the service (best of 2 x 5): "
            f"float {1000 * speed['service_encode_decode_float_s']:.0f} ms, integer "
            f"{1000 * speed['service_encode_decode_integer_s']:.0f} ms. The integer network's file: "
            f"{size / 1e6:.2f} MB ({timed} bits, compressed npz).",
        ]
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {"rows": rows, "timing": speed, "file_bytes": size}
    (args.out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
