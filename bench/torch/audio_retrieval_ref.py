#!/usr/bin/python3
"""audio_retrieval_ref.py — the PyTorch reference for speech -> image retrieval: the default
audio:image model (audio_retrieval.py's AudioDualEncoder, the same model as `mmc train
retrieval --pair audio:image` with no config: image cnn, audio tower, transcript tower, three
InfoNCE terms with one logit scale) trained for the same wall time on the spoken shapes world
with mmc's recipe, then audio->image and image->audio recall on the test split as `mmc eval`
computes them.

Usage: OMP_WAIT_POLICY=passive /usr/bin/python3 bench/torch/audio_retrieval_ref.py --data DIR
       [--minutes M] [--threads T] [--seed S] [--lang en|zh] [--cache FILE.npz]
       [--json OUT.json] [--max-clips N] [--spec-warp W] [--spec-stretch S]

Set OMP_WAIT_POLICY=passive whenever anything else is running on the machine (another
training run, mmc itself): PyTorch's OpenMP threads spin while they wait, and on
oversubscribed cores that made its steps ~10x slower (audio_retrieval.py's note).

Model: AudioDualEncoder unchanged (the same parameter names and count, 815,505 at vocab 64 and
64 px; vocab V adds 64·(V - 64)), only its audio forward is replaced to take clips of different
lengths as mmc's enc_audio_forward does: after each Conv1d + GELU the steps past the clip's
own length ((n - 1) // 2 + 1 per stride-2 conv) are zeroed; the bidirectional GRU runs on
pack_padded_sequence (each clip at its own length, the backward direction from its last real
step); the mean of its outputs over the clip's real steps. An embedding therefore does not
depend on the batch's padding.

GELU's gradient is made contiguous first (GradContiguous, audio_retrieval.py): torch 1.13's CPU gelu_backward
takes the oneDNN path whenever GELU's input is contiguous and then reads a non-contiguous
incoming gradient wrongly — here the last conv's, which comes back through the transpose to
(B, T', C) — giving garbage (values up to 1e38, inf, NaN) that changes from run to run. With
it the audio convs trained on noise: the loss stayed at ~14.6-14.9 (3·ln 128 = 14.56) and
went NaN after ~60 steps. (Check: torch.ops.aten.gelu_backward(g.transpose(1, 2), x) against
the same with g.contiguous().)

Recipe (src/models/retrieval_train.c, retrieval_config.c's and encoder_audio.c's defaults):
  items  an epoch goes over CLIPS: every spoken caption in --lang of the spoken training
         samples (a prefix of the manifest, as mmc takes it), each paired with its sample's
         image and its own transcript ("text");
  order  each epoch a random permutation, cut into runs of 32 batches (bucket_batches 32);
         each run sorted by clip length (ties by clip index), its batches put in a random
         order; spe = clips // 128 batches an epoch (the last clips of the permutation wait);
  batch  128 clips, each padded with 0 to the batch's longest; SpecAugment per clip: 2
         frequency masks of width U{0..8} bands and 2 time masks of width U{0..10} frames
         (cut to the clip's length) inside the clip's own frames, set to 0; --spec-warp W and
         --spec-stretch S (default 0.15 each, mmc's defaults; 0: off) as enc_audio_warp:
         bands read at f·alpha, frames stretched by beta (the clip's length becomes
         round(F·beta)), bilinear, alpha and beta uniform in 1 ± W and 1 ± S; the image
         shifted by -3..3 px in x and y (edge replication), in [-1, 1];
  optim  AdamW lr 2e-3, weight decay 0.05 on weights only, gradient-norm clipping at 5,
         linear warm-up over 100 steps then cosine decay to 1 % of lr over the training time;
         the logit scale clamped at log 100 after each step, and the run stops on a
         non-finite loss or gradient norm (train_loop.c's step);
  BN     before evaluating, BatchNorm's running statistics recomputed at the final weights
         from 16 batches of unshifted training images (fewer when the spoken samples do not
         fill 16), as mmc's bn_recompute 16.

Data: every sound file is decoded to 16 kHz mono float by the sox tool (a thread pool of
--threads workers) and turned into Whisper's log-mel (tools/gen_audio_fixtures.py's
slaney_filters and log_mel: n_fft 400, hop 160, periodic Hann, centre reflect padding, the last
frame dropped, power, 80 Slaney mel bands, log10 clamped at max - 8, (x + 4) / 4), at most 3000
frames (audio_max_frames), then kept as one byte per value between the clip's own minimum and
maximum, as mmc's task_audio.c keeps them — all before the clock starts; images by ffmpeg
(rgb24). --cache FILE.npz keeps both for the next run (it is re-made when the data folder, the
language or --max-clips differ). Words: lowercase (NFC), punctuation its own token, the vocabulary of
every caption of the spoken training samples (mmc's train_vocab over the split's captions,
which hold the transcripts), <start> and <end> around each text; --lang zh: one token per
ideograph, digit or punctuation mark (mmc's char tokenizer).

--max-clips N (for quick tests): only the first samples whose clips number at most N, in the
training AND the test split.

Evaluation: every test clip in the language is a query against the test split's spoken
samples' images (cosine); audio->image rank = 1 + images scoring strictly above the clip's
own; image->audio rank = 1 + clips scoring strictly above the image's best-ranked clip (an
image without clips ranks last), as mmc_retrieval_recall. Output: progress lines about every
10 s, then one JSON object (also written to --json)."""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from audio_retrieval import AudioDualEncoder, GradContiguous, adamw, count_params  # noqa: E402
from gen_audio_fixtures import log_mel, slaney_filters  # noqa: E402

