/* audio_mel.c — log-mel spectrogram features, computed the way Whisper's front end does
 * (whisper/audio.py, log_mel_spectrogram), so that a Whisper-style encoder sees the same
 * numbers it was trained on. In PyTorch that front end is:
 *
 *     window = torch.hann_window(400)                      # periodic Hann
 *     stft = torch.stft(audio, 400, 160, window=window, return_complex=True)
 *     magnitudes = stft[..., :-1].abs() ** 2               # power, last frame dropped
 *     mel = filters @ magnitudes                           # librosa.filters.mel(16000, 400, 80)
 *     log_spec = torch.clamp(mel, min=1e-10).log10()
 *     log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
 *     log_spec = (log_spec + 4.0) / 4.0
 *
 * and here, step by step, for N = n_fft, F = N/2 + 1 frequency bins, M = n_mels bands:
 *
 * 1. Framing (torch.stft's center=True, pad_mode="reflect"). The signal x[0..n) is padded
 *    by N/2 samples at both ends with its own mirror image (x[-i] = x[i],
 *    x[n-1+i] = x[n-1-i]; the edge sample is not repeated), and frame t covers the padded
 *    samples [t·hop, t·hop + N), i.e. x[t·hop - N/2 ...]. The padded signal has
 *    1 + n/hop frames; Whisper drops the last one, so T = n / hop (integer division).
 *    Mirroring needs N/2 < n, which is why shorter inputs are refused.
 *
 * 2. Windowing: w[j] = 0.5 - 0.5·cos(2π j / N), the periodic Hann window (the symmetric
 *    one would divide by N - 1).
 *
 * 3. The real DFT of each windowed frame f[0..N), for k = 0..N/2:
 *        X[k] = Σ_j f[j] · (cos(2π k j / N) - i·sin(2π k j / N))
 *    N = 400 is not a power of two, and a radix-2 FFT would not apply; instead the frames of
 *    a chunk, as the rows of a (T_c × N) matrix, are multiplied by an (N × 2F) basis whose
 *    column k holds cos(2π k j / N) and column F + k holds sin(2π k j / N): one GEMM gives
 *    the real and (negated) imaginary parts of every bin of every frame. That costs
 *    2·N·2F flops per frame (0.32 MFLOP for N = 400, about 2 GFLOP per minute of 16 kHz
 *    audio), which the GEMM runs near the machine's peak. The angles are computed in double
 *    with k·j reduced mod N first (so no angle is ever large), and rounded once to float.
 *
 * 4. Power: P[k] = Re(X[k])² + Im(X[k])².
 *
 * 5. Mel bands: mel[m] = Σ_k W[m][k] · P[k] with W the Slaney filterbank (below): a second
 *    GEMM, (T_c × F) · (F × M).
 *
 * 6. Logs: L = log10(max(mel, 1e-10)); then, over the whole spectrogram (every frame of
 *    the input, so after all chunks), L = max(L, max(L) - 8) — nothing more than 80 dB
 *    below the loudest value; finally (L + 4) / 4, which puts speech roughly in [-1, 1].
 *
 * The Slaney mel filterbank (librosa.filters.mel with htk=False, norm="slaney", the
 * defaults Whisper's mel_filters.npz was made with):
 *   - the mel scale is linear below 1000 Hz and logarithmic above it:
 *         mel(f) = f / (200/3)                                 f < 1000 Hz
 *         mel(f) = 15 + ln(f / 1000) / (ln(6.4) / 27)          f >= 1000 Hz
 *   - M + 2 points equally spaced in mel from mel(fmin) to mel(fmax), turned back into Hz:
 *     f_0 < f_1 < ... < f_{M+1};
 *   - band m is a triangle over FFT bin frequencies b_k = k·rate/N, rising from f_m to a
 *     peak of 1 at f_{m+1} and falling to 0 at f_{m+2}:
 *         W[m][k] = max(0, min((b_k - f_m) / (f_{m+1} - f_m), (f_{m+2} - b_k) / (f_{m+2} - f_{m+1})))
 *   - Slaney's area normalisation scales each triangle by 2 / (f_{m+2} - f_m), so every band
 *     has (about) the same area whatever its width.
 *   Everything is computed in double and rounded once to float.
 *
 * Memory stays bounded for long inputs: frames are processed in chunks of at most
 * CHUNK_MAX_FRAMES (fewer for large n_fft), so a 4-hour file needs about 18 MB of scratch
 * besides its output. Only the output (M × T floats) grows with the input.
 *
 * Accuracy: float accumulation in both GEMMs; against a float64 torch.stft reference the
 * features agree within 3.1e-5 (the tests ask for 1e-4; Whisper's own float32 torch code is
 * up to 1.5e-5 from the same reference): tests/fixtures/audio, tools/gen_audio_fixtures.py.
 */
