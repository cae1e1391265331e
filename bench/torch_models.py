#!/usr/bin/env python3
"""torch_models.py: the whole-model jobs of bench/bench_models.sh done by PyTorch on the CPU, so that the script can
lay them next to relstab's. One subcommand per job:

  train-lenet  one epoch of LeNet on FashionMNIST (Debian's gz IDX files read with gzip + numpy, (x - 0.5) / 0.5,
               batch 128, shuffled, SGD lr 0.05 momentum 0.9, weight decay 5e-4 on the weights with 2+ dimensions
               only, as relstab train), then the test set evaluated at batch 500 (relstab's --test-batch default).
               Prints the training images per second (the epoch's training loop only, as relstab's log.csv) and the
               epoch's wall time (training + test).
  steps        training steps of VGG11 and ResNet18 on random 3x32x32 inputs (batch 128, SGD momentum 0.9, weight
               decay 5e-4 on weights), in channels-last (path "torch") and NCHW (path "torch_nchw"); the fastest and
               the median step, in bench_models.c's line format.
  measure      D, G, R at every node by the reference estimator (SPEC 1.2) on the exact inputs relstab used
               (`relstab measure ... --dump DIR`: probe.npy, deformed.npy, noisy.npy): per-image numerators averaged
               over the P images, the denominator torch.cdist(o, o).pow(2).mean() + 1e-10 over the clean outputs,
               every node's output taken by a forward hook. Only the network passes and the estimator are timed.
               --deno moments replaces cdist by the exact O(P N) identity (cdist is a P x P x N matrix product,
               slow where torch's BLAS is slow: Debian's torch calls the reference BLAS).
               With --weights (a safetensors file) and --csv (relstab's --out), prints the largest relative
               difference of D, G and R between the two over the nodes both have.
  save-weights writes a model's PyTorch initialisation as safetensors, for `relstab measure --weights`.
  diffeo       deforms N random images of 1x28x28 and of 3x32x32 (batches of 1000) by the max-entropy field of
               relstab's rs_diffeo_batch: coefficients C_ab ~ N(0, 1/(a^2 + b^2)) on the modes a^2 + b^2 <= c^2 + c,
               dx = n sqrt(T) S C^0 S^T, dy likewise (S_ya = sin(a pi y / (n - 1))), T = 4 delta^2 / (pi n^2 ln c),
               then a bilinear remap from the floor/ceil neighbours of the clamped source (x - dx, y - dy). Two
               batched float32 implementations: "gather" (index arithmetic, as the papers' code does it per image)
               and "grid_sample" (torch.nn.functional.grid_sample, align_corners=True); bench_diffeo.c's line format.

The models are those of tests/fixtures/make_fixtures.py (the PyTorch reference architectures). LeNet's functional ops
are modules here, named as torch.fx names them (relu, max_pool2d, ..., view), so that hooks see every node; the
state_dict is unchanged. safetensors files are read and written with struct + json + numpy (the safetensors package
is not needed). A benchmark only: nothing here is part of the build or of the tests.
"""
import argparse
import ctypes
import csv
import gzip
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ------------------------------------------------------------------------------------------------ models


class LeNet(nn.Module):
    def __init__(self, channels=1, classes=10):
        super().__init__()
        side = 5 if channels == 3 else 4
        self.conv1 = nn.Conv2d(channels, 6, 5)
        self.relu = nn.ReLU()
        self.max_pool2d = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.relu_1 = nn.ReLU()
        self.max_pool2d_1 = nn.MaxPool2d(2)
        self.view = nn.Flatten()
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.relu_2 = nn.ReLU()
        self.fc2 = nn.Linear(120, 84)
        self.relu_3 = nn.ReLU()
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        for m in self.children():  # registration order is the node order
            x = m(x)
        return x


class VGG(nn.Module):
    CFG = {11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]}

    def __init__(self, depth=11, channels=3, classes=10, bn=False):
        super().__init__()
        seq = [nn.ZeroPad2d(2)] if channels == 1 else []
        c = channels
        for v in self.CFG[depth]:
            if v == "M":
                seq.append(nn.MaxPool2d(2, 2))
                continue
            seq += [nn.Conv2d(c, v, 3, padding=1)] + ([nn.BatchNorm2d(v)] if bn else []) + [nn.ReLU()]
            c = v
        seq.append(nn.AvgPool2d(1, 1))
        self.features = nn.Sequential(*seq)
        self.view = nn.Flatten()
        self.classifier = nn.Linear(512, classes)

    def forward(self, x):
        return self.classifier(self.view(self.features(x)))


