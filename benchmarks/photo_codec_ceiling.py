"""How much of a photo level's distortion is quantisation, and how much the transforms themselves.

    python benchmarks/photo_codec_ceiling.py --data-dir ../shared/data/photos --models models/photo-codec-q{1,2}

A variable-rate model is measured at each of its presets; its unquantised path is one figure for all of them
(the gains divide out before the decoder).

For each level, on the 384x384 centres of the held-out photographs (the manifests' validation crops): the
real path (ONNX encoder, wire codec, payload bytes, ONNX decoder; ``aecodec_training.realpath``) and the
decoder run on the encoder's latent as it is, unquantised. The second is the most any rate can give this
level's transforms: when the real path sits close to it, spending more bits (a higher lambda, a finer
quantiser) cannot lift PSNR much, and only wider or better-trained transforms can. Writes
results/photo_codec/ceiling.{json,md}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from aecodec_training.datasets.photos import centre_crop, load_photos
from aecodec_training.onnx_io import session
from aecodec_training.realpath import round_trip
from aecodec_wire.manifest import DECODER_FILE, ENCODER_FILE, load
from aecodec_wire.quality import psnr_per_image

OUT = Path("results/photo_codec")


def unquantised(folder: Path, pixels: np.ndarray) -> np.ndarray:
    """uint8 (N, 3, H, W) -> the decoder's image from the encoder's unrounded latent, uint8."""
    enc, dec = session(folder / ENCODER_FILE), session(folder / DECODER_FILE)
    y = enc.run(["latent"], {"image": pixels.astype(np.float32) / 255.0})[0]
    out = dec.run(None, {"latent": y})[0]
    return np.clip(np.rint(out.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)


def measure(folder: Path, pixels: np.ndarray) -> list[dict[str, float | str]]:
    """One row per level: a fixed-rate model's one, or a variable-rate model's presets."""
    manifest = load(folder)
    ceiling = float(np.mean(psnr_per_image(pixels, unquantised(folder, pixels))))
    pixels_per_image = pixels.shape[2] * pixels.shape[3]
    rate = manifest.variable_rate
    presets: list[int | None] = [None] if rate is None else list(range(1, rate.levels + 1))
    rows: list[dict[str, float | str]] = []
    for q in presets:
        rt = round_trip(folder, manifest, pixels, quality=q)
        rows.append(
            {
                "model": manifest.name if q is None else f"{manifest.name}-q{q}",
                "bpp": float(np.mean(rt.payload_bytes) * 8 / pixels_per_image),
                "psnr_db": float(np.mean(rt.psnr_db)),
                "unquantised_psnr_db": ceiling,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True, help="the photo folder (its held-out split is used)")
    ap.add_argument("--models", type=Path, nargs="+", required=True, help="photo codec model folders")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    photos = load_photos(args.data_dir)
    pixels = np.stack([centre_crop(img) for img in photos.val]).transpose(0, 3, 1, 2)
    rows = [row for folder in args.models for row in measure(folder, pixels)]
    lines = [
        f"Photo codec levels on the 384x384 centres of {len(pixels)} held-out photographs "
        f"({', '.join(photos.val_names)}).",
        "",
        "| level | bpp | PSNR dB, real path | PSNR dB, decoder on the unquantised latent | gap dB |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        real, ceiling = float(r["psnr_db"]), float(r["unquantised_psnr_db"])
        lines.append(f"| {r['model']} | {r['bpp']:.3f} | {real:.2f} | {ceiling:.2f} | {ceiling - real:.2f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ceiling.json").write_text(json.dumps(rows, indent=2) + "\n")
    (args.out / "ceiling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
