"""The optional ICC profile and alpha plane of a payload (image_extras.py): lossless, bounded, and free when absent.

``test_what_profiles_and_alpha_planes_cost`` prints the measured bytes documented in docs/wire-format.md:
``.venv/bin/pytest tests/wire/test_image_extras.py -k cost -s -p no:cacheprovider``.
"""

from __future__ import annotations

import time
import zlib

import numpy as np
import pytest
from aecodec_wire import CorruptPayload, inspect, unpack_any
from aecodec_wire import image_extras as ix
from aecodec_wire.prior_codec import PriorCodec
from aecodec_wire.uniform_codec import UniformCodec

from tests.codec.helpers import codec_manifest
from tests.service.photos import display_p3, soft_edged_rgba, srgb

from .test_wire import make_manifest

H, W = 512, 768


def _planes() -> dict[str, np.ndarray]:
    y, x = np.mgrid[0:H, 0:W]
    r = np.hypot(x - W / 2, y - H / 2)
    return {
        "binary mask (disc)": np.where(r < 200, 255, 0).astype(np.uint8),
        "anti-aliased disc": np.clip((200.5 - r) * 255, 0, 255).astype(np.uint8),
        "soft edge (12 px)": soft_edged_rgba(W, H)[..., 3],
        "random values": np.random.default_rng(0).integers(0, 256, (H, W), dtype=np.uint8),
    }


@pytest.mark.parametrize("name", list(_planes()))
def test_alpha_planes_come_back_exactly(name: str) -> None:
    plane = _planes()[name]
    coded = ix.code_alpha(plane)
    assert len(coded) <= ix.max_alpha_bytes(W, H)
    assert np.array_equal(ix.decode_alpha(coded, W, H), plane)


def _codecs() -> list[tuple[object, np.ndarray]]:
    uniform = UniformCodec(make_manifest())  # fixed 28x28 grey: a named payload
    counts = np.full((4, 8), 10, dtype=np.int64)
    prior = PriorCodec(codec_manifest(np.zeros(4), np.full(4, -4), counts, fixed=False))  # a compact payload
    rng = np.random.default_rng(1)
    return [
        (uniform, rng.normal(size=(1, 8)).astype(np.float32)),
        (prior, rng.normal(size=(1, 4, 6, 5)).astype(np.float32)),
    ]


@pytest.mark.parametrize("which", [0, 1], ids=["named-payload", "compact-payload"])
def test_profile_and_alpha_ride_along_and_cost_nothing_when_absent(which: int) -> None:
    codec, latent = _codecs()[which]
    size = (28, 28) if which == 0 else (40, 48)
    alpha = np.tile(np.linspace(0, 255, size[0]).astype(np.uint8), (size[1], 1))
    grey = display_p3()[:16] + b"GRAY" + display_p3()[20:]  # a grey image takes a GRAY profile
    plain = codec.encode(latent, [size], ["LA"])[0]  # type: ignore[attr-defined]
    assert codec.encode(latent, [size], ["LA"], None, [ix.NONE])[0] == plain  # type: ignore[attr-defined]
    full = codec.encode(latent, [size], ["LA"], None, [ix.Extras(grey, alpha)])[0]  # type: ignore[attr-defined]

    code = unpack_any(full)
    latent_back = codec.decode(code, max_pixels=1 << 20)  # type: ignore[attr-defined]
    assert np.array_equal(latent_back, codec.decode(unpack_any(plain), max_pixels=1 << 20))  # type: ignore[attr-defined]
    extras = ix.read(code)
    assert extras.icc_profile == grey and np.array_equal(extras.alpha, alpha)
    assert ix.read(unpack_any(plain)) is ix.NONE
    info = inspect(full)
    assert info.icc_profile_bytes == len(code.icc_profile) < len(grey) and info.alpha_bytes == len(code.alpha)
    assert info.header_bytes > inspect(plain).header_bytes  # the two fields' tags and lengths


def test_a_profile_of_another_colour_space_or_over_the_limit_is_refused() -> None:
    p3 = display_p3()
    assert ix.icc_problem(p3, "RGBA") is None and ix.icc_problem(srgb(), "RGB") is None
    assert "GRAY" not in (ix.icc_problem(p3, "L") or "") and "'RGB'" in (ix.icc_problem(p3, "L") or "")
    assert "not an ICC profile" in (ix.icc_problem(p3[:-1], "RGB") or "")
    big = (ix.MAX_ICC_BYTES + 4).to_bytes(4, "big") + p3[4:] + b"\0" * (ix.MAX_ICC_BYTES + 4 - len(p3))
    assert "at most 65536" in (ix.icc_problem(big, "RGB") or "")


