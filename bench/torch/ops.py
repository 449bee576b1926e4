#!/usr/bin/python3
"""ops.py — the workloads of `mmc bench` in PyTorch, for bench/run.sh to compare.

Usage: /usr/bin/python3 bench/torch/ops.py WORKLOAD [--threads T] [--steps N] [--json]

Same shapes, warm-up and timed steps as src/cli/bench.c, fp32, torch.backends.mkldnn
left at its default. --json prints one object:
{"workload": W, "rate": R, "unit": "GFLOP/s", "threads": T, "peak_rss_mb": M}"""
import argparse
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F

# name: (warm-up steps, default timed steps), as in src/cli/bench.c
WORKLOADS = {"gemm-1024": (3, 20), "gemm-2048": (1, 5), "conv2d-train": (1, 3)}


def gemm(n):
    torch.manual_seed(1)
    a = torch.rand(n, n) * 2 - 1
    b = torch.rand(n, n) * 2 - 1
    return (lambda: torch.mm(a, b)), 2.0 * n * n * n


def conv2d_train():
    B, C, HW, OC, K = 32, 64, 64, 64, 3
    torch.manual_seed(1)
    x = torch.randn(B, C, HW, HW, requires_grad=True)
    w = (torch.randn(OC, C, K, K) * 0.05).requires_grad_()
    bias = torch.zeros(OC, requires_grad=True)
    seed = torch.randn(B, OC, HW, HW)

    def step():  # gradients accumulate across steps, as in mmc's bench
        F.conv2d(x, w, bias, padding=1).backward(seed)

    return step, 3.0 * 2.0 * B * OC * HW * HW * C * K * K


def peak_reset():
    """Restarts the process's resident high-water mark (ru_maxrss) from what is resident now,
    as src/cli/bench.c does just before its warm-up: the peak is the workload's (model, its
    optimizer state and inputs included), not that of setting it up. Linux only; elsewhere
    the peak stays the whole process's."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def main():
    p = argparse.ArgumentParser(description="PyTorch side of mmc bench")
    p.add_argument("workload", choices=sorted(WORKLOADS))
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if a.threads <= 0 or a.steps < 0:
        p.error("--threads and --steps must be positive")
    torch.set_num_threads(a.threads)
    warmup, steps = WORKLOADS[a.workload]
    steps = a.steps or steps
    if a.workload == "conv2d-train":
        fn, flops = conv2d_train()
    else:
        fn, flops = gemm(int(a.workload.split("-")[1]))
    peak_reset()
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    dt = time.perf_counter() - t0
    rate = flops * steps / dt / 1e9
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    if a.json:
        print(json.dumps({"workload": a.workload, "rate": round(rate, 2), "unit": "GFLOP/s",
                          "threads": a.threads, "peak_rss_mb": round(rss, 1)}))
    else:
        print(f"{a.workload}: {rate:.1f} GFLOP/s ({a.threads} threads, {steps} steps of "
              f"{1e3 * dt / steps:.1f} ms, peak RSS {rss:.0f} MB) [PyTorch {torch.__version__}]")


if __name__ == "__main__":
    sys.exit(main())
