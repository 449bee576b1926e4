/* test_vqa.c — the fusion model behind `mmc train vqa|classify`: every fusion builds,
 * its forward has the right shape, its backward matches finite differences (images and
 * every parameter), sharing an image between texts equals repeating it, training lowers
 * the loss and resumes bit-exactly, run folders round-trip, hostile configs and run
 * folders are refused, and the texts of each task (qa, label, match) are what they say. */
#include "test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *TEXTS[] = {"what colour is the circle ?", "is there a red square ?", "how many shapes are there ?",
                              "where is the blue star relative to the green cross ?", "is the diamond left of the star ?"};
static const char *CLASSES[] = {"yes", "no", "red", "2", "left"};

/* Tiny sizes: 16 px, two stages to a 4×4 map pooled to 2×2. */
static mmc_vqa_config tiny_cfg(const char *fusion, const char *combine) {
    mmc_vqa_config c = mmc_vqa_config_default("vqa", fusion);
    c.image_size = 16;
    int w[6] = {4, 6, 0, 0, 0, 0};
    memcpy(c.image.cnn_widths, w, sizeof w);
    c.pool_grid = 2;
    c.image_dim = 8;
    c.text.word_dim = 6;
    c.text.text_hidden = 8;
    c.fuse_dim = 8;
    c.hidden = 8;
    c.early_stage = 1;
    c.early_dim = 3;
    c.film_from = 0;
    c.joint_patch = 8;
    c.joint_dim = 8;
    c.joint_depth = 1;
    c.joint_heads = 2;
    c.dropout = 0.0f;
    c.max_len = 14;
    c.image.coord = 1;
    if (combine && !strcmp(combine, "attention-old")) { /* the keys' values before they existed */
        combine = "attention";
        strcpy(c.att_score, "additive");
        strcpy(c.att_fuse, "concat");
        strcpy(c.text_pool, "last");
        c.image.coord = 0;
    }
    if (combine) snprintf(c.combine, sizeof c.combine, "%s", combine);
    return c;
}

static mmc_vqa *tiny_model(const char *fusion, const char *combine, mmc_error *err) {
    mmc_vqa_config c = tiny_cfg(fusion, combine);
    mmc_tokenizer *tok = mmc_tokenizer_build_word(TEXTS, 5, 1, 0, err);
    if (!tok) return NULL;
    return mmc_vqa_create(&c, tok, CLASSES, 5, 3, err);
}

/* 5 texts about 2 images: 0 1 1 0 1 */
static const int ITEM_IMG[5] = {0, 1, 1, 0, 1};
typedef struct fwd_in {
    mmc_vqa *m;
    int32_t ids[5 * 14], mask[5 * 14];
} fwd_in;

static int encode(fwd_in *f, mmc_error *err) {
    return mmc_tokenizer_encode_batch(mmc_vqa_tokenizer(f->m), TEXTS, 5, 14, f->ids, f->mask, err);
}

static mmc_tensor *g_vqa(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    fwd_in *f = u;
    return mmc_vqa_forward(ctx, f->m, in[0], ITEM_IMG, f->ids, f->mask, 5, 14, 0);
}

/* "attention" is today's default (dot scores, bilinear head, CoordConv); "attention-old" the
 * additive attention with the concat head of runs saved before those keys. */
static const char *FUSIONS[][2] = {{"early", NULL}, {"late", "concat"}, {"late", "sum"}, {"late", "product"},
                                   {"late", "bilinear"}, {"late", "logits"}, {"late", "attention"}, {"late", "attention-old"},
                                   {"hybrid", NULL}, {"joint", NULL}, {"none", NULL}};
#define N_FUSIONS 11

