/* test_audio_encoder.c — the audio slot of the encoder registry (src/models/encoder_audio.c):
 * PyTorch parity of every audio encoder (forward, the input's gradient and every parameter
 * gradient; fixtures by tools/fixtures/audio_encoder.py, clips of 37, 20 and 5 frames padded
 * into one batch), finite-difference gradients, an embedding that does not depend on the
 * batch a clip is in, SpecAugment's masks, and the checks of its keys. */
#include "test.h"
#include "../src/models/encoder.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

static void tiny_cfg(enc_audio_cfg *c, const char *kind, int M, int stride, int layers) {
    memset(c, 0, sizeof *c);
    c->o = mmc_audio_encoder_defaults();
    snprintf(c->o.encoder, sizeof c->o.encoder, "%s", kind);
    c->o.n_mels = M;
    c->o.channels = 8;
    c->o.convs = 3;
    c->o.stride = stride;
    c->o.hidden = !strcmp(kind, "gru") ? 6 : 8;
    c->o.layers = layers;
    c->o.heads = 2;
    c->o.max_frames = 64;
    c->o.freq_width = 2;
}

static void parity(const char *kind, int stride, int layers) {
    char name[64];
    snprintf(name, sizeof name, "enc_audio_%s_s%d_l%d", kind, stride, layers);
    mmc_safetensors st;
    if (!test_fixture_open(&st, name)) return;
    enc_audio_cfg c;
    tiny_cfg(&c, kind, 12, stride, layers);
    mmc_params P = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 0);
    mmc_error err = {0};
    static enc_audio e;
    int rc = enc_audio_init(&e, enc_audio_find(kind), &c, &P, "a", &rng, &rng, &err);
    CHECK(rc == MMC_OK, "%s: init: %s", name, err.msg);
    for (int i = 0; !rc && i < P.n; i++) { /* "a.conv.0.weight" <- "conv.0.weight" */
        mmc_tensor *src = test_fixture_get(&st, P.names[i] + 2);
        if (!src) { rc = 1; break; }
        CHECK(src->numel == P.tensors[i]->numel, "%s: %s: %lld values, torch has %lld", name, P.names[i],
              (long long)P.tensors[i]->numel, (long long)src->numel);
        if (src->numel == P.tensors[i]->numel) memcpy(P.tensors[i]->data, src->data, sizeof(float) * (size_t)src->numel);
        mmc_tensor_free(src);
    }
    mmc_tensor *mel = test_fixture_get(&st, "mel"), *want = test_fixture_get(&st, "out"), *gout = test_fixture_get(&st, "gout");
    int64_t nl = 0;
    int *len = test_fixture_ints(&st, "len", &nl);
    mmc_ctx *ctx = mmc_ctx_new();
    if (!rc && mel && want && gout && len) {
        mel->requires_grad = 1;
        mmc_tensor *out = enc_audio_forward(ctx, &e, mel, len, 1);
        CHECK(out != NULL, "%s: forward: %s", name, ctx->err.msg);
        if (out) {
            char what[400];
            snprintf(what, sizeof what, "%s: out", name);
            test_close(what, out->data, want->data, want->numel, TOL);
            CHECK(mmc_backward_with(ctx, out, gout->data) == MMC_OK, "%s: backward: %s", name, ctx->err.msg);
            mmc_tensor *gm = test_fixture_get(&st, "grad_mel");
            snprintf(what, sizeof what, "%s: grad_mel", name);
            if (gm) test_close(what, mel->grad, gm->data, gm->numel, TOL);
            mmc_tensor_free(gm);
            char key[300];
            for (int i = 0; i < P.n; i++) {
                snprintf(key, sizeof key, "grad.%s", P.names[i] + 2);
                mmc_tensor *g = test_fixture_get(&st, key);
                snprintf(what, sizeof what, "%s: %s", name, key);
                if (g) test_close(what, P.tensors[i]->grad, g->data, g->numel, TOL);
                mmc_tensor_free(g);
            }
        }
    }
    mmc_ctx_free(ctx);
    free(len);
    mmc_tensor_free(mel);
    mmc_tensor_free(want);
    mmc_tensor_free(gout);
    mmc_params_free(&P);
    mmc_safetensors_close(&st);
}

