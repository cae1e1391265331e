"""relstab: the sensitivity of deep nets to diffeomorphisms and to noise (D, G and R = D/G), from Python.

A pure-Python package over relstab's shared library (ctypes + numpy, nothing to compile). It gives:
  - the perturbations: diffeo() (max-entropy diffeomorphisms, bit-identical to `relstab diffeo` and to the inputs
    of `relstab measure` for the same seed and image indices), smooth(), matched_noise(), noise_norm(), and the
    temperatures T_of_delta(), delta_of_T(), T_min(), T_max();
  - Sensitivity: the streaming D, G, R estimator over representations computed anywhere (e.g. by PyTorch);
  - Net: a relstab zoo model (build, load / save safetensors, forward with taps, measure as `relstab measure`);
  - dataset(): the datasets and the two scale-detection tasks as numpy arrays; theory(): the theory model.
relstab.torch (imported on its own, needs torch) measures any torch.nn.Module. docs/python.md has the details.
Arrays are checked before any C call; errors from C are raised as RelstabError with relstab's message.
"""
import ctypes

import numpy as np

from . import _lib
from ._lib import RelstabArgError, RelstabError, RelstabNumericError  # noqa: F401

__all__ = ["diffeo", "smooth", "matched_noise", "noise_norm", "T_of_delta", "delta_of_T", "T_min", "T_max",
           "n_modes", "Sensitivity", "Net", "Dataset", "dataset", "theory", "set_threads", "models",
           "read_safetensors", "write_safetensors", "RelstabError", "RelstabArgError", "RelstabNumericError"]

_INTERP = {"linear": 0, "bilinear": 0, "nearest": 1, "gaussian": 2}
_lib_ = _lib.lib


def set_threads(n):
    """Threads relstab's C code uses (n <= 0: every core other processes leave free, counted once per process);
    returns the number used."""
    return _lib_.rs_set_threads(int(n))


def models():
    """The zoo's model names."""
    return [s.strip() for s in _lib_.rs_model_names().decode().split(",")]


# ---------------------------------------------------------------------------------------------- temperatures
def _out_double(fn, *args):
    v = ctypes.c_double()
    _lib.check(fn(*args, ctypes.byref(v)))
    return v.value


def T_of_delta(delta, n, cut=3):
    """Temperature giving a typical displacement of delta pixels on n x n images: 4 delta^2 / (pi n^2 ln c)."""
    return _out_double(_lib_.rs_diffeo_T_of_delta, float(delta), int(n), int(cut))


def delta_of_T(T, n, cut=3):
    """Typical displacement in pixels at temperature T on n x n images: (n/2) sqrt(pi T ln c)."""
    return _out_double(_lib_.rs_diffeo_delta_of_T, float(T), int(n), int(cut))


def T_min(n, cut=3):
    """1 / (pi n^2 ln c): half a pixel of typical displacement."""
    return _out_double(_lib_.rs_diffeo_tmin, int(n), int(cut))


def T_max(cut=3):
    """4 / (pi^3 c^2 ln c): the largest temperature without overhangs."""
    return _out_double(_lib_.rs_diffeo_tmax, int(cut))


def n_modes(cut=3):
    """Number of kept modes of the displacement field for cutoff c (6 for c = 3)."""
    return int(_lib_.rs_diffeo_n_modes(int(cut)))


# ---------------------------------------------------------------------------------------------- perturbations
def _images(images, name="images"):
    a = _lib.array(images, name, (np.float32,))
    if a.ndim != 4:
        raise ValueError("%s must be (B, C, H, W), got shape %s (one image: x[None]; one channel: x[:, None])"
                         % (name, a.shape))
    return a


