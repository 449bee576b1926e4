/* test_nn.c — PyTorch parity of the modules in src/nn (forward, input gradients, every
 * parameter gradient, batch-norm running statistics).
 *
 * Fixtures (tools/fixtures/nn_layers.py) hold the torch module's state_dict under its own
 * names; the C module is built with the same prefix-free names, its tensors are filled from
 * the fixture by name (so a missing or misnamed tensor fails the test), then out, grad_<input>
 * and grad.<param> / after.<buffer> are compared. */
#include "test.h"
#include <stdlib.h>

#define TOL 1e-4

typedef struct nnfx {
    const char *name;
    mmc_safetensors st;
    mmc_params P;
    mmc_ctx *ctx;
    mmc_rng rng;
    int n_in;
    const char *in_name[4];
    mmc_tensor *in[4];
    uint8_t *masks[4];
    int *ints[4];
    int n_masks, n_ints;
} nnfx;

static int nnfx_open(nnfx *f, const char *name) {
    memset(f, 0, sizeof *f);
    f->name = name;
    if (!test_fixture_open(&f->st, name)) return 0;
    f->ctx = mmc_ctx_new();
    mmc_rng_seed(&f->rng, 42, 0);
    return 1;
}

static void nnfx_close(nnfx *f) {
    for (int i = 0; i < f->n_in; i++) mmc_tensor_free(f->in[i]);
    for (int i = 0; i < f->n_masks; i++) free(f->masks[i]);
    for (int i = 0; i < f->n_ints; i++) free(f->ints[i]);
    mmc_params_free(&f->P);
    if (f->ctx) mmc_ctx_free(f->ctx);
    mmc_safetensors_close(&f->st);
}

/* Fills every registered tensor from the fixture tensor of the same name. */
static int nnfx_load(nnfx *f) {
    for (int i = 0; i < f->P.n; i++) {
        mmc_tensor *t = f->P.tensors[i];
        const mmc_st_entry *e = mmc_safetensors_find(&f->st, f->P.names[i]);
        if (!e) {
            mmc_test_fail(__FILE__, __LINE__, "%s: the fixture has no tensor '%s'", f->name, f->P.names[i]);
            return 0;
        }
        mmc_tensor *src = test_fixture_get(&f->st, f->P.names[i]);
        if (!src) return 0;
        int ok = src->numel == t->numel && src->ndim == t->ndim;
        for (int d = 0; ok && d < t->ndim; d++) ok = src->shape[d] == t->shape[d];
        if (ok) memcpy(t->data, src->data, sizeof(float) * (size_t)t->numel);
        else mmc_test_fail(__FILE__, __LINE__, "%s: '%s' has a different shape in torch", f->name, f->P.names[i]);
        mmc_tensor_free(src);
        if (!ok) return 0;
    }
    return 1;
}

/* A float input that takes a gradient (compared with grad_<name>). */
static mmc_tensor *nnfx_input(nnfx *f, const char *name) {
    mmc_tensor *t = test_fixture_get(&f->st, name);
    if (!t) return NULL;
    t->requires_grad = 1;
    f->in_name[f->n_in] = name;
    f->in[f->n_in++] = t;
    return t;
}

static uint8_t *nnfx_mask(nnfx *f, const char *name) {
    int64_t n = 0;
    int *v = test_fixture_ints(&f->st, name, &n);
    if (!v) return NULL;
    uint8_t *m = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) m[i] = (uint8_t)(v[i] != 0);
    free(v);
    return f->masks[f->n_masks++] = m;
}

static int *nnfx_ints(nnfx *f, const char *name) {
    int *v = test_fixture_ints(&f->st, name, NULL);
    return v ? (f->ints[f->n_ints++] = v) : NULL;
}