TEST(parity_audio_encoder_gru) {
    parity("gru", 4, 1);
    parity("gru", 2, 2);
}
TEST(parity_audio_encoder_transformer) { parity("transformer", 8, 2); }
TEST(parity_audio_encoder_mean) { parity("mean", 1, 1); }

/* ------------------------------------------------------------ gradients */

typedef struct gc {
    enc_audio e;
    int len[3];
} gc;

static mmc_tensor *g_audio(mmc_ctx *ctx, mmc_tensor **in, void *user) {
    gc *g = user;
    return enc_audio_forward(ctx, &g->e, in[0], g->len, 0);
}

static void gradcheck(const char *kind, int stride) {
    static gc g;
    enc_audio_cfg c;
    tiny_cfg(&c, kind, 6, stride, 1);
    mmc_params P = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 5, 0);
    mmc_error err = {0};
    REQUIRE(enc_audio_init(&g.e, enc_audio_find(kind), &c, &P, "a", &rng, &rng, &err) == MMC_OK, "%s: %s", kind, err.msg);
    g.len[0] = 19, g.len[1] = 11, g.len[2] = 3;
    mmc_tensor *in[64];
    in[0] = test_randn(3, (int[]){3, 6, 19}, 77, 1.0f);
    for (int b = 1; b < 3; b++)
        for (int f = 0; f < 6; f++)
            for (int t = g.len[b]; t < 19; t++) in[0]->data[((size_t)b * 6 + f) * 19 + t] = 0;
    in[0]->requires_grad = 1;
    int n = 1;
    for (int i = 0; i < P.n && n < 64; i++) in[n++] = P.tensors[i];
    test_gradcheck(kind, g_audio, in, n, &g, 1e-2f, 2e-2, 16);
    mmc_tensor_free(in[0]);
    mmc_params_free(&P);
}

TEST(grad_audio_encoder) {
    gradcheck("gru", 4);
    gradcheck("transformer", 2);
    gradcheck("mean", 8);
}

/* A clip embeds the same alone and padded in a batch with a longer one. */
TEST(audio_encoder_batch_invariant) {
    const char *kinds[] = {"gru", "transformer", "mean"};
    for (int k = 0; k < 3; k++) {
        enc_audio_cfg c;
        tiny_cfg(&c, kinds[k], 10, 8, 1);
        static enc_audio e;
        mmc_params P = {0};
        mmc_rng rng;
        mmc_rng_seed(&rng, 9, 0);
        mmc_error err = {0};
        REQUIRE(enc_audio_init(&e, enc_audio_find(kinds[k]), &c, &P, "a", &rng, &rng, &err) == MMC_OK, "%s", err.msg);
        mmc_tensor *two = test_randn(3, (int[]){2, 10, 50}, 3, 1.0f);
        mmc_tensor *one = mmc_tensor_new(3, (int[]){1, 10, 21});
        for (int f = 0; f < 10; f++)
            for (int t = 0; t < 50; t++) {
                if (t >= 21) two->data[(size_t)(10 + f) * 50 + t] = 0;
                else one->data[(size_t)f * 21 + t] = two->data[(size_t)(10 + f) * 50 + t];
            }
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_grad_mode(ctx, 0);
        mmc_tensor *a = enc_audio_forward(ctx, &e, two, (int[]){50, 21}, 0);
        mmc_tensor *b = enc_audio_forward(ctx, &e, one, (int[]){21}, 0);
        REQUIRE(a && b, "%s: %s", kinds[k], ctx->err.msg);
        test_close(kinds[k], a->data + e.out_dim, b->data, e.out_dim, 1e-5);
        mmc_ctx_free(ctx);
        mmc_tensor_free(two);
        mmc_tensor_free(one);
        mmc_params_free(&P);
    }
}

