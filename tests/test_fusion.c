/* test_fusion.c — the fusion family (src/nn/fusion.c, src/nn/joint.c): finite-difference
 * gradient checks of every operator and module, PyTorch parity against the references in
 * tools/fixtures/fusion.py, and argument checks.
 *
 * A parity fixture holds the torch module's state_dict under torch's names; the mmc module
 * is built with no prefix, its registry filled from the fixture by name (a missing or
 * misnamed tensor fails), then out, grad_<input> and grad.<param> are compared after a
 * backward seeded with the fixture's gout. */
#include "test.h"
#include <stdlib.h>

#define TOL 1e-4
#define FD_EPS 1e-2f
#define FD_TOL 2e-2

/* ------------------------------------------------------------------ parity harness */

typedef struct fx {
    const char *name;
    mmc_safetensors st;
    mmc_params P;
    mmc_ctx *ctx;
    mmc_rng rng;
    int n_in, n_ints;
    const char *in_name[8];
    mmc_tensor *in[8];
    int *ints[4];
} fx;

static int fx_open(fx *f, const char *name) {
    memset(f, 0, sizeof *f);
    f->name = name;
    if (!test_fixture_open(&f->st, name)) return 0;
    f->ctx = mmc_ctx_new();
    mmc_rng_seed(&f->rng, 42, 0);
    return 1;
}

static void fx_close(fx *f) {
    for (int i = 0; i < f->n_in; i++) mmc_tensor_free(f->in[i]);
    for (int i = 0; i < f->n_ints; i++) free(f->ints[i]);
    mmc_params_free(&f->P);
    if (f->ctx) mmc_ctx_free(f->ctx);
    mmc_safetensors_close(&f->st);
}

/* Fills every registered tensor from the fixture tensor of the same name. */
static int fx_load(fx *f) {
    for (int i = 0; i < f->P.n; i++) {
        mmc_tensor *t = f->P.tensors[i];
        if (!mmc_safetensors_find(&f->st, f->P.names[i])) {
            mmc_test_fail(__FILE__, __LINE__, "%s: torch has no tensor '%s'", f->name, f->P.names[i]);
            return 0;
        }
        mmc_tensor *src = test_fixture_get(&f->st, f->P.names[i]);
        if (!src) return 0;
        int ok = src->ndim == t->ndim;
        for (int d = 0; ok && d < t->ndim; d++) ok = src->shape[d] == t->shape[d];
        if (ok) memcpy(t->data, src->data, sizeof(float) * (size_t)t->numel);
        else mmc_test_fail(__FILE__, __LINE__, "%s: '%s' has another shape in torch", f->name, f->P.names[i]);
        mmc_tensor_free(src);
        if (!ok) return 0;
    }
    return 1;
}

static mmc_tensor *fx_input(fx *f, const char *name) {
    mmc_tensor *t = test_fixture_get(&f->st, name);
    if (!t) return NULL;
    t->requires_grad = 1;
    f->in_name[f->n_in] = name;
    f->in[f->n_in++] = t;
    return t;
}

static int *fx_ints(fx *f, const char *name) {
    int *v = test_fixture_ints(&f->st, name, NULL);
    return v ? (f->ints[f->n_ints++] = v) : NULL;
}

static void fx_compare(fx *f, const char *what, const float *got, int64_t n, const char *want_name) {
    char msg[320];
    snprintf(msg, sizeof msg, "%s: %s", f->name, what);
    mmc_tensor *want = test_fixture_get(&f->st, want_name);
    if (!want) return;
    if (!got) mmc_test_fail(__FILE__, __LINE__, "%s: no value", msg);
    else if (want->numel != n)
        mmc_test_fail(__FILE__, __LINE__, "%s: %lld values, torch has %lld", msg, (long long)n, (long long)want->numel);
    else test_close(msg, got, want->data, n, TOL);
    mmc_tensor_free(want);
}

/* out vs "out"; backward seeded with "gout"; every input and parameter gradient vs torch. */
static void fx_check(fx *f, mmc_tensor *out) {
    if (!out) {
        mmc_test_fail(__FILE__, __LINE__, "%s: forward failed: %s", f->name, f->ctx->err.msg);
        return;
    }
    fx_compare(f, "out", out->data, out->numel, "out");
    mmc_tensor *gout = test_fixture_get(&f->st, "gout");
    if (!gout) return;
    int rc = gout->numel == out->numel ? mmc_backward_with(f->ctx, out, gout->data) : -1;
    mmc_tensor_free(gout);
    if (rc != MMC_OK) {
        mmc_test_fail(__FILE__, __LINE__, "%s: backward failed: %s", f->name, f->ctx->err.msg);
        return;
    }
    char key[300];
    for (int i = 0; i < f->n_in; i++) {
        snprintf(key, sizeof key, "grad_%s", f->in_name[i]);
        fx_compare(f, key, f->in[i]->grad, f->in[i]->numel, key);
    }
    for (int i = 0; i < f->P.n; i++) {
        snprintf(key, sizeof key, "grad.%s", f->P.names[i]);
        fx_compare(f, key, f->P.tensors[i]->grad, f->P.tensors[i]->numel, key);
    }
}

