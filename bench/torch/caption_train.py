#!/usr/bin/python3
"""caption_train.py — the caption-train workload of `mmc bench` in PyTorch, for bench/run.sh.

Usage: /usr/bin/python3 bench/torch/caption_train.py [caption-train] [--threads T] [--steps N] [--json]

DESIGN §7: encoder small_resnet.SmallResNet (as retrieval_train.py) + Linear(256, 512): the
image feature; decoder: the feature is the LSTM's input at step 0, then Embedding(5000, 512)
of target tokens 0..18 at steps 1..19, one LSTM(512, 512) layer (batch_first), Linear(512,
5000) at every step, cross-entropy against the 20 target tokens (mean); AdamW(lr 1e-3,
weight decay 0.01); batch 64. One step = forward, backward, optimizer step, zero_grad, as
src/cli/bench.c; 1 warm-up step + N timed (default 3). Rate in target tokens/s
(64 · 20 per step). Random data: pixels U(-1, 1), tokens uniform in 4..4999. --json prints
{"workload", "rate", "unit": "tokens/s", "threads", "peak_rss_mb", "gflops", "params"}."""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from small_resnet import SmallResNet, count_params, linear_train_flops, resnet_train_flops  # noqa: E402

NAME = "caption-train"
WARMUP, STEPS = 1, 3
B, T, S, V, D = 64, 20, 64, 5000, 512


class Captioner(nn.Module):
    def __init__(self):
        super().__init__()
        self.image = SmallResNet()
        self.image_proj = nn.Linear(self.image.out_dim, D)
        self.embedding = nn.Embedding(V, D)
        self.lstm = nn.LSTM(D, D, batch_first=True)
        self.out = nn.Linear(D, V)

    def forward(self, images, tokens):
        feat = self.image_proj(self.image(images)).unsqueeze(1)  # (B, 1, D)
        x = torch.cat([feat, self.embedding(tokens[:, :-1])], dim=1)  # (B, T, D)
        h, _ = self.lstm(x)
        logits = self.out(h)  # (B, T, V)
        return F.cross_entropy(logits.reshape(-1, V), tokens.reshape(-1))


def flops_per_step():
    """As src/cli/bench.c counts: the image tower, the projection, the LSTM's four gates over
    [x, h] at every step, and the vocabulary head."""
    return (resnet_train_flops(B, S) + linear_train_flops(B, 256, D) + linear_train_flops(B * T, 2 * D, 4 * D)
            + linear_train_flops(B * T, D, V))


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
    ap = argparse.ArgumentParser(description="PyTorch side of mmc bench caption-train")
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
    model = Captioner().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    images = torch.rand(B, 3, S, S) * 2 - 1
    tokens = torch.randint(4, V, (B, T))

    def step():
        loss = model(images, tokens)
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
    rate = B * T * steps / dt
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    n = count_params(model)
    gflops = flops_per_step() * steps / dt / 1e9
    if a.json:
        print(json.dumps({"workload": NAME, "rate": round(rate, 2), "unit": "tokens/s", "threads": a.threads,
                          "peak_rss_mb": round(rss, 1), "gflops": round(gflops, 2), "params": n}))
    else:
        print(f"{NAME}: {rate:.1f} tokens/s ({a.threads} threads, {steps} steps of {1e3 * dt / steps:.1f} ms, "
              f"{gflops:.1f} GFLOP/s, peak RSS {rss:.0f} MB, {n} parameters) [PyTorch {torch.__version__}]")


if __name__ == "__main__":
    sys.exit(main())