/* Compares a tensor with fixture tensor `want`. */
static void nnfx_close_to(nnfx *f, const char *what, const float *got, int64_t n, const char *want_name) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: %s", f->name, what);
    mmc_tensor *want = test_fixture_get(&f->st, want_name);
    if (!want) return;
    if (!got) mmc_test_fail(__FILE__, __LINE__, "%s: no value", msg);
    else if (want->numel != n) mmc_test_fail(__FILE__, __LINE__, "%s: %lld values, torch has %lld", msg, (long long)n, (long long)want->numel);
    else test_close(msg, got, want->data, n, TOL);
    mmc_tensor_free(want);
}

/* out against "out"; backward from "gout"; every input and parameter gradient and every
 * buffer after the step against torch. */
static void nnfx_check(nnfx *f, mmc_tensor *out) {
    if (!out) {
        mmc_test_fail(__FILE__, __LINE__, "%s: forward failed: %s", f->name, f->ctx->err.msg);
        return;
    }
    nnfx_close_to(f, "out", out->data, out->numel, "out");
    mmc_tensor *gout = test_fixture_get(&f->st, "gout");
    if (!gout) return;
    int rc = gout->numel == out->numel ? mmc_backward_with(f->ctx, out, gout->data) : -1;
    mmc_tensor_free(gout);
    if (rc != MMC_OK) {
        mmc_test_fail(__FILE__, __LINE__, "%s: backward failed: %s", f->name, f->ctx->err.msg);
        return;
    }
    char key[320];
    for (int i = 0; i < f->n_in; i++) {
        snprintf(key, sizeof key, "grad_%s", f->in_name[i]);
        nnfx_close_to(f, key, f->in[i]->grad, f->in[i]->numel, key);
    }
    for (int i = 0; i < f->P.n; i++) {
        mmc_tensor *t = f->P.tensors[i];
        snprintf(key, sizeof key, "%s.%s", f->P.kind[i] == MMC_PARAM ? "grad" : "after", f->P.names[i]);
        nnfx_close_to(f, key, f->P.kind[i] == MMC_PARAM ? t->grad : t->data, t->numel, key);
    }
}

#define INIT_OK(f, call)                                                              \
    do {                                                                              \
        mmc_error e_ = {0};                                                           \
        mmc_error *err = &e_;                                                         \
        if ((call) != MMC_OK) {                                                       \
            mmc_test_fail(__FILE__, __LINE__, "%s: init: %s", (f)->name, e_.msg);     \
            nnfx_close(f);                                                            \
            return;                                                                   \
        }                                                                             \
        (void)err;                                                                    \
        if (!nnfx_load(f)) { nnfx_close(f); return; }                                 \
    } while (0)

/* --------------------------------------------------------------------- layers */

TEST(parity_nn_linear) {
    nnfx f;
    mmc_nn_linear m;
    if (!nnfx_open(&f, "nn_linear")) return;
    INIT_OK(&f, mmc_nn_linear_init(&m, &f.P, "", 5, 4, 1, &f.rng, err));
    nnfx_check(&f, mmc_nn_linear_forward(f.ctx, &m, nnfx_input(&f, "x")));
    nnfx_close(&f);
}

TEST(parity_nn_conv2d) {
    nnfx f;
    mmc_nn_conv2d m;
    if (!nnfx_open(&f, "nn_conv2d")) return;
    INIT_OK(&f, mmc_nn_conv2d_init(&m, &f.P, NULL, 3, 4, 3, 2, 1, 1, &f.rng, err));
    nnfx_check(&f, mmc_nn_conv2d_forward(f.ctx, &m, nnfx_input(&f, "x")));
    nnfx_close(&f);
}

static void bn_case(const char *name, int channels, int training) {
    nnfx f;
    mmc_nn_batchnorm m;
    if (!nnfx_open(&f, name)) return;
    INIT_OK(&f, mmc_nn_batchnorm_init(&m, &f.P, "", channels, err));
    nnfx_check(&f, mmc_nn_batchnorm_forward(f.ctx, &m, nnfx_input(&f, "x"), training));
    nnfx_close(&f);
}

