/* test_caption_model.c — the captioner: every decoder kind gives logits of the right shape
 * and gradients that match finite differences; the single-step decoding path gives the
 * teacher-forced forward's log-probabilities; beam width 1 equals greedy and the batched
 * greedy of evaluate equals mmc_decode_greedy; save/load keeps captions; training
 * resumes bit-exactly; config and run folders are checked as hostile input. */
#include "test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *TEXTS[] = {"a large red circle to the left of a small blue square", "a green star",
                              "a small blue square above a large red circle", "there is a green star on the left"};

static mmc_tokenizer *tiny_vocab(void) {
    mmc_error err = {0};
    return mmc_tokenizer_build_word(TEXTS, 4, 1, 0, &err);
}

/* 32 px, 3 cnn stages to a 4x4 map: a model that runs in milliseconds. */
static mmc_caption_config tiny_config(const char *decoder, const char *image_input, const char *image_encoder) {
    mmc_caption_config c = mmc_caption_config_default();
    c.image_size = 32;
    int w[6] = {8, 16, 16, 0, 0, 0};
    memcpy(c.image.cnn_widths, w, sizeof w);
    int rl[4] = {1, 1, 1, 1}, rw[4] = {8, 8, 16, 16};
    memcpy(c.image.resnet_layers, rl, sizeof rl);
    memcpy(c.image.resnet_widths, rw, sizeof rw);
    c.image.vit_patch = 8, c.image.vit_dim = 16, c.image.vit_depth = 1, c.image.vit_heads = 2;
    strcpy(c.decoder, decoder);
    strcpy(c.image_input, image_input);
    strcpy(c.image.encoder, image_encoder);
    c.word_dim = 12;
    c.hidden = 16;
    c.dec_heads = 2;
    c.att_dim = 8;
    c.dec_layers = !strcmp(decoder, "attention") ? 1 : 2;
    c.max_len = 16;
    c.batch_size = 16;
    c.warmup_steps = 3;
    c.lr = 3e-3f;
    c.val_max_images = 0;
    return c;
}

typedef struct kind {
    const char *decoder, *input, *image;
} kind;
static const kind KINDS[] = {{"transformer", "step0", "cnn"}, {"attention", "step0", "cnn"}, {"lstm", "step0", "cnn"},
                             {"lstm", "init", "resnet"},      {"gru", "step0", "vit"},       {"gru", "init", "cnn"},
                             {"transformer", "step0", "vit"}, {"attention", "step0", "resnet"}};
#define NKINDS ((int)(sizeof KINDS / sizeof KINDS[0]))

/* B = 3 rows of token ids for TEXTS[0..2] (padded to T = max_len) and random images. */
typedef struct batch {
    int B, T;
    int32_t ids[3 * 16], mask[3 * 16];
    float chw[3 * 3 * 32 * 32];
} batch;
static void make_batch(const mmc_captioner *m, batch *b) {
    mmc_error err = {0};
    b->B = 3;
    b->T = 16;
    mmc_tokenizer_encode_batch(mmc_captioner_tokenizer(m), TEXTS, 3, 16, b->ids, b->mask, &err);
    mmc_rng r;
    mmc_rng_seed(&r, 9, 9);
    mmc_rng_fill_uniform(&r, b->chw, 3 * 3 * 32 * 32, -1, 1);
}