TEST(vqa_forward_shapes) {
    for (int k = 0; k < N_FUSIONS; k++) {
        mmc_error err = {0};
        fwd_in f = {0};
        f.m = tiny_model(FUSIONS[k][0], FUSIONS[k][1], &err);
        REQUIRE(f.m, "%s/%s: %s", FUSIONS[k][0], FUSIONS[k][1] ? FUSIONS[k][1] : "", err.msg);
        REQUIRE(encode(&f, &err) == MMC_OK, "encode: %s", err.msg);
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_tensor *img = mmc_tensor_empty(ctx, 4, (int[]){2, 3, 16, 16});
        mmc_rng r;
        mmc_rng_seed(&r, 9, 9);
        mmc_rng_fill_uniform(&r, img->data, img->numel, -1, 1);
        mmc_tensor *lg = mmc_vqa_forward(ctx, f.m, img, ITEM_IMG, f.ids, f.mask, 5, 14, 1);
        REQUIRE(lg, "%s: forward: %s", FUSIONS[k][0], ctx->err.msg);
        CHECK(lg->ndim == 2 && lg->shape[0] == 5 && lg->shape[1] == 5, "%s: logits (%d, %d)", FUSIONS[k][0], lg->shape[0], lg->shape[1]);
        for (int i = 0; i < (int)lg->numel; i++) CHECK(isfinite(lg->data[i]), "%s: logit %d is %g", FUSIONS[k][0], i, lg->data[i]);
        mmc_tensor *loss = mmc_cross_entropy(ctx, lg, (int[]){0, 1, 2, 3, 4}, -100, 0.0f);
        REQUIRE(loss && mmc_backward(ctx, loss) == MMC_OK, "%s: backward: %s", FUSIONS[k][0], ctx->err.msg);
        /* every trainable tensor takes part: each receives a gradient (norm scales may get 0
         * by symmetry, so only require one non-zero entry across the model per tensor kind) */
        mmc_params *P = mmc_vqa_params(f.m);
        int with_grad = 0, n_param = 0;
        for (int i = 0; i < P->n; i++) {
            if (P->kind[i] != MMC_PARAM) continue;
            n_param++;
            const mmc_tensor *t = P->tensors[i];
            int nz = 0;
            for (int64_t j = 0; t->grad && j < t->numel; j++) nz |= t->grad[j] != 0.0f;
            with_grad += nz;
            CHECK(t->grad, "%s%s%s: parameter %s got no gradient", FUSIONS[k][0], FUSIONS[k][1] ? "/" : "",
                  FUSIONS[k][1] ? FUSIONS[k][1] : "", P->names[i]);
        }
        CHECK(with_grad >= n_param - 2, "%s: only %d of %d parameters got a non-zero gradient", FUSIONS[k][0], with_grad, n_param);
        /* parameter names follow the fusion: a few that must be there */
        if (!strcmp(FUSIONS[k][0], "hybrid")) CHECK(mmc_params_find(P, "image_encoder.film.1.gamma.weight"), "hybrid: no FiLM in stage 1");
        if (!strcmp(FUSIONS[k][0], "early")) CHECK(mmc_params_find(P, "early.proj.weight"), "early: no question projection");
        if (!strcmp(FUSIONS[k][0], "joint")) CHECK(mmc_params_find(P, "joint.token_type_embeddings.weight"), "joint: no modality embeddings");
        if (!strcmp(FUSIONS[k][0], "none")) CHECK(!mmc_params_find(P, "image_encoder.fc.weight"), "none: has an image encoder");
        mmc_ctx_free(ctx);
        mmc_vqa_free(f.m);
    }
}

/* d(sum w·logits) against finite differences, through the images and every parameter
 * (eval mode: BatchNorm uses its running statistics, which are set away from 0/1). */
TEST(grad_vqa_models) {
    for (int k = 0; k < N_FUSIONS; k++) {
        mmc_error err = {0};
        fwd_in f = {0};
        /* grid pooling: a global max switches its argmax under the finite-difference step
         * (mmc_max has its own gradient check); vqa_forward_shapes runs the max path */
        mmc_vqa_config c = tiny_cfg(FUSIONS[k][0], FUSIONS[k][1]);
        strcpy(c.image_pool, "grid");
        mmc_tokenizer *tok = mmc_tokenizer_build_word(TEXTS, 5, 1, 0, &err);
        f.m = tok ? mmc_vqa_create(&c, tok, CLASSES, 5, 3, &err) : NULL;
        REQUIRE(f.m, "%s: %s", FUSIONS[k][0], err.msg);
        REQUIRE(encode(&f, &err) == MMC_OK, "encode: %s", err.msg);
        mmc_params *P = mmc_vqa_params(f.m);
        mmc_rng r;
        mmc_rng_seed(&r, 21, (uint64_t)k);
        for (int i = 0; i < P->n; i++) /* non-trivial norms, running stats, logit weights */
            if (P->tensors[i]->ndim <= 1 && strstr(P->names[i], "num_batches") == NULL)
                mmc_rng_fill_uniform(&r, P->tensors[i]->data, P->tensors[i]->numel, 0.5f, 1.5f);
        mmc_tensor *in[64];
        int n = 0;
        in[n++] = test_randn(4, (int[]){2, 3, 16, 16}, 5 + (uint64_t)k, 1.0f);
        in[0]->requires_grad = strcmp(FUSIONS[k][0], "none") != 0;
        for (int i = 0; i < P->n && n < 64; i++)
            if (P->kind[i] == MMC_PARAM) in[n++] = P->tensors[i];
        char what[64];
        snprintf(what, sizeof what, "vqa %s%s%s", FUSIONS[k][0], FUSIONS[k][1] ? " " : "", FUSIONS[k][1] ? FUSIONS[k][1] : "");
        test_gradcheck(what, g_vqa, in, n, &f, 3e-3f, 3e-2, 4); /* 1e-2 crosses ReLU kinks */
        mmc_tensor_free(in[0]);
        mmc_vqa_free(f.m);
    }
}