TEST(parity_nn_batchnorm2d) {
    bn_case("nn_bn2d_train", 3, 1);
    bn_case("nn_bn2d_eval", 3, 0);
    bn_case("nn_bn1d_train", 5, 1);
}

TEST(parity_nn_layernorm) {
    nnfx f;
    mmc_nn_layernorm m;
    if (!nnfx_open(&f, "nn_layernorm")) return;
    INIT_OK(&f, mmc_nn_layernorm_init(&m, &f.P, "", 16, 1e-5f, err));
    nnfx_check(&f, mmc_nn_layernorm_forward(f.ctx, &m, nnfx_input(&f, "x")));
    nnfx_close(&f);
}

TEST(parity_nn_embedding) {
    nnfx f;
    mmc_nn_embedding m;
    if (!nnfx_open(&f, "nn_embedding")) return;
    INIT_OK(&f, mmc_nn_embedding_init(&m, &f.P, "", 10, 6, &f.rng, err));
    int *ids = nnfx_ints(&f, "ids");
    nnfx_check(&f, ids ? mmc_nn_embedding_forward(f.ctx, &m, ids, 2, (int[]){2, 3}) : NULL);
    nnfx_close(&f);
}

static void mlp_case(const char *name, int n, const int *widths, int act) {
    nnfx f;
    mmc_nn_mlp m;
    if (!nnfx_open(&f, name)) return;
    INIT_OK(&f, mmc_nn_mlp_init(&m, &f.P, "", n, widths, act, 0.0f, &f.rng, err));
    nnfx_check(&f, mmc_nn_mlp_forward(f.ctx, &m, nnfx_input(&f, "x"), 1, &f.rng));
    nnfx_close(&f);
}

TEST(parity_nn_mlp) {
    mlp_case("nn_mlp", 4, (int[]){6, 16, 8, 3}, MMC_ACT_GELU);
    mlp_case("nn_mlp_tanh", 3, (int[]){5, 7, 2}, MMC_ACT_TANH);
}

/* ------------------------------------------------------------------ attention */

static void mha_case(const char *name, int separate, int cross, int causal, int masked) {
    nnfx f;
    mmc_nn_mha m;
    if (!nnfx_open(&f, name)) return;
    INIT_OK(&f, mmc_nn_mha_init(&m, &f.P, "", 16, 4, separate, 0.0f, &f.rng, err));
    mmc_tensor *x = nnfx_input(&f, "x"), *kv = cross ? nnfx_input(&f, "kv") : NULL;
    const uint8_t *mask = masked ? nnfx_mask(&f, "key_mask") : NULL;
    nnfx_check(&f, mmc_nn_mha_forward(f.ctx, &m, x, kv, causal, mask, 1, &f.rng));
    nnfx_close(&f);
}

TEST(parity_nn_mha) {
    mha_case("nn_mha_self", 0, 0, 1, 1);            /* causal + key padding */
    mha_case("nn_mha_cross", 0, 1, 0, 1);           /* cross + key padding */
    mha_case("nn_mha_separate", 1, 0, 1, 0);        /* HF CLIP layout, causal */
    mha_case("nn_mha_separate_cross", 1, 1, 0, 0);
}

static mmc_nn_block_cfg block_cfg(int pre) {
    mmc_nn_block_cfg c = mmc_nn_block_defaults(16, 4);
    c.mlp_dim = 32, c.dropout = 0.0f, c.norm_first = pre, c.act = pre ? MMC_ACT_GELU : MMC_ACT_RELU;
    return c;
}

static void encoder_case(const char *name, int pre) {
    nnfx f;
    mmc_nn_encoder_layer m;
    mmc_nn_block_cfg c = block_cfg(pre);
    if (!nnfx_open(&f, name)) return;
    INIT_OK(&f, mmc_nn_encoder_layer_init(&m, &f.P, "", &c, &f.rng, err));
    mmc_tensor *x = nnfx_input(&f, "x");
    nnfx_check(&f, mmc_nn_encoder_layer_forward(f.ctx, &m, x, 1, nnfx_mask(&f, "key_mask"), 1, &f.rng));
    nnfx_close(&f);
}

