"""relstab.torch: D, G, R of any torch.nn.Module, the model running in PyTorch on its own device.

measure() registers forward hooks on the model's modules (named as model.named_modules() names them), runs the
clean, deformed and noisy batches of the probe images through the model, and feeds the hooked outputs to
relstab.Sensitivity. relstab draws the perturbations (relstab.diffeo, relstab.matched_noise: the same draws as
`relstab measure` for the same seed and image indices) and accumulates the statistics; PyTorch runs the forwards.
On a zoo model whose modules are named like relstab's nodes (docs/python.md), with the same weights and probe
images, the numbers are `relstab measure --weights`'s up to float32 rounding in the nets.
Importing this module needs torch; the rest of relstab does not.
"""
import math

import numpy as np
import torch

import relstab as _rs

__all__ = ["measure", "leaf_modules"]


def leaf_modules(model):
    """Names of the modules without children, in registration order (measure's nodes="all" takes these, in the
    order of their first call)."""
    return [n for n, m in model.named_modules() if n and not any(True for _ in m.children())]


def _device_dtype(model, device):
    p = next(iter(model.parameters()), None)
    if device is None:
        device = p.device if p is not None else torch.device("cpu")
    dtype = p.dtype if p is not None and p.dtype.is_floating_point else torch.float32
    return torch.device(device), dtype


def _as_numpy_images(images):
    if isinstance(images, torch.Tensor):
        images = images.detach().to("cpu")
        if images.dtype != torch.float32:
            raise TypeError("images must be float32, got %s (convert with .float())" % images.dtype)
        images = images.contiguous().numpy()
    return _rs._lib.array(images, "images", (np.float32,), ndim=4)


def _combine(per_draw):
    """Draws combined as `relstab measure --seeds K`: geometric means, and the standard error of the geometric mean
    from the spread of the logs (arithmetic mean and NaN when a draw is <= 0 or not finite)."""
    K = len(per_draw)
    out = []
    for k, first in enumerate(per_draw[0]):
        row = dict(first)
        if K > 1:
            for q in ("D", "G", "R", "D_num", "G_num", "deno"):
                v = [d[k][q] for d in per_draw]
                if all(x > 0 and math.isfinite(x) for x in v):
                    logs = [math.log(x) for x in v]
                    mu = sum(logs) / K
                    row[q] = math.exp(mu)
                    se = row[q] * math.sqrt(sum((t - mu) ** 2 for t in logs) / (K - 1) / K)
                else:
                    row[q], se = sum(v) / K, float("nan")
                if q in ("D", "G", "R"):
                    row[q + "_se"] = se
            flags = [d[k]["flag"] for d in per_draw]  # the worst over the draws, as relstab measure
            row["flag"] = "nan" if "nan" in flags else "zero_denominator" if "zero_denominator" in flags else "ok"
        out.append(row)
    return out


class _Hooks:
    """Forward hooks that copy the outputs of the chosen modules, in call order."""

    def __init__(self, model, names):
        mods = dict(model.named_modules())
        missing = [n for n in names if n not in mods]
        if missing:
            raise KeyError("the model has no module %s (named_modules(): %s)" % (
                ", ".join(map(repr, missing)), ", ".join(n for n in mods if n)))
        self.out, self.order, self.handles = {}, [], []
        for n in names:
            self.handles.append(mods[n].register_forward_hook(self._hook(n)))

    def _hook(self, name):
        def fn(module, inputs, output):
            if name in self.out:
                raise RuntimeError("module %r ran twice in one forward: its output is ambiguous; give every use its "
                                   "own module (e.g. one nn.ReLU per place) or leave it out of nodes" % name)
            if not isinstance(output, torch.Tensor):
                raise TypeError("module %r returns %s, not a tensor: leave it out of nodes" % (
                    name, type(output).__name__))
            # a copy now: an in-place op later in the forward (ReLU(inplace=True)) must not change it
            t = output.detach()
            if t.dtype not in (torch.float32, torch.float64):
                t = t.float()
            self.out[name] = t.to("cpu", copy=True).contiguous().numpy()
            self.order.append(name)
        return fn

    def run(self, model, x):
        self.out, self.order = {}, []
        model(x)
        return self.out

    def remove(self):
        for h in self.handles:
            h.remove()


