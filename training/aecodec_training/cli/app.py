"""Typer commands. Each is a thin layer over the library so the same code runs under tests and torchrun."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from rich.console import Console

from .. import distributed as D
from ..config import TrainConfig, command_line
from ..models import GaussianVAE
from .summary import print_metrics, print_summary

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()

Opt = typer.Option


def _lambdas(text: str) -> list[float]:
    """``--lambdas``: positive numbers, ascending (one level each), or a usage error that says so."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated numbers, not {text!r}", param_hint="--lambdas") from None
    if len(values) < 2 or any(v <= 0 for v in values) or values != sorted(set(values)):
        raise typer.BadParameter(
            f"expected two or more positive lambdas in ascending order, not {text!r}", param_hint="--lambdas"
        )
    return values


def _model_list() -> str:
    from ..registry import model_names, recipe

    return "; ".join(f"{n} ({recipe(n).task.name})" for n in model_names())


@app.command()
def train(
    model: Annotated[str, typer.Argument(help="a registered model and its task: " + _model_list())],
    dataset: Annotated[
        str | None, Opt(help="mnist | fashion-mnist | cifar10 | npz | images | auto | photos (default: the model's)")
    ] = None,
    data_dir: Annotated[
        str | None,
        Opt(help="folder holding the dataset files (photos: several, comma-separated; default data/<dataset>)"),
    ] = None,
    out: Annotated[
        Path | None, Opt(help="run folder for checkpoint.pt, train.log, metrics.json (default runs/<model>)")
    ] = None,
    epochs: Annotated[int | None, Opt(help="total epochs (default: the model's recipe)")] = None,
    batch_size: Annotated[int | None, Opt(help="batch size per process")] = None,
    lr: Annotated[float | None, Opt(help="Adam learning rate")] = None,
    seed: Annotated[int, Opt(help="seed for weights, data order and noise")] = 0,
    device: Annotated[str, Opt(help="auto (CUDA when present) | cpu | cuda | cuda:N")] = "auto",
    threads: Annotated[int, Opt(help="torch CPU threads (0: torch's default)")] = 0,
    precision: Annotated[
        str, Opt(help="fp32 | bf16 (autocast of the forward pass; rates and losses in fp32)")
    ] = "fp32",
    compile_: Annotated[
        bool,
        Opt("--compile/--no-compile", help="torch.compile the training step (needs a C++ compiler; ~30 s to start)"),
    ] = False,
    download: Annotated[bool, Opt(help="download official files first (md5-checked)")] = False,
    resume: Annotated[bool, Opt("--resume/--fresh", help="continue from the run folder's checkpoint")] = True,
    progress: Annotated[bool, Opt(help="show a progress bar")] = True,
    minutes: Annotated[float, Opt(help="wall-clock budget of training, resumable; a larger one extends a run")] = 0.0,
    clip: Annotated[float | None, Opt(help="gradient-norm clip; skips non-finite steps (default: recipe)")] = None,
    schedule: Annotated[str | None, Opt(help="step (lr x0.2 at --decay-at) | cosine (default: recipe)")] = None,
    decay_at: Annotated[float | None, Opt(help="share of the run after which lr x0.2 (default: recipe)")] = None,
    warmup_steps: Annotated[
        int, Opt(min=0, help="lr rises linearly over this run's first N steps (fine-tuning with --init: a fresh Adam)")
    ] = 0,
    checkpoint_minutes: Annotated[float, Opt(help="also checkpoint within an epoch this often")] = 5.0,
    ema: Annotated[
        float, Opt(help="keep a moving average of the weights with this decay (0: none); it is validated and exported")
    ] = 0.0,
    init: Annotated[Path | None, Opt(help="start from this run's weights (or a shipped codec folder's, grown)")] = None,
    eval_limit: Annotated[int, Opt(help="per-epoch validation on the first N test images (0: all)")] = 0,
    crop: Annotated[int, Opt(help="photos dataset: training crop side (0: its default, 128)")] = 0,
    noise_sigma: Annotated[float | None, Opt(help="denoising: Gaussian sigma on the input scale")] = None,
    patches: Annotated[int | None, Opt(help="denoising: black patches per image")] = None,
    patch_size: Annotated[int | None, Opt(help="denoising: patch side in pixels")] = None,
    l1_weight: Annotated[float | None, Opt(help="sparse: weight of the L1 penalty on the latent")] = None,
    flip: Annotated[bool | None, Opt("--flip/--no-flip", help="augmentation: random horizontal flips")] = None,
    shift: Annotated[int | None, Opt(help="augmentation: random shift by up to N pixels")] = None,
    lam: Annotated[float | None, Opt(help="rate-distortion: loss = lam * 255^2 * MSE + bits")] = None,
    lambdas: Annotated[
        str | None, Opt(help="variable-rate codec: its levels' lambdas, comma-separated, ascending (default: model's)")
    ] = None,
    decoder_only: Annotated[
        bool, Opt(help="rate-distortion: fine-tune the decoder alone (with --init); payloads stay the same")
    ] = False,
    k: Annotated[int | None, Opt(help="variational: importance samples in the bound (1: ELBO)")] = None,
    binarize: Annotated[bool | None, Opt("--binarize/--no-binarize", help="variational: binarized digits")] = None,
    warmup_epochs: Annotated[float | None, Opt(help="variational: KL weight 0 -> 1 over these epochs")] = None,
    patch: Annotated[int | None, Opt(help="photo denoising: photo patch side")] = None,
    cifar_dir: Annotated[str | None, Opt(help="photo denoising: CIFAR-10 npz folder")] = None,
    mnist_dir: Annotated[str | None, Opt(help="photo denoising: MNIST IDX folder")] = None,
    latent_dim: Annotated[int | None, Opt(help="vae: latent dimension")] = None,
    components: Annotated[int | None, Opt(help="pca: number of components")] = None,
    hidden: Annotated[int | None, Opt(help="codec, vae: hidden channels/units")] = None,
    latent: Annotated[int | None, Opt(help="codec: latent channels")] = None,
    layers: Annotated[int | None, Opt(help="mlp-vae: hidden layers per side")] = None,
    act: Annotated[str | None, Opt(help="mlp-vae: relu | elu | tanh")] = None,
    width: Annotated[int | None, Opt(help="denoisers: convolution width (denoiser-unet: of its first level)")] = None,
    depth: Annotated[int | None, Opt(help="denoiser, denoiser-dncnn: convolutions")] = None,
    levels: Annotated[int | None, Opt(help="denoiser-unet: resolutions (1/2 ... 1/2^levels)")] = None,
    blocks: Annotated[int | None, Opt(help="denoiser-unet: residual blocks per level and side")] = None,
    max_mult: Annotated[int | None, Opt(help="denoiser-unet: widest level, in multiples of --width")] = None,
    positional: Annotated[bool | None, Opt(help="codec: one prior per latent element (fixed size only)")] = None,
    size: Annotated[str | None, Opt(help="codec: image size, auto (the data's) | any | HxW")] = None,
    image_size: Annotated[int, Opt(help="images dataset: side length to resize/crop to")] = 32,
    channels: Annotated[int, Opt(help="images dataset: 1 (grey) or 3 (RGB)")] = 3,
    fit: Annotated[str, Opt(help="images dataset: resize | crop")] = "resize",
) -> None:
    """Train any registered model through the one trainer; prints a summary and per-epoch validation (also to
    the run's train.log); resumable: the same command continues a run, a larger --minutes extends it."""
    from ..registry import recipe
    from ..trainer import Trainer

    r = recipe(model)
    ds = dataset or r.dataset
    architecture: dict[str, Any] = {
        "latent_dim": latent_dim,
        "components": components,
        "hidden": hidden,
        "latent": latent,
        "layers": layers,
        "act": act,
        "width": width,
        "depth": depth,
        "levels": levels,
        "blocks": blocks,
        "max_mult": max_mult,
        "positional": positional,
        "size": size,
        "lambdas": _lambdas(lambdas) if lambdas else None,
    }
    settings: dict[str, Any] = {
        "noise_sigma": noise_sigma,
        "patches": patches,
        "patch_size": patch_size,
        "l1_weight": l1_weight,
        "flip": flip,
        "shift": shift,
        "lam": lam,
        "decoder_only": decoder_only or None,
        "k": k,
        "binarize": binarize,
        "warmup_epochs": warmup_epochs,
        "patch": patch,
        "cifar_dir": cifar_dir,
        "mnist_dir": mnist_dir,
    }
    cfg = TrainConfig(
        model=model,
        dataset=ds,
        data_dir=str(data_dir or Path("data") / ds),
        out=str(out or Path("runs") / model),
        epochs=r.epochs if epochs is None else epochs,
        batch_size=batch_size or r.batch_size,
        lr=lr or r.lr,
        seed=seed,
        device=device,
        threads=threads,
        download=download,
        resume=resume,
        progress=progress,
        image_size=image_size,
        channels=channels,
        fit=fit,
        crop=crop,
        options={k: v for k, v in architecture.items() if v is not None},
        task={k: v for k, v in settings.items() if v is not None},
        minutes=minutes,
        clip=clip,
        decay_at=decay_at,
        schedule=schedule,
        warmup_steps=warmup_steps,
        precision=precision,
        compile=compile_,
        checkpoint_minutes=checkpoint_minutes,
        ema=ema,
        init=str(init) if init else "",
        eval_limit=eval_limit,
        command=command_line(),
    )
    ctx = D.setup(device)
    try:
        trainer = Trainer(cfg, ctx, log=console.print)
        if ctx.main:
            print_summary(console, trainer.model)
            console.print(
                f"{ctx.world} process(es) on {ctx.device}, {trainer.task.name} task, "
                f"{trainer.task.steps_per_epoch} steps per epoch, {torch.get_num_threads()} threads, {cfg.precision}"
                + (", compiled" if cfg.compile else "")
            )
        final = trainer.fit()
        if trainer.stopped:
            console.print("stopped: run the same command to resume where it stopped")
        elif ctx.main:
            print_metrics(console, f"{model}: figures after {trainer.epoch} epochs, {trainer.seconds:.1f}s", final)
    finally:
        D.teardown(ctx)


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="run folder with checkpoint.pt")],
    data_dir: Annotated[str | None, Opt(help="override the data folder recorded in the run")] = None,
    grid: Annotated[Path | None, Opt(help="also write originals vs reconstructions of 16 test images (PNG)")] = None,
    nll_k: Annotated[int, Opt(help="VAE: importance samples per digit for the test NLL (0: skip)")] = 1000,
    nll_images: Annotated[int, Opt(help="VAE: NLL on the first N test digits (0: all)")] = 0,
) -> None:
    """A trained run's final figures, as its task measures them (and a VAE's test NLL, written for export)."""
    from ..registry import make_task
    from ..trainer import load_run, run_config

    model, state = load_run(run_dir)
    cfg = run_config(state, download=False, out=str(run_dir), **({"data_dir": data_dir} if data_dir else {}))
    task = make_task(cfg, D.DistContext(device=torch.device("cpu")), model)
    metrics = task.final(model)
    if isinstance(model, GaussianVAE) and nll_k > 0:  # binarized-digit NLL (docs/vae.md); export reads nll.json
        from ..nll import report_nll

        metrics.update(report_nll(model, task.examples(10**9), run_dir, nll_k, nll_images or None))
    print_metrics(console, f"{run_dir} ({state['model_name']}, {state['epoch']} epochs)", metrics)
    if grid is not None:
        write_grid(model, task.examples(16), grid)
        console.print(f"wrote {grid}")


