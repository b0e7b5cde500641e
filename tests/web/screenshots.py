"""Screenshots of the page's three tabs for the docs, taken with the same headless Chromium as the tests.

    python -m tests.web.screenshots docs/images

Starts the service on a loopback port with the shipped models and writes web_compress.png,
web_compress_photo.png, web_denoise.png and web_generate.png.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.service.conftest import SHIPPED, serve

from . import browser
from .test_page import by, choose, open_page, wait


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with serve(SHIPPED) as server, browser.chromium(1400, 860) as d:
        open_page(d, server.url)
        by(d, "sample-digit").click()
        wait(d, lambda: by(d, "decoded-model").text == "mnist-codec-q1")
        choose(d, "quality-select", "mnist-codec-q2")
        wait(d, lambda: by(d, "decoded-model").text == "mnist-codec-q2")
        time.sleep(0.5)
        d.save_screenshot(str(out / "web_compress.png"))
        by(d, "sample-photo").click()
        wait(d, lambda: by(d, "decoded-model").text.startswith("cifar") and "384" in by(d, "image-info").text)
        time.sleep(0.5)
        d.save_screenshot(str(out / "web_compress_photo.png"))

        by(d, "tab-denoise").click()
        by(d, "denoise-sample-digit").click()
        wait(d, lambda: by(d, "noisy-psnr").text.endswith("dB"))
        erase = "const p = document.getElementById('patch'); p.value = '25'; p.dispatchEvent(new Event('input'))"
        d.execute_script(erase)
        by(d, "denoise-btn").click()
        wait(d, lambda: "dB" in by(d, "denoised-psnr").text)
        time.sleep(0.5)
        d.save_screenshot(str(out / "web_denoise.png"))

        by(d, "tab-generate").click()
        by(d, "sample-btn").click()
        wait(d, lambda: len(by(d, "sample-grid").find_elements("tag name", "img")) == 16)
        by(d, "interpolate-btn").click()
        wait(d, lambda: len(by(d, "interpolation-strip").find_elements("tag name", "img")) == 10)
        time.sleep(0.5)
        d.save_screenshot(str(out / "web_generate.png"))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images"))