#include "internal.h"
#include "mmc/data.h"
#include "../ops/blas.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MEL_MAX_NFFT 65536
#define CHUNK_MAX_FRAMES 4096
#define CHUNK_MAX_FLOATS ((size_t)1 << 23)  /* scratch per chunk: 32 MiB at most */
#define BASIS_MAX_FLOATS ((size_t)1 << 24)  /* the DFT basis kept whole up to 64 MiB */
#define LOG_FLOOR 1e-10f                    /* clamp(mel, min=1e-10) */
#define DYNAMIC_RANGE 8.0f                  /* log10 units kept below the maximum (80 dB) */

mmc_logmel_opts mmc_logmel_opts_whisper(void) {
    mmc_logmel_opts o;
    memset(&o, 0, sizeof o);
    o.rate = 16000;
    o.n_fft = 400;
    o.hop = 160;
    o.n_mels = 80;
    o.fmin = 0.0f;
    o.fmax = 0.0f; /* rate / 2 */
    return o;
}

/* Checks the options; *hi_hz gets the upper band edge in Hz (rate / 2 when o->fmax is 0). */
static int check_opts(const mmc_logmel_opts *o, double *hi_hz, mmc_error *err) {
    if (!o) return mmc_error_set(err, MMC_ERR_USAGE, "logmel: no options given");
    if (o->rate < 1 || o->rate > MMC_AUDIO_MAX_RATE)
        return mmc_error_set(err, MMC_ERR_USAGE, "logmel: rate %d Hz is outside 1..%d", o->rate,
                             MMC_AUDIO_MAX_RATE);
    if (o->n_fft < 2 || o->n_fft > MEL_MAX_NFFT || o->n_fft % 2 != 0)
        return mmc_error_set(err, MMC_ERR_USAGE, "logmel: n_fft %d must be even and in 2..%d",
                             o->n_fft, MEL_MAX_NFFT);
    if (o->hop < 1) return mmc_error_set(err, MMC_ERR_USAGE, "logmel: hop %d must be at least 1", o->hop);
    int n_bins = o->n_fft / 2 + 1;
    if (o->n_mels < 1 || o->n_mels > n_bins)
        return mmc_error_set(err, MMC_ERR_USAGE,
                             "logmel: n_mels %d must be in 1..%d (n_fft / 2 + 1 for n_fft %d)",
                             o->n_mels, n_bins, o->n_fft);
    double nyquist = o->rate / 2.0;
    double lo = o->fmin, hi = o->fmax == 0.0f ? nyquist : (double)o->fmax;
    if (!isfinite(lo) || !isfinite(hi) || lo < 0.0 || hi < 0.0)
        return mmc_error_set(err, MMC_ERR_USAGE, "logmel: fmin %g and fmax %g must be finite and >= 0",
                             (double)o->fmin, (double)o->fmax);
    if (hi > nyquist)
        return mmc_error_set(err, MMC_ERR_USAGE, "logmel: fmax %g Hz is above the Nyquist frequency %g Hz",
                             hi, nyquist);
    if (lo >= hi)
        return mmc_error_set(err, MMC_ERR_USAGE, "logmel: fmin %g Hz must be below fmax %g Hz", lo, hi);
    *hi_hz = hi;
    return MMC_OK;
}

/* ---------------------------------------------------------------- the mel filterbank */

/* Slaney's mel scale (librosa hz_to_mel / mel_to_hz with htk=False). */
#define SLANEY_F_SP (200.0 / 3.0) /* Hz per mel in the linear part */
#define SLANEY_MIN_LOG_HZ 1000.0
#define SLANEY_MIN_LOG_MEL (SLANEY_MIN_LOG_HZ / SLANEY_F_SP) /* = 15 */
static double slaney_logstep(void) { return log(6.4) / 27.0; }

