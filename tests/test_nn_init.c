/* test_nn_init.c — the modules register PyTorch's names and shapes and initialise their
 * tensors by PyTorch's (and torchvision's) rules.
 *
 * nn_names (tools/fixtures/nn_layers.py) lists torch state_dicts as "<model>/<name>" ->
 * [ndim, dims...]; nn_init_stats holds [min, max, mean, std] of fresh torch modules. */
#include "test.h"
#include <stdlib.h>
#include <unistd.h>

typedef struct stats {
    double min, max, mean, std;
} stats;

static stats stats_of(const mmc_tensor *t) {
    stats s = {INFINITY, -INFINITY, 0, 0};
    for (int64_t i = 0; i < t->numel; i++) {
        double v = t->data[i];
        s.min = v < s.min ? v : s.min;
        s.max = v > s.max ? v : s.max;
        s.mean += v;
    }
    s.mean /= (double)t->numel;
    for (int64_t i = 0; i < t->numel; i++) s.std += (t->data[i] - s.mean) * (t->data[i] - s.mean);
    s.std = t->numel > 1 ? sqrt(s.std / (double)(t->numel - 1)) : 0.0;
    return s;
}

/* ------------------------------------------------------------------- names */

/* Builds one of the fixture's models into P (rng NULL: only names and shapes matter). */
static int build_model(const char *model, mmc_params *P, mmc_error *err) {
    static mmc_nn_resnet rn;
    static mmc_nn_vit vit;
    if (!strcmp(model, "resnet18") || !strcmp(model, "resnet50")) {
        mmc_nn_resnet_cfg c = mmc_nn_resnet_layout(model[6] == '1' ? 18 : 50);
        return mmc_nn_resnet_init(&rn, P, "", &c, NULL, err);
    }
    if (!strcmp(model, "resnet18_small")) { /* the retrieval-train image tower */
        mmc_nn_resnet_cfg c = mmc_nn_resnet_layout(18);
        for (int i = 0; i < 4; i++) c.widths[i] = 32 << i;
        c.stem = MMC_STEM_SMALL, c.num_classes = 0;
        return mmc_nn_resnet_init(&rn, P, "", &c, NULL, err);
    }
    if (!strcmp(model, "vit")) {
        mmc_nn_vit_cfg c = {.image_size = 32, .patch_size = 8, .in_channels = 3, .dim = 64, .depth = 2, .heads = 4,
                            .mlp_dim = 128, .act = MMC_ACT_GELU, .num_classes = 10, .eps = 1e-6f};
        return mmc_nn_vit_init(&vit, P, "", &c, NULL, err);
    }
    mmc_nn_block_cfg c = mmc_nn_block_defaults(32, 4);
    c.mlp_dim = 64;
    if (!strcmp(model, "encoder")) {
        mmc_nn_encoder_layer m;
        return mmc_nn_encoder_layer_init(&m, P, "", &c, NULL, err);
    }
    if (!strcmp(model, "decoder")) {
        mmc_nn_decoder_layer m;
        return mmc_nn_decoder_layer_init(&m, P, "", &c, NULL, err);
    }
    return mmc_error_set(err, MMC_ERR_USAGE, "unknown model %s", model);
}

TEST(nn_param_names_match_pytorch) {
    static const char *models[] = {"resnet18", "resnet50", "resnet18_small", "vit", "encoder", "decoder"};
    mmc_safetensors st;
    if (!test_fixture_open(&st, "nn_names")) return;
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
        const char *model = models[k];
        size_t ml = strlen(model);
        mmc_params P = {0};
        mmc_error err = {0};
        if (build_model(model, &P, &err) != MMC_OK) {
            mmc_test_fail(__FILE__, __LINE__, "%s: %s", model, err.msg);
            mmc_params_free(&P);
            continue;
        }
        int in_torch = 0;
        for (int i = 0; i < st.count; i++) {
            const char *full = st.entries[i].name;
            if (strncmp(full, model, ml) || full[ml] != '/') continue;
            in_torch++;
            const char *name = full + ml + 1;
            mmc_tensor *t = mmc_params_find(&P, name);
            int64_t n = 0;
            int64_t *shape = mmc_safetensors_get_i64(&st, full, &n, &err);
            if (!t) {
                mmc_test_fail(__FILE__, __LINE__, "%s: torch has '%s', mmc does not", model, name);
            } else if (shape) {
                int same = n == 1 + t->ndim && shape[0] == t->ndim;
                for (int d = 0; same && d < t->ndim; d++) same = shape[1 + d] == t->shape[d];
                char s[64];
                CHECK(same, "%s: '%s' has shape %s in mmc, not torch's", model, name, mmc_shape_str(t, s, sizeof s));
            }
            mmc_free(shape);
        }
        for (int i = 0; i < P.n; i++) {
            char full[320];
            snprintf(full, sizeof full, "%s/%s", model, P.names[i]);
            CHECK(mmc_safetensors_find(&st, full), "%s: mmc has '%s', torch does not", model, P.names[i]);
        }
        CHECK(in_torch == P.n && in_torch > 0, "%s: %d tensors in torch, %d in mmc", model, in_torch, P.n);
        mmc_params_free(&P);
    }
    mmc_safetensors_close(&st);
}

