"""The variable-rate photo codec's validation curve over training time, from the repository's history.

    python benchmarks/photo_codec_progress.py [--model photo-codec-vr] [--rates 0.125 0.25 0.5 0.75 1]

For every commit that changed ``models/<model>/manifest.json``, oldest first: the weights' version and total
training hours (the manifest's ``training.seconds``, every stage on the path to those weights), the model's
PSNR minus WebP's at fixed rates on the held-out photographs (both curves of that commit's
``results/photo_codec/results.json``, read over log bpp; "—" where the model's presets do not reach the
rate), and its transforms' ceiling (``results/photo_codec/ceiling.json``: the decoder on the unquantised
latent). The figures are the ones each shipped version was measured with, so nothing is re-run; the history
shows how fast training closes the gap, and at which rates it has not yet.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from typing import Any

import numpy as np

RESULTS = "results/photo_codec/results.json"
CEILING = "results/photo_codec/ceiling.json"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def at(commit: str, path: str) -> Any | None:
    """The JSON file ``path`` as it stood at ``commit`` (None where it did not exist)."""
    shown = subprocess.run(["git", "show", f"{commit}:{path}"], capture_output=True, text=True)
    return json.loads(shown.stdout) if shown.returncode == 0 else None


def read(curve: list[list[float]], bpp: float) -> float | None:
    """PSNR of a (bpp, dB) curve at ``bpp``, linear over log bpp; None outside the curve."""
    points = np.array(sorted(curve))
    log_bpp = np.log(points[:, 0])
    inside = log_bpp[0] - 1e-9 <= np.log(bpp) <= log_bpp[-1] + 1e-9
    return float(np.interp(np.log(bpp), log_bpp, points[:, 1])) if inside else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="photo-codec-vr")
    p.add_argument("--rates", type=float, nargs="+", default=[0.125, 0.25, 0.5, 0.75, 1.0])
    args = p.parse_args()
    commits = git("log", "--reverse", "--format=%h", "--", f"models/{args.model}/manifest.json").split()
    print(f"{args.model}: PSNR minus WebP's (dB) at each rate, by the weights' total training time\n")
    print("| commit | weights | training h | " + " | ".join(f"{r:g} bpp" for r in args.rates) + " | ceiling dB |")
    print("| --- | --- | ---: | " + " | ".join("---:" for _ in args.rates) + " | ---: |")
    for commit in commits:
        manifest, results = at(commit, f"models/{args.model}/manifest.json"), at(commit, RESULTS)
        if manifest is None or results is None or args.model not in results["curves"]:
            continue
        curves = results["curves"]
        webp = curves[next(k for k in curves if k.startswith("WebP"))]
        gaps = []
        for rate in args.rates:
            ours, theirs = read(curves[args.model], rate), read(webp, rate)
            gaps.append("—" if ours is None or theirs is None else f"{ours - theirs:+.2f}")
        ceilings = [r["unquantised_psnr_db"] for r in at(commit, CEILING) or [] if r["model"].startswith(args.model)]
        ceiling = f"{ceilings[0]:.2f}" if ceilings else "—"
        hours = manifest["training"]["seconds"] / 3600
        print(f"| {commit} | {manifest['version']} | {hours:.1f} | " + " | ".join(gaps) + f" | {ceiling} |")


if __name__ == "__main__":
    main()
