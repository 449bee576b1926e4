/* test_audio_mel.c — Whisper-style log-mel features (src/data/audio_mel.c).
 *
 * Parity: the files in tests/fixtures/audio/ hold signals and the features Whisper's
 * log_mel_spectrogram gives for them, computed by torch.stft in float64 (made by
 * tools/gen_audio_fixtures.py, whose numpy Slaney filterbank equals Whisper's
 * mel_filters.npz exactly). The filterbank must match within 1e-6 and the features within
 * 1e-4. Besides: the frame count n / hop, options and inputs refused with the right codes,
 * a naive double-precision reference written here (no GEMM, no chunks) on a short signal,
 * and a 10-minute signal (many chunks) checked at the chunk boundaries and timed. */
#include "test.h"
#include <stdlib.h>
#include <time.h>

#define FILTER_TOL 1e-6
#define FEATURE_TOL 1e-4

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double max_abs_diff(const float *a, const float *b, int64_t n, int64_t *at) {
    double worst = 0;
    if (at) *at = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > worst || isnan(d)) {
            worst = isnan(d) ? INFINITY : d;
            if (at) *at = i;
        }
    }
    return worst;
}

/* ---------------------------------------------------------------- fixtures */

static const char *FIXTURES[] = {"chirp_1s",        "odd_0p37s",    "click_0p5s",     "quiet_tone_0p4s",
                                 "mels128_0p6s",    "sr22k_nfft1024", "nfft4096"};
#define N_FIXTURES ((int)(sizeof FIXTURES / sizeof FIXTURES[0]))

typedef struct {
    mmc_safetensors st;
    mmc_logmel_opts o;
    mmc_tensor *samples, *logmel, *filters; /* filters: NULL where the file has none */
} mel_fixture;

static int fixture_load(mel_fixture *f, const char *name) {
    memset(f, 0, sizeof *f);
    char rel[256];
    snprintf(rel, sizeof rel, "audio/%s", name);
    if (!test_fixture_open(&f->st, rel)) return 0;
    int64_t nc = 0;
    int *cfg = test_fixture_ints(&f->st, "config", &nc);
    mmc_tensor *band = test_fixture_get(&f->st, "band");
    f->samples = test_fixture_get(&f->st, "samples");
    f->logmel = test_fixture_get(&f->st, "logmel");
    if (mmc_safetensors_find(&f->st, "filters")) f->filters = test_fixture_get(&f->st, "filters");
    int ok = cfg && nc == 4 && band && band->numel == 2 && f->samples && f->logmel;
    if (ok) {
        f->o = mmc_logmel_opts_whisper();
        f->o.rate = cfg[0];
        f->o.n_fft = cfg[1];
        f->o.hop = cfg[2];
        f->o.n_mels = cfg[3];
        f->o.fmin = band->data[0];
        f->o.fmax = band->data[1];
    } else {
        mmc_test_fail(__FILE__, __LINE__, "fixture %s incomplete", name);
    }
    free(cfg);
    mmc_tensor_free(band);
    return ok;
}

static void fixture_free(mel_fixture *f) {
    mmc_tensor_free(f->samples);
    mmc_tensor_free(f->logmel);
    mmc_tensor_free(f->filters);
    mmc_safetensors_close(&f->st);
}

TEST(audio_mel_opts_whisper) {
    mmc_logmel_opts o = mmc_logmel_opts_whisper();
    CHECK(o.rate == 16000 && o.n_fft == 400 && o.hop == 160 && o.n_mels == 80, "whisper opts %d %d %d %d",
          o.rate, o.n_fft, o.hop, o.n_mels);
    CHECK(o.fmin == 0.0f && o.fmax == 0.0f, "whisper band %g..%g", (double)o.fmin, (double)o.fmax);
}

