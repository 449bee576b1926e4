#!/usr/bin/python3
"""retrieval_train.py — the retrieval-train workload of `mmc bench` in PyTorch, for bench/run.sh.

Usage: /usr/bin/python3 bench/torch/retrieval_train.py [retrieval-train] [--threads T] [--steps N] [--json]

DESIGN §7: image tower small_resnet.SmallResNet (ResNet-18 layout 2-2-2-2, widths
32-64-128-256, 3x3 stride-1 stem, BN, global average pool) + Linear(256, 256) on 64x64 RGB;
text tower Embedding(5000, 256) + 1-layer GRU(256, 512) (batch_first), the final state,
Linear(512, 256); both L2-normalised; symmetric InfoNCE with a learnable logit scale
(init log(1/0.07), clamped at log 100 as mmc does); AdamW(lr 1e-3, weight decay 0.01) over
every parameter; batch 128 of 16 tokens. One step = forward, backward, optimizer step,
zero_grad, as src/cli/bench.c; 1 warm-up step + N timed (default 3). Random data: pixels
U(-1, 1), token ids uniform in 4..4999. --json prints one object:
{"workload", "rate" (pairs/s), "unit": "pairs/s", "threads", "peak_rss_mb", "gflops", "params"}."""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from small_resnet import SmallResNet, count_params, linear_train_flops, resnet_train_flops  # noqa: E402

NAME = "retrieval-train"
WARMUP, STEPS = 1, 3
B, T, S, V = 128, 16, 64, 5000


class DualEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.image = SmallResNet()
        self.image_proj = nn.Linear(self.image.out_dim, 256)
        self.embedding = nn.Embedding(V, 256)
        self.rnn = nn.GRU(256, 512, batch_first=True)
        self.text_proj = nn.Linear(512, 256)
        self.logit_scale = nn.Parameter(torch.tensor([math.log(1 / 0.07)]))

    def forward(self, images, ids):
        ie = F.normalize(self.image_proj(self.image(images)), dim=-1)
        _, hn = self.rnn(self.embedding(ids))
        te = F.normalize(self.text_proj(hn[-1]), dim=-1)
        logits = self.logit_scale.clamp(max=math.log(100.0)).exp() * ie @ te.t()
        labels = torch.arange(ids.shape[0])
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


def flops_per_step():
    """As src/cli/bench.c counts: the image tower, the two projections, the GRU's three gates
    over [x, h] at every step, and the B x B similarity."""
    return (resnet_train_flops(B, S) + linear_train_flops(B, 256, 256) + linear_train_flops(B, 512, 256)
            + linear_train_flops(B * T, 256 + 512, 3 * 512) + linear_train_flops(B, 256, B))


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
    ap = argparse.ArgumentParser(description="PyTorch side of mmc bench retrieval-train")
    ap.add_argument("workload", nargs="?", default=NAME, choices=[NAME])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.threads <= 0 or a.steps < 0:
        ap.error("--threads and --steps must be positive")
    torch.set_num_threads(a.threads)
    steps = a.steps or STEPS
    torch.manual_seed(1)
    model = DualEncoder().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    images = torch.rand(B, 3, S, S) * 2 - 1
    ids = torch.randint(4, V, (B, T))

    def step():
        loss = model(images, ids)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=False)  # as mmc_optim_zero_grad

    peak_reset()
    for _ in range(WARMUP):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t0
    rate = B * steps / dt
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    n = count_params(model)
    gflops = flops_per_step() * steps / dt / 1e9
    if a.json:
        print(json.dumps({"workload": NAME, "rate": round(rate, 2), "unit": "pairs/s", "threads": a.threads,
                          "peak_rss_mb": round(rss, 1), "gflops": round(gflops, 2), "params": n}))
    else:
        print(f"{NAME}: {rate:.1f} pairs/s ({a.threads} threads, {steps} steps of {1e3 * dt / steps:.1f} ms, "
              f"{gflops:.1f} GFLOP/s, peak RSS {rss:.0f} MB, {n} parameters) [PyTorch {torch.__version__}]")


if __name__ == "__main__":
    sys.exit(main())
