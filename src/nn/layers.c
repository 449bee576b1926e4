/* layers.c — the basic modules: activations, linear, conv2d, batch norm, layer norm,
 * embedding, dropout and the MLP. Each is a thin struct over tensors registered in an
 * mmc_params, with PyTorch's names and default initialisation. */
#include "nn_internal.h"
#include <math.h>
#include <string.h>

void mmc_nn_init_xavier_uniform(mmc_tensor *w, int fan_in, int fan_out, mmc_rng *rng) {
    if (rng) mmc_init_uniform(w, sqrtf(6.0f / (float)(fan_in + fan_out)), rng);
}

mmc_tensor *mmc_nn_activation(mmc_ctx *ctx, mmc_tensor *x, int act) {
    switch (act) {
    case MMC_ACT_NONE: return x;
    case MMC_ACT_RELU: return mmc_relu(ctx, x);
    case MMC_ACT_GELU: return mmc_gelu(ctx, x);
    case MMC_ACT_GELU_TANH: return mmc_gelu_tanh(ctx, x);
    case MMC_ACT_QUICK_GELU: return mmc_quick_gelu(ctx, x);
    case MMC_ACT_TANH: return mmc_tanh(ctx, x);
    }
    return mmc_op_fail(ctx, MMC_ERR_USAGE, "activation: unknown kind %d", act);
}

/* ------------------------------------------------------------------ linear */

/* nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) on the weight works out to
 * U(±1/sqrt(fan_in)), and the bias uses the same bound. */
int mmc_nn_linear_init(mmc_nn_linear *m, mmc_params *P, const char *prefix, int in, int out, int bias,
                       mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    if (in < 1 || out < 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "linear %s: in %d and out %d must be >= 1", prefix, in, out);
    m->in = in, m->out = out;
    m->weight = mmc_params_new(P, prefix, "weight", MMC_PARAM, 2, (int[]){out, in}, err);
    if (!m->weight) return mmc_nn_status(err);
    if (bias && !(m->bias = mmc_params_new(P, prefix, "bias", MMC_PARAM, 1, (int[]){out}, err)))
        return mmc_nn_status(err);
    float bound = 1.0f / sqrtf((float)in);
    if (rng) {
        mmc_init_uniform(m->weight, bound, rng);
        if (m->bias) mmc_init_uniform(m->bias, bound, rng);
    }
    return MMC_OK;
}

// x (..., in) -> (..., out)
mmc_tensor *mmc_nn_linear_forward(mmc_ctx *ctx, mmc_nn_linear *m, mmc_tensor *x) {
    return mmc_linear(ctx, x, m->weight, m->bias);
}

/* ------------------------------------------------------------------ conv2d */

/* nn.Conv2d.reset_parameters: as Linear, with fan_in = in · k · k. */
int mmc_nn_conv2d_init(mmc_nn_conv2d *m, mmc_params *P, const char *prefix, int in, int out, int kernel,
                       int stride, int padding, int bias, mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    if (in < 1 || out < 1 || kernel < 1 || stride < 1 || padding < 0)
        return mmc_error_set(err, MMC_ERR_USAGE, "conv2d %s: in %d, out %d, kernel %d, stride %d, padding %d",
                             prefix, in, out, kernel, stride, padding);
    m->in = in, m->out = out, m->kernel = kernel;
    m->opts = mmc_conv2d_defaults();
    m->opts.stride_h = m->opts.stride_w = stride;
    m->opts.pad_h = m->opts.pad_w = padding;
    m->weight = mmc_params_new(P, prefix, "weight", MMC_PARAM, 4, (int[]){out, in, kernel, kernel}, err);
    if (!m->weight) return mmc_nn_status(err);
    if (bias && !(m->bias = mmc_params_new(P, prefix, "bias", MMC_PARAM, 1, (int[]){out}, err)))
        return mmc_nn_status(err);
    float bound = 1.0f / sqrtf((float)in * kernel * kernel);
    if (rng) {
        mmc_init_uniform(m->weight, bound, rng);
        if (m->bias) mmc_init_uniform(m->bias, bound, rng);
    }
    return MMC_OK;
}