/* Masks: zero runs within the clip's frames, never past them; deterministic for the stream. */
TEST(audio_specaugment_masks) {
    mmc_audio_encoder_opts o = mmc_audio_encoder_defaults();
    o.n_mels = 20, o.freq_masks = 2, o.freq_width = 5, o.time_masks = 3, o.time_width = 7;
    int T = 60, len = 40;
    float *a = malloc(sizeof(float) * 20 * T), *b = malloc(sizeof(float) * 20 * T);
    for (int i = 0; i < 20 * T; i++) a[i] = b[i] = 1.0f + (float)(i % 7);
    mmc_rng r1, r2;
    mmc_rng_seed(&r1, 4, 2);
    mmc_rng_seed(&r2, 4, 2);
    enc_audio_specaugment(&o, a, T, len, &r1);
    enc_audio_specaugment(&o, b, T, len, &r2);
    CHECK(!memcmp(a, b, sizeof(float) * 20 * T), "the same stream gives the same masks");
    int zeros = 0, past = 0;
    for (int f = 0; f < 20; f++)
        for (int t = 0; t < T; t++) {
            zeros += a[f * T + t] == 0;
            past += t >= len && a[f * T + t] == 0;
        }
    CHECK(past == 0, "%d masked values past the clip's frames", past);
    CHECK(zeros > 0 && zeros <= 2 * 5 * len + 3 * 7 * 20, "%d masked values", zeros);
    free(a);
    free(b);
}

TEST(audio_encoder_checks) {
    enc_audio_cfg c;
    tiny_cfg(&c, "gru", 80, 8, 1);
    mmc_error err = {0};
    CHECK(enc_audio_check(&c, "cfg.json", &err) == MMC_OK, "%s", err.msg);
    c.o.stride = 3;
    CHECK(enc_audio_check(&c, "cfg.json", &err) == MMC_ERR_INPUT && strstr(err.msg, "audio_stride"), "%s", err.msg);
    c.o.stride = 8, c.o.convs = 2;
    CHECK(enc_audio_check(&c, "cfg.json", &err) == MMC_ERR_INPUT && strstr(err.msg, "audio_convs"), "%s", err.msg);
    tiny_cfg(&c, "lstm", 80, 8, 1);
    CHECK(enc_audio_check(&c, "cfg.json", &err) == MMC_ERR_INPUT && strstr(err.msg, "gru, transformer, mean"), "%s", err.msg);
    tiny_cfg(&c, "transformer", 80, 8, 1);
    c.o.hidden = 10, c.o.heads = 4;
    CHECK(enc_audio_check(&c, "cfg.json", &err) == MMC_ERR_INPUT && strstr(err.msg, "audio_heads"), "%s", err.msg);
    /* a clip longer than the transformer's positions is refused, not read past */
    tiny_cfg(&c, "transformer", 4, 1, 1);
    c.o.max_frames = 8;
    static enc_audio e;
    mmc_params P = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 0);
    REQUIRE(enc_audio_init(&e, enc_audio_find("transformer"), &c, &P, "a", &rng, &rng, &err) == MMC_OK, "%s", err.msg);
    mmc_tensor *x = test_randn(3, (int[]){1, 4, 12}, 1, 1.0f);
    mmc_ctx *ctx = mmc_ctx_new();
    CHECK(enc_audio_forward(ctx, &e, x, (int[]){12}, 0) == NULL && strstr(ctx->err.msg, "audio_max_frames"), "%s", ctx->err.msg);
    mmc_ctx_free(ctx);
    ctx = mmc_ctx_new();
    CHECK(enc_audio_forward(ctx, &e, x, (int[]){13}, 0) == NULL, "a length past the frames is refused");
    mmc_ctx_free(ctx);
    mmc_tensor_free(x);
    mmc_params_free(&P);
}

/* ------------------------------------------------------------ unfold1d */

static int g_uk, g_us, g_up;
static mmc_tensor *g_unfold(mmc_ctx *ctx, mmc_tensor **in, void *user) {
    (void)user;
    return mmc_unfold1d(ctx, in[0], g_uk, g_us, g_up);
}

