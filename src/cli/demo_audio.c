/* demo_audio.c — the demo's audio stage: 以声搜图, spoken captions that find their scene.
 *
 * The first scenes of the demo world's training split and all its test scenes are written
 * again into OUT/adata (the same scenes: a scene depends on its seed, split and index, not
 * on the split's size) and one English caption of each is read aloud by eSpeak NG
 * (mmc_shapes_speak_split, as `mmc data shapes --audio` does; test in voices training never
 * hears). An audio:image dual encoder (`mmc train retrieval --pair audio:image`, the
 * transcripts as a third view) trains on them for a fixed step count, is evaluated on the
 * test clips (audio->image recall among the test scenes), and the first four test clips are
 * shown as players (the clip inlined as a WAV data: URI) beside the three scenes each finds.
 *
 * The run is short: the figures show the pipeline, docs/results.md has the 15-minute ones. */
#include "demo.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Sizes: 2,200 clips to speak (synthesis is serialised: ~85 clips a second on a quiet
 * machine, ~30 with the cores busy) and 300 steps of the small config below (~400 clips a
 * second against the default config's ~290). Measured in a full demo on 2 cores with the
 * machine loaded ~4.7: speech 71 s, training 127 s, the stage 3m42s; test audio->image
 * R@1 0.125, R@5 0.360, R@10 0.510 among the 200 test scenes (chance 0.005). */
#define DEMO_AUDIO_SCENES 2000
#define DEMO_AUDIO_STEPS 300
#define DEMO_AUDIO_QUICK_SCENES 100
#define DEMO_AUDIO_QUICK_STEPS 30
#define DEMO_AUDIO_EXAMPLES 4
#define DEMO_AUDIO_TOP 3

typedef struct speak_progress {
    cli_progress_state p;
    const char *what;
} speak_progress;

static void on_progress(void *user, int64_t done, int64_t total) {
    speak_progress *s = user;
    cli_progress(&s->p, s->what, done, total);
}

/* No validation split: every step goes to training (the run's resume command, which has
 * no val manifest to find in OUT/adata either, trains the same way). */
static int train(const void *cfg, const mmc_retrieval_train_opts *o, mmc_error *err) {
    mmc_retrieval_train_opts t = *o;
    t.val_split = "";
    return mmc_retrieval_train(cfg, &t, err);
}

static void audio_config(const demo_ctx *d, mmc_retrieval_config *c) {
    *c = mmc_retrieval_config_default();
    snprintf(c->query, sizeof c->query, "audio");
    snprintf(c->target, sizeof c->target, "image");
    snprintf(c->lang, sizeof c->lang, "en");
    c->warmup_steps = 20; /* of 300 steps, not 100 */
    c->image_size = 32;   /* a quarter of the cnn's work; shapes stay legible */
    c->audio.channels = 64;
    c->audio.hidden = 64;
    if (d->quick) {
        memset(c->image.cnn_widths, 0, sizeof c->image.cnn_widths);
        c->image.cnn_widths[0] = 8, c->image.cnn_widths[1] = 16;
        c->pool_grid = 2;
        c->embed_dim = 16, c->batch_size = 16, c->warmup_steps = 2;
        c->audio.channels = 16, c->audio.hidden = 16;
        c->text.word_dim = 16, c->text.text_hidden = 16;
    }
}

/* OUT/adata: the scenes, then their spoken captions. */
static int make_data(demo_ctx *d, const char *dir, int n_train) {
    static const char *splits[2] = {"train", "test"};
    int n[2] = {n_train, d->n_test};
    mmc_error err = {0};
    for (int i = 0; i < 2; i++)
        if (mmc_shapes_write_split(dir, splits[i], n[i], d->data_seed, d->image_size, NULL, NULL, &err)) return cli_error_from(&err);
    mmc_speech_opts so = mmc_speech_opts_default();
    so.per_scene = 1, so.en = 1, so.zh = 0;
    snprintf(so.format, sizeof so.format, "ogg");
    for (int i = 0; i < 2; i++) {
        char what[64];
        snprintf(what, sizeof what, "speaking %s", splits[i]);
        speak_progress sp = {{stdout, mmc_now(), 0, d->tty}, what};
        if (mmc_shapes_speak_split(dir, splits[i], d->data_seed, &so, on_progress, &sp, &err))
            return cli_error(err.code ? err.code : 3, "demo: the audio stage reads captions aloud with eSpeak NG: %s", err.msg);
        if (*d->interrupt) return 0;
    }
    return 0;
}

typedef struct scored {
    int i;
    float s;
} scored;

static int by_score(const void *a, const void *b) {
    const scored *x = a, *y = b;
    return x->s < y->s ? 1 : x->s > y->s ? -1 : x->i - y->i;
}

/* The first DEMO_AUDIO_EXAMPLES test clips (a fixed rule, right or wrong) as players beside
 * the DEMO_AUDIO_TOP test scenes each finds; *own_top counts queries whose own scene is
 * among them. */
static int examples(demo_ctx *d, const char *run, const mmc_manifest *test, int *own_top, int *shown, mmc_error *err) {
    int n = test->count, rc = 0, nq = 0;
    *own_top = 0, *shown = 0;
    mmc_embedder *e = mmc_embedder_open(run, err);
    if (!e) return cli_error_from(err);
    int E = mmc_embedder_dim(e);
    char **paths = calloc((size_t)n, sizeof *paths), *clips[DEMO_AUDIO_EXAMPLES] = {0}, *wavs[DEMO_AUDIO_EXAMPLES] = {0};
    int qs[DEMO_AUDIO_EXAMPLES];
    float *img = malloc(sizeof(float) * (size_t)n * E), *q = malloc(sizeof(float) * DEMO_AUDIO_EXAMPLES * E);
    scored *sc = malloc(sizeof *sc * (size_t)n);
    if (!paths || !img || !q || !sc) rc = cli_error(3, "demo: out of memory");
    for (int i = 0; i < n && !rc; i++) {
        char buf[4200];
        if (!(paths[i] = strdup(demo_image_path(test, &test->samples[i], buf, sizeof buf)))) rc = cli_error(3, "demo: out of memory");
    }
    if (!rc && mmc_embedder_image_files(e, (const char *const *)paths, n, img, err)) rc = cli_error_from(err);
    char qdir[4200];
    demo_path(d, "audio-queries", qdir, sizeof qdir);
    if (!rc && mkdir(qdir, 0755) != 0) {
        struct stat st;
        if (stat(qdir, &st) != 0 || !S_ISDIR(st.st_mode)) rc = cli_error(2, "demo: cannot create %s", qdir);
    }
    for (int i = 0; i < n && nq < DEMO_AUDIO_EXAMPLES && !rc; i++) {
        const mmc_sample *s = &test->samples[i];
        if (s->n_audio < 1) continue;
        char buf[8500];
        snprintf(buf, sizeof buf, "%s/%s", test->dir, s->audio[0].path);
        clips[nq] = strdup(buf);
        /* the clip as 16-bit WAV for the report: every browser plays it (Ogg Vorbis: not all) */
        snprintf(buf, sizeof buf, "%s/%s.wav", qdir, s->id);
        wavs[nq] = strdup(buf);
        if (!clips[nq] || !wavs[nq]) { rc = cli_error(3, "demo: out of memory"); break; }
        mmc_audio a = {0};
        if (mmc_audio_load(&a, clips[nq], 0, err) || mmc_audio_write(wavs[nq], a.samples, a.n, a.rate, "wav", err)) rc = cli_error_from(err);
        mmc_audio_free(&a);
        qs[nq++] = i;
    }
    if (!rc && mmc_embedder_audio_files(e, (const char *const *)clips, nq, q, err)) rc = cli_error_from(err);
    for (int k = 0; k < nq && !rc; k++) {
        const mmc_sample *s = &test->samples[qs[k]];
        const mmc_audio_ref *ar = &s->audio[0];
        for (int i = 0; i < n; i++) {
            float dot = 0;
            for (int j = 0; j < E; j++) dot += q[(size_t)k * E + j] * img[(size_t)i * E + j];
            sc[i] = (scored){i, dot};
        }
        qsort(sc, (size_t)n, sizeof *sc, by_score);
        int rank = 0;
        for (int r = 0; r < n; r++)
            if (sc[r].i == qs[k]) rank = r + 1;
        int top = n < DEMO_AUDIO_TOP ? n : DEMO_AUDIO_TOP, found = rank <= top;
        *own_top += found;
        printf("spoken query %s (%s): \"%s\": its scene ranked %d of %d\n", s->id, ar->voice ? ar->voice : "?", ar->text, rank, n);
        char title[2048], text[2048];
        snprintf(title, sizeof title, "Spoken query %d: its scene (%s) ranked %d of %d", k + 1, s->id, rank, n);
        int g = mmc_report_gallery(d->report, title, err);
        snprintf(text, sizeof text, "▶ %s, voice %s (unheard in training)\n“%s”", s->id,
                 ar->voice ? ar->voice : "?", ar->text);
        if (g < 0 || mmc_report_example_audio(d->report, g, wavs[k], text, 0, err)) { rc = cli_error_from(err); break; }
        for (int r = 0; r < top; r++) {
            const mmc_sample *t = &test->samples[sc[r].i];
            int own = sc[r].i == qs[k];
            printf("  %d. %.3f  %-10s %s  %s\n", r + 1, sc[r].s, own ? "its scene" : "-", t->id, t->n_captions ? t->captions[0] : "");
            snprintf(text, sizeof text, "#%d  score %.3f%s\n%s", r + 1, sc[r].s, own ? "  ✓ its scene" : "",
                     t->n_captions ? t->captions[0] : "");
            if (mmc_report_example_file(d->report, g, paths[sc[r].i], text, own, err)) { rc = cli_error_from(err); break; }
        }
    }
    *shown = nq;
    for (int i = 0; paths && i < n; i++) free(paths[i]);
    for (int k = 0; k < DEMO_AUDIO_EXAMPLES; k++) free(clips[k]), free(wavs[k]);
    free(paths);
    free(img);
    free(q);
    free(sc);
    mmc_embedder_close(e);
    return rc;
}

int demo_stage_audio(demo_ctx *d) {
    int n_train = d->quick ? DEMO_AUDIO_QUICK_SCENES : DEMO_AUDIO_SCENES;
    if (n_train > d->n_train) n_train = d->n_train;
    int64_t steps = d->steps > 0 ? d->steps : d->quick ? DEMO_AUDIO_QUICK_STEPS : DEMO_AUDIO_STEPS;
    char data[4200], run[4200];
    demo_path(d, "adata", data, sizeof data);
    demo_path(d, "audio-retrieval", run, sizeof run);
    printf("speaking one English caption of %d training and %d test scenes (eSpeak NG) into %s\n", n_train, d->n_test, data);
    fflush(stdout);
    double t0 = mmc_now();
    int rc = make_data(d, data, n_train);
    if (rc || *d->interrupt) return rc;
    double t_speak = mmc_now() - t0;
    printf("spoke %d clips in %.1f s\n", n_train + d->n_test, t_speak);

    mmc_retrieval_config cfg;
    audio_config(d, &cfg);
    printf("speech->image retrieval (audio %s over %d convs, image cnn at %d px, transcripts as a third view): %lld steps into %s\n",
           cfg.audio.encoder, cfg.audio.convs, cfg.image_size, (long long)steps, run);
    fflush(stdout);
    d->train_data = data;
    rc = demo_train(d, "retrieval", run, steps, train, &cfg);
    d->train_data = NULL;
    if (rc) return rc;

    mmc_error err = {0};
    mmc_retrieval *m = mmc_retrieval_load(run, &err);
    if (!m) return cli_error_from(&err);
    mmc_retrieval_metrics mt;
    rc = mmc_retrieval_evaluate(m, data, "test", 0, &mt, &err);
    mmc_retrieval_free(m);
    if (rc) return cli_error_from(&err);
    printf("test (%d images, %d spoken captions): audio->image R@1 %.3f R@5 %.3f R@10 %.3f; image->audio R@1 %.3f (chance R@1 %.3f)\n",
           mt.n_images, mt.n_texts, mt.t2i.r1, mt.t2i.r5, mt.t2i.r10, mt.i2t.r1, 1.0 / (mt.n_images > 0 ? mt.n_images : 1));
    char model[128];
    snprintf(model, sizeof model, "speech→image dual encoder, %lld steps", (long long)steps);
    const char *names[4] = {"audio→image R@1", "audio→image R@5", "audio→image R@10", "image→audio R@1"};
    double v[4] = {mt.t2i.r1, mt.t2i.r5, mt.t2i.r10, mt.i2t.r1};
    for (int i = 0; i < 4; i++)
        if ((rc = demo_metric(d, "speech retrieval", model, names[i], "%.3f", v[i]))) return rc;

    char text[24000];
    snprintf(text, sizeof text,
             "以声搜图: spoken captions find their scene. One English caption of each of the first %d training scenes and "
             "of the %d test scenes was read aloud by eSpeak NG (%.0f s; the test scenes in voices training never hears) into "
             "%s, and a dual encoder (log-mel → 1-D convolutions and a GRU for the sound, a CNN for the image at %d px, the "
             "clip's transcript through a GRU as a third view during training only) trained on them for %lld steps of batch "
             "%d with symmetric InfoNCE summed over the three pairs (audio-image, text-image, audio-text). Run folder: %s. "
             "A short run: audio→image R@1 %.3f among the %d test scenes (chance %.3f); docs/results.md has 15-minute runs. "
             "Below, the first %d test clips as queries (press play: the sound is in the page) and the %d test scenes each "
             "finds, by cosine similarity; a green frame marks the scene the clip was spoken for. Try more: mmc index build "
             "--model %s --data %s --split test --out %s/test-audio.idx, then mmc search %s/test-audio.idx --audio "
             "%s/audio-queries/test-000000.wav",
             n_train, d->n_test, t_speak, data, cfg.image_size, (long long)steps, cfg.batch_size, run, mt.t2i.r1, mt.n_images,
             1.0 / (mt.n_images > 0 ? mt.n_images : 1), DEMO_AUDIO_EXAMPLES, DEMO_AUDIO_TOP, run, data, d->out, d->out, d->out);
    if (mmc_report_heading(d->report, "Speech: spoken captions find their scene", &err) || mmc_report_text(d->report, text, &err))
        return cli_error_from(&err);
    const char *series[1] = {"speech→image"}, *dirs[1] = {run};
    if ((rc = demo_chart_runs(d, "speech→image: training loss (InfoNCE, 3 pairs)", "loss", "loss", 1, series, dirs)))
        return rc;
    mmc_manifest *test = mmc_manifest_load(data, "test", &err);
    if (!test) return cli_error_from(&err);
    int own = 0, shown = 0;
    printf("spoken test queries (top %d of the %d test images):\n", DEMO_AUDIO_TOP, test->count);
    rc = examples(d, run, test, &own, &shown, &err);
    mmc_manifest_free(test);
    if (!rc) {
        char metric[128];
        snprintf(metric, sizeof metric, "own scene in the top %d (%d spoken queries below)", DEMO_AUDIO_TOP, shown);
        rc = demo_metric(d, "speech retrieval", model, metric, "%d of %d", own, shown);
    }
    fflush(stdout);
    return rc;
}