TEST(caption_forward_shapes) {
    for (int k = 0; k < NKINDS; k++) {
        mmc_error err = {0};
        mmc_caption_config c = tiny_config(KINDS[k].decoder, KINDS[k].input, KINDS[k].image);
        mmc_captioner *m = mmc_captioner_create(&c, tiny_vocab(), 3, &err);
        REQUIRE(m, "%s/%s/%s: %s", KINDS[k].decoder, KINDS[k].input, KINDS[k].image, err.msg);
        batch b;
        make_batch(m, &b);
        int longest = 0; /* TEXTS[0] with start/end */
        for (int t = 0; t < 16; t++) longest += b.mask[t];
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){3, 3, 32, 32}, b.chw);
        mmc_tensor *lg = mmc_captioner_forward(ctx, m, x, b.ids, b.mask, 3, 16, 1);
        REQUIRE(lg, "%s: forward: %s", KINDS[k].decoder, ctx->err.msg);
        int V = mmc_tokenizer_vocab_size(mmc_captioner_tokenizer(m));
        CHECK(lg->ndim == 3 && lg->shape[0] == 3 && lg->shape[1] == longest - 1 && lg->shape[2] == V,
              "%s/%s: logits (%d, %d, %d), want (3, %d, %d)", KINDS[k].decoder, KINDS[k].image, lg->shape[0], lg->shape[1],
              lg->shape[2], longest - 1, V);
        mmc_ctx_reset(ctx);
        x = mmc_tensor_from(ctx, 4, (int[]){3, 3, 32, 32}, b.chw);
        mmc_tensor *loss = mmc_captioner_loss(ctx, m, x, b.ids, b.mask, 3, 16, 1);
        REQUIRE(loss && loss->numel == 1 && isfinite(loss->data[0]), "%s: loss: %s", KINDS[k].decoder, ctx->err.msg);
        /* about log V at init: the model starts uncertain */
        CHECK(loss->data[0] > 0.5 * log(V) && loss->data[0] < 3 * log(V), "%s: initial loss %g vs log V %g", KINDS[k].decoder,
              loss->data[0], log(V));
        REQUIRE(mmc_backward(ctx, loss) == MMC_OK, "%s: backward: %s", KINDS[k].decoder, ctx->err.msg);
        mmc_params *P = mmc_captioner_params(m);
        int missing = 0;
        for (int i = 0; i < P->n; i++) {
            if (P->kind[i] != MMC_PARAM) continue;
            /* every parameter is on some path from the loss (unused embedding rows get zeros) */
            if (!P->tensors[i]->grad) { missing++; printf("no grad: %s\n", P->names[i]); }
        }
        CHECK(missing == 0, "%s/%s: %d parameters got no gradient", KINDS[k].decoder, KINDS[k].image, missing);
        mmc_ctx_free(ctx);
        mmc_captioner_free(m);
    }
}

typedef struct gc_user {
    mmc_captioner *m;
    batch *b;
} gc_user;
static mmc_tensor *gc_graph(mmc_ctx *ctx, mmc_tensor **in, void *user) {
    (void)in;
    gc_user *u = user;
    mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){3, 3, 32, 32}, u->b->chw);
    return mmc_captioner_forward(ctx, u->m, x, u->b->ids, u->b->mask, 3, 16, 1);
}

TEST(grad_caption_decoders) {
    static const char *probe[] = {"decoder.out.weight", "decoder.embedding.weight", "decoder.rnn.weight_hh_l0",
                                  "decoder.att.v.weight", "decoder.att.feat.weight", "decoder.layers.0.multihead_attn.in_proj_weight",
                                  "decoder.pos", "image_encoder.proj.weight", "image_encoder.global.weight", "decoder.init_h.weight",
                                  "image_encoder.conv.2.weight"};
    static const kind kinds[] = {{"transformer", "step0", "cnn"}, {"attention", "step0", "cnn"}, {"lstm", "step0", "cnn"},
                                 {"lstm", "init", "cnn"}, {"gru", "step0", "cnn"}, {"gru", "init", "cnn"}};
    for (int k = 0; k < 6; k++) {
        mmc_error err = {0};
        mmc_caption_config c = tiny_config(kinds[k].decoder, kinds[k].input, kinds[k].image);
        strcpy(c.dec_act, "gelu"); /* smooth: a ReLU kink inside a finite difference is not a bug */
        mmc_captioner *m = mmc_captioner_create(&c, tiny_vocab(), 4, &err);
        REQUIRE(m, "%s: %s", kinds[k].decoder, err.msg);
        /* training mode without dropout: batch statistics, a deterministic function */
        batch b;
        make_batch(m, &b);
        gc_user u = {m, &b};
        mmc_params *P = mmc_captioner_params(m);
        mmc_tensor *in[12];
        int n = 0;
        for (size_t p = 0; p < sizeof probe / sizeof *probe; p++) {
            mmc_tensor *t = mmc_params_find(P, probe[p]);
            if (t && n < 4) in[n++] = t;
        }
        REQUIRE(n >= 3, "%s: only %d probe parameters", kinds[k].decoder, n);
        char what[64];
        snprintf(what, sizeof what, "caption %s/%s", kinds[k].decoder, kinds[k].input);
        test_gradcheck(what, gc_graph, in, n, &u, 3e-3f, 2e-2, 4);
        mmc_captioner_free(m);
    }
}

/* Teacher-forced log-probabilities at each position vs the decoding state fed the same
 * tokens one at a time, with rows shuffled through `parents` half way. */