TEST(audio_mel_filters_parity) {
    int checked = 0;
    for (int i = 0; i < N_FIXTURES; i++) {
        mel_fixture f;
        if (!fixture_load(&f, FIXTURES[i])) return;
        if (f.filters) {
            float *w = NULL;
            mmc_error err = {0};
            int rc = mmc_mel_filters(&f.o, &w, &err);
            CHECK(rc == MMC_OK, "%s: mmc_mel_filters: %s", FIXTURES[i], err.msg);
            int64_t nw = (int64_t)f.o.n_mels * (f.o.n_fft / 2 + 1);
            CHECK(f.filters->numel == nw, "%s: filters have %lld values, want %lld", FIXTURES[i],
                  (long long)f.filters->numel, (long long)nw);
            if (rc == MMC_OK && f.filters->numel == nw) {
                int64_t at;
                double d = max_abs_diff(w, f.filters->data, nw, &at);
                printf("  filters %-16s %3d x %4d  max |diff| %.3g\n", FIXTURES[i], f.o.n_mels, f.o.n_fft / 2 + 1, d);
                CHECK(d <= FILTER_TOL, "%s: filter [%lld] = %.9g, want %.9g (|diff| %.3g)", FIXTURES[i],
                      (long long)at, (double)w[at], (double)f.filters->data[at], d);
                checked++;
            }
            mmc_free(w);
        }
        fixture_free(&f);
    }
    CHECK(checked == 3, "compared %d filterbanks, want 3", checked);
}

TEST(audio_mel_logmel_parity) {
    for (int i = 0; i < N_FIXTURES; i++) {
        mel_fixture f;
        if (!fixture_load(&f, FIXTURES[i])) return;
        float *out = NULL;
        int T = -1;
        mmc_error err = {0};
        int rc = mmc_logmel(f.samples->data, f.samples->numel, &f.o, &out, &T, &err);
        CHECK(rc == MMC_OK, "%s: mmc_logmel: %s", FIXTURES[i], err.msg);
        if (rc == MMC_OK) {
            int want_T = (int)(f.samples->numel / f.o.hop);
            CHECK(T == want_T, "%s: %d frames, want n / hop = %d", FIXTURES[i], T, want_T);
            CHECK(f.logmel->ndim == 2 && f.logmel->shape[0] == f.o.n_mels && f.logmel->shape[1] == T,
                  "%s: reference is not %d x %d", FIXTURES[i], f.o.n_mels, T);
            if (f.logmel->numel == (int64_t)f.o.n_mels * T) {
                int64_t at;
                double d = max_abs_diff(out, f.logmel->data, f.logmel->numel, &at);
                printf("  logmel  %-16s %3d x %4d  max |diff| %.3g\n", FIXTURES[i], f.o.n_mels, T, d);
                CHECK(d <= FEATURE_TOL, "%s: band %lld frame %lld = %.7g, want %.7g (|diff| %.3g)", FIXTURES[i],
                      (long long)(at / T), (long long)(at % T), (double)out[at], (double)f.logmel->data[at], d);
            }
        }
        mmc_free(out);
        fixture_free(&f);
    }
}

/* ---------------------------------------------------------------- sizes and refusals */

static float *test_signal(int64_t n, int rate, uint64_t seed) {
    float *x = malloc(sizeof(float) * (size_t)(n ? n : 1));
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    double phase = 0;
    for (int64_t i = 0; i < n; i++) {
        double t = (double)i / rate;
        double f = 300.0 + 2500.0 * (0.5 + 0.5 * sin(2 * M_PI * 0.05 * t)); /* slow sweep */
        phase += 2 * M_PI * f / rate;
        if (phase > 2 * M_PI) phase -= 2 * M_PI;
        s ^= s << 13, s ^= s >> 7, s ^= s << 17; /* xorshift64 noise */
        double noise = ((double)(s >> 11) / 9007199254740992.0 - 0.5) * 0.02;
        x[i] = (float)(0.4 * sin(phase) + 0.1 * sin(3.1 * phase) + noise);
    }
    return x;
}

