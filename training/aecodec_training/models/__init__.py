"""The networks: plain nn.Modules with their config dataclasses, all exposing encode(x) and decode(z).

Nothing here imports training, tasks, export or ONNX code; ``registry.py`` names them and pairs each with
its task.
"""

from .base import Autoencoder, Graph, Part
from .codec import GDN, CodecConfig, RDCodec
from .conv import ConvAutoencoder, ConvConfig
from .conv_vae import ConvVAE, ConvVAEConfig
from .denoiser import Denoiser, DenoiserConfig, LevelDenoiser
from .denoiser_unet import UNetDenoiser, UNetDenoiserConfig
from .gained import GainedConfig, GainedHyperpriorCodec
from .hyperprior import HyperpriorCodec, HyperpriorConfig
from .mlp import MLPAutoencoder, MLPConfig
from .pca import PCA, PCAConfig
from .prior import FactorizedPrior
from .summary import param_count, summarize
from .vae import VAE, GaussianVAE, VAEConfig

__all__ = [
    "GDN",
    "PCA",
    "VAE",
    "Autoencoder",
    "CodecConfig",
    "ConvAutoencoder",
    "ConvConfig",
    "ConvVAE",
    "ConvVAEConfig",
    "Denoiser",
    "DenoiserConfig",
    "FactorizedPrior",
    "GainedConfig",
    "GainedHyperpriorCodec",
    "GaussianVAE",
    "Graph",
    "HyperpriorCodec",
    "HyperpriorConfig",
    "LevelDenoiser",
    "MLPAutoencoder",
    "MLPConfig",
    "PCAConfig",
    "Part",
    "RDCodec",
    "UNetDenoiser",
    "UNetDenoiserConfig",
    "VAEConfig",
    "param_count",
    "summarize",
]