def diffeo(images, delta=1.0, T=None, cut=3, interp="linear", seed=0, index=None, repeat=0, fields=False):
    """Deforms each image of images (B, C, H, W) float32 by a max-entropy diffeomorphism.

    Image p gets the field of dataset index index[p] (default 0..B-1) for (seed, repeat): the same field whatever the
    batch, so the result is bit-identical to `relstab diffeo --seed S --index ...` and to the deformed.npy of
    `relstab measure --dump` (repeat = k for draw k of --seeds). The size is T, or delta pixels (T = T_of_delta(
    delta, max(H, W), cut)). interp: linear, nearest or gaussian (then compare with smooth(images), the clean
    counterpart). Returns the deformed images, and with fields=True also the fields (B, 2, H, W) (dx, dy in pixels).
    """
    x = _images(images)
    B, C, H, W = x.shape
    if interp not in _INTERP:
        raise ValueError("interp must be linear, nearest or gaussian, got %r" % (interp,))
    if T is None:
        T = T_of_delta(delta, max(H, W), cut)
    idx = _lib.indices(index, B)
    out = np.empty_like(x)
    f = np.empty((B, 2, H, W), np.float32) if fields else None
    _lib.check(_lib_.rs_diffeo_images(_lib.ptr(out), _lib.ptr(f), _lib.ptr(x), B, C, H, W, _lib.ptr(idx), float(T),
                                      int(cut), _INTERP[interp], int(seed), int(repeat)))
    return (out, f) if fields else out


def smooth(images):
    """The clean counterpart of gaussian interpolation: each image of (B, C, H, W) float32 smoothed by the same
    kernel with a zero field (what `relstab measure --interp gaussian` measures as the clean images)."""
    x = _images(images)
    out = np.empty_like(x)
    _lib.check(_lib_.rs_gaussian_smooth_batch(_lib.ptr(out), _lib.ptr(x), *x.shape))
    return out


def _pair(images, deformed):
    x = _lib.array(images, "images", (np.float32,), min_ndim=2)
    xd = _lib.array(deformed, "deformed", (np.float32,), min_ndim=2)
    if x.shape != xd.shape:
        raise ValueError("images %s and deformed %s have different shapes" % (x.shape, xd.shape))
    return x, xd


def matched_noise(images, deformed, seed=0, index=None, repeat=0, eta=False):
    """images + eta with ||eta_p|| = ||deformed_p - images_p|| per image (the noise of `relstab measure`), the
    direction drawn from (seed, index[p], repeat). images, deformed (B, ...) float32. Returns the noisy images (and
    eta with eta=True)."""
    x, xd = _pair(images, deformed)
    B, D = x.shape[0], x[0].size
    idx = _lib.indices(index, B)
    out = np.empty_like(x)
    e = np.empty_like(x) if eta else None
    _lib.check(_lib_.rs_noise_matched(_lib.ptr(out), _lib.ptr(e), _lib.ptr(x), _lib.ptr(xd), B, D, _lib.ptr(idx),
                                      int(seed), int(repeat)))
    return (out, e) if eta else out


def noise_norm(images, norm, seed=0, index=None, repeat=0):
    """images + eta with ||eta_p|| = norm for every image (`relstab measure --noise norm=X`)."""
    x = _lib.array(images, "images", (np.float32,), min_ndim=2)
    if not norm >= 0:
        raise ValueError("norm must be >= 0, got %r" % (norm,))
    B, D = x.shape[0], x[0].size
    idx = _lib.indices(index, B)
    out = np.empty_like(x)
    _lib.check(_lib_.rs_noise_norm(_lib.ptr(out), None, _lib.ptr(x), B, D, float(norm), _lib.ptr(idx), int(seed),
                                   int(repeat)))
    return out


# ---------------------------------------------------------------------------------------------- the estimator
_EST = {"mean": 0, "median": 1}
_COLUMNS = ("D", "G", "R", "D_se", "G_se", "R_se", "D_num", "G_num", "deno")


def _row(s, name):
    r = {"node": name, "neurons": int(s.neurons)}
    for c in _COLUMNS:
        r[c] = float(getattr(s, c))
    r["flag"] = _lib_.rs_sens_flag_name(s.flag).decode()  # ok, zero_denominator (R undefined), nan
    return r