// x (B, in, H, W) -> (B, out, OH, OW)
mmc_tensor *mmc_nn_conv2d_forward(mmc_ctx *ctx, mmc_nn_conv2d *m, mmc_tensor *x) {
    return mmc_conv2d(ctx, x, m->weight, m->bias, m->opts);
}

/* --------------------------------------------------------------- batch norm */

int mmc_nn_batchnorm_init(mmc_nn_batchnorm *m, mmc_params *P, const char *prefix, int channels,
                          mmc_error *err) {
    memset(m, 0, sizeof *m);
    if (channels < 1) return mmc_error_set(err, MMC_ERR_USAGE, "batchnorm %s: %d channels", prefix, channels);
    m->channels = channels, m->eps = 1e-5f, m->momentum = 0.1f;
    int c[1] = {channels};
    if (!(m->weight = mmc_params_new(P, prefix, "weight", MMC_PARAM, 1, c, err)) ||
        !(m->bias = mmc_params_new(P, prefix, "bias", MMC_PARAM, 1, c, err)) ||
        !(m->running_mean = mmc_params_new(P, prefix, "running_mean", MMC_BUFFER, 1, c, err)) ||
        !(m->running_var = mmc_params_new(P, prefix, "running_var", MMC_BUFFER, 1, c, err)) ||
        !(m->num_batches_tracked = mmc_params_new(P, prefix, "num_batches_tracked", MMC_BUFFER, 0, NULL, err)))
        return mmc_nn_status(err);
    mmc_init_constant(m->weight, 1.0f);
    mmc_init_constant(m->running_var, 1.0f);
    return MMC_OK;
}

// x (B, C, ...) -> same shape
mmc_tensor *mmc_nn_batchnorm_forward(mmc_ctx *ctx, mmc_nn_batchnorm *m, mmc_tensor *x, int training) {
    mmc_tensor *y = mmc_batch_norm(ctx, x, m->weight, m->bias, m->running_mean, m->running_var, training,
                                   m->momentum, m->eps);
    if (y && training) m->num_batches_tracked->data[0] += 1.0f;
    return y;
}

mmc_tensor *mmc_nn_batchnorm_act_forward(mmc_ctx *ctx, mmc_nn_batchnorm *m, mmc_tensor *x, int training,
                                         mmc_tensor *res, int relu) {
    mmc_tensor *y = mmc_batch_norm_act(ctx, x, m->weight, m->bias, m->running_mean, m->running_var, training,
                                       m->momentum, m->eps, res, relu);
    if (y && training) m->num_batches_tracked->data[0] += 1.0f;
    return y;
}

/* --------------------------------------------------------------- layer norm */

int mmc_nn_layernorm_init(mmc_nn_layernorm *m, mmc_params *P, const char *prefix, int dim, float eps,
                          mmc_error *err) {
    memset(m, 0, sizeof *m);
    if (dim < 1 || !(eps >= 0.0f))
        return mmc_error_set(err, MMC_ERR_USAGE, "layernorm %s: dim %d, eps %g", prefix, dim, (double)eps);
    m->dim = dim, m->eps = eps;
    if (!(m->weight = mmc_params_new(P, prefix, "weight", MMC_PARAM, 1, (int[]){dim}, err)) ||
        !(m->bias = mmc_params_new(P, prefix, "bias", MMC_PARAM, 1, (int[]){dim}, err)))
        return mmc_nn_status(err);
    mmc_init_constant(m->weight, 1.0f);
    return MMC_OK;
}

// x (..., D) -> (..., D)
mmc_tensor *mmc_nn_layernorm_forward(mmc_ctx *ctx, mmc_nn_layernorm *m, mmc_tensor *x) {
    return mmc_layer_norm(ctx, x, m->weight, m->bias, m->eps);
}