/* Values against the definition, gradients by finite differences, bad shapes refused. */
TEST(grad_unfold1d) {
    int ks[3][3] = {{3, 1, 1}, {3, 2, 1}, {2, 3, 0}};
    for (int c = 0; c < 3; c++) {
        g_uk = ks[c][0], g_us = ks[c][1], g_up = ks[c][2];
        mmc_tensor *x = test_randn(3, (int[]){2, 7, 3}, 11 + c, 1.0f);
        x->requires_grad = 1;
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_tensor *u = mmc_unfold1d(ctx, x, g_uk, g_us, g_up);
        REQUIRE(u, "unfold: %s", ctx->err.msg);
        int To = (7 + 2 * g_up - g_uk) / g_us + 1, bad = 0;
        CHECK(u->shape[0] == 2 && u->shape[1] == To && u->shape[2] == 3 * g_uk, "shape (%d, %d, %d)", u->shape[0], u->shape[1], u->shape[2]);
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < To; t++)
                for (int ch = 0; ch < 3; ch++)
                    for (int j = 0; j < g_uk; j++) {
                        int ti = t * g_us + j - g_up;
                        float want = ti < 0 || ti >= 7 ? 0.0f : x->data[(b * 7 + ti) * 3 + ch];
                        bad += u->data[((size_t)(b * To + t) * 3 + ch) * g_uk + j] != want;
                    }
        CHECK(bad == 0, "k %d s %d p %d: %d values off", g_uk, g_us, g_up, bad);
        mmc_ctx_free(ctx);
        test_gradcheck("unfold1d", g_unfold, &x, 1, NULL, 1e-2f, 1e-3, 42);
        mmc_tensor_free(x);
    }
    mmc_tensor *x = test_randn(3, (int[]){1, 2, 3}, 1, 1.0f);
    mmc_ctx *ctx = mmc_ctx_new();
    CHECK(mmc_unfold1d(ctx, x, 5, 1, 1) == NULL && ctx->err.code == MMC_ERR_USAGE, "a kernel longer than the padded steps");
    mmc_ctx_free(ctx);
    ctx = mmc_ctx_new();
    CHECK(mmc_unfold1d(ctx, x, 3, 0, 1) == NULL && ctx->err.code == MMC_ERR_USAGE, "stride 0");
    mmc_ctx_free(ctx);
    mmc_tensor_free(x);
}

/* ------------------------------------------------------------ retrieval with audio queries */

#include "../src/models/retrieval_internal.h"

static int train_run(const mmc_retrieval_config *c, const char *data, const char *out, int steps, int stop_at, int resume,
                     mmc_error *err) {
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = data, o.run_dir = out, o.steps = steps, o.stop_at_step = stop_at, o.resume = resume, o.seed = 5, o.log_every = 100;
    return mmc_retrieval_train(c, &o, err);
}

static void tiny_audio_ret(mmc_retrieval_config *c, const char *pair, const char *enc) {
    *c = mmc_retrieval_config_default();
    const char *colon = strchr(pair, ':');
    snprintf(c->query, sizeof c->query, "%.*s", (int)(colon - pair), pair);
    snprintf(c->target, sizeof c->target, "%s", colon + 1);
    c->image_size = 16;
    int w[6] = {4, 8, 0, 0, 0, 0};
    memcpy(c->image.cnn_widths, w, sizeof w);
    c->pool_grid = 2, c->text.word_dim = 8, c->text.text_hidden = 8, c->embed_dim = 8;
    snprintf(c->audio.encoder, sizeof c->audio.encoder, "%s", enc);
    c->audio.channels = 8, c->audio.hidden = 8, c->audio.heads = 2, c->dropout = 0.1f;
    c->audio.warp = 0.1f, c->audio.stretch = 0.15f; /* the augmented path resumes exactly too */
    c->batch_size = 4, c->warmup_steps = 2, c->bn_recompute = 2, c->bucket_batches = 2;
}

/* 8 train and 3 val scenes at 16 px, each with 2 spoken English captions (eSpeak NG). */
static int speech_dir(char *dir, size_t n) {
    snprintf(dir, n, "/tmp/mmc-audio-ret-XXXXXX");
    if (!mkdtemp(dir)) return 0;
    mmc_error err = {0};
    mmc_speech_opts so = mmc_speech_opts_default();
    so.per_scene = 2, so.zh = 0;
    if (mmc_shapes_write_split(dir, "train", 8, 5, 16, NULL, NULL, &err) || mmc_shapes_write_split(dir, "val", 3, 5, 16, NULL, NULL, &err))
        return 0;
    return !mmc_shapes_speak_split(dir, "train", 5, &so, NULL, NULL, &err) && !mmc_shapes_speak_split(dir, "val", 5, &so, NULL, NULL, &err);
}