TEST(caption_step_matches_forward) {
    for (int k = 0; k < NKINDS; k++) {
        mmc_error err = {0};
        mmc_caption_config c = tiny_config(KINDS[k].decoder, KINDS[k].input, KINDS[k].image);
        mmc_captioner *m = mmc_captioner_create(&c, tiny_vocab(), 5, &err);
        REQUIRE(m, "%s: %s", KINDS[k].decoder, err.msg);
        batch b;
        make_batch(m, &b);
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_grad_mode(ctx, 0);
        mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){3, 3, 32, 32}, b.chw);
        mmc_tensor *lg = mmc_log_softmax(ctx, mmc_captioner_forward(ctx, m, x, b.ids, b.mask, 3, 16, 0));
        REQUIRE(lg, "%s: forward: %s", KINDS[k].decoder, ctx->err.msg);
        int Tin = lg->shape[1], V = lg->shape[2];
        mmc_caption_state *s = mmc_caption_begin(m, b.chw, 3, 3, &err);
        REQUIRE(s, "%s: begin: %s", KINDS[k].decoder, err.msg);
        float *lp = malloc(sizeof(float) * 3 * V);
        int order[3] = {0, 1, 2}; /* state row i holds batch row order[i] */
        double worst = 0;
        int compared = 0;
        for (int t = 0; t < Tin; t++) {
            int parents[3] = {0, 1, 2}, *pp = NULL;
            if (t == 3) { /* rotate the rows: new row i = old row (i + 1) % 3 */
                int no[3];
                for (int i = 0; i < 3; i++) parents[i] = (i + 1) % 3, no[i] = order[(i + 1) % 3];
                memcpy(order, no, sizeof no);
                pp = parents;
            }
            int32_t tok[3];
            for (int i = 0; i < 3; i++) tok[i] = b.ids[order[i] * 16 + t];
            REQUIRE(mmc_caption_step(s, pp, tok, 3, lp, &err) == MMC_OK, "%s: step %d: %s", KINDS[k].decoder, t, err.msg);
            for (int i = 0; i < 3; i++)
                for (int v = 0; v < V && b.mask[order[i] * 16 + t + 1]; v++) { /* real positions only */
                    float got = lp[i * V + v], want = lg->data[((size_t)order[i] * Tin + t) * V + v];
                    if (got == -INFINITY) continue; /* pad/start/unk are banned when decoding */
                    double d = fabs((double)got - want);
                    if (d > worst) worst = d;
                    compared++;
                }
        }
        CHECK(compared > (Tin + 2) * (V - 4), "%s: only %d values compared", KINDS[k].decoder, compared);
        CHECK(worst < 2e-4, "%s/%s/%s: step log-probs differ from the forward by %g", KINDS[k].decoder, KINDS[k].input,
              KINDS[k].image, worst);
        free(lp);
        mmc_caption_state_free(s);
        mmc_ctx_free(ctx);
        mmc_captioner_free(m);
    }
}

/* ------------------------------------------------------ training in /tmp */

typedef struct loss_log {
    double first, last;
    int n, vals;
    double last_val;
} loss_log;
static void record(void *user, const mmc_train_event *ev) {
    loss_log *l = user;
    if (ev->kind == MMC_TRAIN_EV_VAL) l->vals++, l->last_val = ev->val_score;
    if (ev->kind != MMC_TRAIN_EV_STEP) return;
    if (l->n++ == 0) l->first = ev->loss;
    l->last = ev->loss;
}

static int train_run(const mmc_caption_config *c, const char *data, const char *run, int64_t steps, int64_t stop_at, int resume,
                     loss_log *log, mmc_error *err) {
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = data;
    o.run_dir = run;
    o.steps = steps;
    o.stop_at_step = stop_at;
    o.resume = resume;
    o.seed = 5;
    o.log_every = 1;
    o.callback = log ? record : NULL;
    o.user = log;
    return mmc_caption_train(c, &o, err);
}