/* Texts share their image through the expansion: the same as repeating the image. */
TEST(vqa_shared_images_equal_repeated) {
    static const char *fus[] = {"early", "late", "hybrid", "joint"};
    for (int k = 0; k < 4; k++) {
        mmc_error err = {0};
        fwd_in f = {0};
        f.m = tiny_model(fus[k], NULL, &err);
        REQUIRE(f.m, "%s: %s", fus[k], err.msg);
        REQUIRE(encode(&f, &err) == MMC_OK, "encode: %s", err.msg);
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_grad_mode(ctx, 0);
        mmc_tensor *img = test_randn(4, (int[]){2, 3, 16, 16}, 77, 1.0f);
        mmc_tensor *rep = mmc_tensor_new(4, (int[]){5, 3, 16, 16});
        for (int n = 0; n < 5; n++) memcpy(rep->data + n * 768, img->data + ITEM_IMG[n] * 768, sizeof(float) * 768);
        mmc_tensor *a = mmc_vqa_forward(ctx, f.m, img, ITEM_IMG, f.ids, f.mask, 5, 14, 0);
        mmc_tensor *b = mmc_vqa_forward(ctx, f.m, rep, (int[]){0, 1, 2, 3, 4}, f.ids, f.mask, 5, 14, 0);
        REQUIRE(a && b, "%s: forward: %s", fus[k], ctx->err.msg);
        test_close(fus[k], a->data, b->data, a->numel, 1e-5);
        /* and a different image changes the answer scores */
        rep->data[3 * 768 + 5] += 3.0f;
        mmc_tensor *c = mmc_vqa_forward(ctx, f.m, rep, (int[]){0, 1, 2, 3, 4}, f.ids, f.mask, 5, 14, 0);
        REQUIRE(c, "forward");
        double diff = 0;
        for (int i = 15; i < 20; i++) diff += fabs(c->data[i] - b->data[i]);
        CHECK(diff > 0, "%s: text 3's logits do not depend on its image", fus[k]);
        mmc_ctx_free(ctx);
        mmc_tensor_free(img);
        mmc_tensor_free(rep);
        mmc_vqa_free(f.m);
    }
}

/* --------------------------------------------------------------- training */

typedef struct loss_log {
    double first, last;
    int n, vals;
    double val;
} loss_log;
static void record(void *user, const mmc_train_event *ev) {
    loss_log *l = user;
    if (ev->kind == MMC_TRAIN_EV_VAL) {
        l->vals++;
        l->val = ev->val_score;
        CHECK(ev->val_line && strstr(ev->val_line, "accuracy"), "a VAL event without its line");
    }
    if (ev->kind != MMC_TRAIN_EV_STEP) return;
    if (l->n++ == 0) l->first = ev->loss_avg;
    l->last = ev->loss_avg;
}

static mmc_vqa_config train_cfg(const char *fusion) {
    mmc_vqa_config c = tiny_cfg(fusion, NULL);
    c.max_len = 0;
    c.batch_images = 8;
    c.per_image = 3;
    c.lr = 5e-3f;
    c.warmup = 0.1f;
    c.augment_shift = 1;
    c.dropout = 0.1f;
    return c;
}

static int train_run(const mmc_vqa_config *c, const char *data, const char *run, int64_t steps, int64_t stop_at, int resume,
                     loss_log *log, mmc_error *err) {
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = data;
    o.run_dir = run;
    o.steps = steps;
    o.stop_at_step = stop_at;
    o.resume = resume;
    o.seed = 5;
    o.log_every = 5;
    o.callback = log ? record : NULL;
    o.user = log;
    return mmc_vqa_train(c, &o, err);
}

