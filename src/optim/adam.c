/* adam.c — Adam (L2 weight decay folded into the gradient) and AdamW (decoupled decay),
 * in torch.optim.Adam/AdamW's order of operations (PyTorch 1.13, single-tensor path):
 *
 *   t += 1
 *   adamw: p = p * (1 - lr * wd)          adam: g = g + wd * p
 *   m = m * beta1 + (1 - beta1) * g
 *   v = v * beta2 + (1 - beta2) * g * g
 *   p = p + (-lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *
 * The scalar coefficients are computed in double (Python floats in torch) and applied
 * as floats, as torch's f32 kernels do. */
#include "optim_impl.h"
#include <math.h>

mmc_adam_opts mmc_adam_defaults(float lr) {
    return (mmc_adam_opts){.lr = lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0};
}

mmc_adam_opts mmc_adamw_defaults(float lr) {
    mmc_adam_opts o = mmc_adam_defaults(lr);
    o.weight_decay = 0.01f;
    return o;
}

static mmc_optim *create(int kind, const char *who, mmc_tensor *const *params, int n,
                         mmc_adam_opts o, mmc_error *err) {
    if (!(o.lr >= 0) || !(o.eps >= 0) || !(o.weight_decay >= 0)) {
        mmc_error_set(err, MMC_ERR_USAGE, "%s: lr (%g), eps (%g) and weight_decay (%g) must be >= 0",
                      who, o.lr, o.eps, o.weight_decay);
        return NULL;
    }
    if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1)) {
        mmc_error_set(err, MMC_ERR_USAGE, "%s: betas must be in [0, 1), got (%g, %g)", who, o.beta1,
                      o.beta2);
        return NULL;
    }
    mmc_optim *opt = mmc_optim_create(kind, who, params, n, 2, err);
    if (!opt) return NULL;
    opt->adam = o;
    opt->lr = o.lr;
    return opt;
}

mmc_optim *mmc_optim_adam(mmc_tensor *const *params, int n, mmc_adam_opts o, mmc_error *err) {
    return create(MMC_OPTIM_KIND_ADAM, "adam", params, n, o, err);
}

mmc_optim *mmc_optim_adamw(mmc_tensor *const *params, int n, mmc_adam_opts o, mmc_error *err) {
    return create(MMC_OPTIM_KIND_ADAMW, "adamw", params, n, o, err);
}

typedef struct adam_k {
    float *p, *m, *v;
    const float *g;
    float beta1, beta2, one_m_b1, one_m_b2, neg_step_size, bc2_sqrt, eps, wd, decay;
    int adamw;
} adam_k;

/* Elements [j0, j1), vectorised: the same operations per element in the same order as the
 * formulas above (sqrt and division are exact in SIMD too), so the result does not depend on
 * how the elements are cut into chunks or threads. */
static void adam_chunk(const adam_k *k, int64_t j0, int64_t j1) {
    float *restrict p = k->p, *restrict m = k->m, *restrict v = k->v;
    const float *restrict gr = k->g;
    const float b1 = k->beta1, b2 = k->beta2, c1 = k->one_m_b1, c2 = k->one_m_b2, st = k->neg_step_size;
    const float bc = k->bc2_sqrt, eps = k->eps, wd = k->wd, decay = k->decay;
    if (k->adamw) {
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) {
            float g = gr[j], pj = p[j] * decay;
            float mj = m[j] * b1 + c1 * g, vj = v[j] * b2 + c2 * g * g;
            m[j] = mj, v[j] = vj;
            p[j] = pj + st * mj / (sqrtf(vj) / bc + eps);
        }
    } else {
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) {
            float g = wd != 0 ? gr[j] + wd * p[j] : gr[j];
            float mj = m[j] * b1 + c1 * g, vj = v[j] * b2 + c2 * g * g;
            m[j] = mj, v[j] = vj;
            p[j] = p[j] + st * mj / (sqrtf(vj) / bc + eps);
        }
    }
}

enum { ADAM_CHUNK = 8192 };

void mmc_adam_update(mmc_optim *o, int i) {
    mmc_tensor *t = o->params[i];
    const int64_t N = t->numel;
    const double step = (double)++o->steps[i];
    const double lr = o->lr, b1 = o->adam.beta1, b2 = o->adam.beta2;
    const float wd = mmc_optim_decay_of(o, i, o->adam.weight_decay);
    const adam_k k = {
        .p = t->data,
        .g = t->grad,
        .m = o->slot[0][i]->data,
        .v = o->slot[1][i]->data,
        .beta1 = o->adam.beta1,
        .beta2 = o->adam.beta2,
        .one_m_b1 = (float)(1.0 - b1),
        .one_m_b2 = (float)(1.0 - b2),
        .neg_step_size = (float)-(lr / (1.0 - pow(b1, step))),
        .bc2_sqrt = (float)sqrt(1.0 - pow(b2, step)),
        .eps = o->adam.eps,
        .wd = wd,
        .decay = (float)(1.0 - lr * (double)wd),
        .adamw = o->kind == MMC_OPTIM_KIND_ADAMW,
    };
    const int64_t nch = (N + ADAM_CHUNK - 1) / ADAM_CHUNK;
    MMC_PARALLEL_FOR_DYNAMIC(mmc_par_threads(N, MMC_OPTIM_PARALLEL_MIN - 1),
                     for (int64_t c = 0; c < nch; c++)
                         adam_chunk(&k, c * ADAM_CHUNK, (c + 1) * ADAM_CHUNK < N ? (c + 1) * ADAM_CHUNK : N));
}