def measure(model, images, nodes="all", P=500, delta=1.0, T=None, cut=3, seeds=1, batch=100, device=None,
            index=None, seed=0, interp="linear", noise="matched", estimator="mean", channel_mean=False,
            as_frame=None):
    """D, G and R of the model's modules on the first P of images.

    images: (N, C, H, W) float32 (numpy or torch), N >= P, as the model takes them (normalised). index: their
    dataset indices (default 0..N-1), which address the random draws: image index[p] gets the diffeo and the noise
    `relstab measure` gives that image. nodes: "all" (every leaf module, in call order) or a list of
    named_modules() names. seeds: K draws (repeat k), combined by geometric mean. T or delta: the diffeo size
    (delta pixels on max(H, W)). noise: "matched" (||eta|| = ||tau x - x||) or "norm=X". interp: linear, nearest,
    gaussian (then the clean images are smooth(images)). estimator: mean or median. channel_mean: measure each
    output's mean over axis 1. batch: images per forward. device: where the model runs (default: its parameters').
    Returns one dict per node (node, op = the module's class, neurons, D, G, R, D_se, G_se, R_se, D_num, G_num,
    deno, P, flag), as a pandas DataFrame when pandas is installed and as_frame is not False.
    """
    x_all = _as_numpy_images(images)
    P, batch, seeds = int(P), int(batch), int(seeds)
    if P < 1 or x_all.shape[0] < P:
        raise ValueError("P = %d probe images, but images holds %d" % (P, x_all.shape[0]))
    if batch < 1 or seeds < 1:
        raise ValueError("batch and seeds must be >= 1, got %d and %d" % (batch, seeds))
    if noise != "matched" and not (isinstance(noise, str) and noise.startswith("norm=")):
        raise ValueError("noise must be matched or norm=X, got %r" % (noise,))
    idx_all = _rs._lib.indices(index, x_all.shape[0])
    H, W = x_all.shape[2:]
    if T is None:
        T = _rs.T_of_delta(delta, max(H, W), cut)
    dev, dtype = _device_dtype(model, device)
    was_training = model.training
    model.eval()
    names = leaf_modules(model) if nodes == "all" else ([nodes] if isinstance(nodes, str) else list(nodes))
    hooks = _Hooks(model, names)
    acc, order, mods = None, None, dict(model.named_modules())
    try:
        with torch.no_grad():
            for p0 in range(0, P, batch):
                x = np.ascontiguousarray(x_all[p0:min(P, p0 + batch)])
                idx = idx_all[p0:p0 + x.shape[0]]
                clean = _rs.smooth(x) if interp == "gaussian" else x
                c_out = hooks.run(model, torch.from_numpy(clean).to(dev, dtype))
                if order is None:  # the nodes in call order; modules that never ran are an error
                    order = list(hooks.order)
                    never = [n for n in names if n not in c_out]
                    if never:
                        raise RuntimeError("module(s) %s did not run in the forward: leave them out of nodes"
                                           % ", ".join(never))
                    acc = [_rs.Sensitivity(order, estimator=estimator, channel_mean=channel_mean)
                           for _ in range(seeds)]
                for k in range(seeds):
                    xd = _rs.diffeo(x, T=T, cut=cut, interp=interp, seed=seed, index=idx, repeat=k)
                    if noise == "matched":
                        xn = _rs.matched_noise(clean, xd, seed=seed, index=idx, repeat=k)
                    else:
                        xn = _rs.noise_norm(clean, float(noise[5:]), seed=seed, index=idx, repeat=k)
                    d_out = dict(hooks.run(model, torch.from_numpy(xd).to(dev, dtype)))
                    n_out = hooks.run(model, torch.from_numpy(xn).to(dev, dtype))
                    for n in order:
                        acc[k].add(n, c_out[n], d_out[n], n_out[n])
    finally:
        hooks.remove()
        model.train(was_training)
    rows = _combine([a.result() for a in acc])
    for r in rows:
        r["op"] = type(mods[r["node"]]).__name__
    if as_frame is not False:
        try:
            import pandas
            return pandas.DataFrame(rows)
        except ImportError:
            if as_frame:
                raise
    return rows