#define INIT_OK(f, call)                                                              \
    do {                                                                              \
        mmc_error e_ = {0};                                                           \
        mmc_error *err = &e_;                                                         \
        if ((call) != MMC_OK) {                                                       \
            mmc_test_fail(__FILE__, __LINE__, "%s: init: %s", (f)->name, e_.msg);     \
            fx_close(f);                                                              \
            return;                                                                   \
        }                                                                             \
        (void)err;                                                                    \
        if (!fx_load(f)) { fx_close(f); return; }                                     \
    } while (0)

/* ------------------------------------------------------------ gradient harness */

/* A module gradient check: in[0..n_inputs) are the data inputs, the registry's trainable
 * tensors follow; fwd builds the output from them. */
typedef mmc_tensor *(*mod_fwd)(mmc_ctx *ctx, mmc_tensor **in, void *m);
typedef struct gc {
    mod_fwd fwd;
    void *m;
} gc;

static mmc_tensor *g_module(mmc_ctx *ctx, mmc_tensor **in, void *user) {
    gc *g = user;
    return g->fwd(ctx, in, g->m);
}

static void gradcheck_module(const char *what, mod_fwd fwd, void *m, mmc_params *P, mmc_tensor **inputs, int n,
                             int max_elems) {
    mmc_tensor *in[64];
    int k = 0;
    for (int i = 0; i < n; i++) in[k++] = inputs[i];
    for (int i = 0; i < P->n && k < 64; i++)
        if (P->kind[i] == MMC_PARAM) in[k++] = P->tensors[i];
    gc g = {fwd, m};
    test_gradcheck(what, g_module, in, k, &g, FD_EPS, FD_TOL, max_elems);
}

/* Random inputs that take a gradient. */
static mmc_tensor *rin(int ndim, const int *shape, uint64_t seed) {
    mmc_tensor *t = test_randn(ndim, shape, seed, 1.0f);
    if (t) t->requires_grad = 1;
    return t;
}

static void free_all(mmc_tensor **t, int n) {
    for (int i = 0; i < n; i++) mmc_tensor_free(t[i]);
}

/* ------------------------------------------------------------------ tile concat */

static mmc_tensor *g_tile(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    (void)u;
    return mmc_tile_concat(ctx, in[0], in[1]);
}

TEST(grad_fusion_tile_concat) {
    mmc_tensor *in[2] = {rin(4, (int[]){2, 3, 4, 5}, 1), rin(2, (int[]){2, 4}, 2)};
    test_gradcheck("tile_concat", g_tile, in, 2, NULL, FD_EPS, FD_TOL, 0);
    /* only t needs a gradient: the x path must be skipped cleanly */
    in[0]->requires_grad = 0;
    test_gradcheck("tile_concat (t only)", g_tile, in, 2, NULL, FD_EPS, FD_TOL, 0);
    free_all(in, 2);
}

TEST(parity_fusion_tile_concat) {
    fx f;
    if (!fx_open(&f, "fusion_tile_concat")) return;
    mmc_tensor *x = fx_input(&f, "x"), *t = fx_input(&f, "t");
    fx_check(&f, mmc_tile_concat(f.ctx, x, t));
    fx_close(&f);
}

/* -------------------------------------------------------------- modality concat */

static mmc_tensor *f_modcat(mmc_ctx *ctx, mmc_tensor **in, void *m) {
    return mmc_nn_modality_concat_forward(ctx, m, in, 3);
}

TEST(grad_fusion_modality_concat) {
    mmc_params P = {0};
    mmc_nn_modality_concat m;
    mmc_rng rng;
    mmc_rng_seed(&rng, 3, 0);
    mmc_error err = {0};
    REQUIRE(mmc_nn_modality_concat_init(&m, &P, "fuse", 3, 4, &rng, &err) == MMC_OK, "init: %s", err.msg);
    CHECK(mmc_params_find(&P, "fuse.token_type_embeddings.weight"), "token type table name");
    mmc_tensor *in[3] = {rin(3, (int[]){2, 3, 4}, 1), rin(3, (int[]){2, 1, 4}, 2), rin(3, (int[]){2, 2, 4}, 3)};
    gradcheck_module("modality concat", f_modcat, &m, &P, in, 3, 0);
    free_all(in, 3);
    mmc_params_free(&P);
}

TEST(parity_fusion_modality_concat) {
    fx f;
    mmc_nn_modality_concat m;
    if (!fx_open(&f, "fusion_modality_concat")) return;
    INIT_OK(&f, mmc_nn_modality_concat_init(&m, &f.P, "", 3, 8, &f.rng, err));
    mmc_tensor *s[3] = {fx_input(&f, "s0"), fx_input(&f, "s1"), fx_input(&f, "s2")};
    fx_check(&f, mmc_nn_modality_concat_forward(f.ctx, &m, s, 3));
    fx_close(&f);
}

/* ------------------------------------------------------- late: concat, sum, product */

static mmc_tensor *f_fusion(mmc_ctx *ctx, mmc_tensor **in, void *m) {
    return mmc_nn_fusion_forward(ctx, m, in[0], in[1]);
}

