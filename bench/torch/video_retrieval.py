#!/usr/bin/python3
"""video_retrieval.py — the default text:video dual encoder of `mmc train retrieval --pair
text:video` in PyTorch: the video-retrieval-train workload of `mmc bench` (for bench/run.sh)
and the model that bench/torch/video_retrieval_ref.py trains on the moving-shapes world.

Usage: /usr/bin/python3 bench/torch/video_retrieval.py [video-retrieval-train] [--threads T]
       [--steps N] [--json] [--memory-format contiguous|channels_last]

The model (src/models/encoder_video.c "early", retrieval_encoders.c, the defaults of
retrieval_config.c): the T = 8 frames of a clip (64 px) stacked as 3·T = 24 channels into a
cnn of four stages [Conv2d 3×3 stride 2 padding 1 without bias, BatchNorm2d, ReLU] of
16-32-64-128 channels, the 4×4 map flattened (channel-major, 2048) and projected to 128;
text: Embedding(V, 64), a 1-layer GRU(64, 128) (batch_first), the state after each text's
last real token, Linear(128, 128); both L2-normalised; symmetric InfoNCE with a learnable
logit scale (init log(1/0.07), clamped at log 100 as mmc does); AdamW (lr 2e-3, weight decay
0.05 on the weights only, as mmc's train loop). 458,081 parameters at V = 64.

Workload: batch 128 clips of U(-1, 1) pixels, 16 tokens uniform in 4..63; one step =
forward, backward, optimizer step, zero_grad, as src/cli/bench.c; 1 warm-up step + N timed
(default 3). --memory-format: how the clips and the cnn's weights are laid out; the default,
channels_last, was the faster in 9 of 10 rounds on this machine (median 1,036 clips/s
against 612 contiguous at 10 steps; docs/performance.md). --json prints one object:
{"workload", "rate" (clips/s), "unit": "clips/s", "threads", "peak_rss_mb", "gflops", "params"}."""
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

NAME = "video-retrieval-train"
WARMUP, STEPS = 1, 3
B, T, S, FRAMES, V = 128, 16, 64, 8, 64
WIDTHS = (16, 32, 64, 128)


class VideoDualEncoder(nn.Module):
    def __init__(self, vocab, frames=FRAMES, size=S, embed=128, word=64, hidden=128, grid=4):
        super().__init__()
        layers, cin, side = [], 3 * frames, size
        for w in WIDTHS:
            layers += [nn.Conv2d(cin, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            cin, side = w, (side - 1) // 2 + 1
        self.cnn = nn.Sequential(*layers)
        self.grid = min(grid, side)
        self.pool = side // self.grid
        self.video_proj = nn.Linear(cin * self.grid * self.grid, embed)
        self.embedding = nn.Embedding(vocab, word)
        self.rnn = nn.GRU(word, hidden, batch_first=True)
        self.text_proj = nn.Linear(hidden, embed)
        self.logit_scale = nn.Parameter(torch.tensor([math.log(1 / 0.07)]))

    def encode_video(self, clips):
        """clips (B, 3·T, S, S): each clip's frames stacked in time order"""
        h = self.cnn(clips)
        if self.pool > 1:
            h = F.avg_pool2d(h, self.pool)
        return F.normalize(self.video_proj(h.flatten(1)), dim=-1)

    def encode_text(self, ids, lengths):
        out, _ = self.rnn(self.embedding(ids))
        last = out[torch.arange(ids.shape[0]), lengths - 1]  # the state after the last real token
        return F.normalize(self.text_proj(last), dim=-1)

    def loss(self, ve, te):
        logits = self.logit_scale.clamp(max=math.log(100.0)).exp() * te @ ve.t()
        labels = torch.arange(ve.shape[0])
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


def adamw(model, lr=2e-3, weight_decay=0.05):
    """AdamW with decay on the weight matrices and conv kernels only (mmc_optim_no_decay_from_params:
    no decay on biases, norms, embeddings' ... as mmc's loop: here biases, BatchNorm and the logit scale)."""
    decay, no = [], []
    for n, p in model.named_parameters():
        (decay if p.ndim >= 2 and "embedding" not in n else no).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": no, "weight_decay": 0.0}], lr=lr)


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def flops_per_step(model):
    """As src/cli/bench.c counts: the convs (forward and two backward products), the two
    projections, the GRU's three gates over [x, h] at every step, and the B × B similarity."""
    f, cin, side = 0.0, 3 * FRAMES, S
    for w in WIDTHS:
        side = (side - 1) // 2 + 1
        f += 3 * 2.0 * B * side * side * w * cin * 9
        cin = w
    lin = lambda rows, i, o: 3 * 2.0 * rows * i * o  # noqa: E731
    g = model.grid
    return f + lin(B, cin * g * g, 128) + lin(B, 128, 128) + lin(B * T, 64 + 128, 3 * 128) + lin(B, 128, B)


def peak_reset():
    """Restarts ru_maxrss from what is resident now (Linux), as src/cli/bench.c does."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser(description="PyTorch side of mmc bench video-retrieval-train")
    ap.add_argument("workload", nargs="?", default=NAME, choices=[NAME])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--memory-format", choices=["contiguous", "channels_last"], default="channels_last")
    a = ap.parse_args()
    if a.threads <= 0 or a.steps < 0:
        ap.error("--threads and --steps must be positive")
    torch.set_num_threads(a.threads)
    steps = a.steps or STEPS
    torch.manual_seed(1)
    model = VideoDualEncoder(V).train()
    fmt = torch.channels_last if a.memory_format == "channels_last" else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = adamw(model)
    clips = (torch.rand(B, 3 * FRAMES, S, S) * 2 - 1).contiguous(memory_format=fmt)
    ids = torch.randint(4, V, (B, T))
    lengths = torch.full((B,), T, dtype=torch.long)

    def step():
        loss = model.loss(model.encode_video(clips), model.encode_text(ids, lengths))
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
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    n = count_params(model)
    gflops = flops_per_step(model) * steps / dt / 1e9
    if a.json:
        print(json.dumps({"workload": NAME, "rate": round(rate, 2), "unit": "clips/s", "threads": a.threads,
                          "peak_rss_mb": round(rss, 1), "gflops": round(gflops, 2), "params": n}))
    else:
        print(f"{NAME}: {rate:.1f} clips/s ({a.threads} threads, {steps} steps of {1e3 * dt / steps:.1f} ms, "
              f"{gflops:.1f} GFLOP/s, peak RSS {rss:.0f} MB, {n} parameters, {a.memory_format}) [PyTorch {torch.__version__}]")


if __name__ == "__main__":
    sys.exit(main())
