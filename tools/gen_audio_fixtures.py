#!/usr/bin/python3
"""gen_audio_fixtures.py — writes the log-mel parity fixtures (tests/fixtures/audio/).

Usage: /usr/bin/python3 tools/gen_audio_fixtures.py [OUTDIR] [--whisper-npz FILE]

OUTDIR defaults to tests/fixtures/audio. Each fixture is OUTDIR/<name>.safetensors with
    samples  F32 (n,)                the input signal
    config   I64 (4,)                rate, n_fft, hop, n_mels
    band     F32 (2,)                fmin, fmax (fmax 0 = rate / 2), as mmc_logmel_opts has them
    logmel   F32 (n_mels, n / hop)   the reference features
    filters  F32 (n_mels, n_fft/2+1) the Slaney mel filterbank (only in the first fixture
                                     of each configuration, to keep the files small)

The reference is Whisper's log_mel_spectrogram (whisper/audio.py) written out in torch:
torch.hann_window (periodic), torch.stft(center=True, pad_mode="reflect"), the last frame
dropped, |X|^2, filters @ power, log10(clamp(., 1e-10)), max(., max - 8), (. + 4) / 4 —
run in float64 on the float32 samples and float32 filters, rounded once to float32 (the
convention of tools/gen_fixtures.py). The script also runs the same pipeline in float32, as
Whisper itself does, and prints how far that is from the float64 reference, for scale.

The filterbank is librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax) with its defaults
(htk=False: Slaney's mel scale; norm="slaney"), written here in numpy from librosa's
formulas — librosa is not a Debian package — independently of the C code
(src/data/audio_mel.c). As librosa does, the triangles are computed in float64, stored in a
float32 array, then scaled in place by the float64 Slaney factors. --whisper-npz FILE
compares it with Whisper's own whisper/assets/mel_filters.npz (made by librosa) and fails
if they differ by more than 1e-7.

Needs Debian's python3-torch (1.13) and python3-numpy. Deterministic (fixed numpy seeds).
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_fixtures import write_safetensors  # noqa: E402


# ----------------------------------------------------------------- Slaney mel filterbank
F_SP = 200.0 / 3           # Hz per mel below 1 kHz
MIN_LOG_HZ = 1000.0
MIN_LOG_MEL = MIN_LOG_HZ / F_SP
LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(f):
    f = np.asanyarray(f, dtype=np.float64)
    mel = f / F_SP
    log_t = f >= MIN_LOG_HZ
    mel = np.where(log_t, MIN_LOG_MEL + np.log(np.maximum(f, MIN_LOG_HZ) / MIN_LOG_HZ) / LOGSTEP, mel)
    return mel


def mel_to_hz(m):
    m = np.asanyarray(m, dtype=np.float64)
    f = F_SP * m
    log_t = m >= MIN_LOG_MEL
    return np.where(log_t, MIN_LOG_HZ * np.exp(LOGSTEP * (m - MIN_LOG_MEL)), f)


def slaney_filters(sr, n_fft, n_mels, fmin=0.0, fmax=None):
    if fmax is None or fmax == 0:
        fmax = sr / 2.0
    n_bins = 1 + n_fft // 2
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)                       # k * sr / n_fft
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))  # band edges, Hz
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, n_bins), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]              # rising edge, 0 at mel_f[i], 1 at mel_f[i+1]
        upper = ramps[i + 2] / fdiff[i + 1]       # falling edge, 1 at mel_f[i+1], 0 at mel_f[i+2]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])   # Slaney: equal area per band
    weights *= enorm[:, None]
    return weights


# ----------------------------------------------------------------- Whisper's front end
def log_mel(samples, filters, n_fft, hop, dtype):
    audio = torch.from_numpy(samples).to(dtype)
    window = torch.hann_window(n_fft, dtype=dtype)
    stft = torch.stft(audio, n_fft, hop, window=window, center=True, pad_mode="reflect",
                      return_complex=True)
    magnitudes = stft[..., :-1].abs() ** 2
    mel_spec = torch.from_numpy(filters).to(dtype) @ magnitudes
    log_spec = torch.clamp(mel_spec, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).to(torch.float32)


# ----------------------------------------------------------------- the signals
def chirp_noise(sr, seconds, seed):
    """A linear chirp from 100 Hz to 7 kHz, plus white noise (std 0.01)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(sr * seconds))) / sr
    f0, f1 = 100.0, 7000.0
    phase = 2 * np.pi * (f0 * t + (f1 - f0) / (2 * seconds) * t * t)
    return (0.5 * np.sin(phase) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def tones(sr, n, seed):
    """Three tones with a slow vibrato, and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    x = np.zeros(n)
    for f, a in ((220.0, 0.4), (1330.0, 0.2), (3100.0, 0.1)):
        x += a * np.sin(2 * np.pi * f * t + 3.0 * np.sin(2 * np.pi * 5.0 * t))
    return (x + 0.003 * rng.standard_normal(n)).astype(np.float32)


def quiet_tone(sr, seconds, seed):
    """A 1 kHz tone over very faint noise (std 1e-6): most of each spectrum is window
    leakage within the 80 dB kept below the peak, the values where float rounding in the
    DFT shows most."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(sr * seconds))) / sr
    return (0.5 * np.sin(2 * np.pi * 1000.0 * t + 0.3) + 1e-6 * rng.standard_normal(t.size)).astype(np.float32)


def silence_click(sr, seconds):
    """Silence with one click: most frames are exact zeros (log10(1e-10) = -10), so the
    max - 8 clamp decides them."""
    x = np.zeros(int(round(sr * seconds)), dtype=np.float32)
    c = int(0.31 * sr)
    x[c:c + 4] = np.array([0.9, -0.6, 0.3, -0.1], dtype=np.float32)
    return x


def speech_like(sr, seconds, seed):
    """A 'voiced' pulse train at 120-160 Hz through two formant-ish resonances, with noise."""
    rng = np.random.default_rng(seed)
    n = int(round(sr * seconds))
    t = np.arange(n) / sr
    f0 = 140 + 20 * np.sin(2 * np.pi * 2.0 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = np.zeros(n)
    for h in range(1, 30):
        fh = h * f0
        gain = np.exp(-((fh - 700) / 300) ** 2) + 0.5 * np.exp(-((fh - 2200) / 500) ** 2) + 0.02
        x += np.where(fh < sr / 2, gain * np.sin(h * phase), 0.0) / h ** 0.5
    x = 0.3 * x / np.abs(x).max()
    return (x + 0.002 * rng.standard_normal(n)).astype(np.float32)


# (name, signal maker, rate, n_fft, hop, n_mels, fmin, fmax, store filters)
def cases():
    return [
        ("chirp_1s", lambda: chirp_noise(16000, 1.0, 1), 16000, 400, 160, 80, 0.0, 0.0, True),
        ("odd_0p37s", lambda: tones(16000, 5921, 2), 16000, 400, 160, 80, 0.0, 0.0, False),
        ("click_0p5s", lambda: silence_click(16000, 0.5), 16000, 400, 160, 80, 0.0, 0.0, False),
        ("quiet_tone_0p4s", lambda: quiet_tone(16000, 0.4, 6), 16000, 400, 160, 80, 0.0, 0.0, False),
        ("mels128_0p6s", lambda: speech_like(16000, 0.6, 3), 16000, 400, 160, 128, 0.0, 0.0, True),
        # not Whisper: another rate, a power-of-two n_fft, fmin/fmax inside the band
        ("sr22k_nfft1024", lambda: speech_like(22050, 0.5, 4), 22050, 1024, 256, 40, 50.0, 8000.0, True),
        # n_fft 4096: a DFT basis over mmc's whole-basis budget, so it is filled in blocks
        ("nfft4096", lambda: chirp_noise(16000, 0.5, 5), 16000, 4096, 1024, 16, 0.0, 0.0, False),
    ]


def main():
    args = sys.argv[1:]
    npz = None
    if "--whisper-npz" in args:
        i = args.index("--whisper-npz")
        npz = args[i + 1]
        del args[i:i + 2]
    out = args[0] if args else os.path.join(HERE, "..", "tests", "fixtures", "audio")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)

    if npz:
        with np.load(npz) as f:
            for m in (80, 128):
                d = np.abs(slaney_filters(16000, 400, m) - f[f"mel_{m}"]).max()
                print(f"filterbank n_mels {m}: max |numpy - whisper mel_filters.npz| = {d:.3g}")
                if d > 1e-7:
                    sys.exit(f"filterbank n_mels {m} differs from Whisper's by {d}")

    for name, make, sr, n_fft, hop, n_mels, fmin, fmax, keep_filters in cases():
        x = make()
        filters = slaney_filters(sr, n_fft, n_mels, fmin, fmax)
        ref = log_mel(x, filters, n_fft, hop, torch.float64)
        f32 = log_mel(x, filters, n_fft, hop, torch.float32)
        assert ref.shape == (n_mels, x.size // hop), ref.shape
        tensors = {
            "samples": torch.from_numpy(x),
            "config": torch.tensor([sr, n_fft, hop, n_mels], dtype=torch.int64),
            "band": torch.tensor([fmin, fmax], dtype=torch.float32),
            "logmel": ref,
        }
        if keep_filters:
            tensors["filters"] = torch.from_numpy(filters)
        path = os.path.join(out, name + ".safetensors")
        write_safetensors(path, tensors)
        clamped = (ref == ref.min()).float().mean().item()
        print(f"{name}: n {x.size}, {n_mels} x {ref.shape[1]}, {os.path.getsize(path)} bytes; "
              f"float32 torch vs float64 reference: max {(f32 - ref).abs().max().item():.3g}; "
              f"{100 * clamped:.1f}% at the max-8 floor")


if __name__ == "__main__":
    main()
