#!/usr/bin/python3
"""video_retrieval_ref.py — the PyTorch reference for issue 17: the default text:video dual
encoder (video_retrieval.py's VideoDualEncoder, the same model as `mmc train retrieval
--pair text:video` with no config) trained for the same wall time on the same moving-shapes
world with mmc's recipe, then text->video recall on the test split as `mmc eval` computes it.

Usage: /usr/bin/python3 bench/torch/video_retrieval_ref.py --data DIR [--minutes M]
       [--threads T] [--seed S] [--lang en] [--cache FILE.npz] [--json OUT.json]

Recipe (src/models/retrieval_train.c and retrieval_config.c's defaults): batch 128 clips of
8 frames at 64 px, each epoch a random permutation, one caption per clip drawn at random
each step, a random shift of -3..3 px (edge replication) drawn once per clip and applied to
every frame; AdamW lr 2e-3, weight decay 0.05 on weights only, gradient-norm clipping at 5,
linear warm-up over 100 steps then cosine decay to 1 % of lr over the training time (as a
`--minutes` run of mmc decays over its time); BatchNorm's running statistics recomputed at
the final weights from 16 training batches before evaluating (mmc's bn_recompute 16), then
inference with them.

Data: the manifests' "video" clips are decoded once by the ffmpeg tool (rgb24, every frame:
the world's clips have exactly 8) before the clock starts, as mmc decodes its splits before
training; --cache keeps the decoded frames for the next run. Words: lowercase, punctuation
its own token, every training word, <start> and <end> around each caption, as mmc's word
tokenizer does.

Evaluation: every caption of the test split in the language is a query; R@K is the fraction
whose clip ranks in the top K among all test clips (cosine), as `mmc eval` reports
text->video."""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from video_retrieval import VideoDualEncoder, adamw, count_params  # noqa: E402

FRAMES, SIZE, BATCH, SHIFT = 8, 64, 128, 3
LR, MIN_LR_RATIO, WARMUP, CLIP = 2e-3, 0.01, 100, 5.0