SIZE, BATCH, SHIFT, BUCKET = 64, 128, 3, 32
LR, MIN_LR_RATIO, WARMUP, CLIP, BN_BATCHES = 2e-3, 0.01, 100, 5.0, 16
RATE, N_FFT, HOP, MELS, MAX_FRAMES = 16000, 400, 160, 80, 3000
FREQ_MASKS, FREQ_WIDTH, TIME_MASKS, TIME_WIDTH = 2, 8, 2, 10
FILTERS = slaney_filters(RATE, N_FFT, MELS)


# ------------------------------------------------------------------ the model
class AudioRefEncoder(AudioDualEncoder):
    """AudioDualEncoder with clips of different lengths, as mmc's enc_audio_forward."""

    def encode_audio(self, mel, lengths):
        """mel (B, n_mels, T) padded with 0; lengths (B) int64: clip b's first lengths[b] frames are real"""
        h, n = mel, lengths.clone()
        mods = list(self.audio_conv)
        for conv, act in zip(mods[0::2], mods[1::2]):
            h = GradContiguous.apply(act(conv(h)))
            n = (n + 2 * conv.padding[0] - conv.kernel_size[0]) // conv.stride[0] + 1
            keep = torch.arange(h.shape[2]).unsqueeze(0) < n.unsqueeze(1)  # (B, T')
            h = h * keep.unsqueeze(1).to(h.dtype)
        h = h.transpose(1, 2)  # (B, T', C)
        packed = pack_padded_sequence(h, n, batch_first=True, enforce_sorted=False)
        out, _ = self.audio_rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=h.shape[1])  # (B, T', 2H), 0 past n
        mean = out.sum(1) / n.unsqueeze(1).to(out.dtype)
        return F.normalize(self.audio_proj(mean), dim=-1)


