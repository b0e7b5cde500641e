"""Every shipped model's recipe, as data (CompressAI keeps its pretrained levels in ``zoo/``).

Each entry is one or more ``aecodec-train train MODEL`` runs (a later stage may start from an earlier one's
weights, ``--init``, or fine-tune a codec's decoder alone) and one ``aecodec-train export``. ``commands``
renders an entry as the commands that reproduce it with today's command line; ``aecodec-train zoo`` prints them
all. The shipped manifests record the commands as they were run, some with earlier spellings of the same
options (the stand-alone denoiser and VAE loops, ``python -m aecodec_training.codec.train``).

Wire ids (the byte a compact payload names its model by): the shipped levels use theirs below, 21-29 are
kept for the photo codec (the ``hyperprior-codec`` levels 21-24, the variable-rate ``photo-codec-vr`` 25),
and levels trained by users (``aecodec-train codec``) get ids from 32 up. A level with ``shipped=False`` is a
recipe whose model is not in models/; tests of the shipped models do not expect it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from typing import Any

PHOTO_WIRE_IDS = range(21, 30)
USER_WIRE_IDS = range(32, 256)
DATA_DIRS = {"mnist": "data/mnist", "cifar10": "data/cifar-10", "photos": "data/photos"}


@dataclass(frozen=True)
class Stage:
    """One ``aecodec-train train MODEL`` run of the entry's model."""

    run: str  # run folder under runs/
    lam: float | None  # rate-distortion stages: the trade-off; None for other families
    minutes: float  # wall-clock budget (0: by epochs)
    lr: float
    batch_size: int
    init: str = ""  # the stage (run name) whose trained weights this one starts from
    data_dirs: tuple[str, ...] = ()  # more data folders beside the level's (comma-joined into --data-dir)
    model: str = ""  # the registered model this stage trains, where it is not the level's (a grown one)
    threads: int = 1
    decoder_only: bool = False
    architecture: dict[str, Any] = field(default_factory=dict)  # hidden, latent, positional, size, ...
    settings: dict[str, Any] = field(default_factory=dict)  # epochs, flip, shift, k, ... beyond the recipe
    eval_limit: int = 500  # per-epoch validation images (0: all)

    def flags(self) -> list[str]:
        out = ["--lam", f"{self.lam:g}"] if self.lam is not None else []
        out += ["--lr", f"{self.lr:g}", "--batch-size", str(self.batch_size)]
        if self.minutes:
            out += ["--minutes", f"{self.minutes:g}"]
        if self.eval_limit:
            out += ["--eval-limit", str(self.eval_limit)]
        out += ["--threads", str(self.threads)]
        if self.init:
            out += ["--init", f"runs/{self.init}"]
        if self.decoder_only:
            out.append("--decoder-only")
        for key, value in {**self.architecture, **self.settings}.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                out.append(flag)
            elif value is False:
                out.append("--no-" + key.replace("_", "-"))
            else:
                out += [flag, str(value)]
        return out


@dataclass(frozen=True)
class Level:
    """A shipped model (a codec's quality level, or any other model): its folder name, wire id (codecs), data
    and the runs that made it."""

    name: str
    wire_id: int | None
    dataset: str
    stages: tuple[Stage, ...]
    model: str = "rd-codec"  # the registered model every stage trains
    shipped: bool = True  # False: the recipe is here, the model folder is not (yet) in models/
    data_flags: tuple[str, ...] = ()  # more data folders the model's task reads (the denoiser's)

    @property
    def lam(self) -> float | None:
        """The rate-distortion trade-off of the weights the payloads come from (the last full-model stage)."""
        return [s for s in self.stages if not s.decoder_only][-1].lam

    @property
    def architecture(self) -> dict[str, Any]:
        return self.stages[0].architecture


_MNIST = {"hidden": 32, "latent": 16, "positional": True}
_CIFAR = {"hidden": 48, "latent": 24, "size": "any"}
_CIFAR_AUG = {"flip": True, "shift": 4}
_Q2 = Stage("mnist-codec-q2", lam=3, minutes=35, lr=2e-3, batch_size=32, architecture=_MNIST)
# the photo codec: lambda per pixel (CompressAI's MSE levels); q2 is the base, the others start from its weights
_PHOTO_Q2 = Stage("photo-codec-q2", lam=0.0067, minutes=225, lr=3e-4, batch_size=8, settings={"decay_at": 0.85})


def _tune(run: str, lam: float, minutes: float, init: str, decay_at: float = 0.7) -> Stage:
    """A photo level fine-tuned from a trained one's weights (the learning rate drops to a fifth at ``decay_at``
    of the budget)."""
    return Stage(run, lam, minutes, 3e-4, 8, init=init, settings={"decay_at": decay_at})


