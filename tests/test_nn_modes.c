/* test_nn_modes.c — training and evaluation differ where PyTorch's do (dropout, batch
 * norm); evaluation is deterministic; the attention-dropout path agrees with the fused
 * attention when it drops nothing. */
#include "test.h"
#include <stdlib.h>

static int same(const mmc_tensor *a, const mmc_tensor *b) {
    return a && b && a->numel == b->numel && memcmp(a->data, b->data, sizeof(float) * (size_t)a->numel) == 0;
}

/* Copies an arena result into a persistent tensor so it survives mmc_ctx_reset. */
static mmc_tensor *keep(const mmc_tensor *t) {
    if (!t) return NULL;
    mmc_tensor *k = mmc_tensor_new(t->ndim, t->shape);
    memcpy(k->data, t->data, sizeof(float) * (size_t)t->numel);
    return k;
}

TEST(nn_train_eval_modes) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_rng rng;
    mmc_rng_seed(&rng, 3, 0);

    /* dropout: eval is the identity; training zeroes about p and scales the rest by 1/(1-p) */
    mmc_tensor *x = test_rand(2, (int[]){64, 64}, 1, 0.5f, 1.5f);
    mmc_nn_dropout d = {0.25f};
    mmc_tensor *ye = mmc_nn_dropout_forward(ctx, &d, x, 0, NULL);
    CHECK(same(ye, x), "dropout in eval is the identity");
    mmc_tensor *yt = mmc_nn_dropout_forward(ctx, &d, x, 1, &rng);
    int zeros = 0, scaled = 1;
    for (int64_t i = 0; yt && i < x->numel; i++) {
        if (yt->data[i] == 0.0f) zeros++;
        else scaled &= fabsf(yt->data[i] - x->data[i] / 0.75f) < 1e-6f;
    }
    CHECK(zeros > 0.2 * 4096 && zeros < 0.3 * 4096 && scaled, "dropout in training: %d zeros of 4096", zeros);
    mmc_tensor *yt2 = mmc_nn_dropout_forward(ctx, &d, x, 1, &rng);
    CHECK(!same(yt, yt2), "each training call draws a new mask");

    /* batch norm: training uses batch statistics and moves the running ones; eval uses the
     * running ones and changes nothing */
    mmc_params P = {0};
    mmc_error err = {0};
    mmc_nn_batchnorm bn;
    REQUIRE(mmc_nn_batchnorm_init(&bn, &P, "bn", 4, &err) == MMC_OK, "%s", err.msg);
    mmc_tensor *img = test_randn(4, (int[]){2, 4, 3, 3}, 2, 2.0f);
    for (int64_t i = 0; i < img->numel; i++) img->data[i] += 3.0f;
    mmc_tensor *e1 = keep(mmc_nn_batchnorm_forward(ctx, &bn, img, 0));
    mmc_tensor *e2 = keep(mmc_nn_batchnorm_forward(ctx, &bn, img, 0));
    CHECK(same(e1, e2) && bn.running_mean->data[0] == 0.0f && bn.num_batches_tracked->data[0] == 0.0f,
          "eval is deterministic and leaves the running statistics alone");
    mmc_tensor *t1 = keep(mmc_nn_batchnorm_forward(ctx, &bn, img, 1));
    CHECK(!same(e1, t1), "training normalises with batch statistics");
    CHECK(bn.running_mean->data[0] != 0.0f && bn.num_batches_tracked->data[0] == 1.0f,
          "training moves the running statistics and counts the batch");
    mmc_tensor *e3 = keep(mmc_nn_batchnorm_forward(ctx, &bn, img, 0));
    CHECK(!same(e1, e3), "eval after training uses the updated running statistics");

    /* a ViT with dropout: training output varies with the rng; eval is deterministic */
    static mmc_nn_vit vit;
    mmc_nn_vit_cfg vc = {.image_size = 8, .patch_size = 4, .in_channels = 3, .dim = 16, .depth = 1, .heads = 2,
                         .mlp_dim = 32, .act = MMC_ACT_GELU, .num_classes = 3, .dropout = 0.3f, .eps = 1e-6f};
    REQUIRE(mmc_nn_vit_init(&vit, &P, "vit", &vc, &rng, &err) == MMC_OK, "%s", err.msg);
    mmc_init_uniform(vit.head.weight, 0.5f, &rng); /* torchvision's zero head would hide everything */
    mmc_tensor *im = test_randn(4, (int[]){2, 3, 8, 8}, 4, 1.0f);
    mmc_tensor *v1 = keep(mmc_nn_vit_forward(ctx, &vit, im, 0, NULL));
    mmc_tensor *v2 = keep(mmc_nn_vit_forward(ctx, &vit, im, 0, NULL));
    mmc_tensor *v3 = keep(mmc_nn_vit_forward(ctx, &vit, im, 1, &rng));
    mmc_tensor *v4 = keep(mmc_nn_vit_forward(ctx, &vit, im, 1, &rng));
    REQUIRE(v1 && v3 && v4, "vit forward: %s", ctx->err.msg);
    CHECK(same(v1, v2), "eval is deterministic (and needs no rng)");
    CHECK(!same(v1, v3) && !same(v3, v4), "training applies dropout");
    CHECK(!mmc_nn_vit_forward(ctx, &vit, im, 1, NULL) && ctx->err.code == MMC_ERR_USAGE,
          "training with dropout needs an rng");

    /* ResNet: batch statistics in training, running ones in eval */
    static mmc_nn_resnet rn;
    mmc_nn_resnet_cfg rc = mmc_nn_resnet_layout(18);
    for (int i = 0; i < 4; i++) rc.widths[i] = 4 << i;
    rc.stem = MMC_STEM_SMALL, rc.num_classes = 0;
    REQUIRE(mmc_nn_resnet_init(&rn, &P, "rn", &rc, &rng, &err) == MMC_OK, "%s", err.msg);
    mmc_tensor *r1 = keep(mmc_nn_resnet_forward(ctx, &rn, im, 0));
    mmc_tensor *r2 = keep(mmc_nn_resnet_forward(ctx, &rn, im, 0));
    mmc_tensor *r3 = keep(mmc_nn_resnet_forward(ctx, &rn, im, 1));
    CHECK(r1 && same(r1, r2) && !same(r1, r3), "resnet: eval deterministic, training differs");

    mmc_tensor *all[] = {x, img, e1, e2, t1, e3, im, v1, v2, v3, v4, r1, r2, r3};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mmc_tensor_free(all[i]);
    mmc_params_free(&P);
    mmc_ctx_free(ctx);
}