TEST(audio_mel_frame_count) {
    mmc_logmel_opts o = mmc_logmel_opts_whisper();
    const int64_t ns[] = {201, 320, 399, 400, 401, 479, 480, 16000, 16159, 16160, 16161};
    float *x = test_signal(16161, 16000, 1);
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        float *out = NULL;
        int T = -1;
        mmc_error err = {0};
        int rc = mmc_logmel(x, ns[i], &o, &out, &T, &err);
        CHECK(rc == MMC_OK, "n %lld: %s", (long long)ns[i], err.msg);
        CHECK(T == (int)(ns[i] / o.hop), "n %lld: %d frames, want %lld", (long long)ns[i], T,
              (long long)(ns[i] / o.hop));
        int finite = 1;
        for (int64_t k = 0; out && k < (int64_t)o.n_mels * T; k++) finite &= isfinite(out[k]) != 0;
        CHECK(out && finite, "n %lld: features not all finite", (long long)ns[i]);
        mmc_free(out);
    }
    free(x);
}

TEST(audio_mel_short_input_refused) {
    mmc_logmel_opts o = mmc_logmel_opts_whisper();
    float x[512] = {0};
    x[7] = 1.0f;
    const int64_t short_ns[] = {0, 1, 199, 200}; /* reflect padding of 200 needs n > 200 */
    for (size_t i = 0; i < sizeof short_ns / sizeof short_ns[0]; i++) {
        float *out = (float *)x; /* must be reset to NULL */
        int T = -1;
        mmc_error err = {0};
        int rc = mmc_logmel(x, short_ns[i], &o, &out, &T, &err);
        CHECK(rc == MMC_ERR_INPUT && err.code == MMC_ERR_INPUT, "n %lld: rc %d (%s), want MMC_ERR_INPUT",
              (long long)short_ns[i], rc, err.msg);
        CHECK(out == NULL && T == 0, "n %lld: output not cleared", (long long)short_ns[i]);
        CHECK(strstr(err.msg, "short") != NULL, "n %lld: message '%s'", (long long)short_ns[i], err.msg);
    }
    /* long enough for the padding but shorter than one hop: no frame at all */
    o.hop = 300;
    float *out = NULL;
    int T = -1;
    mmc_error err = {0};
    int rc = mmc_logmel(x, 250, &o, &out, &T, &err);
    CHECK(rc == MMC_ERR_INPUT && out == NULL, "n 250, hop 300: rc %d (%s), want MMC_ERR_INPUT", rc, err.msg);
    mmc_error_clear(&err);
    rc = mmc_logmel(x, 300, &o, &out, &T, &err);
    CHECK(rc == MMC_OK && T == 1, "n 300, hop 300: rc %d (%s), %d frames", rc, err.msg, T);
    mmc_free(out);
}

TEST(audio_mel_nonfinite_refused) {
    mmc_logmel_opts o = mmc_logmel_opts_whisper();
    float *x = test_signal(4000, 16000, 2);
    const float bad[] = {NAN, INFINITY, -INFINITY};
    const int64_t where[] = {0, 1234, 3999};
    for (int b = 0; b < 3; b++) {
        float keep = x[where[b]];
        x[where[b]] = bad[b];
        float *out = NULL;
        int T = -1;
        mmc_error err = {0};
        int rc = mmc_logmel(x, 4000, &o, &out, &T, &err);
        char want[32];
        snprintf(want, sizeof want, "sample %lld", (long long)where[b]);
        CHECK(rc == MMC_ERR_INPUT && out == NULL, "bad sample %d: rc %d, want MMC_ERR_INPUT", b, rc);
        CHECK(strstr(err.msg, want) != NULL, "message '%s' does not name %s", err.msg, want);
        x[where[b]] = keep;
    }
    free(x);
}