class Sensitivity:
    """Streaming D, G, R per node, the estimator of `relstab measure` on representations you give.

    nodes: the node names (any strings). For each batch of probe images, in the same order for every node, call
    add(node, clean, deformed, noisy): the representations (B, ...) of the clean, deformed and noisy images
    (numpy float32 or float64, C-contiguous, same shape; any shape per image). result() gives per node D, G, R,
    their standard errors, D_num, G_num, deno, neurons and P. estimator: "mean" (streaming, the paper's) or
    "median" (holds every representation). channel_mean: measure the mean over channels, the channel axis being
    axis 1 of each batch (PyTorch's NCHW), or the last axis with channels_last=True (relstab's NHWC taps).
    """

    def __init__(self, nodes, estimator="mean", channel_mean=False, channels_last=False):
        if isinstance(nodes, str):
            nodes = [nodes]
        self.nodes = list(nodes)
        if not self.nodes:
            raise ValueError("Sensitivity needs at least one node")
        if len(set(self.nodes)) != len(self.nodes):
            raise ValueError("Sensitivity: a node name appears twice in %s" % (self.nodes,))
        if estimator not in _EST:
            raise ValueError("estimator must be mean or median, got %r" % (estimator,))
        self.estimator, self.channel_mean, self.channels_last = estimator, bool(channel_mean), bool(channels_last)
        self._index = {n: i for i, n in enumerate(self.nodes)}
        h = ctypes.c_void_p()
        _lib.check(_lib_.rs_accum_new(len(self.nodes), _EST[estimator], int(self.channel_mean), ctypes.byref(h)))
        self._h = h

    def __del__(self):
        h = getattr(self, "_h", None)
        if h and h.value:
            _lib_.rs_accum_free(h)
            self._h = None

    def add(self, node, clean, deformed, noisy):
        """Adds one batch of node's representations (the three arrays of the same images)."""
        if node not in self._index:
            raise KeyError("Sensitivity: unknown node %r (nodes: %s)" % (node, ", ".join(map(str, self.nodes))))
        arrs = [_lib.array(a, "%s (node %s)" % (w, node), (np.float32, np.float64), min_ndim=1)
                for a, w in ((clean, "clean"), (deformed, "deformed"), (noisy, "noisy"))]
        if any(a.dtype != arrs[0].dtype for a in arrs):
            raise TypeError("node %s: clean, deformed and noisy must have one dtype, got %s"
                            % (node, ", ".join(str(a.dtype) for a in arrs)))
        if any(a.shape != arrs[0].shape for a in arrs):
            raise ValueError("node %s: clean %s, deformed %s and noisy %s must have the same shape"
                             % ((node,) + tuple(a.shape for a in arrs)))
        x = arrs[0]
        n = x.shape[0]
        numel = x.size // n
        channels = 1
        if self.channel_mean:
            if x.ndim < 2:
                raise ValueError("node %s: the channel mean needs a channel axis, got shape %s" % (node, x.shape))
            channels = x.shape[-1] if self.channels_last else x.shape[1]
        _lib.check(_lib_.rs_accum_add(self._h, self._index[node], 1 if x.dtype == np.float64 else 0,
                                      _lib.ptr(arrs[0]), _lib.ptr(arrs[1]), _lib.ptr(arrs[2]), n, numel, channels,
                                      int(self.channels_last)))

    def count(self, node):
        """Images added so far to node."""
        return int(_lib_.rs_accum_count(self._h, self._index[node]))

    def result(self):
        """A list of dicts, one per node in the order given: node, D, G, R, D_se, G_se, R_se, D_num, G_num, deno,
        neurons (values per image, after the channel mean), P (images added) and flag ("ok", or "zero_denominator"
        when deno is the 1e-10 guard alone or G_num = 0, as `relstab measure` flags rows)."""
        rows = []
        for i, name in enumerate(self.nodes):
            s = _lib.Sens()
            _lib.check(_lib_.rs_accum_result(self._h, i, ctypes.byref(s)))
            r = _row(s, name)
            r["P"] = self.count(name)
            rows.append(r)
        return rows


# ---------------------------------------------------------------------------------------------- datasets
_SPLITS = {"test": 0, "train": 1, "val": 2}