/* -------------------------------------------------------------------- init */

/* Our statistics against torch's for the same module (two independent samples). */
static void compare_stats(const char *name, const mmc_tensor *t, const float *want) {
    stats s = stats_of(t);
    double n = (double)t->numel, wstd = want[3];
    if (wstd == 0.0) {
        CHECK(s.min == want[0] && s.max == want[1], "%s: constant %g..%g, torch %g..%g", name, s.min, s.max,
              (double)want[0], (double)want[1]);
        return;
    }
    CHECK(fabs(s.std - wstd) <= 4.0 / sqrt(n) * wstd, "%s: std %g, torch %g (n %g)", name, s.std, wstd, n);
    CHECK(fabs(s.mean - want[2]) <= 4.0 * wstd * sqrt(2.0 / n), "%s: mean %g, torch %g", name, s.mean, (double)want[2]);
    double half = 0.5 * (want[1] - want[0]);
    CHECK(fabs(s.max - want[1]) <= 0.15 * half && fabs(s.min - want[0]) <= 0.15 * half,
          "%s: range %g..%g, torch %g..%g", name, s.min, s.max, (double)want[0], (double)want[1]);
}

/* |x| <= bound everywhere, and the sample std is that of U(±bound). */
static void check_uniform(const char *what, const mmc_tensor *t, double bound) {
    stats s = stats_of(t);
    double want = bound / sqrt(3.0), n = (double)t->numel;
    CHECK(s.min >= -bound && s.max <= bound, "%s: range %g..%g exceeds ±%g", what, s.min, s.max, bound);
    CHECK(s.max > 0.9 * bound && s.min < -0.9 * bound, "%s: range %g..%g too narrow for ±%g", what, s.min, s.max, bound);
    CHECK(fabs(s.std - want) <= 3.0 / sqrt(n) * want, "%s: std %g, want %g", what, s.std, want);
    CHECK(fabs(s.mean) <= 4.0 * want / sqrt(n), "%s: mean %g", what, s.mean);
}

static void check_normal(const char *what, const mmc_tensor *t, double std) {
    stats s = stats_of(t);
    double n = (double)t->numel;
    CHECK(fabs(s.std - std) <= 4.0 / sqrt(2.0 * n) * std, "%s: std %g, want %g", what, s.std, std);
    CHECK(fabs(s.mean) <= 4.0 * std / sqrt(n), "%s: mean %g", what, s.mean);
}

static void check_constant(const char *what, const mmc_tensor *t, float v) {
    int ok = 1;
    for (int64_t i = 0; i < t->numel && ok; i++) ok = t->data[i] == v;
    CHECK(ok, "%s: not all %g", what, (double)v);
}

#define FIND(P, name) mmc_params_find((P), (name))

