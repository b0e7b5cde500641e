"""The page at / in a real headless Chromium against the real service with the shipped models.

What a user sees must be what the API gives: the payload bytes and PSNR shown for an uploaded image
are compared with /encode + /decode of the same file, made here over HTTP. Skipped where Debian's
chromium and chromium-driver are not installed (CI installs them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.service.conftest import DIGITS, Running
from tests.service.helpers import png, read
from tests.service.photos import display_p3, photo, sideways_jpeg, soft_edged_rgba

from . import browser
from .conftest import API_KEY

pytestmark = pytest.mark.skipif(browser.missing() is not None, reason=str(browser.missing()))
STATIC = Path(__file__).resolve().parents[2] / "service" / "aecodec_service" / "static"
CIFAR = np.load(DIGITS.parent / "cifar10_test_16.npz")["x"]


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with browser.chromium() as d:
        yield d


def by(driver: Any, testid: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f"[data-testid={testid}]")


def wait(driver: Any, condition: Callable[[], object], seconds: float = 60) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, seconds).until(lambda _: condition())


def open_page(driver: Any, url: str) -> None:
    driver.get(url + "/")
    wait(driver, lambda: driver.find_element("tag name", "body").get_attribute("data-ready") == "true")


def choose(driver: Any, testid: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(by(driver, testid)).select_by_value(value)


def api_figures(server: Running, image: bytes, model: str, headers: dict[str, str] | None = None) -> tuple[int, float]:
    """(payload bytes, PSNR) of /encode then /decode of this image file."""
    with server.client(headers=headers or {}) as c:
        payload = c.post(f"/encode?model={model}", content=image, headers={"Content-Type": "image/png"}).content
        decoded = c.post("/decode", content=payload, headers={"Content-Type": "application/x-protobuf"}).content
    a = np.asarray(read(image), dtype=np.float64)
    b = np.asarray(read(decoded), dtype=np.float64)
    return len(payload), float(10 * np.log10(255.0**2 / np.mean((a - b) ** 2)))


def shown_result(driver: Any, model: str) -> tuple[int, float]:
    wait(driver, lambda: by(driver, "decoded-model").text == model and by(driver, "payload-bytes").text != "")
    return int(by(driver, "payload-bytes").text), float(by(driver, "psnr").get_attribute("data-value"))


def check_comparison(driver: Any, payload_bytes: int) -> None:
    """JPEG and WebP are shown beside the learned codec, at most the payload's bytes or flagged nearest."""
    for fmt in ("jpeg", "webp"):
        fig = by(driver, f"classical-{fmt}")
        size = int(re.sub(r"\D", "", fig.find_element("css selector", "[data-testid=bytes]").text))
        psnr = fig.find_element("css selector", "[data-testid=psnr]")
        assert 5 < float(psnr.get_attribute("data-value")) < 100 and psnr.text.endswith(" dB")
        assert size <= payload_bytes or "nearest" in fig.text
        assert fig.find_element("tag name", "img").get_property("naturalWidth") > 0  # the browser decoded it


def upload(driver: Any, testid: str, path: Path) -> None:
    by(driver, testid).send_keys(str(path))


