"""torchrun support: one process per rank, each training on its shard of the same permutation."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

CPU = torch.device("cpu")


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    device: torch.device = CPU

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Only rank 0 writes checkpoints, metrics and prints."""
        return self.rank == 0


def pick_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def setup(device: str) -> DistContext:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1); gloo on CPU, nccl on CUDA."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    dev = pick_device(device)
    if world <= 1:
        return DistContext(device=dev)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return DistContext(rank=dist.get_rank(), world=dist.get_world_size(), device=dev)


def shard(perm: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """This rank's equal-sized share of an epoch permutation (like DistributedSampler, dropping the tail)."""
    if not ctx.enabled:
        return perm
    per_rank = len(perm) // ctx.world
    return perm[ctx.rank :: ctx.world][:per_rank]


def mean_across(value: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    if ctx.enabled:
        value = value.clone()
        dist.all_reduce(value)
        value /= ctx.world
    return value


def teardown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