TEST(vqa_train_lowers_loss) {
    char dir[64], run[128];
    REQUIRE(test_shapes_dir_at(dir, sizeof dir, "vqa", 24, 8, 13, 16), "cannot make the dataset");
    snprintf(run, sizeof run, "%s/run", dir);
    mmc_vqa_config c = train_cfg("hybrid");
    mmc_error err = {0};
    loss_log log = {0};
    REQUIRE(train_run(&c, dir, run, 120, 0, 0, &log, &err) == MMC_OK, "train: %s", err.msg);
    CHECK(log.last < 0.8 * log.first, "loss did not fall: %.3f -> %.3f", log.first, log.last);
    CHECK(log.vals >= 2, "%d validations in 40 epochs", log.vals);
    static const char *files[] = {"config.json", "model.safetensors", "model-best.safetensors", "optimizer.safetensors",
                                  "trainer.json", "metrics.jsonl"};
    for (int i = 0; i < 6; i++) {
        char p[256];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", run, files[i]);
        CHECK(stat(p, &st) == 0, "the run folder has no %s", files[i]);
    }
    /* the run reloads and scores its training split the same way twice */
    mmc_vqa *m = mmc_vqa_load(run, NULL, &err);
    REQUIRE(m, "load: %s", err.msg);
    mmc_vqa_metrics a, b;
    REQUIRE(mmc_vqa_evaluate(m, dir, "train", 0, &a, &err) == MMC_OK, "evaluate: %s", err.msg);
    REQUIRE(mmc_vqa_evaluate(m, dir, "train", 0, &b, &err) == MMC_OK, "evaluate: %s", err.msg);
    mmc_manifest *man = mmc_manifest_load(dir, "train", &err);
    REQUIRE(man, "manifest: %s", err.msg);
    int nq = 0;
    for (int i = 0; i < man->count; i++) nq += man->samples[i].n_qa;
    mmc_manifest_free(man);
    CHECK(a.n == nq && a.correct == b.correct, "train: %d of %d questions, %d vs %d correct", a.n, nq, a.correct, b.correct);
    CHECK(a.n_types == 5, "%d question types", a.n_types);
    int sum = 0;
    for (int t = 0; t < a.n_types; t++) sum += a.types[t].n;
    CHECK(sum == a.n, "types sum to %d of %d", sum, a.n);
    /* the answer of one question is one of the answers, with probabilities in order */
    mmc_image img = {0};
    char path[256];
    snprintf(path, sizeof path, "%s/images/train-000000.png", dir);
    REQUIRE(mmc_image_load(&img, path, 3, &err) == MMC_OK, "image: %s", err.msg);
    int top[5];
    float prob[5];
    REQUIRE(mmc_vqa_answer(m, &img, "how many shapes are there?", 5, top, prob, &err) == MMC_OK, "answer: %s", err.msg);
    for (int i = 1; i < 5; i++) CHECK(prob[i] <= prob[i - 1] && top[i] != top[0], "top-5 out of order");
    CHECK(mmc_vqa_answer(m, &img, "\xff\xfe bad", 5, top, prob, &err) == MMC_ERR_INPUT, "non-UTF-8 question accepted");
    mmc_image_free(&img);
    mmc_vqa_free(m);
    test_rm_tmpdir(dir);
}

