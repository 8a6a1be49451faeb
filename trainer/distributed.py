"""Several processes with ``torchrun`` (DDP): set-up from the environment, gathering results.

``torchrun --nproc_per_node=N -m maskgen_trainer train DATASET --out RUN`` starts N processes;
each reads RANK, WORLD_SIZE and LOCAL_RANK. NCCL on CUDA, gloo on CPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .errors import TrainerError


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    enabled: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def choose_device(name: str, info: DistInfo | None = None) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; under DDP on CUDA, this process's GPU."""
    local = info.local_rank if info and info.enabled else None
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise TrainerError(f"--device {name}: CUDA is not available on this machine")
        if local is not None:
            device = torch.device("cuda", local)
        elif device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
    return device


def init(device_name: str) -> tuple[DistInfo, torch.device]:
    """Join the process group when started by torchrun (world size > 1); pick the device."""
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) <= 1:
        return DistInfo(), choose_device(device_name)
    info = DistInfo(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]),
                    int(os.environ.get("LOCAL_RANK", 0)), True)
    device = choose_device(device_name, info)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:
        dist.init_process_group("gloo")
    return info, device


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def gather_objects(obj, info: DistInfo) -> list:
    """Every process's ``obj``, in rank order, on every process."""
    if not info.enabled:
        return [obj]
    out = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sum(values: list[float], info: DistInfo, device) -> list[float]:
    if not info.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def average_buffers(model: torch.nn.Module, info: DistInfo) -> None:
    """Average floating-point buffers (batch-norm statistics) over the processes."""
    if not info.enabled:
        return
    for buf in model.buffers():
        if buf.is_floating_point():
            dist.all_reduce(buf)
            buf /= info.world_size


def broadcast_object(obj, info: DistInfo):
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