/* With and without projections; a and b of different widths where the mode allows. */
static void gradcheck_fusion(int mode, const char *what) {
    for (int proj = 0; proj < 2; proj++) {
        mmc_params P = {0};
        mmc_nn_fusion m;
        mmc_rng rng;
        mmc_rng_seed(&rng, 5, 0);
        mmc_error err = {0};
        int db = proj || mode == MMC_FUSE_CONCAT ? 4 : 3;
        REQUIRE(mmc_nn_fusion_init(&m, &P, "late", mode, 3, db, proj ? 5 : 0, MMC_ACT_TANH, &rng, &err) == MMC_OK,
                "%s: init: %s", what, err.msg);
        mmc_tensor *in[2] = {rin(2, (int[]){2, 3}, 1), rin(2, (int[]){2, db}, 2)};
        char name[64];
        snprintf(name, sizeof name, "%s%s", what, proj ? " with projections" : "");
        gradcheck_module(name, f_fusion, &m, &P, in, 2, 0);
        free_all(in, 2);
        mmc_params_free(&P);
    }
}

static void parity_fusion(const char *name, int mode, int da, int db, int dim, int act) {
    fx f;
    mmc_nn_fusion m;
    if (!fx_open(&f, name)) return;
    INIT_OK(&f, mmc_nn_fusion_init(&m, &f.P, "", mode, da, db, dim, act, &f.rng, err));
    mmc_tensor *a = fx_input(&f, "a"), *b = fx_input(&f, "b");
    mmc_tensor *y = mmc_nn_fusion_forward(f.ctx, &m, a, b);
    CHECK(!y || y->shape[1] == m.out_dim, "%s: out_dim %d, output width %d", name, m.out_dim, y->shape[1]);
    fx_check(&f, y);
    fx_close(&f);
}

TEST(grad_fusion_concat) { gradcheck_fusion(MMC_FUSE_CONCAT, "concat"); }
TEST(grad_fusion_sum) { gradcheck_fusion(MMC_FUSE_SUM, "sum"); }
TEST(grad_fusion_product) { gradcheck_fusion(MMC_FUSE_PRODUCT, "product"); }

TEST(parity_fusion_concat) {
    parity_fusion("fusion_concat", MMC_FUSE_CONCAT, 5, 7, 0, MMC_ACT_NONE);
    parity_fusion("fusion_concat_proj", MMC_FUSE_CONCAT, 5, 7, 6, MMC_ACT_RELU);
}
TEST(parity_fusion_sum) {
    parity_fusion("fusion_sum", MMC_FUSE_SUM, 5, 7, 6, MMC_ACT_NONE);
    parity_fusion("fusion_sum_plain", MMC_FUSE_SUM, 5, 5, 0, MMC_ACT_NONE);
}
TEST(parity_fusion_product) { parity_fusion("fusion_product", MMC_FUSE_PRODUCT, 5, 7, 6, MMC_ACT_TANH); }

/* --------------------------------------------------------------------- bilinear */

static mmc_tensor *g_bilinear(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    return mmc_bilinear(ctx, in[0], in[1], in[2], u ? in[3] : NULL);
}

TEST(grad_fusion_bilinear) {
    mmc_tensor *in[4] = {rin(2, (int[]){3, 4}, 1), rin(2, (int[]){3, 5}, 2), rin(3, (int[]){2, 4, 5}, 3),
                         rin(1, (int[]){2}, 4)};
    test_gradcheck("bilinear", g_bilinear, in, 4, (void *)1, FD_EPS, FD_TOL, 0);
    test_gradcheck("bilinear without bias", g_bilinear, in, 3, NULL, FD_EPS, FD_TOL, 0);
    in[0]->requires_grad = in[2]->requires_grad = 0; /* b alone */
    test_gradcheck("bilinear (b only)", g_bilinear, in, 3, NULL, FD_EPS, FD_TOL, 0);
    free_all(in, 4);
}

TEST(parity_fusion_bilinear) {
    fx f;
    mmc_nn_bilinear m;
    if (!fx_open(&f, "fusion_bilinear")) return;
    INIT_OK(&f, mmc_nn_bilinear_init(&m, &f.P, "", 5, 7, 4, 1, &f.rng, err));
    mmc_tensor *a = fx_input(&f, "a"), *b = fx_input(&f, "b");
    fx_check(&f, mmc_nn_bilinear_forward(f.ctx, &m, a, b));
    fx_close(&f);
}

static mmc_tensor *f_lowrank(mmc_ctx *ctx, mmc_tensor **in, void *m) {
    return mmc_nn_lowrank_bilinear_forward(ctx, m, in[0], in[1], 0, NULL);
}

TEST(grad_fusion_lowrank_bilinear) {
    mmc_params P = {0};
    mmc_nn_lowrank_bilinear m;
    mmc_rng rng;
    mmc_rng_seed(&rng, 7, 0);
    mmc_error err = {0};
    REQUIRE(mmc_nn_lowrank_bilinear_init(&m, &P, "mlb", 3, 4, 5, 2, MMC_ACT_TANH, 0.0f, &rng, &err) == MMC_OK,
            "init: %s", err.msg);
    mmc_tensor *in[2] = {rin(2, (int[]){2, 3}, 1), rin(2, (int[]){2, 4}, 2)};
    gradcheck_module("lowrank bilinear", f_lowrank, &m, &P, in, 2, 0);
    free_all(in, 2);
    mmc_params_free(&P);
}