/* With p tiny, the dropout path of attention (bmm + masked softmax + dropout) keeps every
 * probability and must agree with the fused op, masks and empty rows included; its
 * gradients go through the same ops' backward, so they agree too. */
TEST(nn_mha_dropout_path_matches_fused) {
    mmc_params P = {0};
    mmc_error err = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 9, 0);
    mmc_nn_mha m;
    REQUIRE(mmc_nn_mha_init(&m, &P, "attn", 16, 4, 0, 1e-7f, &rng, &err) == MMC_OK, "%s", err.msg);
    mmc_init_uniform(m.in_proj_bias, 0.2f, &rng);
    mmc_tensor *x = test_randn(3, (int[]){2, 5, 16}, 5, 1.0f), *kv = test_randn(3, (int[]){2, 4, 16}, 6, 1.0f);
    uint8_t km[8] = {1, 1, 0, 1, 0, 0, 0, 0}; /* the second batch sees no key at all */
    for (int cross = 0; cross < 2; cross++) {
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_tensor *src = cross ? kv : NULL;
        const uint8_t *mask = cross ? km : NULL;
        mmc_tensor *fused = mmc_nn_mha_forward(ctx, &m, x, src, !cross, mask, 0, NULL);
        mmc_tensor *drop = mmc_nn_mha_forward(ctx, &m, x, src, !cross, mask, 1, &rng);
        REQUIRE(fused && drop, "%s", ctx->err.msg);
        test_close(cross ? "cross, key mask" : "self, causal", drop->data, fused->data, fused->numel, 1e-5);
        mmc_ctx_free(ctx);
    }
    mmc_tensor_free(x);
    mmc_tensor_free(kv);
    mmc_params_free(&P);
}