def write_grid(model: Any, x: torch.Tensor, path: Path) -> None:
    """Originals and reconstructions, one row each."""
    from ..plots import image_grid

    with torch.no_grad():
        rows = [x, model.reconstruct(x)]
    image_grid(rows, ["original", "reconstruction"], model.input_range, path)


@app.command()
def convert(
    old: Annotated[Path, typer.Argument(help="run folder of an earlier layout (read only)")],
    new: Annotated[Path, typer.Argument(help="new run folder; resume it with aecodec-train train ... --out NEW")],
) -> None:
    """Rewrite a run of an earlier checkpoint layout (the stand-alone photo, denoiser and VAE loops, the trainer
    before tasks) as a run the one trainer resumes, with its weights, optimiser, position and seconds."""
    from ..checkpoint import load_checkpoint, save_checkpoint
    from ..legacy import upgrade

    state = load_checkpoint(old)
    if state is None:
        raise typer.BadParameter(f"no checkpoint.pt in {old}")
    if new.resolve() == old.resolve():
        raise typer.BadParameter("write the converted run into a new folder")
    state = upgrade(state)
    state["train_config"]["out"] = str(new)
    save_checkpoint(new, state)
    console.print(
        f"{new}: {state['model_name']}, epoch {state['epoch']} step {state.get('step', 0)}, {state['seconds']:.0f}s"
    )


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="run folder with checkpoint.pt")],
    out: Annotated[Path, typer.Argument(help="model folder to write, e.g. models/mnist-ae")],
    name: Annotated[str | None, Opt(help="model name in the manifest (default: the folder name)")] = None,
    description: Annotated[str, Opt(help="manifest description")] = "",
    data_dir: Annotated[Path | None, Opt(help="override the data folder recorded in the run")] = None,
    wire_id: Annotated[
        int | None, Opt(help="codec: the id compact payloads carry (1..255, unique among served models)")
    ] = None,
    limit: Annotated[int | None, Opt(help="measure the real-path figures on the first N test images")] = None,
) -> None:
    """Export encoder/decoder ONNX + sealed manifest (onnx.checker, ONNX == PyTorch on real data), atomically."""
    from ..export import export_run

    manifest = export_run(
        run_dir, out, name or out.name, description, str(data_dir) if data_dir else None, limit, wire_id
    )
    print_metrics(console, f"{manifest.name} version {manifest.version} -> {out}", manifest.metrics)


