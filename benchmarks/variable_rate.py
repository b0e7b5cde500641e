"""A variable-rate codec model through the service: bytes and time at each preset, and what ``max_bytes`` costs.

Starts the service as a subprocess on a free loopback port (CPU provider) over ``--models``, sends one
photograph (``--image``, resized to ``--size``; default the page's bundled photograph at 768x512) to
``/encode?quality=k`` for every preset k and to ``/decode``, then to ``/encode?max_bytes=N`` for budgets
half-way between neighbouring presets' sizes, and prints a markdown table of median wall times (``--repeat``
requests each, one after the other). The max_bytes search runs the encoder graph once and then the hyper
decoder and the range coder once per try (about 15 for 8 levels).

    python benchmarks/variable_rate.py --models models [--model photo-codec-vr] [--repeat 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import httpx
from PIL import Image
from served import service

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "service" / "aecodec_service" / "static" / "photo.jpg"


def timed(c: httpx.Client, repeat: int, path: str, body: bytes, **params: object) -> tuple[float, httpx.Response]:
    """Median milliseconds of ``repeat`` requests, and the last answer."""
    walls = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = c.post(path, params=params, content=body)
        walls.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    return statistics.median(walls), r


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, required=True, help="a folder of model folders")
    p.add_argument("--model", help="the variable-rate model (default: the first served)")
    p.add_argument("--image", type=Path, default=PHOTO)
    p.add_argument("--size", default="768x512", help="WxH the image is resized to")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    buf = io.BytesIO()
    Image.open(args.image).convert("RGB").resize((width, height), Image.Resampling.LANCZOS).save(buf, format="PNG")
    image = buf.getvalue()
    with service(args.models) as (c, _pid):
        models = [m for m in c.get("/models").json() if m.get("variable_rate")]
        model = next(m for m in models if m["name"] == args.model) if args.model else models[0]
        name, top = model["name"], model["variable_rate"]["quality_max"]
        print(f"{name}, {width}x{height}, median of {args.repeat}\n")
        print("| request | payload B | bpp | quality | /encode ms | /decode ms |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        sizes = {}
        for k in range(1, top + 1):
            ms, r = timed(c, args.repeat, "/encode", image, model=name, quality=k)
            sizes[k] = len(r.content)
            dec, _ = timed(c, args.repeat, "/decode", r.content)
            bpp = 8 * sizes[k] / (width * height)
            print(f"| quality={k} | {sizes[k]} | {bpp:.3f} | {k} | {ms:.0f} | {dec:.0f} |")
        for k in range(1, top):
            budget = (sizes[k] + sizes[k + 1]) // 2
            ms, r = timed(c, args.repeat, "/encode", image, model=name, max_bytes=budget)
            got, quality = len(r.content), r.headers["x-aecodec-quality"]
            print(f"| max_bytes={budget} | {got} | {8 * got / (width * height):.3f} | {quality} | {ms:.0f} | |")


if __name__ == "__main__":
    main()
