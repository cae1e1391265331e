"""_lib.py: finds and loads librelstab.so, declares the C functions the package calls (ctypes), turns a failed
call into a Python exception carrying relstab's message, and checks numpy arrays before they reach C.

Where the library is looked for, in order:
  1. the RELSTAB_LIB environment variable (the path of a librelstab.so);
  2. the installed layout: _installed.py, written by `cmake --install`, gives the library directory relative to
     this package;
  3. the build trees of a source checkout: <repo>/build/librelstab.so (then any <repo>/build*/);
  4. the system's search path (ctypes.util.find_library("relstab")).
Not here: the public functions (__init__.py) and the PyTorch side (torch.py).
"""
import ctypes
import ctypes.util
import glob
import os

import numpy as np

_here = os.path.dirname(os.path.abspath(__file__))


class RelstabError(RuntimeError):
    """A relstab C function failed; str(e) is relstab's one-line message, e.status its status name."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class RelstabArgError(RelstabError, ValueError):
    """RS_ERR_ARG: a bad argument or option (also a ValueError)."""


class RelstabNumericError(RelstabError, ArithmeticError):
    """RS_ERR_NUMERIC: NaN or infinity (also an ArithmeticError)."""


_STATUS = {1: "ARG", 2: "IO", 3: "FORMAT", 4: "NOMEM", 5: "NUMERIC", 6: "UNSUPPORTED"}


def _candidates():
    env = os.environ.get("RELSTAB_LIB")
    if env:
        return [env], True
    found = []
    try:
        from . import _installed  # written by cmake --install
        found.append(os.path.normpath(os.path.join(_here, _installed.LIBDIR_REL, "librelstab.so")))
    except ImportError:
        pass
    repo = os.path.dirname(os.path.dirname(_here))
    found.append(os.path.join(repo, "build", "librelstab.so"))
    found += sorted(glob.glob(os.path.join(repo, "build*", "librelstab.so")))
    sys_lib = ctypes.util.find_library("relstab")
    if sys_lib:
        found.append(sys_lib)
    return found, False


def _load():
    paths, from_env = _candidates()
    errors = []
    for p in paths:
        if from_env or os.path.exists(p) or not os.path.isabs(p):
            try:
                return ctypes.CDLL(p), p
            except OSError as e:
                errors.append("%s: %s" % (p, e))
    raise ImportError("relstab: cannot load librelstab.so (set RELSTAB_LIB to its path, or build the project: "
                      "cmake -S . -B build && cmake --build build); tried: %s" % ("; ".join(errors or paths)))


lib, path = _load()

c_i32, c_i64, c_u32, c_u64, c_dbl, c_sz = (ctypes.c_int32, ctypes.c_int64, ctypes.c_uint32, ctypes.c_uint64,
                                           ctypes.c_double, ctypes.c_size_t)
c_p, c_str = ctypes.c_void_p, ctypes.c_char_p
RS_NAME_MAX = 96


class Sens(ctypes.Structure):
    """rs_sens of measure.h (its size is checked against the library's at import)."""
    _fields_ = [("node", c_i32), ("name", ctypes.c_char * RS_NAME_MAX), ("op", ctypes.c_int), ("neurons", c_i64),
                ("D", c_dbl), ("G", c_dbl), ("R", c_dbl), ("D_se", c_dbl), ("G_se", c_dbl), ("R_se", c_dbl),
                ("D_num", c_dbl), ("G_num", c_dbl), ("deno", c_dbl), ("flag", ctypes.c_int)]


_PROTOS = {
    "rs_last_error": (c_str, []),
    "rs_sens_size": (c_sz, []),
    "rs_set_threads": (ctypes.c_int, [ctypes.c_int]),
    "rs_get_threads": (ctypes.c_int, []),
    "rs_op_name": (c_str, [ctypes.c_int]),
    "rs_sens_flag_name": (c_str, [ctypes.c_int]),
    # perturb.h
    "rs_diffeo_tmin": (ctypes.c_int, [c_i32, c_i32, c_p]),
    "rs_diffeo_tmax": (ctypes.c_int, [c_i32, c_p]),
    "rs_diffeo_T_of_delta": (ctypes.c_int, [c_dbl, c_i32, c_i32, c_p]),
    "rs_diffeo_delta_of_T": (ctypes.c_int, [c_dbl, c_i32, c_i32, c_p]),
    "rs_diffeo_n_modes": (c_i32, [c_i32]),
    "rs_diffeo_images": (ctypes.c_int, [c_p, c_p, c_p, c_i64, c_i32, c_i32, c_i32, c_p, c_dbl, c_i32, c_i32, c_u64,
                                        c_u32]),
    "rs_gaussian_smooth_batch": (ctypes.c_int, [c_p, c_p, c_i64, c_i32, c_i32, c_i32]),
    "rs_noise_matched": (ctypes.c_int, [c_p, c_p, c_p, c_p, c_i64, c_i64, c_p, c_u64, c_u32]),
    "rs_noise_norm": (ctypes.c_int, [c_p, c_p, c_p, c_i64, c_i64, c_dbl, c_p, c_u64, c_u32]),
    # measure.h
    "rs_accum_new": (ctypes.c_int, [c_i32, ctypes.c_int, c_i32, c_p]),
    "rs_accum_add": (ctypes.c_int, [c_p, c_i32, c_i32, c_p, c_p, c_p, c_i64, c_i64, c_i64, c_i32]),
    "rs_accum_count": (c_i64, [c_p, c_i32]),
    "rs_accum_result": (ctypes.c_int, [c_p, c_i32, c_p]),
    "rs_accum_free": (None, [c_p]),
    "rs_measure_kv": (ctypes.c_int, [c_p, c_p, c_str, c_str, c_p, c_i32, c_p, c_p]),
    "rs_probe_select": (ctypes.c_int, [c_p, c_i64, ctypes.c_int, c_u64, c_u32, c_p]),
    # models.h, nn.h, io.h
    "rs_model_build_kv": (ctypes.c_int, [c_str, c_str, c_p]),
    "rs_model_names": (c_str, []),
    "rs_net_free": (None, [c_p]),
    "rs_net_build": (ctypes.c_int, [c_p, c_i32, c_i32]),
    "rs_net_init": (None, [c_p, c_u64]),
    "rs_net_forward": (ctypes.c_int, [c_p, c_p, c_i32, ctypes.c_int]),
    "rs_net_node_count": (c_i32, [c_p]),
    "rs_net_node_name": (c_str, [c_p, c_i32]),
    "rs_net_node_dims": (ctypes.c_int, [c_p, c_i32, c_p]),
    "rs_net_built_batch": (c_i32, [c_p]),
    "rs_net_has_params": (c_i32, [c_p]),
    "rs_net_tap_copy": (ctypes.c_int, [c_p, c_i32, c_i32, c_p, c_i64]),
    "rs_net_save": (ctypes.c_int, [c_p, c_str, c_p, c_p, c_i32]),
    "rs_net_load": (ctypes.c_int, [c_p, c_str, c_p]),
    # data.h
    "rs_dataset_open": (ctypes.c_int, [c_str, ctypes.c_int, c_p, c_p]),
    "rs_dataset_free": (None, [c_p]),
    "rs_dataset_dims": (ctypes.c_int, [c_p, c_p, c_p]),
    "rs_dataset_batch": (ctypes.c_int, [c_p, c_p, c_i32, c_u64, c_p, c_p, c_p]),
    # theory.h
    "rs_theory_run_table": (ctypes.c_int, [c_str, c_p, c_i32, c_p, c_p]),
}
for _name, (_res, _args) in _PROTOS.items():
    _f = getattr(lib, _name)
    _f.restype, _f.argtypes = _res, _args

if lib.rs_sens_size() != ctypes.sizeof(Sens):
    raise ImportError("relstab: %s has rs_sens of %d bytes, this package expects %d: the library and the package "
                      "come from different versions" % (path, lib.rs_sens_size(), ctypes.sizeof(Sens)))


def check(status):
    """Raises the exception of a non-zero rs_status with relstab's message."""
    if status == 0:
        return
    msg = (lib.rs_last_error() or b"").decode("utf-8", "replace") or "relstab error %d" % status
    cls = {1: RelstabArgError, 5: RelstabNumericError}.get(status, RelstabError)
    raise cls(_STATUS.get(status, str(status)), msg)


def ptr(a):
    """The data pointer of a numpy array (None for None)."""
    return None if a is None else a.ctypes.data_as(c_p)


def array(a, name, dtypes=(np.float32,), ndim=None, min_ndim=None, finite=True):
    """Checks a numpy array before a C call: a numpy array of one of dtypes, C-contiguous, the dimension asked,
    no empty axis, finite values. Never converts: a wrong array is refused with a message saying what to do."""
    if not isinstance(a, np.ndarray):
        raise TypeError("%s must be a numpy array, got %s" % (name, type(a).__name__))
    if a.dtype not in [np.dtype(t) for t in dtypes]:
        raise TypeError("%s must be %s, got %s (convert with .astype(np.%s))" % (
            name, " or ".join(np.dtype(t).name for t in dtypes), a.dtype, np.dtype(dtypes[0]).name))
    if not a.flags["C_CONTIGUOUS"]:
        raise ValueError("%s must be C-contiguous (np.ascontiguousarray(%s))" % (name, name))
    if ndim is not None and a.ndim != ndim:
        raise ValueError("%s must have %d dimensions, got shape %s" % (name, ndim, a.shape))
    if min_ndim is not None and a.ndim < min_ndim:
        raise ValueError("%s must have at least %d dimensions, got shape %s" % (name, min_ndim, a.shape))
    if a.size == 0:
        raise ValueError("%s is empty (shape %s)" % (name, a.shape))
    if finite and a.dtype.kind == "f" and not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError("%s has a non-finite value (%s at index %s)" % (name, a[tuple(bad)], tuple(int(i) for i in bad)))
    return a


def indices(index, n, name="index"):
    """Image indices as a contiguous int64 array of n entries (None: 0..n-1)."""
    if index is None:
        return np.arange(n, dtype=np.int64)
    idx = np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError("%s must hold integers, got %s" % (name, idx.dtype))
    idx = np.ascontiguousarray(idx, dtype=np.int64).reshape(-1)
    if idx.shape[0] != n:
        raise ValueError("%s has %d entries for %d images" % (name, idx.shape[0], n))
    if (idx < 0).any():
        raise ValueError("%s has a negative entry (%d)" % (name, int(idx.min())))
    return idx


def options(**kw):
    """key=value lines for the *_kv entry points; None values are left out."""
    lines = []
    for k, v in kw.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = int(v)
        s = str(v)
        if "\n" in s:
            raise ValueError("option %s: a newline is not allowed" % k)
        lines.append("%s=%s" % (k, s))
    return "\n".join(lines).encode()
