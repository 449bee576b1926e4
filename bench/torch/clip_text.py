#!/usr/bin/python3
"""clip_text.py — the clip-text-b32 workload of `mmc bench` in PyTorch, for bench/run.sh.

Usage: /usr/bin/python3 bench/torch/clip_text.py [clip-text-b32] [--threads T] [--steps N] [--json]

The CLIP ViT-B/32 text tower as Hugging Face's CLIPTextModel + text_projection computes it,
in plain torch (transformers is not installed here): token and position embeddings, 12
pre-LN encoder layers of width 512 with 8 heads (separate q/k/v/out projections with biases,
causal softmax(q·kᵀ/√d)·v, quick_gelu MLP of 2048), final layer norm, the row of the end
token, projection 512 without bias, L2-normalised. Random weights, a batch of 32 texts of
the full 77 tokens (vocabulary 49408), fp32, no_grad, 1 warm-up + N timed steps (default 3),
as src/cli/bench.c. The attention is the one fused call PyTorch 1.13 has for it on CPU
outside nn.MultiheadAttention's fast path: the matrix products and a masked softmax, here
with the causal mask added as one precomputed (77, 77) tensor. MMC_BENCH_SMALL=1 shrinks it
as mmc does. --json prints one object:
{"workload", "rate" (texts/s), "unit": "texts/s", "threads", "peak_rss_mb", "gflops"}
with the FLOP count of src/cli/bench.c (matrix products only, 2 per multiply-add)."""
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
from clip_vit import Layer, peak_reset  # noqa: E402  the same pre-LN layer, with a mask

NAME = "clip-text-b32"
WARMUP, STEPS = 1, 3


class TextTower(nn.Module):
    def __init__(self, D, L, H, Fd, V, T, P):
        super().__init__()
        self.token_embedding = nn.Embedding(V, D)
        self.position_embedding = nn.Parameter(torch.randn(T, D) * 0.02)
        self.layers = nn.ModuleList(Layer(D, H, Fd) for _ in range(L))
        self.final_layer_norm = nn.LayerNorm(D, eps=1e-5)
        self.text_projection = nn.Linear(D, P, bias=False)
        self.register_buffer("causal", torch.full((T, T), float("-inf")).triu(1))

    def forward(self, ids, eos_at):
        x = self.token_embedding(ids) + self.position_embedding[: ids.shape[1]]
        for layer in self.layers:
            x = layer(x, self.causal)
        x = self.final_layer_norm(x)
        pooled = x[torch.arange(x.shape[0]), eos_at]
        return F.normalize(self.text_projection(pooled), dim=-1)  # text_embeds


def flops_per_text(D, L, H, Fd, V, T, P):
    return L * (8.0 * T * D * D + 4.0 * T * T * D + 4.0 * T * D * Fd) + 2.0 * D * P


def main():
    ap = argparse.ArgumentParser(description="PyTorch side of mmc bench clip-text-b32")
    ap.add_argument("workload", nargs="?", default=NAME, choices=[NAME])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.threads <= 0 or a.steps < 0:
        ap.error("--threads and --steps must be positive")
    torch.set_num_threads(a.threads)
    steps = a.steps or STEPS
    size = dict(D=512, L=12, H=8, Fd=2048, V=49408, T=77, P=512)
    B = 32
    if os.environ.get("MMC_BENCH_SMALL", "0") not in ("", "0"):
        size, B = dict(D=64, L=2, H=2, Fd=256, V=1000, T=16, P=32), 4
    torch.manual_seed(1)
    model = TextTower(**size).eval()
    ids = torch.randint(3, size["V"], (B, size["T"]))
    eos_at = torch.full((B,), size["T"] - 1, dtype=torch.long)
    with torch.no_grad():
        peak_reset()
        for _ in range(WARMUP):
            model(ids, eos_at)
        t0 = time.perf_counter()
        for _ in range(steps):
            model(ids, eos_at)
        dt = time.perf_counter() - t0
    rate = B * steps / dt
    gflops = B * flops_per_text(**size) * steps / dt / 1e9
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    if a.json:
        print(json.dumps({"workload": NAME, "rate": round(rate, 2), "unit": "texts/s", "threads": a.threads,
                          "peak_rss_mb": round(rss, 1), "gflops": round(gflops, 2)}))
    else:
        print(f"{NAME}: {rate:.1f} texts/s, {gflops:.1f} GFLOP/s ({a.threads} threads, {steps} steps of "
              f"{1e3 * dt / steps:.1f} ms, peak RSS {rss:.0f} MB) [PyTorch {torch.__version__}]")


if __name__ == "__main__":
    sys.exit(main())