TEST(parity_fusion_lowrank_bilinear) {
    fx f;
    mmc_nn_lowrank_bilinear m;
    if (!fx_open(&f, "fusion_lowrank_bilinear")) return;
    INIT_OK(&f, mmc_nn_lowrank_bilinear_init(&m, &f.P, "", 5, 7, 8, 4, MMC_ACT_TANH, 0.5f, &f.rng, err));
    mmc_tensor *a = fx_input(&f, "a"), *b = fx_input(&f, "b");
    fx_check(&f, mmc_nn_lowrank_bilinear_forward(f.ctx, &m, a, b, 0, NULL)); /* eval: no dropout */
    fx_close(&f);
}

/* ---------------------------------------------------------------- logit average */

static mmc_tensor *f_logavg(mmc_ctx *ctx, mmc_tensor **in, void *m) {
    return mmc_nn_logit_average_forward(ctx, m, in, 3);
}

TEST(grad_fusion_logit_average) {
    mmc_params P = {0};
    mmc_nn_logit_average m;
    mmc_error err = {0};
    REQUIRE(mmc_nn_logit_average_init(&m, &P, "avg", 3, &err) == MMC_OK, "init: %s", err.msg);
    mmc_rng rng;
    mmc_rng_seed(&rng, 9, 0);
    mmc_init_normal(m.weight, 0.0f, 1.0f, &rng); /* away from the uniform start */
    mmc_tensor *in[3] = {rin(2, (int[]){2, 4}, 1), rin(2, (int[]){2, 4}, 2), rin(2, (int[]){2, 4}, 3)};
    gradcheck_module("logit average", f_logavg, &m, &P, in, 3, 0);
    free_all(in, 3);
    mmc_params_free(&P);
}

TEST(parity_fusion_logit_average) {
    fx f;
    mmc_nn_logit_average m;
    if (!fx_open(&f, "fusion_logit_average")) return;
    INIT_OK(&f, mmc_nn_logit_average_init(&m, &f.P, "", 3, err));
    mmc_tensor *l[3] = {fx_input(&f, "l0"), fx_input(&f, "l1"), fx_input(&f, "l2")};
    fx_check(&f, mmc_nn_logit_average_forward(f.ctx, &m, l, 3));
    fx_close(&f);
}

/* ------------------------------------------------------------------------- FiLM */

static mmc_tensor *g_film(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    return mmc_film(ctx, in[0], in[1], u ? in[2] : NULL);
}

static mmc_tensor *f_film(mmc_ctx *ctx, mmc_tensor **in, void *m) {
    return mmc_nn_film_forward(ctx, m, in[0], in[1]);
}

TEST(grad_fusion_film) {
    mmc_tensor *in[3] = {rin(4, (int[]){2, 3, 4, 2}, 1), rin(2, (int[]){2, 3}, 2), rin(2, (int[]){2, 3}, 3)};
    test_gradcheck("film", g_film, in, 3, (void *)1, FD_EPS, FD_TOL, 0);
    test_gradcheck("film without beta", g_film, in, 2, NULL, FD_EPS, FD_TOL, 0);
    free_all(in, 3);
    mmc_tensor *in3[3] = {rin(3, (int[]){2, 3, 5}, 4), rin(2, (int[]){2, 3}, 5), rin(2, (int[]){2, 3}, 6)};
    test_gradcheck("film on (B, C, L)", g_film, in3, 3, (void *)1, FD_EPS, FD_TOL, 0);
    free_all(in3, 3);

    mmc_params P = {0};
    mmc_nn_film m;
    mmc_rng rng;
    mmc_rng_seed(&rng, 11, 0);
    mmc_error err = {0};
    REQUIRE(mmc_nn_film_init(&m, &P, "film1", 4, 3, 1, &rng, &err) == MMC_OK, "init: %s", err.msg);
    mmc_tensor *mi[2] = {rin(4, (int[]){2, 3, 3, 3}, 7), rin(2, (int[]){2, 4}, 8)};
    gradcheck_module("film module", f_film, &m, &P, mi, 2, 0);
    free_all(mi, 2);
    mmc_params_free(&P);
}

/* The hybrid net of the fixture: FiLM after two conv stages, then late concat + head. */
typedef struct hybrid {
    mmc_nn_conv2d conv1, conv2;
    mmc_nn_film film1, film2;
    mmc_nn_linear head;
} hybrid;