TEST(vqa_resume_bit_exact) {
    static const char *fus[] = {"hybrid", "joint"}; /* BatchNorm + FiLM; dropout in the transformer */
    char dir[64];
    REQUIRE(test_shapes_dir_at(dir, sizeof dir, "vqa", 24, 8, 13, 16), "cannot make the dataset");
    for (int k = 0; k < 2; k++) {
        char ra[128], rb[128], why[1200] = "", pa[256], pb[256];
        snprintf(ra, sizeof ra, "%s/straight-%s", dir, fus[k]);
        snprintf(rb, sizeof rb, "%s/resumed-%s", dir, fus[k]);
        mmc_vqa_config c = train_cfg(fus[k]);
        mmc_error err = {0};
        /* 3 steps per epoch: 10 steps cross epochs and the checkpoint at 5 is mid-epoch */
        REQUIRE(train_run(&c, dir, ra, 10, 0, 0, NULL, &err) == MMC_OK, "straight: %s", err.msg);
        REQUIRE(train_run(&c, dir, rb, 10, 5, 0, NULL, &err) == MMC_OK, "first half: %s", err.msg);
        snprintf(pa, sizeof pa, "%s/model.safetensors", ra);
        snprintf(pb, sizeof pb, "%s/model.safetensors", rb);
        CHECK(!test_same_tensors_file(pa, pb, why, sizeof why), "%s: after 5 of 10 steps the weights already equal the finished run's", fus[k]);
        REQUIRE(train_run(&c, dir, rb, 10, 0, 1, NULL, &err) == MMC_OK, "resume: %s", err.msg);
        CHECK(test_same_tensors_file(pa, pb, why, sizeof why), "%s: model after resume: %s", fus[k], why);
        snprintf(pa, sizeof pa, "%s/optimizer.safetensors", ra);
        snprintf(pb, sizeof pb, "%s/optimizer.safetensors", rb);
        CHECK(test_same_tensors_file(pa, pb, why, sizeof why), "%s: optimizer after resume: %s", fus[k], why);
        mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
        o.data_dir = dir;
        o.run_dir = rb;
        o.steps = 12;
        o.resume = 1;
        o.seed = 6;
        CHECK(mmc_vqa_train(NULL, &o, &err) == MMC_ERR_USAGE, "resume with another seed: %s", err.msg);
    }
    test_rm_tmpdir(dir);
}

/* ---------------------------------------------------------- classify tasks */

TEST(vqa_classify_tasks) {
    char dir[64], run[128];
    REQUIRE(test_shapes_dir_at(dir, sizeof dir, "vqa", 20, 6, 13, 16), "cannot make the dataset");
    mmc_manifest *man = mmc_manifest_load(dir, "val", NULL);
    REQUIRE(man, "manifest");
    /* match: half the texts are a caption of their own scene, half of another one */
    snprintf(run, sizeof run, "%s/match", dir);
    mmc_vqa_config c = train_cfg("late");
    strcpy(c.task, "classify");
    strcpy(c.source, "match");
    mmc_error err = {0};
    loss_log log = {0};
    REQUIRE(train_run(&c, dir, run, 15, 0, 0, &log, &err) == MMC_OK, "match: %s", err.msg);
    mmc_vqa *m = mmc_vqa_load(run, NULL, &err);
    REQUIRE(m, "load: %s", err.msg);
    CHECK(mmc_vqa_n_classes(m) == 2 && mmc_vqa_class_id(m, "yes") >= 0 && mmc_vqa_class_id(m, "no") >= 0, "match classes");
    mmc_vqa_metrics mt;
    REQUIRE(mmc_vqa_evaluate(m, dir, "val", 0, &mt, &err) == MMC_OK, "evaluate: %s", err.msg);
    int caps = 0;
    for (int i = 0; i < man->count; i++) caps += man->samples[i].n_captions;
    CHECK(mt.n == 2 * caps && mt.n_types == 2, "match: %d texts for %d captions, %d types", mt.n, caps, mt.n_types);
    CHECK(mt.types[0].n == caps && mt.types[1].n == caps && !strcmp(mt.types[0].name, "match") && !strcmp(mt.types[1].name, "mismatch"),
          "match: %s %d / %s %d", mt.types[0].name, mt.types[0].n, mt.types[1].name, mt.types[1].n);
    mmc_vqa_free(m);
    /* label: every caption -> the sample's label, typed by label */
    snprintf(run, sizeof run, "%s/label", dir);
    strcpy(c.source, "label");
    REQUIRE(train_run(&c, dir, run, 6, 0, 0, NULL, &err) == MMC_OK, "label: %s", err.msg);
    m = mmc_vqa_load(run, NULL, &err);
    REQUIRE(m, "load: %s", err.msg);
    REQUIRE(mmc_vqa_evaluate(m, dir, "val", 0, &mt, &err) == MMC_OK, "evaluate: %s", err.msg);
    CHECK(mt.n == caps, "label: %d texts for %d captions", mt.n, caps);
    for (int t = 0; t < mt.n_types; t++) CHECK(mmc_vqa_class_id(m, mt.types[t].name) >= 0 || mt.types[t].n > 0, "label type %s", mt.types[t].name);
    mmc_vqa_free(m);
    mmc_manifest_free(man);
    test_rm_tmpdir(dir);
}

/* ----------------------------------------------------------- bad inputs */

