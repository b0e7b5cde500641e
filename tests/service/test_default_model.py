"""/encode without ?model= picks a model that fits the image, and says which in its headers."""

from __future__ import annotations

import numpy as np

from .conftest import Running
from .helpers import png, read

IMG = {"Content-Type": "image/png"}
PB = {"Content-Type": "application/x-protobuf"}


def test_a_digit_goes_to_the_digit_model_and_a_picture_to_an_any_size_codec(
    shipped_server: Running, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = digits
    picture = np.random.default_rng(0).integers(0, 256, (37, 50, 3), dtype=np.uint8)
    with shipped_server.client() as c:
        digit = c.post("/encode", content=png(x[0]), headers=IMG)
        photo = c.post("/encode", content=png(picture), headers=IMG)
        models = {m["name"]: m for m in c.get("/models").json()}
        back = read(c.post("/decode", content=photo.content, headers=PB).content)
    assert digit.status_code == 200 and digit.headers["x-aecodec-model"] == "mnist-ae"
    assert photo.status_code == 200, photo.text
    chosen = models[photo.headers["x-aecodec-model"]]
    assert chosen["kind"] == "codec" and chosen["input"]["width"] is None and chosen["input"]["channels"] == 3
    assert back.size == (50, 37) and back.mode == "RGB"