TEST(nn_init_matches_pytorch_defaults) {
    mmc_params P = {0};
    mmc_error err = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 7, 0);
    mmc_nn_linear lin;
    mmc_nn_conv2d conv;
    mmc_nn_embedding emb;
    mmc_nn_mha mha;
    mmc_nn_layernorm ln;
    mmc_nn_batchnorm bn;
    mmc_nn_encoder_layer enc;
    mmc_nn_block_cfg bc = mmc_nn_block_defaults(64, 4);
    bc.mlp_dim = 256;
    int rc = mmc_nn_linear_init(&lin, &P, "linear", 512, 256, 1, &rng, &err) ||
             mmc_nn_conv2d_init(&conv, &P, "conv", 64, 32, 3, 1, 0, 1, &rng, &err) ||
             mmc_nn_embedding_init(&emb, &P, "embedding", 1000, 64, &rng, &err) ||
             mmc_nn_mha_init(&mha, &P, "mha", 64, 4, 0, 0.0f, &rng, &err) ||
             mmc_nn_layernorm_init(&ln, &P, "layernorm", 64, 1e-5f, &err) ||
             mmc_nn_batchnorm_init(&bn, &P, "batchnorm", 64, &err) ||
             mmc_nn_encoder_layer_init(&enc, &P, "encoder", &bc, &rng, &err);
    REQUIRE(!rc, "init: %s", err.msg);

    /* 1. against the statistics of the same torch modules */
    mmc_safetensors st;
    if (test_fixture_open(&st, "nn_init_stats")) {
        int seen = 0;
        for (int i = 0; i < st.count; i++) {
            char name[256];
            snprintf(name, sizeof name, "%s", st.entries[i].name);
            char *slash = strchr(name, '/');
            if (!slash) continue;
            *slash = '.';
            mmc_tensor *t = FIND(&P, name), *want = test_fixture_get(&st, st.entries[i].name);
            CHECK(t, "mmc has no '%s'", name);
            if (t && want) compare_stats(name, t, want->data), seen++;
            mmc_tensor_free(want);
        }
        CHECK(seen >= 20, "only %d tensors compared", seen);
        mmc_safetensors_close(&st);
    }

    /* 2. the rules themselves */
    check_uniform("linear.weight", lin.weight, 1.0 / sqrt(512));
    check_uniform("linear.bias", lin.bias, 1.0 / sqrt(512));
    check_uniform("conv.weight", conv.weight, 1.0 / sqrt(64 * 9));
    check_normal("embedding.weight", emb.weight, 1.0);
    check_uniform("mha.in_proj_weight", mha.in_proj_weight, sqrt(6.0 / (64 + 3 * 64))); /* xavier */
    check_constant("mha.in_proj_bias", mha.in_proj_bias, 0.0f);
    check_uniform("mha.out_proj.weight", mha.out_proj.weight, 1.0 / sqrt(64));
    check_constant("mha.out_proj.bias", mha.out_proj.bias, 0.0f);
    check_constant("layernorm.weight", ln.weight, 1.0f);
    check_constant("layernorm.bias", ln.bias, 0.0f);
    check_constant("batchnorm.weight", bn.weight, 1.0f);
    check_constant("batchnorm.running_var", bn.running_var, 1.0f);
    check_constant("batchnorm.running_mean", bn.running_mean, 0.0f);
    check_uniform("encoder.linear2.weight", enc.linear2.weight, 1.0 / sqrt(256));

    /* torchvision's ResNet: convs N(0, sqrt(2 / fan_out)), BN 1/0, fc as Linear */
    static mmc_nn_resnet rn;
    mmc_nn_resnet_cfg rc18 = mmc_nn_resnet_layout(18);
    for (int i = 0; i < 4; i++) rc18.widths[i] = 32 << i;
    rc18.stem = MMC_STEM_SMALL, rc18.num_classes = 100;
    REQUIRE(mmc_nn_resnet_init(&rn, &P, "rn", &rc18, &rng, &err) == MMC_OK, "%s", err.msg);
    check_normal("rn.conv1.weight", rn.conv1.weight, sqrt(2.0 / (32 * 9)));
    check_normal("rn.layer4.1.conv2.weight", FIND(&P, "rn.layer4.1.conv2.weight"), sqrt(2.0 / (256 * 9)));
    check_normal("rn.layer3.0.downsample.0.weight", FIND(&P, "rn.layer3.0.downsample.0.weight"), sqrt(2.0 / 128));
    check_constant("rn.layer2.0.bn1.weight", FIND(&P, "rn.layer2.0.bn1.weight"), 1.0f);
    check_constant("rn.layer2.0.downsample.1.bias", FIND(&P, "rn.layer2.0.downsample.1.bias"), 0.0f);
    check_uniform("rn.fc.weight", rn.fc.weight, 1.0 / sqrt(256));

    /* torchvision's ViT */
    static mmc_nn_vit vit;
    mmc_nn_vit_cfg vc = {.image_size = 32, .patch_size = 8, .in_channels = 3, .dim = 128, .depth = 1, .heads = 4,
                         .mlp_dim = 512, .act = MMC_ACT_GELU, .num_classes = 10, .eps = 1e-6f};
    REQUIRE(mmc_nn_vit_init(&vit, &P, "vit", &vc, &rng, &err) == MMC_OK, "%s", err.msg);
    check_normal("vit.conv_proj.weight", vit.conv_proj.weight, sqrt(1.0 / (3 * 64)));
    check_constant("vit.conv_proj.bias", vit.conv_proj.bias, 0.0f);
    check_constant("vit.class_token", vit.class_token, 0.0f);
    check_normal("vit.encoder.pos_embedding", vit.pos_embedding, 0.02);
    check_uniform("vit mlp.0.weight", vit.layers[0].linear1.weight, sqrt(6.0 / (128 + 512)));
    check_uniform("vit mlp.3.weight", vit.layers[0].linear2.weight, sqrt(6.0 / (128 + 512)));
    check_normal("vit mlp.0.bias", vit.layers[0].linear1.bias, 1e-6);
    check_uniform("vit self_attention.in_proj_weight", vit.layers[0].self_attn.in_proj_weight, sqrt(6.0 / (4 * 128)));
    check_constant("vit.heads.head.weight", vit.head.weight, 0.0f);
    check_constant("vit encoder.ln.weight", vit.ln.weight, 1.0f);
    mmc_params_free(&P);
}