def _with(codec: UniformCodec, latent: np.ndarray, **fields: object) -> bytes:
    """A payload of ``codec`` whose optional fields are set by hand (as an attacker would)."""
    from aecodec_wire import pack

    code = unpack_any(codec.encode(latent, [(28, 28)], ["LA"])[0])
    for k, v in fields.items():
        setattr(code, k, v)
    return pack(code)  # type: ignore[arg-type]


def test_hostile_optional_fields_are_refused_before_work_proportional_to_them() -> None:
    codec, latent = _codecs()[0]
    assert isinstance(codec, UniformCodec)
    bomb = b"\x00" + zlib.compress(b"\0" * (64 << 20), 9)  # 65 KB that inflate to 64 MiB, for 784 pixels
    cases = {
        "alpha plane is": _with(codec, latent, alpha=bomb),  # longer than any 28x28 plane: refused unread
        "more than 784": _with(codec, latent, alpha=b"\x00" + zlib.compress(b"\0" * 785)),  # one byte too many
        "exactly 28x28": _with(codec, latent, alpha=b"\x00" + zlib.compress(b"\0" * 783)),  # one too few
        "unknown filter": _with(codec, latent, alpha=b"\x07" + zlib.compress(b"\0" * 784)),
        "cannot be decompressed": _with(codec, latent, alpha=b"\x00garbage"),
        "not an ICC profile": _with(codec, latent, icc_profile=zlib.compress(b"\0" * 200)),
        "more than 65536": _with(codec, latent, icc_profile=zlib.compress(b"\0" * 70_000)),
        "ICC profile is": _with(codec, latent, icc_profile=b"\0" * 70_000),
        "describes 'RGB' colour": _with(codec, latent, icc_profile=zlib.compress(display_p3())),
    }
    for words, data in cases.items():
        with pytest.raises(CorruptPayload, match=words):
            code = unpack_any(data)
            codec.decode(code, max_pixels=1 << 20)
            ix.read(code)
    small_bomb = b"\x00" + zlib.compress(b"\0" * (64 << 20), 9)[:700]  # fits the length bound: inflation stops
    start = time.perf_counter()
    with pytest.raises(CorruptPayload):
        ix.decode_alpha(small_bomb, 28, 28)
    assert time.perf_counter() - start < 0.05
    rgb = unpack_any(_with(codec, latent, alpha=ix.code_alpha(np.zeros((28, 28), np.uint8))))
    rgb.mode = 1  # an L image with an alpha plane
    with pytest.raises(CorruptPayload, match="mode is L"):
        ix.check(rgb)


def test_what_profiles_and_alpha_planes_cost() -> None:
    """Bytes a payload grows by, over the same payload without the field (tag and length included)."""
    codec = _codecs()[1][0]
    size = (W, H)
    lat = np.random.default_rng(2).normal(size=(1, 4, H // 8, W // 8)).astype(np.float32)
    plain = len(codec.encode(lat, [size], ["RGBA"])[0])  # type: ignore[attr-defined]
    rows = [("sRGB, untagged (no profile)", 0)]
    for name, profile in [("Display P3 (v4, matrix/TRC)", display_p3()), ("littleCMS sRGB", srgb())]:
        n = len(codec.encode(lat, [size], ["RGB"], None, [ix.Extras(profile)])[0]) - plain  # type: ignore[attr-defined]
        rows.append((f"{name}, {len(profile)} B profile", n))
        assert n == len(zlib.compress(profile, 9)) + 3  # deflated, with its field's tag and length
    for name, plane in _planes().items():
        n = len(codec.encode(lat, [size], ["RGBA"], None, [ix.Extras(alpha=plane)])[0]) - plain  # type: ignore[attr-defined]
        rows.append((f"{W}x{H} alpha: {name}", n))
    print()
    for name, n in rows:
        print(f"{name:45s} {n:>8,} B")
    costs = dict(rows)
    assert costs["768x512 alpha: binary mask (disc)"] < 1500 and costs["768x512 alpha: soft edge (12 px)"] < 12000
