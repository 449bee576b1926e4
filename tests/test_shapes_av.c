/* test_shapes_av.c — the sounding-shapes world (mmc_shapes_av_clip_make): neither
 * modality alone can name the label (the best frames-only and sound-only guesses, computed
 * from the generator's own ground truth, stay far below 1), each kind of event sounds as
 * documented, clips are deterministic, and written files carry the sound track that was
 * drawn (FLAC, 16-bit) beside frames that decode exactly. */
#include "test.h"
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#define N_AV 2000

/* The label is always the colour of an object with an event; frames alone leave 2-3
 * candidates (every object a different colour, events of different kinds); the sound's
 * kind says nothing about the colour. Expected best accuracies: frames-only = mean over
 * clips of 1 / (objects with an event) (about 0.42), sound-only = the most common colour
 * per kind (about 1/8). */
TEST(shapes_av_neither_alone) {
    mmc_error err = {0};
    int by_kind_colour[MMC_EVENTS_N][MMC_SHAPES_N_COLOURS] = {{0}}, kinds[MMC_EVENTS_N] = {0}, colours[MMC_SHAPES_N_COLOURS] = {0};
    double frames_only = 0;
    for (int i = 0; i < N_AV; i++) {
        mmc_shapes_clip c;
        mmc_sample s;
        int who = -1;
        REQUIRE(mmc_shapes_av_clip_make(11, "train", i, 64, 8, 8, &c, NULL, NULL, NULL, &who, &s, &err) == MMC_OK, "%s", err.msg);
        REQUIRE(who >= 0 && who < c.n, "clip %d: sounding object %d of %d", i, who, c.n);
        int active = 0;
        for (int k = 0; k < c.n; k++) {
            active += c.obj[k].event != MMC_EVENT_STILL;
            for (int j = 0; j < k; j++) {
                CHECK(c.obj[k].colour0 != c.obj[j].colour0, "clip %d: two objects share a colour", i);
                CHECK(c.obj[k].event == MMC_EVENT_STILL || c.obj[k].event != c.obj[j].event, "clip %d: two events of a kind", i);
            }
        }
        CHECK(active >= 2 && active <= 3, "clip %d: %d objects with an event", i, active);
        CHECK(c.obj[who].event != MMC_EVENT_STILL, "clip %d: a still object sounds", i);
        CHECK(s.label && !strcmp(s.label, mmc_shapes_colour_name(c.obj[who].colour0)), "clip %d: label %s", i, s.label ? s.label : "(none)");
        frames_only += 1.0 / active;
        by_kind_colour[c.obj[who].event][c.obj[who].colour0]++;
        kinds[c.obj[who].event]++;
        colours[c.obj[who].colour0]++;
        mmc_sample_free(&s);
    }
    frames_only /= N_AV;
    int best = 0;
    for (int e = 0; e < MMC_EVENTS_N; e++) {
        int m = 0;
        for (int k = 0; k < MMC_SHAPES_N_COLOURS; k++) m = by_kind_colour[e][k] > m ? by_kind_colour[e][k] : m;
        best += m;
    }
    double sound_only = (double)best / N_AV;
    printf("  best frames-only %.3f, best sound-only %.3f\n", frames_only, sound_only);
    CHECK(frames_only < 0.5, "frames alone name the label %.3f of the time", frames_only);
    CHECK(sound_only < 0.2, "the sound's kind names the label %.3f of the time", sound_only);
    for (int e = MMC_EVENT_MOVE; e < MMC_EVENTS_N; e++)
        CHECK(fabs((double)kinds[e] / N_AV - 1.0 / 6) < 0.04, "kind %d sounds in %.3f of clips", e, (double)kinds[e] / N_AV);
    for (int k = 0; k < MMC_SHAPES_N_COLOURS; k++)
        CHECK(fabs((double)colours[k] / N_AV - 1.0 / MMC_SHAPES_N_COLOURS) < 0.04, "colour %d is the label of %.3f", k,
              (double)colours[k] / N_AV);
}

static double rms(const float *x, int64_t a, int64_t b) {
    double s = 0;
    for (int64_t i = a; i < b; i++) s += (double)x[i] * x[i];
    return b > a ? sqrt(s / (double)(b - a)) : 0;
}
/* zero crossings a second over [a, b): twice the frequency of a tone; with hysteresis
 * above the background noise (a crossing counts once the signal is past ±0.03) */
static double crossings(const float *x, int64_t a, int64_t b, int rate) {
    int n = 0, side = 0;
    for (int64_t i = a; i < b; i++) {
        int s = x[i] > 0.03f ? 1 : x[i] < -0.03f ? -1 : 0;
        if (s && side && s != side) n++;
        if (s) side = s;
    }
    return (double)n * rate / (double)(b - a);
}

/* Each kind sounds as documented: glides rise (grow) or fall (shrink) an octave, appear is
 * silent before its frame, disappear after it, recolour goes up a fifth at its frame, move
 * is loud noise; the same clip gives the same samples; nothing clips. */
