"""Data-parallel training helpers: the process group that ``torchrun`` describes, sums across
ranks, and the sampler that gives each rank its share of an epoch's batches.

    torchrun --nproc_per_node=2 -m seqlabel train configs/demo.yaml --out exp/demo

Every rank runs the same loop on its own batches; gradients are averaged by DDP (gloo on CPU,
nccl on CUDA). When no process group is initialised, the helpers act as for a single process.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence, TypeVar

import torch
import torch.distributed as dist

from seqlabel.data.sampling import BucketBatchSampler
from seqlabel.errors import ConfigError, SeqlabelError

T = TypeVar("T")


@dataclass(frozen=True)
class DistEnv:
    """This process's place in a torchrun job."""

    rank: int
    world_size: int
    local_rank: int


def from_environment() -> DistEnv | None:
    """The job torchrun describes in RANK, WORLD_SIZE and LOCAL_RANK, or None for one process."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) <= 1:
        return None
    try:
        return DistEnv(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
    except (KeyError, ValueError):
        raise ConfigError("WORLD_SIZE is set but RANK / LOCAL_RANK are missing or not integers: launch "
                          "with torchrun --nproc_per_node=N -m seqlabel train ...") from None


def init(env: DistEnv, device: torch.device) -> None:
    """Join the process group (nccl for CUDA devices, gloo otherwise) unless already in one."""
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=env.rank,
                                world_size=env.world_size)


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    """True on rank 0 (and in a single process): the one that logs and writes checkpoints."""
    return rank() == 0


def all_sum(values: Sequence[float]) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (float64; the values themselves for one process)."""
    if not dist.is_initialized():
        return list(values)
    backend_cuda = dist.get_backend() == "nccl"
    tensor = torch.tensor(list(values), dtype=torch.float64,
                          device=torch.device("cuda", torch.cuda.current_device()) if backend_cuda else "cpu")
    dist.all_reduce(tensor)
    return tensor.tolist()


def gather(items: list) -> list:
    """The concatenation of every rank's ``items`` (picklable), in rank order."""
    if not dist.is_initialized():
        return items
    out: list[list] = [[] for _ in range(world_size())]
    dist.all_gather_object(out, items)
    return [item for part in out for item in part]


def on_main(what: str, action: Callable[[], T]) -> Optional[T]:
    """``action()`` on rank 0 alone (its result there, None elsewhere), and every rank stops together
    when it fails: one collective shares whether it did, rank 0 re-raises its own error and the other
    ranks raise a ``SeqlabelError`` quoting it, instead of waiting for rank 0 in the next collective
    until the backend's timeout. ``what`` says what rank 0 was doing ("saving last.pt")."""
    if not dist.is_initialized():
        return action()
    result, error = None, None
    if is_main():
        try:
            result = action()
        except Exception as e:  # every kind: the other ranks must not wait for a rank that is gone
            error = e
    if all_sum([float(error is not None)])[0] == 0:
        return result
    message = [f"{type(error).__name__}: {error}" if error is not None else None]
    dist.broadcast_object_list(message, src=0)
    if error is not None:
        raise error
    raise SeqlabelError(f"rank 0 failed while {what}, so rank {rank()} stops too; rank 0's error: {message[0]} "
                        "(its full output is above in the torchrun log)")


def shard(batches: Sequence[list[int]], rank: int, world_size: int) -> list[list[int]]:
    """Rank ``rank``'s share: batch ``s * world_size + rank`` for each global step ``s``. The last
    ``len(batches) % world_size`` batches are left out so that every rank takes the same steps."""
    steps = len(batches) // world_size
    return [list(batches[s * world_size + rank]) for s in range(steps)]


class DistributedBucketSampler:
    """A ``BucketBatchSampler`` seen by one rank: the same global batch order on every rank (same
    seed and epoch), each rank taking a disjoint share of it (``shard``)."""

    def __init__(self, sampler: BucketBatchSampler, rank: int, world_size: int) -> None:
        self.sampler = sampler
        self.rank = rank
        self.world_size = world_size

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def batches(self) -> list[list[int]]:
        return shard(self.sampler.batches(), self.rank, self.world_size)

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return len(self.batches())