TEST(caption_resume_bit_exact) {
    char dir[64], ra[128], rb[128], why[1200] = "";
    REQUIRE(test_shapes_dir(dir, sizeof dir, "cap", 48, 8), "cannot make the dataset");
    snprintf(ra, sizeof ra, "%s/straight", dir);
    snprintf(rb, sizeof rb, "%s/resumed", dir);
    mmc_caption_config c = tiny_config("transformer", "step0", "cnn");
    c.max_len = 0;    /* from the data */
    c.dropout = 0.1f; /* the dropout rng must be restored too */
    mmc_error err = {0};
    loss_log la = {0};
    /* 3 steps per epoch: 14 steps cross epochs and the stop at 7 is mid-epoch */
    REQUIRE(train_run(&c, dir, ra, 14, 0, 0, &la, &err) == MMC_OK, "straight: %s", err.msg);
    CHECK(la.vals >= 4, "validation ran %d times (each epoch and the end)", la.vals);
    REQUIRE(train_run(&c, dir, rb, 14, 7, 0, NULL, &err) == MMC_OK, "first half: %s", err.msg);
    char pa[256], pb[256];
    snprintf(pa, sizeof pa, "%s/model.safetensors", ra);
    snprintf(pb, sizeof pb, "%s/model.safetensors", rb);
    CHECK(!test_same_tensors_file(pa, pb, why, sizeof why), "after 7 of 14 steps the weights already equal the finished run's");
    REQUIRE(train_run(&c, dir, rb, 14, 0, 1, NULL, &err) == MMC_OK, "resume: %s", err.msg);
    CHECK(test_same_tensors_file(pa, pb, why, sizeof why), "model after resume: %s", why);
    snprintf(pa, sizeof pa, "%s/optimizer.safetensors", ra);
    snprintf(pb, sizeof pb, "%s/optimizer.safetensors", rb);
    CHECK(test_same_tensors_file(pa, pb, why, sizeof why), "optimizer after resume: %s", why);
    snprintf(pa, sizeof pa, "%s/model-best.safetensors", ra);
    struct stat st;
    CHECK(stat(pa, &st) == 0, "no model-best.safetensors");
    /* resuming with another seed is refused */
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = dir;
    o.run_dir = rb;
    o.steps = 20;
    o.resume = 1;
    o.seed = 6;
    CHECK(mmc_caption_train(&c, &o, &err) == MMC_ERR_USAGE, "resume with another seed: %s", err.msg);
    test_rm_tmpdir(dir);
}

static int step_fn(void *user, const int *parents, const int32_t *last, int n, float *lp, mmc_error *err) {
    return mmc_caption_step(user, parents, last, n, lp, err);
}

/* A tiny model learns its 16 scenes: the loss falls, save/load gives the same captions,
 * beam width 1 equals greedy, beams come back sorted, and evaluate's batched greedy gives
 * what mmc_decode_greedy gives image by image. */