class Basic(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, channels=3, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        cin = 64
        for s in range(4):
            blocks = []
            for b in range(2):
                blocks.append(Basic(cin, 64 << s, 2 if (b == 0 and s > 0) else 1))
                cin = 64 << s
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*blocks))
        self.linear = nn.Linear(512, classes)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.layer4(self.layer3(self.layer2(self.layer1(y))))
        return self.linear(F.avg_pool2d(y, 4).flatten(1))


def make_model(name, channels):
    if name == "lenet":
        return LeNet(channels)
    if name == "vgg11":
        return VGG(11, channels)
    if name == "vgg11bn":
        return VGG(11, channels, bn=True)
    if name == "resnet18":
        return ResNet18(channels)
    raise SystemExit(f"torch_models.py: unknown model '{name}' (lenet, vgg11, vgg11bn, resnet18)")


def sgd(model, lr):
    """SGD with momentum 0.9 and weight decay 5e-4 on parameters with 2+ dimensions only (relstab's default)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": rest, "weight_decay": 0.0}],
                           lr=lr, momentum=0.9)


# ------------------------------------------------------------------------------------------------ files

ST_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8}


def read_safetensors(path):
    """{name: numpy array} of a safetensors file (8-byte little-endian header length, JSON header, data)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise SystemExit(f"torch_models.py: {path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], dtype=ST_DTYPES[e["dtype"]]).reshape(e["shape"]).copy()
    return out


def write_safetensors(path, tensors):
    """Writes {name: array} as safetensors (float arrays as F32, integer ones as I64): header padded with spaces to 8
    bytes, tensors in order."""
    header, chunks, at = {}, [], 0
    for name, a in tensors.items():
        shape = list(np.shape(a))  # before ascontiguousarray, which turns a 0-d array (num_batches_tracked) into 1-d
        integer = np.issubdtype(np.asarray(a).dtype, np.integer)  # batch norm's counter: I64, as PyTorch keeps it
        a = np.ascontiguousarray(a, dtype="<i8" if integer else np.float32)
        header[name] = {"dtype": "I64" if integer else "F32", "shape": shape, "data_offsets": [at, at + a.nbytes]}
        chunks.append(a.tobytes())
        at += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))
    os.replace(path + ".tmp", path)


def load_weights(model, path):
    """Loads a relstab checkpoint (or any safetensors file of the same state_dict) into model."""
    st = read_safetensors(path)
    sd = model.state_dict()
    missing, extra = set(sd) - set(st), set(st) - set(sd)
    if missing or extra:
        raise SystemExit(f"torch_models.py: {path} does not match the model: missing {sorted(missing)}, "
                         f"extra {sorted(extra)}")
    model.load_state_dict({k: torch.from_numpy(v).reshape(sd[k].shape) for k, v in st.items()})


