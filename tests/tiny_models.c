/* tiny_models.c — see tiny_models.h. */
#include "tiny_models.h"
#include <string.h>

static const char *const MLP_NAMES[] = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
static const int MLP_SHAPES[][4] = {{16, 8}, {16}, {4, 16}, {4}};
static const int MLP_NDIM[] = {2, 1, 2, 1};

/* conv1 has no bias (BN follows it). The BN running statistics come last: they are
 * buffers, not parameters. */
static const char *const CNN_NAMES[] = {"conv1.weight", "bn.weight", "bn.bias", "conv2.weight",
                                        "conv2.bias",   "fc.weight", "fc.bias", "bn.running_mean",
                                        "bn.running_var"};
static const int CNN_SHAPES[][4] = {{4, 3, 3, 3}, {4}, {4}, {8, 4, 3, 3}, {8}, {3, 8}, {3}, {4}, {4}};
static const int CNN_NDIM[] = {4, 1, 1, 4, 1, 2, 1, 1, 1};

enum { C1W, BNW, BNB, C2W, C2B, FCW, FCB, BNRM, BNRV };

int tiny_model_names(int kind, const char *const **names, int *nparams) {
    if (kind == TINY_MLP) {
        *names = MLP_NAMES;
        *nparams = 4;
        return 4;
    }
    *names = CNN_NAMES;
    *nparams = 7;
    return 9;
}

int tiny_model_init(tiny_model *m, int kind, uint64_t seed, mmc_error *err) {
    memset(m, 0, sizeof *m);
    const char *const *names;
    m->kind = kind;
    m->n = tiny_model_names(kind, &names, &m->nparams);
    mmc_rng rng;
    mmc_rng_seed(&rng, seed, 3);
    for (int i = 0; i < m->n; i++) {
        int nd = kind == TINY_MLP ? MLP_NDIM[i] : CNN_NDIM[i];
        const int *shape = kind == TINY_MLP ? MLP_SHAPES[i] : CNN_SHAPES[i];
        m->t[i] = mmc_tensor_new(nd, shape);
        if (!m->t[i]) {
            tiny_model_free(m);
            return mmc_error_set(err, MMC_ERR_RUNTIME, "tiny model: out of memory");
        }
        m->t[i]->name = names[i];
        m->t[i]->requires_grad = i < m->nparams;
        if (strstr(names[i], "weight") && !strstr(names[i], "bn."))
            mmc_rng_fill_normal(&rng, m->t[i]->data, m->t[i]->numel, 0.0f, 0.1f);
        if (!strcmp(names[i], "bn.weight") || !strcmp(names[i], "bn.running_var"))
            for (int64_t j = 0; j < m->t[i]->numel; j++) m->t[i]->data[j] = 1.0f;
    }
    return MMC_OK;
}

int tiny_model_load(tiny_model *m, int kind, const mmc_safetensors *st, mmc_error *err) {
    memset(m, 0, sizeof *m);
    const char *const *names;
    m->kind = kind;
    m->n = tiny_model_names(kind, &names, &m->nparams);
    for (int i = 0; i < m->n; i++) {
        m->t[i] = mmc_safetensors_get(st, names[i], err);
        if (!m->t[i]) {
            tiny_model_free(m);
            return err->code ? err->code : MMC_ERR_INPUT;
        }
        m->t[i]->name = names[i];
        m->t[i]->requires_grad = i < m->nparams;
    }
    return MMC_OK;
}

void tiny_model_free(tiny_model *m) {
    for (int i = 0; i < m->n; i++) mmc_tensor_free(m->t[i]);
    memset(m, 0, sizeof *m);
}

/* Ops pass NULL through (with ctx->err set), so the chain is checked once at the end. */
mmc_tensor *tiny_model_forward(mmc_ctx *ctx, tiny_model *m, mmc_tensor *x) {
    mmc_tensor **t = m->t;
    if (m->kind == TINY_MLP) {
        mmc_tensor *h = mmc_relu(ctx, mmc_linear(ctx, x, t[0], t[1]));
        return mmc_linear(ctx, h, t[2], t[3]);
    }
    mmc_conv2d_opts c1 = mmc_conv2d_defaults(), c2 = mmc_conv2d_defaults();
    c1.pad_h = c1.pad_w = 1;
    c2.pad_h = c2.pad_w = 1;
    c2.stride_h = c2.stride_w = 2;
    mmc_tensor *h = mmc_conv2d(ctx, x, t[C1W], NULL, c1);
    h = mmc_batch_norm(ctx, h, t[BNW], t[BNB], t[BNRM], t[BNRV], 1, 0.1f, 1e-5f);
    h = mmc_max_pool2d(ctx, mmc_relu(ctx, h), 2, 2, 0);
    h = mmc_relu(ctx, mmc_conv2d(ctx, h, t[C2W], t[C2B], c2));
    return mmc_linear(ctx, mmc_global_avg_pool2d(ctx, h), t[FCW], t[FCB]);
}