def test_a_digit_on_mnist_codec_shows_what_the_api_gives(web_server: Running, driver: Any, tmp_path: Path) -> None:
    digit = png(np.load(DIGITS)["x"][11])
    (tmp_path / "digit.png").write_bytes(digit)
    browser.requested_urls(driver)  # start the network log afresh
    open_page(driver, web_server.url)
    upload(driver, "image-input", tmp_path / "digit.png")
    choose(driver, "model-select", "mnist-codec-q2")
    shown_result(driver, "mnist-codec-q2")
    choose(driver, "model-select", "mnist-codec-q1")
    shown = shown_result(driver, "mnist-codec-q1")
    expected = api_figures(web_server, digit, "mnist-codec-q1")
    assert shown[0] == expected[0] and shown[1] == pytest.approx(expected[1], abs=1e-9)
    assert by(driver, "psnr").text == f"{expected[1]:.2f}"
    check_comparison(driver, shown[0])
    assert by(driver, "decoded-img").get_property("naturalWidth") == 28
    link = by(driver, "download-payload")
    assert link.get_attribute("href").startswith("blob:") and link.get_attribute("download").endswith(".aec")
    assert by(driver, "error").get_attribute("hidden") is not None
    # the page asked for nothing but its own origin (and data:/blob: URLs it made itself); nothing at all
    # went to the network elsewhere
    requests = browser.requested_urls(driver)
    ours = [u for doc, u in requests if doc.startswith(web_server.url + "/")]
    assert any(u.endswith("/compare?model=mnist-codec-q1&formats=jpeg%2Cwebp") for u in ours), ours
    assert all(u.startswith((web_server.url + "/", "data:", "blob:")) for u in ours), ours
    network = [u for _, u in requests if re.match(r"(https?|wss?)://", u)]
    assert all(u.startswith(web_server.url + "/") for u in network), network


def test_a_colour_image_on_an_any_size_codec(web_server: Running, driver: Any, tmp_path: Path) -> None:
    image = png(np.concatenate([CIFAR[2], CIFAR[7][:, :20]], 1)[:27])  # 52x27: not a multiple of the stride
    (tmp_path / "colour.png").write_bytes(image)
    open_page(driver, web_server.url)
    upload(driver, "image-input", tmp_path / "colour.png")
    wait(driver, lambda: by(driver, "decoded-model").text != "")
    options = [o.get_attribute("value") for o in by(driver, "model-select").find_elements("tag name", "option")]
    assert "cifar-codec-q1" in options and not any(o.startswith("mnist") for o in options)  # only what takes it
    choose(driver, "model-select", "cifar-codec-q2")
    shown_result(driver, "cifar-codec-q2")
    choose(driver, "quality-select", "cifar-codec-q1")  # the quality picker moves between a family's levels
    shown = shown_result(driver, "cifar-codec-q1")
    expected = api_figures(web_server, image, "cifar-codec-q1")
    assert shown[0] == expected[0] and shown[1] == pytest.approx(expected[1], abs=1e-9)
    check_comparison(driver, shown[0])
    assert by(driver, "decoded-img").get_property("naturalWidth") == 52


def test_a_phone_photo_and_a_cut_out_say_what_they_kept(web_server: Running, driver: Any, tmp_path: Path) -> None:
    (tmp_path / "phone.jpg").write_bytes(sideways_jpeg(photo(96, 64), 6, icc_profile=display_p3()))
    (tmp_path / "cut.png").write_bytes(png(soft_edged_rgba(96, 64)))
    open_page(driver, web_server.url)
    upload(driver, "image-input", tmp_path / "phone.jpg")
    wait(driver, lambda: "upright" in by(driver, "kept").text)
    assert "EXIF orientation 6" in by(driver, "kept").text and "colour profile" in by(driver, "kept").text
    assert by(driver, "decoded-img").get_property("naturalWidth") == 96  # upright, as the browser shows the JPEG
    upload(driver, "image-input", tmp_path / "cut.png")
    wait(driver, lambda: "transparency" in by(driver, "kept").text)
    assert "no transparency: JPEG cannot hold it" in by(driver, "classical-jpeg").text
    assert "no transparency" not in by(driver, "classical-webp").text


def test_api_keys_a_clear_401_then_it_works(keyed_server: Running, driver: Any, tmp_path: Path) -> None:
    digit = png(np.load(DIGITS)["x"][5])
    (tmp_path / "digit.png").write_bytes(digit)
    open_page(driver, keyed_server.url)  # the page itself needs no key
    error = by(driver, "error")
    wait(driver, lambda: error.get_attribute("data-status") == "401" and error.is_displayed())
    assert "API key" in error.text and "missing API key" in error.text  # the service's own detail
    upload(driver, "image-input", tmp_path / "digit.png")
    wait(driver, lambda: error.get_attribute("data-status") == "401")
    assert by(driver, "payload-bytes").text == ""
    by(driver, "api-key").send_keys(API_KEY)
    shown = shown_result(driver, "mnist-codec-q1")
    assert not error.is_displayed()
    assert shown[0] == api_figures(keyed_server, digit, "mnist-codec-q1", {"Authorization": f"Bearer {API_KEY}"})[0]
    # the key lives in the page's memory only
    assert driver.execute_script("return window.localStorage.length + window.sessionStorage.length") == 0
    assert API_KEY not in driver.current_url and API_KEY not in driver.execute_script("return document.cookie")