TEST(parity_nn_transformer_encoder) {
    encoder_case("nn_encoder_post", 0);
    encoder_case("nn_encoder_pre", 1);
}

static void decoder_case(const char *name, int pre) {
    nnfx f;
    mmc_nn_decoder_layer m;
    mmc_nn_block_cfg c = block_cfg(pre);
    if (!nnfx_open(&f, name)) return;
    INIT_OK(&f, mmc_nn_decoder_layer_init(&m, &f.P, "", &c, &f.rng, err));
    mmc_tensor *x = nnfx_input(&f, "x"), *mem = nnfx_input(&f, "mem");
    nnfx_check(&f, mmc_nn_decoder_layer_forward(f.ctx, &m, x, mem, 1, nnfx_mask(&f, "key_mask"),
                                                nnfx_mask(&f, "mem_mask"), 1, &f.rng));
    nnfx_close(&f);
}

TEST(parity_nn_transformer_decoder) {
    decoder_case("nn_decoder_post", 0);
    decoder_case("nn_decoder_pre", 1);
}

/* ---------------------------------------------------------------- resnet, vit */

TEST(parity_nn_resnet18) {
    nnfx f;
    static mmc_nn_resnet m; /* large struct: keep it off the stack */
    mmc_nn_resnet_cfg c = mmc_nn_resnet_layout(18);
    int w[4] = {4, 8, 16, 32};
    memcpy(c.widths, w, sizeof w);
    c.stem = MMC_STEM_SMALL, c.num_classes = 5;
    if (!nnfx_open(&f, "nn_resnet18")) return;
    INIT_OK(&f, mmc_nn_resnet_init(&m, &f.P, "", &c, &f.rng, err));
    mmc_tensor *x = nnfx_input(&f, "x");
    nnfx_check(&f, mmc_nn_resnet_forward(f.ctx, &m, x, 1));
    /* eval with the running statistics the training step just updated */
    mmc_ctx_reset(f.ctx);
    int prev = mmc_grad_mode(f.ctx, 0);
    mmc_tensor *y = mmc_nn_resnet_forward(f.ctx, &m, x, 0);
    mmc_grad_mode(f.ctx, prev);
    nnfx_close_to(&f, "out_eval", y ? y->data : NULL, y ? y->numel : 0, "out_eval");
    nnfx_close(&f);
}

TEST(parity_nn_resnet_bottleneck) {
    nnfx f;
    mmc_nn_resnet_block m;
    if (!nnfx_open(&f, "nn_resnet_bottleneck")) return;
    INIT_OK(&f, mmc_nn_resnet_block_init(&m, &f.P, "", 1, 8, 4, 2, &f.rng, err));
    CHECK(m.has_downsample, "stride 2 needs a downsample branch");
    nnfx_check(&f, mmc_nn_resnet_block_forward(f.ctx, &m, nnfx_input(&f, "x"), 1));
    nnfx_close(&f);
}

TEST(parity_nn_vit) {
    nnfx f;
    static mmc_nn_vit m;
    mmc_nn_vit_cfg c = {.image_size = 16, .patch_size = 4, .in_channels = 3, .dim = 32, .depth = 2, .heads = 4,
                        .mlp_dim = 64, .act = MMC_ACT_GELU, .num_classes = 5, .dropout = 0.0f, .eps = 1e-6f};
    if (!nnfx_open(&f, "nn_vit")) return;
    INIT_OK(&f, mmc_nn_vit_init(&m, &f.P, "", &c, &f.rng, err));
    nnfx_check(&f, mmc_nn_vit_forward(f.ctx, &m, nnfx_input(&f, "x"), 1, &f.rng));
    nnfx_close(&f);
}
