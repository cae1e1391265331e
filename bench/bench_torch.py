#!/usr/bin/env python3
"""bench_torch.py: the work of bench_ops.c done by PyTorch on the CPU, printed in the same line format, so that
bench/run.sh can lay the two side by side. Same shapes, batch, thread count, timing rule (one warm-up call, then
calls until the time budget is spent, the fastest reported) and work counts (GFLOP/s for conv and linear, GB/s
of minimal memory traffic for batch norm and max pool). Activations are timed in channels-last layout (path
"torch", the layout relstab uses) and in PyTorch's default NCHW layout (path "torch_nchw"). Backward is
.backward(dy), which accumulates into .grad as relstab's backward does. A benchmark only: nothing here is part
of the build or of the tests.

usage: bench_torch.py [--threads N] [--batch B] [--seconds S] [--only SUBSTRING]
"""
import argparse
import os
import time

import torch
import torch.nn.functional as F


def time_ms(fn, seconds, max_calls=1000):
    """One warm-up call, then calls until the budget is spent; the fastest call (as bench_ops.c)."""
    fn()
    calls, t0 = 0, time.perf_counter()
    t, best = t0, float("inf")
    while calls < max_calls and (calls == 0 or t - t0 < seconds):
        a = time.perf_counter()
        fn()
        t = time.perf_counter()
        best = min(best, t - a)
        calls += 1
    return 1e3 * best


def layout(x, channels_last):
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x.contiguous()


def conv_case(batch, hw, ci, co, cl):
    x = layout(torch.randn(batch, ci, hw, hw) * 0.1, cl).requires_grad_()
    w = (torch.randn(co, ci, 3, 3) * 0.1).requires_grad_()
    b = (torch.randn(co) * 0.1).requires_grad_()
    flops = 2.0 * batch * hw * hw * co * ci * 9
    fwd = lambda: F.conv2d(x, w, b, padding=1)
    return x, fwd, flops, 2.0 * flops, "GFLOP/s"


def linear_case(batch, k, o, cl):
    x = (torch.randn(batch, k) * 0.1).requires_grad_()
    w = (torch.randn(o, k) * 0.1).requires_grad_()
    b = (torch.randn(o) * 0.1).requires_grad_()
    flops = 2.0 * batch * k * o
    return x, (lambda: F.linear(x, w, b)), flops, 2.0 * flops, "GFLOP/s"


def bn_case(batch, hw, c, cl):
    x = layout(torch.randn(batch, c, hw, hw) * 0.1, cl).requires_grad_()
    g = torch.ones(c).requires_grad_()
    bt = torch.zeros(c).requires_grad_()
    rm, rv = torch.zeros(c), torch.ones(c)
    n = batch * hw * hw * c
    fwd = lambda: F.batch_norm(x, rm, rv, g, bt, training=True, momentum=0.1, eps=1e-5)
    return x, fwd, 4.0 * 2 * n, 4.0 * 3 * n, "GB/s"


def maxpool_case(batch, hw, c, cl):
    x = layout(torch.randn(batch, c, hw, hw) * 0.1, cl).requires_grad_()
    nin, nout = batch * hw * hw * c, batch * (hw // 2) * (hw // 2) * c
    fwd = lambda: F.max_pool2d(x, 2, 2)
    return x, fwd, 4.0 * (nin + 2 * nout), 4.0 * (2 * nin + 2 * nout), "GB/s"


def main():
    ap = argparse.ArgumentParser(description="PyTorch CPU timings of bench_ops.c's work")
    ap.add_argument("--threads", type=int, default=0, help="threads (0: all cores)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=1.0, help="time budget per measurement")
    ap.add_argument("--only", default="", help="run only the ops whose name contains this")
    a = ap.parse_args()
    if a.batch <= 0 or a.seconds <= 0:
        ap.error("--batch and --seconds must be positive")
    threads = a.threads if a.threads > 0 else os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    B = a.batch
    cases = [
        ("conv3x3_3to64_32px", lambda cl: conv_case(B, 32, 3, 64, cl)),
        ("conv3x3_64to64_32px", lambda cl: conv_case(B, 32, 64, 64, cl)),
        ("conv3x3_128to128_16px", lambda cl: conv_case(B, 16, 128, 128, cl)),
        ("conv3x3_256to256_8px", lambda cl: conv_case(B, 8, 256, 256, cl)),
        ("linear_512to512", lambda cl: linear_case(B, 512, 512, cl)),
        ("linear_512to10", lambda cl: linear_case(B, 512, 10, cl)),
        ("bn_64ch_32px", lambda cl: bn_case(B, 32, 64, cl)),
        ("maxpool2x2_64ch_32px", lambda cl: maxpool_case(B, 32, 64, cl)),
    ]
    print(f"# bench_torch: batch {B}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"mkldnn {torch.backends.mkldnn.is_available()}")
    for name, make in cases:
        if a.only not in name:
            continue
        for cl, path in ((True, "torch"), (False, "torch_nchw")):
            if name.startswith("linear") and not cl:
                continue  # no image layout for a matrix
            x, fwd, work_f, work_b, unit = make(cl)
            ms = time_ms(fwd, a.seconds)  # with autograd on: a training forward (BN stats, pool indices)
            print(f"{name:<24} fwd  {path:<4} {ms:12.3f} {work_f / (ms * 1e-3) * 1e-9:10.1f} {unit}", flush=True)
            y = fwd()
            dy = layout(torch.randn_like(y), cl) if y.dim() == 4 else torch.randn_like(y)
            ms = time_ms(lambda: y.backward(dy, retain_graph=True), a.seconds)
            print(f"{name:<24} bwd  {path:<4} {ms:12.3f} {work_b / (ms * 1e-3) * 1e-9:10.1f} {unit}", flush=True)


if __name__ == "__main__":
    main()