static int hybrid_init(hybrid *h, mmc_params *P, mmc_rng *rng, mmc_error *err) {
    int rc;
    if ((rc = mmc_nn_conv2d_init(&h->conv1, P, "conv1", 3, 4, 3, 1, 1, 1, rng, err)) ||
        (rc = mmc_nn_film_init(&h->film1, P, "film1", 6, 4, 1, rng, err)) ||
        (rc = mmc_nn_conv2d_init(&h->conv2, P, "conv2", 4, 5, 3, 2, 1, 1, rng, err)) ||
        (rc = mmc_nn_film_init(&h->film2, P, "film2", 6, 5, 1, rng, err)) ||
        (rc = mmc_nn_linear_init(&h->head, P, "head", 5 + 6, 3, 1, rng, err)))
        return rc;
    return MMC_OK;
}

// x (B, 3, H, W), t (B, 6) -> (B, 3)
static mmc_tensor *hybrid_forward(mmc_ctx *ctx, hybrid *h, mmc_tensor *x, mmc_tensor *t) {
    mmc_tensor *y = mmc_relu(ctx, mmc_nn_film_forward(ctx, &h->film1, mmc_nn_conv2d_forward(ctx, &h->conv1, x), t));
    y = mmc_relu(ctx, mmc_nn_film_forward(ctx, &h->film2, mmc_nn_conv2d_forward(ctx, &h->conv2, y), t));
    mmc_tensor *parts[2] = {mmc_global_avg_pool2d(ctx, y), t};
    return mmc_nn_linear_forward(ctx, &h->head, mmc_concat(ctx, parts, 2, 1));
}

TEST(parity_fusion_film) {
    fx f;
    if (fx_open(&f, "fusion_film_op")) {
        mmc_tensor *x = fx_input(&f, "x"), *g = fx_input(&f, "gamma"), *b = fx_input(&f, "beta");
        fx_check(&f, mmc_film(f.ctx, x, g, b));
        fx_close(&f);
    }
    mmc_nn_film m;
    if (fx_open(&f, "fusion_film")) {
        INIT_OK(&f, mmc_nn_film_init(&m, &f.P, "", 6, 4, 1, &f.rng, err));
        mmc_tensor *x = fx_input(&f, "x"), *c = fx_input(&f, "cond");
        fx_check(&f, mmc_nn_film_forward(f.ctx, &m, x, c));
        fx_close(&f);
    }
    hybrid h;
    if (!fx_open(&f, "fusion_hybrid")) return;
    INIT_OK(&f, hybrid_init(&h, &f.P, &f.rng, err));
    mmc_tensor *x = fx_input(&f, "x"), *t = fx_input(&f, "t");
    fx_check(&f, hybrid_forward(f.ctx, &h, x, t));
    fx_close(&f);
}

/* ------------------------------------------------------------------------ joint */

static mmc_nn_joint_cfg tiny_joint(void) {
    mmc_nn_joint_cfg c = mmc_nn_joint_defaults(8, 4, 11, 6, 16, 2, 4);
    c.mlp_dim = 32, c.dropout = 0.0f;
    return c;
}

static const int JOINT_IDS[10] = {2, 5, 7, 1, 0, 3, 10, 4, 0, 0};
static const uint8_t JOINT_MASK[10] = {1, 1, 1, 1, 0, 1, 1, 1, 0, 0};

static mmc_tensor *f_joint(mmc_ctx *ctx, mmc_tensor **in, void *m) {
    return mmc_nn_joint_forward(ctx, m, in[0], JOINT_IDS, JOINT_MASK, 5, 0, NULL);
}

TEST(grad_nn_joint) {
    static mmc_nn_joint m;
    mmc_params P = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 13, 0);
    mmc_error err = {0};
    mmc_nn_joint_cfg c = tiny_joint();
    c.dim = 8, c.heads = 2, c.mlp_dim = 16, c.depth = 1;
    REQUIRE(mmc_nn_joint_init(&m, &P, "joint", &c, &rng, &err) == MMC_OK, "init: %s", err.msg);
    /* norm scales away from 1 so every path is exercised with non-trivial values */
    for (int i = 0; i < P.n; i++)
        if (P.tensors[i]->ndim == 1) mmc_init_uniform(P.tensors[i], 0.5f, &rng);
    mmc_tensor *img = rin(4, (int[]){2, 3, 8, 8}, 1);
    gradcheck_module("joint", f_joint, &m, &P, &img, 1, 12);
    mmc_tensor_free(img);
    mmc_params_free(&P);
}

TEST(parity_nn_joint) {
    fx f;
    static mmc_nn_joint m;
    mmc_nn_joint_cfg c = tiny_joint();
    if (!fx_open(&f, "nn_joint")) return;
    INIT_OK(&f, mmc_nn_joint_init(&m, &f.P, "", &c, &f.rng, err));
    int64_t n = 0;
    int *ids = fx_ints(&f, "ids");
    int *mask_i = test_fixture_ints(&f.st, "text_mask", &n);
    uint8_t mask[16] = {0};
    for (int64_t i = 0; mask_i && i < n && i < 16; i++) mask[i] = (uint8_t)(mask_i[i] != 0);
    free(mask_i);
    mmc_tensor *img = fx_input(&f, "image");
    mmc_tensor *y = ids ? mmc_nn_joint_forward(f.ctx, &m, img, ids, mask, 5, 1, &f.rng) : NULL;
    CHECK(!y || (y->ndim == 2 && y->shape[0] == 2 && y->shape[1] == 16), "joint output is not (2, 16)");
    fx_check(&f, y);
    fx_close(&f);
}