def read_idx_gz(path):
    """An IDX file (optionally gzipped) as a numpy uint8 array: big-endian magic 0x0000 08 ND, ND sizes, data."""
    with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
        buf = f.read()
    magic = struct.unpack(">I", buf[:4])[0]
    if magic >> 8 != 0x08:
        raise SystemExit(f"torch_models.py: {path}: not an unsigned-byte IDX file (magic {magic:#x})")
    nd = magic & 0xFF
    dims = struct.unpack(">" + "I" * nd, buf[4:4 + 4 * nd])
    return np.frombuffer(buf, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def fashion(data_dir, split):
    """Images (N, 1, 28, 28) normalised (x / 255 - 0.5) / 0.5, and int64 labels, of FashionMNIST's IDX files."""
    stem = "train" if split == "train" else "t10k"

    def path(kind):  # the gz file, or the uncompressed one (relstab reads both)
        p = os.path.join(data_dir, f"{stem}-{kind}-ubyte")
        return p + ".gz" if os.path.exists(p + ".gz") or not os.path.exists(p) else p

    x = read_idx_gz(path("images-idx3"))
    y = read_idx_gz(path("labels-idx1"))
    x = (torch.from_numpy(x.astype(np.float32) / 255.0) - 0.5) / 0.5
    return x.unsqueeze(1).contiguous(), torch.from_numpy(y.astype(np.int64))


# ------------------------------------------------------------------------------------------------ jobs


def cmd_train_lenet(a):
    t0 = time.perf_counter()
    xtr, ytr = fashion(a.data, "train")
    xte, yte = fashion(a.data, "test")
    load_s = time.perf_counter() - t0
    torch.manual_seed(a.seed)
    model = LeNet(1)
    opt = sgd(model, 0.05)
    n = xtr.shape[0]
    t0 = time.perf_counter()
    model.train()
    order = torch.randperm(n)
    loss_sum = 0.0
    for at in range(0, n, a.batch):
        idx = order[at:at + a.batch]
        x, y = xtr[idx], ytr[idx]
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_sum += loss.item() * len(idx)
    train_s = time.perf_counter() - t0
    model.eval()
    wrong = 0
    with torch.no_grad():
        for at in range(0, xte.shape[0], 500):
            wrong += (model(xte[at:at + 500]).argmax(1) != yte[at:at + 500]).sum().item()
    epoch_s = time.perf_counter() - t0
    print(f"# torch_models train-lenet: {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"lenet_train images_per_s {n / train_s:.1f} epoch_s {epoch_s:.3f} train_loss {loss_sum / n:.4f} "
          f"test_err {wrong / xte.shape[0]:.4f} load_s {load_s:.3f}")


def time_steps(step, warmup, steps):
    for _ in range(warmup):
        step()
    t, c = [], []
    for _ in range(steps):
        s, sc = time.perf_counter(), time.process_time()
        step()
        t.append(1e3 * (time.perf_counter() - s))
        c.append(1e3 * (time.process_time() - sc))
    time_steps.cpu_ms = min(c)
    t.sort()
    mid = len(t) // 2
    return t[0], (t[mid] if len(t) % 2 else 0.5 * (t[mid - 1] + t[mid]))


# forward FLOPs per image (2 x multiply-adds of conv and linear layers), as `relstab info MODEL` prints them
FLOPS = {"vgg11": 305_539_072.0, "vgg11bn": 305_539_072.0, "resnet18": 1_110_845_440.0}


def cmd_steps(a):
    print(f"# torch_models steps: batch {a.batch}, {torch.get_num_threads()} threads, {a.warmup} warm-up + "
          f"{a.steps} timed steps, torch {torch.__version__}, mkldnn {torch.backends.mkldnn.is_available()}")
    for name in ("vgg11", "vgg11bn", "resnet18"):
        if a.only not in name:
            continue
        for cl, path in ((True, "torch"), (False, "torch_nchw")):
            torch.manual_seed(0)
            fmt = torch.channels_last if cl else torch.contiguous_format
            model = make_model(name, 3).to(memory_format=fmt).train()
            x = torch.randn(a.batch, 3, 32, 32).contiguous(memory_format=fmt)
            y = torch.randint(0, 10, (a.batch,))
            opt = sgd(model, 0.01)

            def step():
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()

            best, median = time_steps(step, a.warmup, a.steps)
            flops = 3.0 * FLOPS[name] * a.batch
            print(f"{name:<12} {'step':<6} {path:<12} {best:10.1f} {median:10.1f} {a.batch / (best * 1e-3):10.1f} "
                  f"{flops / (best * 1e-3) * 1e-9:8.1f} {time_steps.cpu_ms:10.1f}", flush=True)


def leaf_modules(model):
    return [(n, m) for n, m in model.named_modules() if n and not list(m.children())]


def measure_once(model, nodes, x0, x1, x2, batch, deno_rule):
    """D, G, R per node by the reference estimator; returns ({node: (D, G, R)}, forward seconds, estimator seconds).
    The perturbed outputs are compared with the clean ones batch by batch (the numerator is a sum over images, so
    this is the reference's value). The denominator, the mean over all P^2 ordered pairs (diagonal included) of
    ||o_p - o_q||^2: "cdist" is the reference's torch.cdist(o, o).pow(2).mean() on the clean outputs of all P images,
    O(P^2 N); "moments" the exact identity 2 (mean_p ||o_p||^2 - ||mean_p o_p||^2), O(P N), its sums accumulated
    batch by batch in float64 whatever the run's dtype (a difference of two large terms: float32 would lose digits)."""
    outs = {}
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: outs.__setitem__(n, o)) for n, m in nodes]
    names = [n for n, _ in nodes]
    P = x0.shape[0]
    t_fwd = t_est = 0.0
    clean = {n: [] for n in names}  # per batch: (b, N)
    sq = {n: 0.0 for n in names}    # moments: sum_p ||o_p||^2
    sv = {}                         # moments: sum_p o_p, (N) float64
    with torch.no_grad():
        for at in range(0, P, batch):
            s = time.perf_counter()
            model(x0[at:at + batch])
            t_fwd += time.perf_counter() - s
            s = time.perf_counter()
            for n in names:
                o = outs[n].reshape(outs[n].shape[0], -1)
                clean[n].append(o)
                if deno_rule == "moments":
                    od = o.double()
                    sq[n] += od.pow(2).sum().item()
                    sv[n] = od.sum(0) + sv[n] if n in sv else od.sum(0)
            t_est += time.perf_counter() - s
        num = {}
        for key, xs in (("D", x1), ("G", x2)):
            acc = {n: 0.0 for n in names}
            for i, at in enumerate(range(0, P, batch)):
                s = time.perf_counter()
                model(xs[at:at + batch])
                t_fwd += time.perf_counter() - s
                s = time.perf_counter()
                for n in names:
                    acc[n] += (outs[n].reshape(outs[n].shape[0], -1) - clean[n][i]).pow_(2).sum().item()
                t_est += time.perf_counter() - s
            num[key] = {n: v / P for n, v in acc.items()}
        s = time.perf_counter()
        res = {}
        for n in names:
            if deno_rule == "cdist":
                o = torch.cat(clean[n])
                deno = torch.cdist(o, o).pow(2).mean().item() + 1e-10
            else:
                deno = 2.0 * (sq[n] / P - (sv[n] / P).pow(2).sum().item()) + 1e-10
            d, g = num["D"][n] / deno, num["G"][n] / deno
            res[n] = (d, g, d / g)
        t_est += time.perf_counter() - s
    for h in hooks:
        h.remove()
    return res, t_fwd, t_est


