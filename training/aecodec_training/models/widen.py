"""Growing a trained hyperprior codec into a wider one that starts exactly where the trained one is.

Net2Net-style widening (Chen et al. 2016, "Net2Net: accelerating learning via knowledge transfer"), in its
zero-output form: every old channel keeps its weights; every new channel keeps the wide model's fresh random
weights on its inputs and gets zero weight into every old channel's output (convolutions and GDN's gamma
alike). So the old channels compute the same values as before, the new ones compute something and are ignored,
and the image is the trained model's. Training then finds uses for the new channels: the zero weights from
them get gradients because the new channels are active (a zero on both sides would stay zero).

The new latent channels do cost rate while training learns what to do with them; the image does not change.
"""

from __future__ import annotations

import torch

from .hyperprior import HyperpriorCodec

# the last layer of h_s emits the means of y, then their scales: two blocks of M rows each
SPLIT_OUTPUT = "h_s.4."


def widen(small: HyperpriorCodec, big: HyperpriorCodec) -> None:
    """Copy ``small``'s weights into ``big`` (the same layers, every width at least ``small``'s), in place."""
    a, b = small.config, big.config
    if (a.channels, a.mixtures, a.upsample) != (b.channels, b.mixtures, b.upsample):
        raise ValueError(f"cannot widen {small.architecture()} into {big.architecture()}: different layers")
    if b.hidden < a.hidden or b.latent < a.latent or b.side < a.side:
        raise ValueError(f"{big.architecture()} is narrower than {small.architecture()}")
    source = small.state_dict()
    m_a, m_b = a.latent, b.latent
    with torch.no_grad():
        for name, dst in big.state_dict().items():  # these tensors share storage with big's parameters
            if name not in source:  # e.g. a gained model's gains: not in a fixed-rate model
                continue
            src = source[name].to(dst.dtype)
            if name.startswith(SPLIT_OUTPUT):
                blocks = [(slice(0, m_a), slice(0, m_a)), (slice(m_b, m_b + m_a), slice(m_a, 2 * m_a))]
            else:
                blocks = [(slice(0, src.shape[0]), slice(0, src.shape[0]))]
            for to, frm in blocks:
                if src.ndim == 1:
                    dst[to] = src[frm]
                    continue
                width = src.shape[1]  # inputs (convolutions, GDN's gamma) or mixture components (z's prior)
                dst[to, :width] = src[frm]
                dst[to, width:] = 0  # an old output ignores every new input