def _high(name: str, wire_id: int, lam: float) -> Level:
    """q3 and q4: 78 minutes from the base (the learning rate at a fifth from 34 %), then 100 minutes more
    from those weights with a fresh optimiser at the full learning rate, dropping at 75 %."""
    step = _tune(f"{name}-step", lam, 78, "photo-codec-q2", decay_at=0.34)
    return _photo(name, wire_id, step, _tune(name, lam, 100, f"{name}-step", decay_at=0.75))


def _photo(name: str, wire_id: int, *stages: Stage) -> Level:
    return Level(name, wire_id, "photos", (_PHOTO_Q2, *stages), model="hyperprior-codec")


# the variable-rate photo codec: photo-codec-q2's weights grown into wider transforms with eight gain vectors and
# trained 194 minutes at a constant learning rate; from its averaged weights 18 minutes at a fifth of it; then ten
# levels (one new below, one above: their gains extrapolated from the trained ones) for two epochs of a 70-minute
# budget, the rate at a fifth again from 35 minutes; from those weights 377 minutes more at the full rate, and
# 45 minutes at a fifth of it (a twenty-fifth from 22.5 minutes); from those (read back from the model folder
# they were shipped in, z's prior fitted to its tables) 264.6 minutes at the full rate, warmed up over 500 steps
# (compiled from 197 minutes on), then resumed at half the rate to 486.5 minutes; from those, 35 at a fifth of
# the full rate (a twenty-fifth from 17.5, warmed up over 200)
_VR = {"crop": 256, "precision": "bf16", "ema": 0.999, "checkpoint_minutes": 5}
_VR_EIGHT = {"lambdas": "0.0009,0.0018,0.0035,0.0067,0.013,0.025,0.0483,0.0932"}


def _vr(run: str, minutes: float, lr: float, init: str, architecture: dict[str, Any], **settings: Any) -> Stage:
    """A stage of the variable-rate photo codec: both photo folders, 4 crops of 256, two threads."""
    return Stage(
        run,
        None,
        minutes,
        lr,
        4,
        init=init,
        data_dirs=("data/photos-more",),
        threads=2,
        architecture=architecture,
        settings={**_VR, **settings},
        eval_limit=0,
    )


def _more(minutes: float, lr: float) -> Stage:
    """The long compiled stage from the shipped weights; run again with more minutes it resumes where it stopped."""
    return _vr(
        "photo-codec-vr-more", minutes, lr, "photo-codec-vr-long-slow", {}, decay_at=0, warmup_steps=500, compile=True
    )


_PHOTO_VR = Level(
    "photo-codec-vr",
    25,
    "photos",
    (
        replace(_PHOTO_Q2, model="hyperprior-codec"),
        _vr("photo-codec-vr-grow", 193.8, 2e-4, "photo-codec-q2", _VR_EIGHT, decay_at=0),
        _vr("photo-codec-vr-slow", 18.2, 4e-5, "photo-codec-vr-grow", _VR_EIGHT, decay_at=0),
        _vr("photo-codec-vr-ten", 70, 4e-5, "photo-codec-vr-slow", {}, schedule="step", decay_at=0.5, epochs=2),
        _vr("photo-codec-vr-long", 376.9, 2e-4, "photo-codec-vr-ten", {}, decay_at=0),
        _vr("photo-codec-vr-long-slow", 45, 4e-5, "photo-codec-vr-long", {}, schedule="step", decay_at=0.5),
        _more(264.6, 2e-4),
        _more(486.5, 1e-4),  # the same run resumed (same folder) at half the rate, to 486.5 minutes in all
        _vr(
            "photo-codec-vr",
            35,
            4e-5,
            "photo-codec-vr-more",
            {},
            schedule="step",
            decay_at=0.5,
            warmup_steps=200,
            compile=True,
        ),
    ),
    model="gained-hyperprior-codec",
)


def _once(name: str, model: str, dataset: str, lr: float = 1e-3, batch_size: int = 64, **settings: Any) -> Level:
    """A model trained by one run of its recipe (the seed autoencoders)."""
    return Level(name, None, dataset, (Stage(name, None, 0, lr, batch_size, settings=settings, eval_limit=0),), model)


_VAE = {"latent_dim": 50, "hidden": 512, "layers": 2, "act": "elu"}
# the IWAE bound on binarized digits with a KL warm-up (docs/vae.md): k = 5 for 90 epochs, then k = 50
_VAE_K5 = {"epochs": 90, "k": 5, "binarize": True, "warmup_epochs": 10, "schedule": "cosine"}