TEST(vqa_config_refused) {
    static const char *bad[] = {"{\"fusion\": \"middle\"}", "{\"combine\": \"max\"}", "{\"task\": \"caption\"}",
                                "{\"cnn_widths\": []}", "{\"cnn_widths\": [8, 0]}", "{\"early_stage\": 4, \"fusion\": \"early\"}",
                                "{\"film_from\": 4, \"fusion\": \"hybrid\"}", "{\"joint_patch\": 7, \"fusion\": \"joint\"}",
                                "{\"lr\": -1}", "{\"per_image\": 0}", "{\"nonsense\": 1}", "[1, 2]", "{\"max_len\": 2}",
                                "{\"norm\": \"layer\"}", "{\"dropout\": \"0.1\"}", "{\"image_size\": 1e9}",
                                "{\"cnn_strides\": [2, 3]}", "{\"cnn_strides\": [0]}", "{\"coord\": 2}", "{\"att_score\": \"cosine\"}",
                                "{\"att_fuse\": \"sum\"}", "{\"text_pool\": \"max\"}", "{\"cnn_widths\": [8, 8, 8, 8, 8, 8], \"cnn_strides\": [1, 1, 1, 1, 1, 1], \"pool_grid\": 5}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mmc_vqa_config c = mmc_vqa_config_default("vqa", NULL), before = c;
        mmc_error err = {0};
        CHECK(mmc_vqa_config_parse(&c, bad[i], strlen(bad[i]), "cfg.json", &err) == MMC_ERR_INPUT, "accepted %s", bad[i]);
        CHECK(strstr(err.msg, "cfg.json") != NULL, "message does not name the file: %s", err.msg);
        CHECK(!memcmp(&c, &before, sizeof c), "a refused config changed the struct: %s", bad[i]);
    }
    /* round trip */
    mmc_vqa_config c = tiny_cfg("late", "bilinear"), d = mmc_vqa_config_default("vqa", NULL);
    char *js = mmc_vqa_config_to_json(&c);
    mmc_error err = {0};
    REQUIRE(js && mmc_vqa_config_parse(&d, js, strlen(js), "x", &err) == MMC_OK, "round trip: %s", err.msg);
    char *js2 = mmc_vqa_config_to_json(&d);
    CHECK(js2 && !strcmp(js, js2) && strstr(js, "\"bilinear\""), "the config does not round-trip through JSON");
    CHECK(c.lr == d.lr && c.warmup == d.warmup && c.image.cnn_widths[1] == d.image.cnn_widths[1] && d.image.cnn_widths[2] == 0, "values changed");
    mmc_free(js);
    mmc_free(js2);
}

static void write_text(const char *path, const char *s) {
    FILE *f = fopen(path, "w");
    if (f) { fputs(s, f); fclose(f); }
}

TEST(vqa_run_folder_refused) {
    char dir[64], run[128], path[256];
    REQUIRE(test_shapes_dir_at(dir, sizeof dir, "vqa", 8, 0, 13, 16), "cannot make the dataset");
    snprintf(run, sizeof run, "%s/run", dir);
    mmc_vqa_config c = train_cfg("late");
    mmc_error err = {0};
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = dir, o.run_dir = run, o.steps = 2, o.val_split = "";
    REQUIRE(mmc_vqa_train(&c, &o, &err) == MMC_OK, "train: %s", err.msg);
    snprintf(path, sizeof path, "%s/config.json", run);
    uint8_t *orig = NULL;
    size_t n = 0;
    REQUIRE(mmc_read_file(path, 1 << 20, &orig, &n, &err) == MMC_OK, "read");
    mmc_vqa *m = mmc_vqa_load(run, NULL, &err);
    REQUIRE(m, "load: %s", err.msg);
    mmc_vqa_free(m);
    /* edits of config.json that must be refused, each naming the file */
    static const char *edits[][2] = {{"\"answers\":", "\"answerz\":"}, {"\"tokenizer\":", "\"tokenizr\":"},
                                     {"\"fusion\":\t\"late\"", "\"fusion\":\t\"early\""}, {"\"seed\":", "\"sead\":"},
                                     {"\"image_dim\":\t8", "\"image_dim\":\t9"}};
    for (int e = 0; e < 5; e++) {
        char *s = (char *)orig, *at = strstr(s, edits[e][0]);
        CHECK(at, "config.json has no %s", edits[e][0]);
        if (!at) continue;
        char buf[1 << 16];
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - s), s, edits[e][1], at + strlen(edits[e][0]));
        write_text(path, buf);
        m = mmc_vqa_load(run, NULL, &err);
        CHECK(!m && err.code == MMC_ERR_INPUT && (strstr(err.msg, "config.json") || strstr(err.msg, "model.safetensors")),
              "edit %d accepted or badly reported (%d): %s", e, err.code, err.msg);
        mmc_vqa_free(m);
    }
    write_text(path, (const char *)orig);
    mmc_free(orig);
    snprintf(path, sizeof path, "%s/model.safetensors", run);
    write_text(path, "garbage");
    m = mmc_vqa_load(run, NULL, &err);
    CHECK(!m && err.code == MMC_ERR_INPUT && strstr(err.msg, "model.safetensors"), "a broken model file: %s", err.msg);
    m = mmc_vqa_load("/nonexistent/run", NULL, &err);
    CHECK(!m && err.code == MMC_ERR_INPUT, "a missing run: %d %s", err.code, err.msg);
    test_rm_tmpdir(dir);
}