/* ------------------------------------------------------------- cell attention */

static const int ATT_IMG[5] = {1, 0, 1, 2, 1};

static mmc_tensor *f_cell_att(mmc_ctx *ctx, mmc_tensor **in, void *m) {
    return mmc_nn_cell_attention_forward(ctx, m, in[0], in[1], ATT_IMG);
}

static void gradcheck_cell_attention(int mode, const char *what) {
    mmc_params P = {0};
    mmc_nn_cell_attention m;
    mmc_rng rng;
    mmc_rng_seed(&rng, 11, 0);
    mmc_error err = {0};
    REQUIRE(mmc_nn_cell_attention_init(&m, &P, "att", mode, 4, 3, 5, 2, mode == MMC_CELL_ATT_DOT, &rng, &err) == MMC_OK,
            "init: %s", err.msg);
    mmc_tensor *in[2] = {rin(3, (int[]){3, 6, 4}, 1), rin(2, (int[]){5, 3}, 2)};
    gradcheck_module(what, f_cell_att, &m, &P, in, 2, 0);
    free_all(in, 2);
    mmc_params_free(&P);
}

TEST(grad_fusion_cell_attention_additive) { gradcheck_cell_attention(MMC_CELL_ATT_ADDITIVE, "cell attention additive"); }
TEST(grad_fusion_cell_attention_dot) { gradcheck_cell_attention(MMC_CELL_ATT_DOT, "cell attention dot"); }

static void parity_cell_attention(const char *name, int mode) {
    fx f;
    mmc_nn_cell_attention m;
    if (!fx_open(&f, name)) return;
    INIT_OK(&f, mmc_nn_cell_attention_init(&m, &f.P, "", mode, 6, 5, 4, 2, mode == MMC_CELL_ATT_DOT, &f.rng, err));
    int *img = fx_ints(&f, "img");
    mmc_tensor *cells = fx_input(&f, "cells"), *q = fx_input(&f, "q");
    mmc_tensor *y = img ? mmc_nn_cell_attention_forward(f.ctx, &m, cells, q, img) : NULL;
    CHECK(!y || (y->ndim == 2 && y->shape[0] == 5 && y->shape[1] == 12 + (mode == MMC_CELL_ATT_DOT ? 2 : 0)),
          "%s: output shape", name);
    fx_check(&f, y);
    fx_close(&f);
}

TEST(parity_fusion_cell_attention_additive) { parity_cell_attention("fusion_cell_attention_additive", MMC_CELL_ATT_ADDITIVE); }
TEST(parity_fusion_cell_attention_dot) { parity_cell_attention("fusion_cell_attention_dot", MMC_CELL_ATT_DOT); }

/* -------------------------------------------------------------------- bad args */