/* Every audio encoder, with images and with texts as the target, resumes bit-exactly
 * (6 steps straight == 3 + resume + 3: model and optimizer bytes equal); the run evaluates
 * a clip against the scenes and embeds a sound file as its training clips embed. */
TEST(retrieval_audio_resume_and_embed) {
    char dir[64];
    REQUIRE(speech_dir(dir, sizeof dir), "cannot make the spoken dataset");
    static const char *const runs[][2] = {{"audio:image", "gru"}, {"audio:image", "transformer"}, {"audio:image", "mean"},
                                          {"audio:text", "gru"}};
    for (int i = 0; i < 4; i++) {
        mmc_retrieval_config c;
        tiny_audio_ret(&c, runs[i][0], runs[i][1]);
        c.transcripts = i == 1; /* the transformer run also reads the transcripts (a third tower) */
        char ra[160], rb[160], pa[256], pb[256], why[1200] = "";
        snprintf(ra, sizeof ra, "%s/r%d-a", dir, i);
        snprintf(rb, sizeof rb, "%s/r%d-b", dir, i);
        mmc_error err = {0};
        REQUIRE(train_run(&c, dir, ra, 6, 0, 0, &err) == MMC_OK, "%s %s straight: %s", runs[i][0], runs[i][1], err.msg);
        REQUIRE(train_run(&c, dir, rb, 6, 3, 0, &err) == MMC_OK, "first half: %s", err.msg);
        REQUIRE(train_run(NULL, dir, rb, 6, 0, 1, &err) == MMC_OK, "resume: %s", err.msg);
        for (int f = 0; f < 2; f++) {
            snprintf(pa, sizeof pa, "%s/%s.safetensors", ra, f ? "optimizer" : "model");
            snprintf(pb, sizeof pb, "%s/%s.safetensors", rb, f ? "optimizer" : "model");
            CHECK(test_same_tensors_file(pa, pb, why, sizeof why), "%s %s: %s after resume: %s", runs[i][0], runs[i][1], pa, why);
        }
    }
    /* audio:image: 6 val clips against 3 scenes; no text tower, no vocabulary */
    char run[128];
    snprintf(run, sizeof run, "%s/r0-a", dir);
    mmc_error err = {0};
    mmc_retrieval *m = mmc_retrieval_load(run, &err);
    REQUIRE(m, "load: %s", err.msg);
    CHECK(!strcmp(mmc_retrieval_query(m), "audio") && mmc_retrieval_tokenizer(m) == NULL, "an audio:image run has no tokenizer");
    mmc_retrieval_metrics mt;
    CHECK(mmc_retrieval_evaluate(m, dir, "val", 0, &mt, &err) == MMC_OK && mt.n_images == 3 && mt.n_texts == 6, "eval: %s (%d, %d)",
          err.msg, mt.n_images, mt.n_texts);
    float e[8], want[8];
    CHECK(mmc_retrieval_embed_texts(m, (const char *[]){"a red circle"}, 1, e, &err) == MMC_ERR_USAGE, "texts: %s", err.msg);
    /* a file embeds as the same clip does from the split (within the byte quantisation) */
    task_split d;
    REQUIRE(ret_split_load(m, &d, dir, "val", 0, &err) == MMC_OK, "%s", err.msg);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, d.audio->path[1]);
    const char *paths[1] = {path};
    CHECK(mmc_retrieval_embed_audio_files(m, paths, 1, e, &err) == MMC_OK, "file: %s", err.msg);
    float *mel = malloc(sizeof(float) * (size_t)d.audio->n_mels * d.audio->frames[1]);
    task_audio_mel(d.audio, 1, mel, d.audio->frames[1]);
    const float *mels[1] = {mel};
    CHECK(mmc_retrieval_embed_mels(m, mels, &d.audio->frames[1], 1, want, &err) == MMC_OK, "mels: %s", err.msg);
    test_close("file vs split clip", e, want, 8, 2e-2);
    free(mel);
    task_split_free(&d);
    const char *missing[1] = {"/nonexistent/x.wav"};
    CHECK(mmc_retrieval_embed_audio_files(m, missing, 1, e, &err) == MMC_ERR_INPUT && strstr(err.msg, "/nonexistent/x.wav"), "%s", err.msg);
    mmc_retrieval_free(m);
    /* with transcripts: a text tower and a vocabulary, audio->image evaluated the same */
    snprintf(run, sizeof run, "%s/r1-a", dir);
    REQUIRE((m = mmc_retrieval_load(run, &err)), "load: %s", err.msg);
    CHECK(mmc_retrieval_tokenizer(m) != NULL, "a run with transcripts keeps its vocabulary");
    CHECK(mmc_retrieval_evaluate(m, dir, "val", 0, &mt, &err) == MMC_OK && mt.n_images == 3 && mt.n_texts == 6, "eval: %s", err.msg);
    mmc_retrieval_free(m);
    /* audio:text: clips against their transcripts */
    snprintf(run, sizeof run, "%s/r3-a", dir);
    REQUIRE((m = mmc_retrieval_load(run, &err)), "load: %s", err.msg);
    CHECK(mmc_retrieval_evaluate(m, dir, "val", 0, &mt, &err) == MMC_OK && mt.n_images == 6 && mt.n_texts == 6, "eval: %s", err.msg);
    CHECK(mmc_retrieval_embed_chw(m, (float[3 * 16 * 16]){0}, 1, e, &err) == MMC_ERR_USAGE, "an audio:text model and images: %s", err.msg);
    mmc_retrieval_free(m);
    /* configs the pair refuses, naming the key */
    static const char *const bad[][2] = {{"{\"target\": \"text\"}", "query"},
                                         {"{\"query\": \"audio\", \"audio_stride\": 3}", "audio_stride"},
                                         {"{\"query\": \"audio\", \"audio_encoder\": \"lstm\"}", "audio_encoder"},
                                         {"{\"query\": \"speech\"}", "query"}};
    for (int i = 0; i < 4; i++) {
        mmc_retrieval_config c = mmc_retrieval_config_default();
        CHECK(mmc_retrieval_config_parse(&c, bad[i][0], strlen(bad[i][0]), "cfg", &err) == MMC_ERR_INPUT && strstr(err.msg, bad[i][1]),
              "%s: %s", bad[i][0], err.msg);
    }
    test_rm_tmpdir(dir);
}