/* A run folder written before cnn_strides, coord, att_score, att_fuse and text_pool existed (its
 * config.json lacks them) loads as what it was: stride 2 everywhere, no coordinate
 * channels, additive attention, the concat head, and the same answers. */
/* A run folder of fusion saved before the five later keys existed loads, answers and
 * resumes with the behaviour it was trained with, whatever the defaults are now. */
static void old_run_folder(const char *fusion) {
    char dir[64], run[128], path[256];
    REQUIRE(test_shapes_dir_at(dir, sizeof dir, "vqa", 8, 0, 13, 16), "cannot make the dataset");
    snprintf(run, sizeof run, "%s/run", dir);
    mmc_vqa_config c = train_cfg(fusion);
    strcpy(c.combine, "attention");
    strcpy(c.att_score, "additive");
    strcpy(c.att_fuse, "concat");
    strcpy(c.text_pool, "last");
    c.image.coord = 0;
    int st[6] = {2, 2, 0, 0, 0, 0};
    memcpy(c.image.cnn_strides, st, sizeof st);
    mmc_error err = {0};
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = dir, o.run_dir = run, o.steps = 2, o.val_split = "";
    REQUIRE(mmc_vqa_train(&c, &o, &err) == MMC_OK, "train: %s", err.msg);
    mmc_vqa *a = mmc_vqa_load(run, NULL, &err);
    REQUIRE(a, "load: %s", err.msg);
    snprintf(path, sizeof path, "%s/config.json", run);
    uint8_t *orig = NULL;
    size_t n = 0;
    REQUIRE(mmc_read_file(path, 1 << 20, &orig, &n, &err) == MMC_OK, "read");
    /* drop the lines of the four keys (cJSON_Print: one key per line; none is the last) */
    char *out = malloc(n + 1), *w = out;
    int dropped = 0;
    for (const char *l = (const char *)orig; l && *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l + 1) : strlen(l);
        int drop = 0;
        static const char *keys[] = {"\"cnn_strides\":", "\"coord\":", "\"att_score\":", "\"att_fuse\":", "\"text_pool\":"};
        for (int k = 0; k < 5; k++) {
            const char *at = strstr(l, keys[k]);
            drop |= at && at < l + len;
        }
        if (!drop) { memcpy(w, l, len); w += len; }
        dropped += drop;
        l += len;
    }
    *w = 0;
    CHECK(dropped == 5, "config.json had %d of the 5 new keys", dropped);
    write_text(path, out);
    free(out);
    mmc_free(orig);
    mmc_vqa *b = mmc_vqa_load(run, NULL, &err);
    REQUIRE(b, "an old config.json: %s", err.msg);
    const mmc_vqa_config *bc = mmc_vqa_get_config(b);
    CHECK(!strcmp(bc->att_score, "additive") && !strcmp(bc->att_fuse, "concat") && bc->image.coord == 0 && bc->image.cnn_strides[0] == 0 &&
              !strcmp(bc->text_pool, "last"),
          "old defaults not restored: %s %s coord %d stride %d", bc->att_score, bc->att_fuse, bc->image.coord, bc->image.cnn_strides[0]);
    if (!strcmp(fusion, "late"))
        CHECK(mmc_params_find(mmc_vqa_params(b), "fusion.attention.glimpses.weight"), "no additive attention weights");
    mmc_image img = {0};
    img.w = img.h = 16, img.c = 3;
    img.data = calloc(16 * 16 * 3, 1);
    for (int i = 0; i < 16 * 16 * 3; i++) img.data[i] = (uint8_t)(i * 37);
    int ta[3], tb[3];
    float pa[3], pb[3];
    REQUIRE(mmc_vqa_answer(a, &img, "how many shapes are there ?", 3, ta, pa, &err) == MMC_OK, "answer: %s", err.msg);
    REQUIRE(mmc_vqa_answer(b, &img, "how many shapes are there ?", 3, tb, pb, &err) == MMC_OK, "answer: %s", err.msg);
    CHECK(ta[0] == tb[0] && pa[0] == pb[0], "the old folder answers differently: %d %g vs %d %g", ta[0], pa[0], tb[0], pb[0]);
    /* and it re-saves (resume) without the keys coming back wrong */
    o.resume = 1, o.steps = 3;
    CHECK(mmc_vqa_train(NULL, &o, &err) == MMC_OK, "resume an old folder: %s", err.msg);
    mmc_vqa *c2 = mmc_vqa_load(run, NULL, &err);
    CHECK(c2 && !strcmp(mmc_vqa_get_config(c2)->att_score, "additive"), "after resume: %s", err.msg);
    mmc_vqa_free(c2);
    free(img.data);
    mmc_vqa_free(a);
    mmc_vqa_free(b);
    test_rm_tmpdir(dir);
}