TEST(fusion_bad_args) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *x = mmc_tensor_4d(ctx, 2, 3, 4, 4), *t = mmc_tensor_2d(ctx, 3, 5), *t2 = mmc_tensor_2d(ctx, 2, 5);
    CHECK(!mmc_tile_concat(ctx, x, t) && ctx->err.code == MMC_ERR_USAGE, "tile_concat: batch mismatch accepted");
    CHECK(strstr(ctx->err.msg, "tile_concat"), "message names the op: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    CHECK(!mmc_tile_concat(ctx, t2, t2), "tile_concat: a 2-D image accepted");
    mmc_ctx_reset(ctx);
    CHECK(!mmc_tile_concat(ctx, NULL, t2), "tile_concat: NULL accepted");
    mmc_ctx_reset(ctx);
    x = mmc_tensor_4d(ctx, 2, 3, 4, 4);
    CHECK(!mmc_film(ctx, x, mmc_tensor_2d(ctx, 2, 4), NULL), "film: gamma with the wrong channel count accepted");
    mmc_ctx_reset(ctx);
    x = mmc_tensor_4d(ctx, 2, 3, 4, 4);
    CHECK(!mmc_film(ctx, x, mmc_tensor_2d(ctx, 2, 3), mmc_tensor_2d(ctx, 1, 3)), "film: beta shape accepted");
    mmc_ctx_reset(ctx);
    CHECK(!mmc_film(ctx, mmc_tensor_1d(ctx, 3), mmc_tensor_2d(ctx, 1, 3), NULL), "film: 1-D x accepted");
    mmc_ctx_reset(ctx);
    mmc_tensor *a = mmc_tensor_2d(ctx, 2, 4), *b = mmc_tensor_2d(ctx, 2, 5);
    CHECK(!mmc_bilinear(ctx, a, b, mmc_tensor_3d(ctx, 3, 5, 4), NULL), "bilinear: transposed weight accepted");
    mmc_ctx_reset(ctx);
    a = mmc_tensor_2d(ctx, 2, 4), b = mmc_tensor_2d(ctx, 2, 5);
    CHECK(!mmc_bilinear(ctx, a, b, mmc_tensor_3d(ctx, 3, 4, 5), mmc_tensor_1d(ctx, 4)), "bilinear: bias size accepted");
    mmc_ctx_reset(ctx);
    a = mmc_tensor_2d(ctx, 2, 4), b = mmc_tensor_2d(ctx, 3, 5);
    CHECK(!mmc_bilinear(ctx, a, b, mmc_tensor_3d(ctx, 3, 4, 5), NULL), "bilinear: batch mismatch accepted");
    mmc_ctx_reset(ctx);

    mmc_params P = {0};
    mmc_error err = {0};
    mmc_nn_fusion fu;
    CHECK(mmc_nn_fusion_init(&fu, &P, "f", MMC_FUSE_SUM, 3, 4, 0, MMC_ACT_NONE, NULL, &err) == MMC_ERR_USAGE,
          "sum of different widths without projections accepted");
    CHECK(strstr(err.msg, "projections"), "message says why: %s", err.msg);
    CHECK(mmc_nn_fusion_init(&fu, &P, "f", 7, 3, 4, 0, MMC_ACT_NONE, NULL, &err) == MMC_ERR_USAGE, "bad mode");
    REQUIRE(mmc_nn_fusion_init(&fu, &P, "f", MMC_FUSE_CONCAT, 3, 4, 0, MMC_ACT_NONE, NULL, &err) == MMC_OK, "%s",
            err.msg);
    CHECK(!mmc_nn_fusion_forward(ctx, &fu, mmc_tensor_2d(ctx, 2, 4), mmc_tensor_2d(ctx, 2, 4)),
          "fusion: wrong width of a accepted");
    mmc_ctx_reset(ctx);
    CHECK(!mmc_nn_fusion_forward(ctx, &fu, mmc_tensor_2d(ctx, 2, 3), mmc_tensor_2d(ctx, 3, 4)),
          "fusion: batch mismatch accepted");
    mmc_ctx_reset(ctx);

    mmc_nn_logit_average la;
    CHECK(mmc_nn_logit_average_init(&la, &P, "avg", 0, &err) == MMC_ERR_USAGE, "0 inputs accepted");
    CHECK(mmc_nn_logit_average_init(&la, &P, "avg", MMC_FUSION_MAX_INPUTS + 1, &err) == MMC_ERR_USAGE,
          "too many inputs accepted");
    REQUIRE(mmc_nn_logit_average_init(&la, &P, "avg", 2, &err) == MMC_OK, "%s", err.msg);
    mmc_tensor *l[3] = {mmc_tensor_2d(ctx, 2, 3), mmc_tensor_2d(ctx, 2, 4), mmc_tensor_2d(ctx, 2, 3)};
    CHECK(!mmc_nn_logit_average_forward(ctx, &la, l, 2), "logit average: shapes differ, accepted");
    mmc_ctx_reset(ctx);
    l[0] = mmc_tensor_2d(ctx, 2, 3), l[1] = mmc_tensor_2d(ctx, 2, 3), l[2] = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_nn_logit_average_forward(ctx, &la, l, 3), "logit average: 3 inputs for 2 accepted");
    mmc_ctx_reset(ctx);

    mmc_nn_bilinear bl;
    mmc_nn_lowrank_bilinear lr;
    mmc_nn_film fm;
    mmc_nn_modality_concat mc;
    CHECK(mmc_nn_bilinear_init(&bl, &P, "bl", 0, 3, 2, 1, NULL, &err) == MMC_ERR_USAGE, "bilinear in_a 0");
    CHECK(mmc_nn_lowrank_bilinear_init(&lr, &P, "lr", 3, 3, 4, 2, MMC_ACT_TANH, 1.0f, NULL, &err) == MMC_ERR_USAGE,
          "lowrank dropout 1");
    CHECK(mmc_nn_film_init(&fm, &P, "fm", 4, 0, 0, NULL, &err) == MMC_ERR_USAGE, "film 0 channels");
    CHECK(mmc_nn_modality_concat_init(&mc, &P, "mc", 0, 4, NULL, &err) == MMC_ERR_USAGE, "0 modalities");
    REQUIRE(mmc_nn_film_init(&fm, &P, "fm", 4, 3, 0, NULL, &err) == MMC_OK, "%s", err.msg);
    CHECK(!mmc_nn_film_forward(ctx, &fm, mmc_tensor_4d(ctx, 2, 3, 2, 2), mmc_tensor_2d(ctx, 2, 5)),
          "film module: cond width accepted");
    mmc_ctx_reset(ctx);
    REQUIRE(mmc_nn_modality_concat_init(&mc, &P, "mc", 2, 4, NULL, &err) == MMC_OK, "%s", err.msg);
    mmc_tensor *s[2] = {mmc_tensor_3d(ctx, 2, 3, 4), mmc_tensor_3d(ctx, 2, 3, 5)};
    CHECK(!mmc_nn_modality_concat_forward(ctx, &mc, s, 2), "modality concat: width mismatch accepted");
    mmc_ctx_reset(ctx);

    static mmc_nn_joint j;
    mmc_nn_joint_cfg c = tiny_joint();
    c.image_size = 10; /* not a multiple of the patch */
    CHECK(mmc_nn_joint_init(&j, &P, "j", &c, NULL, &err) == MMC_ERR_USAGE, "joint: image 10, patch 4 accepted");
    c = tiny_joint();
    c.depth = MMC_JOINT_MAX_DEPTH + 1;
    CHECK(mmc_nn_joint_init(&j, &P, "j", &c, NULL, &err) == MMC_ERR_USAGE, "joint: depth accepted");
    c = tiny_joint();
    REQUIRE(mmc_nn_joint_init(&j, &P, "j", &c, NULL, &err) == MMC_OK, "%s", err.msg);
    int ids[14] = {0};
    CHECK(!mmc_nn_joint_forward(ctx, &j, mmc_tensor_4d(ctx, 2, 3, 8, 8), ids, NULL, 7, 0, NULL),
          "joint: 7 tokens over max_text_len 6 accepted");
    mmc_ctx_reset(ctx);
    CHECK(!mmc_nn_joint_forward(ctx, &j, mmc_tensor_4d(ctx, 2, 3, 9, 9), ids, NULL, 3, 0, NULL),
          "joint: 9x9 image accepted");
    mmc_ctx_reset(ctx);
    ids[3] = 11; /* vocab is 11 */
    CHECK(!mmc_nn_joint_forward(ctx, &j, mmc_tensor_4d(ctx, 2, 3, 8, 8), ids, NULL, 3, 0, NULL) &&
              ctx->err.code == MMC_ERR_INPUT,
          "joint: token id out of range accepted (code %d)", ctx->err.code);
    mmc_ctx_reset(ctx);
    mmc_params_free(&P);
    mmc_ctx_free(ctx);
}