static double hz_to_mel(double hz) {
    if (hz >= SLANEY_MIN_LOG_HZ) return SLANEY_MIN_LOG_MEL + log(hz / SLANEY_MIN_LOG_HZ) / slaney_logstep();
    return hz / SLANEY_F_SP;
}

static double mel_to_hz(double mel) {
    if (mel >= SLANEY_MIN_LOG_MEL) return SLANEY_MIN_LOG_HZ * exp(slaney_logstep() * (mel - SLANEY_MIN_LOG_MEL));
    return SLANEY_F_SP * mel;
}

/* Fills w (M × F, row-major) with the Slaney filterbank; opts already checked. */
static int fill_filters(const mmc_logmel_opts *o, double hi_hz, float *w, mmc_error *err) {
    int M = o->n_mels, F = o->n_fft / 2 + 1;
    double *f = mmc_malloc(sizeof(double) * (size_t)(M + 2));
    if (!f) return mmc_error_set(err, MMC_ERR_RUNTIME, "logmel: out of memory (%d mel points)", M + 2);
    /* M + 2 band edges equally spaced in mel (np.linspace), back in Hz */
    double mel_lo = hz_to_mel(o->fmin), mel_hi = hz_to_mel(hi_hz);
    double step = (mel_hi - mel_lo) / (M + 1);
    for (int i = 0; i < M + 2; i++) f[i] = mel_to_hz(i == M + 1 ? mel_hi : mel_lo + i * step);
    double bin_hz = (double)o->rate / o->n_fft; /* the frequency of FFT bin k is k·bin_hz */
    for (int m = 0; m < M; m++) {
        double rise = f[m + 1] - f[m], fall = f[m + 2] - f[m + 1];
        double enorm = 2.0 / (f[m + 2] - f[m]); /* Slaney: equal area per band */
        for (int k = 0; k < F; k++) {
            double b = k * bin_hz;
            double lower = (b - f[m]) / rise, upper = (f[m + 2] - b) / fall;
            double tri = fmax(0.0, fmin(lower, upper));
            w[(size_t)m * F + k] = (float)(tri * enorm);
        }
    }
    mmc_free(f);
    return MMC_OK;
}

int mmc_mel_filters(const mmc_logmel_opts *o, float **out, mmc_error *err) {
    double hi_hz = 0;
    if (!out) return mmc_error_set(err, MMC_ERR_USAGE, "mel_filters: no output pointer");
    *out = NULL;
    int rc = check_opts(o, &hi_hz, err);
    if (rc != MMC_OK) return rc;
    size_t nw = (size_t)o->n_mels * (size_t)(o->n_fft / 2 + 1);
    float *w = mmc_malloc(sizeof(float) * nw);
    if (!w) return mmc_error_set(err, MMC_ERR_RUNTIME, "mel_filters: out of memory (%zu floats)", nw);
    rc = fill_filters(o, hi_hz, w, err);
    if (rc != MMC_OK) {
        mmc_free(w);
        return rc;
    }
    *out = w;
    return MMC_OK;
}

/* ----------------------------------------------------------------- the DFT basis */

/* The basis columns for bins k0 .. k0+nb-1, for N-sample frames: row j (a sample of the
 * frame) holds cos(2π k j / N) in column k - k0 and sin(2π k j / N) in column nb + k - k0.
 * cos_t / sin_t are tables of cos(2π r / N), sin(2π r / N) for r = 0..N-1, so the entry
 * for (k, j) is the table's entry r = k·j mod N: the angle reduced before it is taken. */
static void fill_basis(float *basis, int N, int k0, int nb, const float *cos_t, const float *sin_t) {
#pragma omp parallel for schedule(static)
    for (int j = 0; j < N; j++) {
        float *row = basis + (size_t)j * 2 * nb;
        for (int k = 0; k < nb; k++) {
            size_t r = (size_t)(((uint64_t)(k0 + k) * (uint64_t)j) % (uint64_t)N);
            row[k] = cos_t[r];
            row[nb + k] = sin_t[r];
        }
    }
}

/* ----------------------------------------------------------------- the features */

/* The index into x[0..n) of padded position p - N/2, mirrored at both ends (reflect
 * padding: x[-i] = x[i], x[n - 1 + i] = x[n - 1 - i]); valid for |overhang| < n. */