def test_a_payload_file_is_decoded(web_server: Running, driver: Any, tmp_path: Path) -> None:
    with web_server.client() as c:
        image = png(CIFAR[9])
        payload = c.post("/encode?model=cifar-codec-q2", content=image, headers={"Content-Type": "image/png"}).content
    (tmp_path / "ship.aec").write_bytes(payload)
    open_page(driver, web_server.url)
    upload(driver, "payload-input", tmp_path / "ship.aec")
    wait(driver, lambda: "cifar-codec-q2" in by(driver, "payload-caption").text)
    assert f"{len(payload)} B" in by(driver, "payload-caption").text
    assert by(driver, "payload-decoded").get_property("naturalWidth") == 32


def test_errors_show_the_problem_detail(web_server: Running, driver: Any, tmp_path: Path) -> None:
    (tmp_path / "bad.aec").write_bytes(b"\x1d\x00\x01not a payload")
    open_page(driver, web_server.url)
    upload(driver, "payload-input", tmp_path / "bad.aec")
    error = by(driver, "error")
    wait(driver, lambda: error.is_displayed())
    assert error.get_attribute("data-status") == "422" and "payload" in error.text.lower()


def test_denoise_and_generate_tabs(web_server: Running, driver: Any) -> None:
    open_page(driver, web_server.url)
    by(driver, "tab-denoise").click()
    by(driver, "denoise-sample-digit").click()
    wait(driver, lambda: by(driver, "noisy-psnr").text.endswith("dB"))
    chosen = by(driver, "denoise-model").get_attribute("value")
    with web_server.client() as c:
        fixed = c.get(f"/models/{chosen}").json()["input"]["height"] is not None
    assert by(driver, "send-sigma").get_property("disabled") == fixed  # only any-size denoisers take ?sigma=
    by(driver, "denoise-btn").click()
    wait(driver, lambda: "dB" in by(driver, "denoised-psnr").text)
    noisy, denoised = (float(by(driver, t).text.split()[0]) for t in ("noisy-psnr", "denoised-psnr"))
    assert denoised > noisy + 2  # sigma 40/255 on a digit: the denoiser helps

    by(driver, "tab-generate").click()
    grids = []
    for _ in range(2):  # same seed, same grid
        driver.execute_script("document.querySelector('[data-testid=sample-grid]').replaceChildren()")
        by(driver, "sample-btn").click()
        wait(driver, lambda: len(by(driver, "sample-grid").find_elements("tag name", "img")) == 16)
        grids.append([i.get_attribute("src") for i in by(driver, "sample-grid").find_elements("tag name", "img")])
    assert grids[0] == grids[1] and len(set(grids[0])) == 16
    by(driver, "interpolate-btn").click()
    wait(driver, lambda: len(by(driver, "interpolation-strip").find_elements("tag name", "img")) == 10)


def test_page_weight_and_no_external_reference(web_server: Running) -> None:
    """Under 100 KB of HTML, CSS and script, and not one absolute URL that could leave the origin."""
    code = [p for p in STATIC.iterdir() if p.suffix in (".html", ".css", ".js")]
    assert {p.name for p in code} == {"index.html", "app.css", "app.js"}
    assert sum(p.stat().st_size for p in code) < 100_000
    samples = [p for p in STATIC.iterdir() if p not in code]
    assert sum(p.stat().st_size for p in samples) < 60_000
    for p in code:
        text = p.read_text()
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), p.name
        assert not re.search(r"@import|url\(", text), p.name
    with web_server.client() as c:
        html = c.get("/").text
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(r.startswith("/") or r.startswith("data:") for r in refs), refs