class Dataset:
    """One split of a relstab dataset (relstab.dataset() opens it). n, shape (C, H, W), classes; images(indices)
    and labels(indices) as numpy arrays (float32 (N, C, H, W) after relstab's normalisation, int32); probe(P, seed)
    the probe-set indices `relstab measure` takes."""

    def __init__(self, spec, split="test"):
        if split not in _SPLITS:
            raise ValueError("split must be test, train or val, got %r" % (split,))
        h = ctypes.c_void_p()
        _lib.check(_lib_.rs_dataset_open(str(spec).encode(), _SPLITS[split], None, ctypes.byref(h)))
        self._h, self.spec, self.split = h, str(spec), split
        n = ctypes.c_int64()
        dims = (ctypes.c_int32 * 5)()
        _lib.check(_lib_.rs_dataset_dims(h, ctypes.byref(n), dims))
        self.n, self.shape, self.classes = int(n.value), (dims[0], dims[1], dims[2]), int(dims[3])

    def __del__(self):
        h = getattr(self, "_h", None)
        if h and h.value:
            _lib_.rs_dataset_free(h)
            self._h = None

    def __len__(self):
        return self.n

    def _idx(self, indices):
        idx = np.arange(self.n, dtype=np.int64) if indices is None else _lib.indices(indices, np.size(indices))
        if idx.size == 0:
            raise ValueError("no image index given")
        if (idx >= self.n).any():
            raise ValueError("image index %d is outside the %d images of %s" % (int(idx.max()), self.n, self.spec))
        return idx

    def _batches(self, idx, fn):
        step = 1000
        for p0 in range(0, idx.size, step):
            fn(p0, idx[p0:p0 + step])

    def images(self, indices=None):
        """Images indices (default all) as float32 (N, C, H, W), as relstab feeds them to nets."""
        idx = self._idx(indices)
        out = np.empty((idx.size,) + self.shape, np.float32)

        def one(p0, part):
            part = np.ascontiguousarray(part)
            _lib.check(_lib_.rs_dataset_batch(self._h, _lib.ptr(part), part.size, 0, _lib.ptr(out[p0:]), None,
                                              None))
        self._batches(idx, one)
        return out

    def labels(self, indices=None):
        """Class indices (int32) of images indices (default all)."""
        idx = self._idx(indices)
        out = np.empty(idx.size, np.int32)
        x = np.empty((min(idx.size, 1000),) + self.shape, np.float32)

        def one(p0, part):
            part = np.ascontiguousarray(part)
            _lib.check(_lib_.rs_dataset_batch(self._h, _lib.ptr(part), part.size, 0, _lib.ptr(x), _lib.ptr(out[p0:]),
                                              None))
        self._batches(idx, one)
        return out

    def probe(self, P=500, seed=0, first=False, sample=0):
        """The P image indices `relstab measure --P P --seed S [--first]` measures on (increasing)."""
        out = np.empty(int(P), np.int64)
        _lib.check(_lib_.rs_probe_select(self._h, int(P), 1 if first else 0, int(seed), int(sample), _lib.ptr(out)))
        return out


def dataset(spec, split="test"):
    """Opens a dataset: fashionmnist, mnist:DIR, cifar10:DIR, npy:DIR, twopoints[:key=value,...],
    scale1d[:key=value,...] (the spec of `relstab --data`). Returns a Dataset."""
    return Dataset(spec, split)


# ---------------------------------------------------------------------------------------------- nets
_MODES = {"eval": 1, "trained": 1, "init": 2, "train": 0}


