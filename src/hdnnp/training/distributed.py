"""Data-parallel training across processes with ``torch.distributed``.

Launch with ``hdnnp train CONFIG --nproc N`` (one machine) or with ``torchrun`` directly (several machines; see
``docs/train.md``). Every process reads all structures (cheap) and splits each set into contiguous shards, one per
rank; each rank computes and caches the descriptors of its shard only, so descriptor memory per rank falls as
1/N. What the optimisers need from the whole set is summed across ranks:

* symmetry-function statistics (scaling, degenerate functions): counts, minima, maxima, sums;
* Adam and L-BFGS: the loss terms (sums of squared residuals over the global counts) and their gradients;
* Levenberg–Marquardt: the Gauss–Newton matrix JᵀJ, the gradient Jᵀr and the full-set loss; the random force atoms
  and stress structures of an iteration are drawn from the global set with one generator all ranks share, so a run
  takes the same steps with any number of ranks (to the rounding of the sums);
* predictions for the error tables, gathered in structure order.

Weights, optimiser state and the random generator are identical on every rank, so a checkpoint written by rank 0
resumes with any number of ranks. Backends: gloo on the CPU, NCCL on CUDA devices.
"""
from __future__ import annotations

import os

import numpy as np
import torch

__all__ = ["Dist", "SINGLE"]


class Dist:
    """The process group a run trains in. With one process (``world == 1``) every collective is a no-op."""

    def __init__(self, rank: int = 0, world: int = 1, local_world: int = 1, backend: str | None = None):
        self.rank, self.world, self.local_world, self.backend = rank, world, local_world, backend

    @classmethod
    def from_env(cls, device: torch.device | None = None) -> "Dist":
        """The group torchrun describes in the environment (WORLD_SIZE, RANK, MASTER_ADDR, ...), or one process."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch.distributed as td
        if not td.is_initialized():
            backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
            td.init_process_group(backend)
        local = int(os.environ.get("LOCAL_WORLD_SIZE", str(td.get_world_size())))
        return cls(td.get_rank(), td.get_world_size(), local, td.get_backend())

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.world > 1

    def shard(self, n: int) -> tuple[int, int]:
        """This rank's contiguous share [lo, hi) of n items (sizes differ by at most one)."""
        return n * self.rank // self.world, n * (self.rank + 1) // self.world

    def _device(self, t: torch.Tensor) -> torch.Tensor:
        if self.backend == "nccl" and t.device.type != "cuda":
            return t.to(f"cuda:{torch.cuda.current_device()}")
        return t

    def _reduce(self, t: torch.Tensor, op) -> torch.Tensor:
        import torch.distributed as td
        x = self._device(t.contiguous())
        td.all_reduce(x, op=op)
        if x is not t:
            t.copy_(x.to(t.device))
        return t

    def sum_(self, t: torch.Tensor) -> torch.Tensor:
        """Sum tensor ``t`` over the ranks, in place; returns it."""
        if self.world == 1:
            return t
        import torch.distributed as td
        return self._reduce(t, td.ReduceOp.SUM)

    def sum(self, x):
        """Sum a number or numpy array over the ranks (float64)."""
        if self.world == 1:
            return x
        t = torch.as_tensor(np.asarray(x, dtype=np.float64)).clone()
        self.sum_(t)
        return t.numpy() if np.ndim(x) else float(t)

    def min(self, x: np.ndarray) -> np.ndarray:
        if self.world == 1:
            return x
        import torch.distributed as td
        t = torch.as_tensor(np.asarray(x, dtype=np.float64)).clone()
        return self._reduce(t, td.ReduceOp.MIN).numpy()

    def max(self, x: np.ndarray) -> np.ndarray:
        if self.world == 1:
            return x
        import torch.distributed as td
        t = torch.as_tensor(np.asarray(x, dtype=np.float64)).clone()
        return self._reduce(t, td.ReduceOp.MAX).numpy()

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every rank (any picklable object: only between the processes of one run)."""
        if self.world == 1:
            return obj
        import torch.distributed as td
        box = [obj]
        td.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj) -> list:
        """Every rank's ``obj``, in rank order, on every rank."""
        if self.world == 1:
            return [obj]
        import torch.distributed as td
        out = [None] * self.world
        td.all_gather_object(out, obj)
        return out

    def sum_grads(self, params) -> None:
        """Sum the parameters' gradients over the ranks (one flat all-reduce)."""
        if self.world == 1:
            return
        gs = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in gs])
        self.sum_(flat)
        k = 0
        for p, g in zip(params, gs):
            n = p.numel()
            p.grad = flat[k:k + n].view_as(p).clone()
            k += n

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as td
            td.barrier()


SINGLE = Dist()