static inline int64_t reflect(int64_t i, int64_t n) {
    if (i < 0) return -i;
    if (i >= n) return 2 * (n - 1) - i;
    return i;
}

/* Scratch for one chunk of frames and the tables, freed together. */
typedef struct {
    float *cos_t, *sin_t, *win; /* N each */
    float *filters;             /* M × F */
    float *basis;               /* N × 2·nb */
    float *frames;              /* tc × N, windowed */
    float *spec;                /* tc × 2·nb: real parts, then imaginary parts */
    float *power;               /* tc × F */
    float *mel_t;               /* tc × M: the mel energies, frame-major */
} mel_work;

static void work_free(mel_work *w) {
    mmc_free(w->cos_t);
    mmc_free(w->sin_t);
    mmc_free(w->win);
    mmc_free(w->filters);
    mmc_free(w->basis);
    mmc_free(w->frames);
    mmc_free(w->spec);
    mmc_free(w->power);
    mmc_free(w->mel_t);
}

int mmc_logmel(const float *samples, int64_t n, const mmc_logmel_opts *o, float **out, int *n_frames,
               mmc_error *err) {
    double hi_hz = 0;
    if (!out || !n_frames) return mmc_error_set(err, MMC_ERR_USAGE, "logmel: no output pointer");
    *out = NULL;
    *n_frames = 0;
    int rc = check_opts(o, &hi_hz, err);
    if (rc != MMC_OK) return rc;
    if (n < 0 || (n > 0 && !samples))
        return mmc_error_set(err, MMC_ERR_USAGE, "logmel: %lld samples at %p", (long long)n, (const void *)samples);
    const int N = o->n_fft, F = N / 2 + 1, M = o->n_mels, hop = o->hop;
    if (n <= N / 2)
        return mmc_error_set(err, MMC_ERR_INPUT,
                             "logmel: %lld samples is too short: reflect padding of n_fft / 2 = %d needs more "
                             "than %d samples", (long long)n, N / 2, N / 2);
    int64_t T64 = n / hop;
    if (T64 < 1)
        return mmc_error_set(err, MMC_ERR_INPUT, "logmel: %lld samples is shorter than one hop (%d): no frame",
                             (long long)n, hop);
    if (T64 > INT32_MAX || (uint64_t)T64 > SIZE_MAX / sizeof(float) / (uint64_t)M)
        return mmc_error_set(err, MMC_ERR_INPUT, "logmel: %lld samples give %lld frames, too many",
                             (long long)n, (long long)T64);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(samples[i]))
            return mmc_error_set(err, MMC_ERR_INPUT, "logmel: sample %lld is %s", (long long)i,
                                 isnan(samples[i]) ? "NaN" : "infinite");
    const int T = (int)T64;

    /* Frequency blocks: the whole basis when it fits BASIS_MAX_FLOATS (every n_fft up to
     * 2896), else nb bins at a time, refilled from the tables for each chunk. */
    int nb = F;
    if ((size_t)N * 2 * (size_t)F > BASIS_MAX_FLOATS) nb = (int)(BASIS_MAX_FLOATS / ((size_t)2 * N));
    const int basis_whole = nb == F;
    /* Frames per chunk: all of a chunk's scratch within CHUNK_MAX_FLOATS. */
    size_t per_frame = (size_t)N + 2 * (size_t)nb + (size_t)F + (size_t)M;
    int tc = (int)(CHUNK_MAX_FLOATS / per_frame);
    if (tc > CHUNK_MAX_FRAMES) tc = CHUNK_MAX_FRAMES;
    if (tc < 1) tc = 1;
    if (tc > T) tc = T;

    mel_work w;
    memset(&w, 0, sizeof w);
    float *feat = mmc_malloc(sizeof(float) * (size_t)M * (size_t)T);
    w.cos_t = mmc_malloc(sizeof(float) * (size_t)N);
    w.sin_t = mmc_malloc(sizeof(float) * (size_t)N);
    w.win = mmc_malloc(sizeof(float) * (size_t)N);
    w.filters = mmc_malloc(sizeof(float) * (size_t)M * F);
    w.basis = mmc_malloc(sizeof(float) * (size_t)N * 2 * nb);
    w.frames = mmc_malloc(sizeof(float) * (size_t)tc * N);
    w.spec = mmc_malloc(sizeof(float) * (size_t)tc * 2 * nb);
    w.power = mmc_malloc(sizeof(float) * (size_t)tc * F);
    w.mel_t = mmc_malloc(sizeof(float) * (size_t)tc * M);
    if (!feat || !w.cos_t || !w.sin_t || !w.win || !w.filters || !w.basis || !w.frames || !w.spec ||
        !w.power || !w.mel_t) {
        mmc_free(feat);
        work_free(&w);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "logmel: out of memory (%d frames of %d mel bands)", T, M);
    }
    rc = fill_filters(o, hi_hz, w.filters, err);
    if (rc != MMC_OK) {
        mmc_free(feat);
        work_free(&w);
        return rc;
    }
    /* cos and sin of 2π r / N, and the periodic Hann window w[j] = 0.5 - 0.5·cos(2π j / N) */
    for (int r = 0; r < N; r++) {
        double a = 2.0 * M_PI * (double)r / (double)N;
        w.cos_t[r] = (float)cos(a);
        w.sin_t[r] = (float)sin(a);
        w.win[r] = (float)(0.5 - 0.5 * cos(a));
    }
    if (basis_whole) fill_basis(w.basis, N, 0, F, w.cos_t, w.sin_t);

    float gmax = -INFINITY; /* the largest log10 value over the whole spectrogram */
    for (int t0 = 0; t0 < T; t0 += tc) {
        const int nt = T - t0 < tc ? T - t0 : tc;

        /* 1-2. the chunk's frames, mirrored at the ends, times the window */
#pragma omp parallel for schedule(static)
        for (int i = 0; i < nt; i++) {
            float *row = w.frames + (size_t)i * N;
            int64_t start = (int64_t)(t0 + i) * hop - N / 2; /* first sample, unpadded index */
            if (start >= 0 && start + N <= n) {
                const float *x = samples + start;
                for (int j = 0; j < N; j++) row[j] = w.win[j] * x[j];
            } else {
                for (int j = 0; j < N; j++) row[j] = w.win[j] * samples[reflect(start + j, n)];
            }
        }

        /* 3-4. DFT by GEMM, nb bins at a time, then the power of each bin */
        for (int k0 = 0; k0 < F; k0 += nb) {
            const int kb = F - k0 < nb ? F - k0 : nb;
            if (!basis_whole) fill_basis(w.basis, N, k0, kb, w.cos_t, w.sin_t);
            /* spec (nt × 2kb) = frames (nt × N) · basis (N × 2kb) */
            mmc_gemm(0, 0, nt, 2 * kb, N, 1.0f, w.frames, w.basis, 0.0f, w.spec);
#pragma omp parallel for schedule(static)
            for (int i = 0; i < nt; i++) {
                const float *re = w.spec + (size_t)i * 2 * kb, *im = re + kb;
                float *p = w.power + (size_t)i * F + k0;
                for (int k = 0; k < kb; k++) p[k] = re[k] * re[k] + im[k] * im[k];
            }
        }

        /* 5. mel_t (nt × M) = power (nt × F) · filtersᵀ (F × M) */
        mmc_gemm(0, 1, nt, M, F, 1.0f, w.power, w.filters, 0.0f, w.mel_t);

        /* 6a. log10(max(mel, 1e-10)) into the (M × T) output, band-major as Whisper's */
        float cmax = -INFINITY;
#pragma omp parallel for schedule(static) reduction(max : cmax)
        for (int m = 0; m < M; m++) {
            float *dst = feat + (size_t)m * T + t0;
            for (int i = 0; i < nt; i++) {
                float v = w.mel_t[(size_t)i * M + m];
                float l = log10f(v > LOG_FLOOR ? v : LOG_FLOOR);
                dst[i] = l;
                if (l > cmax) cmax = l;
            }
        }
        if (cmax > gmax) gmax = cmax;
    }
    work_free(&w);

    /* 6b. keep DYNAMIC_RANGE below the global maximum, then (L + 4) / 4 */
    const float floor_l = gmax - DYNAMIC_RANGE;
    const size_t total = (size_t)M * T;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < total; i++) {
        float l = feat[i] > floor_l ? feat[i] : floor_l;
        feat[i] = (l + 4.0f) / 4.0f;
    }
    *out = feat;
    *n_frames = T;
    return MMC_OK;
}
