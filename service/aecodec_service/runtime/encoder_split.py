"""A hyperprior codec's encoder cut in two, for images run in tiles.

Why: the encoder graph computes the latent y (analysis, 1/16 of the image's side) and from it the side latent z
(hyper-analysis, 1/64), so a tile of the whole graph needs the halo of z's reach: photo-codec-vr's is three 64-pixel
cells each side, where y alone needs one. Run as one graph, a 12-megapixel photograph's tiles computed about twice
its area. Cut in two, the analysis runs in tiles with its own halo and the hyper-analysis once over the assembled
latent (a 3520-pixel image's latent is 220 x 220), which gives the whole-image run's y and z. The shipped graphs
stay as they are: the two parts are cut out of encoder.onnx at load by onnx's own extractor.
"""

from __future__ import annotations

import logging
from pathlib import Path

import onnx
import onnx.checker
import onnx.utils

log = logging.getLogger("aecodec.runtime")


def cut_encoder(path: Path, latent: str, side: str) -> tuple[bytes, bytes] | None:
    """The serialized graphs image -> ``latent`` and ``latent`` -> ``side`` cut out of the encoder at ``path``;
    None (and a log line) where ``side`` is not a function of ``latent`` alone."""
    model = onnx.load(str(path))
    image = model.graph.input[0].name
    try:
        extractor = onnx.utils.Extractor(model)
        analysis = extractor.extract_model([image], [latent])
        hyper_analysis = extractor.extract_model([latent], [side])
        for part in (analysis, hyper_analysis):  # a node reading a tensor the part lacks (the image) fails here
            onnx.checker.check_model(part)
    except Exception as exc:  # onnx raises plain exceptions for a graph it cannot cut there
        log.info("%s: not cut for tiles (%s)", path, exc)
        return None
    return analysis.SerializeToString(), hyper_analysis.SerializeToString()