/* ---------------------------------------------------------------- embedding */

int mmc_nn_embedding_init(mmc_nn_embedding *m, mmc_params *P, const char *prefix, int num, int dim,
                          mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    if (num < 1 || dim < 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "embedding %s: num %d and dim %d must be >= 1", prefix, num, dim);
    m->num = num, m->dim = dim;
    if (!(m->weight = mmc_params_new(P, prefix, "weight", MMC_PARAM, 2, (int[]){num, dim}, err)))
        return mmc_nn_status(err);
    if (rng) mmc_init_normal(m->weight, 0.0f, 1.0f, rng);
    return MMC_OK;
}

// ids (shape...) -> (shape..., dim)
mmc_tensor *mmc_nn_embedding_forward(mmc_ctx *ctx, mmc_nn_embedding *m, const int *ids, int ndim,
                                     const int *shape) {
    if (ndim < 1 || ndim >= MMC_MAX_DIMS || !shape)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "embedding: ids need 1..%d dims (got %d)", MMC_MAX_DIMS - 1, ndim);
    int out_shape[MMC_MAX_DIMS];
    int64_t n = mmc_shape_numel(ndim, shape);
    if (n < 0 || n > INT32_MAX) return mmc_op_fail(ctx, MMC_ERR_USAGE, "embedding: bad ids shape");
    memcpy(out_shape, shape, sizeof(int) * (size_t)ndim);
    out_shape[ndim] = m->dim;
    mmc_tensor *e = mmc_embedding(ctx, m->weight, ids, (int)n); // (n, dim)
    return e ? mmc_reshape(ctx, e, ndim + 1, out_shape) : NULL;
}

/* ------------------------------------------------------------------ dropout */

mmc_tensor *mmc_nn_dropout_forward(mmc_ctx *ctx, mmc_nn_dropout *m, mmc_tensor *x, int training,
                                   mmc_rng *rng) {
    return mmc_dropout(ctx, x, m->p, training, rng);
}

/* ---------------------------------------------------------------------- mlp */

int mmc_nn_mlp_init(mmc_nn_mlp *m, mmc_params *P, const char *prefix, int n_widths, const int *widths,
                    int act, float dropout, mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    if (n_widths < 2 || n_widths > MMC_MLP_MAX_LAYERS + 1 || !widths)
        return mmc_error_set(err, MMC_ERR_USAGE, "mlp %s: needs 2..%d widths (got %d)", prefix,
                             MMC_MLP_MAX_LAYERS + 1, n_widths);
    if (act < MMC_ACT_NONE || act > MMC_ACT_TANH || !(dropout >= 0.0f && dropout < 1.0f))
        return mmc_error_set(err, MMC_ERR_USAGE, "mlp %s: activation %d, dropout %g", prefix, act, (double)dropout);
    m->n_layers = n_widths - 1, m->act = act, m->dropout = dropout;
    for (int i = 0; i < m->n_layers; i++) {
        char idx[16], name[MMC_NAME_MAX];
        snprintf(idx, sizeof idx, "%d", 3 * i); /* Sequential(Linear, act, Dropout, ...) */
        int rc = mmc_nn_linear_init(&m->layers[i], P, mmc_nn_join(name, prefix, idx), widths[i], widths[i + 1], 1,
                                    rng, err);
        if (rc) return rc;
    }
    return MMC_OK;
}

// x (..., widths[0]) -> (..., widths[n-1])
mmc_tensor *mmc_nn_mlp_forward(mmc_ctx *ctx, mmc_nn_mlp *m, mmc_tensor *x, int training, mmc_rng *rng) {
    for (int i = 0; i < m->n_layers && x; i++) {
        x = mmc_nn_linear_forward(ctx, &m->layers[i], x);
        if (i + 1 < m->n_layers) {
            x = mmc_nn_activation(ctx, x, m->act);
            if (m->dropout > 0.0f) x = mmc_dropout(ctx, x, m->dropout, training, rng);
        }
    }
    return x;
}
