#!/usr/bin/python3
"""audio_retrieval.py — the default audio:image dual encoder of `mmc train retrieval --pair
audio:image` in PyTorch: the audio-retrieval-train workload of `mmc bench` (for bench/run.sh).

Usage: /usr/bin/python3 bench/torch/audio_retrieval.py [audio-retrieval-train] [--threads T]
       [--steps N] [--json] [--memory-format contiguous|channels_last]

The model (src/models/encoder_audio.c "gru", retrieval_encoders.c, the defaults of
retrieval_config.c, transcripts 1: three towers):
  image  a cnn of four stages [Conv2d 3×3 stride 2 padding 1 without bias, BatchNorm2d,
         ReLU] of 16-32-64-128 channels on 64 px, the 4×4 map flattened (channel-major,
         2048) and projected to 128;
  audio  log-mel clips (B, 80, Tf) through 3 Conv1d (kernel 3, padding 1, 128 channels, with
         bias), stride 2 each, GELU (erf) after each; a 1-layer bidirectional GRU(128, 128)
         (batch_first); the mean of its outputs over the steps (every clip has the same
         length, so no packing and no mask: PyTorch's fastest formulation); Linear(256, 128);
  text   the clips' transcripts: Embedding(V, 64), a 1-layer GRU(64, 128) (batch_first), the
         state after each text's last real token, Linear(128, 128);
all L2-normalised; the loss is the sum of three symmetric InfoNCE terms (image-audio,
image-text, text-audio, as retrieval_train.c) with ONE learnable logit scale (init
log(1/0.07), clamped at log 100 as mmc does); AdamW (lr 2e-3, weight decay 0.05 on the
weights only, as mmc's train loop). 815,505 parameters at V = 64 (569,745 at 16 px, where the
cnn ends at 1×1 and the image projection is 128 -> 128).

Workload: batch 128 clips of Tf = 400 frames (4 s) of N(0, 1) log-mels, U(-1, 1) images of
64 px, 16-token transcripts uniform in 4..63; one step = the three towers, the loss,
backward, optimizer step, zero_grad, as src/cli/bench.c; 1 warm-up step + N timed (default
3). --memory-format: how the images and the cnn's weights are laid out (the audio and text
towers are not 4-D and do not change); see DEFAULT_FORMAT below. --json prints one object:
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

NAME = "audio-retrieval-train"
WARMUP, STEPS = 1, 3
B, T, S, V = 128, 16, 64, 64
MELS, FRAMES = 80, 400
WIDTHS = (16, 32, 64, 128)
AUDIO_CHANNELS, AUDIO_CONVS, AUDIO_STRIDE, AUDIO_HIDDEN = 128, 3, 8, 128
# channels_last vs contiguous: four rounds of 1 warm-up + 2 steps at 2 threads, each order
# twice, OMP_WAIT_POLICY=passive, while another job kept ~1.3 of this machine's 2 cores busy
# (single noisy samples): channels_last 273, 249, 255, 270 clips/s, contiguous 276, 260, 237,
# 268 — a tie; the cnn is a small part of this step (the audio tower and the GRUs are the
# rest). channels_last, the faster for video_retrieval.py, stays the default. (Without
# OMP_WAIT_POLICY=passive, OpenMP's spinning threads on the oversubscribed cores made both
# ~10x slower, 18-20 clips/s: compare on a quiet machine or with passive waits.)
DEFAULT_FORMAT = "channels_last"


class GradContiguous(torch.autograd.Function):
    """identity whose backward makes the gradient contiguous: torch 1.13's CPU gelu_backward
    (the oneDNN path, taken when GELU's input is contiguous) misreads a non-contiguous one"""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return g.contiguous()


class AudioDualEncoder(nn.Module):
    def __init__(self, vocab, size=S, mels=MELS, embed=128, word=64, hidden=128, grid=4,
                 channels=AUDIO_CHANNELS, convs=AUDIO_CONVS, stride=AUDIO_STRIDE, audio_hidden=AUDIO_HIDDEN):
        super().__init__()
        # image tower
        layers, cin, side = [], 3, size
        for w in WIDTHS:
            layers += [nn.Conv2d(cin, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            cin, side = w, (side - 1) // 2 + 1
        self.cnn = nn.Sequential(*layers)
        self.grid = min(grid, side)
        self.pool = side // self.grid
        self.image_proj = nn.Linear(cin * self.grid * self.grid, embed)
        # text tower (the transcripts)
        self.embedding = nn.Embedding(vocab, word)
        self.rnn = nn.GRU(word, hidden, batch_first=True)
        self.text_proj = nn.Linear(hidden, embed)
        # audio tower: the first log2(stride) convs have stride 2
        l2 = {1: 0, 2: 1, 4: 2, 8: 3}[stride]
        conv, cin = [], mels
        for k in range(convs):
            conv += [nn.Conv1d(cin, channels, 3, stride=2 if k < l2 else 1, padding=1), nn.GELU()]
            cin = channels
        self.audio_conv = nn.Sequential(*conv)
        self.audio_rnn = nn.GRU(channels, audio_hidden, batch_first=True, bidirectional=True)
        self.audio_proj = nn.Linear(2 * audio_hidden, embed)
        self.logit_scale = nn.Parameter(torch.tensor([math.log(1 / 0.07)]))

    def encode_image(self, images):
        h = self.cnn(images)
        if self.pool > 1:
            h = F.avg_pool2d(h, self.pool)
        return F.normalize(self.image_proj(h.flatten(1)), dim=-1)

    def encode_audio(self, mel):
        """mel (B, n_mels, Tf), every clip Tf frames long"""
        # the last GELU's gradient comes back through the transpose: made contiguous, or torch
        # 1.13's oneDNN gelu_backward misreads it (GradContiguous)
        h = GradContiguous.apply(self.audio_conv(mel)).transpose(1, 2)  # (B, T', C)
        out, _ = self.audio_rnn(h)  # (B, T', 2H)
        return F.normalize(self.audio_proj(out.mean(1)), dim=-1)

    def encode_text(self, ids, lengths):
        out, _ = self.rnn(self.embedding(ids))
        last = out[torch.arange(ids.shape[0]), lengths - 1]  # the state after the last real token
        return F.normalize(self.text_proj(last), dim=-1)

    def infonce(self, a, b):
        logits = self.logit_scale.clamp(max=math.log(100.0)).exp() * b @ a.t()
        labels = torch.arange(a.shape[0])
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2

    def loss(self, ie, ae, te):
        """image-audio + image-text + text-audio, as retrieval_train.c's loss"""
        return self.infonce(ie, ae) + (self.infonce(ie, te) + self.infonce(te, ae))


def adamw(model, lr=2e-3, weight_decay=0.05):
    """AdamW with decay on the weight matrices and conv kernels only (mmc_optim_no_decay_from_params:
    no decay on biases, norms, embeddings' ... as mmc's loop: here biases, BatchNorm and the logit scale)."""
    decay, no = [], []
    for n, p in model.named_parameters():
        (decay if p.ndim >= 2 and "embedding" not in n else no).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": no, "weight_decay": 0.0}], lr=lr)


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def flops_per_step(model, size=S, frames=FRAMES):
    """As src/cli/bench.c counts: the convs (forward and two backward products), the GRUs'
    three gates over [x, h] at every step (each direction), the three projections and the
    three B × B similarities."""
    lin = lambda rows, i, o: 3 * 2.0 * rows * i * o  # noqa: E731
    f, cin, side = 0.0, 3, size
    for w in WIDTHS:
        side = (side - 1) // 2 + 1
        f += 3 * 2.0 * B * side * side * w * cin * 9
        cin = w
    g = model.grid
    f += lin(B, cin * g * g, 128)
    steps, ain = frames, MELS
    for k in range(AUDIO_CONVS):
        if (1 << k) < AUDIO_STRIDE:
            steps = (steps - 1) // 2 + 1
        f += lin(B * steps, ain * 3, AUDIO_CHANNELS)
        ain = AUDIO_CHANNELS
    f += 2 * lin(B * steps, AUDIO_CHANNELS + AUDIO_HIDDEN, 3 * AUDIO_HIDDEN) + lin(B, 2 * AUDIO_HIDDEN, 128)
    f += lin(B * T, 64 + 128, 3 * 128) + lin(B, 128, 128)
    return f + 3 * lin(B, 128, B)


def peak_reset():
    """Restarts ru_maxrss from what is resident now (Linux), as src/cli/bench.c does."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser(description="PyTorch side of mmc bench audio-retrieval-train")
    ap.add_argument("workload", nargs="?", default=NAME, choices=[NAME])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--memory-format", choices=["contiguous", "channels_last"], default=DEFAULT_FORMAT)
    a = ap.parse_args()
    if a.threads <= 0 or a.steps < 0:
        ap.error("--threads and --steps must be positive")
    torch.set_num_threads(a.threads)
    steps = a.steps or STEPS
    torch.manual_seed(1)
    model = AudioDualEncoder(V).train()
    fmt = torch.channels_last if a.memory_format == "channels_last" else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = adamw(model)
    images = (torch.rand(B, 3, S, S) * 2 - 1).contiguous(memory_format=fmt)
    mel = torch.randn(B, MELS, FRAMES)
    ids = torch.randint(4, V, (B, T))
    lengths = torch.full((B,), T, dtype=torch.long)

    def step():
        loss = model.loss(model.encode_image(images), model.encode_audio(mel), model.encode_text(ids, lengths))
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