def compare(res, path):
    """Largest relative difference |relstab - torch| / |torch| of D, G, R over the nodes both have."""
    with open(path, newline="") as f:
        rows = {r["node"]: r for r in csv.DictReader(f)}
    common = [n for n in res if n in rows]
    if not common:
        raise SystemExit(f"torch_models.py: no node of {path} matches the model's nodes")
    worst = {}
    for i, key in enumerate(("D", "G", "R")):
        diffs = [(abs(float(rows[n][key]) - res[n][i]) / abs(res[n][i]), n) for n in common]
        worst[key] = max(diffs)
    return worst, len(common), len(res)


def cmd_measure(a):
    dtype = {"float32": torch.float32, "float64": torch.float64}[a.dtype]
    xs = [torch.from_numpy(np.load(os.path.join(a.dump, f + ".npy"))).to(dtype)
          for f in ("probe", "deformed", "noisy")]
    torch.manual_seed(0)
    model = make_model(a.model, xs[0].shape[1])
    if a.weights:
        load_weights(model, a.weights)
    model = model.to(dtype).eval()
    nodes = leaf_modules(model)
    best = None
    for _ in range(a.repeat):
        c0 = time.process_time()
        res, t_fwd, t_est = measure_once(model, nodes, *xs, a.batch, a.deno)
        cpu = time.process_time() - c0
        if best is None or t_fwd + t_est < best[0] + best[1]:
            best = (t_fwd, t_est, cpu)
    print(f"# torch_models measure: {a.model}, P = {xs[0].shape[0]}, {len(nodes)} nodes, {a.dtype}, batch {a.batch}, "
          f"{torch.get_num_threads()} threads, denominator {a.deno}, best of {a.repeat}")
    print(f"measure_{a.model} {a.dtype} {a.deno} seconds {best[0] + best[1]:.3f} forward_s {best[0]:.3f} "
          f"estimator_s {best[1]:.3f} cpu_s {best[2]:.3f}")
    if a.csv:
        worst, ncommon, nnodes = compare(res, a.csv)
        print(f"diff_{a.model} {a.dtype} {a.deno} nodes {ncommon}/{nnodes} " + " ".join(
            f"{k} {v:.3e} {n}" for k, (v, n) in worst.items()))
        if a.verbose:
            with open(a.csv, newline="") as f:
                rows = {r["node"]: r for r in csv.DictReader(f)}
            for n, (d, g, r) in res.items():
                if n in rows:
                    print(f"#   {n:<14} D {d:.8e} ({float(rows[n]['D']):.8e})  G {g:.8e} ({float(rows[n]['G']):.8e})"
                          f"  R {r:.8e} ({float(rows[n]['R']):.8e})")


