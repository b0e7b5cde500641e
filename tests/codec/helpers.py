"""A synthetic codec manifest around given prior tables, so the wire code is tested without ONNX files."""

from __future__ import annotations

import numpy as np
from aecodec_wire.manifest import DatasetInfo, InputSpec, Manifest, PriorTables, TrainingInfo
from aecodec_wire.quantize import measure_stats


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