LEVELS: dict[str, Level] = {
    level.name: level
    for level in (
        Level(
            "mnist-codec-q1",
            1,
            "mnist",
            (
                Stage("mnist-codec-q1", lam=0.47, minutes=65, lr=2e-3, batch_size=32, architecture=_MNIST),
                Stage(
                    "mnist-codec-q1-ft",
                    lam=0.47,
                    minutes=12,
                    lr=2e-4,
                    batch_size=32,
                    init="mnist-codec-q1",
                    decoder_only=True,
                ),
            ),
        ),
        Level("mnist-codec-q2", 2, "mnist", (_Q2,)),
        Level(
            "mnist-codec-q3",
            3,
            "mnist",
            (_Q2, Stage("mnist-codec-q3", lam=20, minutes=14, lr=1e-3, batch_size=32, init="mnist-codec-q2")),
        ),
        Level(
            "mnist-codec-q4",
            4,
            "mnist",
            (_Q2, Stage("mnist-codec-q4", lam=80, minutes=14, lr=1e-3, batch_size=32, init="mnist-codec-q2")),
        ),
        Level(
            "cifar-codec-q1",
            11,
            "cifar10",
            (
                Stage(
                    "cifar-codec-q1", lam=8, minutes=8, lr=1e-3, batch_size=16, architecture=_CIFAR, settings=_CIFAR_AUG
                ),
            ),
        ),
        Level(
            "cifar-codec-q2",
            12,
            "cifar10",
            (
                Stage(
                    "cifar-codec-q2",
                    lam=35,
                    minutes=25,
                    lr=1e-3,
                    batch_size=16,
                    architecture=_CIFAR,
                    settings=_CIFAR_AUG,
                ),
            ),
        ),
        _photo(
            "photo-codec-q1",
            21,
            _tune("photo-codec-q1-step", 0.0018, 35, "photo-codec-q2"),
            _tune("photo-codec-q1", 0.0009, 28, "photo-codec-q1-step"),
        ),
        _photo("photo-codec-q2", 22),
        _high("photo-codec-q3", 23, 0.025),
        _high("photo-codec-q4", 24, 0.0483),
        _PHOTO_VR,
        _once("mnist-ae", "mlp-reference", "mnist", epochs=20),
        _once("mnist-denoise", "mlp-denoise", "mnist", epochs=20),
        _once("mnist-sparse", "mlp-sparse", "mnist", epochs=20),
        _once("cifar-conv", "conv-cifar", "cifar10", epochs=100, lr=1e-3, batch_size=128, flip=True),
        Level(
            "mnist-vae",
            None,
            "mnist",
            (
                Stage("mnist-vae-k5", None, 0, 1e-3, 100, architecture=_VAE, settings=_VAE_K5, eval_limit=0),
                Stage(
                    "mnist-vae",
                    None,
                    0,
                    1e-3,
                    100,
                    init="mnist-vae-k5",
                    architecture=_VAE,
                    settings={**_VAE_K5, "k": 50, "epochs": 26, "warmup_epochs": 0},
                    eval_limit=0,
                ),
            ),
            model="mlp-vae",
        ),
        Level(
            "denoise-any",
            None,
            "photos",
            # the shipped weights: epoch 276 (697 training minutes; one thread, two for a while) of a run
            # budgeted 720 minutes (its cosine schedule), taken near its end
            (
                Stage(
                    "denoise-any",
                    None,
                    720,
                    3e-4,
                    8,
                    settings={"epochs": 276, "precision": "bf16", "ema": 0.999},
                    eval_limit=0,
                    data_dirs=("data/photos-more",),
                ),
            ),
            model="denoiser-unet",
            data_flags=("--cifar-dir", DATA_DIRS["cifar10"], "--mnist-dir", DATA_DIRS["mnist"]),
        ),
    )
}

SHIPPED_WIRE_IDS = frozenset(level.wire_id for level in LEVELS.values() if level.shipped and level.wire_id)


def commands(level: Level, data_dir: str | None = None) -> list[str]:
    """The exact commands that train, export and place ``level`` in models/ (from the repository root)."""
    data = data_dir or DATA_DIRS[level.dataset]
    lines = []
    for stage in level.stages:
        folders = ",".join((data, *stage.data_dirs))
        argv = ["aecodec-train", "train", stage.model or level.model, "--dataset", level.dataset, "--data-dir", folders]
        lines.append(shlex.join([*argv, *level.data_flags, "--out", f"runs/{stage.run}", *stage.flags()]))
    last = level.stages[-1].run
    export = ["aecodec-train", "export", f"runs/{last}", f"models/{level.name}"]
    if level.wire_id is not None:
        export += ["--wire-id", str(level.wire_id)]
    lines.append(shlex.join(export))
    return lines


def free_wire_ids(taken: set[int], count: int) -> list[int]:
    """``count`` wire ids for user levels, none of them in ``taken`` (ids already served) or the product's."""
    free = [i for i in USER_WIRE_IDS if i not in taken and i not in SHIPPED_WIRE_IDS]
    if len(free) < count:
        raise ValueError(f"only {len(free)} free wire ids left in {USER_WIRE_IDS.start}..{USER_WIRE_IDS.stop - 1}")
    return free[:count]
