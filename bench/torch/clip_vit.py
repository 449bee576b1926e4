#!/usr/bin/python3
"""clip_vit.py — the clip-vit-b32-image workload of `mmc bench` in PyTorch, for bench/run.sh.

Usage: /usr/bin/python3 bench/torch/clip_vit.py [clip-vit-b32-image] [--threads T] [--steps N] [--json]

The CLIP ViT-B/32 image tower as Hugging Face's CLIPVisionModel + visual_projection
computes it, in plain torch (transformers is not installed here): Conv2d patch embedding
without bias, class embedding, position embeddings, pre_layrnorm, 12 pre-LN encoder layers
(separate q/k/v/out projections with biases, softmax(q·kᵀ/√d)·v per head, quick_gelu MLP),
post_layernorm on the class token, projection 512 without bias, L2-normalised. Random
weights, batch 8 of 224x224 N(0, 1) pixels, fp32, no_grad, 1 warm-up + N timed steps
(default 3), as src/cli/bench.c. MMC_BENCH_SMALL=1 shrinks it as mmc does.
--json prints one object:
{"workload", "rate" (images/s), "unit": "images/s", "threads", "peak_rss_mb", "gflops"}
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

NAME = "clip-vit-b32-image"
WARMUP, STEPS = 1, 3


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


class Layer(nn.Module):
    def __init__(self, D, H, Fd):
        super().__init__()
        self.H = H
        self.layer_norm1 = nn.LayerNorm(D, eps=1e-5)
        self.q_proj, self.k_proj = nn.Linear(D, D), nn.Linear(D, D)
        self.v_proj, self.out_proj = nn.Linear(D, D), nn.Linear(D, D)
        self.layer_norm2 = nn.LayerNorm(D, eps=1e-5)
        self.fc1, self.fc2 = nn.Linear(D, Fd), nn.Linear(Fd, D)

    def forward(self, x, mask=None):
        """mask: None, or (T, T) added to the scores (clip_text.py's causal mask)."""
        B, T, D = x.shape
        hd = D // self.H
        h = self.layer_norm1(x)
        split = lambda t: t.view(B, T, self.H, hd).transpose(1, 2)  # (B, H, T, hd)
        q, k, v = split(self.q_proj(h) * hd ** -0.5), split(self.k_proj(h)), split(self.v_proj(h))
        s = q @ k.transpose(-1, -2)
        a = torch.softmax(s if mask is None else s + mask, dim=-1) @ v
        x = x + self.out_proj(a.transpose(1, 2).reshape(B, T, D))
        return x + self.fc2(quick_gelu(self.fc1(self.layer_norm2(x))))


class VisionTower(nn.Module):
    def __init__(self, S, p, D, L, H, Fd, P):
        super().__init__()
        self.patch_embedding = nn.Conv2d(3, D, p, stride=p, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(D) * 0.02)
        self.position_embedding = nn.Parameter(torch.randn((S // p) ** 2 + 1, D) * 0.02)
        self.pre_layrnorm = nn.LayerNorm(D, eps=1e-5)
        self.layers = nn.ModuleList(Layer(D, H, Fd) for _ in range(L))
        self.post_layernorm = nn.LayerNorm(D, eps=1e-5)
        self.visual_projection = nn.Linear(D, P, bias=False)

    def forward(self, pixels):
        x = self.patch_embedding(pixels).flatten(2).transpose(1, 2)  # (B, N, D)
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        x = self.pre_layrnorm(torch.cat([cls, x], dim=1) + self.position_embedding)
        for layer in self.layers:
            x = layer(x)
        feats = self.visual_projection(self.post_layernorm(x[:, 0]))
        return F.normalize(feats, dim=-1)  # image_embeds


def flops_per_image(S, p, D, L, H, Fd, P):
    N = (S // p) ** 2
    T = N + 1
    return 2.0 * N * 3 * p * p * D + L * (8.0 * T * D * D + 4.0 * T * T * D + 4.0 * T * D * Fd) + 2.0 * D * P


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
    ap = argparse.ArgumentParser(description="PyTorch side of mmc bench clip-vit-b32-image")
    ap.add_argument("workload", nargs="?", default=NAME, choices=[NAME])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.threads <= 0 or a.steps < 0:
        ap.error("--threads and --steps must be positive")
    torch.set_num_threads(a.threads)
    steps = a.steps or STEPS
    size = dict(S=224, p=32, D=768, L=12, H=12, Fd=3072, P=512)
    B = 8
    if os.environ.get("MMC_BENCH_SMALL", "0") not in ("", "0"):
        size, B = dict(S=64, p=16, D=64, L=2, H=2, Fd=256, P=32), 2
    torch.manual_seed(1)
    model = VisionTower(**size).eval()
    pixels = torch.randn(B, 3, size["S"], size["S"])
    with torch.no_grad():
        peak_reset()
        for _ in range(WARMUP):
            model(pixels)
        t0 = time.perf_counter()
        for _ in range(steps):
            model(pixels)
        dt = time.perf_counter() - t0
    rate = B * steps / dt
    gflops = B * flops_per_image(**size) * steps / dt / 1e9
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    if a.json:
        print(json.dumps({"workload": NAME, "rate": round(rate, 2), "unit": "images/s", "threads": a.threads,
                          "peak_rss_mb": round(rss, 1), "gflops": round(gflops, 2)}))
    else:
        print(f"{NAME}: {rate:.1f} images/s, {gflops:.1f} GFLOP/s ({a.threads} threads, {steps} steps of "
              f"{1e3 * dt / steps:.1f} ms, peak RSS {rss:.0f} MB) [PyTorch {torch.__version__}]")


if __name__ == "__main__":
    sys.exit(main())