TEST(caption_learns_and_decodes) {
    char dir[64], run[128];
    REQUIRE(test_shapes_dir(dir, sizeof dir, "cap", 16, 0), "cannot make the dataset");
    snprintf(run, sizeof run, "%s/run", dir);
    mmc_caption_config c = tiny_config("lstm", "step0", "cnn");
    c.max_len = 0;
    c.batch_size = 16;
    c.lr = 1e-2f;
    c.hidden = 64;
    c.word_dim = 32;
    mmc_error err = {0};
    loss_log log = {0};
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = dir;
    o.run_dir = run;
    o.steps = 50;
    o.val_split = "";
    o.log_every = 1;
    o.callback = record;
    o.user = &log;
    REQUIRE(mmc_caption_train(&c, &o, &err) == MMC_OK, "train: %s", err.msg);
    CHECK(log.last < 0.6 * log.first, "loss did not fall: %.3f -> %.3f", log.first, log.last);
    mmc_captioner *m = mmc_captioner_load(run, NULL, &err);
    REQUIRE(m, "load: %s", err.msg);
    mmc_caption_opts co = mmc_caption_opts_default(m);
    mmc_caption_metrics mt;
    REQUIRE(mmc_captioner_evaluate(m, dir, "train", &co, 0, &mt, &err) == MMC_OK, "evaluate: %s", err.msg);
    CHECK(mt.n_images == 16, "%d images", mt.n_images);
    CHECK(mt.bleu[0] > 0.2, "train BLEU-1 %.3f after the loss fell", mt.bleu[0]);
    /* image by image through mmc_decode_greedy, scored the same way */
    mmc_manifest *man = mmc_manifest_load(dir, "train", &err);
    REQUIRE(man, "manifest: %s", err.msg);
    const mmc_tokenizer *tok = mmc_captioner_tokenizer(m);
    mmc_caption_item items[16];
    mmc_token_seq refs[16][5];
    mmc_caption_result res[16];
    float chw[3 * 32 * 32];
    int sorted = 1, k1_same = 1;
    for (int i = 0; i < 16; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, man->samples[i].image);
        mmc_image img = {0};
        REQUIRE(mmc_image_load(&img, path, 3, &err) == MMC_OK, "%s", err.msg);
        REQUIRE(mmc_captioner_image_to_chw(m, &img, chw, &err) == MMC_OK, "%s", err.msg);
        mmc_image_free(&img);
        REQUIRE(mmc_captioner_caption_chw(m, chw, &co, &res[i], &err) == MMC_OK && res[i].n == 1, "greedy: %s", err.msg);
        for (int r = 0; r < 5; r++) {
            int32_t *ids = NULL;
            int n = 0;
            mmc_tokenizer_encode(tok, man->samples[i].captions[r], (size_t)-1, 0, 0, &ids, &n, &err);
            refs[i][r].ids = ids, refs[i][r].n = n;
        }
        items[i].hyp.ids = res[i].hyps[0].ids;
        items[i].hyp.n = res[i].hyps[0].n_ids;
        items[i].refs = refs[i];
        items[i].n_refs = 5;
        /* beam search of width 1 directly on the decoding state equals greedy */
        if (i < 4) {
            mmc_decode_opts d = mmc_decode_defaults();
            mmc_tokenizer_specials sp = mmc_tokenizer_special_ids(tok);
            d.vocab_size = mmc_tokenizer_vocab_size(tok), d.start_id = sp.start, d.end_id = sp.end;
            d.max_len = mmc_captioner_config(m)->max_len - 1;
            d.beam = 1;
            mmc_caption_state *s = mmc_caption_begin(m, chw, 1, 1, &err);
            mmc_decode_result r;
            REQUIRE(s && mmc_decode_beam(step_fn, s, &d, &r, &err) == MMC_OK, "beam 1: %s", err.msg);
            k1_same &= r.n == 1 && r.lengths[0] == items[i].hyp.n &&
                       !memcmp(r.tokens, items[i].hyp.ids, sizeof(int32_t) * (size_t)r.lengths[0]) &&
                       fabs(r.scores[0] - res[i].hyps[0].score) < 1e-9;
            mmc_decode_result_free(&r);
            mmc_caption_state_free(s);
            mmc_caption_opts b3 = co;
            b3.beam = 3;
            mmc_caption_result rb;
            REQUIRE(mmc_captioner_caption_chw(m, chw, &b3, &rb, &err) == MMC_OK && rb.n >= 1, "beam 3: %s", err.msg);
            for (int j = 1; j < rb.n; j++) sorted &= rb.hyps[j].score <= rb.hyps[j - 1].score;
            mmc_caption_result_free(&rb);
        }
    }
    CHECK(k1_same, "beam search of width 1 differs from greedy");
    CHECK(sorted, "beams are not sorted by score");
    mmc_bleu_result br;
    double cider = 0;
    REQUIRE(mmc_bleu_corpus(items, 16, &br, &err) == MMC_OK && mmc_cider_d(items, 16, &cider, NULL, &err) == MMC_OK, "%s", err.msg);
    for (int k = 0; k < 4; k++) CHECK(br.bleu[k] == mt.bleu[k], "BLEU-%d: batched greedy %.9f, image by image %.9f", k + 1, mt.bleu[k], br.bleu[k]);
    CHECK(cider == mt.cider_d, "CIDEr-D: batched %.9f, image by image %.9f", mt.cider_d, cider);
    /* save into another folder and load: the same caption */
    char run2[160];
    snprintf(run2, sizeof run2, "%s/copy", dir);
    mkdir(run2, 0755);
    REQUIRE(mmc_captioner_save(m, run2, NULL, &err) == MMC_OK, "save: %s", err.msg);
    mmc_captioner *m2 = mmc_captioner_load(run2, NULL, &err);
    REQUIRE(m2, "reload: %s", err.msg);
    mmc_caption_result again;
    REQUIRE(mmc_captioner_caption_chw(m2, chw, &co, &again, &err) == MMC_OK, "%s", err.msg);
    CHECK(!strcmp(again.hyps[0].text, res[15].hyps[0].text), "reloaded model says '%s', not '%s'", again.hyps[0].text, res[15].hyps[0].text);
    printf("caption of the last scene: %s | reference: %s\n", res[15].hyps[0].text, man->samples[15].captions[0]);
    mmc_caption_result_free(&again);
    mmc_captioner_free(m2);
    for (int i = 0; i < 16; i++) {
        mmc_caption_result_free(&res[i]);
        for (int r = 0; r < 5; r++) mmc_free((void *)refs[i][r].ids);
    }
    mmc_manifest_free(man);
    mmc_captioner_free(m);
    test_rm_tmpdir(dir);
}

