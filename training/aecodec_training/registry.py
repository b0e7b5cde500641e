"""Every model the product trains, by name: its network (``models/``), the task it trains with (``tasks/``)
and its default recipe. ``aecodec-train train NAME`` builds both from here; a run's flags override the recipe.
This table is the only place that says which family a model belongs to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .config import TrainConfig
from .distributed import DistContext
from .models import (
    PCA,
    VAE,
    CodecConfig,
    ConvAutoencoder,
    ConvConfig,
    ConvVAE,
    ConvVAEConfig,
    Denoiser,
    DenoiserConfig,
    GainedConfig,
    GainedHyperpriorCodec,
    HyperpriorCodec,
    HyperpriorConfig,
    MLPAutoencoder,
    MLPConfig,
    PCAConfig,
    RDCodec,
    UNetDenoiser,
    UNetDenoiserConfig,
    VAEConfig,
)
from .models.base import Autoencoder
from .tasks import (
    DenoisingTask,
    PhotoDenoisingTask,
    RateDistortionTask,
    ReconstructionTask,
    Settings,
    SparseTask,
    Task,
    VariationalTask,
    make_settings,
)

BUDGET_EPOCHS = 1_000_000  # a model trained by wall clock: the budget (--minutes) ends its runs


@dataclass(frozen=True)
class Recipe:
    """Default training settings for a model (the report's, where it has them); a run's flags override them."""

    task: type[Task]
    settings: dict[str, Any] = field(default_factory=dict)  # the task's settings that differ from its defaults
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    dataset: str = "mnist"
    clip: float = 0.0
    decay_at: float = 0.0
    schedule: str = "step"  # step: lr x0.2 at decay_at | cosine: down to 5 % over the run
    image_from_data: bool = False  # channels and (``size`` option: auto | any | HxW) image size follow the data


@dataclass(frozen=True)
class Entry:
    factory: Callable[..., Autoencoder]
    recipe: Recipe
    summary: str


def _mlp(kind: str = "autoencoder", **defaults: Any) -> Callable[..., Autoencoder]:
    return lambda **kw: MLPAutoencoder(MLPConfig(**{**defaults, **kw}), kind=kind)


def _gained(**kw: Any) -> Autoencoder:
    if "lambdas" in kw:
        kw["lambdas"] = tuple(kw["lambdas"])
    return GainedHyperpriorCodec(GainedConfig(**kw))


_RECONSTRUCTION = Recipe(ReconstructionTask)
_PHOTOS: dict[str, Any] = {"dataset": "photos", "epochs": BUDGET_EPOCHS, "clip": 1.0}
_DNCNN: dict[str, Any] = {"width": 64, "depth": 17, "unshuffle": 1}  # DnCNN's depth and width, no batch norm

REGISTRY: dict[str, Entry] = {
    "mlp-reference": Entry(_mlp(), _RECONSTRUCTION, "The report's reference: 784-196-ReLU-49 | 49-196-ReLU-784-Tanh."),
    "mlp-relu-out": Entry(
        _mlp(out_act="relu"), _RECONSTRUCTION, "The report's failure case: ReLU output cannot reach [-1, 0)."
    ),
    "mlp-deep": Entry(_mlp(dims=[784, 392, 196, 98, 49]), _RECONSTRUCTION, "784-392-196-98-49, mirrored, Tanh out."),
    "mlp-narrow": Entry(_mlp(dims=[784, 156, 32]), _RECONSTRUCTION, "784-156-32, mirrored, Tanh out."),
    "mlp-denoise": Entry(
        _mlp("denoising", dims=[784, 392, 128, 64]),
        Recipe(DenoisingTask),
        "Denoising AE 784-392-128-64, mirrored: Gaussian noise (sigma on [-1, 1]) plus blacked-out patches.",
    ),
    "mlp-sparse": Entry(
        _mlp("sparse", dims=[784, 256, 128], latent_act="relu"),
        Recipe(SparseTask),
        "Sparse AE 784-256-128 with a ReLU code and an L1 penalty on it.",
    ),
    "pca": Entry(
        lambda **kw: PCA(PCAConfig(**kw)),
        Recipe(ReconstructionTask, epochs=0),
        "PCA with 49 components on the [-1, 1] scale, fitted by SVD (no epochs).",
    ),
    "mlp-vae": Entry(
        lambda **kw: VAE(VAEConfig(**kw)),
        Recipe(VariationalTask, epochs=30, batch_size=128),
        "VAE 784-400-(mu, logvar) 20 | 20-400-784 Sigmoid, Bernoulli likelihood; ELBO or IWAE (--k).",
    ),
    "conv-vae": Entry(
        lambda **kw: ConvVAE(ConvVAEConfig(**kw)),
        Recipe(VariationalTask, epochs=100, batch_size=100),
        "Conv VAE (c, 2c strided convs | transposed convs), N(0, I) prior, Bernoulli logits.",
    ),
    "conv-cifar": Entry(
        lambda **kw: ConvAutoencoder(ConvConfig(**kw)),
        Recipe(ReconstructionTask, {"loss": "bce", "flip": True}, epochs=100, batch_size=128, dataset="cifar10"),
        "Conv 3-16-4 with two max-pools | two stride-2 transposed convs, Sigmoid; BCE on [0, 1].",
    ),
    "rd-codec": Entry(
        lambda **kw: RDCodec(CodecConfig(**kw)),
        Recipe(RateDistortionTask, {"lam": 1.0}, epochs=1000, clip=5.0, decay_at=0.75, image_from_data=True),
        "Rate-distortion codec: conv/GDN transforms, latent at 1/8, factorised prior (positional when fixed-size).",
    ),
    "hyperprior-codec": Entry(
        lambda **kw: HyperpriorCodec(HyperpriorConfig(**kw)),
        Recipe(RateDistortionTask, {"lam": 0.0067}, batch_size=8, lr=3e-4, decay_at=0.8, **_PHOTOS),
        "Photo codec: conv/GDN transforms, latent at 1/16, mean-scale hyperprior with fixed Gaussian tables.",
    ),
    "gained-hyperprior-codec": Entry(
        _gained,
        Recipe(RateDistortionTask, batch_size=4, lr=1e-4, **_PHOTOS),
        "Variable-rate photo codec: the hyperprior with gain vectors, every rate from one model.",
    ),
    "denoiser": Entry(
        lambda **kw: Denoiser(DenoiserConfig(**kw)),
        Recipe(PhotoDenoisingTask, batch_size=16, lr=5e-4, schedule="cosine", **_PHOTOS),
        "Any-size denoiser (FFDNet-style) for photographs and digits, blind or told the noise level.",
    ),
    "denoiser-unet": Entry(
        lambda **kw: UNetDenoiser(UNetDenoiserConfig(**kw)),
        # 128-pixel photo patches: the U-Net sees ~200 pixels around each one, 64-pixel patches are mostly padding
        Recipe(PhotoDenoisingTask, {"patch": 128}, batch_size=8, lr=3e-4, schedule="cosine", **_PHOTOS),
        "Any-size multi-scale denoiser (DRUNet-style U-Net at 1/2..1/16), served like the denoiser.",
    ),
    "denoiser-dncnn": Entry(
        lambda **kw: Denoiser(DenoiserConfig(**{**_DNCNN, **kw})),
        Recipe(PhotoDenoisingTask, batch_size=16, lr=5e-4, schedule="cosine", **_PHOTOS),
        "Baseline: DnCNN-style 17 convolutions of width 64 at full resolution, served like the denoiser.",
    ),
}


def model_names() -> list[str]:
    return sorted(REGISTRY)


def recipe(name: str) -> Recipe:
    return _entry(name).recipe


def describe(name: str) -> str:
    return _entry(name).summary


def build_model(name: str, **options: Any) -> Autoencoder:
    """Instantiate model ``name``; options (None values dropped) override its config fields."""
    model = _entry(name).factory(**{k: v for k, v in options.items() if v is not None})
    model.name = name
    return model


def _entry(name: str) -> Entry:
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; choose one of {', '.join(model_names())}")
    return REGISTRY[name]


def resolve(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with the recipe's values where it has None (clip, decay_at, schedule)."""
    r = recipe(cfg.model)
    return replace(
        cfg,
        clip=r.clip if cfg.clip is None else cfg.clip,
        decay_at=r.decay_at if cfg.decay_at is None else cfg.decay_at,
        schedule=r.schedule if cfg.schedule is None else cfg.schedule,
    )


def task_settings(cfg: TrainConfig) -> Settings:
    """The run's task settings: the recipe's, then the run's own (an unknown setting is an error)."""
    r = recipe(cfg.model)
    return make_settings(r.task.settings_type, {**r.settings, **cfg.task}, r.task.name)


def make_task(cfg: TrainConfig, ctx: DistContext, model: Autoencoder) -> Task:
    """The model's task for this run (it loads the data)."""
    return recipe(cfg.model).task(cfg, task_settings(cfg), ctx, model)
