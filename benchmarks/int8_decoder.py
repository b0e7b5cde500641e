"""What an int8 synthesis transform costs and buys: a photo codec's decoder.onnx quantised by onnxruntime
(static, QDQ, per-channel int8 weights, uint8 activations calibrated on real latents), timed and scored
against the float graph on the same latents.

    python benchmarks/int8_decoder.py --model models/photo-codec-vr --data-dir ../shared/data/photos \
        --data-dir ../shared/data/photos-more --json results/benchmarks/int8_decoder.json

The payload does not change: the symbols come from the encoder and the tables from the hyper-synthesis; the
decoder only turns the decoded latent into pixels, so it need not be bit-exact across machines. Variants:
every convolution but GDN's (whose weights are computed in the graph); the same without the first and the
last convolution (the latent's values and the output pixels need more than 8 bits); and one convolution
alone (``--only``; by default g_s.4, at a quarter of the output's side, about half the decoder's
multiply-adds). Latents: the
encoder's, at each measured level of a variable-rate model (its gains from the manifest), of the held-out
photographs (their top-left 768x512, or the centre 384x384 of a smaller one); calibration on four of them.
Time: median seconds per image of the decoder alone, ``--threads`` intra-op threads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from aecodec_training.datasets.photos import centre_crop, load_photos
from aecodec_wire.manifest import DECODER_FILE, ENCODER_FILE, load
from aecodec_wire.quality import psnr
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process


class Latents(CalibrationDataReader):
    def __init__(self, latents: list[np.ndarray]) -> None:
        self.feeds = iter([{"latent": y} for y in latents])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.feeds, None)


def session(path: Path, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def quantised(decoder: Path, work: Path, calibration: list[np.ndarray], variant: str, only: str) -> Path:
    """decoder.onnx with its convolutions in int8: every one (``all``), all but the first and last
    (``ends-float``), or only the one whose node name contains ``only`` (``only``)."""
    folded = work / "folded.onnx"  # the float16 weights' casts folded into float32 initializers
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.optimized_model_filepath = str(folded)
    ort.InferenceSession(str(decoder), opts, providers=["CPUExecutionProvider"])
    prepared = work / "prepared.onnx"
    quant_pre_process(str(folded), str(prepared), skip_optimization=True)
    convs = [n.name for n in onnx.load(str(prepared)).graph.node if n.op_type == "Conv"]
    out = work / f"int8-{variant}.onnx"
    ends = [convs[0], convs[-1]] if variant == "ends-float" else []
    chosen = [c for c in convs if only in c] if variant == "only" else []
    quantize_static(
        str(prepared),
        str(out),
        Latents(calibration),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        weight_type=QuantType.QInt8,
        activation_type=QuantType.QUInt8,
        op_types_to_quantize=["Conv"],
        nodes_to_quantize=chosen,
        nodes_to_exclude=ends,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--data-dir", type=Path, action="append", required=True)
    ap.add_argument("--levels", type=int, nargs="+", default=[2, 5, 8], help="presets of a variable-rate model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="g_s.4", help="the third variant's one int8 convolution")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    manifest = load(args.model, verify=False)
    rate = manifest.variable_rate
    log_gains = np.asarray(rate.log_gain_y) if rate is not None else None
    levels = args.levels if log_gains is not None else [0]
    photos = load_photos(list(args.data_dir))
    images = [v[:512, :768] if v.shape[0] >= 512 and v.shape[1] >= 768 else centre_crop(v) for v in photos.val]
    encoder = session(args.model / ENCODER_FILE, args.threads)

    def latent(image: np.ndarray, level: int) -> np.ndarray:
        y = encoder.run(None, {"image": image.transpose(2, 0, 1)[None].astype(np.float32) / 255})[0]
        gain = np.exp(log_gains[level - 1])[None, :, None, None] if log_gains is not None else 1.0
        return (np.round(y * gain) / gain).astype(np.float32)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        calibration = [latent(img, level) for img in images[:4] for level in levels]
        graphs = {"float": args.model / DECODER_FILE}
        variants = {"all": "int8", "ends-float": "int8, first and last float", "only": f"int8, {args.only} only"}
        for variant, name in variants.items():
            graphs[name] = quantised(args.model / DECODER_FILE, Path(tmp), calibration, variant, args.only)
        sessions = {name: session(path, args.threads) for name, path in graphs.items()}
        for level in levels:
            latents = [latent(img, level) for img in images]
            for name, s in sessions.items():
                scores, seconds = [], []
                for image, y in zip(images, latents, strict=True):
                    s.run(None, {"latent": y})  # warm
                    begin = time.perf_counter()
                    out = s.run(None, {"latent": y})[0][0]
                    seconds.append(time.perf_counter() - begin)
                    pixels = np.clip(np.rint(out.transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)
                    scores.append(psnr(pixels[: image.shape[0], : image.shape[1]], image))
                row = {"level": level, "decoder": name, "psnr_db": round(float(np.mean(scores)), 3)}
                row["seconds"] = round(statistics.median(seconds), 3)
                rows.append(row)
                print(json.dumps(row), flush=True)
    print("\n| level | decoder | PSNR dB | s per image |\n| ---: | --- | ---: | ---: |")
    for r in rows:
        print(f"| {r['level']} | {r['decoder']} | {r['psnr_db']:.3f} | {r['seconds']:.3f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model": str(args.model), "images": len(images), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