TEST(audio_mel_bad_opts_refused) {
    typedef struct {
        const char *what;
        int rate, n_fft, hop, n_mels;
        float fmin, fmax;
    } bad_case;
    const bad_case cases[] = {
        {"rate 0", 0, 400, 160, 80, 0, 0},
        {"rate -16000", -16000, 400, 160, 80, 0, 0},
        {"rate 10 MHz", 10000000, 400, 160, 80, 0, 0},
        {"n_fft 0", 16000, 0, 160, 1, 0, 0},
        {"n_fft -400", 16000, -400, 160, 80, 0, 0},
        {"n_fft odd", 16000, 401, 160, 80, 0, 0},
        {"n_fft 65538", 16000, 65538, 160, 80, 0, 0},
        {"n_fft INT_MAX - 1", 16000, 2147483646, 160, 80, 0, 0},
        {"hop 0", 16000, 400, 0, 80, 0, 0},
        {"hop -1", 16000, 400, -1, 80, 0, 0},
        {"n_mels 0", 16000, 400, 160, 0, 0, 0},
        {"n_mels 202", 16000, 400, 160, 202, 0, 0},
        {"fmax over Nyquist", 16000, 400, 160, 80, 0, 8000.5f},
        {"fmin = fmax", 16000, 400, 160, 80, 4000, 4000},
        {"fmin over fmax", 16000, 400, 160, 80, 5000, 4000},
        {"fmin over Nyquist (fmax default)", 16000, 400, 160, 80, 9000, 0},
        {"fmin negative", 16000, 400, 160, 80, -1, 0},
        {"fmax negative", 16000, 400, 160, 80, 0, -100},
        {"fmin NaN", 16000, 400, 160, 80, NAN, 0},
        {"fmax inf", 16000, 400, 160, 80, 0, INFINITY},
    };
    float *x = test_signal(4000, 16000, 3);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *c = &cases[i];
        mmc_logmel_opts o = {c->rate, c->n_fft, c->hop, c->n_mels, c->fmin, c->fmax};
        float *out = NULL;
        int T = -1;
        mmc_error err = {0};
        int rc = mmc_logmel(x, 4000, &o, &out, &T, &err);
        CHECK(rc == MMC_ERR_USAGE && out == NULL, "%s: mmc_logmel rc %d (%s), want MMC_ERR_USAGE", c->what, rc,
              err.msg);
        mmc_error_clear(&err);
        float *w = NULL;
        rc = mmc_mel_filters(&o, &w, &err);
        CHECK(rc == MMC_ERR_USAGE && w == NULL, "%s: mmc_mel_filters rc %d (%s), want MMC_ERR_USAGE", c->what,
              rc, err.msg);
        CHECK(strncmp(err.msg, "logmel: ", 8) == 0, "%s: message '%s'", c->what, err.msg);
    }
    /* missing arguments */
    mmc_logmel_opts o = mmc_logmel_opts_whisper();
    float *out = NULL;
    int T = 0;
    mmc_error err = {0};
    CHECK(mmc_logmel(x, 4000, NULL, &out, &T, &err) == MMC_ERR_USAGE, "NULL opts accepted");
    CHECK(mmc_logmel(x, 4000, &o, NULL, &T, &err) == MMC_ERR_USAGE, "NULL out accepted");
    CHECK(mmc_logmel(x, 4000, &o, &out, NULL, &err) == MMC_ERR_USAGE, "NULL n_frames accepted");
    CHECK(mmc_logmel(NULL, 4000, &o, &out, &T, &err) == MMC_ERR_USAGE, "NULL samples accepted");
    CHECK(mmc_logmel(x, -5, &o, &out, &T, &err) == MMC_ERR_USAGE, "n -5 accepted");
    CHECK(mmc_mel_filters(&o, NULL, &err) == MMC_ERR_USAGE, "mel_filters: NULL out accepted");
    CHECK(mmc_mel_filters(NULL, &out, &err) == MMC_ERR_USAGE, "mel_filters: NULL opts accepted");
    /* the edges that are fine: fmax exactly Nyquist, n_mels = n_fft / 2 + 1, n_fft 2, hop > n_fft */
    const mmc_logmel_opts good[] = {{16000, 400, 160, 80, 0, 8000}, {16000, 400, 160, 201, 0, 0},
                                    {16000, 2, 1, 2, 0, 0},         {8000, 256, 300, 40, 20, 3000}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        mmc_error_clear(&err);
        int rc = mmc_logmel(x, 4000, &good[i], &out, &T, &err);
        CHECK(rc == MMC_OK && T == 4000 / good[i].hop, "good opts %zu: rc %d (%s), T %d", i, rc, err.msg, T);
        mmc_free(out);
        out = NULL;
    }
    free(x);
}