TEST(caption_config_json) {
    mmc_caption_config c = tiny_config("gru", "init", "vit"), d = mmc_caption_config_default();
    c.label_smoothing = 0.1f;
    c.length_penalty = 0.7f;
    strcpy(c.train_captions, "first");
    char *js = mmc_caption_config_to_json(&c);
    REQUIRE(js, "to_json");
    CHECK(strstr(js, "\"task\"") && strstr(js, "\"caption\""), "no task in %s", js);
    mmc_error err = {0};
    REQUIRE(mmc_caption_config_parse(&d, js, strlen(js), "rt", &err) == MMC_OK, "%s", err.msg);
    CHECK(!memcmp(&c, &d, sizeof c), "config changed in a JSON round trip");
    mmc_free(js);
    static const char *bad[] = {"{\"decoder\": \"rnn\"}", "{\"bogus\": 1}", "{\"hidden\": 0}", "{\"lr\": \"x\"}", "[1]",
                                "{\"task\": \"vqa\"}", "{\"image_input\": \"both\"}", "{\"hidden\": 30, \"dec_heads\": 4}", "{\"cnn_widths\": [8, 0]}", "{\"dropout\": 1.5}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mmc_caption_config e = mmc_caption_config_default(), before = e;
        int rc = mmc_caption_config_parse(&e, bad[i], strlen(bad[i]), "bad.json", &err);
        CHECK(rc == MMC_ERR_INPUT && strstr(err.msg, "bad.json"), "%s: rc %d (%s)", bad[i], rc, err.msg);
        CHECK(!memcmp(&e, &before, sizeof e), "%s changed the config", bad[i]);
    }
}

TEST(caption_load_hostile) {
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/mmc-cap-XXXXXX");
    REQUIRE(mkdtemp(dir), "mkdtemp");
    mmc_error err = {0};
    CHECK(!mmc_captioner_load(dir, NULL, &err) && err.code == MMC_ERR_INPUT, "empty folder: %d %s", err.code, err.msg);
    mmc_caption_config c = tiny_config("lstm", "step0", "cnn");
    mmc_captioner *m = mmc_captioner_create(&c, tiny_vocab(), 1, &err);
    REQUIRE(m && mmc_captioner_save(m, dir, NULL, &err) == MMC_OK, "save: %s", err.msg);
    mmc_captioner *ok = mmc_captioner_load(dir, NULL, &err);
    CHECK(ok, "a saved model does not load: %s", err.msg);
    mmc_captioner_free(ok);
    char path[256];
    /* weights of another architecture */
    mmc_caption_config c2 = tiny_config("gru", "step0", "cnn");
    mmc_captioner *other = mmc_captioner_create(&c2, tiny_vocab(), 1, &err);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    REQUIRE(other && mmc_params_save(mmc_captioner_params(other), path, NULL, &err) == MMC_OK, "%s", err.msg);
    CHECK(!mmc_captioner_load(dir, NULL, &err) && err.code == MMC_ERR_INPUT && strstr(err.msg, "model.safetensors"),
          "mismatched weights: %d %s", err.code, err.msg);
    /* config.json without the task, or without the vocabulary */
    snprintf(path, sizeof path, "%s/config.json", dir);
    static const char *cfgs[] = {"{\"decoder\": \"lstm\"}", "{\"task\": \"caption\", \"max_len\": 16}", "not json",
                                 "{\"task\": \"caption\", \"max_len\": 16, \"tokenizer\": {\"kind\": \"word\", \"tokens\": 5}}"};
    for (int i = 0; i < 4; i++) {
        FILE *f = fopen(path, "w");
        fputs(cfgs[i], f);
        fclose(f);
        CHECK(!mmc_captioner_load(dir, NULL, &err) && err.code == MMC_ERR_INPUT && strstr(err.msg, "config.json"),
              "config %d: %d %s", i, err.code, err.msg);
    }
    mmc_captioner_free(m);
    mmc_captioner_free(other);
    test_rm_tmpdir(dir);
}