class Net:
    """A relstab zoo model (relstab.models() lists them), as `relstab measure --model NAME` builds it.

    weights: a safetensors file to load (PyTorch state_dict names); else the parameters are a fresh initialisation
    from init_seed (default 0). data: a dataset spec whose images fix the input shape and classes (as the CLI);
    else the options channels, height, img_width (or size), classes. Other options as `relstab train` takes them:
    width, depth, filter, stride, strides (list), pbc, batch_norm, last_bias, alpha.
    nodes: the node names (relstab's, docs/models.md); shapes: {node: (C, H, W)}.
    """

    def __init__(self, model, weights=None, data=None, init_seed=0, **options):
        if data is not None:
            ds = data if isinstance(data, Dataset) else Dataset(data)
            c, h, w = ds.shape
            options.setdefault("channels", c)
            options.setdefault("height", h)
            options.setdefault("img_width", w)
            options.setdefault("classes", ds.classes)
        if isinstance(options.get("strides"), (list, tuple)):
            options["strides"] = ":".join(str(int(s)) for s in options["strides"])
        h = ctypes.c_void_p()
        _lib.check(_lib_.rs_model_build_kv(str(model).encode(), _lib.options(**options), ctypes.byref(h)))
        self._h, self.model = h, str(model)
        self.nodes, self.shapes, self.ops = [], {}, {}
        dims = (ctypes.c_int32 * 4)()
        for i in range(_lib_.rs_net_node_count(h)):
            name = _lib_.rs_net_node_name(h, i).decode()
            _lib.check(_lib_.rs_net_node_dims(h, i, dims))
            self.nodes.append(name)
            self.shapes[name] = (dims[1], dims[2], dims[3])
            self.ops[name] = _lib_.rs_op_name(dims[0]).decode()
        _lib.check(_lib_.rs_net_build(h, 1, 0))
        if weights is not None:
            self.load(weights)
        else:
            _lib_.rs_net_init(h, int(init_seed))

    def __del__(self):
        h = getattr(self, "_h", None)
        if h and h.value:
            _lib_.rs_net_free(h)
            self._h = None

    @property
    def input_shape(self):
        return self.shapes[self.nodes[0]]

    def load(self, path):
        """Loads every parameter from a safetensors file (names and shapes must match exactly)."""
        _lib.check(_lib_.rs_net_load(self._h, str(path).encode(), None))

    def save(self, path):
        """Writes every parameter and buffer to a safetensors file (atomically)."""
        _lib.check(_lib_.rs_net_save(self._h, str(path).encode(), None, None, 0))

    def _node_list(self, nodes):
        if nodes is None:
            return [self.nodes[-1]]
        if nodes == "all":
            return list(self.nodes[1:])
        if isinstance(nodes, str):
            nodes = nodes.split(",")
        for n in nodes:
            if n not in self.shapes:
                raise KeyError("%s has no node %r (nodes: %s)" % (self.model, n, ", ".join(self.nodes)))
        return list(nodes)

    def forward(self, x, nodes=None, mode="eval", layout="nchw"):
        """Runs the net on x (B, C, H, W) float32 and returns {node: output} for nodes (a list, "all", or None:
        the output node), each (B, C, H, W) (layout "nchw", PyTorch's order) or (B, H, W, C) ("nhwc", relstab's
        internal order, what `relstab measure` sums over). mode: eval (running statistics), init (batch norm with
        batch statistics), train."""
        x = _images(x, "x")
        if x.shape[1:] != tuple(self.input_shape):
            raise ValueError("%s takes (B, %d, %d, %d) inputs, got %s" % ((self.model,) + tuple(self.input_shape) +
                                                                         (x.shape,)))
        if mode not in _MODES or layout not in ("nchw", "nhwc"):
            raise ValueError("mode must be eval, init or train and layout nchw or nhwc, got %r, %r" % (mode, layout))
        names = self._node_list(nodes)
        B = x.shape[0]
        if _lib_.rs_net_built_batch(self._h) < B:
            _lib.check(_lib_.rs_net_build(self._h, B, 0))
        _lib.check(_lib_.rs_net_forward(self._h, _lib.ptr(x), B, _MODES[mode]))
        out = {}
        for n in names:
            c, h, w = self.shapes[n]
            a = np.empty((B, c, h, w) if layout == "nchw" else (B, h, w, c), np.float32)
            _lib.check(_lib_.rs_net_tap_copy(self._h, self.nodes.index(n), int(layout == "nhwc"), _lib.ptr(a), a.size))
            out[n] = a
        return out

    def measure(self, dataset, P=500, nodes=None, seed=0, seeds=1, delta=None, T=None, cut=3, interp="linear",
                noise=None, estimator="mean", channel_mean=None, mode="trained", batch=None, first=False,
                perturb="auto", resample=False, median_mem=None, dump=None, aliased=False):
        """`relstab measure` on this net: the same options, the same defaults (None: the CLI's, e.g. on scale1d
        rectified noise and the channel mean), the same numbers. dataset: a spec or a Dataset (its test split is
        used). Returns a list of dicts, one per node (node, op, neurons, D, G, R and standard errors, D_num, G_num,
        deno, flag), and sets self.last_measure = {P, T, delta, batch}."""
        ds = dataset if isinstance(dataset, Dataset) else Dataset(dataset)
        if isinstance(nodes, (list, tuple)):
            nodes = ",".join(nodes)
        opts = _lib.options(P=int(P), seed=int(seed), seeds=int(seeds), delta=delta, T=T, cut=int(cut),
                            interp=interp, noise=noise, estimator=estimator, channel_mean=channel_mean, mode=mode,
                            batch=batch, first=first, perturb=perturb, resample=resample, median_mem=median_mem,
                            dump=dump, aliased=aliased)
        rows = (_lib.Sens * len(self.nodes))()
        n = ctypes.c_int32()
        info = (ctypes.c_double * 4)()
        _lib.check(_lib_.rs_measure_kv(self._h, ds._h, (nodes or "").encode(), opts, rows, len(self.nodes),
                                       ctypes.byref(n), info))
        self.last_measure = {"P": int(info[0]), "T": info[1], "delta": info[2], "batch": int(info[3])}
        out = []
        for i in range(n.value):
            r = _row(rows[i], rows[i].name.decode())
            r["op"] = _lib_.rs_op_name(rows[i].op).decode()
            out.append(r)
        return out