TEST(nn_init_rejects_bad_configs) {
    mmc_params P = {0};
    mmc_error err = {0};
    mmc_nn_mha mha;
    CHECK(mmc_nn_mha_init(&mha, &P, "a", 10, 3, 0, 0.0f, NULL, &err) == MMC_ERR_USAGE && strstr(err.msg, "a"),
          "heads must divide dim: %s", err.msg);
    mmc_nn_linear l;
    CHECK(mmc_nn_linear_init(&l, &P, "l", 4, 4, 1, NULL, &err) == MMC_OK, "%s", err.msg);
    CHECK(mmc_nn_linear_init(&l, &P, "l", 4, 4, 1, NULL, &err) == MMC_ERR_USAGE && strstr(err.msg, "l.weight"),
          "a name registered twice is refused: %s", err.msg);
    static mmc_nn_resnet rn;
    mmc_nn_resnet_cfg c = mmc_nn_resnet_layout(19);
    CHECK(mmc_nn_resnet_init(&rn, &P, "r", &c, NULL, &err) == MMC_ERR_USAGE, "unknown depth refused");
    static mmc_nn_vit vit;
    mmc_nn_vit_cfg vc = {.image_size = 30, .patch_size = 8, .in_channels = 3, .dim = 16, .depth = 1, .heads = 2, .mlp_dim = 8};
    CHECK(mmc_nn_vit_init(&vit, &P, "v", &vc, NULL, &err) == MMC_ERR_USAGE, "image not a multiple of the patch");
    mmc_params_free(&P);
}

/* A torch state_dict (the nn_resnet18 fixture: float tensors plus int64 num_batches_tracked)
 * loads by name into our ResNet, and our checkpoint (0-dim buffers included) round-trips. */
TEST(nn_loads_torch_state_dict) {
    static mmc_nn_resnet a, b;
    mmc_nn_resnet_cfg c = mmc_nn_resnet_layout(18);
    for (int i = 0; i < 4; i++) c.widths[i] = 4 << i;
    c.stem = MMC_STEM_SMALL, c.num_classes = 5;
    mmc_params P = {0}, Q = {0};
    mmc_error err = {0};
    REQUIRE(mmc_nn_resnet_init(&a, &P, "", &c, NULL, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(mmc_params_load(&P, test_path("tests/fixtures/nn_resnet18.safetensors"), 0, &err) == MMC_OK, "%s", err.msg);
    mmc_tensor *w = mmc_params_find(&P, "layer4.1.conv2.weight");
    CHECK(w && w->data[0] != 0.0f, "weights loaded");
    char path[128];
    snprintf(path, sizeof path, "/tmp/mmc_nn_resnet_%d.safetensors", (int)getpid());
    REQUIRE(mmc_params_save(&P, path, NULL, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(mmc_nn_resnet_init(&b, &Q, "", &c, NULL, &err) == MMC_OK, "%s", err.msg);
    mmc_init_constant(b.bn1.num_batches_tracked, 5.0f);
    CHECK(mmc_params_load(&Q, path, 1, &err) == MMC_OK, "strict reload: %s", err.msg);
    int same = P.n == Q.n;
    for (int i = 0; same && i < P.n; i++)
        same = P.tensors[i]->numel == Q.tensors[i]->numel &&
               !memcmp(P.tensors[i]->data, Q.tensors[i]->data, sizeof(float) * (size_t)P.tensors[i]->numel);
    CHECK(same && b.bn1.num_batches_tracked->data[0] == 0.0f, "checkpoint round trip");
    remove(path);
    mmc_params_free(&P);
    mmc_params_free(&Q);
}
