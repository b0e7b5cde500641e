"""Helpers of the codec tests: a synthetic codec manifest around given prior tables (the wire code without ONNX
files), and a tiny variable-rate photo codec trained by the real trainer on synthetic photographs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from aecodec_wire.manifest import DatasetInfo, InputSpec, Manifest, PriorTables, TrainingInfo
from aecodec_wire.quantize import measure_stats

if TYPE_CHECKING:  # the wire tests import this module where torch is blocked
    from aecodec_training.config import TrainConfig


def codec_manifest(offsets: np.ndarray, minima: np.ndarray, counts: np.ndarray, fixed: bool = True) -> Manifest:
    c = len(offsets)
    rng = np.random.default_rng(0)
    return Manifest(
        name="test-codec",
        kind="codec",
        architecture="test",
        dataset=DatasetInfo(name="synthetic"),
        input=InputSpec(
            channels=1, height=28 if fixed else None, width=28 if fixed else None, pad_multiple=1 if fixed else 8
        ),
        latent_shape=[c, 4, 4] if fixed else [c, None, None],
        latent_stats=measure_stats(rng.normal(size=(64, c, 4, 4))),
        training=TrainingInfo(command="test", epochs=0, seconds=0.0, seed=0),
        prior=PriorTables(
            precision=16, offsets=[float(v) for v in offsets], minima=[int(v) for v in minima], counts=counts.tolist()
        ),
        wire_id=7,
        version="0123456789abcdef",
    )


def train_tiny_gained(root: Path, lambdas: list[float]) -> Path:
    """Train a tiny ``gained-hyperprior-codec`` (N=16, M=24, Z=16) for one whole epoch (by steps, not time: the
    same model however loaded the CPU) on synthetic photographs written under ``root``; returns its run folder.
    (Imports inside: the wire tests import this module where torch is blocked.)"""
    from aecodec_training.trainer import Trainer

    Trainer(tiny_gained_config(root, lambdas), log=lambda _m: None).fit()
    return root / "run"


def tiny_gained_config(root: Path, lambdas: list[float], **kw: Any) -> TrainConfig:
    """The run of ``train_tiny_gained`` (``kw`` overrides), on synthetic photographs it writes under ``root``."""
    from aecodec_training.config import TrainConfig
    from PIL import Image

    from tests.service.photos import photo

    photos = root / "photos"
    photos.mkdir(exist_ok=True)
    for i, (w, h) in enumerate([(300, 200), (256, 256), (190, 150)]):
        Image.fromarray(photo(w, h, i)).save(photos / f"p{i}.png")
    for i, name in enumerate(["kite.png", "ladybird.png"]):  # the photo dataset's fixed validation split
        Image.fromarray(photo(260, 200, 10 + i)).save(photos / name)
    settings: dict[str, Any] = {
        "model": "gained-hyperprior-codec",
        "dataset": "photos",
        "data_dir": str(photos),
        "out": str(root / "run"),
        "epochs": 1,
        "batch_size": 8,
        "threads": 1,
        "device": "cpu",
        "progress": False,
        "options": {"hidden": 16, "latent": 24, "side": 16, "lambdas": lambdas},
    }
    return TrainConfig(**(settings | kw))
