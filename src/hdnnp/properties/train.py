"""Training per-atom property networks (``properties:`` in the training config).

The loss is one table of targets iterated over: per target, the mean squared residual in units of the
reference's spread per element — for tensors the isotropic part and the anisotropic components as two
terms, so that neither is drowned by the other — times the target's weight. Adam with a cosine decay
from ``lr`` to ``min_lr``. With a validation set every network (element, target, committee member) keeps the
weights of its own lowest validation error; without one the final (annealed) weights are kept. The committee
members are trained side by side on the same minibatches from different initial weights; with ``member_splits``
each member also holds out its own validation structures from the training and validation structures together
(its loss and its best epoch count only its own), so that the committee sees all of them.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..errors import InputError
from .model import Features, PropertyNetworks, Target, anisotropic, collate, isotropic

__all__ = ["targets_from_config", "fit_statistics", "train_properties", "errors", "format_errors", "predict_sets"]


def targets_from_config(props) -> list[Target]:
    return [Target(name=t.name, kind=t.kind, weight=t.weight, unit=t.unit, total_charge=t.total_charge,
                   elements=list(t.elements), qeq=t.equilibrate,
                   response=t.response, response_width=t.response_width) for t in props.targets]


def fit_statistics(targets: list[Target], feats: list[Features], elements: list[str], where: str = "training set"):
    """Per-element mean and spread of every target on the training features (in place)."""
    for t in targets:
        carriers = t.carriers(elements)
        n_with = sum(f.targets.get(t.name) is not None for f in feats)
        if n_with == 0:
            raise InputError(f"per-atom target {t.name!r}: no structure of the {where} has it (per-atom "
                             f"arrays found: {sorted({k for f in feats for k, v in f.targets.items() if v is not None})}"
                             "); check the name or label the data with a reference that computes it")
        for e, el in enumerate(elements):
            if el not in carriers:
                continue
            vals = [f.targets[t.name][f.elem == e] for f in feats if f.targets.get(t.name) is not None]
            vals = [v for v in vals if len(v)]
            if not vals:
                continue
            v = np.concatenate(vals)
            if not np.all(np.isfinite(v)):
                raise InputError(f"per-atom target {t.name!r} has non-finite values for element {el}")
            if t.kind == "scalar":
                iso = v
            else:
                iso = isotropic(v)
                t.aniso[el] = float(max(np.sqrt(np.mean(anisotropic(v) ** 2)), 1e-6))
            t.mean[el] = float(iso.mean())
            t.spread[el] = float(max(iso.std(), 1e-6))


def _atom_errors(model: PropertyNetworks, b, pred: dict, member=None) -> dict:
    """{target name: ((M, A_t) squared residuals per atom in units of the spread — for tensors the isotropic
    term plus the mean of the nine anisotropic ones —, (A_t,) element index of those atoms, (M, A_t) weights)}
    over the atoms that carry the target and have a reference value. ``member`` (M, A) bool: which atoms count
    for which committee member (per-member splits); None: all of them for every member (weights None)."""
    masks = model.masks(b)
    res = {}
    for t in model.targets:
        ref, present = b.targets[t.name]
        m = present & masks[t.name]
        if not bool(m.any()):
            continue
        w = None if member is None else member[:, m].to(torch.float64)
        elem = b.elem[m]
        sd = torch.tensor([t.spread.get(el, 1.0) for el in model.elements], dtype=torch.float64)[elem]
        p = pred[t.name][:, m]
        r = ref[m]
        if t.kind == "scalar":
            res[t.name] = (((p - r) / sd) ** 2, elem, w)
            continue
        an = torch.tensor([t.aniso.get(el, 1.0) for el in model.elements], dtype=torch.float64)[elem]
        eye = torch.eye(3, dtype=torch.float64)
        pi, ri = p.diagonal(dim1=-2, dim2=-1).mean(-1), r.diagonal(dim1=-2, dim2=-1).mean(-1)
        pd, rd = p - pi[..., None, None] * eye, r - ri[..., None, None] * eye
        res[t.name] = (((pi - ri) / sd) ** 2 + (((pd - rd) / an[:, None, None]) ** 2).mean((2, 3)), elem, w)
    return res


def _member_mean(e: torch.Tensor, w) -> torch.Tensor:
    """(M,) mean of (M, A) per-atom errors over the atoms each member counts (all where ``w`` is None)."""
    return e.mean(1) if w is None else (e * w).sum(1) / w.sum(1).clamp(min=1.0)


def _loss(model: PropertyNetworks, b, pred: dict, member=None) -> torch.Tensor:
    total = torch.zeros((), dtype=torch.float64)
    errs = _atom_errors(model, b, pred, member)
    for t in model.targets:
        if t.name in errs:
            e, _, w = errs[t.name]
            total = total + t.weight * _member_mean(e, w).sum()
    return total


class _BestNetworks:
    """Each network's weights at its lowest validation error. The networks of one element, target and committee
    member are independent of the others (where neither a total charge nor charge equilibration couples the
    elements of a target), so each keeps the epoch that suits it: with one O atom per ethanol molecule the O
    networks overfit long before the H networks stop improving. Coupled targets keep one epoch per member for all
    their elements."""

    def __init__(self, model: PropertyNetworks):
        self.model = model
        self.groups = []                               # (target index, [elements]) chosen together
        for ti, t in enumerate(model.targets):
            els = model.carriers(t)
            if t.qeq or t.total_charge or t.response:
                self.groups.append((ti, els))
            else:
                self.groups += [(ti, [el]) for el in els]
        M = model.committee
        self.err = np.full((len(self.groups), M), np.inf)
        self.epoch = np.zeros((len(self.groups), M), dtype=int)
        self.state = {}

    def update(self, epoch: int, val_batch, member=None) -> None:
        m = self.model
        with torch.no_grad():
            errs = _atom_errors(m, val_batch, m(val_batch), member)
            for g, (ti, els) in enumerate(self.groups):
                t = m.targets[ti]
                if t.name not in errs:
                    continue
                e, elem, w = errs[t.name]
                sel = torch.zeros_like(elem, dtype=torch.bool)
                for el in els:
                    sel |= elem == m.elements.index(el)
                if not bool(sel.any()):
                    continue
                per_member = _member_mean(e[:, sel], None if w is None else w[:, sel]).numpy()
                for k in np.flatnonzero(per_member < self.err[g]):
                    self.err[g, k], self.epoch[g, k] = per_member[k], epoch
                    self.state[(g, int(k))] = [p.detach()[k].clone() for p in self._params(ti, els)]

    def _params(self, ti: int, els: list[str]) -> list:
        m = self.model
        ps = []
        for el in els:
            net = m.nets[m.key(ti, el)]
            ps += list(net.W) + list(net.b)
        if m.targets[ti].qeq:
            ps += [getattr(m, f"chi0_t{ti}"), getattr(m, f"hard_t{ti}")]
        return ps

    def restore(self) -> dict:
        """Put every kept state back; {target name: {element(s): [best epoch per member]}}."""
        m = self.model
        with torch.no_grad():
            for (g, k), saved in self.state.items():
                ti, els = self.groups[g]
                for p, v in zip(self._params(ti, els), saved):
                    p[k].copy_(v)
        out = {}
        for g, (ti, els) in enumerate(self.groups):
            if any((g, k) in self.state for k in range(m.committee)):
                out.setdefault(m.targets[ti].name, {})["+".join(els)] = [int(x) for x in self.epoch[g]]
        return out


def train_properties(feats: dict[str, list[Features]], elements: list[str], n_sf: dict[str, int], props, *,
                     cutoff: float, seed: int = 1, log=print, progress=None) -> tuple[PropertyNetworks, dict]:
    """Train on ``feats['train']`` (validation/test only reported). Returns the model and a history."""
    targets = targets_from_config(props)
    M = int(props.committee)
    split = None                         # (M, S) per member: True where a pool structure trains that member
    if props.member_splits and M > 1 and feats.get("validation"):
        # every member holds out its own validation structures, drawn from training + validation, so the committee
        # as a whole learns from all of them (and its members differ by their data, not only their start)
        pool = list(feats["train"]) + list(feats["validation"])
        n_val = len(feats["validation"])
        split = np.ones((M, len(pool)), dtype=bool)
        for k in range(M):
            split[k, np.random.default_rng([int(seed), 7, k]).choice(len(pool), n_val, replace=False)] = False
        feats = {**feats, "train": pool}
        log(f"properties: every committee member holds out its own {n_val} of the {len(pool)} training and "
            "validation structures (member_splits); the validation errors reported below are the committee's "
            "on structures most members trained on")
    fit_statistics(targets, feats["train"], elements)
    model = PropertyNetworks(elements, n_sf, targets, props.hidden, props.activation, props.basis, cutoff,
                             props.committee, props.neighbour_features)
    G = {el: np.concatenate([f.G[e] for f in feats["train"]]) for e, el in enumerate(elements)}
    model.set_input_scaling(G)
    nel = len(elements)
    full = {name: collate(f, nel, targets) for name, f in feats.items() if f}
    model.set_neighbour_scaling(full["train"])
    gen = torch.Generator().manual_seed(int(seed))
    model.init_weights(gen)
    model.init_qeq(feats["train"])
    model.init_response(feats["train"])
    opt = (torch.optim.AdamW(model.parameters(), lr=props.lr, weight_decay=props.weight_decay, foreach=True)
           if props.weight_decay > 0 else torch.optim.Adam(model.parameters(), lr=props.lr, foreach=True))
    train = feats["train"]
    if split is not None:
        val_batch = full["train"]
        val_member = torch.from_numpy(~split)[:, val_batch.atom_struct]                # (M, A) held-out atoms
    else:
        val_batch, val_member = full.get("validation"), None
    epochs = props.epochs
    rng = np.random.default_rng(seed)
    hist = []
    t0 = time.perf_counter()
    bar = progress(total=epochs, desc="properties", unit="epoch") if progress else None
    best = _BestNetworks(model) if val_batch is not None else None
    epoch = 0
    while epoch < epochs:
        epoch += 1
        t_ep = time.perf_counter()
        lr = props.min_lr + 0.5 * (props.lr - props.min_lr) * (1 + math.cos(math.pi * (epoch - 1) / max(epochs, 1)))
        for g in opt.param_groups:
            g["lr"] = lr
        order = rng.permutation(len(train))
        running = 0.0
        for k in range(0, len(order), props.batch_size):
            idx = order[k:k + props.batch_size]
            b = collate([train[i] for i in idx], nel, targets)
            member = None if split is None else torch.from_numpy(split[:, idx])[:, b.atom_struct]
            opt.zero_grad()
            loss = _loss(model, b, model(b), member)
            loss.backward()
            opt.step()
            running += float(loss.detach()) * len(idx)
        row = {"epoch": epoch, "time_s": time.perf_counter() - t0, "lr": lr, "loss_train": running / len(train)}
        if val_batch is not None and (epoch % max(1, epochs // 50) == 0 or epoch == epochs):
            with torch.no_grad():       # per member on its own held-out structures, summed over members
                row["loss_validation"] = float(_loss(model, val_batch, model(val_batch), val_member))
        if best is not None and (epoch % max(1, epochs // 200) == 0 or epoch == epochs):
            best.update(epoch, val_batch, val_member)
        hist.append(row)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{row['loss_train']:.4g}")
        elif epoch == 1 or epoch % max(1, epochs // 10) == 0:
            log(f"properties: epoch {epoch}/{epochs} loss {row['loss_train']:.4g}"
                + (f" (validation {row['loss_validation']:.4g})" if "loss_validation" in row else "")
                + f", {row['time_s']:.0f} s")
        if epoch == 1 and props.time_budget:
            per = time.perf_counter() - t_ep
            fit = max(1, int(props.time_budget / max(per, 1e-6)))
            if fit < epochs:
                log(f"properties: {per:.2f} s per epoch; {fit} epochs fit the time budget of "
                    f"{props.time_budget:.0f} s (of {epochs})")
                epochs = fit
                if bar is not None:
                    bar.total = epochs
                    bar.refresh()
    if bar is not None:
        bar.close()
    chosen = best.restore() if best is not None else None
    if chosen:
        log("properties: every network keeps the weights of its lowest validation error, epochs "
            + "; ".join(f"{name} {els} {'/'.join(map(str, ep))}" for name, d in chosen.items() for els, ep in d.items()))
    return model, {"history": hist, "epochs": epochs, "wall_s": time.perf_counter() - t0, "best_epochs": chosen}


def predict_sets(model: PropertyNetworks, feats: dict[str, list[Features]], chunk: int = 64) -> dict:
    """{set: {target: (mean, std, reference, present, element index)}} as NumPy arrays."""
    nel = len(model.elements)
    out = {}
    with torch.no_grad():
        for name, fs in feats.items():
            if not fs:
                continue
            acc = {t.name: [] for t in model.targets}
            for k in range(0, len(fs), chunk):
                b = collate(fs[k:k + chunk], nel, model.targets)
                pred = model(b)
                masks = model.masks(b)
                for t in model.targets:
                    ref, present = b.targets[t.name]
                    p = pred[t.name]
                    acc[t.name].append((p.mean(0).numpy(), p.std(0, unbiased=False).numpy(), ref.numpy(),
                                        (present & masks[t.name]).numpy(), b.elem.numpy()))
            out[name] = {tn: tuple(np.concatenate([a[i] for a in parts]) for i in range(5))
                         for tn, parts in acc.items()}
    return out


def errors(model: PropertyNetworks, preds: dict) -> dict:
    """{set: {target: {element: {rmse, mae, std, rel_rmse, (tensor: tensor_rmse, iso_rmse)}}}}.
    For tensors ``rmse``/``mae``/``std``/``rel_rmse`` are those of the isotropic part (trace / 3), and
    ``tensor_rmse`` the RMSE over all nine components of the (symmetrised) tensor."""
    res = {}
    for name, per in preds.items():
        res[name] = {}
        for t in model.targets:
            mean, _, ref, present, elem = per[t.name]
            res[name][t.name] = {}
            for e, el in enumerate(model.elements):
                m = present & (elem == e)
                if not m.any():
                    continue
                p, r = mean[m], ref[m]
                d = {}
                if t.kind == "tensor":
                    d["tensor_rmse"] = float(np.sqrt(np.mean((p - r) ** 2)))
                    p, r = isotropic(p), isotropic(r)
                err = p - r
                d.update(rmse=float(np.sqrt(np.mean(err ** 2))), mae=float(np.mean(np.abs(err))),
                         std=float(np.std(r)), n=int(m.sum()))
                d["rel_rmse"] = d["rmse"] / d["std"] if d["std"] > 0 else float("nan")
                res[name][t.name][el] = d
    return res


def format_errors(table: dict, targets: list[Target]) -> str:
    lines = ["per-atom targets (tensors: isotropic part; 'tensor' = all nine components)",
             f"{'set':<11}{'target':<14}{'el':<4}{'RMSE':>11}{'MAE':>11}{'ref std':>11}{'RMSE/std':>10}"
             f"{'tensor':>11}  unit"]
    units = {t.name: t.unit for t in targets}
    for name, per in table.items():
        for tn, els in per.items():
            for el, d in els.items():
                ten = f"{d['tensor_rmse']:.4g}" if "tensor_rmse" in d else "-"
                lines.append(f"{name:<11}{tn:<14}{el:<4}{d['rmse']:>11.4g}{d['mae']:>11.4g}{d['std']:>11.4g}"
                             f"{d['rel_rmse']:>10.3f}{ten:>11}  {units.get(tn, '')}")
    return "\n".join(lines) + "\n"
