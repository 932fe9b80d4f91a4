"""n2p2's standard global extended Kalman filter on the flat weight vector of all element networks.

Per update with Jacobian H (n_w x m) of m measurements and error vector xi (m):
    X = P H;  A = H^T X + I/eta;  K = X A^-1;  P <- P - K X^T + q I;  w <- w + K xi
then eta <- min(eta·exp(etatau), etamax) (before the update, as n2p2 does) and
q <- max(q·exp(-qtau), qmin). P starts as I/epsilon.
"""
from __future__ import annotations

import math

import numpy as np
import torch


class KalmanFilter:
    def __init__(self, params: list[torch.nn.Parameter], *, epsilon: float, q0: float, qtau: float,
                 qmin: float, eta0: float, etatau: float, etamax: float):
        self.params = list(params)
        n = sum(p.numel() for p in self.params)
        dev = self.params[0].device
        self.P = torch.eye(n, dtype=torch.float64, device=dev) / epsilon
        self.q, self.qtau, self.qmin = float(q0), float(qtau), float(qmin)
        self.eta, self.etatau, self.etamax = float(eta0), float(etatau), float(etamax)
        self.n_updates = 0

    @property
    def size(self) -> int:
        return self.P.shape[0]

    def update(self, H: torch.Tensor, xi: torch.Tensor) -> None:
        """H: (n_w, m) Jacobian of the measurements, xi: (m,) reference minus prediction."""
        P = self.P
        X = P @ H
        A = H.T @ X
        if self.eta < self.etamax:
            self.eta = min(self.eta * math.exp(self.etatau), self.etamax) \
                if self.etamax > 0 else self.eta * math.exp(self.etatau)
        A.diagonal().add_(1.0 / self.eta)
        K = X @ torch.from_numpy(np.linalg.inv(A.cpu().numpy())).to(A.device)
        P.sub_(K @ X.T)
        P.diagonal().add_(self.q)
        dw = K @ xi
        with torch.no_grad():
            k = 0
            for p in self.params:
                n = p.numel()
                p.add_(dw[k:k + n].view_as(p))
                k += n
        if self.q > self.qmin:
            self.q = max(self.q * math.exp(-self.qtau), self.qmin)
        self.n_updates += 1

    def state_dict(self) -> dict:
        return {"P": self.P, "q": self.q, "eta": self.eta, "n_updates": self.n_updates}

    def load_state_dict(self, d: dict) -> None:
        self.P = d["P"].to(self.P.device, torch.float64).clone()
        self.q, self.eta, self.n_updates = float(d["q"]), float(d["eta"]), int(d["n_updates"])


def flat_grad(outputs, params, grad_outputs=None, batched=False, retain_graph=True) -> torch.Tensor:
    """Gradient of ``outputs`` w.r.t. ``params`` as a flat vector (or (m, n_w) when batched)."""
    gs = torch.autograd.grad(outputs, params, grad_outputs=grad_outputs, retain_graph=retain_graph,
                             is_grads_batched=batched, allow_unused=True)
    parts = []
    for g, p in zip(gs, params):
        if g is None:
            g = torch.zeros(((grad_outputs.shape[0],) if batched else ()) + p.shape,
                            dtype=p.dtype, device=p.device)
        parts.append(g.reshape(g.shape[0], -1) if batched else g.reshape(-1))
    return torch.cat(parts, dim=-1)