# ---------------------------------------------------------------------------------------------- theory
_THEORY_COLS = ("k", "width", "rf", "d_num", "d_num_se", "g_num", "g_num_se", "deno", "D", "G", "R", "D_se", "G_se")


def theory(dim=1, stride=2, filter=2, depth=8, size=0, probes=0, bias=0.0, padding="zero", raw_noise=False,
           noise_norm=0.0, seed=0, repeat=0):
    """The theory model of `relstab theory` (a deep ReLU net of fixed filters on the two-point inputs): one dict per
    layer k = 1..depth with width, rf, d_num, g_num (with standard errors), deno, D, G, R, D_se, G_se."""
    depth = int(depth)
    out = np.zeros((max(depth, 1), len(_THEORY_COLS)), np.float64)
    rows, probes_used = ctypes.c_int32(), ctypes.c_int64()
    opts = _lib.options(dim=int(dim), stride=int(stride), filter=int(filter), depth=depth, size=int(size),
                        probes=int(probes), bias=float(bias), padding=padding, raw_noise=raw_noise,
                        noise_norm=float(noise_norm), seed=int(seed), repeat=int(repeat))
    _lib.check(_lib_.rs_theory_run_table(opts, _lib.ptr(out), out.shape[0], ctypes.byref(rows),
                                         ctypes.byref(probes_used)))
    res = []
    for i in range(rows.value):
        r = {c: float(v) for c, v in zip(_THEORY_COLS, out[i])}
        for c in ("k", "width", "rf"):
            r[c] = int(r[c])
        r["probes"] = int(probes_used.value)
        res.append(r)
    return res


# ---------------------------------------------------------------------------------------------- safetensors
_ST_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8}


def read_safetensors(path):
    """{name: numpy array} of a safetensors file (F32, F64, I64, I32, U8), e.g. relstab's weights, to load into a
    torch model with model.load_state_dict({k: torch.from_numpy(v) for k, v in ...}). Metadata is not returned."""
    import json
    import struct
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError("%s: not a safetensors file (%d bytes)" % (path, len(buf)))
    (hl,) = struct.unpack("<Q", buf[:8])
    if hl > len(buf) - 8:
        raise ValueError("%s: header of %d bytes in a file of %d" % (path, hl, len(buf)))
    head = json.loads(buf[8:8 + hl].decode("utf-8"))
    data = memoryview(buf)[8 + hl:]
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        if t["dtype"] not in _ST_DTYPES:
            raise ValueError("%s: tensor %s has dtype %s" % (path, name, t["dtype"]))
        a, b = t["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=np.dtype(_ST_DTYPES[t["dtype"]]).newbyteorder("<"))
        out[name] = arr.reshape(t["shape"]).astype(_ST_DTYPES[t["dtype"]], copy=True)
    return out


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: array} (numpy, or anything np.asarray takes, e.g. a CPU torch tensor) as safetensors, in the
    given order, atomically; relstab reads it with Net(model, weights=path) or `relstab measure --weights`."""
    import json
    import os
    import struct
    names = {np.dtype(v): k for k, v in _ST_DTYPES.items()}
    head, blobs, off = {}, [], 0
    for name, v in tensors.items():
        a = np.asarray(v)
        a = a if a.flags["C_CONTIGUOUS"] else a.copy(order="C")  # (np.ascontiguousarray makes a scalar 1-D)
        if a.dtype not in names:
            raise TypeError("tensor %s: dtype %s cannot be written (float32, float64, int64, int32, uint8)"
                            % (name, a.dtype))
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        head[name] = {"dtype": names[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        head["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(head, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