/* ------------------------------------------------------------ thread counts */

/* Forward and every gradient of the fused ops at sizes that take the OpenMP branch, run
 * with 1 and 2 threads: each output element and each reduction belongs to one thread, so
 * the results must be bit-identical (to rounding where a GEMM is involved). */
static void run_fused(int threads, mmc_tensor **in, float **outs, int64_t *nout) {
    mmc_set_threads(threads);
    mmc_ctx *ctx = mmc_ctx_new();
    for (int i = 0; i < 7; i++) mmc_tensor_zero_grad(in[i]);
    mmc_tensor *y[3] = {mmc_tile_concat(ctx, in[0], in[1]), mmc_film(ctx, in[0], in[2], in[3]),
                        mmc_bilinear(ctx, in[4], in[5], in[6], NULL)};
    int k = 0;
    for (int j = 0; j < 3; j++) {
        if (!y[j]) { mmc_test_fail(__FILE__, __LINE__, "fused op %d: %s", j, ctx->err.msg); break; }
        float *seed = malloc(sizeof(float) * (size_t)y[j]->numel);
        for (int64_t i = 0; i < y[j]->numel; i++) seed[i] = (float)((i * 7919) % 101) / 50.0f - 1.0f;
        CHECK(mmc_backward_with(ctx, y[j], seed) == MMC_OK, "backward %d: %s", j, ctx->err.msg);
        free(seed);
        outs[k] = malloc(sizeof(float) * (size_t)y[j]->numel);
        memcpy(outs[k], y[j]->data, sizeof(float) * (size_t)y[j]->numel);
        nout[k++] = y[j]->numel;
    }
    for (int i = 0; i < 7; i++) {
        outs[k] = malloc(sizeof(float) * (size_t)in[i]->numel);
        memcpy(outs[k], in[i]->grad, sizeof(float) * (size_t)in[i]->numel);
        nout[k++] = in[i]->numel;
    }
    mmc_ctx_free(ctx);
}

TEST(fusion_threads_match) {
    int prev = mmc_get_threads();
    mmc_tensor *in[7] = {rin(4, (int[]){4, 16, 32, 32}, 1), rin(2, (int[]){4, 8}, 2), rin(2, (int[]){4, 16}, 3),
                         rin(2, (int[]){4, 16}, 4), rin(2, (int[]){64, 32}, 5), rin(2, (int[]){64, 24}, 6),
                         rin(3, (int[]){40, 32, 24}, 7)};
    float *r1[10] = {0}, *r2[10] = {0};
    int64_t n1[10] = {0}, n2[10] = {0};
    run_fused(1, in, r1, n1);
    run_fused(2, in, r2, n2);
    mmc_set_threads(prev);
    static const char *what[10] = {"tile_concat out", "film out", "bilinear out", "grad x", "grad t", "grad gamma",
                                   "grad beta", "grad a", "grad b", "grad w"};
    for (int i = 0; i < 10; i++) {
        int gemm = i == 2 || i >= 7; /* through OpenBLAS, whose blocking may follow the thread count */
        if (!r1[i] || !r2[i] || n1[i] != n2[i]) mmc_test_fail(__FILE__, __LINE__, "%s: missing", what[i]);
        else if (gemm) test_close(what[i], r2[i], r1[i], n1[i], 1e-6);
        else CHECK(memcmp(r1[i], r2[i], sizeof(float) * (size_t)n1[i]) == 0, "%s differs between 1 and 2 threads",
                   what[i]);
        free(r1[i]);
        free(r2[i]);
    }
    free_all(in, 7);
}