/* ---------------------------------------------------------------- a naive reference */

/* Log10 mel energies (before the max - 8 clamp) of frame t, by the textbook formulas in
 * double: reflect-padded frame, periodic Hann window, DFT term by term, |X|^2, filters. */
typedef struct {
    int N, F, M, hop;
    double *cs, *sn, *win, *power;
    const float *filters;
} naive_ref;

static void naive_init(naive_ref *r, const mmc_logmel_opts *o, const float *filters) {
    r->N = o->n_fft, r->F = o->n_fft / 2 + 1, r->M = o->n_mels, r->hop = o->hop;
    r->cs = malloc(sizeof(double) * r->N);
    r->sn = malloc(sizeof(double) * r->N);
    r->win = malloc(sizeof(double) * r->N);
    r->power = malloc(sizeof(double) * r->F);
    for (int j = 0; j < r->N; j++) {
        r->cs[j] = cos(2 * M_PI * j / r->N);
        r->sn[j] = sin(2 * M_PI * j / r->N);
        r->win[j] = 0.5 - 0.5 * r->cs[j];
    }
    r->filters = filters;
}

static void naive_free(naive_ref *r) {
    free(r->cs);
    free(r->sn);
    free(r->win);
    free(r->power);
}

static void naive_frame(const naive_ref *r, const float *x, int64_t n, int t, double *logmel) {
    double *frame = malloc(sizeof(double) * r->N);
    for (int j = 0; j < r->N; j++) {
        int64_t i = (int64_t)t * r->hop + j - r->N / 2;
        if (i < 0) i = -i;
        if (i >= n) i = 2 * (n - 1) - i;
        frame[j] = r->win[j] * x[i];
    }
    for (int k = 0; k < r->F; k++) {
        double re = 0, im = 0;
        for (int j = 0; j < r->N; j++) {
            int idx = (int)(((int64_t)k * j) % r->N);
            re += frame[j] * r->cs[idx];
            im -= frame[j] * r->sn[idx];
        }
        r->power[k] = re * re + im * im;
    }
    for (int m = 0; m < r->M; m++) {
        double s = 0;
        for (int k = 0; k < r->F; k++) s += (double)r->filters[(size_t)m * r->F + k] * r->power[k];
        logmel[m] = log10(s > 1e-10 ? s : 1e-10);
    }
    free(frame);
}

/* A short signal, every frame by the naive reference, the clamp over all of them. */
TEST(audio_mel_matches_naive_reference) {
    const mmc_logmel_opts opts[] = {mmc_logmel_opts_whisper(), {16000, 400, 160, 128, 0, 0},
                                    {8000, 250 * 2, 100, 60, 30, 3500}};
    for (size_t c = 0; c < sizeof opts / sizeof opts[0]; c++) {
        const mmc_logmel_opts *o = &opts[c];
        int64_t n = 3 * o->rate + 77;
        float *x = test_signal(n, o->rate, 10 + c);
        float *out = NULL, *w = NULL;
        int T = 0;
        mmc_error err = {0};
        REQUIRE(mmc_logmel(x, n, o, &out, &T, &err) == MMC_OK, "%s", err.msg);
        REQUIRE(mmc_mel_filters(o, &w, &err) == MMC_OK, "%s", err.msg);
        naive_ref r;
        naive_init(&r, o, w);
        double *ref = malloc(sizeof(double) * (size_t)o->n_mels * T), *col = malloc(sizeof(double) * o->n_mels);
        double gmax = -INFINITY;
        for (int t = 0; t < T; t++) {
            naive_frame(&r, x, n, t, col);
            for (int m = 0; m < o->n_mels; m++) {
                ref[(size_t)m * T + t] = col[m];
                if (col[m] > gmax) gmax = col[m];
            }
        }
        double worst = 0;
        for (int64_t i = 0; i < (int64_t)o->n_mels * T; i++) {
            double l = ref[i] > gmax - 8 ? ref[i] : gmax - 8;
            double d = fabs((l + 4) / 4 - out[i]);
            if (d > worst) worst = d;
        }
        printf("  naive reference, n_fft %d n_mels %d: %d frames, max |diff| %.3g\n", o->n_fft, o->n_mels, T, worst);
        CHECK(worst <= FEATURE_TOL, "opts %zu: max |diff| %.3g from the naive reference", c, worst);
        naive_free(&r);
        free(ref);
        free(col);
        free(x);
        mmc_free(out);
        mmc_free(w);
    }
}