def cmd_save_weights(a):
    torch.manual_seed(a.seed)
    model = make_model(a.model, a.channels)
    write_safetensors(a.out, {k: v.numpy() for k, v in model.state_dict().items()})
    print(f"wrote {a.out}: PyTorch's initialisation of {a.model} ({a.channels} channel(s)), seed {a.seed}")


def diffeo_fields(b, n, cut, T, gen):
    """(b, 2, n, n) float32 displacement fields in pixels (dx, dy) of the max-entropy diffeomorphism."""
    k = torch.arange(1, cut + 1, dtype=torch.float32)
    r2 = k[:, None] ** 2 + k[None, :] ** 2
    amp = torch.where(r2 <= cut * cut + cut, r2.rsqrt(), torch.zeros(()))  # (c, c)
    coef = torch.randn(b, 2, cut, cut, generator=gen) * amp
    u = torch.linspace(0, 1, n)
    S = torch.sin(math.pi * u[:, None] * k[None, :])  # (n, c)
    return n * math.sqrt(T) * (S @ coef @ S.T)


def remap_gather(img, f):
    """Bilinear remap of img (b, C, n, n) at (y - dy, x - dx), clamped, from the floor/ceil neighbours."""
    b, c, n, _ = img.shape
    y, x = torch.meshgrid(torch.arange(n, dtype=torch.float32), torch.arange(n, dtype=torch.float32), indexing="ij")
    xs = (x - f[:, 0]).clamp(0, n - 1)
    ys = (y - f[:, 1]).clamp(0, n - 1)
    x0, y0 = xs.floor(), ys.floor()
    wx, wy = (xs - x0).unsqueeze(1), (ys - y0).unsqueeze(1)
    x0, y0, x1, y1 = x0.long(), y0.long(), xs.ceil().long(), ys.ceil().long()
    flat = img.reshape(b, c, n * n)

    def at(yy, xx):
        return flat.gather(2, (yy * n + xx).reshape(b, 1, n * n).expand(b, c, n * n)).reshape(b, c, n, n)

    return ((1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) + wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1)))


def remap_grid_sample(img, f):
    b, c, n, _ = img.shape
    y, x = torch.meshgrid(torch.arange(n, dtype=torch.float32), torch.arange(n, dtype=torch.float32), indexing="ij")
    xs = (x - f[:, 0]).clamp(0, n - 1) * (2.0 / (n - 1)) - 1
    ys = (y - f[:, 1]).clamp(0, n - 1) * (2.0 / (n - 1)) - 1
    return torch.nn.functional.grid_sample(img, torch.stack((xs, ys), dim=-1), mode="bilinear",
                                           padding_mode="border", align_corners=True)


