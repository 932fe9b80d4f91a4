"""Run by tests/test_distributed.py, as one process or as the ranks of a torchrun group: the gradient of the
training loss (Adam's and LM's) and one Levenberg–Marquardt step, written by rank 0 to an npz file."""
from __future__ import annotations

import sys

import numpy as np
import torch

from hdnnp.training import load_config
from hdnnp.training.trainer import Trainer


def main() -> None:
    cfg = load_config(sys.argv[1])
    t = Trainer(cfg, log=lambda *a, **k: None)
    t.prepare()
    t.make_optimizer()
    lm = t.opt
    loss, grad = lm.full_loss(grad=True)
    for p in t.params:
        p.grad = None
    if t.dist.parallel:
        t.global_loss(t.batch("train")).backward()
        t.dist.sum_grads(t.params)
    else:
        t.loss(t.batch("train"))[0].backward()
    adam_grad = torch.cat([p.grad.reshape(-1) for p in t.params])
    lm.step(t.gen)
    lm.step(t.gen)
    errors = t.errors("train")["force_rmse"]          # every rank takes part in the gather
    if t.dist.main:
        np.savez(sys.argv[2], loss=loss, grad=grad.numpy(), adam_grad=adam_grad.detach().numpy(),
                 w=lm._get_w().numpy(), mu=lm.mu, errors=errors)
    if t.dist.parallel:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