# ------------------------------------------------------------------ data
def load_manifest(data, split):
    with open(os.path.join(data, f"manifest-{split}.jsonl"), encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def spoken(samples, lang, max_clips):
    """The spoken prefix (as task_split_load_audio): samples while each has a clip in lang;
    with max_clips, only while the clips number at most that. -> (samples, clips), clips
    as (sample index, path, text)."""
    clips, k = [], 0
    for s in samples:
        mine = [a for a in s.get("audio", []) if a.get("lang") == lang]
        if not mine or (max_clips and k > 0 and len(clips) + len(mine) > max_clips):
            break
        clips += [(k, a["path"], a["text"]) for a in mine]
        k += 1
    return samples[:k], clips


def decode_audio(path):
    """sox -> 16 kHz mono float32 -> Whisper log-mel (n_mels, T), at most MAX_FRAMES frames"""
    out = subprocess.run(["sox", "-V1", "-D", path, "-t", "f32", "-c", "1", "-r", str(RATE), "-"],
                         check=True, capture_output=True).stdout
    x = np.frombuffer(out, np.float32)[: (MAX_FRAMES + 1) * HOP].copy()  # the frames kept, and one (task_audio.c)
    if x.size < N_FFT // 2 + 1:  # reflect padding needs n_fft/2 + 1 samples
        x = np.pad(x, (0, N_FFT // 2 + 1 - x.size))
    mel = log_mel(x, FILTERS, N_FFT, HOP, torch.float32).numpy()[:, :MAX_FRAMES]
    lo, hi = float(mel.min()), float(mel.max())
    sc = (hi - lo) / 255.0 if hi > lo else 1.0
    return np.rint((mel - lo) / sc).astype(np.uint8), lo, sc


def audio_of(data, clips, threads):
    """every clip decoded: (q flat uint8, off (n + 1), frames (n), lo (n), scale (n))"""
    with ThreadPoolExecutor(max(1, threads)) as ex:
        parts = list(ex.map(lambda c: decode_audio(os.path.join(data, c[1])), clips))
    frames = np.array([p[0].shape[1] for p in parts], np.int64)
    off = np.concatenate([[0], np.cumsum(frames * MELS)]).astype(np.int64)
    q = np.concatenate([p[0].ravel() for p in parts]) if parts else np.zeros(0, np.uint8)
    return {"q": q, "off": off, "frames": frames, "lo": np.array([p[1] for p in parts], np.float32),
            "scale": np.array([p[2] for p in parts], np.float32)}


def clip_mel(a, i):
    """clip i as float (n_mels, frames)"""
    F_ = int(a["frames"][i])
    q = a["q"][a["off"][i]: a["off"][i + 1]].reshape(MELS, F_)
    return a["lo"][i] + a["scale"][i] * q.astype(np.float32)


def decode_image(path):
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    if len(out) != SIZE * SIZE * 3:
        raise SystemExit(f"{path}: not a {SIZE}x{SIZE} image")
    return np.frombuffer(out, np.uint8).reshape(SIZE, SIZE, 3)


def decode_images(paths):
    """one ffmpeg (concat demuxer) for many images; None when the count comes out wrong"""
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
    if a.size != len(paths) * SIZE * SIZE * 3:
        return None
    return a.reshape(len(paths), SIZE, SIZE, 3)


def images_of(data, samples, threads):
    paths = [os.path.join(data, s["image"]) for s in samples]
    chunks = [paths[i: i + 1000] for i in range(0, len(paths), 1000)]
    with ThreadPoolExecutor(max(1, threads)) as ex:
        parts = list(ex.map(decode_images, chunks))
    for k, p in enumerate(parts):
        if p is None:
            with ThreadPoolExecutor(max(1, threads)) as ex:
                parts[k] = np.stack(list(ex.map(decode_image, chunks[k])))
    return np.concatenate(parts)


def to_input(pixels, dx=None, dy=None):
    """(B, S, S, 3) uint8 -> (B, 3, S, S) in [-1, 1] (x / 127.5 - 1), each image moved by
    (dx, dy) px with edge replication (task_images_chw)"""
    x = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).float().mul_(1 / 127.5).sub_(1.0)
    if dx is None:
        return x.contiguous()
    p = SHIFT
    padded = F.pad(x, (p, p, p, p), mode="replicate")
    out = torch.empty_like(x)
    for b in range(x.shape[0]):
        out[b] = padded[b, :, p - dy[b]: p - dy[b] + SIZE, p - dx[b]: p - dx[b] + SIZE]
    return out


# ------------------------------------------------------------------ words
def _is_punct(c):
    o = ord(c)
    return 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126 or unicodedata.category(c).startswith("P")


def _is_sep(c):
    return c.isspace() or (unicodedata.category(c) in ("Cc", "Cf") and c not in "\t\n\r")


def _is_cjk(c):
    o = ord(c)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2A6DF or 0x2A700 <= o <= 0x2B73F
            or 0x2B740 <= o <= 0x2B81F or 0x2B820 <= o <= 0x2CEAF or 0xF900 <= o <= 0xFAFF or 0x2F800 <= o <= 0x2FA1F)


def _is_word_char(c):
    return not _is_cjk(c) and unicodedata.category(c)[0] in "LM"


def tokenize(text, lang):
    """mmc's WORD tokenizer (en: whitespace separates, each punctuation mark a token, the
    rest runs together) or CHAR tokenizer (zh: one token per ideograph, digit, punctuation
    or symbol; runs of other letters are words), after NFC and lowercasing"""
    s = unicodedata.normalize("NFC", text).lower()
    toks, i, n = [], 0, len(s)
    while i < n:
        if _is_sep(s[i]):
            i += 1
            continue
        j = i + 1
        if lang == "zh":
            if _is_word_char(s[i]):
                while j < n and _is_word_char(s[j]):
                    j += 1
        elif not _is_punct(s[i]):
            while j < n and not _is_sep(s[j]) and not _is_punct(s[j]):
                j += 1
        toks.append(s[i:j])
        i = j
    return toks


def build_vocab(texts, lang):
    """specials <pad> <unk> <start> <end>, then the tokens most frequent first (ties in byte order)"""
    count = {}
    for t in texts:
        for w in tokenize(t, lang):
            count[w] = count.get(w, 0) + 1
    words = sorted(count, key=lambda w: (-count[w], w.encode("utf-8")))
    return {w: i + 4 for i, w in enumerate(words)}


def encode(texts, vocab, lang, max_len):
    """ids (B, longest) with 0 padding, and lengths (with <start> and <end>)"""
    rows = [[2] + [vocab.get(w, 1) for w in tokenize(t, lang)][: max_len - 2] + [3] for t in texts]
    L = max(len(r) for r in rows)
    ids = np.zeros((len(rows), L), np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    return torch.from_numpy(ids), torch.tensor([len(r) for r in rows], dtype=torch.int64)


# ------------------------------------------------------------------ augmentation
def warp(x, alpha, beta, tout):
    """enc_audio_warp: x (M, F) -> (M, n) with n = round(F·beta) in 1..tout; band f read at
    f·alpha (past the top band: the top band), frame t at t·(F-1)/(n-1), bilinear"""
    M, F_ = x.shape
    n = int(np.rint(np.float32(F_) * np.float32(beta)))
    n = 1 if n < 1 else tout if n > tout else n
    sf = np.arange(M, dtype=np.float32) * np.float32(alpha)
    f0 = sf.astype(np.int64)
    wf = sf - f0
    top = f0 >= M - 1
    f0[top], wf[top] = M - 1, 0.0
    f1 = np.minimum(f0 + 1, M - 1)
    st = (np.arange(n, dtype=np.float32) * np.float32(F_ - 1) / np.float32(n - 1)) if n > 1 else np.zeros(1, np.float32)
    t0 = st.astype(np.int64)
    wt = st - t0
    t1 = np.minimum(t0 + 1, F_ - 1)
    a, b = x[f0], x[f1]
    lo = a[:, t0] + wt * (a[:, t1] - a[:, t0])
    hi = b[:, t0] + wt * (b[:, t1] - b[:, t0])
    return lo + wf[:, None] * (hi - lo)


def specaugment(x, length, rng):
    """enc_audio_specaugment on one clip x (M, T) in place, inside its first `length` frames"""
    M = x.shape[0]
    for _ in range(FREQ_MASKS):
        w = int(rng.integers(FREQ_WIDTH + 1))
        f0 = int(rng.integers(M - w + 1))
        x[f0: f0 + w, :length] = 0.0
    for _ in range(TIME_MASKS):
        w = min(int(rng.integers(TIME_WIDTH + 1)), length)
        t0 = int(rng.integers(length - w + 1))
        x[:, t0: t0 + w] = 0.0


def bucket_epoch(perm, frames, B, rng):
    """bucket_epoch: runs of BUCKET batches, each sorted by clip length (ties by index), its
    batches in a random order"""
    run, n = BUCKET * B, perm.size
    for at in range(0, n, run):
        m = min(run, n - at)
        seg = perm[at: at + m]
        seg = seg[np.lexsort((seg, frames[seg]))]
        nb = m // B
        if nb >= 2:
            order = rng.permutation(nb)
            seg[: nb * B] = seg[: nb * B].reshape(nb, B)[order].ravel()
        perm[at: at + m] = seg
    return perm


# ------------------------------------------------------------------ evaluation
def recall(ranks):
    r = np.sort(ranks)
    n = r.size
    med = float(r[n // 2]) if n % 2 else 0.5 * (r[n // 2 - 1] + r[n // 2])
    return {"R@1": float((r <= 1).mean()), "R@5": float((r <= 5).mean()), "R@10": float((r <= 10).mean()), "median_rank": med}


def embed_clips(model, a, n):
    """every clip through the audio tower, 128 at a time in order of length"""
    order = np.argsort(a["frames"][:n], kind="stable")
    out = torch.empty(n, model.audio_proj.out_features)
    for at in range(0, n, BATCH):
        idx = order[at: at + BATCH]
        lens = a["frames"][idx]
        mel = torch.zeros(len(idx), MELS, int(lens.max()))
        for b, i in enumerate(idx):
            mel[b, :, : lens[b]] = torch.from_numpy(clip_mel(a, i))
        out[torch.from_numpy(idx)] = model.encode_audio(mel, torch.from_numpy(lens.astype(np.int64)))
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
    ap.add_argument("--max-clips", type=int, default=0, help="only the first samples with at most N clips (train and test): for tests")
    ap.add_argument("--spec-warp", type=float, default=0.15, help="0.15 as mmc's spec_warp; 0: off")
    ap.add_argument("--spec-stretch", type=float, default=0.15, help="0.15 as mmc's spec_stretch; 0: off")
    a = ap.parse_args()
    if a.threads < 1 or a.minutes <= 0 or a.max_clips < 0 or not 0 <= a.spec_warp <= 0.5 or not 0 <= a.spec_stretch <= 0.5:
        ap.error("--threads >= 1, --minutes > 0, --max-clips >= 0, --spec-warp and --spec-stretch in 0..0.5")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)

    t0 = time.time()
    train, tr_clips = spoken(load_manifest(a.data, "train"), a.lang, a.max_clips)
    test, te_clips = spoken(load_manifest(a.data, "test"), a.lang, a.max_clips)
    if not train or not test:
        raise SystemExit(f"{a.data}: the first {'training' if not train else 'test'} sample has no spoken caption in '{a.lang}'")
    meta = np.array([os.path.abspath(a.data), a.lang, str(a.max_clips), str(len(tr_clips)), str(len(te_clips))])
    z = np.load(a.cache) if a.cache and os.path.exists(a.cache) else None
    if z is not None and "meta" in z and list(z["meta"]) == list(meta):
        tr_a = {k: z["train_" + k] for k in ("q", "off", "frames", "lo", "scale")}
        te_a = {k: z["test_" + k] for k in ("q", "off", "frames", "lo", "scale")}
        tr_px, te_px = z["train_images"], z["test_images"]
        how = f"read from {a.cache}"
    else:
        tr_a, te_a = audio_of(a.data, tr_clips, a.threads), audio_of(a.data, te_clips, a.threads)
        tr_px, te_px = images_of(a.data, train, a.threads), images_of(a.data, test, a.threads)
        if a.cache:
            np.savez(a.cache, meta=meta, train_images=tr_px, test_images=te_px,
                     **{"train_" + k: v for k, v in tr_a.items()}, **{"test_" + k: v for k, v in te_a.items()})
        how = "decoded"
    print(f"{len(tr_clips)} + {len(te_clips)} {a.lang} clips of {len(train)} + {len(test)} samples {how} in "
          f"{time.time() - t0:.1f} s ({tr_a['q'].nbytes >> 20} MB of training log-mel)", flush=True)

    cap_key = "captions_zh" if a.lang == "zh" else "captions"
    caps = [c for s in train for c in s[cap_key]]
    vocab = build_vocab(caps, a.lang)
    max_len = min(128, max(len(tokenize(c, a.lang)) for c in caps) + 2)
    V = len(vocab) + 4
    model = AudioRefEncoder(V).train()
    opt = adamw(model, LR)
    n_params = count_params(model)
    ref64 = count_params(AudioDualEncoder(64))
    print(f"model: {n_params:,} parameters (vocab {V}; at vocab 64: {n_params - 64 * (V - 64):,}, audio_retrieval.py "
          f"{ref64:,}), max_len {max_len}; training {a.minutes} min on {a.threads} threads, spec_warp {a.spec_warp}, "
          f"spec_stretch {a.spec_stretch}", flush=True)

    frames = tr_a["frames"]
    n = len(tr_clips)
    B = min(BATCH, n)
    spe = n // B
    tmax = int(frames.max())
    if a.spec_stretch > 0:
        tmax = min(int(math.ceil(tmax * (1 + a.spec_stretch))) + 1, MAX_FRAMES)
    clip_sample = np.array([c[0] for c in tr_clips])
    tr_texts = [c[2] for c in tr_clips]
    print(f"{n} training clips, longest {int(frames.max())} frames, batch {B}, {spe} steps/epoch", flush=True)

    budget, step, perm, start = a.minutes * 60.0, 0, None, time.time()
    last_print, last_step, loss, lr = start, 0, None, LR
    while True:
        now = time.time()
        elapsed = now - start
        if elapsed >= budget:
            break
        if now - last_print >= 10.0 and loss is not None:
            print(f"step {step}  loss {loss.item():.4f}  lr {lr:.2e}  {B * (step - last_step) / (now - last_print):.1f} clips/s"
                  f"  elapsed {elapsed:.0f} s", flush=True)
            last_print, last_step = now, step
        if step % spe == 0:
            perm = bucket_epoch(rng.permutation(n), frames, B, rng)
        idx = perm[(step % spe) * B: (step % spe + 1) * B]
        dx, dy = rng.integers(-SHIFT, SHIFT + 1, B), rng.integers(-SHIFT, SHIFT + 1, B)
        alpha = 1 + a.spec_warp * rng.uniform(-1, 1, B) if a.spec_warp > 0 else np.ones(B)
        beta = 1 + a.spec_stretch * rng.uniform(-1, 1, B) if a.spec_stretch > 0 else np.ones(B)
        mels = []
        for b, i in enumerate(idx):
            x = clip_mel(tr_a, i)
            if alpha[b] != 1 or beta[b] != 1:
                x = warp(x, alpha[b], beta[b], tmax)
            mels.append(x)
        lens = np.array([x.shape[1] for x in mels], np.int64)
        mel = np.zeros((B, MELS, int(lens.max())), np.float32)
        for b, x in enumerate(mels):
            mel[b, :, : x.shape[1]] = x
            specaugment(mel[b], int(lens[b]), rng)
        images = to_input(tr_px[clip_sample[idx]], dx, dy)
        ids, tlen = encode([tr_texts[i] for i in idx], vocab, a.lang, max_len)
        lr = LR * (step + 1) / WARMUP if step < WARMUP else \
            LR * (MIN_LR_RATIO + (1 - MIN_LR_RATIO) * 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed / budget))))
        for g in opt.param_groups:
            g["lr"] = lr
        loss = model.loss(model.encode_image(images), model.encode_audio(torch.from_numpy(mel), torch.from_numpy(lens)),
                          model.encode_text(ids, tlen))
        opt.zero_grad(set_to_none=False)
        if not math.isfinite(loss.item()):  # as train_loop.c: stop, do not train on
            raise SystemExit(f"loss is {loss.item()} at step {step + 1} (diverged)")
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        if not math.isfinite(gn.item()):
            raise SystemExit(f"gradient norm is {gn.item()} at step {step + 1} (diverged)")
        opt.step()
        with torch.no_grad():  # as train_loop.c: the scale itself clamped at log 100
            model.logit_scale.clamp_(max=math.log(100.0))
        step += 1
    train_s = time.time() - start
    print(f"trained {step} steps ({step * B} clips, {step * B / train_s:.1f} clips/s) in {train_s:.1f} s; final loss "
          f"{loss.item() if loss is not None else float('nan'):.4f}", flush=True)

    # precise BN: the running statistics at the final weights from (up to) 16 batches of training images
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None  # a cumulative average: batch k folded in with 1/k
        bperm = rng.permutation(len(train))
        for k in range(max(1, min(BN_BATCHES, len(train) // B))):
            model.encode_image(to_input(tr_px[bperm[k * B: (k + 1) * B]]))
    model.eval()
    with torch.no_grad():
        ie = torch.cat([model.encode_image(to_input(te_px[i: i + 256])) for i in range(0, len(test), 256)])
        ae = embed_clips(model, te_a, len(te_clips))
        sim = ae @ ie.t()  # (clips, images)
        q_img = np.array([c[0] for c in te_clips])
        own = sim[torch.arange(len(te_clips)), torch.from_numpy(q_img)]
        a2i = ((sim > own.unsqueeze(1)).sum(1) + 1).numpy()
        best = np.full(len(test), -np.inf, np.float32)
        np.maximum.at(best, q_img, own.numpy())  # each image's best-ranked clip
        i2a = ((sim > torch.from_numpy(best).unsqueeze(0)).sum(0) + 1).numpy()
        i2a[np.isinf(best)] = len(te_clips) + 1  # an image no clip describes cannot be found
    r_a2i, r_i2a = recall(a2i), recall(i2a)
    rsum = 100 * sum(r[k] for r in (r_a2i, r_i2a) for k in ("R@1", "R@5", "R@10"))
    out = {"steps": step, "train_seconds": round(train_s, 1), "clips_per_s": round(step * B / train_s, 2),
           "threads": a.threads, "lang": a.lang, "seed": a.seed, "spec_warp": a.spec_warp, "spec_stretch": a.spec_stretch,
           "params": n_params, "vocab": V, "n_train_clips": n, "n_train_samples": len(train),
           "audio_to_image": r_a2i, "image_to_audio": r_i2a, "rsum": round(rsum, 2),
           "n_queries": len(te_clips), "n_images": len(test), "max_clips": a.max_clips, "torch": torch.__version__}
    print(json.dumps(out), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    sys.exit(main())