/* 10 minutes at 16 kHz: 60,000 frames, so many chunks. The frames on both sides of every
 * chunk boundary (multiples of 4096), the first and the last are checked against the naive
 * reference (with the global maximum read back from the output: the loudest value is never
 * clamped, so max(out) = (max L + 4) / 4), and the time is reported. */
TEST(audio_mel_long_input_chunked) {
    mmc_logmel_opts o = mmc_logmel_opts_whisper();
    const int64_t n = (int64_t)600 * o.rate;
    float *x = test_signal(n, o.rate, 20);
    /* a loud burst in frame ~59000, so the maximum lies far from the frames checked */
    for (int64_t i = 59000 * 160; i < 59000 * 160 + 400; i++) x[i] *= 4.0f;
    float *out = NULL, *w = NULL;
    int T = 0;
    mmc_error err = {0};
    double t0 = now_s();
    int rc = mmc_logmel(x, n, &o, &out, &T, &err);
    double secs = now_s() - t0;
    REQUIRE(rc == MMC_OK, "%s", err.msg);
    REQUIRE(T == 60000, "%d frames, want 60000", T);
    printf("  10 min of 16 kHz audio: %.3f s on %d threads (%.4f s per minute of audio)\n", secs,
           mmc_get_threads(), secs / 10.0);
    CHECK(secs < 60.0, "10 minutes of audio took %.1f s", secs);
    float omax = -INFINITY;
    for (int64_t i = 0; i < (int64_t)o.n_mels * T; i++) omax = out[i] > omax ? out[i] : omax;
    double gmax = 4.0 * omax - 4.0, worst = 0;
    REQUIRE(mmc_mel_filters(&o, &w, &err) == MMC_OK, "%s", err.msg);
    naive_ref r;
    naive_init(&r, &o, w);
    double col[80];
    int frames[64], nf = 0;
    frames[nf++] = 0;
    frames[nf++] = 1;
    for (int b = 4096; b < T && nf < 60; b += 4096) frames[nf++] = b - 1, frames[nf++] = b;
    frames[nf++] = T - 1;
    double seen_max = -INFINITY;
    for (int f = 0; f < nf; f++) {
        int t = frames[f];
        naive_frame(&r, x, n, t, col);
        for (int m = 0; m < o.n_mels; m++) {
            if (col[m] > seen_max) seen_max = col[m];
            double l = col[m] > gmax - 8 ? col[m] : gmax - 8;
            double d = fabs((l + 4) / 4 - out[(size_t)m * T + t]);
            if (d > worst) worst = d;
        }
    }
    printf("  10 min: %d frames at chunk edges vs the naive reference: max |diff| %.3g\n", nf, worst);
    CHECK(worst <= FEATURE_TOL, "chunked features differ from the naive reference by %.3g", worst);
    CHECK(seen_max <= gmax + 1e-3, "a checked frame (%.4f) is above the global maximum %.4f", seen_max, gmax);
    naive_free(&r);
    free(x);
    mmc_free(out);
    mmc_free(w);
}