def keep_freed_memory():
    """glibc malloc settings for the diffeo job: allocations up to 32 MB from the heap (not fresh mmaps) and freed
    memory kept, not returned to the kernel. Without them, each batch's temporaries (8-24 MB) are mapped and
    unmapped again, and their page faults (1.7 million in one run, about 10 s of system time on this VM) were
    timed as PyTorch's work, 1.4-2.8x its compute at 2 threads. relstab allocates its buffers once."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return "default malloc"
    ok = libc.mallopt(-3, 32 << 20) and libc.mallopt(-1, 1 << 30) and libc.mallopt(-2, 64 << 20)
    return "malloc keeps freed memory" if ok else "default malloc"


def cmd_diffeo(a):
    gen = torch.Generator().manual_seed(0)
    note = keep_freed_memory()
    print(f"# torch_models diffeo: {a.n} images per shape, c = {a.cut}, delta = {a.delta}, bilinear, "
          f"{torch.get_num_threads()} threads, best of {a.repeat}, {note}")
    for c, n in ((1, 28), (3, 32)):
        T = 4 * a.delta ** 2 / (math.pi * n * n * math.log(a.cut))
        imgs = torch.rand(1000, c, n, n, generator=gen)
        for path, remap in (("gather", remap_gather), ("grid_sample", remap_grid_sample)):
            best = (1e300, 1e300)
            for _ in range(a.repeat):
                w0, c0 = time.perf_counter(), time.process_time()
                with torch.no_grad():
                    for at in range(0, a.n, 1000):
                        b = min(1000, a.n - at)
                        remap(imgs[:b], diffeo_fields(b, n, a.cut, T, gen))
                best = min(best[0], time.perf_counter() - w0), min(best[1], time.process_time() - c0)
            print(f"diffeo_{c}x{n}x{n:<7} {1e3 * best[0]:10.1f} {1e3 * best[1]:10.1f} {a.n / best[0]:12.0f} {path}")
        if a.parts:  # the same work split: the fields alone, then each remap of fixed fields (comment lines)
            fields = diffeo_fields(1000, n, a.cut, T, gen)
            jobs = (("field", lambda b: diffeo_fields(b, n, a.cut, T, gen)),
                    ("gather", lambda b: remap_gather(imgs[:b], fields[:b])),
                    ("grid_sample", lambda b: remap_grid_sample(imgs[:b], fields[:b])))
            for part, job in jobs:
                best = 1e300
                for _ in range(a.repeat):
                    w0 = time.perf_counter()
                    with torch.no_grad():
                        for at in range(0, a.n, 1000):
                            job(min(1000, a.n - at))
                    best = min(best, time.perf_counter() - w0)
                print(f"# part {c}x{n}x{n} {part:<12} {1e3 * best:10.1f} ms")


def main():
    ap = argparse.ArgumentParser(description="PyTorch CPU timings of bench/bench_models.sh's jobs")
    ap.add_argument("--threads", type=int, default=0, help="threads (0: all cores)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("train-lenet", help="one epoch of LeNet on FashionMNIST")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="directory of the gz IDX files")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("steps", help="training steps of VGG11 and ResNet18 on random 3x32x32 inputs")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--only", default="", help="run only the models whose name contains this")
    p = sub.add_parser("measure", help="D, G, R by the reference estimator on relstab's dumped inputs")
    p.add_argument("--model", required=True, help="lenet or vgg11")
    p.add_argument("--dump", required=True, help="the directory of relstab measure --dump")
    p.add_argument("--weights", help="safetensors weights (default: PyTorch's initialisation, seed 0)")
    p.add_argument("--csv", help="relstab's --out CSV to compare with")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--deno", choices=("cdist", "moments"), default="cdist",
                   help="the P^2 denominator: the reference's torch.cdist (default) or the exact O(P N) identity")
    p.add_argument("--batch", type=int, default=100, help="images per forward (relstab's default)")
    p.add_argument("--repeat", type=int, default=1, help="report the fastest of this many runs")
    p.add_argument("--verbose", action="store_true", help="print every node's values")
    p = sub.add_parser("diffeo", help="max-entropy diffeomorphisms + bilinear remap of random images")
    p.add_argument("--n", type=int, default=10000, help="images per shape")
    p.add_argument("--cut", type=int, default=3)
    p.add_argument("--delta", type=float, default=1.0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--parts", action="store_true", help="also time the fields alone and each remap alone")
    p = sub.add_parser("save-weights", help="write PyTorch's initialisation as safetensors")
    p.add_argument("--model", required=True)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    a = ap.parse_args()
    for k in ("batch", "steps", "repeat", "n"):
        if getattr(a, k, 1) <= 0:
            ap.error(f"--{k} must be positive")
    torch.set_num_threads(a.threads if a.threads > 0 else os.cpu_count())
    {"train-lenet": cmd_train_lenet, "steps": cmd_steps, "measure": cmd_measure,
     "save-weights": cmd_save_weights, "diffeo": cmd_diffeo}[a.cmd](a)


if __name__ == "__main__":
    main()