@app.command()
def reproduce(
    data_dir: Annotated[Path, Opt(help="folder with the MNIST IDX files")] = Path("data/mnist"),
    out: Annotated[Path, Opt(help="where the table, plot and grids go")] = Path("results/reproduce"),
    epochs: Annotated[int, Opt(help="epochs per model (the report used 20)")] = 20,
    seed: Annotated[int, Opt()] = 0,
    device: Annotated[str, Opt()] = "auto",
    progress: Annotated[bool, Opt()] = True,
    fresh: Annotated[bool, Opt(help="retrain even if runs/reproduce holds finished runs")] = False,
    threads: Annotated[int, Opt(help="torch CPU threads (0: torch's default)")] = 0,
) -> None:
    """Re-run the report's four-model MNIST comparison; writes table, loss curves and reconstruction grids."""
    from ..reproduce import run_reproduce

    table = run_reproduce(
        data_dir, out, epochs, seed, device, progress, command_line(), console.print, fresh=fresh, threads=threads
    )
    console.print(table)


@app.command()
def sample(
    run_dir: Annotated[Path, typer.Argument(help="run folder of a trained mlp-vae")],
    out: Annotated[Path, typer.Argument(help="PNG to write")] = Path("vae_samples.png"),
    count: Annotated[int, Opt()] = 64,
    seed: Annotated[int, Opt()] = 0,
) -> None:
    """Generate digits from z ~ N(0, I) with a trained VAE."""
    from ..plots import image_grid
    from ..trainer import load_run

    model, _ = load_run(run_dir)
    if not hasattr(model, "sample"):
        raise typer.BadParameter(f"{run_dir} is not a VAE run")
    with torch.no_grad():
        images = model.sample(count, torch.Generator().manual_seed(seed))  # type: ignore[operator]
    image_grid([images], ["samples from N(0, I)"], model.output_range, out)
    console.print(f"wrote {out}")