TEST(shapes_av_sounds) {
    const int rate = MMC_SHAPES_SOUND_RATE, fps = 8, T = 8;
    mmc_error err = {0};
    int seen[MMC_EVENTS_N] = {0};
    for (int i = 0; i < 300; i++) {
        mmc_shapes_clip c;
        float *x = NULL, *y = NULL;
        int64_t n = 0, n2 = 0;
        int who;
        REQUIRE(mmc_shapes_av_clip_make(5, "val", i, 64, T, fps, &c, NULL, &x, &n, &who, NULL, &err) == MMC_OK, "%s", err.msg);
        REQUIRE(mmc_shapes_av_clip_make(5, "val", i, 64, T, fps, NULL, NULL, &y, &n2, NULL, NULL, &err) == MMC_OK, "%s", err.msg);
        CHECK(n == (int64_t)T * rate / fps && n2 == n && !memcmp(x, y, sizeof(float) * (size_t)n), "clip %d: not deterministic", i);
        float peak = 0;
        for (int64_t k = 0; k < n; k++) peak = fabsf(x[k]) > peak ? fabsf(x[k]) : peak;
        CHECK(peak < 1.0f && peak > 0.1f, "clip %d: peak %.3f", i, peak);
        const mmc_shape_track *o = &c.obj[who];
        int64_t tc = (int64_t)o->change * rate / fps, q = n / 4;
        seen[o->event]++;
        switch (o->event) {
        case MMC_EVENT_GROW: case MMC_EVENT_SHRINK: {
            double a = crossings(x, 0, q, rate), b = crossings(x, n - q, n, rate);
            CHECK(o->event == MMC_EVENT_GROW ? b > 1.4 * a : a > 1.4 * b, "clip %d (%s): crossings %.0f -> %.0f a second", i,
                  o->event == MMC_EVENT_GROW ? "grow" : "shrink", a, b);
            break;
        }
        case MMC_EVENT_APPEAR:
            CHECK(rms(x, 0, tc - 80) < 0.02 && rms(x, tc + 80, tc + 800) > 0.08, "clip %d (appear at %lld): rms %.3f before, %.3f after", i,
                  (long long)tc, rms(x, 0, tc - 80), rms(x, tc + 80, tc + 800));
            break;
        case MMC_EVENT_DISAPPEAR:
            CHECK(rms(x, 80, tc - 80) > 0.08 && rms(x, tc + 200, n) < 0.02, "clip %d (disappear at %lld): rms %.3f before, %.3f after", i,
                  (long long)tc, rms(x, 80, tc - 80), rms(x, tc + 200, n));
            break;
        case MMC_EVENT_RECOLOUR:
            if (tc > 1000 && n - tc > 1000) {
                double a = crossings(x, 80, tc - 80, rate), b = crossings(x, tc + 80, n - 80, rate);
                CHECK(b > 1.3 * a && b < 1.7 * a, "clip %d (recolour): crossings %.0f -> %.0f a second (a fifth: 1.5)", i, a, b);
            }
            break;
        case MMC_EVENT_MOVE: CHECK(rms(x, n / 2 - 800, n / 2 + 800) > 0.05, "clip %d (move): rms %.3f at the middle", i, rms(x, n / 2 - 800, n / 2 + 800)); break;
        default: CHECK(0, "clip %d: a still object sounds", i);
        }
        mmc_free(x);
        mmc_free(y);
    }
    for (int e = MMC_EVENT_MOVE; e < MMC_EVENTS_N; e++) CHECK(seen[e] > 20, "kind %d heard in %d of 300 clips", e, seen[e]);
}

/* A written split: each video's sound track decodes (mmc_audio_load reads the sound of a
 * video file) to the drawn samples within 16-bit rounding, its frames to the drawn frames. */
TEST(shapes_av_files) {
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/mmc-shav-XXXXXX");
    REQUIRE(mkdtemp(dir), "mkdtemp");
    const int S = 32, T = 8, fps = 8, n = 6;
    mmc_error err = {0};
    REQUIRE(mmc_shapes_write_av_split(dir, "test", n, 3, S, T, fps, NULL, NULL, &err) == MMC_OK, "%s", err.msg);
    mmc_manifest *m = mmc_manifest_load(dir, "test", &err);
    REQUIRE(m && m->count == n, "%s", err.msg);
    size_t fb = (size_t)S * S * 3;
    uint8_t *rgb = malloc(fb * T);
    for (int i = 0; i < n; i++) {
        float *x = NULL;
        int64_t ns = 0;
        mmc_sample s;
        REQUIRE(mmc_shapes_av_clip_make(3, "test", i, S, T, fps, NULL, rgb, &x, &ns, NULL, &s, &err) == MMC_OK, "%s", err.msg);
        CHECK(m->samples[i].label && !strcmp(m->samples[i].label, s.label), "clip %d: manifest label", i);
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, m->samples[i].video);
        mmc_audio au = {0};
        REQUIRE(mmc_audio_load(&au, path, 0, &err) == MMC_OK, "%s", err.msg);
        CHECK(au.rate == MMC_SHAPES_SOUND_RATE && au.n == ns, "%s: %lld samples at %d Hz, want %lld", path, (long long)au.n, au.rate, (long long)ns);
        float worst = 0;
        for (int64_t k = 0; k < ns && k < au.n; k++) worst = fmaxf(worst, fabsf(au.samples[k] - x[k]));
        CHECK(worst <= 1.0f / 32767 + 1e-6f, "%s: sound track off by %g", path, worst);
        mmc_audio_free(&au);
        mmc_video v;
        REQUIRE(mmc_video_load(&v, path, NULL, &err) == MMC_OK, "%s", err.msg);
        CHECK(v.n == T, "%s: %d frames", path, v.n);
        for (int f = 0; f < v.n && f < T; f++) CHECK(!memcmp(v.frames[f].data, rgb + (size_t)f * fb, fb), "%s frame %d", path, f);
        mmc_video_free(&v);
        mmc_sample_free(&s);
        mmc_free(x);
    }
    free(rgb);
    mmc_manifest_free(m);
    test_rm_tmpdir(dir);
}
