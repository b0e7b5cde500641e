"""What the side information z costs: each photo codec's estimated bits split into z and y.

    python benchmarks/side_information.py --data-dir ../shared/data/photos ../shared/data/photos-more \
        --models models/photo-codec-q1 models/photo-codec-q2 models/photo-codec-q4 models/photo-codec-vr

On the held-out photographs' centre 384x384 crops (the validation crops of training), through the exported
encoder and the wire codec's integer tables (``estimated_bits`` and ``estimated_side_bits``, the bits the range
coder spends to within a few bytes): mean bits per pixel in all and in z, for each fixed level and each preset
of a variable-rate model. A well-fitted prior for z costs a few percent of the bits at the lowest rate.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from aecodec_training.datasets.photos import centre_crop, load_photos
from aecodec_training.onnx_io import session
from aecodec_training.realpath import codec_of
from aecodec_wire.manifest import ENCODER_FILE, load


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, nargs="+", required=True, help="photo folders (their validation split)")
    p.add_argument("--models", type=Path, nargs="+", required=True, help="hyperprior codec model folders")
    args = p.parse_args()
    crops = [centre_crop(v) for v in load_photos(list(args.data_dir)).val]
    print(f"{len(crops)} validation crops; mean bits per pixel\n")
    print("| model | quality | all bpp | side (z) bpp | side share |\n| --- | ---: | ---: | ---: | ---: |")
    for folder in args.models:
        manifest = load(folder)
        codec = codec_of(folder, manifest)
        encoder = session(folder / ENCODER_FILE)
        outputs = [encoder.run(None, {"image": c.transpose(2, 0, 1)[None].astype(np.float32) / 255}) for c in crops]
        pixels = np.asarray([c.shape[0] * c.shape[1] for c in crops], dtype=np.float64)
        rate = manifest.variable_rate
        for quality in range(1, rate.levels + 1) if rate is not None else [None]:
            total, side = np.zeros(len(crops)), np.zeros(len(crops))
            for i, (y, z) in enumerate(outputs):
                latents = {"latent": y, "side": z}
                total[i] = codec.estimated_bits(latents, quality=quality)[0]
                side[i] = codec.estimated_side_bits(latents, quality=quality)[0]
            bpp, side_bpp = float(np.mean(total / pixels)), float(np.mean(side / pixels))
            shown = "—" if quality is None else str(quality)
            print(f"| {folder.name} | {shown} | {bpp:.4f} | {side_bpp:.4f} | {100 * side_bpp / bpp:.1f} % |")


if __name__ == "__main__":
    main()