TEST(vqa_old_run_folder_loads) {
    old_run_folder("late");
    old_run_folder("hybrid");
}

TEST(vqa_defaults_per_fusion) {
    /* New runs: hybrid is the default fusion (the best measured), late and hybrid share the
     * 8×8-map backbone with coordinates; early and joint keep the settings they were
     * measured with. */
    mmc_vqa_config d = mmc_vqa_config_default("vqa", NULL), l = mmc_vqa_config_default("vqa", "late"),
                   e = mmc_vqa_config_default("vqa", "early");
    CHECK(!strcmp(d.fusion, "hybrid"), "default fusion %s", d.fusion);
    for (int k = 0; k < 2; k++) {
        const mmc_vqa_config *c = k ? &l : &d;
        CHECK(c->image.coord == 1 && c->image.cnn_strides[3] == 1 && c->image.cnn_widths[3] == 128 && !strcmp(c->text_pool, "last+mean"),
              "%s: backbone defaults", c->fusion);
    }
    CHECK(d.per_image == 4 && l.per_image == 10, "questions per image: hybrid %d, late %d", d.per_image, l.per_image);
    CHECK(d.film_from == 2 && d.lr == 1e-3f, "hybrid: FiLM from stage %d, lr %g", d.film_from, d.lr);
    CHECK(e.image.coord == 0 && e.image.cnn_strides[3] == 2 && e.image.cnn_widths[0] == 16 && !strcmp(e.text_pool, "last"), "early changed");
    mmc_error err = {0};
    CHECK(mmc_vqa_config_check(&d, "default", &err) == MMC_OK, "the default config is refused: %s", err.msg);
}

/* An interrupt (Ctrl-C in the CLI) saves a checkpoint after the step in progress and
 * returns MMC_TRAIN_INTERRUPTED; the run then resumes from it. */
TEST(vqa_interrupt_saves) {
    char dir[64], run[128];
    REQUIRE(test_shapes_dir_at(dir, sizeof dir, "vqa", 16, 0, 13, 16), "cannot make the dataset");
    snprintf(run, sizeof run, "%s/run", dir);
    mmc_vqa_config c = train_cfg("early");
    mmc_error err = {0};
    volatile int stop = 1;
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = dir, o.run_dir = run, o.steps = 20, o.interrupt = &stop;
    CHECK(mmc_vqa_train(&c, &o, &err) == MMC_TRAIN_INTERRUPTED, "interrupt: %s", err.msg);
    mmc_trainer_state ts;
    REQUIRE(mmc_run_read_trainer(run, &ts, &err) == MMC_OK, "trainer.json: %s", err.msg);
    CHECK(ts.step == 1, "checkpoint at step %lld, want 1", (long long)ts.step);
    stop = 0;
    o.resume = 1;
    CHECK(mmc_vqa_train(NULL, &o, &err) == MMC_OK, "resume: %s", err.msg);
    REQUIRE(mmc_run_read_trainer(run, &ts, &err) == MMC_OK, "trainer.json: %s", err.msg);
    CHECK(ts.step == 20, "resumed run ended at step %lld", (long long)ts.step);
    test_rm_tmpdir(dir);
}