/* Warping: identity at 1, 1; tempo changes the length and interpolates between frames; the
 * band scale reads band f·alpha; the padding stays 0. */
TEST(audio_warp) {
    enum { M = 6, T = 10, TO = 24 };
    float in[M * T], out[M * TO];
    for (int f = 0; f < M; f++)
        for (int t = 0; t < T; t++) in[f * T + t] = (float)(10 * f + t);
    int n = enc_audio_warp(in, M, T, 8, 1.0f, 1.0f, out, TO);
    int bad = n != 8;
    for (int f = 0; f < M; f++)
        for (int t = 0; t < TO; t++) bad += out[f * TO + t] != (t < 8 ? in[f * T + t] : 0.0f);
    CHECK(bad == 0, "identity: n %d, %d values off", n, bad);
    n = enc_audio_warp(in, M, T, 8, 1.0f, 1.5f, out, TO); /* 8 frames -> 12, frame t reads 7t/11 */
    CHECK(n == 12 && fabsf(out[2 * TO + 11] - in[2 * T + 7]) < 1e-5f && fabsf(out[2 * TO + 1] - (20.0f + 7.0f / 11.0f)) < 1e-5f &&
              out[2 * TO + 12] == 0.0f,
          "stretch: n %d, %g %g", n, out[2 * TO + 11], out[2 * TO + 1]);
    n = enc_audio_warp(in, M, T, 8, 0.5f, 1.0f, out, TO); /* band 3 reads band 1.5 */
    CHECK(n == 8 && fabsf(out[3 * TO + 4] - 19.0f) < 1e-5f, "warp: %g", out[3 * TO + 4]);
    n = enc_audio_warp(in, M, T, 8, 1.2f, 1.0f, out, TO); /* band 5 reads 6: the top band, 5 */
    CHECK(fabsf(out[5 * TO + 2] - in[5 * T + 2]) < 1e-5f, "past the top band: %g", out[5 * TO + 2]);
    n = enc_audio_warp(in, M, T, 8, 1.0f, 4.0f, out, TO);
    CHECK(n == TO, "a stretch past the buffer is cut: %d", n);
}
