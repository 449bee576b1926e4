/* sgd.c — stochastic gradient descent with momentum, dampening, Nesterov and L2 weight
 * decay, in torch.optim.SGD's order of operations (PyTorch 1.13, single-tensor path):
 *
 *   d = g + wd * p
 *   v = d                              on a parameter's first step (torch clones d_p)
 *   v = momentum * v + (1 - dampening) * d   afterwards
 *   d = nesterov ? d + momentum * v : v
 *   p = p - lr * d
 */
#include "optim_impl.h"

mmc_sgd_opts mmc_sgd_defaults(float lr) {
    return (mmc_sgd_opts){.lr = lr, .momentum = 0, .dampening = 0, .weight_decay = 0, .nesterov = 0};
}

mmc_optim *mmc_optim_sgd(mmc_tensor *const *params, int n, mmc_sgd_opts o, mmc_error *err) {
    /* Written as !(x >= 0) so NaN is refused too. */
    if (!(o.lr >= 0) || !(o.momentum >= 0) || !(o.weight_decay >= 0) || !(o.dampening >= 0)) {
        mmc_error_set(err, MMC_ERR_USAGE,
                      "sgd: lr (%g), momentum (%g), dampening (%g) and weight_decay (%g) must be >= 0",
                      o.lr, o.momentum, o.dampening, o.weight_decay);
        return NULL;
    }
    if (o.nesterov && (o.momentum <= 0 || o.dampening != 0)) {
        mmc_error_set(err, MMC_ERR_USAGE, "sgd: nesterov needs momentum > 0 and dampening 0 (got %g, %g)",
                      o.momentum, o.dampening);
        return NULL;
    }
    mmc_optim *opt = mmc_optim_create(MMC_OPTIM_KIND_SGD, "sgd", params, n, o.momentum != 0 ? 1 : 0, err);
    if (!opt) return NULL;
    opt->sgd = o;
    opt->lr = o.lr;
    return opt;
}

typedef struct sgd_k {
    float *p, *v;
    const float *g;
    float wd, mom, keep, neg_lr;
    int nesterov, first;
} sgd_k;

static inline void sgd_elem(const sgd_k *k, int64_t j) {
    float d = k->g[j];
    if (k->wd != 0) d = d + k->wd * k->p[j];
    if (k->v) {
        k->v[j] = k->first ? d : k->v[j] * k->mom + k->keep * d;
        d = k->nesterov ? d + k->mom * k->v[j] : k->v[j];
    }
    k->p[j] = k->p[j] + k->neg_lr * d;
}

void mmc_sgd_update(mmc_optim *o, int i) {
    mmc_tensor *t = o->params[i];
    const int64_t N = t->numel;
    const sgd_k k = {
        .p = t->data,
        .g = t->grad,
        .v = o->sgd.momentum != 0 ? o->slot[0][i]->data : NULL,
        .wd = mmc_optim_decay_of(o, i, o->sgd.weight_decay),
        .mom = o->sgd.momentum,
        /* torch computes 1 - dampening in double, then the kernel sees it as a float */
        .keep = (float)(1.0 - (double)o->sgd.dampening),
        .neg_lr = -o->lr,
        .nesterov = o->sgd.nesterov,
        .first = o->steps[i] == 0,
    };
    if (N >= MMC_OPTIM_PARALLEL_MIN) {
#pragma omp parallel for
        for (int64_t j = 0; j < N; j++) sgd_elem(&k, j);
    } else {
        for (int64_t j = 0; j < N; j++) sgd_elem(&k, j);
    }
    o->steps[i]++;
}