def load_manifest(data, split):
    with open(os.path.join(data, f"manifest-{split}.jsonl"), encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def decode(path):
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    a = np.frombuffer(out, np.uint8)
    n = a.size // (SIZE * SIZE * 3)
    if n < FRAMES or a.size != n * SIZE * SIZE * 3:
        raise SystemExit(f"{path}: {n} frames of {SIZE}x{SIZE} decoded, {FRAMES} wanted")
    idx = [int((i + 0.5) * n / FRAMES) for i in range(FRAMES)]  # uniform, as mmc samples
    return a.reshape(n, SIZE, SIZE, 3)[idx]


def decode_many(paths):
    """one ffmpeg (concat demuxer, no frame-rate conversion) for many clips of exactly FRAMES frames"""
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        for p in paths:
            f.write("file '%s'\n" % os.path.abspath(p).replace("'", "'\\''"))
        listing = f.name
    try:
        out = subprocess.run(["ffmpeg", "-v", "error", "-f", "concat", "-safe", "0", "-i", listing, "-vsync", "0",
                              "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    finally:
        os.unlink(listing)
    a = np.frombuffer(out, np.uint8)
    if a.size != len(paths) * FRAMES * SIZE * SIZE * 3:
        return None  # not FRAMES frames each: decode one by one
    return a.reshape(len(paths), FRAMES, SIZE, SIZE, 3)


def clips_of(data, samples, threads):
    paths = [os.path.join(data, s["video"]) for s in samples]
    chunks = [paths[i: i + 1000] for i in range(0, len(paths), 1000)]
    with ThreadPoolExecutor(max(1, threads)) as ex:
        parts = list(ex.map(decode_many, chunks))
    for k, p in enumerate(parts):
        if p is None:
            with ThreadPoolExecutor(max(1, threads)) as ex:
                parts[k] = np.stack(list(ex.map(decode, chunks[k])))
    return np.concatenate(parts)


def captions(samples, lang):
    key = "captions_zh" if lang == "zh" else "captions"
    return [s[key] for s in samples]


def tokenize(text, lang):
    """as mmc's word tokenizer: lowercase, punctuation split off as its own token (the world's
    captions have commas); Chinese: one token a character"""
    if lang == "zh":
        return list(text.replace(" ", ""))
    return re.findall(r"\w+|[^\w\s]", text.lower())


def encode(texts, vocab, lang, max_len):
    ids = np.zeros((len(texts), max_len), np.int64)
    lengths = np.zeros(len(texts), np.int64)
    for i, t in enumerate(texts):
        toks = [2] + [vocab.get(w, 1) for w in tokenize(t, lang)][: max_len - 2] + [3]
        ids[i, : len(toks)] = toks
        lengths[i] = len(toks)
    return torch.from_numpy(ids), torch.from_numpy(lengths)


def to_input(frames):
    """(B, T, S, S, 3) uint8 -> (B, 3·T, S, S) float in [-1, 1], frame-major like mmc's (B·T, 3, S, S)"""
    x = torch.from_numpy(frames).float().div_(255.0).sub_(0.5).div_(0.5)
    b = x.shape[0]
    return x.permute(0, 1, 4, 2, 3).reshape(b, 3 * FRAMES, SIZE, SIZE).contiguous()


def shifted(x, dx, dy):
    """each clip moved by (dx, dy) px with edge replication (mmc's task_images_chw)"""
    out = torch.empty_like(x)
    p = SHIFT
    padded = F.pad(x, (p, p, p, p), mode="replicate")
    for b in range(x.shape[0]):
        out[b] = padded[b, :, p - dy[b]: p - dy[b] + SIZE, p - dx[b]: p - dx[b] + SIZE]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lang", choices=["en", "zh"], default="en")
    ap.add_argument("--cache")
    ap.add_argument("--json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)

    t0 = time.time()
    train, test = load_manifest(a.data, "train"), load_manifest(a.data, "test")
    if a.cache and os.path.exists(a.cache):
        z = np.load(a.cache)
        tr_frames, te_frames = z["train"], z["test"]
    else:
        tr_frames, te_frames = clips_of(a.data, train, a.threads), clips_of(a.data, test, a.threads)
        if a.cache:
            np.savez(a.cache, train=tr_frames, test=te_frames)
    print(f"decoded {len(train)} + {len(test)} clips in {time.time() - t0:.1f} s", flush=True)

    tr_caps = captions(train, a.lang)
    words = sorted({w for cs in tr_caps for c in cs for w in tokenize(c, a.lang)})
    vocab = {w: i + 4 for i, w in enumerate(words)}
    max_len = max(len(tokenize(c, a.lang)) for cs in tr_caps for c in cs) + 2
    model = VideoDualEncoder(len(vocab) + 4).train()
    opt = adamw(model, LR)
    print(f"model: {count_params(model)} parameters, vocab {len(vocab) + 4}, max_len {max_len}; "
          f"training {a.minutes} min on {a.threads} threads", flush=True)

    n, budget, step, spe = len(train), a.minutes * 60.0, 0, len(train) // BATCH
    perm, start = None, time.time()
    while True:
        elapsed = time.time() - start
        if elapsed >= budget:
            break
        if step % spe == 0:
            perm = rng.permutation(n)
        idx = perm[(step % spe) * BATCH: (step % spe + 1) * BATCH]
        texts = [tr_caps[i][rng.integers(len(tr_caps[i]))] for i in idx]
        dx, dy = rng.integers(-SHIFT, SHIFT + 1, BATCH), rng.integers(-SHIFT, SHIFT + 1, BATCH)
        x = shifted(to_input(tr_frames[idx]), dx, dy)
        ids, lengths = encode(texts, vocab, a.lang, max_len)
        lr = LR * (step + 1) / WARMUP if step < WARMUP else \
            LR * (MIN_LR_RATIO + (1 - MIN_LR_RATIO) * 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed / budget))))
        for g in opt.param_groups:
            g["lr"] = lr
        loss = model.loss(model.encode_video(x), model.encode_text(ids, lengths))
        opt.zero_grad(set_to_none=False)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        step += 1
        if step % 500 == 0:
            print(f"step {step}  loss {loss.item():.4f}  lr {lr:.2e}  elapsed {elapsed:.0f} s", flush=True)
    train_s = time.time() - start

    # precise BN: the running statistics at the final weights from 16 training batches
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None  # a cumulative average
        for b in range(16):
            idx = rng.permutation(n)[:BATCH]
            model.encode_video(to_input(tr_frames[idx]))
    model.eval()
    with torch.no_grad():
        ve = torch.cat([model.encode_video(to_input(te_frames[i: i + 100])) for i in range(0, len(test), 100)])
        te_caps = captions(test, a.lang)
        q_texts = [c for cs in te_caps for c in cs]
        q_clip = torch.tensor([i for i, cs in enumerate(te_caps) for _ in cs])
        ids, lengths = encode(q_texts, vocab, a.lang, max_len)
        te = model.encode_text(ids, lengths)
        sim = te @ ve.t()
        rank = (sim > sim[torch.arange(len(q_texts)), q_clip].unsqueeze(1)).sum(1) + 1
    r = {k: float((rank <= k).float().mean()) for k in (1, 5, 10)}
    out = {"steps": step, "train_seconds": round(train_s, 1), "threads": a.threads, "lang": a.lang, "seed": a.seed,
           "text_to_video": {"R@1": r[1], "R@5": r[5], "R@10": r[10]}, "n_queries": len(q_texts), "n_clips": len(test),
           "torch": torch.__version__}
    print(json.dumps(out), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    sys.exit(main())
